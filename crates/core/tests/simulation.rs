//! Deterministic simulation of the charging core (C10 to C14, C23, C24, C25 to C29, C32, C34,
//! C36, C37): a seeded PRNG drives random commands over several tenants with a simulated clock,
//! and after every step the book is compared with a small reference model kept here.
//!
//! `cargo test -p minutely-core --test simulation` runs the short version. Longer runs:
//! `MINUTELY_SIM_STEPS` (steps per seed), `MINUTELY_SIM_SEEDS` (number of seeds) or
//! `MINUTELY_SIM_SEED` (one seed, to reproduce a failure exactly).

#[allow(dead_code)]
mod common;

use common::*;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use minutely_core::Reason;
use minutely_core::catalogue::RateCard;
use minutely_core::control::{ControlError, ControlPolicy, Decision, Extension};
use minutely_core::directory::{AmountRules, AutoRecharge, NumberKind, Sku, WalletSettings};
use minutely_core::engine::{Charge, Funding, Mode, Month, Outcome, TenantBook};
use minutely_core::ledger::{Effects, EntryKind, Event};
use minutely_core::rating::{CallRecord, Direction, Rater};
use rust_decimal::{Decimal, RoundingStrategy};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::panic::{AssertUnwindSafe, catch_unwind};

// ---------------------------------------------------------------------------------------------
// PRNG

/// SplitMix64: tiny, seedable, the same on every platform.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

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
    wallet: bool,
    /// (trigger, amount, payment accepted)
    recharge: Option<(&'static str, &'static str, bool)>,
    /// Kuwait sells pay-per-minute only (C2).
    ppm_only: bool,
    funds: &'static [&'static str],
}

const CFGS: &[Cfg] = &[
    Cfg {
        id: "paris",
        country: "FR",
        currency: "EUR",
        tz: "Europe/Paris",
        wallet: true,
        recharge: Some(("300", "100", true)),
        ppm_only: false,
        funds: &["50", "60", "100", "250"],
    },
    Cfg {
        id: "tokyo",
        country: "JP",
        currency: "JPY",
        tz: "Asia/Tokyo",
        wallet: true,
        recharge: Some(("3000", "5000", false)),
        ppm_only: false,
        funds: &["500", "1000", "3000", "10000"],
    },
    Cfg {
        id: "kuwait",
        country: "KW",
        currency: "KWD",
        tz: "Asia/Kuwait",
        wallet: true,
        recharge: None,
        ppm_only: true,
        funds: &["50", "75", "120"],
    },
    Cfg {
        id: "newyork",
        country: "FR",
        currency: "EUR",
        tz: "America/New_York",
        wallet: true,
        recharge: Some(("50", "50", true)),
        ppm_only: false,
        funds: &["50", "80"],
    },
    Cfg {
        id: "nowallet",
        country: "FR",
        currency: "EUR",
        tz: "UTC",
        wallet: false,
        recharge: None,
        ppm_only: false,
        funds: &["50", "100"],
    },
];

const INVALID_FUNDS: &[&str] = &["49", "50.5", "0", "-10", "75.25", "0.01"];

const SUB_U: &str = "sub@sim.test";
const BARE_U: &str = "bare@sim.test";
const PPM_U: &str = "ppm@sim.test";
const ADDON_U: &str = "addon@sim.test";
const PPM_ADDON_U: &str = "ppmaddon@sim.test";
const GHOST_U: &str = "ghost@sim.test";

fn organizers(cfg: &Cfg) -> &'static [&'static str] {
    if cfg.ppm_only {
        &[PPM_U, PPM_ADDON_U, GHOST_U]
    } else {
        &[SUB_U, BARE_U, PPM_U, ADDON_U, GHOST_U]
    }
}

