//! Credentials. A key is `mk_<id>_<secret>`: the id finds the stored key, the secret is checked
//! against its HMAC-SHA256 digest (keyed by the server's own secret), in constant time. The
//! secret itself is shown once, at creation, and never stored.
//!
//! Four kinds: operator (everything), tenant admin (its tenant only), bridge (call control and
//! ingestion for its tenant only), edge (the SIP proxy in the call path: call control for every
//! tenant and the `/v1/edge` routes, nothing else). A key that may not see a tenant gets 404 for
//! it, exactly as if the tenant did not exist; an edge key sees no tenant's data, so it is
//! refused (403) everywhere but call control, whichever the tenant.

use crate::error::ApiError;
use hmac::{Hmac, Mac};
use minutely_store::ApiKey;
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};
use subtle::ConstantTimeEq;

pub use minutely_service::keys::KeyKind;

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Operator {
        key: String,
    },
    TenantAdmin {
        key: String,
        tenant: String,
    },
    Bridge {
        key: String,
        tenant: String,
    },
    /// The SIP edge: call control (authorize, answer, extend, end, the batch) of every tenant.
    Edge {
        key: String,
    },
}

/// What a route needs of the caller for one tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Operator or the tenant's admin.
    Admin,
    /// Operator, the tenant's admin or the tenant's bridge (call-record ingestion).
    Bridge,
    /// Call control: operator, the tenant's admin, the tenant's bridge, or any edge key.
    Control,
    /// Operator, or the tenant's admin for everything except what C3 reserves to the operator
    /// (checked by the core).
    Operator,
}

impl Principal {
    pub fn key_id(&self) -> &str {
        match self {
            Principal::Operator { key }
            | Principal::TenantAdmin { key, .. }
            | Principal::Bridge { key, .. }
            | Principal::Edge { key } => key,
        }
    }

    pub fn is_operator(&self) -> bool {
        matches!(self, Principal::Operator { .. })
    }

    /// The tenant a non-operator key belongs to.
    pub fn tenant(&self) -> Option<&str> {
        match self {
            Principal::Operator { .. } | Principal::Edge { .. } => None,
            Principal::TenantAdmin { tenant, .. } | Principal::Bridge { tenant, .. } => {
                Some(tenant)
            }
        }
    }

    /// Checks access to `tenant`: another tenant's id is 404 (never a hint that it exists); the
    /// right tenant with the wrong kind of key is 403.
    pub fn check(&self, tenant: &str, access: Access) -> Result<(), ApiError> {
        match self {
            Principal::Operator { .. } => Ok(()),
            // Every tenant's call control, and nothing of any tenant besides.
            Principal::Edge { .. } => match access {
                Access::Control => Ok(()),
                _ => Err(edge_refused()),
            },
            Principal::TenantAdmin { tenant: own, .. } | Principal::Bridge { tenant: own, .. }
                if own != tenant =>
            {
                Err(minutely_service::unknown_tenant(tenant).into())
            }
            Principal::TenantAdmin { .. } => match access {
                Access::Admin | Access::Bridge | Access::Control => Ok(()),
                Access::Operator => Err(ApiError::forbidden("only an operator key may do this")),
            },
            Principal::Bridge { .. } => match access {
                Access::Bridge | Access::Control => Ok(()),
                _ => Err(ApiError::forbidden(
                    "a bridge key may only use call control and call ingestion",
                )),
            },
        }
    }

    /// The `/v1/edge` routes: the operator or an edge key.
    pub fn edge(&self) -> Result<(), ApiError> {
        match self {
            Principal::Operator { .. } | Principal::Edge { .. } => Ok(()),
            _ => Err(ApiError::forbidden(
                "only an operator or edge key may use the edge routes",
            )),
        }
    }

    /// Routes any key may read, except an edge key (which reads nothing but its own key).
    pub fn shared_read(&self) -> Result<(), ApiError> {
        match self {
            Principal::Edge { .. } => Err(edge_refused()),
            _ => Ok(()),
        }
    }

    /// Operator-only routes.
    pub fn operator(&self) -> Result<(), ApiError> {
        if self.is_operator() {
            Ok(())
        } else {
            Err(ApiError::forbidden("only an operator key may do this"))
        }
    }
}

/// The refusal of an edge key off call control.
fn edge_refused() -> ApiError {
    ApiError::forbidden("an edge key may only use call control and the edge routes")
}

