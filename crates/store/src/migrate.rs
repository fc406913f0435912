//! Moving an embedded store up to PostgreSQL (`minutely migrate`): every table copied row by
//! row, as stored, in one transaction of the destination, then verified.

use crate::db::Db;
use crate::{Result, Store, StoreError};
use rusqlite::types::Value;

/// Every table, parents before children (foreign keys hold at each insert).
pub(crate) const TABLES: &[&str] = &[
    "countries",
    "rate_versions",
    "rate_entries",
    "tenants",
    "purchases",
    "wallet_settings",
    "users",
    "user_licenses",
    "service_numbers",
    "wallet_state",
    "lots",
    "journal_entries",
    "postings",
    "calls",
    "pool_usage",
    "events",
    "scheduled_fundings",
    "settings",
    "funding_refs",
    "reservations",
    "api_keys",
    "key_preferences",
    "webhook_endpoints",
    "webhook_deliveries",
    "audit",
    "license_prices",
    "rerate_runs",
    "rerate_items",
    "stream_cursors",
    "guard_operator",
    "guard_list",
    "guard_tenants",
];

/// Tables whose key the database numbers (SQLite's rowid, an identity on PostgreSQL): after
/// rows are copied with their numbers, PostgreSQL's sequence must continue after them.
const NUMBERED: &[(&str, &str)] = &[("rate_versions", "id"), ("audit", "seq")];

/// What a migration copied: rows per table, in `TABLES` order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    pub rows: Vec<(String, u64)>,
    pub tenants: usize,
}

impl Store {
    /// Copies this SQLite store into `dest`, an empty PostgreSQL store (no tenant, key, rate
    /// card or audit row: only the country table a new store is seeded with, which is
    /// replaced), in one transaction, then checks that every table has as many rows on both
    /// sides and that every tenant's journal and wallet read back equal (C24 checked on both).
    /// On any error the destination is left as it was.
    pub fn migrate_to(&self, dest: &mut Store) -> Result<MigrationReport> {
        let source = self.conn.lite().ok_or_else(|| {
            StoreError::Location("the source of a migration is a SQLite store file".into())
        })?;
        if !dest.conn.is_pg() {
            return Err(StoreError::Location(
                "the destination of a migration is a PostgreSQL store (postgres://...)".into(),
            ));
        }
        refuse_unless_empty(&dest.conn)?;
        let read = self.conn.begin_read()?;
        let tx = dest.conn.begin_write()?;
        tx.execute("DELETE FROM countries", ())?;
        let mut rows = Vec::with_capacity(TABLES.len());
        for table in TABLES {
            rows.push((table.to_string(), copy_table(source, &tx, table)?));
        }
        for (table, column) in NUMBERED {
            tx.execute_batch(&format!(
                "SELECT setval(pg_get_serial_sequence('{table}', '{column}'),
                     COALESCE((SELECT MAX({column}) FROM {table}), 0) + 1, false)"
            ))?;
        }
        tx.commit()?;
        drop(read);
        let tenants = self.verify_copy(dest, &rows)?;
        Ok(MigrationReport { rows, tenants })
    }

    /// Row counts equal, and each tenant's journal and wallet equal on both sides.
    fn verify_copy(&self, dest: &Store, rows: &[(String, u64)]) -> Result<usize> {
        for (table, copied) in rows {
            let count = |db: &Db| -> Result<u64> {
                db.query_row(&format!("SELECT COUNT(*) FROM {table}"), (), |row| {
                    row.get(0)
                })
            };
            let (here, there) = (count(&self.conn)?, count(&dest.conn)?);
            if here != there || here != *copied {
                return Err(mismatch(format!(
                    "{table} holds {here} rows here and {there} there ({copied} copied)"
                )));
            }
        }
        let tenants = self.tenant_ids()?;
        for tenant in &tenants {
            if self.journal(tenant)? != dest.journal(tenant)? {
                return Err(mismatch(format!("the journal of tenant {tenant} differs")));
            }
            let wallet =
                |s: &Store| -> Result<_> { Ok(s.load_book(tenant)?.map(|b| b.wallet.snapshot())) };
            if wallet(self)? != wallet(dest)? {
                return Err(mismatch(format!("the wallet of tenant {tenant} differs")));
            }
        }
        Ok(tenants.len())
    }
}

fn mismatch(detail: String) -> StoreError {
    StoreError::Corrupt(format!(
        "the migrated copy does not match its source: {detail}"
    ))
}

fn refuse_unless_empty(db: &Db) -> Result<()> {
    for table in [
        "tenants",
        "api_keys",
        "rate_versions",
        "audit",
        "license_prices",
    ] {
        let n: u64 = db.query_row(&format!("SELECT COUNT(*) FROM {table}"), (), |row| {
            row.get(0)
        })?;
        if n > 0 {
            return Err(StoreError::Location(format!(
                "the destination already holds data ({n} rows in {table}): migrate into a new, \
                 empty database"
            )));
        }
    }
    Ok(())
}

/// Copies one table's rows, column by column as stored; returns how many.
fn copy_table(source: &rusqlite::Connection, dest: &Db, table: &str) -> Result<u64> {
    let columns: Vec<String> = source
        .prepare(&format!(
            "SELECT name FROM pragma_table_info('{table}') ORDER BY cid"
        ))?
        .query_map([], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    if columns.is_empty() {
        return Err(StoreError::Corrupt(format!(
            "the source has no table {table}"
        )));
    }
    let list = columns.join(", ");
    let marks: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
    let insert = format!("INSERT INTO {table} ({list}) VALUES ({})", marks.join(", "));
    let mut select = source.prepare(&format!("SELECT {list} FROM {table}"))?;
    let mut rows = select.query([])?;
    let mut copied = 0u64;
    while let Some(row) = rows.next()? {
        let values = (0..columns.len())
            .map(|i| row.get::<_, Value>(i))
            .collect::<rusqlite::Result<Vec<Value>>>()?;
        dest.execute(&insert, values)?;
        copied += 1;
    }
    Ok(copied)
}

#[cfg(test)]
mod tests {
    use super::TABLES;

    #[test]
    fn every_table_of_the_schema_is_copied() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        for migration in crate::schema::MIGRATIONS {
            conn.execute_batch(migration).unwrap();
        }
        let mut tables: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        let mut copied: Vec<String> = TABLES.iter().map(|t| t.to_string()).collect();
        tables.sort();
        copied.sort();
        assert_eq!(copied, tables);
    }
}
