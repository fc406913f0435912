//! `minutely-tools gen ...`: realistic sample data for tests, demos and benchmarks (the
//! generators themselves are `minutely_cli::generate`, which `minutely demo` and `minutely serve
//! --demo` use too). Deterministic: the same arguments and seed always give the same bytes.

use anyhow::{Context, Result};
use clap::Subcommand;
use minutely_cli::generate::{CallSpec, generate_calls, sample_rates};
use minutely_cli::output::{emit, read_file};
use minutely_core::money::Currency;
use minutely_formats::{countries, instant};
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum GenCommand {
    /// Call records for the tenant of a tenant file: dial-in to its toll and toll-free numbers
    /// and dial-out to many countries, with a long tail of durations.
    ///
    /// Example: minutely-tools gen calls --tenant-file examples/tenant.toml --count 100000 --seed 7 > calls.csv
    Calls {
        #[arg(long)]
        tenant_file: PathBuf,
        #[arg(long)]
        count: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The first call's start (RFC 3339).
        #[arg(long, default_value = "2026-01-05T00:00:00Z")]
        start: String,
        /// Days the calls spread over.
        #[arg(long, default_value_t = 28)]
        days: u32,
        /// Distinct external numbers (callers and destinations) to draw from.
        #[arg(long, default_value_t = 20000)]
        population: usize,
        /// Write to this file instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// A sample rate card (SAMPLE PRICES, not a tariff) covering every country of the country
    /// table: dial-out fixed and mobile prefixes, premium prefixes, toll and toll-free dial-in.
    ///
    /// Example: minutely-tools gen rates --currency USD > rates.csv
    Rates {
        #[arg(long)]
        currency: String,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Extra, longer dial-out prefixes to add (for rate cards of thousands of prefixes).
        #[arg(long, default_value_t = 0)]
        extra_prefixes: usize,
        /// When the card takes effect (RFC 3339).
        #[arg(long, default_value = "2025-01-01T00:00:00Z")]
        effective_from: String,
    },
}

pub fn run(command: GenCommand) -> Result<()> {
    match command {
        GenCommand::Calls {
            tenant_file,
            count,
            seed,
            start,
            days,
            population,
            out,
        } => {
            let start = instant::parse(&start).map_err(anyhow::Error::msg)?;
            let text = String::from_utf8(read_file(&tenant_file)?)
                .context("the tenant file is not UTF-8")?;
            let spec = CallSpec {
                count,
                seed,
                start,
                days,
                population,
            };
            match out {
                Some(path) => {
                    let file = std::fs::File::create(&path)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    generate_calls(&text, &spec, &mut std::io::BufWriter::new(file))
                }
                None => generate_calls(&text, &spec, &mut std::io::stdout().lock()),
            }
        }
        GenCommand::Rates {
            currency,
            seed,
            extra_prefixes,
            effective_from,
        } => {
            let currency = Currency::parse(&currency)?;
            let at = instant::parse(&effective_from).map_err(anyhow::Error::msg)?;
            emit(&sample_rates(
                &countries::shipped(),
                currency,
                seed,
                extra_prefixes,
                at,
            ))
        }
    }
}
