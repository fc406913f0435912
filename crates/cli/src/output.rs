//! Shared edge helpers: opening the store, reading files with a clear error, progress bars that
//! hide themselves when stderr is not a terminal.

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use minutely_core::engine::TenantBook;
use minutely_store::Store;
use std::io::IsTerminal;
use std::path::Path;

/// Opens the store at `path` (seeding a new one with the shipped country table).
pub fn open_store(path: &Path) -> Result<Store> {
    Store::open(path, &minutely_formats::countries::shipped())
        .with_context(|| format!("cannot open the store {}", path.display()))
}

/// Opens the store to change it: refused while a server owns it (its memory would overwrite
/// the change); the lock is held until the returned guard is dropped.
pub fn open_store_to_change(path: &Path) -> Result<(minutely_store::OwnerLock, Store)> {
    let lock = minutely_store::claim(path)?;
    Ok((lock, open_store(path)?))
}

/// Reads a whole file, naming it on failure.
pub fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Loads a tenant or fails with `unknown_tenant`.
pub fn load_book(store: &Store, tenant: &str) -> Result<TenantBook> {
    match store.load_book(tenant)? {
        Some(book) => Ok(book),
        None => bail!(
            "unknown_tenant: no tenant {tenant:?} in the store (create it with `minutely apply -f FILE`)"
        ),
    }
}

/// A byte-count progress bar on stderr, hidden when stderr is not a terminal.
pub fn progress(total: u64, message: &str) -> ProgressBar {
    let bar = if std::io::stderr().is_terminal() {
        ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} [{bar:40}] {percent}% {binary_bytes_per_sec} eta {eta}",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    bar.set_message(message.to_string());
    bar
}

/// A record-count progress bar on stderr, hidden when stderr is not a terminal.
pub fn count_progress(total: u64, message: &str) -> ProgressBar {
    let bar = progress(total, message);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} {per_sec} eta {eta}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar
}

/// Parses a duration such as `125`, `125s`, `2m` or `1h`.
pub fn parse_duration_s(text: &str) -> Result<u64> {
    let t = text.trim();
    let (digits, unit) = match t.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => (&t[..i], &t[i..]),
        None => (t, "s"),
    };
    let value: u64 = digits
        .parse()
        .with_context(|| format!("{text:?} is not a duration such as 125s, 2m or 1h"))?;
    let factor = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => bail!("{text:?} is not a duration such as 125s, 2m or 1h"),
    };
    value
        .checked_mul(factor)
        .with_context(|| format!("{text:?} is too long"))
}

/// True when `error` is a write to a closed pipe.
pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .chain()
        .filter_map(|e| e.downcast_ref::<std::io::Error>())
        .any(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}

/// Writes text to stdout, returning write errors instead of panicking on them.
pub fn emit(text: &str) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}
