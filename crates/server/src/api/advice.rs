//! The plan advisor and the operator's license prices.
//!
//! `PUT /v1/license-prices/{currency}` sets the monthly price of each license in a currency
//! (operator only; the body replaces that currency's prices whole); `GET /v1/license-prices`
//! lists them (any key, like the rest of the catalogue). `GET /v1/tenants/{tenant}/advice`
//! re-rates the tenant's charged calls of whole past months under every organizer
//! pay-per-minute, every organizer on the subscription with the shared pool (C20, C21), and
//! the cheapest assignment per organizer, against what the tenant actually paid (see
//! `minutely_core::advisor` for exactly what is counted and how the cheapest is searched).
//! Calls refused in reality are not usage and are not counted.
//!
//! Price changes are made by the writer in their own store transaction with their audit row;
//! the advice reads committed history on a read-only connection.

use crate::access::Route;
use crate::api::audit::{Actor, snapshot};
use crate::api::types::{bounded, money};
use crate::app::{AppState, Caller, Json, Path, Query};
use crate::auth::Access;
use crate::error::{ApiError, ApiResult};
use axum::extract::State;
use minutely_core::advisor::LicensePrices;
use minutely_core::calendar::Month;
use minutely_core::directory::Sku;
use minutely_core::money::Currency;
use minutely_service::Command;
pub use minutely_service::advice::{
    AdviceResponse, MAX_ADVICE_CALLS, PeriodJson, ScenarioJson, ScenariosJson, UserAdviceJson,
    advice_json, charged_calls, check_period,
};
use minutely_service::commands::catalogue::CatalogueCommand;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, OpenApi, ToSchema};

#[derive(OpenApi)]
#[openapi(components(schemas(
    PricesBody,
    CurrencyPrices,
    PricesResponse,
    AdviceResponse,
    PeriodJson,
    ScenariosJson,
    ScenarioJson,
    UserAdviceJson
)))]
pub struct Doc;

/// The routes of this module, each with its access class (`crate::access`).
pub fn routes() -> Vec<Route> {
    use crate::access::Policy::*;
    vec![
        Route::documented(SharedRead, __path_list_prices, list_prices),
        Route::documented(Operator, __path_set_prices, set_prices),
        Route::documented(TenantAdmin, __path_advice, advice),
    ]
}

fn parse_currency(field: &str, text: &str) -> ApiResult<Currency> {
    bounded(field, text)?;
    Currency::parse(text).map_err(|e| ApiError::invalid(format!("{field}: {e}")))
}

fn prices_map(prices: &LicensePrices) -> BTreeMap<String, String> {
    prices
        .iter()
        .map(|(sku, price)| (sku.code().to_string(), money(prices.currency, price)))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// License prices
// ---------------------------------------------------------------------------------------------

/// The monthly price of each license, as decimal strings, by license code (`MCOMEETADD`,
/// `MCOMEETACPEA`, `MCOPSTNPP`, `MCOMEETADD_DIALOUT_US`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PricesBody {
    #[schema(value_type = BTreeMap<String, String>)]
    pub prices: serde_json::Map<String, serde_json::Value>,
}

/// One currency's prices.
#[derive(Debug, Serialize, ToSchema)]
pub struct CurrencyPrices {
    pub currency: String,
    /// Monthly price by license code; a license not listed has no price (counted as 0).
    pub prices: BTreeMap<String, String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PricesResponse {
    /// Every currency with a price, by code.
    pub currencies: Vec<CurrencyPrices>,
}

/// The operator's license prices, per currency (any key may read them).
#[utoipa::path(
    get,
    path = "/v1/license-prices",
    responses(
        (status = 200, description = "Every currency's prices", body = PricesResponse),
        (status = 401, description = "No or bad key", body = crate::app::ErrorBody)
    ),
    tag = "catalogue",
    security(("key" = []))
)]
pub async fn list_prices(
    State(state): State<AppState>,
    Caller(_caller): Caller,
) -> ApiResult<Json<PricesResponse>> {
    let all = state.read(|store| Ok(store.license_prices()?)).await?;
    Ok(Json(PricesResponse {
        currencies: all
            .iter()
            .map(|p| CurrencyPrices {
                currency: p.currency.code().to_string(),
                prices: prices_map(p),
            })
            .collect(),
    }))
}

