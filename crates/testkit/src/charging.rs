//! Fixtures shared by the rule tests: the operator's country table (parsed from
//! `data/countries.csv` with a tiny hand parser), compact rate-card rows, a tenant builder that
//! goes through the directory's checked API only, call builders, and a journal that re-checks C24
//! after every operation.
//!
//! Every helper panics with a message naming what went wrong when a *fixture* step is refused:
//! a test that wants to see a refusal calls the core directly.

use jiff::{SignedDuration, Timestamp};
use minutely_core::Reason;
use minutely_core::catalogue::{
    Availability, Conferencing, CountryFacts, CountryTable, Origin, RateCard, RateEntry, RateKey,
    RateKind,
};
use minutely_core::directory::{
    Agreement, AmountRules, AutoRecharge, NumberKind, Policy, Sku, Tenant, TenantSpec, UserSpec,
    WalletSettings,
};
use minutely_core::engine::{Charge, Funding, Mode, Month, Outcome, Processed, TenantBook};
use minutely_core::ledger::{Effects, Entry, LotId, recompute};
use minutely_core::money::Currency;
use minutely_core::numbers::{Country, E164};
use minutely_core::rating::{CallRecord, Direction, Rater};
use rust_decimal::Decimal;
use std::sync::OnceLock;

// ---------------------------------------------------------------------------------------------
// Scalars

/// An exact decimal from its text (never through a float).
pub fn d(text: &str) -> Decimal {
    text.parse()
        .unwrap_or_else(|e| panic!("bad decimal {text:?}: {e}"))
}

/// A UTC instant from RFC 3339 text.
pub fn ts(text: &str) -> Timestamp {
    text.parse()
        .unwrap_or_else(|e| panic!("bad instant {text:?}: {e}"))
}

/// `at` plus whole seconds.
pub fn plus(at: Timestamp, seconds: i64) -> Timestamp {
    at.checked_add(SignedDuration::from_secs(seconds))
        .expect("instant in range")
}

pub fn country(code: &str) -> Country {
    Country::parse(code).unwrap_or_else(|e| panic!("{e}"))
}

pub fn currency(code: &str) -> Currency {
    Currency::parse(code).unwrap_or_else(|e| panic!("{e}"))
}

pub fn e164(text: &str) -> E164 {
    E164::parse(text).unwrap_or_else(|| panic!("{text:?} is not of the E.164 form"))
}

pub fn policy(name: &str) -> Policy {
    Policy::parse(name).unwrap_or_else(|r| panic!("policy {name:?}: {r}"))
}

pub fn month(year: i16, month: i8) -> Month {
    Month::new(year, month).expect("a month within 0001-01 to 9999-12")
}

// ---------------------------------------------------------------------------------------------
// The country table

/// Path of the operator's country table.
pub const COUNTRIES_CSV: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/countries.csv");

/// The country table, parsed once per test binary.
pub fn countries() -> &'static CountryTable {
    static TABLE: OnceLock<CountryTable> = OnceLock::new();
    TABLE.get_or_init(|| {
        let text = std::fs::read_to_string(COUNTRIES_CSV)
            .unwrap_or_else(|e| panic!("cannot read {COUNTRIES_CSV}: {e}"));
        parse_countries(&text)
    })
}

/// A hand parser for `iso2,name,zone_a,conferencing,toll_dial_in,toll_free_dial_in,
/// communications_credits` (no quoting: the file has no commas inside fields).
pub fn parse_countries(text: &str) -> CountryTable {
    let mut lines = text.lines();
    let header = lines.next().expect("a header line");
    assert_eq!(
        header.trim(),
        "iso2,name,zone_a,conferencing,toll_dial_in,toll_free_dial_in,communications_credits",
        "unexpected header in {COUNTRIES_CSV}"
    );
    let mut rows = Vec::new();
    for (index, line) in lines.enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        assert_eq!(
            f.len(),
            7,
            "line {}: {line:?} has {} fields",
            index + 2,
            f.len()
        );
        let flag = |text: &str| match text {
            "true" | "yes" => true,
            "false" | "no" => false,
            other => panic!("line {}: {other:?} is not a flag", index + 2),
        };
        let availability = |text: &str| match text {
            "yes" => Availability::Yes,
            "on_request" => Availability::OnRequest,
            "no" => Availability::No,
            other => panic!("line {}: {other:?} is not an availability", index + 2),
        };
        rows.push(CountryFacts {
            country: country(f[0]),
            name: f[1].to_string(),
            zone_a: flag(f[2]),
            conferencing: match f[3] {
                "yes" => Conferencing::Yes,
                "ppm_only" => Conferencing::PpmOnly,
                "no" => Conferencing::No,
                other => panic!("line {}: {other:?} is not a conferencing value", index + 2),
            },
            toll_dial_in: availability(f[4]),
            toll_free_dial_in: availability(f[5]),
            communications_credits: flag(f[6]),
        });
    }
    CountryTable::new(rows)
}

