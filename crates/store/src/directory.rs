//! A tenant's directory on disk: the tenant row, purchases, wallet settings, users with their
//! licenses and policies, and service numbers. Written whole on every save (the directory is
//! small next to the journal), read back through the core's `Tenant::restore_*`.

use crate::codec::{Cells, dec, opt_dec, ts};
use crate::db::Db;
use crate::{Result, StoreError};
use minutely_core::directory::{
    Agreement, AutoRecharge, NumberKind, Policy, ServiceNumber, Sku, Tenant, TenantSpec, Upn, User,
    WalletSettings,
};
use minutely_core::money::Currency;
use minutely_core::numbers::{Country, E164};
use rusqlite::params;
use std::collections::BTreeSet;

/// Writes the tenant and replaces its directory rows. The tenant row is upserted, never
/// deleted and re-inserted, since the journal and calls reference it.
pub(crate) fn write(conn: &Db, tenant: &Tenant) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO tenants (id, name, country, currency, timezone, agreement, default_policy)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, country = excluded.country,
             currency = excluded.currency, timezone = excluded.timezone,
             agreement = excluded.agreement, default_policy = excluded.default_policy",
    )?
    .execute(params![
        tenant.id,
        tenant.name,
        tenant.country.as_str(),
        tenant.currency.code(),
        tenant.timezone_name,
        tenant.agreement.as_str(),
        tenant.default_policy.name,
    ])?;
    // `users` cascades to `user_licenses`.
    for delete in [
        "DELETE FROM purchases WHERE tenant = ?1",
        "DELETE FROM wallet_settings WHERE tenant = ?1",
        "DELETE FROM users WHERE tenant = ?1",
        "DELETE FROM service_numbers WHERE tenant = ?1",
    ] {
        conn.prepare_cached(delete)?.execute([&tenant.id])?;
    }
    write_purchases(conn, tenant)?;
    write_wallet_settings(conn, tenant)?;
    write_users(conn, tenant)?;
    write_numbers(conn, tenant)
}

fn write_purchases(conn: &Db, tenant: &Tenant) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO purchases (tenant, sku, from_at, count) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (sku, from, count) in tenant.purchases().changes() {
        stmt.execute(params![tenant.id, sku.code(), ts(from), count])?;
    }
    Ok(())
}

fn write_wallet_settings(conn: &Db, tenant: &Tenant) -> Result<()> {
    let Some(settings) = tenant.wallet() else {
        return Ok(());
    };
    let recharge = settings.auto_recharge;
    let [low_1, low_2] = settings.low_balance_thresholds;
    conn.prepare_cached(
        "INSERT INTO wallet_settings (tenant, recharge_enabled, recharge_trigger, recharge_amount,
             recharge_payment_accepted, low_balance_1, low_balance_2)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        tenant.id,
        recharge.map(|r| r.enabled),
        recharge.map(|r| dec(r.trigger)),
        recharge.map(|r| dec(r.amount)),
        recharge.map(|r| r.payment_accepted),
        opt_dec(low_1),
        opt_dec(low_2),
    ])?;
    Ok(())
}

fn write_users(conn: &Db, tenant: &Tenant) -> Result<()> {
    let mut user_stmt = conn.prepare_cached(
        "INSERT INTO users (tenant, upn_key, upn_display, object_id, display_name, usage_location, policy, toll_free_dial_in)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    let mut license_stmt = conn
        .prepare_cached("INSERT INTO user_licenses (tenant, upn_key, sku) VALUES (?1, ?2, ?3)")?;
    for user in tenant.users() {
        user_stmt.execute(params![
            tenant.id,
            user.upn.key,
            user.upn.display,
            user.object_id,
            user.display_name,
            user.usage_location.as_str(),
            user.policy.map(|p| p.name),
            user.toll_free_dial_in,
        ])?;
        for sku in &user.licenses {
            license_stmt.execute(params![tenant.id, user.upn.key, sku.code()])?;
        }
    }
    Ok(())
}

fn write_numbers(conn: &Db, tenant: &Tenant) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO service_numbers (tenant, number, kind, shared, country, bridge_default)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for n in tenant.numbers() {
        stmt.execute(params![
            tenant.id,
            n.number.to_string(),
            n.kind.as_str(),
            n.shared,
            n.country.as_str(),
            n.bridge_default
        ])?;
    }
    Ok(())
}

