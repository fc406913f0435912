//! `minutely backup` while `minutely serve` commits fundings, then `minutely restore` of that
//! backup into a new store: the restored ledger is consistent (C24), holds every funding
//! acknowledged before the backup started, and none twice. Restore is refused while a server
//! runs, onto an existing store without --force, and from a damaged file (changing nothing).

use crate::support::run as minutely;
use minutely_testkit::fixtures::example_tenant_path;
use rust_decimal::Decimal;
use std::collections::HashSet;
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

fn refused(out: Output, expected: &str) {
    assert!(!out.status.success(), "refused");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(expected), "{stderr}");
}

fn money(text: &str) -> Decimal {
    text.parse()
        .unwrap_or_else(|_| panic!("an amount: {text:?}"))
}

/// The files in `dir` whose names hold `.tmp-` (a temporary left behind).
fn temporaries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("the directory")
        .map(|e| {
            e.expect("an entry")
                .file_name()
                .to_string_lossy()
                .to_string()
        })
        .filter(|n| n.contains(".tmp-"))
        .collect()
}

/// Checks C24 as `wallet show` prints it and against `wallet ledger`; returns the references
/// of the fundings in the ledger, in order.
fn consistent_fundings(db: &Path) -> Vec<String> {
    let show = ok(minutely(db, &["wallet", "show", "--tenant", "contoso"]));
    let balance = show
        .lines()
        .find_map(|l| l.strip_prefix("balance:"))
        .and_then(|l| l.split_whitespace().next())
        .map(money)
        .expect("a balance line");
    let totals: Vec<Decimal> = show
        .lines()
        .find(|l| l.starts_with("funded ") && l.ends_with("(C24)"))
        .expect("the totals line")
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    let [funded, debited, forfeited] = totals[..] else {
        panic!("three totals: {show}");
    };
    assert_eq!(balance, funded - debited - forfeited, "C24: {show}");

    let ledger = ok(minutely(db, &["wallet", "ledger", "--tenant", "contoso"]));
    let mut references = Vec::new();
    let mut running = Decimal::ZERO;
    let mut funded_in_ledger = Decimal::ZERO;
    for line in ledger.lines().skip(1) {
        let cells: Vec<&str> = line.split_whitespace().collect();
        let (kind, amount, after) = (cells[2], money(cells[3]), money(cells[4]));
        running += amount;
        assert_eq!(running, after, "the running balance: {line}");
        if kind == "funding" {
            funded_in_ledger += amount;
            references.push(cells[5].to_string());
        }
    }
    assert_eq!(running, balance, "the ledger ends at the balance");
    assert_eq!(funded_in_ledger, funded, "the funded total");
    references
}

