//! Past calls replayed through a guard as call control would have met them (`minutely fraud
//! simulate`): each dial-out is authorized at its start, extended a window at a time while it
//! lasts, and ended; starts, extensions and ends are taken in the order of their instants, so
//! live calls overlap as they did. Funding is left out: the replay shows what the guard alone
//! would have refused or cut, nothing else. Pure and deterministic, like the guard.

use super::{Guard, ListPrice, dial_out, digits_of};
use crate::directory::Tenant;
use crate::ledger::Event;
use crate::numbers::Country;
use crate::rating::{CallRecord, Rater};
use crate::reason::Reason;
use jiff::{SignedDuration, Timestamp};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// What the guard did to one dial-out of the replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fate {
    /// Allowed for as long as it lasted.
    Allowed,
    /// Refused at its start.
    Refused(Reason),
    /// Ended at a window by a refusal of its extension (C43), or at a duration cap.
    Cut(Reason),
}

/// One dial-out of the replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replayed {
    pub call_id: String,
    pub start: Timestamp,
    pub organizer: String,
    pub country: Country,
    /// How long the call lasted, and how long the guard would have let it last.
    pub duration_s: u64,
    pub allowed_s: u64,
    pub fate: Fate,
    /// Every rule that applied to it, enforced or not (C45's order, each once).
    pub found: Vec<Reason>,
    /// Its list price (C44) as it lasted, and as the guard would have let it last, in units of
    /// 1/10,000 of the tenant's currency.
    pub cost_e4: i64,
    pub allowed_cost_e4: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    Start,
    Extend,
    End,
}

/// The replay of `calls` (in canonical order: start, then call id) through `guard`, with
/// grants of `window_s`: one line per dial-out with a rate (dial-ins and calls rating refuses
/// are not the guard's), and every event the guard raised.
pub fn replay(
    tenant: &Tenant,
    guard: &mut Guard,
    rater: &mut Rater<'_>,
    calls: &[CallRecord],
    window_s: u64,
) -> (Vec<Replayed>, Vec<Event>) {
    let mut run = Run {
        tenant,
        guard,
        window_s: window_s.max(1),
        lines: Vec::new(),
        line_of: vec![None; calls.len()],
        granted_s: vec![0; calls.len()],
        prices: vec![None; calls.len()],
        events: Vec::new(),
        queue: BinaryHeap::new(),
    };
    for (i, call) in calls.iter().enumerate() {
        run.queue
            .push(Reverse((call.start.as_second(), Step::Start, i)));
    }
    // Each call is started once, extended at most once per window of its duration (bounded
    // by a day's worth of one-second windows) and ended once.
    let bound = calls.len().saturating_mul(86_400 + 2);
    for _ in 0..bound {
        let Some(Reverse((at_s, step, i))) = run.queue.pop() else {
            break;
        };
        let call = &calls[i];
        match step {
            Step::Start => run.start(rater, call, i),
            Step::Extend => run.extend(rater, call, i, at_s),
            Step::End => run.end(call, i, at_s),
        }
    }
    (run.lines, run.events)
}

struct Run<'g, 't> {
    tenant: &'t Tenant,
    guard: &'g mut Guard,
    window_s: u64,
    lines: Vec<Replayed>,
    line_of: Vec<Option<usize>>,
    granted_s: Vec<u64>,
    prices: Vec<Option<ListPrice>>,
    events: Vec<Event>,
    queue: BinaryHeap<Reverse<(i64, Step, usize)>>,
}

fn later(at: Timestamp, seconds: u64) -> Timestamp {
    at.checked_add(SignedDuration::from_secs(
        seconds.min(i64::MAX as u64) as i64
    ))
    .unwrap_or(at)
}

