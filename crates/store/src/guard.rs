//! The toll-fraud guard on disk (V9, V10): the operator's default mode, thresholds and
//! high-risk list (`guard_operator`, `guard_list`), and per tenant its settings and its counters
//! (`guard_tenants`). The counters are the core's image (`GuardState::to_bytes`), written in
//! the batch transaction of every commit that touched a tenant whose guard is on: a restart
//! resumes the very counters of the last commit.

use crate::codec::{Cells, corrupt, parse_payload, ts};
use crate::db::Db;
use crate::{Result, StoreError};
use jiff::Timestamp;
use minutely_core::guard::{
    BusinessHours, GuardLimits, GuardMode, GuardState, OperatorGuard, RiskAction, RiskEntry,
    RiskList, TenantGuard,
};
use rust_decimal::Decimal;

/// A tenant's settings as `key=value;...` (only what differs from the defaults).
pub(crate) fn settings_text(s: &TenantGuard) -> String {
    let mut parts = Vec::new();
    if let Some(mode) = s.mode {
        parts.push(format!("mode={}", mode.as_str()));
    }
    if s.premium_enabled {
        parts.push("premium=true".to_string());
    }
    if s.business != BusinessHours::default() {
        let b = s.business;
        parts.push(format!("hours={}-{}-{}", b.start_h, b.end_h, b.weekdays));
    }
    if !s.allow.is_empty() {
        let allow: Vec<String> = s
            .allow
            .iter()
            .map(|(p, until)| format!("{p}@{}", until.map(ts).unwrap_or_default()))
            .collect();
        parts.push(format!("allow={}", allow.join(",")));
    }
    if let Some(f) = s.floor_hour {
        parts.push(format!("floor_hour={f}"));
    }
    if let Some(f) = s.floor_day {
        parts.push(format!("floor_day={f}"));
    }
    if let Some((pct, until)) = s.raise {
        parts.push(format!("raise={pct}@{}", ts(until)));
    }
    parts.join(";")
}

fn parse_at(text: &str) -> Option<Option<Timestamp>> {
    if text.is_empty() {
        Some(None)
    } else {
        text.parse().ok().map(Some)
    }
}

fn parse_hours(text: &str) -> Option<BusinessHours> {
    let mut it = text.split('-').map(|p| p.parse::<u8>().ok());
    let b = BusinessHours {
        start_h: it.next()??,
        end_h: it.next()??,
        weekdays: it.next()??,
    };
    it.next().is_none().then_some(b)
}

/// The settings `settings_text` wrote, or `None`.
pub(crate) fn parse_settings(text: &str) -> Option<TenantGuard> {
    let mut s = TenantGuard::default();
    for (key, value) in parse_payload(text)? {
        match key.as_str() {
            "mode" => s.mode = Some(GuardMode::parse(&value)?),
            "premium" => s.premium_enabled = value == "true",
            "hours" => s.business = parse_hours(&value)?,
            "allow" => {
                for item in value.split(',') {
                    let (prefix, until) = item.split_once('@')?;
                    s.allow.push((prefix.to_string(), parse_at(until)?));
                }
            }
            "floor_hour" => s.floor_hour = Some(value.parse::<Decimal>().ok()?),
            "floor_day" => s.floor_day = Some(value.parse::<Decimal>().ok()?),
            "raise" => {
                let (pct, until) = value.split_once('@')?;
                s.raise = Some((pct.parse().ok()?, until.parse().ok()?));
            }
            _ => return None,
        }
    }
    Some(s)
}

/// The tenant's settings and counters (defaults and `None` without a row).
pub(crate) fn read_tenant(conn: &Db, tenant: &str) -> Result<(TenantGuard, Option<GuardState>)> {
    let mut stmt =
        conn.prepare_cached("SELECT settings, state FROM guard_tenants WHERE tenant = ?1")?;
    let mut rows = stmt.query([tenant])?;
    let Some(row) = rows.next()? else {
        return Ok((TenantGuard::default(), None));
    };
    let c = Cells {
        row: &row,
        table: "guard_tenants",
    };
    let settings = c.parse("settings", parse_settings)?;
    let bytes: Option<Vec<u8>> = row.get("state")?;
    let state =
        match bytes {
            None => None,
            Some(bytes) => Some(crate::guard_image::from_bytes(&bytes).ok_or_else(|| {
                corrupt("guard_tenants", "state", format!("{} bytes", bytes.len()))
            })?),
        };
    Ok((settings, state))
}

/// Writes the tenant's settings (its counters kept).
pub(crate) fn write_settings(conn: &Db, tenant: &str, s: &TenantGuard) -> Result<()> {
    conn.execute(
        "INSERT INTO guard_tenants (tenant, settings) VALUES (?1, ?2)
         ON CONFLICT (tenant) DO UPDATE SET settings = excluded.settings",
        rusqlite::params![tenant, settings_text(s)],
    )?;
    Ok(())
}

/// Writes the tenant's counters (its settings kept, or none yet).
pub(crate) fn write_state(conn: &Db, tenant: &str, state: &[u8]) -> Result<()> {
    conn.execute(
        "INSERT INTO guard_tenants (tenant, settings, state) VALUES (?1, '', ?2)
         ON CONFLICT (tenant) DO UPDATE SET state = excluded.state",
        rusqlite::params![tenant, state],
    )?;
    Ok(())
}

