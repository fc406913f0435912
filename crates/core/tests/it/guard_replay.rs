//! The replay of past calls through the guard (`minutely fraud simulate`, C43 to C46): steps
//! of one instant in the order call control meets them (a call is live over [start, end)), an
//! attempt that did not connect holds nothing, a cap ends a call early.

use crate::common;

use common::*;
use minutely_core::Reason;
use minutely_core::guard::replay::{Fate, Past, replay};
use minutely_core::guard::{Guard, GuardLimits, GuardMode, OperatorGuard, RiskAction, RiskEntry};
use minutely_core::guard::{RiskList, TenantGuard};
use minutely_core::rating::Rater;
use std::sync::Arc;

const T: &str = "2026-03-02T09:00:00Z";

/// An enforcing guard past its learning period, one live dial-out a tenant at most, and the
/// German range `+4930` on the list as `monitor` (allowed, capped at `high_risk_cap_s`).
fn guard() -> Guard {
    let limits = GuardLimits {
        learning_days: 0,
        learning_dialouts: 0,
        tenant_live: 1,
        new_country_rule: false,
        ..GuardLimits::default()
    };
    let entry = RiskEntry {
        prefix: "4930".into(),
        action: RiskAction::Monitor,
        category: "test".into(),
        source: "test".into(),
        expires: None,
        note: String::new(),
    };
    let operator = OperatorGuard {
        limits,
        list: RiskList::new(1, vec![entry]).expect("a list"),
        ..OperatorGuard::default()
    };
    let settings = TenantGuard {
        mode: Some(GuardMode::Enforce),
        ..TenantGuard::default()
    };
    Guard::new(Arc::new(operator), settings)
}

#[test]
fn c43_replay_ends_before_it_starts_an_attempt_holds_nothing_and_a_cap_cuts() {
    let at = |s: i64| plus(ts(T), s);
    let call = |id: &str, to: &str, from_s: i64, seconds: i64| {
        let mut c = dial_out(id, PPM, to, T, seconds);
        c.start = at(from_s);
        c.end = at(from_s + seconds);
        c
    };
    let calls = [
        call("c0", FR_FIXED, 0, 600),
        // Starts as c0 ends: c0 is no longer live (one live dial-out at most).
        call("c1", FR_FIXED, 600, 600),
        // While c1 is live: refused.
        call("c2", FR_FIXED, 700, 60),
        // After c1: an attempt that did not connect, then a call in the same second.
        call("c3", FR_FIXED, 1300, 0),
        call("c4", FR_FIXED, 1300, 300),
        // Two hours to a range the list monitors: cut at the high-risk cap.
        call("c5", DE_NUM, 2000, 7200),
    ];
    let past: Vec<Past<'_>> = calls
        .iter()
        .map(|record| Past {
            record,
            connected: record.call_id != "c3",
        })
        .collect();
    let book = std_fx().book();
    let card = std_card();
    let mut rater = Rater::new(countries(), &card);
    let mut g = guard();
    let (lines, _) = replay(&book.tenant, &mut g, &mut rater, &past, 300);
    let fates: Vec<(&str, &Fate, u64)> = lines
        .iter()
        .map(|l| (l.call_id.as_str(), &l.fate, l.allowed_s))
        .collect();
    let cap = GuardLimits::default().high_risk_cap_s;
    assert_eq!(
        fates,
        [
            ("c0", &Fate::Allowed, 600),
            ("c1", &Fate::Allowed, 600),
            ("c2", &Fate::Refused(Reason::FraudConcurrencyLimit), 0),
            ("c3", &Fate::Allowed, 0),
            ("c4", &Fate::Allowed, 300),
            ("c5", &Fate::Cut(Reason::FraudDurationCap), cap),
        ]
    );
    let c5 = &lines[5];
    assert!(c5.found.contains(&Reason::FraudDurationCap), "{c5:?}");
    assert!(c5.allowed_cost_e4 < c5.cost_e4, "{c5:?}");
    assert_eq!(lines[0].allowed_cost_e4, lines[0].cost_e4);
    // Nothing is left live in the guard.
    assert_eq!(g.state.live.len(), 0);
}
