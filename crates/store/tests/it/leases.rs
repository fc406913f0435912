//! Tenant leases and fencing on PostgreSQL (run when MINUTELY_TEST_POSTGRES names a server):
//! a lease is taken over only once expired by the database's clock, with a new epoch; a node
//! that lost its lease can neither renew it nor commit for its tenant; a released lease is
//! taken at once.

use crate::audit::{countries, new_tenant};
use minutely_store::{Store, StoreError, TenantChanges};
use std::path::PathBuf;
use std::time::Duration;

/// Two nodes' stores on one new database holding tenant `acme`.
fn two_nodes() -> Option<(Store, Store)> {
    let server = minutely_testkit::stores::postgres_server()?;
    let url = PathBuf::from(minutely_testkit::stores::new_database(&server));
    let mut a = Store::open(&url, &countries()).unwrap();
    a.commit_batch(&[new_tenant("acme")]).unwrap();
    let b = Store::open(&url, &countries()).unwrap();
    Some((a, b))
}

const SHORT: Duration = Duration::from_millis(300);

#[test]
fn postgres_a_lease_is_taken_over_only_once_expired_and_with_a_new_epoch() {
    let Some((mut a, mut b)) = two_nodes() else {
        return;
    };
    assert_eq!(a.acquire_lease("acme", "a", SHORT).unwrap(), Some(1));
    assert_eq!(
        b.acquire_lease("acme", "b", SHORT).unwrap(),
        None,
        "a's lease is live"
    );
    assert_eq!(
        a.acquire_lease("acme", "a", SHORT).unwrap(),
        Some(1),
        "a renews its own"
    );
    std::thread::sleep(SHORT + Duration::from_millis(100));
    assert_eq!(
        b.acquire_lease("acme", "b", SHORT).unwrap(),
        Some(2),
        "expired: b takes it"
    );
    assert!(
        !a.renew_lease("acme", "a", 1, SHORT).unwrap(),
        "a cannot renew what it lost"
    );
    assert!(b.renew_lease("acme", "b", 2, SHORT).unwrap());
    let leases = a.leases().unwrap();
    assert_eq!(leases.len(), 1);
    assert_eq!((leases[0].owner.as_str(), leases[0].epoch), ("b", 2));
    assert!(
        leases[0].remaining_ms > 0 && leases[0].remaining_ms <= 300,
        "{leases:?}"
    );
    assert!(b.release_lease("acme", "b", 2).unwrap());
    assert_eq!(
        a.acquire_lease("acme", "a", SHORT).unwrap(),
        Some(3),
        "released: taken at once"
    );
}

/// A change to acme's tenant row alone (its directory), which a fenced commit must refuse.
fn change() -> TenantChanges {
    let mut c = new_tenant("acme");
    c.wallet = None;
    c
}

#[test]
fn postgres_a_node_that_lost_its_lease_commits_nothing() {
    let Some((mut a, mut b)) = two_nodes() else {
        return;
    };
    a.fence_as("a").unwrap();
    b.fence_as("b").unwrap();
    let refused = a.commit_batch(&[change()]).unwrap_err();
    assert!(
        matches!(refused, StoreError::Fenced { .. }),
        "no lease: {refused}"
    );
    let epoch = a.acquire_lease("acme", "a", SHORT).unwrap().unwrap();
    a.fence_tenant("acme", Some(epoch));
    a.commit_batch(&[change()]).unwrap();
    std::thread::sleep(SHORT + Duration::from_millis(100));
    let taken = b.acquire_lease("acme", "b", SHORT).unwrap().unwrap();
    b.fence_tenant("acme", Some(taken));
    // a still believes it holds epoch 1: its commit is refused, whole.
    let audit = a.audit_page(None, 0, 100).unwrap().len();
    let refused = a.commit_batch_audited(&[change()], &[]).unwrap_err();
    assert!(
        matches!(refused, StoreError::Fenced { ref tenant } if tenant == "acme"),
        "{refused}"
    );
    assert_eq!(a.audit_page(None, 0, 100).unwrap().len(), audit);
    b.commit_batch(&[change()]).unwrap();
}

#[test]
fn leases_need_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("m.db"), &countries()).unwrap();
    let e = store.acquire_lease("acme", "a", SHORT).unwrap_err();
    assert!(e.to_string().contains("needs a PostgreSQL store"), "{e}");
    assert!(store.fence_as("a").is_err());
}
