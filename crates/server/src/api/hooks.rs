//! Webhook endpoints (C15): a tenant admin registers the URLs its events are sent to, lists and
//! disables them, and reads the delivery log. The delivery itself and the signature scheme are
//! in `crate::webhooks`.

use crate::access::Route;
use crate::api::audit::{Actor, snapshot};
use crate::api::types::{PageParams, instant, page_after_id, page_limit};
use crate::app::{AppState, Caller, Json, Path, Query};
use crate::auth::{Access, random_bytes};
use crate::error::{ApiError, ApiResult};
use crate::webhooks::{WebhookAllow, egress};
use axum::extract::State;
use axum::http::StatusCode;
use minutely_service::Command;
use minutely_service::commands::webhooks::{WebhookAnswer, WebhookCommand};
pub use minutely_service::input::hooks::{CreateEndpointRequest, MAX_URL_BYTES, parse_url};
use minutely_store::{Delivery, WebhookEndpoint};
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv6Addr};
use utoipa::{OpenApi, ToSchema};

#[derive(OpenApi)]
#[openapi(components(schemas(
    CreateEndpointRequest,
    EndpointJson,
    CreatedEndpointJson,
    EndpointList,
    DeliveryJson,
    DeliveryList
)))]
pub struct Doc;

/// The routes of this module, each with its access class (`crate::access`).
pub fn routes() -> Vec<Route> {
    use crate::access::Policy::*;
    vec![
        Route::documented(TenantAdmin, __path_list, list),
        Route::documented(TenantAdmin, __path_create, create),
        Route::documented(TenantAdmin, __path_disable, disable),
        Route::documented(TenantAdmin, __path_deliveries, deliveries),
    ]
}

/// Enabled endpoints one tenant may have at once.
pub const MAX_ENDPOINTS: usize = 20;

/// An endpoint (its secret is never shown again after creation).
#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointJson {
    pub id: String,
    pub tenant: String,
    pub url: String,
    pub created_at: String,
    /// False once disabled: nothing more is sent to it.
    pub enabled: bool,
    pub disabled_at: Option<String>,
    /// The last event sequence of the tenant done for this endpoint (delivered or given up).
    pub delivered_through: u64,
}

impl EndpointJson {
    fn new(e: &WebhookEndpoint) -> EndpointJson {
        EndpointJson {
            id: e.id.clone(),
            tenant: e.tenant.clone(),
            url: e.url.clone(),
            created_at: instant(e.created_at),
            enabled: e.disabled_at.is_none(),
            disabled_at: e.disabled_at.map(instant),
            delivered_through: e.delivered_through,
        }
    }
}

/// A new endpoint with its signing secret, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedEndpointJson {
    pub id: String,
    pub tenant: String,
    pub url: String,
    pub created_at: String,
    pub enabled: bool,
    /// The HMAC-SHA256 key of the `minutely-signature` header (its ASCII bytes are the key).
    /// Shown only in this answer: keep it now.
    pub secret: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointList {
    pub endpoints: Vec<EndpointJson>,
    /// The cursor of the next page (`after`), or null on the last page.
    pub next: Option<String>,
}

/// One delivery attempt.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryJson {
    /// The `id` of the event as sent.
    pub event_id: String,
    pub event_sequence: u64,
    /// From 1.
    pub attempt: u32,
    pub at: String,
    /// `delivered`, `failed` (retried later) or `gave_up` (the last attempt failed).
    pub outcome: String,
    /// The endpoint's HTTP status, when it answered.
    pub http_status: Option<u16>,
    /// What went wrong, when something did.
    pub error: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryList {
    /// Newest first.
    pub deliveries: Vec<DeliveryJson>,
}

/// `?limit=` of the delivery log.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LimitParams {
    /// Attempts to show (default 100, at most the server's page limit, 1000 by default).
    pub limit: Option<usize>,
}

