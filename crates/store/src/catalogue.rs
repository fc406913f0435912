//! The operator's catalogue on disk: the country table and the versioned rate cards (C36).

use crate::codec::{
    Cells, availability_text, conferencing_text, corrupt, dec, parse_availability,
    parse_conferencing, ts,
};
use crate::db::{Db, Optional};
use crate::{ImportSummary, Result, StoreError};
use jiff::Timestamp;
use minutely_core::catalogue::{
    CountryFacts, CountryTable, Origin, RateCard, RateEntry, RateKey, RateKind, RateVersion,
    key_text,
};
use minutely_core::money::Currency;
use minutely_core::numbers::Country;
use rusqlite::params;

pub(crate) fn read_countries(conn: &Db) -> Result<CountryTable> {
    let mut stmt = conn.prepare(
        "SELECT iso2, name, zone_a, conferencing, toll_dial_in, toll_free_dial_in, communications_credits
         FROM countries ORDER BY iso2",
    )?;
    let mut rows = stmt.query(())?;
    let mut facts = Vec::new();
    while let Some(row) = rows.next()? {
        let c = Cells {
            row: &row,
            table: "countries",
        };
        facts.push(CountryFacts {
            country: c.parse("iso2", |t| Country::parse(t).ok())?,
            name: c.text("name")?,
            zone_a: c.flag("zone_a")?,
            conferencing: c.parse("conferencing", parse_conferencing)?,
            toll_dial_in: c.parse("toll_dial_in", parse_availability)?,
            toll_free_dial_in: c.parse("toll_free_dial_in", parse_availability)?,
            communications_credits: c.flag("communications_credits")?,
        });
    }
    Ok(CountryTable::new(facts))
}

/// Replaces the whole table (the caller holds the transaction).
pub(crate) fn write_countries(conn: &Db, countries: &CountryTable) -> Result<()> {
    conn.execute("DELETE FROM countries", ())?;
    let mut stmt = conn.prepare(
        "INSERT INTO countries (iso2, name, zone_a, conferencing, toll_dial_in, toll_free_dial_in, communications_credits)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for f in countries.rows() {
        stmt.execute(params![
            f.country.as_str(),
            f.name,
            f.zone_a,
            conferencing_text(f.conferencing),
            availability_text(f.toll_dial_in),
            availability_text(f.toll_free_dial_in),
            f.communications_credits,
        ])?;
    }
    Ok(())
}

/// Versions are immutable: an identical version is left alone, a new one is added, and one
/// that differs refuses the whole import (the caller rolls the transaction back).
pub(crate) fn import(conn: &Db, card: &RateCard, replace: bool) -> Result<ImportSummary> {
    let mut summary = ImportSummary::default();
    for version in card.versions() {
        let at = version.effective_from;
        match stored_version(conn, card.currency, at)? {
            Some(stored) if same_entries(&stored, version.entries()) => summary.unchanged.push(at),
            Some(_) if replace => {
                // A corrected version takes the place of the one with the same instant (C36:
                // versions are complete tables); calls already charged keep their charge until
                // they are rerated.
                conn.execute(
                    "DELETE FROM rate_entries WHERE version_id IN (SELECT id FROM rate_versions
                     WHERE currency = ?1 AND effective_from = ?2)",
                    params![card.currency.code(), ts(at)],
                )?;
                conn.execute(
                    "DELETE FROM rate_versions WHERE currency = ?1 AND effective_from = ?2",
                    params![card.currency.code(), ts(at)],
                )?;
                insert_version(conn, card.currency, version)?;
                summary.replaced.push(at);
            }
            Some(_) => {
                return Err(StoreError::VersionConflict {
                    currency: card.currency.code().to_string(),
                    effective_from: at,
                });
            }
            None => {
                insert_version(conn, card.currency, version)?;
                summary.added.push(at);
            }
        }
    }
    Ok(summary)
}

/// The entries of the stored version of `currency` effective from `at`, if there is one.
fn stored_version(conn: &Db, currency: Currency, at: Timestamp) -> Result<Option<Vec<RateEntry>>> {
    let id: Option<i64> = conn
        .query_row(
            "SELECT id FROM rate_versions WHERE currency = ?1 AND effective_from = ?2",
            params![currency.code(), ts(at)],
            |row| row.get(0),
        )
        .optional()?;
    let Some(id) = id else { return Ok(None) };
    let mut stmt = conn.prepare(&format!(
        "{ENTRY_SELECT} WHERE e.version_id = ?1 ORDER BY e.line"
    ))?;
    let mut rows = stmt.query([id])?;
    let mut entries = Vec::new();
    while let Some(row) = rows.next()? {
        entries.push(read_entry(&Cells {
            row: &row,
            table: "rate_entries",
        })?);
    }
    Ok(Some(entries))
}

