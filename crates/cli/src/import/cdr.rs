//! `minutely import cdr`: a switch's call records (FreeSWITCH `mod_cdr_csv`, Asterisk
//! `cdr_csv`, Kamailio acc) into Minutely call records, by a mapping file, ingested per tenant
//! through the same path as `minutely ingest` (`ingest::rate_into_store`): canonical order
//! (C22), idempotent by call id (C23), never refused for credit (C29). A malformed line refuses
//! the whole file; records that are not a tenant's answered PSTN legs are reported with their
//! line and reason and not ingested. `--dry-run` rates in memory and changes nothing.

use crate::ingest::{BATCH, rate_into_store};
use crate::offline::Summary;
use crate::output::{emit, open_store, open_store_to_change, read_file};
use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use minutely_core::catalogue::{CountryTable, RateCard};
use minutely_core::engine::{Mode, TenantBook};
use minutely_core::rating::{CallRecord, Direction, Rater};
use minutely_formats::cdr::{self, Converted, Format, Mapping, SkipReason, Skipped};
use minutely_store::Store;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// At most this many skipped records are listed one by one (all are counted).
const MAX_LISTED: usize = 1000;

#[derive(Args)]
pub struct CdrArgs {
    /// The switch's call records (Master.csv, or Kamailio's acc log).
    pub file: PathBuf,
    /// Which switch wrote them.
    #[arg(long, value_parser = ["freeswitch", "asterisk", "kamailio-acc"])]
    pub format: String,
    /// The mapping (TOML): tenant, organizer, conference, PSTN legs, numbers, time zone; see
    /// README.md and examples/cdr-mapping-*.toml.
    #[arg(long)]
    pub mapping: PathBuf,
    /// Print the report and what would be ingested per tenant, changing nothing.
    #[arg(long)]
    pub dry_run: bool,
}

pub fn run(db: &Path, args: CdrArgs) -> Result<()> {
    let format = Format::parse(&args.format).ok_or_else(|| anyhow!("unknown format"))?;
    let mapping_text = read_text(&args.mapping, cdr::mapping::MAX_MAPPING_BYTES as u64)?;
    let mapping = Mapping::parse(&mapping_text, format)
        .map_err(|e| anyhow!("{}: {e}", args.mapping.display()))?;
    let text = read_text(&args.file, cdr::MAX_FILE_BYTES)?;
    let converted =
        cdr::read(&text, &mapping).map_err(|e| anyhow!("{}: {e}", args.file.display()))?;
    // The records own their text: the file's memory is given back before rating.
    drop(text);
    if args.dry_run && !db.exists() {
        bail!(
            "no store at {} (a dry run creates none); create it with `minutely apply -f FILE`",
            db.display()
        );
    }
    let (_lock, mut store) = if args.dry_run {
        (None, open_store(db)?)
    } else {
        let (lock, store) = open_store_to_change(db)?;
        (Some(lock), store)
    };
    let report = import(&mut store, converted, args.dry_run)?;
    emit(&report)
}

/// Reads a UTF-8 text file of at most `max_bytes`, naming the line of a byte that is not UTF-8.
fn read_text(path: &Path, max_bytes: u64) -> Result<String> {
    let size = std::fs::metadata(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .len();
    if size > max_bytes {
        bail!(
            "{}: {size} bytes is more than the {max_bytes} one file may have; split it",
            path.display()
        );
    }
    let bytes = read_file(path)?;
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..at].iter().filter(|b| **b == b'\n').count() + 1;
        anyhow!("{}: line {line} is not UTF-8 text", path.display())
    })
}

