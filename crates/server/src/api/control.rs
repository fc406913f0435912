//! Real-time call control (C25 to C27) and call-record ingestion (C23, C29): the bridge's
//! routes.

use crate::access::Route;
use crate::api::types::{CallRecordJson, OutcomeJson, instant, money};
use crate::app::{AppState, Caller, Json, JsonOrEmpty, Path};
use crate::auth::Access;
use crate::error::{ApiError, ApiResult};
use crate::i18n;
use crate::writer::Ctx;
use axum::extract::State;
use jiff::Timestamp;
use minutely_core::control::{ControlError, Decision, Extension, Grant};
use minutely_core::engine::TenantBook;
use minutely_core::ident;
use minutely_core::money::Currency;
use minutely_core::rating::{CallRecord, Direction, Rater};
use minutely_service::Command;
use minutely_service::ingest::{Ingested, is_stored};
pub use minutely_service::input::control::{
    AuthorizeRequest, EndRequest, ExtendRequest, IngestRequest, MAX_DURATION_S, summarize,
};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

#[derive(OpenApi)]
#[openapi(components(schemas(
    AuthorizeRequest,
    AuthorizeResponse,
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
        Route::documented(Bridge, __path_authorize, authorize),
        Route::documented(Bridge, __path_extend, extend),
        Route::documented(Bridge, __path_end, end),
        Route::documented(Bridge, __path_control_batch, control_batch),
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
}

/// How far an authorization's `start` may be from the server's clock, in seconds.
pub const MAX_START_SKEW_S: i64 = 3600;

/// Runs `f` on the tenant's book with a rater over the card of the tenant's currency, once the
/// book knows the first results of `call_ids` (C23); the wallet and pool are written at commit.
/// `unknown_tenant` when there is no such tenant.
fn rate_in_book<T>(
    ctx: &mut Ctx<'_>,
    tenant: &str,
    call_ids: &[&str],
    f: impl FnOnce(&mut TenantBook, &mut Rater<'_>) -> T,
) -> ApiResult<(T, Currency)> {
    ctx.load_seen(tenant, call_ids)?;
    let (book, catalogue) = ctx.book_and_catalogue(tenant)?;
    let currency = book.tenant.currency;
    let out = catalogue.with_rater(currency, |rater| f(book, rater));
    ctx.touched(tenant);
    Ok((out, currency))
}

/// A grant's credit held, pool minutes held and expiry, as JSON values.
fn grant_fields(g: &Grant, currency: Currency) -> (String, u32, String) {
    (
        money(currency, g.credit),
        g.pool_minutes,
        instant(g.expires_at),
    )
}

fn control_error(e: ControlError, call_id: &str) -> ApiError {
    match e {
        ControlError::CallNotFound => ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            "call_not_found",
            format!(
                "no authorized call {call_id:?}; an end report of an unauthorized call must carry its record"
            ),
        ),
        ControlError::CallAlreadyEnded => ApiError::new(
            axum::http::StatusCode::CONFLICT,
            "call_already_ended",
            format!("call {call_id:?} has already ended"),
        ),
        ControlError::Refused(reason) => {
            ApiError::reason(reason, format!("call {call_id:?}: {}", reason.describe()))
        }
    }
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
    caller.check(&tenant, Access::Bridge)?;
    let command = AuthorizeCommand::new(call_id, body)?;
    state
        .writer
        .run(move |ctx| command.apply(ctx, &tenant))
        .await
        .map(Json)
}

/// An authorization whose body passed its checks, ready for the writer.
pub struct AuthorizeCommand {
    call_id: String,
    body: AuthorizeRequest,
    direction: Direction,
    start: Option<Timestamp>,
}

impl AuthorizeCommand {
    pub fn new(call_id: String, body: AuthorizeRequest) -> ApiResult<AuthorizeCommand> {
        ident::call_id("call_id", &call_id)?;
        let (direction, start) = body.check()?;
        Ok(AuthorizeCommand {
            call_id,
            body,
            direction,
            start,
        })
    }

