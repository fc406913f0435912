//! Webhook delivery (C15): every enabled endpoint receives its tenant's events from the outbox
//! (the store's `events` table, written in the same transaction as their cause), in order, at
//! least once.
//!
//! # What a receiver gets
//!
//! One `POST` per event, with a JSON body:
//!
//! ```json
//! {"id": "evt_3f0c…", "type": "wallet.low_balance", "tenant": "acme", "sequence": 7,
//!  "occurred_at": "2026-03-02T09:00:00Z", "data": {"threshold": "90", "balance": "89.00"}}
//! ```
//!
//! `id` is the same for every attempt to deliver the event (derived from the tenant and the
//! sequence), so a receiver drops duplicates by it; `sequence` grows by one per event of the
//! tenant. `data` values are strings (amounts are exact decimals, instants RFC 3339). The types
//! are the wallet's (`wallet.*`), the pool's (`pool.threshold`), call control's
//! `call.last_window` (data `call_id`, `max_duration_s`, `remaining_s`, `ends_at`) and the
//! toll-fraud guard's (C46): `fraud.alert` (`reason`, `enforced`, `organizer`, `country`,
//! `hour_exposure`, `day_exposure`), `fraud.new_country` (`country`, `organizer`),
//! `fraud.suspended` (`scope` organizer or tenant, `organizer`, `reason`) and `fraud.lifted`
//! (`scope`, `organizer`, `by`). Headers:
//!
//! - `content-type: application/json`
//! - `minutely-event-id: <id>` (the body's `id`)
//! - `minutely-timestamp: <unix seconds>` (when this attempt was signed, by the server's clock)
//! - `minutely-signature: v1=<hex>`: the lower-case hex HMAC-SHA256 of
//!   `"<minutely-timestamp>.<body>"` (the timestamp as sent, a full stop, then the raw body
//!   bytes), keyed with the endpoint's secret as the ASCII bytes of the text shown once when the
//!   endpoint was created.
//!
//! To verify: recompute the HMAC over the raw body before parsing it, compare in constant time,
//! and refuse a timestamp too far from your clock (five minutes, say) to stop replays.
//!
//! # Retries
//!
//! A 2xx answer delivers the event. Anything else (another status, a redirect, a network error,
//! no answer within 10 s) is a failed attempt, retried after a pause that doubles each time:
//! `Config::webhook_first_backoff` (1 s by default) after the first failure, then twice that,
//! and so on, capped at one hour; with the default of 12 attempts an event is tried for about an
//! hour and eight minutes. After `Config::webhook_attempts` attempts
//! the event is given up and the endpoint moves on to the next one. Every attempt is logged
//! (`GET /v1/tenants/{tenant}/webhooks/{id}/deliveries`): `delivered`, `failed` (to be retried)
//! or `gave_up` (the last attempt failed).
//!
//! # Where webhooks go
//!
//! Only to public addresses (see `egress`): a URL whose host is, or resolves at delivery time
//! to, a loopback, private, shared (100.64.0.0/10), link-local, unique-local, multicast,
//! unspecified, broadcast, documentation or reserved address (or an IPv4-mapped, NAT64 or 6to4
//! form of one) is refused when registered (an IP literal, or a `localhost` name) and, at each
//! delivery, before any connection: the attempt fails with the error `refused address` and
//! nothing more about the network. Names are resolved at each delivery by a resolver that keeps
//! only reachable addresses, so the connection goes to an address checked then. Redirects are
//! not followed and no proxy is used. The operator may allow networks and host names
//! (`Config::webhook_allow`, `minutely serve --webhook-allow`).
//!
//! # How it runs
//!
//! One task per enabled endpoint, so one endpoint's failures never hold back another's. A
//! supervisor looks for new or disabled endpoints after each commit and every second. An
//! endpoint's task sends one event at a time (order), records the attempt, and advances the
//! endpoint's `delivered_through` in the same transaction as the final attempt, so a restart
//! resumes after the last event done (and repeats at most the event in flight: at least once).
//! Attempts are logged through a write connection of the deliverer's own (WAL: it waits on the
//! busy timeout while the writer commits), never through the writer thread. On shutdown a POST
//! in flight finishes and is logged; no new one starts.

