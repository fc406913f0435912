//! The whole command path under hostile input: seeded random requests to every operation of
//! the served OpenAPI document (every writer command goes through them, exactly as clients
//! reach it), with every kind of credential (operator, tenant admin, bridge, another tenant's
//! keys, the SIP edge's key), and bodies, paths and queries built from the operation's own schema out of extreme
//! values: the largest and smallest decimals, 28-digit scales, huge counts and durations,
//! negative numbers, long strings, control and bidi characters, formulas. After every step no
//! answer is a 5xx and C24 (fundings - debits - forfeits = balance) holds for every tenant, read
//! back from the store; at the end the server restarts, which loads every tenant and checks C24
//! again against its journal.
//!
//! `MINUTELY_FUZZ_SEEDS` (default 3) seeds of `MINUTELY_FUZZ_STEPS` (default 300) steps run, or
//! new seeds until `MINUTELY_FUZZ_SECONDS` have passed. Every seed in
//! `tests/corpus/commands/` (one `seed steps` pair a line) is replayed first: a seed that once
//! found a fault stays in the corpus.

use crate::common;
use crate::support;

use common::*;
use serde_json::{Map, Value, json};
use support::Rng;

const MONEY: &[&str] = &[
    "0",
    "1",
    "-1",
    "50",
    "100",
    "100.00",
    "0.01",
    "1000000",
    "1000000000000",
    "1000000000001",
    "999999999999.99",
    "79228162514264337593543950000",
    "79228162514264337593543950335",
    "79228162514264337593543950336",
    "7922816251426433759354395033",
    "0.0000000000000000000000000001",
    "100.0000000000000000000000000001",
    "1e3",
    "NaN",
    " 100",
    "",
];

const INTEGERS: &[i128] = &[
    0,
    1,
    -1,
    59,
    60,
    3_600,
    86_400,
    31_622_400,
    4_294_967_296,
    9_007_199_254_740_993,
    i64::MAX as i128,
    u64::MAX as i128,
    -(i64::MAX as i128),
];

