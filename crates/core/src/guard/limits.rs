//! The operator's thresholds by name: what the API shows and accepts and the store writes as
//! `name=value;...`. Each has its bounds; a value outside them is refused with its name, so no
//! setting can make a rule meaningless (a limit of nothing, a percentage below 100 where the
//! usual level is the point) or exceed what the counters keep (three short calls a country).

use super::GuardLimits;
use crate::money::{MAX_AMOUNT, parse_amount};
use rust_decimal::Decimal;

/// A threshold's value: a whole number, an amount of the tenant's currency, or a switch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LimitValue {
    Whole(i64),
    Amount(Decimal),
    Switch(bool),
}

impl std::fmt::Display for LimitValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LimitValue::Whole(n) => write!(f, "{n}"),
            LimitValue::Amount(a) => write!(f, "{a}"),
            LimitValue::Switch(b) => write!(f, "{b}"),
        }
    }
}

macro_rules! limits {
    (
        whole { $($w:ident: $min:expr, $max:expr;)* }
        amount { $($a:ident;)* }
        switch { $($s:ident;)* }
    ) => {
        impl GuardLimits {
            /// Every threshold's name, in the order they are shown.
            pub const NAMES: &'static [&'static str] =
                &[$(stringify!($w),)* $(stringify!($a),)* $(stringify!($s),)*];

            /// The threshold called `name`, or `None` for no such name.
            pub fn get(&self, name: &str) -> Option<LimitValue> {
                match name {
                    $(stringify!($w) => Some(LimitValue::Whole(
                        i64::try_from(self.$w).unwrap_or(i64::MAX),
                    )),)*
                    $(stringify!($a) => Some(LimitValue::Amount(self.$a)),)*
                    $(stringify!($s) => Some(LimitValue::Switch(self.$s)),)*
                    _ => None,
                }
            }

            /// Sets the threshold `name` from its text (a whole number, an amount, `true` or
            /// `false`); the error names the threshold, the value and what it may be.
            pub fn set(&mut self, name: &str, text: &str) -> Result<(), String> {
                match name {
                    $(stringify!($w) => {
                        self.$w = whole(name, text, $min, $max)?;
                    })*
                    $(stringify!($a) => self.$a = amount(name, text)?,)*
                    $(stringify!($s) => {
                        self.$s = match text {
                            "true" => true,
                            "false" => false,
                            _ => return Err(format!("{name}: {:?} is not true or false", shown(text))),
                        };
                    })*
                    _ => return Err(format!(
                        "{:?} is not a threshold of the guard (one of {})",
                        shown(name),
                        Self::NAMES.join(", ")
                    )),
                }
                Ok(())
            }
        }
    };
}

limits! {
    whole {
        organizer_live: 1, 10_000;
        conference_live: 1, 10_000;
        tenant_live: 1, 65_535;
        organizer_per_minute: 1, 10_000_000;
        tenant_per_minute: 1, 10_000_000;
        warn_percent: 0, 100_000;
        act_percent: 100, 100_000;
        critical_percent: 100, 100_000;
        off_hours_percent: 1, 100;
        night_percent: 0, 100;
        learning_days: 0, 365;
        learning_dialouts: 0, 1_000_000;
        known_country_days: 1, 3_650;
        new_country_calls: 0, 100;
        new_country_cap_s: 60, 86_400;
        test_call_s: 1, 600;
        test_calls: 2, 3;
        test_window_s: 60, 86_400;
        test_block_s: 60, 2_592_000;
        high_risk_cap_s: 60, 86_400;
        recharges_while_alerted: 0, 100;
        alert_open_s: 60, 2_592_000;
        strikes: 1, 1_000;
        strike_window_s: 60, 2_592_000;
        organizers_to_suspend_tenant: 1, 100;
    }
    amount {
        floor_hour;
        floor_day;
        seat_hour;
        seat_day;
    }
    switch {
        new_country_rule;
    }
}

/// At most 64 characters of a client's text, for an error message.
fn shown(text: &str) -> String {
    text.chars().take(64).collect()
}

