//! `minutely keys`: the real binary on a real store; the key it prints is checked by the
//! server's own authentication code.

use minutely_server::auth::{Keys, Principal};
use minutely_store::Store;
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

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_minutely"))
            .args(args)
            .env("MINUTELY_DB", self.db())
            .current_dir(self.dir.path())
            .output()
            .expect("run minutely")
    }

    /// Runs and requires success; returns (stdout, stderr).
    fn ok(&self, args: &[&str]) -> (String, String) {
        let out = self.run(args);
        let stderr = String::from_utf8(out.stderr).expect("UTF-8 errors");
        assert!(out.status.success(), "minutely {args:?} failed:\n{stderr}");
        (String::from_utf8(out.stdout).expect("UTF-8 output"), stderr)
    }

    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "minutely {args:?} should have failed"
        );
        String::from_utf8(out.stderr).expect("UTF-8 errors")
    }

    /// Authenticates `key` as a server loading this store would.
    fn authenticate(&self, key: &str) -> Result<Principal, String> {
        let mut store =
            Store::open(&self.db(), &minutely_formats::countries::shipped()).expect("the store");
        let keys = Keys::new(
            store.key_secret().expect("secret"),
            store.keys().expect("keys"),
        );
        keys.authenticate(Some(&format!("Bearer {key}")))
            .map_err(|e| e.code.to_string())
    }
}

/// The id column of `keys list` rows.
fn listed(stdout: &str) -> Vec<Vec<String>> {
    stdout
        .lines()
        .skip(1)
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

#[test]
fn keys_are_created_shown_once_listed_and_revoked() {
    let ws = Workspace::new();
    ws.ok(&["apply", "-f", example_tenant_path().to_str().unwrap()]);

    let (key, note) = ws.ok(&[
        "keys",
        "create",
        "--kind",
        "tenant-admin",
        "--tenant",
        "contoso",
        "--label",
        "Contoso IT",
    ]);
    let key = key.trim().to_string();
    assert!(key.starts_with("mk_"), "only the key on stdout: {key:?}");
    assert!(note.contains("cannot be shown again"), "{note}");
    let id = key.split('_').nth(1).unwrap().to_string();
    assert_eq!(
        ws.authenticate(&key),
        Ok(Principal::TenantAdmin {
            key: id.clone(),
            tenant: "contoso".into()
        })
    );
    let (operator, _) = ws.ok(&["keys", "create", "--kind", "operator"]);
    assert!(matches!(
        ws.authenticate(operator.trim()),
        Ok(Principal::Operator { .. })
    ));
    let (bridge, _) = ws.ok(&["keys", "create", "--kind", "bridge", "--tenant", "contoso"]);
    assert!(matches!(
        ws.authenticate(bridge.trim()),
        Ok(Principal::Bridge { .. })
    ));

    let (list, _) = ws.ok(&["keys", "list"]);
    assert!(
        list.starts_with("id\tkind\ttenant\tlabel\tcreated_at\trevoked_at\n"),
        "{list}"
    );
    let secret = key.rsplit('_').next().unwrap();
    assert!(!list.contains(secret), "no secret listed:\n{list}");
    let rows = listed(&list);
    assert_eq!(rows.len(), 3, "{list}");
    let row = rows.iter().find(|r| r[0] == id).expect("listed");
    assert_eq!(row[1..4], ["tenant_admin", "contoso", "Contoso IT"]);
    assert_eq!(row[5], "-");

    let (said, _) = ws.ok(&["keys", "revoke", &id]);
    assert!(said.contains(&format!("revoked key {id}")), "{said}");
    assert_eq!(ws.authenticate(&key), Err("key_revoked".to_string()));
    let (said, _) = ws.ok(&["keys", "revoke", &id]);
    assert!(said.contains("already revoked"), "{said}");
    let (list, _) = ws.ok(&["keys", "list"]);
    let row = listed(&list)
        .into_iter()
        .find(|r| r[0] == id)
        .expect("still listed");
    assert_ne!(row[5], "-", "a revocation instant");
    assert!(matches!(
        ws.authenticate(operator.trim()),
        Ok(Principal::Operator { .. })
    ));
}

#[test]
fn key_creation_names_what_is_wrong_and_changes_nothing() {
    let ws = Workspace::new();
    ws.ok(&["apply", "-f", example_tenant_path().to_str().unwrap()]);
    let err = ws.fails(&["keys", "create", "--kind", "bridge"]);
    assert!(err.contains("--tenant is required"), "{err}");
    let err = ws.fails(&[
        "keys", "create", "--kind", "operator", "--tenant", "contoso",
    ]);
    assert!(
        err.contains("--tenant") && err.contains("operator"),
        "{err}"
    );
    let err = ws.fails(&[
        "keys",
        "create",
        "--kind",
        "tenant-admin",
        "--tenant",
        "nobody",
    ]);
    assert!(
        err.contains("unknown_tenant") && err.contains("nobody"),
        "{err}"
    );
    let err = ws.fails(&["keys", "create", "--kind", "root"]);
    assert!(err.contains("root"), "{err}");
    let err = ws.fails(&["keys", "revoke", "nope"]);
    assert!(err.contains("no key \"nope\""), "{err}");
    let (list, _) = ws.ok(&["keys", "list"]);
    assert!(listed(&list).is_empty(), "{list}");
    let (help, _) = ws.ok(&["keys", "revoke", "--help"]);
    assert!(help.contains("within a second"), "{help}");
}
