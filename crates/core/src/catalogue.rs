//! The operator's catalogue: the country table and the rate cards (one per currency, versioned by
//! `effective_from`), with exact per-call cost (C6, C7, C36).

use crate::money::{Currency, MAX_CONNECTION_FEE, MAX_RATE_PER_MINUTE};
use crate::numbers::{Country, DigitTrie, E164};
use jiff::Timestamp;
use rust_decimal::Decimal;
use std::collections::{BTreeMap, HashMap};

/// Whether audio conferencing is sold in a country (C2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conferencing {
    /// Both the subscription and pay-per-minute.
    Yes,
    /// Pay-per-minute only: `MCOMEETADD` is refused.
    PpmOnly,
    /// Not sold.
    No,
}

/// Whether a kind of dial-in number can be had in a country (C4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Availability {
    Yes,
    /// Counts as available (C4).
    OnRequest,
    No,
}

impl Availability {
    /// `yes` and `on_request` both count as available.
    pub fn is_available(self) -> bool {
        !matches!(self, Availability::No)
    }
}

/// One row of the country table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountryFacts {
    /// ISO 3166-1 alpha-2 code.
    pub country: Country,
    /// English name.
    pub name: String,
    /// One of the 44 Zone A countries (C16 `zone_a` policy, C18 pool).
    pub zone_a: bool,
    /// C2.
    pub conferencing: Conferencing,
    /// C4, toll numbers.
    pub toll_dial_in: Availability,
    /// C4, toll-free numbers.
    pub toll_free_dial_in: Availability,
    /// C3: Communications Credits can be set up.
    pub communications_credits: bool,
}

/// The country table: what the operator sells where.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CountryTable {
    /// Rows by country.
    rows: BTreeMap<Country, CountryFacts>,
}

impl CountryTable {
    /// A table of these rows (a later row for the same country replaces an earlier one).
    pub fn new(rows: impl IntoIterator<Item = CountryFacts>) -> CountryTable {
        CountryTable {
            rows: rows.into_iter().map(|r| (r.country, r)).collect(),
        }
    }

    /// The facts of one country, if the table lists it.
    pub fn get(&self, country: Country) -> Option<&CountryFacts> {
        self.rows.get(&country)
    }

    /// True for the Zone A countries; false for any other or unlisted country.
    pub fn is_zone_a(&self, country: Country) -> bool {
        self.get(country).is_some_and(|r| r.zone_a)
    }

    /// The English name, or the code itself for an unlisted country.
    pub fn name(&self, country: Country) -> String {
        self.get(country)
            .map_or_else(|| country.to_string(), |r| r.name.clone())
    }

    /// The English name, or an empty string for an unlisted country (no allocation).
    pub fn name_ref(&self, country: Country) -> &str {
        self.get(country).map_or("", |r| r.name.as_str())
    }

    /// Every row, by country code.
    pub fn rows(&self) -> impl Iterator<Item = &CountryFacts> {
        self.rows.values()
    }
}

/// The three tables of a rate card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RateKind {
    DialOut,
    DialInToll,
    DialInTollFree,
}

impl RateKind {
    /// The name used in rate-card files.
    pub fn as_str(self) -> &'static str {
        match self {
            RateKind::DialOut => "dial_out",
            RateKind::DialInToll => "dial_in_toll",
            RateKind::DialInTollFree => "dial_in_toll_free",
        }
    }

    /// Reads a kind from its file name.
    pub fn parse(text: &str) -> Option<RateKind> {
        match text {
            "dial_out" => Some(RateKind::DialOut),
            "dial_in_toll" => Some(RateKind::DialInToll),
            "dial_in_toll_free" => Some(RateKind::DialInTollFree),
            _ => None,
        }
    }
}

/// What a rate entry is keyed by.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RateKey {
    /// E.164 digits without `+` (dial-out; longest prefix wins).
    Prefix(String),
    /// The service number's country (dial-in).
    Country(Country),
}

/// Where a toll-free caller comes from (C35).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Origin {
    /// `*`: any origin, and records without a caller number.
    Any,
    Country(Country),
}

