//! The caller's own key: what it is (the console learns from it which pages to show) and the
//! preferences its holder keeps (the console's language).

use crate::access::Route;
use crate::app::{AppState, Caller, Json};
use crate::error::{ApiError, ApiResult};
use axum::extract::State;
use minutely_core::lang::Lang;
use minutely_service::Command;
use minutely_service::commands::settings::{SettingsAnswer, SettingsCommand};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

#[derive(OpenApi)]
#[openapi(components(schemas(MeJson, PreferencesRequest)))]
pub struct Doc;

/// The routes of this module, each with its access class (`crate::access`).
pub fn routes() -> Vec<Route> {
    use crate::access::Policy::*;
    vec![
        Route::documented(OwnKey, __path_me, me),
        Route::documented(OwnKey, __path_set_preferences, set_preferences),
    ]
}

/// The key a request was made with.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeJson {
    /// `operator`, `tenant_admin`, `bridge` or `edge`.
    pub kind: String,
    /// The tenant a `tenant_admin` or `bridge` key acts for; null for an operator or edge key.
    pub tenant: Option<String>,
    pub key_id: String,
    pub label: String,
    /// The language its holder chose (`en`, `ja`, `zh-CN`, `fr`, `de`); null until one is
    /// chosen, when clients follow `Accept-Language`.
    pub lang: Option<String>,
}

/// Preferences to keep for the caller's key.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreferencesRequest {
    /// One of `en`, `ja`, `zh-CN`, `fr`, `de`.
    pub lang: String,
}

async fn describe(state: &AppState, key_id: String) -> ApiResult<MeJson> {
    let key = state
        .keys
        .get(&key_id)
        .ok_or_else(|| ApiError::unauthorized("the API key is not valid"))?;
    let id = key_id.clone();
    let lang = state
        .read(move |store| Ok(store.preferred_lang(&id)?))
        .await?;
    Ok(MeJson {
        kind: key.kind,
        tenant: key.tenant,
        key_id,
        label: key.label,
        lang,
    })
}

/// Who the caller is: its key's kind, tenant, label and kept language.
#[utoipa::path(
    get,
    path = "/v1/me",
    responses(
        (status = 200, description = "The caller's key", body = MeJson),
        (status = 401, description = "No valid key", body = crate::app::ErrorBody)
    ),
    tag = "keys",
    security(("key" = []))
)]
pub async fn me(State(state): State<AppState>, Caller(caller): Caller) -> ApiResult<Json<MeJson>> {
    Ok(Json(describe(&state, caller.key_id().to_string()).await?))
}

/// Keeps the caller's language, for every later sign-in with the same key.
#[utoipa::path(
    put,
    path = "/v1/me/preferences",
    request_body = PreferencesRequest,
    responses(
        (status = 200, description = "Kept", body = MeJson),
        (status = 400, description = "Not one of the five languages", body = crate::app::ErrorBody),
        (status = 401, description = "No valid key", body = crate::app::ErrorBody)
    ),
    tag = "keys",
    security(("key" = []))
)]
pub async fn set_preferences(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Json(body): Json<PreferencesRequest>,
) -> ApiResult<Json<MeJson>> {
    let lang = Lang::from_tag(&body.lang).ok_or_else(|| {
        let shown: String = body.lang.chars().take(32).collect();
        ApiError::invalid(format!(
            "lang: {shown:?} is not a language of the console (en, ja, zh-CN, fr or de)"
        ))
    })?;
    let key_id = caller.key_id().to_string();
    let command = SettingsCommand::PreferredLang {
        key_id: key_id.clone(),
        lang,
    };
    state
        .writer
        .execute::<SettingsAnswer>(Command::Settings(command))
        .await?;
    Ok(Json(describe(&state, key_id).await?))
}
