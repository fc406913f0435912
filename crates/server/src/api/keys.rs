//! API keys, for the operator: create (the key text is shown once), list (never a digest or a
//! secret), revoke. A key created or revoked here works, or stops working, in this server at
//! once; keys created or revoked from the command line are seen within a second (the key cache
//! is refreshed from the store every second).

use crate::access::Route;
use crate::api::audit::Actor;
use crate::api::types::{MAX_FIELD, PageParams, bounded, instant, page_after_id};
use crate::app::{AppState, Caller, Json, Path, Query};
use crate::auth::KeyKind;
use crate::error::{ApiError, ApiResult};
use axum::extract::State;
use axum::http::StatusCode;
use minutely_service::Command;
use minutely_service::keys::{LastOperator, Revoked};
use minutely_store::ApiKey;
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

#[derive(OpenApi)]
#[openapi(components(schemas(CreateKeyRequest, KeyJson, CreatedKeyJson, KeyList)))]
pub struct Doc;

/// The routes of this module, each with its access class (`crate::access`).
pub fn routes() -> Vec<Route> {
    use crate::access::Policy::*;
    vec![
        Route::documented(Operator, __path_list, list),
        Route::documented(Operator, __path_create, create),
        Route::documented(Operator, __path_revoke, revoke),
    ]
}

/// A new key.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyRequest {
    /// `operator`, `tenant_admin`, `bridge` or `edge` (the SIP proxy: call control for every
    /// tenant, nothing else).
    pub kind: String,
    /// The tenant a `tenant_admin` or `bridge` key acts for (required for them, refused for an
    /// `operator` or `edge` key).
    pub tenant: Option<String>,
    /// Who holds the key, for people reading the list (at most 256 bytes).
    #[serde(default)]
    pub label: String,
}

/// A key as listed: never its secret or digest.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyJson {
    pub id: String,
    /// `operator`, `tenant_admin`, `bridge` or `edge`.
    pub kind: String,
    pub tenant: Option<String>,
    pub label: String,
    pub created_at: String,
    /// When the key stopped working; null for a live key.
    pub revoked_at: Option<String>,
}

impl KeyJson {
    fn new(k: &ApiKey) -> KeyJson {
        KeyJson {
            id: k.id.clone(),
            kind: k.kind.clone(),
            tenant: k.tenant.clone(),
            label: k.label.clone(),
            created_at: instant(k.created_at),
            revoked_at: k.revoked_at.map(instant),
        }
    }
}

/// A new key with its text, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedKeyJson {
    pub id: String,
    pub kind: String,
    pub tenant: Option<String>,
    pub label: String,
    pub created_at: String,
    /// The whole key (`mk_<id>_<secret>`), for `Authorization: Bearer <key>`. Only its digest
    /// is stored: it cannot be shown again.
    pub key: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyList {
    /// Revoked keys included, oldest first.
    pub keys: Vec<KeyJson>,
    /// The cursor of the next page (`after`), or null on the last page.
    pub next: Option<String>,
}

/// Checks kind, tenant and label together, naming the field at fault.
fn parse_request(body: &CreateKeyRequest) -> ApiResult<(KeyKind, Option<String>)> {
    let kind = KeyKind::parse(&body.kind).ok_or_else(|| {
        ApiError::invalid(format!(
            "kind: {:?} is not a key kind (operator, tenant_admin, bridge or edge)",
            body.kind
        ))
    })?;
    bounded("label", &body.label)?;
    let tenant = match (kind.has_tenant(), &body.tenant) {
        (false, Some(t)) => {
            return Err(ApiError::unprocessable(format!(
                "tenant: an {} key acts for every tenant; leave tenant out (got {t:?})",
                kind.as_str()
            )));
        }
        (false, None) => None,
        (_, None) => {
            return Err(ApiError::unprocessable(format!(
                "tenant: a {} key needs the tenant it acts for",
                kind.as_str()
            )));
        }
        (_, Some(t)) => Some(minutely_core::ident::tenant_id("tenant", t)?.to_string()),
    };
    Ok((kind, tenant))
}

