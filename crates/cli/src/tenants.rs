//! `minutely apply` and `minutely wallet ...`.

use crate::output::{load_book, open_store, open_store_to_change, read_file};
use anyhow::{Context, Result, bail};
use clap::Subcommand;
use minutely_core::directory::AmountRules;
use minutely_core::ledger::{EntryKind, LotSource};
use minutely_core::money::{Currency, parse_amount};
use minutely_formats::instant;
use minutely_formats::tenant_file::TenantFile;
use minutely_service::Kind;
use minutely_service::audit::{Actor, snapshot};
use minutely_service::commands::wallet::fund_book;
use minutely_service::tenants::apply_to_store;
use minutely_store::{Commit, Store};
use std::io::Write;
use std::path::Path;

#[derive(Subcommand)]
pub enum WalletCommand {
    /// Balance, debt, live lots with their expiry, auto-recharge settings and totals.
    ///
    /// Example: minutely wallet show --tenant contoso
    Show {
        #[arg(long)]
        tenant: String,
    },
    /// Fund the wallet (as the operator): a new lot that expires 12 months later.
    ///
    /// Example: minutely wallet fund --tenant contoso --amount 100 --reference PO-7
    Fund {
        #[arg(long)]
        tenant: String,
        /// Whole currency units, at least the minimum of the wallet's currency (50 by default).
        #[arg(long)]
        amount: String,
        /// The payment's reference; a reference is funded once.
        #[arg(long)]
        reference: Option<String>,
        /// The funding instant (RFC 3339); default now.
        #[arg(long)]
        at: Option<String>,
    },
    /// Every journal entry with its running balance.
    ///
    /// Example: minutely wallet ledger --tenant contoso
    Ledger {
        #[arg(long)]
        tenant: String,
    },
}

#[derive(Subcommand)]
pub enum SettingsCommand {
    /// Print the settings.
    Show,
    /// Change settings.
    ///
    /// Examples: minutely settings set --minimum-amount 50;
    /// minutely settings set --minimum-amount 5000 --currency JPY;
    /// minutely settings set --currency JPY --remove-minimum-amount
    Set {
        /// C11: the smallest funding, auto-recharge amount and trigger, in whole currency units:
        /// the default, or with `--currency` that currency's own.
        #[arg(long, required_unless_present = "remove_minimum_amount")]
        minimum_amount: Option<String>,
        /// The currency (ISO 4217) whose own minimum is set or removed.
        #[arg(long)]
        currency: Option<String>,
        /// Remove the currency's own minimum: it follows the default again.
        #[arg(long, requires = "currency", conflicts_with = "minimum_amount")]
        remove_minimum_amount: bool,
    },
}

/// The audit picture of one minimum: `None` when the currency has none of its own.
fn minimum_picture(rules: &AmountRules, currency: Option<Currency>) -> Option<String> {
    let minimum = match currency {
        None => Some(rules.minimum),
        Some(c) => rules.by_currency.get(&c).copied(),
    }?;
    let mut picture = serde_json::json!({ "minimum_amount": minimum.to_string() });
    if let Some(c) = currency {
        picture["currency"] = serde_json::json!(c.code());
    }
    Some(snapshot(&picture))
}

/// The rules after a `settings set`.
fn changed_rules(
    old: &AmountRules,
    minimum_amount: Option<&str>,
    currency: Option<Currency>,
) -> Result<AmountRules> {
    let minimum = minimum_amount.map(parse_amount).transpose()?;
    let mut rules = old.clone();
    match (currency, minimum) {
        (None, Some(minimum)) => {
            rules.minimum = AmountRules::new(minimum)
                .map_err(anyhow::Error::msg)?
                .minimum;
        }
        (Some(currency), minimum) => rules
            .set_currency(currency, minimum)
            .map_err(anyhow::Error::msg)?,
        (None, None) => bail!("--remove-minimum-amount needs --currency"),
    }
    Ok(rules)
}

