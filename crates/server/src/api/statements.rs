//! Monthly statements of the Communications Credits wallet: `GET
//! /v1/tenants/{tenant}/statements/{month}` as JSON, as an HTML page or as a PDF, in any of the
//! five languages. Built from committed history on a read-only connection (the journal, and
//! the stored call behind each debit of the month); the month is a calendar month in the
//! tenant's time zone (charging.md sections 4 and 7).

use crate::access::Route;
use crate::api::types::{instant, money};
use crate::app::{AppState, Caller, Path, Query};
use crate::auth::Access;
use crate::error::{ApiError, ApiResult};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use minutely_core::calendar::Month;
use minutely_core::directory::Tenant;
use minutely_core::engine::Outcome;
use minutely_core::lang::Lang;
use minutely_core::money::Currency;
use minutely_core::rating::Category;
use minutely_statements::model::Usage;
use minutely_statements::{Builder, CallFacts, Period, Statement, StatementError};
use minutely_store::Store;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;
use std::time::Duration;
use tokio::sync::Semaphore;
use utoipa::{IntoParams, OpenApi, ToSchema};

#[derive(OpenApi)]
#[openapi(components(schemas(
    StatementJson,
    FundingLineJson,
    ForfeitLineJson,
    CategoryUsageJson,
    CountryUsageJson,
    UsageTotalsJson
)))]
pub struct Doc;

/// The routes of this module, each with its access class (`crate::access`).
pub fn routes() -> Vec<Route> {
    use crate::access::Policy::*;
    vec![Route::documented(TenantAdmin, __path_statement, statement)]
}

/// The most journal entries read for one statement (the whole journal is read: entries before
/// the month make its opening balance).
pub const MAX_JOURNAL_ENTRIES: u64 = 5_000_000;

/// Journal entries read per query.
const JOURNAL_PAGE: usize = 5_000;

/// PDF statements drawn at once; more wait for a turn.
const PDF_SLOTS: usize = 2;

/// How long a PDF request waits for a turn before it is answered 503.
const PDF_WAIT: Duration = Duration::from_secs(20);

/// The statement of `tenant` for `month`, read from `store` as it stands, as seen at `now`
/// (the current month is provisional, a later one refused).
pub fn collect(
    store: &Store,
    tenant: &Tenant,
    month: Month,
    now: Timestamp,
) -> Result<Statement, CollectError> {
    let period = Period::new(month, &tenant.timezone, now)?;
    let mut builder = Builder::new(
        &tenant.id,
        &tenant.name,
        tenant.currency,
        &tenant.timezone_name,
        tenant.timezone.clone(),
        period,
    );
    let mut after = 0u64;
    loop {
        let page = store.journal_page(&tenant.id, after, JOURNAL_PAGE)?;
        for entry in &page {
            if entry.seq > MAX_JOURNAL_ENTRIES {
                return Err(CollectError::Statement(StatementError::TooLarge {
                    month,
                    what: "journal entries",
                    limit: MAX_JOURNAL_ENTRIES as usize,
                }));
            }
            let mut lookup_error = None;
            let result = builder.add(entry, |call_id| {
                call_facts(store, &tenant.id, call_id, entry.seq).map_err(|e| match e {
                    CollectError::Statement(s) => s,
                    other => {
                        let seq = entry.seq;
                        lookup_error = Some(other);
                        StatementError::Ledger { seq }
                    }
                })
            });
            if let Some(e) = lookup_error {
                return Err(e);
            }
            result?;
        }
        match page.last() {
            Some(last) if page.len() == JOURNAL_PAGE => after = last.seq,
            _ => break,
        }
    }
    Ok(builder.finish()?)
}

