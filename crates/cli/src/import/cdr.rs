//! `minutely import cdr` (to be written).

use anyhow::Result;
use clap::Args;
use std::path::Path;

#[derive(Args)]
pub struct CdrArgs {}

pub fn run(_db: &Path, _args: CdrArgs) -> Result<()> {
    anyhow::bail!("minutely import cdr is not available yet")
}
