//! `minutely rate`: rates a file of call records without a store, replaying the tenant's
//! fundings, wallet, pool and auto-recharges in memory, in canonical order (C22). The same core
//! code as everywhere else decides every charge.

use crate::output::{progress, read_file};
use anyhow::{Context, Result, bail};
use clap::Args;
use minutely_core::catalogue::{CountryTable, RateCard};
use minutely_core::directory::AmountRules;
use minutely_core::engine::{Funding, Mode, Outcome, TenantBook};
use minutely_core::ledger::{EntryKind, Event};
use minutely_core::money::Currency;
use minutely_core::rating::Rater;
use minutely_core::reason::Reason;
use minutely_formats::calls::{CallFile, empty_record};
use minutely_formats::tenant_file::{TenantFile, apply};
use minutely_formats::{countries, export, ratecard};
use rust_decimal::Decimal;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Args)]
pub struct RateArgs {
    /// The rate card (CSV).
    #[arg(long)]
    pub rates: PathBuf,
    /// The rate card's currency (must be the tenant's).
    #[arg(long)]
    pub currency: String,
    /// The tenant file (TOML), with its past fundings.
    #[arg(long)]
    pub tenant_file: PathBuf,
    /// The call records (CSV).
    #[arg(long)]
    pub calls: PathBuf,
    /// Add the five extended columns to the export.
    #[arg(long)]
    pub extended: bool,
    /// Write the refused calls, with their reason codes, to this file.
    #[arg(long)]
    pub refused: Option<PathBuf>,
    /// C11: the smallest funding, recharge amount and trigger, in whole currency units.
    #[arg(long, default_value = "50")]
    pub minimum_amount: String,
    /// A country table to use instead of the shipped one.
    #[arg(long)]
    pub countries: Option<PathBuf>,
}

/// What a run did, for the summary.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub records: u64,
    pub charged: u64,
    /// Records whose call id was seen before with the same content (C23).
    pub duplicates: u64,
    pub refused: BTreeMap<Reason, u64>,
    /// Sum of the charges debited.
    pub charged_amount: Decimal,
    pub by_funding: BTreeMap<&'static str, u64>,
    pub pool_minutes: u64,
    pub recharges: u64,
    pub recharge_failures: u64,
    pub forfeited: Decimal,
}

impl Summary {
    /// Counts one processed call and its effects.
    pub fn count(
        &mut self,
        outcome: &Outcome,
        replay: bool,
        entries: &[minutely_core::ledger::Entry],
        events: &[Event],
    ) {
        self.records += 1;
        if replay {
            self.duplicates += 1;
            return;
        }
        match outcome {
            Outcome::Charged(charge) => {
                self.charged += 1;
                self.charged_amount += charge.amount;
                self.pool_minutes += u64::from(charge.pool_minutes);
                *self.by_funding.entry(charge.funding.as_str()).or_default() += 1;
            }
            Outcome::Refused(reason) => *self.refused.entry(*reason).or_default() += 1,
        }
        self.count_effects(entries, events);
    }

    /// Counts recharges, failures and forfeits.
    pub fn count_effects(&mut self, entries: &[minutely_core::ledger::Entry], events: &[Event]) {
        for entry in entries {
            match entry.kind {
                EntryKind::Recharge => self.recharges += 1,
                EntryKind::Forfeit => self.forfeited += entry.amount,
                _ => {}
            }
        }
        self.recharge_failures += events
            .iter()
            .filter(|e| matches!(e, Event::RechargeFailed { .. }))
            .count() as u64;
    }

