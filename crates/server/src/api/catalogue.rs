//! The operator's catalogue (capability 1): the country table, the rate cards per currency with
//! their versions (CSV import and export, C36), and the rate lookup tool ("what does a call to
//! +81 3 ... cost?", C6 to C9).
//!
//! Access: every key may read the catalogue (a tenant admin needs the prices and a bridge may
//! check a destination); only an operator key may change it. Files are refused whole: a CSV
//! with any bad row changes nothing and the error lists every bad row (line, column, reason).
//! Catalogue changes are made by the writer in their own store transaction, then applied to the
//! writer's in-memory catalogue, so that rating sees them from the next job on.

use crate::access::Route;
use crate::api::audit::Actor;
use crate::api::types::{bounded, instant, money, origin_text, parse_optional_instant};
use crate::app::{AppState, Caller, Json, Path, Query};
use crate::error::{ApiError, ApiResult};
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use minutely_core::Reason;
use minutely_core::catalogue::{
    Availability, Conferencing, CountryFacts, RateEntry, RateKind, key_text,
};
use minutely_core::money::Currency;
use minutely_core::numbers::{Country, E164, NumberPlan, PlanAnswer};
use minutely_formats::{FileErrors, countries, ratecard};
use minutely_service::Command;
use minutely_service::commands::catalogue::{CatalogueAnswer, CatalogueCommand};
use minutely_store::ImportSummary;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

#[derive(OpenApi)]
#[openapi(components(schemas(
    CountryJson,
    CountriesReplaced,
    RateCardsResponse,
    RateCardJson,
    RateVersionJson,
    RateCardDiff,
    ChangedRate,
    ImportResponse,
    RateLookupResponse,
    RateEntryJson,
    CostJson
)))]
pub struct Doc;

/// The routes of this module, each with its access class (`crate::access`).
pub fn routes() -> Vec<Route> {
    use crate::access::Policy::*;
    vec![
        Route::documented(SharedRead, __path_get_countries, get_countries),
        Route::documented(Operator, __path_put_countries, put_countries),
        Route::documented(SharedRead, __path_list_rate_cards, list_rate_cards),
        Route::documented(SharedRead, __path_export_rate_card, export_rate_card),
        Route::documented(Operator, __path_import_rate_card, import_rate_card),
        Route::documented(SharedRead, __path_rate_card_diff, rate_card_diff),
        Route::documented(SharedRead, __path_rate_lookup, rate_lookup),
    ]
}

// ---------------------------------------------------------------------------------------------
// Helpers shared with the directory routes (bodies that are not JSON).
// ---------------------------------------------------------------------------------------------

/// Refuses a body whose content type is not one of `allowed` (compared without parameters such
/// as `charset`).
pub(crate) fn require_content_type(headers: &HeaderMap, allowed: &[&str]) -> ApiResult<()> {
    let value = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if allowed.contains(&essence.as_str()) {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        format!(
            "send the body with content-type {} (it was {value:?})",
            allowed.join(" or ")
        ),
    ))
}

/// The raw body, or our error for a body that could not be read (too large, cut short).
pub(crate) fn raw_body(body: Result<Bytes, BytesRejection>) -> ApiResult<Bytes> {
    body.map_err(|rejection| {
        let status = rejection.status();
        let code = if status == StatusCode::PAYLOAD_TOO_LARGE {
            "payload_too_large"
        } else {
            "invalid_request"
        };
        ApiError::new(status, code, rejection.body_text())
    })
}

/// A file refused whole: every bad row (line, column, reason) in the detail. A file without
/// its header line is malformed (400); a file of the format whose rows break its rules is
/// unprocessable (422).
pub(crate) fn file_refused(e: &FileErrors) -> ApiError {
    let headerless = e
        .errors
        .iter()
        .any(|row| row.reason.contains("the header must be"));
    let total = e.errors.len() + e.more;
    let rows: Vec<String> = e.errors.iter().map(ToString::to_string).collect();
    let mut detail = format!(
        "{} refused: {total} bad row{}; nothing was changed: {}",
        e.what,
        if total == 1 { "" } else { "s" },
        rows.join("; ")
    );
    if e.more > 0 {
        detail.push_str(&format!("; and {} more", e.more));
    }
    if headerless {
        ApiError::invalid(detail)
    } else {
        ApiError::unprocessable(detail)
    }
}