    /// C25, in the writer.
    pub fn apply(self, ctx: &mut Ctx<'_>, tenant: &str) -> ApiResult<AuthorizeResponse> {
        let AuthorizeCommand {
            call_id,
            body,
            direction,
            start,
        } = self;
        let now = ctx.now;
        let start = start.unwrap_or(now);
        // A grant runs from the start: one far from the server's clock would lapse at once
        // or hold credit for a call that has not begun.
        let skew = (start.as_second() - now.as_second()).abs();
        if skew > MAX_START_SKEW_S {
            return Err(ApiError::unprocessable(format!(
                "start {} is more than {MAX_START_SKEW_S} s from the server's clock ({})",
                instant(start),
                instant(now)
            )));
        }
        let call = CallRecord {
            call_id,
            conference_id: body.conference_id,
            organizer: body.organizer,
            direction,
            service_number: body.service_number,
            caller_number: body.caller_number,
            destination_number: body.destination_number,
            start,
            end: start,
        };
        let policy = ctx.control;
        let ((known, (decision, effects, holds)), currency) =
            rate_in_book(ctx, tenant, &[call.call_id.as_str()], |book, rater| {
                let known = book.seen.contains_key(&call.call_id)
                    || book.live().contains_key(&call.call_id);
                (known, book.authorize(rater, &call, now, &policy))
            })?;
        ctx.effects(tenant, effects);
        ctx.holds(tenant, holds);
        let currency_code = currency.code().to_string();
        Ok(match decision {
            Decision::Allow(g) => {
                let (reserved, pool, expires) = grant_fields(&g, currency);
                AuthorizeResponse {
                    call_id: call.call_id,
                    decision: "allow".into(),
                    reason: None,
                    rule: None,
                    max_duration_s: g.max_duration_s,
                    funding: Some(g.funding.as_str().to_string()),
                    reserved: Some(reserved),
                    reserved_pool_minutes: Some(pool),
                    currency: currency_code,
                    start: instant(start),
                    expires_at: Some(expires),
                    replay: g.replay,
                }
            }
            Decision::Deny(reason) => {
                let answer = AuthorizeResponse {
                    call_id: call.call_id.clone(),
                    decision: "deny".into(),
                    reason: Some(reason.code().to_string()),
                    rule: Some(reason.rule().to_string()),
                    max_duration_s: Some(0),
                    funding: None,
                    reserved: None,
                    reserved_pool_minutes: None,
                    currency: currency_code,
                    start: instant(start),
                    expires_at: None,
                    replay: false,
                };
                // A new denial is recorded like a refused record (refused-calls report, and
                // the same answer when asked again); a repeated one is already there.
                if !known {
                    ctx.call(
                        tenant,
                        call,
                        minutely_core::engine::Outcome::Refused(reason),
                    );
                }
                answer
            }
        })
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
    caller.check(&tenant, Access::Bridge)?;
    let command = ExtendCommand::new(call_id, body)?;
    state
        .writer
        .run(move |ctx| command.apply(ctx, &tenant))
        .await
        .map(Json)
}

/// An extension whose body passed its checks, ready for the writer.
pub struct ExtendCommand {
    call_id: String,
    granted_s: Option<u64>,
}

impl ExtendCommand {
    pub fn new(call_id: String, body: ExtendRequest) -> ApiResult<ExtendCommand> {
        ident::call_id("call_id", &call_id)?;
        if body.granted_s.is_some_and(|g| g > MAX_DURATION_S) {
            return Err(ApiError::invalid("granted_s is longer than a year"));
        }
        Ok(ExtendCommand {
            call_id,
            granted_s: body.granted_s,
        })
    }

