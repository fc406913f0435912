//! A call file's input cut into blocks of whole lines, so that the records of a block can be
//! split and checked in parallel. A line border is a record border only where no quoted field
//! spans it: a block is handed out only when it holds no quote and no carriage return (then
//! every `\n` ends a record and starts a line, exactly as the CSV reader counts them); the
//! first block that holds either is left, with the rest of the input, to the CSV reader.

use std::io::Read;

/// Bytes read from the input at once.
const READ_BYTES: usize = 1 << 20;

/// The input, and what was read of it but not handed out yet.
pub(super) struct Lines<R> {
    input: R,
    /// Bytes read and not handed out; `pending[..handed]` is the last block handed out.
    pending: Vec<u8>,
    handed: usize,
    eof: bool,
    /// Bytes handed out so far.
    consumed: u64,
    /// The line the next block starts on.
    next_line: usize,
}

/// What comes next.
pub(super) enum Next<'b> {
    /// Whole lines without quote or carriage return, starting on `first_line`.
    Block {
        bytes: &'b [u8],
        first_line: usize,
    },
    /// The rest of the input holds a quote or a carriage return before its next line border:
    /// the CSV reader takes it (`into_rest`).
    Quoted,
    Done,
}

/// Whether `bytes` holds no quote and no carriage return (every `\n` ends a record).
pub(super) fn is_plain(bytes: &[u8]) -> bool {
    memchr::memchr2(b'"', b'\r', bytes).is_none()
}

impl<R: Read> Lines<R> {
    pub fn new(input: R) -> Lines<R> {
        Lines {
            input,
            pending: Vec::new(),
            handed: 0,
            eof: false,
            consumed: 0,
            next_line: 1,
        }
    }

    /// Reads until `want` bytes are pending or the input ends.
    fn fill(&mut self, want: usize) -> std::io::Result<()> {
        self.pending.drain(..self.handed);
        self.handed = 0;
        while self.pending.len() < want && !self.eof {
            let len = self.pending.len();
            self.pending.resize(len + READ_BYTES, 0);
            match self.input.read(&mut self.pending[len..]) {
                Ok(0) => {
                    self.pending.truncate(len);
                    self.eof = true;
                }
                Ok(n) => self.pending.truncate(len + n),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => self.pending.truncate(len),
                Err(e) => {
                    self.pending.truncate(len);
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// The header line, when it is plain, does not start with an empty line and ends with a
    /// line border (else the CSV reader reads the whole input: `into_rest`).
    pub fn plain_header(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        self.fill(READ_BYTES)?;
        let Some(end) = self.pending.iter().position(|&b| b == b'\n') else {
            return Ok(None);
        };
        let line = &self.pending[..end];
        if line.is_empty() || !is_plain(line) {
            return Ok(None);
        }
        let header = line.to_vec();
        self.handed = end + 1;
        self.consumed = self.handed as u64;
        self.next_line = 2;
        Ok(Some(header))
    }

    /// The next block of about `want` bytes (whole lines; the last may lack its `\n`).
    pub fn next_block(&mut self, want: usize) -> std::io::Result<Next<'_>> {
        self.fill(want)?;
        if self.pending.is_empty() {
            return Ok(Next::Done);
        }
        let end = match self.pending.iter().rposition(|&b| b == b'\n') {
            Some(at) if !self.eof || at + 1 == self.pending.len() => at + 1,
            _ if self.eof => self.pending.len(),
            // A line longer than a block: read on until it ends.
            _ => return self.next_block(self.pending.len() * 2),
        };
        let bytes = &self.pending[..end];
        if !is_plain(bytes) {
            return Ok(Next::Quoted);
        }
        let first_line = self.next_line;
        self.handed = end;
        self.consumed += end as u64;
        Ok(Next::Block { bytes, first_line })
    }

    /// Counts the lines the block last handed out ends (its reader counted them).
    pub fn passed(&mut self, newlines: usize) {
        self.next_line += newlines;
    }

    /// Bytes handed out so far.
    pub fn consumed(&self) -> u64 {
        self.consumed
    }

    /// The line the next block starts on.
    pub fn next_line(&self) -> usize {
        self.next_line
    }

    /// What was not handed out, then the rest of the input.
    pub fn into_rest(mut self) -> std::io::Chain<std::io::Cursor<Vec<u8>>, R> {
        self.pending.drain(..self.handed);
        std::io::Cursor::new(self.pending).chain(self.input)
    }
}

/// `bytes` cut at line borders into at most `parts` pieces of about equal size.
pub(super) fn at_lines(bytes: &[u8], parts: usize) -> Vec<&[u8]> {
    let mut pieces = Vec::with_capacity(parts);
    let mut rest = bytes;
    for left in (1..=parts.max(1)).rev() {
        if rest.is_empty() {
            break;
        }
        let want = rest.len().div_ceil(left);
        let cut = match rest[want - 1..].iter().position(|&b| b == b'\n') {
            Some(at) => want + at,
            None => rest.len(),
        };
        let (piece, after) = rest.split_at(cut);
        pieces.push(piece);
        rest = after;
    }
    pieces
}

/// A record's fields, as the CSV reader gives them (`csv::ByteRecord`) or as `plain_records`
/// cuts them.
pub(super) trait Fields {
    /// Field `i`, if the record has that many.
    fn field(&self, i: usize) -> Option<&[u8]>;
}

impl Fields for csv::ByteRecord {
    fn field(&self, i: usize) -> Option<&[u8]> {
        self.get(i)
    }
}

/// A line of a plain block, its fields cut at commas.
pub(super) struct PlainRecord<'a> {
    line: &'a [u8],
    /// Where each field ends (at a comma or the line's end).
    ends: Vec<usize>,
}

impl<'a> PlainRecord<'a> {
    fn cut(&mut self, line: &'a [u8]) {
        self.line = line;
        self.ends.clear();
        self.ends.extend(memchr::memchr_iter(b',', line));
        self.ends.push(line.len());
    }
}

impl Fields for PlainRecord<'_> {
    fn field(&self, i: usize) -> Option<&[u8]> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] + 1 };
        Some(&self.line[start..end])
    }
}