/// Runs CPU-heavy parsing off the async threads.
pub(crate) async fn blocking<T, F>(f: F) -> ApiResult<T>
where
    T: Send + 'static,
    F: FnOnce() -> ApiResult<T> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)?
}

fn parse_currency(field: &str, text: &str) -> ApiResult<Currency> {
    bounded(field, text)?;
    Currency::parse(text).map_err(|e| ApiError::invalid(format!("{field}: {e}")))
}

fn csv_response(text: String) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/csv; charset=utf-8"),
        )],
        text,
    )
        .into_response()
}

fn wants_csv(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("text/csv"))
}

// ---------------------------------------------------------------------------------------------
// Country table
// ---------------------------------------------------------------------------------------------

/// One row of the country table (the columns of `data/countries.csv`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CountryJson {
    /// ISO 3166-1 alpha-2 code.
    pub iso2: String,
    pub name: String,
    /// One of the 44 Zone A countries (C16, C18).
    pub zone_a: bool,
    /// C2: `yes`, `ppm_only` or `no`.
    pub conferencing: String,
    /// C4: `yes`, `on_request` or `no`.
    pub toll_dial_in: String,
    /// C4: `yes`, `on_request` or `no`.
    pub toll_free_dial_in: String,
    /// C3: Communications Credits can be set up.
    pub communications_credits: bool,
}

fn availability_text(a: Availability) -> &'static str {
    match a {
        Availability::Yes => "yes",
        Availability::OnRequest => "on_request",
        Availability::No => "no",
    }
}

impl CountryJson {
    fn new(f: &CountryFacts) -> CountryJson {
        CountryJson {
            iso2: f.country.to_string(),
            name: f.name.clone(),
            zone_a: f.zone_a,
            conferencing: match f.conferencing {
                Conferencing::Yes => "yes",
                Conferencing::PpmOnly => "ppm_only",
                Conferencing::No => "no",
            }
            .to_string(),
            toll_dial_in: availability_text(f.toll_dial_in).to_string(),
            toll_free_dial_in: availability_text(f.toll_free_dial_in).to_string(),
            communications_credits: f.communications_credits,
        }
    }
}

/// The country table, as JSON or (with `Accept: text/csv`) in the CSV format of
/// `data/countries.csv`. The table has at most one row per ISO code, so it is never paged.
#[utoipa::path(
    get,
    path = "/v1/countries",
    responses(
        (status = 200, description = "Every country, by ISO code", content(
            ([CountryJson] = "application/json"),
            (String = "text/csv")
        )),
        (status = 401, description = "No or bad key", body = crate::app::ErrorBody)
    ),
    tag = "catalogue",
    security(("key" = []))
)]
pub async fn get_countries(
    State(state): State<AppState>,
    Caller(_caller): Caller,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let table = state
        .writer
        .run(|ctx| Ok(ctx.catalogue.countries.clone()))
        .await?;
    if wants_csv(&headers) {
        return Ok(csv_response(countries::write(&table)));
    }
    let rows: Vec<CountryJson> = table.rows().map(CountryJson::new).collect();
    Ok(Json(rows).into_response())
}

/// What replacing the country table did.
#[derive(Debug, Serialize, ToSchema)]
pub struct CountriesReplaced {
    /// Rows in the new table.
    pub countries: usize,
}

