//! What the HTTP server keeps, against real SQLite files (no mocks): the V1 to V2 migration,
//! batch commits of many tenants in one transaction (with reservations), API keys and the key
//! secret, webhook endpoints and deliveries, the parsed outbox, paged reads and read-only
//! connections next to a writer.

use jiff::Timestamp;
use minutely_core::Reason;
use minutely_core::catalogue::{
    Availability, Conferencing, CountryFacts, CountryTable, RateCard, RateEntry, RateKey, RateKind,
};
use minutely_core::control::Reservation;
use minutely_core::directory::{
    Agreement, AmountRules, AutoRecharge, NumberKind, Sku, Tenant, TenantSpec, UserSpec,
    WalletSettings,
};
use minutely_core::engine::{Funding, Mode, Month, Outcome, TenantBook};
use minutely_core::ledger::{Event, Wallet};
use minutely_core::money::Currency;
use minutely_core::numbers::{Country, E164};
use minutely_core::rating::{CallRecord, Direction, Rater};
use minutely_store::{
    ApiKey, Commit, Delivery, Store, StoreError, StoredEvent, StreamPosition, TenantChanges,
    WebhookEndpoint,
};
use rust_decimal::Decimal;
use std::path::{Path, PathBuf};
use tempfile::TempDir;

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn d(text: &str) -> Decimal {
    text.parse().unwrap()
}

fn country(code: &str) -> Country {
    Country::parse(code).unwrap()
}

fn eur() -> Currency {
    Currency::parse("EUR").unwrap()
}

fn countries() -> CountryTable {
    let facts = |code: &str, name: &str| CountryFacts {
        country: country(code),
        name: name.into(),
        zone_a: true,
        conferencing: Conferencing::Yes,
        toll_dial_in: Availability::Yes,
        toll_free_dial_in: Availability::OnRequest,
        communications_credits: true,
    };
    CountryTable::new([
        facts("FR", "France"),
        facts("GB", "United Kingdom"),
        facts("US", "United States"),
    ])
}

/// A fresh database file in its own temporary directory (kept alive by the `TempDir`).
fn db() -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = minutely_testkit::stores::store_location(dir.path());
    (dir, path)
}

fn raw(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).unwrap()
}

/// One version of dial-out rates to France, the UK and the US, a minute at a time.
fn card() -> RateCard {
    let rate = |prefix: &str, name: &str, iso: &str, per_minute: &str| RateEntry {
        kind: RateKind::DialOut,
        key: RateKey::Prefix(prefix.into()),
        origin: None,
        name: name.into(),
        country: country(iso),
        premium: false,
        rate_per_minute: d(per_minute),
        connection_fee: Decimal::ZERO,
        first_block_s: 60,
        increment_s: 60,
        effective_from: at("2025-01-01T00:00:00Z"),
    };
    let rows = vec![
        rate("33", "France", "FR", "0.0240"),
        rate("44", "United Kingdom", "GB", "0.0300"),
        rate("1", "United States", "US", "0.0200"),
    ];
    RateCard::build(eur(), rows.into_iter().enumerate().collect()).unwrap()
}

/// A tenant with a wallet (low-balance warnings at 80 and 20, auto-recharge off), a one-hour
/// dial-out pool, Alice paying per minute and Bob on the pool then credits.
fn tenant(id: &str) -> Tenant {
    let countries = countries();
    let mut t = Tenant::new(TenantSpec {
        id: id.into(),
        name: format!("{id} SA"),
        country: country("FR"),
        currency: eur(),
        timezone: "Europe/Paris".into(),
        agreement: Agreement::VolumeLicensing,
    })
    .unwrap();
    let settings = WalletSettings {
        auto_recharge: Some(AutoRecharge {
            enabled: false,
            trigger: d("50"),
            amount: d("100"),
            payment_accepted: true,
        }),
        low_balance_thresholds: [Some(d("80")), Some(d("20"))],
    };
    t.setup_wallet(settings, &countries, &AmountRules::default())
        .unwrap();
    let from = at("2025-01-01T00:00:00Z");
    for sku in [Sku::Subscription, Sku::PayPerMinute, Sku::Credits] {
        t.set_purchased(sku, 1, from, &countries).unwrap();
    }
    for upn in ["alice@x.example", "bob@x.example"] {
        t.upsert_user(UserSpec {
            object_id: None,
            upn: upn.into(),
            display_name: upn.into(),
            usage_location: None,
            policy: None,
            toll_free_dial_in: false,
        })
        .unwrap();
    }
    t.assign("alice@x.example", Sku::PayPerMinute, &countries)
        .unwrap();
    t.assign("bob@x.example", Sku::Subscription, &countries)
        .unwrap();
    t.assign("bob@x.example", Sku::Credits, &countries).unwrap();
    t.add_number(
        E164::parse("+33 1 42 68 53 00").unwrap(),
        NumberKind::Toll,
        true,
        true,
        &countries,
    )
    .unwrap();
    t
}

fn dial_out(id: &str, organizer: &str, to: &str, start: &str, minutes: i64) -> CallRecord {
    let start = at(start);
    CallRecord {
        call_id: id.into(),
        conference_id: format!("conf-{id}"),
        organizer: organizer.into(),
        direction: Direction::DialOut,
        service_number: "+33142685300".into(),
        caller_number: String::new(),
        destination_number: to.into(),
        start,
        end: start + jiff::SignedDuration::from_secs(minutes * 60),
    }
}

/// Processes calls in bulk into `commit`, as a server batch would.
fn process(book: &mut TenantBook, calls: &[CallRecord], commit: &mut Commit) {
    let table = countries();
    let card = card();
    let mut rater = Rater::new(&table, &card);
    for record in calls {
        let processed = book.process_call(&mut rater, record, Mode::Bulk);
        assert!(!processed.replay);
        commit
            .calls
            .push((record.clone(), record.fingerprint(), processed.outcome));
        commit.entries.extend(processed.effects.entries);
        commit.events.extend(processed.effects.events);
    }
}

fn fund(book: &mut TenantBook, amount: &str, when: &str, reference: &str, commit: &mut Commit) {
    let (_, effects) = book
        .fund(
            d(amount),
            at(when),
            reference,
            true,
            &AmountRules::default(),
        )
        .unwrap();
    commit.entries.extend(effects.entries);
    commit.events.extend(effects.events);
    commit.funding_refs.push(reference.into());
}

