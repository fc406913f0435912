//! The CGRateS reader on small tariff plans written for these tests; the plans CGRateS ships
//! are read by the binary's tests (crates/minutely/tests/it/cgrates.rs).

use super::*;
use minutely_core::money::Currency;
use minutely_core::numbers::E164;
use rust_decimal::Decimal;

const PROFILE: &str = "#Tenant,Category,Subject,ActivationTime,RatingPlanId,RatesFallbackSubject
acme,call,*any,2025-01-01T00:00:00Z,RP_A,
";
const PLAN: &str = "#Id,DestinationRatesId,TimingTag,Weight
RP_A,DR_A,*any,10
";
const DESTINATIONS: &str = "#Id,Prefix
DE,+49
DE_MOBILE,+4917
";

fn eur() -> Currency {
    Currency::parse("EUR").unwrap()
}

fn any_profile() -> Selection {
    Selection {
        tenant: None,
        category: "call".into(),
        subject: None,
        digits_are_e164: false,
        any_prefixes: Vec::new(),
    }
}

/// Imports a plan of these files (name, contents) with `selection`.
fn run(files: &[(&str, &str)], selection: &Selection) -> Result<Import, ImportError> {
    let mut set = Files::default();
    for (name, text) in files {
        assert!(
            set.set(name, text.as_bytes()),
            "{name} is a file of the plan"
        );
    }
    import(&set, eur(), selection)
}

/// A plan of one destination rate over `DESTINATIONS`, with these rate rows (after the header)
/// and this destination-rate tail (`RoundingMethod,RoundingDecimals,MaxCost,MaxCostStrategy`).
fn one_rate(rates: &str, rounding: &str) -> Result<Import, ImportError> {
    let rates = format!("#Id,ConnectFee,Rate,RateUnit,RateIncrement,GroupIntervalStart\n{rates}");
    let drs = format!(
        "#Id,DestinationId,RatesTag,RoundingMethod,RoundingDecimals,MaxCost,MaxCostStrategy\nDR_A,DE,RT_A,{rounding}\n"
    );
    run(
        &[
            (DESTINATIONS_CSV, DESTINATIONS),
            (RATES_CSV, &rates),
            (DESTINATION_RATES_CSV, &drs),
            (RATING_PLANS_CSV, PLAN),
            (RATING_PROFILES_CSV, PROFILE),
        ],
        &any_profile(),
    )
}

/// The issues as `file:line`.
fn places(import: &Import) -> Vec<String> {
    import
        .issues
        .iter()
        .map(|i| format!("{}:{}", i.file, i.line))
        .collect()
}

/// C7: the cost of a call of `duration_s` to `number` at `at`, with the imported card.
fn cost(import: &Import, number: &str, at: &str, duration_s: u64) -> Decimal {
    let version = import
        .card
        .version_at(at.parse().unwrap())
        .expect("a version");
    let entry = version
        .dial_out(E164::parse(number).unwrap())
        .expect("a rate");
    entry.cost(duration_s, eur())
}

fn d(text: &str) -> Decimal {
    text.parse().unwrap()
}

#[test]
fn durations_are_nanoseconds_or_go_durations() {
    let s = 1_000_000_000;
    let cases = [
        ("60s", Some(60 * s)),
        ("1m", Some(60 * s)),
        ("1m30s", Some(90 * s)),
        ("1.5s", Some(1_500_000_000)),
        ("100ms", Some(100_000_000)),
        ("1024", Some(1024)),
        ("0", Some(0)),
        ("0s", Some(0)),
        ("1h", Some(3600 * s)),
        ("", None),
        ("1.5", None),
        ("1x", None),
        ("s", None),
        ("0.5ns", None),
        ("999999h", None),
    ];
    for (text, expected) in cases {
        assert_eq!(parse_duration_ns(text).ok(), expected, "{text:?}");
    }
}

