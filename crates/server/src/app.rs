//! The HTTP server: shared state, the router, the layers every request goes through
//! (request id, limits, metrics, localized errors), start-up and graceful shutdown.

use crate::access::{self, Policy};
use crate::auth::{Access, Keys, Principal};
use crate::clock::Clock;
use crate::error::{ApiError, ApiResult, ErrorMark};
use crate::i18n::{self, Lang};
use crate::ratelimit::{Limiter, RateLimit};
use crate::writer::{self, Writer, WriterConfig};
use axum::Router;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use minutely_core::catalogue::CountryTable;
use minutely_store::Store;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
    /// Requests per API key (`None`: unlimited). Over it, a request is answered 429 with
    /// `Retry-After` before its body is read.
    pub rate_limit: Option<RateLimit>,
    pub clock: Clock,
}

impl Config {
    pub fn new(db: PathBuf, listen: SocketAddr) -> Config {
        Config {
            db,
            listen,
            writer: WriterConfig::default(),
            max_body: 4 << 20,
            max_batch_records: 10_000,
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
            rate_limit: Some(RateLimit::DEFAULT),
            clock: Clock::System,
        }
    }
}

/// Read-only connections to the store, for reports and listings (WAL lets them read while
/// the writer commits).
pub struct Readers {
    db: PathBuf,
    idle: Mutex<Vec<Store>>,
}

impl Readers {
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

/// Shared by every request.
#[derive(Clone)]
pub struct AppState {
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

/// The request's id (`x-request-id`, given or made by the edge), in the request's extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The authenticated caller of a request.
pub struct Caller(pub Principal);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Caller> {
        // The gate has already authenticated the request: its answer is reused.
        if let Some(principal) = parts.extensions.get::<Principal>() {
            return Ok(Caller(principal.clone()));
        }
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        state.keys.authenticate(header).map(Caller)
    }
}

pub use crate::body::{Json, JsonOrEmpty};

/// Query extractor with our errors.
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> ApiResult<Query<T>> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Query(q.0))
            .map_err(|r| ApiError::invalid(crate::body::without_types(&r.body_text())))
    }
}

/// Path extractor with our errors.
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> ApiResult<Path<T>> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Path(p.0))
            .map_err(|r| ApiError::invalid(crate::body::without_types(&r.body_text())))
    }
}

/// The error body every API error has.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable machine code: a reason code of the charging rules or an API code.
    pub code: String,
    /// Human message in the language negotiated from `Accept-Language`.
    pub message: String,
    /// The language of `message` (en, ja, zh-CN, fr, de).
    pub lang: String,
    /// What exactly was wrong, in English, naming the input.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The charging rule behind a reason code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    pub request_id: String,
}

static REQUEST_SEQ: AtomicU64 = AtomicU64::new(0);

/// A fresh request id: this process's random prefix and a sequence number.
pub(crate) fn new_request_id() -> String {
    format!(
        "{}-{:08x}",
        request_prefix(),
        REQUEST_SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

fn request_prefix() -> &'static str {
    static PREFIX: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PREFIX.get_or_init(|| hex::encode(crate::auth::random_bytes::<4>()))
}

/// Whether a client's `x-request-id` is used as the request's id. The id is logged, echoed and
/// recorded in the audit log, so one that may be an API key pasted into the wrong header
/// (anything containing `mk_`) is replaced by a fresh one rather than written down.
fn acceptable_request_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.is_ascii() && !id.contains("mk_")
}

/// Request id, metrics, structured log line and localized error bodies, for every request.
async fn edge(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable_request_id(v))
        .map(str::to_string)
        .unwrap_or_else(new_request_id);
    // Handlers read it to name the request in what they record (the audit log).
    let mut request = request;
    request
        .extensions_mut()
        .insert(RequestId(request_id.clone()));
    let lang = Lang::negotiate(
        request
            .headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    );
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let body_timer = request
        .extensions()
        .get::<crate::listener::BodyTimer>()
        .cloned();
    let mut response = next.run(request).await;
    if body_timer.is_some_and(|timer| timer.expired()) {
        // However the handler answered a body that stopped coming, the answer is 408.
        let error = ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            format!(
                "the request body did not arrive within {} s",
                state.config.body_timeout.as_secs_f64()
            ),
        );
        response = render_error(&error, lang, &request_id);
    } else if let Some(ErrorMark(error)) = response.extensions_mut().remove::<ErrorMark>() {
        let retry_after = response.headers().get(header::RETRY_AFTER).cloned();
        response = render_error(&error, lang, &request_id);
        if let Some(value) = retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
    } else if response.status() == StatusCode::NOT_FOUND
        && response.headers().get(header::CONTENT_TYPE).is_none()
    {
        response = render_error(&ApiError::not_found("no such route"), lang, &request_id);
    } else if response.status() == StatusCode::BAD_REQUEST && !has_json_body(&response) {
        // The framework's own path extraction (a segment that is not UTF-8) answers in plain
        // text: the answer gets the error body every other error has, with that text as detail.
        let detail = plain_text(response).await;
        response = render_error(&ApiError::invalid(detail), lang, &request_id);
    } else if response.status() == StatusCode::METHOD_NOT_ALLOWED {
        let error = ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request",
            "this method is not allowed on this route",
        );
        response = render_error(&error, lang, &request_id);
    } else if response.status() == StatusCode::PAYLOAD_TOO_LARGE {
        let error = ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the body exceeds {} bytes", state.config.max_body),
        );
        response = render_error(&error, lang, &request_id);
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", value);
    }
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    metrics::counter!("minutely_http_requests_total", "route" => route.clone(), "status" => status.to_string()).increment(1);
    metrics::histogram!("minutely_http_request_seconds", "route" => route.clone())
        .record(elapsed.as_secs_f64());
    tracing::info!(
        request_id = %request_id,
        method = %method,
        route = %route,
        status,
        micros = elapsed.as_micros() as u64,
        "request"
    );
    response
}

