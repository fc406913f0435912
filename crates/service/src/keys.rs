//! API keys: `mk_<id>_<secret>`, stored as the HMAC-SHA256 digest of the secret keyed by the
//! store's own secret; the secret is shown once, at creation, and never stored. Creating and
//! revoking a key writes the key and its audit row in one transaction, for the API and the
//! command line alike.

use crate::audit::{Actor, key_snapshot};
use crate::error::{ServiceError, ServiceResult};
use hmac::{Hmac, Mac};
use jiff::Timestamp;
use minutely_store::{ApiKey, Store};
use sha2::Sha256;

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind {
    Operator,
    TenantAdmin,
    Bridge,
    /// The SIP edge (a proxy in the call path): call control for every tenant, and nothing
    /// else. It belongs to no tenant.
    Edge,
}

impl KeyKind {
    /// Whether a key of this kind belongs to one tenant (tenant admin, bridge) rather than to
    /// none (operator, edge).
    pub fn has_tenant(self) -> bool {
        matches!(self, KeyKind::TenantAdmin | KeyKind::Bridge)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Operator => "operator",
            KeyKind::TenantAdmin => "tenant_admin",
            KeyKind::Bridge => "bridge",
            KeyKind::Edge => "edge",
        }
    }

    pub fn parse(text: &str) -> Option<KeyKind> {
        [
            KeyKind::Operator,
            KeyKind::TenantAdmin,
            KeyKind::Bridge,
            KeyKind::Edge,
        ]
        .into_iter()
        .find(|k| k.as_str() == text)
    }
}

/// The digest stored for a secret.
pub fn digest(server_secret: &[u8; 32], secret: &str) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(server_secret).expect("HMAC takes any key size");
    mac.update(secret.as_bytes());
    mac.finalize().into_bytes().into()
}

/// Random bytes from the operating system.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("the operating system's random source works");
    bytes
}

/// A new key: the record to store and the full key text to show once.
pub fn new_key(
    server_secret: &[u8; 32],
    kind: KeyKind,
    tenant: Option<&str>,
    label: &str,
    now: Timestamp,
) -> (ApiKey, String) {
    let id = hex::encode(random_bytes::<6>());
    let secret = hex::encode(random_bytes::<24>());
    let record = ApiKey {
        id: id.clone(),
        kind: kind.as_str().to_string(),
        tenant: tenant.map(str::to_string),
        label: label.to_string(),
        digest: digest(server_secret, &secret),
        created_at: now,
        revoked_at: None,
    };
    (record, format!("mk_{id}_{secret}"))
}

/// Creates a key (its tenant, when it has one, already checked to exist) under the store's
/// `secret` and writes it with its audit row in one transaction; returns the record and the key
/// text, shown once.
pub fn create_key(
    store: &mut Store,
    (secret, actor): (&[u8; 32], &Actor),
    (kind, tenant, label): (KeyKind, Option<&str>, &str),
    now: Timestamp,
) -> ServiceResult<(ApiKey, String)> {
    let (record, text) = new_key(secret, kind, tenant, label, now);
    let entry = actor.entry(
        now,
        record.tenant.as_deref(),
        "key.create",
        &record.id,
        None,
        Some(key_snapshot(&record)),
    );
    store.atomically(|store| {
        store.insert_key(&record)?;
        store.append_audit(&[entry])
    })?;
    Ok((record, text))
}

/// Whether revoking may leave no live operator key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LastOperator {
    /// The API keeps one (its caller could otherwise lock every operator out).
    Keep,
    /// The command line, which can always make another, may revoke it.
    MayRevoke,
}

/// What revoking a key did.
#[derive(Debug, Clone)]
pub enum Revoked {
    /// Revoked now: the record as it is now.
    Now(ApiKey),
    /// It was already revoked: nothing changed, nothing was recorded.
    Already(ApiKey),
}

/// Revokes the key `id`, writing the change and its audit row in one transaction.
/// `not_found` when there is no such key; `conflict` for the last live operator key when
/// `last` is `Keep`.
pub fn revoke_key(
    store: &mut Store,
    actor: &Actor,
    id: &str,
    last: LastOperator,
    at: Timestamp,
) -> ServiceResult<Revoked> {
    let keys = store.keys()?;
    let Some(key) = keys.iter().find(|k| k.id == id) else {
        return Err(ServiceError::not_found(format!("no key {id:?}")));
    };
    if key.revoked_at.is_some() {
        return Ok(Revoked::Already(key.clone()));
    }
    let operator = KeyKind::Operator.as_str();
    let live_operators = keys
        .iter()
        .filter(|k| k.kind == operator && k.revoked_at.is_none())
        .count();
    if last == LastOperator::Keep && key.kind == operator && live_operators == 1 {
        return Err(ServiceError::conflict(format!(
            "key {id:?} is the last live operator key; create another operator key before \
             revoking it"
        )));
    }
    let revoked = ApiKey {
        revoked_at: Some(at),
        ..key.clone()
    };
    let entry = actor.entry(
        at,
        key.tenant.as_deref(),
        "key.revoke",
        id,
        Some(key_snapshot(key)),
        Some(key_snapshot(&revoked)),
    );
    store.atomically(|store| {
        store.revoke_key(id, at)?;
        store.append_audit(&[entry])
    })?;
    Ok(Revoked::Now(revoked))
}
