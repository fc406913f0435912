//! The edge's file formats. Only this crate (and the CLI and server that use it) knows CSV and
//! TOML; everything it reads becomes core types, and every bad row is named by line and column.

pub mod acc;
pub mod calls;
pub mod cdr;
pub mod cgrates;
pub mod countries;
pub mod deck;
pub mod export;
pub mod instant;
pub mod ratecard;
pub mod risk_list;
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

    /// Keeps the listing bound after lists were joined: errors past it are counted only.
    fn truncate_listed(&mut self) {
        if self.errors.len() > MAX_LISTED_ERRORS {
            self.more += self.errors.len() - MAX_LISTED_ERRORS;
            self.errors.truncate(MAX_LISTED_ERRORS);
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
/// Writes a free-text CSV field (a name, a label, an id read from elsewhere) so that no
/// spreadsheet takes it for a formula: a text starting with `=`, `+`, `-`, `@`, a tab or a line
/// break gets a leading `'`. E.164 numbers and amounts are written with `write_field`, exactly.
pub fn write_text(out: &mut Vec<u8>, text: &str) {
    if minutely_core::ident::looks_like_formula(text) {
        let mut guarded = String::with_capacity(text.len() + 1);
        guarded.push('\'');
        guarded.push_str(text);
        write_field(out, &guarded);
    } else {
        write_field(out, text);
    }
}

/// A field as written before `write_text` or `write_number_text` guarded it: a leading `'` in
/// front of what would read as a formula, or of another `'`, is taken off again, so that a file
/// Minutely wrote reads back the same.
pub fn unguard(field: &[u8]) -> &[u8] {
    match field.split_first() {
        Some((b'\'', rest))
            if matches!(
                rest.first(),
                Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r' | b'\n' | b'\'')
            ) =>
        {
            rest
        }
        _ => field,
    }
}

/// Writes a telephone number as given: digits with an optional leading `+` and the usual
/// separators (space, `-`, `.`, parentheses) are written exactly; anything else is free text
/// (`write_text`).
pub fn write_number_text(out: &mut Vec<u8>, text: &str) {
    let body = text.strip_prefix('+').unwrap_or(text);
    let numeric = body
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b' ' | b'-' | b'.' | b'(' | b')'))
        && body
            .bytes()
            .next()
            .is_none_or(|b| b.is_ascii_digit() || b == b'(');
    if numeric {
        write_field(out, text);
    } else if text.starts_with('\'') {
        // Guarded too, so that `unguard` takes off only what was added.
        write_field(out, &format!("'{text}"));
    } else {
        write_text(out, text);
    }
}

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

#[cfg(test)]
mod guard_tests {
    /// A number field that is not a number reads back as written, whatever it starts with.
    #[test]
    fn number_texts_read_back_as_written() {
        for text in [
            "+33 1 44 55 66 77",
            "+l_id=b9",
            "'+l_id=b9",
            "'abc",
            "''",
            "'",
            "=1",
            "x",
        ] {
            let mut out = Vec::new();
            super::write_number_text(&mut out, text);
            assert_eq!(super::unguard(&out), text.as_bytes(), "{text:?} as {out:?}");
        }
    }
}
