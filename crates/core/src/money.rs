//! Money: exact decimals (`rust_decimal`), a currency with its minor unit, and the one rounding
//! rule of C7 (half away from zero, to the currency's minor unit).

use rust_decimal::{Decimal, RoundingStrategy};
use std::fmt;
use std::str::FromStr;

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

/// A decimal amount that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a decimal amount (write digits with an optional '.', such as 12.50)")]
pub struct BadAmount(pub String);

/// Parses a decimal amount written as plain digits with an optional sign and point; never
/// through a float. Exponents, thousands separators and "NaN" are refused.
pub fn parse_amount(text: &str) -> Result<Decimal, BadAmount> {
    let trimmed = text.trim();
    let body = trimmed.strip_prefix('-').unwrap_or(trimmed);
    let well_formed = !body.is_empty()
        && body.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && body.bytes().filter(|b| *b == b'.').count() <= 1
        && body.bytes().any(|b| b.is_ascii_digit());
    if !well_formed {
        return Err(BadAmount(text.to_string()));
    }
    Decimal::from_str(trimmed).map_err(|_| BadAmount(text.to_string()))
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
    fn formatting_pads_to_the_minor_unit() {
        let usd = Currency::parse("USD").unwrap();
        assert_eq!(usd.format(d("12.8")), "12.80");
        assert_eq!(usd.format(d("0.0240")), "0.024");
        assert_eq!(Currency::parse("JPY").unwrap().format(d("12")), "12");
    }
}
