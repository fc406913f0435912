//! A tenant's service numbers (C4): listed by its admin, added by the operator (the numbers are
//! the provider's).

use crate::access::Route;
use crate::api::audit::{Actor, snapshot};
use crate::api::catalogue::blocking;
use crate::api::directory::NumberJson;
use crate::api::types::{PageParams, bounded, paged};
use crate::app::{AppState, Caller, Json, Path, Query};
use crate::auth::Access;
use crate::error::{ApiError, ApiResult};
use axum::extract::State;
use axum::http::StatusCode;
use minutely_core::Reason;
use minutely_core::directory::NumberKind;
use minutely_core::numbers::E164;
use minutely_service::Command;
use minutely_service::commands::directory::{Change, DirectoryCommand, NumberView};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The routes of this module, each with its access class (`crate::access`).
pub fn routes() -> Vec<Route> {
    use crate::access::Policy::*;
    vec![
        Route::documented(TenantAdmin, __path_list_numbers, list_numbers),
        Route::documented(TenantOperator, __path_add_number, add_number),
    ]
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NumbersPage {
    /// By number.
    pub numbers: Vec<NumberJson>,
    /// The cursor of the next page (`after`), or null at the end.
    pub next: Option<String>,
}

/// The tenant's service numbers, paged.
#[utoipa::path(
    get,
    path = "/v1/tenants/{tenant}/numbers",
    params(
        ("tenant" = String, Path),
        ("limit" = Option<usize>, Query, description = "Items per page (default 100)"),
        ("after" = Option<String>, Query, description = "The `next` cursor of the previous page")
    ),
    responses(
        (status = 200, description = "A page of numbers", body = NumbersPage),
        (status = 404, description = "unknown_tenant", body = crate::app::ErrorBody)
    ),
    tag = "directory",
    security(("key" = []))
)]
pub async fn list_numbers(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(tenant): Path<String>,
    Query(page): Query<PageParams>,
) -> ApiResult<Json<NumbersPage>> {
    caller.check(&tenant, Access::Admin)?;
    let (limit, after) = page.checked(state.config.max_page)?;
    let after = match after {
        Some(text) => Some(
            E164::parse(&text)
                .ok_or_else(|| ApiError::invalid(format!("after: {text:?} is not a number")))?,
        ),
        None => None,
    };
    let numbers = state
        .writer
        .with_book(&tenant, move |b| {
            let numbers = b
                .tenant
                .numbers()
                .filter(|n| after.is_none_or(|a| n.number > a))
                .take(limit + 1)
                .map(NumberJson::new)
                .collect();
            let (numbers, next) = paged(numbers, limit, |n| n.number.clone());
            Ok(NumbersPage { numbers, next })
        })
        .await?;
    Ok(Json(numbers))
}

/// A service number to add.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddNumberRequest {
    /// E.164; spaces, dashes and dots are accepted (C8).
    pub number: String,
    /// `toll` or `toll_free`.
    pub kind: String,
    /// Shared with other tenants; false (dedicated) when absent.
    pub shared: Option<bool>,
    /// Make this toll number the bridge default; false when absent.
    pub bridge_default: Option<bool>,
}

/// Adds a service number, or updates its flags (operator only: the numbers are the
/// provider's). C4: `invalid_number`, then `credits_not_set_up` for a toll-free number without
/// a wallet, then `number_kind_unavailable` when the kind is not available in the number's
/// country.
#[utoipa::path(
    post,
    path = "/v1/tenants/{tenant}/numbers",
    params(("tenant" = String, Path)),
    request_body = AddNumberRequest,
    responses(
        (status = 200, description = "Updated", body = NumberJson),
        (status = 201, description = "Added", body = NumberJson),
        (status = 400, description = "A bad field (named)", body = crate::app::ErrorBody),
        (status = 403, description = "Not an operator key", body = crate::app::ErrorBody),
        (status = 404, description = "unknown_tenant", body = crate::app::ErrorBody),
        (status = 422, description = "invalid_number, credits_not_set_up or number_kind_unavailable", body = crate::app::ErrorBody)
    ),
    tag = "directory",
    security(("key" = []))
)]
pub async fn add_number(
    State(state): State<AppState>,
    Caller(caller): Caller,
    actor: Actor,
    Path(tenant): Path<String>,
    body: Result<Json<AddNumberRequest>, ApiError>,
) -> ApiResult<(StatusCode, Json<NumberJson>)> {
    caller.check(&tenant, Access::Operator)?;
    // Operator only, whatever `Access::Operator` may come to allow a tenant admin.
    caller.operator()?;
    let Json(body) = body?;
    bounded("number", &body.number)?;
    let number = E164::parse(&body.number).ok_or_else(|| {
        ApiError::reason(
            Reason::InvalidNumber,
            format!(
                "number: {:?} is not an E.164 number (+ then digits)",
                body.number
            ),
        )
    })?;
    let kind = NumberKind::parse(&body.kind).ok_or_else(|| {
        ApiError::invalid(format!("kind: {:?} is not toll or toll_free", body.kind))
    })?;
    let (shared, default) = (
        body.shared.unwrap_or(false),
        body.bridge_default.unwrap_or(false),
    );
    // The numbering plan compiles a calling code's patterns on first use: do that off the
    // async threads and before the writer needs them.
    blocking(move || {
        minutely_core::numbers::NumberPlan::global().classify(number);
        Ok(())
    })
    .await?;
    let change = Change {
        actor: actor.0,
        tenant,
        picture: |t, key| {
            let n = t.number(E164::parse(key)?)?;
            Some(snapshot(&NumberJson::new(n)))
        },
    };
    let command = DirectoryCommand::PutNumber {
        change,
        number,
        kind,
        shared,
        bridge_default: default,
    };
    let view = state
        .writer
        .execute::<NumberView>(Command::Directory(command))
        .await?;
    let (added, json) = (view.added, NumberJson::new(&view.number));
    let status = if added {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(json)))
}
