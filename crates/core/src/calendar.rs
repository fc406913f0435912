//! The calendar every layer shares: one `Month` (`YYYY-MM`) and one `DateRange`, each with one
//! checking constructor and one error type naming what was wrong.
//!
//! Bounds, stated once: a month is one of **0001-01 to 9999-12**. That is every month any
//! reader accepted before they were merged here (the statements and the advisor read the years
//! 0001 to 9999, the pool report 1900 to 9998) and every month a tenant-local instant of the
//! journal can fall in, except the first hours of the year 0000 (instants are read from
//! 0000-01-01T00:00:00Z): those count in 0001-01, so that every month the engine keeps can be
//! written and read back. A date range covers at most `DateRange::MAX_DAYS` (366) days of the
//! tenant's calendar, so a leap year fits.
//!
//! No IO and no clock: time zones and instants are inputs.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use std::fmt;

/// The first year a month may be in.
pub const MIN_YEAR: i16 = 1;
/// The last year a month may be in.
pub const MAX_YEAR: i16 = 9999;

/// Why a month or a date range was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// Not `YYYY-MM`, or a month outside 0001-01 to 9999-12. `input` is cut to a readable
    /// length.
    #[error(
        "{input:?} is not a month; write it as YYYY-MM (such as 2026-03), from 0001-01 to 9999-12"
    )]
    BadMonth { input: String },
    /// `to` is before `from`.
    #[error("to ({to}) is before from ({from})")]
    Reversed { from: Timestamp, to: Timestamp },
    /// The range is longer than `DateRange::MAX_DAYS` days.
    #[error("from/to: {from} to {to} is longer than {max_days} days; ask for a shorter range")]
    TooLong {
        from: Timestamp,
        to: Timestamp,
        max_days: i64,
    },
}

/// Input echoed back in an error, cut to a readable length.
fn bounded_echo(text: &str) -> String {
    let mut cut: String = text.chars().take(40).collect();
    if cut.len() < text.len() {
        cut.push('…');
    }
    cut
}

/// A calendar month, `YYYY-MM`, between `Month::MIN` and `Month::MAX`. Which instants it
/// covers depends on a time zone (the tenant's): see `start` and `end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    /// `MIN_YEAR` to `MAX_YEAR`; private so that no month outside the bounds exists.
    year: i16,
    /// 1 to 12.
    month: i8,
}

impl Month {
    /// The first month: 0001-01.
    pub const MIN: Month = Month {
        year: MIN_YEAR,
        month: 1,
    };
    /// The last month: 9999-12.
    pub const MAX: Month = Month {
        year: MAX_YEAR,
        month: 12,
    };

    /// The month `month` (1 to 12) of `year`, within the bounds.
    pub fn new(year: i16, month: i8) -> Result<Month, CalendarError> {
        if (MIN_YEAR..=MAX_YEAR).contains(&year) && (1..=12).contains(&month) {
            Ok(Month { year, month })
        } else {
            Err(CalendarError::BadMonth {
                input: format!("{year:04}-{month:02}"),
            })
        }
    }

    /// Parses `YYYY-MM` exactly: four ASCII digits, `-`, two ASCII digits, nothing around
    /// them (an edge that allows spaces trims first).
    pub fn parse(text: &str) -> Result<Month, CalendarError> {
        let bad = || CalendarError::BadMonth {
            input: bounded_echo(text),
        };
        let bytes = text.as_bytes();
        if bytes.len() != 7 || bytes[4] != b'-' {
            return Err(bad());
        }
        let digits = |range: std::ops::Range<usize>| -> Option<i16> {
            let part = text.get(range)?;
            if !part.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            part.parse().ok()
        };
        let year = digits(0..4).ok_or_else(bad)?;
        let month = digits(5..7).ok_or_else(bad)?;
        let month = i8::try_from(month).map_err(|_| bad())?;
        Month::new(year, month).map_err(|_| bad())
    }

    /// The month of a civil date; a date before 0001-01-01 counts in 0001-01 (see the module
    /// documentation).
    pub fn of(date: Date) -> Month {
        Month::new(date.year(), date.month()).unwrap_or(if date.year() < MIN_YEAR {
            Month::MIN
        } else {
            Month::MAX
        })
    }

    /// The month an instant falls in, in `tz`.
    pub fn of_instant(at: Timestamp, tz: &TimeZone) -> Month {
        Month::of(at.to_zoned_datetime(tz.clone()).date())
    }

    pub fn year(self) -> i16 {
        self.year
    }

    /// 1 to 12.
    pub fn month(self) -> i8 {
        self.month
    }

    /// The first day of the month.
    pub fn first_day(self) -> Date {
        Date::new(self.year, self.month, 1).expect("a month within the bounds has a first day")
    }