fn has_json_body(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// The text of a short plain-text answer (a framework rejection), bounded.
async fn plain_text(response: Response) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), 1024)
        .await
        .unwrap_or_default();
    String::from_utf8_lossy(&bytes).trim().to_string()
}

fn render_error(error: &ApiError, lang: Lang, request_id: &str) -> Response {
    let body = ErrorBody {
        error: ErrorDetail {
            code: error.code.to_string(),
            message: i18n::message(error.code, lang).to_string(),
            lang: lang.tag().to_string(),
            detail: (!error.detail.is_empty()).then(|| error.detail.clone()),
            rule: error.rule.map(str::to_string),
            request_id: request_id.to_string(),
        },
    };
    let mut response = (error.status, axum::Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(lang.tag()) {
        response
            .headers_mut()
            .insert(header::CONTENT_LANGUAGE, value);
    }
    response
}

/// Authentication, the per-key rate limit and the tenant boundary, before any handler reads a
/// body. The matched route's class comes from `crate::access`: a route with no entry is refused
/// to everyone. No key is 401, a key over its rate is 429, another tenant's id is 404, a bridge
/// key off the bridge's routes or a tenant key on an operator route is 403. Handlers check
/// again for finer rules.
async fn gate(
    State(state): State<AppState>,
    matched: axum::extract::MatchedPath,
    axum::extract::Path(params): axum::extract::Path<std::collections::HashMap<String, String>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(policy) = access::policy(request.method(), matched.as_str()) else {
        if access::is_known_route(matched.as_str()) {
            return ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "invalid_request",
                "this method is not allowed on this route",
            )
            .into_response();
        }
        tracing::error!(
            method = %request.method(),
            route = matched.as_str(),
            "a route without an access policy was refused"
        );
        return ApiError::forbidden("this route has no access policy").into_response();
    };
    if policy == Policy::Public {
        return next.run(request).await;
    }
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let principal = match state.keys.authenticate(header) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    if let Some(refusal) = over_rate_limit(&state, &principal) {
        return refusal;
    }
    if let Err(e) = check_path_identifiers(&params) {
        return e.into_response();
    }
    if has_body(request.headers()) && !crate::api::takes_body(request.method(), matched.as_str()) {
        return ApiError::invalid("this operation takes no request body; send none")
            .into_response();
    }
    match admit(&principal, policy, params.get("tenant").map(String::as_str)) {
        Ok(()) => {
            let mut request = request;
            request.extensions_mut().insert(principal);
            next.run(request).await
        }
        Err(e) => e.into_response(),
    }
}

/// Whether a request carries a body: a non-zero Content-Length, or a chunked one.
fn has_body(headers: &axum::http::HeaderMap) -> bool {
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() != b"0")
}

/// The identifiers of a route's path follow their grammars (`minutely_core::ident`), so that
/// no handler sees `..`, a control character or a formula sign in an id.
fn check_path_identifiers(params: &std::collections::HashMap<String, String>) -> ApiResult<()> {
    use minutely_core::ident;
    for (name, value) in params {
        let checked = match name.as_str() {
            "tenant" => ident::tenant_id("tenant", value).map(drop),
            "call_id" => ident::call_id("call_id", value).map(drop),
            "upn" => ident::upn("upn", value).map(drop),
            _ => Ok(()),
        };
        checked.map_err(|e| ApiError::invalid(e.to_string()))?;
    }
    Ok(())
}

