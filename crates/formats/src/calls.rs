//! Call records CSV (`call_id,conference_id,organizer,direction,service_number,caller_number,
//! destination_number,start,end`, and an optional `tenant` that says whose record it is when one
//! file holds the records of several tenants), read into compact rows so that millions of
//! records can be put in canonical order (C22) before rating: each row holds the record's
//! instants and where its text is; the call ids stay in memory (the canonical order needs
//! them), the other text fields go to a temporary file once they outgrow `TEXT_BUDGET_BYTES`.

mod split;
mod text;

use crate::{ErrorList, FileErrors, instant};
use jiff::Timestamp;
use minutely_core::rating::{CallRecord, Direction};
use std::io::Read;

/// The columns (a file may order them freely and add others, which are ignored).
pub const HEADER: [&str; 9] = [
    "call_id",
    "conference_id",
    "organizer",
    "direction",
    "service_number",
    "caller_number",
    "destination_number",
    "start",
    "end",
];

/// The optional column naming a record's tenant (empty: the tenant is found otherwise).
pub const TENANT_COLUMN: &str = "tenant";

/// Longest call or conference id, in bytes.
pub const MAX_ID_BYTES: usize = 128;
/// Longest UPN, in bytes.
pub const MAX_UPN_BYTES: usize = 256;
/// Longest number as written (separators included), in bytes.
pub const MAX_NUMBER_BYTES: usize = 64;
/// The most records one file may hold.
pub const MAX_RECORDS: usize = 100_000_000;

/// Records split off the input before they are checked in parallel (by the CSV reader).
const BATCH_RECORDS: usize = 16384;

/// Bytes of whole lines split into records and checked in parallel at once (tests cut their
/// files into many blocks).
const BLOCK_BYTES: usize = if cfg!(test) { 64 << 10 } else { 4 << 20 };

/// The text fields kept per record: the call id, then those of `TextStore`.
const TEXT_FIELDS: [usize; 6] = [0, 1, 2, 4, 5, 6];

/// Text (other than call ids) a call file keeps in memory; past it, the text goes to a
/// temporary file.
pub const TEXT_BUDGET_BYTES: usize = 16 << 20;

/// One record: its instants and where its text lives.
#[derive(Debug, Clone, Copy)]
struct Row {
    start_ns: i64,
    end_ns: i64,
    /// Offset of the call id in `CallFile::ids`.
    id_base: u64,
    /// Offset of the other text fields in `CallFile::text`.
    base: u64,
    /// Lengths of call_id, conference_id, service, caller, destination and tenant (each at
    /// most `MAX_ID_BYTES`).
    lens: [u8; 6],
    /// Length of the organizer (at most `MAX_UPN_BYTES`).
    organizer_len: u16,
    line: u32,
    direction: Direction,
}

impl Row {
    /// Lengths of the fields in `CallFile::text`: conference_id, organizer, service, caller,
    /// destination and tenant.
    fn text_lens(&self) -> [usize; 6] {
        let l = self.lens.map(usize::from);
        [
            l[1],
            usize::from(self.organizer_len),
            l[2],
            l[3],
            l[4],
            l[5],
        ]
    }

    fn text_len(&self) -> usize {
        self.text_lens().iter().sum()
    }
}

/// A whole file of call records.
#[derive(Debug, Default)]
pub struct CallFile {
    /// The call ids, one after another (checked UTF-8 once, on read).
    ids: String,
    /// The other text fields of every record, one after another (checked UTF-8 on read).
    text: text::TextStore,
    rows: Vec<Row>,
    /// Whether the header has the `tenant` column.
    tenant_column: bool,
}

/// Where each column is in a file's header.
struct Columns {
    /// The required columns, in `HEADER` order.
    required: [usize; 9],
    /// The optional `tenant` column.
    tenant: Option<usize>,
}

fn to_ns(at: Timestamp) -> Option<i64> {
    i64::try_from(at.as_nanosecond()).ok()
}

fn from_ns(ns: i64) -> Timestamp {
    Timestamp::from_nanosecond(i128::from(ns)).expect("stored instants are valid")
}

impl CallFile {
    /// Reads a call-record file; any bad row refuses it whole, with every bad row listed.
    /// `progress` is told the bytes read so far, now and then. Uses every core (`read_on`).
    pub fn read(input: impl Read, progress: impl FnMut(u64)) -> Result<CallFile, FileErrors> {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        CallFile::read_on(input, threads, Some(TEXT_BUDGET_BYTES), progress)
    }

