//! The toll-fraud guard's simulation (`minutely-tools fraud-sim`): seeded, on a manual clock,
//! through the charging core's real call control and the sample rate card. Hundreds of tenants
//! make weeks of ordinary dial-outs in their own time zones, with legitimate surprises (an
//! all-hands meeting of 40 dial-outs in 5 minutes, a first call to a new country, growth), and
//! five attacks are injected in the last week. The same trace runs under four guards: none,
//! static lists only, one total-cost threshold a day, and the full guard; the report gives,
//! per attack, the calls and money until the first alert and the first block and the money
//! lost, and the false positives on legitimate attempts.

mod trace;

use anyhow::{Context, Result};
use jiff::Timestamp;
use minutely_core::control::{ControlPolicy, Decision, Extension};
use minutely_core::engine::{Outcome, TenantBook};
use minutely_core::guard::{GuardLimits, GuardMode, OperatorGuard, RiskList};
use minutely_core::ledger::Event;
use minutely_core::numbers::PlanCache;
use minutely_core::rating::{CallRecord, Rater};
use rust_decimal::Decimal;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;
pub use trace::{Attack, Planned, Trace};

/// Which guard a run has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    None,
    Lists,
    Threshold,
    Full,
}

impl Variant {
    pub const ALL: [Variant; 4] = [
        Variant::None,
        Variant::Lists,
        Variant::Threshold,
        Variant::Full,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Variant::None => "no guard",
            Variant::Lists => "static lists only",
            Variant::Threshold => "total-cost threshold",
            Variant::Full => "full guard",
        }
    }

    /// The operator settings of this variant (`list`: the high-risk list).
    fn operator(self, list: &RiskList) -> (GuardMode, OperatorGuard) {
        let off = GuardLimits {
            organizer_live: u16::MAX,
            conference_live: u16::MAX,
            tenant_live: u16::MAX,
            organizer_per_minute: u32::MAX,
            tenant_per_minute: u32::MAX,
            floor_hour: Decimal::from(1_000_000_000),
            floor_day: Decimal::from(1_000_000_000),
            act_percent: 0,
            warn_percent: 0,
            critical_percent: u32::MAX / 1000,
            off_hours_percent: 100,
            new_country_rule: false,
            seat_hour: Decimal::ZERO,
            seat_day: Decimal::ZERO,
            night_percent: u32::MAX,
            test_calls: u8::MAX,
            high_risk_cap_s: u64::MAX,
            strikes: u16::MAX,
            organizers_to_suspend_tenant: u8::MAX,
            ..GuardLimits::default()
        };
        match self {
            Variant::None => (GuardMode::Off, OperatorGuard::default()),
            Variant::Lists => (
                GuardMode::Enforce,
                OperatorGuard {
                    limits: off,
                    list: list.clone(),
                    ..OperatorGuard::default()
                },
            ),
            Variant::Threshold => (
                GuardMode::Enforce,
                OperatorGuard {
                    limits: GuardLimits {
                        floor_day: Decimal::from(THRESHOLD_DAY),
                        ..off
                    },
                    ..OperatorGuard::default()
                },
            ),
            Variant::Full => (
                GuardMode::Enforce,
                OperatorGuard {
                    list: list.clone(),
                    ..OperatorGuard::default()
                },
            ),
        }
    }
}

/// The one total a day of the threshold variant, in the card's currency.
pub const THRESHOLD_DAY: i64 = 400;

/// What happened to one attack under one guard.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttackOutcome {
    pub attempts: u64,
    pub connected: u64,
    pub lost: Decimal,
    /// Seconds from the attack's start to the first `fraud.*` event of its tenant, and the
    /// attempts and money by then.
    pub alert: Option<(i64, u64, Decimal)>,
    /// The same, to the first attack call the guard refused or cut.
    pub block: Option<(i64, u64, Decimal)>,
    /// The guard's refusals and cuts, by reason.
    pub reasons: Vec<(String, u64)>,
}

fn count(reasons: &mut Vec<(String, u64)>, code: &str) {
    match reasons.iter_mut().find(|(r, _)| r == code) {
        Some((_, n)) => *n += 1,
        None => reasons.push((code.to_string(), 1)),
    }
}

