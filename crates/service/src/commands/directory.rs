//! The directory's writes (capability 2), as commands: a tenant created, a purchased count, a
//! user, a license assigned or taken, a service number, the default dial-out policy, the
//! wallet's settings and auto-recharge. Each change is checked by the core before anything
//! changes (a refused change leaves the tenant as it was); a changed directory is rewritten at
//! commit, with its audit row, in the batch's transaction.

use crate::audit::Actor;
use crate::commands::{Answer, FromAnswer};
use crate::error::{ServiceError, ServiceResult};
use crate::writer::{Catalogue, Ctx};
use jiff::Timestamp;
use minutely_core::Reason;
use minutely_core::directory::{
    AutoRecharge, NumberKind, Policy, ServiceNumber, Sku, Tenant, User, UserSpec, WalletSettings,
};
use minutely_core::engine::TenantBook;
use minutely_core::money::Currency;
use minutely_core::numbers::E164;
use rust_decimal::Decimal;

/// How the adapter pictures a changed object in its audit rows, given the tenant and the
/// object's key (the row's `object`): `None` when there is no such object.
pub type Picture = fn(&Tenant, &str) -> Option<String>;

/// Who changes which tenant's directory, and how the changed object is pictured.
pub struct Change {
    pub actor: Actor,
    pub tenant: String,
    pub picture: Picture,
}

/// A user's attributes, every field checked (its licenses change through their own commands).
pub struct UserInput {
    pub display_name: String,
    /// The tenant's country when `None`.
    pub usage_location: Option<minutely_core::numbers::Country>,
    /// `None`: the user follows the tenant default.
    pub policy: Option<Policy>,
    pub toll_free_dial_in: bool,
}

/// A write of the directory.
pub enum DirectoryCommand {
    /// Create a tenant (its id must be free: `conflict` otherwise).
    CreateTenant {
        actor: Actor,
        tenant: Box<Tenant>,
        picture: Picture,
    },
    /// Set a license's purchased count from an instant (the writer's clock when `None`).
    SetPurchased {
        change: Change,
        sku: Sku,
        count: u32,
        from: Option<Timestamp>,
    },
    /// Create or update a user (an existing user keeps its object id and UPN as written).
    PutUser {
        change: Change,
        upn: String,
        user: UserInput,
    },
    /// Assign a license to a user.
    Assign {
        change: Change,
        upn: String,
        sku: Sku,
    },
    /// Take a license from a user.
    Unassign {
        change: Change,
        upn: String,
        sku: Sku,
    },
    /// Add a service number or update its flags.
    PutNumber {
        change: Change,
        number: E164,
        kind: NumberKind,
        shared: bool,
        bridge_default: bool,
    },
    /// Set the policy users without their own follow.
    DefaultPolicy { change: Change, policy: Policy },
    /// Set up the wallet, or change its low-balance thresholds (`None`: keep them).
    WalletSettings {
        change: Change,
        thresholds: Option<[Option<Decimal>; 2]>,
    },
    /// Change auto-recharge (`None`: off without amounts).
    AutoRecharge {
        change: Change,
        recharge: Option<AutoRecharge>,
    },
}

/// One license of a tenant after a change.
#[derive(Debug, Clone)]
pub struct LicenseView {
    pub sku: Sku,
    pub purchased: u32,
    pub assigned: u32,
    /// Every change of the purchased count of this license, oldest first.
    pub history: Vec<(Timestamp, u32)>,
}

/// A user after a change, with the policy that applies to it.
#[derive(Debug, Clone)]
pub struct UserView {
    pub user: Box<User>,
    pub effective_policy: Policy,
    /// True when the command created the user.
    pub created: bool,
}

/// A service number after a change.
#[derive(Debug, Clone)]
pub struct NumberView {
    pub number: ServiceNumber,
    /// True when the command added the number.
    pub added: bool,
}

/// A tenant's default policy after a change.
#[derive(Debug, Clone)]
pub struct DefaultPolicyView {
    pub tenant: String,
    pub policy: Policy,
}

/// A wallet's settings after a change.
#[derive(Debug, Clone)]
pub struct WalletView {
    pub tenant: String,
    pub currency: Currency,
    pub settings: WalletSettings,
}

/// What a directory command did.
#[derive(Debug, Clone)]
pub enum DirectoryAnswer {
    TenantCreated(Box<Tenant>),
    License(LicenseView),
    User(UserView),
    Number(NumberView),
    DefaultPolicy(DefaultPolicyView),
    Wallet(WalletView),
}

