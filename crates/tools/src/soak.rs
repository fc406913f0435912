//! `minutely-tools soak`: a bounded, open-loop run at a steady arrival rate that records the
//! server's latency and memory over time and judges whether either grows.
//!
//! Arrivals are scheduled on a fixed clock whatever the server answers (open loop), and each
//! latency is measured from the instant its arrival was due, so queueing in the server or in
//! this client counts. Besides authorize + end pairs, a configurable share of other traffic is
//! mixed in: fundings, ingestion batches, long calls that extend, calls left to lapse, wallet
//! reads and a journal reader that follows the ledger page by page.

use anyhow::{Context, Result, bail};
use clap::Args;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, watch};

#[derive(Args)]
pub struct SoakArgs {
    #[command(flatten)]
    target: crate::load::Target,
    /// Authorize + end pairs started per second, whatever the server answers.
    #[arg(long, default_value_t = 500.0)]
    rate: f64,
    /// Length of the run, in seconds.
    #[arg(long = "duration", default_value_t = 600)]
    duration_s: u64,
    /// Seconds between two printed rows.
    #[arg(long = "interval", default_value_t = 10)]
    interval_s: u64,
    /// Seconds left out of the verdict at the start (default: a fifth of the run, at most 60).
    #[arg(long = "warmup")]
    warmup_s: Option<u64>,
    /// The server's process id: its memory and open files are read from /proc.
    #[arg(long)]
    pid: Option<u32>,
    /// An operator key: without --pid, memory and open files are read from /metrics.
    #[arg(long)]
    metrics_key: Option<String>,
    /// Other traffic per authorize + end pair, as kind=share: fund, ingest (batches), long
    /// (calls that extend), lapse (calls never ended), wallet, ledger (pages); `none` for
    /// pairs only.
    #[arg(long, default_value = DEFAULT_MIX)]
    mix: String,
    /// Whole currency units per funding.
    #[arg(long, default_value_t = 1000)]
    fund_amount: u64,
    /// Call records per ingestion batch.
    #[arg(long, default_value_t = 20)]
    batch_records: usize,
    /// Longest real time a long call stays up, in seconds (each holds 1 to this many).
    #[arg(long = "long-hold", default_value_t = 20)]
    long_hold_s: u64,
    /// Operations in flight at most; an arrival beyond it is skipped and counted as an error.
    #[arg(long, default_value_t = 2048)]
    max_in_flight: usize,
    /// Seconds before a request counts as timed out.
    #[arg(long = "timeout", default_value_t = 10)]
    timeout_s: u64,
    /// Write the rows as CSV to this file.
    #[arg(long)]
    csv: Option<PathBuf>,
    /// Verdict: largest RSS growth from the first to the last third, in percent.
    #[arg(long, default_value_t = 10.0)]
    max_rss_growth_pct: f64,
    /// Verdict: largest least-squares RSS slope after warm-up, in KiB per minute.
    #[arg(long, default_value_t = 1024.0)]
    max_rss_slope_kib_min: f64,
    /// Verdict: largest p99 growth from the first to the last third, in percent ...
    #[arg(long, default_value_t = 50.0)]
    max_p99_growth_pct: f64,
    /// ... that also exceeds this many milliseconds (small absolute changes are noise).
    #[arg(long, default_value_t = 5.0)]
    p99_slack_ms: f64,
    /// Verdict: largest share of failed operations, in percent.
    #[arg(long, default_value_t = 0.0)]
    max_error_pct: f64,
}

const DEFAULT_MIX: &str =
    "fund=0.0001,ingest=0.001,long=0.02,lapse=0.002,wallet=0.002,ledger=0.002";

/// The kinds of traffic besides pairs, in the order the mix names them.
const KINDS: [&str; 6] = ["fund", "ingest", "long", "lapse", "wallet", "ledger"];

pub fn run(db: &Path, args: SoakArgs) -> Result<()> {
    let plan = Plan::new(db, args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(soak(plan))
}

// ---------------------------------------------------------------------------------------------
// The plan: checked arguments
// ---------------------------------------------------------------------------------------------

struct Plan {
    args: SoakArgs,
    mix: [f64; KINDS.len()],
    warmup_s: u64,
    db: Option<PathBuf>,
}

impl Plan {
    fn new(db: &Path, args: SoakArgs) -> Result<Plan> {
        if !(args.rate.is_finite() && args.rate > 0.0 && args.rate <= 100_000.0) {
            bail!(
                "--rate: {} is not a rate between 0 and 100000 pairs/s",
                args.rate
            );
        }
        if args.duration_s == 0 || args.interval_s == 0 {
            bail!("--duration and --interval must be at least 1 second");
        }
        if args.interval_s > args.duration_s {
            bail!(
                "--interval ({} s) is longer than --duration ({} s)",
                args.interval_s,
                args.duration_s
            );
        }
        if args.max_in_flight == 0 || args.batch_records == 0 || args.long_hold_s == 0 {
            bail!("--max-in-flight, --batch-records and --long-hold must be at least 1");
        }
        let warmup_s = args
            .warmup_s
            .unwrap_or_else(|| (args.duration_s / 5).min(60));
        if warmup_s >= args.duration_s {
            bail!(
                "--warmup ({warmup_s} s) leaves nothing of the {} s run to judge",
                args.duration_s
            );
        }
        let mix = parse_mix(&args.mix)?;
        let db = db.exists().then(|| db.to_path_buf());
        Ok(Plan {
            args,
            mix,
            warmup_s,
            db,
        })
    }
}

/// `fund=0.0001,long=0.02`: shares per pair of each kind (kinds not named get 0).
fn parse_mix(text: &str) -> Result<[f64; KINDS.len()]> {
    let mut mix = [0.0; KINDS.len()];
    if text.trim() == "none" {
        return Ok(mix);
    }
    for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let Some((kind, share)) = item.split_once('=') else {
            bail!("--mix: {item:?} is not kind=share");
        };
        let Some(slot) = KINDS.iter().position(|k| *k == kind.trim()) else {
            bail!(
                "--mix: {kind:?} is not a kind (one of {})",
                KINDS.join(", ")
            );
        };
        let share: f64 = share
            .trim()
            .parse()
            .ok()
            .filter(|s: &f64| s.is_finite() && (0.0..=10.0).contains(s))
            .with_context(|| format!("--mix: {kind}: {share:?} is not a share between 0 and 10"))?;
        mix[slot] = share;
    }
    Ok(mix)
}

