//! `minutely import deck`: a carrier's rate deck (CSV in the carrier's layout) read through a
//! column mapping (TOML) into the currency's rate card, as `dial_out` entries. The deck is
//! refused whole when any row is bad; `--dry-run` prints what the deck holds and stores nothing.

use crate::catalogue::store_card;
use crate::output::{open_store, read_file};
use anyhow::{Context, Result, bail};
use clap::Args;
use minutely_core::money::Currency;
use minutely_formats::deck::{
    self, AcceptOutliers, DeckOptions, DeckSummary, MAX_DECK_BYTES, MAX_MAPPING_BYTES, Mapping,
};
use minutely_formats::{countries, instant};
use std::path::{Path, PathBuf};

/// The most versions the summary lists one by one.
const LISTED_VERSIONS: usize = 20;

#[derive(Args)]
pub struct DeckArgs {
    /// The carrier's deck (CSV, in the layout the mapping describes).
    file: PathBuf,
    /// ISO 4217 currency of every rate in the deck.
    #[arg(long)]
    currency: String,
    /// The column mapping (TOML; see examples/deck-mapping.toml).
    #[arg(long)]
    mapping: PathBuf,
    /// One effective date for the whole deck (YYYY-MM-DD, midnight in the mapping's time zone,
    /// or an RFC 3339 instant); replaces the mapping's fixed date.
    #[arg(long)]
    effective_from: Option<String>,
    /// Print the summary (rows, versions, countries, refused rows) and store nothing.
    #[arg(long)]
    dry_run: bool,
    /// Accept the rate of this prefix even though it is far from its family's median
    /// (repeatable; +33, 0033 or 33).
    #[arg(long = "accept-outlier", value_name = "PREFIX")]
    accept_outlier: Vec<String>,
    /// Accept every rate far from its family's median (each is listed in the summary).
    #[arg(long)]
    accept_outliers: bool,
}

fn read_mapping(path: &Path) -> Result<Mapping> {
    let bytes = read_file(path)?;
    if bytes.len() > MAX_MAPPING_BYTES {
        bail!(
            "mapping {}: a mapping file has at most {MAX_MAPPING_BYTES} bytes",
            path.display()
        );
    }
    let text = String::from_utf8(bytes)
        .ok()
        .with_context(|| format!("mapping {}: not UTF-8 text", path.display()))?;
    Mapping::parse(&text).map_err(|e| anyhow::anyhow!("mapping {}:\n{e}", path.display()))
}

fn accepted(args: &DeckArgs) -> Result<AcceptOutliers> {
    let prefixes = args
        .accept_outlier
        .iter()
        .map(|text| {
            deck::prefix_digits(text)
                .map(str::to_string)
                .map_err(|e| anyhow::anyhow!("--accept-outlier {e}"))
        })
        .collect::<Result<_>>()?;
    Ok(AcceptOutliers {
        all: args.accept_outliers,
        prefixes,
    })
}

fn print_summary(file: &Path, currency: Currency, summary: &DeckSummary) {
    println!("rate deck {} ({currency})", file.display());
    println!(
        "rows:      {} read, {} priced, {} skipped (non-geographic), {} refused",
        summary.rows, summary.priced, summary.skipped, summary.refused
    );
    println!("versions:  {}", summary.versions.len());
    for (at, prefixes) in summary.versions.iter().take(LISTED_VERSIONS) {
        println!(
            "  effective from {}: {prefixes} prefixes",
            instant::format(*at)
        );
    }
    if summary.versions.len() > LISTED_VERSIONS {
        println!(
            "  ... and {} more",
            summary.versions.len() - LISTED_VERSIONS
        );
    }
    println!("countries: {}", summary.countries.len());
    if !summary.accepted_outliers.is_empty() {
        println!("accepted outliers: {}", summary.accepted_outliers.len());
        for outlier in &summary.accepted_outliers {
            println!("  line {}: +{}: {outlier}", outlier.line, outlier.prefix);
        }
    }
}

pub fn run(db: &Path, args: DeckArgs) -> Result<()> {
    let currency = Currency::parse(&args.currency)?;
    let mut mapping = read_mapping(&args.mapping)?;
    if let Some(text) = &args.effective_from {
        mapping = mapping
            .with_effective_from(text)
            .map_err(|e| anyhow::anyhow!("--effective-from: {e}"))?;
    }
    let options = DeckOptions {
        currency,
        accept: accepted(&args)?,
    };
    let size = std::fs::metadata(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?
        .len();
    if size > MAX_DECK_BYTES {
        bail!(
            "{}: a deck has at most {MAX_DECK_BYTES} bytes; this one has {size}",
            args.file.display()
        );
    }
    // The names of countries come from the store's table when there is a store; a dry run
    // never creates one.
    let countries = if db.exists() {
        open_store(db)?.countries()?
    } else {
        countries::shipped()
    };
    let input = read_file(&args.file)?;
    let read = deck::read(&input, &mapping, &options, &countries);
    print_summary(&args.file, currency, &read.summary);
    let card = read
        .card
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.file.display()))?;
    if args.dry_run {
        println!("dry run: nothing was stored");
        return Ok(());
    }
    store_card(db, &card)
}
