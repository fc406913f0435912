//! `minutely demo`: an offline demonstration on generated data. It builds a sample rate card,
//! takes the example tenant, generates a month of conference traffic and rates it with the same
//! code as every other path, then shows what happened.

use crate::generate::{CallSpec, generate_calls, sample_rates};
use crate::offline::{Inputs, funding_label, load_tenant, rate_all};
use anyhow::Result;
use clap::Args;
use minutely_formats::calls::CallFile;
use minutely_formats::tenant_file::EXAMPLE;
use minutely_formats::{countries, instant, ratecard};

#[derive(Args)]
pub struct DemoArgs {
    /// How many call records to generate.
    #[arg(long, default_value_t = 20000)]
    count: u64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

pub fn run(args: DemoArgs) -> Result<()> {
    let table = countries::shipped();
    let book = load_tenant(EXAMPLE, &table, &Default::default())?;
    let currency = book.tenant.currency;
    let start = instant::parse("2026-01-05T00:00:00Z").map_err(anyhow::Error::msg)?;
    let card_text = sample_rates(
        &table,
        currency,
        args.seed,
        0,
        instant::parse("2025-01-01T00:00:00Z").map_err(anyhow::Error::msg)?,
    );
    let card =
        ratecard::parse(card_text.as_bytes(), currency).map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("Minutely demo (offline; nothing is written to disk)");
    println!(
        "  rate card: {} SAMPLE prices in {currency}, every country of the country table",
        card.entries().count()
    );
    println!(
        "  tenant:    {} ({}), {} users, {} service numbers",
        book.tenant.id,
        book.tenant.name,
        book.tenant.users().count(),
        book.tenant.numbers().count()
    );
    let spec = CallSpec {
        count: args.count,
        seed: args.seed,
        start,
        days: 56,
        population: 5000,
    };
    let mut generated = Vec::new();
    generate_calls(EXAMPLE, &spec, &mut generated)?;
    let calls = CallFile::read(&generated[..], |_| {}).map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "  traffic:   {} generated call records over 8 weeks from {}\n",
        calls.len(),
        instant::format(start)
    );
    let mut inputs = Inputs {
        countries: table,
        card,
        books: vec![book],
        calls,
        multi: false,
    };
    let mut export = Vec::new();
    let summary = rate_all(&mut inputs, true, &mut export, None)?.total();
    println!("First rows of the extended PSTN usage export:");
    for line in String::from_utf8_lossy(&export).lines().take(6) {
        println!("  {line}");
    }
    println!("\nWho paid:");
    for (funding, n) in &summary.by_funding {
        println!("  {:<30} {n} calls", funding_label(funding));
    }
    println!("\nSummary:");
    print!("{}", summary.render(currency, &inputs.books[0]));
    println!("\nWallet lots now (FIFO; each expires 12 months after purchase):");
    for lot in inputs.books[0].wallet.lots() {
        println!(
            "  lot {:>3}: {:>10} of {:>8} {currency}, funded {}, expires {}",
            lot.id,
            currency.format(lot.remaining),
            currency.format(lot.amount),
            instant::format(lot.funded_at),
            instant::format(lot.expires_at)
        );
    }
    println!(
        "\nNext: `minutely-tools gen rates --currency EUR > rates.csv`, `minutely apply -f examples/tenant.toml`, `minutely rates import rates.csv --currency EUR`, then `minutely ingest`."
    );
    Ok(())
}
