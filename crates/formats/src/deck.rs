//! Carrier rate decks: a carrier's CSV, in the carrier's own layout, read through a column
//! mapping (a TOML file) into a dial-out rate card.
//!
//! The mapping names the columns (by header name or by 1-based position) of the prefix, the
//! description, the rate per minute, the connection fee, the increments (one `60/60` column,
//! two columns, or one value for the whole deck), the effective date (a column, or one date for
//! the whole deck) and the premium flag, with the delimiter, whether there is a header, the date
//! format, time zone, decimal separator and encoding. Each row becomes a `dial_out` entry whose
//! country is the prefix's numbering-plan country and whose name is the description, or the
//! country's name when there is none.
//!
//! A deck with any bad row is refused whole, every bad row named: a prefix that is not digits
//! or that no country calling code begins, a rate or fee that is not an amount or is out of its
//! bound, bad increments or dates, a prefix twice in one version, and a rate far from its
//! family's median (`OUTLIER_FACTOR`), which is most often a unit or decimal-point error and is
//! refused unless the import accepts it explicitly.

use crate::{ErrorList, FileErrors, instant};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use minutely_core::catalogue::{CountryTable, RateCard, RateEntry, RateKey, RateKind};
use minutely_core::money::{
    BadAmount, Currency, MAX_CONNECTION_FEE, MAX_RATE_PER_MINUTE, parse_amount,
};
use minutely_core::numbers::{Country, E164_MAX_DIGITS, NumberPlan, PlanAnswer};
use rust_decimal::Decimal;
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// The largest deck file read, in bytes.
pub const MAX_DECK_BYTES: u64 = 512 * 1024 * 1024;
/// The most data rows one deck may have.
pub const MAX_ROWS: usize = 2_000_000;
/// The longest field of a deck, in bytes (a description included).
pub const MAX_FIELD_BYTES: usize = 256;
/// The longest description kept as a destination's name, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// The longest description kept, in bytes of UTF-8 (a rate card's name is bounded so; an
/// ISO 8859-1 letter above 127 takes two).
pub const MAX_NAME_BYTES: usize = 200;
/// The largest mapping file, in bytes.
pub const MAX_MAPPING_BYTES: usize = 64 * 1024;
/// The most lines a mapping may skip before the header (a carrier's title lines).
pub const MAX_SKIP_LINES: usize = 1000;
/// The largest 1-based column position a mapping may name.
pub const MAX_POSITION: i64 = 1000;
/// The longest billing block, in seconds (as in the rate-card CSV).
pub const MAX_BLOCK_S: u32 = crate::ratecard::MAX_BLOCK_S;
/// A rate more than this many times above, or below, the median rate of its family (the
/// prefixes of one country in one version) is a likely unit or decimal-point error.
pub const OUTLIER_FACTOR: u32 = 100;
/// The fewest non-zero rates a family needs for its median to judge the others.
pub const MIN_FAMILY_RATES: usize = 3;

/// A column of the deck: its header name, or its 1-based position.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum ColumnRef {
    Position(i64),
    Name(String),
}

/// The mapping file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingFile {
    delimiter: Option<String>,
    header: Option<bool>,
    skip_lines: Option<usize>,
    decimal_separator: Option<String>,
    date_format: Option<String>,
    timezone: Option<String>,
    encoding: Option<String>,
    non_geographic: Option<String>,
    columns: ColumnsFile,
    #[serde(default)]
    fixed: FixedFile,
}

/// `[columns]`: where each field of a row is.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ColumnsFile {
    prefix: ColumnRef,
    description: Option<ColumnRef>,
    rate: ColumnRef,
    connection_fee: Option<ColumnRef>,
    increments: Option<ColumnRef>,
    first_block: Option<ColumnRef>,
    increment: Option<ColumnRef>,
    effective_from: Option<ColumnRef>,
    premium: Option<ColumnRef>,
}

/// `[fixed]`: values that hold for every row of the deck.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FixedFile {
    increments: Option<String>,
    effective_from: Option<String>,
    connection_fee: Option<String>,
}

/// Where the increments of a row come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Increments {
    /// One column such as `60/60` (first block / increment, in seconds).
    Column(ColumnRef),
    /// A first-block column and an increment column.
    Columns(ColumnRef, ColumnRef),
    /// The same for every row.
    Fixed {
        first_block_s: u32,
        increment_s: u32,
    },
}

/// Where the effective date of a row comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effective {
    Column(ColumnRef),
    Fixed(Timestamp),
    /// Neither the mapping nor the command line gave one yet.
    Unset,
}

/// What to do with a prefix the numbering plan knows but gives no country (`+800`, `+882`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonGeographic {
    Refuse,
    Skip,
}

/// A checked column mapping.
#[derive(Debug, Clone)]
pub struct Mapping {
    pub delimiter: u8,
    pub header: bool,
    /// Lines before the header (or before the first row) that are not part of the table.
    pub skip_lines: usize,
    /// `,` rather than `.` separates the decimals of amounts.
    pub decimal_comma: bool,
    /// A `jiff` strftime format, or `rfc3339`.
    pub date_format: String,
    /// The zone of dates written without an offset.
    pub timezone: TimeZone,
    /// The deck is ISO 8859-1 rather than UTF-8.
    pub latin1: bool,
    pub non_geographic: NonGeographic,
    pub prefix: ColumnRef,
    pub description: Option<ColumnRef>,
    pub rate: ColumnRef,
    pub connection_fee: Option<ColumnRef>,
    /// The connection fee of every row when no column gives it (0 unless set).
    pub fixed_connection_fee: Decimal,
    pub increments: Increments,
    pub effective: Effective,
    pub premium: Option<ColumnRef>,
}

fn one_byte(what: &str, text: &str, problems: &mut Vec<String>) -> u8 {
    match text.as_bytes() {
        [b] if b.is_ascii() && !matches!(b, b'"' | b'\n' | b'\r') => *b,
        _ => {
            problems.push(format!(
                "{what} {text:?} must be one ASCII character (not a quote or a line break)"
            ));
            b','
        }
    }
}

fn check_ref(name: &str, column: &Option<ColumnRef>, header: bool, problems: &mut Vec<String>) {
    match column {
        Some(ColumnRef::Position(p)) if !(1..=MAX_POSITION).contains(p) => problems.push(format!(
            "columns.{name} = {p}: a position is from 1 to {MAX_POSITION}"
        )),
        Some(ColumnRef::Name(n)) if !header => problems.push(format!(
            "columns.{name} = {n:?}: a deck without a header names columns by position"
        )),
        Some(ColumnRef::Name(n)) if n.trim().is_empty() || n.len() > MAX_FIELD_BYTES => problems
            .push(format!(
                "columns.{name}: a header name has 1 to {MAX_FIELD_BYTES} bytes"
            )),
        _ => {}
    }
}

