//! `minutely-tools load`: a load generator for the bridge's routes. In `pairs` mode each worker
//! runs authorize + end pairs back to back over one keep-alive connection; in `batch` mode it
//! sends the same pairs through the batched call-control route, many calls per request; in
//! `ingest` mode it posts batches of call records that already happened. The report gives
//! throughput and the latency percentiles of whole pairs (or batches) and of each request.
//!
//! The client speaks HTTP/1.1 over a plain TCP connection with requests formatted in place: it
//! shares the machine with the server it measures, so every cycle it spends is one the server
//! does not get.

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use jiff::{SignedDuration, Timestamp};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Where the calls go and as whom: shared by `minutely-tools load` and `minutely-tools soak`.
#[derive(Args)]
pub struct Target {
    /// The server's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// A key of the tenant: a bridge key for `load` (an operator key reaches every tenant,
    /// for `--tenants`); `soak` needs a tenant-admin key (its fundings and reads need more
    /// than a bridge key).
    #[arg(long, env = "MINUTELY_KEY")]
    pub key: String,
    #[arg(long, default_value = "contoso")]
    pub tenant: String,
    /// The organizer of every call (a pay-per-minute user makes every call credit-funded).
    #[arg(long, default_value = "chloe.bernard@contoso.example")]
    pub organizer: String,
    /// The dial-out destination of every call.
    #[arg(long, default_value = "+33 1 44 55 66 77")]
    pub destination: String,
}

/// What the load is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Authorize + end pairs (real-time call control).
    Pairs,
    /// Batches of call records through the JSON ingestion endpoint.
    Ingest,
    /// Authorizations only: every allowed call stays live, holding its reservation until it
    /// lapses (to measure the memory of live reservations). With `--batch` above 1 they go
    /// through the batched call-control route.
    Authorize,
    /// Authorize + end pairs through the batched call-control route: one request carries the
    /// authorizations of `--batch` calls, the next their ends.
    Batch,
}

#[derive(Args)]
pub struct LoadArgs {
    #[command(flatten)]
    target: Target,
    #[arg(long, value_enum, default_value_t = Mode::Pairs)]
    mode: Mode,
    /// Pairs (records in ingest mode, calls in authorize mode) in all; ignored with
    /// --seconds.
    #[arg(long, default_value_t = 20_000)]
    pairs: u64,
    /// Run for this long instead of a fixed number of pairs.
    #[arg(long)]
    seconds: Option<f64>,
    /// Requests in flight at once (one connection each).
    #[arg(long, default_value_t = 64)]
    concurrency: u64,
    /// Spread the calls over this many tenants, `<tenant>-0` to `<tenant>-<N-1>`, chosen at
    /// random for each call; 1 sends every call to `--tenant` itself.
    #[arg(long, default_value_t = 1)]
    tenants: u64,
    /// Records per request in ingest mode, calls per request in batch and authorize modes.
    #[arg(long, default_value_t = 100)]
    batch: u64,
    /// The duration each call reports at its end.
    #[arg(long, default_value_t = 42)]
    duration_s: u64,
    /// Print the figures as one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(args: LoadArgs) -> Result<()> {
    if args.concurrency == 0 || args.pairs == 0 || args.tenants == 0 || args.batch == 0 {
        bail!("--pairs, --concurrency, --tenants and --batch must be at least 1");
    }
    if args.seconds.is_some_and(|s| !(s > 0.0 && s <= 86_400.0)) {
        bail!("--seconds must be more than 0 and at most 86400");
    }
    if args.concurrency > 4096 {
        bail!("--concurrency is at most 4096");
    }
    if args.batch > 100_000 {
        bail!("--batch is at most 100000");
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(load(args))
}

/// A base URL split into what a connection needs.
struct Endpoint {
    /// `host:port` to connect to.
    address: String,
    /// The path prefix before `/v1/...` (usually empty).
    prefix: String,
}

fn endpoint(url: &str) -> Result<Endpoint> {
    let rest = url.strip_prefix("http://").with_context(|| {
        format!("--url {url:?}: only http:// is supported (the server speaks plain HTTP)")
    })?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
        None => (rest, ""),
    };
    if authority.is_empty() {
        bail!("--url {url:?} has no host");
    }
    let address = if authority.contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    Ok(Endpoint {
        address,
        prefix: path.to_string(),
    })
}

