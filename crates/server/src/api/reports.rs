//! Reports (capability 6): the PSTN usage export, dial-out usage by organizer, the minute-pool
//! report, refused calls, and the per-call "explain". Everything is read from committed
//! history on read-only connections, except what only memory knows (live reservations, pool
//! counters, the directory), which comes through the writer.
//!
//! Ranges: `from` and `to` are each a date (`2026-01-31`: from the start of that day in the
//! tenant's time zone; for `to`, up to the end of that day) or an RFC 3339 instant (`to`
//! exclusive), exactly as `minutely report pstn-usage` reads them; a range covers at most
//! 366 days. Calls belong to the range their **start** falls in (C21, C22).

use crate::access::Route;
use crate::api::types::{
    CallRecordJson, ChargeJson, bad_cursor, instant, money, origin_text, page_limit, paged,
    split_cursor,
};
use crate::app::{AppState, Caller, Json, Path, Query};
use crate::auth::Access;
use crate::error::{ApiError, ApiResult};
use crate::i18n;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use minutely_core::calendar::{Bound, CalendarError, DateRange, Month};
use minutely_core::control::Reservation;
use minutely_core::directory::{Tenant, Upn};
use minutely_core::engine::{Charge, Outcome};
use minutely_core::explain::{self, RatePlace, Step};
use minutely_core::lang::Lang;
use minutely_core::money::{self, Currency, Overflow};
use minutely_core::numbers::Country;
use minutely_core::rating::Category;
use minutely_formats::export;
use minutely_store::{Store, StoredCall};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, OpenApi, ToSchema};

#[derive(OpenApi)]
#[openapi(components(schemas(
    UsageSummaryResponse,
    UsageSummaryRow,
    DialOutUsageResponse,
    OrganizerUsage,
    CountryUsage,
    UsageTotals,
    PoolResponse,
    PoolOrganizer,
    RefusedResponse,
    RefusedCall,
    ExplainResponse,
    ExplainStep,
    RateKeyJson,
    ReservationJson,
    CallRecordJson,
    ChargeJson,
    crate::api::types::RateJson,
    crate::api::types::LotTakeJson
)))]
pub struct Doc;

/// The routes of this module, each with its access class (`crate::access`).
pub fn routes() -> Vec<Route> {
    use crate::access::Policy::*;
    vec![
        Route::documented(TenantAdmin, __path_pstn_usage, pstn_usage),
        Route::documented(TenantAdmin, __path_dial_out_usage, dial_out_usage),
        Route::documented(TenantAdmin, __path_usage_summary, usage_summary),
        Route::documented(TenantAdmin, __path_pool, pool),
        Route::documented(TenantAdmin, __path_refused, refused),
        Route::documented(TenantAdmin, __path_explain, explain),
    ]
}

/// The PSTN usage export is built in memory: at most this many rows (charged calls). A larger
/// range is refused, naming `from`/`to`; export it in parts, or with `minutely report
/// pstn-usage`, which streams.
pub const MAX_EXPORT_ROWS: usize = 100_000;

/// The aggregate reports (dial-out usage, pool) read at most this many calls of their range.
pub const MAX_SCAN_ROWS: usize = 1_000_000;

/// Calls read per query while scanning a range.
const SCAN_PAGE: usize = 5_000;

// ---------------------------------------------------------------------------------------------
// Ranges, cursors, shared reads
// ---------------------------------------------------------------------------------------------

/// A date (`2026-01-31`) or an RFC 3339 instant: the same reading as `minutely report
/// pstn-usage`.
fn bound(field: &str, text: &str) -> ApiResult<Bound> {
    if let Ok(date) = text.trim().parse::<Date>() {
        return Ok(Bound::Day(date));
    }
    minutely_formats::instant::parse(text)
        .map(Bound::Instant)
        .map_err(|_| bad_bound(field, text))
}

fn bad_bound(field: &str, text: &str) -> ApiError {
    ApiError::invalid(format!(
        "{field}: {text:?} is neither a date (2026-01-31) nor an RFC 3339 instant \
         (2026-01-31T12:00:00Z)"
    ))
}

/// `[from, to)` from the query, checked by `DateRange`: both given, `to` not before `from`, at
/// most `DateRange::MAX_DAYS` days.
fn range(from: Option<&str>, to: Option<&str>, tz: &TimeZone) -> ApiResult<(Timestamp, Timestamp)> {
    let from_text = from.filter(|t| !t.trim().is_empty()).ok_or_else(|| {
        ApiError::invalid("from is required (a date such as 2026-01-01, or an RFC 3339 instant)")
    })?;
    let to_text = to.filter(|t| !t.trim().is_empty()).ok_or_else(|| {
        ApiError::invalid("to is required (a date such as 2026-01-31, or an RFC 3339 instant)")
    })?;
    let from = bound("from", from_text)?
        .instant(tz, false)
        .ok_or_else(|| bad_bound("from", from_text))?;
    let to = bound("to", to_text)?
        .instant(tz, true)
        .ok_or_else(|| bad_bound("to", to_text))?;
    // Well-formed bounds that make no range: refused as unprocessable (422), not malformed.
    let range = DateRange::new(from, to, tz).map_err(|e| {
        ApiError::unprocessable(match e {
            CalendarError::Reversed { from, to } => {
                format!("to ({}) is before from ({})", instant(to), instant(from))
            }
            CalendarError::TooLong {
                from, to, max_days, ..
            } => format!(
                "from/to: {} to {} is longer than {max_days} days; ask for a shorter range",
                instant(from),
                instant(to)
            ),
            CalendarError::BadMonth { .. } => e.to_string(),
        })
    })?;
    Ok(range.bounds())
}

