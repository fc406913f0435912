//! The bodies of call control and ingestion (`/calls/...`, `/calls:ingest`) and the checks made
//! before any state is touched.

use crate::error::{Kind, ServiceError, ServiceResult};
use crate::input::{bounded, parse_direction, parse_instant, parse_optional_instant};
use jiff::Timestamp;
use minutely_core::ident;
use minutely_core::rating::{CallRecord, Direction};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use utoipa::ToSchema;

/// The default largest number of call records in one ingestion request, and of commands in
/// one call-control batch.
pub const MAX_BATCH_RECORDS: usize = 10_000;

/// The longest `duration_s` an end report may give: a year.
pub const MAX_DURATION_S: u64 = 366 * 24 * 3600;

/// A call record as a bridge reports it (C5).
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallRecordJson {
    pub call_id: String,
    pub conference_id: String,
    /// The meeting organizer's UPN.
    pub organizer: String,
    /// `dial_in` or `dial_out`.
    pub direction: String,
    #[serde(default)]
    pub service_number: String,
    #[serde(default)]
    pub caller_number: String,
    #[serde(default)]
    pub destination_number: String,
    /// RFC 3339 UTC.
    pub start: String,
    /// RFC 3339 UTC.
    pub end: String,
    /// The tenant whose record it is (optional). When given, it must be the tenant of the path:
    /// a record of another tenant is refused, never charged to this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}

impl CallRecordJson {
    /// A record that names a tenant names the one of the path (`tenant`); `at` names the
    /// record in errors (`calls[3]`).
    pub fn check_tenant(&self, at: &str, tenant: &str) -> ServiceResult<()> {
        let Some(named) = &self.tenant else {
            return Ok(());
        };
        let field = format!("{at}.tenant");
        bounded(&field, named)?;
        if named == tenant {
            return Ok(());
        }
        Err(ServiceError::unprocessable(format!(
            "{field} {named:?} is not the tenant of the path {tenant:?}"
        )))
    }

    /// The core record; `at` names the record in errors (`calls[3]`).
    pub fn to_record(&self, at: &str) -> ServiceResult<CallRecord> {
        for (name, value) in [
            ("call_id", &self.call_id),
            ("conference_id", &self.conference_id),
            ("organizer", &self.organizer),
            ("service_number", &self.service_number),
            ("caller_number", &self.caller_number),
            ("destination_number", &self.destination_number),
        ] {
            named(at, name, |field| bounded(field, value))?;
        }
        named(at, "call_id", |field| ident::call_id(field, &self.call_id))?;
        named(at, "conference_id", |field| {
            ident::optional_conference_id(field, &self.conference_id)
        })?;
        if !self.organizer.is_empty() {
            named(at, "organizer", |field| {
                ident::organizer(field, &self.organizer)
            })?;
        }
        Ok(CallRecord {
            call_id: self.call_id.clone(),
            conference_id: self.conference_id.clone(),
            organizer: self.organizer.clone(),
            direction: named(at, "direction", |field| {
                parse_direction(field, &self.direction)
            })?,
            service_number: self.service_number.clone(),
            caller_number: self.caller_number.clone(),
            destination_number: self.destination_number.clone(),
            start: named(at, "start", |field| parse_instant(field, &self.start))?,
            end: named(at, "end", |field| parse_instant(field, &self.end))?,
        })
    }

    pub fn from_record(r: &CallRecord) -> CallRecordJson {
        CallRecordJson {
            call_id: r.call_id.clone(),
            conference_id: r.conference_id.clone(),
            organizer: r.organizer.clone(),
            direction: r.direction.as_str().to_string(),
            service_number: r.service_number.clone(),
            caller_number: r.caller_number.clone(),
            destination_number: r.destination_number.clone(),
            start: minutely_formats::instant::format(r.start),
            end: minutely_formats::instant::format(r.end),
            tenant: None,
        }
    }
}

/// A call about to connect.
// Serialize: the edge's authorization is forwarded to the node that holds its tenant.
#[derive(Debug, Deserialize, serde::Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthorizeRequest {
    /// The tenant of the call, for the edge route (`/v1/edge/calls/{call_id}/authorize`): when
    /// absent there, a `dial_in` is the tenant's that owns `service_number`. On the tenant
    /// route it may only repeat the path's tenant.
    #[serde(default)]
    pub tenant: Option<String>,
    pub conference_id: String,
    /// The meeting organizer's UPN.
    pub organizer: String,
    /// `dial_in` or `dial_out`.
    pub direction: String,
    #[serde(default)]
    pub service_number: String,
    #[serde(default)]
    pub caller_number: String,
    #[serde(default)]
    pub destination_number: String,
    /// When the call connects (RFC 3339); the server's clock when absent. Send it so that a
    /// retried request is recognised as the same call.
    pub start: Option<String>,
}

