//! `minutely rates ...` and `minutely countries ...`.

use crate::output::{emit, open_store, open_store_to_change, parse_duration_s, read_file};
use anyhow::{Context, Result, bail};
use clap::Subcommand;
use minutely_core::catalogue::{RateCard, RateEntry, RateVersion};
use minutely_core::money::Currency;
use minutely_core::numbers::{Country, E164, NumberPlan, PlanAnswer};
use minutely_formats::{countries, instant, ratecard};
use minutely_service::Command;
use minutely_service::audit::{Actor, countries_snapshots};
use minutely_service::clock::Clock;
use minutely_service::commands::catalogue::CatalogueCommand;
use minutely_service::commands::expect_answer;
use minutely_service::writer::{State, WriterConfig, execute_once};
use minutely_store::ImportSummary;
use std::path::{Path, PathBuf};

#[derive(Subcommand)]
pub enum RatesCommand {
    /// Import a rate-card CSV for a currency; a file with any bad row is refused whole.
    ///
    /// Example: minutely rates import rates.csv --currency USD
    Import {
        file: PathBuf,
        /// ISO 4217 currency of every price in the file.
        #[arg(long)]
        currency: String,
        /// A version of the file whose `effective_from` is already stored with other entries
        /// replaces it (a corrected version; rerate the calls it priced afterwards) instead of
        /// refusing the import.
        #[arg(long)]
        replace: bool,
    },
    /// Write a currency's rate card (every version) as CSV to stdout.
    ///
    /// Example: minutely rates export --currency USD > rates.csv
    Export {
        #[arg(long)]
        currency: String,
    },
    /// What does a call cost? Prints destination, country, zone, premium flag, rate, increments
    /// and the cost of the duration.
    ///
    /// Example: minutely rates lookup "+81 3 1234 5678" --currency USD --duration 125s
    Lookup {
        /// The number dialled (dial_out), or the service number (dial-in kinds).
        number: String,
        #[arg(long)]
        currency: String,
        /// Duration of the call, such as 125s, 2m or 1h.
        #[arg(long, default_value = "60s")]
        duration: String,
        /// dial_out, dial_in_toll or dial_in_toll_free.
        #[arg(long, default_value = "dial_out")]
        kind: String,
        /// For dial_in_toll_free: the caller's number.
        #[arg(long)]
        caller: Option<String>,
        /// The instant the call starts (RFC 3339); default now.
        #[arg(long)]
        at: Option<String>,
        /// Read the rate card from this CSV file instead of the store.
        #[arg(long)]
        rates: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
pub enum CountriesCommand {
    /// Write the store's country table as CSV to stdout.
    Export,
    /// Replace the store's country table with an edited CSV (refused whole on any bad row).
    Import { file: PathBuf },
}

fn currency(code: &str) -> Result<Currency> {
    Ok(Currency::parse(code)?)
}

/// Adds a card's versions to the store (a version already there with the same entries is
/// unchanged; one with other entries is a conflict that changes nothing), with an audit row,
/// and prints what was added and what was unchanged. Every import of a rate card ends here.
pub(crate) fn store_card(db: &Path, card: &RateCard) -> Result<()> {
    store_card_as(db, card, false)
}

/// `store_card`, where `replace` lets a corrected version take the place of the stored one
/// with the same `effective_from`: the service's own import (`CatalogueCommand::ImportRateCard`,
/// as the API runs it), carried out by the writer's code in this process.
fn store_card_as(db: &Path, card: &RateCard, replace: bool) -> Result<()> {
    let currency = card.currency;
    let (_lock, store) = open_store_to_change(db)?;
    let command = Command::Catalogue(CatalogueCommand::ImportRateCard {
        actor: Actor::cli(),
        card: Box::new(card.clone()),
        replace,
    });
    let summary = execute_once(
        State::load(store)?,
        &WriterConfig::default(),
        &Clock::System,
        command,
        true,
    )
    .and_then(expect_answer::<ImportSummary>)
    .map_err(|e| anyhow::anyhow!("{}: {}", e.code, e.detail))?;
    for at in &summary.added {
        println!(
            "added {currency} version effective from {}",
            instant::format(*at)
        );
    }
    for at in &summary.replaced {
        println!(
            "replaced {currency} version effective from {}",
            instant::format(*at)
        );
    }
    for at in &summary.unchanged {
        println!(
            "unchanged {currency} version effective from {}",
            instant::format(*at)
        );
    }
    Ok(())
}

pub fn rates(db: &Path, command: RatesCommand) -> Result<()> {
    match command {
        RatesCommand::Import {
            file,
            currency: code,
            replace,
        } => {
            let currency = currency(&code)?;
            let card = ratecard::parse(&read_file(&file)?, currency)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            store_card_as(db, &card, replace)
        }
        RatesCommand::Export { currency: code } => {
            let store = open_store(db)?;
            emit(&ratecard::write(&store.rate_card(currency(&code)?)?))?;
            Ok(())
        }
        RatesCommand::Lookup {
            number,
            currency: code,
            duration,
            kind,
            caller,
            at,
            rates,
        } => {
            let currency = currency(&code)?;
            let card = match rates {
                Some(path) => ratecard::parse(&read_file(&path)?, currency)
                    .map_err(|e| anyhow::anyhow!("{e}"))?,
                None => open_store(db)?.rate_card(currency)?,
            };
            let countries = match open_store(db) {
                Ok(store) => store.countries()?,
                Err(_) => countries::shipped(),
            };
            let at = match at {
                Some(text) => instant::parse(&text).map_err(anyhow::Error::msg)?,
                None => jiff::Timestamp::now(),
            };
            let duration_s = parse_duration_s(&duration)?;
            let Some(version) = card.version_at(at) else {
                bail!(
                    "no_rate: no {currency} rate-card version is in force at {}",
                    instant::format(at)
                );
            };
            let entry = lookup(version, &number, &kind, caller.as_deref())?;
            let zone = if countries.is_zone_a(entry.country) {
                "Zone A"
            } else {
                "outside Zone A"
            };
            println!("destination:    {}", entry.name);
            println!(
                "country:        {} ({})",
                countries.name(entry.country),
                entry.country
            );
            println!("zone:           {zone}");
            println!("premium:        {}", entry.premium);
            println!(
                "rate:           {} {currency} per minute",
                entry.rate_per_minute
            );
            println!("connection fee: {} {currency}", entry.connection_fee);
            println!(
                "increments:     {}s first block, then {}s",
                entry.first_block_s, entry.increment_s
            );
            println!(
                "version:        effective from {}",
                instant::format(version.effective_from)
            );
            println!(
                "cost of {duration_s}s:   {} {currency} ({} billable seconds)",
                currency.format(entry.cost(duration_s, currency)),
                entry.billable_seconds(duration_s)
            );
            Ok(())
        }
    }
}

fn plan_country(text: &str) -> Result<(E164, Option<Country>)> {
    let number = E164::parse(text).with_context(|| {
        format!("invalid_number: {text:?} is not an E.164 number (+ then digits)")
    })?;
    match NumberPlan::global().classify(number) {
        PlanAnswer::Country(c) => Ok((number, Some(c))),
        PlanAnswer::NonGeographic => Ok((number, None)),
        PlanAnswer::Invalid => {
            bail!("invalid_number: {text:?} is not a valid number in the numbering plan")
        }
    }
}

fn lookup<'a>(
    version: &'a RateVersion,
    number: &str,
    kind: &str,
    caller: Option<&str>,
) -> Result<&'a RateEntry> {
    let (number, country) = plan_country(number)?;
    let entry = match kind {
        "dial_out" => version.dial_out(number),
        "dial_in_toll" | "dial_in_toll_free" => {
            let country = country.context("a dial-in number must belong to a country")?;
            if kind == "dial_in_toll" {
                version.dial_in_toll(country)
            } else {
                let origin = caller.map(plan_country).transpose()?.and_then(|(_, c)| c);
                version.dial_in_toll_free(country, origin)
            }
        }
        other => bail!("{other:?} is not one of dial_out, dial_in_toll, dial_in_toll_free"),
    };
    entry.with_context(|| format!("no_rate: no {kind} rate for {number}"))
}

pub fn countries(db: &Path, command: CountriesCommand) -> Result<()> {
    match command {
        CountriesCommand::Export => {
            emit(&countries::write(&open_store(db)?.countries()?))?;
            Ok(())
        }
        CountriesCommand::Import { file } => {
            let table = countries::parse(&read_file(&file)?).map_err(|e| anyhow::anyhow!("{e}"))?;
            let count = table.rows().count();
            let (_lock, mut store) = open_store_to_change(db)?;
            let old = store.countries()?;
            let (before, after) = countries_snapshots(&old, &table);
            let entry = Actor::cli().entry(
                jiff::Timestamp::now(),
                None,
                "countries.replace",
                "countries",
                Some(before),
                Some(after),
            );
            store.atomically(|store| {
                store.replace_countries(&table)?;
                // The same table again changes nothing, and records nothing.
                if old != table {
                    store.append_audit(&[entry])?;
                }
                Ok::<_, minutely_store::StoreError>(())
            })?;
            println!("replaced the country table ({count} countries)");
            Ok(())
        }
    }
}
