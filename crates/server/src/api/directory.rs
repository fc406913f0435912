//! Tenants and their directory (capability 2): tenants, purchased and assigned licenses, users,
//! service numbers, dial-out policies and the wallet's set-up, with the eligibility rules of
//! sections 1 and 2 of the charging rules (C1 to C4, C11, C16, C40 to C42), and the declarative
//! tenant file (`minutely apply`) over HTTP.
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

use crate::access::Route;
use crate::api::audit::{Actor, Audited, snapshot};
use crate::api::catalogue::{blocking, raw_body, require_content_type};
use crate::api::types::{
    AutoRechargeJson, PageParams, bounded, instant, paged, parse_optional_instant, thresholds_json,
};
use crate::app::{AppState, Caller, Json, Path, Query};
use crate::auth::Access;
use crate::error::{ApiError, ApiResult};
use crate::writer::{Catalogue, Ctx};
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use jiff::Timestamp;
use minutely_core::Reason;
use minutely_core::directory::{
    NumberKind, POLICY_NAMES, Policy, ServiceNumber, Sku, Tenant, User, UserSpec, WalletSettings,
};
use minutely_core::engine::TenantBook;
use minutely_core::money::MAX_LICENSE_COUNT;
use minutely_core::numbers::E164;
use minutely_service::Command;
pub use minutely_service::input::directory::{
    AutoRechargeRequest, CreateTenantRequest, WalletSettingsRequest, parse_country, parse_policy,
    parse_sku, parse_tenant_file, tenant_from,
};
use minutely_service::tenants::TenantApplied;
use serde::{Deserialize, Serialize};
use std::ops::Bound;
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

