//! JSON shapes shared by several routes, their conversion to and from core types, and the
//! paging every list shares (limit, cursors, `next`). Money is always a decimal string; instants
//! are RFC 3339 UTC strings.

use crate::error::{ApiError, ApiResult};
use jiff::Timestamp;
use minutely_core::catalogue::Origin;
use minutely_core::directory::{AutoRecharge, WalletSettings};
use minutely_core::engine::{Charge, Outcome};
use minutely_core::money::Currency;
use minutely_core::rating::Direction;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use minutely_service::input::control::CallRecordJson;
pub use minutely_service::input::{MAX_FIELD, whole, whole_opt};

/// An amount in the tenant's currency, with its minor units (`"12.80"`).
pub fn money(currency: Currency, amount: rust_decimal::Decimal) -> String {
    currency.format(amount)
}

pub fn instant(at: Timestamp) -> String {
    minutely_formats::instant::format(at)
}

/// Parses an RFC 3339 instant from the field `field`.
pub fn parse_instant(field: &str, text: &str) -> ApiResult<Timestamp> {
    Ok(minutely_service::input::parse_instant(field, text)?)
}

/// Parses an optional RFC 3339 instant from the field `field`.
pub fn parse_optional_instant(field: &str, text: Option<&str>) -> ApiResult<Option<Timestamp>> {
    Ok(minutely_service::input::parse_optional_instant(
        field, text,
    )?)
}

/// Parses a direction from the field `field`.
pub fn parse_direction(field: &str, text: &str) -> ApiResult<Direction> {
    Ok(minutely_service::input::parse_direction(field, text)?)
}

/// Parses a decimal amount from the field `field` (a JSON string such as `"100"` or `"12.50"`).
pub fn parse_money(field: &str, text: &str) -> ApiResult<rust_decimal::Decimal> {
    minutely_core::money::parse_amount(text)
        .map_err(|e| ApiError::invalid(format!("{field}: {text:?} is not an amount: {e}")))
}

/// Checks the length of an identifier-like field, in characters (as a JSON schema's
/// `maxLength` counts them): the service's check.
pub fn bounded<'a>(field: &str, text: &'a str) -> ApiResult<&'a str> {
    Ok(minutely_service::input::bounded(field, text)?)
}

/// How a call was charged.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChargeJson {
    /// `dial_in_toll`, `dial_in_toll_free` or `dial_out`.
    pub category: String,
    /// `included`, `add_on`, `pool`, `pool_and_credits` or `credits`.
    pub funding: String,
    /// The license that paid (section 6 of the charging rules).
    pub capability: String,
    /// The rule that decided who pays.
    pub rule: String,
    pub duration_s: u64,
    pub billable_s: u64,
    /// What the wallet was debited.
    pub amount: String,
    pub connection_fee: String,
    pub currency: String,
    pub pool_minutes: u32,
    /// The rate applied (`null` for included and add-on calls).
    pub rate: Option<RateJson>,
    /// Lots drained, in FIFO order.
    pub lots: Vec<LotTakeJson>,
    /// Wallet balance right after this call's debit (`null` without a wallet).
    pub balance_after: Option<String>,
    /// The lot an auto-recharge caused by this debit created.
    pub recharge_lot: Option<u64>,
    pub other_country: Option<String>,
    pub domestic: Option<bool>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RateJson {
    pub name: String,
    pub country: String,
    pub premium: bool,
    pub rate_per_minute: String,
    pub first_block_s: u32,
    pub increment_s: u32,
    pub effective_from: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LotTakeJson {
    pub lot: u64,
    pub amount: String,
}

impl ChargeJson {
    pub fn new(c: &Charge, currency: Currency) -> ChargeJson {
        ChargeJson {
            category: c.category.as_str().to_string(),
            funding: c.funding.as_str().to_string(),
            capability: c.capability.code().to_string(),
            rule: c.rule.to_string(),
            duration_s: c.duration_s,
            billable_s: c.billable_s,
            amount: money(currency, c.amount),
            connection_fee: money(currency, c.connection_fee),
            currency: currency.code().to_string(),
            pool_minutes: c.pool_minutes,
            rate: c.rate.as_ref().map(|r| RateJson {
                name: r.name.clone(),
                country: r.country.clone(),
                premium: r.premium,
                rate_per_minute: r.rate_per_minute.normalize().to_string(),
                first_block_s: r.first_block_s,
                increment_s: r.increment_s,
                effective_from: instant(r.effective_from),
            }),
            lots: c
                .lots
                .iter()
                .map(|(lot, amount)| LotTakeJson {
                    lot: *lot,
                    amount: money(currency, *amount),
                })
                .collect(),
            balance_after: c.balance_after.map(|b| money(currency, b)),
            recharge_lot: c.recharge_lot,
            other_country: c.other_country.clone(),
            domestic: c.domestic,
        }
    }
}

/// The result of one call record.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OutcomeJson {
    pub call_id: String,
    /// `charged` or `refused`.
    pub status: String,
    /// The reason code of a refusal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub charge: Option<ChargeJson>,
    /// True when this call id was already processed with the same content: this is the first
    /// result, and nothing changed (C23).
    pub replay: bool,
}