// ---------------------------------------------------------------------------------------------
// Rate cards

/// One compact rate row: (kind, key, origin, name, country, premium, rate, fee, first, inc,
/// effective_from). `key` is `+digits` for dial-out and an ISO2 country for dial-in; `origin` is
/// empty (none), `*` or an ISO2 country.
pub type Row = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    bool,
    &'static str,
    &'static str,
    u32,
    u32,
    &'static str,
);

/// The instant the standard card is effective from.
pub const CARD_FROM: &str = "2020-01-01T00:00:00Z";

/// A rate entry from a compact row.
pub fn entry(row: &Row) -> RateEntry {
    let (kind, key, origin, name, ctry, premium, rate, fee, first, inc, from) = *row;
    let kind = RateKind::parse(kind).unwrap_or_else(|| panic!("bad kind {kind:?}"));
    let key = match key.strip_prefix('+') {
        Some(digits) => RateKey::Prefix(digits.to_string()),
        None => RateKey::Country(country(key)),
    };
    let origin = match origin {
        "" => None,
        "*" => Some(Origin::Any),
        code => Some(Origin::Country(country(code))),
    };
    RateEntry {
        kind,
        key,
        origin,
        name: name.to_string(),
        country: country(ctry),
        premium,
        rate_per_minute: d(rate),
        connection_fee: d(fee),
        first_block_s: first,
        increment_s: inc,
        effective_from: ts(from),
    }
}

/// A card built through `RateCard::build` (panics listing the bad rows).
pub fn card(currency_code: &str, rows: &[Row]) -> RateCard {
    let rows = rows
        .iter()
        .enumerate()
        .map(|(i, row)| (i + 2, entry(row)))
        .collect();
    RateCard::build(currency(currency_code), rows)
        .unwrap_or_else(|errors| panic!("fixture card refused: {errors:?}"))
}

/// The standard EUR card used by most tests.
pub const STD_ROWS: &[Row] = &[
    (
        "dial_out", "+33", "", "France", "FR", false, "0.0240", "0", 60, 60, CARD_FROM,
    ),
    (
        "dial_out",
        "+336",
        "",
        "France mobile",
        "FR",
        false,
        "0.1100",
        "0",
        60,
        60,
        CARD_FROM,
    ),
    (
        "dial_out",
        "+1",
        "",
        "United States and Canada",
        "US",
        false,
        "0.0100",
        "0",
        60,
        60,
        CARD_FROM,
    ),
    (
        "dial_out",
        "+1900",
        "",
        "US premium",
        "US",
        true,
        "1.0000",
        "0",
        60,
        60,
        CARD_FROM,
    ),
    (
        "dial_out", "+1876", "", "Jamaica", "JM", false, "0.2000", "0", 60, 60, CARD_FROM,
    ),
    (
        "dial_out",
        "+1787",
        "",
        "Puerto Rico",
        "PR",
        false,
        "0.0300",
        "0",
        60,
        60,
        CARD_FROM,
    ),
    (
        "dial_out",
        "+44",
        "",
        "United Kingdom",
        "GB",
        false,
        "0.0200",
        "0.0500",
        60,
        60,
        CARD_FROM,
    ),
    (
        "dial_out", "+49", "", "Germany", "DE", false, "0.0200", "0.1000", 30, 6, CARD_FROM,
    ),
    (
        "dial_out",
        "+971",
        "",
        "United Arab Emirates",
        "AE",
        false,
        "0.3000",
        "0",
        60,
        60,
        CARD_FROM,
    ),
    (
        "dial_out", "+81", "", "Japan", "JP", false, "0.0500", "0", 60, 60, CARD_FROM,
    ),
    (
        "dial_out",
        "+800",
        "",
        "International freephone",
        "FR",
        false,
        "0.0100",
        "0",
        60,
        60,
        CARD_FROM,
    ),
    (
        "dial_in_toll",
        "FR",
        "",
        "France toll",
        "FR",
        false,
        "0.0300",
        "0",
        60,
        60,
        CARD_FROM,
    ),
    (
        "dial_in_toll",
        "US",
        "",
        "US toll",
        "US",
        false,
        "0.0200",
        "0",
        60,
        60,
        CARD_FROM,
    ),
    (
        "dial_in_toll_free",
        "FR",
        "*",
        "France toll-free",
        "FR",
        false,
        "0.0500",
        "0",
        60,
        60,
        CARD_FROM,
    ),
    (
        "dial_in_toll_free",
        "US",
        "*",
        "US toll-free",
        "US",
        false,
        "0.0600",
        "0",
        60,
        60,
        CARD_FROM,
    ),
    (
        "dial_in_toll_free",
        "US",
        "CA",
        "US toll-free from Canada",
        "US",
        false,
        "0.0400",
        "0",
        60,
        60,
        CARD_FROM,
    ),
];

