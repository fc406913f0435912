//! The product binary on PostgreSQL: `minutely migrate` moves an embedded store up, verified,
//! and refuses a database that already holds data; every command and `minutely serve` then work
//! on the migrated database; a server killed with SIGKILL restarts on it with every
//! acknowledged charge present once (C24 checked on load). Runs when MINUTELY_TEST_POSTGRES
//! names a server (`./run-tests` starts a throwaway one); says it was skipped otherwise.

use crate::support::{Client, Keys, dec, minutely, record, run, seed, start};
use minutely_testkit::stores::{new_database, postgres_server};
use rust_decimal::Decimal;
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;

fn on_postgres() -> Option<String> {
    let server = postgres_server();
    if server.is_none() {
        eprintln!("skipped: MINUTELY_TEST_POSTGRES names no PostgreSQL server");
    }
    server
}

/// The reads that must give the same text on the embedded store and on its copy.
const READS: &[&[&str]] = &[
    &["wallet", "show", "--tenant", "acme"],
    &["wallet", "ledger", "--tenant", "acme"],
    &["keys", "list"],
    &["audit"],
    &["countries", "export"],
    &["rates", "export", "--currency", "EUR"],
];

/// Every read of `READS` prints the same on both stores.
fn same_reads(file: &std::path::Path, copy: &std::path::Path, why: &str) {
    for args in READS {
        assert_eq!(
            minutely(file, args),
            minutely(copy, args),
            "{why}: {args:?}"
        );
    }
}

#[test]
fn postgres_migrate_copies_a_store_verified_and_refuses_a_database_with_data() {
    let Some(server) = on_postgres() else { return };
    let dir = tempfile::tempdir().expect("a temp dir");
    let db = dir.path().join("minutely.db");
    seed(dir.path(), &db);
    let url = PathBuf::from(new_database(&server));
    let (from, to) = (db.to_str().unwrap(), url.to_str().unwrap());
    let said = minutely(&db, &["migrate", "--from", from, "--to", to]);
    assert!(said.contains("1 tenants"), "{said}");
    assert!(said.contains("verified"), "{said}");
    same_reads(&db, &url, "migrated");
    let again = run(&db, &["migrate", "--from", from, "--to", to]);
    assert!(!again.status.success(), "a second migration is refused");
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("already holds data"), "{stderr}");
    same_reads(&db, &url, "unchanged");
    let backwards = run(&db, &["migrate", "--from", to, "--to", from]);
    assert!(
        !backwards.status.success(),
        "a PostgreSQL source is refused"
    );
}

#[tokio::test]
async fn postgres_serve_charges_and_a_killed_server_restarts_with_every_charge_once() {
    let Some(server) = on_postgres() else { return };
    let dir = tempfile::tempdir().expect("a temp dir");
    let url = PathBuf::from(new_database(&server));
    let keys = Arc::new(seed(dir.path(), &url));
    let log = dir.path().join("server.log");
    let served = start(&url, &log);
    let client = Client::new(&served.url, Arc::clone(&keys));
    let before = balance(&client, &keys).await;
    let calls: Vec<_> = (0..20).map(|i| record(&format!("pg-{i}"), 125)).collect();
    let answer = post_calls(&client, &keys, &calls).await;
    let charged = charged_total(&answer, false);
    assert!(charged > Decimal::ZERO, "{answer}");
    served.kill();
    // A new process on the same database loads every tenant (C24 checked) and holds every
    // charge acknowledged, once: the same calls again are replays (C23).
    let again = start(&url, &log);
    let client = Client::new(&again.url, Arc::clone(&keys));
    let replay = post_calls(&client, &keys, &calls).await;
    assert_eq!(
        charged_total(&replay, true),
        charged,
        "replays answer the first charge"
    );
    assert_eq!(
        balance(&client, &keys).await,
        before - charged,
        "C24: charged once"
    );
    let fund = run(
        &url,
        &[
            "wallet",
            "fund",
            "--tenant",
            "acme",
            "--amount",
            "100",
            "--reference",
            "x",
        ],
    );
    again.kill();
    assert!(
        !fund.status.success(),
        "refused while a server owns the store"
    );
    let stderr = String::from_utf8_lossy(&fund.stderr);
    assert!(
        stderr.contains("in use by a running minutely server"),
        "{stderr}"
    );
}

/// Sends calls for acme and requires them acknowledged; returns the answer.
async fn post_calls(
    client: &Client,
    keys: &Keys,
    calls: &[serde_json::Value],
) -> serde_json::Value {
    let body = json!({ "calls": calls });
    let (status, answer) = client
        .post("/v1/tenants/acme/calls", &keys.bridge, &body)
        .await
        .expect("the calls are sent");
    assert_eq!(status, 200, "{answer}");
    answer
}

