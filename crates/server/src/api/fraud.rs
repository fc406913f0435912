//! The toll-fraud guard (C43 to C46): the operator's default mode and high-risk list, and per
//! tenant its settings, its gauges, approving a country and lifting a suspension.

use crate::access::Route;
use crate::api::audit::Actor;
use crate::api::catalogue::{blocking, file_refused, raw_body, require_content_type};
use crate::api::wallet::{EventsResponse, SeqPage, events_page};
use crate::app::{AppState, Caller, Json, Path, Query};
use crate::auth::Access;
use crate::error::{ApiError, ApiResult};
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use minutely_core::guard::{
    BusinessHours, GuardLimits, GuardMode, LimitValue, OperatorGuard, TenantGuard,
};
use minutely_core::money::{MAX_AMOUNT, parse_amount};
use minutely_core::numbers::Country;
use minutely_formats::{instant, risk_list};
use minutely_service::Command;
use minutely_service::commands::guard::{GuardAnswer, GuardCommand, GuardView};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use utoipa::ToSchema;

/// The routes of this module, each with its access class (`crate::access`).
pub fn routes() -> Vec<Route> {
    use crate::access::Policy::*;
    vec![
        Route::documented(Operator, __path_get_operator, get_operator),
        Route::documented(Operator, __path_set_operator, set_operator),
        Route::documented(Operator, __path_get_list, get_list),
        Route::documented(Operator, __path_set_list, set_list),
        Route::documented(TenantAdmin, __path_get_tenant, get_tenant),
        Route::documented(TenantAdmin, __path_set_tenant, set_tenant),
        Route::documented(TenantAdmin, __path_approve, approve),
        Route::documented(TenantAdmin, __path_lift, lift),
        Route::documented(TenantAdmin, __path_incidents, incidents),
    ]
}

const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
/// The most prefixes a tenant's allow-list may have.
pub const MAX_ALLOW: usize = 1000;

/// The operator's part of the guard.
#[derive(Debug, Serialize, ToSchema)]
pub struct OperatorResponse {
    /// The mode of every tenant without its own: `off`, `monitor` or `enforce`.
    pub default_mode: String,
    /// Every threshold of the guard by name (FRAUD.md): whole numbers as numbers, amounts (in
    /// each tenant's currency) as decimal strings, switches as booleans.
    #[schema(value_type = Object)]
    pub limits: BTreeMap<String, serde_json::Value>,
    pub list_version: u32,
    pub list_entries: usize,
}

fn operator_json(o: &OperatorGuard) -> OperatorResponse {
    let limits = GuardLimits::NAMES
        .iter()
        .filter_map(|&name| {
            let value = match o.limits.get(name)? {
                LimitValue::Whole(n) => serde_json::Value::from(n),
                LimitValue::Amount(a) => serde_json::Value::from(a.to_string()),
                LimitValue::Switch(b) => serde_json::Value::from(b),
            };
            Some((name.to_string(), value))
        })
        .collect();
    OperatorResponse {
        default_mode: o.default_mode.as_str().to_string(),
        limits,
        list_version: o.list.version,
        list_entries: o.list.len(),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OperatorRequest {
    pub default_mode: String,
    /// The thresholds, replaced whole: those named take the value given, the others their
    /// defaults. Absent: the thresholds are kept.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub limits: Option<BTreeMap<String, serde_json::Value>>,
}

/// The most thresholds a request may name (there are fewer; more is not a request).
const MAX_LIMITS: usize = 64;

/// The thresholds of a request, every bad one refused with its name.
fn parse_limits(given: &BTreeMap<String, serde_json::Value>) -> ApiResult<GuardLimits> {
    if given.len() > MAX_LIMITS {
        return Err(ApiError::unprocessable(format!(
            "limits: {} thresholds named; there are {}",
            given.len(),
            GuardLimits::NAMES.len()
        )));
    }
    let mut pairs = Vec::with_capacity(given.len());
    for (name, value) in given {
        let text = match value {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Bool(b) => b.to_string(),
            serde_json::Value::Number(n) if n.is_i64() || n.is_u64() => n.to_string(),
            other => {
                return Err(ApiError::unprocessable(format!(
                    "limits.{}: {} is not a whole number, an amount as a string, or a boolean",
                    bounded_name(name),
                    bounded_name(&other.to_string())
                )));
            }
        };
        pairs.push((name.as_str(), text));
    }
    GuardLimits::from_pairs(pairs.iter().map(|(n, t)| (*n, t.as_str())))
        .map_err(|e| ApiError::unprocessable(format!("limits.{e}")))
}

/// At most 200 characters of a client's text, for an error message.
fn bounded_name(text: &str) -> String {
    text.chars().take(200).collect()
}

fn parse_mode(field: &str, text: &str) -> ApiResult<GuardMode> {
    GuardMode::parse(text).ok_or_else(|| {
        ApiError::unprocessable(format!("{field}: {text:?} is not off, monitor or enforce"))
    })
}

/// The operator's default mode, thresholds and the list's version.
#[utoipa::path(get, path = "/v1/fraud",
    responses((status = 200, description = "The operator's part", body = OperatorResponse)),
    tag = "fraud", security(("key" = [])))]
