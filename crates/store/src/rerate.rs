//! Rerate runs on disk: each run with its counts and totals, the calls it changed or kept, the
//! charges it rewrote, and what the journal knows of lots that are no longer live.

use crate::codec::{Cells, dec, parse_account, ts};
use crate::db::Db;
use crate::{Result, StoreError};
use jiff::Timestamp;
use minutely_core::engine::Outcome;
use minutely_core::ledger::{Account, LotId};
use rusqlite::params;
use rust_decimal::Decimal;

/// One rerate run, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RerateRun {
    pub id: String,
    pub at: Timestamp,
    /// Who ran it (`cli`, or the kind and id of the key).
    pub actor: String,
    pub from: Timestamp,
    pub to: Timestamp,
    /// The `effective_from` of every card version the new charges used.
    pub card_versions: Vec<Timestamp>,
    pub calls: u64,
    pub changed: u64,
    pub skipped: u64,
    pub refunded: Decimal,
    pub charged: Decimal,
    /// The calls changed or skipped (unchanged ones are not kept).
    pub items: Vec<RerateRow>,
}

/// One call of a run: its old and new charge, or why it was kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RerateRow {
    pub call_id: String,
    pub start: Timestamp,
    pub old_amount: Decimal,
    pub new_amount: Decimal,
    pub old_funding: String,
    pub new_funding: String,
    pub old_rule: String,
    pub new_rule: String,
    pub old_rate: Option<Decimal>,
    pub new_rate: Option<Decimal>,
    pub old_pool_minutes: u32,
    pub new_pool_minutes: u32,
    /// The reason code rating gives today for a call kept as it was.
    pub skipped: Option<String>,
}

/// A lot as its funding entry records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FundedLot {
    pub id: LotId,
    pub funded_at: Timestamp,
    pub amount: Decimal,
    /// `funding` or `recharge`.
    pub kind: String,
    /// The funding's reference, or the call a recharge followed.
    pub reference: String,
}

fn int(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn versions_text(versions: &[Timestamp]) -> String {
    versions
        .iter()
        .map(|t| ts(*t))
        .collect::<Vec<_>>()
        .join(";")
}

pub(crate) fn insert_runs(conn: &Db, tenant: &str, runs: &[RerateRun]) -> Result<()> {
    for run in runs {
        conn.prepare_cached(
            "INSERT INTO rerate_runs (tenant, id, at, actor, from_at, to_at, card_versions, calls,
             changed, skipped, refunded, charged) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,
             ?11, ?12)",
        )?
        .execute(params![
            tenant,
            run.id,
            ts(run.at),
            run.actor,
            ts(run.from),
            ts(run.to),
            versions_text(&run.card_versions),
            int(run.calls),
            int(run.changed),
            int(run.skipped),
            dec(run.refunded),
            dec(run.charged),
        ])?;
        let mut stmt = conn.prepare_cached(
            "INSERT INTO rerate_items (tenant, run, call_id, start_at, old_amount, new_amount,
             old_funding, new_funding, old_rule, new_rule, old_rate, new_rate, old_pool_minutes,
             new_pool_minutes, skipped) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11,
             ?12, ?13, ?14, ?15)",
        )?;
        for r in &run.items {
            stmt.execute(params![
                tenant,
                run.id,
                r.call_id,
                ts(r.start),
                dec(r.old_amount),
                dec(r.new_amount),
                r.old_funding,
                r.new_funding,
                r.old_rule,
                r.new_rule,
                r.old_rate.map(dec),
                r.new_rate.map(dec),
                r.old_pool_minutes,
                r.new_pool_minutes,
                r.skipped,
            ])?;
        }
    }
    Ok(())
}

/// Rewrites the charge of calls a run changed (their record and fingerprint stay).
pub(crate) fn update_charges(conn: &Db, tenant: &str, rerated: &[(String, Outcome)]) -> Result<()> {
    for (call_id, outcome) in rerated {
        let updated = crate::calls::update_outcome(conn, tenant, call_id, outcome)?;
        if updated != 1 {
            return Err(StoreError::Invariant {
                tenant: tenant.to_string(),
                detail: format!("a rerate rewrites call {call_id}, which is not stored"),
            });
        }
    }
    Ok(())
}

