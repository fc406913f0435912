//! Call control against the manual clock: reservations lapse at exactly start + grant + grace
//! (C27), extensions push the lapse and stop when the credit is gone (C26), late and repeated
//! ends (C27, C13, C23), ends of calls that were never authorized, and every reason code an
//! authorization can answer (C25, C30).

use crate::common;
use crate::support;

use common::*;
use jiff::{SignedDuration, Timestamp};
use minutely_core::control::ControlPolicy;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use support::*;

/// How often the sweeper runs in these tests.
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_millis(50);

const PPM: &str = "ppm@acme.example";
const SUB: &str = "sub@acme.example";
/// A French mobile: 0.11 per minute in the sample card.
const MOBILE: &str = "+33 6 12 34 56 78";

fn at(offset_s: i64) -> String {
    (ts(T0) + SignedDuration::from_secs(offset_s)).to_string()
}

fn instant_of(value: &Value) -> Timestamp {
    value
        .as_str()
        .unwrap_or_else(|| panic!("an instant, got {value}"))
        .parse()
        .expect("an RFC 3339 instant")
}

async fn authorize(app: &TestApp, bridge: &str, call_id: &str, body: Value) -> Value {
    let r = app
        .post(
            &format!("/v1/tenants/acme/calls/{call_id}/authorize"),
            bridge,
            body,
        )
        .await;
    assert_eq!(r.status, 200, "authorize {call_id}: {}", r.text);
    r.body
}

async fn extend(app: &TestApp, bridge: &str, call_id: &str, granted_s: u64) -> Value {
    let r = app
        .post(
            &format!("/v1/tenants/acme/calls/{call_id}/extend"),
            bridge,
            json!({"granted_s": granted_s}),
        )
        .await;
    assert_eq!(r.status, 200, "extend {call_id}: {}", r.text);
    r.body
}

async fn end(app: &TestApp, bridge: &str, call_id: &str, body: Value) -> Resp {
    app.post(
        &format!("/v1/tenants/acme/calls/{call_id}/end"),
        bridge,
        body,
    )
    .await
}

/// A funded tenant whose balance is exactly `windows` windows of a call to `MOBILE`.
async fn tenant_with_windows(app: &mut TestApp, windows: u64) -> (String, String, Decimal) {
    let (admin, bridge) = app.seed_tenant("acme", None).await;
    fund(app, "acme", 50, "F1").await;
    let window_cost = Rate::of("dial_out", "+336").cost(ControlPolicy::default().window_s);
    let target = window_cost * Decimal::from(windows);
    spend_down_to(app, "acme", &bridge, &admin, PPM, target, "spend").await;
    (admin, bridge, window_cost)
}

