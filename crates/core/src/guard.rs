//! The toll-fraud guard (C43 to C46): checks each dial-out at `authorize` (after the dial-out
//! policy and eligibility, before credit) and again at `extend`, against the operator's list
//! of high-risk destinations and the tenant's own recent activity: live calls, attempts a
//! minute, money exposed in the last hour and day against the tenant's usual level for that
//! hour of the week, countries it has not called, short test calls. A guard that `monitor`s,
//! or is still learning, never refuses: it says what it would have refused (C46).
//!
//! Pure and deterministic: the request's instant is the clock; every check is a constant
//! number of steps; a tenant's counters have a fixed size plus one entry per live dial-out,
//! active organizer and conference, and country (module `state`; the store keeps them as
//! bytes, `minutely_store::guard_image`).

pub mod limits;
pub mod list;
pub mod replay;
mod rules;
pub mod state;

use crate::catalogue::{RateEntry, billable_seconds};
use crate::digest;
use crate::directory::{Sku, Tenant};
use crate::ledger::Event;
use crate::numbers::Country;
use crate::rating::{Assessment, CallRecord, Category};
use crate::reason::Reason;
use jiff::Timestamp;
use jiff::tz::TimeZone;
pub use limits::LimitValue;
pub use list::{RiskAction, RiskEntry, RiskList};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
pub use state::GuardState;
use state::{DAY_BUCKET_S, HOUR_BUCKET_S, LiveDialOut, NIGHT_BUCKET_S, OrganizerState};
use std::sync::Arc;

/// What a tenant's guard does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum GuardMode {
    /// Nothing is checked or counted (until the operator turns the guard on).
    #[default]
    Off,
    /// Everything is checked and counted; nothing is refused; findings are alerted (C46).
    Monitor,
    /// Findings refuse the call (C45).
    Enforce,
}

impl GuardMode {
    pub fn as_str(self) -> &'static str {
        match self {
            GuardMode::Off => "off",
            GuardMode::Monitor => "monitor",
            GuardMode::Enforce => "enforce",
        }
    }

    pub fn parse(text: &str) -> Option<GuardMode> {
        Some(match text {
            "off" => GuardMode::Off,
            "monitor" => GuardMode::Monitor,
            "enforce" => GuardMode::Enforce,
            _ => return None,
        })
    }
}

/// The operator's thresholds, the same for every tenant (a tenant's own settings may raise
/// the spending floors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardLimits {
    /// Live dial-outs at once, per organizer, per conference and per tenant.
    pub organizer_live: u16,
    pub conference_live: u16,
    pub tenant_live: u16,
    /// Call attempts in the last 60 s, per organizer and per tenant.
    pub organizer_per_minute: u32,
    pub tenant_per_minute: u32,
    /// Exposure (C44) at which the spending rule acts whatever the usual level, in the
    /// tenant's currency, per rolling hour and per rolling day: the floor, or so much per
    /// seat (user holding a conferencing license) when that is more.
    pub floor_hour: Decimal,
    pub floor_day: Decimal,
    pub seat_hour: Decimal,
    pub seat_day: Decimal,
    /// Warn and act at these percentages of the usual level (the floor at least).
    pub warn_percent: u32,
    pub act_percent: u32,
    /// A breach this far past the act threshold (percent of it) suspends the tenant's
    /// dial-out at once.
    pub critical_percent: u32,
    /// Rule 6: thresholds for non-domestic calls outside the tenant's business hours, in
    /// percent; and what such calls may spend together over a rolling day, in percent of the
    /// day's floor.
    pub off_hours_percent: u32,
    pub night_percent: u32,
    /// The learning period: until both have passed, the usual level is not trusted: the
    /// spending rule only alerts (at the floors) unless a breach is critical, and countries
    /// called are learned, not trialled.
    pub learning_days: u32,
    pub learning_dialouts: u32,
    /// Rule 7: a country not called for `known_country_days` is new; it gets
    /// `new_country_calls` first calls, each capped at `new_country_cap_s`, before it needs
    /// approval.
    pub new_country_rule: bool,
    pub known_country_days: i32,
    pub new_country_calls: u8,
    pub new_country_cap_s: u64,
    /// The test-call pattern: `test_calls` calls shorter than `test_call_s` to one
    /// non-domestic country, to at least two numbers, within `test_window_s`, block that
    /// country for the tenant for `test_block_s`.
    pub test_call_s: u64,
    pub test_calls: u8,
    pub test_window_s: i64,
    pub test_block_s: i64,
    /// The longest a premium or high-risk call may last.
    pub high_risk_cap_s: u64,
    /// Auto-recharges a day while an alert is open.
    pub recharges_while_alerted: u8,
    /// An alert stays open this long after its finding.
    pub alert_open_s: i64,
    /// Guard refusals of one organizer within `strike_window_s` that suspend its dial-out, and
    /// organizers suspended in a day that suspend the tenant's.
    pub strikes: u16,
    pub strike_window_s: i64,
    pub organizers_to_suspend_tenant: u8,
}

