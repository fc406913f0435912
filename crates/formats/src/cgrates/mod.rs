//! A CGRateS tariff plan directory (`Destinations.csv`, `Rates.csv`, `DestinationRates.csv`,
//! `RatingPlans.csv`, `RatingProfiles.csv`, `Timings.csv`) read into a Minutely rate card.
//!
//! One rating profile is imported (a tenant, a category and a subject); each of its activation
//! times is one complete version of the card (C36), whose dial-out entries are its rating plan's
//! destinations. What Minutely cannot represent exactly (rate groups with different prices,
//! timings other than always, a rounding that can change a charge rounded once by C7, a
//! maximum cost, a rate with no exact price per minute, a prefix that is not an E.164 prefix of
//! one country, a fallback subject) is an `Issue` named by file and line, and is left out of the
//! card; the caller decides whether a card with issues is stored. Malformed input (a bad field,
//! a reference to nothing) is refused whole, every bad field named.

mod convert;
mod rate;
mod read;

pub use convert::{Import, MAX_PRICED, Selection, Version, e164_prefix, import};
pub use read::parse_duration_ns;

/// The file names, as CGRateS writes them.
pub const DESTINATIONS_CSV: &str = "Destinations.csv";
pub const RATES_CSV: &str = "Rates.csv";
pub const DESTINATION_RATES_CSV: &str = "DestinationRates.csv";
pub const RATING_PLANS_CSV: &str = "RatingPlans.csv";
pub const RATING_PROFILES_CSV: &str = "RatingProfiles.csv";
pub const TIMINGS_CSV: &str = "Timings.csv";

/// Every file read, in the order they are listed.
pub const FILE_NAMES: [&str; 6] = [
    DESTINATIONS_CSV,
    RATES_CSV,
    DESTINATION_RATES_CSV,
    RATING_PLANS_CSV,
    RATING_PROFILES_CSV,
    TIMINGS_CSV,
];

/// The largest file read, in bytes.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;
/// The most rows one file may have.
pub const MAX_ROWS: usize = 1_000_000;
/// The longest field, in characters.
pub const MAX_FIELD_CHARS: usize = 200;

/// The contents of a tariff plan's files; an absent file has no rows (`RatingProfiles.csv`,
/// `RatingPlans.csv`, `DestinationRates.csv` and `Rates.csv` are needed for anything to import).
#[derive(Debug, Default, Clone, Copy)]
pub struct Files<'a> {
    pub destinations: Option<&'a [u8]>,
    pub rates: Option<&'a [u8]>,
    pub destination_rates: Option<&'a [u8]>,
    pub rating_plans: Option<&'a [u8]>,
    pub rating_profiles: Option<&'a [u8]>,
    pub timings: Option<&'a [u8]>,
}

impl<'a> Files<'a> {
    /// Sets the contents of the file named `name` (one of `FILE_NAMES`); false for another name.
    pub fn set(&mut self, name: &str, contents: &'a [u8]) -> bool {
        let slot = match name {
            DESTINATIONS_CSV => &mut self.destinations,
            RATES_CSV => &mut self.rates,
            DESTINATION_RATES_CSV => &mut self.destination_rates,
            RATING_PLANS_CSV => &mut self.rating_plans,
            RATING_PROFILES_CSV => &mut self.rating_profiles,
            TIMINGS_CSV => &mut self.timings,
            _ => return false,
        };
        *slot = Some(contents);
        true
    }
}

/// An element of the tariff plan that the card does not represent exactly, where it is written.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Issue {
    pub file: &'static str,
    /// 1-based line in the file.
    pub line: usize,
    pub what: String,
}

impl Issue {
    pub fn new(file: &'static str, line: usize, what: impl Into<String>) -> Issue {
        Issue {
            file,
            line,
            what: what.into(),
        }
    }
}

impl std::fmt::Display for Issue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.what)
    }
}

/// A malformed row or field: the file, line and column (empty for the whole row), and why.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct BadRow {
    pub file: &'static str,
    pub line: usize,
    pub column: String,
    pub reason: String,
}

impl BadRow {
    pub fn new(file: &'static str, line: usize, column: &str, reason: impl Into<String>) -> BadRow {
        BadRow {
            file,
            line,
            column: column.to_string(),
            reason: reason.into(),
        }
    }
}

impl std::fmt::Display for BadRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.column.is_empty() {
            write!(f, "{}:{}: {}", self.file, self.line, self.reason)
        } else {
            write!(
                f,
                "{}:{}, column {}: {}",
                self.file, self.line, self.column, self.reason
            )
        }
    }
}

/// Why nothing was read: malformed input (every bad row, at most `MAX_LISTED_ERRORS` of them),
/// or a rating profile that cannot be chosen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    #[error("{}", bad_rows_text(.0))]
    Bad(Vec<BadRow>),
    #[error("{0}")]
    Selection(String),
}

fn bad_rows_text(rows: &[BadRow]) -> String {
    let mut text = format!(
        "the tariff plan is refused: {} bad row{}; nothing was changed",
        rows.len(),
        if rows.len() == 1 { "" } else { "s" }
    );
    for row in rows.iter().take(crate::MAX_LISTED_ERRORS) {
        text.push_str(&format!("\n  {row}"));
    }
    if rows.len() > crate::MAX_LISTED_ERRORS {
        let more = rows.len() - crate::MAX_LISTED_ERRORS;
        text.push_str(&format!("\n  ... and {more} more"));
    }
    text
}

#[cfg(test)]
mod tests;
