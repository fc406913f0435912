//! Checks of the API request bodies, one per fuzz target: whatever the bytes, reading the JSON
//! and the checks a handler makes before it touches any state answer without panicking, and a
//! refusal is a client error with a stable code, a localized message and a detail naming the
//! field at fault.
//!
//! This file is shared: the fuzz targets call it, and `crates/server/tests/it/fuzz_corpus.rs`
//! includes it to replay the committed corpus on stable.

use minutely_server::api::control::{AuthorizeRequest, EndRequest, ExtendRequest, IngestRequest};
use minutely_server::api::directory::{
    AutoRechargeRequest, CreateTenantRequest, WalletSettingsRequest, parse_tenant_file, tenant_from,
};
use minutely_server::api::hooks::{CreateEndpointRequest, MAX_URL_BYTES, check_url};
use minutely_server::api::types::CallRecordJson;
use minutely_server::api::wallet::FundingRequest;
use minutely_server::error::ApiError;
use minutely_server::i18n;
use minutely_server::webhooks::WebhookAllow;
use serde::de::DeserializeOwned;
use std::sync::OnceLock;

/// The call id of the path the `end` bodies are checked against.
const PATH_CALL_ID: &str = "call-1";

/// A refusal is a 4xx with a code every language has a message for, and a detail that names
/// one of `fields` (the fields of the body, or the body itself).
fn check_refusal(e: &ApiError, fields: &[&str]) {
    assert!(e.status.is_client_error(), "not a client error: {e:?}");
    assert!(
        i18n::has_message(e.code),
        "no message for code {:?}",
        e.code
    );
    assert!(
        fields.iter().any(|f| e.detail.contains(f)),
        "the detail names none of {fields:?}: {:?}",
        e.detail
    );
}

/// The server's own body types: a refusal never names them (unless the input did).
const SERVER_TYPES: [&str; 12] = [
    "AuthorizeRequest",
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
fn read<T: DeserializeOwned>(body: &[u8]) -> Option<T> {
    match minutely_server::body::parse_object::<T>(body) {
        Ok(value) => Some(value),
        Err(e) => {
            // Named: the field at fault (`amount: ...`) or the body itself; never a Rust type.
            check_refusal(&e, &[": ", "body"]);
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
/// after a trip through its JSON shape and JSON text.
pub fn call_record_json(data: &[u8]) {
    let Some(json) = read::<CallRecordJson>(data) else {
        return;
    };
    let record = match json.to_record("record") {
        Ok(record) => record,
        Err(e) => return check_refusal(&e, &["record."]),
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
pub const BODIES: [&str; 10] = [
    "authorize",
    "extend",
    "end",
    "ingest",
    "funding",
    "wallet_settings",
    "auto_recharge",
    "create_tenant",
    "tenant_file",
    "webhook",
];

fn max_batch_records() -> usize {
    static MAX: OnceLock<usize> = OnceLock::new();
    *MAX.get_or_init(|| {
        let config = minutely_server::Config::new(
            std::path::PathBuf::new(),
            std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        );
        config.max_batch_records
    })
}

fn authorize(body: &[u8]) {
    let Some(request) = read::<AuthorizeRequest>(body) else {
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
        check_refusal(&e, &fields);
    }
}

fn end(body: &[u8]) {
    let Some(request) = read::<EndRequest>(body) else {
        return;
    };
    match request.check(PATH_CALL_ID) {
        Ok((_, Some(record))) => assert_eq!(record.call_id, PATH_CALL_ID),
        Ok((_, None)) => {}
        Err(e) => check_refusal(&e, &["end", "duration_s", "record."]),
    }
}

fn ingest(body: &[u8]) {
    let Some(request) = read::<IngestRequest>(body) else {
        return;
    };
    match request.records(max_batch_records()) {
        Ok(records) => {
            assert_eq!(records.len(), request.calls.len());
            assert!(records.iter().all(|r| !r.call_id.trim().is_empty()));
        }
        Err(e) => check_refusal(&e, &["calls[", "records in one batch"]),
    }
}

fn funding(body: &[u8]) {
    let Some(request) = read::<FundingRequest>(body) else {
        return;
    };
    if let Err(e) = request.check() {
        check_refusal(&e, &["amount", "reference"]);
    }
}

fn wallet_settings(body: &[u8]) {
    let Some(request) = read::<WalletSettingsRequest>(body) else {
        return;
    };
    match request.thresholds() {
        Ok(Some(thresholds)) => {
            assert!(thresholds[0] >= thresholds[1], "not highest first");
            assert!(thresholds.iter().flatten().all(|t| !t.is_sign_negative()));
        }
        Ok(None) => assert!(request.low_balance_thresholds.is_none()),
        Err(e) => check_refusal(&e, &["low_balance_thresholds"]),
    }
}

fn auto_recharge(body: &[u8]) {
    let Some(request) = read::<AutoRechargeRequest>(body) else {
        return;
    };
    match request.recharge() {
        Ok(Some(recharge)) => assert_eq!(recharge.enabled, request.enabled),
        Ok(None) => assert!(!request.enabled),
        Err(e) => check_refusal(&e, &["trigger", "amount"]),
    }
}

fn create_tenant(body: &[u8]) {
    let Some(request) = read::<CreateTenantRequest>(body) else {
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
            check_refusal(&e, &fields);
        }
    }
}

/// A tenant file over HTTP is TOML, not JSON; a refusal names its place in the file (or says
/// the body is empty or not UTF-8).
fn tenant_file_body(body: &[u8]) {
    if let Err(e) = parse_tenant_file(body) {
        assert!(e.status.is_client_error(), "not a client error: {e:?}");
        assert!(
            i18n::has_message(e.code),
            "no message for code {:?}",
            e.code
        );
        assert!(
            e.detail.contains(':') || e.detail.contains("UTF-8") || e.detail.contains("empty"),
            "{e:?}"
        );
    }
}

fn webhook(body: &[u8]) {
    let Some(request) = read::<CreateEndpointRequest>(body) else {
        return;
    };
    match check_url(&request.url, &WebhookAllow::default()) {
        Ok(url) => {
            assert_eq!(url, request.url);
            assert!(url.len() <= MAX_URL_BYTES);
        }
        Err(e) => check_refusal(&e, &["url"]),
    }
}

/// The request bodies of the API: the input's first line names the body (one of `BODIES`),
/// the rest is the body. Inputs naming no body are ignored.
pub fn api_bodies(data: &[u8]) {
    let Some(split) = data.iter().position(|&b| b == b'\n') else {
        return;
    };
    let (name, body) = (&data[..split], &data[split + 1..]);
    match name {
        b"authorize" => authorize(body),
        b"extend" => drop(read::<ExtendRequest>(body)),
        b"end" => end(body),
        b"ingest" => ingest(body),
        b"funding" => funding(body),
        b"wallet_settings" => wallet_settings(body),
        b"auto_recharge" => auto_recharge(body),
        b"create_tenant" => create_tenant(body),
        b"tenant_file" => tenant_file_body(body),
        b"webhook" => webhook(body),
        _ => {}
    }
}