impl DirectoryCommand {
    /// Carries the command out in the writer.
    pub fn execute(self, ctx: &mut Ctx<'_>) -> ServiceResult<DirectoryAnswer> {
        match self {
            DirectoryCommand::CreateTenant {
                actor,
                tenant,
                picture,
            } => create_tenant(ctx, &actor, *tenant, picture),
            DirectoryCommand::SetPurchased {
                change,
                sku,
                count,
                from,
            } => {
                let from = from.unwrap_or(ctx.now);
                let action = ("license.set_purchased", sku.code());
                change_tenant(ctx, &change, action, |t, catalogue| {
                    let changed = t.set_purchased(sku, count, from, &catalogue.countries)?;
                    Ok((changed, DirectoryAnswer::License(license_view(t, sku))))
                })
            }
            DirectoryCommand::PutUser { change, upn, user } => put_user(ctx, &change, &upn, user),
            DirectoryCommand::Assign { change, upn, sku } => {
                change_tenant(ctx, &change, ("license.assign", &upn), |t, catalogue| {
                    let changed = t.assign(&upn, sku, &catalogue.countries)?;
                    Ok((changed, user_view(t, &upn, false)?))
                })
            }
            DirectoryCommand::Unassign { change, upn, sku } => {
                let tenant = change.tenant.clone();
                change_tenant(ctx, &change, ("license.unassign", &upn), |t, _| {
                    let changed = t.unassign(&upn, sku).map_err(|r| {
                        if r.reason == Reason::UnknownUser {
                            unknown_user(&tenant, &upn)
                        } else {
                            ServiceError::from(r)
                        }
                    })?;
                    Ok((changed, user_view(t, &upn, false)?))
                })
            }
            DirectoryCommand::PutNumber {
                change,
                number,
                kind,
                shared,
                bridge_default,
            } => {
                let object = number.to_string();
                change_tenant(ctx, &change, ("number.put", &object), |t, catalogue| {
                    let added = t.number(number).is_none();
                    let changed =
                        t.add_number(number, kind, shared, bridge_default, &catalogue.countries)?;
                    let number = t.number(number).expect("just added").clone();
                    Ok((
                        changed,
                        DirectoryAnswer::Number(NumberView { number, added }),
                    ))
                })
            }
            command => settings(ctx, command),
        }
    }
}

/// The commands of the tenant-wide settings: default policy, wallet, auto-recharge.
fn settings(ctx: &mut Ctx<'_>, command: DirectoryCommand) -> ServiceResult<DirectoryAnswer> {
    match command {
        DirectoryCommand::DefaultPolicy { change, policy } => {
            let object = change.tenant.clone();
            change_tenant(ctx, &change, ("policy.default", &object), |t, _| {
                let changed = t.set_default_policy(policy);
                let view = DefaultPolicyView {
                    tenant: t.id.clone(),
                    policy: t.default_policy,
                };
                Ok((changed, DirectoryAnswer::DefaultPolicy(view)))
            })
        }
        DirectoryCommand::WalletSettings { change, thresholds } => {
            let object = change.tenant.clone();
            change_tenant(ctx, &change, ("wallet.setup", &object), |t, catalogue| {
                let mut settings = t.wallet().copied().unwrap_or(WalletSettings {
                    auto_recharge: None,
                    low_balance_thresholds: [None, None],
                });
                if let Some(thresholds) = thresholds {
                    settings.low_balance_thresholds = thresholds;
                }
                let changed = t.setup_wallet(settings, &catalogue.countries, &catalogue.rules)?;
                Ok((changed, wallet_view(t)))
            })
        }
        DirectoryCommand::AutoRecharge { change, recharge } => {
            let object = change.tenant.clone();
            let action = ("wallet.auto_recharge", object.as_str());
            change_tenant(ctx, &change, action, |t, catalogue| {
                let changed =
                    t.set_auto_recharge(recharge, &catalogue.countries, &catalogue.rules)?;
                Ok((changed, wallet_view(t)))
            })
        }
        _ => Err(ServiceError::internal(
            "a directory command reached the settings it is not one of",
        )),
    }
}