    /// The month after this one, `None` after 9999-12.
    pub fn next(self) -> Option<Month> {
        if self.month == 12 {
            Month::new(self.year + 1, 1).ok()
        } else {
            Month::new(self.year, self.month + 1).ok()
        }
    }

    /// The month before this one, `None` before 0001-01.
    pub fn previous(self) -> Option<Month> {
        if self.month == 1 {
            Month::new(self.year - 1, 12).ok()
        } else {
            Month::new(self.year, self.month - 1).ok()
        }
    }

    /// The first instant of the month in `tz` (`Timestamp::MAX` if it cannot be represented).
    pub fn start(self, tz: &TimeZone) -> Timestamp {
        self.first_day()
            .to_zoned_datetime(tz.clone())
            .map_or(Timestamp::MAX, |z| z.timestamp())
    }

    /// The first instant of the next month in `tz` (exclusive end); 9999-12 ends at the last
    /// instant there is.
    pub fn end(self, tz: &TimeZone) -> Timestamp {
        self.next().map_or(Timestamp::MAX, |next| next.start(tz))
    }

    /// `[start, end)` in `tz`.
    pub fn bounds(self, tz: &TimeZone) -> (Timestamp, Timestamp) {
        (self.start(tz), self.end(tz))
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// One end of a date range as written: a tenant-local day or an exact instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// A day of the tenant's calendar: as `from`, from its start; as `to`, up to its end.
    Day(Date),
    /// An instant: as `from`, inclusive; as `to`, exclusive.
    Instant(Timestamp),
}

impl Bound {
    /// The instant this bound means in `tz`, as the start (`end_of_day` false) or the end of a
    /// range; `None` for a day whose start or end cannot be represented.
    pub fn instant(self, tz: &TimeZone, end_of_day: bool) -> Option<Timestamp> {
        match self {
            Bound::Instant(at) => Some(at),
            Bound::Day(date) => {
                let day = if end_of_day {
                    date.tomorrow().ok()?
                } else {
                    date
                };
                day.to_zoned_datetime(tz.clone())
                    .ok()
                    .map(|z| z.timestamp())
            }
        }
    }
}

/// `[from, to)`, `from <= to`, at most `MAX_DAYS` days of a time zone's calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateRange {
    /// Inclusive.
    from: Timestamp,
    /// Exclusive.
    to: Timestamp,
}

impl DateRange {
    /// The longest range, in days of the tenant's calendar (a leap year fits).
    pub const MAX_DAYS: i64 = 366;

    /// The one constructor: refuses `to` before `from` and a range longer than `MAX_DAYS`
    /// days counted in `tz` from `from`.
    pub fn new(from: Timestamp, to: Timestamp, tz: &TimeZone) -> Result<DateRange, CalendarError> {
        if to < from {
            return Err(CalendarError::Reversed { from, to });
        }
        let limit = from
            .to_zoned_datetime(tz.clone())
            .checked_add(DateRange::MAX_DAYS.days())
            .map(|z| z.timestamp())
            .unwrap_or(Timestamp::MAX);
        if to > limit {
            return Err(CalendarError::TooLong {
                from,
                to,
                max_days: DateRange::MAX_DAYS,
            });
        }
        Ok(DateRange { from, to })
    }

    /// `from` and `to` as written, read in `tz` (`to` up to the end of its day); `None` when a
    /// day cannot be placed in time (the edge names the field).
    pub fn of_bounds(
        from: Bound,
        to: Bound,
        tz: &TimeZone,
    ) -> Option<Result<DateRange, CalendarError>> {
        let from = from.instant(tz, false)?;
        let to = to.instant(tz, true)?;
        Some(DateRange::new(from, to, tz))
    }

    /// The first instant (inclusive).
    pub fn from(&self) -> Timestamp {
        self.from
    }

    /// The end (exclusive).
    pub fn to(&self) -> Timestamp {
        self.to
    }

