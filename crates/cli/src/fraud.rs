//! `minutely fraud simulate`: a tenant's past dial-outs replayed through the toll-fraud guard
//! (C43 to C46), to see what it would have refused or cut before turning it on, or before
//! changing a threshold. Reads the store only; works while a server runs.

use crate::output::{load_book, open_store};
use anyhow::{Result, bail};
use clap::Subcommand;
use minutely_core::control::ControlPolicy;
use minutely_core::engine::Outcome;
use minutely_core::guard::replay::{Fate, Past, Replayed, replay};
use minutely_core::guard::{Guard, GuardMode};
use minutely_core::ledger::Event;
use minutely_core::rating::Rater;
use minutely_formats::instant;
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

#[derive(Subcommand)]
pub enum FraudCommand {
    /// Replay the tenant's dial-outs that started in [from, to) through the guard, as call
    /// control would have met them (authorized, extended a window at a time, ended; overlapping
    /// as they did; an attempt call control refused as an attempt only), with the operator's
    /// thresholds and list and the tenant's settings as stored, from fresh counters (so the
    /// learning period, 14 days and 30 dial-outs by default, starts with the first dial-out
    /// replayed: give --from a few weeks before the period that matters). Prints one CSV
    /// line per dial-out to stdout (what the guard would have done, the rules that applied,
    /// the list price as it lasted and as the guard would have let it last) and a summary to
    /// stderr; changes nothing. A range covers at most 366 days.
    ///
    /// Example: minutely fraud simulate --tenant contoso --from 2026-01-01 --to 2026-03-31
    Simulate {
        #[arg(long)]
        tenant: String,
        /// A date (from its start in the tenant's time zone) or an RFC 3339 instant.
        #[arg(long)]
        from: String,
        /// A date (up to the end of that day, tenant time zone) or an RFC 3339 instant
        /// (exclusive).
        #[arg(long)]
        to: String,
        /// `enforce` (what would have been refused) or `monitor` (only alerts).
        #[arg(long, default_value = "enforce")]
        mode: String,
        /// Seconds granted per authorization or extension (as `serve --window-s`).
        #[arg(long, default_value_t = ControlPolicy::default().window_s)]
        window_s: u64,
    },
}

/// The CSV header of the replay's lines.
pub const HEADER: &str = "call_id,start,organizer,country,duration_s,allowed_s,decision,reason,found,cost,allowed_cost\n";

pub fn run(db: &Path, command: FraudCommand) -> Result<()> {
    match command {
        FraudCommand::Simulate {
            tenant,
            from,
            to,
            mode,
            window_s,
        } => simulate(db, &tenant, (&from, &to), &mode, window_s),
    }
}

fn simulate(db: &Path, tenant: &str, range: (&str, &str), mode: &str, window_s: u64) -> Result<()> {
    let Some(mode) = GuardMode::parse(mode).filter(|m| *m != GuardMode::Off) else {
        bail!("--mode: {mode:?} is not enforce or monitor");
    };
    if !(1..=86_400).contains(&window_s) {
        bail!("--window-s: {window_s} is not between 1 and 86400");
    }
    let store = open_store(db)?;
    let book = load_book(&store, tenant)?;
    let (from, to) = crate::report::range(range.0, range.1, &book.tenant.timezone)?.bounds();
    let mut settings = book.guard.settings.clone();
    settings.mode = Some(mode);
    let mut guard = Guard::new(store.guard_operator()?, settings);
    let stored = store.calls(tenant, from, to)?;
    // A call call control refused is stored with no duration: it was an attempt only.
    let calls: Vec<Past<'_>> = stored
        .iter()
        .map(|c| Past {
            record: &c.record,
            connected: matches!(c.outcome, Outcome::Charged(_)) || c.record.end > c.record.start,
        })
        .collect();
    let (countries, card) = (store.countries()?, store.rate_card(book.tenant.currency)?);
    let mut rater = Rater::new(&countries, &card);
    let (lines, events) = replay(&book.tenant, &mut guard, &mut rater, &calls, window_s);
    let mut out = Vec::with_capacity(HEADER.len() + lines.len() * 120);
    out.extend_from_slice(HEADER.as_bytes());
    for line in &lines {
        write_line(&mut out, line);
    }
    std::io::stdout().lock().write_all(&out)?;
    eprint!("{}", summary(tenant, mode, &lines, &events));
    Ok(())
}

/// An amount in units of 1/10,000, exactly.
fn amount(e4: i64) -> Decimal {
    Decimal::new(e4, 4)
}

fn write_line(out: &mut Vec<u8>, l: &Replayed) {
    let (decision, reason) = match &l.fate {
        Fate::Allowed => ("allow", ""),
        Fate::Refused(r) => ("refuse", r.code()),
        Fate::Cut(r) => ("cut", r.code()),
    };
    let found: Vec<&str> = l.found.iter().map(|r| r.code()).collect();
    minutely_formats::write_text(out, &l.call_id);
    let _ = write!(out, ",{},", instant::format(l.start));
    minutely_formats::write_text(out, &l.organizer);
    let _ = writeln!(
        out,
        ",{},{},{},{decision},{reason},{},{},{}",
        l.country.as_str(),
        l.duration_s,
        l.allowed_s,
        found.join(" "),
        amount(l.cost_e4),
        amount(l.allowed_cost_e4),
    );
}

/// The replay in a few lines: dial-outs by fate, money the guard would have kept from being
/// spent, refusals by reason and events by kind.
fn summary(tenant: &str, mode: GuardMode, lines: &[Replayed], events: &[Event]) -> String {
    let (mut refused, mut cut) = (0, 0);
    let mut reasons: BTreeMap<&str, u64> = BTreeMap::new();
    let (mut cost, mut allowed) = (0i64, 0i64);
    for l in lines {
        cost = cost.saturating_add(l.cost_e4);
        allowed = allowed.saturating_add(l.allowed_cost_e4);
        match &l.fate {
            Fate::Allowed => {}
            Fate::Refused(r) => {
                refused += 1;
                *reasons.entry(r.code()).or_default() += 1;
            }
            Fate::Cut(r) => {
                cut += 1;
                *reasons.entry(r.code()).or_default() += 1;
            }
        }
    }
    let mut kinds: BTreeMap<&str, u64> = BTreeMap::new();
    for e in events {
        *kinds.entry(e.kind()).or_default() += 1;
    }
    let list = |m: &BTreeMap<&str, u64>| {
        let parts: Vec<String> = m.iter().map(|(k, n)| format!("{k} {n}")).collect();
        if parts.is_empty() {
            "none".to_string()
        } else {
            parts.join(", ")
        }
    };
    format!(
        "{tenant}: {} dial-outs replayed under the guard ({}): {} allowed, {refused} refused, {cut} cut\n\
         list price {} as they lasted, {} as the guard would have let them last ({} kept from being spent)\n\
         refusals and cuts by reason: {}\nevents: {}\n",
        lines.len(),
        mode.as_str(),
        lines.len() - refused - cut,
        amount(cost),
        amount(allowed),
        amount(cost.saturating_sub(allowed)),
        list(&reasons),
        list(&kinds),
    )
}
