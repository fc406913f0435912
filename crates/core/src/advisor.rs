//! The plan advisor: a tenant's real usage of a past period, re-rated under other licensing, to
//! show what each plan would have cost (C18 to C21, C32).
//!
//! Usage is the tenant's **charged** calls that started in the period (dial-in toll, toll-free
//! and dial-out); calls refused in reality (for credit, by policy, ...) were never usage and are
//! not counted. Each call is re-rated by the rating code of real time (`Rater::assess` and the
//! funding waterfall `TenantBook::plan_funding`) against the current directory (numbers,
//! policies, usage locations, the add-on) with only the conferencing licenses changed:
//!
//! - **all pay-per-minute**: every advised user holds `MCOMEETACPEA`; every call that is not
//!   free (the US/Canada add-on) is paid by credits at its rate (C18).
//! - **all subscription**: every advised user holds `MCOMEETADD`, and `MCOPSTNPP` when any of
//!   their calls is funded by credits (C19); toll dial-ins are included; Zone A, non-premium
//!   dial-outs draw on the tenant's pool, 60 minutes per `MCOMEETADD` per calendar month in the
//!   tenant's time zone, in whole minutes, against the month the call started in (C20, C21),
//!   a call that outruns the pool paying the rest by credits (C32). Calls use the pool in
//!   canonical order (C22).
//! - **cheapest**: one of the two per user. The pool is shared, so a user's choice changes the
//!   others' costs: the search starts from the cheapest of (a) all pay-per-minute, (b) all
//!   subscription and (m) each user on whichever of the two cost them less in (a) and (b). With
//!   at most 16 advised users every assignment is priced and the cheapest is exact. With more,
//!   steepest descent: the single flip (one user to the other plan) that lowers the total most
//!   is made until none does, then pairs of flips are tried, until neither lowers the total (a
//!   local optimum) or a work bound is reached (`Search`). Every change made lowers the total,
//!   so the result is never dearer than (a) or (b).
//! - **actual**: what the ledger charged for the same calls plus the licenses the tenant
//!   purchased, each month at the largest count purchased during that month.
//!
//! License prices are the operator's monthly price per license and currency; one not set counts
//! as 0 and is listed in `missing_prices`. A scenario's licenses are held for every month of the
//! period: one conferencing license per advised user, `MCOPSTNPP` for a subscription user who
//! needs credits in any month, and the add-on as purchased (the same in every scenario). The
//! advised users are those holding a conferencing license today and those who organized a
//! charged call in the period. A plan the tenant may not buy (C1, C2) is unavailable, and so is
//! one under which one of a user's calls would be refused (for example credits that the
//! tenant's country or agreement does not offer, C3). A call that would be refused under every
//! plan (its service number was removed since, its organizer is gone) counts at its actual
//! charge in every scenario and is reported in `unrated_calls`.
//!
//! No IO and no clock: the period, the calls and the prices are inputs.

use crate::catalogue::{CountryTable, RateCard};
use crate::directory::{AmountRules, Sku, Tenant, TenantSpec, User, WalletSettings};
use crate::engine::{Funding, Month, TenantBook};
use crate::money::Currency;
use crate::money::{Overflow, add, mul, sub, sum};
use crate::rating::{Assessment, CallRecord, Payer, Rater};
use crate::reason::Reason;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use rust_decimal::Decimal;
use std::collections::BTreeMap;

// ---------------------------------------------------------------------------------------------
// The period
// ---------------------------------------------------------------------------------------------

/// Whole calendar months, `from` to `to` inclusive, in the tenant's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: Month,
    pub to: Month,
}

impl Period {
    /// The most months a period covers.
    pub const MAX_MONTHS: u32 = 12;

    /// `from` to `to` inclusive; refused when `to` is before `from` or the period is longer
    /// than `MAX_MONTHS`.
    pub fn new(from: Month, to: Month) -> Result<Period, String> {
        if to < from {
            return Err(format!("to ({to}) is before from ({from})"));
        }
        let period = Period { from, to };
        if period.months().len() as u32 > Period::MAX_MONTHS {
            return Err(format!(
                "{from} to {to} is longer than {} months",
                Period::MAX_MONTHS
            ));
        }
        Ok(period)
    }

    /// Every month of the period, in order (stops at 13 for a period too long).
    pub fn months(&self) -> Vec<Month> {
        let mut months = vec![self.from];
        while let Some(next) = months.last().and_then(|m| m.next()) {
            if next > self.to || months.len() > 12 {
                break;
            }
            months.push(next);
        }
        months
    }

