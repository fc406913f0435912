//! Backup and restore: SQLite's online backup API copies a consistent snapshot (one read
//! transaction, so a server writing in WAL mode is never blocked and never restarts the copy)
//! into a temporary file beside the destination, which is verified and then renamed into place.
//! Nothing half-written ever appears under the destination's name.
//!
//! A backup file is self-contained: it is switched to the rollback journal (`journal_mode =
//! DELETE`), so it has no `-wal` or `-shm` beside it and can be copied like any file. A restored
//! store goes back to WAL the first time it is opened read-write.

use crate::{OwnerLock, Result, Store, StoreError, integrity, schema};
use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long a backup keeps retrying while the source is busy (a checkpoint, a recovery).
const BUSY_DEADLINE: Duration = Duration::from_secs(30);
/// The pause between two attempts while the source is busy or locked.
const BUSY_PAUSE: Duration = Duration::from_millis(50);

/// What a verified store file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// The schema version (`PRAGMA user_version`), the one this program knows.
    pub schema_version: i64,
    /// Tenants, every one loaded with `load_book` (C24 checked against its journal).
    pub tenants: usize,
    /// Journal entries over all tenants.
    pub entries: usize,
    /// The file's size in bytes.
    pub bytes: u64,
}

impl Store {
    /// Writes a consistent copy of the store to `dest` and verifies it (`verify`). The copy is
    /// made in a temporary file beside `dest`, synced, and renamed over `dest` only once
    /// verified. Refuses an existing `dest` unless `overwrite`. Safe while another process (the
    /// server) writes: this connection only reads.
    pub fn backup_to(&self, dest: &Path, overwrite: bool) -> Result<VerifyReport> {
        if !overwrite && dest.exists() {
            return Err(StoreError::Backup(format!(
                "{} already exists; pass --overwrite to replace it",
                dest.display()
            )));
        }
        let source = self.conn.lite().ok_or_else(|| {
            StoreError::Backup(
                "a store on PostgreSQL is backed up with PostgreSQL's own tools (pg_dump, or a \
                 base backup with WAL archiving), not with minutely backup"
                    .to_string(),
            )
        })?;
        let temp = TempFile::beside(dest)?;
        copy_into(source, &temp.path)?;
        let report = verify(&temp.path)?;
        temp.persist(dest)?;
        Ok(VerifyReport {
            bytes: std::fs::metadata(dest)
                .map_err(|e| io("cannot read the size of", dest, e))?
                .len(),
            ..report
        })
    }
}

/// Verifies a store file without changing it: SQLite's `integrity_check` passes, the schema
/// version is exactly the one this program knows, and every tenant loads with `load_book` (C24
/// checked against its journal). Every failure is a `Backup` error that names the file.
pub fn verify(path: &Path) -> Result<VerifyReport> {
    let refuse = |detail: String| StoreError::Backup(format!("{}: {detail}", path.display()));
    let bytes = std::fs::metadata(path)
        .map_err(|e| refuse(format!("cannot read it: {e}")))?
        .len();
    if bytes == 0 {
        return Err(refuse("the file is empty, not a Minutely store".into()));
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)
        .map_err(|e| refuse(format!("not a readable SQLite database: {e}")))?;
    let problems: Vec<String> = (|| -> rusqlite::Result<Vec<String>> {
        let mut stmt = conn.prepare("PRAGMA integrity_check")?;
        let rows = stmt.query_map([], |row| row.get::<_, String>(0))?;
        rows.collect()
    })()
    .map_err(|e| refuse(format!("corrupt: {e}")))?;
    if problems != ["ok"] {
        let shown: Vec<&str> = problems.iter().take(5).map(String::as_str).collect();
        return Err(refuse(format!(
            "corrupt: integrity check failed: {}",
            shown.join("; ")
        )));
    }
    let found: i64 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(|e| refuse(format!("corrupt: {e}")))?;
    let known = schema::known_version();
    if found != known {
        return Err(refuse(format!(
            "schema version {found} is not the one this program knows ({known}); use the minutely that wrote it"
        )));
    }
    drop(conn);
    let store = Store::open_read_only(path).map_err(|e| refuse(e.to_string()))?;
    let ids = store.tenant_ids().map_err(|e| refuse(e.to_string()))?;
    let mut entries = 0;
    for id in &ids {
        match store.load_book(id) {
            Ok(Some(_)) => {}
            Ok(None) => return Err(refuse(format!("tenant {id} is listed but does not load"))),
            Err(e) => return Err(refuse(e.to_string())),
        }
        entries += store.journal(id).map_err(|e| refuse(e.to_string()))?.len();
    }
    Ok(VerifyReport {
        schema_version: found,
        tenants: ids.len(),
        entries,
        bytes,
    })
}

