//! The store against real SQLite files (no mocks): migrations and pragmas, rate-card versions,
//! a tenant book saved and read back, C23 outcomes, C22 ordering, and C24 checked on load.

use jiff::Timestamp;
use minutely_core::Reason;
use minutely_core::catalogue::{
    Availability, Conferencing, CountryFacts, CountryTable, Origin, RateCard, RateEntry, RateKey,
    RateKind,
};
use minutely_core::directory::{
    Agreement, AmountRules, AutoRecharge, NumberKind, Policy, Sku, Tenant, TenantSpec, UserSpec,
    WalletSettings,
};
use minutely_core::engine::{Funding, Mode, Outcome, ScheduledFunding, TenantBook};
use minutely_core::ledger::{EntryKind, LotSource};
use minutely_core::money::Currency;
use minutely_core::numbers::{Country, E164};
use minutely_core::rating::{CallRecord, Direction, Rater};
use minutely_store::{Commit, ImportSummary, Store, StoreError};
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

fn facts(code: &str, name: &str) -> CountryFacts {
    CountryFacts {
        country: country(code),
        name: name.into(),
        zone_a: true,
        conferencing: Conferencing::Yes,
        toll_dial_in: Availability::Yes,
        toll_free_dial_in: Availability::OnRequest,
        communications_credits: true,
    }
}