    /// `[start of from, start of the month after to)` in `tz`.
    pub fn bounds(&self, tz: &TimeZone) -> (Timestamp, Timestamp) {
        (self.from.start(tz), self.to.end(tz))
    }
}

// ---------------------------------------------------------------------------------------------
// License prices
// ---------------------------------------------------------------------------------------------

/// The operator's monthly price of each license in one currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicensePrices {
    pub currency: Currency,
    prices: BTreeMap<Sku, Decimal>,
}

/// The largest monthly price of a license (exclusive).
pub const MAX_PRICE: Decimal = crate::money::MAX_LICENSE_PRICE;

/// A price is money in its currency: at least 0, below `MAX_PRICE`, with no digits below the
/// currency's minor unit.
pub fn check_price(currency: Currency, sku: Sku, price: Decimal) -> Result<(), String> {
    let code = sku.code();
    if price.is_sign_negative() && !price.is_zero() {
        return Err(format!("{code}: the price {price} is negative"));
    }
    if price >= MAX_PRICE {
        return Err(format!(
            "{code}: the price {price} is not below {MAX_PRICE}"
        ));
    }
    if !currency.is_representable(price) {
        return Err(format!(
            "{code}: the price {price} has more than {} decimal places ({currency})",
            currency.minor_units()
        ));
    }
    Ok(())
}

impl LicensePrices {
    /// No price set.
    pub fn new(currency: Currency) -> LicensePrices {
        LicensePrices {
            currency,
            prices: BTreeMap::new(),
        }
    }

    /// Sets one price (checked by `check_price`).
    pub fn set(&mut self, sku: Sku, price: Decimal) -> Result<(), String> {
        check_price(self.currency, sku, price)?;
        self.prices.insert(sku, price.normalize());
        Ok(())
    }

    /// The monthly price of `sku`, if set.
    pub fn get(&self, sku: Sku) -> Option<Decimal> {
        self.prices.get(&sku).copied()
    }

    /// Every price set, by SKU.
    pub fn iter(&self) -> impl Iterator<Item = (Sku, Decimal)> + '_ {
        self.prices.iter().map(|(s, p)| (*s, *p))
    }

    /// The price, 0 when not set.
    fn of(&self, sku: Sku) -> Decimal {
        self.get(sku).unwrap_or(Decimal::ZERO)
    }
}

// ---------------------------------------------------------------------------------------------
// Inputs and outputs
// ---------------------------------------------------------------------------------------------

/// A call that was charged in reality: its record and what it was charged.
#[derive(Debug, Clone)]
pub struct ChargedCall {
    pub record: CallRecord,
    /// What the wallet was debited for it.
    pub amount: Decimal,
    /// Pool minutes it used.
    pub pool_minutes: u32,
}

/// A user's conferencing plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Plan {
    /// `MCOMEETACPEA`.
    PayPerMinute,
    /// `MCOMEETADD` (with `MCOPSTNPP` when credits are needed).
    Subscription,
}

impl Plan {
    pub fn sku(self) -> Sku {
        match self {
            Plan::PayPerMinute => Sku::PayPerMinute,
            Plan::Subscription => Sku::Subscription,
        }
    }

    fn index(self) -> usize {
        match self {
            Plan::PayPerMinute => 0,
            Plan::Subscription => 1,
        }
    }

    fn other(self) -> Plan {
        match self {
            Plan::PayPerMinute => Plan::Subscription,
            Plan::Subscription => Plan::PayPerMinute,
        }
    }
}

const PLANS: [Plan; 2] = [Plan::PayPerMinute, Plan::Subscription];

/// What one scenario costs over the period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioCost {
    /// Why the tenant could not have this plan (`None` when it could).
    pub unavailable: Option<(Reason, String)>,
    /// Licenses at the operator's prices, every month of the period.
    pub license_cost: Decimal,
    /// Credits the calls cost (each call rounded once, C7).
    pub usage_cost: Decimal,
    /// Pool minutes the calls used (C21).
    pub pool_minutes_used: u64,
    /// Pool minutes the period offered (C20).
    pub pool_minutes_size: u64,
    pub total: Decimal,
    /// License-months counted, by SKU (count x months).
    pub license_months: BTreeMap<Sku, u64>,
}

