//! The report routes, black-box: the PSTN usage export (product.md), dial-out usage by
//! organizer, the minute pool (C20, C21), refused calls, and the per-call explain (C6, C7,
//! C10, C32).

use crate::common;

use common::*;
use minutely_core::engine::Outcome;
use minutely_formats::export;
use serde_json::{Value, json};

/// T0 plus `seconds`, as RFC 3339.
fn at(seconds: i64) -> String {
    (ts(T0) + jiff::SignedDuration::from_secs(seconds)).to_string()
}

struct Call<'a> {
    id: &'a str,
    organizer: &'a str,
    direction: &'a str,
    number: &'a str,
    start_s: i64,
    duration_s: i64,
    conference: &'a str,
}

fn record(c: &Call<'_>) -> Value {
    let dial_in = c.direction == "dial_in";
    json!({
        "call_id": c.id,
        "conference_id": c.conference,
        "organizer": c.organizer,
        "direction": c.direction,
        "service_number": if dial_in { c.number } else { "" },
        "caller_number": if dial_in { "+33 6 98 76 54 32" } else { "" },
        "destination_number": if dial_in { "" } else { c.number },
        "start": at(c.start_s),
        "end": at(c.start_s + c.duration_s),
    })
}

fn call<'a>(
    id: &'a str,
    organizer: &'a str,
    direction: &'a str,
    number: &'a str,
    start_s: i64,
    duration_s: i64,
) -> Call<'a> {
    Call {
        id,
        organizer,
        direction,
        number,
        start_s,
        duration_s,
        conference: "m1",
    }
}

const SUB: &str = "sub@acme.example";
const PPM: &str = "ppm@acme.example";
const TOLL: &str = "+33 1 86 95 00 00";
const TOLL_FREE: &str = "+33 805 98 00 00";
const FR_FIXED: &str = "+33 1 42 68 53 00";
const FR_MOBILE: &str = "+33 6 12 34 56 78";
const JAPAN: &str = "+81 3 1234 5678";

async fn ingest(app: &TestApp, key: &str, calls: &[Call<'_>]) -> Resp {
    let records: Vec<Value> = calls.iter().map(record).collect();
    let r = app
        .post("/v1/tenants/acme/calls", key, json!({ "calls": records }))
        .await;
    assert_eq!(r.status, 200, "ingest: {}", r.text);
    r
}

/// A tenant with a mix of calls: six charged (every funding kind but the add-on), two refused.
async fn fixture() -> (TestApp, String, String) {
    let mut app = TestApp::start().await;
    let (admin, bridge) = app.seed_tenant("acme", Some("100")).await;
    let quoted = Call {
        conference: "conf \"A\", 1",
        ..call("c3", PPM, "dial_out", FR_MOBILE, 300, 90)
    };
    let r = ingest(
        &app,
        &bridge,
        &[
            call("c1", SUB, "dial_in", TOLL, 100, 300),
            call("c2", PPM, "dial_in", TOLL_FREE, 200, 60),
            quoted,
            call("c4", PPM, "dial_out", FR_FIXED, 400, 90),
            call("c5", SUB, "dial_out", FR_FIXED, 500, 90),
            call("c6", PPM, "dial_out", JAPAN, 600, 61),
            call("r1", "ghost@acme.example", "dial_out", FR_FIXED, 700, 60),
            call("r2", PPM, "dial_out", "+33 12", 800, 60),
        ],
    )
    .await;
    assert_eq!(r.body["charged"], 6, "{}", r.text);
    assert_eq!(r.body["refused"], 2, "{}", r.text);
    (app, admin, bridge)
}

/// What `minutely report pstn-usage` writes for this store and range (its code, run here).
fn cli_export(app: &TestApp, from: &str, to: &str, extended: bool) -> Vec<u8> {
    let store = minutely_store::Store::open_read_only(&app.db).expect("the store");
    let book = store.load_book("acme").expect("load").expect("the tenant");
    let countries = store.countries().expect("countries");
    let mut out = export::header(extended).into_bytes();
    for call in store.calls("acme", ts(from), ts(to)).expect("calls") {
        if let Outcome::Charged(charge) = &call.outcome {
            export::write_row(
                &mut out,
                &book.tenant,
                &countries,
                &call.record,
                charge,
                extended,
            );
        }
    }
    out
}

fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes());
    reader
        .records()
        .map(|r| r.expect("valid CSV").iter().map(str::to_string).collect())
        .collect()
}

