//! Calls on disk: each call id once per tenant with its record, fingerprint and first outcome
//! (C23), numbered in commit order (C22), read back for duplicates and for reports.

use crate::codec::{Cells, dec, fingerprint, lots_text, parse_category, parse_lots, rule_id, ts};
use crate::db::Db;
use crate::{Result, StoredCall};
use jiff::Timestamp;
use minutely_core::Reason;
use minutely_core::directory::Sku;
use minutely_core::engine::{AppliedRate, Charge, Funding, Outcome, Seen};
use minutely_core::rating::{CallRecord, Direction};
use rusqlite::params;
use rusqlite::types::Value;
use std::collections::HashMap;
use std::sync::LazyLock;

const RECORD_COLUMNS: &str =
    "call_id, conference_id, organizer, direction, service_number, caller_number,
    destination_number, start_at, end_at";

const OUTCOME_COLUMNS: &str = "reason, category, funding, capability, rule, duration_s, billable_s,
    rate_name, rate_country, rate_premium, rate_per_minute, rate_first_block_s, rate_increment_s,
    rate_effective_from, connection_fee, amount, pool_minutes, other_country, domestic, lots,
    balance_after, recharge_lot";

/// Column count of `OUTCOME_COLUMNS` (a refused call fills the charge part with NULLs).
const CHARGE_VALUES: usize = 21;

/// How many call ids one `IN (...)` lookup carries (well under SQLite's variable limit).
const LOOKUP_CHUNK: usize = 500;

/// The insert of one call: tenant, seq, fingerprint, the record, the outcome.
static INSERT: LazyLock<String> = LazyLock::new(|| {
    let marks = vec!["?"; 3 + 9 + 1 + CHARGE_VALUES].join(", ");
    format!(
        "INSERT INTO calls (tenant, seq, fingerprint, {RECORD_COLUMNS}, {OUTCOME_COLUMNS}) VALUES ({marks})"
    )
});

/// Inserts newly processed calls after the tenant's last one, keeping their processing order
/// (C22: the commit order is authoritative). A call id already stored fails the commit.
pub(crate) fn insert(conn: &Db, tenant: &str, calls: &[(CallRecord, u128, Outcome)]) -> Result<()> {
    if calls.is_empty() {
        return Ok(());
    }
    let last: u64 = conn
        .prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM calls WHERE tenant = ?1")?
        .query_row([tenant], |row| row.get(0))?;
    let mut stmt = conn.prepare_cached(&INSERT)?;
    for (seq, (record, print, outcome)) in (last + 1..).zip(calls) {
        let mut values = vec![
            Value::Text(tenant.to_string()),
            int(seq)?,
            Value::Blob(fingerprint(*print).to_vec()),
        ];
        values.extend(record_values(record));
        values.extend(outcome_values(outcome)?);
        stmt.execute(values)?;
    }
    Ok(())
}

fn int(value: u64) -> Result<Value> {
    let value =
        i64::try_from(value).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    Ok(Value::Integer(value))
}

fn text(value: &str) -> Value {
    Value::Text(value.to_string())
}

fn opt(value: Option<Value>) -> Value {
    value.unwrap_or(Value::Null)
}

fn record_values(r: &CallRecord) -> [Value; 9] {
    [
        text(&r.call_id),
        text(&r.conference_id),
        text(&r.organizer),
        text(r.direction.as_str()),
        text(&r.service_number),
        text(&r.caller_number),
        text(&r.destination_number),
        Value::Text(ts(r.start)),
        Value::Text(ts(r.end)),
    ]
}