fn strings() -> Vec<String> {
    let mut out: Vec<String> = [
        "",
        "x",
        "acme",
        "beta",
        "..",
        "EUR",
        "JPY",
        "dial_out",
        "dial_in",
        "toll",
        "toll_free",
        "Global",
        "MCOMEETADD",
        "MCOPSTNPP",
        "MCOMEETACPEA",
        "ppm@acme.example",
        "sub@acme.example",
        "+33 6 12 34 56 78",
        "+33 1 86 95 00 00",
        "+8190 1234 5678",
        "+999",
        "2026-03-02T09:00:00Z",
        "9999-12-31T23:59:59Z",
        "0000-01-01T00:00:00Z",
        "2026-03",
        "Europe/Paris",
        "=HYPERLINK(\"x\")",
        "a\u{0}b",
        "a\r\nb",
        "a\u{202e}b",
        "ja",
        "http://127.0.0.1:1/hook",
        "https://hooks.example/x",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    out.push("x".repeat(300));
    out.push("é".repeat(200));
    out.extend(MONEY.iter().map(|s| s.to_string()));
    out
}

struct Fuzzer {
    rng: Rng,
    spec: Value,
    strings: Vec<String>,
}

impl Fuzzer {
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.rng.range(0, items.len() as u64 - 1) as usize]
    }

    fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let name = r.rsplit('/').next().unwrap_or_default();
                &self.spec["components"]["schemas"][name]
            }
            None => schema,
        }
    }

    /// A plausible value for a well-known field, so that requests get past the first check
    /// often enough to reach the writer.
    fn sane(&mut self, name: &str) -> Option<Value> {
        let options: &[&str] = match name {
            "direction" => &["dial_out", "dial_in"],
            "organizer" => &["ppm@acme.example", "sub@acme.example", "ppm@beta.example"],
            "destination_number" => &["+33 6 12 34 56 78", "+8190 1234 5678", "+44 20 7946 0000"],
            "service_number" => &["+33 1 86 95 00 00", "+33 805 98 00 00"],
            "caller_number" => &["+33 6 11 22 33 44", "+1 212 555 0100"],
            "conference_id" => &["m1", "m2"],
            "call_id" => &["c1", "c2", "c3", "c4"],
            "op" => &["authorize", "extend", "end"],
            "start" | "end" | "at" => &["2026-03-02T09:00:00Z", "2026-03-02T09:05:00Z"],
            "reference" => &["r1", "r2", "r3", "r4", "r5", "r6"],
            "display_name" => &["Ana", "=HYPERLINK(\"x\")"],
            _ => return None,
        };
        Some(json!(self.pick(options)))
    }

    fn string_for(&mut self, name: &str) -> Value {
        if self.rng.chance(60)
            && let Some(value) = self.sane(name)
        {
            return value;
        }
        let money = [
            "amount",
            "trigger",
            "rate",
            "fee",
            "threshold",
            "price",
            "minimum",
        ];
        if money.iter().any(|m| name.contains(m)) && self.rng.chance(80) {
            // Half the time one of the extremes: past every bound, or past Decimal's range.
            if self.rng.chance(50) {
                return json!(self.pick(&MONEY[8..15]));
            }
            return json!(self.pick(MONEY));
        }
        let strings = std::mem::take(&mut self.strings);
        let value = json!(self.pick(&strings));
        self.strings = strings;
        value
    }

    /// A value for `schema`, from the pools above; the field's name steers the choice.
    fn value(&mut self, schema: &Value, name: &str, depth: u32) -> Value {
        let schema = self.resolve(schema).clone();
        for key in ["oneOf", "anyOf", "allOf"] {
            if let Some(options) = schema[key].as_array().filter(|o| !o.is_empty()) {
                let option = self.pick(options).clone();
                return self.value(&option, name, depth);
            }
        }
        if self.rng.chance(2) {
            return Value::Null;
        }
        let kind = match &schema["type"] {
            Value::Array(kinds) => kinds
                .iter()
                .find(|k| *k != "null")
                .cloned()
                .unwrap_or(Value::Null),
            other => other.clone(),
        };
        match kind.as_str().unwrap_or("object") {
            "integer" | "number" => json!(*self.pick(INTEGERS)),
            "boolean" => json!(self.rng.chance(50)),
            "string" => match schema["enum"].as_array() {
                Some(values) if self.rng.chance(70) => self.pick(values).clone(),
                _ => self.string_for(name),
            },
            "array" if depth < 3 => {
                let n = *self.pick(&[0u64, 1, 2, 3]);
                (0..n)
                    .map(|_| self.value(&schema["items"], name, depth + 1))
                    .collect()
            }
            "object" if depth < 3 => self.object(&schema, depth),
            _ => Value::Null,
        }
    }

    fn object(&mut self, schema: &Value, depth: u32) -> Value {
        let required: Vec<String> = schema["required"]
            .as_array()
            .map(|r| {
                r.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        let mut out = Map::new();
        if let Some(properties) = schema["properties"].as_object() {
            for (field, property) in properties.clone() {
                if required.contains(&field) || self.rng.chance(60) {
                    let v = self.value(&property, &field, depth + 1);
                    out.insert(field, v);
                }
            }
        }
        if self.rng.chance(2) {
            out.insert("unexpected".into(), json!(1));
        }
        Value::Object(out)
    }

    fn path_param(&mut self, name: &str) -> String {
        let options: &[&str] = match name {
            "tenant" => &[
                "acme", "acme", "acme", "acme", "beta", "nobody", "-x", "%3Dx",
            ],
            "call_id" => &["c1", "c2", "c3", "c%00", "%3Dcmd", "c4"],
            "upn" => &[
                "ppm@acme.example",
                "sub@acme.example",
                "new@acme.example",
                "%40x",
            ],
            "sku" => &["MCOMEETADD", "MCOPSTNPP", "MCOMEETACPEA", "NOPE"],
            "currency" => &["EUR", "USD", "JPY", "XXX"],
            "month" => &["2026-03", "2026-02", "0000-01", "9999-12", "2026-13"],
            _ => &["1", "2", "0", "99999999999999999999", "x"],
        };
        self.pick(options).to_string()
    }
}

/// One operation of the document: method, path template, parameters, body schema and type.
struct Operation {
    method: reqwest::Method,
    path: String,
    params: Vec<Value>,
    body: Option<(String, Value)>,
}

fn operations(spec: &Value) -> Vec<Operation> {
    let mut out = Vec::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("an operation map") {
            let Ok(method) = method.to_uppercase().parse::<reqwest::Method>() else {
                continue;
            };
            let body = op["requestBody"]["content"]
                .as_object()
                .and_then(|c| c.iter().next())
                .map(|(ct, media)| (ct.clone(), media["schema"].clone()));
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            out.push(Operation {
                method,
                path: path.clone(),
                params,
                body,
            });
        }
    }
    out
}

