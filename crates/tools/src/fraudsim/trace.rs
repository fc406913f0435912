//! The simulation's trace: tenants, the sample rate card, the operator's list, and every call
//! (legitimate and attack) planned in advance from the seed, so that each guard sees the same
//! calls.

use anyhow::{Context, Result, bail};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use minutely_cli::generate::{Rng, random_number, sample_rates};
use minutely_core::catalogue::{CountryTable, RateCard};
use minutely_core::directory::AmountRules;
use minutely_core::engine::TenantBook;
use minutely_core::guard::{RiskAction, RiskEntry, RiskList};
use minutely_core::money::Currency;
use minutely_core::numbers::{Country, E164, NumberPlan, PlanAnswer};
use minutely_formats::{countries, ratecard, tenant_file};
use rust_decimal::Decimal;

/// One planned dial-out.
#[derive(Debug, Clone)]
pub struct Planned {
    pub tenant: usize,
    pub organizer: String,
    pub conference: String,
    pub destination: String,
    pub start_s: i64,
    pub duration_s: u64,
    /// The attack it belongs to.
    pub attack: Option<usize>,
}

/// One injected attack.
#[derive(Debug, Clone)]
pub struct Attack {
    pub name: &'static str,
    pub tenant: usize,
    pub start_s: i64,
}

/// Everything a run needs.
pub struct Trace {
    pub seed: u64,
    pub days: u32,
    pub end_s: i64,
    pub countries: CountryTable,
    pub card: RateCard,
    pub list: RiskList,
    pub books: Vec<TenantBook>,
    pub calls: Vec<Planned>,
    pub attacks: Vec<Attack>,
    pub country_list: Vec<Country>,
    /// Tenants that opted in to premium destinations.
    pub premium_tenants: Vec<usize>,
}

/// Euro countries the tenants are in, with a time zone each.
const HOMES: [(&str, &str); 8] = [
    ("FR", "Europe/Paris"),
    ("DE", "Europe/Berlin"),
    ("IT", "Europe/Rome"),
    ("ES", "Europe/Madrid"),
    ("NL", "Europe/Amsterdam"),
    ("BE", "Europe/Brussels"),
    ("AT", "Europe/Vienna"),
    ("IE", "Europe/Dublin"),
];

/// Countries tenants call abroad.
const ABROAD: [&str; 10] = ["GB", "US", "DE", "FR", "IT", "ES", "CH", "SE", "PL", "JP"];

/// Monday 2026-03-02 00:00 UTC: the first day.
const START: &str = "2026-03-02T00:00:00Z";

/// A tenant's shape.
struct Shape {
    home: Country,
    tz: TimeZone,
    organizers: usize,
    per_day: u64,
    usual: Vec<Country>,
    growth: bool,
}

impl Trace {
    /// The trace of `tenants` tenants over `days` days (the attacks in the last week).
    pub fn build(seed: u64, tenants: usize, days: u32) -> Result<Trace> {
        if days < 21 || tenants < 10 {
            bail!("the simulation needs at least 10 tenants and 21 days");
        }
        let countries = countries::shipped();
        let start: Timestamp = START.parse()?;
        let eur = Currency::parse("EUR")?;
        let card_text = sample_rates(&countries, eur, 7, 0, start);
        let card = ratecard::parse(card_text.as_bytes(), eur)
            .map_err(|e| anyhow::anyhow!("the sample card: {e:?}"))?;
        let list = risk_list(&card)?;
        let mut rng = Rng::new(seed);
        let mut trace = Trace {
            seed,
            days,
            end_s: start.as_second() + i64::from(days) * 86_400,
            countries,
            card,
            list,
            books: Vec::new(),
            calls: Vec::new(),
            attacks: Vec::new(),
            country_list: Vec::new(),
            premium_tenants: Vec::new(),
        };
        let mut shapes = Vec::new();
        for t in 0..tenants {
            let shape = shape(&mut rng, t);
            trace.books.push(book(&trace.countries, t, &shape)?);
            shapes.push(shape);
        }
        for (t, shape) in shapes.iter().enumerate() {
            trace.legit(&mut rng, t, shape, start.as_second());
        }
        trace.inject(&mut rng, &shapes, start.as_second())?;
        trace.country_list = trace.countries.rows().map(|r| r.country).collect();
        trace.calls.sort_by_key(|c| (c.start_s, c.tenant));
        Ok(trace)
    }
}

