//! Replays a fuzz target's committed corpus through its check, on stable: every file of
//! `fuzz/corpus/<target>/` is checked, and all failures are listed together.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

/// The corpus directory of `target`, from the crate `manifest_dir` two levels below the root.
pub fn corpus_dir(manifest_dir: &str, target: &str) -> PathBuf {
    Path::new(manifest_dir)
        .join("../../fuzz/corpus")
        .join(target)
}

/// The files of `target`'s corpus, sorted by name; a missing or empty corpus fails the test,
/// since replaying nothing would prove nothing.
pub fn corpus(manifest_dir: &str, target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = corpus_dir(manifest_dir, target);
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("the corpus {} cannot be read: {e}", dir.display()));
    let mut files: Vec<(PathBuf, Vec<u8>)> = entries
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.is_file())
        .map(|path| {
            let data = std::fs::read(&path)
                .unwrap_or_else(|e| panic!("{} cannot be read: {e}", path.display()));
            (path, data)
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "the corpus {} is empty", dir.display());
    files
}

/// Runs `check` on every file of `target`'s corpus and fails naming each file it panicked on.
pub fn replay(manifest_dir: &str, target: &str, check: fn(&[u8])) {
    let failed: Vec<String> = corpus(manifest_dir, target)
        .into_iter()
        .filter(|(_, data)| catch_unwind(AssertUnwindSafe(|| check(data))).is_err())
        .map(|(path, _)| path.display().to_string())
        .collect();
    assert!(
        failed.is_empty(),
        "{target}: the check failed on {} input(s):\n{}",
        failed.len(),
        failed.join("\n")
    );
}
