//! The audit log's rows: who made a change (`Actor`), and how each object is pictured before
//! and after it (snapshots holding ids, kinds, labels and figures, never a key's secret, a
//! digest or a webhook secret).
//!
//! A writer job queues its row with `Actor::record` and the row commits in the batch's
//! transaction; a change made in its own store transaction (keys, webhook endpoints, the
//! catalogue, the command line) writes `Actor::entry` in that transaction. Either way a change
//! that is acknowledged has its row and a change that fails has none.

use crate::writer::Ctx;
use jiff::Timestamp;
use minutely_core::catalogue::{CountryTable, RateCard};
use minutely_core::directory::{Policy, Sku, Tenant};
use minutely_core::ledger::LotId;
use minutely_core::money::Currency;
use minutely_core::numbers::Country;
use minutely_formats::instant;
use minutely_store::{ActorKind, ApiKey, AuditEntry};
use rust_decimal::Decimal;
use serde::Serialize;
use std::collections::BTreeSet;

/// Who is making a change, and in which request: what every audit row of the request says.
#[derive(Debug, Clone)]
pub struct Actor {
    kind: ActorKind,
    key_id: Option<String>,
    request_id: Option<String>,
}

impl Actor {
    /// A key acting through an API request.
    pub fn key(kind: ActorKind, key_id: &str, request_id: Option<String>) -> Actor {
        Actor {
            kind,
            key_id: Some(key_id.to_string()),
            request_id,
        }
    }

    /// The command line, changing the store directly: no key, no request.
    pub fn cli() -> Actor {
        Actor {
            kind: ActorKind::Cli,
            key_id: None,
            request_id: None,
        }
    }

    /// Who acted, as one word: `cli`, or the key's kind and id (`operator:k_...`).
    pub fn label(&self) -> String {
        match &self.key_id {
            Some(id) => format!("{}:{id}", self.kind.as_str()),
            None => self.kind.as_str().to_string(),
        }
    }

    /// The row of one change made at `at`.
    pub fn entry(
        &self,
        at: Timestamp,
        tenant: Option<&str>,
        action: &str,
        object: &str,
        before: Option<String>,
        after: Option<String>,
    ) -> AuditEntry {
        AuditEntry {
            at,
            actor_kind: self.kind,
            actor_key_id: self.key_id.clone(),
            tenant: tenant.map(str::to_string),
            action: action.to_string(),
            object: object.to_string(),
            before,
            after,
            request_id: self.request_id.clone(),
        }
    }

    /// Queues the row of a change made by this writer job (committed with the batch).
    pub fn record(
        &self,
        ctx: &mut Ctx<'_>,
        tenant: Option<&str>,
        action: &str,
        object: &str,
        before: Option<String>,
        after: Option<String>,
    ) {
        let entry = self.entry(ctx.now, tenant, action, object, before, after);
        ctx.audit(entry);
    }
}

/// A value as the JSON text of a snapshot.
pub fn snapshot<T: Serialize>(value: &T) -> String {
    // The snapshots are plain structs of strings, numbers and lists, which always serialize;
    // should one ever fail, the row still says so rather than losing the change.
    serde_json::to_string(value).unwrap_or_else(|e| {
        serde_json::json!({ "unrecorded": format!("the snapshot could not be written: {e}") })
            .to_string()
    })
}

/// An API key as its audit rows picture it: as listed, never its secret or digest.
pub fn key_snapshot(k: &ApiKey) -> String {
    snapshot(&serde_json::json!({
        "id": k.id,
        "kind": k.kind,
        "tenant": k.tenant,
        "label": k.label,
        "created_at": instant::format(k.created_at),
        "revoked_at": k.revoked_at.map(instant::format),
    }))
}

