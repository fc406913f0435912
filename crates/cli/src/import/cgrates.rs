//! `minutely import cgrates` (to be written).

use anyhow::Result;
use clap::Args;
use std::path::Path;

#[derive(Args)]
pub struct CgratesArgs {}

pub fn run(_db: &Path, _args: CgratesArgs) -> Result<()> {
    anyhow::bail!("minutely import cgrates is not available yet")
}
