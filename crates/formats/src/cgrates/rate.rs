//! A CGRateS rate (its groups) as one Minutely price, when it is one: per-minute rate,
//! connection fee, first block and increment; and whether a destination rate's rounding can
//! change a charge that Minutely rounds once (C7).

use super::read::RateGroup;
use super::{Issue, RATES_CSV};
use crate::ratecard::MAX_BLOCK_S;
use minutely_core::money::{MAX_CONNECTION_FEE, MAX_RATE_PER_MINUTE};
use rust_decimal::Decimal;

const NS_PER_S: u64 = 1_000_000_000;
const NS_PER_MINUTE: i64 = 60_000_000_000;

/// A rate as Minutely prices a call (C6, C7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tariff {
    pub rate_per_minute: Decimal,
    pub connection_fee: Decimal,
    pub first_block_s: u32,
    pub increment_s: u32,
}

/// The per-minute price of one group, exactly, or why there is none.
fn per_minute(group: &RateGroup) -> Result<Decimal, String> {
    if group.rate.is_zero() {
        return Ok(Decimal::ZERO);
    }
    if group.unit_ns == 0 {
        return Err(format!(
            "{}: a rate of {} per 0s has no price per minute",
            group.id, group.rate
        ));
    }
    let scaled = group
        .rate
        .checked_mul(Decimal::from(NS_PER_MINUTE))
        .ok_or_else(|| format!("{}: the rate {} is too large", group.id, group.rate))?;
    let unit = Decimal::from(group.unit_ns);
    let exact = scaled
        .checked_div(unit)
        .filter(|q| q.checked_mul(unit) == Some(scaled))
        .map(|q| q.normalize());
    match exact {
        Some(q) if q <= MAX_RATE_PER_MINUTE => Ok(q),
        Some(q) => Err(format!(
            "{}: {q} per minute is above Minutely's largest rate, {MAX_RATE_PER_MINUTE}",
            group.id
        )),
        None => Err(format!(
            "{}: {} per {} is not an exact decimal amount per minute",
            group.id,
            group.rate,
            seconds_text(group.unit_ns)
        )),
    }
}

/// `60s`, `1.5s`, `1024ns`: a duration as it is best read in a report.
pub fn seconds_text(ns: u64) -> String {
    if ns.is_multiple_of(NS_PER_S) {
        format!("{}s", ns / NS_PER_S)
    } else if ns < NS_PER_S {
        format!("{ns}ns")
    } else {
        format!("{}s", Decimal::from(ns) / Decimal::from(NS_PER_S))
    }
}

/// Whole seconds from 1 to `MAX_BLOCK_S`, as Minutely's blocks are.
fn block_s(group: &RateGroup) -> Result<u32, String> {
    let ns = group.increment_ns;
    let seconds = ns / NS_PER_S;
    if !ns.is_multiple_of(NS_PER_S) || seconds == 0 || seconds > u64::from(MAX_BLOCK_S) {
        return Err(format!(
            "{}: the increment {} is not whole seconds from 1 to {MAX_BLOCK_S}",
            group.id,
            seconds_text(ns)
        ));
    }
    Ok(seconds as u32)
}

/// Checks the groups after the first against it (same price, no fee of their own) and returns
/// the segments of their increments: groups of equal increments whose starts fall on that
/// increment bill as one.
fn later_groups(
    groups: &[&RateGroup],
    rate: Option<Decimal>,
    issues: &mut Vec<Issue>,
) -> Vec<(u64, u64)> {
    let issue = |group: &RateGroup, what: String| Issue::new(RATES_CSV, group.line, what);
    let first = groups[0];
    let mut segments: Vec<(u64, u64)> = vec![(0, first.increment_ns)];
    for group in &groups[1..] {
        if !group.connect_fee.is_zero() && group.connect_fee != first.connect_fee {
            let what = format!(
                "{}: a connect fee ({}) on the group from {} is charged mid-call",
                group.id,
                group.connect_fee,
                seconds_text(group.start_ns)
            );
            issues.push(issue(group, what));
        }
        match (per_minute(group), rate) {
            (Ok(r), Some(first_rate)) if r != first_rate => {
                let what = format!(
                    "{}: the group from {} costs {r} per minute and the group from 0s {first_rate}: groups with different prices cannot be represented",
                    group.id,
                    seconds_text(group.start_ns)
                );
                issues.push(issue(group, what));
            }
            (Err(e), _) => issues.push(issue(group, e)),
            _ => {}
        }
        let (start, increment) = *segments.last().expect("one segment");
        // Groups are sorted by start, so this does not underflow.
        let same = group.increment_ns == increment
            && increment > 0
            && (group.start_ns - start).is_multiple_of(increment);
        if !same {
            segments.push((group.start_ns, group.increment_ns));
        }
    }
    segments
}

