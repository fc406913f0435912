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
