//! Several nodes on one PostgreSQL store: which node owns which tenant, and for how long it may
//! still grant.
//!
//! - A node holds a tenant under a lease with an epoch (`minutely_store::lease`); while it does,
//!   its writer holds the tenant's book and its store is fenced at that epoch, so a commit for a
//!   tenant whose lease another node took writes nothing.
//! - The lease thread (`leases::run`) registers the node, renews every lease it holds in one
//!   statement, takes tenants nobody holds (its share of them at once, any left over after two
//!   rounds), and serves claims: a request for a tenant no live node holds takes it here.
//! - The node grants for a tenant only until `valid_until`: the instant the renewal that last
//!   succeeded started, plus the lease, minus a margin, by this process's monotonic clock. The
//!   database's clock decides expiry; the margin covers the gap between the two clocks' rates
//!   and a commit in flight.
//! - A node that is drained stops granting, gives every lease back (its writer first commits
//!   what it accepted), and takes none.

pub mod leases;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

/// A node's identity and timings.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// The node's name, as operators know it (`--node`).
    pub name: String,
    /// Where other nodes forward its tenants' requests (`http://127.0.0.1:8080`).
    pub address: String,
    /// How long a lease lasts after each renewal, by the database's clock.
    pub lease: Duration,
}

impl NodeConfig {
    /// How often leases are renewed and free tenants looked for: a fifth of the lease.
    pub fn renew_every(&self) -> Duration {
        self.lease / 5
    }

    /// How long before its lease can have expired a node stops granting: a fifth of the lease.
    pub fn margin(&self) -> Duration {
        self.lease / 5
    }
}

/// Where a tenant's requests are served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Here: this node holds the tenant (or the tenant does not exist, and the answer is here).
    Local,
    /// At the node that holds it.
    Remote { node: String, address: String },
    /// Nowhere right now (its owner is changing, or the store cannot be reached): try again.
    Moving(String),
}

/// A lease this node holds.
#[derive(Debug, Clone, Copy)]
struct Held {
    epoch: u64,
    valid_until: Instant,
}

/// What the lease thread last read of the other nodes' leases and addresses.
#[derive(Debug, Default)]
struct Seen {
    /// Tenant: (owner, the instant its lease expires as estimated here).
    leases: HashMap<String, (String, Instant)>,
    /// Node: address, for the nodes heard from within a lease and not draining.
    nodes: HashMap<String, String>,
}

/// A request for a tenant no live node holds, to the lease thread.
pub(crate) struct Claim {
    pub tenant: String,
    /// The request may create the tenant: its lease is taken although it is not stored.
    pub create: bool,
    pub reply: tokio::sync::oneshot::Sender<Route>,
}

/// Counts shown by /metrics and /readyz.
#[derive(Debug, Default)]
pub struct Counters {
    /// Leases taken from another node after they expired.
    pub takeovers: AtomicU64,
    /// Leases taken (first ones and takeovers).
    pub acquired: AtomicU64,
    /// Leases found lost at renewal or at a fenced commit.
    pub lost: AtomicU64,
    /// Requests forwarded to another node.
    pub forwarded: AtomicU64,
}

/// The ownership state a node shares between its lease thread, its writer and its requests.
pub struct Ownership {
    pub config: NodeConfig,
    /// The lease owner this process writes as: the node's name and a random suffix, so that a
    /// restarted node never takes its previous life's leases for its own.
    pub incarnation: String,
    held: RwLock<HashMap<String, Held>>,
    /// Tenants this process held at some time: a request for one it no longer holds is told to
    /// try again rather than that the tenant does not exist.
    once_held: RwLock<HashSet<String>>,
    seen: RwLock<Seen>,
    draining: AtomicBool,
    claims: Mutex<Option<std::sync::mpsc::Sender<Claim>>>,
    pub counters: Counters,
}

/// How long a request waits for the lease thread to claim a tenant.
const CLAIM_PATIENCE: Duration = Duration::from_secs(5);

impl Ownership {
    pub fn new(config: NodeConfig) -> Ownership {
        let mut suffix = [0u8; 4];
        getrandom::fill(&mut suffix).expect("the system's random source");
        let incarnation = format!("{}.{}", config.name, hex::encode(suffix));
        Ownership {
            config,
            incarnation,
            held: RwLock::default(),
            once_held: RwLock::default(),
            seen: RwLock::default(),
            draining: AtomicBool::new(false),
            claims: Mutex::new(None),
            counters: Counters::default(),
        }
    }

    /// Whether this node may answer for `tenant` now: it holds the tenant and its lease is
    /// valid by the monotonic clock (`Ok(true)`); it never held it (`Ok(false)`: the tenant is
    /// not stored, or is being created here); or it held it and may not answer now (`Err`).
    pub fn may_serve(&self, tenant: &str, now: Instant) -> Result<bool, String> {
        if let Some(held) = self.held.read().expect("never poisoned").get(tenant) {
            return if now < held.valid_until {
                Ok(true)
            } else {
                Err(format!(
                    "this node's lease on tenant {tenant} could not be renewed in time; try again"
                ))
            };
        }
        if self
            .once_held
            .read()
            .expect("never poisoned")
            .contains(tenant)
        {
            return Err(format!(
                "tenant {tenant} has moved to another node; try again"
            ));
        }
        Ok(false)
    }