pub fn settings(db: &Path, command: SettingsCommand) -> Result<()> {
    let (_lock, mut store) = open_store_to_change(db)?;
    if let SettingsCommand::Set {
        minimum_amount,
        currency,
        ..
    } = command
    {
        let currency = currency.as_deref().map(Currency::parse).transpose()?;
        let old = store.amount_rules()?;
        let rules = changed_rules(&old, minimum_amount.as_deref(), currency)?;
        if old != rules {
            let target = match currency {
                None => "minimum_amount".to_string(),
                Some(c) => format!("minimum_amount.{}", c.code()),
            };
            let entry = Actor::cli().entry(
                jiff::Timestamp::now(),
                None,
                "settings.set",
                &target,
                minimum_picture(&old, currency),
                minimum_picture(&rules, currency),
            );
            store.atomically(|store| {
                store.set_amount_rules(&rules)?;
                store.append_audit(&[entry])
            })?;
        }
    }
    let rules = store.amount_rules()?;
    println!("minimum amount: {}", rules.minimum);
    for (currency, minimum) in &rules.by_currency {
        println!("minimum amount {currency}: {minimum}");
    }
    Ok(())
}

pub fn apply(db: &Path, path: &Path) -> Result<()> {
    let text = String::from_utf8(read_file(path)?)
        .with_context(|| format!("{} is not UTF-8", path.display()))?;
    let (_lock, mut store) = open_store_to_change(db)?;
    let (id, changes) = apply_text(&mut store, &text, &path.display().to_string())?;
    report_changes(&id, &changes);
    Ok(())
}

/// Prints what applying a tenant file changed.
pub fn report_changes(id: &str, changes: &[String]) {
    if changes.is_empty() {
        println!("tenant {id}: no changes");
        return;
    }
    println!(
        "tenant {id}: {} change{}",
        changes.len(),
        if changes.len() == 1 { "" } else { "s" }
    );
    for change in changes {
        println!("  {change}");
    }
}

/// Applies a tenant file's text (`origin` names it in errors) and saves the result; returns the
/// tenant id and the changes made (none when the file matches the store).
pub fn apply_text(store: &mut Store, text: &str, origin: &str) -> Result<(String, Vec<String>)> {
    let file = TenantFile::parse(text).map_err(|e| anyhow::anyhow!("{origin}: {e}"))?;
    let applied =
        apply_to_store(store, &Actor::cli(), &file, jiff::Timestamp::now()).map_err(|e| match e
            .kind
        {
            // A refused file: where in it, and why.
            Kind::Refused(_) | Kind::Unprocessable => anyhow::anyhow!("{origin}: {}", e.detail),
            _ => e.into(),
        })?;
    Ok((applied.tenant, applied.changes))
}

pub fn wallet(db: &Path, command: WalletCommand) -> Result<()> {
    match command {
        WalletCommand::Show { tenant } => show(db, &tenant),
        WalletCommand::Fund {
            tenant,
            amount,
            reference,
            at,
        } => fund(db, &tenant, &amount, reference, at),
        WalletCommand::Ledger { tenant } => ledger(db, &tenant),
    }
}

