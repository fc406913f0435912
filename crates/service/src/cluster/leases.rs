//! The lease thread of a node (`minutely-leases`): each round, it registers the node, renews
//! the leases it holds, reads the others' leases and addresses, and takes free tenants; between
//! rounds it serves claims. It has a store session of its own; the tenants it takes are loaded
//! by the writer (`Writer::adopt`) before they are served.

use super::{Claim, NodeConfig, Ownership, Route};
use crate::writer::Writer;
use minutely_store::{Store, StoreError};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// Starts the lease thread; it stops when `ownership`'s claims channel is closed
/// (`stop`) and every lease is given back.
pub fn start(
    mut store: Store,
    writer: Writer,
    ownership: Arc<Ownership>,
) -> anyhow::Result<std::thread::JoinHandle<()>> {
    let lease = ownership.config.lease;
    store.bound_session(lease / 4, lease / 4, lease / 2)?;
    let (tx, rx) = std::sync::mpsc::channel();
    ownership.set_claims(Some(tx));
    let mut thread = LeaseThread {
        store,
        writer,
        ownership,
        free_rounds: HashMap::new(),
    };
    Ok(std::thread::Builder::new()
        .name("minutely-leases".into())
        .spawn(move || thread.run(rx))?)
}

/// Closes the claims channel: the lease thread gives every lease back and stops.
pub fn stop(ownership: &Ownership) {
    ownership.set_claims(None);
}

fn log(result: Result<(), StoreError>) {
    if let Err(error) = result {
        tracing::warn!(%error, "a lease round failed; leases not renewed stop granting in time");
    }
}

struct LeaseThread {
    store: Store,
    writer: Writer,
    ownership: Arc<Ownership>,
    /// Free tenants left to others so far, and for how many rounds.
    free_rounds: HashMap<String, u32>,
}

impl LeaseThread {
    fn config(&self) -> &NodeConfig {
        &self.ownership.config
    }

