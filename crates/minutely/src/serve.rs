//! `minutely serve`: the HTTP API on the embedded store. With `--demo` it also loads a sample
//! rate card and the example tenant, prints a tenant-admin key, and drives simulated conference
//! traffic through the real call-control API so that balances, the pool and the reports move.

use anyhow::{Context, Result};
use clap::Args;
use minutely_cli::generate::{CallSpec, generate_calls, sample_rates};
use minutely_cli::output::open_store_to_change;
use minutely_cli::tenants::{apply_text, report_changes};
use minutely_core::directory::Sku;
use minutely_core::rating::{CallRecord, Direction};
use minutely_formats::calls::CallFile;
use minutely_formats::tenant_file::EXAMPLE;
use minutely_formats::{instant, ratecard};
use minutely_server::auth::{self, KeyKind};
use minutely_server::cluster::NodeConfig;
use minutely_server::ratelimit::RateLimit;
use minutely_server::stream::{ServerAddr, StreamConfig};
use minutely_server::webhooks::{AllowRule, WebhookAllow};
use minutely_server::{Config, Server};
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "MINUTELY_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Load a sample rate card and a demo tenant, and drive simulated traffic.
    #[arg(long)]
    demo: bool,
    /// Demo traffic: calls started per second.
    #[arg(long, default_value_t = 4.0)]
    demo_rate: f64,
    /// Demo traffic: longest simulated call, in seconds of real time.
    #[arg(long, default_value_t = 40)]
    demo_max_call_s: u64,
    /// Seconds granted per authorization or extension.
    #[arg(long, default_value_t = 300)]
    window_s: u64,
    /// Seconds after a grant ends before an unextended reservation lapses.
    #[arg(long, default_value_t = 60)]
    grace_s: u64,
    /// Largest request body, in bytes.
    #[arg(long, default_value_t = 4 << 20)]
    max_body: usize,
    /// Largest number of call records in one ingestion request, and of commands in one
    /// call-control batch.
    #[arg(long, default_value_t = 10_000)]
    max_batch_records: usize,
    /// Requests handled at once.
    #[arg(long, default_value_t = 4096)]
    max_in_flight: usize,
    /// Connections held open at once.
    #[arg(long, default_value_t = 10_000)]
    max_connections: usize,
    /// Connections held open at once from one client IP address; more from that address are
    /// closed at once, without affecting other addresses.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..))]
    max_connections_per_address: u64,
    /// Seconds a client has to send a request's head (request line and headers), counted from
    /// the connection's opening or from its first byte after an idle keep-alive; the connection
    /// is closed after it (with a 408 answer when part of the head came).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    header_timeout_s: u64,
    /// Seconds a client has to send a request's body once the server waits for it; after it
    /// the answer is 408 and nothing is changed.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    body_timeout_s: u64,
    /// Seconds a keep-alive connection may stay without a request before it is closed.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    idle_timeout_s: u64,
    /// Commands committed together at most (group commit).
    #[arg(long, default_value_t = 2048)]
    max_batch: usize,
    /// Requests per second each API key may make on average; over it the answer is 429 with
    /// Retry-After. The default is twice what one bridge sends at 50,000 authorize + end pairs
    /// per second. 0 turns the limit off.
    #[arg(long, default_value_t = RateLimit::DEFAULT.per_s)]
    rate_limit_per_s: u32,
    /// Requests each API key may make at once after a quiet period (its bucket's size).
    #[arg(long, default_value_t = RateLimit::DEFAULT.burst, value_parser = clap::value_parser!(u32).range(1..))]
    rate_limit_burst: u32,
    /// Internal networks and host names webhooks may reach. By default a webhook goes only to
    /// public addresses: a URL whose host is or resolves to a loopback, private, shared
    /// (100.64/10), link-local, unique-local, multicast or reserved address is refused. Each
    /// entry is a network (10.0.0.0/8, fd00::/8), an address (127.0.0.1), a host name
    /// (receiver.internal, whatever it resolves to) or `*.` and a domain (every name under it).
    /// Repeat the flag or separate entries with commas, e.g.
    /// `--webhook-allow 127.0.0.1/32,receiver.internal`.
    #[arg(
        long,
        env = "MINUTELY_WEBHOOK_ALLOW",
        value_delimiter = ',',
        value_name = "NETWORK|HOST"
    )]
    webhook_allow: Vec<AllowRule>,
    /// Also publish every event to NATS JetStream at this server (`nats://host:port`, or
    /// `nats://user:password@host:port`, `nats://token@host:port`), beside the webhooks: subject
    /// `<--events-subject>.<tenant>.<event type>`, header `Nats-Msg-Id` the event's id, body the
    /// webhook's JSON. Without it nothing is published.
    #[arg(long, env = "MINUTELY_EVENTS_NATS", value_name = "URL")]
    events_nats: Option<ServerAddr>,
    /// The first tokens of the events' subjects.
    #[arg(
        long,
        env = "MINUTELY_EVENTS_SUBJECT",
        default_value = "minutely.events",
        value_name = "PREFIX"
    )]
    events_subject: String,
    /// The JetStream stream minutely creates at each connection when it is absent (subjects
    /// `<PREFIX>.>`, file storage, a two-minute duplicate window); an existing one is used as it
    /// is. An empty name creates nothing: the operator's stream must capture `<PREFIX>.>`.
    #[arg(
        long,
        env = "MINUTELY_EVENTS_STREAM",
        default_value = "MINUTELY_EVENTS",
        value_name = "NAME"
    )]
    events_stream: String,
    /// Run as one node of several on a PostgreSQL store (`--store postgres://...`), under this
    /// name: each tenant is served by the node that holds its lease, and a request for another
    /// node's tenant is forwarded there. Without it, the server is the only one of its store.
    #[arg(long, env = "MINUTELY_NODE", value_name = "NAME")]
    node: Option<String>,
    /// With --node: the address other nodes forward this node's tenants' requests to
    /// (`http://host:port`); by default `http://` and the address listened on.
    #[arg(
        long,
        env = "MINUTELY_ADVERTISE",
        value_name = "URL",
        requires = "node"
    )]
    advertise: Option<String>,
    /// With --node: how long a tenant's lease lasts after each renewal (renewed every fifth of
    /// it). A node stops granting a fifth of it before its lease can have expired; a dead
    /// node's tenants are taken over once it has.
    #[arg(long, default_value_t = 5_000, requires = "node",
          value_parser = clap::value_parser!(u64).range(500..=600_000))]
    lease_ms: u64,
}

