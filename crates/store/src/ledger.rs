//! The wallet on disk: its snapshot (state row and live lots), the append-only journal with its
//! postings, and the C24 check of one against the other when a tenant is read back.

use crate::codec::{Cells, account_text, corrupt, dec, opt_ts, parse_account, ts};
use crate::db::Db;
use crate::{Result, StoreError};
use minutely_core::engine::ScheduledFunding;
use minutely_core::ledger::{
    Account, Entry, EntryKind, Lot, LotSource, Posting, Wallet, WalletSnapshot, try_recompute,
};
use minutely_core::money;
use rusqlite::params;
use rust_decimal::Decimal;
use std::collections::BTreeMap;

/// Makes the tenant's wallet state and live lots those of the snapshot, writing only what
/// differs from the stored rows: a state row or a lot that holds the same values is left as it
/// is, a lot whose values changed is updated in place, a new lot is inserted and a lot no longer
/// live is deleted. The rows afterwards are exactly those a delete-and-insert of the whole
/// snapshot leaves (the same columns, the same values), at the cost of the rows that changed.
pub(crate) fn write_wallet(conn: &Db, tenant: &str, s: &WalletSnapshot) -> Result<()> {
    // The update runs only when a value differs (`IS DISTINCT FROM` also compares NULLs).
    let mut state = conn.prepare_cached(
        "INSERT INTO wallet_state (tenant, debt, next_lot, next_seq, clock, retry_after, funded, debited, forfeited)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT (tenant) DO UPDATE SET debt = excluded.debt, next_lot = excluded.next_lot,
             next_seq = excluded.next_seq, clock = excluded.clock, retry_after = excluded.retry_after,
             funded = excluded.funded, debited = excluded.debited, forfeited = excluded.forfeited
         WHERE wallet_state.debt IS DISTINCT FROM excluded.debt OR wallet_state.next_lot IS DISTINCT FROM excluded.next_lot
             OR wallet_state.next_seq IS DISTINCT FROM excluded.next_seq OR wallet_state.clock IS DISTINCT FROM excluded.clock
             OR wallet_state.retry_after IS DISTINCT FROM excluded.retry_after OR wallet_state.funded IS DISTINCT FROM excluded.funded
             OR wallet_state.debited IS DISTINCT FROM excluded.debited OR wallet_state.forfeited IS DISTINCT FROM excluded.forfeited",
    )?;
    state.execute(params![
        tenant,
        dec(s.debt),
        s.next_lot,
        s.next_seq,
        ts(s.clock),
        opt_ts(s.retry_after),
        dec(s.funded),
        dec(s.debited),
        dec(s.forfeited),
    ])?;
    drop_gone_lots(conn, tenant, &s.lots)?;
    let mut stmt = conn.prepare_cached(
        "INSERT INTO lots (tenant, id, funded_at, expires_at, amount, remaining, source_kind, source_ref, warned)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT (tenant, id) DO UPDATE SET funded_at = excluded.funded_at,
             expires_at = excluded.expires_at, amount = excluded.amount,
             remaining = excluded.remaining, source_kind = excluded.source_kind,
             source_ref = excluded.source_ref, warned = excluded.warned
         WHERE lots.funded_at IS DISTINCT FROM excluded.funded_at OR lots.expires_at IS DISTINCT FROM excluded.expires_at
             OR lots.amount IS DISTINCT FROM excluded.amount OR lots.remaining IS DISTINCT FROM excluded.remaining
             OR lots.source_kind IS DISTINCT FROM excluded.source_kind OR lots.source_ref IS DISTINCT FROM excluded.source_ref
             OR lots.warned IS DISTINCT FROM excluded.warned",
    )?;
    for lot in &s.lots {
        let (kind, reference) = match &lot.source {
            LotSource::Manual { reference } => ("manual", reference),
            LotSource::AutoRecharge { call_id } => ("auto_recharge", call_id),
        };
        stmt.execute(params![
            tenant,
            lot.id,
            ts(lot.funded_at),
            ts(lot.expires_at),
            dec(lot.amount),
            dec(lot.remaining),
            kind,
            reference,
            lot.warned,
        ])?;
    }
    Ok(())
}

