//! Switch call records (CDRs) into Minutely call records, for `minutely import cdr`: FreeSWITCH
//! `mod_cdr_csv` lines (the stock `example`, `sql` and `asterisk` templates, or a custom
//! template's field list), Asterisk `cdr_csv` Master.csv (no header; the optional columns
//! follow cdr.conf's `[csv]` options) and Kamailio's acc log (read by `acc.rs`).
//!
//! What a record means is the mapping's (`mapping.rs`). A record is either a call record of a
//! tenant, or skipped and reported with its line and reason, never guessed: unanswered (no
//! answer time, a disposition other than `ANSWERED`, a failed INVITE, a CDR of 0 s), not a PSTN
//! leg (no leg rule matches), no tenant, no organizer, no call id, no number. The billed time is
//! the answered time: a record starts at its answer and ends `billsec` (Kamailio: `duration`)
//! seconds later; ringing is never charged. A line that does not follow the switch's layout (a
//! wrong number of fields, a time or a number of seconds that cannot be read, a field over its
//! bound) is malformed: the whole file is refused naming each (line, field, value).

pub mod mapping;

use crate::calls::{MAX_ID_BYTES, MAX_UPN_BYTES};
use crate::{ErrorList, FileErrors, acc};
use jiff::{SignedDuration, Timestamp};
use mapping::{Condition, LegRule, Numbers, Source, Test};
pub use mapping::{Mapping, MappingError};
use minutely_core::ident;
use minutely_core::rating::{CallRecord, Direction};
use std::collections::HashMap;

/// The largest file read, in bytes.
pub const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;
/// The most records (read or skipped) one file may hold.
pub const MAX_RECORDS: usize = 1_000_000;
/// The longest field, in bytes.
pub const MAX_FIELD_BYTES: usize = 1024;
/// The longest number as written, in bytes (as in call-record files).
pub const MAX_NUMBER_BYTES: usize = crate::calls::MAX_NUMBER_BYTES;

/// The switches whose records are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    FreeSwitch,
    Asterisk,
    KamailioAcc,
}

impl Format {
    /// `freeswitch`, `asterisk` or `kamailio-acc`.
    pub fn parse(text: &str) -> Option<Format> {
        match text {
            "freeswitch" => Some(Format::FreeSwitch),
            "asterisk" => Some(Format::Asterisk),
            "kamailio-acc" => Some(Format::KamailioAcc),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::FreeSwitch => "freeswitch",
            Format::Asterisk => "asterisk",
            Format::KamailioAcc => "kamailio-acc",
        }
    }
}

/// Why a record is not imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SkipReason {
    Unanswered,
    NotPstnLeg,
    NoTenant,
    /// A tenant the store does not have (decided where the store is known).
    UnknownTenant,
    NoOrganizer,
    NoCallId,
    NoNumber,
    /// A mapped value that no call record may hold (a conference id, a number).
    BadValue,
}

impl SkipReason {
    pub fn code(self) -> &'static str {
        match self {
            SkipReason::Unanswered => "unanswered",
            SkipReason::NotPstnLeg => "not_pstn_leg",
            SkipReason::NoTenant => "no_tenant",
            SkipReason::UnknownTenant => "unknown_tenant",
            SkipReason::NoOrganizer => "no_organizer",
            SkipReason::NoCallId => "no_call_id",
            SkipReason::NoNumber => "no_number",
            SkipReason::BadValue => "bad_value",
        }
    }
}

/// A record reported and not imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The 1-based line of the file where the record starts.
    pub line: usize,
    pub reason: SkipReason,
    /// What was found, in English (the field and its value).
    pub detail: String,
}

/// A record of a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    /// The 1-based line of the file where the record starts.
    pub line: usize,
    /// The tenant whose call it is (not yet known to exist).
    pub tenant: String,
    /// The call record, as `minutely ingest` would read it.
    pub record: CallRecord,
}

/// A file read: its records and what was skipped, each in file order.
#[derive(Debug, Default)]
pub struct Converted {
    /// The tenants' call records.
    pub records: Vec<Imported>,
    /// What is reported and not imported.
    pub skipped: Vec<Skipped>,
    /// Whether the record limit was passed (the file is refused).
    overflow: bool,
}

/// How a record's call went.
enum Timing {
    Answered { at: Timestamp, billed_s: u64 },
    Unanswered(String),
}

/// Named fields of one record.
trait Fields {
    fn get(&self, name: &str) -> Option<&str>;
}