impl Run<'_, '_> {
    fn start(&mut self, rater: &mut Rater<'_>, call: &CallRecord, i: usize) {
        let tz = &self.tenant.timezone;
        let Ok(a) = rater.assess(self.tenant, call) else {
            return;
        };
        let digits = digits_of(&call.destination_number);
        let Some(d) = dial_out(self.tenant, call, &a, &digits, call.start) else {
            return;
        };
        let duration_s = call.duration_s().unwrap_or(0);
        let v = self.guard.authorize(&d, self.window_s, tz);
        self.events
            .extend(v.alerts.into_iter().map(|x| x.event(call.start)));
        let cost_e4 = d.price.cost_e4(duration_s);
        self.prices[i] = Some(d.price);
        self.line_of[i] = Some(self.lines.len());
        self.lines.push(Replayed {
            call_id: call.call_id.clone(),
            start: call.start,
            organizer: d.organizer.to_string(),
            country: d.country,
            duration_s,
            allowed_s: 0,
            fate: Fate::Allowed,
            found: v.found,
            cost_e4,
            allowed_cost_e4: 0,
        });
        if let Some(reason) = v.refuse {
            self.lines.last_mut().expect("just pushed").fate = Fate::Refused(reason);
            return;
        }
        let granted = v.cap_s.map_or(self.window_s, |c| c.min(self.window_s));
        self.guard.granted(&d, granted, v.cap_s, tz);
        self.granted_s[i] = granted;
        if v.cap_s.is_some_and(|c| c < duration_s) {
            self.line_mut(i).fate = Fate::Cut(Reason::FraudDurationCap);
        }
        self.schedule(call, i, granted, v.cap_s);
    }

    fn line_mut(&mut self, i: usize) -> &mut Replayed {
        let at = self.line_of[i].expect("a started dial-out");
        &mut self.lines[at]
    }

    /// The next step of a live call granted `granted_s`: its end, or the extension asked 30 s
    /// before its grant runs out.
    fn schedule(&mut self, call: &CallRecord, i: usize, granted_s: u64, cap_s: Option<u64>) {
        let duration_s = call.duration_s().unwrap_or(0);
        let last = cap_s.map_or(duration_s, |c| c.min(duration_s));
        let start = call.start.as_second();
        if last <= granted_s {
            self.queue
                .push(Reverse((start.saturating_add(last as i64), Step::End, i)));
        } else {
            let ask = start.saturating_add(granted_s.saturating_sub(30).max(1) as i64);
            self.queue.push(Reverse((ask, Step::Extend, i)));
        }
    }

    fn extend(&mut self, rater: &mut Rater<'_>, call: &CallRecord, i: usize, at_s: i64) {
        let tz = &self.tenant.timezone;
        let granted = self.granted_s[i];
        let at = Timestamp::from_second(at_s).unwrap_or(call.start);
        let cut_at = call.start.as_second().saturating_add(granted as i64);
        let Ok(a) = rater.assess(self.tenant, call) else {
            return;
        };
        let digits = digits_of(&call.destination_number);
        let Some(d) = dial_out(self.tenant, call, &a, &digits, at) else {
            return;
        };
        let v = self
            .guard
            .extend(&d, granted, granted.saturating_add(self.window_s), tz);
        self.events
            .extend(v.alerts.into_iter().map(|x| x.event(at)));
        merge(&mut self.line_mut(i).found, &v.found);
        if let Some(reason) = v.refuse {
            self.line_mut(i).fate = Fate::Cut(reason);
            self.queue.push(Reverse((cut_at.max(at_s), Step::End, i)));
            return;
        }
        let room = v.cap_s.map_or(self.window_s, |c| {
            c.saturating_sub(granted).min(self.window_s)
        });
        if room == 0 {
            self.line_mut(i).fate = Fate::Cut(Reason::FraudDurationCap);
            self.queue.push(Reverse((cut_at.max(at_s), Step::End, i)));
            return;
        }
        let granted = granted.saturating_add(room);
        self.granted_s[i] = granted;
        self.guard.regranted(&call.call_id, granted);
        self.schedule(call, i, granted, v.cap_s);
    }

    fn end(&mut self, call: &CallRecord, i: usize, at_s: i64) {
        let tz = &self.tenant.timezone;
        let lasted_s = at_s.saturating_sub(call.start.as_second()).max(0) as u64;
        let end = later(call.start, lasted_s);
        let digits = digits_of(&call.destination_number);
        let organizer = self.line_mut(i).organizer.clone();
        let found = self
            .guard
            .ended(&call.call_id, &organizer, &digits, lasted_s, end, tz);
        self.events.extend(found.map(|x| x.event(end)));
        let allowed_cost_e4 = self.prices[i].map_or(0, |p| p.cost_e4(lasted_s));
        let line = self.line_mut(i);
        line.allowed_s = lasted_s;
        line.allowed_cost_e4 = allowed_cost_e4;
    }
}

/// `found` with the reasons of `more` it lacks, in C45's order.
fn merge(found: &mut Vec<Reason>, more: &[Reason]) {
    for r in more {
        if !found.contains(r) {
            found.push(*r);
        }
    }
    found.sort_by_key(|r| Reason::ALL.iter().position(|x| x == r));
}
