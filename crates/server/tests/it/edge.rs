//! The SIP edge over HTTP (C25 to C27): the answer step (ring time is not charged), the warning
//! before the cut (`last_window` and the `call.last_window` event), the edge key and the
//! `/v1/edge` routes.

use crate::common;

use common::*;
use serde_json::{Value, json};

/// `T0` plus `s` seconds, as the API writes instants.
fn t(s: i64) -> String {
    let at: jiff::Timestamp = T0.parse().expect("T0");
    minutely_formats::instant::format(at + jiff::SignedDuration::from_secs(s))
}

/// A dial-out of acme's pay-per-minute user to a French mobile (0.11 per started minute),
/// authorized for `T0`.
fn dial_out() -> Value {
    json!({"conference_id": "m1", "organizer": "ppm@acme.example", "direction": "dial_out",
           "destination_number": "+33 6 12 34 56 78", "start": t(0)})
}

/// `POST` acme's `call`'s answer at `T0` plus `s` seconds.
async fn answer_at(app: &TestApp, key: &str, call: &str, s: i64) -> Resp {
    app.post(
        &format!("/v1/tenants/acme/calls/{call}/answer"),
        key,
        json!({"answered_at": t(s)}),
    )
    .await
}

#[tokio::test]
async fn c25_c27_the_answer_excludes_ring_time_and_the_hold_counts_from_it() {
    let mut app = TestApp::start().await;
    let (_admin, bridge) = app.seed_tenant("acme", Some("100")).await;
    let calls = "/v1/tenants/acme/calls";
    let r = app
        .post(&format!("{calls}/c1/authorize"), &bridge, dial_out())
        .await;
    assert_eq!(r.body["decision"], "allow", "{}", r.text);
    assert_eq!(
        (r.body["last_window"].clone(), r.body["remaining_s"].clone()),
        (json!(false), json!(300))
    );
    // Answered after 20 s of ringing, by the server's clock.
    app.clock.advance(20);
    let a = app
        .post(&format!("{calls}/c1/answer"), &bridge, json!({}))
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.body["start"], t(20));
    assert_eq!(a.body["max_duration_s"], 300, "C25: the grant is unchanged");
    assert_eq!(a.body["reserved"], "0.55", "C25: and so is the hold");
    assert_eq!(
        a.body["expires_at"],
        t(20 + 300 + 60),
        "C27: from the answer"
    );
    assert_eq!(
        (a.body["remaining_s"].clone(), a.body["replay"].clone()),
        (json!(300), json!(false))
    );
    // The same answer again is a replay; another instant is a conflict.
    let again = answer_at(&app, &bridge, "c1", 20).await;
    assert_eq!(
        (again.status, again.body["replay"].clone()),
        (200, json!(true)),
        "{}",
        again.text
    );
    let other = answer_at(&app, &bridge, "c1", 19).await;
    assert_eq!(other.status, 409, "{}", other.text);
    assert_eq!(other.body["error"]["code"], "call_already_answered");
    // C23: the authorization asked again after the answer is the same call, not a reuse.
    let r = app
        .post(&format!("{calls}/c1/authorize"), &bridge, dial_out())
        .await;
    assert_eq!(
        (r.body["decision"].clone(), r.body["replay"].clone()),
        (json!("allow"), json!(true)),
        "{}",
        r.text
    );
    // Ended 60 s after the answer: charged 60 s (one minute), not the 80 s since the INVITE.
    app.clock.advance(60);
    let e = app
        .post(
            &format!("{calls}/c1/end"),
            &bridge,
            json!({"duration_s": 60}),
        )
        .await;
    assert_eq!(e.body["status"], "charged", "{}", e.text);
    assert_eq!(
        e.body["charge"]["duration_s"], 60,
        "C27: ring time is not charged"
    );
    assert_eq!(e.body["charge"]["amount"], "0.11");
    let ended = app
        .post(&format!("{calls}/c1/answer"), &bridge, json!({}))
        .await;
    assert_eq!(
        (ended.status, ended.body["error"]["code"].clone()),
        (409, json!("call_already_ended"))
    );
    let unknown = app
        .post(&format!("{calls}/c9/answer"), &bridge, json!({}))
        .await;
    assert_eq!(
        (unknown.status, unknown.body["error"]["code"].clone()),
        (404, json!("call_not_found"))
    );
    app.stop().await;
}