pub use minutely_service::keys::{digest, new_key, random_bytes};

/// A stored key and the one secret already checked against its digest. The entry is made anew
/// whenever the key's record is (`replace`, `upsert`, `refresh`), so the checked secret never
/// outlives the digest it was checked against, and a revocation is seen by the next request.
struct Known {
    key: ApiKey,
    /// The secret whose HMAC was found equal to `key.digest`: a request that presents it again
    /// is compared with it in constant time instead of computing the HMAC again.
    checked: OnceLock<Box<[u8]>>,
}

impl Known {
    fn new(key: ApiKey) -> (String, Known) {
        let id = key.id.clone();
        let known = Known {
            key,
            checked: OnceLock::new(),
        };
        (id, known)
    }

    /// Whether `secret` is the key's secret: equal, in constant time, to the secret checked
    /// before, or else its HMAC equal to the digest (then it is remembered).
    fn verify(&self, mac: &Hmac<Sha256>, secret: &[u8]) -> bool {
        if let Some(checked) = self.checked.get() {
            // Unequal lengths differ at once; equal lengths are compared byte by byte in
            // constant time. A different secret of any length goes on to the HMAC.
            if bool::from(checked.as_ref().ct_eq(secret)) {
                return true;
            }
        }
        let mut mac = mac.clone();
        mac.update(secret);
        if mac.verify_slice(&self.key.digest).is_err() {
            return false;
        }
        let _ = self.checked.set(secret.into());
        true
    }
}

/// The keys known to the server, refreshed from the store.
#[derive(Clone)]
pub struct Keys {
    secret: [u8; 32],
    /// The HMAC keyed with `secret`, copied for each key checked (the key is absorbed once).
    mac: Hmac<Sha256>,
    keys: Arc<RwLock<HashMap<String, Known>>>,
    /// Bumped, under the write lock, by every `upsert`: a refresh read from the store before an
    /// upsert must not overwrite it with the older list.
    generation: Arc<std::sync::atomic::AtomicU64>,
}

impl Keys {
    pub fn new(secret: [u8; 32], keys: Vec<ApiKey>) -> Keys {
        let k = Keys {
            secret,
            mac: Hmac::<Sha256>::new_from_slice(&secret).expect("HMAC takes any key size"),
            keys: Arc::default(),
            generation: Arc::default(),
        };
        k.replace(keys);
        k
    }

    pub fn secret(&self) -> &[u8; 32] {
        &self.secret
    }

    /// Replaces the cache with what the store holds now.
    pub fn replace(&self, keys: Vec<ApiKey>) {
        let map = keys.into_iter().map(Known::new).collect();
        *self
            .keys
            .write()
            .expect("the key cache lock is never poisoned") = map;
    }