/// What a batch changed for the tenant of `book`: the wallet, schedule and pool as they stand,
/// and `commit`.
fn changes(book: &TenantBook, commit: Commit) -> TenantChanges {
    TenantChanges {
        tenant_id: book.tenant.id.clone(),
        wallet: Some(book.wallet.snapshot()),
        scheduled: Some(book.scheduled.clone()),
        pool: book.pool_used.clone(),
        commit,
        ..TenantChanges::default()
    }
}

/// A tenant that appears: its whole directory and an empty wallet.
fn new_tenant(book: &TenantBook) -> TenantChanges {
    TenantChanges {
        tenant_id: book.tenant.id.clone(),
        directory: Some(book.tenant.clone()),
        wallet: Some(Wallet::default().snapshot()),
        ..TenantChanges::default()
    }
}

fn reservation(id: &str, start: &str, granted_s: Option<u64>, credit: &str) -> Reservation {
    let mut call = dial_out(id, "alice@x.example", "+44 20 7946 0018", start, 0);
    call.end = call.start;
    Reservation {
        expires_at: call.start
            + jiff::SignedDuration::from_secs(granted_s.unwrap_or(0) as i64 + 30),
        call,
        granted_s,
        credit: d(credit),
        // A grant holds at most its own minutes of pool.
        pool_minutes: granted_s.map_or(0, |s| s.div_ceil(60).min(3) as u32),
        live: true,
        funding: if granted_s.is_some() {
            Funding::PoolAndCredits
        } else {
            Funding::Included
        },
        authorized_at: None,
        last_window: false,
    }
}

/// Puts `put` into the book's live calls and drops `dropped`, as the server's call control
/// would have; what they hold is counted again from them.
fn set_live(book: &mut TenantBook, put: &[&Reservation], dropped: &[&str]) {
    let mut all = book.live().reservations().clone();
    for r in put {
        all.insert(r);
    }
    for id in dropped {
        all.remove(id);
    }
    book.load_reservations(all);
}

fn assert_same_book(loaded: &TenantBook, book: &TenantBook) {
    assert_eq!(loaded.wallet, book.wallet, "{}", book.tenant.id);
    assert_eq!(loaded.pool_used, book.pool_used);
    assert_eq!(loaded.scheduled, book.scheduled);
    assert_eq!(loaded.live().reservations(), book.live().reservations());
    assert_eq!(loaded.live().holds(), book.live().holds());
    let (a, b) = (&loaded.tenant, &book.tenant);
    assert_eq!((&a.id, &a.name, a.currency), (&b.id, &b.name, b.currency));
    assert_eq!(a.purchases(), b.purchases());
    assert_eq!(a.wallet(), b.wallet());
    assert_eq!(a.users().collect::<Vec<_>>(), b.users().collect::<Vec<_>>());
    assert_eq!(
        a.numbers().collect::<Vec<_>>(),
        b.numbers().collect::<Vec<_>>()
    );
}

/// Two tenants brought in by one batch, then funded, charged and given reservations by a
/// second one. Returns the store, both books as the server holds them, and all that acme's
/// batches committed.
fn two_tenants(path: &Path) -> (Store, TenantBook, TenantBook, Commit) {
    let mut store = Store::open(path, &countries()).unwrap();
    let mut acme = TenantBook::new(tenant("acme"));
    let mut globex = TenantBook::new(tenant("globex"));
    store
        .commit_batch(&[new_tenant(&acme), new_tenant(&globex)])
        .unwrap();
    assert_eq!(store.tenant_ids().unwrap(), vec!["acme", "globex"]);

    let mut a = Commit::default();
    fund(&mut acme, "100", "2025-03-01T08:00:00Z", "A-1", &mut a);
    let calls = [
        dial_out(
            "c1",
            "bob@x.example",
            "+33612345678",
            "2025-03-02T10:00:00Z",
            50,
        ),
        dial_out(
            "c2",
            "bob@x.example",
            "+1 212 555 0100",
            "2025-03-03T10:00:00Z",
            30,
        ),
        dial_out(
            "c3",
            "nobody@x.example",
            "+33612345678",
            "2025-03-03T11:00:00Z",
            3,
        ),
        dial_out(
            "c4",
            "alice@x.example",
            "+44 20 7946 0018",
            "2025-03-04T10:00:00Z",
            900,
        ),
        dial_out(
            "c5",
            "alice@x.example",
            "+44 20 7946 0018",
            "2025-03-04T10:00:00Z",
            2,
        ),
    ];
    process(&mut acme, &calls, &mut a);
    let live = reservation("r1", "2025-03-05T09:00:00Z", Some(600), "2.40");
    let free = reservation("r2", "2025-03-05T09:01:00Z", None, "0");
    set_live(&mut acme, &[&live, &free], &[]);
    let mut g = Commit::default();
    fund(&mut globex, "50", "2025-03-01T09:00:00Z", "G-1", &mut g);
    let g_res = reservation("r1", "2025-03-05T09:00:00Z", Some(60), "0.03");
    set_live(&mut globex, &[&g_res], &[]);
    let mut acme_changes = changes(&acme, a.clone());
    acme_changes.reservations_put = vec![live, free];
    let mut globex_changes = changes(&globex, g);
    globex_changes.reservations_put = vec![g_res];
    store.commit_batch(&[acme_changes, globex_changes]).unwrap();
    (store, acme, globex, a)
}

