//! Kamailio's accounting log (`acc` module), read as the proxy's own record of how each call
//! ended, for reconciliation after the engine was unreachable.
//!
//! Kamailio writes its records through its log, one per line, behind a prefix of its own
//! (` 1(8776) INFO: acc [acc.c:287]: acc_log_request(): `), which is ignored. Two kinds of line
//! are read, recognised by their marker:
//!
//! - a CDR, written by `acc` with `cdr_enable` when a dialog ends (by BYE or by timeout):
//!   Kamailio 5.6 writes it as `log_write_cdr(): start_time=...; end_time=...; duration=...;
//!   <cdr_extra>` (no marker of its own: the function name is the marker); `CDR:` in front of
//!   the same pairs is accepted too. `start_time` is the answer instant, `duration` the
//!   seconds the call lasted (a fraction is dropped: C38).
//! - an `ACC:` line of a transaction: `ACC: call missed: ...`, `ACC: transaction failed: ...`
//!   or `ACC: transaction answered: ...`, with `method`, `code`, `call_id` and the `log_extra`
//!   pairs. An INVITE answered with a code of 300 or more never connected: the call lasted 0 s.
//!   An INVITE answered 2xx is left to its CDR, and other methods (BYE) are ignored.
//!
//! Times are Unix seconds with an optional fraction (`1796577237.448`, what Kamailio 5.6.3
//! writes), or `YYYY-MM-DD HH:MM:SS`, which is read as UTC: the proxy must log in UTC (acc
//! `time_mode` 4, or a host clock in UTC) for such a time to be right. A time with an offset or
//! a zone, or without its seconds, is refused rather than read hours off.
//!
//! A line without a marker is log noise and is skipped. A line with a marker that lacks
//! `call_id` or `mt_tenant`, or has an unreadable value, refuses the whole log, naming its line
//! and field. One call is one record: Kamailio writes up to three lines for a failed INVITE
//! (missed, failed, answered) and a zero-second CDR for it too; a CDR of a call that lasted
//! more than 0 s outweighs a failure line (a failed re-INVITE does not end a call).

use crate::{ErrorList, FileErrors};
use jiff::Timestamp;
use std::collections::HashMap;

/// The longest call a record may describe, as the end report accepts (a year and a day).
pub const MAX_DURATION_S: u64 = 366 * 24 * 3600;

/// The most lines one log may have (its records are bounded separately by the caller).
pub const MAX_LINES: usize = 2_000_000;

/// What a file of this kind is called in errors.
const WHAT: &str = "kamailio acc log";

/// How the proxy saw a call end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The call was answered and then ended (BYE, or the dialog's timeout): a CDR.
    Hangup,
    /// The INVITE was answered with a failure (code 300 or more): the call never connected.
    Failed,
}

impl Ended {
    /// `hangup` or `failed`, as the API and reports write it.
    pub fn code(self) -> &'static str {
        match self {
            Ended::Hangup => "hangup",
            Ended::Failed => "failed",
        }
    }
}

/// One call as the proxy recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyRecord {
    /// The 1-based line of the log it was read from (0 when it came from elsewhere).
    pub line: usize,
    pub tenant: String,
    pub call_id: String,
    /// When the call was answered (the CDR's `start_time`); `None` for a failed call.
    pub answered_at: Option<Timestamp>,
    /// Whole seconds from answer to end, rounded down (C38); 0 for a failed call.
    pub duration_s: u64,
    pub ended: Ended,
}

/// Why a log was refused; nothing of it is used then.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccError {
    /// Bad lines, each named with its line and field.
    #[error(transparent)]
    Lines(FileErrors),
    /// More calls than one request may settle.
    #[error(
        "kamailio acc log refused: more than {max} call records (the one at line {line} is past the limit); split the log; nothing was changed"
    )]
    TooManyRecords { max: usize, line: usize },
    /// More lines than one log may have.
    #[error("kamailio acc log refused: more than {max} lines; split the log; nothing was changed")]
    TooManyLines { max: usize },
}

/// A marked line, read.
enum Entry {
    Record(ProxyRecord),
    /// A marked line that is not a call's end (an INVITE answered 2xx, a BYE).
    Ignored,
}

