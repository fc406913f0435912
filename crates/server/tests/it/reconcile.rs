//! Reconciliation after an outage (`POST /v1/edge/reconcile`): the proxy's records settle, once,
//! the calls whose end report was lost, live or lapsed (C27), through the end's own charging
//! (C38 durations, C23 first results, C24 ledger), operator keys only.

use crate::common;
use crate::support;

use common::*;
use jiff::Timestamp;
use minutely_core::control::ControlPolicy;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use support::*;

const PPM: &str = "ppm@acme.example";
/// A French mobile: 0.11 per minute in the sample card.
const MOBILE: &str = "+33 6 12 34 56 78";
const PATH: &str = "/v1/edge/reconcile";

/// A funded tenant `acme`: (admin key, bridge key).
async fn acme(app: &mut TestApp) -> (String, String) {
    let keys = app.seed_tenant("acme", None).await;
    fund(app, "acme", 50, "F1").await;
    keys
}

async fn authorize(app: &TestApp, bridge: &str, call_id: &str) -> Value {
    let r = app
        .post(
            &format!("/v1/tenants/acme/calls/{call_id}/authorize"),
            bridge,
            dial_out(PPM, MOBILE),
        )
        .await;
    assert_eq!(r.status, 200, "authorize {call_id}: {}", r.text);
    assert_eq!(r.body["decision"], "allow", "{}", r.text);
    r.body
}

/// A CDR line as Kamailio 5.6.3 writes it, behind its log prefix.
fn cdr(answered: Timestamp, duration: &str, call_id: &str, tenant: &str) -> String {
    format!(
        " 1(8776) INFO: acc [acc_cdr.c:395]: log_write_cdr(): start_time={}.448; \
         end_time={}.755; duration={duration}; call_id={call_id}; mt_tenant={tenant}; \
         mt_direction=dial_out\n",
        answered.as_second(),
        answered.as_second() + 1,
    )
}

/// A failed INVITE as Kamailio 5.6.3 writes it.
fn missed(call_id: &str) -> String {
    format!(
        " 1(8776) INFO: acc [acc.c:287]: acc_log_request(): ACC: call missed: \
         timestamp=1796577239;method=INVITE;from_tag=a;to_tag=b;call_id={call_id};code=486;\
         reason=Busy Here;mt_tenant=acme;mt_direction=dial_out\n"
    )
}

async fn reconcile(app: &TestApp, body: Value) -> Value {
    let r = app.post(PATH, &app.operator_key, body).await;
    assert_eq!(r.status, 200, "reconcile: {}", r.text);
    r.body
}

fn item<'a>(report: &'a Value, call_id: &str) -> &'a Value {
    report["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["call_id"] == call_id)
        .unwrap_or_else(|| panic!("no item {call_id}: {report}"))
}