/// The operator's list: every other premium range of the card, blocked (a static list as
/// carriers publish them, never complete).
fn risk_list(card: &RateCard) -> Result<RiskList> {
    let entries: Vec<RiskEntry> = card
        .entries()
        .filter(|e| e.premium)
        .step_by(2)
        .map(|e| RiskEntry {
            prefix: minutely_core::catalogue::key_text(e),
            action: RiskAction::Block,
            category: "premium".to_string(),
            source: "simulation".to_string(),
            expires: None,
            note: String::new(),
        })
        .collect();
    RiskList::new(1, entries).map_err(|(i, e)| anyhow::anyhow!("list entry {i}: {e}"))
}

fn shape(rng: &mut Rng, t: usize) -> Shape {
    let (home, tz) = HOMES[t % HOMES.len()];
    let home = Country::parse(home).expect("a home country");
    let (organizers, per_day) = match rng.below(10) {
        0..=4 => (3, 3),
        5..=8 => (12, 20),
        _ => (50, 120),
    };
    let mut usual = Vec::new();
    for _ in 0..(1 + rng.below(3)) {
        let c = Country::parse(ABROAD[rng.below(ABROAD.len() as u64) as usize]).expect("abroad");
        if c != home && !usual.contains(&c) {
            usual.push(c);
        }
    }
    if usual.is_empty() {
        usual.push(Country::parse("GB").expect("GB"));
    }
    Shape {
        home,
        tz: TimeZone::get(tz).expect("a time zone"),
        organizers,
        per_day,
        usual,
        growth: rng.below(5) == 0,
    }
}

fn book(table: &CountryTable, t: usize, shape: &Shape) -> Result<TenantBook> {
    let mut text = format!(
        "id = \"t{t}\"\nname = \"Tenant {t}\"\ncountry = \"{}\"\ncurrency = \"EUR\"\ntimezone = \"{}\"\nagreement = \"volume_licensing\"\n\n[licenses]\nMCOMEETACPEA = {n}\nMCOPSTNPP = {n}\n\n[wallet]\n",
        shape.home.as_str(),
        shape.tz.iana_name().unwrap_or("UTC"),
        n = shape.organizers,
    );
    for u in 0..shape.organizers {
        text.push_str(&format!(
            "\n[[users]]\nupn = \"u{u}@t{t}.example\"\ndisplay_name = \"User {u}\"\nlicenses = [\"MCOMEETACPEA\", \"MCOPSTNPP\"]\n"
        ));
    }
    let file = tenant_file::TenantFile::parse(&text).map_err(|e| anyhow::anyhow!("{e}"))?;
    let rules = AmountRules::default();
    let applied = tenant_file::apply_silently(&file, None, table, &rules, &Default::default())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut book = applied.book;
    let at: Timestamp = "2026-03-01T00:00:00Z".parse()?;
    book.fund(Decimal::from(1_000_000), at, "sim", true, &rules)
        .map_err(|e| anyhow::anyhow!("funding: {e:?}"))
        .context("funding the tenant")?;
    Ok(book)
}

/// A valid number of `country` (a mobile one when `mobile`).
fn number(rng: &mut Rng, country: Country, mobile: bool) -> String {
    random_number(rng, country, mobile)
        .or_else(|| random_number(rng, country, !mobile))
        .map(|n| n.to_string())
        .unwrap_or_default()
}

/// A valid number in `prefix` (digits with `+`) of `country`, if one is found.
fn number_in(rng: &mut Rng, prefix: &str, country: Country) -> Option<String> {
    let plan = NumberPlan::global();
    for len in 5..=9 {
        for _ in 0..40 {
            let tail: String = (0..len)
                .map(|_| char::from(b'0' + rng.below(10) as u8))
                .collect();
            let text = format!("{prefix}{tail}");
            if let Some(n) = E164::parse(&text)
                && plan.classify(n) == PlanAnswer::Country(country)
            {
                return Some(text);
            }
        }
    }
    None
}

mod calls;
