//! The PSTN usage export (RFC 4180, header row, UTC ISO 8601 instants, the twenty columns of
//! product.md in order; the extended export adds five), and the refused-calls file. A run over
//! several tenants adds one last column to both, the tenant (`Tenant` in the export, `tenant`
//! in the refused-calls file, so that the latter reads back as a call-record file).

use crate::{instant, write_text};
use minutely_core::catalogue::CountryTable;
use minutely_core::digest::Digest;
use minutely_core::directory::{NumberKind, ServiceNumber, Tenant, User};
use minutely_core::engine::Charge;
use minutely_core::money::Currency;
use minutely_core::numbers::{Country, E164};
use minutely_core::rating::{CallRecord, Direction};
use minutely_core::reason::Reason;

/// The twenty columns.
pub const COLUMNS: [&str; 20] = [
    "UsageId",
    "Call ID",
    "Conference ID",
    "User Location",
    "AAD ObjectId",
    "UPN",
    "User Display Name",
    "Caller ID",
    "Call Type",
    "Number Type",
    "Domestic/International",
    "Destination Dialed",
    "Destination Number",
    "Start Time",
    "End Time",
    "Duration Seconds",
    "Connection Fee",
    "Charge",
    "Currency",
    "Capability",
];

/// The columns the extended export adds after the twenty.
pub const EXTENDED_COLUMNS: [&str; 5] = [
    "Funding",
    "Pool Minutes",
    "Credit Amount",
    "Balance After",
    "Rule",
];

/// The header line.
pub fn header(extended: bool) -> String {
    let mut columns: Vec<&str> = COLUMNS.to_vec();
    if extended {
        columns.extend(EXTENDED_COLUMNS);
    }
    format!("{}\r\n", columns.join(","))
}

/// The last column of a run over several tenants' export.
pub const TENANT_COLUMN: &str = "Tenant";

/// The header line of a run over several tenants: `header` and the `Tenant` column.
pub fn tenant_header(extended: bool) -> String {
    with_tenant_column(header(extended), TENANT_COLUMN)
}

/// The refused-calls header of a run over several tenants, ending with `tenant`.
pub fn refused_tenant_header() -> String {
    with_tenant_column(refused_header(), crate::calls::TENANT_COLUMN)
}

fn with_tenant_column(mut line: String, column: &str) -> String {
    let end = line.trim_end_matches(['\r', '\n']).len();
    line.insert_str(end, &format!(",{column}"));
    line
}

/// Adds the tenant column to the row just written at the end of `out` (an export row or a
/// refused call), before its line end. A tenant id needs no quoting (`ident::tenant_id`).
pub fn end_row_with_tenant(out: &mut Vec<u8>, tenant: &str) {
    assert!(out.ends_with(b"\n"), "a row ends with its line end");
    let line_end: &[u8] = if out.ends_with(b"\r\n") {
        b"\r\n"
    } else {
        b"\n"
    };
    out.truncate(out.len() - line_end.len());
    out.push(b',');
    write_text(out, tenant);
    out.extend_from_slice(line_end);
}

/// Writes a number as E.164 when it reads as one, else as written without separators.
fn write_number(out: &mut Vec<u8>, text: &str) {
    if is_plain_e164(text) {
        // Written as E.164 already: what `E164::parse` would give back is the text itself.
        out.extend_from_slice(text.as_bytes());
        return;
    }
    write_parsed_number(out, text);
}

/// `write_number` through `E164::parse`, for any text.
fn write_parsed_number(out: &mut Vec<u8>, text: &str) {
    match E164::parse(text) {
        Some(number) => {
            out.push(b'+');
            out.extend(number.digits().map(|d| b'0' + d));
        }
        None => {
            let stripped: String = text
                .chars()
                .filter(|c| !matches!(c, ' ' | '-' | '.'))
                .collect();
            crate::write_number_text(out, &stripped);
        }
    }
}

/// Whether `text` is `+` and 2 to 15 digits, the first not 0: an E.164 number in the form
/// `write_number` writes.
fn is_plain_e164(text: &str) -> bool {
    let Some(digits) = text.as_bytes().strip_prefix(b"+") else {
        return false;
    };
    (2..=15).contains(&digits.len()) && digits[0] != b'0' && digits.iter().all(u8::is_ascii_digit)
}