/// A CSV record: the mapping's columns and the line's values.
struct Columns<'a> {
    names: &'a [String],
    values: Vec<&'a str>,
}

impl Fields for Columns<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        let at = self.names.iter().position(|n| n == name)?;
        self.values.get(at).copied()
    }
}

impl Fields for acc::MarkedLine<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        acc::MarkedLine::get(self, name)
    }
}

/// Reads every record of `text` as `mapping` says; a malformed line refuses the file whole.
pub fn read(text: &str, mapping: &Mapping) -> Result<Converted, FileErrors> {
    let what = format!("{} call records", mapping.format.name());
    let mut errors = ErrorList::default();
    let mut out = Converted::default();
    match mapping.format {
        Format::Asterisk => read_asterisk(text, mapping, &mut out, &mut errors),
        Format::FreeSwitch => read_freeswitch(text, mapping, &mut out, &mut errors),
        Format::KamailioAcc => read_kamailio(text, mapping, &mut out, &mut errors),
    }
    errors.finish(&what, out)
}

impl Converted {
    /// Keeps one record's result, up to `MAX_RECORDS`; past it, one error refuses the file.
    fn push(&mut self, result: Result<Imported, Skipped>, errors: &mut ErrorList, line: usize) {
        if self.records.len() + self.skipped.len() >= MAX_RECORDS {
            if !self.overflow {
                self.overflow = true;
                let why = format!("a file holds at most {MAX_RECORDS} records; split it");
                errors.push(line, "", why);
            }
            return;
        }
        match result {
            Ok(r) => self.records.push(r),
            Err(s) => self.skipped.push(s),
        }
    }
}

/// Checks each field's bound; true when every field is within it.
fn bounded(names: &[String], values: &[&str], line: usize, errors: &mut ErrorList) -> bool {
    let mut ok = true;
    for (name, value) in names.iter().zip(values) {
        if value.len() > MAX_FIELD_BYTES {
            errors.push(line, name, format!("longer than {MAX_FIELD_BYTES} bytes"));
            ok = false;
        }
    }
    ok
}

fn count_error(names: &[String], found: usize, line: usize, errors: &mut ErrorList) {
    errors.push(
        line,
        "",
        format!(
            "{found} fields, where the mapping's layout has {}: {}",
            names.len(),
            names.join(",")
        ),
    );
}

fn read_asterisk(text: &str, mapping: &Mapping, out: &mut Converted, errors: &mut ErrorList) {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let names = &mapping.columns;
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line() as usize);
                errors.push(line, "", e.to_string());
                break;
            }
        }
        let line = record.position().map_or(0, |p| p.line() as usize);
        let values: Vec<&str> = record.iter().collect();
        if values.len() == 1 && values[0].trim().is_empty() {
            continue;
        }
        if values.len() != names.len() {
            count_error(names, values.len(), line, errors);
            continue;
        }
        if !bounded(names, &values, line, errors) {
            continue;
        }
        let fields = Columns { names, values };
        let Some(timing) = asterisk_timing(&fields, mapping, line, errors) else {
            continue;
        };
        let start = record.position().map_or(0, |p| p.byte() as usize);
        let end = (reader.position().byte() as usize).min(text.len());
        let raw = text
            .get(start..end)
            .unwrap_or("")
            .trim_end_matches(['\r', '\n']);
        out.push(convert(&fields, line, raw, timing, mapping), errors, line);
    }
}

/// Asterisk: answered when the disposition is `ANSWERED` and there is an answer time.
fn asterisk_timing(
    fields: &Columns,
    mapping: &Mapping,
    line: usize,
    errors: &mut ErrorList,
) -> Option<Timing> {
    let get = |n: &str| fields.get(n).unwrap_or("").trim();
    let before = errors.len();
    for name in ["start", "end"] {
        if !get(name).is_empty() {
            local_time(get(name), mapping, line, name, errors);
        }
    }
    let billed_s = seconds(get("billsec"), line, "billsec", errors);
    let disposition = get("disposition");
    if disposition != "ANSWERED" {
        return (errors.len() == before)
            .then(|| Timing::Unanswered(format!("disposition {disposition:?}")));
    }
    if get("answer").is_empty() {
        return (errors.len() == before)
            .then(|| Timing::Unanswered("ANSWERED without an answer time".into()));
    }
    let at = local_time(get("answer"), mapping, line, "answer", errors);
    Some(Timing::Answered {
        at: at?,
        billed_s: billed_s?,
    })
    .filter(|_| errors.len() == before)
}

