//! NATS's client protocol, as bytes: the operations a server sends, parsed from a buffer, and
//! the ones a client sends, written into one. No IO here, so every frame is testable alone.
//!
//! A server sends `INFO {json}`, `MSG <subject> <sid> [reply] <bytes>` and `HMSG <subject> <sid>
//! [reply] <header bytes> <total bytes>` (each followed by its payload and CRLF), `PING`, `PONG`,
//! `+OK` and `-ERR '<text>'`, each line ending in CRLF. A header block is `NATS/1.0[ <status>[
//! <description>]]` then `Name: value` lines and an empty line. Every length is bounded: a
//! control line longer than `MAX_LINE_BYTES` or a payload larger than `MAX_PAYLOAD_BYTES` is an
//! error, never a bigger buffer.

use std::fmt::Write as _;

/// The longest control line accepted from a server (an `INFO` with many cluster URLs fits).
pub const MAX_LINE_BYTES: usize = 16 * 1024;
/// The largest message (headers and payload) accepted from a server; NATS's own default
/// `max_payload` is 1 MiB.
pub const MAX_PAYLOAD_BYTES: usize = 1 << 20;
/// The longest subject written or read.
pub const MAX_SUBJECT_BYTES: usize = 512;
/// The longest header block written.
pub const MAX_HEADER_BYTES: usize = 4096;

/// What a server sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerOp {
    /// The server's description, as JSON text.
    Info(String),
    /// A message on a subscription.
    Msg(Message),
    Ping,
    Pong,
    Ok,
    /// A protocol error, with the server's text.
    Err(String),
}

/// A message delivered to a subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub subject: String,
    pub sid: u64,
    pub reply: Option<String>,
    /// The header block, when the message had one (`HMSG`).
    pub headers: Option<Headers>,
    pub payload: Vec<u8>,
}

/// A parsed header block.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Headers {
    /// The status on the first line (`503` for "no responders"), if any.
    pub status: Option<u16>,
    /// The text after the status.
    pub description: String,
    pub fields: Vec<(String, String)>,
}

