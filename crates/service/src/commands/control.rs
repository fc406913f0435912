//! Real-time call control (C25 to C27) as commands: authorize, answer, extend and end one call,
//! many of them in one job (the batched route), and the policy simulator's dry run. The
//! charging is the core's (`TenantBook::authorize`, `answer`, `extend`, `end_answered`,
//! `preview`); a command only loads what the book needs, applies the step and lists its changes
//! for the batch's commit.

use crate::commands::{Answer, FromAnswer};
use crate::error::{ServiceError, ServiceResult};
use crate::ingest::is_stored;
use crate::writer::Ctx;
use jiff::Timestamp;
use minutely_core::control::{ControlError, Decision, Extension, Grant};
use minutely_core::engine::{Outcome, TenantBook};
use minutely_core::money::Currency;
use minutely_core::rating::{CallRecord, Rater};
use minutely_core::reservations::Reservation;
use minutely_core::{Reason, control::MAX_PREVIEW_S};
use minutely_formats::instant;
use rust_decimal::Decimal;

/// How far an authorization's `start` may be from the server's clock, in seconds.
pub const MAX_START_SKEW_S: i64 = 3600;

/// A call-control command of one tenant.
pub enum ControlCommand {
    /// C25: allow or deny a call about to connect.
    Authorize { tenant: String, step: Authorize },
    /// The call was answered: its hold is re-based on the answer (ring time is not charged).
    Answer { tenant: String, step: AnswerCall },
    /// C26: the next window of a live call.
    Extend { tenant: String, step: Extend },
    /// C27, C28: the call ended: rate, release and debit in one step.
    End { tenant: String, step: End },
    /// Many steps in the order given, each answered on its own; an unknown tenant refuses the
    /// whole batch. The batch joins one commit.
    Batch {
        tenant: String,
        steps: Vec<ControlStep>,
    },
    /// The policy simulator: what `authorize` would answer now for `call` and the charge of
    /// the whole call of `duration_s`, changing nothing.
    Simulate {
        tenant: String,
        call: CallRecord,
        duration_s: u64,
    },
}

/// An authorization: the call as the bridge describes it (its `start` and `end` are set in the
/// writer), and the instant it connects when the bridge gave one.
pub struct Authorize {
    pub call: CallRecord,
    pub start: Option<Timestamp>,
}

/// An answer: the instant the call was answered (the server's clock when absent).
pub struct AnswerCall {
    pub call_id: String,
    pub answered_at: Option<Timestamp>,
}

/// An extension: the `max_duration_s` the bridge holds now, if it said, and the answer instant
/// of a call the edge did not report answered yet.
pub struct Extend {
    pub call_id: String,
    pub granted_s: Option<u64>,
    pub answered_at: Option<Timestamp>,
}

/// An end report: the end instant, or the duration from the authorized start, and the whole
/// record (required for a call that was not authorized).
pub struct End {
    pub call_id: String,
    pub end_at: Option<Timestamp>,
    pub duration_s: Option<u64>,
    pub record: Option<CallRecord>,
    /// When an authorized call not yet answered was answered: it is rated (and `duration_s`
    /// counted) from then.
    pub answered_at: Option<Timestamp>,
}

/// One step of a batch.
pub enum ControlStep {
    Authorize(Authorize),
    Answer(AnswerCall),
    Extend(Extend),
    End(End),
}

impl ControlStep {
    /// The call id the step is about.
    pub fn call_id(&self) -> &str {
        match self {
            ControlStep::Authorize(a) => &a.call.call_id,
            ControlStep::Answer(a) => &a.call_id,
            ControlStep::Extend(e) => &e.call_id,
            ControlStep::End(e) => &e.call_id,
        }
    }
}

/// What an authorization decided.
#[derive(Debug, Clone)]
pub struct Authorized {
    pub call_id: String,
    pub decision: Decision,
    pub currency: Currency,
    /// The instant the call was authorized for.
    pub start: Timestamp,
}

