//! A tenant's toll-fraud guard counters as bytes, kept with each commit that touched them: a
//! restart (or another node taking the tenant over) resumes the very counters the last commit
//! left, so that no later decision differs. Little-endian, maps in key order (the same counters
//! always give the same bytes), a version byte first; `from_bytes` refuses anything it did not
//! write. Version 2 writes the rings and the usual levels sparsely (a bit a slot, then the
//! slots that are not zero): most are zero, and the counters are written at every commit that
//! touched the tenant. Version 1 (every slot written) is still read.

use minutely_core::guard::ListPrice;
use minutely_core::guard::state::{
    Baseline, CountryState, GuardState, HOURS_A_WEEK, LiveDialOut, MinuteCount, OrganizerState,
    Ring, ShortCalls,
};
use minutely_core::numbers::Country;
use rust_decimal::Decimal;

const VERSION: u8 = 2;
/// The first version, every slot of the rings and the usual levels written.
const DENSE: u8 = 1;

/// A bit for each of `slots` (64 at most) that is not zero, the first slot the lowest bit.
fn bits_of<T: Copy + Default + PartialEq>(slots: &[T]) -> u64 {
    debug_assert!(slots.len() <= 64);
    slots
        .iter()
        .enumerate()
        .filter(|(_, v)| **v != T::default())
        .fold(0u64, |b, (i, _)| b | (1 << i))
}

/// Bytes being written.
#[derive(Default)]
struct Out(Vec<u8>);

impl Out {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn i32(&mut self, v: i32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn decimal(&mut self, v: Decimal) {
        self.0.extend_from_slice(&v.serialize());
    }
    fn country(&mut self, c: Country) {
        self.0.extend_from_slice(c.as_str().as_bytes());
    }
    fn opt_i64(&mut self, v: Option<i64>) {
        self.u8(u8::from(v.is_some()));
        self.i64(v.unwrap_or(0));
    }
    /// A bit a slot (`N` at most 64), then the slots that are not zero (every slot in `DENSE`).
    fn ring<const N: usize>(&mut self, r: &Ring<N>, version: u8) {
        let (newest, values) = r.parts();
        self.i64(newest);
        if version == DENSE {
            values.iter().for_each(|v| self.i64(*v));
            return;
        }
        self.u64(bits_of(values));
        values
            .iter()
            .filter(|v| **v != 0)
            .for_each(|v| self.i64(*v));
    }
    /// The usual levels: a bit a slot in three words, then the slots that are not zero.
    fn usual(&mut self, usual: &[u16; HOURS_A_WEEK], version: u8) {
        if version == DENSE {
            usual.iter().for_each(|u| self.u16(*u));
            return;
        }
        for word in usual.chunks(64) {
            self.u64(bits_of(word));
        }
        usual.iter().filter(|u| **u != 0).for_each(|u| self.u16(*u));
    }
    fn minute(&mut self, m: &MinuteCount) {
        let (minute, current, previous) = m.parts();
        self.i64(minute);
        self.u32(current);
        self.u32(previous);
    }
}

/// Bytes being read; every read fails cleanly past the end.
struct In<'a>(&'a [u8]);

