//! Minutely's durable store: SQLite in WAL mode with `synchronous=FULL`, versioned migrations,
//! one transaction per committed batch. The only crate that knows SQL; the core never sees it.
//!
//! Nothing is reported as done before the transaction that holds it has committed: every
//! writing method here returns only after `COMMIT` succeeded.

mod access;
mod audit;
mod backup;
mod calls;
mod catalogue;
mod checkpoint;
mod codec;
mod db;
mod directory;
mod guard;
pub mod guard_image;
mod integrity;
mod lease;
mod ledger;
mod migrate;
mod outbox;
mod pg;
mod prices;
mod rerate;
mod reservations;
mod schema;
mod stream;
mod webhooks;

pub use access::ApiKey;
pub use audit::{ActorKind, AuditEntry, AuditRecord};
pub use backup::{VerifyReport, restore, verify};
pub use integrity::{Sidecar, read_sidecar, sidecar_path};
pub use lease::{CATALOGUE_CHANNEL, LeaseRow, NodeRow};
pub use migrate::MigrationReport;
pub use pg::{is_postgres, listen, redacted};

/// Held by the one process whose memory holds a store's tenants (the server), and briefly by
/// each command that changes them: while a server runs, the command line cannot change what the
/// server would overwrite. An advisory lock on `<db>.lock`, released when dropped or when the
/// process dies.
#[derive(Debug)]
pub struct OwnerLock {
    _held: Held,
}

/// What holds an owner lock: the lock file, or the PostgreSQL session holding the advisory lock.
enum Held {
    File(#[allow(dead_code)] std::fs::File),
    Session(#[allow(dead_code)] Box<pg::OwnerSession>),
}

impl std::fmt::Debug for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Held::File(file) => write!(f, "File({file:?})"),
            Held::Session(_) => write!(f, "Session"),
        }
    }
}

/// Takes the owner lock of the store at `db`, without waiting. On PostgreSQL it is an
/// advisory lock held by a session of its own.
pub fn claim(db: &Path) -> Result<OwnerLock> {
    if pg::is_postgres(db) {
        let session = pg::claim(db, false)?;
        return Ok(OwnerLock {
            _held: Held::Session(Box::new(session)),
        });
    }
    let mut name = db.as_os_str().to_owned();
    name.push(".lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(PathBuf::from(name))
        .map_err(|e| {
            StoreError::Lock(format!(
                "cannot open the lock file of {}: {e}",
                db.display()
            ))
        })?;
    match file.try_lock() {
        Ok(()) => Ok(OwnerLock {
            _held: Held::File(file),
        }),
        Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::InUse(db.to_path_buf())),
        Err(std::fs::TryLockError::Error(e)) => Err(StoreError::Lock(format!(
            "cannot lock {}: {e}",
            db.display()
        ))),
    }
}
/// Takes the owner lock of a PostgreSQL store shared, as each node of a cluster does: the
/// nodes write side by side (each write fenced by its tenant's lease), and a command that
/// needs the store alone (`claim`) is refused while any node runs.
pub fn claim_shared(db: &Path) -> Result<OwnerLock> {
    if !pg::is_postgres(db) {
        return Err(StoreError::Location(
            "several nodes need a PostgreSQL store: an embedded store has one owner".into(),
        ));
    }
    let session = pg::claim(db, true)?;
    Ok(OwnerLock {
        _held: Held::Session(Box::new(session)),
    })
}

pub use rerate::{FundedLot, RerateRow, RerateRun};
pub use stream::StreamPosition;
pub use webhooks::{Delivery, StoredEvent, WebhookEndpoint};

