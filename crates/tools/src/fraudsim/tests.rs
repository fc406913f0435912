//! The guard's targets on a small trace (the full one is `minutely-tools fraud-sim`, FRAUD.md).

use super::*;
use std::sync::LazyLock;

static TRACE: LazyLock<Trace> = LazyLock::new(|| Trace::build(11, 40, 28).expect("a trace"));

fn runs() -> Vec<(Variant, RunReport)> {
    Variant::ALL.iter().map(|v| (*v, run(&TRACE, *v))).collect()
}

#[test]
fn c43_the_full_guard_stops_every_attack_and_refuses_no_legitimate_call() {
    let runs = runs();
    println!("{}", report(&TRACE, &runs));
    let none = &runs[0].1;
    let full = &runs[3].1;
    assert_eq!(
        none.false_positives + none.collateral,
        0,
        "no guard refuses nothing"
    );
    for (a, attack) in TRACE.attacks.iter().enumerate() {
        let (unguarded, guarded) = (&none.attacks[a], &full.attacks[a]);
        assert!(
            unguarded.block.is_none() && unguarded.lost > Decimal::ZERO,
            "{}",
            attack.name
        );
        assert!(guarded.block.is_some(), "{}: never blocked", attack.name);
        assert!(guarded.alert.is_some(), "{}: never alerted", attack.name);
        assert!(
            guarded.lost * Decimal::from(100) <= unguarded.lost * Decimal::from(30),
            "{}: lost {} of {}",
            attack.name,
            guarded.lost,
            unguarded.lost
        );
    }
    // The test-call attack at no more than 2% of its unguarded loss.
    let (unguarded, guarded) = (&none.attacks[0].lost, &full.attacks[0].lost);
    assert!(
        *guarded * Decimal::from(50) <= *unguarded,
        "{guarded} of {unguarded}"
    );
    // False positives at most 0.1% of legitimate attempts; no tenant wrongly suspended.
    assert!(
        full.false_positives * 1000 <= full.legit_attempts,
        "{full:?}"
    );
    assert_eq!(full.suspended_tenant_days, 0);
    assert!(
        full.max_state_bytes < 2048,
        "{} bytes",
        full.max_state_bytes
    );
}

#[test]
fn the_same_seed_gives_the_same_decisions() {
    let again = run(&TRACE, Variant::Full);
    assert_eq!(run(&TRACE, Variant::Full), again);
    let other = Trace::build(12, 40, 28).expect("another trace");
    assert_ne!(run(&other, Variant::Full).decisions, again.decisions);
}
