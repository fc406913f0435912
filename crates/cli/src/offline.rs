//! `minutely rate`: rates a file of call records without a store, replaying the tenant's
//! fundings, wallet, pool and auto-recharges in memory, in canonical order (C22). The same core
//! code as everywhere else decides every charge. One run may rate several tenants (up to
//! `MAX_TENANTS`): each record goes to the tenant its `tenant` column names, else to the one
//! tenant its organizer is a user of, and each tenant is rated on its own book exactly as if it
//! were rated alone.

mod pipeline;

use crate::output::{progress, read_file};
use anyhow::{Context, Result, bail};
use clap::Args;
use minutely_core::catalogue::{CountryTable, RateCard};
use minutely_core::directory::{AmountRules, Upn};
use minutely_core::engine::{Funding, Outcome, TenantBook};
use minutely_core::ledger::{Effects, EntryKind, Event};
use minutely_core::money::Currency;
use minutely_core::reason::Reason;
use minutely_formats::calls::{CallFile, empty_record};
use minutely_formats::tenant_file::{TenantFile, apply_silently};
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
    /// The rate card's currency (must be every tenant's).
    #[arg(long)]
    pub currency: String,
    /// A tenant file (TOML) with its past fundings, or a directory of them (every `*.toml`, in
    /// name order). Given several times, or as a directory, the run rates several tenants.
    #[arg(long, required = true)]
    pub tenant_file: Vec<PathBuf>,
    /// The call records (CSV); with several tenants, an optional `tenant` column says whose
    /// each record is (else its organizer does).
    #[arg(long)]
    pub calls: PathBuf,
    /// Add the five extended columns to the export.
    #[arg(long)]
    pub extended: bool,
    /// Write the refused calls, with their reason codes, to this file.
    #[arg(long)]
    pub refused: Option<PathBuf>,
    /// C11: the smallest funding, recharge amount and trigger, in whole currency units (the
    /// default of every currency without its own).
    #[arg(long, default_value = "50")]
    pub minimum_amount: String,
    /// C11: a currency's own minimum, as CODE=AMOUNT (JPY=5000); may be given several times.
    #[arg(long, value_name = "CODE=AMOUNT")]
    pub currency_minimum: Vec<String>,
    /// A country table to use instead of the shipped one.
    #[arg(long)]
    pub countries: Option<PathBuf>,
    /// Threads to rate on (default: one a core); the output is the same on any number.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Run the toll-fraud guard over the records too, in canonical order, with the default
    /// thresholds and each tenant's defaults (no premium opt-in): what it finds is only
    /// flagged (C43), its alerts counted by reason in the summary; no charge changes.
    #[arg(long)]
    pub guard: bool,
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
    /// The guard's alerts (`--guard`; one a rule that applied to a record), by reason (C43:
    /// only flagged).
    pub flagged: BTreeMap<Reason, u64>,
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
        for event in events {
            match event {
                Event::RechargeFailed { .. } => self.recharge_failures += 1,
                Event::FraudAlert { reason, .. } => *self.flagged.entry(*reason).or_default() += 1,
                _ => {}
            }
        }
    }

    /// Prints the summary to stderr (stdout may carry the export).
    pub fn print(&self, currency: Currency, book: &TenantBook) {
        eprint!("{}", self.render(currency, book));
    }

    /// The summary as text (one fact a line), with the tenant's balance.
    pub fn render(&self, currency: Currency, book: &TenantBook) -> String {
        self.render_with_balance(currency, Some(book.wallet.balance()))
    }

    /// The summary as text; `balance` is left out when there is none (no tenant).
    fn render_with_balance(&self, currency: Currency, balance: Option<Decimal>) -> String {
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
        if let Some(balance) = balance {
            text += &format!("balance:    {} {currency}\n", currency.format(balance));
        }
        if !self.flagged.is_empty() {
            let flagged: u64 = self.flagged.values().sum();
            text += &format!(
                "flagged:    {flagged} alerts of the guard (calls charged as usual, C43)\n"
            );
            for (reason, n) in &self.flagged {
                text += &format!("  {:<33} {n}\n", reason.code());
            }
        }
        text
    }

    /// Adds another run's counts to these.
    pub fn add(&mut self, other: &Summary) {
        self.records += other.records;
        self.charged += other.charged;
        self.duplicates += other.duplicates;
        for (reason, n) in &other.refused {
            *self.refused.entry(*reason).or_default() += n;
        }
        self.charged_amount += other.charged_amount;
        for (funding, n) in &other.by_funding {
            *self.by_funding.entry(funding).or_default() += n;
        }
        self.pool_minutes += other.pool_minutes;
        self.recharges += other.recharges;
        self.recharge_failures += other.recharge_failures;
        self.forfeited += other.forfeited;
        for (reason, n) in &other.flagged {
            *self.flagged.entry(*reason).or_default() += n;
        }
    }
}

