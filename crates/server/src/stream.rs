//! Events to NATS JetStream (C15), beside the webhooks: every tenant's outbox events (the
//! store's `events` table) are published with `minutely serve --events-nats nats://host:4222`,
//! each as one message whose payload is the webhook's JSON body (`crate::webhooks`).
//!
//! # What a consumer gets
//!
//! - Subject `<prefix>.<tenant>.<event type>`, e.g. `minutely.events.acme.wallet.low_balance`
//!   (`--events-subject`, `minutely.events` by default). A tenant id's `.` is written `~` so
//!   that the tenant is always one token (`acme.eu` gives `minutely.events.acme~eu.…`); a
//!   consumer filters a tenant with `<prefix>.acme.>` or a type with `<prefix>.*.wallet.>`.
//! - Header `Nats-Msg-Id: <id>`, the body's `id` (the webhook's event id, from the tenant and the
//!   sequence), so JetStream drops a message sent twice within the stream's duplicate window.
//!
//! # Guarantees
//!
//! At least once and in order per tenant: a tenant's next event is published only after
//! JetStream acknowledged the previous one (its PubAck, a reply on an inbox of the connection).
//! Tenants are published side by side, one message of each in flight. The last acknowledged
//! event of each tenant is stored (`stream_cursors`, per subject prefix) after every round, so
//! a restart of minutely, or a reconnection after NATS went away, resends from there; an event
//! resent after a lost acknowledgement carries the same `Nats-Msg-Id` and JetStream drops it.
//! Only an event acknowledged but not yet recorded when minutely stopped, and resent after the
//! duplicate window (two minutes by default) has passed, can reach the stream twice; the body's
//! `id` tells them apart. A tenant without a cursor starts from its first event.
//!
//! # The stream
//!
//! With `--events-stream NAME` (`MINUTELY_EVENTS` by default) minutely looks the stream up at
//! each connection and creates it when absent: subjects `<prefix>.>`, file storage, limits
//! retention, a two-minute duplicate window. A stream that exists is used as it is (the
//! operator's limits and replicas stay). With `--events-stream ''` minutely creates nothing
//! and expects the operator's stream to capture `<prefix>.>`. When no stream captures a
//! subject, the publish is answered "no responders": nothing is lost (the cursor does not
//! move), the error is logged at each retry with what to do, and
//! `minutely_stream_failures_total{reason="no_stream"}` counts it.
//!
//! # Metrics
//!
//! `minutely_stream_published_total{duplicate}` (acknowledged; `duplicate="true"` when
//! JetStream had it already), `minutely_stream_failures_total{reason}` (`connect`,
//! `connection`, `timeout`, `no_stream`, `rejected`, `cursor`, `stream`),
//! `minutely_stream_lag_events` (events stored and not yet acknowledged, every tenant) and
//! `minutely_stream_connected` (1 while connected).
//!
//! # Failures
//!
//! A lost connection, an acknowledgement that does not come within `ack_timeout` or a refusal
//! ends the round; the publisher reconnects (or retries) after a pause that doubles from
//! `first_backoff` up to `max_backoff`, and resends from the cursors.

pub mod client;
pub mod proto;

pub use client::ServerAddr;

use crate::app::AppState;
use client::{Connection, NatsError, Reply, Request};
use minutely_store::{Store, StoredEvent};
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// Events read from a tenant's outbox at once.
const EVENTS_PER_READ: usize = 64;
/// Tenants whose events are held in memory at once (one message of each in flight).
const MAX_TENANTS: usize = 256;
/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The outbox is looked at least this often when idle.
const IDLE: Duration = Duration::from_secs(1);
/// The duplicate window of a stream minutely creates, in nanoseconds (two minutes).
const DUPLICATE_WINDOW_NS: u64 = 120_000_000_000;

/// Where and how events are published.
#[derive(Debug, Clone)]
pub struct StreamConfig {
    pub server: ServerAddr,
    /// The first tokens of every subject.
    pub prefix: String,
    /// The stream created when absent; `None`: the operator provides one.
    pub create: Option<String>,
    /// How long a PubAck may take.
    pub ack_timeout: Duration,
    /// The pause after the first failure; it doubles after each further one.
    pub first_backoff: Duration,
    /// The longest pause.
    pub max_backoff: Duration,
}

