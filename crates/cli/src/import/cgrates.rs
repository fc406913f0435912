//! `minutely import cgrates DIR --currency C`: a CGRateS tariff plan directory into the rate
//! card of a currency (`minutely_formats::cgrates` reads it). Every element the card cannot
//! represent exactly is listed by file and line; the import is then refused, unless
//! `--skip-unrepresentable` leaves those elements out. `--dry-run` stores nothing.

use crate::output::emit;
use anyhow::{Context, Result, bail};
use clap::Args;
use minutely_core::money::Currency;
use minutely_formats::cgrates::{self, FILE_NAMES, Files, Import, MAX_FILE_BYTES, Selection};
use minutely_formats::{instant, ratecard};
use std::io::Read;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct CgratesArgs {
    /// The tariff plan directory: Destinations.csv, Rates.csv, DestinationRates.csv,
    /// RatingPlans.csv, RatingProfiles.csv and Timings.csv (the other files are not read).
    dir: PathBuf,
    /// ISO 4217 currency of every price in the plan.
    #[arg(long)]
    currency: String,
    /// The RatingProfiles tenant to import (default: the plan's only tenant).
    #[arg(long)]
    tenant: Option<String>,
    /// The RatingProfiles category to import.
    #[arg(long, default_value = "call")]
    category: String,
    /// The RatingProfiles subject to import (default: *any, else the category's only subject).
    #[arg(long)]
    subject: Option<String>,
    /// Read destination prefixes written without + (such as 4917) as E.164 digits; without
    /// this flag they are reported as not E.164.
    #[arg(long)]
    digits_are_e164: bool,
    /// Price CGRateS's destination *any (every number) at this E.164 prefix (such as +49);
    /// may be given several times. Without it, *any is reported. The plan's own prefixes win
    /// over these.
    #[arg(long = "any-destination", value_name = "PREFIX")]
    any_destination: Vec<String>,
    /// Print the card that would be imported and the report; store nothing.
    #[arg(long)]
    dry_run: bool,
    /// Import what can be represented exactly and leave out (and list) the rest.
    #[arg(long)]
    skip_unrepresentable: bool,
}

/// The most lines of other rating profiles named in the summary.
const MAX_LINES_LISTED: usize = 20;

/// Reads one file of the plan, if it is there, refusing one larger than `MAX_FILE_BYTES`.
fn read_bounded(path: &Path) -> Result<Option<Vec<u8>>> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {}", path.display()))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        bail!(
            "{} is larger than {MAX_FILE_BYTES} bytes, the largest file read",
            path.display()
        );
    }
    Ok(Some(bytes))
}

/// The summary and the report, as printed before anything is stored.
fn report(import: &Import) -> String {
    let mut text = format!(
        "rating profile: tenant {}, category {}, subject {}\n",
        import.tenant, import.category, import.subject
    );
    for v in &import.versions {
        text.push_str(&format!(
            "version effective from {}: rating plan {} ({}:{}), {} dial-out entr{}\n",
            instant::format(v.effective_from),
            v.plan_id,
            cgrates::RATING_PROFILES_CSV,
            v.line,
            v.entries,
            if v.entries == 1 { "y" } else { "ies" }
        ));
    }
    if !import.other_profiles.is_empty() {
        // The first lines only: the count says how many there are.
        let count = import.other_profiles.len();
        let mut lines: Vec<String> = import
            .other_profiles
            .iter()
            .take(MAX_LINES_LISTED)
            .map(usize::to_string)
            .collect();
        if count > MAX_LINES_LISTED {
            lines.push("...".into());
        }
        text.push_str(&format!(
            "not imported: {count} other rating profiles ({} lines {}; --tenant, --category, --subject)\n",
            cgrates::RATING_PROFILES_CSV,
            lines.join(", ")
        ));
    }
    if import.issues.is_empty() {
        text.push_str("every element of the profile is represented exactly\n");
    } else {
        text.push_str(&format!(
            "cannot be represented exactly ({}):\n",
            import.issues.len()
        ));
        for issue in &import.issues {
            text.push_str(&format!("  {issue}\n"));
        }
    }
    text
}

pub fn run(db: &Path, args: CgratesArgs) -> Result<()> {
    let currency = Currency::parse(&args.currency)?;
    if !args.dir.is_dir() {
        bail!("{} is not a directory", args.dir.display());
    }
    let contents: Vec<(&str, Vec<u8>)> = FILE_NAMES
        .iter()
        .map(|name| Ok(read_bounded(&args.dir.join(name))?.map(|bytes| (*name, bytes))))
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .flatten()
        .collect();
    let mut files = Files::default();
    for (name, bytes) in &contents {
        files.set(name, bytes);
    }
    let selection = Selection {
        tenant: args.tenant,
        category: args.category,
        subject: args.subject,
        digits_are_e164: args.digits_are_e164,
        any_prefixes: args.any_destination,
    };
    let import = cgrates::import(&files, currency, &selection).map_err(anyhow::Error::msg)?;
    print!("{}", report(&import));
    let refused = !import.issues.is_empty() && !args.skip_unrepresentable;
    if args.dry_run {
        println!("dry run: nothing stored; the card that would be imported:");
        emit(&ratecard::write(&import.card))?;
    }
    if refused {
        bail!(
            "refused: {} element{} of the tariff plan cannot be represented exactly; nothing stored (--skip-unrepresentable imports the rest and leaves them out)",
            import.issues.len(),
            if import.issues.len() == 1 { "" } else { "s" }
        );
    }
    if import.card.entries().next().is_none() {
        bail!("refused: no rate of the profile can be represented exactly; nothing stored");
    }
    if args.dry_run {
        return Ok(());
    }
    if !import.issues.is_empty() {
        println!("the elements listed are left out");
    }
    crate::catalogue::store_card(db, &import.card)
}
