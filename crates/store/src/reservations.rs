//! Live calls on disk (C25 to C27): the reservation each authorized call holds until it ends or
//! its hold lapses, so that a restarted server still knows what is held and what is owed.

use crate::codec::{Cells, dec, opt_ts, ts};
use crate::db::Db;
use crate::{Result, StoreError};
use minutely_core::control::Reservation;
use minutely_core::engine::Funding;
use minutely_core::rating::{CallRecord, Direction};
use minutely_core::reservations::Reservations;
use rusqlite::params;

/// Inserts the reservations, or replaces the stored ones with the same call id. A reservation
/// whose record has an `end` other than its `start` is refused (only `start` is stored).
pub(crate) fn put(conn: &Db, tenant: &str, reservations: &[Reservation]) -> Result<()> {
    if reservations.is_empty() {
        return Ok(());
    }
    let mut stmt = conn.prepare_cached(
        "INSERT INTO reservations (tenant, call_id, conference_id, organizer, direction,
             service_number, caller_number, destination_number, start_at, granted_s, credit,
             pool_minutes, expires_at, live, funding, authorized_at, last_window)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)
         ON CONFLICT (tenant, call_id) DO UPDATE SET conference_id = excluded.conference_id,
             organizer = excluded.organizer, direction = excluded.direction,
             service_number = excluded.service_number, caller_number = excluded.caller_number,
             destination_number = excluded.destination_number, start_at = excluded.start_at,
             granted_s = excluded.granted_s, credit = excluded.credit,
             pool_minutes = excluded.pool_minutes, expires_at = excluded.expires_at,
             live = excluded.live, funding = excluded.funding,
             authorized_at = excluded.authorized_at, last_window = excluded.last_window",
    )?;
    for r in reservations {
        let call = &r.call;
        if call.end != call.start {
            return Err(StoreError::Invariant {
                tenant: tenant.to_string(),
                detail: format!(
                    "the reservation of call {} ends at {} but starts at {}; a reservation's record ends at its start",
                    call.call_id, call.end, call.start
                ),
            });
        }
        let granted_s = r
            .granted_s
            .map(|s| {
                i64::try_from(s).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
            })
            .transpose()?;
        stmt.execute(params![
            tenant,
            call.call_id,
            call.conference_id,
            call.organizer,
            call.direction.as_str(),
            call.service_number,
            call.caller_number,
            call.destination_number,
            ts(call.start),
            granted_s,
            dec(r.credit),
            r.pool_minutes,
            ts(r.expires_at),
            r.live,
            r.funding.as_str(),
            opt_ts(r.authorized_at),
            r.last_window,
        ])?;
    }
    Ok(())
}

/// Deletes the reservations of these call ids; ids not stored are ignored.
pub(crate) fn delete(conn: &Db, tenant: &str, call_ids: &[String]) -> Result<()> {
    if call_ids.is_empty() {
        return Ok(());
    }
    let mut stmt =
        conn.prepare_cached("DELETE FROM reservations WHERE tenant = ?1 AND call_id = ?2")?;
    for id in call_ids {
        stmt.execute([tenant, id])?;
    }
    Ok(())
}

/// The tenant's reservations by call id.
pub(crate) fn read(conn: &Db, tenant: &str) -> Result<Reservations> {
    let mut stmt = conn.prepare_cached(
        "SELECT call_id, conference_id, organizer, direction, service_number, caller_number,
             destination_number, start_at, granted_s, credit, pool_minutes, expires_at, live,
             funding, authorized_at, last_window
         FROM reservations WHERE tenant = ?1",
    )?;
    let mut rows = stmt.query([tenant])?;
    let mut found = Reservations::new();
    while let Some(row) = rows.next()? {
        let c = Cells {
            row: &row,
            table: "reservations",
        };
        let start = c.ts("start_at")?;
        let call = CallRecord {
            call_id: c.text("call_id")?,
            conference_id: c.text("conference_id")?,
            organizer: c.text("organizer")?,
            direction: c.parse("direction", Direction::parse)?,
            service_number: c.text("service_number")?,
            caller_number: c.text("caller_number")?,
            destination_number: c.text("destination_number")?,
            start,
            end: start,
        };
        let reservation = Reservation {
            granted_s: c.opt_u64("granted_s")?,
            credit: c.dec("credit")?,
            pool_minutes: c.u32("pool_minutes")?,
            expires_at: c.ts("expires_at")?,
            live: c.flag("live")?,
            funding: c.parse("funding", Funding::parse)?,
            // NULL in rows written before answers were kept: not answered.
            authorized_at: c.opt_ts("authorized_at")?,
            last_window: c.flag("last_window")?,
            call,
        };
        found.insert(&reservation);
    }
    Ok(found)
}