/// One run's figures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunReport {
    pub attacks: Vec<AttackOutcome>,
    pub legit_attempts: u64,
    /// Legitimate attempts refused, or legitimate calls cut, by a guard rule.
    pub false_positives: u64,
    pub false_positive_reasons: Vec<(String, u64)>,
    /// Legitimate attempts refused, or calls cut, on a tenant under attack after the attack
    /// began (the organizer or tenant rightly suspended, the spending rightly over).
    pub collateral: u64,
    /// Days on which a tenant not attacked had its dial-out suspended.
    pub suspended_tenant_days: u64,
    pub tenant_days: u64,
    /// A digest of every decision, in order.
    pub decisions: u128,
    /// The largest guard state of a tenant at the end (bytes, live calls aside).
    pub max_state_bytes: usize,
}

/// What the queue holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    Attempt(usize),
    Extend(usize),
    End(usize),
    Approve(usize, usize),
}

/// A run of the trace under one guard.
struct Run<'a> {
    trace: &'a Trace,
    books: Vec<TenantBook>,
    policy: ControlPolicy,
    queue: BinaryHeap<Reverse<(i64, u64, Step)>>,
    seq: u64,
    granted: Vec<u64>,
    report: RunReport,
    digest: minutely_core::digest::Digest,
    suspended_days: std::collections::BTreeSet<(usize, i64)>,
}

/// Runs `trace` under `variant`.
pub fn run(trace: &Trace, variant: Variant) -> RunReport {
    let (mode, operator) = variant.operator(&trace.list);
    let operator = Arc::new(operator);
    let mut books = trace.books.clone();
    for (t, book) in books.iter_mut().enumerate() {
        book.guard.operator = Arc::clone(&operator);
        book.guard.settings.mode = Some(mode);
        // Premium destinations need an opt-in only under the full guard (its rule 2); the
        // tenant attacked by test calls and premium calls has opted in.
        book.guard.settings.premium_enabled =
            variant != Variant::Full || trace.premium_tenants.contains(&t);
    }
    let mut run = Run {
        trace,
        books,
        policy: ControlPolicy::default(),
        queue: BinaryHeap::new(),
        seq: 0,
        granted: vec![0; trace.calls.len()],
        report: RunReport {
            attacks: vec![AttackOutcome::default(); trace.attacks.len()],
            tenant_days: (trace.books.len() as u64) * u64::from(trace.days),
            ..RunReport::default()
        },
        digest: Default::default(),
        suspended_days: Default::default(),
    };
    for (i, call) in trace.calls.iter().enumerate() {
        run.push(call.start_s, Step::Attempt(i));
    }
    let mut plan = PlanCache::new(1 << 16);
    while let Some(Reverse((at_s, _, step))) = run.queue.pop() {
        let mut rater = Rater {
            countries: &trace.countries,
            card: &trace.card,
            plan: std::mem::replace(&mut plan, PlanCache::new(0)),
        };
        run.step(&mut rater, at_s, step);
        plan = rater.plan;
    }
    run.finish()
}

fn instant(at_s: i64) -> Timestamp {
    Timestamp::from_second(at_s).expect("a simulated instant")
}

