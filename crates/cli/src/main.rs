//! `minutely`: the command line of the Minutely charging engine.

mod advise;
mod audit;
mod backup;
mod catalogue;
mod demo;
mod generate;
mod ingest;
mod keys;
mod load;
mod offline;
mod output;
mod report;
mod serve;
mod soak;
mod statement;
mod tenants;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Billing and real-time charging for pay-per-minute audio conferencing.
#[derive(Parser)]
#[command(
    name = "minutely",
    version,
    about = "Billing and real-time charging for pay-per-minute audio conferencing."
)]
struct Cli {
    /// The embedded store (a SQLite file, created when missing).
    #[arg(
        long,
        global = true,
        env = "MINUTELY_DB",
        default_value = "minutely.db"
    )]
    db: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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
    /// Rate call records offline, without a store, replaying the wallet in memory; writes the
    /// PSTN usage export to stdout.
    ///
    /// Example: minutely rate --rates rates.csv --currency EUR --tenant-file tenant.toml --calls calls.csv --refused refused.csv > usage.csv
    Rate(offline::RateArgs),
    /// Reports from the store.
    #[command(subcommand)]
    Report(report::ReportCommand),
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
    /// Generate sample data: call records or a sample rate card.
    #[command(subcommand)]
    Gen(generate::GenCommand),
    /// Operator settings kept in the store.
    #[command(subcommand)]
    Settings(tenants::SettingsCommand),
    /// An offline demonstration on generated data (no store is touched).
    Demo(demo::DemoArgs),
    /// Run the HTTP API (and, with --demo, a live demonstration) on the embedded store.
    ///
    /// Example: minutely serve --demo
    Serve(serve::ServeArgs),
    /// Drive authorize + end pairs against a running server and report throughput and latency.
    ///
    /// Example: minutely load --url http://127.0.0.1:8080 --key mk_... --pairs 20000
    Load(load::LoadArgs),
    /// A bounded run at a steady arrival rate with mixed traffic: prints latency, the server's
    /// memory and the store's size every interval, then a verdict on growth. The store's file
    /// sizes are those of --db (the same default as serve) when that file exists.
    ///
    /// Example: minutely --db minutely.db soak --key mk_... --rate 800 --duration 600 --pid 4242
    Soak(soak::SoakArgs),
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Rates(c) => catalogue::rates(&cli.db, c),
        Command::Countries(c) => catalogue::countries(&cli.db, c),
        Command::Apply { file } => tenants::apply(&cli.db, &file),
        Command::Wallet(c) => tenants::wallet(&cli.db, c),
        Command::Ingest(args) => ingest::run(&cli.db, args),
        Command::Rate(args) => offline::run(args),
        Command::Report(c) => report::run(&cli.db, c),
        Command::Advise(args) => advise::run(&cli.db, args),
        Command::Prices(c) => advise::prices(&cli.db, c),
        Command::Statement(args) => statement::run(&cli.db, args),
        Command::Gen(c) => generate::run(c),
        Command::Settings(c) => tenants::settings(&cli.db, c),
        Command::Demo(args) => demo::run(args),
        Command::Keys(c) => keys::run(&cli.db, c),
        Command::Serve(args) => serve::run(&cli.db, args),
        Command::Load(args) => load::run(args),
        Command::Soak(args) => soak::run(&cli.db, args),
        Command::Audit(args) => audit::run(&cli.db, args),
        Command::Backup(args) => backup::backup(&cli.db, args),
        Command::Restore(args) => backup::restore(&cli.db, args),
    };
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
