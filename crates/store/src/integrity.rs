//! What a store must pass before it is opened read-write: it holds every commit that was
//! reported (the commit watermark) and, for the server, every page reads back (`quick_check`).
//! Both are read through a read-only connection, so a refused store is left as it was found.
//!
//! SQLite cannot tell a damaged WAL tail from one that was never written: recovery keeps the
//! frames up to the first bad checksum and silently drops the rest, committed transactions
//! included. Detecting that needs knowledge from outside the damaged files, so every write
//! transaction of this store advances a counter inside the database (the `commit_seq` row of
//! `settings`), and once the transaction has committed, the new value is written to a small
//! file beside the database, `<db>.commit`. Every read-write open compares the two and refuses a
//! database that holds less than was committed and reported before.
//!
//! The sidecar is only ever written after the commit it describes returned, and read before the
//! database, so it can lag behind the database but never run ahead of it: a process killed
//! between a commit and its sidecar write, a concurrent writer whose write lands after a newer
//! one, or an OS crash that loses the last unsynced sidecar write all leave an older value,
//! which weakens the check for a moment but never refuses a sound store. It is not synced: a
//! killed process's writes survive in the page cache, and after an OS crash the database's own
//! commits (synced by `synchronous=FULL` before the sidecar is written) are at least as new as
//! whatever sidecar the disk kept. A record that does not read back whole (torn by an OS crash,
//! edited) is treated as absent, with a warning.

use crate::{Result, StoreError};
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The `settings` row that counts committed write transactions.
const KEY: &str = "commit_seq";
/// The first word of a sidecar record.
const MAGIC: &str = "minutely-commit";
/// A record: the magic word, the sequence as 20 digits, its digest as 32 hex digits, a newline.
/// Fixed-length, so that rewriting it in place never leaves the tail of an older one.
const RECORD_LEN: usize = MAGIC.len() + 1 + 20 + 1 + 32 + 1;
/// How long the check waits for another process's transaction or recovery.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// `<db>.commit`, the sidecar of the database at `db`.
pub fn sidecar_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".commit");
    PathBuf::from(name)
}

/// Advances the commit sequence inside the write transaction at hand; returns the new value.
pub(crate) fn advance(conn: &Connection) -> Result<u64> {
    let next = stored(conn)? + 1;
    // Cached statements: this runs in every write transaction.
    conn.prepare_cached(
        "INSERT INTO settings (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )?
    .execute((KEY, next.to_string()))?;
    Ok(next)
}

/// The commit sequence the database holds (0 for a file without one: new, empty, or written
/// before the counter existed).
pub(crate) fn held(conn: &Connection) -> Result<u64> {
    let has_settings: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'settings')",
        [],
        |row| row.get(0),
    )?;
    if !has_settings {
        return Ok(0);
    }
    stored(conn)
}

/// The commit sequence of a migrated database (0 before its first counted commit).
fn stored(conn: &Connection) -> Result<u64> {
    let text: Option<String> = conn
        .prepare_cached("SELECT value FROM settings WHERE key = ?1")?
        .query_row([KEY], |row| row.get(0))
        .optional()?;
    match text {
        None => Ok(0),
        Some(text) => text
            .parse()
            .map_err(|_| crate::codec::corrupt("settings", KEY, &text)),
    }
}

/// What the sidecar file says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sidecar {
    /// No file: nothing to compare with (a new store, one restored, or an older Minutely's).
    Absent,
    /// The last commit sequence a writer of this store saw committed.
    At(u64),
    /// A file that is not one whole record (torn, edited): treated as absent.
    Unreadable(String),
}

/// Reads the sidecar of the database at `db`.
pub fn read_sidecar(db: &Path) -> Sidecar {
    let path = sidecar_path(db);
    match std::fs::read(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Sidecar::Absent,
        Err(e) => Sidecar::Unreadable(format!("cannot read it: {e}")),
        Ok(bytes) => match parse_record(&bytes) {
            Some(seq) => Sidecar::At(seq),
            None => Sidecar::Unreadable(format!(
                "{} bytes that are not one whole record",
                bytes.len()
            )),
        },
    }
}

fn record(seq: u64) -> String {
    let head = format!("{MAGIC} {seq:020}");
    let check = minutely_core::digest::of(&head);
    format!("{head} {check:032x}\n")
}

fn parse_record(bytes: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(bytes).ok()?;
    if text.len() != RECORD_LEN {
        return None;
    }
    let seq: u64 = text
        .strip_prefix(MAGIC)?
        .strip_prefix(' ')?
        .get(..20)?
        .parse()
        .ok()?;
    (record(seq) == text).then_some(seq)
}

/// Whether `check` reads every page too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pages {
    Unchecked,
    Checked,
}

