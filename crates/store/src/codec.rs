//! How core values are written as SQL values and read back. Every read goes through `Cells`,
//! so a value that does not read back is reported as `Corrupt` with its table, column and text.

use crate::{Result, StoreError};
use jiff::Timestamp;
use jiff::fmt::temporal::DateTimePrinter;
use minutely_core::catalogue::{Availability, Conferencing};
use minutely_core::engine::Month;
use minutely_core::ledger::{Account, Event, LotId};
use minutely_core::rating::Category;
use rust_decimal::Decimal;
use std::fmt::Debug;

/// Instants are RFC 3339 UTC text with exactly nine fractional digits: fixed width for every
/// year from 0000 to 9999, so SQL text order is time order (range queries on call starts), and
/// unlike i64 nanoseconds it covers `Timestamp::MIN` (the clock of a wallet never advanced).
const PRINTER: DateTimePrinter = DateTimePrinter::new().precision(Some(9));

pub(crate) fn ts(at: Timestamp) -> String {
    PRINTER.timestamp_to_string(&at)
}

pub(crate) fn opt_ts(at: Option<Timestamp>) -> Option<String> {
    at.map(ts)
}

/// Money and rates: `Decimal`'s own exact text (its scale is kept), never a REAL.
pub(crate) fn dec(amount: Decimal) -> String {
    amount.to_string()
}

pub(crate) fn opt_dec(amount: Option<Decimal>) -> Option<String> {
    amount.map(dec)
}

/// Fingerprints are 16 big-endian bytes.
pub(crate) fn fingerprint(value: u128) -> [u8; 16] {
    value.to_be_bytes()
}

pub(crate) fn corrupt(table: &str, column: &str, value: impl Debug) -> StoreError {
    StoreError::Corrupt(format!(
        "{table}.{column} holds {value:?}, which does not read back"
    ))
}

fn null(table: &str, column: &str) -> StoreError {
    StoreError::Corrupt(format!(
        "{table}.{column} is NULL where a value is required"
    ))
}

/// The cells of one row of `table`, read by column name.
pub(crate) struct Cells<'r, 's> {
    pub row: &'r crate::db::Row<'s>,
    pub table: &'static str,
}

impl Cells<'_, '_> {
    pub fn text(&self, column: &str) -> Result<String> {
        self.opt_text(column)?
            .ok_or_else(|| null(self.table, column))
    }

    pub fn opt_text(&self, column: &str) -> Result<Option<String>> {
        Ok(self.row.get(column)?)
    }

    /// Reads a text cell through `read`; `None` from `read` is corruption.
    pub fn parse<T>(&self, column: &str, read: impl FnOnce(&str) -> Option<T>) -> Result<T> {
        let text = self.text(column)?;
        read(&text).ok_or_else(|| corrupt(self.table, column, &text))
    }

    pub fn opt_parse<T>(
        &self,
        column: &str,
        read: impl FnOnce(&str) -> Option<T>,
    ) -> Result<Option<T>> {
        match self.opt_text(column)? {
            None => Ok(None),
            Some(text) => read(&text)
                .map(Some)
                .ok_or_else(|| corrupt(self.table, column, &text)),
        }
    }

    pub fn ts(&self, column: &str) -> Result<Timestamp> {
        self.parse(column, |t| t.parse().ok())
    }

    pub fn opt_ts(&self, column: &str) -> Result<Option<Timestamp>> {
        self.opt_parse(column, |t| t.parse().ok())
    }

    pub fn dec(&self, column: &str) -> Result<Decimal> {
        self.parse(column, |t| t.parse().ok())
    }

    pub fn opt_dec(&self, column: &str) -> Result<Option<Decimal>> {
        self.opt_parse(column, |t| t.parse().ok())
    }

    pub fn u64(&self, column: &str) -> Result<u64> {
        self.opt_u64(column)?
            .ok_or_else(|| null(self.table, column))
    }

    pub fn opt_u64(&self, column: &str) -> Result<Option<u64>> {
        let value: Option<i64> = self.row.get(column)?;
        value
            .map(|v| u64::try_from(v).map_err(|_| corrupt(self.table, column, v)))
            .transpose()
    }

    pub fn u32(&self, column: &str) -> Result<u32> {
        let value = self.u64(column)?;
        u32::try_from(value).map_err(|_| corrupt(self.table, column, value))
    }

    pub fn flag(&self, column: &str) -> Result<bool> {
        self.opt_flag(column)?
            .ok_or_else(|| null(self.table, column))
    }

    pub fn opt_flag(&self, column: &str) -> Result<Option<bool>> {
        match self.row.get::<_, Option<i64>>(column)? {
            None => Ok(None),
            Some(0) => Ok(Some(false)),
            Some(1) => Ok(Some(true)),
            Some(other) => Err(corrupt(self.table, column, other)),
        }
    }