// ---------------------------------------------------------------------------------------------
// What one interval recorded
// ---------------------------------------------------------------------------------------------

/// Everything finished since the last row; taken whole by the reporter.
#[derive(Default)]
struct Window {
    /// Whole authorize + end pairs, from the due instant, in microseconds.
    pairs_us: Vec<u32>,
    /// Every other request, from its own start, in microseconds.
    other_us: Vec<u32>,
    /// Operations finished, by kind.
    done: BTreeMap<&'static str, u64>,
    /// Failures, by kind (HTTP status and code, timeout, refused reason, skipped arrivals).
    errors: BTreeMap<String, u64>,
    /// Authorizations denied (the wallet ran dry): not failures of the server, but reported.
    denied: u64,
    /// Call records charged by ingestion batches.
    ingested: u64,
}

impl Window {
    fn calls(&self) -> u64 {
        ["pair", "long", "lapse"]
            .iter()
            .map(|k| self.done.get(k).copied().unwrap_or(0))
            .sum::<u64>()
            + self.ingested
    }

    fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    fn absorb(&mut self, other: &Window) {
        for (k, v) in &other.done {
            *self.done.entry(k).or_default() += v;
        }
        for (k, v) in &other.errors {
            *self.errors.entry(k.clone()).or_default() += v;
        }
        self.denied += other.denied;
        self.ingested += other.ingested;
    }
}

#[derive(Default)]
struct Recorder {
    window: Mutex<Window>,
}

impl Recorder {
    fn with(&self, f: impl FnOnce(&mut Window)) {
        f(&mut self
            .window
            .lock()
            .expect("the window lock is never poisoned"));
    }

    fn take(&self) -> Window {
        std::mem::take(
            &mut *self
                .window
                .lock()
                .expect("the window lock is never poisoned"),
        )
    }

    fn error(&self, kind: String) {
        self.with(|w| *w.errors.entry(kind).or_default() += 1);
    }

    fn done(&self, kind: &'static str) {
        self.with(|w| *w.done.entry(kind).or_default() += 1);
    }

    fn other(&self, took: Duration) {
        self.with(|w| w.other_us.push(micros(took)));
    }
}

fn micros(d: Duration) -> u32 {
    d.as_micros().min(u128::from(u32::MAX)) as u32
}

// ---------------------------------------------------------------------------------------------
// Traffic
// ---------------------------------------------------------------------------------------------

struct Traffic {
    client: reqwest::Client,
    tenant_url: String,
    key: String,
    organizer: String,
    destination: String,
    run_id: String,
    batch_records: usize,
    long_hold_s: u64,
    fund_amount: u64,
    recorder: Arc<Recorder>,
    stop: watch::Receiver<bool>,
    /// The journal reader's cursor: the last sequence number it has read.
    ledger_seq: Mutex<u64>,
}

