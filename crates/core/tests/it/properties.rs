//! Properties over random histories: the ledger invariant (C24) after every step of any sequence
//! of fundings, calls (bulk and real time, auto-recharge on) and time advances across lot
//! expiries; cost monotone in duration (C6, C7); resubmission changes nothing (C23).

use crate::common;

use common::*;
use jiff::Timestamp;
use minutely_core::catalogue::{RateEntry, RateKey, RateKind};
use minutely_core::directory::{AmountRules, AutoRecharge, NumberKind, Sku};
use minutely_core::engine::{Mode, Processed, TenantBook};
use minutely_core::ledger::{WalletSnapshot, recompute};
use minutely_core::rating::{CallRecord, Rater};
use proptest::prelude::*;
use rust_decimal::Decimal;

/// Varied increments, sub-cent rates, connection fees, a premium prefix, a missing rate (IT).
///
/// These are the rows that differ from the standard card; `*_STD_KEYS` names the others.
const PROP_OWN_ROWS: &[Row] = &[
    (
        "dial_out", "+33", "", "France", "FR", false, "0.0043", "0.01", 1, 1, CARD_FROM,
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
        30,
        6,
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
        "0.05",
        60,
        60,
        CARD_FROM,
    ),
    (
        "dial_out", "+49", "", "Germany", "DE", false, "0.0175", "0.10", 30, 6, CARD_FROM,
    ),
    (
        "dial_out", "+971", "", "UAE", "AE", false, "0.3000", "0", 60, 60, CARD_FROM,
    ),
    (
        "dial_out",
        "+1",
        "",
        "US and Canada",
        "US",
        false,
        "0.0100",
        "0",
        60,
        60,
        CARD_FROM,
    ),
    (
        "dial_out", "+1876", "", "Jamaica", "JM", false, "0.2000", "0", 1, 1, CARD_FROM,
    ),
    (
        "dial_in_toll_free",
        "US",
        "CA",
        "US toll-free from CA",
        "US",
        false,
        "0.0400",
        "0",
        30,
        6,
        CARD_FROM,
    ),
];

/// The rows this card takes unchanged from the standard card, by kind, key and origin.
const PROP_STD_KEYS: &[(&str, &str, &str)] = &[
    ("dial_out", "+1900", ""),
    ("dial_in_toll", "FR", ""),
    ("dial_in_toll_free", "FR", "*"),
    ("dial_in_toll_free", "US", "*"),
];

fn prop_rows() -> Vec<Row> {
    std_rows(PROP_STD_KEYS, PROP_OWN_ROWS)
}

/// (dial-out destination) or (dial-in service number, caller).
const LEGS: &[(bool, &str, &str)] = &[
    (false, FR_FIXED, ""),
    (false, FR_MOBILE, ""),
    (false, GB_NUM, ""),
    (false, DE_NUM, ""),
    (false, AE_NUM, ""),
    (false, US_NUM, ""),
    (false, CA_NUM, ""),
    (false, US_PREMIUM, ""),
    (false, JM_NUM, ""),
    (false, IT_NUM, ""),
    (true, FR_TOLL, FR_MOBILE),
    (true, FR_TOLL_FREE, GB_NUM),
    (true, US_TOLL_FREE, CA_NUM),
    (true, US_TOLL_FREE, ""),
];

const ORGANIZERS: &[&str] = &[SUB, BARE, PPM, PPM_ADDON, DOMESTIC, NOLICENSE];

/// A Paris tenant with a 120-minute pool (2 x MCOMEETADD) and the given auto-recharge.
fn prop_book(recharge: AutoRecharge) -> TenantBook {
    use Sku::*;
    let mut domestic = user_spec(DOMESTIC);
    domestic.policy = Some(policy("DialoutCPCandPSTNDomestic"));
    TenantFx::new("prop", "FR", "EUR")
        .tz("Europe/Paris")
        .purchase(Subscription, 2)
        .purchase(PayPerMinute, 3)
        .purchase(Credits, 1)
        .purchase(DialOutUs, 1)
        .wallet_settings(wallet_with(recharge))
        .user(SUB, &[Subscription, Credits])
        .user(BARE, &[Subscription])
        .user(PPM, &[PayPerMinute])
        .user(PPM_ADDON, &[PayPerMinute, DialOutUs])
        .user_with(domestic, &[PayPerMinute])
        .user(NOLICENSE, &[])
        .number(FR_TOLL, NumberKind::Toll)
        .number(FR_TOLL_FREE, NumberKind::TollFree)
        .number(US_TOLL_FREE, NumberKind::TollFree)
        .book()
}

