//! The plan advisor (C18 to C21, C32): every scenario against a hand computation from the
//! standard card's rates, the shared pool changing the cheapest assignment, month boundaries
//! in the tenant's time zone, and the advisor agreeing with the engine's own rating.

use crate::common;

use common::*;
use minutely_core::Reason;
use minutely_core::advisor::{
    Advice, AdviceInput, ChargedCall, LicensePrices, Period, Plan, Search, advise, check_price,
};
use minutely_core::calendar::Month;
use minutely_core::directory::{Agreement, NumberKind, Sku, Tenant};
use minutely_core::engine::TenantBook;
use minutely_core::rating::{CallRecord, Rater};
use rust_decimal::Decimal;

const A: &str = "alice@fabrikam.fr";
const B: &str = "bob@fabrikam.fr";
const C: &str = "carol@fabrikam.fr";

/// Alice on the subscription with credits, Bob pay-per-minute, Carol on the subscription with
/// no usage; 2 MCOMEETADD purchased (a 120-minute pool, C20).
fn fabrikam() -> TenantFx {
    use Sku::*;
    TenantFx::new("fabrikam", "FR", "EUR")
        .purchase(Subscription, 2)
        .purchase(PayPerMinute, 1)
        .purchase(Credits, 1)
        .wallet()
        .user(A, &[Subscription, Credits])
        .user(B, &[PayPerMinute])
        .user(C, &[Subscription])
        .number(FR_TOLL, NumberKind::Toll)
        .number(FR_TOLL_FREE, NumberKind::TollFree)
}

/// January 2026: Alice 200 minutes to a French mobile (0.11/min), then Bob 100 minutes to one;
/// Bob's toll dial-in of 10 minutes (0.03/min), Alice's toll-free dial-in of 10 minutes
/// (0.05/min).
fn january() -> Vec<CallRecord> {
    vec![
        dial_out("c1", A, FR_MOBILE, "2026-01-05T09:00:00Z", 200 * 60),
        dial_out("c2", B, FR_MOBILE, "2026-01-06T09:00:00Z", 100 * 60),
        dial_in("c3", B, FR_TOLL, FR_FIXED, "2026-01-07T09:00:00Z", 10 * 60),
        dial_in(
            "c4",
            A,
            FR_TOLL_FREE,
            FR_FIXED,
            "2026-01-08T09:00:00Z",
            10 * 60,
        ),
    ]
}

/// The calls as the engine charges them in bulk (C29), refused ones left out like the advisor's
/// callers do.
fn charged_calls(tenant: &Tenant, calls: &[CallRecord]) -> Vec<ChargedCall> {
    let card = std_card();
    let mut rater = Rater::new(countries(), &card);
    let mut book = TenantBook::new(tenant.clone());
    fund(&mut book, "1000", "2025-12-01T00:00:00Z");
    let mut sorted = calls.to_vec();
    minutely_core::engine::canonical_order(&mut sorted);
    sorted
        .iter()
        .filter_map(|call| match rate(&mut book, &mut rater, call).outcome {
            minutely_core::engine::Outcome::Charged(c) => Some(ChargedCall {
                record: call.clone(),
                amount: c.amount,
                pool_minutes: c.pool_minutes,
            }),
            minutely_core::engine::Outcome::Refused(_) => None,
        })
        .collect()
}

fn prices(pairs: &[(Sku, &str)]) -> LicensePrices {
    let mut p = LicensePrices::new(currency("EUR"));
    for (sku, price) in pairs {
        p.set(*sku, d(price)).expect("a valid price");
    }
    p
}

fn run(tenant: &Tenant, calls: &[ChargedCall], p: &LicensePrices, from: &str, to: &str) -> Advice {
    let card = std_card();
    let period = Period::new(Month::parse(from).unwrap(), Month::parse(to).unwrap()).unwrap();
    advise(&AdviceInput {
        tenant,
        countries: countries(),
        card: &card,
        prices: p,
        period,
        calls,
    })
    .expect("the test's amounts are representable")
}