    /// `read`, checking records on `threads` threads: records are split off the input in
    /// batches, in order, and each batch's records are checked and stored in parallel parts
    /// joined in order, so the file and its errors are the same on any number of threads.
    /// Text past `text_budget` bytes (none: no bound) goes to a temporary file.
    pub fn read_on(
        input: impl Read,
        threads: usize,
        text_budget: Option<usize>,
        mut progress: impl FnMut(u64),
    ) -> Result<CallFile, FileErrors> {
        let mut errors = ErrorList::default();
        let mut lines = split::Lines::new(input);
        let header = match lines.plain_header() {
            Ok(header) => header,
            Err(e) => {
                errors.push(1, "", csv::Error::from(e).to_string());
                return errors.finish("call records", CallFile::default());
            }
        };
        let file = match header {
            Some(header) => {
                let reader = csv_reader(&header[..], true);
                CallFile::with_columns(reader, &mut errors, threads, text_budget, &mut progress, {
                    |file, _, read| file.read_blocks(lines, read)
                })
            }
            None => {
                let reader = csv_reader(lines.into_rest(), true);
                CallFile::with_columns(reader, &mut errors, threads, text_budget, &mut progress, {
                    |file, mut reader, read| file.read_records(&mut reader, (1, 0), read)
                })
            }
        };
        errors.finish("call records", file.unwrap_or_default())
    }

