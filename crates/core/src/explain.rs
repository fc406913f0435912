//! "Why was this call charged?" as data: the steps of a decision with their numbers, computed
//! with the rating code the engine uses (C6 `billable_seconds`, the checked money operations
//! and the one rounding of C7). No text: each edge renders the steps in the reader's language.

use crate::catalogue::{Origin, RateCard, RateEntry, key_text};
use crate::control::Reservation;
use crate::directory::Sku;
use crate::engine::{AppliedRate, Charge, Funding};
use crate::ledger::LotId;
use crate::money::{self, Currency, Overflow};
use crate::numbers::E164;
use crate::rating::{CallRecord, Category};
use crate::reason::Reason;
use jiff::Timestamp;
use rust_decimal::Decimal;

/// Where the applied rate sits in the rate card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RatePlace {
    /// The entry's kind (`dial_out`, `dial_in_toll`, `dial_in_toll_free`).
    pub kind: &'static str,
    /// The E.164 prefix of a dial-out rate, the service-number country of a dial-in rate.
    pub key: String,
    /// The caller origin of a toll-free rate.
    pub origin: Option<Origin>,
    /// The entry's connection fee.
    pub connection_fee: Decimal,
}

/// One step of an explanation, with the numbers it shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// C38: the duration from the record's instants.
    Duration {
        start: Timestamp,
        end: Timestamp,
        duration_s: u64,
    },
    /// C18: a toll dial-in included in the subscription.
    Included,
    /// C33: the US/Canada add-on pays.
    AddOn { country: Option<String> },
    /// C32: the pool pays the whole call.
    Pool { duration_s: u64, pool_minutes: u32 },
    /// C32: the pool pays what it had left, credits the rest.
    PoolThenCredits {
        pool_minutes: u32,
        duration_s: u64,
        minutes: u64,
        category: Category,
        capability: Sku,
    },
    /// C19: a subscription organizer with `MCOPSTNPP` pays with credits.
    SubscriptionCredits { category: Category, capability: Sku },
    /// A pay-per-minute organizer pays with the tenant's credits (the charge's rule).
    PayPerMinuteCredits {
        rule: &'static str,
        category: Category,
        capability: Sku,
    },
    /// C36: the rate applied and where it sits in the card.
    Rate {
        rate: AppliedRate,
        place: Option<RatePlace>,
    },
    /// C31: a call of duration 0.
    ZeroDuration,
    /// C6: billable seconds.
    Billable {
        duration_s: u64,
        first_block_s: u32,
        increment_s: u32,
        billable_s: u64,
    },
    /// C7: the credit charge, exact then rounded once.
    CreditCost {
        connection_fee: Decimal,
        rate_per_minute: Decimal,
        billable_s: u64,
        exact: Decimal,
        rounded: Decimal,
    },
    /// C32: the credit part of a split call, without connection fee.
    SplitCost {
        billable_s: u64,
        pool_minutes: u32,
        credit_s: u64,
        /// The entry has a connection fee that a split call does not pay.
        fee_waived: bool,
        rate_per_minute: Decimal,
        exact: Decimal,
        rounded: Decimal,
    },
    /// C24: nothing was debited.
    NothingDebited,
    /// C10: the lots drained, oldest first.
    Drained {
        amount: Decimal,
        lots: Vec<(LotId, Decimal)>,
    },
    /// C13: the part that went to debt.
    ToDebt { amount: Decimal },
    /// C24: the balance after the call.
    BalanceAfter { balance: Decimal },
    /// C34: an auto-recharge funded a lot.
    Recharged { lot: LotId },
    /// The call was refused (the reason's rule).
    Refused { reason: Reason },
    /// C25: a live call's hold.
    Authorized {
        start: Timestamp,
        funding: Funding,
        credit: Decimal,
        pool_minutes: u32,
        granted_s: Option<u64>,
    },
    /// C14: the available balance now.
    Available {
        balance: Decimal,
        available: Decimal,
    },
    /// C27: when the hold lapses.
    HoldLapses { expires_at: Timestamp },
    /// C27: the hold lapsed without an end report.
    HoldLapsed,
}

impl Step {
    /// The charging rule the step applies.
    pub fn rule(&self) -> &'static str {
        match self {
            Step::Duration { .. } => "C38",
            Step::Included => "C18",
            Step::AddOn { .. } => "C33",
            Step::Pool { .. } | Step::PoolThenCredits { .. } | Step::SplitCost { .. } => "C32",
            Step::SubscriptionCredits { .. } => "C19",
            Step::PayPerMinuteCredits { rule, .. } => rule,
            Step::Rate { .. } => "C36",
            Step::ZeroDuration => "C31",
            Step::Billable { .. } => "C6",
            Step::CreditCost { .. } => "C7",
            Step::NothingDebited | Step::BalanceAfter { .. } => "C24",
            Step::Drained { .. } => "C10",
            Step::ToDebt { .. } => "C13",
            Step::Recharged { .. } => "C34",
            Step::Refused { reason } => reason.rule(),
            Step::Authorized { .. } => "C25",
            Step::Available { .. } => "C14",
            Step::HoldLapses { .. } | Step::HoldLapsed => "C27",
        }
    }
}

