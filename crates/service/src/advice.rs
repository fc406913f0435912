//! The plan advisor's use case: a tenant's charged calls of whole months read from the store
//! and re-rated by the core's advisor (`minutely_core::advisor`) under every plan, at the
//! operator's license prices; with its JSON form, shared by the API and the command line.

use crate::error::{ServiceError, ServiceResult};
use jiff::Timestamp;
use minutely_core::advisor::{
    Advice, AdviceInput, ChargedCall, Period, Plan, ScenarioCost, advise,
};
use minutely_core::calendar::Month;
use minutely_core::directory::Tenant;
use minutely_core::engine::Outcome;
use minutely_core::money::Currency;
use minutely_formats::instant;
use minutely_store::Store;
use serde::Serialize;
use std::collections::BTreeMap;

/// The most charged calls one advice re-rates; a period holding more is refused, naming
/// `from`/`to`.
pub const MAX_ADVICE_CALLS: usize = 1_000_000;

/// Calls read per query.
const PAGE: usize = 5_000;

#[derive(Debug, Serialize, utoipa::ToSchema)]
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
#[derive(Debug, Serialize, utoipa::ToSchema)]
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

#[derive(Debug, Serialize, utoipa::ToSchema)]
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

#[derive(Debug, Serialize, utoipa::ToSchema)]
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

#[derive(Debug, Serialize, utoipa::ToSchema)]
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
        license_cost: currency.format(s.license_cost),
        usage_cost: currency.format(s.usage_cost),
        pool_minutes_used: s.pool_minutes_used,
        pool_minutes_size: s.pool_minutes_size,
        total: currency.format(s.total),
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
    let amount = |a: Option<rust_decimal::Decimal>| a.map(|a| c.format(a));
    AdviceResponse {
        tenant: tenant.to_string(),
        currency: c.code().to_string(),
        period: PeriodJson {
            from: advice.period.from.to_string(),
            to: advice.period.to.to_string(),
            months: advice.period.months().len() as u32,
            start: instant::format(start),
            end: instant::format(end),
        },
        scenarios: ScenariosJson {
            actual: scenario_json(c, &advice.actual),
            all_ppm: scenario_json(c, &advice.all_ppm),
            all_subscription: scenario_json(c, &advice.all_subscription),
            cheapest: scenario_json(c, &advice.cheapest),
        },
        saving: c.format(advice.saving),
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
                actual_usage_cost: c.format(u.actual_usage_cost),
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
fn month_param(field: &str, text: Option<&str>) -> ServiceResult<Month> {
    let text = text
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ServiceError::invalid(format!("{field} is required (a month such as 2026-01)"))
        })?;
    crate::input::bounded(field, text)?;
    Month::parse(text)
        .map_err(|_| ServiceError::invalid(format!("{field}: {text:?} is not a month (YYYY-MM)")))
}

/// `from` and `to` checked: months, `to` not before `from`, at most 12 months, `to` not after
/// the current month of the tenant (`current`).
pub fn check_period(from: Option<&str>, to: Option<&str>, current: Month) -> ServiceResult<Period> {
    let from = month_param("from", from)?;
    let to = month_param("to", to)?;
    // Well-formed months that make no period: refused as unprocessable (422), not malformed.
    let refused = ServiceError::unprocessable;
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
) -> ServiceResult<Vec<ChargedCall>> {
    let mut out = Vec::new();
    let mut cursor: Option<(Timestamp, String)> = None;
    loop {
        let after = cursor.as_ref().map(|(at, id)| (*at, id.as_str()));
        let page = store.calls_page(tenant, start, end, after, PAGE, false)?;
        for call in &page {
            if let Outcome::Charged(charge) = &call.outcome {
                if out.len() == MAX_ADVICE_CALLS {
                    return Err(ServiceError::invalid(format!(
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

/// The advice for `tenant` over `period`, read from `store` as it stands.
pub fn advice(store: &Store, tenant: &Tenant, period: Period) -> ServiceResult<AdviceResponse> {
    let currency = tenant.currency;
    let countries = store.countries()?;
    let card = store.rate_card(currency)?;
    let prices = store.license_prices_of(currency)?;
    let bounds = period.bounds(&tenant.timezone);
    let calls = charged_calls(store, &tenant.id, bounds)?;
    let advice = advise(&AdviceInput {
        tenant,
        countries: &countries,
        card: &card,
        prices: &prices,
        period,
        calls: &calls,
    })
    .map_err(|e| ServiceError::internal(format!("plan advice: {e}")))?;
    Ok(advice_json(&tenant.id, &advice, bounds))
}
