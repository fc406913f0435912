//! What the crash and storage-fault tests share: a store seeded through the real binary, a
//! `minutely serve` process, an HTTP client, the record of what the server acknowledged, and the
//! check that all of it is still there (C23, C24, C25 to C27).

// Each test crate uses its own part of this module.
#![allow(dead_code)]

use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, ExitStatus, Output, Stdio};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// A sample EUR rate card (the same prices as the server tests' card).
pub const RATES: &str = minutely_testkit::rate_card!(
    "\
dial_out,+33,,France,FR,false,0.0240,0,60,60,2026-01-01T00:00:00Z
dial_out,+336,,France mobile,FR,false,0.1100,0,60,60,2026-01-01T00:00:00Z
dial_out,+1,,North America,US,false,0.0100,0,60,60,2026-01-01T00:00:00Z
dial_in_toll,FR,,France toll,FR,false,0.0300,0,60,60,2026-01-01T00:00:00Z
"
);

pub const TENANT: &str = r#"
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

pub const PPM: &str = "ppm@acme.example";

/// The grant of each authorization (`serve --window-s`).
pub const WINDOW_S: u64 = 120;

pub use minutely_testkit::Rng;

pub fn dec(value: &Value) -> Decimal {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("money is a decimal string, got {value}"));
    Decimal::from_str(text).expect("a decimal")
}

/// Runs `minutely` on the store and requires success; returns stdout.
/// Runs `minutely` on the store (`MINUTELY_DB`), whatever its outcome.
pub fn run(db: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_minutely"))
        .args(args)
        .env("MINUTELY_DB", db)
        .output()
        .expect("run minutely")
}

