//! The Communications Credits wallet (C10 to C15, C24, C28, C34): FIFO lots with a 12-month
//! expiry, forfeits, debt, auto-recharge, and an append-only double-entry journal from which every
//! balance can be recomputed.

use crate::directory::AutoRecharge;
use crate::money::{Overflow, add, sub, sum};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use rust_decimal::Decimal;
use std::collections::VecDeque;

mod refund;
pub use refund::Refund;

/// A lot's number within its tenant, in funding order.
pub type LotId = u64;

/// Where a lot's money came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LotSource {
    /// A funding by the tenant admin or the operator, with its reference.
    Manual { reference: String },
    /// An auto-recharge caused by the debit of `call_id`.
    AutoRecharge { call_id: String },
}

/// One funding's credit, drained first-in first-out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lot {
    pub id: LotId,
    pub funded_at: Timestamp,
    /// C10: 12 calendar months after `funded_at`, same local wall-clock time in the tenant time
    /// zone (29 February clamps to 28 February). Usable strictly before this instant.
    pub expires_at: Timestamp,
    pub amount: Decimal,
    /// What is left; forfeited at `expires_at`.
    pub remaining: Decimal,
    pub source: LotSource,
    /// The 30-day expiry warning (C15) has been raised.
    pub warned: bool,
}

/// C10: the expiry instant of a lot funded at `funded_at`.
/// A lot funded within twelve months of the end of the representable range never expires
/// (its expiry is the latest instant).
pub fn lot_expiry(funded_at: Timestamp, tz: &TimeZone) -> Timestamp {
    funded_at
        .to_zoned_datetime(tz.clone())
        .checked_add(12.months())
        .map_or(Timestamp::MAX, |expiry| expiry.timestamp())
}

/// An account of the double-entry journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Account {
    /// Money coming from outside (payments).
    Payments,
    /// What remains of one lot.
    Lot(LotId),
    /// Negative balance carried (C13): negative while in debt.
    Debt,
    /// Money consumed by calls.
    Usage,
    /// Money forfeited at lot expiry.
    Forfeits,
}

impl Account {
    /// True for the accounts whose sum is the wallet balance.
    pub fn is_wallet(self) -> bool {
        matches!(self, Account::Lot(_) | Account::Debt)
    }
}

/// One leg of an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posting {
    pub account: Account,
    /// Signed: positive adds to the account.
    pub amount: Decimal,
}

/// What an entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryKind {
    Funding,
    Recharge,
    Debit,
    Forfeit,
    /// A charge given back when its call is rerated (`refund`).
    Refund,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Funding => "funding",
            EntryKind::Recharge => "recharge",
            EntryKind::Debit => "debit",
            EntryKind::Forfeit => "forfeit",
            EntryKind::Refund => "refund",
        }
    }

    pub fn parse(text: &str) -> Option<EntryKind> {
        [
            EntryKind::Funding,
            EntryKind::Recharge,
            EntryKind::Debit,
            EntryKind::Forfeit,
            EntryKind::Refund,
        ]
        .into_iter()
        .find(|k| k.as_str() == text)
    }
}

/// One journal entry: its postings always sum to zero (C24).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Per-tenant sequence, from 1, without gaps.
    pub seq: u64,
    pub at: Timestamp,
    pub kind: EntryKind,
    /// The magnitude of the movement (always positive).
    pub amount: Decimal,
    /// The call a debit or recharge comes from.
    pub call_id: Option<String>,
    /// The funding reference, or the lot a forfeit empties.
    pub reference: Option<String>,
    pub postings: Vec<Posting>,
    /// The wallet balance after this entry.
    pub balance_after: Decimal,
}

impl Entry {
    /// The change this entry makes to the wallet balance.
    pub fn wallet_delta(&self) -> Decimal {
        // An entry's wallet postings share one sign and add up to at most its amount.
        self.checked_wallet_delta()
            .expect("an entry's wallet postings add up to at most its amount")
    }

    /// `wallet_delta`, or `Overflow` for an entry read back whose wallet postings add up to
    /// more than an amount can hold (a damaged journal).
    pub fn checked_wallet_delta(&self) -> Result<Decimal, Overflow> {
        sum(self
            .postings
            .iter()
            .filter(|p| p.account.is_wallet())
            .map(|p| p.amount))
    }

