//! The bodies of the wallet's routes and the checks made before any state is touched.

use crate::error::{ServiceError, ServiceResult};
use minutely_core::Reason;
use minutely_core::money::{BadAmount, MAX_AMOUNT, parse_amount};
use rust_decimal::Decimal;
use serde::Deserialize;
use utoipa::ToSchema;

/// A manual funding.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FundingRequest {
    /// Whole currency units, at least the operator's minimum (50 by default), as a decimal
    /// string (C11).
    pub amount: String,
    /// Your reference for the payment (purchase order, invoice): unique per tenant. A reference
    /// already used is refused with 409 `conflict`, so a retried request never credits twice.
    pub reference: String,
}

impl FundingRequest {
    /// The body's checks, made before any state is touched: the amount read (never rounded,
    /// at most `MAX_AMOUNT`) and the reference checked. The amount's rules (minimum, whole
    /// units) are the wallet's, checked later.
    pub fn check(&self) -> ServiceResult<Decimal> {
        let amount = parse_bounded_money("amount", &self.amount, MAX_AMOUNT, Units::Whole)?;
        check_reference(&self.reference)?;
        Ok(amount)
    }
}

/// What a money field holds, for the refusal of digits that cannot be held exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Units {
    /// Whole currency units (fundings, recharge amount and trigger, C11): too many digits
    /// after the point is `amount_not_whole`.
    Whole,
    /// Any amount (thresholds): too many digits after the point is `invalid_request`.
    Any,
}

/// Reads a money field (a decimal string) and checks it against its bound `max`, never
/// rounding: malformed text is `invalid_request`; more digits after the point than can be
/// held exactly is refused (see `Units`); an amount above `max`, or with more digits before
/// the point than any amount may have, is `amount_out_of_range`, naming the field and the
/// bound. (A negative amount is left to the field's own rules, such as the minimum.)
pub fn parse_bounded_money(
    field: &str,
    text: &str,
    max: Decimal,
    units: Units,
) -> ServiceResult<Decimal> {
    let out_of_range = || {
        ServiceError::reason(
            Reason::AmountOutOfRange,
            format!("{field}: {text:?} is larger than {max}, the largest {field} accepted"),
        )
    };
    let amount = match parse_amount(text) {
        Ok(amount) => amount,
        Err(BadAmount::TooLarge(_)) => return Err(out_of_range()),
        Err(BadAmount::TooPrecise(_)) if units == Units::Whole => {
            return Err(ServiceError::reason(
                Reason::AmountNotWhole,
                format!(
                    "{field}: {text:?} has more digits after the point than can be held exactly; it is never rounded"
                ),
            ));
        }
        Err(e) => return Err(ServiceError::invalid(format!("{field}: {e}"))),
    };
    if amount > max {
        return Err(out_of_range());
    }
    Ok(amount)
}

fn check_reference(reference: &str) -> ServiceResult<()> {
    minutely_core::ident::reference("reference", reference)?;
    Ok(())
}
