//! Real-time call control (C25 to C27) and call-record ingestion (C23, C29): the bridge's
//! routes. Call control (authorize, answer, extend, end, the batch) is also the SIP edge's: an
//! edge key may use it for every tenant; ingestion is the tenant's own.

use crate::access::Route;
use crate::api::types::{CallRecordJson, OutcomeJson, instant, money};
use crate::app::{AppState, Caller, Json, JsonOrEmpty, Path};
use crate::auth::Access;
use crate::error::{ApiError, ApiResult};
use crate::i18n;
use axum::extract::State;
use jiff::Timestamp;
use minutely_core::control::{Decision, Extension, Grant};
use minutely_core::ident;
use minutely_core::money::Currency;
use minutely_core::rating::CallRecord;
use minutely_service::commands::control::{
    self as ctl, Answered, Authorized, BatchAnswered, ControlStep, Ended, Extended, StepAnswer,
};
use minutely_service::ingest::Ingested;
pub use minutely_service::input::control::{
    AnswerRequest, AuthorizeRequest, EndRequest, ExtendRequest, IngestRequest, summarize,
};
use minutely_service::input::object::object;
use minutely_service::{Command, ServiceResult};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

#[derive(OpenApi)]
#[openapi(components(schemas(
    AuthorizeRequest,
    AuthorizeResponse,
    AnswerRequest,
    AnswerResponse,
    ExtendRequest,
    ExtendResponse,
    EndRequest,
    ControlBatchRequest,
    ControlCommand,
    ControlBatchResponse,
    CommandResult,
    CommandError,
    IngestRequest,
    IngestResponse,
    CallRecordJson,
    OutcomeJson
)))]
pub struct Doc;

/// The routes of this module, each with its access class (`crate::access`).
pub fn routes() -> Vec<Route> {
    use crate::access::Policy::*;
    vec![
        Route::documented(Control, __path_authorize, authorize),
        Route::documented(Control, __path_answer, answer),
        Route::documented(Control, __path_extend, extend),
        Route::documented(Control, __path_end, end),
        Route::documented(Control, __path_control_batch, control_batch),
        Route::documented(Bridge, __path_ingest, ingest),
    ]
}

/// Allow or deny.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuthorizeResponse {
    pub call_id: String,
    /// `allow` or `deny`.
    pub decision: String,
    /// The reason code of a denial.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// Seconds from `start` the call may last; `null` for a call that is never cut (included
    /// dial-in, add-on).
    pub max_duration_s: Option<u64>,
    /// Who pays: `included`, `add_on`, `pool`, `pool_and_credits` or `credits`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub funding: Option<String>,
    /// Credit held for the grant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reserved: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reserved_pool_minutes: Option<u32>,
    pub currency: String,
    /// The instant the call was authorized for.
    pub start: String,
    /// When the hold lapses unless extended or ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// True when this repeats the answer to an earlier identical request.
    pub replay: bool,
    /// True when the engine cannot promise another extension (the grant is less than a window,
    /// or nothing is left for another one): warn the caller before the cut. True for a denial.
    pub last_window: bool,
    /// Seconds from the server's clock to the end of the grant (0 once past, 0 for a denial);
    /// null for a call that is never cut.
    pub remaining_s: Option<u64>,
}