#[tokio::test]
async fn c27_an_unextended_reservation_lapses_at_start_plus_grant_plus_grace() {
    // The sweeper runs every 50 ms of real time here (every second by default), so that the
    // test sees several sweeps without waiting for seconds.
    let mut app = TestApp::start_with(|config| config.sweep_every = SWEEP_EVERY).await;
    let (admin, bridge, window_cost) = tenant_with_windows(&mut app, 1).await;
    let policy = ControlPolicy::default();
    let (window, grace) = (policy.window_s as i64, policy.grace_s as i64);
    let t0 = app.clock.now();

    let a = authorize(&app, &bridge, "a", dial_out(PPM, MOBILE)).await;
    assert_eq!(a["decision"], "allow", "{a}");
    assert_eq!(a["max_duration_s"], window, "{a}");
    assert_eq!(dec(&a["reserved"]), window_cost, "{a}");
    assert_eq!(
        instant_of(&a["expires_at"]),
        t0 + SignedDuration::from_secs(window + grace),
        "{a}"
    );
    let w = wallet(&app, "acme", &admin).await;
    assert_eq!(
        dec(&w["available"]),
        Decimal::ZERO,
        "C14: the hold is not available: {w}"
    );

    // One second before the lapse the hold is still there.
    app.clock.advance(window + grace - 1);
    let b = authorize(&app, &bridge, "b", dial_out(PPM, MOBILE)).await;
    assert_eq!(b["decision"], "deny", "{b}");
    assert_eq!(b["reason"], "insufficient_credits", "{b}");

    // At exactly start + grant + grace the funds return, and another call gets them.
    app.clock.advance(1);
    let c = authorize(&app, &bridge, "c", dial_out(PPM, MOBILE)).await;
    assert_eq!(c["decision"], "allow", "C27: the lapsed hold returned: {c}");
    assert_eq!(dec(&c["reserved"]), window_cost, "{c}");

    // The sweeper lapses holds on its own, without any call-control request, and not a second
    // early: after several sweeps one second before the lapse, c is still held.
    app.clock.advance(window + grace - 1);
    tokio::time::sleep(SWEEP_EVERY * 4).await;
    let w = wallet(&app, "acme", &admin).await;
    assert_eq!(dec(&w["available"]), Decimal::ZERO, "c is still held: {w}");
    app.clock.advance(1);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let w = loop {
        let w = wallet(&app, "acme", &admin).await;
        if dec(&w["available"]) == window_cost || std::time::Instant::now() > deadline {
            break w;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(
        dec(&w["available"]),
        window_cost,
        "the sweeper lapsed c: {w}"
    );
    assert_eq!(w["live_reservations"], 0, "{w}");
    assert_eq!(
        dec(&w["balance"]),
        window_cost,
        "a lapse debits nothing: {w}"
    );

    // The lapse is durable: after a restart nothing is held.
    app.restart().await;
    let w = wallet(&app, "acme", &admin).await;
    assert_eq!(dec(&w["available"]), window_cost, "{w}");
    assert_eq!(w["live_reservations"], 0, "{w}");

    // C27, C13: an end reported after the lapse is still charged in full, into debt.
    let late = end(&app, &bridge, "a", json!({"duration_s": 2 * window})).await;
    assert_eq!(late.status, 200, "{}", late.text);
    assert_eq!(late.body["status"], "charged", "{}", late.text);
    let full = Rate::of("dial_out", "+336").cost(2 * window as u64);
    assert_eq!(dec(&late.body["charge"]["amount"]), full, "{}", late.text);
    let debt = window_cost - full;
    assert!(debt < Decimal::ZERO, "the test needs a debt");
    assert_eq!(
        dec(&late.body["charge"]["balance_after"]),
        debt,
        "{}",
        late.text
    );
    let w = check_c24(&app, "acme", &admin).await;
    assert_eq!(dec(&w["balance"]), debt, "{w}");

    // A negative balance lets no new credit call start (C14).
    let e = authorize(&app, &bridge, "e", dial_out(PPM, MOBILE)).await;
    assert_eq!(e["reason"], "insufficient_credits", "{e}");

    // C23: the end again is the first result, before and after a restart.
    let again = end(&app, &bridge, "a", json!({"duration_s": 2 * window})).await;
    assert_eq!(again.body["replay"], true, "{}", again.text);
    assert_eq!(dec(&again.body["charge"]["amount"]), full, "{}", again.text);
    app.restart().await;
    let again = end(&app, &bridge, "a", json!({})).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.body["replay"], true, "{}", again.text);
    assert_eq!(dec(&again.body["charge"]["amount"]), full, "{}", again.text);
    let w = check_c24(&app, "acme", &admin).await;
    assert_eq!(dec(&w["balance"]), debt, "charged once: {w}");
    app.stop().await;
}

#[tokio::test]
async fn c26_an_extension_pushes_the_lapse_and_stops_when_the_credit_is_gone() {
    let mut app = TestApp::start().await;
    let (admin, bridge, window_cost) = tenant_with_windows(&mut app, 2).await;
    let policy = ControlPolicy::default();
    let (window, grace) = (policy.window_s as i64, policy.grace_s as i64);
    let t0 = app.clock.now();

    let a = authorize(&app, &bridge, "a", dial_out(PPM, MOBILE)).await;
    assert_eq!(a["decision"], "allow", "{a}");
    app.clock.advance(window - 10);
    let x = extend(&app, &bridge, "a", window as u64).await;
    assert_eq!(x["extended"], true, "{x}");
    assert_eq!(x["max_duration_s"], 2 * window, "{x}");
    assert_eq!(dec(&x["reserved"]), window_cost * Decimal::TWO, "{x}");
    assert_eq!(x["replay"], false, "{x}");
    let pushed = t0 + SignedDuration::from_secs(2 * window + grace);
    assert_eq!(instant_of(&x["expires_at"]), pushed, "{x}");

    // The bridge retries the same extension: the grant it already has comes back.
    let retry = extend(&app, &bridge, "a", window as u64).await;
    assert_eq!(retry["extended"], true, "{retry}");
    assert_eq!(retry["replay"], true, "{retry}");
    assert_eq!(retry["max_duration_s"], 2 * window, "{retry}");

    // Past the first lapse instant the call still holds everything.
    app.clock.advance(10 + grace + 1);
    let b = authorize(&app, &bridge, "b", dial_out(PPM, MOBILE)).await;
    assert_eq!(
        b["reason"], "insufficient_credits",
        "the extended hold did not lapse: {b}"
    );

    // C26: the next extension finds no more credit; the grant stays.
    app.clock.advance(window - grace - 20);
    let none = extend(&app, &bridge, "a", 2 * window as u64).await;
    assert_eq!(none["extended"], false, "{none}");
    assert_eq!(none["reason"], "no_more_credit", "{none}");
    assert_eq!(none["max_duration_s"], 2 * window, "{none}");
    assert_eq!(instant_of(&none["expires_at"]), pushed, "{none}");

    // The reservation, its grant and its lapse survive a restart; the pushed lapse is exact.
    app.restart().await;
    let w = wallet(&app, "acme", &admin).await;
    assert_eq!(w["live_reservations"], 1, "{w}");
    assert_eq!(dec(&w["reserved"]), window_cost * Decimal::TWO, "{w}");
    app.clock.set(pushed - SignedDuration::from_secs(1));
    let c = authorize(&app, &bridge, "c", dial_out(PPM, MOBILE)).await;
    assert_eq!(c["reason"], "insufficient_credits", "{c}");
    app.clock.set(pushed);
    let d = authorize(&app, &bridge, "d", dial_out(PPM, MOBILE)).await;
    assert_eq!(d["decision"], "allow", "{d}");
    let r = end(&app, &bridge, "d", json!({"duration_s": 0})).await;
    assert_eq!(
        dec(&r.body["charge"]["amount"]),
        Decimal::ZERO,
        "C31: {}",
        r.text
    );

    let r = end(&app, &bridge, "a", json!({"duration_s": 2 * window})).await;
    assert_eq!(r.body["status"], "charged", "{}", r.text);
    assert_eq!(
        dec(&r.body["charge"]["amount"]),
        window_cost * Decimal::TWO,
        "{}",
        r.text
    );
    let w = check_c24(&app, "acme", &admin).await;
    assert_eq!(dec(&w["balance"]), Decimal::ZERO, "{w}");
    app.stop().await;
}

fn toll_dial_in(call_id: &str, organizer: &str, duration_s: i64) -> Value {
    json!({
        "call_id": call_id,
        "conference_id": "conf-toll",
        "organizer": organizer,
        "direction": "dial_in",
        "service_number": "+33 1 86 95 00 00",
        "caller_number": "+33 1 23 45 67 89",
        "start": at(-duration_s),
        "end": at(0),
    })
}

#[tokio::test]
async fn c27_c23_ends_without_authorization_replays_and_unknown_calls() {
    let mut app = TestApp::start().await;
    let (admin, bridge) = app.seed_tenant("acme", None).await;
    fund(&app, "acme", 50, "F1").await;
    let toll = Rate::of("dial_in_toll", "FR");

    // A toll dial-in is never authorized: its end carries the whole record.
    let record = toll_dial_in("t1", PPM, 125);
    let r = end(&app, &bridge, "t1", json!({"record": record})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["status"], "charged", "{}", r.text);
    assert_eq!(r.body["replay"], false, "{}", r.text);
    assert_eq!(r.body["charge"]["category"], "dial_in_toll", "{}", r.text);
    assert_eq!(r.body["charge"]["funding"], "credits", "{}", r.text);
    let charged = dec(&r.body["charge"]["amount"]);
    assert_eq!(charged, toll.cost(125), "{}", r.text);

    let r = end(
        &app,
        &bridge,
        "t2",
        json!({"record": toll_dial_in("t2", SUB, 600)}),
    )
    .await;
    assert_eq!(r.body["status"], "charged", "{}", r.text);
    assert_eq!(r.body["charge"]["funding"], "included", "{}", r.text);
    assert_eq!(
        dec(&r.body["charge"]["amount"]),
        Decimal::ZERO,
        "{}",
        r.text
    );

    // Reported twice, with or without the record: the first result (C23).
    for body in [json!({"record": record}), json!({})] {
        let again = end(&app, &bridge, "t1", body).await;
        assert_eq!(again.status, 200, "{}", again.text);
        assert_eq!(again.body["replay"], true, "{}", again.text);
        assert_eq!(
            dec(&again.body["charge"]["amount"]),
            charged,
            "{}",
            again.text
        );
    }
    // The same id with other content changes nothing.
    let other = end(
        &app,
        &bridge,
        "t1",
        json!({"record": toll_dial_in("t1", PPM, 3600)}),
    )
    .await;
    assert_eq!(other.body["status"], "refused", "{}", other.text);
    assert_eq!(other.body["reason"], "call_id_reused", "{}", other.text);

    // An end for a call nobody authorized, without its record, is not found.
    for body in [json!({}), json!({"duration_s": 30}), json!({"end": at(0)})] {
        let r = end(&app, &bridge, "nobody", body).await;
        assert_eq!(r.status, 404, "{}", r.text);
        assert_eq!(r.body["error"]["code"], "call_not_found", "{}", r.text);
    }
    // An authorized call ended twice is charged once.
    let a = authorize(&app, &bridge, "a", dial_out(PPM, MOBILE)).await;
    assert_eq!(a["decision"], "allow", "{a}");
    let first = end(&app, &bridge, "a", json!({"duration_s": 61})).await;
    let mobile = Rate::of("dial_out", "+336").cost(61);
    assert_eq!(
        dec(&first.body["charge"]["amount"]),
        mobile,
        "{}",
        first.text
    );
    let second = end(&app, &bridge, "a", json!({"duration_s": 61})).await;
    assert_eq!(second.body["replay"], true, "{}", second.text);
    let ext = app
        .post("/v1/tenants/acme/calls/a/extend", &bridge, json!({}))
        .await;
    assert_eq!(
        ext.status, 409,
        "an ended call is not extended: {}",
        ext.text
    );
    assert_eq!(
        ext.body["error"]["code"], "call_already_ended",
        "{}",
        ext.text
    );

    let w = check_c24(&app, "acme", &admin).await;
    assert_eq!(dec(&w["balance"]), d("50") - charged - mobile, "{w}");
    app.stop().await;
}

/// A tenant with a user for each refusal an authorization can meet.
fn refusals_tenant() -> String {
    r#"
id = "acme"
name = "Tenant acme"
country = "FR"
currency = "EUR"
timezone = "Europe/Paris"
agreement = "volume_licensing"

[licenses]
MCOMEETADD = 10
MCOMEETACPEA = 10
MCOPSTNPP = 10

[wallet]

[[numbers]]
number = "+33 1 86 95 00 00"
kind = "toll"

[[numbers]]
number = "+33 805 98 00 00"
kind = "toll_free"

[[users]]
upn = "sub@acme.example"
display_name = "Sub User"
licenses = ["MCOMEETADD", "MCOPSTNPP"]

[[users]]
upn = "ppm@acme.example"
display_name = "PPM User"
licenses = ["MCOMEETACPEA"]

[[users]]
upn = "subonly@acme.example"
display_name = "Subscription without credits"
licenses = ["MCOMEETADD"]

[[users]]
upn = "nolicense@acme.example"
display_name = "No conferencing license"
licenses = ["MCOPSTNPP"]

[[users]]
upn = "notollfree@acme.example"
display_name = "No toll-free dial-in"
licenses = ["MCOMEETACPEA"]
toll_free_dial_in = false

[[users]]
upn = "off@acme.example"
display_name = "Dial-out disabled"
licenses = ["MCOMEETACPEA"]
dial_out_policy = "tag:DialoutCPCDisabledPSTNDomestic"

[[users]]
upn = "domestic@acme.example"
display_name = "Domestic only"
licenses = ["MCOMEETACPEA"]
dial_out_policy = "DialoutCPCDomesticPSTNDisabled"

[[users]]
upn = "zonea@acme.example"
display_name = "Zone A only"
licenses = ["MCOMEETACPEA"]
dial_out_policy = "DialoutCPCZoneAPSTNDomestic"
"#
    .to_string()
}

fn no_wallet_tenant() -> String {
    r#"
id = "bare"
name = "Tenant without wallet"
country = "FR"
currency = "EUR"
timezone = "Europe/Paris"
agreement = "volume_licensing"

[licenses]
MCOMEETACPEA = 1

[[numbers]]
number = "+33 1 86 95 00 02"
kind = "toll"

[[users]]
upn = "ppm@bare.example"
display_name = "PPM User"
licenses = ["MCOMEETACPEA"]
"#
    .to_string()
}

fn dial_in(organizer: &str, service: &str, caller: &str) -> Value {
    json!({
        "conference_id": "conf-1",
        "organizer": organizer,
        "direction": "dial_in",
        "service_number": service,
        "caller_number": caller,
    })
}

#[tokio::test]
async fn c25_c30_every_refusal_reaches_the_bridge_as_a_denial() {
    let mut app = TestApp::start().await;
    let (_, bare_bridge) = app.seed_tenant_file(&no_wallet_tenant(), None).await;
    // Set up, but never funded: credit calls meet C14.
    let (_, bridge) = app.seed_tenant_file(&refusals_tenant(), None).await;
    let fr = "+33 1 23 45 67 89";
    let toll = "+33 1 86 95 00 00";
    let toll_free = "+33 805 98 00 00";
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        ("n1", dial_out(PPM, "+33 12"), "invalid_number", "C8"),
        (
            "n2",
            dial_in(PPM, toll_free, "+999 1"),
            "invalid_number",
            "C8",
        ),
        // C30: the number is checked before the organizer.
        (
            "n3",
            dial_out("nobody@acme.example", "12"),
            "invalid_number",
            "C8",
        ),
        (
            "o1",
            dial_out("nobody@acme.example", fr),
            "organizer_not_enabled",
            "C18",
        ),
        (
            "o2",
            dial_out("nolicense@acme.example", fr),
            "organizer_not_enabled",
            "C18",
        ),
        (
            "s1",
            dial_in(PPM, "+33 1 86 95 00 01", fr),
            "unknown_service_number",
            "C30",
        ),
        (
            "f1",
            dial_in("notollfree@acme.example", toll_free, fr),
            "toll_free_disabled",
            "C18",
        ),
        (
            "p1",
            dial_out("off@acme.example", fr),
            "policy_disabled",
            "C17",
        ),
        (
            "p2",
            dial_out("domestic@acme.example", "+49 30 123456"),
            "policy_domestic_only",
            "C17",
        ),
        (
            "p3",
            dial_out("zonea@acme.example", "+1 876 555 0100"),
            "policy_zone_a_only",
            "C17",
        ),
        // C30: policy before the rate (there is no +44 rate in the sample card).
        (
            "p4",
            dial_out("off@acme.example", "+44 20 7946 0018"),
            "policy_disabled",
            "C17",
        ),
        ("r1", dial_out(PPM, "+44 20 7946 0018"), "no_rate", "C9"),
        (
            "l1",
            dial_out("subonly@acme.example", "+81 90 1234 5678"),
            "credits_license_missing",
            "C19",
        ),
        ("i1", dial_out(PPM, fr), "insufficient_credits", "C14"),
        ("i2", dial_in(PPM, toll, fr), "insufficient_credits", "C14"),
        (
            "i3",
            dial_in(SUB, toll_free, fr),
            "insufficient_credits",
            "C14",
        ),
    ];
    let mut seen = std::collections::BTreeSet::new();
    for (call_id, body, reason, rule) in &cases {
        let answer = authorize(&app, &bridge, call_id, body.clone()).await;
        assert_eq!(answer["decision"], "deny", "{call_id}: {answer}");
        assert_eq!(answer["reason"], *reason, "{call_id}: {answer}");
        assert_eq!(answer["rule"], *rule, "{call_id}: {answer}");
        assert_eq!(answer["max_duration_s"], 0, "{call_id}: {answer}");
        assert!(answer.get("reserved").is_none(), "{call_id}: {answer}");
        seen.insert(reason.to_string());
        // C37: the same question gets the same answer.
        let again = authorize(&app, &bridge, call_id, body.clone()).await;
        assert_eq!(again["reason"], *reason, "{call_id} asked again: {again}");
    }

    let r = app
        .post(
            "/v1/tenants/bare/calls/w1/authorize",
            &bare_bridge,
            dial_out("ppm@bare.example", fr),
        )
        .await;
    assert_eq!(r.body["decision"], "deny", "{}", r.text);
    assert_eq!(r.body["reason"], "credits_not_set_up", "{}", r.text);
    assert_eq!(r.body["rule"], "C4", "{}", r.text);
    seen.insert("credits_not_set_up".to_string());

    // Calls that need no credit are allowed with an empty wallet: an included toll dial-in
    // (never cut) and a pool-funded dial-out.
    let included = authorize(&app, &bridge, "ok1", dial_in(SUB, toll, fr)).await;
    assert_eq!(included["decision"], "allow", "{included}");
    assert_eq!(included["funding"], "included", "{included}");
    assert_eq!(included["max_duration_s"], Value::Null, "{included}");
    let pool = authorize(&app, &bridge, "ok2", dial_out(SUB, fr)).await;
    assert_eq!(pool["decision"], "allow", "{pool}");
    assert_eq!(pool["funding"], "pool", "{pool}");

    // C23: a live call's id with other content, and a denied id with other content.
    let reused = authorize(
        &app,
        &bridge,
        "ok1",
        dial_in(SUB, toll, "+33 1 23 45 67 88"),
    )
    .await;
    assert_eq!(reused["decision"], "deny", "{reused}");
    assert_eq!(reused["reason"], "call_id_reused", "{reused}");
    assert_eq!(reused["rule"], "C23", "{reused}");
    let reused = authorize(&app, &bridge, "i1", dial_out(PPM, MOBILE)).await;
    assert_eq!(reused["reason"], "call_id_reused", "{reused}");
    // The same id repeated identically is the first answer again.
    let same = authorize(&app, &bridge, "ok1", dial_in(SUB, toll, fr)).await;
    assert_eq!(same["decision"], "allow", "{same}");
    assert_eq!(same["replay"], true, "{same}");
    seen.insert("call_id_reused".to_string());

    let expected = [
        "invalid_number",
        "organizer_not_enabled",
        "unknown_service_number",
        "toll_free_disabled",
        "policy_disabled",
        "policy_domestic_only",
        "policy_zone_a_only",
        "no_rate",
        "credits_not_set_up",
        "credits_license_missing",
        "insufficient_credits",
        "call_id_reused",
    ];
    for reason in expected {
        assert!(seen.contains(reason), "{reason} was not reached");
    }
    app.stop().await;
}
