//! Live-call state (C25 to C27): `LiveCalls`, the one owner of a tenant's reservations and of
//! what they hold together (`Holds`). It can only be built from reservations, and every
//! reserve, extension, end and lapse goes through it, so the holds are derived and never fixed
//! up by a caller. After every hold and every release it asserts the money invariants (held
//! credit and held pool minutes are never negative, and never more than the grants hold); at
//! the end of each batch of changes, in debug builds, it recounts the holds from the
//! reservations and asserts they agree.
//!
//! The dependency direction of call control, from the top down (a module imports only those
//! below it):
//!
//! ```text
//!   control       the commands: authorize, extend, end, expire, preview
//!      |
//!   engine        TenantBook: directory, wallet, pool, idempotency; owns one LiveCalls
//!      |
//!   live          LiveCalls, Holds, HoldChanges: the holds, derived from the reservations
//!      |
//!   reservations  Reservation, Reservations: what each authorized call holds
//!      |
//!   funding, rating, money
//! ```

use crate::money::{add, sub};
use crate::reservations::{Reservation, Reservations};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use rust_decimal::Decimal;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// How long a lapsed reservation is remembered so that a late end report can still be rated
/// from what was authorized.
pub const LAPSED_RETENTION_DAYS: i64 = 7;

/// A tenant-local calendar month as (year, month 1 to 12): held pool minutes count against
/// the month the call started in (C21).
pub type MonthKey = (i16, i8);

/// The month of `at` in `tz`.
pub fn month_key(at: Timestamp, tz: &TimeZone) -> MonthKey {
    let local = tz.to_datetime(at);
    (local.year(), local.month())
}

/// What the live reservations of a tenant hold together, and when each lapses. Read only:
/// `LiveCalls` alone changes it. Two holds are equal when they hold the same credit and pool
/// minutes for as many calls (the schedule of lapses names slots of the reservations, which
/// differ between two copies of the same reservations).
#[derive(Debug, Clone, Default)]
pub struct Holds {
    /// Credit held by live reservations.
    credit: Decimal,
    /// Pool minutes held by live reservations, per month of their start (in the time zone of
    /// the `LiveCalls` that owns them).
    pool: BTreeMap<MonthKey, u32>,
    /// A live reservation lapses at its instant; a lapsed one is forgotten at its instant.
    due: BTreeSet<Due>,
    /// How many reservations are live.
    live: usize,
}

impl PartialEq for Holds {
    fn eq(&self, other: &Holds) -> bool {
        self.credit == other.credit && self.pool == other.pool && self.live == other.live
    }
}

impl Eq for Holds {}

/// The second in which the reservation in a slot of `Reservations` is due (to lapse, or to be
/// forgotten), split so that the key takes 12 bytes, ordered as the seconds are. The instant
/// itself is the reservation's (`due_at`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Due {
    second_high: i32,
    second_low: u32,
    slot: u32,
}

impl Due {
    fn new(at: Timestamp, slot: u32) -> Due {
        let second = at.as_second();
        Due {
            second_high: (second >> 32) as i32,
            second_low: second as u32,
            slot,
        }
    }

    fn second(&self) -> i64 {
        (i64::from(self.second_high) << 32) | i64::from(self.second_low)
    }
}

/// When a reservation that expires at `expires_at` is due: a live one lapses then, a lapsed one
/// is forgotten after its retention.
fn due_at(expires_at: Timestamp, live: bool) -> Timestamp {
    if live {
        expires_at
    } else {
        forget_at(expires_at)
    }
}

impl Holds {
    /// Credit held by live reservations.
    pub fn credit(&self) -> Decimal {
        self.credit
    }

    /// How many reservations are live.
    pub fn live(&self) -> usize {
        self.live
    }

    /// Pool minutes held by live reservations, over every month.
    pub fn pool_minutes(&self) -> u64 {
        self.pool.values().map(|m| u64::from(*m)).sum()
    }