pub fn minutely(db: &Path, args: &[&str]) -> String {
    let out = run(db, args);
    assert!(
        out.status.success(),
        "minutely {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// Keys of the seeded store.
pub struct Keys {
    pub operator: String,
    pub admin: String,
    pub bridge: String,
}

/// A store with the card, the tenant, three keys and a funded wallet, all through the CLI.
pub fn seed(dir: &Path, db: &Path) -> Keys {
    let rates = dir.join("rates.csv");
    std::fs::write(&rates, RATES).expect("write the card");
    let tenant = dir.join("tenant.toml");
    std::fs::write(&tenant, TENANT).expect("write the tenant file");
    let path = |p: &Path| p.to_str().expect("a UTF-8 path").to_string();
    minutely(db, &["rates", "import", &path(&rates), "--currency", "EUR"]);
    minutely(db, &["apply", "-f", &path(&tenant)]);
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
    let fund = [
        "wallet",
        "fund",
        "--tenant",
        "acme",
        "--amount",
        "100000",
        "--reference",
        "seed",
    ];
    minutely(db, &fund);
    keys
}

/// A running `minutely serve`.
pub struct Server {
    pub child: Child,
    pub url: String,
    /// Kept open so that the server's stdout never breaks.
    _stdout: BufReader<ChildStdout>,
}

impl Server {
    /// SIGKILL: no shutdown code runs.
    pub fn kill(mut self) {
        self.child.kill().expect("kill the server");
        self.child.wait().expect("reap the server");
    }

    /// SIGTERM, then waits for the graceful shutdown; returns how it exited.
    pub fn terminate(mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        let kill = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("run kill");
        assert!(kill.success(), "kill -TERM {pid}");
        self.child.wait().expect("reap the server")
    }
}

/// A server that did not start: how it exited and what it wrote to stderr.
#[derive(Debug)]
pub struct Refusal {
    pub status: ExitStatus,
    pub stderr: String,
}

/// Starts the binary on port 0 and reads its address from the first line of stdout; stderr is
/// appended to `log`. A server that exits instead is a `Refusal`.
pub fn try_start(db: &Path, log: &Path) -> Result<Server, Refusal> {
    try_start_with(db, log, &[])
}

/// `try_start` with more flags of `serve`.
pub fn try_start_with(db: &Path, log: &Path, flags: &[&str]) -> Result<Server, Refusal> {
    let stderr = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("the log file");
    let logged_before = std::fs::metadata(log).map(|m| m.len()).unwrap_or(0);
    let mut child = Command::new(env!("CARGO_BIN_EXE_minutely"))
        .args(["serve", "--listen", "127.0.0.1:0", "--window-s"])
        .arg(WINDOW_S.to_string())
        .arg("--db")
        .arg(db)
        .args(flags)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("start minutely serve");
    let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("read the banner");
    match line.split_whitespace().find(|w| w.starts_with("http://")) {
        Some(url) => Ok(Server {
            url: url.to_string(),
            child,
            _stdout: stdout,
        }),
        None => {
            // No banner: the server is exiting (or printed something unexpected).
            let mut rest = String::new();
            let _ = stdout.read_to_string(&mut rest);
            let status = child.wait().expect("reap the server");
            let mut said = std::fs::read(log).unwrap_or_default();
            said.drain(..(logged_before as usize).min(said.len()));
            Err(Refusal {
                status,
                stderr: format!("{line}{rest}{}", String::from_utf8_lossy(&said)),
            })
        }
    }
}

/// Starts the binary and requires it to serve.
pub fn start(db: &Path, log: &Path) -> Server {
    try_start(db, log).unwrap_or_else(|refusal| {
        panic!(
            "the server did not start ({}):\n{}",
            refusal.status, refusal.stderr
        )
    })
}

/// What the server acknowledged (2xx), and what was in flight when it died.
#[derive(Debug, Default, Clone)]
pub struct Log {
    pub funded: BTreeSet<String>,
    /// Ended calls and the amount each end answered.
    pub ended: BTreeMap<String, Decimal>,
    /// Allowed calls never ended.
    pub live: BTreeSet<String>,
    /// Allowed calls whose end was in flight: live or ended, never unknown.
    pub live_or_ended: BTreeSet<String>,
    /// Ingested records by call id, with the amount answered.
    pub ingested: BTreeMap<String, (Value, Decimal)>,
    /// Requests cut by the crash (path, key, body): applied or not, they are retried after
    /// the restart, as a client would, and must then take effect exactly once.
    pub cut: Vec<(String, String, Value)>,
    pub acked: usize,
}

impl Log {
    pub fn absorb(&mut self, other: Log) {
        self.funded.extend(other.funded);
        self.ended.extend(other.ended);
        self.live.extend(other.live);
        self.live_or_ended.extend(other.live_or_ended);
        self.ingested.extend(other.ingested);
        self.cut.extend(other.cut);
        self.acked += other.acked;
    }
}

pub struct Client {
    pub http: reqwest::Client,
    pub url: String,
    pub keys: Arc<Keys>,
}

impl Client {
    pub fn new(url: &str, keys: Arc<Keys>) -> Client {
        Client {
            http: reqwest::Client::new(),
            url: url.to_string(),
            keys,
        }
    }

    pub async fn send(
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

    pub async fn post(
        &self,
        path: &str,
        key: &str,
        body: &Value,
    ) -> Result<(u16, Value), reqwest::Error> {
        self.send(reqwest::Method::POST, path, key, Some(body))
            .await
    }

    pub async fn get(&self, path: &str, key: &str) -> (u16, Value) {
        self.send(reqwest::Method::GET, path, key, None)
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }
}

/// Records the results of an ingestion; `retry` allows first results and replays alike.
pub fn ingested(log: &mut Log, calls: &[Value], answer: &Value, retry: bool) {
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

/// A call record that happened yesterday.
pub fn record(call_id: &str, duration_s: u64) -> Value {
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

/// The body of an authorization of a dial-out call that starts now (to the second, so that a
/// retry is recognised as the same call).
pub fn authorization() -> Value {
    let start =
        jiff::Timestamp::from_second(jiff::Timestamp::now().as_second()).expect("an instant");
    json!({
        "conference_id": "live",
        "organizer": PPM,
        "direction": "dial_out",
        "destination_number": "+33 6 12 34 56 78",
        "start": start.to_string(),
    })
}

/// What `verify` saw.
#[derive(Debug, Default, Clone, Copy)]
pub struct Verified {
    pub fundings: usize,
    pub charges: usize,
    pub holds: usize,
    pub entries: usize,
}

/// Everything in `log` is there after the restart, exactly once; C24 holds, and every funding
/// and charge of `all` is in the ledger.
pub async fn verify(client: &Client, log: &Log, all: &Log) -> Verified {
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
    let entries = check_ledger(client, all).await;
    Verified {
        fundings: log.funded.len(),
        charges: log.ended.len() + log.ingested.len(),
        holds: log.live.len() + log.live_or_ended.len(),
        entries,
    }
}

/// C24 and exactly-once, from the wallet and the whole ledger; returns the number of entries.
pub async fn check_ledger(client: &Client, all: &Log) -> usize {
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
    let entries = ledger(client).await;
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
    entries.len()
}

/// The tenant's whole journal, page by page.
async fn ledger(client: &Client) -> Vec<Value> {
    let mut entries = Vec::new();
    let mut after = 0u64;
    loop {
        let path = format!("/v1/tenants/acme/wallet/ledger?limit=1000&after={after}");
        let (status, page) = client.get(&path, &client.keys.admin).await;
        assert_eq!(status, 200, "{page}");
        entries.extend(page["entries"].as_array().expect("entries").iter().cloned());
        match page["next"].as_str() {
            Some(next) => after = next.parse().expect("a cursor"),
            None => return entries,
        }
    }
}