    /// Reads the header line with `reader`, then the records with `body` (`None`: the header
    /// was refused, its errors listed).
    fn with_columns<R: Read>(
        mut reader: csv::Reader<R>,
        errors: &mut ErrorList,
        threads: usize,
        text_budget: Option<usize>,
        progress: &mut dyn FnMut(u64),
        body: impl FnOnce(&mut CallFile, csv::Reader<R>, &mut Reading<'_>),
    ) -> Option<CallFile> {
        let columns = columns_of(&mut reader, errors)?;
        let mut file = CallFile::new(&columns, text_budget);
        let mut read = Reading {
            columns: &columns,
            threads,
            errors,
            progress,
        };
        body(&mut file, reader, &mut read);
        Some(file)
    }

    fn new(columns: &Columns, text_budget: Option<usize>) -> CallFile {
        CallFile {
            tenant_column: columns.tenant.is_some(),
            text: text::TextStore::new(text_budget),
            ..CallFile::default()
        }
    }

    /// Reads the input block by block, each block's records split and checked in parallel,
    /// until a block holds a quote or a carriage return: the CSV reader takes the rest.
    fn read_blocks(&mut self, mut lines: split::Lines<impl Read>, read: &mut Reading<'_>) {
        loop {
            let rows_before = self.rows.len();
            let next = match lines.next_block(BLOCK_BYTES) {
                Ok(next) => next,
                Err(e) => {
                    let line = lines.next_line();
                    read.errors.push(line, "", csv::Error::from(e).to_string());
                    return;
                }
            };
            match next {
                split::Next::Done => break,
                split::Next::Quoted => {
                    let at = (lines.next_line(), lines.consumed());
                    let mut reader = csv_reader(lines.into_rest(), false);
                    self.read_records(&mut reader, at, read);
                    return;
                }
                split::Next::Block { bytes, first_line } => {
                    let (stored, newlines) = if rows_before + bytes.len() < MAX_RECORDS {
                        (true, self.push_block(bytes, first_line, read))
                    } else {
                        self.push_block_each(bytes, first_line, read)
                    };
                    if !stored {
                        return;
                    }
                    lines.passed(newlines);
                }
            }
            if let Err(e) = self.text.settle() {
                let line = lines.next_line() - 1;
                read.errors
                    .push(line, "", format!("cannot keep the records: {e}"));
                return;
            }
            (read.progress)(lines.consumed());
        }
        (read.progress)(lines.consumed());
    }

    /// Splits and checks the records of a block (whole lines, no quote) on up to `threads`
    /// threads, each a part cut at a line border, and stores them in order; the lines the
    /// block ends.
    fn push_block(&mut self, bytes: &[u8], first_line: usize, read: &mut Reading<'_>) -> usize {
        let columns = read.columns;
        let pieces = split::at_lines(bytes, read.threads);
        let parts: Vec<(CallFile, ErrorList, usize)> = std::thread::scope(|scope| {
            let mut pieces = pieces.iter();
            let first = pieces.next().expect("a block is not empty");
            let others: Vec<_> = pieces
                .map(|piece| scope.spawn(move || CallFile::split_part(piece, columns)))
                .collect();
            let mut parts = vec![CallFile::split_part(first, columns)];
            for other in others {
                parts.push(other.join().expect("checking records does not panic"));
            }
            parts
        });
        // Each part counted its lines from 1: they move to where the part starts.
        let mut part_line = first_line;
        for (mut part, mut part_errors, newlines) in parts {
            let offset = part_line - 1;
            for row in &mut part.rows {
                row.line += offset as u32;
            }
            for error in &mut part_errors.errors {
                error.line += offset;
            }
            self.append_part(part, part_errors, read.errors);
            part_line += newlines;
        }
        part_line - first_line
    }

    /// A piece of a block (whole lines, no quote, no carriage return) split into records as
    /// the CSV reader splits them (`split::plain_records`), checked and stored on its own,
    /// their lines counted from the piece's first; and the lines the piece ends.
    fn split_part(piece: &[u8], columns: &Columns) -> (CallFile, ErrorList, usize) {
        let mut part = CallFile::default();
        let mut errors = ErrorList::default();
        let newlines = split::plain_records(piece, |record, line| {
            part.push(record, columns, line, &mut errors);
        });
        (part, errors, newlines)
    }

    /// `push_block` one record at a time up to `MAX_RECORDS`: whether the file holds no more,
    /// and the lines the block ends.
    fn push_block_each(
        &mut self,
        bytes: &[u8],
        first_line: usize,
        read: &mut Reading<'_>,
    ) -> (bool, usize) {
        let mut reader = csv_reader(bytes, false);
        let (mut batch, mut line) = (Vec::new(), first_line - 1);
        loop {
            let (filled, _) = next_batch(&mut reader, &mut batch, (&mut line, first_line));
            if !self.push_each(&batch[..filled], read.columns, read.errors) {
                return (false, 0);
            }
            if filled < BATCH_RECORDS {
                return (true, reader.position().line() as usize - 1);
            }
        }
    }

    /// Reads the records of a CSV reader whose first line is `at.0` of the file and which
    /// starts `at.1` bytes into it, in batches checked in parallel.
    fn read_records(
        &mut self,
        reader: &mut csv::Reader<impl Read>,
        at: (usize, u64),
        read: &mut Reading<'_>,
    ) {
        let (first_line, first_byte) = at;
        let mut batch: Vec<(csv::ByteRecord, usize)> = Vec::new();
        let mut line = first_line.max(2) - 1;
        let mut done = false;
        while !done {
            let (filled, failed) = next_batch(reader, &mut batch, (&mut line, first_line));
            done = filled < BATCH_RECORDS || failed.is_some();
            let batch = &batch[..filled];
            if self.rows.len() + batch.len() < MAX_RECORDS {
                self.push_batch(batch, read.columns, read.threads, read.errors);
            } else if !self.push_each(batch, read.columns, read.errors) {
                break;
            }
            if let Err(e) = self.text.settle() {
                read.errors
                    .push(line, "", format!("cannot keep the records: {e}"));
                break;
            }
            if let Some((line, reason)) = failed {
                read.errors.push(line, "", reason);
            }
            (read.progress)(first_byte + reader.position().byte());
        }
        (read.progress)(first_byte + reader.position().byte());
    }

    /// Checks and stores a batch of records on up to `threads` threads.
    fn push_batch(
        &mut self,
        batch: &[(csv::ByteRecord, usize)],
        columns: &Columns,
        threads: usize,
        errors: &mut ErrorList,
    ) {
        if batch.is_empty() {
            return;
        }
        let part_len = batch.len().div_ceil(threads.max(1));
        let mut chunks = batch.chunks(part_len);
        let first = chunks.next().expect("a batch is not empty");
        let parts: Vec<(CallFile, ErrorList)> = std::thread::scope(|scope| {
            let others: Vec<_> = chunks
                .map(|chunk| scope.spawn(move || CallFile::part(chunk, columns)))
                .collect();
            let mut parts = vec![CallFile::part(first, columns)];
            for other in others {
                parts.push(other.join().expect("checking records does not panic"));
            }
            parts
        });
        for (part, part_errors) in parts {
            self.append_part(part, part_errors, errors);
        }
    }

    /// Appends the records and errors of a part checked on its own.
    fn append_part(&mut self, part: CallFile, part_errors: ErrorList, errors: &mut ErrorList) {
        let (id_offset, offset) = (self.ids.len() as u64, self.text.len());
        self.ids.push_str(&part.ids);
        self.text.append(&part.text);
        self.rows.extend(part.rows.into_iter().map(|row| Row {
            id_base: row.id_base + id_offset,
            base: row.base + offset,
            ..row
        }));
        errors.errors.extend(part_errors.errors);
        errors.more += part_errors.more;
        errors.truncate_listed();
    }

    /// A batch's records checked and stored on their own.
    fn part(batch: &[(csv::ByteRecord, usize)], columns: &Columns) -> (CallFile, ErrorList) {
        let mut part = CallFile::default();
        let mut errors = ErrorList::default();
        for (record, line) in batch {
            part.push(record, columns, *line, &mut errors);
        }
        (part, errors)
    }

    /// Checks and stores records one by one up to `MAX_RECORDS`; false when the file holds
    /// more (the record after the last is refused).
    fn push_each(
        &mut self,
        batch: &[(csv::ByteRecord, usize)],
        columns: &Columns,
        errors: &mut ErrorList,
    ) -> bool {
        for (record, line) in batch {
            if self.rows.len() >= MAX_RECORDS {
                errors.push(
                    *line,
                    "",
                    format!("a file holds at most {MAX_RECORDS} records"),
                );
                return false;
            }
            self.push(record, columns, *line, errors);
        }
        true
    }

    fn push(
        &mut self,
        record: &impl split::Fields,
        columns: &Columns,
        line: usize,
        errors: &mut ErrorList,
    ) {
        // Numbers are read back as `write_number_text` guarded them (`'=...` is `=...`).
        let field = |i: usize| {
            let value = record.field(columns.required[i]).unwrap_or(b"");
            if (4..=6).contains(&i) {
                crate::unguard(value)
            } else {
                value
            }
        };
        let count_before = errors.len();
        let limits = [
            MAX_ID_BYTES,
            MAX_ID_BYTES,
            MAX_UPN_BYTES,
            0,
            MAX_NUMBER_BYTES,
            MAX_NUMBER_BYTES,
            MAX_NUMBER_BYTES,
        ];
        // Each text field's UTF-8 is checked here, once: `texts` holds the fields that are.
        let mut texts = [""; 7];
        for &i in &TEXT_FIELDS {
            let value = field(i);
            match std::str::from_utf8(value) {
                Err(_) => errors.push(line, HEADER[i], "not valid UTF-8"),
                Ok(_) if value.len() > limits[i] => {
                    errors.push(line, HEADER[i], format!("longer than {} bytes", limits[i]));
                }
                Ok(text) => texts[i] = text,
            }
        }
        for i in [0usize, 2] {
            if field(i).iter().all(u8::is_ascii_whitespace) {
                errors.push(line, HEADER[i], "must not be empty");
            }
        }
        if errors.len() == count_before {
            check_identifiers(&texts, line, errors);
        }
        let tenant = columns.tenant.and_then(|c| record.field(c)).unwrap_or(b"");
        check_tenant(tenant, line, errors);
        let direction = match field(3) {
            b"dial_in" => Some(Direction::DialIn),
            b"dial_out" => Some(Direction::DialOut),
            other => {
                errors.push(
                    line,
                    "direction",
                    format!(
                        "{:?} is not dial_in or dial_out",
                        String::from_utf8_lossy(other)
                    ),
                );
                None
            }
        };
        let mut when = |i: usize| {
            let parsed = match instant::parse_utc_second(field(i)) {
                Some(at) => Ok(at),
                None => instant::parse(&text_of(field(i))),
            };
            match parsed.map(to_ns) {
                Ok(Some(ns)) => Some(ns),
                Ok(None) => {
                    errors.push(line, HEADER[i], "out of the supported range of instants");
                    None
                }
                Err(e) => {
                    errors.push(line, HEADER[i], e);
                    None
                }
            }
        };
        let (start_ns, end_ns) = (when(7), when(8));
        if errors.len() != count_before {
            return;
        }
        let (id_base, base) = (self.ids.len() as u64, self.text.len());
        let [id, conference, organizer, service, caller, destination] = TEXT_FIELDS.map(field);
        self.ids.push_str(texts[0]);
        for value in [conference, organizer, service, caller, destination, tenant] {
            self.text.push(value);
        }
        // Each length was checked against its bound (at most 256) above.
        let lens = [id, conference, service, caller, destination, tenant].map(|v| v.len() as u8);
        self.rows.push(Row {
            start_ns: start_ns.expect("checked"),
            end_ns: end_ns.expect("checked"),
            id_base,
            base,
            lens,
            organizer_len: organizer.len() as u16,
            line: line as u32,
            direction: direction.expect("checked"),
        });
    }

    /// How many records.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    fn call_id(&self, row: &Row) -> &[u8] {
        let start = row.id_base as usize;
        &self.ids.as_bytes()[start..start + usize::from(row.lens[0])]
    }

