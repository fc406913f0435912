//! Real-time call control (C25 to C27): authorize, extend and end, with reservations that hold
//! credit and pool minutes so that two live calls can never spend the same money.

use crate::engine::Funding;
use crate::rating::CallRecord;
use jiff::Timestamp;
use rust_decimal::Decimal;

/// What a live (or expired but not yet ended) call holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    /// The call as authorized: `end` equals `start`, the instant the call was authorized for.
    pub call: CallRecord,
    /// Seconds granted from `start` (the bridge's `max_duration_s`); `None` when the call needs
    /// no credit and no pool (included, add-on): it is never cut.
    pub granted_s: Option<u64>,
    /// Credit held for the grant (0 when none).
    pub credit: Decimal,
    /// Pool minutes held for the grant, in the month of `call.start`.
    pub pool_minutes: u32,
    /// When the hold lapses if the call is neither extended nor ended (C27): the end of the
    /// grant plus the grace period.
    pub expires_at: Timestamp,
    /// False once the hold has lapsed: nothing is held any more, but the call is remembered so
    /// that a late end report is still rated and debited (C27, C13).
    pub live: bool,
    /// Who pays, as decided at authorization.
    pub funding: Funding,
}

use crate::engine::{Charge, Mode, Month, Outcome, Processed, TenantBook};

/// The longest call the policy simulator prices, in seconds (a day).
pub const MAX_PREVIEW_S: u64 = 86_400;
use crate::ledger::Effects;
use crate::money::{add, sub};
use crate::rating::{Assessment, Payer, Rater};
use crate::reason::Reason;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// What the live reservations of a tenant hold together, and when each lapses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Holds {
    /// Credit held by live reservations.
    pub credit: Decimal,
    /// Pool minutes held by live reservations, per month of their start.
    pub pool: BTreeMap<Month, u32>,
    /// (instant, call id): a live reservation lapses at its instant; a lapsed one is forgotten
    /// at its instant.
    due: BTreeSet<(Timestamp, Box<str>)>,
    /// How many reservations are live.
    pub live: usize,
}

/// How long a lapsed reservation is remembered so that a late end report can still be rated
/// from what was authorized.
pub const LAPSED_RETENTION_DAYS: i64 = 7;

/// How long a call that holds nothing (included, add-on) is remembered before it lapses.
pub const UNMETERED_HOLD_S: u64 = 24 * 3600;

/// The operator's call-control settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControlPolicy {
    /// Seconds granted per authorization or extension.
    pub window_s: u64,
    /// Seconds after the end of a grant before an unextended, unended reservation lapses.
    pub grace_s: u64,
}

impl Default for ControlPolicy {
    fn default() -> Self {
        ControlPolicy {
            window_s: 300,
            grace_s: 60,
        }
    }
}

/// The answer to an authorization or an extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow(Grant),
    Deny(Reason),
}

/// What an allowed call may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// Seconds from the call's start the call may last; `None`: unlimited (nothing is held).
    pub max_duration_s: Option<u64>,
    pub funding: Funding,
    /// Credit and pool minutes held for the grant.
    pub credit: Decimal,
    pub pool_minutes: u32,
    /// When the hold lapses unless extended or ended.
    pub expires_at: Timestamp,
    /// True when this answer repeats an earlier one (same call id, same content).
    pub replay: bool,
}

/// The answer to an extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Extension {
    /// The grant grew (or, for a replay, already had).
    Extended(Grant),
    /// C26: no more credit: the bridge ends the call at the granted limit.
    Exhausted(Grant),
}

/// Why a call-control command about an existing call was not carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlError {
    /// No authorized call has this id, and the end report does not carry the whole record.
    CallNotFound,
    /// The call has already ended.
    CallAlreadyEnded,
    /// A reason of the charging rules (`call_id_reused`, `invalid_record`).
    Refused(Reason),
}

/// What a call-control command changed, for the store: for each call id touched, its last
/// state (put, or dropped). Read `put` and `dropped`; change them only through the methods,
/// which keep them free of duplicates in constant time per change (a sweep may lapse a
/// million holds at once).
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

/// A reservation's grant as an answer.
fn grant_of(r: &Reservation, replay: bool) -> Grant {
    Grant {
        max_duration_s: r.granted_s,
        funding: r.funding,
        credit: r.credit,
        pool_minutes: r.pool_minutes,
        expires_at: r.expires_at,
        replay,
    }
}

