//! Rerating (product.md capability 5): after a rate-card fix, a tenant's charged calls of a
//! period are rated again with the card as it is now, in the canonical order (C22). For each
//! call whose charge changes, the old charge is refunded and the new one debited, both dated at
//! the run's instant and referencing the call and the run:
//!
//! - the pool (C20, C21, C32): the minutes of the calls rerated are given back first, then each
//!   call takes what it needs in canonical order from what the month has left beside every
//!   other call (those outside the run, and live calls' holds): a call that now uses the pool
//!   leaves less for the calls after it;
//! - the wallet (C10, C13, C34): refunds return money to the lots it came from (`ledger::refund`:
//!   a lot that has expired since forfeits it again), the new charge drains the lots live at the
//!   run's instant first-in first-out, and only a debit can cross the recharge trigger (one
//!   recharge per crossing; a refund never causes one);
//! - C24 holds after every entry (the wallet asserts it).
//!
//! A call the card or directory of today refuses (its organizer gone, no rate any more) is kept
//! as it was and reported as skipped; a call whose new charge cannot be funded (C32: no wallet,
//! no `MCOPSTNPP`) refuses the whole run, naming it. Running the same rerate twice changes
//! nothing the second time: every call's new charge is then its stored one.

use crate::engine::{Charge, Month, TenantBook};
use crate::ledger::{DebitPolicy, Effects, EntryKind, Event, Lot, LotId, Refund};
use crate::money::sub;
use crate::rating::{CallRecord, Rater};
use crate::reason::Reason;
use jiff::Timestamp;
use rust_decimal::Decimal;
use std::collections::BTreeMap;

/// A call to rate again: its record and its stored charge.
#[derive(Debug, Clone)]
pub struct RerateCall {
    pub record: CallRecord,
    pub old: Charge,
}

/// What the run did to one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RerateItem {
    pub call_id: String,
    pub start: Timestamp,
    pub old: Charge,
    /// The charge now (the old one, unchanged, for a skipped call).
    pub new: Charge,
    /// Why the call was kept as it was.
    pub skipped: Option<Reason>,
}

impl RerateItem {
    /// True when the new charge differs from the old in anything rating decides.
    pub fn changed(&self) -> bool {
        !same_rating(&self.old, &self.new)
    }

    /// True when money moved: the old amount was refunded and the new one debited.
    pub fn moved_money(&self) -> bool {
        self.old.amount != self.new.amount
    }
}

/// The result of a run.
#[derive(Debug, Clone, Default)]
pub struct Rerated {
    /// Every call looked at, in canonical order.
    pub items: Vec<RerateItem>,
    pub effects: Effects,
}

/// A call whose new charge cannot be funded: the run is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RerateRefused {
    pub call_id: String,
    pub reason: Reason,
}

/// Whether two charges agree on everything rating decides (not on the lots drained or the
/// balance after, which depend on when the debit was made).
pub fn same_rating(a: &Charge, b: &Charge) -> bool {
    (
        a.category,
        a.funding,
        a.capability,
        a.rule,
        a.duration_s,
        a.billable_s,
        &a.rate,
        a.connection_fee,
        a.amount,
        a.pool_minutes,
    ) == (
        b.category,
        b.funding,
        b.capability,
        b.rule,
        b.duration_s,
        b.billable_s,
        &b.rate,
        b.connection_fee,
        b.amount,
        b.pool_minutes,
    )
}

impl TenantBook {
    /// Rates `calls` again at `at` (see the module). `known` describes every lot the calls'
    /// charges name, and the newest lot, as the journal records them (a lot live when the run
    /// starts may be emptied by the run before a later refund goes back to it).
    /// `reference` is the run's id. On a refusal nothing has changed.
    pub fn rerate(
        &mut self,
        rater: &mut Rater<'_>,
        mut calls: Vec<RerateCall>,
        (at, reference): (Timestamp, &str),
        known: &[Lot],
    ) -> Result<Rerated, RerateRefused> {
        calls.sort_by(|a, b| crate::engine::canonical_cmp(&a.record, &b.record));
        let released = self.pool_without(&calls, rater);
        let plans = self.plan_again(rater, &calls, released.clone())?;
        let at = at.max(self.wallet.clock());
        let mut effects = Effects::default();
        self.settle(at, &mut effects);
        self.wallet.advance(at, &mut effects);
        let pool_before = std::mem::replace(&mut self.pool_used, released);
        let mut items = Vec::with_capacity(calls.len());
        for (call, plan) in calls.into_iter().zip(plans) {
            let item = match plan {
                Ok(new) => self.recharge_one(call, new, (at, reference), known, &mut effects),
                Err(reason) => RerateItem {
                    call_id: call.record.call_id,
                    start: call.record.start,
                    new: call.old.clone(),
                    old: call.old,
                    skipped: Some(reason),
                },
            };
            items.push(item);
        }
        self.pool_events(&pool_before, at, &mut effects);
        Ok(Rerated { items, effects })
    }

    /// Each call's new charge as rating sees it today, with the pool as it will stand when the
    /// call's turn comes; a refusal of rating is a skipped call (`Err(reason)`), a refusal of
    /// funding refuses the run. Nothing changes.
    fn plan_again(
        &self,
        rater: &mut Rater<'_>,
        calls: &[RerateCall],
        released: BTreeMap<Month, u32>,
    ) -> Result<Vec<Result<Charge, Reason>>, RerateRefused> {
        let mut pool = PoolDraft { used: released };
        let mut plans = Vec::with_capacity(calls.len());
        for call in calls {
            let assessment = match rater.assess(&self.tenant, &call.record) {
                Ok(a) => a,
                Err(reason) => {
                    plans.push(Err(reason));
                    continue;
                }
            };
            let month = self.month_of(call.record.start);
            let left = pool.remaining(self, month, call.record.start);
            let plan = self
                .plan_funding(&assessment, left)
                .map_err(|reason| RerateRefused {
                    call_id: call.record.call_id.clone(),
                    reason,
                })?;
            pool.take(month, plan.pool_minutes);
            plans.push(Ok(plan));
        }
        Ok(plans)
    }