impl Headers {
    /// The first value of a header, by case-insensitive name.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A frame that cannot be read or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("a control line longer than {MAX_LINE_BYTES} bytes")]
    LineTooLong,
    #[error("a message of {0} bytes, over the {MAX_PAYLOAD_BYTES}-byte bound")]
    PayloadTooLarge(usize),
    #[error("malformed {0}")]
    Malformed(&'static str),
    #[error("unknown operation {0:?}")]
    Unknown(String),
    #[error("invalid {what} {value:?}")]
    Invalid { what: &'static str, value: String },
}

fn find_crlf(buf: &[u8]) -> Option<usize> {
    buf.windows(2).position(|w| w == b"\r\n")
}

/// Parses the operation at the start of `buf`: `Ok(None)` when more bytes are needed, else the
/// operation and how many bytes it took.
pub fn parse(buf: &[u8]) -> Result<Option<(ServerOp, usize)>, FrameError> {
    let Some(end) = find_crlf(&buf[..buf.len().min(MAX_LINE_BYTES + 2)]) else {
        return if buf.len() > MAX_LINE_BYTES {
            Err(FrameError::LineTooLong)
        } else {
            Ok(None)
        };
    };
    let line = std::str::from_utf8(&buf[..end]).map_err(|_| FrameError::Malformed("line"))?;
    let (op, rest) = line.split_once([' ', '\t']).unwrap_or((line, ""));
    let rest = rest.trim();
    let simple = |op: ServerOp| Ok(Some((op, end + 2)));
    match op.to_ascii_uppercase().as_str() {
        "PING" => simple(ServerOp::Ping),
        "PONG" => simple(ServerOp::Pong),
        "+OK" => simple(ServerOp::Ok),
        "-ERR" => simple(ServerOp::Err(rest.trim_matches('\'').to_string())),
        "INFO" => simple(ServerOp::Info(rest.to_string())),
        "MSG" => message(buf, end, rest, false),
        "HMSG" => message(buf, end, rest, true),
        _ => Err(FrameError::Unknown(op.chars().take(16).collect())),
    }
}

fn number(text: &str, what: &'static str) -> Result<usize, FrameError> {
    text.parse().map_err(|_| FrameError::Invalid {
        what,
        value: text.chars().take(32).collect(),
    })
}

/// A `MSG` or `HMSG` whose control line ends at `end`.
fn message(
    buf: &[u8],
    end: usize,
    args: &str,
    with_headers: bool,
) -> Result<Option<(ServerOp, usize)>, FrameError> {
    let parts: Vec<&str> = args.split_ascii_whitespace().collect();
    let sizes = if with_headers { 2 } else { 1 };
    if parts.len() != 2 + sizes && parts.len() != 3 + sizes {
        return Err(FrameError::Malformed("message line"));
    }
    let reply = (parts.len() == 3 + sizes).then(|| parts[2].to_string());
    let total = number(parts[parts.len() - 1], "message size")?;
    let header_len = if with_headers {
        number(parts[parts.len() - 2], "header size")?
    } else {
        0
    };
    if total > MAX_PAYLOAD_BYTES {
        return Err(FrameError::PayloadTooLarge(total));
    }
    if header_len > total || parts[0].len() > MAX_SUBJECT_BYTES {
        return Err(FrameError::Malformed("message line"));
    }
    let start = end + 2;
    if buf.len() < start + total + 2 {
        return Ok(None);
    }
    if &buf[start + total..start + total + 2] != b"\r\n" {
        return Err(FrameError::Malformed("message end"));
    }
    let headers = if with_headers {
        Some(parse_headers(&buf[start..start + header_len])?)
    } else {
        None
    };
    let message = Message {
        subject: parts[0].to_string(),
        sid: number(parts[1], "subscription id")? as u64,
        reply,
        headers,
        payload: buf[start + header_len..start + total].to_vec(),
    };
    Ok(Some((ServerOp::Msg(message), start + total + 2)))
}

/// Parses a header block (`NATS/1.0[ status[ description]]`, fields, an empty line).
pub fn parse_headers(block: &[u8]) -> Result<Headers, FrameError> {
    let text = std::str::from_utf8(block).map_err(|_| FrameError::Malformed("headers"))?;
    let mut lines = text.split("\r\n");
    let first = lines.next().unwrap_or("");
    let Some(after) = first.strip_prefix("NATS/1.0") else {
        return Err(FrameError::Malformed("header version"));
    };
    let after = after.trim();
    let mut headers = Headers::default();
    if !after.is_empty() {
        let (code, description) = after.split_once(' ').unwrap_or((after, ""));
        headers.status = Some(code.parse().map_err(|_| FrameError::Malformed("status"))?);
        headers.description = description.trim().to_string();
    }
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = line
            .split_once(':')
            .ok_or(FrameError::Malformed("header line"))?;
        headers
            .fields
            .push((name.trim().to_string(), value.trim().to_string()));
    }
    Ok(headers)
}

/// A subject to publish on: 1 to `MAX_SUBJECT_BYTES` bytes, tokens separated by `.`, none
/// empty, no space or control character and no wildcard token.
pub fn check_subject(subject: &str) -> Result<(), FrameError> {
    let bad = || FrameError::Invalid {
        what: "subject",
        value: subject.chars().take(64).collect(),
    };
    if subject.is_empty() || subject.len() > MAX_SUBJECT_BYTES {
        return Err(bad());
    }
    for token in subject.split('.') {
        if token.is_empty() || token == "*" || token == ">" {
            return Err(bad());
        }
        if token.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(bad());
        }
    }
    Ok(())
}

fn check_header(name: &str, value: &str) -> Result<(), FrameError> {
    let name_ok = !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic() && b != b':');
    let value_ok = value.bytes().all(|b| b != b'\r' && b != b'\n');
    if name_ok && value_ok {
        Ok(())
    } else {
        Err(FrameError::Invalid {
            what: "header",
            value: name.chars().take(64).collect(),
        })
    }
}