impl Traffic {
    /// Sends one request; the error is its kind (`503 overloaded`, `timeout`, ...). The time
    /// taken is recorded among the other requests when `other` is set.
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
        other: bool,
    ) -> Result<serde_json::Value, String> {
        let started = Instant::now();
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.tenant_url))
            .bearer_auth(&self.key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer = request.send().await.map_err(transport_kind)?;
        let status = answer.status();
        let body = answer.bytes().await.map_err(transport_kind)?;
        if other {
            self.recorder.other(started.elapsed());
        }
        let value: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
        match value {
            Some(value) if status.is_success() => Ok(value),
            None if status.is_success() => Err(format!("{} without a JSON body", status.as_u16())),
            value => {
                let code = value
                    .as_ref()
                    .and_then(|v| v["error"]["code"].as_str().map(str::to_string))
                    .unwrap_or_else(|| "without an error code".into());
                Err(format!("{} {code}", status.as_u16()))
            }
        }
    }

    async fn post(
        &self,
        path: &str,
        body: serde_json::Value,
        other: bool,
    ) -> Result<serde_json::Value, String> {
        self.send(reqwest::Method::POST, path, Some(body), other)
            .await
    }

    /// Authorizes a call that connected `ago_s` seconds before now: `Ok(Some(max_duration_s))`
    /// when allowed, `Ok(None)` when denied.
    async fn authorize(&self, id: &str, ago_s: i64, other: bool) -> Result<Option<u64>, String> {
        let start = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(ago_s);
        let body = serde_json::json!({
            "conference_id": format!("soak-{}", self.run_id),
            "organizer": self.organizer,
            "direction": "dial_out",
            "destination_number": self.destination,
            "start": minutely_formats::instant::format(start),
        });
        let answer = self
            .post(&format!("/calls/{id}/authorize"), body, other)
            .await?;
        if answer["decision"] != "allow" {
            self.recorder.with(|w| w.denied += 1);
            return Ok(None);
        }
        Ok(Some(answer["max_duration_s"].as_u64().unwrap_or(0)))
    }

    async fn end(&self, id: &str, duration_s: u64, other: bool) -> Result<(), String> {
        let outcome = self
            .post(
                &format!("/calls/{id}/end"),
                serde_json::json!({ "duration_s": duration_s }),
                other,
            )
            .await?;
        charged(&outcome)
    }

    /// One authorize + end pair; its latency runs from the instant it was due. The call is
    /// authorized as having connected `PAIR_CALL_S` ago so that its end, reported with that
    /// duration, is now: an end in the future would move the wallet's clock ahead.
    async fn pair(&self, n: u64, due: Instant) {
        const PAIR_CALL_S: u64 = 42;
        let id = format!("soak-{}-p{n}", self.run_id);
        let result = match self.authorize(&id, PAIR_CALL_S as i64, false).await {
            Ok(Some(_)) => self.end(&id, PAIR_CALL_S, false).await.map(|()| true),
            Ok(None) => Ok(false),
            Err(kind) => Err(kind),
        };
        match result {
            Ok(true) => self.recorder.with(|w| {
                w.pairs_us.push(micros(due.elapsed()));
                *w.done.entry("pair").or_default() += 1;
            }),
            Ok(false) => {}
            Err(kind) => self.recorder.error(kind),
        }
    }

    /// A call that stays up for real seconds, extends one to three times, then ends with the
    /// real duration. The end of the run cuts the wait short.
    async fn long_call(&self, n: u64) -> Result<(), String> {
        let id = format!("soak-{}-l{n}", self.run_id);
        let connected = Instant::now();
        let Some(mut granted_s) = self.authorize(&id, 0, true).await? else {
            return Ok(());
        };
        let hold = Duration::from_secs(1 + spread(n) % self.long_hold_s);
        let extensions = 1 + (spread(n) >> 20) % 3;
        for _ in 0..extensions {
            self.pause(hold / (extensions as u32 + 1)).await;
            let answer = self
                .post(
                    &format!("/calls/{id}/extend"),
                    serde_json::json!({ "granted_s": granted_s }),
                    true,
                )
                .await?;
            granted_s = answer["max_duration_s"].as_u64().unwrap_or(granted_s);
            if answer["extended"] != true {
                break;
            }
        }
        self.pause(hold / (extensions as u32 + 1)).await;
        let duration_s = connected.elapsed().as_secs().clamp(1, granted_s.max(1));
        self.end(&id, duration_s, true).await
    }

    /// Sleeps, unless the run is over.
    async fn pause(&self, d: Duration) {
        let mut stop = self.stop.clone();
        if *stop.borrow() {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(d) => {}
            _ = stop.changed() => {}
        }
    }

    /// A call authorized and never ended: its hold lapses on the server.
    async fn lapse_call(&self, n: u64) -> Result<(), String> {
        let id = format!("soak-{}-x{n}", self.run_id);
        self.authorize(&id, 0, true).await.map(|_| ())
    }

    async fn fund(&self, n: u64) -> Result<(), String> {
        self.post(
            "/wallet/fundings",
            serde_json::json!({
                "amount": self.fund_amount.to_string(),
                "reference": format!("soak-{}-f{n}", self.run_id),
            }),
            true,
        )
        .await
        .map(|_| ())
    }

    /// A batch of calls that happened in the last minutes, as a bridge catching up would send.
    async fn ingest(&self, n: u64) -> Result<(), String> {
        let now = jiff::Timestamp::now();
        let calls: Vec<serde_json::Value> = (0..self.batch_records)
            .map(|i| {
                let end = now - jiff::SignedDuration::from_secs(60 + i as i64);
                let start =
                    end - jiff::SignedDuration::from_secs(30 + (spread(n + i as u64) % 600) as i64);
                serde_json::json!({
                    "call_id": format!("soak-{}-b{n}-{i}", self.run_id),
                    "conference_id": format!("soak-{}", self.run_id),
                    "organizer": self.organizer,
                    "direction": "dial_out",
                    "destination_number": self.destination,
                    "start": minutely_formats::instant::format(start),
                    "end": minutely_formats::instant::format(end),
                })
            })
            .collect();
        let answer = self
            .post("/calls", serde_json::json!({ "calls": calls }), true)
            .await?;
        let results = answer["results"].as_array().cloned().unwrap_or_default();
        let mut failure = Ok(());
        for outcome in &results {
            match charged(outcome) {
                Ok(()) => self.recorder.with(|w| w.ingested += 1),
                Err(kind) => failure = Err(kind),
            }
        }
        if results.len() != self.batch_records {
            return Err("ingest answered the wrong number of results".into());
        }
        failure
    }

    async fn wallet(&self) -> Result<(), String> {
        self.send(reqwest::Method::GET, "/wallet", None, true)
            .await
            .map(|_| ())
    }

    /// The next page of the journal after what was read so far.
    async fn ledger(&self) -> Result<(), String> {
        let after = *self.ledger_seq.lock().expect("never poisoned");
        let page = self
            .send(
                reqwest::Method::GET,
                &format!("/wallet/ledger?limit=100&after={after}"),
                None,
                true,
            )
            .await?;
        let last = page["entries"]
            .as_array()
            .and_then(|e| e.last())
            .and_then(|e| e["seq"].as_u64());
        if let Some(last) = last {
            let mut seq = self.ledger_seq.lock().expect("never poisoned");
            *seq = (*seq).max(last);
        }
        Ok(())
    }

    /// Runs one operation of `kind` and records its outcome.
    async fn other(&self, kind: &'static str, n: u64) {
        let result = match kind {
            "fund" => self.fund(n).await,
            "ingest" => self.ingest(n).await,
            "long" => self.long_call(n).await,
            "lapse" => self.lapse_call(n).await,
            "wallet" => self.wallet().await,
            _ => self.ledger().await,
        };
        match result {
            Ok(()) => self.recorder.done(kind),
            Err(error) => self.recorder.error(error),
        }
    }
}

