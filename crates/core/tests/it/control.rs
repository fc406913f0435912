//! Real-time call control (C13, C14, C23, C25 to C28, C30, C32): authorize, extend, end and
//! expire on one tenant book, with reservations holding credit and pool minutes.
//!
//! Every operation goes through one rig that, after each step, replays the `HoldChanges` on a
//! mirror of the store, recounts the holds from the reservations, and re-checks C24 from the
//! journal of every entry produced since the wallet was set up.

use crate::common;

use common::*;
use jiff::Timestamp;
use minutely_core::Reason;
use minutely_core::catalogue::RateCard;
use minutely_core::control::{
    ControlError, ControlPolicy, Decision, Extension, Grant, HoldChanges, LAPSED_RETENTION_DAYS,
    Reservation, UNMETERED_HOLD_S,
};
use minutely_core::directory::{AmountRules, Sku};
use minutely_core::engine::{Funding, Mode, Month, Outcome, Processed, TenantBook};
use minutely_core::ledger::{EntryKind, Event};
use minutely_core::live::{Holds, LiveCalls};
use minutely_core::rating::{CallRecord, Rater};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

// ---------------------------------------------------------------------------------------------
// The card, the tariffs and the legs

/// France at 0.60 per minute by the second (so one second costs exactly 0.01), the UAE at 1.00
/// per minute by the minute, Jamaica with a connection fee and 30/6 increments, and the dial-in
/// rates of the standard tenant's numbers. Italy has no rate.
///
/// These are the rows that differ from the standard card; `*_STD_KEYS` names the others.
const CONTROL_OWN_ROWS: &[Row] = &[
    (
        "dial_out", "+33", "", "France", "FR", false, "0.60", "0", 1, 1, CARD_FROM,
    ),
    (
        "dial_out",
        "+971",
        "",
        "United Arab Emirates",
        "AE",
        false,
        "1.00",
        "0",
        60,
        60,
        CARD_FROM,
    ),
    (
        "dial_out", "+1876", "", "Jamaica", "JM", false, "0.60", "0.10", 30, 6, CARD_FROM,
    ),
];

/// The rows this card takes unchanged from the standard card, by kind, key and origin.
const CONTROL_STD_KEYS: &[(&str, &str, &str)] = &[
    ("dial_out", "+1", ""),
    ("dial_out", "+1900", ""),
    ("dial_out", "+44", ""),
    ("dial_in_toll", "FR", ""),
    ("dial_in_toll", "US", ""),
    ("dial_in_toll_free", "FR", "*"),
    ("dial_in_toll_free", "US", "*"),
];

fn control_rows() -> Vec<Row> {
    std_rows(CONTROL_STD_KEYS, CONTROL_OWN_ROWS)
}

fn control_card() -> &'static RateCard {
    static CARD: OnceLock<RateCard> = OnceLock::new();
    CARD.get_or_init(|| card("EUR", &control_rows()))
}

/// A rate as the tests recompute it, independently of the core.
#[derive(Debug, Clone, Copy)]
struct Tariff {
    rate: &'static str,
    fee: &'static str,
    first: u64,
    increment: u64,
}

const FR_OUT: Tariff = Tariff {
    rate: "0.60",
    fee: "0",
    first: 1,
    increment: 1,
};
const AE_OUT: Tariff = Tariff {
    rate: "1.00",
    fee: "0",
    first: 60,
    increment: 60,
};
const JM_OUT: Tariff = Tariff {
    rate: "0.60",
    fee: "0.10",
    first: 30,
    increment: 6,
};
const FR_TOLL_IN: Tariff = Tariff {
    rate: "0.03",
    fee: "0",
    first: 60,
    increment: 60,
};
const FR_TOLL_FREE_IN: Tariff = Tariff {
    rate: "0.05",
    fee: "0",
    first: 60,
    increment: 60,
};

/// C6, C7 recomputed: billable seconds, fee, one rounding half away from zero; 0 for 0 s.
fn cost(t: Tariff, seconds: u64) -> Decimal {
    if seconds == 0 {
        return Decimal::ZERO;
    }
    let billable = if seconds <= t.first {
        t.first
    } else {
        t.first + (seconds - t.first).div_ceil(t.increment) * t.increment
    };
    (d(t.fee) + d(t.rate) * Decimal::from(billable) / Decimal::from(60))
        .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

/// A call leg as the bridge describes it when it asks.
#[derive(Debug, Clone, Copy)]
enum Leg {
    /// (organizer, destination)
    Out(&'static str, &'static str),
    /// (organizer, service number, caller)
    In(&'static str, &'static str, &'static str),
}

impl Leg {
    /// The record of this leg starting at `start` and lasting `seconds`.
    fn record(self, id: &str, start: Timestamp, seconds: u64) -> CallRecord {
        let start = start.to_string();
        match self {
            Leg::Out(organizer, destination) => {
                dial_out(id, organizer, destination, &start, seconds as i64)
            }
            Leg::In(organizer, service, caller) => {
                dial_in(id, organizer, service, caller, &start, seconds as i64)
            }
        }
    }

    /// The authorization request: `end == start`.
    fn ask(self, id: &str, start: Timestamp) -> CallRecord {
        self.record(id, start, 0)
    }
}

// ---------------------------------------------------------------------------------------------
// Instants

/// When fixture lots are funded.
const FUNDED_AT: &str = "2026-01-01T00:00:00Z";
/// When fixture bulk calls (sinks, pool use) start.
const SETUP_AT: &str = "2026-03-01T00:00:00Z";
/// When calls are authorized.
const T: &str = "2026-03-02T09:00:00Z";

fn at(offset_s: i64) -> Timestamp {
    plus(ts(T), offset_s)
}

// ---------------------------------------------------------------------------------------------
// A small deterministic PRNG (splitmix64)

struct Prng(u64);

impl Prng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.range(0, items.len() as u64 - 1) as usize]
    }
}

// ---------------------------------------------------------------------------------------------
// The rig

struct Rig {
    book: TenantBook,
    rater: Rater<'static>,
    /// Every entry since the wallet was set up (C24).
    journal: Journal,
    /// The reservations as a store that only sees `HoldChanges` would hold them.
    store: BTreeMap<String, Reservation>,
    policy: ControlPolicy,
    bulk_calls: u32,
}

impl Rig {
    fn new(fx: TenantFx) -> Rig {
        Rig::with_policy(fx, ControlPolicy::default())
    }

    fn with_policy(fx: TenantFx, policy: ControlPolicy) -> Rig {
        Rig {
            book: fx.book(),
            rater: Rater::new(countries(), control_card()),
            journal: Journal::default(),
            store: BTreeMap::new(),
            policy,
            bulk_calls: 0,
        }
    }

    fn fund(&mut self, amount: &str, when: &str) {
        let (_, effects) = self
            .book
            .fund(
                d(amount),
                ts(when),
                &format!("fund-{when}"),
                true,
                &AmountRules::default(),
            )
            .unwrap_or_else(|r| panic!("fixture funding {amount} at {when}: {r}"));
        self.journal.absorb(&effects);
        self.check("fund");
    }

    fn bulk(&mut self, leg: Leg, seconds: u64) -> Processed {
        self.bulk_calls += 1;
        let call = leg.record(
            &format!("bulk-{}", self.bulk_calls),
            plus(ts(SETUP_AT), i64::from(self.bulk_calls)),
            seconds,
        );
        let p = self.book.process_call(&mut self.rater, &call, Mode::Bulk);
        self.journal.absorb(&p.effects);
        p
    }

    /// A bulk pay-per-minute call to France of `cents` seconds: it costs exactly `cents`.
    fn sink(&mut self, cents: i64) {
        if cents > 0 {
            let p = self.bulk(Leg::Out(PPM, FR_FIXED), cents as u64);
            assert_eq!(charged(&p).amount, Decimal::new(cents, 2), "fixture sink");
        }
        self.check("sink");
    }

    /// Funds 100 and spends down to `available` (may be negative: a bulk call goes into debt).
    fn set_available(&mut self, available: &str) {
        self.fund("100", FUNDED_AT);
        let cents = ((d("100") - d(available)) * Decimal::from(100))
            .to_i64()
            .expect("cents");
        self.sink(cents);
        assert_eq!(self.book.available(), d(available), "fixture available");
    }

    /// Uses the pool of March 2026 down to `left` minutes (with bulk pool calls).
    fn set_pool_left(&mut self, left: u32) {
        let size = self.book.pool_size(ts(SETUP_AT));
        if size > left {
            let p = self.bulk(Leg::Out(SUB, FR_FIXED), u64::from(size - left) * 60);
            assert_eq!(charged(&p).funding, Funding::Pool, "fixture pool use");
        }
        assert_eq!(self.book.pool_remaining(ts(T)), left, "fixture pool left");
    }

    fn authorize(&mut self, call: &CallRecord, now: Timestamp) -> Decision {
        let policy = self.policy;
        let (decision, effects, changes) = self.book.authorize(&mut self.rater, call, now, &policy);
        self.journal.absorb(&effects);
        if let Decision::Deny(reason) = &decision {
            assert!(
                changes.put.iter().all(|r| r.call.call_id != call.call_id),
                "{}: a denial ({reason}) holds nothing",
                call.call_id
            );
        }
        self.apply(changes, &call.call_id);
        decision
    }

    fn grant(&mut self, call: &CallRecord, now: Timestamp) -> Grant {
        match self.authorize(call, now) {
            Decision::Allow(g) => g,
            Decision::Deny(r) => panic!("{}: expected a grant, got {r}", call.call_id),
        }
    }

    fn extend(
        &mut self,
        id: &str,
        known_s: Option<u64>,
        now: Timestamp,
    ) -> Result<Extension, ControlError> {
        let policy = self.policy;
        let (answer, effects, changes) =
            self.book.extend(&mut self.rater, id, known_s, now, &policy);
        self.journal.absorb(&effects);
        self.apply(changes, id);
        answer
    }

    fn end(
        &mut self,
        id: &str,
        end: Timestamp,
        record: Option<&CallRecord>,
        now: Timestamp,
    ) -> Result<Processed, ControlError> {
        let (answer, changes) = self.book.end(&mut self.rater, id, end, record, now);
        if let Ok(p) = &answer {
            self.journal.absorb(&p.effects);
            if p.replay {
                assert!(
                    p.effects.entries.is_empty(),
                    "{id}: a replay changes nothing"
                );
            }
        }
        self.apply(changes, id);
        answer
    }

    fn answer(
        &mut self,
        id: &str,
        answered_at: Timestamp,
        now: Timestamp,
    ) -> (Result<Grant, ControlError>, Vec<Event>) {
        let policy = self.policy;
        let (answer, effects, changes) = self.book.answer(id, answered_at, now, &policy);
        self.journal.absorb(&effects);
        self.apply(changes, id);
        (answer, effects.events)
    }

    /// Extends, with the events the extension raised.
    fn extend_events(
        &mut self,
        id: &str,
        known_s: Option<u64>,
        now: Timestamp,
    ) -> (Result<Extension, ControlError>, Vec<Event>) {
        let policy = self.policy;
        let (answer, effects, changes) =
            self.book.extend(&mut self.rater, id, known_s, now, &policy);
        self.journal.absorb(&effects);
        self.apply(changes, id);
        (answer, effects.events)
    }

    /// Ends a call that must be charged.
    fn end_charged(&mut self, id: &str, end: Timestamp, now: Timestamp) -> Processed {
        let p = self
            .end(id, end, None, now)
            .unwrap_or_else(|e| panic!("{id}: end refused: {e:?}"));
        charged(&p);
        p
    }

    fn expire(&mut self, now: Timestamp) -> HoldChanges {
        let changes = self.book.expire(now);
        self.apply(changes.clone(), "expire");
        changes
    }

    fn apply(&mut self, changes: HoldChanges, context: &str) {
        for r in &changes.put {
            self.store.insert(r.call.call_id.clone(), r.clone());
        }
        for id in &changes.dropped {
            assert!(
                !changes.put.iter().any(|r| &r.call.call_id == id),
                "{context}: {id} both put and dropped"
            );
            self.store.remove(id);
        }
        self.check(context);
    }

