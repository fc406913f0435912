//! From the rows of a tariff plan to a rate card: choosing the rating profile, checking every
//! reference, and turning each activation of the profile into one complete version, with an
//! issue for every element left out.

use super::rate::{Tariff, rounding_differs, tariff};
use super::read::{self, DestinationRate, PlanBinding, Profile, Rows};
use super::{
    BadRow, DESTINATION_RATES_CSV, DESTINATIONS_CSV, Files, ImportError, Issue, RATING_PLANS_CSV,
    RATING_PROFILES_CSV, TIMINGS_CSV,
};
use jiff::Timestamp;
use minutely_core::catalogue::{RateCard, RateEntry, RateKey, RateKind};
use minutely_core::money::Currency;
use minutely_core::numbers::{Country, E164_MAX_DIGITS, region_facts};
use rust_decimal::Decimal;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::OnceLock;

/// An entry with the line of `RatingPlans.csv` it comes from.
type LinedEntry = (usize, RateEntry);

/// The most prefixes one import prices, over every activation and binding (a prefix priced by
/// two bindings counts twice): twice the rows of the largest rate card.
pub const MAX_PRICED: usize = 2 * crate::ratecard::MAX_ROWS;

/// CGRateS's word for "every destination", "every subject" and "always".
const ANY: &str = "*any";

/// Which rating profile to import, and how to read prefixes.
#[derive(Debug, Clone)]
pub struct Selection {
    /// `None`: the tariff plan's only tenant.
    pub tenant: Option<String>,
    /// CGRateS's category (`call` for voice).
    pub category: String,
    /// `None`: `*any` when the tenant has it in the category, else the only subject.
    pub subject: Option<String>,
    /// Read a prefix written without `+` (`4917`) as E.164 digits; otherwise it is reported.
    pub digits_are_e164: bool,
    /// E.164 prefixes (`+49`) at which the destination `*any` is priced; empty: `*any` is
    /// reported. A prefix of the plan's own destinations wins over these, as in CGRateS,
    /// whatever the weights.
    pub any_prefixes: Vec<String>,
}

/// One version of the card: an activation of the chosen profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub effective_from: Timestamp,
    pub plan_id: String,
    /// The line of `RatingProfiles.csv`.
    pub line: usize,
    /// Dial-out entries of the version in the card.
    pub entries: usize,
}

/// What a tariff plan gives: the card of what is represented exactly, and every issue.
#[derive(Debug, Clone)]
pub struct Import {
    pub tenant: String,
    pub category: String,
    pub subject: String,
    pub card: RateCard,
    pub versions: Vec<Version>,
    /// Every element left out of the card, by file and line.
    pub issues: Vec<Issue>,
    /// Lines of `RatingProfiles.csv` of other tenants, categories or subjects (not imported).
    pub other_profiles: Vec<usize>,
}

/// Reads a tariff plan into a card for `currency`, importing the profile `selection` chooses.
pub fn import(
    files: &Files<'_>,
    currency: Currency,
    selection: &Selection,
) -> Result<Import, ImportError> {
    for prefix in &selection.any_prefixes {
        e164_prefix(prefix, false)
            .map_err(|what| ImportError::Selection(format!("--any-destination: {what}")))?;
    }
    let mut bad = Vec::new();
    let rows = read::rows(files, &mut bad);
    check_references(&rows, &mut bad);
    if !bad.is_empty() {
        bad.sort();
        return Err(ImportError::Bad(bad));
    }
    let (tenant, category, subject) = choose(&rows.profiles, selection)?;
    let is_chosen =
        |p: &Profile| p.tenant == tenant && p.category == category && p.subject == subject;
    let (mut chosen, others): (Vec<&Profile>, Vec<&Profile>) =
        rows.profiles.iter().partition(|p| is_chosen(p));
    chosen.sort_by_key(|p| (p.activation, p.line));
    let other_profiles = others.iter().map(|p| p.line).collect();
    let index = Index::new(&rows);
    let mut issues = BTreeSet::new();
    let (entries, versions) = index.versions(&chosen, currency, selection, &mut issues)?;
    let card = RateCard::build(currency, entries).map_err(|errors| {
        let bad = errors
            .into_iter()
            .map(|e| BadRow::new(RATING_PLANS_CSV, e.line, "", e.reason))
            .collect();
        ImportError::Bad(bad)
    })?;
    Ok(Import {
        tenant,
        category,
        subject,
        card,
        versions,
        issues: issues.into_iter().collect(),
        other_profiles,
    })
}