pub mod egress;

pub use egress::{AllowRule, WebhookAllow};

use crate::app::AppState;
use hmac::{Hmac, Mac};
use minutely_store::{Delivery, Store, StoredEvent, WebhookEndpoint};
use serde::Serialize;
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How long one POST may take, connection included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The pause after the first failed attempt; each later pause doubles.
#[cfg(test)]
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
/// The longest pause between two attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(3600);
/// Endpoints and the outbox are looked at least this often, even without a commit.
const IDLE: Duration = Duration::from_secs(1);
/// At most one look per this interval, however often commits happen.
const POLL_FLOOR: Duration = Duration::from_millis(50);
/// Events read from the outbox at once for one endpoint.
const EVENTS_PER_READ: usize = 100;
/// The longest error text kept in the delivery log.
const MAX_ERROR_BYTES: usize = 500;

/// The id of a tenant's event, the same on every attempt and every server: `evt_` and 32 hex
/// digits of the digest of (tenant, sequence).
pub fn event_id(tenant: &str, seq: u64) -> String {
    let mut d = minutely_core::digest::Digest::default();
    d.field(tenant.as_bytes());
    d.field(seq.to_string().as_bytes());
    format!("evt_{:032x}", d.finish())
}

/// The `minutely-signature` header value for a body sent at `timestamp` (unix seconds).
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// The pause after failed attempt number `attempt` (from 1): `first` doubling, capped at 1 h.
pub fn backoff(first: Duration, attempt: u32) -> Duration {
    let doublings = attempt.saturating_sub(1).min(30);
    first.saturating_mul(1u32 << doublings).min(MAX_BACKOFF)
}

/// The body of one event.
#[derive(Serialize)]
struct Payload<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    tenant: &'a str,
    sequence: u64,
    occurred_at: String,
    data: serde_json::Map<String, serde_json::Value>,
}

/// The JSON body of one event (also the payload of its NATS message, `crate::stream`).
pub(crate) fn body_of(tenant: &str, id: &str, event: &StoredEvent) -> Vec<u8> {
    let data = event
        .fields
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    let payload = Payload {
        id,
        kind: &event.kind,
        tenant,
        sequence: event.seq,
        occurred_at: minutely_formats::instant::format(event.at),
        data,
    };
    serde_json::to_vec(&payload).expect("a payload of strings and integers serializes")
}

/// Returns once a stop is asked for (or the one asking is gone).
async fn stop_signal(stopped: &mut watch::Receiver<bool>) {
    loop {
        if *stopped.borrow_and_update() {
            return;
        }
        if stopped.changed().await.is_err() {
            return;
        }
    }
}

