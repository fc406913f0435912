//! The statement of one month: what it holds and how it is built from journal entries and the
//! calls behind their debits. Pure: no IO, no clock (the current instant is an input).
//!
//! A journal entry belongs to the month its `at` falls in, in the tenant's time zone (charging.md
//! sections 4 and 7). The opening balance is what the entries dated before the month add up to
//! (the running `balance_after` of the last of them when the journal is in date order, which is
//! the usual case); the closing balance is the opening plus the month's movements. So
//! `opening + fundings - usage - forfeits = closing` holds exactly (C24), with every amount the
//! ledger's own.

use crate::StatementError;
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use minutely_core::ledger::{Entry, EntryKind};
use minutely_core::money::{self, Currency, Overflow};
use minutely_core::rating::Category;
use rust_decimal::Decimal;
use std::collections::BTreeMap;

/// The most funding and forfeit lines one statement lists; a month holding more is refused.
pub const MAX_LINES: usize = 10_000;

/// The most distinct countries the usage table holds (there are fewer than 300 countries).
pub const MAX_COUNTRIES: usize = 400;

/// A calendar month, `YYYY-MM`: the core's, with its one parser and its bounds.
pub use minutely_core::calendar::Month;

/// The instants a month covers in a time zone, and whether it is still running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    pub month: Month,
    /// The first instant of the month (inclusive).
    pub start: Timestamp,
    /// The first instant of the next month (exclusive).
    pub end: Timestamp,
    /// The month has not ended at `as_of`: the statement is provisional ("to date").
    pub provisional: bool,
    /// When the statement was made.
    pub as_of: Timestamp,
}

impl Period {
    /// The month in the time zone, as seen at `now`. A month that has not started at `now` is
    /// refused, naming it; the current month is provisional.
    pub fn new(month: Month, tz: &TimeZone, now: Timestamp) -> Result<Period, StatementError> {
        let (start, end) = month.bounds(tz);
        if start > now {
            let current = Month::of_instant(now, tz);
            return Err(StatementError::FutureMonth { month, current });
        }
        Ok(Period {
            month,
            start,
            end,
            provisional: now < end,
            as_of: now,
        })
    }
}

/// What a statement needs to know of the call behind a debit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallFacts {
    pub category: Category,
    /// The destination country (dial-out) or the service number's country (dial-in), ISO
    /// 3166-1 alpha-2; empty when unknown.
    pub country: String,
    /// The call's whole minutes: its duration rounded up to the minute, as the usage reports
    /// count them.
    pub minutes: Decimal,
}

/// One funding or recharge of the month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FundingLine {
    pub seq: u64,
    pub at: Timestamp,
    /// The tenant-local date.
    pub date: Date,
    pub recharge: bool,
    /// The funding reference, or for a recharge the call whose debit caused it.
    pub reference: String,
    pub amount: Decimal,
}

/// One forfeit (an expired lot) of the month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForfeitLine {
    pub seq: u64,
    pub at: Timestamp,
    pub date: Date,
    /// The lot as the journal names it (`lot 3`).
    pub lot: String,
    pub amount: Decimal,
}

/// One refund of the month: a rerated call's old charge given back (its new charge is usage).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundLine {
    pub seq: u64,
    pub at: Timestamp,
    pub date: Date,
    /// The call refunded.
    pub call_id: String,
    /// The rerate run.
    pub run: String,
    pub amount: Decimal,
}

/// Usage of one category or country.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    pub calls: u64,
    pub minutes: Decimal,
    pub amount: Decimal,
}

impl Usage {
    fn add(&mut self, minutes: Decimal, amount: Decimal) -> Result<(), Overflow> {
        self.minutes = money::add(self.minutes, minutes)?;
        self.amount = money::add(self.amount, amount)?;
        self.calls = self.calls.saturating_add(1);
        Ok(())
    }
}

/// The usage categories, in the order a statement shows them.
pub const CATEGORIES: [Category; 3] = [
    Category::DialInToll,
    Category::DialInTollFree,
    Category::DialOut,
];

/// The monthly statement of a tenant's Communications Credits wallet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub tenant: String,
    pub tenant_name: String,
    pub currency: Currency,
    /// The IANA name of the tenant's time zone.
    pub timezone: String,
    pub period: Period,
    pub opening: Decimal,
    pub closing: Decimal,
    /// In journal order.
    pub fundings: Vec<FundingLine>,
    pub fundings_total: Decimal,
    /// Per category, in the order of [`CATEGORIES`] (every category, used or not).
    pub by_category: Vec<(Category, Usage)>,
    /// Per country code, sorted by code; calls without a known country under `""`.
    pub by_country: Vec<(String, Usage)>,
    pub usage: Usage,
    pub forfeits: Vec<ForfeitLine>,
    pub forfeits_total: Decimal,
    /// Refunds of rerated calls, in journal order.
    pub refunds: Vec<RefundLine>,
    pub refunds_total: Decimal,
    /// The journal entries the month holds.
    pub entries: u64,
}