/// Every reference names something that exists (CGRateS's loader refuses such a plan too).
fn check_references(rows: &Rows, bad: &mut Vec<BadRow>) {
    let destinations: HashSet<&str> = rows.destinations.iter().map(|d| d.id.as_str()).collect();
    let rates: HashSet<&str> = rows.rates.iter().map(|r| r.id.as_str()).collect();
    let drs: HashSet<&str> = rows
        .destination_rates
        .iter()
        .map(|r| r.id.as_str())
        .collect();
    let plans: HashSet<&str> = rows.plans.iter().map(|p| p.id.as_str()).collect();
    let timings: HashSet<&str> = rows.timings.iter().map(|t| t.id.as_str()).collect();
    // A destination and a timing may be `*any`; a rate and a plan are always named.
    let mut missing = |file, line, column: &str, what: &str, id: &str, known: &HashSet<&str>| {
        let any_allowed = matches!(column, "DestinationId" | "TimingTag");
        if !(known.contains(id) || any_allowed && id == ANY) {
            let reason = format!("{id:?}: no {what} has this id");
            bad.push(BadRow::new(file, line, column, reason));
        }
    };
    for dr in &rows.destination_rates {
        let (file, line) = (DESTINATION_RATES_CSV, dr.line);
        missing(
            file,
            line,
            "DestinationId",
            "destination",
            &dr.destination_id,
            &destinations,
        );
        missing(file, line, "RatesTag", "rate", &dr.rate_id, &rates);
    }
    for plan in &rows.plans {
        let (file, line) = (RATING_PLANS_CSV, plan.line);
        let id = &plan.destination_rate_id;
        missing(
            file,
            line,
            "DestinationRatesId",
            "destination rate",
            id,
            &drs,
        );
        missing(file, line, "TimingTag", "timing", &plan.timing_id, &timings);
    }
    for profile in &rows.profiles {
        let (file, line) = (RATING_PROFILES_CSV, profile.line);
        missing(
            file,
            line,
            "RatingPlanId",
            "rating plan",
            &profile.plan_id,
            &plans,
        );
    }
}

/// The distinct values of a column, for messages.
fn listed<'a>(values: impl Iterator<Item = &'a str>) -> String {
    let set: BTreeSet<&str> = values.collect();
    set.into_iter().collect::<Vec<_>>().join(", ")
}

/// The tenant, category and subject to import, or why none can be chosen.
fn choose(
    profiles: &[Profile],
    selection: &Selection,
) -> Result<(String, String, String), ImportError> {
    let refuse = |text: String| Err(ImportError::Selection(text));
    if profiles.is_empty() {
        return refuse(format!("{RATING_PROFILES_CSV} has no rating profile"));
    }
    let tenants = listed(profiles.iter().map(|p| p.tenant.as_str()));
    let tenant = match &selection.tenant {
        Some(t) if profiles.iter().any(|p| &p.tenant == t) => t.clone(),
        Some(t) => {
            return refuse(format!(
                "no rating profile of tenant {t:?}; tenants: {tenants}"
            ));
        }
        None if !tenants.contains(", ") => tenants,
        None => {
            return refuse(format!(
                "several tenants ({tenants}): choose one with --tenant"
            ));
        }
    };
    let of_tenant: Vec<&Profile> = profiles.iter().filter(|p| p.tenant == tenant).collect();
    let category = selection.category.clone();
    let in_category: Vec<&&Profile> = of_tenant
        .iter()
        .filter(|p| p.category == category)
        .collect();
    if in_category.is_empty() {
        let categories = listed(of_tenant.iter().map(|p| p.category.as_str()));
        return refuse(format!(
            "tenant {tenant} has no rating profile in category {category:?}; categories: {categories} (--category)"
        ));
    }
    let subjects = listed(in_category.iter().map(|p| p.subject.as_str()));
    let has = |s: &str| in_category.iter().any(|p| p.subject == s);
    let subject = match &selection.subject {
        Some(s) if has(s) => s.clone(),
        Some(s) => {
            return refuse(format!(
                "tenant {tenant} has no rating profile for subject {s:?} in category {category}; subjects: {subjects}"
            ));
        }
        None if has(ANY) => ANY.to_string(),
        None if !subjects.contains(", ") => subjects,
        None => {
            return refuse(format!(
                "tenant {tenant} has no *any subject in category {category}: choose one of {subjects} with --subject"
            ));
        }
    };
    Ok((tenant, category, subject))
}

