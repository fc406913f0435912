//! Refunds: a charge given back when its call is rerated (product.md capability 5). A refund is
//! one journal entry (`refund`) that takes the amount back from `Usage` and returns each part to
//! where the charge took it from:
//!
//! - a lot still live gets its part back;
//! - a lot the charge emptied that has not expired is live again with its part (its purchase
//!   and expiry instants unchanged: a refund never extends a lot's life, C10);
//! - a lot that has expired since gets its part back; the new charge takes from it first (had
//!   the call been charged right, the lot would have paid it) and the rest is forfeited at once,
//!   as it would have been at the lot's expiry (C10, C28). Money already forfeited is never
//!   brought back: a new charge above the old one takes the difference from the lots live now;
//! - the part the charge took as debt (C13) lowers the debt as it stands; what the debt no longer
//!   holds (a later funding paid it) goes to the newest lot, under the rules above.
//!
//! A refund never causes an auto-recharge (C34) and keeps C24 after every entry.

use super::{Account, Effects, EntryKind, Lot, LotId, Posting, Wallet, draft};
use crate::money::{Overflow, add, sub, sum};
use jiff::Timestamp;
use rust_decimal::Decimal;

/// What a refund gives back: the parts a charge took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund<'a> {
    pub call_id: &'a str,
    /// The rerate run, kept as the entry's reference.
    pub reference: &'a str,
    /// The lots the charge drained and how much from each.
    pub lots: &'a [(LotId, Decimal)],
    /// The part the charge took as debt.
    pub to_debt: Decimal,
}

impl Refund<'_> {
    /// The whole amount given back.
    pub fn amount(&self) -> Result<Decimal, Overflow> {
        add(sum(self.lots.iter().map(|(_, a)| *a))?, self.to_debt)
    }
}

impl Wallet {
    /// Gives a charge back at `at` (see the module). `known` describes the lots the charge
    /// names, and the newest lot, as the journal records them (used for those not live).
    /// Returns the parts given back to lots that have expired: they count in the balance
    /// until the new charge takes from them (`debit_after_refund`) and the rest is forfeited
    /// (`forfeit_parts`), which the caller does next.
    pub(crate) fn refund(
        &mut self,
        refund: &Refund<'_>,
        at: Timestamp,
        known: &[Lot],
        effects: &mut Effects,
    ) -> Result<Vec<(LotId, Decimal)>, Overflow> {
        let amount = refund.amount()?;
        assert!(amount > Decimal::ZERO, "a refund is positive");
        assert!(
            amount <= self.debited,
            "a refund gives back at most what was charged"
        );
        add(self.live, amount)?;
        self.advance(at, effects);
        let mut parts: Vec<(LotId, Decimal)> = refund.lots.to_vec();
        let from_debt = self.debt.min(refund.to_debt);
        let rest = sub(refund.to_debt, from_debt)?;
        if rest > Decimal::ZERO {
            let newest = self
                .lots
                .iter()
                .map(|l| l.id)
                .chain(known.iter().map(|l| l.id))
                .max()
                .expect("a debt paid since was paid by a lot");
            parts.push((newest, rest));
        }
        let mut postings = vec![Posting {
            account: Account::Usage,
            amount: -amount,
        }];
        if from_debt > Decimal::ZERO {
            self.debt = sub(self.debt, from_debt)?;
            postings.push(Posting {
                account: Account::Debt,
                amount: from_debt,
            });
        }
        let mut expired = Vec::new();
        for (id, part) in parts.into_iter().filter(|(_, p)| *p > Decimal::ZERO) {
            postings.push(Posting {
                account: Account::Lot(id),
                amount: part,
            });
            // Counted as live until its forfeit, so that every entry states its balance.
            self.live = add(self.live, part)?;
            if !self.give_back(id, part, at, known) {
                expired.push((id, part));
            }
        }
        self.debited = sub(self.debited, amount)?;
        let reference = Some(refund.reference.to_string());
        let entry = draft(
            at,
            EntryKind::Refund,
            amount,
            Some(refund.call_id),
            reference,
            postings,
        );
        self.push_entry(effects, entry);
        Ok(expired)
    }

    /// Returns `part` to lot `id`: to the live lot, or to the lot made live again when it has
    /// not expired at `at`. False when the lot has expired (its part is to be forfeited).
    fn give_back(&mut self, id: LotId, part: Decimal, at: Timestamp, known: &[Lot]) -> bool {
        if let Some(lot) = self.lots.iter_mut().find(|l| l.id == id) {
            lot.remaining = add(lot.remaining, part).expect("bounded by the lot's amount");
            return true;
        }
        let lot = known
            .iter()
            .find(|l| l.id == id)
            .expect("every lot a charge names is live or known from the journal");
        if lot.expires_at <= at {
            return false;
        }
        let lot = Lot {
            remaining: part,
            warned: false,
            ..lot.clone()
        };
        let place = self
            .lots
            .partition_point(|l| (l.funded_at, l.id) <= (lot.funded_at, lot.id));
        self.lots.insert(place, lot);
        true
    }
}
