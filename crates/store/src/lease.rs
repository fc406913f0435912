//! Tenant leases on PostgreSQL: which node owns a tenant, under which epoch, until when.
//!
//! - A node takes a tenant with a compare-and-set that succeeds only when no lease exists or the
//!   current one has expired by the database's clock (`now()`); taking it bumps the epoch.
//! - The owner renews before expiry; a renewal names its epoch, so a node that lost the lease
//!   cannot renew it back.
//! - Every batch commit of a fenced store checks, in its own transaction, that each tenant it
//!   writes is still leased to this node under the epoch it was loaded with, holding the lease
//!   row with `FOR KEY SHARE` until the commit: a takeover (which changes the epoch, a key
//!   column) waits for the commit, or the commit sees the new epoch and writes nothing
//!   (`StoreError::Fenced`); renewals, which change only the expiry, never wait for commits.
//!
//! Timing (how long a lease lasts, when an owner stops granting by its own monotonic clock) is
//! the caller's; the store only keeps the rows and the checks.

use crate::{Result, Store, StoreError};
use std::collections::HashMap;
use std::time::Duration;

/// The tables of several nodes, made on every read-write open of a PostgreSQL store (they are
/// not part of the embedded store's schema: one process owns a SQLite file):
/// - `tenant_leases`: a lease may name a tenant not yet created (a node takes the lease of a
///   tenant before creating it, so that its creation is fenced like any write);
/// - `cluster_nodes`: each node's address for forwarded requests and its last heartbeat;
/// - the index on (tenant, epoch) makes the epoch a key column: a takeover, which changes it,
///   locks the row as a key update and waits for the commits holding it `FOR KEY SHARE`,
///   while a renewal or a release, which change only `expires_at`, do not;
/// - a trigger on each catalogue table, and on the guard's operator part, that notifies
///   channel `minutely_catalogue` when a transaction changed it, so that every node reloads
///   its copy (`pg::listen`).
pub(crate) const DDL: &str = "
CREATE TABLE IF NOT EXISTS tenant_leases (
    tenant TEXT COLLATE \"C\" PRIMARY KEY,
    owner TEXT COLLATE \"C\" NOT NULL,
    epoch BIGINT NOT NULL CHECK (epoch >= 1),
    expires_at TIMESTAMPTZ NOT NULL
);
ALTER TABLE tenant_leases DROP CONSTRAINT IF EXISTS tenant_leases_tenant_fkey;
CREATE UNIQUE INDEX IF NOT EXISTS tenant_leases_epoch ON tenant_leases (tenant, epoch);
CREATE TABLE IF NOT EXISTS cluster_nodes (
    node TEXT COLLATE \"C\" PRIMARY KEY,
    address TEXT COLLATE \"C\" NOT NULL,
    draining BOOLEAN NOT NULL,
    seen_at TIMESTAMPTZ NOT NULL
);
CREATE OR REPLACE FUNCTION minutely_catalogue_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('minutely_catalogue', TG_TABLE_NAME);
    RETURN NULL;
END
$$;
DO $$
DECLARE t TEXT;
BEGIN
    FOREACH t IN ARRAY ARRAY['countries', 'rate_versions', 'rate_entries', 'license_prices',
                             'settings', 'guard_operator', 'guard_list'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_trigger
                       WHERE tgname = 'minutely_catalogue_' || t) THEN
            EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
                            ON %I FOR EACH STATEMENT EXECUTE FUNCTION
                            minutely_catalogue_changed()', 'minutely_catalogue_' || t, t);
        END IF;
    END LOOP;
END
$$;";

/// The channel the catalogue's triggers notify.
pub const CATALOGUE_CHANNEL: &str = "minutely_catalogue";

/// One node as registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRow {
    pub node: String,
    /// Where other nodes forward its tenants' requests (`http://host:port`).
    pub address: String,
    pub draining: bool,
    /// Milliseconds since its last heartbeat, by the database's clock.
    pub silent_ms: i64,
}

/// One lease as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRow {
    pub tenant: String,
    pub owner: String,
    pub epoch: u64,
    /// Milliseconds until it expires by the database's clock (negative: expired).
    pub remaining_ms: i64,
}

/// The identity a fenced store's commits are checked against: this node, and the epoch under
/// which it holds each tenant it writes.
#[derive(Debug, Clone, Default)]
pub(crate) struct Fencing {
    pub node: String,
    pub epochs: HashMap<String, u64>,
}

fn millis(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX)
}

impl Store {
    fn pg_only(&self, what: &str) -> Result<()> {
        if self.conn.is_pg() {
            Ok(())
        } else {
            Err(StoreError::Location(format!(
                "{what} needs a PostgreSQL store: an embedded store has one owner, its process"
            )))
        }
    }