/// The reason, then every field of the charge (all NULL for a refusal).
fn outcome_values(outcome: &Outcome) -> Result<Vec<Value>> {
    let c = match outcome {
        Outcome::Refused(reason) => {
            let mut values = vec![text(reason.code())];
            values.resize(1 + CHARGE_VALUES, Value::Null);
            return Ok(values);
        }
        Outcome::Charged(charge) => charge,
    };
    let rate = c.rate.as_ref();
    Ok(vec![
        Value::Null,
        text(c.category.as_str()),
        text(c.funding.as_str()),
        text(c.capability.code()),
        text(c.rule),
        int(c.duration_s)?,
        int(c.billable_s)?,
        opt(rate.map(|r| text(&r.name))),
        opt(rate.map(|r| text(&r.country))),
        opt(rate.map(|r| Value::Integer(r.premium.into()))),
        opt(rate.map(|r| Value::Text(dec(r.rate_per_minute)))),
        opt(rate.map(|r| Value::Integer(r.first_block_s.into()))),
        opt(rate.map(|r| Value::Integer(r.increment_s.into()))),
        opt(rate.map(|r| Value::Text(ts(r.effective_from)))),
        Value::Text(dec(c.connection_fee)),
        Value::Text(dec(c.amount)),
        Value::Integer(c.pool_minutes.into()),
        opt(c.other_country.as_deref().map(text)),
        opt(c.domestic.map(|d| Value::Integer(d.into()))),
        Value::Text(lots_text(&c.lots)),
        opt(c.balance_after.map(|b| Value::Text(dec(b)))),
        opt(c.recharge_lot.map(int).transpose()?),
    ])
}

/// Rewrites the outcome columns of a stored call (a rerate's new charge); the number of rows
/// changed (0 for an unknown call).
pub(crate) fn update_outcome(
    conn: &Db,
    tenant: &str,
    call_id: &str,
    outcome: &Outcome,
) -> Result<usize> {
    static UPDATE: LazyLock<String> = LazyLock::new(|| {
        let sets: Vec<String> = OUTCOME_COLUMNS
            .split(',')
            .map(str::trim)
            .enumerate()
            .map(|(i, column)| format!("{column} = ?{}", i + 3))
            .collect();
        format!(
            "UPDATE calls SET {} WHERE tenant = ?1 AND call_id = ?2",
            sets.join(", ")
        )
    });
    let mut values = vec![text(tenant), text(call_id)];
    values.extend(outcome_values(outcome)?);
    conn.prepare_cached(&UPDATE)?.execute(values)
}

/// The stored first submissions of these call ids (C23); ids never seen are absent.
pub(crate) fn seen(conn: &Db, tenant: &str, call_ids: &[&str]) -> Result<HashMap<String, Seen>> {
    let mut found = HashMap::new();
    for chunk in call_ids.chunks(LOOKUP_CHUNK) {
        let marks = vec!["?"; chunk.len()].join(", ");
        // Cached: the call-control routes ask this for one id per command.
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT call_id, fingerprint, {OUTCOME_COLUMNS} FROM calls WHERE tenant = ? AND call_id IN ({marks})"
        ))?;
        let values: Vec<Value> = std::iter::once(tenant)
            .chain(chunk.iter().copied())
            .map(text)
            .collect();
        let mut rows = stmt.query(values)?;
        while let Some(row) = rows.next()? {
            let c = Cells {
                row: &row,
                table: "calls",
            };
            let seen = Seen {
                fingerprint: c.fingerprint("fingerprint")?,
                outcome: read_outcome(&c)?,
            };
            found.insert(c.text("call_id")?, seen);
        }
    }
    Ok(found)
}

/// Calls that started in `[from, to)`, in the canonical order (C22: start, then call id). The
/// text comparison is time order because instants are stored at fixed width (see `codec`).
pub(crate) fn in_range(
    conn: &Db,
    tenant: &str,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<StoredCall>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT seq, fingerprint, {RECORD_COLUMNS}, {OUTCOME_COLUMNS} FROM calls
         WHERE tenant = ?1 AND start_at >= ?2 AND start_at < ?3 ORDER BY start_at, call_id"
    ))?;
    let rows = stmt.query([tenant, &ts(from), &ts(to)])?;
    read_calls(rows)
}

/// The stored call with this id.
pub(crate) fn one(conn: &Db, tenant: &str, call_id: &str) -> Result<Option<StoredCall>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT seq, fingerprint, {RECORD_COLUMNS}, {OUTCOME_COLUMNS} FROM calls
         WHERE tenant = ?1 AND call_id = ?2"
    ))?;
    let rows = stmt.query([tenant, call_id])?;
    Ok(read_calls(rows)?.pop())
}

