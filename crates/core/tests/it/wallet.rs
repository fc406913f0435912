//! The Communications Credits wallet (C3, C10 to C15, C24, C28, C29, C34, C40): lots, FIFO,
//! expiry and forfeits, debt, auto-recharge, amount checks. Sequences of operations are run by
//! one helper that checks the balance, the recharges and the failed payments of every step, and
//! C24 from the journal after every step.

use crate::common;

use common::*;
use jiff::tz::TimeZone;
use minutely_core::Reason;
use minutely_core::catalogue::RateCard;
use minutely_core::directory::{
    Agreement, AmountRules, AutoRecharge, NumberKind, Sku, WalletSettings,
};
use minutely_core::engine::{Mode, TenantBook, canonical_order};
use minutely_core::ledger::{Account, EntryKind, Event, LotSource, Posting, lot_expiry};
use minutely_core::money::Currency;
use minutely_core::rating::{CallRecord, Rater};

/// 1.00 EUR per minute to France (so a pay-per-minute call of N minutes costs N), and a sub-cent
/// UK rate with 1/1 increments.
const WALLET_ROWS: &[Row] = &[
    (
        "dial_out", "+33", "", "France", "FR", false, "1.00", "0", 60, 60, CARD_FROM,
    ),
    (
        "dial_out",
        "+44",
        "",
        "United Kingdom",
        "GB",
        false,
        "0.0043",
        "0",
        1,
        1,
        CARD_FROM,
    ),
];

fn wallet_card() -> RateCard {
    card("EUR", WALLET_ROWS)
}

fn wallet_fx(settings: WalletSettings) -> TenantFx {
    TenantFx::new("wallet", "FR", "EUR")
        .purchase(Sku::PayPerMinute, 1)
        .purchase(Sku::Subscription, 1)
        .purchase(Sku::Credits, 1)
        .wallet_settings(settings)
        .user(PPM, &[Sku::PayPerMinute])
        .user(SUB, &[Sku::Subscription, Sku::Credits])
        .number(FR_TOLL, NumberKind::Toll)
}

/// A pay-per-minute call costing `euros` (1.00 per minute).
fn spend(id: &str, euros: i64, at: &str) -> CallRecord {
    dial_out(id, PPM, FR_FIXED, at, euros * 60)
}

