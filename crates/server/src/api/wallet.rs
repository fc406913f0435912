//! The Communications Credits wallet over HTTP (capability 3; C10 to C15, C24, C28, C34, C40):
//! fundings, the wallet's state with its projected depletion date, the live lots, the journal
//! with its running balance, and the notification outbox.
//!
//! Changes and reads of in-memory state go through the writer; the journal and the outbox are
//! read from committed history on read-only connections.

use crate::access::Route;
use crate::api::reports::out_of_range;
use crate::api::types::{
    AutoRechargeJson, bad_cursor, instant, money, page_limit, paged, split_cursor, thresholds_json,
};
use crate::app::{AppState, Caller, Json, Path, Query};
use crate::auth::Access;
use crate::error::{ApiError, ApiResult};
use axum::extract::{FromRequest, Request, State};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use minutely_core::ledger::{Account, Entry, EntryKind, Lot, LotSource};
use minutely_core::money::{self, Currency};
use minutely_service::Command;
use minutely_service::commands::wallet::{Funded, WalletCommand};
pub use minutely_service::input::wallet::{FundingRequest, Units, parse_bounded_money};
use minutely_store::Store;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, OpenApi, ToSchema};

#[derive(OpenApi)]
#[openapi(components(schemas(
    FundingRequest,
    FundingResponse,
    WalletResponse,
    AutoRechargeJson,
    LotJson,
    LotsResponse,
    LedgerResponse,
    EntryJson,
    PostingJson,
    EventsResponse,
    EventJson
)))]
pub struct Doc;

/// The routes of this module, each with its access class (`crate::access`).
pub fn routes() -> Vec<Route> {
    use crate::access::Policy::*;
    vec![
        Route::documented(TenantAdmin, __path_wallet, wallet),
        Route::documented(TenantAdmin, __path_fund, fund),
        Route::documented(TenantAdmin, __path_lots, lots),
        Route::documented(TenantAdmin, __path_ledger, ledger),
        Route::documented(TenantAdmin, __path_events, events),
    ]
}

/// The window the projected depletion date averages debits over.
pub const DEPLETION_WINDOW_DAYS: i64 = 30;

/// At most this many journal entries, newest first, are read to find the debits of the window.
pub const DEPLETION_SCAN_ENTRIES: usize = 50_000;

/// Journal entries read per query while looking for the window's debits.
const DEPLETION_SCAN_PAGE: u64 = 1_000;

// ---------------------------------------------------------------------------------------------
// Shared shapes
// ---------------------------------------------------------------------------------------------

/// One lot of credit (C10).
#[derive(Debug, Serialize, ToSchema)]
pub struct LotJson {
    pub id: u64,
    pub funded_at: String,
    /// 12 calendar months after `funded_at`, same local time in the tenant time zone; the lot
    /// is usable strictly before this instant and what remains is forfeited then (C10, C28).
    pub expires_at: String,
    pub amount: String,
    pub remaining: String,
    /// `manual` (a funding) or `auto_recharge` (C12, C34).
    pub source: String,
    /// The funding reference of a manual lot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// The call whose debit caused an auto-recharge lot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
}

impl LotJson {
    fn new(lot: &Lot, currency: Currency) -> LotJson {
        let (source, reference, call_id) = match &lot.source {
            LotSource::Manual { reference } => ("manual", Some(reference.clone()), None),
            LotSource::AutoRecharge { call_id } => ("auto_recharge", None, Some(call_id.clone())),
        };
        LotJson {
            id: lot.id,
            funded_at: instant(lot.funded_at),
            expires_at: instant(lot.expires_at),
            amount: money(currency, lot.amount),
            remaining: money(currency, lot.remaining),
            source: source.to_string(),
            reference,
            call_id,
        }
    }
}

/// A page request over a per-tenant sequence (journal `seq`, event `seq`).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SeqPage {
    /// Items per page (default 100, at most the server's page limit, 1000 by default).
    pub limit: Option<usize>,
    /// The `next` cursor of the previous page (a sequence number; items after it are listed).
    pub after: Option<String>,
}

