//! Tenants and their directory (capability 2): what the modules of its resources share (`tenants`,
//! `licenses`, `users`, `numbers`, `policies`, `wallet_settings`): parsing, the JSON shapes, the
//! request bodies and the document's schemas. The eligibility rules are those of sections 1 and
//! 2 of the charging rules (C1 to C4, C11, C16, C40 to C42).
//!
//! Access, decided per route:
//! - the operator creates tenants, applies tenant files, sets purchased license counts (what a
//!   tenant has bought is the provider's business: a tenant admin cannot grant itself
//!   licenses) and adds service numbers (the numbers are the provider's);
//! - the tenant's admin (and the operator) reads the tenant, manages users and their
//!   licenses, the default dial-out policy and the wallet's settings;
//! - every key may read the list of policy names; a tenant key listing tenants sees its own.
//!
//! Every change is checked by the core before anything is changed, and made by the writer: a
//! refused change leaves the tenant exactly as it was.

use crate::api::audit::snapshot;
use crate::api::licenses::{LicenseJson, LicensesResponse, PurchaseJson, SetPurchasedRequest};
use crate::api::numbers::{AddNumberRequest, NumbersPage};
use crate::api::policies::{DefaultPolicyRequest, DefaultPolicyResponse, PoliciesResponse};
use crate::api::tenants::ApplyResponse;
use crate::api::types::{AutoRechargeJson, bounded};
use crate::api::users::{AssignRequest, PutUserRequest, UsersPage};
use crate::api::wallet::{Units, parse_bounded_money};
use crate::api::wallet_settings::WalletSettingsJson;
use crate::error::{ApiError, ApiResult};
use minutely_core::Reason;
use minutely_core::directory::{
    Agreement, AutoRecharge, Policy, ServiceNumber, Sku, Tenant, TenantSpec, User,
};
use minutely_core::money::Currency;
use minutely_core::money::MAX_AMOUNT;
use minutely_core::numbers::Country;
use minutely_formats::tenant_file::TenantFile;
use minutely_service::tenants::file_error;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

#[derive(OpenApi)]
#[openapi(components(schemas(
    CreateTenantRequest,
    TenantSummaryJson,
    TenantsPage,
    TenantJson,
    PolicyJson,
    LicenseCountJson,
    ApplyResponse,
    LicensesResponse,
    LicenseJson,
    PurchaseJson,
    SetPurchasedRequest,
    UserJson,
    UsersPage,
    PutUserRequest,
    AssignRequest,
    NumberJson,
    NumbersPage,
    AddNumberRequest,
    PoliciesResponse,
    DefaultPolicyRequest,
    DefaultPolicyResponse,
    WalletSettingsRequest,
    AutoRechargeRequest,
    WalletSettingsJson,
    AutoRechargeJson
)))]
pub struct Doc;

// ---------------------------------------------------------------------------------------------
// Parsing helpers: every bad field is named.
// ---------------------------------------------------------------------------------------------

pub(crate) fn parse_sku(field: &str, text: &str) -> ApiResult<Sku> {
    bounded(field, text)?;
    Sku::parse(text).ok_or_else(|| {
        ApiError::invalid(format!(
            "{field}: {text:?} is not a license (MCOMEETADD, MCOMEETACPEA, MCOPSTNPP, MCOMEETADD_DIALOUT_US)"
        ))
    })
}

pub(crate) fn parse_country(field: &str, text: &str) -> ApiResult<Country> {
    bounded(field, text)?;
    Country::parse(text).map_err(|e| ApiError::invalid(format!("{field}: {e}")))
}

/// C41: an unknown policy name is `invalid_policy`.
pub(crate) fn parse_policy(field: &str, text: &str) -> ApiResult<Policy> {
    bounded(field, text)?;
    Policy::parse(text).map_err(|reason| {
        ApiError::reason(
            reason,
            format!("{field}: {text:?} is not a dial-out policy name (see GET /v1/policies)"),
        )
    })
}

/// Ids of tenants created through the API are used in paths: letters, digits, `-`, `_`, `.`.
fn check_new_tenant_id(id: &str) -> ApiResult<()> {
    minutely_core::ident::tenant_id("id", id)?;
    Ok(())
}

/// A user as its audit rows picture it (`None` when there is no such user).
pub(crate) fn user_snapshot(t: &Tenant, upn: &str) -> Option<String> {
    t.user(upn).map(|u| snapshot(&UserJson::new(t, u)))
}

// ---------------------------------------------------------------------------------------------
// JSON shapes
// ---------------------------------------------------------------------------------------------

