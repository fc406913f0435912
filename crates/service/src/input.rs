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