/// What holding a grant of `seconds` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Need {
    funding: Funding,
    pool_minutes: u32,
    credit: Decimal,
}

impl TenantBook {
    /// C14: the balance minus what live reservations hold. (A difference too negative to
    /// represent is the smallest decimal: nothing is available either way.)
    pub fn available(&self) -> Decimal {
        self.wallet
            .balance()
            .checked_sub(self.holds.credit)
            .unwrap_or(Decimal::MIN)
    }

    /// Rebuilds `holds` from `reservations` (after loading a book from the store).
    pub fn recount_holds(&mut self) {
        let mut holds = Holds::default();
        for r in self.reservations.iter() {
            if r.live {
                holds.live += 1;
                holds.credit = add_held(holds.credit, r.credit);
                if r.pool_minutes > 0 {
                    *holds.pool.entry(self.month_of(r.call.start)).or_insert(0) += r.pool_minutes;
                }
                holds
                    .due
                    .insert((r.expires_at, r.call.call_id.as_str().into()));
            } else {
                holds
                    .due
                    .insert((forget_at(r.expires_at), r.call.call_id.as_str().into()));
            }
        }
        self.holds = holds;
    }

    fn hold(&mut self, r: &Reservation) {
        if r.live {
            self.holds.live += 1;
            self.holds.credit = add_held(self.holds.credit, r.credit);
            if r.pool_minutes > 0 {
                let month = self.month_of(r.call.start);
                *self.holds.pool.entry(month).or_insert(0) += r.pool_minutes;
            }
            self.holds
                .due
                .insert((r.expires_at, r.call.call_id.as_str().into()));
        } else {
            self.holds
                .due
                .insert((forget_at(r.expires_at), r.call.call_id.as_str().into()));
        }
    }

    fn release(&mut self, r: &Reservation) {
        if r.live {
            self.holds.live -= 1;
            self.holds.credit = sub(self.holds.credit, r.credit)
                .expect("a released hold is part of the credit held");
            if r.pool_minutes > 0 {
                let month = self.month_of(r.call.start);
                let held = self.holds.pool.entry(month).or_insert(0);
                *held -= r.pool_minutes;
                if *held == 0 {
                    self.holds.pool.remove(&month);
                }
            }
            self.holds
                .due
                .remove(&(r.expires_at, r.call.call_id.as_str().into()));
        } else {
            self.holds
                .due
                .remove(&(forget_at(r.expires_at), r.call.call_id.as_str().into()));
        }
    }

    /// C27: reservations whose grant and grace have passed by `now` lapse and their funds
    /// return; lapsed ones past their retention are forgotten.
    pub fn expire(&mut self, now: Timestamp) -> HoldChanges {
        let mut changes = HoldChanges::default();
        while let Some((at, id)) = self.holds.due.first().cloned() {
            if at > now {
                break;
            }
            let r = self
                .reservations
                .get(&id)
                .expect("a due reservation is held");
            self.release(&r);
            if r.live {
                let lapsed = Reservation {
                    credit: Decimal::ZERO,
                    pool_minutes: 0,
                    live: false,
                    ..r
                };
                self.hold(&lapsed);
                changes.put(&lapsed);
                self.reservations.insert(&lapsed);
            } else {
                self.reservations.remove(&id);
                changes.drop_id(&id);
            }
        }
        changes
    }

    /// What a grant of `seconds` for this assessed call takes, with `pool_left` minutes of pool.
    fn need(&self, a: &Assessment<'_>, seconds: u64, pool_left: u32) -> Result<Need, Reason> {
        let probe = Assessment {
            duration_s: seconds,
            ..a.clone()
        };
        let plan: Charge = self.plan_funding(&probe, pool_left)?;
        Ok(Need {
            funding: plan.funding,
            pool_minutes: plan.pool_minutes,
            credit: plan.amount,
        })
    }

    /// The longest grant in `(floor, target]` whose credit is at most `limit` (None when even
    /// one more second costs more, or cannot be funded).
    fn longest_grant(
        &self,
        a: &Assessment<'_>,
        floor: u64,
        target: u64,
        pool_left: u32,
        limit: Decimal,
    ) -> Option<(u64, Need)> {
        let fits = |s: u64| {
            self.need(a, s, pool_left)
                .ok()
                .filter(|n| n.credit <= limit)
        };
        let mut best = None;
        let (mut lo, mut hi) = (floor.saturating_add(1), target);
        // The credit never decreases with the seconds granted: bisect for the last that fits.
        while lo <= hi {
            let mid = lo + (hi - lo) / 2;
            match fits(mid) {
                Some(n) => {
                    best = Some((mid, n));
                    let Some(next) = mid.checked_add(1) else {
                        break;
                    };
                    lo = next;
                }
                None => hi = mid - 1,
            }
        }
        best
    }

