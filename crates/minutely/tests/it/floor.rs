//! `minutely-tools floor`, the server the real-time benchmarks are read against, driven by
//! `minutely-tools load` as the benchmarks drive it: every request is answered, a batch's calls
//! are each counted, and each call's record reaches the data file. Nothing here asserts on
//! timing.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// A floor server on a free loopback port; killed (by its own id) when dropped.
struct Floor {
    child: Child,
    url: String,
    dir: tempfile::TempDir,
}

impl Drop for Floor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start() -> Floor {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut child = Command::new(env!("CARGO_BIN_EXE_minutely-tools"))
        .args([
            "floor",
            "--listen",
            "127.0.0.1:0",
            "--seconds",
            "120",
            "--dir",
        ])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the floor server");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("the first line");
    let address = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("not a listening line: {line:?}"));
    let url = format!("http://{address}");
    Floor { child, url, dir }
}

/// One load run's figures, as JSON.
fn load(floor: &Floor, args: &[&str]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_minutely-tools"))
        .args(["load", "--url", &floor.url, "--key", "floor", "--json"])
        .args(args)
        .output()
        .expect("run minutely-tools load");
    assert!(
        out.status.success(),
        "load failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the load's figures as JSON")
}

/// The records the floor has written: its data file holds `.` for each byte of a record.
fn written_bytes(floor: &Floor) -> usize {
    let data = std::fs::read(floor.dir.path().join("floor.dat")).expect("the data file");
    assert_eq!(
        data.len(),
        64 << 20,
        "the data file is written whole at start"
    );
    data.iter().filter(|b| **b == b'.').count()
}

#[test]
fn the_floor_answers_every_pair_batch_and_ingestion_and_writes_a_record_a_call() {
    let floor = start();
    let pairs = load(&floor, &["--pairs", "40", "--concurrency", "4"]);
    assert_eq!(pairs["pairs"], 40, "{pairs}");
    assert_eq!(pairs["failed"], 0, "{pairs}");
    assert_eq!(pairs["denied"], 0, "{pairs}");
    // A single-call request is one record: 40 authorizations and 40 ends.
    assert_eq!(written_bytes(&floor), 80 * 64);
    let batch = load(
        &floor,
        &[
            "--mode",
            "batch",
            "--batch",
            "8",
            "--pairs",
            "32",
            "--concurrency",
            "2",
        ],
    );
    assert_eq!(batch["pairs"], 32, "{batch}");
    assert_eq!(batch["failed"], 0, "{batch}");
    // A batch is a record a call: 32 authorizations and 32 ends more.
    assert_eq!(written_bytes(&floor), (80 + 64) * 64);
    let ingest = load(
        &floor,
        &[
            "--mode",
            "ingest",
            "--batch",
            "10",
            "--pairs",
            "30",
            "--concurrency",
            "1",
        ],
    );
    assert_eq!(ingest["records"], 30, "{ingest}");
    // An ingested record is a record: 30 more.
    assert_eq!(written_bytes(&floor), (80 + 64 + 30) * 64);
}

#[test]
fn the_floor_listens_on_loopback_only() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let out = Command::new(env!("CARGO_BIN_EXE_minutely-tools"))
        .args(["floor", "--listen", "0.0.0.0:0", "--dir"])
        .arg(dir.path())
        .output()
        .expect("run the floor server");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--listen 0.0.0.0:0"), "{err}");
    assert!(err.contains("loopback"), "{err}");
}