/// The answer to `/answer`: the grant, now counted from `start`, the answered instant.
#[derive(Debug, Serialize, ToSchema)]
pub struct AnswerResponse {
    pub call_id: String,
    /// Seconds from `start` the call may last; null for a call that is never cut.
    pub max_duration_s: Option<u64>,
    /// Who pays: `included`, `add_on`, `pool`, `pool_and_credits` or `credits`.
    pub funding: String,
    /// Credit held for the grant (unchanged by the answer).
    pub reserved: String,
    pub reserved_pool_minutes: u32,
    pub currency: String,
    /// The instant the call was answered: the grant and a later `duration_s` count from it.
    pub start: String,
    /// When the hold lapses unless extended or ended: `start` + grant + grace.
    pub expires_at: String,
    /// As for authorize and extend.
    pub last_window: bool,
    /// Seconds from the server's clock to the end of the grant; null when never cut.
    pub remaining_s: Option<u64>,
    /// True when the call was already answered at this instant.
    pub replay: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExtendResponse {
    pub call_id: String,
    /// False: no more credit, end the call at `max_duration_s` (C26).
    pub extended: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub max_duration_s: Option<u64>,
    pub funding: String,
    pub reserved: String,
    pub reserved_pool_minutes: u32,
    pub currency: String,
    pub expires_at: String,
    pub replay: bool,
    /// True when the engine cannot promise another extension: exhausted (`extended` false),
    /// grown by less than a window, or nothing left for another one.
    pub last_window: bool,
    /// Seconds from the server's clock to the end of the grant (0 once past); null for a call
    /// that is never cut.
    pub remaining_s: Option<u64>,
}

pub use minutely_service::commands::control::MAX_START_SKEW_S;

/// A grant's credit held, pool minutes held and expiry, as JSON values.
fn grant_fields(g: &Grant, currency: Currency) -> (String, u32, String) {
    (
        money(currency, g.credit),
        g.pool_minutes,
        instant(g.expires_at),
    )
}

/// C25: allow or deny a call about to connect.
#[utoipa::path(
    post,
    path = "/v1/tenants/{tenant}/calls/{call_id}/authorize",
    params(("tenant" = String, Path), ("call_id" = String, Path)),
    request_body = AuthorizeRequest,
    responses(
        (status = 200, description = "Allowed or denied with a reason code", body = AuthorizeResponse),
        (status = 400, description = "Malformed request", body = crate::app::ErrorBody),
        (status = 404, description = "Unknown tenant", body = crate::app::ErrorBody),
        (status = 422, description = "`start` more than an hour from the server's clock (`unprocessable_request`)", body = crate::app::ErrorBody)
    ),
    tag = "call control",
    security(("key" = []))
)]
pub async fn authorize(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((tenant, call_id)): Path<(String, String)>,
    Json(body): Json<AuthorizeRequest>,
) -> ApiResult<Json<AuthorizeResponse>> {
    caller.check(&tenant, Access::Control)?;
    let step = authorize_step(&tenant, call_id, body)?;
    let answer: Authorized = state
        .writer
        .execute(Command::Control(ctl::ControlCommand::Authorize {
            tenant,
            step,
        }))
        .await?;
    Ok(Json(authorize_json(answer)))
}

/// An authorization's path and body checked, made the service's step (the writer sets the
/// call's start and end).
pub(crate) fn authorize_step(
    tenant: &str,
    call_id: String,
    body: AuthorizeRequest,
) -> ApiResult<ctl::Authorize> {
    ident::call_id("call_id", &call_id)?;
    body.check_tenant(tenant)?;
    let (direction, start) = body.check()?;
    let call = CallRecord {
        call_id,
        conference_id: body.conference_id,
        organizer: body.organizer,
        direction,
        service_number: body.service_number,
        caller_number: body.caller_number,
        destination_number: body.destination_number,
        start: Timestamp::UNIX_EPOCH,
        end: Timestamp::UNIX_EPOCH,
    };
    Ok(ctl::Authorize { call, start })
}

/// An authorization's answer as JSON.
pub(crate) fn authorize_json(a: Authorized) -> AuthorizeResponse {
    let currency = a.currency.code().to_string();
    match a.decision {
        Decision::Allow(g) => {
            let (reserved, pool, expires) = grant_fields(&g, a.currency);
            AuthorizeResponse {
                call_id: a.call_id,
                decision: "allow".into(),
                reason: None,
                rule: None,
                max_duration_s: g.max_duration_s,
                funding: Some(g.funding.as_str().to_string()),
                reserved: Some(reserved),
                reserved_pool_minutes: Some(pool),
                currency,
                start: instant(a.start),
                expires_at: Some(expires),
                replay: g.replay,
                last_window: g.last_window,
                remaining_s: g.remaining_s,
            }
        }
        Decision::Deny(reason) => AuthorizeResponse {
            call_id: a.call_id,
            decision: "deny".into(),
            reason: Some(reason.code().to_string()),
            rule: Some(reason.rule().to_string()),
            max_duration_s: Some(0),
            funding: None,
            reserved: None,
            reserved_pool_minutes: None,
            currency,
            start: instant(a.start),
            expires_at: None,
            replay: false,
            last_window: true,
            remaining_s: Some(0),
        },
    }
}

