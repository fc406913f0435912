//! The service's use cases on a real store (a SQLite file in a temporary directory) and, for
//! the writes of the API, in a real writer thread.

use jiff::Timestamp;
use minutely_core::Reason;
use minutely_core::control::Decision;
use minutely_core::engine::Outcome;
use minutely_core::rating::{CallRecord, Direction};
use minutely_formats::tenant_file::TenantFile;
use minutely_service::Command;
use minutely_service::audit::Actor;
use minutely_service::clock::Clock;
use minutely_service::commands::control::{
    Authorize, BatchAnswered, ControlCommand, ControlStep, End, StepAnswer,
};
use minutely_service::ingest::{Ingested, ingest_in_writer};
use minutely_service::keys::{KeyKind, LastOperator, Revoked, create_key, revoke_key};
use minutely_service::tenants::{TenantApplied, apply_to_store};
use minutely_service::writer::{self, State, WriterConfig};
use minutely_service::{Kind, ServiceError};
use minutely_store::{ActorKind, Store};
use std::path::Path;

const TENANT_FILE: &str = include_str!("../../../../examples/tenant.toml");

fn open(path: &Path) -> Store {
    Store::open(path, &minutely_formats::countries::shipped()).expect("the store opens")
}

fn now() -> Timestamp {
    "2026-03-10T12:00:00Z".parse().expect("an instant")
}

fn actions(store: &Store) -> Vec<(String, ActorKind)> {
    store
        .audit_page(None, 0, 100)
        .expect("the audit log reads")
        .into_iter()
        .map(|r| (r.entry.action, r.entry.actor_kind))
        .collect()
}

#[test]
fn applying_a_tenant_file_to_the_store_records_one_row_and_a_second_time_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(&minutely_testkit::stores::store_location(dir.path()));
    let file = TenantFile::parse(TENANT_FILE).unwrap();
    let first = apply_to_store(&mut store, &Actor::cli(), &file, now()).unwrap();
    assert_eq!(first.tenant, "contoso");
    assert!(first.created);
    assert!(!first.changes.is_empty());
    let again = apply_to_store(&mut store, &Actor::cli(), &file, now()).unwrap();
    assert!(again.changes.is_empty(), "{:?}", again.changes);
    assert!(!again.created);
    assert_eq!(
        actions(&store),
        vec![("tenant.apply".to_string(), ActorKind::Cli)]
    );
    // C24: the declared fundings due are in the saved wallet, and it adds up.
    let book = store.load_book("contoso").unwrap().expect("saved");
    book.wallet.check_invariant().unwrap();
}

#[test]
fn a_tenant_file_refused_by_a_charging_rule_names_its_place_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(&minutely_testkit::stores::store_location(dir.path()));
    // C41: an unknown policy name is refused.
    let text = TENANT_FILE.replace(
        "default_dial_out_policy = \"Global\"",
        "default_dial_out_policy = \"Nowhere\"",
    );
    let refused = TenantFile::parse(&text)
        .map_err(minutely_service::tenants::file_error)
        .and_then(|file| apply_to_store(&mut store, &Actor::cli(), &file, now()));
    let error = refused.expect_err("an unknown policy is refused");
    assert!(
        matches!(error.kind, Kind::Refused(_) | Kind::Unprocessable),
        "{error:?}"
    );
    assert!(error.detail.contains("nothing was changed"), "{error}");
    assert!(store.load_book("contoso").unwrap().is_none());
    assert!(actions(&store).is_empty());
}

