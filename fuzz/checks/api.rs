//! Checks of the API request bodies, one per fuzz target: whatever the bytes, reading the JSON
//! and the checks a handler makes before it touches any state answer without panicking, and a
//! refusal is a client error with a stable code, a localized message and a detail naming the
//! field at fault.
//!
//! The bodies and their checks are the service's (`minutely_service::input`), so the targets
//! link no HTTP server. This file is shared: the fuzz targets call it, and
//! `crates/server/tests/it/fuzz_corpus.rs` includes it to replay the committed corpus on stable,
//! checking further that the server's message catalogue knows every refusal's code.

use minutely_core::Reason;
use minutely_formats::acc::Ended;
use minutely_service::input::body::parse_object;
use minutely_service::input::control::{
    AnswerRequest, AuthorizeRequest, CallRecordJson, EndRequest, ExtendRequest, IngestRequest,
    MAX_BATCH_RECORDS, MAX_DURATION_S,
};
use minutely_service::input::directory::{
    AutoRechargeRequest, CreateTenantRequest, WalletSettingsRequest, parse_tenant_file, tenant_from,
};
use minutely_service::input::hooks::{CreateEndpointRequest, MAX_URL_BYTES, parse_url};
use minutely_service::input::reconcile::ReconcileRequest;
use minutely_service::input::wallet::FundingRequest;
use minutely_service::{Kind, ServiceError};
use serde::de::DeserializeOwned;
use std::collections::HashSet;

/// The call id of the path the `end` bodies are checked against.
const PATH_CALL_ID: &str = "call-1";
/// The tenant of the path a body is sent to.
const PATH_TENANT: &str = "acme";

/// What the caller checks further of every refusal (the server's replay test: the message
/// catalogue has the code).
pub type OnRefusal<'a> = &'a dyn Fn(&ServiceError);

/// The codes of the service's own refusals of a body (the others are reason codes).
const BODY_CODES: [&str; 3] = [
    "invalid_request",
    "unprocessable_request",
    "batch_too_large",
];

/// A refusal is the client's fault (never internal nor unavailable), with a stable code (a
/// reason code, or one of `BODY_CODES`).
fn check_kind(e: &ServiceError, on_refusal: OnRefusal) {
    match e.kind {
        Kind::Refused(reason) => assert_eq!(e.code, reason.code(), "{e:?}"),
        Kind::Invalid | Kind::Unprocessable | Kind::TooLarge => assert!(
            BODY_CODES.contains(&e.code) || Reason::from_code(e.code).is_some(),
            "not a stable code: {e:?}"
        ),
        _ => panic!("not a refusal of the client's input: {e:?}"),
    }
    on_refusal(e);
}

/// A refusal is the client's fault, with a stable code, and a detail that names one of `fields`
/// (the fields of the body, or the body itself).
fn check_refusal(e: &ServiceError, fields: &[&str], on_refusal: OnRefusal) {
    check_kind(e, on_refusal);
    assert!(
        fields.iter().any(|f| e.detail.contains(f)),
        "the detail names none of {fields:?}: {:?}",
        e.detail
    );
}

/// The body types: a refusal never names them (unless the input did).
const SERVER_TYPES: [&str; 16] = [
    "AuthorizeRequest",
    "AnswerRequest",
    "ReconcileRequest",
    "ProxyRecordJson",
    "EndedJson",
    "EndRequest",
    "ExtendRequest",
    "IngestRequest",
    "CallRecordJson",
    "FundingRequest",
    "WalletSettingsRequest",
    "AutoRechargeRequest",
    "CreateTenantRequest",
    "CreateEndpointRequest",
    "struct ",
    "enum ",
];

/// Reads `body` as `T` exactly as the JSON extractor does (one JSON object, nothing after it);
/// a body that is not a `T` is refused as `invalid_request`, naming the field or the body.
fn read<T: DeserializeOwned>(body: &[u8], on_refusal: OnRefusal) -> Option<T> {
    match parse_object::<T>(body) {
        Ok(value) => Some(value),
        Err(e) => {
            // Named: the field at fault (`amount: ...`) or the body itself; never a Rust type.
            check_refusal(&e, &[": ", "body"], on_refusal);
            let input = String::from_utf8_lossy(body);
            for name in SERVER_TYPES {
                assert!(
                    !e.detail.contains(name) || input.contains(name),
                    "a server type named: {:?}",
                    e.detail
                );
            }
            None
        }
    }
}