fn read_freeswitch(text: &str, mapping: &Mapping, out: &mut Converted, errors: &mut ErrorList) {
    let names = &mapping.columns;
    for (i, raw) in text.split('\n').enumerate() {
        let line = i + 1;
        let raw = raw.trim_end_matches('\r');
        if raw.trim().is_empty() {
            continue;
        }
        let body = match freeswitch_body(raw, mapping.sql) {
            Ok(body) => body,
            Err(reason) => {
                errors.push(line, "", reason);
                continue;
            }
        };
        let values = split_freeswitch(body);
        if values.len() != names.len() {
            count_error(names, values.len(), line, errors);
            continue;
        }
        if !bounded(names, &values, line, errors) {
            continue;
        }
        let fields = Columns { names, values };
        let Some(timing) = freeswitch_timing(&fields, mapping, line, errors) else {
            continue;
        };
        out.push(convert(&fields, line, raw, timing, mapping), errors, line);
    }
}

/// The fields' part of a line: an `INSERT ... VALUES (...);` statement's values for the `sql`
/// template; a trailing `;` (FreeSWITCH's built-in default template) is dropped.
fn freeswitch_body(raw: &str, sql: bool) -> Result<&str, String> {
    let raw = raw.trim();
    if !sql {
        return Ok(raw.strip_suffix(';').unwrap_or(raw));
    }
    let values = raw
        .strip_prefix("INSERT INTO ")
        .and_then(|rest| rest.split_once(" VALUES ("))
        .and_then(|(_, rest)| rest.strip_suffix(");"));
    values.ok_or_else(|| {
        "not an `INSERT INTO cdr VALUES (...);` line of the sql template".to_string()
    })
}

/// FreeSWITCH expands its template without escaping: a field is `"..."` up to the quote that is
/// followed by a comma (spaces allowed) or the end, or bare text up to the next comma.
fn split_freeswitch(body: &str) -> Vec<&str> {
    let mut values = Vec::new();
    let mut rest = body.trim_start();
    loop {
        if let Some(inner) = rest.strip_prefix('"') {
            let mut end = None;
            for (at, _) in inner.match_indices('"') {
                let after = inner[at + 1..].trim_start();
                if after.is_empty() || after.starts_with(',') {
                    end = Some(at);
                    break;
                }
            }
            let Some(at) = end else {
                values.push(inner);
                return values;
            };
            values.push(&inner[..at]);
            rest = inner[at + 1..].trim_start();
        } else {
            let at = rest.find(',').unwrap_or(rest.len());
            values.push(rest[..at].trim());
            rest = &rest[at..];
        }
        match rest.strip_prefix(',') {
            Some(next) => rest = next.trim_start(),
            None => return values,
        }
    }
}

/// FreeSWITCH: answered when `answer_stamp` is set.
fn freeswitch_timing(
    fields: &Columns,
    mapping: &Mapping,
    line: usize,
    errors: &mut ErrorList,
) -> Option<Timing> {
    let get = |n: &str| fields.get(n).unwrap_or("").trim();
    let before = errors.len();
    for name in ["start_stamp", "end_stamp"] {
        if !get(name).is_empty() {
            local_time(get(name), mapping, line, name, errors);
        }
    }
    let billed_s = seconds(get("billsec"), line, "billsec", errors);
    if get("answer_stamp").is_empty() {
        let cause = get("hangup_cause");
        return (errors.len() == before)
            .then(|| Timing::Unanswered(format!("no answer_stamp (hangup_cause {cause:?})")));
    }
    let at = local_time(get("answer_stamp"), mapping, line, "answer_stamp", errors);
    Some(Timing::Answered {
        at: at?,
        billed_s: billed_s?,
    })
    .filter(|_| errors.len() == before)
}