use db::Db;
use jiff::Timestamp;
use minutely_core::catalogue::{CountryTable, RateCard};
use minutely_core::control::Reservation;
use minutely_core::directory::{AmountRules, Tenant};
use minutely_core::engine::{Month, Outcome, ScheduledFunding, Seen, TenantBook};
use minutely_core::guard::{Guard, GuardLimits, GuardMode, OperatorGuard, RiskList, TenantGuard};
use minutely_core::ledger::{Entry, Event, LotId, Wallet, WalletSnapshot};
use minutely_core::live::check_grant;
use minutely_core::money::Currency;
use minutely_core::rating::CallRecord;
use rust_decimal::Decimal;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A store failure: the operation changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL refused a statement or the connection failed.
    #[error("PostgreSQL error: {}", pg_detail(.0))]
    Postgres(#[from] tokio_postgres::Error),
    /// A statement of a PostgreSQL transaction failed earlier, so the transaction was rolled
    /// back instead of committed.
    #[error("a statement of the transaction failed, so nothing of it was committed")]
    Aborted,
    /// A fenced commit found that this node no longer holds the tenant's lease under the epoch
    /// it loaded the tenant with (another node took it over): nothing was written.
    #[error(
        "this node no longer owns tenant {tenant} (its lease was taken over); nothing was written"
    )]
    Fenced { tenant: String },
    /// A PostgreSQL store location that cannot be used as given.
    #[error("{0}")]
    Location(String),
    /// The file was written by a newer Minutely.
    #[error(
        "the database schema version {found} is newer than this program knows ({known}); upgrade minutely"
    )]
    TooNew { found: i64, known: i64 },
    /// A read-only open found a file its writer has not migrated yet (a reader cannot migrate).
    #[error(
        "the database schema version {found} is older than this program's ({known}); open it once read-write (start the server or run any command) to migrate it"
    )]
    NotMigrated { found: i64, known: i64 },
    /// A read-only open of a file that does not exist.
    #[error("no database at {0}: a read-only open never creates one")]
    Missing(PathBuf),
    /// The OS random source failed (making the server's key).
    #[error("the OS random source failed: {0}")]
    Random(String),
    /// The owner lock could not be taken for a reason other than another owner.
    #[error("{0}")]
    Lock(String),
    /// Another process owns the store's state (a running server).
    #[error(
        "{} is in use by a running minutely server; stop it, or make the change through its API",
        pg::redacted(.0)
    )]
    InUse(PathBuf),
    /// A rate-card version with this `effective_from` already exists with other content.
    #[error(
        "the {currency} rate card already has a version effective from {effective_from} with different content; import the fix as a new version, or replace this one (rates import --replace) and rerate the calls it priced"
    )]
    VersionConflict {
        currency: String,
        effective_from: Timestamp,
    },
    /// Stored data that does not read back (a corrupted or hand-edited file).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// A backup or restore refused before anything changed: an existing destination, a file
    /// that fails verification (corrupt, unknown schema version, a broken ledger).
    #[error("{0}")]
    Backup(String),
    /// C24 does not hold for a tenant read back from disk.
    #[error("ledger invariant (C24) broken for tenant {tenant}: {detail}")]
    Invariant { tenant: String, detail: String },
    /// The store's files are damaged: committed transactions are missing (see `integrity`) or
    /// pages do not read back. Refused before anything was changed.
    #[error(
        "the store {} is damaged: {detail}. Nothing was changed. Stop here and restore the last good backup with `minutely restore --from <backup> --db {} --force` (keep a copy of the damaged files first if you want them examined)",
        path.display(),
        path.display()
    )]
    Damaged { path: PathBuf, detail: String },
    /// SQLite can open the database only for reading: a server on it would refuse every change.
    #[error(
        "{path} can only be opened read-only: make the file and its directory writable; if they are, the file's header is damaged: restore the last good backup with `minutely restore --from <backup> --db {path} --force`",
        path = .0.display()
    )]
    ReadOnly(PathBuf),
}

impl StoreError {
    /// True when stored data is damaged or does not add up (`Damaged`, `Corrupt`, a broken
    /// C24, or SQLite finding the file corrupt): what restoring a backup answers.
    pub fn is_damage(&self) -> bool {
        use rusqlite::ErrorCode::{DatabaseCorrupt, NotADatabase};
        match self {
            StoreError::Damaged { .. } | StoreError::Corrupt(_) | StoreError::Invariant { .. } => {
                true
            }
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
                matches!(e.code, DatabaseCorrupt | NotADatabase)
            }
            _ => false,
        }
    }

    /// True when the store could not be reached: a PostgreSQL connection that ended or could
    /// not be made, or a server shutting down or starting up (SQLSTATE classes 08 and 57P).
    /// Waiting and trying again may succeed. A connection lost during `COMMIT` leaves the
    /// outcome unknown: the caller must read the state back before trusting its memory.
    pub fn is_unreachable(&self) -> bool {
        match self {
            StoreError::Postgres(e) => match e.code() {
                Some(code) => {
                    let code = code.code();
                    code.starts_with("08") || code.starts_with("57P")
                }
                None => e.is_closed() || e.as_db_error().is_none(),
            },
            _ => false,
        }
    }

    /// True when SQLite refused the write for a constraint: a duplicate id or reference, an
    /// unknown tenant, a value a CHECK refuses. For callers that answer "conflict" rather than
    /// "failure".
    pub fn is_constraint(&self) -> bool {
        match self {
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
                e.code == rusqlite::ErrorCode::ConstraintViolation
            }
            // Class 23: integrity constraint violation.
            StoreError::Postgres(e) => e.code().is_some_and(|c| c.code().starts_with("23")),
            _ => false,
        }
    }
}

/// A PostgreSQL error with the server's message and detail, when it sent them.
fn pg_detail(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => format!("{}: {detail}", db.message()),
            None => db.message().to_string(),
        },
        None => e.to_string(),
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// What importing a rate card did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// `effective_from` of versions added.
    pub added: Vec<Timestamp>,
    /// `effective_from` of versions already present with identical content.
    pub unchanged: Vec<Timestamp>,
    /// `effective_from` of versions replaced by a corrected one (`replace_rate_versions`).
    pub replaced: Vec<Timestamp>,
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
    /// Calls a rerate charged again: their new outcome replaces the stored one.
    pub rerated: Vec<(String, Outcome)>,
    /// Rerate runs made in this batch.
    pub rerate_runs: Vec<RerateRun>,
}