impl Statement {
    /// `opening + fundings + refunds - usage - forfeits == closing`, exactly (false when the
    /// left side cannot be represented).
    pub fn balances(&self) -> bool {
        money::add(self.opening, self.fundings_total)
            .and_then(|a| money::add(a, self.refunds_total))
            .and_then(|a| money::sub(a, self.usage.amount))
            .and_then(|a| money::sub(a, self.forfeits_total))
            .is_ok_and(|closing| closing == self.closing)
    }
}

/// Builds a statement from the tenant's journal, read in `seq` order (all of it: entries dated
/// before the month make the opening balance).
#[derive(Debug)]
pub struct Builder {
    tenant: String,
    tenant_name: String,
    currency: Currency,
    timezone_name: String,
    tz: TimeZone,
    period: Period,
    opening: Decimal,
    movement: Decimal,
    last: Option<(u64, Decimal)>,
    fundings: Vec<FundingLine>,
    fundings_total: Decimal,
    by_category: BTreeMap<&'static str, (Category, Usage)>,
    by_country: BTreeMap<String, Usage>,
    usage: Usage,
    forfeits: Vec<ForfeitLine>,
    forfeits_total: Decimal,
    refunds: Vec<RefundLine>,
    refunds_total: Decimal,
    entries: u64,
}

impl Builder {
    pub fn new(
        tenant: &str,
        tenant_name: &str,
        currency: Currency,
        timezone_name: &str,
        tz: TimeZone,
        period: Period,
    ) -> Builder {
        Builder {
            tenant: tenant.to_string(),
            tenant_name: tenant_name.to_string(),
            currency,
            timezone_name: timezone_name.to_string(),
            tz,
            period,
            opening: Decimal::ZERO,
            movement: Decimal::ZERO,
            last: None,
            fundings: Vec::new(),
            fundings_total: Decimal::ZERO,
            by_category: BTreeMap::new(),
            by_country: BTreeMap::new(),
            usage: Usage::default(),
            forfeits: Vec::new(),
            forfeits_total: Decimal::ZERO,
            refunds: Vec::new(),
            refunds_total: Decimal::ZERO,
            entries: 0,
        }
    }

    /// Whether an entry belongs to the month (its debit then needs [`CallFacts`]).
    pub fn in_month(&self, entry: &Entry) -> bool {
        self.period.start <= entry.at && entry.at < self.period.end
    }

    /// Takes the next entry of the journal. `call` gives the facts of a debit's call; it is
    /// asked only for debits of the month. Checks C24 on the way: postings balance and each
    /// running balance follows from the one before.
    pub fn add(
        &mut self,
        entry: &Entry,
        call: impl FnOnce(&str) -> Result<CallFacts, StatementError>,
    ) -> Result<(), StatementError> {
        let broken = |_: Overflow| StatementError::Ledger { seq: entry.seq };
        let delta = self.check(entry)?;
        self.last = Some((entry.seq, entry.balance_after));
        if entry.at < self.period.start {
            self.opening = money::add(self.opening, delta).map_err(broken)?;
            return Ok(());
        }
        if entry.at >= self.period.end {
            return Ok(());
        }
        self.entries = self.entries.saturating_add(1);
        self.movement = money::add(self.movement, delta).map_err(broken)?;
        let date = entry.at.to_zoned_datetime(self.tz.clone()).date();
        match entry.kind {
            EntryKind::Funding | EntryKind::Recharge => {
                self.check_lines()?;
                let recharge = entry.kind == EntryKind::Recharge;
                let reference = entry
                    .reference
                    .clone()
                    .or_else(|| entry.call_id.clone())
                    .unwrap_or_default();
                self.fundings_total =
                    money::add(self.fundings_total, entry.amount).map_err(broken)?;
                self.fundings.push(FundingLine {
                    seq: entry.seq,
                    at: entry.at,
                    date,
                    recharge,
                    reference,
                    amount: entry.amount,
                });
            }
            EntryKind::Forfeit => {
                self.check_lines()?;
                self.forfeits_total =
                    money::add(self.forfeits_total, entry.amount).map_err(broken)?;
                self.forfeits.push(ForfeitLine {
                    seq: entry.seq,
                    at: entry.at,
                    date,
                    lot: entry.reference.clone().unwrap_or_default(),
                    amount: entry.amount,
                });
            }
            EntryKind::Refund => {
                self.check_lines()?;
                self.refunds_total =
                    money::add(self.refunds_total, entry.amount).map_err(broken)?;
                self.refunds.push(RefundLine {
                    seq: entry.seq,
                    at: entry.at,
                    date,
                    call_id: entry.call_id.clone().unwrap_or_default(),
                    run: entry.reference.clone().unwrap_or_default(),
                    amount: entry.amount,
                });
            }
            EntryKind::Debit => self.add_debit(entry, call)?,
        }
        Ok(())
    }