/// Reads every call record of `text`, in the order of their first line, at most `max_records`.
pub fn parse(text: &str, max_records: usize) -> Result<Vec<ProxyRecord>, AccError> {
    let mut records: Vec<ProxyRecord> = Vec::new();
    let mut index: HashMap<(String, String), usize> = HashMap::new();
    let mut errors = ErrorList::default();
    for (i, raw) in text.split('\n').enumerate() {
        let line = i + 1;
        if line > MAX_LINES {
            return Err(AccError::TooManyLines { max: MAX_LINES });
        }
        let record = match parse_line(raw.trim_end_matches('\r'), line) {
            Ok(Some(Entry::Record(r))) => r,
            Ok(Some(Entry::Ignored)) | Ok(None) => continue,
            Err((field, reason)) => {
                errors.push(line, field, reason);
                continue;
            }
        };
        let key = (record.tenant.clone(), record.call_id.clone());
        match index.get(&key) {
            Some(&at) => merge(&mut records[at], record),
            None => {
                if records.len() >= max_records {
                    return Err(AccError::TooManyRecords {
                        max: max_records,
                        line,
                    });
                }
                index.insert(key, records.len());
                records.push(record);
            }
        }
    }
    errors.finish(WHAT, records).map_err(AccError::Lines)
}

/// Keeps the line that says most about how the call ended: a CDR of a call that lasted, then a
/// failure, then a zero-second CDR (written for a failed INVITE's dialog too).
fn merge(kept: &mut ProxyRecord, other: ProxyRecord) {
    let weight = |r: &ProxyRecord| match (r.ended, r.duration_s) {
        (Ended::Hangup, d) if d > 0 => 2,
        (Ended::Failed, _) => 1,
        (Ended::Hangup, _) => 0,
    };
    if weight(&other) > weight(kept) {
        *kept = other;
    }
}

/// A field at fault and why.
pub type LineError = (&'static str, String);

/// What marks a line of the log as a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    /// `log_write_cdr():` or `CDR:`: a dialog's CDR.
    Cdr,
    /// `ACC:`: a transaction's line.
    Acc,
}

/// One marked line with its `key=value` pairs in the order written, for readers that need
/// more of a record than reconciliation does (`cdr`: importing call records, whose tenant,
/// organizer and numbers are `cdr_extra` pairs a mapping names). Nothing is checked here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkedLine<'a> {
    /// The 1-based line of the log.
    pub line: usize,
    pub marker: Marker,
    /// For an `ACC:` line, the event before the pairs (`call missed`, `transaction failed`,
    /// `transaction answered`); empty for a CDR.
    pub event: &'a str,
    /// The pairs, trimmed, in the order written (a key may repeat; the first counts).
    pub pairs: Vec<(&'a str, &'a str)>,
}

impl MarkedLine<'_> {
    /// The first value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }
}

/// Every marked line of `text` (markers as `parse` knows them; other lines are noise), at most
/// `MAX_LINES` lines.
pub fn marked_lines(text: &str) -> Result<Vec<MarkedLine<'_>>, AccError> {
    let mut out = Vec::new();
    for (i, raw) in text.split('\n').enumerate() {
        let line = i + 1;
        if line > MAX_LINES {
            return Err(AccError::TooManyLines { max: MAX_LINES });
        }
        let Some((marker, rest)) = marker_of(raw.trim_end_matches('\r')) else {
            continue;
        };
        let (event, rest) = match marker {
            Marker::Cdr => ("", rest),
            Marker::Acc => rest.split_once(':').unwrap_or(("", rest)),
        };
        let pairs = rest
            .split(';')
            .filter_map(|part| part.split_once('='))
            .map(|(k, v)| (k.trim(), v.trim()))
            .collect();
        out.push(MarkedLine {
            line,
            marker,
            event: event.trim(),
            pairs,
        });
    }
    Ok(out)
}

/// A CDR's `duration`: seconds with an optional fraction, rounded down (C38), at most
/// `MAX_DURATION_S`; the error says why not.
pub fn duration_s(text: &str) -> Result<u64, String> {
    parse_duration_s(text).map_err(|(_, reason)| reason)
}

/// One line: `None` without a marker (noise).
fn parse_line(text: &str, line: usize) -> Result<Option<Entry>, LineError> {
    match marker_of(text) {
        Some((Marker::Cdr, rest)) => parse_cdr(rest, line).map(Some),
        Some((Marker::Acc, rest)) => parse_acc(rest, line).map(Some),
        None => Ok(None),
    }
}