impl Mapping {
    /// Reads and checks a mapping file; every problem is listed.
    pub fn parse(text: &str) -> Result<Mapping, String> {
        if text.len() > MAX_MAPPING_BYTES {
            return Err(format!(
                "a mapping file has at most {MAX_MAPPING_BYTES} bytes"
            ));
        }
        let file: MappingFile = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut problems = Vec::new();
        let header = file.header.unwrap_or(true);
        let c = &file.columns;
        for (name, column) in [
            ("prefix", &Some(c.prefix.clone())),
            ("description", &c.description),
            ("rate", &Some(c.rate.clone())),
            ("connection_fee", &c.connection_fee),
            ("increments", &c.increments),
            ("first_block", &c.first_block),
            ("increment", &c.increment),
            ("effective_from", &c.effective_from),
            ("premium", &c.premium),
        ] {
            check_ref(name, column, header, &mut problems);
        }
        let delimiter = one_byte(
            "delimiter",
            file.delimiter.as_deref().unwrap_or(","),
            &mut problems,
        );
        let decimal_comma = match file.decimal_separator.as_deref().unwrap_or(".") {
            "." => false,
            "," => true,
            other => {
                problems.push(format!("decimal_separator {other:?} is \".\" or \",\""));
                false
            }
        };
        let skip_lines = file.skip_lines.unwrap_or(0);
        if skip_lines > MAX_SKIP_LINES {
            problems.push(format!("skip_lines is at most {MAX_SKIP_LINES}"));
        }
        let timezone = timezone(file.timezone.as_deref(), &mut problems);
        let mut mapping = Mapping {
            delimiter,
            header,
            skip_lines,
            decimal_comma,
            date_format: file
                .date_format
                .clone()
                .unwrap_or_else(|| "%Y-%m-%d".into()),
            timezone,
            latin1: latin1(file.encoding.as_deref(), &mut problems),
            non_geographic: non_geographic(file.non_geographic.as_deref(), &mut problems),
            prefix: c.prefix.clone(),
            description: c.description.clone(),
            rate: c.rate.clone(),
            connection_fee: c.connection_fee.clone(),
            fixed_connection_fee: Decimal::ZERO,
            increments: Increments::Fixed {
                first_block_s: 60,
                increment_s: 60,
            },
            effective: Effective::Unset,
            premium: c.premium.clone(),
        };
        mapping.sources(&file, &mut problems);
        if problems.is_empty() {
            Ok(mapping)
        } else {
            Err(problems.join("\n"))
        }
    }

    /// The increments, effective date and fee: each from exactly one place.
    fn sources(&mut self, file: &MappingFile, problems: &mut Vec<String>) {
        let c = &file.columns;
        let f = &file.fixed;
        self.increments = match (&c.increments, &c.first_block, &c.increment, &f.increments) {
            (Some(column), None, None, None) => Increments::Column(column.clone()),
            (None, Some(first), Some(next), None) => {
                Increments::Columns(first.clone(), next.clone())
            }
            (None, None, None, Some(text)) => match parse_increments(text) {
                Ok((first_block_s, increment_s)) => Increments::Fixed {
                    first_block_s,
                    increment_s,
                },
                Err(why) => {
                    problems.push(format!("fixed.increments: {why}"));
                    self.increments.clone()
                }
            },
            _ => {
                problems.push(
                    "increments come from exactly one of columns.increments, columns.first_block \
                     with columns.increment, or fixed.increments"
                        .into(),
                );
                self.increments.clone()
            }
        };
        self.effective = match (&c.effective_from, &f.effective_from) {
            (Some(column), None) => Effective::Column(column.clone()),
            (None, Some(text)) => match parse_fixed_date(text, &self.timezone) {
                Ok(at) => Effective::Fixed(at),
                Err(why) => {
                    problems.push(format!("fixed.effective_from: {why}"));
                    Effective::Unset
                }
            },
            (None, None) => Effective::Unset,
            (Some(_), Some(_)) => {
                problems.push(
                    "the effective date comes from columns.effective_from or fixed.effective_from, not both"
                        .into(),
                );
                Effective::Unset
            }
        };
        if let Some(text) = &f.connection_fee {
            if c.connection_fee.is_some() {
                problems.push(
                    "the connection fee comes from columns.connection_fee or fixed.connection_fee, not both"
                        .into(),
                );
            }
            match bounded_amount(text, false, MAX_CONNECTION_FEE, "connection fee") {
                Ok(fee) => self.fixed_connection_fee = fee,
                Err(why) => problems.push(format!("fixed.connection_fee: {why}")),
            }
        }
    }

    /// The mapping with one effective date for the whole deck (`--effective-from`), which
    /// replaces the mapping's own fixed date; refused when the mapping reads dates from a
    /// column.
    pub fn with_effective_from(mut self, text: &str) -> Result<Mapping, String> {
        if let Effective::Column(column) = &self.effective {
            return Err(format!(
                "the mapping reads effective dates from column {}; a date for the whole deck would contradict it",
                column_text(column)
            ));
        }
        self.effective = Effective::Fixed(parse_fixed_date(text, &self.timezone)?);
        Ok(self)
    }
}

fn column_text(column: &ColumnRef) -> String {
    match column {
        ColumnRef::Position(p) => p.to_string(),
        ColumnRef::Name(n) => format!("{n:?}"),
    }
}

fn timezone(name: Option<&str>, problems: &mut Vec<String>) -> TimeZone {
    match name {
        None => TimeZone::UTC,
        Some(name) => TimeZone::get(name).unwrap_or_else(|_| {
            problems.push(format!(
                "timezone {name:?} is not an IANA time zone (such as UTC or Europe/Paris)"
            ));
            TimeZone::UTC
        }),
    }
}

fn latin1(encoding: Option<&str>, problems: &mut Vec<String>) -> bool {
    match encoding.map(str::to_ascii_lowercase).as_deref() {
        None | Some("utf-8") | Some("utf8") => false,
        Some("latin-1") | Some("latin1") | Some("iso-8859-1") => true,
        Some(other) => {
            problems.push(format!("encoding {other:?} is utf-8 or latin-1"));
            false
        }
    }
}

fn non_geographic(text: Option<&str>, problems: &mut Vec<String>) -> NonGeographic {
    match text.unwrap_or("refuse") {
        "refuse" => NonGeographic::Refuse,
        "skip" => NonGeographic::Skip,
        other => {
            problems.push(format!("non_geographic {other:?} is refuse or skip"));
            NonGeographic::Refuse
        }
    }
}

/// `60/60`, `60/1`, `30/6`, `1/1`: first block and increment, in whole seconds.
pub fn parse_increments(text: &str) -> Result<(u32, u32), String> {
    let seconds = |part: &str| {
        part.trim()
            .parse::<u32>()
            .ok()
            .filter(|s| (1..=MAX_BLOCK_S).contains(s))
    };
    match text.split_once('/') {
        Some((first, next)) => match (seconds(first), seconds(next)) {
            (Some(first), Some(next)) => Ok((first, next)),
            _ => Err(format!(
                "{text:?}: each side of first/increment is whole seconds from 1 to {MAX_BLOCK_S}"
            )),
        },
        None => Err(format!(
            "{text:?} is not increments written first/increment in seconds, such as 60/60 or 30/6"
        )),
    }
}

/// A date for the whole deck: `YYYY-MM-DD` (midnight in the mapping's zone) or an RFC 3339
/// instant.
pub fn parse_fixed_date(text: &str, zone: &TimeZone) -> Result<Timestamp, String> {
    if let Ok(at) = instant::parse(text) {
        return Ok(at);
    }
    text.trim()
        .parse::<jiff::civil::Date>()
        .ok()
        .and_then(|date| {
            zone.to_timestamp(date.to_datetime(jiff::civil::Time::midnight()))
                .ok()
        })
        .ok_or_else(|| format!("{text:?} is not a date (YYYY-MM-DD) or an RFC 3339 instant"))
}