/// The node of several the flags ask for, checked.
fn node_config(db: &Path, args: &ServeArgs) -> Result<Option<NodeConfig>> {
    let Some(name) = args.node.clone() else {
        return Ok(None);
    };
    if !minutely_store::is_postgres(db) {
        anyhow::bail!(
            "--node: several nodes share a PostgreSQL store; give --store postgres://..."
        );
    }
    minutely_core::ident::tenant_id("--node", &name).map_err(|e| anyhow::anyhow!("{e}"))?;
    let address = args.advertise.clone().unwrap_or_default();
    if !address.is_empty() && !address.starts_with("http://") {
        anyhow::bail!("--advertise: {address:?} is not an http:// address");
    }
    Ok(Some(NodeConfig {
        name,
        address: address.trim_end_matches('/').to_string(),
        lease: Duration::from_millis(args.lease_ms),
    }))
}

/// Logs go to stderr: JSON lines when it is not a terminal, readable text otherwise;
/// `RUST_LOG` filters (default `info`). Stdout carries only the banner. Lines are written in
/// runs (`logs.rs`); the sink returned is flushed when the server stops.
fn init_logs() -> crate::logs::LogSink {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let sink = crate::logs::LogSink::start();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(sink.clone());
    let _ = if std::io::stderr().is_terminal() {
        builder.try_init()
    } else {
        // The lines of `json().flatten_event(true)`, written by hand (`logs::JsonLines`).
        builder
            .fmt_fields(crate::logs::JsonLineFields::new())
            .event_format(crate::logs::JsonLines::new(
                tracing_subscriber::fmt::time::SystemTime,
            ))
            .try_init()
    };
    sink
}

pub fn run(db: &Path, args: ServeArgs) -> Result<()> {
    let logs = init_logs();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let served = runtime.block_on(serve(db.to_path_buf(), args));
    // What the runtime's threads log while it stops is written too.
    drop(runtime);
    logs.flush();
    served
}

/// A store whose data is damaged or does not add up is not served: the error says which file
/// and what to do (a `Damaged` error says so itself).
fn explain_refusal(error: anyhow::Error, db: &Path) -> anyhow::Error {
    match error.downcast_ref::<minutely_store::StoreError>() {
        Some(minutely_store::StoreError::Damaged { .. }) => error,
        Some(e) if e.is_damage() => error.context(format!(
            "the store {} is not served: its data is damaged or does not add up. Nothing was \
             changed. Restore the last good backup with `minutely restore --from <backup> --db {} \
             --force`",
            db.display(),
            db.display()
        )),
        _ => error,
    }
}