/// A line's marker and what follows it; `None` for noise.
fn marker_of(text: &str) -> Option<(Marker, &str)> {
    [
        ("log_write_cdr():", Marker::Cdr),
        ("CDR:", Marker::Cdr),
        ("ACC:", Marker::Acc),
    ]
    .into_iter()
    .find_map(|(mark, marker)| {
        let at = text.find(mark)?;
        Some((marker, &text[at + mark.len()..]))
    })
}

/// What an `ACC:` line's transaction is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transaction {
    /// Not an INVITE (a BYE...): not a call's end.
    Other,
    /// An INVITE answered with `code`; `failed` when it never connected (a code of 300 or
    /// more, or a `call missed` or `transaction failed` line).
    Invite { code: u16, failed: bool },
}

/// Reads an `ACC:` line's `method` and `code` (`get` gives a pair's value) after its `event`.
pub fn transaction<'a>(
    event: &str,
    get: impl Fn(&'static str) -> Option<&'a str>,
) -> Result<Transaction, LineError> {
    let required = |field: &'static str| match get(field) {
        Some(v) if !v.is_empty() => Ok(v),
        Some(_) => Err((field, format!("{field} is empty"))),
        None => Err((field, format!("{field} is missing"))),
    };
    if !required("method")?.eq_ignore_ascii_case("INVITE") {
        return Ok(Transaction::Other);
    }
    let code_text = required("code")?;
    let code: u16 = code_text
        .parse()
        .ok()
        .filter(|c| (100..700).contains(c))
        .ok_or_else(|| ("code", format!("code {code_text:?} is not a SIP status")))?;
    let failed = code >= 300 || matches!(event.trim(), "call missed" | "transaction failed");
    Ok(Transaction::Invite { code, failed })
}

/// The `key=value` pairs of a record (`;` or `; ` between them); the first of a key counts.
fn pairs(text: &str) -> HashMap<&str, &str> {
    let mut map = HashMap::new();
    for part in text.split(';') {
        if let Some((key, value)) = part.split_once('=') {
            map.entry(key.trim()).or_insert(value.trim());
        }
    }
    map
}

/// A field that must be there and not be empty.
fn required<'a>(map: &HashMap<&str, &'a str>, field: &'static str) -> Result<&'a str, LineError> {
    match map.get(field) {
        Some(v) if !v.is_empty() => Ok(v),
        Some(_) => Err((
            field,
            format!(
                "{field} is empty (in cdr_extra, write a dialog variable such as $dlg_var({field}): a dialog that times out has no message)"
            ),
        )),
        None => Err((field, format!("{field} is missing"))),
    }
}

/// The call's tenant and id, checked as identifiers.
fn call_of(map: &HashMap<&str, &str>) -> Result<(String, String), LineError> {
    let tenant = required(map, "mt_tenant")?;
    minutely_core::ident::tenant_id("mt_tenant", tenant)
        .map_err(|e| ("mt_tenant", e.to_string()))?;
    let call_id = required(map, "call_id")?;
    minutely_core::ident::call_id("call_id", call_id).map_err(|e| ("call_id", e.to_string()))?;
    if let Some(d) = map.get("mt_direction")
        && !matches!(*d, "dial_out" | "dial_in" | "")
    {
        return Err((
            "mt_direction",
            format!("mt_direction {d:?} is neither dial_out nor dial_in"),
        ));
    }
    Ok((tenant.to_string(), call_id.to_string()))
}

/// A CDR: the call was answered at `start_time` and lasted `duration` seconds.
fn parse_cdr(text: &str, line: usize) -> Result<Entry, LineError> {
    let map = pairs(text);
    let (tenant, call_id) = call_of(&map)?;
    let answered_at = parse_time(required(&map, "start_time")?)
        .map_err(|reason| ("start_time", format!("start_time {reason}")))?;
    if let Some(end) = map.get("end_time").filter(|t| !t.is_empty()) {
        parse_time(end).map_err(|reason| ("end_time", format!("end_time {reason}")))?;
    }
    let duration_s = parse_duration_s(required(&map, "duration")?)?;
    Ok(Entry::Record(ProxyRecord {
        line,
        tenant,
        call_id,
        answered_at: Some(answered_at),
        duration_s,
        ended: Ended::Hangup,
    }))
}