/// Same set of entries, every field compared (the order in the file does not matter).
fn same_entries(stored: &[RateEntry], imported: &[RateEntry]) -> bool {
    let sorted = |entries: &[RateEntry]| {
        let mut all: Vec<RateEntry> = entries.to_vec();
        all.sort_by(|a, b| entry_order(a).cmp(&entry_order(b)));
        all
    };
    stored.len() == imported.len() && sorted(stored) == sorted(imported)
}

type EntryOrder<'e> = (
    RateKind,
    &'e RateKey,
    Option<Origin>,
    &'e str,
    Country,
    bool,
    rust_decimal::Decimal,
    rust_decimal::Decimal,
    u32,
    u32,
);

fn entry_order(e: &RateEntry) -> EntryOrder<'_> {
    (
        e.kind,
        &e.key,
        e.origin,
        &e.name,
        e.country,
        e.premium,
        e.rate_per_minute,
        e.connection_fee,
        e.first_block_s,
        e.increment_s,
    )
}

fn insert_version(conn: &Db, currency: Currency, version: &RateVersion) -> Result<()> {
    let id: i64 = conn.query_row(
        "INSERT INTO rate_versions (currency, effective_from) VALUES (?1, ?2) RETURNING id",
        params![currency.code(), ts(version.effective_from)],
        |row| row.get(0),
    )?;
    let mut stmt = conn.prepare(
        "INSERT INTO rate_entries (version_id, line, kind, key, origin, name, country, premium,
             rate_per_minute, connection_fee, first_block_s, increment_s)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?;
    // `line` keeps the file order of the version's entries.
    for (line, e) in version.entries().iter().enumerate() {
        stmt.execute(params![
            id,
            line as i64 + 1,
            e.kind.as_str(),
            key_text(e),
            e.origin.map(origin_text),
            e.name,
            e.country.as_str(),
            e.premium,
            dec(e.rate_per_minute),
            dec(e.connection_fee),
            e.first_block_s,
            e.increment_s,
        ])?;
    }
    Ok(())
}

fn origin_text(origin: Origin) -> String {
    match origin {
        Origin::Any => "*".into(),
        Origin::Country(c) => c.to_string(),
    }
}

fn parse_origin(text: &str) -> Option<Origin> {
    match text {
        "*" => Some(Origin::Any),
        _ => Country::parse(text).ok().map(Origin::Country),
    }
}

/// `+digits` is a dial-out prefix, anything else a country (as `key_text` writes them).
fn parse_key(text: &str) -> Option<RateKey> {
    match text.strip_prefix('+') {
        Some(digits) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
            Some(RateKey::Prefix(digits.to_string()))
        }
        Some(_) => None,
        None => Country::parse(text).ok().map(RateKey::Country),
    }
}

const ENTRY_SELECT: &str =
    "SELECT v.effective_from, e.line, e.kind, e.key, e.origin, e.name, e.country, e.premium,
        e.rate_per_minute, e.connection_fee, e.first_block_s, e.increment_s
    FROM rate_entries e JOIN rate_versions v ON v.id = e.version_id";

fn read_entry(c: &Cells<'_, '_>) -> Result<RateEntry> {
    Ok(RateEntry {
        kind: c.parse("kind", RateKind::parse)?,
        key: c.parse("key", parse_key)?,
        origin: c.opt_parse("origin", parse_origin)?,
        name: c.text("name")?,
        country: c.parse("country", |t| Country::parse(t).ok())?,
        premium: c.flag("premium")?,
        rate_per_minute: c.dec("rate_per_minute")?,
        connection_fee: c.dec("connection_fee")?,
        first_block_s: c.u32("first_block_s")?,
        increment_s: c.u32("increment_s")?,
        effective_from: c.ts("effective_from")?,
    })
}

/// Every version of the currency's card, rebuilt (and so re-checked) by the core.
pub(crate) fn read_card(conn: &Db, currency: Currency) -> Result<RateCard> {
    let mut stmt = conn.prepare(&format!(
        "{ENTRY_SELECT} WHERE v.currency = ?1 ORDER BY v.effective_from, e.line"
    ))?;
    let mut rows = stmt.query([currency.code()])?;
    let mut entries = Vec::new();
    while let Some(row) = rows.next()? {
        // Lines number the stored rows of the card, so an error names the row at fault.
        entries.push((
            entries.len() + 1,
            read_entry(&Cells {
                row: &row,
                table: "rate_entries",
            })?,
        ));
    }
    RateCard::build(currency, entries).map_err(|errors| {
        let listed: Vec<String> = errors.iter().map(ToString::to_string).collect();
        StoreError::Corrupt(format!(
            "the stored {currency} rate card does not build: {}",
            listed.join("; ")
        ))
    })
}

pub(crate) fn currencies(conn: &Db) -> Result<Vec<Currency>> {
    let mut stmt = conn.prepare("SELECT DISTINCT currency FROM rate_versions ORDER BY currency")?;
    let mut rows = stmt.query(())?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let code: String = row.get(0)?;
        out.push(Currency::parse(&code).map_err(|_| corrupt("rate_versions", "currency", &code))?);
    }
    Ok(out)
}
