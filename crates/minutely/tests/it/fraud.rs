//! The toll-fraud guard through a SIGKILL of the real binary (C46): the counters a restart
//! resumes are those of the last commit, so a kill in the middle of an attack changes no later
//! decision.

use crate::support::*;
use serde_json::{Value, json};
use std::sync::Arc;

const BLOCKED: &str = "+1 212 555 0100";
const DOMESTIC: &str = "+33 6 12 34 56 78";

fn dial_out(destination: &str) -> Value {
    let start =
        jiff::Timestamp::from_second(jiff::Timestamp::now().as_second()).expect("an instant");
    json!({
        "conference_id": "attack",
        "organizer": PPM,
        "direction": "dial_out",
        "destination_number": destination,
        "start": start.to_string(),
    })
}

async fn reason(client: &Client, call_id: &str, destination: &str) -> Value {
    let path = format!("/v1/tenants/acme/calls/{call_id}/authorize");
    let (status, answer) = client
        .post(&path, &client.keys.bridge, &dial_out(destination))
        .await
        .expect("the server answers");
    assert_eq!(status, 200, "{call_id}: {answer}");
    answer["reason"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_in_the_middle_of_an_attack_changes_no_later_decision() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let db = dir.path().join("m.db");
    let log = dir.path().join("server.log");
    let keys = Arc::new(seed(dir.path(), &db));
    let server = start(&db, &log);
    let client = Client::new(&server.url, keys.clone());
    let operator = keys.operator.clone();
    let (status, body) = client
        .send(
            reqwest::Method::PUT,
            "/v1/fraud",
            &operator,
            Some(&json!({"default_mode": "enforce"})),
        )
        .await
        .expect("the server answers");
    assert_eq!(status, 200, "{body}");
    let list = "prefix,action,category,source,expires,note\n+1,block,test,operator,,\n";
    let answer = reqwest::Client::new()
        .put(format!("{}/v1/fraud/list", server.url))
        .bearer_auth(&operator)
        .header("content-type", "text/csv")
        .body(list)
        .send()
        .await
        .expect("the server answers");
    assert_eq!(answer.status().as_u16(), 200);
    // Two refusals of the attack (the third in a day would suspend the organizer), then the
    // process dies without any shutdown code.
    for id in ["a1", "a2"] {
        assert_eq!(
            reason(&client, id, BLOCKED).await,
            "fraud_destination_blocked"
        );
    }
    server.kill();
    let server = start(&db, &log);
    let client = Client::new(&server.url, keys.clone());
    // The strikes were committed: the third refusal suspends, as without the kill.
    assert_eq!(
        reason(&client, "a3", BLOCKED).await,
        "fraud_destination_blocked"
    );
    assert_eq!(
        reason(&client, "d1", DOMESTIC).await,
        "fraud_dialout_suspended"
    );
    server.kill();
    let server = start(&db, &log);
    let client = Client::new(&server.url, keys);
    assert_eq!(
        reason(&client, "d2", DOMESTIC).await,
        "fraud_dialout_suspended"
    );
    server.terminate();
}

/// The header of a call file.
const CALLS_HEADER: &str = "call_id,conference_id,organizer,direction,service_number,caller_number,destination_number,start,end\n";

/// Dial-out `a{n}` of a burst: to `number` followed by `n`, starting 2n seconds into
/// 2026-03-08T02:00Z and ending at 02:10Z.
fn burst_call(n: u32, number: &str) -> String {
    format!(
        "a{n:02},burst,{PPM},dial_out,,,{number} {n:02},2026-03-08T02:00:{:02}Z,2026-03-08T02:10:00Z\n",
        n * 2
    )
}

/// `minutely fraud simulate`: 25 dial-outs of one organizer within a minute, after a quiet
/// week: the guard would have let the first 20 through (C45 rule 4: 20 attempts a minute) and
/// refused the rest; three refusals suspend the organizer (C46), so the 20 live calls would
/// have been cut at their first extension (C43), their first window (300 s).
#[test]
fn c45_c46_simulate_replays_past_dial_outs_and_shows_what_would_have_been_refused() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let db = dir.path().join("m.db");
    seed(dir.path(), &db);
    let mut calls = String::from(CALLS_HEADER);
    for day in 1..=7 {
        calls.push_str(&format!(
            "d{day},weekly,{PPM},dial_out,,,+33 1 44 55 66 77,2026-03-0{day}T09:00:00Z,2026-03-0{day}T09:30:00Z\n"
        ));
    }
    for n in 0..25 {
        calls.push_str(&burst_call(n, "+33 6 12 34 56"));
    }
    let file = dir.path().join("calls.csv");
    std::fs::write(&file, calls).expect("write the calls");
    let path = file.to_str().expect("a UTF-8 path");
    minutely(&db, &["ingest", path, "--tenant", "acme"]);
    let args = [
        "fraud",
        "simulate",
        "--tenant",
        "acme",
        "--from",
        "2026-03-01",
        "--to",
        "2026-03-08",
    ];
    let out = run(&db, &args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).expect("UTF-8");
    let summary = String::from_utf8(out.stderr).expect("UTF-8");
    let lines: Vec<Vec<&str>> = stdout
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(lines.len(), 32, "{stdout}");
    let fate = |id: &str| {
        let l = lines
            .iter()
            .find(|l| l[0] == id)
            .unwrap_or_else(|| panic!("{id}: {stdout}"));
        (l[5], l[6], l[7])
    };
    for day in 1..=7 {
        assert_eq!(fate(&format!("d{day}")), ("1800", "allow", ""), "{stdout}");
    }
    for n in 0..20 {
        let cut = ("300", "cut", "fraud_dialout_suspended");
        assert_eq!(fate(&format!("a{n:02}")), cut, "{stdout}");
    }
    for n in 20..25 {
        let refused = ("0", "refuse", "fraud_call_rate_limit");
        assert_eq!(fate(&format!("a{n:02}")), refused, "{stdout}");
    }
    // List prices: 7 calls of 30 minutes at 0.024 a minute and 25 of about 10 minutes at 0.11
    // (32.54), against the 7 and 20 cut at 5 minutes (16.04).
    assert!(
        summary.contains(
            "32 dial-outs replayed under the guard (enforce): 7 allowed, 5 refused, 20 cut"
        ),
        "{summary}"
    );
    assert!(summary.contains("list price 32.5400 as they lasted, 16.0400 as the guard would have let them last (16.5000 kept from being spent)"), "{summary}");
    assert!(summary.contains("fraud.suspended 1"), "{summary}");
    // It changed nothing: the same replay twice gives the same bytes.
    let again = run(&db, &args);
    assert_eq!(String::from_utf8_lossy(&again.stdout), stdout);
    // Bad input is named.
    let bad = run(&db, &[&args[..], &["--mode", "off"]].concat());
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--mode: \"off\""));
    let mut nobody = args;
    nobody[3] = "nobody";
    let bad = run(&db, &nobody);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown_tenant"));
}

