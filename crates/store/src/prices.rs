//! The operator's license prices: the monthly price of each license per currency, read by the
//! plan advisor. Prices are decimal TEXT like every amount of the store.

use crate::Result;
use crate::codec::{Cells, corrupt, dec};
use crate::db::Db;
use minutely_core::advisor::LicensePrices;
use minutely_core::directory::Sku;
use minutely_core::money::Currency;
use rusqlite::params;
use std::collections::BTreeMap;

/// Every currency with at least one price, by currency code.
pub(crate) fn read_all(conn: &Db) -> Result<Vec<LicensePrices>> {
    let mut stmt =
        conn.prepare("SELECT currency, sku, price FROM license_prices ORDER BY currency, sku")?;
    let mut rows = stmt.query(())?;
    let mut by_currency: BTreeMap<String, LicensePrices> = BTreeMap::new();
    while let Some(row) = rows.next()? {
        let c = Cells {
            row: &row,
            table: "license_prices",
        };
        let currency = c.parse("currency", |t| Currency::parse(t).ok())?;
        let sku = c.parse("sku", Sku::parse)?;
        let price = c.dec("price")?;
        by_currency
            .entry(currency.code().to_string())
            .or_insert_with(|| LicensePrices::new(currency))
            .set(sku, price)
            .map_err(|_| corrupt("license_prices", "price", price))?;
    }
    Ok(by_currency.into_values().collect())
}

/// The prices of one currency (none set when it has no rows).
pub(crate) fn read(conn: &Db, currency: Currency) -> Result<LicensePrices> {
    Ok(read_all(conn)?
        .into_iter()
        .find(|p| p.currency == currency)
        .unwrap_or_else(|| LicensePrices::new(currency)))
}

/// Replaces the prices of `prices.currency` (the caller holds the transaction).
pub(crate) fn replace(conn: &Db, prices: &LicensePrices) -> Result<()> {
    let code = prices.currency.code();
    conn.execute("DELETE FROM license_prices WHERE currency = ?1", [code])?;
    let mut stmt =
        conn.prepare("INSERT INTO license_prices (currency, sku, price) VALUES (?1, ?2, ?3)")?;
    for (sku, price) in prices.iter() {
        stmt.execute(params![code, sku.code(), dec(price)])?;
    }
    Ok(())
}
