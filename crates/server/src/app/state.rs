//! What every request shares: the server's configuration, the read-only store connections and
//! the state handed to each handler.

use crate::auth::Keys;
use crate::clock::Clock;
use crate::error::{ApiError, ApiResult};
use crate::ratelimit::{Limiter, RateLimit};
use crate::writer::{Writer, WriterConfig};
use minutely_store::Store;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Everything `serve` needs.
#[derive(Debug, Clone)]
pub struct Config {
    pub db: PathBuf,
    pub listen: SocketAddr,
    pub writer: WriterConfig,
    /// Largest request body accepted (bytes).
    pub max_body: usize,
    /// Largest number of call records in one ingestion request, and of commands in one
    /// call-control batch.
    pub max_batch_records: usize,
    /// Requests handled at once; more wait in the accept queue.
    pub max_in_flight: usize,
    /// Connections held open at once; more wait in the kernel's accept queue.
    pub max_connections: usize,
    /// Connections held open at once from one IP address; more are closed at once.
    pub max_connections_per_address: usize,
    /// A request head must arrive within this of the connection's opening (or of its first
    /// byte after an idle keep-alive); otherwise the connection is closed (408 when part of
    /// the head came).
    pub header_timeout: Duration,
    /// A request body must arrive within this once the server waits for it (408 otherwise).
    pub body_timeout: Duration,
    /// A keep-alive connection without a request for this long is closed.
    pub idle_timeout: Duration,
    /// Largest page any listing returns.
    pub max_page: usize,
    /// Graceful shutdown: how long requests in flight may take to finish.
    pub drain_timeout: Duration,
    /// Webhook delivery: attempts before giving up on one event.
    pub webhook_attempts: u32,
    /// Webhook delivery: the pause after the first failed attempt (it doubles after each).
    pub webhook_first_backoff: Duration,
    /// Webhook delivery: the networks and host names a webhook may reach although they are
    /// internal (loopback, private, link-local, ...); empty by default, so webhooks go only to
    /// public addresses (`crate::webhooks::egress`).
    pub webhook_allow: crate::webhooks::WebhookAllow,
    /// Events also published to NATS JetStream (`crate::stream`); `None`: webhooks only.
    pub events_stream: Option<crate::stream::StreamConfig>,
    /// Requests per API key (`None`: unlimited). Over it, a request is answered 429 with
    /// `Retry-After` before its body is read.
    pub rate_limit: Option<RateLimit>,
    /// How often reservations past their grace are lapsed (C27): a hold outlives its grace by
    /// at most this.
    pub sweep_every: Duration,
    /// How often API keys are re-read from the store: a key created or revoked from the
    /// command line is seen within this delay (one changed through the API at once).
    pub key_refresh_every: Duration,
    /// How often histogram samples are folded into their buckets, so that memory stays bounded
    /// between scrapes of /metrics.
    pub metrics_upkeep_every: Duration,
    pub clock: Clock,
    /// A node of several on a PostgreSQL store (`None`: the one server of its store).
    pub node: Option<minutely_service::cluster::NodeConfig>,
}

impl Config {
    pub fn new(db: PathBuf, listen: SocketAddr) -> Config {
        Config {
            db,
            listen,
            writer: WriterConfig::default(),
            max_body: 4 << 20,
            max_batch_records: minutely_service::input::control::MAX_BATCH_RECORDS,
            max_in_flight: 4_096,
            max_connections: 10_000,
            max_connections_per_address: 256,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_page: 1_000,
            drain_timeout: Duration::from_secs(10),
            webhook_attempts: 12,
            webhook_first_backoff: Duration::from_secs(1),
            webhook_allow: crate::webhooks::WebhookAllow::default(),
            events_stream: None,
            rate_limit: Some(RateLimit::DEFAULT),
            sweep_every: Duration::from_secs(1),
            key_refresh_every: Duration::from_secs(1),
            metrics_upkeep_every: Duration::from_secs(5),
            clock: Clock::System,
            node: None,
        }
    }
}

/// Read-only connections to the store, for reports and listings (WAL lets them read while
/// the writer commits).
pub struct Readers {
    /// The store's file, opened read-only on demand.
    db: PathBuf,
    /// Connections given back after a read, kept (up to 8) for the next one.
    idle: Mutex<Vec<Store>>,
}

impl Readers {
    /// No connection yet: each is opened on first need and kept for the next reader.
    pub fn new(db: PathBuf) -> Readers {
        Readers {
            db,
            idle: Mutex::new(Vec::new()),
        }
    }

    fn take(&self) -> ApiResult<Store> {
        if let Some(store) = self.idle.lock().expect("never poisoned").pop() {
            return Ok(store);
        }
        Store::open_read_only(&self.db).map_err(ApiError::from)
    }

    fn give_back(&self, store: Store) {
        let mut idle = self.idle.lock().expect("never poisoned");
        if idle.len() < 8 {
            idle.push(store);
        }
    }
}

/// Shared by every request: one reference-counted `Shared`, so that the copy each layer and
/// extractor takes of it costs one count.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> AppState {
        AppState(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What every request shares (through `AppState`).
pub struct Shared {
    pub writer: Writer,
    pub keys: Keys,
    pub readers: Arc<Readers>,
    pub config: Arc<Config>,
    pub ready: Arc<AtomicBool>,
    pub metrics: metrics_exporter_prometheus::PrometheusHandle,
    /// Wakes the webhook deliverer after a commit.
    pub committed: tokio::sync::watch::Receiver<u64>,
    /// The per-key token buckets, when requests are limited.
    pub limiter: Option<Arc<Limiter>>,
    /// The metrics of each route, registered once.
    pub route_metrics: super::middleware::RouteMetrics,
    /// On a node of several: the leases it holds and what it knows of the others.
    pub cluster: Option<Arc<minutely_service::cluster::Ownership>>,
    /// The client requests for another node's tenants are forwarded with.
    pub forwarder: reqwest::Client,
}

impl AppState {
    /// Runs `f` on a read-only connection, off the async threads.
    pub async fn read<T, F>(&self, f: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> ApiResult<T> + Send + 'static,
    {
        let readers = self.readers.clone();
        tokio::task::spawn_blocking(move || {
            let store = readers.take()?;
            let out = f(&store);
            readers.give_back(store);
            out
        })
        .await
        .map_err(ApiError::internal)?
    }

    pub fn now(&self) -> jiff::Timestamp {
        self.config.clock.now()
    }
}
