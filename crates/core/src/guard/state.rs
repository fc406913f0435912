//! The guard's counters for one tenant: fixed-size rings of money over the last hour and the
//! last day, the usual money of each hour of the week, attempts per minute, and small maps
//! keyed by digests (organizers, conferences, countries) whose size is bounded by the live
//! calls or by the number of countries. Money here is a count of ten-thousandths of the
//! currency (`_e4`), rounded up: the guard compares it with thresholds and never moves it.

use crate::numbers::Country;
use std::collections::HashMap;

/// Seconds in a bucket of the hour ring (12 of them make the last hour).
pub const HOUR_BUCKET_S: i64 = 300;
/// Seconds in a bucket of the day ring (24 of them make the last day).
pub const DAY_BUCKET_S: i64 = 3600;
/// Seconds in a bucket of the night ring (12 of them make the last day).
pub const NIGHT_BUCKET_S: i64 = 7200;
/// Hours in a week: the usual levels kept.
pub const HOURS_A_WEEK: usize = 168;

/// Money spent in fixed buckets, the last `N` of them kept: adding or summing rolls the ring
/// forward to the instant given, zeroing the buckets it passes. An instant before the ring's
/// newest bucket (an end report arriving late) counts in the bucket of its own time when that
/// is still kept, and is dropped when it is older than the ring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ring<const N: usize> {
    /// The number of the newest bucket (instant / bucket size).
    newest: i64,
    values_e4: [i64; N],
}

impl<const N: usize> Ring<N> {
    pub fn new() -> Ring<N> {
        Ring {
            newest: i64::MIN,
            values_e4: [0; N],
        }
    }

    fn slot(bucket: i64) -> usize {
        // N is small and positive, so the remainder is in 0..N.
        bucket.rem_euclid(N as i64) as usize
    }

    /// Moves the ring to `bucket`, calling `finished` for each bucket that leaves it (at most
    /// N calls; a ring idle for longer starts empty).
    pub fn roll(&mut self, bucket: i64, mut finished: impl FnMut(i64, i64)) {
        if bucket <= self.newest {
            return;
        }
        if self.newest == i64::MIN || bucket - self.newest >= N as i64 {
            if self.newest != i64::MIN {
                for b in (self.newest + 1 - N as i64)..=self.newest {
                    finished(b, self.values_e4[Self::slot(b)]);
                }
            }
            self.values_e4 = [0; N];
            self.newest = bucket;
            return;
        }
        for b in (self.newest + 1)..=bucket {
            let slot = Self::slot(b);
            finished(b - N as i64, self.values_e4[slot]);
            self.values_e4[slot] = 0;
        }
        self.newest = bucket;
    }

    /// Adds `amount_e4` in `bucket` (the ring already rolled to the newest instant seen).
    pub fn add(&mut self, bucket: i64, amount_e4: i64) {
        if self.newest == i64::MIN || bucket > self.newest || bucket <= self.newest - N as i64 {
            return;
        }
        let slot = Self::slot(bucket);
        self.values_e4[slot] = self.values_e4[slot].saturating_add(amount_e4);
    }

    pub fn total_e4(&self) -> i64 {
        self.values_e4
            .iter()
            .fold(0i64, |a, v| a.saturating_add(*v))
    }

    pub fn newest(&self) -> i64 {
        self.newest
    }

    /// The newest bucket and the values (for the store's image of the counters).
    pub fn parts(&self) -> (i64, &[i64; N]) {
        (self.newest, &self.values_e4)
    }

    pub fn from_parts(newest: i64, values_e4: [i64; N]) -> Ring<N> {
        Ring { newest, values_e4 }
    }
}

impl<const N: usize> Default for Ring<N> {
    fn default() -> Self {
        Ring::new()
    }
}

/// Attempts in the current minute and the one before: the rate over the last 60 s is
/// estimated as the current count plus the previous one weighted by the part of it still
/// inside the window (deterministic, constant size).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MinuteCount {
    minute: i64,
    current: u32,
    previous: u32,
}

impl MinuteCount {
    pub fn parts(&self) -> (i64, u32, u32) {
        (self.minute, self.current, self.previous)
    }

    pub fn from_parts(minute: i64, current: u32, previous: u32) -> MinuteCount {
        MinuteCount {
            minute,
            current,
            previous,
        }
    }

    fn roll(&mut self, at_s: i64) {
        let minute = at_s.div_euclid(60);
        if minute == self.minute {
            return;
        }
        self.previous = if minute == self.minute + 1 {
            self.current
        } else {
            0
        };
        self.current = 0;
        self.minute = minute;
    }

    /// The attempts of the last 60 s before `at_s`, this one not counted.
    pub fn rate(&mut self, at_s: i64) -> u32 {
        self.roll(at_s);
        let into = u32::try_from(at_s.rem_euclid(60)).unwrap_or(0);
        self.current + (self.previous * (60 - into)).div_ceil(60)
    }

    pub fn count(&mut self, at_s: i64) {
        self.roll(at_s);
        self.current = self.current.saturating_add(1);
    }

