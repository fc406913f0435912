//! Deterministic simulation of the charging core (C1, C2, C10 to C16, C18 to C21, C23 to C34,
//! C36, C37, C40 to C42): a seeded PRNG drives random commands over many tenants with a
//! simulated clock, and after every step the tenant's book is compared with a small reference
//! model kept here: lots, debt, holds, the pool per month, the journal's entries and every
//! notification of the step, the directory (licenses, policies, purchased counts) and who pays
//! each call.
//!
//! `cargo test -p minutely-core --test simulation` runs the short version. Longer runs:
//! `MINUTELY_SIM_STEPS` (steps per seed), `MINUTELY_SIM_SEEDS` (number of seeds),
//! `MINUTELY_SIM_FIRST_SEED` (where the seeds start), `MINUTELY_SIM_SEED` (one seed, to
//! reproduce a failure exactly), `MINUTELY_SIM_TENANTS` (copies of each tenant) and
//! `MINUTELY_SIM_STATS` (print what a run covered), `MINUTELY_SIM_THREADS` (seeds run side by
//! side; default every core) and `MINUTELY_SIM_SECONDS` (keep starting seeds for that long).

use crate::common;

use common::*;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use minutely_core::Reason;
use minutely_core::catalogue::RateCard;
use minutely_core::control::{ControlError, ControlPolicy, Decision, Extension};
use minutely_core::directory::{
    Agreement, AmountRules, AutoRecharge, NumberKind, Policy, Sku, UserSpec, WalletSettings,
};
use minutely_core::engine::{Charge, Funding, Mode, Month, Outcome, TenantBook};
use minutely_core::ledger::{Account, Effects, EntryKind, Event};
use minutely_core::rating::{CallRecord, Direction, Rater};
use minutely_testkit::Rng;
use rust_decimal::{Decimal, RoundingStrategy};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::panic::{AssertUnwindSafe, catch_unwind};

// ---------------------------------------------------------------------------------------------
// Rate cards: two complete versions per currency (C36); the second drops the UAE.

const SIM_START: &str = "2024-01-01T00:00:00Z";
const V2_FROM: &str = "2025-03-01T00:00:00Z";

/// kind, key, origin, name, country, premium, v1 rate, v2 rate (None: absent from v2), fee,
/// first block, increment.
type Tariff = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    bool,
    &'static str,
    Option<&'static str>,
    &'static str,
    u32,
    u32,
);

#[rustfmt::skip]
const EUR_TARIFFS: &[Tariff] = &[
    ("dial_out", "+33", "", "France", "FR", false, "0.60", Some("0.90"), "0", 1, 1),
    ("dial_out", "+44", "", "United Kingdom", "GB", false, "0.02", Some("0.03"), "0.05", 60, 60),
    ("dial_out", "+49", "", "Germany", "DE", false, "0.02", Some("0.025"), "0.10", 30, 6),
    ("dial_out", "+971", "", "United Arab Emirates", "AE", false, "1.00", None, "0", 60, 60),
    ("dial_out", "+1", "", "United States and Canada", "US", false, "0.01", Some("0.01"), "0", 60, 60),
    ("dial_out", "+1900", "", "US premium", "US", true, "1.00", Some("1.00"), "0", 60, 60),
    ("dial_in_toll", "FR", "", "France toll", "FR", false, "0.03", Some("0.04"), "0", 60, 60),
    ("dial_in_toll_free", "FR", "*", "France toll-free", "FR", false, "0.05", Some("0.05"), "0", 60, 60),
];

#[rustfmt::skip]
const JPY_TARIFFS: &[Tariff] = &[
    ("dial_out", "+33", "", "France", "FR", false, "90", Some("120"), "0", 1, 1),
    ("dial_out", "+44", "", "United Kingdom", "GB", false, "3", Some("4"), "8", 60, 60),
    ("dial_out", "+49", "", "Germany", "DE", false, "3", Some("3.5"), "15", 30, 6),
    ("dial_out", "+971", "", "United Arab Emirates", "AE", false, "150", None, "0", 60, 60),
    ("dial_out", "+1", "", "United States and Canada", "US", false, "2", Some("2"), "0", 60, 60),
    ("dial_out", "+1900", "", "US premium", "US", true, "100", Some("100"), "0", 60, 60),
    ("dial_in_toll", "FR", "", "France toll", "FR", false, "5", Some("6"), "0", 60, 60),
    ("dial_in_toll_free", "FR", "*", "France toll-free", "FR", false, "8", Some("8"), "0", 60, 60),
];

#[rustfmt::skip]
const KWD_TARIFFS: &[Tariff] = &[
    ("dial_out", "+33", "", "France", "FR", false, "0.185", Some("0.2"), "0", 1, 1),
    ("dial_out", "+44", "", "United Kingdom", "GB", false, "0.006", Some("0.007"), "0.015", 60, 60),
    ("dial_out", "+49", "", "Germany", "DE", false, "0.0065", Some("0.0065"), "0.031", 30, 6),
    ("dial_out", "+971", "", "United Arab Emirates", "AE", false, "0.307", None, "0", 60, 60),
    ("dial_out", "+1", "", "United States and Canada", "US", false, "0.003", Some("0.003"), "0", 60, 60),
    ("dial_out", "+1900", "", "US premium", "US", true, "0.31", Some("0.31"), "0", 60, 60),
    ("dial_in_toll", "FR", "", "France toll", "FR", false, "0.009", Some("0.010"), "0", 60, 60),
    ("dial_in_toll_free", "FR", "*", "France toll-free", "FR", false, "0.0155", Some("0.0155"), "0", 60, 60),
];

fn tariffs(currency: &str) -> &'static [Tariff] {
    match currency {
        "EUR" => EUR_TARIFFS,
        "JPY" => JPY_TARIFFS,
        "KWD" => KWD_TARIFFS,
        other => panic!("no tariffs for {other}"),
    }
}

/// Minor-unit digits, written down here rather than asked of the core (C7).
fn minor_units(currency: &str) -> u32 {
    match currency {
        "EUR" => 2,
        "JPY" => 0,
        "KWD" => 3,
        other => panic!("no minor units for {other}"),
    }
}

fn build_card(currency: &str) -> RateCard {
    let mut rows: Vec<Row> = Vec::new();
    for t in tariffs(currency) {
        let (kind, key, origin, name, ctry, premium, v1, v2, fee, first, inc) = *t;
        rows.push((
            kind, key, origin, name, ctry, premium, v1, fee, first, inc, CARD_FROM,
        ));
        if let Some(v2) = v2 {
            rows.push((
                kind, key, origin, name, ctry, premium, v2, fee, first, inc, V2_FROM,
            ));
        }
    }
    card(currency, &rows)
}

/// The tariff a call with this (kind, key) should be rated at, starting at `start` (C36).
fn expected_tariff(
    currency: &str,
    kind: &str,
    key: &str,
    start: Timestamp,
) -> Option<(Decimal, Decimal, u32, u32, Timestamp)> {
    let t = tariffs(currency)
        .iter()
        .find(|t| t.0 == kind && t.1 == key)?;
    let (rate, from) = if start >= ts(V2_FROM) {
        (t.7?, ts(V2_FROM))
    } else {
        (t.6, ts(CARD_FROM))
    };
    Some((d(rate), d(t.8), t.9, t.10, from))
}

// ---------------------------------------------------------------------------------------------
// Tenants

struct Cfg {
    id: &'static str,
    country: &'static str,
    currency: &'static str,
    tz: &'static str,
    agreement: Agreement,
    wallet: bool,
    /// (trigger, amount, payment accepted)
    recharge: Option<(&'static str, &'static str, bool)>,
    /// Low-balance notification thresholds (C15), highest first.
    thresholds: [Option<&'static str>; 2],
    /// The operator's smallest amount (C11).
    minimum: u32,
    /// Kuwait sells pay-per-minute only (C2).
    ppm_only: bool,
    /// Purchased `MCOMEETADD` at the start: the pool is 60 minutes each (C20).
    subscriptions: u32,
    /// The tenant's default dial-out policy (C16).
    default_policy: &'static str,
    funds: &'static [&'static str],
}

const CFGS: &[Cfg] = &[
    Cfg {
        id: "paris",
        country: "FR",
        currency: "EUR",
        tz: "Europe/Paris",
        agreement: Agreement::VolumeLicensing,
        wallet: true,
        recharge: Some(("300", "100", true)),
        thresholds: [None, None],
        minimum: 50,
        ppm_only: false,
        subscriptions: 3,
        default_policy: "Global",
        funds: &["50", "60", "100", "250"],
    },
    Cfg {
        id: "tokyo",
        country: "JP",
        currency: "JPY",
        tz: "Asia/Tokyo",
        agreement: Agreement::VolumeLicensing,
        wallet: true,
        recharge: Some(("3000", "5000", false)),
        thresholds: [None, None],
        minimum: 50,
        ppm_only: false,
        subscriptions: 3,
        default_policy: "Global",
        funds: &["500", "1000", "3000", "10000"],
    },
    Cfg {
        id: "kuwait",
        country: "KW",
        currency: "KWD",
        tz: "Asia/Kuwait",
        agreement: Agreement::VolumeLicensing,
        wallet: true,
        recharge: None,
        thresholds: [None, None],
        minimum: 50,
        ppm_only: true,
        subscriptions: 0,
        default_policy: "Global",
        funds: &["50", "75", "120"],
    },
    Cfg {
        id: "newyork",
        country: "FR",
        currency: "EUR",
        tz: "America/New_York",
        agreement: Agreement::VolumeLicensing,
        wallet: true,
        recharge: Some(("50", "50", true)),
        thresholds: [None, None],
        minimum: 50,
        ppm_only: false,
        subscriptions: 3,
        default_policy: "Global",
        funds: &["50", "80"],
    },
    Cfg {
        id: "nowallet",
        country: "FR",
        currency: "EUR",
        tz: "UTC",
        agreement: Agreement::VolumeLicensing,
        wallet: false,
        recharge: None,
        thresholds: [None, None],
        minimum: 50,
        ppm_only: false,
        subscriptions: 3,
        default_policy: "Global",
        funds: &["50", "100"],
    },
    // Only the operator may fund it (C3, C41), and it cannot hold pay-per-minute (C1).
    Cfg {
        id: "reseller",
        country: "DE",
        currency: "EUR",
        tz: "Europe/Berlin",
        agreement: Agreement::Reseller,
        wallet: true,
        recharge: Some(("100", "150", true)),
        thresholds: [Some("120"), Some("20")],
        minimum: 50,
        ppm_only: false,
        subscriptions: 3,
        default_policy: "Global",
        funds: &["50", "200"],
    },
    // Month boundaries 12 to 13 hours ahead of UTC, with southern daylight saving: the pool's
    // months (C20, C21) and lot expiries (C10) in a zone far from UTC.
    Cfg {
        id: "auckland",
        country: "FR",
        currency: "EUR",
        tz: "Pacific/Auckland",
        agreement: Agreement::VolumeLicensing,
        wallet: true,
        recharge: Some(("60", "80", true)),
        thresholds: [Some("100"), Some("0")],
        minimum: 50,
        ppm_only: false,
        subscriptions: 1,
        default_policy: "DialoutCPCZoneAPSTNDomestic",
        funds: &["50", "90"],
    },
    // A higher operator minimum (C11) and a failing payment method (C12).
    Cfg {
        id: "osaka",
        country: "JP",
        currency: "JPY",
        tz: "Asia/Tokyo",
        agreement: Agreement::VolumeLicensing,
        wallet: true,
        recharge: Some(("2000", "3000", true)),
        thresholds: [Some("5000"), Some("1000")],
        minimum: 1000,
        ppm_only: false,
        subscriptions: 3,
        default_policy: "Global",
        funds: &["500", "1000", "2000", "5000"],
    },
    // Ten hours behind UTC; funded mostly by scheduled fundings.
    Cfg {
        id: "honolulu",
        country: "FR",
        currency: "EUR",
        tz: "Pacific/Honolulu",
        agreement: Agreement::VolumeLicensing,
        wallet: true,
        recharge: None,
        thresholds: [Some("50"), Some("50")],
        minimum: 50,
        ppm_only: false,
        subscriptions: 3,
        default_policy: "Global",
        funds: &["50", "70"],
    },
    // Fourteen hours ahead of UTC: the first time zone to start each month.
    Cfg {
        id: "kiritimati",
        country: "KW",
        currency: "KWD",
        tz: "Pacific/Kiritimati",
        agreement: Agreement::VolumeLicensing,
        wallet: true,
        recharge: Some(("60", "50", false)),
        thresholds: [Some("55"), None],
        minimum: 50,
        ppm_only: true,
        subscriptions: 0,
        default_policy: "DialoutCPCDomesticPSTNInternational",
        funds: &["50", "60"],
    },
];