impl StreamConfig {
    pub fn new(server: ServerAddr, prefix: String) -> StreamConfig {
        StreamConfig {
            server,
            prefix,
            create: Some("MINUTELY_EVENTS".into()),
            ack_timeout: Duration::from_secs(5),
            first_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(10),
        }
    }
}

/// A subject prefix: tokens of letters, digits, `_` and `-` separated by `.`.
pub fn check_prefix(prefix: &str) -> Result<(), String> {
    let ok = !prefix.is_empty()
        && prefix.len() <= 128
        && prefix.split('.').all(|t| {
            !t.is_empty()
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        });
    ok.then_some(()).ok_or_else(|| {
        format!("{prefix:?} is not a subject prefix: tokens of letters, digits, '_' or '-' separated by '.'")
    })
}

/// A stream name: 1 to 64 letters, digits, `_` or `-`.
pub fn check_stream_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    ok.then_some(()).ok_or_else(|| {
        format!("{name:?} is not a stream name: 1 to 64 letters, digits, '_' or '-'")
    })
}

/// The subject of a tenant's event: `<prefix>.<tenant, '.' as '~'>.<type>`.
pub fn subject(prefix: &str, tenant: &str, kind: &str) -> String {
    format!("{prefix}.{}.{kind}", tenant.replace('.', "~"))
}

/// The pause after failure number `n` (from 1).
fn backoff(config: &StreamConfig, n: u32) -> Duration {
    crate::webhooks::backoff(config.first_backoff, n).min(config.max_backoff)
}

fn failure(reason: &'static str) {
    metrics::counter!("minutely_stream_failures_total", "reason" => reason).increment(1);
}

/// What JetStream answered to one publish.
#[derive(Debug, PartialEq, Eq)]
enum Ack {
    Stored { duplicate: bool },
    NoStream,
    Rejected(String),
    Missing,
}

fn classify(reply: Option<&Reply>) -> Ack {
    let Some(reply) = reply else {
        return Ack::Missing;
    };
    if reply.status() == Some(503) {
        return Ack::NoStream;
    }
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(&reply.payload) else {
        return Ack::Rejected("an acknowledgement that is not JSON".into());
    };
    if let Some(error) = body.get("error") {
        let text = error["description"].as_str().unwrap_or("unknown error");
        return Ack::Rejected(text.chars().take(200).collect());
    }
    if body["stream"].is_string() && body["seq"].is_u64() {
        return Ack::Stored {
            duplicate: body["duplicate"] == true,
        };
    }
    Ack::Rejected("an acknowledgement without stream and sequence".into())
}

/// Looks the stream up and creates it when absent. Only a lost connection is an error: a
/// stream that cannot be created is logged, and publishing then says whether any captures
/// the subjects.
async fn ensure_stream(
    conn: &mut Connection,
    name: &str,
    config: &StreamConfig,
) -> Result<(), NatsError> {
    let info = conn
        .request(
            &format!("$JS.API.STREAM.INFO.{name}"),
            b"",
            config.ack_timeout,
        )
        .await?;
    if info.status() == Some(503) {
        failure("stream");
        tracing::error!(
            "NATS answered without JetStream: start nats-server with JetStream (-js); events wait"
        );
        return Ok(());
    }
    let body: serde_json::Value = serde_json::from_slice(&info.payload).unwrap_or_default();
    if body.get("error").is_none() {
        tracing::info!(stream = name, "JetStream stream found");
        return Ok(());
    }
    if body["error"]["code"] != 404 {
        failure("stream");
        tracing::error!(stream = name, error = %body["error"]["description"], "cannot look the JetStream stream up");
        return Ok(());
    }
    let wanted = serde_json::json!({
        "name": name, "subjects": [format!("{}.>", config.prefix)], "retention": "limits",
        "storage": "file", "discard": "old", "num_replicas": 1,
        "duplicate_window": DUPLICATE_WINDOW_NS,
    });
    let created = conn
        .request(
            &format!("$JS.API.STREAM.CREATE.{name}"),
            wanted.to_string().as_bytes(),
            config.ack_timeout,
        )
        .await?;
    let body: serde_json::Value = serde_json::from_slice(&created.payload).unwrap_or_default();
    if let Some(error) = body.get("error") {
        failure("stream");
        tracing::error!(stream = name, error = %error["description"], subjects = %wanted["subjects"], "cannot create the JetStream stream; events wait until a stream captures them");
    } else {
        tracing::info!(stream = name, subjects = %wanted["subjects"], "JetStream stream created");
    }
    Ok(())
}

