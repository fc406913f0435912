//! Realistic sample data for tests, demos and benchmarks (`minutely demo`, `minutely serve
//! --demo`, `minutely-tools gen`). Deterministic: the same arguments and seed always give the
//! same bytes.

use crate::offline::load_tenant;
use anyhow::{Result, bail};
use jiff::{Timestamp, ToSpan};
use minutely_core::catalogue::{Availability, CountryTable};
use minutely_core::directory::{NumberKind, Sku};
use minutely_core::money::Currency;
use minutely_core::numbers::{Country, E164, NumberPlan, PlanAnswer, region_facts};
use minutely_core::rating::{CallRecord, Direction};
use minutely_formats::{calls, countries, instant};
use std::io::Write;

/// SplitMix64: small, fast, and the same on every platform.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, n).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n.max(1))) >> 64) as u64
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The country calling code of a region.
pub fn calling_code(country: Country) -> Option<u16> {
    region_facts(country).map(|r| r.calling_code)
}

/// The example national numbers of a region (fixed line, mobile).
fn examples(country: Country) -> (Option<String>, Option<String>) {
    region_facts(country).map_or((None, None), |r| (r.fixed_example, r.mobile_example))
}

/// A valid number of `country`, varying the last digits of an example number.
pub fn random_number(rng: &mut Rng, country: Country, mobile: bool) -> Option<E164> {
    let code = calling_code(country)?;
    let (fixed, mobile_example) = examples(country);
    let example = if mobile {
        mobile_example.or(fixed)?
    } else {
        fixed.or(mobile_example)?
    };
    let plan = NumberPlan::global();
    let keep = example.len().saturating_sub(4);
    for _ in 0..12 {
        let tail: String = (0..example.len() - keep)
            .map(|_| char::from(b'0' + rng.below(10) as u8))
            .collect();
        let candidate = E164::parse(&format!("+{code}{}{tail}", &example[..keep]))?;
        if plan.classify(candidate) == PlanAnswer::Country(country) {
            return Some(candidate);
        }
    }
    E164::parse(&format!("+{code}{example}"))
        .filter(|n| plan.classify(*n) == PlanAnswer::Country(country))
}

/// What to generate.
pub struct CallSpec {
    pub count: u64,
    pub seed: u64,
    pub start: Timestamp,
    pub days: u32,
    pub population: usize,
}

/// Writes `spec.count` call records for the tenant of `tenant_text`, in start order.
pub fn generate_calls(tenant_text: &str, spec: &CallSpec, out: &mut dyn Write) -> Result<()> {
    let table = countries::shipped();
    let book = load_tenant(tenant_text, &table, &Default::default())?;
    let tenant = &book.tenant;
    let organizers: Vec<String> = tenant
        .users()
        .filter(|u| {
            u.licenses.contains(&Sku::Subscription) || u.licenses.contains(&Sku::PayPerMinute)
        })
        .map(|u| u.upn.display.clone())
        .collect();
    if organizers.is_empty() {
        bail!(
            "tenant {} has no user with MCOMEETADD or MCOMEETACPEA to organize meetings",
            tenant.id
        );
    }
    let toll: Vec<String> = tenant
        .numbers()
        .filter(|n| n.kind == NumberKind::Toll)
        .map(|n| n.number.to_string())
        .collect();
    let toll_free: Vec<String> = tenant
        .numbers()
        .filter(|n| n.kind == NumberKind::TollFree)
        .map(|n| n.number.to_string())
        .collect();
    let mut rng = Rng::new(spec.seed);
    let people = population(&mut rng, &table, tenant.country, spec.population.max(1));
    let span_s = i64::from(spec.days.max(1)) * 86400;
    let mut buffer = calls::header_line().into_bytes();
    for i in 0..spec.count {
        let offset = (i128::from(span_s) * i128::from(i) / i128::from(spec.count.max(1))) as i64;
        let start = spec.start + offset.seconds();
        let duration = duration_s(&mut rng);
        let organizer = &organizers[(rng.below(organizers.len() as u64)) as usize];
        let roll = rng.below(100);
        // A skewed pick: a few numbers are called often, most rarely, as in real traffic.
        let pick = |rng: &mut Rng| {
            people[((rng.unit().powi(3)) * people.len() as f64) as usize % people.len()].clone()
        };
        let (direction, service, caller, destination) = if roll < 45 && !toll.is_empty() {
            (
                Direction::DialIn,
                toll[rng.below(toll.len() as u64) as usize].clone(),
                pick(&mut rng),
                String::new(),
            )
        } else if roll < 60 && !toll_free.is_empty() {
            let caller = if rng.below(20) == 0 {
                String::new()
            } else {
                pick(&mut rng)
            };
            (
                Direction::DialIn,
                toll_free[rng.below(toll_free.len() as u64) as usize].clone(),
                caller,
                String::new(),
            )
        } else {
            (
                Direction::DialOut,
                String::new(),
                String::new(),
                pick(&mut rng),
            )
        };
        let record = CallRecord {
            call_id: format!("call-{}-{i:010}", spec.seed),
            conference_id: format!("conf-{}-{:08}", spec.seed, i / 3),
            organizer: organizer.clone(),
            direction,
            service_number: service,
            caller_number: caller,
            destination_number: destination,
            start,
            end: start + (duration as i64).seconds(),
        };
        calls::write_record(&mut buffer, &record);
        if buffer.len() > 1 << 20 {
            out.write_all(&buffer)?;
            buffer.clear();
        }
    }
    out.write_all(&buffer)?;
    out.flush()?;
    Ok(())
}