/// Returns after the next commit; never, once the writer is gone.
async fn next_commit(committed: &mut watch::Receiver<u64>) {
    if committed.changed().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Waits for a commit (but no less than `POLL_FLOOR`) or `IDLE`; true when a stop was asked.
async fn idle(stopped: &mut watch::Receiver<bool>, committed: &mut watch::Receiver<u64>) -> bool {
    let floor = tokio::time::sleep(POLL_FLOOR);
    tokio::select! {
        _ = stop_signal(stopped) => true,
        _ = async { next_commit(committed).await; floor.await } => false,
        _ = tokio::time::sleep(IDLE) => false,
    }
}

/// What delivering one event came to.
enum Step {
    /// Delivered or given up: on to the next event.
    Done,
    /// A stop was asked for, or the endpoint was disabled.
    Quit,
    /// The attempt could not be logged: read the endpoint's state again after a pause.
    Again,
}

/// The events an endpoint has to receive next.
struct Batch {
    endpoint: WebhookEndpoint,
    events: Vec<StoredEvent>,
    /// Attempts already logged for the first event (by a server that stopped half-way).
    prior_attempts: u32,
}

/// What the endpoint tasks share.
struct Deliverer {
    state: AppState,
    /// One client for every endpoint (its connection pool is shared).
    client: reqwest::Client,
    /// The write connection for the delivery log, opened on first use (and again after a
    /// failure).
    log: Arc<Mutex<Option<Store>>>,
}

impl Deliverer {
    /// The endpoint as stored now; `None` once it is disabled or gone.
    async fn current(&self, endpoint: &WebhookEndpoint) -> Result<Option<WebhookEndpoint>, String> {
        let (id, tenant) = (endpoint.id.clone(), endpoint.tenant.clone());
        self.state
            .read(move |store| {
                Ok(store
                    .endpoints(Some(&tenant))?
                    .into_iter()
                    .find(|e| e.id == id && e.disabled_at.is_none()))
            })
            .await
            .map_err(|e| e.code.to_string())
    }

    /// The endpoint's next events and how many attempts the first one already had.
    async fn next_batch(&self, id: &str, tenant: &str) -> Result<Option<Batch>, String> {
        let (id, tenant) = (id.to_string(), tenant.to_string());
        // Enough of the log to see every attempt of the event in flight.
        let log_rows = usize::try_from(self.state.config.webhook_attempts)
            .unwrap_or(usize::MAX)
            .saturating_mul(2)
            .saturating_add(16);
        self.state
            .read(move |store| {
                let Some(endpoint) = store
                    .endpoints(Some(&tenant))?
                    .into_iter()
                    .find(|e| e.id == id && e.disabled_at.is_none())
                else {
                    return Ok(None);
                };
                let events =
                    store.events_after(&tenant, endpoint.delivered_through, EVENTS_PER_READ)?;
                let prior_attempts = match events.first() {
                    None => 0,
                    Some(first) => store
                        .deliveries(&id, log_rows)?
                        .iter()
                        .filter(|d| d.event_seq == first.seq)
                        .map(|d| d.attempt)
                        .max()
                        .unwrap_or(0),
                };
                Ok(Some(Batch {
                    endpoint,
                    events,
                    prior_attempts,
                }))
            })
            .await
            .map_err(|e| e.code.to_string())
    }

    /// Logs an attempt; with `done_through`, the endpoint is done with that event.
    async fn record(&self, delivery: Delivery, done_through: Option<u64>) -> Result<(), String> {
        let log = self.log.clone();
        let db = self.state.config.db.clone();
        tokio::task::spawn_blocking(move || {
            let mut slot = log.lock().expect("the delivery log lock is never poisoned");
            if slot.is_none() {
                let countries = minutely_formats::countries::shipped();
                *slot = Some(Store::open(&db, &countries).map_err(|e| e.to_string())?);
            }
            let store = slot.as_mut().expect("opened above");
            let result = store.record_delivery(&delivery, done_through);
            if result.is_err() {
                // A fresh connection next time, in case this one is the problem.
                *slot = None;
            }
            result.map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| e.to_string())?
    }

    /// One POST: the status the endpoint answered, or what went wrong.
    async fn post(&self, endpoint: &WebhookEndpoint, id: &str, body: &[u8]) -> Result<u16, String> {
        let url = reqwest::Url::parse(&endpoint.url).map_err(|_| "the URL does not parse")?;
        // An IP-literal host is never resolved, so the resolver cannot check it: check it here,
        // before any connection. A name is checked by the client's resolver.
        if let Some((_, what)) = egress::check_literal(&url, &self.state.config.webhook_allow) {
            tracing::warn!(endpoint = %endpoint.id, refused = what, "webhook address refused");
            return Err(egress::REFUSED_TEXT.to_string());
        }
        let timestamp = self.state.now().as_second();
        let response = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("minutely-event-id", id)
            .header("minutely-timestamp", timestamp.to_string())
            .header(
                "minutely-signature",
                signature(&endpoint.secret, timestamp, body),
            )
            .body(body.to_vec())
            .send()
            .await
            .map_err(describe)?;
        Ok(response.status().as_u16())
    }

    /// Delivers one event, retrying with backoff, logging every attempt.
    async fn deliver_event(
        &self,
        endpoint: &WebhookEndpoint,
        event: &StoredEvent,
        prior_attempts: u32,
        stopped: &mut watch::Receiver<bool>,
    ) -> Step {
        let max_attempts = self.state.config.webhook_attempts.max(1);
        let id = event_id(&endpoint.tenant, event.seq);
        let body = body_of(&endpoint.tenant, &id, event);
        let mut attempt = prior_attempts;
        loop {
            attempt += 1;
            let result = self.post(endpoint, &id, &body).await;
            // A server restarted with fewer attempts still makes this one.
            let last = attempt >= max_attempts;
            let (outcome, http_status, error) = match result {
                Ok(status) if (200..300).contains(&status) => ("delivered", Some(status), None),
                Ok(status) => (
                    if last { "gave_up" } else { "failed" },
                    Some(status),
                    Some(format!("the endpoint answered HTTP {status}")),
                ),
                Err(error) => (if last { "gave_up" } else { "failed" }, None, Some(error)),
            };
            let done = outcome != "failed";
            tracing::info!(
                endpoint = %endpoint.id,
                tenant = %endpoint.tenant,
                event = %id,
                seq = event.seq,
                attempt,
                outcome,
                http_status,
                error = error.as_deref().unwrap_or(""),
                "webhook attempt"
            );
            metrics::counter!("minutely_webhook_attempts_total", "outcome" => outcome).increment(1);
            let delivery = Delivery {
                endpoint: endpoint.id.clone(),
                event_seq: event.seq,
                attempt,
                at: self.state.now(),
                outcome: outcome.to_string(),
                http_status,
                error,
            };
            if let Err(error) = self.record(delivery, done.then_some(event.seq)).await {
                tracing::error!(endpoint = %endpoint.id, %error, "cannot log a webhook attempt");
                return Step::Again;
            }
            if done {
                return Step::Done;
            }
            tokio::select! {
                _ = stop_signal(stopped) => return Step::Quit,
                _ = tokio::time::sleep(backoff(self.state.config.webhook_first_backoff, attempt)) => {}
            }
            // An endpoint disabled while waiting gets no more attempts.
            if let Ok(None) = self.current(endpoint).await {
                return Step::Quit;
            }
        }
    }

    /// One endpoint's task: its events in order until it is disabled or a stop is asked.
    async fn serve_endpoint(
        self: Arc<Self>,
        id: String,
        tenant: String,
        mut stopped: watch::Receiver<bool>,
    ) {
        let mut committed = self.state.committed.clone();
        loop {
            if *stopped.borrow() {
                return;
            }
            // On a node of several, a tenant's events are delivered by the node that holds it
            // (from the delivery cursor in the store, wherever the last owner left it).
            if let Some(cluster) = &self.state.cluster
                && !cluster.holds(&tenant)
            {
                if idle(&mut stopped, &mut committed).await {
                    return;
                }
                continue;
            }
            let batch = match self.next_batch(&id, &tenant).await {
                Ok(Some(batch)) => batch,
                Ok(None) => return,
                Err(code) => {
                    tracing::warn!(endpoint = %id, code, "cannot read the outbox");
                    if idle(&mut stopped, &mut committed).await {
                        return;
                    }
                    continue;
                }
            };
            if batch.events.is_empty() {
                if idle(&mut stopped, &mut committed).await {
                    return;
                }
                continue;
            }
            let mut prior = batch.prior_attempts;
            for event in &batch.events {
                match self
                    .deliver_event(&batch.endpoint, event, prior, &mut stopped)
                    .await
                {
                    Step::Done => prior = 0,
                    Step::Quit => return,
                    Step::Again => {
                        tokio::select! {
                            _ = stop_signal(&mut stopped) => return,
                            _ = tokio::time::sleep(IDLE) => {}
                        }
                        break;
                    }
                }
            }
        }
    }
}

/// A network error in a few words, without the chain of internals.
fn describe(error: reqwest::Error) -> String {
    // A refused address says only that: which address, and whether the name resolved to
    // others, stays out of the log.
    let mut cause = std::error::Error::source(&error);
    while let Some(inner) = cause {
        if inner.is::<egress::RefusedAddress>() {
            return egress::REFUSED_TEXT.to_string();
        }
        cause = inner.source();
    }
    let kind = if error.is_timeout() {
        "no answer within the timeout"
    } else if error.is_connect() {
        "cannot connect"
    } else if error.is_redirect() {
        "redirect refused"
    } else {
        "request failed"
    };
    // The endpoint's URL stays out of the text: it is logged, and a URL may carry the
    // receiver's token in its query. The endpoint id logged beside it names the endpoint.
    let error = error.without_url();
    let mut text = format!("{kind}: {error}");
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    if text.len() > MAX_ERROR_BYTES {
        let mut end = MAX_ERROR_BYTES;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

fn client(allow: &WebhookAllow) -> reqwest::Result<reqwest::Client> {
    let resolver = egress::GuardedResolver {
        allow: Arc::new(allow.clone()),
    };
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(REQUEST_TIMEOUT)
        // A redirect is a failed attempt: the signed body goes only where the tenant said, and
        // never to an address the resolver did not check.
        .redirect(reqwest::redirect::Policy::none())
        // Every name goes through the guard; a proxy would connect on our behalf, unchecked.
        .dns_resolver(Arc::new(resolver))
        .no_proxy()
        .user_agent(concat!("minutely-webhooks/", env!("CARGO_PKG_VERSION")))
        .pool_max_idle_per_host(4)
        .build()
}

/// The deliverer: runs until `stopped` changes, then lets the POSTs in flight finish.
pub async fn deliver(state: AppState, mut stopped: watch::Receiver<bool>) {
    let client = match client(&state.config.webhook_allow) {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "no HTTP client: webhooks are not delivered");
            stop_signal(&mut stopped).await;
            return;
        }
    };
    let deliverer = Arc::new(Deliverer {
        state: state.clone(),
        client,
        log: Arc::new(Mutex::new(None)),
    });
    let mut committed = state.committed.clone();
    let mut workers: HashMap<String, JoinHandle<()>> = HashMap::new();
    loop {
        match state.read(|store| Ok(store.endpoints(None)?)).await {
            Ok(endpoints) => {
                workers.retain(|_, task| !task.is_finished());
                for e in endpoints.into_iter().filter(|e| e.disabled_at.is_none()) {
                    if workers.contains_key(&e.id) {
                        continue;
                    }
                    let task = tokio::spawn(deliverer.clone().serve_endpoint(
                        e.id.clone(),
                        e.tenant.clone(),
                        stopped.clone(),
                    ));
                    workers.insert(e.id, task);
                }
            }
            Err(error) => tracing::warn!(code = error.code, "cannot list webhook endpoints"),
        }
        if idle(&mut stopped, &mut committed).await {
            break;
        }
    }
    for (_, task) in workers {
        let _ = task.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_first_pause_and_stops_at_an_hour() {
        assert_eq!(backoff(FIRST_BACKOFF, 1), Duration::from_millis(200));
        assert_eq!(backoff(FIRST_BACKOFF, 2), Duration::from_millis(400));
        assert_eq!(backoff(FIRST_BACKOFF, 3), Duration::from_millis(800));
        assert_eq!(backoff(FIRST_BACKOFF, 15), Duration::from_millis(200 << 14));
        assert_eq!(backoff(FIRST_BACKOFF, 30), MAX_BACKOFF);
        assert_eq!(backoff(FIRST_BACKOFF, u32::MAX), MAX_BACKOFF);
    }

    #[test]
    fn event_ids_are_stable_and_distinct() {
        assert_eq!(event_id("acme", 1), event_id("acme", 1));
        assert_ne!(event_id("acme", 1), event_id("acme", 2));
        assert_ne!(event_id("acme", 11), event_id("acme1", 1));
        assert!(event_id("acme", 1).starts_with("evt_"));
        assert_eq!(event_id("acme", 1).len(), 4 + 32);
    }
}
