//! Tenants (capability 2): creating one (operator only), listing and reading them, and the
//! declarative tenant file (`minutely apply`) over HTTP.

use crate::access::Route;
use crate::api::audit::{Actor, snapshot};
use crate::api::catalogue::{blocking, raw_body, require_content_type};
use crate::api::directory::{
    CreateTenantRequest, TenantJson, TenantSummaryJson, TenantsPage, parse_tenant_file, tenant_from,
};
use crate::api::types::{PageParams, paged};
use crate::app::{AppState, Caller, Json, Path, Query};
use crate::auth::Access;
use crate::error::{ApiError, ApiResult};
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use minutely_core::directory::Tenant;
use minutely_service::Command;
use minutely_service::commands::directory::DirectoryCommand;
use minutely_service::tenants::TenantApplied;
use serde::Serialize;
use std::ops::Bound;
use utoipa::ToSchema;

/// The routes of this module, each with its access class (`crate::access`).
pub fn routes() -> Vec<Route> {
    use crate::access::Policy::*;
    vec![
        Route::documented(Operator, __path_create_tenant, create_tenant),
        Route::documented(SharedRead, __path_list_tenants, list_tenants),
        Route::documented(TenantAdmin, __path_get_tenant, get_tenant),
        Route::documented(TenantOperator, __path_apply_file, apply_file),
    ]
}

/// Creates a tenant (operator only), with no users, numbers, licenses or wallet. A tenant id
/// already used is 409 `conflict`.
#[utoipa::path(
    post,
    path = "/v1/tenants",
    request_body = CreateTenantRequest,
    responses(
        (status = 201, description = "Created", body = TenantJson),
        (status = 400, description = "A bad field (named)", body = crate::app::ErrorBody),
        (status = 403, description = "Not an operator key", body = crate::app::ErrorBody),
        (status = 409, description = "The id is taken", body = crate::app::ErrorBody),
        (status = 422, description = "invalid_policy", body = crate::app::ErrorBody)
    ),
    tag = "directory",
    security(("key" = []))
)]
pub async fn create_tenant(
    State(state): State<AppState>,
    Caller(caller): Caller,
    actor: Actor,
    body: Result<Json<CreateTenantRequest>, ApiError>,
) -> ApiResult<(StatusCode, Json<TenantJson>)> {
    caller.operator()?;
    let Json(body) = body?;
    let tenant = tenant_from(&body)?;
    let created = state
        .writer
        .execute::<Box<Tenant>>(Command::Directory(DirectoryCommand::CreateTenant {
            actor: actor.0,
            tenant: Box::new(tenant),
            picture: |t, _| Some(snapshot(&TenantJson::new(t))),
        }))
        .await?;
    Ok((StatusCode::CREATED, Json(TenantJson::new(&created))))
}

/// The tenants the key may see: every tenant for an operator key (paged by id), the key's own
/// tenant otherwise.
#[utoipa::path(
    get,
    path = "/v1/tenants",
    params(
        ("limit" = Option<usize>, Query, description = "Items per page (default 100)"),
        ("after" = Option<String>, Query, description = "The `next` cursor of the previous page")
    ),
    responses(
        (status = 200, description = "A page of tenants", body = TenantsPage),
        (status = 400, description = "Bad paging", body = crate::app::ErrorBody)
    ),
    tag = "directory",
    security(("key" = []))
)]
pub async fn list_tenants(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Query(page): Query<PageParams>,
) -> ApiResult<Json<TenantsPage>> {
    let (limit, after) = page.checked(state.config.max_page)?;
    let own = caller.tenant().map(str::to_string);
    if state.cluster.is_some() {
        // A node of several holds only some tenants: the listing is the store's.
        return Ok(Json(stored_tenants(&state, own, after, limit).await?));
    }
    let page = state
        .writer
        .run(move |ctx| {
            if let Some(own) = own {
                let tenants = ctx
                    .books
                    .get(&own)
                    .filter(|_| after.as_deref().is_none_or(|a| a < own.as_str()))
                    .map(|b| TenantSummaryJson::new(&b.tenant))
                    .into_iter()
                    .collect();
                return Ok(TenantsPage {
                    tenants,
                    next: None,
                });
            }
            let start = match &after {
                Some(a) => Bound::Excluded(a.clone()),
                None => Bound::Unbounded,
            };
            let tenants = ctx
                .books
                .range((start, Bound::Unbounded))
                .take(limit + 1)
                .map(|(_, b)| TenantSummaryJson::new(&b.tenant))
                .collect();
            let (tenants, next) = paged(tenants, limit, |t| t.id.clone());
            Ok(TenantsPage { tenants, next })
        })
        .await?;
    Ok(Json(page))
}

