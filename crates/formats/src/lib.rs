//! The edge's file formats. Only this crate (and the CLI and server that use it) knows CSV and
//! TOML; everything it reads becomes core types, and every bad row is named by line and column.

pub mod calls;
pub mod countries;
pub mod export;
pub mod instant;
pub mod ratecard;
pub mod tenant_file;

pub use minutely_core::catalogue::RowError;

/// At most this many bad rows are listed in one error (the count of the rest follows).
pub const MAX_LISTED_ERRORS: usize = 1000;

/// A file refused whole, with every bad row.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct FileErrors {
    /// What file it was ("rate card", "call records").
    pub what: String,
    /// The bad rows, by line (at most `MAX_LISTED_ERRORS`).
    pub errors: Vec<RowError>,
    /// Bad rows beyond those listed.
    pub more: usize,
}

impl std::fmt::Display for FileErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let total = self.errors.len() + self.more;
        writeln!(
            f,
            "{} refused: {} bad row{}; nothing was changed",
            self.what,
            total,
            if total == 1 { "" } else { "s" }
        )?;
        for error in &self.errors {
            writeln!(f, "  {error}")?;
        }
        if self.more > 0 {
            writeln!(f, "  ... and {} more", self.more)?;
        }
        Ok(())
    }
}

/// Collects row errors up to the listing bound.
#[derive(Debug, Default)]
pub struct ErrorList {
    errors: Vec<RowError>,
    more: usize,
}

impl ErrorList {
    pub fn push(&mut self, line: usize, column: &str, reason: impl Into<String>) {
        if self.errors.len() < MAX_LISTED_ERRORS {
            self.errors.push(RowError {
                line,
                column: column.to_string(),
                reason: reason.into(),
            });
        } else {
            self.more += 1;
        }
    }

    pub fn extend(&mut self, errors: impl IntoIterator<Item = RowError>) {
        for e in errors {
            self.push(e.line, &e.column, e.reason);
        }
    }

    /// Errors pushed so far.
    pub fn len(&self) -> usize {
        self.errors.len() + self.more
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty() && self.more == 0
    }

    /// `Ok(value)` when no error was pushed.
    pub fn finish<T>(mut self, what: &str, value: T) -> Result<T, FileErrors> {
        if self.is_empty() {
            return Ok(value);
        }
        self.errors.sort_by_key(|e| e.line);
        Err(FileErrors {
            what: what.to_string(),
            errors: self.errors,
            more: self.more,
        })
    }
}

/// Writes one CSV field, quoting it (RFC 4180) only when it needs it.
pub fn write_field(out: &mut Vec<u8>, text: &str) {
    if text
        .bytes()
        .any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r'))
    {
        out.push(b'"');
        for b in text.bytes() {
            if b == b'"' {
                out.push(b'"');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(text.as_bytes());
    }
}
