//! Rerating after a rate-card fix (product.md capability 5; C20, C21, C22, C24, C32, C34, C10):
//! refund then charge in canonical order, a funding source that changes, a recharge crossed, a
//! lot that expired since, and the same run twice.

use crate::common;

use common::*;
use minutely_core::catalogue::RateCard;
use minutely_core::directory::{Sku, WalletSettings};
use minutely_core::engine::{Funding, TenantBook};
use minutely_core::ledger::{Account, EntryKind, Lot, LotSource, lot_expiry};
use minutely_core::rating::{CallRecord, Rater};
use minutely_core::rerate::{RerateCall, Rerated};

/// The card with the mistake: France at 2.00 a minute, Germany flagged premium.
const WRONG: &[Row] = &[
    (
        "dial_out", "+33", "", "France", "FR", false, "2.00", "0", 60, 60, CARD_FROM,
    ),
    (
        "dial_out", "+49", "", "Germany", "DE", true, "0.10", "0", 60, 60, CARD_FROM,
    ),
];

/// The corrected card: France at 1.00, Germany not premium.
const FIXED: &[Row] = &[
    (
        "dial_out", "+33", "", "France", "FR", false, "1.00", "0", 60, 60, CARD_FROM,
    ),
    (
        "dial_out", "+49", "", "Germany", "DE", false, "0.10", "0", 60, 60, CARD_FROM,
    ),
];

/// One MCOMEETADD (a 60-minute pool), a pay-per-minute and a subscription organizer.
fn book(settings: WalletSettings) -> TenantBook {
    TenantFx::new("rerate", "FR", "EUR")
        .purchase(Sku::Subscription, 1)
        .purchase(Sku::PayPerMinute, 1)
        .purchase(Sku::Credits, 1)
        .wallet_settings(settings)
        .user(PPM, &[Sku::PayPerMinute])
        .user(SUB, &[Sku::Subscription, Sku::Credits])
        .book()
}

/// A manual funding of `amount` at `at`, its entries kept in `journal`.
fn funded(book: &mut TenantBook, amount: &str, at: &str, journal: &mut Journal) {
    let (_, effects) = book
        .fund(
            d(amount),
            ts(at),
            &format!("f-{at}"),
            true,
            &Default::default(),
        )
        .unwrap();
    journal.absorb(&effects);
}

/// Rates `calls` in bulk with `card`, keeping each record, charge and the journal.
fn rate_all(
    book: &mut TenantBook,
    card: &RateCard,
    calls: &[CallRecord],
    journal: &mut Journal,
) -> Vec<RerateCall> {
    let mut rater = Rater::new(countries(), card);
    calls
        .iter()
        .map(|call| {
            let processed = rate(book, &mut rater, call);
            journal.absorb(&processed.effects);
            RerateCall {
                record: call.clone(),
                old: charged(&processed).clone(),
            }
        })
        .collect()
}

/// The lots the journal knows that are no longer live (as the store reads them back).
fn known_lots(book: &TenantBook, journal: &Journal) -> Vec<Lot> {
    let tz = book.tenant.timezone.clone();
    journal
        .entries
        .iter()
        .filter(|e| matches!(e.kind, EntryKind::Funding | EntryKind::Recharge))
        .filter_map(|e| {
            let id = e.postings.iter().find_map(|p| match p.account {
                Account::Lot(id) => Some(id),
                _ => None,
            })?;
            Some(Lot {
                id,
                funded_at: e.at,
                expires_at: lot_expiry(e.at, &tz),
                amount: e.amount,
                remaining: e.amount,
                source: LotSource::Manual {
                    reference: String::new(),
                },
                warned: false,
            })
        })
        .collect()
}

fn rerate(
    book: &mut TenantBook,
    calls: Vec<RerateCall>,
    at: &str,
    journal: &mut Journal,
) -> Rerated {
    let card = card("EUR", FIXED);
    let mut rater = Rater::new(countries(), &card);
    let known = known_lots(book, journal);
    let done = book
        .rerate(&mut rater, calls, (ts(at), "run-1"), &known)
        .expect("the run is accepted");
    journal.absorb(&done.effects);
    journal.check(book, "after the rerate");
    done
}

/// The stored charges after a run, as the store keeps them (for a second run).
fn stored(done: &Rerated, calls: &[CallRecord]) -> Vec<RerateCall> {
    calls
        .iter()
        .zip(&done.items)
        .map(|(record, item)| RerateCall {
            record: record.clone(),
            old: item.new.clone(),
        })
        .collect()
}

fn kinds(done: &Rerated) -> Vec<(EntryKind, String)> {
    done.effects
        .entries
        .iter()
        .map(|e| (e.kind, e.amount.to_string()))
        .collect()
}

