//! A tenant's licenses: purchased counts (operator only: what a tenant has bought is the
//! provider's business) and assigned counts, with C1, C2 and C42.

use crate::access::Route;
use crate::api::audit::{Actor, snapshot};
use crate::api::directory::parse_sku;
use crate::api::types::{instant, parse_optional_instant};
use crate::app::{AppState, Caller, Json, Path};
use crate::auth::Access;
use crate::error::{ApiError, ApiResult};
use axum::extract::State;
use minutely_core::directory::{Sku, Tenant};
use minutely_core::money::MAX_LICENSE_COUNT;
use minutely_service::Command;
use minutely_service::commands::directory::{Change, DirectoryCommand, LicenseView, license_view};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The routes of this module, each with its access class (`crate::access`).
pub fn routes() -> Vec<Route> {
    use crate::access::Policy::*;
    vec![
        Route::documented(TenantAdmin, __path_get_licenses, get_licenses),
        Route::documented(TenantOperator, __path_set_purchased, set_purchased),
    ]
}

/// One purchased count and the instant it takes effect.
#[derive(Debug, Serialize, ToSchema)]
pub struct PurchaseJson {
    /// RFC 3339; `1970-01-01T00:00:00Z` for a count declared "since always".
    pub from: String,
    pub count: u32,
}

/// One license product of the tenant.
#[derive(Debug, Serialize, ToSchema)]
pub struct LicenseJson {
    pub sku: String,
    /// The latest purchased count.
    pub purchased: u32,
    pub assigned: u32,
    /// Every change of the purchased count, oldest first (the pool uses the count in force at
    /// a call's start, C20).
    pub history: Vec<PurchaseJson>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LicensesResponse {
    pub tenant: String,
    pub licenses: Vec<LicenseJson>,
}

fn license_json(t: &Tenant, sku: Sku) -> LicenseJson {
    LicenseJson::new(&license_view(t, sku))
}

impl LicenseJson {
    fn new(view: &LicenseView) -> LicenseJson {
        LicenseJson {
            sku: view.sku.code().to_string(),
            purchased: view.purchased,
            assigned: view.assigned,
            history: view
                .history
                .iter()
                .map(|&(from, count)| PurchaseJson {
                    from: instant(from),
                    count,
                })
                .collect(),
        }
    }
}

/// Purchased (current count and history) and assigned counts per license.
#[utoipa::path(
    get,
    path = "/v1/tenants/{tenant}/licenses",
    params(("tenant" = String, Path)),
    responses(
        (status = 200, description = "Every license product", body = LicensesResponse),
        (status = 404, description = "unknown_tenant", body = crate::app::ErrorBody)
    ),
    tag = "directory",
    security(("key" = []))
)]
pub async fn get_licenses(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(tenant): Path<String>,
) -> ApiResult<Json<LicensesResponse>> {
    caller.check(&tenant, Access::Admin)?;
    let json = state
        .writer
        .with_book(&tenant, |b| {
            Ok(LicensesResponse {
                tenant: b.tenant.id.clone(),
                licenses: Sku::ALL
                    .iter()
                    .map(|&sku| license_json(&b.tenant, sku))
                    .collect(),
            })
        })
        .await?;
    Ok(Json(json))
}

/// A purchased count.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPurchasedRequest {
    #[serde(deserialize_with = "crate::api::types::whole")]
    pub count: u32,
    /// When the count takes effect (RFC 3339); the server's clock when absent.
    pub from: Option<String>,
}

/// Sets the purchased count of a license from an instant (operator only: what a tenant has
/// bought is the provider's record). C42 order: `ppm_requires_volume_licensing` (C1), then
/// `country_ppm_only` / `country_not_supported` (C2), then a count below what is assigned
/// (`license_limit_exceeded`).
#[utoipa::path(
    put,
    path = "/v1/tenants/{tenant}/licenses/{sku}",
    params(("tenant" = String, Path), ("sku" = String, Path, description = "MCOMEETADD, MCOMEETACPEA, MCOPSTNPP or MCOMEETADD_DIALOUT_US")),
    request_body = SetPurchasedRequest,
    responses(
        (status = 200, description = "The license after the change", body = LicenseJson),
        (status = 400, description = "A bad field (named)", body = crate::app::ErrorBody),
        (status = 403, description = "Not an operator key", body = crate::app::ErrorBody),
        (status = 404, description = "unknown_tenant", body = crate::app::ErrorBody),
        (status = 422, description = "A C1/C2/C42 refusal; nothing changed", body = crate::app::ErrorBody)
    ),
    tag = "directory",
    security(("key" = []))
)]
pub async fn set_purchased(
    State(state): State<AppState>,
    Caller(caller): Caller,
    actor: Actor,
    Path((tenant, sku)): Path<(String, String)>,
    body: Result<Json<SetPurchasedRequest>, ApiError>,
) -> ApiResult<Json<LicenseJson>> {
    caller.check(&tenant, Access::Operator)?;
    // Operator only, whatever `Access::Operator` may come to allow a tenant admin.
    caller.operator()?;
    let Json(body) = body?;
    let sku = parse_sku("sku", &sku)?;
    if body.count > MAX_LICENSE_COUNT {
        return Err(ApiError::invalid(format!(
            "count {} is above the largest accepted count {MAX_LICENSE_COUNT}",
            body.count
        )));
    }
    let from = parse_optional_instant("from", body.from.as_deref())?;
    let change = Change {
        actor: actor.0,
        tenant,
        picture: |t, key| Sku::parse(key).map(|sku| snapshot(&license_json(t, sku))),
    };
    let view = state
        .writer
        .execute::<LicenseView>(Command::Directory(DirectoryCommand::SetPurchased {
            change,
            sku,
            count: body.count,
            from,
        }))
        .await?;
    Ok(Json(LicenseJson::new(&view)))
}
