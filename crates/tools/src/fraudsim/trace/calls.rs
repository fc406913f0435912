//! The calls of the trace: ordinary days, legitimate surprises, and the five attacks.

use super::{ABROAD, Attack, Planned, Shape, Trace, number, number_in};
use anyhow::{Result, anyhow};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use minutely_cli::generate::Rng;
use minutely_core::catalogue::RateKind;
use minutely_core::numbers::Country;

/// Countries a tenant may call for the first time, legitimately.
const NEW_COUNTRIES: [&str; 5] = ["CA", "AU", "BR", "MX", "IN"];

/// The instant of `hour`:`minute` local time on day `day` of the trace.
fn local(start_s: i64, tz: &TimeZone, day: i64, hour: i8, minute: i8) -> i64 {
    let date = TimeZone::UTC
        .to_datetime(Timestamp::from_second(start_s + day * 86_400).expect("a trace day"))
        .date();
    tz.to_ambiguous_timestamp(date.at(hour, minute, 0, 0))
        .compatible()
        .map_or(start_s + day * 86_400, |t| t.as_second())
}

impl Trace {
    fn plan(
        &mut self,
        tenant: usize,
        organizer: usize,
        conference: String,
        destination: String,
    ) -> Planned {
        Planned {
            tenant,
            organizer: format!("u{organizer}@t{tenant}.example"),
            conference,
            destination,
            start_s: 0,
            duration_s: 0,
            attack: None,
        }
    }

    /// Ordinary days, with an all-hands meeting and a new country for some tenants.
    pub(super) fn legit(&mut self, rng: &mut Rng, t: usize, shape: &Shape, start_s: i64) {
        let days = i64::from(self.days);
        for day in 0..days {
            let weekend = day % 7 >= 5;
            let mut count = shape.per_day;
            if shape.growth {
                count += count * day.unsigned_abs() / (2 * days.unsigned_abs());
            }
            if weekend {
                count /= 20;
            }
            let count = count / 2 + rng.below(count + 1);
            for _ in 0..count {
                self.ordinary(rng, t, shape, start_s, day);
            }
        }
        if shape.organizers >= 12 && rng.below(2) == 0 {
            let day = 7 + rng.below(days.unsigned_abs() - 14) as i64;
            self.all_hands(
                rng,
                t,
                shape,
                local(start_s, &shape.tz, day - day % 7 + 1, 10, 0),
            );
        }
        if rng.below(5) == 0 {
            let c = Country::parse(NEW_COUNTRIES[rng.below(5) as usize]).expect("a country");
            let day = 14 + rng.below(days.unsigned_abs() - 21) as i64;
            let day = day - day % 7 + 2;
            for k in 0..2 {
                let mut p = self.plan(t, 1, format!("new{t}"), number(rng, c, false));
                p.start_s = local(start_s, &shape.tz, day + 2 * k, 15, 0);
                p.duration_s = 600 + rng.below(1800);
                self.calls.push(p);
            }
        }
    }

    /// One ordinary dial-out in business hours (a few are short: a wrong number, voicemail).
    fn ordinary(&mut self, rng: &mut Rng, t: usize, shape: &Shape, start_s: i64, day: i64) {
        let abroad = rng.below(10) < 3;
        let country = if abroad {
            shape.usual[rng.below(shape.usual.len() as u64) as usize]
        } else {
            shape.home
        };
        let organizer = rng.below(shape.organizers as u64) as usize;
        let mobile = rng.below(10) < 3;
        let destination = number(rng, country, mobile);
        let mut p = self.plan(t, organizer, format!("m{t}-{day}-{organizer}"), destination);
        let minute = rng.below(600) as i64;
        p.start_s = local(start_s, &shape.tz, day, 8, 0) + minute * 60 + rng.below(60) as i64;
        p.duration_s = if rng.below(20) == 0 {
            5 + rng.below(14)
        } else {
            120 + rng.below(2700)
        };
        self.calls.push(p);
    }

    /// 40 dial-outs of one conference in 5 minutes, 45 minutes each.
    fn all_hands(&mut self, rng: &mut Rng, t: usize, shape: &Shape, at_s: i64) {
        for k in 0..40 {
            let country = if k % 5 == 0 {
                shape.usual[0]
            } else {
                shape.home
            };
            let mut p = self.plan(
                t,
                2,
                format!("allhands{t}"),
                number(rng, country, k % 3 == 0),
            );
            p.start_s = at_s + (k * 300 / 40) as i64;
            p.duration_s = 2700;
            self.calls.push(p);
        }
    }

    fn attack(&mut self, name: &'static str, tenant: usize, start_s: i64) -> usize {
        self.attacks.push(Attack {
            name,
            tenant,
            start_s,
        });
        self.attacks.len() - 1
    }

    /// `n` calls of attack `a` to numbers `to` (each new one a fresh number), starting at
    /// `at_s`, `every_s` apart, `duration_s` each, by `organizers` in turn.
    #[allow(clippy::too_many_arguments)]
    fn burst(
        &mut self,
        a: usize,
        organizers: usize,
        n: u64,
        at_s: i64,
        every_s: i64,
        duration_s: u64,
        to: &mut dyn FnMut() -> String,
    ) {
        let tenant = self.attacks[a].tenant;
        for k in 0..n {
            let mut p = self.plan(
                tenant,
                (k as usize) % organizers,
                format!("attack{a}-{}", k as usize % organizers),
                to(),
            );
            p.start_s = at_s + k as i64 * every_s;
            p.duration_s = duration_s;
            p.attack = Some(a);
            self.calls.push(p);
        }
    }