/// Everything one batch changed for one tenant (see `Store::commit_batch`).
#[derive(Debug, Clone, Default)]
pub struct TenantChanges {
    pub tenant_id: String,
    /// The whole directory, when it changed (or the tenant is new): rewritten like `save` does.
    pub directory: Option<Tenant>,
    /// The wallet snapshot, when the wallet changed: the wallet_state row and the tenant's lots
    /// become the snapshot's, only the rows that differ being written. Required when
    /// `commit.entries` is not empty.
    pub wallet: Option<WalletSnapshot>,
    /// The scheduled fundings, when they changed (replaced).
    pub scheduled: Option<Vec<ScheduledFunding>>,
    /// Pool counters of the months that changed (upserted; other months are left as stored).
    pub pool: BTreeMap<Month, u32>,
    /// Calls, journal entries, events and funding references, as in `Commit`.
    pub commit: Commit,
    /// Reservations created or changed (upserted by call id). Each record's `end` must equal
    /// its `start`.
    pub reservations_put: Vec<Reservation>,
    /// Reservations to delete, by call id (applied after `reservations_put`, so an id in both is
    /// deleted; unknown ids are ignored).
    pub reservations_drop: Vec<String>,
    /// The toll-fraud guard's counters (`GuardState::to_bytes`), when the guard is on.
    pub guard_state: Option<Vec<u8>>,
}

/// The store.
pub struct Store {
    /// The checkpoint thread, when `checkpoint_in_background` started one. Declared before
    /// `conn` so that it is stopped before the writer's connection closes.
    checkpointer: Option<checkpoint::Checkpointer>,
    conn: Db,
    /// The commit watermark's writer (see `integrity`); `None` on a read-only store.
    watermark: Option<integrity::Publisher>,
    /// The commit sequence written by `in_write` inside `atomically`, published once the
    /// enclosing transaction commits.
    pending_seq: Option<u64>,
    /// This node and its tenants' lease epochs, which every batch commit checks (`lease`).
    fencing: Option<lease::Fencing>,
    /// The toll-fraud guard's operator part as last read or written, shared by every book
    /// loaded (`guard_operator`).
    guard_operator: std::sync::Mutex<Option<std::sync::Arc<OperatorGuard>>>,
}

impl Store {
    /// Opens (creating if needed) the database at `path`: WAL, `synchronous=FULL`, foreign
    /// keys on, migrations applied. A new database gets `countries` as its country table.
    ///
    /// First, without changing anything, the database must hold every commit its sidecar
    /// `<db>.commit` records (see `integrity`): a store that lost committed transactions (a
    /// damaged WAL, a truncated, deleted or replaced file) is refused as `Damaged`, as is a file
    /// SQLite finds corrupt or not a database. Then the sidecar is brought up to the database.
    pub fn open(path: &Path, countries: &CountryTable) -> Result<Store> {
        Store::open_after(path, countries, integrity::Pages::Unchecked)
    }

    /// `open`, after SQLite's `quick_check` has read every page of the file (the b-trees,
    /// their cells and the free list; not the match of indexes to tables): a damaged page is
    /// refused as `Damaged` before anything is changed, rather than met later by a request. It
    /// reads the whole file, so its cost grows with the file's size: for the server's start.
    pub fn open_checked(path: &Path, countries: &CountryTable) -> Result<Store> {
        Store::open_after(path, countries, integrity::Pages::Checked)
    }

    fn open_after(path: &Path, countries: &CountryTable, pages: integrity::Pages) -> Result<Store> {
        if let Some(url) = pg::url_of(path) {
            return Ok(Store::on(pg::open(url, countries)?, None));
        }
        integrity::check(path, pages)?;
        let open = || -> Result<(Db, u64)> {
            let conn = rusqlite::Connection::open(path)?;
            schema::configure(&conn)?;
            let db = Db::Lite(conn);
            schema::migrate(&db, |tx| catalogue::write_countries(tx, countries))?;
            let conn = db.lite().expect("a SQLite store");
            // Known only once the header has been read (by the migration).
            if conn.is_readonly(rusqlite::MAIN_DB)? {
                return Err(StoreError::ReadOnly(path.to_path_buf()));
            }
            let seq = integrity::held(conn)?;
            Ok((db, seq))
        };
        let (conn, seq) = open().map_err(|e| integrity::damaged(path, e))?;
        Ok(Store::on(conn, Some(integrity::Publisher::open(path, seq))))
    }

    fn on(conn: Db, watermark: Option<integrity::Publisher>) -> Store {
        Store {
            checkpointer: None,
            conn,
            watermark,
            pending_seq: None,
            fencing: None,
            guard_operator: std::sync::Mutex::new(None),
        }
    }

    /// True for a store on PostgreSQL (`postgres://...`).
    pub fn is_postgres(&self) -> bool {
        self.conn.is_pg()
    }