#[test]
fn c6_c7_one_group_is_its_rate_per_minute_fee_and_increment() {
    // 0.30 per minute in 30-second steps, 0.05 to connect.
    let import = one_rate("RT_A,0.05,0.3,60s,30s,0s\n", "*middle,2,0,").unwrap();
    assert_eq!(places(&import), Vec::<String>::new());
    let entry = &import.card.entries().next().unwrap();
    assert_eq!(
        (entry.rate_per_minute, entry.connection_fee),
        (d("0.3"), d("0.05"))
    );
    assert_eq!((entry.first_block_s, entry.increment_s), (30, 30));
    // 31 s bill as 60 s (C6): 0.05 + 0.30.
    assert_eq!(
        cost(&import, "+4930123456", "2025-02-01T00:00:00Z", 31),
        d("0.35")
    );
    // No connection fee on a call that did not connect (C7).
    assert_eq!(
        cost(&import, "+4930123456", "2025-02-01T00:00:00Z", 0),
        d("0")
    );
    // Before the activation there is no version: no rate (C9), never a zero charge.
    assert!(
        import
            .card
            .version_at("2024-12-31T23:59:59Z".parse().unwrap())
            .is_none()
    );
}

#[test]
fn c6_two_groups_of_one_price_are_a_first_block_then_an_increment() {
    // 1.20 per minute: the first minute whole, then by the second (1.2 per 60s = 0.02 per 1s).
    let import = one_rate("RT_A,0.2,1.2,1m,1m,0\nRT_A,,0.02,1s,1s,1m\n", "*up,4,,").unwrap();
    assert_eq!(places(&import), Vec::<String>::new());
    let entry = import.card.entries().next().unwrap();
    assert_eq!((entry.first_block_s, entry.increment_s), (60, 1));
    assert_eq!(entry.rate_per_minute, d("1.2"));
    let at = "2025-02-01T00:00:00Z";
    assert_eq!(cost(&import, "+4930123456", at, 45), d("1.40"));
    assert_eq!(cost(&import, "+4930123456", at, 61), d("1.42"));
}

#[test]
fn groups_with_different_prices_or_unaligned_increments_are_reported_at_their_line() {
    let import = one_rate(
        "RT_A,0.4,0.2,60s,60s,0s\nRT_A,0,0.1,60s,1s,60s\n",
        "*up,4,0,",
    )
    .unwrap();
    assert_eq!(places(&import), ["Rates.csv:3", "RatingProfiles.csv:2"]);
    assert!(import.issues[0].what.contains("different prices"));
    assert_eq!(import.card.entries().count(), 0);
    // 30-second steps to 60 s, then 10-second steps: not one first block.
    let import = one_rate(
        "RT_A,0,0.4,60s,30s,0s\nRT_A,0,0.4,60s,10s,60s\n",
        "*up,4,0,",
    )
    .unwrap();
    assert_eq!(places(&import), ["Rates.csv:3", "RatingProfiles.csv:2"]);
    // The first group starting after 0s leaves the first seconds unpriced.
    let import = one_rate("RT_A,0,0.05,60s,60s,60s\n", "*up,4,0,").unwrap();
    assert_eq!(places(&import), ["Rates.csv:2", "RatingProfiles.csv:2"]);
}

#[test]
fn a_rate_with_no_exact_price_per_minute_or_increment_in_seconds_is_reported() {
    // 0.01 per 7 s is 0.0857142857... per minute.
    let import = one_rate("RT_A,0,0.01,7s,7s,0s\n", "*middle,2,0,").unwrap();
    assert_eq!(places(&import), ["Rates.csv:2", "RatingProfiles.csv:2"]);
    assert!(import.issues[0].what.contains("per minute"));
    // An increment of 1 ns (an SMS or data unit) is not whole seconds.
    let import = one_rate("RT_A,0,0.01,1,1,0\n", "*middle,2,0,").unwrap();
    assert!(
        import
            .issues
            .iter()
            .any(|i| i.what.contains("increment 1ns"))
    );
    assert!(
        import
            .issues
            .iter()
            .any(|i| i.what.contains("largest rate"))
    );
    // A zero rate has a price per minute whatever its unit: a fee per call.
    let import = one_rate("RT_A,0.1,0,0,1s,0\n", "*up,4,,").unwrap();
    assert_eq!(places(&import), Vec::<String>::new());
    assert_eq!(
        cost(&import, "+4930123456", "2025-02-01T00:00:00Z", 3600),
        d("0.10")
    );
}