const INVALID_FUNDS: &[&str] = &["49", "50.5", "0", "-10", "75.25", "0.01", "999.5"];

const SUB_U: &str = "sub@sim.test";
const BARE_U: &str = "bare@sim.test";
const PPM_U: &str = "ppm@sim.test";
const ADDON_U: &str = "addon@sim.test";
const PPM_ADDON_U: &str = "ppmaddon@sim.test";
const GHOST_U: &str = "ghost@sim.test";

/// The tenant's users and the licenses they start with.
fn users_of(cfg: &Cfg) -> Vec<(&'static str, Vec<Sku>)> {
    use Sku::*;
    if cfg.ppm_only {
        vec![
            (PPM_U, vec![PayPerMinute]),
            (PPM_ADDON_U, vec![PayPerMinute, DialOutUs]),
        ]
    } else {
        // C1: a reseller's pay-per-minute user has no license until one could be assigned.
        let ppm = if cfg.agreement == Agreement::VolumeLicensing {
            vec![PayPerMinute]
        } else {
            vec![]
        };
        // Subscriptions go to the first users only when fewer are purchased (a small pool).
        let with = |i: u32, rest: &[Sku]| -> Vec<Sku> {
            let sub = Some(Subscription).filter(|_| i < cfg.subscriptions);
            sub.into_iter().chain(rest.iter().copied()).collect()
        };
        vec![
            (SUB_U, with(0, &[Credits])),
            (BARE_U, with(1, &[])),
            (PPM_U, ppm),
            (ADDON_U, with(2, &[Credits, DialOutUs])),
        ]
    }
}

/// Purchased counts at the start.
fn purchases_of(cfg: &Cfg) -> Vec<(Sku, u32)> {
    use Sku::*;
    if cfg.ppm_only {
        vec![(PayPerMinute, 3), (Credits, 2), (DialOutUs, 2)]
    } else if cfg.agreement == Agreement::VolumeLicensing {
        vec![
            (Subscription, cfg.subscriptions),
            (PayPerMinute, 2),
            (Credits, 3),
            (DialOutUs, 2),
        ]
    } else {
        vec![
            (Subscription, cfg.subscriptions),
            (Credits, 3),
            (DialOutUs, 2),
        ]
    }
}

fn organizers(cfg: &Cfg) -> Vec<&'static str> {
    let mut all: Vec<&'static str> = users_of(cfg).into_iter().map(|(u, _)| u).collect();
    all.push(GHOST_U);
    all
}

fn amount_rules(cfg: &Cfg) -> AmountRules {
    AmountRules::new(Decimal::from(cfg.minimum)).expect("a valid minimum")
}

fn thresholds_of(cfg: &Cfg) -> [Option<Decimal>; 2] {
    cfg.thresholds.map(|t| t.map(d))
}

fn build_book(cfg: &Cfg) -> TenantBook {
    let mut fx = TenantFx::new(cfg.id, cfg.country, cfg.currency)
        .tz(cfg.tz)
        .agreement(cfg.agreement);
    for (sku, count) in purchases_of(cfg) {
        fx = fx.purchase(sku, count);
    }
    for (upn, skus) in users_of(cfg) {
        fx = fx.user(upn, &skus);
    }
    fx = fx.number(FR_TOLL, NumberKind::Toll);
    if cfg.wallet {
        fx = fx.wallet_settings(WalletSettings {
            auto_recharge: cfg
                .recharge
                .map(|(trigger, amount, accepted)| AutoRecharge {
                    enabled: true,
                    trigger: d(trigger),
                    amount: d(amount),
                    payment_accepted: accepted,
                }),
            low_balance_thresholds: thresholds_of(cfg),
        });
        fx = fx.number(FR_TOLL_FREE, NumberKind::TollFree);
    }
    fx = fx.default_policy(cfg.default_policy);
    fx.book()
}

// ---------------------------------------------------------------------------------------------
// Dial-out policies, written down from the spec's table (C16) rather than asked of the core

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Any,
    Domestic,
    ZoneA,
    Disabled,
}

/// Names as an administrator might send them (C41: case-insensitive, `tag:` prefix), and what
/// they mean; `None`: not a policy (`invalid_policy`).
const POLICY_NAMES: &[(&str, Option<Scope>)] = &[
    ("Global", Some(Scope::Any)),
    ("DialoutCPCInternationalPSTNDisabled", Some(Scope::Any)),
    ("DialoutCPCDomesticPSTNInternational", Some(Scope::Domestic)),
    ("tag:DialoutCPCandPSTNDomestic", Some(Scope::Domestic)),
    ("DialoutCPCZoneAPSTNDomestic", Some(Scope::ZoneA)),
    ("dialoutcpczoneapstninternational", Some(Scope::ZoneA)),
    ("DialoutCPCandPSTNDisabled", Some(Scope::Disabled)),
    ("TAG:DialoutCPCDisabledPSTNDomestic", Some(Scope::Disabled)),
    ("zone_a", Some(Scope::ZoneA)),
    ("DialoutCPCEverywhere", None),
];

fn scope_named(name: &str) -> Option<Scope> {
    POLICY_NAMES
        .iter()
        .find(|(n, _)| *n == name)
        .and_then(|(_, s)| *s)
}

/// The Zone A countries among the destinations used here (the country table's `zone_a`).
const ZONE_A: &[&str] = &["FR", "GB", "DE", "US", "CA", "IT", "JP"];

// ---------------------------------------------------------------------------------------------
// Call shapes

/// direction, number (destination or service), caller, rate (kind, key) or None, the number's
/// country, premium.
type Dest = (
    Direction,
    &'static str,
    &'static str,
    Option<(&'static str, &'static str)>,
    &'static str,
    bool,
);

const INVALID_NUM: &str = "+33 12";

#[rustfmt::skip]
const DESTS: &[Dest] = &[
    (Direction::DialOut, FR_FIXED, "", Some(("dial_out", "+33")), "FR", false),
    (Direction::DialOut, FR_MOBILE, "", Some(("dial_out", "+33")), "FR", false),
    (Direction::DialOut, GB_NUM, "", Some(("dial_out", "+44")), "GB", false),
    (Direction::DialOut, DE_NUM, "", Some(("dial_out", "+49")), "DE", false),
    (Direction::DialOut, AE_NUM, "", Some(("dial_out", "+971")), "AE", false),
    (Direction::DialOut, US_NUM, "", Some(("dial_out", "+1")), "US", false),
    (Direction::DialOut, CA_NUM, "", Some(("dial_out", "+1")), "CA", false),
    (Direction::DialOut, US_PREMIUM, "", Some(("dial_out", "+1900")), "US", true),
    (Direction::DialOut, IT_NUM, "", None, "IT", false),
    (Direction::DialOut, INVALID_NUM, "", None, "", false),
    (Direction::DialIn, FR_TOLL, FR_MOBILE, Some(("dial_in_toll", "FR")), "FR", false),
    (Direction::DialIn, FR_TOLL_FREE, GB_NUM, Some(("dial_in_toll_free", "FR")), "FR", false),
];

fn normal(number: &str) -> String {
    number
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.'))
        .collect()
}

fn dest_of(call: &CallRecord) -> &'static Dest {
    let number = match call.direction {
        Direction::DialOut => &call.destination_number,
        Direction::DialIn => &call.service_number,
    };
    DESTS
        .iter()
        .find(|t| t.0 == call.direction && normal(t.1) == normal(number))
        .expect("a generated destination")
}

fn make_call(id: &str, org: &str, dest: &Dest, start: Timestamp, seconds: u64) -> CallRecord {
    let (direction, number, caller, ..) = *dest;
    let (service, destination) = match direction {
        Direction::DialOut => ("", number),
        Direction::DialIn => (number, ""),
    };
    CallRecord {
        call_id: id.to_string(),
        conference_id: format!("conf-{id}"),
        organizer: org.to_string(),
        direction,
        service_number: service.to_string(),
        caller_number: caller.to_string(),
        destination_number: destination.to_string(),
        start,
        end: plus(start, seconds as i64),
    }
}

fn secs_between(from: Timestamp, to: Timestamp) -> u64 {
    u64::try_from(to.as_second() - from.as_second()).unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// The reference model: the directory

#[derive(Debug, Clone)]
struct MUser {
    licenses: BTreeSet<Sku>,
    scope: Option<Scope>,
    toll_free: bool,
}

/// Who may pay for a call once the directory has accepted it (section 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Included,
    AddOn,
    Pool,
    Credits,
}

/// What the directory says of a call: who may pay, the tariff, and the organizer's licenses.
#[derive(Debug, Clone, Copy)]
struct Assessed {
    route: Route,
    pay_per_minute: bool,
    credits_license: bool,
}

struct MDir {
    country: &'static str,
    agreement: Agreement,
    ppm_only: bool,
    has_toll_free: bool,
    users: BTreeMap<&'static str, MUser>,
    default_scope: Scope,
    /// Purchased counts by sku: (from, count), in time order.
    purchased: BTreeMap<Sku, Vec<(Timestamp, u32)>>,
}

impl MDir {
    fn new(cfg: &Cfg) -> MDir {
        let users = users_of(cfg)
            .into_iter()
            .map(|(upn, skus)| {
                let user = MUser {
                    licenses: skus.into_iter().collect(),
                    scope: None,
                    toll_free: true,
                };
                (upn, user)
            })
            .collect();
        let purchased = purchases_of(cfg)
            .into_iter()
            .map(|(sku, n)| (sku, vec![(ts(PURCHASED_FROM), n)]))
            .collect();
        MDir {
            country: cfg.country,
            agreement: cfg.agreement,
            ppm_only: cfg.ppm_only,
            has_toll_free: cfg.wallet,
            users,
            default_scope: scope_named(cfg.default_policy).expect("a valid default policy"),
            purchased,
        }
    }