/// One priced destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateEntry {
    pub kind: RateKind,
    pub key: RateKey,
    /// `Some` only for toll-free dial-in.
    pub origin: Option<Origin>,
    /// Destination name shown in reports ("France mobile").
    pub name: String,
    /// ISO2 country of the destination.
    pub country: Country,
    /// Premium destinations are never paid by the pool (C18).
    pub premium: bool,
    pub rate_per_minute: Decimal,
    pub connection_fee: Decimal,
    pub first_block_s: u32,
    pub increment_s: u32,
    pub effective_from: Timestamp,
}

/// C6: billable seconds for duration `duration_s` with first block `first_s` and increment
/// `increment_s`.
pub fn billable_seconds(duration_s: u64, first_s: u32, increment_s: u32) -> u64 {
    let (first, step) = (u64::from(first_s), u64::from(increment_s.max(1)));
    if duration_s == 0 {
        0
    } else if duration_s <= first {
        first
    } else {
        // Saturates rather than wraps: no representable call comes near u64::MAX seconds.
        let steps = (duration_s - first).div_ceil(step);
        first.saturating_add(steps.saturating_mul(step))
    }
}

impl RateEntry {
    /// C6 with this entry's increments.
    pub fn billable_seconds(&self, duration_s: u64) -> u64 {
        billable_seconds(duration_s, self.first_block_s, self.increment_s)
    }

    /// C7: connection fee (not on a call of duration 0) plus the per-minute rate for the
    /// billable seconds, exact, rounded once to the currency's minor unit.
    ///
    /// With a rate and a fee within `MAX_RATE_PER_MINUTE` and `MAX_CONNECTION_FEE` (what every
    /// rate-card import enforces) the cost of any duration up to `u64::MAX` seconds is below
    /// 1e26, so this never fails for such an entry; see `checked_cost`.
    pub fn cost(&self, duration_s: u64, currency: Currency) -> Decimal {
        self.checked_cost(duration_s, currency)
            .expect("a rate within MAX_RATE_PER_MINUTE prices any duration")
    }

    /// `cost`, or `None` when the cost cannot be represented (a rate beyond the bounds).
    pub fn checked_cost(&self, duration_s: u64, currency: Currency) -> Option<Decimal> {
        if duration_s == 0 {
            return Some(Decimal::ZERO);
        }
        let billable = Decimal::from(self.billable_seconds(duration_s));
        let usage = self.rate_per_minute.checked_mul(billable)? / Decimal::from(60);
        Some(currency.round(self.connection_fee.checked_add(usage)?))
    }

    /// Whether the rate and the fee are within their bounds (`MAX_RATE_PER_MINUTE`,
    /// `MAX_CONNECTION_FEE`) and not negative.
    pub fn is_within_bounds(&self) -> bool {
        (Decimal::ZERO..=MAX_RATE_PER_MINUTE).contains(&self.rate_per_minute)
            && (Decimal::ZERO..=MAX_CONNECTION_FEE).contains(&self.connection_fee)
    }
}

/// A row's place in the file it came from, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// 1-based line in the file.
    pub line: usize,
    /// The column at fault (a header name), or empty for the whole row.
    pub column: String,
    pub reason: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.column.is_empty() {
            write!(f, "line {}: {}", self.line, self.reason)
        } else {
            write!(
                f,
                "line {}, column {}: {}",
                self.line, self.column, self.reason
            )
        }
    }
}

/// One complete table set in force from `effective_from` (C36: nothing is inherited).
#[derive(Debug, Clone)]
pub struct RateVersion {
    pub effective_from: Timestamp,
    /// Every entry, in file order.
    entries: Vec<RateEntry>,
    /// Dial-out entries by digit prefix (indexes into `entries`).
    dial_out: DigitTrie<u32>,
    /// Toll dial-in by service-number country.
    toll: HashMap<Country, u32>,
    /// Toll-free dial-in by (service-number country, origin).
    toll_free: HashMap<(Country, Origin), u32>,
}