async fn serve(db: PathBuf, args: ServeArgs) -> Result<()> {
    let events = events_stream(&args)?;
    let demo = if args.demo {
        let db = db.clone();
        Some(tokio::task::spawn_blocking(move || prepare_demo(&db)).await??)
    } else {
        None
    };
    let mut config = Config::new(db.clone(), args.listen);
    config.node = node_config(&db, &args)?;
    config.writer.control.window_s = args.window_s;
    config.writer.control.grace_s = args.grace_s;
    config.writer.max_batch = args.max_batch.max(1);
    config.max_body = args.max_body;
    config.max_batch_records = args.max_batch_records;
    config.max_in_flight = args.max_in_flight.max(1);
    config.max_connections = args.max_connections.max(1);
    config.max_connections_per_address =
        usize::try_from(args.max_connections_per_address).unwrap_or(usize::MAX);
    config.header_timeout = Duration::from_secs(args.header_timeout_s);
    config.body_timeout = Duration::from_secs(args.body_timeout_s);
    config.idle_timeout = Duration::from_secs(args.idle_timeout_s);
    config.webhook_allow = WebhookAllow::new(args.webhook_allow)
        .map_err(|e| anyhow::anyhow!("--webhook-allow: {e}"))?;
    config.events_stream = events;
    config.rate_limit = (args.rate_limit_per_s > 0).then_some(RateLimit {
        per_s: args.rate_limit_per_s,
        burst: args.rate_limit_burst,
    });
    let server = Server::start(config)
        .await
        .map_err(|error| explain_refusal(error, &db))?;
    let url = server.url();
    println!("Minutely is serving {url} (API under /v1, OpenAPI at {url}/openapi.json)");
    println!("  web console: {url}/console/ (sign in with an API key)");
    let traffic = match demo {
        Some(demo) => {
            println!(
                "Demo tenant: {} (SAMPLE prices, not a real tariff)",
                demo.tenant
            );
            println!("  tenant-admin key (shown once): {}", demo.admin_key);
            println!(
                "  try: curl -H 'Authorization: Bearer {}' {url}/v1/tenants/{}/wallet",
                demo.admin_key, demo.tenant
            );
            println!(
                "  simulated traffic: {} calls/s through the call-control API",
                args.demo_rate
            );
            let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
            let driver = tokio::spawn(drive(
                url.clone(),
                demo,
                args.demo_rate,
                args.demo_max_call_s.max(1),
                stop_rx,
            ));
            Some((stop_tx, driver))
        }
        None => None,
    };
    let result = match traffic {
        Some((stop_tx, driver)) => {
            wait_for_signal().await;
            let _ = stop_tx.send(true);
            let _ = driver.await;
            server.shutdown().await
        }
        None => server.run_until_signal().await,
    };
    result?;
    println!("Minutely stopped: everything acknowledged is committed.");
    Ok(())
}

/// The event stream the flags ask for, checked.
fn events_stream(args: &ServeArgs) -> Result<Option<StreamConfig>> {
    let Some(server) = args.events_nats.clone() else {
        return Ok(None);
    };
    minutely_server::stream::check_prefix(&args.events_subject)
        .map_err(|e| anyhow::anyhow!("--events-subject: {e}"))?;
    let mut config = StreamConfig::new(server, args.events_subject.clone());
    config.create = if args.events_stream.is_empty() {
        None
    } else {
        minutely_server::stream::check_stream_name(&args.events_stream)
            .map_err(|e| anyhow::anyhow!("--events-stream: {e}"))?;
        Some(args.events_stream.clone())
    };
    Ok(Some(config))
}

async fn wait_for_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM can be handled");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

/// What the demo traffic needs.
struct Demo {
    tenant: String,
    admin_key: String,
    bridge_key: String,
    calls: Vec<CallRecord>,
}