const RATE_CARDS: &[&str] = &[
    minutely_testkit::rate_card!(
        "dial_out,+44,,UK,GB,false,7922816251426433759354395033,0,60,60,2026-01-01T00:00:00Z\n"
    ),
    minutely_testkit::rate_card!(
        "dial_out,+44,,UK,GB,false,0.0200,79228162514264337593543950335,60,60,2026-01-01T00:00:00Z\n"
    ),
    minutely_testkit::rate_card!(
        "dial_out,+44,,UK,GB,false,0.0200,0,4294967296,1,2026-01-01T00:00:00Z\n"
    ),
    "garbage",
];

/// The request of one step, with its text body when the operation takes a non-JSON body.
fn build(f: &mut Fuzzer, op: &Operation) -> (String, Option<(String, String)>) {
    let mut path = op.path.clone();
    let mut query = Vec::new();
    for param in &op.params {
        let name = param["name"].as_str().unwrap_or_default().to_string();
        match param["in"].as_str() {
            Some("path") => {
                let value = f.path_param(&name);
                path = path.replace(&format!("{{{name}}}"), &value);
            }
            Some("query") if f.rng.chance(60) => {
                let v = f.value(&param["schema"], &name, 2);
                let text = v.as_str().map_or_else(|| v.to_string(), String::from);
                let encoded: String = text
                    .bytes()
                    .map(|b| match b {
                        b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => {
                            (b as char).to_string()
                        }
                        _ => format!("%{b:02X}"),
                    })
                    .collect();
                query.push(format!("{name}={encoded}"));
            }
            _ => {}
        }
    }
    if !query.is_empty() {
        path = format!("{path}?{}", query.join("&"));
    }
    let body = op.body.as_ref().map(|(ct, schema)| {
        let text = if ct.contains("json") {
            f.value(schema, "", 0).to_string()
        } else {
            f.pick(RATE_CARDS).to_string()
        };
        (ct.clone(), text)
    });
    (path, body)
}

/// The key a legitimate client of the route would hold: operator, acme's admin or bridge, or
/// the edge's.
fn fitting_key<'a>(path: &str, keys: &'a [String; 6]) -> &'a str {
    if path.starts_with("/v1/edge") {
        &keys[5]
    } else if path.contains("/calls") || path.contains("/control") {
        &keys[2]
    } else if path.starts_with("/v1/tenants/{tenant}") && !path.ends_with("/file") {
        &keys[1]
    } else {
        &keys[0]
    }
}

/// C24 for every tenant, read back from the store as a new process would load it.
fn c24_holds_in_the_store(app: &TestApp) {
    let store = minutely_store::Store::open_read_only(&app.db).expect("a read-only store");
    for tenant in ["acme", "beta"] {
        store
            .load_book(tenant)
            .unwrap_or_else(|e| panic!("C24: {tenant} no longer loads: {e}"))
            .expect("the tenant exists");
    }
}