/// One call record as a bridge reports it: a record that reads becomes the same core record
/// after a trip through its JSON shape and JSON text. Every refusal is handed to `on_refusal`
/// too.
pub fn call_record_json(data: &[u8], on_refusal: OnRefusal) {
    let Some(json) = read::<CallRecordJson>(data, on_refusal) else {
        return;
    };
    let record = match json.to_record("record") {
        Ok(record) => record,
        Err(e) => return check_refusal(&e, &["record."], on_refusal),
    };
    let back = CallRecordJson::from_record(&record);
    let text = serde_json::to_vec(&back).expect("a record serializes");
    let again: CallRecordJson = serde_json::from_slice(&text).expect("its own JSON reads");
    let again = again
        .to_record("record")
        .unwrap_or_else(|e| panic!("a record written back is refused: {e:?}"));
    assert_eq!(again, record, "the record changed on its way through JSON");
}

/// The bodies the `api_bodies` target knows, by the name on the input's first line.
pub const BODIES: [&str; 12] = [
    "authorize",
    "answer",
    "extend",
    "end",
    "ingest",
    "funding",
    "wallet_settings",
    "auto_recharge",
    "create_tenant",
    "tenant_file",
    "webhook",
    "reconcile",
];

fn authorize(body: &[u8], on_refusal: OnRefusal) {
    let Some(request) = read::<AuthorizeRequest>(body, on_refusal) else {
        return;
    };
    if let Err(e) = request.check() {
        let fields = [
            "conference_id",
            "organizer",
            "direction",
            "service_number",
            "caller_number",
            "destination_number",
            "start",
        ];
        check_refusal(&e, &fields, on_refusal);
    }
}

/// The answer's body may be left out (then the server's clock); a present one is read like any.
fn answer(body: &[u8], on_refusal: OnRefusal) {
    let request = if body.is_empty() {
        AnswerRequest::default()
    } else {
        let Some(request) = read::<AnswerRequest>(body, on_refusal) else {
            return;
        };
        request
    };
    match request.check() {
        Ok(at) => assert_eq!(at.is_some(), request.answered_at.is_some()),
        Err(e) => check_refusal(&e, &["answered_at"], on_refusal),
    }
}

fn end(body: &[u8], on_refusal: OnRefusal) {
    let Some(request) = read::<EndRequest>(body, on_refusal) else {
        return;
    };
    match request.check(PATH_CALL_ID) {
        Ok((_, Some(record))) => assert_eq!(record.call_id, PATH_CALL_ID),
        Ok((_, None)) => {}
        Err(e) => check_refusal(&e, &["end", "duration_s", "record."], on_refusal),
    }
}

fn ingest(body: &[u8], on_refusal: OnRefusal) {
    let Some(request) = read::<IngestRequest>(body, on_refusal) else {
        return;
    };
    match request.records(MAX_BATCH_RECORDS, PATH_TENANT) {
        Ok(records) => {
            assert_eq!(records.len(), request.calls.len());
            assert!(records.iter().all(|r| !r.call_id.trim().is_empty()));
        }
        Err(e) => check_refusal(&e, &["calls[", "records in one batch"], on_refusal),
    }
}

fn funding(body: &[u8], on_refusal: OnRefusal) {
    let Some(request) = read::<FundingRequest>(body, on_refusal) else {
        return;
    };
    if let Err(e) = request.check() {
        check_refusal(&e, &["amount", "reference"], on_refusal);
    }
}

fn wallet_settings(body: &[u8], on_refusal: OnRefusal) {
    let Some(request) = read::<WalletSettingsRequest>(body, on_refusal) else {
        return;
    };
    match request.thresholds() {
        Ok(Some(thresholds)) => {
            assert!(thresholds[0] >= thresholds[1], "not highest first");
            assert!(thresholds.iter().flatten().all(|t| !t.is_sign_negative()));
        }
        Ok(None) => assert!(request.low_balance_thresholds.is_none()),
        Err(e) => check_refusal(&e, &["low_balance_thresholds"], on_refusal),
    }
}

fn auto_recharge(body: &[u8], on_refusal: OnRefusal) {
    let Some(request) = read::<AutoRechargeRequest>(body, on_refusal) else {
        return;
    };
    match request.recharge() {
        Ok(Some(recharge)) => assert_eq!(recharge.enabled, request.enabled),
        Ok(None) => assert!(!request.enabled),
        Err(e) => check_refusal(&e, &["trigger", "amount"], on_refusal),
    }
}

fn create_tenant(body: &[u8], on_refusal: OnRefusal) {
    let Some(request) = read::<CreateTenantRequest>(body, on_refusal) else {
        return;
    };
    match tenant_from(&request) {
        Ok(tenant) => assert_eq!(tenant.id, request.id),
        Err(e) => {
            let fields = [
                "id",
                "name",
                "country",
                "currency",
                "timezone",
                "agreement",
                "default_dial_out_policy",
            ];
            check_refusal(&e, &fields, on_refusal);
        }
    }
}