    /// C22: puts the records in canonical order (start, then call_id); records with the same
    /// start and call_id keep their file order (the first is the first submission, C37).
    pub fn sort_canonical(&mut self) {
        let key_order = |a: &Row, b: &Row| {
            a.start_ns
                .cmp(&b.start_ns)
                .then_with(|| self.call_id(a).cmp(self.call_id(b)))
        };
        if self.rows.is_sorted_by(|a, b| key_order(a, b).is_le()) {
            return;
        }
        let mut rows = std::mem::take(&mut self.rows);
        rows.sort_by(|a, b| {
            a.start_ns
                .cmp(&b.start_ns)
                .then_with(|| self.call_id(a).cmp(self.call_id(b)))
        });
        self.rows = rows;
    }

    /// The call id of record `index`.
    pub fn call_id_of(&self, index: usize) -> &str {
        let row = &self.rows[index];
        let start = row.id_base as usize;
        &self.ids[start..start + usize::from(row.lens[0])]
    }

    /// Whether the file has the `tenant` column.
    pub fn has_tenant_column(&self) -> bool {
        self.tenant_column
    }

    /// The tenant record `index` names (empty when it names none).
    pub fn tenant(&self, index: usize) -> std::io::Result<String> {
        let (mut record, mut tenant) = (empty_record(), String::new());
        self.fill_run(index, [(&mut record, &mut tenant)])?;
        Ok(tenant)
    }