    fn count_at(&self, sku: Sku, at: Timestamp) -> u32 {
        self.purchased
            .get(&sku)
            .and_then(|h| h.iter().rev().find(|(from, _)| *from <= at))
            .map_or(0, |(_, n)| *n)
    }

    fn assigned(&self, sku: Sku) -> u32 {
        self.users
            .values()
            .filter(|u| u.licenses.contains(&sku))
            .count() as u32
    }

    fn user(&self, upn: &str) -> Option<&MUser> {
        self.users.get(upn.to_lowercase().as_str())
    }

    /// C1 then C2.
    fn sku_allowed(&self, sku: Sku) -> Result<(), Reason> {
        if sku == Sku::PayPerMinute && self.agreement != Agreement::VolumeLicensing {
            return Err(Reason::PpmRequiresVolumeLicensing);
        }
        if sku == Sku::Subscription && self.ppm_only {
            return Err(Reason::CountryPpmOnly);
        }
        Ok(())
    }

    /// C42: unknown user, C1, C2, already held (no change), conflicting, purchased count.
    fn assign(&mut self, upn: &'static str, sku: Sku) -> Result<bool, Reason> {
        if !self.users.contains_key(upn) {
            return Err(Reason::UnknownUser);
        }
        self.sku_allowed(sku)?;
        let conferencing = |s: &Sku| matches!(s, Sku::Subscription | Sku::PayPerMinute);
        let user = &self.users[upn];
        if user.licenses.contains(&sku) {
            return Ok(false);
        }
        if conferencing(&sku) && user.licenses.iter().any(conferencing) {
            return Err(Reason::ConflictingConferencingLicenses);
        }
        let purchased = self
            .purchased
            .get(&sku)
            .and_then(|h| h.last())
            .map_or(0, |p| p.1);
        if self.assigned(sku) >= purchased {
            return Err(Reason::LicenseLimitExceeded);
        }
        self.users.get_mut(upn).unwrap().licenses.insert(sku);
        Ok(true)
    }

    fn unassign(&mut self, upn: &'static str, sku: Sku) -> Result<bool, Reason> {
        match self.users.get_mut(upn) {
            Some(user) => Ok(user.licenses.remove(&sku)),
            None => Err(Reason::UnknownUser),
        }
    }

    /// C42: a count below what is assigned is refused; a count takes effect from `at`.
    fn purchase(&mut self, sku: Sku, count: u32, at: Timestamp) -> Result<(), Reason> {
        if count > 0 {
            self.sku_allowed(sku)?;
        }
        if count < self.assigned(sku) {
            return Err(Reason::LicenseLimitExceeded);
        }
        let history = self.purchased.entry(sku).or_default();
        match history.last_mut() {
            Some(last) if last.0 == at => last.1 = count,
            _ => history.push((at, count)),
        }
        Ok(())
    }

    /// Sections 3 and 5, C18, C30 up to `no_rate`, C33, C36: who may pay, or the refusal.
    fn assess(&self, currency: &str, call: &CallRecord) -> Result<Assessed, Reason> {
        let (direction, number, _, rate_key, country, premium) = *dest_of(call);
        if number == INVALID_NUM {
            return Err(Reason::InvalidNumber);
        }
        let user = self
            .user(&call.organizer)
            .ok_or(Reason::OrganizerNotEnabled)?;
        let subscription = user.licenses.contains(&Sku::Subscription);
        let pay_per_minute = user.licenses.contains(&Sku::PayPerMinute);
        if !subscription && !pay_per_minute {
            return Err(Reason::OrganizerNotEnabled);
        }
        let tariff =
            rate_key.and_then(|(kind, key)| expected_tariff(currency, kind, key, call.start));
        let rated = |route| {
            tariff.ok_or(Reason::NoRate)?;
            Ok(Assessed {
                route,
                pay_per_minute,
                credits_license: user.licenses.contains(&Sku::Credits),
            })
        };
        let free = |route| Assessed {
            route,
            pay_per_minute,
            credits_license: user.licenses.contains(&Sku::Credits),
        };
        match direction {
            Direction::DialIn if number == FR_TOLL => {
                if pay_per_minute {
                    rated(Route::Credits)
                } else {
                    Ok(free(Route::Included))
                }
            }
            Direction::DialIn => {
                if !self.has_toll_free {
                    return Err(Reason::UnknownServiceNumber);
                }
                if !user.toll_free {
                    return Err(Reason::TollFreeDisabled);
                }
                rated(Route::Credits)
            }
            Direction::DialOut => {
                let zone_a = ZONE_A.contains(&country);
                match user.scope.unwrap_or(self.default_scope) {
                    Scope::Any => {}
                    Scope::Disabled => return Err(Reason::PolicyDisabled),
                    Scope::Domestic if country != self.country => {
                        return Err(Reason::PolicyDomesticOnly);
                    }
                    Scope::ZoneA if !zone_a => return Err(Reason::PolicyZoneAOnly),
                    Scope::Domestic | Scope::ZoneA => {}
                }
                if matches!(country, "US" | "CA") && user.licenses.contains(&Sku::DialOutUs) {
                    return Ok(free(Route::AddOn));
                }
                if subscription && zone_a && !premium {
                    rated(Route::Pool)
                } else {
                    rated(Route::Credits)
                }
            }
        }
    }
}

/// C30's tail: `credits_not_set_up` then `credits_license_missing` (C19).
fn credit_check(a: &Assessed, has_wallet: bool) -> Result<(), Reason> {
    if !has_wallet {
        return Err(Reason::CreditsNotSetUp);
    }
    if !a.pay_per_minute && !a.credits_license {
        return Err(Reason::CreditsLicenseMissing);
    }
    Ok(())
}