/// The tenant's directory as the writer holds it (the committed one: a job's answer comes
/// after its batch commits), and the query's `[from, to)` read in its time zone (`range`).
/// 404 for an unknown tenant.
async fn directory_and_range(
    state: &AppState,
    tenant: &str,
    from: Option<&str>,
    to: Option<&str>,
) -> ApiResult<(Tenant, (Timestamp, Timestamp))> {
    let directory = state
        .writer
        .with_book(tenant, |b| Ok(b.tenant.clone()))
        .await?;
    let range = range(from, to, &directory.timezone)?;
    Ok((directory, range))
}

/// Runs `f` over every call that started in `[from, to)`, in canonical order (C22), page by
/// page; refuses a range holding more than `MAX_SCAN_ROWS` calls.
fn scan_calls(
    store: &Store,
    tenant: &str,
    (from, to): (Timestamp, Timestamp),
    mut f: impl FnMut(&StoredCall) -> ApiResult<()>,
) -> ApiResult<()> {
    let mut cursor: Option<(Timestamp, String)> = None;
    let mut scanned = 0usize;
    loop {
        let after = cursor.as_ref().map(|(at, id)| (*at, id.as_str()));
        let page = store.calls_page(tenant, from, to, after, SCAN_PAGE, false)?;
        scanned += page.len();
        if scanned > MAX_SCAN_ROWS {
            return Err(ApiError::unprocessable(format!(
                "from/to: the range holds more than {MAX_SCAN_ROWS} calls; ask for a shorter range"
            )));
        }
        for call in &page {
            f(call)?;
        }
        match page.last() {
            Some(last) if page.len() == SCAN_PAGE => {
                cursor = Some((last.record.start, last.record.call_id.clone()));
            }
            _ => return Ok(()),
        }
    }
}

/// A call's place in canonical order as an opaque, URL-safe cursor.
fn call_cursor(start: Timestamp, call_id: &str) -> String {
    format!("{}_{}", start.as_nanosecond(), hex::encode(call_id))
}

fn parse_call_cursor(text: &str) -> ApiResult<(Timestamp, String)> {
    let bad = || bad_cursor(text);
    let (nanos, id) = split_cursor(text)?;
    let start = Timestamp::from_nanosecond(nanos).map_err(|_| bad())?;
    let id = String::from_utf8(hex::decode(id).map_err(|_| bad())?).map_err(|_| bad())?;
    Ok((start, id))
}

/// The tally of `organizer` in `by_organizer` (keyed by the lower-case UPN), made on first use
/// by `new` from who the organizer is: its UPN and display name by the directory when it knows
/// the UPN, else the UPN as sent and no name.
fn organizer_tally<'a, T>(
    by_organizer: &'a mut BTreeMap<String, T>,
    tenant: &Tenant,
    organizer: &str,
    new: impl FnOnce(String, String) -> T,
) -> &'a mut T {
    let key = Upn::new(organizer).key;
    by_organizer
        .entry(key)
        .or_insert_with(|| match tenant.user(organizer) {
            Some(user) => new(user.upn.display.clone(), user.display_name.clone()),
            None => new(organizer.trim().to_string(), String::new()),
        })
}

// ---------------------------------------------------------------------------------------------
// GET /reports/pstn-usage
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsageQuery {
    /// A date (from its start, tenant time zone) or an RFC 3339 instant.
    pub from: Option<String>,
    /// A date (up to the end of that day, tenant time zone) or an RFC 3339 instant
    /// (exclusive).
    pub to: Option<String>,
    /// PSTN usage export only: add Funding, Pool Minutes, Credit Amount, Balance After and
    /// Rule.
    pub extended: Option<bool>,
}

/// Builds the export exactly as `minutely report pstn-usage` writes it: header, then one row
/// per charged call in canonical order.
fn export_csv(
    store: &Store,
    tenant: &Tenant,
    (from, to): (Timestamp, Timestamp),
    extended: bool,
) -> ApiResult<Vec<u8>> {
    let countries = store.countries()?;
    let mut out = Vec::with_capacity(64 << 10);
    out.extend_from_slice(export::header(extended).as_bytes());
    let mut rows = 0usize;
    scan_calls(store, &tenant.id, (from, to), |call| {
        if let Outcome::Charged(charge) = &call.outcome {
            rows += 1;
            if rows > MAX_EXPORT_ROWS {
                return Err(ApiError::invalid(format!(
                    "from/to: the range holds more than {MAX_EXPORT_ROWS} charged calls; export \
                     it in parts (or with `minutely report pstn-usage`)"
                )));
            }
            export::write_row(&mut out, tenant, &countries, &call.record, charge, extended);
        }
        Ok(())
    })?;
    Ok(out)
}

