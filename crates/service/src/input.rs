//! Checks of input every adapter shares.

use crate::error::{ServiceError, ServiceResult};

/// Longest text accepted in an identifier field (call id, conference id, UPN, number).
pub const MAX_FIELD: usize = 256;

/// Checks the length of an identifier-like field, in characters (as a JSON schema's
/// `maxLength` counts them).
pub fn bounded<'a>(field: &str, text: &'a str) -> ServiceResult<&'a str> {
    if text.len() > MAX_FIELD && text.chars().count() > MAX_FIELD {
        return Err(ServiceError::invalid(format!(
            "{field} is longer than {MAX_FIELD} characters"
        )));
    }
    Ok(text)
}

pub mod body;
pub mod control;
pub mod directory;
pub mod hooks;
pub mod object;
pub mod reconcile;
pub mod rerate;
pub mod wallet;

use jiff::Timestamp;
use minutely_core::rating::Direction;
use serde::Deserialize;

/// Parses an RFC 3339 instant from the field `field`.
pub fn parse_instant(field: &str, text: &str) -> ServiceResult<Timestamp> {
    minutely_formats::instant::parse(text).map_err(|e| {
        ServiceError::invalid(format!(
            "{field}: {e} (expected RFC 3339, like 2026-01-31T12:00:00Z)"
        ))
    })
}

/// Parses an optional RFC 3339 instant from the field `field`.
pub fn parse_optional_instant(field: &str, text: Option<&str>) -> ServiceResult<Option<Timestamp>> {
    text.map(|text| parse_instant(field, text)).transpose()
}

/// Parses a direction from the field `field`.
pub fn parse_direction(field: &str, text: &str) -> ServiceResult<Direction> {
    Direction::parse(text).ok_or_else(|| {
        ServiceError::invalid(format!(
            "{field}: {text:?} is not a direction (dial_in or dial_out)"
        ))
    })
}

/// A whole number of a request body, also when written with a zero fraction (`47.0`, an
/// integer for JSON Schema); `47.5`, a negative number or one out of range is refused.
fn whole_number<E: serde::de::Error, T: TryFrom<u64>>(value: serde_json::Number) -> Result<T, E> {
    let whole = value.as_u64().or_else(|| {
        value
            .as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < u64::MAX as f64)
            .map(|f| f as u64)
    });
    whole
        .and_then(|n| T::try_from(n).ok())
        .ok_or_else(|| E::custom(format!("{value} is not a whole number in range")))
}

/// `deserialize_with` for a whole-number field (see [`whole_number`]).
pub fn whole<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: TryFrom<u64>,
{
    whole_number(serde_json::Number::deserialize(deserializer)?)
}

/// `deserialize_with` for an optional whole-number field (with `#[serde(default)]`).
pub fn whole_opt<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: TryFrom<u64>,
{
    Option::<serde_json::Number>::deserialize(deserializer)?
        .map(whole_number)
        .transpose()
}
