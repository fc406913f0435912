//! The service's one error type: what went wrong (a refusal under the charging rules with its
//! `Reason`, or one of the application's own kinds), a stable machine code, and an English
//! detail naming the bad input. It knows no protocol: the HTTP layer chooses a status from the
//! kind, the command line prints the code and the detail.

use minutely_core::Reason;
use minutely_core::directory::Refusal;

/// What kind of failure an error is; each adapter maps it to its own answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A charging rule refused (the reason is the code).
    Refused(Reason),
    /// Malformed input.
    Invalid,
    /// Well-formed input whose values cannot be used together.
    Unprocessable,
    /// Nothing by that name (or one the caller may not see).
    NotFound,
    /// The caller may not do this.
    Forbidden,
    /// The change conflicts with the current state.
    Conflict,
    /// More than a limit allows (records, commands, bytes).
    TooLarge,
    /// The writer is stopping or a commit failed: nothing was changed, try again.
    Unavailable,
    /// An internal failure; the detail is logged, never shown.
    Internal,
}

/// A failed use case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceError {
    pub kind: Kind,
    /// The stable machine code.
    pub code: &'static str,
    /// What exactly was wrong, naming the input; empty when the code says it all. For
    /// `Internal`, what failed inside, for the log only.
    pub detail: String,
}

impl ServiceError {
    pub fn new(kind: Kind, code: &'static str, detail: impl Into<String>) -> ServiceError {
        ServiceError {
            kind,
            code,
            detail: detail.into(),
        }
    }

    /// A refusal under the charging rules, coded by its reason.
    pub fn reason(reason: Reason, detail: impl Into<String>) -> ServiceError {
        ServiceError::new(Kind::Refused(reason), reason.code(), detail)
    }

    pub fn invalid(detail: impl Into<String>) -> ServiceError {
        ServiceError::new(Kind::Invalid, "invalid_request", detail)
    }

    pub fn unprocessable(detail: impl Into<String>) -> ServiceError {
        ServiceError::new(Kind::Unprocessable, "unprocessable_request", detail)
    }

    pub fn not_found(detail: impl Into<String>) -> ServiceError {
        ServiceError::new(Kind::NotFound, "not_found", detail)
    }

    pub fn forbidden(detail: impl Into<String>) -> ServiceError {
        ServiceError::new(Kind::Forbidden, "forbidden", detail)
    }

    pub fn conflict(detail: impl Into<String>) -> ServiceError {
        ServiceError::new(Kind::Conflict, "conflict", detail)
    }

    pub fn unavailable(detail: impl Into<String>) -> ServiceError {
        ServiceError::new(Kind::Unavailable, "unavailable", detail)
    }

    /// An internal failure: the detail is for the operator's log (an adapter that answers
    /// callers logs it and never shows it).
    pub fn internal(detail: impl std::fmt::Display) -> ServiceError {
        ServiceError::new(Kind::Internal, "internal", detail.to_string())
    }

    /// The charging rule behind a refusal.
    pub fn rule(&self) -> Option<&'static str> {
        match self.kind {
            Kind::Refused(reason) => Some(reason.rule()),
            _ => None,
        }
    }
}

impl std::fmt::Display for ServiceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.kind == Kind::Internal && !self.detail.is_empty() {
            f.write_str(&self.detail)
        } else if self.detail.is_empty() {
            f.write_str(self.code)
        } else {
            write!(f, "{}: {}", self.code, self.detail)
        }
    }
}

impl std::error::Error for ServiceError {}

impl From<minutely_core::ident::BadIdentifier> for ServiceError {
    fn from(e: minutely_core::ident::BadIdentifier) -> ServiceError {
        ServiceError::invalid(e.to_string())
    }
}

impl From<Refusal> for ServiceError {
    fn from(r: Refusal) -> ServiceError {
        ServiceError::reason(r.reason, r.detail)
    }
}

impl From<minutely_store::StoreError> for ServiceError {
    /// A store that cannot be reached (a database restarting) is `unavailable`: the caller
    /// tries again; any other store error is internal.
    fn from(e: minutely_store::StoreError) -> ServiceError {
        if e.is_unreachable() {
            tracing::warn!(error = %e, "the store cannot be reached");
            return ServiceError::unavailable("the store cannot be reached now; try again");
        }
        ServiceError::internal(e)
    }
}

/// The result of a use case.
pub type ServiceResult<T> = Result<T, ServiceError>;

/// `unknown_tenant` for a tenant id the caller may not see or that does not exist: the two
/// are never told apart.
pub fn unknown_tenant(tenant: &str) -> ServiceError {
    ServiceError::reason(Reason::UnknownTenant, format!("no tenant {tenant:?}"))
}