/// Call durations: a few unconnected (0 s), most a few minutes to an hour, a long tail to 4 h.
fn duration_s(rng: &mut Rng) -> u64 {
    if rng.below(100) < 3 {
        return 0;
    }
    // Log-normal around 8 minutes (Box-Muller); durations are not money.
    let (u1, u2) = (rng.unit().max(1e-12), rng.unit());
    let normal = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
    ((480f64.ln() + 1.1 * normal).exp() as u64).clamp(1, 4 * 3600)
}

/// `size` distinct external numbers: half domestic, most of the rest in Zone A.
fn population(rng: &mut Rng, table: &CountryTable, home: Country, size: usize) -> Vec<String> {
    let zone_a: Vec<Country> = table
        .rows()
        .filter(|r| r.zone_a)
        .map(|r| r.country)
        .collect();
    let others: Vec<Country> = table
        .rows()
        .filter(|r| !r.zone_a)
        .map(|r| r.country)
        .collect();
    let mut numbers = Vec::with_capacity(size);
    let mut seen = std::collections::HashSet::new();
    let mut attempts = 0;
    while numbers.len() < size && attempts < size * 20 {
        attempts += 1;
        let roll = rng.below(100);
        let country = if roll < 50 {
            home
        } else if roll < 85 {
            zone_a[rng.below(zone_a.len() as u64) as usize]
        } else {
            others[rng.below(others.len() as u64) as usize]
        };
        let mobile = rng.below(3) == 0;
        if let Some(n) = random_number(rng, country, mobile)
            && seen.insert(n)
        {
            numbers.push(n.to_string());
        }
    }
    numbers
}

/// A sample price in [low, low + spread) with four decimals.
fn price(rng: &mut Rng, low: u64, spread: u64) -> String {
    let value = low + rng.below(spread);
    format!("{}.{:04}", value / 10000, value % 10000)
}