    /// The file line of record `index`.
    pub fn line(&self, index: usize) -> usize {
        self.rows[index].line as usize
    }

    /// Copies record `index` into `out`, reusing its strings' memory.
    pub fn fill(&self, index: usize, out: &mut CallRecord) -> std::io::Result<()> {
        let mut tenant = String::new();
        self.fill_run(index, [(out, &mut tenant)])
    }

    /// Copies the records from `first` on into `targets` (a record and its tenant each),
    /// reusing their strings' memory; a run whose text is stored in one piece (a file read in
    /// canonical order) is read at once. An error reading the temporary file back names it.
    pub fn fill_run<'t>(
        &self,
        first: usize,
        targets: impl IntoIterator<Item = (&'t mut CallRecord, &'t mut String)>,
    ) -> std::io::Result<()> {
        let targets: Vec<_> = targets.into_iter().collect();
        let rows = &self.rows[first..first + targets.len()];
        let whole = rows
            .windows(2)
            .all(|w| w[0].base + w[0].text_len() as u64 == w[1].base);
        let (mut scratch, mut own) = (Vec::new(), Vec::new());
        let run = match (whole, rows.first(), rows.last()) {
            (true, Some(a), Some(z)) => {
                let len = (z.base - a.base) as usize + z.text_len();
                Some((a.base, self.text.read(a.base, len, &mut scratch)?))
            }
            _ => None,
        };
        for ((record, tenant), row) in targets.into_iter().zip(rows) {
            let text = match run {
                Some((start, text)) => {
                    let from = (row.base - start) as usize;
                    &text[from..from + row.text_len()]
                }
                None => self.text.read(row.base, row.text_len(), &mut own)?,
            };
            self.fill_row(row, text, record, tenant);
        }
        Ok(())
    }

    fn fill_row(&self, row: &Row, text: &[u8], out: &mut CallRecord, tenant: &mut String) {
        let text = text_of(text);
        let id_start = row.id_base as usize;
        out.call_id.clear();
        out.call_id
            .push_str(&self.ids[id_start..id_start + usize::from(row.lens[0])]);
        let targets: [&mut String; 6] = [
            &mut out.conference_id,
            &mut out.organizer,
            &mut out.service_number,
            &mut out.caller_number,
            &mut out.destination_number,
            tenant,
        ];
        let mut offset = 0;
        for (target, len) in targets.into_iter().zip(row.text_lens()) {
            target.clear();
            target.push_str(&text[offset..offset + len]);
            offset += len;
        }
        out.direction = row.direction;
        out.start = from_ns(row.start_ns);
        out.end = from_ns(row.end_ns);
    }

    /// The records of `range` as new values, their text read in one run.
    pub fn records(&self, range: std::ops::Range<usize>) -> std::io::Result<Vec<CallRecord>> {
        let mut records: Vec<CallRecord> = range.clone().map(|_| empty_record()).collect();
        let mut tenants = vec![String::new(); records.len()];
        self.fill_run(range.start, records.iter_mut().zip(&mut tenants))?;
        Ok(records)
    }

    /// Record `index` as a new value.
    pub fn get(&self, index: usize) -> std::io::Result<CallRecord> {
        let mut record = empty_record();
        self.fill(index, &mut record)?;
        Ok(record)
    }
}

/// `bytes` as text (`String::from_utf8_lossy`), borrowed without a copy when it is UTF-8.
fn text_of(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// A CSV reader of call records (the header is the first record when `headers`).
fn csv_reader<R: Read>(input: R, headers: bool) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .has_headers(headers)
        .flexible(true)
        .from_reader(input)
}

/// Where each column is, from the reader's header; none (and the error listed) when the
/// header cannot be read or lacks a column.
fn columns_of(reader: &mut csv::Reader<impl Read>, errors: &mut ErrorList) -> Option<Columns> {
    let columns = match reader.byte_headers() {
        Ok(h) => HEADER.map(|name| h.iter().position(|c| c == name.as_bytes())),
        Err(e) => {
            errors.push(1, "", e.to_string());
            return None;
        }
    };
    let missing: Vec<&str> = HEADER
        .iter()
        .zip(columns)
        .filter(|(_, c)| c.is_none())
        .map(|(n, _)| *n)
        .collect();
    if !missing.is_empty() {
        let needs = HEADER.join(",");
        let reason = format!("the header lacks {}; it needs {needs}", missing.join(", "));
        errors.push(1, "", reason);
        return None;
    }
    Some(Columns {
        required: columns.map(|c| c.expect("checked above")),
        tenant: reader
            .byte_headers()
            .ok()
            .and_then(|h| h.iter().position(|c| c == TENANT_COLUMN.as_bytes())),
    })
}