/// What an answer did: the grant, counted from `start` (the answered instant).
#[derive(Debug, Clone)]
pub struct Answered {
    pub call_id: String,
    pub grant: Grant,
    pub currency: Currency,
    /// The instant the call was answered: its grant counts from it.
    pub start: Timestamp,
}

/// What an extension gave.
#[derive(Debug, Clone)]
pub struct Extended {
    pub call_id: String,
    pub extension: Extension,
    pub currency: Currency,
}

/// What an end report charged or refused.
#[derive(Debug, Clone)]
pub struct Ended {
    pub call_id: String,
    pub outcome: Outcome,
    /// True when this repeats the first result (C23).
    pub replay: bool,
    pub currency: Currency,
}

/// The answer to one step of a batch.
#[derive(Debug, Clone)]
pub enum StepAnswer {
    Authorized(Authorized),
    Answered(Answered),
    Extended(Extended),
    Ended(Ended),
}

/// The answers of a batch, one per step, in the order given.
#[derive(Debug, Clone)]
pub struct BatchAnswered(pub Vec<ServiceResult<StepAnswer>>);

/// The simulator's answer.
#[derive(Debug, Clone)]
pub struct Simulated {
    /// What `authorize` would answer now: the first grant, or the reason of a denial.
    pub decision: Result<Reservation, Reason>,
    /// The whole call rated.
    pub outcome: Outcome,
    /// Balance minus what live calls hold (C14), now.
    pub available: Decimal,
    pub currency: Currency,
    pub at: Timestamp,
}

/// What a call-control command did.
#[derive(Debug, Clone)]
pub enum ControlAnswer {
    Authorized(Authorized),
    Answered(Answered),
    Extended(Extended),
    Ended(Ended),
    Batch(BatchAnswered),
    Simulated(Simulated),
}

impl ControlCommand {
    /// Carries the command out in the writer.
    pub fn execute(self, ctx: &mut Ctx<'_>) -> ServiceResult<ControlAnswer> {
        match self {
            ControlCommand::Authorize { tenant, step } => {
                authorize(ctx, &tenant, step).map(ControlAnswer::Authorized)
            }
            ControlCommand::Answer { tenant, step } => {
                answer(ctx, &tenant, step).map(ControlAnswer::Answered)
            }
            ControlCommand::Extend { tenant, step } => {
                extend(ctx, &tenant, step).map(ControlAnswer::Extended)
            }
            ControlCommand::End { tenant, step } => {
                end(ctx, &tenant, step).map(ControlAnswer::Ended)
            }
            ControlCommand::Batch { tenant, steps } => {
                batch(ctx, &tenant, steps).map(ControlAnswer::Batch)
            }
            ControlCommand::Simulate {
                tenant,
                call,
                duration_s,
            } => simulate(ctx, &tenant, call, duration_s).map(ControlAnswer::Simulated),
        }
    }
}

/// The error of a control step, naming the call.
pub fn control_error(e: ControlError, call_id: &str) -> ServiceError {
    match e {
        ControlError::CallNotFound => ServiceError::new(
            crate::Kind::NotFound,
            "call_not_found",
            format!(
                "no authorized call {call_id:?}; an end report of an unauthorized call must carry its record"
            ),
        ),
        ControlError::CallAlreadyEnded => ServiceError::new(
            crate::Kind::Conflict,
            "call_already_ended",
            format!("call {call_id:?} has already ended"),
        ),
        ControlError::CallAlreadyAnswered { answered_at } => ServiceError::new(
            crate::Kind::Conflict,
            "call_already_answered",
            format!(
                "answered_at: call {call_id:?} was already answered at {}",
                instant::format(answered_at)
            ),
        ),
        ControlError::CallLapsed => ServiceError::new(
            crate::Kind::Conflict,
            "call_lapsed",
            format!("call {call_id:?}: its hold lapsed; it can only be ended"),
        ),
        ControlError::AnsweredAtOutOfRange { earliest, latest } => {
            ServiceError::unprocessable(format!(
                "answered_at: call {call_id:?} can only have been answered between its authorized start {} and {}",
                instant::format(earliest),
                instant::format(latest)
            ))
        }
        ControlError::Refused(reason) => {
            ServiceError::reason(reason, format!("call {call_id:?}: {}", reason.describe()))
        }
    }
}