impl AuthorizeRequest {
    /// On a route that names the tenant, `tenant` may only repeat it.
    pub fn check_tenant(&self, tenant: &str) -> ServiceResult<()> {
        match &self.tenant {
            Some(given) if given != tenant => Err(ServiceError::unprocessable(format!(
                "tenant: {given:?} is not the tenant of the path {tenant:?}; leave it out"
            ))),
            _ => Ok(()),
        }
    }

    /// The body's checks, made before any state is touched: every field bounded, the direction
    /// and the optional start read.
    pub fn check(&self) -> ServiceResult<(Direction, Option<Timestamp>)> {
        ident::optional_conference_id("conference_id", &self.conference_id)?;
        if !self.organizer.is_empty() {
            ident::organizer("organizer", &self.organizer)?;
        }
        for (name, value) in [
            ("service_number", &self.service_number),
            ("caller_number", &self.caller_number),
            ("destination_number", &self.destination_number),
        ] {
            bounded(name, value)?;
        }
        let direction = parse_direction("direction", &self.direction)?;
        let start = parse_optional_instant("start", self.start.as_deref())?;
        Ok((direction, start))
    }
}

/// The call was answered: ring time is not charged and does not use the grant.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerRequest {
    /// When the call was answered (RFC 3339): not before the authorized start, nor more than a
    /// few seconds after the server's clock. The server's clock when absent; send it so that a
    /// retried request is recognised as the same answer.
    pub answered_at: Option<String>,
}

impl AnswerRequest {
    /// The body's check: the optional instant read.
    pub fn check(&self) -> ServiceResult<Option<Timestamp>> {
        parse_optional_instant("answered_at", self.answered_at.as_deref())
    }
}

/// Ask for the next window.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtendRequest {
    /// The `max_duration_s` the bridge holds now; a request that repeats an extension already
    /// made gets the current grant back. At most a year.
    #[schema(maximum = 31_622_400)]
    #[serde(default, deserialize_with = "crate::input::whole_opt")]
    pub granted_s: Option<u64>,
    /// When the call was answered (RFC 3339), for an edge that did not report the answer: a
    /// call not yet answered is answered first (as `/answer` would), so ring time is not
    /// charged.
    pub answered_at: Option<String>,
}

impl ExtendRequest {
    /// The body's checks: `granted_s` bounded, the optional answer instant read.
    pub fn check(&self) -> ServiceResult<Option<Timestamp>> {
        if self.granted_s.is_some_and(|g| g > MAX_DURATION_S) {
            return Err(ServiceError::invalid("granted_s is longer than a year"));
        }
        parse_optional_instant("answered_at", self.answered_at.as_deref())
    }
}

/// The call ended.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndRequest {
    /// When the call ended (RFC 3339); the server's clock when neither this nor
    /// `duration_s` is given.
    pub end: Option<String>,
    /// The real duration in seconds, from the answer (the authorized start for a call never
    /// answered). At most a year.
    #[schema(maximum = 31_622_400)]
    #[serde(default, deserialize_with = "crate::input::whole_opt")]
    pub duration_s: Option<u64>,
    /// When the call was answered (RFC 3339), for an edge that did not report the answer: an
    /// authorized call not yet answered is rated from then (ring time is not charged).
    pub answered_at: Option<String>,
    /// The whole record: required for a call that was not authorized (a toll dial-in), and
    /// checked against the authorization otherwise.
    #[serde(default, deserialize_with = "crate::input::object::opt_object")]
    pub record: Option<CallRecordJson>,
}

impl EndRequest {
    /// The body's checks, made before any state is touched: `end` or `duration_s` (not both),
    /// the duration bounded, and the record read and matched against the path's `call_id`.
    pub fn check(&self, call_id: &str) -> ServiceResult<(Option<Timestamp>, Option<CallRecord>)> {
        self.check_times(call_id)
    }

