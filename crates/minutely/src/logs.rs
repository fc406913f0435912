//! The server's log sink: lines are gathered in memory and written to stderr in runs, by a
//! flusher thread every `FLUSH_EVERY`, when `FLUSH_BYTES` are waiting, or at once, after
//! everything waiting, for a warning or an error (the writer logs its error before it stops the
//! process: that line and every one before it are out first). One request's log line then costs
//! a copy into a buffer instead of a system call.

use std::io::Write;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tracing_subscriber::fmt::MakeWriter;

/// How long a line may wait in memory.
const FLUSH_EVERY: Duration = Duration::from_millis(50);
/// Lines waiting past this many bytes are written by the thread that logs.
const FLUSH_BYTES: usize = 64 << 10;

/// Lines not yet written.
#[derive(Clone)]
pub struct LogSink {
    waiting: Arc<Mutex<Vec<u8>>>,
    /// Where lines go: stderr.
    out: Arc<Mutex<dyn Write + Send>>,
    /// No flusher thread: every line is written by the thread that logs it.
    direct: bool,
}

impl LogSink {
    /// A sink and its flusher thread, which lives as long as the process.
    pub fn start() -> LogSink {
        let mut sink = LogSink::to(Arc::new(Mutex::new(std::io::stderr())));
        let flusher = sink.clone();
        let started = std::thread::Builder::new()
            .name("minutely-logs".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(FLUSH_EVERY);
                    flusher.flush();
                }
            });
        sink.direct = started.is_err();
        sink
    }

    fn to(out: Arc<Mutex<dyn Write + Send>>) -> LogSink {
        LogSink {
            waiting: Arc::default(),
            out,
            direct: false,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<u8>> {
        // A thread that panicked while holding the lock left whole lines or none: keep going.
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes every waiting line to stderr.
    pub fn flush(&self) {
        let mut waiting = self.lock();
        self.write_out(&mut waiting);
    }

    fn write_out(&self, waiting: &mut Vec<u8>) {
        if waiting.is_empty() {
            return;
        }
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        // Stderr gone: the lines cannot go anywhere, and logging must not stop the server.
        let _ = out.write_all(waiting);
        let _ = out.flush();
        waiting.clear();
    }
}

/// One event's writer: an urgent one (a warning or an error) writes everything out on drop.
pub struct LineWriter {
    sink: LogSink,
    urgent: bool,
}

impl Write for LineWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut waiting = self.sink.lock();
        waiting.extend_from_slice(bytes);
        if self.sink.direct || waiting.len() >= FLUSH_BYTES {
            self.sink.write_out(&mut waiting);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        if self.urgent {
            self.sink.flush();
        }
    }
}

impl<'a> MakeWriter<'a> for LogSink {
    type Writer = LineWriter;

    fn make_writer(&'a self) -> LineWriter {
        LineWriter {
            sink: self.clone(),
            urgent: false,
        }
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> LineWriter {
        LineWriter {
            sink: self.clone(),
            urgent: *meta.level() <= tracing::Level::WARN,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Written = Arc<Mutex<Vec<u8>>>;

    fn sink() -> (LogSink, Written) {
        let written: Written = Arc::default();
        (LogSink::to(written.clone()), written)
    }

    fn writer(sink: &LogSink, urgent: bool) -> LineWriter {
        LineWriter {
            sink: sink.clone(),
            urgent,
        }
    }

    /// An information line waits; a warning writes it and itself out at once, in order.
    #[test]
    fn a_warning_writes_out_every_line_before_it() {
        let (sink, written) = sink();
        writeln!(writer(&sink, false), "an information line").expect("kept");
        assert!(written.lock().expect("unpoisoned").is_empty());
        writeln!(writer(&sink, true), "a warning").expect("kept");
        assert!(sink.lock().is_empty(), "the warning left lines waiting");
        assert_eq!(
            written.lock().expect("unpoisoned").as_slice(),
            b"an information line\na warning\n"
        );
    }

    /// Lines never wait past `FLUSH_BYTES`, none is lost, and without a flusher thread none
    /// waits.
    #[test]
    fn waiting_lines_are_bounded_and_kept() {
        let (sink, written) = sink();
        let line = [b'x'; 1000];
        let lines = 2 * FLUSH_BYTES / line.len();
        for _ in 0..lines {
            writer(&sink, false).write_all(&line).expect("kept");
            assert!(sink.lock().len() < FLUSH_BYTES);
        }
        sink.flush();
        assert_eq!(
            written.lock().expect("unpoisoned").len(),
            lines * line.len()
        );
        let (mut direct, written) = self::sink();
        direct.direct = true;
        writer(&direct, false).write_all(b"line\n").expect("kept");
        assert_eq!(written.lock().expect("unpoisoned").as_slice(), b"line\n");
    }
}