    /// C25: allow or deny a call about to connect. `call.end` must equal `call.start` (the
    /// instant the call is authorized for); `now` is the server's clock.
    pub fn authorize(
        &mut self,
        rater: &mut Rater<'_>,
        call: &CallRecord,
        now: Timestamp,
        policy: &ControlPolicy,
    ) -> (Decision, Effects, HoldChanges) {
        let mut changes = self.expire(now);
        let mut effects = Effects::default();
        let fingerprint = call.fingerprint();
        if let Some(r) = self.reservations.get(&call.call_id) {
            let decision = if r.call.fingerprint() == fingerprint {
                Decision::Allow(grant_of(&r, true))
            } else {
                Decision::Deny(Reason::CallIdReused)
            };
            return (decision, effects, changes);
        }
        if let Some(seen) = self.seen.get(&call.call_id) {
            // A denied authorization asked again gets the same answer (C37); anything else with
            // a known id is a reuse.
            let decision = match &seen.outcome {
                Outcome::Refused(reason) if seen.fingerprint == fingerprint => {
                    Decision::Deny(*reason)
                }
                _ => Decision::Deny(Reason::CallIdReused),
            };
            return (decision, effects, changes);
        }
        self.settle(now, &mut effects);
        self.wallet.advance(now, &mut effects);
        let decision = match self.decide(rater, call, policy) {
            Ok(r) => {
                let grant = grant_of(&r, false);
                self.hold(&r);
                changes.put(&r);
                self.reservations.insert(&r);
                Decision::Allow(grant)
            }
            Err(reason) => {
                // A denial is remembered like a refused record, for the refused-calls report
                // and so that asking again gives the same answer.
                self.seen.insert(
                    call.call_id.clone(),
                    crate::engine::Seen {
                        fingerprint,
                        outcome: Outcome::Refused(reason),
                    },
                );
                Decision::Deny(reason)
            }
        };
        (decision, effects, changes)
    }

    fn decide(
        &self,
        rater: &mut Rater<'_>,
        call: &CallRecord,
        policy: &ControlPolicy,
    ) -> Result<Reservation, Reason> {
        if call.end != call.start {
            return Err(Reason::InvalidRecord);
        }
        let a = rater.assess(&self.tenant, call)?;
        let pool_left = self.pool_remaining(call.start);
        let window = policy.window_s.max(1);
        let unmetered = |funding| Reservation {
            call: call.clone(),
            granted_s: None,
            credit: Decimal::ZERO,
            pool_minutes: 0,
            expires_at: later(call.start, UNMETERED_HOLD_S),
            live: true,
            funding,
        };
        match a.payer {
            Payer::Included => return Ok(unmetered(Funding::Included)),
            Payer::AddOn => return Ok(unmetered(Funding::AddOn)),
            Payer::Pool | Payer::Credits => {}
        }
        let full = self.need(&a, window, pool_left);
        // Only a pool-eligible call can run on the pool alone (C32): for any other call the
        // tenant's pool minutes are no reason to start without credit (C14).
        let pool_only = if a.payer == Payer::Pool {
            60 * u64::from(pool_left)
        } else {
            0
        };
        let (seconds, need) = match full {
            Ok(n) if n.credit.is_zero() => (window, n),
            // The credit part cannot be funded (C32) or no credit is available (C14): a pool
            // call may still run on what the pool has left.
            Err(reason) if pool_only == 0 => return Err(reason),
            Ok(_) if pool_only == 0 && self.available() <= Decimal::ZERO => {
                return Err(Reason::InsufficientCredits);
            }
            Err(_) => (pool_only, self.need(&a, pool_only, pool_left)?),
            Ok(_) if self.available() <= Decimal::ZERO => {
                (pool_only, self.need(&a, pool_only, pool_left)?)
            }
            Ok(n) => {
                let available = self.available();
                if n.credit <= available {
                    (window, n)
                } else {
                    // The longest grant the available credit covers, but never less than the
                    // first chargeable block: a positive balance lets a call start (C14), and
                    // what it then owes beyond the balance is the debt of a call in progress
                    // (C13).
                    let first = self
                        .longest_grant(&a, 0, window, pool_left, Decimal::ZERO)
                        .map_or(0, |(s, _)| s);
                    let first_block = self
                        .need(&a, first + 1, pool_left)
                        .map(|n| n.credit)
                        .unwrap_or(Decimal::ZERO);
                    let limit = available.max(first_block);
                    self.longest_grant(&a, 0, window, pool_left, limit)
                        .ok_or(Reason::InsufficientCredits)?
                }
            }
        };
        Ok(Reservation {
            call: call.clone(),
            granted_s: Some(seconds),
            credit: need.credit,
            pool_minutes: need.pool_minutes,
            expires_at: later(call.start, seconds.saturating_add(policy.grace_s)),
            live: true,
            funding: need.funding,
        })
    }