/// Digits of a prefix written with or without `+` or `00` (spaces around are ignored).
pub fn prefix_digits(text: &str) -> Result<&str, String> {
    let trimmed = text.trim();
    let digits = trimmed
        .strip_prefix('+')
        .or_else(|| trimmed.strip_prefix("00"))
        .unwrap_or(trimmed);
    let ok = !digits.is_empty()
        && digits.len() <= E164_MAX_DIGITS
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    if ok {
        Ok(digits)
    } else {
        Err(format!(
            "{text:?} is not a prefix (1 to {E164_MAX_DIGITS} digits after an optional + or 00, such as +336)"
        ))
    }
}

/// An amount of a deck (with `,` as the decimal separator when `decimal_comma`), from 0 to
/// `max`, never rounded.
fn bounded_amount(
    text: &str,
    decimal_comma: bool,
    max: Decimal,
    what: &str,
) -> Result<Decimal, String> {
    let trimmed = text.trim();
    let written: Cow<str> = if decimal_comma {
        if trimmed.contains('.') {
            return Err(format!(
                "{text:?}: '.' in a deck whose decimal separator is ','"
            ));
        }
        Cow::Owned(trimmed.replace(',', "."))
    } else if trimmed.contains(',') {
        return Err(format!(
            "{text:?}: ',' is not a decimal separator here (set decimal_separator = \",\" in the mapping)"
        ));
    } else {
        Cow::Borrowed(trimmed)
    };
    match parse_amount(&written) {
        Ok(v) if v < Decimal::ZERO => Err(format!("{text:?} is negative")),
        Ok(v) if v > max => Err(format!("{text:?} is larger than {max}, the largest {what}")),
        Ok(v) => Ok(v),
        Err(BadAmount::TooLarge(_)) => {
            Err(format!("{text:?} is larger than {max}, the largest {what}"))
        }
        Err(BadAmount::Malformed(_)) => Err(format!(
            "{text:?} is not a decimal amount (digits with an optional decimal separator)"
        )),
        Err(e) => Err(e.to_string()),
    }
}

fn parse_premium(text: &str) -> Result<bool, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "" | "false" | "no" | "n" | "0" => Ok(false),
        "true" | "yes" | "y" | "1" => Ok(true),
        _ => Err(format!("{text:?}: expected true or false (yes/no, 1/0)")),
    }
}

/// How the import treats rates far from their family's median.
#[derive(Debug, Clone, Default)]
pub struct AcceptOutliers {
    /// Every such rate is accepted (and listed).
    pub all: bool,
    /// The prefixes (digits) whose rates are accepted.
    pub prefixes: BTreeSet<String>,
}

/// What the import is told beside the mapping.
#[derive(Debug, Clone)]
pub struct DeckOptions {
    pub currency: Currency,
    pub accept: AcceptOutliers,
}

/// A rate far from its family's median.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outlier {
    pub line: usize,
    pub prefix: String,
    pub country: Country,
    pub rate: Decimal,
    pub median: Decimal,
    pub effective_from: Timestamp,
}

impl std::fmt::Display for Outlier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let side = if self.rate > self.median {
            "above"
        } else {
            "below"
        };
        write!(
            f,
            "{} is more than {OUTLIER_FACTOR} times {side} {}, the median rate of the {} prefixes in the version effective from {}: likely a unit or decimal-point error (accept it with --accept-outlier +{})",
            self.rate,
            self.median,
            self.country,
            instant::format(self.effective_from),
            self.prefix
        )
    }
}

/// What a deck holds, whether it was accepted or not.
#[derive(Debug, Clone, Default)]
pub struct DeckSummary {
    /// Data rows read (blank rows and the header are not rows).
    pub rows: usize,
    /// Rows that become rate entries (read well and not refused by a check across rows).
    pub priced: usize,
    /// Non-geographic rows left out (`non_geographic = "skip"`).
    pub skipped: usize,
    /// Rows with at least one error.
    pub refused: usize,
    /// Each version: its start and its number of prefixes.
    pub versions: BTreeMap<Timestamp, usize>,
    /// Countries of the priced rows.
    pub countries: BTreeSet<Country>,
    /// Rates far from their family's median that the import accepted.
    pub accepted_outliers: Vec<Outlier>,
}

/// A deck read: its summary, and the card or every bad row.
#[derive(Debug)]
pub struct Deck {
    pub summary: DeckSummary,
    pub card: Result<RateCard, FileErrors>,
}

/// One good row.
#[derive(Debug)]
struct Row {
    line: usize,
    /// Digits, without `+`.
    prefix: String,
    country: Country,
    name: String,
    premium: bool,
    rate: Decimal,
    connection_fee: Decimal,
    first_block_s: u32,
    increment_s: u32,
    effective_from: Timestamp,
}

/// A mapped column found in the deck: its index and the label errors name it by.
#[derive(Debug, Clone)]
struct Col {
    index: usize,
    label: String,
}

/// The increments' columns once found.
#[derive(Debug, Clone)]
enum IncrementCols {
    One(Col),
    Two(Col, Col),
    Fixed(u32, u32),
}

/// Every mapped column, found.
#[derive(Debug, Clone)]
struct Cols {
    prefix: Col,
    description: Option<Col>,
    rate: Col,
    fee: Option<Col>,
    increments: IncrementCols,
    effective: Option<Col>,
    premium: Option<Col>,
    /// The fields a row needs at least.
    needed: usize,
}

/// Every error of a deck, and how many rows they touch.
#[derive(Default)]
struct Refusals {
    list: ErrorList,
    lines: HashSet<usize>,
}

impl Refusals {
    fn push(&mut self, line: usize, column: &str, reason: impl Into<String>) {
        self.lines.insert(line);
        self.list.push(line, column, reason);
    }

    /// `Some(value)`, or `None` with the error pushed.
    fn take<T>(&mut self, line: usize, col: &Col, value: Result<T, String>) -> Option<T> {
        value.map_err(|why| self.push(line, &col.label, why)).ok()
    }
}

/// Finds one mapped column in the header (or by position).
fn find(column: &ColumnRef, header: Option<&[String]>) -> Result<Col, String> {
    match column {
        ColumnRef::Position(p) => {
            let index = usize::try_from(*p - 1).unwrap_or(0);
            let label = header
                .and_then(|h| h.get(index))
                .map(|name| name.trim())
                .filter(|name| !name.is_empty() && name.len() <= MAX_FIELD_BYTES)
                .map_or_else(|| p.to_string(), str::to_string);
            Ok(Col { index, label })
        }
        ColumnRef::Name(name) => {
            let header = header.unwrap_or_default();
            let found: Vec<usize> = (0..header.len())
                .filter(|i| header[*i].trim().eq_ignore_ascii_case(name.trim()))
                .collect();
            match found[..] {
                [index] => Ok(Col {
                    index,
                    label: header[index].trim().to_string(),
                }),
                [] => Err(format!(
                    "the mapping's column {name:?} is not in the header ({})",
                    header_listing(header)
                )),
                _ => Err(format!(
                    "the header has {} columns named {name:?}: name it by position",
                    found.len()
                )),
            }
        }
    }
}