fn row<'a>(rows: &'a [Vec<String>], call_id: &str) -> &'a [String] {
    rows.iter()
        .find(|r| r[1] == call_id)
        .unwrap_or_else(|| panic!("a row for {call_id}"))
}

#[tokio::test]
async fn c22_c39_pstn_usage_export_has_the_20_columns_rfc4180_and_matches_the_cli() {
    let (app, admin, _) = fixture().await;
    let r = app
        .get(
            "/v1/tenants/acme/reports/pstn-usage?from=2026-03-01&to=2026-03-31",
            &admin,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let content_type = r.headers["content-type"].to_str().unwrap();
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    let disposition = r.headers["content-disposition"].to_str().unwrap();
    assert!(disposition.starts_with("attachment"), "{disposition}");
    // Dates are tenant-local days (Europe/Paris); `to` runs to the end of its day.
    let expected = cli_export(&app, "2026-02-28T23:00:00Z", "2026-03-31T22:00:00Z", false);
    assert_eq!(
        r.text.as_bytes(),
        expected.as_slice(),
        "byte for byte what the CLI writes"
    );
    assert!(r.text.contains("\r\n"), "RFC 4180 line ends");
    assert!(
        r.text.contains(",\"conf \"\"A\"\", 1\","),
        "RFC 4180 quoting: {}",
        r.text
    );

    let rows = parse_csv(&r.text);
    assert_eq!(rows[0], export::COLUMNS, "the header");
    assert_eq!(rows.len(), 7, "the header and one row per charged call");
    assert!(
        rows.iter().all(|r| r.len() == 20),
        "twenty columns on every row"
    );
    let c3 = row(&rows, "c3");
    assert_eq!(c3[2], "conf \"A\", 1");
    assert_eq!(&c3[3..7], ["FR", c3[4].as_str(), PPM, "PPM User"]);
    assert!(!c3[4].is_empty(), "AAD ObjectId");
    assert_eq!(
        &c3[8..13],
        ["conf_out", "", "Domestic", "France mobile", "+33612345678"]
    );
    assert_eq!(
        &c3[13..],
        [
            "2026-03-02T09:05:00Z",
            "2026-03-02T09:06:30Z",
            "90",
            "0.00",
            "0.22",
            "EUR",
            "MCOMEETACPEA"
        ]
    );
    let c1 = row(&rows, "c1");
    assert_eq!(
        &c1[7..13],
        [
            "+33698765432",
            "conf_in",
            "toll",
            "Domestic",
            "France",
            "+33186950000"
        ]
    );
    assert_eq!(&c1[15..], ["300", "0.00", "0.00", "EUR", "MCOMEETADD"]);
    let c2 = row(&rows, "c2");
    assert_eq!(&c2[8..10], ["conf_in", "toll_free"]);
    assert_eq!(&c2[16..], ["0.00", "0.05", "EUR", "MCOMEETACPEA"]);
    let c5 = row(&rows, "c5");
    assert_eq!(&c5[17..], ["0.00", "EUR", "MCOMEETADD"], "the pool paid");
    let c6 = row(&rows, "c6");
    assert_eq!(&c6[10..12], ["International", "Japan"]);
    assert_eq!(c6[17], "0.18");
    assert!(
        rows.iter().all(|r| r[1] != "r1" && r[1] != "r2"),
        "refused calls are not exported"
    );

    // Extended: five more columns.
    let x = app
        .get(
            "/v1/tenants/acme/reports/pstn-usage?from=2026-03-01&to=2026-03-31&extended=true",
            &admin,
        )
        .await;
    assert_eq!(x.status, 200, "{}", x.text);
    let expected = cli_export(&app, "2026-02-28T23:00:00Z", "2026-03-31T22:00:00Z", true);
    assert_eq!(x.text.as_bytes(), expected.as_slice());
    let rows = parse_csv(&x.text);
    assert_eq!(rows[0][20..], export::EXTENDED_COLUMNS);
    assert!(
        rows.iter().all(|r| r.len() == 25),
        "twenty-five columns on every row"
    );
    let c5 = row(&rows, "c5");
    assert_eq!(&c5[20..23], ["pool", "2", "0.00"]);
    assert_eq!(c5[24], "C32");
    let c3 = row(&rows, "c3");
    assert_eq!(&c3[20..], ["credits", "0", "0.22", "99.73", "C18"]);

    // Instants work too, and an empty range is just the header.
    let r = app
        .get(
            "/v1/tenants/acme/reports/pstn-usage?from=2026-03-02T09:05:00Z&to=2026-03-02T09:06:41Z",
            &admin,
        )
        .await;
    let rows = parse_csv(&r.text);
    let ids: Vec<&str> = rows[1..].iter().map(|r| r[1].as_str()).collect();
    assert_eq!(ids, ["c3", "c4"], "[from, to) by start");
    let r = app
        .get(
            "/v1/tenants/acme/reports/pstn-usage?from=2026-04-01&to=2026-04-01",
            &admin,
        )
        .await;
    assert_eq!(r.text, export::header(false));
    app.stop().await;
}

#[tokio::test]
async fn bad_from_and_to_are_named_in_the_error() {
    let (app, admin, bridge) = fixture().await;
    for report in ["pstn-usage", "dial-out-usage", "refused"] {
        for (query, named) in [
            ("from=yesterday&to=2026-03-31", "from"),
            ("from=2026-03-01&to=2026-02-30", "to"),
            ("from=01/03/2026&to=2026-03-31", "from"),
            ("to=2026-03-31", "from"),
            ("from=2026-03-01", "to"),
            ("from=2026-03-10&to=2026-03-01", "to ("),
            ("from=2025-01-01&to=2026-03-01", "from/to"),
        ] {
            let r = app
                .get(
                    &format!("/v1/tenants/acme/reports/{report}?{query}"),
                    &admin,
                )
                .await;
            // Well-formed bounds that make no range are unprocessable, not malformed.
            let (status, code) = if matches!(named, "to (" | "from/to") {
                (422, "unprocessable_request")
            } else {
                (400, "invalid_request")
            };
            assert_eq!(r.status, status, "{report}?{query}: {}", r.text);
            assert_eq!(r.body["error"]["code"], code);
            let detail = r.body["error"]["detail"].as_str().unwrap_or_default();
            assert!(
                detail.starts_with(named) || detail.contains(named),
                "{report}?{query}: {detail}"
            );
        }
        // 366 days is the most.
        let r = app
            .get(
                &format!("/v1/tenants/acme/reports/{report}?from=2026-01-01&to=2027-01-01"),
                &admin,
            )
            .await;
        assert_eq!(r.status, 200, "{report}: {}", r.text);
        // Access: a bridge key may not read reports; another tenant is unknown.
        let r = app
            .get(
                &format!("/v1/tenants/acme/reports/{report}?from=2026-03-01&to=2026-03-31"),
                &bridge,
            )
            .await;
        assert_eq!(r.status, 403, "{report}: {}", r.text);
        let r = app
            .get(
                &format!("/v1/tenants/other/reports/{report}?from=2026-03-01&to=2026-03-31"),
                &admin,
            )
            .await;
        assert_eq!(r.status, 404, "{report}: {}", r.text);
        assert_eq!(r.body["error"]["code"], "unknown_tenant");
    }
    app.stop().await;
}

#[tokio::test]
async fn c5_c21_dial_out_usage_sums_the_calls_per_organizer_and_country() {
    let (app, admin, _) = fixture().await;
    let r = app
        .get(
            "/v1/tenants/acme/reports/dial-out-usage?from=2026-03-01&to=2026-03-31",
            &admin,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["currency"], "EUR");
    let organizers = r.body["organizers"].as_array().unwrap();
    assert_eq!(organizers.len(), 2, "{}", r.text);
    let ppm = &organizers[0];
    assert_eq!(ppm["upn"], PPM);
    assert_eq!(ppm["display_name"], "PPM User");
    assert_eq!(ppm["calls"], 3);
    assert_eq!(ppm["duration_s"], 241);
    assert_eq!(ppm["minutes"], 6);
    assert_eq!(ppm["pool_minutes"], 0);
    assert_eq!(ppm["credit_amount"], "0.45");
    assert_eq!(
        ppm["countries"],
        json!([
            {"country": "FR", "country_name": "France", "calls": 2, "duration_s": 180, "minutes": 4, "pool_minutes": 0, "credit_amount": "0.27"},
            {"country": "JP", "country_name": "Japan", "calls": 1, "duration_s": 61, "minutes": 2, "pool_minutes": 0, "credit_amount": "0.18"}
        ])
    );
    let sub = &organizers[1];
    assert_eq!(sub["upn"], SUB);
    assert_eq!(sub["calls"], 1);
    assert_eq!(sub["pool_minutes"], 2);
    assert_eq!(sub["credit_amount"], "0.00");
    assert_eq!(
        r.body["totals"],
        json!({"calls": 4, "duration_s": 331, "minutes": 8, "pool_minutes": 2, "credit_amount": "0.45"})
    );
    // A range without calls.
    let r = app
        .get(
            "/v1/tenants/acme/reports/dial-out-usage?from=2026-02-01&to=2026-02-28",
            &admin,
        )
        .await;
    assert_eq!(r.body["organizers"], json!([]), "{}", r.text);
    assert_eq!(r.body["totals"]["calls"], 0);
    app.stop().await;
}

#[tokio::test]
async fn c20_c21_c25_pool_report_shows_size_use_holds_and_organizers() {
    let (app, admin, bridge) = fixture().await;
    let r = app
        .get("/v1/tenants/acme/reports/pool?month=2026-03", &admin)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["month"], "2026-03");
    assert_eq!(r.body["time_zone"], "Europe/Paris");
    assert_eq!(r.body["from"], "2026-02-28T23:00:00Z");
    assert_eq!(r.body["to"], "2026-03-31T22:00:00Z");
    assert_eq!(r.body["purchased_subscriptions"], 5);
    assert_eq!(r.body["size_minutes"], 300, "C20: 60 x 5 MCOMEETADD");
    assert_eq!(r.body["used_minutes"], 2, "C21: ceil(90 / 60)");
    assert_eq!(r.body["held_minutes"], 0);
    assert_eq!(r.body["remaining_minutes"], 298);
    assert_eq!(r.body["used_percent"], 0);
    assert_eq!(
        r.body["organizers"],
        json!([{"upn": SUB, "display_name": "Sub User", "calls": 1, "minutes": 2}])
    );
    // C25: a live pool call holds minutes.
    let a = app
        .post(
            "/v1/tenants/acme/calls/live1/authorize",
            &bridge,
            json!({"conference_id": "m2", "organizer": SUB, "direction": "dial_out", "destination_number": FR_FIXED}),
        )
        .await;
    assert_eq!(a.body["funding"], "pool", "{}", a.text);
    let held = a.body["reserved_pool_minutes"].as_u64().unwrap();
    assert!(held > 0);
    let r = app.get("/v1/tenants/acme/reports/pool", &admin).await;
    assert_eq!(
        r.body["month"], "2026-03",
        "the current month by default: {}",
        r.text
    );
    assert_eq!(r.body["held_minutes"], held);
    assert_eq!(r.body["remaining_minutes"], 298 - held);
    // Another month is empty and its size is the count in force then.
    let r = app
        .get("/v1/tenants/acme/reports/pool?month=2026-02", &admin)
        .await;
    assert_eq!(r.body["used_minutes"], 0, "{}", r.text);
    assert_eq!(r.body["organizers"], json!([]));
    for bad in ["2026-13", "March", "2026-3", "26-03"] {
        let r = app
            .get(
                &format!("/v1/tenants/acme/reports/pool?month={bad}"),
                &admin,
            )
            .await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text);
        assert!(
            r.body["error"]["detail"]
                .as_str()
                .unwrap()
                .starts_with("month")
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn c8_c18_refused_report_lists_every_refusal_with_its_reason_and_pages() {
    let (app, admin, bridge) = fixture().await;
    // A denied authorization is a refused call too.
    let a = app
        .post(
            "/v1/tenants/acme/calls/d1/authorize",
            &bridge,
            json!({"conference_id": "m3", "organizer": "ghost@acme.example", "direction": "dial_out", "destination_number": FR_FIXED}),
        )
        .await;
    assert_eq!(a.body["decision"], "deny", "{}", a.text);
    let mut seen = Vec::new();
    let mut after = String::new();
    for _ in 0..10 {
        let r = app
            .get(
                &format!("/v1/tenants/acme/reports/refused?from=2026-03-01&to=2026-03-31&limit=1&after={after}"),
                &admin,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let calls = r.body["calls"].as_array().unwrap();
        assert!(calls.len() <= 1);
        for c in calls {
            seen.push((
                c["record"]["call_id"].as_str().unwrap().to_string(),
                c["reason"].as_str().unwrap().to_string(),
                c["rule"].as_str().unwrap().to_string(),
            ));
        }
        match r.body["next"].as_str() {
            Some(next) => after = next.to_string(),
            None => break,
        }
    }
    // Canonical order: the authorization started at T0, before the ingested calls.
    let ids: Vec<&str> = seen.iter().map(|s| s.0.as_str()).collect();
    assert_eq!(ids, ["d1", "r1", "r2"], "{seen:?}");
    assert_eq!(seen[0].1, "organizer_not_enabled");
    assert_eq!(seen[1].1, "organizer_not_enabled");
    assert_eq!(seen[2].1, "invalid_number");
    assert!(seen.iter().all(|s| s.2.starts_with('C')), "{seen:?}");
    let all = app
        .get(
            "/v1/tenants/acme/reports/refused?from=2026-03-01&to=2026-03-31",
            &admin,
        )
        .await;
    assert_eq!(all.body["calls"].as_array().unwrap().len(), 3);
    assert_eq!(all.body["next"], Value::Null);
    assert_eq!(
        all.body["calls"][2]["record"]["destination_number"],
        "+33 12"
    );
    for (query, named) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("after=zz", "after"),
        ("after=1_zz", "after"),
    ] {
        let r = app
            .get(
                &format!("/v1/tenants/acme/reports/refused?from=2026-03-01&to=2026-03-31&{query}"),
                &admin,
            )
            .await;
        assert_eq!(r.status, 400, "{query}: {}", r.text);
        assert!(
            r.body["error"]["detail"].as_str().unwrap().contains(named),
            "{query}: {}",
            r.text
        );
    }
    app.stop().await;
}

fn steps(body: &Value) -> Vec<String> {
    body["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| {
            format!(
                "{}: {}",
                s["rule"].as_str().unwrap(),
                s["text"].as_str().unwrap()
            )
        })
        .collect()
}

fn has_step(body: &Value, text: &str) -> bool {
    steps(body).iter().any(|s| s.contains(text))
}

#[tokio::test]
async fn c6_c7_c10_explain_spells_out_rate_arithmetic_lots_and_balance() {
    let (app, admin, bridge) = fixture().await;
    let r = app.get("/v1/tenants/acme/calls/c4/explain", &admin).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["status"], "charged");
    assert_eq!(
        r.body["rule"], "C18",
        "a pay-per-minute organizer's own credits"
    );
    assert_eq!(r.body["record"]["destination_number"], FR_FIXED);
    assert_eq!(r.body["rate_key"]["kind"], "dial_out");
    assert_eq!(
        r.body["rate_key"]["key"], "+33",
        "the longest prefix that matched"
    );
    assert_eq!(r.body["charge"]["rate"]["name"], "France");
    assert_eq!(
        r.body["charge"]["rate"]["effective_from"],
        "2026-01-01T00:00:00Z"
    );
    assert_eq!(r.body["charge"]["billable_s"], 120);
    assert_eq!(r.body["charge"]["amount"], "0.05");
    assert_eq!(
        r.body["charge"]["lots"],
        json!([{"lot": 1, "amount": "0.05"}])
    );
    assert_eq!(r.body["charge"]["balance_after"], "99.68");
    for text in [
        "duration = 2026-03-02T09:08:10Z − 2026-03-02T09:06:40Z = 90 s",
        "C6: 60 + ceil((90 − 60) / 60) × 60 = 120 s billable",
        "C7: 0.0240 × 120 / 60 = 0.048 → 0.05",
        "C36: rate \"France\" (dial_out +33), FR",
        "lot 1: 0.05",
        "C24: balance after this call: 99.68",
    ] {
        assert!(has_step(&r.body, text), "{text:?} in {:#?}", steps(&r.body));
    }
    let mobile = app.get("/v1/tenants/acme/calls/c3/explain", &admin).await;
    assert_eq!(mobile.body["rate_key"]["key"], "+336", "{}", mobile.text);
    assert!(
        has_step(&mobile.body, "0.1100 × 120 / 60 = 0.22 → 0.22"),
        "{:#?}",
        steps(&mobile.body)
    );
    let included = app.get("/v1/tenants/acme/calls/c1/explain", &admin).await;
    assert_eq!(included.body["rule"], "C18");
    assert!(
        has_step(&included.body, "included"),
        "{:#?}",
        steps(&included.body)
    );
    assert!(has_step(&included.body, "nothing was debited"));
    let short = app.get("/v1/tenants/acme/calls/c6/explain", &admin).await;
    assert!(
        has_step(&short.body, "60 + ceil((61 − 60) / 60) × 60 = 120 s"),
        "{:#?}",
        steps(&short.body)
    );
    assert!(has_step(&short.body, "0.0900 × 120 / 60 = 0.18 → 0.18"));

    let refused = app.get("/v1/tenants/acme/calls/r2/explain", &admin).await;
    assert_eq!(refused.body["status"], "refused", "{}", refused.text);
    assert_eq!(refused.body["reason"], "invalid_number");
    assert_eq!(refused.body["rule"], "C8");
    assert!(refused.body.get("charge").is_none());

    // A live call shows its reservation, from memory.
    let a = app
        .post(
            "/v1/tenants/acme/calls/live1/authorize",
            &bridge,
            json!({"conference_id": "m2", "organizer": PPM, "direction": "dial_out", "destination_number": FR_MOBILE}),
        )
        .await;
    assert_eq!(a.body["decision"], "allow", "{}", a.text);
    let live = app
        .get("/v1/tenants/acme/calls/live1/explain", &admin)
        .await;
    assert_eq!(live.status, 200, "{}", live.text);
    assert_eq!(live.body["status"], "live");
    assert_eq!(live.body["reservation"]["reserved"], "0.55");
    assert_eq!(live.body["reservation"]["granted_s"], 300);
    assert_eq!(live.body["reservation"]["balance"], "99.50");
    assert_eq!(live.body["reservation"]["available"], "98.95");
    assert!(
        has_step(&live.body, "available now"),
        "{:#?}",
        steps(&live.body)
    );
    // Once ended, it is explained from the store.
    app.clock.advance(90);
    let end = app
        .post(
            "/v1/tenants/acme/calls/live1/end",
            &bridge,
            json!({"duration_s": 90}),
        )
        .await;
    assert_eq!(end.status, 200, "{}", end.text);
    let ended = app
        .get("/v1/tenants/acme/calls/live1/explain", &admin)
        .await;
    assert_eq!(ended.body["status"], "charged", "{}", ended.text);
    assert_eq!(ended.body["charge"]["amount"], "0.22");

    let unknown = app.get("/v1/tenants/acme/calls/nope/explain", &admin).await;
    assert_eq!(unknown.status, 404, "{}", unknown.text);
    assert_eq!(unknown.body["error"]["code"], "not_found");
    let r = app.get("/v1/tenants/acme/calls/c4/explain", &bridge).await;
    assert_eq!(r.status, 403, "{}", r.text);
    app.stop().await;
}

