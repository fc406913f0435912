//! The writes the writer carries out, as data: one `Command` per use case, carrying its
//! validated input, and its `Answer`. An adapter builds a command, sends it with
//! `Writer::execute` and gets the answer once the batch it joined is durable.

pub mod catalogue;
pub mod control;
pub mod directory;
pub mod guard;
pub mod reconcile;
pub mod rerate;
pub mod settings;
pub mod wallet;
pub mod webhooks;

use crate::audit::Actor;
use crate::error::{ServiceError, ServiceResult};
use crate::ingest::{Ingested, ingest_in_writer};
use crate::keys::{KeyKind, LastOperator, Revoked, create_key, revoke_key};
use crate::tenants::{TenantApplied, apply_in_writer};
use crate::writer::Ctx;
use catalogue::{CatalogueAnswer, CatalogueCommand};
use control::{ControlAnswer, ControlCommand};
use directory::{DirectoryAnswer, DirectoryCommand};
use guard::{GuardAnswer, GuardCommand};
use minutely_core::money::Currency;
use minutely_core::rating::CallRecord;
use minutely_formats::tenant_file::TenantFile;
use minutely_store::ApiKey;
use reconcile::{Reconcile, Reconciled};
use rerate::{Rerate, RerateReport};
use settings::{SettingsAnswer, SettingsCommand};
use wallet::{WalletAnswer, WalletCommand};
use webhooks::{WebhookAnswer, WebhookCommand};

/// A write, with its checked input.
pub enum Command {
    /// Create the tenant or make it match the file (its id is `tenant`'s), with the audit row.
    ApplyTenantFile {
        actor: Actor,
        tenant: String,
        file: Box<TenantFile>,
    },
    /// Rate and store a batch of call records (C22, C23).
    Ingest {
        tenant: String,
        records: Vec<CallRecord>,
    },
    /// Create an API key under the store's `secret` (the tenant, when given, must exist).
    CreateKey {
        actor: Actor,
        secret: [u8; 32],
        kind: KeyKind,
        tenant: Option<String>,
        label: String,
    },
    /// Revoke an API key.
    RevokeKey {
        actor: Actor,
        id: String,
        last: LastOperator,
    },
    /// Call control (C25 to C27) and the policy simulator.
    Control(ControlCommand),
    /// Writes to the wallet.
    Wallet(WalletCommand),
    /// A write of a tenant's directory (`directory`).
    Directory(DirectoryCommand),
    /// A write of the operator's catalogue (`catalogue`).
    Catalogue(CatalogueCommand),
    /// A write of a tenant's webhook endpoints (`webhooks`).
    Webhook(WebhookCommand),
    /// A write of a key's own settings (`settings`).
    Settings(SettingsCommand),
    /// Settle the calls the proxy saw end and the engine still holds (`reconcile`).
    Reconcile(Reconcile),
    /// Rate a tenant's calls of a period again after a rate-card fix (`rerate`).
    Rerate(Rerate),
    /// The toll-fraud guard's settings, approvals and liftings (`guard`).
    Guard(GuardCommand),
}

/// What a command did.
#[derive(Debug, Clone)]
pub enum Answer {
    TenantApplied(TenantApplied),
    Ingested {
        results: Vec<Ingested>,
        currency: Currency,
    },
    /// The key's record and its text, shown once.
    KeyCreated(ApiKey, String),
    KeyRevoked(Revoked),
    Control(ControlAnswer),
    Wallet(WalletAnswer),
    Directory(DirectoryAnswer),
    Catalogue(CatalogueAnswer),
    Webhook(WebhookAnswer),
    Settings(SettingsAnswer),
    Reconciled(Reconciled),
    Rerated(RerateReport),
    Guard(GuardAnswer),
}