pub async fn get_operator(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> ApiResult<Json<OperatorResponse>> {
    caller.operator()?;
    let operator = read_operator(&state).await?;
    Ok(Json(operator_json(&operator)))
}

async fn read_operator(state: &AppState) -> ApiResult<Arc<OperatorGuard>> {
    state
        .read(|store| {
            store.forget_guard_operator();
            Ok(store.guard_operator()?)
        })
        .await
}

/// Sets the mode of every tenant without its own (C46: `monitor` never refuses), and the
/// thresholds when given; audited.
#[utoipa::path(put, path = "/v1/fraud", request_body = OperatorRequest,
    responses((status = 200, description = "The operator's part now", body = OperatorResponse),
        (status = 422, description = "A bad mode or threshold, named", body = crate::app::ErrorBody)),
    tag = "fraud", security(("key" = [])))]
pub async fn set_operator(
    State(state): State<AppState>,
    Caller(caller): Caller,
    actor: Actor,
    body: Result<Json<OperatorRequest>, ApiError>,
) -> ApiResult<Json<OperatorResponse>> {
    caller.operator()?;
    let Json(body) = body?;
    let default_mode = parse_mode("default_mode", &body.default_mode)?;
    let limits = body.limits.as_ref().map(parse_limits).transpose()?;
    let command = GuardCommand::Operator {
        actor: actor.0,
        default_mode: Some(default_mode),
        limits,
        list: None,
    };
    operator_answer(&state, command).await
}

async fn operator_answer(
    state: &AppState,
    command: GuardCommand,
) -> ApiResult<Json<OperatorResponse>> {
    match state
        .writer
        .execute::<GuardAnswer>(Command::Guard(command))
        .await?
    {
        GuardAnswer::Operator(o) => Ok(Json(operator_json(&o))),
        GuardAnswer::Tenant(_) => Err(ApiError::internal(
            "a tenant's answer to an operator's change",
        )),
    }
}

/// The high-risk list as CSV (`prefix,action,category,source,expires,note`).
#[utoipa::path(get, path = "/v1/fraud/list",
    responses((status = 200, description = "The list", body = String, content_type = "text/csv")),
    tag = "fraud", security(("key" = [])))]
