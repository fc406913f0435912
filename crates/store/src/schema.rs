//! The schema and its versioned migrations (`PRAGMA user_version` counts those applied).
//!
//! Money and rates are TEXT decimals, instants RFC 3339 TEXT (see `codec`), fingerprints 16-byte
//! BLOBs. Tables are STRICT so that nothing (a REAL in particular) can slip in with another type.

use crate::db::Db;
use crate::{Result, StoreError};
use rusqlite::Connection;
use std::time::Duration;

/// Migrations in order: migration `i` takes the schema from version `i` to `i + 1`. Never edit
/// one that has shipped; append a new one.
pub(crate) const MIGRATIONS: &[&str] = &[V1, V2, V3, V4, V5, V6, V7, V8, V9, V10];

/// The schema version this program writes.
pub(crate) fn known_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// How long a writer waits for another process's transaction before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Prepared statements kept per connection: a batch commit cycles through a few dozen distinct
/// ones (rusqlite keeps 16 by default, which would re-prepare them for every tenant).
const STATEMENT_CACHE: usize = 64;

/// The read-write connection's page cache, in KiB (SQLite's negative `cache_size`). The
/// default 2 MiB holds the b-tree pages of a few hundred tenants: past that, every batch reads
/// the pages of the tenants it touches back from the file. Pages are cached only once read, so
/// a small store never grows to it.
const WRITER_CACHE_KIB: i64 = 16 * 1024;

/// The durability settings: WAL so readers never block the writer, `synchronous=FULL` so a
/// commit survives power loss (C24 must hold after any crash), foreign keys enforced.
pub(crate) fn configure(conn: &Connection) -> Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    // SQLite answers with the mode it kept: a file system without shared memory keeps the
    // rollback journal, which is just as durable, so that is not an error.
    let _mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)?;
    Ok(())
}

/// A reader's settings and checks: the busy timeout (a reader waits while a checkpoint or a
/// recovery holds the file) and a schema version that is exactly the one this program knows. A
/// reader cannot migrate, so an older file is refused as well as a newer one.
pub(crate) fn configure_read_only(conn: &Connection) -> Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    let found: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    let known = known_version();
    if found > known {
        return Err(StoreError::TooNew { found, known });
    }
    if found < known {
        return Err(StoreError::NotMigrated { found, known });
    }
    Ok(())
}

/// Applies the missing migrations in one transaction; a new file (version 0) is also seeded by
/// `seed` in that transaction, so no crash can leave a migrated but unseeded file.
pub(crate) fn migrate(db: &Db, seed: impl FnOnce(&Db) -> Result<()>) -> Result<()> {
    let conn = db.lite().expect("a SQLite store");
    // IMMEDIATE: two processes opening a new file at once must not both run the migrations.
    let tx = db.begin_write()?;
    let found: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    let known = known_version();
    if found > known {
        return Err(StoreError::TooNew { found, known });
    }
    if found == known {
        return Ok(());
    }
    for migration in &MIGRATIONS[found as usize..] {
        tx.execute_batch(migration)?;
    }
    conn.pragma_update(None, "user_version", known)?;
    if found == 0 {
        seed(&tx)?;
    }
    tx.commit()
}

const V1: &str = r#"
CREATE TABLE countries (
    iso2 TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    zone_a INTEGER NOT NULL CHECK (zone_a IN (0, 1)),
    conferencing TEXT NOT NULL,
    toll_dial_in TEXT NOT NULL,
    toll_free_dial_in TEXT NOT NULL,
    communications_credits INTEGER NOT NULL CHECK (communications_credits IN (0, 1))
) STRICT;

CREATE TABLE rate_versions (
    id INTEGER PRIMARY KEY,
    currency TEXT NOT NULL,
    effective_from TEXT NOT NULL,
    UNIQUE (currency, effective_from)
) STRICT;

