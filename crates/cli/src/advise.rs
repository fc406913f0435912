//! `minutely advise` (the plan advisor on the store, as `GET /v1/tenants/{t}/advice` answers)
//! and `minutely prices ...` (the operator's monthly license prices).

use crate::output::{load_book, open_store, open_store_to_change};
use anyhow::{Result, anyhow, bail};
use clap::{Args, Subcommand};
use minutely_core::advisor::LicensePrices;
use minutely_core::calendar::Month;
use minutely_core::directory::Sku;
use minutely_core::money::{Currency, parse_amount};
use minutely_service::advice::{AdviceResponse, ScenarioJson, advice, check_period};
use minutely_service::audit::{Actor, snapshot};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

#[derive(Args)]
pub struct AdviseArgs {
    #[arg(long)]
    tenant: String,
    /// First month, YYYY-MM (tenant time zone).
    #[arg(long)]
    from: String,
    /// Last month, YYYY-MM, inclusive (at most 12 months, not after the current month).
    #[arg(long)]
    to: String,
    /// Print the JSON of GET /v1/tenants/{tenant}/advice instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
pub enum PricesCommand {
    /// Set monthly license prices of a currency; licenses not named keep their price.
    ///
    /// Example: minutely prices set EUR MCOMEETADD=8.00 MCOMEETACPEA=0 MCOPSTNPP=1.50
    Set {
        /// ISO 4217 code.
        currency: String,
        /// LICENSE=PRICE pairs (MCOMEETADD, MCOMEETACPEA, MCOPSTNPP, MCOMEETADD_DIALOUT_US).
        #[arg(required = true)]
        prices: Vec<String>,
    },
    /// Every currency's license prices.
    List,
}

pub fn run(db: &Path, args: AdviseArgs) -> Result<()> {
    let store = open_store(db)?;
    let book = load_book(&store, &args.tenant)?;
    let tenant = book.tenant;
    let current = Month::of_instant(jiff::Timestamp::now(), &tenant.timezone);
    let period = check_period(Some(&args.from), Some(&args.to), current)
        .map_err(|e| anyhow!("{}", e.detail))?;
    let json = advice(&store, &tenant, period).map_err(|e| anyhow!("{}", e.detail))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        print!("{}", table(&json));
    }
    Ok(())
}

fn scenario_line(out: &mut String, name: &str, s: &ScenarioJson) {
    if s.available {
        let _ = writeln!(
            out,
            "  {name:<18} {:>12} {:>12} {:>8}/{:<8} {:>12}",
            s.license_cost, s.usage_cost, s.pool_minutes_used, s.pool_minutes_size, s.total
        );
    } else {
        let _ = writeln!(
            out,
            "  {name:<18} not available: {} ({})",
            s.unavailable_reason.as_deref().unwrap_or(""),
            s.unavailable_detail.as_deref().unwrap_or("")
        );
    }
}

/// The readable form of the advice.
fn table(a: &AdviceResponse) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Plan advice for {} ({}), {} to {} ({} months), {} charged calls",
        a.tenant, a.currency, a.period.from, a.period.to, a.period.months, a.calls
    );
    let _ = writeln!(
        out,
        "\n  {:<18} {:>12} {:>12} {:>17} {:>12}",
        "scenario", "licenses", "usage", "pool used/size", "total"
    );
    scenario_line(&mut out, "actual", &a.scenarios.actual);
    scenario_line(&mut out, "all pay-per-minute", &a.scenarios.all_ppm);
    scenario_line(&mut out, "all subscription", &a.scenarios.all_subscription);
    scenario_line(&mut out, "cheapest", &a.scenarios.cheapest);
    let _ = writeln!(
        out,
        "\n  saving against actual: {} {}",
        a.saving, a.currency
    );
    let _ = writeln!(
        out,
        "\n  {:<32} {:<13} {:<24} {:>6} {:>8} {:>10} {:>10}",
        "user", "current", "recommended", "calls", "minutes", "ppm", "subscr."
    );
    for u in &a.users {
        let recommended = match (u.recommended.as_deref(), u.credits_license) {
            (Some(sku), true) => format!("{sku}+MCOPSTNPP"),
            (Some(sku), false) => sku.to_string(),
            (None, _) => "-".to_string(),
        };
        let _ = writeln!(
            out,
            "  {:<32} {:<13} {:<24} {:>6} {:>8} {:>10} {:>10}",
            u.upn,
            u.current.as_deref().unwrap_or("-"),
            recommended,
            u.calls,
            u.minutes,
            u.cost_ppm.as_deref().unwrap_or("-"),
            u.cost_subscription.as_deref().unwrap_or("-")
        );
    }
    if !a.missing_prices.is_empty() {
        let _ = writeln!(
            out,
            "\n  no price set (counted as 0): {}; set them with `minutely prices set {} ...`",
            a.missing_prices.join(", "),
            a.currency
        );
    }
    if a.unrated_calls > 0 {
        let _ = writeln!(
            out,
            "  {} calls could not be re-rated and count at their actual charge",
            a.unrated_calls
        );
    }
    out
}

fn prices_map(prices: &LicensePrices) -> BTreeMap<String, String> {
    prices
        .iter()
        .map(|(sku, price)| (sku.code().to_string(), prices.currency.format(price)))
        .collect()
}

pub fn prices(db: &Path, command: PricesCommand) -> Result<()> {
    match command {
        PricesCommand::List => {
            let store = open_store(db)?;
            for p in store.license_prices()? {
                for (sku, price) in prices_map(&p) {
                    println!("{} {sku} {price}", p.currency.code());
                }
            }
            Ok(())
        }
        PricesCommand::Set { currency, prices } => {
            let currency = Currency::parse(&currency)?;
            let mut changes: Vec<(Sku, rust_decimal::Decimal)> = Vec::new();
            for pair in &prices {
                let (code, price) = pair.split_once('=').ok_or_else(|| {
                    anyhow!("{pair:?}: write LICENSE=PRICE, such as MCOMEETADD=8.00")
                })?;
                let sku = Sku::parse(code).ok_or_else(|| {
                    anyhow!(
                        "{code:?} is not a license (MCOMEETADD, MCOMEETACPEA, MCOPSTNPP or MCOMEETADD_DIALOUT_US)"
                    )
                })?;
                let price = parse_amount(price).map_err(|e| anyhow!("{}: {e}", sku.code()))?;
                if changes.iter().any(|(s, _)| *s == sku) {
                    bail!("{} is given twice", sku.code());
                }
                changes.push((sku, price));
            }
            let (_lock, mut store) = open_store_to_change(db)?;
            let before = store.license_prices_of(currency)?;
            let mut after = before.clone();
            for (sku, price) in changes {
                after.set(sku, price).map_err(|e| anyhow!("{e}"))?;
            }
            if after != before {
                store.atomically(|store| {
                    store.set_license_prices(&after)?;
                    store.append_audit(&[Actor::cli().entry(
                        jiff::Timestamp::now(),
                        None,
                        "license_prices.set",
                        currency.code(),
                        Some(snapshot(&prices_map(&before))),
                        Some(snapshot(&prices_map(&after))),
                    )])
                })?;
            }
            for (sku, price) in prices_map(&after) {
                println!("{} {sku} {price}", currency.code());
            }
            Ok(())
        }
    }
}
