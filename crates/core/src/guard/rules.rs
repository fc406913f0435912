//! The guard's rules, each a few constant-time steps over the tenant's counters.

use super::{
    Alert, DialOut, Findings, Guard, GuardMode, RiskAction, ShortCall, day_of, hour_of_week, key,
    seconds,
};
use crate::reason::Reason;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use rust_decimal::Decimal;

/// Spending thresholds in ten-thousandths: (warn, act) per hour and per day.
struct Thresholds {
    hour: (i64, i64),
    day: (i64, i64),
    /// The day's floor (seat-scaled, before any scaling).
    floor_day: i64,
}

fn percent(amount_e4: i64, percent: u32) -> i64 {
    amount_e4.saturating_mul(i64::from(percent)) / 100
}

impl Guard {
    /// The rules of a new call (C43, rules 1 to 9 of the guard).
    pub(super) fn check_entry(
        &mut self,
        call: &DialOut<'_>,
        window_s: u64,
        tz: &TimeZone,
        f: &mut Findings,
    ) {
        self.check_destination(call, f);
        let l = &self.operator.limits;
        if call.premium && !self.settings.premium_enabled {
            f.add(Reason::FraudPremiumNotEnabled, true);
        }
        if call.premium {
            f.cap(l.high_risk_cap_s);
        }
        self.check_concurrency(call, f);
        self.check_rate(call, f);
        let added = call
            .price
            .cost_e4(f.cap_s.map_or(window_s, |c| c.min(window_s)));
        self.check_spend(call, added, tz, f);
        self.check_country(call, f);
        self.check_blocked_country(call, f);
        if self.suspended(Some(call.organizer)) {
            f.add(Reason::FraudDialoutSuspended, true);
        }
    }

    /// The rules of a live call asking for more (C43 at `extend`).
    pub(super) fn check_live(
        &mut self,
        call: &DialOut<'_>,
        live: &super::state::LiveDialOut,
        granted_s: u64,
        next_s: u64,
        tz: &TimeZone,
        f: &mut Findings,
    ) {
        self.check_destination(call, f);
        if let Some(cap) = live.cap_s {
            if granted_s >= cap {
                f.add(Reason::FraudDurationCap, true);
            }
            f.cap(cap);
        }
        let target = f.cap_s.map_or(next_s, |c| c.min(next_s).max(granted_s));
        let added = live.price.cost_e4(target).saturating_sub(live.held_e4);
        self.check_spend(call, added, tz, f);
        self.check_blocked_country(call, f);
        if self.suspended(Some(call.organizer)) {
            f.add(Reason::FraudDialoutSuspended, true);
        }
    }

    /// Rule 1: the operator's list; a tenant's allow-list prefix lifts `step_up` and `monitor`.
    fn check_destination(&self, call: &DialOut<'_>, f: &mut Findings) {
        let Some(entry) = self.operator.list.lookup(call.digits, call.at) else {
            return;
        };
        let tenant_allows = self.settings.allow.iter().any(|(prefix, until)| {
            call.digits.starts_with(prefix.as_str()) && until.is_none_or(|u| call.at < u)
        });
        let cap = self.operator.limits.high_risk_cap_s;
        match entry.action {
            RiskAction::Allow => {}
            RiskAction::Block => f.add(Reason::FraudDestinationBlocked, true),
            RiskAction::StepUp if tenant_allows => f.cap(cap),
            RiskAction::StepUp => f.add(Reason::FraudDestinationBlocked, true),
            RiskAction::Monitor if tenant_allows => {}
            RiskAction::Monitor => {
                f.cap(cap);
                f.add(Reason::FraudDestinationBlocked, false);
            }
        }
    }

    /// Rule 3: live dial-outs per organizer, conference and tenant.
    fn check_concurrency(&self, call: &DialOut<'_>, f: &mut Findings) {
        let l = &self.operator.limits;
        let organizer = self
            .state
            .organizers
            .get(&key(call.organizer))
            .map_or(0, |o| o.live);
        let conference = self
            .state
            .conferences
            .get(&key(call.conference))
            .copied()
            .unwrap_or(0);
        let tenant = self.state.live.len();
        if organizer >= l.organizer_live
            || conference >= l.conference_live
            || tenant >= usize::from(l.tenant_live)
        {
            f.add(Reason::FraudConcurrencyLimit, true);
        }
    }