fn whole<T: TryFrom<i64>>(name: &str, text: &str, min: i64, max: i64) -> Result<T, String> {
    let n: i64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{name}: {:?} is not a whole number", shown(text)))?;
    if !(min..=max).contains(&n) {
        return Err(format!("{name}: {n} is not between {min} and {max}"));
    }
    T::try_from(n).map_err(|_| format!("{name}: {n} is out of range"))
}

fn amount(name: &str, text: &str) -> Result<Decimal, String> {
    let a = parse_amount(text.trim())
        .map_err(|_| format!("{name}: {:?} is not an amount", shown(text)))?;
    if a.is_sign_negative() || a > MAX_AMOUNT {
        return Err(format!("{name}: {a} is not between 0 and {MAX_AMOUNT}"));
    }
    Ok(a)
}

impl GuardLimits {
    /// Every threshold that differs from the default, as `(name, value)`.
    pub fn changed(&self) -> Vec<(&'static str, LimitValue)> {
        let default = GuardLimits::default();
        Self::NAMES
            .iter()
            .filter_map(|&name| {
                let value = self.get(name)?;
                (default.get(name) != Some(value.clone())).then_some((name, value))
            })
            .collect()
    }

    /// The thresholds from `(name, text)` pairs over the defaults, checked one by one and
    /// then together: the act threshold is at least the warning one.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<GuardLimits, String> {
        let mut limits = GuardLimits::default();
        for (name, text) in pairs {
            limits.set(name, text)?;
        }
        for (floor, seat, names) in [
            (
                limits.floor_hour,
                limits.seat_hour,
                "floor_hour and seat_hour",
            ),
            (limits.floor_day, limits.seat_day, "floor_day and seat_day"),
        ] {
            // Both nothing: every priced dial-out would be a critical breach.
            if floor.is_zero() && seat.is_zero() {
                return Err(format!("{names}: both 0; one of them must be more"));
            }
        }
        if limits.warn_percent > limits.act_percent {
            return Err(format!(
                "warn_percent: {} is above act_percent {}",
                limits.warn_percent, limits.act_percent
            ));
        }
        Ok(limits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_threshold_reads_back_as_set_and_the_defaults_change_nothing() {
        let default = GuardLimits::default();
        assert!(default.changed().is_empty());
        for &name in GuardLimits::NAMES {
            let value = default.get(name).expect("a known name");
            let mut copy = default.clone();
            copy.set(name, &value.to_string()).expect("its own value");
            assert_eq!(copy, default, "{name}");
        }
        let set = GuardLimits::from_pairs([("tenant_live", "7"), ("floor_day", "12.50")]).unwrap();
        assert_eq!(set.tenant_live, 7);
        assert_eq!(set.floor_day, Decimal::new(1250, 2));
        let changed: Vec<&str> = set.changed().iter().map(|(n, _)| *n).collect();
        assert_eq!(changed, ["tenant_live", "floor_day"]);
    }

    #[test]
    fn a_bad_threshold_is_named() {
        let bad = [
            (
                ("tenant_live", "0"),
                "tenant_live: 0 is not between 1 and 65535",
            ),
            (("test_calls", "4"), "test_calls: 4 is not between 2 and 3"),
            (("strikes", "x"), "strikes: \"x\" is not a whole number"),
            (
                ("new_country_rule", "yes"),
                "new_country_rule: \"yes\" is not true or false",
            ),
            (("floor_hour", "-1"), "floor_hour: -1 is not between 0"),
            (
                ("floor_hour", "ten"),
                "floor_hour: \"ten\" is not an amount",
            ),
            (("loudness", "3"), "\"loudness\" is not a threshold"),
            (
                ("warn_percent", "900"),
                "warn_percent: 900 is above act_percent 400",
            ),
        ];
        for ((name, text), expected) in bad {
            let e = GuardLimits::from_pairs([(name, text)]).expect_err(name);
            assert!(e.starts_with(expected), "{e}");
        }
        let nothing = [("floor_day", "0"), ("seat_day", "0")];
        let e = GuardLimits::from_pairs(nothing).expect_err("no day threshold");
        assert_eq!(
            e,
            "floor_day and seat_day: both 0; one of them must be more"
        );
        let long = "x".repeat(10_000);
        let e = GuardLimits::from_pairs([(long.as_str(), "1")]).expect_err("unknown");
        assert!(e.len() < 1000, "{} characters", e.len());
    }
}
