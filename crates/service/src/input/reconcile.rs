//! The body of a reconciliation (`POST /v1/edge/reconcile`) and its checks, made before any
//! state is touched: the proxy's records as JSON, or Kamailio's acc log as text.

use crate::error::{Kind, ServiceError, ServiceResult};
use crate::input::control::{MAX_DURATION_S, summarize};
use crate::input::{bounded, parse_optional_instant};
use minutely_core::ident;
use minutely_formats::acc::{self, AccError, Ended, ProxyRecord};
use serde::Deserialize;
use utoipa::ToSchema;

/// The proxy's records of calls that ended: exactly one of `records` and `kamailio_acc`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReconcileRequest {
    /// The calls as JSON, settled in this order; at most `--max-batch-records`.
    #[serde(default, deserialize_with = "crate::input::object::opt_objects")]
    pub records: Option<Vec<ProxyRecordJson>>,
    /// Kamailio's acc log as it was written (CDR and `ACC:` lines behind the log prefix; other
    /// lines are skipped); at most `--max-batch-records` calls.
    pub kamailio_acc: Option<String>,
}

/// One call as the proxy saw it end.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProxyRecordJson {
    pub tenant: String,
    pub call_id: String,
    /// When the call was answered (RFC 3339); absent for a call that was never answered.
    pub answered_at: Option<String>,
    /// Whole seconds from answer to end (C38); 0 for a failed call. At most 366 days.
    #[schema(maximum = 31_622_400)]
    #[serde(deserialize_with = "crate::input::whole")]
    pub duration_s: u64,
    pub ended: EndedJson,
}

/// How the proxy saw the call end.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EndedJson {
    /// Answered, then ended (BYE or the dialog's timeout).
    Hangup,
    /// The INVITE failed: the call never connected and lasted 0 s.
    Failed,
}

impl ProxyRecordJson {
    /// The record checked; `at` names it in errors (`records[3]`).
    fn to_record(&self, at: &str) -> ServiceResult<ProxyRecord> {
        bounded(&format!("{at}.tenant"), &self.tenant)?;
        bounded(&format!("{at}.call_id"), &self.call_id)?;
        ident::tenant_id(&format!("{at}.tenant"), &self.tenant)?;
        ident::call_id(&format!("{at}.call_id"), &self.call_id)?;
        let answered_at =
            parse_optional_instant(&format!("{at}.answered_at"), self.answered_at.as_deref())?;
        if self.duration_s > MAX_DURATION_S {
            return Err(ServiceError::invalid(format!(
                "{at}.duration_s: {} is longer than {MAX_DURATION_S} s",
                self.duration_s
            )));
        }
        let ended = match self.ended {
            EndedJson::Hangup => Ended::Hangup,
            EndedJson::Failed => Ended::Failed,
        };
        if ended == Ended::Failed && self.duration_s != 0 {
            return Err(ServiceError::unprocessable(format!(
                "{at}.duration_s: a failed call lasted 0 s, not {}",
                self.duration_s
            )));
        }
        Ok(ProxyRecord {
            line: 0,
            tenant: self.tenant.clone(),
            call_id: self.call_id.clone(),
            answered_at,
            duration_s: self.duration_s,
            ended,
        })
    }
}

impl ReconcileRequest {
    /// The records, checked, at most `max`; a body with a bad record or a bad log line is
    /// refused whole, naming every one.
    pub fn records(&self, max: usize) -> ServiceResult<Vec<ProxyRecord>> {
        match (&self.records, &self.kamailio_acc) {
            (Some(records), None) => json_records(records, max),
            (None, Some(text)) => acc_records(text, max),
            _ => Err(ServiceError::unprocessable(
                "records, kamailio_acc: give exactly one of them",
            )),
        }
    }
}

fn too_many(count: String, max: usize) -> ServiceError {
    ServiceError::new(
        Kind::TooLarge,
        "batch_too_large",
        format!("{count} records in one request; the limit is {max}"),
    )
}