#[test]
fn a_v1_file_is_migrated_to_v2_and_keeps_its_data() {
    sqlite_only!();
    let (_dir, path) = db();
    // A V1 file: a tenant saved, then the V2 tables removed and the version put back to 1.
    let mut store = Store::open(&path, &countries()).unwrap();
    let mut book = TenantBook::new(tenant("acme"));
    let mut commit = Commit::default();
    fund(&mut book, "100", "2025-03-01T08:00:00Z", "A-1", &mut commit);
    process(
        &mut book,
        &[dial_out(
            "c1",
            "alice@x.example",
            "+44 20 7946 0018",
            "2025-03-02T10:00:00Z",
            30,
        )],
        &mut commit,
    );
    store.save(&book, &commit).unwrap();
    drop(store);
    let conn = raw(&path);
    conn.execute_batch(
        "DROP INDEX events_by_kind; DROP TABLE guard_tenants; DROP TABLE guard_list; DROP TABLE guard_operator; DROP TABLE stream_cursors; DROP TABLE rerate_items; DROP TABLE rerate_runs; DROP TABLE license_prices; DROP TABLE key_preferences; DROP TABLE audit; DROP TABLE webhook_deliveries; DROP TABLE webhook_endpoints;
         DROP TABLE api_keys; DROP TABLE reservations; DROP INDEX service_numbers_by_number; PRAGMA user_version = 1;",
    )
    .unwrap();
    drop(conn);
    match Store::open_read_only(&path) {
        Err(StoreError::NotMigrated {
            found: 1,
            known: 10,
        }) => {}
        other => panic!("a reader cannot migrate: {:?}", other.err()),
    }

    let mut store = Store::open(&path, &countries()).unwrap();
    assert_eq!(store.schema_version().unwrap(), 10);
    let loaded = store.load_book("acme").unwrap().unwrap();
    assert_same_book(&loaded, &book);
    assert!(loaded.live().is_empty());
    assert_eq!(store.journal("acme").unwrap(), commit.entries);
    assert_eq!(
        store
            .calls("acme", Timestamp::MIN, Timestamp::MAX)
            .unwrap()
            .len(),
        1
    );
    assert_eq!(store.funding_refs("acme").unwrap(), vec!["A-1"]);
    // The new tables work on the migrated file.
    let put = TenantChanges {
        tenant_id: "acme".into(),
        reservations_put: vec![reservation("r1", "2025-03-05T09:00:00Z", Some(60), "1")],
        ..TenantChanges::default()
    };
    store.commit_batch(&[put]).unwrap();
    assert_eq!(store.load_book("acme").unwrap().unwrap().live().len(), 1);

    // The migrated schema is exactly a new file's.
    let (_fresh_dir, fresh) = db();
    drop(Store::open(&fresh, &countries()).unwrap());
    let schema = |p: &Path| -> Vec<(String, String, Option<String>)> {
        raw(p)
            .prepare("SELECT type, name, sql FROM sqlite_master ORDER BY name")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    };
    assert_eq!(schema(&path), schema(&fresh));
}

#[test]
fn a_batch_of_many_tenants_reads_back_with_load_book() {
    let (_dir, path) = db();
    let (mut store, mut acme, globex, all) = two_tenants(&path);
    for book in [&acme, &globex] {
        let loaded = Store::open(&path, &countries())
            .unwrap()
            .load_book(&book.tenant.id)
            .unwrap()
            .unwrap();
        assert_same_book(&loaded, book);
    }
    assert_eq!(store.journal("acme").unwrap(), all.entries);
    let stored: Vec<_> = store
        .calls("acme", Timestamp::MIN, Timestamp::MAX)
        .unwrap()
        .into_iter()
        .map(|c| (c.record, c.fingerprint, c.outcome))
        .collect();
    assert_eq!(stored, all.calls);
    assert_eq!(store.pool("acme").unwrap().values().sum::<u32>(), 60);
    assert_eq!(store.funding_refs("globex").unwrap(), vec!["G-1"]);
    assert_eq!(store.journal("globex").unwrap().len(), 1);

    // A later batch: one hold lapses (kept, not live), the other call ends, a directory edit,
    // and nothing at all for globex but an empty part.
    let mut lapsed = acme.live().get("r1").unwrap().clone();
    lapsed.live = false;
    set_live(&mut acme, &[&lapsed], &["r2"]);
    acme.tenant
        .set_purchased(
            Sku::Subscription,
            2,
            at("2025-04-01T00:00:00Z"),
            &countries(),
        )
        .unwrap();
    let mut edit = TenantChanges {
        tenant_id: "acme".into(),
        directory: Some(acme.tenant.clone()),
        reservations_put: vec![lapsed],
        reservations_drop: vec!["r2".into(), "never-held".into()],
        ..TenantChanges::default()
    };
    edit.pool.insert(Month::new(2025, 4).unwrap(), 0);
    acme.pool_used.insert(Month::new(2025, 4).unwrap(), 0);
    let idle = TenantChanges {
        tenant_id: "globex".into(),
        ..TenantChanges::default()
    };
    store.commit_batch(&[edit, idle]).unwrap();
    assert_same_book(&store.load_book("acme").unwrap().unwrap(), &acme);
    assert_same_book(&store.load_book("globex").unwrap().unwrap(), &globex);
    assert_eq!(
        store.journal("acme").unwrap(),
        all.entries,
        "the journal is untouched"
    );
}

#[test]
fn a_loaded_book_holds_what_its_stored_reservations_hold() {
    sqlite_only!();
    // C25: the live state of a loaded book is counted from its stored reservations, with no
    // recount left to the caller; a stored grant that holds more than it allows is refused on
    // load, naming the call, instead of being held.
    let (_dir, path) = db();
    let (store, _acme, _globex, _all) = two_tenants(&path);
    let loaded = store.load_book("acme").unwrap().unwrap();
    let holds = loaded.live().holds();
    assert_eq!((holds.credit(), holds.live()), (d("2.40"), 2));
    assert_eq!(loaded.live().recount(), *holds);
    let march = Month::new(2025, 3).unwrap();
    assert_eq!(loaded.pool_held(march), 3);
    assert_eq!(loaded.available(), loaded.wallet.balance() - d("2.40"));
    drop(store);

    raw(&path)
        .execute(
            "UPDATE reservations SET credit = '1' WHERE tenant = 'acme' AND call_id = 'r2'",
            [],
        )
        .unwrap();
    let store = Store::open(&path, &countries()).unwrap();
    match store.load_book("acme") {
        Err(StoreError::Invariant { tenant, detail }) => {
            assert_eq!(tenant, "acme");
            assert!(
                detail.contains("call r2: an unlimited grant holds 1"),
                "{detail}"
            );
        }
        other => panic!("a damaged grant is refused: {other:?}"),
    }
    assert!(store.load_book("globex").unwrap().is_some());
}

