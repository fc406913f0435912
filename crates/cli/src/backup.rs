//! `minutely backup` and `minutely restore`: a verified, consistent copy of the store, taken
//! while a server runs; and its restore, refused while a server runs.

use anyhow::{Context, Result};
use clap::Args;
use minutely_store::{Store, VerifyReport};
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct BackupArgs {
    /// The backup file to write (refused when it exists, unless --overwrite).
    #[arg(long = "to")]
    to: PathBuf,
    /// Replace an existing backup file.
    #[arg(long)]
    overwrite: bool,
}

#[derive(Args)]
pub struct RestoreArgs {
    /// The backup file to restore (verified before anything changes).
    #[arg(long = "from")]
    from: PathBuf,
    /// Replace an existing store at --db.
    #[arg(long)]
    force: bool,
}

/// Copies the store to a backup file. Only reads: works while `minutely serve` runs.
pub fn backup(db: &Path, args: BackupArgs) -> Result<()> {
    let store = Store::open_read_only(db)
        .with_context(|| format!("cannot open the store {}", db.display()))?;
    let report = store
        .backup_to(&args.to, args.overwrite)
        .with_context(|| format!("backup of {} failed", db.display()))?;
    println!(
        "wrote {} ({}), verified",
        args.to.display(),
        describe(&report)
    );
    Ok(())
}

/// Replaces the store at `db` by a verified backup; refused while a server owns the store.
pub fn restore(db: &Path, args: RestoreArgs) -> Result<()> {
    let lock = minutely_store::claim(db)?;
    let report = minutely_store::restore(&args.from, db, args.force, &lock)
        .with_context(|| format!("restore of {} refused", args.from.display()))?;
    println!(
        "restored {} into {} ({}), verified",
        args.from.display(),
        db.display(),
        describe(&report)
    );
    Ok(())
}

fn describe(report: &VerifyReport) -> String {
    format!(
        "{} tenants, {} journal entries, {} bytes, schema version {}",
        report.tenants, report.entries, report.bytes, report.schema_version
    )
}
