//! API keys on disk: each key's kind, tenant and the digest of its secret (never the secret), and
//! the server's own HMAC key that those digests are made with.

use crate::codec::{Cells, opt_ts, ts};
use crate::db::{Db, Optional};
use crate::{Result, StoreError};
use jiff::Timestamp;
use rusqlite::params;

/// One API key as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: String,
    /// `operator`, `tenant_admin`, `bridge` or `edge`.
    pub kind: String,
    /// The tenant a `tenant_admin` or `bridge` key acts for; `None` for an `operator` or `edge`
    /// key (the schema refuses any other combination).
    pub tenant: Option<String>,
    pub label: String,
    /// HMAC-SHA256 of the secret under the server's key (`Store::key_secret`), computed by the
    /// caller.
    pub digest: [u8; 32],
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

pub(crate) fn insert(conn: &Db, key: &ApiKey) -> Result<()> {
    conn.execute(
        "INSERT INTO api_keys (id, kind, tenant, label, digest, created_at, revoked_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            key.id,
            key.kind,
            key.tenant,
            key.label,
            key.digest.as_slice(),
            ts(key.created_at),
            opt_ts(key.revoked_at),
        ],
    )?;
    Ok(())
}

pub(crate) fn list(conn: &Db) -> Result<Vec<ApiKey>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, kind, tenant, label, digest, created_at, revoked_at
         FROM api_keys ORDER BY created_at, id",
    )?;
    let mut rows = stmt.query(())?;
    let mut keys = Vec::new();
    while let Some(row) = rows.next()? {
        let c = Cells {
            row: &row,
            table: "api_keys",
        };
        keys.push(ApiKey {
            id: c.text("id")?,
            kind: c.text("kind")?,
            tenant: c.opt_text("tenant")?,
            label: c.text("label")?,
            digest: c.blob32("digest")?,
            created_at: c.ts("created_at")?,
            revoked_at: c.opt_ts("revoked_at")?,
        });
    }
    Ok(keys)
}

/// True when the key was live and is now revoked.
pub(crate) fn revoke(conn: &Db, id: &str, at: Timestamp) -> Result<bool> {
    let changed = conn.execute(
        "UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
        params![id, ts(at)],
    )?;
    Ok(changed == 1)
}

/// The `settings` row that holds the server's HMAC key, as 64 lower-case hex digits.
const KEY_SECRET: &str = "key_secret";

/// The stored HMAC key, if one was made.
pub(crate) fn read_secret(conn: &Db) -> Result<Option<[u8; 32]>> {
    let text: Option<String> = conn
        .query_row(
            "SELECT value FROM settings WHERE key = ?1",
            [KEY_SECRET],
            |row| row.get(0),
        )
        .optional()?;
    text.map(|t| from_hex(&t).ok_or_else(|| crate::codec::corrupt("settings", KEY_SECRET, &t)))
        .transpose()
}

/// Stores a new HMAC key drawn from the OS random source. The caller holds the write lock and
/// has found no key.
pub(crate) fn create_secret(conn: &Db) -> Result<[u8; 32]> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| StoreError::Random(e.to_string()))?;
    conn.execute(
        "INSERT INTO settings (key, value) VALUES (?1, ?2)",
        [KEY_SECRET, &to_hex(&secret)],
    )?;
    Ok(secret)
}

fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes
        .iter()
        .flat_map(|b| [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 0xf)]])
        .map(char::from)
        .collect()
}

fn from_hex(text: &str) -> Option<[u8; 32]> {
    let digits = text.as_bytes();
    if digits.len() != 64 {
        return None;
    }
    let nibble = |d: u8| char::from(d).to_digit(16).map(|v| v as u8);
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        *byte = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

/// The language a key's holder chose, if any.
pub(crate) fn preferred_lang(conn: &Db, key_id: &str) -> Result<Option<String>> {
    conn.prepare_cached("SELECT lang FROM key_preferences WHERE key_id = ?1")?
        .query_row(params![key_id], |row| row.get(0))
        .optional()
}

/// Keeps a key's language (replacing an earlier choice).
pub(crate) fn set_preferred_lang(conn: &Db, key_id: &str, lang: &str, at: Timestamp) -> Result<()> {
    conn.execute(
        "INSERT INTO key_preferences (key_id, lang, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (key_id) DO UPDATE SET lang = excluded.lang, updated_at = excluded.updated_at",
        params![key_id, lang, ts(at)],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_refuses_other_text() {
        let bytes: [u8; 32] = std::array::from_fn(|i| (i * 37 + 5) as u8);
        let text = to_hex(&bytes);
        assert_eq!(text.len(), 64);
        assert_eq!(from_hex(&text), Some(bytes));
        assert_eq!(from_hex(&text.to_uppercase()), Some(bytes));
        assert_eq!(from_hex(&text[2..]), None);
        assert_eq!(from_hex(&format!("zz{}", &text[2..])), None);
        assert_eq!(to_hex(&[0x00, 0xff, 0x0a]), "00ff0a");
    }
}