#[test]
fn keys_are_created_and_revoked_with_their_rows_and_the_api_keeps_the_last_operator_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(&minutely_testkit::stores::store_location(dir.path()));
    let secret = store.key_secret().unwrap();
    let request = (KeyKind::Operator, None, "ops");
    let (record, text) = create_key(&mut store, (&secret, &Actor::cli()), request, now()).unwrap();
    assert!(text.starts_with(&format!("mk_{}_", record.id)));
    assert_eq!(record.kind, "operator");
    let keep = revoke_key(
        &mut store,
        &Actor::cli(),
        &record.id,
        LastOperator::Keep,
        now(),
    );
    assert_eq!(keep.unwrap_err().kind, Kind::Conflict);
    let revoked = revoke_key(
        &mut store,
        &Actor::cli(),
        &record.id,
        LastOperator::MayRevoke,
        now(),
    );
    assert!(matches!(revoked, Ok(Revoked::Now(ref k)) if k.revoked_at == Some(now())));
    let again = revoke_key(
        &mut store,
        &Actor::cli(),
        &record.id,
        LastOperator::MayRevoke,
        now(),
    );
    assert!(matches!(again, Ok(Revoked::Already(_))));
    let missing = revoke_key(
        &mut store,
        &Actor::cli(),
        "nosuchkey",
        LastOperator::Keep,
        now(),
    );
    assert_eq!(missing.unwrap_err().kind, Kind::NotFound);
    let rows: Vec<String> = actions(&store).into_iter().map(|(a, _)| a).collect();
    assert_eq!(rows, ["key.create", "key.revoke"]);
}

/// Stops the writer and waits for its thread: everything acknowledged is committed.
async fn stop(writer: writer::Writer, thread: std::thread::JoinHandle<()>) {
    writer.stop().await;
    drop(writer);
    tokio::task::spawn_blocking(move || thread.join())
        .await
        .unwrap()
        .unwrap();
}