/// What a statement knows of a debit's call: its category, its country (the destination of a
/// dial-out, the service number's country of a dial-in: the rate's country) and its whole
/// minutes (the duration rounded up to the minute, as in the usage reports).
fn call_facts(
    store: &Store,
    tenant: &str,
    call_id: &str,
    seq: u64,
) -> Result<CallFacts, CollectError> {
    let missing = || {
        CollectError::Statement(StatementError::MissingCall {
            seq,
            call_id: call_id.to_string(),
        })
    };
    let call = store.call(tenant, call_id)?.ok_or_else(missing)?;
    let Outcome::Charged(charge) = &call.outcome else {
        return Err(missing());
    };
    let rate_country = charge.rate.as_ref().map(|r| r.country.clone());
    let country = match charge.category {
        Category::DialOut => charge.other_country.clone().or(rate_country),
        Category::DialInToll | Category::DialInTollFree => rate_country,
    }
    .unwrap_or_default();
    Ok(CallFacts {
        category: charge.category,
        country,
        minutes: Decimal::from(charge.duration_s.div_ceil(60)),
    })
}

/// Why a statement could not be collected.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error(transparent)]
    Statement(#[from] StatementError),
    #[error(transparent)]
    Store(#[from] minutely_store::StoreError),
}

impl From<CollectError> for ApiError {
    fn from(e: CollectError) -> ApiError {
        match e {
            CollectError::Statement(s) => statement_error(s),
            CollectError::Store(s) => ApiError::from(s),
        }
    }
}

fn statement_error(e: StatementError) -> ApiError {
    match e {
        StatementError::BadMonth(_) => ApiError::invalid(e.to_string()),
        StatementError::FutureMonth { .. } | StatementError::TooLarge { .. } => {
            ApiError::unprocessable(e.to_string())
        }
        StatementError::Font(_) => ApiError::unavailable(e.to_string()),
        StatementError::Ledger { .. }
        | StatementError::MissingCall { .. }
        | StatementError::Pdf(_)
        | StatementError::Locale { .. } => ApiError::internal(e),
    }
}

// ---------------------------------------------------------------------------------------------
// JSON
// ---------------------------------------------------------------------------------------------

/// One funding or auto-recharge of the month.
#[derive(Debug, Serialize, ToSchema)]
pub struct FundingLineJson {
    /// The journal entry.
    pub seq: u64,
    pub at: String,
    /// The tenant-local date.
    pub date: String,
    /// `funding` or `recharge`.
    pub kind: String,
    /// The funding reference, or for a recharge the call whose debit caused it.
    pub reference: String,
    pub amount: String,
}

/// One forfeit of the month: what remained of a lot at its expiry (C10).
#[derive(Debug, Serialize, ToSchema)]
pub struct ForfeitLineJson {
    pub seq: u64,
    pub at: String,
    pub date: String,
    /// The lot, as the journal names it (`lot 3`).
    pub lot: String,
    pub amount: String,
}

/// Credit-paid usage of a set of calls.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageTotalsJson {
    /// Debits (one per call).
    pub calls: u64,
    /// Whole minutes of the calls, each rounded up (as in the usage reports).
    pub minutes: String,
    pub amount: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryUsageJson {
    /// `dial_in_toll`, `dial_in_toll_free` or `dial_out`.
    pub category: String,
    #[serde(flatten)]
    pub usage: UsageTotalsJson,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CountryUsageJson {
    /// The destination (dial-out) or service number (dial-in) country, ISO 3166-1 alpha-2;
    /// empty when unknown.
    pub country: String,
    #[serde(flatten)]
    pub usage: UsageTotalsJson,
}

/// The monthly statement of the Communications Credits wallet. `opening_balance +
/// fundings_total - usage_total - forfeits_total = closing_balance`, exactly; every amount is
/// the ledger's own.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatementJson {
    pub tenant: String,
    pub tenant_name: String,
    /// `YYYY-MM`.
    pub month: String,
    pub currency: String,
    /// The tenant's time zone, which the month is read in.
    pub timezone: String,
    /// The month's first instant.
    pub from: String,
    /// The next month's first instant (exclusive).
    pub to: String,
    /// True while the month runs: the statement shows the movements to date.
    pub provisional: bool,
    /// When the statement was made.
    pub as_of: String,
    pub opening_balance: String,
    pub fundings: Vec<FundingLineJson>,
    pub fundings_total: String,
    /// Every category, in the order dial-in toll, dial-in toll-free, dial-out.
    pub usage_by_category: Vec<CategoryUsageJson>,
    /// By country code.
    pub usage_by_country: Vec<CountryUsageJson>,
    pub usage_total: UsageTotalsJson,
    pub forfeits: Vec<ForfeitLineJson>,
    pub forfeits_total: String,
    pub closing_balance: String,
}

fn usage_json(currency: Currency, u: &Usage) -> UsageTotalsJson {
    UsageTotalsJson {
        calls: u.calls,
        minutes: u.minutes.normalize().to_string(),
        amount: money(currency, u.amount),
    }
}

impl StatementJson {
    pub fn new(s: &Statement) -> StatementJson {
        let c = s.currency;
        StatementJson {
            tenant: s.tenant.clone(),
            tenant_name: s.tenant_name.clone(),
            month: s.period.month.to_string(),
            currency: c.code().to_string(),
            timezone: s.timezone.clone(),
            from: instant(s.period.start),
            to: instant(s.period.end),
            provisional: s.period.provisional,
            as_of: instant(s.period.as_of),
            opening_balance: money(c, s.opening),
            fundings: s
                .fundings
                .iter()
                .map(|l| FundingLineJson {
                    seq: l.seq,
                    at: instant(l.at),
                    date: l.date.to_string(),
                    kind: if l.recharge { "recharge" } else { "funding" }.to_string(),
                    reference: l.reference.clone(),
                    amount: money(c, l.amount),
                })
                .collect(),
            fundings_total: money(c, s.fundings_total),
            usage_by_category: s
                .by_category
                .iter()
                .map(|(category, u)| CategoryUsageJson {
                    category: category.as_str().to_string(),
                    usage: usage_json(c, u),
                })
                .collect(),
            usage_by_country: s
                .by_country
                .iter()
                .map(|(country, u)| CountryUsageJson {
                    country: country.clone(),
                    usage: usage_json(c, u),
                })
                .collect(),
            usage_total: usage_json(c, &s.usage),
            forfeits: s
                .forfeits
                .iter()
                .map(|l| ForfeitLineJson {
                    seq: l.seq,
                    at: instant(l.at),
                    date: l.date.to_string(),
                    lot: l.lot.clone(),
                    amount: money(c, l.amount),
                })
                .collect(),
            forfeits_total: money(c, s.forfeits_total),
            closing_balance: money(c, s.closing),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// GET /statements/{month}
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatementQuery {
    /// `json` (the default), `html` or `pdf`.
    pub format: Option<String>,
    /// `en`, `ja`, `zh-CN`, `fr` or `de`; without it the language is negotiated from
    /// `Accept-Language`.
    pub lang: Option<String>,
}

/// What the statement is answered as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Html,
    Pdf,
}

impl Format {
    pub fn parse(text: Option<&str>) -> Result<Format, String> {
        match text.map(str::trim) {
            None | Some("") | Some("json") => Ok(Format::Json),
            Some("html") => Ok(Format::Html),
            Some("pdf") => Ok(Format::Pdf),
            Some(other) => Err(format!(
                "format: {:?} is not a statement format; use json, html or pdf",
                other.chars().take(40).collect::<String>()
            )),
        }
    }
}

/// A `lang` parameter, checked: one of the five tags.
pub fn parse_lang(text: &str) -> Result<Lang, String> {
    Lang::from_tag(text.trim()).ok_or_else(|| {
        format!(
            "lang: {:?} is not a language of statements; use en, ja, zh-CN, fr or de",
            text.chars().take(40).collect::<String>()
        )
    })
}

/// The file name of a PDF statement, safe characters only.
pub fn pdf_file_name(tenant: &str, month: Month, lang: Lang) -> String {
    let safe: String = tenant
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("statement-{safe}-{month}-{}.pdf", lang.tag())
}

fn pdf_slots() -> &'static Semaphore {
    static SLOTS: OnceLock<Semaphore> = OnceLock::new();
    SLOTS.get_or_init(|| Semaphore::new(PDF_SLOTS))
}

/// The monthly statement of the tenant's Communications Credits wallet (C10, C24): opening
/// balance, fundings and recharges, usage by category and by country, forfeits, closing
/// balance, for one calendar month in the tenant's time zone. The current month is answered
/// as provisional; a month that has not started is refused. `format=html` gives a
/// self-contained page, `format=pdf` a PDF (A4) with its font embedded; both are localized
/// (`lang`, else `Accept-Language`), and carry `Content-Language`.
#[utoipa::path(
    get,
    path = "/v1/tenants/{tenant}/statements/{month}",
    params(
        ("tenant" = String, Path),
        ("month" = String, Path, description = "A calendar month, YYYY-MM, in the tenant's time zone"),
        StatementQuery
    ),
    responses(
        (status = 200, description = "The statement (JSON by default)", body = StatementJson,
            content(
                (StatementJson = "application/json"),
                (String = "text/html"),
                (Vec<u8> = "application/pdf")
            )),
        (status = 400, description = "A bad month, format or lang", body = crate::app::ErrorBody),
        (status = 404, description = "Unknown tenant", body = crate::app::ErrorBody),
        (status = 422, description = "A month that has not started in the tenant's time zone, or one too large to draw (`unprocessable_request`)", body = crate::app::ErrorBody),
        (status = 503, description = "No font for the PDF, or too many PDFs being drawn", body = crate::app::ErrorBody)
    ),
    tag = "statements",
    security(("key" = []))
)]
pub async fn statement(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((tenant, month)): Path<(String, String)>,
    Query(query): Query<StatementQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    caller.check(&tenant, Access::Admin)?;
    let month = Month::parse(&month).map_err(|e| statement_error(e.into()))?;
    let format = Format::parse(query.format.as_deref()).map_err(ApiError::invalid)?;
    let lang = match query.lang.as_deref() {
        Some(tag) if !tag.trim().is_empty() => parse_lang(tag).map_err(ApiError::invalid)?,
        _ => Lang::negotiate(
            headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok()),
        ),
    };
    let directory = state
        .writer
        .with_book(&tenant, |b| Ok(b.tenant.clone()))
        .await?;
    let now = state.now();
    let statement = state
        .read(move |store| Ok(collect(store, &directory, month, now)?))
        .await?;
    let language = HeaderValue::from_static(lang.tag());
    match format {
        Format::Json => Ok((
            StatusCode::OK,
            [(header::CONTENT_LANGUAGE, language)],
            axum::Json(StatementJson::new(&statement)),
        )
            .into_response()),
        Format::Html => {
            let page = tokio::task::spawn_blocking(move || {
                minutely_statements::html::render(&statement, lang)
            })
            .await
            .map_err(ApiError::internal)?
            .map_err(statement_error)?;
            Ok((
                StatusCode::OK,
                [
                    (
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("text/html; charset=utf-8"),
                    ),
                    (header::CONTENT_LANGUAGE, language),
                ],
                page,
            )
                .into_response())
        }
        Format::Pdf => {
            let _slot = tokio::time::timeout(PDF_WAIT, pdf_slots().acquire())
                .await
                .map_err(|_| ApiError::unavailable("too many PDF statements are being drawn"))?
                .map_err(ApiError::internal)?;
            let name = pdf_file_name(&tenant, month, lang);
            let pdf = tokio::task::spawn_blocking(move || {
                minutely_statements::pdf::render(&statement, lang, None)
            })
            .await
            .map_err(ApiError::internal)?
            .map_err(statement_error)?;
            let disposition = HeaderValue::from_str(&format!("inline; filename=\"{name}\""))
                .map_err(ApiError::internal)?;
            Ok((
                StatusCode::OK,
                [
                    (
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/pdf"),
                    ),
                    (header::CONTENT_DISPOSITION, disposition),
                    (header::CONTENT_LANGUAGE, language),
                ],
                pdf,
            )
                .into_response())
        }
    }
}