#[tokio::test]
async fn c32_explain_of_a_split_call_shows_the_pool_and_credit_parts() {
    let mut app = TestApp::start().await;
    let (admin, bridge) = app.seed_tenant("acme", Some("100")).await;
    ingest(
        &app,
        &bridge,
        &[
            call("p1", SUB, "dial_out", FR_FIXED, 60, 299 * 60),
            call("p2", SUB, "dial_out", FR_FIXED, 20_000, 150),
        ],
    )
    .await;
    let r = app.get("/v1/tenants/acme/calls/p2/explain", &admin).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["rule"], "C32");
    assert_eq!(r.body["charge"]["funding"], "pool_and_credits");
    assert_eq!(r.body["charge"]["pool_minutes"], 1);
    assert_eq!(r.body["charge"]["amount"], "0.05");
    for text in [
        "the pool had 1 min left, fewer than ceil(150 / 60) = 3 min",
        "C6: 60 + ceil((150 − 60) / 60) × 60 = 180 s billable",
        "C32: credits pay 180 − 60 × 1 = 120 s: 0.0240 × 120 / 60 = 0.048 → 0.05",
        "lot 1: 0.05",
    ] {
        assert!(has_step(&r.body, text), "{text:?} in {:#?}", steps(&r.body));
    }
    let pool = app.get("/v1/tenants/acme/calls/p1/explain", &admin).await;
    assert!(
        has_step(&pool.body, "ceil(17940 / 60) = 299 min"),
        "{:#?}",
        steps(&pool.body)
    );
    let report = app
        .get("/v1/tenants/acme/reports/pool?month=2026-03", &admin)
        .await;
    assert_eq!(report.body["used_minutes"], 300, "{}", report.text);
    assert_eq!(report.body["remaining_minutes"], 0);
    assert_eq!(report.body["used_percent"], 100);
    assert_eq!(
        report.body["organizers"],
        json!([{"upn": SUB, "display_name": "Sub User", "calls": 2, "minutes": 300}])
    );
    app.stop().await;
}

