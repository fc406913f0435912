//! Helpers shared by the call-control, clock and shutdown tests, on top of `tests/common`: a
//! seeded random generator, an independent oracle for the sample card's prices, HTTP calls that
//! may fail (a server that is going away), and the C24 check through the wallet routes.
#![allow(dead_code)]

use crate::common::{RATES, TestApp};
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{Value, json};
use std::str::FromStr;

pub use minutely_testkit::Rng;

/// A money string of an answer (`"12.80"`), as an exact decimal.
pub fn dec(value: &Value) -> Decimal {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("money is a decimal string, got {value}"));
    Decimal::from_str(text).unwrap_or_else(|e| panic!("{text:?} is not a decimal: {e}"))
}

/// A decimal from a literal.
pub fn d(text: &str) -> Decimal {
    Decimal::from_str(text).expect("a decimal literal")
}

/// One `dial_out` row of the sample card, read from `common::RATES` (not from the server), so
/// that expected prices are computed independently of the code under test.
#[derive(Debug, Clone, Copy)]
pub struct Rate {
    pub rate_per_minute: Decimal,
    pub connection_fee: Decimal,
    pub first_block_s: u64,
    pub increment_s: u64,
}

impl Rate {
    /// The row of `kind` (`dial_out`, `dial_in_toll`, ...) whose key is exactly `key`.
    pub fn of(kind: &str, key: &str) -> Rate {
        let mut lines = RATES.lines();
        let header: Vec<&str> = lines.next().expect("a header").split(',').collect();
        let column = |name: &str| {
            header
                .iter()
                .position(|h| *h == name)
                .unwrap_or_else(|| panic!("RATES has no column {name}"))
        };
        let (k, key_at, rate, fee, first, inc) = (
            column("kind"),
            column("key"),
            column("rate_per_minute"),
            column("connection_fee"),
            column("first_block_s"),
            column("increment_s"),
        );
        for line in lines {
            let cells: Vec<&str> = line.split(',').collect();
            if cells.len() == header.len() && cells[k] == kind && cells[key_at] == key {
                return Rate {
                    rate_per_minute: d(cells[rate]),
                    connection_fee: d(cells[fee]),
                    first_block_s: cells[first].parse().expect("first_block_s"),
                    increment_s: cells[inc].parse().expect("increment_s"),
                };
            }
        }
        panic!("RATES has no {kind} row {key}");
    }

    /// C6, C7: what a call of `duration_s` costs in EUR (2 decimals, half away from zero).
    pub fn cost(&self, duration_s: u64) -> Decimal {
        if duration_s == 0 {
            return Decimal::ZERO;
        }
        let billable = if duration_s <= self.first_block_s {
            self.first_block_s
        } else {
            self.first_block_s
                + (duration_s - self.first_block_s).div_ceil(self.increment_s) * self.increment_s
        };
        (self.connection_fee + self.rate_per_minute * Decimal::from(billable) / Decimal::from(60))
            .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
    }
}

/// The body of an authorization of a dial-out.
pub fn dial_out(organizer: &str, destination: &str) -> Value {
    json!({
        "conference_id": "conf-1",
        "organizer": organizer,
        "direction": "dial_out",
        "destination_number": destination,
    })
}