impl SeqPage {
    /// (after, limit), both checked.
    fn parse(&self, max: usize) -> ApiResult<(u64, usize)> {
        let limit = page_limit(self.limit, max)?;
        let after = match self.after.as_deref() {
            None | Some("") => 0,
            // A sequence number has at most 19 digits (the store's signed 64 bits).
            Some(text) if text.trim().len() > 19 => {
                return Err(ApiError::invalid(format!(
                    "after: a cursor of {} characters is not a sequence number (at most 19 digits)",
                    text.len()
                )));
            }
            Some(text) => text.trim().parse::<u64>().map_err(|_| {
                ApiError::invalid(format!(
                    "after: {text:?} is not a cursor (the `next` value of a previous page, a \
                     sequence number)"
                ))
            })?,
        };
        // No sequence number goes past the store's (signed 64-bit): beyond it, nothing follows.
        Ok((after.min(i64::MAX as u64), limit))
    }
}

/// The tenant's currency, which also tells that the tenant exists (404 otherwise).
async fn currency_of(state: &AppState, tenant: &str) -> ApiResult<Currency> {
    state
        .writer
        .with_book(tenant, |b| Ok(b.tenant.currency))
        .await
}

// ---------------------------------------------------------------------------------------------
// POST /wallet/fundings
// ---------------------------------------------------------------------------------------------

/// The funding made.
#[derive(Debug, Serialize, ToSchema)]
pub struct FundingResponse {
    pub tenant: String,
    pub reference: String,
    pub currency: String,
    /// The new lot. When the wallet was in debt, the lot pays the debt first (C13) and
    /// `remaining` is what is left of it.
    pub lot: LotJson,
    /// The part of the funding that paid debt (C13).
    pub paid_debt: String,
    /// The wallet balance after the funding.
    pub balance: String,
    /// The balance minus live reservations (C14).
    pub available: String,
}

/// C10, C11, C13, C40: funds the wallet with a new lot. The operator may fund any tenant; a
/// reseller tenant's own admin is refused `funding_not_permitted` (C3). Amount checks run
/// `amount_below_minimum`, then `amount_out_of_range`, then `amount_not_whole`. Each reference credits once: a reference
/// already used for this tenant (stored, or applied earlier in the same commit batch) is
/// refused with 409 `conflict` and nothing changes. Manual fundings never trigger an
/// auto-recharge (C34).
#[utoipa::path(
    post,
    path = "/v1/tenants/{tenant}/wallet/fundings",
    params(("tenant" = String, Path)),
    request_body = FundingRequest,
    responses(
        (status = 200, description = "Funded: the new lot and the balance", body = FundingResponse),
        (status = 400, description = "Malformed amount or reference", body = crate::app::ErrorBody),
        (status = 404, description = "Unknown tenant", body = crate::app::ErrorBody),
        (status = 409, description = "The reference was already used (`conflict`)", body = crate::app::ErrorBody),
        (status = 422, description = "`amount_below_minimum`, `amount_out_of_range` (above 1000000000000, or a balance above 1000000000000000 with the scheduled fundings), `amount_not_whole` (also for more digits after the point than can be held exactly: never rounded), `credits_not_set_up` or `funding_not_permitted`", body = crate::app::ErrorBody)
    ),
    tag = "wallet",
    security(("key" = []))
)]
pub async fn fund(
    State(state): State<AppState>,
    Caller(caller): Caller,
    actor: crate::api::audit::Actor,
    Path(tenant): Path<String>,
    request: Request,
) -> ApiResult<Json<FundingResponse>> {
    caller.check(&tenant, Access::Admin)?;
    // The body is read only once the caller may see the tenant.
    let Json(body) = Json::<FundingRequest>::from_request(request, &state).await?;
    let amount = body.check()?;
    let funded: Funded = state
        .writer
        .execute(Command::Wallet(WalletCommand::Fund {
            actor: actor.0,
            tenant,
            amount,
            reference: body.reference,
            by_operator: caller.is_operator(),
        }))
        .await?;
    Ok(Json(funding_json(funded)))
}

