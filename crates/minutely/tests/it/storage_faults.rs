//! Storage faults on the real binary and real files. A store gets acknowledged traffic through
//! a running `minutely serve` (fundings, ingestion batches, calls ended and calls left live),
//! the server is stopped (SIGKILL, so that the WAL holds committed frames no checkpoint has
//! folded into the database; or SIGTERM, a graceful stop), and then, on a copy of its files for
//! each case, the WAL, the database, the `-shm` or the commit watermark (`<db>.commit`) is cut,
//! flipped or deleted before the server is started again.
//!
//! Each case has one of two outcomes, never a third: the server starts and everything it
//! acknowledged is there, exactly once, with balances equal to the ledger (C23, C24); or it
//! refuses to start, exits non-zero, names the file and says to restore a backup, and leaves the
//! database and WAL exactly as it found them. Cases whose damage is known to drop acknowledged
//! commits (SQLite silently discards a WAL's frames from the first bad one) must be refused as
//! missing commits.

use crate::support;

use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;
use support::{Client, Keys, Log, Refusal, dec, ingested, record};

/// Rounds of traffic: each makes five commits (a funding, an ingestion batch, a call
/// authorized then ended, a call authorized and left live). Small enough that the WAL never
/// reaches SQLite's automatic checkpoint (1,000 pages), so after a SIGKILL every server commit
/// is still in the WAL, in order.
const ROUNDS: u64 = 6;

/// The store's files, by suffix of the database's name.
const DB: &str = "minutely.db";
const WAL: &str = "minutely.db-wal";
const SHM: &str = "minutely.db-shm";
const SIDECAR: &str = "minutely.db.commit";
/// The sidecar as it was after the first rounds (an older watermark).
const EARLY_SIDECAR: &str = "early.commit";

/// The WAL's header and frame header sizes (SQLite's file format).
const WAL_HEADER: u64 = 32;
const FRAME_HEADER: u64 = 24;

/// How the server was stopped before the damage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// SIGKILL: every server commit is still in the WAL.
    Kill,
    /// SIGTERM: a graceful stop; the WAL may or may not have been folded into the database.
    Term,
    /// SIGTERM, then a command of the CLI opened and closed the store: everything is in the
    /// database file, no WAL is left (a store at rest).
    Rest,
}

/// What a case must end in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Starts, with everything acknowledged.
    Serve,
    /// Refuses: committed transactions are missing.
    Missing,
    /// Refuses, for any reason, with a clear message.
    Refuse,
    /// Either outcome; never a start with something missing or wrong.
    Either,
}

/// The layout of a WAL file.
#[derive(Debug, Clone)]
struct Wal {
    len: u64,
    page_size: u64,
    frames: u64,
    /// The byte offset just after each commit frame, in order.
    commit_ends: Vec<u64>,
}

impl Wal {
    fn frame_len(&self) -> u64 {
        FRAME_HEADER + self.page_size
    }

    /// The offset of frame `i` (from 0).
    fn frame(&self, i: u64) -> u64 {
        WAL_HEADER + i * self.frame_len()
    }
}

fn be32(bytes: &[u8], at: usize) -> u64 {
    u64::from(u32::from_be_bytes(
        bytes[at..at + 4].try_into().expect("4 bytes"),
    ))
}

/// Reads the WAL's layout; `None` without a WAL or frames. Requires one generation of frames
/// (every frame carries the header's salts) and no partial frame.
fn wal_layout(path: &Path) -> Option<Wal> {
    let bytes = std::fs::read(path).ok()?;
    if (bytes.len() as u64) <= WAL_HEADER {
        return None;
    }
    let magic = be32(&bytes, 0);
    assert!(
        magic == 0x377f_0682 || magic == 0x377f_0683,
        "a WAL file: {magic:#x}"
    );
    let page_size = be32(&bytes, 8);
    let len = bytes.len() as u64;
    let frame_len = FRAME_HEADER + page_size;
    assert_eq!((len - WAL_HEADER) % frame_len, 0, "whole frames in the WAL");
    let frames = (len - WAL_HEADER) / frame_len;
    let mut commit_ends = Vec::new();
    for i in 0..frames {
        let at = (WAL_HEADER + i * frame_len) as usize;
        assert_eq!(
            bytes[at + 8..at + 16],
            bytes[16..24],
            "frame {i} belongs to the WAL's current generation"
        );
        if be32(&bytes, at + 4) != 0 {
            commit_ends.push(at as u64 + frame_len);
        }
    }
    Some(Wal {
        len,
        page_size,
        frames,
        commit_ends,
    })
}