/// The digest behind a call's usage id.
fn usage_digest(tenant: &str, call_id: &str) -> u128 {
    let mut d = Digest::default();
    d.field(tenant.as_bytes());
    d.field(b"call");
    d.field(call_id.as_bytes());
    d.finish()
}

/// Writes a UUID-shaped id without allocating.
fn write_uuid(out: &mut Vec<u8>, value: u128) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut text = [b'-'; 36];
    let mut at = 0;
    for i in 0..32 {
        if matches!(i, 8 | 12 | 16 | 20) {
            at += 1;
        }
        text[at] = HEX[((value >> (124 - 4 * i)) & 0xF) as usize];
        at += 1;
    }
    out.extend_from_slice(&text);
}

/// What a call's row shows of the tenant's directory: the organizer and, for a dial-in, the
/// service number (rating has found them already; `Found::of` looks them up).
#[derive(Debug, Clone, Copy)]
pub struct Found<'a> {
    pub organizer: Option<&'a User>,
    pub service: Option<&'a ServiceNumber>,
}

impl<'a> Found<'a> {
    pub fn of(tenant: &'a Tenant, call: &CallRecord) -> Found<'a> {
        let service = match call.direction {
            Direction::DialIn => E164::parse(&call.service_number).and_then(|n| tenant.number(n)),
            Direction::DialOut => None,
        };
        Found {
            organizer: tenant.user(&call.organizer),
            service,
        }
    }
}

/// Appends the export row of one charged call (lines end with CRLF, as RFC 4180 says).
pub fn write_row(
    out: &mut Vec<u8>,
    tenant: &Tenant,
    countries: &CountryTable,
    call: &CallRecord,
    charge: &Charge,
    extended: bool,
) {
    let found = Found::of(tenant, call);
    write_found_row(out, tenant, countries, (call, found), charge, extended);
}

/// `write_row` with the directory's entries found already.
pub fn write_found_row(
    out: &mut Vec<u8>,
    tenant: &Tenant,
    countries: &CountryTable,
    (call, found): (&CallRecord, Found<'_>),
    charge: &Charge,
    extended: bool,
) {
    let organizer = found.organizer;
    let currency = tenant.currency;
    write_uuid(out, usage_digest(&tenant.id, &call.call_id));
    out.push(b',');
    write_text(out, &call.call_id);
    out.push(b',');
    write_text(out, &call.conference_id);
    out.push(b',');
    if let Some(user) = organizer {
        out.extend_from_slice(user.usage_location.as_str().as_bytes());
        out.push(b',');
        write_text(out, &user.object_id);
        out.push(b',');
        write_text(out, &user.upn.display);
        out.push(b',');
        write_text(out, &user.display_name);
    } else {
        out.extend_from_slice(b",,");
        write_text(out, &call.organizer);
        out.push(b',');
    }
    out.push(b',');
    match call.direction {
        Direction::DialIn => {
            let service = found.service;
            write_number(out, &call.caller_number);
            out.extend_from_slice(b",conf_in,");
            let kind = service.map_or("", |s| {
                if s.kind == NumberKind::TollFree {
                    "toll_free"
                } else {
                    "toll"
                }
            });
            out.extend_from_slice(kind.as_bytes());
            write_domestic(out, charge.domestic);
            if let Some(service) = service {
                write_text(out, countries.name_ref(service.country));
            }
            out.push(b',');
            write_number(out, &call.service_number);
        }
        Direction::DialOut => {
            write_number(out, &call.service_number);
            out.extend_from_slice(b",conf_out,");
            write_domestic(out, charge.domestic);
            match (&charge.rate, &charge.other_country) {
                (Some(rate), _) => write_text(out, &rate.name),
                (None, Some(country)) => {
                    if let Ok(c) = Country::parse(country) {
                        write_text(out, countries.name_ref(c));
                    }
                }
                (None, None) => {}
            }
            out.push(b',');
            write_number(out, &call.destination_number);
        }
    }
    out.push(b',');
    instant::write(out, call.start);
    out.push(b',');
    instant::write(out, call.end);
    write_money_tail(out, currency, charge, extended);
}

fn write_domestic(out: &mut Vec<u8>, domestic: Option<bool>) {
    out.push(b',');
    out.extend_from_slice(match domestic {
        Some(true) => b"Domestic".as_slice(),
        Some(false) => b"International".as_slice(),
        None => b"".as_slice(),
    });
    out.push(b',');
}

fn write_money_tail(out: &mut Vec<u8>, currency: Currency, charge: &Charge, extended: bool) {
    out.push(b',');
    write_u64(out, charge.duration_s);
    out.push(b',');
    write_amount(out, currency, charge.connection_fee);
    out.push(b',');
    write_amount(out, currency, charge.amount);
    out.push(b',');
    out.extend_from_slice(currency.code().as_bytes());
    out.push(b',');
    out.extend_from_slice(charge.capability.code().as_bytes());
    if extended {
        out.push(b',');
        out.extend_from_slice(charge.funding.as_str().as_bytes());
        out.push(b',');
        write_u64(out, u64::from(charge.pool_minutes));
        out.push(b',');
        write_amount(out, currency, charge.amount);
        out.push(b',');
        if let Some(balance) = charge.balance_after {
            write_amount(out, currency, balance);
        }
        out.push(b',');
        out.extend_from_slice(charge.rule.as_bytes());
    }
    out.extend_from_slice(b"\r\n");
}

/// Writes an unsigned integer in decimal.
fn write_u64(out: &mut Vec<u8>, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// Writes `currency.display(amount)` (the amount without trailing zeros, with at least the
/// currency's minor-unit digits) without the formatting machinery.
pub fn write_amount(out: &mut Vec<u8>, currency: Currency, amount: rust_decimal::Decimal) {
    let (mantissa, minor) = (amount.mantissa(), currency.minor_units());
    match u64::try_from(mantissa.unsigned_abs()) {
        Ok(small) if small < SMALL_MANTISSA && minor <= 4 => {
            write_small_amount(out, mantissa < 0, small, amount.scale(), minor)
        }
        _ => write_large_amount(out, currency, amount),
    }
}

/// Mantissas below this, rescaled to at most 4 more digits, fit in 64 bits.
const SMALL_MANTISSA: u64 = 1_000_000_000_000_000;

/// `write_amount` of `value` / 10^`scale` (negative when `negative`) in 64-bit arithmetic.
fn write_small_amount(
    out: &mut Vec<u8>,
    negative: bool,
    mut value: u64,
    mut scale: u32,
    minor: u32,
) {
    while scale > 0 && value.is_multiple_of(10) {
        value /= 10;
        scale -= 1;
    }
    while scale < minor {
        value *= 10;
        scale += 1;
    }
    if negative {
        out.push(b'-');
    }
    push_scaled(out, value, scale);
}

/// `write_amount` in 128-bit arithmetic.
fn write_large_amount(out: &mut Vec<u8>, currency: Currency, amount: rust_decimal::Decimal) {
    let (mut mantissa, mut scale) = (amount.mantissa(), amount.scale());
    while scale > 0 && mantissa % 10 == 0 {
        mantissa /= 10;
        scale -= 1;
    }
    let minor = currency.minor_units();
    // Past 10^26 the decimal type itself may not hold the rescaled value: its own display
    // decides.
    let bound = 10i128.pow(26);
    if mantissa.abs() >= bound {
        use std::io::Write;
        let _ = write!(out, "{}", currency.display(amount));
        return;
    }
    while scale < minor {
        mantissa *= 10;
        scale += 1;
    }
    if mantissa < 0 {
        out.push(b'-');
    }
    push_scaled(out, mantissa.unsigned_abs(), scale);
}

/// An unsigned integer that gives its last decimal digit (64-bit values keep 64-bit division).
trait Digits: Copy {
    fn is_zero(self) -> bool;
    /// (self / 10, self % 10)
    fn split_last(self) -> (Self, u8);
}

impl Digits for u64 {
    fn is_zero(self) -> bool {
        self == 0
    }
    fn split_last(self) -> (u64, u8) {
        (self / 10, (self % 10) as u8)
    }
}

impl Digits for u128 {
    fn is_zero(self) -> bool {
        self == 0
    }
    fn split_last(self) -> (u128, u8) {
        (self / 10, (self % 10) as u8)
    }
}

/// Appends `value` / 10^`scale` in decimal: at least one digit before the point, exactly
/// `scale` after it.
fn push_scaled(out: &mut Vec<u8>, mut value: impl Digits, scale: u32) {
    let mut digits = [0u8; 40];
    let mut at = digits.len();
    let mut written = 0u32;
    while !value.is_zero() || written <= scale {
        if written == scale && scale > 0 {
            at -= 1;
            digits[at] = b'.';
        }
        let (rest, digit) = value.split_last();
        at -= 1;
        digits[at] = b'0' + digit;
        value = rest;
        written += 1;
    }
    out.extend_from_slice(&digits[at..]);
}

/// The refused-calls file: the call record's columns, then `reason` and `rule`.
pub fn refused_header() -> String {
    format!("{},reason,rule\n", crate::calls::HEADER.join(","))
}

/// Appends one refused call.
pub fn write_refused(out: &mut Vec<u8>, call: &CallRecord, reason: Reason) {
    crate::calls::write_record(out, call);
    out.pop();
    out.push(b',');
    out.extend_from_slice(reason.code().as_bytes());
    out.push(b',');
    out.extend_from_slice(reason.rule().as_bytes());
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;

    /// The export's amounts are `Currency::display`'s text, byte for byte.
    #[test]
    fn amounts_are_written_as_the_currency_displays_them() {
        let mut values: Vec<Decimal> = [
            "0",
            "-0",
            "0.00",
            "1",
            "-1",
            "0.5",
            "-0.05",
            "12.3400",
            "100",
            "1e3",
            "0.001",
            "-123456.789",
            "0.1235",
            "79228162514264337593543950335",
            "-79228162514264337593543950335",
            "7922816251426433759354395033.5",
            "99999999999999999.99",
            "0.0000000000000000000000000001",
        ]
        .iter()
        .map(|t| {
            Decimal::from_str_exact(t)
                .or_else(|_| Decimal::from_scientific(t))
                .unwrap()
        })
        .collect();
        for n in 0..2000i64 {
            values.push(Decimal::new(n * 7919 - 5_000_000, (n % 9) as u32));
        }
        for code in ["EUR", "JPY", "KWD"] {
            let currency = Currency::parse(code).unwrap();
            for value in &values {
                let mut out = Vec::new();
                write_amount(&mut out, currency, *value);
                let expected = currency.display(*value).to_string();
                assert_eq!(String::from_utf8(out).unwrap(), expected, "{value} {code}");
            }
        }
    }

    /// A number already written as E.164 is copied as `E164::parse` would write it back; every
    /// other text goes through the parser.
    #[test]
    fn numbers_are_written_as_the_parser_reads_them() {
        let mut texts: Vec<String> = [
            "",
            "+",
            "+1",
            "+12",
            "+0",
            "+01",
            "+33612341044",
            "+123456789012345",
            "+1234567890123456",
            "+33 6 12 34 10 44",
            " +33612341044",
            "+33612341044 ",
            "33612341044",
            "+3361234104a",
            "++33",
            "+33-6.12",
            "'+33",
            "=1+2",
            "+١٢",
        ]
        .map(String::from)
        .to_vec();
        for n in 0..3000u64 {
            texts.push(format!("+{}", n * 7919 * 104_729));
            texts.push(format!("+{:0width$}", n, width = (n % 17) as usize));
        }
        for text in &texts {
            let (mut fast, mut parsed) = (Vec::new(), Vec::new());
            write_number(&mut fast, text);
            write_parsed_number(&mut parsed, text);
            assert_eq!(fast, parsed, "{text:?}");
        }
    }

    #[test]
    fn integers_are_written_in_decimal() {
        for value in [0u64, 7, 10, 99, 100, 123_456_789, u64::MAX] {
            let mut out = Vec::new();
            write_u64(&mut out, value);
            assert_eq!(out, value.to_string().into_bytes());
        }
    }
}