    /// The sum of all the entry's postings (zero for an entry that balances, C24), or
    /// `Overflow` for a damaged journal.
    pub fn checked_legs(&self) -> Result<Decimal, Overflow> {
        sum(self.postings.iter().map(|p| p.amount))
    }
}

/// A notification (C15), kept in an outbox and delivered later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    RechargeSucceeded {
        at: Timestamp,
        amount: Decimal,
        lot: LotId,
    },
    RechargeFailed {
        at: Timestamp,
        amount: Decimal,
        retry_after: Timestamp,
    },
    BalanceDepleted {
        at: Timestamp,
        balance: Decimal,
    },
    LowBalance {
        at: Timestamp,
        threshold: Decimal,
        balance: Decimal,
    },
    LotExpiringSoon {
        at: Timestamp,
        lot: LotId,
        expires_at: Timestamp,
        remaining: Decimal,
    },
    PoolThreshold {
        at: Timestamp,
        month: String,
        percent: u8,
        used_minutes: u32,
        size_minutes: u32,
    },
    /// C26: a live call got the last window the engine can promise (its extension is
    /// exhausted, its grant grew by less than a window, or nothing is left for another one):
    /// the edge may warn the caller before the cut at `ends_at`.
    CallLastWindow {
        at: Timestamp,
        call_id: String,
        /// Seconds from the call's start (its answer, once answered) the call may last.
        max_duration_s: u64,
        /// Seconds from `at` to the end of the grant (0 when already past).
        remaining_s: u64,
        /// When the grant ends: the call is cut then.
        ends_at: Timestamp,
    },
    /// C46: a rule of the toll-fraud guard found a dial-out (`enforced`: it was refused or
    /// cut; otherwise only recorded, in monitor mode or while learning). `hour` and `day`:
    /// the tenant's exposure (C44) of the rolling hour and day with this call.
    FraudAlert {
        at: Timestamp,
        reason: crate::reason::Reason,
        enforced: bool,
        organizer: String,
        country: crate::numbers::Country,
        hour: Decimal,
        day: Decimal,
    },
    /// A first call to a country the tenant has not called recently.
    FraudNewCountry {
        at: Timestamp,
        country: crate::numbers::Country,
        organizer: String,
    },
    /// Dial-out suspended for one organizer, or the whole tenant (`organizer` `None`).
    FraudSuspended {
        at: Timestamp,
        organizer: Option<String>,
        reason: crate::reason::Reason,
    },
    /// A suspension lifted (C46), by whom (the key's role).
    FraudLifted {
        at: Timestamp,
        organizer: Option<String>,
        by: String,
    },
}

impl Event {
    /// The stable event type.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::RechargeSucceeded { .. } => "wallet.recharge_succeeded",
            Event::RechargeFailed { .. } => "wallet.recharge_failed",
            Event::BalanceDepleted { .. } => "wallet.balance_depleted",
            Event::LowBalance { .. } => "wallet.low_balance",
            Event::LotExpiringSoon { .. } => "wallet.lot_expiring",
            Event::PoolThreshold { .. } => "pool.threshold",
            Event::CallLastWindow { .. } => "call.last_window",
            Event::FraudAlert { .. } => "fraud.alert",
            Event::FraudNewCountry { .. } => "fraud.new_country",
            Event::FraudSuspended { .. } => "fraud.suspended",
            Event::FraudLifted { .. } => "fraud.lifted",
        }
    }

    pub fn at(&self) -> Timestamp {
        match self {
            Event::RechargeSucceeded { at, .. }
            | Event::RechargeFailed { at, .. }
            | Event::BalanceDepleted { at, .. }
            | Event::LowBalance { at, .. }
            | Event::LotExpiringSoon { at, .. }
            | Event::PoolThreshold { at, .. }
            | Event::CallLastWindow { at, .. }
            | Event::FraudAlert { at, .. }
            | Event::FraudNewCountry { at, .. }
            | Event::FraudSuspended { at, .. }
            | Event::FraudLifted { at, .. } => *at,
        }
    }
}

