//! The SIP edge's routes (`/v1/edge`): what a proxy in the call path needs and a tenant's
//! routes cannot give it, since a proxy sees a call before it knows whose it is. An INVITE to
//! a dial-in number is authorized without a tenant in the path (the number's owner is found
//! through the store's index of service numbers by number), and a number's owner can be looked
//! up. Only the operator and edge keys may use them. The authorization is the tenant route's
//! command (`ControlCommand::Authorize`), not a copy of it.

use crate::access::Route;
use crate::api::control::{AuthorizeResponse, authorize_json, authorize_step};
use crate::app::{AppState, Caller, Json, Path};
use crate::auth::Access;
use crate::error::{ApiError, ApiResult};
use axum::extract::State;
use axum::http::StatusCode;
use minutely_core::Reason;
use minutely_core::directory::ServiceNumber;
use minutely_core::ident;
use minutely_core::numbers::E164;
use minutely_core::rating::Direction;
use minutely_service::Command;
use minutely_service::commands::control::{self as ctl, Authorized};
use minutely_service::input::control::AuthorizeRequest;
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

#[derive(OpenApi)]
#[openapi(components(schemas(EdgeAuthorizeResponse, EdgeNumberJson)))]
pub struct Doc;

/// The routes of this module, each with its access class (`crate::access`).
pub fn routes() -> Vec<Route> {
    use crate::access::Policy::*;
    vec![
        Route::documented(Edge, __path_edge_authorize, edge_authorize),
        Route::documented(Edge, __path_edge_number, edge_number),
    ]
}

/// The tenant route's answer, with the tenant the call was authorized in.
#[derive(Debug, Serialize, ToSchema)]
pub struct EdgeAuthorizeResponse {
    pub tenant: String,
    #[serde(flatten)]
    pub authorize: AuthorizeResponse,
}

/// A service number and the tenant that owns it.
#[derive(Debug, Serialize, ToSchema)]
pub struct EdgeNumberJson {
    /// E.164, normalised (`+` then digits).
    pub number: String,
    pub tenant: String,
    /// `toll` or `toll_free`.
    pub kind: String,
    /// The number's country (ISO 3166-1 alpha-2).
    pub country: String,
}

/// `number` normalised (C8), or `invalid_number` naming the field.
fn parse_number(field: &str, number: &str) -> ApiResult<E164> {
    minutely_service::input::bounded(field, number)?;
    E164::parse(number).ok_or_else(|| {
        ApiError::reason(
            Reason::InvalidNumber,
            format!("{field}: {number:?} is not an E.164 number (+ then digits)"),
        )
    })
}

/// The one tenant that owns `number`: `unknown_service_number` (404) when none does,
/// `service_number_shared` (409) when several share it (the edge must then name the tenant).
async fn owner_of(state: &AppState, number: E164) -> ApiResult<(String, ServiceNumber)> {
    let mut owners = state
        .read(move |store| Ok(store.number_owners(&number)?))
        .await?;
    match owners.len() {
        0 => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            Reason::UnknownServiceNumber.code(),
            format!("service number {number} belongs to no tenant"),
        )),
        1 => Ok(owners.remove(0)),
        _ => Err(ApiError::new(
            StatusCode::CONFLICT,
            "service_number_shared",
            format!("service number {number} is shared by several tenants; name the tenant"),
        )),
    }
}

/// The tenant of an edge authorization: the one given, or the owner of a dial-in's number.
async fn tenant_of(
    state: &AppState,
    given: Option<String>,
    body: &AuthorizeRequest,
) -> ApiResult<String> {
    if let Some(tenant) = given {
        ident::tenant_id("tenant", &tenant)?;
        return Ok(tenant);
    }
    let (direction, _) = body.check()?;
    if direction != Direction::DialIn {
        return Err(ApiError::unprocessable(
            "tenant: a dial_out is authorized in the tenant named by `tenant`; give it",
        ));
    }
    let number = parse_number("service_number", &body.service_number)?;
    Ok(owner_of(state, number).await?.0)
}