#[tokio::test]
async fn c27_an_answered_hold_lapses_at_answer_plus_grant_plus_grace_not_before() {
    let mut app = TestApp::start().await;
    let (_admin, bridge) = app.seed_tenant("acme", Some("100")).await;
    let calls = "/v1/tenants/acme/calls";
    app.post(&format!("{calls}/c2/authorize"), &bridge, dial_out())
        .await;
    let early = answer_at(&app, &bridge, "c2", -1).await;
    assert_eq!(early.status, 422, "{}", early.text);
    assert!(early.text.contains("answered_at"), "{}", early.text);
    let ahead = answer_at(&app, &bridge, "c2", 60).await;
    assert_eq!(
        ahead.status, 422,
        "not more than a few seconds ahead: {}",
        ahead.text
    );
    app.clock.advance(30);
    let a = answer_at(&app, &bridge, "c2", 30).await;
    assert_eq!(a.body["expires_at"], t(390), "{}", a.text);
    // Past the authorization's instant + grant + grace (360 s): still held.
    app.clock.advance(389 - 30);
    let held = answer_at(&app, &bridge, "c2", 30).await;
    assert_eq!(
        (held.status, held.body["replay"].clone()),
        (200, json!(true)),
        "{}",
        held.text
    );
    app.clock.advance(1);
    let lapsed = answer_at(&app, &bridge, "c2", 30).await;
    assert_eq!(
        (lapsed.status, lapsed.body["error"]["code"].clone()),
        (409, json!("call_lapsed")),
        "{}",
        lapsed.text
    );
    app.stop().await;
}

#[tokio::test]
async fn c27_extend_and_end_answer_a_call_the_edge_did_not_report_answered() {
    let mut app = TestApp::start().await;
    let (_admin, bridge) = app.seed_tenant("acme", Some("100")).await;
    let calls = "/v1/tenants/acme/calls";
    app.post(&format!("{calls}/c3/authorize"), &bridge, dial_out())
        .await;
    app.clock.advance(250);
    let x = app
        .post(
            &format!("{calls}/c3/extend"),
            &bridge,
            json!({"granted_s": 300, "answered_at": t(15)}),
        )
        .await;
    assert_eq!(x.body["extended"], true, "{}", x.text);
    assert_eq!(x.body["max_duration_s"], 600);
    assert_eq!(
        x.body["expires_at"],
        t(15 + 600 + 60),
        "answered first, then extended"
    );
    assert_eq!(x.body["remaining_s"], 15 + 600 - 250);
    // An end that names the answer of a call never answered counts from it.
    app.post(&format!("{calls}/c4/authorize"), &bridge, json!({"conference_id": "m1", "organizer": "ppm@acme.example", "direction": "dial_out", "destination_number": "+33 6 12 34 56 78", "start": t(250)})).await;
    app.clock.advance(100);
    let e = app
        .post(
            &format!("{calls}/c4/end"),
            &bridge,
            json!({"duration_s": 60, "answered_at": t(290)}),
        )
        .await;
    assert_eq!(e.body["charge"]["duration_s"], 60, "{}", e.text);
    assert_eq!(e.body["charge"]["amount"], "0.11");
    app.stop().await;
}