/// One keep-alive HTTP/1.1 connection.
struct Conn {
    stream: TcpStream,
    host: String,
    buffer: Vec<u8>,
    request: Vec<u8>,
}

/// A response: status and body.
struct Response {
    status: u16,
    body: Vec<u8>,
}

impl Response {
    /// What a failed request answered, for the report.
    fn failure(&self, request: &str) -> String {
        format!(
            "{request}: {} {}",
            self.status,
            String::from_utf8_lossy(&self.body)
        )
    }
}

impl Conn {
    async fn open(address: &str) -> Result<Conn> {
        let stream = TcpStream::connect(address)
            .await
            .with_context(|| format!("cannot connect to {address}"))?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            host: address.to_string(),
            buffer: Vec::with_capacity(16 * 1024),
            request: Vec::with_capacity(4 * 1024),
        })
    }

    async fn post(&mut self, path: &str, key: &str, body: &[u8]) -> Result<Response> {
        use std::io::Write;
        self.request.clear();
        write!(
            self.request,
            "POST {path} HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {key}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            self.host,
            body.len()
        )?;
        self.request.extend_from_slice(body);
        self.stream.write_all(&self.request).await?;
        self.read_response().await
    }

    async fn read_response(&mut self) -> Result<Response> {
        // Headers first; the body follows by content-length (the server never chunks JSON).
        let head_end = loop {
            if let Some(i) = find(&self.buffer, b"\r\n\r\n") {
                break i + 4;
            }
            if self.buffer.len() > 64 * 1024 {
                bail!("a response's headers are longer than 64 KiB");
            }
            self.fill().await?;
        };
        let head = std::str::from_utf8(&self.buffer[..head_end]).context("response headers")?;
        let status: u16 = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("not an HTTP status line: {:?}", head.lines().next()))?;
        let length = head
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse::<usize>().ok())?
            })
            .unwrap_or(0);
        while self.buffer.len() < head_end + length {
            self.fill().await?;
        }
        let body = self.buffer[head_end..head_end + length].to_vec();
        self.buffer.drain(..head_end + length);
        Ok(Response { status, body })
    }

    async fn fill(&mut self) -> Result<()> {
        let start = self.buffer.len();
        self.buffer.resize(start + 16 * 1024, 0);
        let n = self.stream.read(&mut self.buffer[start..]).await?;
        self.buffer.truncate(start + n);
        if n == 0 {
            bail!("the server closed the connection");
        }
        Ok(())
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// SplitMix64, for the choice of tenant.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[derive(Default)]
struct Sample {
    /// Whole pairs; whole batches in ingest mode; both requests of a batch of pairs in batch
    /// mode.
    unit: Vec<Duration>,
    authorize: Vec<Duration>,
    end: Vec<Duration>,
    /// Pairs, or records ingested.
    done: u64,
    denied: u64,
    failed: u64,
    first_failure: Option<String>,
}

impl Sample {
    fn fail(&mut self, what: String) {
        self.failed += 1;
        if self.first_failure.is_none() {
            self.first_failure = Some(what);
        }
    }
}

/// Settings every worker shares.
struct Plan {
    endpoint: Endpoint,
    key: String,
    tenant: String,
    tenants: u64,
    organizer: String,
    destination: String,
    duration_s: u64,
    batch: u64,
    run_id: String,
    deadline: Option<Instant>,
    authorize_only: bool,
}

impl Plan {
    fn tenant(&self, draw: u64) -> String {
        if self.tenants == 1 {
            self.tenant.clone()
        } else {
            format!("{}-{}", self.tenant, draw % self.tenants)
        }
    }

    /// How many calls the next request carries, after `sent` of a worker's `share`.
    fn next_batch(&self, sent: u64, share: u64) -> u64 {
        if self.deadline.is_some() {
            self.batch
        } else {
            self.batch.min(share - sent)
        }
    }

    fn over(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }
}

fn json_string(text: &str) -> String {
    serde_json::Value::String(text.to_string()).to_string()
}

async fn pairs_worker(plan: std::sync::Arc<Plan>, w: u64, share: u64) -> Result<Sample> {
    let mut conn = Conn::open(&plan.endpoint.address).await?;
    let mut s = Sample::default();
    let organizer = json_string(&plan.organizer);
    let destination = json_string(&plan.destination);
    let end_body = format!("{{\"duration_s\":{}}}", plan.duration_s);
    let mut i = 0u64;
    while (plan.deadline.is_some() || i < share) && !plan.over() {
        let tenant = plan.tenant(mix(w << 40 | i));
        let id = format!("load-{}-{w}-{i}", plan.run_id);
        i += 1;
        // The call started `duration_s` ago, so that its end (start + duration) is now: an
        // end in the future would move the wallet's clock ahead. A call left live starts now.
        let ago = if plan.authorize_only {
            0
        } else {
            plan.duration_s
        };
        let start = Timestamp::now() - SignedDuration::from_secs(ago as i64);
        let body = format!(
            "{{\"conference_id\":\"load-{w}\",\"organizer\":{organizer},\"direction\":\"dial_out\",\"destination_number\":{destination},\"start\":\"{}\"}}",
            start.round(jiff::Unit::Second).unwrap_or(start)
        );
        let base = format!("{}/v1/tenants/{tenant}/calls/{id}", plan.endpoint.prefix);
        let t0 = Instant::now();
        let answer = conn
            .post(&format!("{base}/authorize"), &plan.key, body.as_bytes())
            .await?;
        let t1 = Instant::now();
        if answer.status != 200 {
            s.fail(answer.failure("authorize"));
            continue;
        }
        s.authorize.push(t1 - t0);
        if find(&answer.body, b"\"decision\":\"allow\"").is_none() {
            s.denied += 1;
            continue;
        }
        if plan.authorize_only {
            s.unit.push(t1 - t0);
            s.done += 1;
            continue;
        }
        let ended = conn
            .post(&format!("{base}/end"), &plan.key, end_body.as_bytes())
            .await?;
        let t2 = Instant::now();
        if ended.status != 200 {
            s.fail(ended.failure("end"));
            continue;
        }
        s.end.push(t2 - t1);
        s.unit.push(t2 - t0);
        s.done += 1;
    }
    Ok(s)
}

async fn batch_worker(plan: std::sync::Arc<Plan>, w: u64, share: u64) -> Result<Sample> {
    let mut conn = Conn::open(&plan.endpoint.address).await?;
    let mut s = Sample::default();
    let organizer = json_string(&plan.organizer);
    let destination = json_string(&plan.destination);
    let path = |tenant: &str| format!("{}/v1/tenants/{tenant}/control", plan.endpoint.prefix);
    let mut sent = 0u64;
    let mut i = 0u64;
    while (plan.deadline.is_some() || sent < share) && !plan.over() {
        let n = plan.next_batch(sent, share);
        let tenant = plan.tenant(mix(w << 40 | i));
        // As in pairs mode: the calls started `duration_s` ago, so their ends fall now; calls
        // left live start now.
        let ago = if plan.authorize_only {
            0
        } else {
            plan.duration_s
        };
        let start =
            Timestamp::now().round(jiff::Unit::Second)? - SignedDuration::from_secs(ago as i64);
        let mut authorize = String::with_capacity(256 * n as usize + 16);
        let mut end = String::with_capacity(96 * n as usize + 16);
        authorize.push_str("{\"commands\":[");
        end.push_str("{\"commands\":[");
        for r in 0..n {
            if r > 0 {
                authorize.push(',');
                end.push(',');
            }
            let id = format!("batch-{}-{w}-{i}-{r}", plan.run_id);
            authorize.push_str(&format!(
                "{{\"op\":\"authorize\",\"call_id\":\"{id}\",\"body\":{{\"conference_id\":\"load-{w}\",\"organizer\":{organizer},\"direction\":\"dial_out\",\"destination_number\":{destination},\"start\":\"{start}\"}}}}"
            ));
            end.push_str(&format!(
                "{{\"op\":\"end\",\"call_id\":\"{id}\",\"body\":{{\"duration_s\":{}}}}}",
                plan.duration_s
            ));
        }
        authorize.push_str("]}");
        end.push_str("]}");
        i += 1;
        let t0 = Instant::now();
        let answer = conn
            .post(&path(&tenant), &plan.key, authorize.as_bytes())
            .await?;
        let t1 = Instant::now();
        if answer.status != 200 {
            s.fail(answer.failure("authorize batch"));
            continue;
        }
        s.authorize.push(t1 - t0);
        let allowed = count(&answer.body, b"\"decision\":\"allow\"") as u64;
        s.denied += n - allowed;
        if plan.authorize_only {
            s.unit.push(t1 - t0);
            s.done += allowed;
            sent += n;
            continue;
        }
        let ended = conn.post(&path(&tenant), &plan.key, end.as_bytes()).await?;
        let t2 = Instant::now();
        if ended.status != 200 {
            s.fail(ended.failure("end batch"));
            continue;
        }
        // A denied call's end answers 409 or 404 inside the batch; the others must be charged.
        let charged = count(&ended.body, b"\"status\":\"charged\"") as u64;
        if charged != allowed {
            s.fail(format!(
                "end batch: {charged} of {allowed} allowed calls charged: {}",
                String::from_utf8_lossy(&ended.body)
            ));
            continue;
        }
        s.end.push(t2 - t1);
        s.unit.push(t2 - t0);
        s.done += allowed;
        sent += n;
    }
    Ok(s)
}

/// How many times `needle` occurs in `haystack` (overlapping occurrences counted).
pub(crate) fn count(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count()
}

async fn ingest_worker(plan: std::sync::Arc<Plan>, w: u64, share: u64) -> Result<Sample> {
    let mut conn = Conn::open(&plan.endpoint.address).await?;
    let mut s = Sample::default();
    let organizer = json_string(&plan.organizer);
    let destination = json_string(&plan.destination);
    let mut sent = 0u64;
    let mut i = 0u64;
    while (plan.deadline.is_some() || sent < share) && !plan.over() {
        let n = plan.next_batch(sent, share);
        let tenant = plan.tenant(mix(w << 40 | i));
        // Calls that ended a minute ago.
        let end = Timestamp::now().round(jiff::Unit::Second)? - SignedDuration::from_secs(60);
        let start = end - SignedDuration::from_secs(plan.duration_s as i64);
        let mut body = String::with_capacity(256 * n as usize + 16);
        body.push_str("{\"calls\":[");
        for r in 0..n {
            if r > 0 {
                body.push(',');
            }
            body.push_str(&format!(
                "{{\"call_id\":\"ingest-{}-{w}-{i}-{r}\",\"conference_id\":\"load-{w}\",\"organizer\":{organizer},\"direction\":\"dial_out\",\"destination_number\":{destination},\"start\":\"{start}\",\"end\":\"{end}\"}}",
                plan.run_id
            ));
        }
        body.push_str("]}");
        i += 1;
        let t0 = Instant::now();
        let answer = conn
            .post(
                &format!("{}/v1/tenants/{tenant}/calls", plan.endpoint.prefix),
                &plan.key,
                body.as_bytes(),
            )
            .await?;
        let t1 = Instant::now();
        if answer.status != 200 {
            s.fail(answer.failure("ingest"));
            continue;
        }
        s.unit.push(t1 - t0);
        s.done += n;
        sent += n;
    }
    Ok(s)
}

async fn load(args: LoadArgs) -> Result<()> {
    let plan = std::sync::Arc::new(Plan {
        endpoint: endpoint(&args.target.url)?,
        key: args.target.key.clone(),
        tenant: args.target.tenant.clone(),
        tenants: args.tenants,
        organizer: args.target.organizer.clone(),
        destination: args.target.destination.clone(),
        duration_s: args.duration_s,
        batch: args.batch,
        run_id: format!(
            "{}-{}",
            std::process::id(),
            Timestamp::now().as_millisecond()
        ),
        deadline: args
            .seconds
            .map(|s| Instant::now() + Duration::from_secs_f64(s)),
        authorize_only: args.mode == Mode::Authorize,
    });
    let started = Instant::now();
    let mut workers = Vec::new();
    for w in 0..args.concurrency {
        let share = args.pairs / args.concurrency + u64::from(w < args.pairs % args.concurrency);
        let plan = plan.clone();
        workers.push(tokio::spawn(async move {
            match args.mode {
                Mode::Authorize if plan.batch > 1 => batch_worker(plan, w, share).await,
                Mode::Pairs | Mode::Authorize => pairs_worker(plan, w, share).await,
                Mode::Ingest => ingest_worker(plan, w, share).await,
                Mode::Batch => batch_worker(plan, w, share).await,
            }
        }));
    }
    let mut all = Sample::default();
    for w in workers {
        let s = w.await??;
        all.unit.extend(s.unit);
        all.authorize.extend(s.authorize);
        all.end.extend(s.end);
        all.done += s.done;
        all.denied += s.denied;
        all.failed += s.failed;
        if all.first_failure.is_none() {
            all.first_failure = s.first_failure;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let rate = all.done as f64 / elapsed.max(1e-9);
    let (unit, per) = match args.mode {
        Mode::Pairs => ("pair", "pairs"),
        Mode::Ingest => ("request", "records"),
        Mode::Authorize => ("authorize", "calls"),
        Mode::Batch => ("batch", "pairs"),
    };
    let mut series = vec![(unit, std::mem::take(&mut all.unit))];
    if matches!(args.mode, Mode::Pairs | Mode::Batch) {
        series.push(("authorize", std::mem::take(&mut all.authorize)));
        series.push(("end", std::mem::take(&mut all.end)));
    }
    for (_, values) in &mut series {
        values.sort();
    }
    if args.json {
        let mut figures = serde_json::json!({
            "mode": format!("{:?}", args.mode).to_lowercase(),
            per: all.done,
            "seconds": elapsed,
            "per_s": rate,
            "concurrency": args.concurrency,
            "tenants": args.tenants,
            "batch": args.batch,
            "denied": all.denied,
            "failed": all.failed,
        });
        for (name, values) in &series {
            figures[*name] = serde_json::json!({
                "p50_ms": ms(percentile(values, 50.0)),
                "p99_ms": ms(percentile(values, 99.0)),
                "p999_ms": ms(percentile(values, 99.9)),
                "max_ms": ms(values.last().copied().unwrap_or_default()),
            });
        }
        println!("{figures}");
    } else {
        println!(
            "{} {per} in {elapsed:.2} s: {rate:.0} {per}/s ({} concurrent, {} tenants; {} denied, {} failed)",
            all.done, args.concurrency, args.tenants, all.denied, all.failed
        );
        for (name, values) in &series {
            println!(
                "  {name:<9} p50 {:>8.3} ms   p99 {:>8.3} ms   p999 {:>8.3} ms   max {:>8.3} ms",
                ms(percentile(values, 50.0)),
                ms(percentile(values, 99.0)),
                ms(percentile(values, 99.9)),
                ms(values.last().copied().unwrap_or_default())
            );
        }
    }
    if all.failed > 0 {
        bail!(
            "{} requests failed; the first: {}",
            all.failed,
            all.first_failure.unwrap_or_default()
        );
    }
    Ok(())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
