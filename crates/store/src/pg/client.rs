//! A synchronous PostgreSQL session that may be used from any thread, an async runtime's
//! included (the `postgres` crate's client panics there): `tokio_postgres` with its connection
//! driven by a runtime of one thread owned by the session, and each call waited for by parking
//! the calling thread, outside any runtime.

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Config, NoTls, Row, Statement};

/// One session: the client and the runtime that drives its connection. A session whose
/// connection ended (the server restarted or went away) is opened again by `revive`, with the
/// same settings.
pub(crate) struct PgClient {
    client: Client,
    config: Config,
    /// Statements run on every new connection (session settings).
    setup: String,
    /// Kept alive with the client; shut down (without waiting) when the session is dropped.
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for PgClient {
    fn drop(&mut self) {
        // Not `Runtime::drop`, which waits and must not run on an async runtime's thread.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl PgClient {
    /// Connects and runs `setup`; the runtime's thread is named `minutely-pg`.
    pub fn connect(config: &Config, setup: &str) -> Result<PgClient, tokio_postgres::Error> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("minutely-pg")
            .enable_io()
            .enable_time()
            .build()
            .expect("a runtime of one thread for a PostgreSQL session");
        let client = open(&runtime, config, setup)?;
        Ok(PgClient {
            client,
            config: config.clone(),
            setup: setup.to_string(),
            runtime: Some(runtime),
        })
    }

    /// Opens the session again when its connection has ended; true when it did. What the old
    /// connection had not committed is gone (the server rolled it back).
    pub fn revive(&mut self) -> Result<bool, tokio_postgres::Error> {
        if !self.client.is_closed() {
            return Ok(false);
        }
        let runtime = self
            .runtime
            .as_ref()
            .expect("a live session has its runtime");
        self.client = open(runtime, &self.config, &self.setup)?;
        tracing::info!("a PostgreSQL session was opened again");
        Ok(true)
    }

    /// Runs `settings` now and on every new connection of this session.
    pub fn add_setup(&mut self, settings: &str) -> Result<(), tokio_postgres::Error> {
        wait(self.client.batch_execute(settings))?;
        self.setup = format!("{}; {settings}", self.setup);
        Ok(())
    }

    pub fn prepare(&self, sql: &str) -> Result<Statement, tokio_postgres::Error> {
        wait(self.client.prepare(sql))
    }

    pub fn execute(
        &self,
        stmt: &Statement,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, tokio_postgres::Error> {
        wait(self.client.execute(stmt, params))
    }

    pub fn query(
        &self,
        stmt: &Statement,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, tokio_postgres::Error> {
        wait(self.client.query(stmt, params))
    }

    pub fn query_one(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Row, tokio_postgres::Error> {
        wait(self.client.query_one(sql, params))
    }

    pub fn batch_execute(&self, sql: &str) -> Result<(), tokio_postgres::Error> {
        wait(self.client.batch_execute(sql))
    }
}

/// The listener thread of `super::listen`: connects, runs `listen`, and calls `heard` after
/// each connection and each notification, until `stop`.
pub(super) fn listen_loop(
    config: Config,
    listen: String,
    mut heard: impl FnMut(),
    stop: Arc<std::sync::atomic::AtomicBool>,
) {
    use std::sync::atomic::Ordering;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .expect("a runtime for the listener");
    while !stop.load(Ordering::SeqCst) {
        let outcome = runtime.block_on(listen_once(&config, &listen, &mut heard, &stop));
        if let Err(e) = outcome {
            tracing::warn!(error = %e, "the notification listener lost its connection");
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// One connection of the listener, until it ends or `stop` is set.
async fn listen_once(
    config: &Config,
    listen: &str,
    heard: &mut impl FnMut(),
    stop: &std::sync::atomic::AtomicBool,
) -> Result<(), tokio_postgres::Error> {
    use std::future::poll_fn;
    use std::sync::atomic::Ordering;
    let (client, mut connection) = config.connect(NoTls).await?;
    let mut listening = std::pin::pin!(client.batch_execute(listen));
    // The LISTEN completes while the connection is driven.
    loop {
        tokio::select! {
            done = &mut listening => { done?; break; }
            message = poll_fn(|cx| connection.poll_message(cx)) => match message {
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e),
                None => return Ok(()),
            }
        }
    }
    heard();
    while !stop.load(Ordering::SeqCst) {
        let next = poll_fn(|cx| connection.poll_message(cx));
        match tokio::time::timeout(Duration::from_millis(500), next).await {
            Err(_) => {}
            Ok(Some(Ok(tokio_postgres::AsyncMessage::Notification(_)))) => heard(),
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(e))) => return Err(e),
            Ok(None) => return Ok(()),
        }
    }
    Ok(())
}

/// Connects on `runtime`, which then drives the connection, and runs `setup`.
fn open(
    runtime: &tokio::runtime::Runtime,
    config: &Config,
    setup: &str,
) -> Result<Client, tokio_postgres::Error> {
    let config = config.clone();
    let (client, connection) = wait(runtime.spawn(async move { config.connect(NoTls).await }))
        .expect("the connect task is never cancelled")?;
    runtime.spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(error = %e, "a PostgreSQL session ended");
        }
    });
    wait(client.batch_execute(setup))?;
    Ok(client)
}

/// Wakes the thread that waits.
struct Unpark(std::thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls `future` on this thread until it is ready, parking between polls.
fn wait<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        // A wake-up that came before the park makes it return at once; the timeout only
        // bounds what a lost wake-up could cost.
        std::thread::park_timeout(Duration::from_millis(100));
    }
}