/// C20, C21: the cheapest plan is never dearer than either uniform plan, and it is the sum of
/// its users' recommended costs.
fn assert_cheapest_is_sound(advice: &Advice, price: &str) {
    assert!(
        advice.cheapest.total <= advice.all_ppm.total,
        "price {price}"
    );
    assert!(
        advice.cheapest.total <= advice.all_subscription.total,
        "price {price}"
    );
    let per_user: Decimal = advice
        .users
        .iter()
        .map(|u| u.cost_recommended.unwrap())
        .sum();
    assert_eq!(per_user, advice.cheapest.total, "price {price}");
}

fn user<'a>(advice: &'a Advice, upn: &str) -> &'a minutely_core::advisor::UserAdvice {
    advice
        .users
        .iter()
        .find(|u| u.upn == upn)
        .unwrap_or_else(|| panic!("{upn} is not advised"))
}

#[test]
fn c18_c19_c20_c32_scenarios_equal_the_hand_computation_and_the_pool_is_shared() {
    let tenant = fabrikam().build();
    let calls = charged_calls(&tenant, &january());
    let p = prices(&[
        (Sku::Subscription, "3.00"),
        (Sku::PayPerMinute, "0"),
        (Sku::Credits, "1.00"),
    ]);
    let advice = run(&tenant, &calls, &p, "2026-01", "2026-01");

    // Actual: the pool of 2 x 60 minutes pays 120 of Alice's 200 minutes, credits the other
    // 80 at 0.11 (C32); Bob pays 100 x 0.11 and 10 x 0.03; the toll-free call 10 x 0.05.
    // Licenses: 2 x 3.00 + 1 x 0 + 1 x 1.00.
    assert_eq!(
        advice.actual.usage_cost,
        d("8.80") + d("11.00") + d("0.30") + d("0.50")
    );
    assert_eq!(advice.actual.license_cost, d("7.00"));
    assert_eq!(advice.actual.total, d("27.60"));
    assert_eq!(advice.actual.pool_minutes_used, 120);

    // (a) all pay-per-minute: every minute by credits at its rate (C18), licenses free.
    assert!(advice.all_ppm.is_available());
    assert_eq!(
        advice.all_ppm.usage_cost,
        d("22.00") + d("11.00") + d("0.30") + d("0.50")
    );
    assert_eq!(advice.all_ppm.license_cost, d("0"));
    assert_eq!(advice.all_ppm.total, d("33.80"));
    assert_eq!(advice.all_ppm.pool_minutes_used, 0);

    // (b) all subscription: 3 x 60 = 180 pool minutes (C20); Alice's call starts first and
    // takes all 180, paying 20 x 0.11 by credits (C32); Bob's then finds the pool empty and is
    // an ordinary credit call; the toll dial-in is included; the toll-free call is credits.
    // Alice and Bob need MCOPSTNPP (C19), Carol does not.
    assert_eq!(
        advice.all_subscription.usage_cost,
        d("2.20") + d("11.00") + d("0.50")
    );
    assert_eq!(advice.all_subscription.license_cost, d("9.00") + d("2.00"));
    assert_eq!(advice.all_subscription.total, d("24.70"));
    assert_eq!(advice.all_subscription.pool_minutes_used, 180);
    assert_eq!(advice.all_subscription.pool_minutes_size, 180);
    assert_eq!(advice.all_subscription.license_months[&Sku::Credits], 2);

    // (c) of the eight assignments, all subscription is the cheapest: Carol has no calls but
    // her 60 pool minutes lower Alice's cost by more than her license costs.
    assert_eq!(advice.cheapest.total, d("24.70"));
    assert!(advice.cheapest.total <= advice.all_ppm.total);
    assert!(advice.cheapest.total <= advice.all_subscription.total);
    assert_eq!(advice.search, Search::Exhaustive);
    assert_eq!(advice.saving, d("27.60") - d("24.70"));
    let carol = user(&advice, C);
    assert_eq!(carol.recommended, Some(Plan::Subscription));
    assert_eq!((carol.calls, carol.minutes), (0, 0));
    assert_eq!(carol.cost_ppm, Some(d("0")));
    assert_eq!(carol.cost_subscription, Some(d("3.00")));
    let alice = user(&advice, A);
    assert!(alice.credits_license);
    assert_eq!((alice.calls, alice.minutes), (2, 210));
    assert_eq!(alice.cost_ppm, Some(d("22.50")));
    assert_eq!(
        alice.cost_subscription,
        Some(d("3.00") + d("1.00") + d("2.20") + d("0.50"))
    );
    assert_eq!(alice.current, Some(Sku::Subscription));
    assert_eq!(user(&advice, B).current, Some(Sku::PayPerMinute));
    assert!(advice.missing_prices.is_empty());
    assert_eq!(advice.unrated_calls, 0);
}