/// A funding made, as JSON.
fn funding_json(f: Funded) -> FundingResponse {
    let currency = f.currency;
    FundingResponse {
        tenant: f.tenant,
        reference: f.reference,
        currency: currency.code().to_string(),
        lot: LotJson::new(&f.lot, currency),
        paid_debt: money(currency, f.paid_debt),
        balance: money(currency, f.balance),
        available: money(currency, f.available),
    }
}

// ---------------------------------------------------------------------------------------------
// GET /wallet
// ---------------------------------------------------------------------------------------------

/// The wallet as it stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct WalletResponse {
    pub tenant: String,
    pub currency: String,
    /// False until the wallet is set up (C3): fundings are then refused `credits_not_set_up`.
    pub set_up: bool,
    /// Live lots minus debt; negative while in debt (C13).
    pub balance: String,
    /// The balance minus what live reservations hold (C14): what a new call can use.
    pub available: String,
    /// Credit held by live reservations (C25).
    pub reserved: String,
    /// How many reservations are live.
    pub live_reservations: usize,
    /// Debt carried (C13); the next lot pays it first.
    pub debt: String,
    /// Sums since the wallet was set up (C24: funded − debited − forfeited = balance).
    pub funded: String,
    pub debited: String,
    pub forfeited: String,
    /// How many lots still hold credit.
    pub live_lots: usize,
    pub auto_recharge: Option<AutoRechargeJson>,
    /// Low-balance notification thresholds (C15), highest first.
    pub low_balance_thresholds: Vec<String>,
    /// After a failed recharge payment, the earliest instant of the next attempt (C12).
    pub recharge_retry_after: Option<String>,
    /// The latest instant the wallet has been brought to (null before its first movement).
    pub clock: Option<String>,
    /// The server's time of this answer.
    pub as_of: String,
    /// Debits dated in the 30 days up to `as_of`.
    pub debited_last_30_days: String,
    /// `debited_last_30_days / 30`, shown to two digits below the minor unit (the projection
    /// uses the exact value).
    pub average_daily_debit: String,
    /// The tenant-local date (`YYYY-MM-DD`) the balance is projected to reach zero: spending
    /// `average_daily_debit` per day from `as_of`, draining lots oldest first, with each lot
    /// forfeited at its expiry (C10) if it is not spent by then. Null when nothing was debited
    /// in the last 30 days or the balance is not positive.
    pub projected_depletion: Option<String>,
    /// The projected instant behind `projected_depletion`.
    pub projected_depletion_at: Option<String>,
}

/// What the writer knows of a wallet.
struct WalletState {
    currency: Currency,
    tz: TimeZone,
    set_up: bool,
    balance: Decimal,
    available: Decimal,
    reserved: Decimal,
    live_reservations: usize,
    debt: Decimal,
    totals: (Decimal, Decimal, Decimal),
    /// (remaining, expires_at) of live lots, oldest purchase first.
    lots: Vec<(Decimal, Timestamp)>,
    auto_recharge: Option<AutoRechargeJson>,
    thresholds: Vec<String>,
    retry_after: Option<Timestamp>,
    clock: Timestamp,
    /// The last journal seq.
    last_seq: u64,
    now: Timestamp,
}