/// The tenant's runs, newest first, at most `limit`, without their items.
pub(crate) fn runs(conn: &Db, tenant: &str, limit: usize) -> Result<Vec<RerateRun>> {
    let mut stmt = conn.prepare(
        "SELECT id, at, actor, from_at, to_at, card_versions, calls, changed, skipped, refunded,
         charged FROM rerate_runs WHERE tenant = ?1 ORDER BY at DESC, id DESC LIMIT ?2",
    )?;
    let mut rows = stmt.query(params![tenant, int(limit as u64)])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let c = Cells {
            row: &row,
            table: "rerate_runs",
        };
        let versions = c.text("card_versions")?;
        let card_versions = versions
            .split(';')
            .filter(|v| !v.is_empty())
            .map(|v| v.parse::<Timestamp>())
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| StoreError::Corrupt(format!("rerate_runs.card_versions: {e}")))?;
        out.push(RerateRun {
            id: c.text("id")?,
            at: c.ts("at")?,
            actor: c.text("actor")?,
            from: c.ts("from_at")?,
            to: c.ts("to_at")?,
            card_versions,
            calls: c.u64("calls")?,
            changed: c.u64("changed")?,
            skipped: c.u64("skipped")?,
            refunded: c.dec("refunded")?,
            charged: c.dec("charged")?,
            items: Vec::new(),
        });
    }
    Ok(out)
}

/// One run with its items (in canonical order), or `None`.
pub(crate) fn run(conn: &Db, tenant: &str, id: &str) -> Result<Option<RerateRun>> {
    let Some(mut run) = runs(conn, tenant, usize::MAX)?
        .into_iter()
        .find(|r| r.id == id)
    else {
        return Ok(None);
    };
    let mut stmt = conn.prepare(
        "SELECT call_id, start_at, old_amount, new_amount, old_funding, new_funding, old_rule,
         new_rule, old_rate, new_rate, old_pool_minutes, new_pool_minutes, skipped
         FROM rerate_items WHERE tenant = ?1 AND run = ?2 ORDER BY start_at, call_id",
    )?;
    let mut rows = stmt.query(params![tenant, id])?;
    while let Some(row) = rows.next()? {
        let c = Cells {
            row: &row,
            table: "rerate_items",
        };
        run.items.push(RerateRow {
            call_id: c.text("call_id")?,
            start: c.ts("start_at")?,
            old_amount: c.dec("old_amount")?,
            new_amount: c.dec("new_amount")?,
            old_funding: c.text("old_funding")?,
            new_funding: c.text("new_funding")?,
            old_rule: c.text("old_rule")?,
            new_rule: c.text("new_rule")?,
            old_rate: c.opt_dec("old_rate")?,
            new_rate: c.opt_dec("new_rate")?,
            old_pool_minutes: c.u32("old_pool_minutes")?,
            new_pool_minutes: c.u32("new_pool_minutes")?,
            skipped: c.opt_text("skipped")?,
        });
    }
    Ok(Some(run))
}

/// How many runs the tenant has (the next run's number is one more).
pub(crate) fn count(conn: &Db, tenant: &str) -> Result<u64> {
    let n: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM rerate_runs WHERE tenant = ?1")?
        .query_row([tenant], |row| row.get(0))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// The lots `ids` as their funding or recharge entries record them (ids without one are
/// absent).
pub(crate) fn funded_lots(conn: &Db, tenant: &str, ids: &[LotId]) -> Result<Vec<FundedLot>> {
    let mut stmt = conn.prepare_cached(
        "SELECT e.at, e.kind, e.amount, COALESCE(e.reference, e.call_id, '') AS reference
         FROM postings p JOIN journal_entries e ON e.tenant = p.tenant AND e.seq = p.seq
         WHERE p.tenant = ?1 AND p.account = ?2 AND e.kind IN ('funding', 'recharge')
         ORDER BY e.seq LIMIT 1",
    )?;
    let mut out = Vec::new();
    for id in ids {
        let account = crate::codec::account_text(Account::Lot(*id));
        debug_assert_eq!(parse_account(&account), Some(Account::Lot(*id)));
        let mut rows = stmt.query(params![tenant, account])?;
        if let Some(row) = rows.next()? {
            let c = Cells {
                row: &row,
                table: "journal_entries",
            };
            out.push(FundedLot {
                id: *id,
                funded_at: c.ts("at")?,
                amount: c.dec("amount")?,
                kind: c.text("kind")?,
                reference: c.text("reference")?,
            });
        }
    }
    Ok(out)
}
