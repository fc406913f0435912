//! The toll-fraud guard's writes and its view (C43 to C46): the operator's default mode and
//! high-risk list, a tenant's settings, approving a country, lifting a suspension (audited,
//! with a `fraud.lifted` event), and a tenant's gauges as the writer holds them now.
//!
//! The operator part and a tenant's settings are written in their own transaction with their
//! audit row (`Ctx::outside_batch`); an approval and a lifting change the tenant's counters,
//! which the batch's commit writes with the audit row and the event.

use crate::audit::{Actor, snapshot};
use crate::commands::{Answer, FromAnswer};
use crate::error::ServiceResult;
use crate::writer::Ctx;
use minutely_core::guard::{GuardLimits, GuardMode, OperatorGuard, RiskList, TenantGuard};
use minutely_core::ledger::{Effects, Event};
use minutely_core::numbers::Country;
use minutely_store::StoreError;
use rust_decimal::Decimal;
use std::sync::Arc;

/// A write of the guard, or a look at a tenant's.
pub enum GuardCommand {
    /// The operator's default mode, and the thresholds and the list when given (each
    /// replaced whole; the list's version one more than the stored one's).
    Operator {
        actor: Actor,
        /// `None`: kept.
        default_mode: Option<GuardMode>,
        limits: Option<GuardLimits>,
        list: Option<RiskList>,
    },
    /// A tenant's own settings, replaced whole.
    Tenant {
        actor: Actor,
        tenant: String,
        settings: TenantGuard,
    },
    /// Calls to `country` approved (rule 7; also ends a test-call block of it).
    Approve {
        actor: Actor,
        tenant: String,
        country: Country,
    },
    /// A suspension lifted (C46): the organizer's, or the tenant's and every organizer's.
    Lift {
        actor: Actor,
        tenant: String,
        organizer: Option<String>,
    },
    /// The tenant's settings and gauges, nothing changed.
    View { tenant: String },
}

/// A tenant's guard as the writer holds it.
#[derive(Debug, Clone)]
pub struct GuardView {
    pub tenant: String,
    pub settings: TenantGuard,
    /// The mode in force (the tenant's, or the operator's default).
    pub mode: GuardMode,
    pub learning: bool,
    /// Exposure (C44) of the rolling hour and day, in the tenant's currency.
    pub exposure_hour: Decimal,
    pub exposure_day: Decimal,
    pub live_dial_outs: usize,
    pub suspended: bool,
    pub organizers_suspended: usize,
    pub alert_open: bool,
    /// Countries approved, and those blocked after test calls (until when, seconds).
    pub approved: Vec<Country>,
    pub blocked: Vec<(Country, i64)>,
    pub state_bytes: usize,
    /// Whether the command changed anything (a lifting with nothing suspended does not).
    pub changed: bool,
}

/// What a guard command did.
#[derive(Debug, Clone)]
pub enum GuardAnswer {
    Operator(Arc<OperatorGuard>),
    Tenant(Box<GuardView>),
}

impl GuardCommand {
    /// Carries the command out in the writer.
    pub fn execute(self, ctx: &mut Ctx<'_>) -> ServiceResult<GuardAnswer> {
        match self {
            GuardCommand::Operator {
                actor,
                default_mode,
                limits,
                list,
            } => set_operator(ctx, &actor, default_mode, limits, list),
            GuardCommand::Tenant {
                actor,
                tenant,
                settings,
            } => set_tenant(ctx, &actor, &tenant, settings),
            GuardCommand::Approve {
                actor,
                tenant,
                country,
            } => {
                let book = ctx.book(&tenant)?;
                book.guard.approve(country);
                ctx.touched(&tenant);
                let object = country.as_str();
                actor.record(
                    ctx,
                    Some(&tenant),
                    "fraud.approve_country",
                    object,
                    None,
                    None,
                );
                view(ctx, &tenant, true)
            }
            GuardCommand::Lift {
                actor,
                tenant,
                organizer,
            } => lift(ctx, &actor, &tenant, organizer),
            GuardCommand::View { tenant } => view(ctx, &tenant, false),
        }
    }
}

fn set_operator(
    ctx: &mut Ctx<'_>,
    actor: &Actor,
    default_mode: Option<GuardMode>,
    limits: Option<GuardLimits>,
    list: Option<RiskList>,
) -> ServiceResult<GuardAnswer> {
    let now = ctx.now;
    let operator = ctx.store.atomically(|store| {
        // Read afresh: another node may have changed it since it was cached.
        store.forget_guard_operator();
        let before = store.guard_operator()?;
        let list = list.map(|mut l| {
            l.version = before.list.version.saturating_add(1);
            l
        });
        let mode = default_mode.unwrap_or(before.default_mode);
        let after = store.set_guard_operator(mode, limits.as_ref(), list.as_ref(), now)?;
        let picture = |o: &OperatorGuard| {
            let limits: serde_json::Map<String, serde_json::Value> = o
                .limits
                .changed()
                .into_iter()
                .map(|(name, value)| (name.to_string(), value.to_string().into()))
                .collect();
            Some(snapshot(&serde_json::json!({
                "default_mode": o.default_mode.as_str(),
                "limits": limits,
                "list_version": o.list.version,
                "list_entries": o.list.len(),
            })))
        };
        let entry = actor.entry(
            now,
            None,
            "fraud.operator",
            "guard",
            picture(&before),
            picture(&after),
        );
        store.append_audit(&[entry])?;
        Ok::<_, StoreError>(after)
    });
    // A rolled-back change must not stay cached as the operator part.
    let operator = operator.inspect_err(|_| ctx.store.forget_guard_operator())?;
    ctx.outside_batch = true;
    for book in ctx.books.values_mut() {
        book.guard.operator = Arc::clone(&operator);
    }
    Ok(GuardAnswer::Operator(operator))
}

