//! Checkpoints on their own thread (`Store::checkpoint_in_background`) against a real SQLite
//! file: the writer's commits keep every row and the commit watermark, the WAL is still folded
//! back into the database (it does not grow past a few thresholds), and the thread stops with
//! the store.

use crate::audit::countries;
use jiff::Timestamp;
use minutely_store::{ActorKind, AuditEntry, Store};
use std::path::PathBuf;
use tempfile::TempDir;

/// An audit row of about 4 KiB (one page of its own), numbered `i`.
fn big_row(i: usize) -> AuditEntry {
    let at: Timestamp = "2026-02-01T10:00:00Z".parse().unwrap();
    AuditEntry {
        at,
        actor_kind: ActorKind::Operator,
        actor_key_id: Some("k-op".into()),
        tenant: None,
        action: "key.create".into(),
        object: format!("k-{i}"),
        before: None,
        request_id: None,
        after: Some(format!(r#"{{"id":"k-{i}","pad":"{}"}}"#, "x".repeat(4000))),
    }
}

fn checkpoint_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|tasks| {
            tasks
                .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
                .filter(|name| name.trim() == "minutely-ckpt")
                .count()
        })
        .unwrap_or(0)
}

fn wal_len(path: &std::path::Path) -> u64 {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    std::fs::metadata(PathBuf::from(wal)).map_or(0, |m| m.len())
}

#[test]
fn background_checkpoints_keep_every_commit_and_fold_the_wal_back() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("minutely.db");
    let mut store = Store::open(&path, &countries()).unwrap();
    store.checkpoint_in_background().unwrap();

    // About 2,000 rows of a page or two each, one commit each: without any checkpoint the WAL would
    // hold them all (over 8 MB).
    let rows = 2000;
    for i in 0..rows {
        store.append_audit(&[big_row(i)]).unwrap();
    }
    // (A thread names itself once it runs: by now it has.)
    assert_eq!(checkpoint_threads(), 1, "one thread, started once");
    let wal = wal_len(&path);
    assert!(
        wal < 7 * 1024 * 1024,
        "the WAL was folded back, yet is {wal} bytes"
    );
    drop(store);
    assert_eq!(checkpoint_threads(), 0, "the thread stopped with the store");

    // Everything committed reads back, through the watermark and page checks.
    let store = Store::open_checked(&path, &countries()).unwrap();
    let page = store.audit_page(None, 0, rows + 10).unwrap();
    assert_eq!(page.len(), rows);
    assert_eq!(page.last().unwrap().entry.object, format!("k-{}", rows - 1));
}

#[test]
fn a_read_only_store_does_not_checkpoint() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("minutely.db");
    drop(Store::open(&path, &countries()).unwrap());
    let mut reader = Store::open_read_only(&path).unwrap();
    assert!(reader.checkpoint_in_background().is_err());
}