impl RateVersion {
    fn build(
        effective_from: Timestamp,
        rows: Vec<(usize, RateEntry)>,
    ) -> (RateVersion, Vec<RowError>) {
        let mut version = RateVersion {
            effective_from,
            entries: Vec::with_capacity(rows.len()),
            dial_out: DigitTrie::default(),
            toll: HashMap::new(),
            toll_free: HashMap::new(),
        };
        let mut errors = Vec::new();
        for (line, entry) in rows {
            if !entry.is_within_bounds() {
                errors.push(RowError {
                    line,
                    column: "rate_per_minute".into(),
                    reason: format!(
                        "a rate is from 0 to {MAX_RATE_PER_MINUTE} per minute and a connection fee from 0 to {MAX_CONNECTION_FEE}"
                    ),
                });
                continue;
            }
            let index = version.entries.len() as u32;
            let duplicate = match (&entry.kind, &entry.key) {
                (RateKind::DialOut, RateKey::Prefix(digits)) => version
                    .dial_out
                    .insert(digits.bytes().map(|b| b - b'0'), index)
                    .is_some(),
                (RateKind::DialInToll, RateKey::Country(c)) => {
                    version.toll.insert(*c, index).is_some()
                }
                (RateKind::DialInTollFree, RateKey::Country(c)) => {
                    let origin = entry.origin.unwrap_or(Origin::Any);
                    version.toll_free.insert((*c, origin), index).is_some()
                }
                _ => {
                    errors.push(RowError {
                        line,
                        column: "key".into(),
                        reason: "a dial_out key is an E.164 prefix; a dial-in key is a country"
                            .into(),
                    });
                    continue;
                }
            };
            if duplicate {
                errors.push(RowError {
                    line,
                    column: "key".into(),
                    reason: format!(
                        "duplicate {} key {} in the version effective from {}",
                        entry.kind.as_str(),
                        key_text(&entry),
                        effective_from
                    ),
                });
            }
            version.entries.push(entry);
        }
        (version, errors)
    }

    /// Longest-prefix dial-out rate for a number.
    pub fn dial_out(&self, number: E164) -> Option<&RateEntry> {
        self.dial_out
            .longest_match(number.digits())
            .map(|i| &self.entries[*i as usize])
    }

    /// Toll dial-in rate for a service number in `country`.
    pub fn dial_in_toll(&self, country: Country) -> Option<&RateEntry> {
        self.toll.get(&country).map(|i| &self.entries[*i as usize])
    }

    /// C35: toll-free rate; the exact origin wins over `*`; no origin matches only `*`.
    pub fn dial_in_toll_free(
        &self,
        country: Country,
        origin: Option<Country>,
    ) -> Option<&RateEntry> {
        origin
            .and_then(|o| self.toll_free.get(&(country, Origin::Country(o))))
            .or_else(|| self.toll_free.get(&(country, Origin::Any)))
            .map(|i| &self.entries[*i as usize])
    }

    /// Every entry of this version, in file order.
    pub fn entries(&self) -> &[RateEntry] {
        &self.entries
    }
}

/// The key of an entry as written in files (`+33`, `FR`).
pub fn key_text(entry: &RateEntry) -> String {
    match &entry.key {
        RateKey::Prefix(digits) => format!("+{digits}"),
        RateKey::Country(c) => c.to_string(),
    }
}

/// A currency's rate card: every version, oldest first.
#[derive(Debug, Clone)]
pub struct RateCard {
    pub currency: Currency,
    versions: Vec<RateVersion>,
}

impl RateCard {
    /// Builds a card from entries (with the file line each came from). Entries are grouped into
    /// versions by `effective_from`; any duplicate key within a version refuses the whole card,
    /// with every bad row listed.
    pub fn build(
        currency: Currency,
        rows: Vec<(usize, RateEntry)>,
    ) -> Result<RateCard, Vec<RowError>> {
        let mut groups: BTreeMap<Timestamp, Vec<(usize, RateEntry)>> = BTreeMap::new();
        for (line, entry) in rows {
            groups
                .entry(entry.effective_from)
                .or_default()
                .push((line, entry));
        }
        let mut versions = Vec::with_capacity(groups.len());
        let mut errors = Vec::new();
        for (effective_from, rows) in groups {
            let (version, bad) = RateVersion::build(effective_from, rows);
            errors.extend(bad);
            versions.push(version);
        }
        if errors.is_empty() {
            Ok(RateCard { currency, versions })
        } else {
            errors.sort_by_key(|e| e.line);
            Err(errors)
        }
    }

    /// An empty card: every call is `no_rate`.
    pub fn empty(currency: Currency) -> RateCard {
        RateCard {
            currency,
            versions: Vec::new(),
        }
    }

    /// C36: the latest version whose `effective_from` is at or before `at`.
    pub fn version_at(&self, at: Timestamp) -> Option<&RateVersion> {
        let after = self.versions.partition_point(|v| v.effective_from <= at);
        after.checked_sub(1).map(|i| &self.versions[i])
    }