/// A priced prefix of one plan, before the weights decide among bindings of the same prefix.
struct Candidate {
    /// Priced by the destination `*any`, which a destination of the plan overrides.
    any: bool,
    digits: String,
    country: Country,
    name: String,
    tariff: Tariff,
    weight: Decimal,
    /// The line of `RatingPlans.csv`.
    line: usize,
}

/// The rows by id.
struct Index<'a> {
    destinations: HashMap<&'a str, Vec<&'a read::Destination>>,
    rates: HashMap<&'a str, Vec<&'a read::RateGroup>>,
    destination_rates: HashMap<&'a str, Vec<&'a DestinationRate>>,
    plans: HashMap<&'a str, Vec<&'a PlanBinding>>,
    timings: HashMap<&'a str, &'a read::Timing>,
    /// Prefixes priced so far (`spend`).
    priced: std::cell::Cell<usize>,
}

fn by_id<T>(rows: &[T], id: impl Fn(&T) -> &str) -> HashMap<&str, Vec<&T>> {
    let mut map: HashMap<&str, Vec<&T>> = HashMap::new();
    for row in rows {
        map.entry(id(row)).or_default().push(row);
    }
    map
}

impl<'a> Index<'a> {
    fn new(rows: &'a Rows) -> Index<'a> {
        let mut rates = by_id(&rows.rates, |r| &r.id);
        for groups in rates.values_mut() {
            groups.sort_by_key(|g| (g.start_ns, g.line));
        }
        Index {
            destinations: by_id(&rows.destinations, |d| &d.id),
            rates,
            destination_rates: by_id(&rows.destination_rates, |d| &d.id),
            plans: by_id(&rows.plans, |p| &p.id),
            timings: rows.timings.iter().map(|t| (t.id.as_str(), t)).collect(),
            priced: std::cell::Cell::new(0),
        }
    }

    /// Every activation of the chosen profile, oldest first: its entries and what it is.
    fn versions(
        &self,
        chosen: &[&Profile],
        currency: Currency,
        selection: &Selection,
        issues: &mut BTreeSet<Issue>,
    ) -> Result<(Vec<LinedEntry>, Vec<Version>), ImportError> {
        let mut entries = Vec::new();
        let mut versions = Vec::new();
        let mut seen: HashMap<Timestamp, usize> = HashMap::new();
        for profile in chosen {
            if let Some(earlier) = seen.insert(profile.activation, profile.line) {
                let what = format!(
                    "a second rating plan ({}) activated at the same instant as line {earlier}",
                    profile.plan_id
                );
                issues.insert(Issue::new(RATING_PROFILES_CSV, profile.line, what));
                continue;
            }
            if !profile.fallback_subjects.is_empty() {
                let what = format!(
                    "the fallback subject {:?} (rates of another subject where this plan has none) is not followed",
                    profile.fallback_subjects
                );
                issues.insert(Issue::new(RATING_PROFILES_CSV, profile.line, what));
            }
            let version = self.version(profile, currency, selection, issues)?;
            if version.is_empty() {
                let what = format!(
                    "no rate of {} can be represented: the activation at {} is left out (an earlier version would stay in force)",
                    profile.plan_id, profile.activation
                );
                issues.insert(Issue::new(RATING_PROFILES_CSV, profile.line, what));
            }
            versions.push(Version {
                effective_from: profile.activation,
                plan_id: profile.plan_id.clone(),
                line: profile.line,
                entries: version.len(),
            });
            entries.extend(version);
        }
        Ok((entries, versions))
    }

    /// The entries of one activation (with the `RatingPlans.csv` line each comes from).
    fn version(
        &self,
        profile: &Profile,
        currency: Currency,
        selection: &Selection,
        issues: &mut BTreeSet<Issue>,
    ) -> Result<Vec<LinedEntry>, ImportError> {
        let mut candidates = Vec::new();
        let bindings = self
            .plans
            .get(profile.plan_id.as_str())
            .cloned()
            .unwrap_or_default();
        for binding in bindings {
            // Every element is checked, so that one run lists every issue; a binding with any
            // issue gives nothing.
            let always = self.always(binding);
            if let Err(what) = &always {
                issues.insert(Issue::new(RATING_PLANS_CSV, binding.line, what.clone()));
            }
            let rows = &self.destination_rates[binding.destination_rate_id.as_str()];
            for dr in rows {
                self.spend(dr, selection, profile.line)?;
                let found = self.candidates(binding, dr, currency, selection, issues);
                if always.is_ok() {
                    candidates.extend(found);
                }
            }
        }
        Ok(decide(candidates, profile.activation, issues))
    }

    /// Counts the prefixes a destination rate prices against `MAX_PRICED`, so that a plan whose
    /// activations, bindings and destinations multiply cannot make an import endless.
    fn spend(
        &self,
        dr: &DestinationRate,
        selection: &Selection,
        line: usize,
    ) -> Result<(), ImportError> {
        let count = match self.destinations.get(dr.destination_id.as_str()) {
            Some(prefixes) => prefixes.len(),
            None => selection.any_prefixes.len().max(1),
        };
        let spent = self.priced.get().saturating_add(count);
        self.priced.set(spent);
        if spent > MAX_PRICED {
            let reason = format!(
                "the profile's activations price more than {MAX_PRICED} prefixes in all, the most one import reads"
            );
            return Err(ImportError::Bad(vec![BadRow::new(
                RATING_PROFILES_CSV,
                line,
                "",
                reason,
            )]));
        }
        Ok(())
    }

    /// `Ok` when the binding's timing is always in force: `*any`, or a timing of every year,
    /// month, day and weekday from midnight.
    fn always(&self, binding: &PlanBinding) -> Result<(), String> {
        if binding.timing_id == ANY {
            return Ok(());
        }
        let t = self.timings[binding.timing_id.as_str()];
        let every = [&t.years, &t.months, &t.month_days, &t.week_days]
            .iter()
            .all(|v| v.as_str() == ANY || v.is_empty());
        if every && matches!(t.time.as_str(), "00:00:00" | "") {
            return Ok(());
        }
        Err(format!(
            "{} is in force only during timing {} (years {}, months {}, days {}, weekdays {}, from {}; {}:{}): peak, off-peak and holiday prices cannot be represented",
            binding.destination_rate_id,
            t.id,
            t.years,
            t.months,
            t.month_days,
            t.week_days,
            t.time,
            TIMINGS_CSV,
            t.line
        ))
    }

    /// The priced prefixes of one destination rate; none when the rate, its rounding or its
    /// cap is an issue; each prefix that is not an E.164 prefix of one country is an issue.
    fn candidates(
        &self,
        binding: &PlanBinding,
        dr: &DestinationRate,
        currency: Currency,
        selection: &Selection,
        issues: &mut BTreeSet<Issue>,
    ) -> Vec<Candidate> {
        let at_dr = |what: String| Issue::new(DESTINATION_RATES_CSV, dr.line, what);
        let groups = &self.rates[dr.rate_id.as_str()];
        let tariff = tariff(groups).map_err(|found| issues.extend(found)).ok();
        let rounding = tariff.as_ref().and_then(|t| {
            let minor = currency.minor_units();
            rounding_differs(
                t,
                &dr.rounding_method,
                dr.rounding_decimals,
                minor,
                groups.len() == 1,
            )
        });
        let rate_ok = tariff.is_some() && rounding.is_none() && dr.max_cost.is_zero();
        if let Some(what) = rounding {
            issues.insert(at_dr(format!("{}: {what}", dr.id)));
        }
        if !dr.max_cost.is_zero() {
            let what = format!(
                "{}: a maximum cost of {} per call ({}) cannot be represented",
                dr.id, dr.max_cost, dr.max_cost_strategy
            );
            issues.insert(at_dr(what));
        }
        let mut out = Vec::new();
        if dr.destination_id == ANY && selection.any_prefixes.is_empty() {
            let what = format!(
                "{}: the destination *any (every number) is not an E.164 prefix of one country (--any-destination prices it at chosen prefixes)",
                dr.id
            );
            issues.insert(at_dr(what));
        } else if dr.destination_id == ANY {
            for prefix in &selection.any_prefixes {
                match e164_prefix(prefix, false) {
                    Ok((digits, country)) => out.push((digits, country, ANY.to_string())),
                    Err(what) => {
                        issues.insert(at_dr(format!("--any-destination: {what}")));
                    }
                }
            }
        } else {
            self.prefixes(dr, selection, issues, &mut out);
        }
        let Some(tariff) = tariff.filter(|_| rate_ok) else {
            return Vec::new();
        };
        out.into_iter()
            .map(|(digits, country, name)| Candidate {
                any: dr.destination_id == ANY,
                digits,
                country,
                name,
                tariff: tariff.clone(),
                weight: binding.weight,
                line: binding.line,
            })
            .collect()
    }
}

impl Index<'_> {
    /// The E.164 prefixes of a destination; each one that is not is an issue.
    fn prefixes(
        &self,
        dr: &DestinationRate,
        selection: &Selection,
        issues: &mut BTreeSet<Issue>,
        out: &mut Vec<(String, Country, String)>,
    ) {
        for destination in &self.destinations[dr.destination_id.as_str()] {
            match e164_prefix(&destination.prefix, selection.digits_are_e164) {
                Ok((digits, country)) => out.push((digits, country, destination.id.clone())),
                Err(what) => {
                    let what = format!("{}: {what}", destination.id);
                    issues.insert(Issue::new(DESTINATIONS_CSV, destination.line, what));
                }
            }
        }
    }
}