impl Default for GuardLimits {
    fn default() -> Self {
        GuardLimits {
            organizer_live: 50,
            conference_live: 60,
            tenant_live: 100,
            organizer_per_minute: 20,
            tenant_per_minute: 40,
            floor_hour: Decimal::from(20),
            floor_day: Decimal::from(60),
            seat_hour: Decimal::from(15),
            seat_day: Decimal::from(40),
            warn_percent: 200,
            act_percent: 400,
            critical_percent: 300,
            off_hours_percent: 50,
            night_percent: 5,
            learning_days: 14,
            learning_dialouts: 30,
            new_country_rule: true,
            known_country_days: 90,
            new_country_calls: 3,
            new_country_cap_s: 3600,
            test_call_s: 20,
            test_calls: 3,
            test_window_s: 1800,
            test_block_s: 86_400,
            high_risk_cap_s: 3600,
            recharges_while_alerted: 2,
            alert_open_s: 86_400,
            strikes: 3,
            strike_window_s: 86_400,
            organizers_to_suspend_tenant: 2,
        }
    }
}

/// The operator's part: thresholds and the high-risk list, shared by every tenant's guard.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OperatorGuard {
    /// The mode of every tenant without its own.
    pub default_mode: GuardMode,
    pub limits: GuardLimits,
    pub list: RiskList,
}

/// A tenant's business hours in its time zone: `[start_h, end_h)` on the weekdays of
/// `weekdays` (bit 0 Monday .. bit 6 Sunday).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BusinessHours {
    pub start_h: u8,
    pub end_h: u8,
    pub weekdays: u8,
}

impl Default for BusinessHours {
    fn default() -> Self {
        BusinessHours {
            start_h: 7,
            end_h: 20,
            weekdays: 0b001_1111,
        }
    }
}

/// A tenant's own settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantGuard {
    /// The tenant's mode (`None`: the operator's default).
    pub mode: Option<GuardMode>,
    /// Premium destinations are allowed (rule 2).
    pub premium_enabled: bool,
    pub business: BusinessHours,
    /// Prefixes (digits) the tenant may call whatever the list's `step_up` and `monitor`
    /// entries say, each until its expiry.
    pub allow: Vec<(String, Option<Timestamp>)>,
    /// Spending floors of this tenant (the operator's when `None`).
    pub floor_hour: Option<Decimal>,
    pub floor_day: Option<Decimal>,
    /// An override raising every spending threshold to this percentage until its expiry.
    pub raise: Option<(u32, Timestamp)>,
}

/// A destination's price at list rates (C44: the exposure counts calls the pool or the add-on
/// pays at this price too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListPrice {
    pub per_minute: Decimal,
    pub fee: Decimal,
    pub first_s: u32,
    pub increment_s: u32,
}

impl ListPrice {
    pub fn of(rate: &RateEntry) -> ListPrice {
        ListPrice {
            per_minute: rate.rate_per_minute,
            fee: rate.connection_fee,
            first_s: rate.first_block_s,
            increment_s: rate.increment_s,
        }
    }

    /// The price of `seconds` in ten-thousandths, rounded up (saturating).
    pub fn cost_e4(&self, seconds: u64) -> i64 {
        if seconds == 0 {
            return 0;
        }
        let billable = Decimal::from(billable_seconds(seconds, self.first_s, self.increment_s));
        let cost = self
            .per_minute
            .checked_mul(billable)
            .map(|u| u / Decimal::from(60))
            .and_then(|u| u.checked_add(self.fee))
            .and_then(|c| c.checked_mul(Decimal::from(10_000)));
        cost.and_then(|c| c.ceil().to_i64()).unwrap_or(i64::MAX)
    }
}

