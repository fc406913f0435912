//! C25, C14, C27, C24 under concurrency: many authorizations racing for the same credit over
//! real HTTP never grant more than the balance covers, and ending the calls debits exactly what
//! each end answered.

use crate::common;
use crate::support;

use common::*;
use minutely_core::control::ControlPolicy;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::{Value, json};
use support::*;

/// Authorizations sent at once in each round.
const CALLS: usize = 64;
/// Rounds of one test, each with a fresh funding and its own k.
const ROUNDS: usize = 20;

/// Destinations of the sample card (number dialled, card key): a window costs a different
/// amount on each.
const DESTINATIONS: [(&str, &str); 3] = [
    ("+33 1 23 45 67 89", "+33"),
    ("+33 6 12 34 56 78", "+336"),
    ("+49 30 123456", "+49"),
];

/// Sends one POST per body at once (one task each) and returns the answers in order.
async fn all_at_once(app: &TestApp, key: &str, requests: Vec<(String, Value)>) -> Vec<Value> {
    let mut tasks = Vec::with_capacity(requests.len());
    for (path, body) in requests {
        let client = app.client.clone();
        let url = format!("{}{path}", app.url);
        let key = key.to_string();
        tasks.push(tokio::spawn(async move {
            let (status, answer) = post(&client, &url, &key, &body)
                .await
                .unwrap_or_else(|e| panic!("{url}: {e}"));
            assert_eq!(status, 200, "{url}: {answer}");
            answer
        }));
    }
    let mut answers = Vec::with_capacity(tasks.len());
    for task in tasks {
        answers.push(task.await.expect("the request task"));
    }
    answers
}

/// C14, C25: the longest grant (seconds, credit) a call with `available` credit gets: what the
/// credit covers, but never less than the first chargeable block (what the call then owes
/// beyond the balance is the debt of a call in progress, C13).
fn expected_grant(rate: &Rate, window_s: u64, available: Decimal) -> (u64, Decimal) {
    let first_block = rate.cost(1);
    let limit = available.max(first_block);
    (1..=window_s)
        .rev()
        .map(|s| (s, rate.cost(s)))
        .find(|(_, cost)| *cost <= limit)
        .expect("the first block fits")
}

