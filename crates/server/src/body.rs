//! Request bodies: a body is either read whole and parsed, or refused; it is never ignored.
//!
//! - A body without `Content-Type: application/json` (or a `+json` type) is refused with 415,
//!   whatever the route: a client that forgot the header must not have its body treated as
//!   absent (an `end` whose duration silently became 0).
//! - Only a JSON object is accepted at the top level: arrays, strings, numbers and `null` are
//!   refused (an optional body may be left out entirely instead), and so is anything after the
//!   object.
//! - Errors name the field and the problem in the API's words, never the server's own types.

use crate::error::{ApiError, ApiResult};
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;

/// A JSON object body, required.
pub struct Json<T>(pub T);

/// A JSON object body that may be left out (then `T::default()`); a present body is parsed
/// exactly like [`Json`]'s.
pub struct JsonOrEmpty<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> ApiResult<Json<T>> {
        match read_object(req, state).await? {
            Some(value) => Ok(Json(value)),
            None => Err(ApiError::invalid(
                "this request needs a JSON object body (Content-Type: application/json)",
            )),
        }
    }
}

impl<T, S> FromRequest<S> for JsonOrEmpty<T>
where
    T: DeserializeOwned + Default,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> ApiResult<JsonOrEmpty<T>> {
        Ok(JsonOrEmpty(
            read_object(req, state).await?.unwrap_or_default(),
        ))
    }
}

impl<T: serde::Serialize> axum::response::IntoResponse for Json<T> {
    fn into_response(self) -> axum::response::Response {
        axum::Json(self.0).into_response()
    }
}

/// Reads the whole body (bounded by the server's body limit) and parses it as one JSON object;
/// `None` when the request has no body at all.
async fn read_object<T, S>(req: Request, state: &S) -> ApiResult<Option<T>>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    let json = is_json(req.headers());
    let bytes = axum::body::Bytes::from_request(req, state)
        .await
        .map_err(|rejection| match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the body is larger than this server accepts",
            ),
            _ => ApiError::invalid("the body could not be read to its end"),
        })?;
    if bytes.is_empty() {
        return Ok(None);
    }
    if !json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "a request body must be sent with Content-Type: application/json",
        ));
    }
    parse_object(&bytes).map(Some)
}

/// Parses bytes that must hold exactly one JSON object.
pub fn parse_object<T: DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Err(ApiError::invalid(format!(
            "the body must be a JSON object ({{...}}), not {}",
            json_kind(first.copied())
        )));
    }
    let mut reader = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut reader).map_err(|e| {
        let path = e.path().to_string();
        let text = describe(e.inner());
        if path == "." {
            ApiError::invalid(format!("the body is not valid: {text}"))
        } else {
            ApiError::invalid(format!("{path}: {text}"))
        }
    })?;
    reader
        .end()
        .map_err(|e| ApiError::invalid(format!("the body is not valid: {}", describe(&e))))?;
    Ok(value)
}

/// `application/json`, with parameters or not, or any `application/*+json`.
pub fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim();
    let Some((kind, sub)) = essence.split_once('/') else {
        return false;
    };
    kind.eq_ignore_ascii_case("application")
        && (sub.eq_ignore_ascii_case("json") || sub.to_ascii_lowercase().ends_with("+json"))
}

fn json_kind(first: Option<u8>) -> &'static str {
    match first {
        None => "an empty body",
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b'n') => "null",
        Some(b't' | b'f') => "a boolean",
        Some(b'-' | b'0'..=b'9') => "a number",
        Some(_) => "JSON",
    }
}

/// A parse error in the API's words: serde's text without the names of the server's types
/// ("expected struct EndRequest" becomes "expected an object").
pub fn describe(error: &serde_json::Error) -> String {
    without_types(&error.to_string())
}

/// A deserializer's message without the names of the server's types.
pub fn without_types(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("expected ") {
        out.push_str(&rest[..at]);
        let tail = &rest[at + "expected ".len()..];
        let (replacement, skip) = type_phrase(tail);
        out.push_str("expected ");
        out.push_str(replacement);
        rest = &tail[skip..];
    }
    out.push_str(rest);
    out
}

/// What to say instead of a type named after "expected ", and how much of `tail` it replaces.
fn type_phrase(tail: &str) -> (&'static str, usize) {
    for (prefix, phrase) in [
        ("struct variant ", "an object"),
        ("tuple struct ", "an array"),
        ("struct ", "an object"),
        ("enum ", "one of the allowed values"),
        ("unit struct ", "null"),
    ] {
        if let Some(name) = tail.strip_prefix(prefix) {
            let len = name
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(name.len());
            return (phrase, prefix.len() + len);
        }
    }
    // Primitive types: "expected u64" says what a client must send instead.
    let word_len = tail
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(tail.len());
    let phrase = match &tail[..word_len] {
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a whole number, 0 or more",
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "a whole number",
        "f32" | "f64" => "a number",
        "char" => "a single character",
        _ => return ("", 0),
    };
    (phrase, word_len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct EndRequest {
        duration_s: u64,
    }

    fn error_of(body: &str) -> String {
        parse_object::<EndRequest>(body.as_bytes())
            .unwrap_err()
            .detail
    }

    #[test]
    fn only_one_object_is_a_body() {
        assert!(parse_object::<EndRequest>(br#" {"duration_s":5} "#).is_ok());
        for bad in [
            "[5]",
            "null",
            "5",
            "\"x\"",
            "true",
            r#"{"duration_s":5} x"#,
            "{} {}",
        ] {
            let detail = error_of(bad);
            assert!(!detail.contains("EndRequest"), "{bad}: {detail}");
        }
        assert!(error_of("[250]").contains("an array"));
    }

    #[test]
    fn errors_never_name_server_types() {
        let detail = error_of(r#"{"duration_s":"x"}"#);
        assert!(!detail.contains("EndRequest"), "{detail}");
        assert!(detail.contains("invalid type"), "{detail}");
        let detail = error_of(r#"{"other":1}"#);
        assert!(detail.contains("other"), "{detail}");
        let detail = error_of(r#"{"duration_s":-1}"#);
        assert!(detail.starts_with("duration_s: "), "{detail}");
        assert!(detail.contains("a whole number, 0 or more"), "{detail}");
        assert!(!detail.contains("u64"), "{detail}");
        let nested = serde_json::from_str::<Vec<EndRequest>>("[1]").unwrap_err();
        let text = describe(&nested);
        assert!(text.contains("expected an object"), "{text}");
        assert!(!text.contains("EndRequest"), "{text}");
    }

    #[test]
    fn json_content_types() {
        let mut h = HeaderMap::new();
        assert!(!is_json(&h));
        for (value, json) in [
            ("application/json", true),
            ("application/json; charset=utf-8", true),
            ("Application/JSON", true),
            ("application/merge-patch+json", true),
            ("text/plain", false),
            ("application/x-www-form-urlencoded", false),
            ("json", false),
        ] {
            h.insert(header::CONTENT_TYPE, value.parse().unwrap());
            assert_eq!(is_json(&h), json, "{value}");
        }
    }
}