    /// A 32-byte BLOB (key digests).
    pub fn blob32(&self, column: &str) -> Result<[u8; 32]> {
        let bytes: Vec<u8> = self.row.get(column)?;
        bytes
            .as_slice()
            .try_into()
            .map_err(|_| corrupt(self.table, column, format!("{} bytes", bytes.len())))
    }

    pub fn fingerprint(&self, column: &str) -> Result<u128> {
        let bytes: Vec<u8> = self.row.get(column)?;
        let array: [u8; 16] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| corrupt(self.table, column, format!("{} bytes", bytes.len())))?;
        Ok(u128::from_be_bytes(array))
    }
}

/// The country table's words, as in `countries.csv` (the core has no text form for these).
pub(crate) fn conferencing_text(value: Conferencing) -> &'static str {
    match value {
        Conferencing::Yes => "yes",
        Conferencing::PpmOnly => "ppm_only",
        Conferencing::No => "no",
    }
}

pub(crate) fn parse_conferencing(text: &str) -> Option<Conferencing> {
    [Conferencing::Yes, Conferencing::PpmOnly, Conferencing::No]
        .into_iter()
        .find(|c| conferencing_text(*c) == text)
}

pub(crate) fn availability_text(value: Availability) -> &'static str {
    match value {
        Availability::Yes => "yes",
        Availability::OnRequest => "on_request",
        Availability::No => "no",
    }
}

pub(crate) fn parse_availability(text: &str) -> Option<Availability> {
    [Availability::Yes, Availability::OnRequest, Availability::No]
        .into_iter()
        .find(|a| availability_text(*a) == text)
}

pub(crate) fn parse_category(text: &str) -> Option<Category> {
    [
        Category::DialInToll,
        Category::DialInTollFree,
        Category::DialOut,
    ]
    .into_iter()
    .find(|c| c.as_str() == text)
}

/// `Charge::rule` is a `&'static str`: map the stored id back to one of the rules the engine
/// writes, so an unknown id is corruption rather than a leaked string.
pub(crate) fn rule_id(text: &str) -> Option<&'static str> {
    ["C18", "C19", "C32", "C33"]
        .into_iter()
        .find(|r| *r == text)
}

pub(crate) fn account_text(account: Account) -> String {
    match account {
        Account::Payments => "payments".into(),
        Account::Lot(id) => format!("lot:{id}"),
        Account::Debt => "debt".into(),
        Account::Usage => "usage".into(),
        Account::Forfeits => "forfeits".into(),
    }
}

pub(crate) fn parse_account(text: &str) -> Option<Account> {
    match text {
        "payments" => Some(Account::Payments),
        "debt" => Some(Account::Debt),
        "usage" => Some(Account::Usage),
        "forfeits" => Some(Account::Forfeits),
        _ => text.strip_prefix("lot:")?.parse().ok().map(Account::Lot),
    }
}

/// The lots a debit drained, as `id:amount;id:amount` (empty for none).
pub(crate) fn lots_text(lots: &[(LotId, Decimal)]) -> String {
    lots.iter()
        .map(|(id, amount)| format!("{id}:{amount}"))
        .collect::<Vec<_>>()
        .join(";")
}

pub(crate) fn parse_lots(text: &str) -> Option<Vec<(LotId, Decimal)>> {
    text.split(';')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (id, amount) = part.split_once(':')?;
            Some((id.parse().ok()?, amount.parse().ok()?))
        })
        .collect()
}

pub(crate) fn month_text(month: Month) -> String {
    month.to_string()
}

/// A stored month, read with the core's one parser (so with its bounds, 0001-01 to 9999-12:
/// every month the engine keeps).
pub(crate) fn parse_month(text: &str) -> Option<Month> {
    Month::parse(text).ok()
}

