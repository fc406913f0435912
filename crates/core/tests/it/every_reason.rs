//! Every reason code of the rules is produced by the core: one scenario per code, each asserting
//! that exact code, and a coverage check against `Reason::ALL`.

use crate::common;

use common::*;
use minutely_core::Reason;
use minutely_core::control::{ControlPolicy, Decision, Extension};
use minutely_core::directory::{Agreement, AmountRules, NumberKind, Policy, Sku, UserSpec};
use minutely_core::engine::{Mode, TenantBook};
use minutely_core::guard::{
    Guard, GuardLimits, GuardMode, OperatorGuard, RiskAction, RiskEntry, RiskList, TenantGuard,
};
use minutely_core::rating::{CallRecord, Rater};
use std::sync::Arc;

const T: &str = "2026-03-02T09:00:00Z";

/// The reason a call is refused with on the standard tenant (funded with 100 unless `funded` is
/// false).
fn call_reason(call: CallRecord, mode: Mode, funded: bool) -> Option<Reason> {
    let card = std_card();
    let mut book = std_fx().book();
    if funded {
        fund(&mut book, "100", "2026-01-01T00:00:00Z");
    }
    let mut rater = Rater::new(countries(), &card);
    book.process_call(&mut rater, &call, mode).outcome.reason()
}

fn bulk(call: CallRecord) -> Option<Reason> {
    call_reason(call, Mode::Bulk, true)
}

fn fund_reason(book: &mut TenantBook, amount: &str, by_operator: bool) -> Option<Reason> {
    book.fund(
        d(amount),
        ts(T),
        "ref",
        by_operator,
        &AmountRules::default(),
    )
    .err()
    .map(|r| r.reason)
}

/// A standard book (funded with 100) whose guard enforces, past its learning period, with
/// `tune` applied to the operator's limits and the tenant's settings, and `list` as the
/// operator's high-risk list.
fn guarded(
    list: &[(&str, RiskAction)],
    tune: fn(&mut GuardLimits, &mut TenantGuard),
) -> TenantBook {
    let mut book = std_fx().book();
    fund(&mut book, "100", "2026-01-01T00:00:00Z");
    let mut limits = GuardLimits {
        learning_days: 0,
        learning_dialouts: 0,
        ..GuardLimits::default()
    };
    let mut settings = TenantGuard {
        mode: Some(GuardMode::Enforce),
        ..TenantGuard::default()
    };
    tune(&mut limits, &mut settings);
    let entries = list
        .iter()
        .map(|(prefix, action)| RiskEntry {
            prefix: prefix.to_string(),
            action: *action,
            category: "irsf".into(),
            source: "test".into(),
            expires: None,
            note: String::new(),
        })
        .collect();
    let list = RiskList::new(1, entries).expect("a list");
    let operator = OperatorGuard {
        limits,
        list,
        ..OperatorGuard::default()
    };
    book.guard = Guard::new(Arc::new(operator), settings);
    book
}

/// The reason the last of `numbers`, dialled out by PPM a second apart (each call lasting
/// `duration_s`, 0 for one left live), is refused with (C43, C45).
fn guard_reason(mut book: TenantBook, numbers: &[&str], duration_s: i64) -> Option<Reason> {
    let card = std_card();
    let mut rater = Rater::new(countries(), &card);
    let policy = ControlPolicy::default();
    let mut last = None;
    for (i, to) in numbers.iter().enumerate() {
        let at = plus(ts(T), 60 * i as i64);
        let call = CallRecord {
            start: at,
            end: at,
            ..dial_out(&format!("g{i}"), PPM, to, T, 0)
        };
        let (decision, _, _) = book.authorize(&mut rater, &call, at, &policy);
        last = match decision {
            Decision::Deny(reason) => Some(reason),
            Decision::Allow(_) => None,
        };
        if last.is_none() && duration_s > 0 {
            let end = plus(at, duration_s);
            book.end(&mut rater, &call.call_id, end, None, end)
                .0
                .expect("ended");
        }
    }
    last
}

