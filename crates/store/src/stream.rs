//! The event stream's cursors on disk: for each subject prefix and tenant, the last outbox event
//! (the `events` table's `seq`) that NATS JetStream acknowledged. The publisher resumes after it.

use crate::Result;
use crate::codec::{Cells, ts};
use crate::db::Db;
use jiff::Timestamp;
use rusqlite::params;

/// One tenant's place in the stream: its last event and the last one acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamPosition {
    /// The tenant's last event `seq` (0 without events).
    pub last_event: u64,
    /// The last event `seq` JetStream acknowledged under the prefix (0: none yet).
    pub published_through: u64,
}

fn int(value: u64) -> Result<i64> {
    Ok(i64::try_from(value).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?)
}

/// Every tenant with its last event and its cursor under `prefix`, by tenant id. Each tenant's
/// last event is found through the primary key, so this costs a look-up per tenant, not a scan
/// of the outbox.
pub(crate) fn positions(conn: &Db, prefix: &str) -> Result<Vec<(String, StreamPosition)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT t.id,
             (SELECT COALESCE(MAX(e.seq), 0) FROM events e WHERE e.tenant = t.id) AS last_event,
             COALESCE((SELECT c.published_through FROM stream_cursors c
                       WHERE c.prefix = ?1 AND c.tenant = t.id), 0) AS published_through
         FROM tenants t ORDER BY t.id",
    )?;
    let mut rows = stmt.query([prefix])?;
    let mut found = Vec::new();
    while let Some(row) = rows.next()? {
        let c = Cells {
            row: &row,
            table: "stream_cursors",
        };
        found.push((
            c.text("id")?,
            StreamPosition {
                last_event: c.u64("last_event")?,
                published_through: c.u64("published_through")?,
            },
        ));
    }
    Ok(found)
}

/// Moves each tenant's cursor under `prefix` forward to the `seq` given (never back).
pub(crate) fn advance(
    conn: &Db,
    prefix: &str,
    through: &[(String, u64)],
    at: Timestamp,
) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO stream_cursors (prefix, tenant, published_through, updated_at)
         VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (prefix, tenant) DO UPDATE SET
             published_through = CASE WHEN stream_cursors.published_through > excluded.published_through
                 THEN stream_cursors.published_through ELSE excluded.published_through END,
             updated_at = excluded.updated_at",
    )?;
    for (tenant, seq) in through {
        stmt.execute(params![prefix, tenant, int(*seq)?, ts(at)])?;
    }
    Ok(())
}