fn build_book(cfg: &Cfg) -> TenantBook {
    use Sku::*;
    let mut fx = TenantFx::new(cfg.id, cfg.country, cfg.currency).tz(cfg.tz);
    if cfg.ppm_only {
        fx = fx
            .purchase(PayPerMinute, 2)
            .purchase(DialOutUs, 1)
            .user(PPM_U, &[PayPerMinute])
            .user(PPM_ADDON_U, &[PayPerMinute, DialOutUs]);
    } else {
        fx = fx
            .purchase(Subscription, 3)
            .purchase(PayPerMinute, 1)
            .purchase(Credits, 2)
            .purchase(DialOutUs, 1)
            .user(SUB_U, &[Subscription, Credits])
            .user(BARE_U, &[Subscription])
            .user(PPM_U, &[PayPerMinute])
            .user(ADDON_U, &[Subscription, Credits, DialOutUs]);
    }
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
            low_balance_thresholds: [None, None],
        });
        fx = fx.number(FR_TOLL, NumberKind::Toll);
        fx = fx.number(FR_TOLL_FREE, NumberKind::TollFree);
    } else {
        fx = fx.number(FR_TOLL, NumberKind::Toll);
    }
    fx.book()
}

// ---------------------------------------------------------------------------------------------
// Call shapes

/// direction, number (destination or service), caller, rate (kind, key) or None.
type Dest = (
    Direction,
    &'static str,
    &'static str,
    Option<(&'static str, &'static str)>,
);

const INVALID_NUM: &str = "+33 12";