/// The cursor writes, through a write connection of the publisher's own (opened on first use,
/// and again after a failure), never through the writer thread.
#[derive(Clone)]
struct Cursors {
    db: std::path::PathBuf,
    conn: Arc<Mutex<Option<Store>>>,
}

impl Cursors {
    async fn advance(
        &self,
        prefix: &str,
        through: Vec<(String, u64)>,
        at: jiff::Timestamp,
    ) -> Result<(), String> {
        let (db, conn, prefix) = (self.db.clone(), self.conn.clone(), prefix.to_string());
        tokio::task::spawn_blocking(move || {
            let mut slot = conn.lock().expect("the cursor lock is never poisoned");
            if slot.is_none() {
                let countries = minutely_formats::countries::shipped();
                *slot = Some(Store::open(&db, &countries).map_err(|e| e.to_string())?);
            }
            let store = slot.as_mut().expect("opened above");
            let result = store.advance_stream_cursors(&prefix, &through, at);
            if result.is_err() {
                *slot = None;
            }
            result.map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| e.to_string())?
    }
}

/// The events to publish next, per tenant, read from the store.
struct Pending {
    queues: BTreeMap<String, VecDeque<StoredEvent>>,
    /// Where the last read started, so that the next one starts after it (fairness when more
    /// than `MAX_TENANTS` tenants are behind).
    last_start: Option<String>,
}

impl Pending {
    /// Reads up to `EVENTS_PER_READ` events of up to `MAX_TENANTS` tenants behind their
    /// cursor; sets the lag gauge.
    async fn refill(&mut self, state: &AppState, prefix: &str) -> Result<(), String> {
        let (prefix, after) = (prefix.to_string(), self.last_start.clone());
        // On a node of several, only the tenants it holds are published from it.
        let cluster = state.cluster.clone();
        let (queues, lag) = state
            .read(move |store| {
                let mut behind: Vec<_> = store
                    .stream_positions(&prefix)?
                    .into_iter()
                    .filter(|(_, p)| p.last_event > p.published_through)
                    .filter(|(t, _)| cluster.as_ref().is_none_or(|c| c.holds(t)))
                    .collect();
                let lag: u64 = behind
                    .iter()
                    .map(|(_, p)| p.last_event - p.published_through)
                    .sum();
                let split =
                    after.map_or(0, |a| behind.iter().position(|(t, _)| *t > a).unwrap_or(0));
                behind.rotate_left(split);
                let mut queues = BTreeMap::new();
                for (tenant, p) in behind.into_iter().take(MAX_TENANTS) {
                    let events =
                        store.events_after(&tenant, p.published_through, EVENTS_PER_READ)?;
                    queues.insert(tenant, VecDeque::from(events));
                }
                Ok((queues, lag))
            })
            .await
            .map_err(|e| e.code.to_string())?;
        metrics::gauge!("minutely_stream_lag_events").set(lag as f64);
        self.last_start = queues.keys().next().cloned();
        self.queues = queues;
        self.queues.retain(|_, q| !q.is_empty());
        Ok(())
    }
}

/// How a session ended.
enum End {
    Stopped,
    Lost(NatsError),
}

/// Publishes one round: the first event of each tenant held. Returns how many failed (and the
/// worst reason), or the lost connection.
async fn round(
    conn: &mut Connection,
    config: &StreamConfig,
    pending: &mut Pending,
    cursors: &Cursors,
    state: &AppState,
) -> Result<Option<Ack>, NatsError> {
    let heads: Vec<(String, StoredEvent)> = pending
        .queues
        .iter()
        .filter_map(|(t, q)| q.front().map(|e| (t.clone(), e.clone())))
        .collect();
    let prepared: Vec<(String, String, Vec<u8>)> = heads
        .iter()
        .map(|(tenant, event)| {
            let id = crate::webhooks::event_id(tenant, event.seq);
            let body = crate::webhooks::body_of(tenant, &id, event);
            (subject(&config.prefix, tenant, &event.kind), id, body)
        })
        .collect();
    let headers: Vec<[(&str, &str); 1]> = prepared
        .iter()
        .map(|(_, id, _)| [("Nats-Msg-Id", id.as_str())])
        .collect();
    let requests: Vec<Request<'_>> = prepared
        .iter()
        .zip(&headers)
        .map(|((subject, _, body), headers)| Request {
            subject,
            headers,
            payload: body,
        })
        .collect();
    let replies = conn.requests(&requests, config.ack_timeout).await?;
    let mut acked = Vec::new();
    let mut worst = None;
    for ((tenant, event), reply) in heads.iter().zip(&replies) {
        match classify(reply.as_ref()) {
            Ack::Stored { duplicate } => {
                metrics::counter!("minutely_stream_published_total", "duplicate" => if duplicate { "true" } else { "false" }).increment(1);
                acked.push((tenant.clone(), event.seq));
            }
            other => {
                let reason = match &other {
                    Ack::NoStream => "no_stream",
                    Ack::Rejected(_) => "rejected",
                    _ => "timeout",
                };
                failure(reason);
                if worst.is_none() || other == Ack::NoStream {
                    worst = Some(other);
                }
            }
        }
    }
    if !acked.is_empty() {
        if let Err(error) = cursors
            .advance(&config.prefix, acked.clone(), state.now())
            .await
        {
            // Acknowledged but not recorded: read again from the store; the resend is dropped
            // by JetStream's duplicate detection.
            failure("cursor");
            tracing::error!(%error, "cannot record the event stream's cursors");
            pending.queues.clear();
            return Ok(Some(Ack::Rejected(error)));
        }
        for (tenant, _) in &acked {
            if let Some(q) = pending.queues.get_mut(tenant) {
                q.pop_front();
            }
        }
        pending.queues.retain(|_, q| !q.is_empty());
        metrics::gauge!("minutely_stream_lag_events").decrement(acked.len() as f64);
    }
    Ok(worst)
}

/// Logs what a failed round came to.
fn report(config: &StreamConfig, worst: &Ack) {
    match worst {
        Ack::NoStream => tracing::error!(
            subjects = %format!("{}.>", config.prefix),
            "no JetStream stream captures the events' subjects: create one (or let minutely create it with --events-stream NAME); events wait, nothing is lost"
        ),
        Ack::Rejected(error) => tracing::warn!(%error, "JetStream refused an event; retrying"),
        _ => tracing::warn!("JetStream did not acknowledge in time; reconnecting"),
    }
}

/// Returns after the next commit; never, once the writer is gone.
async fn next_commit(committed: &mut watch::Receiver<u64>) {
    if committed.changed().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Waits `pause`; true when a stop was asked meanwhile.
async fn pause(stopped: &mut watch::Receiver<bool>, pause: Duration) -> bool {
    tokio::select! {
        _ = stopped.wait_for(|s| *s) => true,
        _ = tokio::time::sleep(pause) => false,
    }
}

/// One connection's life: publish until a stop is asked or the connection is lost.
async fn session(
    state: &AppState,
    config: &StreamConfig,
    mut conn: Connection,
    cursors: &Cursors,
    stopped: &mut watch::Receiver<bool>,
) -> End {
    if let Some(name) = &config.create
        && let Err(error) = ensure_stream(&mut conn, name, config).await
    {
        return End::Lost(error);
    }
    let mut committed = state.committed.clone();
    let mut pending = Pending {
        queues: BTreeMap::new(),
        last_start: None,
    };
    let mut failures = 0u32;
    loop {
        if *stopped.borrow() {
            return End::Stopped;
        }
        if pending.queues.is_empty()
            && let Err(code) = pending.refill(state, &config.prefix).await
        {
            tracing::warn!(code, "cannot read the outbox for the event stream");
        }
        if pending.queues.is_empty() {
            tokio::select! {
                _ = stopped.wait_for(|s| *s) => return End::Stopped,
                _ = next_commit(&mut committed) => {}
                _ = tokio::time::sleep(IDLE) => {}
            }
            continue;
        }
        match round(&mut conn, config, &mut pending, cursors, state).await {
            Err(error) => return End::Lost(error),
            Ok(None) => failures = 0,
            Ok(Some(Ack::Missing)) => return End::Lost(NatsError::Timeout),
            Ok(Some(worst)) => {
                report(config, &worst);
                failures += 1;
                // Read again from the store after the pause: the cursors are the truth.
                pending.queues.clear();
                if pause(stopped, backoff(config, failures)).await {
                    return End::Stopped;
                }
            }
        }
    }
}

/// The publisher: runs until `stopped` changes; a round in flight finishes first (bounded by
/// the acknowledgement timeout).
pub async fn publish(state: AppState, config: StreamConfig, mut stopped: watch::Receiver<bool>) {
    let cursors = Cursors {
        db: state.config.db.clone(),
        conn: Arc::new(Mutex::new(None)),
    };
    let mut failures = 0u32;
    metrics::gauge!("minutely_stream_connected").set(0.0);
    loop {
        if *stopped.borrow() {
            return;
        }
        let connected = tokio::select! {
            _ = stopped.wait_for(|s| *s) => return,
            c = Connection::connect(&config.server, "minutely", CONNECT_TIMEOUT) => c,
        };
        match connected {
            Ok(conn) => {
                tracing::info!(server = ?config.server, prefix = config.prefix, "connected to NATS");
                metrics::gauge!("minutely_stream_connected").set(1.0);
                let end = session(&state, &config, conn, &cursors, &mut stopped).await;
                metrics::gauge!("minutely_stream_connected").set(0.0);
                match end {
                    End::Stopped => return,
                    End::Lost(error) => {
                        failure("connection");
                        tracing::warn!(server = ?config.server, %error, "NATS connection lost; resending from the last acknowledged event");
                        failures = 1;
                    }
                }
            }
            Err(error) => {
                failure("connect");
                failures = failures.saturating_add(1);
                tracing::warn!(server = ?config.server, %error, attempt = failures, "cannot connect to NATS; retrying");
            }
        }
        if pause(&mut stopped, backoff(&config, failures)).await {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: Option<u16>, payload: &str) -> Reply {
        Reply {
            headers: status.map(|s| proto::Headers {
                status: Some(s),
                ..Default::default()
            }),
            payload: payload.as_bytes().to_vec(),
        }
    }

    #[test]
    fn acknowledgements_are_told_apart() {
        let ok = reply(None, r#"{"stream":"S","seq":3}"#);
        assert_eq!(classify(Some(&ok)), Ack::Stored { duplicate: false });
        let dup = reply(None, r#"{"stream":"S","seq":3,"duplicate":true}"#);
        assert_eq!(classify(Some(&dup)), Ack::Stored { duplicate: true });
        assert_eq!(classify(Some(&reply(Some(503), ""))), Ack::NoStream);
        let refused = reply(
            None,
            r#"{"error":{"code":503,"description":"insufficient resources"}}"#,
        );
        assert_eq!(
            classify(Some(&refused)),
            Ack::Rejected("insufficient resources".into())
        );
        assert!(matches!(
            classify(Some(&reply(None, "nonsense"))),
            Ack::Rejected(_)
        ));
        assert_eq!(classify(None), Ack::Missing);
    }

    #[test]
    fn subjects_keep_the_tenant_one_token_and_names_are_checked() {
        assert_eq!(
            subject("m.ev", "acme", "wallet.low_balance"),
            "m.ev.acme.wallet.low_balance"
        );
        assert_eq!(
            subject("m", "acme.eu", "pool.threshold"),
            "m.acme~eu.pool.threshold"
        );
        assert!(proto::check_subject(&subject("m", "a-b_c.d", "call.last_window")).is_ok());
        assert!(check_prefix("minutely.events").is_ok());
        for bad in ["", "a..b", "a.>", "a b", "a.*", ".a"] {
            assert!(check_prefix(bad).is_err(), "{bad:?}");
        }
        assert!(check_stream_name("MINUTELY_EVENTS").is_ok());
        for bad in ["", "a.b", "a b", "a*", &"x".repeat(65)] {
            assert!(check_stream_name(bad).is_err(), "{bad:?}");
        }
    }
}