    /// Adds what `r`, in `slot`, holds, keyed in `tz`.
    fn add(&mut self, r: &Reservation, slot: u32, tz: &TimeZone) {
        let id = r.call.call_id.as_str();
        if !r.live {
            self.due.insert(Due::new(due_at(r.expires_at, false), slot));
            return;
        }
        assert_grant_holds(r);
        self.live = self.live.checked_add(1).expect("live calls are counted");
        // Each grant is at most the available credit or one first billing block (at most
        // MAX_RATE_PER_MINUTE for an hour plus MAX_CONNECTION_FEE), and balances are bounded by
        // MAX_BALANCE, so the sum stays far inside the representable range.
        self.credit = add(self.credit, r.credit)
            .expect("held credit is bounded by MAX_BALANCE and the rate bounds");
        if r.pool_minutes > 0 {
            let held = self.pool.entry(month_key(r.call.start, tz)).or_insert(0);
            *held = held
                .checked_add(r.pool_minutes)
                .expect("held pool minutes are bounded by the pool size");
        }
        self.due.insert(Due::new(r.expires_at, slot));
        self.assert_invariant(id);
    }

    /// Takes back what `r`, in `slot`, holds, keyed in `tz`. `r` must be what was added: a
    /// release of more than is held is a broken invariant, and stops the process.
    fn release(&mut self, r: &Reservation, slot: u32, tz: &TimeZone) {
        let id = r.call.call_id.as_str();
        if !r.live {
            let due = self
                .due
                .remove(&Due::new(due_at(r.expires_at, false), slot));
            assert!(
                due,
                "call {id}: a released lapsed reservation was due to be forgotten"
            );
            return;
        }
        self.live = self
            .live
            .checked_sub(1)
            .unwrap_or_else(|| panic!("call {id}: released while no call is live"));
        self.credit = sub(self.credit, r.credit)
            .ok()
            .filter(|left| *left >= Decimal::ZERO)
            .unwrap_or_else(|| {
                panic!(
                    "call {id}: releasing {} of credit when {} is held",
                    r.credit, self.credit
                )
            });
        if r.pool_minutes > 0 {
            let month = month_key(r.call.start, tz);
            let held = self.pool.get(&month).copied().unwrap_or(0);
            let left = held.checked_sub(r.pool_minutes).unwrap_or_else(|| {
                panic!(
                    "call {id}: releasing {} pool minutes of {month:?} when {held} are held",
                    r.pool_minutes
                )
            });
            if left == 0 {
                self.pool.remove(&month);
            } else {
                self.pool.insert(month, left);
            }
        }
        let due = self.due.remove(&Due::new(r.expires_at, slot));
        assert!(
            due,
            "call {id}: a released live reservation was due to lapse"
        );
        self.assert_invariant(id);
    }

    /// The money invariants of the totals, after a change made for call `id`: nothing held is
    /// negative, and nothing is held when no call is live.
    fn assert_invariant(&self, id: &str) {
        assert!(
            self.credit >= Decimal::ZERO,
            "after call {id}: the credit held ({}) is negative",
            self.credit
        );
        assert!(
            self.pool.values().all(|m| *m > 0),
            "after call {id}: an empty month of held pool minutes is kept"
        );
        assert!(
            self.live > 0 || (self.credit.is_zero() && self.pool.is_empty()),
            "after call {id}: no call is live, yet {} of credit and {} pool minutes are held",
            self.credit,
            self.pool_minutes()
        );
    }
}

/// What one live reservation may hold, given its grant: no negative credit, nothing for an
/// unlimited grant (included, add-on), and no more pool minutes than the grant's minutes. The
/// error names the call and what it holds (the store refuses such a reservation on load).
pub fn check_grant(r: &Reservation) -> Result<(), String> {
    let id = r.call.call_id.as_str();
    if r.credit < Decimal::ZERO {
        return Err(format!(
            "call {id}: a grant holds negative credit ({})",
            r.credit
        ));
    }
    match r.granted_s {
        None if !r.credit.is_zero() || r.pool_minutes > 0 => Err(format!(
            "call {id}: an unlimited grant holds {} of credit and {} pool minutes",
            r.credit, r.pool_minutes
        )),
        Some(granted_s) if u64::from(r.pool_minutes) > granted_s.div_ceil(60) => Err(format!(
            "call {id}: {} pool minutes held for a grant of {granted_s} s",
            r.pool_minutes
        )),
        _ => Ok(()),
    }
}

