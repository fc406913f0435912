//! The rate-card CSV of product.md:
//! `kind,key,origin,name,country,premium,rate_per_minute,connection_fee,first_block_s,increment_s,effective_from`.
//! One file per currency (given at import); `#` starts a comment line; a file with any bad row
//! is refused whole, with every bad row listed.

use crate::{ErrorList, FileErrors, instant};
use minutely_core::catalogue::{RateCard, RateEntry, RateKey, RateKind, key_text};
use minutely_core::money::{
    BadAmount, Currency, MAX_CONNECTION_FEE, MAX_RATE_PER_MINUTE, parse_amount,
};
use minutely_core::numbers::{Country, E164_MAX_DIGITS};
use rust_decimal::Decimal;

/// The columns, in order.
pub const HEADER: [&str; 11] = [
    "kind",
    "key",
    "origin",
    "name",
    "country",
    "premium",
    "rate_per_minute",
    "connection_fee",
    "first_block_s",
    "increment_s",
    "effective_from",
];

/// The most rows one rate-card file may have.
pub const MAX_ROWS: usize = 1_000_000;
/// The longest billing block, in seconds (one hour).
pub const MAX_BLOCK_S: u32 = 3600;

fn parse_row(fields: &[&str], line: usize, errors: &mut ErrorList) -> Option<RateEntry> {
    let count_before = errors.len();
    let mut bad = |column: &str, reason: String| errors.push(line, column, reason);
    let kind = RateKind::parse(fields[0]);
    if kind.is_none() {
        bad(
            "kind",
            format!(
                "{:?} is not one of dial_out, dial_in_toll, dial_in_toll_free",
                fields[0]
            ),
        );
    }
    let key = match kind {
        Some(RateKind::DialOut) => {
            let digits = fields[1].strip_prefix('+').unwrap_or("");
            let ok = !digits.is_empty()
                && digits.len() <= E164_MAX_DIGITS
                && digits.bytes().all(|b| b.is_ascii_digit())
                && !digits.starts_with('0');
            if !ok {
                bad(
                    "key",
                    format!(
                        "{:?} is not an E.164 prefix (+ then 1 to 15 digits, such as +336)",
                        fields[1]
                    ),
                );
            }
            ok.then(|| RateKey::Prefix(digits.to_string()))
        }
        Some(_) => Country::parse(fields[1])
            .map(RateKey::Country)
            .map_err(|e| bad("key", e.to_string()))
            .ok(),
        None => None,
    };
    let origin = match (kind, fields[2]) {
        (Some(RateKind::DialInTollFree), "*") | (Some(RateKind::DialInTollFree), "") => {
            Some(minutely_core::catalogue::Origin::Any)
        }
        (Some(RateKind::DialInTollFree), text) => Country::parse(text)
            .map(|c| Some(minutely_core::catalogue::Origin::Country(c)))
            .map_err(|e| bad("origin", format!("{e}, or *")))
            .ok()
            .flatten(),
        (_, "") => None,
        (_, text) => {
            bad(
                "origin",
                format!("{text:?}: origin is for dial_in_toll_free only; leave it empty"),
            );
            None
        }
    };
    let name = fields[3].trim();
    if name.is_empty() || name.len() > 200 {
        bad("name", "a name has 1 to 200 characters".into());
    }
    let country = Country::parse(fields[4])
        .map_err(|e| bad("country", e.to_string()))
        .ok();
    let premium = match fields[5] {
        "true" => Some(true),
        "false" | "" => Some(false),
        other => {
            bad("premium", format!("{other:?}: expected true or false"));
            None
        }
    };
    // Never rounded: more digits than can be held exactly is a bad row, as is a value above
    // the column's bound.
    let mut money =
        |column: &str, text: &str, default: Option<Decimal>, max: Decimal| -> Option<Decimal> {
            if text.trim().is_empty()
                && let Some(d) = default
            {
                return Some(d);
            }
            match parse_amount(text) {
                Ok(v) if v < Decimal::ZERO => {
                    bad(column, format!("{text:?} is negative"));
                    None
                }
                Ok(v) if v > max => {
                    bad(
                        column,
                        format!("{text:?} is larger than {max}, the largest {column}"),
                    );
                    None
                }
                Ok(v) => Some(v),
                Err(BadAmount::TooLarge(_)) => {
                    bad(
                        column,
                        format!("{text:?} is larger than {max}, the largest {column}"),
                    );
                    None
                }
                Err(e) => {
                    bad(column, e.to_string());
                    None
                }
            }
        };
    let rate = money("rate_per_minute", fields[6], None, MAX_RATE_PER_MINUTE);
    let fee = money(
        "connection_fee",
        fields[7],
        Some(Decimal::ZERO),
        MAX_CONNECTION_FEE,
    );
    let mut block = |column: &str, text: &str| -> Option<u32> {
        if text.trim().is_empty() {
            return Some(60);
        }
        match text.trim().parse::<u32>() {
            Ok(v) if (1..=MAX_BLOCK_S).contains(&v) => Some(v),
            _ => {
                bad(
                    column,
                    format!("{text:?}: expected whole seconds from 1 to {MAX_BLOCK_S}"),
                );
                None
            }
        }
    };
    let first = block("first_block_s", fields[8]);
    let increment = block("increment_s", fields[9]);
    let effective_from = instant::parse(fields[10])
        .map_err(|e| bad("effective_from", e))
        .ok();
    if errors.len() != count_before {
        return None;
    }
    Some(RateEntry {
        kind: kind?,
        key: key?,
        origin,
        name: name.to_string(),
        country: country?,
        premium: premium?,
        rate_per_minute: rate?,
        connection_fee: fee?,
        first_block_s: first?,
        increment_s: increment?,
        effective_from: effective_from?,
    })
}