/// The header's names for an error: at most `LISTED_NAMES`, each at most 64 characters.
fn header_listing(header: &[String]) -> String {
    const LISTED_NAMES: usize = 30;
    let mut names: Vec<String> = header
        .iter()
        .take(LISTED_NAMES)
        .map(|name| name.trim().chars().take(64).collect())
        .collect();
    if header.len() > LISTED_NAMES {
        names.push(format!("... {} more", header.len() - LISTED_NAMES));
    }
    names.join(", ")
}

/// Finds every mapped column; every missing one is listed.
fn resolve(mapping: &Mapping, header: Option<&[String]>) -> Result<Cols, Vec<String>> {
    let mut problems = Vec::new();
    let mut one = |column: &ColumnRef| find(column, header).map_err(|why| problems.push(why)).ok();
    let prefix = one(&mapping.prefix);
    let description = mapping.description.as_ref().map(&mut one);
    let rate = one(&mapping.rate);
    let fee = mapping.connection_fee.as_ref().map(&mut one);
    let premium = mapping.premium.as_ref().map(&mut one);
    let increments = match &mapping.increments {
        Increments::Column(c) => one(c).map(IncrementCols::One),
        Increments::Columns(a, b) => match (one(a), one(b)) {
            (Some(a), Some(b)) => Some(IncrementCols::Two(a, b)),
            _ => None,
        },
        Increments::Fixed {
            first_block_s,
            increment_s,
        } => Some(IncrementCols::Fixed(*first_block_s, *increment_s)),
    };
    let effective = match &mapping.effective {
        Effective::Column(c) => Some(one(c)),
        _ => None,
    };
    let (Some(prefix), Some(rate), Some(increments)) = (prefix, rate, increments) else {
        return Err(problems);
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    let (description, fee, premium) = (description.flatten(), fee.flatten(), premium.flatten());
    let effective = effective.flatten();
    let mut needed = [&prefix, &rate]
        .into_iter()
        .chain(description.iter())
        .chain(fee.iter())
        .chain(premium.iter())
        .chain(effective.iter())
        .map(|c| c.index + 1)
        .max()
        .unwrap_or(1);
    if let IncrementCols::One(c) | IncrementCols::Two(c, _) = &increments {
        needed = needed.max(c.index + 1);
    }
    if let IncrementCols::Two(_, c) = &increments {
        needed = needed.max(c.index + 1);
    }
    Ok(Cols {
        prefix,
        description,
        rate,
        fee,
        increments,
        effective,
        premium,
        needed,
    })
}

/// Reads the rows of a deck with its columns found.
struct RowReader<'a> {
    mapping: &'a Mapping,
    countries: &'a CountryTable,
    plan: &'static NumberPlan,
    /// The last date text read and its instant: decks repeat one date on row after row.
    last_date: Option<(String, Timestamp)>,
}

impl RowReader<'_> {
    /// A field as text; `None` (with the error pushed) when too long or not in the encoding.
    fn text<'r>(
        &self,
        record: &'r csv::ByteRecord,
        col: &Col,
        line: usize,
        out: &mut Refusals,
    ) -> Option<Cow<'r, str>> {
        let bytes = record.get(col.index).unwrap_or_default();
        if bytes.len() > MAX_FIELD_BYTES {
            out.push(
                line,
                &col.label,
                format!(
                    "a field has at most {MAX_FIELD_BYTES} bytes; this one has {}",
                    bytes.len()
                ),
            );
            return None;
        }
        if self.mapping.latin1 {
            return Some(Cow::Owned(bytes.iter().map(|b| char::from(*b)).collect()));
        }
        match std::str::from_utf8(bytes) {
            Ok(text) => Some(Cow::Borrowed(text)),
            Err(_) => {
                out.push(
                    line,
                    &col.label,
                    "not UTF-8 text (set encoding = \"latin-1\" in the mapping for an ISO 8859-1 deck)",
                );
                None
            }
        }
    }

    /// The digits and country of the row's prefix; `Ok(None)` for a skipped non-geographic one.
    fn prefix(&self, text: &str) -> Result<Option<(String, Country)>, String> {
        let digits = prefix_digits(text)?;
        match self.plan.classify_prefix(digits) {
            PlanAnswer::Country(country) => Ok(Some((digits.to_string(), country))),
            PlanAnswer::NonGeographic if self.mapping.non_geographic == NonGeographic::Skip => {
                Ok(None)
            }
            PlanAnswer::NonGeographic => Err(format!(
                "+{digits} is a non-geographic prefix, which has no country (set non_geographic = \"skip\" in the mapping to leave such rows out)"
            )),
            PlanAnswer::Invalid => Err(format!(
                "{text:?}: no country calling code of the numbering plan begins +{digits}"
            )),
        }
    }

    fn name(&self, text: Option<&str>, country: Country) -> Result<String, String> {
        let text = text.map(str::trim).unwrap_or("");
        if text.is_empty() {
            return Ok(self.countries.name(country));
        }
        // A rate card's name is bounded in bytes of UTF-8: a deck's card must be one.
        if text.chars().count() > MAX_NAME_CHARS || text.len() > MAX_NAME_BYTES {
            return Err(format!(
                "a description has at most {MAX_NAME_CHARS} characters and {MAX_NAME_BYTES} bytes of UTF-8 (as a rate card's name); this one has {} bytes",
                text.len()
            ));
        }
        if text.chars().any(char::is_control) {
            return Err(format!("{text:?} holds a control character"));
        }
        Ok(text.to_string())
    }

    fn date(&mut self, text: &str) -> Result<Timestamp, String> {
        if let Some((last, at)) = &self.last_date
            && last == text
        {
            return Ok(*at);
        }
        let at = parse_date(text, &self.mapping.date_format, &self.mapping.timezone)?;
        self.last_date = Some((text.to_string(), at));
        Ok(at)
    }
}

/// A date of the deck in the mapping's format; without an offset it is in the mapping's zone,
/// and without a time it is midnight.
pub fn parse_date(text: &str, format: &str, zone: &TimeZone) -> Result<Timestamp, String> {
    let trimmed = text.trim();
    if format == "rfc3339" {
        return instant::parse(trimmed);
    }
    let bad = || format!("{text:?} is not a date in the format {format:?}");
    let parts = jiff::fmt::strtime::parse(format, trimmed).map_err(|_| bad())?;
    if parts.offset().is_some() {
        return parts.to_timestamp().map_err(|_| bad());
    }
    let civil = parts.to_datetime().map_err(|_| bad())?;
    zone.to_timestamp(civil).map_err(|_| bad())
}