    /// Whether nothing was counted in the last two minutes before `at_s`.
    pub fn is_stale(&self, at_s: i64) -> bool {
        at_s.div_euclid(60) > self.minute + 1
    }
}

/// The usual money of each hour of the week (tenant-local), as a weighted average over the
/// weeks seen: each finished hour moves its slot a quarter of the way to what it spent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Baseline {
    /// In tenths of the currency (saturating at 6,553.5), per hour of the week (Monday
    /// 00:00 is slot 0).
    usual_e1: [u16; HOURS_A_WEEK],
    /// Hours folded in so far.
    pub hours: u32,
}

impl Default for Baseline {
    fn default() -> Self {
        Baseline {
            usual_e1: [0; HOURS_A_WEEK],
            hours: 0,
        }
    }
}

impl Baseline {
    pub fn parts(&self) -> (u32, &[u16; HOURS_A_WEEK]) {
        (self.hours, &self.usual_e1)
    }

    pub fn from_parts(hours: u32, usual_e1: [u16; HOURS_A_WEEK]) -> Baseline {
        Baseline { hours, usual_e1 }
    }

    /// Folds what hour-of-week `slot` spent (`spent_e4`) into its usual level.
    pub fn fold(&mut self, slot: usize, spent_e4: i64) {
        let spent_e1 = u16::try_from((spent_e4.max(0) as u64).div_ceil(1000)).unwrap_or(u16::MAX);
        let usual = &mut self.usual_e1[slot % HOURS_A_WEEK];
        let (u, s) = (i64::from(*usual), i64::from(spent_e1));
        // The first week sets the level; later weeks move it a quarter of the way, rounded
        // towards what was spent so that a level reaches it.
        let delta = s - u;
        let next = if self.hours < HOURS_A_WEEK as u32 {
            s
        } else if delta > 0 {
            u + (delta + 3) / 4
        } else {
            u + delta.div_euclid(4)
        };
        *usual = u16::try_from(next.max(0)).unwrap_or(u16::MAX);
        self.hours = self.hours.saturating_add(1);
    }

    /// The usual money of hour-of-week `slot`: the most of it and its two neighbours, so
    /// a meeting an hour early is not unusual.
    pub fn hour_e4(&self, slot: usize) -> i64 {
        let at = |s: usize| i64::from(self.usual_e1[s % HOURS_A_WEEK]) * 1000;
        at(slot + HOURS_A_WEEK - 1).max(at(slot)).max(at(slot + 1))
    }

    /// The usual money of the 24 hours ending with hour-of-week `slot`.
    pub fn day_e4(&self, slot: usize) -> i64 {
        (0..24)
            .map(|back| i64::from(self.usual_e1[(slot + HOURS_A_WEEK - back) % HOURS_A_WEEK]))
            .sum::<i64>()
            * 1000
    }
}

/// Short calls to one country, the last few kept, for the test-call pattern: when (seconds
/// since 1970, kept in 32 bits: instants outside 1970..2106 saturate) and to which number (a
/// 16-bit digest).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShortCalls {
    pub calls: [(u32, u16); 3],
    pub len: u8,
}

pub fn seconds_u32(at_s: i64) -> u32 {
    u32::try_from(at_s.max(0)).unwrap_or(u32::MAX)
}

impl ShortCalls {
    /// Records a short call at `at_s` to `number`, keeping the newest three.
    pub fn push(&mut self, at_s: i64, number: u16) {
        let entry = (seconds_u32(at_s), number);
        let len = usize::from(self.len);
        if len < self.calls.len() {
            self.calls[len] = entry;
            self.len += 1;
        } else {
            self.calls.rotate_left(1);
            self.calls[len - 1] = entry;
        }
    }

    /// How many were made in the `window_s` before `at_s`, and to how many numbers.
    pub fn within(&self, at_s: i64, window_s: i64) -> (usize, usize) {
        let now = i64::from(seconds_u32(at_s));
        let mut numbers = [0u16; 3];
        let mut n = 0;
        for (t, number) in &self.calls[..usize::from(self.len)] {
            if now - i64::from(*t) <= window_s {
                numbers[n] = *number;
                n += 1;
            }
        }
        let recent = &mut numbers[..n];
        recent.sort_unstable();
        let distinct = 1 + recent.windows(2).filter(|w| w[0] != w[1]).count();
        (n, if n == 0 { 0 } else { distinct })
    }
}

/// What a country is to the tenant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CountryState {
    /// The last day (seconds / 86,400) a call to it was made while it was known.
    pub last_known_day: Option<i32>,
    /// Calls allowed as a first call while it was not known (C45 `fraud_country_not_approved`).
    pub trial_calls: u8,
    /// Approved by the tenant admin or the operator.
    pub approved: bool,
    /// Blocked until this instant (seconds since 1970, 32 bits; 0: not blocked) after the
    /// test-call pattern.
    pub blocked_until_s: u32,
    pub short: ShortCalls,
}