    /// The pool counters with the minutes of the calls to be rerated given back (those rating
    /// refuses today keep theirs): what the run plans from, and the counters it charges from.
    fn pool_without(&self, calls: &[RerateCall], rater: &mut Rater<'_>) -> BTreeMap<Month, u32> {
        let mut used = self.pool_used.clone();
        for call in calls {
            if call.old.pool_minutes == 0 || rater.assess(&self.tenant, &call.record).is_err() {
                continue;
            }
            let month = self.month_of(call.record.start);
            let minutes = used.entry(month).or_insert(0);
            *minutes = minutes
                .checked_sub(call.old.pool_minutes)
                .expect("a stored call's pool minutes are counted in its month");
        }
        used
    }

    /// Charges one call again: pool minutes, then refund and debit when the amount changed.
    fn recharge_one(
        &mut self,
        call: RerateCall,
        mut new: Charge,
        (at, reference): (Timestamp, &str),
        known: &[Lot],
        effects: &mut Effects,
    ) -> RerateItem {
        if new.pool_minutes > 0 {
            let month = self.month_of(call.record.start);
            let used = self.pool_used.entry(month).or_insert(0);
            *used += new.pool_minutes;
            assert!(
                *used <= self.pool_size(call.record.start),
                "the pool never pays more than it has"
            );
        }
        let old = call.old;
        if old.amount == new.amount {
            new.lots = old.lots.clone();
            new.balance_after = old.balance_after;
            new.recharge_lot = old.recharge_lot;
        } else {
            let call_id = call.record.call_id.as_str();
            let expired = if old.amount > Decimal::ZERO {
                self.refund_charge(&old, (call_id, reference), at, known, effects)
            } else {
                Vec::new()
            };
            self.debit_again(&mut new, (call_id, reference), (at, expired), effects);
        }
        RerateItem {
            call_id: call.record.call_id,
            start: call.record.start,
            old,
            new,
            skipped: None,
        }
    }

    fn refund_charge(
        &mut self,
        old: &Charge,
        (call_id, reference): (&str, &str),
        at: Timestamp,
        known: &[Lot],
        effects: &mut Effects,
    ) -> Vec<(LotId, Decimal)> {
        let from_lots = crate::money::sum(old.lots.iter().map(|(_, a)| *a))
            .expect("a stored charge's parts are representable");
        let to_debt = sub(old.amount, from_lots).expect("a charge's parts are at most its amount");
        let refund = Refund {
            call_id,
            reference,
            lots: &old.lots,
            to_debt,
        };
        self.wallet
            .refund(&refund, at, known, effects)
            .expect("a refund gives back what a charge took, which the totals held")
    }

    /// Debits the new charge (C34: one debit, at most one recharge), first from what the
    /// refund gave back to expired lots (`expired`, the rest forfeited), and notes its lots.
    fn debit_again(
        &mut self,
        new: &mut Charge,
        (call_id, reference): (&str, &str),
        (at, expired): (Timestamp, Vec<(LotId, Decimal)>),
        effects: &mut Effects,
    ) {
        if new.amount <= Decimal::ZERO {
            self.wallet.forfeit_parts(&expired, (at, call_id), effects);
            new.balance_after = self.tenant.wallet().map(|_| self.wallet.balance());
            return;
        }
        let settings = *self.tenant.wallet().expect("a credit charge has a wallet");
        let tz = self.tenant.timezone.clone();
        let policy = DebitPolicy {
            tz: &tz,
            auto_recharge: settings.auto_recharge.as_ref(),
            low_thresholds: &settings.low_balance_thresholds,
        };
        let first = effects.entries.len();
        let debit = self
            .wallet
            .debit_after_refund(new.amount, (at, call_id), &policy, effects, expired)
            .expect("a rerate charges at most the card's bounded amounts");
        if let Some(entry) = effects.entries[first..]
            .iter_mut()
            .find(|e| e.kind == EntryKind::Debit)
        {
            entry.reference = Some(reference.to_string());
        }
        new.lots = debit.lots;
        new.balance_after = Some(debit.balance_after);
        new.recharge_lot = debit.recharge_lot;
    }

    /// C15: the pool's 80% and 100% marks crossed by the run, month by month.
    fn pool_events(&self, before: &BTreeMap<Month, u32>, at: Timestamp, effects: &mut Effects) {
        for (month, after) in &self.pool_used {
            let was = before.get(month).copied().unwrap_or(0);
            let size = self.pool_size(month.start(&self.tenant.timezone));
            for percent in [80u8, 100u8] {
                let mark = u64::from(size) * u64::from(percent);
                if u64::from(was) * 100 < mark && u64::from(*after) * 100 >= mark {
                    effects.events.push(Event::PoolThreshold {
                        at,
                        month: month.to_string(),
                        percent,
                        used_minutes: *after,
                        size_minutes: size,
                    });
                }
            }
        }
    }
}

/// The pool counters as a run plans them.
struct PoolDraft {
    used: BTreeMap<Month, u32>,
}

impl PoolDraft {
    fn remaining(&self, book: &TenantBook, month: Month, start: Timestamp) -> u32 {
        let used = self.used.get(&month).copied().unwrap_or(0);
        book.pool_size(start)
            .saturating_sub(used)
            .saturating_sub(book.pool_held(month))
    }

    fn take(&mut self, month: Month, minutes: u32) {
        *self.used.entry(month).or_insert(0) += minutes;
    }
}