enum Op {
    Fund(&'static str, &'static str),
    Call(CallRecord, Mode),
    Settings(Option<AutoRecharge>),
    Advance(&'static str),
}

fn bulk(call: CallRecord) -> Op {
    Op::Call(call, Mode::Bulk)
}

/// (name, operation, balance after, recharge lots it created, failed recharges it recorded)
type Step = (&'static str, Op, &'static str, usize, usize);

/// Runs the steps on `book` and returns the journal of everything they did.
fn run(book: &mut TenantBook, card: &RateCard, steps: Vec<Step>) -> Journal {
    let mut rater = Rater::new(countries(), card);
    let mut journal = Journal::default();
    for (name, op, balance, recharges, failures) in steps {
        let effects = match op {
            Op::Fund(amount, at) => {
                let (_, effects) = book
                    .fund(d(amount), ts(at), name, true, &AmountRules::default())
                    .unwrap_or_else(|r| panic!("{name}: {r}"));
                effects
            }
            Op::Call(call, mode) => {
                let p = book.process_call(&mut rater, &call, mode);
                let c = charged(&p).clone();
                let recharge = p
                    .effects
                    .entries
                    .iter()
                    .find(|e| e.kind == EntryKind::Recharge);
                // A charge reports the lot its debit's recharge created, dated at the debit.
                assert_eq!(
                    c.recharge_lot.is_some(),
                    recharge.is_some(),
                    "{name}: recharge_lot"
                );
                if let (Some(lot), Some(entry)) = (c.recharge_lot, recharge) {
                    let debit_at = match mode {
                        Mode::Bulk => call.start,
                        Mode::RealTime | Mode::Ended => call.end,
                    };
                    assert_eq!(
                        entry.at, debit_at,
                        "{name}: C34 recharge dated at the debit"
                    );
                    assert_eq!(
                        entry.call_id.as_deref(),
                        Some(call.call_id.as_str()),
                        "{name}"
                    );
                    let lot = book
                        .wallet
                        .lots()
                        .find(|l| l.id == lot)
                        .expect("the recharge lot is live");
                    assert_eq!(lot.funded_at, debit_at, "{name}: lot dated at the debit");
                    assert_eq!(
                        lot.expires_at,
                        lot_expiry(debit_at, &book.tenant.timezone),
                        "{name}"
                    );
                    assert_eq!(
                        lot.source,
                        LotSource::AutoRecharge {
                            call_id: call.call_id.clone()
                        }
                    );
                }
                p.effects
            }
            Op::Settings(recharge) => {
                let before = book.wallet.clone();
                book.tenant
                    .set_auto_recharge(recharge, countries(), &AmountRules::default())
                    .unwrap_or_else(|r| panic!("{name}: {r}"));
                assert_eq!(
                    book.wallet, before,
                    "{name}: C34 a change of settings touches no money"
                );
                Default::default()
            }
            Op::Advance(at) => book.advance(ts(at)),
        };
        journal.absorb(&effects);
        journal.check(book, name);
        assert_eq!(book.wallet.balance(), d(balance), "{name}: balance");
        let made = effects
            .entries
            .iter()
            .filter(|e| e.kind == EntryKind::Recharge)
            .count();
        let succeeded = effects
            .events
            .iter()
            .filter(|e| matches!(e, Event::RechargeSucceeded { .. }))
            .count();
        let failed = effects
            .events
            .iter()
            .filter(|e| matches!(e, Event::RechargeFailed { .. }))
            .count();
        assert_eq!(made, recharges, "{name}: recharges");
        assert_eq!(succeeded, recharges, "{name}: recharge-succeeded events");
        assert_eq!(failed, failures, "{name}: recharge-failed events");
    }
    journal
}

fn book_with(settings: WalletSettings) -> TenantBook {
    wallet_fx(settings).book()
}

// ---------------------------------------------------------------------------------------------
// C10: lots, FIFO, expiry

#[test]
fn c10_fifo_drains_the_oldest_lot_first_across_lots() {
    let mut book = book_with(plain_wallet());
    let card = wallet_card();
    let journal = run(
        &mut book,
        &card,
        vec![
            (
                "fund 50 (lot 1)",
                Op::Fund("50", "2026-01-10T00:00:00Z"),
                "50",
                0,
                0,
            ),
            (
                "fund 60 (lot 2)",
                Op::Fund("60", "2026-02-10T00:00:00Z"),
                "110",
                0,
                0,
            ),
            (
                "C10 70: lot 1 gives 50, lot 2 gives 20",
                bulk(spend("a", 70, "2026-03-01T00:00:00Z")),
                "40",
                0,
                0,
            ),
            (
                "C10 30 from lot 2",
                bulk(spend("b", 30, "2026-03-02T00:00:00Z")),
                "10",
                0,
                0,
            ),
            (
                "fund 50 (lot 3)",
                Op::Fund("50", "2026-03-05T00:00:00Z"),
                "60",
                0,
                0,
            ),
            (
                "C10 25: lot 2 gives its last 10, lot 3 gives 15",
                bulk(spend("c", 25, "2026-03-06T00:00:00Z")),
                "35",
                0,
                0,
            ),
            (
                "C10 lot 1 expires empty: no forfeit",
                Op::Advance("2027-01-10T00:00:00Z"),
                "35",
                0,
                0,
            ),
            (
                "C10 lot 3 expires with 35 left: forfeited",
                Op::Advance("2027-03-05T00:00:00Z"),
                "0",
                0,
                0,
            ),
        ],
    );
    let debits: Vec<_> = journal
        .entries
        .iter()
        .filter(|e| e.kind == EntryKind::Debit)
        .collect();
    let lot_legs = |i: usize| -> Vec<Posting> {
        debits[i]
            .postings
            .iter()
            .filter(|p| matches!(p.account, Account::Lot(_)))
            .cloned()
            .collect()
    };
    let leg = |lot, amount: &str| Posting {
        account: Account::Lot(lot),
        amount: -d(amount),
    };
    assert_eq!(lot_legs(0), vec![leg(1, "50"), leg(2, "20")]);
    assert_eq!(lot_legs(1), vec![leg(2, "30")]);
    assert_eq!(lot_legs(2), vec![leg(2, "10"), leg(3, "15")]);
    let forfeits: Vec<_> = journal
        .entries
        .iter()
        .filter(|e| e.kind == EntryKind::Forfeit)
        .collect();
    assert_eq!(
        forfeits.len(),
        1,
        "C10 only a lot with a remainder is forfeited"
    );
    assert_eq!(forfeits[0].amount, d("35"));
    assert_eq!(
        forfeits[0].at,
        ts("2027-03-05T00:00:00Z"),
        "C28 forfeited at the expiry instant"
    );
    assert_eq!(forfeits[0].reference.as_deref(), Some("lot 3"));
    assert_eq!(
        forfeits[0].postings,
        vec![
            Posting {
                account: Account::Lot(3),
                amount: d("-35")
            },
            Posting {
                account: Account::Forfeits,
                amount: d("35")
            },
        ]
    );
    assert_eq!(book.wallet.totals(), (d("160"), d("125"), d("35")));
}

#[test]
fn c10_charge_reports_the_lots_drained() {
    let mut book = book_with(plain_wallet());
    let card = wallet_card();
    let mut rater = Rater::new(countries(), &card);
    fund(&mut book, "50", "2026-01-10T00:00:00Z");
    fund(&mut book, "60", "2026-02-10T00:00:00Z");
    let p = rate(
        &mut book,
        &mut rater,
        &spend("a", 70, "2026-03-01T00:00:00Z"),
    );
    let c = charged(&p);
    assert_eq!(c.lots, vec![(1, d("50")), (2, d("20"))]);
    assert_eq!(c.balance_after, Some(d("40")));
    // Lots still holding credit (an emptied lot may or may not stay listed).
    let remaining: Vec<_> = book
        .wallet
        .lots()
        .filter(|l| !l.remaining.is_zero())
        .map(|l| (l.id, l.remaining))
        .collect();
    assert_eq!(remaining, vec![(2, d("40"))]);
}

#[test]
fn c10_lot_expiry_is_twelve_calendar_months_at_the_same_local_time() {
    // (name, tenant time zone, funded at, expires at)
    let cases = [
        (
            "C10 29 Feb clamps to 28 Feb (UTC)",
            "UTC",
            "2028-02-29T12:00:00Z",
            "2029-02-28T12:00:00Z",
        ),
        (
            "C10 29 Feb in the tenant zone: 2028-02-28T20:00Z is 29 Feb 05:00 JST -> 28 Feb 2029 05:00 JST",
            "Asia/Tokyo",
            "2028-02-28T20:00:00Z",
            "2029-02-27T20:00:00Z",
        ),
        (
            "C10 bought on the 31st: 2026-03-31 10:00 Paris (CEST) -> 2027-03-31 10:00 Paris",
            "Europe/Paris",
            "2026-03-31T08:00:00Z",
            "2027-03-31T08:00:00Z",
        ),
        (
            "C10 same wall-clock across a DST change: 2026-03-28 10:00 CET -> 2027-03-28 10:00 CEST",
            "Europe/Paris",
            "2026-03-28T09:00:00Z",
            "2027-03-28T08:00:00Z",
        ),
        (
            "C10 bought on 31 August keeps the 31st",
            "UTC",
            "2026-08-31T23:59:59Z",
            "2027-08-31T23:59:59Z",
        ),
        (
            "C10 a New York evening is the next UTC day: 2026-12-31 20:00 EST -> 2027-12-31 20:00 EST",
            "America/New_York",
            "2027-01-01T01:00:00Z",
            "2028-01-01T01:00:00Z",
        ),
    ];
    for (name, tz, funded, expires) in cases {
        let zone = TimeZone::get(tz).unwrap();
        assert_eq!(
            lot_expiry(ts(funded), &zone),
            ts(expires),
            "{name}: lot_expiry"
        );
        // The same through a funding of a tenant in that zone.
        let mut book = wallet_fx(plain_wallet()).tz(tz).book();
        let lot = fund(&mut book, "50", funded);
        let lot = book.wallet.lots().find(|l| l.id == lot).unwrap();
        assert_eq!(lot.funded_at, ts(funded), "{name}");
        assert_eq!(lot.expires_at, ts(expires), "{name}: lot");
    }
}

#[test]
fn c28_a_lot_is_usable_strictly_before_its_expiry_and_forfeited_at_it() {
    let card = wallet_card();
    let fx = || wallet_fx(plain_wallet()).tz("Europe/Paris");
    // Lot 1: 100 at 2026-03-31 10:00 Paris, expires 2027-03-31T08:00Z. Lot 2: 50, expires later.
    let mut book = fx().book();
    let journal = run(
        &mut book,
        &card,
        vec![
            (
                "lot 1",
                Op::Fund("100", "2026-03-31T08:00:00Z"),
                "100",
                0,
                0,
            ),
            ("lot 2", Op::Fund("50", "2026-06-01T00:00:00Z"), "150", 0, 0),
            (
                "C28 one second before expiry lot 1 is usable: 10 from lot 1",
                bulk(spend("a", 10, "2027-03-31T07:59:59Z")),
                "140",
                0,
                0,
            ),
            (
                "C28 at the expiry instant lot 1's 90 is forfeited and lot 2 pays 5",
                bulk(spend("b", 5, "2027-03-31T08:00:00Z")),
                "45",
                0,
                0,
            ),
        ],
    );
    let last: Vec<_> = journal.entries.iter().rev().take(2).rev().collect();
    assert_eq!(last[0].kind, EntryKind::Forfeit);
    assert_eq!(
        (last[0].amount, last[0].at),
        (d("90"), ts("2027-03-31T08:00:00Z"))
    );
    assert_eq!(last[1].kind, EntryKind::Debit);
    let legs: Vec<_> = last[1]
        .postings
        .iter()
        .filter(|p| matches!(p.account, Account::Lot(_)))
        .cloned()
        .collect();
    assert_eq!(
        legs,
        vec![Posting {
            account: Account::Lot(2),
            amount: d("-5")
        }]
    );

    // C28: a call from 07:55Z to 08:05Z is dated at its start in bulk (lot 1 pays) but debited
    // at its end in real time (lot 1 has expired: forfeited, lot 2 pays).
    for (mode, lots, forfeited) in [
        (Mode::Bulk, vec![(1, d("10"))], d("0")),
        (Mode::RealTime, vec![(2, d("10"))], d("100")),
    ] {
        let mut book = fx().book();
        fund(&mut book, "100", "2026-03-31T08:00:00Z");
        fund(&mut book, "50", "2026-06-01T00:00:00Z");
        let mut rater = Rater::new(countries(), &card);
        let p = book.process_call(&mut rater, &spend("c", 10, "2027-03-31T07:55:00Z"), mode);
        assert_eq!(charged(&p).lots, lots, "C28 {mode:?}");
        assert_eq!(book.wallet.totals().2, forfeited, "C28 {mode:?} forfeits");
        assert_eq!(
            book.wallet.balance(),
            d("140") - forfeited,
            "C28 {mode:?} balance"
        );
    }
}

#[test]
fn c24_forfeit_entries_each_carry_their_own_balance_after() {
    // Two lots expire in one advance: each forfeit entry's balance_after is the balance right
    // after that entry (C24: every entry can be explained on its own).
    let mut book = book_with(plain_wallet());
    fund(&mut book, "60", "2026-01-10T00:00:00Z");
    fund(&mut book, "70", "2026-01-20T00:00:00Z");
    fund(&mut book, "50", "2026-06-01T00:00:00Z");
    let effects = book.advance(ts("2027-02-01T00:00:00Z"));
    let forfeits: Vec<_> = effects
        .entries
        .iter()
        .map(|e| (e.kind, e.amount, e.at, e.balance_after))
        .collect();
    #[rustfmt::skip]
    let want = vec![
        // 180 - 60 = 120
        (EntryKind::Forfeit, d("60"), ts("2027-01-10T00:00:00Z"), d("120")),
        // 120 - 70 = 50
        (EntryKind::Forfeit, d("70"), ts("2027-01-20T00:00:00Z"), d("50")),
    ];
    assert_eq!(forfeits, want);
}

#[test]
fn c24_every_entry_balance_after_is_the_running_balance() {
    // One lot expiring at a time, debt, recharge: balance_after is the running sum of deltas.
    let mut book = book_with(wallet_with(auto("50", "100", true)));
    let card = wallet_card();
    let journal = run(
        &mut book,
        &card,
        vec![
            (
                "fund 60",
                Op::Fund("60", "2026-01-10T00:00:00Z"),
                "60",
                0,
                0,
            ),
            (
                "70 into debt, then a recharge of 100 pays the debt first",
                bulk(spend("a", 70, "2026-02-01T00:00:00Z")),
                "90",
                1,
                0,
            ),
            (
                "lot 1 expires empty, lot 2 expires with 90",
                Op::Advance("2027-02-01T00:00:00Z"),
                "0",
                0,
                0,
            ),
        ],
    );
    let mut running = d("0");
    for entry in &journal.entries {
        running += entry.wallet_delta();
        assert_eq!(
            entry.balance_after, running,
            "entry {} ({:?})",
            entry.seq, entry.kind
        );
    }
}

// ---------------------------------------------------------------------------------------------
// C13, C29: debt

#[test]
fn c13_c29_bulk_debit_beyond_the_balance_is_a_debt_the_next_lot_pays_first() {
    let mut book = book_with(plain_wallet());
    let card = wallet_card();
    let journal = run(
        &mut book,
        &card,
        vec![
            (
                "fund 50",
                Op::Fund("50", "2026-01-10T00:00:00Z"),
                "50",
                0,
                0,
            ),
            (
                "C29 bulk 70 against 50: charged, balance -20",
                bulk(spend("a", 70, "2026-02-01T00:00:00Z")),
                "-20",
                0,
                0,
            ),
            (
                "C29 bulk again while in debt: -25",
                bulk(spend("b", 5, "2026-02-02T00:00:00Z")),
                "-25",
                0,
                0,
            ),
            (
                "C13 fund 100: 25 pays the debt, the lot keeps 75",
                Op::Fund("100", "2026-02-03T00:00:00Z"),
                "75",
                0,
                0,
            ),
            (
                "the next call drains lot 2",
                bulk(spend("c", 10, "2026-02-04T00:00:00Z")),
                "65",
                0,
                0,
            ),
        ],
    );
    assert_eq!(book.wallet.debt(), d("0"));
    let debit_a = &journal.entries[1];
    assert_eq!(
        debit_a.postings,
        vec![
            Posting {
                account: Account::Lot(1),
                amount: d("-50")
            },
            Posting {
                account: Account::Debt,
                amount: d("-20")
            },
            Posting {
                account: Account::Usage,
                amount: d("70")
            },
        ]
    );
    let funding = &journal.entries[3];
    assert_eq!(funding.kind, EntryKind::Funding);
    assert_eq!(funding.amount, d("100"));
    assert_eq!(
        funding.postings,
        vec![
            Posting {
                account: Account::Payments,
                amount: d("-100")
            },
            Posting {
                account: Account::Lot(2),
                amount: d("75")
            },
            Posting {
                account: Account::Debt,
                amount: d("25")
            },
        ]
    );
    let lot2 = book.wallet.lots().find(|l| l.id == 2).unwrap();
    assert_eq!((lot2.amount, lot2.remaining), (d("100"), d("65")));
}

#[test]
fn c13_a_lot_smaller_than_the_debt_is_all_taken_by_it() {
    let mut book = book_with(plain_wallet());
    let card = wallet_card();
    let journal = run(
        &mut book,
        &card,
        vec![
            (
                "fund 50",
                Op::Fund("50", "2026-01-10T00:00:00Z"),
                "50",
                0,
                0,
            ),
            (
                "bulk 120: balance -70",
                bulk(spend("a", 120, "2026-02-01T00:00:00Z")),
                "-70",
                0,
                0,
            ),
            (
                "C13 fund 50: all of it pays debt, -20 left",
                Op::Fund("50", "2026-02-03T00:00:00Z"),
                "-20",
                0,
                0,
            ),
        ],
    );
    let funding = journal.entries.last().unwrap();
    assert_eq!(funding.wallet_delta(), d("50"));
    let debt_leg: Vec<_> = funding
        .postings
        .iter()
        .filter(|p| p.account == Account::Debt)
        .collect();
    assert_eq!(
        debt_leg,
        vec![&Posting {
            account: Account::Debt,
            amount: d("50")
        }]
    );
    assert_eq!(book.wallet.debt(), d("20"));
    assert!(
        book.wallet.lots().all(|l| l.remaining.is_zero()),
        "C13 nothing is left in any lot"
    );
}

// ---------------------------------------------------------------------------------------------
// C12, C34: auto-recharge

#[test]
fn c34_one_debit_crossing_the_trigger_recharges_once() {
    let mut book = book_with(wallet_with(auto("50", "100", true)));
    let card = wallet_card();
    let mut rater = Rater::new(countries(), &card);
    fund(&mut book, "100", "2026-01-10T00:00:00Z");
    let call = spend("a", 60, "2026-02-01T09:30:00Z");
    let p = rate(&mut book, &mut rater, &call);
    let c = charged(&p);
    // 100 - 60 = 40 < 50: one recharge of 100 (lot 2) -> 140.
    assert_eq!(
        c.balance_after,
        Some(d("40")),
        "balance_after is before the recharge"
    );
    assert_eq!(c.recharge_lot, Some(2));
    assert_eq!(book.wallet.balance(), d("140"));
    let kinds: Vec<_> = p
        .effects
        .entries
        .iter()
        .map(|e| (e.kind, e.amount))
        .collect();
    assert_eq!(
        kinds,
        vec![(EntryKind::Debit, d("60")), (EntryKind::Recharge, d("100"))]
    );
    assert!(p.effects.events.contains(&Event::RechargeSucceeded {
        at: ts("2026-02-01T09:30:00Z"),
        amount: d("100"),
        lot: 2,
    }));
    let lot = book.wallet.lots().find(|l| l.id == 2).unwrap();
    assert_eq!(
        lot.funded_at,
        ts("2026-02-01T09:30:00Z"),
        "C34 the recharge lot is dated at the debit"
    );
    assert_eq!(lot.expires_at, ts("2027-02-01T09:30:00Z"));
}

#[test]
fn c12_c34_auto_recharge_sequences() {
    let card = wallet_card();
    // (name, trigger, amount, steps)
    let scenarios: Vec<(&str, &str, &str, Vec<Step>)> = vec![
        (
            "C34 a balance equal to the trigger does not recharge",
            "50",
            "100",
            vec![
                (
                    "fund 100",
                    Op::Fund("100", "2026-01-10T00:00:00Z"),
                    "100",
                    0,
                    0,
                ),
                (
                    "C34 100 - 50 = 50, equal to the trigger: no recharge",
                    bulk(spend("a", 50, "2026-02-01T00:00:00Z")),
                    "50",
                    0,
                    0,
                ),
                (
                    "C34 50 - 1 = 49 < 50: recharge 100",
                    bulk(spend("b", 1, "2026-02-02T00:00:00Z")),
                    "149",
                    1,
                    0,
                ),
            ],
        ),
        (
            "C34 already below the trigger, and still below after",
            "100",
            "50",
            vec![
                (
                    "C34 a manual funding of 60 below the trigger 100 never recharges",
                    Op::Fund("60", "2026-01-10T00:00:00Z"),
                    "60",
                    0,
                    0,
                ),
                (
                    "C34 59 < 100 (already below before): recharge -> 109",
                    bulk(spend("a", 1, "2026-02-01T00:00:00Z")),
                    "109",
                    1,
                    0,
                ),
                (
                    "C34 109 - 20 = 89: recharge -> 139",
                    bulk(spend("b", 20, "2026-02-02T00:00:00Z")),
                    "139",
                    1,
                    0,
                ),
                (
                    "C34 139 - 99 = 40: exactly one recharge though still below after -> 90",
                    bulk(spend("c", 99, "2026-02-03T00:00:00Z")),
                    "90",
                    1,
                    0,
                ),
                (
                    "C34 90 - 1 = 89 < 100: recharge again -> 139",
                    bulk(spend("d", 1, "2026-02-04T00:00:00Z")),
                    "139",
                    1,
                    0,
                ),
            ],
        ),
        (
            "C13 C34 a debit into debt recharges; the recharge pays the debt first",
            "50",
            "100",
            vec![
                (
                    "fund 50",
                    Op::Fund("50", "2026-01-10T00:00:00Z"),
                    "50",
                    0,
                    0,
                ),
                (
                    "50 - 70 = -20 < 50: recharge 100 -> 80",
                    bulk(spend("a", 70, "2026-02-01T00:00:00Z")),
                    "80",
                    1,
                    0,
                ),
            ],
        ),
        (
            "C34 the recharge lot of a real-time call is dated at its end",
            "50",
            "100",
            vec![
                (
                    "fund 100",
                    Op::Fund("100", "2026-01-10T00:00:00Z"),
                    "100",
                    0,
                    0,
                ),
                (
                    "real time 60: 40 < 50 -> 140",
                    Op::Call(spend("rt", 60, "2026-02-01T00:00:00Z"), Mode::RealTime),
                    "140",
                    1,
                    0,
                ),
            ],
        ),
    ];
    for (name, trigger, amount, steps) in scenarios {
        eprintln!("scenario: {name}");
        let mut book = book_with(wallet_with(auto(trigger, amount, true)));
        run(&mut book, &card, steps);
    }
}

#[test]
fn c12_many_debits_in_one_batch_each_crossing_debit_recharges_once() {
    // Trigger 50, amount 50, balance 60; seven calls of 10 in one batch (canonical order c1..c7):
    // 50 (equal: no), 40 -> 90 (recharge), 80, 70, 60, 50 (no), 40 -> 90 (recharge).
    let card = wallet_card();
    let mut book = book_with(wallet_with(auto("50", "50", true)));
    fund(&mut book, "60", "2026-01-10T00:00:00Z");
    let at = "2026-02-01T00:00:00Z";
    let mut batch: Vec<CallRecord> = ["c5", "c2", "c7", "c1", "c3", "c6", "c4"]
        .iter()
        .map(|id| spend(id, 10, at))
        .collect();
    canonical_order(&mut batch);
    let mut rater = Rater::new(countries(), &card);
    let mut recharged_by = Vec::new();
    let mut balances = Vec::new();
    for call in &batch {
        let p = rate(&mut book, &mut rater, call);
        let c = charged(&p);
        balances.push(c.balance_after.unwrap());
        if let Some(lot) = c.recharge_lot {
            recharged_by.push((call.call_id.clone(), lot));
        }
    }
    let expected: Vec<_> = ["50", "40", "80", "70", "60", "50", "40"]
        .iter()
        .map(|s| d(s))
        .collect();
    assert_eq!(
        balances, expected,
        "balance after each debit, before its recharge"
    );
    assert_eq!(
        recharged_by,
        vec![("c2".to_string(), 2), ("c7".to_string(), 3)]
    );
    assert_eq!(book.wallet.balance(), d("90"));
    // 60 + 2 x 50 funded, 70 debited.
    assert_eq!(book.wallet.totals(), (d("160"), d("70"), d("0")));
    book.wallet.check_invariant().unwrap();
}

#[test]
fn c31_c34_zero_charges_and_setting_changes_never_recharge() {
    let card = wallet_card();
    let mut book = book_with(wallet_with(auto("100", "50", true)));
    let gb = dial_out("sub-cent", PPM, GB_NUM, "2026-02-01T00:02:00Z", 61);
    run(
        &mut book,
        &card,
        vec![
            (
                "C34 a manual funding of 60 under the trigger 100: no recharge",
                Op::Fund("60", "2026-01-10T00:00:00Z"),
                "60",
                0,
                0,
            ),
            (
                "C31 a 0 s credit call: no entry, no recharge",
                bulk(spend("zero", 0, "2026-02-01T00:00:00Z")),
                "60",
                0,
                0,
            ),
            (
                "C34 a call rounding to 0.00 (0.0043 x 61/60): no recharge",
                bulk(gb),
                "60",
                0,
                0,
            ),
            (
                "C34 an included toll dial-in: no recharge",
                bulk(dial_in(
                    "toll",
                    SUB,
                    FR_TOLL,
                    FR_MOBILE,
                    "2026-02-01T00:03:00Z",
                    600,
                )),
                "60",
                0,
                0,
            ),
            (
                "C34 a pool call: no recharge",
                bulk(dial_out("pool", SUB, FR_FIXED, "2026-02-01T00:04:00Z", 600)),
                "60",
                0,
                0,
            ),
            (
                "C34 changing the settings: no recharge",
                Op::Settings(Some(auto("100", "60", true))),
                "60",
                0,
                0,
            ),
            (
                "C34 the next real debit recharges with the new amount: 59 -> 119",
                bulk(spend("one", 1, "2026-02-01T00:05:00Z")),
                "119",
                1,
                0,
            ),
        ],
    );
}

#[test]
fn c12_failed_payment_is_recorded_and_retried_no_sooner_than_an_hour_later() {
    let card = wallet_card();
    let t = "2026-03-01T10:00:00Z";
    let mut book = book_with(wallet_with(auto("50", "100", false)));
    let mut rater = Rater::new(countries(), &card);
    fund(&mut book, "60", "2026-01-10T00:00:00Z");
    // 60 - 20 = 40 < 50: the payment fails.
    let p = rate(&mut book, &mut rater, &spend("a", 20, t));
    assert_eq!(
        p.effects.events,
        vec![Event::RechargeFailed {
            at: ts(t),
            amount: d("100"),
            retry_after: ts("2026-03-01T11:00:00Z"),
        }]
    );
    assert_eq!(charged(&p).recharge_lot, None);
    assert_eq!(book.wallet.balance(), d("40"));
    assert_eq!(book.wallet.lots().count(), 1, "no lot for a failed payment");
    // Within the hour: no attempt at all (it never loops).
    for (id, at) in [("b", "2026-03-01T10:30:00Z"), ("c", "2026-03-01T10:59:59Z")] {
        let p = rate(&mut book, &mut rater, &spend(id, 1, at));
        assert!(p.effects.events.is_empty(), "C12 no retry at {at}");
        assert_eq!(p.effects.entries.len(), 1, "only the debit");
    }
    assert_eq!(book.wallet.balance(), d("38"));
    // One hour after the failure it is retried; still failing: recorded again, next retry +1 h.
    let p = rate(
        &mut book,
        &mut rater,
        &spend("d", 1, "2026-03-01T11:00:00Z"),
    );
    assert_eq!(
        p.effects.events,
        vec![Event::RechargeFailed {
            at: ts("2026-03-01T11:00:00Z"),
            amount: d("100"),
            retry_after: ts("2026-03-01T12:00:00Z"),
        }]
    );
    // The payment method is fixed; the retry still waits for its hour.
    book.tenant
        .set_auto_recharge(
            Some(auto("50", "100", true)),
            countries(),
            &AmountRules::default(),
        )
        .unwrap();
    let p = rate(
        &mut book,
        &mut rater,
        &spend("e", 1, "2026-03-01T11:30:00Z"),
    );
    assert!(
        p.effects.events.is_empty(),
        "C12 retried no sooner than one hour after the failure"
    );
    assert_eq!(book.wallet.balance(), d("36"));
    let p = rate(
        &mut book,
        &mut rater,
        &spend("f", 1, "2026-03-01T12:00:00Z"),
    );
    assert_eq!(charged(&p).recharge_lot, Some(2));
    assert_eq!(
        p.effects.events,
        vec![Event::RechargeSucceeded {
            at: ts("2026-03-01T12:00:00Z"),
            amount: d("100"),
            lot: 2,
        }]
    );
    // 36 - 1 + 100 = 135
    assert_eq!(book.wallet.balance(), d("135"));
    book.wallet.check_invariant().unwrap();
}

#[test]
fn c12_disabled_auto_recharge_never_recharges() {
    let card = wallet_card();
    let mut settings = auto("50", "100", true);
    settings.enabled = false;
    let mut book = book_with(wallet_with(settings));
    run(
        &mut book,
        &card,
        vec![
            (
                "fund 60",
                Op::Fund("60", "2026-01-10T00:00:00Z"),
                "60",
                0,
                0,
            ),
            (
                "C12 disabled: 60 - 20 = 40 stays",
                bulk(spend("a", 20, "2026-02-01T00:00:00Z")),
                "40",
                0,
                0,
            ),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// C15: balance notifications and expiry warnings

#[test]
fn c15_balance_depleted_low_balance_and_expiry_warning() {
    let card = wallet_card();
    let settings = WalletSettings {
        auto_recharge: None,
        low_balance_thresholds: [Some(d("40")), Some(d("10"))],
    };
    let mut book = book_with(settings);
    let mut rater = Rater::new(countries(), &card);
    fund(&mut book, "50", "2026-01-10T00:00:00Z");
    // 50 -> 35 crosses 40.
    let p = rate(
        &mut book,
        &mut rater,
        &spend("a", 15, "2026-02-01T00:00:00Z"),
    );
    assert_eq!(
        p.effects.events,
        vec![Event::LowBalance {
            at: ts("2026-02-01T00:00:00Z"),
            threshold: d("40"),
            balance: d("35")
        }]
    );
    // 35 -> -5 crosses 10 and zero.
    let p = rate(
        &mut book,
        &mut rater,
        &spend("b", 40, "2026-02-02T00:00:00Z"),
    );
    let kinds: Vec<_> = p.effects.events.iter().map(|e| e.kind()).collect();
    assert_eq!(kinds, vec!["wallet.balance_depleted", "wallet.low_balance"]);
    // A lot expiring within 30 days is announced once.
    let mut book = book_with(plain_wallet());
    fund(&mut book, "50", "2026-01-10T00:00:00Z");
    assert!(
        book.advance(ts("2026-12-10T23:59:59Z")).events.is_empty(),
        "31 days before"
    );
    let warned = book.advance(ts("2026-12-11T00:00:00Z")).events;
    assert_eq!(
        warned,
        vec![Event::LotExpiringSoon {
            at: ts("2026-12-11T00:00:00Z"),
            lot: 1,
            expires_at: ts("2027-01-10T00:00:00Z"),
            remaining: d("50"),
        }]
    );
    assert!(
        book.advance(ts("2026-12-20T00:00:00Z")).events.is_empty(),
        "announced once"
    );
}

// ---------------------------------------------------------------------------------------------
// C3, C11, C40: who may fund, and amounts

#[test]
fn c11_c40_amount_checks() {
    // (name, operator minimum, amount, expected)
    let cases: [(&str, &str, &str, Result<(), Reason>); 11] = [
        (
            "C40 10.5 is below the minimum before being not whole",
            "50",
            "10.5",
            Err(Reason::AmountBelowMinimum),
        ),
        (
            "C11 50.5 is not whole",
            "50",
            "50.5",
            Err(Reason::AmountNotWhole),
        ),
        (
            "C11 49 is below 50",
            "50",
            "49",
            Err(Reason::AmountBelowMinimum),
        ),
        (
            "C11 49.99 is below 50",
            "50",
            "49.99",
            Err(Reason::AmountBelowMinimum),
        ),
        ("C11 0 is below", "50", "0", Err(Reason::AmountBelowMinimum)),
        (
            "C11 -60 is below",
            "50",
            "-60",
            Err(Reason::AmountBelowMinimum),
        ),
        ("C11 50 is the minimum", "50", "50", Ok(())),
        ("C11 50.00 is whole", "50", "50.00", Ok(())),
        (
            "C11 the operator may lower the minimum: 20",
            "20",
            "20",
            Ok(()),
        ),
        (
            "C11 operator minimum 20: 19 is below",
            "20",
            "19",
            Err(Reason::AmountBelowMinimum),
        ),
        (
            "C11 operator minimum 20: 20.5 is not whole",
            "20",
            "20.5",
            Err(Reason::AmountNotWhole),
        ),
    ];
    for (name, minimum, amount, want) in cases {
        let rules = AmountRules::new(d(minimum)).unwrap();
        let eur = Currency::parse("EUR").unwrap();
        assert_eq!(
            rules.check(eur, d(amount)),
            want,
            "{name}: AmountRules::check"
        );
        // Funding.
        let mut book = book_with(plain_wallet());
        let got = book.fund(d(amount), ts("2026-01-10T00:00:00Z"), "ref", true, &rules);
        match want {
            Ok(()) => {
                let (lot, effects) = got.unwrap_or_else(|r| panic!("{name}: {r}"));
                assert_eq!(lot, 1);
                assert_eq!(effects.entries.len(), 1);
                assert_eq!(book.wallet.balance(), d(amount));
            }
            Err(reason) => {
                assert_eq!(got.unwrap_err().reason, reason, "{name}: funding");
                assert_eq!(
                    book.wallet.balance(),
                    d("0"),
                    "{name}: a refused funding changes nothing"
                );
                assert_eq!(book.wallet.lots().count(), 0);
            }
        }
        // The recharge trigger and amount follow the same rule (C11).
        let mut tenant = wallet_fx(plain_wallet()).build();
        let as_trigger = AutoRecharge {
            trigger: d(amount),
            ..auto("50", "50", true)
        };
        let as_amount = AutoRecharge {
            amount: d(amount),
            ..auto("50", "50", true)
        };
        for recharge in [as_trigger, as_amount] {
            let got = tenant.set_auto_recharge(Some(recharge), countries(), &rules);
            assert_eq!(
                got.map(|_| ()).map_err(|r| r.reason),
                want,
                "{name}: recharge settings"
            );
        }
    }
}

#[test]
fn c11_each_currency_may_have_its_own_minimum() {
    // C11: the operator configures the minimum, here 5000 for JPY; EUR keeps the default 50.
    let jpy = Currency::parse("JPY").unwrap();
    let eur = Currency::parse("EUR").unwrap();
    let mut rules = AmountRules::default();
    rules.set_currency(jpy, Some(d("5000"))).unwrap();
    assert_eq!(rules.minimum_for(jpy), d("5000"));
    assert_eq!(rules.minimum_for(eur), d("50"));
    let yen_book = || {
        TenantFx::new("yen", "JP", "JPY")
            .purchase(Sku::Credits, 1)
            .wallet_settings(plain_wallet())
            .book()
    };
    let at = ts("2026-01-10T00:00:00Z");
    let mut book = yen_book();
    let refused = book.fund(d("4999"), at, "ref", true, &rules).unwrap_err();
    assert_eq!(refused.reason, Reason::AmountBelowMinimum, "C11 4999 JPY");
    assert!(
        refused.detail.contains("5000") && refused.detail.contains("JPY"),
        "the refusal names the minimum and its currency: {}",
        refused.detail
    );
    assert_eq!(book.wallet.balance(), d("0"));
    book.fund(d("5000"), at, "ref", true, &rules).unwrap();
    assert_eq!(book.wallet.balance(), d("5000"));
    let recharge = |trigger: &str, amount: &str| Some(auto(trigger, amount, true));
    let got = book
        .tenant
        .set_auto_recharge(recharge("4999", "5000"), countries(), &rules);
    assert_eq!(
        got.unwrap_err().reason,
        Reason::AmountBelowMinimum,
        "C11 JPY trigger"
    );
    book.tenant
        .set_auto_recharge(recharge("5000", "5000"), countries(), &rules)
        .unwrap();
    // The euro tenant still has the default.
    let mut book = book_with(plain_wallet());
    let refused = book.fund(d("49"), at, "ref", true, &rules).unwrap_err();
    assert_eq!(refused.reason, Reason::AmountBelowMinimum, "C11 49 EUR");
    assert!(refused.detail.contains("50") && refused.detail.contains("EUR"));
    book.fund(d("50"), at, "ref", true, &rules).unwrap();
    // Removing the override makes JPY follow the default again.
    rules.set_currency(jpy, None).unwrap();
    assert_eq!(rules.minimum_for(jpy), d("50"));
    assert!(rules.set_currency(jpy, Some(d("0.5"))).is_err());
}

#[test]
fn c40_funding_or_changing_auto_recharge_before_the_wallet_is_set_up() {
    let mut book = wallet_fx(plain_wallet()).no_wallet().book();
    let rules = AmountRules::default();
    let r = book
        .fund(d("100"), ts("2026-01-10T00:00:00Z"), "ref", true, &rules)
        .unwrap_err();
    assert_eq!(r.reason, Reason::CreditsNotSetUp, "C40 funding");
    // Even with a bad amount, the missing wallet is reported.
    let r = book
        .fund(d("10.5"), ts("2026-01-10T00:00:00Z"), "ref", true, &rules)
        .unwrap_err();
    assert_eq!(
        r.reason,
        Reason::CreditsNotSetUp,
        "C40 funding a bad amount"
    );
    let r = book
        .tenant
        .set_auto_recharge(Some(auto("50", "100", true)), countries(), &rules)
        .unwrap_err();
    assert_eq!(r.reason, Reason::CreditsNotSetUp, "C40 auto-recharge");
    assert!(book.tenant.wallet().is_none());
    assert_eq!(book.wallet.lots().count(), 0);
}

#[test]
fn c3_reseller_wallet_is_funded_by_the_operator_only() {
    let rules = AmountRules::default();
    let fx = |agreement| {
        TenantFx::new("r", "FR", "EUR")
            .agreement(agreement)
            .wallet()
    };
    let mut book = fx(Agreement::Reseller).book();
    let r = book
        .fund(d("100"), ts("2026-01-10T00:00:00Z"), "admin", false, &rules)
        .unwrap_err();
    assert_eq!(
        r.reason,
        Reason::FundingNotPermitted,
        "C3 the reseller's own admin"
    );
    assert_eq!(book.wallet.balance(), d("0"));
    let (lot, _) = book
        .fund(
            d("100"),
            ts("2026-01-10T00:00:00Z"),
            "operator",
            true,
            &rules,
        )
        .unwrap();
    assert_eq!(lot, 1, "C3 the operator acting for the reseller");
    assert_eq!(book.wallet.balance(), d("100"));
    // Other agreements: the tenant's admin may fund.
    for agreement in [Agreement::VolumeLicensing, Agreement::OnlineSubscription] {
        let mut book = fx(agreement).book();
        assert!(
            book.fund(d("100"), ts("2026-01-10T00:00:00Z"), "admin", false, &rules)
                .is_ok(),
            "{agreement:?}"
        );
    }
}

#[test]
fn c10_funding_entries_name_their_source() {
    let mut book = book_with(plain_wallet());
    let (lot, effects) = book
        .fund(
            d("75"),
            ts("2026-01-10T08:00:00Z"),
            "PO-1234",
            false,
            &AmountRules::default(),
        )
        .unwrap();
    let entry = &effects.entries[0];
    assert_eq!(
        (entry.kind, entry.amount, entry.at),
        (EntryKind::Funding, d("75"), ts("2026-01-10T08:00:00Z"))
    );
    assert_eq!(entry.reference.as_deref(), Some("PO-1234"));
    assert_eq!(
        entry.postings,
        vec![
            Posting {
                account: Account::Payments,
                amount: d("-75")
            },
            Posting {
                account: Account::Lot(lot),
                amount: d("75")
            },
        ]
    );
    let l = book.wallet.lots().next().unwrap();
    assert_eq!(
        l.source,
        LotSource::Manual {
            reference: "PO-1234".into()
        }
    );
    assert_eq!(
        (l.amount, l.remaining, l.expires_at),
        (d("75"), d("75"), ts("2027-01-10T08:00:00Z"))
    );
}

#[test]
fn c10_c28_a_later_lot_that_expires_earlier_is_forfeited_at_its_own_expiry() {
    // 12 months after 29 Feb clamps to 28 Feb (C10), so a lot bought on 29 Feb 2028 at 01:00 UTC
    // expires on 28 Feb 2029 at 01:00, before a lot bought the day before at 23:00, which
    // expires on 28 Feb 2029 at 23:00. Purchase order is not expiry order.
    let card = wallet_card();
    let mut book = book_with(plain_wallet());
    let journal = run(
        &mut book,
        &card,
        vec![
            (
                "lot 1: 50, expires 2029-02-28T23:00Z",
                Op::Fund("50", "2028-02-28T23:00:00Z"),
                "50",
                0,
                0,
            ),
            (
                "lot 2: 60, expires 2029-02-28T01:00Z",
                Op::Fund("60", "2028-02-29T01:00:00Z"),
                "110",
                0,
                0,
            ),
            (
                "C28 at 12:00 lot 2 has expired (60 forfeited); only lot 1's 50 is usable",
                Op::Advance("2029-02-28T12:00:00Z"),
                "50",
                0,
                0,
            ),
            (
                "C28 a 70 debit at 12:00: lot 1 gives 50, 20 goes to debt",
                bulk(spend("a", 70, "2029-02-28T12:00:00Z")),
                "-20",
                0,
                0,
            ),
        ],
    );
    let forfeits: Vec<_> = journal
        .entries
        .iter()
        .filter(|e| e.kind == EntryKind::Forfeit)
        .map(|e| (e.amount, e.at, e.reference.clone()))
        .collect();
    assert_eq!(
        forfeits,
        vec![(
            d("60"),
            ts("2029-02-28T01:00:00Z"),
            Some("lot 2".to_string())
        )]
    );
}

#[test]
fn c15_two_equal_low_balance_thresholds_notify_once() {
    // Both thresholds at 40: one crossing is one notification.
    let card = wallet_card();
    let settings = WalletSettings {
        auto_recharge: None,
        low_balance_thresholds: [Some(d("40")), Some(d("40"))],
    };
    let mut book = book_with(settings);
    let mut rater = Rater::new(countries(), &card);
    fund(&mut book, "50", "2026-01-10T00:00:00Z");
    let p = rate(
        &mut book,
        &mut rater,
        &spend("a", 15, "2026-02-01T00:00:00Z"),
    );
    assert_eq!(
        p.effects.events,
        vec![Event::LowBalance {
            at: ts("2026-02-01T00:00:00Z"),
            threshold: d("40"),
            balance: d("35")
        }]
    );
    // Still below: no second notification for the same crossing.
    let p = rate(
        &mut book,
        &mut rater,
        &spend("b", 5, "2026-02-02T00:00:00Z"),
    );
    assert!(p.effects.events.is_empty(), "{:?}", p.effects.events);
}