/// The standard card's rows with these (kind, key, origin), followed by `own`: a card that
/// differs from the standard one in a few rows names only those. Panics on a key the standard
/// card does not have.
pub fn std_rows(keys: &[(&str, &str, &str)], own: &[Row]) -> Vec<Row> {
    let mut rows: Vec<Row> = keys
        .iter()
        .map(|&(kind, key, origin)| {
            *STD_ROWS
                .iter()
                .find(|r| (r.0, r.1, r.2) == (kind, key, origin))
                .unwrap_or_else(|| panic!("no standard row {kind} {key} {origin:?}"))
        })
        .collect();
    rows.extend_from_slice(own);
    rows
}

pub fn std_card() -> RateCard {
    card("EUR", STD_ROWS)
}

// ---------------------------------------------------------------------------------------------
// Numbers used across the suite (each checked against the numbering plan in rating.rs).

pub const FR_TOLL: &str = "+33 1 42 68 53 00";
pub const FR_TOLL_FREE: &str = "+33 800 123 456";
pub const US_TOLL: &str = "+1 213 555 0100";
pub const US_TOLL_FREE: &str = "+1 800 555 0100";
pub const FR_FIXED: &str = "+33 1 42 68 53 01";
pub const FR_MOBILE: &str = "+33 6 12 34 56 78";
pub const US_NUM: &str = "+1 212 555 0100";
pub const US_PREMIUM: &str = "+1 900 555 0100";
pub const CA_NUM: &str = "+1 416 555 0100";
pub const JM_NUM: &str = "+1 876 555 0100";
pub const PR_NUM: &str = "+1 787 555 0100";
pub const GB_NUM: &str = "+44 20 7946 0018";
pub const DE_NUM: &str = "+49 30 123456";
pub const IT_NUM: &str = "+39 06 1234 5678";
pub const AE_NUM: &str = "+971 4 234 5678";
pub const JP_NUM: &str = "+81 3 1234 5678";
pub const INTL_FREEPHONE: &str = "+800 1234 5678";

// ---------------------------------------------------------------------------------------------
// Tenants

/// The instant fixture purchases are made from.
pub const PURCHASED_FROM: &str = "2000-01-01T00:00:00Z";

pub fn user_spec(upn: &str) -> UserSpec {
    UserSpec {
        object_id: None,
        upn: upn.to_string(),
        display_name: upn.split('@').next().unwrap_or(upn).to_string(),
        usage_location: None,
        policy: None,
        toll_free_dial_in: true,
    }
}

pub fn plain_wallet() -> WalletSettings {
    WalletSettings {
        auto_recharge: None,
        low_balance_thresholds: [None, None],
    }
}

pub fn auto(trigger: &str, amount: &str, payment_accepted: bool) -> AutoRecharge {
    AutoRecharge {
        enabled: true,
        trigger: d(trigger),
        amount: d(amount),
        payment_accepted,
    }
}

pub fn wallet_with(recharge: AutoRecharge) -> WalletSettings {
    WalletSettings {
        auto_recharge: Some(recharge),
        low_balance_thresholds: [None, None],
    }
}

pub fn spec(
    id: &str,
    ctry: &str,
    currency_code: &str,
    tz: &str,
    agreement: Agreement,
) -> TenantSpec {
    TenantSpec {
        id: id.to_string(),
        name: format!("{id} Ltd"),
        country: country(ctry),
        currency: currency(currency_code),
        timezone: tz.to_string(),
        agreement,
    }
}

