//! `minutely report ...`: reports from the store.

use crate::output::{load_book, open_store};
use anyhow::{Result, bail};
use clap::Subcommand;
use jiff::Timestamp;
use jiff::civil::Date;
use minutely_core::engine::Outcome;
use minutely_formats::{export, instant};
use std::io::Write;
use std::path::Path;

#[derive(Subcommand)]
pub enum ReportCommand {
    /// The PSTN usage export (RFC 4180 CSV, 20 columns; 25 with --extended) of the calls that
    /// started in [from, to), to stdout.
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

/// A date means the tenant-local day; an instant means itself.
fn bound(text: &str, tz: &jiff::tz::TimeZone, end_of_day: bool) -> Result<Timestamp> {
    if let Ok(date) = text.trim().parse::<Date>() {
        let day = if end_of_day { date.tomorrow()? } else { date };
        return Ok(day.to_zoned_datetime(tz.clone())?.timestamp());
    }
    match instant::parse(text) {
        Ok(at) => Ok(at),
        Err(_) => bail!("{text:?} is neither a date (2026-01-31) nor an RFC 3339 instant"),
    }
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
            let from = bound(&from, &book.tenant.timezone, false)?;
            let to = bound(&to, &book.tenant.timezone, true)?;
            if to < from {
                bail!(
                    "--to ({}) is before --from ({})",
                    instant::format(to),
                    instant::format(from)
                );
            }
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
