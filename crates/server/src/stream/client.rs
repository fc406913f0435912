//! A small NATS client over one TCP connection: the handshake (`INFO`, then `CONNECT` with
//! headers and "no responders" on, checked by a `PING`), one wildcard subscription to an inbox
//! of its own for replies, requests with their replies matched by subject, and `PING`s
//! answered. It is driven by one task at a time (no background reader): a caller writes its
//! requests, then reads until their replies arrive or its deadline passes. The read buffer is
//! bounded by the frame bounds of `proto`.

use super::proto::{self, FrameError, Headers, Message, ServerOp};
use std::collections::HashMap;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// The most bytes held unparsed: one control line and one message at their bounds.
const MAX_BUFFER_BYTES: usize = proto::MAX_LINE_BYTES + proto::MAX_PAYLOAD_BYTES + 64;

/// What went wrong on a connection. Every error but `Timeout` leaves the connection unusable.
#[derive(Debug, thiserror::Error)]
pub enum NatsError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("no answer within the timeout")]
    Timeout,
    #[error("the server closed the connection")]
    Closed,
    #[error("protocol: {0}")]
    Frame(#[from] FrameError),
    #[error("the server said: {0}")]
    Server(String),
    #[error("{0}")]
    Unsupported(&'static str),
}

/// Where to connect, parsed from `nats://[user:password@|token@]host:port`.
#[derive(Clone, PartialEq, Eq)]
pub struct ServerAddr {
    /// `host:port`, what logs show.
    pub host_port: String,
    user: Option<String>,
    password: Option<String>,
    token: Option<String>,
}

impl std::fmt::Debug for ServerAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Credentials never reach a log.
        write!(f, "nats://{}", self.host_port)
    }
}

impl std::str::FromStr for ServerAddr {
    type Err = String;

    fn from_str(url: &str) -> Result<ServerAddr, String> {
        let rest = url
            .strip_prefix("nats://")
            .ok_or("a NATS URL starts with nats:// (TLS is not supported)")?;
        let (auth, host_port) = match rest.rsplit_once('@') {
            Some((auth, host)) => (Some(auth), host),
            None => (None, rest),
        };
        let host_port = host_port.trim_end_matches('/');
        let (host, port) = host_port
            .rsplit_once(':')
            .ok_or("a NATS URL names its port: nats://host:4222")?;
        if host.is_empty() || port.parse::<u16>().is_err() || host_port.contains('/') {
            return Err("a NATS URL is nats://host:port".into());
        }
        let (mut user, mut password, mut token) = (None, None, None);
        match auth.map(|a| a.split_once(':')) {
            None => {}
            Some(Some((u, p))) => (user, password) = (Some(u.to_string()), Some(p.to_string())),
            Some(None) => token = auth.map(str::to_string),
        }
        Ok(ServerAddr {
            host_port: host_port.to_string(),
            user,
            password,
            token,
        })
    }
}

/// A reply to a request: its header block (a status such as 503 "no responders" is there) and
/// its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub headers: Option<Headers>,
    pub payload: Vec<u8>,
}

impl Reply {
    /// The header status, if the reply carries one.
    pub fn status(&self) -> Option<u16> {
        self.headers.as_ref().and_then(|h| h.status)
    }
}

/// One request to send: subject, headers, payload.
pub struct Request<'a> {
    pub subject: &'a str,
    pub headers: &'a [(&'a str, &'a str)],
    pub payload: &'a [u8],
}

/// An open connection.
pub struct Connection {
    stream: TcpStream,
    buf: Vec<u8>,
    /// The reply subjects of this connection are `<inbox>.<n>`.
    inbox: String,
    next_reply: u64,
    /// The server's `max_payload`.
    pub max_payload: usize,
}

fn random_token() -> String {
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes).expect("the system's random source");
    hex::encode(bytes)
}

impl Connection {
    /// Connects, checks the server takes headers, and subscribes to the reply inbox.
    pub async fn connect(
        addr: &ServerAddr,
        name: &str,
        timeout: Duration,
    ) -> Result<Connection, NatsError> {
        let stream = tokio::time::timeout(timeout, TcpStream::connect(&addr.host_port))
            .await
            .map_err(|_| NatsError::Timeout)??;
        stream.set_nodelay(true)?;
        let mut conn = Connection {
            stream,
            buf: Vec::with_capacity(16 * 1024),
            inbox: format!("_INBOX.{}", random_token()),
            next_reply: 0,
            max_payload: proto::MAX_PAYLOAD_BYTES,
        };
        let deadline = Instant::now() + timeout;
        let ServerOp::Info(info) = conn.read_op(deadline).await? else {
            return Err(NatsError::Server("no INFO first".into()));
        };
        let info: serde_json::Value = serde_json::from_str(&info)
            .map_err(|_| NatsError::Server("an INFO that is not JSON".into()))?;
        if info["headers"] != true {
            return Err(NatsError::Unsupported(
                "the server does not take headers (NATS 2.2 or later is needed)",
            ));
        }
        if info["tls_required"] == true {
            return Err(NatsError::Unsupported(
                "the server requires TLS, which is not supported",
            ));
        }
        if let Some(max) = info["max_payload"].as_u64() {
            conn.max_payload = usize::try_from(max)
                .unwrap_or(usize::MAX)
                .min(proto::MAX_PAYLOAD_BYTES);
        }
        let mut options = serde_json::json!({
            "verbose": false, "pedantic": false, "tls_required": false, "name": name,
            "lang": "rust", "version": env!("CARGO_PKG_VERSION"), "protocol": 1,
            "headers": true, "no_responders": true,
        });
        if let Some(user) = &addr.user {
            options["user"] = user.clone().into();
            options["pass"] = addr.password.clone().unwrap_or_default().into();
        }
        if let Some(token) = &addr.token {
            options["auth_token"] = token.clone().into();
        }
        let mut hello = proto::connect(&options);
        hello.extend_from_slice(&proto::subscribe(&format!("{}.*", conn.inbox), 1)?);
        hello.extend_from_slice(proto::PING);
        conn.write(&hello, deadline).await?;
        // The PONG says the server took the CONNECT and the SUB (an -ERR comes before it).
        loop {
            match conn.read_op(deadline).await? {
                ServerOp::Pong => return Ok(conn),
                ServerOp::Err(text) => return Err(NatsError::Server(text)),
                _ => {}
            }
        }
    }