/// An event's fields besides its kind and instant, as `key=value;...` for the outbox.
pub(crate) fn event_payload(event: &Event) -> String {
    match event {
        Event::RechargeSucceeded { amount, lot, .. } => format!("amount={amount};lot={lot}"),
        Event::RechargeFailed {
            amount,
            retry_after,
            ..
        } => {
            format!("amount={amount};retry_after={}", ts(*retry_after))
        }
        Event::BalanceDepleted { balance, .. } => format!("balance={balance}"),
        Event::LowBalance {
            threshold, balance, ..
        } => format!("threshold={threshold};balance={balance}"),
        Event::LotExpiringSoon {
            lot,
            expires_at,
            remaining,
            ..
        } => {
            format!(
                "lot={lot};expires_at={};remaining={remaining}",
                ts(*expires_at)
            )
        }
        Event::PoolThreshold {
            month,
            percent,
            used_minutes,
            size_minutes,
            ..
        } => {
            format!(
                "month={month};percent={percent};used_minutes={used_minutes};size_minutes={size_minutes}"
            )
        }
        Event::CallLastWindow {
            call_id,
            max_duration_s,
            remaining_s,
            ends_at,
            ..
        } => {
            // A call id holds no `;` (`ident::call_id`); it may hold `=`, which is exact after
            // the first `=` of its part.
            format!(
                "call_id={call_id};max_duration_s={max_duration_s};remaining_s={remaining_s};ends_at={}",
                ts(*ends_at)
            )
        }
        // A UPN holds no `;` (`ident::upn`).
        Event::FraudAlert {
            reason,
            enforced,
            organizer,
            country,
            hour,
            day,
            ..
        } => format!(
            "reason={reason};enforced={enforced};organizer={organizer};country={};hour_exposure={hour};day_exposure={day}",
            country.as_str()
        ),
        Event::FraudNewCountry {
            country, organizer, ..
        } => format!("country={};organizer={organizer}", country.as_str()),
        Event::FraudSuspended {
            organizer, reason, ..
        } => match organizer {
            Some(upn) => format!("scope=organizer;organizer={upn};reason={reason}"),
            None => format!("scope=tenant;reason={reason}"),
        },
        Event::FraudLifted { organizer, by, .. } => match organizer {
            Some(upn) => format!("scope=organizer;organizer={upn};by={by}"),
            None => format!("scope=tenant;by={by}"),
        },
    }
}

