//! The black-box harness: a real server on port 0 over a fresh SQLite file per test, reached
//! over HTTP with real keys.
#![allow(dead_code)]

use jiff::Timestamp;
use minutely_server::auth::{self, KeyKind};
use minutely_server::clock::Clock;
use minutely_server::{Config, Server};
use minutely_store::Store;
use serde_json::Value;
use std::path::PathBuf;

/// The instant a test's manual clock starts at.
pub const T0: &str = "2026-03-02T09:00:00Z";

pub fn ts(text: &str) -> Timestamp {
    text.parse().expect("a valid instant")
}

pub use minutely_testkit::fixtures::{RATES, tenant_file};

pub struct TestApp {
    pub url: String,
    pub dir: tempfile::TempDir,
    pub db: PathBuf,
    pub operator_key: String,
    pub clock: Clock,
    /// The configuration every (re)start uses.
    pub config: Config,
    pub server: Option<Server>,
    pub client: reqwest::Client,
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub body: Value,
    pub text: String,
    pub headers: reqwest::header::HeaderMap,
}

impl TestApp {
    /// A server over a fresh store, with a manual clock at `T0` and an operator key.
    pub async fn start() -> TestApp {
        TestApp::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
        let dir = tempfile::tempdir().expect("a temp dir");
        let db = minutely_testkit::stores::store_location(dir.path());
        let clock = Clock::manual(ts(T0));
        let operator_key = {
            let mut store =
                Store::open(&db, &minutely_formats::countries::shipped()).expect("a fresh store");
            let secret = store.key_secret().expect("the key secret");
            let (record, key) = auth::new_key(&secret, KeyKind::Operator, None, "tests", ts(T0));
            store.insert_key(&record).expect("the operator key");
            key
        };
        let mut config = Config::new(db.clone(), "127.0.0.1:0".parse().expect("an address"));
        config.clock = clock.clone();
        adjust(&mut config);
        let server = Server::start(config.clone())
            .await
            .expect("the server starts");
        TestApp {
            url: server.url(),
            dir,
            db,
            operator_key,
            clock,
            config,
            server: Some(server),
            client: reqwest::Client::new(),
        }
    }

    /// Graceful shutdown, then a new server over the same store (restart).
    pub async fn restart(&mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await.expect("a clean shutdown");
        }
        let server = Server::start(self.config.clone())
            .await
            .expect("the server restarts");
        self.url = server.url();
        self.server = Some(server);
    }

    pub async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await.expect("a clean shutdown");
        }
    }

    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        key: Option<&str>,
        body: Option<RequestBody>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut req = self.client.request(method, format!("{}{}", self.url, path));
        if let Some(key) = key {
            req = req.bearer_auth(key);
        }
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        req = match body {
            Some(RequestBody::Json(v)) => req.json(&v),
            Some(RequestBody::Text(content_type, text)) => {
                req.header("content-type", content_type).body(text)
            }
            Some(RequestBody::Bare(text)) => req.body(text),
            None => req,
        };
        let response = req.send().await.expect("the server answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("a body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp {
            status,
            body,
            text,
            headers,
        }
    }

    pub async fn get(&self, path: &str, key: &str) -> Resp {
        self.request(reqwest::Method::GET, path, Some(key), None, &[])
            .await
    }

    pub async fn post(&self, path: &str, key: &str, body: Value) -> Resp {
        self.request(
            reqwest::Method::POST,
            path,
            Some(key),
            Some(RequestBody::Json(body)),
            &[],
        )
        .await
    }

    pub async fn put(&self, path: &str, key: &str, body: Value) -> Resp {
        self.request(
            reqwest::Method::PUT,
            path,
            Some(key),
            Some(RequestBody::Json(body)),
            &[],
        )
        .await
    }

    pub async fn delete(&self, path: &str, key: &str) -> Resp {
        self.request(reqwest::Method::DELETE, path, Some(key), None, &[])
            .await
    }

    /// Imports `RATES` as the EUR card and applies `tenant_file(id)` directly on the store
    /// through the same code as `minutely apply`, then restarts the server so it loads them;
    /// funds the wallet with `funding` (EUR, operator) through the API when given. Returns
    /// (tenant admin key, bridge key) created in the store.
    pub async fn seed_tenant(&mut self, id: &str, funding: Option<&str>) -> (String, String) {
        self.seed_tenant_file(&tenant_file(id), funding).await
    }

    pub async fn seed_tenant_file(
        &mut self,
        file: &str,
        funding: Option<&str>,
    ) -> (String, String) {
        if let Some(server) = self.server.take() {
            server.shutdown().await.expect("a clean shutdown");
        }
        let (admin, bridge, id) = {
            let mut store =
                Store::open(&self.db, &minutely_formats::countries::shipped()).expect("the store");
            let countries = store.countries().expect("countries");
            let card = minutely_formats::ratecard::parse(
                RATES.as_bytes(),
                minutely_core::money::Currency::parse("EUR").expect("EUR"),
            )
            .expect("the sample card parses");
            store.import_rate_card(&card).expect("the card imports");
            let parsed = minutely_formats::tenant_file::TenantFile::parse(file)
                .expect("the tenant file parses");
            let id = parsed.tenant_id().to_string();
            let existing = store.load_book(&id).expect("load");
            let rules = store.amount_rules().expect("rules");
            let refs: std::collections::BTreeSet<String> =
                store.funding_refs(&id).expect("refs").into_iter().collect();
            let applied = minutely_formats::tenant_file::apply(
                &parsed,
                existing.as_ref(),
                &countries,
                &rules,
                &refs,
            )
            .expect("the tenant file applies");
            let commit = minutely_store::Commit {
                entries: applied.effects.entries.clone(),
                events: applied.effects.events.clone(),
                funding_refs: applied.funding_refs.clone(),
                ..Default::default()
            };
            store.save(&applied.book, &commit).expect("saved");
            let secret = store.key_secret().expect("secret");
            let (a, admin) =
                auth::new_key(&secret, KeyKind::TenantAdmin, Some(&id), "admin", ts(T0));
            let (b, bridge) = auth::new_key(&secret, KeyKind::Bridge, Some(&id), "bridge", ts(T0));
            store.insert_key(&a).expect("key");
            store.insert_key(&b).expect("key");
            (admin, bridge, id)
        };
        let server = Server::start(self.config.clone())
            .await
            .expect("the server restarts");
        self.url = server.url();
        self.server = Some(server);
        if let Some(amount) = funding {
            let r = self
                .post(
                    &format!("/v1/tenants/{id}/wallet/fundings"),
                    &self.operator_key.clone(),
                    serde_json::json!({"amount": amount, "reference": "seed"}),
                )
                .await;
            assert_eq!(r.status, 200, "seed funding: {}", r.text);
        }
        (admin, bridge)
    }
}

impl TestApp {
    /// A new edge key (the SIP proxy's: call control for every tenant), made through the API by
    /// the operator.
    pub async fn edge_key(&self) -> String {
        let created = self
            .post(
                "/v1/keys",
                &self.operator_key.clone(),
                serde_json::json!({"kind": "edge", "label": "proxy"}),
            )
            .await;
        assert_eq!(created.status, 201, "{}", created.text);
        created.body["key"]
            .as_str()
            .expect("the key text")
            .to_string()
    }
}

pub enum RequestBody {
    Json(Value),
    /// (content type, text)
    Text(&'static str, String),
    /// A body sent without a Content-Type header.
    Bare(String),
}