/// One live dial-out the guard allowed, and what it holds at list price.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveDialOut {
    pub organizer: u64,
    pub conference: u64,
    pub country: Country,
    pub held_e4: i64,
    /// The grant's cap by a guard rule, in seconds from the start.
    pub cap_s: Option<u64>,
    pub price: super::ListPrice,
    pub domestic: bool,
    /// A non-domestic call placed outside business hours (rule 6).
    pub night: bool,
}

/// An organizer's counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OrganizerState {
    pub live: u16,
    pub attempts: MinuteCount,
    /// Guard refusals in the current strike window (for suspension) and when it began.
    pub strikes: u16,
    pub strikes_since_s: i64,
    pub suspended: bool,
}

/// Every counter of one tenant's guard.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GuardState {
    pub hour: Ring<12>,
    pub day: Ring<24>,
    pub baseline: Baseline,
    /// Money of non-domestic calls placed outside business hours, over the last day.
    pub night: Ring<12>,
    pub night_live_e4: i64,
    pub attempts: MinuteCount,
    pub live_e4: i64,
    pub live: HashMap<String, LiveDialOut>,
    pub organizers: HashMap<u64, OrganizerState>,
    pub conferences: HashMap<u64, u16>,
    pub countries: HashMap<Country, CountryState>,
    /// The first dial-out seen (seconds) and how many were allowed: the learning period.
    pub first_dialout_s: Option<i64>,
    pub dialouts: u32,
    pub suspended: bool,
    /// Organizers suspended in the current day, and which day.
    pub organizers_suspended: (i64, u8),
    /// An alert is open until this instant (seconds): recharges are limited meanwhile.
    pub alert_until_s: Option<i64>,
    /// Auto-recharges made on this day (seconds / 86,400).
    pub recharges: (i64, u8),
}

impl GuardState {
    /// The bytes the tenant's guard holds besides one entry a live call: the fixed counters
    /// and the maps' entries (their hash tables' spare room not counted).
    pub fn size_bytes(&self) -> usize {
        std::mem::size_of::<GuardState>()
            + self.organizers.len() * (8 + std::mem::size_of::<OrganizerState>())
            + self.conferences.len() * (8 + 2)
            + self.countries.len() * (2 + std::mem::size_of::<CountryState>())
    }

    /// Forgets organizers and conferences with nothing live and nothing recent, so that the
    /// maps hold only what is active (called once a new minute).
    pub fn prune(&mut self, at_s: i64) {
        self.organizers.retain(|_, o| {
            o.live > 0 || o.suspended || !o.attempts.is_stale(at_s) || o.strikes > 0
        });
        self.conferences.retain(|_, n| *n > 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_rolls_and_forgets_what_left_the_window() {
        let mut ring = Ring::<3>::new();
        let mut done = Vec::new();
        ring.roll(10, |b, v| done.push((b, v)));
        ring.add(10, 5);
        ring.roll(11, |b, v| done.push((b, v)));
        ring.add(11, 7);
        ring.add(10, 1);
        assert_eq!(ring.total_e4(), 13);
        ring.roll(13, |b, v| done.push((b, v)));
        assert_eq!(ring.total_e4(), 7);
        ring.add(10, 100);
        assert_eq!(
            ring.total_e4(),
            7,
            "a bucket older than the ring is dropped"
        );
        ring.roll(100, |b, v| done.push((b, v)));
        assert_eq!(ring.total_e4(), 0);
        let folded: i64 = done.iter().map(|(_, v)| v).sum();
        assert_eq!(folded, 13, "every amount leaves the ring once: {done:?}");
    }

    #[test]
    fn minute_count_weighs_the_previous_minute() {
        let mut c = MinuteCount::default();
        for s in 0..30 {
            c.count(120 + s);
        }
        assert_eq!(c.rate(179), 30);
        assert_eq!(
            c.rate(180),
            30,
            "a full previous minute at the start of the next"
        );
        assert_eq!(c.rate(210), 15);
        assert_eq!(c.rate(300), 0);
    }

    #[test]
    fn baseline_moves_a_quarter_and_reaches_zero() {
        let mut b = Baseline::default();
        b.fold(5, 40_000);
        assert_eq!(b.hour_e4(5), 40_000, "the first week sets the level");
        assert_eq!(b.hour_e4(4), 40_000, "neighbours count");
        assert_eq!(b.day_e4(5), 40_000);
        b.hours = 168;
        b.fold(5, 0);
        assert_eq!(b.hour_e4(5), 30_000, "a quarter of the way");
        for _ in 0..40 {
            b.fold(5, 0);
        }
        assert_eq!(b.hour_e4(5), 0);
    }

    #[test]
    fn short_calls_keep_the_newest_three() {
        let mut s = ShortCalls::default();
        for i in 0..6 {
            s.push(i * 100, (i % 2) as u16);
        }
        assert_eq!(s.within(500, 150), (2, 2));
        assert_eq!(s.within(500, 10_000), (3, 2));
    }
}
