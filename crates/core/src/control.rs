//! Real-time call control (C25 to C27): authorize, extend and end, with reservations that hold
//! credit and pool minutes so that two live calls can never spend the same money.
//!
//! The top of call control's module graph: the commands here decide what to grant and change
//! the book's live calls only through `LiveCalls` (module `live`), which keeps the holds in
//! step with the reservations; `engine` and `live` never import this module.

use crate::engine::{Charge, Funding, Mode, Outcome, Processed, TenantBook};
use crate::guard;
use crate::ledger::{Effects, Event};
use crate::live::later;
pub use crate::live::{HoldChanges, Holds, LAPSED_RETENTION_DAYS};
use crate::rating::CallRecord;
use crate::rating::{Assessment, Payer, Rater};
use crate::reason::Reason;
pub use crate::reservations::Reservation;
use jiff::Timestamp;
use rust_decimal::Decimal;

/// The longest call the policy simulator prices, in seconds (a day).
pub const MAX_PREVIEW_S: u64 = 86_400;

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
    /// When the grant ends, the call's start plus `max_duration_s` (`None`: never cut).
    pub ends_at: Option<Timestamp>,
    /// Seconds from the server's `now` to `ends_at`, 0 once it has passed (`None`: never cut).
    pub remaining_s: Option<u64>,
    /// True when the engine cannot promise another extension: the extension is exhausted, the
    /// grant grew by less than a full window, or after this hold nothing is available for
    /// another window. The edge warns the caller; the call is still cut only at `ends_at`.
    pub last_window: bool,
}

/// The answer to an extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Extension {
    /// The grant grew (or, for a replay, already had).
    Extended(Grant),
    /// C26: no more credit: the bridge ends the call at the granted limit.
    Exhausted(Grant),
    /// C43: the toll-fraud guard refused more: the bridge ends the call at the granted limit.
    Stopped(Grant, Reason),
}

/// Why a call-control command about an existing call was not carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlError {
    /// No authorized call has this id, and the end report does not carry the whole record.
    CallNotFound,
    /// The call has already ended.
    CallAlreadyEnded,
    /// The call was answered at `answered_at`; another instant is refused.
    CallAlreadyAnswered { answered_at: Timestamp },
    /// The call's hold lapsed (C27): it can no longer be answered, only ended.
    CallLapsed,
    /// An answer instant before the authorized start, or more than `MAX_ANSWER_AHEAD_S` after
    /// the server's clock: it must lie in `[earliest, latest]`.
    AnsweredAtOutOfRange {
        earliest: Timestamp,
        latest: Timestamp,
    },
    /// A reason of the charging rules (`call_id_reused`, `invalid_record`).
    Refused(Reason),
}

/// How far after the server's clock an answer instant may be (the edge's clock may run a
/// little ahead).
pub const MAX_ANSWER_AHEAD_S: u64 = 5;

/// A reservation's grant as an answer at `now`.
fn grant_of(r: &Reservation, replay: bool, now: Timestamp) -> Grant {
    let ends_at = r.ends_at();
    Grant {
        max_duration_s: r.granted_s,
        funding: r.funding,
        credit: r.credit,
        pool_minutes: r.pool_minutes,
        expires_at: r.expires_at,
        replay,
        ends_at,
        remaining_s: ends_at.map(|end| seconds_until(now, end)),
        last_window: r.last_window,
    }
}

/// Whole seconds from `now` to `end`, 0 when `end` has passed.
fn seconds_until(now: Timestamp, end: Timestamp) -> u64 {
    u64::try_from(end.duration_since(now).as_secs()).unwrap_or(0)
}

/// Sets `r`'s last-window flag to `last`; when it turns true (it was not on the grant before,
/// `before`), raises `call.last_window` at `now`. A call unwarned again by a later full window
/// (a funding arrived) is warned again when its last window comes.
fn mark_last_window(
    r: &mut Reservation,
    last: bool,
    before: bool,
    now: Timestamp,
    effects: &mut Effects,
) {
    r.last_window = last;
    let (Some(max_duration_s), Some(ends_at)) = (r.granted_s, r.ends_at()) else {
        r.last_window = false;
        return;
    };
    if last && !before {
        effects.events.push(Event::CallLastWindow {
            at: now,
            call_id: r.call.call_id.clone(),
            max_duration_s,
            remaining_s: seconds_until(now, ends_at),
            ends_at,
        });
    }
}

