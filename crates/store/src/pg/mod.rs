//! The store on PostgreSQL: where a store location names a server (`postgres://...`), how a
//! session is opened and configured, the schema's versions, and the owner lock.
//!
//! The schema is SQLite's (`schema::MIGRATIONS`), each migration read in PostgreSQL's types
//! (`ddl`): integers `BIGINT`, blobs `BYTEA`, texts `TEXT COLLATE "C"` (so that texts sort by
//! code point, as SQLite's BINARY collation does, whatever the database's locale), SQLite's
//! rowid keys identities. The version applied is the one row of `minutely_schema`.
//! Connections are unencrypted (`NoTls`): for a server on the same host or a private network.

mod client;

use crate::db::{Db, PgConn};
use crate::{Result, StoreError};
pub(crate) use client::PgClient;
use minutely_core::catalogue::CountryTable;
use std::cell::RefCell;
use std::path::Path;
use std::time::Duration;

/// How long opening a session waits for the server when the location sets no `connect_timeout`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The advisory lock key under which migrations run (one migrator at a time).
const MIGRATION_LOCK: i64 = 0x4d49_4e55_0001;

/// The advisory lock key of the owner lock (`claim`).
const OWNER_LOCK: i64 = 0x4d49_4e55_0002;

/// A read-write session's settings: a commit returns once flushed to the server's disk.
const WRITER_SETUP: &str = "SET synchronous_commit = on; SET TIME ZONE 'UTC'";

/// A reader's settings: every transaction read-only.
const READER_SETUP: &str = "SET default_transaction_read_only = on; SET TIME ZONE 'UTC'";

/// The URL when `path` names a PostgreSQL database (`postgres://` or `postgresql://`).
pub(crate) fn url_of(path: &Path) -> Option<&str> {
    let text = path.to_str()?;
    (text.starts_with("postgres://") || text.starts_with("postgresql://")).then_some(text)
}

/// True when a store location names a PostgreSQL database rather than a SQLite file.
pub fn is_postgres(location: &Path) -> bool {
    url_of(location).is_some()
}

/// The location without its password, for messages and logs.
pub fn redacted(location: &Path) -> String {
    let text = location.to_string_lossy();
    let Some(url) = url_of(location) else {
        return text.into_owned();
    };
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let (auth, host) = match rest.rsplit_once('@') {
        Some((auth, host)) => (Some(auth), host),
        None => (None, rest),
    };
    match auth.map(|a| a.split_once(':').map_or(a, |(user, _)| user)) {
        Some(user) => format!("{scheme}://{user}:***@{host}"),
        None => format!("{scheme}://{host}"),
    }
}

fn connect(url: &str, setup: &str) -> Result<PgClient> {
    let mut config: tokio_postgres::Config = url.parse().map_err(|e| {
        StoreError::Location(format!(
            "the store location {} is not a PostgreSQL connection URL: {e}",
            redacted(Path::new(url))
        ))
    })?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if config.get_application_name().is_none() {
        config.application_name("minutely");
    }
    Ok(PgClient::connect(&config, setup)?)
}

/// Opens a read-write session: `synchronous_commit` on (a commit returns once flushed to the
/// server's disk), the schema migrated, a new database seeded with `countries`.
pub(crate) fn open(url: &str, countries: &CountryTable) -> Result<Db> {
    let client = connect(url, WRITER_SETUP)?;
    let db = Db::Pg(Box::new(RefCell::new(PgConn::new(client))));
    migrate(&db, |tx| crate::catalogue::write_countries(tx, countries))?;
    db.execute_batch(crate::lease::DDL)?;
    Ok(db)
}

/// A read-write session on a database Minutely need not have migrated (for tests).
#[cfg(test)]
pub(crate) fn open_read_write(url: &str) -> Result<Db> {
    let client = connect(url, WRITER_SETUP)?;
    Ok(Db::Pg(Box::new(RefCell::new(PgConn::new(client)))))
}

