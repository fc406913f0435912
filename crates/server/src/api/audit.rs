//! The audit log over HTTP: every administrative change (who, what, when, the object before
//! and after), for the operator (every tenant and the operator-wide changes) and for a tenant's
//! admin (its own tenant's changes).
//!
//! The rows and their snapshots are made by the service (`minutely_service::audit`), where the
//! changes are made; a request that changes nothing (applying a file that already matches,
//! revoking a revoked key) records nothing.

use crate::access::Route;
use crate::api::types::{instant, page_limit, paged};
use crate::app::{AppState, Caller, Json, Path, Query, RequestId};
use crate::auth::{Access, Principal};
use crate::error::{ApiError, ApiResult};
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use minutely_core::directory::Tenant;
use minutely_store::{ActorKind, AuditRecord};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

#[derive(OpenApi)]
#[openapi(components(schemas(AuditJson, AuditPage)))]
pub struct Doc;

/// The routes of this module, each with its access class (`crate::access`).
pub fn routes() -> Vec<Route> {
    use crate::access::Policy::*;
    vec![
        Route::documented(Operator, __path_operator_log, operator_log),
        Route::documented(TenantAdmin, __path_tenant_log, tenant_log),
    ]
}

// ---------------------------------------------------------------------------------------------
// Recording
// ---------------------------------------------------------------------------------------------

/// Who is making a change, and in which request (the service's actor), taken from the
/// request's key and id.
#[derive(Debug, Clone)]
pub struct Actor(pub minutely_service::audit::Actor);

impl Actor {
    pub fn new(principal: &Principal, request_id: Option<String>) -> Actor {
        let kind = match principal {
            Principal::Operator { .. } => ActorKind::Operator,
            Principal::TenantAdmin { .. } => ActorKind::TenantAdmin,
            Principal::Bridge { .. } => ActorKind::Bridge,
            Principal::Edge { .. } => ActorKind::Edge,
        };
        Actor(minutely_service::audit::Actor::key(
            kind,
            principal.key_id(),
            request_id,
        ))
    }
}

impl std::ops::Deref for Actor {
    type Target = minutely_service::audit::Actor;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl FromRequestParts<AppState> for Actor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Actor> {
        let Caller(principal) = Caller::from_request_parts(parts, state).await?;
        let request_id = parts.extensions.get::<RequestId>().map(|r| r.0.clone());
        Ok(Actor::new(&principal, request_id))
    }
}

pub use minutely_service::audit::{
    countries_snapshots, funding_snapshots, key_snapshot, rate_card_snapshot, snapshot,
};

// ---------------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------------

/// One administrative change.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditJson {
    /// The row's place in the log: increasing in commit order (the paging cursor).
    pub seq: u64,
    /// When the change was made (RFC 3339, UTC).
    pub at: String,
    /// `operator`, `tenant_admin`, `bridge`, `edge` (keys, through the API) or `cli` (the command line,
    /// on the store).
    pub actor_kind: String,
    /// The id of the key that made the change (the part after `mk_`); null for `cli`.
    pub actor_key_id: Option<String>,
    /// The tenant changed; null for an operator-wide change (catalogue, settings, operator
    /// keys).
    pub tenant: Option<String>,
    /// A stable dotted name: `tenant.create`, `tenant.apply`, `license.set_purchased`,
    /// `license.assign`, `license.unassign`, `user.put`, `number.put`, `policy.default`,
    /// `wallet.setup`, `wallet.auto_recharge`, `wallet.fund`, `countries.replace`,
    /// `rate_card.import`, `settings.set`, `key.create`, `key.revoke`, `webhook.create`,
    /// `webhook.disable`.
    pub action: String,
    /// What was acted on: a tenant id, UPN, license code, number, key or endpoint id, currency.
    pub object: String,
    /// The object before the change; null when it did not exist.
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    /// The object after the change.
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
    /// The `x-request-id` of the request that made the change; null for `cli`.
    pub request_id: Option<String>,
}

