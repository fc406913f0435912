//! The country table CSV (`iso2,name,zone_a,conferencing,toll_dial_in,toll_free_dial_in,
//! communications_credits`), and the table Minutely ships with.

use crate::{ErrorList, FileErrors};
use minutely_core::catalogue::{Availability, Conferencing, CountryFacts, CountryTable};
use minutely_core::numbers::Country;

/// The country table shipped with Minutely (published facts as of 2022).
pub const SHIPPED: &str = include_str!("../../../data/countries.csv");

/// The columns, in order.
pub const HEADER: [&str; 7] = [
    "iso2",
    "name",
    "zone_a",
    "conferencing",
    "toll_dial_in",
    "toll_free_dial_in",
    "communications_credits",
];

/// The shipped table.
pub fn shipped() -> CountryTable {
    parse(SHIPPED.as_bytes()).expect("the shipped country table is valid")
}

fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

fn parse_conferencing(text: &str) -> Option<Conferencing> {
    match text {
        "yes" => Some(Conferencing::Yes),
        "ppm_only" => Some(Conferencing::PpmOnly),
        "no" => Some(Conferencing::No),
        _ => None,
    }
}

fn parse_availability(text: &str) -> Option<Availability> {
    match text {
        "yes" => Some(Availability::Yes),
        "on_request" => Some(Availability::OnRequest),
        "no" => Some(Availability::No),
        _ => None,
    }
}

/// Reads a country table; any bad row refuses the whole file.
pub fn parse(input: &[u8]) -> Result<CountryTable, FileErrors> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(input);
    let mut errors = ErrorList::default();
    match reader.headers() {
        Ok(h) if h.iter().eq(HEADER.iter().copied()) => {}
        _ => errors.push(1, "", format!("the header must be {}", HEADER.join(","))),
    }
    let mut rows = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (index, record) in reader.records().enumerate() {
        let line = index + 2;
        let record = match record {
            Ok(r) if r.len() == HEADER.len() => r,
            Ok(r) => {
                errors.push(
                    line,
                    "",
                    format!("expected {} fields, found {}", HEADER.len(), r.len()),
                );
                continue;
            }
            Err(e) => {
                errors.push(line, "", e.to_string());
                continue;
            }
        };
        let country = Country::parse(&record[0])
            .map_err(|e| errors.push(line, "iso2", e.to_string()))
            .ok();
        let zone_a = parse_bool(&record[2]);
        let conferencing = parse_conferencing(&record[3]);
        let toll = parse_availability(&record[4]);
        let toll_free = parse_availability(&record[5]);
        let credits = parse_bool(&record[6]);
        let checks = [
            (zone_a.is_none(), "zone_a", "expected true or false"),
            (
                conferencing.is_none(),
                "conferencing",
                "expected yes, ppm_only or no",
            ),
            (
                toll.is_none(),
                "toll_dial_in",
                "expected yes, on_request or no",
            ),
            (
                toll_free.is_none(),
                "toll_free_dial_in",
                "expected yes, on_request or no",
            ),
            (
                credits.is_none(),
                "communications_credits",
                "expected true... or yes/no",
            ),
        ];
        for (bad, column, reason) in checks {
            if bad && column != "communications_credits" {
                errors.push(line, column, reason);
            }
        }
        // communications_credits is written yes/no in the shipped table.
        let credits = credits.or(match &record[6] {
            "yes" => Some(true),
            "no" => Some(false),
            _ => None,
        });
        if credits.is_none() {
            errors.push(line, "communications_credits", "expected yes or no");
        }
        if let Some(c) = country
            && !seen.insert(c)
        {
            errors.push(line, "iso2", format!("{c} is listed twice"));
        }
        if let (
            Some(country),
            Some(zone_a),
            Some(conferencing),
            Some(toll_dial_in),
            Some(toll_free_dial_in),
            Some(communications_credits),
        ) = (country, zone_a, conferencing, toll, toll_free, credits)
        {
            rows.push(CountryFacts {
                country,
                name: record[1].to_string(),
                zone_a,
                conferencing,
                toll_dial_in,
                toll_free_dial_in,
                communications_credits,
            });
        }
    }
    errors.finish("country table", CountryTable::new(rows))
}

fn availability_text(a: Availability) -> &'static str {
    match a {
        Availability::Yes => "yes",
        Availability::OnRequest => "on_request",
        Availability::No => "no",
    }
}

/// Writes a table in the same format.
pub fn write(table: &CountryTable) -> String {
    let mut out = Vec::new();
    out.extend_from_slice(HEADER.join(",").as_bytes());
    out.push(b'\n');
    for row in table.rows() {
        let conferencing = match row.conferencing {
            Conferencing::Yes => "yes",
            Conferencing::PpmOnly => "ppm_only",
            Conferencing::No => "no",
        };
        out.extend_from_slice(format!("{},", row.country).as_bytes());
        crate::write_field(&mut out, &row.name);
        let line = format!(
            ",{},{},{},{},{}\n",
            row.zone_a,
            conferencing,
            availability_text(row.toll_dial_in),
            availability_text(row.toll_free_dial_in),
            if row.communications_credits {
                "yes"
            } else {
                "no"
            }
        );
        out.extend_from_slice(line.as_bytes());
    }
    String::from_utf8(out).expect("UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_table_has_44_zone_a_countries_and_round_trips() {
        let table = shipped();
        assert_eq!(table.rows().filter(|r| r.zone_a).count(), 44);
        assert_eq!(parse(write(&table).as_bytes()).unwrap(), table);
        assert_eq!(write(&table), SHIPPED);
    }

    #[test]
    fn every_bad_row_is_listed() {
        let input = "iso2,name,zone_a,conferencing,toll_dial_in,toll_free_dial_in,communications_credits\nFR,France,maybe,yes,yes,yes,yes\nXXX,Nowhere,false,yes,yes,yes,yes\nDE,Germany,true,sometimes,yes,yes,yes\n";
        let err = parse(input.as_bytes()).unwrap_err();
        let found: Vec<(usize, &str)> = err
            .errors
            .iter()
            .map(|e| (e.line, e.column.as_str()))
            .collect();
        assert_eq!(found, vec![(2, "zone_a"), (3, "iso2"), (4, "conferencing")]);
    }
}