fn json_records(records: &[ProxyRecordJson], max: usize) -> ServiceResult<Vec<ProxyRecord>> {
    if records.len() > max {
        return Err(too_many(records.len().to_string(), max));
    }
    let mut out = Vec::with_capacity(records.len());
    let mut problems = Vec::new();
    // Malformed (400) when any record is; unprocessable (422) when every problem is a
    // well-formed record that contradicts itself (a failed call with a duration).
    let mut malformed = false;
    for (i, r) in records.iter().enumerate() {
        match r.to_record(&format!("records[{i}]")) {
            Ok(r) => out.push(r),
            Err(e) => {
                malformed |= e.kind != Kind::Unprocessable;
                problems.push(e.detail);
            }
        }
    }
    match (problems.is_empty(), malformed) {
        (true, _) => Ok(out),
        (false, true) => Err(ServiceError::invalid(summarize(&problems))),
        (false, false) => Err(ServiceError::unprocessable(summarize(&problems))),
    }
}

/// Kamailio's log read (`minutely_formats::acc`); every bad line named.
pub fn acc_records(text: &str, max: usize) -> ServiceResult<Vec<ProxyRecord>> {
    acc::parse(text, max).map_err(|e| match e {
        AccError::Lines(errors) => {
            let problems: Vec<String> = errors
                .errors
                .iter()
                .map(|r| format!("kamailio_acc: {r}"))
                .collect();
            let mut detail = summarize(&problems);
            if errors.more > 0 {
                detail.push_str(&format!("; and {} more", errors.more));
            }
            ServiceError::invalid(detail)
        }
        AccError::TooManyRecords { .. } => too_many(format!("more than {max}"), max),
        AccError::TooManyLines { .. } => {
            ServiceError::new(Kind::TooLarge, "batch_too_large", e.to_string())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(value: serde_json::Value) -> ReconcileRequest {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn exactly_one_source_is_given() {
        let e = json(serde_json::json!({})).records(10).unwrap_err();
        assert_eq!(e.kind, Kind::Unprocessable);
        assert!(e.detail.contains("records, kamailio_acc"), "{e}");
        let both = json(serde_json::json!({"records": [], "kamailio_acc": ""}));
        assert_eq!(both.records(10).unwrap_err().kind, Kind::Unprocessable);
    }

    #[test]
    fn bad_records_and_lines_are_named() {
        let body = json(serde_json::json!({"records": [
            {"tenant": "t", "call_id": "ok", "duration_s": 5, "ended": "hangup"},
            {"tenant": "t", "call_id": "c", "answered_at": "soon", "duration_s": 5, "ended": "hangup"}
        ]}));
        let e = body.records(10).unwrap_err();
        assert!(e.detail.starts_with("records[1].answered_at"), "{e}");
        let body = json(serde_json::json!({"kamailio_acc": "a\nCDR: duration=1;call_id=c\n"}));
        let e = body.records(10).unwrap_err();
        assert_eq!(e.kind, Kind::Invalid);
        assert!(e.detail.contains("line 2"), "{e}");
    }

    #[test]
    fn a_failed_call_with_a_duration_is_unprocessable_unless_another_record_is_malformed() {
        let failed =
            serde_json::json!({"tenant": "t", "call_id": "f", "duration_s": 7, "ended": "failed"});
        let e = json(serde_json::json!({"records": [failed.clone()]}))
            .records(10)
            .unwrap_err();
        assert_eq!(e.kind, Kind::Unprocessable, "{e}");
        assert!(e.detail.starts_with("records[0].duration_s"), "{e}");
        let bad =
            serde_json::json!({"tenant": "", "call_id": "c", "duration_s": 0, "ended": "failed"});
        let e = json(serde_json::json!({"records": [failed, bad]}))
            .records(10)
            .unwrap_err();
        assert_eq!(e.kind, Kind::Invalid, "{e}");
    }

    #[test]
    fn the_records_are_bounded() {
        let r =
            serde_json::json!({"tenant": "t", "call_id": "c", "duration_s": 0, "ended": "failed"});
        let body = json(serde_json::json!({"records": [r.clone(), r]}));
        assert_eq!(body.records(2).unwrap().len(), 2);
        assert_eq!(body.records(1).unwrap_err().kind, Kind::TooLarge);
        let log = "CDR: start_time=1;duration=1;call_id=a;mt_tenant=t\nCDR: start_time=1;duration=1;call_id=b;mt_tenant=t\n";
        assert_eq!(acc_records(log, 1).unwrap_err().kind, Kind::TooLarge);
    }
}