impl RunSummary {
    /// Every tenant's counts and those of records of no tenant, together.
    pub fn total(&self) -> Summary {
        let mut total = self.no_tenant.clone();
        for summary in &self.tenants {
            total.add(summary);
        }
        total
    }

    /// The summary as text: a single tenant's as before; several tenants' one after another
    /// (in id order, indented under `tenant ID`), then the records of no tenant and the total.
    pub fn render(&self, currency: Currency, books: &[TenantBook], multi: bool) -> String {
        if !multi {
            return self.tenants[0].render(currency, &books[0]);
        }
        let indent =
            |text: String| -> String { text.lines().map(|l| format!("  {l}\n")).collect() };
        let mut text = String::new();
        for (summary, book) in self.tenants.iter().zip(books) {
            text += &format!("tenant {}\n", book.tenant.id);
            text += &indent(summary.render(currency, book));
        }
        if self.no_tenant.records > 0 {
            text += "no tenant (the organizer is a user of none)\n";
            text += &indent(self.no_tenant.render_with_balance(currency, None));
        }
        let balances: Decimal = books.iter().map(|b| b.wallet.balance()).sum();
        text += &format!("total ({} tenants)\n", books.len());
        text += &indent(self.total().render_with_balance(currency, Some(balances)));
        text
    }
}

/// The most tenants one run rates.
pub const MAX_TENANTS: usize = 1000;
/// The most entries a tenant directory may hold (of any kind).
pub const MAX_DIRECTORY_ENTRIES: usize = 10_000;
/// The largest tenant file, in bytes.
pub const MAX_TENANT_FILE_BYTES: u64 = 64 << 20;
/// The most tenants a refusal lists by name.
const MAX_LISTED_TENANTS: usize = 5;

/// Everything one offline run reads.
pub struct Inputs {
    pub countries: CountryTable,
    pub card: RateCard,
    /// The tenants, each rated alone with its own wallet and pool (one in a single-tenant run).
    pub books: Vec<TenantBook>,
    pub calls: CallFile,
    /// Whether this is a run over several tenants: records are routed by their `tenant` column
    /// or their organizer, and the outputs carry the tenant.
    pub multi: bool,
}

/// What a run did: per tenant (in `Inputs::books` order), and for records of no tenant.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RunSummary {
    pub tenants: Vec<Summary>,
    /// Records whose organizer is a user of no tenant (multi-tenant runs only).
    pub no_tenant: Summary,
}

/// Where a record goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    /// To the tenant at this index of `Inputs::books`.
    Tenant(usize),
    /// To no tenant: its organizer is a user of none (refused, C30).
    Nobody,
}

/// Finds each record's tenant: by its `tenant` column, else (several tenants) by its organizer.
struct Router {
    /// Tenant id -> index.
    ids: HashMap<String, usize>,
    /// Lower-case UPN -> the tenants it is a user of (several tenants only).
    owners: HashMap<String, Vec<usize>>,
    multi: bool,
}

impl Router {
    fn new(books: &[TenantBook], multi: bool) -> Router {
        let ids = books
            .iter()
            .enumerate()
            .map(|(i, b)| (b.tenant.id.clone(), i))
            .collect();
        let mut owners: HashMap<String, Vec<usize>> = HashMap::new();
        if multi {
            for (i, book) in books.iter().enumerate() {
                for user in book.tenant.users() {
                    owners.entry(user.upn.key.clone()).or_default().push(i);
                }
            }
        }
        Router { ids, owners, multi }
    }

    /// The record's route, or the column at fault and what is wrong.
    fn route(&self, tenant: &str, organizer: &str) -> Result<Route, (&'static str, String)> {
        if !tenant.is_empty() {
            return match self.ids.get(tenant) {
                Some(&i) => Ok(Route::Tenant(i)),
                None => Err((
                    minutely_formats::calls::TENANT_COLUMN,
                    format!("unknown tenant {tenant:?}: no tenant file of this run has that id"),
                )),
            };
        }
        if !self.multi {
            return Ok(Route::Tenant(0));
        }
        // The UPN's identity is its lower case (`Upn`); most are written so already.
        let key = Upn::key_of(organizer);
        match self.owners.get(key.as_ref()).map(Vec::as_slice) {
            None | Some([]) => Ok(Route::Nobody),
            Some([one]) => Ok(Route::Tenant(*one)),
            Some(several) => Err(("organizer", self.ambiguous(organizer, several))),
        }
    }