/// C12: a failed payment is retried no sooner than this after the failure.
pub const RECHARGE_RETRY_S: i64 = 3600;
/// C15: the lot-expiry warning is raised this long before expiry.
pub const EXPIRY_WARNING_DAYS: i64 = 30;

/// Entries and events produced by one operation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Effects {
    pub entries: Vec<Entry>,
    pub events: Vec<Event>,
}

/// How a debit was funded, lot by lot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DebitOutcome {
    /// (lot, amount taken) in FIFO order.
    pub lots: Vec<(LotId, Decimal)>,
    /// What went to debt (C13).
    pub to_debt: Decimal,
    pub balance_after: Decimal,
    /// The lot created by the recharge this debit caused (C34).
    pub recharge_lot: Option<LotId>,
}

/// A tenant's wallet: live lots, debt, totals and recharge state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wallet {
    /// Unexpired lots that still hold credit, oldest purchase first. Emptied lots leave (the
    /// journal keeps their history), so a debit or a balance never walks a long list.
    lots: VecDeque<Lot>,
    /// Sum of `remaining` over `lots`.
    live: Decimal,
    /// Debt carried, >= 0 (C13).
    debt: Decimal,
    next_lot: LotId,
    next_seq: u64,
    /// The latest instant the wallet has been brought to.
    clock: Timestamp,
    /// After a failed recharge, the earliest instant of the next attempt (C12).
    retry_after: Option<Timestamp>,
    /// Sum of all fundings and recharges.
    funded: Decimal,
    /// Sum of all debits.
    debited: Decimal,
    /// Sum of all forfeits.
    forfeited: Decimal,
}

impl Default for Wallet {
    fn default() -> Self {
        Wallet {
            lots: VecDeque::new(),
            live: Decimal::ZERO,
            debt: Decimal::ZERO,
            next_lot: 1,
            next_seq: 1,
            clock: Timestamp::MIN,
            retry_after: None,
            funded: Decimal::ZERO,
            debited: Decimal::ZERO,
            forfeited: Decimal::ZERO,
        }
    }
}

/// Everything a wallet is rebuilt from (the store's snapshot tables).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletSnapshot {
    pub lots: Vec<Lot>,
    pub debt: Decimal,
    pub next_lot: LotId,
    pub next_seq: u64,
    pub clock: Timestamp,
    pub retry_after: Option<Timestamp>,
    pub funded: Decimal,
    pub debited: Decimal,
    pub forfeited: Decimal,
}

impl Wallet {
    /// Rebuilds a wallet from a snapshot, checking C24 on the way in.
    pub fn restore(s: WalletSnapshot) -> Result<Wallet, String> {
        if s.lots.iter().any(|l| l.remaining <= Decimal::ZERO) {
            return Err("a stored live lot holds no credit".into());
        }
        let mut lots: Vec<Lot> = s.lots;
        lots.sort_by_key(|l| (l.funded_at, l.id));
        let live = sum(lots.iter().map(|l| l.remaining))
            .map_err(|_| "the stored lots add up to more than an amount can hold".to_string())?;
        let wallet = Wallet {
            live,
            lots: lots.into(),
            debt: s.debt,
            next_lot: s.next_lot,
            next_seq: s.next_seq,
            clock: s.clock,
            retry_after: s.retry_after,
            funded: s.funded,
            debited: s.debited,
            forfeited: s.forfeited,
        };
        wallet.check_invariant()?;
        Ok(wallet)
    }

    /// The state to persist.
    pub fn snapshot(&self) -> WalletSnapshot {
        WalletSnapshot {
            lots: self.lots.iter().cloned().collect(),
            debt: self.debt,
            next_lot: self.next_lot,
            next_seq: self.next_seq,
            clock: self.clock,
            retry_after: self.retry_after,
            funded: self.funded,
            debited: self.debited,
            forfeited: self.forfeited,
        }
    }

    /// Sum of live lots minus debt (may be negative, C13). Both are between 0 and
    /// `Decimal::MAX` (`check_invariant`), so the difference is always representable.
    pub fn balance(&self) -> Decimal {
        self.live
            .checked_sub(self.debt)
            .expect("two amounts between 0 and the largest decimal have a representable difference")
    }

