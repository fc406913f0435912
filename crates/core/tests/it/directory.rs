//! Tenant configuration (C1 to C4, C16, C41, C42): purchases, assignments, the wallet set-up,
//! service numbers, policy names, users. Each table case names its rule.

use crate::common;

use common::*;
use minutely_core::Reason;
use minutely_core::directory::{
    Agreement, AmountRules, DialOutScope, NumberKind, Policy, Sku, Tenant, UserSpec,
};

use Agreement::{OnlineSubscription, PostUsage, Reseller, VolumeLicensing};
use Sku::{Credits, DialOutUs, PayPerMinute, Subscription};

const FROM: &str = "2026-01-01T00:00:00Z";

fn tenant(ctry: &str, agreement: Agreement) -> Tenant {
    TenantFx::new("t", ctry, "EUR").agreement(agreement).build()
}

/// Checks one purchase per case on a fresh tenant: the result, and that a refusal records
/// nothing.
/// (name, tenant country, agreement, sku, expected)
type Purchase<'a> = (&'a str, &'a str, Agreement, Sku, Result<(), Reason>);

fn check_purchases(cases: &[Purchase<'_>]) {
    for (name, ctry, agreement, sku, want) in cases {
        let mut t = tenant(ctry, *agreement);
        let got = t.set_purchased(*sku, 3, ts(FROM), countries());
        assert_eq!(
            got.as_ref().map(|_| ()).map_err(|r| r.reason),
            *want,
            "{name}"
        );
        let count = if want.is_ok() { 3 } else { 0 };
        assert_eq!(
            t.purchases().current(*sku),
            count,
            "{name}: purchased count"
        );
    }
}

#[test]
fn c1_c2_c42_purchase_checks() {
    use Reason::*;
    check_purchases(&[
        (
            "C1 MCOMEETACPEA needs volume licensing: online_subscription",
            "FR",
            OnlineSubscription,
            PayPerMinute,
            Err(PpmRequiresVolumeLicensing),
        ),
        (
            "C1 MCOMEETACPEA needs volume licensing: reseller",
            "FR",
            Reseller,
            PayPerMinute,
            Err(PpmRequiresVolumeLicensing),
        ),
        (
            "C1 MCOMEETACPEA needs volume licensing: post_usage",
            "FR",
            PostUsage,
            PayPerMinute,
            Err(PpmRequiresVolumeLicensing),
        ),
        (
            "C1 volume licensing buys MCOMEETACPEA",
            "FR",
            VolumeLicensing,
            PayPerMinute,
            Ok(()),
        ),
        (
            "C1 MCOMEETADD does not need volume licensing",
            "FR",
            OnlineSubscription,
            Subscription,
            Ok(()),
        ),
        (
            "C2 ppm_only country (KW) refuses MCOMEETADD",
            "KW",
            VolumeLicensing,
            Subscription,
            Err(CountryPpmOnly),
        ),
        (
            "C2 ppm_only country (KW) sells MCOMEETACPEA",
            "KW",
            VolumeLicensing,
            PayPerMinute,
            Ok(()),
        ),
        (
            "C2 `no` country (BH) refuses MCOMEETADD",
            "BH",
            VolumeLicensing,
            Subscription,
            Err(CountryNotSupported),
        ),
        (
            "C2 `no` country (BH) refuses MCOMEETACPEA",
            "BH",
            VolumeLicensing,
            PayPerMinute,
            Err(CountryNotSupported),
        ),
        (
            "C2 `no` country (IN, though Zone A) refuses MCOMEETADD",
            "IN",
            VolumeLicensing,
            Subscription,
            Err(CountryNotSupported),
        ),
        (
            "C2 a country missing from the table sells nothing",
            "ZZ",
            VolumeLicensing,
            Subscription,
            Err(CountryNotSupported),
        ),
        (
            "C42 C1 is checked before C2",
            "BH",
            OnlineSubscription,
            PayPerMinute,
            Err(PpmRequiresVolumeLicensing),
        ),
        (
            "C42 MCOPSTNPP is limited only by the count",
            "BH",
            PostUsage,
            Credits,
            Ok(()),
        ),
        (
            "C42 the add-on is limited only by the count",
            "KW",
            OnlineSubscription,
            DialOutUs,
            Ok(()),
        ),
    ]);
}

/// One assignment step on a shared tenant: (name, upn, sku, expected changed-or-reason).
type Assign = (&'static str, &'static str, Sku, Result<bool, Reason>);

fn check_assignments(t: &mut Tenant, steps: &[Assign]) {
    for (name, upn, sku, want) in steps {
        let before: Vec<_> = t.users().cloned().collect();
        let got = t.assign(upn, *sku, countries());
        assert_eq!(
            got.as_ref().map(|c| *c).map_err(|r| r.reason),
            *want,
            "{name}"
        );
        match want {
            Ok(true) => assert!(t.user(upn).unwrap().licenses.contains(sku), "{name}"),
            _ => {
                let after: Vec<_> = t.users().cloned().collect();
                assert_eq!(after, before, "{name}: nothing changes");
            }
        }
    }
}

#[test]
fn c42_assignment_checks_in_order() {
    use Reason::*;
    let mut t = TenantFx::new("t", "FR", "EUR")
        .purchase(Subscription, 1)
        .purchase(PayPerMinute, 1)
        .purchase(Credits, 1)
        .user("alice@contoso.fr", &[])
        .user("bob@contoso.fr", &[])
        .build();
    check_assignments(
        &mut t,
        &[
            (
                "C41 an unknown user",
                "ghost@contoso.fr",
                Subscription,
                Err(UnknownUser),
            ),
            (
                "C42 assign MCOMEETADD (1 of 1)",
                "alice@contoso.fr",
                Subscription,
                Ok(true),
            ),
            (
                "C42 assigning a held license changes nothing, even with the count full",
                "ALICE@contoso.fr",
                Subscription,
                Ok(false),
            ),
            (
                "C42 conflicting licenses (a MCOMEETACPEA is still free)",
                "alice@contoso.fr",
                PayPerMinute,
                Err(ConflictingConferencingLicenses),
            ),
            (
                "C42 license_limit_exceeded: the only MCOMEETADD is taken",
                "bob@contoso.fr",
                Subscription,
                Err(LicenseLimitExceeded),
            ),
            (
                "C42 assign MCOMEETACPEA to bob",
                "bob@contoso.fr",
                PayPerMinute,
                Ok(true),
            ),
            (
                "C42 conflicting is checked before the count",
                "bob@contoso.fr",
                Subscription,
                Err(ConflictingConferencingLicenses),
            ),
            (
                "C42 MCOPSTNPP (1 of 1)",
                "alice@contoso.fr",
                Credits,
                Ok(true),
            ),
            (
                "C42 MCOPSTNPP is limited by its count",
                "bob@contoso.fr",
                Credits,
                Err(LicenseLimitExceeded),
            ),
            (
                "C42 nothing purchased of the add-on",
                "alice@contoso.fr",
                DialOutUs,
                Err(LicenseLimitExceeded),
            ),
        ],
    );
    assert_eq!(t.assigned(Subscription), 1);
    assert_eq!(t.assigned(PayPerMinute), 1);
    assert_eq!(t.assigned(Credits), 1);
    // Reducing a purchase below what is assigned is refused and changes nothing.
    let r = t
        .set_purchased(Subscription, 0, ts("2026-06-01T00:00:00Z"), countries())
        .unwrap_err();
    assert_eq!(r.reason, LicenseLimitExceeded);
    assert_eq!(t.purchases().current(Subscription), 1);
    // Buying more lets the next assignment through.
    t.set_purchased(Subscription, 2, ts("2026-06-01T00:00:00Z"), countries())
        .unwrap();
    t.upsert_user(user_spec("carol@contoso.fr")).unwrap();
    assert_eq!(
        t.assign("carol@contoso.fr", Subscription, countries()),
        Ok(true)
    );
    // Unassigning frees the license.
    assert_eq!(t.unassign("alice@contoso.fr", Subscription), Ok(true));
    assert_eq!(t.unassign("alice@contoso.fr", Subscription), Ok(false));
    assert_eq!(
        t.unassign("ghost@contoso.fr", Subscription)
            .unwrap_err()
            .reason,
        UnknownUser
    );
    assert_eq!(t.assigned(Subscription), 1);
}

#[test]
fn c42_c1_and_c2_come_before_conflicting_licenses_on_assignment() {
    use Reason::*;
    // An online_subscription tenant: a MCOMEETADD holder asking for MCOMEETACPEA hits C1 first.
    let mut t = TenantFx::new("t", "FR", "EUR")
        .agreement(OnlineSubscription)
        .purchase(Subscription, 1)
        .user("alice@contoso.fr", &[Subscription])
        .build();
    check_assignments(
        &mut t,
        &[(
            "C42 C1 before conflicting",
            "alice@contoso.fr",
            PayPerMinute,
            Err(PpmRequiresVolumeLicensing),
        )],
    );
    // A ppm_only country: a MCOMEETACPEA holder asking for MCOMEETADD hits C2 first.
    let mut t = TenantFx::new("t", "KW", "KWD")
        .purchase(PayPerMinute, 1)
        .user("alice@contoso.kw", &[PayPerMinute])
        .build();
    check_assignments(
        &mut t,
        &[
            (
                "C42 C2 before conflicting",
                "alice@contoso.kw",
                Subscription,
                Err(CountryPpmOnly),
            ),
            (
                "C42 the add-on is not refused by C2 in a ppm_only country, only by its count",
                "alice@contoso.kw",
                DialOutUs,
                Err(LicenseLimitExceeded),
            ),
        ],
    );
    // C2 before the purchased count: nothing can be bought in BH, assignment says why.
    let mut t = TenantFx::new("t", "BH", "BHD")
        .user("alice@contoso.bh", &[])
        .build();
    check_assignments(
        &mut t,
        &[(
            "C42 C2 before the count",
            "alice@contoso.bh",
            Subscription,
            Err(CountryNotSupported),
        )],
    );
}

#[test]
fn c3_wallet_set_up() {
    use Reason::*;
    let cases: &[(&str, &str, Agreement, Result<(), Reason>)] = &[
        (
            "C3 KR has no Communications Credits",
            "KR",
            VolumeLicensing,
            Err(CreditsUnavailableInCountry),
        ),
        (
            "C3 BH has no Communications Credits",
            "BH",
            VolumeLicensing,
            Err(CreditsUnavailableInCountry),
        ),
        (
            "C3 post_usage has no Communications Credits",
            "FR",
            PostUsage,
            Err(CreditsUnavailableForAgreement),
        ),
        ("C3 volume licensing in FR", "FR", VolumeLicensing, Ok(())),
        (
            "C3 online subscription in FR",
            "FR",
            OnlineSubscription,
            Ok(()),
        ),
        (
            "C3 reseller in FR (funded by the operator)",
            "FR",
            Reseller,
            Ok(()),
        ),
        (
            "C3 KW (ppm_only) has credits",
            "KW",
            VolumeLicensing,
            Ok(()),
        ),
    ];
    for (name, ctry, agreement, want) in cases {
        let mut t = tenant(ctry, *agreement);
        let got = t.setup_wallet(plain_wallet(), countries(), &AmountRules::default());
        assert_eq!(
            got.as_ref().map(|_| ()).map_err(|r| r.reason),
            *want,
            "{name}"
        );
        assert_eq!(t.wallet().is_some(), want.is_ok(), "{name}: wallet present");
    }
    // C11: the recharge settings are checked when the wallet is set up.
    let mut t = tenant("FR", VolumeLicensing);
    let bad = wallet_with(auto("10.5", "100", true));
    let r = t
        .setup_wallet(bad, countries(), &AmountRules::default())
        .unwrap_err();
    assert_eq!(r.reason, AmountBelowMinimum);
    assert!(t.wallet().is_none(), "a refused set-up leaves no wallet");
    let bad = wallet_with(auto("50", "100.5", true));
    let r = t
        .setup_wallet(bad, countries(), &AmountRules::default())
        .unwrap_err();
    assert_eq!(r.reason, AmountNotWhole);
    // Setting up again with the same settings changes nothing.
    assert_eq!(
        t.setup_wallet(plain_wallet(), countries(), &AmountRules::default()),
        Ok(true)
    );
    assert_eq!(
        t.setup_wallet(plain_wallet(), countries(), &AmountRules::default()),
        Ok(false)
    );
}

#[test]
fn c4_service_numbers() {
    use Reason::*;
    // (name, wallet set up, number, kind, expected)
    type Case<'a> = (&'a str, bool, &'a str, NumberKind, Result<(), Reason>);
    let cases: &[Case<'_>] = &[
        (
            "C4 a toll number needs no wallet",
            false,
            FR_TOLL,
            NumberKind::Toll,
            Ok(()),
        ),
        (
            "C4 a toll-free number before the wallet",
            false,
            FR_TOLL_FREE,
            NumberKind::TollFree,
            Err(CreditsNotSetUp),
        ),
        (
            "C4 a toll-free number once the wallet is set up",
            true,
            FR_TOLL_FREE,
            NumberKind::TollFree,
            Ok(()),
        ),
        (
            "C4 AE has no toll numbers",
            true,
            AE_NUM,
            NumberKind::Toll,
            Err(NumberKindUnavailable),
        ),
        (
            "C4 KW has no toll-free numbers",
            true,
            "+965 2222 3333",
            NumberKind::TollFree,
            Err(NumberKindUnavailable),
        ),
        (
            "C4 KW has toll numbers",
            true,
            "+965 2222 3333",
            NumberKind::Toll,
            Ok(()),
        ),
        (
            "C4 on_request counts as available: AL toll",
            true,
            "+355 4 223 4567",
            NumberKind::Toll,
            Ok(()),
        ),
        (
            "C4 on_request counts as available: CN toll-free",
            true,
            "+86 800 123 4567",
            NumberKind::TollFree,
            Ok(()),
        ),
        (
            "C4 C8 the country is the numbering plan's: +1 876 is JM, which has no toll numbers",
            true,
            JM_NUM,
            NumberKind::Toll,
            Err(NumberKindUnavailable),
        ),
        (
            "C4 +1 212 is US, which has toll numbers",
            true,
            US_NUM,
            NumberKind::Toll,
            Ok(()),
        ),
        (
            "C8 a number outside the numbering plan",
            true,
            "+33 1",
            NumberKind::Toll,
            Err(InvalidNumber),
        ),
        (
            "C8 a non-geographic number has no country",
            true,
            INTL_FREEPHONE,
            NumberKind::TollFree,
            Err(InvalidNumber),
        ),
    ];
    for (name, wallet, number, kind, want) in cases {
        let mut fx = TenantFx::new("t", "FR", "EUR");
        if *wallet {
            fx = fx.wallet();
        }
        let mut t = fx.build();
        let got = t.add_number(e164(number), *kind, false, false, countries());
        assert_eq!(
            got.as_ref().map(|_| ()).map_err(|r| r.reason),
            *want,
            "{name}"
        );
        assert_eq!(
            t.number(e164(number)).is_some(),
            want.is_ok(),
            "{name}: listed"
        );
    }
}

#[test]
fn c4_one_toll_number_is_the_bridge_default() {
    let mut t = TenantFx::new("t", "FR", "EUR").wallet().build();
    let table = countries();
    t.add_number(e164(FR_TOLL), NumberKind::Toll, false, true, table)
        .unwrap();
    t.add_number(e164(US_TOLL), NumberKind::Toll, true, true, table)
        .unwrap();
    t.add_number(e164(FR_TOLL_FREE), NumberKind::TollFree, false, true, table)
        .unwrap();
    let defaults: Vec<_> = t
        .numbers()
        .filter(|n| n.bridge_default)
        .map(|n| n.number)
        .collect();
    assert_eq!(
        defaults,
        vec![e164(US_TOLL)],
        "one toll default; toll-free never"
    );
    let us = t.number(e164(US_TOLL)).unwrap();
    assert_eq!(
        (us.country, us.shared, us.kind),
        (country("US"), true, NumberKind::Toll)
    );
    // Adding the same number again with the same flags changes nothing.
    assert_eq!(
        t.add_number(e164(US_TOLL), NumberKind::Toll, true, true, table),
        Ok(false)
    );
}

#[test]
fn c16_c41_policy_names() {
    use DialOutScope::*;
    // The table of C16, name by name.
    let fixed: &[(&str, DialOutScope)] = &[
        ("Global", Any),
        ("DialoutCPCandPSTNInternational", Any),
        ("DialoutCPCInternationalPSTNDomestic", Any),
        ("DialoutCPCInternationalPSTNDisabled", Any),
        ("DialoutCPCDomesticPSTNInternational", Domestic),
        ("DialoutCPCandPSTNDomestic", Domestic),
        ("DialoutCPCDomesticPSTNDisabled", Domestic),
        ("DialoutCPCZoneAPSTNInternational", ZoneA),
        ("DialoutCPCZoneAPSTNDomestic", ZoneA),
        ("DialoutCPCZoneAPSTNDisabled", ZoneA),
        ("DialoutCPCDisabledPSTNInternational", Disabled),
        ("DialoutCPCDisabledPSTNDomestic", Disabled),
        ("DialoutCPCandPSTNDisabled", Disabled),
    ];
    for (name, scope) in fixed {
        let variants = [
            name.to_string(),
            name.to_lowercase(),
            name.to_uppercase(),
            format!("tag:{name}"),
            format!("Tag:{}", name.to_lowercase()),
            format!("TAG:{name}"),
            format!("  tag:{name} "),
        ];
        for text in variants {
            let p = Policy::parse(&text).unwrap_or_else(|r| panic!("C41 {text:?}: {r}"));
            assert_eq!(p.scope, *scope, "C16 {text:?}");
            assert_eq!(p.name, *name, "C41 {text:?} has the canonical name");
        }
    }
    assert_eq!(Policy::GLOBAL.scope, Any, "C16 the default is Global (any)");
    for bad in [
        "",
        "tag:",
        "Globall",
        "DialoutCPCZoneAPSTN",
        "tag:tag:Global",
        "tag Global",
        "zone a",
        "DialoutCPCandPSTN",
    ] {
        assert_eq!(
            Policy::parse(bad),
            Err(Reason::InvalidPolicy),
            "C41 {bad:?}"
        );
    }
}

#[test]
fn c41_users_upn_uniqueness_and_defaults() {
    use Reason::*;
    let mut t = TenantFx::new("t", "FR", "EUR")
        .purchase(Subscription, 1)
        .build();
    let with_id = |upn: &str, id: &str| UserSpec {
        object_id: Some(id.to_string()),
        ..user_spec(upn)
    };
    assert_eq!(t.upsert_user(with_id("alice@contoso.fr", "id-1")), Ok(true));
    let alice = t.user("alice@contoso.fr").unwrap();
    assert_eq!(
        alice.usage_location,
        country("FR"),
        "usage location defaults to the tenant country"
    );
    assert!(alice.toll_free_dial_in);
    assert_eq!(alice.policy, None, "follows the tenant default");
    assert_eq!(t.policy_of(alice), Policy::GLOBAL);
    // Another object with the same UPN, in another case.
    let r = t
        .upsert_user(with_id("ALICE@Contoso.fr", "id-2"))
        .unwrap_err();
    assert_eq!(
        r.reason, UpnNotUnique,
        "C41 UPNs are unique case-insensitively"
    );
    // Another UPN for an object id already used.
    let r = t
        .upsert_user(with_id("bob@contoso.fr", "id-1"))
        .unwrap_err();
    assert_eq!(r.reason, UpnNotUnique, "C41 one object, one UPN");
    assert_eq!(t.users().count(), 1, "refusals add nobody");
    // The same user in another case updates it, keeping its licenses.
    t.assign("alice@contoso.fr", Subscription, countries())
        .unwrap();
    let mut update = with_id("Alice@Contoso.FR", "id-1");
    update.display_name = "Alice Martin".into();
    assert_eq!(t.upsert_user(update), Ok(true));
    assert_eq!(t.users().count(), 1);
    let alice = t.user("aLiCe@contoso.fr").unwrap();
    assert_eq!(alice.display_name, "Alice Martin");
    assert!(
        alice.licenses.contains(&Subscription),
        "an update keeps the licenses"
    );
    // Non-ASCII UPNs are case-insensitive too.
    t.upsert_user(user_spec("élodie@contoso.fr")).unwrap();
    assert!(
        t.user("Élodie@contoso.fr").is_some(),
        "C41 case-insensitive UPN (non-ASCII)"
    );
    assert!(t.user("ÉLODIE@CONTOSO.FR").is_some());
    assert!(t.user("ghost@contoso.fr").is_none());
}

#[test]
fn tenant_creation_needs_a_known_time_zone() {
    let mut s = spec("t", "FR", "EUR", "Europe/Nowhere", VolumeLicensing);
    assert!(Tenant::new(s.clone()).is_err());
    s.timezone = "Asia/Tokyo".into();
    let t = Tenant::new(s).unwrap();
    assert_eq!(t.timezone_name, "Asia/Tokyo");
    assert_eq!(t.default_policy, Policy::GLOBAL);
}

#[test]
fn country_table_is_parsed_from_the_operator_file() {
    use minutely_core::catalogue::{Availability, Conferencing};
    let table = countries();
    assert_eq!(table.rows().count(), 115);
    assert_eq!(
        table.rows().filter(|r| r.zone_a).count(),
        44,
        "C16: the 44 Zone A countries"
    );
    let kw = table.get(country("KW")).unwrap();
    assert_eq!(kw.conferencing, Conferencing::PpmOnly);
    assert_eq!(
        (kw.toll_dial_in, kw.toll_free_dial_in),
        (Availability::Yes, Availability::No)
    );
    assert!(kw.communications_credits);
    let kr = table.get(country("KR")).unwrap();
    assert!(!kr.communications_credits);
    assert_eq!(
        table.get(country("AL")).unwrap().toll_dial_in,
        Availability::OnRequest
    );
    assert_eq!(
        table.get(country("BH")).unwrap().conferencing,
        Conferencing::No
    );
    assert_eq!(table.name(country("GB")), "United Kingdom");
}

/// C41/C42 over many changes: the object ids freed by an update can be taken again, a taken one
/// is refused, every user is found in any case, `users()` lists them in order of lower-case UPN,
/// and the assigned count of each license always equals the users holding it.
#[test]
fn c41_c42_indexes_follow_every_change() {
    use Reason::*;
    let mut t = TenantFx::new("t", "FR", "EUR")
        .purchase(Subscription, 400)
        .purchase(PayPerMinute, 400)
        .purchase(Credits, 400)
        .build();
    let with_id = |upn: &str, id: &str| UserSpec {
        object_id: Some(id.to_string()),
        ..user_spec(upn)
    };
    t.upsert_user(with_id("alice@contoso.fr", "id-1")).unwrap();
    // Without an object id the user takes the stable one, freeing id-1.
    t.upsert_user(user_spec("Alice@contoso.fr")).unwrap();
    let stable = t.user("alice@contoso.fr").unwrap().object_id.clone();
    assert_ne!(stable, "id-1");
    assert_eq!(t.upsert_user(with_id("bob@contoso.fr", "id-1")), Ok(true));
    let r = t
        .upsert_user(with_id("carol@contoso.fr", &stable))
        .unwrap_err();
    assert_eq!(r.reason, UpnNotUnique, "C41 one object, one UPN");
    let recount = |t: &Tenant, sku: Sku| t.users().filter(|u| u.licenses.contains(&sku)).count();
    for i in 0..600u32 {
        let upn = format!("User{:03}@Contoso.fr", (i * 7919) % 300);
        t.upsert_user(user_spec(&upn)).unwrap();
        let sku = [Subscription, PayPerMinute, Credits][(i % 3) as usize];
        if i % 5 == 0 {
            t.unassign(&upn, sku).unwrap();
        } else {
            let _ = t.assign(&upn, sku, countries());
        }
        assert!(t.user(&upn.to_lowercase()).is_some(), "{upn}");
    }
    for sku in [Subscription, PayPerMinute, Credits, DialOutUs] {
        assert_eq!(t.assigned(sku) as usize, recount(&t, sku), "{sku:?}");
    }
    let keys: Vec<&str> = t.users().map(|u| u.upn.key.as_str()).collect();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    assert_eq!(keys, sorted, "users() in order of lower-case UPN");
    assert_eq!(keys.len(), 302);
}

/// C41: the lookup by UPN ignores case and surrounding white space (as `Upn::new` does) on every
/// path: lower-case ASCII as given, anything else through the lower-case key.
#[test]
fn c41_user_lookup_ignores_case_and_surrounding_white_space() {
    let mut t = TenantFx::new("t", "FR", "EUR").build();
    for upn in ["alice@contoso.fr", "élodie@contoso.fr", "a@b"] {
        t.upsert_user(user_spec(upn)).unwrap();
    }
    let found = [
        "alice@contoso.fr",
        "ALICE@contoso.fr",
        "  alice@contoso.fr",
        "alice@contoso.fr\t",
        "\u{0B}alice@contoso.fr\r\n",
        "\u{A0}alice@contoso.fr",
        "Élodie@contoso.fr",
        "élodie@contoso.fr ",
        "a@b",
        "A@B",
        " a@b",
    ];
    for upn in found {
        assert_eq!(
            t.user(upn).map(|u| u.upn.key.as_str()),
            Some(upn.trim().to_lowercase().as_str()),
            "{upn:?}"
        );
    }
    for upn in [
        "",
        " ",
        "alice@contoso.fr\u{1C}",
        "alice@contoso.f",
        "bob@contoso.fr",
    ] {
        assert!(t.user(upn).is_none(), "{upn:?}");
    }
}