/// Replaces the whole country table (operator only) from a CSV body (`text/csv`). A file with
/// any bad row is refused whole, every bad row listed; nothing changes then. Existing tenants
/// keep their configuration: the new table applies to later checks and to rating.
#[utoipa::path(
    put,
    path = "/v1/countries",
    request_body(content = String, content_type = "text/csv",
        description = "iso2,name,zone_a,conferencing,toll_dial_in,toll_free_dial_in,communications_credits"),
    responses(
        (status = 200, description = "The table was replaced", body = CountriesReplaced),
        (status = 400, description = "No header line; nothing changed", body = crate::app::ErrorBody),
        (status = 403, description = "Not an operator key", body = crate::app::ErrorBody),
        (status = 415, description = "Not text/csv", body = crate::app::ErrorBody),
        (status = 422, description = "Bad rows (every one listed, `unprocessable_request`); nothing changed", body = crate::app::ErrorBody)
    ),
    tag = "catalogue",
    security(("key" = []))
)]
pub async fn put_countries(
    State(state): State<AppState>,
    Caller(caller): Caller,
    actor: Actor,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<CountriesReplaced>> {
    caller.operator()?;
    require_content_type(&headers, &["text/csv"])?;
    let body = raw_body(body)?;
    let table = blocking(move || countries::parse(&body).map_err(|e| file_refused(&e))).await?;
    let count = table.rows().count();
    let command = CatalogueCommand::ReplaceCountries {
        actor: actor.0,
        table: Box::new(table),
    };
    state
        .writer
        .execute::<CatalogueAnswer>(Command::Catalogue(command))
        .await?;
    Ok(Json(CountriesReplaced { countries: count }))
}

// ---------------------------------------------------------------------------------------------
// Rate cards
// ---------------------------------------------------------------------------------------------

/// One version of a card.
#[derive(Debug, Serialize, ToSchema)]
pub struct RateVersionJson {
    pub effective_from: String,
    /// Entries of the version (all three tables).
    pub entries: usize,
}

/// A currency's card.
#[derive(Debug, Serialize, ToSchema)]
pub struct RateCardJson {
    pub currency: String,
    /// Every version, oldest first (C36).
    pub versions: Vec<RateVersionJson>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RateCardsResponse {
    /// One card per currency, by currency code.
    pub cards: Vec<RateCardJson>,
}

/// The currencies that have a rate card, with their versions.
#[utoipa::path(
    get,
    path = "/v1/rate-cards",
    responses(
        (status = 200, description = "Every card and its versions", body = RateCardsResponse),
        (status = 401, description = "No or bad key", body = crate::app::ErrorBody)
    ),
    tag = "catalogue",
    security(("key" = []))
)]
pub async fn list_rate_cards(
    State(state): State<AppState>,
    Caller(_caller): Caller,
) -> ApiResult<Json<RateCardsResponse>> {
    let mut cards = state
        .writer
        .run(|ctx| {
            Ok(ctx
                .catalogue
                .cards
                .values()
                .filter(|card| !card.versions().is_empty())
                .map(|card| RateCardJson {
                    currency: card.currency.code().to_string(),
                    versions: card
                        .versions()
                        .iter()
                        .map(|v| RateVersionJson {
                            effective_from: instant(v.effective_from),
                            entries: v.entries().len(),
                        })
                        .collect(),
                })
                .collect::<Vec<_>>())
        })
        .await?;
    cards.sort_by(|a, b| a.currency.cmp(&b.currency));
    Ok(Json(RateCardsResponse { cards }))
}

/// Every version of a currency's card, as CSV in the import format (what
/// `minutely rates export` writes). 404 when the currency has no card.
#[utoipa::path(
    get,
    path = "/v1/rate-cards/{currency}",
    params(("currency" = String, Path, description = "ISO 4217 code, such as EUR")),
    responses(
        (status = 200, description = "The card as CSV", body = String, content_type = "text/csv"),
        (status = 400, description = "Not a currency code", body = crate::app::ErrorBody),
        (status = 404, description = "No card for this currency", body = crate::app::ErrorBody)
    ),
    tag = "catalogue",
    security(("key" = []))
)]
pub async fn export_rate_card(
    State(state): State<AppState>,
    Caller(_caller): Caller,
    Path(currency): Path<String>,
) -> ApiResult<Response> {
    let currency = parse_currency("currency", &currency)?;
    // Committed state through a reader: writing a large card as CSV never holds the writer.
    let text = state
        .read(move |store| {
            let card = store.rate_card(currency)?;
            if card.versions().is_empty() {
                return Err(ApiError::not_found(format!("no {currency} rate card")));
            }
            Ok(ratecard::write(&card))
        })
        .await?;
    Ok(csv_response(text))
}

/// What an import did.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportResponse {
    pub currency: String,
    /// `effective_from` of the versions added.
    pub added: Vec<String>,
    /// `effective_from` of the versions already present with the same content.
    pub unchanged: Vec<String>,
    /// `effective_from` of the versions replaced by a corrected one (`replace=true`).
    pub replaced: Vec<String>,
}

