//! Past calls replayed through a guard as call control would have met them (`minutely fraud
//! simulate`): each dial-out is authorized at its start, extended a window at a time while it
//! lasts, and ended; starts, extensions and ends are taken in the order of their instants (at
//! one instant: ends, then extensions, then starts, as a call is live over [start, end)), so
//! live calls overlap as they did. An attempt that call control refused for another reason is
//! replayed as an attempt only. Funding is left out: the replay shows what the guard alone
//! would have refused or cut. Pure and deterministic, like the guard.

use super::{Guard, ListPrice, dial_out, digits_of};
use crate::directory::Tenant;
use crate::ledger::Event;
use crate::numbers::Country;
use crate::rating::{CallRecord, Rater};
use crate::reason::Reason;
use jiff::{SignedDuration, Timestamp};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// A past call to replay.
#[derive(Debug, Clone, Copy)]
pub struct Past<'a> {
    pub record: &'a CallRecord,
    /// Whether it connected: a call call control refused (for credit, or by the guard then)
    /// is replayed as an attempt only.
    pub connected: bool,
}

/// What the guard did to one dial-out of the replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fate {
    /// Allowed for as long as it lasted (or, for an attempt that did not connect, allowed).
    Allowed,
    /// Refused at its start.
    Refused(Reason),
    /// Ended early: at a window by a refusal of its extension (C43), or at a duration cap.
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

/// A step of a call, in the order steps of one instant are taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    End,
    Extend,
    Start,
}