/// C26: the next window of a live call.
#[utoipa::path(
    post,
    path = "/v1/tenants/{tenant}/calls/{call_id}/extend",
    params(("tenant" = String, Path), ("call_id" = String, Path)),
    request_body = Option<ExtendRequest>,
    responses(
        (status = 200, description = "Extended, or no more credit", body = ExtendResponse),
        (status = 404, description = "Unknown tenant or call", body = crate::app::ErrorBody),
        (status = 409, description = "The call has ended", body = crate::app::ErrorBody)
    ),
    tag = "call control",
    security(("key" = []))
)]
pub async fn extend(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((tenant, call_id)): Path<(String, String)>,
    JsonOrEmpty(body): JsonOrEmpty<ExtendRequest>,
) -> ApiResult<Json<ExtendResponse>> {
    caller.check(&tenant, Access::Control)?;
    let step = extend_step(call_id, body)?;
    let answer: Extended = state
        .writer
        .execute(Command::Control(ctl::ControlCommand::Extend {
            tenant,
            step,
        }))
        .await?;
    Ok(Json(extend_json(answer)))
}

/// An extension's path and body checked, made the service's step.
fn extend_step(call_id: String, body: ExtendRequest) -> ApiResult<ctl::Extend> {
    ident::call_id("call_id", &call_id)?;
    let answered_at = body.check()?;
    Ok(ctl::Extend {
        call_id,
        granted_s: body.granted_s,
        answered_at,
    })
}

/// An extension's answer as JSON.
fn extend_json(e: Extended) -> ExtendResponse {
    let (extended, grant, reason) = match e.extension {
        Extension::Extended(g) => (true, g, None),
        Extension::Exhausted(g) => (false, g, Some("no_more_credit")),
        Extension::Stopped(g, reason) => (false, g, Some(reason.code())),
    };
    let (reserved, pool, expires) = grant_fields(&grant, e.currency);
    ExtendResponse {
        call_id: e.call_id,
        extended,
        reason: reason.map(str::to_string),
        max_duration_s: grant.max_duration_s,
        funding: grant.funding.as_str().to_string(),
        reserved,
        reserved_pool_minutes: pool,
        currency: e.currency.code().to_string(),
        expires_at: expires,
        replay: grant.replay,
        last_window: grant.last_window,
        remaining_s: grant.remaining_s,
    }
}

/// The call was answered: ring time is not charged and does not use the grant. The hold is
/// re-based on the answer (the same grant, now counted from `answered_at`, lapsing at
/// `answered_at` + grant + grace). Answering again at the same instant is a replay.
#[utoipa::path(
    post,
    path = "/v1/tenants/{tenant}/calls/{call_id}/answer",
    params(("tenant" = String, Path), ("call_id" = String, Path)),
    request_body = Option<AnswerRequest>,
    responses(
        (status = 200, description = "Answered (or a replay of the same answer)", body = AnswerResponse),
        (status = 404, description = "Unknown tenant, or no such call (`call_not_found`)", body = crate::app::ErrorBody),
        (status = 409, description = "Answered at another instant (`call_already_answered`), ended (`call_already_ended`) or its hold lapsed (`call_lapsed`)", body = crate::app::ErrorBody),
        (status = 422, description = "`answered_at` before the authorized start or more than a few seconds ahead of the server's clock (`unprocessable_request`)", body = crate::app::ErrorBody)
    ),
    tag = "call control",
    security(("key" = []))
)]
pub async fn answer(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((tenant, call_id)): Path<(String, String)>,
    JsonOrEmpty(body): JsonOrEmpty<AnswerRequest>,
) -> ApiResult<Json<AnswerResponse>> {
    caller.check(&tenant, Access::Control)?;
    let step = answer_step(call_id, body)?;
    let answer: Answered = state
        .writer
        .execute(Command::Control(ctl::ControlCommand::Answer {
            tenant,
            step,
        }))
        .await?;
    Ok(Json(answer_json(answer)))
}

/// An answer's path and body checked, made the service's step.
fn answer_step(call_id: String, body: AnswerRequest) -> ApiResult<ctl::AnswerCall> {
    ident::call_id("call_id", &call_id)?;
    Ok(ctl::AnswerCall {
        call_id,
        answered_at: body.check()?,
    })
}