fn read_kamailio(text: &str, mapping: &Mapping, out: &mut Converted, errors: &mut ErrorList) {
    let lines = match acc::marked_lines(text) {
        Ok(lines) => lines,
        Err(e) => {
            // The only refusal of the whole log: past the line limit, named at its first line.
            errors.push(acc::MAX_LINES + 1, "", e.to_string());
            return;
        }
    };
    // One call, one record: a CDR that lasted wins over the failure lines of the same call
    // id; of several failure lines, the first is reported.
    let raws: Vec<&str> = text.split('\n').collect();
    let mut kept: Vec<(usize, Result<Imported, Skipped>)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for marked in &lines {
        let long = marked
            .pairs
            .iter()
            .filter(|(_, v)| v.len() > MAX_FIELD_BYTES);
        let before = errors.len();
        for (key, _) in long {
            errors.push(
                marked.line,
                key,
                format!("longer than {MAX_FIELD_BYTES} bytes"),
            );
        }
        if errors.len() != before {
            continue;
        }
        let Some(timing) = kamailio_timing(marked, errors) else {
            continue;
        };
        let raw = raws.get(marked.line - 1).copied().unwrap_or("");
        let answered = matches!(timing, Timing::Answered { billed_s, .. } if billed_s > 0);
        let result = convert(marked, marked.line, raw, timing, mapping);
        let key = mapping
            .call_id
            .as_ref()
            .and_then(|s| value(s, marked))
            .unwrap_or_default();
        match index.get(&key).filter(|_| !key.is_empty()) {
            Some(&at) => {
                if answered && kept[at].1.is_err() {
                    kept[at] = (marked.line, result);
                }
            }
            None => {
                index.insert(key, kept.len());
                kept.push((marked.line, result));
            }
        }
    }
    for (line, result) in kept {
        out.push(result, errors, line);
    }
}

/// Kamailio: a CDR is answered at `start_time` and lasted `duration`; a failed INVITE was never
/// answered; other transactions (an INVITE answered 2xx, a BYE) are not calls' ends.
fn kamailio_timing(marked: &acc::MarkedLine, errors: &mut ErrorList) -> Option<Timing> {
    let line = marked.line;
    let get = |n: &str| marked.get(n).unwrap_or("");
    if marked.marker == acc::Marker::Acc {
        return match acc::transaction(marked.event, |k| marked.get(k)) {
            Ok(acc::Transaction::Invite { code, failed: true }) => Some(Timing::Unanswered(
                format!("INVITE {} ({code})", marked.event),
            )),
            Ok(_) => None,
            Err((field, why)) => {
                errors.push(line, field, why);
                None
            }
        };
    }
    let at = acc::parse_time(get("start_time"))
        .map_err(|e| errors.push(line, "start_time", format!("start_time {e}")))
        .ok();
    let billed_s = acc::duration_s(get("duration"))
        .map_err(|e| errors.push(line, "duration", e))
        .ok();
    match (at, billed_s) {
        (Some(_), Some(0)) => Some(Timing::Unanswered("a CDR of 0 s".into())),
        (Some(at), Some(billed_s)) => Some(Timing::Answered { at, billed_s }),
        _ => None,
    }
}

/// `YYYY-MM-DD HH:MM:SS` in the mapping's zone (UTC without one). A time the zone skips (a
/// clock moved forward) is refused: the zone is not the switch's. A time it repeats (a clock
/// moved back) is read as the earlier of the two.
fn local_time(
    text: &str,
    mapping: &Mapping,
    line: usize,
    field: &str,
    errors: &mut ErrorList,
) -> Option<Timestamp> {
    let bad = |errors: &mut ErrorList, why: &str| {
        errors.push(line, field, format!("{field} {text:?} {why}"));
        None
    };
    let civil = match jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M:%S", text) {
        Ok(civil) => civil,
        Err(_) => return bad(errors, "is not a time such as 2026-03-02 10:00:20"),
    };
    let zone = mapping.timezone.clone().unwrap_or(jiff::tz::TimeZone::UTC);
    let ambiguous = zone.to_ambiguous_timestamp(civil);
    if matches!(ambiguous.offset(), jiff::tz::AmbiguousOffset::Gap { .. }) {
        return bad(
            errors,
            "does not exist in the mapping's time zone (a clock change skips it)",
        );
    }
    match ambiguous.earlier() {
        Ok(at) => Some(at),
        Err(_) => bad(errors, "is out of range"),
    }
}

/// Whole seconds, at most a year and a day (`acc::MAX_DURATION_S`).
fn seconds(text: &str, line: usize, field: &str, errors: &mut ErrorList) -> Option<u64> {
    let value = text
        .parse::<u64>()
        .ok()
        .filter(|_| text.bytes().all(|b| b.is_ascii_digit()));
    match value {
        Some(s) if s <= acc::MAX_DURATION_S => Some(s),
        _ => {
            errors.push(
                line,
                field,
                format!(
                    "{field} {text:?} is not a whole number of seconds up to {}",
                    acc::MAX_DURATION_S
                ),
            );
            None
        }
    }
}