/// A page of the stored tenants (a tenant key sees only its own).
async fn stored_tenants(
    state: &AppState,
    own: Option<String>,
    after: Option<String>,
    limit: usize,
) -> ApiResult<TenantsPage> {
    state
        .read(move |store| {
            let rows = match &own {
                Some(own) if after.as_deref().is_none_or(|a| a < own.as_str()) => {
                    store.tenant_row(own)?.into_iter().collect()
                }
                Some(_) => Vec::new(),
                None => store.tenant_rows(after.as_deref(), limit + 1)?,
            };
            let tenants = rows.iter().map(TenantSummaryJson::new).collect();
            let (tenants, next) = paged(tenants, limit, |t| t.id.clone());
            Ok(TenantsPage { tenants, next })
        })
        .await
}

/// A tenant's facts, license counts, wallet set-up flag and default policy.
#[utoipa::path(
    get,
    path = "/v1/tenants/{tenant}",
    params(("tenant" = String, Path)),
    responses(
        (status = 200, description = "The tenant", body = TenantJson),
        (status = 403, description = "A bridge key", body = crate::app::ErrorBody),
        (status = 404, description = "unknown_tenant", body = crate::app::ErrorBody)
    ),
    tag = "directory",
    security(("key" = []))
)]
pub async fn get_tenant(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(tenant): Path<String>,
) -> ApiResult<Json<TenantJson>> {
    caller.check(&tenant, Access::Admin)?;
    let json = state
        .writer
        .with_book(&tenant, |b| Ok(TenantJson::new(&b.tenant)))
        .await?;
    Ok(Json(json))
}

/// What applying a tenant file did.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApplyResponse {
    pub tenant: String,
    /// True when the file created the tenant.
    pub created: bool,
    /// One sentence per change, in the order made; empty when nothing changed.
    pub changes: Vec<String>,
    /// `no changes`, or how many changes were made.
    pub summary: String,
}

/// Applies a tenant file (TOML; operator only), exactly like `minutely apply`: the tenant is
/// created or made to match the file, and the answer lists what changed (`no changes` when it
/// already matched). The file's `id` must be the path's tenant. A refused file names its place
/// (`users[2].licenses[0]`) and changes nothing. Declared fundings are applied once each, by
/// reference.
#[utoipa::path(
    put,
    path = "/v1/tenants/{tenant}/file",
    params(("tenant" = String, Path)),
    request_body(
        content((String = "application/toml"), (String = "text/plain")),
        description = "A tenant file (see examples/tenant.toml)"
    ),
    responses(
        (status = 200, description = "Applied; the changes made", body = ApplyResponse),
        (status = 400, description = "An empty body, or one that is not UTF-8", body = crate::app::ErrorBody),
        (status = 403, description = "Not an operator key", body = crate::app::ErrorBody),
        (status = 415, description = "Not TOML", body = crate::app::ErrorBody),
        (status = 422, description = "Not a tenant file, one of another tenant, or one a charging rule refused (its place named)", body = crate::app::ErrorBody)
    ),
    tag = "directory",
    security(("key" = []))
)]
pub async fn apply_file(
    State(state): State<AppState>,
    Caller(caller): Caller,
    actor: Actor,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<ApplyResponse>> {
    caller.check(&tenant, Access::Operator)?;
    // Operator only, whatever `Access::Operator` may come to allow a tenant admin.
    caller.operator()?;
    require_content_type(&headers, &["application/toml", "text/plain"])?;
    let body = raw_body(body)?;
    let file = blocking(move || Ok(parse_tenant_file(&body)?)).await?;
    if file.tenant_id() != tenant {
        return Err(ApiError::unprocessable(format!(
            "id: the file declares tenant {:?} but the path names {tenant:?}",
            file.tenant_id()
        )));
    }
    let applied = state
        .writer
        .execute::<TenantApplied>(Command::ApplyTenantFile {
            actor: actor.0,
            tenant,
            file: Box::new(file),
        })
        .await?;
    let count = applied.changes.len();
    let summary = match count {
        0 => "no changes".to_string(),
        1 => "1 change".to_string(),
        n => format!("{n} changes"),
    };
    Ok(Json(ApplyResponse {
        tenant: applied.tenant,
        created: applied.created,
        changes: applied.changes,
        summary,
    }))
}