/// Opens a session whose transactions are all read-only, on a database at this program's
/// schema version (an older one is refused: a reader cannot migrate).
pub(crate) fn open_read_only(url: &str) -> Result<Db> {
    let client = connect(url, READER_SETUP)?;
    let db = Db::Pg(Box::new(RefCell::new(PgConn::new(client))));
    let found = schema_version(&db)?;
    let known = crate::schema::known_version();
    if found > known {
        return Err(StoreError::TooNew { found, known });
    }
    if found < known {
        return Err(StoreError::NotMigrated { found, known });
    }
    Ok(db)
}

/// The version applied (0 for a database Minutely never wrote).
pub(crate) fn schema_version(db: &Db) -> Result<i64> {
    let exists: bool = db.query_row(
        "SELECT to_regclass('minutely_schema') IS NOT NULL",
        (),
        |row| row.get::<_, i64>(0).map(|v| v != 0),
    )?;
    if !exists {
        return Ok(0);
    }
    db.query_row("SELECT version FROM minutely_schema", (), |row| row.get(0))
}

/// (`"postgres"`, 2) when commits wait for the server's flush, (`"postgres"`, 0) otherwise.
pub(crate) fn durability(db: &Db) -> Result<(String, i64)> {
    let setting: String = db.query_row("SHOW synchronous_commit", (), |row| row.get(0))?;
    let level = if setting == "off" { 0 } else { 2 };
    Ok(("postgres".to_string(), level))
}

/// Applies the missing migrations in one transaction, under an advisory lock so that two
/// nodes starting on a new database do not both run them; a new database is seeded by `seed`
/// in that transaction.
fn migrate(db: &Db, seed: impl FnOnce(&Db) -> Result<()>) -> Result<()> {
    let tx = db.begin_write()?;
    tx.query_row("SELECT pg_advisory_xact_lock(?1)", [MIGRATION_LOCK], |_| {
        Ok(())
    })?;
    let found = schema_version(&tx)?;
    let known = crate::schema::known_version();
    if found > known {
        return Err(StoreError::TooNew { found, known });
    }
    if found == known {
        return tx.commit();
    }
    if found == 0 {
        tx.execute_batch(PRELUDE)?;
    }
    for migration in &crate::schema::MIGRATIONS[found as usize..] {
        tx.execute_batch(&ddl(migration))?;
    }
    tx.execute("UPDATE minutely_schema SET version = ?1", [known])?;
    if found == 0 {
        seed(&tx)?;
    }
    tx.commit()
}

/// What a new database gets before the first migration: the version row, and SQLite's
/// `json_valid` (used in CHECK constraints) as a function.
const PRELUDE: &str = r#"
CREATE TABLE minutely_schema (version BIGINT NOT NULL);
INSERT INTO minutely_schema (version) VALUES (0);
CREATE FUNCTION json_valid(t TEXT) RETURNS BOOLEAN LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    PERFORM t::jsonb;
    RETURN true;
EXCEPTION WHEN others THEN
    RETURN false;
END
$$;
"#;