/// One entry per prefix: a destination of the plan wins over `*any`, then the binding of the
/// highest weight wins (as in CGRateS); two of the
/// same highest weight with different prices are ambiguous and both are left out.
fn decide(
    candidates: Vec<Candidate>,
    effective_from: Timestamp,
    issues: &mut BTreeSet<Issue>,
) -> Vec<(usize, RateEntry)> {
    let mut by_prefix: BTreeMap<String, Vec<Candidate>> = BTreeMap::new();
    for c in candidates {
        by_prefix.entry(c.digits.clone()).or_default().push(c);
    }
    let mut entries = Vec::new();
    for (digits, mut found) in by_prefix {
        if found.iter().any(|c| !c.any) {
            found.retain(|c| !c.any);
        }
        let top = found.iter().map(|c| c.weight).max().expect("one candidate");
        found.retain(|c| c.weight == top);
        if found.iter().any(|c| c.tariff != found[0].tariff) {
            for c in &found {
                let what = format!(
                    "+{digits} ({}) has bindings of the same weight {top} with different prices",
                    c.name
                );
                issues.insert(Issue::new(RATING_PLANS_CSV, c.line, what));
            }
            continue;
        }
        let c = found.swap_remove(0);
        entries.push((
            c.line,
            RateEntry {
                kind: RateKind::DialOut,
                key: RateKey::Prefix(digits),
                origin: None,
                name: c.name,
                country: c.country,
                premium: false,
                rate_per_minute: c.tariff.rate_per_minute,
                connection_fee: c.tariff.connection_fee,
                first_block_s: c.tariff.first_block_s,
                increment_s: c.tariff.increment_s,
                effective_from,
            },
        ));
    }
    entries
}

