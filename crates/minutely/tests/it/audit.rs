//! The command line's changes are audited like the API's, as `cli`: the real binary on a real
//! store, read back with `minutely audit`.

use minutely_store::{ActorKind, Store};
use minutely_testkit::fixtures::example_tenant_path;
use std::path::PathBuf;
use std::process::{Command, Output};

struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn new() -> Workspace {
        Workspace {
            dir: tempfile::tempdir().expect("a temporary directory"),
        }
    }

    fn db(&self) -> PathBuf {
        self.dir.path().join("minutely.db")
    }

    fn path(&self, name: &str) -> String {
        self.dir
            .path()
            .join(name)
            .to_str()
            .expect("UTF-8")
            .to_string()
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_minutely"))
            .args(args)
            .env("MINUTELY_DB", self.db())
            .current_dir(self.dir.path())
            .output()
            .expect("run minutely")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "minutely {args:?} failed:\n{stderr}");
        String::from_utf8(out.stdout).expect("UTF-8 output")
    }

    fn fails(&self, args: &[&str]) {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "minutely {args:?} should have failed"
        );
    }

    /// (action, tenant, object) of every row of `minutely audit` with these arguments.
    fn rows(&self, extra: &[&str]) -> Vec<(String, String, String)> {
        let mut args = vec!["audit"];
        args.extend_from_slice(extra);
        self.ok(&args)
            .lines()
            .skip(1)
            .map(|line| {
                let cells: Vec<&str> = line.split('\t').collect();
                assert_eq!(cells.len(), 10, "{line}");
                assert_eq!(cells[2], "cli", "{line}");
                assert_eq!(cells[3], "-", "no key for the command line: {line}");
                (cells[5].into(), cells[4].into(), cells[6].into())
            })
            .collect()
    }
}

fn row(action: &str, tenant: &str, object: &str) -> (String, String, String) {
    (action.into(), tenant.into(), object.into())
}

#[test]
fn command_line_changes_are_audited_and_refusals_are_not() {
    let ws = Workspace::new();
    let rates = ws.path("rates.csv");
    let sample = Command::new(env!("CARGO_BIN_EXE_minutely-tools"))
        .args(["gen", "rates", "--currency", "EUR"])
        .output()
        .expect("run minutely-tools");
    assert!(sample.status.success(), "minutely-tools gen rates failed");
    std::fs::write(&rates, sample.stdout).unwrap();
    ws.ok(&["rates", "import", &rates, "--currency", "EUR"]);
    ws.ok(&[
        "apply",
        "-f",
        example_tenant_path().to_str().expect("UTF-8"),
    ]);
    // Again: nothing changes, nothing is recorded.
    ws.ok(&[
        "apply",
        "-f",
        example_tenant_path().to_str().expect("UTF-8"),
    ]);
    ws.ok(&["rates", "import", &rates, "--currency", "EUR"]);
    ws.ok(&[
        "wallet",
        "fund",
        "--tenant",
        "contoso",
        "--amount",
        "100",
        "--reference",
        "PO-7",
    ]);
    // Refused: below the minimum, and an unknown tenant's key.
    ws.fails(&[
        "wallet",
        "fund",
        "--tenant",
        "contoso",
        "--amount",
        "10",
        "--reference",
        "PO-8",
    ]);
    ws.fails(&["keys", "create", "--kind", "bridge", "--tenant", "nobody"]);
    let key = ws.ok(&[
        "keys",
        "create",
        "--kind",
        "tenant-admin",
        "--tenant",
        "contoso",
        "--label",
        "IT",
    ]);
    let key = key.trim().to_string();
    let id = key
        .trim_start_matches("mk_")
        .split('_')
        .next()
        .unwrap()
        .to_string();
    ws.ok(&["keys", "revoke", &id]);
    ws.ok(&["keys", "revoke", &id]);
    ws.ok(&["settings", "set", "--minimum-amount", "100"]);
    let countries = ws.ok(&["countries", "export"]);
    let edited = ws.path("countries.csv");
    std::fs::write(
        &edited,
        countries.replace("AE,United Arab Emirates,", "AE,UAE,"),
    )
    .unwrap();
    ws.ok(&["countries", "import", &edited]);

    assert_eq!(
        ws.rows(&[]),
        [
            row("rate_card.import", "-", "EUR"),
            row("tenant.apply", "contoso", "contoso"),
            row("wallet.fund", "contoso", "PO-7"),
            row("key.create", "contoso", &id),
            row("key.revoke", "contoso", &id),
            row("settings.set", "-", "minimum_amount"),
            row("countries.replace", "-", "countries"),
        ]
    );
    assert_eq!(
        ws.rows(&["--tenant", "contoso", "--limit", "2"]),
        [
            row("tenant.apply", "contoso", "contoso"),
            row("wallet.fund", "contoso", "PO-7"),
        ]
    );

    // What the rows hold: snapshots, never the key's secret.
    let listing = ws.ok(&["audit"]);
    let secret = key.rsplit('_').next().unwrap();
    assert!(!listing.contains(secret), "the key's secret is in the log");
    let store = Store::open(&ws.db(), &minutely_formats::countries::shipped()).unwrap();
    let rows = store.audit_page(None, 0, 100).unwrap();
    assert!(rows.iter().all(|r| r.entry.actor_kind == ActorKind::Cli));
    let fund = &rows[2].entry;
    let after: serde_json::Value = serde_json::from_str(fund.after.as_deref().unwrap()).unwrap();
    assert_eq!(after["amount"], "100.00");
    assert_eq!(after["reference"], "PO-7");
    let settings = &rows[5].entry;
    assert_eq!(
        settings.after.as_deref(),
        Some(r#"{"minimum_amount":"100"}"#)
    );
    let after = rows[1].entry.after.as_deref().unwrap();
    assert!(after.contains("\"changes\""), "{after}");
    assert!(rows[1].entry.before.is_none(), "the tenant was new");
}