/// An outcome that is not `charged` is a failure named by its reason: the soak only sends
/// calls that the rules charge.
fn charged(outcome: &serde_json::Value) -> Result<(), String> {
    if outcome["status"] == "charged" {
        Ok(())
    } else {
        Err(format!(
            "refused {}",
            outcome["reason"].as_str().unwrap_or("without a reason")
        ))
    }
}

fn transport_kind(e: reqwest::Error) -> String {
    if e.is_timeout() {
        "timeout".into()
    } else if e.is_connect() {
        "connect".into()
    } else if e.is_decode() {
        "bad body".into()
    } else {
        "transport".into()
    }
}

/// A cheap, deterministic scatter of `n` (Knuth's multiplicative hash).
fn spread(n: u64) -> u64 {
    n.wrapping_mul(2_654_435_761) >> 7
}

// ---------------------------------------------------------------------------------------------
// The server's footprint
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Default)]
struct Footprint {
    rss_kib: Option<u64>,
    fds: Option<u64>,
    db_bytes: Option<u64>,
    wal_bytes: Option<u64>,
}

struct Probe {
    pid: Option<u32>,
    metrics: Option<(String, String)>,
    db: Option<PathBuf>,
    client: reqwest::Client,
}

impl Probe {
    async fn sample(&self) -> Footprint {
        let (rss_kib, fds) = match (self.pid, &self.metrics) {
            (Some(pid), _) => (proc_rss_kib(pid), proc_fds(pid)),
            (None, Some((url, key))) => self.scrape(url, key).await,
            (None, None) => (None, None),
        };
        let size = |p: &Path| std::fs::metadata(p).ok().map(|m| m.len());
        let db_bytes = self.db.as_deref().and_then(size);
        let wal_bytes = self.db.as_deref().and_then(|db| {
            let mut wal = db.as_os_str().to_owned();
            wal.push("-wal");
            size(Path::new(&wal)).or(Some(0))
        });
        Footprint {
            rss_kib,
            fds,
            db_bytes,
            wal_bytes,
        }
    }

    /// `process_resident_memory_bytes` and `process_open_fds` from the server's /metrics.
    async fn scrape(&self, url: &str, key: &str) -> (Option<u64>, Option<u64>) {
        let text = async {
            self.client
                .get(format!("{url}/metrics"))
                .bearer_auth(key)
                .send()
                .await?
                .error_for_status()?
                .text()
                .await
        }
        .await;
        let Ok(text) = text else {
            return (None, None);
        };
        let gauge = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
                .and_then(|v| v.trim().parse::<f64>().ok())
                .map(|v| v as u64)
        };
        (
            gauge("process_resident_memory_bytes").map(|b| b / 1024),
            gauge("process_open_fds"),
        )
    }
}

fn proc_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn proc_fds(pid: u32) -> Option<u64> {
    Some(std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count() as u64)
}

// ---------------------------------------------------------------------------------------------
// Rows
// ---------------------------------------------------------------------------------------------

/// One printed interval.
#[derive(Clone)]
struct Row {
    elapsed_s: f64,
    pairs: u64,
    pairs_per_s: f64,
    /// Calls finished or left to lapse (pairs, long, lapsed, ingested records): what the
    /// store's growth is divided by.
    calls: u64,
    p50_ms: f64,
    p99_ms: f64,
    p999_ms: f64,
    other_ops: u64,
    other_p99_ms: f64,
    errors: u64,
    error_kinds: String,
    denied: u64,
    in_flight: usize,
    at: Footprint,
}