impl In<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_at_checked(N)?;
        self.0 = rest;
        head.try_into().ok()
    }
    fn u8(&mut self) -> Option<u8> {
        self.take::<1>().map(|b| b[0])
    }
    fn flag(&mut self) -> Option<bool> {
        match self.u8()? {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }
    fn u16(&mut self) -> Option<u16> {
        self.take().map(u16::from_le_bytes)
    }
    fn u32(&mut self) -> Option<u32> {
        self.take().map(u32::from_le_bytes)
    }
    fn i32(&mut self) -> Option<i32> {
        self.take().map(i32::from_le_bytes)
    }
    fn u64(&mut self) -> Option<u64> {
        self.take().map(u64::from_le_bytes)
    }
    fn i64(&mut self) -> Option<i64> {
        self.take().map(i64::from_le_bytes)
    }
    fn decimal(&mut self) -> Option<Decimal> {
        self.take().map(Decimal::deserialize)
    }
    fn country(&mut self) -> Option<Country> {
        let b: [u8; 2] = self.take()?;
        Country::parse(std::str::from_utf8(&b).ok()?).ok()
    }
    fn opt_i64(&mut self) -> Option<Option<i64>> {
        let some = self.flag()?;
        let v = self.i64()?;
        Some(some.then_some(v))
    }
    fn count(&mut self) -> Option<usize> {
        // A count is never more than the bytes left could hold (one byte an item at least).
        let n = usize::try_from(self.u32()?).ok()?;
        (n <= self.0.len()).then_some(n)
    }
    fn ring<const N: usize>(&mut self, version: u8) -> Option<Ring<N>> {
        let newest = self.i64()?;
        let mut values = [0i64; N];
        let bits = if version == DENSE {
            u64::MAX
        } else {
            let bits = self.u64()?;
            // No bit past the ring's slots.
            (N >= 64 || bits >> N == 0).then_some(bits)?
        };
        for (i, v) in values.iter_mut().enumerate() {
            if bits & (1 << i) != 0 {
                *v = self.i64()?;
            }
        }
        Some(Ring::from_parts(newest, values))
    }
    fn usual(&mut self, version: u8) -> Option<[u16; HOURS_A_WEEK]> {
        let mut usual = [0u16; HOURS_A_WEEK];
        let mut bits = [u64::MAX; HOURS_A_WEEK.div_ceil(64)];
        if version != DENSE {
            for word in &mut bits {
                *word = self.u64()?;
            }
            // No bit past the last hour of the week.
            (bits[bits.len() - 1] >> (HOURS_A_WEEK % 64) == 0).then_some(())?;
        }
        for (i, u) in usual.iter_mut().enumerate() {
            if bits[i / 64] & (1 << (i % 64)) != 0 {
                *u = self.u16()?;
            }
        }
        Some(usual)
    }
    fn minute(&mut self) -> Option<MinuteCount> {
        Some(MinuteCount::from_parts(
            self.i64()?,
            self.u32()?,
            self.u32()?,
        ))
    }
}

fn write_live(o: &mut Out, id: &str, l: &LiveDialOut) {
    o.u16(u16::try_from(id.len()).unwrap_or(u16::MAX));
    o.0.extend_from_slice(&id.as_bytes()[..id.len().min(usize::from(u16::MAX))]);
    o.u64(l.organizer);
    o.u64(l.conference);
    o.country(l.country);
    o.i64(l.held_e4);
    o.u8(u8::from(l.cap_s.is_some()));
    o.u64(l.cap_s.unwrap_or(0));
    o.decimal(l.price.per_minute);
    o.decimal(l.price.fee);
    o.u32(l.price.first_s);
    o.u32(l.price.increment_s);
    o.u8(u8::from(l.domestic));
    o.u8(u8::from(l.night));
}

fn read_live(i: &mut In<'_>) -> Option<(String, LiveDialOut)> {
    let len = usize::from(i.u16()?);
    let (id, rest) = i.0.split_at_checked(len)?;
    let id = std::str::from_utf8(id).ok()?.to_string();
    i.0 = rest;
    let organizer = i.u64()?;
    let conference = i.u64()?;
    let country = i.country()?;
    let held_e4 = i.i64()?;
    let capped = i.flag()?;
    let cap = i.u64()?;
    let price = ListPrice {
        per_minute: i.decimal()?,
        fee: i.decimal()?,
        first_s: i.u32()?,
        increment_s: i.u32()?,
    };
    let live = LiveDialOut {
        organizer,
        conference,
        country,
        held_e4,
        cap_s: capped.then_some(cap),
        price,
        domestic: i.flag()?,
        night: i.flag()?,
    };
    Some((id, live))
}

fn write_organizer(o: &mut Out, key: u64, s: &OrganizerState) {
    o.u64(key);
    o.u16(s.live);
    o.minute(&s.attempts);
    o.u16(s.strikes);
    o.i64(s.strikes_since_s);
    o.u8(u8::from(s.suspended));
}