    fn ambiguous(&self, organizer: &str, several: &[usize]) -> String {
        let mut names: Vec<&str> = self
            .ids
            .iter()
            .filter(|(_, i)| several.contains(i))
            .map(|(id, _)| id.as_str())
            .collect();
        names.sort_unstable();
        let more = names.len().saturating_sub(MAX_LISTED_TENANTS);
        names.truncate(MAX_LISTED_TENANTS);
        let more = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        format!(
            "ambiguous: {organizer} is a user of tenants {}{more}; name one in the tenant column",
            names.join(", ")
        )
    }

    /// Refuses the file whole when a record names an unknown tenant or has an ambiguous
    /// organizer, listing every such record.
    fn check(&self, calls: &CallFile) -> Result<()> {
        let mut errors = minutely_formats::ErrorList::default();
        if !calls.has_tenant_column() && !self.multi {
            return Ok(());
        }
        let mut run: Vec<_> = (0..4096).map(|_| (empty_record(), String::new())).collect();
        for first in (0..calls.len()).step_by(run.len()) {
            let count = run.len().min(calls.len() - first);
            let targets = run[..count].iter_mut().map(|(r, t)| (r, t));
            calls.fill_run(first, targets)?;
            for (n, (record, tenant)) in run[..count].iter().enumerate() {
                if let Err((column, reason)) = self.route(tenant, &record.organizer) {
                    errors.push(calls.line(first + n), column, reason);
                }
            }
        }
        errors
            .finish("call records", ())
            .map_err(|e| anyhow::anyhow!("{e}"))
    }
}

/// Rates every call of `inputs`, each tenant's in canonical order (C22) on its own book,
/// writing export rows to `out` and refused calls to `refused`. A record naming an unknown
/// tenant, or whose organizer is a user of several tenants and names none, refuses the run
/// before anything is written. Uses every core (`rate_all_on` chooses).
pub fn rate_all(
    inputs: &mut Inputs,
    extended: bool,
    out: &mut dyn Write,
    refused: Option<&mut dyn Write>,
) -> Result<RunSummary> {
    rate_all_on(inputs, extended, default_threads(), out, refused)
}