    /// Opens an existing database for reading only, for the server's readers while one writer
    /// (a `Store::open` connection, possibly in another process) commits: in WAL mode they see
    /// the last committed state and never block it. Refuses a missing file (`Missing`; nothing
    /// is created), a newer schema (`TooNew`) and a file not yet migrated to this program's
    /// schema (`NotMigrated`). Every writing method of the store fails on it.
    pub fn open_read_only(path: &Path) -> Result<Store> {
        use rusqlite::OpenFlags;
        if let Some(url) = pg::url_of(path) {
            return Ok(Store::on(pg::open_read_only(url)?, None));
        }
        match std::fs::metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::Missing(path.to_path_buf()));
            }
            _ => {}
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let conn = rusqlite::Connection::open_with_flags(path, flags)?;
        schema::configure_read_only(&conn)?;
        Ok(Store::on(Db::Lite(conn), None))
    }

    /// The connection's durability settings as SQLite reports them: (`journal_mode`,
    /// `synchronous`), such as `("wal", 2)`. For health checks and tests.
    /// On PostgreSQL: (`"postgres"`, 2) when `synchronous_commit` is `on` (a commit returns
    /// once flushed), 0 otherwise.
    pub fn durability(&self) -> Result<(String, i64)> {
        let Some(conn) = self.conn.lite() else {
            return pg::durability(&self.conn);
        };
        let mode = conn.pragma_query_value(None, "journal_mode", |row| row.get(0))?;
        let synchronous = conn.pragma_query_value(None, "synchronous", |row| row.get(0))?;
        Ok((mode, synchronous))
    }

    /// The schema version of the database (`PRAGMA user_version` on SQLite).
    pub fn schema_version(&self) -> Result<i64> {
        match self.conn.lite() {
            Some(conn) => Ok(conn.pragma_query_value(None, "user_version", |row| row.get(0))?),
            None => pg::schema_version(&self.conn),
        }
    }

    /// Runs `f` in a write transaction and commits it. IMMEDIATE takes the write lock up front,
    /// so a concurrent writer waits (busy timeout) instead of failing half-way through. When
    /// `f` fails, the transaction is dropped, which rolls back everything `f` wrote. Inside
    /// `atomically`, `f` runs in a savepoint instead: its writes become part of the enclosing
    /// transaction and commit with it (and are undone alone when `f` fails).
    fn in_write<T>(&mut self, f: impl FnOnce(&Db) -> Result<T>) -> Result<T> {
        // Every write transaction of a SQLite store advances the commit sequence, published to
        // the sidecar only once the commit returned (see `integrity`).
        let counted = |db: &Db| db.lite().map(integrity::advance).transpose();
        if !self.conn.is_autocommit() {
            let (out, seq) = self.conn.savepoint(|db| Ok((f(db)?, counted(db)?)))?;
            self.pending_seq = seq.or(self.pending_seq);
            return Ok(out);
        }
        let tx = self.conn.begin_write()?;
        let out = f(&tx)?;
        let seq = counted(&tx)?;
        tx.commit()?;
        if let Some(seq) = seq {
            self.published(seq);
        }
        Ok(out)
    }

    /// Commit `seq` is durable: the sidecar says so (before any caller is answered).
    fn published(&mut self, seq: u64) {
        if let Some(watermark) = &mut self.watermark {
            watermark.publish(seq);
        }
        if let (Some(checkpointer), Some(conn)) = (&self.checkpointer, self.conn.lite()) {
            checkpointer.committed(conn);
        }
    }

    /// Moves checkpoints off this connection onto a thread of their own (see `checkpoint`):
    /// for a long-lived writer, whose commits then never copy the WAL back into the database
    /// file themselves. The thread stops when the store is dropped. Call it from the thread
    /// that commits, on a read-write store; it does nothing when already done. On an error
    /// (said in the answer) SQLite keeps checkpointing inside commits, as before.
    pub fn checkpoint_in_background(&mut self) -> std::result::Result<(), String> {
        if self.checkpointer.is_some() {
            return Ok(());
        }
        if self.watermark.is_none() {
            return Err("a read-only store does not checkpoint".into());
        }
        let conn = self.conn.lite().ok_or("PostgreSQL checkpoints by itself")?;
        let path = conn
            .path()
            .filter(|p| !p.is_empty())
            .ok_or("the store has no file")?
            .to_owned();
        let checkpointer = checkpoint::Checkpointer::start(Path::new(&path), conn)?;
        self.checkpointer = Some(checkpointer);
        Ok(())
    }

    /// Runs `f` in ONE write transaction: every change `f` makes through this store commits
    /// together when `f` succeeds, and none of them does when `f` fails (or the commit does).
    /// This is how a change and its audit row are written together (`append_audit`). Not to
    /// be nested.
    pub fn atomically<T, E>(
        &mut self,
        f: impl FnOnce(&mut Store) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E>
    where
        E: From<StoreError>,
    {
        self.conn.begin_write().map_err(E::from)?.keep_open();
        let out = f(self);
        let pending_seq = self.pending_seq.take();
        if let Err(e) = self.conn.end(out.is_ok()) {
            // A failed COMMIT may leave the transaction open: end it so nothing of it stays.
            if !self.conn.is_autocommit() {
                let _ = self.conn.end(false);
            }
            if out.is_ok() {
                return Err(E::from(e));
            }
        }
        if let (Ok(_), Some(seq)) = (&out, pending_seq) {
            self.published(seq);
        }
        out
    }

    /// Appends rows to the audit log (in the caller's transaction inside `atomically`).
    pub fn append_audit(&mut self, entries: &[AuditEntry]) -> Result<()> {
        self.in_write(|tx| audit::append(tx, entries))
    }

    /// Up to `limit` audit rows after `after_seq`, oldest first: of every tenant and the
    /// operator-wide ones with `tenant: None`, of that tenant only otherwise.
    pub fn audit_page(
        &self,
        tenant: Option<&str>,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<AuditRecord>> {
        audit::page(&self.conn, tenant, after_seq, limit)
    }

    /// The operator's country table.
    pub fn countries(&self) -> Result<CountryTable> {
        catalogue::read_countries(&self.conn)
    }

    /// The operator's amount rules (C11: the minimum funding, recharge amount and trigger): the
    /// default under the settings key `minimum_amount`, and each currency's own minimum under
    /// `minimum_amount.<CODE>` (`minimum_amount.JPY`).
    pub fn amount_rules(&self) -> Result<AmountRules> {
        let mut statement = self.conn.prepare_cached(
            "SELECT key, value FROM settings
             WHERE key = 'minimum_amount' OR key LIKE 'minimum_amount.%' ORDER BY key",
        )?;
        let rows = statement.query_map((), |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })?;
        let mut rules = AmountRules::default();
        for row in rows {
            let (key, text) = row?;
            read_minimum(&mut rules, &key, &text)?;
        }
        Ok(rules)
    }

    /// Sets the operator's amount rules: the default and every currency's own minimum (a
    /// currency left out follows the default).
    pub fn set_amount_rules(&mut self, rules: &AmountRules) -> Result<()> {
        self.in_write(|tx| {
            tx.execute(
                "INSERT INTO settings (key, value) VALUES ('minimum_amount', ?1)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [codec::dec(rules.minimum)],
            )?;
            tx.execute("DELETE FROM settings WHERE key LIKE 'minimum_amount.%'", ())?;
            for (currency, minimum) in &rules.by_currency {
                tx.execute(
                    "INSERT INTO settings (key, value) VALUES (?1, ?2)",
                    [
                        format!("minimum_amount.{}", currency.code()),
                        codec::dec(*minimum),
                    ],
                )?;
            }
            Ok(())
        })
    }

    /// The operator's license prices, one entry per currency that has any, by currency code.
    pub fn license_prices(&self) -> Result<Vec<minutely_core::advisor::LicensePrices>> {
        prices::read_all(&self.conn)
    }

    /// The license prices of one currency (none set when it has none).
    pub fn license_prices_of(
        &self,
        currency: Currency,
    ) -> Result<minutely_core::advisor::LicensePrices> {
        prices::read(&self.conn, currency)
    }

    /// Replaces every license price of `prices.currency` with `prices` (operator edit).
    pub fn set_license_prices(
        &mut self,
        prices: &minutely_core::advisor::LicensePrices,
    ) -> Result<()> {
        self.in_write(|tx| prices::replace(tx, prices))
    }

    /// Replaces the country table (operator edit).
    pub fn replace_countries(&mut self, countries: &CountryTable) -> Result<()> {
        self.in_write(|tx| catalogue::write_countries(tx, countries))
    }

    /// Adds the versions of `card`; identical versions are left as they are; a version with the
    /// same `effective_from` and other content refuses the whole import.
    pub fn import_rate_card(&mut self, card: &RateCard) -> Result<ImportSummary> {
        // On a conflict the versions already added are rolled back.
        self.in_write(|tx| catalogue::import(tx, card, false))
    }

    /// `import_rate_card`, where a version with the same `effective_from` and other entries is
    /// replaced by the card's (a corrected version, before a rerate) instead of refused.
    pub fn replace_rate_versions(&mut self, card: &RateCard) -> Result<ImportSummary> {
        self.in_write(|tx| catalogue::import(tx, card, true))
    }

    /// Every version of the currency's card (an empty card when none was imported).
    pub fn rate_card(&self, currency: Currency) -> Result<RateCard> {
        catalogue::read_card(&self.conn, currency)
    }

    /// Currencies that have a rate card.
    pub fn currencies(&self) -> Result<Vec<Currency>> {
        catalogue::currencies(&self.conn)
    }

    /// Up to `limit` tenants after `after`, by id, each as its row alone (name, country,
    /// currency, time zone, agreement, default policy): a listing's page.
    pub fn tenant_rows(&self, after: Option<&str>, limit: usize) -> Result<Vec<Tenant>> {
        directory::tenant_rows(&self.conn, after, limit)
    }

    /// One tenant's row alone, or `None` when there is no such tenant.
    pub fn tenant_row(&self, id: &str) -> Result<Option<Tenant>> {
        directory::read_tenant_row(&self.conn, id)
    }

    /// Ids of every tenant, sorted.
    pub fn tenant_ids(&self) -> Result<Vec<String>> {
        directory::tenant_ids(&self.conn)
    }

    /// A tenant's directory, wallet, pool, scheduled fundings and reservations (with an empty
    /// `seen` map), checking C24 against the journal totals; `None` for an unknown tenant.
    pub fn load_book(&self, tenant_id: &str) -> Result<Option<TenantBook>> {
        // One read transaction: the directory, wallet and journal come from the same commit
        // even while another process writes.
        let tx = self.conn.begin_read()?;
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
        // The live state is built from the stored reservations (what they hold is counted from
        // them), each checked against its grant first, so a damaged row is refused, not held.
        let reservations = reservations::read(&tx, tenant_id)?;
        let damaged = reservations
            .iter()
            .filter(|r| r.live)
            .find_map(|r| check_grant(&r).err());
        if let Some(detail) = damaged {
            return Err(invariant(detail));
        }
        book.load_reservations(reservations);
        let (settings, state) = guard::read_tenant(&tx, tenant_id)?;
        book.guard = Guard::new(self.guard_operator()?, settings);
        book.guard.state = state.unwrap_or_default();
        Ok(Some(book))
    }

    /// The toll-fraud guard's operator part (default mode, thresholds, high-risk list), read
    /// once and then kept until `set_guard_operator` or `forget_guard_operator`.
    pub fn guard_operator(&self) -> Result<Arc<OperatorGuard>> {
        let mut cached = self
            .guard_operator
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(operator) = &*cached {
            return Ok(Arc::clone(operator));
        }
        let operator = Arc::new(guard::read_operator(&self.conn)?);
        *cached = Some(Arc::clone(&operator));
        Ok(operator)
    }

    /// Forgets the cached operator part (another process may have changed it).
    pub fn forget_guard_operator(&self) {
        *self
            .guard_operator
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Writes the operator's default mode, and the thresholds and the high-risk list when
    /// given (each replaced whole), in one transaction; the operator part as now stored.
    pub fn set_guard_operator(
        &mut self,
        default_mode: GuardMode,
        limits: Option<&GuardLimits>,
        list: Option<&RiskList>,
        at: Timestamp,
    ) -> Result<Arc<OperatorGuard>> {
        self.in_write(|tx| guard::write_operator(tx, default_mode, limits, list, at))?;
        self.forget_guard_operator();
        self.guard_operator()
    }

    /// Writes a tenant's guard settings (its counters kept).
    pub fn set_guard_settings(&mut self, tenant: &str, settings: &TenantGuard) -> Result<()> {
        self.in_write(|tx| guard::write_settings(tx, tenant, settings))
    }

    /// Writes the whole directory of `book.tenant` (tenant row, purchases, wallet settings,
    /// users with licenses and policies, numbers), the wallet snapshot, scheduled fundings and
    /// pool counters, and `commit`, in one transaction. Reservations are not written (the
    /// server keeps them through `commit_batch`), so a save never drops a live call's hold.
    pub fn save(&mut self, book: &TenantBook, commit: &Commit) -> Result<()> {
        let id = book.tenant.id.as_str();
        self.in_write(|tx| {
            directory::write(tx, &book.tenant)?;
            ledger::write_wallet(tx, id, &book.wallet.snapshot())?;
            ledger::write_scheduled(tx, id, &book.scheduled)?;
            outbox::write_pool(tx, id, &book.pool_used)?;
            calls::insert(tx, id, &commit.calls)?;
            ledger::append_entries(tx, id, &commit.entries)?;
            outbox::append_events(tx, id, &commit.events)?;
            outbox::insert_funding_refs(tx, id, &commit.funding_refs)
        })
    }

    /// Commits what one batch changed for many tenants in ONE transaction: all of it, or (on any
    /// error) nothing. For each tenant in order: the directory first (so that a new tenant's
    /// rows satisfy their foreign keys), then the wallet, scheduled fundings, pool counters,
    /// calls, journal entries, events, funding references and reservations. A tenant may
    /// appear more than once; its parts are applied in order. Calls, entries and events
    /// continue the tenant's stored sequences (one `MAX(seq)` lookup each per tenant).
    pub fn commit_batch(&mut self, changes: &[TenantChanges]) -> Result<()> {
        self.commit_batch_audited(changes, &[])
    }

    /// `commit_batch` with the audit rows of the changes, appended (in order, after every
    /// tenant's changes) in the same transaction: the rows commit exactly when the changes do.
    pub fn commit_batch_audited(
        &mut self,
        changes: &[TenantChanges],
        audit: &[AuditEntry],
    ) -> Result<()> {
        let fencing = self.fencing.take();
        let out = self.in_write(|tx| {
            for change in changes {
                if let Some(fencing) = &fencing {
                    lease::check(tx, fencing, &change.tenant_id)?;
                }
                // On an error the tenants already written are rolled back.
                write_changes(tx, change)?;
            }
            audit::append(tx, audit)
        });
        self.fencing = fencing;
        out
    }

    /// Adds an API key; an id already used, a kind other than `operator`, `tenant_admin` and
    /// `bridge`, a tenant on an operator key (or none on another) or an unknown tenant is
    /// refused (`StoreError::is_constraint`).
    pub fn insert_key(&mut self, key: &ApiKey) -> Result<()> {
        self.in_write(|tx| access::insert(tx, key))
    }

    /// The language the holder of key `key_id` chose (`en`, `ja`, `zh-CN`, `fr`, `de`), if any.
    pub fn preferred_lang(&self, key_id: &str) -> Result<Option<String>> {
        access::preferred_lang(&self.conn, key_id)
    }

    /// Keeps the language of key `key_id`'s holder; an unknown key or a language other than
    /// the five is refused (`StoreError::is_constraint`).
    pub fn set_preferred_lang(&mut self, key_id: &str, lang: &str, at: Timestamp) -> Result<()> {
        self.in_write(|tx| access::set_preferred_lang(tx, key_id, lang, at))
    }

    /// The tenant's rerate runs, newest first, at most `limit` (without their calls).
    pub fn rerate_runs(&self, tenant: &str, limit: usize) -> Result<Vec<RerateRun>> {
        rerate::runs(&self.conn, tenant, limit)
    }

    /// One rerate run with the calls it changed or kept, or `None`.
    pub fn rerate_run(&self, tenant: &str, id: &str) -> Result<Option<RerateRun>> {
        rerate::run(&self.conn, tenant, id)
    }

    /// How many rerate runs the tenant has.
    pub fn rerate_count(&self, tenant: &str) -> Result<u64> {
        rerate::count(&self.conn, tenant)
    }

    /// The lots `ids` as the journal's funding and recharge entries record them.
    pub fn funded_lots(&self, tenant: &str, ids: &[LotId]) -> Result<Vec<FundedLot>> {
        rerate::funded_lots(&self.conn, tenant, ids)
    }

    /// The tenants that hold the service number `number`, by tenant id (a dedicated number has
    /// one; a shared one may have several): an index look-up, for the SIP edge's question
    /// "whose number is this?".
    pub fn number_owners(
        &self,
        number: &minutely_core::numbers::E164,
    ) -> Result<Vec<(String, minutely_core::directory::ServiceNumber)>> {
        directory::number_owners(&self.conn, number)
    }

    /// Every API key, revoked ones included, by `created_at` then `id`.
    pub fn keys(&self) -> Result<Vec<ApiKey>> {
        access::list(&self.conn)
    }

    /// Revokes a key at `at`; false when the id is unknown or the key already revoked (its
    /// first revocation instant is kept).
    pub fn revoke_key(&mut self, id: &str, at: Timestamp) -> Result<bool> {
        self.in_write(|tx| access::revoke(tx, id, at))
    }

    /// The server's 32-byte HMAC key for API key digests: made from the OS random source on
    /// the first call and kept in `settings` (as hex), the same for every later call and
    /// process. Two processes asking at once agree: the key is made under the write lock.
    pub fn key_secret(&mut self) -> Result<[u8; 32]> {
        if let Some(secret) = access::read_secret(&self.conn)? {
            return Ok(secret);
        }
        self.in_write(|tx| {
            // Another process may have made it between the read above and the lock.
            match access::read_secret(tx)? {
                Some(secret) => Ok(secret),
                None => access::create_secret(tx),
            }
        })
    }

    /// Adds a webhook endpoint. Its `delivered_through` starts at the tenant's last event
    /// `seq` at the time of the insert (0 without events), whatever `e.delivered_through`
    /// says: a new endpoint receives only the events raised after it was registered. An id
    /// already used or an unknown tenant is refused (`StoreError::is_constraint`).
    pub fn insert_endpoint(&mut self, e: &WebhookEndpoint) -> Result<()> {
        self.in_write(|tx| webhooks::insert_endpoint(tx, e))
    }

    /// The webhook endpoints of a tenant (of every tenant with `None`), disabled ones included,
    /// by `created_at` then `id`.
    pub fn endpoints(&self, tenant: Option<&str>) -> Result<Vec<WebhookEndpoint>> {
        webhooks::endpoints(&self.conn, tenant)
    }

    /// Disables an endpoint at `at`; false when the id is unknown or the endpoint already
    /// disabled.
    pub fn disable_endpoint(&mut self, id: &str, at: Timestamp) -> Result<bool> {
        self.in_write(|tx| webhooks::disable_endpoint(tx, id, at))
    }

    /// Up to `limit` events of the tenant's outbox after `after_seq`, oldest first, with their
    /// fields parsed (for delivery: pass the endpoint's `delivered_through`).
    pub fn events_after(
        &self,
        tenant: &str,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>> {
        webhooks::events_after(&self.conn, tenant, after_seq, limit)
    }

    /// Logs a delivery attempt and, with `done_through: Some(seq)`, moves the endpoint's
    /// `delivered_through` to `seq` (never back), in one transaction. An unknown endpoint or
    /// an attempt already logged is refused (`StoreError::is_constraint`).
    pub fn record_delivery(&mut self, d: &Delivery, done_through: Option<u64>) -> Result<()> {
        self.in_write(|tx| webhooks::record_delivery(tx, d, done_through))
    }

    /// Every tenant, by id, with its last outbox event and the last one NATS JetStream
    /// acknowledged under the subject `prefix` (0 when none was).
    pub fn stream_positions(&self, prefix: &str) -> Result<Vec<(String, StreamPosition)>> {
        stream::positions(&self.conn, prefix)
    }

    /// Moves the tenants' stream cursors under `prefix` forward to the `seq` given with each
    /// (never back), in one transaction.
    pub fn advance_stream_cursors(
        &mut self,
        prefix: &str,
        through: &[(String, u64)],
        at: Timestamp,
    ) -> Result<()> {
        self.in_write(|tx| stream::advance(tx, prefix, through, at))
    }

    /// Up to `limit` delivery attempts of the endpoint, newest first (by `at`, then event and
    /// attempt).
    pub fn deliveries(&self, endpoint: &str, limit: usize) -> Result<Vec<Delivery>> {
        webhooks::deliveries(&self.conn, endpoint, limit)
    }

    /// Up to `limit` journal entries of the tenant after `after_seq`, by `seq`, with their
    /// postings.
    pub fn journal_page(&self, tenant: &str, after_seq: u64, limit: usize) -> Result<Vec<Entry>> {
        let tx = self.conn.begin_read()?;
        ledger::read_journal_page(&tx, tenant, after_seq, Some(limit))
    }

    /// The stored call with this id (C23: one per id), or `None`.
    pub fn call(&self, tenant: &str, call_id: &str) -> Result<Option<StoredCall>> {
        calls::one(&self.conn, tenant, call_id)
    }

    /// Calls that started in `[from, to)` after the cursor `(start, call_id)` exclusive (the
    /// last call of the previous page), canonical order (C22), at most `limit`;
    /// `refused_only` keeps calls with a reason.
    pub fn calls_page(
        &self,
        tenant: &str,
        from: Timestamp,
        to: Timestamp,
        after: Option<(Timestamp, &str)>,
        limit: usize,
        refused_only: bool,
    ) -> Result<Vec<StoredCall>> {
        calls::page(&self.conn, tenant, (from, to), after, limit, refused_only)
    }

    /// Up to `limit` events of the tenant's outbox after `after_seq`, oldest first, with their
    /// fields parsed.
    pub fn events_page(
        &self,
        tenant: &str,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>> {
        webhooks::events_after(&self.conn, tenant, after_seq, limit)
    }

    /// Up to `limit` events of the tenant of these kinds (1 to 8) after `after_seq`, oldest
    /// first (the guard's incidents are its `fraud.*` events).
    pub fn events_of_kinds(
        &self,
        tenant: &str,
        kinds: &[&str],
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>> {
        webhooks::events_of_kinds(&self.conn, tenant, kinds, after_seq, limit)
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
        let tx = self.conn.begin_read()?;
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

/// Writes one tenant's part of a batch (see `Store::commit_batch`).
fn write_changes(conn: &Db, c: &TenantChanges) -> Result<()> {
    let id = c.tenant_id.as_str();
    let broken = |detail: String| StoreError::Invariant {
        tenant: id.to_string(),
        detail,
    };
    if let Some(tenant) = &c.directory {
        if tenant.id != id {
            return Err(broken(format!(
                "the changes of tenant {id} carry the directory of tenant {}",
                tenant.id
            )));
        }
        directory::write(conn, tenant)?;
    }
    // C24: entries move the wallet, so they come with the snapshot that follows them.
    if let Some(last) = c.commit.entries.last() {
        match &c.wallet {
            None => {
                return Err(broken(format!(
                    "journal entries up to {} come without the wallet they change",
                    last.seq
                )));
            }
            Some(w) if Some(w.next_seq) != last.seq.checked_add(1) => {
                return Err(broken(format!(
                    "the last journal entry is {} but the wallet expects {} next",
                    last.seq, w.next_seq
                )));
            }
            Some(_) => {}
        }
    }
    if let Some(wallet) = &c.wallet {
        ledger::write_wallet(conn, id, wallet)?;
    }
    if let Some(scheduled) = &c.scheduled {
        ledger::write_scheduled(conn, id, scheduled)?;
    }
    outbox::write_pool(conn, id, &c.pool)?;
    calls::insert(conn, id, &c.commit.calls)?;
    ledger::append_entries(conn, id, &c.commit.entries)?;
    outbox::append_events(conn, id, &c.commit.events)?;
    outbox::insert_funding_refs(conn, id, &c.commit.funding_refs)?;
    rerate::update_charges(conn, id, &c.commit.rerated)?;
    rerate::insert_runs(conn, id, &c.commit.rerate_runs)?;
    reservations::put(conn, id, &c.reservations_put)?;
    reservations::delete(conn, id, &c.reservations_drop)?;
    if let Some(state) = &c.guard_state {
        guard::write_state(conn, id, state)?;
    }
    Ok(())
}

/// Reads one stored minimum into `rules`: the default, or a currency's own; a value that does not
/// read back as a valid minimum is corruption.
fn read_minimum(rules: &mut AmountRules, key: &str, text: &str) -> Result<()> {
    let corrupt = || codec::corrupt("settings", key, text);
    let minimum = text.parse::<Decimal>().map_err(|_| corrupt())?;
    match key.strip_prefix("minimum_amount.") {
        None => {
            *rules = AmountRules {
                by_currency: std::mem::take(&mut rules.by_currency),
                ..AmountRules::new(minimum).map_err(|_| corrupt())?
            };
        }
        Some(code) => {
            let currency = minutely_core::money::Currency::parse(code).map_err(|_| corrupt())?;
            rules
                .set_currency(currency, Some(minimum))
                .map_err(|_| corrupt())?;
        }
    }
    Ok(())
}