/// The value a source gives for a record: trimmed, `None` when empty.
fn value(source: &Source, fields: &impl Fields) -> Option<String> {
    let text = match source {
        Source::Join(parts) => {
            let parts: Option<Vec<String>> = parts.iter().map(|p| value(p, fields)).collect();
            return parts.map(|p| p.join("-"));
        }
        Source::Value(v) => v.as_str(),
        Source::Field(f) => fields.get(f)?,
        Source::Pair { field, key } => fields.get(field)?.split(';').find_map(|part| {
            let (k, v) = part.split_once('=')?;
            (k.trim() == key).then_some(v)
        })?,
    };
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

/// How a source is named in a report.
fn describe(source: &Source) -> String {
    match source {
        Source::Field(f) => f.clone(),
        Source::Pair { field, key } => format!("{key} in {field}"),
        Source::Value(_) => "the mapping's value".into(),
        Source::Join(parts) => parts.iter().map(describe).collect::<Vec<_>>().join(" + "),
    }
}

fn holds(condition: &Condition, fields: &impl Fields) -> bool {
    let found = value(&condition.source, fields).unwrap_or_default();
    match &condition.test {
        Test::Equals(v) => found == *v,
        Test::Prefix(p) => found.starts_with(p.as_str()),
        Test::OneOf(list) => list.contains(&found),
    }
}

fn leg_of<'m>(mapping: &'m Mapping, fields: &impl Fields) -> Option<&'m LegRule> {
    mapping
        .legs
        .iter()
        .find(|leg| leg.when.iter().all(|c| holds(c, fields)))
}

/// A 128-bit FNV-1a digest of a line, as a call id (`cdr-` and 32 hex digits): the same line
/// always gives the same id, so a file imported again is recognised (C23).
pub fn line_call_id(raw: &str) -> String {
    let mut hash: u128 = 0x6c62272e07bb014262b821756295c58d;
    for b in raw.trim_end_matches('\r').bytes() {
        hash ^= u128::from(b);
        hash = hash.wrapping_mul(0x0000000001000000000000000000013B);
    }
    format!("cdr-{hash:032x}")
}

fn skip(line: usize, reason: SkipReason, detail: String) -> Skipped {
    Skipped {
        line,
        reason,
        detail,
    }
}

/// One record, mapped: a tenant's call record, or why not.
fn convert(
    fields: &impl Fields,
    line: usize,
    raw: &str,
    timing: Timing,
    mapping: &Mapping,
) -> Result<Imported, Skipped> {
    let (at, billed_s) = match timing {
        Timing::Answered { at, billed_s } => (at, billed_s),
        Timing::Unanswered(why) => return Err(skip(line, SkipReason::Unanswered, why)),
    };
    let Some(leg) = leg_of(mapping, fields) else {
        let why = "no rule of [[legs]] matches: not a PSTN leg".to_string();
        return Err(skip(line, SkipReason::NotPstnLeg, why));
    };
    let tenant = tenant_of(fields, line, mapping)?;
    let (call_id, conference_id, organizer) = ids_of(fields, line, raw, mapping)?;
    let number = |source: &Option<Source>, name: &str, needed: bool| {
        number_of(source, fields, &mapping.numbers, name, needed, line)
    };
    let service_number = number(
        &leg.service_number,
        "service_number",
        leg.direction == Direction::DialIn,
    )?;
    let caller_number = number(&leg.caller, "caller", false)?;
    let destination_number = number(
        &leg.destination,
        "destination",
        leg.direction == Direction::DialOut,
    )?;
    let billed = i64::try_from(billed_s).unwrap_or(i64::MAX);
    let end = at
        .checked_add(SignedDuration::from_secs(billed))
        .ok()
        .filter(|end| in_call_record_range(at) && in_call_record_range(*end))
        .ok_or_else(|| {
            let why = format!(
                "the call ({at} for {billed_s} s) is outside the instants a call record holds (1677-09-21 to 2262-04-11)"
            );
            skip(line, SkipReason::BadValue, why)
        })?;
    let record = CallRecord {
        call_id,
        conference_id,
        organizer,
        direction: leg.direction,
        service_number,
        caller_number,
        destination_number,
        start: at,
        end,
    };
    Ok(Imported {
        line,
        tenant,
        record,
    })
}

/// Whether a call record can hold `at`: a call-record file keeps instants as signed 64-bit
/// nanoseconds since 1970.
fn in_call_record_range(at: Timestamp) -> bool {
    i64::try_from(at.as_nanosecond()).is_ok()
}