impl Row {
    fn new(
        elapsed_s: f64,
        length_s: f64,
        mut w: Window,
        in_flight: usize,
        at: Footprint,
    ) -> (Row, Window) {
        w.pairs_us.sort_unstable();
        w.other_us.sort_unstable();
        let row = Row {
            elapsed_s,
            pairs: w.pairs_us.len() as u64,
            pairs_per_s: w.pairs_us.len() as f64 / length_s.max(1e-9),
            calls: w.calls(),
            p50_ms: percentile_ms(&w.pairs_us, 50.0),
            p99_ms: percentile_ms(&w.pairs_us, 99.0),
            p999_ms: percentile_ms(&w.pairs_us, 99.9),
            other_ops: w.other_us.len() as u64,
            other_p99_ms: percentile_ms(&w.other_us, 99.0),
            errors: w.error_count(),
            error_kinds: kinds_text(&w.errors),
            denied: w.denied,
            in_flight,
            at,
        };
        (row, w)
    }

    const HEADER: &str = " time_s  pairs/s   p50_ms   p99_ms  p999_ms  other/s  oth_p99  in_flight  rss_mib   fds   db_mib  wal_mib  errors";

    fn line(&self, interval_s: f64) -> String {
        let mut errors = self.errors.to_string();
        if self.errors > 0 {
            errors.push_str(&format!(" ({})", self.error_kinds));
        }
        if self.denied > 0 {
            errors.push_str(&format!(", {} denied", self.denied));
        }
        format!(
            "{:>7.0}  {:>7.1}  {:>7.2}  {:>7.2}  {:>7.2}  {:>7.1}  {:>7.2}  {:>9}  {:>7}  {:>4}  {:>7}  {:>7}  {errors}",
            self.elapsed_s,
            self.pairs_per_s,
            self.p50_ms,
            self.p99_ms,
            self.p999_ms,
            self.other_ops as f64 / interval_s,
            self.other_p99_ms,
            self.in_flight,
            opt(self.at.rss_kib.map(|k| k as f64 / 1024.0), 1),
            opt(self.at.fds.map(|f| f as f64), 0),
            opt(self.at.db_bytes.map(mib), 1),
            opt(self.at.wal_bytes.map(mib), 1),
        )
    }

    const CSV_HEADER: &str = "elapsed_s,pairs,pairs_per_s,calls,p50_ms,p99_ms,p999_ms,other_ops,other_p99_ms,errors,error_kinds,denied,in_flight,rss_kib,fds,db_bytes,wal_bytes";

    fn csv(&self) -> String {
        let o = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
        format!(
            "{:.1},{},{:.1},{},{:.3},{:.3},{:.3},{},{:.3},{},\"{}\",{},{},{},{},{},{}",
            self.elapsed_s,
            self.pairs,
            self.pairs_per_s,
            self.calls,
            self.p50_ms,
            self.p99_ms,
            self.p999_ms,
            self.other_ops,
            self.other_p99_ms,
            self.errors,
            self.error_kinds.replace('"', "'"),
            self.denied,
            self.in_flight,
            o(self.at.rss_kib),
            o(self.at.fds),
            o(self.at.db_bytes),
            o(self.at.wal_bytes),
        )
    }
}

fn percentile_ms(sorted_us: &[u32], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    // The small tolerance keeps 99.9% of 1000 at rank 999 despite binary rounding.
    let rank = ((p / 100.0) * sorted_us.len() as f64 - 1e-9).ceil() as usize;
    f64::from(sorted_us[rank.clamp(1, sorted_us.len()) - 1]) / 1000.0
}

fn kinds_text(kinds: &BTreeMap<String, u64>) -> String {
    kinds
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn opt(v: Option<f64>, decimals: usize) -> String {
    v.map(|v| format!("{v:.decimals$}"))
        .unwrap_or_else(|| "-".into())
}

// ---------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------

async fn soak(plan: Plan) -> Result<()> {
    let args = &plan.args;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.max_in_flight)
        .timeout(Duration::from_secs(args.timeout_s.max(1)))
        .build()?;
    let url = args.target.url.trim_end_matches('/').to_string();
    let (stop_tx, stop) = watch::channel(false);
    let recorder = Arc::new(Recorder::default());
    let traffic = Arc::new(Traffic {
        client: client.clone(),
        tenant_url: format!("{url}/v1/tenants/{}", args.target.tenant),
        key: args.target.key.clone(),
        organizer: args.target.organizer.clone(),
        destination: args.target.destination.clone(),
        run_id: format!(
            "{}-{}",
            std::process::id(),
            jiff::Timestamp::now().as_second()
        ),
        batch_records: args.batch_records,
        long_hold_s: args.long_hold_s,
        fund_amount: args.fund_amount,
        recorder: recorder.clone(),
        stop,
        ledger_seq: Mutex::new(0),
    });
    let probe = Probe {
        pid: args.pid,
        metrics: args.metrics_key.clone().map(|k| (url.clone(), k)),
        db: plan.db.clone(),
        client,
    };
    // The server must answer before the clock starts: a wrong URL or key is an error now,
    // not ten minutes of failures.
    traffic
        .wallet()
        .await
        .map_err(|kind| anyhow::anyhow!("the server does not answer a wallet read: {kind}"))?;
    recorder.take();
    let before = probe.sample().await;
    let mut csv = match &args.csv {
        Some(path) => {
            let mut file = std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            writeln!(file, "{}", Row::CSV_HEADER)?;
            Some(file)
        }
        None => None,
    };
    print_start(&plan, &before);
    let slots = Arc::new(Semaphore::new(args.max_in_flight));
    let started = Instant::now();
    let arrivals = tokio::spawn(schedule(
        plan.args.rate,
        plan.mix,
        started,
        Duration::from_secs(args.duration_s),
        traffic.clone(),
        slots.clone(),
    ));
    let mut rows = Vec::new();
    let mut total = Window::default();
    let interval = Duration::from_secs(args.interval_s);
    let mut last_tick = started;
    for k in 1..=(args.duration_s / args.interval_s) {
        tokio::time::sleep_until((started + interval * k as u32).into()).await;
        let now = Instant::now();
        let at = probe.sample().await;
        let in_flight = args.max_in_flight - slots.available_permits();
        let (row, window) = Row::new(
            (now - started).as_secs_f64(),
            (now - last_tick).as_secs_f64(),
            recorder.take(),
            in_flight,
            at,
        );
        last_tick = now;
        total.absorb(&window);
        println!("{}", row.line(args.interval_s as f64));
        if let Some(file) = csv.as_mut() {
            writeln!(file, "{}", row.csv())?;
        }
        rows.push(row);
    }
    let arrived = arrivals.await?;
    let _ = stop_tx.send(true);
    let drain = drain(&slots, args.max_in_flight, args.timeout_s).await;
    let tail = recorder.take();
    total.absorb(&tail);
    println!(
        "drain: in-flight work finished in {:.1} s{}",
        drain.as_secs_f64(),
        if tail.error_count() > 0 {
            format!(", errors {}", kinds_text(&tail.errors))
        } else {
            String::new()
        }
    );
    let after = probe.sample().await;
    let report = Report::new(&plan, &rows, &total, arrived, before, after);
    report.print();
    if let Some(file) = csv.as_mut() {
        file.flush()?;
    }
    if !report.pass() {
        bail!("the soak verdict failed");
    }
    Ok(())
}