/// `amount` in ten-thousandths, rounded up (saturating).
pub fn to_e4(amount: Decimal) -> i64 {
    amount
        .checked_mul(Decimal::from(10_000))
        .and_then(|c| c.ceil().to_i64())
        .unwrap_or(i64::MAX)
}

/// One dial-out as the guard sees it.
#[derive(Debug, Clone)]
pub struct DialOut<'a> {
    pub call_id: &'a str,
    pub organizer: &'a str,
    pub conference: &'a str,
    /// The destination's digits (no `+`).
    pub digits: &'a str,
    pub country: Country,
    pub domestic: bool,
    pub premium: bool,
    pub price: ListPrice,
    pub at: Timestamp,
    /// The tenant's users holding a conferencing license (the spending floors scale with it).
    pub seats: u32,
}

/// A call that ended, for the test-call pattern.
struct ShortCall<'a> {
    country: Country,
    domestic: bool,
    digits: &'a str,
    organizer: &'a str,
    at_s: i64,
}

/// Something the tenant admin and the operator are told (the `fraud.*` events).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Alert {
    /// A rule found this call (`enforced`: it was refused or cut; otherwise only recorded).
    Finding {
        reason: Reason,
        enforced: bool,
        organizer: String,
        country: Country,
        /// The exposure of the rolling hour and day with this call, in the currency.
        hour: Decimal,
        day: Decimal,
    },
    /// A first call to a country the tenant has not called recently.
    NewCountry { country: Country, organizer: String },
    /// Dial-out suspended for one organizer (`Some`) or the whole tenant.
    Suspended {
        organizer: Option<String>,
        reason: Reason,
    },
}

/// The guard's answer for one call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    /// The refusal, when the guard enforces (the first of C45's order that applied).
    pub refuse: Option<Reason>,
    /// Every rule that applied, in C45's order, enforced or not.
    pub found: Vec<Reason>,
    /// The longest the call may last from its start, when a rule caps it.
    pub cap_s: Option<u64>,
    pub alerts: Vec<Alert>,
}

/// A tenant's guard: its settings and its counters.
#[derive(Debug, Clone)]
pub struct Guard {
    pub operator: Arc<OperatorGuard>,
    pub settings: TenantGuard,
    pub state: GuardState,
}

/// The operator part of a guard made by `Default` (shared: making one allocates nothing).
static DEFAULT_OPERATOR: std::sync::LazyLock<Arc<OperatorGuard>> =
    std::sync::LazyLock::new(Arc::default);

impl Default for Guard {
    fn default() -> Self {
        Guard {
            operator: Arc::clone(&DEFAULT_OPERATOR),
            settings: TenantGuard::default(),
            state: GuardState::default(),
        }
    }
}

/// The rules' order of C45.
const ORDER: [Reason; 9] = [
    Reason::FraudDestinationBlocked,
    Reason::FraudPremiumNotEnabled,
    Reason::FraudConcurrencyLimit,
    Reason::FraudCallRateLimit,
    Reason::FraudSpendLimit,
    Reason::FraudCountryNotApproved,
    Reason::FraudTestCallPattern,
    Reason::FraudDurationCap,
    Reason::FraudDialoutSuspended,
];

/// Findings of one check, before the mode decides what they do.
#[derive(Debug, Default)]
struct Findings {
    /// (reason, enforceable: false for a rule only monitoring now)
    found: Vec<(Reason, bool)>,
    cap_s: Option<u64>,
    critical: bool,
    alerts: Vec<Alert>,
}

impl Findings {
    fn add(&mut self, reason: Reason, enforceable: bool) {
        self.found.push((reason, enforceable));
    }

    fn cap(&mut self, seconds: u64) {
        self.cap_s = Some(self.cap_s.map_or(seconds, |c| c.min(seconds)));
    }
}

/// The organizer's key: a digest of its lower-case UPN.
fn key(text: &str) -> u64 {
    digest::of(&crate::directory::Upn::key_of(text)) as u64
}

fn seconds(at: Timestamp) -> i64 {
    at.as_second()
}

impl Guard {
    pub fn new(operator: Arc<OperatorGuard>, settings: TenantGuard) -> Guard {
        Guard {
            operator,
            settings,
            state: GuardState::default(),
        }
    }

