//! The dial-out minute pool (C18, C20, C21, C28, C32, C15 thresholds), as sequences of calls on
//! one tenant: each step names its rule, what it should give, and the month's pool use after it.

use crate::common;

use common::*;
use minutely_core::Reason;
use minutely_core::catalogue::RateCard;
use minutely_core::directory::Sku;
use minutely_core::engine::{Funding, Mode, TenantBook};
use minutely_core::ledger::Event;
use minutely_core::rating::{CallRecord, Rater};

use Funding::{Credits, Pool, PoolAndCredits};
use Sku::{Credits as Pstnpp, Subscription};

/// Two MCOMEETADD purchased: a 120-minute pool. SUB has MCOPSTNPP, BARE does not.
fn pool_fx() -> TenantFx {
    TenantFx::new("pooled", "FR", "EUR")
        .purchase(Subscription, 2)
        .purchase(Pstnpp, 1)
        .wallet()
        .user(SUB, &[Subscription, Pstnpp])
        .user(BARE, &[Subscription])
}

fn funded(fx: TenantFx) -> TenantBook {
    let mut book = fx.book();
    if book.tenant.wallet().is_some() {
        fund(&mut book, "100", "2026-01-01T00:00:00Z");
    }
    book
}

/// One step: a call, the mode, what it gives, and (year, month, minutes used) after it.
type Step = (&'static str, CallRecord, Mode, Want, (i16, i8, u32));

/// Runs the steps in order on one book; a refused step must leave the pool and the wallet as
/// they were; every charged step debits exactly its amount.
fn check_steps(book: &mut TenantBook, card: &RateCard, steps: Vec<Step>) {
    let mut rater = Rater::new(countries(), card);
    let mut journal = Journal::default();
    for (name, call, mode, want, (year, m, used)) in steps {
        let balance = book.wallet.balance();
        let pool = book.pool_used.clone();
        let p = book.process_call(&mut rater, &call, mode);
        journal.absorb(&p.effects);
        assert_outcome(name, &p, want);
        match want {
            Want::Refused(_) => {
                assert_eq!(
                    book.pool_used, pool,
                    "{name}: a refused call leaves the pool untouched"
                );
                assert_eq!(book.wallet.balance(), balance, "{name}: and the wallet");
                assert!(p.effects.entries.is_empty(), "{name}");
            }
            Want::Charged { amount, .. } => {
                assert_eq!(
                    book.wallet.balance(),
                    balance - d(amount),
                    "{name}: balance"
                );
            }
        }
        assert_eq!(
            pool_used(book, year, m),
            used,
            "{name}: pool used in {year}-{m:02}"
        );
    }
    journal_check_no_fundings(book, &journal);
}

/// The journal of the steps alone (the fixture funding is outside it): the debits it holds
/// account for the whole change of the debited total.
fn journal_check_no_fundings(book: &TenantBook, journal: &Journal) {
    let debited: rust_decimal::Decimal = journal.entries.iter().map(|e| e.amount).sum();
    let (_, total_debited, _) = book.wallet.totals();
    assert_eq!(debited, total_debited, "every debit is in the journal");
    book.wallet.check_invariant().unwrap();
}

const B: Mode = Mode::Bulk;

#[test]
fn c32_pool_exactly_exhausted_then_r_zero_is_an_ordinary_credit_call() {
    let mut book = funded(pool_fx());
    check_steps(
        &mut book,
        &std_card(),
        vec![
            (
                "C21 59:01 uses ceil(3541/60) = 60 minutes",
                dial_out("a", SUB, FR_FIXED, "2026-03-02T09:00:00Z", 3541),
                B,
                charge(Pool, Subscription, "0", 60, 3600),
                (2026, 3, 60),
            ),
            (
                "C32 M = 60 = R: the pool pays all of it and is exactly exhausted",
                dial_out("b", SUB, FR_FIXED, "2026-03-02T10:00:00Z", 3600),
                B,
                charge(Pool, Subscription, "0", 60, 3600),
                (2026, 3, 120),
            ),
            (
                "C32 R = 0: ordinary credit call with connection fee, MCOPSTNPP; DE 61 s: B = 30 + 6*6 = 66; 0.10 + 0.02*66/60 = 0.122 -> 0.12",
                dial_out("c", SUB, DE_NUM, "2026-03-02T11:00:00Z", 61),
                B,
                charge(Credits, Pstnpp, "0.12", 0, 66),
                (2026, 3, 120),
            ),
            (
                "C32 R = 0: GB 61 s: 0.05 + 0.02 x 2 = 0.09",
                dial_out("d", SUB, GB_NUM, "2026-03-02T11:05:00Z", 61),
                B,
                charge(Credits, Pstnpp, "0.09", 0, 120),
                (2026, 3, 120),
            ),
            (
                "C32 R = 0 needs MCOPSTNPP like any credit call",
                dial_out("e", BARE, FR_FIXED, "2026-03-02T12:00:00Z", 60),
                B,
                Want::Refused(Reason::CreditsLicenseMissing),
                (2026, 3, 120),
            ),
            (
                "C20 the next month starts with a full pool",
                dial_out("f", BARE, FR_FIXED, "2026-04-01T00:00:00Z", 60),
                B,
                charge(Pool, Subscription, "0", 1, 60),
                (2026, 4, 1),
            ),
        ],
    );
    // 100 - 0.12 - 0.09 = 99.79
    assert_eq!(book.wallet.balance(), d("99.79"));
    assert_eq!(pool_used(&book, 2026, 3), 120);
}

#[test]
fn c32_pool_runs_out_mid_call() {
    // Each case first uses `pre` minutes of the 120-minute pool, then makes the split call.
    // (name, pre-use seconds, call, want, connection fee)
    let cases: Vec<(&str, i64, CallRecord, Want)> = vec![
        (
            "C32 R = 2, DE 301 s (30/6, fee 0.10): M = 6 > 2; pool 2; B = 30 + ceil(271/6)*6 = 306; \
          credits 306 - 120 = 186 s x 0.02/60 = 0.062 -> 0.06, no fee",
            118 * 60,
            dial_out("s", SUB, DE_NUM, "2026-03-03T09:00:00Z", 301),
            charge(PoolAndCredits, Subscription, "0.06", 2, 306),
        ),
        (
            "C32 R = 1, FR 125 s: M = 3 > 1; pool 1; B = 180; credits 120 s x 0.024/60 = 0.048 -> 0.05",
            119 * 60,
            dial_out("s", SUB, FR_FIXED, "2026-03-03T09:00:00Z", 125),
            charge(PoolAndCredits, Subscription, "0.05", 1, 180),
        ),
        (
            "C32 R = 1, GB 61 s (fee 0.05): pool 1; credits 120 - 60 = 60 s x 0.02/60 = 0.02, no fee",
            119 * 60,
            dial_out("s", SUB, GB_NUM, "2026-03-03T09:00:00Z", 61),
            charge(PoolAndCredits, Subscription, "0.02", 1, 120),
        ),
        (
            "C32 R = 1, FR 3 h: pool 1; credits (10800 - 60) s = 179 min x 0.024 = 4.296 -> 4.30",
            119 * 60,
            dial_out("s", SUB, FR_FIXED, "2026-03-03T09:00:00Z", 3 * 3600),
            charge(PoolAndCredits, Subscription, "4.30", 1, 10800),
        ),
        (
            "C32 M = R exactly: R = 2, 120 s: the pool pays 2, nothing else",
            118 * 60,
            dial_out("s", SUB, FR_FIXED, "2026-03-03T09:00:00Z", 120),
            charge(Pool, Subscription, "0", 2, 120),
        ),
    ];
    for (name, pre, call, want) in cases {
        let mut book = funded(pool_fx());
        let card = std_card();
        let mut rater = Rater::new(countries(), &card);
        let p = rate(
            &mut book,
            &mut rater,
            &dial_out("pre", SUB, FR_FIXED, "2026-03-02T09:00:00Z", pre),
        );
        assert_eq!(
            charged(&p).pool_minutes,
            (pre / 60) as u32,
            "{name}: pre-use"
        );
        let p = rate(&mut book, &mut rater, &call);
        assert_outcome(name, &p, want);
        let c = charged(&p);
        assert_eq!(
            c.connection_fee,
            d("0"),
            "{name}: a split call has no connection fee"
        );
        assert_eq!(c.rule, "C32", "{name}");
        assert_eq!(
            pool_used(&book, 2026, 3),
            120,
            "{name}: the pool is now exhausted"
        );
        let Want::Charged { amount, .. } = want else {
            unreachable!()
        };
        assert_eq!(
            book.wallet.balance(),
            d("100") - d(amount),
            "{name}: balance"
        );
        if d(amount).is_zero() {
            assert!(p.effects.entries.is_empty(), "{name}");
        } else {
            assert_eq!(c.lots, vec![(1, d(amount))], "{name}: drained from lot 1");
        }
    }
}

#[test]
fn c32_split_call_whose_credit_part_cannot_be_funded_is_refused_and_the_pool_untouched() {
    let card = std_card();
    // (name, tenant, organizer, mode, reason)
    let cases: Vec<(&str, TenantFx, &str, Mode, Reason)> = vec![
        (
            "C32 no wallet: credits_not_set_up",
            pool_fx().no_wallet(),
            SUB,
            B,
            Reason::CreditsNotSetUp,
        ),
        (
            "C32 no MCOPSTNPP: credits_license_missing",
            pool_fx(),
            BARE,
            B,
            Reason::CreditsLicenseMissing,
        ),
        (
            "C32 C14 real time, balance 0: insufficient_credits",
            pool_fx(),
            SUB,
            Mode::RealTime,
            Reason::InsufficientCredits,
        ),
    ];
    for (name, fx, organizer, mode, reason) in cases {
        let mut book = fx.book(); // nothing funded: balance 0
        check_steps(
            &mut book,
            &card,
            vec![
                (
                    "C32 pre-use: 118 pool minutes need neither wallet nor MCOPSTNPP",
                    dial_out("pre", organizer, FR_FIXED, "2026-03-02T09:00:00Z", 118 * 60),
                    B,
                    charge(Pool, Subscription, "0", 118, 7080),
                    (2026, 3, 118),
                ),
                (
                    name,
                    dial_out("split", organizer, DE_NUM, "2026-03-03T09:00:00Z", 301),
                    mode,
                    Want::Refused(reason),
                    (2026, 3, 118),
                ),
                (
                    "C32 the untouched pool still pays a call that fits: 120 s is M = 2 = R",
                    dial_out("fits", organizer, FR_FIXED, "2026-03-03T10:00:00Z", 120),
                    mode,
                    charge(Pool, Subscription, "0", 2, 120),
                    (2026, 3, 120),
                ),
            ],
        );
        // Nothing was debited or funded by any of it.
        assert_eq!(book.wallet.totals(), (d("0"), d("0"), d("0")), "{name}");
    }
}

#[test]
fn c20_c21_pool_month_is_the_tenant_local_month_of_the_start() {
    // Asia/Tokyo is UTC+9 all year. A JPY card: FR at 2 JPY per minute.
    let rows: &[Row] = &[(
        "dial_out", "+33", "", "France", "FR", false, "2", "0", 60, 60, CARD_FROM,
    )];
    let card = card("JPY", rows);
    let fx = |tz: &str| {
        TenantFx::new("tokyo", "JP", "JPY")
            .tz(tz)
            .purchase(Subscription, 1)
            .purchase(Pstnpp, 1)
            .wallet()
            .user(SUB, &[Subscription, Pstnpp])
    };
    let mut book = fx("Asia/Tokyo").book();
    fund(&mut book, "1000", "2026-01-01T00:00:00Z");
    assert_eq!(
        book.month_of(ts("2026-01-31T15:30:00Z")),
        month(2026, 2),
        "Feb 1 00:30 JST"
    );
    assert_eq!(
        book.month_of(ts("2026-01-31T14:59:59Z")),
        month(2026, 1),
        "Jan 31 23:59:59 JST"
    );
    check_steps(
        &mut book,
        &card,
        vec![
            (
                "C20 Jan 31 23:00 JST: 60 minutes exhaust January's 60-minute pool",
                dial_out("a", SUB, FR_FIXED, "2026-01-31T14:00:00Z", 3600),
                B,
                charge(Pool, Subscription, "0", 60, 3600),
                (2026, 1, 60),
            ),
            (
                "C21 Jan 31 23:50 JST for 20 min runs into February but counts against January (R = 0): 20 x 2 = 40 JPY",
                dial_out("b", SUB, FR_FIXED, "2026-01-31T14:50:00Z", 1200),
                B,
                charge(Credits, Pstnpp, "40", 0, 1200),
                (2026, 1, 60),
            ),
            (
                "C20 2026-01-31T15:30Z is Feb 1 00:30 JST: February's pool pays 10 minutes",
                dial_out("c", SUB, FR_FIXED, "2026-01-31T15:30:00Z", 600),
                B,
                charge(Pool, Subscription, "0", 10, 600),
                (2026, 2, 10),
            ),
            (
                "C20 Feb 28 15:00Z is Mar 1 00:00 JST: March's pool",
                dial_out("d", SUB, FR_FIXED, "2026-02-28T15:00:00Z", 60),
                B,
                charge(Pool, Subscription, "0", 1, 60),
                (2026, 3, 1),
            ),
        ],
    );
    assert_eq!(pool_used(&book, 2026, 1), 60);
    assert_eq!(pool_used(&book, 2026, 2), 10);
    assert_eq!(book.wallet.balance(), d("960"));

    // The same calls for a UTC tenant: 15:30Z on Jan 31 is still January, whose pool is spent.
    let mut book = fx("UTC").book();
    fund(&mut book, "1000", "2026-01-01T00:00:00Z");
    check_steps(
        &mut book,
        &card,
        vec![
            (
                "C20 UTC: Jan 31 14:00Z exhausts January",
                dial_out("a", SUB, FR_FIXED, "2026-01-31T14:00:00Z", 3600),
                B,
                charge(Pool, Subscription, "0", 60, 3600),
                (2026, 1, 60),
            ),
            (
                "C20 UTC: Jan 31 15:30Z is January: credits 10 x 2 = 20 JPY",
                dial_out("c", SUB, FR_FIXED, "2026-01-31T15:30:00Z", 600),
                B,
                charge(Credits, Pstnpp, "20", 0, 600),
                (2026, 1, 60),
            ),
        ],
    );
}

#[test]
fn c32_pool_size_uses_the_purchased_count_in_force_at_the_call_start() {
    let fx = TenantFx::new("growing", "FR", "EUR")
        .purchase_from(Subscription, 1, "2026-01-01T00:00:00Z")
        .purchase_from(Subscription, 2, "2026-02-15T00:00:00Z")
        .purchase(Pstnpp, 1)
        .wallet()
        .user(SUB, &[Subscription, Pstnpp]);
    let mut book = funded(fx);
    assert_eq!(book.pool_size(ts("2025-12-31T23:59:59Z")), 0);
    assert_eq!(book.pool_size(ts("2026-02-14T23:59:59Z")), 60);
    assert_eq!(book.pool_size(ts("2026-02-15T00:00:00Z")), 120);
    check_steps(
        &mut book,
        &std_card(),
        vec![
            (
                "C20 before any purchase the pool is 0: R = 0, credit call 0.024 -> 0.02",
                dial_out("z", SUB, FR_FIXED, "2025-12-31T12:00:00Z", 60),
                B,
                charge(Credits, Pstnpp, "0.02", 0, 60),
                (2025, 12, 0),
            ),
            (
                "C32 Feb 10: 1 license in force, pool 60; 90 min: pool 60, credits 30 min x 0.024 = 0.72",
                dial_out("a", SUB, FR_FIXED, "2026-02-10T09:00:00Z", 5400),
                B,
                charge(PoolAndCredits, Subscription, "0.72", 60, 5400),
                (2026, 2, 60),
            ),
            (
                "C32 Feb 20: 2 licenses in force, pool 120, used 60: R = 60 pays 60 minutes",
                dial_out("b", SUB, FR_FIXED, "2026-02-20T09:00:00Z", 3600),
                B,
                charge(Pool, Subscription, "0", 60, 3600),
                (2026, 2, 120),
            ),
            (
                "C32 Feb 21: pool exhausted, 1 min of credits 0.024 -> 0.02",
                dial_out("c", SUB, FR_FIXED, "2026-02-21T09:00:00Z", 60),
                B,
                charge(Credits, Pstnpp, "0.02", 0, 60),
                (2026, 2, 120),
            ),
        ],
    );
    // 100 - 0.02 - 0.72 - 0.02 = 99.24
    assert_eq!(book.wallet.balance(), d("99.24"));
}

#[test]
fn c28_real_time_pool_month_is_the_start_month_and_the_debit_is_at_the_end() {
    let mut book = funded(pool_fx());
    let card = std_card();
    let mut rater = Rater::new(countries(), &card);
    // Exhaust March except 1 minute, then a real-time call from Mar 31 23:50Z to Apr 1 00:10Z.
    rate(
        &mut book,
        &mut rater,
        &dial_out("pre", SUB, FR_FIXED, "2026-03-02T09:00:00Z", 119 * 60),
    );
    let call = dial_out("rt", SUB, FR_FIXED, "2026-03-31T23:50:00Z", 1200);
    let p = book.process_call(&mut rater, &call, Mode::RealTime);
    // M = 20 > R = 1: pool 1 (March), credits 19 min x 0.024 = 0.456 -> 0.46.
    assert_outcome(
        "C28 real time split",
        &p,
        charge(PoolAndCredits, Subscription, "0.46", 1, 1200),
    );
    assert_eq!(pool_used(&book, 2026, 3), 120);
    assert_eq!(pool_used(&book, 2026, 4), 0);
    let debit = &p.effects.entries[0];
    assert_eq!(
        debit.at,
        ts("2026-04-01T00:10:00Z"),
        "C28 real time debit at the end"
    );
}

#[test]
fn c15_pool_threshold_events_at_80_and_100_percent() {
    let mut book = funded(pool_fx());
    let card = std_card();
    let mut rater = Rater::new(countries(), &card);
    let at = "2026-03-02T09:00:00Z";
    // 95 of 120 minutes is 79.2%: nothing yet.
    let p = rate(
        &mut book,
        &mut rater,
        &dial_out("a", SUB, FR_FIXED, at, 95 * 60),
    );
    assert!(p.effects.events.is_empty());
    // +1 minute: 96 / 120 = 80%.
    let p = rate(&mut book, &mut rater, &dial_out("b", SUB, FR_FIXED, at, 60));
    assert_eq!(
        p.effects.events,
        vec![Event::PoolThreshold {
            at: ts(at),
            month: "2026-03".into(),
            percent: 80,
            used_minutes: 96,
            size_minutes: 120,
        }]
    );
    // +24 minutes: 120 / 120 = 100%.
    let p = rate(
        &mut book,
        &mut rater,
        &dial_out("c", SUB, FR_FIXED, at, 24 * 60),
    );
    assert_eq!(
        p.effects.events,
        vec![Event::PoolThreshold {
            at: ts(at),
            month: "2026-03".into(),
            percent: 100,
            used_minutes: 120,
            size_minutes: 120,
        }]
    );
}
