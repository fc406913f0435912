//! The checks a store passes before it is opened read-write, on real SQLite files: every write
//! transaction advances the commit watermark (`<db>.commit`) after it committed; a database
//! that holds fewer commits than its watermark records is refused and left as it was; an older,
//! torn or missing watermark never refuses; a restore resets it; and `open_checked` refuses a
//! damaged page.

use minutely_core::catalogue::{Availability, Conferencing, CountryFacts, CountryTable};
use minutely_core::numbers::Country;
use minutely_store::{Sidecar, Store, StoreError, read_sidecar, sidecar_path};
use std::path::Path;

fn countries(codes: &[&str]) -> CountryTable {
    CountryTable::new(codes.iter().map(|code| CountryFacts {
        country: Country::parse(code).unwrap(),
        name: code.to_string(),
        zone_a: true,
        conferencing: Conferencing::Yes,
        toll_dial_in: Availability::Yes,
        toll_free_dial_in: Availability::OnRequest,
        communications_credits: true,
    }))
}

/// One write transaction.
fn write(store: &mut Store, n: usize) {
    let codes = ["FR", "GB", "DE", "JP", "US", "CA"];
    store
        .replace_countries(&countries(&codes[..1 + n % codes.len()]))
        .unwrap();
}

fn watermark(db: &Path) -> u64 {
    match read_sidecar(db) {
        Sidecar::At(seq) => seq,
        other => panic!("a readable watermark, got {other:?}"),
    }
}

/// The database and its WAL, as (length, digest) pairs: an absent WAL and an empty one are the
/// same (a read-only open may leave an empty one).
fn files(db: &Path) -> Vec<(usize, u128)> {
    ["", "-wal"]
        .iter()
        .map(|suffix| {
            let mut name = db.as_os_str().to_owned();
            name.push(suffix);
            let bytes = std::fs::read(name).unwrap_or_default();
            let text: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            (bytes.len(), minutely_core::digest::of(&text))
        })
        .collect()
}

fn expect_missing(result: Result<Store, StoreError>, db: &Path) {
    match result {
        Err(StoreError::Damaged { path, detail }) => {
            assert_eq!(path, db);
            assert!(
                detail.contains("committed transactions are missing"),
                "{detail}"
            );
        }
        Err(other) => panic!("expected Damaged, got {other}"),
        Ok(_) => panic!("a store missing commits was opened"),
    }
}

#[test]
fn every_write_advances_the_watermark_once_it_committed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    let mut store = Store::open(&db, &countries(&["FR"])).unwrap();
    let first = watermark(&db);
    for n in 1..=5 {
        write(&mut store, n);
        assert_eq!(watermark(&db), first + n as u64, "after write {n}");
    }
    // A write that fails commits nothing and does not move the watermark.
    let failed = store.atomically(|s| -> Result<(), StoreError> {
        write(s, 7);
        Err(StoreError::Corrupt("stop here".into()))
    });
    assert!(failed.is_err());
    assert_eq!(watermark(&db), first + 5);
    // Inside `atomically` the watermark moves when the whole transaction commits.
    store
        .atomically(|s| -> Result<(), StoreError> {
            write(s, 8);
            write(s, 9);
            Ok(())
        })
        .unwrap();
    assert!(watermark(&db) > first + 5);
    let reached = watermark(&db);
    drop(store);
    let store = Store::open(&db, &countries(&["FR"])).unwrap();
    assert_eq!(watermark(&db), reached, "a reopen keeps the watermark");
    drop(store);
}

#[test]
fn a_database_behind_its_watermark_is_refused_and_left_as_found() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    let older = dir.path().join("older.db");
    let mut store = Store::open(&db, &countries(&["FR"])).unwrap();
    write(&mut store, 1);
    drop(store);
    std::fs::copy(&db, &older).unwrap();
    let mut store = Store::open(&db, &countries(&["FR"])).unwrap();
    write(&mut store, 2);
    write(&mut store, 3);
    drop(store);
    // An older copy put in place by hand: two acknowledged commits are gone.
    std::fs::copy(&older, &db).unwrap();
    let before = files(&db);
    expect_missing(Store::open(&db, &countries(&["FR"])), &db);
    expect_missing(Store::open_checked(&db, &countries(&["FR"])), &db);
    assert_eq!(files(&db), before, "a refused open changes nothing");
    // A deleted database is refused too, and no new one is created in its place.
    std::fs::remove_file(&db).unwrap();
    expect_missing(Store::open(&db, &countries(&["FR"])), &db);
    assert!(!db.exists(), "nothing was created");
}