/// A store built through the running server and stopped, kept pristine: each case damages a
/// copy.
struct Fixture {
    stop: Stop,
    dir: tempfile::TempDir,
    keys: Arc<Keys>,
    log: Log,
    wal: Option<Wal>,
    db_len: u64,
    page_size: u64,
}

/// Sequential, deterministic traffic; every request acknowledged before the next is sent, so
/// each is its own commit. The sidecar is copied aside after the second round.
async fn traffic(client: &Client, dir: &Path) -> Log {
    let mut log = Log::default();
    let (operator, bridge) = (&client.keys.operator, &client.keys.bridge);
    for i in 0..ROUNDS {
        let reference = format!("fund-{i}");
        let body = json!({"amount": "50", "reference": reference});
        let (status, answer) = client
            .post("/v1/tenants/acme/wallet/fundings", operator, &body)
            .await
            .expect("fund");
        assert_eq!(status, 200, "{answer}");
        log.funded.insert(reference);

        let calls: Vec<_> = (0..4)
            .map(|j| record(&format!("bulk-{i}-{j}"), (i * 397 + j * 211) % 1800))
            .collect();
        let (status, answer) = client
            .post("/v1/tenants/acme/calls", bridge, &json!({"calls": calls}))
            .await
            .expect("ingest");
        assert_eq!(status, 200, "{answer}");
        ingested(&mut log, &calls, &answer, false);

        let ended = format!("ended-{i}");
        authorize(client, &ended).await;
        let path = format!("/v1/tenants/acme/calls/{ended}/end");
        let body = json!({"duration_s": (i * 19 + 5) % 120});
        let (status, answer) = client.post(&path, bridge, &body).await.expect("end");
        assert_eq!(status, 200, "{answer}");
        log.ended.insert(ended, dec(&answer["charge"]["amount"]));

        let live = format!("live-{i}");
        authorize(client, &live).await;
        log.live.insert(live);
        log.acked += 5;
        if i == 1 {
            std::fs::copy(dir.join(SIDECAR), dir.join(EARLY_SIDECAR)).expect("copy the sidecar");
        }
    }
    log
}

async fn authorize(client: &Client, call_id: &str) {
    let path = format!("/v1/tenants/acme/calls/{call_id}/authorize");
    let (status, answer) = client
        .post(&path, &client.keys.bridge, &support::authorization())
        .await
        .expect("authorize");
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["decision"], "allow", "{answer}");
}

async fn build(stop: Stop) -> Fixture {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = dir.path().join(DB);
    let keys = Arc::new(support::seed(dir.path(), &db));
    let server = serve(&db, &dir.path().join("serve.log"))
        .await
        .unwrap_or_else(|r| panic!("the fresh store starts: {}", r.stderr));
    let client = Client::new(&server.url, keys.clone());
    let log = traffic(&client, dir.path()).await;
    match stop {
        Stop::Kill => server.kill(),
        Stop::Term | Stop::Rest => {
            let status = server.terminate();
            assert!(status.success(), "a graceful stop: {status:?}");
        }
    }
    if stop == Stop::Rest {
        // The last connection to close folds the WAL into the database and removes it.
        support::minutely(&db, &["keys", "list"]);
        assert!(
            wal_layout(&dir.path().join(WAL)).is_none(),
            "no WAL left at rest"
        );
    }
    let wal = wal_layout(&dir.path().join(WAL));
    let header = std::fs::read(&db).expect("the database");
    // A 2-byte big-endian field; 1 stands for 65,536.
    let page_size = match u16::from_be_bytes([header[16], header[17]]) {
        1 => 65_536,
        size => u64::from(size),
    };
    if stop == Stop::Kill {
        // Every server commit is still in the WAL, the last one last.
        let wal = wal.as_ref().expect("a WAL with frames after SIGKILL");
        assert!(
            wal.commit_ends.len() as u64 >= ROUNDS * 5,
            "every acknowledged commit is in the WAL: {wal:?}"
        );
        assert_eq!(wal.commit_ends.last(), Some(&wal.len), "{wal:?}");
    }
    eprintln!(
        "{stop:?}: {} bytes of database ({page_size}-byte pages), WAL: {}",
        header.len(),
        match &wal {
            Some(w) => format!("{} frames, {} commits", w.frames, w.commit_ends.len()),
            None => "none".to_string(),
        }
    );
    Fixture {
        stop,
        keys,
        log,
        wal,
        db_len: header.len() as u64,
        page_size,
        dir,
    }
}