/// Whether `principal` may call a route of class `policy` (inside `tenant` for tenant routes).
fn admit(principal: &Principal, policy: Policy, tenant: Option<&str>) -> ApiResult<()> {
    let tenant_of_route = || {
        // A tenant class on a route without `{tenant}` is a mistake in the table: refused.
        tenant.ok_or_else(|| ApiError::forbidden("this route has no access policy"))
    };
    match policy {
        Policy::Public | Policy::SharedRead => Ok(()),
        Policy::Operator => principal.operator(),
        Policy::TenantAdmin => principal.check(tenant_of_route()?, Access::Admin),
        Policy::Bridge => principal.check(tenant_of_route()?, Access::Bridge),
        Policy::TenantOperator => {
            // Another tenant's key gets 404 before the tenant's own admin gets 403.
            principal.check(tenant_of_route()?, Access::Operator)?;
            principal.operator()
        }
    }
}

/// Takes a token from the caller's bucket. An empty bucket gives the answer to send instead:
/// 429 with `Retry-After`.
fn over_rate_limit(state: &AppState, principal: &Principal) -> Option<Response> {
    let limiter = state.limiter.as_ref()?;
    let retry_after_s = limiter.take(principal.key_id()).err()?;
    metrics::counter!("minutely_rate_limited_total", "key" => principal.key_id().to_string())
        .increment(1);
    let mut response = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_requests",
        format!("this API key is over its rate limit; retry after {retry_after_s} s"),
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_s));
    Some(response)
}

/// The whole router with its layers.
pub fn router(state: AppState) -> Router {
    let api = crate::api::routes()
        .merge(crate::console::routes())
        .route_layer(middleware::from_fn_with_state(state.clone(), gate));
    api.layer(middleware::from_fn_with_state(state.clone(), edge))
        .layer(axum::extract::DefaultBodyLimit::max(state.config.max_body))
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
            state.config.max_in_flight,
        ))
        .with_state(state)
}

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
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
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

impl Server {
    /// Opens the store, loads every tenant (checking C24), starts the writer, the webhook
    /// deliverer and the listener. Returns once the server accepts connections.
    pub async fn start(config: Config) -> anyhow::Result<Server> {
        let countries: CountryTable = minutely_formats::countries::shipped();
        let db = config.db.clone();
        let (lock, state_loaded, secret, keys) = tokio::task::spawn_blocking(move || {
            // This process's memory becomes the tenants' state: no other may change them now.
            let lock = minutely_store::claim(&db)?;
            // Refused when committed transactions are missing or a page is damaged.
            let mut store = Store::open_checked(&db, &countries)?;
            let secret = store.key_secret()?;
            let keys = store.keys()?;
            let loaded = writer::State::load(store)?;
            anyhow::Ok((lock, loaded, secret, keys))
        })
        .await??;
        let tenants = state_loaded.books.len();
        let (committed_tx, committed_rx) = tokio::sync::watch::channel(0u64);
        let (writer, writer_thread) = writer::start(
            state_loaded,
            config.writer,
            config.clock.clone(),
            Some(committed_tx),
        );
        let (listener, addr, limits) = listen(&config).await?;
        let limiter = config
            .rate_limit
            .map(|limit| Arc::new(Limiter::new(limit, config.clock.clone())));
        let state = AppState {
            writer,
            keys: Keys::new(secret, keys),
            readers: Arc::new(Readers {
                db: config.db.clone(),
                idle: Mutex::new(Vec::new()),
            }),
            config: Arc::new(config),
            ready: Arc::new(AtomicBool::new(true)),
            metrics: metrics_handle(),
            committed: committed_rx,
            limiter,
        };
        tracing::info!(%addr, tenants, "serving");
        let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
        let background = crate::background::start(state.clone());
        let app = router(state.clone());
        let ready = state.ready.clone();
        let writer_handle = state.writer.clone();
        let drain_timeout = state.config.drain_timeout;
        let task = tokio::spawn(async move {
            let (draining_tx, draining_rx) = tokio::sync::oneshot::channel::<()>();
            // On the signal the listening socket closes, each connection finishes the request
            // it is answering and closes; `serve` returns once every connection is closed.
            let serve = crate::listener::serve(listener, app, limits, async move {
                let _ = shutdown_rx.await;
                ready.store(false, Ordering::SeqCst);
                let _ = draining_tx.send(());
            });
            // A client that stalls half-way through a request must not hold the shutdown
            // forever: after the drain deadline the remaining connections are left behind.
            // Nothing is lost: a request is acknowledged only after its commit, and one that
            // reaches the writer after it stopped is answered `unavailable`.
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
            writer_handle.stop().await;
            tokio::task::spawn_blocking(move || writer_thread.join())
                .await?
                .map_err(|_| anyhow::anyhow!("the writer thread panicked"))?;
            drop(lock);
            tracing::info!("stopped: everything acknowledged is committed");
            anyhow::Ok(())
        });
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

/// How long the reservation sweeper waits between sweeps.
pub const SWEEP_EVERY: Duration = Duration::from_secs(1);