    pub fn lots(&self) -> impl Iterator<Item = &Lot> {
        self.lots.iter()
    }

    pub fn debt(&self) -> Decimal {
        self.debt
    }

    pub fn clock(&self) -> Timestamp {
        self.clock
    }

    /// (funded, debited, forfeited) since the wallet was set up.
    pub fn totals(&self) -> (Decimal, Decimal, Decimal) {
        (self.funded, self.debited, self.forfeited)
    }

    /// C24: funded - debited - forfeited = balance; lots are never negative (and the live
    /// total is their sum).
    pub fn check_invariant(&self) -> Result<(), String> {
        self.check_totals()?;
        if Ok(self.live) != sum(self.lots.iter().map(|l| l.remaining)) {
            return Err("ledger invariant broken: the live total disagrees with the lots".into());
        }
        if self.debt < Decimal::ZERO || self.lots.iter().any(|l| l.remaining <= Decimal::ZERO) {
            return Err("ledger invariant broken: negative lot or debt".into());
        }
        Ok(())
    }

    /// C24 on the running totals alone, in constant time: funded - debited - forfeited =
    /// balance, with the live total (the lots' running sum) and the debt not negative.
    fn check_totals(&self) -> Result<(), String> {
        if self.live < Decimal::ZERO || self.debt < Decimal::ZERO {
            return Err("ledger invariant broken: negative live total or debt".into());
        }
        let expected = sub(self.funded, self.forfeited)
            .and_then(|net| sub(net, self.debited))
            .map_err(|_| "ledger invariant broken: the totals leave the representable range")?;
        if expected != self.balance() {
            return Err(format!(
                "ledger invariant broken: funded {} - debited {} - forfeited {} = {} but the balance is {}",
                self.funded,
                self.debited,
                self.forfeited,
                expected,
                self.balance()
            ));
        }
        Ok(())
    }

    /// Appends an entry (`seq` and `balance_after` are filled in here).
    fn push_entry(&mut self, effects: &mut Effects, draft: Entry) {
        assert_eq!(
            sum(draft.postings.iter().map(|p| p.amount)),
            Ok(Decimal::ZERO),
            "an entry's postings must balance"
        );
        let entry = Entry {
            seq: self.next_seq,
            balance_after: self.balance(),
            ..draft
        };
        self.next_seq += 1;
        effects.entries.push(entry);
    }

    /// Brings the wallet to `at`: forfeits every lot whose expiry is at or before `at` (C10,
    /// C28), and raises the 30-day warning of lots that expire soon (C15). Never moves back.
    pub fn advance(&mut self, at: Timestamp, effects: &mut Effects) {
        if at <= self.clock {
            return;
        }
        self.clock = at;
        // Expiry order need not be purchase order (29 February clamps back to the 28th; a
        // time-zone change shifts later lots), so every live lot is looked at. Emptied lots
        // have left, so there are few.
        if self.lots.iter().any(|l| l.expires_at <= at) {
            let mut expired: Vec<Lot> = self
                .lots
                .iter()
                .filter(|l| l.expires_at <= at)
                .cloned()
                .collect();
            self.lots.retain(|l| l.expires_at > at);
            expired.sort_by_key(|l| (l.expires_at, l.id));
            for lot in expired {
                // A lot's remainder is part of `live` and was part of `funded`, and forfeits
                // never exceed what was funded: neither total can leave the range.
                self.live = sub(self.live, lot.remaining).expect("a lot is part of the live total");
                self.forfeited = add(self.forfeited, lot.remaining)
                    .expect("forfeits are bounded by the fundings, which are representable");
                let postings = vec![
                    Posting {
                        account: Account::Lot(lot.id),
                        amount: -lot.remaining,
                    },
                    Posting {
                        account: Account::Forfeits,
                        amount: lot.remaining,
                    },
                ];
                let reference = Some(format!("lot {}", lot.id));
                self.push_entry(
                    effects,
                    draft(
                        lot.expires_at,
                        EntryKind::Forfeit,
                        lot.remaining,
                        None,
                        reference,
                        postings,
                    ),
                );
            }
        }
        let warn_from = at
            .checked_add((EXPIRY_WARNING_DAYS * 24).hours())
            .unwrap_or(Timestamp::MAX);
        for lot in self
            .lots
            .iter_mut()
            .filter(|l| !l.warned && l.expires_at <= warn_from)
        {
            lot.warned = true;
            effects.events.push(Event::LotExpiringSoon {
                at,
                lot: lot.id,
                expires_at: lot.expires_at,
                remaining: lot.remaining,
            });
        }
    }

