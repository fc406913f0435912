//! Reconciliation: the proxy's own records of how calls ended (Kamailio's acc log, read by
//! `minutely_formats::acc`) settle the calls whose end report was lost while the engine was
//! unreachable. Every record is looked at in order, in one job of the writer (one commit):
//!
//! - a call the tenant's book still holds, live or lapsed (C27: a late end is still rated), is
//!   ended exactly as the `end` command ends it (`control::end`: rated, hold released, debit,
//!   first result stored, C23), at the proxy's answer instant plus its duration;
//! - a call that already has a first result is left as it is (`already_settled`): reconciling
//!   the same log twice charges nothing twice;
//! - a call of an unknown tenant, or one that was never authorized, is `not_found`: only the
//!   bridge's own record can settle it (ingestion).

use crate::commands::control::{End, end};
use crate::commands::{Answer, FromAnswer};
use crate::error::ServiceResult;
use crate::writer::Ctx;
use jiff::{SignedDuration, Timestamp};
use minutely_core::Reason;
use minutely_core::engine::Outcome;
use minutely_core::money::Currency;
use minutely_formats::acc::{Ended, ProxyRecord};
use rust_decimal::Decimal;
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// Settle the calls the proxy saw end.
pub struct Reconcile {
    /// In the order given (the log's); at most the server's batch bound.
    pub records: Vec<ProxyRecord>,
}

/// What was done with one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Action {
    /// The call was ended now, as its end report would have ended it.
    Settled,
    /// The call already had its first result; nothing changed (C23).
    AlreadySettled,
    /// No such tenant, or no such call: nothing changed.
    NotFound,
    /// The core refused to end the call (such as an end before its start); nothing changed.
    Refused,
}

impl Action {
    pub fn code(self) -> &'static str {
        match self {
            Action::Settled => "settled",
            Action::AlreadySettled => "already_settled",
            Action::NotFound => "not_found",
            Action::Refused => "refused",
        }
    }
}

/// Why, as codes: the state the engine held the call in, how the proxy saw it end, or why
/// nothing was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// The reservation was still live.
    Live,
    /// The reservation had lapsed (C27) and was still remembered.
    Lapsed,
    /// The proxy saw the call answered and ended (a CDR).
    ProxyHangup,
    /// The proxy saw the INVITE fail: a call of 0 s.
    ProxyFailed,
    /// The call's first result was already stored.
    FirstResult,
    UnknownTenant,
    /// Neither authorized nor seen: only the bridge's own record can settle it.
    NotAuthorized,
    /// A reason code of the core's refusal.
    Reason(Reason),
}

impl Why {
    pub fn code(self) -> &'static str {
        match self {
            Why::Live => "live",
            Why::Lapsed => "lapsed",
            Why::ProxyHangup => "proxy_hangup",
            Why::ProxyFailed => "proxy_failed",
            Why::FirstResult => "first_result",
            Why::UnknownTenant => "unknown_tenant",
            Why::NotAuthorized => "not_authorized",
            Why::Reason(r) => r.code(),
        }
    }

    fn proxy(ended: Ended) -> Why {
        match ended {
            Ended::Hangup => Why::ProxyHangup,
            Ended::Failed => Why::ProxyFailed,
        }
    }
}

/// One record's result.
#[derive(Debug, Clone)]
pub struct ReconcileItem {
    pub tenant: String,
    pub call_id: String,
    /// The record's line in the log (0 when the records came as JSON).
    pub line: usize,
    pub action: Action,
    pub why: Vec<Why>,
    /// The call's duration as the proxy saw it.
    pub duration_s: u64,
    /// What the call was charged (its first result for `already_settled`); `None` when
    /// nothing was charged or found.
    pub charge: Option<Decimal>,
    /// The reason the call was refused when rated (a settled call can be a refused one, as its
    /// end report would have been).
    pub reason: Option<Reason>,
    pub currency: Option<Currency>,
}

/// The report of a reconciliation.
#[derive(Debug, Clone, Default)]
pub struct Reconciled {
    /// Records per action, in the order of `Action`.
    pub counts: BTreeMap<Action, usize>,
    pub items: Vec<ReconcileItem>,
}

impl Reconciled {
    /// How many records got `action`.
    pub fn count(&self, action: Action) -> usize {
        self.counts.get(&action).copied().unwrap_or(0)
    }
}