    /// The tenant's mode: its own, or the operator's default.
    pub fn mode(&self) -> GuardMode {
        self.settings.mode.unwrap_or(self.operator.default_mode)
    }

    pub fn is_on(&self) -> bool {
        self.mode() != GuardMode::Off
    }

    /// Whether the tenant is still in its learning period at `at`.
    pub fn learning(&self, at: Timestamp) -> bool {
        let l = &self.operator.limits;
        let days = self
            .state
            .first_dialout_s
            .map_or(0, |first| (seconds(at) - first).max(0) / 86_400);
        days < i64::from(l.learning_days) || self.state.dialouts < l.learning_dialouts
    }

    /// What the mode makes of a check's findings: alerts for each, a refusal when enforced.
    fn verdict(&mut self, call: &DialOut<'_>, mut f: Findings, live: bool) -> Verdict {
        f.found
            .sort_by_key(|(r, _)| ORDER.iter().position(|o| o == r));
        f.found.dedup_by_key(|(r, _)| *r);
        let enforce = self.mode() == GuardMode::Enforce;
        let refuse = f
            .found
            .iter()
            .find(|(_, enforceable)| enforce && *enforceable)
            .map(|(r, _)| *r);
        let (hour, day) = self.exposure_e4();
        for (reason, enforceable) in &f.found {
            f.alerts.push(Alert::Finding {
                reason: *reason,
                enforced: enforce && *enforceable,
                organizer: call.organizer.to_string(),
                country: call.country,
                hour: from_e4(hour),
                day: from_e4(day),
            });
        }
        if !f.found.is_empty() {
            self.state.alert_until_s = Some(seconds(call.at) + self.operator.limits.alert_open_s);
        }
        if let Some(reason) = refuse.filter(|_| live) {
            self.strike(call, reason, f.critical, &mut f.alerts);
        }
        Verdict {
            refuse,
            found: f.found.iter().map(|(r, _)| *r).collect(),
            cap_s: if enforce { f.cap_s } else { None },
            alerts: f.alerts,
        }
    }

    /// The exposure of the rolling hour and day, live holds included (C44).
    pub fn exposure_e4(&self) -> (i64, i64) {
        let live = self.state.live_e4;
        (
            self.state.hour.total_e4().saturating_add(live),
            self.state.day.total_e4().saturating_add(live),
        )
    }

    /// A refusal counts against its organizer: enough of them suspend the organizer, enough
    /// suspended organizers (or a critical breach) the tenant.
    fn strike(
        &mut self,
        call: &DialOut<'_>,
        reason: Reason,
        critical: bool,
        alerts: &mut Vec<Alert>,
    ) {
        if reason == Reason::FraudDialoutSuspended {
            return;
        }
        let l = &self.operator.limits;
        let now = seconds(call.at);
        let o = self
            .state
            .organizers
            .entry(key(call.organizer))
            .or_default();
        if now - o.strikes_since_s > l.strike_window_s {
            o.strikes = 0;
            o.strikes_since_s = now;
        }
        o.strikes = o.strikes.saturating_add(1);
        let organizer_out = !o.suspended && (o.strikes >= l.strikes || critical);
        if organizer_out {
            o.suspended = true;
            alerts.push(Alert::Suspended {
                organizer: Some(call.organizer.to_string()),
                reason,
            });
            let day = now.div_euclid(86_400);
            let (d, n) = &mut self.state.organizers_suspended;
            if *d != day {
                (*d, *n) = (day, 0);
            }
            *n = n.saturating_add(1);
        }
        let tenant_out =
            critical || self.state.organizers_suspended.1 >= l.organizers_to_suspend_tenant;
        if tenant_out && !self.state.suspended && organizer_out | critical {
            self.state.suspended = true;
            alerts.push(Alert::Suspended {
                organizer: None,
                reason,
            });
        }
    }

    /// Lifts a suspension: the organizer's (`Some`) or the tenant's, which also lifts every
    /// organizer's. Whether anything was suspended.
    pub fn lift(&mut self, organizer: Option<&str>) -> bool {
        match organizer {
            Some(upn) => match self.state.organizers.get_mut(&key(upn)) {
                Some(o) if o.suspended => {
                    o.suspended = false;
                    o.strikes = 0;
                    true
                }
                _ => false,
            },
            None => {
                let any =
                    self.state.suspended || self.state.organizers.values().any(|o| o.suspended);
                self.state.suspended = false;
                self.state.organizers_suspended.1 = 0;
                for o in self.state.organizers.values_mut() {
                    o.suspended = false;
                    o.strikes = 0;
                }
                any
            }
        }
    }

