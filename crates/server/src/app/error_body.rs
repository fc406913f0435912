//! The error body every API error has, its rendering in the caller's language, and the
//! request ids it names.

use crate::error::ApiError;
use crate::i18n::{self, Lang};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use std::sync::atomic::{AtomicU64, Ordering};

/// The error body every API error has.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable machine code: a reason code of the charging rules or an API code.
    pub code: String,
    /// Human message in the language negotiated from `Accept-Language`.
    pub message: String,
    /// The language of `message` (en, ja, zh-CN, fr, de).
    pub lang: String,
    /// What exactly was wrong, in English, naming the input.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The charging rule behind a reason code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    pub request_id: String,
}

static REQUEST_SEQ: AtomicU64 = AtomicU64::new(0);

/// A fresh request id: this process's random prefix and a sequence number.
pub(crate) fn new_request_id() -> String {
    format!(
        "{}-{:08x}",
        request_prefix(),
        REQUEST_SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

fn request_prefix() -> &'static str {
    static PREFIX: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PREFIX.get_or_init(|| hex::encode(crate::auth::random_bytes::<4>()))
}

pub(super) fn render_error(error: &ApiError, lang: Lang, request_id: &str) -> Response {
    let body = ErrorBody {
        error: ErrorDetail {
            code: error.code.to_string(),
            message: i18n::message(error.code, lang).to_string(),
            lang: lang.tag().to_string(),
            detail: (!error.detail.is_empty()).then(|| error.detail.clone()),
            rule: error.rule.map(str::to_string),
            request_id: request_id.to_string(),
        },
    };
    let mut response = (error.status, axum::Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(lang.tag()) {
        response
            .headers_mut()
            .insert(header::CONTENT_LANGUAGE, value);
    }
    response
}