/// The countries of each calling code in the numbering plan.
fn calling_codes() -> &'static HashMap<u16, Vec<Country>> {
    static CODES: OnceLock<HashMap<u16, Vec<Country>>> = OnceLock::new();
    CODES.get_or_init(|| {
        let mut codes: HashMap<u16, Vec<Country>> = HashMap::new();
        for a in b'A'..=b'Z' {
            for b in b'A'..=b'Z' {
                let code = [a, b];
                let text = std::str::from_utf8(&code).expect("ASCII");
                let country = Country::parse(text).expect("two letters");
                if let Some(facts) = region_facts(country) {
                    codes.entry(facts.calling_code).or_default().push(country);
                }
            }
        }
        codes
    })
}

/// A CGRateS prefix as E.164 digits and the one country of the numbering plan it belongs to.
pub fn e164_prefix(prefix: &str, digits_are_e164: bool) -> Result<(String, Country), String> {
    let digits = match prefix.strip_prefix('+') {
        Some(d) => d,
        None if digits_are_e164 => prefix,
        None => {
            return Err(format!(
                "the prefix {prefix:?} is not an E.164 prefix (+ then the country code; --digits-are-e164 reads digits without + as one)"
            ));
        }
    };
    let well_formed = !digits.is_empty()
        && digits.len() <= E164_MAX_DIGITS
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    if !well_formed {
        return Err(format!(
            "the prefix {prefix:?} is not an E.164 prefix (1 to {E164_MAX_DIGITS} digits, the first not 0)"
        ));
    }
    let code = (1..=3.min(digits.len()))
        .filter_map(|len| digits[..len].parse::<u16>().ok())
        .find(|code| calling_codes().contains_key(code));
    let Some(code) = code else {
        return Err(format!(
            "the prefix {prefix:?} does not start with a country calling code of one country"
        ));
    };
    match calling_codes()[&code].as_slice() {
        [country] => Ok((digits.to_string(), *country)),
        countries => {
            let names: Vec<String> = countries.iter().map(Country::to_string).collect();
            Err(format!(
                "the prefix {prefix:?} is in calling code +{code}, shared by {}: its country is not known from the prefix",
                names.join(", ")
            ))
        }
    }
}
