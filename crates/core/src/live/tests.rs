//! `LiveCalls` on its own: the holds follow the reservations through every change (C25 to
//! C27), agree with a recount, and a release of more than is held is a broken invariant.

use super::*;
use crate::funding::Funding;
use crate::rating::{CallRecord, Direction};

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn d(text: &str) -> Decimal {
    text.parse().unwrap()
}

/// A live reservation of `id`, started at `start`, granted `granted_s` holding `credit` and
/// `pool_minutes`, lapsing a minute after its grant.
fn reservation(
    id: &str,
    start: &str,
    granted_s: u64,
    credit: &str,
    pool_minutes: u32,
) -> Reservation {
    let start = at(start);
    Reservation {
        call: CallRecord {
            call_id: id.into(),
            conference_id: "c".into(),
            organizer: "o".into(),
            direction: Direction::DialOut,
            service_number: String::new(),
            caller_number: String::new(),
            destination_number: "+33 1 44 55 66 77".into(),
            start,
            end: start,
        },
        granted_s: Some(granted_s),
        credit: d(credit),
        pool_minutes,
        expires_at: later(start, granted_s + 60),
        live: true,
        funding: if pool_minutes > 0 {
            Funding::PoolAndCredits
        } else {
            Funding::Credits
        },
        authorized_at: None,
        last_window: false,
    }
}

/// What `live` holds, as (credit, live calls, pool minutes of March 2026 in UTC), after checking
/// that the holds agree with a recount.
fn held(live: &LiveCalls) -> (Decimal, usize, u32) {
    assert_eq!(
        live.recount(),
        *live.holds(),
        "holds in step with a recount"
    );
    (
        live.holds().credit(),
        live.holds().live(),
        live.pool_held((2026, 3), &TimeZone::UTC),
    )
}

#[test]
fn holds_follow_reservations_through_reserve_extend_end_and_lapse() {
    // C25: a grant holds its credit and pool minutes; C26: an extension replaces them; C27: an
    // end or a lapse returns them, and a lapsed call is forgotten after its retention.
    let utc = TimeZone::UTC;
    let mut live = LiveCalls::new(&utc);
    let mut changes = HoldChanges::default();
    let a = reservation("a", "2026-03-02T10:00:00Z", 120, "1.00", 2);
    let b = reservation("b", "2026-03-02T10:00:30Z", 300, "0.50", 0);
    live.reserve(a.clone(), &utc, &mut changes);
    assert_eq!(held(&live), (d("1.00"), 1, 2));
    live.reserve(b.clone(), &utc, &mut changes);
    assert_eq!(held(&live), (d("1.50"), 2, 2));

    let extended = Reservation {
        granted_s: Some(240),
        credit: d("2.25"),
        pool_minutes: 3,
        expires_at: later(a.call.start, 300),
        ..a.clone()
    };
    live.regrant(extended.clone(), &utc, &mut changes);
    assert_eq!(held(&live), (d("2.75"), 2, 3));
    assert_eq!(live.get("a"), Some(extended.clone()));

    assert_eq!(live.end("b", &utc, &mut changes), Some(b));
    assert_eq!(held(&live), (d("2.25"), 1, 3));
    assert_eq!(
        live.end("b", &utc, &mut changes),
        None,
        "an ended call holds nothing"
    );

    // Nothing is due before the grant and grace have passed.
    assert!(live.expire(at("2026-03-02T10:04:59Z"), &utc).is_empty());
    assert_eq!(held(&live), (d("2.25"), 1, 3));
    let lapsed = live.expire(extended.expires_at, &utc);
    let remembered = live.get("a").expect("a lapsed call is remembered");
    assert!(!remembered.live);
    assert_eq!(
        (remembered.credit, remembered.pool_minutes),
        (Decimal::ZERO, 0)
    );
    assert_eq!(lapsed.put, vec![remembered]);
    assert_eq!(held(&live), (Decimal::ZERO, 0, 0));

    let forgotten = live.expire(forget_at(extended.expires_at), &utc);
    assert_eq!(forgotten.dropped, vec!["a".to_string()]);
    assert!(live.is_empty());
    assert_eq!(*live.holds(), Holds::default());

    // What the store was told is each call's last state.
    let mut last: Vec<&str> = changes
        .put
        .iter()
        .map(|r| r.call.call_id.as_str())
        .collect();
    last.sort_unstable();
    assert_eq!(
        (last, changes.dropped.clone()),
        (vec!["a"], vec!["b".to_string()])
    );
    assert_eq!(changes.put[0], extended);
}