/// What reading the records needs besides the file.
struct Reading<'r> {
    columns: &'r Columns,
    threads: usize,
    errors: &'r mut ErrorList,
    progress: &'r mut dyn FnMut(u64),
}

/// Reads up to `BATCH_RECORDS` records into `batch` (reusing its records), each with its line
/// (`line`: the last record's line so far; the reader's first line is the file's
/// `first_line`); how many, and the error that stopped the reading.
fn next_batch(
    reader: &mut csv::Reader<impl Read>,
    batch: &mut Vec<(csv::ByteRecord, usize)>,
    (line, first_line): (&mut usize, usize),
) -> (usize, Option<(usize, String)>) {
    let mut filled = 0;
    while filled < BATCH_RECORDS {
        if filled == batch.len() {
            batch.push((csv::ByteRecord::new(), 0));
        }
        let (record, at) = &mut batch[filled];
        match reader.read_byte_record(record) {
            Ok(true) => {}
            Ok(false) => return (filled, None),
            Err(e) => return (filled, Some((*line + 1, e.to_string()))),
        }
        *line = record
            .position()
            .map_or(*line + 1, |p| first_line + p.line() as usize - 1);
        *at = *line;
        filled += 1;
    }
    (filled, None)
}

/// A record with empty fields, to be filled.
pub fn empty_record() -> CallRecord {
    CallRecord {
        call_id: String::new(),
        conference_id: String::new(),
        organizer: String::new(),
        direction: Direction::DialIn,
        service_number: String::new(),
        caller_number: String::new(),
        destination_number: String::new(),
        start: Timestamp::UNIX_EPOCH,
        end: Timestamp::UNIX_EPOCH,
    }
}

/// Appends one record as a CSV line.
pub fn write_record(out: &mut Vec<u8>, r: &CallRecord) {
    for text in [&r.call_id, &r.conference_id, &r.organizer] {
        crate::write_text(out, text);
        out.push(b',');
    }
    out.extend_from_slice(r.direction.as_str().as_bytes());
    for text in [&r.service_number, &r.caller_number, &r.destination_number] {
        out.push(b',');
        crate::write_number_text(out, text);
    }
    out.push(b',');
    instant::write(out, r.start);
    out.push(b',');
    instant::write(out, r.end);
    out.push(b'\n');
}

/// The identifier grammars (`minutely_core::ident`) of a record's call id, conference id and
/// organizer (`texts`, in `HEADER` order, each field's UTF-8 checked).
fn check_identifiers(texts: &[&str; 7], line: usize, errors: &mut ErrorList) {
    use minutely_core::ident;
    let checks = [
        ident::call_id(HEADER[0], texts[0]).err(),
        ident::optional_conference_id(HEADER[1], texts[1]).err(),
        ident::organizer(HEADER[2], texts[2]).err(),
    ];
    for (bad, i) in checks.into_iter().zip([0usize, 1, 2]) {
        if let Some(bad) = bad {
            errors.push(line, HEADER[i], bad.to_string());
        }
    }
}

/// The `tenant` column, when not empty, holds a tenant id (`minutely_core::ident::tenant_id`).
fn check_tenant(value: &[u8], line: usize, errors: &mut ErrorList) {
    if value.is_empty() {
        return;
    }
    if value.len() > MAX_ID_BYTES {
        errors.push(
            line,
            TENANT_COLUMN,
            format!("longer than {MAX_ID_BYTES} bytes"),
        );
        return;
    }
    match std::str::from_utf8(value) {
        Err(_) => errors.push(line, TENANT_COLUMN, "not valid UTF-8"),
        Ok(text) => {
            if let Err(bad) = minutely_core::ident::tenant_id(TENANT_COLUMN, text) {
                errors.push(line, TENANT_COLUMN, bad.to_string());
            }
        }
    }
}