#[test]
fn c7_a_rounding_is_reported_only_where_it_can_change_a_charge() {
    // 0.01 per second: every charge is whole cents, so *up to 4 decimals changes nothing.
    assert!(
        one_rate("RT_A,0,0.6,60s,1s,0s\n", "*up,4,0,")
            .unwrap()
            .issues
            .is_empty()
    );
    // 0.01 per minute by the second: 7 s cost 0.00116..., *up 4 gives 0.0012, Minutely 0.00.
    let import = one_rate("RT_A,0,0.01,60s,1s,0s\n", "*up,5,0,").unwrap();
    assert_eq!(
        places(&import),
        ["DestinationRates.csv:2", "RatingProfiles.csv:2"]
    );
    assert!(import.issues[0].what.contains("rounding *up to 5 decimals"));
    // Half up to the minor unit, once (one group, fee in cents): Minutely's own rounding.
    assert!(
        one_rate("RT_A,0,0.01,60s,1s,0s\n", "*middle,2,0,")
            .unwrap()
            .issues
            .is_empty()
    );
    // Coarser than the currency: 0.01 per second rounded to whole units.
    let import = one_rate("RT_A,0,0.6,60s,1s,0s\n", "*middle,0,0,").unwrap();
    assert_eq!(
        places(&import),
        ["DestinationRates.csv:2", "RatingProfiles.csv:2"]
    );
}

#[test]
fn a_maximum_cost_is_reported() {
    let import = one_rate("RT_A,0,0.6,60s,1s,0s\n", "*up,4,0.12,*disconnect").unwrap();
    assert_eq!(
        places(&import),
        ["DestinationRates.csv:2", "RatingProfiles.csv:2"]
    );
    assert!(import.issues[0].what.contains("maximum cost of 0.12"));
}

/// A plan with two bindings of `DR_A` (+49, 0.60) and `DR_B` (+4917, 1.20) and these timings.
fn timed(plans: &str, timings: &str) -> Import {
    let rates = "#Id,ConnectFee,Rate,RateUnit,RateIncrement,GroupIntervalStart
RT_A,0,0.6,60s,1s,0s
RT_B,0,1.2,60s,1s,0s
";
    let drs = "#Id,DestinationId,RatesTag,RoundingMethod,RoundingDecimals,MaxCost,MaxCostStrategy
DR_A,DE,RT_A,*up,4,0,
DR_B,DE_MOBILE,RT_B,*up,4,0,
DR_C,DE_MOBILE,RT_A,*up,4,0,
";
    run(
        &[
            (DESTINATIONS_CSV, DESTINATIONS),
            (RATES_CSV, rates),
            (DESTINATION_RATES_CSV, drs),
            (RATING_PLANS_CSV, plans),
            (RATING_PROFILES_CSV, PROFILE),
            (TIMINGS_CSV, timings),
        ],
        &any_profile(),
    )
    .unwrap()
}

const TIMINGS: &str = "#Id,Years,Months,MonthDays,WeekDays,Time
ALWAYS,*any,*any,*any,*any,00:00:00
PEAK,*any,*any,*any,1;2;3;4;5,08:00:00
";

