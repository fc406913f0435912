//! The server's handle on the service's single writer (`minutely_service::writer`): the
//! service's commands, their errors made HTTP ones; and jobs whose answer is an HTTP error,
//! run in the writer as they are, their error carried back untouched.

use crate::clock::Clock;
use crate::error::ApiResult;
use minutely_core::engine::TenantBook;
use minutely_service::Command;
use minutely_service::commands::FromAnswer;
pub use minutely_service::writer::{Catalogue, Ctx, State, WriterConfig, record_batch};

/// The handle requests use to reach the writer.
#[derive(Clone)]
pub struct Writer(pub minutely_service::writer::Writer);

impl Writer {
    /// Runs `job` in the writer; its answer arrives once the batch it joined is durable.
    pub async fn run<T, F>(&self, job: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Ctx<'_>) -> ApiResult<T> + Send + 'static,
    {
        self.0.run(move |ctx| Ok(job(ctx))).await?
    }

    /// Carries a command of the service out in the writer; its error becomes the HTTP one.
    pub async fn execute<A: FromAnswer>(&self, command: Command) -> ApiResult<A> {
        Ok(self.0.execute(command).await?)
    }

    /// Runs `f` on the tenant's book in the writer, to read it; `unknown_tenant` (404) when
    /// there is no such tenant.
    pub async fn with_book<T, F>(&self, tenant: &str, f: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&TenantBook) -> ApiResult<T> + Send + 'static,
    {
        self.0.with_book(tenant, move |book| Ok(f(book))).await?
    }

    /// Asks the writer to lapse the reservations that are due.
    pub fn tick(&self) {
        self.0.tick();
    }

    /// Asks the writer to commit the jobs queued before this and stop.
    pub async fn stop(&self) {
        self.0.stop().await;
    }
}

/// Starts the writer thread (see `minutely_service::writer::start`).
pub fn start(
    state: State,
    config: WriterConfig,
    clock: Clock,
    committed: Option<tokio::sync::watch::Sender<u64>>,
) -> (Writer, std::thread::JoinHandle<()>) {
    let (writer, handle) = minutely_service::writer::start(state, config, clock, committed);
    (Writer(writer), handle)
}