fn print_start(plan: &Plan, before: &Footprint) {
    let args = &plan.args;
    let memory = match (args.pid, &args.metrics_key) {
        (Some(pid), _) => format!("/proc/{pid}"),
        (None, Some(_)) => format!("{}/metrics", args.target.url),
        (None, None) => "not measured (give --pid or --metrics-key)".into(),
    };
    println!(
        "soak: {} pairs/s for {} s, rows every {} s, warm-up {} s; mix {}; server memory: {memory}; store: {}",
        args.rate,
        args.duration_s,
        args.interval_s,
        plan.warmup_s,
        mix_text(&plan.mix),
        plan.db
            .as_deref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "not watched".into()),
    );
    println!(
        "start: rss {} MiB, fds {}, db {} MiB, wal {} MiB",
        opt(before.rss_kib.map(|k| k as f64 / 1024.0), 1),
        opt(before.fds.map(|f| f as f64), 0),
        opt(before.db_bytes.map(mib), 1),
        opt(before.wal_bytes.map(mib), 1),
    );
    println!("{}", Row::HEADER);
}

fn mix_text(mix: &[f64; KINDS.len()]) -> String {
    let items: Vec<String> = KINDS
        .iter()
        .zip(mix)
        .filter(|(_, s)| **s > 0.0)
        .map(|(k, s)| format!("{k}={s}"))
        .collect();
    if items.is_empty() {
        "none".into()
    } else {
        items.join(",")
    }
}

/// Offered operations, by kind (`pair` included), and those skipped at the in-flight cap.
type Arrivals = BTreeMap<&'static str, u64>;

/// Starts arrival `n` at `started + n / rate` until the run is over, however late the
/// server's answers are: each kind of the mix rides on the same clock with its own share.
async fn schedule(
    rate: f64,
    mix: [f64; KINDS.len()],
    started: Instant,
    duration: Duration,
    traffic: Arc<Traffic>,
    slots: Arc<Semaphore>,
) -> Arrivals {
    let mut offered = Arrivals::new();
    let mut owed = [0.0f64; KINDS.len()];
    let mut counts = [0u64; KINDS.len()];
    for n in 0u64.. {
        let due = started + Duration::from_secs_f64(n as f64 / rate);
        if due >= started + duration {
            break;
        }
        tokio::time::sleep_until(due.into()).await;
        *offered.entry("pair").or_default() += 1;
        launch(&traffic, &slots, None, n, due);
        for (slot, share) in mix.iter().enumerate() {
            owed[slot] += share;
            while owed[slot] >= 1.0 {
                owed[slot] -= 1.0;
                *offered.entry(KINDS[slot]).or_default() += 1;
                launch(&traffic, &slots, Some(KINDS[slot]), counts[slot], due);
                counts[slot] += 1;
            }
        }
    }
    offered
}

/// Spawns one operation if a slot is free; otherwise the arrival is lost, which the open loop
/// counts as a failure rather than waiting (waiting would slow the offered rate down).
fn launch(
    traffic: &Arc<Traffic>,
    slots: &Arc<Semaphore>,
    kind: Option<&'static str>,
    n: u64,
    due: Instant,
) {
    let Ok(permit) = slots.clone().try_acquire_owned() else {
        traffic
            .recorder
            .error("skipped at the in-flight cap".into());
        return;
    };
    let traffic = traffic.clone();
    tokio::spawn(async move {
        match kind {
            None => traffic.pair(n, due).await,
            Some(kind) => traffic.other(kind, n).await,
        }
        drop(permit);
    });
}