    /// Rule 4: attempts in the last minute per organizer and per tenant (this one not counted).
    fn check_rate(&mut self, call: &DialOut<'_>, f: &mut Findings) {
        let now = seconds(call.at);
        let (per_organizer, per_tenant) = (
            self.operator.limits.organizer_per_minute,
            self.operator.limits.tenant_per_minute,
        );
        let tenant = self.state.attempts.rate(now);
        let organizer = self.organizer(call.organizer).attempts.rate(now);
        if organizer >= per_organizer || tenant >= per_tenant {
            f.add(Reason::FraudCallRateLimit, true);
        }
    }

    pub(super) fn count_attempt(&mut self, call: &DialOut<'_>) {
        let now = seconds(call.at);
        self.state.attempts.count(now);
        self.organizer(call.organizer).attempts.count(now);
    }

    /// Rules 5 and 6: the exposure with `added_e4` more against the thresholds of this hour.
    fn check_spend(&mut self, call: &DialOut<'_>, added_e4: i64, tz: &TimeZone, f: &mut Findings) {
        let t = self.thresholds(call, tz);
        if self.is_night(call, tz) {
            self.check_night(call, added_e4, t.floor_day, f);
        }
        let (hour, day) = self.exposure_e4();
        let (hour, day) = (hour.saturating_add(added_e4), day.saturating_add(added_e4));
        let critical = self.operator.limits.critical_percent;
        if hour > t.hour.1 || day > t.day.1 {
            let is_critical =
                hour > percent(t.hour.1, critical) || day > percent(t.day.1, critical);
            // While learning, only a critical breach acts (C46: baseline rules only monitor).
            f.add(
                Reason::FraudSpendLimit,
                is_critical || !self.learning(call.at),
            );
            f.critical |= is_critical;
        } else if self.operator.limits.warn_percent > 0 && (hour > t.hour.0 || day > t.day.0) {
            f.alerts.push(Alert::Finding {
                reason: Reason::FraudSpendLimit,
                enforced: false,
                organizer: call.organizer.to_string(),
                country: call.country,
                hour: super::from_e4(hour),
                day: super::from_e4(day),
            });
        }
    }

    /// The warn and act thresholds at this call's instant: the usual level of this hour of the
    /// week times the percentages, the floors at least (the floors alone while learning), less
    /// outside business hours for a non-domestic call, more under an override.
    fn thresholds(&self, call: &DialOut<'_>, tz: &TimeZone) -> Thresholds {
        let l = &self.operator.limits;
        let seats = Decimal::from(call.seats);
        let floor = |own: Option<Decimal>, floor: Decimal, seat: Decimal| {
            let by_seats = seat.checked_mul(seats).unwrap_or(Decimal::MAX);
            super::to_e4(own.unwrap_or(floor.max(by_seats)))
        };
        let floor_hour = floor(self.settings.floor_hour, l.floor_hour, l.seat_hour);
        let floor_day = floor(self.settings.floor_day, l.floor_day, l.seat_day);
        let slot = hour_of_week(seconds(call.at), tz);
        let (usual_hour, usual_day) = if self.learning(call.at) {
            (0, 0)
        } else {
            (
                self.state.baseline.hour_e4(slot),
                self.state.baseline.day_e4(slot),
            )
        };
        let level = |usual: i64, floor: i64, pct: u32| percent(usual, pct).max(floor);
        let mut scale = 100u32;
        if !call.domestic && !self.business_hours(call.at, tz) {
            scale = l.off_hours_percent;
        }
        if let Some((raise, until)) = self.settings.raise
            && call.at < until
        {
            scale = scale.saturating_mul(raise) / 100;
        }
        let warn_floor = |floor: i64| percent(floor, l.warn_percent * 100 / l.act_percent.max(1));
        Thresholds {
            hour: (
                percent(
                    level(usual_hour, warn_floor(floor_hour), l.warn_percent),
                    scale,
                ),
                percent(level(usual_hour, floor_hour, l.act_percent), scale),
            ),
            day: (
                percent(
                    level(usual_day, warn_floor(floor_day), l.warn_percent),
                    scale,
                ),
                percent(level(usual_day, floor_day, l.act_percent), scale),
            ),
            floor_day,
        }
    }

    /// Rule 6: whether `call` is non-domestic and placed outside business hours.
    pub(super) fn is_night(&self, call: &DialOut<'_>, tz: &TimeZone) -> bool {
        !call.domestic && !self.business_hours(call.at, tz)
    }