/// Sum of the debits dated in `(since, until]`, reading the journal from its newest entry
/// backwards. Entries are appended in commit order, which is time order except for records
/// ingested late, so the scan stops at the first page whose entries are all dated at or
/// before `since`, and after `DEPLETION_SCAN_ENTRIES` entries at most.
fn window_debits(
    store: &Store,
    tenant: &str,
    last_seq: u64,
    since: Timestamp,
    until: Timestamp,
) -> ApiResult<Decimal> {
    let mut sum = Decimal::ZERO;
    let mut high = last_seq;
    let mut scanned = 0usize;
    while high > 0 && scanned < DEPLETION_SCAN_ENTRIES {
        let low = high.saturating_sub(DEPLETION_SCAN_PAGE);
        let page = store.journal_page(tenant, low, (high - low) as usize)?;
        scanned += page.len();
        let mut recent = false;
        for entry in page.iter().filter(|e| e.seq <= high) {
            recent |= entry.at > since;
            if entry.kind == EntryKind::Debit && entry.at > since && entry.at <= until {
                sum =
                    money::add(sum, entry.amount).map_err(out_of_range("debits of the window"))?;
            }
        }
        if !recent {
            break;
        }
        high = low;
    }
    Ok(sum)
}

/// The instant the lots run out when `per_window` is spent every `window_s` seconds from
/// `now`: the oldest lot is drained first, and any lot still holding credit at its expiry is
/// forfeited then (C10). `None` when nothing is spent or there is nothing to spend, or when
/// the instant is beyond what can be represented.
fn depletion_instant(
    lots: &[(Decimal, Timestamp)],
    per_window: Decimal,
    window_s: i64,
    now: Timestamp,
) -> Option<Timestamp> {
    if per_window <= Decimal::ZERO || lots.is_empty() {
        return None;
    }
    let window = Decimal::from(window_s);
    let mut lots: Vec<(Decimal, Timestamp)> = lots.to_vec();
    // Seconds from `now`, exact.
    let mut t = Decimal::ZERO;
    let seconds_until = |at: Timestamp| Decimal::from(at.as_second() - now.as_second());
    while !lots.is_empty() {
        // Lots that expire before the spending reaches them are forfeited at their expiry.
        let front_empty_at =
            t.checked_add(lots[0].0.checked_mul(window)?.checked_div(per_window)?)?;
        let next_expiry = lots.iter().map(|l| seconds_until(l.1)).min()?;
        if next_expiry < front_empty_at {
            // Spend up to the expiry, then drop every lot expiring then.
            let spent = next_expiry
                .checked_sub(t)?
                .max(Decimal::ZERO)
                .checked_mul(per_window)?
                .checked_div(window)?;
            let front = lots[0].0;
            lots[0].0 = front.checked_sub(spent.min(front))?;
            t = t.max(next_expiry);
            lots.retain(|l| seconds_until(l.1) > t);
            lots.retain(|l| l.0 > Decimal::ZERO);
        } else {
            t = front_empty_at;
            lots.remove(0);
        }
    }
    let seconds = i64::try_from(t.trunc()).ok()?;
    now.checked_add(SignedDuration::from_secs(seconds)).ok()
}