#[test]
fn only_timings_always_in_force_are_represented() {
    let import = timed(
        "#Id,DestinationRatesId,TimingTag,Weight\nRP_A,DR_A,ALWAYS,10\nRP_A,DR_B,PEAK,10\n",
        TIMINGS,
    );
    assert_eq!(places(&import), ["RatingPlans.csv:3"]);
    assert!(import.issues[0].what.contains("PEAK"));
    assert!(import.issues[0].what.contains("Timings.csv:3"));
    // Left out: the mobile prefix falls to +49's rate.
    let at = "2025-02-01T00:00:00Z";
    assert_eq!(cost(&import, "+4917012345678", at, 60), d("0.60"));
}

#[test]
fn the_heavier_binding_wins_and_equal_weights_with_different_prices_are_ambiguous() {
    let plans = "#Id,DestinationRatesId,TimingTag,Weight
RP_A,DR_A,*any,10
RP_A,DR_B,*any,20
RP_A,DR_C,*any,10
";
    let import = timed(plans, TIMINGS);
    assert!(import.issues.is_empty());
    let at = "2025-02-01T00:00:00Z";
    assert_eq!(cost(&import, "+4917012345678", at, 60), d("1.20"));
    let plans = "#Id,DestinationRatesId,TimingTag,Weight
RP_A,DR_A,*any,10
RP_A,DR_B,*any,10
RP_A,DR_C,*any,10
";
    let import = timed(plans, TIMINGS);
    assert_eq!(places(&import), ["RatingPlans.csv:3", "RatingPlans.csv:4"]);
}

#[test]
fn prefixes_must_be_e164_prefixes_of_one_country() {
    let cases = [
        ("+49", false, Ok("DE")),
        ("+4917", false, Ok("DE")),
        ("4917", false, Err("not an E.164 prefix")),
        ("4917", true, Ok("DE")),
        ("+1212", false, Err("shared by")),
        ("+0049", false, Err("the first not 0")),
        ("+800", false, Err("calling code of one country")),
        ("voicemail", true, Err("not an E.164 prefix")),
        ("+3", false, Err("calling code of one country")),
    ];
    for (prefix, digits, expected) in cases {
        let found = e164_prefix(prefix, digits).map(|(_, c)| c.to_string());
        match (found, expected) {
            (Ok(country), Ok(want)) => assert_eq!(country, want, "{prefix}"),
            (Err(what), Err(want)) => assert!(what.contains(want), "{prefix}: {what}"),
            (found, _) => panic!("{prefix}: {found:?}"),
        }
    }
}

#[test]
fn c36_each_activation_is_one_complete_version() {
    let profiles = "#Tenant,Category,Subject,ActivationTime,RatingPlanId,RatesFallbackSubject
acme,call,*any,2025-06-01T00:00:00Z,RP_B,
acme,call,*any,2025-01-01T00:00:00Z,RP_A,
acme,call,1001,2025-01-01T00:00:00Z,RP_A,*any
other,call,*any,2025-01-01T00:00:00Z,RP_A,
";
    let plans = "#Id,DestinationRatesId,TimingTag,Weight
RP_A,DR_A,*any,10
RP_A,DR_B,*any,10
RP_B,DR_A,*any,10
";
    let rates = "#Id,ConnectFee,Rate,RateUnit,RateIncrement,GroupIntervalStart
RT_A,0,0.6,60s,1s,0s
RT_B,0,1.2,60s,1s,0s
";
    let drs = "#Id,DestinationId,RatesTag,RoundingMethod,RoundingDecimals,MaxCost,MaxCostStrategy
DR_A,DE,RT_A,*up,4,0,
DR_B,DE_MOBILE,RT_B,*up,4,0,
";
    let files = [
        (DESTINATIONS_CSV, DESTINATIONS),
        (RATES_CSV, rates),
        (DESTINATION_RATES_CSV, drs),
        (RATING_PLANS_CSV, plans),
        (RATING_PROFILES_CSV, profiles),
    ];
    let mut selection = any_profile();
    let refused = run(&files, &selection).unwrap_err();
    assert!(refused.to_string().contains("--tenant"), "{refused}");
    selection.tenant = Some("acme".into());
    let import = run(&files, &selection).unwrap();
    assert_eq!(import.subject, "*any");
    assert_eq!(import.other_profiles, [4, 5]);
    assert_eq!(import.card.versions().len(), 2);
    let mobile = "+4917012345678";
    assert_eq!(cost(&import, mobile, "2025-05-31T23:59:59Z", 60), d("1.20"));
    // The June plan has no mobile prefix: nothing is inherited.
    assert_eq!(cost(&import, mobile, "2025-06-01T00:00:00Z", 60), d("0.60"));
    // A subject with a fallback: the fallback is not followed, and is reported.
    selection.subject = Some("1001".into());
    let import = run(&files, &selection).unwrap();
    assert_eq!(places(&import), ["RatingProfiles.csv:4"]);
    selection.subject = Some("1002".into());
    let refused = run(&files, &selection).unwrap_err().to_string();
    assert!(refused.contains("subjects: *any, 1001"), "{refused}");
}