/// A dial-out policy and its conferencing half (C16).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PolicyJson {
    /// The canonical name.
    pub name: String,
    /// `any`, `domestic`, `zone_a` or `disabled`.
    pub conferencing_dial_out: String,
}

impl PolicyJson {
    pub(crate) fn new(p: Policy) -> PolicyJson {
        PolicyJson {
            name: p.name.to_string(),
            conferencing_dial_out: p.scope.as_str().to_string(),
        }
    }
}

/// A tenant in a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantSummaryJson {
    pub id: String,
    pub name: String,
    pub country: String,
    pub currency: String,
    pub timezone: String,
    /// `volume_licensing`, `online_subscription`, `post_usage` or `reseller`.
    pub agreement: String,
}

impl TenantSummaryJson {
    pub(crate) fn new(t: &Tenant) -> TenantSummaryJson {
        TenantSummaryJson {
            id: t.id.clone(),
            name: t.name.clone(),
            country: t.country.to_string(),
            currency: t.currency.code().to_string(),
            timezone: t.timezone_name.clone(),
            agreement: t.agreement.as_str().to_string(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TenantsPage {
    /// By id.
    pub tenants: Vec<TenantSummaryJson>,
    /// The cursor of the next page (`after`), or null at the end.
    pub next: Option<String>,
}

/// Purchased and assigned counts of one license.
#[derive(Debug, Serialize, ToSchema)]
pub struct LicenseCountJson {
    pub sku: String,
    /// The latest purchased count (what assignment is checked against).
    pub purchased: u32,
    pub assigned: u32,
}

/// A tenant and its directory in figures.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantJson {
    pub id: String,
    pub name: String,
    pub country: String,
    pub currency: String,
    pub timezone: String,
    pub agreement: String,
    /// The policy users without their own follow.
    pub default_dial_out_policy: PolicyJson,
    /// C3: whether the Communications Credits wallet is set up.
    pub wallet_set_up: bool,
    /// Every license product, purchased and assigned.
    pub licenses: Vec<LicenseCountJson>,
    pub users: usize,
    pub numbers: usize,
}

fn license_counts(t: &Tenant) -> Vec<LicenseCountJson> {
    Sku::ALL
        .iter()
        .map(|&sku| LicenseCountJson {
            sku: sku.code().to_string(),
            purchased: t.purchases().current(sku),
            assigned: t.assigned(sku),
        })
        .collect()
}

impl TenantJson {
    pub(crate) fn new(t: &Tenant) -> TenantJson {
        TenantJson {
            id: t.id.clone(),
            name: t.name.clone(),
            country: t.country.to_string(),
            currency: t.currency.code().to_string(),
            timezone: t.timezone_name.clone(),
            agreement: t.agreement.as_str().to_string(),
            default_dial_out_policy: PolicyJson::new(t.default_policy),
            wallet_set_up: t.wallet().is_some(),
            licenses: license_counts(t),
            users: t.users().count(),
            numbers: t.numbers().count(),
        }
    }
}

/// A user with its licenses and the policy it follows.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserJson {
    /// As written when the user was created (compared case-insensitively).
    pub upn: String,
    /// The stable object id (the usage export's "AAD ObjectId").
    pub object_id: String,
    pub display_name: String,
    pub usage_location: String,
    /// License codes held.
    pub licenses: Vec<String>,
    /// The user's own policy, or null when it follows the tenant default.
    pub dial_out_policy: Option<String>,
    /// The policy that applies (its own, else the tenant default).
    pub effective_policy: PolicyJson,
    pub toll_free_dial_in: bool,
}

impl UserJson {
    pub(crate) fn new(t: &Tenant, u: &User) -> UserJson {
        UserJson::of(u, t.policy_of(u))
    }

    /// The user, following `effective` (its own policy, else the tenant default).
    pub(crate) fn of(u: &User, effective: Policy) -> UserJson {
        UserJson {
            upn: u.upn.display.clone(),
            object_id: u.object_id.clone(),
            display_name: u.display_name.clone(),
            usage_location: u.usage_location.to_string(),
            licenses: u.licenses.iter().map(|s| s.code().to_string()).collect(),
            dial_out_policy: u.policy.map(|p| p.name.to_string()),
            effective_policy: PolicyJson::new(effective),
            toll_free_dial_in: u.toll_free_dial_in,
        }
    }
}

/// One of the tenant's service numbers.
#[derive(Debug, Serialize, ToSchema)]
pub struct NumberJson {
    /// E.164 (`+33186950000`).
    pub number: String,
    /// `toll` or `toll_free`.
    pub kind: String,
    /// Shared with other tenants, or dedicated.
    pub shared: bool,
    /// From the numbering plan.
    pub country: String,
    /// The bridge default (one toll number).
    pub bridge_default: bool,
}

impl NumberJson {
    pub(crate) fn new(n: &ServiceNumber) -> NumberJson {
        NumberJson {
            number: n.number.to_string(),
            kind: n.kind.as_str().to_string(),
            shared: n.shared,
            country: n.country.to_string(),
            bridge_default: n.bridge_default,
        }
    }
}

pub(crate) fn unknown_user(tenant: &str, upn: &str) -> ApiError {
    ApiError::reason(
        Reason::UnknownUser,
        format!("no user {upn:?} in tenant {tenant:?}"),
    )
}

/// The user of `upn`, as JSON.
pub(crate) fn user_json(t: &Tenant, upn: &str) -> ApiResult<UserJson> {
    t.user(upn)
        .map(|u| UserJson::new(t, u))
        .ok_or_else(|| unknown_user(&t.id, upn))
}

// ---------------------------------------------------------------------------------------------
// Tenants
// ---------------------------------------------------------------------------------------------

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
pub fn tenant_from(body: &CreateTenantRequest) -> ApiResult<Tenant> {
    check_new_tenant_id(&body.id)?;
    bounded("name", &body.name)?;
    if body.name.trim().is_empty() {
        return Err(ApiError::invalid("name is blank"));
    }
    let timezone = body.timezone.clone().unwrap_or_else(|| "UTC".to_string());
    bounded("timezone", &timezone)?;
    bounded("agreement", &body.agreement)?;
    let spec = TenantSpec {
        id: body.id.clone(),
        name: body.name.clone(),
        country: parse_country("country", &body.country)?,
        currency: Currency::parse(&body.currency)
            .map_err(|e| ApiError::invalid(format!("currency: {e}")))?,
        timezone,
        agreement: Agreement::parse(&body.agreement).ok_or_else(|| {
            ApiError::invalid(format!(
                "agreement: {:?} is not one of volume_licensing, online_subscription, post_usage, reseller",
                body.agreement
            ))
        })?,
    };
    // Which names are IANA time zones is the server's time-zone database's to say.
    let mut tenant =
        Tenant::new(spec).map_err(|e| ApiError::unprocessable(format!("timezone: {e}")))?;
    if let Some(text) = &body.default_dial_out_policy {
        tenant.set_default_policy(parse_policy("default_dial_out_policy", text)?);
    }
    Ok(tenant)
}

/// A tenant file sent over HTTP, read and checked; nothing is applied yet. An empty body or
/// one that is not UTF-8 is malformed (400).
pub fn parse_tenant_file(body: &[u8]) -> ApiResult<TenantFile> {
    let text =
        std::str::from_utf8(body).map_err(|_| ApiError::invalid("the tenant file is not UTF-8"))?;
    if text.is_empty() {
        return Err(ApiError::invalid("the tenant file is empty"));
    }
    TenantFile::parse(text).map_err(|e| file_error(e).into())
}

// ---------------------------------------------------------------------------------------------
// Wallet set-up
// ---------------------------------------------------------------------------------------------

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
    pub fn thresholds(&self) -> ApiResult<Option<[Option<Decimal>; 2]>> {
        self.low_balance_thresholds
            .as_deref()
            .map(parse_thresholds)
            .transpose()
    }
}

impl AutoRechargeRequest {
    /// The settings to set (`None`: auto-recharge off without amounts), read before any state
    /// is touched; the amounts' rules (minimum, whole units) are the wallet's, checked later.
    pub fn recharge(&self) -> ApiResult<Option<AutoRecharge>> {
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
            _ => Err(ApiError::unprocessable(
                "give both trigger and amount (they may be left out together only to turn auto-recharge off)",
            )),
        }
    }
}

fn parse_thresholds(list: &[String]) -> ApiResult<[Option<Decimal>; 2]> {
    if list.len() > 2 {
        return Err(ApiError::invalid(
            "low_balance_thresholds: at most two thresholds",
        ));
    }
    let mut thresholds = [None, None];
    for (i, text) in list.iter().enumerate() {
        let field = format!("low_balance_thresholds[{i}]");
        bounded(&field, text)?;
        let amount = parse_bounded_money(&field, text, MAX_AMOUNT, Units::Any)?;
        if amount < Decimal::ZERO {
            return Err(ApiError::invalid(format!("{field}: {text:?} is negative")));
        }
        thresholds[i] = Some(amount);
    }
    thresholds.sort_by(|a, b| b.cmp(a));
    Ok(thresholds)
}