/// Groups the records by tenant, ingests (or, dry, rates in memory) each tenant's, and returns
/// the report.
fn import(store: &mut Store, converted: Converted, dry_run: bool) -> Result<String> {
    let Converted {
        records,
        mut skipped,
        ..
    } = converted;
    let read = records.len() + skipped.len();
    let mut by_tenant: BTreeMap<String, Vec<(usize, CallRecord)>> = BTreeMap::new();
    for r in records {
        by_tenant
            .entry(r.tenant)
            .or_default()
            .push((r.line, r.record));
    }
    let countries = store.countries()?;
    let mut sections = String::new();
    for (tenant, mut calls) in by_tenant {
        let Some(mut book) = store.load_book(&tenant)? else {
            skipped.extend(calls.iter().map(|(line, _)| Skipped {
                line: *line,
                reason: SkipReason::UnknownTenant,
                detail: format!("no tenant {tenant:?} in the store"),
            }));
            continue;
        };
        // C22: canonical order (start, then call id); the first of a call id in the file
        // stays first (C37), as the sort is stable.
        calls.sort_by(|a, b| (a.1.start, &a.1.call_id).cmp(&(b.1.start, &b.1.call_id)));
        let card = store.rate_card(book.tenant.currency)?;
        let calls: Vec<CallRecord> = calls.into_iter().map(|(_, r)| r).collect();
        let summary = if dry_run {
            rate_in_memory(store, &mut book, (&countries, &card), &calls)?
        } else {
            let book_ref = &mut book;
            rate_into_store(
                store,
                book_ref,
                (&countries, &card),
                (calls.len(), |range| Ok(calls[range].to_vec())),
                |_| {},
            )?
        };
        section(&mut sections, &tenant, &calls, &summary, &book);
    }
    skipped.sort_by_key(|s| s.line);
    let mut out = format!("records read: {read}\n");
    out += &skipped_report(&skipped);
    out += &sections;
    if dry_run {
        out += "dry run: nothing was changed\n";
    }
    Ok(out)
}

/// Rates the records as `rate_into_store` does, without saving anything.
fn rate_in_memory(
    store: &Store,
    book: &mut TenantBook,
    (countries, card): (&CountryTable, &RateCard),
    calls: &[CallRecord],
) -> Result<Summary> {
    let mut rater = Rater::new(countries, card);
    let mut summary = Summary::default();
    for batch in calls.chunks(BATCH) {
        let ids: Vec<&str> = batch.iter().map(|r| r.call_id.as_str()).collect();
        book.seen = store.seen(&book.tenant.id, &ids)?;
        for record in batch {
            let processed = book.process_call(&mut rater, record, Mode::Bulk);
            summary.count(
                &processed.outcome,
                processed.replay,
                &processed.effects.entries,
                &processed.effects.events,
            );
        }
    }
    Ok(summary)
}

/// What was skipped: counts by reason, then each record (at most `MAX_LISTED`).
fn skipped_report(skipped: &[Skipped]) -> String {
    let mut out = format!("skipped: {} (not ingested)\n", skipped.len());
    let mut counts: BTreeMap<SkipReason, usize> = BTreeMap::new();
    for s in skipped {
        *counts.entry(s.reason).or_default() += 1;
    }
    for (reason, n) in counts {
        let _ = writeln!(out, "  {:<16} {n}", reason.code());
    }
    for s in skipped.iter().take(MAX_LISTED) {
        let _ = writeln!(out, "  line {}: {}: {}", s.line, s.reason.code(), s.detail);
    }
    if skipped.len() > MAX_LISTED {
        let _ = writeln!(out, "  ... and {} more", skipped.len() - MAX_LISTED);
    }
    out
}

/// One tenant's part of the report: what was read for it and what rating did.
fn section(
    out: &mut String,
    tenant: &str,
    calls: &[CallRecord],
    summary: &Summary,
    book: &TenantBook,
) {
    let dial_out = calls
        .iter()
        .filter(|c| c.direction == Direction::DialOut)
        .count();
    let billed_s: i64 = calls
        .iter()
        .map(|c| c.end.as_second() - c.start.as_second())
        .sum();
    let _ = writeln!(
        out,
        "tenant {tenant}: {} records (dial_in {}, dial_out {dial_out}), {billed_s} billed seconds",
        calls.len(),
        calls.len() - dial_out
    );
    for line in summary.render(book.tenant.currency, book).lines() {
        let _ = writeln!(out, "  {line}");
    }
}
