//! Monthly statements of a tenant's Communications Credits wallet.
//!
//! A [`Statement`] is built from the tenant's journal and the calls behind its debits
//! ([`model::Builder`], pure), then rendered as a self-contained HTML page ([`html::render`]) or
//! as a PDF ([`pdf::render`]) in any of the five languages of [`Lang`], with numbers, dates
//! and amounts formatted for the language from ICU4X's locale data ([`locale::Formats`]).
//! Amounts are the ledger's own: nothing is rounded.

pub mod fonts;
pub mod html;
pub mod locale;
pub mod model;
pub mod pdf;
pub mod strings;
mod view;

pub use minutely_core::lang::Lang;
pub use model::{Builder, CallFacts, Month, Period, Statement};

/// Why a statement cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatementError {
    /// The month is not `YYYY-MM` (or is outside 0001-01 to 9999-12).
    #[error("month: {0}")]
    BadMonth(#[from] minutely_core::calendar::CalendarError),
    /// The month has not started yet in the tenant's time zone.
    #[error(
        "month: {month} has not started yet (the current month in the tenant's time zone is \
         {current}); ask for {current} or an earlier month"
    )]
    FutureMonth { month: Month, current: Month },
    /// The month holds more than a statement lists.
    #[error("month: {month} holds more {what} than a statement lists ({limit})")]
    TooLarge {
        month: Month,
        what: &'static str,
        limit: usize,
    },
    /// The journal does not add up (C24) or a debit's call is missing.
    #[error("the ledger does not add up (C24) at journal entry {seq}")]
    Ledger { seq: u64 },
    /// A debit's call is not stored.
    #[error("the call {call_id:?} of journal entry {seq} is not stored")]
    MissingCall { seq: u64, call_id: String },
    /// No font for the PDF.
    #[error("{0}")]
    Font(String),
    /// The PDF could not be written.
    #[error("the PDF could not be written: {0}")]
    Pdf(String),
    /// Locale data is missing for a language (a build without ICU4X's compiled data).
    #[error("no locale data for {lang}: {detail}")]
    Locale { lang: &'static str, detail: String },
}
