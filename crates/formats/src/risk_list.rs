//! The toll-fraud guard's high-risk destination list as CSV:
//! `prefix,action,category,source,expires,note`, one entry a row. `prefix`: 1 to 15 digits,
//! with or without `+`; `action`: `allow`, `block`, `step_up` or `monitor`; `category` and
//! `source`: 1 to 64 characters; `expires`: empty or an RFC 3339 instant; `note`: at most 256
//! characters. A file with any bad row is refused whole, every bad row named.

use crate::{ErrorList, FileErrors, instant};
use minutely_core::guard::list::prefix_digits;
use minutely_core::guard::{RiskAction, RiskEntry, RiskList};

/// The header, exactly.
pub const HEADER: [&str; 6] = ["prefix", "action", "category", "source", "expires", "note"];
/// The most entries a list may have.
pub const MAX_ENTRIES: usize = minutely_core::guard::list::MAX_ENTRIES;
/// The largest list file read, in bytes.
pub const MAX_BYTES: usize = 16 * 1024 * 1024;
const MAX_LABEL_CHARS: usize = 64;
const MAX_NOTE_CHARS: usize = 256;

fn label(errors: &mut ErrorList, line: usize, column: &str, text: &str) -> String {
    let n = text.chars().count();
    if n == 0 || n > MAX_LABEL_CHARS {
        errors.push(
            line,
            column,
            format!("must be 1 to {MAX_LABEL_CHARS} characters"),
        );
    } else if text.chars().any(char::is_control) {
        errors.push(line, column, "must not hold control characters");
    }
    text.to_string()
}

/// One row, or its errors pushed (`None`).
fn entry(errors: &mut ErrorList, line: usize, row: &csv::StringRecord) -> Option<RiskEntry> {
    let before = errors.len();
    if row.len() != HEADER.len() {
        errors.push(
            line,
            "row",
            format!("has {} fields, not {}", row.len(), HEADER.len()),
        );
        return None;
    }
    let prefix = match prefix_digits(row[0].trim()) {
        Some(d) => d.to_string(),
        None => {
            errors.push(
                line,
                "prefix",
                format!("{:?} is not 1 to 15 digits", &row[0]),
            );
            String::new()
        }
    };
    let action = RiskAction::parse(row[1].trim());
    if action.is_none() {
        errors.push(
            line,
            "action",
            format!("{:?} is not allow, block, step_up or monitor", &row[1]),
        );
    }
    let category = label(errors, line, "category", row[2].trim());
    let source = label(errors, line, "source", row[3].trim());
    let expires = match row[4].trim() {
        "" => None,
        text => match instant::parse(text) {
            Ok(at) => Some(at),
            Err(e) => {
                errors.push(line, "expires", e);
                None
            }
        },
    };
    let note = row[5].to_string();
    if note.chars().count() > MAX_NOTE_CHARS {
        errors.push(
            line,
            "note",
            format!("is longer than {MAX_NOTE_CHARS} characters"),
        );
    }
    (errors.len() == before).then(|| RiskEntry {
        prefix,
        action: action.expect("checked"),
        category,
        source,
        expires,
        note,
    })
}

/// Reads a list file as version `version`, refused whole on any bad row.
pub fn parse(bytes: &[u8], version: u32) -> Result<RiskList, FileErrors> {
    let mut errors = ErrorList::default();
    if bytes.len() > MAX_BYTES {
        errors.push(0, "file", format!("is larger than {MAX_BYTES} bytes"));
        return errors.finish("high-risk list", RiskList::default());
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(bytes);
    match reader.headers() {
        Ok(h) if h.iter().map(str::trim).eq(HEADER) => {}
        _ => errors.push(1, "header", format!("must be {}", HEADER.join(","))),
    }
    let mut entries = Vec::new();
    for (i, row) in reader.records().enumerate() {
        let line = i + 2;
        if entries.len() >= MAX_ENTRIES {
            errors.push(
                line,
                "row",
                format!("the list has more than {MAX_ENTRIES} entries"),
            );
            break;
        }
        match row {
            Ok(row) => entries.extend(entry(&mut errors, line, &row)),
            Err(e) => errors.push(line, "row", format!("is not CSV: {e}")),
        }
    }
    if !errors.is_empty() {
        return errors.finish("high-risk list", RiskList::default());
    }
    match RiskList::new(version, entries) {
        Ok(list) => Ok(list),
        Err((i, e)) => {
            errors.push(i + 2, "prefix", e.to_string());
            errors.finish("high-risk list", RiskList::default())
        }
    }
}

/// Writes `list` as a file `parse` reads back.
pub fn write(list: &RiskList) -> String {
    let mut out = Vec::new();
    out.extend_from_slice(HEADER.join(",").as_bytes());
    out.push(b'\n');
    for e in list.entries() {
        out.push(b'+');
        out.extend_from_slice(e.prefix.as_bytes());
        out.push(b',');
        out.extend_from_slice(e.action.as_str().as_bytes());
        for text in [&e.category, &e.source] {
            out.push(b',');
            crate::write_text(&mut out, text);
        }
        out.push(b',');
        if let Some(at) = e.expires {
            out.extend_from_slice(instant::format(at).as_bytes());
        }
        out.push(b',');
        crate::write_text(&mut out, &e.note);
        out.push(b'\n');
    }
    String::from_utf8(out).expect("the list is UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "prefix,action,category,source,expires,note\n\
        +882,block,satellite,operator,,international networks\n\
        4470,step_up,personal,ofcom,2027-01-01T00:00:00Z,\n\
        447010,allow,personal,operator,,\"a known, good range\"\n";

    #[test]
    fn a_list_reads_and_writes_back() {
        let list = parse(GOOD.as_bytes(), 4).expect("a good list");
        assert_eq!((list.version, list.len()), (4, 3));
        let again = parse(write(&list).as_bytes(), 4).expect("read back");
        assert_eq!(again, list);
    }

    #[test]
    fn a_bad_row_refuses_the_whole_list_naming_line_and_column() {
        let bad = "prefix,action,category,source,expires,note\n\
            +882,block,satellite,operator,,\n\
            44x,deny,,operator,tomorrow,\n";
        let e = parse(bad.as_bytes(), 1).expect_err("refused");
        let named: Vec<(usize, &str)> = e
            .errors
            .iter()
            .map(|r| (r.line, r.column.as_str()))
            .collect();
        assert_eq!(
            named,
            [
                (3, "prefix"),
                (3, "action"),
                (3, "category"),
                (3, "expires")
            ]
        );
        let header = parse(b"prefix,action\n+1,block\n", 1).expect_err("refused");
        assert_eq!(header.errors[0].column, "header");
        let twice = "prefix,action,category,source,expires,note\n+44,block,a,b,,\n44,block,a,b,,\n";
        assert_eq!(
            parse(twice.as_bytes(), 1).expect_err("refused").errors[0].line,
            3
        );
    }
}