/// A file name made of safe characters only.
fn file_name(tenant: &str, from: Timestamp) -> String {
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
    format!("pstn-usage-{safe}-{}.csv", from.strftime("%Y%m%dT%H%M%SZ"))
}

/// The PSTN usage export (product.md): RFC 4180 CSV with a header row and the twenty columns
/// (twenty-five with `extended=true`), one row per charged call that started in the range, in
/// canonical order; byte for byte what `minutely report pstn-usage` writes for the same store
/// and range. At most 100,000 rows per request (built in memory): a range holding more is
/// refused, naming `from`/`to`.
#[utoipa::path(
    get,
    path = "/v1/tenants/{tenant}/reports/pstn-usage",
    params(("tenant" = String, Path), UsageQuery),
    responses(
        (status = 200, description = "The CSV file (at most 100,000 rows)", content_type = "text/csv", body = String),
        (status = 400, description = "Bad or missing from/to, a range over 366 days or over 100,000 rows", body = crate::app::ErrorBody),
        (status = 404, description = "Unknown tenant", body = crate::app::ErrorBody)
    ),
    tag = "reports",
    security(("key" = []))
)]
pub async fn pstn_usage(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(tenant): Path<String>,
    Query(query): Query<UsageQuery>,
) -> ApiResult<Response> {
    caller.check(&tenant, Access::Admin)?;
    let (directory, (from, to)) =
        directory_and_range(&state, &tenant, query.from.as_deref(), query.to.as_deref()).await?;
    let extended = query.extended.unwrap_or(false);
    let csv = state
        .read(move |store| export_csv(store, &directory, (from, to), extended))
        .await?;
    let disposition = HeaderValue::from_str(&format!(
        "attachment; filename=\"{}\"",
        file_name(&tenant, from)
    ))
    .map_err(ApiError::internal)?;
    Ok((
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        csv,
    )
        .into_response())
}

// ---------------------------------------------------------------------------------------------
// GET /reports/dial-out-usage
// ---------------------------------------------------------------------------------------------

/// Sums over a set of charged dial-out calls.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct UsageTotals {
    pub calls: u64,
    /// Connected seconds.
    pub duration_s: u64,
    /// Whole minutes, each call rounded up (the 60/60 count the pool uses, C21).
    pub minutes: u64,
    /// Minutes the dial-out pool paid (C32).
    pub pool_minutes: u64,
    /// What credits paid.
    pub credit_amount: String,
}

#[derive(Debug, Clone, Default)]
struct Tally {
    calls: u64,
    duration_s: u64,
    minutes: u64,
    pool_minutes: u64,
    credit: Decimal,
}

/// A sum of stored amounts out of range: the store is damaged (never a panic).
pub(crate) fn out_of_range(what: &'static str) -> impl FnOnce(Overflow) -> ApiError {
    move |e| ApiError::internal(format!("{what}: {e}"))
}

impl Tally {
    fn add(&mut self, c: &Charge) -> ApiResult<()> {
        self.credit = money::add(self.credit, c.amount).map_err(out_of_range("usage total"))?;
        self.calls = self.calls.saturating_add(1);
        self.duration_s = self.duration_s.saturating_add(c.duration_s);
        self.minutes = self.minutes.saturating_add(c.duration_s.div_ceil(60));
        self.pool_minutes = self.pool_minutes.saturating_add(u64::from(c.pool_minutes));
        Ok(())
    }