    /// Takes the tenant for `node` when nobody holds a live lease on it (by the database's
    /// clock), or renews it when `node` already does; returns the epoch held, or `None` when
    /// another node's lease is live.
    pub fn acquire_lease(
        &mut self,
        tenant: &str,
        node: &str,
        ttl: Duration,
    ) -> Result<Option<u64>> {
        self.pg_only("a tenant lease")?;
        let epoch: Option<i64> = self
            .conn
            .query_row(
                "INSERT INTO tenant_leases (tenant, owner, epoch, expires_at)
                 VALUES (?1, ?2, 1, now() + ?3 * interval '1 millisecond')
                 ON CONFLICT (tenant) DO UPDATE SET owner = excluded.owner,
                     epoch = CASE WHEN tenant_leases.owner = excluded.owner
                                   AND tenant_leases.expires_at > now()
                              THEN tenant_leases.epoch ELSE tenant_leases.epoch + 1 END,
                     expires_at = excluded.expires_at
                 WHERE tenant_leases.expires_at <= now() OR tenant_leases.owner = excluded.owner
                 RETURNING epoch",
                rusqlite::params![tenant, node, millis(ttl)],
                |row| row.get(0),
            )
            .map(Some)
            .or_else(no_row)?;
        Ok(epoch.map(|e| e as u64))
    }

    /// Extends the lease `node` holds on `tenant` under `epoch`; false when it no longer does
    /// (taken over, or released).
    pub fn renew_lease(
        &mut self,
        tenant: &str,
        node: &str,
        epoch: u64,
        ttl: Duration,
    ) -> Result<bool> {
        self.pg_only("a tenant lease")?;
        let n = self.conn.execute(
            "UPDATE tenant_leases SET expires_at = now() + ?4 * interval '1 millisecond'
             WHERE tenant = ?1 AND owner = ?2 AND epoch = ?3",
            rusqlite::params![tenant, node, epoch as i64, millis(ttl)],
        )?;
        Ok(n == 1)
    }