/// The replay of `calls` (in canonical order: start, then call id) through `guard`, with
/// grants of `window_s`: one line per dial-out with a rate (dial-ins and calls rating refuses
/// are not the guard's), and every event the guard raised.
pub fn replay(
    tenant: &Tenant,
    guard: &mut Guard,
    rater: &mut Rater<'_>,
    calls: &[Past<'_>],
    window_s: u64,
) -> (Vec<Replayed>, Vec<Event>) {
    let window_s = window_s.max(1);
    let mut run = Run {
        tenant,
        guard,
        window_s,
        lines: Vec::new(),
        line_of: vec![None; calls.len()],
        granted_s: vec![0; calls.len()],
        prices: vec![None; calls.len()],
        events: Vec::new(),
        queue: BinaryHeap::new(),
    };
    // Each call is started once, extended at most once a window of its duration, and ended
    // once: the loop below ends when the queue is empty, within this many steps.
    let mut bound: u64 = 0;
    for (i, call) in calls.iter().enumerate() {
        let duration_s = call.record.duration_s().unwrap_or(0);
        bound = bound.saturating_add(duration_s.div_ceil(window_s).saturating_add(2));
        run.queue
            .push(Reverse((call.record.start.as_second(), Step::Start, i)));
    }
    for _ in 0..bound {
        let Some(Reverse((at_s, step, i))) = run.queue.pop() else {
            break;
        };
        let call = calls[i];
        match step {
            Step::Start => run.start(rater, call, i),
            Step::Extend => run.extend(rater, call.record, i, at_s),
            Step::End => run.end(call.record, i, at_s),
        }
    }
    assert!(run.queue.is_empty(), "every call of the replay ended");
    (run.lines, run.events)
}

/// The replay in progress.
struct Run<'g, 't> {
    tenant: &'t Tenant,
    guard: &'g mut Guard,
    /// Seconds a grant or an extension adds.
    window_s: u64,
    lines: Vec<Replayed>,
    /// The line of each call (by its index in the input), once started as a dial-out.
    line_of: Vec<Option<usize>>,
    /// What each live call holds now, from its start.
    granted_s: Vec<u64>,
    prices: Vec<Option<ListPrice>>,
    events: Vec<Event>,
    /// (instant in seconds, step, call index), earliest first.
    queue: BinaryHeap<Reverse<(i64, Step, usize)>>,
}

fn later(at: Timestamp, seconds: u64) -> Timestamp {
    at.checked_add(SignedDuration::from_secs(
        seconds.min(i64::MAX as u64) as i64
    ))
    .unwrap_or(at)
}

impl Run<'_, '_> {
    fn start(&mut self, rater: &mut Rater<'_>, call: Past<'_>, i: usize) {
        let (record, tz) = (call.record, &self.tenant.timezone);
        let Ok(a) = rater.assess(self.tenant, record) else {
            return;
        };
        let digits = digits_of(&record.destination_number);
        let Some(d) = dial_out(self.tenant, record, &a, &digits, record.start) else {
            return;
        };
        let duration_s = if call.connected {
            record.duration_s().unwrap_or(0)
        } else {
            0
        };
        let v = self.guard.authorize(&d, self.window_s, tz);
        self.events
            .extend(v.alerts.into_iter().map(|x| x.event(record.start)));
        self.prices[i] = Some(d.price);
        self.line_of[i] = Some(self.lines.len());
        self.lines.push(Replayed {
            call_id: record.call_id.clone(),
            start: record.start,
            organizer: d.organizer.to_string(),
            country: d.country,
            duration_s,
            allowed_s: 0,
            fate: v.refuse.map_or(Fate::Allowed, Fate::Refused),
            found: v.found,
            cost_e4: d.price.cost_e4(duration_s),
            allowed_cost_e4: 0,
        });
        if v.refuse.is_some() || !call.connected {
            return;
        }
        let granted_s = v.cap_s.map_or(self.window_s, |c| c.min(self.window_s));
        self.guard.granted(&d, granted_s, v.cap_s, tz);
        self.granted_s[i] = granted_s;
        self.schedule(record, i, granted_s, v.cap_s);
    }

    fn line_mut(&mut self, i: usize) -> &mut Replayed {
        let at = self.line_of[i].expect("a started dial-out");
        &mut self.lines[at]
    }

    /// The next step of a live call granted `granted_s`: its end (at most at `cap_s`), or the
    /// extension asked 30 s before its grant runs out (at once for a grant that short).
    fn schedule(&mut self, call: &CallRecord, i: usize, granted_s: u64, cap_s: Option<u64>) {
        let duration_s = call.duration_s().unwrap_or(0);
        let last_s = cap_s.map_or(duration_s, |c| c.min(duration_s));
        let start_s = call.start.as_second();
        let offset_s = |s: u64| start_s.saturating_add(i64::try_from(s).unwrap_or(i64::MAX));
        if last_s <= granted_s {
            self.queue.push(Reverse((offset_s(last_s), Step::End, i)));
        } else {
            let ask_s = offset_s(granted_s.saturating_sub(30).max(1));
            self.queue.push(Reverse((ask_s, Step::Extend, i)));
        }
    }

    fn extend(&mut self, rater: &mut Rater<'_>, call: &CallRecord, i: usize, at_s: i64) {
        let tz = &self.tenant.timezone;
        let granted_s = self.granted_s[i];
        let at = Timestamp::from_second(at_s).unwrap_or(call.start);
        let cut_at_s = call
            .start
            .as_second()
            .saturating_add(i64::try_from(granted_s).unwrap_or(i64::MAX))
            .max(at_s);
        let digits = digits_of(&call.destination_number);
        let assessed = rater.assess(self.tenant, call);
        let Some(d) = assessed
            .as_ref()
            .ok()
            .and_then(|a| dial_out(self.tenant, call, a, &digits, at))
        else {
            // Rated at its start, so rated now: were it not, it ends at its grant.
            self.queue.push(Reverse((cut_at_s, Step::End, i)));
            return;
        };
        let next_s = granted_s.saturating_add(self.window_s);
        let v = self.guard.extend(&d, granted_s, next_s, tz);
        self.events
            .extend(v.alerts.into_iter().map(|x| x.event(at)));
        merge(&mut self.line_mut(i).found, &v.found);
        if let Some(reason) = v.refuse {
            self.line_mut(i).fate = Fate::Cut(reason);
            self.queue.push(Reverse((cut_at_s, Step::End, i)));
            return;
        }
        let room_s = v.cap_s.map_or(self.window_s, |c| {
            c.saturating_sub(granted_s).min(self.window_s)
        });
        if room_s == 0 {
            self.queue.push(Reverse((cut_at_s, Step::End, i)));
            return;
        }
        let granted_s = granted_s.saturating_add(room_s);
        self.granted_s[i] = granted_s;
        self.guard.regranted(&call.call_id, granted_s);
        self.schedule(call, i, granted_s, v.cap_s);
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
        // Ended before it did, and not by a refusal: a cap (rule 1's or rule 9's) ended it.
        if lasted_s < line.duration_s && line.fate == Fate::Allowed {
            line.fate = Fate::Cut(Reason::FraudDurationCap);
            merge(&mut line.found, &[Reason::FraudDurationCap]);
        }
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