impl RowReader<'_> {
    /// One data row; `None` when it is bad (every error pushed) or skipped.
    fn row(
        &mut self,
        record: &csv::ByteRecord,
        line: usize,
        cols: &Cols,
        out: &mut Refusals,
        summary: &mut DeckSummary,
    ) -> Option<Row> {
        if record.len() < cols.needed {
            let found = record.len();
            out.push(
                line,
                "",
                format!("expected at least {} fields, found {found}", cols.needed),
            );
            return None;
        }
        let errors_before = out.list.len();
        let prefix = match self
            .text(record, &cols.prefix, line, out)
            .map(|t| self.prefix(&t))
        {
            Some(Ok(Some(found))) => Some(found),
            Some(Ok(None)) => {
                summary.skipped += 1;
                return None;
            }
            Some(Err(why)) => {
                out.push(line, &cols.prefix.label, why);
                None
            }
            None => None,
        };
        let rate = self.money(
            record,
            (&cols.rate, line),
            MAX_RATE_PER_MINUTE,
            "rate per minute",
            out,
        );
        let connection_fee = self.fee(record, line, cols, out);
        let increments = self.increments(record, line, cols, out);
        let effective_from = self.effective(record, line, cols, out);
        let premium = match &cols.premium {
            Some(col) => self
                .text(record, col, line, out)
                .and_then(|text| out.take(line, col, parse_premium(&text))),
            None => Some(false),
        };
        let (prefix, country) = prefix?;
        let name = self.row_name(record, line, cols, country, out)?;
        let (first_block_s, increment_s) = increments?;
        if out.list.len() != errors_before {
            return None;
        }
        Some(Row {
            line,
            prefix,
            country,
            name,
            premium: premium?,
            rate: rate?,
            connection_fee: connection_fee?,
            first_block_s,
            increment_s,
            effective_from: effective_from?,
        })
    }

    /// The connection fee: the column's (empty is 0), or the mapping's for every row.
    fn fee(
        &self,
        record: &csv::ByteRecord,
        line: usize,
        cols: &Cols,
        out: &mut Refusals,
    ) -> Option<Decimal> {
        let Some(col) = &cols.fee else {
            return Some(self.mapping.fixed_connection_fee);
        };
        if record
            .get(col.index)
            .is_some_and(|f| f.trim_ascii().is_empty())
        {
            return Some(Decimal::ZERO);
        }
        self.money(
            record,
            (col, line),
            MAX_CONNECTION_FEE,
            "connection fee",
            out,
        )
    }

    /// The destination's name: the description, or the country's name.
    fn row_name(
        &self,
        record: &csv::ByteRecord,
        line: usize,
        cols: &Cols,
        country: Country,
        out: &mut Refusals,
    ) -> Option<String> {
        let description = match &cols.description {
            Some(col) => Some(self.text(record, col, line, out)?),
            None => None,
        };
        let name = self.name(description.as_deref(), country);
        out.take(
            line,
            cols.description.as_ref().unwrap_or(&cols.prefix),
            name,
        )
    }

    /// A rate (up to `MAX_RATE_PER_MINUTE`) or a fee (up to `MAX_CONNECTION_FEE`); `what`
    /// names it in errors.
    fn money(
        &self,
        record: &csv::ByteRecord,
        (col, line): (&Col, usize),
        max: Decimal,
        what: &str,
        out: &mut Refusals,
    ) -> Option<Decimal> {
        let text = self.text(record, col, line, out)?;
        let amount = bounded_amount(&text, self.mapping.decimal_comma, max, what);
        out.take(line, col, amount)
    }

    fn effective(
        &mut self,
        record: &csv::ByteRecord,
        line: usize,
        cols: &Cols,
        out: &mut Refusals,
    ) -> Option<Timestamp> {
        match &cols.effective {
            Some(col) => {
                let text = self.text(record, col, line, out)?;
                let at = self.date(&text);
                out.take(line, col, at)
            }
            None => match self.mapping.effective {
                Effective::Fixed(at) => Some(at),
                _ => None,
            },
        }
    }

    fn increments(
        &self,
        record: &csv::ByteRecord,
        line: usize,
        cols: &Cols,
        out: &mut Refusals,
    ) -> Option<(u32, u32)> {
        let seconds = |col: &Col, out: &mut Refusals| {
            let text = self.text(record, col, line, out)?;
            let value = text
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|s| (1..=MAX_BLOCK_S).contains(s))
                .ok_or_else(|| format!("{text:?}: expected whole seconds from 1 to {MAX_BLOCK_S}"));
            out.take(line, col, value)
        };
        match &cols.increments {
            IncrementCols::Fixed(first, next) => Some((*first, *next)),
            IncrementCols::One(col) => {
                let text = self.text(record, col, line, out)?;
                out.take(line, col, parse_increments(&text))
            }
            IncrementCols::Two(first, next) => {
                let first = seconds(first, out);
                let next = seconds(next, out);
                Some((first?, next?))
            }
        }
    }
}

/// The header's fields as text (ISO 8859-1 or UTF-8, lossily: a header is only matched).
fn header_fields(record: &csv::ByteRecord, latin1: bool) -> Vec<String> {
    record
        .iter()
        .map(|field| {
            if latin1 {
                field.iter().map(|b| char::from(*b)).collect()
            } else {
                String::from_utf8_lossy(field).into_owned()
            }
        })
        .collect()
}

/// Reads every row of the deck; returns the good rows and the columns (`None` when the header
/// did not have them).
fn read_rows(
    input: &[u8],
    reader: &mut RowReader,
    out: &mut Refusals,
    summary: &mut DeckSummary,
) -> (Vec<Row>, Option<Cols>) {
    let mapping = reader.mapping;
    let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    let mut csv = csv::ReaderBuilder::new()
        .delimiter(mapping.delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(input);
    let mut cols = match mapping.header {
        true => None,
        false => match resolve(mapping, None) {
            Ok(cols) => Some(cols),
            Err(problems) => return refuse_columns(1, problems, out),
        },
    };
    let mut record = csv::ByteRecord::new();
    let mut rows = Vec::new();
    loop {
        match csv.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line() as usize);
                out.push(line, "", format!("not a CSV row: {e}"));
                break;
            }
        }
        let line = record.position().map_or(0, |p| p.line() as usize);
        if line <= mapping.skip_lines || record.iter().all(|f| f.trim_ascii().is_empty()) {
            continue;
        }
        let Some(found) = &cols else {
            match resolve(mapping, Some(&header_fields(&record, mapping.latin1))) {
                Ok(found) => cols = Some(found),
                Err(problems) => return refuse_columns(line, problems, out),
            }
            continue;
        };
        summary.rows += 1;
        if summary.rows > MAX_ROWS {
            out.push(line, "", format!("a deck has at most {MAX_ROWS} rows"));
            break;
        }
        if let Some(row) = reader.row(&record, line, found, out, summary) {
            rows.push(row);
        }
    }
    (rows, cols)
}

fn refuse_columns(
    line: usize,
    problems: Vec<String>,
    out: &mut Refusals,
) -> (Vec<Row>, Option<Cols>) {
    for why in problems {
        out.push(line, "", why);
    }
    (Vec::new(), None)
}

/// A prefix twice in one version refuses the later rows.
fn refuse_duplicates(rows: &[Row], cols: &Cols, out: &mut Refusals) {
    let mut seen: HashMap<(Timestamp, &str), usize> = HashMap::with_capacity(rows.len());
    for row in rows {
        if let Some(first) = seen.insert((row.effective_from, &row.prefix), row.line) {
            out.push(
                row.line,
                &cols.prefix.label,
                format!(
                    "+{} is already on line {first} for the version effective from {}",
                    row.prefix,
                    instant::format(row.effective_from)
                ),
            );
            // The first line stays the one later duplicates are named against.
            seen.insert((row.effective_from, &row.prefix), first);
        }
    }
}

/// The lower median of a family's non-zero rates, when it has enough of them.
fn family_median(rows: &[Row], members: &[usize]) -> Option<Decimal> {
    let mut rates: Vec<Decimal> = members
        .iter()
        .map(|i| rows[*i].rate)
        .filter(|r| !r.is_zero())
        .collect();
    if rates.len() < MIN_FAMILY_RATES {
        return None;
    }
    rates.sort_unstable();
    Some(rates[(rates.len() - 1) / 2])
}