    /// True when this node holds `tenant` and may grant for it now.
    pub fn holds(&self, tenant: &str) -> bool {
        self.may_serve(tenant, Instant::now()) == Ok(true)
    }

    /// The tenants this node holds, with their epochs.
    pub fn held(&self) -> Vec<(String, u64)> {
        let held = self.held.read().expect("never poisoned");
        let mut out: Vec<_> = held.iter().map(|(t, h)| (t.clone(), h.epoch)).collect();
        out.sort();
        out
    }

    pub fn draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// Stops granting and gives every lease back (done by the lease thread within one round).
    pub fn drain(&self) {
        self.draining.store(true, Ordering::SeqCst);
        self.poke();
    }

    /// Where `tenant`'s request is served: here, at its owner, or nowhere for now. A tenant no
    /// live node holds is claimed by this node first (unless it is draining).
    pub async fn route(&self, tenant: &str, create: bool) -> Route {
        if self.holds(tenant) {
            return Route::Local;
        }
        if let Some(remote) = self.remote_owner(tenant) {
            return remote;
        }
        if self.draining() {
            return Route::Moving(format!(
                "this node is draining and tenant {tenant} has no owner yet; try again"
            ));
        }
        let (reply, answer) = tokio::sync::oneshot::channel();
        let claim = Claim {
            tenant: tenant.to_string(),
            create,
            reply,
        };
        let sent = self
            .claims
            .lock()
            .expect("never poisoned")
            .as_ref()
            .is_some_and(|tx| tx.send(claim).is_ok());
        if !sent {
            return Route::Moving("this node is stopping; try again".into());
        }
        match tokio::time::timeout(CLAIM_PATIENCE, answer).await {
            Ok(Ok(route)) => route,
            _ => Route::Moving(format!(
                "tenant {tenant}'s owner could not be settled in time; try again"
            )),
        }
    }

    /// The live owner of `tenant` other than this node, as last read, with its address.
    fn remote_owner(&self, tenant: &str) -> Option<Route> {
        let seen = self.seen.read().expect("never poisoned");
        let (owner, expires) = seen.leases.get(tenant)?;
        if owner == &self.incarnation || Instant::now() >= *expires {
            return None;
        }
        let address = seen.nodes.get(owner)?;
        Some(Route::Remote {
            node: owner.clone(),
            address: address.clone(),
        })
    }

    /// The lease thread's channel of claims.
    pub(crate) fn set_claims(&self, tx: Option<std::sync::mpsc::Sender<Claim>>) {
        *self.claims.lock().expect("never poisoned") = tx;
    }

    /// Wakes the lease thread now (a drain, a lost lease).
    fn poke(&self) {
        if let Some(tx) = self.claims.lock().expect("never poisoned").as_ref() {
            let (reply, _) = tokio::sync::oneshot::channel();
            let _ = tx.send(Claim {
                tenant: String::new(),
                create: false,
                reply,
            });
        }
    }

    /// The lease of `tenant` is held from now on under `epoch`, valid until `valid_until`.
    pub(crate) fn hold(&self, tenant: &str, epoch: u64, valid_until: Instant) {
        self.held
            .write()
            .expect("never poisoned")
            .insert(tenant.to_string(), Held { epoch, valid_until });
        self.once_held
            .write()
            .expect("never poisoned")
            .insert(tenant.to_string());
        metrics::gauge!("minutely_lease_epoch", "tenant" => tenant.to_string()).set(epoch as f64);
        self.publish_held();
    }

    /// The epoch under which this node holds `tenant`.
    pub(crate) fn epoch_of(&self, tenant: &str) -> Option<u64> {
        self.held
            .read()
            .expect("never poisoned")
            .get(tenant)
            .map(|h| h.epoch)
    }

    /// The lease of `tenant` is no longer this node's (given back, or lost).
    pub fn let_go(&self, tenant: &str, lost: bool) {
        let removed = self
            .held
            .write()
            .expect("never poisoned")
            .remove(tenant)
            .is_some();
        if removed && lost {
            self.counters.lost.fetch_add(1, Ordering::Relaxed);
            metrics::counter!("minutely_leases_lost_total").increment(1);
            tracing::warn!(tenant, "lease lost: this node no longer serves the tenant");
        }
        self.publish_held();
    }

    fn publish_held(&self) {
        let n = self.held.read().expect("never poisoned").len();
        metrics::gauge!("minutely_leases_held").set(n as f64);
    }

    /// Replaces what is known of the other nodes' leases and addresses.
    pub(crate) fn saw(
        &self,
        leases: HashMap<String, (String, Instant)>,
        nodes: HashMap<String, String>,
    ) {
        *self.seen.write().expect("never poisoned") = Seen { leases, nodes };
    }

    /// Counts a forwarded request.
    pub fn forwarded(&self) {
        self.counters.forwarded.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("minutely_forwarded_requests_total").increment(1);
    }
}
