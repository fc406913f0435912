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
}