/// C10 to C15, C24: the wallet's balance, what is available (C14), reservations, debt, totals,
/// settings, and the projected depletion date. The projection averages the debits dated in the
/// last 30 days (read from the journal, newest first, at most 50,000 entries back) into a daily
/// spend, then drains the live lots oldest first at that pace from now, forfeiting a lot at its
/// expiry if it is not spent by then (C10); the date is the tenant-local day the last lot runs
/// out. It is null when nothing was debited in the window or the balance is not positive.
#[utoipa::path(
    get,
    path = "/v1/tenants/{tenant}/wallet",
    params(("tenant" = String, Path)),
    responses(
        (status = 200, description = "The wallet. `projected_depletion`: the tenant-local date the balance reaches zero if the average daily debit of the last 30 days (from the journal) goes on, draining lots oldest first and forfeiting each at its expiry (C10); null without debits in the window or with a balance that is not positive", body = WalletResponse),
        (status = 404, description = "Unknown tenant", body = crate::app::ErrorBody)
    ),
    tag = "wallet",
    security(("key" = []))
)]
pub async fn wallet(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(tenant): Path<String>,
) -> ApiResult<Json<WalletResponse>> {
    caller.check(&tenant, Access::Admin)?;
    let id = tenant.clone();
    let w = state
        .writer
        .run(move |ctx| {
            let now = ctx.now;
            let book = ctx.book(&id)?;
            let currency = book.tenant.currency;
            let settings = book.tenant.wallet().copied();
            let snapshot = book.wallet.snapshot();
            Ok(WalletState {
                currency,
                tz: book.tenant.timezone.clone(),
                set_up: settings.is_some(),
                balance: book.wallet.balance(),
                available: book.available(),
                reserved: book.live().holds().credit(),
                live_reservations: book.live().holds().live(),
                debt: book.wallet.debt(),
                totals: book.wallet.totals(),
                lots: snapshot
                    .lots
                    .iter()
                    .map(|l| (l.remaining, l.expires_at))
                    .collect(),
                auto_recharge: settings
                    .and_then(|s| s.auto_recharge)
                    .map(|r| AutoRechargeJson::new(&r, currency)),
                thresholds: settings
                    .map(|s| thresholds_json(&s, currency))
                    .unwrap_or_default(),
                retry_after: snapshot.retry_after,
                clock: snapshot.clock,
                last_seq: snapshot.next_seq.saturating_sub(1),
                now,
            })
        })
        .await?;
    let since = w
        .now
        .checked_sub(SignedDuration::from_hours(24 * DEPLETION_WINDOW_DAYS))
        .map_err(ApiError::internal)?;
    let (last_seq, now) = (w.last_seq, w.now);
    let scanned = tenant.clone();
    let debited_window = state
        .read(move |store| window_debits(store, &scanned, last_seq, since, now))
        .await?;
    let window_s = 24 * 3600 * DEPLETION_WINDOW_DAYS;
    let depletion = if w.balance > Decimal::ZERO {
        depletion_instant(&w.lots, debited_window, window_s, now)
    } else {
        None
    };
    let c = w.currency;
    let (funded, debited, forfeited) = w.totals;
    Ok(Json(WalletResponse {
        tenant,
        currency: c.code().to_string(),
        set_up: w.set_up,
        balance: money(c, w.balance),
        available: money(c, w.available),
        reserved: money(c, w.reserved),
        live_reservations: w.live_reservations,
        debt: money(c, w.debt),
        funded: money(c, funded),
        debited: money(c, debited),
        forfeited: money(c, forfeited),
        live_lots: w.lots.len(),
        auto_recharge: w.auto_recharge,
        low_balance_thresholds: w.thresholds,
        recharge_retry_after: w.retry_after.map(instant),
        clock: (w.clock != Timestamp::MIN).then(|| instant(w.clock)),
        as_of: instant(now),
        debited_last_30_days: money(c, debited_window),
        average_daily_debit: money(
            c,
            (debited_window / Decimal::from(DEPLETION_WINDOW_DAYS)).round_dp(c.minor_units() + 2),
        ),
        projected_depletion: depletion
            .map(|at| at.to_zoned_datetime(w.tz.clone()).date().to_string()),
        projected_depletion_at: depletion.map(instant),
    }))
}

// ---------------------------------------------------------------------------------------------
// GET /wallet/lots
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct LotsResponse {
    pub tenant: String,
    pub currency: String,
    /// Live lots in the order debits drain them (oldest purchase first, C10).
    pub lots: Vec<LotJson>,
    /// Sum of `remaining` over every live lot (not only this page).
    pub live_total: String,
    /// The cursor of the next page, or null.
    pub next: Option<String>,
}

/// Lots page cursor: the last lot's FIFO position `(funded_at, id)`.
fn lot_cursor(funded_at: Timestamp, id: u64) -> String {
    format!("{}_{id}", funded_at.as_nanosecond())
}

fn parse_lot_cursor(text: &str) -> ApiResult<(i128, u64)> {
    let (nanos, id) = split_cursor(text)?;
    Ok((nanos, id.parse().map_err(|_| bad_cursor(text))?))
}

