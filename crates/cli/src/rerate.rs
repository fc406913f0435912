//! `minutely rerate`: after a rate-card fix, rates a tenant's charged calls of a period again
//! (refund then charge, canonical order), on the store with no server running: the service's
//! `Command::Rerate`, carried out by the writer's own code in this process (one commit, or none
//! with `--dry-run`). `--list` shows the runs made so far.

use crate::output::{emit, open_store, open_store_to_change};
use anyhow::{Result, anyhow, bail};
use clap::Args;
use minutely_formats::instant;
use minutely_service::Command;
use minutely_service::audit::Actor;
use minutely_service::clock::Clock;
use minutely_service::commands::expect_answer;
use minutely_service::commands::rerate::{Rerate, RerateReport, RerateRunJson};
use minutely_service::writer::{State, WriterConfig, execute_once};
use std::fmt::Write as _;
use std::path::Path;

#[derive(Args)]
pub struct RerateArgs {
    /// The tenant whose calls are rated again.
    #[arg(long)]
    pub tenant: String,
    /// The first instant of the period (RFC 3339): calls that started at or after it.
    #[arg(long, required_unless_present = "list")]
    pub from: Option<String>,
    /// The end of the period (RFC 3339, exclusive).
    #[arg(long, required_unless_present = "list")]
    pub to: Option<String>,
    /// Show the difference per call and the totals, changing nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the report as JSON (as `POST /v1/tenants/{t}/rerate` answers).
    #[arg(long)]
    pub json: bool,
    /// List the tenant's runs (who, when, the period, card versions, counts and totals).
    #[arg(long, conflicts_with_all = ["from", "to", "dry_run"])]
    pub list: bool,
}

pub fn run(db: &Path, args: RerateArgs) -> Result<()> {
    if args.list {
        return list(db, &args);
    }
    let period = |flag: &str, text: &Option<String>| -> Result<jiff::Timestamp> {
        let text = text
            .as_deref()
            .ok_or_else(|| anyhow!("--{flag} is required"))?;
        instant::parse(text).map_err(|e| anyhow!("--{flag}: {e}"))
    };
    let (from, to) = (period("from", &args.from)?, period("to", &args.to)?);
    let (_lock, store) = open_store_to_change(db)?;
    let state = State::load(store)?;
    let command = Command::Rerate(Rerate {
        actor: Actor::cli(),
        tenant: args.tenant.clone(),
        from,
        to,
        dry_run: args.dry_run,
    });
    let report = execute_once(
        state,
        &WriterConfig::default(),
        &Clock::System,
        command,
        !args.dry_run,
    )
    .and_then(expect_answer::<RerateReport>)
    .map_err(|e| anyhow!("{}: {}", e.code, e.detail))?;
    let json = report.json();
    if args.json {
        return emit(&(serde_json::to_string_pretty(&json)? + "\n"));
    }
    emit(&table(&json))
}

fn list(db: &Path, args: &RerateArgs) -> Result<()> {
    let store = open_store(db)?;
    let Some(book) = store.load_book(&args.tenant)? else {
        bail!("unknown_tenant: no tenant {:?}", args.tenant);
    };
    let currency = book.tenant.currency;
    let runs: Vec<RerateRunJson> = store
        .rerate_runs(&args.tenant, 1000)?
        .iter()
        .map(|r| RerateRunJson::new(r, currency, false, false))
        .collect();
    if args.json {
        return emit(&(serde_json::to_string_pretty(&runs)? + "\n"));
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<8} {:<22} {:<20} {:<22} {:<22} {:>7} {:>7} {:>7} {:>12} {:>12}",
        "run", "at", "by", "from", "to", "calls", "changed", "skipped", "refunded", "charged"
    );
    for r in &runs {
        let _ = writeln!(
            out,
            "{:<8} {:<22} {:<20} {:<22} {:<22} {:>7} {:>7} {:>7} {:>12} {:>12}",
            r.id.as_deref().unwrap_or(""),
            r.at,
            r.actor,
            r.from,
            r.to,
            r.calls,
            r.changed,
            r.skipped,
            r.refunded,
            r.charged
        );
    }
    emit(&out)
}

/// The difference per call and the totals, as a text table.
fn table(r: &RerateRunJson) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<32} {:<22} {:>10} {:>10} {:>10} {:<18} {:<18} {:<6} {:<6}  skipped",
        "call_id", "start", "old", "new", "diff", "old funding", "new funding", "old", "new"
    );
    for i in r.items.iter().flatten() {
        let _ = writeln!(
            out,
            "{:<32} {:<22} {:>10} {:>10} {:>10} {:<18} {:<18} {:<6} {:<6}  {}",
            i.call_id,
            i.start,
            i.old_amount,
            i.new_amount,
            i.difference,
            i.old_funding,
            i.new_funding,
            i.old_rule,
            i.new_rule,
            i.skipped.as_deref().unwrap_or("")
        );
    }
    let _ = writeln!(
        out,
        "{} calls, {} changed, {} skipped; refunded {} {cur}, charged {} {cur}, net {} {cur}; card versions {}{}",
        r.calls,
        r.changed,
        r.skipped,
        r.refunded,
        r.charged,
        r.net,
        r.card_versions.join(", "),
        match &r.id {
            Some(id) => format!(" (run {id})"),
            None => " (dry run: nothing was changed)".to_string(),
        },
        cur = r.currency,
    );
    out
}