/// How an import treats a version already stored with other content.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// `true`: the file's version replaces the stored one with the same `effective_from` (a
    /// corrected version; rerate the calls it priced afterwards). Default `false`: refused.
    pub replace: Option<bool>,
}

/// Imports a rate-card CSV for a currency (operator only; `text/csv`). A file with any invalid
/// row is refused whole with every bad row listed (line, column, reason). Versions are
/// immutable: an identical version is left alone, a new one is added, and a version with the
/// same `effective_from` and other content refuses the whole import (409 `conflict`), unless
/// `replace=true`: then the corrected version takes its place (audited), and calls already
/// charged keep their charge until they are rerated (`POST /v1/tenants/{tenant}/rerate`).
#[utoipa::path(
    post,
    path = "/v1/rate-cards/{currency}",
    params(("currency" = String, Path, description = "ISO 4217 code of every price in the file"), ImportQuery),
    request_body(content = String, content_type = "text/csv",
        description = "kind,key,origin,name,country,premium,rate_per_minute,connection_fee,first_block_s,increment_s,effective_from"),
    responses(
        (status = 200, description = "Versions added and unchanged", body = ImportResponse),
        (status = 400, description = "No header line; nothing changed", body = crate::app::ErrorBody),
        (status = 403, description = "Not an operator key", body = crate::app::ErrorBody),
        (status = 409, description = "A version exists with other content; nothing changed", body = crate::app::ErrorBody),
        (status = 415, description = "Not text/csv", body = crate::app::ErrorBody),
        (status = 422, description = "Bad rows (every one listed, `unprocessable_request`); nothing changed", body = crate::app::ErrorBody)
    ),
    tag = "catalogue",
    security(("key" = []))
)]
pub async fn import_rate_card(
    State(state): State<AppState>,
    Caller(caller): Caller,
    actor: Actor,
    Path(currency): Path<String>,
    Query(query): Query<ImportQuery>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<ImportResponse>> {
    caller.operator()?;
    let currency = parse_currency("currency", &currency)?;
    require_content_type(&headers, &["text/csv"])?;
    let body = raw_body(body)?;
    let card =
        blocking(move || ratecard::parse(&body, currency).map_err(|e| file_refused(&e))).await?;
    let command = CatalogueCommand::ImportRateCard {
        actor: actor.0,
        card: Box::new(card),
        replace: query.replace.unwrap_or(false),
    };
    let summary = state
        .writer
        .execute::<ImportSummary>(Command::Catalogue(command))
        .await?;
    Ok(Json(ImportResponse {
        currency: currency.code().to_string(),
        added: summary.added.into_iter().map(instant).collect(),
        unchanged: summary.unchanged.into_iter().map(instant).collect(),
        replaced: summary.replaced.into_iter().map(instant).collect(),
    }))
}

// ---------------------------------------------------------------------------------------------
// Diff between two versions
// ---------------------------------------------------------------------------------------------

/// Which two versions to compare.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DiffQuery {
    /// `effective_from` of the older version (RFC 3339); by default the version before `to`.
    pub from: Option<String>,
    /// `effective_from` of the newer version (RFC 3339); by default the latest.
    pub to: Option<String>,
}

/// An entry whose key is in both versions with other terms.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangedRate {
    pub before: RateEntryJson,
    pub after: RateEntryJson,
}

/// What changed from one version of a card to another. Entries are matched by kind, key and
/// origin; each list is in the order of the newer version's file (removed: the older's).
#[derive(Debug, Serialize, ToSchema)]
pub struct RateCardDiff {
    pub currency: String,
    /// The older version; null when `to` is the first version (everything is added).
    pub from: Option<String>,
    pub to: String,
    pub added: Vec<RateEntryJson>,
    pub removed: Vec<RateEntryJson>,
    pub changed: Vec<ChangedRate>,
    /// Entries with the same terms in both.
    pub unchanged: usize,
}

