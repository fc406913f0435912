//! Backup and verify against real SQLite files: a backup loads exactly like its source, an
//! existing destination is refused unless asked, and a damaged backup is refused with a clear
//! error.

use jiff::Timestamp;
use minutely_core::catalogue::{Availability, Conferencing, CountryFacts, CountryTable};
use minutely_core::directory::{
    Agreement, AmountRules, AutoRecharge, Sku, Tenant, TenantSpec, WalletSettings,
};
use minutely_core::engine::TenantBook;
use minutely_core::money::Currency;
use minutely_core::numbers::Country;
use minutely_store::{Commit, Store, StoreError};
use rust_decimal::Decimal;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn d(text: &str) -> Decimal {
    text.parse().unwrap()
}

fn countries() -> CountryTable {
    CountryTable::new(["FR", "GB"].map(|code| CountryFacts {
        country: Country::parse(code).unwrap(),
        name: code.into(),
        zone_a: true,
        conferencing: Conferencing::Yes,
        toll_dial_in: Availability::Yes,
        toll_free_dial_in: Availability::OnRequest,
        communications_credits: true,
    }))
}

fn tenant(id: &str) -> Tenant {
    let table = countries();
    let mut t = Tenant::new(TenantSpec {
        id: id.into(),
        name: format!("{id} SA"),
        country: Country::parse("FR").unwrap(),
        currency: Currency::parse("EUR").unwrap(),
        timezone: "Europe/Paris".into(),
        agreement: Agreement::VolumeLicensing,
    })
    .unwrap();
    let settings = WalletSettings {
        auto_recharge: Some(AutoRecharge {
            enabled: true,
            trigger: d("50"),
            amount: d("100"),
            payment_accepted: true,
        }),
        low_balance_thresholds: [Some(d("80")), Some(d("20"))],
    };
    t.setup_wallet(settings, &table, &AmountRules::default())
        .unwrap();
    t.set_purchased(Sku::Credits, 1, at("2025-01-01T00:00:00Z"), &table)
        .unwrap();
    t
}

/// A store with two tenants, each funded a few times (one commit per funding).
fn seeded(path: &Path) -> Store {
    let mut store = Store::open(path, &countries()).unwrap();
    for (id, fundings) in [("acme", 3), ("globex", 5)] {
        let mut book = TenantBook::new(tenant(id));
        store.save(&book, &Commit::default()).unwrap();
        for n in 0..fundings {
            let reference = format!("{id}-{n}");
            let (_, effects) = book
                .fund(
                    d("100") + Decimal::from(n),
                    at("2025-01-10T09:00:00Z"),
                    &reference,
                    false,
                    &AmountRules::default(),
                )
                .unwrap();
            let commit = Commit {
                entries: effects.entries,
                events: effects.events,
                funding_refs: vec![reference],
                ..Commit::default()
            };
            store.save(&book, &commit).unwrap();
        }
    }
    store
}

#[test]
fn a_backup_loads_exactly_like_its_source() {
    let dir = tempfile::tempdir().unwrap();
    let (db, copy) = (dir.path().join("minutely.db"), dir.path().join("backup.db"));
    let store = seeded(&db);

    let report = store.backup_to(&copy, false).unwrap();
    assert_eq!(report.tenants, 2);
    assert_eq!(report.entries, 8);
    assert_eq!(report.bytes, std::fs::metadata(&copy).unwrap().len());
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut name = copy.clone().into_os_string();
        name.push(suffix);
        assert!(
            !Path::new(&name).exists(),
            "a backup is one self-contained file"
        );
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    let restored = Store::open_read_only(&copy).unwrap();
    assert_eq!(restored.tenant_ids().unwrap(), store.tenant_ids().unwrap());
    for id in store.tenant_ids().unwrap() {
        let (a, b) = (
            store.load_book(&id).unwrap().unwrap(),
            restored.load_book(&id).unwrap().unwrap(),
        );
        assert_eq!(a.wallet, b.wallet);
        assert_eq!(a.wallet.balance(), b.wallet.balance());
        assert_eq!(a.wallet.totals(), b.wallet.totals());
        assert_eq!(store.journal(&id).unwrap(), restored.journal(&id).unwrap());
        assert_eq!(
            store.funding_refs(&id).unwrap(),
            restored.funding_refs(&id).unwrap()
        );
    }
    assert_eq!(minutely_store::verify(&copy).unwrap().tenants, 2);
}

#[test]
fn an_existing_destination_is_refused_unless_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let (db, copy) = (dir.path().join("minutely.db"), dir.path().join("backup.db"));
    let store = seeded(&db);
    std::fs::write(&copy, b"precious").unwrap();
    let error = store.backup_to(&copy, false).unwrap_err();
    assert!(matches!(error, StoreError::Backup(_)), "{error}");
    assert!(error.to_string().contains("already exists"), "{error}");
    assert_eq!(std::fs::read(&copy).unwrap(), b"precious");
    store.backup_to(&copy, true).unwrap();
    assert_eq!(minutely_store::verify(&copy).unwrap().tenants, 2);
}

#[test]
fn a_damaged_backup_is_refused_by_verify() {
    let dir = tempfile::tempdir().unwrap();
    let (db, copy) = (dir.path().join("minutely.db"), dir.path().join("backup.db"));
    let store = seeded(&db);
    store.backup_to(&copy, false).unwrap();
    let good = std::fs::read(&copy).unwrap();
    assert!(good.len() > 8192, "several pages");

    // Truncated to half.
    let truncated = dir.path().join("truncated.db");
    std::fs::write(&truncated, &good[..good.len() / 2]).unwrap();
    let error = minutely_store::verify(&truncated).unwrap_err();
    assert!(matches!(error, StoreError::Backup(_)), "{error}");
    assert!(error.to_string().contains("truncated.db"), "{error}");

    // Garbage over the middle pages.
    let scribbled = dir.path().join("scribbled.db");
    std::fs::write(&scribbled, &good).unwrap();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .open(&scribbled)
        .unwrap();
    file.seek(SeekFrom::Start(4096)).unwrap();
    file.write_all(&vec![0xA5; good.len() - 8192]).unwrap();
    drop(file);
    let error = minutely_store::verify(&scribbled).unwrap_err();
    assert!(matches!(error, StoreError::Backup(_)), "{error}");
    assert!(error.to_string().contains("scribbled.db"), "{error}");

    // Not a database at all; and empty.
    let text = dir.path().join("notes.db");
    std::fs::write(&text, "hello, this is not SQLite".repeat(100)).unwrap();
    let error = minutely_store::verify(&text).unwrap_err();
    assert!(error.to_string().contains("not a"), "{error}");
    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    assert!(minutely_store::verify(&empty).is_err());
}

#[test]
fn a_backup_of_an_unknown_schema_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (db, copy) = (dir.path().join("minutely.db"), dir.path().join("backup.db"));
    let store = seeded(&db);
    store.backup_to(&copy, false).unwrap();
    rusqlite::Connection::open(&copy)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let error = minutely_store::verify(&copy).unwrap_err();
    assert!(error.to_string().contains("schema version 99"), "{error}");
}
