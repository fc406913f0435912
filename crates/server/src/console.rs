//! The web console: a single-page app in plain HTML, CSS and JavaScript (`crates/server/console/`),
//! embedded in the binary at build time (`build.rs`) and served under `/console/`. It talks
//! only to the `/v1` API with the signed-in key, so it can do nothing the key could not.
//!
//! Every answer carries a strict Content-Security-Policy (scripts, styles and data from this
//! origin only; no inline script; no framing), an ETag from the file's content, and
//! `Cache-Control: no-cache`, so a new binary's console is picked up at once.

use crate::access::{Policy, Route};
use crate::error::{ApiError, ApiResult};
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::OnceLock;

/// Every console file: its path under `/console/` and its bytes.
static FILES: &[(&str, &[u8])] = include!(concat!(env!("OUT_DIR"), "/console.rs"));

/// The page a bare `/console/` serves.
const INDEX: &str = "index.html";

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
                   connect-src 'self'; frame-src 'self' blob:; object-src 'none'; base-uri 'none'; \
                   form-action 'self'; frame-ancestors 'none'";

/// The console's routes: public, since the page holds no data until a key is entered.
pub fn routes() -> Vec<Route> {
    let to_console = || async { Redirect::temporary("/console/") };
    vec![
        Route::undocumented(Method::GET, "/", Policy::Public, to_console),
        Route::undocumented(Method::GET, "/console", Policy::Public, to_console),
        Route::undocumented(Method::GET, "/console/", Policy::Public, index),
        Route::undocumented(Method::GET, "/console/{*path}", Policy::Public, file),
    ]
}

/// The files by path, each with its ETag.
fn table() -> &'static HashMap<&'static str, (&'static [u8], String)> {
    static TABLE: OnceLock<HashMap<&'static str, (&'static [u8], String)>> = OnceLock::new();
    TABLE.get_or_init(|| {
        FILES
            .iter()
            .map(|&(path, bytes)| {
                let digest = Sha256::digest(bytes);
                (path, (bytes, format!("\"{}\"", hex::encode(&digest[..12]))))
            })
            .collect()
    })
}

/// The paths of the embedded files, sorted (for tests and diagnostics).
pub fn paths() -> Vec<&'static str> {
    let mut paths: Vec<&str> = FILES.iter().map(|&(p, _)| p).collect();
    paths.sort_unstable();
    paths
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn serve(path: &str, headers: &HeaderMap) -> ApiResult<Response> {
    let Some((bytes, etag)) = table().get(path) else {
        let shown: String = path.chars().take(128).collect();
        return Err(ApiError::not_found(format!(
            "the console has no file {shown:?}"
        )));
    };
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = (*bytes).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(content_type(path)),
        );
        r
    };
    let h = response.headers_mut();
    h.insert(
        header::ETAG,
        HeaderValue::from_str(etag).expect("hex is a valid header value"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    Ok(response)
}

async fn index(headers: HeaderMap) -> ApiResult<Response> {
    serve(INDEX, &headers)
}

async fn file(Path(path): Path<String>, headers: HeaderMap) -> ApiResult<Response> {
    serve(&path, &headers)
}