    fn totals(&self, currency: Currency) -> UsageTotals {
        UsageTotals {
            calls: self.calls,
            duration_s: self.duration_s,
            minutes: self.minutes,
            pool_minutes: self.pool_minutes,
            credit_amount: money(currency, self.credit),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CountryUsage {
    /// The destination's numbering-plan country (ISO 3166-1 alpha-2).
    pub country: String,
    pub country_name: String,
    #[serde(flatten)]
    pub totals: UsageTotals,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizerUsage {
    /// The organizer's UPN as the directory writes it.
    pub upn: String,
    pub display_name: String,
    #[serde(flatten)]
    pub totals: UsageTotals,
    /// By destination country, sorted by country code.
    pub countries: Vec<CountryUsage>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DialOutUsageResponse {
    pub tenant: String,
    pub currency: String,
    pub from: String,
    pub to: String,
    /// Organizers with at least one charged dial-out call, sorted by UPN.
    pub organizers: Vec<OrganizerUsage>,
    pub totals: UsageTotals,
}

#[derive(Default)]
struct OrganizerTally {
    upn: String,
    display_name: String,
    all: Tally,
    by_country: BTreeMap<String, Tally>,
}

/// Capability 6: charged dial-out calls that started in the range, per organizer (C5: usage
/// attaches to the organizer), with calls, minutes, pool minutes and credit amount, in total
/// and by destination country. Refused calls are in the refused-calls report.
#[utoipa::path(
    get,
    path = "/v1/tenants/{tenant}/reports/dial-out-usage",
    params(("tenant" = String, Path), UsageQuery),
    responses(
        (status = 200, description = "Dial-out usage by organizer", body = DialOutUsageResponse),
        (status = 400, description = "Bad or missing from/to, or a range too long", body = crate::app::ErrorBody),
        (status = 404, description = "Unknown tenant", body = crate::app::ErrorBody)
    ),
    tag = "reports",
    security(("key" = []))
)]
pub async fn dial_out_usage(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(tenant): Path<String>,
    Query(query): Query<UsageQuery>,
) -> ApiResult<Json<DialOutUsageResponse>> {
    caller.check(&tenant, Access::Admin)?;
    let (directory, (from, to)) =
        directory_and_range(&state, &tenant, query.from.as_deref(), query.to.as_deref()).await?;
    let currency = directory.currency;
    let (organizers, all) = state
        .read(move |store| {
            let countries = store.countries()?;
            let mut by_organizer: BTreeMap<String, OrganizerTally> = BTreeMap::new();
            let mut all = Tally::default();
            scan_calls(store, &directory.id, (from, to), |call| {
                let Outcome::Charged(charge) = &call.outcome else {
                    return Ok(());
                };
                if charge.category != Category::DialOut {
                    return Ok(());
                }
                let entry = organizer_tally(
                    &mut by_organizer,
                    &directory,
                    &call.record.organizer,
                    |upn, display_name| OrganizerTally {
                        upn,
                        display_name,
                        ..OrganizerTally::default()
                    },
                );
                let country = charge
                    .other_country
                    .clone()
                    .or_else(|| charge.rate.as_ref().map(|r| r.country.clone()))
                    .unwrap_or_default();
                entry.all.add(charge)?;
                entry.by_country.entry(country).or_default().add(charge)?;
                all.add(charge)
            })?;
            // Keyed by the lower-case UPN: sorted by UPN already.
            let organizers: Vec<OrganizerUsage> = by_organizer
                .into_values()
                .map(|o| OrganizerUsage {
                    upn: o.upn,
                    display_name: o.display_name,
                    totals: o.all.totals(currency),
                    countries: o
                        .by_country
                        .iter()
                        .map(|(code, tally)| CountryUsage {
                            country: code.clone(),
                            country_name: Country::parse(code)
                                .map(|c| countries.name(c))
                                .unwrap_or_default(),
                            totals: tally.totals(currency),
                        })
                        .collect(),
                })
                .collect();
            Ok((organizers, all))
        })
        .await?;
    Ok(Json(DialOutUsageResponse {
        tenant,
        currency: currency.code().to_string(),
        from: instant(from),
        to: instant(to),
        organizers,
        totals: all.totals(currency),
    }))
}

// ---------------------------------------------------------------------------------------------
// GET /reports/usage-summary
// ---------------------------------------------------------------------------------------------

/// Charged calls of one category, on one day or to one country.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageSummaryRow {
    /// The tenant-local day the calls started (`YYYY-MM-DD`): in `days` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// The destination's country (dial-out) or the service number's (dial-in), ISO 3166-1
    /// alpha-2: in `countries` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// `dial_in_toll`, `dial_in_toll_free` or `dial_out`.
    pub category: String,
    pub calls: u64,
    pub duration_s: u64,
    /// Whole minutes, each call rounded up on its own.
    pub minutes: u64,
    /// Minutes the dial-out pool paid (C21).
    pub pool_minutes: u64,
    /// What the calls cost the wallet, exactly the sum of their debits.
    pub amount: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UsageSummaryResponse {
    pub tenant: String,
    pub currency: String,
    /// The tenant's time zone, that the days are counted in.
    pub timezone: String,
    pub from: String,
    pub to: String,
    /// Per day and category, by date then category; days without calls are left out.
    pub days: Vec<UsageSummaryRow>,
    /// Per country and category, by country then category.
    pub countries: Vec<UsageSummaryRow>,
    /// Per category over the range.
    pub totals: Vec<UsageSummaryRow>,
}

fn summary_rows<K: Ord>(
    tallies: BTreeMap<(K, Category), Tally>,
    currency: Currency,
    place: impl Fn(K) -> (Option<String>, Option<String>),
) -> Vec<UsageSummaryRow> {
    tallies
        .into_iter()
        .map(|((key, category), t)| {
            let (date, country) = place(key);
            UsageSummaryRow {
                date,
                country,
                category: category.as_str().to_string(),
                calls: t.calls,
                duration_s: t.duration_s,
                minutes: t.minutes,
                pool_minutes: t.pool_minutes,
                amount: money(currency, t.credit),
            }
        })
        .collect()
}

/// Capability 6, for charts: charged calls that started in the range, per tenant-local day and
/// category, per country and category, and per category, with calls, minutes, pool minutes
/// and the amount debited. Included calls (charge 0) count in calls and minutes.
#[utoipa::path(
    get,
    path = "/v1/tenants/{tenant}/reports/usage-summary",
    params(("tenant" = String, Path), UsageQuery),
    responses(
        (status = 200, description = "Usage per day, country and category", body = UsageSummaryResponse),
        (status = 400, description = "Bad or missing from/to, or a range too long", body = crate::app::ErrorBody),
        (status = 404, description = "Unknown tenant", body = crate::app::ErrorBody)
    ),
    tag = "reports",
    security(("key" = []))
)]
pub async fn usage_summary(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(tenant): Path<String>,
    Query(query): Query<UsageQuery>,
) -> ApiResult<Json<UsageSummaryResponse>> {
    caller.check(&tenant, Access::Admin)?;
    let (directory, (from, to)) =
        directory_and_range(&state, &tenant, query.from.as_deref(), query.to.as_deref()).await?;
    let currency = directory.currency;
    let tz = directory.timezone.clone();
    let timezone = tz.iana_name().unwrap_or("UTC").to_string();
    let (days, countries, totals) = state
        .read(move |store| {
            let mut days: BTreeMap<(Date, Category), Tally> = BTreeMap::new();
            let mut countries: BTreeMap<(String, Category), Tally> = BTreeMap::new();
            let mut totals: BTreeMap<((), Category), Tally> = BTreeMap::new();
            scan_calls(store, &directory.id, (from, to), |call| {
                let Outcome::Charged(charge) = &call.outcome else {
                    return Ok(());
                };
                let day = call.record.start.to_zoned_datetime(tz.clone()).date();
                let country = charge
                    .other_country
                    .clone()
                    .or_else(|| charge.rate.as_ref().map(|r| r.country.clone()))
                    .unwrap_or_default();
                days.entry((day, charge.category))
                    .or_default()
                    .add(charge)?;
                countries
                    .entry((country, charge.category))
                    .or_default()
                    .add(charge)?;
                totals.entry(((), charge.category)).or_default().add(charge)
            })?;
            Ok((days, countries, totals))
        })
        .await?;
    Ok(Json(UsageSummaryResponse {
        tenant,
        currency: currency.code().to_string(),
        timezone,
        from: instant(from),
        to: instant(to),
        days: summary_rows(days, currency, |d: Date| (Some(d.to_string()), None)),
        countries: summary_rows(countries, currency, |c: String| (None, Some(c))),
        totals: summary_rows(totals, currency, |()| (None, None)),
    }))
}

// ---------------------------------------------------------------------------------------------
// GET /reports/pool
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PoolQuery {
    /// `YYYY-MM`, a calendar month in the tenant's time zone; the current month by default.
    pub month: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PoolOrganizer {
    pub upn: String,
    pub display_name: String,
    /// Calls the pool paid for, wholly or in part.
    pub calls: u64,
    pub minutes: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PoolResponse {
    pub tenant: String,
    /// `YYYY-MM`.
    pub month: String,
    pub time_zone: String,
    /// The month's first instant and the next month's first instant (tenant time zone).
    pub from: String,
    pub to: String,
    /// Purchased `MCOMEETADD` licenses in force at `size_at`.
    pub purchased_subscriptions: u32,
    /// C20: 60 minutes × purchased `MCOMEETADD`, in force at `size_at`.
    pub size_minutes: u32,
    /// The instant the size is taken at: now for the current month, the month's last
    /// instant for a past month, its first for a future one.
    pub size_at: String,
    /// Minutes used by calls that started in the month (C21).
    pub used_minutes: u32,
    /// Minutes held by live reservations of calls that started in the month (C25).
    pub held_minutes: u32,
    /// `size − used − held`, never below 0.
    pub remaining_minutes: u32,
    /// `floor(100 × used / size)`; null when the size is 0.
    pub used_percent: Option<u32>,
    /// Pool use per organizer in the month, sorted by UPN (from the calls).
    pub organizers: Vec<PoolOrganizer>,
}

/// The `month` parameter (spaces around it allowed), with the core's bounds.
fn parse_month(text: &str) -> ApiResult<Month> {
    Month::parse(text.trim()).map_err(|_| {
        ApiError::invalid(format!(
            "month: {text:?} is not a month (YYYY-MM, such as 2026-03)"
        ))
    })
}

struct PoolState {
    month: Month,
    tz_name: String,
    from: Timestamp,
    to: Timestamp,
    size_at: Timestamp,
    size: u32,
    used: u32,
    held: u32,
    remaining: u32,
    directory: Tenant,
}

/// C20, C21, C25: the dial-out minute pool of one month (tenant time zone): its size (60 ×
/// purchased `MCOMEETADD`), minutes used, minutes held by live calls, what remains, and each
/// organizer's use that month.
#[utoipa::path(
    get,
    path = "/v1/tenants/{tenant}/reports/pool",
    params(("tenant" = String, Path), PoolQuery),
    responses(
        (status = 200, description = "The pool of the month", body = PoolResponse),
        (status = 400, description = "Bad month", body = crate::app::ErrorBody),
        (status = 404, description = "Unknown tenant", body = crate::app::ErrorBody)
    ),
    tag = "reports",
    security(("key" = []))
)]
pub async fn pool(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(tenant): Path<String>,
    Query(query): Query<PoolQuery>,
) -> ApiResult<Json<PoolResponse>> {
    caller.check(&tenant, Access::Admin)?;
    let asked = match query.month.as_deref() {
        Some(text) if !text.trim().is_empty() => Some(parse_month(text)?),
        _ => None,
    };
    let id = tenant.clone();
    let p = state
        .writer
        .run(move |ctx| {
            let now = ctx.now;
            let book = ctx.book(&id)?;
            let month = asked.unwrap_or_else(|| book.month_of(now));
            let (from, to) = month.bounds(&book.tenant.timezone);
            let size_at = now.clamp(from, to - SignedDuration::from_nanos(1));
            let size = book.pool_size(size_at);
            let used = book.pool_used.get(&month).copied().unwrap_or(0);
            let held = book.pool_held(month);
            Ok(PoolState {
                month,
                tz_name: book.tenant.timezone_name.clone(),
                from,
                to,
                size_at,
                size,
                used,
                held,
                remaining: size.saturating_sub(used).saturating_sub(held),
                directory: book.tenant.clone(),
            })
        })
        .await?;
    let (directory, from, to) = (p.directory, p.from, p.to);
    let organizers = state
        .read(move |store| {
            let mut by_organizer: BTreeMap<String, PoolOrganizer> = BTreeMap::new();
            scan_calls(store, &directory.id, (from, to), |call| {
                let Outcome::Charged(charge) = &call.outcome else {
                    return Ok(());
                };
                if charge.pool_minutes == 0 {
                    return Ok(());
                }
                let entry = organizer_tally(
                    &mut by_organizer,
                    &directory,
                    &call.record.organizer,
                    |upn, display_name| PoolOrganizer {
                        upn,
                        display_name,
                        calls: 0,
                        minutes: 0,
                    },
                );
                entry.calls = entry.calls.saturating_add(1);
                entry.minutes = entry.minutes.saturating_add(u64::from(charge.pool_minutes));
                Ok(())
            })?;
            Ok(by_organizer.into_values().collect::<Vec<_>>())
        })
        .await?;
    Ok(Json(PoolResponse {
        tenant,
        month: p.month.to_string(),
        time_zone: p.tz_name,
        from: instant(from),
        to: instant(to),
        purchased_subscriptions: p.size / 60,
        size_minutes: p.size,
        size_at: instant(p.size_at),
        used_minutes: p.used,
        held_minutes: p.held,
        remaining_minutes: p.remaining,
        used_percent: (p.size > 0).then(|| (u64::from(p.used) * 100 / u64::from(p.size)) as u32),
        organizers,
    }))
}

// ---------------------------------------------------------------------------------------------
// GET /reports/refused
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RefusedQuery {
    /// A date (from its start, tenant time zone) or an RFC 3339 instant.
    pub from: Option<String>,
    /// A date (up to the end of that day, tenant time zone) or an RFC 3339 instant
    /// (exclusive).
    pub to: Option<String>,
    /// Items per page (default 100, at most the server's page limit, 1000 by default).
    pub limit: Option<usize>,
    /// The `next` cursor of the previous page.
    pub after: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RefusedCall {
    /// The call as submitted (a denied authorization has `end` equal to `start`).
    pub record: CallRecordJson,
    /// The reason code (charging rules).
    pub reason: String,
    /// The rule behind the reason.
    pub rule: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RefusedResponse {
    pub tenant: String,
    pub from: String,
    pub to: String,
    pub calls: Vec<RefusedCall>,
    /// The cursor of the next page (pass it as `after`), or null at the end.
    pub next: Option<String>,
}

/// Capability 6: every refused call that started in the range, denied authorizations
/// included, with its reason code and rule, in canonical order (C22), paginated.
#[utoipa::path(
    get,
    path = "/v1/tenants/{tenant}/reports/refused",
    params(("tenant" = String, Path), RefusedQuery),
    responses(
        (status = 200, description = "A page of refused calls", body = RefusedResponse),
        (status = 400, description = "Bad from/to, limit or cursor", body = crate::app::ErrorBody),
        (status = 404, description = "Unknown tenant", body = crate::app::ErrorBody)
    ),
    tag = "reports",
    security(("key" = []))
)]
pub async fn refused(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(tenant): Path<String>,
    Query(query): Query<RefusedQuery>,
) -> ApiResult<Json<RefusedResponse>> {
    caller.check(&tenant, Access::Admin)?;
    let limit = page_limit(query.limit, state.config.max_page)?;
    let after = match query.after.as_deref() {
        None | Some("") => None,
        Some(text) => Some(parse_call_cursor(text)?),
    };
    let (_, (from, to)) =
        directory_and_range(&state, &tenant, query.from.as_deref(), query.to.as_deref()).await?;
    let id = tenant.clone();
    let calls = state
        .read(move |store| {
            let cursor = after.as_ref().map(|(at, call)| (*at, call.as_str()));
            Ok(store.calls_page(&id, from, to, cursor, limit + 1, true)?)
        })
        .await?;
    let (calls, next) = paged(calls, limit, |c| {
        call_cursor(c.record.start, &c.record.call_id)
    });
    let calls = calls
        .iter()
        .filter_map(|c| {
            let reason = c.outcome.reason()?;
            Some(RefusedCall {
                record: CallRecordJson::from_record(&c.record),
                reason: reason.code().to_string(),
                rule: reason.rule().to_string(),
            })
        })
        .collect();
    Ok(Json(RefusedResponse {
        tenant,
        from: instant(from),
        to: instant(to),
        calls,
        next,
    }))
}

// ---------------------------------------------------------------------------------------------
// GET /calls/{call_id}/explain
// ---------------------------------------------------------------------------------------------

/// One line of an explanation.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExplainStep {
    /// The charging rule applied.
    pub rule: String,
    pub text: String,
}