/// The threads a run uses unless told: one a core.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// `rate_all` on `threads` threads (the output does not depend on them).
pub fn rate_all_on(
    inputs: &mut Inputs,
    extended: bool,
    threads: usize,
    out: &mut dyn Write,
    refused: Option<&mut dyn Write>,
) -> Result<RunSummary> {
    let Inputs {
        countries,
        card,
        books,
        calls,
        multi,
    } = inputs;
    assert!(!books.is_empty() && (*multi || books.len() == 1));
    let router = Router::new(books, *multi);
    router.check(calls)?;
    calls.sort_canonical();
    let mut summary = RunSummary {
        tenants: vec![Summary::default(); books.len()],
        no_tenant: Summary::default(),
    };
    let (export_header, refused_header) = if *multi {
        (
            export::tenant_header(extended),
            export::refused_tenant_header(),
        )
    } else {
        (export::header(extended), export::refused_header())
    };
    out.write_all(export_header.as_bytes())?;
    let mut refused = refused;
    if let Some(w) = refused.as_deref_mut() {
        w.write_all(refused_header.as_bytes())?;
    }
    let tenants: Vec<_> = books.iter().map(|b| b.tenant.clone()).collect();
    let shared = pipeline::Shared {
        countries,
        card,
        calls,
        router: &router,
        tenants: &tenants,
        extended,
        multi: *multi,
        refused: refused.is_some(),
    };
    let state = pipeline::Books {
        books,
        summary: &mut summary,
    };
    pipeline::run(&shared, state, threads, out, refused.as_deref_mut())?;
    // What was declared after the last call is made too, so the summary shows the whole history.
    for (book, counted) in books.iter_mut().zip(&mut summary.tenants) {
        let mut effects = Effects::default();
        book.settle(jiff::Timestamp::MAX, &mut effects);
        counted.count_effects(&effects.entries, &effects.events);
    }
    out.flush()?;
    if let Some(w) = refused {
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
    let applied = apply_silently(&file, None, countries, rules, &BTreeSet::new())
        .map_err(|e| anyhow::anyhow!("tenant file: {e}"))?;
    Ok(applied.book)
}

/// The tenant files a run reads: each path given, or every `*.toml` of a directory given, in
/// name order; and whether the run is over several tenants (several paths, or a directory).
pub fn tenant_paths(given: &[PathBuf]) -> Result<(Vec<PathBuf>, bool)> {
    let mut paths = Vec::new();
    let mut multi = given.len() > 1;
    for path in given {
        if !path.is_dir() {
            paths.push(path.clone());
            continue;
        }
        multi = true;
        let mut found = Vec::new();
        let entries =
            std::fs::read_dir(path).with_context(|| format!("cannot read {}", path.display()))?;
        for (count, entry) in entries.enumerate() {
            if count >= MAX_DIRECTORY_ENTRIES {
                bail!(
                    "{}: a tenant directory holds at most {MAX_DIRECTORY_ENTRIES} entries",
                    path.display()
                );
            }
            let entry = entry.with_context(|| format!("cannot read {}", path.display()))?;
            let file = entry.path();
            if file.extension().is_some_and(|e| e == "toml") && file.is_file() {
                found.push(file);
            }
        }
        if found.is_empty() {
            bail!(
                "{}: the directory holds no tenant file (*.toml)",
                path.display()
            );
        }
        found.sort();
        paths.extend(found);
    }
    if paths.len() > MAX_TENANTS {
        bail!(
            "a run rates at most {MAX_TENANTS} tenants; {} tenant files were given",
            paths.len()
        );
    }
    Ok((paths, multi))
}

/// Loads every tenant of a run, each paying in `currency`, with distinct ids; in id order.
fn load_tenants(
    paths: &[PathBuf],
    currency: Currency,
    countries: &CountryTable,
    rules: &AmountRules,
) -> Result<Vec<TenantBook>> {
    let mut books: Vec<(TenantBook, &PathBuf)> = Vec::with_capacity(paths.len());
    for path in paths {
        let size = std::fs::metadata(path)
            .with_context(|| format!("cannot read {}", path.display()))?
            .len();
        if size > MAX_TENANT_FILE_BYTES {
            bail!(
                "{}: a tenant file holds at most {MAX_TENANT_FILE_BYTES} bytes",
                path.display()
            );
        }
        let text = String::from_utf8(read_file(path)?)
            .with_context(|| format!("{} is not UTF-8", path.display()))?;
        let book =
            load_tenant(&text, countries, rules).with_context(|| format!("{}", path.display()))?;
        if book.tenant.currency != currency {
            bail!(
                "{}: the rate card is in {currency} but tenant {} pays in {}",
                path.display(),
                book.tenant.id,
                book.tenant.currency
            );
        }
        if let Some((_, first)) = books.iter().find(|(b, _)| b.tenant.id == book.tenant.id) {
            bail!(
                "{}: tenant {} is also the tenant of {}; each tenant is given once",
                path.display(),
                book.tenant.id,
                first.display()
            );
        }
        books.push((book, path));
    }
    books.sort_by(|a, b| a.0.tenant.id.cmp(&b.0.tenant.id));
    Ok(books.into_iter().map(|(book, _)| book).collect())
}

/// The amount rules of a run (C11): the default minimum and each `CODE=N` of its own.
fn run_rules(minimum_amount: &str, currency_minimums: &[String]) -> Result<AmountRules> {
    let minimum = minutely_core::money::parse_amount(minimum_amount)?;
    let mut rules = AmountRules::new(minimum).map_err(anyhow::Error::msg)?;
    for given in currency_minimums {
        let Some((code, amount)) = given.split_once('=') else {
            bail!("--currency-minimum {given:?}: expected CODE=AMOUNT, such as JPY=5000");
        };
        let currency = Currency::parse(code)?;
        let amount = minutely_core::money::parse_amount(amount)?;
        rules
            .set_currency(currency, Some(amount))
            .map_err(|e| anyhow::anyhow!("--currency-minimum {given:?}: {e}"))?;
    }
    Ok(rules)
}

/// Gives every tenant a guard that monitors (flags only) with the default thresholds.
fn guard_in_monitor(books: &mut [TenantBook]) {
    use minutely_core::guard::{Guard, GuardMode, OperatorGuard, TenantGuard};
    let operator = std::sync::Arc::new(OperatorGuard {
        default_mode: GuardMode::Monitor,
        ..OperatorGuard::default()
    });
    for book in books {
        let settings = TenantGuard {
            mode: Some(GuardMode::Monitor),
            ..TenantGuard::default()
        };
        book.guard = Guard::new(std::sync::Arc::clone(&operator), settings);
    }
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
    let rules = run_rules(&args.minimum_amount, &args.currency_minimum)?;
    let (paths, multi) = tenant_paths(&args.tenant_file)?;
    let mut books = load_tenants(&paths, currency, &countries, &rules)?;
    if args.guard {
        guard_in_monitor(&mut books);
    }
    let file = std::fs::File::open(&args.calls)
        .with_context(|| format!("cannot read {}", args.calls.display()))?;
    let bar = progress(file.metadata().map(|m| m.len()).unwrap_or(0), "reading");
    let read_started = Instant::now();
    let threads = args.threads.unwrap_or_else(default_threads);
    let input = std::io::BufReader::with_capacity(1 << 20, file);
    let budget = Some(minutely_formats::calls::TEXT_BUDGET_BYTES);
    let calls = CallFile::read_on(input, threads, budget, |bytes| bar.set_position(bytes))
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.calls.display()))?;
    bar.finish_and_clear();
    let mut inputs = Inputs {
        countries,
        card,
        books,
        calls,
        multi,
    };
    let read_s = read_started.elapsed().as_secs_f64();
    let rate_started = Instant::now();
    let summary = rate_to_files(&mut inputs, &args, threads)
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.calls.display()))?;
    eprint!("{}", summary.render(currency, &inputs.books, multi));
    let seconds = started.elapsed().as_secs_f64();
    let rate_s = rate_started.elapsed().as_secs_f64();
    let records = summary.total().records;
    eprintln!(
        "time:       {seconds:.2} s ({:.0} records/s; reading {read_s:.2} s, rating and writing {rate_s:.2} s)",
        records as f64 / seconds.max(1e-9)
    );
    Ok(())
}