impl Run<'_> {
    fn push(&mut self, at_s: i64, step: Step) {
        self.seq += 1;
        self.queue.push(Reverse((at_s, self.seq, step)));
    }

    fn step(&mut self, rater: &mut Rater<'_>, at_s: i64, step: Step) {
        match step {
            Step::Attempt(i) => self.attempt(rater, at_s, i),
            Step::Extend(i) => self.extend(rater, at_s, i),
            Step::End(i) => self.end(rater, at_s, i),
            Step::Approve(tenant, country) => {
                let country = self.trace.country_list[country];
                self.books[tenant].guard.approve(country);
            }
        }
    }

    fn record(&self, i: usize, at_s: i64) -> CallRecord {
        let p = &self.trace.calls[i];
        let at = instant(at_s);
        CallRecord {
            call_id: format!("c{i}"),
            conference_id: p.conference.clone(),
            organizer: p.organizer.clone(),
            direction: minutely_core::rating::Direction::DialOut,
            service_number: String::new(),
            caller_number: String::new(),
            destination_number: p.destination.clone(),
            start: at,
            end: at,
        }
    }

    fn attempt(&mut self, rater: &mut Rater<'_>, at_s: i64, i: usize) {
        let p = &self.trace.calls[i];
        let (tenant, attack) = (p.tenant, p.attack);
        let call = self.record(i, at_s);
        let (decision, effects, _) =
            self.books[tenant].authorize(rater, &call, instant(at_s), &self.policy);
        self.events(tenant, at_s, &effects.events, i);
        match attack {
            Some(a) => self.report.attacks[a].attempts += 1,
            None => self.report.legit_attempts += 1,
        }
        match decision {
            Decision::Allow(grant) => {
                self.note(i, "allow");
                if let Some(a) = attack {
                    self.report.attacks[a].connected += 1;
                }
                let granted = grant.max_duration_s.unwrap_or(u64::MAX);
                self.granted[i] = granted;
                self.next(i, at_s, granted);
            }
            Decision::Deny(reason) => {
                self.note(i, reason.code());
                if reason.code().starts_with("fraud_") {
                    self.blocked(i, at_s, reason.code());
                }
            }
        }
    }

    /// Schedules the call's next step: its end, or an extension before its grant runs out.
    fn next(&mut self, i: usize, from_s: i64, granted: u64) {
        let p = &self.trace.calls[i];
        let start = p.start_s;
        if p.duration_s <= granted {
            self.push(start + p.duration_s as i64, Step::End(i));
        } else {
            let ask = (start + granted as i64 - 30).max(from_s + 1);
            self.push(ask, Step::Extend(i));
        }
    }

    fn extend(&mut self, rater: &mut Rater<'_>, at_s: i64, i: usize) {
        let tenant = self.trace.calls[i].tenant;
        let id = format!("c{i}");
        let known = Some(self.granted[i]);
        let (result, effects, _) =
            self.books[tenant].extend(rater, &id, known, instant(at_s), &self.policy);
        self.events(tenant, at_s, &effects.events, i);
        let start = self.trace.calls[i].start_s;
        match result {
            Ok(Extension::Extended(g)) => {
                let granted = g.max_duration_s.unwrap_or(u64::MAX);
                self.granted[i] = granted;
                self.next(i, at_s, granted);
            }
            Ok(Extension::Stopped(g, reason)) => {
                self.note(i, reason.code());
                self.blocked(i, at_s, reason.code());
                let end = start + g.max_duration_s.unwrap_or(0) as i64;
                self.push(end.max(at_s), Step::End(i));
            }
            Ok(Extension::Exhausted(g)) => {
                let end = start + g.max_duration_s.unwrap_or(0) as i64;
                self.push(end.max(at_s), Step::End(i));
            }
            Err(e) => panic!("extend c{i}: {e:?}"),
        }
    }

    fn end(&mut self, rater: &mut Rater<'_>, at_s: i64, i: usize) {
        let p = &self.trace.calls[i];
        let (tenant, attack) = (p.tenant, p.attack);
        let id = format!("c{i}");
        let (result, _) = self.books[tenant].end(rater, &id, instant(at_s), None, instant(at_s));
        let processed = result.unwrap_or_else(|e| panic!("end c{i}: {e:?}"));
        self.events(tenant, at_s, &processed.effects.events, i);
        if let (Some(a), Outcome::Charged(charge)) = (attack, &processed.outcome) {
            self.report.attacks[a].lost += charge.amount;
        }
    }

    /// A guard refusal or cut of call `i`.
    fn blocked(&mut self, i: usize, at_s: i64, code: &str) {
        let p = &self.trace.calls[i];
        match p.attack {
            Some(a) => {
                let start = self.trace.attacks[a].start_s;
                let o = &mut self.report.attacks[a];
                if o.block.is_none() {
                    o.block = Some((at_s - start, o.attempts, o.lost));
                }
                count(&mut o.reasons, code);
            }
            None if self.under_attack(p.tenant, at_s) => self.report.collateral += 1,
            None => {
                self.report.false_positives += 1;
                count(&mut self.report.false_positive_reasons, code);
            }
        }
    }

    /// Whether `tenant` is attacked and the attack began by `at_s`.
    fn under_attack(&self, tenant: usize, at_s: i64) -> bool {
        self.trace
            .attacks
            .iter()
            .any(|a| a.tenant == tenant && at_s >= a.start_s)
    }

    /// The guard's events for `tenant` at `at_s`, raised by call `i`.
    fn events(&mut self, tenant: usize, at_s: i64, events: &[Event], i: usize) {
        for event in events {
            if !event.kind().starts_with("fraud.") {
                continue;
            }
            self.note(i, event.kind());
            if let Some(a) = self
                .trace
                .attacks
                .iter()
                .position(|a| a.tenant == tenant && at_s >= a.start_s)
            {
                let start = self.trace.attacks[a].start_s;
                let o = &mut self.report.attacks[a];
                if o.alert.is_none() {
                    o.alert = Some((at_s - start, o.attempts, o.lost));
                }
            }
            match event {
                Event::FraudNewCountry { country, .. } if self.trace.calls[i].attack.is_none() => {
                    // The tenant admin approves a legitimate new country within the hour.
                    if let Some(c) = self.trace.country_list.iter().position(|x| x == country) {
                        self.push(at_s + 3600, Step::Approve(tenant, c));
                    }
                }
                Event::FraudSuspended {
                    organizer: None, ..
                } => {
                    self.suspended_days
                        .insert((tenant, at_s.div_euclid(86_400)));
                }
                _ => {}
            }
        }
    }

    fn note(&mut self, i: usize, what: &str) {
        self.digest.field(&(i as u64).to_le_bytes());
        self.digest.field(what.as_bytes());
    }

    fn finish(mut self) -> RunReport {
        let attacked: Vec<usize> = self.trace.attacks.iter().map(|a| a.tenant).collect();
        // A suspension lasts until lifted: count every day from its first to the end.
        let last_day = self.trace.end_s.div_euclid(86_400);
        let mut days = 0;
        let mut first: std::collections::BTreeMap<usize, i64> = Default::default();
        for (tenant, day) in &self.suspended_days {
            first.entry(*tenant).or_insert(*day);
        }
        for (tenant, day) in first {
            if !attacked.contains(&tenant) {
                days += (last_day - day + 1) as u64;
            }
        }
        self.report.suspended_tenant_days = days;
        self.report.decisions = self.digest.finish();
        self.report.max_state_bytes = self
            .books
            .iter()
            .map(|b| b.guard.state.size_bytes())
            .max()
            .unwrap_or(0);
        self.report
    }
}