/// `r` re-based on its answer at `answered_at`: the same grant, counted from the answer.
fn rebased(r: &Reservation, answered_at: Timestamp, policy: &ControlPolicy) -> Reservation {
    let hold_s = match r.granted_s {
        Some(granted) => granted.saturating_add(policy.grace_s),
        None => UNMETERED_HOLD_S,
    };
    let expires_at = later(answered_at, hold_s);
    Reservation {
        call: CallRecord {
            start: answered_at,
            end: answered_at,
            ..r.call.clone()
        },
        expires_at,
        authorized_at: Some(r.call.start),
        ..r.clone()
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
    /// C27: reservations whose grant and grace have passed by `now` lapse and their funds
    /// return; lapsed ones past their retention are forgotten.
    pub fn expire(&mut self, now: Timestamp) -> HoldChanges {
        let changes = self.live.expire(now, &self.tenant.timezone);
        // A lapsed hold no longer counts in the guard's exposure (C44).
        for r in changes.put.iter().filter(|r| !r.live) {
            self.guard.release(&r.call.call_id);
        }
        for id in &changes.dropped {
            self.guard.release(id);
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
        if let Some(r) = self.live.get(&call.call_id) {
            // Compared with the call as authorized: an answer re-bases `start`, and a repeated
            // authorization of an answered call is still the same call.
            let decision = if r.authorized_call().fingerprint() == fingerprint {
                Decision::Allow(grant_of(&r, true, now))
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
        // The guard is taken out while the book decides (a move, not a copy of its maps).
        let mut guard = std::mem::take(&mut self.guard);
        let decided = self.decide(&mut guard, rater, call, policy, &mut effects);
        self.guard = guard;
        let decision = match decided {
            Ok(mut r) => {
                let short = r.granted_s.is_some_and(|g| g < policy.window_s.max(1));
                let last = short || self.nothing_left_after(&r, None);
                mark_last_window(&mut r, last, false, now, &mut effects);
                let grant = grant_of(&r, false, now);
                self.live.reserve(r, &self.tenant.timezone, &mut changes);
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
        guard: &mut guard::Guard,
        rater: &mut Rater<'_>,
        call: &CallRecord,
        policy: &ControlPolicy,
        effects: &mut Effects,
    ) -> Result<Reservation, Reason> {
        if call.end != call.start {
            return Err(Reason::InvalidRecord);
        }
        let a = rater.assess(&self.tenant, call)?;
        // C43: the guard, after the policy and eligibility checks of C30, before credit.
        let digits = guard::digits_of(&call.destination_number);
        let guarded = guard::dial_out(&self.tenant, call, &a, &digits, call.start);
        let mut cap_s = None;
        if let Some(d) = &guarded {
            let v = guard.authorize(d, policy.window_s.max(1), &self.tenant.timezone);
            effects
                .events
                .extend(v.alerts.into_iter().map(|x| x.event(call.start)));
            if let Some(reason) = v.refuse {
                return Err(reason);
            }
            cap_s = v.cap_s;
        }
        let r = self.reservation(&a, call, policy, cap_s)?;
        if let (Some(d), Some(granted)) = (&guarded, r.granted_s) {
            guard.granted(d, granted, cap_s, &self.tenant.timezone);
        }
        Ok(r)
    }

    /// What an assessed call about to connect is granted and holds (C25, C14, C32), at most
    /// `cap_s` seconds when the guard caps it.
    fn reservation(
        &self,
        a: &Assessment<'_>,
        call: &CallRecord,
        policy: &ControlPolicy,
        cap_s: Option<u64>,
    ) -> Result<Reservation, Reason> {
        let a = a.clone();
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
            authorized_at: None,
            last_window: false,
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
        let (seconds, need) = match cap_s {
            Some(cap) if seconds > cap => (cap, self.need(&a, cap, pool_left)?),
            _ => (seconds, need),
        };
        Ok(Reservation {
            call: call.clone(),
            granted_s: Some(seconds),
            credit: need.credit,
            pool_minutes: need.pool_minutes,
            expires_at: later(call.start, seconds.saturating_add(policy.grace_s)),
            live: true,
            funding: need.funding,
            authorized_at: None,
            last_window: false,
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
        // The guard's decision too (on a copy of its counters: nothing changes).
        let mut guard = self.guard.clone();
        let decision = self.decide(&mut guard, rater, call, policy, &mut Effects::default());
        let mut copy = TenantBook::new(self.tenant.clone());
        copy.wallet = self.wallet.clone();
        copy.scheduled = self.scheduled.clone();
        copy.pool_used = self.pool_used.clone();
        // The copy has no live calls (copying them would cost a walk over every one): the pool
        // minutes they hold in the call's month count as used in it instead, which leaves it
        // the same pool. A bulk charge reads nothing else of them.
        let month = self.month_of(call.start);
        let held = self.pool_held(month);
        if held > 0 {
            let used = copy.pool_used.entry(month).or_insert(0);
            *used = used.saturating_add(held);
        }
        let mut whole = call.clone();
        whole.end = later(call.start, duration_s);
        let (charge, _) = copy.process_new(rater, &whole, Mode::Bulk);
        (decision, charge)
    }

    /// C26: the next window for a live call. `known_s` is the grant the bridge holds: when the
    /// reservation already grants more, this is a repeated request and the current grant is
    /// the answer. The answer says `last_window` when no further extension can be promised
    /// (and raises `call.last_window` the first time).
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
        let r = match self.live_call(call_id) {
            Ok(r) => r,
            Err(e) => return (Err(e), effects, changes),
        };
        let Some(granted) = r.granted_s else {
            return (
                Ok(Extension::Extended(grant_of(&r, true, now))),
                effects,
                changes,
            );
        };
        if !r.live {
            let grant = Grant {
                last_window: true,
                ..grant_of(&r, false, now)
            };
            return (Ok(Extension::Exhausted(grant)), effects, changes);
        }
        if known_s.is_some_and(|k| k < granted) {
            return (
                Ok(Extension::Extended(grant_of(&r, true, now))),
                effects,
                changes,
            );
        }
        self.settle(now, &mut effects);
        self.wallet.advance(now, &mut effects);
        let window = policy.window_s.max(1);
        let (next, stopped) = match rater.assess(&self.tenant, &r.call) {
            Ok(a) => {
                // C43 again: a refusal ends the call at its current window.
                let digits = guard::digits_of(&r.call.destination_number);
                let verdict = guard::dial_out(&self.tenant, &r.call, &a, &digits, now)
                    .map(|d| {
                        let target = granted.saturating_add(window);
                        self.guard
                            .extend(&d, granted, target, &self.tenant.timezone)
                    })
                    .unwrap_or_default();
                effects
                    .events
                    .extend(verdict.alerts.into_iter().map(|x| x.event(now)));
                match (verdict.refuse, verdict.cap_s) {
                    (Some(reason), _) => (None, Some(reason)),
                    (None, cap) => {
                        let room = cap.map_or(window, |c| c.saturating_sub(granted).min(window));
                        let capped = ControlPolicy {
                            window_s: room,
                            ..*policy
                        };
                        let next = (room > 0)
                            .then(|| self.next_grant(&a, &r, granted, &capped))
                            .flatten();
                        (next, None)
                    }
                }
            }
            Err(_) => (None, None),
        };
        let (mut next, extended) = match next {
            Some(next) => {
                self.guard
                    .regranted(call_id, next.granted_s.unwrap_or(granted));
                (next, true)
            }
            None => (r.clone(), false),
        };
        let grew = next.granted_s.unwrap_or(granted).saturating_sub(granted);
        let last = !extended || grew < window || self.nothing_left_after(&next, Some(&r));
        mark_last_window(&mut next, last, r.last_window, now, &mut effects);
        let grant = grant_of(&next, false, now);
        if next != r {
            self.live.regrant(next, &self.tenant.timezone, &mut changes);
        }
        let answer = match (extended, stopped) {
            (true, _) => Extension::Extended(grant),
            (false, Some(reason)) => Extension::Stopped(grant, reason),
            (false, None) => Extension::Exhausted(grant),
        };
        (Ok(answer), effects, changes)
    }

    /// The reservation of a call that has not ended: `call_already_ended` for one that has,
    /// `call_not_found` for one never authorized.
    fn live_call(&self, call_id: &str) -> Result<Reservation, ControlError> {
        match self.live.get(call_id) {
            Some(r) => Ok(r),
            None if self.seen.contains_key(call_id) => Err(ControlError::CallAlreadyEnded),
            None => Err(ControlError::CallNotFound),
        }
    }

    /// Whether, once `next` holds what it holds (in place of `own`'s hold, when extended),
    /// nothing is left for another window: no credit available, and for a call the pool may
    /// pay, no pool minutes left either.
    fn nothing_left_after(&self, next: &Reservation, own: Option<&Reservation>) -> bool {
        let available = self
            .available_besides(own)
            .checked_sub(next.credit)
            .unwrap_or(Decimal::MIN);
        if available > Decimal::ZERO {
            return false;
        }
        let pool_left = self
            .pool_remaining_besides(next.call.start, own)
            .saturating_sub(next.pool_minutes);
        next.funding == Funding::Credits || pool_left == 0
    }

    /// The call was answered at `answered_at` (ring time is not charged and does not use the
    /// grant): the live reservation is re-based on the answer. Its `start` (and `end`) become
    /// `answered_at`; `granted_s`, the credit and the pool minutes held are unchanged but now
    /// count from the answer, and the hold lapses at `answered_at + granted_s + grace_s`. The
    /// authorization's instant is kept (`Reservation::authorized_at`), so that a repeated
    /// authorization is still recognised as the same call.
    ///
    /// `answered_at` must lie between the authorized start and `now + MAX_ANSWER_AHEAD_S`.
    /// Answering again at the same instant is a replay (the same grant, `replay` true);
    /// another instant once answered is `CallAlreadyAnswered`; an ended call is
    /// `CallAlreadyEnded`, an unknown one `CallNotFound`, a lapsed hold `CallLapsed`.
    pub fn answer(
        &mut self,
        call_id: &str,
        answered_at: Timestamp,
        now: Timestamp,
        policy: &ControlPolicy,
    ) -> (Result<Grant, ControlError>, Effects, HoldChanges) {
        let mut changes = self.expire(now);
        let mut effects = Effects::default();
        let r = match self.live_call(call_id) {
            Ok(r) => r,
            Err(e) => return (Err(e), effects, changes),
        };
        if !r.live {
            return (Err(ControlError::CallLapsed), effects, changes);
        }
        if r.answered() {
            let answer = if r.call.start == answered_at {
                Ok(grant_of(&r, true, now))
            } else {
                Err(ControlError::CallAlreadyAnswered {
                    answered_at: r.call.start,
                })
            };
            return (answer, effects, changes);
        }
        let latest = later(now, MAX_ANSWER_AHEAD_S);
        if answered_at < r.call.start || answered_at > latest {
            let range = ControlError::AnsweredAtOutOfRange {
                earliest: r.call.start,
                latest,
            };
            return (Err(range), effects, changes);
        }
        let mut next = rebased(&r, answered_at, policy);
        let last = next.last_window || self.nothing_left_after(&next, Some(&r));
        mark_last_window(&mut next, last, r.last_window, now, &mut effects);
        let grant = grant_of(&next, false, now);
        self.live.regrant(next, &self.tenant.timezone, &mut changes);
        (Ok(grant), effects, changes)
    }

    /// C26: the live reservation `r` (granted `granted` seconds) grown by up to one window, or
    /// `None` when it is exhausted.
    fn next_grant(
        &self,
        a: &Assessment<'_>,
        r: &Reservation,
        granted: u64,
        policy: &ControlPolicy,
    ) -> Option<Reservation> {
        // The call's own hold counts as available to it.
        let pool_left = self.pool_remaining_besides(r.call.start, Some(r));
        let available = self.available_besides(Some(r));
        let target = granted.saturating_add(policy.window_s.max(1));
        let limit = available.max(r.credit);
        let grown = self
            .longest_grant(a, granted, target, pool_left, limit)
            .filter(|(_, n)| n.credit <= r.credit || available > Decimal::ZERO);
        let (seconds, need) = grown?;
        Some(Reservation {
            granted_s: Some(seconds),
            credit: need.credit,
            pool_minutes: need.pool_minutes,
            funding: need.funding,
            expires_at: later(r.call.start, seconds.saturating_add(policy.grace_s)),
            ..r.clone()
        })
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
        self.end_answered(rater, call_id, (end, None), record, now)
    }

    /// `end_call` for a call the bridge says was answered at `answered_at` (when given): a call
    /// not yet answered is rated from that instant (ring time is not charged); one answered at
    /// another instant is `CallAlreadyAnswered`. The instant must not be before the authorized
    /// start nor after the end.
    pub fn end_answered(
        &mut self,
        rater: &mut Rater<'_>,
        call_id: &str,
        (end, answered_at): (Timestamp, Option<Timestamp>),
        record: Option<&CallRecord>,
        now: Timestamp,
    ) -> (
        Result<(Option<CallRecord>, Processed), ControlError>,
        HoldChanges,
    ) {
        let mut changes = self.expire(now);
        let call = match (self.live.get(call_id), record) {
            (Some(r), given) => match ended_call(&r, end, answered_at, given) {
                Ok(call) => call,
                Err(e) => return (Err(e), changes),
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
        self.live.end(call_id, &self.tenant.timezone, &mut changes);
        let digits = guard::digits_of(&call.destination_number);
        let duration_s = call
            .end
            .duration_since(call.start)
            .as_secs()
            .max(0)
            .unsigned_abs();
        let tz = &self.tenant.timezone;
        let found = self
            .guard
            .ended(call_id, &call.organizer, &digits, duration_s, call.end, tz);
        let mut processed = self.process_call(rater, &call, Mode::Ended);
        processed
            .effects
            .events
            .extend(found.map(|x| x.event(call.end)));
        let record = (!processed.replay).then_some(call);
        (Ok((record, processed)), changes)
    }
}

/// The record of the live call `r` ended at `end`: from its answer (`r`'s, or `answered_at`
/// for a call not yet answered) to `end`. A `given` record must be the call as authorized
/// (its `start` the authorization's instant, or the answer's).
fn ended_call(
    r: &Reservation,
    end: Timestamp,
    answered_at: Option<Timestamp>,
    given: Option<&CallRecord>,
) -> Result<CallRecord, ControlError> {
    let start = match answered_at {
        Some(at) if r.answered() && at != r.call.start => {
            return Err(ControlError::CallAlreadyAnswered {
                answered_at: r.call.start,
            });
        }
        Some(at) if at < r.call.start => {
            return Err(ControlError::AnsweredAtOutOfRange {
                earliest: r.call.start,
                latest: end,
            });
        }
        Some(at) => at,
        None => r.call.start,
    };
    let end = given.map_or(end, |g| g.end);
    if let Some(given) = given {
        let same = |at: Timestamp| {
            let as_authorized = CallRecord {
                start: at,
                end: given.end,
                ..r.call.clone()
            };
            as_authorized.fingerprint() == given.fingerprint()
        };
        if !same(r.call.start) && !same(r.authorized_call().start) {
            return Err(ControlError::Refused(Reason::CallIdReused));
        }
    }
    Ok(CallRecord {
        start,
        end,
        ..r.call.clone()
    })
}