/// The routes of this module, each with its access class (`crate::access`).
pub fn routes() -> Vec<Route> {
    use crate::access::Policy::*;
    vec![
        Route::documented(Operator, __path_create_tenant, create_tenant),
        Route::documented(SharedRead, __path_list_tenants, list_tenants),
        Route::documented(TenantAdmin, __path_get_tenant, get_tenant),
        Route::documented(TenantOperator, __path_apply_file, apply_file),
        Route::documented(TenantAdmin, __path_get_licenses, get_licenses),
        Route::documented(TenantOperator, __path_set_purchased, set_purchased),
        Route::documented(TenantAdmin, __path_list_users, list_users),
        Route::documented(TenantAdmin, __path_get_user, get_user),
        Route::documented(TenantAdmin, __path_put_user, put_user),
        Route::documented(TenantAdmin, __path_assign_license, assign_license),
        Route::documented(TenantAdmin, __path_unassign_license, unassign_license),
        Route::documented(TenantAdmin, __path_list_numbers, list_numbers),
        Route::documented(TenantOperator, __path_add_number, add_number),
        Route::documented(SharedRead, __path_list_policies, list_policies),
        Route::documented(TenantAdmin, __path_set_default_policy, set_default_policy),
        Route::documented(TenantAdmin, __path_put_wallet_settings, put_wallet_settings),
        Route::documented(TenantAdmin, __path_put_auto_recharge, put_auto_recharge),
    ]
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Runs `change` on the tenant's directory with the catalogue at hand (`unknown_tenant` when
/// there is no such tenant). `change` answers whether it changed anything and what to send
/// back; a changed directory is rewritten at commit, with the audit row `audited` describes
/// (the object pictured before and after). A refused change records nothing.
fn change_tenant<T>(
    ctx: &mut Ctx<'_>,
    tenant: &str,
    audited: Audited<'_>,
    change: impl FnOnce(&mut Tenant, &Catalogue) -> ApiResult<(bool, T)>,
) -> ApiResult<T> {
    let (book, catalogue) = ctx.book_and_catalogue(tenant)?;
    let before = (audited.snapshot)(&book.tenant);
    let (changed, answer) = change(&mut book.tenant, catalogue)?;
    if changed {
        let after = (audited.snapshot)(&book.tenant);
        ctx.directory_changed(tenant);
        let object = audited.object.as_str();
        audited
            .actor
            .record(ctx, Some(tenant), audited.action, object, before, after);
    }
    Ok(answer)
}

/// A user as its audit rows picture it (`None` when there is no such user).
fn user_snapshot(t: &Tenant, upn: &str) -> Option<String> {
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
    fn new(p: Policy) -> PolicyJson {
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
    fn new(t: &Tenant) -> TenantSummaryJson {
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
    fn new(t: &Tenant) -> TenantJson {
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
    fn new(t: &Tenant, u: &User) -> UserJson {
        UserJson {
            upn: u.upn.display.clone(),
            object_id: u.object_id.clone(),
            display_name: u.display_name.clone(),
            usage_location: u.usage_location.to_string(),
            licenses: u.licenses.iter().map(|s| s.code().to_string()).collect(),
            dial_out_policy: u.policy.map(|p| p.name.to_string()),
            effective_policy: PolicyJson::new(t.policy_of(u)),
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
    fn new(n: &ServiceNumber) -> NumberJson {
        NumberJson {
            number: n.number.to_string(),
            kind: n.kind.as_str().to_string(),
            shared: n.shared,
            country: n.country.to_string(),
            bridge_default: n.bridge_default,
        }
    }
}

fn unknown_user(tenant: &str, upn: &str) -> ApiError {
    ApiError::reason(
        Reason::UnknownUser,
        format!("no user {upn:?} in tenant {tenant:?}"),
    )
}

/// The user of `upn`, as JSON.
fn user_json(t: &Tenant, upn: &str) -> ApiResult<UserJson> {
    t.user(upn)
        .map(|u| UserJson::new(t, u))
        .ok_or_else(|| unknown_user(&t.id, upn))
}

// ---------------------------------------------------------------------------------------------
// Tenants
// ---------------------------------------------------------------------------------------------

/// Creates a tenant (operator only), with no users, numbers, licenses or wallet. A tenant id
/// already used is 409 `conflict`.
#[utoipa::path(
    post,
    path = "/v1/tenants",
    request_body = CreateTenantRequest,
    responses(
        (status = 201, description = "Created", body = TenantJson),
        (status = 400, description = "A bad field (named)", body = crate::app::ErrorBody),
        (status = 403, description = "Not an operator key", body = crate::app::ErrorBody),
        (status = 409, description = "The id is taken", body = crate::app::ErrorBody),
        (status = 422, description = "invalid_policy", body = crate::app::ErrorBody)
    ),
    tag = "directory",
    security(("key" = []))
)]
pub async fn create_tenant(
    State(state): State<AppState>,
    Caller(caller): Caller,
    actor: Actor,
    body: Result<Json<CreateTenantRequest>, ApiError>,
) -> ApiResult<(StatusCode, Json<TenantJson>)> {
    caller.operator()?;
    let Json(body) = body?;
    let tenant = tenant_from(&body)?;
    let json = state
        .writer
        .run(move |ctx| {
            if ctx.books.contains_key(&tenant.id) {
                return Err(ApiError::conflict(format!(
                    "tenant {:?} already exists",
                    tenant.id
                )));
            }
            let id = tenant.id.clone();
            let json = TenantJson::new(&tenant);
            ctx.books.insert(id.clone(), TenantBook::new(tenant));
            ctx.directory_changed(&id);
            actor.record(
                ctx,
                Some(&id),
                "tenant.create",
                &id,
                None,
                Some(snapshot(&json)),
            );
            Ok(json)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(json)))
}

/// The tenants the key may see: every tenant for an operator key (paged by id), the key's own
/// tenant otherwise.
#[utoipa::path(
    get,
    path = "/v1/tenants",
    params(
        ("limit" = Option<usize>, Query, description = "Items per page (default 100)"),
        ("after" = Option<String>, Query, description = "The `next` cursor of the previous page")
    ),
    responses(
        (status = 200, description = "A page of tenants", body = TenantsPage),
        (status = 400, description = "Bad paging", body = crate::app::ErrorBody)
    ),
    tag = "directory",
    security(("key" = []))
)]
pub async fn list_tenants(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Query(page): Query<PageParams>,
) -> ApiResult<Json<TenantsPage>> {
    let (limit, after) = page.checked(state.config.max_page)?;
    let own = caller.tenant().map(str::to_string);
    let page = state
        .writer
        .run(move |ctx| {
            if let Some(own) = own {
                let tenants = ctx
                    .books
                    .get(&own)
                    .filter(|_| after.as_deref().is_none_or(|a| a < own.as_str()))
                    .map(|b| TenantSummaryJson::new(&b.tenant))
                    .into_iter()
                    .collect();
                return Ok(TenantsPage {
                    tenants,
                    next: None,
                });
            }
            let start = match &after {
                Some(a) => Bound::Excluded(a.clone()),
                None => Bound::Unbounded,
            };
            let tenants = ctx
                .books
                .range((start, Bound::Unbounded))
                .take(limit + 1)
                .map(|(_, b)| TenantSummaryJson::new(&b.tenant))
                .collect();
            let (tenants, next) = paged(tenants, limit, |t| t.id.clone());
            Ok(TenantsPage { tenants, next })
        })
        .await?;
    Ok(Json(page))
}

/// A tenant's facts, license counts, wallet set-up flag and default policy.
#[utoipa::path(
    get,
    path = "/v1/tenants/{tenant}",
    params(("tenant" = String, Path)),
    responses(
        (status = 200, description = "The tenant", body = TenantJson),
        (status = 403, description = "A bridge key", body = crate::app::ErrorBody),
        (status = 404, description = "unknown_tenant", body = crate::app::ErrorBody)
    ),
    tag = "directory",
    security(("key" = []))
)]
pub async fn get_tenant(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(tenant): Path<String>,
) -> ApiResult<Json<TenantJson>> {
    caller.check(&tenant, Access::Admin)?;
    let json = state
        .writer
        .with_book(&tenant, |b| Ok(TenantJson::new(&b.tenant)))
        .await?;
    Ok(Json(json))
}

