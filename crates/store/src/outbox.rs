//! The smaller per-tenant tables: the notification outbox (C15), applied funding references and
//! the dial-out pool counters (C20, C21).

use crate::Result;
use crate::codec::{Cells, event_payload, month_text, parse_month, ts};
use crate::db::Db;
use jiff::Timestamp;
use minutely_core::engine::Month;
use minutely_core::ledger::Event;
use rusqlite::params;
use std::collections::BTreeMap;

/// Appends events after the tenant's last one, in the order given.
pub(crate) fn append_events(conn: &Db, tenant: &str, events: &[Event]) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let last: u64 = conn
        .prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM events WHERE tenant = ?1")?
        .query_row([tenant], |row| row.get(0))?;
    let mut stmt = conn.prepare_cached(
        "INSERT INTO events (tenant, seq, kind, at, payload) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for (seq, event) in (last + 1..).zip(events) {
        stmt.execute(params![
            tenant,
            seq,
            event.kind(),
            ts(event.at()),
            event_payload(event)
        ])?;
    }
    Ok(())
}

pub(crate) fn read_events(conn: &Db, tenant: &str) -> Result<Vec<(u64, String, Timestamp)>> {
    let mut stmt =
        conn.prepare("SELECT seq, kind, at FROM events WHERE tenant = ?1 ORDER BY seq")?;
    let mut rows = stmt.query([tenant])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let c = Cells {
            row: &row,
            table: "events",
        };
        out.push((c.u64("seq")?, c.text("kind")?, c.ts("at")?));
    }
    Ok(out)
}

/// A reference already stored is refused by the primary key: applying a declared funding twice
/// would credit it twice, so the whole commit fails instead.
pub(crate) fn insert_funding_refs(conn: &Db, tenant: &str, references: &[String]) -> Result<()> {
    if references.is_empty() {
        return Ok(());
    }
    let mut stmt =
        conn.prepare_cached("INSERT INTO funding_refs (tenant, reference) VALUES (?1, ?2)")?;
    for reference in references {
        stmt.execute([tenant, reference])?;
    }
    Ok(())
}

pub(crate) fn read_funding_refs(conn: &Db, tenant: &str) -> Result<Vec<String>> {
    let mut stmt =
        conn.prepare("SELECT reference FROM funding_refs WHERE tenant = ?1 ORDER BY reference")?;
    let refs = stmt
        .query_map([tenant], |row| row.get(0))?
        .collect::<Result<Vec<String>>>()?;
    Ok(refs)
}

/// Upserts the book's counters. Months the book does not hold are left as stored.
pub(crate) fn write_pool(conn: &Db, tenant: &str, pool: &BTreeMap<Month, u32>) -> Result<()> {
    if pool.is_empty() {
        return Ok(());
    }
    let mut stmt = conn.prepare_cached(
        "INSERT INTO pool_usage (tenant, month, minutes) VALUES (?1, ?2, ?3)
         ON CONFLICT (tenant, month) DO UPDATE SET minutes = excluded.minutes",
    )?;
    for (month, minutes) in pool {
        stmt.execute(params![tenant, month_text(*month), minutes])?;
    }
    Ok(())
}

pub(crate) fn read_pool(conn: &Db, tenant: &str) -> Result<BTreeMap<Month, u32>> {
    let mut stmt = conn.prepare("SELECT month, minutes FROM pool_usage WHERE tenant = ?1")?;
    let mut rows = stmt.query([tenant])?;
    let mut pool = BTreeMap::new();
    while let Some(row) = rows.next()? {
        let c = Cells {
            row: &row,
            table: "pool_usage",
        };
        pool.insert(c.parse("month", parse_month)?, c.u32("minutes")?);
    }
    Ok(pool)
}
