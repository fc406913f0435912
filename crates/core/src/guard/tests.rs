use super::*;
use jiff::SignedDuration;

const UTC: TimeZone = TimeZone::UTC;

/// Monday 2026-03-02 10:00 UTC (business hours) plus `s` seconds.
fn at(s: i64) -> Timestamp {
    let base: Timestamp = "2026-03-02T10:00:00Z".parse().unwrap();
    base.checked_add(SignedDuration::from_secs(s)).unwrap()
}

fn price(per_minute: &str) -> ListPrice {
    ListPrice {
        per_minute: per_minute.parse().unwrap(),
        fee: Decimal::ZERO,
        first_s: 60,
        increment_s: 60,
    }
}

struct Call {
    id: String,
    organizer: String,
    conference: String,
    digits: String,
    country: Country,
    domestic: bool,
    premium: bool,
    price: ListPrice,
    at: Timestamp,
}

impl Call {
    fn new(id: &str, digits: &str, country: &str, at: Timestamp) -> Call {
        Call {
            id: id.to_string(),
            organizer: "ada@contoso.com".to_string(),
            conference: "conf-1".to_string(),
            digits: digits.to_string(),
            country: Country::parse(country).unwrap(),
            domestic: country == "FR",
            premium: false,
            price: price("0.30"),
            at,
        }
    }

    fn view(&self) -> DialOut<'_> {
        DialOut {
            call_id: &self.id,
            organizer: &self.organizer,
            conference: &self.conference,
            digits: &self.digits,
            country: self.country,
            domestic: self.domestic,
            premium: self.premium,
            price: self.price,
            at: self.at,
            seats: 1,
        }
    }
}

fn guard(mode: GuardMode, limits: GuardLimits, list: RiskList) -> Guard {
    Guard::new(
        Arc::new(OperatorGuard {
            limits,
            list,
            ..OperatorGuard::default()
        }),
        TenantGuard {
            mode: Some(mode),
            ..TenantGuard::default()
        },
    )
}

/// A guard past its learning period (no learning).
fn seasoned(mode: GuardMode) -> Guard {
    let limits = GuardLimits {
        learning_days: 0,
        learning_dialouts: 0,
        ..GuardLimits::default()
    };
    guard(mode, limits, RiskList::default())
}

/// Authorizes and grants `c` a 300 s window; the verdict.
fn place(g: &mut Guard, c: &Call) -> Verdict {
    let v = g.authorize(&c.view(), 300, &UTC);
    if v.refuse.is_none() {
        g.granted(&c.view(), v.cap_s.unwrap_or(300).min(300), v.cap_s, &UTC);
    }
    v
}

fn blocked_list() -> RiskList {
    let entry = |prefix: &str, action| RiskEntry {
        prefix: prefix.to_string(),
        action,
        category: "irsf".to_string(),
        source: "operator".to_string(),
        expires: None,
        note: String::new(),
    };
    RiskList::new(
        1,
        vec![
            entry("88", RiskAction::Block),
            entry("4470", RiskAction::StepUp),
        ],
    )
    .unwrap()
}

#[test]
fn c45_the_first_reason_in_the_list_order_is_given() {
    let limits = GuardLimits {
        learning_days: 0,
        learning_dialouts: 0,
        ..GuardLimits::default()
    };
    let mut g = guard(GuardMode::Enforce, limits, blocked_list());
    g.state.suspended = true;
    let mut c = Call::new("c1", "88212345678", "GB", at(0));
    c.premium = true;
    let v = place(&mut g, &c);
    assert_eq!(v.refuse, Some(Reason::FraudDestinationBlocked));
    assert_eq!(
        v.found,
        [
            Reason::FraudDestinationBlocked,
            Reason::FraudPremiumNotEnabled,
            Reason::FraudDialoutSuspended,
        ],
        "a first call to GB is a trial, not a refusal"
    );
}

#[test]
fn c46_monitor_never_refuses_and_records_what_it_would_have() {
    let mut g = seasoned(GuardMode::Monitor);
    g.operator = Arc::new(OperatorGuard {
        limits: g.operator.limits.clone(),
        list: blocked_list(),
        ..OperatorGuard::default()
    });
    let c = Call::new("c1", "88212345678", "GB", at(0));
    let v = place(&mut g, &c);
    assert_eq!(v.refuse, None);
    assert_eq!(v.found, vec![Reason::FraudDestinationBlocked]);
    assert!(v.alerts.iter().any(|a| matches!(
        a,
        Alert::Finding {
            reason: Reason::FraudDestinationBlocked,
            enforced: false,
            ..
        }
    )));
}