/// One round: the balance is brought to exactly `k` windows plus `remainder_cents`, then
/// `CALLS` authorizations race for it; every allowed call is ended with a random duration
/// within its grant. Checks the grants, the denials, the charges and C24.
async fn race_round(
    app: &TestApp,
    admin: &str,
    bridge: &str,
    round: usize,
    remainder: bool,
    rng: &mut Rng,
) {
    let organizer = "ppm@acme.example";
    let window_s = ControlPolicy::default().window_s;
    // A day later: lots stay usable for a year, and every round is dated after the last.
    app.clock.advance(86_400);
    fund(app, "acme", 50, &format!("round-{round}")).await;
    let (destination, key) = DESTINATIONS[rng.range(0, 2) as usize];
    let rate = Rate::of("dial_out", key);
    let window_cost = rate.cost(window_s);
    let balance = dec(&wallet(app, "acme", admin).await["balance"]);
    let affordable = ((balance - window_cost) / window_cost)
        .floor()
        .to_u64()
        .expect("a count");
    let k = rng.range(1, affordable.min(CALLS as u64 - 2));
    let cents = (window_cost * Decimal::ONE_HUNDRED)
        .to_u64()
        .expect("whole cents");
    let extra = if remainder {
        Decimal::new(rng.range(1, cents - 1) as i64, 2)
    } else {
        Decimal::ZERO
    };
    let start_balance = window_cost * Decimal::from(k) + extra;
    let spend = format!("spend-{round}");
    spend_down_to(app, "acme", bridge, admin, organizer, start_balance, &spend).await;

    let requests = (0..CALLS)
        .map(|i| {
            let path = format!("/v1/tenants/acme/calls/r{round}-c{i}/authorize");
            (path, dial_out(organizer, destination))
        })
        .collect();
    let answers = all_at_once(app, bridge, requests).await;
    let mut allowed = Vec::new();
    for (i, answer) in answers.iter().enumerate() {
        match answer["decision"].as_str() {
            Some("allow") => {
                assert_eq!(answer["funding"], "credits", "{answer}");
                assert_eq!(answer["replay"], false, "{answer}");
                let grant = answer["max_duration_s"].as_u64().expect("a grant");
                allowed.push((i, grant, dec(&answer["reserved"])));
            }
            Some("deny") => {
                assert_eq!(answer["reason"], "insufficient_credits", "{answer}");
                assert_eq!(answer["rule"], "C14", "{answer}");
            }
            _ => panic!("round {round}: not a decision: {answer}"),
        }
    }
    // Exactly k full windows, and shorter grants for a remainder.
    let full = allowed
        .iter()
        .filter(|(_, g, r)| *g == window_s && *r == window_cost)
        .count();
    assert_eq!(
        full as u64, k,
        "round {round}: {start_balance} covers exactly {k} windows of {window_cost}: {allowed:?}"
    );
    let partial: Vec<_> = allowed.iter().filter(|(_, g, _)| *g != window_s).collect();
    let held: Decimal = allowed.iter().map(|(_, _, r)| *r).sum();
    // C14: while what is available stays strictly positive, one more call starts with the
    // grant it covers (at least the first block).
    let mut expected = Vec::new();
    let mut left = extra;
    while left > Decimal::ZERO {
        let (grant, reserved) = expected_grant(&rate, window_s, left);
        expected.push((grant, reserved));
        left -= reserved;
    }
    let mut got: Vec<(u64, Decimal)> = partial.iter().map(|(_, g, r)| (*g, *r)).collect();
    got.sort();
    expected.sort();
    assert_eq!(
        got, expected,
        "round {round}: the shorter grants for {extra} left"
    );
    assert_eq!(remainder, !got.is_empty(), "round {round}");
    assert_eq!(
        allowed.len(),
        full + partial.len(),
        "round {round}: {allowed:?}"
    );
    let w = wallet(app, "acme", admin).await;
    assert_eq!(
        dec(&w["balance"]),
        start_balance,
        "nothing is debited yet: {w}"
    );
    assert_eq!(dec(&w["reserved"]), held, "{w}");
    assert!(
        dec(&w["available"]) <= Decimal::ZERO,
        "nothing is left: {w}"
    );

    let durations: Vec<u64> = allowed.iter().map(|(_, g, _)| rng.range(0, *g)).collect();
    let requests = allowed
        .iter()
        .zip(&durations)
        .map(|((i, _, _), duration_s)| {
            let path = format!("/v1/tenants/acme/calls/r{round}-c{i}/end");
            (path, json!({"duration_s": duration_s}))
        })
        .collect();
    let ends = all_at_once(app, bridge, requests).await;
    let mut charged = Decimal::ZERO;
    for (end, duration_s) in ends.iter().zip(&durations) {
        assert_eq!(end["status"], "charged", "{end}");
        assert_eq!(end["replay"], false, "{end}");
        assert_eq!(end["charge"]["duration_s"], *duration_s, "{end}");
        let amount = dec(&end["charge"]["amount"]);
        assert_eq!(
            amount,
            rate.cost(*duration_s),
            "C7 for {duration_s} s: {end}"
        );
        charged += amount;
    }
    eprintln!(
        "round {round}: {start_balance} = {k} windows of {window_cost} ({key}) + {extra}; \
         {} allowed, ends charged {charged}",
        allowed.len()
    );
    let w = check_c24(app, "acme", admin).await;
    assert_eq!(
        dec(&w["balance"]),
        start_balance - charged,
        "round {round}: the balance moves by exactly the charges answered"
    );
    assert_eq!(
        dec(&w["available"]),
        dec(&w["balance"]),
        "nothing is held: {w}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn c25_c14_c24_racing_authorizations_grant_exactly_what_the_balance_covers() {
    let mut app = TestApp::start().await;
    let (admin, bridge) = app.seed_tenant("acme", None).await;
    let mut rng = Rng::new(0xc25_c14_c24);
    for round in 0..ROUNDS {
        race_round(&app, &admin, &bridge, round, false, &mut rng).await;
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn c25_c14_c13_a_remainder_below_a_window_gets_shorter_grants() {
    let mut app = TestApp::start().await;
    let (admin, bridge) = app.seed_tenant("acme", None).await;
    let mut rng = Rng::new(0xc25_c13);
    for round in 0..ROUNDS / 2 {
        race_round(&app, &admin, &bridge, round, true, &mut rng).await;
    }
    app.stop().await;
}

/// Sends every request at once and returns (status, body) in order, whatever the status.
async fn race(app: &TestApp, key: &str, path: &str, bodies: Vec<Value>) -> Vec<(u16, Value)> {
    let mut tasks = Vec::with_capacity(bodies.len());
    for body in bodies {
        let client = app.client.clone();
        let url = format!("{}{path}", app.url);
        let key = key.to_string();
        tasks.push(tokio::spawn(async move {
            post(&client, &url, &key, &body)
                .await
                .unwrap_or_else(|e| panic!("{url}: {e}"))
        }));
    }
    let mut answers = Vec::with_capacity(tasks.len());
    for task in tasks {
        answers.push(task.await.expect("the request task"));
    }
    answers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn c23_c25_c27_racing_duplicates_take_effect_once() {
    let mut app = TestApp::start().await;
    let (admin, bridge) = app.seed_tenant("acme", None).await;
    let copies = 16;

    // The same funding reference sent many times at once credits once.
    let operator = app.operator_key.clone();
    let path = "/v1/tenants/acme/wallet/fundings";
    let bodies = (0..copies)
        .map(|i| json!({"amount": "50", "reference": format!("PO-{}", i % 4)}))
        .collect();
    let answers = race(&app, &operator, path, bodies).await;
    let credited = answers.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!(credited, 4, "one funding per reference: {answers:?}");
    for (status, body) in &answers {
        assert!(*status == 200 || *status == 409, "{status}: {body}");
    }
    let w = check_c24(&app, "acme", &admin).await;
    assert_eq!(dec(&w["balance"]), d("200"), "{w}");

    // The same authorization at once: one reservation, the others repeat its answer.
    let start = app.clock.now().to_string();
    let mut body = dial_out("ppm@acme.example", "+33 6 12 34 56 78");
    body["start"] = json!(start);
    let path = "/v1/tenants/acme/calls/dup/authorize";
    let answers = race(&app, &bridge, path, vec![body; copies]).await;
    let first = answers.iter().filter(|(_, a)| a["replay"] == false).count();
    assert_eq!(first, 1, "one first answer: {answers:?}");
    for (status, answer) in &answers {
        assert_eq!(*status, 200, "{answer}");
        assert_eq!(answer["decision"], "allow", "{answer}");
        assert_eq!(answer["reserved"], answers[0].1["reserved"], "{answer}");
    }
    let w = wallet(&app, "acme", &admin).await;
    assert_eq!(w["live_reservations"], 1, "{w}");
    assert_eq!(dec(&w["reserved"]), dec(&answers[0].1["reserved"]), "{w}");

    // The same end at once: one debit, the others replay it.
    let path = "/v1/tenants/acme/calls/dup/end";
    let answers = race(
        &app,
        &bridge,
        path,
        vec![json!({"duration_s": 125}); copies],
    )
    .await;
    let first = answers.iter().filter(|(_, a)| a["replay"] == false).count();
    assert_eq!(first, 1, "one first end: {answers:?}");
    let amount = Rate::of("dial_out", "+336").cost(125);
    for (status, answer) in &answers {
        assert_eq!(*status, 200, "{answer}");
        assert_eq!(dec(&answer["charge"]["amount"]), amount, "{answer}");
    }
    let w = check_c24(&app, "acme", &admin).await;
    assert_eq!(dec(&w["balance"]), d("200") - amount, "charged once: {w}");
    assert_eq!(dec(&w["available"]), dec(&w["balance"]), "{w}");
    let debits = ledger(&app, "acme", &admin)
        .await
        .into_iter()
        .filter(|e| e["kind"] == "debit")
        .count();
    assert_eq!(debits, 1, "one debit");

    // The same batch of records at once: each record charged once.
    let start = ts(T0) - jiff::SignedDuration::from_secs(3600);
    let calls: Vec<Value> = (0..10)
        .map(|i| {
            json!({
                "call_id": format!("bulk-{i}"),
                "conference_id": "bulk",
                "organizer": "ppm@acme.example",
                "direction": "dial_out",
                "destination_number": "+33 1 23 45 67 89",
                "start": start.to_string(),
                "end": (start + jiff::SignedDuration::from_secs(61 * (i + 1))).to_string(),
            })
        })
        .collect();
    let path = "/v1/tenants/acme/calls";
    let answers = race(&app, &bridge, path, vec![json!({"calls": calls}); copies]).await;
    let fresh: usize = answers
        .iter()
        .map(|(s, a)| {
            assert_eq!(*s, 200, "{a}");
            a["charged"].as_u64().expect("charged") as usize
        })
        .sum();
    assert_eq!(fresh, calls.len(), "each record charged once: {answers:?}");
    let france = Rate::of("dial_out", "+33");
    let bulk: Decimal = (0..10).map(|i| france.cost(61 * (i + 1))).sum();
    let w = check_c24(&app, "acme", &admin).await;
    assert_eq!(dec(&w["balance"]), d("200") - amount - bulk, "{w}");
    app.stop().await;
}

/// The pool of the month at the server's clock.
async fn pool(app: &TestApp, admin: &str) -> Value {
    let r = app.get("/v1/tenants/acme/reports/pool", admin).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn c25_c20_c21_racing_pool_calls_share_exactly_the_pool_left() {
    let mut app = TestApp::start().await;
    // Five subscriptions: a pool of 300 minutes a month, and no credit at all.
    let (admin, bridge) = app.seed_tenant("acme", None).await;
    let organizer = "sub@acme.example";
    let window_s = ControlPolicy::default().window_s;
    let window_min = window_s.div_ceil(60);
    let mut rng = Rng::new(0xc25_c20);
    for round in 0..5 {
        // A month later each round: a fresh pool (C20).
        app.clock.advance(31 * 86_400);
        let size = pool(&app, &admin).await["size_minutes"]
            .as_u64()
            .expect("a size");
        // Use part of the pool with an ingested call, leaving at most what 64 windows take.
        let low = size.saturating_sub(window_min * CALLS as u64 - 1).max(1);
        let spent = rng.range(low, size - 1);
        let start = app.clock.now();
        let end = start + jiff::SignedDuration::from_secs(spent as i64 * 60);
        let r = app
            .post(
                "/v1/tenants/acme/calls",
                &bridge,
                json!({"calls": [{
                    "call_id": format!("spend-{round}"),
                    "conference_id": "spend",
                    "organizer": organizer,
                    "direction": "dial_out",
                    "destination_number": "+33 1 23 45 67 89",
                    "start": start.to_string(),
                    "end": end.to_string(),
                }]}),
            )
            .await;
        assert_eq!(
            r.body["results"][0]["charge"]["pool_minutes"], spent,
            "{}",
            r.text
        );
        let left = size - spent;

        let requests = (0..CALLS)
            .map(|i| {
                (
                    format!("/v1/tenants/acme/calls/p{round}-c{i}/authorize"),
                    dial_out(organizer, "+33 1 23 45 67 89"),
                )
            })
            .collect();
        let answers = all_at_once(&app, &bridge, requests).await;
        let mut grants = Vec::new();
        for (i, answer) in answers.iter().enumerate() {
            match answer["decision"].as_str() {
                Some("allow") => {
                    assert_eq!(answer["funding"], "pool", "{answer}");
                    assert_eq!(dec(&answer["reserved"]), Decimal::ZERO, "{answer}");
                    let minutes = answer["reserved_pool_minutes"].as_u64().expect("minutes");
                    assert_eq!(answer["max_duration_s"], minutes * 60, "{answer}");
                    grants.push((i, minutes));
                }
                _ => assert_eq!(answer["reason"], "insufficient_credits", "{answer}"),
            }
        }
        let held: u64 = grants.iter().map(|(_, m)| m).sum();
        assert_eq!(
            held, left,
            "round {round}: the grants hold exactly the pool left"
        );
        assert_eq!(
            grants.len() as u64,
            left.div_ceil(window_min),
            "round {round}"
        );
        let p = pool(&app, &admin).await;
        assert_eq!(p["held_minutes"], left, "{p}");
        assert_eq!(p["remaining_minutes"], 0, "{p}");

        let durations: Vec<u64> = grants.iter().map(|(_, m)| rng.range(0, m * 60)).collect();
        let requests = grants
            .iter()
            .zip(&durations)
            .map(|((i, _), d)| {
                (
                    format!("/v1/tenants/acme/calls/p{round}-c{i}/end"),
                    json!({"duration_s": d}),
                )
            })
            .collect();
        let ends = all_at_once(&app, &bridge, requests).await;
        let mut used = spent;
        for (end, d) in ends.iter().zip(&durations) {
            assert_eq!(end["status"], "charged", "{end}");
            assert_eq!(dec(&end["charge"]["amount"]), Decimal::ZERO, "{end}");
            // C21: whole minutes, rounded up.
            assert_eq!(end["charge"]["pool_minutes"], d.div_ceil(60), "{end}");
            used += d.div_ceil(60);
        }
        let p = pool(&app, &admin).await;
        assert_eq!(p["used_minutes"], used, "round {round}: {p}");
        assert_eq!(p["held_minutes"], 0, "{p}");
        eprintln!(
            "round {round}: {left} pool minutes left, {} calls allowed",
            grants.len()
        );
    }
    let w = check_c24(&app, "acme", &admin).await;
    assert_eq!(
        dec(&w["balance"]),
        Decimal::ZERO,
        "the pool paid everything: {w}"
    );
    app.stop().await;
}