/// Creates a key. The answer holds the key text, which is never shown again.
#[utoipa::path(
    post,
    path = "/v1/keys",
    request_body = CreateKeyRequest,
    responses(
        (status = 201, description = "Created; the key is shown only now", body = CreatedKeyJson),
        (status = 400, description = "Bad kind, tenant or label", body = crate::app::ErrorBody),
        (status = 403, description = "Not an operator key", body = crate::app::ErrorBody),
        (status = 404, description = "Unknown tenant", body = crate::app::ErrorBody),
        (status = 422, description = "A tenant given for an operator or edge key, or none for a tenant admin or bridge key (`unprocessable_request`)", body = crate::app::ErrorBody)
    ),
    tag = "keys",
    security(("key" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    Caller(caller): Caller,
    actor: Actor,
    Json(body): Json<CreateKeyRequest>,
) -> ApiResult<(StatusCode, Json<CreatedKeyJson>)> {
    caller.operator()?;
    let (kind, tenant) = parse_request(&body)?;
    let secret = *state.keys.secret();
    let label = body.label;
    let (record, text): (ApiKey, String) = state
        .writer
        .execute(Command::CreateKey {
            actor: actor.0,
            secret,
            kind,
            tenant,
            label,
        })
        .await?;
    state.keys.upsert(record.clone());
    tracing::info!(key = %record.id, kind = %record.kind, by = %caller.key_id(), "key created");
    Ok((
        StatusCode::CREATED,
        Json(CreatedKeyJson {
            id: record.id,
            kind: record.kind,
            tenant: record.tenant,
            label: record.label,
            created_at: instant(record.created_at),
            key: text,
        }),
    ))
}

/// Every key, revoked ones included, oldest first.
#[utoipa::path(
    get,
    path = "/v1/keys",
    params(PageParams),
    responses(
        (status = 200, description = "Keys (never their secrets)", body = KeyList),
        (status = 403, description = "Not an operator key", body = crate::app::ErrorBody)
    ),
    tag = "keys",
    security(("key" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Query(page): Query<PageParams>,
) -> ApiResult<Json<KeyList>> {
    caller.operator()?;
    let (limit, after) = page.checked(state.config.max_page)?;
    let all = state.read(|store| Ok(store.keys()?)).await?;
    let (shown, next) = page_after_id(&all, after.as_deref(), limit, |k| &k.id, "a key")?;
    Ok(Json(KeyList {
        keys: shown.iter().map(KeyJson::new).collect(),
        next,
    }))
}

/// Revokes a key: it stops working in this server at once. Revoking a revoked key changes
/// nothing. The last live operator key cannot be revoked here (create another first; the
/// command line can always make one).
#[utoipa::path(
    delete,
    path = "/v1/keys/{id}",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "Revoked", body = KeyJson),
        (status = 403, description = "Not an operator key", body = crate::app::ErrorBody),
        (status = 404, description = "Unknown key", body = crate::app::ErrorBody),
        (status = 409, description = "The last live operator key", body = crate::app::ErrorBody)
    ),
    tag = "keys",
    security(("key" = []))
)]
pub async fn revoke(
    State(state): State<AppState>,
    Caller(caller): Caller,
    actor: Actor,
    Path(id): Path<String>,
) -> ApiResult<Json<KeyJson>> {
    caller.operator()?;
    if id.len() > MAX_FIELD {
        return Err(ApiError::not_found("no such key"));
    }
    let revoked: Revoked = state
        .writer
        .execute(Command::RevokeKey {
            actor: actor.0,
            id,
            last: LastOperator::Keep,
        })
        .await?;
    let record = match revoked {
        Revoked::Now(record) | Revoked::Already(record) => record,
    };
    state.keys.upsert(record.clone());
    tracing::info!(key = %record.id, by = %caller.key_id(), "key revoked");
    Ok(Json(KeyJson::new(&record)))
}
