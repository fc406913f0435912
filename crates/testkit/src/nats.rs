//! What the NATS JetStream tests share: finding Debian's `nats-server` (or skipping, when
//! `MINUTELY_SKIP_NATS=1` says so) and a free loopback port for it.

use std::path::PathBuf;

/// `nats-server`, or `None` (printed) when it is missing and the tests may be skipped; panics
/// with how to install it otherwise.
pub fn nats_binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
        .map(|dir| dir.join("nats-server"))
        .find(|p| p.is_file());
    if found.is_none() {
        if std::env::var("MINUTELY_SKIP_NATS").as_deref() == Ok("1") {
            eprintln!("skipped: nats-server is not installed and MINUTELY_SKIP_NATS=1");
            return None;
        }
        panic!(
            "nats-server is not installed: `apt-get install nats-server` (Debian), or set \
             MINUTELY_SKIP_NATS=1 to skip the NATS JetStream tests"
        );
    }
    found
}

/// A loopback port free at the time of asking.
pub fn free_port() -> u16 {
    let socket = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    socket.local_addr().expect("an address").port()
}