#[test]
fn a_batch_whose_second_tenant_fails_writes_nothing_for_the_first() {
    let (_dir, path) = db();
    let (mut store, acme, globex, _) = two_tenants(&path);
    let before = |s: &Store| {
        (
            s.journal("acme").unwrap(),
            s.calls("acme", Timestamp::MIN, Timestamp::MAX).unwrap(),
            s.events("acme").unwrap(),
            s.funding_refs("acme").unwrap(),
            s.tenant_ids().unwrap(),
        )
    };
    let saved = before(&store);

    let mut a_book = acme.clone();
    let mut a = Commit::default();
    fund(&mut a_book, "50", "2025-03-10T08:00:00Z", "A-2", &mut a);
    process(
        &mut a_book,
        &[dial_out(
            "c9",
            "alice@x.example",
            "+33612345678",
            "2025-03-10T09:00:00Z",
            5,
        )],
        &mut a,
    );
    let mut a_changes = changes(&a_book, a);
    a_changes.reservations_drop = vec!["r1".into()];
    a_changes.reservations_put = vec![reservation("r3", "2025-03-10T09:30:00Z", Some(60), "1")];
    // A new tenant in the same batch must not appear either.
    let newcomer = TenantBook::new(tenant("initech"));
    // Globex applies G-1 a second time: the funding reference is refused.
    let mut g_book = globex.clone();
    let mut g = Commit::default();
    fund(&mut g_book, "50", "2025-03-10T09:00:00Z", "G-1", &mut g);
    let failing = [a_changes, new_tenant(&newcomer), changes(&g_book, g)];
    match store.commit_batch(&failing) {
        Err(e) => assert!(e.is_constraint(), "{e}"),
        Ok(()) => panic!("a funding reference applied twice must be refused"),
    }
    assert_eq!(before(&store), saved);
    assert_same_book(&store.load_book("acme").unwrap().unwrap(), &acme);
    assert_same_book(&store.load_book("globex").unwrap().unwrap(), &globex);
    assert!(store.load_book("initech").unwrap().is_none());

    // Without the failing tenant the same batch goes through.
    store.commit_batch(&failing[..2]).unwrap();
    assert_eq!(store.journal("acme").unwrap().len(), saved.0.len() + 2);
    let loaded = store.load_book("acme").unwrap().unwrap();
    assert_eq!(loaded.wallet, a_book.wallet);
    let mut held: Vec<&str> = loaded.live().reservations().ids().collect();
    held.sort();
    assert_eq!(held, vec!["r2", "r3"], "r1 dropped, r3 added");
    assert!(store.load_book("initech").unwrap().is_some());
}

#[test]
fn a_batch_that_breaks_its_own_contract_is_refused_before_writing() {
    let (_dir, path) = db();
    let (mut store, acme, _, _) = two_tenants(&path);
    let mut book = acme.clone();
    let mut commit = Commit::default();
    fund(&mut book, "50", "2025-03-10T08:00:00Z", "A-2", &mut commit);

    let mut no_wallet = changes(&book, commit.clone());
    no_wallet.wallet = None;
    let mut stale_wallet = changes(&book, commit.clone());
    stale_wallet.wallet = Some(acme.wallet.snapshot());
    let mut other_directory = changes(&book, commit);
    other_directory.directory = Some(tenant("globex"));
    let mut ended = TenantChanges {
        tenant_id: "acme".into(),
        ..TenantChanges::default()
    };
    let mut wrong = reservation("r9", "2025-03-10T09:00:00Z", Some(60), "1");
    wrong.call.end = wrong.call.start + jiff::SignedDuration::from_secs(60);
    ended.reservations_put = vec![wrong];
    for bad in [no_wallet, stale_wallet, other_directory, ended] {
        match store.commit_batch(&[bad]) {
            Err(StoreError::Invariant { tenant, detail }) => assert_eq!(tenant, "acme", "{detail}"),
            other => panic!("expected Invariant, got {other:?}"),
        }
    }
    assert_same_book(&store.load_book("acme").unwrap().unwrap(), &acme);
    assert!(
        store
            .funding_refs("acme")
            .unwrap()
            .iter()
            .all(|r| r != "A-2")
    );
}

fn key(id: &str, kind: &str, tenant: Option<&str>, created: &str) -> ApiKey {
    ApiKey {
        id: id.into(),
        kind: kind.into(),
        tenant: tenant.map(String::from),
        label: format!("{kind} key {id}"),
        digest: std::array::from_fn(|i| i as u8 ^ id.len() as u8),
        created_at: at(created),
        revoked_at: None,
    }
}

#[test]
fn api_keys_are_listed_revoked_once_and_checked_by_the_schema() {
    let (_dir, path) = db();
    let (mut store, ..) = two_tenants(&path);
    let op = key("k-op", "operator", None, "2025-03-01T00:00:00Z");
    let admin = key(
        "k-admin",
        "tenant_admin",
        Some("acme"),
        "2025-03-02T00:00:00Z",
    );
    let bridge = key("k-bridge", "bridge", Some("globex"), "2025-03-01T00:00:00Z");
    for k in [&op, &admin, &bridge] {
        store.insert_key(k).unwrap();
    }
    assert_eq!(
        store.keys().unwrap(),
        vec![bridge.clone(), op.clone(), admin.clone()],
        "by created_at, then id"
    );

    let refused = [
        key("k-op", "operator", None, "2025-03-03T00:00:00Z"),
        key("k-2", "operator", Some("acme"), "2025-03-03T00:00:00Z"),
        key("k-3", "tenant_admin", None, "2025-03-03T00:00:00Z"),
        key("k-4", "bridge", None, "2025-03-03T00:00:00Z"),
        key("k-5", "root", None, "2025-03-03T00:00:00Z"),
        key("k-6", "bridge", Some("nobody"), "2025-03-03T00:00:00Z"),
    ];
    for k in &refused {
        match store.insert_key(k) {
            Err(e) => assert!(e.is_constraint(), "{k:?}: {e}"),
            Ok(()) => panic!("{k:?} must be refused"),
        }
    }
    assert_eq!(store.keys().unwrap().len(), 3);

    let when = at("2025-04-01T12:00:00Z");
    assert!(store.revoke_key("k-admin", when).unwrap());
    assert!(
        !store
            .revoke_key("k-admin", at("2025-05-01T00:00:00Z"))
            .unwrap()
    );
    assert!(!store.revoke_key("k-unknown", when).unwrap());
    let reopened = Store::open(&path, &countries()).unwrap();
    let revoked: Vec<_> = reopened
        .keys()
        .unwrap()
        .into_iter()
        .map(|k| (k.id, k.revoked_at))
        .collect();
    assert_eq!(
        revoked,
        vec![
            ("k-bridge".to_string(), None),
            ("k-op".to_string(), None),
            ("k-admin".to_string(), Some(when)),
        ]
    );
}