/// Starts the server off the async threads (it blocks until the banner or the exit).
async fn serve(db: &Path, log: &Path) -> Result<support::Server, Refusal> {
    let (db, log) = (db.to_path_buf(), log.to_path_buf());
    tokio::task::spawn_blocking(move || support::try_start(&db, &log))
        .await
        .expect("start")
}

/// A damage: what it does to the files of a copied store in `dir`.
type Damage = Box<dyn Fn(&Path)>;

struct Case {
    name: String,
    expect: Expect,
    damage: Damage,
}

fn case(name: impl Into<String>, expect: Expect, damage: impl Fn(&Path) + 'static) -> Case {
    Case {
        name: name.into(),
        expect,
        damage: Box::new(damage),
    }
}

fn cut(file: &'static str, len: u64) -> impl Fn(&Path) {
    move |dir| {
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(dir.join(file))
            .expect("open to cut");
        f.set_len(len).expect("cut");
    }
}

/// Inverts the bits of the byte at `at`.
fn flip(file: &'static str, at: u64) -> impl Fn(&Path) {
    move |dir| {
        let path = dir.join(file);
        let mut bytes = std::fs::read(&path).expect("read to flip");
        bytes[at as usize] ^= 0xff;
        std::fs::write(&path, bytes).expect("write the flip");
    }
}

fn delete(file: &'static str) -> impl Fn(&Path) {
    move |dir| std::fs::remove_file(dir.join(file)).expect("delete")
}

/// The cases for a store: the WAL ones when it has frames, then the `-shm`, the watermark and
/// the database.
fn cases(f: &Fixture) -> Vec<Case> {
    let mut all = vec![case("nothing damaged", Expect::Serve, |_: &Path| {})];
    if let Some(wal) = &f.wal {
        all.extend(wal_cases(wal));
    }
    all.push(case(
        "-shm filled with garbage",
        Expect::Serve,
        |dir: &Path| std::fs::write(dir.join(SHM), vec![0xa5; 32_768]).expect("write the -shm"),
    ));
    all.push(case("-shm deleted", Expect::Serve, |dir: &Path| {
        let _ = std::fs::remove_file(dir.join(SHM));
    }));
    all.push(case("watermark deleted", Expect::Serve, delete(SIDECAR)));
    all.push(case("watermark torn", Expect::Serve, cut(SIDECAR, 30)));
    all.push(case(
        "watermark from an earlier moment",
        Expect::Serve,
        |dir: &Path| {
            std::fs::copy(dir.join(EARLY_SIDECAR), dir.join(SIDECAR)).expect("copy");
        },
    ));
    all.extend(db_cases(f));
    all
}

/// Every frame of the WAL was acknowledged: any frame lost or damaged loses commits.
fn wal_cases(wal: &Wal) -> Vec<Case> {
    let last = wal.frame(wal.frames - 1);
    let before_last_commit = match wal.commit_ends.len() {
        0 | 1 => WAL_HEADER,
        n => wal.commit_ends[n - 2],
    };
    let half = wal.frame(wal.frames / 2);
    let first = wal.frame(0);
    let payload = FRAME_HEADER + wal.page_size / 2;
    vec![
        case(
            "WAL cut by one byte",
            Expect::Missing,
            cut(WAL, wal.len - 1),
        ),
        case(
            "WAL cut in the middle of its last frame",
            Expect::Missing,
            cut(WAL, last + wal.frame_len() / 2),
        ),
        case(
            "WAL cut by the whole last commit",
            Expect::Missing,
            cut(WAL, before_last_commit),
        ),
        case(
            "WAL cut to half its frames",
            Expect::Missing,
            cut(WAL, half),
        ),
        case(
            "WAL cut to its header",
            Expect::Missing,
            cut(WAL, WAL_HEADER),
        ),
        case("WAL cut to zero", Expect::Missing, cut(WAL, 0)),
        case("WAL deleted, stale -shm left", Expect::Missing, delete(WAL)),
        case(
            "WAL: a payload byte of the last frame flipped",
            Expect::Missing,
            flip(WAL, last + payload),
        ),
        case(
            "WAL: the last frame's checksum flipped",
            Expect::Missing,
            flip(WAL, last + 20),
        ),
        case(
            "WAL: the last frame's salt flipped",
            Expect::Missing,
            flip(WAL, last + 9),
        ),
        case(
            "WAL: the last frame's page number flipped",
            Expect::Missing,
            flip(WAL, last + 3),
        ),
        case(
            "WAL: a payload byte of the first frame flipped",
            Expect::Missing,
            flip(WAL, first + payload),
        ),
        case(
            "WAL: the header's checksum flipped",
            Expect::Missing,
            flip(WAL, 28),
        ),
    ]
}