impl Command {
    /// Carries the command out in the writer.
    pub fn execute(self, ctx: &mut Ctx<'_>) -> ServiceResult<Answer> {
        match self {
            Command::ApplyTenantFile {
                actor,
                tenant,
                file,
            } => apply_in_writer(ctx, &actor, &tenant, &file).map(Answer::TenantApplied),
            Command::Ingest { tenant, records } => {
                let (results, currency) = ingest_in_writer(ctx, &tenant, records)?;
                Ok(Answer::Ingested { results, currency })
            }
            Command::CreateKey {
                actor,
                secret,
                kind,
                tenant,
                label,
            } => {
                if let Some(t) = &tenant {
                    ctx.book(t)?;
                }
                let request = (kind, tenant.as_deref(), label.as_str());
                let (record, text) = create_key(ctx.store, (&secret, &actor), request, ctx.now)?;
                Ok(Answer::KeyCreated(record, text))
            }
            Command::RevokeKey { actor, id, last } => {
                revoke_key(ctx.store, &actor, &id, last, ctx.now).map(Answer::KeyRevoked)
            }
            Command::Control(command) => command.execute(ctx).map(Answer::Control),
            Command::Wallet(command) => command.execute(ctx).map(Answer::Wallet),
            Command::Directory(command) => command.execute(ctx).map(Answer::Directory),
            Command::Catalogue(command) => command.execute(ctx).map(Answer::Catalogue),
            Command::Webhook(command) => command.execute(ctx).map(Answer::Webhook),
            Command::Settings(command) => command.execute(ctx).map(Answer::Settings),
            Command::Reconcile(command) => command.execute(ctx).map(Answer::Reconciled),
            Command::Rerate(command) => command.execute(ctx).map(Answer::Rerated),
            Command::Guard(command) => command.execute(ctx).map(Answer::Guard),
        }
    }
}

/// An answer of one kind, taken out of `Answer`.
pub trait FromAnswer: Sized {
    fn from_answer(answer: Answer) -> Option<Self>;
}

impl FromAnswer for Answer {
    fn from_answer(answer: Answer) -> Option<Answer> {
        Some(answer)
    }
}

impl FromAnswer for TenantApplied {
    fn from_answer(answer: Answer) -> Option<TenantApplied> {
        match answer {
            Answer::TenantApplied(a) => Some(a),
            _ => None,
        }
    }
}

impl FromAnswer for (Vec<Ingested>, Currency) {
    fn from_answer(answer: Answer) -> Option<(Vec<Ingested>, Currency)> {
        match answer {
            Answer::Ingested { results, currency } => Some((results, currency)),
            _ => None,
        }
    }
}

impl FromAnswer for (ApiKey, String) {
    fn from_answer(answer: Answer) -> Option<(ApiKey, String)> {
        match answer {
            Answer::KeyCreated(record, text) => Some((record, text)),
            _ => None,
        }
    }
}

impl FromAnswer for Revoked {
    fn from_answer(answer: Answer) -> Option<Revoked> {
        match answer {
            Answer::KeyRevoked(r) => Some(r),
            _ => None,
        }
    }
}

impl Answer {
    fn name(&self) -> &'static str {
        match self {
            Answer::TenantApplied(_) => "TenantApplied",
            Answer::Ingested { .. } => "Ingested",
            Answer::KeyCreated(..) => "KeyCreated",
            Answer::KeyRevoked(_) => "KeyRevoked",
            Answer::Control(_) => "Control",
            Answer::Wallet(_) => "Wallet",
            Answer::Directory(_) => "Directory",
            Answer::Catalogue(_) => "Catalogue",
            Answer::Webhook(_) => "Webhook",
            Answer::Settings(_) => "Settings",
            Answer::Reconciled(_) => "Reconciled",
            Answer::Rerated(_) => "Rerated",
            Answer::Guard(_) => "Guard",
        }
    }
}

/// The answer of the kind asked, or an internal error naming the mismatch.
pub fn expect_answer<A: FromAnswer>(answer: Answer) -> ServiceResult<A> {
    let name = answer.name();
    A::from_answer(answer).ok_or_else(|| {
        ServiceError::internal(format!(
            "the writer answered {name} to a command expecting another answer"
        ))
    })
}