#[derive(Debug, Clone)]
enum Step {
    /// A manual funding of a whole amount, `gap` seconds after the previous step.
    Fund { amount: u32, gap: u32 },
    /// A call starting `gap` seconds after the previous step.
    Call {
        leg: usize,
        organizer: usize,
        duration: u32,
        gap: u32,
        real_time: bool,
    },
    /// Time passes (lots may expire).
    Advance { days: u32 },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        2 => (50u32..=400, 0u32..=6 * 3_600).prop_map(|(amount, gap)| Step::Fund { amount, gap }),
        6 => (
            0..LEGS.len(),
            // Subscription organizers (the pool's users) half of the time.
            prop_oneof![0..2usize, 2..ORGANIZERS.len()],
            prop_oneof![1 => Just(0u32), 9 => 1u32..=5_400],
            0u32..=6 * 3_600,
            any::<bool>(),
        )
            .prop_map(|(leg, organizer, duration, gap, real_time)| Step::Call { leg, organizer, duration, gap, real_time }),
        1 => (1u32..=400).prop_map(|days| Step::Advance { days }),
    ]
}

fn recharge() -> impl Strategy<Value = AutoRecharge> {
    (
        // Mostly enabled; disabled now and then.
        prop::bool::weighted(0.85),
        50u32..=200,
        50u32..=300,
        prop::bool::weighted(0.8),
    )
        .prop_map(
            |(enabled, trigger, amount, payment_accepted)| AutoRecharge {
                enabled,
                trigger: Decimal::from(trigger),
                amount: Decimal::from(amount),
                payment_accepted,
            },
        )
}

fn call_of(id: usize, leg: usize, organizer: usize, duration: u32, start: Timestamp) -> CallRecord {
    let (dial_in_leg, number, caller) = LEGS[leg];
    let start_text = start.to_string();
    let mut call = if dial_in_leg {
        dial_in(
            &format!("call-{id}"),
            ORGANIZERS[organizer],
            number,
            caller,
            &start_text,
            0,
        )
    } else {
        dial_out(
            &format!("call-{id}"),
            ORGANIZERS[organizer],
            number,
            &start_text,
            0,
        )
    };
    call.end = plus(call.start, i64::from(duration));
    call
}

/// C24 from the journal: the wallet invariant, balance and totals recomputed from every entry,
/// and each entry's balance_after equal to the running balance.
fn check_ledger(book: &TenantBook, journal: &Journal, context: &str) -> Result<(), TestCaseError> {
    book.wallet
        .check_invariant()
        .map_err(|e| TestCaseError::fail(format!("{context}: {e}")))?;
    let (balance, funded, debited, forfeited) = recompute(&journal.entries);
    prop_assert_eq!(
        balance,
        book.wallet.balance(),
        "{}: recomputed balance",
        context
    );
    prop_assert_eq!(
        (funded, debited, forfeited),
        book.wallet.totals(),
        "{}: totals",
        context
    );
    let mut running = Decimal::ZERO;
    for (i, entry) in journal.entries.iter().enumerate() {
        prop_assert_eq!(entry.seq, i as u64 + 1, "{}: sequence", context);
        running += entry.wallet_delta();
        prop_assert_eq!(
            entry.balance_after,
            running,
            "{}: balance_after of entry {}",
            context,
            entry.seq
        );
    }
    Ok(())
}

/// Runs a history, checking C24 after every step; returns the calls made and their results.
fn run_history(
    book: &mut TenantBook,
    steps: &[Step],
    journal: &mut Journal,
) -> Result<Vec<(CallRecord, Mode, Processed)>, TestCaseError> {
    let card = card("EUR", &prop_rows());
    let mut rater = Rater::new(countries(), &card);
    let mut now = ts("2026-01-01T00:00:00Z");
    let mut calls = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        match *step {
            Step::Fund { amount, gap } => {
                now = plus(now, i64::from(gap));
                let (_, effects) = book
                    .fund(
                        Decimal::from(amount),
                        now,
                        "prop",
                        true,
                        &AmountRules::default(),
                    )
                    .map_err(|r| TestCaseError::fail(format!("funding {amount}: {r}")))?;
                journal.absorb(&effects);
            }
            Step::Call {
                leg,
                organizer,
                duration,
                gap,
                real_time,
            } => {
                now = plus(now, i64::from(gap));
                let call = call_of(i, leg, organizer, duration, now);
                let mode = if real_time {
                    Mode::RealTime
                } else {
                    Mode::Bulk
                };
                let p = book.process_call(&mut rater, &call, mode);
                prop_assert!(!p.replay);
                journal.absorb(&p.effects);
                calls.push((call, mode, p));
            }
            Step::Advance { days } => {
                now = plus(now, i64::from(days) * 86_400);
                journal.absorb(&book.advance(now));
            }
        }
        check_ledger(book, journal, &format!("after step {i} {step:?}"))?;
    }
    Ok(calls)
}

