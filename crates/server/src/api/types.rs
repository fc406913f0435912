//! JSON shapes shared by several routes, and their conversion to and from core types. Money is
//! always a decimal string; instants are RFC 3339 UTC strings.

use crate::error::{ApiError, ApiResult};
use jiff::Timestamp;
use minutely_core::engine::{Charge, Outcome};
use minutely_core::money::Currency;
use minutely_core::rating::{CallRecord, Direction};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Longest text accepted in an identifier field (call id, conference id, UPN, number).
pub const MAX_FIELD: usize = 256;

/// An amount in the tenant's currency, with its minor units (`"12.80"`).
pub fn money(currency: Currency, amount: rust_decimal::Decimal) -> String {
    currency.format(amount)
}

pub fn instant(at: Timestamp) -> String {
    minutely_formats::instant::format(at)
}

/// Parses an RFC 3339 instant from the field `field`.
pub fn parse_instant(field: &str, text: &str) -> ApiResult<Timestamp> {
    minutely_formats::instant::parse(text).map_err(|e| {
        ApiError::invalid(format!(
            "{field}: {e} (expected RFC 3339, like 2026-01-31T12:00:00Z)"
        ))
    })
}

/// Parses a decimal amount from the field `field` (a JSON string such as `"100"` or `"12.50"`).
pub fn parse_money(field: &str, text: &str) -> ApiResult<rust_decimal::Decimal> {
    minutely_core::money::parse_amount(text)
        .map_err(|e| ApiError::invalid(format!("{field}: {text:?} is not an amount: {e}")))
}

/// Checks the length of an identifier-like field.
pub fn bounded<'a>(field: &str, text: &'a str) -> ApiResult<&'a str> {
    if text.len() > MAX_FIELD {
        return Err(ApiError::invalid(format!(
            "{field} is longer than {MAX_FIELD} bytes"
        )));
    }
    Ok(text)
}

/// A call record as a bridge reports it (C5).
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallRecordJson {
    pub call_id: String,
    pub conference_id: String,
    /// The meeting organizer's UPN.
    pub organizer: String,
    /// `dial_in` or `dial_out`.
    pub direction: String,
    #[serde(default)]
    pub service_number: String,
    #[serde(default)]
    pub caller_number: String,
    #[serde(default)]
    pub destination_number: String,
    /// RFC 3339 UTC.
    pub start: String,
    /// RFC 3339 UTC.
    pub end: String,
}

/// Parses a direction from the field `field`.
pub fn parse_direction(field: &str, text: &str) -> ApiResult<Direction> {
    Direction::parse(text).ok_or_else(|| {
        ApiError::invalid(format!(
            "{field}: {text:?} is not a direction (dial_in or dial_out)"
        ))
    })
}

impl CallRecordJson {
    /// The core record; `at` names the record in errors (`calls[3]`).
    pub fn to_record(&self, at: &str) -> ApiResult<CallRecord> {
        for (name, value) in [
            ("call_id", &self.call_id),
            ("conference_id", &self.conference_id),
            ("organizer", &self.organizer),
            ("service_number", &self.service_number),
            ("caller_number", &self.caller_number),
            ("destination_number", &self.destination_number),
        ] {
            bounded(&format!("{at}.{name}"), value)?;
        }
        if self.call_id.trim().is_empty() {
            return Err(ApiError::invalid(format!("{at}.call_id is empty")));
        }
        Ok(CallRecord {
            call_id: self.call_id.clone(),
            conference_id: self.conference_id.clone(),
            organizer: self.organizer.clone(),
            direction: parse_direction(&format!("{at}.direction"), &self.direction)?,
            service_number: self.service_number.clone(),
            caller_number: self.caller_number.clone(),
            destination_number: self.destination_number.clone(),
            start: parse_instant(&format!("{at}.start"), &self.start)?,
            end: parse_instant(&format!("{at}.end"), &self.end)?,
        })
    }

    pub fn from_record(r: &CallRecord) -> CallRecordJson {
        CallRecordJson {
            call_id: r.call_id.clone(),
            conference_id: r.conference_id.clone(),
            organizer: r.organizer.clone(),
            direction: r.direction.as_str().to_string(),
            service_number: r.service_number.clone(),
            caller_number: r.caller_number.clone(),
            destination_number: r.destination_number.clone(),
            start: instant(r.start),
            end: instant(r.end),
        }
    }
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
        match self.limit {
            None => Ok(100.min(max)),
            Some(0) => Err(ApiError::invalid("limit must be at least 1")),
            Some(n) if n > max => Err(ApiError::invalid(format!(
                "limit {n} is above the maximum page size {max}"
            ))),
            Some(n) => Ok(n),
        }
    }
}