CREATE TABLE rate_entries (
    version_id INTEGER NOT NULL REFERENCES rate_versions (id),
    line INTEGER NOT NULL,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    origin TEXT,
    name TEXT NOT NULL,
    country TEXT NOT NULL,
    premium INTEGER NOT NULL CHECK (premium IN (0, 1)),
    rate_per_minute TEXT NOT NULL,
    connection_fee TEXT NOT NULL,
    first_block_s INTEGER NOT NULL,
    increment_s INTEGER NOT NULL,
    PRIMARY KEY (version_id, line)
) STRICT;

CREATE TABLE tenants (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    country TEXT NOT NULL,
    currency TEXT NOT NULL,
    timezone TEXT NOT NULL,
    agreement TEXT NOT NULL,
    default_policy TEXT NOT NULL
) STRICT;

CREATE TABLE purchases (
    tenant TEXT NOT NULL REFERENCES tenants (id),
    sku TEXT NOT NULL,
    from_at TEXT NOT NULL,
    count INTEGER NOT NULL CHECK (count >= 0),
    PRIMARY KEY (tenant, sku, from_at)
) STRICT;

-- A row means the wallet is set up (C3); the recharge columns are all NULL without auto-recharge.
CREATE TABLE wallet_settings (
    tenant TEXT PRIMARY KEY REFERENCES tenants (id),
    recharge_enabled INTEGER CHECK (recharge_enabled IN (0, 1)),
    recharge_trigger TEXT,
    recharge_amount TEXT,
    recharge_payment_accepted INTEGER CHECK (recharge_payment_accepted IN (0, 1)),
    low_balance_1 TEXT,
    low_balance_2 TEXT,
    CHECK ((recharge_enabled IS NULL) = (recharge_trigger IS NULL)
       AND (recharge_enabled IS NULL) = (recharge_amount IS NULL)
       AND (recharge_enabled IS NULL) = (recharge_payment_accepted IS NULL))
) STRICT;

CREATE TABLE users (
    tenant TEXT NOT NULL REFERENCES tenants (id),
    upn_key TEXT NOT NULL,
    upn_display TEXT NOT NULL,
    object_id TEXT NOT NULL,
    display_name TEXT NOT NULL,
    usage_location TEXT NOT NULL,
    policy TEXT,
    toll_free_dial_in INTEGER NOT NULL CHECK (toll_free_dial_in IN (0, 1)),
    PRIMARY KEY (tenant, upn_key)
) STRICT;

CREATE TABLE user_licenses (
    tenant TEXT NOT NULL,
    upn_key TEXT NOT NULL,
    sku TEXT NOT NULL,
    PRIMARY KEY (tenant, upn_key, sku),
    FOREIGN KEY (tenant, upn_key) REFERENCES users (tenant, upn_key) ON DELETE CASCADE
) STRICT;

CREATE TABLE service_numbers (
    tenant TEXT NOT NULL REFERENCES tenants (id),
    number TEXT NOT NULL,
    kind TEXT NOT NULL,
    shared INTEGER NOT NULL CHECK (shared IN (0, 1)),
    country TEXT NOT NULL,
    bridge_default INTEGER NOT NULL CHECK (bridge_default IN (0, 1)),
    PRIMARY KEY (tenant, number)
) STRICT;

CREATE TABLE wallet_state (
    tenant TEXT PRIMARY KEY REFERENCES tenants (id),
    debt TEXT NOT NULL,
    next_lot INTEGER NOT NULL,
    next_seq INTEGER NOT NULL,
    clock TEXT NOT NULL,
    retry_after TEXT,
    funded TEXT NOT NULL,
    debited TEXT NOT NULL,
    forfeited TEXT NOT NULL
) STRICT;