/// C32: who pays a call of `duration` seconds with `pool_left` minutes in its month's pool.
fn funding_of(
    a: &Assessed,
    duration: u64,
    pool_left: u32,
    has_wallet: bool,
) -> Result<Funding, Reason> {
    match a.route {
        Route::Included => Ok(Funding::Included),
        Route::AddOn => Ok(Funding::AddOn),
        Route::Pool if pool_left > 0 => {
            if duration.div_ceil(60) <= u64::from(pool_left) {
                Ok(Funding::Pool)
            } else {
                credit_check(a, has_wallet)?;
                Ok(Funding::PoolAndCredits)
            }
        }
        Route::Pool | Route::Credits => {
            credit_check(a, has_wallet)?;
            Ok(Funding::Credits)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The reference model: the wallet

#[derive(Debug, Clone, PartialEq, Eq)]
struct MLot {
    id: u64,
    funded_at: Timestamp,
    expires_at: Timestamp,
    remaining: Decimal,
    warned: bool,
}

#[derive(Debug, Clone)]
struct MHold {
    record: CallRecord,
    granted: Option<u64>,
    credit: Decimal,
    pool: u32,
    expires_at: Timestamp,
    live: bool,
}

/// Auto-recharge as the model knows it: trigger, amount, enabled, payment accepted.
type MRecharge = (Decimal, Decimal, bool, bool);

/// What one step should put in the journal and the outbox.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Expect {
    fundings: usize,
    recharges: usize,
    debits: Vec<(String, Decimal)>,
    forfeited: Decimal,
    /// Every notification, in order (C12, C15).
    events: Vec<Event>,
}

struct Model {
    tz: TimeZone,
    minor: u32,
    has_wallet: bool,
    recharge: Option<MRecharge>,
    thresholds: [Option<Decimal>; 2],
    dir: MDir,
    lots: Vec<MLot>,
    debt: Decimal,
    next_lot: u64,
    clock: Timestamp,
    retry_after: Option<Timestamp>,
    /// Fundings waiting for their instant: (at, reference, amount), in order.
    scheduled: Vec<(Timestamp, String, Decimal)>,
    holds: BTreeMap<String, MHold>,
    pool_used: BTreeMap<Month, u32>,
    /// Call ids charged, with the amount debited.
    charged: BTreeMap<String, Decimal>,
    /// Records submitted (bulk, or ended under call control) with their first result.
    submitted: BTreeMap<String, (CallRecord, Outcome)>,
    submitted_ids: Vec<String>,
    /// Authorizations denied, with their reason.
    denied: BTreeMap<String, (CallRecord, Reason)>,
    denied_ids: Vec<String>,
    exp: Expect,
    next_id: u64,
    /// What happened, by kind (printed with `MINUTELY_SIM_STATS`, to see what a run covers).
    stats: BTreeMap<String, u64>,
}

impl Model {
    fn new(cfg: &Cfg, tz: TimeZone) -> Model {
        Model {
            tz,
            minor: minor_units(cfg.currency),
            has_wallet: cfg.wallet,
            recharge: cfg.recharge.map(|(t, a, ok)| (d(t), d(a), true, ok)),
            thresholds: thresholds_of(cfg),
            dir: MDir::new(cfg),
            lots: Vec::new(),
            debt: Decimal::ZERO,
            next_lot: 1,
            clock: Timestamp::MIN,
            retry_after: None,
            scheduled: Vec::new(),
            holds: BTreeMap::new(),
            pool_used: BTreeMap::new(),
            charged: BTreeMap::new(),
            submitted: BTreeMap::new(),
            submitted_ids: Vec::new(),
            denied: BTreeMap::new(),
            denied_ids: Vec::new(),
            exp: Expect::default(),
            next_id: 0,
            stats: BTreeMap::new(),
        }
    }

    fn round(&self, amount: Decimal) -> Decimal {
        amount.round_dp_with_strategy(self.minor, RoundingStrategy::MidpointAwayFromZero)
    }

    fn month(&self, at: Timestamp) -> Month {
        let z = at.to_zoned_datetime(self.tz.clone());
        Month::new(z.year(), z.month()).expect("a month the engine keeps")
    }

    /// C20: 60 minutes per purchased `MCOMEETADD` in force at `at` (C32).
    fn pool_size(&self, at: Timestamp) -> u32 {
        60 * self.dir.count_at(Sku::Subscription, at)
    }

    /// C10: twelve calendar months later, same local wall-clock time.
    fn expiry(&self, at: Timestamp) -> Timestamp {
        at.to_zoned_datetime(self.tz.clone())
            .checked_add(12.months())
            .unwrap()
            .timestamp()
    }

    fn balance(&self) -> Decimal {
        self.lots.iter().map(|l| l.remaining).sum::<Decimal>() - self.debt
    }

    fn held(&self) -> Decimal {
        self.holds
            .values()
            .filter(|h| h.live)
            .map(|h| h.credit)
            .sum()
    }

    fn available(&self) -> Decimal {
        self.balance() - self.held()
    }

    fn pool_held(&self, month: Month) -> u32 {
        self.holds
            .values()
            .filter(|h| h.live && self.month(h.record.start) == month)
            .map(|h| h.pool)
            .sum()
    }

    /// Pool minutes left for a call starting at `start` (what live holds keep is not left).
    fn pool_left(&self, start: Timestamp) -> u32 {
        let month = self.month(start);
        let used = self.pool_used.get(&month).copied().unwrap_or(0);
        self.pool_size(start)
            .saturating_sub(used)
            .saturating_sub(self.pool_held(month))
    }

    /// The scheduled fundings due by `until` are made, then the ledger reaches `until`.
    fn bring(&mut self, until: Timestamp) {
        self.settle(until);
        self.advance(until);
    }

    /// Scheduled fundings dated at or before `until` are made, each at its own instant.
    fn settle(&mut self, until: Timestamp) {
        while self.scheduled.first().is_some_and(|f| f.0 <= until) {
            let (at, _, amount) = self.scheduled.remove(0);
            self.fund(amount, at);
            self.exp.fundings += 1;
        }
    }

    /// C10, C28: the ledger reaches `at`; lots whose expiry is at or before it are forfeited;
    /// C15: a lot expiring within 30 days is announced once.
    fn advance(&mut self, at: Timestamp) {
        if at <= self.clock {
            return;
        }
        self.clock = at;
        let (expired, kept): (Vec<MLot>, Vec<MLot>) =
            self.lots.drain(..).partition(|l| l.expires_at <= at);
        self.lots = kept;
        self.exp.forfeited += expired.iter().map(|l| l.remaining).sum::<Decimal>();
        let warn_from = plus(at, 30 * 86400);
        for lot in self.lots.iter_mut() {
            if !lot.warned && lot.expires_at <= warn_from {
                lot.warned = true;
                self.exp.events.push(Event::LotExpiringSoon {
                    at,
                    lot: lot.id,
                    expires_at: lot.expires_at,
                    remaining: lot.remaining,
                });
            }
        }
    }

    /// C10, C13: a new lot, which pays debt first.
    fn fund(&mut self, amount: Decimal, at: Timestamp) -> u64 {
        self.advance(at);
        let id = self.next_lot;
        self.next_lot += 1;
        let to_debt = self.debt.min(amount);
        self.debt -= to_debt;
        let remaining = amount - to_debt;
        if remaining > Decimal::ZERO {
            let lot = MLot {
                id,
                funded_at: at,
                expires_at: self.expiry(at),
                remaining,
                warned: false,
            };
            let place = self
                .lots
                .iter()
                .position(|l| (l.funded_at, l.id) > (at, id))
                .unwrap_or(self.lots.len());
            self.lots.insert(place, lot);
        }
        id
    }

    /// C10 FIFO, C13 debt, C15 balance notifications, then C12/C34: one recharge when the
    /// balance is left strictly below the trigger, unless a failed payment is less than an hour
    /// old.
    fn debit(&mut self, call_id: &str, amount: Decimal, at: Timestamp) {
        self.advance(at);
        let before = self.balance();
        let mut left = amount;
        while left > Decimal::ZERO && !self.lots.is_empty() {
            let take = self.lots[0].remaining.min(left);
            self.lots[0].remaining -= take;
            left -= take;
            if self.lots[0].remaining.is_zero() {
                self.lots.remove(0);
            }
        }
        self.debt += left;
        self.exp.debits.push((call_id.to_string(), amount));
        let after = self.balance();
        if before > Decimal::ZERO && after <= Decimal::ZERO {
            self.exp
                .events
                .push(Event::BalanceDepleted { at, balance: after });
        }
        let mut notified = Vec::new();
        for threshold in self.thresholds.into_iter().flatten() {
            if before >= threshold && after < threshold && !notified.contains(&threshold) {
                notified.push(threshold);
                self.exp.events.push(Event::LowBalance {
                    at,
                    threshold,
                    balance: after,
                });
            }
        }
        if let Some((trigger, recharge, true, accepted)) = self.recharge
            && after < trigger
            && self.retry_after.is_none_or(|t| at >= t)
        {
            if accepted {
                self.retry_after = None;
                let lot = self.fund(recharge, at);
                self.exp.recharges += 1;
                self.exp.events.push(Event::RechargeSucceeded {
                    at,
                    amount: recharge,
                    lot,
                });
            } else {
                let retry_after = plus(at, 3600);
                self.retry_after = Some(retry_after);
                self.exp.events.push(Event::RechargeFailed {
                    at,
                    amount: recharge,
                    retry_after,
                });
            }
        }
    }

    /// C21: pool minutes count against the month the call started in; C15 at 80% and 100%.
    fn use_pool(&mut self, start: Timestamp, minutes: u32) {
        let month = self.month(start);
        let size = self.pool_size(start);
        let used = self.pool_used.entry(month).or_insert(0);
        let before = *used;
        *used += minutes;
        let after = *used;
        assert!(
            after <= size,
            "pool of {month} overdrawn: {after} of {size}"
        );
        for percent in [80u8, 100] {
            let mark = size * u32::from(percent);
            if before * 100 < mark && after * 100 >= mark {
                self.exp.events.push(Event::PoolThreshold {
                    at: start,
                    month: month.to_string(),
                    percent,
                    used_minutes: after,
                    size_minutes: size,
                });
            }
        }
    }

    /// C27: holds past their grant and grace lapse; lapsed ones are forgotten after 7 days.
    fn expire_holds(&mut self, now: Timestamp) {
        for h in self.holds.values_mut() {
            if h.live && h.expires_at <= now {
                h.live = false;
            }
        }
        self.holds
            .retain(|_, h| h.live || plus(h.expires_at, 7 * 86400) > now);
    }

    fn count(&mut self, what: impl Into<String>) {
        *self.stats.entry(what.into()).or_insert(0) += 1;
    }

    fn fresh_id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}{}", self.next_id)
    }

    /// C3, C11, C40, C41: the checks of a funding, in order.
    fn funding_refusal(&self, cfg: &Cfg, amount: Decimal, by_operator: bool) -> Option<Reason> {
        if !self.has_wallet {
            Some(Reason::CreditsNotSetUp)
        } else if cfg.agreement == Agreement::Reseller && !by_operator {
            Some(Reason::FundingNotPermitted)
        } else {
            amount_refusal(cfg, amount)
        }
    }
}

/// C11, C40: `amount_below_minimum` before `amount_not_whole`.
fn amount_refusal(cfg: &Cfg, amount: Decimal) -> Option<Reason> {
    if amount < Decimal::from(cfg.minimum) {
        Some(Reason::AmountBelowMinimum)
    } else if !amount.fract().is_zero() {
        Some(Reason::AmountNotWhole)
    } else {
        None
    }
}

// ---------------------------------------------------------------------------------------------
// The journal, checked as it grows (C24)

/// Running totals of every entry the tenant's wallet produced: each entry balances, its
/// sequence number follows the last one, and its `balance_after` is the sum of the wallet
/// postings so far; after every step the totals equal the wallet's.
#[derive(Debug, Default)]
struct Ledger {
    entries: u64,
    balance: Decimal,
    funded: Decimal,
    debited: Decimal,
    forfeited: Decimal,
}

impl Ledger {
    fn absorb(&mut self, effects: &Effects) {
        for entry in &effects.entries {
            self.entries += 1;
            assert_eq!(entry.seq, self.entries, "C24: entry sequence");
            let mut sum = Decimal::ZERO;
            for p in &entry.postings {
                sum += p.amount;
                match p.account {
                    Account::Lot(_) | Account::Debt => self.balance += p.amount,
                    Account::Payments => self.funded -= p.amount,
                    Account::Usage => self.debited += p.amount,
                    Account::Forfeits => self.forfeited += p.amount,
                }
            }
            assert!(sum.is_zero(), "C24: entry {} does not balance", entry.seq);
            assert_eq!(
                entry.balance_after, self.balance,
                "C24: entry {}",
                entry.seq
            );
        }
    }