impl AuditJson {
    fn new(r: AuditRecord) -> AuditJson {
        let e = r.entry;
        // The schema only accepts JSON in these columns.
        let json = |text: Option<String>| text.and_then(|t| serde_json::from_str(&t).ok());
        AuditJson {
            seq: r.seq,
            at: instant(e.at),
            actor_kind: e.actor_kind.as_str().to_string(),
            actor_key_id: e.actor_key_id,
            tenant: e.tenant,
            action: e.action,
            object: e.object,
            before: json(e.before),
            after: json(e.after),
            request_id: e.request_id,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    /// Oldest first.
    pub entries: Vec<AuditJson>,
    /// The cursor of the next page (pass it as `after`), or null at the end.
    pub next: Option<String>,
}

/// The operator's view: optionally one tenant's rows.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OperatorQuery {
    /// Only this tenant's rows (operator-wide rows are then left out).
    pub tenant: Option<String>,
    /// Items per page (default 100, at most the server's page limit, 1000 by default).
    pub limit: Option<usize>,
    /// The `next` cursor of the previous page (a sequence number; rows after it are listed).
    pub after: Option<String>,
}

/// A page of one tenant's rows.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TenantQuery {
    /// Items per page (default 100, at most the server's page limit, 1000 by default).
    pub limit: Option<usize>,
    /// The `next` cursor of the previous page (a sequence number; rows after it are listed).
    pub after: Option<String>,
}

fn parse_after(after: Option<&str>) -> ApiResult<u64> {
    match after {
        None | Some("") => Ok(0),
        // No sequence number goes past the store's (signed 64-bit): beyond it, nothing follows.
        Some(text) => text
            .trim()
            .parse::<u64>()
            .map(|n| n.min(i64::MAX as u64))
            .map_err(|_| {
                ApiError::invalid(format!(
                    "after: {text:?} is not a cursor (the `next` value of a previous page, a \
                     sequence number)"
                ))
            }),
    }
}

async fn page(
    state: &AppState,
    tenant: Option<String>,
    after: Option<&str>,
    limit: Option<usize>,
) -> ApiResult<AuditPage> {
    let limit = page_limit(limit, state.config.max_page)?;
    let after = parse_after(after)?;
    let rows = state
        .read(move |store| Ok(store.audit_page(tenant.as_deref(), after, limit + 1)?))
        .await?;
    let (rows, next) = paged(rows, limit, |r| r.seq.to_string());
    Ok(AuditPage {
        entries: rows.into_iter().map(AuditJson::new).collect(),
        next,
    })
}

/// Every administrative change (operator only), oldest first, or one tenant's with `tenant`.
#[utoipa::path(
    get,
    path = "/v1/audit",
    params(OperatorQuery),
    responses(
        (status = 200, description = "A page of the audit log", body = AuditPage),
        (status = 400, description = "Bad limit, cursor or tenant", body = crate::app::ErrorBody),
        (status = 401, description = "No or bad key", body = crate::app::ErrorBody),
        (status = 403, description = "Not an operator key", body = crate::app::ErrorBody)
    ),
    tag = "audit",
    security(("key" = []))
)]
pub async fn operator_log(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Query(query): Query<OperatorQuery>,
) -> ApiResult<Json<AuditPage>> {
    caller.operator()?;
    if let Some(tenant) = &query.tenant {
        minutely_core::ident::tenant_id("tenant", tenant)?;
    }
    let page = page(
        &state,
        query.tenant.clone(),
        query.after.as_deref(),
        query.limit,
    )
    .await?;
    Ok(Json(page))
}

/// The administrative changes of one tenant, oldest first: for the operator and the tenant's
/// admin (a bridge key is refused).
#[utoipa::path(
    get,
    path = "/v1/tenants/{tenant}/audit",
    params(("tenant" = String, Path), TenantQuery),
    responses(
        (status = 200, description = "A page of the tenant's audit log", body = AuditPage),
        (status = 400, description = "Bad limit or cursor", body = crate::app::ErrorBody),
        (status = 401, description = "No or bad key", body = crate::app::ErrorBody),
        (status = 403, description = "A bridge key", body = crate::app::ErrorBody),
        (status = 404, description = "unknown_tenant", body = crate::app::ErrorBody)
    ),
    tag = "audit",
    security(("key" = []))
)]
pub async fn tenant_log(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(tenant): Path<String>,
    Query(query): Query<TenantQuery>,
) -> ApiResult<Json<AuditPage>> {
    caller.check(&tenant, Access::Admin)?;
    // The tenant exists (404 otherwise, as for a tenant the caller may not see).
    state.writer.with_book(&tenant, |_| Ok(())).await?;
    let page = page(&state, Some(tenant), query.after.as_deref(), query.limit).await?;
    Ok(Json(page))
}

/// How a change of one tenant's directory is recorded: by whom, under which action, on which
/// object, and how to picture the object (taken before and after the change; `None` when the
/// object does not exist).
pub struct Audited<'a> {
    pub actor: &'a Actor,
    pub action: &'static str,
    pub object: String,
    pub snapshot: &'a dyn Fn(&Tenant) -> Option<String>,
}