/// Deletes the stored lots of the tenant that are not among `live` (emptied or expired). The
/// stored ids come from the primary key's index alone.
fn drop_gone_lots(conn: &Db, tenant: &str, live: &[Lot]) -> Result<()> {
    let mut gone: Vec<i64> = Vec::new();
    {
        let mut ids = conn.prepare_cached("SELECT id FROM lots WHERE tenant = ?1")?;
        let mut rows = ids.query([tenant])?;
        while let Some(row) = rows.next()? {
            let id: i64 = row.get(0)?;
            if !live.iter().any(|lot| i64::try_from(lot.id) == Ok(id)) {
                gone.push(id);
            }
        }
    }
    if gone.is_empty() {
        return Ok(());
    }
    let mut delete = conn.prepare_cached("DELETE FROM lots WHERE tenant = ?1 AND id = ?2")?;
    for id in gone {
        delete.execute(params![tenant, id])?;
    }
    Ok(())
}

/// The stored snapshot; `None` when the tenant has no wallet row.
pub(crate) fn read_wallet(conn: &Db, tenant: &str) -> Result<Option<WalletSnapshot>> {
    let mut stmt = conn.prepare(
        "SELECT debt, next_lot, next_seq, clock, retry_after, funded, debited, forfeited
         FROM wallet_state WHERE tenant = ?1",
    )?;
    let mut rows = stmt.query([tenant])?;
    let Some(row) = rows.next()? else {
        return Ok(None);
    };
    let c = Cells {
        row: &row,
        table: "wallet_state",
    };
    Ok(Some(WalletSnapshot {
        lots: read_lots(conn, tenant)?,
        debt: c.dec("debt")?,
        next_lot: c.u64("next_lot")?,
        next_seq: c.u64("next_seq")?,
        clock: c.ts("clock")?,
        retry_after: c.opt_ts("retry_after")?,
        funded: c.dec("funded")?,
        debited: c.dec("debited")?,
        forfeited: c.dec("forfeited")?,
    }))
}

/// Live lots in FIFO order: ids are given in funding order, so id order is the wallet's order.
fn read_lots(conn: &Db, tenant: &str) -> Result<Vec<Lot>> {
    let mut stmt = conn.prepare(
        "SELECT id, funded_at, expires_at, amount, remaining, source_kind, source_ref, warned
         FROM lots WHERE tenant = ?1 ORDER BY id",
    )?;
    let mut rows = stmt.query([tenant])?;
    let mut lots = Vec::new();
    while let Some(row) = rows.next()? {
        let c = Cells {
            row: &row,
            table: "lots",
        };
        let reference = c.text("source_ref")?;
        let source = match c.text("source_kind")?.as_str() {
            "manual" => LotSource::Manual { reference },
            "auto_recharge" => LotSource::AutoRecharge { call_id: reference },
            other => return Err(corrupt("lots", "source_kind", other)),
        };
        lots.push(Lot {
            id: c.u64("id")?,
            funded_at: c.ts("funded_at")?,
            expires_at: c.ts("expires_at")?,
            amount: c.dec("amount")?,
            remaining: c.dec("remaining")?,
            source,
            warned: c.flag("warned")?,
        });
    }
    Ok(lots)
}

/// Appends entries with their postings. They must continue the stored journal without a gap
/// (C24: every movement is an entry, so a missing one would leave a balance unexplained).
pub(crate) fn append_entries(conn: &Db, tenant: &str, entries: &[Entry]) -> Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let last: u64 = conn
        .prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM journal_entries WHERE tenant = ?1")?
        .query_row([tenant], |row| row.get(0))?;
    let mut entry_stmt = conn.prepare_cached(
        "INSERT INTO journal_entries (tenant, seq, at, kind, amount, call_id, reference, balance_after)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    let mut posting_stmt = conn.prepare_cached(
        "INSERT INTO postings (tenant, seq, leg, account, amount) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for (expected, e) in (last + 1..).zip(entries) {
        if e.seq != expected {
            return Err(StoreError::Invariant {
                tenant: tenant.to_string(),
                detail: format!(
                    "journal entry {} does not follow entry {} (entries must have no gap)",
                    e.seq,
                    expected - 1
                ),
            });
        }
        entry_stmt.execute(params![
            tenant,
            e.seq,
            ts(e.at),
            e.kind.as_str(),
            dec(e.amount),
            e.call_id,
            e.reference,
            dec(e.balance_after),
        ])?;
        for (leg, p) in e.postings.iter().enumerate() {
            posting_stmt.execute(params![
                tenant,
                e.seq,
                leg as i64,
                account_text(p.account),
                dec(p.amount)
            ])?;
        }
    }
    Ok(())
}

/// The whole journal, by `seq`, each entry with its postings in their written order.
pub(crate) fn read_journal(conn: &Db, tenant: &str) -> Result<Vec<Entry>> {
    read_journal_page(conn, tenant, 0, None)
}