/// A transaction's line: a failed INVITE is a call of 0 s; anything else is ignored.
fn parse_acc(text: &str, line: usize) -> Result<Entry, LineError> {
    let (event, rest) = text.split_once(':').unwrap_or(("", text));
    let map = pairs(rest);
    let Transaction::Invite { failed, .. } = transaction(event, |k| map.get(k).copied())? else {
        return Ok(Entry::Ignored);
    };
    let (tenant, call_id) = call_of(&map)?;
    if !failed {
        return Ok(Entry::Ignored);
    }
    Ok(Entry::Record(ProxyRecord {
        line,
        tenant,
        call_id,
        answered_at: None,
        duration_s: 0,
        ended: Ended::Failed,
    }))
}

/// Seconds with an optional fraction, rounded down (C38), at most `MAX_DURATION_S`.
fn parse_duration_s(text: &str) -> Result<u64, LineError> {
    let bad = || {
        (
            "duration",
            format!("duration {text:?} is not a number of seconds such as 125 or 125.308"),
        )
    };
    let (whole, fraction) = text.split_once('.').unwrap_or((text, "0"));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !digits(fraction) {
        return Err(bad());
    }
    let seconds: u64 = whole.parse().map_err(|_| bad())?;
    if seconds > MAX_DURATION_S {
        return Err((
            "duration",
            format!("duration {text} s is longer than {MAX_DURATION_S} s"),
        ));
    }
    Ok(seconds)
}

/// Unix seconds with an optional fraction, or `YYYY-MM-DD HH:MM:SS` (or a `T` between them)
/// with an optional fraction, read as UTC. Nothing else: the datetime library would read
/// `17:14:17-05:00` or `17:14:17[Europe/Paris]` as 17:14:17 UTC, dropping the offset (hours
/// off), and `17:14` or a date alone as a time Kamailio never writes.
pub fn parse_time(text: &str) -> Result<Timestamp, String> {
    let bad = || {
        format!(
            "{text:?} is neither Unix seconds (1765040000.123) nor YYYY-MM-DD HH:MM:SS (UTC, without an offset)"
        )
    };
    if text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return unix_time(text).ok_or_else(bad);
    }
    if !is_civil(text) {
        return Err(bad());
    }
    let civil: jiff::civil::DateTime = text.parse().map_err(|_| bad())?;
    jiff::tz::TimeZone::UTC
        .to_timestamp(civil)
        .map_err(|_| bad())
}

/// `YYYY-MM-DD HH:MM:SS` (or `T` between them), then an optional fraction of 1 to 9 digits.
fn is_civil(text: &str) -> bool {
    let (main, fraction) = text.split_once('.').unwrap_or((text, "0"));
    let digits = |s: &[u8]| !s.is_empty() && s.iter().all(u8::is_ascii_digit);
    let b = main.as_bytes();
    b.len() == 19
        && (b[4], b[7], b[13], b[16]) == (b'-', b'-', b':', b':')
        && matches!(b[10], b' ' | b'T')
        && [
            &b[0..4],
            &b[5..7],
            &b[8..10],
            &b[11..13],
            &b[14..16],
            &b[17..19],
        ]
        .into_iter()
        .all(digits)
        && fraction.len() <= 9
        && digits(fraction.as_bytes())
}

