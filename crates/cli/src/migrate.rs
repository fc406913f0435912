//! `minutely migrate`: an embedded store moved up to PostgreSQL, verified.

use anyhow::{Context, Result, bail};
use clap::Args;
use minutely_store::{Store, is_postgres, redacted};
use std::path::PathBuf;

#[derive(Args)]
pub struct MigrateArgs {
    /// The embedded store to copy (a SQLite file; stop the server on it first).
    #[arg(long = "from")]
    from: PathBuf,
    /// The PostgreSQL database to copy it into (postgres://user@host:port/dbname), new or
    /// empty; its schema is made by the copy.
    #[arg(long = "to")]
    to: PathBuf,
}

/// Copies the store at `--from` into the database at `--to`, verified; the source is left as
/// it was.
pub fn run(args: MigrateArgs) -> Result<()> {
    if is_postgres(&args.from) {
        bail!("--from is the embedded store to move up: a SQLite file, not a PostgreSQL URL");
    }
    if !is_postgres(&args.to) {
        bail!(
            "--to must name a PostgreSQL database (postgres://user@host:port/dbname), not {}",
            args.to.display()
        );
    }
    if !args.from.exists() {
        bail!("no store at {}", args.from.display());
    }
    let to = redacted(&args.to);
    let _source_lock = minutely_store::claim(&args.from)?;
    let _dest_lock = minutely_store::claim(&args.to)
        .with_context(|| format!("cannot take the owner lock of {to}"))?;
    let countries = minutely_formats::countries::shipped();
    let source = Store::open(&args.from, &countries)
        .with_context(|| format!("cannot open the store {}", args.from.display()))?;
    let mut dest =
        Store::open(&args.to, &countries).with_context(|| format!("cannot open {to}"))?;
    let report = source
        .migrate_to(&mut dest)
        .with_context(|| format!("migration of {} into {to} failed", args.from.display()))?;
    let rows: u64 = report.rows.iter().map(|(_, n)| n).sum();
    println!(
        "migrated {} into {to}: {} tenants, {rows} rows in {} tables; every table's rows, \
         every tenant's journal and wallet verified equal",
        args.from.display(),
        report.tenants,
        report.rows.len()
    );
    for (table, n) in &report.rows {
        println!("  {table:<20} {n:>10}");
    }
    Ok(())
}