/// `check_grant`, as an assertion: every grant the commands make passes it.
fn assert_grant_holds(r: &Reservation) {
    if let Err(broken) = check_grant(r) {
        panic!("{broken}");
    }
}

/// A tenant's calls authorized and not yet ended (or lapsed and still remembered), with what
/// they hold together. The only way to change either is through its methods, which keep them
/// in step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveCalls {
    /// The reservations, by call id.
    reservations: Reservations,
    /// What the live ones hold, derived from `reservations`.
    holds: Holds,
    /// The time zone whose months key `holds.pool` (the tenant's, when the holds were last
    /// changed: a tenant's time zone may change while calls are live).
    tz: TimeZone,
}

impl LiveCalls {
    /// No live calls, for a tenant in `tz`.
    pub fn new(tz: &TimeZone) -> LiveCalls {
        LiveCalls::from_reservations(Reservations::new(), tz)
    }

    /// The live state of `reservations` (as loaded from the store), for a tenant in `tz`: the
    /// holds are counted from them.
    pub fn from_reservations(reservations: Reservations, tz: &TimeZone) -> LiveCalls {
        let holds = count(&reservations, tz);
        LiveCalls {
            reservations,
            holds,
            tz: tz.clone(),
        }
    }

    /// Every reservation, live or lapsed.
    pub fn reservations(&self) -> &Reservations {
        &self.reservations
    }

    /// What the live reservations hold together.
    pub fn holds(&self) -> &Holds {
        &self.holds
    }

    /// The reservation of this call, if any.
    pub fn get(&self, call_id: &str) -> Option<Reservation> {
        self.reservations.get(call_id)
    }

    pub fn contains_key(&self, call_id: &str) -> bool {
        self.reservations.contains_key(call_id)
    }

    /// How many reservations there are, live or lapsed.
    pub fn len(&self) -> usize {
        self.reservations.len()
    }

    pub fn is_empty(&self) -> bool {
        self.reservations.is_empty()
    }

    /// The holds counted afresh from the reservations (a walk over all of them).
    pub fn recount(&self) -> Holds {
        count(&self.reservations, &self.tz)
    }

    /// Asserts, in debug builds only, that the holds agree with a recount of the reservations.
    /// Run at the end of every batch of changes; a walk over every reservation is too dear for
    /// release builds, where the assertions of each hold and release stand guard.
    pub fn debug_assert_recount(&self) {
        #[cfg(debug_assertions)]
        {
            let recount = self.recount();
            assert_eq!(
                recount, self.holds,
                "the holds agree with a recount of the reservations"
            );
            assert_eq!(
                recount.due, self.holds.due,
                "the schedule of lapses agrees with a recount of the reservations"
            );
        }
    }

    /// Gives back the slots of reservations gone when few are left of many (the schedule of
    /// lapses, which names slots, is counted again).
    fn compact(&mut self) {
        if self.reservations.compact() {
            self.holds = count(&self.reservations, &self.tz);
        }
    }

    /// Pool minutes held by live calls in `month` of the tenant's time zone `tz`.
    pub fn pool_held(&self, month: MonthKey, tz: &TimeZone) -> u32 {
        self.pool_held_besides(month, tz, None)
    }

    /// Pool minutes held in `month` of `tz`, not counting `own`'s (a call's own hold counts as
    /// available to it when it is extended).
    pub(crate) fn pool_held_besides(
        &self,
        month: MonthKey,
        tz: &TimeZone,
        own: Option<&Reservation>,
    ) -> u32 {
        let held = if *tz == self.tz {
            self.holds.pool.get(&month).copied().unwrap_or(0)
        } else {
            // The tenant's time zone changed since the holds were keyed; the next change keys
            // them again, and until then the reservations are counted in the new one.
            let minutes = self
                .reservations
                .iter()
                .filter(|r| r.live && month_key(r.call.start, tz) == month)
                .map(|r| u64::from(r.pool_minutes))
                .sum::<u64>();
            u32::try_from(minutes).expect("held pool minutes are bounded by the pool size")
        };
        let own_minutes = own
            .filter(|r| r.live && month_key(r.call.start, tz) == month)
            .map_or(0, |r| r.pool_minutes);
        held.checked_sub(own_minutes)
            .expect("a call's own pool minutes are part of those held")
    }