impl Reconcile {
    /// Carries the reconciliation out in the writer.
    pub fn execute(self, ctx: &mut Ctx<'_>) -> ServiceResult<Reconciled> {
        // Every first result is looked up before anything changes, so that a store error
        // refuses the whole job and nothing of it is committed.
        let mut ids: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for r in &self.records {
            if ctx.books.contains_key(&r.tenant) {
                ids.entry(&r.tenant).or_default().push(&r.call_id);
            }
        }
        for (tenant, call_ids) in &ids {
            ctx.load_seen(tenant, call_ids)?;
        }
        let mut report = Reconciled::default();
        for record in &self.records {
            let item = reconcile_one(ctx, record)?;
            *report.counts.entry(item.action).or_default() += 1;
            report.items.push(item);
        }
        Ok(report)
    }
}

/// The state the tenant's book holds a call in.
enum Held {
    /// A reservation (live or lapsed), from its start (the answer instant once answered).
    Reserved {
        live: bool,
        start: Timestamp,
        answered: bool,
    },
    /// Its first result.
    Done(Outcome),
    Unknown,
}

/// One record, in the writer.
fn reconcile_one(ctx: &mut Ctx<'_>, record: &ProxyRecord) -> ServiceResult<ReconcileItem> {
    let mut item = ReconcileItem {
        tenant: record.tenant.clone(),
        call_id: record.call_id.clone(),
        line: record.line,
        action: Action::NotFound,
        why: vec![Why::UnknownTenant],
        duration_s: record.duration_s,
        charge: None,
        reason: None,
        currency: None,
    };
    let now = ctx.now;
    let Some(book) = ctx.books.get_mut(&record.tenant) else {
        return Ok(item);
    };
    item.currency = Some(book.tenant.currency);
    // Reservations due lapse first, so that `live` and `lapsed` are as of now (the end does it
    // too, C27).
    let lapsed = book.expire(now);
    let held = match book.live().get(&record.call_id) {
        Some(r) => Held::Reserved {
            live: r.live,
            start: r.call.start,
            answered: r.answered(),
        },
        None => match book.seen.get(&record.call_id) {
            Some(seen) => Held::Done(seen.outcome.clone()),
            None => Held::Unknown,
        },
    };
    ctx.holds(&record.tenant, lapsed);
    match held {
        Held::Reserved {
            live,
            start,
            answered,
        } => settle(ctx, record, item, live, (start, answered)),
        Held::Done(outcome) => {
            item.action = Action::AlreadySettled;
            item.why = vec![Why::FirstResult];
            set_outcome(&mut item, &outcome);
            Ok(item)
        }
        Held::Unknown => {
            item.why = vec![Why::NotAuthorized];
            Ok(item)
        }
    }
}

/// Ends a held call as its end report would have, at the proxy's end instant.
fn settle(
    ctx: &mut Ctx<'_>,
    record: &ProxyRecord,
    mut item: ReconcileItem,
    live: bool,
    start: (Timestamp, bool),
) -> ServiceResult<ReconcileItem> {
    let held = if live { Why::Live } else { Why::Lapsed };
    item.why = vec![held, Why::proxy(record.ended)];
    let (answered_at, end_at) = end_of(record, start);
    let Some(end_at) = end_at else {
        item.action = Action::Refused;
        item.why.push(Why::Reason(Reason::InvalidRecord));
        return Ok(item);
    };
    let step = End {
        call_id: record.call_id.clone(),
        end_at: Some(end_at),
        duration_s: None,
        record: None,
        answered_at,
    };
    match end(ctx, &record.tenant, step) {
        Ok(ended) if ended.replay => {
            item.action = Action::AlreadySettled;
            item.why = vec![Why::FirstResult];
            set_outcome(&mut item, &ended.outcome);
        }
        Ok(ended) => {
            item.action = Action::Settled;
            set_outcome(&mut item, &ended.outcome);
        }
        Err(e) => {
            // Only a refusal reaches here (the call is held, so it is found): an end before
            // the start. The core changed nothing but the lapses already recorded.
            item.action = Action::Refused;
            if let crate::Kind::Refused(reason) = e.kind {
                item.why.push(Why::Reason(reason));
            }
        }
    }
    Ok(item)
}

/// The instant the call ended: answered + duration, or (for a call the proxy never saw
/// answered) the authorized start + duration; `None` when it is not representable.
/// The answer instant to re-base the call on, and the end instant (`None` when it overflows).
/// Ring time is not charged: a call the engine never heard answered is re-based on the
/// proxy's answer instant; one it did hear answered (`start.1`) keeps the engine's instant,
/// from which the proxy's may differ by a fraction of a second, and the duration counts from
/// it (C38).
fn end_of(
    record: &ProxyRecord,
    (start, answered): (Timestamp, bool),
) -> (Option<Timestamp>, Option<Timestamp>) {
    let answered_at = if answered { None } else { record.answered_at };
    let from = answered_at.unwrap_or(start);
    let end = i64::try_from(record.duration_s)
        .ok()
        .and_then(|s| from.checked_add(SignedDuration::from_secs(s)).ok());
    (answered_at, end)
}