/// An answer's answer as JSON.
fn answer_json(a: Answered) -> AnswerResponse {
    let (reserved, pool, expires) = grant_fields(&a.grant, a.currency);
    AnswerResponse {
        call_id: a.call_id,
        max_duration_s: a.grant.max_duration_s,
        funding: a.grant.funding.as_str().to_string(),
        reserved,
        reserved_pool_minutes: pool,
        currency: a.currency.code().to_string(),
        start: instant(a.start),
        expires_at: expires,
        last_window: a.grant.last_window,
        remaining_s: a.grant.remaining_s,
        replay: a.grant.replay,
    }
}

/// C27: the call ended: rate, release and debit in one atomic step.
#[utoipa::path(
    post,
    path = "/v1/tenants/{tenant}/calls/{call_id}/end",
    params(("tenant" = String, Path), ("call_id" = String, Path)),
    request_body = Option<EndRequest>,
    responses(
        (status = 200, description = "Charged or refused (a refusal carries its reason)", body = OutcomeJson),
        (status = 404, description = "Unknown tenant, or an unauthorized call without its record", body = crate::app::ErrorBody),
        (status = 409, description = "The call id was used for another call, or the call was answered at another instant than `answered_at` (`call_already_answered`)", body = crate::app::ErrorBody),
        (status = 422, description = "Both `end` and `duration_s`, a `record` of another call id, or an `answered_at` before the authorized start (`unprocessable_request`)", body = crate::app::ErrorBody)
    ),
    tag = "call control",
    security(("key" = []))
)]
pub async fn end(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((tenant, call_id)): Path<(String, String)>,
    JsonOrEmpty(body): JsonOrEmpty<EndRequest>,
) -> ApiResult<Json<OutcomeJson>> {
    caller.check(&tenant, Access::Control)?;
    let step = end_step(&tenant, call_id, body)?;
    let answer: Ended = state
        .writer
        .execute(Command::Control(ctl::ControlCommand::End { tenant, step }))
        .await?;
    Ok(Json(end_json(&answer)))
}

/// An end report's path and body checked, made the service's step.
fn end_step(tenant: &str, call_id: String, body: EndRequest) -> ApiResult<ctl::End> {
    ident::call_id("call_id", &call_id)?;
    let checked = body.check_answered(&call_id, tenant)?;
    Ok(ctl::End {
        call_id,
        end_at: checked.end_at,
        duration_s: body.duration_s,
        record: checked.record,
        answered_at: checked.answered_at,
    })
}

/// An end report's answer as JSON.
fn end_json(e: &Ended) -> OutcomeJson {
    OutcomeJson::new(&e.call_id, &e.outcome, e.replay, e.currency)
}

/// Many call-control commands in one request: what a bridge sends when it gathers the
/// authorizations, extensions and ends of many calls. The whole batch joins one commit.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ControlBatchRequest {
    /// Carried out in this order; at most `--max-batch-records` of them.
    pub commands: Vec<ControlCommand>,
}

/// One command of a batch: the body of the single-call route, under `body`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum ControlCommand {
    /// As `POST /v1/tenants/{tenant}/calls/{call_id}/authorize`.
    Authorize {
        call_id: String,
        #[serde(deserialize_with = "object")]
        body: AuthorizeRequest,
    },
    /// As `POST /v1/tenants/{tenant}/calls/{call_id}/answer`.
    Answer {
        call_id: String,
        #[serde(default, deserialize_with = "object")]
        body: AnswerRequest,
    },
    /// As `POST /v1/tenants/{tenant}/calls/{call_id}/extend`.
    Extend {
        call_id: String,
        #[serde(default, deserialize_with = "object")]
        body: ExtendRequest,
    },
    /// As `POST /v1/tenants/{tenant}/calls/{call_id}/end`.
    End {
        call_id: String,
        #[serde(default, deserialize_with = "object")]
        body: EndRequest,
    },
}

/// The answers, one per command, in the order sent.
#[derive(Debug, Serialize, ToSchema)]
pub struct ControlBatchResponse {
    pub results: Vec<CommandResult>,
}

