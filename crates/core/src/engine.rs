//! The per-tenant state machine: a tenant's directory, wallet, dial-out pool and idempotency
//! keys, and the commands that change them (C10 to C15, C18 to C24, C28 to C34). Time is always
//! an input; nothing here reads a clock or does IO.
//!
//! A book's live calls are one `LiveCalls` (module `live`), built from reservations only; the
//! call-control commands on a book are in `control`, above this module, which never imports it.

use crate::directory::{AmountRules, Refusal, Sku, Tenant};
pub use crate::funding::Funding;
use crate::ledger::{Effects, Event, LotId, LotSource, Wallet};
use crate::live::LiveCalls;
use crate::money::{MAX_BALANCE, Overflow, add, mul, sum};
use crate::rating::{Assessment, CallRecord, Category, Payer, Rater};
use crate::reason::Reason;
use crate::reservations::{Reservation, Reservations};
use jiff::Timestamp;
use rust_decimal::Decimal;
use std::collections::{BTreeMap, HashMap};

/// The rate a call was charged at, copied out of the card for reports and "explain".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedRate {
    pub name: String,
    pub country: String,
    pub premium: bool,
    pub rate_per_minute: Decimal,
    pub first_block_s: u32,
    pub increment_s: u32,
    pub effective_from: Timestamp,
}

/// A call's assessment and the plan of its funding `TenantBook::plan_ahead` made, if any.
pub type Planned<'a> = (Assessment<'a>, Option<Result<Charge, Reason>>);

/// A call that was accepted: everything reports and "explain" need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charge {
    pub category: Category,
    pub funding: Funding,
    /// The license that paid (section 6).
    pub capability: Sku,
    /// The rule that decided who pays.
    pub rule: &'static str,
    pub duration_s: u64,
    /// Billable seconds under the rate's increments (0 without a rate).
    pub billable_s: u64,
    pub rate: Option<AppliedRate>,
    /// The connection fee included in `amount` (0 when none applies).
    pub connection_fee: Decimal,
    /// What the wallet is debited, rounded once (C7).
    pub amount: Decimal,
    /// Pool minutes used (C21, C32).
    pub pool_minutes: u32,
    /// The other party's country and whether it is domestic (C39).
    pub other_country: Option<String>,
    pub domestic: Option<bool>,
    /// Lots drained, in order (empty when nothing was debited).
    pub lots: Vec<(LotId, Decimal)>,
    /// The wallet balance right after this call: after its debit and before any recharge the
    /// debit caused; for a call that debits nothing, the balance as it stands. `None` when the
    /// tenant has no wallet.
    pub balance_after: Option<Decimal>,
    /// The lot an auto-recharge created after this debit.
    pub recharge_lot: Option<LotId>,
}

/// The result of a call submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Charged(Box<Charge>),
    Refused(Reason),
}

impl Outcome {
    pub fn reason(&self) -> Option<Reason> {
        match self {
            Outcome::Refused(r) => Some(*r),
            Outcome::Charged(_) => None,
        }
    }
}

/// What processing one call did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Processed {
    pub outcome: Outcome,
    /// True when this `call_id` was seen before with the same content: `outcome` is the first
    /// result and nothing was changed (C23).
    pub replay: bool,
    pub effects: Effects,
}

/// How the call reached us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Records of calls that already happened: never refused for `insufficient_credits` (C29).
    Bulk,
    /// A call about to connect: C14 applies.
    RealTime,
    /// A call that ended under call control (C27): dated at its end (C28) and never refused
    /// for credits, since it already happened (C13).
    Ended,
}

/// The calendar month (in the tenant's time zone) that pool minutes are counted in.
pub use crate::calendar::Month;

/// What a stored call id answers to a later submission (C23, C37).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub fingerprint: u128,
    pub outcome: Outcome,
}

/// One tenant's state.
#[derive(Debug, Clone)]
pub struct TenantBook {
    pub tenant: Tenant,
    pub wallet: Wallet,
    /// Pool minutes used per month (C20, C21).
    pub pool_used: BTreeMap<Month, u32>,
    /// Call ids already submitted. In a store-backed run only the ids of the batch at hand are
    /// loaded; offline runs keep them all.
    pub seen: HashMap<String, Seen>,
    /// Fundings dated later than the wallet's clock, oldest first: each is made when the
    /// ledger reaches its instant, so that a declared history replays in time order with the
    /// calls (a tenant file's past fundings).
    pub scheduled: Vec<ScheduledFunding>,
    /// Calls authorized and not yet ended, and what they hold (C25 to C27). Changed only by
    /// the call-control commands (module `control`), read through `live`.
    pub(crate) live: LiveCalls,
    /// The toll-fraud guard's settings and counters (C43 to C46).
    pub guard: crate::guard::Guard,
}