-- The live lots of the wallet snapshot (expired ones live on in the journal only).
CREATE TABLE lots (
    tenant TEXT NOT NULL REFERENCES tenants (id),
    id INTEGER NOT NULL,
    funded_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    amount TEXT NOT NULL,
    remaining TEXT NOT NULL,
    source_kind TEXT NOT NULL CHECK (source_kind IN ('manual', 'auto_recharge')),
    source_ref TEXT NOT NULL,
    warned INTEGER NOT NULL CHECK (warned IN (0, 1)),
    PRIMARY KEY (tenant, id)
) STRICT;

CREATE TABLE journal_entries (
    tenant TEXT NOT NULL REFERENCES tenants (id),
    seq INTEGER NOT NULL,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    amount TEXT NOT NULL,
    call_id TEXT,
    reference TEXT,
    balance_after TEXT NOT NULL,
    PRIMARY KEY (tenant, seq)
) STRICT;

CREATE TABLE postings (
    tenant TEXT NOT NULL,
    seq INTEGER NOT NULL,
    leg INTEGER NOT NULL,
    account TEXT NOT NULL,
    amount TEXT NOT NULL,
    PRIMARY KEY (tenant, seq, leg),
    FOREIGN KEY (tenant, seq) REFERENCES journal_entries (tenant, seq)
) STRICT;

-- One row per call id (C23): the record, its fingerprint and its first outcome. A refused call
-- has its reason and NULL charge columns; a charged call has no reason.
CREATE TABLE calls (
    tenant TEXT NOT NULL REFERENCES tenants (id),
    seq INTEGER NOT NULL,
    call_id TEXT NOT NULL,
    conference_id TEXT NOT NULL,
    organizer TEXT NOT NULL,
    direction TEXT NOT NULL,
    service_number TEXT NOT NULL,
    caller_number TEXT NOT NULL,
    destination_number TEXT NOT NULL,
    start_at TEXT NOT NULL,
    end_at TEXT NOT NULL,
    fingerprint BLOB NOT NULL CHECK (length(fingerprint) = 16),
    reason TEXT,
    category TEXT,
    funding TEXT,
    capability TEXT,
    rule TEXT,
    duration_s INTEGER,
    billable_s INTEGER,
    rate_name TEXT,
    rate_country TEXT,
    rate_premium INTEGER,
    rate_per_minute TEXT,
    rate_first_block_s INTEGER,
    rate_increment_s INTEGER,
    rate_effective_from TEXT,
    connection_fee TEXT,
    amount TEXT,
    pool_minutes INTEGER,
    other_country TEXT,
    domestic INTEGER CHECK (domestic IN (0, 1)),
    lots TEXT,
    balance_after TEXT,
    recharge_lot INTEGER,
    PRIMARY KEY (tenant, seq),
    UNIQUE (tenant, call_id),
    CHECK ((reason IS NULL) = (category IS NOT NULL))
) STRICT;

CREATE INDEX calls_by_start ON calls (tenant, start_at, call_id);

CREATE TABLE pool_usage (
    tenant TEXT NOT NULL REFERENCES tenants (id),
    month TEXT NOT NULL,
    minutes INTEGER NOT NULL CHECK (minutes >= 0),
    PRIMARY KEY (tenant, month)
) STRICT;

CREATE TABLE events (
    tenant TEXT NOT NULL REFERENCES tenants (id),
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    at TEXT NOT NULL,
    payload TEXT NOT NULL,
    PRIMARY KEY (tenant, seq)
) STRICT;

CREATE TABLE scheduled_fundings (
    tenant TEXT NOT NULL REFERENCES tenants (id),
    reference TEXT NOT NULL,
    amount TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (tenant, reference)
) STRICT;

CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE funding_refs (
    tenant TEXT NOT NULL REFERENCES tenants (id),
    reference TEXT NOT NULL,
    PRIMARY KEY (tenant, reference)
) STRICT;
"#;