/// The answer to one command: the single-call route's body under the command's name, or the
/// error that route would have answered (with its HTTP status in `status`).
#[derive(Debug, Serialize, ToSchema)]
pub struct CommandResult {
    /// `authorize`, `answer`, `extend` or `end`.
    pub op: String,
    pub call_id: String,
    /// The status the single-call route would have answered.
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorize: Option<AuthorizeResponse>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer: Option<AnswerResponse>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extend: Option<ExtendResponse>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end: Option<OutcomeJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<CommandError>,
}

/// Why one command of a batch was not carried out.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommandError {
    /// Stable machine code, as in the error body of the single-call route.
    pub code: String,
    /// Human message in the language negotiated from `Accept-Language`.
    pub message: String,
    /// The language of `message`.
    pub lang: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

impl ControlCommand {
    /// The command's body checked, made the service's step; with the command's name.
    fn prepare(self, tenant: &str) -> ApiResult<(&'static str, ControlStep)> {
        Ok(match self {
            ControlCommand::Authorize { call_id, body } => (
                "authorize",
                ControlStep::Authorize(authorize_step(tenant, call_id, body)?),
            ),
            ControlCommand::Answer { call_id, body } => {
                ("answer", ControlStep::Answer(answer_step(call_id, body)?))
            }
            ControlCommand::Extend { call_id, body } => {
                ("extend", ControlStep::Extend(extend_step(call_id, body)?))
            }
            ControlCommand::End { call_id, body } => {
                ("end", ControlStep::End(end_step(tenant, call_id, body)?))
            }
        })
    }
}

