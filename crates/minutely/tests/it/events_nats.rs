//! `minutely serve --events-nats` as a process: its flags are checked before anything is
//! served, and the outbox reaches a real NATS JetStream (Debian's `nats-server`, started here on
//! 127.0.0.1 and stopped by its pid), resuming from the stored cursor after a restart of
//! minutely. Without `nats-server` the test that needs it fails saying so, unless
//! `MINUTELY_SKIP_NATS=1`.

use minutely_server::stream::ServerAddr;
use minutely_server::stream::client::Connection;
use minutely_store::Store;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use minutely_testkit::nats::{free_port, nats_binary};

/// Stops a child this test started, by its pid: SIGTERM, then SIGKILL after 10 s.
fn terminate(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(10) {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

struct Stopped(Child);

impl Drop for Stopped {
    fn drop(&mut self) {
        terminate(&mut self.0);
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

/// A JetStream API request's JSON answer (`None` while the server does not answer).
fn api(addr: &ServerAddr, subject: &str) -> Option<serde_json::Value> {
    runtime().block_on(async {
        let mut conn = Connection::connect(addr, "test", Duration::from_secs(1))
            .await
            .ok()?;
        let reply = conn
            .request(subject, b"", Duration::from_secs(1))
            .await
            .ok()?;
        serde_json::from_slice(&reply.payload).ok()
    })
}

fn stream_messages(addr: &ServerAddr) -> u64 {
    api(addr, "$JS.API.STREAM.INFO.MINUTELY_EVENTS")
        .and_then(|info| info["state"]["messages"].as_u64())
        .unwrap_or(0)
}

/// The outbox's last event and the stream cursor of the demo tenant.
fn position(db: &Path) -> (u64, u64) {
    let store = Store::open_read_only(db).expect("a reader");
    let positions = store
        .stream_positions("minutely.events")
        .expect("positions");
    let (_, p) = positions
        .iter()
        .find(|(t, _)| t == "contoso")
        .expect("the demo tenant");
    (p.last_event, p.published_through)
}

fn serve(db: &Path, nats: &str) -> Stopped {
    let mut child = Command::new(env!("CARGO_BIN_EXE_minutely"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--demo",
            "--demo-rate",
            "0.01",
        ])
        .args(["--demo-max-call-s", "1", "--events-nats", nats])
        .env("MINUTELY_DB", db)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("minutely serve starts");
    // Stdout is read to its end (a closed pipe would stop the server's printing), and the
    // banner says the demo's history is stored.
    let stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let (banner, serving) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            if line.starts_with("Minutely is serving") {
                let _ = banner.send(());
            }
        }
    });
    let child = Stopped(child);
    serving
        .recv_timeout(Duration::from_secs(180))
        .expect("the banner within 180 s");
    child
}

/// Waits (60 s at most) until the demo tenant's every event is acknowledged.
fn wait_published(db: &Path) -> u64 {
    let started = Instant::now();
    loop {
        let (last, through) = position(db);
        if last > 0 && through == last {
            return last;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{through} of {last} events acknowledged"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn event_stream_flags_are_checked_before_anything_is_served() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = dir.path().join("minutely.db");
    for (flags, named) in [
        (vec!["--events-nats", "127.0.0.1:4222"], "nats://"),
        (
            vec!["--events-nats", "nats://h:1", "--events-subject", "a..b"],
            "--events-subject",
        ),
        (
            vec!["--events-nats", "nats://h:1", "--events-stream", "a.b"],
            "--events-stream",
        ),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_minutely"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(&flags)
            .env("MINUTELY_DB", &db)
            .output()
            .expect("minutely runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{flags:?} is refused");
        assert!(stderr.contains(named), "{flags:?}: {stderr}");
    }
}

#[test]
fn c15_the_outbox_reaches_jetstream_and_a_restart_of_minutely_resumes_from_the_cursor() {
    let Some(bin) = nats_binary() else { return };
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = dir.path().join("minutely.db");
    let port = free_port();
    let _nats = Stopped(
        Command::new(bin)
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(dir.path().join("js"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server starts"),
    );
    let url = format!("nats://127.0.0.1:{port}");
    let addr: ServerAddr = url.parse().expect("a NATS URL");
    let started = Instant::now();
    while api(&addr, "$JS.API.INFO").is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "nats-server does not answer"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // The demo's history raises the tenant's events while NATS cannot be reached: they wait.
    let nowhere = format!("nats://127.0.0.1:{}", free_port());
    drop(serve(&db, &nowhere));
    let (raised, through) = position(&db);
    assert!(raised > 0, "the demo raised events");
    assert_eq!(through, 0, "none acknowledged");

    // After a restart with NATS reachable, every one reaches the stream, once.
    let server = serve(&db, &url);
    wait_published(&db);
    drop(server);
    // (Compared with the cursor: the demo's traffic may raise an event just before the stop.)
    let (_, first) = position(&db);
    assert!(first >= raised);
    assert_eq!(stream_messages(&addr), first);

    // Without the stream's old messages (deleted, and with them JetStream's memory of their
    // ids), a restart sends only what comes after the cursor: nothing older comes back.
    let deleted = api(&addr, "$JS.API.STREAM.DELETE.MINUTELY_EVENTS").expect("deleted");
    assert_eq!(deleted["success"], true, "{deleted}");
    let server = serve(&db, &url);
    let started = Instant::now();
    while api(&addr, "$JS.API.STREAM.INFO.MINUTELY_EVENTS").is_none_or(|i| i.get("error").is_some())
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the stream is not created again"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(1));
    drop(server);
    let (_, through) = position(&db);
    assert_eq!(
        stream_messages(&addr),
        through - first,
        "the events after the cursor, once each"
    );
}