/// Waits until every operation has given its slot back (bounded by the request timeout).
async fn drain(slots: &Semaphore, max_in_flight: usize, timeout_s: u64) -> Duration {
    let started = Instant::now();
    let limit = Duration::from_secs(timeout_s.max(1) * 3);
    let all = u32::try_from(max_in_flight).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(limit, slots.acquire_many(all)).await;
    started.elapsed()
}

// ---------------------------------------------------------------------------------------------
// Summary and verdict
// ---------------------------------------------------------------------------------------------

/// The rows after warm-up cut in thirds, and what the verdict compares.
struct Report<'a> {
    plan: &'a Plan,
    rows: &'a [Row],
    judged: Vec<&'a Row>,
    total: &'a Window,
    arrived: Arrivals,
    before: Footprint,
    after: Footprint,
}

/// A third of the judged rows, summarized.
struct Third {
    pairs_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    p999_ms: f64,
    rss_kib: Option<f64>,
    fds: Option<f64>,
}

impl Third {
    /// Latency figures are medians of the rows' percentiles: one noisy interval does not
    /// decide the verdict, a trend does.
    fn of(rows: &[&Row]) -> Third {
        let mean = |f: &dyn Fn(&Row) -> Option<f64>| {
            let v: Vec<f64> = rows.iter().filter_map(|r| f(r)).collect();
            (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
        };
        Third {
            pairs_per_s: mean(&|r| Some(r.pairs_per_s)).unwrap_or(0.0),
            p50_ms: median(rows.iter().map(|r| r.p50_ms).collect()),
            p99_ms: median(rows.iter().map(|r| r.p99_ms).collect()),
            p999_ms: median(rows.iter().map(|r| r.p999_ms).collect()),
            rss_kib: mean(&|r| r.at.rss_kib.map(|k| k as f64)),
            fds: mean(&|r| r.at.fds.map(|f| f as f64)),
        }
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

/// The least-squares slope of `points` (x, y); None with fewer than two distinct x.
fn slope(points: &[(f64, f64)]) -> Option<f64> {
    let n = points.len() as f64;
    if points.len() < 2 {
        return None;
    }
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
    (sxx > 0.0).then(|| sxy / sxx)
}

/// One line of the verdict: what was compared and whether it held.
struct Check {
    name: &'static str,
    text: String,
    pass: Option<bool>,
}

impl<'a> Report<'a> {
    fn new(
        plan: &'a Plan,
        rows: &'a [Row],
        total: &'a Window,
        arrived: Arrivals,
        before: Footprint,
        after: Footprint,
    ) -> Report<'a> {
        let judged = rows
            .iter()
            .filter(|r| r.elapsed_s > plan.warmup_s as f64 + 0.5)
            .collect();
        Report {
            plan,
            rows,
            judged,
            total,
            arrived,
            before,
            after,
        }
    }

    fn thirds(&self) -> Option<[Third; 3]> {
        let n = self.judged.len();
        let k = n / 3;
        if k == 0 {
            return None;
        }
        Some([
            Third::of(&self.judged[..k]),
            Third::of(&self.judged[k..n - k]),
            Third::of(&self.judged[n - k..]),
        ])
    }

    fn memory(&self, thirds: &Option<[Third; 3]>) -> Check {
        let args = &self.plan.args;
        let points: Vec<(f64, f64)> = self
            .judged
            .iter()
            .filter_map(|r| Some((r.elapsed_s / 60.0, r.at.rss_kib? as f64)))
            .collect();
        let (Some([first, _, last]), Some(slope)) = (thirds, slope(&points)) else {
            return Check {
                name: "memory",
                text: "not measured".into(),
                pass: None,
            };
        };
        let (Some(a), Some(b)) = (first.rss_kib, last.rss_kib) else {
            return Check {
                name: "memory",
                text: "not measured".into(),
                pass: None,
            };
        };
        let growth = (b - a) / a * 100.0;
        Check {
            name: "memory",
            text: format!(
                "rss {:.1} -> {:.1} MiB ({growth:+.1}%, limit {}%), slope {slope:+.0} KiB/min (limit {})",
                a / 1024.0,
                b / 1024.0,
                args.max_rss_growth_pct,
                args.max_rss_slope_kib_min
            ),
            pass: Some(growth <= args.max_rss_growth_pct && slope <= args.max_rss_slope_kib_min),
        }
    }

    fn latency(&self, thirds: &Option<[Third; 3]>) -> Check {
        let args = &self.plan.args;
        let Some([first, _, last]) = thirds else {
            return Check {
                name: "latency",
                text: "too few rows after warm-up to compare thirds".into(),
                pass: None,
            };
        };
        let (a, b) = (first.p99_ms, last.p99_ms);
        let growth = if a > 0.0 { (b - a) / a * 100.0 } else { 0.0 };
        let grew = growth > args.max_p99_growth_pct && b - a > args.p99_slack_ms;
        Check {
            name: "latency",
            text: format!(
                "p99 {a:.2} -> {b:.2} ms ({growth:+.0}%, limit {}% and {} ms)",
                args.max_p99_growth_pct, args.p99_slack_ms
            ),
            pass: Some(!grew),
        }
    }

    fn errors(&self) -> Check {
        let offered: u64 = self.arrived.values().sum();
        let failed = self.total.error_count();
        let pct = failed as f64 * 100.0 / offered.max(1) as f64;
        let mut text = format!(
            "{failed} of {offered} operations failed ({pct:.3}%, limit {}%)",
            self.plan.args.max_error_pct
        );
        if failed > 0 {
            text.push_str(&format!(": {}", kinds_text(&self.total.errors)));
        }
        Check {
            name: "errors",
            text,
            pass: Some(pct <= self.plan.args.max_error_pct),
        }
    }

    fn checks(&self) -> Vec<Check> {
        let thirds = self.thirds();
        vec![self.memory(&thirds), self.latency(&thirds), self.errors()]
    }

    /// Passes when every measured check holds and the latency could be compared; memory that
    /// was not measured is said, not failed.
    fn pass(&self) -> bool {
        self.checks()
            .iter()
            .all(|c| c.pass == Some(true) || (c.name == "memory" && c.pass.is_none()))
    }

    fn print(&self) {
        let thirds = self.thirds();
        println!();
        println!(
            "summary: {} rows after the {} s warm-up (latency: median of the rows' percentiles)",
            self.judged.len(),
            self.plan.warmup_s
        );
        println!("               pairs/s   p50_ms   p99_ms  p999_ms  rss_mib     fds");
        if let Some(thirds) = &thirds {
            for (name, t) in ["first third", "middle", "last third"].iter().zip(thirds) {
                println!(
                    "  {name:<11}  {:>7.1}  {:>7.2}  {:>7.2}  {:>7.2}  {:>7}  {:>6}",
                    t.pairs_per_s,
                    t.p50_ms,
                    t.p99_ms,
                    t.p999_ms,
                    opt(t.rss_kib.map(|k| k / 1024.0), 1),
                    opt(t.fds, 0)
                );
            }
        }
        let offered = kinds_text(
            &self
                .arrived
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
        );
        let done = kinds_text(
            &self
                .total
                .done
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
        );
        println!("offered: {offered}");
        println!(
            "done: {done}; ingested records charged: {}; denied: {}",
            self.total.ingested, self.total.denied
        );
        println!("store: {}", self.store_growth());
        let checks = self.checks();
        for check in &checks {
            let mark = match check.pass {
                Some(true) => "ok",
                Some(false) => "FAILED",
                None => "not judged",
            };
            println!("{}: {} -- {mark}", check.name, check.text);
        }
        println!("verdict: {}", if self.pass() { "PASS" } else { "FAIL" });
    }

    /// The store grows by design (ledger, calls): said per call, not judged. Measured over the
    /// judged rows, so that the write-ahead log filling up to its working size during warm-up
    /// is not counted as growth.
    fn store_growth(&self) -> String {
        let bytes = |f: &Footprint| Some(f.db_bytes? + f.wal_bytes.unwrap_or(0));
        let from = self
            .rows
            .iter()
            .rev()
            .find(|r| !self.judged.iter().any(|j| std::ptr::eq(*j, *r)))
            .map_or(self.before, |r| r.at);
        let to = self.judged.last().map_or(self.after, |r| r.at);
        let (Some(a), Some(b)) = (bytes(&from), bytes(&to)) else {
            return "not watched (its --db file was not found)".into();
        };
        let calls: u64 = self.judged.iter().map(|r| r.calls).sum();
        let grown = b as f64 - a as f64;
        format!(
            "db+wal {:.1} -> {:.1} MiB ({:+.1} MiB) after warm-up, for {calls} calls: {:.0} bytes per call",
            mib(a),
            mib(b),
            grown / (1024.0 * 1024.0),
            grown / calls.max(1) as f64
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slope_of_a_line_is_its_gradient() {
        let points: Vec<(f64, f64)> = (0..10).map(|x| (x as f64, 3.0 * x as f64 + 7.0)).collect();
        assert!((slope(&points).expect("a slope") - 3.0).abs() < 1e-9);
        assert_eq!(slope(&[(1.0, 2.0)]), None);
        assert_eq!(slope(&[(1.0, 2.0), (1.0, 5.0)]), None);
    }

    #[test]
    fn a_mix_names_known_kinds_with_bounded_shares() {
        let mix = parse_mix("fund=0.5, long=0.02").expect("a valid mix");
        assert_eq!(mix, [0.5, 0.0, 0.02, 0.0, 0.0, 0.0]);
        assert_eq!(parse_mix("none").expect("none"), [0.0; 6]);
        let e = parse_mix("funds=1").expect_err("an unknown kind");
        assert!(e.to_string().contains("\"funds\" is not a kind"), "{e}");
        let e = parse_mix("fund=-1").expect_err("a negative share");
        assert!(e.to_string().contains("fund: \"-1\""), "{e:#}");
        let e = parse_mix("fund").expect_err("no share");
        assert!(e.to_string().contains("is not kind=share"), "{e}");
    }

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let v: Vec<u32> = (1..=1000).map(|i| i * 1000).collect();
        assert_eq!(percentile_ms(&v, 50.0), 500.0);
        assert_eq!(percentile_ms(&v, 99.0), 990.0);
        assert_eq!(percentile_ms(&v, 99.9), 999.0);
        assert_eq!(percentile_ms(&[], 99.0), 0.0);
    }

    #[test]
    fn the_median_of_an_even_count_is_the_mean_of_the_middle_two() {
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(vec![5.0, 1.0, 3.0]), 3.0);
    }
}