/// The body's prices, checked: known license codes, decimal strings, at least 0, below
/// 1,000,000, no digits below the currency's minor unit.
fn check_prices(currency: Currency, body: &PricesBody) -> ApiResult<LicensePrices> {
    let mut prices = LicensePrices::new(currency);
    for (code, value) in &body.prices {
        bounded("prices", code)?;
        let sku = Sku::parse(code).ok_or_else(|| {
            ApiError::invalid(format!(
                "prices: {code:?} is not a license (MCOMEETADD, MCOMEETACPEA, MCOPSTNPP or \
                 MCOMEETADD_DIALOUT_US)"
            ))
        })?;
        if prices.get(sku).is_some() {
            return Err(ApiError::invalid(format!(
                "prices.{code}: {} is listed twice",
                sku.code()
            )));
        }
        let text = value.as_str().ok_or_else(|| {
            ApiError::invalid(format!(
                "prices.{code}: a price is a decimal string such as \"8.00\", not {value}"
            ))
        })?;
        bounded(&format!("prices.{code}"), text)?;
        let price = minutely_core::money::parse_amount(text).map_err(|e| {
            ApiError::invalid(format!(
                "prices.{code}: {e} (a price is from 0 to below {})",
                minutely_core::money::MAX_LICENSE_PRICE
            ))
        })?;
        let max = minutely_core::advisor::MAX_PRICE;
        if price.is_sign_negative() || price >= max {
            return Err(ApiError::invalid(format!(
                "prices.{code}: the price {price} is not from 0 to below {max}"
            )));
        }
        // Well formed, but with more decimals than the currency has.
        prices
            .set(sku, price)
            .map_err(|e| ApiError::unprocessable(format!("prices.{e}")))?;
    }
    Ok(prices)
}

/// Sets the monthly license prices of a currency (operator only): the body replaces every
/// price of that currency, so a license left out has no price afterwards. An unknown license
/// or currency, or a price that is not a non-negative decimal string with at most the
/// currency's minor-unit digits, is refused naming it; nothing changes then. Audited.
#[utoipa::path(
    put,
    path = "/v1/license-prices/{currency}",
    params(("currency" = String, Path, description = "ISO 4217 code, such as EUR")),
    request_body = PricesBody,
    responses(
        (status = 200, description = "The currency's prices as stored", body = CurrencyPrices),
        (status = 400, description = "An unknown license or currency, or a bad price; nothing changed", body = crate::app::ErrorBody),
        (status = 403, description = "Not an operator key", body = crate::app::ErrorBody),
        (status = 422, description = "A price with more decimals than the currency has (`unprocessable_request`); nothing changed", body = crate::app::ErrorBody)
    ),
    tag = "catalogue",
    security(("key" = []))
)]
pub async fn set_prices(
    State(state): State<AppState>,
    Caller(caller): Caller,
    actor: Actor,
    Path(currency): Path<String>,
    Json(body): Json<PricesBody>,
) -> ApiResult<Json<CurrencyPrices>> {
    caller.operator()?;
    let currency = parse_currency("currency", &currency)?;
    let prices = check_prices(currency, &body)?;
    let command = CatalogueCommand::SetLicensePrices {
        actor: actor.0,
        prices,
        picture: |p| snapshot(&prices_map(p)),
    };
    let stored = state
        .writer
        .execute::<LicensePrices>(Command::Catalogue(command))
        .await?;
    Ok(Json(CurrencyPrices {
        currency: currency.code().to_string(),
        prices: prices_map(&stored),
    }))
}

// ---------------------------------------------------------------------------------------------
// Advice
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AdviceQuery {
    /// First month, `YYYY-MM` (tenant time zone).
    pub from: Option<String>,
    /// Last month, `YYYY-MM`, inclusive; at most 12 months after `from`, not after the current
    /// month.
    pub to: Option<String>,
}

/// Re-rates the tenant's charged calls of whole months under every organizer pay-per-minute,
/// every organizer on the subscription with the shared dial-out pool (C20, C21: 60 minutes per
/// `MCOMEETADD` per calendar month, whole minutes, tenant time zone) and the cheapest plan per
/// organizer, at the operator's license prices, against what the tenant actually paid (the
/// ledger's charges plus the licenses purchased). Calls refused in reality are not counted.
/// `from`/`to` are months (`YYYY-MM`), inclusive, at most 12, not after the current month.
#[utoipa::path(
    get,
    path = "/v1/tenants/{tenant}/advice",
    params(("tenant" = String, Path), AdviceQuery),
    responses(
        (status = 200, description = "The scenarios and the per-user recommendation", body = AdviceResponse),
        (status = 400, description = "Bad or missing from/to, more than 12 months, a month in the future, or too many calls", body = crate::app::ErrorBody),
        (status = 404, description = "Unknown tenant", body = crate::app::ErrorBody)
    ),
    tag = "reports",
    security(("key" = []))
)]
pub async fn advice(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(tenant): Path<String>,
    Query(query): Query<AdviceQuery>,
) -> ApiResult<Json<AdviceResponse>> {
    caller.check(&tenant, Access::Admin)?;
    let directory = state
        .writer
        .with_book(&tenant, |b| Ok(b.tenant.clone()))
        .await?;
    let current = Month::of_instant(state.now(), &directory.timezone);
    let period = check_period(query.from.as_deref(), query.to.as_deref(), current)?;
    let response = state
        .read(move |store| Ok(minutely_service::advice::advice(store, &directory, period)?))
        .await?;
    Ok(Json(response))
}