/// What changed between two versions of a currency's card (C36: versions are immutable, so a
/// price change is a new version).
#[utoipa::path(
    get,
    path = "/v1/rate-cards/{currency}/diff",
    params(("currency" = String, Path, description = "ISO 4217 code, such as EUR"), DiffQuery),
    responses(
        (status = 200, description = "Added, removed and changed entries", body = RateCardDiff),
        (status = 400, description = "Not a currency code, or not an instant", body = crate::app::ErrorBody),
        (status = 404, description = "No card, or no version at that instant", body = crate::app::ErrorBody)
    ),
    tag = "catalogue",
    security(("key" = []))
)]
pub async fn rate_card_diff(
    State(state): State<AppState>,
    Caller(_caller): Caller,
    Path(currency): Path<String>,
    Query(query): Query<DiffQuery>,
) -> ApiResult<Json<RateCardDiff>> {
    let currency = parse_currency("currency", &currency)?;
    let instant_of = |field: &str, text: Option<&str>| -> ApiResult<Option<Timestamp>> {
        // An empty value is refused like any other that is not an instant (leave the
        // parameter out for its default).
        text.map(|t| {
            minutely_formats::instant::parse(t).map_err(|_| {
                let shown: String = t.chars().take(64).collect();
                ApiError::invalid(format!(
                    "{field}: {shown:?} is not an RFC 3339 instant (a version's effective_from)"
                ))
            })
        })
        .transpose()
    };
    let from = instant_of("from", query.from.as_deref())?;
    let to = instant_of("to", query.to.as_deref())?;
    state
        .read(move |store| {
            let card = store.rate_card(currency)?;
            let countries = store.countries()?;
            let versions = card.versions();
            if versions.is_empty() {
                return Err(ApiError::not_found(format!("no {currency} rate card")));
            }
            let position = |field: &str, at: Timestamp| {
                versions
                    .iter()
                    .position(|v| v.effective_from == at)
                    .ok_or_else(|| {
                        ApiError::not_found(format!(
                            "{field}: the {currency} card has no version effective from {}",
                            instant(at)
                        ))
                    })
            };
            let new = match to {
                Some(at) => position("to", at)?,
                None => versions.len() - 1,
            };
            let old = match from {
                Some(at) => Some(position("from", at)?),
                None => new.checked_sub(1),
            };
            let json = |e: &RateEntry| {
                entry_json(
                    e,
                    currency,
                    countries.name(e.country),
                    countries.is_zone_a(e.country),
                )
            };
            let id = |e: &RateEntry| (e.kind, key_text(e), origin_text(e.origin));
            let older: Vec<&RateEntry> = old
                .map(|i| versions[i].entries().iter().collect())
                .unwrap_or_default();
            let newer = versions[new].entries();
            let by_id: std::collections::HashMap<_, &RateEntry> =
                older.iter().map(|e| (id(e), *e)).collect();
            let newer_ids: std::collections::HashSet<_> = newer.iter().map(id).collect();
            let same_terms = |a: &RateEntry, b: &RateEntry| {
                a.name == b.name
                    && a.country == b.country
                    && a.premium == b.premium
                    && a.rate_per_minute == b.rate_per_minute
                    && a.connection_fee == b.connection_fee
                    && a.first_block_s == b.first_block_s
                    && a.increment_s == b.increment_s
            };
            let (mut added, mut changed, mut unchanged) = (Vec::new(), Vec::new(), 0);
            for e in newer {
                match by_id.get(&id(e)) {
                    None => added.push(json(e)),
                    Some(before) if same_terms(before, e) => unchanged += 1,
                    Some(before) => changed.push(ChangedRate {
                        before: json(before),
                        after: json(e),
                    }),
                }
            }
            let removed = older
                .iter()
                .filter(|e| !newer_ids.contains(&id(e)))
                .map(|e| json(e))
                .collect();
            Ok(RateCardDiff {
                currency: currency.code().to_string(),
                from: old.map(|i| instant(versions[i].effective_from)),
                to: instant(versions[new].effective_from),
                added,
                removed,
                changed,
                unchanged,
            })
        })
        .await
        .map(Json)
}

// ---------------------------------------------------------------------------------------------
// Rate lookup
// ---------------------------------------------------------------------------------------------

/// The question of the rate lookup tool.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RateLookupQuery {
    /// ISO 4217 code of the card to look in.
    pub currency: String,
    /// The number dialled (`dial_out`) or the service number (dial-in kinds), E.164. A `+`
    /// sent raw in a query string reads as a space: a number without `+` is read as E.164
    /// digits (send `%2B` to be explicit).
    pub number: String,
    /// The call's start (RFC 3339); the server's clock when absent (C36: the version in force).
    pub at: Option<String>,
    /// `dial_out` (default), `dial_in_toll` or `dial_in_toll_free`.
    pub kind: Option<String>,
    /// For `dial_in_toll_free`: the caller's country (ISO 3166-1 alpha-2), or `*` for the
    /// any-origin rate (C35).
    pub origin: Option<String>,
}