/// Up to `limit` entries (all with `None`) after `after_seq`, by `seq`, each with its postings
/// in their written order. Entries and postings are two queries: call this inside a read
/// transaction so that they come from one snapshot.
pub(crate) fn read_journal_page(
    conn: &Db,
    tenant: &str,
    after_seq: u64,
    limit: Option<usize>,
) -> Result<Vec<Entry>> {
    let after = i64::try_from(after_seq).unwrap_or(i64::MAX);
    // No limit: the largest one (both SQLite and PostgreSQL take any non-negative i64).
    let limit = limit.map_or(i64::MAX, |l| i64::try_from(l).unwrap_or(i64::MAX));
    let mut entries = read_entry_rows(conn, tenant, after, limit)?;
    let Some(through) = entries.last().map(|e| e.seq) else {
        return Ok(entries);
    };
    let mut stmt = conn.prepare_cached(
        "SELECT seq, account, amount FROM postings WHERE tenant = ?1 AND seq > ?2 AND seq <= ?3
         ORDER BY seq, leg",
    )?;
    let mut rows = stmt.query(params![
        tenant,
        after,
        i64::try_from(through).unwrap_or(i64::MAX)
    ])?;
    let index: BTreeMap<u64, usize> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| (e.seq, i))
        .collect();
    while let Some(row) = rows.next()? {
        let c = Cells {
            row: &row,
            table: "postings",
        };
        let seq = c.u64("seq")?;
        // The foreign key makes an orphan posting impossible short of a hand-edited file.
        let at = *index
            .get(&seq)
            .ok_or_else(|| corrupt("postings", "seq", seq))?;
        entries[at].postings.push(Posting {
            account: c.parse("account", parse_account)?,
            amount: c.dec("amount")?,
        });
    }
    Ok(entries)
}

fn read_entry_rows(conn: &Db, tenant: &str, after_seq: i64, limit: i64) -> Result<Vec<Entry>> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, at, kind, amount, call_id, reference, balance_after
         FROM journal_entries WHERE tenant = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
    )?;
    let mut rows = stmt.query(params![tenant, after_seq, limit])?;
    let mut entries = Vec::new();
    while let Some(row) = rows.next()? {
        let c = Cells {
            row: &row,
            table: "journal_entries",
        };
        entries.push(Entry {
            seq: c.u64("seq")?,
            at: c.ts("at")?,
            kind: c.parse("kind", EntryKind::parse)?,
            amount: c.dec("amount")?,
            call_id: c.opt_text("call_id")?,
            reference: c.opt_text("reference")?,
            postings: Vec::new(),
            balance_after: c.dec("balance_after")?,
        });
    }
    Ok(entries)
}

/// C24 between the journal and the wallet read back: the journal has no gap and every entry
/// balances and states the running balance; its totals are the wallet's; every lot and the debt
/// hold exactly what their postings add up to.
pub(crate) fn verify(tenant: &str, wallet: &Wallet, journal: &[Entry]) -> Result<()> {
    let broken = |detail: String| StoreError::Invariant {
        tenant: tenant.to_string(),
        detail,
    };
    verify_entries(wallet, journal).map_err(broken)?;
    verify_totals(wallet, journal).map_err(broken)?;
    verify_accounts(wallet, journal).map_err(broken)
}

fn verify_entries(wallet: &Wallet, journal: &[Entry]) -> std::result::Result<(), String> {
    let mut running = Decimal::ZERO;
    for (expected, e) in (1u64..).zip(journal) {
        if e.seq != expected {
            return Err(format!(
                "the journal jumps from entry {} to entry {}",
                expected - 1,
                e.seq
            ));
        }
        if e.checked_legs() != Ok(Decimal::ZERO) {
            return Err(format!(
                "the postings of entry {} do not sum to zero",
                e.seq
            ));
        }
        running = e
            .checked_wallet_delta()
            .and_then(|delta| money::add(running, delta))
            .map_err(|_| {
                format!(
                    "the running balance at entry {} leaves the representable range",
                    e.seq
                )
            })?;
        if running != e.balance_after {
            return Err(format!(
                "entry {} states a balance of {} but its postings give {running}",
                e.seq, e.balance_after
            ));
        }
    }
    let next_seq = wallet.snapshot().next_seq;
    if Some(next_seq) != (journal.len() as u64).checked_add(1) {
        return Err(format!(
            "the wallet expects its next entry to be {next_seq} but the journal has {} entries",
            journal.len()
        ));
    }
    Ok(())
}