/// C10: the live lots, in the order debits drain them (oldest purchase first), with what
/// remains of each. Emptied and expired lots are gone (the ledger keeps their history).
#[utoipa::path(
    get,
    path = "/v1/tenants/{tenant}/wallet/lots",
    params(("tenant" = String, Path), SeqPage),
    responses(
        (status = 200, description = "Live lots, FIFO", body = LotsResponse),
        (status = 400, description = "Bad limit or cursor", body = crate::app::ErrorBody),
        (status = 404, description = "Unknown tenant", body = crate::app::ErrorBody)
    ),
    tag = "wallet",
    security(("key" = []))
)]
pub async fn lots(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(tenant): Path<String>,
    Query(page): Query<SeqPage>,
) -> ApiResult<Json<LotsResponse>> {
    caller.check(&tenant, Access::Admin)?;
    let limit = page_limit(page.limit, state.config.max_page)?;
    let after = match page.after.as_deref() {
        None | Some("") => None,
        Some(text) => Some(parse_lot_cursor(text)?),
    };
    let (currency, lots, live_total) = state
        .writer
        .with_book(&tenant, move |book| {
            let currency = book.tenant.currency;
            let mut live_total = Decimal::ZERO;
            let mut lots = Vec::new();
            for lot in book.wallet.lots() {
                live_total = money::add(live_total, lot.remaining)
                    .map_err(out_of_range("live lots total"))?;
                let key = (lot.funded_at.as_nanosecond(), lot.id);
                if lots.len() <= limit && after.is_none_or(|a| key > a) {
                    lots.push(lot.clone());
                }
            }
            Ok((currency, lots, live_total))
        })
        .await?;
    let (lots, next) = paged(lots, limit, |l| lot_cursor(l.funded_at, l.id));
    Ok(Json(LotsResponse {
        tenant,
        currency: currency.code().to_string(),
        lots: lots.iter().map(|l| LotJson::new(l, currency)).collect(),
        live_total: money(currency, live_total),
        next,
    }))
}

// ---------------------------------------------------------------------------------------------
// GET /wallet/ledger
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct PostingJson {
    /// `payments`, `lot:<id>`, `debt`, `usage` or `forfeits`.
    pub account: String,
    /// Signed: positive adds to the account.
    pub amount: String,
}