/// Reads a rate card for `currency`. Every bad row is listed; duplicates within a version
/// (same kind and key, and origin for toll-free) are bad rows too.
pub fn parse(input: &[u8], currency: Currency) -> Result<RateCard, FileErrors> {
    let text = String::from_utf8_lossy(input);
    let mut errors = ErrorList::default();
    let mut rows = Vec::new();
    let mut header_seen = false;
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        if raw.trim().is_empty() || raw.trim_start().starts_with('#') {
            continue;
        }
        // A line without quotes is split at its commas, which is what a CSV reader makes of
        // it, without building one per line (most of the time of a large card).
        let record;
        let fields: Vec<&str> = if raw.contains('"') {
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .from_reader(raw.as_bytes());
            record = match reader.records().next() {
                Some(Ok(r)) => r,
                _ => {
                    errors.push(line, "", "not a CSV row");
                    continue;
                }
            };
            record.iter().collect()
        } else {
            raw.split(',').collect()
        };
        if !header_seen {
            header_seen = true;
            if fields != HEADER {
                errors.push(line, "", format!("the header must be {}", HEADER.join(",")));
            }
            continue;
        }
        if fields.len() != HEADER.len() {
            errors.push(
                line,
                "",
                format!("expected {} fields, found {}", HEADER.len(), fields.len()),
            );
            continue;
        }
        if rows.len() >= MAX_ROWS {
            errors.push(line, "", format!("a rate card has at most {MAX_ROWS} rows"));
            break;
        }
        if let Some(entry) = parse_row(&fields, line, &mut errors) {
            rows.push((line, entry));
        }
    }
    if !header_seen {
        errors.push(
            1,
            "",
            format!("the file is empty; the header must be {}", HEADER.join(",")),
        );
    }
    // Duplicates are looked for among the valid rows even when other rows are bad, so that one
    // pass lists every bad row.
    match RateCard::build(currency, rows) {
        Ok(card) => errors.finish("rate card", card),
        Err(bad) => {
            errors.extend(bad);
            errors.finish("rate card", RateCard::empty(currency))
        }
    }
}

