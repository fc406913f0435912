//! Readers over a damaged store, black-box: stored amounts whose sums or products leave
//! `Decimal`'s range are refused as an internal error (C24: a journal or call table that does
//! not add up is damage), never a panic, and the server keeps answering.

use crate::common;

use common::*;
use rust_decimal::Decimal;
use serde_json::json;

const PPM: &str = "ppm@acme.example";
const FR_FIXED: &str = "+33 1 42 68 53 00";

/// T0 plus `seconds`, as RFC 3339.
fn at(seconds: i64) -> String {
    (ts(T0) + jiff::SignedDuration::from_secs(seconds)).to_string()
}

fn dial_out(id: &str, start_s: i64) -> serde_json::Value {
    json!({
        "call_id": id,
        "conference_id": "m1",
        "organizer": PPM,
        "direction": "dial_out",
        "service_number": "",
        "caller_number": "",
        "destination_number": FR_FIXED,
        "start": at(start_s),
        "end": at(start_s + 90),
    })
}

fn assert_internal(r: &Resp, what: &str) {
    assert_eq!(r.status, 500, "{what}: {}", r.text);
    assert_eq!(r.body["error"]["code"], "internal", "{what}: {}", r.text);
}

#[tokio::test]
async fn c24_stored_amounts_out_of_range_answer_internal_not_a_panic() {
    if minutely_testkit::stores::on_postgres() {
        eprintln!("SQLite only: this test changes the database file directly");
        return;
    }
    let mut app = TestApp::start().await;
    let (admin, bridge) = app.seed_tenant("acme", Some("100")).await;
    let r = app
        .post(
            "/v1/tenants/acme/calls",
            &bridge,
            json!({ "calls": [dial_out("c1", 100), dial_out("c2", 300)] }),
        )
        .await;
    assert_eq!(r.status, 200, "ingest: {}", r.text);
    let explain = "/v1/tenants/acme/calls/c1/explain";
    assert_eq!(app.get(explain, &admin).await.status, 200);

    // Damage the call table behind the server's back: a rate whose product with the billable
    // seconds (C7), and amounts whose sum, leave the range.
    let max = Decimal::MAX.to_string();
    let conn = rusqlite::Connection::open(&app.db).expect("the store file");
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .expect("a busy timeout");
    let changed = conn
        .execute(
            "UPDATE calls SET rate_per_minute = ?1, amount = ?1 WHERE tenant = 'acme'",
            [&max],
        )
        .expect("the update");
    assert_eq!(changed, 2);
    drop(conn);

    assert_internal(&app.get(explain, &admin).await, "explain");
    let range = "from=2026-03-01&to=2026-03-31";
    for report in ["dial-out-usage", "usage-summary"] {
        let r = app
            .get(
                &format!("/v1/tenants/acme/reports/{report}?{range}"),
                &admin,
            )
            .await;
        assert_internal(&r, report);
    }
    // Still serving.
    let r = app.get("/v1/tenants/acme/wallet", &admin).await;
    assert_eq!(r.status, 200, "{}", r.text);
    app.stop().await;
}
