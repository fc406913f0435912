//! Work the server does on its own: lapsing reservations (C27), refreshing the key cache (keys
//! created or revoked from the command line), delivering webhooks.

use crate::app::{AppState, SWEEP_EVERY};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How often keys are re-read from the store: a key revoked from the command line stops
/// working within this delay (one revoked through the API stops at once).
pub const KEY_REFRESH: Duration = Duration::from_secs(1);

/// How often histogram samples are folded into their buckets (memory stays bounded between
/// scrapes of /metrics).
pub const METRICS_UPKEEP: Duration = Duration::from_secs(5);

pub struct Background {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Background {
    /// Stops every task and waits for them (a webhook delivery in flight finishes first).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

pub fn start(state: AppState) -> Background {
    let (stop, stopped) = watch::channel(false);
    let mut tasks = Vec::new();
    {
        let state = state.clone();
        let mut stopped = stopped.clone();
        tasks.push(tokio::spawn(async move {
            let mut every = tokio::time::interval(SWEEP_EVERY);
            loop {
                tokio::select! {
                    _ = every.tick() => state.writer.tick(),
                    _ = stopped.changed() => break,
                }
            }
        }));
    }
    {
        let state = state.clone();
        let mut stopped = stopped.clone();
        tasks.push(tokio::spawn(async move {
            let mut every = tokio::time::interval(KEY_REFRESH);
            loop {
                tokio::select! {
                    _ = every.tick() => {
                        let generation = state.keys.generation();
                        match state.read(|store| Ok(store.keys()?)).await {
                            Ok(keys) => {
                                state.keys.refresh(keys, generation);
                            }
                            Err(error) => tracing::warn!(code = error.code, "cannot refresh keys"),
                        }
                    }
                    _ = stopped.changed() => break,
                }
            }
        }));
    }
    {
        let state = state.clone();
        let mut stopped = stopped.clone();
        tasks.push(tokio::spawn(async move {
            // The recorder keeps every histogram sample until it is folded into the buckets;
            // without a scrape of /metrics nothing would fold them, and memory would grow with
            // every request.
            let mut every = tokio::time::interval(METRICS_UPKEEP);
            loop {
                tokio::select! {
                    _ = every.tick() => state.metrics.run_upkeep(),
                    _ = stopped.changed() => break,
                }
            }
        }));
    }
    tasks.push(tokio::spawn(crate::webhooks::deliver(state, stopped)));
    Background { stop, tasks }
}
