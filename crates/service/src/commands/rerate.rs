//! Rerating a tenant's calls of a period after a rate-card fix (product.md capability 5): the
//! core's `TenantBook::rerate` over the charged calls the store holds for the period, in one
//! job of the writer (one commit: refunds, charges, the rewritten charges and the run's record
//! with its audit row), or on a copy of the book that is thrown away (`dry_run`).

use crate::audit::Actor;
use crate::commands::{Answer, FromAnswer};
use crate::error::{Kind, ServiceError, ServiceResult};
use crate::writer::Ctx;
use jiff::Timestamp;
use minutely_core::engine::{Charge, Outcome, TenantBook};
use minutely_core::ledger::{Lot, LotId, LotSource, lot_expiry};
use minutely_core::money::{Currency, add};
use minutely_core::rerate::{RerateCall, RerateItem, Rerated};
use minutely_store::{FundedLot, RerateRow, RerateRun};
use rust_decimal::Decimal;
use std::collections::BTreeSet;

/// The most calls one run rates again (a larger period is split into several runs).
pub const MAX_RERATE_CALLS: usize = 200_000;

/// Rate a tenant's charged calls of `[from, to)` again with the card as it is now.
pub struct Rerate {
    pub actor: Actor,
    pub tenant: String,
    pub from: Timestamp,
    pub to: Timestamp,
    /// Show the difference only; nothing is changed or recorded.
    pub dry_run: bool,
}

/// What a run did (or, dry, would do).
#[derive(Debug, Clone)]
pub struct RerateReport {
    /// The run's record; its `id` is empty for a dry run.
    pub run: RerateRun,
    pub currency: Currency,
    pub dry_run: bool,
}

impl Rerate {
    /// Carries the run out in the writer.
    pub fn execute(self, ctx: &mut Ctx<'_>) -> ServiceResult<RerateReport> {
        if self.from >= self.to {
            return Err(ServiceError::unprocessable(format!(
                "from {} must be before to {}",
                self.from, self.to
            )));
        }
        ctx.book(&self.tenant)?;
        let calls = charged_calls(ctx, &self)?;
        let known = known_lots(ctx, &self.tenant, &calls)?;
        let id = if self.dry_run {
            String::new()
        } else {
            let n = ctx.store.rerate_count(&self.tenant)? + ctx.pending_rerate_runs(&self.tenant);
            format!("rr-{}", n + 1)
        };
        let now = ctx.now;
        let (book, catalogue) = ctx.book_and_catalogue(&self.tenant)?;
        let currency = book.tenant.currency;
        let mut copy;
        let target: &mut TenantBook = if self.dry_run {
            copy = book.clone();
            &mut copy
        } else {
            book
        };
        let rerated = catalogue
            .with_rater(currency, |rater| {
                target.rerate(rater, calls, (now, id.as_str()), &known)
            })
            .map_err(|refused| {
                ServiceError::new(
                    Kind::Refused(refused.reason),
                    refused.reason.code(),
                    format!(
                        "call {} cannot be charged again ({}): nothing was rerated",
                        refused.call_id,
                        refused.reason.code()
                    ),
                )
            })?;
        let run = run_record(&self, id, now, &rerated)?;
        if !self.dry_run {
            self.record(ctx, &rerated, &run);
        }
        Ok(RerateReport {
            run,
            currency,
            dry_run: self.dry_run,
        })
    }

    /// Commits the run: journal entries and events, the rewritten charges, the run and its
    /// audit row.
    fn record(&self, ctx: &mut Ctx<'_>, rerated: &Rerated, run: &RerateRun) {
        let tenant = self.tenant.as_str();
        let changed: Vec<(String, Outcome)> = rerated
            .items
            .iter()
            .filter(|i| i.skipped.is_none() && (i.changed() || i.new != i.old))
            .map(|i| (i.call_id.clone(), Outcome::Charged(Box::new(i.new.clone()))))
            .collect();
        if let Some(book) = ctx.books.get_mut(tenant) {
            for (id, outcome) in &changed {
                if let Some(seen) = book.seen.get_mut(id) {
                    seen.outcome = outcome.clone();
                }
            }
        }
        ctx.touched(tenant);
        ctx.effects(tenant, rerated.effects.clone());
        let summary = serde_json::json!({
            "run": run.id,
            "from": run.from.to_string(),
            "to": run.to.to_string(),
            "calls": run.calls,
            "changed": run.changed,
            "skipped": run.skipped,
            "refunded": run.refunded.to_string(),
            "charged": run.charged.to_string(),
        });
        let entry = self.actor.entry(
            ctx.now,
            Some(tenant),
            "tenant.rerate",
            &run.id,
            None,
            Some(summary.to_string()),
        );
        ctx.rerated(tenant, changed, run.clone());
        ctx.audit(entry);
    }
}