/// Rates more than `OUTLIER_FACTOR` times above or below their family's median: refused unless
/// accepted, and listed in the summary when accepted. A zero rate (a free destination) is a
/// decision, not a slip, and is never judged.
fn judge_magnitudes(
    rows: &[Row],
    cols: &Cols,
    accept: &AcceptOutliers,
    out: &mut Refusals,
    summary: &mut DeckSummary,
) {
    let mut families: HashMap<(Timestamp, Country), Vec<usize>> = HashMap::new();
    for (i, row) in rows.iter().enumerate() {
        families
            .entry((row.effective_from, row.country))
            .or_default()
            .push(i);
    }
    let factor = Decimal::from(OUTLIER_FACTOR);
    for members in families.values() {
        let Some(median) = family_median(rows, members) else {
            continue;
        };
        let high = median.checked_mul(factor).unwrap_or(Decimal::MAX);
        for row in members.iter().map(|i| &rows[*i]) {
            let low = row.rate.checked_mul(factor).unwrap_or(Decimal::MAX) < median;
            if row.rate.is_zero() || !(row.rate > high || low) {
                continue;
            }
            let outlier = Outlier {
                line: row.line,
                prefix: row.prefix.clone(),
                country: row.country,
                rate: row.rate,
                median,
                effective_from: row.effective_from,
            };
            if accept.all || accept.prefixes.contains(&row.prefix) {
                summary.accepted_outliers.push(outlier);
            } else {
                out.push(row.line, &cols.rate.label, outlier.to_string());
            }
        }
    }
    summary.accepted_outliers.sort_by_key(|o| o.line);
}

/// Reads a deck through its mapping into a dial-out rate card for `options.currency`. The
/// summary is filled whether the deck is accepted or not; the card is refused whole, with
/// every bad row, when any row is bad.
pub fn read(
    input: &[u8],
    mapping: &Mapping,
    options: &DeckOptions,
    countries: &CountryTable,
) -> Deck {
    let mut out = Refusals::default();
    let mut summary = DeckSummary::default();
    let currency = options.currency;
    if mapping.effective == Effective::Unset {
        out.push(
            1,
            "",
            "no effective date: map columns.effective_from, set fixed.effective_from, or give one date for the deck",
        );
    }
    let mut reader = RowReader {
        mapping,
        countries,
        plan: NumberPlan::global(),
        last_date: None,
    };
    let (rows, cols) = read_rows(input, &mut reader, &mut out, &mut summary);
    if let Some(cols) = &cols {
        refuse_duplicates(&rows, cols, &mut out);
        judge_magnitudes(&rows, cols, &options.accept, &mut out, &mut summary);
    }
    if summary.rows == 0 && out.list.is_empty() {
        out.push(1, "", "the deck has no rows");
    }
    // The summary counts the rows that would be priced: read well and not refused since.
    for row in rows.iter().filter(|r| !out.lines.contains(&r.line)) {
        *summary.versions.entry(row.effective_from).or_default() += 1;
        summary.countries.insert(row.country);
        summary.priced += 1;
    }
    summary.refused = out.lines.len();
    if !out.list.is_empty() {
        let card = out.list.finish("rate deck", RateCard::empty(currency));
        return Deck { summary, card };
    }
    let entries = rows.into_iter().map(|row| (row.line, entry(row))).collect();
    let card = match RateCard::build(currency, entries) {
        Ok(card) => Ok(card),
        Err(bad) => {
            summary.refused = bad.len();
            out.list.extend(bad);
            out.list.finish("rate deck", RateCard::empty(currency))
        }
    };
    Deck { summary, card }
}