/// C25 to C27 for many calls at once. Each command is carried out as its single-call route
/// would, in the order sent, and answered on its own (one unknown call does not stop the
/// others); the batch commits once, and nothing is answered before it is durable. A batch with
/// a malformed command is refused whole, naming every bad command (`commands[3]`), and nothing
/// is carried out.
#[utoipa::path(
    post,
    path = "/v1/tenants/{tenant}/control",
    params(("tenant" = String, Path)),
    request_body = ControlBatchRequest,
    responses(
        (status = 200, description = "One answer per command", body = ControlBatchResponse),
        (status = 400, description = "Malformed commands (nothing was carried out)", body = crate::app::ErrorBody),
        (status = 404, description = "Unknown tenant", body = crate::app::ErrorBody),
        (status = 413, description = "Too many commands or too large a body", body = crate::app::ErrorBody),
        (status = 422, description = "Well-formed commands whose values cannot be used together, as the single-call route would refuse them (`unprocessable_request`; nothing was carried out)", body = crate::app::ErrorBody)
    ),
    tag = "call control",
    security(("key" = []))
)]
pub async fn control_batch(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(tenant): Path<String>,
    headers: axum::http::HeaderMap,
    Json(body): Json<ControlBatchRequest>,
) -> ApiResult<Json<ControlBatchResponse>> {
    caller.check(&tenant, Access::Control)?;
    let max = state.config.max_batch_records;
    if body.commands.len() > max {
        return Err(ApiError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            "batch_too_large",
            format!(
                "{} commands in one batch; the limit is {max}",
                body.commands.len()
            ),
        ));
    }
    let (ops, steps) = prepare_batch(&tenant, body.commands)?;
    let lang = i18n::Lang::negotiate(
        headers
            .get(axum::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    );
    // The op and call id of each command, to name the ones that fail.
    let named: Vec<(&'static str, String)> = ops
        .into_iter()
        .zip(&steps)
        .map(|(op, step)| (op, step.call_id().to_string()))
        .collect();
    let BatchAnswered(answers) = state
        .writer
        .execute(Command::Control(ctl::ControlCommand::Batch {
            tenant,
            steps,
        }))
        .await?;
    let results = named
        .into_iter()
        .zip(answers)
        .map(|((op, call_id), answer)| command_result(op, call_id, answer, lang))
        .collect();
    Ok(Json(ControlBatchResponse { results }))
}

/// Every command of a batch checked: the steps and their names, or the batch refused whole,
/// naming every bad command (`commands[3]`).
fn prepare_batch(
    tenant: &str,
    commands: Vec<ControlCommand>,
) -> ApiResult<(Vec<&'static str>, Vec<ControlStep>)> {
    let mut ops = Vec::with_capacity(commands.len());
    let mut steps = Vec::with_capacity(commands.len());
    let mut problems = Vec::new();
    let mut malformed = false;
    for (i, command) in commands.into_iter().enumerate() {
        match command.prepare(tenant) {
            Ok((op, step)) => {
                ops.push(op);
                steps.push(step);
            }
            Err(e) => {
                malformed |= e.status == axum::http::StatusCode::BAD_REQUEST;
                problems.push(format!("commands[{i}]: {}", e.detail));
            }
        }
    }
    if problems.is_empty() {
        return Ok((ops, steps));
    }
    let detail = summarize(&problems);
    // Malformed if any command is; else only values that cannot be used together.
    Err(if malformed {
        ApiError::invalid(detail)
    } else {
        ApiError::unprocessable(detail)
    })
}

/// One command's answer as JSON: the single-call route's body, or the error it would have
/// answered, in `lang`.
fn command_result(
    op: &'static str,
    call_id: String,
    answer: ServiceResult<StepAnswer>,
    lang: i18n::Lang,
) -> CommandResult {
    let mut result = CommandResult {
        op: op.to_string(),
        call_id,
        status: 200,
        authorize: None,
        answer: None,
        extend: None,
        end: None,
        error: None,
    };
    match answer {
        Ok(StepAnswer::Authorized(a)) => result.authorize = Some(authorize_json(a)),
        Ok(StepAnswer::Answered(a)) => result.answer = Some(answer_json(a)),
        Ok(StepAnswer::Extended(e)) => result.extend = Some(extend_json(e)),
        Ok(StepAnswer::Ended(e)) => result.end = Some(end_json(&e)),
        Err(e) => {
            let e = ApiError::from(e);
            result.status = e.status.as_u16();
            result.error = Some(CommandError {
                code: e.code.to_string(),
                message: i18n::message(e.code, lang).to_string(),
                lang: lang.tag().to_string(),
                detail: (!e.detail.is_empty()).then_some(e.detail),
                rule: e.rule.map(str::to_string),
            });
        }
    }
    result
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IngestResponse {
    /// One result per record, in the order sent.
    pub results: Vec<OutcomeJson>,
    pub charged: usize,
    pub refused: usize,
    /// Records already processed with the same content (nothing changed, C23).
    pub replayed: usize,
}

/// C23, C29: idempotent ingestion of call records in bulk, rated like real time but never
/// refused for credits (the calls already happened). A batch with any malformed record is
/// refused whole, naming every bad record.
#[utoipa::path(
    post,
    path = "/v1/tenants/{tenant}/calls",
    params(("tenant" = String, Path)),
    request_body = IngestRequest,
    responses(
        (status = 200, description = "Each record charged or refused", body = IngestResponse),
        (status = 400, description = "Malformed records (nothing was processed)", body = crate::app::ErrorBody),
        (status = 413, description = "Too many records or too large a body", body = crate::app::ErrorBody),
        (status = 422, description = "A record names another tenant than the path's (`unprocessable_request`; nothing was processed)", body = crate::app::ErrorBody)
    ),
    tag = "call records",
    security(("key" = []))
)]
pub async fn ingest(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(tenant): Path<String>,
    Json(body): Json<IngestRequest>,
) -> ApiResult<Json<IngestResponse>> {
    caller.check(&tenant, Access::Bridge)?;
    let records = body.records(state.config.max_batch_records, &tenant)?;
    let (ingested, currency): (Vec<Ingested>, Currency) = state
        .writer
        .execute(Command::Ingest { tenant, records })
        .await?;
    let results: Vec<OutcomeJson> = ingested
        .iter()
        .map(|r| OutcomeJson::new(&r.call_id, &r.outcome, r.replay, currency))
        .collect();
    let charged = results
        .iter()
        .filter(|r| r.status == "charged" && !r.replay)
        .count();
    let replayed = results.iter().filter(|r| r.replay).count();
    let refused = results
        .iter()
        .filter(|r| r.status == "refused" && !r.replay)
        .count();
    Ok(Json(IngestResponse {
        results,
        charged,
        refused,
        replayed,
    }))
}