/// A funding made when the ledger reaches its instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledFunding {
    pub reference: String,
    pub amount: Decimal,
    pub at: Timestamp,
}

impl TenantBook {
    pub fn new(tenant: Tenant) -> TenantBook {
        TenantBook {
            wallet: Wallet::default(),
            pool_used: BTreeMap::new(),
            seen: HashMap::new(),
            scheduled: Vec::new(),
            live: LiveCalls::new(&tenant.timezone),
            guard: crate::guard::Guard::default(),
            tenant,
        }
    }

    /// The calls authorized and not yet ended, and what they hold.
    pub fn live(&self) -> &LiveCalls {
        &self.live
    }

    /// Replaces the live calls with `reservations` (as loaded from the store); what they hold
    /// is counted from them.
    pub fn load_reservations(&mut self, reservations: Reservations) {
        self.live = LiveCalls::from_reservations(reservations, &self.tenant.timezone);
    }

    /// C14: the balance minus what live reservations hold. (A difference too negative to
    /// represent is the smallest decimal: nothing is available either way.)
    pub fn available(&self) -> Decimal {
        self.available_besides(None)
    }

    /// `available`, with `own`'s hold counted as available (to the call itself, when extended).
    pub(crate) fn available_besides(&self, own: Option<&Reservation>) -> Decimal {
        self.wallet
            .balance()
            .checked_sub(self.live.credit_held_besides(own))
            .unwrap_or(Decimal::MIN)
    }

    /// The tenant-local month of an instant.
    pub fn month_of(&self, at: Timestamp) -> Month {
        Month::of_instant(at, &self.tenant.timezone)
    }

    /// C20: the pool size in minutes at `at`, from the purchased `MCOMEETADD` count then.
    pub fn pool_size(&self, at: Timestamp) -> u32 {
        // Counts are at most MAX_LICENSE_COUNT, so this never saturates for a count the
        // directory accepted.
        60u32.saturating_mul(self.tenant.purchases().count_at(Sku::Subscription, at))
    }

    /// Minutes left in the pool of the month of `at`, less what live calls hold (C25).
    pub fn pool_remaining(&self, at: Timestamp) -> u32 {
        self.pool_remaining_besides(at, None)
    }

    /// `pool_remaining`, with `own`'s hold counted as remaining (to the call itself, when
    /// extended).
    pub(crate) fn pool_remaining_besides(&self, at: Timestamp, own: Option<&Reservation>) -> u32 {
        let month = self.month_of(at);
        let used = self.pool_used.get(&month).copied().unwrap_or(0);
        let held =
            self.live
                .pool_held_besides((month.year(), month.month()), &self.tenant.timezone, own);
        self.pool_size(at).saturating_sub(used).saturating_sub(held)
    }

    /// Pool minutes held by live calls in `month` (C25).
    pub fn pool_held(&self, month: Month) -> u32 {
        self.live
            .pool_held((month.year(), month.month()), &self.tenant.timezone)
    }

    /// C3, C11, C40: the checks of a funding by the operator (`by_operator`) or the tenant's
    /// own admin.
    fn check_funding(
        &self,
        amount: Decimal,
        by_operator: bool,
        rules: &AmountRules,
    ) -> Result<(), Refusal> {
        if self.tenant.wallet().is_none() {
            return Err(Refusal::new(
                Reason::CreditsNotSetUp,
                format!("tenant {} has no wallet set up", self.tenant.id),
            ));
        }
        if self.tenant.agreement == crate::directory::Agreement::Reseller && !by_operator {
            return Err(Refusal::new(
                Reason::FundingNotPermitted,
                "only the operator may fund a reseller tenant's wallet",
            ));
        }
        let currency = self.tenant.currency;
        rules
            .check(currency, amount)
            .map_err(|reason| Refusal::new(reason, rules.explain("amount", currency, amount)))?;
        // C11: the balance a funding may bring the wallet to, counting the fundings still
        // scheduled, is bounded.
        let after = sum(self.scheduled.iter().map(|f| f.amount))
            .and_then(|scheduled| add(scheduled, self.wallet.balance()))
            .and_then(|before| add(before, amount));
        if after.is_ok_and(|after| after <= MAX_BALANCE) {
            return Ok(());
        }
        Err(Refusal::new(
            Reason::AmountOutOfRange,
            format!(
                "amount {amount}: the balance with its scheduled fundings would exceed {MAX_BALANCE}"
            ),
        ))
    }

