//! `minutely serve` as a process: it owns its store while it runs (the command line cannot
//! change what the server's memory would overwrite) and stops gracefully on SIGTERM.

use crate::support::run as minutely;
use minutely_testkit::fixtures::example_tenant_path;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[test]
fn a_running_server_owns_its_store_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = dir.path().join("minutely.db");
    let tenant = example_tenant_path();
    let tenant = tenant.to_str().expect("a UTF-8 path");
    let out = minutely(&db, &["apply", "-f", tenant]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut server = Command::new(env!("CARGO_BIN_EXE_minutely"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("MINUTELY_DB", &db)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the server");
    let mut stdout = BufReader::new(server.stdout.take().expect("stdout"));
    let mut banner = String::new();
    stdout.read_line(&mut banner).expect("the banner");
    assert!(
        banner.starts_with("Minutely is serving http://"),
        "{banner}"
    );

    // Changing tenants is refused while the server runs, and changes nothing.
    let out = minutely(
        &db,
        &["wallet", "fund", "--tenant", "contoso", "--amount", "100"],
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("in use by a running minutely server"),
        "{stderr}"
    );
    let out = minutely(&db, &["apply", "-f", tenant]);
    assert!(!out.status.success());
    // Keys and reads work alongside.
    let out = minutely(
        &db,
        &["keys", "create", "--kind", "operator", "--label", "t"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = minutely(&db, &["wallet", "show", "--tenant", "contoso"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let before = String::from_utf8_lossy(&out.stdout).to_string();

    let pid = server.id().to_string();
    let kill = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(kill.success());
    let status = server.wait().expect("the server exits");
    assert!(
        status.success(),
        "the server exits cleanly on SIGTERM: {status:?}"
    );
    let mut rest = String::new();
    for line in stdout.lines() {
        rest.push_str(&line.expect("a line"));
        rest.push('\n');
    }
    assert!(
        rest.contains("everything acknowledged is committed"),
        "{rest}"
    );

    // Once it has stopped, the store is the command line's again; the refused funding had
    // changed nothing.
    let out = minutely(&db, &["wallet", "show", "--tenant", "contoso"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), before);
    let out = minutely(
        &db,
        &["wallet", "fund", "--tenant", "contoso", "--amount", "100"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