/// The rate-card entry behind an applied rate: the version it came from, the longest prefix
/// for a dial-out, else the entry of that kind with the same name and price.
pub fn rate_entry<'a>(
    card: Option<&'a RateCard>,
    record: &CallRecord,
    charge: &Charge,
) -> Option<&'a RateEntry> {
    let rate = charge.rate.as_ref()?;
    let version = card?
        .versions()
        .iter()
        .find(|v| v.effective_from == rate.effective_from)?;
    let kind = charge.category.as_str();
    let same = |e: &&RateEntry| {
        e.kind.as_str() == kind
            && e.name == rate.name
            && e.rate_per_minute == rate.rate_per_minute
            && e.country.as_str() == rate.country
    };
    E164::parse(&record.destination_number)
        .filter(|_| charge.category == Category::DialOut)
        .and_then(|n| version.dial_out(n))
        .filter(same)
        .or_else(|| version.entries().iter().find(same))
}

/// Where `entry` sits in the card.
pub fn rate_place(entry: &RateEntry) -> RatePlace {
    RatePlace {
        kind: entry.kind.as_str(),
        key: key_text(entry),
        origin: entry.origin,
        connection_fee: entry.connection_fee,
    }
}

/// Who paid.
fn funding_step(c: &Charge) -> Step {
    let d = c.duration_s;
    match c.funding {
        Funding::Included => Step::Included,
        Funding::AddOn => Step::AddOn {
            country: c.other_country.clone(),
        },
        Funding::Pool => Step::Pool {
            duration_s: d,
            pool_minutes: c.pool_minutes,
        },
        Funding::PoolAndCredits => Step::PoolThenCredits {
            pool_minutes: c.pool_minutes,
            duration_s: d,
            minutes: d.div_ceil(60),
            category: c.category,
            capability: c.capability,
        },
        Funding::Credits if c.rule == "C19" => Step::SubscriptionCredits {
            category: c.category,
            capability: c.capability,
        },
        Funding::Credits => Step::PayPerMinuteCredits {
            rule: c.rule,
            category: c.category,
            capability: c.capability,
        },
    }
}

/// C6 and C7 (C32 for a split call), with the numbers.
fn arithmetic_steps(
    c: &Charge,
    currency: Currency,
    place: Option<&RatePlace>,
) -> Result<Vec<Step>, Overflow> {
    let Some(rate) = &c.rate else {
        return Ok(Vec::new());
    };
    let d = c.duration_s;
    if d == 0 {
        return Ok(vec![Step::ZeroDuration]);
    }
    let (f, i) = (rate.first_block_s, rate.increment_s);
    // The stored billable seconds are what was charged (C6 of the stored duration at the
    // stored increments, `billable_seconds`).
    let b = c.billable_s;
    let mut steps = vec![Step::Billable {
        duration_s: d,
        first_block_s: f,
        increment_s: i,
        billable_s: b,
    }];
    let rpm = rate.rate_per_minute;
    match c.funding {
        Funding::Credits => {
            let fee = c.connection_fee;
            let exact = money::add(fee, money::mul(rpm, Decimal::from(b))? / Decimal::from(60))?;
            steps.push(Step::CreditCost {
                connection_fee: fee,
                rate_per_minute: rpm,
                billable_s: b,
                exact,
                rounded: currency.round(exact),
            });
        }
        Funding::PoolAndCredits => {
            let s = b.saturating_sub(60 * u64::from(c.pool_minutes));
            let exact = money::mul(rpm, Decimal::from(s))? / Decimal::from(60);
            steps.push(Step::SplitCost {
                billable_s: b,
                pool_minutes: c.pool_minutes,
                credit_s: s,
                fee_waived: place.is_some_and(|p| !p.connection_fee.is_zero()),
                rate_per_minute: rpm,
                exact,
                rounded: currency.round(exact),
            });
        }
        _ => {}
    }
    Ok(steps)
}

/// Lots drained, debt, balance after, recharge.
fn wallet_steps(c: &Charge) -> Result<Vec<Step>, Overflow> {
    let mut steps = Vec::new();
    if c.amount.is_zero() {
        steps.push(Step::NothingDebited);
    } else {
        if !c.lots.is_empty() {
            steps.push(Step::Drained {
                amount: c.amount,
                lots: c.lots.clone(),
            });
        }
        let from_lots = money::sum(c.lots.iter().map(|(_, a)| *a))?;
        if from_lots < c.amount {
            steps.push(Step::ToDebt {
                amount: money::sub(c.amount, from_lots)?,
            });
        }
    }
    if let Some(balance) = c.balance_after {
        steps.push(Step::BalanceAfter { balance });
    }
    if let Some(lot) = c.recharge_lot {
        steps.push(Step::Recharged { lot });
    }
    Ok(steps)
}

