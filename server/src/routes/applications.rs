//! `POST /api/v1/account/applications/token` (client id and secret → service token) and
//! `POST /api/v1/account/applications/scoped-token` (a token limited to one customer).

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiJson, AppState, customer_of};
use crate::error::ApiError;
use crate::secrets;
use crate::tokens::{self, Principal};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/account/applications/token", post(token))
        .route(
            "/api/v1/account/applications/scoped-token",
            post(scoped_token),
        )
}

#[derive(Deserialize)]
struct TokenRequest {
    client_id: String,
    client_secret: String,
}

/// Compared against when the client id is unknown, so that an unknown id costs the same work as
/// a wrong secret.
const NO_APPLICATION_HASH: &str =
    "0000000000000000000000000000000000000000000000000000000000000000";

async fn token(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<TokenRequest>,
) -> Result<Json<Value>, ApiError> {
    let application = state
        .store
        .application_by_client_id(request.client_id.trim())
        .await?;
    let expected = application
        .as_ref()
        .map_or(NO_APPLICATION_HASH, |app| app.client_secret_hash.as_str());
    let matches = secrets::same_hash(&secrets::hash(&request.client_secret), expected);
    let Some(application) = application.filter(|_| matches) else {
        return Err(ApiError::unauthorized("invalid client credentials"));
    };
    let token = tokens::issue(state.store.as_ref(), &application.id, None, state.token_ttl).await?;
    Ok(Json(json!({
        "access_token": token.expose_secret(),
        "token_type": "bearer",
        "expires_in": state.token_ttl.as_secs(),
        "organization_id": application.organization_id,
    })))
}

#[derive(Deserialize)]
struct ScopedTokenRequest {
    customer_name: Option<String>,
    workspace_name: Option<String>,
    external_user_id: Option<String>,
}

async fn scoped_token(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(request): ApiJson<ScopedTokenRequest>,
) -> Result<Json<Value>, ApiError> {
    if principal.customer.is_some() {
        return Err(ApiError::unauthorized(
            "a scoped token cannot issue tokens; use the application's token from POST /api/v1/account/applications/token",
        ));
    }
    let customer = customer_of(
        request.customer_name.as_deref(),
        request.workspace_name.as_deref(),
        request.external_user_id.as_deref(),
    )?
    .ok_or_else(|| {
        ApiError::unprocessable(
            "name the customer with workspace_name, customer_name or external_user_id",
        )
    })?;
    let token = tokens::issue(
        state.store.as_ref(),
        &principal.application_id,
        Some(customer),
        state.token_ttl,
    )
    .await?;
    Ok(Json(json!({
        "token": token.expose_secret(),
        "expires_in": state.token_ttl.as_secs(),
    })))
}