/// One journal entry (C24).
#[derive(Debug, Serialize, ToSchema)]
pub struct EntryJson {
    /// Per-tenant sequence, from 1, without gaps.
    pub seq: u64,
    pub at: String,
    /// `funding`, `recharge`, `debit` or `forfeit`.
    pub kind: String,
    /// The size of the movement (positive).
    pub amount: String,
    /// What the entry changed the balance by (signed).
    pub delta: String,
    /// The balance right after this entry: the running balance.
    pub balance_after: String,
    /// The call of a debit, or the call whose debit caused a recharge.
    pub call_id: Option<String>,
    /// The funding reference, or the lot a forfeit empties (`lot 3`).
    pub reference: Option<String>,
    /// The double-entry legs; they sum to zero.
    pub postings: Vec<PostingJson>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LedgerResponse {
    pub tenant: String,
    pub currency: String,
    pub entries: Vec<EntryJson>,
    /// The cursor of the next page (pass it as `after`), or null at the end.
    pub next: Option<String>,
}

fn account_text(account: Account) -> String {
    match account {
        Account::Payments => "payments".into(),
        Account::Lot(id) => format!("lot:{id}"),
        Account::Debt => "debt".into(),
        Account::Usage => "usage".into(),
        Account::Forfeits => "forfeits".into(),
    }
}

/// C24 on read: each entry's postings balance, and its running balance follows from the one
/// before (`previous`, when known) by its wallet delta.
fn check_running_balance(previous: Option<Decimal>, entries: &[Entry]) -> ApiResult<()> {
    let mut before = previous;
    for entry in entries {
        // Out of range is broken too: `entry_json` then never meets a delta it cannot form.
        let balanced = entry.checked_legs().is_ok_and(|legs| legs.is_zero());
        let follows = entry.checked_wallet_delta().is_ok_and(|delta| {
            before.is_none_or(|b| money::add(b, delta).is_ok_and(|a| a == entry.balance_after))
        });
        if !balanced || !follows {
            return Err(ApiError::internal(format!(
                "ledger invariant (C24) broken at journal entry {}",
                entry.seq
            )));
        }
        before = Some(entry.balance_after);
    }
    Ok(())
}

/// C24: the journal, oldest first, with the running balance after each entry, its wallet
/// delta and its postings; paginated by `seq`. The running balance is checked on the way out.
#[utoipa::path(
    get,
    path = "/v1/tenants/{tenant}/wallet/ledger",
    params(("tenant" = String, Path), SeqPage),
    responses(
        (status = 200, description = "A page of the journal", body = LedgerResponse),
        (status = 400, description = "Bad limit or cursor", body = crate::app::ErrorBody),
        (status = 404, description = "Unknown tenant", body = crate::app::ErrorBody)
    ),
    tag = "wallet",
    security(("key" = []))
)]
pub async fn ledger(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(tenant): Path<String>,
    Query(page): Query<SeqPage>,
) -> ApiResult<Json<LedgerResponse>> {
    caller.check(&tenant, Access::Admin)?;
    let (after, limit) = page.parse(state.config.max_page)?;
    let currency = currency_of(&state, &tenant).await?;
    let id = tenant.clone();
    let (entries, next) = state
        .read(move |store| {
            // The entry at the cursor comes along, to check the running balance from it; one
            // more than the page tells whether there is a next page.
            let anchor = u64::from(after > 0);
            let mut entries =
                store.journal_page(&id, after - anchor, limit + 1 + anchor as usize)?;
            let previous = match entries.first() {
                Some(first) if anchor == 1 && first.seq == after => {
                    Some(entries.remove(0).balance_after)
                }
                _ if after == 0 => Some(Decimal::ZERO),
                _ => None,
            };
            let (entries, next) = paged(entries, limit, |e| e.seq.to_string());
            check_running_balance(previous, &entries)?;
            Ok((entries, next))
        })
        .await?;
    Ok(Json(LedgerResponse {
        tenant,
        currency: currency.code().to_string(),
        entries: entries.iter().map(|e| entry_json(e, currency)).collect(),
        next,
    }))
}

fn entry_json(e: &Entry, currency: Currency) -> EntryJson {
    EntryJson {
        seq: e.seq,
        at: instant(e.at),
        kind: e.kind.as_str().to_string(),
        amount: money(currency, e.amount),
        delta: money(currency, e.wallet_delta()),
        balance_after: money(currency, e.balance_after),
        call_id: e.call_id.clone(),
        reference: e.reference.clone(),
        postings: e
            .postings
            .iter()
            .map(|p| PostingJson {
                account: account_text(p.account),
                amount: money(currency, p.amount),
            })
            .collect(),
    }
}

// ---------------------------------------------------------------------------------------------
// GET /events
// ---------------------------------------------------------------------------------------------