/// `PUB` (without headers) or `HPUB` (with), with a reply subject when given.
pub fn publish(
    subject: &str,
    reply: Option<&str>,
    headers: &[(&str, &str)],
    payload: &[u8],
) -> Result<Vec<u8>, FrameError> {
    check_subject(subject)?;
    if let Some(reply) = reply {
        check_subject(reply)?;
    }
    let mut block = String::new();
    if !headers.is_empty() {
        block.push_str("NATS/1.0\r\n");
        for (name, value) in headers {
            check_header(name, value)?;
            let _ = write!(block, "{name}: {value}\r\n");
        }
        block.push_str("\r\n");
        if block.len() > MAX_HEADER_BYTES {
            return Err(FrameError::Malformed("header block too long"));
        }
    }
    let total = block.len() + payload.len();
    if total > MAX_PAYLOAD_BYTES {
        return Err(FrameError::PayloadTooLarge(total));
    }
    let mut line = String::from(if headers.is_empty() { "PUB " } else { "HPUB " });
    line.push_str(subject);
    if let Some(reply) = reply {
        line.push(' ');
        line.push_str(reply);
    }
    if !headers.is_empty() {
        let _ = write!(line, " {}", block.len());
    }
    let _ = write!(line, " {total}\r\n");
    let mut out = Vec::with_capacity(line.len() + total + 2);
    out.extend_from_slice(line.as_bytes());
    out.extend_from_slice(block.as_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(b"\r\n");
    Ok(out)
}

/// `SUB <subject> <sid>` (a subject may hold wildcards here).
pub fn subscribe(subject: &str, sid: u64) -> Result<Vec<u8>, FrameError> {
    if subject.is_empty()
        || subject.len() > MAX_SUBJECT_BYTES
        || subject.bytes().any(|b| b <= b' ' || b == 0x7f)
    {
        return Err(FrameError::Invalid {
            what: "subject",
            value: subject.chars().take(64).collect(),
        });
    }
    Ok(format!("SUB {subject} {sid}\r\n").into_bytes())
}

/// `CONNECT` with the given JSON options.
pub fn connect(options: &serde_json::Value) -> Vec<u8> {
    format!("CONNECT {options}\r\n").into_bytes()
}

pub const PING: &[u8] = b"PING\r\n";
pub const PONG: &[u8] = b"PONG\r\n";

#[cfg(test)]
mod tests {
    use super::*;

    fn one(buf: &[u8]) -> (ServerOp, usize) {
        parse(buf).expect("parses").expect("complete")
    }

    #[test]
    fn simple_operations_parse_whatever_their_case() {
        assert_eq!(one(b"PING\r\n"), (ServerOp::Ping, 6));
        assert_eq!(one(b"pong\r\nPING\r\n"), (ServerOp::Pong, 6));
        assert_eq!(one(b"+OK\r\n"), (ServerOp::Ok, 5));
        assert_eq!(
            one(b"-ERR 'Authorization Violation'\r\n").0,
            ServerOp::Err("Authorization Violation".into())
        );
        assert_eq!(
            one(b"INFO {\"headers\":true}\r\n").0,
            ServerOp::Info("{\"headers\":true}".into())
        );
    }

    #[test]
    fn a_partial_frame_asks_for_more_and_an_endless_line_is_refused() {
        assert_eq!(parse(b"PIN").unwrap(), None);
        assert_eq!(parse(b"MSG a 1 5\r\nhel").unwrap(), None);
        assert_eq!(parse(b"MSG a 1 5\r\nhello").unwrap(), None);
        let long = vec![b'x'; MAX_LINE_BYTES + 1];
        assert_eq!(parse(&long), Err(FrameError::LineTooLong));
        let mut almost = vec![b'x'; MAX_LINE_BYTES];
        assert_eq!(parse(&almost).unwrap(), None);
        almost.extend_from_slice(b"\r\n");
        assert!(matches!(parse(&almost), Err(FrameError::Unknown(_))));
    }

    #[test]
    fn messages_parse_with_and_without_reply_and_headers() {
        let (op, used) = one(b"MSG in.1 7 5\r\nhello\r\nPING\r\n");
        assert_eq!(used, 21);
        let ServerOp::Msg(m) = op else { panic!() };
        assert_eq!((m.subject.as_str(), m.sid, m.reply), ("in.1", 7, None));
        assert_eq!(m.payload, b"hello");

        let frame = b"HMSG in.2 1 r.x 32 34\r\nNATS/1.0\r\nNats-Msg-Id: evt_1\r\n\r\n{}\r\n";
        let (op, used) = one(frame);
        assert_eq!(used, frame.len());
        let ServerOp::Msg(m) = op else { panic!() };
        assert_eq!(m.reply.as_deref(), Some("r.x"));
        let h = m.headers.expect("headers");
        assert_eq!((h.status, h.get("nats-msg-id")), (None, Some("evt_1")));
        assert_eq!(m.payload, b"{}");

        let frame = b"HMSG _INBOX.a.1 1 30 30\r\nNATS/1.0 503 No Responders\r\n\r\n\r\n";
        let ServerOp::Msg(m) = one(frame).0 else {
            panic!()
        };
        let h = m.headers.expect("headers");
        assert_eq!(h.status, Some(503));
        assert_eq!(h.description, "No Responders");
        assert!(m.payload.is_empty());
    }

    #[test]
    fn oversized_or_inconsistent_messages_are_refused() {
        let big = format!("MSG a 1 {}\r\n", MAX_PAYLOAD_BYTES + 1);
        assert_eq!(
            parse(big.as_bytes()),
            Err(FrameError::PayloadTooLarge(MAX_PAYLOAD_BYTES + 1))
        );
        assert!(parse(b"MSG a 1 x\r\n").is_err());
        assert!(parse(b"MSG a\r\n").is_err());
        assert!(
            parse(b"HMSG a 1 9 4\r\n").is_err(),
            "headers longer than the whole"
        );
        assert!(
            parse(b"MSG a 1 2\r\nabcd\r\n").is_err(),
            "no CRLF after the payload"
        );
        assert!(parse_headers(b"HTTP/1.1 200\r\n\r\n").is_err());
    }

    #[test]
    fn hpub_frames_carry_exact_lengths_and_refuse_bad_subjects_and_headers() {
        let frame = publish(
            "m.acme.wallet.low_balance",
            Some("_INBOX.x.1"),
            &[("Nats-Msg-Id", "evt_1")],
            b"{}",
        )
        .unwrap();
        let text = String::from_utf8(frame).unwrap();
        let block = "NATS/1.0\r\nNats-Msg-Id: evt_1\r\n\r\n";
        assert_eq!(
            text,
            format!(
                "HPUB m.acme.wallet.low_balance _INBOX.x.1 {} {}\r\n{block}{{}}\r\n",
                block.len(),
                block.len() + 2
            )
        );
        // What the server would send back for it parses to the same header and payload.
        let echoed = text.replacen("HPUB m.acme.wallet.low_balance _INBOX.x.1", "HMSG s 1", 1);
        let ServerOp::Msg(m) = one(echoed.as_bytes()).0 else {
            panic!()
        };
        assert_eq!(m.headers.unwrap().get("Nats-Msg-Id"), Some("evt_1"));
        assert_eq!(
            publish("a.b", None, &[], b"x").unwrap(),
            b"PUB a.b 1\r\nx\r\n".to_vec()
        );
        for bad in ["", "a..b", "a.", "a b", "a.>", "a.*.b", "a\r\nPUB"] {
            assert!(publish(bad, None, &[], b"").is_err(), "{bad:?}");
        }
        assert!(publish("a", None, &[("X", "1\r\nY: 2")], b"").is_err());
        assert!(publish("a", None, &[("X:Y", "1")], b"").is_err());
        let big = vec![0u8; MAX_PAYLOAD_BYTES];
        assert!(matches!(
            publish("a", None, &[("X", "1")], &big),
            Err(FrameError::PayloadTooLarge(_))
        ));
        assert_eq!(subscribe("_INBOX.x.*", 1).unwrap(), b"SUB _INBOX.x.* 1\r\n");
        assert!(subscribe("a b", 1).is_err());
    }
}