pub(crate) fn tenant_ids(conn: &Db) -> Result<Vec<String>> {
    let mut stmt = conn.prepare("SELECT id FROM tenants ORDER BY id")?;
    let ids = stmt
        .query_map((), |row| row.get(0))?
        .collect::<Result<Vec<String>>>()?;
    Ok(ids)
}

/// Up to `limit` tenants after `after` (by id), each its row alone (no users, numbers or
/// purchases): a listing's page.
pub(crate) fn tenant_rows(conn: &Db, after: Option<&str>, limit: usize) -> Result<Vec<Tenant>> {
    let mut stmt = conn.prepare(
        "SELECT id FROM tenants WHERE CAST(?1 AS TEXT) IS NULL OR id > ?1 ORDER BY id LIMIT ?2",
    )?;
    let ids = stmt
        .query_map(rusqlite::params![after, limit as i64], |row| row.get(0))?
        .collect::<Result<Vec<String>>>()?;
    let mut tenants = Vec::with_capacity(ids.len());
    for id in ids {
        tenants.extend(read_tenant_row(conn, &id)?);
    }
    Ok(tenants)
}

/// The tenant with its whole directory, or `None` when there is no such tenant.
pub(crate) fn read(conn: &Db, id: &str) -> Result<Option<Tenant>> {
    let Some(mut tenant) = read_tenant_row(conn, id)? else {
        return Ok(None);
    };
    read_purchases(conn, &mut tenant)?;
    let settings = read_wallet_settings(conn, id)?;
    tenant.restore_wallet(settings);
    read_users(conn, &mut tenant)?;
    read_numbers(conn, &mut tenant)?;
    Ok(Some(tenant))
}

pub(crate) fn read_tenant_row(conn: &Db, id: &str) -> Result<Option<Tenant>> {
    let mut stmt = conn.prepare(
        "SELECT id, name, country, currency, timezone, agreement, default_policy FROM tenants WHERE id = ?1",
    )?;
    let mut rows = stmt.query([id])?;
    let Some(row) = rows.next()? else {
        return Ok(None);
    };
    let c = Cells {
        row: &row,
        table: "tenants",
    };
    let spec = TenantSpec {
        id: c.text("id")?,
        name: c.text("name")?,
        country: c.parse("country", |t| Country::parse(t).ok())?,
        currency: c.parse("currency", |t| Currency::parse(t).ok())?,
        timezone: c.text("timezone")?,
        agreement: c.parse("agreement", Agreement::parse)?,
    };
    let policy = c.parse("default_policy", |t| Policy::parse(t).ok())?;
    let id = spec.id.clone();
    let mut tenant =
        Tenant::new(spec).map_err(|e| StoreError::Corrupt(format!("tenants row {id:?}: {e}")))?;
    tenant.set_default_policy(policy);
    Ok(Some(tenant))
}

fn read_purchases(conn: &Db, tenant: &mut Tenant) -> Result<()> {
    let mut stmt = conn.prepare("SELECT sku, from_at, count FROM purchases WHERE tenant = ?1")?;
    let mut rows = stmt.query([&tenant.id])?;
    while let Some(row) = rows.next()? {
        let c = Cells {
            row: &row,
            table: "purchases",
        };
        tenant.restore_purchase(
            c.parse("sku", Sku::parse)?,
            c.ts("from_at")?,
            c.u32("count")?,
        );
    }
    Ok(())
}

fn read_wallet_settings(conn: &Db, tenant: &str) -> Result<Option<WalletSettings>> {
    let mut stmt = conn.prepare(
        "SELECT recharge_enabled, recharge_trigger, recharge_amount, recharge_payment_accepted,
             low_balance_1, low_balance_2
         FROM wallet_settings WHERE tenant = ?1",
    )?;
    let mut rows = stmt.query([tenant])?;
    let Some(row) = rows.next()? else {
        return Ok(None);
    };
    let c = Cells {
        row: &row,
        table: "wallet_settings",
    };
    // The schema's CHECK keeps the recharge columns all NULL or all set.
    let auto_recharge = match c.opt_flag("recharge_enabled")? {
        None => None,
        Some(enabled) => Some(AutoRecharge {
            enabled,
            trigger: c.dec("recharge_trigger")?,
            amount: c.dec("recharge_amount")?,
            payment_accepted: c.flag("recharge_payment_accepted")?,
        }),
    };
    Ok(Some(WalletSettings {
        auto_recharge,
        low_balance_thresholds: [c.opt_dec("low_balance_1")?, c.opt_dec("low_balance_2")?],
    }))
}

