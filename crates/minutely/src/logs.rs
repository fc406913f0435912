//! The server's log sink: lines are gathered in memory and written to stderr in runs, by a
//! flusher thread every `FLUSH_EVERY`, when `FLUSH_BYTES` are waiting, or at once, after
//! everything waiting, for a warning or an error (the writer logs its error before it stops the
//! process: that line and every one before it are out first). One request's log line then costs
//! a copy into a buffer instead of a system call.
//!
//! `JsonLines` writes each event as the JSON line of `tracing_subscriber`'s flattened JSON
//! format, byte for byte, into one buffer (that format goes through a generic serializer and
//! an adaptor for every token).

use std::fmt;
use std::io::Write;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{Format, Json, JsonFields, Writer};
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;

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

/// The lines of `tracing_subscriber::fmt().json().flatten_event(true)`, the same bytes: the
/// timestamp, the level, the event's fields in order, the target. An event inside a span (the
/// server opens none) is written by that format itself, which adds the spans.
pub struct JsonLines<T = SystemTime> {
    timer: T,
    spans: Format<Json, T>,
}

impl<T: FormatTime + Clone> JsonLines<T> {
    pub fn new(timer: T) -> JsonLines<T> {
        JsonLines {
            spans: Format::default()
                .json()
                .flatten_event(true)
                .with_timer(timer.clone()),
            timer,
        }
    }
}

/// The fields the `JsonLines` format expects: `tracing_subscriber`'s JSON fields (for spans).
pub type JsonLineFields = JsonFields;

impl<S, N, T> FormatEvent<S, N> for JsonLines<T>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'w> FormatFields<'w> + 'static,
    T: FormatTime,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let in_span = event
            .parent()
            .and_then(|id| ctx.span(id))
            .or_else(|| ctx.lookup_current())
            .is_some();
        if in_span {
            return self.spans.format_event(ctx, writer, event);
        }
        let mut timestamp = String::with_capacity(32);
        self.timer.format_time(&mut Writer::new(&mut timestamp))?;
        let meta = event.metadata();
        let mut line = Vec::with_capacity(256);
        line.extend_from_slice(b"{\"timestamp\":");
        json(&mut line, timestamp.as_str())?;
        line.extend_from_slice(b",\"level\":\"");
        line.extend_from_slice(meta.level().as_str().as_bytes());
        line.push(b'"');
        let mut fields = JsonFieldWriter {
            line,
            state: Ok(()),
        };
        event.record(&mut fields);
        let JsonFieldWriter { mut line, state } = fields;
        state?;
        line.extend_from_slice(b",\"target\":");
        json(&mut line, meta.target())?;
        line.extend_from_slice(b"}\n");
        let text = std::str::from_utf8(&line).map_err(|_| fmt::Error)?;
        writer.write_str(text)
    }
}

/// `value` as JSON, escaped exactly as `serde_json` escapes it.
fn json<V: serde::Serialize + ?Sized>(line: &mut Vec<u8>, value: &V) -> fmt::Result {
    serde_json::to_writer(line, value).map_err(|_| fmt::Error)
}

/// Writes `,"name":value` for every field of an event, as `tracing_serde`'s map visitor
/// serializes them (a value recorded as `Debug` or `Display` is the string it formats to).
struct JsonFieldWriter {
    line: Vec<u8>,
    /// The first failure: the event is not written.
    state: fmt::Result,
}

impl JsonFieldWriter {
    fn entry<V: serde::Serialize + ?Sized>(&mut self, field: &Field, value: &V) {
        if self.state.is_err() {
            return;
        }
        self.line.push(b',');
        self.state = json(&mut self.line, field.name()).and_then(|()| {
            self.line.push(b':');
            json(&mut self.line, value)
        });
    }
}

impl Visit for JsonFieldWriter {
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.entry(field, &value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.entry(field, &format_args!("{value:?}"));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.entry(field, &value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.entry(field, &value);
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.entry(field, &value);
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.entry(field, value);
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

    /// A clock that always says the same, with a character JSON escapes.
    #[derive(Clone)]
    struct FixedTime;

    impl FormatTime for FixedTime {
        fn format_time(&self, w: &mut Writer<'_>) -> fmt::Result {
            w.write_str("2026-12-07T05:00:00.123456Z \"fixed\"")
        }
    }

    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl<'a> MakeWriter<'a> for Lines {
        type Writer = Lines;

        fn make_writer(&'a self) -> Lines {
            self.clone()
        }
    }

    impl Write for Lines {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("unpoisoned").extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Lines {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().expect("unpoisoned").clone()).expect("UTF-8")
        }
    }

    /// Every kind of field and of text a line may carry, at every level, in and out of spans.
    fn events() {
        let strange =
            "quote \" backslash \\ tab \t nl \n cr \r bell \u{7} del \u{7f} \u{1f} é 日本 🎧";
        for control in 0u8..0x80 {
            let text = String::from(char::from(control));
            tracing::info!(text = text.as_str(), shown = %text, debugged = ?text, "c");
        }
        tracing::info!(
            request_id = %"4f2a91c0-0000002a",
            method = %"POST",
            route = %"/v1/tenants/{tenant}/calls/{call_id}/authorize",
            status = 200u16,
            micros = 1234u64,
            "request"
        );
        tracing::warn!(code = "store_busy", error = %strange, "cannot refresh keys");
        tracing::error!(
            negative = -5i64,
            big = u64::MAX,
            wide = i128::MIN,
            huge = u128::MAX,
            "{strange}"
        );
        tracing::debug!(yes = true, no = false, "debug line");
        tracing::trace!(
            x = 1.5f64,
            nan = f64::NAN,
            inf = f64::INFINITY,
            tiny = 1e-300f64,
            "t"
        );
        let error = std::io::Error::other("disk \"full\"");
        tracing::info!(error = &error as &dyn std::error::Error, "an error value");
        tracing::info!(message = "explicit", other = 1u64);
        tracing::info!(target: "custom::target \"q\"", dup = 1u64, dup = 2u64);
        tracing::info!("");
        let span = tracing::info_span!("outer", tenant = "acme");
        let _entered = span.enter();
        tracing::info!(inside = 1u64, "in a span");
    }

    /// `JsonLines` writes exactly the bytes of `tracing_subscriber`'s flattened JSON format.
    #[test]
    fn json_lines_are_the_flattened_json_format_byte_for_byte() {
        let expected = Lines::default();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(expected.clone())
            .with_timer(FixedTime)
            .json()
            .flatten_event(true)
            .finish();
        tracing::subscriber::with_default(subscriber, events);
        let written = Lines::default();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(written.clone())
            .fmt_fields(JsonLineFields::new())
            .event_format(JsonLines::new(FixedTime))
            .finish();
        tracing::subscriber::with_default(subscriber, events);
        let (expected, written) = (expected.text(), written.text());
        assert_eq!(expected.lines().count(), 128 + 10, "{expected}");
        assert!(expected.contains(r#""spans":[{"#), "{expected}");
        for (want, got) in expected.lines().zip(written.lines()) {
            assert_eq!(got, want);
        }
        assert_eq!(written, expected);
    }
}