/// V2: what the HTTP server keeps besides the books: live calls (C25 to C27), API keys and
/// webhook endpoints with their delivery log (C15).
const V2: &str = r#"
-- Calls authorized and not yet ended (C25 to C27), one row per call id. The record's `end` is
-- its `start` (the instant the call was authorized for), so only `start_at` is stored. A NULL
-- `granted_s` is a call that holds nothing and is never cut.
CREATE TABLE reservations (
    tenant TEXT NOT NULL REFERENCES tenants (id),
    call_id TEXT NOT NULL,
    conference_id TEXT NOT NULL,
    organizer TEXT NOT NULL,
    direction TEXT NOT NULL,
    service_number TEXT NOT NULL,
    caller_number TEXT NOT NULL,
    destination_number TEXT NOT NULL,
    start_at TEXT NOT NULL,
    granted_s INTEGER CHECK (granted_s >= 0),
    credit TEXT NOT NULL,
    pool_minutes INTEGER NOT NULL CHECK (pool_minutes >= 0),
    expires_at TEXT NOT NULL,
    live INTEGER NOT NULL CHECK (live IN (0, 1)),
    funding TEXT NOT NULL,
    PRIMARY KEY (tenant, call_id)
) STRICT;

-- API keys: only the HMAC-SHA256 digest of the secret is kept. An operator key belongs to no
-- tenant; a tenant admin or bridge key belongs to exactly one.
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('operator', 'tenant_admin', 'bridge')),
    tenant TEXT REFERENCES tenants (id),
    label TEXT NOT NULL,
    digest BLOB NOT NULL CHECK (length(digest) = 32),
    created_at TEXT NOT NULL,
    revoked_at TEXT,
    CHECK ((kind = 'operator') = (tenant IS NULL))
) STRICT;

-- `delivered_through` is the last event `seq` of the tenant that is done for this endpoint
-- (delivered or given up): delivery resumes after it.
CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL REFERENCES tenants (id),
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    created_at TEXT NOT NULL,
    disabled_at TEXT,
    delivered_through INTEGER NOT NULL DEFAULT 0 CHECK (delivered_through >= 0)
) STRICT;

CREATE INDEX webhook_endpoints_by_tenant ON webhook_endpoints (tenant, created_at, id);

-- One row per delivery attempt of one event (`events.seq` of the endpoint's tenant) to one
-- endpoint.
CREATE TABLE webhook_deliveries (
    endpoint TEXT NOT NULL REFERENCES webhook_endpoints (id),
    event_seq INTEGER NOT NULL CHECK (event_seq >= 1),
    attempt INTEGER NOT NULL CHECK (attempt >= 0),
    at TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('delivered', 'failed', 'gave_up')),
    http_status INTEGER CHECK (http_status BETWEEN 0 AND 65535),
    error TEXT,
    PRIMARY KEY (endpoint, event_seq, attempt)
) STRICT;

CREATE INDEX webhook_deliveries_by_time ON webhook_deliveries (endpoint, at);
"#;

/// V3: the audit log of administrative changes (see `audit`). A NULL tenant is an
/// operator-wide change; only the command line acts without a key.
const V3: &str = r#"
CREATE TABLE audit (
    seq INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor_kind TEXT NOT NULL
        CHECK (actor_kind IN ('operator', 'tenant_admin', 'bridge', 'cli')),
    actor_key_id TEXT,
    tenant TEXT,
    action TEXT NOT NULL,
    object TEXT NOT NULL,
    before_json TEXT CHECK (before_json IS NULL OR json_valid(before_json)),
    after_json TEXT CHECK (after_json IS NULL OR json_valid(after_json)),
    request_id TEXT,
    CHECK ((actor_kind = 'cli') = (actor_key_id IS NULL))
) STRICT;

CREATE INDEX audit_by_tenant ON audit (tenant, seq);
"#;

/// Preferences kept per API key (the person or program behind it): the console's language.
const V4: &str = r#"
CREATE TABLE key_preferences (
    key_id TEXT PRIMARY KEY REFERENCES api_keys (id),
    lang TEXT NOT NULL CHECK (lang IN ('en', 'ja', 'zh-CN', 'fr', 'de')),
    updated_at TEXT NOT NULL
) STRICT;
"#;