fn dial_in(call_id: &str, conference_id: &str) -> CallRecord {
    CallRecord {
        call_id: call_id.to_string(),
        conference_id: conference_id.to_string(),
        organizer: "ana.silva@contoso.example".to_string(),
        direction: Direction::DialIn,
        service_number: "+33 1 86 95 00 00".to_string(),
        caller_number: "+33 6 12 34 56 78".to_string(),
        destination_number: String::new(),
        start: "2026-03-10T10:00:00Z".parse().unwrap(),
        end: "2026-03-10T10:05:00Z".parse().unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_call_id_is_answered_and_never_stored_in_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let db = minutely_testkit::stores::store_location(dir.path());
    let (writer, thread, applied) = writer_with_contoso(&db).await;
    assert!(applied.created);
    // C23: the same id with other content is `call_id_reused`; the same record again is a
    // replay; in one batch, the first in canonical order (C22) is the first submission.
    let later = CallRecord {
        start: "2026-03-10T11:00:00Z".parse().unwrap(),
        end: "2026-03-10T11:01:00Z".parse().unwrap(),
        ..dial_in("c-1", "conf-B")
    };
    let batch = vec![later, dial_in("c-1", "conf-A"), dial_in("c-1", "conf-A")];
    let (answers, _currency): (Vec<Ingested>, _) = writer
        .execute(Command::Ingest {
            tenant: "contoso".to_string(),
            records: batch,
        })
        .await
        .unwrap();
    assert_eq!(
        answers[0].outcome,
        Outcome::Refused(Reason::CallIdReused),
        "{answers:?}"
    );
    assert!(!answers[1].replay);
    assert!(answers[2].replay);
    let unknown: Result<_, ServiceError> = writer
        .run(|ctx| ingest_in_writer(ctx, "nobody", vec![dial_in("c-2", "x")]))
        .await;
    assert_eq!(
        unknown.unwrap_err().kind,
        Kind::Refused(Reason::UnknownTenant)
    );
    stop(writer, thread).await;
    let store = open(&db);
    let stored = store
        .call("contoso", "c-1")
        .unwrap()
        .expect("the first is stored");
    assert_eq!(stored.record.conference_id, "conf-A");
    assert_eq!(
        actions(&store),
        vec![("tenant.apply".to_string(), ActorKind::Operator)]
    );
}

fn directory_change(tenant: &str) -> minutely_service::commands::directory::Change {
    minutely_service::commands::directory::Change {
        actor: Actor::key(ActorKind::TenantAdmin, "k2", None),
        tenant: tenant.to_string(),
        picture: |t, upn| {
            t.user(upn)
                .map(|u| minutely_service::audit::snapshot(&u.display_name))
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directory_commands_record_a_change_once_and_name_what_they_refuse() {
    use minutely_core::directory::{Agreement, Sku, Tenant, TenantSpec};
    use minutely_service::commands::directory::{DirectoryCommand, UserInput, UserView};
    let dir = tempfile::tempdir().unwrap();
    let db = minutely_testkit::stores::store_location(dir.path());
    let state = State::load(open(&db)).unwrap();
    let (writer, thread) =
        writer::start(state, WriterConfig::default(), Clock::manual(now()), None);
    let tenant = Tenant::new(TenantSpec {
        id: "fabrikam".to_string(),
        name: "Fabrikam".to_string(),
        country: minutely_core::numbers::Country::parse("US").unwrap(),
        currency: minutely_core::money::Currency::parse("USD").unwrap(),
        timezone: "UTC".to_string(),
        agreement: Agreement::parse("volume_licensing").unwrap(),
    })
    .unwrap();
    let create = || DirectoryCommand::CreateTenant {
        actor: Actor::key(ActorKind::Operator, "k1", None),
        tenant: Box::new(tenant.clone()),
        picture: |t, _| Some(minutely_service::audit::snapshot(&t.id)),
    };
    let created: Box<Tenant> = writer.execute(Command::Directory(create())).await.unwrap();
    assert_eq!(created.id, "fabrikam");
    let again: Result<Box<Tenant>, ServiceError> =
        writer.execute(Command::Directory(create())).await;
    assert_eq!(again.unwrap_err().kind, Kind::Conflict);
    let put = || DirectoryCommand::PutUser {
        change: directory_change("fabrikam"),
        upn: "Ann@fabrikam.example".to_string(),
        user: UserInput {
            display_name: "Ann".to_string(),
            usage_location: None,
            policy: None,
            toll_free_dial_in: true,
        },
    };
    let first: UserView = writer.execute(Command::Directory(put())).await.unwrap();
    assert!(first.created);
    // The same user again changes nothing and records nothing.
    let second: UserView = writer.execute(Command::Directory(put())).await.unwrap();
    assert!(!second.created);
    let unknown: Result<UserView, ServiceError> = writer
        .execute(Command::Directory(DirectoryCommand::Unassign {
            change: directory_change("fabrikam"),
            upn: "bob@fabrikam.example".to_string(),
            sku: Sku::parse("MCOMEETADD").unwrap(),
        }))
        .await;
    let error = unknown.unwrap_err();
    assert_eq!(error.kind, Kind::Refused(Reason::UnknownUser));
    assert!(
        error.to_string().contains("bob@fabrikam.example"),
        "{error}"
    );
    stop(writer, thread).await;
    assert_eq!(
        actions(&open(&db)),
        vec![
            ("tenant.create".to_string(), ActorKind::Operator),
            ("user.put".to_string(), ActorKind::TenantAdmin),
        ]
    );
}

/// The call ids of the tenant's stored reservations, sorted.
fn stored_reservations(db: &Path, tenant: &str) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare("SELECT call_id FROM reservations WHERE tenant = ?1 ORDER BY call_id")
        .unwrap();
    stmt.query_map([tenant], |row| row.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// A writer on the store at `db`, started at `now()`, with the example tenant applied (and
/// what applying it answered).
async fn writer_with_contoso(
    db: &Path,
) -> (writer::Writer, std::thread::JoinHandle<()>, TenantApplied) {
    let state = State::load(open(db)).unwrap();
    let (writer, thread) =
        writer::start(state, WriterConfig::default(), Clock::manual(now()), None);
    let file = TenantFile::parse(TENANT_FILE).unwrap();
    let actor = Actor::key(ActorKind::Operator, "k1", Some("r1".to_string()));
    let applied: TenantApplied = writer
        .execute(Command::ApplyTenantFile {
            actor,
            tenant: "contoso".to_string(),
            file: Box::new(file),
        })
        .await
        .unwrap();
    (writer, thread, applied)
}

fn authorize_step(call_id: &str) -> ControlStep {
    ControlStep::Authorize(Authorize {
        call: dial_in(call_id, "conf-A"),
        start: Some(now()),
    })
}

fn end_step(call_id: &str, duration_s: u64) -> ControlStep {
    ControlStep::End(End {
        call_id: call_id.to_string(),
        end_at: None,
        duration_s: Some(duration_s),
        record: None,
        answered_at: None,
    })
}

/// Contoso's batch of `steps`, one command: its answers once committed.
async fn contoso_batch(writer: &writer::Writer, steps: Vec<ControlStep>) -> BatchAnswered {
    writer
        .execute(Command::Control(ControlCommand::Batch {
            tenant: "contoso".to_string(),
            steps,
        }))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c27_a_call_authorized_and_ended_in_one_batch_leaves_no_reservation_after_a_restart() {
    if minutely_testkit::stores::on_postgres() {
        eprintln!("SQLite only: this test reads the database file directly");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = minutely_testkit::stores::store_location(dir.path());
    let (writer, thread, _) = writer_with_contoso(&db).await;
    // One command, so one batch: "gone" is held and released before the commit; "held" stays.
    let steps = vec![
        authorize_step("gone"),
        end_step("gone", 60),
        authorize_step("held"),
    ];
    let answered = contoso_batch(&writer, steps).await;
    for answer in &answered.0 {
        match answer {
            Ok(StepAnswer::Authorized(a)) => {
                assert!(matches!(a.decision, Decision::Allow(_)), "{a:?}")
            }
            Ok(StepAnswer::Ended(e)) => assert!(!e.replay, "{e:?}"),
            other => panic!("{other:?}"),
        }
    }
    stop(writer, thread).await;
    assert_eq!(stored_reservations(&db, "contoso"), ["held"]);
    let store = open(&db);
    assert!(store.call("contoso", "gone").unwrap().is_some(), "charged");
    // The restart reads what is stored: the ended call holds nothing, the other still does.
    let state = State::load(store).unwrap();
    let live = state.books["contoso"].live();
    assert!(live.contains_key("held") && !live.contains_key("gone"));
    assert_eq!(stored_reservations(&db, "contoso"), ["held"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c24_batches_that_leave_the_wallet_as_stored_read_back_as_the_wallet_in_memory() {
    if minutely_testkit::stores::on_postgres() {
        eprintln!("SQLite only: this test reads the database file directly");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = minutely_testkit::stores::store_location(dir.path());
    let (writer, thread, _) = writer_with_contoso(&db).await;
    // Each command is its own batch: authorizations change no wallet row, ends do.
    let end = |call_id: &str| end_step(call_id, 90);
    for steps in [
        vec![authorize_step("a")],
        vec![authorize_step("b")],
        vec![end("a")],
        vec![authorize_step("c")],
        vec![end("b")],
        vec![authorize_step("d")],
    ] {
        let answered = contoso_batch(&writer, steps).await;
        assert!(answered.0.iter().all(Result::is_ok), "{answered:?}");
    }
    let in_memory = writer
        .with_book("contoso", |book| {
            Ok((book.wallet.clone(), book.scheduled.clone()))
        })
        .await
        .unwrap();
    stop(writer, thread).await;
    let state = State::load(open(&db)).unwrap();
    let book = &state.books["contoso"];
    assert_eq!(
        (&book.wallet, &book.scheduled),
        (&in_memory.0, &in_memory.1)
    );
    assert_eq!(stored_reservations(&db, "contoso"), ["c", "d"]);
}
