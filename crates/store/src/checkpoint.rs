//! Checkpoints on a thread of their own, for a long-lived writer.
//!
//! By default SQLite checkpoints inside the COMMIT that takes the WAL past 1,000 pages, so the
//! writer that made the commit also copies the WAL back into the database file and syncs it.
//! With a `Checkpointer`, the writer's connection only reports the WAL's size after each commit
//! (its WAL hook, which also turns SQLite's automatic checkpoint off), and once that size
//! reaches the same 1,000 pages a thread with its own read-write connection runs a PASSIVE
//! checkpoint: it copies what no reader still needs and never waits for a reader or the writer.
//!
//! SQLite starts the WAL over only at a write transaction that began once every frame had been
//! copied. A writer that never pauses always begins its next transaction before the thread has
//! copied the frames of the last one, so the thread alone would let the WAL grow for ever. Once
//! the thread has copied all but the last few frames, the writer runs the PASSIVE checkpoint
//! itself after its commit: it copies only those few frames (the thread did the bulk), and its
//! next transaction starts the WAL over, as after SQLite's own checkpoint.
//!
//! Durability is unchanged: a commit is durable once its WAL frames are synced
//! (`synchronous=FULL`), whoever checkpoints later. A checkpoint that is interrupted (a crash,
//! a full disk) leaves the WAL as it was: the WAL is only started over once every frame was
//! copied and the database file synced, so recovery replays it. A failed checkpoint is tried
//! again after the next commit, as SQLite's own would be.

use rusqlite::{Connection, OpenFlags};
use std::cell::Cell;
use std::os::raw::c_int;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

/// WAL pages past which a checkpoint runs: SQLite's default `wal_autocheckpoint`.
const THRESHOLD_PAGES: u32 = 1000;
/// The frames at most that the writer copies itself, once the thread copied the rest.
const WRITER_PAGES: u32 = THRESHOLD_PAGES / 4;

thread_local! {
    /// The WAL's size in pages reported by the last commit of this thread's connection with
    /// the hook (SQLite calls the hook in the committing thread, before COMMIT returns).
    static WAL_PAGES: Cell<u32> = const { Cell::new(0) };
}

fn wal_hook(_wal: &rusqlite::hooks::Wal, pages: c_int) -> rusqlite::Result<()> {
    WAL_PAGES.with(|cell| cell.set(u32::try_from(pages).unwrap_or(0)));
    Ok(())
}

/// The checkpoint thread of one store; dropping it stops and joins the thread.
pub(crate) struct Checkpointer {
    wake: Option<SyncSender<()>>,
    /// The thread's last checkpoint: the WAL's frames (high half) and the frames copied.
    last: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Opens a second read-write connection to `db` and starts the thread, then hooks `writer`
    /// (which turns its automatic checkpoint off). On an error nothing is changed and the
    /// error says why.
    pub(crate) fn start(db: &Path, writer: &Connection) -> Result<Checkpointer, String> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let conn = Connection::open_with_flags(db, flags).map_err(|e| e.to_string())?;
        crate::schema::configure(&conn).map_err(|e| e.to_string())?;
        let (wake, asleep) = sync_channel(1);
        let last = Arc::new(AtomicU64::new(0));
        let published = Arc::clone(&last);
        let thread = std::thread::Builder::new()
            .name("minutely-ckpt".into())
            .spawn(move || run(&conn, &asleep, &published))
            .map_err(|e| format!("cannot start the checkpoint thread: {e}"))?;
        WAL_PAGES.with(|cell| cell.set(0));
        writer.wal_hook(Some(wal_hook));
        Ok(Checkpointer {
            wake: Some(wake),
            last,
            thread: Some(thread),
        })
    }

    /// Called after each commit of the hooked connection `writer`, in its thread, between two
    /// of its transactions. Once the WAL has reached the threshold, wakes the thread (never
    /// waiting: a wake-up already pending is enough), or copies the last few frames itself
    /// when the thread has copied all the others (see the module's documentation).
    pub(crate) fn committed(&self, writer: &Connection) {
        let pages = WAL_PAGES.with(|cell| cell.replace(0));
        if pages < THRESHOLD_PAGES {
            return;
        }
        let last = self.last.load(Ordering::Acquire);
        let (frames, copied) = ((last >> 32) as u32, last as u32);
        // `frames > pages`: a checkpoint of a WAL since started over.
        if copied == frames && frames <= pages && pages - frames <= WRITER_PAGES {
            self.last.store(0, Ordering::Release);
            if let Err(e) = checkpoint(writer) {
                tracing::warn!(error = %e, "checkpoint failed; it is tried again after the next commit");
            }
            return;
        }
        if let Some(wake) = &self.wake {
            // Full: a wake-up is pending. Disconnected: the thread ended (it only does when
            // the store is dropped).
            let _ = wake.try_send(());
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.wake = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A PASSIVE checkpoint: copies what it can without waiting for readers or the writer.
/// Answers the WAL's frames and the frames copied (both -1 when the WAL is not in use).
fn checkpoint(conn: &Connection) -> rusqlite::Result<(i64, i64)> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
        Ok((row.get(1)?, row.get(2)?))
    })
}

fn run(conn: &Connection, asleep: &Receiver<()>, last: &AtomicU64) {
    while asleep.recv().is_ok() {
        match checkpoint(conn) {
            Ok((frames, copied)) => {
                let frames = u32::try_from(frames).unwrap_or(0);
                let copied = u32::try_from(copied).unwrap_or(0);
                last.store(
                    (u64::from(frames) << 32) | u64::from(copied),
                    Ordering::Release,
                );
            }
            Err(e) => {
                tracing::warn!(error = %e, "checkpoint failed; it is tried again after the next commit");
            }
        }
    }
}