    /// The invariants of every step.
    fn check(&self, context: &str) {
        // C24 from the journal alone.
        self.journal.check(&self.book, context);
        // The store sees exactly the book's reservations.
        let book: BTreeMap<String, Reservation> = self
            .book
            .live()
            .reservations()
            .iter()
            .map(|r| (r.call.call_id.clone(), r))
            .collect();
        assert_eq!(
            self.store, book,
            "{context}: the HoldChanges replayed on a store"
        );
        // The holds are what the live reservations hold, and a lapsed one holds nothing; live
        // state loaded from the store holds the same (the pool per month is checked below, in
        // the tenant's time zone as it is now).
        let held = self.book.live().holds();
        assert_eq!(
            self.book.live().recount(),
            *held,
            "{context}: holds in step with the reservations"
        );
        let loaded = LiveCalls::from_reservations(
            book.values().cloned().collect(),
            &self.book.tenant.timezone,
        );
        assert_eq!(loaded.reservations(), self.book.live().reservations());
        let totals = |h: &Holds| (h.credit(), h.live(), h.pool_minutes());
        assert_eq!(
            totals(loaded.holds()),
            totals(held),
            "{context}: the store's live state holds what the book holds"
        );
        let live: Decimal = book.values().filter(|r| r.live).map(|r| r.credit).sum();
        assert_eq!(
            self.book.live().holds().credit(),
            live,
            "{context}: credit held"
        );
        for r in book.values().filter(|r| !r.live) {
            assert!(
                r.credit.is_zero() && r.pool_minutes == 0,
                "{context}: a lapsed reservation holds nothing"
            );
        }
        // C25: two live calls never hold the same pool minutes.
        let mut pool: BTreeMap<Month, u32> = BTreeMap::new();
        for r in book.values().filter(|r| r.live && r.pool_minutes > 0) {
            *pool.entry(self.book.month_of(r.call.start)).or_insert(0) += r.pool_minutes;
        }
        let held_minutes: u32 = pool.values().sum();
        assert_eq!(
            u64::from(held_minutes),
            self.book.live().holds().pool_minutes(),
            "{context}: pool minutes held"
        );
        for (month, held) in &pool {
            assert_eq!(
                self.book.pool_held(*month),
                *held,
                "{context}: pool {month}"
            );
            let used = self.book.pool_used.get(month).copied().unwrap_or(0);
            let start = book
                .values()
                .find(|r| {
                    r.live && r.pool_minutes > 0 && self.book.month_of(r.call.start) == *month
                })
                .map(|r| r.call.start)
                .expect("a pool hold comes from a live reservation");
            assert!(
                used + held <= self.book.pool_size(start),
                "{context}: pool {month}: {used} used + {held} held"
            );
        }
        assert_eq!(
            self.book.available(),
            self.book.wallet.balance() - self.book.live().holds().credit(),
            "{context}: C14 available"
        );
    }
}

/// The std tenant funded down to `available`, with `pool_left` minutes of March's pool.
fn rig(available: &str, pool_left: u32) -> Rig {
    let mut rig = Rig::new(std_fx());
    rig.set_available(available);
    rig.set_pool_left(pool_left);
    rig
}

fn amount(p: &Processed) -> Decimal {
    charged(p).amount
}

// ---------------------------------------------------------------------------------------------
// C25: k windows of credit, k grants

/// Credit-funded legs with the tariff that rates them.
const CREDIT_LEGS: &[(Leg, Tariff)] = &[
    (Leg::Out(SUB, AE_NUM), AE_OUT),
    (Leg::Out(SUB, JM_NUM), JM_OUT),
    (Leg::Out(PPM, FR_FIXED), FR_OUT),
    (Leg::In(PPM, FR_TOLL, FR_MOBILE), FR_TOLL_IN),
    (Leg::In(SUB, FR_TOLL_FREE, FR_MOBILE), FR_TOLL_FREE_IN),
];

#[test]
fn c25_balance_of_exactly_k_windows_grants_exactly_k_calls_and_ends_debit_exactly() {
    let mut rng = Prng(0xC25);
    for round in 0..120 {
        let (leg, tariff) = rng.pick(CREDIT_LEGS);
        let window = rng.pick(&[60u64, 90, 120, 300, 600]);
        let per_window = cost(tariff, window);
        let k = rng.range(1, 12);
        let n = k + rng.range(1, 4);
        let name = format!("round {round}: {leg:?} window {window} s, k {k}, n {n}");
        let target = per_window * Decimal::from(k);

        let mut rig = Rig::with_policy(
            std_fx(),
            ControlPolicy {
                window_s: window,
                grace_s: 60,
            },
        );
        let funded = target.ceil().max(d("50"));
        rig.fund(&funded.to_string(), FUNDED_AT);
        rig.sink(((funded - target) * Decimal::from(100)).to_i64().unwrap());
        assert_eq!(rig.book.available(), target, "{name}");

        // All ask at the same instant: exactly k are granted a whole window.
        let mut granted = Vec::new();
        let mut denied = Vec::new();
        for i in 0..n {
            let call = leg.ask(&format!("r{round}-{i}"), ts(T));
            let before = rig.book.available();
            match rig.authorize(&call, ts(T)) {
                Decision::Allow(g) => {
                    assert!(i < k, "{name}: call {i} granted beyond k");
                    assert_eq!(g.max_duration_s, Some(window), "{name}: call {i}");
                    assert_eq!(g.credit, per_window, "{name}: call {i} holds one window");
                    assert_eq!(g.funding, Funding::Credits, "{name}");
                    assert!(!g.replay, "{name}");
                    assert_eq!(g.expires_at, at(window as i64 + 60), "{name}");
                    assert_eq!(rig.book.available(), before - per_window, "{name}");
                    granted.push(call);
                }
                Decision::Deny(reason) => {
                    assert!(i >= k, "{name}: call {i} denied within k");
                    assert_eq!(reason, Reason::InsufficientCredits, "{name}");
                    assert_eq!(
                        rig.book.available(),
                        before,
                        "{name}: a denial holds nothing"
                    );
                    denied.push(call);
                }
            }
        }
        assert_eq!(granted.len() as u64, k, "{name}");
        assert!(rig.book.available().is_zero(), "{name}");
        assert_eq!(rig.book.live().holds().credit(), target, "{name}");

        // Each ends after a random duration within its grant, in time order.
        let mut ends: Vec<(u64, usize)> = (0..granted.len())
            .map(|i| (rng.range(0, window), i))
            .collect();
        ends.sort();
        let mut total = Decimal::ZERO;
        for (seconds, i) in ends {
            let end = at(seconds as i64);
            let held = rig.book.live().get(&granted[i].call_id).unwrap().credit;
            let p = rig.end_charged(&granted[i].call_id, end, end);
            let want = cost(tariff, seconds);
            assert_eq!(amount(&p), want, "{name}: call {i} of {seconds} s");
            assert!(
                want <= held,
                "{name}: a call within its grant costs at most its hold"
            );
            assert_eq!(charged(&p).duration_s, seconds, "{name}");
            // C31: a zero charge makes no entry.
            assert_eq!(p.effects.entries.is_empty(), want.is_zero(), "{name}");
            total += want;
        }
        assert_eq!(rig.book.wallet.balance(), target - total, "{name}: balance");
        assert_eq!(rig.book.available(), rig.book.wallet.balance(), "{name}");
        assert!(rig.book.live().is_empty(), "{name}");
        assert!(
            rig.book.live().holds().credit().is_zero()
                && rig.book.live().holds().pool_minutes() == 0
        );
        assert!(
            rig.book.wallet.balance() >= Decimal::ZERO,
            "{name}: no debt"
        );
        rig.book.wallet.check_invariant().unwrap();

        // Denials are remembered: asking again with the same content gives the same answer,
        // even now that credit is available again.
        for call in &denied {
            assert_eq!(
                rig.authorize(call, at(window as i64)),
                Decision::Deny(Reason::InsufficientCredits),
                "{name}: denial replayed"
            );
        }
    }
}

#[test]
fn c25_two_calls_never_hold_the_same_credit() {
    // 12.00 available, 5.00 per window (UAE at 1.00 per minute).
    let mut rig = rig("12", 600);
    let a = Leg::Out(SUB, AE_NUM).ask("a", ts(T));
    let b = Leg::Out(PPM, FR_FIXED).ask("b", ts(T));
    let c = Leg::Out(SUB, JM_NUM).ask("c", ts(T));
    let ga = rig.grant(&a, ts(T));
    assert_eq!((ga.max_duration_s, ga.credit), (Some(300), d("5.00")));
    assert_eq!(rig.book.available(), d("7.00"), "a holds 5.00 at once");
    let gb = rig.grant(&b, ts(T));
    assert_eq!((gb.max_duration_s, gb.credit), (Some(300), d("3.00")));
    assert_eq!(rig.book.available(), d("4.00"));
    // Jamaica: 0.10 + 0.01 per second billed; 4.00 covers 300 s (3.10).
    let gc = rig.grant(&c, ts(T));
    assert_eq!((gc.max_duration_s, gc.credit), (Some(300), d("3.10")));
    assert_eq!(rig.book.available(), d("0.90"));
    // What is left covers 90 s of France by the second.
    let e = Leg::Out(PPM, FR_FIXED).ask("e", ts(T));
    let ge = rig.grant(&e, ts(T));
    assert_eq!((ge.max_duration_s, ge.credit), (Some(90), d("0.90")));
    assert!(rig.book.available().is_zero());
    let f = Leg::Out(SUB, AE_NUM).ask("f", ts(T));
    assert_eq!(
        rig.authorize(&f, ts(T)),
        Decision::Deny(Reason::InsufficientCredits)
    );
    assert_eq!(
        rig.book.live().holds().credit(),
        d("12"),
        "the holds are the balance, no more"
    );
    // a ends early: only what it used is debited, the rest of its hold is available again.
    let p = rig.end_charged("a", at(61), at(61));
    assert_eq!(amount(&p), d("2.00"));
    assert_eq!(rig.book.wallet.balance(), d("10.00"));
    assert_eq!(rig.book.available(), d("3.00"));
    let g = Leg::Out(SUB, AE_NUM).ask("g", at(61));
    let gg = rig.grant(&g, at(61));
    assert_eq!((gg.max_duration_s, gg.credit), (Some(180), d("3.00")));
}

// ---------------------------------------------------------------------------------------------
// C14, C30: what authorize answers

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Deny(Reason),
    Allow {
        max: Option<u64>,
        funding: Funding,
        credit: &'static str,
        pool: u32,
    },
}

const fn allow(max: Option<u64>, funding: Funding, credit: &'static str, pool: u32) -> Answer {
    Answer::Allow {
        max,
        funding,
        credit,
        pool,
    }
}

