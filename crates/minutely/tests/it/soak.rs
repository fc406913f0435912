//! `minutely-tools soak` against a real `minutely serve --demo`: a short, low-rate run with
//! every kind of traffic prints one row per interval, a summary and a verdict, and nothing fails.
//! Nothing here asserts on timing: the machine may be busy.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Output, Stdio};

/// A demo server on a free port; killed when dropped.
struct Server {
    child: Child,
    url: String,
    admin_key: String,
    db: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Grants are short so that calls left unended lapse within the run.
fn start_demo() -> Server {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = dir.path().join("soak.db");
    let mut child = Command::new(env!("CARGO_BIN_EXE_minutely"))
        .args([
            "serve",
            "--demo",
            "--demo-rate",
            "0",
            "--listen",
            "127.0.0.1:0",
            "--window-s",
            "5",
            "--grace-s",
            "1",
        ])
        .env("MINUTELY_DB", &db)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the server");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let (mut url, mut admin_key) = (None, None);
    let mut line = String::new();
    while admin_key.is_none() {
        line.clear();
        let read = stdout.read_line(&mut line).expect("the banner");
        assert!(read > 0, "the server stopped before printing its key");
        if let Some(rest) = line.strip_prefix("Minutely is serving ") {
            url = rest.split_whitespace().next().map(str::to_string);
        }
        if let Some((_, key)) = line.split_once("tenant-admin key (shown once): ") {
            admin_key = Some(key.trim().to_string());
        }
    }
    // The rest of the banner is read away so that the server never blocks on a full pipe.
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut stdout.into_inner(), &mut std::io::sink());
    });
    Server {
        child,
        url: url.expect("the URL in the banner"),
        admin_key: admin_key.expect("the admin key"),
        db,
        _dir: dir,
    }
}

/// Waits (10 s at most) until the server accepts `key` on `/metrics` (an operator route).
fn wait_until_accepted(server: &Server, key: &str) {
    let address = server.url.trim_start_matches("http://");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut status_line = String::new();
    while std::time::Instant::now() < deadline {
        let mut stream = std::net::TcpStream::connect(address).expect("connect to the server");
        let request = format!(
            "GET /metrics HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {key}\r\n\
             Connection: close\r\n\r\n"
        );
        std::io::Write::write_all(&mut stream, request.as_bytes()).expect("send the request");
        status_line.clear();
        BufReader::new(stream)
            .read_line(&mut status_line)
            .expect("the status line");
        if status_line.starts_with("HTTP/1.1 200") {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("the server never accepted the new key: {status_line}");
}

/// Thresholds wide enough that only failed operations can fail a run this short: a fresh
/// server's memory grows while it warms up, and this test makes no claim about timing.
const LENIENT: [&str; 8] = [
    "--max-rss-growth-pct",
    "100000",
    "--max-rss-slope-kib-min",
    "1000000000",
    "--max-p99-growth-pct",
    "100000",
    "--p99-slack-ms",
    "100000",
];

fn soak(server: &Server, key: &str, extra: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_minutely-tools"))
        .args(["--db"])
        .arg(&server.db)
        .args(["soak", "--url", &server.url, "--key", key])
        .args(LENIENT)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run minutely-tools soak");
    let mut stdout = String::new();
    let mut stderr = String::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut stdout)
        .expect("read stdout");
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("read stderr");
    let status = child.wait().expect("the soak ends");
    Output {
        status,
        stdout: stdout.into_bytes(),
        stderr: stderr.into_bytes(),
    }
}

/// The rows: lines that start with the elapsed seconds.
fn rows(stdout: &str) -> Vec<Vec<String>> {
    stdout
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(|w| w.parse::<u64>().is_ok())
        })
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect()
}

