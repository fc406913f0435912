//! The wallet's set-up: its settings and low-balance thresholds (C3, C15) and auto-recharge
//! (C11, C12, C40).

use crate::access::Route;
use crate::api::audit::{Actor, snapshot};
use crate::api::directory::{AutoRechargeRequest, WalletSettingsRequest};
use crate::api::types::{AutoRechargeJson, thresholds_json};
use crate::app::{AppState, Caller, Json, Path};
use crate::auth::Access;
use crate::error::{ApiError, ApiResult};
use axum::extract::State;
use minutely_core::directory::Tenant;
use minutely_service::Command;
use minutely_service::commands::directory::{Change, DirectoryCommand, WalletView};
use serde::Serialize;
use utoipa::ToSchema;

/// The routes of this module, each with its access class (`crate::access`).
pub fn routes() -> Vec<Route> {
    use crate::access::Policy::*;
    vec![
        Route::documented(TenantAdmin, __path_put_wallet_settings, put_wallet_settings),
        Route::documented(TenantAdmin, __path_put_auto_recharge, put_auto_recharge),
    ]
}

/// The wallet's settings (its balance and lots are read through the wallet routes).
#[derive(Debug, Serialize, ToSchema)]
pub struct WalletSettingsJson {
    pub tenant: String,
    pub currency: String,
    /// Always true here: the wallet is set up.
    pub set_up: bool,
    /// Highest first.
    pub low_balance_thresholds: Vec<String>,
    /// Null when auto-recharge was never configured (or turned off without amounts).
    pub auto_recharge: Option<AutoRechargeJson>,
}

fn wallet_json(t: &Tenant) -> Option<WalletSettingsJson> {
    Some(WalletSettingsJson::new(&WalletView {
        tenant: t.id.clone(),
        currency: t.currency,
        settings: *t.wallet()?,
    }))
}

impl WalletSettingsJson {
    fn new(view: &WalletView) -> WalletSettingsJson {
        let (settings, currency) = (&view.settings, view.currency);
        WalletSettingsJson {
            tenant: view.tenant.clone(),
            currency: currency.code().to_string(),
            set_up: true,
            low_balance_thresholds: thresholds_json(settings, currency),
            auto_recharge: settings
                .auto_recharge
                .map(|r| AutoRechargeJson::new(&r, currency)),
        }
    }
}

/// Sets up the Communications Credits wallet, or changes its low-balance thresholds (C3:
/// `credits_unavailable_in_country`, `credits_unavailable_for_agreement`). The body may be
/// left out.
#[utoipa::path(
    put,
    path = "/v1/tenants/{tenant}/wallet/settings",
    params(("tenant" = String, Path)),
    request_body = Option<WalletSettingsRequest>,
    responses(
        (status = 200, description = "The wallet's settings", body = WalletSettingsJson),
        (status = 400, description = "A bad field (named)", body = crate::app::ErrorBody),
        (status = 404, description = "unknown_tenant", body = crate::app::ErrorBody),
        (status = 422, description = "A C3 refusal; nothing changed", body = crate::app::ErrorBody)
    ),
    tag = "directory",
    security(("key" = []))
)]
pub async fn put_wallet_settings(
    State(state): State<AppState>,
    Caller(caller): Caller,
    actor: Actor,
    Path(tenant): Path<String>,
    body: Result<crate::app::JsonOrEmpty<WalletSettingsRequest>, ApiError>,
) -> ApiResult<Json<WalletSettingsJson>> {
    caller.check(&tenant, Access::Admin)?;
    let crate::app::JsonOrEmpty(body) = body?;
    let thresholds = body.thresholds()?;
    let command = DirectoryCommand::WalletSettings {
        change: wallet_change(actor, tenant),
        thresholds,
    };
    let view = state
        .writer
        .execute::<WalletView>(Command::Directory(command))
        .await?;
    Ok(Json(WalletSettingsJson::new(&view)))
}

/// Changes auto-recharge (C12). C40: the wallet must be set up (`credits_not_set_up`);
/// the trigger then the amount are checked, `amount_below_minimum` before `amount_not_whole`
/// (C11). Changing the settings never triggers a recharge (C34).
#[utoipa::path(
    put,
    path = "/v1/tenants/{tenant}/wallet/auto-recharge",
    params(("tenant" = String, Path)),
    request_body = AutoRechargeRequest,
    responses(
        (status = 200, description = "The wallet's settings", body = WalletSettingsJson),
        (status = 400, description = "A bad field (named)", body = crate::app::ErrorBody),
        (status = 404, description = "unknown_tenant", body = crate::app::ErrorBody),
        (status = 422, description = "credits_not_set_up, amount_below_minimum or amount_not_whole, or only one of trigger and amount (`unprocessable_request`); nothing changed", body = crate::app::ErrorBody)
    ),
    tag = "directory",
    security(("key" = []))
)]
pub async fn put_auto_recharge(
    State(state): State<AppState>,
    Caller(caller): Caller,
    actor: Actor,
    Path(tenant): Path<String>,
    body: Result<Json<AutoRechargeRequest>, ApiError>,
) -> ApiResult<Json<WalletSettingsJson>> {
    caller.check(&tenant, Access::Admin)?;
    let Json(body) = body?;
    let recharge = body.recharge()?;
    let command = DirectoryCommand::AutoRecharge {
        change: wallet_change(actor, tenant),
        recharge,
    };
    let view = state
        .writer
        .execute::<WalletView>(Command::Directory(command))
        .await?;
    Ok(Json(WalletSettingsJson::new(&view)))
}

/// A change of the tenant's wallet settings, pictured in its audit rows as the API shows them.
fn wallet_change(actor: Actor, tenant: String) -> Change {
    Change {
        actor: actor.0,
        tenant,
        picture: |t, _| wallet_json(t).map(|w| snapshot(&w)),
    }
}