/// Writes the report of every variant over `trace` as a Markdown table.
pub fn report(trace: &Trace, runs: &[(Variant, RunReport)]) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "{} tenants, {} days, {} calls ({} legitimate attempts), seed {}\n\n",
        trace.books.len(),
        trace.days,
        trace.calls.len(),
        runs.first().map_or(0, |(_, r)| r.legit_attempts),
        trace.seed
    ));
    out.push_str("| attack | guard | attempts | connected | lost | vs no guard | first alert (min, attempts, money) | first block (min, attempts, money) | refused or cut, by reason |\n|---|---|---|---|---|---|---|---|---|\n");
    let none = &runs[0].1;
    for (a, attack) in trace.attacks.iter().enumerate() {
        for (variant, r) in runs {
            let o = &r.attacks[a];
            let base = none.attacks[a].lost;
            let ratio = if base.is_zero() {
                Decimal::ZERO
            } else {
                (o.lost * Decimal::from(100) / base).round_dp(2)
            };
            let at = |x: &Option<(i64, u64, Decimal)>| {
                x.as_ref().map_or("never".to_string(), |(s, n, m)| {
                    format!("{:.1}, {n}, {}", *s as f64 / 60.0, m.round_dp(2))
                })
            };
            let reasons: Vec<String> = o.reasons.iter().map(|(c, n)| format!("{c} {n}")).collect();
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {ratio}% | {} | {} | {} |\n",
                attack.name,
                variant.name(),
                o.attempts,
                o.connected,
                o.lost.round_dp(2),
                at(&o.alert),
                at(&o.block),
                reasons.join(", ")
            ));
        }
    }
    out.push_str("\n| guard | false positives | per 1,000 legitimate attempts | reasons | legitimate calls refused on a tenant under attack | suspended tenant-days per 1,000 | decision digest | largest state, bytes |\n|---|---|---|---|---|---|---|---|\n");
    for (variant, r) in runs {
        let per = r.false_positives as f64 * 1000.0 / r.legit_attempts.max(1) as f64;
        let days = r.suspended_tenant_days as f64 * 1000.0 / r.tenant_days.max(1) as f64;
        let reasons: Vec<String> = r
            .false_positive_reasons
            .iter()
            .map(|(c, n)| format!("{c} {n}"))
            .collect();
        out.push_str(&format!(
            "| {} | {} | {per:.3} | {} | {} | {days:.3} | {:08x} | {} |\n",
            variant.name(),
            r.false_positives,
            reasons.join(", "),
            r.collateral,
            (r.decisions >> 96) as u32,
            r.max_state_bytes
        ));
    }
    out
}

/// `minutely-tools fraud-sim`: builds the trace, runs every variant, prints the report.
pub fn main(seed: u64, tenants: usize, days: u32) -> Result<()> {
    let trace = Trace::build(seed, tenants, days).context("building the simulation")?;
    let runs: Vec<(Variant, RunReport)> =
        Variant::ALL.iter().map(|v| (*v, run(&trace, *v))).collect();
    print!("{}", report(&trace, &runs));
    Ok(())
}

#[cfg(test)]
mod tests;