#[test]
fn a_recount_agrees_with_holds_built_one_by_one() {
    // Live, lapsed and unmetered reservations over two months: the state loaded from them is
    // the state the changes built, and a lapsed or unmetered call holds nothing.
    let utc = TimeZone::UTC;
    let mut one_by_one = LiveCalls::new(&utc);
    let mut changes = HoldChanges::default();
    let mut all = Reservations::new();
    let unmetered = Reservation {
        granted_s: None,
        credit: Decimal::ZERO,
        pool_minutes: 0,
        funding: Funding::Included,
        ..reservation("free", "2026-03-05T09:00:00Z", 60, "0", 0)
    };
    let lapsed = Reservation {
        live: false,
        credit: Decimal::ZERO,
        pool_minutes: 0,
        ..reservation("gone", "2026-03-01T09:00:00Z", 60, "0", 0)
    };
    let rows = [
        reservation("m1", "2026-03-31T23:59:00Z", 600, "3.10", 5),
        reservation("m2", "2026-04-01T00:00:00Z", 300, "0.00", 5),
        reservation("m3", "2026-03-10T12:00:00Z", 60, "0.07", 0),
        unmetered,
        lapsed,
    ];
    for r in &rows {
        all.insert(r);
        one_by_one.reserve(r.clone(), &utc, &mut changes);
    }
    let loaded = LiveCalls::from_reservations(all, &utc);
    assert_eq!(loaded, one_by_one);
    assert_eq!(loaded.recount(), *loaded.holds());
    assert_eq!(held(&loaded), (d("3.17"), 4, 5));
    assert_eq!(loaded.pool_held((2026, 4), &utc), 5);
    assert_eq!(loaded.holds().pool_minutes(), 10);
    loaded.debug_assert_recount();
}

#[test]
fn pool_holds_follow_a_change_of_time_zone() {
    // C21: held pool minutes count against the tenant-local month of the call's start, in the
    // tenant's time zone as it is now, before and after the holds are keyed again.
    let utc = TimeZone::UTC;
    let tokyo = TimeZone::get("Asia/Tokyo").unwrap();
    let mut live = LiveCalls::new(&utc);
    let mut changes = HoldChanges::default();
    // 20:00 on 31 March in UTC is already April in Tokyo.
    let late = reservation("late", "2026-03-31T20:00:00Z", 300, "0.00", 5);
    live.reserve(late, &utc, &mut changes);
    assert_eq!(live.pool_held((2026, 3), &utc), 5);
    assert_eq!(live.pool_held((2026, 3), &tokyo), 0);
    assert_eq!(live.pool_held((2026, 4), &tokyo), 5);
    live.end("late", &tokyo, &mut changes);
    assert_eq!(live.pool_held((2026, 4), &tokyo), 0);
    assert_eq!(*live.holds(), Holds::default());
}

#[test]
#[should_panic(expected = "call a: releasing 5.00 of credit when 1.00 is held")]
fn a_release_below_zero_credit_is_a_broken_invariant() {
    let utc = TimeZone::UTC;
    let mut live = LiveCalls::new(&utc);
    let a = reservation("a", "2026-03-02T10:00:00Z", 120, "1.00", 0);
    live.reserve(a.clone(), &utc, &mut HoldChanges::default());
    let more = Reservation {
        credit: d("5.00"),
        ..a
    };
    let slot = live.reservations.slot("a").unwrap();
    live.holds.release(&more, slot, &utc);
}

