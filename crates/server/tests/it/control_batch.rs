//! The batched call-control route (`POST /v1/tenants/{tenant}/control`): each command answers
//! exactly what its single-call route answers, in order, and leaves the same wallet and ledger
//! (C25 to C27, C23); a malformed command refuses the whole batch and changes nothing; the
//! batch is bounded.

use crate::common;
use crate::support;

use common::*;
use minutely_core::control::ControlPolicy;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use support::*;

const PPM: &str = "ppm@acme.example";
/// A French mobile: 0.11 per minute in the sample card.
const MOBILE: &str = "+33 6 12 34 56 78";

/// (op, call id, body): a script that touches every answer the routes can give: grants in
/// full and in part, a denial for credit, an exhausted extension, ends, a repeated end, an
/// unknown call, an extension of a denied call, and a reused id.
fn script() -> Vec<(&'static str, &'static str, Value)> {
    let other = json!({
        "conference_id": "conf-2",
        "organizer": PPM,
        "direction": "dial_out",
        "destination_number": "+33 1 44 55 66 77",
    });
    vec![
        ("authorize", "c1", dial_out(PPM, MOBILE)),
        ("authorize", "c2", dial_out(PPM, MOBILE)),
        ("authorize", "c3", dial_out(PPM, MOBILE)),
        ("extend", "c1", json!({"granted_s": 300})),
        ("end", "c1", json!({"duration_s": 100})),
        ("end", "c2", json!({"duration_s": 30})),
        ("end", "c1", json!({"duration_s": 100})),
        ("end", "ghost", json!({})),
        ("extend", "c3", json!({})),
        ("authorize", "c1", other),
        ("authorize", "c4", dial_out(PPM, MOBILE)),
    ]
}

/// A tenant whose balance is one window and two minutes of a call to `MOBILE`: c1 gets the
/// window, c2 the two minutes, c3 nothing.
async fn tenant(app: &mut TestApp) -> (String, String) {
    let (admin, bridge) = app.seed_tenant("acme", None).await;
    fund(app, "acme", 50, "F1").await;
    let mobile = Rate::of("dial_out", "+336");
    let target = mobile.cost(ControlPolicy::default().window_s) + mobile.cost(120);
    spend_down_to(app, "acme", &bridge, &admin, PPM, target, "spend").await;
    (admin, bridge)
}