#[test]
fn a_backup_taken_under_load_restores_a_consistent_prefix() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = dir.path().join("minutely.db");
    let backup = dir.path().join("backup.db");
    let tenant = example_tenant_path();
    ok(minutely(&db, &["apply", "-f", tenant.to_str().unwrap()]));
    ok(minutely(
        &db,
        &["wallet", "fund", "--tenant", "contoso", "--amount", "100"],
    ));

    // Made before the server starts (it re-reads keys only every second).
    let key = ok(minutely(&db, &["keys", "create", "--kind", "operator"]))
        .trim()
        .to_string();
    let mut server = Command::new(env!("CARGO_BIN_EXE_minutely"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("MINUTELY_DB", &db)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the server");
    let mut stdout = BufReader::new(server.stdout.take().expect("stdout"));
    let mut banner = String::new();
    stdout.read_line(&mut banner).expect("the banner");
    let addr = banner
        .strip_prefix("Minutely is serving http://")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("{banner}"))
        .trim_end_matches('/')
        .to_string();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let (acked_before, acked_all, backup_out) = runtime.block_on(async {
        let acked = Arc::new(Mutex::new(Vec::<String>::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let http = reqwest::Client::new();
        let url = format!("http://{addr}/v1/tenants/contoso/wallet/fundings");
        let mut workers = Vec::new();
        for worker in 0..8 {
            let (acked, stop, http, url, key) = (
                acked.clone(),
                stop.clone(),
                http.clone(),
                url.clone(),
                key.clone(),
            );
            workers.push(tokio::spawn(async move {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let reference = format!("R{worker}-{n}");
                    n += 1;
                    let response = http
                        .post(&url)
                        .bearer_auth(&key)
                        .json(&serde_json::json!({"amount": "100", "reference": reference}))
                        .send()
                        .await
                        .expect("the server answers");
                    let status = response.status();
                    let body = response.text().await.unwrap_or_default();
                    assert!(status.is_success(), "{status}: {body}");
                    acked.lock().unwrap().push(reference);
                }
            }));
        }
        // Let some fundings commit, note what was acknowledged, then back up under load.
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while acked.lock().unwrap().len() < 100 {
            if let Some(w) = workers.iter_mut().find(|w| w.is_finished()) {
                w.await.expect("a worker");
            }
            assert!(std::time::Instant::now() < deadline, "the load is too slow");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let before: Vec<String> = acked.lock().unwrap().clone();
        let (db2, backup2) = (db.clone(), backup.clone());
        let out = tokio::task::spawn_blocking(move || {
            minutely(&db2, &["backup", "--to", backup2.to_str().unwrap()])
        })
        .await
        .expect("the backup ran");
        tokio::time::sleep(Duration::from_millis(200)).await;
        stop.store(true, Ordering::Relaxed);
        for w in workers {
            w.await.expect("a worker");
        }
        let all: Vec<String> = acked.lock().unwrap().clone();
        (before, all, out)
    });
    let printed = ok(backup_out);
    assert!(
        printed.contains("1 tenants") && printed.contains("verified"),
        "{printed}"
    );
    assert!(
        acked_all.len() > acked_before.len(),
        "the load went on during and after the backup"
    );
    assert!(temporaries(dir.path()).is_empty());

    // Restore is refused while the server runs, and the server's store is untouched.
    refused(
        minutely(
            &db,
            &["restore", "--from", backup.to_str().unwrap(), "--force"],
        ),
        "in use by a running minutely server",
    );

    let kill = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .expect("kill");
    assert!(kill.success());
    assert!(server.wait().expect("the server exits").success());
    // Everything acknowledged is in the live store, once.
    let live = consistent_fundings(&db);
    let live_refs: HashSet<&String> = live.iter().collect();
    assert_eq!(live_refs.len(), live.len(), "no funding twice");
    assert!(acked_all.iter().all(|r| live_refs.contains(r)));

    // Restore into a new store.
    let restored = dir.path().join("restored.db");
    let out = ok(minutely(
        &restored,
        &["restore", "--from", backup.to_str().unwrap()],
    ));
    assert!(out.contains("verified"), "{out}");
    let fundings = consistent_fundings(&restored);
    let seen: HashSet<&String> = fundings.iter().collect();
    assert_eq!(seen.len(), fundings.len(), "no funding twice: {fundings:?}");
    for reference in &acked_before {
        assert!(
            seen.contains(reference),
            "{reference} was acknowledged before the backup started"
        );
    }
    let acked_set: HashSet<&String> = acked_all.iter().collect();
    for reference in fundings.iter().filter(|r| r.starts_with('R')) {
        assert!(
            acked_set.contains(reference),
            "{reference} was never acknowledged"
        );
    }
    let not_api = |list: &[String]| -> Vec<String> {
        list.iter()
            .filter(|r| !r.starts_with('R'))
            .cloned()
            .collect()
    };
    assert_eq!(
        not_api(&fundings),
        not_api(&live),
        "the fundings made before the server"
    );
    assert!(fundings.len() < live.len() + 1);

    // Onto an existing store: refused without --force, and nothing changes.
    let bytes = std::fs::read(&restored).unwrap();
    refused(
        minutely(&restored, &["restore", "--from", backup.to_str().unwrap()]),
        "already exists",
    );
    assert_eq!(std::fs::read(&restored).unwrap(), bytes);

    // A damaged backup is refused, even with --force, and nothing changes.
    let damaged = dir.path().join("damaged.db");
    std::fs::copy(&backup, &damaged).unwrap();
    let len = std::fs::metadata(&damaged).unwrap().len();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .open(&damaged)
        .unwrap();
    file.seek(SeekFrom::Start(4096)).unwrap();
    file.write_all(&vec![0x5A; (len - 8192) as usize]).unwrap();
    drop(file);
    refused(
        minutely(
            &restored,
            &["restore", "--from", damaged.to_str().unwrap(), "--force"],
        ),
        "damaged.db",
    );
    assert_eq!(std::fs::read(&restored).unwrap(), bytes);
    let truncated = dir.path().join("truncated.db");
    std::fs::write(
        &truncated,
        &std::fs::read(&backup).unwrap()[..(len / 2) as usize],
    )
    .unwrap();
    refused(
        minutely(
            &restored,
            &["restore", "--from", truncated.to_str().unwrap(), "--force"],
        ),
        "truncated.db",
    );
    assert_eq!(std::fs::read(&restored).unwrap(), bytes);
    assert_eq!(consistent_fundings(&restored), fundings);

    // A backup never replaces a file unless asked; with --force, a restore replaces a store.
    let b = backup.to_str().unwrap();
    refused(minutely(&db, &["backup", "--to", b]), "already exists");
    let out = ok(minutely(&db, &["backup", "--to", b, "--overwrite"]));
    assert!(out.contains("verified"), "{out}");
    ok(minutely(&restored, &["restore", "--from", b, "--force"]));
    assert_eq!(consistent_fundings(&restored), live);
    assert!(temporaries(dir.path()).is_empty());
}