#[test]
fn a_call_is_refunded_and_charged_at_the_new_rate_c22_c24() {
    let mut book = book(plain_wallet());
    let mut journal = Journal::default();
    funded(&mut book, "100", "2026-03-01T00:00:00Z", &mut journal);
    let calls = vec![dial_out("c1", PPM, FR_FIXED, "2026-03-02T10:00:00Z", 600)];
    let old = rate_all(&mut book, &card("EUR", WRONG), &calls, &mut journal);
    assert_eq!(old[0].old.amount, d("20.00"));
    let done = rerate(&mut book, old, "2026-03-10T00:00:00Z", &mut journal);
    let item = &done.items[0];
    assert_eq!((item.old.amount, item.new.amount), (d("20.00"), d("10.00")));
    assert!(item.changed() && item.moved_money());
    assert_eq!(
        kinds(&done),
        vec![
            (EntryKind::Refund, "20.00".to_string()),
            (EntryKind::Debit, "10.00".to_string())
        ]
    );
    for e in &done.effects.entries {
        assert_eq!(e.call_id.as_deref(), Some("c1"), "the entry names the call");
        assert_eq!(e.reference.as_deref(), Some("run-1"), "and the run");
    }
    assert_eq!(book.wallet.balance(), d("90.00"));
    assert_eq!(item.new.balance_after, Some(d("90.00")));
}

#[test]
fn a_call_whose_funding_changes_when_the_pool_runs_out_earlier_c32() {
    let mut book = book(plain_wallet());
    let mut journal = Journal::default();
    funded(&mut book, "100", "2026-03-01T00:00:00Z", &mut journal);
    // Germany was premium: 40 minutes on credits; France took 40 pool minutes.
    let calls = vec![
        dial_out("a", SUB, DE_NUM, "2026-03-02T10:00:00Z", 2400),
        dial_out("b", SUB, FR_FIXED, "2026-03-03T10:00:00Z", 2400),
    ];
    let old = rate_all(&mut book, &card("EUR", WRONG), &calls, &mut journal);
    assert_eq!(old[0].old.funding, Funding::Credits);
    assert_eq!(old[1].old.funding, Funding::Pool);
    assert_eq!(pool_used(&book, 2026, 3), 40);
    let done = rerate(&mut book, old, "2026-03-10T00:00:00Z", &mut journal);
    let (a, b) = (&done.items[0].new, &done.items[1].new);
    assert_eq!(
        (a.funding, a.pool_minutes, a.amount),
        (Funding::Pool, 40, d("0"))
    );
    // C32: 20 minutes left for b; the other 20 on credits at 1.00, no connection fee.
    assert_eq!(
        (b.funding, b.pool_minutes, b.amount),
        (Funding::PoolAndCredits, 20, d("20.00"))
    );
    assert_eq!(pool_used(&book, 2026, 3), 60);
    assert_eq!(
        kinds(&done),
        vec![
            (EntryKind::Refund, "4.00".to_string()),
            (EntryKind::Debit, "20.00".to_string())
        ]
    );
    assert_eq!(book.wallet.balance(), d("80.00"));
}

#[test]
fn a_rerate_that_crosses_the_recharge_trigger_recharges_once_and_a_refund_never_does_c34() {
    let mut book = book(wallet_with(auto("50", "100", true)));
    let mut journal = Journal::default();
    funded(&mut book, "75", "2026-03-01T00:00:00Z", &mut journal);
    // Here the card as imported said 1.00 for France and the fix says 2.00 (`WRONG` is the
    // corrected card of this test): the charges go up.
    let calls = vec![
        dial_out("x", PPM, FR_FIXED, "2026-03-02T10:00:00Z", 300),
        dial_out("y", PPM, FR_FIXED, "2026-03-02T11:00:00Z", 600),
    ];
    let old = rate_all(&mut book, &card("EUR", FIXED), &calls, &mut journal);
    assert_eq!(book.wallet.balance(), d("60.00"));
    let wrong = card("EUR", WRONG);
    let mut rater = Rater::new(countries(), &wrong);
    let known = known_lots(&book, &journal);
    let done = book
        .rerate(
            &mut rater,
            old,
            (ts("2026-03-10T00:00:00Z"), "run-1"),
            &known,
        )
        .unwrap();
    journal.absorb(&done.effects);
    journal.check(&book, "after the rerate");
    // x: refund 5 -> 65, debit 10 -> 55 (not below 50). y: refund 10 -> 65, debit 20 -> 45:
    // below the trigger, one recharge.
    assert_eq!(
        kinds(&done),
        vec![
            (EntryKind::Refund, "5.00".to_string()),
            (EntryKind::Debit, "10.00".to_string()),
            (EntryKind::Refund, "10.00".to_string()),
            (EntryKind::Debit, "20.00".to_string()),
            (EntryKind::Recharge, "100".to_string()),
        ]
    );
    assert_eq!(done.items[1].new.recharge_lot, Some(2));
    assert_eq!(book.wallet.balance(), d("145.00"));
    // The way back: refunds lift the balance, debits lower it; no refund recharges.
    let again: Vec<RerateCall> = stored(&done, &calls);
    let done = rerate(&mut book, again, "2026-03-11T00:00:00Z", &mut journal);
    assert!(
        !kinds(&done).iter().any(|(k, _)| *k == EntryKind::Recharge),
        "a refund never recharges: {:?}",
        kinds(&done)
    );
}