    /// Prints the summary to stderr.
    /// The summary as text (one fact a line).
    pub fn render(&self, currency: Currency, book: &TenantBook) -> String {
        let mut text = format!("records:    {}\n", self.records);
        let refused: u64 = self.refused.values().sum();
        text += &format!(
            "charged:    {} ({} {currency})\n",
            self.charged,
            currency.format(self.charged_amount)
        );
        for (funding, n) in &self.by_funding {
            text += &format!("  {funding:<17} {n}\n");
        }
        text += &format!("pool:       {} minutes\n", self.pool_minutes);
        text += &format!("duplicates: {} (charged once; C23)\n", self.duplicates);
        text += &format!("refused:    {refused}\n");
        for (reason, n) in &self.refused {
            text += &format!("  {:<33} {n}\n", reason.code());
        }
        text += &format!(
            "recharges:  {} ({} failed payments)\n",
            self.recharges, self.recharge_failures
        );
        text += &format!(
            "forfeited:  {} {currency}\n",
            currency.format(self.forfeited)
        );
        text += &format!(
            "balance:    {} {currency}\n",
            currency.format(book.wallet.balance())
        );
        text
    }

    /// Prints the summary to stderr (stdout may carry the export).
    pub fn print(&self, currency: Currency, book: &TenantBook) {
        eprint!("{}", self.render(currency, book));
    }
}

/// Hashes keys that are already uniform digests by folding them, instead of hashing them again.
#[derive(Default)]
struct DigestHasher(u64);

impl std::hash::Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = self.0.rotate_left(5) ^ u64::from_le_bytes(word);
        }
    }

    fn write_u128(&mut self, value: u128) {
        self.0 = (value as u64) ^ ((value >> 64) as u64);
    }
}

/// Call-id digest -> fingerprint of its first submission.
type SeenDigests = HashMap<u128, u128, std::hash::BuildHasherDefault<DigestHasher>>;

/// Everything one offline run reads.
pub struct Inputs {
    pub countries: CountryTable,
    pub card: RateCard,
    pub book: TenantBook,
    pub calls: CallFile,
}

/// Rates every call of `inputs` in canonical order, writing export rows to `out` and refused
/// calls to `refused`.
pub fn rate_all(
    inputs: &mut Inputs,
    extended: bool,
    out: &mut dyn Write,
    mut refused: Option<&mut dyn Write>,
) -> Result<Summary> {
    let Inputs {
        countries,
        card,
        book,
        calls,
    } = inputs;
    calls.sort_canonical();
    let mut rater = Rater::new(countries, card);
    let mut summary = Summary::default();
    let mut seen = SeenDigests::with_capacity_and_hasher(calls.len(), Default::default());
    let mut record = empty_record();
    let mut buffer = Vec::with_capacity(1 << 20);
    let mut refused_buffer = Vec::new();
    buffer.extend_from_slice(export::header(extended).as_bytes());
    if refused.is_some() {
        refused_buffer.extend_from_slice(export::refused_header().as_bytes());
    }
    for index in 0..calls.len() {
        calls.fill(index, &mut record);
        let fingerprint = record.fingerprint();
        let (outcome, replay, effects) = match seen.get(&minutely_core::digest::of(&record.call_id))
        {
            Some(first) if *first == fingerprint => (
                Outcome::Refused(Reason::CallIdReused),
                true,
                Default::default(),
            ),
            Some(_) => (
                Outcome::Refused(Reason::CallIdReused),
                false,
                Default::default(),
            ),
            None => {
                seen.insert(minutely_core::digest::of(&record.call_id), fingerprint);
                let (outcome, effects) = book.process_new(&mut rater, &record, Mode::Bulk);
                (outcome, false, effects)
            }
        };
        summary.count(&outcome, replay, &effects.entries, &effects.events);
        match (&outcome, replay) {
            (_, true) => {}
            (Outcome::Charged(charge), false) => export::write_row(
                &mut buffer,
                &book.tenant,
                countries,
                &record,
                charge,
                extended,
            ),
            (Outcome::Refused(reason), false) => {
                if refused.is_some() {
                    export::write_refused(&mut refused_buffer, &record, *reason);
                }
            }
        }
        if buffer.len() >= 1 << 20 {
            out.write_all(&buffer)?;
            buffer.clear();
        }
        if let Some(w) = refused.as_deref_mut()
            && refused_buffer.len() >= 1 << 20
        {
            w.write_all(&refused_buffer)?;
            refused_buffer.clear();
        }
    }
    // What was declared after the last call is made too, so the summary shows the whole history.
    let mut effects = Default::default();
    book.settle(jiff::Timestamp::MAX, &mut effects);
    summary.count_effects(&effects.entries, &effects.events);
    out.write_all(&buffer)?;
    out.flush()?;
    if let Some(w) = refused {
        w.write_all(&refused_buffer)?;
        w.flush()?;
    }
    Ok(summary)
}

