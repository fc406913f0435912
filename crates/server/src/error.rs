//! API errors: a stable machine code (a reason code of the charging rules, or one of the API's
//! own codes), an HTTP status, and an English detail that names the bad input. The message shown
//! to people is localized at the edge from the code (`i18n`); internal details never leave the
//! server.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use minutely_core::Reason;
use minutely_core::directory::Refusal;
use minutely_service::{Kind, ServiceError};

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    /// The stable machine code.
    pub code: &'static str,
    /// What exactly was wrong, in English, naming the input (never internals). Empty when the
    /// code says it all.
    pub detail: String,
    /// The charging rule behind a reason code.
    pub rule: Option<&'static str>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            detail: detail.into(),
            rule: None,
        }
    }

    /// A refusal under the charging rules: 422 with the reason code.
    pub fn reason(reason: Reason, detail: impl Into<String>) -> ApiError {
        let status = match reason {
            Reason::UnknownTenant | Reason::UnknownUser => StatusCode::NOT_FOUND,
            Reason::CallIdReused => StatusCode::CONFLICT,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        };
        ApiError {
            status,
            code: reason.code(),
            detail: detail.into(),
            rule: Some(reason.rule()),
        }
    }

    pub fn invalid(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", detail)
    }

    /// A well-formed request whose values cannot be used: fields that exclude or need each
    /// other, an instant too far from the server's clock, a month that has not started (422).
    pub fn unprocessable(detail: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unprocessable_request",
            detail,
        )
    }

    pub fn not_found(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", detail)
    }

    pub fn unauthorized(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
    }

    pub fn forbidden(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }

    pub fn conflict(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, "conflict", detail)
    }

    pub fn unavailable(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", detail)
    }

    /// An internal failure: the detail is logged, never sent.
    pub fn internal(detail: impl std::fmt::Display) -> ApiError {
        tracing::error!(detail = %detail, "internal error");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "")
    }
}

/// The one mapping of the service's errors to HTTP: the kind chooses the status, the code and
/// detail are kept.
impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> ApiError {
        let status = match e.kind {
            Kind::Internal => return ApiError::internal(e.detail),
            Kind::Refused(Reason::UnknownTenant | Reason::UnknownUser) | Kind::NotFound => {
                StatusCode::NOT_FOUND
            }
            Kind::Refused(Reason::CallIdReused) | Kind::Conflict => StatusCode::CONFLICT,
            Kind::Refused(_) | Kind::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
            Kind::Invalid => StatusCode::BAD_REQUEST,
            Kind::Forbidden => StatusCode::FORBIDDEN,
            Kind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Kind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        };
        let rule = e.rule();
        ApiError {
            status,
            code: e.code,
            detail: e.detail,
            rule,
        }
    }
}

impl From<minutely_core::ident::BadIdentifier> for ApiError {
    fn from(e: minutely_core::ident::BadIdentifier) -> ApiError {
        ApiError::invalid(e.to_string())
    }
}

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> ApiError {
        ApiError::reason(r.reason, r.detail)
    }
}

impl From<minutely_store::StoreError> for ApiError {
    /// As the service's: a store that cannot be reached is 503 (try again), any other store
    /// error internal.
    fn from(e: minutely_store::StoreError) -> ApiError {
        ServiceError::from(e).into()
    }
}

/// Carried on an error response so that the localizing layer can render the body in the
/// caller's language.
#[derive(Debug, Clone)]
pub struct ErrorMark(pub ApiError);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // The body is written by `i18n_layer`, which knows the request's Accept-Language.
        let mut response = self.status.into_response();
        response.extensions_mut().insert(ErrorMark(self));
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