    /// C10, C13: a new lot of `amount` at `at`; it pays any debt first. A funding whose totals
    /// would leave the representable range is refused (`Overflow`) and changes nothing.
    pub fn fund(
        &mut self,
        amount: Decimal,
        at: Timestamp,
        tz: &TimeZone,
        source: LotSource,
        effects: &mut Effects,
    ) -> Result<LotId, Overflow> {
        assert!(amount > Decimal::ZERO, "a funding is positive");
        // Checked before anything changes; bringing the wallet to `at` only lowers `live`.
        let funded = add(self.funded, amount)?;
        add(self.live, amount)?;
        self.advance(at, effects);
        let id = self.next_lot;
        self.next_lot += 1;
        let to_debt = self.debt.min(amount);
        self.debt = sub(self.debt, to_debt).expect("what pays the debt is at most the debt");
        let lot = Lot {
            id,
            funded_at: at,
            expires_at: lot_expiry(at, tz),
            amount,
            remaining: sub(amount, to_debt).expect("what pays the debt is at most the amount"),
            source: source.clone(),
            warned: false,
        };
        if lot.remaining > Decimal::ZERO {
            self.live = add(self.live, lot.remaining).expect("checked before the change");
            // Usually the newest purchase; a funding dated before a later one (a late record's
            // recharge) takes its place in purchase order.
            let place = self
                .lots
                .partition_point(|l| (l.funded_at, l.id) <= (lot.funded_at, lot.id));
            self.lots.insert(place, lot);
        }
        self.funded = funded;
        let mut postings = vec![
            Posting {
                account: Account::Payments,
                amount: -amount,
            },
            Posting {
                account: Account::Lot(id),
                amount: sub(amount, to_debt).expect("what pays the debt is at most the amount"),
            },
        ];
        if !to_debt.is_zero() {
            postings.push(Posting {
                account: Account::Debt,
                amount: to_debt,
            });
        }
        let (kind, call_id, reference) = match &source {
            LotSource::Manual { reference } => (EntryKind::Funding, None, Some(reference.clone())),
            LotSource::AutoRecharge { call_id } => {
                (EntryKind::Recharge, Some(call_id.as_str()), None)
            }
        };
        self.push_entry(
            effects,
            draft(at, kind, amount, call_id, reference, postings),
        );
        self.assert_invariant();
        Ok(id)
    }

    /// Whether a debit of `amount` keeps every total representable (`debit` refuses it
    /// otherwise, changing nothing).
    pub fn can_debit(&self, amount: Decimal) -> Result<(), Overflow> {
        add(self.debited, amount)?;
        add(self.debt, amount)?;
        Ok(())
    }

    /// C10, C13, C28, C34: a debit of `amount` at `at`, from the oldest usable lots, the rest
    /// as debt; then the balance notifications and at most one auto-recharge. A debit whose
    /// totals would leave the representable range is refused (`Overflow`) and changes nothing.
    pub fn debit(
        &mut self,
        amount: Decimal,
        at: Timestamp,
        call_id: &str,
        policy: &DebitPolicy<'_>,
        effects: &mut Effects,
    ) -> Result<DebitOutcome, Overflow> {
        self.debit_after_refund(amount, (at, call_id), policy, effects, Vec::new())
    }