    fn check(&self, book: &TenantBook) {
        book.wallet
            .check_invariant()
            .unwrap_or_else(|e| panic!("C24: {e}"));
        assert_eq!(self.balance, book.wallet.balance(), "C24: journal balance");
        assert_eq!(
            (self.funded, self.debited, self.forfeited),
            book.wallet.totals(),
            "C24: journal totals"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Commands

#[derive(Debug, Clone)]
enum Cmd {
    /// A manual funding, by the operator or by the tenant's own admin (C3, C41).
    Fund(Decimal, bool),
    /// A funding dated `at`, made when the ledger reaches it.
    Schedule(Decimal, Timestamp, bool),
    Authorize(CallRecord),
    /// An authorization asked again (`same`: the same content).
    AuthorizeAgain(CallRecord, bool),
    Extend(String),
    End(String, Timestamp),
    Bulk(CallRecord),
    /// A record resubmitted with the id of an earlier one (`same`: C37 same content).
    BulkAgain(CallRecord, bool),
    /// A record carrying the id of a call under call control that has not ended.
    BulkLive(CallRecord),
    Assign(&'static str, Sku),
    Unassign(&'static str, Sku),
    /// A user's own policy (by name) and toll-free dial-in flag.
    SetUser(&'static str, Option<&'static str>, bool),
    DefaultPolicy(&'static str),
    Purchase(Sku, u32),
    /// Auto-recharge: (trigger, amount, enabled, payment accepted), or none.
    Recharge(Option<MRecharge>),
    Thresholds([Option<Decimal>; 2]),
    Expire,
}

const SKUS: &[Sku] = &[
    Sku::Subscription,
    Sku::PayPerMinute,
    Sku::Credits,
    Sku::DialOutUs,
];

struct Sim {
    cfg: &'static Cfg,
    /// The tenant's name in this run (copies of one configuration get a suffix).
    name: String,
    /// Which shared rater (one per currency) rates this tenant's calls.
    rater: usize,
    book: TenantBook,
    model: Model,
    ledger: Ledger,
    rules: AmountRules,
}

fn entries_of(effects: &Effects, kind: EntryKind) -> usize {
    effects.entries.iter().filter(|e| e.kind == kind).count()
}

/// Seconds to weeks, mostly short.
fn clock_step(rng: &mut Rng) -> u64 {
    match rng.below(100) {
        0..60 => rng.range(1, 300),
        60..85 => rng.range(300, 7200),
        85..98 => rng.range(7200, 86400),
        _ => rng.range(3 * 86400, 21 * 86400),
    }
}

impl Sim {
    fn new(cfg: &'static Cfg, name: String, rater: usize) -> Sim {
        let book = build_book(cfg);
        let model = Model::new(cfg, book.tenant.timezone.clone());
        Sim {
            cfg,
            name,
            rater,
            book,
            model,
            ledger: Ledger::default(),
            rules: amount_rules(cfg),
        }
    }

    fn amount(&self, rng: &mut Rng) -> Decimal {
        if rng.chance(75) {
            d(rng.pick::<&str>(self.cfg.funds))
        } else {
            d(rng.pick::<&str>(INVALID_FUNDS))
        }
    }

    fn generate(&mut self, rng: &mut Rng, now: Timestamp) -> Cmd {
        let orgs = organizers(self.cfg);
        match rng.below(1000) {
            0..40 => {
                let by_operator = self.cfg.agreement != Agreement::Reseller || rng.chance(60);
                Cmd::Fund(self.amount(rng), by_operator)
            }
            40..65 => {
                // Mostly ahead of the clock; sometimes already due.
                let at = if rng.chance(85) {
                    plus(now, rng.range(1, 40 * 86400) as i64)
                } else {
                    plus(now, -(rng.range(0, 3 * 86400) as i64))
                };
                let by_operator = self.cfg.agreement != Agreement::Reseller || rng.chance(60);
                Cmd::Schedule(self.amount(rng), at, by_operator)
            }
            65..315 => {
                let id = self.model.fresh_id("rt");
                let org = *rng.pick(&orgs);
                Cmd::Authorize(make_call(&id, org, rng.pick(DESTS), now, 0))
            }
            315..355 => self.authorize_again(rng),
            355..485 => {
                let metered: Vec<&String> = self
                    .model
                    .holds
                    .iter()
                    .filter(|(_, h)| h.granted.is_some())
                    .map(|(id, _)| id)
                    .collect();
                if metered.is_empty() || rng.chance(5) {
                    Cmd::Extend(format!("unknown-{}", rng.below(1000)))
                } else {
                    Cmd::Extend((*rng.pick(&metered)).clone())
                }
            }
            485..665 => self.end(rng, now),
            665..815 => {
                let id = self.model.fresh_id("b");
                let back = rng.range(0, 2 * 86400);
                let start = plus(now, -(back as i64)).max(ts(SIM_START));
                let seconds = if rng.chance(10) {
                    0
                } else {
                    rng.range(1, 5400)
                };
                let org = *rng.pick(&orgs);
                Cmd::Bulk(make_call(&id, org, rng.pick(DESTS), start, seconds))
            }
            815..855 => self.bulk_again(rng),
            855..875 => {
                if self.model.holds.is_empty() {
                    return Cmd::Expire;
                }
                let i = rng.below(self.model.holds.len() as u64) as usize;
                let h = self.model.holds.values().nth(i).unwrap();
                let mut r = h.record.clone();
                // Usually the call as it ran; sometimes exactly the authorization.
                if rng.chance(85) {
                    r.end = plus(r.start, rng.range(1, 3600) as i64);
                }
                Cmd::BulkLive(r)
            }
            875..915 => {
                // Mostly back to what the user started with, so that the directory drifts
                // around its starting point rather than towards nobody holding anything.
                let upn = *rng.pick(&orgs);
                let start = users_of(self.cfg)
                    .into_iter()
                    .find(|(u, _)| *u == upn)
                    .map(|(_, skus)| skus)
                    .unwrap_or_default();
                if rng.chance(65) {
                    let sku = if !start.is_empty() && rng.chance(80) {
                        *rng.pick(&start)
                    } else {
                        *rng.pick(SKUS)
                    };
                    Cmd::Assign(upn, sku)
                } else {
                    Cmd::Unassign(upn, *rng.pick(SKUS))
                }
            }
            915..930 => {
                let users = users_of(self.cfg);
                let upn = rng.pick(&users).0;
                let policy = if rng.chance(50) {
                    None
                } else {
                    Some(rng.pick(POLICY_NAMES).0)
                };
                Cmd::SetUser(upn, policy, rng.chance(85))
            }
            930..940 => Cmd::DefaultPolicy(if rng.chance(60) {
                self.cfg.default_policy
            } else {
                rng.pick(POLICY_NAMES).0
            }),
            940..960 => {
                let sku = if rng.chance(70) {
                    Sku::Subscription
                } else {
                    *rng.pick(SKUS)
                };
                let count = if rng.chance(80) {
                    rng.range(1, 5)
                } else {
                    rng.range(0, 1)
                };
                Cmd::Purchase(sku, count as u32)
            }
            960..975 => {
                if rng.chance(15) {
                    return Cmd::Recharge(None);
                }
                let trigger = self.amount(rng);
                let amount = self.amount(rng);
                Cmd::Recharge(Some((trigger, amount, rng.chance(80), rng.chance(70))))
            }
            975..985 if self.cfg.wallet => {
                let mut pick = || {
                    rng.chance(80).then(|| {
                        let a = d(rng.pick::<&str>(self.cfg.funds));
                        if rng.chance(20) { Decimal::ZERO } else { a }
                    })
                };
                let mut t = [pick(), pick()];
                // Highest first, as the settings API stores them.
                t.sort_by(|a, b| b.cmp(a));
                Cmd::Thresholds(t)
            }
            _ => Cmd::Expire,
        }
    }

    fn authorize_again(&mut self, rng: &mut Rng) -> Cmd {
        let which = rng.below(3);
        let same = rng.chance(60);
        let base = if which == 0 && !self.model.holds.is_empty() {
            let i = rng.below(self.model.holds.len() as u64) as usize;
            let h = self.model.holds.values().nth(i).unwrap();
            Some(h.record.clone())
        } else if which == 1 && !self.model.denied_ids.is_empty() {
            let id = rng.pick(&self.model.denied_ids);
            self.model.denied.get(id).map(|(r, _)| r.clone())
        } else if !self.model.submitted_ids.is_empty() {
            let id = rng.pick(&self.model.submitted_ids).clone();
            let mut r = self.model.submitted[&id].0.clone();
            // An authorization is never the same content as a finished record.
            r.conference_id.push('x');
            r.end = r.start;
            return Cmd::AuthorizeAgain(r, false);
        } else {
            None
        };
        match base {
            Some(mut r) => {
                if same {
                    r.organizer = r.organizer.to_uppercase();
                } else {
                    r.conference_id.push_str("-other");
                }
                Cmd::AuthorizeAgain(r, same)
            }
            None => Cmd::Expire,
        }
    }

    fn end(&mut self, rng: &mut Rng, now: Timestamp) -> Cmd {
        let r = rng.below(100);
        if r < 80 && !self.model.holds.is_empty() {
            let i = rng.below(self.model.holds.len() as u64) as usize;
            let (id, h) = self.model.holds.iter().nth(i).unwrap();
            let elapsed = secs_between(h.record.start, now);
            let cap = h.granted.unwrap_or(7200).min(elapsed);
            let secs = if rng.chance(70) {
                cap
            } else {
                rng.range(0, cap)
            };
            Cmd::End(id.clone(), plus(h.record.start, secs as i64))
        } else if r < 92 && !self.model.submitted_ids.is_empty() {
            // The same call ended twice (or a bulk id): charged once (C23).
            Cmd::End(rng.pick(&self.model.submitted_ids).clone(), now)
        } else {
            Cmd::End(format!("never-{}", rng.below(1000)), now)
        }
    }

    fn bulk_again(&mut self, rng: &mut Rng) -> Cmd {
        if self.model.submitted_ids.is_empty() {
            return Cmd::Expire;
        }
        let id = rng.pick(&self.model.submitted_ids).clone();
        let mut r = self.model.submitted[&id].0.clone();
        let same = rng.chance(50);
        if same {
            // C37: case of the UPN and number punctuation do not matter.
            r.organizer = r.organizer.to_uppercase();
            if !r.destination_number.is_empty() {
                r.destination_number = format!("{}.", r.destination_number.replace(' ', "-"));
            }
        } else if rng.chance(50) {
            r.end = plus(r.end, 1);
        } else {
            r.conference_id.push_str("-other");
        }
        Cmd::BulkAgain(r, same)
    }

    fn exec(&mut self, cmd: Cmd, now: Timestamp, rater: &mut Rater<'_>, sabotage: bool) -> u64 {
        self.model.exp = Expect::default();
        let name = format!("{cmd:?}");
        self.model
            .count(format!("cmd {}", name.split('(').next().unwrap_or("")));
        let effects = match cmd {
            Cmd::Fund(amount, by_operator) => self.fund(amount, by_operator, now),
            Cmd::Schedule(amount, at, by_operator) => self.schedule(amount, at, by_operator),
            Cmd::Authorize(call) => self.authorize(rater, call, None, now),
            Cmd::AuthorizeAgain(call, same) => self.authorize(rater, call, Some(same), now),
            Cmd::Extend(id) => self.extend(rater, &id, now),
            Cmd::End(id, end) => self.end_call(rater, &id, end, now),
            Cmd::Bulk(call) => self.bulk(rater, call, None),
            Cmd::BulkAgain(call, same) => self.bulk(rater, call, Some(same)),
            Cmd::BulkLive(call) => self.bulk_live(rater, call),
            Cmd::Assign(upn, sku) => self.license(upn, sku, true),
            Cmd::Unassign(upn, sku) => self.license(upn, sku, false),
            Cmd::SetUser(upn, policy, toll_free) => self.set_user(upn, policy, toll_free),
            Cmd::DefaultPolicy(name) => self.default_policy(name),
            Cmd::Purchase(sku, count) => self.purchase(sku, count, now),
            Cmd::Recharge(recharge) => self.set_recharge(recharge),
            Cmd::Thresholds(t) => self.set_thresholds(t),
            Cmd::Expire => {
                self.book.expire(now);
                self.model.expire_holds(now);
                self.model.bring(now);
                self.book.advance(now)
            }
        };
        if sabotage {
            // The harness's own test: a model that expects one funding too many must fail.
            self.model.exp.fundings += 1;
        }
        self.ledger.absorb(&effects);
        // What the step put in the journal and outbox is exactly what the model expects: no
        // recharge from a funding or a settings change, one per debit left strictly below the
        // trigger (C34), each charged call debited once, every notification once (C15).
        let got = Expect {
            fundings: entries_of(&effects, EntryKind::Funding),
            recharges: entries_of(&effects, EntryKind::Recharge),
            debits: effects
                .entries
                .iter()
                .filter(|e| e.kind == EntryKind::Debit)
                .map(|e| (e.call_id.clone().unwrap_or_default(), e.amount))
                .collect(),
            forfeited: effects
                .entries
                .iter()
                .filter(|e| e.kind == EntryKind::Forfeit)
                .map(|e| e.amount)
                .sum(),
            // The model does not predict call-control windows: a `call.last_window` warning is
            // checked against the book instead (C26).
            events: effects
                .events
                .iter()
                .filter(|e| !matches!(e, Event::CallLastWindow { .. }))
                .cloned()
                .collect(),
        };
        for e in &effects.events {
            if let Event::CallLastWindow {
                call_id, ends_at, ..
            } = e
            {
                let r = self.book.live().get(call_id);
                let r = r.unwrap_or_else(|| panic!("C26: {call_id} warned but not live"));
                assert!(
                    r.last_window,
                    "C26: {call_id} warned, its grant says last_window"
                );
                assert_eq!(
                    r.ends_at(),
                    Some(*ends_at),
                    "C26: {call_id} warned of its end"
                );
            }
        }
        assert_eq!(got, self.model.exp, "entries and events of the step");
        for e in &got.events {
            self.model.count(format!("event {}", e.kind()));
        }
        for (what, n) in [
            ("recharge", got.recharges),
            ("funding", got.fundings),
            ("forfeit", usize::from(!got.forfeited.is_zero())),
        ] {
            for _ in 0..n {
                self.model.count(what);
            }
        }
        if self.model.debt > Decimal::ZERO {
            self.model.count("step in debt");
        }
        self.check();
        digest_effects(&effects)
    }

    /// The book agrees with the model, and C24 holds from the journal alone.
    fn check(&self) {
        let (book, m) = (&self.book, &self.model);
        self.ledger.check(book);
        assert_eq!(book.wallet.balance(), m.balance(), "balance");
        assert_eq!(book.wallet.debt(), m.debt, "debt");
        let lots: Vec<MLot> = book
            .wallet
            .lots()
            .map(|l| MLot {
                id: l.id,
                funded_at: l.funded_at,
                expires_at: l.expires_at,
                remaining: l.remaining,
                warned: l.warned,
            })
            .collect();
        assert_eq!(lots, m.lots, "lots");
        assert_eq!(book.wallet.clock(), m.clock, "ledger clock");
        assert_eq!(book.available(), m.available(), "available (C14, C25)");
        assert_eq!(book.live().holds().credit(), m.held(), "credit held");
        assert_eq!(
            book.live().holds().live(),
            m.holds.values().filter(|h| h.live).count(),
            "live holds"
        );
        let scheduled: Vec<(Timestamp, &str, Decimal)> = book
            .scheduled
            .iter()
            .map(|f| (f.at, f.reference.as_str(), f.amount))
            .collect();
        let want: Vec<(Timestamp, &str, Decimal)> = m
            .scheduled
            .iter()
            .map(|(at, r, a)| (*at, r.as_str(), *a))
            .collect();
        assert_eq!(scheduled, want, "scheduled fundings");
        if book.live().reservations().len() != m.holds.len()
            || m.holds
                .keys()
                .any(|id| !book.live().reservations().contains_key(id))
        {
            let ids: BTreeSet<&str> = book.live().reservations().ids().collect();
            let want: BTreeSet<&str> = m.holds.keys().map(String::as_str).collect();
            assert_eq!(ids, want, "reservations");
        }
        for (id, h) in &m.holds {
            let r = book.live().reservations().get(id).unwrap();
            assert_eq!(
                (r.live, r.granted_s, r.expires_at),
                (h.live, h.granted, h.expires_at),
                "reservation {id}"
            );
            if r.live {
                assert_eq!((r.credit, r.pool_minutes), (h.credit, h.pool), "hold {id}");
            }
        }
        assert_eq!(book.pool_used, m.pool_used, "pool used (C21)");
    }

    fn fund(&mut self, amount: Decimal, by_operator: bool, now: Timestamp) -> Effects {
        let before = self.book.wallet.clone();
        let result = self.book.fund(amount, now, "sim", by_operator, &self.rules);
        match (
            result,
            self.model.funding_refusal(self.cfg, amount, by_operator),
        ) {
            (Ok((lot, effects)), None) => {
                self.model.settle(now);
                let id = self.model.fund(amount, now);
                self.model.exp.fundings += 1;
                assert_eq!(lot, id, "lot id");
                effects
            }
            (Err(refusal), Some(reason)) => {
                self.model.count(format!("funding refused {reason}"));
                assert_eq!(refusal.reason, reason, "funding {amount}");
                assert_eq!(
                    self.book.wallet, before,
                    "a refused funding changes nothing"
                );
                Effects::default()
            }
            (got, want) => panic!("funding {amount}: wanted {want:?}, got {got:?}"),
        }
    }

    fn schedule(&mut self, amount: Decimal, at: Timestamp, by_operator: bool) -> Effects {
        let reference = self.model.fresh_id("s");
        let result = self
            .book
            .schedule_funding(amount, at, &reference, by_operator, &self.rules);
        match (
            result,
            self.model.funding_refusal(self.cfg, amount, by_operator),
        ) {
            (Ok(effects), None) => {
                let key = (at, reference.clone());
                let place = self
                    .model
                    .scheduled
                    .iter()
                    .position(|(t, r, _)| (*t, r.clone()) > key)
                    .unwrap_or(self.model.scheduled.len());
                self.model.scheduled.insert(place, (at, reference, amount));
                let clock = self.model.clock;
                self.model.settle(clock);
                effects
            }
            (Err(refusal), Some(reason)) => {
                self.model
                    .count(format!("scheduled funding refused {reason}"));
                assert_eq!(refusal.reason, reason, "scheduled funding {amount}");
                Effects::default()
            }
            (got, want) => panic!("scheduled funding {amount}: wanted {want:?}, got {got:?}"),
        }
    }

    fn license(&mut self, upn: &'static str, sku: Sku, assign: bool) -> Effects {
        let table = countries();
        let (got, want) = if assign {
            let got = self.book.tenant.assign(upn, sku, table);
            (got, self.model.dir.assign(upn, sku))
        } else {
            (
                self.book.tenant.unassign(upn, sku),
                self.model.dir.unassign(upn, sku),
            )
        };
        let got = got.map_err(|r| r.reason);
        assert_eq!(
            got,
            want,
            "license {} of {upn} (assign {assign})",
            sku.code()
        );
        let verb = if assign { "assign" } else { "unassign" };
        match got {
            Ok(changed) => self.model.count(format!("{verb} changed {changed}")),
            Err(r) => self.model.count(format!("{verb} refused {r}")),
        }
        self.check_directory();
        Effects::default()
    }

    fn set_user(&mut self, upn: &'static str, name: Option<&str>, toll_free: bool) -> Effects {
        let want: Result<Option<Scope>, Reason> = match name {
            None => Ok(None),
            Some(n) => scope_named(n).map(Some).ok_or(Reason::InvalidPolicy),
        };
        match (name.map(Policy::parse).transpose(), want) {
            (Ok(policy), Ok(scope)) => {
                let spec = UserSpec {
                    policy,
                    toll_free_dial_in: toll_free,
                    ..user_spec(upn)
                };
                self.book
                    .tenant
                    .upsert_user(spec)
                    .unwrap_or_else(|r| panic!("user {upn}: {r}"));
                let user = self.model.dir.users.get_mut(upn).expect("a user");
                user.scope = scope;
                user.toll_free = toll_free;
                self.model.count("user changed");
            }
            (Err(reason), Err(want)) => {
                assert_eq!(reason, want, "policy {name:?}");
                self.model.count("user policy refused");
            }
            (got, want) => panic!("policy {name:?}: wanted {want:?}, got {got:?}"),
        }
        self.check_directory();
        Effects::default()
    }

    fn default_policy(&mut self, name: &str) -> Effects {
        match (Policy::parse(name), scope_named(name)) {
            (Ok(policy), Some(scope)) => {
                self.book.tenant.set_default_policy(policy);
                self.model.dir.default_scope = scope;
            }
            (Err(reason), None) => assert_eq!(reason, Reason::InvalidPolicy),
            (got, want) => panic!("policy {name}: wanted {want:?}, got {got:?}"),
        }
        Effects::default()
    }

    fn purchase(&mut self, sku: Sku, count: u32, now: Timestamp) -> Effects {
        let got = self
            .book
            .tenant
            .set_purchased(sku, count, now, countries())
            .map(|_| ())
            .map_err(|r| r.reason);
        let want = self.model.dir.purchase(sku, count, now);
        assert_eq!(got, want, "purchase {} x{count}", sku.code());
        match got {
            Ok(()) => self.model.count(format!("purchase {}", sku.code())),
            Err(r) => self.model.count(format!("purchase refused {r}")),
        }
        self.check_directory();
        Effects::default()
    }

    fn set_recharge(&mut self, recharge: Option<MRecharge>) -> Effects {
        let settings = recharge.map(|(trigger, amount, enabled, accepted)| AutoRecharge {
            enabled,
            trigger,
            amount,
            payment_accepted: accepted,
        });
        let got = self
            .book
            .tenant
            .set_auto_recharge(settings, countries(), &self.rules)
            .map(|_| ())
            .map_err(|r| r.reason);
        // C40: a wallet first; C11: the trigger, then the amount.
        let want = if !self.model.has_wallet {
            Err(Reason::CreditsNotSetUp)
        } else if let Some((trigger, amount, ..)) = recharge {
            match amount_refusal(self.cfg, trigger).or(amount_refusal(self.cfg, amount)) {
                Some(reason) => Err(reason),
                None => Ok(()),
            }
        } else {
            Ok(())
        };
        assert_eq!(got, want, "auto-recharge {recharge:?}");
        match got {
            Ok(()) => {
                self.model.recharge = recharge;
                self.model.count("auto-recharge changed");
            }
            Err(r) => self.model.count(format!("auto-recharge refused {r}")),
        }
        let settings = self.book.tenant.wallet().and_then(|w| w.auto_recharge);
        let known = settings.map(|r| (r.trigger, r.amount, r.enabled, r.payment_accepted));
        assert_eq!(known, self.model.recharge, "auto-recharge settings");
        Effects::default()
    }

    fn set_thresholds(&mut self, thresholds: [Option<Decimal>; 2]) -> Effects {
        let mut settings = *self.book.tenant.wallet().expect("a wallet");
        settings.low_balance_thresholds = thresholds;
        self.book
            .tenant
            .setup_wallet(settings, countries(), &self.rules)
            .unwrap_or_else(|r| panic!("thresholds {thresholds:?}: {r}"));
        self.model.thresholds = thresholds;
        self.model.count("thresholds changed");
        Effects::default()
    }

    /// The directory the core holds is the model's.
    fn check_directory(&self) {
        let dir = &self.model.dir;
        for (upn, m) in &dir.users {
            let user = self.book.tenant.user(upn).expect("a user");
            assert_eq!(user.licenses, m.licenses, "licenses of {upn}");
            assert_eq!(user.toll_free_dial_in, m.toll_free, "toll-free of {upn}");
        }
        for sku in SKUS {
            assert_eq!(
                self.book.tenant.purchases().current(*sku),
                dir.count_at(*sku, Timestamp::MAX),
                "purchased {}",
                sku.code()
            );
        }
    }

    fn authorize(
        &mut self,
        rater: &mut Rater<'_>,
        call: CallRecord,
        again: Option<bool>,
        now: Timestamp,
    ) -> Effects {
        let before = self.book.wallet.clone();
        let before_pool = self.book.pool_used.clone();
        self.model.expire_holds(now);
        let id = call.call_id.clone();
        let known_hold = self.model.holds.contains_key(&id);
        let denied = self.model.denied.get(&id).map(|(_, reason)| *reason);
        let policy = ControlPolicy::default();
        if known_hold || denied.is_some() || self.model.submitted.contains_key(&id) {
            let same = again.unwrap_or(false);
            let (decision, effects, _) = self.book.authorize(rater, &call, now, &policy);
            match (&decision, known_hold, denied) {
                (Decision::Allow(g), true, _) if same => assert!(g.replay, "replayed grant"),
                (Decision::Deny(Reason::CallIdReused), true, _) if !same => {}
                (Decision::Deny(r), false, Some(first)) if same => assert_eq!(*r, first),
                (Decision::Deny(Reason::CallIdReused), false, _) if !same => {}
                _ => panic!("authorize again {id} (same {same}): got {decision:?}"),
            }
            assert!(
                effects.entries.is_empty(),
                "a repeated authorization moves no money"
            );
            assert_eq!(
                self.book.wallet, before,
                "a repeated authorization changes nothing"
            );
            assert_eq!(self.book.pool_used, before_pool);
            return effects;
        }
        self.model.bring(now);
        let available = self.model.available();
        let pool_left = self.model.pool_left(call.start);
        // C14, C18, C19, C25, C30, C32: the answer the directory, the pool and the wallet
        // imply. `Ok(None)`: a pool call whose grant the pool alone may not cover (pool, or
        // pool and credits).
        let has_wallet = self.model.has_wallet;
        let want = self
            .model
            .dir
            .assess(self.cfg.currency, &call)
            .and_then(|a| match a.route {
                Route::Included => Ok(Some(Funding::Included)),
                Route::AddOn => Ok(Some(Funding::AddOn)),
                Route::Pool if pool_left >= 5 => Ok(Some(Funding::Pool)),
                Route::Pool if pool_left > 0 => Ok(None),
                Route::Pool | Route::Credits => {
                    credit_check(&a, has_wallet)?;
                    if available <= Decimal::ZERO {
                        return Err(Reason::InsufficientCredits);
                    }
                    Ok(Some(Funding::Credits))
                }
            });
        let (decision, effects, _) = self.book.authorize(rater, &call, now, &policy);
        match (decision, want) {
            (Decision::Allow(g), Ok(funding)) => {
                assert!(!g.replay);
                self.model
                    .count(format!("authorize allowed {:?}", g.funding));
                match funding {
                    Some(f) => assert_eq!(g.funding, f, "{id}: who pays"),
                    None => assert!(
                        matches!(g.funding, Funding::Pool | Funding::PoolAndCredits),
                        "{id}: a pool call, got {:?}",
                        g.funding
                    ),
                }
                // C14, C25: no credit-funded call starts while nothing is available.
                if g.credit > Decimal::ZERO
                    || matches!(g.funding, Funding::Credits | Funding::PoolAndCredits)
                {
                    assert!(
                        available > Decimal::ZERO,
                        "{id} granted {g:?} with {available} available"
                    );
                }
                let expires = match g.max_duration_s {
                    Some(s) => plus(call.start, (s + policy.grace_s) as i64),
                    None => plus(call.start, 24 * 3600),
                };
                assert_eq!(g.expires_at, expires, "hold expiry");
                assert!(g.pool_minutes <= pool_left, "pool hold beyond the pool");
                self.model.holds.insert(
                    id,
                    MHold {
                        record: call,
                        granted: g.max_duration_s,
                        credit: g.credit,
                        pool: g.pool_minutes,
                        expires_at: g.expires_at,
                        live: true,
                    },
                );
            }
            (Decision::Deny(reason), Err(want)) => {
                self.model.count(format!("authorize denied {reason}"));
                assert_eq!(reason, want, "{id} denied");
                assert_eq!(self.book.pool_used, before_pool);
                self.model.denied_ids.push(id.clone());
                self.model.denied.insert(id, (call, reason));
            }
            (got, want) => panic!("authorize {id}: wanted {want:?}, got {got:?}"),
        }
        effects
    }

    fn extend(&mut self, rater: &mut Rater<'_>, id: &str, now: Timestamp) -> Effects {
        let before = self.book.wallet.clone();
        self.model.expire_holds(now);
        let policy = ControlPolicy::default();
        let hold = self.model.holds.get(id).cloned();
        let known = hold.as_ref().and_then(|h| h.granted);
        if let Some(h) = hold.as_ref().filter(|h| h.live && h.granted.is_some()) {
            self.model.bring(now);
            let others = self.model.available() + h.credit;
            let assessed = self.model.dir.assess(self.cfg.currency, &h.record);
            let (result, effects, _) = self.book.extend(rater, id, known, now, &policy);
            match result {
                Ok(Extension::Extended(g)) => {
                    let granted = g.max_duration_s.expect("metered");
                    assert!(granted >= h.granted.unwrap());
                    // Rated with the directory as it is now: a call its organizer may no
                    // longer make gets no more time.
                    assert!(assessed.is_ok(), "{id} extended: {assessed:?}");
                    if g.credit > h.credit {
                        assert!(others > Decimal::ZERO, "{id} extended on {others}");
                    }
                    assert_eq!(
                        g.expires_at,
                        plus(h.record.start, (granted + policy.grace_s) as i64)
                    );
                    let hold = self.model.holds.get_mut(id).unwrap();
                    hold.granted = Some(granted);
                    hold.credit = g.credit;
                    hold.pool = g.pool_minutes;
                    hold.expires_at = g.expires_at;
                }
                Ok(Extension::Exhausted(g)) => {
                    self.model.count("extend exhausted");
                    assert_eq!(g.credit, h.credit);
                }
                Ok(Extension::Stopped(_, reason)) => panic!("{id}: the guard is off: {reason}"),
                Err(e) => panic!("extend {id}: {e:?}"),
            }
            return effects;
        }
        let (result, effects, _) = self.book.extend(rater, id, known, now, &policy);
        match (&hold, &result) {
            (Some(h), Ok(Extension::Exhausted(_))) if !h.live => {}
            (Some(h), Ok(Extension::Extended(g))) if h.granted.is_none() => assert!(g.replay),
            (None, Err(ControlError::CallNotFound | ControlError::CallAlreadyEnded)) => {}
            _ => panic!("extend {id} ({hold:?}): {result:?}"),
        }
        assert_eq!(self.book.wallet, before, "extend changes nothing");
        effects
    }

    fn end_call(
        &mut self,
        rater: &mut Rater<'_>,
        id: &str,
        end: Timestamp,
        now: Timestamp,
    ) -> Effects {
        let before = self.book.wallet.clone();
        self.model.expire_holds(now);
        let Some(h) = self.model.holds.get(id).cloned() else {
            let (result, _) = self.book.end(rater, id, end, None, now);
            match (self.model.submitted.get(id), result) {
                (Some((_, first)), Ok(p)) => {
                    assert!(p.replay, "an end reported twice is a replay");
                    assert_eq!(&p.outcome, first, "the first result again");
                    assert!(p.effects.entries.is_empty());
                }
                (None, Err(ControlError::CallNotFound)) => {}
                (_, got) => panic!("end {id}: {got:?}"),
            }
            assert_eq!(self.book.wallet, before, "a repeated end changes nothing");
            return Effects::default();
        };
        let call = CallRecord {
            end,
            ..h.record.clone()
        };
        self.model.holds.remove(id);
        self.model.bring(end);
        let pool_left = self.model.pool_left(call.start);
        // C27, C28: rated when it ends, with the directory as it is then; never refused for
        // credits (C13).
        let want = self
            .model
            .dir
            .assess(self.cfg.currency, &call)
            .and_then(|a| {
                funding_of(
                    &a,
                    secs_between(call.start, end),
                    pool_left,
                    self.model.has_wallet,
                )
            });
        let (result, _) = self.book.end(rater, id, end, None, now);
        let p = result.unwrap_or_else(|e| panic!("end {id}: {e:?}"));
        assert!(!p.replay, "first end of {id}");
        self.model.count(format!("end (hold live {})", h.live));
        match (&p.outcome, want) {
            (Outcome::Charged(c), Ok(funding)) => {
                assert_eq!(c.funding, funding, "{id}: who pays");
                self.apply_charge(c, &call, end, pool_left);
            }
            (Outcome::Refused(reason), Err(want)) => {
                self.model.count(format!("end refused {reason}"));
                assert_eq!(*reason, want, "{id}: end refused");
            }
            (got, want) => panic!("end {id}: wanted {want:?}, got {got:?}"),
        }
        self.model
            .submitted
            .insert(id.to_string(), (call, p.outcome.clone()));
        self.model.submitted_ids.push(id.to_string());
        p.effects
    }

    fn bulk(&mut self, rater: &mut Rater<'_>, call: CallRecord, again: Option<bool>) -> Effects {
        let before = self.book.wallet.clone();
        let before_pool = self.book.pool_used.clone();
        let id = call.call_id.clone();
        if let Some(same) = again {
            let first = self.model.submitted[&id].1.clone();
            let p = self.book.process_call(rater, &call, Mode::Bulk);
            if same {
                assert!(p.replay, "C23: same content is a replay");
                assert_eq!(p.outcome, first, "C23: the first result");
            } else {
                assert!(!p.replay);
                assert_eq!(p.outcome, Outcome::Refused(Reason::CallIdReused), "C23");
            }
            assert!(p.effects.entries.is_empty());
            assert_eq!(self.book.wallet, before, "a duplicate changes nothing");
            assert_eq!(self.book.pool_used, before_pool);
            return p.effects;
        }
        self.model.bring(call.start);
        let pool_left = self.model.pool_left(call.start);
        // C29: never refused for credits; every other refusal applies.
        let want = self
            .model
            .dir
            .assess(self.cfg.currency, &call)
            .and_then(|a| {
                funding_of(
                    &a,
                    secs_between(call.start, call.end),
                    pool_left,
                    self.model.has_wallet,
                )
            });
        let p = self.book.process_call(rater, &call, Mode::Bulk);
        assert!(!p.replay);
        match (&p.outcome, want) {
            (Outcome::Charged(c), Ok(funding)) => {
                assert_eq!(c.funding, funding, "{id}: who pays");
                self.apply_charge(c, &call, call.start, pool_left);
            }
            (Outcome::Refused(reason), Err(want)) => {
                self.model.count(format!("bulk refused {reason}"));
                assert_eq!(*reason, want, "{id} refused");
                assert_eq!(self.book.pool_used, before_pool);
            }
            (got, want) => panic!("bulk {id}: wanted {want:?}, got {got:?}"),
        }
        self.model
            .submitted
            .insert(id.clone(), (call, p.outcome.clone()));
        self.model.submitted_ids.push(id);
        p.effects
    }

    /// C23, C27: a record carrying the id of a call that call control has not ended is refused
    /// and changes nothing; the call's own end is still its one charge.
    fn bulk_live(&mut self, rater: &mut Rater<'_>, call: CallRecord) -> Effects {
        let before = self.book.wallet.clone();
        let before_pool = self.book.pool_used.clone();
        let before_held = self.book.live().holds().clone();
        let p = self.book.process_call(rater, &call, Mode::Bulk);
        let live = self.model.holds[&call.call_id].live;
        self.model
            .count(format!("bulk with a call-control id (live {live})"));
        assert_eq!(
            p.outcome,
            Outcome::Refused(Reason::CallIdReused),
            "{}",
            call.call_id
        );
        assert!(!p.replay);
        assert_eq!(p.effects, Effects::default());
        assert_eq!(self.book.wallet, before, "a refused record changes nothing");
        assert_eq!(self.book.pool_used, before_pool);
        assert_eq!(*self.book.live().holds(), before_held);
        assert!(!self.book.seen.contains_key(&call.call_id));
        p.effects
    }

    /// Checks a charge's arithmetic (C6, C7, C21, C32, C36) and applies it to the model.
    fn apply_charge(&mut self, c: &Charge, call: &CallRecord, at: Timestamp, pool_left: u32) {
        let id = &call.call_id;
        let duration = secs_between(call.start, call.end);
        assert_eq!(c.duration_s, duration, "{id}: duration (C38)");
        let (_, _, _, rate_key, ..) = *dest_of(call);
        let tariff = rate_key
            .and_then(|(kind, key)| expected_tariff(self.cfg.currency, kind, key, call.start));
        let minutes = duration.div_ceil(60) as u32;
        match (&c.rate, tariff) {
            (Some(applied), Some((rate, _fee, first, inc, from))) => {
                assert_eq!(applied.rate_per_minute, rate, "{id}: rate (C36)");
                assert_eq!(applied.effective_from, from, "{id}: version (C36)");
                assert_eq!((applied.first_block_s, applied.increment_s), (first, inc));
                let (first, inc) = (u64::from(first), u64::from(inc));
                let billable = if duration == 0 {
                    0
                } else if duration <= first {
                    first
                } else {
                    first + (duration - first).div_ceil(inc) * inc
                };
                assert_eq!(c.billable_s, billable, "{id}: billable seconds (C6)");
            }
            (None, _) => assert!(
                matches!(c.funding, Funding::Included | Funding::AddOn),
                "{id}: only included and add-on calls go without a rate"
            ),
            (Some(_), None) => panic!("{id}: rated although no tariff applies"),
        }
        let minute = Decimal::from(60);
        self.model.count(format!("charged {:?}", c.funding));
        match c.funding {
            Funding::Included | Funding::AddOn => {
                assert_eq!((c.amount, c.pool_minutes), (Decimal::ZERO, 0), "{id}");
            }
            Funding::Pool => {
                assert_eq!(c.amount, Decimal::ZERO, "{id}: pool calls cost nothing");
                assert_eq!(c.pool_minutes, minutes, "{id}: C21 minutes");
                assert!(minutes <= pool_left, "{id}: the pool had {pool_left}");
            }
            Funding::PoolAndCredits => {
                let (rate, ..) = tariff.unwrap();
                assert_eq!(c.pool_minutes, pool_left, "{id}: C32 the pool's remainder");
                assert!(minutes > pool_left && pool_left > 0);
                let credit_s = Decimal::from(c.billable_s - 60 * u64::from(pool_left));
                assert_eq!(
                    c.amount,
                    self.model.round(rate * credit_s / minute),
                    "{id}: C32"
                );
            }
            Funding::Credits => {
                let (rate, fee, ..) = tariff.unwrap();
                let fee = if duration == 0 { Decimal::ZERO } else { fee };
                let exact = fee + rate * Decimal::from(c.billable_s) / minute;
                assert_eq!(c.amount, self.model.round(exact), "{id}: C7");
                assert_eq!(c.pool_minutes, 0);
            }
        }
        if c.pool_minutes > 0 {
            self.model.use_pool(call.start, c.pool_minutes);
        }
        assert!(
            !self.model.charged.contains_key(id),
            "{id} charged a second time"
        );
        self.model.charged.insert(id.clone(), c.amount);
        if c.amount > Decimal::ZERO {
            self.model.debit(id, c.amount, at);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The run

/// FNV-1a: a digest of everything a run did, to show that a seed replays exactly.
fn fnv(mut hash: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0100_0000_01B3);
    }
    hash
}

const FNV_START: u64 = 0xCBF2_9CE4_8422_2325;

fn digest_effects(effects: &Effects) -> u64 {
    if effects.entries.is_empty() && effects.events.is_empty() {
        return FNV_START;
    }
    fnv(FNV_START, format!("{effects:?}").as_bytes())
}

/// How a run is set up.
#[derive(Debug, Clone, Copy)]
struct RunSpec {
    seed: u64,
    steps: u64,
    /// Copies of each tenant configuration.
    copies: usize,
    /// A step at which the model is made to expect one funding too many (the harness's test).
    sabotage: Option<u64>,
}

/// What a finished run reports.
#[derive(Debug, PartialEq, Eq)]
struct RunReport {
    digest: u64,
    until: Timestamp,
    stats: BTreeMap<String, u64>,
}

/// Where a run is, for the failure report.
#[derive(Default)]
struct Trace {
    step: u64,
    log: VecDeque<String>,
}

const LOG_LINES: usize = 16;

fn run_seed(spec: RunSpec, trace: &mut Trace) -> RunReport {
    let mut rng = Rng::new(spec.seed);
    let currencies = ["EUR", "JPY", "KWD"];
    let cards: Vec<RateCard> = currencies.iter().map(|c| build_card(c)).collect();
    // One rater per currency, shared by its tenants (a rater is the card plus a number cache).
    let mut raters: Vec<Rater<'_>> = cards.iter().map(|c| Rater::new(countries(), c)).collect();
    let mut sims: Vec<Sim> = Vec::new();
    for copy in 0..spec.copies {
        for cfg in CFGS {
            let name = if spec.copies == 1 {
                cfg.id.to_string()
            } else {
                format!("{}-{copy}", cfg.id)
            };
            let rater = currencies.iter().position(|c| *c == cfg.currency).unwrap();
            sims.push(Sim::new(cfg, name, rater));
        }
    }
    let mut now = ts(SIM_START);
    let mut digest = FNV_START;
    for step in 0..spec.steps {
        trace.step = step;
        if rng.chance(35) {
            now = plus(now, clock_step(&mut rng) as i64);
        }
        let t = rng.below(sims.len() as u64) as usize;
        let cmd = sims[t].generate(&mut rng, now);
        if trace.log.len() == LOG_LINES {
            trace.log.pop_front();
        }
        let line = format!("step {step} at {now} {}: {cmd:?}", sims[t].name);
        digest = fnv(digest, line.as_bytes());
        trace.log.push_back(line);
        let rater = &mut raters[sims[t].rater];
        let sabotage = spec.sabotage == Some(step);
        let effects = sims[t].exec(cmd, now, rater, sabotage);
        digest = fnv(digest, &effects.to_le_bytes());
    }
    let mut stats: BTreeMap<String, u64> = BTreeMap::new();
    for sim in &sims {
        sim.check();
        sim.check_directory();
        for (what, n) in &sim.model.stats {
            *stats.entry(what.clone()).or_insert(0) += n;
        }
    }
    RunReport {
        digest,
        until: now,
        stats,
    }
}

/// Runs one seed; a failure comes back as a report naming the seed, the step, the last
/// commands and the command that reproduces it.
fn run_one(spec: RunSpec, test: &str) -> Result<RunReport, String> {
    let mut trace = Trace::default();
    let result = catch_unwind(AssertUnwindSafe(|| run_seed(spec, &mut trace)));
    result.map_err(|panic| {
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        let last: Vec<String> = trace.log.into_iter().collect();
        let release = if cfg!(debug_assertions) {
            ""
        } else {
            " --release"
        };
        format!(
            "simulation failed: seed {}, step {}: {message}\nlast commands:\n{}\n\
             reproduce with: MINUTELY_SIM_SEED={} MINUTELY_SIM_STEPS={} MINUTELY_SIM_TENANTS={} \
             cargo test{release} -p minutely-core --test simulation {test} -- --exact",
            spec.seed,
            trace.step,
            last.join("\n"),
            spec.seed,
            trace.step + 1,
            spec.copies,
        )
    })
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| {
        v.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number"))
    })
}

/// Runs the seeds the environment asks for (or the defaults) on `MINUTELY_SIM_THREADS` threads
/// (default: every core), and reports the failure of the lowest failing seed;
/// `MINUTELY_SIM_SECONDS` keeps starting new seeds until that much time has passed. Each seed
/// runs alone on one thread, so threads change nothing in what a seed does.
fn drive(test: &str, seeds: u64, steps: u64, copies: usize) {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    let steps = env_u64("MINUTELY_SIM_STEPS").unwrap_or(steps);
    let copies = env_u64("MINUTELY_SIM_TENANTS").map_or(copies, |n| n.max(1) as usize);
    let first = env_u64("MINUTELY_SIM_FIRST_SEED").unwrap_or(1);
    let (first, count) = match env_u64("MINUTELY_SIM_SEED") {
        Some(seed) => (seed, 1),
        None => (first, env_u64("MINUTELY_SIM_SEEDS").unwrap_or(seeds)),
    };
    let budget = env_u64("MINUTELY_SIM_SECONDS").map(std::time::Duration::from_secs);
    let threads = env_u64("MINUTELY_SIM_THREADS").map_or_else(
        || std::thread::available_parallelism().map_or(1, |n| n.get()),
        |n| n.max(1) as usize,
    );
    let started = std::time::Instant::now();
    let next = AtomicU64::new(first);
    let ran = AtomicU64::new(0);
    let failed = AtomicBool::new(false);
    let stats: Mutex<BTreeMap<String, u64>> = Mutex::new(BTreeMap::new());
    let failures: Mutex<Vec<(u64, String)>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    if failed.load(Ordering::SeqCst)
                        || budget.is_some_and(|b| started.elapsed() >= b)
                    {
                        break;
                    }
                    let seed = next.fetch_add(1, Ordering::SeqCst);
                    if budget.is_none() && seed >= first + count {
                        break;
                    }
                    let spec = RunSpec {
                        seed,
                        steps,
                        copies,
                        sabotage: None,
                    };
                    match run_one(spec, test) {
                        Ok(report) => {
                            let mut all = stats.lock().unwrap();
                            for (what, n) in report.stats {
                                *all.entry(what).or_insert(0) += n;
                            }
                            ran.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(report) => {
                            failures.lock().unwrap().push((seed, report));
                            failed.store(true, Ordering::SeqCst);
                        }
                    }
                }
            });
        }
    });
    if let Some((_, report)) = failures.into_inner().unwrap().into_iter().min() {
        panic!("{report}");
    }
    if std::env::var_os("MINUTELY_SIM_STATS").is_some() {
        eprintln!("{test}: {:#?}", stats.into_inner().unwrap());
    }
    let ran = ran.into_inner();
    let total = steps * ran;
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "{test}: {ran} seeds from {first} x {steps} steps, {} tenants, {threads} threads: \
         {total} steps in {secs:.2} s ({:.0} steps/s)",
        copies * CFGS.len(),
        total as f64 / secs.max(1e-9)
    );
}

