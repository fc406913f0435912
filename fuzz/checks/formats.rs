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
use minutely_formats::calls::{self, CallFile};
use minutely_formats::tenant_file::{self, FileError, TenantFile};
use minutely_formats::{FileErrors, MAX_LISTED_ERRORS, ratecard};
use std::collections::BTreeSet;
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
    (0..file.len()).map(|i| file.get(i)).collect()
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
