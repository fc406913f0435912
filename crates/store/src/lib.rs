//! Minutely's durable store: SQLite in WAL mode with `synchronous=FULL`, versioned migrations,
//! one transaction per committed batch. The only crate that knows SQL; the core never sees it.
//!
//! Nothing is reported as done before the transaction that holds it has committed: every
//! writing method here returns only after `COMMIT` succeeded.

mod calls;
mod catalogue;
mod codec;
mod directory;
mod ledger;
mod outbox;
mod schema;

use jiff::Timestamp;
use minutely_core::catalogue::{CountryTable, RateCard};
use minutely_core::directory::AmountRules;
use minutely_core::engine::{Month, Outcome, Seen, TenantBook};
use minutely_core::ledger::{Entry, Event, Wallet};
use minutely_core::money::Currency;
use minutely_core::rating::CallRecord;
use rusqlite::{OptionalExtension, TransactionBehavior};
use rust_decimal::Decimal;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// A store failure: the operation changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The file was written by a newer Minutely.
    #[error(
        "the database schema version {found} is newer than this program knows ({known}); upgrade minutely"
    )]
    TooNew { found: i64, known: i64 },
    /// A rate-card version with this `effective_from` already exists with other content.
    #[error(
        "the {currency} rate card already has a version effective from {effective_from} with different content; versions are immutable, import the fix as a new version"
    )]
    VersionConflict {
        currency: String,
        effective_from: Timestamp,
    },
    /// Stored data that does not read back (a corrupted or hand-edited file).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// C24 does not hold for a tenant read back from disk.
    #[error("ledger invariant (C24) broken for tenant {tenant}: {detail}")]
    Invariant { tenant: String, detail: String },
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// What importing a rate card did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// `effective_from` of versions added.
    pub added: Vec<Timestamp>,
    /// `effective_from` of versions already present with identical content.
    pub unchanged: Vec<Timestamp>,
}

/// One call as persisted: the record, its first outcome and its fingerprint (C23).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCall {
    /// Per-tenant sequence in commit order (C22: real-time order is authoritative).
    pub seq: u64,
    pub record: CallRecord,
    pub fingerprint: u128,
    pub outcome: Outcome,
}

/// A batch of changes to one tenant, committed in one transaction.
#[derive(Debug, Clone, Default)]
pub struct Commit {
    /// Calls newly processed (not replays), in processing order.
    pub calls: Vec<(CallRecord, u128, Outcome)>,
    /// Journal entries produced (their `seq` continue the tenant's journal without gaps).
    pub entries: Vec<Entry>,
    /// Notifications for the outbox.
    pub events: Vec<Event>,
    /// Funding references applied in this batch (idempotency of declared fundings).
    pub funding_refs: Vec<String>,
}

/// The store.
pub struct Store {
    conn: rusqlite::Connection,
}

impl Store {
    /// Opens (creating if needed) the database at `path`: WAL, `synchronous=FULL`, foreign
    /// keys on, migrations applied. A new database gets `countries` as its country table.
    pub fn open(path: &Path, countries: &CountryTable) -> Result<Store> {
        let mut conn = rusqlite::Connection::open(path)?;
        schema::configure(&conn)?;
        schema::migrate(&mut conn, |tx| catalogue::write_countries(tx, countries))?;
        Ok(Store { conn })
    }

    /// The connection's durability settings as SQLite reports them: (`journal_mode`,
    /// `synchronous`), such as `("wal", 2)`. For health checks and tests.
    pub fn durability(&self) -> Result<(String, i64)> {
        let mode = self
            .conn
            .pragma_query_value(None, "journal_mode", |row| row.get(0))?;
        let synchronous = self
            .conn
            .pragma_query_value(None, "synchronous", |row| row.get(0))?;
        Ok((mode, synchronous))
    }

    /// The schema version of the file (`PRAGMA user_version`).
    pub fn schema_version(&self) -> Result<i64> {
        Ok(self
            .conn
            .pragma_query_value(None, "user_version", |row| row.get(0))?)
    }