/// The sum of the charged amounts of an ingestion answer, every result a replay or none.
fn charged_total(answer: &serde_json::Value, replay: bool) -> Decimal {
    let results = answer["results"].as_array().expect("results");
    results
        .iter()
        .map(|r| {
            assert_eq!(r["status"], "charged", "{r}");
            assert_eq!(r["replay"], replay, "{r}");
            dec(&r["charge"]["amount"])
        })
        .sum()
}

async fn balance(client: &Client, keys: &Keys) -> Decimal {
    let (status, wallet) = client.get("/v1/tenants/acme/wallet", &keys.admin).await;
    assert_eq!(status, 200, "{wallet}");
    dec(&wallet["balance"])
}

/// A throwaway PostgreSQL cluster of one test's own (`deploy/postgres-throwaway`), on a free
/// loopback port: restarting it touches no other test. Stopped and deleted when dropped.
pub(crate) struct Cluster {
    pub(crate) dir: PathBuf,
    pub(crate) url: String,
}

impl Cluster {
    pub(crate) fn start() -> Cluster {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        // Under /tmp: the cluster's owner (the `postgres` user, as root) must enter it.
        let dir = PathBuf::from(format!("/tmp/minutely-pgr-{}-{port}", std::process::id()));
        let out = throwaway(&["start", dir.to_str().unwrap(), &port.to_string()]);
        Cluster {
            dir,
            url: String::from_utf8(out).expect("UTF-8").trim().to_string(),
        }
    }
}

impl Cluster {
    /// `pg_ctl restart -m immediate` of this cluster, on a blocking thread.
    pub(crate) fn restart_in_background(&self) -> tokio::task::JoinHandle<()> {
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || {
            throwaway(&["restart", dir.to_str().expect("a UTF-8 path")]);
        })
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = std::process::Command::new(script())
            .args(["stop", self.dir.to_str().unwrap()])
            .status();
    }
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/postgres-throwaway")
}

pub(crate) fn throwaway(args: &[&str]) -> Vec<u8> {
    let out = std::process::Command::new(script())
        .args(args)
        .output()
        .expect("run deploy/postgres-throwaway");
    assert!(
        out.status.success(),
        "postgres-throwaway {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Sends one batch of calls; the charged amount of each, when the batch was acknowledged.
async fn send(client: &Client, keys: &Keys, calls: &[serde_json::Value]) -> Option<Vec<Decimal>> {
    let body = json!({ "calls": calls });
    match client
        .post("/v1/tenants/acme/calls", &keys.bridge, &body)
        .await
    {
        Ok((200, answer)) => Some(
            answer["results"]
                .as_array()
                .expect("results")
                .iter()
                .map(|r| {
                    assert_eq!(r["status"], "charged", "{r}");
                    dec(&r["charge"]["amount"])
                })
                .collect(),
        ),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_database_restart_under_load_loses_nothing_acknowledged() {
    if on_postgres().is_none() {
        return;
    }
    let cluster = Cluster::start();
    let url = PathBuf::from(new_database(&cluster.url));
    let dir = tempfile::tempdir().expect("a temp dir");
    let keys = Arc::new(seed(dir.path(), &url));
    let served = start(&url, &dir.path().join("server.log"));
    let client = Client::new(&served.url, Arc::clone(&keys));
    let before = balance(&client, &keys).await;
    let batches: Vec<Vec<_>> = (0..40)
        .map(|b| (0..5).map(|i| record(&format!("r-{b}-{i}"), 65)).collect())
        .collect();
    let mut acknowledged = Vec::new();
    let mut restart = None;
    for (n, calls) in batches.iter().enumerate() {
        if n == 10 {
            // Batches keep coming while the database restarts.
            restart = Some(cluster.restart_in_background());
        }
        acknowledged.push(send(&client, &keys, calls).await);
        if n == 14 {
            let restart = restart.take().expect("started at batch 10");
            restart.await.expect("the restart ran");
        }
    }
    let answered = acknowledged.iter().flatten().count();
    assert!(
        answered >= 30,
        "the server recovered: {answered} of 40 batches answered"
    );
    // Every call again, until every batch is answered (bounded): the calls acknowledged before
    // are replays with the same charge (C23); the others were charged then or now, once.
    let mut total = Decimal::ZERO;
    for (n, first) in acknowledged.iter().enumerate() {
        let mut again = None;
        for _ in 0..60 {
            again = send(&client, &keys, &batches[n]).await;
            if again.is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
        let again = again.unwrap_or_else(|| panic!("batch {n} is never answered again"));
        if let Some(first) = first {
            assert_eq!(
                first, &again,
                "batch {n}: an acknowledged charge is kept as it was"
            );
        }
        total += again.iter().copied().sum::<Decimal>();
    }
    assert_eq!(
        balance(&client, &keys).await,
        before - total,
        "C24: each call charged once"
    );
    served.kill();
    drop(cluster);
}