    fn run(&mut self, rx: std::sync::mpsc::Receiver<Claim>) {
        let every = self.config().renew_every();
        // The first round only registers the node: peers starting together see each other
        // before tenants are shared out.
        log(self.heartbeat());
        let mut next = Instant::now() + every;
        loop {
            // A round is never put off by claims, however many arrive.
            if Instant::now() >= next {
                let result = self.round();
                log(result);
                next = Instant::now() + every;
            }
            let wait = next.saturating_duration_since(Instant::now());
            match rx.recv_timeout(wait) {
                Ok(claim) if claim.tenant.is_empty() => next = Instant::now(),
                Ok(claim) => {
                    let route = self.claim(&claim.tenant, claim.create);
                    let _ = claim.reply.send(route);
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        self.give_back_all();
        tracing::info!("lease thread stopped: every lease given back");
    }

    fn heartbeat(&mut self) -> Result<(), StoreError> {
        let (node, address) = (
            self.ownership.incarnation.clone(),
            self.config().address.clone(),
        );
        self.store
            .heartbeat(&node, &address, self.ownership.draining())
    }

    /// One round: register, renew, read the others, drain or take free tenants.
    fn round(&mut self) -> Result<(), StoreError> {
        self.heartbeat()?;
        self.renew()?;
        let live_nodes = self.read_others()?;
        if self.ownership.draining() {
            self.give_back_all();
            return Ok(());
        }
        self.take_free(live_nodes)
    }

    /// Renews every lease held, in one statement; a lease no longer held under its epoch is
    /// let go (its book dropped), one renewed but not held (a claim that failed) given back.
    fn renew(&mut self) -> Result<(), StoreError> {
        let started = Instant::now();
        let (node, lease) = (self.ownership.incarnation.clone(), self.config().lease);
        let renewed: HashMap<String, u64> =
            self.store.renew_leases(&node, lease)?.into_iter().collect();
        let valid_until = started + lease - self.config().margin();
        for (tenant, epoch) in self.ownership.held() {
            if renewed.get(&tenant) == Some(&epoch) {
                self.ownership.hold(&tenant, epoch, valid_until);
            } else {
                self.lose(&tenant);
            }
        }
        for (tenant, epoch) in renewed {
            if self.ownership.epoch_of(&tenant).is_none() {
                let _ = self.store.release_lease(&tenant, &node, epoch);
            }
        }
        Ok(())
    }

    /// This node no longer holds `tenant`: it stops answering for it and its writer drops it.
    fn lose(&mut self, tenant: &str) {
        self.ownership.let_go(tenant, true);
        if let Err(error) = self.writer.release_blocking(tenant) {
            tracing::warn!(%error, tenant, "the writer could not drop a lost tenant");
        }
    }

    /// Reads every lease and every live node's address; returns how many nodes are live.
    fn read_others(&mut self) -> Result<usize, StoreError> {
        let now = Instant::now();
        let silent_limit = self.config().lease.as_millis() as i64;
        let nodes = self.store.nodes()?;
        let live: HashMap<String, String> = nodes
            .into_iter()
            .filter(|n| n.silent_ms < silent_limit && !n.draining)
            .map(|n| (n.node, n.address))
            .collect();
        let leases = self
            .store
            .leases()?
            .into_iter()
            .filter(|l| l.remaining_ms > 0)
            .map(|l| {
                let left = std::time::Duration::from_millis(l.remaining_ms as u64);
                (l.tenant, (l.owner, now + left))
            })
            .collect();
        let count = live.len().max(1);
        self.ownership.saw(leases, live);
        Ok(count)
    }

    /// Takes free tenants: this node's share of them (in an order of its own, so that nodes
    /// starting together reach for different ones), and any left free for two rounds.
    fn take_free(&mut self, live_nodes: usize) -> Result<(), StoreError> {
        let free = self.store.orphans()?;
        let mut held = self.ownership.held().len();
        let total = held + free.len();
        let share = total.div_ceil(live_nodes);
        let mut free: Vec<(u64, String)> =
            free.into_iter().map(|t| (self.preference(&t), t)).collect();
        free.sort();
        let still_free: HashSet<String> = free.iter().map(|(_, t)| t.clone()).collect();
        self.free_rounds.retain(|t, _| still_free.contains(t));
        for (_, tenant) in free {
            let rounds = self.free_rounds.entry(tenant.clone()).or_insert(0);
            *rounds += 1;
            let overdue = *rounds > 2;
            if (held < share || overdue) && self.take(&tenant)? == Route::Local {
                held += 1;
            }
        }
        Ok(())
    }

    /// This node's order of preference for `tenant` (rendezvous hashing on the node's name).
    fn preference(&self, tenant: &str) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::hash::DefaultHasher::new();
        (self.config().name.as_str(), tenant).hash(&mut hasher);
        hasher.finish()
    }

    /// Takes `tenant`'s lease if it is free and loads the tenant; the route that results.
    fn take(&mut self, tenant: &str) -> Result<Route, StoreError> {
        let started = Instant::now();
        let node = self.ownership.incarnation.clone();
        let lease = self.config().lease;
        let previous = self.store.lease(tenant)?;
        let Some(epoch) = self.store.acquire_lease(tenant, &node, lease)? else {
            return self.owner_route(tenant);
        };
        let valid_until = started + lease - self.config().margin();
        if self.ownership.epoch_of(tenant) == Some(epoch) {
            self.ownership.hold(tenant, epoch, valid_until);
            return Ok(Route::Local);
        }
        if let Err(error) = self.writer.adopt_blocking(tenant, epoch) {
            tracing::warn!(%error, tenant, "a tenant taken could not be loaded; given back");
            let _ = self.store.release_lease(tenant, &node, epoch);
            return Ok(Route::Moving(format!(
                "tenant {tenant} could not be loaded; try again"
            )));
        }
        self.ownership.hold(tenant, epoch, valid_until);
        let counters = &self.ownership.counters;
        counters.acquired.fetch_add(1, Ordering::Relaxed);
        if previous.is_some_and(|p| p.owner != node) {
            counters.takeovers.fetch_add(1, Ordering::Relaxed);
            metrics::counter!("minutely_takeovers_total").increment(1);
            tracing::info!(tenant, epoch, "tenant taken over");
        } else {
            tracing::info!(tenant, epoch, "tenant taken");
        }
        Ok(Route::Local)
    }

    /// Where a tenant another node holds is served.
    fn owner_route(&mut self, tenant: &str) -> Result<Route, StoreError> {
        let Some(lease) = self.store.lease(tenant)? else {
            return Ok(Route::Moving(format!(
                "tenant {tenant} has no owner yet; try again"
            )));
        };
        let node = self
            .store
            .nodes()?
            .into_iter()
            .find(|n| n.node == lease.owner);
        Ok(match node {
            Some(n) if !n.draining => Route::Remote {
                node: n.node,
                address: n.address,
            },
            _ => Route::Moving(format!("tenant {tenant}'s owner is changing; try again")),
        })
    }

    /// A request's claim on a tenant no live node was known to hold.
    fn claim(&mut self, tenant: &str, create: bool) -> Route {
        if self.ownership.holds(tenant) {
            return Route::Local;
        }
        if self.ownership.draining() {
            return Route::Moving(format!("this node is draining; try tenant {tenant} again"));
        }
        let outcome = match self.store.tenant_exists(tenant) {
            // Not stored: the answer (404, or its creation) is given here.
            Ok(false) if !create => return Route::Local,
            Ok(_) => self.take(tenant),
            Err(e) => Err(e),
        };
        outcome.unwrap_or_else(|error| {
            tracing::warn!(%error, tenant, "a claim failed");
            Route::Moving(format!(
                "the store cannot settle tenant {tenant}'s owner now; try again"
            ))
        })
    }

    /// Stops granting for every tenant held, lets the writer commit what it accepted and drop
    /// them, and gives their leases back so that other nodes take them at once.
    fn give_back_all(&mut self) {
        let node = self.ownership.incarnation.clone();
        for (tenant, epoch) in self.ownership.held() {
            self.ownership.let_go(&tenant, false);
            if let Err(error) = self.writer.release_blocking(&tenant) {
                tracing::warn!(%error, tenant, "the writer could not drop a tenant given back");
            }
            if let Err(error) = self.store.release_lease(&tenant, &node, epoch) {
                tracing::warn!(%error, tenant, "a lease could not be given back; it expires");
            }
        }
        let _ = self.heartbeat();
    }
}