/// Rates to stdout and the refused-calls file.
fn rate_to_files(inputs: &mut Inputs, args: &RateArgs, threads: usize) -> Result<RunSummary> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut refused_file = match &args.refused {
        Some(path) => Some(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot write {}", path.display()))?,
        )),
        None => None,
    };
    let rated = rate_all_on(
        inputs,
        args.extended,
        threads,
        &mut out,
        refused_file.as_mut().map(|w| w as &mut dyn Write),
    );
    if let (Err(_), Some(path)) = (&rated, &args.refused) {
        // A refused run writes nothing: its refused-calls file does not stay behind.
        drop(refused_file);
        let _ = std::fs::remove_file(path);
    }
    rated
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::{CallSpec, generate_calls, sample_rates};
    use minutely_core::engine::Mode;
    use minutely_core::rating::Rater;
    use minutely_formats::instant;
    use minutely_formats::tenant_file::EXAMPLE;

    /// Generated calls of the example tenant over several pipeline blocks, with C23's cases
    /// added: exact resubmissions (replays), a call id reused with other content, and records
    /// of an organizer who is no user (C30).
    fn calls_text() -> String {
        let spec = CallSpec {
            count: 20_000,
            seed: 11,
            start: instant::parse("2026-01-05T00:00:00Z").unwrap(),
            days: 40,
            population: 500,
        };
        let mut out = Vec::new();
        generate_calls(EXAMPLE, &spec, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let mut extra = Vec::new();
        for (n, line) in lines.iter().enumerate().skip(1).step_by(997) {
            extra.push(line.to_string());
            if n % 2 == 1 {
                extra.push(line.replacen(":00Z", ":01Z", 1));
                let end = line.rfind('Z').unwrap();
                extra.push(format!("{}7Z", &line[..end - 1]));
            }
            let fields: Vec<&str> = line.split(',').collect();
            let mut stranger = fields.clone();
            let id = format!("{}-x", fields[0]);
            stranger[0] = &id;
            stranger[2] = "nobody@elsewhere.example";
            extra.push(stranger.join(","));
        }
        let mut all: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        // Out of order, so that the canonical sort has work to do.
        all[1..].reverse();
        all.extend(extra);
        all.join("\n") + "\n"
    }

    fn inputs(text: &str, text_budget: Option<usize>) -> Inputs {
        let countries = minutely_formats::countries::shipped();
        let book = load_tenant(EXAMPLE, &countries, &Default::default()).unwrap();
        let currency = book.tenant.currency;
        let from = instant::parse("2025-01-01T00:00:00Z").unwrap();
        let card_text = sample_rates(&countries, currency, 3, 200, from);
        let card = ratecard::parse(card_text.as_bytes(), currency).unwrap();
        let calls = CallFile::read_on(text.as_bytes(), 2, text_budget, |_| {}).unwrap();
        Inputs {
            countries,
            card,
            books: vec![book],
            calls,
            multi: false,
        }
    }

    fn rate(text: &str, threads: usize, budget: Option<usize>) -> (Vec<u8>, Vec<u8>, RunSummary) {
        let (mut out, mut refused) = (Vec::new(), Vec::new());
        let summary = rate_all_on(
            &mut inputs(text, budget),
            true,
            threads,
            &mut out,
            Some(&mut refused),
        )
        .unwrap();
        (out, refused, summary)
    }

    /// The same run one call at a time through `TenantBook::process_call`, which keeps its own
    /// record of seen call ids (C23).
    fn rate_one_by_one(text: &str) -> (Vec<u8>, Vec<u8>, Summary) {
        let mut inputs = inputs(text, None);
        inputs.calls.sort_canonical();
        let mut rater = Rater::new(&inputs.countries, &inputs.card);
        let book = &mut inputs.books[0];
        let mut out = export::header(true).into_bytes();
        let mut refused = export::refused_header().into_bytes();
        let mut summary = Summary::default();
        for index in 0..inputs.calls.len() {
            let record = inputs.calls.get(index).unwrap();
            let done = book.process_call(&mut rater, &record, Mode::Bulk);
            let (entries, events) = (&done.effects.entries, &done.effects.events);
            summary.count(&done.outcome, done.replay, entries, events);
            match (&done.outcome, done.replay) {
                (_, true) => {}
                (Outcome::Charged(charge), false) => {
                    let countries = &inputs.countries;
                    export::write_row(&mut out, &book.tenant, countries, &record, charge, true);
                }
                (Outcome::Refused(reason), false) => {
                    export::write_refused(&mut refused, &record, *reason)
                }
            }
        }
        let mut effects = Effects::default();
        book.settle(jiff::Timestamp::MAX, &mut effects);
        summary.count_effects(&effects.entries, &effects.events);
        (out, refused, summary)
    }

    /// C22, C23: the pipeline writes the same bytes and counts on one thread as on several,
    /// with the records' text in memory or in a temporary file, with the file's lines cut into
    /// plain records or read by the CSV reader, and the same as charging each call in canonical
    /// order through `process_call` (whose funding plans are made on the charging thread).
    #[test]
    fn c22_c23_the_pipeline_rates_alike_on_any_number_of_threads() {
        let text = calls_text();
        let one = rate(&text, 1, None);
        let summary = &one.2.tenants[0];
        assert!(summary.records > 20_000, "{summary:?}");
        assert!(summary.duplicates > 0, "{summary:?}");
        assert!(summary.refused.contains_key(&Reason::CallIdReused));
        assert!(summary.refused.contains_key(&Reason::OrganizerNotEnabled));
        assert!(
            summary.charged > 10_000 && summary.pool_minutes > 0,
            "{summary:?}"
        );
        for (threads, budget) in [
            (2, None),
            (3, None),
            (8, None),
            (1, Some(4096)),
            (2, Some(1 << 16)),
        ] {
            let many = rate(&text, threads, budget);
            let what = format!("{threads} threads, text budget {budget:?}");
            assert!(one.0 == many.0, "export differs on {what}");
            assert!(one.1 == many.1, "refused calls differ on {what}");
            assert_eq!(one.2, many.2);
        }
        // The same file read by the CSV reader alone (a quoted header leaves it every line)
        // rather than cut into plain records.
        let quoted = text.replacen("call_id", "\"call_id\"", 1);
        assert_ne!(quoted, text);
        let by_csv = rate(&quoted, 2, None);
        assert!(
            one.0 == by_csv.0,
            "export differs when the CSV reader reads"
        );
        assert!(
            one.1 == by_csv.1,
            "refused calls differ when the CSV reader reads"
        );
        assert_eq!(one.2, by_csv.2);
        let (out, refused, reference) = rate_one_by_one(&text);
        assert!(one.0 == out, "export differs from process_call's");
        assert!(one.1 == refused, "refused calls differ from process_call's");
        assert_eq!(one.2.tenants[0], reference);
    }
}
