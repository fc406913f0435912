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
use crate::api::types::{bounded, instant, money};
use crate::app::{AppState, Caller, Json, Path, Query};
use crate::auth::Access;
use crate::error::{ApiError, ApiResult};
use axum::extract::State;
use jiff::Timestamp;
use minutely_core::advisor::{
    Advice, AdviceInput, ChargedCall, LicensePrices, Period, Plan, ScenarioCost, advise,
};
use minutely_core::calendar::Month;
use minutely_core::directory::Sku;
use minutely_core::engine::Outcome;
use minutely_core::money::Currency;
use minutely_store::{Store, StoreError};
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

/// The most charged calls one advice re-rates; a period holding more is refused, naming
/// `from`/`to`.
pub const MAX_ADVICE_CALLS: usize = 1_000_000;

/// Calls read per query.
const PAGE: usize = 5_000;

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
    let stored = state
        .writer
        .run(move |ctx| {
            let now = ctx.now;
            ctx.store.atomically(|store| {
                let before = store.license_prices_of(currency)?;
                if before == prices {
                    // The same prices again change nothing and record nothing.
                    return Ok::<_, StoreError>(());
                }
                store.set_license_prices(&prices)?;
                store.append_audit(&[actor.entry(
                    now,
                    None,
                    "license_prices.set",
                    currency.code(),
                    Some(snapshot(&prices_map(&before))),
                    Some(snapshot(&prices_map(&prices))),
                )])
            })?;
            ctx.outside_batch = true;
            Ok(ctx.store.license_prices_of(currency)?)
        })
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

#[derive(Debug, Serialize, ToSchema)]
pub struct PeriodJson {
    pub from: String,
    pub to: String,
    pub months: u32,
    /// The first instant of the period (tenant time zone), RFC 3339 UTC.
    pub start: String,
    /// The first instant after it.
    pub end: String,
}

/// What one scenario costs over the period.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScenarioJson {
    /// False when the tenant could not have this plan (C1, C2) or one of its calls would be
    /// refused under it; the amounts are then 0.
    pub available: bool,
    /// The reason code when not available.
    pub unavailable_reason: Option<String>,
    pub unavailable_detail: Option<String>,
    /// Licenses at the operator's monthly prices, every month of the period.
    pub license_cost: String,
    /// What the calls cost in credits.
    pub usage_cost: String,
    /// Dial-out pool minutes the calls used (C21) and the pool the period offered (C20).
    pub pool_minutes_used: u64,
    pub pool_minutes_size: u64,
    pub total: String,
    /// License-months counted (licenses x months), by license code.
    pub license_months: BTreeMap<String, u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ScenariosJson {
    /// What the ledger charged for the calls plus the licenses purchased (each month at the
    /// largest count purchased during it).
    pub actual: ScenarioJson,
    /// Every advised organizer on `MCOMEETACPEA`.
    pub all_ppm: ScenarioJson,
    /// Every advised organizer on `MCOMEETADD` (with `MCOPSTNPP` where credits are needed).
    pub all_subscription: ScenarioJson,
    /// The cheapest plan per organizer found (never dearer than the two above).
    pub cheapest: ScenarioJson,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserAdviceJson {
    pub upn: String,
    pub display_name: String,
    /// The conferencing license held today (`MCOMEETADD`, `MCOMEETACPEA` or null).
    pub current: Option<String>,
    /// The license of the cheapest scenario (null when no scenario is available).
    pub recommended: Option<String>,
    /// The recommended subscription also needs `MCOPSTNPP` (credit-funded calls, C19).
    pub credits_license: bool,
    /// Charged calls of the period and their minutes (each call rounded up).
    pub calls: u64,
    pub minutes: u64,
    /// What this user's calls were charged.
    pub actual_usage_cost: String,
    /// Licenses plus usage of this user in each scenario (null where not available).
    pub cost_ppm: Option<String>,
    pub cost_subscription: Option<String>,
    pub cost_recommended: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AdviceResponse {
    pub tenant: String,
    pub currency: String,
    pub period: PeriodJson,
    pub scenarios: ScenariosJson,
    /// `actual.total - cheapest.total`: what the cheapest plan would have saved (negative when
    /// it would have cost more).
    pub saving: String,
    /// Advised users (holding a conferencing license, or organizers of charged calls), by UPN.
    pub users: Vec<UserAdviceJson>,
    /// Licenses counted by some scenario whose price is not set (counted as 0).
    pub missing_prices: Vec<String>,
    /// Charged calls of the period.
    pub calls: u64,
    /// Calls no plan could re-rate (counted at their actual charge in every scenario).
    pub unrated_calls: u64,
    /// How the cheapest assignment was found: `exhaustive` (every assignment priced: at most
    /// 16 advised users), `local_optimum` (no change of one or two users' plans lowers it) or
    /// `work_bound` (the search stopped at its bound; still never dearer than the uniform plans).
    pub search: String,
}

fn scenario_json(currency: Currency, s: &ScenarioCost) -> ScenarioJson {
    ScenarioJson {
        available: s.is_available(),
        unavailable_reason: s.unavailable.as_ref().map(|(r, _)| r.code().to_string()),
        unavailable_detail: s.unavailable.as_ref().map(|(_, d)| d.clone()),
        license_cost: money(currency, s.license_cost),
        usage_cost: money(currency, s.usage_cost),
        pool_minutes_used: s.pool_minutes_used,
        pool_minutes_size: s.pool_minutes_size,
        total: money(currency, s.total),
        license_months: s
            .license_months
            .iter()
            .map(|(sku, n)| (sku.code().to_string(), *n))
            .collect(),
    }
}

fn plan_code(plan: Plan) -> String {
    plan.sku().code().to_string()
}

/// The advice as JSON.
pub fn advice_json(
    tenant: &str,
    advice: &Advice,
    (start, end): (Timestamp, Timestamp),
) -> AdviceResponse {
    let c = advice.currency;
    let amount = |a: Option<rust_decimal::Decimal>| a.map(|a| money(c, a));
    AdviceResponse {
        tenant: tenant.to_string(),
        currency: c.code().to_string(),
        period: PeriodJson {
            from: advice.period.from.to_string(),
            to: advice.period.to.to_string(),
            months: advice.period.months().len() as u32,
            start: instant(start),
            end: instant(end),
        },
        scenarios: ScenariosJson {
            actual: scenario_json(c, &advice.actual),
            all_ppm: scenario_json(c, &advice.all_ppm),
            all_subscription: scenario_json(c, &advice.all_subscription),
            cheapest: scenario_json(c, &advice.cheapest),
        },
        saving: money(c, advice.saving),
        users: advice
            .users
            .iter()
            .map(|u| UserAdviceJson {
                upn: u.upn.clone(),
                display_name: u.display_name.clone(),
                current: u.current.map(|s| s.code().to_string()),
                recommended: u.recommended.map(plan_code),
                credits_license: u.credits_license,
                calls: u.calls,
                minutes: u.minutes,
                actual_usage_cost: money(c, u.actual_usage_cost),
                cost_ppm: amount(u.cost_ppm),
                cost_subscription: amount(u.cost_subscription),
                cost_recommended: amount(u.cost_recommended),
            })
            .collect(),
        missing_prices: advice
            .missing_prices
            .iter()
            .map(|s| s.code().to_string())
            .collect(),
        calls: advice.calls,
        unrated_calls: advice.unrated_calls,
        search: advice.search.as_str().to_string(),
    }
}

/// One month parameter, required, `YYYY-MM`.
fn month_param(field: &str, text: Option<&str>) -> ApiResult<Month> {
    let text = text
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::invalid(format!("{field} is required (a month such as 2026-01)"))
        })?;
    bounded(field, text)?;
    Month::parse(text)
        .map_err(|_| ApiError::invalid(format!("{field}: {text:?} is not a month (YYYY-MM)")))
}