    /// Adds or updates one key (after a create or revoke through the API).
    pub fn upsert(&self, key: ApiKey) {
        let mut keys = self
            .keys
            .write()
            .expect("the key cache lock is never poisoned");
        let (id, known) = Known::new(key);
        keys.insert(id, known);
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    /// The number of upserts so far: taken before a refresh reads the store.
    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Replaces the cache with `keys`, read from the store after `generation` was taken, unless
    /// a key was upserted since: that list may predate it (the next refresh brings both).
    pub fn refresh(&self, keys: Vec<ApiKey>, generation: u64) -> bool {
        let map = keys.into_iter().map(Known::new).collect();
        let mut current = self
            .keys
            .write()
            .expect("the key cache lock is never poisoned");
        if self.generation() != generation {
            return false;
        }
        *current = map;
        true
    }

    /// The stored record of key `id` (for its label).
    pub fn get(&self, id: &str) -> Option<ApiKey> {
        self.keys
            .read()
            .expect("the key cache lock is never poisoned")
            .get(id)
            .map(|known| known.key.clone())
    }

    /// Checks an `Authorization` header value.
    pub fn authenticate(&self, header: Option<&str>) -> Result<Principal, ApiError> {
        let Some(value) = header else {
            return Err(ApiError::unauthorized(
                "no API key: send `Authorization: Bearer <key>`",
            ));
        };
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .unwrap_or(value)
            .trim();
        let unknown = || ApiError::unauthorized("the API key is not valid");
        let rest = token.strip_prefix("mk_").ok_or_else(unknown)?;
        let (id, secret) = rest.split_once('_').ok_or_else(unknown)?;
        let keys = self
            .keys
            .read()
            .expect("the key cache lock is never poisoned");
        let known = keys.get(id).ok_or_else(unknown)?;
        if !known.verify(&self.mac, secret.as_bytes()) {
            return Err(unknown());
        }
        let key = &known.key;
        if key.revoked_at.is_some() {
            return Err(ApiError::new(
                axum::http::StatusCode::UNAUTHORIZED,
                "key_revoked",
                "the API key has been revoked",
            ));
        }
        let kind = KeyKind::parse(&key.kind).ok_or_else(unknown)?;
        let key_id = key.id.clone();
        match (kind, key.tenant.clone()) {
            (KeyKind::Operator, _) => Ok(Principal::Operator { key: key_id }),
            (KeyKind::TenantAdmin, Some(tenant)) => Ok(Principal::TenantAdmin {
                key: key_id,
                tenant,
            }),
            (KeyKind::Bridge, Some(tenant)) => Ok(Principal::Bridge {
                key: key_id,
                tenant,
            }),
            (KeyKind::Edge, None) => Ok(Principal::Edge { key: key_id }),
            _ => Err(unknown()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::Timestamp;

    const SECRET: [u8; 32] = [7; 32];

    fn bridge(keys: &Keys) -> (ApiKey, String) {
        let (record, text) = new_key(
            &SECRET,
            KeyKind::Bridge,
            Some("acme"),
            "bridge",
            Timestamp::UNIX_EPOCH,
        );
        keys.upsert(record.clone());
        (record, text)
    }

    fn check(keys: &Keys, text: &str) -> Result<Principal, String> {
        keys.authenticate(Some(&format!("Bearer {text}")))
            .map_err(|e| format!("{} {}", e.code, e.detail))
    }

    /// A key's text with its secret changed at one place, the length kept.
    fn other_secret(text: &str) -> String {
        let last = text.chars().last().expect("a key");
        let other = if last == '0' { '1' } else { '0' };
        format!("{}{other}", &text[..text.len() - 1])
    }

    /// The secret checked once is accepted again from memory, and every other secret (the same
    /// length or not) is still refused, before and after.
    #[test]
    fn a_checked_secret_is_remembered_and_no_other_is_accepted() {
        let keys = Keys::new(SECRET, Vec::new());
        let (record, text) = bridge(&keys);
        let unknown = "unauthorized the API key is not valid".to_string();
        assert_eq!(check(&keys, &other_secret(&text)), Err(unknown.clone()));
        let principal = Principal::Bridge {
            key: record.id.clone(),
            tenant: "acme".into(),
        };
        for _ in 0..3 {
            assert_eq!(check(&keys, &text), Ok(principal.clone()));
            assert_eq!(check(&keys, &other_secret(&text)), Err(unknown.clone()));
            assert_eq!(check(&keys, &format!("{text}0")), Err(unknown.clone()));
            assert_eq!(check(&keys, &text[..text.len() - 1]), Err(unknown.clone()));
        }
    }

    /// A revocation (an upsert of the revoked record, or a refresh from the store) refuses the
    /// remembered secret at the next request.
    #[test]
    fn a_revocation_is_seen_by_the_next_request() {
        let revoked = "key_revoked the API key has been revoked".to_string();
        for by_refresh in [false, true] {
            let keys = Keys::new(SECRET, Vec::new());
            let (mut record, text) = bridge(&keys);
            assert!(check(&keys, &text).is_ok());
            record.revoked_at = Some(Timestamp::UNIX_EPOCH);
            if by_refresh {
                assert!(keys.refresh(vec![record.clone()], keys.generation()));
            } else {
                keys.upsert(record.clone());
            }
            assert_eq!(check(&keys, &text), Err(revoked.clone()));
        }
    }

    /// A record stored again with another digest (the same id) no longer accepts the secret
    /// remembered for the old one.
    #[test]
    fn a_new_digest_forgets_the_old_secret() {
        let keys = Keys::new(SECRET, Vec::new());
        let (mut record, text) = bridge(&keys);
        assert!(check(&keys, &text).is_ok());
        record.digest = digest(&SECRET, "another secret");
        keys.replace(vec![record]);
        assert_eq!(
            check(&keys, &text),
            Err("unauthorized the API key is not valid".to_string())
        );
    }
}