/// The reason an extension of a premium call granted `cap_s` at most is stopped with.
fn capped_extension() -> Option<Reason> {
    let mut book = guarded(&[], |l, s| {
        l.high_risk_cap_s = 300;
        s.premium_enabled = true;
    });
    let card = std_card();
    let mut rater = Rater::new(countries(), &card);
    let policy = ControlPolicy::default();
    let at = ts(T);
    let call = CallRecord {
        end: at,
        ..dial_out("p1", PPM, US_PREMIUM, T, 0)
    };
    let (decision, _, _) = book.authorize(&mut rater, &call, at, &policy);
    assert!(matches!(decision, Decision::Allow(_)), "{decision:?}");
    let (answer, _, _) = book.extend(&mut rater, "p1", Some(300), plus(at, 280), &policy);
    match answer.expect("live") {
        Extension::Stopped(_, reason) => Some(reason),
        _ => None,
    }
}

type Scenario = (Reason, &'static str, fn() -> Option<Reason>);

/// One scenario per reason (C-rule in the description).
fn scenarios() -> Vec<Scenario> {
    vec![
        (
            Reason::PpmRequiresVolumeLicensing,
            "C1 an online_subscription tenant buys MCOMEETACPEA",
            || {
                let mut t = TenantFx::new("t", "FR", "EUR")
                    .agreement(Agreement::OnlineSubscription)
                    .build();
                t.set_purchased(Sku::PayPerMinute, 1, ts(T), countries())
                    .err()
                    .map(|r| r.reason)
            },
        ),
        (
            Reason::CountryPpmOnly,
            "C2 a KW tenant buys MCOMEETADD",
            || {
                let mut t = TenantFx::new("t", "KW", "KWD").build();
                t.set_purchased(Sku::Subscription, 1, ts(T), countries())
                    .err()
                    .map(|r| r.reason)
            },
        ),
        (
            Reason::CountryNotSupported,
            "C2 a BH tenant buys MCOMEETACPEA",
            || {
                let mut t = TenantFx::new("t", "BH", "BHD").build();
                t.set_purchased(Sku::PayPerMinute, 1, ts(T), countries())
                    .err()
                    .map(|r| r.reason)
            },
        ),
        (
            Reason::CreditsUnavailableInCountry,
            "C3 a KR tenant sets up the wallet",
            || {
                let mut t = TenantFx::new("t", "KR", "KRW").build();
                t.setup_wallet(plain_wallet(), countries(), &AmountRules::default())
                    .err()
                    .map(|r| r.reason)
            },
        ),
        (
            Reason::CreditsUnavailableForAgreement,
            "C3 a post_usage tenant sets up the wallet",
            || {
                let mut t = TenantFx::new("t", "FR", "EUR")
                    .agreement(Agreement::PostUsage)
                    .build();
                t.setup_wallet(plain_wallet(), countries(), &AmountRules::default())
                    .err()
                    .map(|r| r.reason)
            },
        ),
        (
            Reason::CreditsNotSetUp,
            "C40 funding before the wallet is set up",
            || {
                let mut book = TenantFx::new("t", "FR", "EUR").book();
                fund_reason(&mut book, "100", true)
            },
        ),
        (
            Reason::NumberKindUnavailable,
            "C4 a toll number in AE",
            || {
                let mut t = TenantFx::new("t", "FR", "EUR").build();
                t.add_number(e164(AE_NUM), NumberKind::Toll, false, true, countries())
                    .err()
                    .map(|r| r.reason)
            },
        ),
        (
            Reason::LicenseLimitExceeded,
            "C42 assigning a license none of which is purchased",
            || {
                let mut t = TenantFx::new("t", "FR", "EUR").user("a@x.fr", &[]).build();
                t.assign("a@x.fr", Sku::Subscription, countries())
                    .err()
                    .map(|r| r.reason)
            },
        ),
        (
            Reason::ConflictingConferencingLicenses,
            "C42 MCOMEETACPEA for a MCOMEETADD holder",
            || {
                let mut t = TenantFx::new("t", "FR", "EUR")
                    .purchase(Sku::Subscription, 1)
                    .purchase(Sku::PayPerMinute, 1)
                    .user("a@x.fr", &[Sku::Subscription])
                    .build();
                t.assign("a@x.fr", Sku::PayPerMinute, countries())
                    .err()
                    .map(|r| r.reason)
            },
        ),
        (
            Reason::InvalidNumber,
            "C8 a destination outside the numbering plan",
            || bulk(dial_out("c", SUB, "+33 1", T, 60)),
        ),
        (Reason::NoRate, "C9 a destination without a rate", || {
            bulk(dial_out("c", PPM, IT_NUM, T, 60))
        }),
        (Reason::AmountBelowMinimum, "C11 C40 funding 10.5", || {
            let mut book = TenantFx::new("t", "FR", "EUR").wallet().book();
            fund_reason(&mut book, "10.5", true)
        }),
        (Reason::AmountNotWhole, "C11 funding 50.5", || {
            let mut book = TenantFx::new("t", "FR", "EUR").wallet().book();
            fund_reason(&mut book, "50.5", true)
        }),
        (
            Reason::AmountOutOfRange,
            "C11 funding 1000000000001",
            || {
                let mut book = TenantFx::new("t", "FR", "EUR").wallet().book();
                fund_reason(&mut book, "1000000000001", true)
            },
        ),
        (
            Reason::InsufficientCredits,
            "C14 a real-time credit call with balance 0",
            || call_reason(dial_out("c", SUB, AE_NUM, T, 60), Mode::RealTime, false),
        ),
        (
            Reason::OrganizerNotEnabled,
            "C18 an organizer without a conferencing license",
            || bulk(dial_out("c", NOLICENSE, FR_FIXED, T, 60)),
        ),
        (
            Reason::TollFreeDisabled,
            "C18 toll-free dial-in disabled for the organizer",
            || bulk(dial_in("c", NOTOLLFREE, FR_TOLL_FREE, FR_MOBILE, T, 60)),
        ),
        (Reason::PolicyDisabled, "C17 disabled policy", || {
            bulk(dial_out("c", DISABLED, FR_FIXED, T, 60))
        }),
        (
            Reason::PolicyDomesticOnly,
            "C17 domestic policy, GB destination",
            || bulk(dial_out("c", DOMESTIC, GB_NUM, T, 60)),
        ),
        (
            Reason::PolicyZoneAOnly,
            "C17 zone_a policy, AE destination",
            || bulk(dial_out("c", ZONEA, AE_NUM, T, 60)),
        ),
        (
            Reason::CreditsLicenseMissing,
            "C19 credit call without MCOPSTNPP",
            || bulk(dial_out("c", BARE, AE_NUM, T, 60)),
        ),
        (
            Reason::CallIdReused,
            "C23 one call id, two contents",
            || {
                let card = std_card();
                let mut book = std_fx().book();
                let mut rater = Rater::new(countries(), &card);
                rate(&mut book, &mut rater, &dial_out("c", SUB, FR_FIXED, T, 60));
                rate(&mut book, &mut rater, &dial_out("c", SUB, FR_FIXED, T, 61))
                    .outcome
                    .reason()
            },
        ),
        (Reason::InvalidRecord, "C38 end before start", || {
            bulk(dial_out("c", SUB, FR_FIXED, T, -1))
        }),
        (
            Reason::UnknownServiceNumber,
            "C30 dial-in to a number the tenant does not have",
            || bulk(dial_in("c", SUB, "+33 1 42 68 53 99", FR_MOBILE, T, 60)),
        ),
        (
            Reason::FundingNotPermitted,
            "C3 a reseller's own admin funds",
            || {
                let mut book = TenantFx::new("t", "FR", "EUR")
                    .agreement(Agreement::Reseller)
                    .wallet()
                    .book();
                fund_reason(&mut book, "100", false)
            },
        ),
        (
            Reason::UpnNotUnique,
            "C41 a second object with the same UPN",
            || {
                let mut t = TenantFx::new("t", "FR", "EUR").build();
                let spec = |id: &str| UserSpec {
                    object_id: Some(id.into()),
                    ..user_spec("a@x.fr")
                };
                t.upsert_user(spec("1")).unwrap();
                t.upsert_user(spec("2")).err().map(|r| r.reason)
            },
        ),
        (Reason::InvalidPolicy, "C41 an unknown policy name", || {
            Policy::parse("tag:Nowhere").err()
        }),
        (
            Reason::UnknownTenant,
            "C41 a shard asked for a tenant it does not hold",
            || {
                let mut shard = minutely_core::engine::Shard::default();
                shard.insert(TenantFx::new("t", "FR", "EUR").book());
                assert!(shard.get("t").is_ok());
                shard.get("nobody").err()
            },
        ),
        (
            Reason::UnknownUser,
            "C41 assigning to a user the tenant does not have",
            || {
                let mut t = TenantFx::new("t", "FR", "EUR")
                    .purchase(Sku::Subscription, 1)
                    .build();
                t.assign("ghost@x.fr", Sku::Subscription, countries())
                    .err()
                    .map(|r| r.reason)
            },
        ),
        (
            Reason::FraudDestinationBlocked,
            "C45 rule 1: a destination on the operator's list",
            || {
                guard_reason(
                    guarded(&[("+4930", RiskAction::Block)], |_, _| {}),
                    &[DE_NUM],
                    0,
                )
            },
        ),
        (
            Reason::FraudPremiumNotEnabled,
            "C45 rule 2: a premium destination without the tenant's opt-in",
            || guard_reason(guarded(&[], |_, _| {}), &[US_PREMIUM], 0),
        ),
        (
            Reason::FraudConcurrencyLimit,
            "C45 rule 3: a second live dial-out of an organizer allowed one",
            || {
                guard_reason(
                    guarded(&[], |l, _| l.organizer_live = 1),
                    &[FR_FIXED, FR_MOBILE],
                    0,
                )
            },
        ),
        (
            Reason::FraudCallRateLimit,
            "C45 rule 4: a second attempt in a minute of an organizer allowed one",
            || {
                let book = guarded(&[], |l, _| l.organizer_per_minute = 1);
                guard_reason(book, &[FR_FIXED, FR_MOBILE], 0)
            },
        ),
        (
            Reason::FraudSpendLimit,
            "C44, C45 rule 5: a first window that exposes more than the hour's floor",
            || {
                let book = guarded(&[], |l, _| {
                    l.floor_hour = d("0.01");
                    l.seat_hour = d("0");
                });
                guard_reason(book, &[FR_FIXED], 0)
            },
        ),
        (
            Reason::FraudCountryNotApproved,
            "C45 rule 7: a new country once its first calls are used",
            || guard_reason(guarded(&[], |l, _| l.new_country_calls = 0), &[DE_NUM], 0),
        ),
        (
            Reason::FraudTestCallPattern,
            "C45 rule 8: short calls to two numbers of a new country, then another call",
            || {
                let numbers = [GB_NUM, "+44 20 7946 0019", "+44 20 7946 0020", GB_NUM];
                guard_reason(guarded(&[], |l, _| l.new_country_calls = 9), &numbers, 8)
            },
        ),
        (
            Reason::FraudDurationCap,
            "C43, C45 rule 9: an extension past a premium call's cap is stopped",
            capped_extension,
        ),
        (
            Reason::FraudDialoutSuspended,
            "C46: an organizer suspended by a refusal (one strike) calls again",
            || {
                guard_reason(
                    guarded(&[], |l, _| l.strikes = 1),
                    &[US_PREMIUM, FR_FIXED],
                    0,
                )
            },
        ),
    ]
}

#[test]
fn each_scenario_produces_exactly_its_reason() {
    for (reason, description, scenario) in scenarios() {
        assert_eq!(
            scenario(),
            Some(reason),
            "{} ({}): {description}",
            reason.code(),
            reason.rule()
        );
    }
}

#[test]
fn every_reason_code_is_produced_at_least_once() {
    let covered: Vec<Reason> = scenarios().iter().map(|s| s.0).collect();
    let missing: Vec<&str> = Reason::ALL
        .iter()
        .filter(|r| !covered.contains(r))
        .map(|r| r.code())
        .collect();
    assert!(
        missing.is_empty(),
        "reasons no scenario produces: {missing:?}"
    );
}