    /// The policy simulator's question ("can this organizer make this call now, and who
    /// pays?"), answered with nothing changed: the decision `authorize` would make for `call`
    /// at its start (C25, with C14 and C30: `call.end` must equal `call.start`), and what the
    /// call would be charged were it to last `duration_s` (the same rating and funding
    /// waterfall as a call record, C18 to C21, on a copy of the wallet and pool; never refused
    /// for credit, as the decision already says whether there is any).
    pub fn preview(
        &self,
        rater: &mut Rater<'_>,
        call: &CallRecord,
        duration_s: u64,
        policy: &ControlPolicy,
    ) -> (Result<Reservation, Reason>, Outcome) {
        let decision = self.decide(rater, call, policy);
        let mut copy = TenantBook {
            tenant: self.tenant.clone(),
            wallet: self.wallet.clone(),
            pool_used: self.pool_used.clone(),
            seen: HashMap::new(),
            scheduled: self.scheduled.clone(),
            reservations: crate::reservations::Reservations::new(),
            holds: self.holds.clone(),
        };
        let mut whole = call.clone();
        whole.end = later(call.start, duration_s);
        let (charge, _) = copy.process_new(rater, &whole, Mode::Bulk);
        (decision, charge)
    }

    /// C26: the next window for a live call. `known_s` is the grant the bridge holds: when the
    /// reservation already grants more, this is a repeated request and the current grant is
    /// the answer.
    pub fn extend(
        &mut self,
        rater: &mut Rater<'_>,
        call_id: &str,
        known_s: Option<u64>,
        now: Timestamp,
        policy: &ControlPolicy,
    ) -> (Result<Extension, ControlError>, Effects, HoldChanges) {
        let mut changes = self.expire(now);
        let mut effects = Effects::default();
        let Some(r) = self.reservations.get(call_id) else {
            let error = if self.seen.contains_key(call_id) {
                ControlError::CallAlreadyEnded
            } else {
                ControlError::CallNotFound
            };
            return (Err(error), effects, changes);
        };
        let Some(granted) = r.granted_s else {
            return (
                Ok(Extension::Extended(grant_of(&r, true))),
                effects,
                changes,
            );
        };
        if !r.live {
            return (
                Ok(Extension::Exhausted(grant_of(&r, false))),
                effects,
                changes,
            );
        }
        if known_s.is_some_and(|k| k < granted) {
            return (
                Ok(Extension::Extended(grant_of(&r, true))),
                effects,
                changes,
            );
        }
        self.settle(now, &mut effects);
        self.wallet.advance(now, &mut effects);
        // The call's own hold counts as available to it.
        self.release(&r);
        let a = match rater.assess(&self.tenant, &r.call) {
            Ok(a) => a,
            Err(_) => {
                self.hold(&r);
                return (
                    Ok(Extension::Exhausted(grant_of(&r, false))),
                    effects,
                    changes,
                );
            }
        };
        let pool_left = self.pool_remaining(r.call.start);
        let target = granted.saturating_add(policy.window_s.max(1));
        let limit = self.available().max(r.credit);
        let grown = self
            .longest_grant(&a, granted, target, pool_left, limit)
            .filter(|(_, n)| n.credit <= r.credit || self.available() > Decimal::ZERO);
        let answer = match grown {
            Some((seconds, need)) => {
                let next = Reservation {
                    granted_s: Some(seconds),
                    credit: need.credit,
                    pool_minutes: need.pool_minutes,
                    funding: need.funding,
                    expires_at: later(r.call.start, seconds.saturating_add(policy.grace_s)),
                    ..r.clone()
                };
                self.hold(&next);
                changes.put(&next);
                let grant = grant_of(&next, false);
                self.reservations.insert(&next);
                Extension::Extended(grant)
            }
            None => {
                self.hold(&r);
                Extension::Exhausted(grant_of(&r, false))
            }
        };
        (Ok(answer), effects, changes)
    }