/// Imports the sample rate card (once), applies the example tenant (a no-op when already
/// there), creates fresh demo keys, and generates call templates.
fn prepare_demo(db: &Path) -> Result<Demo> {
    let (_lock, mut store) = open_store_to_change(db)?;
    let countries = store.countries()?;
    let text = String::from(EXAMPLE);
    let (tenant, changes) = apply_text(&mut store, &text, "the demo tenant")?;
    report_changes(&tenant, &changes);
    let book = store
        .load_book(&tenant)?
        .context("the demo tenant was just applied")?;
    let currency = book.tenant.currency;
    if store.rate_card(currency)?.entries().next().is_none() {
        let card_text = sample_rates(
            &countries,
            currency,
            1,
            0,
            instant::parse("2025-01-01T00:00:00Z").map_err(anyhow::Error::msg)?,
        );
        let card = ratecard::parse(card_text.as_bytes(), currency)
            .map_err(|e| anyhow::anyhow!("the sample rate card: {e}"))?;
        store.import_rate_card(&card)?;
        println!(
            "Imported a SAMPLE {currency} rate card covering every country of the country table"
        );
    }
    if store.license_prices_of(currency)?.iter().next().is_none() {
        // SAMPLE monthly prices, so that the plan advisor has something to weigh.
        let mut prices = minutely_core::advisor::LicensePrices::new(currency);
        for (sku, price) in [
            (Sku::Subscription, "4.00"),
            (Sku::PayPerMinute, "0"),
            (Sku::Credits, "0"),
            (Sku::DialOutUs, "3.00"),
        ] {
            let price = price.parse().context("a sample price")?;
            prices.set(sku, price).map_err(anyhow::Error::msg)?;
        }
        store.set_license_prices(&prices)?;
        println!("Set SAMPLE {currency} monthly license prices for the plan advisor");
    }
    let now = jiff::Timestamp::now();
    demo_history(&mut store, &tenant, now)?;
    let secret = store.key_secret()?;
    let (admin, admin_key) = auth::new_key(
        &secret,
        KeyKind::TenantAdmin,
        Some(&tenant),
        "demo admin",
        now,
    );
    let (bridge, bridge_key) =
        auth::new_key(&secret, KeyKind::Bridge, Some(&tenant), "demo bridge", now);
    store.insert_key(&admin)?;
    store.insert_key(&bridge)?;
    let spec = CallSpec {
        count: 2000,
        seed: now.as_second() as u64,
        start: now,
        days: 1,
        population: 500,
    };
    let mut generated = Vec::new();
    generate_calls(EXAMPLE, &spec, &mut generated)?;
    let file = CallFile::read(&generated[..], |_| {}).map_err(|e| anyhow::anyhow!("{e}"))?;
    let calls = file.records(0..file.len())?;
    Ok(Demo {
        tenant,
        admin_key,
        bridge_key,
        calls,
    })
}

/// The first day of the demo tenant's history: just after the first funding of the example
/// tenant file (2026-01-02), so that its fundings, recharges and calls replay in time order.
const HISTORY_FROM: &str = "2026-01-05T00:00:00Z";

/// Calls a day in the demo tenant's history.
const HISTORY_PER_DAY: u64 = 30;

/// The longest history the demo writes, in days.
const HISTORY_MAX_DAYS: i64 = 400;

/// Gives the demo tenant a past: `HISTORY_PER_DAY` generated calls a day from `HISTORY_FROM`
/// to yesterday, rated and stored like `minutely ingest` would, so that its statements, usage
/// charts, reports and the plan advisor show months of real data at once. Each day's calls
/// come from their own seed (the date), so a later run over the same store replays the days
/// it already has (C23) and adds only the new ones.
fn demo_history(
    store: &mut minutely_store::Store,
    tenant: &str,
    now: jiff::Timestamp,
) -> Result<()> {
    let from = instant::parse(HISTORY_FROM).map_err(anyhow::Error::msg)?;
    let days = ((now.as_second() - from.as_second()) / 86_400).clamp(0, HISTORY_MAX_DAYS);
    if days == 0 {
        return Ok(());
    }
    let mut records = Vec::new();
    for day in 0..days {
        let start = from + jiff::SignedDuration::from_hours(24 * day);
        let date = start.to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
        let spec = CallSpec {
            count: HISTORY_PER_DAY,
            seed: (i64::from(date.year()) * 10_000
                + i64::from(date.month()) * 100
                + i64::from(date.day())) as u64,
            start,
            days: 1,
            population: 200,
        };
        let mut csv = Vec::new();
        generate_calls(EXAMPLE, &spec, &mut csv)?;
        let file = CallFile::read(&csv[..], |_| {}).map_err(|e| anyhow::anyhow!("{e}"))?;
        records.extend(file.records(0..file.len())?);
    }
    minutely_core::engine::canonical_order(&mut records);
    let mut book = store
        .load_book(tenant)?
        .context("the demo tenant was just applied")?;
    let countries = store.countries()?;
    let card = store.rate_card(book.tenant.currency)?;
    let summary = minutely_cli::ingest::rate_into_store(
        store,
        &mut book,
        (&countries, &card),
        (records.len(), |range| Ok(records[range].to_vec())),
        |_| {},
    )?;
    let new = summary.records - summary.duplicates;
    println!(
        "Demo history: {} calls from {} to yesterday ({new} new, {} charged)",
        summary.records,
        &HISTORY_FROM[..10],
        summary.charged
    );
    Ok(())
}