async fn run_seed(seed: u64, steps: u64) -> std::collections::BTreeMap<u16, u64> {
    let mut statuses = std::collections::BTreeMap::new();
    let mut app = TestApp::start().await;
    let (admin_a, bridge_a) = app.seed_tenant("acme", Some("100")).await;
    let (admin_b, bridge_b) = app
        .seed_tenant_file(&tenant_file("beta"), Some("100"))
        .await;
    let edge = app.edge_key().await;
    let keys = [
        app.operator_key.clone(),
        admin_a,
        bridge_a,
        admin_b,
        bridge_b,
        edge,
    ];
    let spec = app
        .client
        .get(format!("{}/openapi.json", app.url))
        .send()
        .await;
    let spec: Value = spec
        .expect("openapi")
        .json()
        .await
        .expect("a JSON document");
    let ops = operations(&spec);
    let writes: Vec<&Operation> = ops
        .iter()
        .filter(|o| o.method != reqwest::Method::GET)
        .collect();
    let mut f = Fuzzer {
        rng: Rng::new(seed),
        spec,
        strings: strings(),
    };
    for step in 0..steps {
        // Half the steps are writes: that is where the money is.
        let op = if f.rng.chance(50) {
            writes[f.rng.range(0, writes.len() as u64 - 1) as usize]
        } else {
            &ops[f.rng.range(0, ops.len() as u64 - 1) as usize]
        };
        let key = if f.rng.chance(75) {
            fitting_key(&op.path, &keys).to_string()
        } else {
            f.pick(&keys).clone()
        };
        let (path, body) = build(&mut f, op);
        let mut req = app
            .client
            .request(op.method.clone(), format!("{}{}", app.url, path))
            .bearer_auth(&key);
        if let Some((ct, text)) = &body {
            req = req.header("content-type", ct.as_str()).body(text.clone());
        }
        let response = req.send().await.expect("the server answers");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        *statuses.entry(status).or_insert(0) += 1;
        if std::env::var("MINUTELY_FUZZ_TRACE").is_ok() {
            println!("{} {path} {body:?} -> {status} {text:.160}", op.method);
        }
        assert!(
            status < 500,
            "seed {seed} step {step}: {} {path} {body:?} -> {status} {text}",
            op.method
        );
        if op.method != reqwest::Method::GET {
            c24_holds_in_the_store(&app);
        }
        app.clock.advance(f.rng.range(0, 600) as i64);
    }
    // A restart loads every tenant and checks C24 against its journal.
    app.restart().await;
    c24_holds_in_the_store(&app);
    app.stop().await;
    statuses
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::test]
async fn the_command_path_survives_extreme_input_from_every_credential() {
    let corpus = include_str!("../corpus/commands/seeds.txt");
    for line in corpus
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        let mut parts = line.split_whitespace();
        let seed = parts.next().and_then(|s| s.parse().ok()).expect("a seed");
        let steps = parts.next().and_then(|s| s.parse().ok()).unwrap_or(150);
        println!(
            "corpus seed {seed}: answers by status {:?}",
            run_seed(seed, steps).await
        );
    }
    let steps = env_u64("MINUTELY_FUZZ_STEPS", 300);
    let seconds = env_u64("MINUTELY_FUZZ_SECONDS", 0);
    let first = env_u64("MINUTELY_FUZZ_FIRST_SEED", 2_000);
    let started = std::time::Instant::now();
    let seeds = env_u64("MINUTELY_FUZZ_SEEDS", 3);
    for seed in first.. {
        let done = seed - first;
        let over = if seconds > 0 {
            started.elapsed().as_secs() >= seconds || done >= 100_000
        } else {
            done >= seeds
        };
        if over {
            println!("command fuzzing: {done} seeds of {steps} steps");
            break;
        }
        println!(
            "seed {seed}: answers by status {:?}",
            run_seed(seed, steps).await
        );
    }
}
