//! `minutely import`: what a provider brings from the system it leaves: CGRateS tariff plans
//! (`cgrates`), switch call records (`cdr`: FreeSWITCH, Asterisk, Kamailio acc) and carrier rate
//! decks (`deck`). Every import refuses bad input whole and names every bad row or field.

mod cdr;
mod cgrates;
mod deck;

use anyhow::Result;
use clap::Subcommand;
use std::path::Path;

#[derive(Subcommand)]
pub enum ImportCommand {
    /// A CGRateS tariff plan directory into a rate card.
    ///
    /// Example: minutely import cgrates ./tariffplan --currency EUR --dry-run
    Cgrates(cgrates::CgratesArgs),
    /// Call records of a switch (FreeSWITCH, Asterisk, Kamailio acc) into Minutely call records.
    ///
    /// Example: minutely import cdr Master.csv --format asterisk --mapping mapping.toml
    Cdr(cdr::CdrArgs),
    /// A carrier's rate deck into a rate card, by a column mapping.
    ///
    /// Example: minutely import deck deck.csv --currency USD --mapping deck.toml
    Deck(deck::DeckArgs),
}

pub fn run(db: &Path, command: ImportCommand) -> Result<()> {
    match command {
        ImportCommand::Cgrates(args) => cgrates::run(db, args),
        ImportCommand::Cdr(args) => cdr::run(db, args),
        ImportCommand::Deck(args) => deck::run(db, args),
    }
}
