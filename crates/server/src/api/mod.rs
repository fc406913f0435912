//! The `/v1` routes, one module per capability, and the OpenAPI document built from them.

use crate::app::AppState;
use axum::Router;
use utoipa::OpenApi;

pub mod catalogue;
pub mod control;
pub mod directory;
pub mod hooks;
pub mod keys;
pub mod ops;
pub mod reports;
pub mod types;
pub mod wallet;

/// Every route of the server.
pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(ops::routes())
        .merge(control::routes())
        .merge(catalogue::routes())
        .merge(directory::routes())
        .merge(wallet::routes())
        .merge(reports::routes())
        .merge(hooks::routes())
        .merge(keys::routes())
}

/// The OpenAPI document of every route, generated from the code.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = ops::Doc::openapi();
    for part in [
        control::Doc::openapi(),
        catalogue::Doc::openapi(),
        directory::Doc::openapi(),
        wallet::Doc::openapi(),
        reports::Doc::openapi(),
        hooks::Doc::openapi(),
        keys::Doc::openapi(),
    ] {
        doc.merge(part);
    }
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "key",
        utoipa::openapi::security::SecurityScheme::Http(
            utoipa::openapi::security::HttpBuilder::new()
                .scheme(utoipa::openapi::security::HttpAuthScheme::Bearer)
                .description(Some(
                    "An API key `mk_<id>_<secret>`: operator, tenant admin or bridge.",
                ))
                .build(),
        ),
    );
    doc.info.title = "Minutely API".to_string();
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    doc.info.description = Some(
        "Billing and real-time charging for pay-per-minute audio conferencing. Money is a \
         decimal string; errors carry a stable code and a message localized by \
         Accept-Language."
            .to_string(),
    );
    doc
}