#[tokio::test]
async fn c26_the_last_window_is_flagged_and_warned_of_once_as_an_event() {
    let mut app = TestApp::start().await;
    let (admin, bridge) = app.seed_tenant("acme", Some("100")).await;
    // 907 minutes at 0.11: 99.77 of the 100 are spent, 0.23 is left.
    let record = json!({"call_id": "old", "conference_id": "m0", "organizer": "ppm@acme.example",
        "direction": "dial_out", "destination_number": "+33 6 12 34 56 78",
        "start": "2026-03-01T00:00:00Z", "end": "2026-03-01T15:07:00Z"});
    let r = app
        .post(
            "/v1/tenants/acme/calls",
            &bridge,
            json!({"calls": [record]}),
        )
        .await;
    assert_eq!(r.body["charged"], 1, "{}", r.text);
    let calls = "/v1/tenants/acme/calls";
    let r = app
        .post(&format!("{calls}/c5/authorize"), &bridge, dial_out())
        .await;
    assert_eq!(
        r.body["max_duration_s"], 120,
        "C26: what 0.23 covers: {}",
        r.text
    );
    assert_eq!(r.body["last_window"], true, "C26: less than a window");
    assert_eq!(r.body["remaining_s"], 120);
    app.clock.advance(100);
    let x = app
        .post(&format!("{calls}/c5/extend"), &bridge, json!({}))
        .await;
    assert_eq!(
        (x.body["extended"].clone(), x.body["last_window"].clone()),
        (json!(false), json!(true)),
        "{}",
        x.text
    );
    assert_eq!(x.body["remaining_s"], 20);
    let events = app.get("/v1/tenants/acme/events", &admin).await;
    let warnings: Vec<&Value> = events.body["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["type"] == "call.last_window")
        .collect();
    assert_eq!(warnings.len(), 1, "C26: warned once: {}", events.text);
    let data = &warnings[0]["data"];
    assert_eq!(data["call_id"], "c5");
    assert_eq!(
        (data["max_duration_s"].clone(), data["remaining_s"].clone()),
        (json!("120"), json!("120"))
    );
    let ends_at: jiff::Timestamp = data["ends_at"]
        .as_str()
        .expect("ends_at")
        .parse()
        .expect("RFC 3339");
    assert_eq!(minutely_formats::instant::format(ends_at), t(120));
    app.stop().await;
}

#[tokio::test]
async fn the_edge_authorizes_a_dial_in_in_the_tenant_that_owns_the_number() {
    let mut app = TestApp::start().await;
    let (admin, bridge) = app.seed_tenant("acme", Some("100")).await;
    let edge = app.edge_key().await;
    let n = app.get("/v1/edge/numbers/+33186950000", &edge).await;
    assert_eq!(n.status, 200, "{}", n.text);
    assert_eq!(
        n.body,
        json!({"number": "+33186950000", "tenant": "acme", "kind": "toll", "country": "FR"})
    );
    let none = app.get("/v1/edge/numbers/+33100000000", &edge).await;
    assert_eq!(
        (none.status, none.body["error"]["code"].clone()),
        (404, json!("unknown_service_number"))
    );
    assert!(
        none.text.contains("+33100000000"),
        "names the number: {}",
        none.text
    );
    let dial_in = json!({"conference_id": "m1", "organizer": "sub@acme.example", "direction": "dial_in",
        "service_number": "+33 1 86 95 00 00", "caller_number": "+33 6 12 34 56 78"});
    let r = app
        .post("/v1/edge/calls/e1/authorize", &edge, dial_in.clone())
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        (r.body["tenant"].clone(), r.body["decision"].clone()),
        (json!("acme"), json!("allow"))
    );
    assert_eq!(
        (r.body["last_window"].clone(), r.body["remaining_s"].clone()),
        (json!(false), Value::Null),
        "never cut"
    );
    // The call is acme's: the edge key answers and ends it on the tenant's routes.
    let a = app
        .post("/v1/tenants/acme/calls/e1/answer", &edge, json!({}))
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    let mut unknown = dial_in.clone();
    unknown["service_number"] = json!("+33 1 00 00 00 00");
    let r = app
        .post("/v1/edge/calls/e2/authorize", &edge, unknown)
        .await;
    assert_eq!(
        (r.status, r.body["error"]["code"].clone()),
        (404, json!("unknown_service_number")),
        "{}",
        r.text
    );
    let out = app
        .post("/v1/edge/calls/e3/authorize", &edge, dial_out())
        .await;
    assert_eq!(out.status, 422, "{}", out.text);
    assert!(out.text.contains("tenant"), "{}", out.text);
    let mut named = dial_out();
    named["tenant"] = json!("acme");
    let out = app.post("/v1/edge/calls/e3/authorize", &edge, named).await;
    assert_eq!(
        (out.status, out.body["tenant"].clone()),
        (200, json!("acme")),
        "{}",
        out.text
    );
    // Only call control: no wallet, no ingestion, no keys; its own key is readable.
    for (path, body) in [
        ("/v1/tenants/acme/wallet", None),
        ("/v1/tenants/acme/calls", Some(json!({"calls": []}))),
        ("/v1/keys", None),
        ("/v1/countries", None),
    ] {
        let r = match body {
            Some(b) => app.post(path, &edge, b).await,
            None => app.get(path, &edge).await,
        };
        assert_eq!(r.status, 403, "{path}: {}", r.text);
    }
    assert_eq!(app.get("/v1/me", &edge).await.body["kind"], "edge");
    // The edge routes are the operator's and the edge's only.
    for key in [&admin, &bridge] {
        assert_eq!(
            app.get("/v1/edge/numbers/+33186950000", key).await.status,
            403
        );
    }
    // A number two tenants hold is not the edge's to choose.
    app.seed_tenant("beta", Some("100")).await;
    let shared = app.get("/v1/edge/numbers/+33186950000", &edge).await;
    assert_eq!(
        (shared.status, shared.body["error"]["code"].clone()),
        (409, json!("service_number_shared"))
    );
    app.stop().await;
}

#[tokio::test]
async fn c25_a_tenant_in_the_body_may_only_repeat_the_path_s_tenant() {
    let mut app = TestApp::start().await;
    let (_admin, bridge) = app.seed_tenant("acme", Some("100")).await;
    let mut body = dial_out();
    body["tenant"] = json!("other");
    let r = app
        .post("/v1/tenants/acme/calls/c1/authorize", &bridge, body.clone())
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(
        r.body["error"]["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("tenant: ")),
        "{}",
        r.text
    );
    // Nothing was authorized: the same call id is free for a correct request.
    body["tenant"] = json!("acme");
    let r = app
        .post("/v1/tenants/acme/calls/c1/authorize", &bridge, body)
        .await;
    assert_eq!(
        (
            r.status,
            r.body["decision"].clone(),
            r.body["replay"].clone()
        ),
        (200, json!("allow"), json!(false)),
        "{}",
        r.text
    );
}