#[test]
fn c20_dear_subscriptions_make_every_organizer_pay_per_minute() {
    let tenant = fabrikam().build();
    let calls = charged_calls(&tenant, &january());
    let p = prices(&[
        (Sku::Subscription, "8.00"),
        (Sku::PayPerMinute, "0"),
        (Sku::Credits, "1.00"),
    ]);
    let advice = run(&tenant, &calls, &p, "2026-01", "2026-01");
    // (b): 3 x 8 + 2 x 1 licenses, the same 13.70 of usage.
    assert_eq!(advice.all_subscription.total, d("39.70"));
    assert_eq!(advice.all_ppm.total, d("33.80"));
    assert_eq!(advice.cheapest.total, d("33.80"));
    for u in &advice.users {
        assert_eq!(u.recommended, Some(Plan::PayPerMinute), "{}", u.upn);
        assert!(!u.credits_license);
    }
}

/// Whatever the prices, the cheapest is never above (a) or (b) and is the sum of its users.
#[test]
fn c20_c21_the_search_never_loses_to_either_uniform_plan() {
    let tenant = fabrikam().build();
    let calls = charged_calls(&tenant, &january());
    for price in ["0", "1.00", "3.00", "4.50", "6.00", "12.00"] {
        let p = prices(&[(Sku::Subscription, price), (Sku::Credits, "0.50")]);
        let advice = run(&tenant, &calls, &p, "2026-01", "2026-01");
        assert_cheapest_is_sound(&advice, price);
        // PPM's price is not set: listed, counted as 0.
        assert!(advice.missing_prices.contains(&Sku::PayPerMinute));
    }
}

#[test]
fn c21_a_call_counts_against_the_month_it_started_in_in_the_tenant_time_zone() {
    use Sku::*;
    let build = |tz: &str| {
        TenantFx::new("tz", "FR", "EUR")
            .tz(tz)
            .purchase(Subscription, 1)
            .purchase(Credits, 1)
            .wallet()
            .user(A, &[Subscription, Credits])
            .build()
    };
    // 31 January 23:30 UTC is 1 February 00:30 in Paris.
    let records = vec![
        dial_out("m1", A, FR_MOBILE, "2026-01-15T10:00:00Z", 60 * 60),
        dial_out("m2", A, FR_MOBILE, "2026-01-31T23:30:00Z", 60 * 60),
    ];
    let p = prices(&[(Subscription, "2.00"), (PayPerMinute, "0"), (Credits, "0")]);
    let paris = build("Europe/Paris");
    let advice = run(
        &paris,
        &charged_calls(&paris, &records),
        &p,
        "2026-01",
        "2026-02",
    );
    assert_eq!(advice.all_subscription.usage_cost, d("0"));
    assert_eq!(advice.all_subscription.pool_minutes_used, 120);
    assert_eq!(advice.all_subscription.pool_minutes_size, 120);
    assert_eq!(advice.all_subscription.license_cost, d("4.00"));
    let utc = build("UTC");
    let advice = run(
        &utc,
        &charged_calls(&utc, &records),
        &p,
        "2026-01",
        "2026-02",
    );
    // Both in January: the second finds the pool empty and costs 60 x 0.11.
    assert_eq!(advice.all_subscription.usage_cost, d("6.60"));
    assert_eq!(advice.all_subscription.pool_minutes_used, 60);
    // A period that holds only February sees only the Paris call of 1 February.
    let advice = run(
        &paris,
        &charged_calls(&paris, &records),
        &p,
        "2026-02",
        "2026-02",
    );
    assert_eq!(advice.calls, 1);
}