/// The charged calls of the period, in canonical order (refused calls are not rerated).
fn charged_calls(ctx: &mut Ctx<'_>, rerate: &Rerate) -> ServiceResult<Vec<RerateCall>> {
    let stored = ctx.store.calls(&rerate.tenant, rerate.from, rerate.to)?;
    let calls: Vec<RerateCall> = stored
        .into_iter()
        .filter_map(|c| match c.outcome {
            Outcome::Charged(old) => Some(RerateCall {
                record: c.record,
                old: *old,
            }),
            Outcome::Refused(_) => None,
        })
        .collect();
    if calls.len() > MAX_RERATE_CALLS {
        return Err(ServiceError::new(
            Kind::TooLarge,
            "too_many_calls",
            format!(
                "the period holds {} charged calls; one run rates at most {MAX_RERATE_CALLS}: split the period",
                calls.len()
            ),
        ));
    }
    Ok(calls)
}

/// Every lot the charges name, and the newest lot, as the journal records them: a lot live now
/// may be emptied by an earlier call of the run before a later call's refund goes back to it.
fn known_lots(ctx: &mut Ctx<'_>, tenant: &str, calls: &[RerateCall]) -> ServiceResult<Vec<Lot>> {
    let book = ctx.book(tenant)?;
    let newest = book
        .wallet
        .snapshot()
        .next_lot
        .checked_sub(1)
        .filter(|n| *n > 0);
    let tz = book.tenant.timezone.clone();
    let ids: BTreeSet<LotId> = calls
        .iter()
        .flat_map(|c| c.old.lots.iter().map(|(id, _)| *id))
        .chain(newest)
        .collect();
    let ids: Vec<LotId> = ids.into_iter().collect();
    let funded = ctx.store.funded_lots(tenant, &ids)?;
    Ok(funded.into_iter().map(|f| lot_of(f, &tz)).collect())
}

fn lot_of(f: FundedLot, tz: &jiff::tz::TimeZone) -> Lot {
    let source = if f.kind == "recharge" {
        LotSource::AutoRecharge {
            call_id: f.reference,
        }
    } else {
        LotSource::Manual {
            reference: f.reference,
        }
    };
    Lot {
        id: f.id,
        funded_at: f.funded_at,
        expires_at: lot_expiry(f.funded_at, tz),
        amount: f.amount,
        remaining: f.amount,
        source,
        warned: false,
    }
}

/// The run's record: counts, totals, card versions, and a row per call changed or kept.
fn run_record(
    rerate: &Rerate,
    id: String,
    at: Timestamp,
    rerated: &Rerated,
) -> ServiceResult<RerateRun> {
    let overflow = |_| ServiceError::internal("a rerate's totals leave the representable range");
    let mut run = RerateRun {
        id,
        at,
        actor: rerate.actor.label(),
        from: rerate.from,
        to: rerate.to,
        card_versions: Vec::new(),
        calls: rerated.items.len() as u64,
        changed: 0,
        skipped: 0,
        refunded: Decimal::ZERO,
        charged: Decimal::ZERO,
        items: Vec::new(),
    };
    let mut versions = BTreeSet::new();
    for item in &rerated.items {
        if let Some(rate) = &item.new.rate {
            versions.insert(rate.effective_from);
        }
        if item.skipped.is_some() {
            run.skipped += 1;
        } else if item.changed() {
            run.changed += 1;
        } else {
            continue;
        }
        if item.moved_money() {
            run.refunded = add(run.refunded, item.old.amount).map_err(overflow)?;
            run.charged = add(run.charged, item.new.amount).map_err(overflow)?;
        }
        run.items.push(row(item));
    }
    run.card_versions = versions.into_iter().collect();
    Ok(run)
}

