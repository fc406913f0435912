//! Writes to the Communications Credits wallet as commands: a manual funding (C10, C11, C13,
//! C40), with its audit row. The wallet's rules are the core's (`TenantBook::fund`).

use crate::audit::{Actor, funding_snapshots};
use crate::commands::{Answer, FromAnswer};
use crate::error::{ServiceError, ServiceResult};
use crate::writer::Ctx;
use jiff::Timestamp;
use minutely_core::directory::AmountRules;
use minutely_core::engine::TenantBook;
use minutely_core::ledger::{Effects, Lot, LotSource, lot_expiry};
use minutely_core::money::{self, Currency};
use rust_decimal::Decimal;

/// A wallet command of one tenant.
pub enum WalletCommand {
    /// Funds the wallet with a new lot of `amount` (already read and bounded) under the
    /// caller's `reference`, unique per tenant.
    Fund {
        actor: Actor,
        tenant: String,
        amount: Decimal,
        reference: String,
        /// The operator funds any tenant; a reseller tenant's own admin may not (C3).
        by_operator: bool,
    },
}

/// A funding made.
#[derive(Debug, Clone)]
pub struct Funded {
    pub tenant: String,
    pub reference: String,
    pub currency: Currency,
    /// The lot as made (it is gone from the wallet when it all went to debt).
    pub lot: Lot,
    /// The part of the funding that paid debt (C13).
    pub paid_debt: Decimal,
    /// The wallet balance after the funding.
    pub balance: Decimal,
    /// The balance minus live reservations (C14).
    pub available: Decimal,
}

/// What a wallet command did.
#[derive(Debug, Clone)]
pub enum WalletAnswer {
    Funded(Funded),
}

impl WalletCommand {
    /// Carries the command out in the writer.
    pub fn execute(self, ctx: &mut Ctx<'_>) -> ServiceResult<WalletAnswer> {
        match self {
            WalletCommand::Fund {
                actor,
                tenant,
                amount,
                reference,
                by_operator,
            } => fund(ctx, &actor, tenant, (amount, reference), by_operator)
                .map(WalletAnswer::Funded),
        }
    }
}

/// C10, C11, C13, C40, in the writer: each reference credits once.
fn fund(
    ctx: &mut Ctx<'_>,
    actor: &Actor,
    tenant: String,
    (amount, reference): (Decimal, String),
    by_operator: bool,
) -> ServiceResult<Funded> {
    ctx.book(&tenant)?;
    // Two identical requests can land in one batch: the first is not in the store yet, and the
    // second would make the whole batch's commit fail on the primary key.
    if ctx.funding_ref_used(&tenant, &reference)? {
        return Err(ServiceError::conflict(format!(
            "reference {reference:?} was already used for a funding of tenant {tenant}; \
             nothing was credited"
        )));
    }
    let rules = ctx.catalogue.rules.clone();
    let now = ctx.now;
    let book = ctx.book(&tenant)?;
    let made = fund_book(book, (amount, reference), now, by_operator, &rules)?;
    let reference = made.funded.reference.clone();
    ctx.effects(&tenant, made.effects);
    ctx.touched(&tenant);
    ctx.funding_ref(&tenant, reference.clone());
    actor.record(
        ctx,
        Some(&tenant),
        "wallet.fund",
        &reference,
        Some(made.before),
        Some(made.after),
    );
    Ok(made.funded)
}

/// A funding made on a book: what to answer, the journal's effects and the audit row's
/// pictures of the wallet before and after.
pub struct FundingMade {
    pub funded: Funded,
    pub effects: Effects,
    pub before: String,
    pub after: String,
}

/// The one funding use case (C10, C11, C13, C40), shared by the writer and the command line:
/// funds `book` at `at` with a lot of `amount` under `reference` (the caller has checked that
/// the reference is new). A refusal changes nothing: `TenantBook::fund` checks everything
/// before it changes anything.
pub fn fund_book(
    book: &mut TenantBook,
    (amount, reference): (Decimal, String),
    at: Timestamp,
    by_operator: bool,
    rules: &AmountRules,
) -> ServiceResult<FundingMade> {
    let balance_before = book.wallet.balance();
    let (lot_id, effects) = book.fund(amount, at, &reference, by_operator, rules)?;
    let currency = book.tenant.currency;
    let remaining = book
        .wallet
        .lots()
        .find(|l| l.id == lot_id)
        .map_or(Decimal::ZERO, |l| l.remaining);
    // What was not left in the lot paid debt (C13). The book has changed: no error may be
    // returned from here on, or the change would be kept without its journal entries; a lot
    // holding more than its funding is a broken invariant, not an input.
    let paid_debt =
        money::sub(amount, remaining).expect("a lot's remainder and its funding are bounded");
    assert!(
        paid_debt >= Decimal::ZERO,
        "a funding of {amount} left {remaining} in its lot"
    );
    let lot = Lot {
        id: lot_id,
        funded_at: at,
        expires_at: lot_expiry(at, &book.tenant.timezone),
        amount,
        remaining,
        source: LotSource::Manual {
            reference: reference.clone(),
        },
        warned: false,
    };
    let (balance, available) = (book.wallet.balance(), book.available());
    let (before, after) = funding_snapshots(
        currency,
        balance_before,
        balance,
        amount,
        &reference,
        lot_id,
    );
    let funded = Funded {
        tenant: book.tenant.id.clone(),
        reference,
        currency,
        lot,
        paid_debt,
        balance,
        available,
    };
    Ok(FundingMade {
        funded,
        effects,
        before,
        after,
    })
}

impl FromAnswer for Funded {
    fn from_answer(answer: Answer) -> Option<Funded> {
        match answer {
            Answer::Wallet(WalletAnswer::Funded(a)) => Some(a),
            _ => None,
        }
    }
}
