//! Checks of the file formats, one per fuzz target: whatever the bytes, the parser answers
//! (never panics), a refusal names the line and column of every bad row, and what is accepted
//! survives being written back and read again unchanged.
//!
//! This file is shared: the fuzz targets call it, and `crates/formats/tests/it/fuzz_corpus.rs`
//! includes it to replay the committed corpus on stable.

use minutely_core::catalogue::CountryTable;
use minutely_core::directory::AmountRules;
use minutely_core::money::Currency;
use minutely_core::numbers::{Country, E164, E164_MAX_DIGITS, NumberPlan};
use minutely_core::rating::CallRecord;
use minutely_formats::acc::{self, AccError, Ended, ProxyRecord};
use minutely_formats::calls::{self, CallFile};
use minutely_formats::tenant_file::{self, FileError, TenantFile};
use minutely_formats::{FileErrors, MAX_LISTED_ERRORS, ratecard};
use std::collections::{BTreeSet, HashSet};
use std::sync::OnceLock;

/// Currencies with 2, 0 and 3 minor units: the input's length picks one, so each is reached.
const CURRENCIES: [&str; 3] = ["USD", "JPY", "KWD"];

/// The highest line a parser may name for `data`: one past its last line break, plus one for
/// an error found after the end of the last row.
fn max_line(data: &[u8]) -> usize {
    data.iter().filter(|&&b| b == b'\n' || b == b'\r').count() + 2
}

/// A refused file lists at least one bad row, each with a line inside the file, a column of
/// the format (or none, for a whole-row problem) and a reason.
fn check_refusal(error: &FileErrors, columns: &[&str], data: &[u8]) {
    assert!(
        !error.errors.is_empty(),
        "a refusal lists no bad row: {error:?}"
    );
    assert!(error.errors.len() <= MAX_LISTED_ERRORS);
    for row in &error.errors {
        assert!(
            (1..=max_line(data)).contains(&row.line),
            "line {} is outside the input: {row:?}",
            row.line
        );
        assert!(
            row.column.is_empty() || columns.contains(&row.column.as_str()),
            "{:?} is not a column of the format: {row:?}",
            row.column
        );
        assert!(!row.reason.trim().is_empty(), "a bad row without a reason");
    }
    let text = error.to_string();
    assert!(text.contains("refused"), "{text}");
}

/// Rate-card CSV: a card read, written back and read again is the same card, and writing it
/// again gives the same text.
pub fn rate_card(data: &[u8]) {
    let currency = Currency::parse(CURRENCIES[data.len() % CURRENCIES.len()]).expect("known");
    match ratecard::parse(data, currency) {
        Ok(card) => {
            let text = ratecard::write(&card);
            let again = ratecard::parse(text.as_bytes(), currency)
                .unwrap_or_else(|e| panic!("the card written back is refused: {e}\n{text}"));
            assert_eq!(
                again.entries().collect::<Vec<_>>(),
                card.entries().collect::<Vec<_>>(),
                "the card changed on its way through the file:\n{text}"
            );
            assert_eq!(ratecard::write(&again), text);
        }
        Err(e) => check_refusal(&e, &ratecard::HEADER, data),
    }
}

fn records(file: &CallFile) -> Vec<CallRecord> {
    file.records(0..file.len()).unwrap()
}

/// Call-record CSV: progress only moves forward within the input; the records read, written
/// back and read again are the same records; canonical order is a sorted permutation.
pub fn call_records_csv(data: &[u8]) {
    let mut progress = 0u64;
    let read = CallFile::read(data, |bytes| {
        assert!(
            bytes >= progress,
            "progress went back: {bytes} < {progress}"
        );
        assert!(bytes <= data.len() as u64, "progress past the end: {bytes}");
        progress = bytes;
    });
    let mut file = match read {
        Ok(file) => file,
        Err(e) => return check_refusal(&e, &calls::HEADER, data),
    };
    let read_in_order = records(&file);
    let mut out = calls::header_line().into_bytes();
    for record in &read_in_order {
        calls::write_record(&mut out, record);
    }
    let again = CallFile::read(&out[..], |_| {}).unwrap_or_else(|e| {
        panic!(
            "the records written back are refused: {e}\n{}",
            String::from_utf8_lossy(&out)
        )
    });
    assert_eq!(
        records(&again),
        read_in_order,
        "records changed on their way"
    );
    let lines: Vec<usize> = (0..file.len()).map(|i| file.line(i)).collect();
    assert!(
        lines.windows(2).all(|w| w[0] < w[1]),
        "lines out of order: {lines:?}"
    );
    file.sort_canonical();
    let sorted = records(&file);
    assert!(
        sorted
            .windows(2)
            .all(|w| (w[0].start, &w[0].call_id) <= (w[1].start, &w[1].call_id)),
        "canonical order is not sorted"
    );
    let mut sorted_lines: Vec<usize> = (0..file.len()).map(|i| file.line(i)).collect();
    sorted_lines.sort_unstable();
    assert_eq!(sorted_lines, lines, "sorting lost or duplicated records");
}