/// A tenant file over HTTP is TOML, not JSON; a refusal names its place in the file (or says
/// the body is empty or not UTF-8).
fn tenant_file_body(body: &[u8], on_refusal: OnRefusal) {
    if let Err(e) = parse_tenant_file(body) {
        check_kind(&e, on_refusal);
        assert!(
            e.detail.contains(':') || e.detail.contains("UTF-8") || e.detail.contains("empty"),
            "{e:?}"
        );
    }
}

fn webhook(body: &[u8], on_refusal: OnRefusal) {
    let Some(request) = read::<CreateEndpointRequest>(body, on_refusal) else {
        return;
    };
    match parse_url(&request.url) {
        Ok(url) => {
            assert!(request.url.len() <= MAX_URL_BYTES);
            assert!(matches!(url.scheme(), "http" | "https"), "{url}");
            assert!(url.host_str().is_some_and(|h| !h.is_empty()), "{url}");
        }
        Err(e) => check_refusal(&e, &["url"], on_refusal),
    }
}

/// The record limit the `reconcile` bodies are checked with (small, so that it is reached).
const RECONCILE_MAX_RECORDS: usize = 5;

/// A reconciliation gives exactly one of `records` and `kamailio_acc`; what it accepts is at
/// most the limit, one record per call for a log, JSON records kept as given; a refusal names
/// `records[i]`, `kamailio_acc` (with a line) or the limit.
fn reconcile(body: &[u8], on_refusal: OnRefusal) {
    let Some(request) = read::<ReconcileRequest>(body, on_refusal) else {
        return;
    };
    let records = match request.records(RECONCILE_MAX_RECORDS) {
        Ok(records) => records,
        Err(e) => {
            let fields = [
                "records, kamailio_acc",
                "records[",
                "kamailio_acc: ",
                "records in one request",
                "kamailio acc log",
            ];
            check_refusal(&e, &fields, on_refusal);
            if request.records.is_some() == request.kamailio_acc.is_some() {
                assert!(e.detail.contains("records, kamailio_acc"), "{e:?}");
            }
            if e.detail.starts_with("kamailio_acc: ") {
                assert!(e.detail.contains("line "), "no line named: {e:?}");
            }
            return;
        }
    };
    assert!(records.len() <= RECONCILE_MAX_RECORDS);
    for r in &records {
        assert!(!r.tenant.is_empty() && !r.call_id.is_empty(), "{r:?}");
        assert!(r.duration_s <= MAX_DURATION_S, "{r:?}");
        if r.ended == Ended::Failed {
            assert_eq!(r.duration_s, 0, "{r:?}");
        }
    }
    match (&request.records, &request.kamailio_acc) {
        (Some(json), None) => {
            assert_eq!(records.len(), json.len());
            for (r, j) in records.iter().zip(json) {
                assert_eq!((r.line, &r.tenant, &r.call_id), (0, &j.tenant, &j.call_id));
                assert_eq!(r.duration_s, j.duration_s);
            }
        }
        (None, Some(text)) => {
            let line_count = text.split('\n').count();
            let mut calls = HashSet::new();
            for r in &records {
                assert!((1..=line_count).contains(&r.line), "{r:?}");
                assert!(calls.insert((&r.tenant, &r.call_id)), "twice: {r:?}");
            }
        }
        _ => panic!("accepted without exactly one of records and kamailio_acc: {request:?}"),
    }
}

/// The request bodies of the API: the input's first line names the body (one of `BODIES`),
/// the rest is the body. Inputs naming no body are ignored. Every refusal is handed to
/// `on_refusal` too.
pub fn api_bodies(data: &[u8], on_refusal: OnRefusal) {
    let Some(split) = data.iter().position(|&b| b == b'\n') else {
        return;
    };
    let (name, body) = (&data[..split], &data[split + 1..]);
    match name {
        b"authorize" => authorize(body, on_refusal),
        b"answer" => answer(body, on_refusal),
        b"extend" => drop(read::<ExtendRequest>(body, on_refusal)),
        b"end" => end(body, on_refusal),
        b"ingest" => ingest(body, on_refusal),
        b"funding" => funding(body, on_refusal),
        b"wallet_settings" => wallet_settings(body, on_refusal),
        b"auto_recharge" => auto_recharge(body, on_refusal),
        b"create_tenant" => create_tenant(body, on_refusal),
        b"tenant_file" => tenant_file_body(body, on_refusal),
        b"webhook" => webhook(body, on_refusal),
        b"reconcile" => reconcile(body, on_refusal),
        _ => {}
    }
}