/// A SQLite migration in PostgreSQL's types (see the module's documentation).
pub(crate) fn ddl(sqlite: &str) -> String {
    let mut out = String::with_capacity(sqlite.len() + 256);
    for line in sqlite.lines() {
        let code = line.split("--").next().unwrap_or("");
        if code.trim().is_empty() {
            continue;
        }
        let mut line = code.replace(") STRICT;", ");");
        line = replace_word(
            &line,
            "INTEGER PRIMARY KEY",
            "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
        );
        line = replace_word(&line, "INTEGER", "BIGINT");
        line = replace_word(&line, "BLOB", "BYTEA");
        line = replace_word(&line, "TEXT", "TEXT COLLATE \"C\"");
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// `text` with each whole-word `word` replaced (a word is not part of a longer identifier).
fn replace_word(text: &str, word: &str, with: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    while let Some(at) = rest.find(word) {
        let before = rest[..at].chars().next_back();
        let after = rest[at + word.len()..].chars().next();
        out.push_str(&rest[..at]);
        if before.is_some_and(ident) || after.is_some_and(ident) {
            out.push_str(word);
        } else {
            out.push_str(with);
        }
        rest = &rest[at + word.len()..];
    }
    out.push_str(rest);
    out
}

/// The owner lock of a PostgreSQL store: a session-level advisory lock held by a session of
/// its own. Dropping it releases the lock before the session closes: closing alone frees it
/// only once the server has noticed the connection ended, which a process starting right after
/// (a restart) must not have to wait for. A process that dies loses it with its connection.
pub(crate) struct OwnerSession {
    client: PgClient,
    /// Held shared (the nodes of a cluster, each fenced per tenant) rather than exclusive.
    shared: bool,
}

impl Drop for OwnerSession {
    fn drop(&mut self) {
        let unlock = if self.shared {
            "SELECT pg_advisory_unlock_shared($1)"
        } else {
            "SELECT pg_advisory_unlock($1)"
        };
        if let Err(e) = self.client.query_one(unlock, &[&OWNER_LOCK]) {
            tracing::warn!(error = %e, "the owner lock could not be released; it ends with its session");
        }
    }
}

/// Takes the owner lock of the PostgreSQL store at `location`, without waiting: exclusive
/// (one server, or a command that changes tenants), or `shared` (the nodes of a cluster, which
/// fence every write by tenant; a command that needs it exclusive is then refused).
pub(crate) fn claim(location: &Path, shared: bool) -> Result<OwnerSession> {
    let url = url_of(location).expect("a PostgreSQL location");
    let client = connect(url, "")?;
    let take = if shared {
        "SELECT pg_try_advisory_lock_shared($1)"
    } else {
        "SELECT pg_try_advisory_lock($1)"
    };
    let held: bool = client.query_one(take, &[&OWNER_LOCK])?.get(0);
    if held {
        Ok(OwnerSession { client, shared })
    } else {
        Err(StoreError::InUse(location.to_path_buf()))
    }
}

/// Listens on `channel` of the PostgreSQL store at `location` in a thread of its own, and calls
/// `heard` for each notification, and once after each new connection (notifications sent
/// while no connection listened are lost, so the listener must assume it missed one). The
/// connection is opened again after a pause when it ends; the thread stops once `stop` is set
/// (seen within half a second).
pub fn listen(
    location: &Path,
    channel: &str,
    heard: impl FnMut() + Send + 'static,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> Result<std::thread::JoinHandle<()>> {
    let url = url_of(location)
        .ok_or_else(|| StoreError::Location("only a PostgreSQL store notifies".into()))?;
    let mut config: tokio_postgres::Config = url
        .parse()
        .map_err(|e| StoreError::Location(format!("{}: {e}", redacted(location))))?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    let listen = format!("LISTEN {channel}");
    std::thread::Builder::new()
        .name("minutely-listen".into())
        .spawn(move || client::listen_loop(config, listen, heard, stop))
        .map_err(|e| StoreError::Location(format!("cannot start the listener thread: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_become_postgres_types_as_whole_words() {
        let sql = "CREATE TABLE t (\n    id INTEGER PRIMARY KEY,\n    n INTEGER NOT NULL, -- TEXT\n    b BLOB,\n    t TEXT,\n    texts INTEGER\n) STRICT;";
        assert_eq!(
            ddl(sql),
            "CREATE TABLE t (\n    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,\n    n BIGINT NOT NULL, \n    b BYTEA,\n    t TEXT COLLATE \"C\",\n    texts BIGINT\n);\n"
        );
    }

    #[test]
    fn a_location_is_shown_without_its_password() {
        assert_eq!(
            redacted(Path::new(
                "postgres://minutely:s3cret@127.0.0.1:5432/billing"
            )),
            "postgres://minutely:***@127.0.0.1:5432/billing"
        );
        assert_eq!(
            redacted(Path::new("postgresql://127.0.0.1/billing")),
            "postgresql://127.0.0.1/billing"
        );
        assert_eq!(
            redacted(Path::new("/var/lib/minutely.db")),
            "/var/lib/minutely.db"
        );
        assert!(is_postgres(Path::new("postgres://x/y")));
        assert!(!is_postgres(Path::new("./postgres.db")));
    }
}