/// The tenant state a row starts from.
#[derive(Debug, Clone, Copy)]
enum Setup {
    /// Wallet set up, available exactly this (may be negative), this many pool minutes left.
    Funded(&'static str, u32),
    /// Wallet set up, never funded.
    Unfunded,
    /// No wallet, this many pool minutes left.
    NoWallet(u32),
}

/// (rule and description, state, the call, window, answer)
type AuthorizeRow = (&'static str, Setup, CallRecord, u64, Answer);

fn out(organizer: &'static str, destination: &'static str) -> CallRecord {
    Leg::Out(organizer, destination).ask("x", ts(T))
}

fn inbound(organizer: &'static str, service: &'static str, caller: &'static str) -> CallRecord {
    Leg::In(organizer, service, caller).ask("x", ts(T))
}

fn authorize_rows() -> Vec<AuthorizeRow> {
    use Answer::Deny;
    use Funding::*;
    use Reason::*;
    use Setup::*;
    let rich = Funded("100", 600);
    let broke = Funded("0", 600);
    let unused_service = CallRecord {
        service_number: "+44 1".into(),
        ..out(NOLICENSE, FR_FIXED)
    };
    let connected = CallRecord {
        end: at(60),
        ..out(SUB, AE_NUM)
    };
    vec![
        // C30, in order: each refusal, and that it comes before the next ones.
        (
            "C8 invalid destination",
            rich,
            out(SUB, "+33 1"),
            300,
            Deny(InvalidNumber),
        ),
        (
            "C30 invalid caller number before organizer_not_enabled",
            rich,
            inbound(NOLICENSE, FR_TOLL, "+33 1"),
            300,
            Deny(InvalidNumber),
        ),
        (
            "C30 any number on the record, even the unused service number of a dial-out",
            rich,
            unused_service,
            300,
            Deny(InvalidNumber),
        ),
        (
            "C18 organizer without a conferencing license",
            rich,
            out(NOLICENSE, FR_FIXED),
            300,
            Deny(OrganizerNotEnabled),
        ),
        (
            "C30 organizer unknown to the tenant",
            rich,
            out(GHOST, AE_NUM),
            300,
            Deny(OrganizerNotEnabled),
        ),
        (
            "C30 organizer_not_enabled before unknown_service_number",
            rich,
            inbound(NOLICENSE, "+33 1 42 68 53 99", FR_MOBILE),
            300,
            Deny(OrganizerNotEnabled),
        ),
        (
            "C30 dial-in to a number the tenant does not have",
            rich,
            inbound(SUB, "+33 1 42 68 53 99", FR_MOBILE),
            300,
            Deny(UnknownServiceNumber),
        ),
        (
            "C30 unknown_service_number before toll_free_disabled",
            rich,
            inbound(NOTOLLFREE, "+33 1 42 68 53 99", FR_MOBILE),
            300,
            Deny(UnknownServiceNumber),
        ),
        (
            "C18 toll-free dial-in disabled for the organizer",
            rich,
            inbound(NOTOLLFREE, FR_TOLL_FREE, FR_MOBILE),
            300,
            Deny(TollFreeDisabled),
        ),
        (
            "C17 disabled policy",
            rich,
            out(DISABLED, FR_FIXED),
            300,
            Deny(PolicyDisabled),
        ),
        (
            "C30 policy before no_rate",
            rich,
            out(DISABLED, IT_NUM),
            300,
            Deny(PolicyDisabled),
        ),
        (
            "C30 policy before the pool",
            rich,
            out(DOMESTIC, GB_NUM),
            300,
            Deny(PolicyDomesticOnly),
        ),
        (
            "C30 policy before the add-on",
            rich,
            out(DOM_ADDON, US_NUM),
            300,
            Deny(PolicyDomesticOnly),
        ),
        (
            "C17 zone_a policy, AE destination",
            rich,
            out(ZONEA, AE_NUM),
            300,
            Deny(PolicyZoneAOnly),
        ),
        (
            "C30 a dial-out needs a rate even when the pool pays",
            rich,
            out(SUB, IT_NUM),
            300,
            Deny(NoRate),
        ),
        (
            "C9 no rate for a credit call",
            rich,
            out(PPM, IT_NUM),
            300,
            Deny(NoRate),
        ),
        (
            "C30 no_rate before credits_not_set_up",
            NoWallet(600),
            out(PPM, IT_NUM),
            300,
            Deny(NoRate),
        ),
        (
            "C14 credit call without a wallet",
            NoWallet(600),
            out(SUB, AE_NUM),
            300,
            Deny(CreditsNotSetUp),
        ),
        (
            "C30 credits_not_set_up before credits_license_missing",
            NoWallet(600),
            out(BARE, AE_NUM),
            300,
            Deny(CreditsNotSetUp),
        ),
        (
            "C32 pool spent, no wallet: an ordinary credit call",
            NoWallet(0),
            out(SUB, FR_FIXED),
            300,
            Deny(CreditsNotSetUp),
        ),
        (
            "C19 credit call without MCOPSTNPP",
            rich,
            out(BARE, AE_NUM),
            300,
            Deny(CreditsLicenseMissing),
        ),
        (
            "C19 toll-free dial-in of a subscription organizer needs MCOPSTNPP",
            rich,
            inbound(BARE, FR_TOLL_FREE, FR_MOBILE),
            300,
            Deny(CreditsLicenseMissing),
        ),
        (
            "C32 pool spent, no MCOPSTNPP",
            Funded("100", 0),
            out(BARE, FR_FIXED),
            300,
            Deny(CreditsLicenseMissing),
        ),
        (
            "C30 credits_license_missing before insufficient_credits",
            broke,
            out(BARE, AE_NUM),
            300,
            Deny(CreditsLicenseMissing),
        ),
        (
            "C14 available exactly 0 (the pool has minutes, but not for this call)",
            broke,
            out(SUB, AE_NUM),
            300,
            Deny(InsufficientCredits),
        ),
        (
            "C14 available exactly 0, pay-per-minute organizer",
            broke,
            out(PPM, FR_FIXED),
            300,
            Deny(InsufficientCredits),
        ),
        (
            "C14 available exactly 0, pay-per-minute toll dial-in",
            broke,
            inbound(PPM, FR_TOLL, FR_MOBILE),
            300,
            Deny(InsufficientCredits),
        ),
        (
            "C14 available exactly 0, toll-free dial-in",
            broke,
            inbound(SUB, FR_TOLL_FREE, FR_MOBILE),
            300,
            Deny(InsufficientCredits),
        ),
        (
            "C14 C32 pool spent and available exactly 0",
            Funded("0", 0),
            out(SUB, FR_FIXED),
            300,
            Deny(InsufficientCredits),
        ),
        (
            "C13 C14 a debt is not available",
            Funded("-1.00", 600),
            out(SUB, AE_NUM),
            300,
            Deny(InsufficientCredits),
        ),
        (
            "C14 a wallet never funded",
            Unfunded,
            out(SUB, AE_NUM),
            300,
            Deny(InsufficientCredits),
        ),
        (
            "C25 an authorization is asked before the call connects: end == start",
            rich,
            connected,
            300,
            Deny(InvalidRecord),
        ),
        // Calls that hold nothing: never cut, whatever the wallet.
        (
            "C18 included toll dial-in, nothing available",
            broke,
            inbound(SUB, FR_TOLL, FR_MOBILE),
            300,
            allow(None, Included, "0", 0),
        ),
        (
            "C18 included toll dial-in needs no wallet and no MCOPSTNPP",
            NoWallet(0),
            inbound(BARE, FR_TOLL, FR_MOBILE),
            300,
            allow(None, Included, "0", 0),
        ),
        (
            "C33 add-on, nothing available",
            broke,
            out(ADDON, US_NUM),
            300,
            allow(None, AddOn, "0", 0),
        ),
        (
            "C33 add-on, premium included",
            broke,
            out(ADDON, US_PREMIUM),
            300,
            allow(None, AddOn, "0", 0),
        ),
        (
            "C33 add-on of a pay-per-minute organizer to Canada, no wallet",
            NoWallet(600),
            out(PPM_ADDON, CA_NUM),
            300,
            allow(None, AddOn, "0", 0),
        ),
        // Credit calls: a window when it is covered.
        (
            "C25 credit call, window covered",
            rich,
            out(SUB, AE_NUM),
            300,
            allow(Some(300), Credits, "5.00", 0),
        ),
        (
            "C25 available exactly one window",
            Funded("5.00", 600),
            out(SUB, AE_NUM),
            300,
            allow(Some(300), Credits, "5.00", 0),
        ),
        (
            "C33 the add-on covers US and CA only: Jamaica is credits",
            rich,
            out(ADDON, JM_NUM),
            300,
            allow(Some(300), Credits, "3.10", 0),
        ),
        (
            "C18 pay-per-minute toll dial-in",
            rich,
            inbound(PPM, FR_TOLL, FR_MOBILE),
            300,
            allow(Some(300), Credits, "0.15", 0),
        ),
        (
            "C18 toll-free dial-in",
            rich,
            inbound(SUB, FR_TOLL_FREE, FR_MOBILE),
            300,
            allow(Some(300), Credits, "0.25", 0),
        ),
        (
            "C25 a 30 s window",
            rich,
            out(SUB, AE_NUM),
            30,
            allow(Some(30), Credits, "1.00", 0),
        ),
        // C14: partial grants, the longest the available credit covers, at least one block.
        (
            "C14 4.99 available covers 4 minutes",
            Funded("4.99", 600),
            out(SUB, AE_NUM),
            300,
            allow(Some(240), Credits, "4.00", 0),
        ),
        (
            "C14 2.50 available covers 2 minutes",
            Funded("2.50", 600),
            out(SUB, AE_NUM),
            300,
            allow(Some(120), Credits, "2.00", 0),
        ),
        (
            "C13 C14 0.40 available: the first block still (the call may go into debt)",
            Funded("0.40", 600),
            out(SUB, AE_NUM),
            300,
            allow(Some(60), Credits, "1.00", 0),
        ),
        (
            "C13 C14 0.01 available: the first block",
            Funded("0.01", 600),
            out(SUB, AE_NUM),
            300,
            allow(Some(60), Credits, "1.00", 0),
        ),
        (
            "C14 fee and 30/6: 3.10 covers the window",
            Funded("3.10", 600),
            out(SUB, JM_NUM),
            300,
            allow(Some(300), Credits, "3.10", 0),
        ),
        (
            "C14 fee and 30/6: 3.09 covers 294 s",
            Funded("3.09", 600),
            out(SUB, JM_NUM),
            300,
            allow(Some(294), Credits, "3.04", 0),
        ),
        (
            "C14 fee and 30/6: 1.00 covers 90 s",
            Funded("1.00", 600),
            out(SUB, JM_NUM),
            300,
            allow(Some(90), Credits, "1.00", 0),
        ),
        (
            "C14 fee and 30/6: 0.47 covers 36 s",
            Funded("0.47", 600),
            out(SUB, JM_NUM),
            300,
            allow(Some(36), Credits, "0.46", 0),
        ),
        (
            "C13 C14 fee and 30/6: 0.25 gets the first block (fee + 30 s)",
            Funded("0.25", 600),
            out(SUB, JM_NUM),
            300,
            allow(Some(30), Credits, "0.40", 0),
        ),
        (
            "C14 by the second: 1.00 covers 100 s",
            Funded("1.00", 600),
            out(PPM, FR_FIXED),
            300,
            allow(Some(100), Credits, "1.00", 0),
        ),
        (
            "C14 by the second: 0.01 covers 1 s",
            Funded("0.01", 600),
            out(PPM, FR_FIXED),
            300,
            allow(Some(1), Credits, "0.01", 0),
        ),
        (
            "C14 toll dial-in by the minute: 0.10 covers 3 minutes",
            Funded("0.10", 600),
            inbound(PPM, FR_TOLL, FR_MOBILE),
            300,
            allow(Some(180), Credits, "0.09", 0),
        ),
        // The pool (C32): credit is needed only beyond what the pool has left.
        (
            "C32 the pool pays the window, no credit needed",
            broke,
            out(SUB, FR_FIXED),
            300,
            allow(Some(300), Pool, "0", 5),
        ),
        (
            "C32 the pool pays the window, no wallet needed",
            NoWallet(600),
            out(SUB, FR_FIXED),
            300,
            allow(Some(300), Pool, "0", 5),
        ),
        (
            "C32 the pool pays the window, no MCOPSTNPP needed",
            rich,
            out(BARE, FR_FIXED),
            300,
            allow(Some(300), Pool, "0", 5),
        ),
        (
            "C32 exactly the window left in the pool",
            Funded("0", 5),
            out(SUB, FR_FIXED),
            300,
            allow(Some(300), Pool, "0", 5),
        ),
        (
            "C21 pool minutes are whole: a 30 s window takes one",
            Funded("0", 600),
            out(SUB, FR_FIXED),
            30,
            allow(Some(30), Pool, "0", 1),
        ),
        (
            "C32 the pool pays no connection fee",
            broke,
            out(SUB, GB_NUM),
            300,
            allow(Some(300), Pool, "0", 5),
        ),
        (
            "C32 pool left < window, credit covers the rest",
            Funded("100", 2),
            out(SUB, FR_FIXED),
            300,
            allow(Some(300), PoolAndCredits, "1.80", 2),
        ),
        (
            "C32 pool left < window, credit covers exactly the rest",
            Funded("1.80", 2),
            out(SUB, FR_FIXED),
            300,
            allow(Some(300), PoolAndCredits, "1.80", 2),
        ),
        (
            "C14 C32 pool left < window, credit covers part of the rest",
            Funded("0.50", 2),
            out(SUB, FR_FIXED),
            300,
            allow(Some(170), PoolAndCredits, "0.50", 2),
        ),
        (
            "C14 C32 pool left < window, no credit available: limited to the pool",
            Funded("0", 2),
            out(SUB, FR_FIXED),
            300,
            allow(Some(120), Pool, "0", 2),
        ),
        (
            "C13 C14 C32 pool left < window, in debt: limited to the pool",
            Funded("-3.00", 2),
            out(SUB, FR_FIXED),
            300,
            allow(Some(120), Pool, "0", 2),
        ),
        (
            "C19 C32 pool left < window, no MCOPSTNPP: limited to the pool",
            Funded("100", 2),
            out(BARE, FR_FIXED),
            300,
            allow(Some(120), Pool, "0", 2),
        ),
        (
            "C32 pool left < window, no wallet: limited to the pool",
            NoWallet(2),
            out(SUB, FR_FIXED),
            300,
            allow(Some(120), Pool, "0", 2),
        ),
        (
            "C32 pool spent: an ordinary credit call",
            Funded("100", 0),
            out(SUB, FR_FIXED),
            300,
            allow(Some(300), Credits, "3.00", 0),
        ),
        (
            "C32 pool spent: the fee applies again",
            Funded("100", 0),
            out(SUB, GB_NUM),
            300,
            allow(Some(300), Credits, "0.15", 0),
        ),
    ]
}

fn setup_rig(setup: Setup, window: u64) -> Rig {
    let policy = ControlPolicy {
        window_s: window,
        grace_s: 60,
    };
    let rig = match setup {
        Setup::Funded(available, left) => {
            let mut rig = Rig::with_policy(std_fx(), policy);
            rig.set_available(available);
            rig.set_pool_left(left);
            rig
        }
        Setup::Unfunded => Rig::with_policy(std_fx(), policy),
        Setup::NoWallet(left) => {
            let mut rig = Rig::with_policy(std_fx().no_wallet(), policy);
            rig.set_pool_left(left);
            rig
        }
    };
    rig.check("setup");
    rig
}

#[test]
fn c14_c30_authorize_answers_every_reason_and_every_grant() {
    for (name, setup, call, window, want) in authorize_rows() {
        let mut rig = setup_rig(setup, window);
        let available = rig.book.available();
        let pool_left = rig.book.pool_remaining(call.start);
        let balance = rig.book.wallet.balance();
        let decision = rig.authorize(&call, ts(T));
        match (want, &decision) {
            (Answer::Deny(reason), Decision::Deny(got)) => {
                assert_eq!(*got, reason, "{name}");
                assert_eq!(rig.book.available(), available, "{name}: nothing held");
                assert_eq!(rig.book.pool_remaining(call.start), pool_left, "{name}");
                assert!(rig.book.live().is_empty(), "{name}");
                // Asked again with the same content: the same denial (C37).
                assert_eq!(rig.authorize(&call, at(1)), decision, "{name}: replayed");
                // The same id with other content is a reuse (C23).
                let other = CallRecord {
                    conference_id: "another".into(),
                    ..call.clone()
                };
                assert_eq!(
                    rig.authorize(&other, at(1)),
                    Decision::Deny(Reason::CallIdReused),
                    "{name}"
                );
            }
            (
                Answer::Allow {
                    max,
                    funding,
                    credit,
                    pool,
                },
                Decision::Allow(g),
            ) => {
                assert_eq!(g.max_duration_s, max, "{name}: max_duration_s");
                assert_eq!(g.funding, funding, "{name}: funding");
                assert_eq!(g.credit, d(credit), "{name}: credit held");
                assert_eq!(g.pool_minutes, pool, "{name}: pool minutes held");
                assert!(!g.replay, "{name}");
                let lapse = match max {
                    Some(s) => at(s as i64 + 60),
                    None => at(UNMETERED_HOLD_S as i64),
                };
                assert_eq!(g.expires_at, lapse, "{name}: expires_at");
                assert_eq!(
                    rig.book.available(),
                    available - d(credit),
                    "{name}: C25 the hold is taken from what is available"
                );
                assert_eq!(
                    rig.book.pool_remaining(call.start),
                    pool_left - pool,
                    "{name}: C25 and from the pool"
                );
                assert_eq!(
                    rig.book.wallet.balance(),
                    balance,
                    "{name}: nothing debited"
                );
                let r = &rig.book.live().get(&call.call_id).unwrap();
                assert_eq!(
                    (r.granted_s, r.credit, r.pool_minutes, r.funding, r.live),
                    (max, d(credit), pool, funding, true),
                    "{name}: the reservation"
                );
                // Asked again: the same grant, as a replay, holding nothing more (C23).
                let again = rig.authorize(&call, at(1));
                assert_eq!(
                    again,
                    Decision::Allow(Grant {
                        replay: true,
                        // A second later, a second less remains of the grant.
                        remaining_s: g.remaining_s.map(|s| s.saturating_sub(1)),
                        ..g.clone()
                    }),
                    "{name}: replayed"
                );
                assert_eq!(rig.book.available(), available - d(credit), "{name}");
                // Ending exactly at the grant costs exactly what was held, from the pool
                // exactly what was held.
                let seconds = max.unwrap_or(3600);
                let p = rig.end_charged(&call.call_id, at(seconds as i64), at(seconds as i64));
                let c = charged(&p);
                assert_eq!(c.amount, d(credit), "{name}: charged the hold");
                assert_eq!(c.pool_minutes, pool, "{name}: pool used");
                assert_eq!(c.funding, funding, "{name}: funding at the end");
                assert_eq!(
                    rig.book.available(),
                    balance - d(credit),
                    "{name}: released"
                );
                assert!(rig.book.live().is_empty(), "{name}");
            }
            (want, got) => panic!("{name}: wanted {want:?}, got {got:?}"),
        }
    }
}

#[test]
fn c14_every_refusal_reason_of_c30_is_reachable_through_authorize() {
    let reached: BTreeSet<Reason> = authorize_rows()
        .iter()
        .filter_map(|row| match row.4 {
            Answer::Deny(reason) => Some(reason),
            Answer::Allow { .. } => None,
        })
        .collect();
    for reason in [
        Reason::InvalidNumber,
        Reason::OrganizerNotEnabled,
        Reason::UnknownServiceNumber,
        Reason::TollFreeDisabled,
        Reason::PolicyDisabled,
        Reason::PolicyDomesticOnly,
        Reason::PolicyZoneAOnly,
        Reason::NoRate,
        Reason::CreditsNotSetUp,
        Reason::CreditsLicenseMissing,
        Reason::InsufficientCredits,
    ] {
        assert!(reached.contains(&reason), "{reason} is not reached");
    }
}

#[test]
fn c13_c14_after_a_first_block_overdraft_the_next_credit_call_is_denied() {
    // 0.40 available, the UAE's first block is 1.00: granted, available goes to -0.60.
    let mut rig = rig("0.40", 2);
    let g = rig.grant(&Leg::Out(SUB, AE_NUM).ask("a", ts(T)), ts(T));
    assert_eq!((g.max_duration_s, g.credit), (Some(60), d("1.00")));
    assert_eq!(rig.book.available(), d("-0.60"));
    for (id, leg) in [
        ("b", Leg::Out(SUB, AE_NUM)),
        ("c", Leg::Out(PPM, FR_FIXED)),
        ("d", Leg::In(SUB, FR_TOLL_FREE, FR_MOBILE)),
    ] {
        assert_eq!(
            rig.authorize(&leg.ask(id, ts(T)), ts(T)),
            Decision::Deny(Reason::InsufficientCredits),
            "{id}"
        );
    }
    // A pool call still runs on the pool alone; an included call is not affected.
    let pool = rig.grant(&Leg::Out(SUB, FR_FIXED).ask("e", ts(T)), ts(T));
    assert_eq!(
        (
            pool.max_duration_s,
            pool.funding,
            pool.credit,
            pool.pool_minutes
        ),
        (Some(120), Funding::Pool, d("0"), 2)
    );
    let free = rig.grant(&Leg::In(SUB, FR_TOLL, FR_MOBILE).ask("f", ts(T)), ts(T));
    assert_eq!(free.max_duration_s, None);
    // The overdraft ends as a debt of a call in progress (C13).
    let p = rig.end_charged("a", at(60), at(60));
    assert_eq!(amount(&p), d("1.00"));
    assert_eq!(rig.book.wallet.balance(), d("-0.60"));
    assert_eq!(rig.book.wallet.debt(), d("0.60"));
}

// ---------------------------------------------------------------------------------------------
// C26: extend

/// (known_s, now, extended?, max_duration_s, credit held, available after)
type ExtendStep = (Option<u64>, i64, bool, u64, &'static str, &'static str);

#[test]
fn c26_extend_grows_by_a_window_while_credit_lasts_then_is_exhausted() {
    // 13.00 available, UAE at 1.00 per minute, 300 s windows.
    let mut rig = rig("13", 600);
    let call = Leg::Out(SUB, AE_NUM).ask("a", ts(T));
    let g = rig.grant(&call, ts(T));
    assert_eq!((g.max_duration_s, g.credit), (Some(300), d("5.00")));
    let steps: &[ExtendStep] = &[
        (Some(300), 290, true, 600, "10.00", "3.00"),
        // The last window is cut to what the credit covers: 13 minutes.
        (Some(600), 590, true, 780, "13.00", "0.00"),
        // Nothing more: end at the granted limit.
        (Some(780), 770, false, 780, "13.00", "0.00"),
        // Asked again: still exhausted.
        (None, 775, false, 780, "13.00", "0.00"),
    ];
    for (i, (known, now, grew, max, credit, available)) in steps.iter().enumerate() {
        let answer = rig.extend("a", *known, at(*now)).expect("extend");
        let grant = match (&answer, grew) {
            (Extension::Extended(g), true) | (Extension::Exhausted(g), false) => g,
            _ => panic!("step {i}: got {answer:?}"),
        };
        assert_eq!(grant.max_duration_s, Some(*max), "step {i}");
        assert_eq!(grant.credit, d(credit), "step {i}");
        assert!(!grant.replay, "step {i}");
        assert_eq!(
            grant.expires_at,
            at(*max as i64 + 60),
            "step {i}: expires_at"
        );
        assert_eq!(rig.book.available(), d(available), "step {i}: available");
    }
    // A repeated request (the bridge still knows an older grant): the current grant, replayed,
    // nothing changes.
    let holds = rig.book.live().holds().clone();
    for known in [0, 300, 600, 779] {
        match rig.extend("a", Some(known), at(776)).expect("extend") {
            Extension::Extended(g) => {
                assert_eq!(g.max_duration_s, Some(780), "known {known}");
                assert!(g.replay, "known {known}");
            }
            other => panic!("known {known}: {other:?}"),
        }
    }
    assert_eq!(*rig.book.live().holds(), holds);
    // The call is cut at its limit and charged what it was granted.
    let p = rig.end_charged("a", at(780), at(780));
    assert_eq!(amount(&p), d("13.00"));
    assert!(rig.book.wallet.balance().is_zero());
    // After the end, and for an id never seen.
    assert_eq!(
        rig.extend("a", Some(780), at(781)),
        Err(ControlError::CallAlreadyEnded)
    );
    assert_eq!(
        rig.extend("nobody", Some(300), at(781)),
        Err(ControlError::CallNotFound)
    );
}

#[test]
fn c25_c26_an_extension_never_takes_credit_another_live_call_holds() {
    // 13.00: a and b take 5.00 each; a can grow by the 3.00 left only.
    let mut rig = rig("13", 600);
    rig.grant(&Leg::Out(SUB, AE_NUM).ask("a", ts(T)), ts(T));
    rig.grant(&Leg::Out(SUB, AE_NUM).ask("b", ts(T)), ts(T));
    assert_eq!(rig.book.available(), d("3.00"));
    match rig.extend("a", Some(300), at(290)).unwrap() {
        Extension::Extended(g) => {
            assert_eq!((g.max_duration_s, g.credit), (Some(480), d("8.00")));
        }
        other => panic!("{other:?}"),
    }
    assert!(rig.book.available().is_zero());
    match rig.extend("b", Some(300), at(291)).unwrap() {
        Extension::Exhausted(g) => {
            assert_eq!((g.max_duration_s, g.credit), (Some(300), d("5.00")));
        }
        other => panic!("{other:?}"),
    }
    // b ends early: what it did not use becomes available to a.
    let p = rig.end_charged("b", at(295), at(295));
    assert_eq!(amount(&p), d("5.00"));
    let p = rig.end_charged("a", at(400), at(400));
    assert_eq!(amount(&p), d("7.00"));
    assert_eq!(rig.book.wallet.balance(), d("1.00"));
}

#[test]
fn c26_extend_of_an_overdrawn_first_block_is_exhausted() {
    let mut rig = rig("0.40", 600);
    rig.grant(&Leg::Out(SUB, AE_NUM).ask("a", ts(T)), ts(T));
    match rig.extend("a", Some(60), at(50)).unwrap() {
        Extension::Exhausted(g) => {
            assert_eq!((g.max_duration_s, g.credit), (Some(60), d("1.00")));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(rig.book.available(), d("-0.60"));
}

#[test]
fn c26_c32_extend_a_pool_call_then_credits_then_exhausted() {
    // 7 pool minutes left, 1.00 of credit: France at 0.01 per second beyond the pool.
    let mut rig = rig("1.00", 7);
    rig.grant(&Leg::Out(SUB, FR_FIXED).ask("sub", ts(T)), ts(T));
    // (known, answer extended?, max, funding, credit, pool)
    let steps: &[(u64, bool, u64, Funding, &str, u32)] = &[
        // 600 s: 7 pool minutes, 180 s of credit = 1.80 > 1.00: 420 + 100 s.
        (300, true, 520, Funding::PoolAndCredits, "1.00", 7),
        (520, false, 520, Funding::PoolAndCredits, "1.00", 7),
    ];
    for (i, (known, grew, max, funding, credit, pool)) in steps.iter().enumerate() {
        let answer = rig
            .extend("sub", Some(*known), at(*known as i64 - 10))
            .unwrap();
        let g = match (&answer, grew) {
            (Extension::Extended(g), true) | (Extension::Exhausted(g), false) => g,
            _ => panic!("step {i}: {answer:?}"),
        };
        assert_eq!(
            (g.max_duration_s, g.funding, g.credit, g.pool_minutes),
            (Some(*max), *funding, d(credit), *pool),
            "step {i}"
        );
        assert_eq!(rig.book.pool_remaining(ts(T)), 0, "step {i}");
    }
    let p = rig.end_charged("sub", at(520), at(520));
    assert_eq!(
        (charged(&p).funding, charged(&p).pool_minutes, amount(&p)),
        (Funding::PoolAndCredits, 7, d("1.00"))
    );
    assert_eq!(pool_used(&rig.book, 2026, 3), 600);

    // Without MCOPSTNPP a pool call grows only as far as the pool.
    let mut rig = rig_fx_pool(7);
    rig.grant(&Leg::Out(BARE, FR_FIXED).ask("bare", ts(T)), ts(T));
    match rig.extend("bare", Some(300), at(290)).unwrap() {
        Extension::Extended(g) => assert_eq!(
            (g.max_duration_s, g.funding, g.credit, g.pool_minutes),
            (Some(420), Funding::Pool, d("0"), 7)
        ),
        other => panic!("{other:?}"),
    }
    match rig.extend("bare", Some(420), at(410)).unwrap() {
        Extension::Exhausted(g) => assert_eq!(g.max_duration_s, Some(420)),
        other => panic!("{other:?}"),
    }
    let p = rig.end_charged("bare", at(420), at(420));
    assert_eq!(
        (charged(&p).funding, charged(&p).pool_minutes, amount(&p)),
        (Funding::Pool, 7, d("0"))
    );
}

fn rig_fx_pool(left: u32) -> Rig {
    rig("100", left)
}

#[test]
fn c26_extend_of_a_call_that_holds_nothing_replays_its_unlimited_grant() {
    let mut rig = rig("0", 600);
    rig.grant(&Leg::Out(ADDON, US_NUM).ask("a", ts(T)), ts(T));
    match rig.extend("a", None, at(3000)).unwrap() {
        Extension::Extended(g) => {
            assert_eq!(g.max_duration_s, None);
            assert!(g.replay);
        }
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// C27: end

/// (description, leg, seconds from start to the end report, what is charged)
type EndRow = (&'static str, Leg, u64, &'static str);

#[test]
fn c27_end_charges_the_real_duration_and_releases_the_hold() {
    let rows: &[EndRow] = &[
        ("C31 not connected", Leg::Out(SUB, AE_NUM), 0, "0"),
        (
            "C6 one second is a minute",
            Leg::Out(SUB, AE_NUM),
            1,
            "1.00",
        ),
        ("within the window", Leg::Out(SUB, AE_NUM), 90, "2.00"),
        ("exactly the window", Leg::Out(SUB, AE_NUM), 300, "5.00"),
        (
            "beyond the grant, within the grace",
            Leg::Out(SUB, AE_NUM),
            330,
            "6.00",
        ),
        (
            "beyond the grant and the grace (the hold lapsed first)",
            Leg::Out(SUB, AE_NUM),
            420,
            "7.00",
        ),
        (
            "C13 far beyond: the balance goes into debt",
            Leg::Out(SUB, AE_NUM),
            3600,
            "60.00",
        ),
        ("C6 30/6 with a fee", Leg::Out(SUB, JM_NUM), 31, "0.46"),
        ("by the second", Leg::Out(PPM, FR_FIXED), 299, "2.99"),
        (
            "C32 beyond the grant, the pool pays more",
            Leg::Out(SUB, FR_FIXED),
            500,
            "0",
        ),
        (
            "C18 included: never cut, charge 0",
            Leg::In(SUB, FR_TOLL, FR_MOBILE),
            7200,
            "0",
        ),
        ("C33 add-on: charge 0", Leg::Out(ADDON, CA_NUM), 7200, "0"),
    ];
    for (name, leg, seconds, want) in rows {
        let mut rig = rig("50", 600);
        let call = leg.ask("a", ts(T));
        rig.grant(&call, ts(T));
        let end = at(*seconds as i64);
        let p = rig
            .end("a", end, None, end)
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert!(!p.replay, "{name}");
        let c = charged(&p);
        assert_eq!(c.amount, d(want), "{name}: amount");
        assert_eq!(c.duration_s, *seconds, "{name}: the real duration");
        assert_eq!(
            rig.book.wallet.balance(),
            d("50") - d(want),
            "{name}: debited once"
        );
        assert_eq!(
            rig.book.available(),
            rig.book.wallet.balance(),
            "{name}: the hold is released"
        );
        assert!(rig.book.live().is_empty(), "{name}");
        assert_eq!(
            rig.book.pool_remaining(ts(T)) + pool_used(&rig.book, 2026, 3),
            600
        );
        let debits: Vec<_> = p
            .effects
            .entries
            .iter()
            .filter(|e| e.kind == EntryKind::Debit)
            .collect();
        if d(want).is_zero() {
            assert!(debits.is_empty(), "{name}: C31 no entry for a zero charge");
        } else {
            assert_eq!(debits.len(), 1, "{name}: one debit");
            assert_eq!(debits[0].at, end, "{name}: C28 dated at the end");
            assert_eq!(debits[0].amount, d(want), "{name}");
            assert_eq!(debits[0].call_id.as_deref(), Some("a"), "{name}");
        }
    }
}

#[test]
fn c23_c27_ending_twice_charges_once() {
    let mut rig = rig("50", 600);
    let call = Leg::Out(SUB, AE_NUM).ask("a", ts(T));
    rig.grant(&call, ts(T));
    let record = Leg::Out(SUB, AE_NUM).record("a", ts(T), 125);
    let first = rig.end("a", at(125), Some(&record), at(125)).unwrap();
    assert!(!first.replay);
    assert_eq!(amount(&first), d("3.00"));
    let balance = rig.book.wallet.balance();
    // The same end report again (the bridge did not get the answer): the first result.
    let second = rig.end("a", at(125), Some(&record), at(200)).unwrap();
    assert!(second.replay);
    assert_eq!(second.outcome, first.outcome);
    assert!(second.effects.entries.is_empty() && second.effects.events.is_empty());
    assert_eq!(rig.book.wallet.balance(), balance, "no second debit");
    // Without the record too: the first result again (C23).
    let third = rig.end("a", at(125), None, at(200)).unwrap();
    assert!(third.replay);
    assert_eq!(third.outcome, first.outcome);
    assert!(third.effects.entries.is_empty());
    assert_eq!(rig.book.wallet.balance(), balance, "no second debit");
    // Another end instant for the same call is another content (C23).
    let later = Leg::Out(SUB, AE_NUM).record("a", ts(T), 126);
    let other = rig.end("a", at(126), Some(&later), at(200)).unwrap();
    assert_eq!(other.outcome, Outcome::Refused(Reason::CallIdReused));
    assert_eq!(rig.book.wallet.balance(), balance, "nothing changed");
    // A new authorization with the id of an ended call is a reuse.
    assert_eq!(
        rig.authorize(&call, at(300)),
        Decision::Deny(Reason::CallIdReused)
    );
}

#[test]
fn c23_c27_an_end_record_that_differs_from_the_authorization_is_call_id_reused() {
    let mut rig = rig("50", 600);
    let call = Leg::Out(SUB, AE_NUM).ask("a", ts(T));
    let g = rig.grant(&call, ts(T));
    let real = Leg::Out(SUB, AE_NUM).record("a", ts(T), 100);
    let variants: Vec<(&str, CallRecord)> = vec![
        (
            "another destination",
            Leg::Out(SUB, JM_NUM).record("a", ts(T), 100),
        ),
        (
            "another organizer",
            Leg::Out(PPM, AE_NUM).record("a", ts(T), 100),
        ),
        (
            "another start",
            Leg::Out(SUB, AE_NUM).record("a", at(1), 99),
        ),
        (
            "another conference",
            CallRecord {
                conference_id: "other".into(),
                ..real.clone()
            },
        ),
        (
            "another direction",
            CallRecord {
                direction: minutely_core::rating::Direction::DialIn,
                ..real.clone()
            },
        ),
    ];
    for (name, record) in &variants {
        assert_eq!(
            rig.end("a", at(100), Some(record), at(100)).err(),
            Some(ControlError::Refused(Reason::CallIdReused)),
            "{name}"
        );
        assert_eq!(
            rig.book.wallet.balance(),
            d("50"),
            "{name}: nothing charged"
        );
        assert_eq!(rig.book.available(), d("45"), "{name}: the hold stays");
        assert_eq!(rig.book.live().get("a").unwrap().credit, g.credit, "{name}");
    }
    // C37: the same content written differently is the same call.
    let written = CallRecord {
        organizer: SUB.to_uppercase(),
        destination_number: AE_NUM.replace(' ', "-"),
        ..real.clone()
    };
    let p = rig.end("a", at(100), Some(&written), at(100)).unwrap();
    assert_eq!(amount(&p), d("2.00"));
    assert_eq!(rig.book.available(), d("48.00"));
}

#[test]
fn c27_an_end_report_without_authorization_is_charged_from_its_record() {
    let mut rig = rig("50", 600);
    // (description, record, funding, amount)
    let rows: &[(&str, CallRecord, Funding, &str)] = &[
        (
            "C18 pay-per-minute toll dial-in, 10 minutes at 0.03",
            Leg::In(PPM, FR_TOLL, FR_MOBILE).record("ppm-toll", ts(T), 600),
            Funding::Credits,
            "0.30",
        ),
        (
            "C18 included toll dial-in",
            Leg::In(SUB, FR_TOLL, FR_MOBILE).record("sub-toll", ts(T), 600),
            Funding::Included,
            "0",
        ),
        (
            "C13 C27 never refused for credits: 60 minutes to the UAE",
            Leg::Out(SUB, AE_NUM).record("ae", ts(T), 3600),
            Funding::Credits,
            "60.00",
        ),
    ];
    let mut balance = d("50");
    for (name, record, funding, want) in rows {
        let p = rig
            .end(&record.call_id, record.end, Some(record), record.end)
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(charged(&p).funding, *funding, "{name}");
        assert_eq!(amount(&p), d(want), "{name}");
        balance -= d(want);
        assert_eq!(rig.book.wallet.balance(), balance, "{name}");
    }
    assert_eq!(rig.book.wallet.balance(), d("-10.30"));
    assert_eq!(rig.book.wallet.debt(), d("10.30"));
    // Neither an authorization nor a record: nothing to rate.
    assert_eq!(
        rig.end("nobody", at(60), None, at(60)).err(),
        Some(ControlError::CallNotFound)
    );
    // C38: an end before the start.
    let backwards = Leg::Out(SUB, AE_NUM).record("back", ts(T), 0);
    let backwards = CallRecord {
        end: at(-1),
        ..backwards
    };
    assert_eq!(
        rig.end("back", at(-1), Some(&backwards), at(0)).err(),
        Some(ControlError::Refused(Reason::InvalidRecord))
    );
    // A refused record is refused, not charged.
    let refused = Leg::Out(DISABLED, FR_FIXED).record("disabled", ts(T), 60);
    let p = rig
        .end("disabled", refused.end, Some(&refused), refused.end)
        .unwrap();
    assert_eq!(p.outcome, Outcome::Refused(Reason::PolicyDisabled));
    assert_eq!(rig.book.wallet.balance(), d("-10.30"));
}

#[test]
fn c27_a_reservation_lapses_at_exactly_its_expiry_and_its_funds_return() {
    let mut rig = rig("50", 600);
    let g = rig.grant(&Leg::Out(SUB, AE_NUM).ask("a", ts(T)), ts(T));
    assert_eq!(g.expires_at, at(360), "grant 300 + grace 60");
    assert_eq!(rig.book.available(), d("45"));
    assert!(
        rig.expire(at(359)).is_empty(),
        "one second before: still live"
    );
    assert_eq!(rig.book.available(), d("45"));
    let changes = rig.expire(at(360));
    assert_eq!(changes.dropped, Vec::<String>::new());
    assert_eq!(changes.put.len(), 1);
    let lapsed = &changes.put[0];
    assert_eq!(
        (
            lapsed.live,
            lapsed.credit,
            lapsed.pool_minutes,
            lapsed.granted_s
        ),
        (false, d("0"), 0, Some(300))
    );
    assert_eq!(rig.book.available(), d("50"), "the funds returned");
    assert!(rig.expire(at(361)).is_empty(), "lapses once");
    // An extension comes too late: the bridge ends the call at its limit.
    match rig.extend("a", Some(300), at(361)).unwrap() {
        Extension::Exhausted(g) => assert_eq!(g.max_duration_s, Some(300)),
        other => panic!("{other:?}"),
    }
    assert_eq!(rig.book.available(), d("50"), "nothing held again");
    // The late end report is still rated and debited in full (C27, C13).
    let p = rig.end_charged("a", at(400), at(500));
    assert_eq!(amount(&p), d("7.00"));
    assert_eq!(rig.book.wallet.balance(), d("43.00"));
    assert!(rig.book.live().is_empty());

    // The lapse happens inside authorize, extend and end too, at `now >= expires_at`.
    let mut rig = rig_fx_pool(600);
    rig.grant(&Leg::Out(SUB, AE_NUM).ask("b", ts(T)), ts(T));
    let c = Leg::Out(SUB, AE_NUM).ask("c", at(360));
    rig.grant(&c, at(360));
    assert!(
        !rig.book.live().get("b").unwrap().live,
        "b lapsed when c was asked"
    );
    assert_eq!(rig.book.available(), d("95"));
}

#[test]
fn c13_c27_a_late_end_after_the_lapse_may_take_the_balance_into_debt() {
    // 3.00 available: a gets 3 minutes, lapses, b takes the same 3.00 again.
    let mut rig = rig("3.00", 600);
    let ga = rig.grant(&Leg::Out(SUB, AE_NUM).ask("a", ts(T)), ts(T));
    assert_eq!((ga.max_duration_s, ga.credit), (Some(180), d("3.00")));
    assert_eq!(
        rig.authorize(&Leg::Out(SUB, AE_NUM).ask("x", at(10)), at(10)),
        Decision::Deny(Reason::InsufficientCredits)
    );
    rig.expire(at(240));
    assert_eq!(rig.book.available(), d("3.00"));
    let gb = rig.grant(&Leg::Out(SUB, AE_NUM).ask("b", at(240)), at(240));
    assert_eq!((gb.max_duration_s, gb.credit), (Some(180), d("3.00")));
    let p = rig.end_charged("b", at(420), at(420));
    assert_eq!(amount(&p), d("3.00"));
    assert!(rig.book.wallet.balance().is_zero());
    // a really lasted 10 minutes: charged in full, the balance goes to -10.00 (C13).
    let p = rig.end_charged("a", at(600), at(700));
    assert_eq!(amount(&p), d("10.00"));
    assert_eq!(charged(&p).balance_after, Some(d("-10.00")));
    assert_eq!(rig.book.wallet.balance(), d("-10.00"));
    assert_eq!(rig.book.wallet.debt(), d("10.00"));
    // A debt is not available.
    assert_eq!(
        rig.authorize(&Leg::Out(PPM, FR_FIXED).ask("c", at(800)), at(800)),
        Decision::Deny(Reason::InsufficientCredits)
    );
    // The next lot pays the debt first (C13).
    rig.fund("50", "2026-03-02T10:00:00Z");
    assert_eq!(rig.book.available(), d("40.00"));
}

#[test]
fn c27_a_lapsed_reservation_is_forgotten_after_its_retention() {
    let retention = LAPSED_RETENTION_DAYS * 24 * 3600;
    let mut rig = rig("50", 600);
    rig.grant(&Leg::Out(SUB, AE_NUM).ask("a", ts(T)), ts(T));
    rig.grant(&Leg::In(SUB, FR_TOLL, FR_MOBILE).ask("free", ts(T)), ts(T));
    rig.expire(at(360));
    assert!(!rig.book.live().get("a").unwrap().live);
    assert!(
        rig.book.live().get("free").unwrap().live,
        "a call that holds nothing lasts a day"
    );
    let day = UNMETERED_HOLD_S as i64;
    assert!(rig.expire(at(day - 1)).is_empty());
    let changes = rig.expire(at(day));
    assert_eq!(changes.put.len(), 1);
    assert!(!rig.book.live().get("free").unwrap().live);
    assert!(rig.expire(at(360 + retention - 1)).is_empty());
    assert!(rig.book.live().contains_key("a"), "remembered for 7 days");
    let changes = rig.expire(at(360 + retention));
    assert_eq!(changes.dropped, vec!["a".to_string()]);
    assert!(changes.put.is_empty());
    assert!(!rig.book.live().contains_key("a"));
    // Forgotten: an end report without its record is not found ...
    assert_eq!(
        rig.end("a", at(3600), None, at(360 + retention)).err(),
        Some(ControlError::CallNotFound)
    );
    // ... but the whole record is still rated and debited.
    let record = Leg::Out(SUB, AE_NUM).record("a", ts(T), 3600);
    let p = rig
        .end("a", record.end, Some(&record), at(360 + retention))
        .unwrap();
    assert_eq!(amount(&p), d("60.00"));
    assert_eq!(rig.book.wallet.balance(), d("-10.00"));
    // The unmetered call ends after its lapse, still rated (included: 0).
    let p = rig.end_charged("free", at(day + 60), at(day + 120));
    assert_eq!(charged(&p).funding, Funding::Included);
    assert_eq!(charged(&p).duration_s, day as u64 + 60);
    // Everything lapsed and retained is forgotten in one sweep far in the future.
    rig.grant(&Leg::Out(SUB, FR_FIXED).ask("late", at(day)), at(day));
    let changes = rig.expire(at(day + 360 + retention));
    assert_eq!(changes.dropped, vec!["late".to_string()]);
    assert!(changes.put.is_empty(), "lapsed and forgotten in one call");
    assert!(rig.book.live().is_empty());
}

// ---------------------------------------------------------------------------------------------
// C28: when a real-time call is charged

#[test]
fn c28_a_real_time_end_debits_lots_usable_at_the_end() {
    // Lot 1 expires 2026-03-02T09:00:00Z; lot 2 is younger.
    let expiry = "2026-03-02T09:00:00Z";
    // (description, seconds from 08:58 to the end, lots drained, forfeited)
    let rows: &[(&str, i64, u64, &str)] = &[
        (
            "ends one second before lot 1 expires: lot 1 pays",
            119,
            1,
            "0",
        ),
        (
            "ends at lot 1's expiry: lot 1 is no longer usable",
            120,
            2,
            "100",
        ),
        (
            "ends after: lot 1 forfeited first, lot 2 pays",
            240,
            2,
            "100",
        ),
    ];
    for (name, seconds, lot, forfeited) in rows {
        let mut rig = Rig::new(std_fx());
        rig.fund("100", "2025-03-02T09:00:00Z");
        rig.fund("50", "2025-06-01T00:00:00Z");
        assert_eq!(
            rig.book.wallet.lots().next().unwrap().expires_at,
            ts(expiry),
            "{name}"
        );
        let start = plus(ts(expiry), -120);
        let call = Leg::Out(SUB, AE_NUM).ask("a", start);
        let g = rig.grant(&call, start);
        assert_eq!(g.max_duration_s, Some(300), "{name}");
        assert_eq!(
            rig.book.available(),
            d("145"),
            "{name}: lot 1 usable at 08:58"
        );
        // In bulk the same call would be dated at its start and drained from lot 1 (under
        // another id: the live call's id belongs to call control, C27).
        let record = Leg::Out(SUB, AE_NUM).record("a-bulk", start, *seconds as u64);
        let mut bulk = rig.book.clone();
        let mut rater = Rater::new(countries(), control_card());
        let b = bulk.process_call(&mut rater, &record, Mode::Bulk);
        assert_eq!(charged(&b).lots[0].0, 1, "{name}: bulk");

        let end = plus(start, *seconds);
        let p = rig.end("a", end, None, end).unwrap();
        let c = charged(&p);
        let want = cost(AE_OUT, *seconds as u64);
        assert_eq!(c.lots, vec![(*lot, want)], "{name}: lots drained");
        let forfeits: Decimal = p
            .effects
            .entries
            .iter()
            .filter(|e| e.kind == EntryKind::Forfeit)
            .map(|e| e.amount)
            .sum();
        assert_eq!(forfeits, d(forfeited), "{name}: forfeited at the end");
        if !forfeits.is_zero() {
            let kinds: Vec<EntryKind> = p.effects.entries.iter().map(|e| e.kind).collect();
            assert_eq!(
                kinds,
                vec![EntryKind::Forfeit, EntryKind::Debit],
                "{name}: the forfeit comes first"
            );
        }
        let balance = d("150") - d(forfeited) - want;
        assert_eq!(rig.book.wallet.balance(), balance, "{name}");
    }
}

#[test]
fn c21_c25_held_pool_minutes_follow_a_change_of_the_tenant_time_zone() {
    // Feb 1 00:01 JST is still January in UTC: once the tenant moves to UTC, the minutes c
    // holds count against January, and its end returns them there; nobody recounts.
    let fx = TenantFx::new("tokyo", "FR", "EUR")
        .tz("Asia/Tokyo")
        .purchase(Sku::Subscription, 1)
        .purchase(Sku::Credits, 1)
        .wallet()
        .user(SUB, &[Sku::Subscription, Sku::Credits]);
    let mut rig = Rig::new(fx);
    rig.fund("100", FUNDED_AT);
    let c_start = ts("2026-01-31T15:01:00Z");
    let gc = rig.grant(&Leg::Out(SUB, FR_FIXED).ask("c", c_start), c_start);
    assert_eq!((gc.funding, gc.pool_minutes), (Funding::Pool, 5));
    assert_eq!(rig.book.pool_held(month(2026, 2)), 5);

    rig.book.tenant.timezone = jiff::tz::TimeZone::UTC;
    rig.book.tenant.timezone_name = "UTC".into();
    assert_eq!(rig.book.pool_held(month(2026, 2)), 0);
    assert_eq!(rig.book.pool_held(month(2026, 1)), 5);
    assert_eq!(rig.book.pool_remaining(c_start), 55);
    rig.check("after the move to UTC");

    let p = rig.end_charged("c", plus(c_start, 180), plus(c_start, 180));
    assert_eq!(
        (charged(&p).funding, charged(&p).pool_minutes),
        (Funding::Pool, 3)
    );
    assert_eq!(
        pool_used(&rig.book, 2026, 1),
        3,
        "counted in January, in UTC"
    );
    assert_eq!(rig.book.live().holds().pool_minutes(), 0);
}

#[test]
fn c21_c28_the_pool_month_of_a_real_time_call_is_its_start_month() {
    // Asia/Tokyo (UTC+9): 2026-01-31T15:00:00Z is February 1 00:00 JST. A 60-minute pool.
    let fx = TenantFx::new("tokyo", "FR", "EUR")
        .tz("Asia/Tokyo")
        .purchase(Sku::Subscription, 1)
        .purchase(Sku::PayPerMinute, 1)
        .purchase(Sku::Credits, 1)
        .wallet()
        .user(SUB, &[Sku::Subscription, Sku::Credits])
        .user(PPM, &[Sku::PayPerMinute]);
    let mut rig = Rig::new(fx);
    rig.fund("100", FUNDED_AT);
    // 55 of January's 60 minutes are used.
    let p = rig.book.process_call(
        &mut rig.rater,
        &Leg::Out(SUB, FR_FIXED).record("jan", ts("2026-01-10T00:00:00Z"), 55 * 60),
        Mode::Bulk,
    );
    rig.journal.absorb(&p.effects);
    assert_eq!(pool_used(&rig.book, 2026, 1), 55);

    // Jan 31 23:58 JST: the last 5 January minutes are held.
    let a_start = ts("2026-01-31T14:58:00Z");
    let ga = rig.grant(&Leg::Out(SUB, FR_FIXED).ask("a", a_start), a_start);
    assert_eq!(
        (ga.max_duration_s, ga.funding, ga.pool_minutes),
        (Some(300), Funding::Pool, 5)
    );
    assert_eq!(rig.book.pool_held(month(2026, 1)), 5);
    // Jan 31 23:59 JST: January's pool is all held: an ordinary credit call.
    let b_start = ts("2026-01-31T14:59:00Z");
    let gb = rig.grant(&Leg::Out(SUB, FR_FIXED).ask("b", b_start), b_start);
    assert_eq!(
        (gb.funding, gb.credit, gb.pool_minutes),
        (Funding::Credits, d("3.00"), 0)
    );
    // Feb 1 00:01 JST: February's pool is whole.
    let c_start = ts("2026-01-31T15:01:00Z");
    let gc = rig.grant(&Leg::Out(SUB, FR_FIXED).ask("c", c_start), c_start);
    assert_eq!((gc.funding, gc.pool_minutes), (Funding::Pool, 5));
    assert_eq!(rig.book.pool_held(month(2026, 2)), 5);
    assert_eq!(rig.book.pool_remaining(c_start), 55);

    // a ends on Feb 1 00:03:30 JST after 330 s: January's 5 minutes and 30 s of credit.
    let a_end = plus(a_start, 330);
    let p = rig.end_charged("a", a_end, a_end);
    let c = charged(&p);
    assert_eq!(
        (c.funding, c.capability, c.pool_minutes, c.amount),
        (Funding::PoolAndCredits, Sku::Subscription, 5, d("0.30"))
    );
    assert_eq!(pool_used(&rig.book, 2026, 1), 60, "counted in January");
    assert_eq!(pool_used(&rig.book, 2026, 2), 0, "not in February");
    assert_eq!(
        rig.book.pool_remaining(c_start),
        55,
        "February keeps c's hold only"
    );
    // The debit is dated at the end (C28), in February, the pool month is still January.
    let debit = p
        .effects
        .entries
        .iter()
        .find(|e| e.kind == EntryKind::Debit)
        .unwrap();
    assert_eq!(debit.at, a_end);
    assert_eq!(rig.book.month_of(a_end), month(2026, 2));

    // b ends in February too, and is still an ordinary credit call (January is spent).
    let p = rig.end_charged("b", plus(b_start, 290), plus(b_start, 290));
    assert_eq!(
        (charged(&p).funding, charged(&p).amount),
        (Funding::Credits, d("2.90"))
    );
    let p = rig.end_charged("c", plus(c_start, 180), plus(c_start, 180));
    assert_eq!(
        (charged(&p).funding, charged(&p).pool_minutes),
        (Funding::Pool, 3)
    );
    assert_eq!(pool_used(&rig.book, 2026, 2), 3);
    assert!(rig.book.live().holds().pool_minutes() == 0);
}

// ---------------------------------------------------------------------------------------------
// Pool holds

/// (id, organizer, destination, max_duration_s, funding, credit, pool minutes, pool left after)
type PoolAsk = (
    &'static str,
    &'static str,
    &'static str,
    Option<u64>,
    Funding,
    &'static str,
    u32,
    u32,
);

#[test]
fn c25_c32_two_live_calls_never_hold_the_same_pool_minutes() {
    // 7 minutes left in March, 100 of credit.
    let mut rig = rig("100", 7);
    let asks: &[PoolAsk] = &[
        ("a", SUB, FR_FIXED, Some(300), Funding::Pool, "0", 5, 2),
        // Only 2 minutes are left to b: it lacks MCOPSTNPP, so it is limited to them.
        ("b", BARE, FR_FIXED, Some(120), Funding::Pool, "0", 2, 0),
        // The pool is all held: an ordinary credit call at the rate (connection fee too).
        (
            "c",
            SUB,
            FR_FIXED,
            Some(300),
            Funding::Credits,
            "3.00",
            0,
            0,
        ),
        ("d", SUB, GB_NUM, Some(300), Funding::Credits, "0.15", 0, 0),
    ];
    for (id, organizer, destination, max, funding, credit, pool, left) in asks {
        let g = rig.grant(&Leg::Out(organizer, destination).ask(id, ts(T)), ts(T));
        assert_eq!(
            (g.max_duration_s, g.funding, g.credit, g.pool_minutes),
            (*max, *funding, d(credit), *pool),
            "{id}"
        );
        assert_eq!(rig.book.pool_remaining(ts(T)), *left, "{id}");
    }
    // Without MCOPSTNPP and no pool left: refused.
    assert_eq!(
        rig.authorize(&Leg::Out(BARE, FR_FIXED).ask("e", ts(T)), ts(T)),
        Decision::Deny(Reason::CreditsLicenseMissing)
    );
    // a ends after one minute: 4 minutes come back.
    let p = rig.end_charged("a", at(60), at(60));
    assert_eq!(
        (charged(&p).funding, charged(&p).pool_minutes),
        (Funding::Pool, 1)
    );
    assert_eq!(rig.book.pool_remaining(ts(T)), 4);
    // f gets the 4 minutes and credit for the fifth.
    let g = rig.grant(&Leg::Out(SUB, FR_FIXED).ask("f", at(60)), at(60));
    assert_eq!(
        (g.max_duration_s, g.funding, g.credit, g.pool_minutes),
        (Some(300), Funding::PoolAndCredits, d("0.60"), 4)
    );
    // b ends within its grant; c ends with no pool left to it (f holds it): credits.
    let p = rig.end_charged("b", at(120), at(120));
    assert_eq!(charged(&p).pool_minutes, 2);
    let p = rig.end_charged("c", at(200), at(200));
    assert_eq!(
        (charged(&p).funding, amount(&p)),
        (Funding::Credits, d("2.00"))
    );
    let p = rig.end_charged("d", at(300), at(300));
    assert_eq!(amount(&p), d("0.15"));
    let p = rig.end_charged("f", at(360), at(360));
    assert_eq!(
        (charged(&p).funding, charged(&p).pool_minutes, amount(&p)),
        (Funding::PoolAndCredits, 4, d("0.60"))
    );
    assert_eq!(pool_used(&rig.book, 2026, 3), 600);
    assert_eq!(rig.book.wallet.balance(), d("97.25"));
    assert!(rig.book.live().holds().pool_minutes() == 0);
}

#[test]
fn c25_c32_the_pool_hold_lapses_and_the_minutes_return() {
    let mut rig = rig("0", 5);
    rig.grant(&Leg::Out(BARE, FR_FIXED).ask("a", ts(T)), ts(T));
    assert_eq!(rig.book.pool_remaining(ts(T)), 0);
    assert_eq!(
        rig.authorize(&Leg::Out(BARE, FR_FIXED).ask("b", at(10)), at(10)),
        Decision::Deny(Reason::CreditsLicenseMissing)
    );
    rig.expire(at(360));
    assert_eq!(rig.book.pool_remaining(ts(T)), 5);
    let g = rig.grant(&Leg::Out(BARE, FR_FIXED).ask("c", at(360)), at(360));
    assert_eq!(g.pool_minutes, 5);
    rig.end_charged("c", at(660), at(660));
    // a's late report finds the pool spent: the credit part cannot be funded (C32).
    let p = rig.end("a", at(300), None, at(700)).unwrap();
    assert_eq!(p.outcome, Outcome::Refused(Reason::CreditsLicenseMissing));
    assert_eq!(pool_used(&rig.book, 2026, 3), 600);
}

// ---------------------------------------------------------------------------------------------
// C25 to C27 under random live traffic

/// Legs of the random traffic, with the tariff of the credit-only ones.
const TRAFFIC: &[(Leg, Option<Tariff>)] = &[
    (Leg::Out(SUB, AE_NUM), Some(AE_OUT)),
    (Leg::Out(SUB, JM_NUM), Some(JM_OUT)),
    (Leg::Out(PPM, FR_FIXED), Some(FR_OUT)),
    (Leg::In(PPM, FR_TOLL, FR_MOBILE), Some(FR_TOLL_IN)),
    (Leg::In(SUB, FR_TOLL_FREE, FR_MOBILE), Some(FR_TOLL_FREE_IN)),
    (Leg::Out(SUB, FR_FIXED), None),
    (Leg::Out(BARE, FR_FIXED), None),
    (Leg::Out(ADDON, US_NUM), None),
    (Leg::In(SUB, FR_TOLL, FR_MOBILE), None),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    Ask,
    Extend,
    End,
}

struct Live {
    call: CallRecord,
    leg: Leg,
    tariff: Option<Tariff>,
    /// Seconds from `T` to its start.
    start_s: i64,
    /// How long the call would last if never cut.
    wants_s: u64,
    /// The grant the bridge knows.
    grant: Option<u64>,
}

#[test]
fn c25_c26_c27_random_live_traffic_never_spends_the_same_credit_twice() {
    let mut rng = Prng(0x7AFF1C);
    // How often each kind of answer came up, so that the traffic is known to exercise them.
    let mut seen: BTreeMap<&str, u32> = BTreeMap::new();
    for round in 0..60 {
        let window = rng.pick(&[60u64, 120, 300]);
        let policy = ControlPolicy {
            window_s: window,
            grace_s: 60,
        };
        let mut rig = Rig::with_policy(std_fx(), policy);
        let cents = rng.range(0, 3000) as i64;
        let available = Decimal::new(cents, 2);
        rig.set_available(&available.to_string());
        rig.set_pool_left(rng.range(0, 25) as u32);
        let start_balance = rig.book.wallet.balance();
        let start_pool = pool_used(&rig.book, 2026, 3);
        // The largest first block of any leg: the most a grant may overdraw (C13, C14).
        let max_block = d("1.00");

        let mut calls: Vec<Live> = Vec::new();
        let mut queue: BTreeSet<(i64, u64, Step, usize)> = BTreeSet::new();
        let mut seq = 0u64;
        for i in 0..rng.range(5, 30) as usize {
            let (leg, tariff) = rng.pick(TRAFFIC);
            let start = rng.range(0, 900) as i64;
            calls.push(Live {
                call: leg.ask(&format!("r{round}-{i}"), at(start)),
                leg,
                tariff,
                start_s: start,
                wants_s: rng.range(0, 1500),
                grant: None,
            });
            seq += 1;
            queue.insert((start, seq, Step::Ask, i));
        }
        let mut total = Decimal::ZERO;
        let mut pool_total = 0u32;
        while let Some((now_s, _, step, i)) = queue.pop_first() {
            let now = at(now_s);
            let name = format!("round {round}, {:?} of call {i} at {now_s}", step);
            let start_s = calls[i].start_s;
            let next = |grant: Option<u64>, grew: bool, live: &Live| -> (i64, Step) {
                match grant {
                    None => (start_s + live.wants_s as i64, Step::End),
                    Some(g) if live.wants_s <= g => (start_s + live.wants_s as i64, Step::End),
                    // Extend a second before the grant runs out, or end at the limit.
                    Some(g) if grew => (start_s + g as i64 - 1, Step::Extend),
                    Some(g) => (start_s + g as i64, Step::End),
                }
            };
            match step {
                Step::Ask => {
                    let before = rig.book.available();
                    let pool_before = rig.book.pool_remaining(now);
                    let call = calls[i].call.clone();
                    match rig.authorize(&call, now) {
                        Decision::Allow(g) => {
                            *seen.entry(g.funding.as_str()).or_default() += 1;
                            if g.max_duration_s.is_some_and(|s| s < window) {
                                *seen.entry("partial grant").or_default() += 1;
                            }
                            if before <= Decimal::ZERO && g.pool_minutes > 0 {
                                *seen.entry("pool grant without credit").or_default() += 1;
                            }
                            let needs_credit = !g.credit.is_zero();
                            if needs_credit {
                                assert!(before > Decimal::ZERO, "{name}: C14");
                            }
                            if let (Some(t), Some(s)) = (calls[i].tariff, g.max_duration_s) {
                                // The longest the available credit covers, at least a block.
                                let limit = before.max(cost(t, 1));
                                assert_eq!(g.credit, cost(t, s), "{name}: held = cost");
                                assert!(g.credit <= limit, "{name}: {g:?} over {limit}");
                                assert!(
                                    s == window || cost(t, s + 1) > limit,
                                    "{name}: {g:?} is not the longest under {limit}"
                                );
                                assert_eq!(s == window, cost(t, window) <= limit, "{name}");
                            }
                            assert!(g.pool_minutes <= pool_before, "{name}: pool");
                            calls[i].grant = g.max_duration_s;
                            let (when, what) = next(g.max_duration_s, true, &calls[i]);
                            seq += 1;
                            queue.insert((when, seq, what, i));
                        }
                        Decision::Deny(reason) => {
                            *seen.entry(reason.code()).or_default() += 1;
                            assert!(
                                matches!(
                                    reason,
                                    Reason::InsufficientCredits | Reason::CreditsLicenseMissing
                                ),
                                "{name}: {reason}"
                            );
                            if reason == Reason::InsufficientCredits {
                                assert!(before <= Decimal::ZERO, "{name}: C14");
                            } else {
                                assert!(matches!(calls[i].leg, Leg::Out(BARE, _)), "{name}");
                                assert_eq!(pool_before, 0, "{name}");
                            }
                        }
                    }
                }
                Step::Extend => {
                    let id = calls[i].call.call_id.clone();
                    let known = calls[i].grant;
                    let before = rig.book.available();
                    let held = rig.book.live().get(&id).unwrap().credit;
                    let answer = rig.extend(&id, known, now).expect("live");
                    let kind = match &answer {
                        Extension::Extended(_) => "extended",
                        Extension::Exhausted(_) => "exhausted",
                        Extension::Stopped(..) => panic!("{name}: the guard is off"),
                    };
                    *seen.entry(kind).or_default() += 1;
                    let (grant, grew) = match answer {
                        Extension::Extended(g) => {
                            assert!(!g.replay, "{name}");
                            assert!(g.max_duration_s > known, "{name}: grew");
                            (g, true)
                        }
                        Extension::Exhausted(g) => {
                            assert_eq!(g.max_duration_s, known, "{name}");
                            (g, false)
                        }
                        Extension::Stopped(..) => unreachable!("the guard is off"),
                    };
                    assert!(
                        grant.credit - held <= before.max(Decimal::ZERO),
                        "{name}: an extension takes only what is available"
                    );
                    if let (Some(t), Some(s)) = (calls[i].tariff, grant.max_duration_s) {
                        assert_eq!(grant.credit, cost(t, s), "{name}");
                    }
                    calls[i].grant = grant.max_duration_s;
                    let (when, what) = next(grant.max_duration_s, grew, &calls[i]);
                    seq += 1;
                    queue.insert((when, seq, what, i));
                }
                Step::End => {
                    let id = calls[i].call.call_id.clone();
                    let held = rig.book.live().get(&id).unwrap().credit;
                    let p = rig.end_charged(&id, now, now);
                    let c = charged(&p);
                    let seconds = (now_s - start_s) as u64;
                    assert_eq!(c.duration_s, seconds, "{name}");
                    assert!(
                        calls[i].grant.is_none_or(|g| seconds <= g),
                        "{name}: cut at the limit"
                    );
                    if let Some(t) = calls[i].tariff {
                        assert_eq!(c.amount, cost(t, seconds), "{name}");
                        assert!(c.amount <= held, "{name}: within the hold");
                    }
                    total += c.amount;
                    pool_total += c.pool_minutes;
                    if calls[i].grant == Some(seconds) {
                        *seen.entry("ended at the limit").or_default() += 1;
                    }
                }
            }
            assert!(
                rig.book.available() > -max_block,
                "{name}: available {} overdrawn by more than a block",
                rig.book.available()
            );
        }
        let name = format!("round {round}");
        assert!(rig.book.live().is_empty(), "{name}");
        assert_eq!(
            rig.book.wallet.balance(),
            start_balance - total,
            "{name}: each call debited exactly once"
        );
        assert_eq!(
            pool_used(&rig.book, 2026, 3),
            start_pool + pool_total,
            "{name}"
        );
        assert!(pool_used(&rig.book, 2026, 3) <= 600, "{name}");
        assert!(
            rig.book.wallet.balance() > -max_block,
            "{name}: the balance goes below zero by at most one block"
        );
        if rig.book.wallet.balance() < Decimal::ZERO {
            *seen.entry("ended in debt").or_default() += 1;
        }
    }
    for kind in [
        "included",
        "add_on",
        "pool",
        "pool_and_credits",
        "credits",
        "partial grant",
        "pool grant without credit",
        "insufficient_credits",
        "credits_license_missing",
        "extended",
        "exhausted",
        "ended at the limit",
        "ended in debt",
    ] {
        assert!(
            seen.contains_key(kind),
            "the traffic never gave {kind}: {seen:?}"
        );
    }
}

#[test]
fn c23_c27_a_bulk_record_with_a_live_calls_id_is_refused_and_the_end_charges_the_call() {
    let card = std_card();
    let mut rater = Rater::new(countries(), &card);
    let mut book = std_fx().book();
    fund(&mut book, "100", "2026-01-01T00:00:00Z");
    let start = ts("2026-03-02T09:00:00Z");
    let policy = ControlPolicy::default();
    let ask = CallRecord {
        end: start,
        ..dial_out("live", PPM, FR_FIXED, "2026-03-02T09:00:00Z", 0)
    };
    let (decision, _, _) = book.authorize(&mut rater, &ask, start, &policy);
    assert!(matches!(decision, Decision::Allow(_)), "{decision:?}");
    let held = book.available();
    let balance = book.wallet.balance();

    // The same call as a bulk record (120 s) while it is live: refused, nothing changes.
    let record = dial_out("live", PPM, FR_FIXED, "2026-03-02T09:00:00Z", 120);
    let p = book.process_call(&mut rater, &record, Mode::Bulk);
    assert_eq!(p.outcome, Outcome::Refused(Reason::CallIdReused));
    assert!(!p.replay);
    assert!(p.effects.entries.is_empty() && p.effects.events.is_empty());
    assert_eq!(
        (book.wallet.balance(), book.available()),
        (balance, held),
        "the refused record changes nothing"
    );
    assert!(
        !book.seen.contains_key("live"),
        "the id stays with call control"
    );

    // The bridge's end is the call's one charge (C27).
    let end = plus(start, 60);
    let (result, _) = book.end(&mut rater, "live", end, None, end);
    let p = result.expect("the authorized call ends");
    assert!(!p.replay);
    let c = charged(&p);
    assert_eq!(c.duration_s, 60);
    assert!(c.amount > Decimal::ZERO);
    assert_eq!(book.wallet.balance(), balance - c.amount);

    // Once ended, the bulk record is an ordinary second submission with other content (C23).
    let p = book.process_call(&mut rater, &record, Mode::Bulk);
    assert_eq!(p.outcome, Outcome::Refused(Reason::CallIdReused));
    assert_eq!(book.wallet.balance(), balance - c.amount);
}

// ---------------------------------------------------------------------------------------------
// The answer: ring time is not charged and does not use the grant (C25, C27)

#[test]
fn c25_c27_an_answer_rebases_the_hold_and_ring_time_is_not_charged() {
    // UAE at 1.00 per minute by the minute, 300 s windows, 60 s grace.
    let mut rig = rig("100", 600);
    let call = Leg::Out(SUB, AE_NUM).ask("a", ts(T));
    let g = rig.grant(&call, ts(T));
    assert_eq!((g.max_duration_s, g.expires_at), (Some(300), at(360)));
    // Answered after 20 s of ringing: the same grant, counted from the answer.
    let (answered, events) = rig.answer("a", at(20), at(20));
    let a = answered.expect("answered");
    assert_eq!(
        (a.max_duration_s, a.credit, a.pool_minutes, a.funding),
        (g.max_duration_s, g.credit, g.pool_minutes, g.funding),
        "C25: the grant and what it holds are unchanged"
    );
    assert_eq!(
        a.expires_at,
        at(20 + 300 + 60),
        "C27: lapses from the answer"
    );
    assert_eq!((a.ends_at, a.remaining_s), (Some(at(320)), Some(300)));
    assert!(!a.replay && !a.last_window && events.is_empty());
    let r = rig.book.live().get("a").expect("live");
    assert_eq!((r.call.start, r.authorized_at), (at(20), Some(ts(T))));
    // The hold does not lapse at the authorization's instant plus grant plus grace...
    assert!(
        rig.expire(at(379)).is_empty(),
        "C27: not before answer+granted+grace"
    );
    assert!(rig.book.live().get("a").is_some_and(|r| r.live));
    // ...and an authorization repeated after the answer is the same call (C23), not a reuse.
    match rig.authorize(&call, at(30)) {
        Decision::Allow(again) => {
            assert!(again.replay, "a replay");
            assert_eq!(again.expires_at, at(380), "the current, re-based grant");
        }
        other => panic!("C23: a repeated authorization after the answer: {other:?}"),
    }
    // Ended 60 s after the answer: 60 s are charged (1.00), not the 80 s since the
    // authorization (2.00), and the record starts at the answer.
    let (result, changes) = rig.book.end_call(&mut rig.rater, "a", at(80), None, at(80));
    let (record, p) = result.expect("ended");
    rig.journal.absorb(&p.effects);
    rig.apply(changes, "a");
    let record = record.expect("a first end");
    assert_eq!((record.start, record.end), (at(20), at(80)));
    let c = charged(&p);
    assert_eq!(
        (c.duration_s, c.amount),
        (60, d("1.00")),
        "C27: ring time is free"
    );
}

#[test]
fn c25_c27_an_answered_hold_lapses_at_answer_plus_grant_plus_grace() {
    let mut rig = rig("100", 600);
    rig.grant(&Leg::Out(SUB, AE_NUM).ask("a", ts(T)), ts(T));
    rig.answer("a", at(20), at(20)).0.expect("answered");
    assert!(rig.expire(at(379)).is_empty());
    let lapsed = rig.expire(at(380));
    assert_eq!(
        lapsed.put.len(),
        1,
        "C27: lapses exactly at answer+granted+grace"
    );
    assert!(!rig.book.live().get("a").expect("remembered").live);
    assert_eq!(rig.book.available(), d("100"), "C27: its funds return");
    assert_eq!(
        rig.answer("a", at(20), at(381)).0,
        Err(ControlError::CallLapsed)
    );
}

#[test]
fn c25_an_answer_is_checked_and_repeated_answers_are_replays() {
    let mut rig = rig("100", 600);
    rig.grant(&Leg::Out(SUB, AE_NUM).ask("a", ts(T)), ts(T));
    let range = ControlError::AnsweredAtOutOfRange {
        earliest: ts(T),
        latest: at(15),
    };
    assert_eq!(
        rig.answer("a", at(-1), at(10)).0,
        Err(range),
        "before the start"
    );
    assert_eq!(
        rig.answer("a", at(16), at(10)).0,
        Err(range),
        "after now + 5 s"
    );
    let first = rig
        .answer("a", at(15), at(10))
        .0
        .expect("a few seconds ahead");
    let again = rig.answer("a", at(15), at(12)).0.expect("the same instant");
    assert!(again.replay, "C23: the same answer again is a replay");
    assert_eq!(
        (again.max_duration_s, again.expires_at, again.credit),
        (first.max_duration_s, first.expires_at, first.credit)
    );
    assert_eq!(
        rig.answer("a", at(14), at(12)).0,
        Err(ControlError::CallAlreadyAnswered {
            answered_at: at(15)
        })
    );
    assert_eq!(
        rig.answer("nobody", at(1), at(12)).0,
        Err(ControlError::CallNotFound)
    );
    rig.end_charged("a", at(60), at(60));
    assert_eq!(
        rig.answer("a", at(15), at(61)).0,
        Err(ControlError::CallAlreadyEnded)
    );
}

#[test]
fn c27_an_end_that_names_the_answer_excludes_ring_time() {
    let mut rig = rig("100", 600);
    rig.grant(&Leg::Out(SUB, AE_NUM).ask("a", ts(T)), ts(T));
    let (result, changes) =
        rig.book
            .end_answered(&mut rig.rater, "a", (at(80), Some(at(20))), None, at(80));
    let (record, p) = result.expect("ended");
    rig.journal.absorb(&p.effects);
    rig.apply(changes, "a");
    assert_eq!(record.expect("first").start, at(20));
    assert_eq!(amount(&p), d("1.00"), "C27: 60 s from the answer, not 80");
    // An answer before the authorized start is refused, and changes nothing.
    rig.grant(&Leg::Out(SUB, AE_NUM).ask("b", at(100)), at(100));
    let (result, _) =
        rig.book
            .end_answered(&mut rig.rater, "b", (at(200), Some(at(99))), None, at(200));
    assert!(matches!(
        result,
        Err(ControlError::AnsweredAtOutOfRange { .. })
    ));
    assert!(rig.book.live().get("b").is_some());
}

// ---------------------------------------------------------------------------------------------
// The warning before the cut (C26)

/// The `call.last_window` events among `events`, as (call id, max_duration_s, remaining_s).
fn warnings(events: &[Event]) -> Vec<(String, u64, u64)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::CallLastWindow {
                call_id,
                max_duration_s,
                remaining_s,
                ..
            } => Some((call_id.clone(), *max_duration_s, *remaining_s)),
            _ => None,
        })
        .collect()
}

#[test]
fn c26_the_last_window_is_flagged_and_warned_of_once() {
    // 13.00 available, UAE at 1.00 per minute: 300 s, then 600 s, then 780 s, then nothing.
    let mut rig = rig("13", 600);
    let call = Leg::Out(SUB, AE_NUM).ask("a", ts(T));
    let g = rig.grant(&call, ts(T));
    assert!(!g.last_window, "C26: 8.00 left for another window");
    assert_eq!(g.remaining_s, Some(300));
    let (e, events) = rig.extend_events("a", Some(300), at(290));
    let Ok(Extension::Extended(g)) = e else {
        panic!("{e:?}")
    };
    assert_eq!((g.max_duration_s, g.remaining_s), (Some(600), Some(310)));
    assert!(
        !g.last_window && events.is_empty(),
        "C26: a full window, 3.00 left"
    );
    // Grown by 180 s only: the last window, warned of once.
    let (e, events) = rig.extend_events("a", Some(600), at(590));
    let Ok(Extension::Extended(g)) = e else {
        panic!("{e:?}")
    };
    assert_eq!((g.max_duration_s, g.remaining_s), (Some(780), Some(190)));
    assert!(g.last_window, "C26: less than a full window");
    assert_eq!(warnings(&events), [("a".to_string(), 780, 190)]);
    // Exhausted: still the last window, and no second warning.
    let (e, events) = rig.extend_events("a", Some(780), at(770));
    let Ok(Extension::Exhausted(g)) = e else {
        panic!("{e:?}")
    };
    assert_eq!((g.last_window, g.remaining_s), (true, Some(10)));
    assert!(warnings(&events).is_empty(), "C26: warned once");
    let (e, _) = rig.extend_events("a", Some(780), at(790));
    let Ok(Extension::Exhausted(g)) = e else {
        panic!("{e:?}")
    };
    assert_eq!(g.remaining_s, Some(0), "saturates at 0 past the end");
}

#[test]
fn c26_an_authorization_can_be_the_last_window_at_once() {
    // 5.00 available: exactly one window, after which nothing is available.
    let mut rig = rig("5", 600);
    let effects_of = |rig: &mut Rig, call: &CallRecord| {
        let policy = rig.policy;
        let (decision, effects, changes) = rig.book.authorize(&mut rig.rater, call, ts(T), &policy);
        rig.journal.absorb(&effects);
        rig.apply(changes, &call.call_id);
        (decision, effects.events)
    };
    let (decision, events) = effects_of(&mut rig, &Leg::Out(SUB, AE_NUM).ask("a", ts(T)));
    let Decision::Allow(g) = decision else {
        panic!("{decision:?}")
    };
    assert_eq!(g.max_duration_s, Some(300));
    assert!(g.last_window, "C26: nothing is left for another window");
    assert_eq!(warnings(&events), [("a".to_string(), 300, 300)]);
    // A call that is never cut has no last window and no end.
    let (decision, events) =
        effects_of(&mut rig, &Leg::In(SUB, FR_TOLL, FR_MOBILE).ask("in", ts(T)));
    let Decision::Allow(g) = decision else {
        panic!("{decision:?}")
    };
    assert_eq!(
        (g.last_window, g.remaining_s, g.ends_at),
        (false, None, None)
    );
    assert!(warnings(&events).is_empty());
}