    async fn write(&mut self, bytes: &[u8], deadline: Instant) -> Result<(), NatsError> {
        tokio::time::timeout_at(deadline, self.stream.write_all(bytes))
            .await
            .map_err(|_| NatsError::Timeout)??;
        Ok(())
    }

    /// The next operation from the server; `PING` is answered here and not returned.
    async fn read_op(&mut self, deadline: Instant) -> Result<ServerOp, NatsError> {
        loop {
            if let Some((op, used)) = proto::parse(&self.buf)? {
                self.buf.drain(..used);
                if op == ServerOp::Ping {
                    self.write(proto::PONG, deadline).await?;
                    continue;
                }
                return Ok(op);
            }
            if self.buf.len() >= MAX_BUFFER_BYTES {
                return Err(FrameError::PayloadTooLarge(self.buf.len()).into());
            }
            let mut chunk = [0u8; 16 * 1024];
            let room = (MAX_BUFFER_BYTES - self.buf.len()).min(chunk.len());
            let n = tokio::time::timeout_at(deadline, self.stream.read(&mut chunk[..room]))
                .await
                .map_err(|_| NatsError::Timeout)??;
            if n == 0 {
                return Err(NatsError::Closed);
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Sends the requests at once (one write), then waits until `timeout` for their replies.
    /// The answer has one entry per request, in their order: its reply, or `None` when none
    /// came in time. An error means the connection is lost (replies already read are dropped).
    pub async fn requests(
        &mut self,
        requests: &[Request<'_>],
        timeout: Duration,
    ) -> Result<Vec<Option<Reply>>, NatsError> {
        let deadline = Instant::now() + timeout;
        let mut frames = Vec::new();
        let mut waiting: HashMap<String, usize> = HashMap::with_capacity(requests.len());
        for (i, r) in requests.iter().enumerate() {
            self.next_reply += 1;
            let reply = format!("{}.{}", self.inbox, self.next_reply);
            if r.payload.len() > self.max_payload {
                return Err(FrameError::PayloadTooLarge(r.payload.len()).into());
            }
            frames.extend_from_slice(&proto::publish(
                r.subject,
                Some(&reply),
                r.headers,
                r.payload,
            )?);
            waiting.insert(reply, i);
        }
        self.write(&frames, deadline).await?;
        let mut replies: Vec<Option<Reply>> = vec![None; requests.len()];
        while !waiting.is_empty() {
            let op = match self.read_op(deadline).await {
                Err(NatsError::Timeout) => break,
                other => other?,
            };
            match op {
                ServerOp::Msg(Message {
                    subject,
                    headers,
                    payload,
                    ..
                }) => {
                    // A late reply to an earlier request that timed out is dropped.
                    if let Some(i) = waiting.remove(&subject) {
                        replies[i] = Some(Reply { headers, payload });
                    }
                }
                ServerOp::Err(text) => return Err(NatsError::Server(text)),
                _ => {}
            }
        }
        Ok(replies)
    }

    /// One request and its reply (`Timeout` when none came in time).
    pub async fn request(
        &mut self,
        subject: &str,
        payload: &[u8],
        timeout: Duration,
    ) -> Result<Reply, NatsError> {
        let request = Request {
            subject,
            headers: &[],
            payload,
        };
        let mut replies = self.requests(&[request], timeout).await?;
        replies.pop().flatten().ok_or(NatsError::Timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_with_their_credentials_kept_out_of_debug() {
        let a: ServerAddr = "nats://127.0.0.1:4222".parse().unwrap();
        assert_eq!(a.host_port, "127.0.0.1:4222");
        let b: ServerAddr = "nats://me:secret@nats.internal:4222".parse().unwrap();
        assert_eq!(
            (b.user.as_deref(), b.password.as_deref()),
            (Some("me"), Some("secret"))
        );
        assert_eq!(format!("{b:?}"), "nats://nats.internal:4222");
        let c: ServerAddr = "nats://tok@[::1]:4222".parse().unwrap();
        assert_eq!(
            (c.host_port.as_str(), c.token.as_deref()),
            ("[::1]:4222", Some("tok"))
        );
        for bad in [
            "127.0.0.1:4222",
            "tls://h:4222",
            "nats://h",
            "nats://h:x",
            "nats://:4222",
            "nats://h:4222/p",
        ] {
            assert!(bad.parse::<ServerAddr>().is_err(), "{bad}");
        }
    }
}