/// An HTTP answer, or the transport error of a server that is not there.
pub async fn send(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    key: &str,
    body: Option<&Value>,
) -> Result<(u16, Value), reqwest::Error> {
    let mut request = client.request(method, url).bearer_auth(key);
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    let text = response.text().await?;
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

pub async fn post(
    client: &reqwest::Client,
    url: &str,
    key: &str,
    body: &Value,
) -> Result<(u16, Value), reqwest::Error> {
    send(client, reqwest::Method::POST, url, key, Some(body)).await
}

/// Funds a tenant's wallet as the operator (C10, C11).
pub async fn fund(app: &TestApp, tenant: &str, amount: u64, reference: &str) -> Value {
    let r = app
        .post(
            &format!("/v1/tenants/{tenant}/wallet/fundings"),
            &app.operator_key,
            json!({"amount": amount.to_string(), "reference": reference}),
        )
        .await;
    assert_eq!(r.status, 200, "funding {reference}: {}", r.text);
    r.body
}

/// GET the wallet.
pub async fn wallet(app: &TestApp, tenant: &str, key: &str) -> Value {
    let r = app.get(&format!("/v1/tenants/{tenant}/wallet"), key).await;
    assert_eq!(r.status, 200, "wallet of {tenant}: {}", r.text);
    r.body
}

/// Every ledger entry of a tenant, following the `next` cursor (at most 1000 pages).
pub async fn ledger(app: &TestApp, tenant: &str, key: &str) -> Vec<Value> {
    let mut entries = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..1000 {
        let path = match &after {
            Some(cursor) => format!("/v1/tenants/{tenant}/wallet/ledger?limit=1000&after={cursor}"),
            None => format!("/v1/tenants/{tenant}/wallet/ledger?limit=1000"),
        };
        let r = app.get(&path, key).await;
        assert_eq!(r.status, 200, "ledger of {tenant}: {}", r.text);
        let page = ledger_items(&r.body);
        entries.extend(page.iter().cloned());
        match r.body["next"].as_str() {
            Some(next) if !page.is_empty() => after = Some(next.to_string()),
            _ => return entries,
        }
    }
    panic!("the ledger of {tenant} has more than 1000 pages");
}

fn ledger_items(body: &Value) -> Vec<Value> {
    for name in ["entries", "items"] {
        if let Some(items) = body[name].as_array() {
            return items.clone();
        }
    }
    panic!("a ledger page lists its entries: {body}");
}

/// An entry's signed effect on the balance: fundings and recharges add, debits and forfeits
/// subtract.
pub fn signed(entry: &Value) -> Decimal {
    let amount = dec(&entry["amount"]);
    match entry["kind"].as_str() {
        Some("funding" | "recharge" | "refund") => amount.abs(),
        Some("debit" | "forfeit") => -amount.abs(),
        other => panic!("unknown ledger entry kind {other:?}: {entry}"),
    }
}

/// C24 through the API: the wallet's totals add up to its balance, available = balance minus
/// what is reserved, and the ledger's entries (numbered from 1 without gaps) add up to it, their
/// running balance ending at it. Returns the wallet.
pub async fn check_c24(app: &TestApp, tenant: &str, key: &str) -> Value {
    let w = wallet(app, tenant, key).await;
    let balance = dec(&w["balance"]);
    let totals = w.get("totals").unwrap_or(&w);
    let (funded, debited, forfeited) = (
        dec(&totals["funded"]),
        dec(&totals["debited"]),
        dec(&totals["forfeited"]),
    );
    assert_eq!(
        funded - debited - forfeited,
        balance,
        "C24: funded - debited - forfeited = balance: {w}"
    );
    if let Some(reserved) = w.get("reserved") {
        assert_eq!(dec(&w["available"]), balance - dec(reserved), "C14: {w}");
    }
    let entries = ledger(app, tenant, key).await;
    let mut running = Decimal::ZERO;
    for (i, entry) in entries.iter().enumerate() {
        assert_eq!(
            entry["seq"],
            i as u64 + 1,
            "journal entries are numbered without gaps"
        );
        running += signed(entry);
        if let Some(delta) = entry.get("delta") {
            assert_eq!(dec(delta), signed(entry), "the delta of {entry}");
        }
        assert_eq!(
            dec(&entry["balance_after"]),
            running,
            "C24: the running balance after {entry}"
        );
    }
    assert_eq!(running, balance, "C24: the ledger adds up to the balance");
    w
}

/// Brings the balance of `tenant` down to exactly `target` with one ingested call record to
/// North America (whose per-minute price is one cent in the sample card), dated at the server's
/// clock. The gap must be a whole number of that price.
pub async fn spend_down_to(
    app: &TestApp,
    tenant: &str,
    bridge: &str,
    admin: &str,
    organizer: &str,
    target: Decimal,
    call_id: &str,
) {
    let balance = dec(&wallet(app, tenant, admin).await["balance"]);
    let gap = balance - target;
    assert!(
        gap >= Decimal::ZERO,
        "cannot spend {balance} down to {target}"
    );
    if gap.is_zero() {
        return;
    }
    let us = Rate::of("dial_out", "+1");
    assert_eq!(us.first_block_s, 60);
    assert_eq!(us.increment_s, 60);
    assert!(us.connection_fee.is_zero());
    let minutes = gap / us.rate_per_minute;
    assert!(
        minutes.fract().is_zero(),
        "{gap} is not a whole number of minutes to +1"
    );
    let minutes: i64 = minutes.trunc().to_string().parse().expect("minutes");
    let start = app.clock.now();
    let end = start + jiff::SignedDuration::from_secs(minutes * 60);
    let r = app
        .post(
            &format!("/v1/tenants/{tenant}/calls"),
            bridge,
            json!({"calls": [{
                "call_id": call_id,
                "conference_id": "spend-down",
                "organizer": organizer,
                "direction": "dial_out",
                "destination_number": "+1 212 555 0100",
                "start": start.to_string(),
                "end": end.to_string(),
            }]}),
        )
        .await;
    assert_eq!(r.status, 200, "spend-down ingestion: {}", r.text);
    let result = &r.body["results"][0];
    assert_eq!(result["status"], "charged", "{}", r.text);
    assert_eq!(dec(&result["charge"]["amount"]), gap, "{}", r.text);
    let after = dec(&wallet(app, tenant, admin).await["balance"]);
    assert_eq!(after, target, "the balance after spending down");
}

/// A call record (JSON) of `secs` seconds from `start`: the number is the service number of a
/// dial-in (called from a French mobile) or the destination of a dial-out.
pub fn record(
    id: &str,
    organizer: &str,
    direction: &str,
    number: &str,
    start: &str,
    secs: i64,
) -> Value {
    let (service, destination) = if direction == "dial_in" {
        (number, "")
    } else {
        ("", number)
    };
    let end = (crate::common::ts(start) + jiff::SignedDuration::from_secs(secs)).to_string();
    json!({
        "call_id": id,
        "conference_id": "m1",
        "organizer": organizer,
        "direction": direction,
        "service_number": service,
        "caller_number": if direction == "dial_in" { "+33 6 98 76 54 32" } else { "" },
        "destination_number": destination,
        "start": start,
        "end": end,
    })
}
