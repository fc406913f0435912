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
use crate::api::types::AutoRechargeJson;
use crate::api::users::{AssignRequest, PutUserRequest, UsersPage};
use crate::api::wallet_settings::WalletSettingsJson;
use crate::error::{ApiError, ApiResult};
use minutely_core::Reason;
use minutely_core::directory::{Policy, ServiceNumber, Sku, Tenant, User};
pub use minutely_service::input::directory::{
    AutoRechargeRequest, CreateTenantRequest, WalletSettingsRequest, check_new_tenant_id,
    parse_country, parse_policy, parse_sku, parse_tenant_file, tenant_from,
};
use serde::Serialize;
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
// Helpers
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Wallet set-up
// ---------------------------------------------------------------------------------------------
