//! The audit log: one row per administrative change (who, what, when, the object before and
//! after). Rows are appended in the transaction of the change they describe, so a change that
//! commits has its row and a change that rolls back leaves none. Rows are never changed or
//! deleted; `seq` orders them and is the paging cursor.
//!
//! What goes into `before` and `after` is chosen by the caller, as JSON text; the schema checks
//! that it is JSON. Callers put ids, kinds and labels there, never a secret.

use crate::codec::{Cells, ts};
use crate::db::Db;
use crate::{Result, StoreError};
use jiff::Timestamp;
use rusqlite::params;

/// Who made a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActorKind {
    /// An operator key, through the API.
    Operator,
    /// A tenant admin key, through the API.
    TenantAdmin,
    /// A bridge key, through the API.
    Bridge,
    /// An edge key (the SIP proxy's: call control for every tenant), through the API.
    Edge,
    /// The command line, on the store directly (whoever may open the file).
    Cli,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::Operator => "operator",
            ActorKind::TenantAdmin => "tenant_admin",
            ActorKind::Bridge => "bridge",
            ActorKind::Edge => "edge",
            ActorKind::Cli => "cli",
        }
    }

    pub fn parse(text: &str) -> Option<ActorKind> {
        [
            ActorKind::Operator,
            ActorKind::TenantAdmin,
            ActorKind::Bridge,
            ActorKind::Edge,
            ActorKind::Cli,
        ]
        .into_iter()
        .find(|k| k.as_str() == text)
    }
}

/// One administrative change, as appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub at: Timestamp,
    pub actor_kind: ActorKind,
    /// The id of the key that made the change; `None` exactly for the command line (the schema
    /// refuses any other combination).
    pub actor_key_id: Option<String>,
    /// The tenant changed; `None` for an operator-wide change (the catalogue, the settings, an
    /// operator key).
    pub tenant: Option<String>,
    /// A stable dotted name such as `user.put` or `key.revoke`.
    pub action: String,
    /// The id of what was acted on (a UPN, a key id, a currency...).
    pub object: String,
    /// The object before the change, as JSON text; `None` when it did not exist.
    pub before: Option<String>,
    /// The object after the change, as JSON text; `None` when it no longer exists.
    pub after: Option<String>,
    /// The request that made the change (`x-request-id`), when made through the API.
    pub request_id: Option<String>,
}

/// An audit row as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// The row's place in the log: increasing in commit order, never reused.
    pub seq: u64,
    pub entry: AuditEntry,
}

pub(crate) fn append(conn: &Db, entries: &[AuditEntry]) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO audit (at, actor_kind, actor_key_id, tenant, action, object, before_json,
                            after_json, request_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    for e in entries {
        stmt.execute(params![
            ts(e.at),
            e.actor_kind.as_str(),
            e.actor_key_id,
            e.tenant,
            e.action,
            e.object,
            e.before,
            e.after,
            e.request_id,
        ])?;
    }
    Ok(())
}

/// Up to `limit` rows after `after_seq`, oldest first: every row with `tenant: None`, the
/// tenant's rows only otherwise.
pub(crate) fn page(
    conn: &Db,
    tenant: Option<&str>,
    after_seq: u64,
    limit: usize,
) -> Result<Vec<AuditRecord>> {
    let after = i64::try_from(after_seq).unwrap_or(i64::MAX);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let columns = "seq, at, actor_kind, actor_key_id, tenant, action, object, before_json, \
                   after_json, request_id";
    let mut stmt;
    let mut rows = match tenant {
        None => {
            stmt = conn.prepare_cached(&format!(
                "SELECT {columns} FROM audit WHERE seq > ?1 ORDER BY seq LIMIT ?2"
            ))?;
            stmt.query(params![after, limit])?
        }
        Some(t) => {
            stmt = conn.prepare_cached(&format!(
                "SELECT {columns} FROM audit WHERE tenant = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3"
            ))?;
            stmt.query(params![t, after, limit])?
        }
    };
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(read_row(&Cells {
            row: &row,
            table: "audit",
        })?);
    }
    Ok(out)
}

fn read_row(c: &Cells<'_, '_>) -> Result<AuditRecord> {
    let kind = c.text("actor_kind")?;
    let actor_kind = ActorKind::parse(&kind)
        .ok_or_else(|| StoreError::Corrupt(format!("audit.actor_kind {kind:?} is unknown")))?;
    Ok(AuditRecord {
        seq: c.u64("seq")?,
        entry: AuditEntry {
            at: c.ts("at")?,
            actor_kind,
            actor_key_id: c.opt_text("actor_key_id")?,
            tenant: c.opt_text("tenant")?,
            action: c.text("action")?,
            object: c.text("object")?,
            before: c.opt_text("before_json")?,
            after: c.opt_text("after_json")?,
            request_id: c.opt_text("request_id")?,
        },
    })
}
