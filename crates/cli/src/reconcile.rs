//! `minutely reconcile`: after an outage, settles the calls the proxy (Kamailio) saw end while
//! their end report was lost, from its acc log, on the store with no server running. The use
//! case is the service's (`Command::Reconcile`), carried out by the writer's own code in this
//! process: one commit, or none with `--dry-run`.

use crate::output::{emit, open_store_to_change, read_file};
use anyhow::{Context, Result, anyhow};
use clap::Args;
use minutely_service::Command;
use minutely_service::clock::Clock;
use minutely_service::commands::expect_answer;
use minutely_service::commands::reconcile::{
    Reconcile, ReconcileResponse, Reconciled, report_json,
};
use minutely_service::input::control::MAX_BATCH_RECORDS;
use minutely_service::input::reconcile::acc_records;
use minutely_service::writer::{State, WriterConfig, execute_once};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct ReconcileArgs {
    /// Kamailio's acc log (the lines its `acc` module wrote: CDRs and failed INVITEs; other
    /// lines are skipped).
    #[arg(long)]
    pub acc: PathBuf,
    /// Show what would be settled and charged, changing nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the report as JSON (as `POST /v1/edge/reconcile` answers) instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(db: &Path, args: ReconcileArgs) -> Result<()> {
    let bytes = read_file(&args.acc)?;
    let text = std::str::from_utf8(&bytes)
        .with_context(|| format!("{} is not UTF-8 text", args.acc.display()))?;
    let records = acc_records(text, MAX_BATCH_RECORDS)
        .map_err(|e| anyhow!("{}: {}: {}", args.acc.display(), e.code, e.detail))?;
    let (_lock, store) = open_store_to_change(db)?;
    let state = State::load(store)?;
    let command = Command::Reconcile(Reconcile { records });
    let answer = execute_once(
        state,
        &WriterConfig::default(),
        &Clock::System,
        command,
        !args.dry_run,
    )
    .and_then(expect_answer::<Reconciled>)
    .map_err(|e| anyhow!("{}: {}", e.code, e.detail))?;
    let report = report_json(&answer);
    if args.json {
        let mut text = serde_json::to_string_pretty(&report)?;
        text.push('\n');
        return emit(&text);
    }
    emit(&table(&report, args.dry_run))
}

/// The report as a text table, one row per record, and the counts.
fn table(report: &ReconcileResponse, dry_run: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<6} {:<16} {:<32} {:<16} {:>10} {:>12}  why",
        "line", "tenant", "call_id", "action", "duration_s", "charge"
    );
    for i in &report.items {
        let line = i.line.map(|l| l.to_string()).unwrap_or_default();
        let charge = match (&i.charge, &i.currency) {
            (Some(c), Some(cur)) => format!("{c} {cur}"),
            _ => String::new(),
        };
        let mut why = i.why.join(",");
        if let Some(reason) = &i.reason {
            let _ = write!(why, " (refused: {reason})");
        }
        let _ = writeln!(
            out,
            "{line:<6} {:<16} {:<32} {:<16} {:>10} {charge:>12}  {why}",
            i.tenant, i.call_id, i.action, i.duration_s
        );
    }
    let _ = writeln!(
        out,
        "settled {}, already_settled {}, not_found {}, refused {}{}",
        report.settled,
        report.already_settled,
        report.not_found,
        report.refused,
        if dry_run {
            " (dry run: nothing was changed)"
        } else {
            ""
        }
    );
    out
}