#[test]
fn rule1_step_up_needs_the_tenants_allow_list_and_is_then_capped() {
    let limits = GuardLimits {
        learning_days: 0,
        learning_dialouts: 0,
        ..GuardLimits::default()
    };
    let mut g = guard(GuardMode::Enforce, limits, blocked_list());
    g.approve(Country::parse("GB").unwrap());
    let c = Call::new("c1", "447012345678", "GB", at(0));
    assert_eq!(
        place(&mut g, &c).refuse,
        Some(Reason::FraudDestinationBlocked)
    );
    g.settings.allow.push(("4470".to_string(), None));
    let c = Call::new("c2", "447012345678", "GB", at(1));
    let v = place(&mut g, &c);
    assert_eq!((v.refuse, v.cap_s), (None, Some(3600)));
}

#[test]
fn rule2_premium_needs_the_opt_in_and_rule9_caps_it() {
    let mut g = seasoned(GuardMode::Enforce);
    let mut c = Call::new("c1", "33899123456", "FR", at(0));
    c.premium = true;
    assert_eq!(
        place(&mut g, &c).refuse,
        Some(Reason::FraudPremiumNotEnabled)
    );
    g.settings.premium_enabled = true;
    c.id = "c2".to_string();
    let v = place(&mut g, &c);
    assert_eq!((v.refuse, v.cap_s), (None, Some(3600)));
    // C43 at extend: the cap ends the call.
    let v = g.extend(&c.view(), 3600, 3900, &UTC);
    assert_eq!(v.refuse, Some(Reason::FraudDurationCap));
    let v = g.extend(&c.view(), 3500, 3800, &UTC);
    assert_eq!((v.refuse, v.cap_s), (None, Some(3600)));
}

#[test]
fn rule3_live_dial_outs_per_organizer_are_limited() {
    let limits = GuardLimits {
        learning_days: 0,
        learning_dialouts: 0,
        organizer_live: 3,
        ..GuardLimits::default()
    };
    let mut g = guard(GuardMode::Enforce, limits, RiskList::default());
    for i in 0..3 {
        let c = Call::new(&format!("c{i}"), "33144556677", "FR", at(i * 30));
        assert_eq!(place(&mut g, &c).refuse, None);
    }
    let c = Call::new("c3", "33144556677", "FR", at(100));
    assert_eq!(
        place(&mut g, &c).refuse,
        Some(Reason::FraudConcurrencyLimit)
    );
    g.release("c0");
    let c = Call::new("c4", "33144556677", "FR", at(101));
    assert_eq!(place(&mut g, &c).refuse, None, "one ended: room again");
}

#[test]
fn rule4_attempts_a_minute_per_organizer_are_limited() {
    let mut g = seasoned(GuardMode::Enforce);
    for i in 0..20 {
        let c = Call::new(&format!("c{i}"), "33144556677", "FR", at(i));
        let v = place(&mut g, &c);
        assert_eq!(v.refuse, None, "attempt {i}");
        g.release(&c.id);
    }
    let c = Call::new("c20", "33144556677", "FR", at(20));
    assert_eq!(place(&mut g, &c).refuse, Some(Reason::FraudCallRateLimit));
    let c = Call::new("c21", "33144556677", "FR", at(200));
    assert_eq!(place(&mut g, &c).refuse, None, "a few minutes later");
}

#[test]
fn rule5_c44_exposure_counts_live_holds_at_list_price_against_the_floor() {
    // 20 an hour at the floor (usual level 0, one seat): calls of 300 s at 0.60/min hold 3.00
    // each, so the seventh would make 21.
    let mut g = seasoned(GuardMode::Enforce);
    let mut refused = None;
    for i in 0..12 {
        let mut c = Call::new(&format!("c{i}"), "33144556677", "FR", at(i * 10));
        c.organizer = format!("u{i}@contoso.com");
        c.price = price("0.60");
        if let Some(r) = place(&mut g, &c).refuse {
            refused = Some((i, r));
            break;
        }
    }
    assert_eq!(refused, Some((6, Reason::FraudSpendLimit)));
    assert_eq!(g.exposure_e4().0, 180_000);
}

