//! The body of `POST /v1/tenants/{tenant}/rerate`.

use crate::error::ServiceResult;
use crate::input::{bounded, parse_instant};
use jiff::Timestamp;
use serde::Deserialize;

/// Rate the tenant's charged calls of `[from, to)` again with the card as it is now.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RerateRequest {
    /// The period's first instant (RFC 3339): calls that started at or after it.
    #[schema(max_length = 64, example = "2026-03-01T00:00:00Z")]
    pub from: String,
    /// The period's end (RFC 3339, exclusive).
    #[schema(max_length = 64, example = "2026-04-01T00:00:00Z")]
    pub to: String,
    /// Show the difference per call and the totals, changing nothing (the default is false).
    #[serde(default)]
    pub dry_run: bool,
}

impl RerateRequest {
    /// The period, checked: two instants, `from` before `to`.
    pub fn period(&self) -> ServiceResult<(Timestamp, Timestamp)> {
        let from = parse_instant("from", bounded("from", &self.from)?)?;
        let to = parse_instant("to", bounded("to", &self.to)?)?;
        if from >= to {
            return Err(crate::error::ServiceError::unprocessable(format!(
                "from {} must be before to {}",
                self.from, self.to
            )));
        }
        Ok((from, to))
    }
}