/// Builds a tenant through the checked directory API, in a fixed order: purchases, wallet,
/// users (then their licenses), service numbers, default policy.
#[derive(Clone)]
pub struct TenantFx {
    pub spec: TenantSpec,
    purchases: Vec<(Sku, u32, Timestamp)>,
    wallet: Option<WalletSettings>,
    users: Vec<(UserSpec, Vec<Sku>)>,
    numbers: Vec<(&'static str, NumberKind, bool)>,
    default_policy: Option<&'static str>,
}

impl TenantFx {
    /// A volume-licensing tenant in UTC.
    pub fn new(id: &str, ctry: &str, currency_code: &str) -> TenantFx {
        TenantFx {
            spec: spec(id, ctry, currency_code, "UTC", Agreement::VolumeLicensing),
            purchases: Vec::new(),
            wallet: None,
            users: Vec::new(),
            numbers: Vec::new(),
            default_policy: None,
        }
    }

    pub fn tz(mut self, tz: &str) -> TenantFx {
        self.spec.timezone = tz.to_string();
        self
    }

    pub fn agreement(mut self, agreement: Agreement) -> TenantFx {
        self.spec.agreement = agreement;
        self
    }

    /// Purchased count of `sku` from the fixture epoch.
    pub fn purchase(self, sku: Sku, count: u32) -> TenantFx {
        self.purchase_from(sku, count, PURCHASED_FROM)
    }

    pub fn purchase_from(mut self, sku: Sku, count: u32, from: &str) -> TenantFx {
        self.purchases.push((sku, count, ts(from)));
        self
    }

    pub fn wallet(mut self) -> TenantFx {
        self.wallet = Some(plain_wallet());
        self
    }

    pub fn wallet_settings(mut self, settings: WalletSettings) -> TenantFx {
        self.wallet = Some(settings);
        self
    }

    pub fn no_wallet(mut self) -> TenantFx {
        self.wallet = None;
        self.numbers
            .retain(|(_, kind, _)| *kind != NumberKind::TollFree);
        self
    }

    pub fn user(self, upn: &str, skus: &[Sku]) -> TenantFx {
        self.user_with(user_spec(upn), skus)
    }

    pub fn user_with(mut self, spec: UserSpec, skus: &[Sku]) -> TenantFx {
        self.users.push((spec, skus.to_vec()));
        self
    }

    pub fn number(mut self, number: &'static str, kind: NumberKind) -> TenantFx {
        let default = kind == NumberKind::Toll
            && !self.numbers.iter().any(|(_, k, _)| *k == NumberKind::Toll);
        self.numbers.push((number, kind, default));
        self
    }

    pub fn default_policy(mut self, name: &'static str) -> TenantFx {
        self.default_policy = Some(name);
        self
    }

    pub fn build(self) -> Tenant {
        let id = self.spec.id.clone();
        let mut tenant = Tenant::new(self.spec).unwrap_or_else(|e| panic!("tenant {id}: {e}"));
        let table = countries();
        for (sku, count, from) in self.purchases {
            tenant
                .set_purchased(sku, count, from, table)
                .unwrap_or_else(|r| panic!("fixture purchase {} x{count}: {r}", sku.code()));
        }
        if let Some(settings) = self.wallet {
            tenant
                .setup_wallet(settings, table, &AmountRules::default())
                .unwrap_or_else(|r| panic!("fixture wallet: {r}"));
        }
        for (spec, skus) in self.users {
            let upn = spec.upn.clone();
            tenant
                .upsert_user(spec)
                .unwrap_or_else(|r| panic!("fixture user {upn}: {r}"));
            for sku in skus {
                tenant
                    .assign(&upn, sku, table)
                    .unwrap_or_else(|r| panic!("fixture assign {} to {upn}: {r}", sku.code()));
            }
        }
        for (number, kind, default) in self.numbers {
            tenant
                .add_number(e164(number), kind, false, default, table)
                .unwrap_or_else(|r| panic!("fixture number {number}: {r}"));
        }
        if let Some(name) = self.default_policy {
            tenant.set_default_policy(policy(name));
        }
        tenant
    }

