//! Webhooks on disk (C15): the endpoints a tenant registered, how far each has got through the
//! tenant's outbox, and the log of delivery attempts. The outbox itself is the `events` table.

use crate::codec::{Cells, corrupt, opt_ts, parse_payload, ts};
use crate::db::Db;
use crate::{Result, StoreError};
use jiff::Timestamp;
use rusqlite::params;

/// A tenant's webhook endpoint.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookEndpoint {
    pub id: String,
    pub tenant: String,
    pub url: String,
    /// The key deliveries are signed with. `Debug` does not show it.
    pub secret: String,
    pub created_at: Timestamp,
    pub disabled_at: Option<Timestamp>,
    /// The last event `seq` of the tenant that is done for this endpoint (delivered or given
    /// up): the next delivery is of the first event after it.
    pub delivered_through: u64,
}

impl std::fmt::Debug for WebhookEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookEndpoint")
            .field("id", &self.id)
            .field("tenant", &self.tenant)
            .field("url", &self.url)
            .field("secret", &"<redacted>")
            .field("created_at", &self.created_at)
            .field("disabled_at", &self.disabled_at)
            .field("delivered_through", &self.delivered_through)
            .finish()
    }
}

/// One event of a tenant's outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// Per-tenant sequence, from 1, without gaps.
    pub seq: u64,
    /// The stable event type, such as `wallet.low_balance`.
    pub kind: String,
    pub at: Timestamp,
    /// The event's other fields in their stored order, values as text (decimals exact, instants
    /// RFC 3339 UTC), such as `[("threshold", "20"), ("balance", "19.50")]`.
    pub fields: Vec<(String, String)>,
}

/// One attempt to deliver one event to one endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub endpoint: String,
    pub event_seq: u64,
    pub attempt: u32,
    pub at: Timestamp,
    /// `delivered`, `failed` (to be retried) or `gave_up`.
    pub outcome: String,
    /// The endpoint's HTTP status, when it answered.
    pub http_status: Option<u16>,
    /// What went wrong, when something did.
    pub error: Option<String>,
}

fn int(value: u64) -> Result<i64> {
    Ok(i64::try_from(value).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?)
}

/// SQLite's `LIMIT` takes an i64; a larger limit is no limit.
fn limit(value: usize) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Inserts the endpoint with `delivered_through` at the tenant's last event (see
/// `Store::insert_endpoint`).
pub(crate) fn insert_endpoint(conn: &Db, e: &WebhookEndpoint) -> Result<()> {
    conn.execute(
        "INSERT INTO webhook_endpoints (id, tenant, url, secret, created_at, disabled_at, delivered_through)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6,
             (SELECT COALESCE(MAX(seq), 0) FROM events WHERE tenant = ?2))",
        params![
            e.id,
            e.tenant,
            e.url,
            e.secret,
            ts(e.created_at),
            opt_ts(e.disabled_at),
        ],
    )?;
    Ok(())
}

pub(crate) fn endpoints(conn: &Db, tenant: Option<&str>) -> Result<Vec<WebhookEndpoint>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, tenant, url, secret, created_at, disabled_at, delivered_through
         FROM webhook_endpoints WHERE CAST(?1 AS TEXT) IS NULL OR tenant = ?1 ORDER BY created_at, id",
    )?;
    let mut rows = stmt.query([tenant])?;
    let mut found = Vec::new();
    while let Some(row) = rows.next()? {
        let c = Cells {
            row: &row,
            table: "webhook_endpoints",
        };
        found.push(WebhookEndpoint {
            id: c.text("id")?,
            tenant: c.text("tenant")?,
            url: c.text("url")?,
            secret: c.text("secret")?,
            created_at: c.ts("created_at")?,
            disabled_at: c.opt_ts("disabled_at")?,
            delivered_through: c.u64("delivered_through")?,
        });
    }
    Ok(found)
}

/// True when the endpoint was enabled and is now disabled.
pub(crate) fn disable_endpoint(conn: &Db, id: &str, at: Timestamp) -> Result<bool> {
    let changed = conn.execute(
        "UPDATE webhook_endpoints SET disabled_at = ?2 WHERE id = ?1 AND disabled_at IS NULL",
        params![id, ts(at)],
    )?;
    Ok(changed == 1)
}

/// Up to `limit` events of the tenant after `after_seq`, by `seq`.
pub(crate) fn events_after(
    conn: &Db,
    tenant: &str,
    after_seq: u64,
    limit_to: usize,
) -> Result<Vec<StoredEvent>> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, kind, at, payload FROM events
         WHERE tenant = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
    )?;
    let rows = stmt.query(params![tenant, int(after_seq)?, limit(limit_to)])?;
    read_events(rows)
}