const DESTS: &[Dest] = &[
    (Direction::DialOut, FR_FIXED, "", Some(("dial_out", "+33"))),
    (Direction::DialOut, FR_MOBILE, "", Some(("dial_out", "+33"))),
    (Direction::DialOut, GB_NUM, "", Some(("dial_out", "+44"))),
    (Direction::DialOut, DE_NUM, "", Some(("dial_out", "+49"))),
    (Direction::DialOut, AE_NUM, "", Some(("dial_out", "+971"))),
    (Direction::DialOut, US_NUM, "", Some(("dial_out", "+1"))),
    (Direction::DialOut, CA_NUM, "", Some(("dial_out", "+1"))),
    (
        Direction::DialOut,
        US_PREMIUM,
        "",
        Some(("dial_out", "+1900")),
    ),
    (Direction::DialOut, IT_NUM, "", None),
    (Direction::DialOut, INVALID_NUM, "", None),
    (
        Direction::DialIn,
        FR_TOLL,
        FR_MOBILE,
        Some(("dial_in_toll", "FR")),
    ),
    (
        Direction::DialIn,
        FR_TOLL_FREE,
        GB_NUM,
        Some(("dial_in_toll_free", "FR")),
    ),
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
    let (direction, number, caller, _) = *dest;
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

/// The refusals that follow from the record and the tenant alone (C30, C36), where the model can
/// say them without re-implementing rating.
fn predicted_refusal(cfg: &Cfg, call: &CallRecord) -> Option<Reason> {
    let dest = dest_of(call);
    if dest.1 == INVALID_NUM {
        return Some(Reason::InvalidNumber);
    }
    if call.organizer.eq_ignore_ascii_case(GHOST_U) {
        return Some(Reason::OrganizerNotEnabled);
    }
    if dest.1 == FR_TOLL_FREE && !cfg.wallet {
        return Some(Reason::UnknownServiceNumber);
    }
    if dest.1 == IT_NUM {
        return Some(Reason::NoRate);
    }
    if dest.1 == AE_NUM && call.start >= ts(V2_FROM) {
        return Some(Reason::NoRate);
    }
    None
}

fn secs_between(from: Timestamp, to: Timestamp) -> u64 {
    u64::try_from(to.as_second() - from.as_second()).unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// The reference model

#[derive(Debug, Clone, PartialEq, Eq)]
struct MLot {
    id: u64,
    funded_at: Timestamp,
    expires_at: Timestamp,
    remaining: Decimal,
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

/// What one step should put in the journal and the outbox.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Expect {
    fundings: usize,
    recharges: usize,
    recharge_failures: usize,
    debits: Vec<(String, Decimal)>,
    forfeited: Decimal,
}

struct Model {
    tz: TimeZone,
    minor: u32,
    has_wallet: bool,
    /// (trigger, amount, payment accepted)
    recharge: Option<(Decimal, Decimal, bool)>,
    pool_size: u32,
    lots: Vec<MLot>,
    debt: Decimal,
    next_lot: u64,
    clock: Timestamp,
    retry_after: Option<Timestamp>,
    holds: BTreeMap<String, MHold>,
    pool_used: BTreeMap<Month, u32>,
    /// Call ids charged, with the amount debited.
    charged: BTreeMap<String, Decimal>,
    /// Records submitted (bulk, or ended under call control) with their first result.
    submitted: BTreeMap<String, (CallRecord, Outcome)>,
    submitted_ids: Vec<String>,
    /// Authorizations denied, with their reason.
    denied: Vec<(CallRecord, Reason)>,
    journal: Journal,
    exp: Expect,
    next_call: u64,
    /// What happened, by kind (printed with `--nocapture`, to see what a run covers).
    stats: BTreeMap<String, u64>,
}

impl Model {
    fn new(cfg: &Cfg, tz: TimeZone) -> Model {
        Model {
            tz,
            minor: minor_units(cfg.currency),
            has_wallet: cfg.wallet,
            recharge: cfg.recharge.map(|(t, a, ok)| (d(t), d(a), ok)),
            pool_size: if cfg.ppm_only { 0 } else { 3 * 60 },
            lots: Vec::new(),
            debt: Decimal::ZERO,
            next_lot: 1,
            clock: Timestamp::MIN,
            retry_after: None,
            holds: BTreeMap::new(),
            pool_used: BTreeMap::new(),
            charged: BTreeMap::new(),
            submitted: BTreeMap::new(),
            submitted_ids: Vec::new(),
            denied: Vec::new(),
            journal: Journal::default(),
            exp: Expect::default(),
            next_call: 0,
            stats: BTreeMap::new(),
        }
    }

    fn round(&self, amount: Decimal) -> Decimal {
        amount.round_dp_with_strategy(self.minor, RoundingStrategy::MidpointAwayFromZero)
    }

    fn month(&self, at: Timestamp) -> Month {
        let z = at.to_zoned_datetime(self.tz.clone());
        Month {
            year: z.year(),
            month: z.month(),
        }
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

    fn pool_held(&self, month: Month, except: Option<&str>) -> u32 {
        self.holds
            .iter()
            .filter(|(id, h)| h.live && Some(id.as_str()) != except)
            .filter(|(_, h)| self.month(h.record.start) == month)
            .map(|(_, h)| h.pool)
            .sum()
    }

    /// C10, C28: the ledger reaches `at`; lots whose expiry is at or before it are forfeited.
    fn advance(&mut self, at: Timestamp) {
        if at <= self.clock {
            return;
        }
        self.clock = at;
        let mut kept = Vec::new();
        for lot in self.lots.drain(..) {
            if lot.expires_at <= at {
                self.exp.forfeited += lot.remaining;
            } else {
                kept.push(lot);
            }
        }
        self.lots = kept;
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

    /// C10 FIFO, C13 debt, then C12/C34: one recharge when the balance is left strictly below
    /// the trigger, unless a failed payment is less than an hour old.
    fn debit(&mut self, call_id: &str, amount: Decimal, at: Timestamp) {
        self.advance(at);
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
        if let Some((trigger, recharge, accepted)) = self.recharge
            && self.balance() < trigger
            && self.retry_after.is_none_or(|t| at >= t)
        {
            if accepted {
                self.retry_after = None;
                self.fund(recharge, at);
                self.exp.recharges += 1;
            } else {
                self.retry_after = Some(plus(at, 3600));
                self.exp.recharge_failures += 1;
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

    fn count(&mut self, what: String) {
        *self.stats.entry(what).or_insert(0) += 1;
    }

    fn fresh_id(&mut self, prefix: &str) -> String {
        self.next_call += 1;
        format!("{prefix}{}", self.next_call)
    }
}

// ---------------------------------------------------------------------------------------------
// Commands

#[derive(Debug, Clone)]
enum Cmd {
    Fund(Decimal),
    /// A new authorization, or one asked again (`same`: the same content).
    Authorize(CallRecord),
    AuthorizeAgain(CallRecord, bool),
    Extend(String),
    End(String, Timestamp),
    Bulk(CallRecord),
    /// A record resubmitted with the id of an earlier one (`same`: C37 same content).
    BulkAgain(CallRecord, bool),
    Expire,
}

struct Sim<'c> {
    cfg: &'static Cfg,
    book: TenantBook,
    model: Model,
    rater: Rater<'c>,
}

fn entries_of(effects: &Effects, kind: EntryKind) -> usize {
    effects.entries.iter().filter(|e| e.kind == kind).count()
}

impl<'c> Sim<'c> {
    fn generate(&mut self, rng: &mut Rng, now: Timestamp) -> Cmd {
        let orgs = organizers(self.cfg);
        match rng.below(100) {
            0..5 => {
                let text = if rng.chance(75) {
                    *rng.pick(self.cfg.funds)
                } else {
                    *rng.pick(INVALID_FUNDS)
                };
                Cmd::Fund(d(text))
            }
            5..35 => {
                let id = self.model.fresh_id("rt");
                let org = *rng.pick(orgs);
                Cmd::Authorize(make_call(&id, org, rng.pick(DESTS), now, 0))
            }
            35..40 => {
                let which = rng.below(3);
                let same = rng.chance(60);
                let base = if which == 0 && !self.model.holds.is_empty() {
                    let i = rng.below(self.model.holds.len() as u64) as usize;
                    let h = self.model.holds.values().nth(i).unwrap();
                    Some(h.record.clone())
                } else if which == 1 && !self.model.denied.is_empty() {
                    Some(rng.pick(&self.model.denied).0.clone())
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
            40..55 => {
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
            55..75 => {
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
            75..93 => {
                let id = self.model.fresh_id("b");
                let back = rng.range(0, 2 * 86400);
                let start = plus(now, -(back as i64)).max(ts(SIM_START));
                let seconds = if rng.chance(10) {
                    0
                } else {
                    rng.range(1, 5400)
                };
                let org = *rng.pick(orgs);
                Cmd::Bulk(make_call(&id, org, rng.pick(DESTS), start, seconds))
            }
            93..98 => {
                if self.model.submitted_ids.is_empty() {
                    return Cmd::Expire;
                }
                // Only ids of records already submitted (bulk, or ended under call control). Not
                // generated: a bulk record carrying the id of a call that is still live under call
                // control. The core charges that record as new (it only looks at `seen`), then
                // refuses the bridge's end of the authorized call with `call_id_reused` and drops
                // its reservation, so the call that actually ran is charged at the bulk record's
                // duration. Left out until the rules say which submission owns the id (C23, C27).
                let id = rng.pick(&self.model.submitted_ids).clone();
                let mut r = self.model.submitted[&id].0.clone();
                let same = rng.chance(50);
                if same {
                    // C37: case of the UPN and number punctuation do not matter.
                    r.organizer = r.organizer.to_uppercase();
                    if !r.destination_number.is_empty() {
                        r.destination_number =
                            format!("{}.", r.destination_number.replace(' ', "-"));
                    }
                } else if rng.chance(50) {
                    r.end = plus(r.end, 1);
                } else {
                    r.conference_id.push_str("-other");
                }
                Cmd::BulkAgain(r, same)
            }
            _ => Cmd::Expire,
        }
    }

    fn exec(&mut self, cmd: Cmd, now: Timestamp) {
        self.model.exp = Expect::default();
        let name = format!("{cmd:?}");
        self.model
            .count(format!("cmd {}", name.split('(').next().unwrap_or("")));
        let effects = match cmd {
            Cmd::Fund(amount) => self.fund(amount, now),
            Cmd::Authorize(call) => self.authorize(call, None, now),
            Cmd::AuthorizeAgain(call, same) => self.authorize(call, Some(same), now),
            Cmd::Extend(id) => self.extend(&id, now),
            Cmd::End(id, end) => self.end(&id, end, now),
            Cmd::Bulk(call) => self.bulk(call, None),
            Cmd::BulkAgain(call, same) => self.bulk(call, Some(same)),
            Cmd::Expire => {
                self.book.expire(now);
                self.model.expire_holds(now);
                self.model.advance(now);
                self.book.advance(now)
            }
        };
        self.model.journal.absorb(&effects);
        // What the step put in the journal and outbox is exactly what the model expects: no
        // recharge from a funding, one per debit left strictly below the trigger (C34), each
        // charged call debited once.
        let got = Expect {
            fundings: entries_of(&effects, EntryKind::Funding),
            recharges: entries_of(&effects, EntryKind::Recharge),
            recharge_failures: effects
                .events
                .iter()
                .filter(|e| matches!(e, Event::RechargeFailed { .. }))
                .count(),
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
        };
        assert_eq!(got, self.model.exp, "entries and events of the step");
        for (what, n) in [
            ("recharge", got.recharges),
            ("recharge failed", got.recharge_failures),
            ("funding", got.fundings),
            ("forfeit", usize::from(!got.forfeited.is_zero())),
        ] {
            for _ in 0..n {
                self.model.count(what.to_string());
            }
        }
        if self.model.debt > Decimal::ZERO {
            self.model.count("step in debt".to_string());
        }
        self.check();
    }

    /// The book agrees with the model, and C24 holds from the journal alone.
    fn check(&self) {
        let (book, m) = (&self.book, &self.model);
        m.journal.check(book, "C24");
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
            })
            .collect();
        assert_eq!(lots, m.lots, "lots");
        assert_eq!(book.wallet.clock(), m.clock, "ledger clock");
        assert_eq!(book.available(), m.available(), "available (C14, C25)");
        assert_eq!(book.holds.credit, m.held(), "credit held");
        assert_eq!(
            book.holds.live,
            m.holds.values().filter(|h| h.live).count(),
            "live holds"
        );
        let ids: BTreeSet<&String> = book.reservations.keys().collect();
        let want: BTreeSet<&String> = m.holds.keys().collect();
        assert_eq!(ids, want, "reservations");
        for (id, h) in &m.holds {
            let r = &book.reservations[id];
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
        for (month, used) in &m.pool_used {
            assert!(
                used + m.pool_held(*month, None) <= m.pool_size,
                "pool of {month} overdrawn"
            );
        }
    }

    fn fund(&mut self, amount: Decimal, now: Timestamp) -> Effects {
        let before = self.book.wallet.clone();
        let result = self
            .book
            .fund(amount, now, "sim", true, &AmountRules::default());
        let want = if !self.model.has_wallet {
            Some(Reason::CreditsNotSetUp)
        } else if amount < Decimal::from(50) {
            Some(Reason::AmountBelowMinimum)
        } else if !amount.fract().is_zero() {
            Some(Reason::AmountNotWhole)
        } else {
            None
        };
        match (result, want) {
            (Ok((lot, effects)), None) => {
                let id = self.model.fund(amount, now);
                self.model.exp.fundings += 1;
                assert_eq!(lot, id, "lot id");
                effects
            }
            (Err(refusal), Some(reason)) => {
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

    fn authorize(&mut self, call: CallRecord, again: Option<bool>, now: Timestamp) -> Effects {
        let before = self.book.wallet.clone();
        let before_pool = self.book.pool_used.clone();
        self.model.expire_holds(now);
        let id = call.call_id.clone();
        let known_hold = self.model.holds.contains_key(&id);
        let denied = self
            .model
            .denied
            .iter()
            .find(|(r, _)| r.call_id == id)
            .map(|(_, reason)| *reason);
        let policy = ControlPolicy::default();
        if known_hold || denied.is_some() || self.model.submitted.contains_key(&id) {
            let same = again.unwrap_or(false);
            let (decision, effects, _) = self.book.authorize(&mut self.rater, &call, now, &policy);
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
        self.model.advance(now);
        let available = self.model.available();
        let (decision, effects, _) = self.book.authorize(&mut self.rater, &call, now, &policy);
        match decision {
            Decision::Allow(g) => {
                assert!(!g.replay);
                self.model
                    .count(format!("authorize allowed {:?}", g.funding));
                assert_eq!(predicted_refusal(self.cfg, &call), None, "{id} allowed");
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
                if g.pool_minutes > 0 {
                    let month = self.model.month(call.start);
                    let used = self.model.pool_used.get(&month).copied().unwrap_or(0);
                    assert!(
                        used + self.model.pool_held(month, None) + g.pool_minutes
                            <= self.model.pool_size,
                        "pool hold beyond the pool"
                    );
                }
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
            Decision::Deny(reason) => {
                self.model.count(format!("authorize denied {reason}"));
                if let Some(want) = predicted_refusal(self.cfg, &call) {
                    assert_eq!(reason, want, "{id} denied");
                }
                if reason == Reason::InsufficientCredits {
                    assert!(available <= Decimal::ZERO, "{id} denied with {available}");
                }
                let mut expected = before;
                expected.advance(now, &mut Effects::default());
                assert_eq!(self.book.wallet, expected, "a denial changes nothing");
                assert_eq!(self.book.pool_used, before_pool);
                self.model.denied.push((call, reason));
            }
        }
        effects
    }

    fn extend(&mut self, id: &str, now: Timestamp) -> Effects {
        let before = self.book.wallet.clone();
        self.model.expire_holds(now);
        let policy = ControlPolicy::default();
        let hold = self.model.holds.get(id).cloned();
        let known = hold.as_ref().and_then(|h| h.granted);
        if let Some(h) = hold.as_ref().filter(|h| h.live && h.granted.is_some()) {
            self.model.advance(now);
            let others = self.model.available() + h.credit;
            let (result, effects, _) = self.book.extend(&mut self.rater, id, known, now, &policy);
            match result {
                Ok(Extension::Extended(g)) => {
                    let granted = g.max_duration_s.expect("metered");
                    assert!(granted >= h.granted.unwrap());
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
                    self.model.count("extend exhausted".to_string());
                    assert_eq!(g.credit, h.credit);
                }
                Err(e) => panic!("extend {id}: {e:?}"),
            }
            let mut expected = before;
            expected.advance(now, &mut Effects::default());
            assert_eq!(self.book.wallet, expected, "an extension moves no money");
            return effects;
        }
        let (result, effects, _) = self.book.extend(&mut self.rater, id, known, now, &policy);
        match (&hold, &result) {
            (Some(h), Ok(Extension::Exhausted(_))) if !h.live => {}
            (None, Err(ControlError::CallNotFound | ControlError::CallAlreadyEnded)) => {}
            _ => panic!("extend {id} ({hold:?}): {result:?}"),
        }
        assert_eq!(self.book.wallet, before, "extend changes nothing");
        effects
    }

    fn end(&mut self, id: &str, end: Timestamp, now: Timestamp) -> Effects {
        let before = self.book.wallet.clone();
        self.model.expire_holds(now);
        let Some(h) = self.model.holds.get(id).cloned() else {
            let (result, _) = self.book.end(&mut self.rater, id, end, None, now);
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
        self.model.advance(end);
        let pool_left = self.pool_left(call.start);
        let (result, _) = self.book.end(&mut self.rater, id, end, None, now);
        let p = result.unwrap_or_else(|e| panic!("end {id}: {e:?}"));
        assert!(!p.replay, "first end of {id}");
        self.model.count(format!("end (hold live {})", h.live));
        match &p.outcome {
            Outcome::Charged(c) => self.apply_charge(c, &call, end, pool_left),
            // The hold lapsed and released its pool minutes: a pool call of an organizer
            // without credits whose pool ran out meanwhile is refused as a whole (C32).
            Outcome::Refused(Reason::CreditsLicenseMissing | Reason::CreditsNotSetUp)
                if !h.live => {}
            Outcome::Refused(r) => panic!("end of authorized {id} refused: {r}"),
        }
        self.model
            .submitted
            .insert(id.to_string(), (call, p.outcome.clone()));
        self.model.submitted_ids.push(id.to_string());
        p.effects
    }

    /// Pool minutes left for a call starting at `start` (what live holds keep is not left).
    fn pool_left(&self, start: Timestamp) -> u32 {
        let month = self.model.month(start);
        let used = self.model.pool_used.get(&month).copied().unwrap_or(0);
        self.model
            .pool_size
            .saturating_sub(used + self.model.pool_held(month, None))
    }

    fn bulk(&mut self, call: CallRecord, again: Option<bool>) -> Effects {
        let before = self.book.wallet.clone();
        let before_pool = self.book.pool_used.clone();
        let id = call.call_id.clone();
        if let Some(same) = again {
            let first = self.model.submitted[&id].1.clone();
            let p = self.book.process_call(&mut self.rater, &call, Mode::Bulk);
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
        self.model.advance(call.start);
        let pool_left = self.pool_left(call.start);
        let p = self.book.process_call(&mut self.rater, &call, Mode::Bulk);
        assert!(!p.replay);
        match &p.outcome {
            Outcome::Charged(c) => {
                assert_eq!(predicted_refusal(self.cfg, &call), None, "{id} charged");
                self.apply_charge(c, &call, call.start, pool_left);
            }
            Outcome::Refused(reason) => {
                self.model.count(format!("bulk refused {reason}"));
                assert_ne!(*reason, Reason::InsufficientCredits, "C29");
                if let Some(want) = predicted_refusal(self.cfg, &call) {
                    assert_eq!(*reason, want, "{id} refused");
                }
                let mut expected = before;
                expected.advance(call.start, &mut Effects::default());
                assert_eq!(self.book.wallet, expected, "a refused call changes nothing");
                assert_eq!(self.book.pool_used, before_pool);
            }
        }
        self.model
            .submitted
            .insert(id.clone(), (call, p.outcome.clone()));
        self.model.submitted_ids.push(id);
        p.effects
    }

    /// Checks a charge's arithmetic (C6, C7, C21, C32, C36) and applies it to the model.
    fn apply_charge(&mut self, c: &Charge, call: &CallRecord, at: Timestamp, pool_left: u32) {
        let id = &call.call_id;
        let duration = secs_between(call.start, call.end);
        assert_eq!(c.duration_s, duration, "{id}: duration (C38)");
        let (_, _, _, rate_key) = *dest_of(call);
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
            let month = self.model.month(call.start);
            *self.model.pool_used.entry(month).or_insert(0) += c.pool_minutes;
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

/// Seconds to weeks, mostly short.
fn clock_step(rng: &mut Rng) -> u64 {
    match rng.below(100) {
        0..60 => rng.range(1, 300),
        60..85 => rng.range(300, 7200),
        85..98 => rng.range(7200, 86400),
        _ => rng.range(3 * 86400, 21 * 86400),
    }
}

fn run_seed(seed: u64, steps: u64, log: &mut VecDeque<String>, at_step: &mut u64) {
    let mut rng = Rng(seed);
    let cards: Vec<RateCard> = CFGS.iter().map(|c| build_card(c.currency)).collect();
    let mut sims: Vec<Sim<'_>> = CFGS
        .iter()
        .zip(&cards)
        .map(|(cfg, card)| {
            let book = build_book(cfg);
            let model = Model::new(cfg, book.tenant.timezone.clone());
            Sim {
                cfg,
                book,
                model,
                rater: Rater::new(countries(), card),
            }
        })
        .collect();
    let mut now = ts(SIM_START);
    for step in 0..steps {
        *at_step = step;
        if rng.chance(35) {
            now = plus(now, clock_step(&mut rng) as i64);
        }
        let t = rng.below(sims.len() as u64) as usize;
        let cmd = sims[t].generate(&mut rng, now);
        if log.len() == 12 {
            log.pop_front();
        }
        log.push_back(format!("step {step} at {now} {}: {cmd:?}", CFGS[t].id));
        sims[t].exec(cmd, now);
    }
    let mut stats: BTreeMap<String, u64> = BTreeMap::new();
    for sim in &sims {
        sim.check();
        for (what, n) in &sim.model.stats {
            *stats.entry(what.clone()).or_insert(0) += n;
        }
    }
    if std::env::var_os("MINUTELY_SIM_STATS").is_some() {
        eprintln!("seed {seed} (until {now}): {stats:#?}");
    }
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| {
        v.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number"))
    })
}

#[test]
fn charging_core_agrees_with_the_reference_model() {
    let steps = env_u64("MINUTELY_SIM_STEPS").unwrap_or(5_000);
    let seeds: Vec<u64> = match env_u64("MINUTELY_SIM_SEED") {
        Some(seed) => vec![seed],
        None => (1..=env_u64("MINUTELY_SIM_SEEDS").unwrap_or(20)).collect(),
    };
    let started = std::time::Instant::now();
    for &seed in &seeds {
        let mut log = VecDeque::new();
        let mut step = 0;
        let result = catch_unwind(AssertUnwindSafe(|| {
            run_seed(seed, steps, &mut log, &mut step)
        }));
        if let Err(panic) = result {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            let last: Vec<String> = log.into_iter().collect();
            panic!(
                "simulation failed: seed {seed}, step {step}: {message}\nlast commands:\n{}\n\
                 reproduce with MINUTELY_SIM_SEED={seed} MINUTELY_SIM_STEPS={steps}",
                last.join("\n")
            );
        }
    }
    let total = steps * seeds.len() as u64;
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "simulation: {} seeds x {steps} steps in {secs:.2} s ({:.0} steps/s)",
        seeds.len(),
        total as f64 / secs.max(1e-9)
    );
}
