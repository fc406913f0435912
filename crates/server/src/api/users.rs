//! A tenant's users and the licenses assigned to them (the tenant's admin and the operator).

use crate::access::Route;
use crate::api::audit::Actor;
use crate::api::directory::{
    UserJson, parse_country, parse_policy, parse_sku, user_json, user_snapshot,
};
use crate::api::types::{PageParams, bounded, paged};
use crate::app::{AppState, Caller, Json, Path, Query};
use crate::auth::Access;
use crate::error::{ApiError, ApiResult};
use axum::extract::State;
use axum::http::StatusCode;
use minutely_core::directory::User;
use minutely_service::Command;
use minutely_service::commands::directory::{Change, DirectoryCommand, UserInput, UserView};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The routes of this module, each with its access class (`crate::access`).
pub fn routes() -> Vec<Route> {
    use crate::access::Policy::*;
    vec![
        Route::documented(TenantAdmin, __path_list_users, list_users),
        Route::documented(TenantAdmin, __path_get_user, get_user),
        Route::documented(TenantAdmin, __path_put_user, put_user),
        Route::documented(TenantAdmin, __path_assign_license, assign_license),
        Route::documented(TenantAdmin, __path_unassign_license, unassign_license),
    ]
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UsersPage {
    /// By UPN (case-insensitive order).
    pub users: Vec<UserJson>,
    /// The cursor of the next page (`after`), or null at the end.
    pub next: Option<String>,
}

/// The tenant's users, paged by UPN.
#[utoipa::path(
    get,
    path = "/v1/tenants/{tenant}/users",
    params(
        ("tenant" = String, Path),
        ("limit" = Option<usize>, Query, description = "Items per page (default 100)"),
        ("after" = Option<String>, Query, description = "The `next` cursor of the previous page")
    ),
    responses(
        (status = 200, description = "A page of users", body = UsersPage),
        (status = 404, description = "unknown_tenant", body = crate::app::ErrorBody)
    ),
    tag = "directory",
    security(("key" = []))
)]
pub async fn list_users(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(tenant): Path<String>,
    Query(page): Query<PageParams>,
) -> ApiResult<Json<UsersPage>> {
    caller.check(&tenant, Access::Admin)?;
    let (limit, after) = page.checked(state.config.max_page)?;
    let after = after.map(|a| a.to_lowercase());
    let users = state
        .writer
        .with_book(&tenant, move |b| {
            let t = &b.tenant;
            let users: Vec<&User> = t
                .users()
                .filter(|u| after.as_deref().is_none_or(|a| u.upn.key.as_str() > a))
                .take(limit + 1)
                .collect();
            let (users, next) = paged(users, limit, |u| u.upn.key.clone());
            Ok(UsersPage {
                users: users.into_iter().map(|u| UserJson::new(t, u)).collect(),
                next,
            })
        })
        .await?;
    Ok(Json(users))
}

/// One user: object id, licenses, own and effective policy.
#[utoipa::path(
    get,
    path = "/v1/tenants/{tenant}/users/{upn}",
    params(("tenant" = String, Path), ("upn" = String, Path, description = "Case-insensitive")),
    responses(
        (status = 200, description = "The user", body = UserJson),
        (status = 404, description = "unknown_tenant or unknown_user", body = crate::app::ErrorBody)
    ),
    tag = "directory",
    security(("key" = []))
)]
pub async fn get_user(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((tenant, upn)): Path<(String, String)>,
) -> ApiResult<Json<UserJson>> {
    caller.check(&tenant, Access::Admin)?;
    minutely_core::ident::upn("upn", &upn)?;
    let json = state
        .writer
        .with_book(&tenant, move |b| user_json(&b.tenant, &upn))
        .await?;
    Ok(Json(json))
}

/// A user's attributes. PUT replaces them all (licenses are kept; they change through the
/// license routes).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutUserRequest {
    pub display_name: String,
    /// ISO2; the tenant's country when absent.
    pub usage_location: Option<String>,
    /// A policy name of C16; absent or null: the user follows the tenant default.
    pub dial_out_policy: Option<String>,
    /// True when absent.
    pub toll_free_dial_in: Option<bool>,
}