/// The header line.
pub fn header_line() -> String {
    format!("{}\n", HEADER.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_sorts_canonically_and_round_trips() {
        let input = "call_id,conference_id,organizer,direction,service_number,caller_number,destination_number,start,end
b,conf,Ana@X.com,dial_out,,,+33 1 42 68 53 00,2026-01-05T10:00:00Z,2026-01-05T10:01:01Z
a,conf,ana@x.com,dial_in,+33142685300,\"+1 212 555 0100\",,2026-01-05T10:00:00Z,2026-01-05T10:00:30Z
c,conf,ana@x.com,dial_in,+33142685300,,,2026-01-05T09:00:00Z,2026-01-05T09:00:30Z
";
        let mut file = CallFile::read(input.as_bytes(), |_| {}).unwrap();
        file.sort_canonical();
        let ids: Vec<String> = (0..file.len())
            .map(|i| file.get(i).unwrap().call_id)
            .collect();
        assert_eq!(ids, ["c", "a", "b"]);
        assert_eq!(file.line(0), 4);
        let mut out = header_line().into_bytes();
        for i in 0..file.len() {
            write_record(&mut out, &file.get(i).unwrap());
        }
        let again = CallFile::read(&out[..], |_| {}).unwrap();
        assert_eq!(
            (0..3).map(|i| again.get(i).unwrap()).collect::<Vec<_>>(),
            (0..3).map(|i| file.get(i).unwrap()).collect::<Vec<_>>()
        );
    }

    #[test]
    fn every_bad_row_is_listed() {
        let input = "call_id,conference_id,organizer,direction,service_number,caller_number,destination_number,start,end
,conf,ana@x.com,dial_in,+33142685300,,,2026-01-05T10:00:00Z,2026-01-05T10:01:00Z
x,conf,ana@x.com,sideways,+33142685300,,,2026-01-05T10:00:00Z,2026-01-05T10:01:00Z
y,conf,ana@x.com,dial_in,+33142685300,,,soon,2026-01-05T10:01:00Z
z,conf,,dial_in,+33142685300,,,2026-01-05T10:00:00Z,2026-01-05T10:01:00Z
";
        let err = CallFile::read(input.as_bytes(), |_| {}).unwrap_err();
        let found: Vec<(usize, &str)> = err
            .errors
            .iter()
            .map(|e| (e.line, e.column.as_str()))
            .collect();
        assert_eq!(
            found,
            vec![
                (2, "call_id"),
                (3, "direction"),
                (4, "start"),
                (5, "organizer")
            ]
        );
        let missing = CallFile::read("call_id,start\n".as_bytes(), |_| {}).unwrap_err();
        assert!(missing.errors[0].reason.contains("conference_id"));
    }

    #[test]
    fn the_optional_tenant_column_names_each_records_tenant() {
        let input = "tenant,call_id,conference_id,organizer,direction,service_number,caller_number,destination_number,start,end
fabrikam,b,conf,ana@x.com,dial_in,+33142685300,,,2026-01-05T10:00:00Z,2026-01-05T10:01:01Z
,a,conf,ana@x.com,dial_in,+33142685300,,,2026-01-05T09:00:00Z,2026-01-05T09:00:30Z
";
        let mut file = CallFile::read(input.as_bytes(), |_| {}).unwrap();
        assert!(file.has_tenant_column());
        file.sort_canonical();
        assert_eq!(
            (
                file.tenant(0).unwrap().as_str(),
                file.get(0).unwrap().call_id.as_str()
            ),
            ("", "a")
        );
        assert_eq!(
            (
                file.tenant(1).unwrap().as_str(),
                file.get(1).unwrap().call_id.as_str()
            ),
            ("fabrikam", "b")
        );
        assert_eq!(file.get(1).unwrap().organizer, "ana@x.com");
        // Without the column, every record names no tenant.
        let plain = input
            .replace("tenant,", "")
            .replace("fabrikam,", "")
            .replace("\n,a", "\na");
        let file = CallFile::read(plain.as_bytes(), |_| {}).unwrap();
        assert!(!file.has_tenant_column());
        assert_eq!(
            (
                file.tenant(0).unwrap().as_str(),
                file.tenant(1).unwrap().as_str()
            ),
            ("", "")
        );
        // A value that is not a tenant id is named by line and column.
        let bad = input.replace("fabrikam,", "=cmd|x,");
        let err = CallFile::read(bad.as_bytes(), |_| {}).unwrap_err();
        assert_eq!(
            (err.errors[0].line, err.errors[0].column.as_str()),
            (2, "tenant")
        );
        assert!(err.to_string().contains("=cmd|x"), "{err}");
    }

    fn many_records(count: usize, bad_lines: &[usize]) -> String {
        let mut input = header_line();
        for i in 0..count {
            let direction = if bad_lines.contains(&(i + 2)) {
                "sideways"
            } else {
                "dial_in"
            };
            input += &format!(
                "c{:05},conf{},u{}@x.com,{direction},+33142685300,+1 212 555 {:04},,2026-01-05T10:{:02}:00Z,2026-01-05T11:00:00Z\n",
                (i * 7919) % count,
                i % 13,
                i % 7,
                i % 10_000,
                (i * 31) % 60
            );
        }
        input
    }

    /// Records whose text went to the temporary file read back as those kept in memory, in
    /// canonical order too (C22).
    #[test]
    fn text_past_the_budget_reads_back_from_a_temporary_file() {
        let input = many_records(5000, &[]);
        let mut memory = CallFile::read_on(input.as_bytes(), 1, None, |_| {}).unwrap();
        let mut spilled = CallFile::read_on(input.as_bytes(), 2, Some(1000), |_| {}).unwrap();
        assert!(spilled.text.len() > 100_000);
        memory.sort_canonical();
        spilled.sort_canonical();
        assert_eq!(memory.len(), 5000);
        for i in 0..5000 {
            assert_eq!(memory.get(i).unwrap(), spilled.get(i).unwrap());
            assert_eq!(memory.line(i), spilled.line(i));
        }
        assert_eq!(memory.get(0).unwrap().call_id, "c00000");
        // A run read at once is the records read one by one.
        let run = spilled.records(1000..4000).unwrap();
        assert_eq!(run.len(), 3000);
        for (n, record) in run.iter().enumerate() {
            assert_eq!(record, &memory.get(1000 + n).unwrap());
        }
    }

    /// Everything a read gives: each record with its line, or the errors.
    fn read_all(input: &str, threads: usize) -> Result<Vec<(CallRecord, usize)>, String> {
        match CallFile::read_on(input.as_bytes(), threads, None, |_| {}) {
            Ok(file) => Ok((0..file.len())
                .map(|i| (file.get(i).unwrap(), file.line(i)))
                .collect()),
            Err(e) => Err(format!("{:?} {}", e.errors, e.more)),
        }
    }

    /// Records split from blocks of whole lines in parallel are those the CSV reader splits
    /// alone (a quoted header sends the whole file to it), with the same lines and errors:
    /// with blank lines, a quoted field or a carriage return part way (the CSV reader takes
    /// the rest from there), bad rows and no last line end.
    #[test]
    fn records_split_in_blocks_are_those_the_csv_reader_splits() {
        let plain = many_records(40_000, &[5, 20_000, 39_000]);
        let good = many_records(40_000, &[]);
        let mut lines: Vec<&str> = good.lines().collect();
        lines.insert(100, "");
        lines.insert(35_000, "");
        let blanks = lines.join("\n") + "\n";
        let mut quoted_lines: Vec<String> = good.lines().map(String::from).collect();
        quoted_lines[30_000] = quoted_lines[30_000].replacen(",conf", ",\"co,nf\"", 1);
        let quoted = quoted_lines.join("\n") + "\n";
        let (head, tail) = good.split_at(good.len() / 4 * 3);
        let carriage = format!("{head}{}", tail.replace('\n', "\r\n"));
        let unended = good.trim_end().to_string();
        let header = header_line();
        let quoted_header = header.replacen("call_id", "\"call_id\"", 1);
        for (name, input) in [
            ("bad rows", &plain),
            ("blank lines", &blanks),
            ("quoted field", &quoted),
            ("carriage returns", &carriage),
            ("no last line end", &unended),
        ] {
            let by_csv = input.replacen(&header, &quoted_header, 1);
            assert_ne!(&by_csv, input);
            for threads in [1, 3] {
                let blocks = read_all(input, threads);
                assert!(
                    blocks == read_all(&by_csv, threads),
                    "{name}, {threads} threads"
                );
                assert!(blocks.is_err() == (name == "bad rows"), "{name}");
            }
        }
    }

    /// Runs of blank lines everywhere, and a bad row after many of them: every record and
    /// every error keeps the line the CSV reader alone gives it, on any number of threads,
    /// wherever the blocks and their pieces are cut.
    #[test]
    fn records_after_blank_lines_keep_their_lines_wherever_the_input_is_cut() {
        let bad: Vec<usize> = (0..8_000).filter(|i| i % 199 == 3).map(|i| i + 2).collect();
        for bad in [&bad[..], &[]] {
            let mut input = String::new();
            for (i, line) in many_records(8_000, bad).lines().enumerate() {
                input += line;
                input.push('\n');
                // After the header and each record, 0 to 6 blank lines.
                input += &"\n".repeat((i * 7 + i / 3) % 7);
            }
            let header = header_line();
            let quoted = header.replacen("call_id", "\"call_id\"", 1);
            let expected = read_all(&input.replacen(&header, &quoted, 1), 1);
            assert_eq!(expected.is_err(), !bad.is_empty());
            for threads in [1, 2, 3, 8] {
                let got = read_all(&input, threads);
                assert!(got == expected, "{} bad rows, {threads} threads", bad.len());
            }
        }
    }

    /// Bad rows of a file checked in parallel batches are named by their own lines.
    #[test]
    fn bad_rows_of_every_batch_keep_their_lines() {
        let bad = [5, 20_000, 39_000];
        let input = many_records(40_000, &bad);
        for threads in [1, 3] {
            let err = CallFile::read_on(input.as_bytes(), threads, None, |_| {}).unwrap_err();
            let found: Vec<(usize, &str)> = err
                .errors
                .iter()
                .map(|e| (e.line, e.column.as_str()))
                .collect();
            assert_eq!(found, bad.map(|line| (line, "direction")));
        }
    }
}