/// The records of `bytes` (whole lines without quote or carriage return), each with its line,
/// as a CSV reader of `bytes` (no header, flexible) reads them: every `\n` ends a line, an
/// empty line is no record, a record's fields are cut at its commas, and its line is the one
/// the reader stood on when asked for it (after the previous record's line end, before the
/// empty lines it skips). Returns the lines `bytes` ends (its `\n`s).
pub(super) fn plain_records(bytes: &[u8], mut each: impl FnMut(&PlainRecord<'_>, usize)) -> usize {
    let mut record = PlainRecord {
        line: &[],
        ends: Vec::new(),
    };
    let (mut newlines, mut record_line, mut at) = (0, 1, 0);
    while at < bytes.len() {
        let rest = &bytes[at..];
        let (line, ended) = match memchr::memchr(b'\n', rest) {
            Some(end) => (&rest[..end], true),
            None => (rest, false),
        };
        at += line.len() + usize::from(ended);
        newlines += usize::from(ended);
        if line.is_empty() {
            continue;
        }
        record.cut(line);
        each(&record, record_line);
        record_line = newlines + 1;
    }
    newlines
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record's fields and line.
    type Split = (Vec<Vec<u8>>, usize);

    /// Every record of `bytes`, its fields and line, and the lines it ends, as the CSV reader
    /// reads them (no header, flexible).
    fn by_csv(bytes: &[u8]) -> (Vec<Split>, usize) {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(bytes);
        let mut record = csv::ByteRecord::new();
        let mut records = Vec::new();
        while reader.read_byte_record(&mut record).unwrap() {
            let line = record.position().unwrap().line() as usize;
            records.push((record.iter().map(<[u8]>::to_vec).collect(), line));
        }
        (records, reader.position().line() as usize - 1)
    }

    fn by_plain_records(bytes: &[u8]) -> (Vec<Split>, usize) {
        let mut records = Vec::new();
        let newlines = plain_records(bytes, |record, line| {
            let fields = (0..).map_while(|i| record.field(i).map(<[u8]>::to_vec));
            records.push((fields.collect(), line));
        });
        (records, newlines)
    }

    /// Plain text of every shape (empty lines anywhere, empty fields, lines of commas, no last
    /// line end, spaces, bytes that are not UTF-8) splits into the records, lines and line count
    /// the CSV reader gives.
    #[test]
    fn plain_records_are_those_the_csv_reader_reads() {
        let alphabet: [&[u8]; 10] = [
            b"a",
            b",",
            b",",
            b"\n",
            b"\n",
            b"\n",
            b" ",
            b"9",
            b"\xc3\xa9",
            b"\xff",
        ];
        let mut state: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut cases: Vec<Vec<u8>> = [&b""[..], b"\n", b"\n\n", b",", b"a", b"a\n", b",\n,"]
            .iter()
            .map(|c| c.to_vec())
            .collect();
        for _ in 0..3000 {
            let len = (next() % 40) as usize;
            cases.push(
                (0..len)
                    .flat_map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                    .copied()
                    .collect(),
            );
        }
        for bytes in cases {
            assert!(is_plain(&bytes));
            assert_eq!(by_plain_records(&bytes), by_csv(&bytes), "{bytes:?}");
        }
    }
}