/// The organizer, the call id and the conference id of a record, each checked as an identifier.
fn ids_of(
    fields: &impl Fields,
    line: usize,
    raw: &str,
    mapping: &Mapping,
) -> Result<(String, String, String), Skipped> {
    let organizer = value(&mapping.organizer, fields).ok_or_else(|| {
        let why = format!("{} is empty", describe(&mapping.organizer));
        skip(line, SkipReason::NoOrganizer, why)
    })?;
    ident::organizer("organizer", &organizer)
        .map_err(|e| skip(line, SkipReason::NoOrganizer, e.to_string()))?;
    let call_id = match &mapping.call_id {
        Some(source) => value(source, fields).ok_or_else(|| {
            let why = format!("{} is empty", describe(source));
            skip(line, SkipReason::NoCallId, why)
        })?,
        None => line_call_id(raw),
    };
    ident::call_id("call_id", &call_id)
        .map_err(|e| skip(line, SkipReason::NoCallId, e.to_string()))?;
    let conference_id = match &mapping.conference {
        Some(source) => value(source, fields).unwrap_or_default(),
        None => String::new(),
    };
    ident::optional_conference_id("conference", &conference_id)
        .map_err(|e| skip(line, SkipReason::BadValue, e.to_string()))?;
    // The identifiers' rules count characters; a call-record file bounds their bytes.
    let bounds = [
        (
            "organizer",
            &organizer,
            MAX_UPN_BYTES,
            SkipReason::NoOrganizer,
        ),
        (
            "conference id",
            &conference_id,
            MAX_ID_BYTES,
            SkipReason::BadValue,
        ),
    ];
    for (name, text, max, reason) in bounds {
        if text.len() > max {
            let why =
                format!("the {name} is longer than {max} bytes, the most a call record holds");
            return Err(skip(line, reason, why));
        }
    }
    Ok((call_id, conference_id, organizer))
}

fn tenant_of(fields: &impl Fields, line: usize, mapping: &Mapping) -> Result<String, Skipped> {
    let source = &mapping.tenant;
    let found = value(source, fields).ok_or_else(|| {
        let why = format!("{} is empty", describe(source));
        skip(line, SkipReason::NoTenant, why)
    })?;
    let tenant = if mapping.tenants.is_empty() {
        found
    } else {
        mapping.tenants.get(&found).cloned().ok_or_else(|| {
            let why = format!("{} {found:?} is not in [tenants]", describe(source));
            skip(line, SkipReason::NoTenant, why)
        })?
    };
    ident::tenant_id("tenant", &tenant)
        .map_err(|e| skip(line, SkipReason::NoTenant, e.to_string()))?;
    Ok(tenant)
}

fn number_of(
    source: &Option<Source>,
    fields: &impl Fields,
    numbers: &Numbers,
    name: &str,
    needed: bool,
    line: usize,
) -> Result<String, Skipped> {
    let found = source.as_ref().and_then(|s| value(s, fields));
    let Some(found) = found else {
        if needed {
            let from = source.as_ref().map(describe).unwrap_or_default();
            let why = format!("the {name} ({from}) is empty");
            return Err(skip(line, SkipReason::NoNumber, why));
        }
        return Ok(String::new());
    };
    let number = normalize(&found, numbers);
    if number.len() > MAX_NUMBER_BYTES {
        let why = format!("the {name} is longer than {MAX_NUMBER_BYTES} bytes");
        return Err(skip(line, SkipReason::BadValue, why));
    }
    Ok(number)
}

/// A number as the switch wrote it, made E.164 by the mapping's prefixes; a number that is
/// still not E.164 is left for rating to refuse (`invalid_number`, C8).
pub fn normalize(text: &str, numbers: &Numbers) -> String {
    let text = text.trim();
    let digits = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b' ' | b'-' | b'.'));
    if !digits {
        return text.to_string();
    }
    if let Some(rest) = numbers
        .international_prefix
        .as_deref()
        .and_then(|p| text.strip_prefix(p))
    {
        return format!("+{rest}");
    }
    if let (Some(prefix), Some(cc)) = (&numbers.national_prefix, &numbers.country_code)
        && let Some(rest) = text.strip_prefix(prefix.as_str())
    {
        return format!("+{cc}{rest}");
    }
    if numbers.assume_international {
        return format!("+{text}");
    }
    text.to_string()
}

#[cfg(test)]
mod tests;