/// The charge, or the refusal, of a call's result.
fn set_outcome(item: &mut ReconcileItem, outcome: &Outcome) {
    match outcome {
        Outcome::Charged(charge) => item.charge = Some(charge.amount),
        Outcome::Refused(reason) => item.reason = Some(*reason),
    }
}

/// What a reconciliation did.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReconcileResponse {
    /// Calls ended now, as their end report would have ended them.
    pub settled: usize,
    /// Calls that already had their first result: nothing changed (C23).
    pub already_settled: usize,
    /// Unknown tenants and calls never authorized: nothing changed.
    pub not_found: usize,
    /// Calls the core refused to end (an end before the start): nothing changed.
    pub refused: usize,
    /// One per record, in the order given.
    pub items: Vec<ReconcileItemJson>,
}

/// One record's result.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReconcileItemJson {
    pub tenant: String,
    pub call_id: String,
    /// The record's line in the acc log (absent for JSON records).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// `settled`, `already_settled`, `not_found` or `refused`.
    pub action: String,
    /// Codes: `live` or `lapsed` and `proxy_hangup` or `proxy_failed` for a settled call;
    /// `first_result`, `unknown_tenant`, `not_authorized`, or a reason code otherwise.
    pub why: Vec<String>,
    /// The call's duration as the proxy saw it (C38).
    pub duration_s: u64,
    /// What the call was charged (its first result for `already_settled`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub charge: Option<String>,
    /// The reason code of a call refused when rated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

impl ReconcileItemJson {
    fn new(item: &ReconcileItem) -> ReconcileItemJson {
        ReconcileItemJson {
            tenant: item.tenant.clone(),
            call_id: item.call_id.clone(),
            line: (item.line > 0).then_some(item.line),
            action: item.action.code().to_string(),
            why: item.why.iter().map(|w| w.code().to_string()).collect(),
            duration_s: item.duration_s,
            charge: item.currency.zip(item.charge).map(|(c, a)| c.format(a)),
            reason: item.reason.map(|r| r.code().to_string()),
            currency: item.currency.map(|c| c.code().to_string()),
        }
    }
}

/// The report as JSON.
pub fn report_json(report: &Reconciled) -> ReconcileResponse {
    ReconcileResponse {
        settled: report.count(Action::Settled),
        already_settled: report.count(Action::AlreadySettled),
        not_found: report.count(Action::NotFound),
        refused: report.count(Action::Refused),
        items: report.items.iter().map(ReconcileItemJson::new).collect(),
    }
}

impl FromAnswer for Reconciled {
    fn from_answer(answer: Answer) -> Option<Reconciled> {
        match answer {
            Answer::Reconciled(r) => Some(r),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(answered_at: Option<Timestamp>, duration_s: u64) -> ProxyRecord {
        ProxyRecord {
            line: 1,
            tenant: "t".into(),
            call_id: "c".into(),
            answered_at,
            duration_s,
            ended: Ended::Hangup,
        }
    }

    #[test]
    fn the_end_is_the_answer_plus_the_duration_or_the_start_plus_it_c38() {
        let start: Timestamp = "2026-12-06T10:00:00Z".parse().unwrap();
        let answered: Timestamp = "2026-12-06T10:00:07Z".parse().unwrap();
        let (at, end) = end_of(&record(Some(answered), 60), (start, false));
        assert_eq!(at, Some(answered));
        assert_eq!(end.unwrap().to_string(), "2026-12-06T10:01:07Z");
        // The engine heard the answer (its start is the answer): the proxy's instant is not
        // used again.
        let (at, end) = end_of(&record(Some(answered), 60), (start, true));
        assert_eq!(
            (at, end.unwrap().to_string()),
            (None, "2026-12-06T10:01:00Z".into())
        );
        let (_, end) = end_of(&record(None, 0), (start, false));
        assert_eq!(end, Some(start));
        assert_eq!(end_of(&record(None, u64::MAX), (start, false)).1, None);
        assert_eq!(
            end_of(&record(None, i64::MAX as u64), (start, false)).1,
            None
        );
    }

    #[test]
    fn codes_are_stable() {
        assert_eq!(Action::AlreadySettled.code(), "already_settled");
        assert_eq!(Why::Reason(Reason::InvalidRecord).code(), "invalid_record");
        assert_eq!(Why::proxy(Ended::Failed).code(), "proxy_failed");
    }
}