/// What applying a tenant file did.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApplyResponse {
    pub tenant: String,
    /// True when the file created the tenant.
    pub created: bool,
    /// One sentence per change, in the order made; empty when nothing changed.
    pub changes: Vec<String>,
    /// `no changes`, or how many changes were made.
    pub summary: String,
}

/// Applies a tenant file (TOML; operator only), exactly like `minutely apply`: the tenant is
/// created or made to match the file, and the answer lists what changed (`no changes` when it
/// already matched). The file's `id` must be the path's tenant. A refused file names its place
/// (`users[2].licenses[0]`) and changes nothing. Declared fundings are applied once each, by
/// reference.
#[utoipa::path(
    put,
    path = "/v1/tenants/{tenant}/file",
    params(("tenant" = String, Path)),
    request_body(
        content((String = "application/toml"), (String = "text/plain")),
        description = "A tenant file (see examples/tenant.toml)"
    ),
    responses(
        (status = 200, description = "Applied; the changes made", body = ApplyResponse),
        (status = 400, description = "An empty body, or one that is not UTF-8", body = crate::app::ErrorBody),
        (status = 403, description = "Not an operator key", body = crate::app::ErrorBody),
        (status = 415, description = "Not TOML", body = crate::app::ErrorBody),
        (status = 422, description = "Not a tenant file, one of another tenant, or one a charging rule refused (its place named)", body = crate::app::ErrorBody)
    ),
    tag = "directory",
    security(("key" = []))
)]
pub async fn apply_file(
    State(state): State<AppState>,
    Caller(caller): Caller,
    actor: Actor,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<ApplyResponse>> {
    caller.check(&tenant, Access::Operator)?;
    // Operator only, whatever `Access::Operator` may come to allow a tenant admin.
    caller.operator()?;
    require_content_type(&headers, &["application/toml", "text/plain"])?;
    let body = raw_body(body)?;
    let file = blocking(move || Ok(parse_tenant_file(&body)?)).await?;
    if file.tenant_id() != tenant {
        return Err(ApiError::unprocessable(format!(
            "id: the file declares tenant {:?} but the path names {tenant:?}",
            file.tenant_id()
        )));
    }
    let applied = state
        .writer
        .execute::<TenantApplied>(Command::ApplyTenantFile {
            actor: actor.0,
            tenant,
            file: Box::new(file),
        })
        .await?;
    let count = applied.changes.len();
    let summary = match count {
        0 => "no changes".to_string(),
        1 => "1 change".to_string(),
        n => format!("{n} changes"),
    };
    Ok(Json(ApplyResponse {
        tenant: applied.tenant,
        created: applied.created,
        changes: applied.changes,
        summary,
    }))
}

// ---------------------------------------------------------------------------------------------
// Licenses
// ---------------------------------------------------------------------------------------------

/// One purchased count and the instant it takes effect.
#[derive(Debug, Serialize, ToSchema)]
pub struct PurchaseJson {
    /// RFC 3339; `1970-01-01T00:00:00Z` for a count declared "since always".
    pub from: String,
    pub count: u32,
}

/// One license product of the tenant.
#[derive(Debug, Serialize, ToSchema)]
pub struct LicenseJson {
    pub sku: String,
    /// The latest purchased count.
    pub purchased: u32,
    pub assigned: u32,
    /// Every change of the purchased count, oldest first (the pool uses the count in force at
    /// a call's start, C20).
    pub history: Vec<PurchaseJson>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LicensesResponse {
    pub tenant: String,
    pub licenses: Vec<LicenseJson>,
}

fn license_json(t: &Tenant, sku: Sku) -> LicenseJson {
    LicenseJson {
        sku: sku.code().to_string(),
        purchased: t.purchases().current(sku),
        assigned: t.assigned(sku),
        history: t
            .purchases()
            .changes()
            .filter(|(s, _, _)| *s == sku)
            .map(|(_, from, count)| PurchaseJson {
                from: instant(from),
                count,
            })
            .collect(),
    }
}

/// Purchased (current count and history) and assigned counts per license.
#[utoipa::path(
    get,
    path = "/v1/tenants/{tenant}/licenses",
    params(("tenant" = String, Path)),
    responses(
        (status = 200, description = "Every license product", body = LicensesResponse),
        (status = 404, description = "unknown_tenant", body = crate::app::ErrorBody)
    ),
    tag = "directory",
    security(("key" = []))
)]
pub async fn get_licenses(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(tenant): Path<String>,
) -> ApiResult<Json<LicensesResponse>> {
    caller.check(&tenant, Access::Admin)?;
    let json = state
        .writer
        .with_book(&tenant, |b| {
            Ok(LicensesResponse {
                tenant: b.tenant.id.clone(),
                licenses: Sku::ALL
                    .iter()
                    .map(|&sku| license_json(&b.tenant, sku))
                    .collect(),
            })
        })
        .await?;
    Ok(Json(json))
}

/// A purchased count.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPurchasedRequest {
    #[serde(deserialize_with = "crate::api::types::whole")]
    pub count: u32,
    /// When the count takes effect (RFC 3339); the server's clock when absent.
    pub from: Option<String>,
}