#[test]
fn the_key_secret_is_made_once_and_kept() {
    sqlite_only!();
    let (_dir, path) = db();
    let mut store = Store::open(&path, &countries()).unwrap();
    let secret = store.key_secret().unwrap();
    assert_ne!(secret, [0u8; 32]);
    assert_eq!(store.key_secret().unwrap(), secret);
    drop(store);
    let mut reopened = Store::open(&path, &countries()).unwrap();
    assert_eq!(reopened.key_secret().unwrap(), secret);
    let mut reader = Store::open_read_only(&path).unwrap();
    assert_eq!(reader.key_secret().unwrap(), secret, "a reader reads it");
    let stored: String = raw(&path)
        .query_row(
            "SELECT value FROM settings WHERE key = 'key_secret'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(stored.len(), 64);
    assert!(stored.bytes().all(|b| b.is_ascii_hexdigit()));

    let (_other_dir, other) = db();
    let mut another = Store::open(&other, &countries()).unwrap();
    assert_ne!(
        another.key_secret().unwrap(),
        secret,
        "each file has its own"
    );
    // A reader of a file without a key cannot make one.
    let (_third_dir, third) = db();
    drop(Store::open(&third, &countries()).unwrap());
    assert!(Store::open_read_only(&third).unwrap().key_secret().is_err());
}

fn endpoint(id: &str, tenant: &str, created: &str) -> WebhookEndpoint {
    WebhookEndpoint {
        id: id.into(),
        tenant: tenant.into(),
        url: format!("https://{tenant}.example/hooks/{id}"),
        secret: format!("whsec-{id}"),
        created_at: at(created),
        disabled_at: None,
        delivered_through: 99,
    }
}

fn delivery(endpoint: &str, seq: u64, attempt: u32, when: &str, outcome: &str) -> Delivery {
    Delivery {
        endpoint: endpoint.into(),
        event_seq: seq,
        attempt,
        at: at(when),
        outcome: outcome.into(),
        http_status: Some(if outcome == "delivered" { 200 } else { 503 }),
        error: (outcome != "delivered").then(|| "503 Service Unavailable".to_string()),
    }
}

#[test]
fn webhook_endpoints_start_after_the_last_event_and_log_their_deliveries() {
    let (_dir, path) = db();
    let (mut store, ..) = two_tenants(&path);
    let acme_events = store.events("acme").unwrap().len() as u64;
    assert!(acme_events >= 3, "the scenario raises events");
    store
        .insert_endpoint(&endpoint("we-1", "acme", "2025-03-06T00:00:00Z"))
        .unwrap();
    store
        .insert_endpoint(&endpoint("we-2", "globex", "2025-03-05T00:00:00Z"))
        .unwrap();
    let quiet = TenantBook::new(tenant("initech"));
    store.commit_batch(&[new_tenant(&quiet)]).unwrap();
    store
        .insert_endpoint(&endpoint("we-3", "initech", "2025-03-07T00:00:00Z"))
        .unwrap();
    for bad in [
        endpoint("we-1", "acme", "2025-03-08T00:00:00Z"),
        endpoint("we-4", "nobody", "2025-03-08T00:00:00Z"),
    ] {
        assert!(store.insert_endpoint(&bad).unwrap_err().is_constraint());
    }

    let acme_hooks = store.endpoints(Some("acme")).unwrap();
    assert_eq!(acme_hooks.len(), 1);
    assert_eq!(
        acme_hooks[0].delivered_through, acme_events,
        "only events raised after the endpoint was added are delivered"
    );
    assert_eq!(acme_hooks[0].secret, "whsec-we-1");
    assert!(
        !format!("{:?}", acme_hooks[0]).contains("whsec"),
        "Debug hides the secret"
    );
    let all: Vec<(String, u64)> = store
        .endpoints(None)
        .unwrap()
        .into_iter()
        .map(|e| (e.id, e.delivered_through))
        .collect();
    let globex_events = store.events("globex").unwrap().len() as u64;
    assert_eq!(
        all,
        vec![
            ("we-2".into(), globex_events),
            ("we-1".into(), acme_events),
            ("we-3".into(), 0)
        ]
    );
    assert!(store.endpoints(Some("nobody")).unwrap().is_empty());

    // New events after the endpoint, then attempts: a failure, a success, a late stale mark.
    let mut acme = store.load_book("acme").unwrap().unwrap();
    let mut commit = Commit::default();
    fund(&mut acme, "50", "2025-03-09T00:00:00Z", "A-3", &mut commit);
    process(
        &mut acme,
        &[dial_out(
            "c10",
            "alice@x.example",
            "+44 20 7946 0018",
            "2025-03-09T10:00:00Z",
            5000,
        )],
        &mut commit,
    );
    assert!(commit.events.len() >= 2, "{:?}", commit.events);
    store
        .commit_batch(&[changes(&acme, commit.clone())])
        .unwrap();
    let pending = store.events_after("acme", acme_events, 100).unwrap();
    assert_eq!(pending.len(), commit.events.len());
    assert_eq!(pending[0].seq, acme_events + 1);

    let first = acme_events + 1;
    let last = acme_events + pending.len() as u64;
    store
        .record_delivery(
            &delivery("we-1", first, 1, "2025-03-09T10:00:01Z", "failed"),
            None,
        )
        .unwrap();
    assert_eq!(
        store.endpoints(Some("acme")).unwrap()[0].delivered_through,
        acme_events
    );
    store
        .record_delivery(
            &delivery("we-1", first, 2, "2025-03-09T10:01:00Z", "delivered"),
            Some(first),
        )
        .unwrap();
    store
        .record_delivery(
            &delivery("we-1", last, 1, "2025-03-09T10:02:00Z", "gave_up"),
            Some(last),
        )
        .unwrap();
    store
        .record_delivery(
            &delivery("we-1", first, 3, "2025-03-09T10:03:00Z", "delivered"),
            Some(first),
        )
        .unwrap();
    assert_eq!(
        store.endpoints(Some("acme")).unwrap()[0].delivered_through,
        last,
        "delivered_through never moves back"
    );
    // A repeated attempt or an unknown endpoint is refused, and moves nothing.
    let repeated = store.record_delivery(
        &delivery("we-1", first, 2, "2025-03-09T11:00:00Z", "delivered"),
        Some(last + 50),
    );
    assert!(repeated.unwrap_err().is_constraint());
    assert_eq!(
        store.endpoints(Some("acme")).unwrap()[0].delivered_through,
        last
    );
    let unknown = store.record_delivery(
        &delivery("we-9", 1, 1, "2025-03-09T11:00:00Z", "delivered"),
        Some(1),
    );
    assert!(unknown.unwrap_err().is_constraint());
    for bad_outcome in ["lost", ""] {
        let bad = store.record_delivery(
            &delivery("we-1", 1, 9, "2025-03-09T11:00:00Z", bad_outcome),
            None,
        );
        assert!(bad.unwrap_err().is_constraint(), "{bad_outcome:?}");
    }

    let log = store.deliveries("we-1", 10).unwrap();
    let order: Vec<(u64, u32, &str)> = log
        .iter()
        .map(|d| (d.event_seq, d.attempt, d.outcome.as_str()))
        .collect();
    assert_eq!(
        order,
        vec![
            (first, 3, "delivered"),
            (last, 1, "gave_up"),
            (first, 2, "delivered"),
            (first, 1, "failed")
        ],
        "newest first"
    );
    assert_eq!(
        log[3],
        delivery("we-1", first, 1, "2025-03-09T10:00:01Z", "failed")
    );
    assert_eq!(log[2].http_status, Some(200));
    assert_eq!(store.deliveries("we-1", 2).unwrap(), log[..2].to_vec());
    assert!(store.deliveries("we-2", 10).unwrap().is_empty());

    assert!(
        store
            .disable_endpoint("we-1", at("2025-03-10T00:00:00Z"))
            .unwrap()
    );
    assert!(
        !store
            .disable_endpoint("we-1", at("2025-03-11T00:00:00Z"))
            .unwrap()
    );
    assert!(
        !store
            .disable_endpoint("we-9", at("2025-03-11T00:00:00Z"))
            .unwrap()
    );
    assert_eq!(
        store.endpoints(Some("acme")).unwrap()[0].disabled_at,
        Some(at("2025-03-10T00:00:00Z"))
    );
}

/// Rebuilds an event from its stored fields.
fn event_of(stored: &StoredEvent) -> Event {
    let field = |key: &str| -> &str {
        stored
            .fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("{} has no {key}: {:?}", stored.kind, stored.fields))
    };
    let at = stored.at;
    match stored.kind.as_str() {
        "wallet.recharge_succeeded" => Event::RechargeSucceeded {
            at,
            amount: d(field("amount")),
            lot: field("lot").parse().unwrap(),
        },
        "wallet.recharge_failed" => Event::RechargeFailed {
            at,
            amount: d(field("amount")),
            retry_after: field("retry_after").parse().unwrap(),
        },
        "wallet.balance_depleted" => Event::BalanceDepleted {
            at,
            balance: d(field("balance")),
        },
        "wallet.low_balance" => Event::LowBalance {
            at,
            threshold: d(field("threshold")),
            balance: d(field("balance")),
        },
        "wallet.lot_expiring" => Event::LotExpiringSoon {
            at,
            lot: field("lot").parse().unwrap(),
            expires_at: field("expires_at").parse().unwrap(),
            remaining: d(field("remaining")),
        },
        "pool.threshold" => Event::PoolThreshold {
            at,
            month: field("month").into(),
            percent: field("percent").parse().unwrap(),
            used_minutes: field("used_minutes").parse().unwrap(),
            size_minutes: field("size_minutes").parse().unwrap(),
        },
        other => panic!("unknown event kind {other}"),
    }
}