/// Runs `f` on the tenant's book with a rater over the card of the tenant's currency, once the
/// book knows the first results of `call_ids` (C23); the wallet and pool are written at commit.
/// `unknown_tenant` when there is no such tenant.
fn rate_in_book<T>(
    ctx: &mut Ctx<'_>,
    tenant: &str,
    call_ids: &[&str],
    f: impl FnOnce(&mut TenantBook, &mut Rater<'_>) -> T,
) -> ServiceResult<(T, Currency)> {
    ctx.load_seen(tenant, call_ids)?;
    let (book, catalogue) = ctx.book_and_catalogue(tenant)?;
    let currency = book.tenant.currency;
    let out = catalogue.with_rater(currency, |rater| f(book, rater));
    ctx.touched(tenant);
    Ok((out, currency))
}

/// C25, in the writer.
fn authorize(ctx: &mut Ctx<'_>, tenant: &str, step: Authorize) -> ServiceResult<Authorized> {
    let Authorize { mut call, start } = step;
    let now = ctx.now;
    let start = start.unwrap_or(now);
    // A grant runs from the start: one far from the server's clock would lapse at once or hold
    // credit for a call that has not begun.
    let skew = (start.as_second() - now.as_second()).abs();
    if skew > MAX_START_SKEW_S {
        return Err(ServiceError::unprocessable(format!(
            "start {} is more than {MAX_START_SKEW_S} s from the server's clock ({})",
            instant::format(start),
            instant::format(now)
        )));
    }
    call.start = start;
    call.end = start;
    let policy = ctx.control;
    let ((known, (decision, effects, holds)), currency) =
        rate_in_book(ctx, tenant, &[call.call_id.as_str()], |book, rater| {
            let known =
                book.seen.contains_key(&call.call_id) || book.live().contains_key(&call.call_id);
            (known, book.authorize(rater, &call, now, &policy))
        })?;
    ctx.effects(tenant, effects);
    ctx.holds(tenant, holds);
    let call_id = match &decision {
        // A new denial is recorded like a refused record (refused-calls report, and the same
        // answer when asked again); a repeated one is already there.
        Decision::Deny(reason) if !known => {
            let call_id = call.call_id.clone();
            ctx.call(tenant, call, Outcome::Refused(*reason));
            call_id
        }
        _ => call.call_id,
    };
    Ok(Authorized {
        call_id,
        decision,
        currency,
        start,
    })
}

/// The answer, in the writer: the call's hold re-based on it (ring time is not charged).
fn answer(ctx: &mut Ctx<'_>, tenant: &str, step: AnswerCall) -> ServiceResult<Answered> {
    let AnswerCall {
        call_id,
        answered_at,
    } = step;
    let start = answered_at.unwrap_or(ctx.now);
    let (result, currency) = answer_in_book(ctx, tenant, &call_id, start)?;
    let grant = result.map_err(|e| control_error(e, &call_id))?;
    Ok(Answered {
        call_id,
        grant,
        currency,
        start,
    })
}

/// The core's answer for `call_id` at `start`, its effects and holds recorded; the control
/// error is left to the caller.
fn answer_in_book(
    ctx: &mut Ctx<'_>,
    tenant: &str,
    call_id: &str,
    start: Timestamp,
) -> ServiceResult<(Result<Grant, ControlError>, Currency)> {
    let (now, policy) = (ctx.now, ctx.control);
    let ((result, effects, holds), currency) = rate_in_book(ctx, tenant, &[call_id], |book, _| {
        book.answer(call_id, start, now, &policy)
    })?;
    ctx.effects(tenant, effects);
    ctx.holds(tenant, holds);
    Ok((result, currency))
}

/// An extension's `answered_at`, in the writer: a live call not yet answered is answered
/// first, so that an edge that missed the answer step still excludes ring time. A call that is
/// unknown, ended or lapsed is left to the extension, which answers for it.
fn answer_first(
    ctx: &mut Ctx<'_>,
    tenant: &str,
    call_id: &str,
    answered_at: Timestamp,
) -> ServiceResult<()> {
    match answer_in_book(ctx, tenant, call_id, answered_at)?.0 {
        Ok(_)
        | Err(ControlError::CallNotFound)
        | Err(ControlError::CallAlreadyEnded)
        | Err(ControlError::CallLapsed) => Ok(()),
        Err(e) => Err(control_error(e, call_id)),
    }
}

/// C26, in the writer.
fn extend(ctx: &mut Ctx<'_>, tenant: &str, step: Extend) -> ServiceResult<Extended> {
    let Extend {
        call_id,
        granted_s,
        answered_at,
    } = step;
    if let Some(at) = answered_at {
        answer_first(ctx, tenant, &call_id, at)?;
    }
    let (now, policy) = (ctx.now, ctx.control);
    let ((answer, effects, holds), currency) =
        rate_in_book(ctx, tenant, &[call_id.as_str()], |book, rater| {
            book.extend(rater, &call_id, granted_s, now, &policy)
        })?;
    ctx.effects(tenant, effects);
    ctx.holds(tenant, holds);
    let extension = answer.map_err(|e| control_error(e, &call_id))?;
    Ok(Extended {
        call_id,
        extension,
        currency,
    })
}

/// C27 and C28, in the writer (also how reconciliation ends a call the proxy saw end).
pub(crate) fn end(ctx: &mut Ctx<'_>, tenant: &str, step: End) -> ServiceResult<Ended> {
    let End {
        call_id,
        end_at,
        duration_s,
        record,
        answered_at,
    } = step;
    let now = ctx.now;
    let ((result, holds), currency) =
        rate_in_book(ctx, tenant, &[call_id.as_str()], |book, rater| {
            // The end instant: given, or start + duration (from the answer when there was
            // one), or the record's, or now.
            let live = book.live().get(&call_id);
            let start = live
                .as_ref()
                .map(|r| answered_at.unwrap_or(r.call.start))
                .or(record.as_ref().map(|r| r.start));
            let end = match (end_at, duration_s, start, &record) {
                (Some(end), _, _, _) => end,
                (None, Some(d), Some(start), _) => {
                    start + jiff::SignedDuration::from_secs(d as i64)
                }
                (None, None, _, Some(r)) => r.end,
                _ => now,
            };
            let record = record.map(|r| CallRecord { end, ..r });
            let answered_at = answered_at.filter(|_| live.is_some());
            book.end_answered(rater, &call_id, (end, answered_at), record.as_ref(), now)
        })?;
    ctx.holds(tenant, holds);
    let (call, processed) = result.map_err(|e| control_error(e, &call_id))?;
    let replay = processed.replay;
    // A first result is stored (C23); a replay or a reused id changes nothing.
    let outcome = match call.filter(|_| is_stored(&processed)) {
        Some(call) => {
            ctx.call(tenant, call, processed.outcome.clone());
            processed.outcome
        }
        None => processed.outcome,
    };
    ctx.effects(tenant, processed.effects);
    Ok(Ended {
        call_id,
        outcome,
        replay,
        currency,
    })
}

/// C25 to C27 for many calls at once, each step as its single-call command would, in order.
fn batch(ctx: &mut Ctx<'_>, tenant: &str, steps: Vec<ControlStep>) -> ServiceResult<BatchAnswered> {
    // An unknown tenant refuses the whole batch, as it would each step.
    ctx.book(tenant)?;
    // Every call id of the batch is looked up in the store at once (C23).
    let ids: Vec<&str> = steps.iter().map(ControlStep::call_id).collect();
    ctx.load_seen(tenant, &ids)?;
    Ok(BatchAnswered(
        steps
            .into_iter()
            .map(|step| match step {
                ControlStep::Authorize(s) => authorize(ctx, tenant, s).map(StepAnswer::Authorized),
                ControlStep::Answer(s) => answer(ctx, tenant, s).map(StepAnswer::Answered),
                ControlStep::Extend(s) => extend(ctx, tenant, s).map(StepAnswer::Extended),
                ControlStep::End(s) => end(ctx, tenant, s).map(StepAnswer::Ended),
            })
            .collect(),
    ))
}

/// The simulator's bound on the call it rates: at most a day.
pub fn check_preview_duration(duration_s: u64) -> ServiceResult<()> {
    if duration_s > MAX_PREVIEW_S {
        return Err(ServiceError::invalid(format!(
            "duration_s: {duration_s} is longer than a day ({MAX_PREVIEW_S} s)"
        )));
    }
    Ok(())
}

/// The policy simulator, in the writer: nothing is changed.
fn simulate(
    ctx: &mut Ctx<'_>,
    tenant: &str,
    mut call: CallRecord,
    duration_s: u64,
) -> ServiceResult<Simulated> {
    check_preview_duration(duration_s)?;
    let (now, policy) = (ctx.now, ctx.control);
    call.start = now;
    call.end = now;
    let (book, catalogue) = ctx.book_and_catalogue(tenant)?;
    let currency = book.tenant.currency;
    let available = book.available();
    let (decision, outcome) = catalogue.with_rater(currency, |rater| {
        book.preview(rater, &call, duration_s, &policy)
    });
    Ok(Simulated {
        decision,
        outcome,
        available,
        currency,
        at: now,
    })
}

macro_rules! control_answer {
    ($($ty:ident),*) => {$(
        impl FromAnswer for $ty {
            fn from_answer(answer: Answer) -> Option<$ty> {
                match answer {
                    Answer::Control(ControlAnswer::$ty(a)) => Some(a),
                    _ => None,
                }
            }
        }
    )*};
}

control_answer!(Authorized, Answered, Extended, Ended, Simulated);

impl FromAnswer for BatchAnswered {
    fn from_answer(answer: Answer) -> Option<BatchAnswered> {
        match answer {
            Answer::Control(ControlAnswer::Batch(a)) => Some(a),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Kind;

    #[test]
    fn a_control_error_names_the_call_and_keeps_its_kind() {
        let e = control_error(ControlError::CallNotFound, "c-1");
        assert_eq!((e.kind, e.code), (Kind::NotFound, "call_not_found"));
        assert!(e.detail.contains("\"c-1\""), "{e}");
        let e = control_error(ControlError::CallAlreadyEnded, "c-2");
        assert_eq!((e.kind, e.code), (Kind::Conflict, "call_already_ended"));
        assert!(e.detail.contains("\"c-2\""), "{e}");
        let e = control_error(ControlError::Refused(Reason::NoRate), "c-3");
        assert_eq!(e.kind, Kind::Refused(Reason::NoRate));
        assert_eq!(e.code, Reason::NoRate.code());
        assert_eq!(e.rule(), Some(Reason::NoRate.rule()));
        assert!(e.detail.starts_with("call \"c-3\": "), "{e}");
    }

    #[test]
    fn the_simulator_rates_at_most_a_day() {
        assert!(check_preview_duration(MAX_PREVIEW_S).is_ok());
        let e = check_preview_duration(MAX_PREVIEW_S + 1).unwrap_err();
        assert_eq!(e.kind, Kind::Invalid);
        assert!(e.detail.starts_with("duration_s: "), "{e}");
    }

    #[test]
    fn a_step_names_its_call() {
        let step = ControlStep::Extend(Extend {
            call_id: "c-9".into(),
            granted_s: None,
            answered_at: None,
        });
        assert_eq!(step.call_id(), "c-9");
        let step = ControlStep::End(End {
            call_id: "c-8".into(),
            end_at: None,
            duration_s: Some(60),
            record: None,
            answered_at: None,
        });
        assert_eq!(step.call_id(), "c-8");
    }
}