/// Creates (201) or updates (200) a user. Its object id is stable: a new user gets the
/// deterministic id of its tenant and UPN, an existing user keeps its own.
#[utoipa::path(
    put,
    path = "/v1/tenants/{tenant}/users/{upn}",
    params(("tenant" = String, Path), ("upn" = String, Path, description = "Case-insensitive")),
    request_body = PutUserRequest,
    responses(
        (status = 200, description = "Updated", body = UserJson),
        (status = 201, description = "Created", body = UserJson),
        (status = 400, description = "A bad field (named)", body = crate::app::ErrorBody),
        (status = 404, description = "unknown_tenant", body = crate::app::ErrorBody),
        (status = 422, description = "invalid_policy or upn_not_unique", body = crate::app::ErrorBody)
    ),
    tag = "directory",
    security(("key" = []))
)]
pub async fn put_user(
    State(state): State<AppState>,
    Caller(caller): Caller,
    actor: Actor,
    Path((tenant, upn)): Path<(String, String)>,
    body: Result<Json<PutUserRequest>, ApiError>,
) -> ApiResult<(StatusCode, Json<UserJson>)> {
    caller.check(&tenant, Access::Admin)?;
    let Json(body) = body?;
    minutely_core::ident::upn("upn", &upn)?;
    bounded("display_name", &body.display_name)?;
    if upn.trim().is_empty() {
        return Err(ApiError::invalid("upn is empty"));
    }
    let usage_location = body
        .usage_location
        .as_deref()
        .map(|c| parse_country("usage_location", c))
        .transpose()?;
    let policy = body
        .dial_out_policy
        .as_deref()
        .map(|p| parse_policy("dial_out_policy", p))
        .transpose()?;
    let user = UserInput {
        display_name: body.display_name,
        usage_location,
        policy,
        toll_free_dial_in: body.toll_free_dial_in.unwrap_or(true),
    };
    let command = DirectoryCommand::PutUser {
        change: user_change(actor, tenant),
        upn,
        user,
    };
    let view = state
        .writer
        .execute::<UserView>(Command::Directory(command))
        .await?;
    let json = UserJson::of(&view.user, view.effective_policy);
    let status = if view.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(json)))
}

/// A license to assign.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignRequest {
    /// MCOMEETADD, MCOMEETACPEA, MCOPSTNPP or MCOMEETADD_DIALOUT_US.
    pub sku: String,
}

/// Assigns a license to a user. C42 order: `unknown_user`, then C1, C2, then
/// `conflicting_conferencing_licenses`, then the purchased count (`license_limit_exceeded`).
/// Assigning a license the user holds changes nothing.
#[utoipa::path(
    post,
    path = "/v1/tenants/{tenant}/users/{upn}/licenses",
    params(("tenant" = String, Path), ("upn" = String, Path)),
    request_body = AssignRequest,
    responses(
        (status = 200, description = "The user after the change", body = UserJson),
        (status = 400, description = "Not a license", body = crate::app::ErrorBody),
        (status = 404, description = "unknown_tenant or unknown_user", body = crate::app::ErrorBody),
        (status = 422, description = "A C1/C2/C42 refusal; nothing changed", body = crate::app::ErrorBody)
    ),
    tag = "directory",
    security(("key" = []))
)]
pub async fn assign_license(
    State(state): State<AppState>,
    Caller(caller): Caller,
    actor: Actor,
    Path((tenant, upn)): Path<(String, String)>,
    body: Result<Json<AssignRequest>, ApiError>,
) -> ApiResult<Json<UserJson>> {
    caller.check(&tenant, Access::Admin)?;
    let Json(body) = body?;
    minutely_core::ident::upn("upn", &upn)?;
    let sku = parse_sku("sku", &body.sku)?;
    let command = DirectoryCommand::Assign {
        change: user_change(actor, tenant),
        upn,
        sku,
    };
    user_answer(&state, command).await
}

/// Takes a license from a user; not holding it changes nothing.
#[utoipa::path(
    delete,
    path = "/v1/tenants/{tenant}/users/{upn}/licenses/{sku}",
    params(("tenant" = String, Path), ("upn" = String, Path), ("sku" = String, Path)),
    responses(
        (status = 200, description = "The user after the change", body = UserJson),
        (status = 400, description = "Not a license", body = crate::app::ErrorBody),
        (status = 404, description = "unknown_tenant or unknown_user", body = crate::app::ErrorBody)
    ),
    tag = "directory",
    security(("key" = []))
)]
pub async fn unassign_license(
    State(state): State<AppState>,
    Caller(caller): Caller,
    actor: Actor,
    Path((tenant, upn, sku)): Path<(String, String, String)>,
) -> ApiResult<Json<UserJson>> {
    caller.check(&tenant, Access::Admin)?;
    minutely_core::ident::upn("upn", &upn)?;
    let sku = parse_sku("sku", &sku)?;
    let command = DirectoryCommand::Unassign {
        change: user_change(actor, tenant),
        upn,
        sku,
    };
    user_answer(&state, command).await
}

/// Runs a command about one license of a user and answers the user after it.
async fn user_answer(state: &AppState, command: DirectoryCommand) -> ApiResult<Json<UserJson>> {
    let view = state
        .writer
        .execute::<UserView>(Command::Directory(command))
        .await?;
    Ok(Json(UserJson::of(&view.user, view.effective_policy)))
}

/// A change of one of the tenant's users, pictured in its audit rows as the API shows it.
fn user_change(actor: Actor, tenant: String) -> Change {
    Change {
        actor: actor.0,
        tenant,
        picture: user_snapshot,
    }
}
