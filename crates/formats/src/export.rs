//! The PSTN usage export (RFC 4180, header row, UTC ISO 8601 instants, the twenty columns of
//! product.md in order; the extended export adds five), and the refused-calls file. A run over
//! several tenants adds one last column to both, the tenant (`Tenant` in the export, `tenant`
//! in the refused-calls file, so that the latter reads back as a call-record file).

use crate::{instant, write_text};
use minutely_core::catalogue::CountryTable;
use minutely_core::digest::Digest;
use minutely_core::directory::{NumberKind, Tenant};
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
    for i in 0..32 {
        if matches!(i, 8 | 12 | 16 | 20) {
            out.push(b'-');
        }
        out.push(HEX[((value >> (124 - 4 * i)) & 0xF) as usize]);
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
    let organizer = tenant.user(&call.organizer);
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
            let service = E164::parse(&call.service_number).and_then(|n| tenant.number(n));
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
    use std::io::Write;
    let _ = write!(
        out,
        ",{},{},{},{},{}",
        charge.duration_s,
        currency.display(charge.connection_fee),
        currency.display(charge.amount),
        currency.code(),
        charge.capability.code()
    );
    if extended {
        let _ = write!(
            out,
            ",{},{},{},",
            charge.funding.as_str(),
            charge.pool_minutes,
            currency.display(charge.amount)
        );
        if let Some(balance) = charge.balance_after {
            let _ = write!(out, "{}", currency.display(balance));
        }
        let _ = write!(out, ",{}", charge.rule);
    }
    out.extend_from_slice(b"\r\n");
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
