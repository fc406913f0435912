//! What the store holds of each tenant's wallet, as the writer last committed it: a 128-bit
//! fingerprint of the wallet snapshot and one of the scheduled fundings. A batch that touched a
//! tenant without changing either (an authorization holds credit in memory only) leaves those
//! rows as they are instead of writing them again; the rows afterwards are the same either way.
//!
//! A tenant without a fingerprint (not yet written by this writer, or reloaded after a failed
//! commit) is always written in full: the map only ever skips a write whose rows the writer
//! itself committed, with exactly these values.

use minutely_core::engine::ScheduledFunding;
use minutely_core::ledger::{Lot, LotSource, WalletSnapshot};
use rust_decimal::Decimal;
use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};

/// The fingerprints of one tenant's stored wallet and scheduled fundings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stored {
    pub wallet: u128,
    pub scheduled: u128,
}

impl Stored {
    pub fn of(wallet: &WalletSnapshot, scheduled: &[ScheduledFunding]) -> Stored {
        Stored {
            wallet: fingerprint(|h| hash_wallet(wallet, h)),
            scheduled: fingerprint(|h| hash_scheduled(scheduled, h)),
        }
    }
}

/// The fingerprints of the tenants the writer committed, by tenant id.
#[derive(Debug, Default)]
pub(crate) struct Written(HashMap<String, Stored>);

impl Written {
    pub fn get(&self, tenant: &str) -> Option<Stored> {
        self.0.get(tenant).copied()
    }

    /// The batch that wrote `stored` for `tenant` committed.
    pub fn committed(&mut self, tenant: &str, stored: Stored) {
        match self.0.get_mut(tenant) {
            Some(slot) => *slot = stored,
            None => {
                self.0.insert(tenant.to_string(), stored);
            }
        }
    }

    /// What the store holds for `tenant` is no longer known (a failed commit reloaded it).
    pub fn forget(&mut self, tenant: &str) {
        self.0.remove(tenant);
    }
}

/// Two 64-bit SipHash digests of the same fields under different prefixes.
fn fingerprint(feed: impl Fn(&mut DefaultHasher)) -> u128 {
    let mut halves = [0u64; 2];
    for (prefix, half) in halves.iter_mut().enumerate() {
        let mut h = DefaultHasher::new();
        h.write_usize(prefix);
        feed(&mut h);
        *half = h.finish();
    }
    (u128::from(halves[0]) << 64) | u128::from(halves[1])
}

/// A decimal exactly as stored: its value AND its scale (`1.0` and `1.00` are stored as
/// different texts, so they must not fingerprint alike).
fn hash_decimal(d: Decimal, h: &mut DefaultHasher) {
    h.write(&d.serialize());
}

fn hash_wallet(s: &WalletSnapshot, h: &mut DefaultHasher) {
    // Every field by name: a field added to the snapshot fails to compile here until it is
    // fingerprinted too.
    let WalletSnapshot {
        lots,
        debt,
        next_lot,
        next_seq,
        clock,
        retry_after,
        funded,
        debited,
        forfeited,
    } = s;
    h.write_usize(lots.len());
    for lot in lots {
        hash_lot(lot, h);
    }
    for d in [debt, funded, debited, forfeited] {
        hash_decimal(*d, h);
    }
    next_lot.hash(h);
    next_seq.hash(h);
    clock.hash(h);
    retry_after.hash(h);
}

fn hash_lot(lot: &Lot, h: &mut DefaultHasher) {
    let Lot {
        id,
        funded_at,
        expires_at,
        amount,
        remaining,
        source,
        warned,
    } = lot;
    id.hash(h);
    funded_at.hash(h);
    expires_at.hash(h);
    hash_decimal(*amount, h);
    hash_decimal(*remaining, h);
    match source {
        LotSource::Manual { reference } => (0u8, reference).hash(h),
        LotSource::AutoRecharge { call_id } => (1u8, call_id).hash(h),
    }
    warned.hash(h);
}

fn hash_scheduled(scheduled: &[ScheduledFunding], h: &mut DefaultHasher) {
    h.write_usize(scheduled.len());
    for f in scheduled {
        let ScheduledFunding {
            reference,
            amount,
            at,
        } = f;
        reference.hash(h);
        hash_decimal(*amount, h);
        at.hash(h);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot() -> WalletSnapshot {
        let at: jiff::Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        WalletSnapshot {
            lots: vec![Lot {
                id: 1,
                funded_at: at,
                expires_at: at,
                amount: Decimal::new(100, 0),
                remaining: Decimal::new(100, 0),
                source: LotSource::Manual {
                    reference: "INV-1".into(),
                },
                warned: false,
            }],
            debt: Decimal::ZERO,
            next_lot: 2,
            next_seq: 2,
            clock: at,
            retry_after: None,
            funded: Decimal::new(100, 0),
            debited: Decimal::ZERO,
            forfeited: Decimal::ZERO,
        }
    }

    #[test]
    fn every_stored_difference_changes_the_fingerprint() {
        let base = Stored::of(&snapshot(), &[]);
        assert_eq!(base, Stored::of(&snapshot(), &[]), "deterministic");
        let mut changes: Vec<WalletSnapshot> = Vec::new();
        let mut s = snapshot();
        s.lots[0].remaining = Decimal::new(9999, 2);
        changes.push(s);
        let mut s = snapshot();
        // The same value at another scale is another stored text.
        s.lots[0].remaining = Decimal::new(10000, 2);
        changes.push(s);
        let mut s = snapshot();
        s.lots[0].warned = true;
        changes.push(s);
        let mut s = snapshot();
        s.lots[0].source = LotSource::AutoRecharge {
            call_id: "INV-1".into(),
        };
        changes.push(s);
        let mut s = snapshot();
        s.lots.clear();
        changes.push(s);
        let mut s = snapshot();
        s.retry_after = Some(s.clock);
        changes.push(s);
        let mut s = snapshot();
        s.debt = Decimal::new(1, 2);
        changes.push(s);
        for changed in &changes {
            assert_ne!(Stored::of(changed, &[]).wallet, base.wallet, "{changed:?}");
        }
        let scheduled = ScheduledFunding {
            reference: "INV-2".into(),
            amount: Decimal::new(5, 0),
            at: snapshot().clock,
        };
        let with = Stored::of(&snapshot(), std::slice::from_ref(&scheduled));
        assert_eq!(with.wallet, base.wallet);
        assert_ne!(with.scheduled, base.scheduled);
    }
}