    /// A manual funding at `at` (scheduled fundings due by then are made first).
    pub fn fund(
        &mut self,
        amount: Decimal,
        at: Timestamp,
        reference: &str,
        by_operator: bool,
        rules: &AmountRules,
    ) -> Result<(LotId, Effects), Refusal> {
        self.check_funding(amount, by_operator, rules)?;
        let mut effects = Effects::default();
        self.settle(at, &mut effects);
        let lot = self
            .make_funding(amount, at, reference, &mut effects)
            .map_err(|_| {
                Refusal::new(
                    Reason::AmountOutOfRange,
                    format!("amount {amount}: the wallet's totals cannot hold it"),
                )
            })?;
        Ok((lot, effects))
    }

    fn make_funding(
        &mut self,
        amount: Decimal,
        at: Timestamp,
        reference: &str,
        effects: &mut Effects,
    ) -> Result<LotId, Overflow> {
        let source = LotSource::Manual {
            reference: reference.to_string(),
        };
        self.wallet
            .fund(amount, at, &self.tenant.timezone, source, effects)
    }

    /// Checks a funding now and makes it when the ledger reaches `at` (at once when it already
    /// has).
    pub fn schedule_funding(
        &mut self,
        amount: Decimal,
        at: Timestamp,
        reference: &str,
        by_operator: bool,
        rules: &AmountRules,
    ) -> Result<Effects, Refusal> {
        self.check_funding(amount, by_operator, rules)?;
        let funding = ScheduledFunding {
            reference: reference.to_string(),
            amount,
            at,
        };
        let place = self
            .scheduled
            .partition_point(|f| (f.at, &f.reference) <= (at, &funding.reference));
        self.scheduled.insert(place, funding);
        let mut effects = Effects::default();
        let clock = self.wallet.clock();
        self.settle(clock, &mut effects);
        Ok(effects)
    }

    /// Makes every scheduled funding dated at or before `until`, in time order.
    pub fn settle(&mut self, until: Timestamp, effects: &mut Effects) {
        if self.scheduled.first().is_none_or(|f| f.at > until) {
            return;
        }
        let due = self.scheduled.partition_point(|f| f.at <= until);
        for funding in self.scheduled.drain(..due).collect::<Vec<_>>() {
            // Checked against MAX_BALANCE when scheduled; a funding no total could hold is
            // dropped rather than made wrong (it changes nothing).
            let _ = self.make_funding(funding.amount, funding.at, &funding.reference, effects);
        }
    }

    /// Brings the ledger to `at`: makes the scheduled fundings due, forfeits lots that expired,
    /// raises expiry warnings.
    pub fn advance(&mut self, at: Timestamp) -> Effects {
        let mut effects = Effects::default();
        self.settle(at, &mut effects);
        self.wallet.advance(at, &mut effects);
        effects
    }

    /// Rates and, when accepted, charges one call (C22 order is the caller's: submit calls in
    /// canonical order). A duplicate returns the first result; a reused id is refused.
    pub fn process_call(
        &mut self,
        rater: &mut Rater<'_>,
        call: &CallRecord,
        mode: Mode,
    ) -> Processed {
        // C23, C27: the id of an authorized call belongs to call control until the bridge ends
        // it (or the lapsed hold is forgotten): its end report is the call's one submission. A
        // record arriving by another path meanwhile is a second submission whose content
        // differs from the call as authorized, so it is refused and changes nothing; otherwise
        // the call would be charged at the record's duration and its end refused.
        if self.live.contains_key(&call.call_id) {
            return Processed {
                outcome: Outcome::Refused(Reason::CallIdReused),
                replay: false,
                effects: Effects::default(),
            };
        }
        let fingerprint = call.fingerprint();
        if let Some(seen) = self.seen.get(&call.call_id) {
            if seen.fingerprint == fingerprint {
                return Processed {
                    outcome: seen.outcome.clone(),
                    replay: true,
                    effects: Effects::default(),
                };
            }
            return Processed {
                outcome: Outcome::Refused(Reason::CallIdReused),
                replay: false,
                effects: Effects::default(),
            };
        }
        let (outcome, effects) = self.process_new(rater, call, mode);
        self.seen.insert(
            call.call_id.clone(),
            Seen {
                fingerprint,
                outcome: outcome.clone(),
            },
        );
        Processed {
            outcome,
            replay: false,
            effects,
        }
    }