pub async fn get_list(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> ApiResult<([(axum::http::header::HeaderName, &'static str); 1], String)> {
    caller.operator()?;
    let operator = read_operator(&state).await?;
    Ok((
        [(axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8")],
        risk_list::write(&operator.list),
    ))
}

/// Replaces the high-risk list (C45 rule 1) from a CSV body, versioned (one more than the
/// last); a file with any bad row is refused whole, every bad row named.
#[utoipa::path(put, path = "/v1/fraud/list",
    request_body(content = String, content_type = "text/csv",
        description = "prefix,action,category,source,expires,note"),
    responses((status = 200, description = "The operator's part now", body = OperatorResponse),
        (status = 400, description = "No header line; nothing changed", body = crate::app::ErrorBody),
        (status = 415, description = "Not text/csv", body = crate::app::ErrorBody),
        (status = 422, description = "Bad rows, every one listed; nothing changed", body = crate::app::ErrorBody)),
    tag = "fraud", security(("key" = [])))]
pub async fn set_list(
    State(state): State<AppState>,
    Caller(caller): Caller,
    actor: Actor,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<OperatorResponse>> {
    caller.operator()?;
    require_content_type(&headers, &["text/csv"])?;
    let body = raw_body(body)?;
    let list = blocking(move || risk_list::parse(&body, 0).map_err(|e| file_refused(&e))).await?;
    let command = GuardCommand::Operator {
        actor: actor.0,
        default_mode: None,
        limits: None,
        list: Some(list),
    };
    operator_answer(&state, command).await
}

/// A tenant's business hours.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoursJson {
    /// 0 to 23, local time.
    #[serde(deserialize_with = "crate::api::types::whole")]
    pub start_hour: u32,
    /// 1 to 24, after `start_hour`.
    #[serde(deserialize_with = "crate::api::types::whole")]
    pub end_hour: u32,
    /// Of `mon`, `tue`, `wed`, `thu`, `fri`, `sat`, `sun`.
    pub weekdays: Vec<String>,
}

/// A prefix the tenant may call whatever the list's `step_up` and `monitor` entries say.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AllowJson {
    pub prefix: String,
    pub expires: Option<String>,
}

/// Thresholds raised for a while (an event the tenant expects).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RaiseJson {
    /// 100 to 1000.
    #[serde(deserialize_with = "crate::api::types::whole")]
    pub percent: u32,
    pub until: String,
}

/// A tenant's own settings.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantSettingsJson {
    /// `off`, `monitor`, `enforce`, or null for the operator's default.
    pub mode: Option<String>,
    #[serde(default)]
    pub premium_enabled: bool,
    pub business_hours: Option<HoursJson>,
    #[serde(default)]
    pub allow: Vec<AllowJson>,
    /// Spending floors (decimal strings in the tenant's currency), null for the operator's.
    pub floor_hour: Option<String>,
    pub floor_day: Option<String>,
    pub raise: Option<RaiseJson>,
}

fn hours_json(b: BusinessHours) -> HoursJson {
    HoursJson {
        start_hour: u32::from(b.start_h),
        end_hour: u32::from(b.end_h),
        weekdays: (0..7)
            .filter(|d| b.weekdays & (1 << d) != 0)
            .map(|d| WEEKDAYS[d].to_string())
            .collect(),
    }
}

fn settings_json(s: &TenantGuard) -> TenantSettingsJson {
    TenantSettingsJson {
        mode: s.mode.map(|m| m.as_str().to_string()),
        premium_enabled: s.premium_enabled,
        business_hours: Some(hours_json(s.business)),
        allow: s
            .allow
            .iter()
            .map(|(p, until)| AllowJson {
                prefix: format!("+{p}"),
                expires: until.map(instant::format),
            })
            .collect(),
        floor_hour: s.floor_hour.map(|d| d.to_string()),
        floor_day: s.floor_day.map(|d| d.to_string()),
        raise: s.raise.map(|(percent, until)| RaiseJson {
            percent,
            until: instant::format(until),
        }),
    }
}

fn parse_at(field: &str, text: &str) -> ApiResult<jiff::Timestamp> {
    instant::parse(text).map_err(|e| ApiError::unprocessable(format!("{field}: {e}")))
}