impl OutcomeJson {
    pub fn new(call_id: &str, outcome: &Outcome, replay: bool, currency: Currency) -> OutcomeJson {
        match outcome {
            Outcome::Charged(c) => OutcomeJson {
                call_id: call_id.to_string(),
                status: "charged".into(),
                reason: None,
                rule: None,
                charge: Some(ChargeJson::new(c, currency)),
                replay,
            },
            Outcome::Refused(r) => OutcomeJson {
                call_id: call_id.to_string(),
                status: "refused".into(),
                reason: Some(r.code().to_string()),
                rule: Some(r.rule().to_string()),
                charge: None,
                replay,
            },
        }
    }
}

/// A page request: `limit` items after the cursor `after`.
#[derive(Debug, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Items per page (default 100, at most the server's page limit, 1000 by default).
    pub limit: Option<usize>,
    /// The `next` cursor of the previous page.
    pub after: Option<String>,
}

impl PageParams {
    /// The limit, checked against the server's maximum.
    pub fn limit(&self, max: usize) -> ApiResult<usize> {
        page_limit(self.limit, max)
    }

    /// The limit, checked against the server's maximum, and the cursor, checked for length.
    pub fn checked(&self, max: usize) -> ApiResult<(usize, Option<String>)> {
        let limit = self.limit(max)?;
        if let Some(after) = &self.after {
            bounded("after", after)?;
        }
        Ok((limit, self.after.clone()))
    }
}

/// A page's `limit`, checked against the server's maximum `max` (100, or `max` if lower, when
/// absent).
pub fn page_limit(limit: Option<usize>, max: usize) -> ApiResult<usize> {
    match limit {
        None => Ok(100.min(max)),
        Some(0) => Err(ApiError::invalid("limit must be at least 1")),
        Some(n) if n > max => Err(ApiError::invalid(format!(
            "limit {n} is above the maximum page size {max}"
        ))),
        Some(n) => Ok(n),
    }
}

/// Cuts `items`, read up to one beyond `limit`, down to the page: the items shown, and the
/// `next` cursor (`cursor` of the last item shown) when there were more, else `None`.
pub fn paged<T>(
    mut items: Vec<T>,
    limit: usize,
    cursor: impl FnOnce(&T) -> String,
) -> (Vec<T>, Option<String>) {
    let next = if items.len() > limit {
        items.truncate(limit);
        items.last().map(cursor)
    } else {
        None
    };
    (items, next)
}

/// The page of a whole list `all` that follows the item whose `id` is `after`: the items shown
/// and the `next` cursor (the id of the last one shown, when more follow). An `after` that is
/// no id of the list is not found (404), saying it is not `what` (`a key`) of this list.
pub fn page_after_id<'a, T>(
    all: &'a [T],
    after: Option<&str>,
    limit: usize,
    id: impl Fn(&T) -> &str,
    what: &str,
) -> ApiResult<(&'a [T], Option<String>)> {
    let start = match after {
        None => 0,
        Some(after) => {
            all.iter()
                .position(|item| id(item) == after)
                .ok_or_else(|| {
                    ApiError::not_found(format!("after: {after:?} is not {what} of this list"))
                })?
                + 1
        }
    };
    let rest = &all[start.min(all.len())..];
    let shown = &rest[..rest.len().min(limit)];
    let next = (rest.len() > limit)
        .then(|| shown.last().map(|item| id(item).to_string()))
        .flatten();
    Ok((shown, next))
}

/// `after` is not a cursor of the list.
pub fn bad_cursor(text: &str) -> ApiError {
    ApiError::invalid(format!(
        "after: {text:?} is not a cursor (the `next` value of a previous page)"
    ))
}

/// A `<nanoseconds>_<rest>` cursor, split at its first `_` (`bad_cursor` otherwise).
pub fn split_cursor(text: &str) -> ApiResult<(i128, &str)> {
    let (nanos, rest) = text.split_once('_').ok_or_else(|| bad_cursor(text))?;
    Ok((nanos.parse().map_err(|_| bad_cursor(text))?, rest))
}

/// A rate-card entry's caller origin: a country, `*` for any, or none.
pub fn origin_text(origin: Option<Origin>) -> Option<String> {
    origin.map(|o| match o {
        Origin::Any => "*".to_string(),
        Origin::Country(c) => c.to_string(),
    })
}

// No doc comments on this shape or its fields: they would become descriptions in the committed
// OpenAPI document. `trigger`: a debit that leaves the balance strictly below it triggers one
// recharge (C12, C34); `payment_accepted`: whether the payment method on file is accepted.
#[derive(Debug, Serialize, ToSchema)]
pub struct AutoRechargeJson {
    pub enabled: bool,
    pub trigger: String,
    pub amount: String,
    pub payment_accepted: bool,
}

impl AutoRechargeJson {
    pub fn new(r: &AutoRecharge, currency: Currency) -> AutoRechargeJson {
        AutoRechargeJson {
            enabled: r.enabled,
            trigger: money(currency, r.trigger),
            amount: money(currency, r.amount),
            payment_accepted: r.payment_accepted,
        }
    }
}

/// A wallet's low-balance thresholds (C15) as they are kept: highest first, the unset left out.
pub fn thresholds_json(settings: &WalletSettings, currency: Currency) -> Vec<String> {
    settings
        .low_balance_thresholds
        .iter()
        .flatten()
        .map(|t| money(currency, *t))
        .collect()
}
