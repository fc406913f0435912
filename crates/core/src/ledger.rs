//! The Communications Credits wallet (C10 to C15, C24, C28, C34): FIFO lots with a 12-month
//! expiry, forfeits, debt, auto-recharge, and an append-only double-entry journal from which every
//! balance can be recomputed.

use crate::directory::AutoRecharge;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use rust_decimal::Decimal;
use std::collections::VecDeque;

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
pub fn lot_expiry(funded_at: Timestamp, tz: &TimeZone) -> Timestamp {
    funded_at
        .to_zoned_datetime(tz.clone())
        .checked_add(12.months())
        .expect("twelve months after a funding is representable")
        .timestamp()
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
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Funding => "funding",
            EntryKind::Recharge => "recharge",
            EntryKind::Debit => "debit",
            EntryKind::Forfeit => "forfeit",
        }
    }

    pub fn parse(text: &str) -> Option<EntryKind> {
        [
            EntryKind::Funding,
            EntryKind::Recharge,
            EntryKind::Debit,
            EntryKind::Forfeit,
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
        self.postings
            .iter()
            .filter(|p| p.account.is_wallet())
            .map(|p| p.amount)
            .sum()
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
        }
    }

    pub fn at(&self) -> Timestamp {
        match self {
            Event::RechargeSucceeded { at, .. }
            | Event::RechargeFailed { at, .. }
            | Event::BalanceDepleted { at, .. }
            | Event::LowBalance { at, .. }
            | Event::LotExpiringSoon { at, .. }
            | Event::PoolThreshold { at, .. } => *at,
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
        let wallet = Wallet {
            live: lots.iter().map(|l| l.remaining).sum(),
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

    /// Sum of live lots minus debt (may be negative, C13).
    pub fn balance(&self) -> Decimal {
        self.live - self.debt
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

    /// C24: funded - debited - forfeited = balance; lots are never negative.
    pub fn check_invariant(&self) -> Result<(), String> {
        let expected = self.funded - self.debited - self.forfeited;
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
        if self.live != self.lots.iter().map(|l| l.remaining).sum::<Decimal>() {
            return Err("ledger invariant broken: the live total disagrees with the lots".into());
        }
        if self.debt < Decimal::ZERO || self.lots.iter().any(|l| l.remaining <= Decimal::ZERO) {
            return Err("ledger invariant broken: negative lot or debt".into());
        }
        Ok(())
    }

    /// Appends an entry (`seq` and `balance_after` are filled in here).
    fn push_entry(&mut self, effects: &mut Effects, draft: Entry) {
        assert_eq!(
            draft.postings.iter().map(|p| p.amount).sum::<Decimal>(),
            Decimal::ZERO,
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
                self.live -= lot.remaining;
                self.forfeited += lot.remaining;
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
        let warn_from = at + (EXPIRY_WARNING_DAYS * 24).hours();
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

    /// C10, C13: a new lot of `amount` at `at`; it pays any debt first.
    pub fn fund(
        &mut self,
        amount: Decimal,
        at: Timestamp,
        tz: &TimeZone,
        source: LotSource,
        effects: &mut Effects,
    ) -> LotId {
        assert!(amount > Decimal::ZERO, "a funding is positive");
        self.advance(at, effects);
        let id = self.next_lot;
        self.next_lot += 1;
        let to_debt = self.debt.min(amount);
        self.debt -= to_debt;
        let lot = Lot {
            id,
            funded_at: at,
            expires_at: lot_expiry(at, tz),
            amount,
            remaining: amount - to_debt,
            source: source.clone(),
            warned: false,
        };
        if lot.remaining > Decimal::ZERO {
            self.live += lot.remaining;
            // Usually the newest purchase; a funding dated before a later one (a late record's
            // recharge) takes its place in purchase order.
            let place = self
                .lots
                .partition_point(|l| (l.funded_at, l.id) <= (lot.funded_at, lot.id));
            self.lots.insert(place, lot);
        }
        self.funded += amount;
        let mut postings = vec![
            Posting {
                account: Account::Payments,
                amount: -amount,
            },
            Posting {
                account: Account::Lot(id),
                amount: amount - to_debt,
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
        id
    }

    /// One debit of `amount` for `call_id` at `at` (C10 FIFO, C13 debt), then C34 auto-recharge
    /// and the C15 balance notifications.
    pub fn debit(
        &mut self,
        amount: Decimal,
        at: Timestamp,
        call_id: &str,
        policy: &DebitPolicy<'_>,
        effects: &mut Effects,
    ) -> DebitOutcome {
        assert!(amount > Decimal::ZERO, "a debit is positive");
        self.advance(at, effects);
        let before = self.balance();
        let mut outcome = DebitOutcome::default();
        let mut left = amount;
        let mut postings = Vec::new();
        while let Some(lot) = self.lots.front_mut().filter(|_| !left.is_zero()) {
            let take = lot.remaining.min(left);
            lot.remaining -= take;
            left -= take;
            outcome.lots.push((lot.id, take));
            postings.push(Posting {
                account: Account::Lot(lot.id),
                amount: -take,
            });
            if lot.remaining.is_zero() {
                self.lots.pop_front();
            }
        }
        self.live -= amount - left;
        if !left.is_zero() {
            self.debt += left;
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
        self.debited += amount;
        self.push_entry(
            effects,
            draft(at, EntryKind::Debit, amount, Some(call_id), None, postings),
        );
        let after = self.balance();
        outcome.balance_after = after;
        if before > Decimal::ZERO && after <= Decimal::ZERO {
            effects
                .events
                .push(Event::BalanceDepleted { at, balance: after });
        }
        for (i, threshold) in policy.low_thresholds.iter().enumerate() {
            let Some(threshold) = threshold else { continue };
            // Two thresholds set to the same amount are one notification, not two (C15).
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
        outcome.recharge_lot = self.maybe_recharge(at, call_id, policy, effects);
        self.assert_invariant();
        outcome
    }

    /// C12, C34: exactly one recharge per debit that leaves the balance strictly below the
    /// trigger; a failed payment waits an hour before the next attempt.
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
            let retry_after = at + RECHARGE_RETRY_S.seconds();
            self.retry_after = Some(retry_after);
            effects.events.push(Event::RechargeFailed {
                at,
                amount: recharge.amount,
                retry_after,
            });
            return None;
        }
        self.retry_after = None;
        let lot = self.fund(
            recharge.amount,
            at,
            policy.tz,
            LotSource::AutoRecharge {
                call_id: call_id.to_string(),
            },
            effects,
        );
        effects.events.push(Event::RechargeSucceeded {
            at,
            amount: recharge.amount,
            lot,
        });
        Some(lot)
    }

    fn assert_invariant(&self) {
        // A wrong balance is worse than a crash: this is checked in release builds too.
        if let Err(message) = self.check_invariant() {
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
pub fn recompute(entries: &[Entry]) -> (Decimal, Decimal, Decimal, Decimal) {
    let mut totals = (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
    for entry in entries {
        for posting in &entry.postings {
            match posting.account {
                Account::Lot(_) | Account::Debt => totals.0 += posting.amount,
                Account::Payments => totals.1 -= posting.amount,
                Account::Usage => totals.2 += posting.amount,
                Account::Forfeits => totals.3 += posting.amount,
            }
        }
    }
    totals
}