    pub fn book(self) -> TenantBook {
        TenantBook::new(self.build())
    }
}

/// Users of the standard tenant.
pub const SUB: &str = "sub@contoso.fr"; // MCOMEETADD + MCOPSTNPP
pub const BARE: &str = "bare@contoso.fr"; // MCOMEETADD only
pub const PPM: &str = "ppm@contoso.fr"; // MCOMEETACPEA
pub const ADDON: &str = "addon@contoso.fr"; // MCOMEETADD + MCOPSTNPP + MCOMEETADD_DIALOUT_US
pub const PPM_ADDON: &str = "ppmaddon@contoso.fr"; // MCOMEETACPEA + MCOMEETADD_DIALOUT_US
pub const NOLICENSE: &str = "nolicense@contoso.fr"; // nothing
pub const NOTOLLFREE: &str = "notollfree@contoso.fr"; // MCOMEETADD + MCOPSTNPP, toll_free_dial_in false
pub const DOMESTIC: &str = "domestic@contoso.fr"; // policy DialoutCPCandPSTNDomestic
pub const ZONEA: &str = "zonea@contoso.fr"; // policy DialoutCPCZoneAPSTNInternational
pub const DISABLED: &str = "disabled@contoso.fr"; // policy DialoutCPCandPSTNDisabled
pub const ROAMER: &str = "roamer@contoso.fr"; // usage location GB, domestic policy
pub const DOM_ADDON: &str = "domaddon@contoso.fr"; // domestic policy + add-on
pub const GHOST: &str = "ghost@contoso.fr"; // not a user of the tenant

/// The standard tenant: Contoso, France, EUR, UTC, volume licensing, wallet set up (no
/// auto-recharge, nothing funded), 10 MCOMEETADD purchased (a 600-minute pool), the users above,
/// a FR toll bridge number and FR and US toll-free numbers plus a US toll number.
pub fn std_fx() -> TenantFx {
    use Sku::*;
    let with = |upn: &str, f: fn(&mut UserSpec)| {
        let mut spec = user_spec(upn);
        f(&mut spec);
        spec
    };
    TenantFx::new("contoso", "FR", "EUR")
        .purchase(Subscription, 10)
        .purchase(PayPerMinute, 2)
        .purchase(Credits, 10)
        .purchase(DialOutUs, 3)
        .wallet()
        .user(SUB, &[Subscription, Credits])
        .user(BARE, &[Subscription])
        .user(PPM, &[PayPerMinute])
        .user(ADDON, &[Subscription, Credits, DialOutUs])
        .user(PPM_ADDON, &[PayPerMinute, DialOutUs])
        .user(NOLICENSE, &[])
        .user_with(
            with(NOTOLLFREE, |s| s.toll_free_dial_in = false),
            &[Subscription, Credits],
        )
        .user_with(
            with(DOMESTIC, |s| {
                s.policy = Some(policy("DialoutCPCandPSTNDomestic"))
            }),
            &[Subscription, Credits],
        )
        .user_with(
            with(ZONEA, |s| {
                s.policy = Some(policy("DialoutCPCZoneAPSTNInternational"))
            }),
            &[Subscription, Credits],
        )
        .user_with(
            with(DISABLED, |s| {
                s.policy = Some(policy("DialoutCPCandPSTNDisabled"))
            }),
            &[Subscription, Credits],
        )
        .user_with(
            with(ROAMER, |s| {
                s.usage_location = Some(country("GB"));
                s.policy = Some(policy("DialoutCPCandPSTNDomestic"));
            }),
            &[Subscription, Credits],
        )
        .user_with(
            with(DOM_ADDON, |s| {
                s.policy = Some(policy("DialoutCPCandPSTNDomestic"))
            }),
            &[Subscription, Credits, DialOutUs],
        )
        .number(FR_TOLL, NumberKind::Toll)
        .number(US_TOLL, NumberKind::Toll)
        .number(FR_TOLL_FREE, NumberKind::TollFree)
        .number(US_TOLL_FREE, NumberKind::TollFree)
}

// ---------------------------------------------------------------------------------------------
// Calls

/// A dial-out leg of `seconds` starting at `start`.
pub fn dial_out(
    call_id: &str,
    organizer: &str,
    destination: &str,
    start: &str,
    seconds: i64,
) -> CallRecord {
    let start = ts(start);
    CallRecord {
        call_id: call_id.to_string(),
        conference_id: format!("conf-{call_id}"),
        organizer: organizer.to_string(),
        direction: Direction::DialOut,
        service_number: String::new(),
        caller_number: String::new(),
        destination_number: destination.to_string(),
        start,
        end: plus(start, seconds),
    }
}

/// A dial-in leg to `service` from `caller` (empty for none).
pub fn dial_in(
    call_id: &str,
    organizer: &str,
    service: &str,
    caller: &str,
    start: &str,
    seconds: i64,
) -> CallRecord {
    let start = ts(start);
    CallRecord {
        call_id: call_id.to_string(),
        conference_id: format!("conf-{call_id}"),
        organizer: organizer.to_string(),
        direction: Direction::DialIn,
        service_number: service.to_string(),
        caller_number: caller.to_string(),
        destination_number: String::new(),
        start,
        end: plus(start, seconds),
    }
}

/// Processes one call record in bulk (C29).
pub fn rate(book: &mut TenantBook, rater: &mut Rater<'_>, call: &CallRecord) -> Processed {
    book.process_call(rater, call, Mode::Bulk)
}

/// The charge of an accepted call (panics with the refusal otherwise).
pub fn charged(processed: &Processed) -> &Charge {
    match &processed.outcome {
        Outcome::Charged(charge) => charge,
        Outcome::Refused(reason) => panic!("expected a charge, got refused {reason}"),
    }
}

/// The reason of a refused call (panics with the charge otherwise).
pub fn refused(processed: &Processed) -> Reason {
    match &processed.outcome {
        Outcome::Refused(reason) => *reason,
        Outcome::Charged(charge) => panic!("expected a refusal, got {charge:?}"),
    }
}

/// A manual funding by the operator with the default amount rules.
pub fn fund(book: &mut TenantBook, amount: &str, at: &str) -> LotId {
    let (lot, _effects) = book
        .fund(
            d(amount),
            ts(at),
            &format!("fund-{at}"),
            true,
            &AmountRules::default(),
        )
        .unwrap_or_else(|r| panic!("fixture funding {amount} at {at}: {r}"));
    lot
}

/// Pool minutes used in a month.
pub fn pool_used(book: &TenantBook, year: i16, m: i8) -> u32 {
    book.pool_used.get(&month(year, m)).copied().unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// Expected outcomes

/// What a call should give, for table-driven checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    Refused(Reason),
    Charged {
        funding: Funding,
        capability: Sku,
        /// What the wallet is debited.
        amount: &'static str,
        pool: u32,
        billable: u64,
    },
}

pub const fn charge(
    funding: Funding,
    capability: Sku,
    amount: &'static str,
    pool: u32,
    billable: u64,
) -> Want {
    Want::Charged {
        funding,
        capability,
        amount,
        pool,
        billable,
    }
}

/// Asserts that `processed` is exactly `want` (for a charge: funding, capability, amount, pool
/// minutes and billable seconds).
pub fn assert_outcome(name: &str, processed: &Processed, want: Want) {
    match (want, &processed.outcome) {
        (Want::Refused(reason), Outcome::Refused(got)) => {
            assert_eq!(*got, reason, "{name}: wrong reason");
        }
        (
            Want::Charged {
                funding,
                capability,
                amount,
                pool,
                billable,
            },
            Outcome::Charged(c),
        ) => {
            assert_eq!(c.funding, funding, "{name}: funding");
            assert_eq!(c.capability, capability, "{name}: capability");
            assert_eq!(c.amount, d(amount), "{name}: amount");
            assert_eq!(c.pool_minutes, pool, "{name}: pool minutes");
            assert_eq!(c.billable_s, billable, "{name}: billable seconds");
        }
        (want, got) => panic!("{name}: wanted {want:?}, got {got:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// The journal (C24)

/// Every entry a tenant's wallet produced, in order, to check C24 from the journal alone.
#[derive(Debug, Default, Clone)]
pub struct Journal {
    pub entries: Vec<Entry>,
}

impl Journal {
    pub fn absorb(&mut self, effects: &Effects) {
        self.entries.extend(effects.entries.iter().cloned());
    }

    /// C24: the wallet's own invariant holds, and the journal recomputed from its postings gives
    /// the wallet's balance and totals; every entry's postings balance; sequence numbers run from
    /// 1 without gaps.
    pub fn check(&self, book: &TenantBook, context: &str) {
        book.wallet
            .check_invariant()
            .unwrap_or_else(|e| panic!("{context}: {e}"));
        let (balance, funded, debited, forfeited) = recompute(&self.entries);
        assert_eq!(
            balance,
            book.wallet.balance(),
            "{context}: recomputed balance"
        );
        assert_eq!(
            (funded, debited, forfeited),
            book.wallet.totals(),
            "{context}: recomputed totals"
        );
        for (i, entry) in self.entries.iter().enumerate() {
            assert_eq!(entry.seq, i as u64 + 1, "{context}: entry sequence");
            let sum: Decimal = entry.postings.iter().map(|p| p.amount).sum();
            assert!(
                sum.is_zero(),
                "{context}: entry {} does not balance",
                entry.seq
            );
        }
    }
}