#[test]
fn charging_core_agrees_with_the_reference_model() {
    drive(
        "charging_core_agrees_with_the_reference_model",
        20,
        5_000,
        1,
    );
}

/// Eight copies of every tenant (80 books) interleaved on one clock: the same checks with
/// fewer steps per tenant, longer-lived holds and more concurrency between tenants' events.
#[test]
fn many_tenants_agree_with_the_reference_model() {
    drive("many_tenants_agree_with_the_reference_model", 1, 20_000, 8);
}

#[test]
fn a_seed_replays_exactly_and_another_seed_differs() {
    let spec = |seed| RunSpec {
        seed,
        steps: 3_000,
        copies: 1,
        sabotage: None,
    };
    let test = "a_seed_replays_exactly_and_another_seed_differs";
    let first = run_one(spec(11), test).unwrap_or_else(|e| panic!("{e}"));
    let again = run_one(spec(11), test).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(first, again, "the same seed gives the same run");
    let other = run_one(spec(12), test).unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(first.digest, other.digest, "another seed gives another run");
}

#[test]
fn a_failure_names_its_seed_step_and_commands_and_reproduces_exactly() {
    let test = "a_failure_names_its_seed_step_and_commands_and_reproduces_exactly";
    let spec = RunSpec {
        seed: 7,
        steps: 600,
        copies: 1,
        sabotage: Some(450),
    };
    let report = run_one(spec, test).expect_err("a sabotaged model must fail");
    assert!(report.contains("seed 7, step 450: "), "{report}");
    assert!(
        report.contains("entries and events of the step"),
        "{report}"
    );
    assert!(report.contains("\nstep 450 at "), "{report}");
    assert!(report.contains("\nstep 435 at "), "{report}");
    assert!(
        report.contains("MINUTELY_SIM_SEED=7 MINUTELY_SIM_STEPS=451 MINUTELY_SIM_TENANTS=1"),
        "{report}"
    );
    // What the report says to run fails the same way.
    let again = run_one(RunSpec { steps: 451, ..spec }, test).expect_err("reproduced");
    assert_eq!(again, report);
}