fn countries() -> &'static CountryTable {
    static TABLE: OnceLock<CountryTable> = OnceLock::new();
    TABLE.get_or_init(minutely_formats::countries::shipped)
}

/// A tenant-file refusal says where (`users[2].licenses[0]`, `line 3`) and why; a refusal
/// placed at `timezone` is about the time zone, not another field checked at the same time.
fn check_file_error(e: &FileError) {
    assert!(!e.location.trim().is_empty(), "no location: {e:?}");
    assert!(!e.message.trim().is_empty(), "no message: {e:?}");
    if e.location == "timezone" {
        assert!(e.message.contains("time zone"), "misplaced: {e:?}");
    }
}

/// Tenant file (TOML): a file that reads applies to no tenant or is refused by a charging rule,
/// with its place; a file applied once and then again changes nothing the second time.
pub fn tenant_file(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let file = match TenantFile::parse(&text) {
        Ok(file) => file,
        Err(e) => return check_file_error(&e),
    };
    let rules = AmountRules::default();
    let first = match tenant_file::apply(&file, None, countries(), &rules, &BTreeSet::new()) {
        Ok(applied) => applied,
        Err(e) => return check_file_error(&e),
    };
    assert!(!first.changes.is_empty(), "creating a tenant is a change");
    let refs: BTreeSet<String> = first.funding_refs.iter().cloned().collect();
    let second = tenant_file::apply(&file, Some(&first.book), countries(), &rules, &refs)
        .unwrap_or_else(|e| panic!("a file applied once is refused the second time: {e}"));
    assert!(
        second.changes.is_empty(),
        "applying the same file again changed {:?}",
        second.changes
    );
}

/// Tenant file (TOML), the fast reader: wherever it answers, it answers the very value the
/// `toml` crate gives (and never answers a file the `toml` crate refuses).
pub fn tenant_toml(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Err(difference) = tenant_file::fast_reader_agrees(&text) {
        panic!("the fast reader and the toml crate disagree:\n{difference}");
    }
}

/// What C8 accepts, written out independently of the parser: after trimming and dropping
/// spaces, dashes and dots, `+` then 2 to 15 digits, the first not 0.
fn e164_expected(text: &str) -> Option<String> {
    let kept: String = text
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.'))
        .collect();
    let digits = kept.strip_prefix('+')?;
    let ok = (2..=E164_MAX_DIGITS).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    ok.then(|| format!("+{digits}"))
}

/// E.164 input: the parser accepts exactly the C8 form; a number formatted and parsed again is
/// the same number; the numbering plan answers for every number. Country codes round-trip too.
pub fn e164(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let parsed = E164::parse(&text);
    assert_eq!(
        parsed.map(|n| n.to_string()),
        e164_expected(&text),
        "{text:?}"
    );
    if let Some(number) = parsed {
        let written = number.to_string();
        assert_eq!(E164::parse(&written), Some(number));
        let digits: String = number.digits().map(|d| char::from(b'0' + d)).collect();
        assert_eq!(digits, number.digit_string());
        assert_eq!(digits.len(), number.len());
        NumberPlan::global().classify(number);
    }
    match Country::parse(&text) {
        Ok(country) => {
            assert_eq!(Country::parse(country.as_str()), Ok(country));
            assert!(country.as_str().bytes().all(|b| b.is_ascii_uppercase()));
        }
        Err(e) => assert!(e.to_string().contains("country code")),
    }
}

/// The fields a Kamailio acc line can be refused at.
const ACC_FIELDS: [&str; 8] = [
    "mt_tenant",
    "call_id",
    "mt_direction",
    "start_time",
    "end_time",
    "duration",
    "method",
    "code",
];

/// The record limits the `kamailio_acc` target parses with: the input's length picks one, so
/// both a limit that is reached and one that is not are exercised.
const ACC_MAX_RECORDS: [usize; 2] = [3, 1000];

