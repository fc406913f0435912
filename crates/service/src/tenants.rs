//! Applying a tenant file, with its audit row: once, for the API (in the writer, on the tenants
//! in memory) and the command line (on the store). The tenant is created or made to match the
//! file; declared fundings are applied once each, by reference; a refusal changes nothing and
//! names its place in the file.

use crate::audit::{Actor, apply_snapshots};
use crate::error::{ServiceError, ServiceResult};
use crate::writer::Ctx;
use jiff::Timestamp;
use minutely_core::catalogue::CountryTable;
use minutely_core::directory::AmountRules;
use minutely_core::engine::TenantBook;
use minutely_core::ledger::LotSource;
use minutely_formats::tenant_file::{self, Applied, FileError, TenantFile};
use minutely_store::{AuditEntry, Commit, Store};
use std::collections::BTreeSet;

/// What applying a tenant file did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantApplied {
    pub tenant: String,
    /// True when the file created the tenant.
    pub created: bool,
    /// One sentence per change, in the order made; empty when nothing changed.
    pub changes: Vec<String>,
}

/// A refused tenant file: where in the file, and why (with the reason when a charging rule
/// refused it, else unprocessable: the text is not a tenant file).
pub fn file_error(e: FileError) -> ServiceError {
    let detail = format!("{}: {} (nothing was changed)", e.location, e.message);
    match e.reason {
        Some(reason) => ServiceError::reason(reason, detail),
        None => ServiceError::unprocessable(detail),
    }
}

/// Applies `file` to the tenant's current book (`None` for a new tenant) with the catalogue's
/// country table and amount rules; `refs` are the funding references already applied. Returns
/// the change and its audit row, or `None` when the tenant already matches the file.
fn apply_file(
    file: &TenantFile,
    existing: Option<&TenantBook>,
    (countries, rules): (&CountryTable, &AmountRules),
    refs: &BTreeSet<String>,
    (actor, now): (&Actor, Timestamp),
) -> ServiceResult<Option<(Applied, AuditEntry)>> {
    let applied = tenant_file::apply(file, existing, countries, rules, refs).map_err(file_error)?;
    if applied.changes.is_empty() {
        return Ok(None);
    }
    let id = file.tenant_id();
    let (before, after) = apply_snapshots(
        existing.map(|b| &b.tenant),
        &applied.book.tenant,
        &applied.changes,
    );
    let entry = actor.entry(now, Some(id), "tenant.apply", id, before, Some(after));
    Ok(Some((applied, entry)))
}

/// The funding references already applied to a tenant in the writer: those committed, and
/// those of this batch not yet committed (scheduled, or made as lots), so a reference is never
/// applied twice.
fn applied_refs(ctx: &mut Ctx<'_>, tenant: &str) -> ServiceResult<BTreeSet<String>> {
    let mut refs: BTreeSet<String> = ctx.store.funding_refs(tenant)?.into_iter().collect();
    refs.extend(ctx.pending_funding_refs(tenant));
    if let Some(book) = ctx.books.get(tenant) {
        refs.extend(book.scheduled.iter().map(|f| f.reference.clone()));
        refs.extend(book.wallet.lots().filter_map(|lot| match &lot.source {
            LotSource::Manual { reference } => Some(reference.clone()),
            LotSource::AutoRecharge { .. } => None,
        }));
    }
    Ok(refs)
}

/// Applies a tenant file in the writer (the API): the file's id must be `tenant`'s, checked by
/// the caller. A new tenant's id must be one the API can name in a path. Live calls keep their
/// holds: the reservations are the writer's, not the file's.
pub fn apply_in_writer(
    ctx: &mut Ctx<'_>,
    actor: &Actor,
    tenant: &str,
    file: &TenantFile,
) -> ServiceResult<TenantApplied> {
    let created = !ctx.books.contains_key(tenant);
    if created {
        minutely_core::ident::tenant_id("id", tenant)?;
    }
    let refs = applied_refs(ctx, tenant)?;
    let catalogue = (&ctx.catalogue.countries, &ctx.catalogue.rules);
    let applied = apply_file(
        file,
        ctx.books.get(tenant),
        catalogue,
        &refs,
        (actor, ctx.now),
    )?;
    let Some((applied, entry)) = applied else {
        return Ok(TenantApplied {
            tenant: tenant.to_string(),
            created: false,
            changes: Vec::new(),
        });
    };
    ctx.audit(entry);
    // The file was applied to a copy of the loaded book: its live calls and seen ids are
    // already there, their holds kept in step by `LiveCalls`.
    ctx.books.insert(tenant.to_string(), applied.book);
    ctx.directory_changed(tenant);
    ctx.effects(tenant, applied.effects);
    for reference in applied.funding_refs {
        ctx.funding_ref(tenant, reference);
    }
    Ok(TenantApplied {
        tenant: tenant.to_string(),
        created,
        changes: applied.changes,
    })
}

/// Applies a tenant file to the store directly (the command line, under the store's owner
/// lock) and saves the tenant with its audit row in one transaction.
pub fn apply_to_store(
    store: &mut Store,
    actor: &Actor,
    file: &TenantFile,
    now: Timestamp,
) -> ServiceResult<TenantApplied> {
    let id = file.tenant_id().to_string();
    let existing = store.load_book(&id)?;
    let refs: BTreeSet<String> = store.funding_refs(&id)?.into_iter().collect();
    let countries = store.countries()?;
    let rules = store.amount_rules()?;
    let created = existing.is_none();
    let applied = apply_file(
        file,
        existing.as_ref(),
        (&countries, &rules),
        &refs,
        (actor, now),
    )?;
    let Some((applied, entry)) = applied else {
        return Ok(TenantApplied {
            tenant: id,
            created: false,
            changes: Vec::new(),
        });
    };
    let commit = Commit {
        entries: applied.effects.entries,
        events: applied.effects.events,
        funding_refs: applied.funding_refs,
        ..Commit::default()
    };
    store.atomically(|store| {
        store.save(&applied.book, &commit)?;
        store.append_audit(&[entry])
    })?;
    Ok(TenantApplied {
        tenant: id,
        created,
        changes: applied.changes,
    })
}
