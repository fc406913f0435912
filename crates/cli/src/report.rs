//! `minutely report ...`: reports from the store.

use crate::output::{load_book, open_store};
use anyhow::{Result, anyhow, bail};
use clap::Subcommand;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use minutely_core::calendar::{Bound, CalendarError, DateRange};
use minutely_core::engine::Outcome;
use minutely_formats::{export, instant};
use std::io::Write;
use std::path::Path;

#[derive(Subcommand)]
pub enum ReportCommand {
    /// The PSTN usage export (RFC 4180 CSV, 20 columns; 25 with --extended) of the calls that
    /// started in [from, to), to stdout; a range covers at most 366 days.
    ///
    /// Example: minutely report pstn-usage --tenant contoso --from 2026-01-01 --to 2026-01-31
    PstnUsage {
        #[arg(long)]
        tenant: String,
        /// A date (from its start in the tenant's time zone) or an RFC 3339 instant.
        #[arg(long)]
        from: String,
        /// A date (up to the end of that day, tenant time zone) or an RFC 3339 instant
        /// (exclusive).
        #[arg(long)]
        to: String,
        /// Add Funding, Pool Minutes, Credit Amount, Balance After and Rule.
        #[arg(long)]
        extended: bool,
    },
}

/// A date (the tenant-local day) or an RFC 3339 instant.
fn bound(flag: &str, text: &str) -> Result<Bound> {
    if let Ok(date) = text.trim().parse::<Date>() {
        return Ok(Bound::Day(date));
    }
    match instant::parse(text) {
        Ok(at) => Ok(Bound::Instant(at)),
        Err(_) => {
            bail!("--{flag}: {text:?} is neither a date (2026-01-31) nor an RFC 3339 instant")
        }
    }
}

/// `[from, to)` read in the tenant's time zone and checked by the core's `DateRange`.
pub(crate) fn range(from: &str, to: &str, tz: &TimeZone) -> Result<DateRange> {
    let no_day = |flag: &str, text: &str| anyhow!("--{flag}: {text:?} is a day out of range");
    let from_at = bound("from", from)?
        .instant(tz, false)
        .ok_or_else(|| no_day("from", from))?;
    let to_at = bound("to", to)?
        .instant(tz, true)
        .ok_or_else(|| no_day("to", to))?;
    DateRange::new(from_at, to_at, tz).map_err(|e| match e {
        CalendarError::Reversed { from, to } => anyhow!(
            "--to ({}) is before --from ({})",
            instant::format(to),
            instant::format(from)
        ),
        CalendarError::TooLong {
            from, to, max_days, ..
        } => anyhow!(
            "--from/--to: {} to {} is longer than {max_days} days; export a shorter range",
            instant::format(from),
            instant::format(to)
        ),
        CalendarError::BadMonth { .. } => anyhow!("{e}"),
    })
}

pub fn run(db: &Path, command: ReportCommand) -> Result<()> {
    match command {
        ReportCommand::PstnUsage {
            tenant,
            from,
            to,
            extended,
        } => {
            let store = open_store(db)?;
            let book = load_book(&store, &tenant)?;
            let (from, to) = range(&from, &to, &book.tenant.timezone)?.bounds();
            let countries = store.countries()?;
            let mut out = Vec::with_capacity(1 << 20);
            out.extend_from_slice(export::header(extended).as_bytes());
            let stdout = std::io::stdout();
            let mut lock = stdout.lock();
            for call in store.calls(&tenant, from, to)? {
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
                if out.len() > 1 << 20 {
                    lock.write_all(&out)?;
                    out.clear();
                }
            }
            lock.write_all(&out)?;
            Ok(())
        }
    }
}