#[test]
#[should_panic(expected = "call a: releasing 4 pool minutes of (2026, 3) when 2 are held")]
fn a_release_below_zero_pool_minutes_is_a_broken_invariant() {
    let utc = TimeZone::UTC;
    let mut live = LiveCalls::new(&utc);
    let a = reservation("a", "2026-03-02T10:00:00Z", 240, "0.00", 2);
    live.reserve(a.clone(), &utc, &mut HoldChanges::default());
    let more = Reservation {
        pool_minutes: 4,
        ..a
    };
    let slot = live.reservations.slot("a").unwrap();
    live.holds.release(&more, slot, &utc);
}

#[test]
#[should_panic(expected = "call free: an unlimited grant holds 0.10 of credit")]
fn an_unlimited_grant_that_holds_credit_is_a_broken_invariant() {
    let utc = TimeZone::UTC;
    let free = Reservation {
        granted_s: None,
        ..reservation("free", "2026-03-02T10:00:00Z", 60, "0.10", 0)
    };
    LiveCalls::new(&utc).reserve(free, &utc, &mut HoldChanges::default());
}

#[test]
fn hold_changes_keep_the_last_state_of_each_call_id() {
    // Against a plain map of id -> last state, over a long mixed sequence.
    let mut changes = HoldChanges::default();
    let mut model: BTreeMap<String, Option<Decimal>> = BTreeMap::new();
    let mut x: u64 = 7;
    for step in 0..20_000i64 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let id = format!("call-{}", (x >> 33) % 300);
        let mut later = HoldChanges::default();
        if (x >> 20).is_multiple_of(3) {
            later.drop_id(&id);
            model.insert(id, None);
        } else {
            let mut r = reservation(&id, "2026-03-02T10:00:00Z", 60, "0", 0);
            r.credit = Decimal::new(step, 2);
            later.put(&r);
            model.insert(id, Some(Decimal::new(step, 2)));
        }
        changes.merge(later);
    }
    let mut put: BTreeMap<String, Decimal> = BTreeMap::new();
    for r in &changes.put {
        assert!(
            put.insert(r.call.call_id.clone(), r.credit).is_none(),
            "put twice"
        );
    }
    let dropped: BTreeSet<String> = changes.dropped.iter().cloned().collect();
    assert_eq!(dropped.len(), changes.dropped.len(), "dropped twice");
    for (id, last) in &model {
        match last {
            Some(credit) => {
                assert_eq!(put.get(id), Some(credit), "{id}");
                assert!(!dropped.contains(id), "{id}");
            }
            None => {
                assert!(dropped.contains(id), "{id}");
                assert!(!put.contains_key(id), "{id}");
            }
        }
    }
    assert_eq!(put.len() + dropped.len(), model.len());
}

#[test]
fn c27_calls_due_at_the_same_instant_lapse_in_the_order_of_their_ids() {
    // The store is told of lapses in the order of (instant, call id), whatever the order of
    // the reservations' slots.
    let utc = TimeZone::UTC;
    let mut live = LiveCalls::new(&utc);
    let mut changes = HoldChanges::default();
    for id in ["c", "a", "d", "b"] {
        live.reserve(
            reservation(id, "2026-03-02T10:00:00Z", 60, "0.10", 0),
            &utc,
            &mut changes,
        );
    }
    live.reserve(
        reservation("0-later", "2026-03-02T10:00:01Z", 60, "0.10", 0),
        &utc,
        &mut changes,
    );
    let lapsed = live.expire(at("2026-03-02T10:05:00Z"), &utc);
    let order: Vec<&str> = lapsed.put.iter().map(|r| r.call.call_id.as_str()).collect();
    assert_eq!(order, ["a", "b", "c", "d", "0-later"]);
    assert_eq!(held(&live), (Decimal::ZERO, 0, 0));
    let forgotten = live.expire(at("2026-04-02T10:05:00Z"), &utc);
    assert_eq!(forgotten.dropped, ["a", "b", "c", "d", "0-later"]);
    assert!(live.is_empty());
}