fn db_cases(f: &Fixture) -> Vec<Case> {
    let page = f.page_size;
    let pages = f.db_len / page;
    let last = (pages - 1) * page;
    vec![
        case("database cut to zero", Expect::Missing, cut(DB, 0)),
        case("database deleted", Expect::Missing, delete(DB)),
        case(
            "database cut to half",
            Expect::Either,
            cut(DB, pages / 2 * page),
        ),
        case(
            "database cut by its last page",
            Expect::Either,
            cut(DB, last),
        ),
        // With a WAL, SQLite reads page 1 from it (every commit rewrites page 1, which holds
        // the database's size), so the damaged copy in the file is never read and the next
        // checkpoint overwrites it; without one, the file is not a database any more.
        case(
            "database: the magic string flipped",
            if f.wal.is_some() {
                Expect::Either
            } else {
                Expect::Refuse
            },
            flip(DB, 0),
        ),
        case(
            "database: the page size flipped",
            Expect::Either,
            flip(DB, 16),
        ),
        case(
            "database: the format bytes flipped",
            Expect::Either,
            flip(DB, 18),
        ),
        case(
            "database: page 1's b-tree header flipped",
            Expect::Either,
            flip(DB, 100),
        ),
        // The page's structure, which `quick_check` reads. A byte inside a row's content is
        // not among these cases: no checksum of SQLite's covers it, so it passes the checks
        // and the row is refused only when a request reads it (the ledger's rows excepted,
        // which C24 checks at start).
        case(
            "database: the last page's type flipped",
            Expect::Either,
            flip(DB, last),
        ),
        case(
            "database: the last page's cell count flipped",
            Expect::Either,
            flip(DB, last + 4),
        ),
    ]
}

/// The bytes of the files SQLite keeps data in (`-shm` is an index rebuilt from them): an
/// absent WAL and an empty one are the same.
fn data_files(dir: &Path) -> (Option<Vec<u8>>, Vec<u8>) {
    let db = std::fs::read(dir.join(DB)).ok();
    let wal = std::fs::read(dir.join(WAL)).unwrap_or_default();
    (db, wal)
}

/// Runs one case on a copy of the fixture's files; returns what happened, in a word.
async fn run(f: &Fixture, c: &Case, n: usize) -> &'static str {
    let dir = f.dir.path().join(format!("case-{n}"));
    std::fs::create_dir(&dir).expect("a case directory");
    for name in [DB, WAL, SHM, SIDECAR, EARLY_SIDECAR] {
        let from = f.dir.path().join(name);
        if from.exists() {
            std::fs::copy(&from, dir.join(name)).expect("copy the store");
        }
    }
    (c.damage)(&dir);
    let before = data_files(&dir);
    let db = dir.join(DB);
    let label = format!("{:?}, {}", f.stop, c.name);
    match serve(&db, &dir.join("serve.log")).await {
        Ok(server) => {
            assert!(
                matches!(c.expect, Expect::Serve | Expect::Either),
                "{label}: the server started on a store that must be refused"
            );
            let client = Client::new(&server.url, f.keys.clone());
            support::verify(&client, &f.log, &f.log).await;
            server.kill();
            "served, everything acknowledged is there"
        }
        Err(refusal) => {
            assert!(
                c.expect != Expect::Serve,
                "{label}: a sound store was refused: {}",
                refusal.stderr
            );
            let error = assert_clear_refusal(&refusal, &db, &label);
            eprintln!("  {label}: {error}");
            if c.expect == Expect::Missing {
                assert!(
                    refusal
                        .stderr
                        .contains("committed transactions are missing"),
                    "{label}: refused as missing commits: {}",
                    refusal.stderr
                );
            }
            assert!(
                data_files(&dir) == before,
                "{label}: a refused start changes neither the database nor the WAL"
            );
            let again = serve(&db, &dir.join("serve.log")).await;
            assert!(again.is_err(), "{label}: refused again on a second start");
            if refusal
                .stderr
                .contains("committed transactions are missing")
            {
                "refused: committed transactions are missing"
            } else {
                "refused: damaged"
            }
        }
    }
}