    /// Credit held by live calls, not counting `own`'s.
    pub(crate) fn credit_held_besides(&self, own: Option<&Reservation>) -> Decimal {
        let own_credit = own.filter(|r| r.live).map_or(Decimal::ZERO, |r| r.credit);
        sub(self.holds.credit, own_credit).expect("a call's own credit is part of that held")
    }

    /// Keys the pool holds in `tz` when the tenant's time zone changed since they were keyed.
    fn rekey(&mut self, tz: &TimeZone) {
        if self.tz != *tz {
            self.holds = count(&self.reservations, tz);
            self.tz = tz.clone();
        }
    }

    /// C25: holds what a newly authorized call was granted.
    pub(crate) fn reserve(&mut self, r: Reservation, tz: &TimeZone, changes: &mut HoldChanges) {
        self.rekey(tz);
        let id = r.call.call_id.as_str();
        assert!(
            !self.reservations.contains_key(id),
            "call {id} is reserved only once"
        );
        let slot = self.reservations.put(&r);
        self.holds.add(&r, slot, &self.tz);
        changes.put(&r);
        self.debug_assert_recount();
    }

    /// C26: replaces a live call's grant by `next`, the grant of its extension.
    pub(crate) fn regrant(&mut self, next: Reservation, tz: &TimeZone, changes: &mut HoldChanges) {
        self.rekey(tz);
        let id = next.call.call_id.as_str();
        let (slot, before) = self
            .reservations
            .slot(id)
            .and_then(|slot| Some((slot, self.reservations.at(slot)?)))
            .unwrap_or_else(|| panic!("call {id}: an extended call is reserved"));
        self.holds.release(&before, slot, &self.tz);
        self.holds.add(&next, slot, &self.tz);
        changes.put(&next);
        let kept = self.reservations.put(&next);
        debug_assert_eq!(kept, slot, "a changed reservation keeps its slot");
        self.debug_assert_recount();
    }

    /// C27: the call ended: its reservation is gone and what it held returns.
    pub(crate) fn end(
        &mut self,
        call_id: &str,
        tz: &TimeZone,
        changes: &mut HoldChanges,
    ) -> Option<Reservation> {
        self.rekey(tz);
        let slot = self.reservations.slot(call_id)?;
        let r = self.reservations.remove(call_id)?;
        self.holds.release(&r, slot, &self.tz);
        changes.drop_id(call_id);
        self.compact();
        self.debug_assert_recount();
        Some(r)
    }

    /// C27: reservations whose grant and grace have passed by `now` lapse and what they held
    /// returns; lapsed ones past their retention are forgotten. Those due at the same instant
    /// are taken in the order of their call ids.
    pub(crate) fn expire(&mut self, now: Timestamp, tz: &TimeZone) -> HoldChanges {
        self.rekey(tz);
        let mut changes = HoldChanges::default();
        while let Some(first) = self.holds.due.first().copied() {
            if first.second() > now.as_second() {
                break;
            }
            // Those due in the first second, by (instant, call id); none of them by `now`
            // means nothing is.
            let mut due: Vec<(Timestamp, u32)> = self
                .holds
                .due
                .range(first..)
                .take_while(|d| d.second() == first.second())
                .filter_map(|d| {
                    let (expires_at, live) = self.reservations.expiry_at(d.slot)?;
                    Some((due_at(expires_at, live), d.slot)).filter(|(at, _)| *at <= now)
                })
                .collect();
            if due.is_empty() {
                break;
            }
            let reservations = &self.reservations;
            due.sort_unstable_by_key(|(at, slot)| (*at, reservations.id_at(*slot)));
            for (_, slot) in due {
                self.lapse(slot, &mut changes);
            }
        }
        if !changes.is_empty() {
            self.compact();
            self.debug_assert_recount();
        }
        changes
    }