/// V5: the operator's monthly price of each license per currency (the plan advisor's prices).
/// A license without a row has no price set.
const V5: &str = r#"
CREATE TABLE license_prices (
    currency TEXT NOT NULL,
    sku TEXT NOT NULL
        CHECK (sku IN ('MCOMEETADD', 'MCOMEETACPEA', 'MCOPSTNPP', 'MCOMEETADD_DIALOUT_US')),
    price TEXT NOT NULL,
    PRIMARY KEY (currency, sku)
) STRICT;
"#;

/// V6: the SIP edge. A reservation keeps whether its call was answered (`authorized_at`, NULL
/// until then; `start_at` is then the answer) and whether its grant is the last window; an
/// `edge` API key does call control for every tenant (no tenant), and may appear in the audit
/// log; service numbers are indexed by number, for the edge's look-up of a number's tenant.
/// SQLite cannot change a CHECK in place: `api_keys` and `audit` are rebuilt, and
/// `key_preferences` (which refers to `api_keys`) with them.
const V6: &str = r#"
ALTER TABLE reservations ADD COLUMN authorized_at TEXT;
ALTER TABLE reservations ADD COLUMN last_window INTEGER NOT NULL DEFAULT 0
    CHECK (last_window IN (0, 1));

CREATE TABLE key_preferences_v5 AS SELECT key_id, lang, updated_at FROM key_preferences;
DROP TABLE key_preferences;

CREATE TABLE api_keys_v6 (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('operator', 'tenant_admin', 'bridge', 'edge')),
    tenant TEXT REFERENCES tenants (id),
    label TEXT NOT NULL,
    digest BLOB NOT NULL CHECK (length(digest) = 32),
    created_at TEXT NOT NULL,
    revoked_at TEXT,
    CHECK ((kind IN ('operator', 'edge')) = (tenant IS NULL))
) STRICT;
INSERT INTO api_keys_v6 (id, kind, tenant, label, digest, created_at, revoked_at)
    SELECT id, kind, tenant, label, digest, created_at, revoked_at FROM api_keys;
DROP TABLE api_keys;
ALTER TABLE api_keys_v6 RENAME TO api_keys;

CREATE TABLE key_preferences (
    key_id TEXT PRIMARY KEY REFERENCES api_keys (id),
    lang TEXT NOT NULL CHECK (lang IN ('en', 'ja', 'zh-CN', 'fr', 'de')),
    updated_at TEXT NOT NULL
) STRICT;
INSERT INTO key_preferences (key_id, lang, updated_at)
    SELECT key_id, lang, updated_at FROM key_preferences_v5;
DROP TABLE key_preferences_v5;

CREATE TABLE audit_v6 (
    seq INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor_kind TEXT NOT NULL
        CHECK (actor_kind IN ('operator', 'tenant_admin', 'bridge', 'edge', 'cli')),
    actor_key_id TEXT,
    tenant TEXT,
    action TEXT NOT NULL,
    object TEXT NOT NULL,
    before_json TEXT CHECK (before_json IS NULL OR json_valid(before_json)),
    after_json TEXT CHECK (after_json IS NULL OR json_valid(after_json)),
    request_id TEXT,
    CHECK ((actor_kind = 'cli') = (actor_key_id IS NULL))
) STRICT;
INSERT INTO audit_v6 SELECT seq, at, actor_kind, actor_key_id, tenant, action, object,
    before_json, after_json, request_id FROM audit;
DROP TABLE audit;
ALTER TABLE audit_v6 RENAME TO audit;
CREATE INDEX audit_by_tenant ON audit (tenant, seq);

CREATE INDEX service_numbers_by_number ON service_numbers (number, tenant);
"#;

