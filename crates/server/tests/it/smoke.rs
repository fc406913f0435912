use crate::common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn c25_c27_authorize_then_end_debits_the_wallet() {
    let mut app = TestApp::start().await;
    let file = format!(
        "{}\n[[wallet.fundings]]\nreference = \"F1\"\namount = 100\nat = \"2026-03-01T00:00:00Z\"\n",
        tenant_file("acme")
    );
    let file = file.replace("[wallet]\n", "");
    let file = file.replace("\n[[wallet.fundings]]", "\n[wallet]\n[[wallet.fundings]]");
    let (_admin, bridge) = app.seed_tenant_file(&file, None).await;
    let r = app
        .post(
            "/v1/tenants/acme/calls/c1/authorize",
            &bridge,
            json!({"conference_id": "m1", "organizer": "ppm@acme.example", "direction": "dial_out", "destination_number": "+33 6 12 34 56 78"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["decision"], "allow", "{}", r.text);
    assert_eq!(r.body["max_duration_s"], 300);
    assert_eq!(r.body["reserved"], "0.55");
    app.clock.advance(90);
    let r = app
        .post(
            "/v1/tenants/acme/calls/c1/end",
            &bridge,
            json!({"duration_s": 90}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["status"], "charged", "{}", r.text);
    assert_eq!(r.body["charge"]["amount"], "0.22");
    assert_eq!(r.body["charge"]["balance_after"], "99.78");
    let again = app
        .post(
            "/v1/tenants/acme/calls/c1/end",
            &bridge,
            json!({"duration_s": 90}),
        )
        .await;
    assert_eq!(again.body["replay"], true, "{}", again.text);
    app.restart().await;
    let again = app
        .post("/v1/tenants/acme/calls/c1/end", &bridge, json!({}))
        .await;
    assert_eq!(again.body["replay"], true, "{}", again.text);
    assert_eq!(again.body["charge"]["balance_after"], "99.78");
    let fr = app
        .request(
            reqwest::Method::POST,
            "/v1/tenants/acme/calls/c9/extend",
            Some(&bridge),
            None,
            &[("accept-language", "fr-FR, en;q=0.5")],
        )
        .await;
    assert_eq!(fr.status, 404, "{}", fr.text);
    assert_eq!(fr.body["error"]["code"], "call_not_found");
    assert_eq!(fr.body["error"]["lang"], "fr");
    app.stop().await;
}