fn set_tenant(
    ctx: &mut Ctx<'_>,
    actor: &Actor,
    tenant: &str,
    settings: TenantGuard,
) -> ServiceResult<GuardAnswer> {
    let before = ctx.book(tenant)?.guard.settings.clone();
    let now = ctx.now;
    let text = |s: &TenantGuard| Some(snapshot(&settings_picture(s)));
    ctx.store.atomically(|store| {
        store.set_guard_settings(tenant, &settings)?;
        let entry = actor.entry(
            now,
            Some(tenant),
            "fraud.settings",
            tenant,
            text(&before),
            text(&settings),
        );
        store.append_audit(&[entry])
    })?;
    ctx.outside_batch = true;
    ctx.book(tenant)?.guard.settings = settings;
    view(ctx, tenant, true)
}

/// A tenant's settings as its audit rows picture them.
fn settings_picture(s: &TenantGuard) -> serde_json::Value {
    let at = |t: jiff::Timestamp| t.to_string();
    serde_json::json!({
        "mode": s.mode.map(|m| m.as_str()),
        "premium_enabled": s.premium_enabled,
        "business_hours": format!("{}-{} days {:07b}", s.business.start_h, s.business.end_h, s.business.weekdays),
        "allow": s.allow.iter().map(|(p, until)| serde_json::json!({
            "prefix": format!("+{p}"),
            "expires": until.map(at),
        })).collect::<Vec<_>>(),
        "floor_hour": s.floor_hour.map(|d| d.to_string()),
        "floor_day": s.floor_day.map(|d| d.to_string()),
        "raise": s.raise.map(|(pct, until)| serde_json::json!({"percent": pct, "until": at(until)})),
    })
}

fn lift(
    ctx: &mut Ctx<'_>,
    actor: &Actor,
    tenant: &str,
    organizer: Option<String>,
) -> ServiceResult<GuardAnswer> {
    let now = ctx.now;
    let book = ctx.book(tenant)?;
    if let Some(upn) = &organizer
        && book.tenant.user(upn).is_none()
    {
        return Err(crate::commands::directory::unknown_user(tenant, upn));
    }
    if !book.guard.lift(organizer.as_deref()) {
        return view(ctx, tenant, false);
    }
    ctx.touched(tenant);
    let event = Event::FraudLifted {
        at: now,
        organizer: organizer.clone(),
        by: actor.label(),
    };
    ctx.effects(
        tenant,
        Effects {
            entries: Vec::new(),
            events: vec![event],
        },
    );
    let object = organizer.as_deref().unwrap_or(tenant);
    actor.record(ctx, Some(tenant), "fraud.lift", object, None, None);
    view(ctx, tenant, true)
}

fn view(ctx: &mut Ctx<'_>, tenant: &str, changed: bool) -> ServiceResult<GuardAnswer> {
    let now = ctx.now;
    let book = ctx.book(tenant)?;
    let g = &book.guard;
    let (hour, day) = g.exposure_e4();
    let mut approved: Vec<Country> = Vec::new();
    let mut blocked = Vec::new();
    for (c, s) in &g.state.countries {
        if s.approved {
            approved.push(*c);
        }
        if i64::from(s.blocked_until_s) > now.as_second() {
            blocked.push((*c, i64::from(s.blocked_until_s)));
        }
    }
    approved.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    blocked.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
    Ok(GuardAnswer::Tenant(Box::new(GuardView {
        tenant: tenant.to_string(),
        settings: g.settings.clone(),
        mode: g.mode(),
        learning: g.learning(now),
        exposure_hour: Decimal::new(hour, 4).normalize(),
        exposure_day: Decimal::new(day, 4).normalize(),
        live_dial_outs: g.state.live.len(),
        suspended: g.state.suspended,
        organizers_suspended: g.organizers_suspended(),
        alert_open: g.state.alert_until_s.is_some_and(|t| t > now.as_second()),
        approved,
        blocked,
        state_bytes: g.state.size_bytes(),
        changed,
    })))
}

impl FromAnswer for GuardAnswer {
    fn from_answer(answer: Answer) -> Option<GuardAnswer> {
        match answer {
            Answer::Guard(a) => Some(a),
            _ => None,
        }
    }
}
