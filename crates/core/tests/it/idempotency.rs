//! Idempotency and order (C22, C23, C37): a resubmitted record returns the first result and
//! changes nothing; the same `call_id` with other content is refused and changes nothing.

use crate::common;

use common::*;
use minutely_core::Reason;
use minutely_core::directory::AmountRules;
use minutely_core::engine::{Mode, Outcome, TenantBook, canonical_order};
use minutely_core::ledger::WalletSnapshot;
use minutely_core::rating::{CallRecord, Direction, Rater};
use std::collections::BTreeMap;

const T: &str = "2026-03-02T09:00:00Z";

fn std_book() -> TenantBook {
    let mut book = std_fx().book();
    fund(&mut book, "100", "2026-01-01T00:00:00Z");
    book
}

/// Everything a resubmission must leave as it was.
#[derive(Debug, PartialEq)]
struct State {
    wallet: WalletSnapshot,
    pool: BTreeMap<String, u32>,
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

/// Submits `first`, then `second` with the same call id: a replay of the first result when
/// `same`, else `call_id_reused`; either way nothing changes, and the first record still
/// replays afterwards.
fn check(cases: &[(&str, CallRecord, CallRecord, bool)]) {
    let card = std_card();
    for (name, first, second, same) in cases {
        assert_eq!(first.call_id, second.call_id, "{name}: one call id");
        let mut book = std_book();
        let mut rater = Rater::new(countries(), &card);
        let p1 = rate(&mut book, &mut rater, first);
        assert!(!p1.replay, "{name}");
        let after_first = state(&book);
        let p2 = book.process_call(&mut rater, second, Mode::Bulk);
        assert!(
            p2.effects.entries.is_empty() && p2.effects.events.is_empty(),
            "{name}: no effects"
        );
        assert_eq!(state(&book), after_first, "{name}: nothing changes");
        if *same {
            assert!(p2.replay, "{name}: C23 a replay");
            assert_eq!(p2.outcome, p1.outcome, "{name}: C23 the first result");
        } else {
            assert!(!p2.replay, "{name}");
            assert_eq!(p2.outcome, Outcome::Refused(Reason::CallIdReused), "{name}");
        }
        let p3 = book.process_call(&mut rater, first, Mode::Bulk);
        assert!(p3.replay, "{name}: the first record still replays");
        assert_eq!(p3.outcome, p1.outcome, "{name}");
        assert_eq!(state(&book), after_first, "{name}");
    }
}

fn with(call: &CallRecord, f: impl FnOnce(&mut CallRecord)) -> CallRecord {
    let mut call = call.clone();
    f(&mut call);
    call
}

#[test]
fn c23_c37_same_content_replays_and_other_content_is_refused() {
    // A credit call (0.30 x 2 = 0.60 from lot 1), a pool call, a toll-free dial-in, a refusal.
    let credit = dial_out("credit", SUB, AE_NUM, T, 90);
    let pool = dial_out("pool", SUB, FR_FIXED, T, 90);
    let toll_free = dial_in("tf", SUB, FR_TOLL_FREE, GB_NUM, T, 90);
    let refused = dial_out("refused", DISABLED, FR_FIXED, T, 90);
    check(&[
        (
            "C23 an identical credit call",
            credit.clone(),
            credit.clone(),
            true,
        ),
        (
            "C23 an identical pool call",
            pool.clone(),
            pool.clone(),
            true,
        ),
        (
            "C37 a refused first result is returned again",
            refused.clone(),
            refused.clone(),
            true,
        ),
        (
            "C37 numbers compared without spaces, dashes and dots",
            pool.clone(),
            with(&pool, |c| c.destination_number = "+33-1-42.68.53.01".into()),
            true,
        ),
        (
            "C37 caller and service numbers too",
            toll_free.clone(),
            with(&toll_free, |c| {
                c.caller_number = "+44.20.7946.0018".into();
                c.service_number = "+33800123456".into();
            }),
            true,
        ),
        (
            "C37 UPNs compared case-insensitively",
            credit.clone(),
            with(&credit, |c| c.organizer = "Sub@CONTOSO.fr".into()),
            true,
        ),
        (
            "C37 instants compared as UTC (+01:00 offset on input)",
            credit.clone(),
            with(&credit, |c| {
                c.start = ts("2026-03-02T10:00:00+01:00");
                c.end = ts("2026-03-02T10:01:30+01:00");
            }),
            true,
        ),
        (
            "C23 another duration",
            credit.clone(),
            with(&credit, |c| c.end = plus(c.start, 91)),
            false,
        ),
        (
            "C23 another start",
            credit.clone(),
            with(&credit, |c| {
                c.start = plus(c.start, 1);
                c.end = plus(c.end, 1);
            }),
            false,
        ),
        (
            "C23 another destination",
            credit.clone(),
            with(&credit, |c| c.destination_number = AE_NUM.replace('8', "9")),
            false,
        ),
        (
            "C23 another organizer",
            credit.clone(),
            with(&credit, |c| c.organizer = ADDON.into()),
            false,
        ),
        (
            "C23 another conference",
            credit.clone(),
            with(&credit, |c| c.conference_id = "other".into()),
            false,
        ),
        (
            "C23 another direction",
            toll_free.clone(),
            with(&toll_free, |c| c.direction = Direction::DialOut),
            false,
        ),
        (
            "C23 a refused first result still holds its call id",
            refused.clone(),
            with(&refused, |c| c.organizer = SUB.into()),
            false,
        ),
    ]);
}

#[test]
fn c37_a_refused_first_result_stays_refused_after_the_cause_is_fixed() {
    // First submission: no wallet, so credits_not_set_up. Then the wallet is set up and funded:
    // the same record still returns the first result, and charges nothing.
    let card = std_card();
    let mut book = std_fx().no_wallet().book();
    let mut rater = Rater::new(countries(), &card);
    let call = dial_out("c", SUB, AE_NUM, T, 90);
    let p = rate(&mut book, &mut rater, &call);
    assert_eq!(refused(&p), Reason::CreditsNotSetUp);
    book.tenant
        .setup_wallet(plain_wallet(), countries(), &AmountRules::default())
        .unwrap();
    fund(&mut book, "100", "2026-01-01T00:00:00Z");
    let p = rate(&mut book, &mut rater, &call);
    assert!(p.replay);
    assert_eq!(
        refused(&p),
        Reason::CreditsNotSetUp,
        "C37 the refused first result is returned again"
    );
    assert!(p.effects.entries.is_empty());
    assert_eq!(book.wallet.balance(), d("100"));
    // A new call id is rated afresh: 0.30 x 2 = 0.60.
    let p = rate(
        &mut book,
        &mut rater,
        &with(&call, |c| c.call_id = "c2".into()),
    );
    assert_eq!(charged(&p).amount, d("0.60"));
}

#[test]
fn c23_a_replayed_charge_does_not_debit_or_recharge_again() {
    let card = std_card();
    let mut book = std_fx()
        .wallet_settings(wallet_with(auto("90", "50", true)))
        .book();
    fund(&mut book, "100", "2026-01-01T00:00:00Z");
    let mut rater = Rater::new(countries(), &card);
    // 0.30 x 40 = 12.00: 100 - 12 = 88 < 90, one recharge of 50 -> 138.
    let call = dial_out("c", SUB, AE_NUM, T, 40 * 60);
    let p1 = rate(&mut book, &mut rater, &call);
    assert_eq!(charged(&p1).recharge_lot, Some(2));
    assert_eq!(book.wallet.balance(), d("138"));
    for mode in [Mode::Bulk, Mode::RealTime] {
        let p2 = book.process_call(&mut rater, &call, mode);
        assert!(p2.replay, "{mode:?}");
        assert_eq!(
            p2.outcome, p1.outcome,
            "{mode:?}: the first result, lots and recharge included"
        );
        assert!(p2.effects.entries.is_empty() && p2.effects.events.is_empty());
        assert_eq!(book.wallet.balance(), d("138"), "{mode:?}");
    }
    assert_eq!(book.wallet.totals(), (d("150"), d("12.00"), d("0")));
}

#[test]
fn c22_canonical_order_is_start_then_call_id() {
    let t0 = "2026-03-02T08:00:00Z";
    let t1 = "2026-03-02T09:00:00Z";
    let mut calls = vec![
        dial_out("b", SUB, FR_FIXED, t1, 60),
        dial_out("c9", SUB, FR_FIXED, t1, 60),
        dial_out("a", SUB, FR_FIXED, t1, 60),
        dial_out("z", SUB, FR_FIXED, t0, 60),
        dial_out("c10", SUB, FR_FIXED, t1, 60),
    ];
    canonical_order(&mut calls);
    let ids: Vec<_> = calls.iter().map(|c| c.call_id.as_str()).collect();
    assert_eq!(ids, vec!["z", "a", "b", "c10", "c9"]);
}

#[test]
fn c37_within_a_batch_the_first_record_in_canonical_order_is_the_first_submission() {
    // Two records with one call id: the one starting first is charged, the other is refused as
    // call_id_reused, whatever their order in the input.
    let card = std_card();
    let early = dial_out("dup", PPM, AE_NUM, "2026-03-02T08:00:00Z", 60); // 0.30
    let late = dial_out("dup", PPM, AE_NUM, "2026-03-02T09:00:00Z", 120); // would be 0.60
    let mut batch = vec![late.clone(), early.clone()];
    canonical_order(&mut batch);
    let mut book = std_book();
    let mut rater = Rater::new(countries(), &card);
    let outcomes: Vec<_> = batch
        .iter()
        .map(|c| rate(&mut book, &mut rater, c).outcome)
        .collect();
    assert_eq!(charged_amount(&outcomes[0]), d("0.30"));
    assert_eq!(outcomes[1], Outcome::Refused(Reason::CallIdReused));
    assert_eq!(book.wallet.balance(), d("99.70"));
}

fn charged_amount(outcome: &Outcome) -> rust_decimal::Decimal {
    match outcome {
        Outcome::Charged(c) => c.amount,
        Outcome::Refused(r) => panic!("refused {r}"),
    }
}

#[test]
fn c23_call_ids_are_per_tenant() {
    // The same call id in two tenants is two calls.
    let card = std_card();
    let mut rater = Rater::new(countries(), &card);
    let call = dial_out("shared-id", PPM, AE_NUM, T, 60);
    let mut a = std_book();
    let mut b = std_book();
    assert_eq!(charged(&rate(&mut a, &mut rater, &call)).amount, d("0.30"));
    let p = rate(&mut b, &mut rater, &call);
    assert!(!p.replay);
    assert_eq!(charged(&p).amount, d("0.30"));
}