#[test]
fn rule5_the_usual_level_raises_the_threshold_and_rule6_lowers_it_off_hours() {
    let mut g = seasoned(GuardMode::Enforce);
    // Four weeks in which Monday 10:00 spends 100 at list price: 25 calls of 20 minutes.
    for week in 0..4 {
        for i in 0..25 {
            let mut c = Call::new(
                &format!("w{week}c{i}"),
                "33144556677",
                "FR",
                at(week * 604_800 - 604_800 * 4 + i * 60),
            );
            c.organizer = format!("u{i}@contoso.com");
            c.price = price("0.20");
            g.record(&c.view(), 1200, &UTC);
        }
    }
    // Monday 10:00 now: usual level about 68 (0.25 + 0.19 + 0.14 + 0.11 of 100 and more).
    let usual = g.state.baseline.hour_e4(10);
    assert!(usual > 300_000, "usual level {usual}");
    let mut c = Call::new("now", "33144556677", "FR", at(0));
    c.price = price("10.00");
    assert_eq!(
        place(&mut g, &c).refuse,
        None,
        "50 in an hour is usual here"
    );
    // Saturday 03:00, a non-domestic call: half the floor's threshold.
    let night: Timestamp = "2026-03-07T03:00:00Z".parse().unwrap();
    let mut c = Call::new("night", "4915112345678", "DE", night);
    g.approve(c.country);
    c.price = price("3.50");
    assert_eq!(place(&mut g, &c).refuse, Some(Reason::FraudSpendLimit));
}

#[test]
fn rule7_a_new_country_gets_three_capped_calls_then_needs_approval() {
    let mut g = seasoned(GuardMode::Enforce);
    let mut alerts = 0;
    for i in 0..3 {
        let c = Call::new(&format!("c{i}"), "4915112345678", "DE", at(i * 4000));
        let v = place(&mut g, &c);
        assert_eq!((v.refuse, v.cap_s), (None, Some(3600)), "trial {i}");
        alerts += v
            .alerts
            .iter()
            .filter(|a| matches!(a, Alert::NewCountry { .. }))
            .count();
        g.ended(
            &c.id,
            &c.organizer,
            &c.digits,
            600,
            at(i * 4000 + 600),
            &UTC,
        );
    }
    assert_eq!(alerts, 1, "alerted on the first call");
    let c = Call::new("c3", "4915112345678", "DE", at(13_000));
    assert_eq!(
        place(&mut g, &c).refuse,
        Some(Reason::FraudCountryNotApproved)
    );
    g.approve(c.country);
    let c = Call::new("c4", "4915112345678", "DE", at(13_001));
    assert_eq!(place(&mut g, &c), Verdict::default());
}

#[test]
fn rule8_short_test_calls_block_the_country_for_a_day() {
    let limits = GuardLimits {
        learning_days: 0,
        learning_dialouts: 0,
        new_country_calls: 5,
        ..GuardLimits::default()
    };
    let mut g = guard(GuardMode::Enforce, limits, RiskList::default());
    let mut found = None;
    for i in 0..3 {
        let c = Call::new(
            &format!("t{i}"),
            &format!("3712345678{i}"),
            "LV",
            at(i * 120),
        );
        assert_eq!(place(&mut g, &c).refuse, None);
        found = found.or(g.ended(&c.id, &c.organizer, &c.digits, 8, at(i * 120 + 8), &UTC));
    }
    assert!(matches!(
        found,
        Some(Alert::Finding {
            reason: Reason::FraudTestCallPattern,
            ..
        })
    ));
    let c = Call::new("pump", "37123456789", "LV", at(3600));
    assert_eq!(place(&mut g, &c).refuse, Some(Reason::FraudTestCallPattern));
    let c = Call::new("later", "37123456789", "LV", at(3600 + 86_400));
    assert_ne!(place(&mut g, &c).refuse, Some(Reason::FraudTestCallPattern));
    // Short calls to a country the tenant calls (or approved), and domestic ones, never make
    // the pattern.
    g.approve(Country::parse("DE").unwrap());
    for i in 0..5 {
        let c = Call::new(
            &format!("k{i}"),
            &format!("4930123456{i}"),
            "DE",
            at(100_000 + i),
        );
        place(&mut g, &c);
        assert_eq!(
            g.ended(&c.id, &c.organizer, &c.digits, 5, at(100_010 + i), &UTC),
            None
        );
    }
    for i in 0..5 {
        let c = Call::new(
            &format!("d{i}"),
            &format!("3314455667{i}"),
            "FR",
            at(200_000 + i),
        );
        place(&mut g, &c);
        assert_eq!(
            g.ended(&c.id, &c.organizer, &c.digits, 5, at(200_010 + i), &UTC),
            None
        );
    }
}