    /// Extends every lease `node` holds, in one statement; returns each tenant with its epoch.
    pub fn renew_leases(&mut self, node: &str, ttl: Duration) -> Result<Vec<(String, u64)>> {
        self.pg_only("a tenant lease")?;
        let mut stmt = self.conn.prepare_cached(
            "UPDATE tenant_leases SET expires_at = now() + ?2 * interval '1 millisecond'
             WHERE owner = ?1 RETURNING tenant, epoch",
        )?;
        let rows = stmt.query_map(rusqlite::params![node, millis(ttl)], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)? as u64))
        })?;
        rows.collect()
    }

    /// The stored tenants no live lease covers (none taken yet, or expired), by id.
    pub fn orphans(&self) -> Result<Vec<String>> {
        self.pg_only("a tenant lease")?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT t.id FROM tenants t LEFT JOIN tenant_leases l ON l.tenant = t.id
             WHERE l.tenant IS NULL OR l.expires_at <= now() ORDER BY t.id",
        )?;
        let rows = stmt.query_map((), |row| row.get(0))?;
        rows.collect()
    }

    /// Gives the lease up at once (a draining node): another node may take the tenant without
    /// waiting for it to expire. False when `node` did not hold it under `epoch`.
    pub fn release_lease(&mut self, tenant: &str, node: &str, epoch: u64) -> Result<bool> {
        self.pg_only("a tenant lease")?;
        let n = self.conn.execute(
            "UPDATE tenant_leases SET expires_at = now() - interval '1 millisecond'
             WHERE tenant = ?1 AND owner = ?2 AND epoch = ?3",
            rusqlite::params![tenant, node, epoch as i64],
        )?;
        Ok(n == 1)
    }

    /// Every lease, by tenant.
    pub fn leases(&self) -> Result<Vec<LeaseRow>> {
        self.pg_only("a tenant lease")?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT tenant, owner, epoch,
                 CAST(EXTRACT(EPOCH FROM (expires_at - now())) * 1000 AS BIGINT)
             FROM tenant_leases ORDER BY tenant",
        )?;
        let rows = stmt.query_map((), lease_row)?;
        rows.collect()
    }

    /// Registers `node` (or renews its registration): its address and whether it is draining.
    pub fn heartbeat(&mut self, node: &str, address: &str, draining: bool) -> Result<()> {
        self.pg_only("a node's registration")?;
        self.conn.execute(
            "INSERT INTO cluster_nodes (node, address, draining, seen_at)
             VALUES (?1, ?2, ?3, now())
             ON CONFLICT (node) DO UPDATE SET address = excluded.address,
                 draining = excluded.draining, seen_at = excluded.seen_at",
            rusqlite::params![node, address, draining],
        )?;
        Ok(())
    }

    /// Every registered node, by name.
    pub fn nodes(&self) -> Result<Vec<NodeRow>> {
        self.pg_only("a node's registration")?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT node, address, draining,
                 CAST(EXTRACT(EPOCH FROM (now() - seen_at)) * 1000 AS BIGINT)
             FROM cluster_nodes ORDER BY node",
        )?;
        let rows = stmt.query_map((), |row| {
            Ok(NodeRow {
                node: row.get(0)?,
                address: row.get(1)?,
                draining: row.get(2)?,
                silent_ms: row.get(3)?,
            })
        })?;
        rows.collect()
    }

    /// The lease of one tenant, if any.
    pub fn lease(&self, tenant: &str) -> Result<Option<LeaseRow>> {
        self.pg_only("a tenant lease")?;
        self.conn
            .query_row(
                "SELECT tenant, owner, epoch,
                     CAST(EXTRACT(EPOCH FROM (expires_at - now())) * 1000 AS BIGINT)
                 FROM tenant_leases WHERE tenant = ?1",
                [tenant],
                lease_row,
            )
            .map(Some)
            .or_else(no_row)
    }

    /// True when the tenant is stored.
    pub fn tenant_exists(&self, tenant: &str) -> Result<bool> {
        let found: Option<i64> = self
            .conn
            .query_row("SELECT 1 FROM tenants WHERE id = ?1", [tenant], |row| {
                row.get(0)
            })
            .map(Some)
            .or_else(no_row)?;
        Ok(found.is_some())
    }

    /// The session settings of a node of several, kept across reconnections, so that a node
    /// that stops mid-way (paused, cut off) cannot hold a tenant's rows locked past its lease:
    /// a transaction left idle for `idle` is ended by the server (its locks released), and a
    /// statement waits at most `lock_wait` for a lock and runs at most `statement` (zero: no
    /// bound).
    pub fn bound_session(
        &mut self,
        idle: Duration,
        lock_wait: Duration,
        statement: Duration,
    ) -> Result<()> {
        self.pg_only("a node's session settings")?;
        let settings = format!(
            "SET idle_in_transaction_session_timeout = {}; SET lock_timeout = {}; \
             SET statement_timeout = {}",
            millis(idle),
            millis(lock_wait),
            millis(statement)
        );
        let crate::db::Db::Pg(conn) = &self.conn else {
            unreachable!("checked by pg_only");
        };
        conn.borrow_mut().client.add_setup(&settings)?;
        Ok(())
    }

    /// From now on every batch commit checks that this node holds each tenant it writes under
    /// the epoch given here (`fence_tenant`); a tenant without one is refused.
    pub fn fence_as(&mut self, node: &str) -> Result<()> {
        self.pg_only("fencing")?;
        self.fencing = Some(Fencing {
            node: node.to_string(),
            epochs: HashMap::new(),
        });
        Ok(())
    }

    /// The epoch under which this node now holds `tenant` (`None`: it no longer does).
    pub fn fence_tenant(&mut self, tenant: &str, epoch: Option<u64>) {
        if let Some(fencing) = &mut self.fencing {
            match epoch {
                Some(epoch) => fencing.epochs.insert(tenant.to_string(), epoch),
                None => fencing.epochs.remove(tenant),
            };
        }
    }
}

/// A lease read as `tenant, owner, epoch, milliseconds left`.
fn lease_row(row: &crate::db::Row<'_>) -> rusqlite::Result<LeaseRow> {
    Ok(LeaseRow {
        tenant: row.get(0)?,
        owner: row.get(1)?,
        epoch: row.get(2)?,
        remaining_ms: row.get(3)?,
    })
}

fn no_row<T>(e: StoreError) -> Result<Option<T>> {
    match e {
        StoreError::Sqlite(rusqlite::Error::QueryReturnedNoRows) => Ok(None),
        e => Err(e),
    }
}

/// Inside a batch's transaction: `tenant` is still this node's under the epoch it holds, and
/// stays so until the commit (the row is held `FOR KEY SHARE`: a takeover, which changes the
/// epoch, a key column, waits for the commit; a renewal does not).
pub(crate) fn check(db: &crate::db::Db, fencing: &Fencing, tenant: &str) -> Result<()> {
    let fenced = || StoreError::Fenced {
        tenant: tenant.to_string(),
    };
    let epoch = *fencing.epochs.get(tenant).ok_or_else(fenced)?;
    let held: Option<i64> = db
        .query_row(
            "SELECT epoch FROM tenant_leases WHERE tenant = ?1 AND owner = ?2 AND epoch = ?3
             FOR KEY SHARE",
            rusqlite::params![tenant, fencing.node, epoch as i64],
            |row| row.get(0),
        )
        .map(Some)
        .or_else(no_row)?;
    held.map(|_| ()).ok_or_else(fenced)
}