#[test]
fn any_destination_is_priced_only_at_chosen_prefixes_and_loses_to_the_plans_own() {
    let drs = "#Id,DestinationId,RatesTag,RoundingMethod,RoundingDecimals,MaxCost,MaxCostStrategy
DR_A,*any,RT_A,*up,4,0,
DR_B,DE_MOBILE,RT_B,*up,4,0,
";
    let plans = "#Id,DestinationRatesId,TimingTag,Weight
RP_A,DR_A,*any,20
RP_A,DR_B,*any,10
";
    let rates = "#Id,ConnectFee,Rate,RateUnit,RateIncrement,GroupIntervalStart
RT_A,0,0.6,60s,1s,0s
RT_B,0,1.2,60s,1s,0s
";
    let files = [
        (DESTINATIONS_CSV, DESTINATIONS),
        (RATES_CSV, rates),
        (DESTINATION_RATES_CSV, drs),
        (RATING_PLANS_CSV, plans),
        (RATING_PROFILES_CSV, PROFILE),
    ];
    let mut selection = any_profile();
    let import = run(&files, &selection).unwrap();
    assert_eq!(places(&import), ["DestinationRates.csv:2"]);
    selection.any_prefixes = vec!["+49".into(), "+4917".into()];
    let import = run(&files, &selection).unwrap();
    assert!(import.issues.is_empty(), "{:?}", import.issues);
    let at = "2025-02-01T00:00:00Z";
    assert_eq!(cost(&import, "+4930123456", at, 60), d("0.60"));
    assert_eq!(cost(&import, "+4917012345678", at, 60), d("1.20"));
    selection.any_prefixes = vec!["49".into()];
    assert!(matches!(
        run(&files, &selection),
        Err(ImportError::Selection(_))
    ));
}

#[test]
fn malformed_rows_and_dangling_references_refuse_the_plan_naming_each() {
    let rates = "#Id,ConnectFee,Rate,RateUnit,RateIncrement,GroupIntervalStart
# a comment counts as a line
RT_A,0,abc,60s,1s,0s
RT_B,0,0.6,60s,1s
RT_C,-1,0.6,sixty,1s,0s
";
    let drs = "#Id,DestinationId,RatesTag,RoundingMethod,RoundingDecimals,MaxCost,MaxCostStrategy
DR_A,NOWHERE,RT_Z,*up,four,0,
";
    let plans = "#Id,DestinationRatesId,TimingTag,Weight\nRP_A,DR_A,LATER,10\n";
    let profiles = "#Tenant,Category,Subject,ActivationTime,RatingPlanId,RatesFallbackSubject
acme,call,*any,*asap,RP_Z,
";
    let err = run(
        &[
            (DESTINATIONS_CSV, DESTINATIONS),
            (RATES_CSV, rates),
            (DESTINATION_RATES_CSV, drs),
            (RATING_PLANS_CSV, plans),
            (RATING_PROFILES_CSV, profiles),
        ],
        &any_profile(),
    )
    .unwrap_err();
    let ImportError::Bad(rows) = err else {
        panic!("{err}")
    };
    let found: Vec<String> = rows
        .iter()
        .map(|r| format!("{}:{}:{}", r.file, r.line, r.column))
        .collect();
    assert_eq!(
        found,
        [
            "DestinationRates.csv:2:RoundingDecimals",
            "Rates.csv:3:Rate",
            "Rates.csv:4:",
            "Rates.csv:5:ConnectFee",
            "Rates.csv:5:RateUnit",
            // DR_A's row is malformed, so no destination rate has its id.
            "RatingPlans.csv:2:DestinationRatesId",
            "RatingPlans.csv:2:TimingTag",
            "RatingProfiles.csv:2:ActivationTime",
        ]
    );
}