    /// `(from, to)`.
    pub fn bounds(&self) -> (Timestamp, Timestamp) {
        (self.from, self.to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(text: &str) -> Month {
        Month::parse(text).unwrap()
    }

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn paris() -> TimeZone {
        TimeZone::get("Europe/Paris").unwrap()
    }

    #[test]
    fn months_parse_within_the_bounds_and_print_back() {
        for text in [
            "0001-01", "1899-12", "1900-01", "2026-03", "9998-12", "9999-12",
        ] {
            assert_eq!(m(text).to_string(), text);
        }
        assert_eq!(Month::MIN, m("0001-01"));
        assert_eq!(Month::MAX, m("9999-12"));
        assert_eq!(Month::new(2026, 3), Ok(m("2026-03")));
        assert!(Month::new(0, 1).is_err());
        assert!(Month::new(10_000, 1).is_err());
        assert!(Month::new(2026, 0).is_err());
        assert!(Month::new(2026, 13).is_err());
    }

    #[test]
    fn malformed_months_are_refused_naming_the_input() {
        for bad in [
            "0000-01",
            "2026-13",
            "2026-00",
            "2026-3",
            "26-03",
            "2026/03",
            "+026-03",
            "-001-12",
            "",
            " 2026-03",
            "2026-03 ",
            "2026-03-01",
            "２０２６-03",
            "March",
            "2026--1",
            "x-01",
        ] {
            let e = Month::parse(bad).unwrap_err();
            let message = e.to_string();
            assert!(message.contains(&format!("{bad:?}")), "{message}");
            assert!(message.contains("YYYY-MM"), "{message}");
        }
        let long = "x".repeat(5000);
        assert!(Month::parse(&long).unwrap_err().to_string().len() < 200);
    }

    #[test]
    fn next_and_previous_stop_at_the_bounds() {
        assert_eq!(m("2026-12").next(), Some(m("2027-01")));
        assert_eq!(m("2026-01").previous(), Some(m("2025-12")));
        assert_eq!(m("0001-12").next(), Some(m("0002-01")));
        assert_eq!(Month::MAX.next(), None);
        assert_eq!(Month::MIN.previous(), None);
        assert_eq!(m("2026-03").first_day(), jiff::civil::date(2026, 3, 1));
    }

    #[test]
    fn a_month_of_a_date_and_an_instant_is_tenant_local() {
        assert_eq!(Month::of(jiff::civil::date(2024, 2, 29)), m("2024-02"));
        // 23:30 UTC on the last day of February is March in Paris.
        let at = ts("2026-02-28T23:30:00Z");
        assert_eq!(Month::of_instant(at, &TimeZone::UTC), m("2026-02"));
        assert_eq!(Month::of_instant(at, &paris()), m("2026-03"));
        // The first hours of the year 0000 in a zone west of UTC count in the first month.
        let ny = TimeZone::get("America/New_York").unwrap();
        assert_eq!(
            Month::of_instant(ts("0000-01-01T00:00:00Z"), &ny),
            Month::MIN
        );
    }

    #[test]
    fn bounds_are_the_first_instants_in_the_zone_leap_years_included() {
        let (start, end) = m("2024-02").bounds(&paris());
        assert_eq!(start, ts("2024-01-31T23:00:00Z"));
        assert_eq!(end, ts("2024-02-29T23:00:00Z"));
        assert_eq!(end.duration_since(start).as_hours(), 29 * 24);
        let (start, end) = m("2026-02").bounds(&TimeZone::UTC);
        assert_eq!(end.duration_since(start).as_hours(), 28 * 24);
        assert_eq!(Month::MAX.end(&TimeZone::UTC), Timestamp::MAX);
        assert!(Month::MAX.start(&TimeZone::UTC) < Timestamp::MAX);
    }

    #[test]
    fn a_range_is_ordered_and_at_most_366_days() {
        let day = |y, mo, d| Bound::Day(jiff::civil::date(y, mo, d));
        let utc = TimeZone::UTC;
        // 2024 is a leap year: its 366 days fit, one more does not.
        let leap = DateRange::of_bounds(day(2024, 1, 1), day(2024, 12, 31), &utc).unwrap();
        assert_eq!(
            leap.unwrap().bounds(),
            (ts("2024-01-01T00:00:00Z"), ts("2025-01-01T00:00:00Z"))
        );
        let long = DateRange::of_bounds(day(2024, 1, 1), day(2025, 1, 1), &utc).unwrap();
        assert!(matches!(
            long,
            Err(CalendarError::TooLong { max_days: 366, .. })
        ));
        assert!(
            long.unwrap_err()
                .to_string()
                .contains("longer than 366 days")
        );
        let one_day = DateRange::of_bounds(day(2026, 3, 1), day(2026, 3, 1), &paris()).unwrap();
        assert_eq!(
            one_day.unwrap().bounds(),
            (ts("2026-02-28T23:00:00Z"), ts("2026-03-01T23:00:00Z"))
        );
        let reversed = DateRange::of_bounds(day(2026, 3, 3), day(2026, 3, 1), &utc).unwrap();
        assert!(matches!(reversed, Err(CalendarError::Reversed { .. })));
        let at = ts("2026-03-01T12:00:00Z");
        assert!(DateRange::new(at, at, &utc).is_ok());
        // A day whose end cannot be represented names no range.
        assert!(DateRange::of_bounds(day(2026, 1, 1), day(9999, 12, 31), &utc).is_none());
    }
}