fn parse_hours(h: &HoursJson) -> ApiResult<BusinessHours> {
    if h.start_hour > 23 || h.end_hour > 24 || h.end_hour <= h.start_hour {
        return Err(ApiError::unprocessable(format!(
            "business_hours: {}..{} must be within 0..24 and end after it starts",
            h.start_hour, h.end_hour
        )));
    }
    let mut weekdays = 0u8;
    for (i, day) in h.weekdays.iter().enumerate() {
        let Some(d) = WEEKDAYS.iter().position(|w| w == day) else {
            return Err(ApiError::unprocessable(format!(
                "business_hours.weekdays[{i}]: {day:?} is not one of {}",
                WEEKDAYS.join(", ")
            )));
        };
        weekdays |= 1 << d;
    }
    // Both checked above to be at most 24.
    let hour = |h: u32| u8::try_from(h).unwrap_or(u8::MAX);
    Ok(BusinessHours {
        start_h: hour(h.start_hour),
        end_h: hour(h.end_hour),
        weekdays,
    })
}

fn parse_floor(field: &str, text: Option<&String>) -> ApiResult<Option<rust_decimal::Decimal>> {
    let Some(text) = text else { return Ok(None) };
    match parse_amount(text) {
        Ok(d) if d > rust_decimal::Decimal::ZERO && d <= MAX_AMOUNT => Ok(Some(d)),
        _ => Err(ApiError::unprocessable(format!(
            "{field}: {text:?} is not an amount above 0 and at most {MAX_AMOUNT}"
        ))),
    }
}

fn parse_settings(body: &TenantSettingsJson) -> ApiResult<TenantGuard> {
    if body.allow.len() > MAX_ALLOW {
        return Err(ApiError::unprocessable(format!(
            "allow: more than {MAX_ALLOW} prefixes"
        )));
    }
    let mut allow = Vec::with_capacity(body.allow.len());
    for (i, a) in body.allow.iter().enumerate() {
        let Some(digits) = minutely_core::guard::list::prefix_digits(&a.prefix) else {
            return Err(ApiError::unprocessable(format!(
                "allow[{i}].prefix: {:?} is not 1 to 15 digits",
                a.prefix
            )));
        };
        let expires = a
            .expires
            .as_deref()
            .map(|t| parse_at(&format!("allow[{i}].expires"), t));
        allow.push((digits.to_string(), expires.transpose()?));
    }
    let raise = match &body.raise {
        Some(r) if !(100..=1000).contains(&r.percent) => {
            return Err(ApiError::unprocessable(format!(
                "raise.percent: {} is not 100 to 1000",
                r.percent
            )));
        }
        Some(r) => Some((r.percent, parse_at("raise.until", &r.until)?)),
        None => None,
    };
    Ok(TenantGuard {
        mode: body
            .mode
            .as_deref()
            .map(|m| parse_mode("mode", m))
            .transpose()?,
        premium_enabled: body.premium_enabled,
        business: body
            .business_hours
            .as_ref()
            .map(parse_hours)
            .transpose()?
            .unwrap_or_default(),
        allow,
        floor_hour: parse_floor("floor_hour", body.floor_hour.as_ref())?,
        floor_day: parse_floor("floor_day", body.floor_day.as_ref())?,
        raise,
    })
}

/// A country blocked after the test-call pattern, until when.
#[derive(Debug, Serialize, ToSchema)]
pub struct BlockedJson {
    pub country: String,
    pub until: String,
}

/// A tenant's guard: its settings and gauges.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantGuardResponse {
    pub tenant: String,
    pub settings: TenantSettingsJson,
    /// The mode in force (the tenant's, or the operator's default).
    pub mode: String,
    /// In the learning period: spending against the usual level only alerts (C46).
    pub learning: bool,
    /// Money charged plus money held by live calls, at list prices (C44), over the rolling
    /// hour and day, in the tenant's currency.
    pub exposure_hour: String,
    pub exposure_day: String,
    pub live_dial_outs: usize,
    pub suspended: bool,
    pub organizers_suspended: usize,
    pub alert_open: bool,
    pub approved_countries: Vec<String>,
    pub blocked_countries: Vec<BlockedJson>,
    /// The guard's state for this tenant, in bytes (one entry a live call aside).
    pub state_bytes: usize,
    /// Whether the request changed anything.
    pub changed: bool,
}