    /// A write transaction. IMMEDIATE takes the write lock up front, so a concurrent writer
    /// waits (busy timeout) instead of failing half-way through.
    fn write(&mut self) -> Result<rusqlite::Transaction<'_>> {
        Ok(self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?)
    }

    /// The operator's country table.
    pub fn countries(&self) -> Result<CountryTable> {
        catalogue::read_countries(&self.conn)
    }

    /// The operator's amount rules (C11: the minimum funding, recharge amount and trigger).
    pub fn amount_rules(&self) -> Result<AmountRules> {
        let stored: Option<String> = self
            .conn
            .query_row(
                "SELECT value FROM settings WHERE key = 'minimum_amount'",
                [],
                |row| row.get(0),
            )
            .optional()?;
        match stored {
            None => Ok(AmountRules::default()),
            Some(text) => text
                .parse::<Decimal>()
                .map(|minimum| AmountRules { minimum })
                .map_err(|_| codec::corrupt("settings", "value", &text)),
        }
    }

    /// Sets the operator's amount rules.
    pub fn set_amount_rules(&mut self, rules: &AmountRules) -> Result<()> {
        let tx = self.write()?;
        tx.execute(
            "INSERT INTO settings (key, value) VALUES ('minimum_amount', ?1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [codec::dec(rules.minimum)],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Replaces the country table (operator edit).
    pub fn replace_countries(&mut self, countries: &CountryTable) -> Result<()> {
        let tx = self.write()?;
        catalogue::write_countries(&tx, countries)?;
        tx.commit()?;
        Ok(())
    }

    /// Adds the versions of `card`; identical versions are left as they are; a version with the
    /// same `effective_from` and other content refuses the whole import.
    pub fn import_rate_card(&mut self, card: &RateCard) -> Result<ImportSummary> {
        let tx = self.write()?;
        // On a conflict `tx` is dropped, which rolls back the versions already added.
        let summary = catalogue::import(&tx, card)?;
        tx.commit()?;
        Ok(summary)
    }

    /// Every version of the currency's card (an empty card when none was imported).
    pub fn rate_card(&self, currency: Currency) -> Result<RateCard> {
        catalogue::read_card(&self.conn, currency)
    }

    /// Currencies that have a rate card.
    pub fn currencies(&self) -> Result<Vec<Currency>> {
        catalogue::currencies(&self.conn)
    }

    /// Ids of every tenant, sorted.
    pub fn tenant_ids(&self) -> Result<Vec<String>> {
        directory::tenant_ids(&self.conn)
    }

    /// A tenant's directory, wallet and pool (with an empty `seen` map), checking C24 against
    /// the journal totals; `None` for an unknown tenant.
    pub fn load_book(&self, tenant_id: &str) -> Result<Option<TenantBook>> {
        // One read transaction: the directory, wallet and journal come from the same commit
        // even while another process writes.
        let tx = self.conn.unchecked_transaction()?;
        let Some(tenant) = directory::read(&tx, tenant_id)? else {
            return Ok(None);
        };
        let invariant = |detail: String| StoreError::Invariant {
            tenant: tenant_id.to_string(),
            detail,
        };
        let snapshot = ledger::read_wallet(&tx, tenant_id)?.ok_or_else(|| {
            StoreError::Corrupt(format!("tenant {tenant_id} has no wallet_state row"))
        })?;
        let wallet = Wallet::restore(snapshot).map_err(invariant)?;
        ledger::verify(tenant_id, &wallet, &ledger::read_journal(&tx, tenant_id)?)?;
        let mut book = TenantBook::new(tenant);
        book.wallet = wallet;
        book.pool_used = outbox::read_pool(&tx, tenant_id)?;
        book.scheduled = ledger::read_scheduled(&tx, tenant_id)?;
        Ok(Some(book))
    }

    /// Writes the whole directory of `book.tenant` (tenant row, purchases, wallet settings,
    /// users with licenses and policies, numbers), the wallet snapshot, scheduled fundings and
    /// pool counters, and
    /// `commit`, in one transaction.
    pub fn save(&mut self, book: &TenantBook, commit: &Commit) -> Result<()> {
        let id = book.tenant.id.as_str();
        let tx = self.write()?;
        directory::write(&tx, &book.tenant)?;
        ledger::write_wallet(&tx, id, &book.wallet.snapshot())?;
        ledger::write_scheduled(&tx, id, &book.scheduled)?;
        outbox::write_pool(&tx, id, &book.pool_used)?;
        calls::insert(&tx, id, &commit.calls)?;
        ledger::append_entries(&tx, id, &commit.entries)?;
        outbox::append_events(&tx, id, &commit.events)?;
        outbox::insert_funding_refs(&tx, id, &commit.funding_refs)?;
        tx.commit()?;
        Ok(())
    }

    /// The stored outcomes of these call ids (C23).
    pub fn seen(&self, tenant_id: &str, call_ids: &[&str]) -> Result<HashMap<String, Seen>> {
        calls::seen(&self.conn, tenant_id, call_ids)
    }

    /// Funding references already applied for the tenant.
    pub fn funding_refs(&self, tenant_id: &str) -> Result<Vec<String>> {
        outbox::read_funding_refs(&self.conn, tenant_id)
    }

    /// Calls that started in `[from, to)`, in canonical order (start, call_id).
    pub fn calls(
        &self,
        tenant_id: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<StoredCall>> {
        calls::in_range(&self.conn, tenant_id, from, to)
    }

    /// The whole journal of a tenant, by `seq`.
    pub fn journal(&self, tenant_id: &str) -> Result<Vec<Entry>> {
        // Entries and postings are two queries: read them from one snapshot.
        let tx = self.conn.unchecked_transaction()?;
        ledger::read_journal(&tx, tenant_id)
    }

    /// The outbox, oldest first.
    pub fn events(&self, tenant_id: &str) -> Result<Vec<(u64, String, Timestamp)>> {
        outbox::read_events(&self.conn, tenant_id)
    }

    /// Pool minutes used per month.
    pub fn pool(&self, tenant_id: &str) -> Result<BTreeMap<Month, u32>> {
        outbox::read_pool(&self.conn, tenant_id)
    }
}