/// `from` and `to` checked: months, `to` not before `from`, at most 12 months, `to` not after
/// the current month of the tenant (`current`).
pub fn check_period(from: Option<&str>, to: Option<&str>, current: Month) -> ApiResult<Period> {
    let from = month_param("from", from)?;
    let to = month_param("to", to)?;
    // Well-formed months that make no period: refused as unprocessable (422), not malformed.
    let refused = ApiError::unprocessable;
    if to > current {
        return Err(refused(format!(
            "to: {to} is in the future (the tenant's current month is {current})"
        )));
    }
    Period::new(from, to).map_err(|e| refused(format!("from/to: {e}")))
}

/// The charged calls that started in `[start, end)`, canonical order (C22), at most
/// `MAX_ADVICE_CALLS`.
pub fn charged_calls(
    store: &Store,
    tenant: &str,
    (start, end): (Timestamp, Timestamp),
) -> ApiResult<Vec<ChargedCall>> {
    let mut out = Vec::new();
    let mut cursor: Option<(Timestamp, String)> = None;
    loop {
        let after = cursor.as_ref().map(|(at, id)| (*at, id.as_str()));
        let page = store.calls_page(tenant, start, end, after, PAGE, false)?;
        for call in &page {
            if let Outcome::Charged(charge) = &call.outcome {
                if out.len() == MAX_ADVICE_CALLS {
                    return Err(ApiError::invalid(format!(
                        "from/to: the period holds more than {MAX_ADVICE_CALLS} charged calls; \
                         ask for fewer months"
                    )));
                }
                out.push(ChargedCall {
                    record: call.record.clone(),
                    amount: charge.amount,
                    pool_minutes: charge.pool_minutes,
                });
            }
        }
        match page.last() {
            Some(last) if page.len() == PAGE => {
                cursor = Some((last.record.start, last.record.call_id.clone()));
            }
            _ => return Ok(out),
        }
    }
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
    let id = tenant.clone();
    let response = state
        .read(move |store| {
            let currency = directory.currency;
            let countries = store.countries()?;
            let card = store.rate_card(currency)?;
            let prices = store.license_prices_of(currency)?;
            let bounds = period.bounds(&directory.timezone);
            let calls = charged_calls(store, &directory.id, bounds)?;
            let advice = advise(&AdviceInput {
                tenant: &directory,
                countries: &countries,
                card: &card,
                prices: &prices,
                period,
                calls: &calls,
            })
            .map_err(crate::api::reports::out_of_range("plan advice"))?;
            Ok(advice_json(&id, &advice, bounds))
        })
        .await?;
    Ok(Json(response))
}
