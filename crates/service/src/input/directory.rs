//! The bodies of the directory's routes (tenants, users, licenses, the wallet's set-up, the
//! tenant file over HTTP) and the checks made before any state is touched.

use crate::error::{ServiceError, ServiceResult};
use crate::input::bounded;
use crate::input::wallet::{Units, parse_bounded_money};
use crate::tenants::file_error;
use minutely_core::directory::{Agreement, AutoRecharge, Policy, Sku, Tenant, TenantSpec};
use minutely_core::money::{Currency, MAX_AMOUNT};
use minutely_core::numbers::Country;
use minutely_formats::tenant_file::TenantFile;
use rust_decimal::Decimal;
use serde::Deserialize;
use utoipa::ToSchema;

pub fn parse_sku(field: &str, text: &str) -> ServiceResult<Sku> {
    bounded(field, text)?;
    Sku::parse(text).ok_or_else(|| {
        ServiceError::invalid(format!(
            "{field}: {text:?} is not a license (MCOMEETADD, MCOMEETACPEA, MCOPSTNPP, MCOMEETADD_DIALOUT_US)"
        ))
    })
}

pub fn parse_country(field: &str, text: &str) -> ServiceResult<Country> {
    bounded(field, text)?;
    Country::parse(text).map_err(|e| ServiceError::invalid(format!("{field}: {e}")))
}

/// C41: an unknown policy name is `invalid_policy`.
pub fn parse_policy(field: &str, text: &str) -> ServiceResult<Policy> {
    bounded(field, text)?;
    Policy::parse(text).map_err(|reason| {
        ServiceError::reason(
            reason,
            format!("{field}: {text:?} is not a dial-out policy name (see GET /v1/policies)"),
        )
    })
}

/// Ids of tenants created through the API are used in paths: letters, digits, `-`, `_`, `.`.
pub fn check_new_tenant_id(id: &str) -> ServiceResult<()> {
    minutely_core::ident::tenant_id("id", id)?;
    Ok(())
}

/// A new tenant.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenantRequest {
    /// Letters, digits, `-`, `_` or `.`; 1 to 64 characters.
    pub id: String,
    pub name: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    /// ISO 4217; one per tenant, never changed.
    pub currency: String,
    /// IANA name; `UTC` when absent.
    pub timezone: Option<String>,
    /// `volume_licensing`, `online_subscription`, `post_usage` or `reseller`.
    pub agreement: String,
    /// A policy name of C16; `Global` when absent.
    pub default_dial_out_policy: Option<String>,
}

/// The tenant a creation request describes, every field checked; nothing is stored yet.
pub fn tenant_from(body: &CreateTenantRequest) -> ServiceResult<Tenant> {
    check_new_tenant_id(&body.id)?;
    bounded("name", &body.name)?;
    if body.name.trim().is_empty() {
        return Err(ServiceError::invalid("name is blank"));
    }
    let timezone = body.timezone.clone().unwrap_or_else(|| "UTC".to_string());
    bounded("timezone", &timezone)?;
    bounded("agreement", &body.agreement)?;
    let spec = TenantSpec {
        id: body.id.clone(),
        name: body.name.clone(),
        country: parse_country("country", &body.country)?,
        currency: Currency::parse(&body.currency)
            .map_err(|e| ServiceError::invalid(format!("currency: {e}")))?,
        timezone,
        agreement: Agreement::parse(&body.agreement).ok_or_else(|| {
            ServiceError::invalid(format!(
                "agreement: {:?} is not one of volume_licensing, online_subscription, post_usage, reseller",
                body.agreement
            ))
        })?,
    };
    // Which names are IANA time zones is the server's time-zone database's to say.
    let mut tenant =
        Tenant::new(spec).map_err(|e| ServiceError::unprocessable(format!("timezone: {e}")))?;
    if let Some(text) = &body.default_dial_out_policy {
        tenant.set_default_policy(parse_policy("default_dial_out_policy", text)?);
    }
    Ok(tenant)
}

/// A tenant file sent over HTTP, read and checked; nothing is applied yet. An empty body or
/// one that is not UTF-8 is malformed (400).
pub fn parse_tenant_file(body: &[u8]) -> ServiceResult<TenantFile> {
    let text = std::str::from_utf8(body)
        .map_err(|_| ServiceError::invalid("the tenant file is not UTF-8"))?;
    if text.is_empty() {
        return Err(ServiceError::invalid("the tenant file is empty"));
    }
    TenantFile::parse(text).map_err(file_error)
}

/// The wallet's settings.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WalletSettingsRequest {
    /// Low-balance notification thresholds (C15), at most two, decimal strings. Absent: kept
    /// as they are (none for a new wallet).
    pub low_balance_thresholds: Option<Vec<String>>,
}

/// Auto-recharge settings (C12).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AutoRechargeRequest {
    pub enabled: bool,
    /// Recharge after a debit leaves the balance strictly below this (whole units, at least
    /// the minimum, C11). May be left out, with `amount`, to turn auto-recharge off.
    pub trigger: Option<String>,
    /// Each recharge's amount (whole units, at least the minimum, C11).
    pub amount: Option<String>,
    /// Whether the payment method on file is accepted (true when absent).
    pub payment_accepted: Option<bool>,
}

impl WalletSettingsRequest {
    /// The thresholds to set, highest first (`None`: keep those there are), checked before any
    /// state is touched.
    pub fn thresholds(&self) -> ServiceResult<Option<[Option<Decimal>; 2]>> {
        self.low_balance_thresholds
            .as_deref()
            .map(parse_thresholds)
            .transpose()
    }
}

impl AutoRechargeRequest {
    /// The settings to set (`None`: auto-recharge off without amounts), read before any state
    /// is touched; the amounts' rules (minimum, whole units) are the wallet's, checked later.
    pub fn recharge(&self) -> ServiceResult<Option<AutoRecharge>> {
        match (&self.trigger, &self.amount) {
            (None, None) if !self.enabled => Ok(None),
            (Some(trigger), Some(amount)) => {
                bounded("trigger", trigger)?;
                bounded("amount", amount)?;
                Ok(Some(AutoRecharge {
                    enabled: self.enabled,
                    trigger: parse_bounded_money("trigger", trigger, MAX_AMOUNT, Units::Whole)?,
                    amount: parse_bounded_money("amount", amount, MAX_AMOUNT, Units::Whole)?,
                    payment_accepted: self.payment_accepted.unwrap_or(true),
                }))
            }
            _ => Err(ServiceError::unprocessable(
                "give both trigger and amount (they may be left out together only to turn auto-recharge off)",
            )),
        }
    }
}

fn parse_thresholds(list: &[String]) -> ServiceResult<[Option<Decimal>; 2]> {
    if list.len() > 2 {
        return Err(ServiceError::invalid(
            "low_balance_thresholds: at most two thresholds",
        ));
    }
    let mut thresholds = [None, None];
    for (i, text) in list.iter().enumerate() {
        let field = format!("low_balance_thresholds[{i}]");
        bounded(&field, text)?;
        let amount = parse_bounded_money(&field, text, MAX_AMOUNT, Units::Any)?;
        if amount < Decimal::ZERO {
            return Err(ServiceError::invalid(format!(
                "{field}: {text:?} is negative"
            )));
        }
        thresholds[i] = Some(amount);
    }
    thresholds.sort_by(|a, b| b.cmp(a));
    Ok(thresholds)
}