fn create_tenant(
    ctx: &mut Ctx<'_>,
    actor: &Actor,
    tenant: Tenant,
    picture: Picture,
) -> ServiceResult<DirectoryAnswer> {
    if ctx.books.contains_key(&tenant.id) {
        return Err(ServiceError::conflict(format!(
            "tenant {:?} already exists",
            tenant.id
        )));
    }
    let id = tenant.id.clone();
    let after = picture(&tenant, &id);
    let answer = Box::new(tenant.clone());
    ctx.books.insert(id.clone(), TenantBook::new(tenant));
    ctx.directory_changed(&id);
    actor.record(ctx, Some(&id), "tenant.create", &id, None, after);
    Ok(DirectoryAnswer::TenantCreated(answer))
}

fn put_user(
    ctx: &mut Ctx<'_>,
    change: &Change,
    upn: &str,
    user: UserInput,
) -> ServiceResult<DirectoryAnswer> {
    change_tenant(ctx, change, ("user.put", upn), |t, _| {
        let existing = t
            .user(upn)
            .map(|u| (u.object_id.clone(), u.upn.display.clone()));
        let created = existing.is_none();
        // An existing user keeps its object id (which may come from a tenant file) and its UPN
        // as written when it was created.
        let (object_id, display_upn) = match existing {
            Some((id, display)) => (Some(id), display),
            None => (None, upn.to_string()),
        };
        let spec = UserSpec {
            object_id,
            upn: display_upn,
            display_name: user.display_name,
            usage_location: user.usage_location,
            policy: user.policy,
            toll_free_dial_in: user.toll_free_dial_in,
        };
        let changed = t.upsert_user(spec)?;
        Ok((changed, user_view(t, upn, created)?))
    })
}

/// Runs `change` on the tenant's directory with the catalogue at hand (`unknown_tenant` when
/// there is no such tenant). `change` answers whether it changed anything and what to send
/// back; a changed directory is rewritten at commit, with the audit row of `action` on
/// `object` (the object pictured before and after). A refused change records nothing.
fn change_tenant(
    ctx: &mut Ctx<'_>,
    change: &Change,
    (action, object): (&str, &str),
    apply: impl FnOnce(&mut Tenant, &Catalogue) -> ServiceResult<(bool, DirectoryAnswer)>,
) -> ServiceResult<DirectoryAnswer> {
    let tenant = change.tenant.as_str();
    let (book, catalogue) = ctx.book_and_catalogue(tenant)?;
    let before = (change.picture)(&book.tenant, object);
    let (changed, answer) = apply(&mut book.tenant, catalogue)?;
    if changed {
        let after = (change.picture)(&book.tenant, object);
        ctx.directory_changed(tenant);
        change
            .actor
            .record(ctx, Some(tenant), action, object, before, after);
    }
    Ok(answer)
}

/// `unknown_user` (404), naming the user and the tenant.
pub fn unknown_user(tenant: &str, upn: &str) -> ServiceError {
    ServiceError::reason(
        Reason::UnknownUser,
        format!("no user {upn:?} in tenant {tenant:?}"),
    )
}

fn user_view(t: &Tenant, upn: &str, created: bool) -> ServiceResult<DirectoryAnswer> {
    let user = t.user(upn).ok_or_else(|| unknown_user(&t.id, upn))?;
    Ok(DirectoryAnswer::User(UserView {
        user: Box::new(user.clone()),
        effective_policy: t.policy_of(user),
        created,
    }))
}

/// One license of the tenant, its counts and history.
pub fn license_view(t: &Tenant, sku: Sku) -> LicenseView {
    LicenseView {
        sku,
        purchased: t.purchases().current(sku),
        assigned: t.assigned(sku),
        history: t
            .purchases()
            .changes()
            .filter(|(s, _, _)| *s == sku)
            .map(|(_, from, count)| (from, count))
            .collect(),
    }
}

fn wallet_view(t: &Tenant) -> DirectoryAnswer {
    DirectoryAnswer::Wallet(WalletView {
        tenant: t.id.clone(),
        currency: t.currency,
        settings: *t.wallet().expect("the wallet is set up"),
    })
}

macro_rules! from_answer {
    ($ty:ty, $variant:ident) => {
        impl FromAnswer for $ty {
            fn from_answer(answer: Answer) -> Option<$ty> {
                match answer {
                    Answer::Directory(DirectoryAnswer::$variant(v)) => Some(v),
                    _ => None,
                }
            }
        }
    };
}

from_answer!(Box<Tenant>, TenantCreated);
from_answer!(LicenseView, License);
from_answer!(UserView, User);
from_answer!(NumberView, Number);
from_answer!(DefaultPolicyView, DefaultPolicy);
from_answer!(WalletView, Wallet);