    /// C26, in the writer.
    pub fn apply(self, ctx: &mut Ctx<'_>, tenant: &str) -> ApiResult<ExtendResponse> {
        let call_id = self.call_id;
        let (now, policy) = (ctx.now, ctx.control);
        let ((answer, effects, holds), currency) =
            rate_in_book(ctx, tenant, &[call_id.as_str()], |book, rater| {
                book.extend(rater, &call_id, self.granted_s, now, &policy)
            })?;
        ctx.effects(tenant, effects);
        ctx.holds(tenant, holds);
        let (extended, grant) = match answer.map_err(|e| control_error(e, &call_id))? {
            Extension::Extended(g) => (true, g),
            Extension::Exhausted(g) => (false, g),
        };
        let (reserved, pool, expires) = grant_fields(&grant, currency);
        Ok(ExtendResponse {
            call_id,
            extended,
            reason: (!extended).then(|| "no_more_credit".to_string()),
            max_duration_s: grant.max_duration_s,
            funding: grant.funding.as_str().to_string(),
            reserved,
            reserved_pool_minutes: pool,
            currency: currency.code().to_string(),
            expires_at: expires,
            replay: grant.replay,
        })
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
        (status = 409, description = "The call id was used for another call", body = crate::app::ErrorBody),
        (status = 422, description = "Both `end` and `duration_s`, or a `record` of another call id (`unprocessable_request`)", body = crate::app::ErrorBody)
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
    caller.check(&tenant, Access::Bridge)?;
    let command = EndCommand::new(call_id, body)?;
    state
        .writer
        .run(move |ctx| command.apply(ctx, &tenant))
        .await
        .map(Json)
}

/// An end report whose body passed its checks, ready for the writer.
pub struct EndCommand {
    call_id: String,
    end_at: Option<Timestamp>,
    duration_s: Option<u64>,
    record: Option<CallRecord>,
}

impl EndCommand {
    pub fn new(call_id: String, body: EndRequest) -> ApiResult<EndCommand> {
        ident::call_id("call_id", &call_id)?;
        let (end_at, record) = body.check(&call_id)?;
        Ok(EndCommand {
            call_id,
            end_at,
            duration_s: body.duration_s,
            record,
        })
    }