impl ScenarioCost {
    fn unavailable(reason: Reason, detail: String) -> ScenarioCost {
        ScenarioCost {
            unavailable: Some((reason, detail)),
            license_cost: Decimal::ZERO,
            usage_cost: Decimal::ZERO,
            pool_minutes_used: 0,
            pool_minutes_size: 0,
            total: Decimal::ZERO,
            license_months: BTreeMap::new(),
        }
    }

    pub fn is_available(&self) -> bool {
        self.unavailable.is_none()
    }
}

/// One advised user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserAdvice {
    pub upn: String,
    pub display_name: String,
    /// The conferencing license held today.
    pub current: Option<Sku>,
    /// The plan of the cheapest scenario (`None` when no scenario is available).
    pub recommended: Option<Plan>,
    /// The recommended subscription needs `MCOPSTNPP` (credit-funded calls, C19).
    pub credits_license: bool,
    /// Charged calls in the period and their minutes (each call rounded up, C21).
    pub calls: u64,
    pub minutes: u64,
    /// What the user's calls were charged.
    pub actual_usage_cost: Decimal,
    /// Licenses plus usage of this user in the all pay-per-minute scenario.
    pub cost_ppm: Option<Decimal>,
    /// Licenses plus usage of this user in the all-subscription scenario (pool shared by all).
    pub cost_subscription: Option<Decimal>,
    /// Licenses plus usage of this user in the cheapest scenario.
    pub cost_recommended: Option<Decimal>,
}

/// The advice for one tenant and period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advice {
    pub currency: Currency,
    pub period: Period,
    pub actual: ScenarioCost,
    pub all_ppm: ScenarioCost,
    pub all_subscription: ScenarioCost,
    pub cheapest: ScenarioCost,
    /// `actual.total - cheapest.total` (0 when no scenario is available).
    pub saving: Decimal,
    /// Advised users, by UPN.
    pub users: Vec<UserAdvice>,
    /// Licenses counted by some scenario whose price is not set (counted as 0).
    pub missing_prices: Vec<Sku>,
    /// Charged calls of the period.
    pub calls: u64,
    /// Calls that no plan could re-rate, counted at their actual charge everywhere.
    pub unrated_calls: u64,
    /// How far the search for the cheapest assignment went.
    pub search: Search,
}

/// How the cheapest assignment was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Search {
    /// Every assignment was priced: the cheapest is the cheapest there is.
    Exhaustive,
    /// No single change of one user's plan, nor of two users' plans at once, lowers the total.
    LocalOptimum,
    /// The search stopped at its work bound before reaching a local optimum.
    WorkBound,
}

impl Search {
    pub fn as_str(self) -> &'static str {
        match self {
            Search::Exhaustive => "exhaustive",
            Search::LocalOptimum => "local_optimum",
            Search::WorkBound => "work_bound",
        }
    }
}

/// Everything the advice reads.
pub struct AdviceInput<'a> {
    pub tenant: &'a Tenant,
    pub countries: &'a CountryTable,
    pub card: &'a RateCard,
    pub prices: &'a LicensePrices,
    pub period: Period,
    /// The charged calls of the period (others are ignored), any order.
    pub calls: &'a [ChargedCall],
}

/// Bound on the search's work: calls and users visited over all evaluations.
const SEARCH_WORK: u64 = 50_000_000;

// ---------------------------------------------------------------------------------------------
// Re-rating
// ---------------------------------------------------------------------------------------------

/// A copy of `tenant` in which every advised user holds exactly `plan` (plus `MCOPSTNPP` under
/// the subscription, so that any credit-funded call can be rated), other licenses kept, the
/// subscription purchased for every advised user from the start of time, and the wallet set up
/// when the tenant's country and agreement allow it.
fn scenario_tenant(
    tenant: &Tenant,
    advised: &[String],
    plan: Plan,
    countries: &CountryTable,
) -> Result<Tenant, (Reason, String)> {
    let spec = TenantSpec {
        id: tenant.id.clone(),
        name: tenant.name.clone(),
        country: tenant.country,
        currency: tenant.currency,
        timezone: tenant.timezone_name.clone(),
        agreement: tenant.agreement,
    };
    let mut copy = Tenant::new(spec).map_err(|e| (Reason::InvalidRecord, e))?;
    copy.default_policy = tenant.default_policy;
    // C1, C2 (C42's order): may the tenant buy this plan at all?
    copy.set_purchased(plan.sku(), 1, Timestamp::MIN, countries)
        .map_err(|r| (r.reason, r.detail))?;
    let subscribers = if plan == Plan::Subscription {
        advised.len() as u32
    } else {
        0
    };
    copy.restore_purchase(Sku::Subscription, Timestamp::MIN, subscribers);
    match tenant.wallet() {
        Some(settings) => copy.restore_wallet(Some(*settings)),
        None => {
            let plain = WalletSettings {
                auto_recharge: None,
                low_balance_thresholds: [None, None],
            };
            // C3: refused for a country or agreement without credits; the copy then has none.
            let _ = copy.setup_wallet(plain, countries, &AmountRules::default());
        }
    }
    for user in tenant.users() {
        let mut user: User = user.clone();
        if advised.binary_search(&user.upn.key).is_ok() {
            user.licenses
                .retain(|s| !matches!(s, Sku::Subscription | Sku::PayPerMinute | Sku::Credits));
            user.licenses.insert(plan.sku());
            if plan == Plan::Subscription {
                user.licenses.insert(Sku::Credits);
            }
        }
        copy.restore_user(user);
    }
    for number in tenant.numbers() {
        copy.restore_number(number.clone());
    }
    Ok(copy)
}