/// A charged call: duration, who paid, the rate, the arithmetic, the wallet. `place` is the
/// rate's entry in the card when it is still known (`rate_entry`). `Overflow` for stored
/// amounts out of range (a damaged store).
pub fn charged(
    record: &CallRecord,
    c: &Charge,
    currency: Currency,
    place: Option<RatePlace>,
) -> Result<Vec<Step>, Overflow> {
    let mut steps = vec![
        Step::Duration {
            start: record.start,
            end: record.end,
            duration_s: c.duration_s,
        },
        funding_step(c),
    ];
    if let Some(rate) = &c.rate {
        steps.push(Step::Rate {
            rate: rate.clone(),
            place: place.clone(),
        });
    }
    if matches!(c.funding, Funding::Credits | Funding::PoolAndCredits) {
        steps.extend(arithmetic_steps(c, currency, place.as_ref())?);
    }
    steps.extend(wallet_steps(c)?);
    Ok(steps)
}

/// A refused call.
pub fn refused(reason: Reason) -> Vec<Step> {
    vec![Step::Refused { reason }]
}

/// A call authorized and not ended: its hold, the available balance, when the hold lapses.
pub fn reserved(r: &Reservation, balance: Decimal, available: Decimal) -> Vec<Step> {
    let mut steps = vec![Step::Authorized {
        start: r.call.start,
        funding: r.funding,
        credit: r.credit,
        pool_minutes: r.pool_minutes,
        granted_s: r.granted_s,
    }];
    if r.live {
        steps.push(Step::Available { balance, available });
        steps.push(Step::HoldLapses {
            expires_at: r.expires_at,
        });
    } else {
        steps.push(Step::HoldLapsed);
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rating::Direction;

    fn d(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    fn record(duration_s: i64) -> CallRecord {
        let start: Timestamp = "2026-03-02T09:06:40Z".parse().unwrap();
        CallRecord {
            call_id: "c1".into(),
            conference_id: "m1".into(),
            organizer: "ppm@acme.example".into(),
            direction: Direction::DialOut,
            service_number: String::new(),
            caller_number: String::new(),
            destination_number: "+33142685300".into(),
            start,
            end: start + jiff::SignedDuration::from_secs(duration_s),
        }
    }

    fn charge(funding: Funding, duration_s: u64, billable_s: u64, amount: &str) -> Charge {
        Charge {
            category: Category::DialOut,
            funding,
            capability: Sku::PayPerMinute,
            rule: "C18",
            duration_s,
            billable_s,
            rate: Some(AppliedRate {
                name: "France".into(),
                country: "FR".into(),
                premium: false,
                rate_per_minute: d("0.0240"),
                first_block_s: 60,
                increment_s: 60,
                effective_from: "2026-01-01T00:00:00Z".parse().unwrap(),
            }),
            connection_fee: d("0.01"),
            amount: d(amount),
            pool_minutes: 0,
            other_country: Some("FR".into()),
            domestic: Some(false),
            lots: vec![(1, d(amount))],
            balance_after: Some(d("99.68")),
            recharge_lot: None,
        }
    }

    #[test]
    fn c6_c7_a_credit_charge_shows_the_exact_value_and_its_one_rounding() {
        let eur = Currency::parse("EUR").unwrap();
        let c = charge(Funding::Credits, 90, 120, "0.06");
        let steps = charged(&record(90), &c, eur, None).unwrap();
        let rules: Vec<&str> = steps.iter().map(Step::rule).collect();
        assert_eq!(rules, ["C38", "C18", "C36", "C6", "C7", "C10", "C24"]);
        assert!(steps.contains(&Step::Billable {
            duration_s: 90,
            first_block_s: 60,
            increment_s: 60,
            billable_s: 120,
        }));
        // 0.01 + 0.0240 × 120 / 60 = 0.058, rounded once to 0.06 (C7).
        assert!(steps.contains(&Step::CreditCost {
            connection_fee: d("0.01"),
            rate_per_minute: d("0.0240"),
            billable_s: 120,
            exact: d("0.058"),
            rounded: d("0.06"),
        }));
    }

    #[test]
    fn c32_a_split_charge_pays_the_credit_seconds_without_fee_and_c24_nothing_debited() {
        let eur = Currency::parse("EUR").unwrap();
        let mut c = charge(Funding::PoolAndCredits, 150, 180, "0.05");
        c.pool_minutes = 1;
        c.connection_fee = Decimal::ZERO;
        let place = RatePlace {
            kind: "dial_out",
            key: "+33".into(),
            origin: None,
            connection_fee: d("0.01"),
        };
        let steps = charged(&record(150), &c, eur, Some(place)).unwrap();
        assert!(steps.contains(&Step::SplitCost {
            billable_s: 180,
            pool_minutes: 1,
            credit_s: 120,
            fee_waived: true,
            rate_per_minute: d("0.0240"),
            exact: d("0.048"),
            rounded: d("0.05"),
        }));
        let mut included = charge(Funding::Included, 300, 0, "0");
        included.rate = None;
        included.lots.clear();
        let steps = charged(&record(300), &included, eur, None).unwrap();
        assert!(steps.contains(&Step::NothingDebited));
        assert!(steps.contains(&Step::Included));
    }
}