/// Writes every version of a card in the import format.
pub fn write(card: &RateCard) -> String {
    let mut out = Vec::new();
    out.extend_from_slice(HEADER.join(",").as_bytes());
    out.push(b'\n');
    for e in card.entries() {
        let origin = match e.origin {
            Some(minutely_core::catalogue::Origin::Any) => "*".to_string(),
            Some(minutely_core::catalogue::Origin::Country(c)) => c.to_string(),
            None => String::new(),
        };
        out.extend_from_slice(
            format!("{},{},{},", e.kind.as_str(), key_text(e), origin).as_bytes(),
        );
        crate::write_field(&mut out, &e.name);
        let tail = format!(
            ",{},{},{},{},{},{},{}\n",
            e.country,
            e.premium,
            e.rate_per_minute,
            e.connection_fee,
            e.first_block_s,
            e.increment_s,
            instant::format(e.effective_from)
        );
        out.extend_from_slice(tail.as_bytes());
    }
    String::from_utf8(out).expect("UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = "kind,key,origin,name,country,premium,rate_per_minute,connection_fee,first_block_s,increment_s,effective_from
dial_out,+33,,France,FR,false,0.0240,0,60,60,2026-01-01T00:00:00Z
dial_out,+336,,France mobile,FR,false,0.1100,0,60,60,2026-01-01T00:00:00Z
dial_in_toll,FR,,France toll,FR,false,0.0300,0,60,60,2026-01-01T00:00:00Z
dial_in_toll_free,US,*,United States toll-free,US,false,0.0400,0,60,60,2026-01-01T00:00:00Z
dial_in_toll_free,US,CA,US toll-free from Canada,US,false,0.0550,0,60,60,2026-01-01T00:00:00Z
";

    #[test]
    fn the_product_example_reads_and_round_trips() {
        let usd = Currency::parse("USD").unwrap();
        let card = parse(EXAMPLE.as_bytes(), usd).unwrap();
        assert_eq!(card.entries().count(), 5);
        let again = parse(write(&card).as_bytes(), usd).unwrap();
        assert_eq!(
            again.entries().cloned().collect::<Vec<_>>(),
            card.entries().cloned().collect::<Vec<_>>()
        );
    }

    #[test]
    fn every_bad_row_is_listed_with_line_and_column() {
        let usd = Currency::parse("USD").unwrap();
        let input = "# a comment
kind,key,origin,name,country,premium,rate_per_minute,connection_fee,first_block_s,increment_s,effective_from
dial_out,33,,France,FR,false,0.0240,0,60,60,2026-01-01T00:00:00Z
dial_out,+44,,UK,GB,false,1e-3,0,60,60,2026-01-01T00:00:00Z
dial_in_toll,FR,,France toll,FR,false,0.03,0,0,60,2026-01-01T00:00:00Z
dial_in_toll,FR,,France toll,FR,false,0.03,0,60,60,yesterday
dial_out,+1,,US,US,maybe,0.01,0,60,60,2026-01-01T00:00:00Z
dial_in_toll,DE,XX,Germany toll,DE,false,0.03,0,60,60,2026-01-01T00:00:00Z
dial_out,+49,,Germany,DE,false,0.01,0,60,60,2026-01-01T00:00:00Z
dial_out,+49,,Germany again,DE,false,0.02,0,60,60,2026-01-01T00:00:00Z
";
        let err = parse(input.as_bytes(), usd).unwrap_err();
        let found: Vec<(usize, &str)> = err
            .errors
            .iter()
            .map(|e| (e.line, e.column.as_str()))
            .collect();
        assert_eq!(
            found,
            vec![
                (3, "key"),
                (4, "rate_per_minute"),
                (5, "first_block_s"),
                (6, "effective_from"),
                (7, "premium"),
                (8, "origin"),
                (10, "key")
            ]
        );
        let dup = "kind,key,origin,name,country,premium,rate_per_minute,connection_fee,first_block_s,increment_s,effective_from
dial_out,+49,,Germany,DE,false,0.01,0,60,60,2026-01-01T00:00:00Z
dial_out,+49,,Germany again,DE,false,0.02,0,60,60,2026-01-01T00:00:00Z
";
        let err = parse(dup.as_bytes(), usd).unwrap_err();
        assert_eq!(err.errors.len(), 1);
        assert_eq!(err.errors[0].line, 3);
        assert!(err.errors[0].reason.contains("duplicate"));
    }
}