/// A refusal exits non-zero and tells the operator which file and what to do.
fn assert_clear_refusal(refusal: &Refusal, db: &Path, label: &str) -> String {
    assert!(
        !refusal.status.success(),
        "{label}: a refusal exits non-zero: {:?}",
        refusal.status
    );
    let said = &refusal.stderr;
    let error = said
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("{label}: an error line on stderr:\n{said}"));
    assert!(
        error.contains(&db.display().to_string()),
        "{label}: the error names the file: {error}"
    );
    assert!(
        error.contains("minutely restore"),
        "{label}: the error says to restore a backup: {error}"
    );
    error.to_string()
}

async fn damage_after(stop: Stop) {
    let begun = Instant::now();
    let fixture = build(stop).await;
    let mut outcomes: BTreeMap<&str, usize> = BTreeMap::new();
    let all = cases(&fixture);
    for (n, c) in all.iter().enumerate() {
        let outcome = run(&fixture, c, n).await;
        eprintln!("{stop:?}, {}: {outcome}", c.name);
        *outcomes.entry(outcome).or_default() += 1;
    }
    eprintln!(
        "{stop:?}: {} cases in {:.1?}: {outcomes:?}",
        all.len(),
        begun.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damage_after_sigkill_is_recovered_or_refused() {
    damage_after(Stop::Kill).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damage_after_sigterm_is_recovered_or_refused() {
    damage_after(Stop::Term).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damage_at_rest_is_recovered_or_refused() {
    damage_after(Stop::Rest).await;
}

/// What a refusal says to do works: the store is restored from a backup with `minutely
/// restore`, which resets the watermark, and the server then starts on the backup's state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_store_restored_from_a_backup_is_served() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = dir.path().join(DB);
    let log_file = dir.path().join("serve.log");
    let keys = Arc::new(support::seed(dir.path(), &db));
    let backup = dir.path().join("backup.db");
    support::minutely(&db, &["backup", "--to", backup.to_str().expect("UTF-8")]);
    let server = serve(&db, &log_file).await.expect("the store starts");
    let client = Client::new(&server.url, keys.clone());
    let body = json!({"amount": "50", "reference": "after-the-backup"});
    let (status, answer) = client
        .post("/v1/tenants/acme/wallet/fundings", &keys.operator, &body)
        .await
        .expect("fund");
    assert_eq!(status, 200, "{answer}");
    server.kill();
    cut(WAL, WAL_HEADER)(dir.path());
    let refusal = serve(&db, &log_file)
        .await
        .err()
        .expect("the acknowledged funding is missing: refused");
    assert_clear_refusal(&refusal, &db, "after the WAL was cut");
    support::minutely(
        &db,
        &[
            "restore",
            "--from",
            backup.to_str().expect("UTF-8"),
            "--force",
        ],
    );
    let server = serve(&db, &log_file)
        .await
        .unwrap_or_else(|r| panic!("the restored store starts: {}", r.stderr));
    let client = Client::new(&server.url, keys.clone());
    let mut at_backup = Log::default();
    at_backup.funded.insert("seed".to_string());
    support::check_ledger(&client, &at_backup).await;
    let (status, wallet) = client.get("/v1/tenants/acme/wallet", &keys.admin).await;
    assert_eq!(status, 200, "{wallet}");
    assert_eq!(
        dec(&wallet["funded"]),
        "100000".parse().expect("a decimal"),
        "the backup's state, without the later funding: {wallet}"
    );
    server.kill();
}