/// C25 for the SIP edge: allow or deny a call about to connect, in the tenant given or, for a
/// dial-in without one, the tenant that owns `service_number`. The same command as
/// `POST /v1/tenants/{tenant}/calls/{call_id}/authorize`, whose answer it gives, with the
/// tenant.
#[utoipa::path(
    post,
    path = "/v1/edge/calls/{call_id}/authorize",
    params(("call_id" = String, Path)),
    request_body = AuthorizeRequest,
    responses(
        (status = 200, description = "Allowed or denied with a reason code, and the tenant", body = EdgeAuthorizeResponse),
        (status = 403, description = "Neither an operator nor an edge key", body = crate::app::ErrorBody),
        (status = 404, description = "Unknown tenant, or a dial-in number no tenant owns (`unknown_service_number`)", body = crate::app::ErrorBody),
        (status = 409, description = "A dial-in number several tenants share, without `tenant` (`service_number_shared`)", body = crate::app::ErrorBody),
        (status = 422, description = "A dial-out without `tenant`, a `service_number` that is not E.164 (`invalid_number`), or `start` more than an hour from the server's clock (`unprocessable_request`)", body = crate::app::ErrorBody)
    ),
    tag = "edge",
    security(("key" = []))
)]
pub async fn edge_authorize(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(call_id): Path<String>,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
    Json(body): Json<AuthorizeRequest>,
) -> ApiResult<axum::response::Response> {
    caller.edge()?;
    let tenant = tenant_of(&state, body.tenant.clone(), &body).await?;
    caller.check(&tenant, Access::Control)?;
    use axum::response::IntoResponse;
    match owner(&state, &tenant, uri.path(), &headers, &body).await? {
        Some(answer) => Ok(answer),
        None => Ok(authorize_here(&state, tenant, call_id, body)
            .await?
            .into_response()),
    }
}

/// On a node of several, the answer of the node that holds `tenant` (the request forwarded,
/// with the tenant named so that the owner does not look the number up again), or 503 while
/// it moves; `None` when it is served here.
async fn owner(
    state: &AppState,
    tenant: &str,
    path: &str,
    headers: &axum::http::HeaderMap,
    body: &AuthorizeRequest,
) -> ApiResult<Option<axum::response::Response>> {
    use minutely_service::cluster::Route as Owner;
    let Some(cluster) = &state.cluster else {
        return Ok(None);
    };
    match cluster.route(tenant, false).await {
        Owner::Local => Ok(None),
        Owner::Moving(why) => Ok(Some(crate::cluster::try_again(why))),
        Owner::Remote { .. } if headers.contains_key(crate::cluster::FORWARDED) => {
            Ok(Some(crate::cluster::try_again(format!(
                "tenant {tenant} is held by another node; try again"
            ))))
        }
        Owner::Remote { node, address } => {
            let mut named = serde_json::to_value(body).map_err(ApiError::internal)?;
            named["tenant"] = serde_json::Value::String(tenant.to_string());
            let bytes = serde_json::to_vec(&named).map_err(ApiError::internal)?;
            let method = axum::http::Method::POST;
            let answer = crate::cluster::forward(
                state,
                &node,
                &address,
                method,
                path,
                headers,
                bytes.into(),
            );
            Ok(Some(answer.await))
        }
    }
}

/// The authorization in this node's writer.
async fn authorize_here(
    state: &AppState,
    tenant: String,
    call_id: String,
    body: AuthorizeRequest,
) -> ApiResult<Json<EdgeAuthorizeResponse>> {
    let step = authorize_step(&tenant, call_id, body)?;
    let answer: Authorized = state
        .writer
        .execute(Command::Control(ctl::ControlCommand::Authorize {
            tenant: tenant.clone(),
            step,
        }))
        .await?;
    Ok(Json(EdgeAuthorizeResponse {
        tenant,
        authorize: authorize_json(answer),
    }))
}

/// Whose service number is this: the tenant that owns `number` (spaces, dashes and dots are
/// accepted, C8), its kind and country. An index look-up, whatever the count of tenants.
#[utoipa::path(
    get,
    path = "/v1/edge/numbers/{number}",
    params(("number" = String, Path, description = "E.164, such as `+33142685300`")),
    responses(
        (status = 200, description = "The number and its tenant", body = EdgeNumberJson),
        (status = 403, description = "Neither an operator nor an edge key", body = crate::app::ErrorBody),
        (status = 404, description = "No tenant owns the number (`unknown_service_number`)", body = crate::app::ErrorBody),
        (status = 409, description = "Several tenants share the number (`service_number_shared`)", body = crate::app::ErrorBody),
        (status = 422, description = "Not an E.164 number (`invalid_number`)", body = crate::app::ErrorBody)
    ),
    tag = "edge",
    security(("key" = []))
)]
pub async fn edge_number(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(number): Path<String>,
) -> ApiResult<Json<EdgeNumberJson>> {
    caller.edge()?;
    let number = parse_number("number", &number)?;
    let (tenant, n) = owner_of(&state, number).await?;
    Ok(Json(EdgeNumberJson {
        number: n.number.to_string(),
        tenant,
        kind: n.kind.as_str().to_string(),
        country: n.country.as_str().to_string(),
    }))
}