/// Sets the purchased count of a license from an instant (operator only: what a tenant has
/// bought is the provider's record). C42 order: `ppm_requires_volume_licensing` (C1), then
/// `country_ppm_only` / `country_not_supported` (C2), then a count below what is assigned
/// (`license_limit_exceeded`).
#[utoipa::path(
    put,
    path = "/v1/tenants/{tenant}/licenses/{sku}",
    params(("tenant" = String, Path), ("sku" = String, Path, description = "MCOMEETADD, MCOMEETACPEA, MCOPSTNPP or MCOMEETADD_DIALOUT_US")),
    request_body = SetPurchasedRequest,
    responses(
        (status = 200, description = "The license after the change", body = LicenseJson),
        (status = 400, description = "A bad field (named)", body = crate::app::ErrorBody),
        (status = 403, description = "Not an operator key", body = crate::app::ErrorBody),
        (status = 404, description = "unknown_tenant", body = crate::app::ErrorBody),
        (status = 422, description = "A C1/C2/C42 refusal; nothing changed", body = crate::app::ErrorBody)
    ),
    tag = "directory",
    security(("key" = []))
)]
pub async fn set_purchased(
    State(state): State<AppState>,
    Caller(caller): Caller,
    actor: Actor,
    Path((tenant, sku)): Path<(String, String)>,
    body: Result<Json<SetPurchasedRequest>, ApiError>,
) -> ApiResult<Json<LicenseJson>> {
    caller.check(&tenant, Access::Operator)?;
    // Operator only, whatever `Access::Operator` may come to allow a tenant admin.
    caller.operator()?;
    let Json(body) = body?;
    let sku = parse_sku("sku", &sku)?;
    if body.count > MAX_LICENSE_COUNT {
        return Err(ApiError::invalid(format!(
            "count {} is above the largest accepted count {MAX_LICENSE_COUNT}",
            body.count
        )));
    }
    let from = parse_optional_instant("from", body.from.as_deref())?;
    let json = state
        .writer
        .run(move |ctx| {
            let from: Timestamp = from.unwrap_or(ctx.now);
            let audited = Audited {
                actor: &actor,
                action: "license.set_purchased",
                object: sku.code().to_string(),
                snapshot: &|t| Some(snapshot(&license_json(t, sku))),
            };
            change_tenant(ctx, &tenant, audited, |t, catalogue| {
                let changed = t.set_purchased(sku, body.count, from, &catalogue.countries)?;
                Ok((changed, license_json(t, sku)))
            })
        })
        .await?;
    Ok(Json(json))
}

// ---------------------------------------------------------------------------------------------
// Users
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct UsersPage {
    /// By UPN (case-insensitive order).
    pub users: Vec<UserJson>,
    /// The cursor of the next page (`after`), or null at the end.
    pub next: Option<String>,
}

/// The tenant's users, paged by UPN.
#[utoipa::path(
    get,
    path = "/v1/tenants/{tenant}/users",
    params(
        ("tenant" = String, Path),
        ("limit" = Option<usize>, Query, description = "Items per page (default 100)"),
        ("after" = Option<String>, Query, description = "The `next` cursor of the previous page")
    ),
    responses(
        (status = 200, description = "A page of users", body = UsersPage),
        (status = 404, description = "unknown_tenant", body = crate::app::ErrorBody)
    ),
    tag = "directory",
    security(("key" = []))
)]
pub async fn list_users(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(tenant): Path<String>,
    Query(page): Query<PageParams>,
) -> ApiResult<Json<UsersPage>> {
    caller.check(&tenant, Access::Admin)?;
    let (limit, after) = page.checked(state.config.max_page)?;
    let after = after.map(|a| a.to_lowercase());
    let users = state
        .writer
        .with_book(&tenant, move |b| {
            let t = &b.tenant;
            let users: Vec<&User> = t
                .users()
                .filter(|u| after.as_deref().is_none_or(|a| u.upn.key.as_str() > a))
                .take(limit + 1)
                .collect();
            let (users, next) = paged(users, limit, |u| u.upn.key.clone());
            Ok(UsersPage {
                users: users.into_iter().map(|u| UserJson::new(t, u)).collect(),
                next,
            })
        })
        .await?;
    Ok(Json(users))
}

/// One user: object id, licenses, own and effective policy.
#[utoipa::path(
    get,
    path = "/v1/tenants/{tenant}/users/{upn}",
    params(("tenant" = String, Path), ("upn" = String, Path, description = "Case-insensitive")),
    responses(
        (status = 200, description = "The user", body = UserJson),
        (status = 404, description = "unknown_tenant or unknown_user", body = crate::app::ErrorBody)
    ),
    tag = "directory",
    security(("key" = []))
)]
pub async fn get_user(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((tenant, upn)): Path<(String, String)>,
) -> ApiResult<Json<UserJson>> {
    caller.check(&tenant, Access::Admin)?;
    minutely_core::ident::upn("upn", &upn)?;
    let json = state
        .writer
        .with_book(&tenant, move |b| user_json(&b.tenant, &upn))
        .await?;
    Ok(Json(json))
}