fn show(db: &Path, tenant: &str) -> Result<()> {
    let store = open_store(db)?;
    let book = load_book(&store, tenant)?;
    let currency = book.tenant.currency;
    let Some(settings) = book.tenant.wallet() else {
        bail!("credits_not_set_up: tenant {tenant} has no wallet set up");
    };
    let now = jiff::Timestamp::now();
    let (funded, debited, forfeited) = book.wallet.totals();
    println!("tenant:    {} ({})", book.tenant.id, book.tenant.name);
    println!(
        "balance:   {} {currency}",
        currency.format(book.wallet.balance())
    );
    println!(
        "debt:      {} {currency}",
        currency.format(book.wallet.debt())
    );
    println!(
        "funded {} - debited {} - forfeited {} (C24)",
        currency.format(funded),
        currency.format(debited),
        currency.format(forfeited)
    );
    match settings.auto_recharge {
        Some(r) if r.enabled => println!(
            "auto-recharge: {} {currency} when the balance falls below {} {currency}{}",
            currency.format(r.amount),
            currency.format(r.trigger),
            if r.payment_accepted {
                ""
            } else {
                " (payment method declined)"
            }
        ),
        _ => println!("auto-recharge: off"),
    }
    for funding in &book.scheduled {
        println!(
            "declared funding {} {currency} ({}) dated {}: made when the ledger reaches that instant",
            currency.format(funding.amount),
            funding.reference,
            instant::format(funding.at)
        );
    }
    println!("lots (oldest first, drained first):");
    for lot in book.wallet.lots() {
        let source = match &lot.source {
            LotSource::Manual { reference } => format!("funding {reference}"),
            LotSource::AutoRecharge { call_id } => format!("auto-recharge after {call_id}"),
        };
        let note = if lot.expires_at <= now {
            "  (expired; forfeited at the next operation)"
        } else {
            ""
        };
        println!(
            "  lot {:>4}  {:>12} of {:>12} {currency}  funded {}  expires {}  {source}{note}",
            lot.id,
            currency.format(lot.remaining),
            currency.format(lot.amount),
            instant::format(lot.funded_at),
            instant::format(lot.expires_at)
        );
    }
    Ok(())
}

fn fund(
    db: &Path,
    tenant: &str,
    amount: &str,
    reference: Option<String>,
    at: Option<String>,
) -> Result<()> {
    let amount = parse_amount(amount)?;
    let at = match at {
        Some(text) => instant::parse(&text).map_err(anyhow::Error::msg)?,
        None => jiff::Timestamp::now(),
    };
    let (_lock, mut store) = open_store_to_change(db)?;
    let mut book = load_book(&store, tenant)?;
    let reference = reference.unwrap_or_else(|| format!("manual-{}", instant::format(at)));
    if store.funding_refs(tenant)?.contains(&reference) {
        println!("funding {reference} was already applied; nothing changed");
        return Ok(());
    }
    let rules = store.amount_rules()?;
    let made = fund_book(&mut book, (amount, reference.clone()), at, true, &rules)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let commit = Commit {
        entries: made.effects.entries,
        events: made.effects.events,
        funding_refs: vec![reference.clone()],
        ..Commit::default()
    };
    let (currency, lot) = (made.funded.currency, made.funded.lot.id);
    let entry = Actor::cli().entry(
        jiff::Timestamp::now(),
        Some(tenant),
        "wallet.fund",
        &reference,
        Some(made.before),
        Some(made.after),
    );
    store.atomically(|store| {
        store.save(&book, &commit)?;
        store.append_audit(&[entry])
    })?;
    println!(
        "funded {} {currency} as lot {lot} ({reference}); balance {} {currency}",
        currency.format(amount),
        currency.format(book.wallet.balance())
    );
    Ok(())
}

fn ledger(db: &Path, tenant: &str) -> Result<()> {
    let store = open_store(db)?;
    let book = load_book(&store, tenant)?;
    let currency = book.tenant.currency;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{:>6}  {:<20}  {:<8}  {:>12}  {:>12}  detail",
        "seq", "at", "kind", "amount", "balance"
    )?;
    for entry in store.journal(tenant)? {
        let sign = match entry.kind {
            EntryKind::Funding | EntryKind::Recharge | EntryKind::Refund => "+",
            EntryKind::Debit | EntryKind::Forfeit => "-",
        };
        let detail = entry
            .call_id
            .clone()
            .or(entry.reference.clone())
            .unwrap_or_default();
        writeln!(
            out,
            "{:>6}  {:<20}  {:<8}  {:>12}  {:>12}  {detail}",
            entry.seq,
            instant::format(entry.at),
            entry.kind.as_str(),
            format!("{sign}{}", currency.format(entry.amount)),
            currency.format(entry.balance_after)
        )?;
    }
    Ok(())
}