    /// `check`, with the answer instant read as well, and the record's tenant, if it names
    /// one, matched against the path's `tenant`.
    pub fn check_answered(&self, call_id: &str, tenant: &str) -> ServiceResult<EndChecked> {
        if let Some(record) = &self.record {
            record.check_tenant("record", tenant)?;
        }
        let (end_at, record) = self.check_times(call_id)?;
        let answered_at = parse_optional_instant("answered_at", self.answered_at.as_deref())?;
        Ok(EndChecked {
            end_at,
            record,
            answered_at,
        })
    }

    fn check_times(&self, call_id: &str) -> ServiceResult<(Option<Timestamp>, Option<CallRecord>)> {
        if self.end.is_some() && self.duration_s.is_some() {
            return Err(ServiceError::unprocessable(
                "give end or duration_s, not both",
            ));
        }
        let end_at = parse_optional_instant("end", self.end.as_deref())?;
        let record = match &self.record {
            Some(r) => {
                let record = r.to_record("record")?;
                if record.call_id != call_id {
                    return Err(ServiceError::unprocessable(format!(
                        "record.call_id {:?} is not the call id of the path {call_id:?}",
                        record.call_id
                    )));
                }
                Some(record)
            }
            None => None,
        };
        if self.duration_s.is_some_and(|d| d > MAX_DURATION_S) {
            return Err(ServiceError::invalid("duration_s is longer than a year"));
        }
        Ok((end_at, record))
    }
}

/// An end report's body, checked.
#[derive(Debug)]
pub struct EndChecked {
    pub end_at: Option<Timestamp>,
    pub record: Option<CallRecord>,
    pub answered_at: Option<Timestamp>,
}

/// A batch of call records that already happened.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IngestRequest {
    #[serde(deserialize_with = "crate::input::object::objects")]
    pub calls: Vec<CallRecordJson>,
}

impl IngestRequest {
    /// The batch's checks, made before any state is touched: at most `max` records, each one
    /// well formed and, if it names its tenant, of the path's `tenant`; a batch with bad
    /// records is refused whole, naming every one (`calls[3]`).
    pub fn records(&self, max: usize, tenant: &str) -> ServiceResult<Vec<CallRecord>> {
        if self.calls.len() > max {
            return Err(ServiceError::new(
                Kind::TooLarge,
                "batch_too_large",
                format!(
                    "{} records in one batch; the limit is {max}",
                    self.calls.len()
                ),
            ));
        }
        // A record of another tenant is well formed but not this tenant's: 422, naming each.
        let others: Vec<String> = (self.calls.iter().enumerate())
            .filter(|(_, call)| call.tenant.is_some())
            .filter_map(|(i, call)| call.check_tenant(&format!("calls[{i}]"), tenant).err())
            .map(|e| e.detail)
            .collect();
        if !others.is_empty() {
            return Err(ServiceError::unprocessable(summarize(&others)));
        }
        let mut records = Vec::with_capacity(self.calls.len());
        let mut problems = Vec::new();
        let mut at = String::new();
        for (i, call) in self.calls.iter().enumerate() {
            at.clear();
            let _ = write!(at, "calls[{i}]");
            match call.to_record(&at) {
                Ok(r) => records.push(r),
                Err(e) => problems.push(e.detail),
            }
        }
        if !problems.is_empty() {
            return Err(ServiceError::invalid(summarize(&problems)));
        }
        Ok(records)
    }
}

/// `check` of the field `name` of the record `at`. The checks are pure and use the field's
/// name only in their errors, so the full name (`calls[3].start`) is only written out to
/// check again for the error, not for every field of every record.
fn named<T, E>(at: &str, name: &str, check: impl Fn(&str) -> Result<T, E>) -> Result<T, E> {
    check(name).or_else(|_| check(&format!("{at}.{name}")))
}