/// A call's cost under one plan when it does not depend on the pool.
#[derive(Debug, Clone, Copy)]
struct Fixed {
    amount: Decimal,
    /// Funded by credits (needs `MCOPSTNPP` under the subscription, C19).
    credits: bool,
}

/// A Zone A, non-premium dial-out of a subscription user (C18, C32).
struct PoolCall<'t> {
    user: usize,
    month: usize,
    /// ceil(duration / 60) (C21).
    minutes: u32,
    assessment: Assessment<'t>,
    /// The call when the pool is empty: an ordinary credit call, or its refusal.
    empty: Result<Fixed, Reason>,
}

/// Per user and plan: the fixed part of the usage, or the first refusal.
#[derive(Debug, Clone)]
struct UserFixed {
    amount: Decimal,
    credits: bool,
    refused: Option<(Reason, String)>,
}

impl Default for UserFixed {
    fn default() -> Self {
        UserFixed {
            amount: Decimal::ZERO,
            credits: false,
            refused: None,
        }
    }
}

/// The cost of one assignment.
#[derive(Debug, Clone)]
struct Evaluation {
    total: Decimal,
    license: Decimal,
    usage: Decimal,
    pool_used: u64,
    pool_size: u64,
    /// Per user: licenses, usage, needs `MCOPSTNPP`.
    users: Vec<(Decimal, Decimal, bool)>,
}

struct Model<'t> {
    book_sub: &'t TenantBook,
    months: usize,
    /// Per user, per plan.
    fixed: Vec<[UserFixed; 2]>,
    /// Per plan: the tenant may buy it.
    allowed: [Option<(Reason, String)>; 2],
    pool_calls: Vec<PoolCall<'t>>,
    prices: &'t LicensePrices,
    /// Usage no plan re-rates (actual charges), and the add-on licenses as purchased.
    constant_usage: Decimal,
    constant_license: Decimal,
    work: u64,
}

impl Model<'_> {
    /// The plan `plan` is possible for user `u` on its own (its fixed calls rate).
    fn feasible(&self, u: usize, plan: Plan) -> bool {
        self.allowed[plan.index()].is_none() && self.fixed[u][plan.index()].refused.is_none()
    }

    /// Why no assignment with `plan` for user `u` is possible.
    fn refusal(&self, u: usize, plan: Plan) -> Option<(Reason, String)> {
        self.allowed[plan.index()]
            .clone()
            .or_else(|| self.fixed[u][plan.index()].refused.clone())
    }

    /// The cost of an assignment, `None` when one of its calls would be refused.
    fn evaluate(&mut self, plans: &[Plan]) -> Option<Evaluation> {
        let months = Decimal::from(self.months as u64);
        let subscribers = plans.iter().filter(|p| **p == Plan::Subscription).count() as u32;
        let mut users: Vec<(Decimal, Decimal, bool)> = Vec::with_capacity(plans.len());
        for (u, plan) in plans.iter().enumerate() {
            if !self.feasible(u, *plan) {
                return None;
            }
            let fixed = &self.fixed[u][plan.index()];
            users.push((Decimal::ZERO, fixed.amount, fixed.credits));
        }
        // C20, C21, C32: each month's pool, drawn in canonical order.
        let size = 60u32.saturating_mul(subscribers);
        let mut left = vec![size; self.months];
        let mut pool_used = 0u64;
        self.work += (plans.len() + self.pool_calls.len()) as u64;
        for call in &self.pool_calls {
            if plans[call.user] != Plan::Subscription {
                continue;
            }
            let remaining = left[call.month];
            let (amount, credits, used) = if remaining == 0 {
                let empty = call.empty.ok()?;
                (empty.amount, empty.credits, 0)
            } else if call.minutes <= remaining {
                (Decimal::ZERO, false, call.minutes)
            } else {
                let charge = self
                    .book_sub
                    .plan_funding(&call.assessment, remaining)
                    .ok()?;
                (charge.amount, true, charge.pool_minutes)
            };
            left[call.month] -= used;
            pool_used += u64::from(used);
            let entry = &mut users[call.user];
            // An assignment whose cost cannot be represented is not a plan (never reached
            // with prices below MAX_LICENSE_PRICE and rates within their bounds).
            entry.1 = add(entry.1, amount).ok()?;
            entry.2 |= credits;
        }
        let mut license = self.constant_license;
        let mut usage = self.constant_usage;
        for (u, plan) in plans.iter().enumerate() {
            let mut price = self.prices.of(plan.sku());
            if *plan == Plan::Subscription && users[u].2 {
                price = add(price, self.prices.of(Sku::Credits)).ok()?;
            }
            users[u].0 = mul(price, months).ok()?;
            add(users[u].0, users[u].1).ok()?;
            license = add(license, users[u].0).ok()?;
            usage = add(usage, users[u].1).ok()?;
        }
        Some(Evaluation {
            total: add(license, usage).ok()?,
            license,
            usage,
            pool_used,
            pool_size: u64::from(size) * self.months as u64,
            users,
        })
    }
}

