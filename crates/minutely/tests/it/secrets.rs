//! Secrets never reach a log. A whole session runs against the real binary with logging at its
//! most verbose (`RUST_LOG=trace`, every crate): keys of every kind made on the command line and
//! through the API, used rightly and wrongly (revoked, near misses, in the wrong places),
//! webhook endpoints with their signing secrets (one reached, one not), a funding, a call
//! authorized, extended and ended, an ingestion, the demo traffic. Then every log the session
//! wrote is searched for every key, every key's secret part (and its first half), every webhook
//! secret, the credentials of a webhook URL and the store's own HMAC secret.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Something that must never be logged, and what it is.
struct Secret {
    what: String,
    text: String,
}

/// Text a session wrote, and where.
struct Log {
    name: String,
    text: String,
}

/// Everything the session collects.
#[derive(Default)]
struct Session {
    secrets: Vec<Secret>,
    logs: Vec<Log>,
}

impl Session {
    /// A key: the whole text, its secret part and the first half of it (a near miss or a
    /// truncated print would show that much).
    fn key(&mut self, what: &str, key: &str) {
        let secret = key
            .strip_prefix("mk_")
            .and_then(|rest| rest.split_once('_'))
            .map(|(_, secret)| secret.to_string())
            .unwrap_or_else(|| panic!("{what}: {key:?} is not mk_<id>_<secret>"));
        assert!(secret.len() >= 32, "{what}: a short secret {secret:?}");
        let half = secret[..secret.len() / 2].to_string();
        self.secret(&format!("{what} (whole key)"), key);
        self.secret(&format!("{what} (secret part)"), &secret);
        self.secret(&format!("{what} (first half of the secret)"), &half);
    }

    fn secret(&mut self, what: &str, text: &str) {
        assert!(text.len() >= 8, "{what}: too short to search for: {text:?}");
        self.secrets.push(Secret {
            what: what.to_string(),
            text: text.to_string(),
        });
    }

    fn log(&mut self, name: &str, text: &[u8]) {
        self.logs.push(Log {
            name: name.to_string(),
            text: String::from_utf8_lossy(text).into_owned(),
        });
    }
}

fn minutely() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_minutely"));
    command
        .env("RUST_LOG", "trace")
        .env_remove("RUST_LOG_STYLE");
    command
}

/// Runs a command-line subcommand on the store; its stderr is kept as a log.
fn cli(session: &mut Session, db: &Path, args: &[&str]) -> Output {
    let out = minutely()
        .args(args)
        .env("MINUTELY_DB", db)
        .output()
        .expect("run minutely");
    session.log(
        &format!("stderr of `minutely {}`", args.join(" ")),
        &out.stderr,
    );
    assert!(
        out.status.success(),
        "minutely {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn cli_key(session: &mut Session, db: &Path, kind: &str, tenant: Option<&str>) -> String {
    let mut args = vec!["keys", "create", "--kind", kind, "--label", "secrets test"];
    if let Some(tenant) = tenant {
        args.extend(["--tenant", tenant]);
    }
    let out = cli(session, db, &args);
    let key = String::from_utf8(out.stdout)
        .expect("UTF-8")
        .trim()
        .to_string();
    session.key(&format!("the {kind} key made by `keys create`"), &key);
    key
}

/// A webhook receiver on 127.0.0.1:0 that answers 200 to everything and counts the signed
/// requests it got.
fn receiver() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a port");
    let url = format!("http://{}/hook", listener.local_addr().expect("an address"));
    let signed = Arc::new(AtomicUsize::new(0));
    let count = signed.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let count = count.clone();
            std::thread::spawn(move || answer_all(stream, &count));
        }
    });
    (url, signed)
}

