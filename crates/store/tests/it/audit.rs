//! The audit log against real SQLite files: rows commit exactly with the change they describe
//! (a rolled-back change leaves none), pages by tenant with a cursor, the schema refuses rows
//! that are not JSON or that name a key for the command line, and a V2 file migrates.

use jiff::Timestamp;
use minutely_core::catalogue::{Availability, Conferencing, CountryFacts, CountryTable};
use minutely_core::directory::{Agreement, Tenant, TenantSpec};
use minutely_core::ledger::Wallet;
use minutely_core::money::Currency;
use minutely_core::numbers::Country;
use minutely_store::{
    ActorKind, ApiKey, AuditEntry, AuditRecord, Store, StoreError, TenantChanges,
};
use std::path::{Path, PathBuf};
use tempfile::TempDir;

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

/// France alone (the audit and checkpoint tests need one country to open a store).
pub(crate) fn countries() -> CountryTable {
    CountryTable::new([CountryFacts {
        country: Country::parse("FR").unwrap(),
        name: "France".into(),
        zone_a: true,
        conferencing: Conferencing::Yes,
        toll_dial_in: Availability::Yes,
        toll_free_dial_in: Availability::Yes,
        communications_credits: true,
    }])
}

fn db() -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = minutely_testkit::stores::store_location(dir.path());
    (dir, path)
}

fn raw(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).unwrap()
}

fn tenant(id: &str) -> Tenant {
    Tenant::new(TenantSpec {
        id: id.into(),
        name: format!("{id} SA"),
        country: Country::parse("FR").unwrap(),
        currency: Currency::parse("EUR").unwrap(),
        timezone: "Europe/Paris".into(),
        agreement: Agreement::VolumeLicensing,
    })
    .unwrap()
}

/// A tenant that appears: its whole directory and an empty wallet.
pub(crate) fn new_tenant(id: &str) -> TenantChanges {
    TenantChanges {
        tenant_id: id.into(),
        directory: Some(tenant(id)),
        wallet: Some(Wallet::default().snapshot()),
        ..TenantChanges::default()
    }
}

fn entry(tenant: Option<&str>, action: &str, object: &str) -> AuditEntry {
    AuditEntry {
        at: at("2026-02-01T10:00:00Z"),
        actor_kind: ActorKind::Operator,
        actor_key_id: Some("k-op".into()),
        tenant: tenant.map(str::to_string),
        action: action.into(),
        object: object.into(),
        before: None,
        after: Some(format!(r#"{{"id":"{object}"}}"#)),
        request_id: Some(format!("req-{object}")),
    }
}

fn key(id: &str, tenant: Option<&str>) -> ApiKey {
    ApiKey {
        id: id.into(),
        kind: if tenant.is_some() {
            "tenant_admin"
        } else {
            "operator"
        }
        .into(),
        tenant: tenant.map(str::to_string),
        label: "label".into(),
        digest: [7; 32],
        created_at: at("2026-02-01T10:00:00Z"),
        revoked_at: None,
    }
}

fn all(store: &Store) -> Vec<AuditRecord> {
    store.audit_page(None, 0, 1_000).unwrap()
}

#[test]
fn a_batch_and_its_audit_rows_commit_together_or_not_at_all() {
    let (_dir, path) = db();
    let mut store = Store::open(&path, &countries()).unwrap();
    store
        .commit_batch_audited(
            &[new_tenant("acme")],
            &[entry(Some("acme"), "tenant.create", "acme")],
        )
        .unwrap();
    let rows = all(&store);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].entry, entry(Some("acme"), "tenant.create", "acme"));

    // The second tenant's directory is fine but acme's changes name another tenant's
    // directory: the whole batch fails, and its audit rows with it.
    let mut broken = new_tenant("globex");
    broken.tenant_id = "acme".into();
    let failed = store.commit_batch_audited(
        &[new_tenant("initech"), broken],
        &[
            entry(Some("initech"), "tenant.create", "initech"),
            entry(Some("acme"), "tenant.apply", "acme"),
        ],
    );
    assert!(failed.is_err(), "a batch that breaks an invariant fails");
    assert_eq!(all(&store), rows, "no audit row of a rolled-back batch");
    assert!(store.load_book("initech").unwrap().is_none());

    // An audit row the schema refuses makes the batch's changes roll back too.
    let mut not_json = entry(Some("initech"), "tenant.create", "initech");
    not_json.after = Some("{not json".into());
    let refused = store.commit_batch_audited(&[new_tenant("initech")], &[not_json]);
    assert!(refused.unwrap_err().is_constraint());
    assert!(store.load_book("initech").unwrap().is_none());
    assert_eq!(all(&store), rows);
}