#[test]
fn a_short_soak_prints_rows_a_summary_and_a_verdict_without_errors() {
    let server = start_demo();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let csv_path = dir.path().join("rows.csv");
    let pid = server.child.id().to_string();
    // Every kind of traffic at shares high enough to occur at 20 pairs/s for 10 s.
    let out = soak(
        &server,
        &server.admin_key,
        &[
            "--rate",
            "20",
            "--duration",
            "10",
            "--interval",
            "1",
            "--warmup",
            "1",
            "--pid",
            &pid,
            "--mix",
            "fund=0.02,ingest=0.05,long=0.1,lapse=0.05,wallet=0.1,ledger=0.1",
            "--batch-records",
            "5",
            "--long-hold",
            "2",
            "--csv",
            csv_path.to_str().expect("a UTF-8 path"),
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");

    // One row per interval, each with a measured memory and open files, and no error.
    let rows = rows(&stdout);
    assert_eq!(rows.len(), 10, "{stdout}");
    for row in &rows {
        let rss_mib: f64 = row[8].parse().expect("the rss column is a number");
        assert!(rss_mib > 0.0, "{stdout}");
        let fds: u64 = row[9].parse().expect("the fds column is a number");
        assert!(fds > 0, "{stdout}");
        let db_mib: f64 = row[10].parse().expect("the db column is a number");
        assert!(db_mib > 0.0, "{stdout}");
        assert_eq!(row[12], "0", "errors in a row: {stdout}");
    }
    assert!(
        stdout.contains("summary: 9 rows after the 1 s warm-up"),
        "{stdout}"
    );
    for third in ["first third", "middle", "last third"] {
        assert!(stdout.contains(&format!("  {third} ")), "{stdout}");
    }
    // Every kind of traffic was offered and done.
    let offered = line_starting(&stdout, "offered: ");
    let done = line_starting(&stdout, "done: ");
    for kind in [
        "pair", "fund", "ingest", "long", "lapse", "wallet", "ledger",
    ] {
        assert!(offered.contains(&format!("{kind}: ")), "{offered}");
        assert!(done.contains(&format!("{kind}: ")), "{done}");
    }
    assert!(done.contains("denied: 0"), "{done}");
    assert!(
        line_starting(&stdout, "store: db+wal ").contains(" bytes per call"),
        "{stdout}"
    );
    assert!(
        line_starting(&stdout, "errors: 0 of ").ends_with("-- ok"),
        "{stdout}"
    );
    assert!(
        line_starting(&stdout, "memory: rss ").ends_with("-- ok"),
        "{stdout}"
    );
    assert!(
        line_starting(&stdout, "latency: p99 ").ends_with("-- ok"),
        "{stdout}"
    );
    assert_eq!(line_starting(&stdout, "verdict: "), "verdict: PASS");

    // The CSV holds the same rows.
    let mut reader = csv::Reader::from_path(&csv_path).expect("the CSV file");
    let headers = reader.headers().expect("a header").clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name} in {headers:?}"))
    };
    assert_eq!(&headers[0], "elapsed_s");
    let (errors, rss_kib) = (column("errors"), column("rss_kib"));
    let records: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("a CSV row")).collect();
    assert_eq!(records.len(), rows.len());
    for record in &records {
        assert_eq!(&record[errors], "0", "errors in a CSV row");
        assert!(record[rss_kib].parse::<u64>().expect("rss in KiB") > 0);
    }
}

#[test]
fn without_a_pid_the_memory_comes_from_the_metrics_of_the_server() {
    let server = start_demo();
    let out = Command::new(env!("CARGO_BIN_EXE_minutely"))
        .args(["keys", "create", "--kind", "operator", "--label", "soak"])
        .env("MINUTELY_DB", &server.db)
        .output()
        .expect("create an operator key");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let operator = text
        .split_whitespace()
        .find(|w| w.starts_with("mk_"))
        .expect("the new key")
        .to_string();
    // The key cache of the server refreshes every second: the new key is awaited.
    wait_until_accepted(&server, &operator);
    let out = soak(
        &server,
        &server.admin_key,
        &[
            "--rate",
            "10",
            "--duration",
            "3",
            "--interval",
            "1",
            "--warmup",
            "0",
            "--mix",
            "none",
            "--metrics-key",
            &operator,
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("server memory: http://"), "{stdout}");
    let rows = rows(&stdout);
    assert_eq!(rows.len(), 3, "{stdout}");
    for row in &rows {
        let rss_mib: f64 = row[8].parse().expect("the rss column is a number");
        assert!(rss_mib > 0.0, "{stdout}");
        let fds: u64 = row[9].parse().expect("the fds column is a number");
        assert!(fds > 0, "{stdout}");
    }
    assert_eq!(line_starting(&stdout, "verdict: "), "verdict: PASS");
}

#[test]
fn a_wrong_key_stops_the_soak_before_it_starts() {
    let server = start_demo();
    let out = soak(
        &server,
        "mk_0_nope",
        &["--rate", "10", "--duration", "2", "--interval", "1"],
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("the server does not answer a wallet read: 401"),
        "{stderr}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).is_empty());
}

fn line_starting<'a>(text: &'a str, prefix: &str) -> &'a str {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting {prefix:?} in:\n{text}"))
}