/// Answers every request of one connection with 200.
fn answer_all(stream: TcpStream, signed: &AtomicUsize) {
    let mut reader = BufReader::new(stream.try_clone().expect("a clone"));
    let mut writer = stream;
    loop {
        let mut length = 0usize;
        let mut has_signature = false;
        let mut line = String::new();
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let lower = line.to_ascii_lowercase();
            if let Some(value) = lower.strip_prefix("content-length:") {
                length = value.trim().parse().unwrap_or(0);
            }
            has_signature |= lower.starts_with("minutely-signature:");
            if line == "\r\n" {
                break;
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        if has_signature {
            signed.fetch_add(1, Ordering::SeqCst);
        }
        if writer
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
            .is_err()
        {
            return;
        }
    }
}

/// The server process, its stdout lines read so far and the file its stderr goes to.
struct Served {
    child: Child,
    url: String,
    stdout: Vec<String>,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
    stderr_path: PathBuf,
}

fn serve(db: &Path, dir: &Path) -> Served {
    let stderr_path = dir.join("serve.stderr");
    let stderr = std::fs::File::create(&stderr_path).expect("a log file");
    let mut child = minutely()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--demo",
            "--demo-rate",
            "20",
            "--demo-max-call-s",
            "2",
            // The webhook receivers below are on loopback, refused unless allowed.
            "--webhook-allow",
            "127.0.0.1/32",
        ])
        .env("MINUTELY_DB", db)
        .stdout(Stdio::piped())
        .stderr(Stdio::from(stderr))
        .spawn()
        .expect("start the server");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut stdout = Vec::new();
    let mut url = None;
    // The banner, then the demo's lines up to the traffic line.
    for line in lines.by_ref() {
        let line = line.expect("a line");
        if let Some(rest) = line.strip_prefix("Minutely is serving ") {
            url = rest.split_whitespace().next().map(str::to_string);
        }
        let last = line.contains("simulated traffic");
        stdout.push(line);
        if last {
            break;
        }
    }
    Served {
        child,
        url: url.unwrap_or_else(|| panic!("no banner in {stdout:?}")),
        stdout,
        lines,
        stderr_path,
    }
}

/// The tenant-admin key `serve --demo` prints on stdout, on purpose.
fn demo_admin_key(stdout: &[String]) -> String {
    stdout
        .iter()
        .find_map(|line| line.split("(shown once): ").nth(1))
        .unwrap_or_else(|| panic!("no demo key in {stdout:?}"))
        .trim()
        .to_string()
}

/// An HTTP client of the session.
struct Api {
    client: reqwest::Client,
    url: String,
}