fn tenant_json(v: GuardView) -> TenantGuardResponse {
    TenantGuardResponse {
        settings: settings_json(&v.settings),
        mode: v.mode.as_str().to_string(),
        learning: v.learning,
        exposure_hour: v.exposure_hour.to_string(),
        exposure_day: v.exposure_day.to_string(),
        live_dial_outs: v.live_dial_outs,
        suspended: v.suspended,
        organizers_suspended: v.organizers_suspended,
        alert_open: v.alert_open,
        approved_countries: v.approved.iter().map(|c| c.as_str().to_string()).collect(),
        blocked_countries: v
            .blocked
            .iter()
            .map(|(c, until)| BlockedJson {
                country: c.as_str().to_string(),
                until: jiff::Timestamp::from_second(*until)
                    .map(instant::format)
                    .unwrap_or_default(),
            })
            .collect(),
        state_bytes: v.state_bytes,
        changed: v.changed,
        tenant: v.tenant,
    }
}

async fn tenant_answer(
    state: &AppState,
    command: GuardCommand,
) -> ApiResult<Json<TenantGuardResponse>> {
    match state
        .writer
        .execute::<GuardAnswer>(Command::Guard(command))
        .await?
    {
        GuardAnswer::Tenant(v) => Ok(Json(tenant_json(*v))),
        GuardAnswer::Operator(_) => Err(ApiError::internal(
            "an operator's answer to a tenant's request",
        )),
    }
}

/// The tenant's guard: settings and gauges (exposure, live dial-outs, suspensions).
#[utoipa::path(get, path = "/v1/tenants/{tenant}/fraud", params(("tenant" = String, Path)),
    responses((status = 200, description = "The tenant's guard", body = TenantGuardResponse),
        (status = 404, description = "unknown_tenant", body = crate::app::ErrorBody)),
    tag = "fraud", security(("key" = [])))]
pub async fn get_tenant(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(tenant): Path<String>,
) -> ApiResult<Json<TenantGuardResponse>> {
    caller.check(&tenant, Access::Admin)?;
    tenant_answer(&state, GuardCommand::View { tenant }).await
}

/// Replaces the tenant's own settings (mode, premium opt-in, business hours, allow-list,
/// floors, a raise with its expiry); audited.
#[utoipa::path(put, path = "/v1/tenants/{tenant}/fraud", params(("tenant" = String, Path)),
    request_body = TenantSettingsJson,
    responses((status = 200, description = "The tenant's guard now", body = TenantGuardResponse),
        (status = 422, description = "A bad setting, named", body = crate::app::ErrorBody),
        (status = 404, description = "unknown_tenant", body = crate::app::ErrorBody)),
    tag = "fraud", security(("key" = [])))]
pub async fn set_tenant(
    State(state): State<AppState>,
    Caller(caller): Caller,
    actor: Actor,
    Path(tenant): Path<String>,
    body: Result<Json<TenantSettingsJson>, ApiError>,
) -> ApiResult<Json<TenantGuardResponse>> {
    caller.check(&tenant, Access::Admin)?;
    let Json(body) = body?;
    let settings = parse_settings(&body)?;
    let command = GuardCommand::Tenant {
        actor: actor.0,
        tenant,
        settings,
    };
    tenant_answer(&state, command).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveRequest {
    /// ISO 3166-1 alpha-2.
    pub country: String,
}

/// Approves calls to a country (C45 rule 7), which also ends a test-call block of it; audited.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/fraud/approve", params(("tenant" = String, Path)),
    request_body = ApproveRequest,
    responses((status = 200, description = "The tenant's guard now", body = TenantGuardResponse),
        (status = 422, description = "Not a country code", body = crate::app::ErrorBody),
        (status = 404, description = "unknown_tenant", body = crate::app::ErrorBody)),
    tag = "fraud", security(("key" = [])))]