fn verify_totals(wallet: &Wallet, journal: &[Entry]) -> std::result::Result<(), String> {
    let (balance, funded, debited, forfeited) = try_recompute(journal)
        .ok_or_else(|| "the journal's totals leave the representable range".to_string())?;
    if balance != wallet.balance() {
        return Err(format!(
            "the journal gives a balance of {balance} but the wallet holds {}",
            wallet.balance()
        ));
    }
    let stored = wallet.totals();
    if (funded, debited, forfeited) != stored {
        return Err(format!(
            "the journal gives funded {funded}, debited {debited}, forfeited {forfeited} but the wallet records {}, {}, {}",
            stored.0, stored.1, stored.2
        ));
    }
    Ok(())
}

fn verify_accounts(wallet: &Wallet, journal: &[Entry]) -> std::result::Result<(), String> {
    let mut sums: BTreeMap<Account, Decimal> = BTreeMap::new();
    for p in journal.iter().flat_map(|e| &e.postings) {
        let sum = sums.entry(p.account).or_default();
        *sum = money::add(*sum, p.amount).map_err(|_| {
            format!(
                "the postings of {:?} leave the representable range",
                p.account
            )
        })?;
    }
    let mut take = |account| sums.remove(&account).unwrap_or_default();
    for lot in wallet.lots() {
        let posted = take(Account::Lot(lot.id));
        if posted != lot.remaining {
            return Err(format!(
                "lot {} holds {} but its postings give {posted}",
                lot.id, lot.remaining
            ));
        }
    }
    let debt = -take(Account::Debt);
    if debt != wallet.debt() {
        return Err(format!(
            "the debt is {} but its postings give {debt}",
            wallet.debt()
        ));
    }
    // What is left are expired (or emptied) lots and the outside accounts.
    match sums
        .iter()
        .find(|(account, sum)| matches!(account, Account::Lot(_)) && !sum.is_zero())
    {
        Some((account, sum)) => Err(format!(
            "{account:?} is no longer live but its postings leave {sum} in it"
        )),
        None => Ok(()),
    }
}

/// Replaces the tenant's scheduled fundings; when the stored ones are already exactly these,
/// nothing is written.
pub(crate) fn write_scheduled(
    conn: &Db,
    tenant: &str,
    scheduled: &[ScheduledFunding],
) -> Result<()> {
    if stored_scheduled_are(conn, tenant, scheduled)? {
        return Ok(());
    }
    conn.prepare_cached("DELETE FROM scheduled_fundings WHERE tenant = ?1")?
        .execute([tenant])?;
    let mut stmt = conn.prepare_cached(
        "INSERT INTO scheduled_fundings (tenant, reference, amount, at) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for f in scheduled {
        stmt.execute(params![tenant, f.reference, dec(f.amount), ts(f.at)])?;
    }
    Ok(())
}

/// True when the tenant's stored scheduled fundings are exactly `scheduled` (the same
/// references with the same amount and instant texts, none more).
fn stored_scheduled_are(conn: &Db, tenant: &str, scheduled: &[ScheduledFunding]) -> Result<bool> {
    let mut stmt = conn
        .prepare_cached("SELECT reference, amount, at FROM scheduled_fundings WHERE tenant = ?1")?;
    let mut rows = stmt.query([tenant])?;
    let mut stored = 0usize;
    while let Some(row) = rows.next()? {
        stored += 1;
        let reference: String = row.get(0)?;
        let amount: String = row.get(1)?;
        let at: String = row.get(2)?;
        let same = scheduled
            .iter()
            .any(|f| f.reference == reference && dec(f.amount) == amount && ts(f.at) == at);
        if !same {
            return Ok(false);
        }
    }
    Ok(stored == scheduled.len())
}

/// The tenant's scheduled fundings, oldest first.
pub(crate) fn read_scheduled(conn: &Db, tenant: &str) -> Result<Vec<ScheduledFunding>> {
    let mut stmt = conn.prepare(
        "SELECT reference, amount, at FROM scheduled_fundings WHERE tenant = ?1 ORDER BY at, reference",
    )?;
    let mut rows = stmt.query([tenant])?;
    let mut scheduled = Vec::new();
    while let Some(row) = rows.next()? {
        let c = Cells {
            row: &row,
            table: "scheduled_fundings",
        };
        scheduled.push(ScheduledFunding {
            reference: c.text("reference")?,
            amount: c.dec("amount")?,
            at: c.ts("at")?,
        });
    }
    Ok(scheduled)
}
