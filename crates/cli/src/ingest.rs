//! `minutely ingest`: rates a CSV file of call records for one tenant and persists them, in
//! canonical order (C22), idempotently (C23), committing one transaction per batch.

use crate::offline::Summary;
use crate::output::{count_progress, load_book, open_store_to_change, progress};
use anyhow::{Context, Result};
use clap::Args;
use minutely_core::catalogue::{CountryTable, RateCard};
use minutely_core::engine::{Mode, TenantBook};
use minutely_core::rating::{CallRecord, Rater};
use minutely_formats::calls::{CallFile, empty_record};
use minutely_service::ingest::is_stored;
use minutely_store::{Commit, Store};
use std::ops::Range;
use std::path::{Path, PathBuf};

/// Records committed per transaction.
pub const BATCH: usize = 5000;

#[derive(Args)]
pub struct IngestArgs {
    /// The call records (CSV).
    pub file: PathBuf,
    /// The tenant the calls belong to.
    #[arg(long)]
    pub tenant: String,
}

pub fn run(db: &Path, args: IngestArgs) -> Result<()> {
    let (_lock, mut store) = open_store_to_change(db)?;
    let mut book = load_book(&store, &args.tenant)?;
    let countries = store.countries()?;
    let card = store.rate_card(book.tenant.currency)?;
    if card.versions().is_empty() {
        eprintln!(
            "warning: the store has no {} rate card; calls that need a rate will be refused with no_rate (import one with `minutely rates import FILE --currency {}`)",
            book.tenant.currency, book.tenant.currency
        );
    }
    let file = std::fs::File::open(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let bar = progress(file.metadata().map(|m| m.len()).unwrap_or(0), "reading");
    let mut calls = CallFile::read(std::io::BufReader::new(file), |bytes| {
        bar.set_position(bytes)
    })
    .map_err(|e| anyhow::anyhow!("{}: {e}", args.file.display()))?;
    bar.finish_and_clear();
    only_this_tenant(&calls, &book.tenant.id)?
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.file.display()))?;
    calls.sort_canonical();
    let bar = count_progress(calls.len() as u64, "rating");
    let summary = rate_into_store(
        &mut store,
        &mut book,
        (&countries, &card),
        (calls.len(), |range| calls.records(range)),
        |done| bar.set_position(done),
    )?;
    bar.finish_and_clear();
    summary.print(book.tenant.currency, &book);
    if summary.duplicates > 0 && summary.duplicates == summary.records {
        eprintln!("every record was already ingested: nothing was charged twice");
    }
    Ok(())
}

/// Rates `count` records (`records(range)`, in canonical order, C22) against the tenant's book
/// and persists them, one transaction per `BATCH` records, building each batch only when it is
/// reached; a record already stored is a replay (C23) and charges nothing again. `progress` is
/// told how many records are done after each batch.
pub fn rate_into_store(
    store: &mut Store,
    book: &mut TenantBook,
    (countries, card): (&CountryTable, &RateCard),
    (count, mut records): (
        usize,
        impl FnMut(Range<usize>) -> std::io::Result<Vec<CallRecord>>,
    ),
    mut progress: impl FnMut(u64),
) -> Result<Summary> {
    let tenant = book.tenant.id.clone();
    let mut rater = Rater::new(countries, card);
    let mut summary = Summary::default();
    let mut start = 0;
    while start < count {
        let end = (start + BATCH).min(count);
        let batch = records(start..end)?;
        start = end;
        let ids: Vec<&str> = batch.iter().map(|r| r.call_id.as_str()).collect();
        book.seen = store.seen(&tenant, &ids)?;
        let mut commit = Commit::default();
        for record in &batch {
            let processed = book.process_call(&mut rater, record, Mode::Bulk);
            summary.count(
                &processed.outcome,
                processed.replay,
                &processed.effects.entries,
                &processed.effects.events,
            );
            // A reused id is answered, never stored: the first submission stays the record.
            if is_stored(&processed) {
                commit
                    .calls
                    .push((record.clone(), record.fingerprint(), processed.outcome));
            }
            commit.entries.extend(processed.effects.entries);
            commit.events.extend(processed.effects.events);
        }
        store.save(book, &commit)?;
        progress(end as u64);
    }
    Ok(summary)
}

/// A file with the `tenant` column is ingested into one tenant only when no record names
/// another; else it is refused whole, every such record named. The records are read a run at
/// a time (an error reading them back is the outer error).
fn only_this_tenant(
    calls: &CallFile,
    tenant: &str,
) -> std::io::Result<Result<(), minutely_formats::FileErrors>> {
    let mut errors = minutely_formats::ErrorList::default();
    if calls.has_tenant_column() {
        let mut run: Vec<_> = (0..BATCH)
            .map(|_| (empty_record(), String::new()))
            .collect();
        for first in (0..calls.len()).step_by(run.len()) {
            let count = run.len().min(calls.len() - first);
            calls.fill_run(first, run[..count].iter_mut().map(|(r, t)| (r, t)))?;
            for (n, (_, named)) in run[..count].iter().enumerate() {
                if !named.is_empty() && named != tenant {
                    errors.push(
                        calls.line(first + n),
                        minutely_formats::calls::TENANT_COLUMN,
                        format!("the record is tenant {named:?}'s, not {tenant:?}'s"),
                    );
                }
            }
        }
    }
    Ok(errors.finish("call records", ()))
}