#[tokio::test]
async fn c27_a_live_call_is_settled_once_at_the_proxys_duration_c38_c23_c24() {
    let mut app = TestApp::start().await;
    let (admin, bridge) = acme(&mut app).await;
    let t0 = app.clock.now();
    authorize(&app, &bridge, "live-1").await;
    let before = dec(&wallet(&app, "acme", &admin).await["balance"]);
    app.clock.advance(120);
    // Answered at the authorized start (so that ring time plays no part), 95.9 s -> 95 s.
    let log = format!("noise\n{}", cdr(t0, "95.900", "live-1", "acme"));
    let report = reconcile(&app, json!({"kamailio_acc": log})).await;
    assert_eq!(report["settled"], 1, "{report}");
    let i = item(&report, "live-1");
    assert_eq!(
        (&i["action"], &i["line"]),
        (&json!("settled"), &json!(2)),
        "{i}"
    );
    assert_eq!(i["why"], json!(["live", "proxy_hangup"]), "{i}");
    assert_eq!(i["duration_s"], 95, "{i}");
    let cost = Rate::of("dial_out", "+336").cost(95);
    assert_eq!(dec(&i["charge"]), cost, "{i}");
    assert_eq!(i["currency"], "EUR", "{i}");
    let w = check_c24(&app, "acme", &admin).await;
    assert_eq!(dec(&w["balance"]), before - cost, "{w}");
    assert_eq!(
        dec(&w["reserved"]),
        Decimal::ZERO,
        "the hold is released: {w}"
    );

    // The same log again: nothing is charged twice (C23).
    let again = reconcile(&app, json!({"kamailio_acc": log})).await;
    assert_eq!(
        (&again["settled"], &again["already_settled"]),
        (&json!(0), &json!(1)),
        "{again}"
    );
    let i = item(&again, "live-1");
    assert_eq!(i["why"], json!(["first_result"]), "{i}");
    assert_eq!(dec(&i["charge"]), cost, "the first result: {i}");
    let w = check_c24(&app, "acme", &admin).await;
    assert_eq!(dec(&w["balance"]), before - cost, "{w}");
    // The bridge's late end gets the same first result.
    let r = app
        .post(
            "/v1/tenants/acme/calls/live-1/end",
            &bridge,
            json!({"duration_s": 95}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["replay"], true, "{}", r.text);
}

#[tokio::test]
async fn c27_a_lapsed_call_and_a_failed_one_are_settled_once_c31() {
    let mut app = TestApp::start().await;
    let (admin, bridge) = acme(&mut app).await;
    let t0 = app.clock.now();
    authorize(&app, &bridge, "lapsed-1").await;
    authorize(&app, &bridge, "busy-1").await;
    let before = dec(&wallet(&app, "acme", &admin).await["balance"]);
    let policy = ControlPolicy::default();
    app.clock
        .advance(policy.window_s as i64 + policy.grace_s as i64 + 5);
    let answered = t0.to_string();
    let body = json!({"records": [
        {"tenant": "acme", "call_id": "lapsed-1", "answered_at": answered, "duration_s": 30, "ended": "hangup"},
        {"tenant": "acme", "call_id": "busy-1", "duration_s": 0, "ended": "failed"},
        {"tenant": "acme", "call_id": "lapsed-1", "answered_at": answered, "duration_s": 30, "ended": "hangup"}
    ]});
    let report = reconcile(&app, body).await;
    assert_eq!(
        (&report["settled"], &report["already_settled"]),
        (&json!(2), &json!(1)),
        "{report}"
    );
    let items = report["items"].as_array().unwrap();
    assert_eq!(
        items[0]["why"],
        json!(["lapsed", "proxy_hangup"]),
        "{report}"
    );
    let cost = Rate::of("dial_out", "+336").cost(30);
    assert_eq!(dec(&items[0]["charge"]), cost, "{report}");
    assert_eq!(
        items[1]["why"],
        json!(["lapsed", "proxy_failed"]),
        "{report}"
    );
    assert_eq!(dec(&items[1]["charge"]), Decimal::ZERO, "C31: {report}");
    // The same call twice in one body: the second is already settled.
    assert_eq!(items[2]["action"], "already_settled", "{report}");
    let w = check_c24(&app, "acme", &admin).await;
    assert_eq!(dec(&w["balance"]), before - cost, "{w}");
    // A failed INVITE's log lines settle nothing more.
    let again = reconcile(&app, json!({"kamailio_acc": missed("busy-1")})).await;
    assert_eq!(again["already_settled"], 1, "{again}");
    let w = check_c24(&app, "acme", &admin).await;
    assert_eq!(dec(&w["balance"]), before - cost, "{w}");
}

#[tokio::test]
async fn unknown_tenants_and_calls_never_authorized_are_not_found_and_change_nothing() {
    let mut app = TestApp::start().await;
    let (admin, _bridge) = acme(&mut app).await;
    let before = check_c24(&app, "acme", &admin).await;
    let t0 = app.clock.now();
    let log = format!(
        "{}{}",
        cdr(t0, "60", "x-1", "nobody"),
        cdr(t0, "60", "x-2", "acme")
    );
    let report = reconcile(&app, json!({"kamailio_acc": log})).await;
    assert_eq!(report["not_found"], 2, "{report}");
    assert_eq!(
        item(&report, "x-1")["why"],
        json!(["unknown_tenant"]),
        "{report}"
    );
    assert_eq!(
        item(&report, "x-2")["why"],
        json!(["not_authorized"]),
        "{report}"
    );
    let after = check_c24(&app, "acme", &admin).await;
    assert_eq!(after["balance"], before["balance"], "{after}");
}

#[tokio::test]
async fn a_bad_line_refuses_the_whole_log_and_changes_nothing() {
    let mut app = TestApp::start().await;
    let (admin, bridge) = acme(&mut app).await;
    let t0 = app.clock.now();
    authorize(&app, &bridge, "held-1").await;
    let good = cdr(t0, "60", "held-1", "acme");
    let log =
        format!("{good}log_write_cdr(): start_time=soon; duration=5; call_id=c; mt_tenant=acme\n");
    let r = app
        .post(PATH, &app.operator_key, json!({"kamailio_acc": log}))
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(
        r.text.contains("line 2") && r.text.contains("start_time"),
        "{}",
        r.text
    );
    let w = check_c24(&app, "acme", &admin).await;
    assert!(
        dec(&w["reserved"]) > Decimal::ZERO,
        "the call is still held: {w}"
    );
    // Neither or both sources: 422 naming the fields.
    for body in [json!({}), json!({"records": [], "kamailio_acc": ""})] {
        let r = app.post(PATH, &app.operator_key, body).await;
        assert_eq!(r.status, 422, "{}", r.text);
        assert!(r.text.contains("records, kamailio_acc"), "{}", r.text);
    }
    // The good line alone settles the call.
    let report = reconcile(&app, json!({"kamailio_acc": good})).await;
    assert_eq!(report["settled"], 1, "{report}");
}

#[tokio::test]
async fn only_an_operator_may_reconcile_and_the_records_are_bounded() {
    let mut app = TestApp::start_with(|config| config.max_batch_records = 2).await;
    let (admin, bridge) = acme(&mut app).await;
    let body = json!({"records": []});
    for key in [&admin, &bridge] {
        let r = app.post(PATH, key, body.clone()).await;
        assert_eq!(r.status, 403, "{}", r.text);
    }
    let record = json!({"tenant": "acme", "call_id": "c", "duration_s": 0, "ended": "failed"});
    let r = app
        .post(
            PATH,
            &app.operator_key,
            json!({"records": [record.clone(), record.clone(), record]}),
        )
        .await;
    assert_eq!(r.status, 413, "{}", r.text);
}
