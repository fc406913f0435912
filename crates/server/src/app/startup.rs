//! Start-up and graceful shutdown: the store opened and checked, the writer, the background
//! tasks and the listener started; the metrics recorder; the signals that stop the server.

use super::{AppState, Config, Readers, Shared, router};
use crate::auth::Keys;
use crate::ratelimit::Limiter;
use crate::writer;
use minutely_core::catalogue::CountryTable;
use minutely_service::cluster::Ownership;
use minutely_store::Store;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A running server.
pub struct Server {
    pub addr: SocketAddr,
    pub state: AppState,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// The Prometheus recorder (one per process).
fn metrics_handle() -> metrics_exporter_prometheus::PrometheusHandle {
    static HANDLE: std::sync::OnceLock<metrics_exporter_prometheus::PrometheusHandle> =
        std::sync::OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = metrics_exporter_prometheus::PrometheusBuilder::new()
                .set_buckets(&[
                    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                    0.5, 1.0, 2.5,
                ])
                .expect("static buckets are valid")
                .build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (tests): ours still renders its own.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// The listening socket with its connection bounds, its address, and each connection's limits.
async fn listen(
    config: &Config,
) -> anyhow::Result<(
    crate::listener::Listener,
    SocketAddr,
    crate::listener::Limits,
)> {
    let listener = crate::listener::bind(config.listen)?;
    let addr = listener.local_addr()?;
    if config.max_connections_per_address >= config.max_connections {
        tracing::warn!(
            max_connections = config.max_connections,
            max_connections_per_address = config.max_connections_per_address,
            "one address may hold every connection: set the per-address bound below the total"
        );
    }
    let listener = crate::listener::Listener::new(
        listener,
        config.max_connections,
        config.max_connections_per_address,
    );
    let limits = crate::listener::Limits {
        header_timeout: config.header_timeout,
        body_timeout: config.body_timeout,
        idle_timeout: config.idle_timeout,
    };
    Ok((listener, addr, limits))
}

/// What start-up reads from the store before anything is served.
struct Opened {
    /// This process's claim on the store: no other process may change the tenants now (on a
    /// node of several, the claim is shared with the other nodes).
    lock: minutely_store::OwnerLock,
    /// Every tenant, loaded and checked (C24), for the writer (none yet on a node of several).
    loaded: writer::State,
    /// The secret API keys are digested with, and the keys.
    keys: Keys,
    /// On a node of several: its leases, and the lease thread's own session.
    node: Option<(Arc<Ownership>, Store)>,
}

/// Claims the store, checks it and loads every tenant (off the async threads).
async fn open(config: &Config) -> anyhow::Result<Opened> {
    let countries: CountryTable = minutely_formats::countries::shipped();
    let db = config.db.clone();
    let node = config.node.clone();
    tokio::task::spawn_blocking(move || {
        let Some(node) = node else {
            // This process's memory becomes the tenants' state: no other may change them now.
            let lock = minutely_store::claim(&db)?;
            // Refused when committed transactions are missing or a page is damaged.
            let mut store = Store::open_checked(&db, &countries)?;
            let keys = Keys::new(store.key_secret()?, store.keys()?);
            let loaded = writer::State::load(store)?;
            return anyhow::Ok(Opened {
                lock,
                loaded,
                keys,
                node: None,
            });
        };
        let lock = minutely_store::claim_shared(&db)?;
        let mut store = Store::open_checked(&db, &countries)?;
        let keys = Keys::new(store.key_secret()?, store.keys()?);
        let ownership = Arc::new(Ownership::new(node));
        let loaded = writer::State::for_node(store, ownership.clone())?;
        let lease_store = Store::open(&db, &countries)?;
        anyhow::Ok(Opened {
            lock,
            loaded,
            keys,
            node: Some((ownership, lease_store)),
        })
    })
    .await?
}

/// The lease thread and the catalogue's listener of a node of several.
struct NodeThreads {
    ownership: Arc<Ownership>,
    leases: std::thread::JoinHandle<()>,
    listener_stop: Arc<AtomicBool>,
    listener: Option<std::thread::JoinHandle<()>>,
}

impl NodeThreads {
    fn start(
        config: &Config,
        ownership: Arc<Ownership>,
        lease_store: Store,
        writer: &writer::Writer,
    ) -> anyhow::Result<NodeThreads> {
        let leases = minutely_service::cluster::leases::start(
            lease_store,
            writer.0.clone(),
            ownership.clone(),
        )?;
        let listener_stop = Arc::new(AtomicBool::new(false));
        let (runtime, reloading) = (tokio::runtime::Handle::current(), writer.clone());
        let heard = move || {
            let writer = reloading.clone();
            runtime.spawn(async move {
                let reloaded = writer
                    .run(|ctx| Ok(minutely_service::writer::reload_catalogue(ctx)))
                    .await;
                if !matches!(reloaded, Ok(Ok(()))) {
                    tracing::warn!("the catalogue could not be read again after a change");
                }
            });
        };
        let listener = minutely_store::listen(
            &config.db,
            minutely_store::CATALOGUE_CHANNEL,
            heard,
            listener_stop.clone(),
        )?;
        Ok(NodeThreads {
            ownership,
            leases,
            listener_stop,
            listener: Some(listener),
        })
    }

    /// Stops the lease thread and the listener (after the writer stopped).
    async fn stop(mut self) {
        minutely_service::cluster::leases::stop(&self.ownership);
        self.listener_stop.store(true, Ordering::SeqCst);
        let (leases, listener) = (self.leases, self.listener.take());
        let _ = tokio::task::spawn_blocking(move || {
            let _ = leases.join();
            if let Some(listener) = listener {
                let _ = listener.join();
            }
        })
        .await;
    }
}

/// What the serving task owns until the server has stopped.
struct Serving {
    listener: crate::listener::Listener,
    limits: crate::listener::Limits,
    app: axum::Router,
    /// Fires when a shutdown is asked for.
    shutdown: tokio::sync::oneshot::Receiver<()>,
    /// Cleared when the shutdown starts, so that /readyz turns away new traffic.
    ready: Arc<AtomicBool>,
    drain_timeout: std::time::Duration,
    background: crate::background::Background,
    writer: writer::Writer,
    writer_thread: std::thread::JoinHandle<()>,
    lock: minutely_store::OwnerLock,
    node: Option<NodeThreads>,
}

impl Serving {
    /// Serves until the shutdown signal, drains, then stops the background tasks and the
    /// writer (which commits what is queued) and releases the store.
    async fn run(self) -> anyhow::Result<()> {
        let Serving {
            listener,
            limits,
            app,
            shutdown,
            ready,
            drain_timeout,
            background,
            writer,
            writer_thread,
            lock,
            node,
        } = self;
        let (draining_tx, draining_rx) = tokio::sync::oneshot::channel::<()>();
        // On the signal the listening socket closes, each connection finishes the request it
        // is answering and closes; `serve` returns once every connection is closed.
        let ownership = node.as_ref().map(|n| n.ownership.clone());
        let serve = crate::listener::serve(listener, app, limits, async move {
            let _ = shutdown.await;
            ready.store(false, Ordering::SeqCst);
            if let Some(ownership) = ownership {
                drain_leases(&ownership).await;
            }
            let _ = draining_tx.send(());
        });
        // A client that stalls half-way through a request must not hold the shutdown forever:
        // after the drain deadline the remaining connections are left behind. Nothing is lost:
        // a request is acknowledged only after its commit, and one that reaches the writer
        // after it stopped is answered `unavailable`.
        tokio::select! {
            () = serve => {}
            _ = async {
                if draining_rx.await.is_ok() {
                    tokio::time::sleep(drain_timeout).await;
                } else {
                    std::future::pending::<()>().await;
                }
            } => {
                tracing::warn!(
                    seconds = drain_timeout.as_secs_f64(),
                    "connections still open after the drain deadline; stopping without them"
                );
            }
        }
        // Every request has been answered; the writer commits what is queued and stops.
        background.stop().await;
        writer.stop().await;
        tokio::task::spawn_blocking(move || writer_thread.join())
            .await?
            .map_err(|_| anyhow::anyhow!("the writer thread panicked"))?;
        if let Some(node) = node {
            node.stop().await;
        }
        drop(lock);
        tracing::info!("stopped: everything acknowledged is committed");
        anyhow::Ok(())
    }
}

impl Server {
    /// Opens the store, loads every tenant (checking C24), starts the writer, the webhook
    /// deliverer and the listener. Returns once the server accepts connections.
    pub async fn start(mut config: Config) -> anyhow::Result<Server> {
        // Bound first: a node of several gives other nodes its address before it serves, and
        // a client connecting during the load waits in the queue.
        let (listener, addr, limits) = listen(&config).await?;
        if let Some(node) = &mut config.node
            && node.address.is_empty()
        {
            node.address = format!("http://{addr}");
        }
        let Opened {
            lock,
            loaded,
            keys,
            node,
        } = open(&config).await?;
        let tenants = loaded.books.len();
        let (committed_tx, committed_rx) = tokio::sync::watch::channel(0u64);
        let (writer, writer_thread) = writer::start(
            loaded,
            config.writer,
            config.clock.clone(),
            Some(committed_tx),
        );
        let node = match node {
            Some((ownership, lease_store)) => Some(NodeThreads::start(
                &config,
                ownership,
                lease_store,
                &writer,
            )?),
            None => None,
        };
        let cluster = node.as_ref().map(|n| n.ownership.clone());
        let state = shared_state(config, writer, keys, committed_rx, cluster);
        tracing::info!(%addr, tenants, "serving");
        let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
        let app = router(state.clone());
        // The access table is built now rather than at the first request, so that what building
        // it frees is given back below with the rest of start-up's.
        let _ = crate::access::table();
        let serving = Serving {
            listener,
            limits,
            app,
            shutdown: shutdown_rx,
            ready: state.ready.clone(),
            drain_timeout: state.config.drain_timeout,
            background: crate::background::start(state.clone()),
            writer: state.writer.clone(),
            writer_thread,
            lock,
            node,
        };
        let task = tokio::spawn(serving.run());
        return_freed_memory();
        Ok(Server {
            addr,
            state,
            shutdown: Some(shutdown_tx),
            task,
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Graceful shutdown: stop accepting, finish the requests in flight and the batch being
    /// committed, then stop.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        drop(self.state);
        self.task.await?
    }

    /// Runs until SIGTERM or Ctrl-C, then shuts down gracefully.
    pub async fn run_until_signal(self) -> anyhow::Result<()> {
        wait_for_signal().await;
        tracing::info!("shutting down: finishing requests in flight");
        self.shutdown().await
    }
}

/// What every request shares.
fn shared_state(
    config: Config,
    writer: writer::Writer,
    keys: Keys,
    committed: tokio::sync::watch::Receiver<u64>,
    cluster: Option<Arc<Ownership>>,
) -> AppState {
    let limiter = config
        .rate_limit
        .map(|limit| Arc::new(Limiter::new(limit, config.clock.clone())));
    AppState::new(Shared {
        writer,
        keys,
        readers: Arc::new(Readers::new(config.db.clone())),
        config: Arc::new(config),
        ready: Arc::new(AtomicBool::new(true)),
        metrics: metrics_handle(),
        committed,
        limiter,
        route_metrics: Default::default(),
        cluster,
        forwarder: crate::cluster::forwarder(),
    })
}

/// Gives every lease back before the node stops serving: other nodes take its tenants at once,
/// and this node forwards their requests meanwhile. Waits at most two leases.
async fn drain_leases(ownership: &Ownership) {
    ownership.drain();
    let deadline = std::time::Instant::now() + ownership.config.lease * 2;
    while !ownership.held().is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Gives the pages the C allocator holds free back to the system. Start-up builds every
/// route's OpenAPI operation and schemas (several megabytes, for the router and the access
/// table) and loads the store on a blocking thread, then drops all of that but what it keeps;
/// glibc keeps the freed pages in its arenas, resident, until a trim. Called once, after
/// start-up: nothing on a request's path trims.
fn return_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` takes no pointer and touches no memory the program owns: it only
    // hands free pages of glibc's own arenas back to the kernel, under the arenas' locks, and
    // may be called from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM can be handled");
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