    /// The tenant admin or operator approved calls to `country`.
    pub fn approve(&mut self, country: Country) {
        let c = self.state.countries.entry(country).or_default();
        c.approved = true;
        c.blocked_until_s = 0;
    }

    /// Whether an auto-recharge may be made at `at` (rule 10): none while suspended, a few a
    /// day while an alert is open.
    pub fn recharge_allowed(&self, at: Timestamp) -> bool {
        if self.mode() != GuardMode::Enforce {
            return true;
        }
        if self.state.suspended {
            return false;
        }
        let now = seconds(at);
        let alerted = self.state.alert_until_s.is_some_and(|until| now < until);
        let (day, made) = self.state.recharges;
        !alerted
            || day != now.div_euclid(86_400)
            || made < self.operator.limits.recharges_while_alerted
    }

    /// An auto-recharge was made at `at`.
    pub fn recharged(&mut self, at: Timestamp) {
        let day = seconds(at).div_euclid(86_400);
        let (d, n) = &mut self.state.recharges;
        if *d != day {
            (*d, *n) = (day, 0);
        }
        *n = n.saturating_add(1);
    }

    /// Whether the tenant's or this organizer's dial-out is suspended.
    pub fn suspended(&self, organizer: Option<&str>) -> bool {
        self.state.suspended
            || organizer.is_some_and(|u| {
                self.state
                    .organizers
                    .get(&key(u))
                    .is_some_and(|o| o.suspended)
            })
    }

    /// How many organizers have their dial-out suspended (known only by digest).
    pub fn organizers_suspended(&self) -> usize {
        self.state
            .organizers
            .values()
            .filter(|o| o.suspended)
            .count()
    }

    fn organizer(&mut self, upn: &str) -> &mut OrganizerState {
        self.state.organizers.entry(key(upn)).or_default()
    }

    /// Moves the rings to `at`, folding each finished hour into the usual levels.
    fn roll(&mut self, at: Timestamp, tz: &TimeZone) {
        let now = seconds(at);
        let hour_bucket = now.div_euclid(HOUR_BUCKET_S);
        let day_bucket = now.div_euclid(DAY_BUCKET_S);
        if day_bucket > self.state.day.newest() {
            let baseline = &mut self.state.baseline;
            let started = self.state.first_dialout_s;
            self.state.day.roll(day_bucket, |bucket, spent| {
                // Hours before the first dial-out are not part of the tenant's history.
                if started.is_some_and(|s| bucket * DAY_BUCKET_S >= s - DAY_BUCKET_S) {
                    baseline.fold(hour_of_week(bucket * DAY_BUCKET_S, tz), spent);
                }
            });
        }
        if hour_bucket > self.state.hour.newest() {
            self.state.prune(now);
        }
        self.state.hour.roll(hour_bucket, |_, _| {});
        self.state
            .night
            .roll(now.div_euclid(NIGHT_BUCKET_S), |_, _| {});
    }

    /// Money charged at `at` (list price), counted in the rolling hour and day (and night,
    /// for a non-domestic call placed outside business hours).
    fn spend(&mut self, at: Timestamp, amount_e4: i64, night: bool) {
        let now = seconds(at);
        self.state
            .hour
            .add(now.div_euclid(HOUR_BUCKET_S), amount_e4);
        self.state.day.add(now.div_euclid(DAY_BUCKET_S), amount_e4);
        if night {
            self.state
                .night
                .add(now.div_euclid(NIGHT_BUCKET_S), amount_e4);
        }
    }

    /// C43: a dial-out about to connect, to be granted `window_s` first. Counts the attempt.
    pub fn authorize(&mut self, call: &DialOut<'_>, window_s: u64, tz: &TimeZone) -> Verdict {
        if !self.is_on() {
            return Verdict::default();
        }
        let f = self.entry_findings(call, window_s, tz);
        self.verdict(call, f, true)
    }