/// Where the applied rate sits in the rate card.
#[derive(Debug, Serialize, ToSchema)]
pub struct RateKeyJson {
    /// `dial_out`, `dial_in_toll` or `dial_in_toll_free`.
    pub kind: String,
    /// The E.164 prefix (`+336`) of a dial-out rate, the service-number country of a dial-in
    /// rate.
    pub key: String,
    /// The caller origin of a toll-free rate (a country or `*`).
    pub origin: Option<String>,
    /// The entry's connection fee (charged only on a connected credit call, C7).
    pub connection_fee: String,
}

/// What a live (or lapsed, not yet ended) call holds.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReservationJson {
    /// The instant the call was authorized for.
    pub start: String,
    /// `included`, `add_on`, `pool`, `pool_and_credits` or `credits`.
    pub funding: String,
    /// Seconds from `start` granted so far; null for a call that is never cut.
    pub granted_s: Option<u64>,
    pub reserved: String,
    pub reserved_pool_minutes: u32,
    pub expires_at: String,
    /// False once the hold has lapsed (C27): nothing is held, but a late end report is still
    /// rated.
    pub live: bool,
    /// The tenant's balance and available balance now (C14).
    pub balance: String,
    pub available: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExplainResponse {
    pub tenant: String,
    pub call_id: String,
    /// `charged`, `refused`, `live` (authorized, not ended) or `lapsed` (its hold expired
    /// before an end report).
    pub status: String,
    pub record: CallRecordJson,
    pub currency: String,
    /// The reason code of a refusal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The rule that decided: the refusal's, or the one that decided who pays.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// The charge as stored (rate, billable seconds, lots drained, balance after).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub charge: Option<ChargeJson>,
    /// The rate-card entry the charge used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_key: Option<RateKeyJson>,
    /// A live call's reservation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reservation: Option<ReservationJson>,
    /// The decision and the arithmetic, step by step.
    pub steps: Vec<ExplainStep>,
}