/// Up to `limit` calls that started in `[from, to)` and come after the cursor `(start,
/// call_id)` in canonical order (C22), refused ones only when `refused_only`.
pub(crate) fn page(
    conn: &Db,
    tenant: &str,
    range: (Timestamp, Timestamp),
    after: Option<(Timestamp, &str)>,
    limit: usize,
    refused_only: bool,
) -> Result<Vec<StoredCall>> {
    // Without a cursor (or with one before `from`) the page starts at `from` itself: no call id
    // sorts before `''`, so `>=` takes every call of that instant.
    let (cursor, after_id, cmp) = match after {
        Some((start, id)) if start >= range.0 => (start, id, ">"),
        _ => (range.0, "", ">="),
    };
    let refused = if refused_only {
        "AND reason IS NOT NULL"
    } else {
        ""
    };
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT seq, fingerprint, {RECORD_COLUMNS}, {OUTCOME_COLUMNS} FROM calls
         WHERE tenant = ?1 AND (start_at, call_id) {cmp} (?2, ?3) AND start_at < ?4 {refused}
         ORDER BY start_at, call_id LIMIT ?5"
    ))?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = stmt.query(params![tenant, ts(cursor), after_id, ts(range.1), limit])?;
    read_calls(rows)
}

fn read_calls(mut rows: crate::db::Rows<'_>) -> Result<Vec<StoredCall>> {
    let mut calls = Vec::new();
    while let Some(row) = rows.next()? {
        let c = Cells {
            row: &row,
            table: "calls",
        };
        calls.push(StoredCall {
            seq: c.u64("seq")?,
            record: read_record(&c)?,
            fingerprint: c.fingerprint("fingerprint")?,
            outcome: read_outcome(&c)?,
        });
    }
    Ok(calls)
}

fn read_record(c: &Cells<'_, '_>) -> Result<CallRecord> {
    Ok(CallRecord {
        call_id: c.text("call_id")?,
        conference_id: c.text("conference_id")?,
        organizer: c.text("organizer")?,
        direction: c.parse("direction", Direction::parse)?,
        service_number: c.text("service_number")?,
        caller_number: c.text("caller_number")?,
        destination_number: c.text("destination_number")?,
        start: c.ts("start_at")?,
        end: c.ts("end_at")?,
    })
}

fn read_outcome(c: &Cells<'_, '_>) -> Result<Outcome> {
    if let Some(reason) = c.opt_parse("reason", Reason::from_code)? {
        return Ok(Outcome::Refused(reason));
    }
    Ok(Outcome::Charged(Box::new(Charge {
        category: c.parse("category", parse_category)?,
        funding: c.parse("funding", Funding::parse)?,
        capability: c.parse("capability", Sku::parse)?,
        rule: c.parse("rule", rule_id)?,
        duration_s: c.u64("duration_s")?,
        billable_s: c.u64("billable_s")?,
        rate: read_rate(c)?,
        connection_fee: c.dec("connection_fee")?,
        amount: c.dec("amount")?,
        pool_minutes: c.u32("pool_minutes")?,
        other_country: c.opt_text("other_country")?,
        domestic: c.opt_flag("domestic")?,
        lots: c.parse("lots", parse_lots)?,
        balance_after: c.opt_dec("balance_after")?,
        recharge_lot: c.opt_u64("recharge_lot")?,
    })))
}

/// A charge without a rate has NULL in every rate column; `rate_name` says which.
fn read_rate(c: &Cells<'_, '_>) -> Result<Option<AppliedRate>> {
    let Some(name) = c.opt_text("rate_name")? else {
        return Ok(None);
    };
    Ok(Some(AppliedRate {
        name,
        country: c.text("rate_country")?,
        premium: c.flag("rate_premium")?,
        rate_per_minute: c.dec("rate_per_minute")?,
        first_block_s: c.u32("rate_first_block_s")?,
        increment_s: c.u32("rate_increment_s")?,
        effective_from: c.ts("rate_effective_from")?,
    }))
}