/// The thresholds as `name=value;...` (only those that differ from the defaults).
pub(crate) fn limits_text(limits: &GuardLimits) -> String {
    let parts: Vec<String> = limits
        .changed()
        .into_iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    parts.join(";")
}

/// The thresholds `limits_text` wrote, or `None`.
pub(crate) fn parse_limits(text: &str) -> Option<GuardLimits> {
    let pairs = parse_payload(text)?;
    GuardLimits::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))).ok()
}

/// The operator's part: default mode, thresholds and list (the defaults without a row).
pub(crate) fn read_operator(conn: &Db) -> Result<OperatorGuard> {
    let mut stmt = conn.prepare_cached(
        "SELECT default_mode, list_version, limits FROM guard_operator WHERE id = 1",
    )?;
    let mut rows = stmt.query(rusqlite::params![])?;
    let Some(row) = rows.next()? else {
        return Ok(OperatorGuard::default());
    };
    let c = Cells {
        row: &row,
        table: "guard_operator",
    };
    let default_mode = c.parse("default_mode", GuardMode::parse)?;
    let version = c.u32("list_version")?;
    let limits = c.parse("limits", parse_limits)?;
    drop(rows);
    let list = RiskList::new(version, read_list(conn)?)
        .map_err(|(i, e)| StoreError::Corrupt(format!("guard_list: entry {i}: {e}")))?;
    Ok(OperatorGuard {
        default_mode,
        limits,
        list,
    })
}

fn read_list(conn: &Db) -> Result<Vec<RiskEntry>> {
    let mut stmt = conn.prepare_cached(
        "SELECT prefix, action, category, source, expires, note FROM guard_list
         ORDER BY prefix, action",
    )?;
    let mut rows = stmt.query(rusqlite::params![])?;
    let mut entries = Vec::new();
    while let Some(row) = rows.next()? {
        let c = Cells {
            row: &row,
            table: "guard_list",
        };
        entries.push(RiskEntry {
            prefix: c.text("prefix")?,
            action: c.parse("action", RiskAction::parse)?,
            category: c.text("category")?,
            source: c.text("source")?,
            expires: c.opt_ts("expires")?,
            note: c.text("note")?,
        });
    }
    Ok(entries)
}

/// Writes the operator's default mode, and the thresholds and the list when given (the list
/// replaced whole).
pub(crate) fn write_operator(
    conn: &Db,
    default_mode: GuardMode,
    limits: Option<&GuardLimits>,
    list: Option<&RiskList>,
    at: Timestamp,
) -> Result<()> {
    conn.execute(
        "INSERT INTO guard_operator (id, default_mode, list_version, updated_at)
         VALUES (1, ?1, 0, ?2)
         ON CONFLICT (id) DO UPDATE SET default_mode = excluded.default_mode,
             updated_at = excluded.updated_at",
        rusqlite::params![default_mode.as_str(), ts(at)],
    )?;
    if let Some(limits) = limits {
        conn.execute(
            "UPDATE guard_operator SET limits = ?1 WHERE id = 1",
            [limits_text(limits)],
        )?;
    }
    let Some(list) = list else {
        return Ok(());
    };
    conn.execute(
        "UPDATE guard_operator SET list_version = ?1 WHERE id = 1",
        [i64::from(list.version)],
    )?;
    conn.execute("DELETE FROM guard_list", rusqlite::params![])?;
    let mut stmt = conn.prepare_cached(
        "INSERT INTO guard_list (prefix, action, category, source, expires, note)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for e in list.entries() {
        stmt.execute(rusqlite::params![
            e.prefix,
            e.action.as_str(),
            e.category,
            e.source,
            e.expires.map(ts),
            e.note
        ])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_read_back_as_written_and_the_defaults_are_empty() {
        assert_eq!(limits_text(&GuardLimits::default()), "");
        assert_eq!(parse_limits(""), Some(GuardLimits::default()));
        let limits = GuardLimits::from_pairs([
            ("strikes", "5"),
            ("seat_day", "12.5"),
            ("new_country_rule", "false"),
        ])
        .unwrap();
        let text = limits_text(&limits);
        assert_eq!(text, "strikes=5;seat_day=12.5;new_country_rule=false");
        assert_eq!(parse_limits(&text), Some(limits));
        assert_eq!(parse_limits("strikes=0"), None);
        assert_eq!(parse_limits("volume=11"), None);
    }

    #[test]
    fn settings_read_back_as_written() {
        let at: Timestamp = "2027-01-01T00:00:00Z".parse().unwrap();
        let s = TenantGuard {
            mode: Some(GuardMode::Enforce),
            premium_enabled: true,
            business: BusinessHours {
                start_h: 8,
                end_h: 18,
                weekdays: 0b011_1111,
            },
            allow: vec![("4470".into(), Some(at)), ("881".into(), None)],
            floor_hour: Some("12.5".parse().unwrap()),
            floor_day: None,
            raise: Some((300, at)),
        };
        assert_eq!(parse_settings(&settings_text(&s)), Some(s));
        assert_eq!(parse_settings(""), Some(TenantGuard::default()));
        assert_eq!(parse_settings("mode=loud"), None);
        assert_eq!(parse_settings("colour=red"), None);
    }
}