    /// The five attacks, in the last week (Monday `base`), on five different tenants.
    pub(super) fn inject(&mut self, rng: &mut Rng, shapes: &[Shape], start_s: i64) -> Result<()> {
        let base = i64::from(self.days) / 7 * 7 - 7;
        let pick = |from: usize, big: bool| {
            (from..shapes.len())
                .find(|t| !big || shapes[*t].organizers >= 12)
                .ok_or_else(|| anyhow!("no tenant to attack"))
        };
        let victims = {
            let a = pick(0, true)?;
            let b = pick(a + 1, false)?;
            let c = (b + 1..shapes.len())
                .find(|t| shapes[*t].organizers >= 50)
                .ok_or_else(|| anyhow!("no large tenant"))?;
            let d = pick(c + 1, false)?;
            let e = pick(d + 1, true)?;
            [a, b, c, d, e]
        };
        self.test_calls_then_pump(rng, &shapes[victims[0]], victims[0], start_s, base)?;
        let waves = [
            (
                "slow trickle to a Zone A country, 48 h",
                (3, 20),
                (1, 52),
                (3300, 3240),
                true,
            ),
            (
                "15 organizers at once, Sunday afternoon",
                (6, 14),
                (15, 60),
                (10, 7200),
                true,
            ),
            (
                "a never-called country, 10 at once",
                (2, 3),
                (1, 40),
                (1, 10_800),
                false,
            ),
            (
                "20 at once in business hours",
                (1, 11),
                (1, 20),
                (5, 14_400),
                true,
            ),
        ];
        for (k, (name, (day, hour), (organizers, n), (every_s, duration_s), mobile)) in
            waves.into_iter().enumerate()
        {
            let (t, s) = (victims[k + 1], &shapes[victims[k + 1]]);
            let to = if mobile {
                s.usual[0]
            } else {
                never_called(self, s)?
            };
            let a = self.attack(name, t, local(start_s, &s.tz, base + day, hour, 0));
            let at = self.attacks[a].start_s;
            self.burst(a, organizers, n, at, every_s, duration_s, &mut || {
                number(rng, to, mobile)
            });
        }
        Ok(())
    }

    /// Three short test calls late on Friday, then 50 premium calls at once from Saturday
    /// 02:00, each an hour, dialled again for ten hours.
    fn test_calls_then_pump(
        &mut self,
        rng: &mut Rng,
        s: &Shape,
        t: usize,
        start_s: i64,
        base: i64,
    ) -> Result<()> {
        let (country, prefix, first) = premium_target(self, rng, s)?;
        self.premium_tenants.push(t);
        let a = self.attack(
            "test calls, then 50 premium calls at once on a weekend night",
            t,
            local(start_s, &s.tz, base + 4, 23, 0),
        );
        let at = self.attacks[a].start_s;
        self.burst(a, 1, 3, at, 600, 9, &mut || number(rng, country, false));
        let pump = local(start_s, &s.tz, base + 5, 2, 0);
        for round in 0..10 {
            let mut to = || number_in(rng, &prefix, country).unwrap_or_else(|| first.clone());
            self.burst(a, 1, 50, pump + round * 3610, 1, 3600, &mut to);
        }
        Ok(())
    }
}

/// A non-Zone-A country with a premium range in the card that the operator's list misses and a
/// valid number in it, not one the tenant calls.
fn premium_target(trace: &Trace, rng: &mut Rng, s: &Shape) -> Result<(Country, String, String)> {
    for e in trace
        .card
        .entries()
        .filter(|e| e.premium && e.kind == RateKind::DialOut)
    {
        if e.country == s.home
            || s.usual.contains(&e.country)
            || trace.countries.is_zone_a(e.country)
        {
            continue;
        }
        let prefix = minutely_core::catalogue::key_text(e);
        let digits = prefix.trim_start_matches('+');
        let listed = trace.list.lookup(digits, Timestamp::UNIX_EPOCH).is_some();
        if listed {
            continue;
        }
        if let Some(n) = number_in(rng, &prefix, e.country) {
            return Ok((e.country, prefix, n));
        }
    }
    Err(anyhow!(
        "no premium range with a valid number in the sample card"
    ))
}

/// A country outside Zone A no tenant calls in ordinary traffic.
fn never_called(trace: &Trace, s: &Shape) -> Result<Country> {
    trace
        .countries
        .rows()
        .map(|r| r.country)
        .find(|c| {
            !trace.countries.is_zone_a(*c)
                && *c != s.home
                && !ABROAD.contains(&c.as_str())
                && !NEW_COUNTRIES.contains(&c.as_str())
                && trace
                    .card
                    .entries()
                    .any(|e| e.country == *c && !e.premium && e.kind == RateKind::DialOut)
                && minutely_cli::generate::random_number(&mut Rng::new(1), *c, false).is_some()
        })
        .ok_or_else(|| anyhow!("no never-called country"))
}