/// Checks a webhook URL, naming what is wrong with it; `allow` is the operator's allowance of
/// internal networks and host names.
pub fn check_url(text: &str, allow: &WebhookAllow) -> ApiResult<String> {
    let url = parse_url(text)?;
    let host = url.host_str().unwrap_or_default();
    let refused = |ip: &dyn std::fmt::Display, what: &str| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "webhook_address_refused",
            format!(
                "url {text:?}: its host is {ip}, {what}; webhooks go only to public addresses \
                 unless the operator allows the network"
            ),
        )
    };
    if let Some((ip, what)) = egress::check_literal(&url, allow) {
        return Err(refused(&ip, what));
    }
    // `localhost` names are loopback whatever the DNS says (RFC 6761); any other name is
    // checked at each delivery against the addresses it resolves to then.
    let loopback = [
        IpAddr::from([127, 0, 0, 1]),
        IpAddr::from(Ipv6Addr::LOCALHOST),
    ];
    if egress::is_localhost_name(host)
        && !allow.permits_host(host)
        && !loopback.iter().any(|ip| allow.permits_ip(*ip))
    {
        return Err(refused(&host, "a loopback name"));
    }
    Ok(text.to_string())
}

/// The tenant exists (404 `unknown_tenant` otherwise, as for a tenant the caller may not see).
async fn known_tenant(state: &AppState, tenant: &str) -> ApiResult<()> {
    state.writer.with_book(tenant, |_| Ok(())).await
}

/// The tenant's endpoint `id`, disabled or not; 404 for an id of another tenant.
async fn endpoint_of(state: &AppState, tenant: &str, id: &str) -> ApiResult<WebhookEndpoint> {
    let (tenant, id) = (tenant.to_string(), id.to_string());
    let missing = ApiError::not_found(format!("no webhook endpoint {id:?} for tenant {tenant:?}"));
    state
        .read(move |store| Ok(store.endpoints(Some(&tenant))?))
        .await?
        .into_iter()
        .find(|e| e.id == id)
        .ok_or(missing)
}

/// An endpoint as its audit rows picture it: never its secret, nor the delivery progress
/// (which moves by itself).
fn endpoint_snapshot(e: &WebhookEndpoint) -> String {
    snapshot(&serde_json::json!({
        "id": e.id,
        "url": e.url,
        "created_at": instant(e.created_at),
        "enabled": e.disabled_at.is_none(),
        "disabled_at": e.disabled_at.map(instant),
    }))
}

/// Registers an endpoint: the tenant's events raised from now on are POSTed to it, signed with
/// the secret returned (once) in the answer.
///
/// Accepted URLs: `http` or `https`, at most 2048 bytes, with a public host. A host that is an
/// IP address in a refused range (loopback, private, shared 100.64/10, link-local including
/// 169.254.169.254, unique-local, multicast, unspecified, broadcast, documentation or reserved,
/// in any spelling such as `2130706433` or `[::ffff:127.0.0.1]`), or a `localhost` name, is
/// refused with 400 `webhook_address_refused` and nothing is saved, unless the operator allows
/// that network or name. A host name is resolved at each delivery and only its public addresses
/// are connected to; when it has none, the attempt fails with the error `refused address`.
/// Redirects are never followed.
#[utoipa::path(
    post,
    path = "/v1/tenants/{tenant}/webhooks",
    params(("tenant" = String, Path)),
    request_body = CreateEndpointRequest,
    responses(
        (status = 201, description = "Created; the secret is shown only now", body = CreatedEndpointJson),
        (status = 400, description = "Bad URL (`invalid_request`), or a host at an internal or reserved address (`webhook_address_refused`)", body = crate::app::ErrorBody),
        (status = 404, description = "Unknown tenant", body = crate::app::ErrorBody),
        (status = 409, description = "Too many enabled endpoints", body = crate::app::ErrorBody)
    ),
    tag = "webhooks",
    security(("key" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    Caller(caller): Caller,
    actor: Actor,
    Path(tenant): Path<String>,
    Json(body): Json<CreateEndpointRequest>,
) -> ApiResult<(StatusCode, Json<CreatedEndpointJson>)> {
    caller.check(&tenant, Access::Admin)?;
    let url = check_url(&body.url, &state.config.webhook_allow)?;
    let endpoint = WebhookEndpoint {
        id: format!("wh_{}", hex::encode(random_bytes::<8>())),
        tenant: tenant.clone(),
        url,
        secret: hex::encode(random_bytes::<32>()),
        created_at: state.now(),
        disabled_at: None,
        delivered_through: 0,
    };
    let command = WebhookCommand::Create {
        actor: actor.0,
        endpoint: Box::new(endpoint.clone()),
        limit: MAX_ENDPOINTS,
        picture: endpoint_snapshot,
    };
    state
        .writer
        .execute::<WebhookAnswer>(Command::Webhook(command))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedEndpointJson {
            id: endpoint.id,
            tenant: endpoint.tenant,
            url: endpoint.url,
            created_at: instant(endpoint.created_at),
            enabled: true,
            secret: endpoint.secret,
        }),
    ))
}

