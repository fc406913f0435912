//! Where a test's store lives: a SQLite file in the test's directory, or, when
//! `MINUTELY_TEST_POSTGRES` names a PostgreSQL server (`./run-tests` starts a throwaway one), a
//! new database of its own on that server. The suites of the store, the service and the server
//! run once per backend with the same tests.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// The variable naming the PostgreSQL server the suites run against (a URL to any database of
/// it, whose user may create databases).
pub const POSTGRES_VAR: &str = "MINUTELY_TEST_POSTGRES";

/// The PostgreSQL server the suites run against, when one is named.
pub fn postgres_server() -> Option<String> {
    std::env::var(POSTGRES_VAR)
        .ok()
        .filter(|url| !url.is_empty())
}

/// True when this run's stores are on PostgreSQL: for the tests that look inside a SQLite file,
/// which run on SQLite only.
pub fn on_postgres() -> bool {
    postgres_server().is_some()
}

/// A new, empty store location for one test: `dir/minutely.db`, or a new PostgreSQL database.
pub fn store_location(dir: &Path) -> PathBuf {
    match postgres_server() {
        None => dir.join("minutely.db"),
        Some(server) => PathBuf::from(new_database(&server)),
    }
}

/// Creates a database no other test uses and returns its URL.
pub fn new_database(server: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let name = format!(
        "minutely_t{}_{}_{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    off_runtime(|| {
        let mut client = postgres::Client::connect(server, postgres::NoTls)
            .unwrap_or_else(|e| panic!("cannot reach the test PostgreSQL server {server}: {e}"));
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|e| panic!("cannot create the test database {name}: {e}"));
    });
    let base = server.rsplit_once('/').map_or(server, |(base, _)| base);
    format!("{base}/{name}")
}

/// Runs `f` on a thread of its own and returns what it returned: for store calls from a test's
/// async code (a PostgreSQL store's synchronous client must not run on a runtime's thread).
pub fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| match scope.spawn(f).join() {
        Ok(out) => out,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}
