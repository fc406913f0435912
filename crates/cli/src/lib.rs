//! The commands of the `minutely` binary that work on the store or on files: every command but
//! `serve`, which the binary (crates/minutely) runs with the HTTP server. The binary parses the
//! command line, flattens [`Command`] into its own, and calls [`run`].

mod advise;
mod audit;
mod backup;
mod catalogue;
mod demo;
mod fraud;
/// Sample data, deterministic by seed: used by `demo`, `serve --demo` and `minutely-tools gen`.
pub mod generate;
mod import;
pub mod ingest;
mod keys;
mod migrate;
mod offline;
pub mod output;
mod reconcile;
mod report;
mod rerate;
mod statement;
pub mod tenants;

use anyhow::Result;
use clap::Subcommand;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Every command of `minutely` but `serve`, in the order `minutely --help` lists them.
#[derive(Subcommand)]
pub enum Command {
    /// Rate cards: import, export, look up a number.
    #[command(subcommand)]
    Rates(catalogue::RatesCommand),
    /// The country table: export it, or import an edited one.
    #[command(subcommand)]
    Countries(catalogue::CountriesCommand),
    /// Create or update a tenant from a declarative file.
    ///
    /// Example: minutely apply -f examples/tenant.toml
    Apply {
        /// The tenant file (TOML; see README.md for the format).
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
    },
    /// The Communications Credits wallet: show, fund, ledger.
    #[command(subcommand)]
    Wallet(tenants::WalletCommand),
    /// Rate and persist a CSV file of call records, idempotently.
    ///
    /// Example: minutely ingest calls.csv --tenant contoso
    Ingest(ingest::IngestArgs),
    /// Imports from the system a provider leaves: CGRateS tariff plans, switch call records,
    /// carrier rate decks.
    #[command(subcommand)]
    Import(import::ImportCommand),
    /// After an outage, settle once the calls the proxy saw end while their end report was
    /// lost, from Kamailio's acc log (stop the server first; `--dry-run` changes nothing).
    ///
    /// Example: minutely reconcile --acc /var/log/kamailio/acc.log --dry-run
    Reconcile(reconcile::ReconcileArgs),
    /// After a rate-card fix, rate a tenant's charged calls of a period again: each changed
    /// call's old charge is refunded and the new one debited, in canonical order (stop the
    /// server first; `--dry-run` shows the difference and changes nothing; `--list` shows the
    /// runs).
    ///
    /// Example: minutely rerate --tenant contoso --from 2026-03-01T00:00:00Z --to 2026-04-01T00:00:00Z --dry-run
    Rerate(rerate::RerateArgs),
    /// Rate call records offline, without a store, replaying the wallet in memory; writes the
    /// PSTN usage export to stdout. Several tenants at once: give --tenant-file several times
    /// or a directory; each record goes to its `tenant` column's tenant, else its organizer's.
    ///
    /// Example: minutely rate --rates rates.csv --currency EUR --tenant-file tenant.toml --calls calls.csv --refused refused.csv > usage.csv
    ///
    /// Example: minutely rate --rates rates.csv --currency EUR --tenant-file tenants/ --calls all.csv > usage.csv
    Rate(offline::RateArgs),
    /// Reports from the store.
    #[command(subcommand)]
    Report(report::ReportCommand),
    /// The toll-fraud guard: replay a tenant's past dial-outs through it (reads the store
    /// only; works while a server runs).
    ///
    /// Example: minutely fraud simulate --tenant contoso --from 2026-01-01 --to 2026-03-31
    #[command(subcommand)]
    Fraud(fraud::FraudCommand),
    /// What the tenant's calls of past months would have cost with every organizer
    /// pay-per-minute, every organizer on the subscription, or the cheapest plan per organizer,
    /// at the operator's license prices; works while a server runs.
    ///
    /// Example: minutely advise --tenant contoso --from 2026-01 --to 2026-03
    Advise(advise::AdviseArgs),
    /// The operator's monthly license prices per currency (used by `advise`).
    #[command(subcommand)]
    Prices(advise::PricesCommand),
    /// The monthly statement of a tenant's Communications Credits wallet (HTML, PDF or JSON,
    /// in en, ja, zh-CN, fr or de); works while a server runs.
    ///
    /// Example: minutely statement --tenant contoso --month 2026-03 --lang fr --format pdf -o statement.pdf
    Statement(statement::StatementArgs),
    /// Operator settings kept in the store.
    #[command(subcommand)]
    Settings(tenants::SettingsCommand),
    /// An offline demonstration on generated data (no store is touched).
    Demo(demo::DemoArgs),
    /// API keys: create (shown once), list, revoke. A running server sees the change within a
    /// second.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// The audit log of administrative changes (who, what, when, before and after), oldest
    /// first; works while a server runs.
    ///
    /// Example: minutely audit --tenant contoso
    Audit(audit::AuditArgs),
    /// Write a verified copy of the store to a file; works while a server runs.
    ///
    /// Example: minutely backup --to minutely-2026-11-23.db
    Backup(backup::BackupArgs),
    /// Replace the store by a verified backup; refused while a server runs.
    ///
    /// Example: minutely restore --from minutely-2026-11-23.db --force
    Restore(backup::RestoreArgs),
    /// Copy an embedded store into a new PostgreSQL database, verified (every table's rows,
    /// every tenant's journal and wallet); the embedded store is left as it was. Stop the
    /// server first.
    ///
    /// Example: minutely migrate --from minutely.db --to postgres://minutely@127.0.0.1:5432/minutely
    Migrate(migrate::MigrateArgs),
}

/// Runs one command on the store at `db` (some commands touch no store).
pub fn run(db: &Path, command: Command) -> Result<()> {
    match command {
        Command::Rates(c) => catalogue::rates(db, c),
        Command::Countries(c) => catalogue::countries(db, c),
        Command::Apply { file } => tenants::apply(db, &file),
        Command::Wallet(c) => tenants::wallet(db, c),
        Command::Ingest(args) => ingest::run(db, args),
        Command::Import(c) => import::run(db, c),
        Command::Reconcile(args) => reconcile::run(db, args),
        Command::Rerate(args) => rerate::run(db, args),
        Command::Rate(args) => offline::run(args),
        Command::Report(c) => report::run(db, c),
        Command::Fraud(c) => fraud::run(db, c),
        Command::Advise(args) => advise::run(db, args),
        Command::Prices(c) => advise::prices(db, c),
        Command::Statement(args) => statement::run(db, args),
        Command::Settings(c) => tenants::settings(db, c),
        Command::Demo(args) => demo::run(args),
        Command::Keys(c) => keys::run(db, c),
        Command::Audit(args) => audit::run(db, args),
        Command::Backup(args) => backup::backup(db, args),
        Command::Migrate(args) => migrate::run(args),
        Command::Restore(args) => backup::restore(db, args),
    }
}

/// The exit code of a command's result: failure with the error (and its causes) on stderr.
pub fn exit_code(result: Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // A reader that stops early (`| head`) is not an error of ours.
        Err(error) if output::is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