/// The tenant's endpoints, disabled ones included, oldest first; secrets are never shown.
#[utoipa::path(
    get,
    path = "/v1/tenants/{tenant}/webhooks",
    params(("tenant" = String, Path), PageParams),
    responses(
        (status = 200, description = "Endpoints", body = EndpointList),
        (status = 404, description = "Unknown tenant", body = crate::app::ErrorBody)
    ),
    tag = "webhooks",
    security(("key" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(tenant): Path<String>,
    Query(page): Query<PageParams>,
) -> ApiResult<Json<EndpointList>> {
    caller.check(&tenant, Access::Admin)?;
    let limit = page.limit(state.config.max_page)?;
    known_tenant(&state, &tenant).await?;
    let all = state
        .read(move |store| Ok(store.endpoints(Some(&tenant))?))
        .await?;
    let (shown, next) =
        page_after_id(&all, page.after.as_deref(), limit, |e| &e.id, "an endpoint")?;
    Ok(Json(EndpointList {
        endpoints: shown.iter().map(EndpointJson::new).collect(),
        next,
    }))
}

/// Disables an endpoint: nothing more is sent to it (an attempt in flight finishes). Disabling
/// a disabled endpoint changes nothing.
#[utoipa::path(
    delete,
    path = "/v1/tenants/{tenant}/webhooks/{id}",
    params(("tenant" = String, Path), ("id" = String, Path)),
    responses(
        (status = 200, description = "Disabled", body = EndpointJson),
        (status = 404, description = "Unknown tenant or endpoint", body = crate::app::ErrorBody)
    ),
    tag = "webhooks",
    security(("key" = []))
)]
pub async fn disable(
    State(state): State<AppState>,
    Caller(caller): Caller,
    actor: Actor,
    Path((tenant, id)): Path<(String, String)>,
) -> ApiResult<Json<EndpointJson>> {
    caller.check(&tenant, Access::Admin)?;
    known_tenant(&state, &tenant).await?;
    let endpoint = endpoint_of(&state, &tenant, &id).await?;
    if endpoint.disabled_at.is_some() {
        return Ok(Json(EndpointJson::new(&endpoint)));
    }
    let command = WebhookCommand::Disable {
        actor: actor.0,
        endpoint: Box::new(endpoint.clone()),
        at: state.now(),
        picture: endpoint_snapshot,
    };
    state
        .writer
        .execute::<WebhookAnswer>(Command::Webhook(command))
        .await?;
    let endpoint = endpoint_of(&state, &tenant, &endpoint.id).await?;
    Ok(Json(EndpointJson::new(&endpoint)))
}

/// The delivery log of an endpoint: every attempt, newest first; 404 once the endpoint is
/// deleted.
#[utoipa::path(
    get,
    path = "/v1/tenants/{tenant}/webhooks/{id}/deliveries",
    params(("tenant" = String, Path), ("id" = String, Path), LimitParams),
    responses(
        (status = 200, description = "Attempts, newest first", body = DeliveryList),
        (status = 404, description = "Unknown tenant or endpoint", body = crate::app::ErrorBody)
    ),
    tag = "webhooks",
    security(("key" = []))
)]
pub async fn deliveries(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((tenant, id)): Path<(String, String)>,
    Query(params): Query<LimitParams>,
) -> ApiResult<Json<DeliveryList>> {
    caller.check(&tenant, Access::Admin)?;
    let limit = page_limit(params.limit, state.config.max_page)?;
    known_tenant(&state, &tenant).await?;
    let endpoint = endpoint_of(&state, &tenant, &id).await?;
    // A deleted (disabled) endpoint is gone, with its log.
    if endpoint.disabled_at.is_some() {
        return Err(ApiError::not_found(format!(
            "webhook endpoint {id:?} of tenant {tenant:?} was deleted"
        )));
    }
    let rows = state
        .read(move |store| Ok(store.deliveries(&endpoint.id, limit)?))
        .await?;
    Ok(Json(DeliveryList {
        deliveries: rows
            .iter()
            .map(|d: &Delivery| DeliveryJson {
                event_id: crate::webhooks::event_id(&tenant, d.event_seq),
                event_sequence: d.event_seq,
                attempt: d.attempt,
                at: instant(d.at),
                outcome: d.outcome.clone(),
                http_status: d.http_status,
                error: d.error.clone(),
            })
            .collect(),
    }))
}