/// What the writer adds to a stored call, or the live call it knows instead.
enum Known {
    Stored {
        currency: Currency,
        /// The rate-card entry behind a charge, when the card still has it.
        place: Option<RatePlace>,
    },
    Live {
        currency: Currency,
        reservation: Box<Reservation>,
        balance: Decimal,
        available: Decimal,
    },
    Unknown,
}

/// The core's steps in words, in `lang`.
fn render(steps: &[Step], lang: Lang, currency: Currency) -> Vec<ExplainStep> {
    steps
        .iter()
        .map(|step| ExplainStep {
            rule: step.rule().to_string(),
            text: i18n::explain::step_text(step, lang, currency),
        })
        .collect()
}

/// Where an applied rate sits in the card, as the response shows it.
fn rate_key_json(place: &RatePlace, currency: Currency) -> RateKeyJson {
    RateKeyJson {
        kind: place.kind.to_string(),
        key: place.key.clone(),
        origin: origin_text(place.origin),
        connection_fee: money(currency, place.connection_fee),
    }
}

/// A live (or lapsed) call's answer: its hold, from memory.
fn explain_reservation(
    answer: &mut ExplainResponse,
    r: &Reservation,
    currency: Currency,
    (balance, available): (Decimal, Decimal),
    lang: Lang,
) {
    answer.status = if r.live { "live" } else { "lapsed" }.to_string();
    answer.record = CallRecordJson::from_record(&r.call);
    answer.currency = currency.code().to_string();
    answer.steps = render(&explain::reserved(r, balance, available), lang, currency);
    answer.reservation = Some(ReservationJson {
        start: instant(r.call.start),
        funding: r.funding.as_str().to_string(),
        granted_s: r.granted_s,
        reserved: money(currency, r.credit),
        reserved_pool_minutes: r.pool_minutes,
        expires_at: instant(r.expires_at),
        live: r.live,
        balance: money(currency, balance),
        available: money(currency, available),
    });
}