/// The groups of one rate (sorted by start) as one tariff: the groups must all cost the same
/// per minute, the first must start at 0s, and their increments must read as a first block
/// then one increment (a second group starting where the first group's first increment ends).
/// Every reason it cannot is an issue at the line of the group at fault.
pub fn tariff(groups: &[&RateGroup]) -> Result<Tariff, Vec<Issue>> {
    let issue = |group: &RateGroup, what: String| Issue::new(RATES_CSV, group.line, what);
    let first = groups.first().expect("a rate has at least one group");
    if first.start_ns != 0 {
        let what = format!(
            "{}: the first group starts at {}; a call's first seconds have no price",
            first.id,
            seconds_text(first.start_ns)
        );
        return Err(vec![issue(first, what)]);
    }
    let mut issues = Vec::new();
    let rate = per_minute(first)
        .map_err(|e| issues.push(issue(first, e)))
        .ok();
    let first_block_s = block_s(first)
        .map_err(|e| issues.push(issue(first, e)))
        .ok();
    if first.connect_fee > MAX_CONNECTION_FEE {
        let what = format!(
            "{}: the connect fee {} is above Minutely's largest, {MAX_CONNECTION_FEE}",
            first.id, first.connect_fee
        );
        issues.push(issue(first, what));
    }
    let segments = later_groups(groups, rate, &mut issues);
    let increment_s = match segments.as_slice() {
        [_] => first_block_s,
        [(_, first_increment), (start, _)] if start == first_increment => {
            let second = groups
                .iter()
                .find(|g| g.start_ns == *start)
                .expect("a segment starts at a group");
            block_s(second)
                .map_err(|e| issues.push(issue(second, e)))
                .ok()
        }
        _ => {
            let last = groups.last().expect("a group");
            let what = format!(
                "{}: increments that change other than once, after the first block, cannot be represented",
                last.id
            );
            issues.push(issue(last, what));
            None
        }
    };
    match (rate, first_block_s, increment_s) {
        (Some(rate_per_minute), Some(first_block_s), Some(increment_s)) if issues.is_empty() => {
            Ok(Tariff {
                rate_per_minute,
                connection_fee: first.connect_fee,
                first_block_s,
                increment_s,
            })
        }
        _ => Err(issues),
    }
}

/// Whether charging with CGRateS's rounding gives the same amounts as Minutely's one rounding
/// (C7: half away from zero to the currency's minor unit, once per call). They agree for every
/// call when no part of a charge (the fee, the first block, each increment) has digits below
/// both roundings' precision, for then neither rounding changes anything; and they agree when
/// CGRateS rounds half up (`*middle`) to the minor unit a single-group rate with a fee on that
/// unit, for then it rounds once, as Minutely does. `None` when they agree; else why not.
pub fn rounding_differs(
    tariff: &Tariff,
    method: &str,
    decimals: u32,
    minor_units: u32,
    single_group: bool,
) -> Option<String> {
    let grid = decimals.min(minor_units);
    let on = |amount: Decimal, digits: u32| amount.normalize().scale() <= digits;
    let block = |seconds: u32| tariff.rate_per_minute * Decimal::from(seconds) / Decimal::from(60);
    let parts_on_grid = on(tariff.connection_fee, grid)
        && on(block(tariff.first_block_s), grid)
        && on(block(tariff.increment_s), grid);
    let known = matches!(method, "*up" | "*down" | "*middle");
    if known && parts_on_grid {
        return None;
    }
    let once = method == "*middle"
        && decimals == minor_units
        && single_group
        && on(tariff.connection_fee, minor_units);
    if once {
        return None;
    }
    Some(format!(
        "rounding {method} to {decimals} decimals differs from Minutely's (half away from zero to {minor_units} decimals, once per call) for a rate of {} per minute in steps of {}s then {}s",
        tariff.rate_per_minute, tariff.first_block_s, tariff.increment_s
    ))
}