/// A user's attributes. PUT replaces them all (licenses are kept; they change through the
/// license routes).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutUserRequest {
    pub display_name: String,
    /// ISO2; the tenant's country when absent.
    pub usage_location: Option<String>,
    /// A policy name of C16; absent or null: the user follows the tenant default.
    pub dial_out_policy: Option<String>,
    /// True when absent.
    pub toll_free_dial_in: Option<bool>,
}

/// Creates (201) or updates (200) a user. Its object id is stable: a new user gets the
/// deterministic id of its tenant and UPN, an existing user keeps its own.
#[utoipa::path(
    put,
    path = "/v1/tenants/{tenant}/users/{upn}",
    params(("tenant" = String, Path), ("upn" = String, Path, description = "Case-insensitive")),
    request_body = PutUserRequest,
    responses(
        (status = 200, description = "Updated", body = UserJson),
        (status = 201, description = "Created", body = UserJson),
        (status = 400, description = "A bad field (named)", body = crate::app::ErrorBody),
        (status = 404, description = "unknown_tenant", body = crate::app::ErrorBody),
        (status = 422, description = "invalid_policy or upn_not_unique", body = crate::app::ErrorBody)
    ),
    tag = "directory",
    security(("key" = []))
)]
pub async fn put_user(
    State(state): State<AppState>,
    Caller(caller): Caller,
    actor: Actor,
    Path((tenant, upn)): Path<(String, String)>,
    body: Result<Json<PutUserRequest>, ApiError>,
) -> ApiResult<(StatusCode, Json<UserJson>)> {
    caller.check(&tenant, Access::Admin)?;
    let Json(body) = body?;
    minutely_core::ident::upn("upn", &upn)?;
    bounded("display_name", &body.display_name)?;
    if upn.trim().is_empty() {
        return Err(ApiError::invalid("upn is empty"));
    }
    let usage_location = body
        .usage_location
        .as_deref()
        .map(|c| parse_country("usage_location", c))
        .transpose()?;
    let policy = body
        .dial_out_policy
        .as_deref()
        .map(|p| parse_policy("dial_out_policy", p))
        .transpose()?;
    let (created, json) = state
        .writer
        .run(move |ctx| {
            let audited = Audited {
                actor: &actor,
                action: "user.put",
                object: upn.clone(),
                snapshot: &|t| user_snapshot(t, &upn),
            };
            change_tenant(ctx, &tenant, audited, |t, _| {
                let existing = t
                    .user(&upn)
                    .map(|u| (u.object_id.clone(), u.upn.display.clone()));
                let created = existing.is_none();
                // An existing user keeps its object id (which may come from a tenant file) and its
                // UPN as written when it was created.
                let (object_id, display_upn) = match existing {
                    Some((id, display)) => (Some(id), display),
                    None => (None, upn.clone()),
                };
                let spec = UserSpec {
                    object_id,
                    upn: display_upn,
                    display_name: body.display_name,
                    usage_location,
                    policy,
                    toll_free_dial_in: body.toll_free_dial_in.unwrap_or(true),
                };
                let changed = t.upsert_user(spec)?;
                Ok((changed, (created, user_json(t, &upn)?)))
            })
        })
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(json)))
}

/// A license to assign.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignRequest {
    /// MCOMEETADD, MCOMEETACPEA, MCOPSTNPP or MCOMEETADD_DIALOUT_US.
    pub sku: String,
}

/// Assigns a license to a user. C42 order: `unknown_user`, then C1, C2, then
/// `conflicting_conferencing_licenses`, then the purchased count (`license_limit_exceeded`).
/// Assigning a license the user holds changes nothing.
#[utoipa::path(
    post,
    path = "/v1/tenants/{tenant}/users/{upn}/licenses",
    params(("tenant" = String, Path), ("upn" = String, Path)),
    request_body = AssignRequest,
    responses(
        (status = 200, description = "The user after the change", body = UserJson),
        (status = 400, description = "Not a license", body = crate::app::ErrorBody),
        (status = 404, description = "unknown_tenant or unknown_user", body = crate::app::ErrorBody),
        (status = 422, description = "A C1/C2/C42 refusal; nothing changed", body = crate::app::ErrorBody)
    ),
    tag = "directory",
    security(("key" = []))
)]
pub async fn assign_license(
    State(state): State<AppState>,
    Caller(caller): Caller,
    actor: Actor,
    Path((tenant, upn)): Path<(String, String)>,
    body: Result<Json<AssignRequest>, ApiError>,
) -> ApiResult<Json<UserJson>> {
    caller.check(&tenant, Access::Admin)?;
    let Json(body) = body?;
    minutely_core::ident::upn("upn", &upn)?;
    let sku = parse_sku("sku", &body.sku)?;
    let json = state
        .writer
        .run(move |ctx| {
            let audited = Audited {
                actor: &actor,
                action: "license.assign",
                object: upn.clone(),
                snapshot: &|t| user_snapshot(t, &upn),
            };
            change_tenant(ctx, &tenant, audited, |t, catalogue| {
                let changed = t.assign(&upn, sku, &catalogue.countries)?;
                Ok((changed, user_json(t, &upn)?))
            })
        })
        .await?;
    Ok(Json(json))
}