/// A sample rate card for every country of `table`.
pub fn sample_rates(
    table: &CountryTable,
    currency: Currency,
    seed: u64,
    extra: usize,
    at: Timestamp,
) -> String {
    let mut rng = Rng::new(seed);
    // Currencies without a minor unit (JPY) get prices a hundred times larger.
    let scale = if currency.minor_units() == 0 { 100 } else { 1 };
    let price = |rng: &mut Rng, low: u64, spread: u64| price(rng, low * scale, spread * scale);
    let from = instant::format(at);
    let mut out =
        String::from("# SAMPLE PRICES for demonstrations and tests: not a real tariff.\n");
    out.push_str(&minutely_formats::ratecard::HEADER.join(","));
    out.push('\n');
    let mut prefixes = std::collections::BTreeSet::new();
    let mut dial_out = |out: &mut String,
                        rng: &mut Rng,
                        prefix: String,
                        name: String,
                        country: Country,
                        premium: bool,
                        rate: String| {
        if prefixes.insert(prefix.clone()) {
            let (first, inc) = match rng.below(10) {
                0 => (1, 1),
                1 | 2 => (30, 6),
                _ => (60, 60),
            };
            let fee = if premium { "0.10" } else { "0" };
            out.push_str(&format!(
                "dial_out,{prefix},,{name},{country},{premium},{rate},{fee},{first},{inc},{from}\n"
            ));
        }
    };
    let nanp_main = Country::parse("US").expect("US");
    for row in table.rows() {
        let Some(code) = calling_code(row.country) else {
            continue;
        };
        let (fixed, mobile) = examples(row.country);
        let name = row.name.replace(',', " ");
        let base = if code == 1 && row.country != nanp_main {
            fixed
                .as_ref()
                .map(|f| format!("+1{}", &f[..3]))
                .unwrap_or_default()
        } else {
            format!("+{code}")
        };
        if base.is_empty() {
            continue;
        }
        let low = if row.zone_a { 100 } else { 600 };
        let rate = price(&mut rng, low, 400);
        dial_out(
            &mut out,
            &mut rng,
            base.clone(),
            name.clone(),
            row.country,
            false,
            rate,
        );
        if let Some(m) = mobile.filter(|_| code != 1) {
            let prefix = format!("+{code}{}", &m[..2.min(m.len())]);
            let rate = price(&mut rng, low * 4, 1200);
            dial_out(
                &mut out,
                &mut rng,
                prefix,
                format!("{name} mobile"),
                row.country,
                false,
                rate,
            );
        }
        if code != 1 && rng.below(4) == 0 {
            let rate = price(&mut rng, 9000, 5000);
            dial_out(
                &mut out,
                &mut rng,
                format!("+{code}90"),
                format!("{name} premium"),
                row.country,
                true,
                rate,
            );
        }
        if row.toll_dial_in != Availability::No {
            out.push_str(&format!(
                "dial_in_toll,{},,{name} toll,{},false,{},0,60,60,{from}\n",
                row.country,
                row.country,
                price(&mut rng, 150, 300)
            ));
        }
        if row.toll_free_dial_in != Availability::No {
            out.push_str(&format!(
                "dial_in_toll_free,{},*,{name} toll-free,{},false,{},0,60,60,{from}\n",
                row.country,
                row.country,
                price(&mut rng, 300, 500)
            ));
        }
    }
    out.push_str(&format!(
        "dial_in_toll_free,US,CA,United States toll-free from Canada,US,false,{},0,60,60,{from}\n",
        price(&mut rng, 500, 300)
    ));
    out.push_str(&format!("dial_in_toll_free,CA,US,Canada toll-free from the United States,CA,false,{},0,60,60,{from}\n", price(&mut rng, 500, 300)));
    let countries: Vec<Country> = table.rows().map(|r| r.country).collect();
    let mut added = 0;
    while added < extra {
        let country = countries[rng.below(countries.len() as u64) as usize];
        let Some(code) = calling_code(country).filter(|c| *c != 1) else {
            continue;
        };
        let digits = 2 + rng.below(3) as usize;
        let tail: String = (0..digits)
            .map(|_| char::from(b'1' + rng.below(9) as u8))
            .collect();
        let before = out.len();
        let name = format!("{} zone {tail}", table.name(country).replace(',', " "));
        let rate = price(&mut rng, 200, 3000);
        dial_out(
            &mut out,
            &mut rng,
            format!("+{code}{tail}"),
            name,
            country,
            false,
            rate,
        );
        if out.len() > before {
            added += 1;
        }
    }
    out
}
