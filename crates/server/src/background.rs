//! Work the server does on its own: lapsing reservations (C27), refreshing the key cache (keys
//! created or revoked from the command line), delivering webhooks, publishing events to NATS
//! JetStream when configured.
//!
//! Their intervals are in `Config` (`sweep_every`, `key_refresh_every`, `metrics_upkeep_every`),
//! so that tests can make them short rather than wait for the production values.

use crate::app::AppState;
use tokio::sync::watch;
use tokio::task::JoinHandle;

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
            let mut every = tokio::time::interval(state.config.sweep_every);
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
            let mut every = tokio::time::interval(state.config.key_refresh_every);
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
            let mut every = tokio::time::interval(state.config.metrics_upkeep_every);
            loop {
                tokio::select! {
                    _ = every.tick() => state.metrics.run_upkeep(),
                    _ = stopped.changed() => break,
                }
            }
        }));
    }
    if let Some(stream) = state.config.events_stream.clone() {
        tasks.push(tokio::spawn(crate::stream::publish(
            state.clone(),
            stream,
            stopped.clone(),
        )));
    }
    tasks.push(tokio::spawn(crate::webhooks::deliver(state, stopped)));
    Background { stop, tasks }
}