/// Builds the in-memory tenant from its file; its declared fundings are scheduled, to be made
/// in time order with the calls.
pub fn load_tenant(
    text: &str,
    countries: &CountryTable,
    rules: &AmountRules,
) -> Result<TenantBook> {
    let file = TenantFile::parse(text).map_err(|e| anyhow::anyhow!("tenant file: {e}"))?;
    let applied = apply(&file, None, countries, rules, &BTreeSet::new())
        .map_err(|e| anyhow::anyhow!("tenant file: {e}"))?;
    Ok(applied.book)
}

pub fn run(args: RateArgs) -> Result<()> {
    let started = Instant::now();
    let currency = Currency::parse(&args.currency)?;
    let countries = match &args.countries {
        Some(path) => countries::parse(&read_file(path)?).map_err(|e| anyhow::anyhow!("{e}"))?,
        None => countries::shipped(),
    };
    let card = ratecard::parse(&read_file(&args.rates)?, currency)
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.rates.display()))?;
    let text =
        String::from_utf8(read_file(&args.tenant_file)?).context("the tenant file is not UTF-8")?;
    let minimum = minutely_core::money::parse_amount(&args.minimum_amount)?;
    let rules = AmountRules::new(minimum).map_err(anyhow::Error::msg)?;
    let book = load_tenant(&text, &countries, &rules)?;
    if book.tenant.currency != currency {
        bail!(
            "the rate card is in {currency} but tenant {} pays in {}",
            book.tenant.id,
            book.tenant.currency
        );
    }
    let file = std::fs::File::open(&args.calls)
        .with_context(|| format!("cannot read {}", args.calls.display()))?;
    let bar = progress(file.metadata().map(|m| m.len()).unwrap_or(0), "reading");
    let read_started = Instant::now();
    let calls = CallFile::read(std::io::BufReader::with_capacity(1 << 20, file), |bytes| {
        bar.set_position(bytes)
    })
    .map_err(|e| anyhow::anyhow!("{}: {e}", args.calls.display()))?;
    bar.finish_and_clear();
    let mut inputs = Inputs {
        countries,
        card,
        book,
        calls,
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut refused_file = match &args.refused {
        Some(path) => Some(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot write {}", path.display()))?,
        )),
        None => None,
    };
    let read_s = read_started.elapsed().as_secs_f64();
    let rate_started = Instant::now();
    let summary = rate_all(
        &mut inputs,
        args.extended,
        &mut out,
        refused_file.as_mut().map(|w| w as &mut dyn Write),
    )?;
    summary.print(currency, &inputs.book);
    let seconds = started.elapsed().as_secs_f64();
    let rate_s = rate_started.elapsed().as_secs_f64();
    eprintln!(
        "time:       {seconds:.2} s ({:.0} records/s; reading {read_s:.2} s, rating and writing {rate_s:.2} s)",
        summary.records as f64 / seconds.max(1e-9)
    );
    Ok(())
}

/// Which funding sources appear in a run (for the demo's narrative).
pub fn funding_label(funding: &str) -> &'static str {
    match Funding::parse(funding) {
        Some(Funding::Included) => "included in the subscription",
        Some(Funding::AddOn) => "US/Canada add-on",
        Some(Funding::Pool) => "dial-out minute pool",
        Some(Funding::PoolAndCredits) => "pool, then credits",
        Some(Funding::Credits) => "Communications Credits",
        None => "other",
    }
}
