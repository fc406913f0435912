//! `minutely keys ...`: API keys, on the store directly. A running server sees a key created or
//! revoked here within a second (its key cache is refreshed from the store every second).

use crate::output::{emit, open_store};
use anyhow::{Result, bail};
use clap::{Subcommand, ValueEnum};
use minutely_formats::instant;
use minutely_service::audit::Actor;
use minutely_service::keys::{KeyKind, LastOperator, Revoked, create_key, revoke_key};
use minutely_service::{Kind as ErrorKind, ServiceError};
use std::path::Path;

/// The longest label accepted (as the API does).
const MAX_LABEL_BYTES: usize = 256;

#[derive(Clone, Copy, ValueEnum)]
pub enum Kind {
    /// Everything, every tenant.
    Operator,
    /// One tenant's administration (licenses, wallet, reports, webhooks).
    TenantAdmin,
    /// One tenant's call control and call ingestion.
    Bridge,
    /// The SIP edge (a proxy in the call path): call control for every tenant, nothing else.
    Edge,
}

impl Kind {
    fn key_kind(self) -> KeyKind {
        match self {
            Kind::Operator => KeyKind::Operator,
            Kind::TenantAdmin => KeyKind::TenantAdmin,
            Kind::Bridge => KeyKind::Bridge,
            Kind::Edge => KeyKind::Edge,
        }
    }
}

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Create a key and print it, once: only its digest is stored, so it cannot be shown again.
    ///
    /// The key is the only thing written to stdout (so `KEY=$(minutely keys create ...)` works);
    /// what it is and the warning go to stderr. A running server accepts it within a second.
    ///
    /// Example: minutely keys create --kind tenant-admin --tenant contoso --label "Contoso IT"
    ///
    /// Example: minutely keys create --kind edge --label proxy
    Create {
        /// What the key may do.
        #[arg(long, value_enum)]
        kind: Kind,
        /// The tenant a tenant-admin or bridge key acts for (refused for an operator or edge key).
        #[arg(long)]
        tenant: Option<String>,
        /// Who holds the key, for people reading `keys list`.
        #[arg(long, default_value = "")]
        label: String,
    },
    /// Every key, revoked ones included: id, kind, tenant, label, created, revoked (never a
    /// secret).
    ///
    /// Example: minutely keys list
    List,
    /// Revoke a key. A running server refuses it within a second (`key_revoked`); one revoked
    /// through the API (`DELETE /v1/keys/{id}`) is refused by that server at once.
    ///
    /// Example: minutely keys revoke 3f2a9c1b7d4e
    Revoke {
        /// The key's id (the part after `mk_`, as `keys list` shows it).
        id: String,
    },
}

pub fn run(db: &Path, command: KeysCommand) -> Result<()> {
    match command {
        KeysCommand::Create {
            kind,
            tenant,
            label,
        } => create(db, kind.key_kind(), tenant, &label),
        KeysCommand::List => list(db),
        KeysCommand::Revoke { id } => revoke(db, &id),
    }
}

fn create(db: &Path, kind: KeyKind, tenant: Option<String>, label: &str) -> Result<()> {
    if label.len() > MAX_LABEL_BYTES {
        bail!("--label is longer than {MAX_LABEL_BYTES} bytes");
    }
    match (kind, &tenant) {
        (KeyKind::Operator | KeyKind::Edge, Some(t)) => bail!(
            "--tenant {t:?}: an {} key acts for every tenant; leave --tenant out",
            kind.as_str()
        ),
        (KeyKind::TenantAdmin | KeyKind::Bridge, None) => {
            bail!(
                "--tenant is required: a {} key acts for one tenant",
                kind.as_str()
            )
        }
        _ => {}
    }
    let mut store = open_store(db)?;
    if let Some(t) = &tenant
        && !store.tenant_ids()?.contains(t)
    {
        bail!(
            "unknown_tenant: no tenant {t:?} in the store (create it with `minutely apply -f FILE`)"
        );
    }
    let secret = store.key_secret()?;
    let (record, text) = create_key(
        &mut store,
        (&secret, &Actor::cli()),
        (kind, tenant.as_deref(), label),
        jiff::Timestamp::now(),
    )?;
    let whose = match &record.tenant {
        Some(t) => format!(" for tenant {t}"),
        None => String::new(),
    };
    eprintln!("created {} key {}{whose}", record.kind, record.id);
    eprintln!(
        "warning: this is the only time the key is shown; it cannot be shown again. Keep it now."
    );
    emit(&format!("{text}\n"))
}

fn list(db: &Path) -> Result<()> {
    let store = open_store(db)?;
    let mut out = String::from("id\tkind\ttenant\tlabel\tcreated_at\trevoked_at\n");
    for k in store.keys()? {
        out.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\t{}\n",
            k.id,
            k.kind,
            k.tenant.as_deref().unwrap_or("-"),
            k.label.replace(['\t', '\n', '\r'], " "),
            instant::format(k.created_at),
            k.revoked_at.map(instant::format).as_deref().unwrap_or("-"),
        ));
    }
    emit(&out)
}

fn revoke(db: &Path, id: &str) -> Result<()> {
    let mut store = open_store(db)?;
    let at = jiff::Timestamp::now();
    // The command line may revoke the last operator key: it can always make another.
    match revoke_key(&mut store, &Actor::cli(), id, LastOperator::MayRevoke, at) {
        Ok(Revoked::Already(key)) => emit(&format!(
            "key {id} was already revoked at {}\n",
            key.revoked_at.map(instant::format).unwrap_or_default()
        )),
        Ok(Revoked::Now(_)) => emit(&format!(
            "revoked key {id} at {}; a running server refuses it within a second\n",
            instant::format(at)
        )),
        Err(ServiceError {
            kind: ErrorKind::NotFound,
            ..
        }) => bail!("no key {id:?} (see `minutely keys list`)"),
        Err(e) => Err(e.into()),
    }
}