fn read_organizer(i: &mut In<'_>) -> Option<(u64, OrganizerState)> {
    let key = i.u64()?;
    let s = OrganizerState {
        live: i.u16()?,
        attempts: i.minute()?,
        strikes: i.u16()?,
        strikes_since_s: i.i64()?,
        suspended: i.flag()?,
    };
    Some((key, s))
}

fn write_country(o: &mut Out, c: Country, s: &CountryState) {
    o.country(c);
    o.u8(u8::from(s.last_known_day.is_some()));
    o.i32(s.last_known_day.unwrap_or(0));
    o.u8(s.trial_calls);
    o.u8(u8::from(s.approved));
    o.u32(s.blocked_until_s);
    o.u8(s.short.len);
    for (at, number) in s.short.calls {
        o.u32(at);
        o.u16(number);
    }
}

fn read_country(i: &mut In<'_>) -> Option<(Country, CountryState)> {
    let c = i.country()?;
    let known = i.flag()?;
    let day = i.i32()?;
    let trial_calls = i.u8()?;
    let approved = i.flag()?;
    let blocked_until_s = i.u32()?;
    let len = i.u8()?;
    let mut short = ShortCalls::default();
    if usize::from(len) > short.calls.len() {
        return None;
    }
    short.len = len;
    for call in &mut short.calls {
        *call = (i.u32()?, i.u16()?);
    }
    let s = CountryState {
        last_known_day: known.then_some(day),
        trial_calls,
        approved,
        blocked_until_s,
        short,
    };
    Some((c, s))
}

/// The counters as bytes (see the module's documentation).
pub fn to_bytes(s: &GuardState) -> Vec<u8> {
    image(s, VERSION)
}

/// The counters as bytes of `version`.
fn image(s: &GuardState, version: u8) -> Vec<u8> {
    let mut o = Out::default();
    o.u8(version);
    o.ring(&s.hour, version);
    o.ring(&s.day, version);
    o.ring(&s.night, version);
    o.i64(s.night_live_e4);
    let (hours, usual) = s.baseline.parts();
    o.u32(hours);
    o.usual(usual, version);
    o.minute(&s.attempts);
    o.i64(s.live_e4);
    let mut live: Vec<_> = s.live.iter().collect();
    live.sort_unstable_by(|a, b| a.0.cmp(b.0));
    o.u32(live.len() as u32);
    live.into_iter()
        .for_each(|(id, l)| write_live(&mut o, id, l));
    let mut organizers: Vec<_> = s.organizers.iter().collect();
    organizers.sort_unstable_by_key(|(k, _)| **k);
    o.u32(organizers.len() as u32);
    organizers
        .into_iter()
        .for_each(|(k, s)| write_organizer(&mut o, *k, s));
    let mut conferences: Vec<_> = s.conferences.iter().collect();
    conferences.sort_unstable_by_key(|(k, _)| **k);
    o.u32(conferences.len() as u32);
    for (k, n) in conferences {
        o.u64(*k);
        o.u16(*n);
    }
    let mut countries: Vec<_> = s.countries.iter().collect();
    countries.sort_unstable_by_key(|(c, _)| c.as_str());
    o.u32(countries.len() as u32);
    countries
        .into_iter()
        .for_each(|(c, s)| write_country(&mut o, *c, s));
    write_scalars(s, &mut o);
    o.0
}

fn write_scalars(s: &GuardState, o: &mut Out) {
    o.opt_i64(s.first_dialout_s);
    o.u32(s.dialouts);
    o.u8(u8::from(s.suspended));
    o.i64(s.organizers_suspended.0);
    o.u8(s.organizers_suspended.1);
    o.opt_i64(s.alert_until_s);
    o.i64(s.recharges.0);
    o.u8(s.recharges.1);
}