/// Rerating: each run of a tenant (who, when, the period, the card versions, counts and totals)
/// and, per call it changed or kept, the old and new charge.
const V7: &str = r#"
CREATE TABLE rerate_runs (
    tenant TEXT NOT NULL REFERENCES tenants (id),
    id TEXT NOT NULL,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    from_at TEXT NOT NULL,
    to_at TEXT NOT NULL,
    card_versions TEXT NOT NULL,
    calls INTEGER NOT NULL CHECK (calls >= 0),
    changed INTEGER NOT NULL CHECK (changed >= 0),
    skipped INTEGER NOT NULL CHECK (skipped >= 0),
    refunded TEXT NOT NULL,
    charged TEXT NOT NULL,
    PRIMARY KEY (tenant, id)
) STRICT;

CREATE TABLE rerate_items (
    tenant TEXT NOT NULL,
    run TEXT NOT NULL,
    call_id TEXT NOT NULL,
    start_at TEXT NOT NULL,
    old_amount TEXT NOT NULL,
    new_amount TEXT NOT NULL,
    old_funding TEXT NOT NULL,
    new_funding TEXT NOT NULL,
    old_rule TEXT NOT NULL,
    new_rule TEXT NOT NULL,
    old_rate TEXT,
    new_rate TEXT,
    old_pool_minutes INTEGER NOT NULL,
    new_pool_minutes INTEGER NOT NULL,
    skipped TEXT,
    PRIMARY KEY (tenant, run, call_id),
    FOREIGN KEY (tenant, run) REFERENCES rerate_runs (tenant, id)
) STRICT;
"#;

/// V8: how far the event stream (NATS JetStream, `minutely serve --events-nats`) has got through
/// each tenant's outbox. `published_through` is the last event `seq` of the tenant that
/// JetStream acknowledged on the subjects under `prefix` (the `--events-subject`): publishing
/// resumes after it. A tenant without a row has had nothing published under that prefix.
const V8: &str = r#"
CREATE TABLE stream_cursors (
    prefix TEXT NOT NULL,
    tenant TEXT NOT NULL REFERENCES tenants (id),
    published_through INTEGER NOT NULL CHECK (published_through >= 0),
    updated_at TEXT NOT NULL,
    PRIMARY KEY (prefix, tenant)
) STRICT;
"#;

/// V9: the toll-fraud guard (C43 to C46). `guard_operator` (one row) holds the mode of tenants
/// without their own and the version of the high-risk list, whose entries are `guard_list`;
/// `guard_tenants` holds a tenant's own settings (`key=value;...`, empty for none) and its
/// counters (the core's image, rewritten by every commit that touched the tenant while its
/// guard is on).
const V9: &str = r#"
CREATE TABLE guard_operator (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    default_mode TEXT NOT NULL CHECK (default_mode IN ('off', 'monitor', 'enforce')),
    list_version INTEGER NOT NULL CHECK (list_version >= 0),
    updated_at TEXT NOT NULL
) STRICT;

CREATE TABLE guard_list (
    prefix TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('allow', 'block', 'step_up', 'monitor')),
    category TEXT NOT NULL,
    source TEXT NOT NULL,
    expires TEXT,
    note TEXT NOT NULL,
    PRIMARY KEY (prefix, action)
) STRICT;

CREATE TABLE guard_tenants (
    tenant TEXT PRIMARY KEY REFERENCES tenants (id),
    settings TEXT NOT NULL,
    state BLOB
) STRICT;
"#;

/// V10: the operator's thresholds of the guard (`limits`: `name=value;...`, only those that
/// differ from the defaults), and an index that lists a tenant's events of one kind in order
/// (the guard's incidents) without reading its other events.
const V10: &str = r#"
ALTER TABLE guard_operator ADD COLUMN limits TEXT NOT NULL DEFAULT '';
CREATE INDEX events_by_kind ON events (tenant, kind, seq);
"#;