    /// Rates and charges a call whose `call_id` the caller has already found to be new. For
    /// callers that keep their own, more compact, record of seen ids (offline runs over
    /// millions of records); everyone else uses `process_call`.
    pub fn process_new(
        &mut self,
        rater: &mut Rater<'_>,
        call: &CallRecord,
        mode: Mode,
    ) -> (Outcome, Effects) {
        let mut effects = Effects::default();
        // C28: a call is dated at its start in bulk and at its end in real time.
        let dated = match mode {
            Mode::Bulk => call.start,
            Mode::RealTime | Mode::Ended => call.end,
        };
        self.settle(dated, &mut effects);
        // C14/C28: what is available is what the wallet holds at the call's instant.
        self.wallet.advance(dated, &mut effects);
        let assessed = rater.assess(&self.tenant, call);
        if mode == Mode::Bulk
            && let Ok(a) = &assessed
        {
            flag(&mut self.guard, &self.tenant, call, a, &mut effects);
        }
        let plan = assessed.and_then(|a| self.plan_funding(&a, self.pool_left(&a, call.start)));
        let outcome = match plan.and_then(|plan| self.charge(plan, call, mode, &mut effects)) {
            Ok(charge) => Outcome::Charged(Box::new(charge)),
            Err(reason) => Outcome::Refused(reason),
        };
        (outcome, effects)
    }

    /// `process_new` for a call already assessed (`Rater::assess`) against this book's tenant,
    /// or an equal copy of it: rating is a pure function of the call, the card and the
    /// directory, so it may run ahead (on other threads) of the charges, which replay in
    /// canonical order (C22). Offline runs only (`Mode::Bulk`).
    pub fn process_assessed(
        &mut self,
        call: &CallRecord,
        assessed: Result<Assessment<'_>, Reason>,
    ) -> (Outcome, Effects) {
        self.process_planned(call, assessed.map(|a| (a, None)))
    }

    /// The plan of a call's funding when it depends on the tenant alone, not on the book's
    /// state: for every payer but the pool (whose plan reads the minutes left when the call is
    /// charged). `tenant` is the book's tenant or an equal copy of it, so the plan may be made
    /// ahead, on another thread, and handed to `process_planned`.
    pub fn plan_ahead(tenant: &Tenant, a: &Assessment<'_>) -> Option<Result<Charge, Reason>> {
        (a.payer != Payer::Pool).then(|| plan_for(tenant, a, 0))
    }

    /// `process_assessed` with the plan `plan_ahead` made of the assessment, if it made one.
    pub fn process_planned(
        &mut self,
        call: &CallRecord,
        assessed: Result<Planned<'_>, Reason>,
    ) -> (Outcome, Effects) {
        let mut effects = Effects::default();
        self.settle(call.start, &mut effects);
        self.wallet.advance(call.start, &mut effects);
        if let Ok((a, _)) = &assessed {
            flag(&mut self.guard, &self.tenant, call, a, &mut effects);
        }
        let plan = assessed.and_then(|(a, ahead)| match ahead {
            Some(plan) => {
                debug_assert_eq!(plan, self.plan_funding(&a, self.pool_left(&a, call.start)));
                plan
            }
            None => self.plan_funding(&a, self.pool_left(&a, call.start)),
        });
        let outcome = match plan.and_then(|p| self.charge(p, call, Mode::Bulk, &mut effects)) {
            Ok(charge) => Outcome::Charged(Box::new(charge)),
            Err(reason) => Outcome::Refused(reason),
        };
        (outcome, effects)
    }

    /// The pool minutes a call may use: those remaining at `at` for a call the pool may pay,
    /// else none (`plan_funding` reads them only then).
    fn pool_left(&self, a: &Assessment<'_>, at: Timestamp) -> u32 {
        if a.payer == Payer::Pool {
            self.pool_remaining(at)
        } else {
            0
        }
    }