#[test]
fn a_charge_from_a_lot_that_expired_since_forfeits_what_the_new_charge_leaves_c10_c28() {
    let mut book = book(plain_wallet());
    let mut journal = Journal::default();
    funded(&mut book, "100", "2025-01-10T00:00:00Z", &mut journal);
    let calls = vec![dial_out("old", PPM, FR_FIXED, "2025-06-01T10:00:00Z", 600)];
    let old = rate_all(&mut book, &card("EUR", WRONG), &calls, &mut journal);
    assert_eq!(old[0].old.lots, vec![(1, d("20.00"))]);
    // Lot 1 expires on 2026-01-10 with 80 left; lot 2 is bought after.
    funded(&mut book, "100", "2026-02-01T00:00:00Z", &mut journal);
    assert_eq!(book.wallet.totals().2, d("80.00"));
    let done = rerate(&mut book, old, "2026-03-01T00:00:00Z", &mut journal);
    // Refund 20 to lot 1, the new 10 taken from it, the other 10 forfeited again: as if the
    // call had been charged 10 and lot 1 had expired with 90. Lot 2 is untouched.
    assert_eq!(
        kinds(&done),
        vec![
            (EntryKind::Refund, "20.00".to_string()),
            (EntryKind::Debit, "10.00".to_string()),
            (EntryKind::Forfeit, "10.00".to_string()),
        ]
    );
    assert_eq!(done.items[0].new.lots, vec![(1, d("10.00"))]);
    assert_eq!(book.wallet.balance(), d("100"));
    assert_eq!(book.wallet.totals().2, d("90.00"), "forfeited in all");
    assert_eq!(
        book.wallet.lots().map(|l| l.id).collect::<Vec<_>>(),
        vec![2]
    );
}

#[test]
fn the_same_run_twice_changes_nothing_the_second_time() {
    let mut book = book(plain_wallet());
    let mut journal = Journal::default();
    funded(&mut book, "100", "2026-03-01T00:00:00Z", &mut journal);
    let calls = vec![
        dial_out("a", SUB, DE_NUM, "2026-03-02T10:00:00Z", 2400),
        dial_out("b", SUB, FR_FIXED, "2026-03-03T10:00:00Z", 2400),
        dial_out("c", PPM, FR_FIXED, "2026-03-04T10:00:00Z", 90),
    ];
    let old = rate_all(&mut book, &card("EUR", WRONG), &calls, &mut journal);
    let first = rerate(&mut book, old, "2026-03-10T00:00:00Z", &mut journal);
    assert!(first.items.iter().all(|i| i.changed()));
    let (balance, pool) = (book.wallet.balance(), pool_used(&book, 2026, 3));
    let second = rerate(
        &mut book,
        stored(&first, &calls),
        "2026-03-11T00:00:00Z",
        &mut journal,
    );
    assert!(second.effects.entries.is_empty(), "{:?}", kinds(&second));
    assert!(second.effects.events.is_empty());
    assert!(second.items.iter().all(|i| !i.changed()));
    for (a, b) in first.items.iter().zip(&second.items) {
        assert_eq!(a.new, b.new, "{}: the stored charge stays", a.call_id);
    }
    assert_eq!(
        (book.wallet.balance(), pool_used(&book, 2026, 3)),
        (balance, pool)
    );
}

#[test]
fn a_call_rating_refuses_today_is_kept_and_reported() {
    let mut book = book(plain_wallet());
    let mut journal = Journal::default();
    funded(&mut book, "100", "2026-03-01T00:00:00Z", &mut journal);
    let calls = vec![dial_out("gb", PPM, GB_NUM, "2026-03-02T10:00:00Z", 60)];
    let gb: &[Row] = &[(
        "dial_out",
        "+44",
        "",
        "United Kingdom",
        "GB",
        false,
        "0.50",
        "0",
        60,
        60,
        CARD_FROM,
    )];
    let old = rate_all(&mut book, &card("EUR", gb), &calls, &mut journal);
    let done = rerate(&mut book, old.clone(), "2026-03-10T00:00:00Z", &mut journal);
    let item = &done.items[0];
    assert_eq!(item.skipped, Some(minutely_core::Reason::NoRate));
    assert_eq!(item.new, old[0].old);
    assert!(done.effects.entries.is_empty());
}
