//! Money: exact decimals (`rust_decimal`), a currency with its minor unit, and the one rounding
//! rule of C7 (half away from zero, to the currency's minor unit).

use rust_decimal::{Decimal, RoundingStrategy};
use std::fmt;

pub use rust_decimal::Decimal as Amount;

/// An ISO 4217 currency with its number of minor-unit digits (2 for USD, 0 for JPY, 3 for KWD).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency {
    /// The three upper-case letters of the code.
    code: [u8; 3],
    /// Digits after the decimal point of the minor unit.
    minor_units: u8,
}

/// A currency code that ISO 4217 does not know, or that has no minor unit (such as XAU).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown currency code {0:?} (expected an ISO 4217 code such as USD, EUR or JPY)")]
pub struct UnknownCurrency(pub String);

impl Currency {
    /// Parses an ISO 4217 code, case-insensitively.
    pub fn parse(code: &str) -> Result<Currency, UnknownCurrency> {
        let upper = code.trim().to_ascii_uppercase();
        let iso = iso_currency::Currency::from_code(&upper)
            .ok_or_else(|| UnknownCurrency(code.to_string()))?;
        let minor_units = iso
            .exponent()
            .ok_or_else(|| UnknownCurrency(code.to_string()))?;
        let bytes = upper.as_bytes();
        Ok(Currency {
            code: [bytes[0], bytes[1], bytes[2]],
            minor_units: minor_units as u8,
        })
    }

    /// The three-letter code.
    pub fn code(&self) -> &str {
        std::str::from_utf8(&self.code).expect("currency codes are ASCII")
    }

    /// Digits of the minor unit.
    pub fn minor_units(&self) -> u32 {
        u32::from(self.minor_units)
    }

    /// C7: rounds once, to the minor unit, half away from zero.
    pub fn round(&self, amount: Decimal) -> Decimal {
        amount.round_dp_with_strategy(self.minor_units(), RoundingStrategy::MidpointAwayFromZero)
    }

    /// Formats an amount with at least the minor-unit digits (amounts with more digits, such as
    /// rates, keep them all).
    pub fn format(&self, amount: Decimal) -> String {
        self.display(amount).to_string()
    }

    /// `format` without the allocation, for writers.
    pub fn display(&self, amount: Decimal) -> impl fmt::Display + use<> {
        let mut value = amount.normalize();
        if value.scale() < self.minor_units() {
            value.rescale(self.minor_units());
        }
        value
    }