    /// C27: the call ended at `end`: it is rated, its hold released and its debit made, in one
    /// step. `record` is the whole record when the bridge sends it (required for a call that
    /// was never authorized, such as a toll dial-in); it must match what was authorized.
    pub fn end(
        &mut self,
        rater: &mut Rater<'_>,
        call_id: &str,
        end: Timestamp,
        record: Option<&CallRecord>,
        now: Timestamp,
    ) -> (Result<Processed, ControlError>, HoldChanges) {
        let (result, changes) = self.end_call(rater, call_id, end, record, now);
        (result.map(|(_, processed)| processed), changes)
    }

    /// `end`, also returning the record as rated (for the store; `None` for a replay).
    pub fn end_call(
        &mut self,
        rater: &mut Rater<'_>,
        call_id: &str,
        end: Timestamp,
        record: Option<&CallRecord>,
        now: Timestamp,
    ) -> (
        Result<(Option<CallRecord>, Processed), ControlError>,
        HoldChanges,
    ) {
        let mut changes = self.expire(now);
        let call = match (self.reservations.get(call_id), record) {
            (Some(r), Some(given)) => {
                let authorized = CallRecord {
                    end: given.end,
                    ..r.call.clone()
                };
                if authorized.fingerprint() != given.fingerprint() {
                    return (Err(ControlError::Refused(Reason::CallIdReused)), changes);
                }
                authorized
            }
            (Some(r), None) => CallRecord {
                end,
                ..r.call.clone()
            },
            (None, Some(given)) => given.clone(),
            (None, None) => {
                // An end reported again without its record gets the first result (C23).
                let answer = match self.seen.get(call_id) {
                    Some(seen) => Ok((
                        None,
                        Processed {
                            outcome: seen.outcome.clone(),
                            replay: true,
                            effects: Effects::default(),
                        },
                    )),
                    None => Err(ControlError::CallNotFound),
                };
                return (answer, changes);
            }
        };
        if call.end < call.start {
            return (Err(ControlError::Refused(Reason::InvalidRecord)), changes);
        }
        if let Some(r) = self.reservations.remove(call_id) {
            self.release(&r);
            changes.drop_id(call_id);
        }
        let processed = self.process_call(rater, &call, Mode::Ended);
        let record = (!processed.replay).then_some(call);
        (Ok((record, processed)), changes)
    }
}

/// When a lapsed reservation that lapsed at `lapsed_at` is forgotten.
fn forget_at(lapsed_at: Timestamp) -> Timestamp {
    later(lapsed_at, LAPSED_RETENTION_DAYS as u64 * 24 * 3600)
}

/// `at` plus `seconds`, or the latest representable instant when that is beyond it (a call
/// authorized near the end of the year 9999 holds until the end of time).
fn later(at: Timestamp, seconds: u64) -> Timestamp {
    i64::try_from(seconds)
        .ok()
        .and_then(|s| at.checked_add(jiff::SignedDuration::from_secs(s)).ok())
        .unwrap_or(Timestamp::MAX)
}

/// Credit held by live calls plus one more grant. Each grant is at most the available credit
/// or one first billing block (at most MAX_RATE_PER_MINUTE for an hour plus
/// MAX_CONNECTION_FEE), and balances are bounded by MAX_BALANCE, so the sum stays far inside
/// the representable range.
fn add_held(held: Decimal, credit: Decimal) -> Decimal {
    add(held, credit).expect("held credit is bounded by MAX_BALANCE and the rate bounds")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rating::Direction;

    fn reservation(id: &str, credit: i64) -> Reservation {
        let start: Timestamp = "2026-03-02T10:00:00Z".parse().unwrap();
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
            granted_s: Some(60),
            credit: Decimal::new(credit, 2),
            pool_minutes: 0,
            expires_at: start,
            live: true,
            funding: Funding::Credits,
        }
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
                later.put(&reservation(&id, step));
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
}