#[test]
fn c21_the_pool_counts_whole_minutes() {
    use Sku::*;
    let tenant = TenantFx::new("w", "FR", "EUR")
        .purchase(Subscription, 1)
        .purchase(Credits, 1)
        .wallet()
        .user(A, &[Subscription, Credits])
        .build();
    // 61 seconds use 2 pool minutes; 29 x 2 = 58, so the third call finds 0 minutes left.
    let mut records: Vec<CallRecord> = (0..29)
        .map(|i| {
            dial_out(
                &format!("w{i:02}"),
                A,
                FR_MOBILE,
                &format!("2026-03-02T10:{i:02}:00Z"),
                61,
            )
        })
        .collect();
    records.push(dial_out("x", A, FR_MOBILE, "2026-03-03T10:00:00Z", 90));
    records.push(dial_out("y", A, FR_MOBILE, "2026-03-04T10:00:00Z", 60));
    let p = prices(&[(Subscription, "1")]);
    let advice = run(
        &tenant,
        &charged_calls(&tenant, &records),
        &p,
        "2026-03",
        "2026-03",
    );
    // 58 minutes, then "x" needs 2 with 2 left, then "y" pays 1 minute of credits.
    assert_eq!(advice.all_subscription.pool_minutes_used, 60);
    assert_eq!(advice.all_subscription.usage_cost, d("0.11"));
}

#[test]
fn c1_a_tenant_without_volume_licensing_cannot_be_advised_pay_per_minute() {
    use Sku::*;
    let tenant = TenantFx::new("os", "FR", "EUR")
        .agreement(Agreement::OnlineSubscription)
        .purchase(Subscription, 1)
        .purchase(Credits, 1)
        .wallet()
        .user(A, &[Subscription, Credits])
        .build();
    let records = vec![dial_out(
        "o1",
        A,
        FR_MOBILE,
        "2026-01-05T09:00:00Z",
        90 * 60,
    )];
    let p = prices(&[(Subscription, "8.00"), (PayPerMinute, "0"), (Credits, "0")]);
    let advice = run(
        &tenant,
        &charged_calls(&tenant, &records),
        &p,
        "2026-01",
        "2026-01",
    );
    let (reason, _) = advice.all_ppm.unavailable.clone().expect("not available");
    assert_eq!(reason, Reason::PpmRequiresVolumeLicensing);
    assert!(advice.all_subscription.is_available());
    // 60 from the pool, 30 x 0.11 by credits (C32).
    assert_eq!(advice.all_subscription.total, d("8.00") + d("3.30"));
    assert_eq!(advice.cheapest.total, advice.all_subscription.total);
    assert_eq!(user(&advice, A).recommended, Some(Plan::Subscription));
}

/// The same rating code as real time: a tenant that already is all subscription (purchased as
/// many as assigned) or all pay-per-minute is re-rated to exactly what the engine charged.
#[test]
fn c18_c32_re_rating_the_actual_plan_reproduces_the_ledger() {
    use Sku::*;
    let mut records = Vec::new();
    for day in 1..=27 {
        let at = |h: u32| format!("2026-04-{day:02}T{h:02}:00:00Z");
        let org = [A, B, C][day as usize % 3];
        let seconds = 37 * day as i64 + 400;
        records.push(dial_out(
            &format!("m{day}"),
            org,
            FR_MOBILE,
            &at(8),
            seconds,
        ));
        records.push(dial_out(&format!("g{day}"), org, GB_NUM, &at(9), seconds));
        records.push(dial_out(&format!("a{day}"), org, AE_NUM, &at(10), seconds));
        records.push(dial_in(
            &format!("t{day}"),
            org,
            FR_TOLL,
            DE_NUM,
            &at(11),
            seconds,
        ));
        records.push(dial_in(
            &format!("f{day}"),
            org,
            FR_TOLL_FREE,
            "",
            &at(12),
            seconds,
        ));
    }
    let p = prices(&[(Subscription, "5"), (PayPerMinute, "1"), (Credits, "2")]);
    for plan in [Plan::Subscription, Plan::PayPerMinute] {
        let skus: &[Sku] = match plan {
            Plan::Subscription => &[Subscription, Credits],
            Plan::PayPerMinute => &[PayPerMinute],
        };
        let tenant = TenantFx::new("same", "FR", "EUR")
            .purchase(plan.sku(), 3)
            .purchase(Credits, 3)
            .wallet()
            .user(A, skus)
            .user(B, skus)
            .user(C, skus)
            .number(FR_TOLL, NumberKind::Toll)
            .number(FR_TOLL_FREE, NumberKind::TollFree)
            .build();
        let calls = charged_calls(&tenant, &records);
        assert_eq!(calls.len(), records.len());
        let advice = run(&tenant, &calls, &p, "2026-04", "2026-04");
        let scenario = match plan {
            Plan::Subscription => &advice.all_subscription,
            Plan::PayPerMinute => &advice.all_ppm,
        };
        assert_eq!(scenario.usage_cost, advice.actual.usage_cost, "{plan:?}");
        assert_eq!(
            scenario.pool_minutes_used, advice.actual.pool_minutes_used,
            "{plan:?}"
        );
        assert!(advice.cheapest.total <= scenario.total);
    }
}