/// A funding's row: the balance before, and after with the amount, reference and lot made.
pub fn funding_snapshots(
    currency: Currency,
    balance_before: Decimal,
    balance_after: Decimal,
    amount: Decimal,
    reference: &str,
    lot: LotId,
) -> (String, String) {
    let before = serde_json::json!({ "balance": currency.format(balance_before) });
    let after = serde_json::json!({
        "balance": currency.format(balance_after),
        "amount": currency.format(amount),
        "reference": reference,
        "lot": lot,
    });
    (snapshot(&before), snapshot(&after))
}

/// A country table replaced: the row counts, and after, the ISO codes added, removed or
/// changed (the whole table would be too large for a row).
pub fn countries_snapshots(old: &CountryTable, new: &CountryTable) -> (String, String) {
    let codes: BTreeSet<Country> = old.rows().chain(new.rows()).map(|f| f.country).collect();
    let changed: Vec<String> = codes
        .into_iter()
        .filter(|&c| old.get(c) != new.get(c))
        .map(|c| c.to_string())
        .collect();
    let before = serde_json::json!({ "countries": old.rows().count() });
    let after = serde_json::json!({ "countries": new.rows().count(), "changed": changed });
    (snapshot(&before), snapshot(&after))
}

/// A rate card as its audit rows picture it: the `effective_from` of each version.
pub fn rate_card_snapshot(card: &RateCard) -> String {
    let versions: Vec<String> = card
        .versions()
        .iter()
        .map(|v| instant::format(v.effective_from))
        .collect();
    snapshot(&serde_json::json!({ "versions": versions }))
}

/// A dial-out policy as a tenant's picture names it.
#[derive(Serialize)]
struct PolicyPicture {
    name: String,
    conferencing_dial_out: String,
}

/// Purchased and assigned counts of one license.
#[derive(Serialize)]
struct LicenseCountPicture {
    sku: String,
    purchased: u32,
    assigned: u32,
}

/// A tenant and its directory in figures, as its audit rows picture it (the fields of the
/// API's tenant, in its order).
#[derive(Serialize)]
struct TenantPicture {
    id: String,
    name: String,
    country: String,
    currency: String,
    timezone: String,
    agreement: String,
    default_dial_out_policy: PolicyPicture,
    wallet_set_up: bool,
    licenses: Vec<LicenseCountPicture>,
    users: usize,
    numbers: usize,
}

impl TenantPicture {
    fn new(t: &Tenant) -> TenantPicture {
        let policy = |p: Policy| PolicyPicture {
            name: p.name.to_string(),
            conferencing_dial_out: p.scope.as_str().to_string(),
        };
        TenantPicture {
            id: t.id.clone(),
            name: t.name.clone(),
            country: t.country.to_string(),
            currency: t.currency.code().to_string(),
            timezone: t.timezone_name.clone(),
            agreement: t.agreement.as_str().to_string(),
            default_dial_out_policy: policy(t.default_policy),
            wallet_set_up: t.wallet().is_some(),
            licenses: Sku::ALL
                .iter()
                .map(|&sku| LicenseCountPicture {
                    sku: sku.code().to_string(),
                    purchased: t.purchases().current(sku),
                    assigned: t.assigned(sku),
                })
                .collect(),
            users: t.users().count(),
            numbers: t.numbers().count(),
        }
    }
}

/// A tenant as its audit rows picture it.
pub fn tenant_snapshot(t: &Tenant) -> String {
    snapshot(&TenantPicture::new(t))
}

/// The audit row of applying a tenant file: the tenant's figures before (`None` for a new
/// tenant) and after, with the file's changes (the figures alone would not say what changed).
pub fn apply_snapshots(
    before: Option<&Tenant>,
    after: &Tenant,
    changes: &[String],
) -> (Option<String>, String) {
    let before = before.map(tenant_snapshot);
    let mut after = serde_json::to_value(TenantPicture::new(after)).unwrap_or_default();
    if let Some(fields) = after.as_object_mut() {
        fields.insert("changes".to_string(), changes.into());
    }
    (before, snapshot(&after))
}