    /// `debit`, taking first from `expired`: the parts a refund just gave back to lots that
    /// have expired (`refund`), which are forfeited once the debit has taken what it needs.
    /// The notifications and the recharge see the balance without them.
    pub(crate) fn debit_after_refund(
        &mut self,
        amount: Decimal,
        (at, call_id): (Timestamp, &str),
        policy: &DebitPolicy<'_>,
        effects: &mut Effects,
        mut expired: Vec<(LotId, Decimal)>,
    ) -> Result<DebitOutcome, Overflow> {
        assert!(amount > Decimal::ZERO, "a debit is positive");
        self.can_debit(amount)?;
        self.advance(at, effects);
        let pending = sum(expired.iter().map(|(_, a)| *a))?;
        let before = sub(self.balance(), pending)?;
        let mut outcome = DebitOutcome::default();
        let mut left = amount;
        let mut postings = Vec::new();
        for (id, part) in expired.iter_mut().filter(|(_, p)| *p > Decimal::ZERO) {
            let take = (*part).min(left);
            if take.is_zero() {
                break;
            }
            *part = sub(*part, take).expect("a take is at most the part");
            left = sub(left, take).expect("a take is at most what is left");
            self.live = sub(self.live, take).expect("a part is counted in the live total");
            outcome.lots.push((*id, take));
            postings.push(Posting {
                account: Account::Lot(*id),
                amount: -take,
            });
        }
        left = self.drain_lots(left, &mut outcome, &mut postings);
        if !left.is_zero() {
            self.debt = add(self.debt, left).expect("checked by can_debit");
            outcome.to_debt = left;
            postings.push(Posting {
                account: Account::Debt,
                amount: -left,
            });
        }
        postings.push(Posting {
            account: Account::Usage,
            amount,
        });
        self.debited = add(self.debited, amount).expect("checked by can_debit");
        self.push_entry(
            effects,
            draft(at, EntryKind::Debit, amount, Some(call_id), None, postings),
        );
        self.forfeit_parts(&expired, (at, call_id), effects);
        let after = self.balance();
        outcome.balance_after = after;
        self.balance_events(before, after, at, policy, effects);
        outcome.recharge_lot = self.maybe_recharge(at, call_id, policy, effects);
        self.assert_invariant();
        Ok(outcome)
    }

    /// Takes up to `left` from the oldest live lots; returns what they could not give.
    fn drain_lots(
        &mut self,
        mut left: Decimal,
        outcome: &mut DebitOutcome,
        postings: &mut Vec<Posting>,
    ) -> Decimal {
        let before = left;
        while let Some(lot) = self.lots.front_mut().filter(|_| !left.is_zero()) {
            let take = lot.remaining.min(left);
            lot.remaining = sub(lot.remaining, take).expect("a take is at most the lot");
            left = sub(left, take).expect("a take is at most what is left");
            outcome.lots.push((lot.id, take));
            postings.push(Posting {
                account: Account::Lot(lot.id),
                amount: -take,
            });
            if lot.remaining.is_zero() {
                self.lots.pop_front();
            }
        }
        let taken = sub(before, left).expect("what is left is at most the amount");
        self.live = sub(self.live, taken).expect("what the lots gave is part of the live total");
        left
    }

    /// C10: forfeits at once what a refund gave back to lots that have expired (and a debit
    /// did not take again), one `forfeit` entry per lot.
    pub(crate) fn forfeit_parts(
        &mut self,
        parts: &[(LotId, Decimal)],
        (at, call_id): (Timestamp, &str),
        effects: &mut Effects,
    ) {
        for (id, part) in parts.iter().filter(|(_, p)| *p > Decimal::ZERO) {
            self.live = sub(self.live, *part).expect("a part is counted in the live total");
            self.forfeited = add(self.forfeited, *part).expect("bounded by the fundings");
            let postings = vec![
                Posting {
                    account: Account::Lot(*id),
                    amount: -*part,
                },
                Posting {
                    account: Account::Forfeits,
                    amount: *part,
                },
            ];
            let reference = Some(format!("lot {id}"));
            let entry = draft(
                at,
                EntryKind::Forfeit,
                *part,
                Some(call_id),
                reference,
                postings,
            );
            self.push_entry(effects, entry);
        }
    }