/// The entry that prices the call.
#[derive(Debug, Serialize, ToSchema)]
pub struct RateEntryJson {
    /// `dial_out`, `dial_in_toll` or `dial_in_toll_free`.
    pub kind: String,
    /// The entry's key as written in the card (`+336`, `FR`).
    pub key: String,
    /// For toll-free entries: the origin country or `*`.
    pub origin: Option<String>,
    /// Destination name ("France mobile").
    pub name: String,
    /// ISO2 of the destination.
    pub country: String,
    /// The country's English name from the country table.
    pub country_name: String,
    pub zone_a: bool,
    /// Premium destinations are never paid by the pool (C18).
    pub premium: bool,
    pub rate_per_minute: String,
    pub connection_fee: String,
    pub first_block_s: u32,
    pub increment_s: u32,
    /// The version the entry belongs to.
    pub effective_from: String,
}

/// The cost of a call of one duration (C6, C7).
#[derive(Debug, Serialize, ToSchema)]
pub struct CostJson {
    pub duration_s: u64,
    pub billable_s: u64,
    /// Connection fee plus the rate for the billable seconds, rounded once.
    pub cost: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RateLookupResponse {
    pub currency: String,
    /// The number, normalised (`+81312345678`).
    pub number: String,
    /// The number's country from the numbering plan (`null` for a non-geographic number).
    pub number_country: Option<String>,
    pub kind: String,
    /// The instant the rate applies at.
    pub at: String,
    pub entry: RateEntryJson,
    /// The cost of 1, 5 and 60 minutes.
    pub costs: Vec<CostJson>,
}

/// The durations whose cost a lookup shows: 1, 5 and 60 minutes.
const LOOKUP_DURATIONS_S: [u64; 3] = [60, 300, 3600];

/// A lookup question, checked.
#[derive(Debug, Clone, Copy)]
struct Lookup {
    currency: Currency,
    number: E164,
    number_country: Option<Country>,
    kind: RateKind,
    at: Timestamp,
    origin: Option<Country>,
}

fn invalid_number(text: &str, why: &str) -> ApiError {
    ApiError::reason(Reason::InvalidNumber, format!("number {text:?} {why}"))
}

/// C8: the number's form, then its country from the numbering plan.
fn plan_number(text: &str) -> ApiResult<(E164, Option<Country>)> {
    let trimmed = text.trim();
    let with_plus = if trimmed.starts_with('+') {
        trimmed.to_string()
    } else {
        format!("+{trimmed}")
    };
    let number = E164::parse(&with_plus)
        .ok_or_else(|| invalid_number(text, "is not an E.164 number (+ then digits)"))?;
    match NumberPlan::global().classify(number) {
        PlanAnswer::Country(c) => Ok((number, Some(c))),
        PlanAnswer::NonGeographic => Ok((number, None)),
        PlanAnswer::Invalid => Err(invalid_number(
            text,
            "is not a valid number in the numbering plan",
        )),
    }
}

fn check_lookup(q: RateLookupQuery, now: Timestamp) -> ApiResult<Lookup> {
    let currency = parse_currency("currency", &q.currency)?;
    bounded("number", &q.number)?;
    let kind = match q.kind.as_deref() {
        None | Some("") => RateKind::DialOut,
        Some(text) => RateKind::parse(text).ok_or_else(|| {
            ApiError::invalid(format!(
                "kind: {text:?} is not one of dial_out, dial_in_toll, dial_in_toll_free"
            ))
        })?,
    };
    let at = parse_optional_instant("at", q.at.as_deref())?.unwrap_or(now);
    let origin = match q.origin.as_deref().map(str::trim) {
        None | Some("") | Some("*") => None,
        Some(_) if kind != RateKind::DialInTollFree => {
            return Err(ApiError::unprocessable(
                "origin: only a dial_in_toll_free lookup has an origin",
            ));
        }
        Some(text) => Some(
            Country::parse(text).map_err(|e| ApiError::invalid(format!("origin: {e}, or *")))?,
        ),
    };
    let (number, number_country) = plan_number(&q.number)?;
    if kind != RateKind::DialOut && number_country.is_none() {
        return Err(invalid_number(
            &q.number,
            "has no country; a dial-in service number belongs to a country",
        ));
    }
    Ok(Lookup {
        currency,
        number,
        number_country,
        kind,
        at,
        origin,
    })
}

fn no_rate(detail: String) -> ApiError {
    ApiError::reason(Reason::NoRate, detail)
}

/// What does a call cost? The entry that prices a call to (or through) `number` at `at`, and
/// the cost of 1, 5 and 60 minutes under its increments (C6, C7). `invalid_number` (422) for a
/// number that is not valid under C8; `no_rate` (422) when no entry is in force (C9, C36).
#[utoipa::path(
    get,
    path = "/v1/rate-lookup",
    params(RateLookupQuery),
    responses(
        (status = 200, description = "The matching entry and example costs", body = RateLookupResponse),
        (status = 400, description = "Malformed question", body = crate::app::ErrorBody),
        (status = 422, description = "invalid_number or no_rate", body = crate::app::ErrorBody)
    ),
    tag = "catalogue",
    security(("key" = []))
)]
pub async fn rate_lookup(
    State(state): State<AppState>,
    Caller(_caller): Caller,
    Query(q): Query<RateLookupQuery>,
) -> ApiResult<Json<RateLookupResponse>> {
    let now = state.now();
    // The numbering plan compiles a calling code's patterns on first use: off the async
    // threads.
    let lookup = blocking(move || check_lookup(q, now)).await?;
    let (entry, country_name, zone_a) = state
        .writer
        .run(move |ctx| {
            let currency = lookup.currency;
            let card = ctx
                .catalogue
                .cards
                .get(&currency)
                .ok_or_else(|| no_rate(format!("there is no {currency} rate card")))?;
            let version = card.version_at(lookup.at).ok_or_else(|| {
                no_rate(format!(
                    "no {currency} rate-card version is in force at {}",
                    instant(lookup.at)
                ))
            })?;
            let entry = match (lookup.kind, lookup.number_country) {
                (RateKind::DialOut, _) => version.dial_out(lookup.number),
                (RateKind::DialInToll, Some(c)) => version.dial_in_toll(c),
                (RateKind::DialInTollFree, Some(c)) => version.dial_in_toll_free(c, lookup.origin),
                (_, None) => None,
            }
            .cloned()
            .ok_or_else(|| {
                no_rate(format!(
                    "no {} rate for {} in the {currency} version effective from {}",
                    lookup.kind.as_str(),
                    lookup.number,
                    instant(version.effective_from)
                ))
            })?;
            let countries = &ctx.catalogue.countries;
            let name = countries.name(entry.country);
            let zone_a = countries.is_zone_a(entry.country);
            Ok((entry, name, zone_a))
        })
        .await?;
    let costs = LOOKUP_DURATIONS_S
        .iter()
        .map(|&duration_s| CostJson {
            duration_s,
            billable_s: entry.billable_seconds(duration_s),
            cost: money(lookup.currency, entry.cost(duration_s, lookup.currency)),
        })
        .collect();
    Ok(Json(RateLookupResponse {
        currency: lookup.currency.code().to_string(),
        number: lookup.number.to_string(),
        number_country: lookup.number_country.map(|c| c.to_string()),
        kind: lookup.kind.as_str().to_string(),
        at: instant(lookup.at),
        entry: entry_json(&entry, lookup.currency, country_name, zone_a),
        costs,
    }))
}

fn entry_json(
    e: &RateEntry,
    currency: Currency,
    country_name: String,
    zone_a: bool,
) -> RateEntryJson {
    RateEntryJson {
        kind: e.kind.as_str().to_string(),
        key: key_text(e),
        origin: origin_text(e.origin),
        name: e.name.clone(),
        country: e.country.to_string(),
        country_name,
        zone_a,
        premium: e.premium,
        rate_per_minute: e.rate_per_minute.normalize().to_string(),
        connection_fee: money(currency, e.connection_fee),
        first_block_s: e.first_block_s,
        increment_s: e.increment_s,
        effective_from: instant(e.effective_from),
    }
}