impl Api {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self.client.request(method, format!("{}{path}", self.url));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status().as_u16();
        let text = response.text().await.expect("a body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Asks `path` until the answer has `status` (10 s at most); the last answer.
    async fn get_until(&self, path: &str, key: &str, status: u16) -> (u16, Value) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let answer = self.get(path, key).await;
            if answer.0 == status || Instant::now() > deadline {
                return answer;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn get(&self, path: &str, key: &str) -> (u16, Value) {
        let auth = format!("Bearer {key}");
        self.call(
            reqwest::Method::GET,
            path,
            &[("authorization", &auth)],
            None,
        )
        .await
    }

    async fn post(&self, path: &str, key: &str, body: Value) -> (u16, Value) {
        let auth = format!("Bearer {key}");
        self.call(
            reqwest::Method::POST,
            path,
            &[("authorization", &auth)],
            Some(body),
        )
        .await
    }

    async fn put(&self, path: &str, key: &str, body: Value) -> (u16, Value) {
        let auth = format!("Bearer {key}");
        self.call(
            reqwest::Method::PUT,
            path,
            &[("authorization", &auth)],
            Some(body),
        )
        .await
    }

    async fn delete(&self, path: &str, key: &str) -> (u16, Value) {
        let auth = format!("Bearer {key}");
        self.call(
            reqwest::Method::DELETE,
            path,
            &[("authorization", &auth)],
            None,
        )
        .await
    }
}

/// The same key id with another secret of the same length.
fn near_miss(key: &str) -> String {
    let (head, secret) = key.rsplit_once('_').expect("mk_<id>_<secret>");
    let last = secret.chars().last().expect("a secret");
    let other = if last == '0' { '1' } else { '0' };
    format!("{head}_{}{other}", &secret[..secret.len() - 1])
}

/// Keys made on the command line before the server starts.
struct CliKeys {
    operator: String,
    admin: String,
    bridge: String,
}

/// Everything the session does over HTTP while the server runs.
async fn api_session(session: &mut Session, db: &Path, api: &Api, cli_keys: &CliKeys) {
    let operator = &cli_keys.operator;
    let tenant = "/v1/tenants/contoso";

    // Keys of every kind through the API.
    let mut api_keys = Vec::new();
    for (kind, tenant_id) in [
        ("operator", None),
        ("tenant_admin", Some("contoso")),
        ("bridge", Some("contoso")),
    ] {
        let (status, body) = api
            .post(
                "/v1/keys",
                operator,
                json!({"kind": kind, "tenant": tenant_id, "label": "made over HTTP"}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        let key = body["key"].as_str().expect("the key").to_string();
        session.key(&format!("the {kind} key made by POST /v1/keys"), &key);
        api_keys.push((key, body["id"].as_str().expect("an id").to_string()));
    }
    let (api_operator, api_admin, api_bridge) = (&api_keys[0].0, &api_keys[1].0, &api_keys[2].0);

    // Every key works where it should.
    for key in [operator, api_operator, &cli_keys.admin, api_admin] {
        let (status, body) = api.get(&format!("{tenant}/wallet"), key).await;
        assert_eq!(status, 200, "{body}");
    }

    // Webhooks: one endpoint that answers, one unreachable whose URL carries credentials.
    let (hook_url, signed) = receiver();
    let unreachable = "http://hookuser:hookpassword-5b1f@127.0.0.1:9/hook?token=hooktoken-8c2e7d";
    session.secret("the password in a webhook URL", "hookpassword-5b1f");
    session.secret("the token in a webhook URL", "hooktoken-8c2e7d");
    let mut unreachable_ids = Vec::new();
    for url in [hook_url.as_str(), unreachable] {
        let (status, body) = api
            .post(
                &format!("{tenant}/webhooks"),
                api_admin,
                json!({"url": url}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        let secret = body["secret"].as_str().expect("the signing secret");
        session.secret(
            &format!("the signing secret of the webhook to {url}"),
            secret,
        );
        if url == unreachable {
            unreachable_ids.push(body["id"].as_str().expect("an id").to_string());
        }
    }

    // Money moves: a funding, a call authorized, extended and ended, an ingestion.
    let (status, body) = api
        .post(
            &format!("{tenant}/wallet/fundings"),
            api_operator,
            json!({"amount": "500", "reference": "secrets-test"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // Every debit from now on leaves the balance below the recharge trigger: each one raises a
    // recharge event for the webhooks.
    let (status, body) = api
        .put(
            &format!("{tenant}/wallet/auto-recharge"),
            api_admin,
            json!({"enabled": true, "trigger": "100000", "amount": "50"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let call = format!("{tenant}/calls/secrets-1");
    let (status, body) = api
        .post(
            &format!("{call}/authorize"),
            &cli_keys.bridge,
            json!({"conference_id": "m-1", "organizer": "bruno.martin@contoso.example",
                   "direction": "dial_out", "destination_number": "+33 1 44 55 66 77"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let granted = body["max_duration_s"].clone();
    let (status, body) = api
        .post(
            &format!("{call}/extend"),
            api_bridge,
            json!({"granted_s": granted}),
        )
        .await;
    assert!(status < 500, "{status} {body}");
    let (status, body) = api
        .post(
            &format!("{call}/end"),
            api_bridge,
            json!({"duration_s": 95}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = api
        .post(
            &format!("{tenant}/calls"),
            &cli_keys.bridge,
            json!({"calls": [{
                "call_id": "secrets-2", "conference_id": "m-2",
                "organizer": "bruno.martin@contoso.example", "direction": "dial_out",
                "destination_number": "+33 1 44 55 66 78",
                "start": "2026-03-02T09:00:00Z", "end": "2026-03-02T09:03:00Z"}]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    // Revoked keys: one through the API (refused at once), one on the command line while the
    // server runs (refused within a second).
    let (status, body) = api
        .delete(&format!("/v1/keys/{}", api_keys[0].1), operator)
        .await;
    assert!(status < 300, "{body}");
    let cli_revoked = cli_key(session, db, "tenant-admin", Some("contoso"));
    let cli_revoked_id = cli_revoked
        .strip_prefix("mk_")
        .and_then(|rest| rest.split_once('_'))
        .map(|(id, _)| id.to_string())
        .expect("an id");
    // The server re-reads its keys every second: each answer is awaited, within a deadline.
    let wallet = format!("{tenant}/wallet");
    let (status, body) = api.get_until(&wallet, &cli_revoked, 200).await;
    assert_eq!(status, 200, "a key made while the server runs: {body}");
    cli(session, db, &["keys", "revoke", &cli_revoked_id]);
    for key in [api_operator, &cli_revoked] {
        let (status, body) = api.get_until(&wallet, key, 401).await;
        assert_eq!(status, 401, "a revoked key: {body}");
        assert_eq!(body["error"]["code"], "key_revoked", "{body}");
    }

    // Near misses: the id of a real key with a secret one character off, and the other way.
    for key in [operator, &cli_keys.admin, &cli_keys.bridge, api_admin] {
        let (status, body) = api.get(&format!("{tenant}/wallet"), &near_miss(key)).await;
        assert_eq!(status, 401, "a near miss: {body}");
        let truncated = &key[..key.len() - 4];
        let (status, _) = api.get(&format!("{tenant}/wallet"), truncated).await;
        assert_eq!(status, 401);
    }

    // Keys in the wrong places.
    let key = api_admin.as_str();
    let basic = format!("Basic {key}");
    let token = format!("Token {key}");
    let wrong_headers: [(&str, &str); 6] = [
        ("x-api-key", key),
        ("authorization", &basic),
        ("authorization", &token),
        ("x-request-id", key),
        ("accept-language", key),
        ("cookie", key),
    ];
    for (name, value) in wrong_headers {
        let (status, _) = api
            .call(
                reqwest::Method::GET,
                &format!("{tenant}/wallet"),
                &[(name, value)],
                None,
            )
            .await;
        assert!(status == 401 || status == 200, "{name}: {status}");
    }
    for path in [
        format!("{tenant}/wallet?api_key={key}"),
        format!("/v1/tenants/{key}/wallet"),
        format!("/{key}"),
    ] {
        let (status, _) = api.get(&path, operator).await;
        assert!(status < 500, "{path}: {status}");
    }
    // A key pasted into a body field, and a key as a webhook URL's query.
    let (status, _) = api
        .post(
            &format!("{tenant}/wallet/fundings"),
            operator,
            json!({"amount": key, "reference": key}),
        )
        .await;
    assert_eq!(status, 400);
    let (status, body) = api
        .post(
            &format!("{tenant}/webhooks"),
            api_admin,
            json!({"url": format!("http://127.0.0.1:9/hook?key={key}")}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    session.secret(
        "the signing secret of the webhook with a key in its URL",
        body["secret"].as_str().expect("the signing secret"),
    );
    unreachable_ids.push(body["id"].as_str().expect("an id").to_string());
    // One more debit, so that the last endpoint has an event to fail on.
    let (status, body) = api
        .post(
            &format!("{tenant}/calls"),
            &cli_keys.bridge,
            json!({"calls": [{
                "call_id": "secrets-3", "conference_id": "m-3",
                "organizer": "bruno.martin@contoso.example", "direction": "dial_out",
                "destination_number": "+33 1 44 55 66 79",
                "start": "2026-03-02T10:00:00Z", "end": "2026-03-02T10:03:00Z"}]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    // The recharges raised events: wait until the receiver got one and each unreachable
    // endpoint failed once (so that a failure, with its error, was logged).
    let deadline = Instant::now() + Duration::from_secs(20);
    while signed.load(Ordering::SeqCst) == 0 {
        assert!(
            Instant::now() < deadline,
            "the webhook receiver got no signed request"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for id in &unreachable_ids {
        loop {
            let (status, body) = api
                .get(&format!("{tenant}/webhooks/{id}/deliveries"), api_admin)
                .await;
            assert_eq!(status, 200, "{body}");
            let failed = body["deliveries"]
                .as_array()
                .is_some_and(|d| d.iter().any(|d| d["outcome"] == "failed"));
            if failed {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "no failed attempt to the unreachable endpoint {id}: {body}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The store's own HMAC secret, in the forms a careless print would take.
fn store_secret(session: &mut Session, db: &Path) {
    let mut store = minutely_store::Store::open(db, &minutely_formats::countries::shipped())
        .expect("the store");
    let secret = store.key_secret().expect("the store's HMAC secret");
    let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    session.secret("the store's HMAC secret (hex)", &hex);
    session.secret(
        "the store's HMAC secret (upper-case hex)",
        &hex.to_uppercase(),
    );
    session.secret(
        "the store's HMAC secret (as a byte list)",
        format!("{:?}", &secret[..8]).trim_end_matches(']'),
    );
}

#[test]
fn no_secret_reaches_a_log_even_at_trace_level() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = dir.path().join("minutely.db");
    let mut session = Session::default();
    let tenant_file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/tenant.toml");
    cli(
        &mut session,
        &db,
        &["apply", "-f", tenant_file.to_str().expect("a UTF-8 path")],
    );
    let cli_keys = CliKeys {
        operator: cli_key(&mut session, &db, "operator", None),
        admin: cli_key(&mut session, &db, "tenant-admin", Some("contoso")),
        bridge: cli_key(&mut session, &db, "bridge", Some("contoso")),
    };

    let mut served = serve(&db, dir.path());
    let demo_key = demo_admin_key(&served.stdout);
    let api = Api {
        client: reqwest::Client::new(),
        url: served.url.clone(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let (status, body) = api.get("/v1/tenants/contoso/wallet", &demo_key).await;
        assert_eq!(status, 200, "the demo's key: {body}");
        api_session(&mut session, &db, &api, &cli_keys).await;
    });

    let pid = served.child.id().to_string();
    let kill = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(kill.success());
    let status = served.child.wait().expect("the server exits");
    assert!(status.success(), "the server stops cleanly: {status:?}");
    let rest: Vec<String> = served.lines.by_ref().map_while(Result::ok).collect();
    served.stdout.extend(rest);
    let stderr = std::fs::read(&served.stderr_path).expect("the server's log");
    session.log("the server's stderr", &stderr);
    std::fs::write("/tmp/secrets-serve.log", &stderr).ok();
    store_secret(&mut session, &db);

    // The log is really at trace level, and saw the session's requests.
    let log = String::from_utf8_lossy(&stderr);
    assert!(
        log.contains("\"level\":\"TRACE\""),
        "no trace-level line: is RUST_LOG honoured?"
    );
    assert!(log.contains("\"route\":\"/v1/tenants/{tenant}/calls/{call_id}/authorize\""));
    assert!(log.contains("webhook attempt"));

    // The demo key is printed on stdout on purpose, and nowhere else.
    let stdout = served.stdout.join("\n");
    session.log(
        "the server's stdout",
        stdout.replace(&demo_key, "").as_bytes(),
    );
    session.key("the demo's tenant-admin key", &demo_key);

    let mut leaks = Vec::new();
    for log in &session.logs {
        for secret in &session.secrets {
            if let Some(at) = log.text.find(&secret.text) {
                let line_start = log.text[..at].rfind('\n').map_or(0, |n| n + 1);
                let line_end = log.text[at..].find('\n').map_or(log.text.len(), |n| at + n);
                let line: String = log.text[line_start..line_end].chars().take(300).collect();
                leaks.push(format!("{} is in {}: {line}", secret.what, log.name));
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "{} leaks:\n{}",
        leaks.len(),
        leaks.join("\n")
    );
    assert!(session.secrets.len() >= 30, "too few secrets searched for");
}