fn entry(row: Row) -> RateEntry {
    RateEntry {
        kind: RateKind::DialOut,
        key: RateKey::Prefix(row.prefix),
        origin: None,
        name: row.name,
        country: row.country,
        premium: row.premium,
        rate_per_minute: row.rate,
        connection_fee: row.connection_fee,
        first_block_s: row.first_block_s,
        increment_s: row.increment_s,
        effective_from: row.effective_from,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::countries;

    const EXAMPLE_MAPPING: &str = include_str!("../../../examples/deck-mapping.toml");

    /// The example deck of examples/deck-mapping.toml, and more rows of the same layout.
    const EXAMPLE_DECK: &str = "\
Code;Destination;Rate;Setup;Billing;Effective
+33;France;0,0240;0;60/60;01.01.2026
+336;France mobile;0,1100;0;60/60;01.01.2026
0044;United Kingdom;0,0180;;1/1;01.01.2026
1416;;0,0100;0,0500;6/6;01.01.2026
";

    const SIMPLE_MAPPING: &str = r#"
[columns]
prefix = "prefix"
rate = "rate"
[fixed]
increments = "60/60"
effective_from = "2026-01-01"
"#;

    fn usd() -> Currency {
        Currency::parse("USD").unwrap()
    }

    fn options() -> DeckOptions {
        DeckOptions {
            currency: usd(),
            accept: AcceptOutliers::default(),
        }
    }

    fn read_with(mapping: &str, deck: &str, options: &DeckOptions) -> Deck {
        let mapping = Mapping::parse(mapping).expect("a good mapping");
        read(deck.as_bytes(), &mapping, options, &countries::shipped())
    }

    fn card(mapping: &str, deck: &str) -> RateCard {
        read_with(mapping, deck, &options())
            .card
            .unwrap_or_else(|e| panic!("the deck should be accepted: {e}"))
    }

    /// The (line, column) of every error of a refused deck.
    fn refused(mapping: &str, deck: &str, options: &DeckOptions) -> Vec<(usize, String)> {
        match read_with(mapping, deck, options).card {
            Ok(_) => panic!("the deck should be refused"),
            Err(e) => e
                .errors
                .iter()
                .map(|e| (e.line, e.column.clone()))
                .collect(),
        }
    }

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn d(text: &str) -> Decimal {
        parse_amount(text).unwrap()
    }

    #[test]
    fn the_example_mapping_reads_its_deck_into_dial_out_entries() {
        let card = card(EXAMPLE_MAPPING, EXAMPLE_DECK);
        let entries: Vec<&RateEntry> = card.entries().collect();
        assert_eq!(entries.len(), 4);
        let keys: Vec<String> = entries
            .iter()
            .map(|e| minutely_core::catalogue::key_text(e))
            .collect();
        assert_eq!(keys, ["+33", "+336", "+44", "+1416"]);
        let e = entries[3];
        assert_eq!(e.kind, RateKind::DialOut);
        // C8: the country is the numbering plan's (+1416 is Canada); no description: its name.
        assert_eq!(e.country, Country::parse("CA").unwrap());
        assert_eq!(e.name, "Canada");
        assert_eq!(e.rate_per_minute, d("0.0100"));
        assert_eq!(e.connection_fee, d("0.0500"));
        assert_eq!((e.first_block_s, e.increment_s), (6, 6));
        assert!(!e.premium);
        assert_eq!(e.effective_from, at("2026-01-01T00:00:00Z"));
        let uk = entries[2];
        assert_eq!(
            (uk.name.as_str(), uk.country.as_str()),
            ("United Kingdom", "GB")
        );
        assert_eq!(uk.connection_fee, Decimal::ZERO);
        assert_eq!((uk.first_block_s, uk.increment_s), (1, 1));
        assert_eq!(entries[1].rate_per_minute.to_string(), "0.1100");
    }

    #[test]
    fn every_bad_row_is_named_by_line_and_column() {
        let deck = "\
Code;Destination;Rate;Setup;Billing;Effective
+33;France;0,0240;0;60/60;01.01.2026
+33A;France;0,0240;0;60/60;01.01.2026
+44;UK;abc;0;60/60;01.01.2026
+49;DE;0.02;0;60-60;01.01.2026
+39;Italy;-1;0;0/60;32.01.2026
+999;Nowhere;0,01;0;60/60;01.01.2026
+7;Russia;2000000;1000001;60/60;01.01.2026
0;Zero;0,01;0;60/60;01.01.2026
+81
";
        let found = refused(EXAMPLE_MAPPING, deck, &options());
        let expected = [
            (3, "Code"),
            (4, "Rate"),
            (5, "Rate"),
            (5, "Billing"),
            (6, "Rate"),
            (6, "Billing"),
            (6, "Effective"),
            (7, "Code"),
            (8, "Rate"),
            (8, "Setup"),
            (9, "Code"),
            (10, ""),
        ];
        let expected: Vec<(usize, String)> =
            expected.iter().map(|(l, c)| (*l, c.to_string())).collect();
        assert_eq!(found, expected);
        let deck = read_with(EXAMPLE_MAPPING, deck, &options());
        assert_eq!(
            (deck.summary.rows, deck.summary.priced, deck.summary.refused),
            (9, 1, 8)
        );
        let errors = deck.card.unwrap_err().to_string();
        // The value and what is wrong with it are named.
        assert!(errors.contains("\"+33A\" is not a prefix"), "{errors}");
        assert!(
            errors.contains("\"2000000\" is larger than 1000000"),
            "{errors}"
        );
        assert!(errors.contains("no country calling code"), "{errors}");
        assert!(
            errors.contains("\"1000001\" is larger than 1000000, the largest connection fee"),
            "{errors}"
        );
    }

    #[test]
    fn c36_a_prefix_twice_in_one_version_is_refused_but_once_per_version_is_not() {
        let mapping = r#"
[columns]
prefix = 1
rate = 2
effective_from = 3
[fixed]
increments = "60/60"
"#;
        let twice = "p,r,e\n33,0.02,2026-01-01\n+33,0.03,2026-01-01\n0033,0.04,2026-01-01\n";
        assert_eq!(
            refused(mapping, twice, &options()),
            [(3, "p".to_string()), (4, "p".to_string())]
        );
        let errors = read_with(mapping, twice, &options())
            .card
            .unwrap_err()
            .to_string();
        assert!(errors.contains("+33 is already on line 2"), "{errors}");
        let versions = "p,r,e\n33,0.02,2026-01-01\n33,0.03,2026-02-01\n";
        let card = card(mapping, versions);
        assert_eq!(card.versions().len(), 2);
        let number = minutely_core::numbers::E164::parse("+33142685300").unwrap();
        let february = card.version_at(at("2026-02-01T00:00:00Z")).unwrap();
        assert_eq!(
            february.dial_out(number).unwrap().rate_per_minute,
            d("0.03")
        );
    }

    /// A French family of three rates of 0.02 and one more row: its median is 0.02 whatever
    /// the fourth rate (the lower middle of four).
    fn family(rate: &str) -> String {
        format!("prefix,rate\n33,0.0200\n331,0.0200\n332,0.0200\n336,{rate}\n")
    }

    #[test]
    fn a_rate_over_a_hundred_times_from_its_family_median_is_refused_unless_accepted() {
        for (rate, far) in [
            ("2.0000", false),
            ("2.0001", true),
            ("0.0002", false),
            ("0.00019", true),
            ("0", false),
        ] {
            let deck = read_with(SIMPLE_MAPPING, &family(rate), &options());
            assert_eq!(deck.card.is_err(), far, "rate {rate}");
        }
        let deck = family("2.5");
        assert_eq!(
            refused(SIMPLE_MAPPING, &deck, &options()),
            [(5, "rate".to_string())]
        );
        let errors = read_with(SIMPLE_MAPPING, &deck, &options())
            .card
            .unwrap_err();
        assert!(
            errors.to_string().contains("--accept-outlier +336"),
            "{errors}"
        );
        let mut accept = options();
        accept.accept.prefixes.insert("336".into());
        let accepted = read_with(SIMPLE_MAPPING, &deck, &accept);
        assert!(accepted.card.is_ok());
        assert_eq!(accepted.summary.accepted_outliers.len(), 1);
        assert_eq!(accepted.summary.accepted_outliers[0].median, d("0.0200"));
        let mut all = options();
        all.accept.all = true;
        assert!(read_with(SIMPLE_MAPPING, &deck, &all).card.is_ok());
        // Another prefix accepted does not accept this one.
        let mut other = options();
        other.accept.prefixes.insert("331".into());
        assert!(read_with(SIMPLE_MAPPING, &deck, &other).card.is_err());
    }

    #[test]
    fn a_family_too_small_for_a_median_is_not_judged_and_families_are_per_country() {
        // Two French rates, and a German family far from the French: nothing is judged wrong.
        let deck = "prefix,rate\n33,0.02\n336,5\n49,2\n491,2.1\n492,1.9\n";
        assert!(read_with(SIMPLE_MAPPING, deck, &options()).card.is_ok());
    }

    #[test]
    fn columns_by_position_two_increment_columns_and_no_header() {
        let mapping = r#"
header = false
delimiter = "\t"
date_format = "rfc3339"
[columns]
prefix = 2
rate = 3
first_block = 4
increment = 5
effective_from = 1
premium = 6
"#;
        let deck = "2026-03-01T00:00:00+01:00\t+8190\t0.30\t30\t6\tyes\n";
        let card = card(mapping, deck);
        let e = card.entries().next().unwrap();
        assert_eq!(e.country, Country::parse("JP").unwrap());
        assert_eq!((e.first_block_s, e.increment_s), (30, 6));
        assert!(e.premium);
        assert_eq!(e.effective_from, at("2026-02-28T23:00:00Z"));
        let bad = "2026-03-01T00:00:00Z\t+8190\t0.30\t0\t6\tmaybe\n";
        assert_eq!(
            refused(mapping, bad, &options()),
            [(1, "4".to_string()), (1, "6".to_string())]
        );
    }

    #[test]
    fn dates_without_an_offset_are_in_the_mappings_zone() {
        let mapping = r#"
timezone = "Europe/Paris"
date_format = "%d/%m/%Y %H:%M"
[columns]
prefix = "prefix"
rate = "rate"
effective_from = "from"
[fixed]
increments = "1/1"
"#;
        let card = card(mapping, "prefix,rate,from\n33,0.02,01/07/2026 12:30\n");
        let e = card.entries().next().unwrap();
        assert_eq!(e.effective_from, at("2026-07-01T10:30:00Z"));
    }

    #[test]
    fn one_date_for_the_whole_deck_comes_from_the_mapping_or_the_command_line() {
        let mapping = Mapping::parse(SIMPLE_MAPPING).unwrap();
        assert_eq!(
            mapping.effective,
            Effective::Fixed(at("2026-01-01T00:00:00Z"))
        );
        let mapping = mapping.with_effective_from("2026-05-01").unwrap();
        assert_eq!(
            mapping.effective,
            Effective::Fixed(at("2026-05-01T00:00:00Z"))
        );
        let by_column = Mapping::parse(
            "[columns]\nprefix = 1\nrate = 2\neffective_from = 3\n[fixed]\nincrements = \"60/60\"\n",
        )
        .unwrap();
        assert!(by_column.with_effective_from("2026-05-01").is_err());
        let unset = "[columns]\nprefix = 1\nrate = 2\n[fixed]\nincrements = \"60/60\"\n";
        let errors = read_with(unset, "p,r\n33,0.01\n", &options())
            .card
            .unwrap_err();
        assert!(errors.to_string().contains("no effective date"), "{errors}");
    }

    #[test]
    fn a_bad_mapping_is_refused_with_every_problem() {
        for (mapping, expected) in [
            ("[columns]\nprefix = 1\n", "missing field `rate`"),
            (
                "colour = 1\n[columns]\nprefix = 1\nrate = 2\n",
                "unknown field `colour`",
            ),
            (
                "header = false\n[columns]\nprefix = \"Code\"\nrate = 2\n[fixed]\nincrements = \"1/1\"\n",
                "by position",
            ),
            (
                "[columns]\nprefix = 0\nrate = 2\n[fixed]\nincrements = \"1/1\"\n",
                "a position is from 1",
            ),
            (
                "[columns]\nprefix = 1\nrate = 2\nincrements = 3\n[fixed]\nincrements = \"1/1\"\n",
                "exactly one of",
            ),
            ("[columns]\nprefix = 1\nrate = 2\n", "exactly one of"),
            (
                "delimiter = \";;\"\n[columns]\nprefix = 1\nrate = 2\n[fixed]\nincrements = \"61\"\n",
                "one ASCII character",
            ),
            (
                "decimal_separator = \"'\"\ntimezone = \"Mars/Olympus\"\n[columns]\nprefix = 1\nrate = 2\n[fixed]\nincrements = \"1/1\"\n",
                "not an IANA time zone",
            ),
        ] {
            let problem = Mapping::parse(mapping).unwrap_err();
            assert!(problem.contains(expected), "{mapping}: {problem}");
        }
        let two =
            "delimiter = \";;\"\n[columns]\nprefix = 1\nrate = 2\n[fixed]\nincrements = \"61\"\n";
        assert_eq!(Mapping::parse(two).unwrap_err().lines().count(), 2);
    }

    #[test]
    fn a_header_without_a_mapped_column_refuses_the_deck_naming_it() {
        let errors = read_with(SIMPLE_MAPPING, "prefix,price\n33,0.01\n", &options())
            .card
            .unwrap_err()
            .to_string();
        assert!(
            errors.contains("\"rate\" is not in the header (prefix, price)"),
            "{errors}"
        );
        let wide = format!("{}\n", vec!["x"; 100].join(","));
        let errors = read_with(SIMPLE_MAPPING, &wide, &options())
            .card
            .unwrap_err();
        assert!(errors.to_string().contains("x, ... 70 more)"), "{errors}");
    }

    #[test]
    fn non_geographic_prefixes_are_refused_or_skipped_as_the_mapping_says() {
        let deck = "prefix,rate\n800,0.5\n33,0.02\n";
        assert_eq!(
            refused(SIMPLE_MAPPING, deck, &options()),
            [(2, "prefix".to_string())]
        );
        let skip = format!("non_geographic = \"skip\"\n{SIMPLE_MAPPING}");
        let deck = read_with(&skip, deck, &options());
        assert_eq!(
            (deck.summary.rows, deck.summary.skipped, deck.summary.priced),
            (2, 1, 1)
        );
        assert_eq!(deck.card.unwrap().entries().count(), 1);
    }

    #[test]
    fn text_is_utf8_unless_the_mapping_says_latin1() {
        let mapping = "[columns]\nprefix = 1\nname = 2\n";
        assert!(Mapping::parse(mapping).is_err());
        let utf8 = "[columns]\nprefix = 1\ndescription = 2\nrate = 3\n[fixed]\nincrements = \"60/60\"\neffective_from = \"2026-01-01\"\n";
        let deck = b"p,d,r\n49,K\xf6ln,0.02\n";
        let mapping = Mapping::parse(utf8).unwrap();
        let read_utf8 = read(deck, &mapping, &options(), &countries::shipped());
        let errors = read_utf8.card.unwrap_err().to_string();
        assert!(errors.contains("latin-1"), "{errors}");
        let latin1 = Mapping::parse(&format!("encoding = \"latin-1\"\n{utf8}")).unwrap();
        let card = read(deck, &latin1, &options(), &countries::shipped())
            .card
            .unwrap();
        assert_eq!(card.entries().next().unwrap().name, "Köln");
    }

    #[test]
    fn limits_on_fields_and_lines_skipped_before_the_header() {
        let long = "x".repeat(MAX_FIELD_BYTES + 1);
        let mapping = format!("skip_lines = 2\n{SIMPLE_MAPPING}");
        let deck = format!("Carrier X rates\n\"as of\nJanuary\"\nprefix,rate\n33,{long}\n");
        // The title's quoted field spans lines 2 and 3; the header is line 4.
        assert_eq!(
            refused(&mapping, &deck, &options()),
            [(5, "rate".to_string())]
        );
        let long_name = "[columns]\nprefix = 1\ndescription = 2\nrate = 3\n[fixed]\nincrements = \"1/1\"\neffective_from = \"2026-01-01\"\n";
        let deck = format!("p,d,r\n33,{},0.02\n", "x".repeat(MAX_NAME_CHARS + 1));
        assert_eq!(
            refused(long_name, &deck, &options()),
            [(2, "d".to_string())]
        );
        // 101 characters of 2 bytes: within the characters, over a rate card's name's bytes.
        let deck = format!("p,d,r\n33,{},0.02\n", "é".repeat(MAX_NAME_BYTES / 2 + 1));
        assert_eq!(
            refused(long_name, &deck, &options()),
            [(2, "d".to_string())]
        );
        let deck = format!("p,d,r\n33,{},0.02\n", "é".repeat(MAX_NAME_BYTES / 2));
        assert_eq!(card(long_name, &deck).entries().count(), 1);
        assert!(Mapping::parse(&" ".repeat(MAX_MAPPING_BYTES + 1)).is_err());
        assert_eq!(
            refused(SIMPLE_MAPPING, "prefix,rate\n", &options()),
            [(1, String::new())]
        );
    }

    #[test]
    fn prefixes_with_plus_or_00_or_bare_digits() {
        assert_eq!(prefix_digits("+336"), Ok("336"));
        assert_eq!(prefix_digits(" 00336 "), Ok("336"));
        assert_eq!(prefix_digits("336"), Ok("336"));
        for bad in [
            "",
            "+",
            "00",
            "+0336",
            "000336",
            "33 6",
            "+1234567890123456",
            "３３",
        ] {
            assert!(prefix_digits(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_increments("60/1"), Ok((60, 1)));
        for bad in ["60", "0/60", "60/0", "60/3601", "a/b", "60/60/60"] {
            assert!(parse_increments(bad).is_err(), "{bad:?}");
        }
    }
}
