//! `minutely import deck` (to be written).

use anyhow::Result;
use clap::Args;
use std::path::Path;

#[derive(Args)]
pub struct DeckArgs {}

pub fn run(_db: &Path, _args: DeckArgs) -> Result<()> {
    anyhow::bail!("minutely import deck is not available yet")
}