#[test]
fn prices_are_money_and_periods_are_bounded() {
    let eur = currency("EUR");
    assert!(check_price(eur, Sku::Subscription, d("8.00")).is_ok());
    assert!(check_price(eur, Sku::Subscription, d("0")).is_ok());
    let negative = check_price(eur, Sku::Subscription, d("-1")).unwrap_err();
    assert!(negative.contains("MCOMEETADD") && negative.contains("negative"));
    assert!(
        check_price(eur, Sku::Credits, d("1.005"))
            .unwrap_err()
            .contains("decimal places")
    );
    assert!(check_price(currency("JPY"), Sku::Credits, d("1.5")).is_err());
    assert!(check_price(eur, Sku::Credits, d("1000000")).is_err());

    assert_eq!(Month::parse("2026-01"), Ok(month(2026, 1)));
    for bad in [
        "2026-13",
        "2026-1",
        "26-01",
        "2026/01",
        "",
        "2026-00",
        "2026-01-01",
    ] {
        assert!(Month::parse(bad).is_err(), "{bad:?}");
    }
    assert!(Period::new(month(2025, 1), month(2025, 12)).is_ok());
    assert!(Period::new(month(2025, 1), month(2026, 1)).is_err());
    assert!(Period::new(month(2025, 3), month(2025, 2)).is_err());
    assert_eq!(
        Period::new(month(2025, 11), month(2026, 2))
            .unwrap()
            .months(),
        vec![
            month(2025, 11),
            month(2025, 12),
            month(2026, 1),
            month(2026, 2)
        ]
    );
}

/// More users than are priced in every combination: steepest descent from the best start
/// (C20: the shared pool makes each user's cost depend on the others' plans) ends in a local
/// optimum that is never dearer than either uniform plan.
#[test]
fn c20_c32_many_users_are_searched_locally_and_never_lose_to_a_uniform_plan() {
    use Sku::*;
    let upns: Vec<String> = (0..20).map(|i| format!("u{i:02}@many.fr")).collect();
    let mut fx = TenantFx::new("many", "FR", "EUR")
        .purchase(Subscription, 10)
        .purchase(PayPerMinute, 10)
        .purchase(Credits, 10)
        .wallet()
        .number(FR_TOLL, NumberKind::Toll)
        .number(FR_TOLL_FREE, NumberKind::TollFree);
    for (i, upn) in upns.iter().enumerate() {
        let skus: &[Sku] = if i % 2 == 0 {
            &[Subscription, Credits]
        } else {
            &[PayPerMinute]
        };
        fx = fx.user(upn, skus);
    }
    let tenant = fx.build();
    let mut records = Vec::new();
    for (i, upn) in upns.iter().enumerate() {
        // User i talks i x 9 minutes to French mobiles and i x 2 minutes on the toll bridge.
        let day = i % 27 + 1;
        let start = format!("2026-05-{day:02}T{:02}:00:00Z", i % 24);
        records.push(dial_out(
            &format!("o{i}"),
            upn,
            FR_MOBILE,
            &start,
            (i as i64) * 9 * 60,
        ));
        let start = format!("2026-05-{day:02}T{:02}:30:00Z", i % 24);
        records.push(dial_in(
            &format!("i{i}"),
            upn,
            FR_TOLL,
            FR_FIXED,
            &start,
            (i as i64) * 120,
        ));
    }
    let calls = charged_calls(&tenant, &records);
    for price in ["2.00", "5.00", "9.00"] {
        let p = prices(&[
            (Subscription, price),
            (PayPerMinute, "0.50"),
            (Credits, "0.25"),
        ]);
        let advice = run(&tenant, &calls, &p, "2026-05", "2026-05");
        assert_eq!(advice.search, Search::LocalOptimum, "price {price}");
        assert_cheapest_is_sound(&advice, price);
        assert_eq!(advice.users.len(), 20);
    }
}
