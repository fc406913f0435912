//! Crash safety of the real binary: `minutely serve` is killed with SIGKILL at random moments
//! under mixed concurrent load, then restarted on the same store, many times. Whatever it
//! acknowledged must still be there, exactly once (C23, C24, C25 to C27): fundings, ended and
//! ingested calls (replayed, never charged twice), live reservations. The server itself checks
//! C24 for every tenant when it starts and refuses to start otherwise.

use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Kill-and-restart cycles.
const CYCLES: u64 = 20;
/// Concurrent clients during a cycle.
const WORKERS: u64 = 8;
/// The grant of each authorization (`serve --window-s`).
const WINDOW_S: u64 = 120;

/// A sample EUR rate card (the same prices as the server tests' card).
const RATES: &str = "\
kind,key,origin,name,country,premium,rate_per_minute,connection_fee,first_block_s,increment_s,effective_from
dial_out,+33,,France,FR,false,0.0240,0,60,60,2026-01-01T00:00:00Z
dial_out,+336,,France mobile,FR,false,0.1100,0,60,60,2026-01-01T00:00:00Z
dial_out,+1,,North America,US,false,0.0100,0,60,60,2026-01-01T00:00:00Z
dial_in_toll,FR,,France toll,FR,false,0.0300,0,60,60,2026-01-01T00:00:00Z
";

const TENANT: &str = r#"
id = "acme"
name = "Acme"
country = "FR"
currency = "EUR"
timezone = "Europe/Paris"
agreement = "volume_licensing"

[licenses]
MCOMEETACPEA = 5

[wallet]

[[numbers]]
number = "+33 1 86 95 00 00"
kind = "toll"

[[users]]
upn = "ppm@acme.example"
display_name = "PPM User"
licenses = ["MCOMEETACPEA"]
"#;

const PPM: &str = "ppm@acme.example";

/// A small deterministic generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }
}

fn dec(value: &Value) -> Decimal {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("money is a decimal string, got {value}"));
    Decimal::from_str(text).expect("a decimal")
}

