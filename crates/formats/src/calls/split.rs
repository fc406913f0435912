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
