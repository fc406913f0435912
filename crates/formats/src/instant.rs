//! Instants in files: RFC 3339 in, UTC ISO 8601 (`2026-01-05T10:00:00Z`) out. Whole-second UTC
//! instants, by far the most common, take a fast path that needs no allocation.

use jiff::Timestamp;

/// Days from 1970-01-01 to the civil date (proleptic Gregorian).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

fn digits(bytes: &[u8]) -> Option<i64> {
    bytes.iter().try_fold(0i64, |acc, b| {
        b.is_ascii_digit().then(|| acc * 10 + i64::from(b - b'0'))
    })
}

fn fast_utc(b: &[u8]) -> Option<Timestamp> {
    if b.len() != 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'Z'
    {
        return None;
    }
    let (year, month, day) = (digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?);
    let (hour, minute, second) = (
        digits(&b[11..13])?,
        digits(&b[14..16])?,
        digits(&b[17..19])?,
    );
    let month_days = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let max_day = if month == 2 && leap {
        29
    } else {
        *month_days.get((month - 1) as usize)?
    };
    if !(1..=12).contains(&month)
        || day < 1
        || day > max_day
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let secs = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
    Timestamp::from_second(secs).ok()
}

/// A whole-second UTC instant written `2026-01-05T10:00:00Z` and nothing else, as `parse`
/// reads it; none for any other text (which `parse` reads, or refuses).
pub fn parse_utc_second(bytes: &[u8]) -> Option<Timestamp> {
    fast_utc(bytes)
}

/// Parses an RFC 3339 instant (an offset is required; it is converted to UTC).
pub fn parse(text: &str) -> Result<Timestamp, String> {
    let trimmed = text.trim();
    if let Some(ts) = fast_utc(trimmed.as_bytes()) {
        return Ok(ts);
    }
    trimmed.parse::<Timestamp>().map_err(|_| {
        format!("{text:?} is not an RFC 3339 instant with an offset (such as 2026-01-05T10:00:00Z)")
    })
}

/// Writes `at` as UTC ISO 8601 (`2026-01-05T10:00:00Z`; fractions of a second when present).
pub fn write(out: &mut Vec<u8>, at: Timestamp) {
    if at.subsec_nanosecond() != 0 {
        out.extend_from_slice(at.to_string().as_bytes());
        return;
    }
    let secs = at.as_second();
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    // civil_from_days
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    if !(0..=9999).contains(&year) {
        out.extend_from_slice(at.to_string().as_bytes());
        return;
    }
    let mut text = *b"0000-00-00T00:00:00Z";
    let two = |text: &mut [u8; 20], at: usize, v: i64| {
        text[at] = b'0' + (v / 10) as u8;
        text[at + 1] = b'0' + (v % 10) as u8;
    };
    two(&mut text, 0, year / 100);
    two(&mut text, 2, year % 100);
    two(&mut text, 5, month);
    two(&mut text, 8, day);
    two(&mut text, 11, rem / 3600);
    two(&mut text, 14, rem % 3600 / 60);
    two(&mut text, 17, rem % 60);
    out.extend_from_slice(&text);
}

/// `at` as UTC ISO 8601 text.
pub fn format(at: Timestamp) -> String {
    let mut out = Vec::with_capacity(20);
    write(&mut out, at);
    String::from_utf8(out).expect("ASCII")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_path_agrees_with_the_general_parser() {
        for text in [
            "1970-01-01T00:00:00Z",
            "2024-02-29T23:59:59Z",
            "2026-12-31T12:00:00Z",
            "2000-03-01T00:00:00Z",
            "2100-02-28T01:02:03Z",
        ] {
            let general: Timestamp = text.parse().unwrap();
            assert_eq!(parse(text).unwrap(), general);
            assert_eq!(parse_utc_second(text.as_bytes()), Some(general));
            assert_eq!(format(general), text);
        }
    }

    #[test]
    fn offsets_are_converted_and_bad_instants_refused() {
        assert_eq!(
            format(parse("2026-01-05T11:00:00+01:00").unwrap()),
            "2026-01-05T10:00:00Z"
        );
        assert_eq!(
            format(parse("2026-01-05T10:00:00.5Z").unwrap()),
            "2026-01-05T10:00:00.5Z"
        );
        for bad in [
            "2026-02-30T00:00:00Z",
            "2026-01-05 10:00",
            "2026-13-01T00:00:00Z",
            "",
            "2026-01-05T10:00:00",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
            assert_eq!(parse_utc_second(bad.as_bytes()), None, "{bad}");
        }
        // Text `parse` reads that is not exactly a whole-second UTC instant is left to it.
        for other in [
            " 2026-01-05T10:00:00Z",
            "2026-01-05T10:00:00Z ",
            "2026-01-05T10:00:00.5Z",
            "2026-01-05T11:00:00+01:00",
        ] {
            assert!(parse(other).is_ok(), "{other}");
            assert_eq!(parse_utc_second(other.as_bytes()), None, "{other}");
        }
    }
}
