//! The served OpenAPI document is the committed snapshot `crates/server/openapi.json`, so that
//! any change to the API's contract shows up in review. After an intended change, regenerate it:
//!
//! ```text
//! UPDATE_OPENAPI=1 cargo test -p minutely-server --test it -- openapi::
//! ```

use crate::common;

use common::*;
use serde_json::{Map, Value};
use std::path::PathBuf;

fn snapshot_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("openapi.json")
}

/// Object keys sorted at every level, so the text does not depend on map order.
fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let mut out = Map::new();
            for key in keys {
                out.insert(key.clone(), sorted(&map[key]));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// A stable pretty-print: sorted keys, two-space indentation, a final newline.
fn stable_text(document: &Value) -> String {
    let mut text = serde_json::to_string_pretty(&sorted(document)).expect("JSON prints");
    text.push('\n');
    text
}

async fn served_document() -> Value {
    let app = TestApp::start().await;
    let r = app
        .request(reqwest::Method::GET, "/openapi.json", None, None, &[])
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json")),
        "{:?}",
        r.headers
    );
    app.stop().await;
    serde_json::from_str(&r.text).expect("the document is JSON")
}

#[tokio::test]
async fn the_served_openapi_document_is_the_committed_snapshot() {
    let served = stable_text(&served_document().await);
    let path = snapshot_path();
    if std::env::var_os("UPDATE_OPENAPI").is_some_and(|v| v == "1") {
        std::fs::write(&path, &served).expect("write the snapshot");
        eprintln!("wrote {}", path.display());
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; create it with UPDATE_OPENAPI=1 cargo test -p minutely-server --test it -- openapi::",
            path.display()
        )
    });
    if committed != served {
        let line = committed
            .lines()
            .zip(served.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| committed.lines().count().min(served.lines().count()));
        panic!(
            "the served OpenAPI document differs from {} from line {}:\n  committed: {}\n  served:    {}\n\
             If the change is intended, run UPDATE_OPENAPI=1 cargo test -p minutely-server --test it -- openapi::",
            path.display(),
            line + 1,
            committed.lines().nth(line).unwrap_or("<end>"),
            served.lines().nth(line).unwrap_or("<end>"),
        );
    }
}

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

#[tokio::test]
async fn every_route_is_versioned_and_every_v1_operation_declares_its_errors() {
    let document = served_document().await;
    assert!(
        document["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.")),
        "an OpenAPI 3 document"
    );
    let paths = document["paths"].as_object().expect("paths");
    assert!(!paths.is_empty(), "the document lists the routes");
    let mut undeclared = Vec::new();
    for (path, item) in paths {
        assert!(
            path.starts_with("/v1/") || path == "/healthz" || path == "/readyz",
            "{path} is neither under /v1 nor a probe"
        );
        let operations: Vec<(&str, &Value)> = METHODS
            .iter()
            .filter_map(|m| item.get(*m).map(|op| (*m, op)))
            .collect();
        assert!(!operations.is_empty(), "{path} has no operation");
        for (method, op) in operations {
            let responses = op["responses"]
                .as_object()
                .unwrap_or_else(|| panic!("{method} {path} has no responses"));
            assert!(
                responses.keys().any(|s| s.starts_with('2')),
                "{method} {path} declares no success"
            );
            // The probes need no key and take no input: they have no client error.
            if path.starts_with("/v1/") && !responses.keys().any(|s| s.starts_with('4')) {
                undeclared.push(format!("{method} {path}"));
            }
        }
    }
    assert!(
        undeclared.is_empty(),
        "operations that declare no 4xx error response: {undeclared:?}"
    );
}

/// What the shared errors of `api::openapi` promise, checked on the served document: every
/// `/v1` operation can answer 401, 429 (with `Retry-After`) and 503 with the error body, and every
/// operation that takes a body can answer 413 and 415.
#[tokio::test]
async fn every_v1_operation_declares_the_errors_of_the_gate_the_limits_and_shutdown() {
    let document = served_document().await;
    let shared = &document["components"]["responses"];
    assert!(
        shared["TooManyRequests"]["headers"]["Retry-After"].is_object(),
        "{shared}"
    );
    for name in [
        "Unauthorized",
        "TooManyRequests",
        "Unavailable",
        "PayloadTooLarge",
    ] {
        assert_eq!(
            shared[name]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ErrorBody",
            "{name}"
        );
    }
    let mut missing = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        if !path.starts_with("/v1/") {
            continue;
        }
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            let mut expected = vec!["401", "429", "503"];
            if op.get("requestBody").is_some() {
                expected.extend(["400", "413", "415"]);
            }
            if path.contains('{') {
                expected.extend(["400", "404"]);
            }
            for status in expected {
                if op["responses"].get(status).is_none() {
                    missing.push(format!("{method} {path} {status}"));
                }
            }
        }
    }
    assert!(missing.is_empty(), "undeclared: {missing:?}");
}

/// A path segment that is not UTF-8 is refused by the router before any handler: the answer is
/// still the declared error body (JSON, `invalid_request`, naming the segment), not plain text.
#[tokio::test]
async fn a_path_segment_that_is_not_utf8_gets_the_json_error_body() {
    let app = TestApp::start().await;
    let key = app.operator_key.clone();
    let r = app.get("/v1/tenants/%FF/wallet", &key).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(
        r.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json")),
        "{:?}",
        r.headers
    );
    assert_eq!(r.body["error"]["code"], "invalid_request", "{}", r.text);
    assert!(
        r.body["error"]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("tenant")),
        "{}",
        r.text
    );
    assert!(r.body["error"]["request_id"].is_string(), "{}", r.text);
    app.stop().await;
}