/// The most users priced in every combination (2^16 assignments).
const EXHAUSTIVE_USERS: usize = 16;

/// Improves `plans` (priced `eval`) in place. With few users, and when it fits the work bound,
/// every assignment is priced. Otherwise steepest descent: of all single flips (one user to the
/// other plan) the one that lowers the total most is made, again and again; when none lowers
/// it, pairs of flips are tried (the first that lowers the total is made, then single flips
/// resume), until neither lowers the total or the work bound is reached. Every change made
/// lowers the total, so the result is never dearer than where it started.
fn search_cheapest(model: &mut Model<'_>, plans: &mut Vec<Plan>, eval: &mut Evaluation) -> Search {
    let n = plans.len();
    let per_evaluation = (n + model.pool_calls.len()) as u64 + 1;
    if n <= EXHAUSTIVE_USERS && (1u64 << n).saturating_mul(per_evaluation) <= SEARCH_WORK {
        for mask in 0..(1u64 << n) {
            let candidate: Vec<Plan> = (0..n)
                .map(|u| {
                    if mask >> u & 1 == 1 {
                        Plan::Subscription
                    } else {
                        Plan::PayPerMinute
                    }
                })
                .collect();
            if let Some(priced) = model.evaluate(&candidate)
                && priced.total < eval.total
            {
                *plans = candidate;
                *eval = priced;
            }
        }
        return Search::Exhaustive;
    }
    let flip = |model: &mut Model<'_>, plans: &mut Vec<Plan>, users: &[usize]| {
        if users.iter().any(|&u| !model.feasible(u, plans[u].other())) {
            return None;
        }
        for &u in users {
            plans[u] = plans[u].other();
        }
        let priced = model.evaluate(plans);
        for &u in users {
            plans[u] = plans[u].other();
        }
        priced
    };
    loop {
        let mut best_move: Option<(Vec<usize>, Evaluation)> = None;
        for u in 0..n {
            if model.work > SEARCH_WORK {
                return Search::WorkBound;
            }
            if let Some(priced) = flip(model, plans, &[u]) {
                let lowest = best_move.as_ref().map_or(eval.total, |(_, e)| e.total);
                if priced.total < lowest {
                    best_move = Some((vec![u], priced));
                }
            }
        }
        if best_move.is_none() {
            'pairs: for u in 0..n {
                for v in u + 1..n {
                    if model.work > SEARCH_WORK {
                        return Search::WorkBound;
                    }
                    if let Some(priced) = flip(model, plans, &[u, v])
                        && priced.total < eval.total
                    {
                        best_move = Some((vec![u, v], priced));
                        break 'pairs;
                    }
                }
            }
        }
        let Some((users, priced)) = best_move else {
            return Search::LocalOptimum;
        };
        for u in users {
            plans[u] = plans[u].other();
        }
        *eval = priced;
    }
}

