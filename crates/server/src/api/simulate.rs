//! The policy simulator: "can Ana dial +81 3 ... now? who pays, at what rate, for how much?",
//! answered by the same decision and rating code as call control, with nothing changed.

use crate::access::Route;
use crate::api::types::{ChargeJson, bounded, instant, money};
use crate::app::{AppState, Caller, Json, Path};
use crate::auth::Access;
use crate::error::ApiResult;
use crate::i18n;
use axum::extract::State;
use jiff::Timestamp;
use minutely_core::engine::Outcome;
use minutely_core::rating::CallRecord;
use minutely_service::Command;
use minutely_service::commands::control::{ControlCommand, Simulated, check_preview_duration};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

#[derive(OpenApi)]
#[openapi(components(schemas(SimulateRequest, SimulateResponse)))]
pub struct Doc;

/// The routes of this module, each with its access class (`crate::access`).
pub fn routes() -> Vec<Route> {
    use crate::access::Policy::*;
    vec![Route::documented(TenantAdmin, __path_simulate, simulate)]
}

/// A call to try.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SimulateRequest {
    /// The meeting organizer's UPN.
    pub organizer: String,
    /// `dial_in` or `dial_out`.
    pub direction: String,
    /// Dial-out: the number dialled.
    #[serde(default)]
    pub destination_number: String,
    /// Dial-in: the tenant's number called.
    #[serde(default)]
    pub service_number: String,
    /// Dial-in: the caller's number (decides toll-free origin rates, C35).
    #[serde(default)]
    pub caller_number: String,
    /// How long the call would last, for its cost: 600 s by default, at most a day.
    #[schema(maximum = 86_400)]
    #[serde(default, deserialize_with = "crate::api::types::whole_opt")]
    pub duration_s: Option<u64>,
}

/// What call control would answer now, and what the call would cost.
#[derive(Debug, Serialize, ToSchema)]
pub struct SimulateResponse {
    /// `allow` or `deny`: what `authorize` would answer now (C25, C14).
    pub decision: String,
    /// The reason code of a denial, or of a call rating refuses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// The reason in the language of `Accept-Language`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Who pays the first window: `included`, `add_on`, `pool`, `pool_and_credits` or
    /// `credits`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub funding: Option<String>,
    /// Seconds the first grant would allow (`null`: never cut).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_duration_s: Option<u64>,
    /// The seconds the cost is for.
    pub duration_s: u64,
    /// The whole call of `duration_s`, rated as a call record would be (C18 to C21): rule,
    /// license that pays, rate, amount, pool minutes. Absent when rating refuses the call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub charge: Option<ChargeJson>,
    /// Balance minus what live calls hold (C14), now.
    pub available: String,
    pub currency: String,
    pub at: String,
}

/// Tries a call without making it: the answer call control would give now, and the charge of
/// the whole call. Changes nothing (no hold, no ledger entry, no refused-call record).
#[utoipa::path(
    post,
    path = "/v1/tenants/{tenant}/simulate",
    params(("tenant" = String, Path)),
    request_body = SimulateRequest,
    responses(
        (status = 200, description = "The answer and the cost", body = SimulateResponse),
        (status = 400, description = "A bad field, named", body = crate::app::ErrorBody),
        (status = 404, description = "Unknown tenant", body = crate::app::ErrorBody)
    ),
    tag = "call control",
    security(("key" = []))
)]
pub async fn simulate(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(tenant): Path<String>,
    headers: axum::http::HeaderMap,
    Json(body): Json<SimulateRequest>,
) -> ApiResult<Json<SimulateResponse>> {
    caller.check(&tenant, Access::Admin)?;
    if !body.organizer.is_empty() {
        minutely_core::ident::organizer("organizer", &body.organizer)?;
    }
    for (name, value) in [
        ("service_number", &body.service_number),
        ("caller_number", &body.caller_number),
        ("destination_number", &body.destination_number),
    ] {
        bounded(name, value)?;
    }
    let direction = crate::api::types::parse_direction("direction", &body.direction)?;
    let duration_s = body.duration_s.unwrap_or(600);
    check_preview_duration(duration_s)?;
    let lang = i18n::Lang::negotiate(
        headers
            .get(axum::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    );
    let call = CallRecord {
        call_id: String::new(),
        conference_id: String::new(),
        organizer: body.organizer,
        direction,
        service_number: body.service_number,
        caller_number: body.caller_number,
        destination_number: body.destination_number,
        start: Timestamp::UNIX_EPOCH,
        end: Timestamp::UNIX_EPOCH,
    };
    let simulated: Simulated = state
        .writer
        .execute(Command::Control(ControlCommand::Simulate {
            tenant,
            call,
            duration_s,
        }))
        .await?;
    Ok(Json(simulate_json(simulated, duration_s, lang)))
}

/// The simulator's answer as JSON, a denial's reason in `lang`.
fn simulate_json(s: Simulated, duration_s: u64, lang: i18n::Lang) -> SimulateResponse {
    let currency = s.currency;
    let charge = match &s.outcome {
        Outcome::Charged(c) => Some(ChargeJson::new(c, currency)),
        Outcome::Refused(_) => None,
    };
    let mut answer = SimulateResponse {
        decision: "allow".into(),
        reason: None,
        rule: None,
        message: None,
        funding: None,
        max_duration_s: None,
        duration_s,
        charge,
        available: money(currency, s.available),
        currency: currency.code().to_string(),
        at: instant(s.at),
    };
    match s.decision {
        Ok(r) => {
            answer.funding = Some(r.funding.as_str().to_string());
            answer.max_duration_s = r.granted_s;
        }
        Err(reason) => {
            answer.decision = "deny".into();
            answer.max_duration_s = Some(0);
            answer.reason = Some(reason.code().to_string());
            answer.rule = Some(reason.rule().to_string());
            answer.message = Some(i18n::message(reason.code(), lang).to_string());
        }
    }
    answer
}