/// The fields of a stored payload, in written order. Exact for every payload `event_payload`
/// writes: keys are identifiers, and no value holds a `;` or a `=` (decimals, integers, lot ids,
/// `YYYY-MM` months and instants in the fixed-width RFC 3339 form above, whose `-`, `:`, `.`,
/// `T` and `Z` are no separators). `None` for a part without `=` or with an empty key.
pub(crate) fn parse_payload(text: &str) -> Option<Vec<(String, String)>> {
    if text.is_empty() {
        return Some(Vec::new());
    }
    text.split(';')
        .map(|part| {
            let (key, value) = part.split_once('=')?;
            (!key.is_empty()).then(|| (key.to_string(), value.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn instants_round_trip_and_sort_as_text(a in 0i64..253_402_300_799, b in 0i64..253_402_300_799, na in 0i32..1_000_000_000, nb in 0i32..1_000_000_000) {
            let x = Timestamp::new(a, na).unwrap();
            let y = Timestamp::new(b, nb).unwrap();
            prop_assert_eq!(ts(x).parse::<Timestamp>().unwrap(), x);
            prop_assert_eq!(ts(x).cmp(&ts(y)), x.cmp(&y));
        }
    }

    #[test]
    fn the_extremes_of_jiff_round_trip() {
        for at in [Timestamp::MIN, Timestamp::MAX, Timestamp::UNIX_EPOCH] {
            assert_eq!(ts(at).parse::<Timestamp>().unwrap(), at);
        }
    }

    #[test]
    fn accounts_lots_and_months_round_trip() {
        for account in [
            Account::Payments,
            Account::Lot(42),
            Account::Debt,
            Account::Usage,
            Account::Forfeits,
        ] {
            assert_eq!(parse_account(&account_text(account)), Some(account));
        }
        assert_eq!(parse_account("lot:x"), None);
        let lots = vec![(1, "12.50".parse().unwrap()), (3, "0.001".parse().unwrap())];
        assert_eq!(parse_lots(&lots_text(&lots)), Some(lots));
        assert_eq!(parse_lots(""), Some(vec![]));
        assert_eq!(parse_lots("1:x"), None);
        for month in [Month::MIN, Month::new(2026, 2).unwrap(), Month::MAX] {
            assert_eq!(parse_month(&month_text(month)), Some(month));
        }
        for bad in [
            "2026-13", "2026-00", "2026", "2026--1", "x-01", "0000-01", "-001-12",
        ] {
            assert_eq!(parse_month(bad), None, "{bad}");
        }
    }

    /// One event of every kind the engine raises, with extreme values where they could matter
    /// (negative and high-scale decimals, the widest instants, the largest ids).
    fn every_event() -> Vec<(Event, Vec<(&'static str, String)>)> {
        let at = Timestamp::UNIX_EPOCH;
        let late = Timestamp::MAX;
        let amount: Decimal = "-1234.5678".parse().unwrap();
        let small: Decimal = "0.0000000001".parse().unwrap();
        vec![
            (
                Event::RechargeSucceeded {
                    at,
                    amount,
                    lot: u64::MAX,
                },
                vec![
                    ("amount", "-1234.5678".into()),
                    ("lot", u64::MAX.to_string()),
                ],
            ),
            (
                Event::RechargeFailed {
                    at,
                    amount: small,
                    retry_after: late,
                },
                vec![
                    ("amount", "0.0000000001".into()),
                    ("retry_after", ts(Timestamp::MAX)),
                ],
            ),
            (
                Event::BalanceDepleted {
                    at,
                    balance: amount,
                },
                vec![("balance", "-1234.5678".into())],
            ),
            (
                Event::LowBalance {
                    at,
                    threshold: "20".parse().unwrap(),
                    balance: "19.99".parse().unwrap(),
                },
                vec![("threshold", "20".into()), ("balance", "19.99".into())],
            ),
            (
                Event::LotExpiringSoon {
                    at,
                    lot: 7,
                    expires_at: Timestamp::MIN,
                    remaining: small,
                },
                vec![
                    ("lot", "7".into()),
                    ("expires_at", ts(Timestamp::MIN)),
                    ("remaining", "0.0000000001".into()),
                ],
            ),
            (
                Event::PoolThreshold {
                    at,
                    month: Month::new(2026, 2).unwrap().to_string(),
                    percent: 100,
                    used_minutes: u32::MAX,
                    size_minutes: u32::MAX,
                },
                vec![
                    ("month", "2026-02".into()),
                    ("percent", "100".into()),
                    ("used_minutes", u32::MAX.to_string()),
                    ("size_minutes", u32::MAX.to_string()),
                ],
            ),
            (
                Event::CallLastWindow {
                    at,
                    call_id: "a84b4c76e66710@pc33.atlanta.example".into(),
                    max_duration_s: u64::MAX,
                    remaining_s: 0,
                    ends_at: late,
                },
                vec![
                    ("call_id", "a84b4c76e66710@pc33.atlanta.example".into()),
                    ("max_duration_s", u64::MAX.to_string()),
                    ("remaining_s", "0".into()),
                    ("ends_at", ts(Timestamp::MAX)),
                ],
            ),
            (
                Event::FraudAlert {
                    at,
                    reason: minutely_core::Reason::FraudSpendLimit,
                    enforced: true,
                    organizer: "ada@contoso.com".into(),
                    country: minutely_core::numbers::Country::parse("LV").unwrap(),
                    hour: "31.5".parse().unwrap(),
                    day: "120".parse().unwrap(),
                },
                vec![
                    ("reason", "fraud_spend_limit".into()),
                    ("enforced", "true".into()),
                    ("organizer", "ada@contoso.com".into()),
                    ("country", "LV".into()),
                    ("hour_exposure", "31.5".into()),
                    ("day_exposure", "120".into()),
                ],
            ),
            (
                Event::FraudNewCountry {
                    at,
                    country: minutely_core::numbers::Country::parse("DE").unwrap(),
                    organizer: "ada@contoso.com".into(),
                },
                vec![
                    ("country", "DE".into()),
                    ("organizer", "ada@contoso.com".into()),
                ],
            ),
            (
                Event::FraudSuspended {
                    at,
                    organizer: None,
                    reason: minutely_core::Reason::FraudTestCallPattern,
                },
                vec![
                    ("scope", "tenant".into()),
                    ("reason", "fraud_test_call_pattern".into()),
                ],
            ),
            (
                Event::FraudLifted {
                    at,
                    organizer: Some("ada@contoso.com".into()),
                    by: "operator".into(),
                },
                vec![
                    ("scope", "organizer".into()),
                    ("organizer", "ada@contoso.com".into()),
                    ("by", "operator".into()),
                ],
            ),
        ]
    }

    #[test]
    fn every_event_payload_parses_back_into_its_fields() {
        for (event, expected) in every_event() {
            let payload = event_payload(&event);
            let fields = parse_payload(&payload).expect(&payload);
            let expected: Vec<(String, String)> = expected
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
            assert_eq!(fields, expected, "{}", event.kind());
            for (_, value) in &fields {
                assert!(!value.contains([';', '=']), "{value}");
            }
        }
        let kinds: std::collections::BTreeSet<_> =
            every_event().iter().map(|(e, _)| e.kind()).collect();
        assert_eq!(kinds.len(), 11, "every kind of event: {kinds:?}");
        assert_eq!(parse_payload(""), Some(vec![]));
        assert_eq!(parse_payload("a=1;b"), None);
        assert_eq!(parse_payload("=1"), None);
        assert_eq!(
            parse_payload("a=;b=x=y"),
            Some(vec![("a".into(), "".into()), ("b".into(), "x=y".into())])
        );
    }

    #[test]
    fn money_keeps_its_exact_text() {
        let rate: Decimal = "0.0240".parse().unwrap();
        assert_eq!(dec(rate), "0.0240");
        assert_eq!(dec(rate).parse::<Decimal>().unwrap().to_string(), "0.0240");
    }
}