#[test]
fn suspension_follows_strikes_and_is_lifted() {
    let mut g = seasoned(GuardMode::Enforce);
    let mut c = Call::new("p", "33899123456", "FR", at(0));
    c.premium = true;
    let mut suspended = Vec::new();
    for i in 0..5 {
        c.id = format!("p{i}");
        let v = place(&mut g, &c);
        suspended.extend(
            v.alerts
                .into_iter()
                .filter(|a| matches!(a, Alert::Suspended { .. })),
        );
    }
    assert_eq!(suspended.len(), 1, "{suspended:?}");
    assert!(g.suspended(Some("ADA@contoso.com")));
    let ok = Call::new("ok", "33144556677", "FR", at(10));
    assert_eq!(
        place(&mut g, &ok).refuse,
        Some(Reason::FraudDialoutSuspended)
    );
    assert!(g.lift(Some("ada@contoso.com")));
    let ok = Call::new("ok2", "33144556677", "FR", at(11));
    assert_eq!(place(&mut g, &ok).refuse, None);
}

#[test]
fn rule10_recharges_are_limited_while_alerted_and_stopped_while_suspended() {
    let mut g = seasoned(GuardMode::Enforce);
    assert!(g.recharge_allowed(at(0)));
    g.state.alert_until_s = Some(at(86_000).as_second());
    g.recharged(at(1));
    g.recharged(at(2));
    assert!(!g.recharge_allowed(at(3)));
    assert!(g.recharge_allowed(at(90_000)), "the alert closed");
    g.state.suspended = true;
    assert!(!g.recharge_allowed(at(90_000)));
}

#[test]
fn learning_acts_at_the_floors_only_and_leaves_new_countries_to_alerts() {
    let mut g = guard(
        GuardMode::Enforce,
        GuardLimits::default(),
        RiskList::default(),
    );
    let c = Call::new("c1", "4915112345678", "DE", at(0));
    let v = place(&mut g, &c);
    assert_eq!(v.refuse, None);
    assert!(
        v.alerts
            .iter()
            .any(|a| matches!(a, Alert::NewCountry { .. }))
    );
    assert!(g.learning(at(1)));
    assert!(g.known(c.country, at(1)), "learned");
}

#[test]
fn off_counts_nothing_and_the_state_stays_small() {
    let mut g = seasoned(GuardMode::Off);
    let c = Call::new("c1", "88212345678", "GB", at(0));
    assert_eq!(place(&mut g, &c), Verdict::default());
    assert!(g.state.live.is_empty());
    let mut g = seasoned(GuardMode::Monitor);
    for i in 0..2000 {
        let mut c = Call::new(
            &format!("c{i}"),
            "4915112345678",
            ["DE", "GB", "IT", "ES", "US"][i as usize % 5],
            at(i * 97),
        );
        c.organizer = format!("u{}@contoso.com", i % 40);
        g.record(&c.view(), 300, &UTC);
    }
    let bytes = g.state.size_bytes();
    println!(
        "guard state {bytes} bytes, {} organizers, {} countries, fixed {}",
        g.state.organizers.len(),
        g.state.countries.len(),
        std::mem::size_of::<GuardState>()
    );
    assert!(bytes < 2048, "{bytes} bytes");
}

#[test]
fn rule7_while_learning_a_new_country_is_alerted_once_even_when_its_calls_are_refused() {
    // Learning (the default limits), enforcing: premium calls to Austria are refused (rule 2)
    // and so never teach the country; only the first attempt raises `fraud.new_country`.
    let mut g = guard(
        GuardMode::Enforce,
        GuardLimits::default(),
        RiskList::default(),
    );
    let mut alerts = 0;
    for i in 0..4 {
        let mut c = Call::new(&format!("p{i}"), "43900123456", "AT", at(i * 60));
        c.premium = true;
        let v = place(&mut g, &c);
        assert_eq!(
            v.refuse,
            Some(Reason::FraudPremiumNotEnabled),
            "attempt {i}"
        );
        alerts += v
            .alerts
            .iter()
            .filter(|a| matches!(a, Alert::NewCountry { .. }))
            .count();
    }
    assert_eq!(alerts, 1);
}
