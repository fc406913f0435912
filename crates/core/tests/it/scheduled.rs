//! Scheduled (declared) fundings: made when the ledger reaches their instant, in time order with
//! the calls (C10, C22, C28), whatever order they were declared in.

use crate::common;

use common::*;
use minutely_core::Reason;
use minutely_core::directory::AmountRules;
use minutely_core::ledger::EntryKind;
use minutely_core::rating::Rater;

#[test]
fn a_declared_funding_is_made_when_the_ledger_reaches_it() {
    let card = std_card();
    let mut rater = Rater::new(countries(), &card);
    let mut book = std_fx().book();
    let rules = AmountRules::default();
    // Declared out of order: the February funding first.
    book.schedule_funding(d("100"), ts("2026-02-01T00:00:00Z"), "feb", true, &rules)
        .unwrap();
    book.schedule_funding(d("60"), ts("2026-01-01T00:00:00Z"), "jan", true, &rules)
        .unwrap();
    assert_eq!(
        book.wallet.balance(),
        d("0"),
        "nothing is made before the ledger reaches it"
    );
    // A January call drains the January lot only; February's is not there yet (C28).
    let jan = rate(
        &mut book,
        &mut rater,
        &dial_in("c1", PPM, FR_TOLL, FR_FIXED, "2026-01-10T10:00:00Z", 600),
    );
    let charge = charged(&jan);
    assert_eq!(charge.lots.len(), 1);
    let funding = jan
        .effects
        .entries
        .iter()
        .find(|e| e.kind == EntryKind::Funding)
        .expect("jan is made first");
    assert_eq!(
        (funding.at, funding.reference.as_deref()),
        (ts("2026-01-01T00:00:00Z"), Some("jan"))
    );
    assert_eq!(book.scheduled.len(), 1);
    // A later call makes February's funding, dated at its own instant.
    let feb = rate(
        &mut book,
        &mut rater,
        &dial_in("c2", PPM, FR_TOLL, FR_FIXED, "2026-02-10T10:00:00Z", 60),
    );
    let made = feb
        .effects
        .entries
        .iter()
        .find(|e| e.kind == EntryKind::Funding)
        .expect("feb is made");
    assert_eq!(made.at, ts("2026-02-01T00:00:00Z"));
    assert!(book.scheduled.is_empty());
    book.wallet.check_invariant().unwrap();
}

#[test]
fn a_funding_declared_behind_the_ledger_is_made_at_once_and_checked_first() {
    let card = std_card();
    let mut rater = Rater::new(countries(), &card);
    let mut book = std_fx().book();
    let rules = AmountRules::default();
    rate(
        &mut book,
        &mut rater,
        &dial_in("c1", PPM, FR_TOLL, FR_FIXED, "2026-03-01T00:00:00Z", 60),
    );
    let effects = book
        .schedule_funding(d("50"), ts("2026-01-01T00:00:00Z"), "late", true, &rules)
        .unwrap();
    assert_eq!(
        effects.entries.len(),
        1,
        "the ledger is past it: made at once"
    );
    // C11 applies when declaring, not only when making.
    let refusal = book
        .schedule_funding(d("49"), ts("2026-04-01T00:00:00Z"), "small", true, &rules)
        .unwrap_err();
    assert_eq!(refusal.reason, Reason::AmountBelowMinimum);
    assert!(
        book.scheduled.is_empty(),
        "a refused declaration changes nothing"
    );
}