#[derive(Debug, Clone, PartialEq)]
struct State {
    wallet: WalletSnapshot,
    pool: Vec<(String, u32)>,
    seen: usize,
}

fn state(book: &TenantBook) -> State {
    State {
        wallet: book.wallet.snapshot(),
        pool: book
            .pool_used
            .iter()
            .map(|(m, n)| (m.to_string(), *n))
            .collect(),
        seen: book.seen.len(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// C24 after every step of any history.
    #[test]
    fn c24_ledger_invariant_holds_after_every_step(
        recharge in recharge(),
        steps in prop::collection::vec(step(), 1..40),
    ) {
        let mut book = prop_book(recharge);
        let mut journal = Journal::default();
        run_history(&mut book, &steps, &mut journal)?;
    }

    /// C6, C7: a longer call never costs less, billable seconds never shrink and cover the call.
    #[test]
    fn c6_c7_cost_never_decreases_when_duration_grows(
        rate in 0i64..=200_000,
        fee in 0i64..=2_000,
        first in 0u32..=120,
        increment in 1u32..=120,
        currency_index in 0usize..3,
        duration in 0u64..=20_000,
        extra in 0u64..=5_000,
    ) {
        let currency = currency(["USD", "JPY", "KWD"][currency_index]);
        let entry = RateEntry {
            kind: RateKind::DialOut,
            key: RateKey::Prefix("33".into()),
            origin: None,
            name: "x".into(),
            country: country("FR"),
            premium: false,
            rate_per_minute: Decimal::new(rate, 4),
            connection_fee: Decimal::new(fee, 4),
            first_block_s: first,
            increment_s: increment,
            effective_from: ts(CARD_FROM),
        };
        let (short, long) = (duration, duration + extra);
        prop_assert!(entry.billable_seconds(short) <= entry.billable_seconds(long));
        prop_assert!(entry.billable_seconds(long) >= long, "C6 billable covers the duration");
        let (a, b) = (entry.cost(short, currency), entry.cost(long, currency));
        prop_assert!(a <= b, "cost({}) = {} > cost({}) = {}", short, a, long, b);
        prop_assert!(a >= Decimal::ZERO);
        prop_assert!(currency.is_representable(b), "C7 rounded to the minor unit: {}", b);
        if short == 0 {
            prop_assert_eq!(a, Decimal::ZERO, "C7 a 0 s call costs nothing, no connection fee");
        }
    }

    /// C23: resubmitting any subset of processed calls, in any order and either mode, returns
    /// the first results as replays with no effects, and changes nothing.
    #[test]
    fn c23_resubmitting_processed_calls_changes_nothing(
        recharge in recharge(),
        steps in prop::collection::vec(step(), 1..30),
        picks in prop::collection::vec((any::<prop::sample::Index>(), any::<bool>()), 0..20),
    ) {
        let mut book = prop_book(recharge);
        let mut journal = Journal::default();
        let calls = run_history(&mut book, &steps, &mut journal)?;
        prop_assume!(!calls.is_empty());
        let before = state(&book);
        let card = card("EUR", &prop_rows());
        let mut rater = Rater::new(countries(), &card);
        for (index, real_time) in picks {
            let (call, _, first) = &calls[index.index(calls.len())];
            let mode = if real_time { Mode::RealTime } else { Mode::Bulk };
            let again = book.process_call(&mut rater, call, mode);
            prop_assert!(again.replay, "{} is a replay", call.call_id);
            prop_assert_eq!(&again.outcome, &first.outcome);
            prop_assert!(again.effects.entries.is_empty() && again.effects.events.is_empty());
            prop_assert_eq!(state(&book), before.clone());
        }
        check_ledger(&book, &journal, "after resubmissions")?;
    }
}