fn countries() -> CountryTable {
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

/// One rate-card row: kind, key (`+digits` or a country), origin, name, country, rate.
type Row = (
    RateKind,
    &'static str,
    Option<&'static str>,
    &'static str,
    &'static str,
    &'static str,
);

const ROWS: [Row; 7] = [
    (RateKind::DialOut, "+33", None, "France", "FR", "0.0240"),
    (
        RateKind::DialOut,
        "+336",
        None,
        "France mobile",
        "FR",
        "0.1100",
    ),
    (
        RateKind::DialOut,
        "+44",
        None,
        "United Kingdom",
        "GB",
        "0.0300",
    ),
    (
        RateKind::DialOut,
        "+1",
        None,
        "United States",
        "US",
        "0.0200",
    ),
    (
        RateKind::DialInToll,
        "FR",
        None,
        "France toll",
        "FR",
        "0.0300",
    ),
    (
        RateKind::DialInTollFree,
        "FR",
        Some("*"),
        "France toll-free",
        "FR",
        "0.0500",
    ),
    (
        RateKind::DialInTollFree,
        "FR",
        Some("US"),
        "France toll-free from US",
        "FR",
        "0.0900",
    ),
];

fn rate(row: &Row, from: &str, bump: &str) -> RateEntry {
    let (kind, key, origin, name, iso, per_minute) = *row;
    let key = match key.strip_prefix('+') {
        Some(digits) => RateKey::Prefix(digits.into()),
        None => RateKey::Country(country(key)),
    };
    let origin = origin.map(|o| {
        if o == "*" {
            Origin::Any
        } else {
            Origin::Country(country(o))
        }
    });
    RateEntry {
        kind,
        key,
        origin,
        name: name.into(),
        country: country(iso),
        premium: false,
        rate_per_minute: d(per_minute) + d(bump),
        connection_fee: Decimal::ZERO,
        first_block_s: 60,
        increment_s: 60,
        effective_from: at(from),
    }
}

/// One complete version (C36), every rate raised by `bump`.
fn version_rows(from: &str, bump: &str) -> Vec<RateEntry> {
    ROWS.iter().map(|row| rate(row, from, bump)).collect()
}

fn build(rows: Vec<RateEntry>) -> RateCard {
    let lines = rows
        .into_iter()
        .enumerate()
        .map(|(i, e)| (i + 2, e))
        .collect();
    RateCard::build(eur(), lines).unwrap()
}

/// Two versions (C36): 2025 and 2026, the latter a cent dearer everywhere.
fn card() -> RateCard {
    let mut rows = version_rows("2025-01-01T00:00:00Z", "0");
    rows.extend(version_rows("2026-01-01T00:00:00Z", "0.01"));
    build(rows)
}

fn assert_same_card(a: &RateCard, b: &RateCard) {
    assert_eq!(a.currency, b.currency);
    assert_eq!(a.versions().len(), b.versions().len());
    for (x, y) in a.versions().iter().zip(b.versions()) {
        assert_eq!(x.effective_from, y.effective_from);
        assert_eq!(
            x.entries(),
            y.entries(),
            "entries keep their file order and every field"
        );
    }
}

#[test]
fn opening_twice_migrates_once_and_sets_durable_pragmas() {
    sqlite_only!();
    let (_dir, path) = db();
    let store = Store::open(&path, &countries()).unwrap();
    assert_eq!(
        store.durability().unwrap(),
        ("wal".to_string(), 2),
        "WAL and synchronous=FULL"
    );
    assert_eq!(store.schema_version().unwrap(), 10);
    assert_eq!(
        store.countries().unwrap(),
        countries(),
        "a new database is seeded"
    );
    drop(store);

    // Only a new file is seeded: reopening with another table keeps the operator's.
    let other = CountryTable::new([facts("JP", "Japan")]);
    let store = Store::open(&path, &other).unwrap();
    assert_eq!(store.schema_version().unwrap(), 10);
    assert_eq!(store.durability().unwrap(), ("wal".to_string(), 2));
    assert_eq!(store.countries().unwrap(), countries());
    let mode: String = raw(&path)
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal", "WAL is a property of the file");
}

#[test]
fn a_file_from_a_newer_minutely_is_refused() {
    sqlite_only!();
    let (_dir, path) = db();
    drop(Store::open(&path, &countries()).unwrap());
    raw(&path).pragma_update(None, "user_version", 99).unwrap();
    match Store::open(&path, &countries()) {
        Err(StoreError::TooNew {
            found: 99,
            known: 10,
        }) => {}
        other => panic!("expected TooNew, got {:?}", other.err()),
    }
}

#[test]
fn replacing_the_country_table_round_trips() {
    let (_dir, path) = db();
    let mut store = Store::open(&path, &countries()).unwrap();
    let mut jp = facts("JP", "Japan");
    jp.conferencing = Conferencing::PpmOnly;
    jp.toll_free_dial_in = Availability::No;
    jp.communications_credits = false;
    jp.zone_a = false;
    let table = CountryTable::new([jp, facts("FR", "France")]);
    store.replace_countries(&table).unwrap();
    assert_eq!(
        Store::open(&path, &countries())
            .unwrap()
            .countries()
            .unwrap(),
        table
    );
}

#[test]
fn c36_rate_card_versions_round_trip_and_identical_reimport_is_unchanged() {
    let (_dir, path) = db();
    let mut store = Store::open(&path, &countries()).unwrap();
    assert!(store.currencies().unwrap().is_empty());
    assert!(
        store.rate_card(eur()).unwrap().versions().is_empty(),
        "no card: an empty one"
    );

    let summary = store.import_rate_card(&card()).unwrap();
    let froms = vec![at("2025-01-01T00:00:00Z"), at("2026-01-01T00:00:00Z")];
    assert_eq!(
        summary,
        ImportSummary {
            added: froms.clone(),
            unchanged: vec![],
            replaced: vec![]
        }
    );
    assert_same_card(&store.rate_card(eur()).unwrap(), &card());
    assert_eq!(store.currencies().unwrap(), vec![eur()]);

    // The same content in another file order is the same version.
    let mut shuffled = version_rows("2026-01-01T00:00:00Z", "0.01");
    shuffled.reverse();
    shuffled.extend(version_rows("2025-01-01T00:00:00Z", "0"));
    let summary = store.import_rate_card(&build(shuffled)).unwrap();
    assert_eq!(
        summary,
        ImportSummary {
            added: vec![],
            unchanged: froms,
            replaced: vec![]
        }
    );
    assert_same_card(
        &Store::open(&path, &countries())
            .unwrap()
            .rate_card(eur())
            .unwrap(),
        &card(),
    );
}

#[test]
fn c36_a_corrected_version_replaces_the_one_of_the_same_instant_when_asked() {
    let (_dir, path) = db();
    let mut store = Store::open(&path, &countries()).unwrap();
    store.import_rate_card(&card()).unwrap();
    let mut changed = version_rows("2026-01-01T00:00:00Z", "0.01");
    changed[0].rate_per_minute = d("0.0299");
    let corrected = build(changed.clone());
    let summary = store.replace_rate_versions(&corrected).unwrap();
    assert_eq!(summary.replaced, vec![at("2026-01-01T00:00:00Z")]);
    let stored = Store::open(&path, &countries())
        .unwrap()
        .rate_card(eur())
        .unwrap();
    let version = stored
        .version_at(at("2026-06-01T00:00:00Z"))
        .expect("the corrected version");
    assert_eq!(version.entries()[0].rate_per_minute, d("0.0299"));
    // The other version is untouched, and the same file again changes nothing.
    assert!(stored.version_at(at("2025-06-01T00:00:00Z")).is_some());
    let again = store.replace_rate_versions(&corrected).unwrap();
    assert_eq!(again.unchanged, vec![at("2026-01-01T00:00:00Z")]);
    assert!(again.replaced.is_empty());
}

#[test]
fn c36_a_conflicting_version_refuses_the_whole_import_and_changes_nothing() {
    let (_dir, path) = db();
    let mut store = Store::open(&path, &countries()).unwrap();
    store.import_rate_card(&card()).unwrap();
    // A new version (added first, in date order) and a changed rate in an existing one.
    let mut rows = version_rows("2024-06-01T00:00:00Z", "0");
    let mut changed = version_rows("2026-01-01T00:00:00Z", "0.01");
    changed[0].rate_per_minute = d("0.0299");
    rows.extend(changed);
    match store.import_rate_card(&build(rows)) {
        Err(StoreError::VersionConflict {
            currency,
            effective_from,
        }) => {
            assert_eq!(currency, "EUR");
            assert_eq!(effective_from, at("2026-01-01T00:00:00Z"));
        }
        other => panic!("expected VersionConflict, got {other:?}"),
    }
    assert_same_card(&store.rate_card(eur()).unwrap(), &card());

    // A different premium flag alone is a conflict too: every field counts.
    let mut premium = version_rows("2025-01-01T00:00:00Z", "0");
    premium[3].premium = true;
    assert!(matches!(
        store.import_rate_card(&build(premium)),
        Err(StoreError::VersionConflict { .. })
    ));
}

fn tenant(countries: &CountryTable) -> Tenant {
    let mut t = Tenant::new(TenantSpec {
        id: "acme".into(),
        name: "Acme SA".into(),
        country: country("FR"),
        currency: eur(),
        timezone: "Europe/Paris".into(),
        agreement: Agreement::VolumeLicensing,
    })
    .unwrap();
    let rules = AmountRules::default();
    let recharge = AutoRecharge {
        enabled: true,
        trigger: d("50"),
        amount: d("100"),
        payment_accepted: true,
    };
    let settings = WalletSettings {
        auto_recharge: Some(recharge),
        low_balance_thresholds: [Some(d("80")), Some(d("20"))],
    };
    t.setup_wallet(settings, countries, &rules).unwrap();
    let from = at("2025-01-01T00:00:00Z");
    for sku in [Sku::Subscription, Sku::PayPerMinute, Sku::Credits] {
        t.set_purchased(sku, 1, from, countries).unwrap();
    }
    t.set_purchased(Sku::Subscription, 2, at("2025-06-01T00:00:00Z"), countries)
        .unwrap();
    let user = |upn: &str, location: Option<&str>, policy: Option<&str>| UserSpec {
        object_id: None,
        upn: upn.into(),
        display_name: upn.split('@').next().unwrap().into(),
        usage_location: location.map(country),
        policy: policy.map(|p| Policy::parse(p).unwrap()),
        toll_free_dial_in: true,
    };
    t.upsert_user(user("Alice@Acme.example", None, None))
        .unwrap();
    t.upsert_user(user(
        "bob@acme.example",
        Some("GB"),
        Some("DialoutCPCZoneAPSTNDomestic"),
    ))
    .unwrap();
    t.assign("alice@acme.example", Sku::PayPerMinute, countries)
        .unwrap();
    t.assign("bob@acme.example", Sku::Subscription, countries)
        .unwrap();
    t.assign("bob@acme.example", Sku::Credits, countries)
        .unwrap();
    t.add_number(
        E164::parse("+33 1 42 68 53 00").unwrap(),
        NumberKind::Toll,
        true,
        true,
        countries,
    )
    .unwrap();
    t.add_number(
        E164::parse("+33 8 05 12 34 56").unwrap(),
        NumberKind::TollFree,
        false,
        false,
        countries,
    )
    .unwrap();
    t.set_default_policy(Policy::parse("tag:DialoutCPCInternationalPSTNDomestic").unwrap());
    t
}

fn call(
    id: &str,
    organizer: &str,
    direction: Direction,
    service: &str,
    other: &str,
    start: &str,
    minutes: i64,
) -> CallRecord {
    let start = at(start);
    let (caller, destination) = match direction {
        Direction::DialIn => (other, ""),
        Direction::DialOut => ("", other),
    };
    CallRecord {
        call_id: id.into(),
        conference_id: format!("conf-{id}"),
        organizer: organizer.into(),
        direction,
        service_number: service.into(),
        caller_number: caller.into(),
        destination_number: destination.into(),
        start,
        end: start + jiff::SignedDuration::from_secs(minutes * 60),
    }
}

const TOLL: &str = "+33 1 42 68 53 00";
const TOLL_FREE: &str = "+33805123456";

/// Calls of March 2025, in canonical order (C22): id, organizer, direction, other party's
/// number, start, minutes.
fn calls_2025() -> Vec<CallRecord> {
    use Direction::{DialIn, DialOut};
    let rows = [
        (
            "c1",
            "alice@acme.example",
            DialIn,
            "+33612345678",
            "2025-03-01T10:00:00Z",
            10,
        ),
        (
            "c2",
            "ALICE@acme.example",
            DialOut,
            "+1 212 555 0100",
            "2025-03-02T10:00:00Z",
            30,
        ),
        (
            "c3",
            "bob@acme.example",
            DialOut,
            "+44 20 7946 0018",
            "2025-03-03T10:00:00Z",
            45,
        ),
        // C32: 15 pool minutes left, the rest at the rate.
        (
            "c4",
            "bob@acme.example",
            DialOut,
            "+33 6 12 34 56 78",
            "2025-03-05T10:00:00Z",
            30,
        ),
        (
            "c5",
            "nobody@acme.example",
            DialOut,
            "+33612345678",
            "2025-03-05T10:00:00Z",
            3,
        ),
        (
            "c6",
            "alice@acme.example",
            DialOut,
            "+33612345678",
            "2025-03-06T10:00:00Z",
            0,
        ),
        // A long toll-free call that crosses a low-balance threshold and the C34 trigger.
        (
            "c7",
            "alice@acme.example",
            DialIn,
            "+12125550100",
            "2025-03-07T10:00:00Z",
            1300,
        ),
    ];
    rows.into_iter()
        .map(|(id, organizer, direction, other, start, minutes)| {
            let service = if id == "c7" { TOLL_FREE } else { TOLL };
            call(id, organizer, direction, service, other, start, minutes)
        })
        .collect()
}

/// Processes calls in bulk, gathering what a run would commit (replays and reused ids are not
/// new calls).
fn process(book: &mut TenantBook, card: &RateCard, calls: &[CallRecord], commit: &mut Commit) {
    let table = countries();
    let mut rater = Rater::new(&table, card);
    for record in calls {
        let processed = book.process_call(&mut rater, record, Mode::Bulk);
        if !processed.replay && processed.outcome != Outcome::Refused(Reason::CallIdReused) {
            commit
                .calls
                .push((record.clone(), record.fingerprint(), processed.outcome));
        }
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
            false,
            &AmountRules::default(),
        )
        .unwrap();
    commit.entries.extend(effects.entries);
    commit.events.extend(effects.events);
    commit.funding_refs.push(reference.into());
}

/// Everything the commits of a run carried, in order.
fn gather(all: &mut Commit, commit: &Commit) {
    all.calls.extend(commit.calls.iter().cloned());
    all.entries.extend(commit.entries.iter().cloned());
    all.events.extend(commit.events.iter().cloned());
    all.funding_refs.extend(commit.funding_refs.iter().cloned());
}

/// The scenario, saved in three commits, the last one made on a book loaded back from disk.
/// Returns the store, the in-memory book that saw everything, and all that was committed.
fn scenario(path: &Path) -> (Store, TenantBook, Commit) {
    let mut store = Store::open(path, &countries()).unwrap();
    store.import_rate_card(&card()).unwrap();
    let card = store.rate_card(eur()).unwrap();
    let mut book = TenantBook::new(tenant(&countries()));
    let mut all = Commit::default();

    let mut first = Commit::default();
    fund(
        &mut book,
        "100",
        "2025-01-10T09:00:00Z",
        "INV-1",
        &mut first,
    );
    fund(&mut book, "60", "2025-02-01T09:00:00Z", "INV-2", &mut first);
    store.save(&book, &first).unwrap();
    gather(&mut all, &first);

    let mut second = Commit::default();
    process(&mut book, &card, &calls_2025(), &mut second);
    store.save(&book, &second).unwrap();
    gather(&mut all, &second);

    // C28: a call in 2026 is dated at its start, after lot 2 expired: its remainder is forfeited.
    let late = vec![call(
        "c8",
        "alice@acme.example",
        Direction::DialIn,
        TOLL,
        "",
        "2026-02-15T10:00:00Z",
        5,
    )];
    let mut loaded = store.load_book("acme").unwrap().unwrap();
    let mut third = Commit::default();
    process(&mut loaded, &card, &late, &mut third);
    store.save(&loaded, &third).unwrap();
    gather(&mut all, &third);
    let mut reference = Commit::default();
    process(&mut book, &card, &late, &mut reference);
    assert_eq!(
        reference.entries, third.entries,
        "a loaded book continues exactly like the original"
    );
    (store, book, all)
}

#[test]
fn c24_a_tenant_book_saved_and_loaded_back_is_the_same() {
    let (_dir, path) = db();
    let (store, book, _) = scenario(&path);
    let loaded = Store::open(&path, &countries())
        .unwrap()
        .load_book("acme")
        .unwrap()
        .unwrap();

    assert_eq!(
        loaded.wallet, book.wallet,
        "lots, debt, totals, clock and sequence"
    );
    assert_eq!(loaded.wallet.balance(), book.wallet.balance());
    assert_eq!(loaded.pool_used, book.pool_used);
    assert!(
        loaded.seen.is_empty(),
        "seen ids are loaded per batch, not with the book"
    );
    let (a, b) = (&loaded.tenant, &book.tenant);
    assert_eq!(
        (&a.id, &a.name, a.country, a.currency),
        (&b.id, &b.name, b.country, b.currency)
    );
    assert_eq!(
        (&a.timezone_name, a.agreement, a.default_policy),
        (&b.timezone_name, b.agreement, b.default_policy)
    );
    assert_eq!(a.timezone, b.timezone);
    assert_eq!(a.purchases(), b.purchases());
    assert_eq!(a.wallet(), b.wallet());
    assert_eq!(a.users().collect::<Vec<_>>(), b.users().collect::<Vec<_>>());
    assert_eq!(
        a.numbers().collect::<Vec<_>>(),
        b.numbers().collect::<Vec<_>>()
    );
    assert_eq!(store.tenant_ids().unwrap(), vec!["acme".to_string()]);
    assert!(store.load_book("nobody").unwrap().is_none());
}

#[test]
fn c24_the_journal_calls_and_outbox_read_back_as_produced() {
    let (_dir, path) = db();
    let (store, book, all) = scenario(&path);
    let journal = store.journal("acme").unwrap();
    assert_eq!(
        journal, all.entries,
        "every entry with its postings, in order"
    );
    let kinds: Vec<EntryKind> = journal.iter().map(|e| e.kind).collect();
    for kind in [
        EntryKind::Funding,
        EntryKind::Debit,
        EntryKind::Recharge,
        EntryKind::Forfeit,
    ] {
        assert!(
            kinds.contains(&kind),
            "the scenario makes a {kind:?} entry: {kinds:?}"
        );
    }
    let (balance, funded, debited, forfeited) = minutely_core::ledger::recompute(&journal);
    assert_eq!(balance, book.wallet.balance());
    assert_eq!((funded, debited, forfeited), book.wallet.totals());

    let calls = store.calls("acme", Timestamp::MIN, Timestamp::MAX).unwrap();
    let stored: Vec<_> = calls
        .iter()
        .map(|c| (c.record.clone(), c.fingerprint, c.outcome.clone()))
        .collect();
    assert_eq!(
        stored, all.calls,
        "the scenario commits calls in canonical order"
    );
    assert_eq!(
        calls.iter().map(|c| c.seq).collect::<Vec<_>>(),
        (1..=calls.len() as u64).collect::<Vec<_>>()
    );

    assert_eq!(
        store.funding_refs("acme").unwrap(),
        vec!["INV-1".to_string(), "INV-2".to_string()]
    );
    let events = store.events("acme").unwrap();
    let expected: Vec<_> = (1u64..)
        .zip(&all.events)
        .map(|(seq, e)| (seq, e.kind().to_string(), e.at()))
        .collect();
    assert_eq!(events, expected);
    let kinds: Vec<&str> = events.iter().map(|(_, kind, _)| kind.as_str()).collect();
    for kind in [
        "wallet.recharge_succeeded",
        "wallet.low_balance",
        "pool.threshold",
        "wallet.lot_expiring",
    ] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
}

#[test]
fn c23_seen_returns_the_stored_first_outcomes() {
    let (_dir, path) = db();
    let (store, book, _) = scenario(&path);
    let ids = ["c1", "c4", "c5", "c6", "c7", "never-seen"];
    let seen = store.seen("acme", &ids).unwrap();
    assert_eq!(seen.len(), 5);
    for id in &ids[..5] {
        assert_eq!(seen[*id], book.seen[*id], "{id}");
    }
    assert_eq!(
        seen["c5"].outcome,
        Outcome::Refused(Reason::OrganizerNotEnabled)
    );
    let Outcome::Charged(split) = &seen["c4"].outcome else {
        panic!("c4 is charged")
    };
    assert_eq!(
        (split.funding, split.rule, split.pool_minutes),
        (Funding::PoolAndCredits, "C32", 15)
    );
    let Outcome::Charged(long) = &seen["c7"].outcome else {
        panic!("c7 is charged")
    };
    assert!(
        long.recharge_lot.is_some() && long.lots.len() == 2,
        "{long:?}"
    );
    assert!(store.seen("other-tenant", &ids).unwrap().is_empty());

    // A batch that loads its ids from the store replays them (C23) and charges nothing again.
    let mut again = calls_2025();
    let batch: Vec<&str> = again.iter().map(|c| c.call_id.as_str()).collect();
    let mut loaded = store.load_book("acme").unwrap().unwrap();
    loaded.seen = store.seen("acme", &batch).unwrap();
    let mut commit = Commit::default();
    again[4].destination_number = "+33 6 00 00 00 00".into();
    process(&mut loaded, &card(), &again, &mut commit);
    assert!(
        commit.calls.is_empty() && commit.entries.is_empty(),
        "{commit:?}"
    );
    assert_eq!(loaded.wallet, book.wallet);
}

#[test]
fn seen_looks_up_more_ids_than_one_query_carries() {
    let (_dir, path) = db();
    let (store, ..) = scenario(&path);
    let mut ids: Vec<String> = (0..1200).map(|i| format!("missing-{i}")).collect();
    ids.insert(700, "c2".into());
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let seen = store.seen("acme", &refs).unwrap();
    assert_eq!(seen.keys().collect::<Vec<_>>(), vec!["c2"]);
}

#[test]
fn c22_calls_are_numbered_in_commit_order_and_listed_in_canonical_order() {
    let (_dir, path) = db();
    let mut store = Store::open(&path, &countries()).unwrap();
    let card = card();
    let mut book = TenantBook::new(tenant(&countries()));
    let late = call(
        "b",
        "ghost@acme.example",
        Direction::DialOut,
        TOLL,
        "+33612345678",
        "2025-03-02T00:00:00Z",
        1,
    );
    let tie = call(
        "a",
        "ghost@acme.example",
        Direction::DialOut,
        TOLL,
        "+33612345678",
        "2025-03-02T00:00:00Z",
        1,
    );
    let early = call(
        "z",
        "ghost@acme.example",
        Direction::DialOut,
        TOLL,
        "+33612345678",
        "2025-03-01T00:00:00Z",
        1,
    );
    let edge = call(
        "y",
        "ghost@acme.example",
        Direction::DialOut,
        TOLL,
        "+33612345678",
        "2025-04-01T00:00:00Z",
        1,
    );
    // Real time: each call is committed as it comes, in arrival order.
    for record in [&late, &tie, &early, &edge] {
        let mut commit = Commit::default();
        process(&mut book, &card, std::slice::from_ref(record), &mut commit);
        store.save(&book, &commit).unwrap();
    }
    let listed = store
        .calls(
            "acme",
            at("2025-03-01T00:00:00Z"),
            at("2025-04-01T00:00:00Z"),
        )
        .unwrap();
    let order: Vec<(&str, u64)> = listed
        .iter()
        .map(|c| (c.record.call_id.as_str(), c.seq))
        .collect();
    assert_eq!(
        order,
        vec![("z", 3), ("a", 2), ("b", 1)],
        "start then call_id; `to` is excluded"
    );
    assert_eq!(listed[2].record, late);
    assert_eq!(listed[2].fingerprint, late.fingerprint());
    assert_eq!(
        listed[2].outcome,
        Outcome::Refused(Reason::OrganizerNotEnabled)
    );
    let all = store.calls("acme", Timestamp::MIN, Timestamp::MAX).unwrap();
    assert_eq!(all.len(), 4, "the widest range jiff allows still works");
    // Every call, refused or not, brings the wallet to its instant (C28).
    assert_eq!(book.wallet.clock(), at("2025-04-01T00:00:00Z"));
    assert_eq!(
        store.load_book("acme").unwrap().unwrap().wallet,
        book.wallet
    );
}

#[test]
fn a_failed_save_changes_nothing() {
    let (_dir, path) = db();
    let (mut store, book, _) = scenario(&path);
    let before = (
        store.journal("acme").unwrap(),
        store.events("acme").unwrap(),
        store.funding_refs("acme").unwrap(),
    );
    let mut book = book;
    let mut commit = Commit::default();
    fund(
        &mut book,
        "50",
        "2026-03-01T00:00:00Z",
        "INV-3",
        &mut commit,
    );
    // The same call id again (C23: stored once) makes the whole commit fail.
    let c1 = calls_2025().remove(0);
    commit.calls.push((
        c1.clone(),
        c1.fingerprint(),
        Outcome::Refused(Reason::NoRate),
    ));
    let e = store.save(&book, &commit).unwrap_err();
    assert!(
        e.is_constraint(),
        "a duplicate call id is a constraint: {e}"
    );
    let after = (
        store.journal("acme").unwrap(),
        store.events("acme").unwrap(),
        store.funding_refs("acme").unwrap(),
    );
    assert_eq!(before, after);
    assert!(
        store.load_book("acme").unwrap().is_some(),
        "C24 still holds"
    );

    // A commit whose entries skip a sequence number is refused before anything is written.
    commit.calls.clear();
    commit.entries[0].seq += 1;
    assert!(matches!(
        store.save(&book, &commit),
        Err(StoreError::Invariant { .. })
    ));
    assert_eq!(store.journal("acme").unwrap(), before.0);
}

#[test]
fn c24_a_tampered_lot_is_caught_on_load() {
    sqlite_only!();
    let (_dir, path) = db();
    drop(scenario(&path));
    let changed = raw(&path)
        .execute(
            "UPDATE lots SET remaining = '999.00' WHERE tenant = 'acme' AND id = (SELECT MIN(id) FROM lots WHERE tenant = 'acme')",
            [],
        )
        .unwrap();
    assert_eq!(changed, 1);
    let store = Store::open(&path, &countries()).unwrap();
    match store.load_book("acme") {
        Err(StoreError::Invariant { tenant, detail }) => assert_eq!(tenant, "acme", "{detail}"),
        other => panic!(
            "expected Invariant, got {:?}",
            other.map(|b| b.map(|b| b.wallet))
        ),
    }
}

#[test]
fn c24_journal_sums_out_of_range_are_caught_on_load() {
    sqlite_only!();
    let (_dir, path) = db();
    drop(scenario(&path));
    // Every entry's postings still read back, but their sums leave `Decimal`'s range: a
    // damaged store, refused like any other, never a panic.
    let conn = raw(&path);
    let max = Decimal::MAX.to_string();
    conn.execute(
        "UPDATE postings SET amount = ?1 WHERE tenant = 'acme' AND account LIKE 'lot:%'",
        [&max],
    )
    .unwrap();
    conn.execute(
        "UPDATE postings SET amount = ?1 WHERE tenant = 'acme' AND account = 'payments'",
        [format!("-{max}")],
    )
    .unwrap();
    match Store::open(&path, &countries()).unwrap().load_book("acme") {
        Err(StoreError::Invariant { tenant, detail }) => assert_eq!(tenant, "acme", "{detail}"),
        other => panic!(
            "expected Invariant, got {:?}",
            other.map(|b| b.map(|b| b.wallet))
        ),
    }
}

#[test]
fn c24_a_wallet_that_agrees_with_itself_but_not_with_the_journal_is_caught() {
    sqlite_only!();
    let (_dir, path) = db();
    drop(scenario(&path));
    // Add 10 to a lot and to `funded`: the snapshot alone still balances (Wallet::restore
    // accepts it), but no journal entry explains the money.
    let conn = raw(&path);
    let (id, remaining): (i64, String) = conn
        .query_row(
            "SELECT id, remaining FROM lots WHERE tenant = 'acme' ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let funded: String = conn
        .query_row(
            "SELECT funded FROM wallet_state WHERE tenant = 'acme'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let plus_ten = |text: &str| (d(text) + d("10")).to_string();
    conn.execute(
        "UPDATE lots SET remaining = ?1 WHERE tenant = 'acme' AND id = ?2",
        rusqlite::params![plus_ten(&remaining), id],
    )
    .unwrap();
    conn.execute(
        "UPDATE wallet_state SET funded = ?1 WHERE tenant = 'acme'",
        [plus_ten(&funded)],
    )
    .unwrap();
    match Store::open(&path, &countries()).unwrap().load_book("acme") {
        Err(StoreError::Invariant { detail, .. }) => {
            assert!(detail.contains("journal"), "{detail}")
        }
        other => panic!(
            "expected Invariant, got {:?}",
            other.map(|b| b.map(|b| b.wallet))
        ),
    }
}

#[test]
fn a_value_that_does_not_read_back_is_corrupt_and_named() {
    sqlite_only!();
    let (_dir, path) = db();
    drop(scenario(&path));
    raw(&path)
        .execute(
            "UPDATE users SET usage_location = 'France' WHERE upn_key = 'bob@acme.example'",
            [],
        )
        .unwrap();
    match Store::open(&path, &countries()).unwrap().load_book("acme") {
        Err(StoreError::Corrupt(message)) => {
            assert!(
                message.contains("users.usage_location") && message.contains("France"),
                "{message}"
            )
        }
        other => panic!("expected Corrupt, got {:?}", other.map(|b| b.is_some())),
    }
    raw(&path)
        .execute("UPDATE calls SET rule = 'C99' WHERE call_id = 'c1'", [])
        .unwrap();
    match Store::open(&path, &countries())
        .unwrap()
        .seen("acme", &["c1"])
    {
        Err(StoreError::Corrupt(message)) => assert!(message.contains("calls.rule"), "{message}"),
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[test]
fn c20_pool_counters_are_per_month() {
    let (_dir, path) = db();
    let (store, book, _) = scenario(&path);
    let pool = store.pool("acme").unwrap();
    assert_eq!(pool, book.pool_used);
    assert_eq!(
        pool.values().copied().collect::<Vec<_>>(),
        vec![60],
        "March 2025: 45 + 15 minutes"
    );
    assert_eq!(pool.keys().next().unwrap().to_string(), "2025-03");
}

#[test]
fn c11_the_minimum_amounts_per_currency_survive_a_reopen_and_a_bad_one_is_corruption() {
    sqlite_only!();
    let (_dir, path) = db();
    let jpy = Currency::parse("JPY").unwrap();
    {
        let store = Store::open(&path, &countries()).unwrap();
        assert_eq!(store.amount_rules().unwrap(), AmountRules::default());
    }
    let mut rules = AmountRules::new(d("60")).unwrap();
    rules.set_currency(jpy, Some(d("5000"))).unwrap();
    {
        let mut store = Store::open(&path, &countries()).unwrap();
        store.set_amount_rules(&rules).unwrap();
    }
    let store = Store::open(&path, &countries()).unwrap();
    let read = store.amount_rules().unwrap();
    assert_eq!(read, rules);
    assert_eq!(
        (read.minimum_for(jpy), read.minimum_for(eur())),
        (d("5000"), d("60"))
    );
    drop(store);
    // Removing JPY's own minimum removes its key.
    rules.set_currency(jpy, None).unwrap();
    Store::open(&path, &countries())
        .unwrap()
        .set_amount_rules(&rules)
        .unwrap();
    let keys: i64 = raw(&path)
        .query_row(
            "SELECT count(*) FROM settings WHERE key LIKE 'minimum_amount%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(keys, 1);
    // A stored minimum that is not one reads as corruption, naming the key.
    raw(&path)
        .execute(
            "INSERT INTO settings (key, value) VALUES ('minimum_amount.XYZ', '10')",
            [],
        )
        .unwrap();
    let store = Store::open(&path, &countries()).unwrap();
    let err = store.amount_rules().unwrap_err().to_string();
    assert!(err.contains("minimum_amount.XYZ"), "{err}");
}

/// The rows of the wallet snapshot tables, every column, in key order.
fn wallet_rows(path: &Path) -> Vec<Vec<rusqlite::types::Value>> {
    let conn = raw(path);
    let mut rows = Vec::new();
    for sql in [
        "SELECT * FROM wallet_state ORDER BY tenant",
        "SELECT * FROM lots ORDER BY tenant, id",
        "SELECT * FROM scheduled_fundings ORDER BY tenant, reference",
    ] {
        let mut stmt = conn.prepare(sql).unwrap();
        let width = stmt.column_count();
        let found = stmt
            .query_map([], |row| {
                (0..width)
                    .map(|i| row.get::<_, rusqlite::types::Value>(i))
                    .collect::<Result<Vec<_>, _>>()
            })
            .unwrap();
        rows.extend(found.map(Result::unwrap));
        rows.push(vec![rusqlite::types::Value::Text(sql.into())]);
    }
    rows
}

/// The rows `book`'s wallet gives when written whole into a new store.
fn rows_written_whole(book: &TenantBook) -> Vec<Vec<rusqlite::types::Value>> {
    let (_dir, path) = db();
    Store::open(&path, &countries())
        .unwrap()
        .save(book, &Commit::default())
        .unwrap();
    wallet_rows(&path)
}

#[test]
fn c24_a_wallet_written_change_by_change_holds_the_rows_a_whole_write_gives() {
    sqlite_only!();
    // Lots are funded, drawn, emptied, recharged (C7) and expired (C28) one commit at a time,
    // and scheduled fundings come and go; after every commit the stored rows are those a
    // wallet written whole leaves, and the wallet reads back as the one in memory.
    let (_dir, path) = db();
    let mut store = Store::open(&path, &countries()).unwrap();
    store.import_rate_card(&card()).unwrap();
    let card = store.rate_card(eur()).unwrap();
    let mut book = TenantBook::new(tenant(&countries()));
    let step = |store: &mut Store, book: &TenantBook, commit: Commit, what: &str| {
        store.save(book, &commit).unwrap();
        assert_eq!(wallet_rows(&path), rows_written_whole(book), "after {what}");
        let loaded = store.load_book("acme").unwrap().unwrap();
        assert_eq!(loaded.wallet, book.wallet, "after {what}");
        assert_eq!(loaded.scheduled, book.scheduled, "after {what}");
    };
    step(&mut store, &book, Commit::default(), "the new tenant");
    let mut first = Commit::default();
    fund(
        &mut book,
        "100",
        "2025-01-10T09:00:00Z",
        "INV-1",
        &mut first,
    );
    step(&mut store, &book, first, "a funding");
    let mut second = Commit::default();
    fund(
        &mut book,
        "60",
        "2025-02-01T09:00:00Z",
        "INV-2",
        &mut second,
    );
    book.scheduled.push(ScheduledFunding {
        reference: "INV-3".into(),
        amount: d("25"),
        at: at("2027-01-01T00:00:00Z"),
    });
    step(
        &mut store,
        &book,
        second,
        "a second lot and a scheduled funding",
    );
    let (mut recharged, mut drawn) = (false, false);
    for record in calls_2025() {
        let mut commit = Commit::default();
        process(&mut book, &card, std::slice::from_ref(&record), &mut commit);
        step(&mut store, &book, commit, &record.call_id);
        recharged |= book
            .wallet
            .lots()
            .any(|lot| matches!(lot.source, LotSource::AutoRecharge { .. }));
        drawn |= book.wallet.lots().any(|lot| lot.remaining < lot.amount);
    }
    assert!(recharged, "a call recharges");
    assert!(drawn, "a call draws on a lot in place");
    book.scheduled[0].amount = d("30");
    step(
        &mut store,
        &book,
        Commit::default(),
        "a changed scheduled funding",
    );
    book.scheduled.clear();
    step(&mut store, &book, Commit::default(), "no scheduled funding");
    let late = call(
        "c8",
        "alice@acme.example",
        Direction::DialIn,
        TOLL,
        "",
        "2026-02-15T10:00:00Z",
        5,
    );
    let lots_before = book.wallet.lots().count();
    let mut commit = Commit::default();
    process(&mut book, &card, &[late], &mut commit);
    assert!(
        book.wallet.lots().count() < lots_before,
        "a lot expired: {:?}",
        book.wallet.snapshot().lots
    );
    step(&mut store, &book, commit, "an expiry");
}