/// Up to `limit_to` events of the tenant after `after_seq` of these kinds (1 to 8 of them),
/// oldest first. Each kind's first `limit_to` come from the index on (tenant, kind, seq) in
/// order, so a page reads at most kinds x `limit_to` rows, never the tenant's other events nor
/// the rest of these.
pub(crate) fn events_of_kinds(
    conn: &Db,
    tenant: &str,
    kinds: &[&str],
    after_seq: u64,
    limit_to: usize,
) -> Result<Vec<StoredEvent>> {
    assert!(
        (1..=8).contains(&kinds.len()),
        "between one and eight kinds"
    );
    let parts: Vec<String> = (0..kinds.len())
        .map(|i| {
            format!(
                "SELECT * FROM (SELECT seq, kind, at, payload FROM events
                 WHERE tenant = ?1 AND kind = ?{} AND seq > ?2 ORDER BY seq LIMIT ?3) AS k{i}",
                i + 4
            )
        })
        .collect();
    let sql = format!(
        "SELECT seq, kind, at, payload FROM ({}) AS u ORDER BY seq LIMIT ?3",
        parts.join(" UNION ALL ")
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut args: Vec<rusqlite::types::Value> = vec![
        tenant.to_string().into(),
        int(after_seq)?.into(),
        limit(limit_to).into(),
    ];
    args.extend(kinds.iter().map(|k| k.to_string().into()));
    let rows = stmt.query(args)?;
    read_events(rows)
}

fn read_events(mut rows: crate::db::Rows<'_>) -> Result<Vec<StoredEvent>> {
    let mut events = Vec::new();
    while let Some(row) = rows.next()? {
        let c = Cells {
            row: &row,
            table: "events",
        };
        events.push(StoredEvent {
            seq: c.u64("seq")?,
            kind: c.text("kind")?,
            at: c.ts("at")?,
            fields: c.parse("payload", parse_payload)?,
        });
    }
    Ok(events)
}

/// Logs the attempt and, with `done_through`, moves the endpoint's `delivered_through` forward
/// to it (never back).
pub(crate) fn record_delivery(conn: &Db, d: &Delivery, done_through: Option<u64>) -> Result<()> {
    conn.execute(
        "INSERT INTO webhook_deliveries (endpoint, event_seq, attempt, at, outcome, http_status, error)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            d.endpoint,
            int(d.event_seq)?,
            d.attempt,
            ts(d.at),
            d.outcome,
            d.http_status,
            d.error,
        ],
    )?;
    if let Some(through) = done_through {
        let changed = conn.execute(
            "UPDATE webhook_endpoints SET delivered_through =
                 CASE WHEN delivered_through > ?2 THEN delivered_through ELSE ?2 END
             WHERE id = ?1",
            params![d.endpoint, int(through)?],
        )?;
        if changed != 1 {
            // The delivery's foreign key already makes this impossible short of a bug.
            return Err(StoreError::Corrupt(format!(
                "webhook endpoint {:?} vanished while recording a delivery",
                d.endpoint
            )));
        }
    }
    Ok(())
}

/// Up to `limit` attempts logged for the endpoint, newest first.
pub(crate) fn deliveries(conn: &Db, endpoint: &str, limit_to: usize) -> Result<Vec<Delivery>> {
    let mut stmt = conn.prepare_cached(
        "SELECT endpoint, event_seq, attempt, at, outcome, http_status, error
         FROM webhook_deliveries WHERE endpoint = ?1
         ORDER BY at DESC, event_seq DESC, attempt DESC LIMIT ?2",
    )?;
    let mut rows = stmt.query(params![endpoint, limit(limit_to)])?;
    let mut found = Vec::new();
    while let Some(row) = rows.next()? {
        let c = Cells {
            row: &row,
            table: "webhook_deliveries",
        };
        let http_status = c
            .opt_u64("http_status")?
            .map(|s| u16::try_from(s).map_err(|_| corrupt("webhook_deliveries", "http_status", s)))
            .transpose()?;
        found.push(Delivery {
            endpoint: c.text("endpoint")?,
            event_seq: c.u64("event_seq")?,
            attempt: c.u32("attempt")?,
            at: c.ts("at")?,
            outcome: c.text("outcome")?,
            http_status,
            error: c.opt_text("error")?,
        });
    }
    Ok(found)
}