    /// Applies a planned charge (`plan_funding`) to the pool and the wallet.
    fn charge(
        &mut self,
        plan: Charge,
        call: &CallRecord,
        mode: Mode,
        effects: &mut Effects,
    ) -> Result<Charge, Reason> {
        let needs_credit = plan.amount > Decimal::ZERO
            || matches!(plan.funding, Funding::Credits | Funding::PoolAndCredits);
        // C14/C29: only a call about to connect is refused for a balance that is not positive.
        if mode == Mode::RealTime && needs_credit && self.available() <= Decimal::ZERO {
            return Err(Reason::InsufficientCredits);
        }
        let mut charge = plan;
        // A debit no total could hold is refused before anything changes.
        if charge.amount > Decimal::ZERO {
            self.wallet
                .can_debit(charge.amount)
                .map_err(|_| Reason::AmountOutOfRange)?;
        }
        if charge.pool_minutes > 0 {
            self.use_pool(call.start, charge.pool_minutes, effects);
        }
        if charge.amount > Decimal::ZERO {
            // C28: in bulk a call is dated at its start; in real time the debit happens at its
            // end (the caller passes the record as it ends, so `end` is the commit instant).
            let at = match mode {
                Mode::Bulk => call.start,
                Mode::RealTime | Mode::Ended => call.end,
            };
            // The tenant is read and the wallet changed: two fields, borrowed apart.
            let tenant = &self.tenant;
            let settings = tenant.wallet().expect("a credit charge has a wallet");
            // The guard's rule 10: no auto-recharge while dial-out is suspended, a few a day
            // while an alert is open.
            let recharge = settings
                .auto_recharge
                .as_ref()
                .filter(|_| self.guard.recharge_allowed(at));
            let policy = crate::ledger::DebitPolicy {
                tz: &tenant.timezone,
                auto_recharge: recharge,
                low_thresholds: &settings.low_balance_thresholds,
            };
            let debit = self
                .wallet
                .debit(charge.amount, at, &call.call_id, &policy, effects)
                .map_err(|_| Reason::AmountOutOfRange)?;
            if debit.recharge_lot.is_some() {
                self.guard.recharged(at);
            }
            charge.lots = debit.lots;
            charge.balance_after = Some(debit.balance_after);
            charge.recharge_lot = debit.recharge_lot;
        } else if self.tenant.wallet().is_some() {
            charge.balance_after = Some(self.wallet.balance());
        }
        Ok(charge)
    }

    /// C18, C19, C32: who pays, and how much, given the pool minutes left (`pool_left`) and
    /// the wallet set-up.
    pub(crate) fn plan_funding(
        &self,
        a: &Assessment<'_>,
        pool_left: u32,
    ) -> Result<Charge, Reason> {
        plan_for(&self.tenant, a, pool_left)
    }

    /// C21: counts pool minutes against the month the call started in; C15 at 80% and 100%.
    fn use_pool(&mut self, start: Timestamp, minutes: u32, effects: &mut Effects) {
        let month = self.month_of(start);
        let size = self.pool_size(start);
        let used = self.pool_used.entry(month).or_insert(0);
        let before = *used;
        *used += minutes;
        let after = *used;
        assert!(after <= size, "the pool never pays more than it has");
        for percent in [80u8, 100u8] {
            let mark = u64::from(size) * u64::from(percent);
            if u64::from(before) * 100 < mark && u64::from(after) * 100 >= mark {
                effects.events.push(Event::PoolThreshold {
                    at: start,
                    month: month.to_string(),
                    percent,
                    used_minutes: after,
                    size_minutes: size,
                });
            }
        }
    }
}

/// C22: the canonical order of calls: start instant, then `call_id`.
pub fn canonical_cmp(a: &CallRecord, b: &CallRecord) -> std::cmp::Ordering {
    (a.start, &a.call_id).cmp(&(b.start, &b.call_id))
}

/// C22: sorts calls in the canonical order (`canonical_cmp`).
pub fn canonical_order(calls: &mut [CallRecord]) {
    if !calls.is_sorted_by(|a, b| canonical_cmp(a, b).is_le()) {
        calls.sort_by(canonical_cmp);
    }
}

/// The tenants of one shard, each with its state machine (C41: an id it does not hold is
/// `unknown_tenant`).
#[derive(Debug, Clone, Default)]
pub struct Shard {
    books: BTreeMap<String, TenantBook>,
}

impl Shard {
    /// Adds or replaces a tenant's book.
    pub fn insert(&mut self, book: TenantBook) {
        self.books.insert(book.tenant.id.clone(), book);
    }

    pub fn get(&self, tenant_id: &str) -> Result<&TenantBook, Reason> {
        self.books.get(tenant_id).ok_or(Reason::UnknownTenant)
    }

    pub fn get_mut(&mut self, tenant_id: &str) -> Result<&mut TenantBook, Reason> {
        self.books.get_mut(tenant_id).ok_or(Reason::UnknownTenant)
    }

    /// Tenant ids, sorted.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.books.keys().map(String::as_str)
    }
}

