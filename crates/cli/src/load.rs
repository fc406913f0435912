//! `minutely load`: a load generator for the call-control API. Each worker runs authorize + end
//! pairs back to back over one keep-alive connection; the report gives pairs per second and
//! the latency percentiles of whole pairs and of each request.

use anyhow::{Context, Result, bail};
use clap::Args;
use std::time::{Duration, Instant};

/// Where the calls go and as whom: shared by `minutely load` and `minutely soak`.
#[derive(Args)]
pub struct Target {
    /// The server's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// A key of the tenant: a bridge key for `load`; `soak` needs a tenant-admin key (its
    /// fundings and reads need more than a bridge key).
    #[arg(long, env = "MINUTELY_KEY")]
    pub key: String,
    #[arg(long, default_value = "contoso")]
    pub tenant: String,
    /// The organizer of every call (a pay-per-minute user makes every call credit-funded).
    #[arg(long, default_value = "chloe.bernard@contoso.example")]
    pub organizer: String,
    /// The dial-out destination of every call.
    #[arg(long, default_value = "+33 1 44 55 66 77")]
    pub destination: String,
}

#[derive(Args)]
pub struct LoadArgs {
    #[command(flatten)]
    target: Target,
    /// Authorize + end pairs in all.
    #[arg(long, default_value_t = 20_000)]
    pairs: u64,
    /// Pairs in flight at once.
    #[arg(long, default_value_t = 64)]
    concurrency: u64,
    /// The duration each call reports at its end.
    #[arg(long, default_value_t = 42)]
    duration_s: u64,
}

pub fn run(args: LoadArgs) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(load(args))
}

#[derive(Default)]
struct Sample {
    pair: Vec<Duration>,
    authorize: Vec<Duration>,
    end: Vec<Duration>,
    denied: u64,
    failed: u64,
}

async fn load(args: LoadArgs) -> Result<()> {
    if args.concurrency == 0 || args.pairs == 0 {
        bail!("--pairs and --concurrency must be at least 1");
    }
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency as usize)
        .build()?;
    let run_id = std::process::id();
    let started = Instant::now();
    let mut workers = Vec::new();
    for w in 0..args.concurrency {
        let client = client.clone();
        let base = format!(
            "{}/v1/tenants/{}/calls",
            args.target.url.trim_end_matches('/'),
            args.target.tenant
        );
        let (key, organizer, destination) = (
            args.target.key.clone(),
            args.target.organizer.clone(),
            args.target.destination.clone(),
        );
        let share = args.pairs / args.concurrency + u64::from(w < args.pairs % args.concurrency);
        let duration_s = args.duration_s;
        workers.push(tokio::spawn(async move {
            let mut s = Sample::default();
            for i in 0..share {
                let id = format!("load-{run_id}-{w}-{i}");
                let t0 = Instant::now();
                let answer = client
                    .post(format!("{base}/{id}/authorize"))
                    .bearer_auth(&key)
                    .json(&serde_json::json!({
                        "conference_id": format!("load-{w}"),
                        "organizer": organizer,
                        "direction": "dial_out",
                        "destination_number": destination,
                    }))
                    .send()
                    .await;
                let t1 = Instant::now();
                let allowed = match answer {
                    Ok(r) if r.status().is_success() => {
                        let v: serde_json::Value = r.json().await.unwrap_or_default();
                        v["decision"] == "allow"
                    }
                    _ => {
                        s.failed += 1;
                        continue;
                    }
                };
                s.authorize.push(t1 - t0);
                if !allowed {
                    s.denied += 1;
                    continue;
                }
                let ended = client
                    .post(format!("{base}/{id}/end"))
                    .bearer_auth(&key)
                    .json(&serde_json::json!({ "duration_s": duration_s }))
                    .send()
                    .await;
                let t2 = Instant::now();
                match ended {
                    Ok(r) if r.status().is_success() => {
                        s.end.push(t2 - t1);
                        s.pair.push(t2 - t0);
                    }
                    _ => s.failed += 1,
                }
            }
            s
        }));
    }
    let mut all = Sample::default();
    for w in workers {
        let s = w.await?;
        all.pair.extend(s.pair);
        all.authorize.extend(s.authorize);
        all.end.extend(s.end);
        all.denied += s.denied;
        all.failed += s.failed;
    }
    let elapsed = started.elapsed();
    let done = all.pair.len();
    println!(
        "{done} authorize+end pairs in {:.2} s: {:.0} pairs/s ({} concurrent; {} denied, {} failed)",
        elapsed.as_secs_f64(),
        done as f64 / elapsed.as_secs_f64(),
        args.concurrency,
        all.denied,
        all.failed
    );
    for (name, mut values) in [
        ("pair", all.pair),
        ("authorize", all.authorize),
        ("end", all.end),
    ] {
        values.sort();
        println!(
            "  {name:<9} p50 {:>8.3} ms   p99 {:>8.3} ms   max {:>8.3} ms",
            ms(percentile(&values, 50.0)),
            ms(percentile(&values, 99.0)),
            ms(values.last().copied().unwrap_or_default())
        );
    }
    if all.failed > 0 {
        bail!("{} requests failed", all.failed);
    }
    Ok(())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