/// Takes a license from a user; not holding it changes nothing.
#[utoipa::path(
    delete,
    path = "/v1/tenants/{tenant}/users/{upn}/licenses/{sku}",
    params(("tenant" = String, Path), ("upn" = String, Path), ("sku" = String, Path)),
    responses(
        (status = 200, description = "The user after the change", body = UserJson),
        (status = 400, description = "Not a license", body = crate::app::ErrorBody),
        (status = 404, description = "unknown_tenant or unknown_user", body = crate::app::ErrorBody)
    ),
    tag = "directory",
    security(("key" = []))
)]
pub async fn unassign_license(
    State(state): State<AppState>,
    Caller(caller): Caller,
    actor: Actor,
    Path((tenant, upn, sku)): Path<(String, String, String)>,
) -> ApiResult<Json<UserJson>> {
    caller.check(&tenant, Access::Admin)?;
    minutely_core::ident::upn("upn", &upn)?;
    let sku = parse_sku("sku", &sku)?;
    let json = state
        .writer
        .run(move |ctx| {
            let audited = Audited {
                actor: &actor,
                action: "license.unassign",
                object: upn.clone(),
                snapshot: &|t| user_snapshot(t, &upn),
            };
            change_tenant(ctx, &tenant, audited, |t, _| {
                let changed = t.unassign(&upn, sku).map_err(|r| {
                    if r.reason == Reason::UnknownUser {
                        unknown_user(&tenant, &upn)
                    } else {
                        ApiError::from(r)
                    }
                })?;
                Ok((changed, user_json(t, &upn)?))
            })
        })
        .await?;
    Ok(Json(json))
}

// ---------------------------------------------------------------------------------------------
// Service numbers
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct NumbersPage {
    /// By number.
    pub numbers: Vec<NumberJson>,
    /// The cursor of the next page (`after`), or null at the end.
    pub next: Option<String>,
}

/// The tenant's service numbers, paged.
#[utoipa::path(
    get,
    path = "/v1/tenants/{tenant}/numbers",
    params(
        ("tenant" = String, Path),
        ("limit" = Option<usize>, Query, description = "Items per page (default 100)"),
        ("after" = Option<String>, Query, description = "The `next` cursor of the previous page")
    ),
    responses(
        (status = 200, description = "A page of numbers", body = NumbersPage),
        (status = 404, description = "unknown_tenant", body = crate::app::ErrorBody)
    ),
    tag = "directory",
    security(("key" = []))
)]
pub async fn list_numbers(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(tenant): Path<String>,
    Query(page): Query<PageParams>,
) -> ApiResult<Json<NumbersPage>> {
    caller.check(&tenant, Access::Admin)?;
    let (limit, after) = page.checked(state.config.max_page)?;
    let after = match after {
        Some(text) => Some(
            E164::parse(&text)
                .ok_or_else(|| ApiError::invalid(format!("after: {text:?} is not a number")))?,
        ),
        None => None,
    };
    let numbers = state
        .writer
        .with_book(&tenant, move |b| {
            let numbers = b
                .tenant
                .numbers()
                .filter(|n| after.is_none_or(|a| n.number > a))
                .take(limit + 1)
                .map(NumberJson::new)
                .collect();
            let (numbers, next) = paged(numbers, limit, |n| n.number.clone());
            Ok(NumbersPage { numbers, next })
        })
        .await?;
    Ok(Json(numbers))
}

/// A service number to add.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddNumberRequest {
    /// E.164; spaces, dashes and dots are accepted (C8).
    pub number: String,
    /// `toll` or `toll_free`.
    pub kind: String,
    /// Shared with other tenants; false (dedicated) when absent.
    pub shared: Option<bool>,
    /// Make this toll number the bridge default; false when absent.
    pub bridge_default: Option<bool>,
}