/// C18, C19, C32: who pays for a call of `tenant`, and how much, given the pool minutes left.
fn plan_for(tenant: &Tenant, a: &Assessment<'_>, pool_left: u32) -> Result<Charge, Reason> {
    let subscription_capability = Sku::Subscription;
    let credit_capability = if a.pay_per_minute {
        Sku::PayPerMinute
    } else {
        Sku::Credits
    };
    let mut charge = Charge {
        category: a.category,
        funding: Funding::Included,
        capability: subscription_capability,
        rule: "C18",
        duration_s: a.duration_s,
        billable_s: a.rate.map_or(0, |r| r.billable_seconds(a.duration_s)),
        rate: a.rate.map(|r| AppliedRate {
            name: r.name.clone(),
            country: r.country.to_string(),
            premium: r.premium,
            rate_per_minute: r.rate_per_minute,
            first_block_s: r.first_block_s,
            increment_s: r.increment_s,
            effective_from: r.effective_from,
        }),
        connection_fee: Decimal::ZERO,
        amount: Decimal::ZERO,
        pool_minutes: 0,
        other_country: a.other_country.map(|c| c.to_string()),
        domestic: a.domestic,
        lots: Vec::new(),
        balance_after: None,
        recharge_lot: None,
    };
    match a.payer {
        Payer::Included => Ok(charge),
        Payer::AddOn => Ok(Charge {
            funding: Funding::AddOn,
            capability: Sku::DialOutUs,
            rule: "C33",
            ..charge
        }),
        Payer::Pool if pool_left > 0 => {
            let remaining = pool_left;
            let minutes = a.duration_s.div_ceil(60);
            charge.rule = "C32";
            if minutes <= u64::from(remaining) {
                charge.funding = Funding::Pool;
                charge.pool_minutes = minutes as u32;
                return Ok(charge);
            }
            // C32: the pool pays its remaining whole minutes; credits pay the rest of the
            // billable seconds at the rate, rounded once, without connection fee. If the
            // credit part cannot be funded the whole call is refused.
            credit_funding_of(tenant, a)?;
            let rate = a.rate.expect("a pool-eligible call has a rate");
            let credit_s = charge.billable_s - 60 * u64::from(remaining);
            charge.funding = Funding::PoolAndCredits;
            charge.pool_minutes = remaining;
            let usage = mul(rate.rate_per_minute, Decimal::from(credit_s))
                .map_err(|_| Reason::AmountOutOfRange)?;
            charge.amount = tenant.currency.round(usage / Decimal::from(60));
            Ok(charge)
        }
        Payer::Pool | Payer::Credits => {
            credit_funding_of(tenant, a)?;
            let rate = a.rate.expect("a credit-funded call has a rate");
            charge.funding = Funding::Credits;
            charge.capability = credit_capability;
            charge.rule = if a.pay_per_minute { "C18" } else { "C19" };
            charge.amount = rate
                .checked_cost(a.duration_s, tenant.currency)
                .ok_or(Reason::AmountOutOfRange)?;
            if a.duration_s > 0 {
                charge.connection_fee = rate.connection_fee;
            }
            Ok(charge)
        }
    }
}

/// C30's tail: `credits_not_set_up` then `credits_license_missing` (C19).
fn credit_funding_of(tenant: &Tenant, a: &Assessment<'_>) -> Result<(), Reason> {
    if tenant.wallet().is_none() {
        return Err(Reason::CreditsNotSetUp);
    }
    if !a.pay_per_minute && !a.organizer.licenses.contains(&Sku::Credits) {
        return Err(Reason::CreditsLicenseMissing);
    }
    Ok(())
}

/// C43 in bulk and offline processing: the guard (when on) checks and counts the record of a
/// dial-out that already happened, in canonical order, and only flags it (its alerts).
fn flag(
    guard: &mut crate::guard::Guard,
    tenant: &Tenant,
    call: &CallRecord,
    a: &Assessment<'_>,
    effects: &mut Effects,
) {
    if !guard.is_on() {
        return;
    }
    let digits = crate::guard::digits_of(&call.destination_number);
    if let Some(d) = crate::guard::dial_out(tenant, call, a, &digits, call.start) {
        let duration_s = call.end.duration_since(call.start).as_secs().max(0);
        let v = guard.record(&d, duration_s.unsigned_abs(), &tenant.timezone);
        effects
            .events
            .extend(v.alerts.into_iter().map(|x| x.event(call.start)));
    }
}