/// One notification (C15).
#[derive(Debug, Serialize, ToSchema)]
pub struct EventJson {
    /// Per-tenant sequence, from 1, without gaps.
    pub seq: u64,
    /// The stable type: `wallet.recharge_succeeded`, `wallet.recharge_failed`,
    /// `wallet.balance_depleted`, `wallet.low_balance`, `wallet.lot_expiring`,
    /// `pool.threshold`, `call.last_window`, `fraud.alert`, `fraud.new_country`,
    /// `fraud.suspended` or `fraud.lifted`.
    #[serde(rename = "type")]
    pub kind: String,
    pub at: String,
    /// The event's fields (amounts as decimal strings in the tenant currency, instants RFC
    /// 3339), such as `{"threshold": "20.00", "balance": "19.50"}`.
    pub data: BTreeMap<String, String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventsResponse {
    pub tenant: String,
    pub events: Vec<EventJson>,
    /// The cursor of the next page (pass it as `after`), or null at the end.
    pub next: Option<String>,
}

/// Event fields that hold an amount of the tenant currency.
const MONEY_FIELDS: [&str; 6] = [
    "amount",
    "balance",
    "threshold",
    "remaining",
    "hour_exposure",
    "day_exposure",
];

/// C15: the notification outbox (what webhooks deliver), oldest first, paginated by `seq`.
#[utoipa::path(
    get,
    path = "/v1/tenants/{tenant}/events",
    params(("tenant" = String, Path), SeqPage),
    responses(
        (status = 200, description = "A page of the outbox", body = EventsResponse),
        (status = 400, description = "Bad limit or cursor", body = crate::app::ErrorBody),
        (status = 404, description = "Unknown tenant", body = crate::app::ErrorBody)
    ),
    tag = "wallet",
    security(("key" = []))
)]
pub async fn events(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(tenant): Path<String>,
    Query(page): Query<SeqPage>,
) -> ApiResult<Json<EventsResponse>> {
    caller.check(&tenant, Access::Admin)?;
    events_page(&state, tenant, &page, &[]).await.map(Json)
}

/// A page of the tenant's outbox: every event, or only those of `kinds` (1 to 8 of them).
pub(crate) async fn events_page(
    state: &AppState,
    tenant: String,
    page: &SeqPage,
    kinds: &'static [&'static str],
) -> ApiResult<EventsResponse> {
    let (after, limit) = page.parse(state.config.max_page)?;
    let currency = currency_of(state, &tenant).await?;
    let id = tenant.clone();
    let stored = state
        .read(move |store| {
            Ok(if kinds.is_empty() {
                store.events_page(&id, after, limit + 1)?
            } else {
                store.events_of_kinds(&id, kinds, after, limit + 1)?
            })
        })
        .await?;
    let (stored, next) = paged(stored, limit, |e| e.seq.to_string());
    let events = stored
        .into_iter()
        .map(|e| EventJson {
            seq: e.seq,
            kind: e.kind,
            at: instant(e.at),
            data: e
                .fields
                .into_iter()
                .map(|(key, value)| {
                    let value = match minutely_core::money::parse_amount(&value) {
                        Ok(amount) if MONEY_FIELDS.contains(&key.as_str()) => {
                            money(currency, amount)
                        }
                        _ => value,
                    };
                    (key, value)
                })
                .collect(),
        })
        .collect();
    Ok(EventsResponse {
        tenant,
        events,
        next,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().expect("an instant")
    }

    #[test]
    fn depletion_spends_oldest_first_and_forfeits_at_expiry() {
        let now = at("2026-03-02T00:00:00Z");
        let day = 86_400;
        // 30 a day: 90 lasts 3 days.
        let lots = [(Decimal::from(90), at("2027-03-02T00:00:00Z"))];
        assert_eq!(
            depletion_instant(&lots, Decimal::from(900), 30 * day, now),
            Some(at("2026-03-05T00:00:00Z"))
        );
        // A lot that expires after one day forfeits its rest; the next lasts 2 days.
        let lots = [
            (Decimal::from(90), at("2026-03-03T00:00:00Z")),
            (Decimal::from(60), at("2027-03-02T00:00:00Z")),
        ];
        assert_eq!(
            depletion_instant(&lots, Decimal::from(900), 30 * day, now),
            Some(at("2026-03-05T00:00:00Z"))
        );
        assert_eq!(depletion_instant(&lots, Decimal::ZERO, 30 * day, now), None);
        assert_eq!(depletion_instant(&[], Decimal::ONE, 30 * day, now), None);
    }
}
