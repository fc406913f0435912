//! Rating one call (C5 to C9, C16 to C19, C30, C31, C33, C35, C36, C38, C39), table-driven
//! through the engine: every case names its rule and states the arithmetic of its amount.

use crate::common;

use common::*;
use jiff::SignedDuration;
use minutely_core::Reason;
use minutely_core::catalogue::{RateCard, billable_seconds};
use minutely_core::directory::{Agreement, Sku};
use minutely_core::engine::{Funding, Mode, TenantBook};
use minutely_core::numbers::{NumberPlan, PlanAnswer};
use minutely_core::rating::{CallRecord, Category, Rater};

use Funding::{AddOn, Credits, Included, Pool};
use Sku::{Credits as Pstnpp, DialOutUs, PayPerMinute, Subscription};

/// The instant most calls start at (the standard wallet is funded before it).
const T: &str = "2026-03-02T09:00:00Z";
/// The standard wallet's funding.
const FUNDED: &str = "100";
const FUNDED_AT: &str = "2026-01-01T00:00:00Z";

/// A fresh standard book funded with 100 EUR.
fn std_book() -> TenantBook {
    let mut book = std_fx().book();
    fund(&mut book, FUNDED, FUNDED_AT);
    book
}

/// Runs each case on a fresh copy of `make()` in `mode`, and checks the outcome and its
/// consequences: a refusal changes nothing; a charge debits exactly its amount (one entry, or
/// none for 0) and uses exactly its pool minutes.
fn check_with(
    make: &dyn Fn() -> TenantBook,
    card: &RateCard,
    mode: Mode,
    cases: &[(&str, CallRecord, Want)],
) {
    for (name, call, want) in cases {
        let mut book = make();
        let mut rater = Rater::new(countries(), card);
        let balance_before = book.wallet.balance();
        let pool_before = book.pool_used.clone();
        let processed = book.process_call(&mut rater, call, mode);
        assert_outcome(name, &processed, *want);
        assert!(
            !processed.replay,
            "{name}: a first submission is not a replay"
        );
        match want {
            Want::Refused(_) => {
                assert!(
                    processed.effects.entries.is_empty(),
                    "{name}: a refusal makes no entry"
                );
                assert!(
                    processed.effects.events.is_empty(),
                    "{name}: a refusal raises nothing"
                );
                assert_eq!(book.wallet.balance(), balance_before, "{name}: balance");
                assert_eq!(book.pool_used, pool_before, "{name}: pool");
            }
            Want::Charged { amount, pool, .. } => {
                let amount = d(amount);
                let debits: Vec<_> = processed.effects.entries.iter().collect();
                if amount.is_zero() {
                    assert!(debits.is_empty(), "{name}: a zero charge makes no entry");
                } else {
                    assert_eq!(debits.len(), 1, "{name}: one debit");
                    assert_eq!(debits[0].amount, amount, "{name}: debit amount");
                    assert_eq!(debits[0].call_id.as_deref(), Some(call.call_id.as_str()));
                }
                assert_eq!(
                    book.wallet.balance(),
                    balance_before - amount,
                    "{name}: balance"
                );
                let month = book.month_of(call.start);
                let used = book.pool_used.get(&month).copied().unwrap_or(0);
                let before = pool_before.get(&month).copied().unwrap_or(0);
                assert_eq!(used - before, *pool, "{name}: pool minutes counted");
            }
        }
        book.wallet
            .check_invariant()
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

fn check(cases: &[(&str, CallRecord, Want)]) {
    check_with(&std_book, &std_card(), Mode::Bulk, cases);
}

fn no(reason: Reason) -> Want {
    Want::Refused(reason)
}

#[test]
fn fixture_numbers_have_the_expected_numbering_plan_country() {
    let cases = [
        (FR_TOLL, "FR"),
        (FR_TOLL_FREE, "FR"),
        (US_TOLL, "US"),
        (US_TOLL_FREE, "US"),
        (FR_FIXED, "FR"),
        (FR_MOBILE, "FR"),
        (US_NUM, "US"),
        (US_PREMIUM, "US"),
        (CA_NUM, "CA"),
        (JM_NUM, "JM"),
        (PR_NUM, "PR"),
        (GB_NUM, "GB"),
        (DE_NUM, "DE"),
        (IT_NUM, "IT"),
        (AE_NUM, "AE"),
        (JP_NUM, "JP"),
    ];
    for (number, want) in cases {
        assert_eq!(
            NumberPlan::global().classify(e164(number)),
            PlanAnswer::Country(country(want)),
            "{number}"
        );
    }
    assert_eq!(
        NumberPlan::global().classify(e164(INTL_FREEPHONE)),
        PlanAnswer::NonGeographic
    );
    // The fixture's zone A facts, from the country table.
    for (code, zone_a) in [
        ("FR", true),
        ("GB", true),
        ("US", true),
        ("PR", true),
        ("AE", false),
        ("JM", false),
    ] {
        assert_eq!(countries().is_zone_a(country(code)), zone_a, "{code}");
    }
}

#[test]
fn c18_c19_who_pays_for_each_kind_of_call() {
    // 125 s is 3 minutes under 60/60 (C6: 60 + ceil(65/60)*60 = 180 s) and M = 3 pool minutes.
    check(&[
        (
            "C18 subscription organizer, toll dial-in: included",
            dial_in("c", SUB, FR_TOLL, FR_MOBILE, T, 125),
            charge(Included, Subscription, "0", 0, 0),
        ),
        (
            "C18 pay-per-minute organizer, toll dial-in: FR toll 0.03 x 3 = 0.09",
            dial_in("c", PPM, FR_TOLL, FR_MOBILE, T, 125),
            charge(Credits, PayPerMinute, "0.09", 0, 180),
        ),
        (
            "C18 pay-per-minute organizer, US toll number: US toll 0.02 x 3 = 0.06",
            dial_in("c", PPM, US_TOLL, US_NUM, T, 125),
            charge(Credits, PayPerMinute, "0.06", 0, 180),
        ),
        (
            "C18 subscription organizer, toll-free: credits 0.05 x 3 = 0.15, MCOPSTNPP",
            dial_in("c", SUB, FR_TOLL_FREE, FR_MOBILE, T, 125),
            charge(Credits, Pstnpp, "0.15", 0, 180),
        ),
        (
            "C18 pay-per-minute organizer, toll-free: 0.05 x 3 = 0.15, MCOMEETACPEA",
            dial_in("c", PPM, FR_TOLL_FREE, FR_MOBILE, T, 125),
            charge(Credits, PayPerMinute, "0.15", 0, 180),
        ),
        (
            "C19 toll-free of a subscription organizer without MCOPSTNPP",
            dial_in("c", BARE, FR_TOLL_FREE, FR_MOBILE, T, 125),
            no(Reason::CreditsLicenseMissing),
        ),
        (
            "C18 toll-free dial-in disabled for the organizer",
            dial_in("c", NOTOLLFREE, FR_TOLL_FREE, FR_MOBILE, T, 125),
            no(Reason::TollFreeDisabled),
        ),
        (
            "C18 toll_free_dial_in=false does not affect toll numbers",
            dial_in("c", NOTOLLFREE, FR_TOLL, FR_MOBILE, T, 125),
            charge(Included, Subscription, "0", 0, 0),
        ),
        (
            "C18 organizer without a conferencing license",
            dial_out("c", NOLICENSE, FR_FIXED, T, 125),
            no(Reason::OrganizerNotEnabled),
        ),
        (
            "C30 organizer unknown to the tenant is organizer_not_enabled",
            dial_out("c", GHOST, FR_FIXED, T, 125),
            no(Reason::OrganizerNotEnabled),
        ),
        (
            "C18 subscription organizer, Zone A not premium: the pool pays 3 minutes",
            dial_out("c", SUB, FR_FIXED, T, 125),
            charge(Pool, Subscription, "0", 3, 180),
        ),
        (
            "C32 a pool-only call needs neither MCOPSTNPP nor credits",
            dial_out("c", BARE, FR_FIXED, T, 125),
            charge(Pool, Subscription, "0", 3, 180),
        ),
        (
            "C18 Zone A premium is never pool: 1.00 x 3 = 3.00",
            dial_out("c", SUB, US_PREMIUM, T, 125),
            charge(Credits, Pstnpp, "3.00", 0, 180),
        ),
        (
            "C18 non-Zone-A destination: credits 0.30 x 3 = 0.90",
            dial_out("c", SUB, AE_NUM, T, 125),
            charge(Credits, Pstnpp, "0.90", 0, 180),
        ),
        (
            "C19 credit dial-out without MCOPSTNPP",
            dial_out("c", BARE, AE_NUM, T, 125),
            no(Reason::CreditsLicenseMissing),
        ),
        (
            "C18 pay-per-minute organizer never uses the pool: 0.024 x 3 = 0.072 -> 0.07",
            dial_out("c", PPM, FR_FIXED, T, 125),
            charge(Credits, PayPerMinute, "0.07", 0, 180),
        ),
        (
            "C7 longest prefix +336 wins over +33: 0.11 x 3 = 0.33",
            dial_out("c", PPM, FR_MOBILE, T, 125),
            charge(Credits, PayPerMinute, "0.33", 0, 180),
        ),
        (
            "C7 connection fee: 0.05 + 0.02 x 3 = 0.11",
            dial_out("c", PPM, GB_NUM, T, 125),
            charge(Credits, PayPerMinute, "0.11", 0, 180),
        ),
        (
            "C6 C7 30/6 with fee: B = 30 + ceil(95/6)*6 = 126; 0.10 + 0.02*126/60 = 0.142 -> 0.14",
            dial_out("c", PPM, DE_NUM, T, 125),
            charge(Credits, PayPerMinute, "0.14", 0, 126),
        ),
        (
            "C8 a non-geographic number is valid; not Zone A so credits: 0.01 x 3 = 0.03",
            dial_out("c", SUB, INTL_FREEPHONE, T, 125),
            charge(Credits, Pstnpp, "0.03", 0, 180),
        ),
    ]);
}

#[test]
fn c33_us_canada_add_on() {
    check(&[
        (
            "C33 add-on covers US, no rate, no pool",
            dial_out("c", ADDON, US_NUM, T, 125),
            charge(AddOn, DialOutUs, "0", 0, 0),
        ),
        (
            "C33 add-on covers CA",
            dial_out("c", ADDON, CA_NUM, T, 125),
            charge(AddOn, DialOutUs, "0", 0, 0),
        ),
        (
            "C33 add-on covers US premium numbers",
            dial_out("c", ADDON, US_PREMIUM, T, 125),
            charge(AddOn, DialOutUs, "0", 0, 0),
        ),
        (
            "C33 +1 876 Jamaica is not covered; not Zone A: 0.20 x 3 = 0.60",
            dial_out("c", ADDON, JM_NUM, T, 125),
            charge(Credits, Pstnpp, "0.60", 0, 180),
        ),
        (
            "C33 +1 787 Puerto Rico is not covered; Zone A so the pool pays",
            dial_out("c", ADDON, PR_NUM, T, 125),
            charge(Pool, Subscription, "0", 3, 180),
        ),
        (
            "C33 whatever the conferencing license: pay-per-minute organizer with the add-on",
            dial_out("c", PPM_ADDON, CA_NUM, T, 125),
            charge(AddOn, DialOutUs, "0", 0, 0),
        ),
        (
            "C33 pay-per-minute organizer with add-on to Jamaica pays credits 0.60",
            dial_out("c", PPM_ADDON, JM_NUM, T, 125),
            charge(Credits, PayPerMinute, "0.60", 0, 180),
        ),
        (
            "C33 without the add-on a US call of a subscription organizer uses the pool",
            dial_out("c", SUB, US_NUM, T, 125),
            charge(Pool, Subscription, "0", 3, 180),
        ),
        (
            "C33 without the add-on a pay-per-minute organizer pays 0.01 x 3 = 0.03",
            dial_out("c", PPM, US_NUM, T, 125),
            charge(Credits, PayPerMinute, "0.03", 0, 180),
        ),
    ]);
    // C30: an add-on call needs no rate (an empty card).
    check_with(
        &std_book,
        &RateCard::empty(currency("EUR")),
        Mode::Bulk,
        &[(
            "C30 add-on call with no rate card at all",
            dial_out("c", ADDON, US_NUM, T, 125),
            charge(AddOn, DialOutUs, "0", 0, 0),
        )],
    );
}

#[test]
fn c16_c17_dial_out_policies() {
    check(&[
        (
            "C17 disabled policy refuses dial-out",
            dial_out("c", DISABLED, FR_FIXED, T, 125),
            no(Reason::PolicyDisabled),
        ),
        (
            "C17 domestic policy refuses GB for a FR organizer",
            dial_out("c", DOMESTIC, GB_NUM, T, 125),
            no(Reason::PolicyDomesticOnly),
        ),
        (
            "C16 domestic policy allows FR for a FR organizer",
            dial_out("c", DOMESTIC, FR_FIXED, T, 125),
            charge(Pool, Subscription, "0", 3, 180),
        ),
        (
            "C17 zone_a policy refuses AE",
            dial_out("c", ZONEA, AE_NUM, T, 125),
            no(Reason::PolicyZoneAOnly),
        ),
        (
            "C17 zone_a policy refuses +1 876 (JM is not Zone A)",
            dial_out("c", ZONEA, JM_NUM, T, 125),
            no(Reason::PolicyZoneAOnly),
        ),
        (
            "C17 zone_a policy refuses a non-geographic destination",
            dial_out("c", ZONEA, INTL_FREEPHONE, T, 125),
            no(Reason::PolicyZoneAOnly),
        ),
        (
            "C16 zone_a policy allows GB",
            dial_out("c", ZONEA, GB_NUM, T, 125),
            charge(Pool, Subscription, "0", 3, 180),
        ),
        (
            "C16 zone_a policy allows a US premium number, paid by credits 3.00",
            dial_out("c", ZONEA, US_PREMIUM, T, 125),
            charge(Credits, Pstnpp, "3.00", 0, 180),
        ),
        (
            "C16 domestic compares with the usage location (GB), not the tenant country (FR)",
            dial_out("c", ROAMER, FR_FIXED, T, 125),
            no(Reason::PolicyDomesticOnly),
        ),
        (
            "C16 domestic organizer located in GB may call GB",
            dial_out("c", ROAMER, GB_NUM, T, 125),
            charge(Pool, Subscription, "0", 3, 180),
        ),
        (
            "C30 policy is checked before the add-on",
            dial_out("c", DOM_ADDON, US_NUM, T, 125),
            no(Reason::PolicyDomesticOnly),
        ),
        (
            "C16 policies do not apply to dial-in",
            dial_in("c", DISABLED, FR_TOLL, GB_NUM, T, 125),
            charge(Included, Subscription, "0", 0, 0),
        ),
    ]);
}

#[test]
fn c16_tenant_default_policy_is_followed_by_users_without_their_own() {
    let make = || {
        let mut book = std_fx()
            .default_policy("tag:DialoutCPCDisabledPSTNDomestic")
            .book();
        fund(&mut book, FUNDED, FUNDED_AT);
        book
    };
    check_with(
        &make,
        &std_card(),
        Mode::Bulk,
        &[
            (
                "C16 user without a policy follows the tenant default (disabled)",
                dial_out("c", SUB, FR_FIXED, T, 125),
                no(Reason::PolicyDisabled),
            ),
            (
                "C16 a user's own policy wins over the tenant default (domestic)",
                dial_out("c", DOMESTIC, FR_FIXED, T, 125),
                charge(Pool, Subscription, "0", 3, 180),
            ),
        ],
    );
}

#[test]
fn c8_c9_c30_c38_numbers_records_and_missing_rates() {
    let mut late = dial_out("c", PPM, FR_FIXED, T, 125);
    late.end = plus(late.start, -1);
    let mut no_destination = dial_out("c", SUB, FR_FIXED, T, 125);
    no_destination.destination_number.clear();
    // 60.9 s of wall time: duration 60 (rounded down), one minute.
    let mut fractional = dial_out("c", PPM, FR_FIXED, T, 0);
    fractional.end = fractional
        .start
        .checked_add(SignedDuration::from_millis(60_900))
        .unwrap();
    let mut dial_out_bad_caller = dial_out("c", SUB, FR_FIXED, T, 125);
    dial_out_bad_caller.caller_number = "+1 416 555 01".into();
    let mut dial_out_bad_service = dial_out("c", SUB, FR_FIXED, T, 125);
    dial_out_bad_service.service_number = "+999 1234 5678".into();
    check(&[
        (
            "C8 destination not in the numbering plan",
            dial_out("c", SUB, "+33 1", T, 125),
            no(Reason::InvalidNumber),
        ),
        (
            "C8 destination without a plus",
            dial_out("c", SUB, "0142685301", T, 125),
            no(Reason::InvalidNumber),
        ),
        (
            "C8 spaces, dashes and dots are stripped",
            dial_out("c", SUB, "+33-1-42.68.53.01", T, 125),
            charge(Pool, Subscription, "0", 3, 180),
        ),
        (
            "C8 C30 invalid caller number on a dial-in",
            dial_in("c", SUB, FR_TOLL, "+1 416 555 01", T, 125),
            no(Reason::InvalidNumber),
        ),
        (
            "C30 invalid caller number on a dial-out record",
            dial_out_bad_caller,
            no(Reason::InvalidNumber),
        ),
        (
            "C30 invalid service number on a dial-out record",
            dial_out_bad_service,
            no(Reason::InvalidNumber),
        ),
        (
            "C30 dial-in to a number the tenant does not have",
            dial_in("c", SUB, "+33 1 42 68 53 99", FR_MOBILE, T, 125),
            no(Reason::UnknownServiceNumber),
        ),
        (
            "C9 no rate for the destination is an error, not a zero charge",
            dial_out("c", PPM, IT_NUM, T, 125),
            no(Reason::NoRate),
        ),
        (
            "C30 a dial-out needs a rate even when the pool would pay (IT is Zone A)",
            dial_out("c", SUB, IT_NUM, T, 125),
            no(Reason::NoRate),
        ),
        (
            "C38 end before start is invalid_record",
            late,
            no(Reason::InvalidRecord),
        ),
        (
            "C38 a dial-out without a destination is invalid_record",
            no_destination,
            no(Reason::InvalidRecord),
        ),
        (
            "C38 duration is rounded down: 60.9 s is 60 s, one minute 0.024 -> 0.02",
            fractional,
            charge(Credits, PayPerMinute, "0.02", 0, 60),
        ),
    ]);
}

#[test]
fn c30_invalid_number_covers_the_destination_of_a_dial_in_record() {
    let mut call = dial_in("c", SUB, FR_TOLL, FR_MOBILE, T, 125);
    call.destination_number = "+33 1".into();
    check(&[(
        "C30 invalid_number covers any number on the record: a dial-in with a bad destination",
        call,
        no(Reason::InvalidNumber),
    )]);
}

#[test]
fn c6_c31_zero_and_short_calls() {
    check(&[
        (
            "C31 0 s pool call: accepted, 0 pool minutes",
            dial_out("c", SUB, FR_FIXED, T, 0),
            charge(Pool, Subscription, "0", 0, 0),
        ),
        (
            "C31 C7 0 s credit call: no connection fee (0.05 on GB), costs 0, no entry",
            dial_out("c", PPM, GB_NUM, T, 0),
            charge(Credits, PayPerMinute, "0", 0, 0),
        ),
        (
            "C31 0 s included dial-in",
            dial_in("c", SUB, FR_TOLL, FR_MOBILE, T, 0),
            charge(Included, Subscription, "0", 0, 0),
        ),
        (
            "C31 0 s call still refused by policy",
            dial_out("c", DISABLED, FR_FIXED, T, 0),
            no(Reason::PolicyDisabled),
        ),
        (
            "C31 0 s call still refused for an invalid number",
            dial_out("c", SUB, "+33 1", T, 0),
            no(Reason::InvalidNumber),
        ),
        (
            "C31 0 s call still refused without MCOPSTNPP",
            dial_out("c", BARE, AE_NUM, T, 0),
            no(Reason::CreditsLicenseMissing),
        ),
        (
            "C31 0 s call still needs a rate",
            dial_out("c", PPM, IT_NUM, T, 0),
            no(Reason::NoRate),
        ),
        (
            "C6 1 s is one minute: 0.024 -> 0.02",
            dial_out("c", PPM, FR_FIXED, T, 1),
            charge(Credits, PayPerMinute, "0.02", 0, 60),
        ),
        (
            "C6 60 s is one minute: 0.024 -> 0.02",
            dial_out("c", PPM, FR_FIXED, T, 60),
            charge(Credits, PayPerMinute, "0.02", 0, 60),
        ),
        (
            "C6 61 s is two minutes: 0.024 x 2 = 0.048 -> 0.05",
            dial_out("c", PPM, FR_FIXED, T, 61),
            charge(Credits, PayPerMinute, "0.05", 0, 120),
        ),
        (
            "C21 a 61 s pool call uses ceil(61/60) = 2 minutes",
            dial_out("c", SUB, FR_FIXED, T, 61),
            charge(Pool, Subscription, "0", 2, 120),
        ),
        (
            "C6 30/6, 30 s is the first block: 0.10 + 0.02*30/60 = 0.11",
            dial_out("c", PPM, DE_NUM, T, 30),
            charge(Credits, PayPerMinute, "0.11", 0, 30),
        ),
        (
            "C6 30/6, 31 s is 36 s: 0.10 + 0.02*36/60 = 0.112 -> 0.11",
            dial_out("c", PPM, DE_NUM, T, 31),
            charge(Credits, PayPerMinute, "0.11", 0, 36),
        ),
        (
            "C6 30/6, 61 s is 30 + 6*6 = 66 s: 0.10 + 0.022 = 0.122 -> 0.12",
            dial_out("c", PPM, DE_NUM, T, 61),
            charge(Credits, PayPerMinute, "0.12", 0, 66),
        ),
        (
            "C21 pool minutes follow 60/60 whatever the increments: DE 61 s uses 2 minutes, B = 66",
            dial_out("c", SUB, DE_NUM, T, 61),
            charge(Pool, Subscription, "0", 2, 66),
        ),
    ]);
}

#[test]
fn c6_billable_seconds_table() {
    // (duration, first, increment, billable) by C6's formula f + ceil((d - f) / i) * i.
    let cases = [
        (0, 60, 60, 0),
        (1, 60, 60, 60),
        (59, 60, 60, 60),
        (61, 60, 60, 120),
        (3601, 60, 60, 3660),
        (0, 30, 6, 0),
        (29, 30, 6, 30),
        (36, 30, 6, 36),
        (37, 30, 6, 42),
        (3601, 30, 6, 3606),
        (61, 1, 1, 61),
        (1, 1, 1, 1),
        (61, 0, 60, 120),
    ];
    for (duration, first, inc, want) in cases {
        assert_eq!(
            billable_seconds(duration, first, inc),
            want,
            "C6 d={duration} f={first} i={inc}"
        );
    }
}

/// One-row cards for the rounding cases: a pay-per-minute organizer calls FR_FIXED under the row.
fn check_cost(cases: &[(&str, &str, &str, Row, i64, &'static str, u64)]) {
    for (name, currency_code, tenant_country, row, seconds, want, billable) in cases {
        let card = card(currency_code, &[*row]);
        let mut book = TenantFx::new("t", tenant_country, currency_code)
            .purchase(PayPerMinute, 1)
            .wallet()
            .user(PPM, &[PayPerMinute])
            .book();
        fund(&mut book, "1000", FUNDED_AT);
        let mut rater = Rater::new(countries(), &card);
        let call = dial_out("c", PPM, FR_FIXED, T, *seconds);
        let processed = rate(&mut book, &mut rater, &call);
        assert_outcome(
            name,
            &processed,
            charge(Credits, PayPerMinute, want, 0, *billable),
        );
        assert_eq!(
            book.wallet.balance(),
            d("1000") - d(want),
            "{name}: balance"
        );
        // The same amount straight from the rate entry.
        let entry = entry(row);
        assert_eq!(
            entry.cost(*seconds as u64, currency(currency_code)),
            d(want),
            "{name}: RateEntry::cost"
        );
    }
}

#[test]
fn c7_exact_cost_rounded_once_half_away_from_zero() {
    const F: &str = CARD_FROM;
    check_cost(&[
        (
            "C7 sub-cent 60/60, 61 s: 0.0043 x 2 = 0.0086 -> 0.01",
            "USD",
            "US",
            (
                "dial_out", "+33", "", "FR", "FR", false, "0.0043", "0", 60, 60, F,
            ),
            61,
            "0.01",
            120,
        ),
        (
            "C7 sub-cent 1/1, 61 s: 0.0043 x 61/60 = 0.0043716.. -> 0.00",
            "USD",
            "US",
            (
                "dial_out", "+33", "", "FR", "FR", false, "0.0043", "0", 1, 1, F,
            ),
            61,
            "0.00",
            61,
        ),
        (
            "C7 rounded once per call, not per minute: 0.0043 x 3600/60 = 0.258 -> 0.26",
            "USD",
            "US",
            (
                "dial_out", "+33", "", "FR", "FR", false, "0.0043", "0", 1, 1, F,
            ),
            3600,
            "0.26",
            3600,
        ),
        (
            "C7 30/6, 3601 s: B = 30 + 596*6 = 3606; 0.0043 x 3606/60 = 0.25843 -> 0.26",
            "USD",
            "US",
            (
                "dial_out", "+33", "", "FR", "FR", false, "0.0043", "0", 30, 6, F,
            ),
            3601,
            "0.26",
            3606,
        ),
        (
            "C7 half away from zero: 0.025 -> 0.03 (half-even would give 0.02)",
            "USD",
            "US",
            (
                "dial_out", "+33", "", "FR", "FR", false, "0.0250", "0", 60, 60, F,
            ),
            60,
            "0.03",
            60,
        ),
        (
            "C7 half away from zero: 0.01 x 30/60 = 0.005 -> 0.01",
            "EUR",
            "FR",
            (
                "dial_out", "+33", "", "FR", "FR", false, "0.0100", "0", 1, 1, F,
            ),
            30,
            "0.01",
            30,
        ),
        (
            "C7 fee and usage rounded together: 0.004 + 0.001 = 0.005 -> 0.01",
            "EUR",
            "FR",
            (
                "dial_out", "+33", "", "FR", "FR", false, "0.0010", "0.004", 60, 60, F,
            ),
            60,
            "0.01",
            60,
        ),
        (
            "C7 JPY has 0 decimals: 2.5 -> 3",
            "JPY",
            "JP",
            (
                "dial_out", "+33", "", "FR", "FR", false, "2.5", "0", 60, 60, F,
            ),
            60,
            "3",
            60,
        ),
        (
            "C7 JPY 30/6, 45 s: B = 30 + 3*6 = 48; 1.3 x 48/60 = 1.04 -> 1",
            "JPY",
            "JP",
            (
                "dial_out", "+33", "", "FR", "FR", false, "1.3", "0", 30, 6, F,
            ),
            45,
            "1",
            48,
        ),
        (
            "C7 JPY 1/1, 61 s: 0.7 x 61/60 = 0.7116.. -> 1",
            "JPY",
            "JP",
            (
                "dial_out", "+33", "", "FR", "FR", false, "0.7", "0", 1, 1, F,
            ),
            61,
            "1",
            61,
        ),
        (
            "C7 KWD has 3 decimals: 0.0125 -> 0.013",
            "KWD",
            "KW",
            (
                "dial_out", "+33", "", "FR", "FR", false, "0.0125", "0", 60, 60, F,
            ),
            60,
            "0.013",
            60,
        ),
        (
            "C7 KWD 1/1, 61 s: 0.0043 x 61/60 = 0.0043716.. -> 0.004",
            "KWD",
            "KW",
            (
                "dial_out", "+33", "", "FR", "FR", false, "0.0043", "0", 1, 1, F,
            ),
            61,
            "0.004",
            61,
        ),
        (
            "C7 KWD 60/60, 61 s: 0.0043 x 2 = 0.0086 -> 0.009",
            "KWD",
            "KW",
            (
                "dial_out", "+33", "", "FR", "FR", false, "0.0043", "0", 60, 60, F,
            ),
            61,
            "0.009",
            120,
        ),
    ]);
}

#[test]
fn c35_toll_free_origin() {
    check(&[
        (
            "C35 caller from CA gets the (US, CA) rate: 0.04 x 3 = 0.12",
            dial_in("c", PPM, US_TOLL_FREE, CA_NUM, T, 125),
            charge(Credits, PayPerMinute, "0.12", 0, 180),
        ),
        (
            "C35 caller from US falls back to (US, *): 0.06 x 3 = 0.18",
            dial_in("c", PPM, US_TOLL_FREE, US_NUM, T, 125),
            charge(Credits, PayPerMinute, "0.18", 0, 180),
        ),
        (
            "C35 +1 876 is JM by the numbering plan, not CA: (US, *) 0.18",
            dial_in("c", PPM, US_TOLL_FREE, JM_NUM, T, 125),
            charge(Credits, PayPerMinute, "0.18", 0, 180),
        ),
        (
            "C35 no caller number matches only *: 0.18",
            dial_in("c", PPM, US_TOLL_FREE, "", T, 125),
            charge(Credits, PayPerMinute, "0.18", 0, 180),
        ),
    ]);
    // Only an origin-specific entry: a record without a caller number has no rate.
    let only_ca = std_rows(&[("dial_in_toll_free", "US", "CA")], &[]);
    check_with(
        &std_book,
        &card("EUR", &only_ca),
        Mode::Bulk,
        &[
            (
                "C35 no caller number does not match an origin-specific entry",
                dial_in("c", PPM, US_TOLL_FREE, "", T, 125),
                no(Reason::NoRate),
            ),
            (
                "C35 a US caller does not match the CA entry",
                dial_in("c", PPM, US_TOLL_FREE, US_NUM, T, 125),
                no(Reason::NoRate),
            ),
            (
                "C35 a CA caller matches it: 0.12",
                dial_in("c", PPM, US_TOLL_FREE, CA_NUM, T, 125),
                charge(Credits, PayPerMinute, "0.12", 0, 180),
            ),
        ],
    );
}

#[test]
fn c36_rate_card_versions_are_complete_and_chosen_by_start() {
    let rows: &[Row] = &[
        (
            "dial_out",
            "+33",
            "",
            "France",
            "FR",
            false,
            "0.0200",
            "0",
            60,
            60,
            "2026-01-01T00:00:00Z",
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
            "2026-01-01T00:00:00Z",
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
            "2026-01-01T00:00:00Z",
        ),
        (
            "dial_out",
            "+33",
            "",
            "France",
            "FR",
            false,
            "0.0300",
            "0",
            60,
            60,
            "2026-06-01T00:00:00Z",
        ),
    ];
    let card = card("EUR", rows);
    check_with(
        &std_book,
        &card,
        Mode::Bulk,
        &[
            (
                "C36 no version in force before the first one",
                dial_out("c", PPM, FR_FIXED, "2025-12-31T23:59:59Z", 300),
                no(Reason::NoRate),
            ),
            (
                "C36 the first version applies from its instant: 0.02 x 5 = 0.10",
                dial_out("c", PPM, FR_FIXED, "2026-01-01T00:00:00Z", 300),
                charge(Credits, PayPerMinute, "0.10", 0, 300),
            ),
            (
                "C36 a call is rated with the version at its start for its whole duration: 0.11 x 5 = 0.55",
                dial_out("c", PPM, FR_MOBILE, "2026-05-31T23:58:00Z", 300),
                charge(Credits, PayPerMinute, "0.55", 0, 300),
            ),
            (
                "C36 nothing is inherited: +336 falls to the new +33, 0.03 x 5 = 0.15",
                dial_out("c", PPM, FR_MOBILE, "2026-06-01T00:00:00Z", 300),
                charge(Credits, PayPerMinute, "0.15", 0, 300),
            ),
            (
                "C36 the toll rate of the old version applies before June: 0.03 x 5 = 0.15",
                dial_in("c", PPM, FR_TOLL, FR_MOBILE, "2026-05-31T23:59:59Z", 300),
                charge(Credits, PayPerMinute, "0.15", 0, 300),
            ),
            (
                "C36 the June version has no toll rate: no_rate",
                dial_in("c", PPM, FR_TOLL, FR_MOBILE, "2026-06-01T00:00:00Z", 300),
                no(Reason::NoRate),
            ),
            (
                "C30 an included toll dial-in needs no rate at all",
                dial_in("c", SUB, FR_TOLL, FR_MOBILE, "2025-06-01T00:00:00Z", 300),
                charge(Included, Subscription, "0", 0, 0),
            ),
        ],
    );
    // The applied rate names its version.
    let mut book = std_book();
    let mut rater = Rater::new(countries(), &card);
    let p = rate(
        &mut book,
        &mut rater,
        &dial_out("v", PPM, FR_MOBILE, "2026-05-31T23:58:00Z", 300),
    );
    let applied = charged(&p)
        .rate
        .clone()
        .expect("a credit call names its rate");
    assert_eq!(applied.effective_from, ts("2026-01-01T00:00:00Z"));
    assert_eq!(applied.rate_per_minute, d("0.1100"));
    assert_eq!(applied.name, "France mobile");
}

#[test]
fn c39_domestic_or_international_compares_with_the_usage_location() {
    let card = std_card();
    // (name, call, other party's country, domestic, category)
    type Case = (
        &'static str,
        CallRecord,
        Option<&'static str>,
        Option<bool>,
        Category,
    );
    let cases: [Case; 7] = [
        (
            "C39 dial-in from a FR caller, FR organizer: domestic",
            dial_in("c", SUB, FR_TOLL, FR_MOBILE, T, 60),
            Some("FR"),
            Some(true),
            Category::DialInToll,
        ),
        (
            "C39 dial-in from a GB caller: international",
            dial_in("c", SUB, FR_TOLL, GB_NUM, T, 60),
            Some("GB"),
            Some(false),
            Category::DialInToll,
        ),
        (
            "C39 dial-in without a caller number: empty",
            dial_in("c", SUB, FR_TOLL, "", T, 60),
            None,
            None,
            Category::DialInToll,
        ),
        (
            "C39 toll-free dial-in from CA: international",
            dial_in("c", SUB, US_TOLL_FREE, CA_NUM, T, 60),
            Some("CA"),
            Some(false),
            Category::DialInTollFree,
        ),
        (
            "C39 dial-out to FR from a FR organizer: domestic",
            dial_out("c", SUB, FR_MOBILE, T, 60),
            Some("FR"),
            Some(true),
            Category::DialOut,
        ),
        (
            "C39 dial-out to GB from a FR organizer: international",
            dial_out("c", SUB, GB_NUM, T, 60),
            Some("GB"),
            Some(false),
            Category::DialOut,
        ),
        (
            "C39 dial-out to GB from an organizer located in GB: domestic",
            dial_out("c", ROAMER, GB_NUM, T, 60),
            Some("GB"),
            Some(true),
            Category::DialOut,
        ),
    ];
    for (name, call, other, domestic, category) in cases {
        let mut book = std_book();
        let mut rater = Rater::new(countries(), &card);
        let p = rate(&mut book, &mut rater, &call);
        let c = charged(&p);
        assert_eq!(c.other_country.as_deref(), other, "{name}");
        assert_eq!(c.domestic, domestic, "{name}");
        assert_eq!(c.category, category, "{name}");
    }
}

/// One C30 case: a tenant, a card, how the wallet is prepared, a mode, a call with several
/// faults, and the first fault in the order of the rule.
struct OrderCase {
    name: &'static str,
    fx: fn() -> TenantFx,
    rows: &'static [Row],
    /// A funding made before the call (none: balance 0).
    funding: Option<&'static str>,
    mode: Mode,
    call: CallRecord,
    want: Want,
}

fn check_order(cases: Vec<OrderCase>) {
    for case in cases {
        let name = case.name;
        let card = if case.rows.is_empty() {
            RateCard::empty(currency("EUR"))
        } else {
            card("EUR", case.rows)
        };
        let make = || {
            let mut book = (case.fx)().book();
            if let Some(amount) = case.funding {
                fund(&mut book, amount, FUNDED_AT);
            }
            book
        };
        check_with(
            &make,
            &card,
            case.mode,
            &[(name, case.call.clone(), case.want)],
        );
    }
}

#[test]
fn c30_order_of_refusal_checks() {
    use Mode::{Bulk, RealTime};
    let std: fn() -> TenantFx = std_fx;
    let no_wallet: fn() -> TenantFx = || std_fx().no_wallet();
    let debt_card: &[Row] = STD_ROWS;
    check_order(vec![
        OrderCase {
            name: "C30 invalid caller number first, before an unknown organizer and an unknown service number",
            fx: std,
            rows: STD_ROWS,
            funding: None,
            mode: Bulk,
            call: dial_in("c", GHOST, "+33 1 42 68 53 99", "+1 416 555 01", T, 60),
            want: no(Reason::InvalidNumber),
        },
        OrderCase {
            name: "C30 invalid destination before organizer_not_enabled",
            fx: std,
            rows: STD_ROWS,
            funding: None,
            mode: Bulk,
            call: dial_out("c", NOLICENSE, "+33 1", T, 60),
            want: no(Reason::InvalidNumber),
        },
        OrderCase {
            name: "C30 unknown organizer before unknown_service_number",
            fx: std,
            rows: STD_ROWS,
            funding: None,
            mode: Bulk,
            call: dial_in("c", GHOST, "+33 1 42 68 53 99", FR_MOBILE, T, 60),
            want: no(Reason::OrganizerNotEnabled),
        },
        OrderCase {
            name: "C30 organizer_not_enabled before policy and no_rate",
            fx: std,
            rows: &[],
            funding: None,
            mode: Bulk,
            call: dial_out("c", NOLICENSE, IT_NUM, T, 60),
            want: no(Reason::OrganizerNotEnabled),
        },
        OrderCase {
            name: "C30 unknown_service_number before toll_free_disabled",
            fx: std,
            rows: STD_ROWS,
            funding: None,
            mode: Bulk,
            call: dial_in("c", NOTOLLFREE, "+33 1 42 68 53 99", FR_MOBILE, T, 60),
            want: no(Reason::UnknownServiceNumber),
        },
        OrderCase {
            name: "C30 toll_free_disabled before no_rate",
            fx: std,
            rows: &[],
            funding: None,
            mode: Bulk,
            call: dial_in("c", NOTOLLFREE, FR_TOLL_FREE, FR_MOBILE, T, 60),
            want: no(Reason::TollFreeDisabled),
        },
        OrderCase {
            name: "C30 policy before no_rate",
            fx: std,
            rows: &[],
            funding: None,
            mode: Bulk,
            call: dial_out("c", DISABLED, IT_NUM, T, 60),
            want: no(Reason::PolicyDisabled),
        },
        OrderCase {
            name: "C30 policy before the pool (GB would be pool-funded)",
            fx: std,
            rows: STD_ROWS,
            funding: None,
            mode: Bulk,
            call: dial_out("c", DOMESTIC, GB_NUM, T, 60),
            want: no(Reason::PolicyDomesticOnly),
        },
        OrderCase {
            name: "C30 no_rate before credits_not_set_up",
            fx: no_wallet,
            rows: &[],
            funding: None,
            mode: Bulk,
            call: dial_out("c", BARE, AE_NUM, T, 60),
            want: no(Reason::NoRate),
        },
        OrderCase {
            name: "C30 credits_not_set_up before credits_license_missing",
            fx: no_wallet,
            rows: STD_ROWS,
            funding: None,
            mode: Bulk,
            call: dial_out("c", BARE, AE_NUM, T, 60),
            want: no(Reason::CreditsNotSetUp),
        },
        OrderCase {
            name: "C30 credits_not_set_up for a pay-per-minute toll dial-in",
            fx: no_wallet,
            rows: STD_ROWS,
            funding: None,
            mode: Bulk,
            call: dial_in("c", PPM, FR_TOLL, FR_MOBILE, T, 60),
            want: no(Reason::CreditsNotSetUp),
        },
        OrderCase {
            name: "C30 credits_license_missing before insufficient_credits (real time, balance 0)",
            fx: std,
            rows: STD_ROWS,
            funding: None,
            mode: RealTime,
            call: dial_out("c", BARE, AE_NUM, T, 60),
            want: no(Reason::CreditsLicenseMissing),
        },
        OrderCase {
            name: "C14 insufficient_credits last: real time, wallet set up, balance 0",
            fx: std,
            rows: STD_ROWS,
            funding: None,
            mode: RealTime,
            call: dial_out("c", SUB, AE_NUM, T, 60),
            want: no(Reason::InsufficientCredits),
        },
        OrderCase {
            name: "C14 C31 a 0 s credit call in real time with balance 0 is refused too",
            fx: std,
            rows: STD_ROWS,
            funding: None,
            mode: RealTime,
            call: dial_out("c", PPM, GB_NUM, T, 0),
            want: no(Reason::InsufficientCredits),
        },
        OrderCase {
            name: "C14 real time toll-free dial-in with balance 0",
            fx: std,
            rows: STD_ROWS,
            funding: None,
            mode: RealTime,
            call: dial_in("c", SUB, FR_TOLL_FREE, FR_MOBILE, T, 60),
            want: no(Reason::InsufficientCredits),
        },
        OrderCase {
            name: "C14 real time: an included toll dial-in needs no credit",
            fx: std,
            rows: STD_ROWS,
            funding: None,
            mode: RealTime,
            call: dial_in("c", SUB, FR_TOLL, FR_MOBILE, T, 60),
            want: charge(Included, Subscription, "0", 0, 0),
        },
        OrderCase {
            name: "C14 real time: a pool-only call needs no credit",
            fx: std,
            rows: STD_ROWS,
            funding: None,
            mode: RealTime,
            call: dial_out("c", BARE, FR_FIXED, T, 60),
            want: charge(Pool, Subscription, "0", 1, 60),
        },
        OrderCase {
            name: "C14 real time: an add-on call needs no credit",
            fx: std,
            rows: STD_ROWS,
            funding: None,
            mode: RealTime,
            call: dial_out("c", ADDON, US_NUM, T, 60),
            want: charge(AddOn, DialOutUs, "0", 0, 0),
        },
        OrderCase {
            name: "C29 bulk never refuses for insufficient credits: balance 0 goes to -0.30",
            fx: std,
            rows: debt_card,
            funding: None,
            mode: Bulk,
            call: dial_out("c", SUB, AE_NUM, T, 60),
            want: charge(Credits, Pstnpp, "0.30", 0, 60),
        },
        OrderCase {
            name: "C13 C14 real time with a positive balance (50) may go negative: 0.30 x 200 = 60.00",
            fx: std,
            rows: STD_ROWS,
            funding: Some("50"),
            mode: RealTime,
            call: dial_out("c", SUB, AE_NUM, T, 200 * 60),
            want: charge(Credits, Pstnpp, "60.00", 0, 12000),
        },
        OrderCase {
            name: "C30 no_rate for a pay-per-minute toll dial-in with an empty card",
            fx: std,
            rows: &[],
            funding: None,
            mode: Bulk,
            call: dial_in("c", PPM, FR_TOLL, FR_MOBILE, T, 60),
            want: no(Reason::NoRate),
        },
    ]);
}

#[test]
fn c14_real_time_refuses_a_negative_balance() {
    let card = std_card();
    let mut rater = Rater::new(countries(), &card);
    let mut book = std_fx().book();
    fund(&mut book, "50", FUNDED_AT);
    // Bulk: 0.30 x 200 = 60.00 against 50: balance -10.00 (C13, C29).
    let p = rate(
        &mut book,
        &mut rater,
        &dial_out("debt", SUB, AE_NUM, T, 200 * 60),
    );
    assert_eq!(charged(&p).balance_after, Some(d("-10.00")));
    assert_eq!(book.wallet.balance(), d("-10.00"));
    let later = "2026-03-02T12:00:00Z";
    let p = book.process_call(
        &mut rater,
        &dial_out("rt", SUB, AE_NUM, later, 60),
        Mode::RealTime,
    );
    assert_eq!(
        refused(&p),
        Reason::InsufficientCredits,
        "C14 balance -10 is not strictly positive"
    );
    assert!(p.effects.entries.is_empty());
    assert_eq!(book.wallet.balance(), d("-10.00"));
    // The same record in bulk is charged (C29): -10.00 - 0.30 = -10.30.
    let p = book.process_call(
        &mut rater,
        &dial_out("bulk", SUB, AE_NUM, later, 60),
        Mode::Bulk,
    );
    assert_eq!(charged(&p).amount, d("0.30"));
    assert_eq!(book.wallet.balance(), d("-10.30"));
}

#[test]
fn c14_c28_real_time_does_not_count_a_lot_that_expired_before_the_call() {
    // One lot of 50 bought 2026-01-01T00:00Z (UTC tenant) expires 2027-01-01T00:00Z (C10). A real
    // time call starting after that instant finds no usable lot: the available balance is 0, so
    // the call must be refused (C14), even though nothing has yet brought the wallet to that
    // instant.
    let card = std_card();
    let mut rater = Rater::new(countries(), &card);
    let mut book = std_fx().book();
    fund(&mut book, "50", "2026-01-01T00:00:00Z");
    let call = dial_out("late", SUB, AE_NUM, "2027-01-01T00:00:01Z", 60);
    let p = book.process_call(&mut rater, &call, Mode::RealTime);
    assert_eq!(
        p.outcome.reason(),
        Some(Reason::InsufficientCredits),
        "C14 with only an expired lot"
    );
}

#[test]
fn c5_charges_attach_to_the_organizer_whatever_the_upn_case() {
    // The organizer is matched case-insensitively (UPNs are case-insensitive).
    let card = std_card();
    let cases = [
        ("ASCII upper case", "SUB@Contoso.FR"),
        ("surrounding spaces", "  sub@contoso.fr "),
    ];
    for (name, organizer) in cases {
        let mut book = std_book();
        let mut rater = Rater::new(countries(), &card);
        let p = rate(
            &mut book,
            &mut rater,
            &dial_out("c", organizer, FR_FIXED, T, 125),
        );
        assert_outcome(name, &p, charge(Pool, Subscription, "0", 3, 180));
    }
}

#[test]
fn c5_non_ascii_upn_is_matched_case_insensitively() {
    // A user created as "élodie@contoso.fr" organizes a call reported as "Élodie@contoso.fr": the
    // same user (UPNs are case-insensitive), so the pool pays.
    let card = std_card();
    let mut book = std_fx().user("élodie@contoso.fr", &[Subscription]).book();
    let mut rater = Rater::new(countries(), &card);
    let p = rate(
        &mut book,
        &mut rater,
        &dial_out("c", "Élodie@contoso.fr", FR_FIXED, T, 125),
    );
    assert_outcome(
        "C5 non-ASCII UPN case",
        &p,
        charge(Pool, Subscription, "0", 3, 180),
    );
}

#[test]
fn c5_a_upn_with_a_title_case_letter_is_found_as_written() {
    // "ǅ" (U+01C5) is a title-case letter: not upper case, yet lower-cased to "ǆ". The user
    // "ǅane@contoso.fr" organizes a call reported with the same UPN: the same user, so the
    // pool pays.
    let card = std_card();
    let mut book = std_fx().user("ǅane@contoso.fr", &[Subscription]).book();
    let mut rater = Rater::new(countries(), &card);
    let p = rate(
        &mut book,
        &mut rater,
        &dial_out("c", "ǅane@contoso.fr", FR_FIXED, T, 125),
    );
    assert_outcome(
        "C5 title-case UPN",
        &p,
        charge(Pool, Subscription, "0", 3, 180),
    );
}

#[test]
fn c8_separators_in_service_and_caller_numbers() {
    let card = std_card();
    let mut book = std_book();
    let mut rater = Rater::new(countries(), &card);
    let p = rate(
        &mut book,
        &mut rater,
        &dial_in("c", PPM, "+33.1.42-68-53 00", "+44 20-7946.0018", T, 125),
    );
    assert_outcome(
        "C8 separators in dial-in numbers",
        &p,
        charge(Credits, PayPerMinute, "0.09", 0, 180),
    );
    assert_eq!(charged(&p).other_country.as_deref(), Some("GB"));
}

#[test]
fn tenant_in_another_agreement_rates_the_same_way() {
    // Rating does not depend on the agreement beyond licensing: an online_subscription tenant's
    // subscription organizer uses the pool and credits like any other.
    let card = std_card();
    let mut book = TenantFx::new("fabrikam", "DE", "EUR")
        .agreement(Agreement::OnlineSubscription)
        .purchase(Subscription, 1)
        .purchase(Pstnpp, 1)
        .wallet()
        .user(SUB, &[Subscription, Pstnpp])
        .book();
    fund(&mut book, "50", FUNDED_AT);
    let mut rater = Rater::new(countries(), &card);
    let p = rate(&mut book, &mut rater, &dial_out("a", SUB, FR_FIXED, T, 125));
    assert_outcome("pool", &p, charge(Pool, Subscription, "0", 3, 180));
    let p = rate(&mut book, &mut rater, &dial_out("b", SUB, AE_NUM, T, 125));
    assert_outcome("credits", &p, charge(Credits, Pstnpp, "0.90", 0, 180));
    assert_eq!(book.wallet.balance(), d("49.10"));
}

#[test]
fn c18_the_add_on_alone_does_not_enable_an_organizer() {
    // C18 comes first: the add-on pays only for an organizer with a conferencing license.
    let card = std_card();
    let mut book = std_fx()
        .purchase(DialOutUs, 4)
        .user("addononly@contoso.fr", &[DialOutUs])
        .book();
    let mut rater = Rater::new(countries(), &card);
    let p = rate(
        &mut book,
        &mut rater,
        &dial_out("c", "addononly@contoso.fr", US_NUM, T, 60),
    );
    assert_eq!(refused(&p), Reason::OrganizerNotEnabled);
}