fn row(item: &RerateItem) -> RerateRow {
    let rate = |c: &Charge| c.rate.as_ref().map(|r| r.rate_per_minute);
    RerateRow {
        call_id: item.call_id.clone(),
        start: item.start,
        old_amount: item.old.amount,
        new_amount: item.new.amount,
        old_funding: item.old.funding.as_str().to_string(),
        new_funding: item.new.funding.as_str().to_string(),
        old_rule: item.old.rule.to_string(),
        new_rule: item.new.rule.to_string(),
        old_rate: rate(&item.old),
        new_rate: rate(&item.new),
        old_pool_minutes: item.old.pool_minutes,
        new_pool_minutes: item.new.pool_minutes,
        skipped: item.skipped.map(|r| r.code().to_string()),
    }
}

impl FromAnswer for RerateReport {
    fn from_answer(answer: Answer) -> Option<RerateReport> {
        match answer {
            Answer::Rerated(r) => Some(r),
            _ => None,
        }
    }
}

/// One call of a run, as JSON.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct RerateItemJson {
    pub call_id: String,
    pub start: String,
    pub old_amount: String,
    pub new_amount: String,
    /// `new_amount - old_amount`.
    pub difference: String,
    pub old_funding: String,
    pub new_funding: String,
    /// The rule that decided who pays, before and after (C18, C19, C32, C33).
    pub old_rule: String,
    pub new_rule: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_rate_per_minute: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_rate_per_minute: Option<String>,
    pub old_pool_minutes: u32,
    pub new_pool_minutes: u32,
    /// The reason code rating gives today, for a call kept as it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

/// A rerate run (or a dry run's difference), as JSON.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct RerateRunJson {
    /// The run's id; absent for a dry run, which changed nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub dry_run: bool,
    pub at: String,
    /// Who ran it: `cli`, or the key's kind and id.
    pub actor: String,
    pub from: String,
    pub to: String,
    pub currency: String,
    /// The `effective_from` of the card versions the new charges use.
    pub card_versions: Vec<String>,
    /// Charged calls of the period looked at.
    pub calls: u64,
    /// Calls whose charge changed.
    pub changed: u64,
    /// Calls kept as they were (rating refuses them today).
    pub skipped: u64,
    /// The old charges refunded, and the new ones debited, of the calls whose amount changed.
    pub refunded: String,
    pub charged: String,
    /// `charged - refunded`: what the wallet pays more (negative: gets back).
    pub net: String,
    /// The calls changed or kept (absent from a listing of runs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<RerateItemJson>>,
}

impl RerateRunJson {
    /// `run` in `currency`, with its calls when `with_items`.
    pub fn new(run: &RerateRun, currency: Currency, dry_run: bool, with_items: bool) -> Self {
        let f = |d: Decimal| currency.format(d);
        let net = run.charged.checked_sub(run.refunded).unwrap_or_default();
        RerateRunJson {
            id: (!run.id.is_empty()).then(|| run.id.clone()),
            dry_run,
            at: minutely_formats::instant::format(run.at),
            actor: run.actor.clone(),
            from: minutely_formats::instant::format(run.from),
            to: minutely_formats::instant::format(run.to),
            currency: currency.code().to_string(),
            card_versions: run
                .card_versions
                .iter()
                .map(|t| minutely_formats::instant::format(*t))
                .collect(),
            calls: run.calls,
            changed: run.changed,
            skipped: run.skipped,
            refunded: f(run.refunded),
            charged: f(run.charged),
            net: f(net),
            items: with_items.then(|| {
                run.items
                    .iter()
                    .map(|r| RerateItemJson {
                        call_id: r.call_id.clone(),
                        start: minutely_formats::instant::format(r.start),
                        old_amount: f(r.old_amount),
                        new_amount: f(r.new_amount),
                        difference: f(r.new_amount.checked_sub(r.old_amount).unwrap_or_default()),
                        old_funding: r.old_funding.clone(),
                        new_funding: r.new_funding.clone(),
                        old_rule: r.old_rule.clone(),
                        new_rule: r.new_rule.clone(),
                        old_rate_per_minute: r.old_rate.map(|d| d.to_string()),
                        new_rate_per_minute: r.new_rate.map(|d| d.to_string()),
                        old_pool_minutes: r.old_pool_minutes,
                        new_pool_minutes: r.new_pool_minutes,
                        skipped: r.skipped.clone(),
                    })
                    .collect()
            }),
        }
    }
}

impl RerateReport {
    /// The report as JSON, with every call changed or kept.
    pub fn json(&self) -> RerateRunJson {
        RerateRunJson::new(&self.run, self.currency, self.dry_run, true)
    }
}
