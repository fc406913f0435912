//! Crash safety of the real binary: `minutely serve` is killed with SIGKILL at random moments
//! under mixed concurrent load (fundings, ingestion batches, authorize / end, live holds), then
//! restarted on the same store, many times. Whatever it acknowledged must still be there,
//! exactly once (C23, C24, C25 to C27): fundings, ended and ingested calls (replayed, never
//! charged twice), live reservations. The server itself checks C24 for every tenant when it
//! starts and refuses to start otherwise.
//!
//! `MINUTELY_CRASH_CYCLES` sets the number of cycles (50 by default), `MINUTELY_CRASH_SEED` the
//! seed (printed at the start, so a failing run can be repeated).

use crate::support;

use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::{Client, Log, Rng, Server, Verified, WINDOW_S, dec, ingested, record};

/// Kill-and-restart cycles unless `MINUTELY_CRASH_CYCLES` says otherwise.
const CYCLES: u64 = 50;
/// The seed unless `MINUTELY_CRASH_SEED` says otherwise.
const SEED: u64 = 0xc4a5_4000;
/// Concurrent clients during a cycle.
const WORKERS: u64 = 8;
/// The longest load after the first acknowledgements before the kill, in milliseconds.
const MAX_LOAD_MS: u64 = 300;

/// A number from the environment, or `default`.
fn setting(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(text) => {
            parse_number(&text).unwrap_or_else(|| panic!("{name}={text:?} is not a number"))
        }
        Err(_) => default,
    }
}

/// A decimal or `0x` hexadecimal number.
fn parse_number(text: &str) -> Option<u64> {
    match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(&hex.replace('_', ""), 16).ok(),
        None => text.replace('_', "").parse().ok(),
    }
}

/// A POST of the load; a request the crash cut is remembered for a retry.
async fn attempt(
    client: &Client,
    log: &Mutex<Log>,
    path: &str,
    key: &str,
    body: Value,
) -> Result<(u16, Value), reqwest::Error> {
    let answer = client.post(path, key, &body).await;
    if answer.is_err() {
        let cut = (path.to_string(), key.to_string(), body);
        log.lock().expect("lock").cut.push(cut);
    }
    answer
}

/// One operation of the load: a funding, an ingestion batch, or a call authorized and then
/// either left live or ended. `Err` once the server is gone.
async fn step(
    client: &Client,
    id: &str,
    rng: &mut Rng,
    log: &Mutex<Log>,
) -> Result<(), reqwest::Error> {
    let keys = &client.keys;
    match rng.range(0, 9) {
        0 | 1 => {
            let reference = format!("fund-{id}");
            let body = json!({"amount": "50", "reference": reference});
            let path = "/v1/tenants/acme/wallet/fundings";
            let (status, answer) = attempt(client, log, path, &keys.operator, body).await?;
            assert_eq!(status, 200, "{answer}");
            let mut log = log.lock().expect("lock");
            log.funded.insert(reference);
            log.acked += 1;
        }
        2 | 3 => {
            let calls: Vec<Value> = (0..rng.range(1, 30))
                .map(|i| record(&format!("{id}-b{i}"), rng.range(0, 1800)))
                .collect();
            let body = json!({"calls": calls});
            let path = "/v1/tenants/acme/calls";
            let (status, answer) = attempt(client, log, path, &keys.bridge, body).await?;
            assert_eq!(status, 200, "{answer}");
            let mut log = log.lock().expect("lock");
            ingested(&mut log, &calls, &answer, false);
            log.acked += 1;
        }
        kind => {
            let path = format!("/v1/tenants/acme/calls/{id}");
            let body = support::authorization();
            let (status, answer) = attempt(
                client,
                log,
                &format!("{path}/authorize"),
                &keys.bridge,
                body,
            )
            .await?;
            assert_eq!(status, 200, "{answer}");
            assert_eq!(answer["decision"], "allow", "{answer}");
            assert_eq!(
                answer["max_duration_s"], WINDOW_S,
                "serve --window-s: {answer}"
            );
            {
                let mut log = log.lock().expect("lock");
                log.acked += 1;
                if kind <= 5 {
                    log.live.insert(id.to_string());
                    return Ok(());
                }
                log.live_or_ended.insert(id.to_string());
            }
            let body = json!({"duration_s": rng.range(0, WINDOW_S)});
            let (status, answer) =
                attempt(client, log, &format!("{path}/end"), &keys.bridge, body).await?;
            assert_eq!(status, 200, "{answer}");
            assert_eq!(answer["replay"], false, "{answer}");
            let mut log = log.lock().expect("lock");
            log.live_or_ended.remove(id);
            log.ended
                .insert(id.to_string(), dec(&answer["charge"]["amount"]));
            log.acked += 1;
        }
    }
    Ok(())
}