    /// C24 for one entry read in turn: its postings balance, it follows the previous entry
    /// without a gap, its running balance follows from the one before by its wallet delta, and
    /// its amount is that delta's size. The delta.
    fn check(&self, entry: &Entry) -> Result<Decimal, StatementError> {
        let broken = || StatementError::Ledger { seq: entry.seq };
        let delta = entry.checked_wallet_delta().map_err(|_| broken())?;
        let legs = entry.checked_legs().map_err(|_| broken())?;
        let before = self.last.map_or(Decimal::ZERO, |(_, balance)| balance);
        let expected_seq = self.last.map_or(Some(1), |(seq, _)| seq.checked_add(1));
        let follows = money::add(before, delta).is_ok_and(|after| after == entry.balance_after);
        if !legs.is_zero() || Some(entry.seq) != expected_seq || !follows {
            return Err(broken());
        }
        // The size of the movement, signed as the entry moves the balance.
        let signed = match entry.kind {
            EntryKind::Funding | EntryKind::Recharge | EntryKind::Refund => entry.amount,
            EntryKind::Debit | EntryKind::Forfeit => -entry.amount,
        };
        if signed != delta {
            return Err(broken());
        }
        Ok(delta)
    }

    /// A debit of the month: its call's usage, in total, by category and by country.
    fn add_debit(
        &mut self,
        entry: &Entry,
        call: impl FnOnce(&str) -> Result<CallFacts, StatementError>,
    ) -> Result<(), StatementError> {
        let broken = |_: Overflow| StatementError::Ledger { seq: entry.seq };
        let call_id = entry
            .call_id
            .as_deref()
            .ok_or(StatementError::Ledger { seq: entry.seq })?;
        let facts = call(call_id)?;
        if !self.by_country.contains_key(&facts.country) && self.by_country.len() >= MAX_COUNTRIES {
            return Err(StatementError::TooLarge {
                month: self.period.month,
                what: "countries",
                limit: MAX_COUNTRIES,
            });
        }
        self.usage
            .add(facts.minutes, entry.amount)
            .map_err(broken)?;
        self.by_category
            .entry(facts.category.as_str())
            .or_insert_with(|| (facts.category, Usage::default()))
            .1
            .add(facts.minutes, entry.amount)
            .map_err(broken)?;
        self.by_country
            .entry(facts.country)
            .or_default()
            .add(facts.minutes, entry.amount)
            .map_err(broken)
    }

    fn check_lines(&self) -> Result<(), StatementError> {
        if self.fundings.len() + self.forfeits.len() >= MAX_LINES {
            return Err(StatementError::TooLarge {
                month: self.period.month,
                what: "funding and forfeit lines",
                limit: MAX_LINES,
            });
        }
        Ok(())
    }

    /// The statement. The identity of [`Statement::balances`] holds by construction; it is
    /// checked all the same.
    pub fn finish(self) -> Result<Statement, StatementError> {
        let last_seq = self.last.map_or(0, |(seq, _)| seq);
        let closing = money::add(self.opening, self.movement)
            .map_err(|_| StatementError::Ledger { seq: last_seq })?;
        let by_category = CATEGORIES
            .iter()
            .map(|c| {
                let usage = self
                    .by_category
                    .get(c.as_str())
                    .map(|(_, u)| u.clone())
                    .unwrap_or_default();
                (*c, usage)
            })
            .collect();
        let statement = Statement {
            tenant: self.tenant,
            tenant_name: self.tenant_name,
            currency: self.currency,
            timezone: self.timezone_name,
            period: self.period,
            opening: self.opening,
            closing,
            fundings: self.fundings,
            fundings_total: self.fundings_total,
            by_category,
            by_country: self.by_country.into_iter().collect(),
            usage: self.usage,
            forfeits: self.forfeits,
            forfeits_total: self.forfeits_total,
            refunds: self.refunds,
            refunds_total: self.refunds_total,
            entries: self.entries,
        };
        if !statement.balances() {
            return Err(StatementError::Ledger { seq: last_seq });
        }
        Ok(statement)
    }
}