    /// The rules of a new call, its attempt counted.
    fn entry_findings(&mut self, call: &DialOut<'_>, window_s: u64, tz: &TimeZone) -> Findings {
        self.roll(call.at, tz);
        let mut f = Findings::default();
        self.check_entry(call, window_s, tz, &mut f);
        self.count_attempt(call);
        f
    }

    /// The call was granted `granted_s` (the guard's cap already applied).
    pub fn granted(
        &mut self,
        call: &DialOut<'_>,
        granted_s: u64,
        cap_s: Option<u64>,
        tz: &TimeZone,
    ) {
        if !self.is_on() {
            return;
        }
        let held_e4 = call.price.cost_e4(granted_s);
        let night = self.is_night(call, tz);
        let entry = LiveDialOut {
            organizer: key(call.organizer),
            conference: key(call.conference),
            country: call.country,
            held_e4,
            cap_s,
            price: call.price,
            domestic: call.domestic,
            night,
        };
        if let Some(old) = self.state.live.insert(call.call_id.to_string(), entry) {
            self.state.live_e4 = self.state.live_e4.saturating_sub(old.held_e4);
            if old.night {
                self.state.night_live_e4 = self.state.night_live_e4.saturating_sub(old.held_e4);
            }
        } else {
            self.organizer(call.organizer).live += 1;
            *self.state.conferences.entry(entry.conference).or_default() += 1;
        }
        self.state.live_e4 = self.state.live_e4.saturating_add(held_e4);
        if night {
            self.state.night_live_e4 = self.state.night_live_e4.saturating_add(held_e4);
        }
        if self.state.first_dialout_s.is_none() {
            self.state.first_dialout_s = Some(seconds(call.at));
        }
        self.state.dialouts = self.state.dialouts.saturating_add(1);
        let known = self.known(call.country, call.at) || self.learning(call.at);
        let c = self.state.countries.entry(call.country).or_default();
        if known || call.domestic {
            c.last_known_day = Some(day_of(call.at));
        }
    }

    /// C43 at `extend`: may live call `call_id`, granted `granted_s`, grow to `next_s`? The
    /// seconds it may grow to, or the refusal (the call then ends at its current window).
    pub fn extend(
        &mut self,
        call: &DialOut<'_>,
        granted_s: u64,
        next_s: u64,
        tz: &TimeZone,
    ) -> Verdict {
        let Some(live) = self.state.live.get(call.call_id).copied() else {
            return Verdict::default();
        };
        if !self.is_on() {
            return Verdict::default();
        }
        self.roll(call.at, tz);
        let mut f = Findings::default();
        self.check_live(call, &live, granted_s, next_s, tz, &mut f);
        self.verdict(call, f, true)
    }

    /// The live call `call_id` now holds `granted_s` (an extension).
    pub fn regranted(&mut self, call_id: &str, granted_s: u64) {
        if let Some(live) = self.state.live.get_mut(call_id) {
            let held_e4 = live.price.cost_e4(granted_s);
            let change = |total: i64| total.saturating_sub(live.held_e4).saturating_add(held_e4);
            self.state.live_e4 = change(self.state.live_e4);
            if live.night {
                self.state.night_live_e4 = change(self.state.night_live_e4);
            }
            live.held_e4 = held_e4;
        }
    }

    /// The live call `call_id` (of `organizer`, to `digits`) ended after `duration_s` at `end`:
    /// its hold becomes money spent at list price, and a short call counts towards the
    /// test-call pattern, whose alert this returns when the call completed it.
    pub fn ended(
        &mut self,
        call_id: &str,
        organizer: &str,
        digits: &str,
        duration_s: u64,
        end: Timestamp,
        tz: &TimeZone,
    ) -> Option<Alert> {
        if !self.is_on() {
            return None;
        }
        let live = self.release(call_id)?;
        self.roll(end, tz);
        self.spend(end, live.price.cost_e4(duration_s), live.night);
        let call = ShortCall {
            country: live.country,
            domestic: live.domestic,
            digits,
            organizer,
            at_s: seconds(end),
        };
        self.short_call(&call, duration_s)
    }