    /// True when the amount has no digits below the minor unit.
    pub fn is_representable(&self, amount: Decimal) -> bool {
        amount.normalize().scale() <= self.minor_units()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The bounds of every money input (C11): each amount a person or a file gives is refused above
/// its bound, and the bounds are chosen so that no sum the core forms can leave `Decimal`'s range
/// (about 7.9e28): a balance of at most `MAX_BALANCE` plus a call of the longest representable
/// duration (about 6.3e11 seconds) at `MAX_RATE_PER_MINUTE` stays below 1e17.
///
/// The largest single amount: a funding (API, command line, tenant file), an auto-recharge
/// amount or trigger, a low-balance threshold, the operator's minimum amount, a license price.
pub const MAX_AMOUNT: Decimal = Decimal::from_parts(0xD4A5_1000, 0xE8, 0, false, 0); // 1e12
/// The largest balance a funding may bring a wallet to (live lots and scheduled fundings).
pub const MAX_BALANCE: Decimal = Decimal::from_parts(0xA4C6_8000, 0x3_8D7E, 0, false, 0); // 1e15
/// The largest rate per minute of a rate card.
pub const MAX_RATE_PER_MINUTE: Decimal = Decimal::from_parts(1_000_000, 0, 0, false, 0);
/// The largest connection fee of a rate card.
pub const MAX_CONNECTION_FEE: Decimal = Decimal::from_parts(1_000_000, 0, 0, false, 0);
/// The largest monthly price of a license (exclusive: a price is below it).
pub const MAX_LICENSE_PRICE: Decimal = Decimal::from_parts(1_000_000, 0, 0, false, 0);
/// The largest purchased count of one license (license counts multiply prices and pool minutes).
pub const MAX_LICENSE_COUNT: u32 = 10_000_000;
/// The most significant digits an amount may have before its point (more is never a bound's
/// business: it is refused as too large before it is read).
const MAX_INTEGER_DIGITS: usize = 28;

/// A decimal amount that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadAmount {
    /// Not plain digits with an optional sign and point.
    #[error("{0:?} is not a decimal amount (write digits with an optional '.', such as 12.50)")]
    Malformed(String),
    /// More digits after the point than can be held exactly: never rounded.
    #[error("{0:?} has more digits after the point than can be represented exactly")]
    TooPrecise(String),
    /// More digits before the point than any amount may have.
    #[error("{0:?} is too large")]
    TooLarge(String),
}

/// An amount outside the bound of its field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {amount} is out of range (at most {max} in absolute value)")]
pub struct OutOfRange {
    pub field: String,
    pub amount: Decimal,
    pub max: Decimal,
}

/// A sum or product of amounts that left `Decimal`'s range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an amount left the representable range")]
pub struct Overflow;

/// Checks that `amount` is within `max` in absolute value; `field` names it in the error.
pub fn within(field: &str, amount: Decimal, max: Decimal) -> Result<Decimal, OutOfRange> {
    if amount.abs() > max {
        return Err(OutOfRange {
            field: field.to_string(),
            amount,
            max,
        });
    }
    Ok(amount)
}

/// `a + b`, or `Overflow`.
pub fn add(a: Decimal, b: Decimal) -> Result<Decimal, Overflow> {
    a.checked_add(b).ok_or(Overflow)
}

/// `a - b`, or `Overflow`.
pub fn sub(a: Decimal, b: Decimal) -> Result<Decimal, Overflow> {
    a.checked_sub(b).ok_or(Overflow)
}

/// `a * b`, or `Overflow`.
pub fn mul(a: Decimal, b: Decimal) -> Result<Decimal, Overflow> {
    a.checked_mul(b).ok_or(Overflow)
}

/// The sum of `amounts`, or `Overflow`.
pub fn sum(amounts: impl IntoIterator<Item = Decimal>) -> Result<Decimal, Overflow> {
    amounts.into_iter().try_fold(Decimal::ZERO, add)
}

/// Parses a decimal amount written as plain digits with an optional sign and point; never
/// through a float and never rounded. Exponents, thousands separators and "NaN" are refused;
/// so are amounts with more digits after the point than `Decimal` holds exactly (`TooPrecise`)
/// and amounts with more than 28 digits before it (`TooLarge`). Trailing zeros after the point
/// and leading zeros before it are not digits that count.
pub fn parse_amount(text: &str) -> Result<Decimal, BadAmount> {
    let trimmed = text.trim();
    let (negative, body) = match trimmed.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, trimmed),
    };
    let well_formed = !body.is_empty()
        && body.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && body.bytes().filter(|b| *b == b'.').count() <= 1
        && body.bytes().any(|b| b.is_ascii_digit());
    if !well_formed {
        return Err(BadAmount::Malformed(text.to_string()));
    }
    let (whole, fraction) = body.split_once('.').unwrap_or((body, ""));
    let whole = whole.trim_start_matches('0');
    if whole.len() > MAX_INTEGER_DIGITS {
        return Err(BadAmount::TooLarge(text.to_string()));
    }
    // The scale written is kept ("0.0240" stays 0.0240) unless the trailing zeros are what
    // make it unrepresentable.
    let exact = |fraction: &str| {
        let sign = if negative { "-" } else { "" };
        let whole = if whole.is_empty() { "0" } else { whole };
        let written = if fraction.is_empty() {
            format!("{sign}{whole}")
        } else {
            format!("{sign}{whole}.{fraction}")
        };
        Decimal::from_str_exact(&written).ok()
    };
    exact(fraction)
        .or_else(|| exact(fraction.trim_end_matches('0')))
        .ok_or_else(|| BadAmount::TooPrecise(text.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        parse_amount(s).unwrap()
    }

    #[test]
    fn minor_units_follow_iso_4217() {
        assert_eq!(Currency::parse("usd").unwrap().minor_units(), 2);
        assert_eq!(Currency::parse("JPY").unwrap().minor_units(), 0);
        assert_eq!(Currency::parse("KWD").unwrap().minor_units(), 3);
        assert_eq!(Currency::parse("BHD").unwrap().minor_units(), 3);
        assert!(Currency::parse("XYZ").is_err());
        assert!(Currency::parse("XAU").is_err());
    }

    #[test]
    fn c7_rounds_half_away_from_zero_once() {
        let usd = Currency::parse("USD").unwrap();
        assert_eq!(usd.round(d("0.125")), d("0.13"));
        assert_eq!(usd.round(d("-0.125")), d("-0.13"));
        assert_eq!(usd.round(d("0.1249999")), d("0.12"));
        let jpy = Currency::parse("JPY").unwrap();
        assert_eq!(jpy.round(d("2.5")), d("3"));
        let kwd = Currency::parse("KWD").unwrap();
        assert_eq!(kwd.round(d("0.0125")), d("0.013"));
    }

    #[test]
    fn amounts_parse_exactly_and_refuse_floats_syntax() {
        assert_eq!(d("0.0240").to_string(), "0.0240");
        for bad in ["", "1e3", "NaN", "1,000", "1.2.3", ".", "abc", "--1"] {
            assert!(parse_amount(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn amounts_are_never_rounded_and_too_large_is_named() {
        assert!(matches!(
            parse_amount("100.0000000000000000000000000001"),
            Err(BadAmount::TooPrecise(_))
        ));
        assert_eq!(d("100.00000000000000000000000000000000"), d("100"));
        assert_eq!(d("000000000000000000000000000000012.5"), d("12.5"));
        assert!(matches!(
            parse_amount("79228162514264337593543950000"),
            Err(BadAmount::TooLarge(_))
        ));
        assert!(matches!(
            parse_amount("7922816251426433759354395033.6"),
            Err(BadAmount::TooPrecise(_))
        ));
        assert!(parse_amount("9999999999999999999999999999").is_ok());
        assert!(matches!(
            parse_amount("99999999999999999999999999999"),
            Err(BadAmount::TooLarge(_))
        ));
        assert_eq!(d("-0.50"), Decimal::new(-50, 2));
        assert_eq!(d("0.0000000000000000000000000001"), Decimal::new(1, 28));
    }

    #[test]
    fn bounds_are_what_their_comments_say() {
        assert_eq!(MAX_AMOUNT, d("1000000000000"));
        assert_eq!(MAX_BALANCE, d("1000000000000000"));
        assert_eq!(MAX_RATE_PER_MINUTE, d("1000000"));
        assert_eq!(MAX_CONNECTION_FEE, d("1000000"));
        assert!(within("amount", d("-1000000000000.01"), MAX_AMOUNT).is_err());
        assert!(within("amount", MAX_AMOUNT, MAX_AMOUNT).is_ok());
        // The longest representable call at the largest rate, on the largest balance, and the
        // largest balance carried as debt by a million such calls still fit.
        let longest_s = Decimal::from(700_000_000_000u64);
        let call = mul(MAX_RATE_PER_MINUTE, longest_s).unwrap() / Decimal::from(60);
        let many = mul(
            add(call, MAX_CONNECTION_FEE).unwrap(),
            Decimal::from(1_000_000),
        )
        .unwrap();
        assert!(add(many, MAX_BALANCE).is_ok());
        assert_eq!(add(Decimal::MAX, Decimal::ONE), Err(Overflow));
        assert_eq!(sum([Decimal::MAX, Decimal::MAX]), Err(Overflow));
    }

    #[test]
    fn formatting_pads_to_the_minor_unit() {
        let usd = Currency::parse("USD").unwrap();
        assert_eq!(usd.format(d("12.8")), "12.80");
        assert_eq!(usd.format(d("0.0240")), "0.024");
        assert_eq!(Currency::parse("JPY").unwrap().format(d("12")), "12");
    }
}