/// The largest purchased count of `sku` in force at any instant of `[start, end)`.
fn peak_purchased(tenant: &Tenant, sku: Sku, start: Timestamp, end: Timestamp) -> u32 {
    let purchases = tenant.purchases();
    purchases
        .changes()
        .filter(|(s, at, _)| *s == sku && *at > start && *at < end)
        .map(|(_, _, n)| n)
        .fold(purchases.count_at(sku, start), u32::max)
}

/// What the ledger charged and the licenses purchased, over `months`: the cost and the
/// add-on license-months (C11 bounds prices and counts; an overflow means damaged input).
fn actual_cost(
    input: &AdviceInput<'_>,
    months: &[Month],
    calls: &[&ChargedCall],
) -> Result<(ScenarioCost, u64), Overflow> {
    let (tenant, tz) = (input.tenant, &input.tenant.timezone);
    let mut license_months: BTreeMap<Sku, u64> = BTreeMap::new();
    let mut license = Decimal::ZERO;
    let mut pool_size = 0u64;
    let mut addon_months = 0u64;
    for m in months {
        let (start, end) = m.bounds(tz);
        for sku in Sku::ALL {
            let count = u64::from(peak_purchased(tenant, sku, start, end));
            if count > 0 {
                let counted = license_months.entry(sku).or_default();
                *counted = counted.saturating_add(count);
                license = add(license, mul(input.prices.of(sku), Decimal::from(count))?)?;
            }
            if sku == Sku::Subscription {
                pool_size = pool_size.saturating_add(60 * count);
            }
            if sku == Sku::DialOutUs {
                addon_months = addon_months.saturating_add(count);
            }
        }
    }
    let usage = sum(calls.iter().map(|c| c.amount))?;
    let actual = ScenarioCost {
        unavailable: None,
        license_cost: license,
        usage_cost: usage,
        pool_minutes_used: calls
            .iter()
            .map(|c| u64::from(c.pool_minutes))
            .fold(0, u64::saturating_add),
        pool_minutes_size: pool_size,
        total: add(license, usage)?,
        license_months,
    };
    Ok((actual, addon_months))
}