#[tokio::test]
async fn c25_c26_c27_a_batch_answers_and_changes_exactly_what_single_calls_do() {
    let mut single = TestApp::start().await;
    let (single_admin, single_bridge) = tenant(&mut single).await;
    let mut batched = TestApp::start().await;
    let (batched_admin, batched_bridge) = tenant(&mut batched).await;

    let mut expected = Vec::new();
    for (op, id, body) in script() {
        let r = single
            .post(
                &format!("/v1/tenants/acme/calls/{id}/{op}"),
                &single_bridge,
                body,
            )
            .await;
        expected.push((r.status, r.body));
    }
    let commands: Vec<Value> = script()
        .into_iter()
        .map(|(op, id, body)| json!({"op": op, "call_id": id, "body": body}))
        .collect();
    let r = batched
        .post(
            "/v1/tenants/acme/control",
            &batched_bridge,
            json!({ "commands": commands }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let results = r.body["results"].as_array().expect("results").clone();
    assert_eq!(results.len(), expected.len());

    for (i, ((op, id, _), (status, body))) in script().into_iter().zip(&expected).enumerate() {
        let got = &results[i];
        assert_eq!(got["op"], op, "command {i}");
        assert_eq!(got["call_id"], id, "command {i}");
        assert_eq!(got["status"], *status, "command {i}: {got}");
        if *status == 200 {
            assert_eq!(&got[op], body, "command {i} ({op} {id})");
            assert!(got.get("error").is_none(), "command {i}: {got}");
        } else {
            assert_eq!(got["error"]["code"], body["error"]["code"], "command {i}");
            assert_eq!(
                got["error"]["detail"], body["error"]["detail"],
                "command {i}"
            );
            assert_eq!(
                got["error"]["message"], body["error"]["message"],
                "command {i}"
            );
        }
    }
    // The script reached every kind of answer it was written for.
    let kinds: Vec<String> = expected
        .iter()
        .map(|(status, body)| match status {
            200 => body["decision"]
                .as_str()
                .or(body["reason"].as_str())
                .or(body["status"].as_str())
                .unwrap_or("extended")
                .to_string(),
            _ => body["error"]["code"].as_str().unwrap_or("?").to_string(),
        })
        .collect();
    for kind in [
        "allow",
        "deny",
        "no_more_credit",
        "charged",
        "call_not_found",
        "call_already_ended",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "no {kind} in {kinds:?}");
    }
    assert_eq!(
        expected[0].1["max_duration_s"], 300,
        "c1 gets a full window"
    );
    assert_eq!(expected[1].1["max_duration_s"], 120, "c2 gets what is left");
    assert_eq!(expected[2].1["reason"], "insufficient_credits");
    assert_eq!(expected[6].1["replay"], true, "c1 ended twice");
    assert_eq!(expected[9].1["reason"], "call_id_reused");

    // The same wallet, the same ledger, the same live holds (c4).
    let a = check_c24(&single, "acme", &single_admin).await;
    let b = check_c24(&batched, "acme", &batched_admin).await;
    assert_eq!(a, b, "wallets");
    assert!(dec(&b["reserved"]) > Decimal::ZERO, "c4 is held: {b}");
    let strip = |entries: Vec<Value>| -> Vec<Value> {
        entries
            .into_iter()
            .map(|mut e| {
                e.as_object_mut().unwrap().remove("id");
                e
            })
            .collect()
    };
    assert_eq!(
        strip(ledger(&single, "acme", &single_admin).await),
        strip(ledger(&batched, "acme", &batched_admin).await),
        "ledgers"
    );
    // And the same after a restart: the batch was durable.
    batched.restart().await;
    assert_eq!(check_c24(&batched, "acme", &batched_admin).await, a);
    single.stop().await;
    batched.stop().await;
}

#[tokio::test]
async fn a_malformed_command_refuses_the_whole_batch_naming_it_and_changes_nothing() {
    let mut app = TestApp::start().await;
    let (admin, bridge) = app.seed_tenant("acme", Some("50")).await;
    let before = wallet(&app, "acme", &admin).await;
    let cases = [
        (
            json!({"op": "authorize", "call_id": "bad", "body": {
                "conference_id": "c", "organizer": PPM, "direction": "sideways",
                "destination_number": MOBILE}}),
            "commands[1]: direction",
        ),
        (
            json!({"op": "end", "call_id": "bad", "body": {"end": "yesterday"}}),
            "commands[1]: end",
        ),
        (
            json!({"op": "end", "call_id": "bad", "body": {
                "end": "2026-03-02T09:05:00Z", "duration_s": 10}}),
            "commands[1]: give end or duration_s",
        ),
        (
            json!({"op": "extend", "call_id": "x".repeat(10_000), "body": {}}),
            "commands[1]: call_id",
        ),
        (
            json!({"op": "extend", "call_id": "bad", "body": {"granted_s": 9_223_372_036_854_775_808u64}}),
            "commands[1]: granted_s is longer than a year",
        ),
        (
            json!({"op": "end", "call_id": "bad", "body": {"duration_s": 31_622_401}}),
            "commands[1]: duration_s is longer than a year",
        ),
        // serde would read a struct from an array of its fields; no schema allows it.
        (
            json!({"op": "extend", "call_id": "bad", "body": [null, null]}),
            "commands[1]: invalid type: sequence, expected an object",
        ),
        (
            json!({"op": "end", "call_id": "bad", "body": {"record": ["bad"]}}),
            "commands[1]: invalid type: sequence, expected an object",
        ),
    ];
    for (bad, named) in cases {
        let r = app
            .post(
                "/v1/tenants/acme/control",
                &bridge,
                json!({"commands": [
                    {"op": "authorize", "call_id": "ok", "body": dial_out(PPM, MOBILE)},
                    bad,
                ]}),
            )
            .await;
        // Fields that exclude each other are unprocessable; the rest is malformed.
        let (status, code) = if named.contains("give end or duration_s") {
            (422, "unprocessable_request")
        } else {
            (400, "invalid_request")
        };
        assert_eq!(r.status, status, "{}", r.text);
        assert_eq!(r.body["error"]["code"], code);
        let detail = r.body["error"]["detail"].as_str().unwrap_or_default();
        assert!(detail.starts_with(named), "{named:?} in {detail:?}");
    }
    // Unknown operations and fields are refused by the body's schema.
    for bad in [
        json!({"op": "pause", "call_id": "x"}),
        json!({"op": "end", "call_id": "x", "body": {}, "extra": 1}),
        json!({"op": "end", "body": {}}),
    ] {
        let r = app
            .post(
                "/v1/tenants/acme/control",
                &bridge,
                json!({ "commands": [bad] }),
            )
            .await;
        assert_eq!(r.status, 400, "{}", r.text);
    }
    // Nothing was carried out: "ok" was never authorized.
    assert_eq!(wallet(&app, "acme", &admin).await, before);
    let r = app
        .post("/v1/tenants/acme/calls/ok/end", &bridge, json!({}))
        .await;
    assert_eq!(r.status, 404, "{}", r.text);
    assert_eq!(r.body["error"]["code"], "call_not_found");
    app.stop().await;
}

#[tokio::test]
async fn a_batch_is_bounded_and_its_errors_speak_the_callers_language() {
    let mut app = TestApp::start_with(|c| c.max_batch_records = 3).await;
    let (_admin, bridge) = app.seed_tenant("acme", Some("50")).await;
    let end = |id: &str| json!({"op": "end", "call_id": id});
    let r = app
        .post(
            "/v1/tenants/acme/control",
            &bridge,
            json!({"commands": [end("a"), end("b"), end("c"), end("d")]}),
        )
        .await;
    assert_eq!(r.status, 413, "{}", r.text);
    assert_eq!(r.body["error"]["code"], "batch_too_large");
    assert!(r.text.contains("4 commands"), "{}", r.text);

    let r = app
        .request(
            reqwest::Method::POST,
            "/v1/tenants/acme/control",
            Some(&bridge),
            Some(RequestBody::Json(json!({"commands": [
                {"op": "authorize", "call_id": "a", "body": dial_out(PPM, MOBILE)},
                end("nobody"),
                end("a"),
            ]}))),
            &[("accept-language", "fr-FR,fr;q=0.9")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let results = r.body["results"].as_array().unwrap();
    assert_eq!(results[0]["authorize"]["decision"], "allow");
    assert_eq!(results[1]["status"], 404);
    assert_eq!(results[1]["error"]["code"], "call_not_found");
    assert_eq!(results[1]["error"]["lang"], "fr");
    let english = app
        .post("/v1/tenants/acme/calls/nobody/end", &bridge, json!({}))
        .await;
    assert_ne!(
        results[1]["error"]["message"], english.body["error"]["message"],
        "a French message"
    );
    assert_eq!(
        results[2]["end"]["status"], "charged",
        "one error stops nothing"
    );

    // Another tenant's id is answered as an unknown tenant, for the whole batch.
    let r = app
        .post(
            "/v1/tenants/globex/control",
            &bridge,
            json!({"commands": [end("a")]}),
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.text);
    let r = app
        .post("/v1/tenants/acme/control", &bridge, json!({"commands": []}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["results"], json!([]));
    app.stop().await;
}