/// C43 offline: `minutely rate --guard` runs the guard over the records in canonical order and
/// only flags what it finds (the 5 dial-outs past 20 a minute); every charge is the same as
/// without it, on one thread or two.
#[test]
fn c43_offline_rating_runs_the_guard_in_canonical_order_and_only_flags() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        path.to_str().expect("a UTF-8 path").to_string()
    };
    let mut calls = String::from(CALLS_HEADER);
    // Written newest first: the guard must see them in canonical order all the same.
    for n in (0..25).rev() {
        calls.push_str(&burst_call(n, "+33 1 44 55 66"));
    }
    let (rates, tenant, calls) = (
        write("rates.csv", RATES),
        write("tenant.toml", TENANT),
        write("calls.csv", &calls),
    );
    let db = dir.path().join("unused.db");
    let rate = |extra: &[&str]| {
        let mut args = vec![
            "rate",
            "--rates",
            &rates,
            "--currency",
            "EUR",
            "--tenant-file",
            &tenant,
            "--calls",
            &calls,
        ];
        args.extend_from_slice(extra);
        let out = run(&db, &args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (
            String::from_utf8(out.stdout).expect("UTF-8"),
            String::from_utf8(out.stderr).expect("UTF-8"),
        )
    };
    let (plain, plain_summary) = rate(&["--threads", "1"]);
    assert!(!plain_summary.contains("flagged"), "{plain_summary}");
    for threads in ["1", "2"] {
        let (guarded, summary) = rate(&["--guard", "--threads", threads]);
        assert_eq!(guarded, plain, "no charge changes");
        assert!(
            summary.contains("flagged:    5 alerts of the guard"),
            "{summary}"
        );
        assert!(
            summary.contains("fraud_call_rate_limit             5"),
            "{summary}"
        );
    }
}