/// Adds a service number, or updates its flags (operator only: the numbers are the
/// provider's). C4: `invalid_number`, then `credits_not_set_up` for a toll-free number without
/// a wallet, then `number_kind_unavailable` when the kind is not available in the number's
/// country.
#[utoipa::path(
    post,
    path = "/v1/tenants/{tenant}/numbers",
    params(("tenant" = String, Path)),
    request_body = AddNumberRequest,
    responses(
        (status = 200, description = "Updated", body = NumberJson),
        (status = 201, description = "Added", body = NumberJson),
        (status = 400, description = "A bad field (named)", body = crate::app::ErrorBody),
        (status = 403, description = "Not an operator key", body = crate::app::ErrorBody),
        (status = 404, description = "unknown_tenant", body = crate::app::ErrorBody),
        (status = 422, description = "invalid_number, credits_not_set_up or number_kind_unavailable", body = crate::app::ErrorBody)
    ),
    tag = "directory",
    security(("key" = []))
)]
pub async fn add_number(
    State(state): State<AppState>,
    Caller(caller): Caller,
    actor: Actor,
    Path(tenant): Path<String>,
    body: Result<Json<AddNumberRequest>, ApiError>,
) -> ApiResult<(StatusCode, Json<NumberJson>)> {
    caller.check(&tenant, Access::Operator)?;
    // Operator only, whatever `Access::Operator` may come to allow a tenant admin.
    caller.operator()?;
    let Json(body) = body?;
    bounded("number", &body.number)?;
    let number = E164::parse(&body.number).ok_or_else(|| {
        ApiError::reason(
            Reason::InvalidNumber,
            format!(
                "number: {:?} is not an E.164 number (+ then digits)",
                body.number
            ),
        )
    })?;
    let kind = NumberKind::parse(&body.kind).ok_or_else(|| {
        ApiError::invalid(format!("kind: {:?} is not toll or toll_free", body.kind))
    })?;
    let (shared, default) = (
        body.shared.unwrap_or(false),
        body.bridge_default.unwrap_or(false),
    );
    // The numbering plan compiles a calling code's patterns on first use: do that off the
    // async threads and before the writer needs them.
    blocking(move || {
        minutely_core::numbers::NumberPlan::global().classify(number);
        Ok(())
    })
    .await?;
    let (added, json) = state
        .writer
        .run(move |ctx| {
            let audited = Audited {
                actor: &actor,
                action: "number.put",
                object: number.to_string(),
                snapshot: &|t| t.number(number).map(|n| snapshot(&NumberJson::new(n))),
            };
            change_tenant(ctx, &tenant, audited, |t, catalogue| {
                let added = t.number(number).is_none();
                let changed = t.add_number(number, kind, shared, default, &catalogue.countries)?;
                let json = NumberJson::new(t.number(number).expect("just added"));
                Ok((changed, (added, json)))
            })
        })
        .await?;
    let status = if added {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(json)))
}

// ---------------------------------------------------------------------------------------------
// Policies
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct PoliciesResponse {
    /// The fixed policy instances of C16 with their conferencing half.
    pub policies: Vec<PolicyJson>,
    /// The bare scope names, accepted as policy names too (`any`, `domestic`, `zone_a`,
    /// `disabled`). Names are case-insensitive and may carry a `tag:` prefix (C41).
    pub scopes: Vec<String>,
}

/// The dial-out policy names of C16 and their conferencing scope.
#[utoipa::path(
    get,
    path = "/v1/policies",
    responses(
        (status = 200, description = "Every policy name", body = PoliciesResponse),
        (status = 401, description = "No valid key", body = crate::app::ErrorBody)
    ),
    tag = "directory",
    security(("key" = []))
)]
pub async fn list_policies(Caller(_caller): Caller) -> Json<PoliciesResponse> {
    Json(PoliciesResponse {
        policies: POLICY_NAMES
            .iter()
            .map(|(name, scope)| PolicyJson {
                name: name.to_string(),
                conferencing_dial_out: scope.as_str().to_string(),
            })
            .collect(),
        scopes: ["any", "domestic", "zone_a", "disabled"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
    })
}

/// A tenant default policy.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DefaultPolicyRequest {
    pub policy: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DefaultPolicyResponse {
    pub tenant: String,
    pub default_dial_out_policy: PolicyJson,
}

/// Sets the policy users without their own follow. An unknown name is `invalid_policy` (C41).
#[utoipa::path(
    put,
    path = "/v1/tenants/{tenant}/default-policy",
    params(("tenant" = String, Path)),
    request_body = DefaultPolicyRequest,
    responses(
        (status = 200, description = "The default policy now", body = DefaultPolicyResponse),
        (status = 404, description = "unknown_tenant", body = crate::app::ErrorBody),
        (status = 422, description = "invalid_policy", body = crate::app::ErrorBody)
    ),
    tag = "directory",
    security(("key" = []))
)]
pub async fn set_default_policy(
    State(state): State<AppState>,
    Caller(caller): Caller,
    actor: Actor,
    Path(tenant): Path<String>,
    body: Result<Json<DefaultPolicyRequest>, ApiError>,
) -> ApiResult<Json<DefaultPolicyResponse>> {
    caller.check(&tenant, Access::Admin)?;
    let Json(body) = body?;
    let policy = parse_policy("policy", &body.policy)?;
    let json = state
        .writer
        .run(move |ctx| {
            let audited = Audited {
                actor: &actor,
                action: "policy.default",
                object: tenant.clone(),
                snapshot: &|t| Some(snapshot(&PolicyJson::new(t.default_policy))),
            };
            change_tenant(ctx, &tenant, audited, |t, _| {
                let changed = t.set_default_policy(policy);
                let json = DefaultPolicyResponse {
                    tenant: t.id.clone(),
                    default_dial_out_policy: PolicyJson::new(t.default_policy),
                };
                Ok((changed, json))
            })
        })
        .await?;
    Ok(Json(json))
}

// ---------------------------------------------------------------------------------------------
// Wallet set-up
// ---------------------------------------------------------------------------------------------