/// Replaces the store at `db` by the backup `from`, holding `db`'s owner lock (so no server
/// runs on it). `from` is verified first; a file that fails changes nothing. An existing `db` is
/// refused unless `overwrite`.
///
/// The order makes every crash leave either the old store or the new one, never a mix: the
/// backup is copied into a temporary file beside `db`, verified and synced; the old store is
/// checkpointed (its WAL folded into the main file) so that its `-wal`, `-shm` and `-journal`
/// files can be removed without losing anything; only then is the copy renamed over `db` and the
/// directory synced.
///
/// The old store's commit watermark (`<db>.commit`) is removed before the rename, since the
/// backup holds fewer commits than it records, and written again for the restored file after
/// it: a crash in between leaves no watermark, which only skips one check, never refuses.
pub fn restore(
    from: &Path,
    db: &Path,
    overwrite: bool,
    _owner: &OwnerLock,
) -> Result<VerifyReport> {
    verify(from)?;
    if !overwrite && db.exists() {
        return Err(StoreError::Backup(format!(
            "{} already exists; pass --force to replace it with the backup",
            db.display()
        )));
    }
    let temp = TempFile::beside(db)?;
    {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let source = Connection::open_with_flags(from, flags)?;
        source.busy_timeout(BUSY_DEADLINE)?;
        copy_into(&source, &temp.path)?;
    }
    let report = verify(&temp.path)?;
    if db.exists() {
        // Best effort: a damaged old store is being replaced anyway.
        if let Ok(old) = Connection::open(db) {
            let _ = old.busy_timeout(BUSY_DEADLINE);
            let _ = old.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        }
    }
    let sidecar = integrity::sidecar_path(db);
    match std::fs::remove_file(&sidecar) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io("cannot remove", &sidecar, e)),
    }
    temp.persist(db)?;
    let restored = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(StoreError::from)
        .and_then(|conn| integrity::held(&conn))?;
    integrity::Publisher::open(db, restored);
    Ok(report)
}

/// Copies the database behind `source` into a new file at `dest` in one step (one read
/// transaction: a consistent snapshot that concurrent writers neither block nor restart),
/// retrying while the source is busy or locked, then makes the copy self-contained (rollback
/// journal) and closes it.
fn copy_into(source: &Connection, dest: &Path) -> Result<()> {
    let mut target = Connection::open(dest)?;
    {
        let backup = Backup::new(source, &mut target)?;
        let deadline = Instant::now() + BUSY_DEADLINE;
        loop {
            match backup.step(-1)? {
                StepResult::Done => break,
                StepResult::More => {}
                StepResult::Busy | StepResult::Locked => {
                    if Instant::now() >= deadline {
                        return Err(StoreError::Backup(format!(
                            "the store stayed busy for {} s; try again",
                            BUSY_DEADLINE.as_secs()
                        )));
                    }
                    std::thread::sleep(BUSY_PAUSE);
                }
                // A future variant: treat it as busy.
                #[allow(unreachable_patterns)]
                _ => std::thread::sleep(BUSY_PAUSE),
            }
        }
    }
    let _mode: String =
        target.pragma_update_and_check(None, "journal_mode", "DELETE", |row| row.get(0))?;
    target.close().map_err(|(_, e)| StoreError::Sqlite(e))?;
    Ok(())
}

fn io(what: &str, path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Backup(format!("{what} {}: {e}", path.display()))
}

/// `path` with `suffix` appended to its file name (`minutely.db` + `-wal`).
fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// A temporary file beside its final destination, removed (with any sidecar) unless persisted.
struct TempFile {
    path: PathBuf,
    done: bool,
}

impl TempFile {
    fn beside(dest: &Path) -> Result<TempFile> {
        let name = dest
            .file_name()
            .ok_or_else(|| StoreError::Backup(format!("{} is not a file name", dest.display())))?;
        let mut temp_name = std::ffi::OsString::from(".");
        temp_name.push(name);
        temp_name.push(format!(".tmp-{}", std::process::id()));
        let temp = TempFile {
            path: dest.with_file_name(temp_name),
            done: false,
        };
        temp.remove_all();
        Ok(temp)
    }

    fn remove_all(&self) {
        for suffix in ["", "-journal", "-wal", "-shm"] {
            let _ = std::fs::remove_file(sidecar(&self.path, suffix));
        }
    }

    /// Syncs the file, removes `dest`'s stale sidecars (SQLite would replay an old `-wal` or
    /// `-journal` into the new file), renames the file over `dest` and syncs the directory.
    fn persist(mut self, dest: &Path) -> Result<()> {
        std::fs::File::open(&self.path)
            .and_then(|f| f.sync_all())
            .map_err(|e| io("cannot sync", &self.path, e))?;
        for suffix in ["-wal", "-shm", "-journal"] {
            let stale = sidecar(dest, suffix);
            match std::fs::remove_file(&stale) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io("cannot remove", &stale, e)),
            }
        }
        std::fs::rename(&self.path, dest).map_err(|e| io("cannot rename into", dest, e))?;
        self.done = true;
        sync_dir(dest);
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.done {
            self.remove_all();
        }
    }
}

/// Syncs the directory holding `path`, so the rename survives a power loss (best effort: not
/// every platform can open a directory).
fn sync_dir(path: &Path) {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}