fn read_users(conn: &Db, tenant: &mut Tenant) -> Result<()> {
    let mut stmt = conn.prepare(
        "SELECT upn_key, upn_display, object_id, display_name, usage_location, policy, toll_free_dial_in
         FROM users WHERE tenant = ?1 ORDER BY upn_key",
    )?;
    let mut rows = stmt.query([&tenant.id])?;
    while let Some(row) = rows.next()? {
        let c = Cells {
            row: &row,
            table: "users",
        };
        let upn = Upn {
            display: c.text("upn_display")?,
            key: c.text("upn_key")?,
        };
        let licenses = read_licenses(conn, &tenant.id, &upn.key)?;
        tenant.restore_user(User {
            object_id: c.text("object_id")?,
            display_name: c.text("display_name")?,
            usage_location: c.parse("usage_location", |t| Country::parse(t).ok())?,
            licenses,
            policy: c.opt_parse("policy", |t| Policy::parse(t).ok())?,
            toll_free_dial_in: c.flag("toll_free_dial_in")?,
            upn,
        });
    }
    Ok(())
}

fn read_licenses(conn: &Db, tenant: &str, upn_key: &str) -> Result<BTreeSet<Sku>> {
    let mut stmt =
        conn.prepare_cached("SELECT sku FROM user_licenses WHERE tenant = ?1 AND upn_key = ?2")?;
    let mut rows = stmt.query([tenant, upn_key])?;
    let mut licenses = BTreeSet::new();
    while let Some(row) = rows.next()? {
        licenses.insert(
            Cells {
                row: &row,
                table: "user_licenses",
            }
            .parse("sku", Sku::parse)?,
        );
    }
    Ok(licenses)
}

fn read_numbers(conn: &Db, tenant: &mut Tenant) -> Result<()> {
    let mut stmt = conn.prepare(
        "SELECT number, kind, shared, country, bridge_default FROM service_numbers WHERE tenant = ?1",
    )?;
    let mut rows = stmt.query([&tenant.id])?;
    while let Some(row) = rows.next()? {
        let c = Cells {
            row: &row,
            table: "service_numbers",
        };
        tenant.restore_number(ServiceNumber {
            number: c.parse("number", E164::parse)?,
            kind: c.parse("kind", NumberKind::parse)?,
            shared: c.flag("shared")?,
            country: c.parse("country", |t| Country::parse(t).ok())?,
            bridge_default: c.flag("bridge_default")?,
        });
    }
    Ok(())
}

/// The most tenants one number's look-up returns: a dedicated number has one owner, and a
/// shared one is only ever told apart from a dedicated one.
const MAX_NUMBER_OWNERS: usize = 8;

/// The tenants holding the service number `number` (E.164, normalised as stored), with the
/// number as each holds it, by tenant id; at most `MAX_NUMBER_OWNERS` of them. An index look-up
/// (`service_numbers_by_number`), whatever the count of tenants.
pub(crate) fn number_owners(conn: &Db, number: &E164) -> Result<Vec<(String, ServiceNumber)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT tenant, number, kind, shared, country, bridge_default FROM service_numbers
         WHERE number = ?1 ORDER BY tenant LIMIT ?2",
    )?;
    let mut rows = stmt.query(params![number.to_string(), MAX_NUMBER_OWNERS as i64])?;
    let mut owners = Vec::new();
    while let Some(row) = rows.next()? {
        let c = Cells {
            row: &row,
            table: "service_numbers",
        };
        owners.push((
            c.text("tenant")?,
            ServiceNumber {
                number: c.parse("number", E164::parse)?,
                kind: c.parse("kind", NumberKind::parse)?,
                shared: c.flag("shared")?,
                country: c.parse("country", |t| Country::parse(t).ok())?,
                bridge_default: c.flag("bridge_default")?,
            },
        ));
    }
    Ok(owners)
}