    /// Rule 6's own total: what non-domestic calls placed outside business hours spent and
    /// hold over the last day, against a tenth (`night_percent`) of the day's floor.
    fn check_night(&self, call: &DialOut<'_>, added_e4: i64, floor_day: i64, f: &mut Findings) {
        let night = self
            .state
            .night
            .total_e4()
            .saturating_add(self.state.night_live_e4);
        let limit = percent(floor_day, self.operator.limits.night_percent);
        if night.saturating_add(added_e4) > limit {
            let critical = night > percent(limit, self.operator.limits.critical_percent);
            f.add(Reason::FraudSpendLimit, critical || !self.learning(call.at));
            f.critical |= critical;
        }
    }

    fn business_hours(&self, at: Timestamp, tz: &TimeZone) -> bool {
        let b = self.settings.business;
        let local = tz.to_datetime(at);
        let day = local.weekday().to_monday_zero_offset();
        let hour = local.hour();
        b.weekdays & (1 << day) != 0
            && (i16::from(b.start_h)..i16::from(b.end_h)).contains(&i16::from(hour))
    }

    /// Whether `country` was called in the last `known_country_days` or was approved.
    pub(super) fn known(&self, country: crate::numbers::Country, at: Timestamp) -> bool {
        self.state.countries.get(&country).is_some_and(|c| {
            c.approved
                || c.last_known_day
                    .is_some_and(|d| day_of(at) - d <= self.operator.limits.known_country_days)
        })
    }

    /// Rule 7: a country the tenant has not called recently: a few first calls, capped and
    /// alerted, then it needs approval (only alerted while learning).
    fn check_country(&mut self, call: &DialOut<'_>, f: &mut Findings) {
        if call.domestic
            || !self.operator.limits.new_country_rule
            || self.known(call.country, call.at)
        {
            return;
        }
        let learning = self.learning(call.at);
        let l = &self.operator.limits;
        let (trials, cap) = (l.new_country_calls, l.new_country_cap_s);
        // Alerted once: while learning, at the first attempt to a country never seen or not
        // called for `known_country_days` (a refused attempt, which teaches nothing, does not
        // alert again); after, at the first trial.
        let first = self
            .state
            .countries
            .get(&call.country)
            .is_none_or(|c| c.last_known_day.is_some());
        let c = self.state.countries.entry(call.country).or_default();
        let alert = Alert::NewCountry {
            country: call.country,
            organizer: call.organizer.to_string(),
        };
        if learning {
            if first {
                f.alerts.push(alert);
            }
        } else if c.trial_calls < trials {
            if c.trial_calls == 0 {
                f.alerts.push(alert);
            }
            c.trial_calls += 1;
            f.cap(cap);
        } else {
            f.add(Reason::FraudCountryNotApproved, true);
        }
    }

    /// Rule 8's block of a country after the test-call pattern.
    fn check_blocked_country(&self, call: &DialOut<'_>, f: &mut Findings) {
        let now = i64::from(super::state::seconds_u32(seconds(call.at)));
        let blocked = self
            .state
            .countries
            .get(&call.country)
            .is_some_and(|c| now < i64::from(c.blocked_until_s));
        if blocked {
            f.add(Reason::FraudTestCallPattern, true);
        }
    }

    /// Rule 8: a short call to a non-domestic country; the pattern blocks the country.
    pub(super) fn short_call(&mut self, call: &ShortCall<'_>, duration_s: u64) -> Option<Alert> {
        let l = &self.operator.limits;
        // Test calls go to a country the tenant does not call: one it calls is left to the
        // spending rules (its short calls are wrong numbers and voicemail).
        let known = self.known(
            call.country,
            Timestamp::from_second(call.at_s).unwrap_or_default(),
        );
        if call.domestic || known || duration_s == 0 || duration_s >= l.test_call_s {
            return None;
        }
        let (calls, window, block) = (usize::from(l.test_calls), l.test_window_s, l.test_block_s);
        let alert_open_s = l.alert_open_s;
        let now = call.at_s;
        let number = super::digest::of(call.digits) as u16;
        let c = self.state.countries.entry(call.country).or_default();
        c.short.push(now, number);
        let (recent, numbers) = c.short.within(now, window);
        if recent < calls || numbers < 2 {
            return None;
        }
        c.blocked_until_s = super::state::seconds_u32(now + block);
        c.short = Default::default();
        self.state.alert_until_s = Some(now + alert_open_s);
        Some(Alert::Finding {
            reason: Reason::FraudTestCallPattern,
            enforced: self.mode() == GuardMode::Enforce,
            organizer: call.organizer.to_string(),
            country: call.country,
            hour: Decimal::ZERO,
            day: Decimal::ZERO,
        })
    }
}