/// The wallet's settings (its balance and lots are read through the wallet routes).
#[derive(Debug, Serialize, ToSchema)]
pub struct WalletSettingsJson {
    pub tenant: String,
    pub currency: String,
    /// Always true here: the wallet is set up.
    pub set_up: bool,
    /// Highest first.
    pub low_balance_thresholds: Vec<String>,
    /// Null when auto-recharge was never configured (or turned off without amounts).
    pub auto_recharge: Option<AutoRechargeJson>,
}

fn wallet_json(t: &Tenant) -> Option<WalletSettingsJson> {
    let settings = t.wallet()?;
    let currency = t.currency;
    Some(WalletSettingsJson {
        tenant: t.id.clone(),
        currency: currency.code().to_string(),
        set_up: true,
        low_balance_thresholds: thresholds_json(settings, currency),
        auto_recharge: settings
            .auto_recharge
            .map(|r| AutoRechargeJson::new(&r, currency)),
    })
}

/// Sets up the Communications Credits wallet, or changes its low-balance thresholds (C3:
/// `credits_unavailable_in_country`, `credits_unavailable_for_agreement`). The body may be
/// left out.
#[utoipa::path(
    put,
    path = "/v1/tenants/{tenant}/wallet/settings",
    params(("tenant" = String, Path)),
    request_body = Option<WalletSettingsRequest>,
    responses(
        (status = 200, description = "The wallet's settings", body = WalletSettingsJson),
        (status = 400, description = "A bad field (named)", body = crate::app::ErrorBody),
        (status = 404, description = "unknown_tenant", body = crate::app::ErrorBody),
        (status = 422, description = "A C3 refusal; nothing changed", body = crate::app::ErrorBody)
    ),
    tag = "directory",
    security(("key" = []))
)]
pub async fn put_wallet_settings(
    State(state): State<AppState>,
    Caller(caller): Caller,
    actor: Actor,
    Path(tenant): Path<String>,
    body: Result<crate::app::JsonOrEmpty<WalletSettingsRequest>, ApiError>,
) -> ApiResult<Json<WalletSettingsJson>> {
    caller.check(&tenant, Access::Admin)?;
    let crate::app::JsonOrEmpty(body) = body?;
    let thresholds = body.thresholds()?;
    let json = state
        .writer
        .run(move |ctx| {
            let audited = Audited {
                actor: &actor,
                action: "wallet.setup",
                object: tenant.clone(),
                snapshot: &|t| wallet_json(t).map(|w| snapshot(&w)),
            };
            change_tenant(ctx, &tenant, audited, |t, catalogue| {
                let mut settings = t.wallet().copied().unwrap_or(WalletSettings {
                    auto_recharge: None,
                    low_balance_thresholds: [None, None],
                });
                if let Some(thresholds) = thresholds {
                    settings.low_balance_thresholds = thresholds;
                }
                let changed = t.setup_wallet(settings, &catalogue.countries, &catalogue.rules)?;
                Ok((changed, wallet_json(t).expect("the wallet is set up")))
            })
        })
        .await?;
    Ok(Json(json))
}

/// Changes auto-recharge (C12). C40: the wallet must be set up (`credits_not_set_up`);
/// the trigger then the amount are checked, `amount_below_minimum` before `amount_not_whole`
/// (C11). Changing the settings never triggers a recharge (C34).
#[utoipa::path(
    put,
    path = "/v1/tenants/{tenant}/wallet/auto-recharge",
    params(("tenant" = String, Path)),
    request_body = AutoRechargeRequest,
    responses(
        (status = 200, description = "The wallet's settings", body = WalletSettingsJson),
        (status = 400, description = "A bad field (named)", body = crate::app::ErrorBody),
        (status = 404, description = "unknown_tenant", body = crate::app::ErrorBody),
        (status = 422, description = "credits_not_set_up, amount_below_minimum or amount_not_whole, or only one of trigger and amount (`unprocessable_request`); nothing changed", body = crate::app::ErrorBody)
    ),
    tag = "directory",
    security(("key" = []))
)]
pub async fn put_auto_recharge(
    State(state): State<AppState>,
    Caller(caller): Caller,
    actor: Actor,
    Path(tenant): Path<String>,
    body: Result<Json<AutoRechargeRequest>, ApiError>,
) -> ApiResult<Json<WalletSettingsJson>> {
    caller.check(&tenant, Access::Admin)?;
    let Json(body) = body?;
    let recharge = body.recharge()?;
    let json = state
        .writer
        .run(move |ctx| {
            let audited = Audited {
                actor: &actor,
                action: "wallet.auto_recharge",
                object: tenant.clone(),
                snapshot: &|t| wallet_json(t).map(|w| snapshot(&w)),
            };
            change_tenant(ctx, &tenant, audited, |t, catalogue| {
                let changed =
                    t.set_auto_recharge(recharge, &catalogue.countries, &catalogue.rules)?;
                Ok((changed, wallet_json(t).expect("the wallet is set up")))
            })
        })
        .await?;
    Ok(Json(json))
}
