//! Real-time call control (C25 to C27): authorize, extend and end, with reservations that hold
//! credit and pool minutes so that two live calls can never spend the same money.
//!
//! The top of call control's module graph: the commands here decide what to grant and change
//! the book's live calls only through `LiveCalls` (module `live`), which keeps the holds in
//! step with the reservations; `engine` and `live` never import this module.

use crate::engine::{Charge, Funding, Mode, Outcome, Processed, TenantBook};
use crate::ledger::Effects;
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
    /// C27: reservations whose grant and grace have passed by `now` lapse and their funds
    /// return; lapsed ones past their retention are forgotten.
    pub fn expire(&mut self, now: Timestamp) -> HoldChanges {
        self.live.expire(now, &self.tenant.timezone)
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
        let Some(r) = self.live.get(call_id) else {
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
        let next = match rater.assess(&self.tenant, &r.call) {
            Ok(a) => self.next_grant(&a, &r, granted, policy),
            Err(_) => None,
        };
        let answer = match next {
            Some(next) => {
                let grant = grant_of(&next, false);
                self.live.regrant(next, &self.tenant.timezone, &mut changes);
                Extension::Extended(grant)
            }
            None => Extension::Exhausted(grant_of(&r, false)),
        };
        (Ok(answer), effects, changes)
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
        let mut changes = self.expire(now);
        let call = match (self.live.get(call_id), record) {
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
        self.live.end(call_id, &self.tenant.timezone, &mut changes);
        let processed = self.process_call(rater, &call, Mode::Ended);
        let record = (!processed.replay).then_some(call);
        (Ok((record, processed)), changes)
    }
}