/// Runs `minutely` on the store and requires success; returns stdout.
fn minutely(db: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_minutely"))
        .args(args)
        .env("MINUTELY_DB", db)
        .output()
        .expect("run minutely");
    assert!(
        out.status.success(),
        "minutely {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// Keys of the seeded store.
struct Keys {
    operator: String,
    admin: String,
    bridge: String,
}

/// A store with the card, the tenant, three keys and a funded wallet, all through the CLI.
fn seed(dir: &Path, db: &Path) -> Keys {
    let rates = dir.join("rates.csv");
    std::fs::write(&rates, RATES).expect("write the card");
    let tenant = dir.join("tenant.toml");
    std::fs::write(&tenant, TENANT).expect("write the tenant file");
    minutely(
        db,
        &[
            "rates",
            "import",
            rates.to_str().expect("a path"),
            "--currency",
            "EUR",
        ],
    );
    minutely(db, &["apply", "-f", tenant.to_str().expect("a path")]);
    let key = |args: &[&str]| minutely(db, args).trim().to_string();
    let keys = Keys {
        operator: key(&["keys", "create", "--kind", "operator"]),
        admin: key(&[
            "keys",
            "create",
            "--kind",
            "tenant-admin",
            "--tenant",
            "acme",
        ]),
        bridge: key(&["keys", "create", "--kind", "bridge", "--tenant", "acme"]),
    };
    minutely(
        db,
        &[
            "wallet",
            "fund",
            "--tenant",
            "acme",
            "--amount",
            "100000",
            "--reference",
            "seed",
        ],
    );
    keys
}

/// A running `minutely serve`.
struct Server {
    child: Child,
    url: String,
    /// Kept open so that the server's stdout never breaks.
    _stdout: BufReader<ChildStdout>,
}

/// Starts the binary on port 0 and reads its address from the first line of stdout.
fn start(db: &Path, log: &Path) -> Server {
    let stderr = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("the log file");
    let mut child = Command::new(env!("CARGO_BIN_EXE_minutely"))
        .args(["serve", "--listen", "127.0.0.1:0", "--window-s"])
        .arg(WINDOW_S.to_string())
        .arg("--db")
        .arg(db)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("start minutely serve");
    let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("read the banner");
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| {
            let _ = child.kill();
            let logs = std::fs::read_to_string(log).unwrap_or_default();
            panic!("no address in the first line {line:?}; the server said:\n{logs}")
        })
        .to_string();
    Server {
        child,
        url,
        _stdout: stdout,
    }
}

/// What the server acknowledged (2xx), and what was in flight when it died.
#[derive(Debug, Default, Clone)]
struct Log {
    funded: BTreeSet<String>,
    /// Ended calls and the amount each end answered.
    ended: BTreeMap<String, Decimal>,
    /// Allowed calls never ended.
    live: BTreeSet<String>,
    /// Allowed calls whose end was in flight: live or ended, never unknown.
    live_or_ended: BTreeSet<String>,
    /// Ingested records by call id, with the amount answered.
    ingested: BTreeMap<String, (Value, Decimal)>,
    /// Requests cut by the crash (path, key, body): applied or not, they are retried after
    /// the restart, as a client would, and must then take effect exactly once.
    cut: Vec<(String, String, Value)>,
    acked: usize,
}

impl Log {
    fn absorb(&mut self, other: Log) {
        self.funded.extend(other.funded);
        self.ended.extend(other.ended);
        self.live.extend(other.live);
        self.live_or_ended.extend(other.live_or_ended);
        self.ingested.extend(other.ingested);
        self.cut.extend(other.cut);
        self.acked += other.acked;
    }
}

struct Client {
    http: reqwest::Client,
    url: String,
    keys: Arc<Keys>,
}

impl Client {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        key: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), reqwest::Error> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(key)
            .timeout(Duration::from_secs(30));
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let text = response.text().await?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    async fn post(
        &self,
        path: &str,
        key: &str,
        body: &Value,
    ) -> Result<(u16, Value), reqwest::Error> {
        self.send(reqwest::Method::POST, path, key, Some(body))
            .await
    }

    async fn get(&self, path: &str, key: &str) -> (u16, Value) {
        self.send(reqwest::Method::GET, path, key, None)
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// A POST of the load; a request the crash cut is remembered for a retry.
    async fn attempt(
        &self,
        log: &Mutex<Log>,
        path: &str,
        key: &str,
        body: Value,
    ) -> Result<(u16, Value), reqwest::Error> {
        let answer = self.post(path, key, &body).await;
        if answer.is_err() {
            let cut = (path.to_string(), key.to_string(), body);
            log.lock().expect("lock").cut.push(cut);
        }
        answer
    }

    /// One operation of the load; `Err` once the server is gone.
    async fn step(&self, id: &str, rng: &mut Rng, log: &Mutex<Log>) -> Result<(), reqwest::Error> {
        let keys = &self.keys;
        match rng.range(0, 9) {
            0 | 1 => {
                let reference = format!("fund-{id}");
                let body = json!({"amount": "50", "reference": reference});
                let path = "/v1/tenants/acme/wallet/fundings";
                let (status, answer) = self.attempt(log, path, &keys.operator, body).await?;
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
                let (status, answer) = self.attempt(log, path, &keys.bridge, body).await?;
                assert_eq!(status, 200, "{answer}");
                let mut log = log.lock().expect("lock");
                ingested(&mut log, &calls, &answer, false);
                log.acked += 1;
            }
            kind => {
                let path = format!("/v1/tenants/acme/calls/{id}");
                // With its start, a retried authorization is recognised as the same call.
                let start = jiff::Timestamp::from_second(jiff::Timestamp::now().as_second())
                    .expect("an instant");
                let body = json!({
                    "conference_id": "live",
                    "organizer": PPM,
                    "direction": "dial_out",
                    "destination_number": "+33 6 12 34 56 78",
                    "start": start.to_string(),
                });
                let (status, answer) = self
                    .attempt(log, &format!("{path}/authorize"), &keys.bridge, body)
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
                let (status, answer) = self
                    .attempt(log, &format!("{path}/end"), &keys.bridge, body)
                    .await?;
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
}

/// Records the results of an ingestion; `retry` allows first results and replays alike.
fn ingested(log: &mut Log, calls: &[Value], answer: &Value, retry: bool) {
    let results = answer["results"].as_array().expect("results");
    assert_eq!(results.len(), calls.len(), "{answer}");
    for (call, result) in calls.iter().zip(results) {
        assert_eq!(result["status"], "charged", "{result}");
        if !retry {
            assert_eq!(result["replay"], false, "{result}");
        }
        let call_id = call["call_id"].as_str().expect("an id").to_string();
        log.ingested
            .insert(call_id, (call.clone(), dec(&result["charge"]["amount"])));
    }
}

/// Retries, after the restart, the requests the crash cut, as a client would: each takes
/// effect once, whether or not the first attempt had been applied. What they answer joins
/// `log` as acknowledged.
async fn retry_cut(client: &Client, cut: &[(String, String, Value)], log: &mut Log) {
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
    eprintln!(
        "retried {} requests cut by the crash; {applied} had been applied before it",
        cut.len()
    );
}

/// A call record that happened yesterday.
fn record(call_id: &str, duration_s: u64) -> Value {
    let start = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24);
    let start = jiff::Timestamp::from_second(start.as_second()).expect("an instant");
    json!({
        "call_id": call_id,
        "conference_id": "bulk",
        "organizer": PPM,
        "direction": "dial_out",
        "destination_number": "+33 1 23 45 67 89",
        "start": start.to_string(),
        "end": (start + jiff::SignedDuration::from_secs(duration_s as i64)).to_string(),
    })
}

/// Everything in `log` is there after the restart, exactly once; C24 holds.
async fn verify(client: &Client, log: &Log, all: &Log) {
    let bridge = &client.keys.bridge;
    for (call_id, amount) in &log.ended {
        let path = format!("/v1/tenants/acme/calls/{call_id}/end");
        let (status, answer) = client.post(&path, bridge, &json!({})).await.expect("end");
        assert_eq!(status, 200, "{call_id}: {answer}");
        assert_eq!(
            answer["replay"], true,
            "{call_id} was acknowledged as ended: {answer}"
        );
        assert_eq!(
            dec(&answer["charge"]["amount"]),
            *amount,
            "{call_id}: {answer}"
        );
    }
    for call_id in &log.live {
        let path = format!("/v1/tenants/acme/calls/{call_id}/extend");
        let (status, answer) = client
            .post(&path, bridge, &json!({}))
            .await
            .expect("extend");
        assert_eq!(status, 200, "the live call {call_id} survived: {answer}");
    }
    for call_id in &log.live_or_ended {
        let path = format!("/v1/tenants/acme/calls/{call_id}/extend");
        let (status, answer) = client
            .post(&path, bridge, &json!({}))
            .await
            .expect("extend");
        assert!(
            status == 200 || status == 409,
            "the authorized call {call_id} is live or ended: {answer}"
        );
    }
    let records: Vec<&Value> = log.ingested.values().map(|(r, _)| r).collect();
    for chunk in records.chunks(1000) {
        let (status, answer) = client
            .post("/v1/tenants/acme/calls", bridge, &json!({"calls": chunk}))
            .await
            .expect("ingest");
        assert_eq!(status, 200, "{answer}");
        for (record, result) in chunk
            .iter()
            .zip(answer["results"].as_array().expect("results"))
        {
            let call_id = record["call_id"].as_str().expect("an id");
            assert_eq!(
                result["replay"], true,
                "{call_id} was acknowledged: {result}"
            );
            assert_eq!(
                dec(&result["charge"]["amount"]),
                log.ingested[call_id].1,
                "{call_id}"
            );
        }
    }
    check_ledger(client, all).await;
}

/// C24 and exactly-once, from the wallet and the whole ledger.
async fn check_ledger(client: &Client, all: &Log) {
    let admin = &client.keys.admin;
    let (status, wallet) = client.get("/v1/tenants/acme/wallet", admin).await;
    assert_eq!(status, 200, "{wallet}");
    let balance = dec(&wallet["balance"]);
    assert_eq!(
        dec(&wallet["funded"]) - dec(&wallet["debited"]) - dec(&wallet["forfeited"]),
        balance,
        "C24: {wallet}"
    );
    assert_eq!(
        dec(&wallet["available"]),
        balance - dec(&wallet["reserved"]),
        "C14: {wallet}"
    );
    let mut entries = Vec::new();
    let mut after = 0u64;
    loop {
        let path = format!("/v1/tenants/acme/wallet/ledger?limit=1000&after={after}");
        let (status, page) = client.get(&path, admin).await;
        assert_eq!(status, 200, "{page}");
        let items = page["entries"].as_array().expect("entries").clone();
        entries.extend(items);
        match page["next"].as_str() {
            Some(next) => after = next.parse().expect("a cursor"),
            None => break,
        }
    }
    let mut running = Decimal::ZERO;
    let mut fundings: BTreeMap<String, usize> = BTreeMap::new();
    let mut debits: BTreeMap<String, Decimal> = BTreeMap::new();
    for (i, entry) in entries.iter().enumerate() {
        assert_eq!(entry["seq"], i as u64 + 1, "no gap in the journal");
        running += dec(&entry["delta"]);
        assert_eq!(dec(&entry["balance_after"]), running, "C24 at {entry}");
        match entry["kind"].as_str() {
            Some("funding") => {
                let reference = entry["reference"].as_str().expect("a reference");
                *fundings.entry(reference.to_string()).or_default() += 1;
            }
            Some("debit") => {
                let call_id = entry["call_id"].as_str().expect("a call id").to_string();
                let twice = debits.insert(call_id.clone(), dec(&entry["amount"]));
                assert!(twice.is_none(), "{call_id} was debited twice");
            }
            _ => {}
        }
    }
    assert_eq!(running, balance, "C24: the ledger adds up to the balance");
    for (reference, count) in &fundings {
        assert_eq!(*count, 1, "funding {reference} credited {count} times");
    }
    for reference in &all.funded {
        assert!(
            fundings.contains_key(reference),
            "the acknowledged funding {reference} is lost"
        );
    }
    let charged = all
        .ended
        .iter()
        .chain(all.ingested.iter().map(|(k, v)| (k, &v.1)));
    for (call_id, amount) in charged {
        let debited = debits.get(call_id).copied().unwrap_or(Decimal::ZERO);
        assert_eq!(
            debited, *amount,
            "{call_id}: the ledger debit is the answered charge"
        );
    }
}

/// One cycle: mixed load until a random moment, then SIGKILL. Returns what was acknowledged.
async fn cycle(client: Arc<Client>, n: u64, rng: &mut Rng, server: &mut Server) -> Log {
    let log = Arc::new(Mutex::new(Log::default()));
    let done = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for w in 0..WORKERS {
        let (client, log, done) = (client.clone(), log.clone(), done.clone());
        let mut rng = Rng(rng.next_u64());
        workers.push(tokio::spawn(async move {
            for i in 0..100_000 {
                let id = format!("c{n}-w{w}-{i}");
                if client.step(&id, &mut rng, &log).await.is_err() {
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
    tokio::time::sleep(Duration::from_millis(rng.range(0, 400))).await;
    // SIGKILL on Unix: no shutdown code runs.
    server.child.kill().expect("kill the server");
    server.child.wait().expect("reap the server");
    let mut cut = 0;
    for worker in workers {
        cut += usize::from(worker.await.expect("a worker"));
    }
    let log = std::mem::take(&mut *log.lock().expect("lock"));
    eprintln!(
        "cycle {n}: killed after {:?}, {} operations acknowledged, {cut} cut in flight",
        started.elapsed(),
        log.acked
    );
    log
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_under_load_loses_nothing_acknowledged_and_charges_nothing_twice() {
    let begun = Instant::now();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db: PathBuf = dir.path().join("minutely.db");
    let log_file = dir.path().join("serve.log");
    let keys = Arc::new(seed(dir.path(), &db));
    let mut rng = Rng(0xc4a5_4000);
    let mut all = Log::default();
    let mut last = Log::default();
    for n in 0..CYCLES {
        let (db2, log2) = (db.clone(), log_file.clone());
        let mut server = tokio::task::spawn_blocking(move || start(&db2, &log2))
            .await
            .expect("start");
        let client = Arc::new(Client {
            http: reqwest::Client::new(),
            url: server.url.clone(),
            keys: keys.clone(),
        });
        // The restart kept everything the last cycle acknowledged (and C24 held at start);
        // the requests the crash cut are retried and take effect once.
        let mut retried = Log::default();
        retry_cut(&client, &last.cut, &mut retried).await;
        all.absorb(retried.clone());
        last.absorb(retried);
        verify(&client, &last, &all).await;
        let acked = cycle(client, n, &mut rng, &mut server).await;
        assert!(acked.acked > 0, "cycle {n} acknowledged nothing");
        all.absorb(acked.clone());
        last = acked;
    }
    let (db2, log2) = (db.clone(), log_file.clone());
    let mut server = tokio::task::spawn_blocking(move || start(&db2, &log2))
        .await
        .expect("start");
    let client = Client {
        http: reqwest::Client::new(),
        url: server.url.clone(),
        keys: keys.clone(),
    };
    let mut retried = Log::default();
    retry_cut(&client, &last.cut, &mut retried).await;
    all.absorb(retried);
    verify(&client, &all, &all).await;
    server.child.kill().expect("kill");
    server.child.wait().expect("wait");
    eprintln!(
        "{CYCLES} crashes, {} operations acknowledged, {:?}",
        all.acked,
        begun.elapsed()
    );
}