#[test]
fn an_older_torn_or_missing_watermark_never_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    let mark = sidecar_path(&db);
    let mut store = Store::open(&db, &countries(&["FR"])).unwrap();
    write(&mut store, 1);
    let early = std::fs::read(&mark).unwrap();
    write(&mut store, 2);
    write(&mut store, 3);
    let reached = watermark(&db);
    drop(store);

    // Older: what an OS crash may leave, since the watermark is not synced.
    std::fs::write(&mark, &early).unwrap();
    let store = Store::open(&db, &countries(&["FR"])).unwrap();
    assert_eq!(
        watermark(&db),
        reached,
        "the open brings it up to the database"
    );
    drop(store);

    // Torn, or not a record at all: treated as absent, then rewritten whole.
    for damaged in [&early[..20], b"garbage".as_slice(), b"".as_slice()] {
        std::fs::write(&mark, damaged).unwrap();
        assert!(matches!(read_sidecar(&db), Sidecar::Unreadable(_)));
        let store = Store::open(&db, &countries(&["FR"])).unwrap();
        assert_eq!(watermark(&db), reached);
        drop(store);
    }

    std::fs::remove_file(&mark).unwrap();
    assert_eq!(read_sidecar(&db), Sidecar::Absent);
    let store = Store::open(&db, &countries(&["FR"])).unwrap();
    assert_eq!(watermark(&db), reached);
    drop(store);
}

#[test]
fn a_restore_resets_the_watermark_to_the_backup() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    let backup = dir.path().join("backup.db");
    let mut store = Store::open(&db, &countries(&["FR"])).unwrap();
    write(&mut store, 1);
    store.backup_to(&backup, false).unwrap();
    let at_backup = watermark(&db);
    write(&mut store, 2);
    write(&mut store, 3);
    drop(store);
    assert!(watermark(&db) > at_backup);
    let owner = minutely_store::claim(&db).unwrap();
    minutely_store::restore(&backup, &db, true, &owner).unwrap();
    drop(owner);
    assert_eq!(watermark(&db), at_backup, "the watermark is the backup's");
    let mut store = Store::open(&db, &countries(&["FR"])).unwrap();
    write(&mut store, 4);
    assert_eq!(watermark(&db), at_backup + 1);
    drop(store);
    // The backup file itself never gets a watermark: verifying it reads only the file.
    assert_eq!(read_sidecar(&backup), Sidecar::Absent);
    minutely_store::verify(&backup).unwrap();
}

#[test]
fn open_checked_refuses_a_damaged_page_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    let mut store = Store::open(&db, &countries(&["FR"])).unwrap();
    write(&mut store, 5);
    drop(store);
    // Page 2's b-tree page type (its first byte) becomes one SQLite does not know.
    let mut bytes = std::fs::read(&db).unwrap();
    let page_size = u16::from_be_bytes([bytes[16], bytes[17]]) as usize;
    assert!(bytes.len() >= 2 * page_size, "at least two pages");
    bytes[page_size] = 0x07;
    std::fs::write(&db, &bytes).unwrap();
    let before = files(&db);
    match Store::open_checked(&db, &countries(&["FR"])) {
        Err(e @ StoreError::Damaged { .. }) => {
            let text = e.to_string();
            assert!(text.contains(&db.display().to_string()), "{text}");
            assert!(text.contains("minutely restore"), "{text}");
        }
        Err(other) => panic!("expected Damaged, got {other}"),
        Ok(_) => panic!("a damaged page was not found"),
    }
    assert_eq!(files(&db), before, "a refused open changes nothing");
    // The plain open reads only what it needs: the page check is what finds this damage.
    Store::open(&db, &countries(&["FR"])).unwrap();
}