#[test]
fn events_read_back_with_their_fields() {
    let (_dir, path) = db();
    let (mut store, ..) = two_tenants(&path);
    // Every kind of event through the outbox, with values at their widest.
    let events = vec![
        Event::RechargeSucceeded {
            at: at("2025-03-20T00:00:00Z"),
            amount: d("50.00"),
            lot: 7,
        },
        Event::RechargeFailed {
            at: at("2025-03-20T00:00:01Z"),
            amount: d("50"),
            retry_after: at("2025-03-20T01:00:01.123456789Z"),
        },
        Event::BalanceDepleted {
            at: at("2025-03-20T00:00:02Z"),
            balance: d("-3.4500"),
        },
        Event::LowBalance {
            at: at("2025-03-20T00:00:03Z"),
            threshold: d("20"),
            balance: d("19.99"),
        },
        Event::LotExpiringSoon {
            at: at("2025-03-20T00:00:04Z"),
            lot: 2,
            expires_at: at("2026-03-01T08:00:00Z"),
            remaining: d("0.01"),
        },
        Event::PoolThreshold {
            at: at("2025-03-20T00:00:05Z"),
            month: "2025-03".into(),
            percent: 80,
            used_minutes: 48,
            size_minutes: 60,
        },
    ];
    let before = store.events("acme").unwrap().len() as u64;
    let commit = Commit {
        events: events.clone(),
        ..Commit::default()
    };
    store
        .commit_batch(&[TenantChanges {
            tenant_id: "acme".into(),
            commit,
            ..TenantChanges::default()
        }])
        .unwrap();
    let stored = store.events_after("acme", before, 100).unwrap();
    assert_eq!(stored.iter().map(event_of).collect::<Vec<_>>(), events);
    assert_eq!(
        stored.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (before + 1..=before + 6).collect::<Vec<_>>()
    );
    assert_eq!(
        stored[3].fields,
        vec![
            ("threshold".into(), "20".into()),
            ("balance".into(), "19.99".into())
        ]
    );
    // The events the engine raised in the scenario read back too.
    let all = store.events_after("acme", 0, 1000).unwrap();
    assert_eq!(all.len() as u64, before + 6);
    assert_eq!(
        all.iter()
            .map(|e| (e.seq, e.kind.clone(), e.at))
            .collect::<Vec<_>>(),
        store.events("acme").unwrap()
    );
    for e in &all {
        assert_eq!(event_of(e).kind(), e.kind);
    }
}