    /// C15: balance reached zero, low-balance thresholds crossed by a debit.
    fn balance_events(
        &self,
        before: Decimal,
        after: Decimal,
        at: Timestamp,
        policy: &DebitPolicy<'_>,
        effects: &mut Effects,
    ) {
        if before > Decimal::ZERO && after <= Decimal::ZERO {
            effects
                .events
                .push(Event::BalanceDepleted { at, balance: after });
        }
        for (i, threshold) in policy.low_thresholds.iter().enumerate() {
            let Some(threshold) = threshold else { continue };
            if policy.low_thresholds[..i].contains(&Some(*threshold)) {
                continue;
            }
            if before >= *threshold && after < *threshold {
                effects.events.push(Event::LowBalance {
                    at,
                    threshold: *threshold,
                    balance: after,
                });
            }
        }
    }

    fn maybe_recharge(
        &mut self,
        at: Timestamp,
        call_id: &str,
        policy: &DebitPolicy<'_>,
        effects: &mut Effects,
    ) -> Option<LotId> {
        let recharge = policy.auto_recharge.filter(|s| s.enabled)?;
        if self.balance() >= recharge.trigger {
            return None;
        }
        if self.retry_after.is_some_and(|t| at < t) {
            return None;
        }
        if !recharge.payment_accepted {
            let retry_after = at
                .checked_add(RECHARGE_RETRY_S.seconds())
                .unwrap_or(Timestamp::MAX);
            self.retry_after = Some(retry_after);
            effects.events.push(Event::RechargeFailed {
                at,
                amount: recharge.amount,
                retry_after,
            });
            return None;
        }
        let source = LotSource::AutoRecharge {
            call_id: call_id.to_string(),
        };
        // A recharge that no total could hold is not made (the trigger and the amount are
        // bounded by MAX_AMOUNT, so only a wallet at the edge of the range gets here).
        let lot = self
            .fund(recharge.amount, at, policy.tz, source, effects)
            .ok()?;
        self.retry_after = None;
        effects.events.push(Event::RechargeSucceeded {
            at,
            amount: recharge.amount,
            lot,
        });
        Some(lot)
    }

    /// C24 after every change. The totals are checked in constant time in release builds too
    /// (a wrong balance is worse than a crash); the lots are summed against the live total in
    /// debug builds and tests, and by `check_invariant`, which a bulk run calls once a block.
    fn assert_invariant(&self) {
        let checked = if cfg!(debug_assertions) {
            self.check_invariant()
        } else {
            self.check_totals()
        };
        if let Err(message) = checked {
            panic!("{message}");
        }
    }
}

/// What a debit needs to know of the tenant besides the amount.
#[derive(Debug, Clone, Copy)]
pub struct DebitPolicy<'a> {
    /// The tenant's time zone (recharge lots expire in it).
    pub tz: &'a TimeZone,
    pub auto_recharge: Option<&'a AutoRecharge>,
    /// Low-balance notification thresholds (C15).
    pub low_thresholds: &'a [Option<Decimal>],
}

/// An entry before the wallet numbers it.
fn draft(
    at: Timestamp,
    kind: EntryKind,
    amount: Decimal,
    call_id: Option<&str>,
    reference: Option<String>,
    postings: Vec<Posting>,
) -> Entry {
    Entry {
        seq: 0,
        at,
        kind,
        amount,
        call_id: call_id.map(str::to_string),
        reference,
        postings,
        balance_after: Decimal::ZERO,
    }
}

/// C24 from the journal alone: (balance, funded, debited, forfeited) recomputed from entries.
/// A journal whose totals leave the representable range is one no wallet wrote (every wallet
/// total is checked as it changes): that broken invariant stops the process.
pub fn recompute(entries: &[Entry]) -> (Decimal, Decimal, Decimal, Decimal) {
    try_recompute(entries).expect("a wallet's journal has representable totals")
}

/// `recompute`, or `None` when a total leaves the representable range.
pub fn try_recompute(entries: &[Entry]) -> Option<(Decimal, Decimal, Decimal, Decimal)> {
    let mut totals = (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
    for entry in entries {
        for posting in &entry.postings {
            let amount = posting.amount;
            match posting.account {
                Account::Lot(_) | Account::Debt => totals.0 = totals.0.checked_add(amount)?,
                Account::Payments => totals.1 = totals.1.checked_sub(amount)?,
                Account::Usage => totals.2 = totals.2.checked_add(amount)?,
                Account::Forfeits => totals.3 = totals.3.checked_add(amount)?,
            }
        }
    }
    Some(totals)
}