#[test]
fn references_to_nothing_are_named() {
    let rates = "RT_A,0,0.6,60s,1s,0s\n";
    let drs = "DR_A,NOWHERE,RT_Z,*up,4,0,\n";
    let plans = "RP_A,DR_Z,*any,10\n";
    let profiles = "acme,call,*any,2025-01-01T00:00:00Z,RP_Z,\n";
    let err = run(
        &[
            (RATES_CSV, rates),
            (DESTINATION_RATES_CSV, drs),
            (RATING_PLANS_CSV, plans),
            (RATING_PROFILES_CSV, profiles),
        ],
        &any_profile(),
    )
    .unwrap_err();
    let ImportError::Bad(rows) = err else {
        panic!("{err}")
    };
    let found: Vec<String> = rows
        .iter()
        .map(|r| format!("{}:{}:{}", r.file, r.line, r.column))
        .collect();
    assert_eq!(
        found,
        [
            "DestinationRates.csv:1:DestinationId",
            "DestinationRates.csv:1:RatesTag",
            "RatingPlans.csv:1:DestinationRatesId",
            "RatingProfiles.csv:1:RatingPlanId",
        ]
    );
}

#[test]
fn rows_and_fields_are_bounded() {
    let long = "x".repeat(MAX_FIELD_CHARS + 1);
    let destinations = format!("DE,+49\n{long},+4917\n");
    let mut rows = String::with_capacity((MAX_ROWS + 1) * 8);
    for _ in 0..=MAX_ROWS {
        rows.push_str("D,+49\n");
    }
    for (text, expected) in [
        (destinations, "Destinations.csv:2:Id"),
        (rows, "Destinations.csv:1000001:"),
    ] {
        let err = run(
            &[(DESTINATIONS_CSV, &text), (RATING_PROFILES_CSV, PROFILE)],
            &any_profile(),
        )
        .unwrap_err();
        let ImportError::Bad(bad) = err else {
            panic!("{err}")
        };
        let found: Vec<String> = bad
            .iter()
            .filter(|r| r.file == DESTINATIONS_CSV)
            .map(|r| format!("{}:{}:{}", r.file, r.line, r.column))
            .collect();
        assert_eq!(found, [expected]);
    }
}

#[test]
fn prefixes_priced_over_and_over_are_bounded() {
    // 1,000 prefixes bound by one more than MAX_PRICED / 1,000 bindings of the same plan.
    let mut destinations = String::new();
    for i in 0..1000 {
        destinations.push_str(&format!("DE,+49{i}\n"));
    }
    let mut plans = String::new();
    for _ in 0..=MAX_PRICED / 1000 {
        plans.push_str("RP_A,DR_A,*any,10\n");
    }
    let err = run(
        &[
            (DESTINATIONS_CSV, &destinations),
            (RATES_CSV, "RT_A,0,0.6,60s,1s,0s\n"),
            (DESTINATION_RATES_CSV, "DR_A,DE,RT_A,*up,4,0,\n"),
            (RATING_PLANS_CSV, &plans),
            (RATING_PROFILES_CSV, PROFILE),
        ],
        &any_profile(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("RatingProfiles.csv:2"), "{err}");
}
