//! Monthly statements of the Communications Credits wallet: `GET
//! /v1/tenants/{tenant}/statements/{month}` as JSON, as an HTML page or as a PDF, in any of the
//! five languages. Built from committed history on a read-only connection (the journal, and
//! the stored call behind each debit of the month); the month is a calendar month in the
//! tenant's time zone (charging.md sections 4 and 7).

use crate::access::Route;
use crate::app::{AppState, Caller, Path, Query};
use crate::auth::Access;
use crate::error::{ApiError, ApiResult};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use minutely_core::calendar::Month;
use minutely_core::lang::Lang;
pub use minutely_service::statements::{
    CategoryUsageJson, CountryUsageJson, ForfeitLineJson, FundingLineJson, MAX_JOURNAL_ENTRIES,
    StatementJson, UsageTotalsJson, collect, parse_lang, pdf_file_name, statement_error,
};
use serde::Deserialize;
use std::sync::OnceLock;
use std::time::Duration;
use tokio::sync::Semaphore;
use utoipa::{IntoParams, OpenApi};

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

/// PDF statements drawn at once; more wait for a turn.
const PDF_SLOTS: usize = 2;

/// How long a PDF request waits for a turn before it is answered 503.
const PDF_WAIT: Duration = Duration::from_secs(20);

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