    /// The live call `call_id` is gone without an end (lapsed or dropped): what it held
    /// returns.
    pub fn release(&mut self, call_id: &str) -> Option<LiveDialOut> {
        let live = self.state.live.remove(call_id)?;
        self.state.live_e4 = self.state.live_e4.saturating_sub(live.held_e4);
        if live.night {
            self.state.night_live_e4 = self.state.night_live_e4.saturating_sub(live.held_e4);
        }
        if let Some(o) = self.state.organizers.get_mut(&live.organizer) {
            o.live = o.live.saturating_sub(1);
        }
        if let Some(n) = self.state.conferences.get_mut(&live.conference) {
            *n = n.saturating_sub(1);
        }
        Some(live)
    }

    /// C43 in bulk and offline processing: the record of a call that already happened is
    /// checked and counted as at its authorization, its whole cost spent at its start (as a
    /// bulk charge is dated, C28), and only flagged.
    pub fn record(&mut self, call: &DialOut<'_>, duration_s: u64, tz: &TimeZone) -> Verdict {
        if !self.is_on() {
            return Verdict::default();
        }
        let f = self.entry_findings(call, duration_s, tz);
        // Only flagged (C43): a call that already happened suspends nobody.
        let mut verdict = self.verdict(call, f, false);
        verdict.refuse = None;
        verdict.cap_s = None;
        self.granted(call, 0, None, tz);
        let night = self.release(call.call_id).is_some_and(|l| l.night);
        // Dated at its start, as a bulk charge is (C28): records come in the order of their
        // starts, and the guard's clock never runs ahead to an end that a later record's start
        // precedes (which would drop the counters of the minutes between).
        self.spend(call.at, call.price.cost_e4(duration_s), night);
        let short = ShortCall {
            country: call.country,
            domestic: call.domestic,
            digits: call.digits,
            organizer: call.organizer,
            at_s: seconds(call.at),
        };
        verdict.alerts.extend(self.short_call(&short, duration_s));
        verdict
    }
}

/// The digits of a dialled number (every character but the digits left out).
pub fn digits_of(number: &str) -> String {
    number.chars().filter(char::is_ascii_digit).collect()
}

/// The guard's view of an assessed call at `at`: a dial-out with a rate (C43; a dial-in, or a
/// dial-out the add-on pays without a rate, is not the guard's). `digits`: `digits_of` the
/// destination.
pub fn dial_out<'a>(
    tenant: &Tenant,
    call: &'a CallRecord,
    a: &Assessment<'a>,
    digits: &'a str,
    at: Timestamp,
) -> Option<DialOut<'a>> {
    let rate = a.rate.filter(|_| a.category == Category::DialOut)?;
    Some(DialOut {
        call_id: &call.call_id,
        organizer: &a.organizer.upn.display,
        conference: &call.conference_id,
        digits,
        country: a.other_country.unwrap_or(rate.country),
        domestic: a.domestic.unwrap_or(false),
        premium: rate.premium,
        price: ListPrice::of(rate),
        at,
        seats: tenant
            .assigned(Sku::PayPerMinute)
            .saturating_add(tenant.assigned(Sku::Subscription)),
    })
}

impl Alert {
    /// The `fraud.*` event of this alert, raised at `at`.
    pub fn event(self, at: Timestamp) -> Event {
        match self {
            Alert::Finding {
                reason,
                enforced,
                organizer,
                country,
                hour,
                day,
            } => Event::FraudAlert {
                at,
                reason,
                enforced,
                organizer,
                country,
                hour,
                day,
            },
            Alert::NewCountry { country, organizer } => Event::FraudNewCountry {
                at,
                country,
                organizer,
            },
            Alert::Suspended { organizer, reason } => Event::FraudSuspended {
                at,
                organizer,
                reason,
            },
        }
    }
}

/// The hour of the week (0 = Monday 00:00) of the instant `at_s` in `tz`.
fn hour_of_week(at_s: i64, tz: &TimeZone) -> usize {
    let Ok(at) = Timestamp::from_second(at_s) else {
        return 0;
    };
    let local = tz.to_datetime(at);
    let day = usize::from(local.weekday().to_monday_zero_offset().unsigned_abs());
    day * 24 + usize::from(local.hour().unsigned_abs())
}

fn day_of(at: Timestamp) -> i32 {
    i32::try_from(seconds(at).div_euclid(86_400)).unwrap_or(i32::MAX)
}

fn from_e4(amount_e4: i64) -> Decimal {
    Decimal::new(amount_e4, 4)
}

#[cfg(test)]
mod tests;
