//! Where a call file's text fields live: in memory, or, once they outgrow a budget, in an
//! unnamed temporary file (written in large appends, read back a run of records at a time), so
//! that a file of millions of records holds little more than its fixed-size rows in memory.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

/// Bytes written to the temporary file at once.
const SPILL_WRITE_BYTES: usize = 1 << 20;

/// The text of a call file's records, one after another.
#[derive(Debug, Default)]
pub(super) struct TextStore {
    /// The text not written to `file` (all of it while there is no file).
    buffer: Vec<u8>,
    /// Bytes already in `file`.
    spilled: u64,
    file: Option<File>,
    /// The name the temporary file had before it was unlinked (for error messages).
    path: Option<PathBuf>,
    /// Bytes the buffer may hold before it goes to a temporary file (none: it never does).
    budget: Option<usize>,
}

impl TextStore {
    pub fn new(budget: Option<usize>) -> TextStore {
        TextStore {
            budget,
            ..TextStore::default()
        }
    }

    /// Bytes stored.
    pub fn len(&self) -> u64 {
        self.spilled + self.buffer.len() as u64
    }

    /// Appends text; `settle` decides, between records, where it stays.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// The text of another store, appended (it is in memory).
    pub fn append(&mut self, other: &TextStore) {
        self.buffer.extend_from_slice(&other.buffer);
    }

    /// Writes the buffer to the temporary file when over the budget (or, once there is a file,
    /// when a write's worth has gathered).
    pub fn settle(&mut self) -> std::io::Result<()> {
        let Some(budget) = self.budget else {
            return Ok(());
        };
        let limit = if self.file.is_some() {
            SPILL_WRITE_BYTES
        } else {
            budget
        };
        if self.buffer.len() < limit {
            return Ok(());
        }
        if self.file.is_none() {
            let (file, path) = temporary_file()?;
            self.file = Some(file);
            self.path = Some(path);
        }
        let file = self.file.as_mut().expect("created above");
        file.write_all(&self.buffer)?;
        self.spilled += self.buffer.len() as u64;
        self.buffer.clear();
        Ok(())
    }

    /// The `len` bytes at `start`: from memory, or read into `scratch`; an error names the
    /// temporary file.
    pub fn read<'s>(
        &'s self,
        start: u64,
        len: usize,
        scratch: &'s mut Vec<u8>,
    ) -> std::io::Result<&'s [u8]> {
        if start >= self.spilled {
            let from = (start - self.spilled) as usize;
            return Ok(&self.buffer[from..from + len]);
        }
        let file = self.file.as_ref().expect("spilled text has a file");
        scratch.clear();
        scratch.resize(len, 0);
        let in_file = len.min((self.spilled - start) as usize);
        file.read_exact_at(&mut scratch[..in_file], start)
            .map_err(|e| self.read_error(e))?;
        scratch[in_file..].copy_from_slice(&self.buffer[..len - in_file]);
        Ok(scratch)
    }

    /// An error reading the temporary file back, naming it.
    fn read_error(&self, e: std::io::Error) -> std::io::Error {
        let path = self.path.as_deref().unwrap_or(std::path::Path::new("?"));
        std::io::Error::new(
            e.kind(),
            format!(
                "cannot read back the call records' temporary file {} (unlinked): {e}",
                path.display()
            ),
        )
    }
}

/// A new file in the temporary directory, already unlinked (it goes when it is closed), and
/// the name it had.
fn temporary_file() -> std::io::Result<(File, PathBuf)> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir();
    for _ in 0..100 {
        let name = format!(
            "minutely-calls-{}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        );
        let path = dir.join(name);
        match File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(file) => {
                std::fs::remove_file(&path)?;
                return Ok((file, path));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other("no free temporary file name"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_temporary_file_that_does_not_read_back_is_an_error_naming_it() {
        let mut store = TextStore::new(Some(4));
        store.push(b"abcdefgh");
        store.settle().unwrap();
        assert_eq!(store.read(2, 3, &mut Vec::new()).unwrap(), b"cde");
        // A file that cannot be read stands for a disk that fails.
        let path = store.path.clone().unwrap();
        let unreadable = File::options()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        std::fs::remove_file(&path).unwrap();
        store.file = Some(unreadable);
        let error = store.read(2, 3, &mut Vec::new()).unwrap_err();
        let message = error.to_string();
        assert!(message.contains("temporary file"), "{message}");
        assert!(message.contains(&path.display().to_string()), "{message}");
    }
}