pub async fn approve(
    State(state): State<AppState>,
    Caller(caller): Caller,
    actor: Actor,
    Path(tenant): Path<String>,
    body: Result<Json<ApproveRequest>, ApiError>,
) -> ApiResult<Json<TenantGuardResponse>> {
    caller.check(&tenant, Access::Admin)?;
    let Json(body) = body?;
    let country = Country::parse(&body.country)
        .map_err(|e| ApiError::unprocessable(format!("country: {e}")))?;
    if minutely_core::numbers::region_facts(country).is_none() {
        return Err(ApiError::unprocessable(format!(
            "country: {:?} is not a region of the numbering plan (ISO 3166-1 alpha-2, such as DE)",
            country.as_str()
        )));
    }
    let command = GuardCommand::Approve {
        actor: actor.0,
        tenant,
        country,
    };
    tenant_answer(&state, command).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LiftRequest {
    /// The organizer whose dial-out is lifted; absent: the tenant's and every organizer's.
    pub organizer: Option<String>,
}

/// Lifts a suspension of dial-out (C46): an organizer's, or the tenant's; audited, with a
/// `fraud.lifted` event. Lifting what is not suspended changes nothing (`changed` false).
#[utoipa::path(post, path = "/v1/tenants/{tenant}/fraud/lift", params(("tenant" = String, Path)),
    request_body = LiftRequest,
    responses((status = 200, description = "The tenant's guard now", body = TenantGuardResponse),
        (status = 404, description = "unknown_tenant or unknown_user", body = crate::app::ErrorBody),
        (status = 422, description = "Not a UPN", body = crate::app::ErrorBody)),
    tag = "fraud", security(("key" = [])))]
pub async fn lift(
    State(state): State<AppState>,
    Caller(caller): Caller,
    actor: Actor,
    Path(tenant): Path<String>,
    body: Result<Json<LiftRequest>, ApiError>,
) -> ApiResult<Json<TenantGuardResponse>> {
    caller.check(&tenant, Access::Admin)?;
    let Json(body) = body?;
    if let Some(upn) = &body.organizer {
        minutely_core::ident::upn("organizer", upn)
            .map_err(|e| ApiError::unprocessable(e.to_string()))?;
    }
    let command = GuardCommand::Lift {
        actor: actor.0,
        tenant,
        organizer: body.organizer,
    };
    tenant_answer(&state, command).await
}

/// The kinds of event the guard raises: its incidents.
pub const INCIDENT_KINDS: &[&str] = &[
    "fraud.alert",
    "fraud.new_country",
    "fraud.suspended",
    "fraud.lifted",
];

/// The guard's incidents (C46): the tenant's `fraud.alert`, `fraud.new_country`,
/// `fraud.suspended` and `fraud.lifted` events, oldest first, paginated by `seq` like
/// `/events`.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/fraud/incidents",
    params(("tenant" = String, Path), SeqPage),
    responses((status = 200, description = "A page of the incidents", body = EventsResponse),
        (status = 400, description = "Bad limit or cursor", body = crate::app::ErrorBody),
        (status = 404, description = "unknown_tenant", body = crate::app::ErrorBody)),
    tag = "fraud", security(("key" = [])))]
pub async fn incidents(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(tenant): Path<String>,
    Query(page): Query<SeqPage>,
) -> ApiResult<Json<EventsResponse>> {
    caller.check(&tenant, Access::Admin)?;
    events_page(&state, tenant, &page, INCIDENT_KINDS)
        .await
        .map(Json)
}