    /// The due reservation in `slot` lapses (what it held returns), or, lapsed, is forgotten.
    fn lapse(&mut self, slot: u32, changes: &mut HoldChanges) {
        let r = self
            .reservations
            .at(slot)
            .unwrap_or_else(|| panic!("slot {slot}: a due reservation is held"));
        self.holds.release(&r, slot, &self.tz);
        if r.live {
            let lapsed = Reservation {
                credit: Decimal::ZERO,
                pool_minutes: 0,
                live: false,
                ..r
            };
            self.holds.add(&lapsed, slot, &self.tz);
            changes.put(&lapsed);
            self.reservations.put(&lapsed);
        } else {
            self.reservations.remove(&r.call.call_id);
            changes.drop_id(&r.call.call_id);
        }
    }
}

/// The holds of `reservations`, keyed in `tz`.
fn count(reservations: &Reservations, tz: &TimeZone) -> Holds {
    let mut holds = Holds::default();
    for (slot, r) in reservations.iter_slots() {
        holds.add(&r, slot, tz);
    }
    holds
}

/// When a reservation that lapsed at `lapsed_at` is forgotten.
fn forget_at(lapsed_at: Timestamp) -> Timestamp {
    later(lapsed_at, LAPSED_RETENTION_DAYS as u64 * 24 * 3600)
}

/// `at` plus `seconds`, or the latest representable instant when that is beyond it (a call
/// authorized near the end of the year 9999 holds until the end of time).
pub(crate) fn later(at: Timestamp, seconds: u64) -> Timestamp {
    i64::try_from(seconds)
        .ok()
        .and_then(|s| at.checked_add(jiff::SignedDuration::from_secs(s)).ok())
        .unwrap_or(Timestamp::MAX)
}

/// What a call-control command changed, for the store: for each call id touched, its last
/// state (put, or dropped). Read `put` and `dropped`; only `LiveCalls` and `merge` change them,
/// keeping them free of duplicates in constant time per change (a sweep may lapse a million
/// holds at once).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HoldChanges {
    /// Reservations created or changed.
    pub put: Vec<Reservation>,
    /// Call ids whose reservation is gone.
    pub dropped: Vec<String>,
    /// Where each call id of `put` and `dropped` is.
    index: HashMap<String, Slot>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Put(usize),
    Dropped(usize),
}

impl HoldChanges {
    /// Takes `id` out of `put` or `dropped`, wherever it is.
    fn forget(&mut self, id: &str) {
        match self.index.remove(id) {
            Some(Slot::Put(i)) => {
                self.put.swap_remove(i);
                if let Some(moved) = self.put.get(i) {
                    self.index.insert(moved.call.call_id.clone(), Slot::Put(i));
                }
            }
            Some(Slot::Dropped(i)) => {
                self.dropped.swap_remove(i);
                if let Some(moved) = self.dropped.get(i) {
                    self.index.insert(moved.clone(), Slot::Dropped(i));
                }
            }
            None => {}
        }
    }

    fn put(&mut self, r: &Reservation) {
        if let Some(Slot::Put(i)) = self.index.get(&r.call.call_id) {
            self.put[*i] = r.clone();
            return;
        }
        self.forget(&r.call.call_id);
        self.index
            .insert(r.call.call_id.clone(), Slot::Put(self.put.len()));
        self.put.push(r.clone());
    }

    fn drop_id(&mut self, id: &str) {
        if let Some(Slot::Dropped(_)) = self.index.get(id) {
            return;
        }
        self.forget(id);
        self.index
            .insert(id.to_string(), Slot::Dropped(self.dropped.len()));
        self.dropped.push(id.to_string());
    }

    /// Folds later changes in.
    pub fn merge(&mut self, later: HoldChanges) {
        for r in &later.put {
            self.put(r);
        }
        for id in &later.dropped {
            self.drop_id(id);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.put.is_empty() && self.dropped.is_empty()
    }
}

#[cfg(test)]
mod tests;