#[test]
fn atomically_keeps_a_direct_change_and_its_row_in_one_transaction() {
    let (_dir, path) = db();
    let mut store = Store::open(&path, &countries()).unwrap();

    // Success: the key and its row, both visible from another connection.
    store
        .atomically(|s| {
            s.insert_key(&key("k-1", None))?;
            s.append_audit(&[entry(None, "key.create", "k-1")])
        })
        .unwrap();
    let reader = Store::open_read_only(&path).unwrap();
    assert_eq!(reader.keys().unwrap().len(), 1);
    assert_eq!(reader.audit_page(None, 0, 10).unwrap().len(), 1);

    // A failure after both writes: neither stays.
    let failed: Result<(), StoreError> = store.atomically(|s| {
        s.insert_key(&key("k-2", None))?;
        s.append_audit(&[entry(None, "key.create", "k-2")])?;
        Err(StoreError::Corrupt("the caller gave up".into()))
    });
    assert!(failed.is_err());
    assert_eq!(reader.keys().unwrap().len(), 1, "the key rolled back");
    assert_eq!(reader.audit_page(None, 0, 10).unwrap().len(), 1);

    // A refused change inside is undone alone: a caller that carries on commits the rest.
    store
        .atomically(|s| {
            assert!(s.insert_key(&key("k-1", None)).unwrap_err().is_constraint());
            s.revoke_key("k-1", at("2026-02-02T00:00:00Z"))?;
            s.append_audit(&[entry(None, "key.revoke", "k-1")])
        })
        .unwrap();
    let keys = reader.keys().unwrap();
    assert_eq!(keys.len(), 1);
    assert!(keys[0].revoked_at.is_some());
    let actions: Vec<String> = reader
        .audit_page(None, 0, 10)
        .unwrap()
        .into_iter()
        .map(|r| r.entry.action)
        .collect();
    assert_eq!(actions, ["key.create", "key.revoke"]);

    // The store is usable on its own after all of that.
    store.insert_key(&key("k-3", None)).unwrap();
    assert_eq!(reader.keys().unwrap().len(), 2);
}

#[test]
fn pages_by_tenant_with_a_cursor() {
    let (_dir, path) = db();
    let mut store = Store::open(&path, &countries()).unwrap();
    store
        .commit_batch(&[new_tenant("acme"), new_tenant("globex")])
        .unwrap();
    let mut written = Vec::new();
    for i in 0..7 {
        let tenant = match i % 3 {
            0 => Some("acme"),
            1 => Some("globex"),
            _ => None,
        };
        let e = entry(tenant, "user.put", &format!("u{i}"));
        store.append_audit(std::slice::from_ref(&e)).unwrap();
        written.push(e);
    }

    let everything = all(&store);
    assert_eq!(
        everything
            .iter()
            .map(|r| r.entry.clone())
            .collect::<Vec<_>>(),
        written
    );
    assert!(everything.windows(2).all(|w| w[0].seq < w[1].seq));

    // acme's rows only, two at a time, resuming after the last seq of each page.
    let mut seen = Vec::new();
    let mut after = 0;
    loop {
        let page = store.audit_page(Some("acme"), after, 2).unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 2);
        after = page.last().unwrap().seq;
        seen.extend(page.into_iter().map(|r| r.entry.object));
    }
    assert_eq!(seen, ["u0", "u3", "u6"]);
    assert!(store.audit_page(Some("initech"), 0, 10).unwrap().is_empty());
    let tail = store.audit_page(None, everything[4].seq, 10).unwrap();
    assert_eq!(tail, everything[5..].to_vec());
}

#[test]
fn the_schema_refuses_rows_that_are_not_json_or_name_a_key_for_the_command_line() {
    let (_dir, path) = db();
    let mut store = Store::open(&path, &countries()).unwrap();
    let mut bad_before = entry(None, "rate_card.import", "EUR");
    bad_before.before = Some("nope".into());
    let mut cli_with_key = entry(None, "key.create", "k-1");
    cli_with_key.actor_kind = ActorKind::Cli;
    let mut key_without_id = entry(None, "key.create", "k-1");
    key_without_id.actor_key_id = None;
    for bad in [bad_before, cli_with_key, key_without_id] {
        let e = store.append_audit(&[bad]).unwrap_err();
        assert!(e.is_constraint(), "{e}");
    }
    let mut cli = entry(None, "settings.set", "minimum_amount");
    cli.actor_kind = ActorKind::Cli;
    cli.actor_key_id = None;
    cli.request_id = None;
    store.append_audit(std::slice::from_ref(&cli)).unwrap();
    assert_eq!(all(&store)[0].entry, cli);
}

#[test]
fn a_version_2_file_gains_the_audit_table() {
    sqlite_only!();
    let (_dir, path) = db();
    let mut store = Store::open(&path, &countries()).unwrap();
    store.commit_batch(&[new_tenant("acme")]).unwrap();
    drop(store);
    raw(&path)
        .execute_batch("DROP INDEX events_by_kind; DROP TABLE guard_tenants; DROP TABLE guard_list; DROP TABLE guard_operator; DROP TABLE stream_cursors; DROP TABLE rerate_items; DROP TABLE rerate_runs; DROP TABLE license_prices; DROP TABLE key_preferences; DROP TABLE audit; DROP INDEX service_numbers_by_number; ALTER TABLE reservations DROP COLUMN last_window; ALTER TABLE reservations DROP COLUMN authorized_at; PRAGMA user_version = 2;")
        .unwrap();
    match Store::open_read_only(&path) {
        Err(StoreError::NotMigrated {
            found: 2,
            known: 10,
        }) => {}
        other => panic!("a reader cannot migrate: {:?}", other.err()),
    }
    let mut store = Store::open(&path, &countries()).unwrap();
    assert_eq!(store.schema_version().unwrap(), 10);
    assert!(store.load_book("acme").unwrap().is_some());
    store
        .append_audit(&[entry(Some("acme"), "user.put", "ana")])
        .unwrap();
    assert_eq!(all(&store).len(), 1);
}
