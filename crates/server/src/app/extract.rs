//! The extractors of our handlers: the authenticated caller, the request id, and query and
//! path parameters whose rejections carry our error body.

use super::AppState;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

/// The request's id (`x-request-id`, given or made by the edge), in the request's extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The authenticated caller of a request.
pub struct Caller(pub Principal);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Caller> {
        // The gate has already authenticated the request: its answer is reused.
        if let Some(principal) = parts.extensions.get::<Principal>() {
            return Ok(Caller(principal.clone()));
        }
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        state.keys.authenticate(header).map(Caller)
    }
}

/// Query extractor with our errors.
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> ApiResult<Query<T>> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Query(q.0))
            .map_err(|r| ApiError::invalid(crate::body::without_types(&r.body_text())))
    }
}

/// Path extractor with our errors.
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> ApiResult<Path<T>> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Path(p.0))
            .map_err(|r| ApiError::invalid(crate::body::without_types(&r.body_text())))
    }
}
