//! `minutely`: the command line of the Minutely charging engine. `serve` runs the HTTP server
//! (this crate, with the server crate); every other command is crates/cli's.

mod logs;
mod serve;

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
    /// The store: a SQLite file (created when missing), or a PostgreSQL database
    /// (postgres://user@host:port/dbname; its schema is made or brought up to date).
    #[arg(
        long,
        visible_alias = "store",
        global = true,
        env = "MINUTELY_DB",
        default_value = "minutely.db"
    )]
    db: PathBuf,
    #[command(subcommand)]
    command: Command,
}

/// The place of `serve` in the help, among the commands of crates/cli (which clap counts from
/// 1): that of `demo`, the sixteenth, which sorts first by name; `keys` follows.
const SERVE_DISPLAY_ORDER: usize = 16;

#[derive(Subcommand)]
enum Command {
    #[command(flatten)]
    Store(minutely_cli::Command),
    /// Run the HTTP API (and, with --demo, a live demonstration) on the embedded store.
    ///
    /// Example: minutely serve --demo
    #[command(display_order = SERVE_DISPLAY_ORDER)]
    Serve(serve::ServeArgs),
}

/// An error whose text names the store by its URL, with the URL's password hidden.
fn hide_password(db: &std::path::Path, error: anyhow::Error) -> anyhow::Error {
    let (shown, hidden) = (db.to_string_lossy(), minutely_store::redacted(db));
    let text = format!("{error:#}");
    if shown == hidden || !text.contains(shown.as_ref()) {
        // Kept as it is (a broken pipe, say, is still recognised).
        return error;
    }
    let text = text.replace(shown.as_ref(), &hidden);
    anyhow::anyhow!(text)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Store(command) => minutely_cli::run(&cli.db, command),
        Command::Serve(args) => serve::run(&cli.db, args),
    };
    minutely_cli::exit_code(result.map_err(|e| hide_password(&cli.db, e)))
}