/// The counters `to_bytes` wrote, or `None` for bytes it did not write.
pub fn from_bytes(bytes: &[u8]) -> Option<GuardState> {
    let mut i = In(bytes);
    let version = i.u8()?;
    if version != VERSION && version != DENSE {
        return None;
    }
    let mut s = GuardState {
        hour: i.ring(version)?,
        day: i.ring(version)?,
        night: i.ring(version)?,
        night_live_e4: i.i64()?,
        ..GuardState::default()
    };
    let hours = i.u32()?;
    let usual = i.usual(version)?;
    s.baseline = Baseline::from_parts(hours, usual);
    s.attempts = i.minute()?;
    s.live_e4 = i.i64()?;
    for _ in 0..i.count()? {
        let (id, live) = read_live(&mut i)?;
        s.live.insert(id, live);
    }
    for _ in 0..i.count()? {
        let (key, o) = read_organizer(&mut i)?;
        s.organizers.insert(key, o);
    }
    for _ in 0..i.count()? {
        let key = i.u64()?;
        s.conferences.insert(key, i.u16()?);
    }
    for _ in 0..i.count()? {
        let (c, state) = read_country(&mut i)?;
        s.countries.insert(c, state);
    }
    s.first_dialout_s = i.opt_i64()?;
    s.dialouts = i.u32()?;
    s.suspended = i.flag()?;
    s.organizers_suspended = (i.i64()?, i.u8()?);
    s.alert_until_s = i.opt_i64()?;
    s.recharges = (i.i64()?, i.u8()?);
    i.0.is_empty().then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::Timestamp;
    use jiff::tz::TimeZone;
    use minutely_core::guard::{DialOut, Guard, GuardMode, TenantGuard};
    use std::sync::Arc;

    #[test]
    fn the_counters_read_back_exactly_and_anything_else_is_refused() {
        let settings = TenantGuard {
            mode: Some(GuardMode::Enforce),
            ..TenantGuard::default()
        };
        let mut g = Guard::new(Arc::default(), settings);
        let base: Timestamp = "2026-03-02T10:00:00Z".parse().unwrap();
        let price = ListPrice {
            per_minute: "0.30".parse().unwrap(),
            fee: "0.10".parse().unwrap(),
            first_s: 60,
            increment_s: 60,
        };
        for i in 0..300i64 {
            let (id, organizer) = (format!("c{i}"), format!("u{}@contoso.com", i % 7));
            let conference = format!("m{}", i % 5);
            let country = Country::parse(["DE", "GB", "FR"][i as usize % 3]).unwrap();
            let at = base
                .checked_add(jiff::SignedDuration::from_secs(i * 61))
                .unwrap();
            let call = DialOut {
                call_id: &id,
                organizer: &organizer,
                conference: &conference,
                digits: "4915112345678",
                country,
                domestic: country.as_str() == "FR",
                premium: false,
                price,
                at,
                seats: 10,
            };
            let v = g.authorize(&call, 300, &TimeZone::UTC);
            if v.refuse.is_none() {
                g.granted(&call, 300, v.cap_s, &TimeZone::UTC);
            }
            if i % 4 != 0 {
                let end = at.checked_add(jiff::SignedDuration::from_secs(30)).unwrap();
                g.ended(
                    &id,
                    &organizer,
                    "4915112345678",
                    5 + i as u64 % 40,
                    end,
                    &TimeZone::UTC,
                );
            }
        }
        g.state.suspended = true;
        let bytes = to_bytes(&g.state);
        let back = from_bytes(&bytes).expect("read back");
        assert_eq!(back, g.state);
        assert!(
            !back.live.is_empty() && !back.countries.is_empty(),
            "a full image"
        );
        assert_eq!(to_bytes(&back), bytes, "the same counters, the same bytes");
        for cut in [0, 1, bytes.len() / 2, bytes.len() - 1] {
            assert_eq!(from_bytes(&bytes[..cut]), None, "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(from_bytes(&longer), None);
        let dense = image(&g.state, DENSE);
        assert!(
            dense.len() > bytes.len() + 500,
            "{} {}",
            dense.len(),
            bytes.len()
        );
        assert_eq!(
            from_bytes(&dense),
            Some(g.state.clone()),
            "version 1 is still read"
        );
        let mut other = bytes;
        other[0] = 3;
        assert_eq!(from_bytes(&other), None, "another version");
        let mut stray = image(&GuardState::default(), VERSION);
        // The hour ring's bits (after the version and its newest bucket): one past its 12 slots.
        stray[9 + 1] |= 0x10;
        assert_eq!(from_bytes(&stray), None, "a bit past the ring's slots");
    }
}