/// Retries, after the restart, the requests the crash cut, as a client would: each takes
/// effect once, whether or not the first attempt had been applied. What they answer joins
/// `log` as acknowledged. Returns how many had been applied before the crash.
async fn retry_cut(client: &Client, cut: &[(String, String, Value)], log: &mut Log) -> usize {
    let mut applied = 0;
    for (path, key, body) in cut {
        let (status, answer) = client.post(path, key, body).await.expect("a retry");
        let replays = answer["results"]
            .as_array()
            .is_some_and(|r| r.iter().any(|r| r["replay"] == true));
        applied += usize::from(status == 409 || answer["replay"] == true || replays);
        let call_id = path.split('/').nth(5).unwrap_or_default().to_string();
        if path.ends_with("/wallet/fundings") {
            // 409: the first attempt was applied; the reference never credits twice.
            assert!(status == 200 || status == 409, "retry {path}: {answer}");
            let reference = body["reference"].as_str().expect("a reference");
            log.funded.insert(reference.to_string());
        } else if path.ends_with("/calls") {
            assert_eq!(status, 200, "retry {path}: {answer}");
            let calls = body["calls"].as_array().expect("calls");
            ingested(log, calls, &answer, true);
        } else if path.ends_with("/authorize") {
            assert_eq!(status, 200, "retry {path}: {answer}");
            assert_eq!(answer["decision"], "allow", "retry {path}: {answer}");
            log.live.insert(call_id);
        } else if path.ends_with("/end") {
            assert_eq!(status, 200, "retry {path}: {answer}");
            assert_eq!(answer["status"], "charged", "retry {path}: {answer}");
            log.live_or_ended.remove(&call_id);
            log.ended.insert(call_id, dec(&answer["charge"]["amount"]));
        } else {
            panic!("an unexpected request {path}");
        }
        log.acked += 1;
    }
    applied
}

/// One cycle: mixed load until a random moment, then SIGKILL. Returns what was acknowledged.
async fn cycle(client: Arc<Client>, n: u64, rng: &mut Rng, server: &mut Server) -> Log {
    let log = Arc::new(Mutex::new(Log::default()));
    let done = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for w in 0..WORKERS {
        let (client, log, done) = (client.clone(), log.clone(), done.clone());
        let mut rng = Rng::new(rng.next_u64());
        workers.push(tokio::spawn(async move {
            for i in 0..100_000 {
                let id = format!("c{n}-w{w}-{i}");
                if step(&client, &id, &mut rng, &log).await.is_err() {
                    // The server died: this operation may or may not have been applied.
                    return true;
                }
                done.fetch_add(1, Ordering::SeqCst);
            }
            false
        }));
    }
    // Some load first, then a random moment.
    let started = Instant::now();
    while done.load(Ordering::SeqCst) < 5 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "cycle {n}: no progress"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    tokio::time::sleep(Duration::from_millis(rng.range(0, MAX_LOAD_MS))).await;
    // SIGKILL on Unix: no shutdown code runs.
    server.child.kill().expect("kill the server");
    server.child.wait().expect("reap the server");
    for worker in workers {
        worker.await.expect("a worker");
    }
    std::mem::take(&mut *log.lock().expect("lock"))
}

/// Starts the server on the store (off the async threads: it blocks until the banner).
async fn restart(db: &std::path::Path, log_file: &std::path::Path) -> Server {
    let (db, log_file) = (db.to_path_buf(), log_file.to_path_buf());
    tokio::task::spawn_blocking(move || support::start(&db, &log_file))
        .await
        .expect("start")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_under_load_loses_nothing_acknowledged_and_charges_nothing_twice() {
    let cycles = setting("MINUTELY_CRASH_CYCLES", CYCLES);
    let seed = setting("MINUTELY_CRASH_SEED", SEED);
    eprintln!(
        "{cycles} cycles, seed {seed:#x} (repeat with MINUTELY_CRASH_SEED={seed:#x} MINUTELY_CRASH_CYCLES={cycles})"
    );
    let begun = Instant::now();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db: PathBuf = dir.path().join("minutely.db");
    let log_file = dir.path().join("serve.log");
    let keys = Arc::new(support::seed(dir.path(), &db));
    let mut rng = Rng::new(seed);
    let mut all = Log::default();
    let mut last = Log::default();
    let (mut cut_total, mut applied_total) = (0, 0);
    let mut checked = Verified::default();
    for n in 0..=cycles {
        let mut server = restart(&db, &log_file).await;
        let client = Arc::new(Client::new(&server.url, keys.clone()));
        // The restart kept everything the last cycle acknowledged (and C24 held at start);
        // the requests the crash cut are retried and take effect once.
        let mut retried = Log::default();
        applied_total += retry_cut(&client, &last.cut, &mut retried).await;
        cut_total += last.cut.len();
        all.absorb(retried.clone());
        last.absorb(retried);
        if n == cycles {
            // The last start: everything acknowledged over all cycles is there.
            checked = support::verify(&client, &all, &all).await;
            server.kill();
            break;
        }
        let seen = support::verify(&client, &last, &all).await;
        let acked = cycle(client, n, &mut rng, &mut server).await;
        assert!(acked.acked > 0, "cycle {n} acknowledged nothing");
        eprintln!(
            "cycle {n}: {} acknowledged, {} cut by the kill; the restart kept {} fundings, {} charges, {} holds of the last cycle",
            acked.acked,
            acked.cut.len(),
            seen.fundings,
            seen.charges,
            seen.holds
        );
        all.absorb(acked.clone());
        last = acked;
    }
    eprintln!(
        "crash summary: {cycles} SIGKILLs in {:.0?}, seed {seed:#x}: {} operations acknowledged \
         ({} fundings, {} charges, {} holds); {cut_total} cut by a kill were retried \
         ({applied_total} had been applied); all verified after the last restart, {} journal entries",
        begun.elapsed(),
        all.acked,
        checked.fundings,
        checked.charges,
        checked.holds,
        checked.entries
    );
}