/// The numbers of a text: every run of digits, in order of appearance, sorted (word order
/// differs between languages).
fn numbers_of(text: &str) -> Vec<String> {
    let mut numbers: Vec<String> = text
        .split(|c: char| !c.is_ascii_digit())
        .filter(|part| !part.is_empty())
        .map(str::to_string)
        .collect();
    numbers.sort();
    numbers
}

/// Words of the English steps that a translation must not keep.
const ENGLISH: &[&str] = &[
    "billable",
    "debited",
    "oldest",
    "balance",
    "whole seconds",
    "rounded",
    "per minute",
    "effective from",
    "nothing was",
    "the pool",
    "credits pay",
    "organizer",
    "available now",
    "the hold",
    "duration =",
    "refused",
    "went to debt",
];

/// Explain in `lang`: status 200, the response's language as asked, the steps as (rule, text).
async fn explain_in(app: &TestApp, admin: &str, call: &str, lang: &str) -> Vec<(String, String)> {
    let r = app
        .request(
            reqwest::Method::GET,
            &format!("/v1/tenants/acme/calls/{call}/explain"),
            Some(admin),
            None,
            &[("accept-language", lang)],
        )
        .await;
    assert_eq!(r.status, 200, "{lang} {call}: {}", r.text);
    r.body["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| {
            (
                s["rule"].as_str().unwrap().to_string(),
                s["text"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// C6, C7, C10, C24, C32, C36, C38 and a refusal (C8), explained in each of the five
/// languages: the same rules in the same order, the same numbers, no English left.
#[tokio::test]
async fn explain_speaks_the_five_languages_with_the_same_numbers() {
    let (app, admin, bridge) = fixture().await;
    ingest(
        &app,
        &bridge,
        &[
            call("p1", SUB, "dial_out", FR_FIXED, 60, 299 * 60),
            call("p2", SUB, "dial_out", FR_FIXED, 20_000, 150),
        ],
    )
    .await;
    let a = app
        .post(
            "/v1/tenants/acme/calls/live1/authorize",
            &bridge,
            json!({"conference_id": "m2", "organizer": PPM, "direction": "dial_out", "destination_number": FR_MOBILE}),
        )
        .await;
    assert_eq!(a.body["decision"], "allow", "{}", a.text);
    for call_id in ["c4", "c3", "c1", "c5", "c6", "r2", "p1", "p2", "live1"] {
        let english = explain_in(&app, &admin, call_id, "en").await;
        assert!(!english.is_empty(), "{call_id}");
        for lang in ["ja", "zh-CN", "fr", "de"] {
            let steps = explain_in(&app, &admin, call_id, lang).await;
            assert_eq!(steps.len(), english.len(), "{lang} {call_id}: {steps:#?}");
            for ((rule, text), (en_rule, en_text)) in steps.iter().zip(&english) {
                assert_eq!(rule, en_rule, "{lang} {call_id}");
                assert_ne!(text, en_text, "{lang} {call_id}: still English");
                for word in ENGLISH {
                    assert!(
                        !text.to_lowercase().contains(word),
                        "{lang} {call_id}: {word:?} in {text:?}"
                    );
                }
                // A refusal's message is the localized message of its code, not a formula.
                if rule != "C8" {
                    assert_eq!(
                        numbers_of(text),
                        numbers_of(en_text),
                        "{lang} {call_id}: {text:?} against {en_text:?}"
                    );
                }
            }
        }
    }
    app.stop().await;
}