/// Starts `rate` calls per second, each authorized, held for a random real duration (extended
/// when it outlives its grant, cut when the credit runs out) and ended, all over HTTP.
async fn drive(
    url: String,
    demo: Demo,
    rate: f64,
    max_call_s: u64,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let client = reqwest::Client::new();
    let demo = std::sync::Arc::new(demo);
    let every = Duration::from_secs_f64(1.0 / rate.clamp(0.01, 1000.0));
    let mut tick = tokio::time::interval(every);
    let mut n: u64 = 0;
    let live = std::sync::Arc::new(tokio::sync::Semaphore::new(512));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => break,
        }
        let Ok(permit) = live.clone().try_acquire_owned() else {
            continue;
        };
        let template = demo.calls[(n as usize) % demo.calls.len()].clone();
        let call_id = format!("demo-{}-{n}", std::process::id());
        let seconds = 1 + (n.wrapping_mul(2_654_435_761) % max_call_s);
        n += 1;
        let (client, url, demo, stop) = (client.clone(), url.clone(), demo.clone(), stop.clone());
        tokio::spawn(async move {
            if let Err(error) =
                one_call(&client, &url, &demo, template, &call_id, seconds, stop).await
            {
                tracing::warn!(%error, call_id, "demo call failed");
            }
            drop(permit);
        });
    }
}

async fn one_call(
    client: &reqwest::Client,
    url: &str,
    demo: &Demo,
    template: CallRecord,
    call_id: &str,
    seconds: u64,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Result<()> {
    let base = format!("{url}/v1/tenants/{}/calls/{call_id}", demo.tenant);
    let key = &demo.bridge_key;
    let toll_dial_in = template.direction == Direction::DialIn
        && !template.service_number.is_empty()
        && template.caller_number.is_empty();
    if !toll_dial_in {
        let body = serde_json::json!({
            "conference_id": template.conference_id,
            "organizer": template.organizer,
            "direction": template.direction.as_str(),
            "service_number": template.service_number,
            "caller_number": template.caller_number,
            "destination_number": template.destination_number,
        });
        let answer: serde_json::Value = client
            .post(format!("{base}/authorize"))
            .bearer_auth(key)
            .json(&body)
            .send()
            .await?
            .json()
            .await?;
        if answer["decision"] != "allow" {
            return Ok(());
        }
        let mut granted = answer["max_duration_s"].as_u64();
        let mut elapsed = 0;
        while elapsed < seconds && !*stop.borrow() {
            tokio::time::sleep(Duration::from_secs(1)).await;
            elapsed += 1;
            if granted.is_some_and(|g| elapsed + 5 >= g) {
                let ext: serde_json::Value = client
                    .post(format!("{base}/extend"))
                    .bearer_auth(key)
                    .json(&serde_json::json!({"granted_s": granted}))
                    .send()
                    .await?
                    .json()
                    .await?;
                if ext["extended"] != true {
                    break;
                }
                granted = ext["max_duration_s"].as_u64();
            }
        }
        client
            .post(format!("{base}/end"))
            .bearer_auth(key)
            .json(&serde_json::json!({"duration_s": elapsed}))
            .send()
            .await?
            .error_for_status()?;
    } else {
        tokio::time::sleep(Duration::from_secs(seconds.min(5))).await;
        let now = jiff::Timestamp::now();
        let record = serde_json::json!({
            "call_id": call_id,
            "conference_id": template.conference_id,
            "organizer": template.organizer,
            "direction": "dial_in",
            "service_number": template.service_number,
            "caller_number": template.caller_number,
            "destination_number": template.destination_number,
            "start": instant::format(now - jiff::SignedDuration::from_secs(seconds as i64)),
            "end": instant::format(now),
        });
        client
            .post(format!("{base}/end"))
            .bearer_auth(key)
            .json(&serde_json::json!({"record": record}))
            .send()
            .await?
            .error_for_status()?;
    }
    Ok(())
}