/// Refuses the database at `db` when its sidecar says more was committed than it holds, and
/// with `Pages::Checked` when SQLite's `quick_check` finds a damaged page. Runs before the
/// database is opened read-write, through a read-only connection, so a refused store is left
/// exactly as it was found: no checkpoint folds a damaged WAL into the file, nothing is
/// migrated.
pub(crate) fn check(db: &Path, pages: Pages) -> Result<()> {
    // The sidecar first: a writer elsewhere may commit and move it on while this reads, and
    // the database read afterwards then holds at least what the sidecar said.
    let acknowledged = match read_sidecar(db) {
        Sidecar::Absent => 0,
        Sidecar::Unreadable(why) => {
            tracing::warn!(
                sidecar = %sidecar_path(db).display(),
                why,
                "the commit watermark is unreadable; opening without the check for missing commits"
            );
            0
        }
        Sidecar::At(seq) => seq,
    };
    if acknowledged == 0 && pages == Pages::Unchecked {
        return Ok(());
    }
    let empty = std::fs::metadata(db).map_or(true, |m| m.len() == 0);
    if empty {
        // Nothing to read; a new file is made unless commits were reported before. An empty
        // file is not opened here: SQLite would delete a WAL beside it.
        return refuse_missing_commits(db, 0, acknowledged);
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let read = || -> Result<()> {
        let conn = Connection::open_with_flags(db, flags)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        refuse_missing_commits(db, held(&conn)?, acknowledged)?;
        if pages == Pages::Checked {
            quick_check(&conn, db)?;
        }
        Ok(())
    };
    read().map_err(|e| damaged(db, e))
}

fn refuse_missing_commits(db: &Path, held: u64, acknowledged: u64) -> Result<()> {
    if held >= acknowledged {
        return Ok(());
    }
    Err(StoreError::Damaged {
        path: db.to_path_buf(),
        detail: format!(
            "the database holds commit {held} but commit {acknowledged} was acknowledged \
             (recorded in {}): committed transactions are missing (a damaged or deleted WAL, or \
             a damaged, truncated or replaced database file); if an older copy was put in place \
             on purpose, put it back with `minutely restore` instead",
            sidecar_path(db).display()
        ),
    })
}

/// SQLite's `quick_check`: every b-tree page, cell and free-list page reads back.
fn quick_check(conn: &Connection, db: &Path) -> Result<()> {
    let mut stmt = conn.prepare("PRAGMA quick_check")?;
    let problems = stmt
        .query_map([], |row| row.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    if problems == ["ok"] {
        return Ok(());
    }
    // One line: SQLite's report spreads a problem over several.
    let shown: Vec<String> = problems
        .iter()
        .take(3)
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    Err(StoreError::Damaged {
        path: db.to_path_buf(),
        detail: format!("SQLite's quick_check found: {}", shown.join("; ")),
    })
}

/// Turns SQLite's "corrupt" and "not a database" answers about the file at `db` into
/// `Damaged`, which names the file and what to do; other errors are left as they are.
pub(crate) fn damaged(db: &Path, error: StoreError) -> StoreError {
    use rusqlite::ErrorCode::{DatabaseCorrupt, NotADatabase};
    match &error {
        StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, message))
            if matches!(e.code, DatabaseCorrupt | NotADatabase) =>
        {
            StoreError::Damaged {
                path: db.to_path_buf(),
                detail: message.clone().unwrap_or_else(|| e.to_string()),
            }
        }
        _ => error,
    }
}

/// The writer's side: the open sidecar file, rewritten in place after every commit.
#[derive(Debug)]
pub(crate) struct Publisher {
    path: PathBuf,
    file: Option<File>,
}

impl Publisher {
    /// Opens (creating it if needed) the sidecar of `db` and writes `seq`, the sequence the
    /// database holds now, which the open has just checked is not below the sidecar's.
    pub(crate) fn open(db: &Path, seq: u64) -> Publisher {
        let path = sidecar_path(db);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path);
        let mut publisher = Publisher {
            file: match file {
                Ok(file) => Some(file),
                Err(e) => {
                    warn_unwritable(&path, &e);
                    None
                }
            },
            path,
        };
        publisher.publish(seq);
        if let Some(file) = &publisher.file {
            // A longer file left by something else would no longer read as one record.
            if let Err(e) = file.set_len(RECORD_LEN as u64) {
                warn_unwritable(&publisher.path, &e);
            }
        }
        publisher
    }

    /// Records that commit `seq` is durable. One write of one fixed-length record at offset 0:
    /// a process kill cannot tear it. A failure leaves an older value (never a false refusal)
    /// and is logged once; the commit itself stands.
    pub(crate) fn publish(&mut self, seq: u64) {
        let Some(file) = &mut self.file else {
            return;
        };
        let written = file
            .seek(SeekFrom::Start(0))
            .and_then(|_| file.write_all(record(seq).as_bytes()));
        if let Err(e) = written {
            warn_unwritable(&self.path, &e);
            self.file = None;
        }
    }
}

fn warn_unwritable(path: &Path, error: &std::io::Error) {
    tracing::warn!(
        sidecar = %path.display(),
        %error,
        "cannot write the commit watermark; missing commits will not be detected on the next start"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_back_and_any_damage_is_refused() {
        let text = record(42);
        assert_eq!(text.len(), RECORD_LEN);
        assert_eq!(parse_record(text.as_bytes()), Some(42));
        assert_eq!(parse_record(record(u64::MAX).as_bytes()), Some(u64::MAX));
        for cut in 0..text.len() {
            assert_eq!(parse_record(&text.as_bytes()[..cut]), None, "cut at {cut}");
        }
        for at in 0..text.len() {
            let mut bytes = text.clone().into_bytes();
            bytes[at] ^= 0x01;
            assert_eq!(parse_record(&bytes), None, "byte {at} flipped");
        }
    }
}