/// `1796577237.448` as an instant (at most nanosecond digits).
fn unix_time(text: &str) -> Option<Timestamp> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() || fraction.len() > 9 || fraction.contains('.') {
        return None;
    }
    let seconds: i64 = whole.parse().ok()?;
    let nanos: i32 = if fraction.is_empty() {
        0
    } else {
        format!("{fraction:0<9}").parse().ok()?
    };
    Timestamp::new(seconds, nanos).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PREFIX: &str = " 1(8776) INFO: acc [acc_cdr.c:395]: log_write_cdr(): ";

    fn one(text: &str) -> ProxyRecord {
        let mut records = parse(text, 10).expect("a good log");
        assert_eq!(records.len(), 1, "{records:?}");
        records.remove(0)
    }

    fn bad(text: &str) -> Vec<(usize, String, String)> {
        match parse(text, 10) {
            Err(AccError::Lines(e)) => e
                .errors
                .into_iter()
                .map(|r| (r.line, r.column, r.reason))
                .collect(),
            other => panic!("expected bad lines, got {other:?}"),
        }
    }

    #[test]
    fn a_cdr_behind_kamailios_prefix_is_read_and_rounded_down_c38() {
        let r = one(&format!(
            "{PREFIX}start_time=1796577237.448; end_time=1796577239.755; duration=2.907; \
             call_id=1-8823@127.0.0.1; mt_tenant=contoso; mt_direction=dial_out"
        ));
        assert_eq!((r.line, r.tenant.as_str()), (1, "contoso"));
        assert_eq!(r.call_id, "1-8823@127.0.0.1");
        assert_eq!(r.duration_s, 2);
        assert_eq!(r.ended, Ended::Hangup);
        let at = r.answered_at.unwrap();
        assert_eq!((at.as_second(), at.subsec_millisecond()), (1796577237, 448));
    }

    #[test]
    fn a_cdr_marker_with_a_civil_time_is_read_as_utc() {
        let r = one(
            " 5(1234) NOTICE: acc [acc.c:300]: CDR: start_time=2026-12-06 17:14:17;\
             end_time=2026-12-06 17:16:17;duration=120;call_id=c-1;mt_tenant=contoso",
        );
        assert_eq!(r.answered_at.unwrap().to_string(), "2026-12-06T17:14:17Z");
        assert_eq!(r.duration_s, 120);
    }

    #[test]
    fn a_failed_invite_is_a_call_of_zero_seconds_written_once() {
        let log = "x ACC: call missed: timestamp=1796577239;method=INVITE;from_tag=a;to_tag=b;\
                   call_id=c-2;code=486;reason=Busy Here;mt_tenant=contoso\n\
                   y log_write_cdr(): start_time=1796577239.867; end_time=1796577239.867; \
                   duration=0; call_id=c-2; mt_tenant=contoso\n\
                   z ACC: transaction answered: timestamp=1796577239;method=INVITE;\
                   call_id=c-2;code=486;reason=Busy Here;mt_tenant=contoso\n";
        let r = one(log);
        assert_eq!((r.line, r.ended, r.duration_s), (1, Ended::Failed, 0));
        assert_eq!(r.answered_at, None);
        let failed = "ACC: transaction failed: timestamp=1;method=INVITE;call_id=c-3;code=503;\
                      reason=Service Unavailable;mt_tenant=contoso";
        assert_eq!(one(failed).ended, Ended::Failed);
    }

    #[test]
    fn answered_invites_byes_and_noise_are_skipped() {
        let log = " 0(1) INFO: <core> [main.c:3055]: main(): processes (at least): 7\n\
                   ACC: transaction answered: timestamp=1;method=INVITE;call_id=c-4;code=200;\
                   reason=OK;mt_tenant=contoso\n\
                   ACC: transaction answered: timestamp=1;method=BYE;call_id=c-4;code=200;\
                   reason=OK;mt_tenant=contoso\n\
                   \r\n\
                   WARNING: dialog [dlg_handlers.c:1661]: dlg_ontimeout(): dlg timeout\n";
        assert_eq!(parse(log, 10).unwrap(), vec![]);
    }

    #[test]
    fn a_cdr_that_lasted_outweighs_a_failed_reinvite() {
        let log = "CDR: start_time=100;duration=60.5;call_id=c-5;mt_tenant=contoso\n\
                   ACC: call missed: method=INVITE;call_id=c-5;code=488;mt_tenant=contoso\n";
        let r = one(log);
        assert_eq!((r.ended, r.duration_s, r.line), (Ended::Hangup, 60, 1));
    }

    #[test]
    fn bad_marked_lines_are_named_by_line_and_field() {
        let log = "noise\n\
                   CDR: start_time=100;duration=5;mt_tenant=contoso\n\
                   log_write_cdr(): start_time=yesterday; duration=5; call_id=c; mt_tenant=t\n\
                   log_write_cdr(): start_time=1; duration=-5; call_id=c; mt_tenant=t\n\
                   ACC: call missed: method=INVITE;call_id=c;code=486\n\
                   log_write_cdr(): start_time=1; duration=1; call_id=; mt_tenant=t\n\
                   ACC: call missed: method=INVITE;call_id=c;code=busy;mt_tenant=t\n";
        let errors = bad(log);
        let named: Vec<(usize, &str)> = errors.iter().map(|(l, f, _)| (*l, f.as_str())).collect();
        assert_eq!(
            named,
            vec![
                (2, "call_id"),
                (3, "start_time"),
                (4, "duration"),
                (5, "mt_tenant"),
                (6, "call_id"),
                (7, "code")
            ]
        );
        assert!(errors[3].2.contains("missing"), "{errors:?}");
        assert!(errors[4].2.contains("$dlg_var(call_id)"), "{errors:?}");
        let text = parse(log, 10).unwrap_err().to_string();
        assert!(text.contains("line 3"), "{text}");
    }

    #[test]
    fn marked_lines_keep_every_pair_in_order() {
        let log = "noise\n\
                   x log_write_cdr(): start_time=1; duration=5; call_id=c-1; mt_tenant=t; \
                   organizer=ana@x.example; organizer=second\n\
                   ACC: call missed: method=INVITE;call_id=c-2;code=486\n";
        let lines = marked_lines(log).unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!((lines[0].line, lines[0].marker), (2, Marker::Cdr));
        assert_eq!(lines[0].get("organizer"), Some("ana@x.example"));
        assert_eq!(lines[0].pairs.len(), 6);
        assert_eq!(
            (lines[1].marker, lines[1].event),
            (Marker::Acc, "call missed")
        );
        assert_eq!(lines[1].get("code"), Some("486"));
        assert_eq!(duration_s("61.9"), Ok(61));
        assert!(duration_s("-1").is_err());
    }

    #[test]
    fn records_are_bounded() {
        let line = |i: usize| format!("CDR: start_time=1;duration=1;call_id=c-{i};mt_tenant=t\n");
        let log: String = (0..3).map(line).collect();
        assert_eq!(parse(&log, 3).unwrap().len(), 3);
        assert_eq!(
            parse(&log, 2),
            Err(AccError::TooManyRecords { max: 2, line: 3 })
        );
        let long = "x\n".repeat(MAX_LINES);
        assert_eq!(
            parse(&long, 2),
            Err(AccError::TooManyLines { max: MAX_LINES })
        );
    }

    #[test]
    fn durations_and_times_are_bounded_and_exact() {
        assert_eq!(parse_duration_s("0"), Ok(0));
        assert_eq!(parse_duration_s("59.999"), Ok(59));
        assert!(parse_duration_s(&(MAX_DURATION_S + 1).to_string()).is_err());
        assert!(parse_duration_s("1e3").is_err());
        assert!(parse_duration_s("1.").is_err());
        assert!(parse_time("1.2.3").is_err());
        assert!(parse_time("99999999999999999999").is_err());
        assert_eq!(parse_time("1765040000").unwrap().as_second(), 1765040000);
    }

    /// Found by fuzzing (`fuzz/corpus/kamailio_acc/civil_no_seconds.log`): the datetime
    /// library read a civil time without seconds, and one with an offset or a zone as UTC with
    /// the offset dropped (`civil_offset.log`), so a CDR was answered hours off.
    #[test]
    fn only_documented_civil_times_are_read() {
        let at = |t: &str| parse_time(t).map(|t| t.to_string());
        assert_eq!(at("2026-12-06 17:14:17").unwrap(), "2026-12-06T17:14:17Z");
        assert_eq!(at("2026-12-06T17:14:17").unwrap(), "2026-12-06T17:14:17Z");
        assert_eq!(
            at("2026-12-06 17:14:17.250").unwrap(),
            "2026-12-06T17:14:17.25Z"
        );
        for text in [
            "2026-12-06 17:14:17-05:00",
            "2026-12-06 17:14:17+0100",
            "2026-12-06T17:14:17Z",
            "2026-12-06T17:14:17[Europe/Paris]",
            "2026-12-06 17:14",
            "2026-12-06",
            "2026-12-06 17:14:17.",
            "2026-12-06 17:14:17.1234567890",
            "+2026-12-06 17:14:17",
        ] {
            assert!(at(text).is_err(), "{text} was read as {:?}", at(text));
        }
        let log = "CDR: start_time=2026-12-06 17:14:17-05:00;duration=1;call_id=c;mt_tenant=t\n";
        let errors = bad(log);
        assert_eq!((errors[0].0, errors[0].1.as_str()), (1, "start_time"));
        assert!(errors[0].2.contains("without an offset"), "{errors:?}");
    }
}
