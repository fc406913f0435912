//! `minutely-tools floor`: the floor under every real-time figure of BENCHMARKS.md. An HTTP/1.1
//! server on the same stack as `minutely serve` (hyper on a multi-threaded tokio runtime, a
//! worker a core) that reads each request's body, appends one record a call to a file and
//! answers only once that append is on disk, with one `fdatasync` shared by every request
//! waiting (group commit, as the product's writer does). It parses nothing, rates nothing and
//! keeps no state beyond the file: driven by `minutely-tools load` with the same arguments as
//! the product, its throughput is what HTTP on loopback, one durable commit a request and the
//! load generator itself allow on the machine, sharing its cores.
//!
//! Its answers carry just what the load generator counts: `"decision":"allow"` for each
//! authorize and `"status":"charged"` for each end, once a call.

use crate::load::count;
use anyhow::{Context, Result};
use clap::Args;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::mpsc;
use tokio::sync::oneshot;

/// The largest request body read: the product's own limit for a batch is smaller.
const BODY_LIMIT_BYTES: usize = 16 << 20;
/// The bytes appended for each call of a request: about a journal row's size.
const RECORD_BYTES: usize = 64;
/// The most calls one commit appends; the rest wait for the next.
const COMMIT_CALLS_MAX: usize = 65_536;
/// The data file's size: written once at start, then overwritten in a circle, as SQLite reuses
/// its write-ahead log, so that a sync never has the file's size to record.
const FILE_BYTES: u64 = 64 << 20;

#[derive(Args)]
pub struct FloorArgs {
    /// The address to listen on (loopback): port 0 takes a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: std::net::SocketAddr,
    /// The directory of the data file (`floor.dat`), which must exist.
    #[arg(long)]
    dir: PathBuf,
    /// Stop after this many seconds (the run is always bounded).
    #[arg(long, default_value_t = 600)]
    seconds: u64,
}

/// One request waiting for its append: how many records, and whom to tell.
struct Waiting {
    records: usize,
    done: oneshot::Sender<std::io::Result<()>>,
}

pub fn run(args: FloorArgs) -> Result<()> {
    anyhow::ensure!(
        args.listen.ip().is_loopback(),
        "--listen {}: the floor server listens on a loopback address only",
        args.listen
    );
    let path = args.dir.join("floor.dat");
    let file = preallocated(&path).with_context(|| format!("cannot create {}", path.display()))?;
    let (queue, waiting) = mpsc::channel::<Waiting>();
    std::thread::Builder::new()
        .name("floor-commit".into())
        .spawn(move || committer(file, waiting))
        .context("cannot start the commit thread")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(args, queue))
}

async fn serve(args: FloorArgs, queue: mpsc::Sender<Waiting>) -> Result<()> {
    let listener = minutely_server::bind(args.listen)
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    println!("listening on {}", listener.local_addr()?);
    let deadline = tokio::time::sleep(std::time::Duration::from_secs(args.seconds));
    tokio::pin!(deadline);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => accepted.context("accept failed")?,
            () = &mut deadline => return Ok(()),
        };
        let _ = stream.set_nodelay(true);
        let queue = queue.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| answer(request, queue.clone()));
            let _ = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Reads the body, waits for its records to be on disk, and answers.
async fn answer(
    request: Request<Incoming>,
    queue: mpsc::Sender<Waiting>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let body = match Limited::new(request.into_body(), BODY_LIMIT_BYTES)
        .collect()
        .await
    {
        Ok(body) => body.to_bytes(),
        Err(_) => return Ok(status(StatusCode::BAD_REQUEST, "unreadable body")),
    };
    let authorize = count(&body, b"\"op\":\"authorize\"");
    let end = count(&body, b"\"op\":\"end\"");
    let (done, wait) = oneshot::channel();
    // A call a record: each command of a batch and each record of an ingestion names its call;
    // a single-call route's body does not (its call is in the path).
    let records = count(&body, b"\"call_id\"").max(1);
    if queue.send(Waiting { records, done }).is_err() {
        return Ok(status(
            StatusCode::SERVICE_UNAVAILABLE,
            "commit thread gone",
        ));
    }
    match wait.await {
        Ok(Ok(())) => Ok(Response::new(Full::new(Bytes::from(reply(authorize, end))))),
        _ => Ok(status(StatusCode::SERVICE_UNAVAILABLE, "append failed")),
    }
}

/// The answer's body: a single call's answer carries both markers, a batch one a call.
fn reply(authorize: usize, end: usize) -> String {
    if authorize + end == 0 {
        return "{\"decision\":\"allow\",\"status\":\"charged\"}".to_string();
    }
    let mut out = String::with_capacity(24 * (authorize + end) + 16);
    out.push_str("{\"results\":[");
    for i in 0..authorize + end {
        if i > 0 {
            out.push(',');
        }
        out.push_str(if i < authorize {
            "{\"decision\":\"allow\"}"
        } else {
            "{\"status\":\"charged\"}"
        });
    }
    out.push_str("]}");
    out
}

fn status(code: StatusCode, why: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(why.to_string())));
    *response.status_mut() = code;
    response
}

/// The data file, written whole with zeros and synced.
fn preallocated(path: &std::path::Path) -> std::io::Result<File> {
    let mut file = File::create(path)?;
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..FILE_BYTES >> 20 {
        file.write_all(&zeros)?;
    }
    file.sync_all()?;
    Ok(file)
}

/// The group commit: takes every request waiting, appends their records, syncs once and
/// answers them all. Ends when every sender is gone.
fn committer(file: File, waiting: mpsc::Receiver<Waiting>) {
    use std::os::unix::fs::FileExt;
    let mut buffer = Vec::with_capacity(RECORD_BYTES * 1024);
    let mut offset = 0u64;
    while let Ok(first) = waiting.recv() {
        let mut batch = vec![first];
        let mut calls = batch[0].records;
        while calls < COMMIT_CALLS_MAX {
            match waiting.try_recv() {
                Ok(next) => {
                    calls += next.records;
                    batch.push(next);
                }
                Err(_) => break,
            }
        }
        buffer.clear();
        buffer.resize(calls * RECORD_BYTES, b'.');
        if offset + buffer.len() as u64 > FILE_BYTES {
            offset = 0;
        }
        let result = file
            .write_all_at(&buffer, offset)
            .and_then(|()| file.sync_data());
        offset += buffer.len() as u64;
        for w in batch {
            let answer = match &result {
                Ok(()) => Ok(()),
                Err(e) => Err(std::io::Error::new(e.kind(), e.to_string())),
            };
            let _ = w.done.send(answer);
        }
    }
}