#[test]
fn paged_reads_honour_cursor_and_limit() {
    let (_dir, path) = db();
    let (store, ..) = two_tenants(&path);

    let journal = store.journal("acme").unwrap();
    assert!(journal.len() >= 4);
    let mut paged = Vec::new();
    let mut after = 0;
    loop {
        let page = store.journal_page("acme", after, 3).unwrap();
        assert!(page.len() <= 3);
        let Some(last) = page.last() else { break };
        after = last.seq;
        paged.extend(page);
    }
    assert_eq!(paged, journal, "entries with their postings");
    assert!(
        store
            .journal_page("acme", journal.len() as u64, 10)
            .unwrap()
            .is_empty()
    );
    assert!(store.journal_page("nobody", 0, 10).unwrap().is_empty());
    assert!(store.journal_page("acme", 0, 0).unwrap().is_empty());

    let calls = store.calls("acme", Timestamp::MIN, Timestamp::MAX).unwrap();
    assert_eq!(calls.len(), 5);
    for limit in [1, 2, 5, 10] {
        let mut paged = Vec::new();
        let mut cursor: Option<(Timestamp, String)> = None;
        loop {
            let page = store
                .calls_page(
                    "acme",
                    Timestamp::MIN,
                    Timestamp::MAX,
                    cursor.as_ref().map(|(t, id)| (*t, id.as_str())),
                    limit,
                    false,
                )
                .unwrap();
            assert!(page.len() <= limit);
            let Some(last) = page.last() else { break };
            cursor = Some((last.record.start, last.record.call_id.clone()));
            paged.extend(page);
        }
        assert_eq!(paged, calls, "limit {limit}");
    }
    // c4 and c5 start at the same instant: the cursor tells them apart by call id.
    let tie = at("2025-03-04T10:00:00Z");
    let after_c4 = store
        .calls_page(
            "acme",
            Timestamp::MIN,
            Timestamp::MAX,
            Some((tie, "c4")),
            10,
            false,
        )
        .unwrap();
    assert_eq!(
        after_c4
            .iter()
            .map(|c| c.record.call_id.as_str())
            .collect::<Vec<_>>(),
        vec!["c5"]
    );
    // [from, to): `from` included, `to` excluded; a cursor before `from` changes nothing.
    let march_3 = store
        .calls_page(
            "acme",
            at("2025-03-03T10:00:00Z"),
            tie,
            Some((at("2025-01-01T00:00:00Z"), "zzz")),
            10,
            false,
        )
        .unwrap();
    assert_eq!(
        march_3
            .iter()
            .map(|c| c.record.call_id.as_str())
            .collect::<Vec<_>>(),
        vec!["c2", "c3"]
    );
    let refused = store
        .calls_page("acme", Timestamp::MIN, Timestamp::MAX, None, 10, true)
        .unwrap();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].record.call_id, "c3");
    assert_eq!(
        refused[0].outcome,
        Outcome::Refused(Reason::OrganizerNotEnabled)
    );
    assert!(
        store
            .calls_page(
                "acme",
                Timestamp::MIN,
                Timestamp::MAX,
                Some((refused[0].record.start, "c3")),
                10,
                true
            )
            .unwrap()
            .is_empty()
    );

    assert_eq!(
        store.call("acme", "c4").unwrap().as_ref(),
        calls.iter().find(|c| c.record.call_id == "c4")
    );
    assert!(store.call("acme", "c404").unwrap().is_none());
    assert!(
        store.call("globex", "c4").unwrap().is_none(),
        "ids are per tenant"
    );

    let events = store.events_page("acme", 0, 1000).unwrap();
    assert!(events.len() >= 3);
    let mut paged = Vec::new();
    let mut after = 0;
    loop {
        let page = store.events_page("acme", after, 2).unwrap();
        assert!(page.len() <= 2);
        let Some(last) = page.last() else { break };
        after = last.seq;
        paged.extend(page);
    }
    assert_eq!(paged, events);
    assert_eq!(store.events_page("acme", 1, 1).unwrap()[0].seq, 2);
}

#[test]
fn readers_open_read_only_next_to_a_writer() {
    sqlite_only!();
    let (dir, path) = db();
    match Store::open_read_only(&path) {
        Err(StoreError::Missing(p)) => assert_eq!(p, path),
        other => panic!("expected Missing, got {:?}", other.err()),
    }
    assert!(!path.exists(), "a reader creates nothing");

    let (mut writer, acme, ..) = two_tenants(&path);
    let reader = Store::open_read_only(&path).unwrap();
    let other_reader = Store::open_read_only(&path).unwrap();
    assert_eq!(reader.schema_version().unwrap(), 10);
    assert_same_book(&reader.load_book("acme").unwrap().unwrap(), &acme);

    // The writer commits while the readers are open; they see each commit once it is made.
    let mut book = acme.clone();
    let mut commit = Commit::default();
    fund(&mut book, "50", "2025-03-12T00:00:00Z", "A-9", &mut commit);
    let snapshot = reader.journal("acme").unwrap().len();
    writer.commit_batch(&[changes(&book, commit)]).unwrap();
    assert_eq!(reader.journal("acme").unwrap().len(), snapshot + 1);
    assert_eq!(
        other_reader.load_book("acme").unwrap().unwrap().wallet,
        book.wallet
    );

    // A reader cannot write.
    let mut reader = reader;
    assert!(
        reader
            .insert_key(&key("k-r", "operator", None, "2025-03-12T00:00:00Z"))
            .is_err()
    );
    assert!(reader.keys().unwrap().is_empty());

    // With the writer gone (and its WAL checkpointed away) a reader still opens.
    drop((writer, reader, other_reader));
    let alone = Store::open_read_only(&path).unwrap();
    assert_eq!(
        alone.load_book("acme").unwrap().unwrap().wallet,
        book.wallet
    );
    drop(alone);

    raw(&path).pragma_update(None, "user_version", 11).unwrap();
    match Store::open_read_only(&path) {
        Err(StoreError::TooNew {
            found: 11,
            known: 10,
        }) => {}
        other => panic!("expected TooNew, got {:?}", other.err()),
    }
    drop(dir);
}

