//! Dial-out policies (C16, C41): the list of names (every key) and a tenant's default.

use crate::access::Route;
use crate::api::audit::{Actor, snapshot};
use crate::api::directory::{PolicyJson, parse_policy};
use crate::app::{AppState, Caller, Json, Path};
use crate::auth::Access;
use crate::error::{ApiError, ApiResult};
use axum::extract::State;
use minutely_core::directory::POLICY_NAMES;
use minutely_service::Command;
use minutely_service::commands::directory::{Change, DefaultPolicyView, DirectoryCommand};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The routes of this module, each with its access class (`crate::access`).
pub fn routes() -> Vec<Route> {
    use crate::access::Policy::*;
    vec![
        Route::documented(SharedRead, __path_list_policies, list_policies),
        Route::documented(TenantAdmin, __path_set_default_policy, set_default_policy),
    ]
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PoliciesResponse {
    /// The fixed policy instances of C16 with their conferencing half.
    pub policies: Vec<PolicyJson>,
    /// The bare scope names, accepted as policy names too (`any`, `domestic`, `zone_a`,
    /// `disabled`). Names are case-insensitive and may carry a `tag:` prefix (C41).
    pub scopes: Vec<String>,
}

/// The dial-out policy names of C16 and their conferencing scope.
#[utoipa::path(
    get,
    path = "/v1/policies",
    responses(
        (status = 200, description = "Every policy name", body = PoliciesResponse),
        (status = 401, description = "No valid key", body = crate::app::ErrorBody)
    ),
    tag = "directory",
    security(("key" = []))
)]
pub async fn list_policies(Caller(_caller): Caller) -> Json<PoliciesResponse> {
    Json(PoliciesResponse {
        policies: POLICY_NAMES
            .iter()
            .map(|(name, scope)| PolicyJson {
                name: name.to_string(),
                conferencing_dial_out: scope.as_str().to_string(),
            })
            .collect(),
        scopes: ["any", "domestic", "zone_a", "disabled"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
    })
}

/// A tenant default policy.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DefaultPolicyRequest {
    pub policy: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DefaultPolicyResponse {
    pub tenant: String,
    pub default_dial_out_policy: PolicyJson,
}

/// Sets the policy users without their own follow. An unknown name is `invalid_policy` (C41).
#[utoipa::path(
    put,
    path = "/v1/tenants/{tenant}/default-policy",
    params(("tenant" = String, Path)),
    request_body = DefaultPolicyRequest,
    responses(
        (status = 200, description = "The default policy now", body = DefaultPolicyResponse),
        (status = 404, description = "unknown_tenant", body = crate::app::ErrorBody),
        (status = 422, description = "invalid_policy", body = crate::app::ErrorBody)
    ),
    tag = "directory",
    security(("key" = []))
)]
pub async fn set_default_policy(
    State(state): State<AppState>,
    Caller(caller): Caller,
    actor: Actor,
    Path(tenant): Path<String>,
    body: Result<Json<DefaultPolicyRequest>, ApiError>,
) -> ApiResult<Json<DefaultPolicyResponse>> {
    caller.check(&tenant, Access::Admin)?;
    let Json(body) = body?;
    let policy = parse_policy("policy", &body.policy)?;
    let change = Change {
        actor: actor.0,
        tenant,
        picture: |t, _| Some(snapshot(&PolicyJson::new(t.default_policy))),
    };
    let view = state
        .writer
        .execute::<DefaultPolicyView>(Command::Directory(DirectoryCommand::DefaultPolicy {
            change,
            policy,
        }))
        .await?;
    Ok(Json(DefaultPolicyResponse {
        tenant: view.tenant,
        default_dial_out_policy: PolicyJson::new(view.policy),
    }))
}
