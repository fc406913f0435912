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

/// Reading one JSON object is the service's (the fuzz targets check it without the server).
pub use minutely_service::input::body::{describe, parse_object, without_types};

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
    /// The answer `axum::Json` gives, the same status, headers and bytes, serialized into a
    /// buffer the thread keeps (serializing into a growing `BytesMut` cost more than the JSON
    /// itself): the body is one exact copy of it.
    fn into_response(self) -> axum::response::Response {
        SERIALIZED.with(|buffer| match buffer.try_borrow_mut() {
            Ok(mut buffer) => json_response(&mut buffer, &self.0),
            // Serializing a body never serializes another; should it, it gets its own buffer.
            Err(_) => json_response(&mut Vec::new(), &self.0),
        })
    }
}

thread_local! {
    /// The serialized body of the thread's last answer, kept for the next one.
    static SERIALIZED: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The most a thread keeps between answers; a larger body's buffer is given back.
const KEPT_BYTES: usize = 1 << 20;

fn json_response<T: serde::Serialize>(buffer: &mut Vec<u8>, value: &T) -> axum::response::Response {
    use axum::response::IntoResponse;
    buffer.clear();
    let serialized = serde_json::to_writer(&mut *buffer, value);
    let response = match serialized {
        Ok(()) => (
            [(
                header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static("application/json"),
            )],
            axum::body::Bytes::copy_from_slice(buffer),
        )
            .into_response(),
        Err(err) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(
                header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static("text/plain; charset=utf-8"),
            )],
            err.to_string(),
        )
            .into_response(),
    };
    if buffer.capacity() > KEPT_BYTES {
        *buffer = Vec::new();
    }
    response
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
    Ok(Some(parse_object(&bytes)?))
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

#[cfg(test)]
mod tests {
    use super::*;

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

    use axum::response::IntoResponse;
    use std::collections::BTreeMap;

    /// Status, every header and the body bytes of an answer.
    async fn parts(response: axum::response::Response) -> (u16, Vec<(String, Vec<u8>)>, Vec<u8>) {
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| (name.to_string(), value.as_bytes().to_vec()))
            .collect();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("a body in memory");
        (status, headers, body.to_vec())
    }

    async fn same_answer<T: serde::Serialize + Clone>(value: T) {
        let ours = parts(Json(value.clone()).into_response()).await;
        let axum = parts(axum::Json(value).into_response()).await;
        assert_eq!(ours, axum);
    }

    #[derive(Clone, serde::Serialize)]
    struct Shaped {
        text: String,
        count: u64,
        ratio: f64,
        missing: Option<u32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        skipped: Option<u32>,
        nested: Vec<BTreeMap<String, bool>>,
    }

    /// Every answer is the one `axum::Json` gives, byte for byte: strings with every escape,
    /// numbers, nulls, nesting, a body larger than the kept buffer, one after another on the
    /// same thread, and a value that cannot be serialized (500 with serde's text).
    #[tokio::test]
    async fn answers_are_axum_json_answers_byte_for_byte() {
        let strange: String = (0u8..0x80)
            .map(char::from)
            .chain("é日本🎧\u{2028}".chars())
            .collect();
        for text in ["", "plain", strange.as_str()] {
            same_answer(text.to_string()).await;
            same_answer(Shaped {
                text: text.to_string(),
                count: u64::MAX,
                ratio: -0.1,
                missing: None,
                skipped: None,
                nested: vec![BTreeMap::from([(text.to_string(), true)]), BTreeMap::new()],
            })
            .await;
        }
        same_answer(serde_json::json!({"a": [1, 2.5, null, {"b": "c"}], "d": f64::NAN})).await;
        same_answer("x".repeat(3 * KEPT_BYTES)).await;
        same_answer(vec!["after a large body"; 100]).await;
        let unserializable = BTreeMap::from([(vec![1u8], 1u8)]);
        same_answer(unserializable.clone()).await;
        let (status, _, body) = parts(Json(unserializable).into_response()).await;
        assert_eq!((status, body), (500, b"key must be a string".to_vec()));
    }
}
