//! A tenant's webhook endpoints, as commands: one registered, one disabled. Each is written
//! with its audit row in a transaction of its own (the batch's commit writes tenants' changes
//! and audit rows only; endpoints are rows of their own, which the deliverer reads).

use crate::audit::Actor;
use crate::commands::{Answer, FromAnswer};
use crate::error::{ServiceError, ServiceResult};
use crate::writer::Ctx;
use jiff::Timestamp;
use minutely_store::{StoreError, WebhookEndpoint};

/// How the adapter pictures an endpoint in its audit rows (never its secret).
pub type EndpointPicture = fn(&WebhookEndpoint) -> String;

/// A write of a tenant's webhook endpoints.
pub enum WebhookCommand {
    /// Register `endpoint` (its tenant must exist and have fewer than `limit` enabled
    /// endpoints: `conflict` otherwise).
    Create {
        actor: Actor,
        endpoint: Box<WebhookEndpoint>,
        limit: usize,
        picture: EndpointPicture,
    },
    /// Disable `endpoint` (as read) at `at`; one disabled meanwhile is left as it is.
    Disable {
        actor: Actor,
        endpoint: Box<WebhookEndpoint>,
        at: Timestamp,
        picture: EndpointPicture,
    },
}

/// What a webhook command did.
#[derive(Debug, Clone)]
pub enum WebhookAnswer {
    Created,
    /// False when another request disabled the endpoint first.
    Disabled(bool),
}

impl WebhookCommand {
    /// Carries the command out in the writer.
    pub fn execute(self, ctx: &mut Ctx<'_>) -> ServiceResult<WebhookAnswer> {
        match self {
            WebhookCommand::Create {
                actor,
                endpoint,
                limit,
                picture,
            } => create(ctx, &actor, &endpoint, limit, picture),
            WebhookCommand::Disable {
                actor,
                endpoint,
                at,
                picture,
            } => {
                let disabled = WebhookEndpoint {
                    disabled_at: Some(at),
                    ..(*endpoint).clone()
                };
                let entry = actor.entry(
                    at,
                    Some(&endpoint.tenant),
                    "webhook.disable",
                    &endpoint.id,
                    Some(picture(&endpoint)),
                    Some(picture(&disabled)),
                );
                let done = ctx.store.atomically(|store| {
                    // Disabled meanwhile by another request: that one has the row.
                    let done = store.disable_endpoint(&endpoint.id, at)?;
                    if done {
                        store.append_audit(&[entry])?;
                    }
                    Ok::<_, StoreError>(done)
                })?;
                Ok(WebhookAnswer::Disabled(done))
            }
        }
    }
}

fn create(
    ctx: &mut Ctx<'_>,
    actor: &Actor,
    endpoint: &WebhookEndpoint,
    limit: usize,
    picture: EndpointPicture,
) -> ServiceResult<WebhookAnswer> {
    let tenant = endpoint.tenant.as_str();
    ctx.book(tenant)?;
    let enabled = ctx
        .store
        .endpoints(Some(tenant))?
        .iter()
        .filter(|e| e.disabled_at.is_none())
        .count();
    if enabled >= limit {
        return Err(ServiceError::conflict(format!(
            "tenant {tenant:?} already has {enabled} enabled webhook endpoints (the limit is \
             {limit}); disable one first"
        )));
    }
    let entry = actor.entry(
        ctx.now,
        Some(tenant),
        "webhook.create",
        &endpoint.id,
        None,
        Some(picture(endpoint)),
    );
    ctx.store.atomically(|store| {
        store.insert_endpoint(endpoint)?;
        store.append_audit(&[entry])
    })?;
    Ok(WebhookAnswer::Created)
}

impl FromAnswer for WebhookAnswer {
    fn from_answer(answer: Answer) -> Option<WebhookAnswer> {
        match answer {
            Answer::Webhook(a) => Some(a),
            _ => None,
        }
    }
}