    /// C27 and C28, in the writer.
    pub fn apply(self, ctx: &mut Ctx<'_>, tenant: &str) -> ApiResult<OutcomeJson> {
        let EndCommand {
            call_id,
            end_at,
            duration_s,
            record,
        } = self;
        let now = ctx.now;
        let ((result, holds), currency) =
            rate_in_book(ctx, tenant, &[call_id.as_str()], |book, rater| {
                // The end instant: given, or start + duration, or the record's, or now.
                let start = book
                    .live()
                    .get(&call_id)
                    .map(|r| r.call.start)
                    .or(record.as_ref().map(|r| r.start));
                let end = match (end_at, duration_s, start, &record) {
                    (Some(end), _, _, _) => end,
                    (None, Some(d), Some(start), _) => {
                        start + jiff::SignedDuration::from_secs(d as i64)
                    }
                    (None, None, _, Some(r)) => r.end,
                    _ => now,
                };
                let record = record.map(|r| CallRecord { end, ..r });
                book.end_call(rater, &call_id, end, record.as_ref(), now)
            })?;
        ctx.holds(tenant, holds);
        let (call, processed) = result.map_err(|e| control_error(e, &call_id))?;
        let outcome = OutcomeJson::new(&call_id, &processed.outcome, processed.replay, currency);
        // A first result is stored (C23); a replay or a reused id changes nothing.
        if let Some(call) = call.filter(|_| is_stored(&processed)) {
            ctx.call(tenant, call, processed.outcome);
        }
        ctx.effects(tenant, processed.effects);
        Ok(outcome)
    }
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
        body: AuthorizeRequest,
    },
    /// As `POST /v1/tenants/{tenant}/calls/{call_id}/extend`.
    Extend {
        call_id: String,
        #[serde(default)]
        body: ExtendRequest,
    },
    /// As `POST /v1/tenants/{tenant}/calls/{call_id}/end`.
    End {
        call_id: String,
        #[serde(default)]
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
    /// `authorize`, `extend` or `end`.
    pub op: String,
    pub call_id: String,
    /// The status the single-call route would have answered.
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorize: Option<AuthorizeResponse>,
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

/// A batch's command once its body passed its checks.
enum Prepared {
    Authorize(AuthorizeCommand),
    Extend(ExtendCommand),
    End(EndCommand),
}

impl ControlCommand {
    fn prepare(self) -> ApiResult<Prepared> {
        Ok(match self {
            ControlCommand::Authorize { call_id, body } => {
                Prepared::Authorize(AuthorizeCommand::new(call_id, body)?)
            }
            ControlCommand::Extend { call_id, body } => {
                Prepared::Extend(ExtendCommand::new(call_id, body)?)
            }
            ControlCommand::End { call_id, body } => Prepared::End(EndCommand::new(call_id, body)?),
        })
    }
}

impl Prepared {
    fn op_and_id(&self) -> (&'static str, &str) {
        match self {
            Prepared::Authorize(c) => ("authorize", &c.call_id),
            Prepared::Extend(c) => ("extend", &c.call_id),
            Prepared::End(c) => ("end", &c.call_id),
        }
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
    caller.check(&tenant, Access::Bridge)?;
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
    let mut commands = Vec::with_capacity(body.commands.len());
    let mut problems = Vec::new();
    let mut malformed = false;
    for (i, command) in body.commands.into_iter().enumerate() {
        match command.prepare() {
            Ok(c) => commands.push(c),
            Err(e) => {
                malformed |= e.status == axum::http::StatusCode::BAD_REQUEST;
                problems.push(format!("commands[{i}]: {}", e.detail));
            }
        }
    }
    if !problems.is_empty() {
        let detail = summarize(&problems);
        // Malformed if any command is; else only values that cannot be used together.
        return Err(if malformed {
            ApiError::invalid(detail)
        } else {
            ApiError::unprocessable(detail)
        });
    }
    let lang = i18n::Lang::negotiate(
        headers
            .get(axum::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    );
    let results = state
        .writer
        .run(move |ctx| {
            // An unknown tenant refuses the whole batch, as it would each command.
            ctx.book(&tenant)?;
            // Every call id of the batch is looked up in the store at once (C23).
            let ids: Vec<&str> = commands.iter().map(|c| c.op_and_id().1).collect();
            ctx.load_seen(&tenant, &ids)?;
            Ok(commands
                .into_iter()
                .map(|command| {
                    let (op, call_id) = command.op_and_id();
                    let mut result = CommandResult {
                        op: op.to_string(),
                        call_id: call_id.to_string(),
                        status: 200,
                        authorize: None,
                        extend: None,
                        end: None,
                        error: None,
                    };
                    let done = match command {
                        Prepared::Authorize(c) => {
                            c.apply(ctx, &tenant).map(|a| result.authorize = Some(a))
                        }
                        Prepared::Extend(c) => {
                            c.apply(ctx, &tenant).map(|a| result.extend = Some(a))
                        }
                        Prepared::End(c) => c.apply(ctx, &tenant).map(|a| result.end = Some(a)),
                    };
                    if let Err(e) = done {
                        result.status = e.status.as_u16();
                        result.error = Some(CommandError {
                            code: e.code.to_string(),
                            message: i18n::message(e.code, lang).to_string(),
                            lang: lang.tag().to_string(),
                            detail: (!e.detail.is_empty()).then_some(e.detail),
                            rule: e.rule.map(str::to_string),
                        });
                    }
                    result
                })
                .collect::<Vec<_>>())
        })
        .await?;
    Ok(Json(ControlBatchResponse { results }))
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
        (status = 413, description = "Too many records or too large a body", body = crate::app::ErrorBody)
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
    let records = body.records(state.config.max_batch_records)?;
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