/// Kamailio acc log: one record per call (tenant and call id, both valid identifiers), each
/// read from a line of the input holding them; a failed call lasted 0 s and was never
/// answered, a hangup has its answer instant; no duration is longer than the module allows. A
/// refusal names lines of the input and fields of the format. The record limit is exact: a log
/// of `n` calls reads with a limit of `n` and is refused, at the line of its last new call, with
/// `n - 1`.
pub fn kamailio_acc(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let lines: Vec<&str> = text.split('\n').collect();
    let max = ACC_MAX_RECORDS[data.len() % ACC_MAX_RECORDS.len()];
    let records = match acc::parse(&text, max) {
        Ok(records) => records,
        Err(e) => return check_acc_refusal(&e, lines.len(), max),
    };
    assert!(records.len() <= max, "{} records past {max}", records.len());
    let mut calls = HashSet::new();
    for r in &records {
        assert!(!r.tenant.is_empty() && !r.call_id.is_empty(), "{r:?}");
        assert!(
            minutely_core::ident::tenant_id("t", &r.tenant).is_ok()
                && minutely_core::ident::call_id("c", &r.call_id).is_ok(),
            "not identifiers: {r:?}"
        );
        assert!(
            (1..=lines.len()).contains(&r.line),
            "line {} is outside the {} lines of the input: {r:?}",
            r.line,
            lines.len()
        );
        let line = lines[r.line - 1];
        assert!(
            line.contains(&r.tenant) && line.contains(&r.call_id),
            "line {} does not hold the record {r:?}: {line:?}",
            r.line
        );
        assert!(r.duration_s <= acc::MAX_DURATION_S, "{r:?}");
        match r.ended {
            Ended::Failed => assert!(r.duration_s == 0 && r.answered_at.is_none(), "{r:?}"),
            Ended::Hangup => assert!(
                start_times(line).any(|t| spells_answer(t, r)),
                "no start_time of line {} is the answer instant {:?} in a documented form: {line:?}",
                r.line,
                r.answered_at
            ),
        }
        assert!(
            calls.insert((r.tenant.as_str(), r.call_id.as_str())),
            "two records of one call: {r:?}"
        );
    }
    if let Some(n) = records.len().checked_sub(1) {
        assert_eq!(acc::parse(&text, records.len()).as_ref(), Ok(&records));
        match acc::parse(&text, n) {
            // Passed at the first line of the last call (its record may come from a later line).
            Err(AccError::TooManyRecords { max, line }) => {
                let last = &records[n];
                assert_eq!(max, n);
                assert!(
                    (1..=last.line).contains(&line)
                        && lines[line - 1].contains(&last.tenant)
                        && lines[line - 1].contains(&last.call_id),
                    "the limit was passed at line {line}, not at the first line of {last:?}"
                );
            }
            other => panic!(
                "{} records read with a limit of {n}: {other:?}",
                records.len()
            ),
        }
    }
}

/// What follows each `start_time` and `=` (spaces between them allowed) of a line, up to the
/// next `;`, trimmed: a superset of the values of its `start_time` pairs.
fn start_times(line: &str) -> impl Iterator<Item = &str> {
    line.match_indices("start_time").filter_map(|(at, key)| {
        let rest = line[at + key.len()..].trim_start().strip_prefix('=')?;
        Some(rest.split(';').next().unwrap_or("").trim())
    })
}

/// Whether `text` is the record's answer instant in one of the forms the module documents,
/// written out independently of the parser: Unix seconds, or `YYYY-MM-DD HH:MM:SS` (or `T`)
/// in UTC, each with an optional fraction of up to 9 digits. (A second of 60, which the
/// datetime library reads as 59, is let through.)
fn spells_answer(text: &str, record: &ProxyRecord) -> bool {
    let Some(at) = record.answered_at else {
        return false;
    };
    let (main, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if fraction.len() > 9 || !digits(fraction) {
        return false;
    }
    let nanos: i32 = format!("{fraction:0<9}").parse().expect("9 digits");
    if nanos != at.subsec_nanosecond() {
        return false;
    }
    if !main.is_empty() && digits(main) {
        return main.parse::<i64>() == Ok(at.as_second());
    }
    let b = main.as_bytes();
    let civil = b.len() == 19
        && (b[4], b[7], b[13], b[16]) == (b'-', b'-', b':', b':')
        && matches!(b[10], b' ' | b'T')
        && [0..4, 5..7, 8..10, 11..13, 14..16, 17..19]
            .into_iter()
            .all(|r| digits(&main[r]));
    let expected = at.strftime("%Y-%m-%d %H:%M:%S").to_string();
    let spelled = main.replacen('T', " ", 1);
    civil
        && (spelled == expected
            || (spelled.ends_with(":60")
                && expected.ends_with(":59")
                && spelled[..17] == expected[..17]))
}

/// An acc log refused names lines that exist and fields of the format.
fn check_acc_refusal(error: &AccError, line_count: usize, max: usize) {
    match error {
        AccError::Lines(e) => {
            assert!(!e.errors.is_empty(), "a refusal lists no bad line: {e:?}");
            assert!(e.errors.len() <= MAX_LISTED_ERRORS);
            for row in &e.errors {
                assert!(
                    (1..=line_count).contains(&row.line),
                    "line {} is outside the {line_count} lines of the input: {row:?}",
                    row.line
                );
                assert!(
                    ACC_FIELDS.contains(&row.column.as_str()),
                    "{:?} is not a field of an acc line: {row:?}",
                    row.column
                );
                assert!(!row.reason.trim().is_empty(), "a bad line without a reason");
            }
        }
        AccError::TooManyRecords { max: m, line } => {
            assert_eq!(*m, max);
            assert!(
                (1..=line_count).contains(line),
                "line {line} is outside the {line_count} lines of the input"
            );
        }
        AccError::TooManyLines { max } => assert!(line_count > *max, "{line_count} lines"),
    }
    let text = error.to_string();
    assert!(text.contains("refused"), "{text}");
}