/// The advice (see the module's documentation); `Overflow` when the charged calls or the
/// purchases add up to more than an amount can hold (a damaged store: every input is bounded).
pub fn advise(input: &AdviceInput<'_>) -> Result<Advice, Overflow> {
    let tenant = input.tenant;
    let currency = tenant.currency;
    let tz = &tenant.timezone;
    let months = input.period.months();
    let (from, to) = input.period.bounds(tz);
    let mut calls: Vec<&ChargedCall> = input
        .calls
        .iter()
        .filter(|c| c.record.start >= from && c.record.start < to)
        .collect();
    // C22: re-rating uses the canonical order.
    calls.sort_by(|a, b| crate::engine::canonical_cmp(&a.record, &b.record));

    // The advised users, by lower-case UPN.
    let mut advised: Vec<String> = tenant
        .users()
        .filter(|u| {
            u.licenses.contains(&Sku::Subscription) || u.licenses.contains(&Sku::PayPerMinute)
        })
        .map(|u| u.upn.key.clone())
        .collect();
    for call in &calls {
        if let Some(user) = tenant.user(&call.record.organizer)
            && !advised.contains(&user.upn.key)
        {
            advised.push(user.upn.key.clone());
        }
    }
    advised.sort();
    let index_of = |upn: &str| -> Option<usize> {
        let user = tenant.user(upn)?;
        advised.binary_search(&user.upn.key).ok()
    };

    // Actual: what the ledger charged and the licenses purchased.
    let (actual, addon_months) = actual_cost(input, &months, &calls)?;

    // The two scenario directories and the books whose funding rules price the calls.
    let tenants: [Result<Tenant, (Reason, String)>; 2] =
        PLANS.map(|plan| scenario_tenant(tenant, &advised, plan, input.countries));
    let allowed: [Option<(Reason, String)>; 2] = [0, 1].map(|i| tenants[i].as_ref().err().cloned());
    let fallback = || {
        let mut t = tenant.clone();
        t.restore_purchase(Sku::Subscription, Timestamp::MIN, 0);
        t
    };
    let [t_ppm, t_sub] = tenants;
    let book_ppm = TenantBook::new(t_ppm.unwrap_or_else(|_| fallback()));
    let book_sub = TenantBook::new(t_sub.unwrap_or_else(|_| fallback()));
    let books = [&book_ppm, &book_sub];
    let month_index = |start: Timestamp| -> usize {
        let m = book_sub.month_of(start);
        months.iter().position(|x| *x == m).unwrap_or(0)
    };

    let mut rater = Rater::new(input.countries, input.card);
    let mut fixed: Vec<[UserFixed; 2]> = vec![Default::default(); advised.len()];
    let mut per_user: Vec<(u64, u64, Decimal)> = vec![(0, 0, Decimal::ZERO); advised.len()];
    let mut pool_calls: Vec<PoolCall<'_>> = Vec::new();
    let mut constant_usage = Decimal::ZERO;
    let mut unrated = 0u64;
    for call in &calls {
        let Some(u) = index_of(&call.record.organizer) else {
            unrated += 1;
            constant_usage = add(constant_usage, call.amount)?;
            continue;
        };
        let seconds = call.record.duration_s().unwrap_or(0);
        per_user[u].0 = per_user[u].0.saturating_add(1);
        per_user[u].1 = per_user[u].1.saturating_add(seconds.div_ceil(60));
        per_user[u].2 = add(per_user[u].2, call.amount)?;
        // Each plan's assessment (only the tenants the plan is allowed for).
        let assessed: [Option<Result<Assessment<'_>, Reason>>; 2] = [0, 1].map(|i| {
            allowed[i]
                .is_none()
                .then(|| rater.assess(&books[i].tenant, &call.record))
        });
        let refused_everywhere = assessed.iter().all(|a| !matches!(a, Some(Ok(_))));
        if refused_everywhere {
            unrated += 1;
            constant_usage = add(constant_usage, call.amount)?;
            continue;
        }
        for (i, outcome) in assessed.into_iter().enumerate() {
            let Some(outcome) = outcome else { continue };
            let slot = &mut fixed[u][i];
            let refuse = |slot: &mut UserFixed, reason: Reason| {
                if slot.refused.is_none() {
                    slot.refused = Some((
                        reason,
                        format!(
                            "call {} of {} would be refused ({})",
                            call.record.call_id,
                            advised[u],
                            reason.code()
                        ),
                    ));
                }
            };
            let a = match outcome {
                Ok(a) => a,
                Err(reason) => {
                    refuse(slot, reason);
                    continue;
                }
            };
            if i == 1 && a.payer == Payer::Pool {
                let empty = books[1].plan_funding(&a, 0).map(|c| Fixed {
                    amount: c.amount,
                    credits: true,
                });
                pool_calls.push(PoolCall {
                    user: u,
                    month: month_index(call.record.start),
                    minutes: u32::try_from(a.duration_s.div_ceil(60)).unwrap_or(u32::MAX),
                    assessment: a,
                    empty,
                });
                continue;
            }
            match books[i].plan_funding(&a, 0) {
                Ok(charge) => {
                    slot.amount = add(slot.amount, charge.amount)?;
                    slot.credits |=
                        matches!(charge.funding, Funding::Credits | Funding::PoolAndCredits);
                }
                Err(reason) => refuse(slot, reason),
            }
        }
    }

    let mut model = Model {
        book_sub: &book_sub,
        months: months.len(),
        fixed,
        allowed,
        pool_calls,
        prices: input.prices,
        constant_usage,
        constant_license: mul(input.prices.of(Sku::DialOutUs), Decimal::from(addon_months))?,
        work: 0,
    };

    let n = advised.len();
    let license_months = |plans: &[Plan], eval: &Evaluation| -> BTreeMap<Sku, u64> {
        let mut counts: BTreeMap<Sku, u64> = BTreeMap::new();
        let m = months.len() as u64;
        for (u, plan) in plans.iter().enumerate() {
            let counted = counts.entry(plan.sku()).or_default();
            *counted = counted.saturating_add(m);
            if *plan == Plan::Subscription && eval.users[u].2 {
                let counted = counts.entry(Sku::Credits).or_default();
                *counted = counted.saturating_add(m);
            }
        }
        if addon_months > 0 {
            counts.insert(Sku::DialOutUs, addon_months);
        }
        counts
    };
    let cost_of = |plans: &[Plan], eval: &Evaluation| ScenarioCost {
        unavailable: None,
        license_cost: eval.license,
        usage_cost: eval.usage,
        pool_minutes_used: eval.pool_used,
        pool_minutes_size: eval.pool_size,
        total: eval.total,
        license_months: license_months(plans, eval),
    };
    let uniform = |model: &mut Model<'_>, plan: Plan| -> (ScenarioCost, Option<Evaluation>) {
        let plans = vec![plan; n];
        match model.evaluate(&plans) {
            Some(eval) => (cost_of(&plans, &eval), Some(eval)),
            None => {
                let (reason, detail) = (0..n)
                    .find_map(|u| model.refusal(u, plan))
                    .or_else(|| model.allowed[plan.index()].clone())
                    .unwrap_or((
                        Reason::CreditsNotSetUp,
                        "a call would need credits the tenant cannot have".to_string(),
                    ));
                (ScenarioCost::unavailable(reason, detail), None)
            }
        }
    };
    let (all_ppm, eval_ppm) = uniform(&mut model, Plan::PayPerMinute);
    let (all_subscription, eval_sub) = uniform(&mut model, Plan::Subscription);

    // (m): each user on the plan that cost them less in (a) and (b), where both are known.
    // `evaluate` made sure each user's cost is representable.
    let user_cost = |eval: &Option<Evaluation>, u: usize| {
        eval.as_ref()
            .and_then(|e| add(e.users[u].0, e.users[u].1).ok())
    };
    let mixed: Vec<Plan> = (0..n)
        .map(|u| {
            let ppm = user_cost(&eval_ppm, u).or_else(|| {
                model
                    .feasible(u, Plan::PayPerMinute)
                    .then_some(Decimal::MAX)
            });
            let sub = user_cost(&eval_sub, u).or_else(|| {
                model
                    .feasible(u, Plan::Subscription)
                    .then_some(Decimal::MAX)
            });
            match (ppm, sub) {
                (Some(p), Some(s)) if s < p => Plan::Subscription,
                (None, Some(_)) => Plan::Subscription,
                _ => Plan::PayPerMinute,
            }
        })
        .collect();
    let mut best: Option<(Vec<Plan>, Evaluation)> = None;
    for plans in [
        vec![Plan::PayPerMinute; n],
        vec![Plan::Subscription; n],
        mixed,
    ] {
        if let Some(eval) = model.evaluate(&plans)
            && best.as_ref().is_none_or(|(_, b)| eval.total < b.total)
        {
            best = Some((plans, eval));
        }
    }
    let search = match best.as_mut() {
        Some((plans, eval)) => search_cheapest(&mut model, plans, eval),
        None => Search::Exhaustive,
    };
    let cheapest = match &best {
        Some((plans, eval)) => cost_of(plans, eval),
        None => {
            let reason = all_subscription
                .unavailable
                .clone()
                .or_else(|| all_ppm.unavailable.clone())
                .unwrap_or((Reason::InvalidRecord, "no plan rates every call".into()));
            ScenarioCost::unavailable(reason.0, reason.1)
        }
    };

    let users: Vec<UserAdvice> = advised
        .iter()
        .enumerate()
        .map(|(u, key)| {
            let user = tenant
                .user(key)
                .expect("advised users are in the directory");
            let current = [Sku::Subscription, Sku::PayPerMinute]
                .into_iter()
                .find(|s| user.licenses.contains(s));
            let recommended = best.as_ref().map(|(plans, _)| plans[u]);
            UserAdvice {
                upn: user.upn.display.clone(),
                display_name: user.display_name.clone(),
                current,
                recommended,
                credits_license: recommended == Some(Plan::Subscription)
                    && best.as_ref().is_some_and(|(_, e)| e.users[u].2),
                calls: per_user[u].0,
                minutes: per_user[u].1,
                actual_usage_cost: per_user[u].2,
                cost_ppm: user_cost(&eval_ppm, u),
                cost_subscription: user_cost(&eval_sub, u),
                cost_recommended: best
                    .as_ref()
                    .and_then(|(_, e)| add(e.users[u].0, e.users[u].1).ok()),
            }
        })
        .collect();

    let mut counted: Vec<Sku> = Vec::new();
    for scenario in [&actual, &all_ppm, &all_subscription, &cheapest] {
        for (sku, months) in &scenario.license_months {
            if *months > 0 && !counted.contains(sku) {
                counted.push(*sku);
            }
        }
    }
    let mut missing_prices: Vec<Sku> = counted
        .into_iter()
        .filter(|s| input.prices.get(*s).is_none())
        .collect();
    missing_prices.sort();

    let saving = if cheapest.is_available() {
        sub(actual.total, cheapest.total)?
    } else {
        Decimal::ZERO
    };
    Ok(Advice {
        currency,
        period: input.period,
        actual,
        all_ppm,
        all_subscription,
        cheapest,
        saving,
        users,
        missing_prices,
        calls: calls.len() as u64,
        unrated_calls: unrated,
        search,
    })
}