    /// Every version, oldest first.
    pub fn versions(&self) -> &[RateVersion] {
        &self.versions
    }

    /// Every entry of every version, oldest version first.
    pub fn entries(&self) -> impl Iterator<Item = &RateEntry> {
        self.versions.iter().flat_map(|v| v.entries.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(
        kind: RateKind,
        key: RateKey,
        origin: Option<Origin>,
        rate: &str,
        from: &str,
    ) -> RateEntry {
        RateEntry {
            kind,
            key,
            origin,
            name: "x".into(),
            country: Country::parse("FR").unwrap(),
            premium: false,
            rate_per_minute: rate.parse().unwrap(),
            connection_fee: Decimal::ZERO,
            first_block_s: 60,
            increment_s: 60,
            effective_from: from.parse().unwrap(),
        }
    }

    #[test]
    fn c6_billable_seconds() {
        let cases = [
            (0, 60, 60, 0),
            (1, 60, 60, 60),
            (60, 60, 60, 60),
            (61, 60, 60, 120),
            (125, 60, 60, 180),
            (31, 30, 6, 36),
            (30, 30, 6, 30),
            (37, 30, 6, 42),
            (1, 1, 1, 1),
            (61, 1, 1, 61),
        ];
        for (d, f, i, expected) in cases {
            assert_eq!(billable_seconds(d, f, i), expected, "d={d} f={f} i={i}");
        }
    }

    #[test]
    fn c36_versions_are_complete_and_chosen_by_start() {
        let usd = Currency::parse("USD").unwrap();
        let p = |d: &str| RateKey::Prefix(d.into());
        let rows = vec![
            (
                2,
                entry(
                    RateKind::DialOut,
                    p("33"),
                    None,
                    "0.02",
                    "2026-01-01T00:00:00Z",
                ),
            ),
            (
                3,
                entry(
                    RateKind::DialOut,
                    p("336"),
                    None,
                    "0.11",
                    "2026-01-01T00:00:00Z",
                ),
            ),
            (
                4,
                entry(
                    RateKind::DialOut,
                    p("33"),
                    None,
                    "0.03",
                    "2026-06-01T00:00:00Z",
                ),
            ),
        ];
        let card = RateCard::build(usd, rows).unwrap();
        let mobile = E164::parse("+33612345678").unwrap();
        assert!(
            card.version_at("2025-12-31T23:59:59Z".parse().unwrap())
                .is_none()
        );
        let v1 = card
            .version_at("2026-06-01T00:00:00Z".parse().unwrap())
            .unwrap();
        // The June version has no mobile prefix: nothing is inherited, so +336 falls to +33.
        assert_eq!(
            v1.dial_out(mobile).unwrap().rate_per_minute.to_string(),
            "0.03"
        );
        let v0 = card
            .version_at("2026-05-31T23:59:59Z".parse().unwrap())
            .unwrap();
        assert_eq!(
            v0.dial_out(mobile).unwrap().rate_per_minute.to_string(),
            "0.11"
        );
    }

    #[test]
    fn duplicate_keys_in_one_version_refuse_the_card_listing_every_row() {
        let usd = Currency::parse("USD").unwrap();
        let fr = Country::parse("FR").unwrap();
        let from = "2026-01-01T00:00:00Z";
        let rows = vec![
            (
                2,
                entry(
                    RateKind::DialInToll,
                    RateKey::Country(fr),
                    None,
                    "0.02",
                    from,
                ),
            ),
            (
                3,
                entry(
                    RateKind::DialInToll,
                    RateKey::Country(fr),
                    None,
                    "0.03",
                    from,
                ),
            ),
            (
                4,
                entry(
                    RateKind::DialOut,
                    RateKey::Prefix("33".into()),
                    None,
                    "0.1",
                    from,
                ),
            ),
            (
                5,
                entry(
                    RateKind::DialOut,
                    RateKey::Prefix("33".into()),
                    None,
                    "0.1",
                    from,
                ),
            ),
        ];
        let errors = RateCard::build(usd, rows).unwrap_err();
        assert_eq!(
            errors.iter().map(|e| e.line).collect::<Vec<_>>(),
            vec![3, 5]
        );
    }
}