/// The problems of a refused batch, the first 50 of them.
pub fn summarize(problems: &[String]) -> String {
    let shown: Vec<String> = problems.iter().take(50).cloned().collect();
    let more = problems.len().saturating_sub(shown.len());
    let mut detail = shown.join("; ");
    if more > 0 {
        detail.push_str(&format!("; and {more} more"));
    }
    detail
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::MAX_FIELD;

    /// The checks of `to_record` as they were written before `named`: every field's full name
    /// formatted up front.
    fn eager(r: &CallRecordJson, at: &str) -> ServiceResult<CallRecord> {
        for (name, value) in [
            ("call_id", &r.call_id),
            ("conference_id", &r.conference_id),
            ("organizer", &r.organizer),
            ("service_number", &r.service_number),
            ("caller_number", &r.caller_number),
            ("destination_number", &r.destination_number),
        ] {
            bounded(&format!("{at}.{name}"), value)?;
        }
        ident::call_id(&format!("{at}.call_id"), &r.call_id)?;
        ident::optional_conference_id(&format!("{at}.conference_id"), &r.conference_id)?;
        if !r.organizer.is_empty() {
            ident::organizer(&format!("{at}.organizer"), &r.organizer)?;
        }
        Ok(CallRecord {
            call_id: r.call_id.clone(),
            conference_id: r.conference_id.clone(),
            organizer: r.organizer.clone(),
            direction: parse_direction(&format!("{at}.direction"), &r.direction)?,
            service_number: r.service_number.clone(),
            caller_number: r.caller_number.clone(),
            destination_number: r.destination_number.clone(),
            start: parse_instant(&format!("{at}.start"), &r.start)?,
            end: parse_instant(&format!("{at}.end"), &r.end)?,
        })
    }

    fn good() -> CallRecordJson {
        CallRecordJson {
            call_id: "c-1".into(),
            conference_id: "conf".into(),
            organizer: "alice@example.com".into(),
            direction: "dial_out".into(),
            service_number: String::new(),
            caller_number: "+33100000000".into(),
            destination_number: "+442000000000".into(),
            start: "2026-12-07T10:00:00Z".into(),
            end: "2026-12-07T10:05:00Z".into(),
            tenant: None,
        }
    }

    /// Every record, good or with any one field bad (C5's fields), gives the same record or
    /// the same error naming the same field as the eager checks.
    #[test]
    fn records_are_checked_as_the_eager_checks_did() {
        let long = "x".repeat(MAX_FIELD + 1);
        let bad: [&str; 7] = [
            "",
            " lead",
            "=1+1",
            "a\u{7}b",
            "not a time",
            "dial_up",
            &long,
        ];
        let mut records = vec![good()];
        for value in bad {
            for field in 0..9 {
                let mut r = good();
                let slot = match field {
                    0 => &mut r.call_id,
                    1 => &mut r.conference_id,
                    2 => &mut r.organizer,
                    3 => &mut r.direction,
                    4 => &mut r.service_number,
                    5 => &mut r.caller_number,
                    6 => &mut r.destination_number,
                    7 => &mut r.start,
                    _ => &mut r.end,
                };
                *slot = value.to_string();
                records.push(r);
            }
        }
        let mut refused = 0;
        for (i, r) in records.iter().enumerate() {
            let at = format!("calls[{i}]");
            let (ours, theirs) = (r.to_record(&at), eager(r, &at));
            match (&ours, &theirs) {
                (Ok(a), Ok(b)) => assert_eq!(format!("{a:?}"), format!("{b:?}")),
                (Err(a), Err(b)) => {
                    refused += 1;
                    assert_eq!((a.kind, &a.code, &a.detail), (b.kind, &b.code, &b.detail));
                    assert!(a.detail.contains(&at), "{}", a.detail);
                }
                _ => panic!("{at}: {ours:?} against {theirs:?}"),
            }
        }
        assert!(refused >= 38, "{refused} refused");
    }

    /// A batch names every bad record and refuses a record of another tenant, as before.
    #[test]
    fn a_batch_names_its_bad_records() {
        let mut bad = good();
        bad.start = "soon".into();
        let mut other = good();
        other.tenant = Some("beta".into());
        let batch = |calls: Vec<CallRecordJson>| IngestRequest { calls }.records(10, "acme");
        assert_eq!(batch(vec![good(), good()]).map(|r| r.len()).ok(), Some(2));
        let refused = batch(vec![good(), bad.clone(), bad]).unwrap_err();
        assert_eq!(
            refused.detail,
            [1, 2]
                .map(|i| format!(
                    "calls[{i}].start: \"soon\" is not an RFC 3339 instant with an offset \
                     (such as 2026-01-05T10:00:00Z) (expected RFC 3339, like \
                     2026-01-31T12:00:00Z)"
                ))
                .join("; ")
        );
        let refused = batch(vec![good(), other]).unwrap_err();
        assert_eq!(
            refused.detail,
            "calls[1].tenant \"beta\" is not the tenant of the path \"acme\""
        );
    }
}