#[test]
fn c25_c27_holds_stay_in_step_when_the_slots_of_ended_calls_are_given_back() {
    // Many calls reserved, most of them ended (the slots are compacted on the way), the rest
    // extended, lapsed and forgotten: the holds agree with a recount throughout (each change
    // asserts it in debug builds) and every call left reads back as it was put.
    let utc = TimeZone::UTC;
    let mut live = LiveCalls::new(&utc);
    let mut changes = HoldChanges::default();
    let calls: Vec<Reservation> = (0..9_000u32)
        .map(|i| {
            let start = format!("2026-03-02T10:{:02}:{:02}Z", i / 60 % 60, i % 60);
            reservation(&format!("call-{i}"), &start, 60, "0.01", i % 2)
        })
        .collect();
    for r in &calls {
        live.reserve(r.clone(), &utc, &mut changes);
    }
    assert_eq!(held(&live), (d("90.00"), 9_000, 4_500));
    for r in calls.iter().filter(|r| !r.call.call_id.ends_with('7')) {
        assert_eq!(
            live.end(&r.call.call_id, &utc, &mut changes).as_ref(),
            Some(r)
        );
    }
    let left: Vec<&Reservation> = calls
        .iter()
        .filter(|r| r.call.call_id.ends_with('7'))
        .collect();
    assert_eq!(live.len(), left.len());
    assert!(
        live.reservations().slots() < calls.len(),
        "slots were given back"
    );
    for r in &left {
        assert_eq!(live.get(&r.call.call_id).as_ref(), Some(*r));
    }
    assert_eq!(held(&live), (d("9.00"), 900, 900));
    live.expire(at("2026-03-03T00:00:00Z"), &utc);
    assert_eq!(held(&live), (Decimal::ZERO, 0, 0));
    assert_eq!(live.len(), left.len(), "lapsed calls are remembered");
    live.expire(at("2026-04-03T00:00:00Z"), &utc);
    assert!(live.is_empty());
    assert_eq!(*live.holds(), Holds::default());
}

#[test]
fn c27_calls_due_within_one_second_lapse_in_the_order_of_their_instants_then_ids() {
    // Instants within one second: those due by `now` lapse, by (instant, call id); the one due
    // later in that second waits.
    let utc = TimeZone::UTC;
    let mut live = LiveCalls::new(&utc);
    let mut changes = HoldChanges::default();
    for (id, start) in [
        ("a", "2026-03-02T10:00:00.700Z"),
        ("b", "2026-03-02T10:00:00.200Z"),
        ("c", "2026-03-02T10:00:00.200Z"),
        ("d", "2026-03-02T10:00:00.900Z"),
    ] {
        live.reserve(reservation(id, start, 60, "0.10", 0), &utc, &mut changes);
    }
    let lapsed = live.expire(at("2026-03-02T10:02:00.800Z"), &utc);
    let order: Vec<&str> = lapsed.put.iter().map(|r| r.call.call_id.as_str()).collect();
    assert_eq!(order, ["b", "c", "a"]);
    assert_eq!(held(&live), (d("0.10"), 1, 0));
    assert!(live.expire(at("2026-03-02T10:02:00.899Z"), &utc).is_empty());
    let lapsed = live.expire(at("2026-03-02T10:02:00.900Z"), &utc);
    assert_eq!(lapsed.put.len(), 1);
    assert_eq!(lapsed.put[0].call.call_id, "d");
}

#[test]
fn an_entry_of_the_schedule_of_lapses_stays_small() {
    // A million live calls each have one.
    assert_eq!(std::mem::size_of::<Due>(), 12);
}