/// Capability 6, "why was this charged?": the record, the outcome, the rule that decided who
/// pays, the rate applied (name, prefix or country, price, increments, version), the C6/C7
/// arithmetic with the numbers, the lots drained and the balance after. A call authorized and
/// not yet ended shows its reservation instead. An unknown call id is 404 `not_found`.
#[utoipa::path(
    get,
    path = "/v1/tenants/{tenant}/calls/{call_id}/explain",
    params(("tenant" = String, Path), ("call_id" = String, Path)),
    responses(
        (status = 200, description = "The explanation", body = ExplainResponse),
        (status = 404, description = "Unknown tenant or call", body = crate::app::ErrorBody)
    ),
    tag = "reports",
    security(("key" = []))
)]
pub async fn explain(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((tenant, call_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult<Json<ExplainResponse>> {
    caller.check(&tenant, Access::Admin)?;
    let lang = Lang::negotiate(
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    );
    minutely_core::ident::call_id("call_id", &call_id)?;
    let mut stored = read_call(&state, &tenant, &call_id).await?;
    let mut known = ask_writer(&state, &tenant, &call_id, stored.clone()).await?;
    if matches!(known, Known::Unknown) {
        // The call may have ended between the two reads: look once more.
        stored = read_call(&state, &tenant, &call_id).await?;
        if stored.is_some() {
            known = ask_writer(&state, &tenant, &call_id, stored.clone()).await?;
        }
    }
    let mut answer = ExplainResponse {
        tenant,
        call_id: call_id.clone(),
        status: String::new(),
        record: CallRecordJson {
            call_id: call_id.clone(),
            ..CallRecordJson::default()
        },
        currency: String::new(),
        reason: None,
        rule: None,
        charge: None,
        rate_key: None,
        reservation: None,
        steps: Vec::new(),
    };
    match (known, stored) {
        (
            Known::Live {
                currency,
                reservation: r,
                balance,
                available,
            },
            _,
        ) => explain_reservation(&mut answer, &r, currency, (balance, available), lang),
        (Known::Stored { currency, place }, Some(call)) => {
            answer.record = CallRecordJson::from_record(&call.record);
            answer.currency = currency.code().to_string();
            match &call.outcome {
                Outcome::Refused(reason) => {
                    answer.status = "refused".to_string();
                    answer.reason = Some(reason.code().to_string());
                    answer.rule = Some(reason.rule().to_string());
                    answer.steps = render(&explain::refused(*reason), lang, currency);
                }
                Outcome::Charged(c) => {
                    answer.status = "charged".to_string();
                    answer.rule = Some(c.rule.to_string());
                    let steps = explain::charged(&call.record, c, currency, place.clone())
                        .map_err(out_of_range("explained charge"))?;
                    answer.steps = render(&steps, lang, currency);
                    answer.charge = Some(ChargeJson::new(c, currency));
                    answer.rate_key = place.map(|p| rate_key_json(&p, currency));
                }
            }
        }
        _ => {
            return Err(ApiError::not_found(format!(
                "no call {call_id:?} for tenant {}",
                answer.tenant
            )));
        }
    }
    Ok(Json(answer))
}

async fn read_call(state: &AppState, tenant: &str, call_id: &str) -> ApiResult<Option<StoredCall>> {
    let (tenant, call_id) = (tenant.to_string(), call_id.to_string());
    state
        .read(move |store| Ok(store.call(&tenant, &call_id)?))
        .await
}

/// The writer's part: the tenant (404 when unknown), a live reservation, or the rate-card
/// entry behind a stored charge.
async fn ask_writer(
    state: &AppState,
    tenant: &str,
    call_id: &str,
    stored: Option<StoredCall>,
) -> ApiResult<Known> {
    let (tenant, call_id) = (tenant.to_string(), call_id.to_string());
    state
        .writer
        .run(move |ctx| {
            let (book, catalogue) = ctx.book_and_catalogue(&tenant)?;
            let currency = book.tenant.currency;
            if let Some(call) = stored {
                let place = match &call.outcome {
                    Outcome::Charged(c) => {
                        explain::rate_entry(catalogue.cards.get(&currency), &call.record, c)
                            .map(explain::rate_place)
                    }
                    Outcome::Refused(_) => None,
                };
                return Ok(Known::Stored { currency, place });
            }
            Ok(match book.live().get(&call_id) {
                Some(r) => Known::Live {
                    currency,
                    reservation: Box::new(r),
                    balance: book.wallet.balance(),
                    available: book.available(),
                },
                None => Known::Unknown,
            })
        })
        .await
}