#[test]
fn one_batch_carries_thousands_of_calls_across_many_tenants() {
    let (_dir, path) = db();
    let mut store = Store::open(&path, &countries()).unwrap();
    let mut books: Vec<TenantBook> = (0..40)
        .map(|i| TenantBook::new(tenant(&format!("t{i:02}"))))
        .collect();
    let arrivals: Vec<TenantChanges> = books.iter().map(new_tenant).collect();
    store.commit_batch(&arrivals).unwrap();

    let mut batch = Vec::new();
    for book in &mut books {
        let mut commit = Commit::default();
        fund(book, "500", "2025-03-01T00:00:00Z", "INV", &mut commit);
        let calls: Vec<CallRecord> = (0..50)
            .map(|n| {
                let start = format!("2025-03-02T{:02}:{:02}:00Z", n / 60, n % 60);
                dial_out(
                    &format!("call-{n}"),
                    "alice@x.example",
                    "+44 20 7946 0018",
                    &start,
                    3,
                )
            })
            .collect();
        process(book, &calls, &mut commit);
        let held = reservation("live", "2025-03-02T05:00:00Z", Some(60), "0.03");
        set_live(book, &[&held], &[]);
        let mut part = changes(book, commit);
        part.reservations_put = vec![held];
        batch.push(part);
    }
    let started = std::time::Instant::now();
    store.commit_batch(&batch).unwrap();
    let took = started.elapsed();
    assert!(took < std::time::Duration::from_secs(20), "{took:?}");
    for book in &books {
        let id = &book.tenant.id;
        assert_eq!(
            store
                .calls(id, Timestamp::MIN, Timestamp::MAX)
                .unwrap()
                .len(),
            50
        );
        assert_eq!(store.journal(id).unwrap().len(), 51);
        assert_same_book(&store.load_book(id).unwrap().unwrap(), book);
    }
}

#[test]
fn a_v5_file_gains_answers_edge_keys_and_the_number_index() {
    sqlite_only!();
    let (_dir, path) = db();
    let (mut store, ..) = two_tenants(&path);
    let op = key("k-op", "operator", None, "2025-03-01T00:00:00Z");
    store.insert_key(&op).unwrap();
    store
        .set_preferred_lang("k-op", "fr", at("2025-03-01T00:00:01Z"))
        .unwrap();
    let put = TenantChanges {
        tenant_id: "acme".into(),
        reservations_put: vec![reservation("r1", "2025-03-05T09:00:00Z", Some(60), "1")],
        ..TenantChanges::default()
    };
    store.commit_batch(&[put]).unwrap();
    drop(store);
    // What V6 added, taken away again: a version 5 file.
    raw(&path)
        .execute_batch(
            "DROP INDEX events_by_kind; DROP TABLE guard_tenants; DROP TABLE guard_list; DROP TABLE guard_operator; DROP TABLE stream_cursors; DROP TABLE rerate_items; DROP TABLE rerate_runs; DROP INDEX service_numbers_by_number; ALTER TABLE reservations DROP COLUMN last_window;
             ALTER TABLE reservations DROP COLUMN authorized_at; PRAGMA user_version = 5;",
        )
        .unwrap();

    let mut store = Store::open(&path, &countries()).unwrap();
    assert_eq!(store.schema_version().unwrap(), 10);
    // C25: a reservation written before answers were kept reads as not answered.
    let r = store.load_book("acme").unwrap().unwrap().live().get("r1");
    let r = r.expect("kept");
    assert_eq!((r.authorized_at, r.last_window), (None, false));
    assert_eq!(store.preferred_lang("k-op").unwrap().as_deref(), Some("fr"));
    assert_eq!(store.keys().unwrap(), vec![op]);
    // An edge key belongs to no tenant.
    store
        .insert_key(&key("k-edge", "edge", None, "2025-03-02T00:00:00Z"))
        .unwrap();
    let refused = key("k-e2", "edge", Some("acme"), "2025-03-02T00:00:00Z");
    assert!(store.insert_key(&refused).unwrap_err().is_constraint());
    // An answered reservation reads back answered, with its last-window flag.
    let mut answered = reservation("r2", "2025-03-05T09:00:20Z", Some(60), "1");
    answered.authorized_at = Some(at("2025-03-05T09:00:00Z"));
    answered.last_window = true;
    let put = TenantChanges {
        tenant_id: "acme".into(),
        reservations_put: vec![answered.clone()],
        ..TenantChanges::default()
    };
    store.commit_batch(&[put]).unwrap();
    let book = store.load_book("acme").unwrap().unwrap();
    assert_eq!(book.live().get("r2"), Some(answered));
    // Whose number is this: the shared number of both tenants, by tenant.
    let number = E164::parse("+33 1 42 68 53 00").unwrap();
    let owners: Vec<String> = store
        .number_owners(&number)
        .unwrap()
        .into_iter()
        .map(|(tenant, n)| {
            assert_eq!((n.number, n.kind), (number, NumberKind::Toll));
            tenant
        })
        .collect();
    assert_eq!(owners, ["acme", "globex"]);
    let unknown = E164::parse("+33 1 00 00 00 00").unwrap();
    assert!(store.number_owners(&unknown).unwrap().is_empty());
}

#[test]
fn stream_cursors_start_at_zero_move_only_forward_and_are_kept_per_prefix() {
    let (_dir, path) = db();
    let (mut store, ..) = two_tenants(&path);
    let acme_events = store.events("acme").unwrap().len() as u64;
    let globex_events = store.events("globex").unwrap().len() as u64;
    let start = store.stream_positions("minutely").unwrap();
    assert_eq!(
        start,
        vec![
            (
                "acme".to_string(),
                StreamPosition {
                    last_event: acme_events,
                    published_through: 0
                }
            ),
            (
                "globex".to_string(),
                StreamPosition {
                    last_event: globex_events,
                    published_through: 0
                }
            ),
        ]
    );
    let t = at("2025-03-10T00:00:00Z");
    store
        .advance_stream_cursors("minutely", &[("acme".into(), 2)], t)
        .unwrap();
    // Never back: an older acknowledgement (a resend after a restart) keeps the cursor.
    store
        .advance_stream_cursors("minutely", &[("acme".into(), 1)], t)
        .unwrap();
    let now = store.stream_positions("minutely").unwrap();
    assert_eq!(now[0].1.published_through, 2);
    assert_eq!(now[1].1.published_through, 0);
    // Another prefix has its own cursors.
    assert_eq!(
        store.stream_positions("other").unwrap()[0]
            .1
            .published_through,
        0
    );
    // A tenant that does not exist has no cursor: the foreign key refuses it whole.
    let refused = store.advance_stream_cursors("minutely", &[("nobody".into(), 1)], t);
    assert!(refused.unwrap_err().is_constraint());
    drop(store);
    // Kept across a reopen, and readable by a reader.
    let reader = Store::open_read_only(&path).unwrap();
    assert_eq!(
        reader.stream_positions("minutely").unwrap()[0]
            .1
            .published_through,
        2
    );
}
