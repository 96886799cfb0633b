//! `POST /api/v1/account/applications/token` (client id and secret → service token),
//! `POST /api/v1/account/applications/scoped-token` (a token limited to one customer) and
//! `POST /api/v1/account/applications/token/revoke` (a token, or a customer's tokens, ended
//! before they expire).

use axum::extract::{FromRequest, Request, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ApiJson, AppState, customer_of};
use crate::error::{ApiError, ErrorBody};
use crate::secrets;
use crate::store::Issuer;
use crate::tokens::{self, Bearer};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/account/applications/token", post(token))
        .route("/api/v1/applications/token", post(token))
        .route(
            "/api/v1/account/applications/scoped-token",
            post(scoped_token),
        )
        .route("/api/v1/account/applications/token/revoke", post(revoke))
}

/// An application's client credentials.
#[derive(Deserialize, ToSchema)]
pub(crate) struct TokenRequest {
    /// The application's client id.
    client_id: String,
    /// The application's client secret.
    client_secret: String,
}

/// A service token for the application.
#[derive(Serialize, ToSchema)]
pub(crate) struct TokenResponse {
    /// Send as `Authorization: Bearer <access_token>`.
    access_token: String,
    /// Always `bearer`.
    #[schema(example = "bearer")]
    token_type: &'static str,
    /// Seconds the token is valid for (at least 900).
    expires_in: u64,
    /// The application's organization.
    organization_id: String,
}

/// Compared against when the client id is unknown, so that an unknown id costs the same work as
/// a wrong secret.
const NO_APPLICATION_HASH: &str =
    "0000000000000000000000000000000000000000000000000000000000000000";

/// Trades an application's client id and secret for a service token (one request of the
/// application's rate limit).
#[utoipa::path(
    post,
    path = "/api/v1/account/applications/token",
    tag = "applications",
    request_body = TokenRequest,
    responses(
        (status = 200, description = "A service token", body = TokenResponse),
        (status = 401, description = "Unknown client id or wrong secret", body = ErrorBody),
        (status = 429, description = "Over the application's rate limit, or the application holds as many service tokens as the service issues it (the message says how many); retry after Retry-After seconds", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    )
)]
pub(crate) async fn token(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<TokenRequest>,
) -> Result<Json<TokenResponse>, ApiError> {
    let client_id = request.client_id.trim();
    // No client id holds a control character (and PostgreSQL's text cannot hold a NUL).
    let application = if client_id.chars().any(char::is_control) {
        None
    } else {
        state.store.application_by_client_id(client_id).await?
    };
    let expected = application
        .as_ref()
        .map_or(NO_APPLICATION_HASH, |app| app.client_secret_hash.as_str());
    let matches = secrets::same_hash(&secrets::hash(&request.client_secret), expected);
    let Some(application) = application.filter(|_| matches) else {
        return Err(ApiError::unauthorized("invalid client credentials"));
    };
    state.limiter.admit(&application.id)?;
    let token = tokens::issue(
        state.store.as_ref(),
        &application.id,
        None,
        state.token_ttl,
        Issuer::ClientSecret(&application.client_secret_hash),
        state.max_service_tokens,
    )
    .await?;
    Ok(Json(TokenResponse {
        access_token: token.expose_secret().to_string(),
        token_type: "bearer",
        expires_in: state.token_ttl.as_secs(),
        organization_id: application.organization_id,
    }))
}

/// The customer a scoped token is for: one of Airbyte's three names for it.
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({ "external_user_id": "customer-1" }))]
pub(crate) struct ScopedTokenRequest {
    customer_name: Option<String>,
    workspace_name: Option<String>,
    external_user_id: Option<String>,
}

/// A token limited to one customer's connectors.
#[derive(Serialize, ToSchema)]
pub(crate) struct ScopedTokenResponse {
    /// Send as `Authorization: Bearer <token>`.
    token: String,
    /// Seconds the token is valid for.
    expires_in: u64,
}

/// Issues a token limited to one customer's connectors (with an application token).
#[utoipa::path(
    post,
    path = "/api/v1/account/applications/scoped-token",
    tag = "applications",
    request_body = ScopedTokenRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A scoped token", body = ScopedTokenResponse),
        (status = 401, description = "A missing, invalid or expired token (or one deleted meanwhile by a rotation of the secret or a revocation)", body = ErrorBody),
        (status = 403, description = "The token is itself a scoped token, which cannot issue tokens", body = ErrorBody),
        (status = 422, description = "No customer named, names that disagree, or a name with a control character", body = ErrorBody),
        (status = 429, description = "Over the application's rate limit, or the application holds as many service tokens as the service issues it (the message says how many); retry after Retry-After seconds", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    )
)]
pub(crate) async fn scoped_token(
    State(state): State<AppState>,
    bearer: Bearer,
    body: Request,
) -> Result<Json<ScopedTokenResponse>, ApiError> {
    // The token first, then the body: the order of a route that takes a `Principal`.
    let principal = bearer.verify(state.store.as_ref(), &state.limiter).await?;
    let ApiJson(request) = ApiJson::<ScopedTokenRequest>::from_request(body, &state).await?;
    if principal.customer.is_some() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
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
        Issuer::Token(bearer.hash()),
        state.max_service_tokens,
    )
    .await?;
    Ok(Json(ScopedTokenResponse {
        token: token.expose_secret().to_string(),
        expires_in: state.token_ttl.as_secs(),
    }))
}

/// What to revoke: one token, or every token of one customer.
#[derive(Deserialize, ToSchema)]
pub(crate) struct RevokeRequest {
    /// The token, as issued (an application token or a scoped token).
    token: Option<String>,
    /// The customer whose scoped tokens all end, instead of one token (`workspace_name` and
    /// `external_user_id` are other names for it).
    customer_name: Option<String>,
    /// The same as `customer_name`.
    workspace_name: Option<String>,
    /// The same as `customer_name`.
    external_user_id: Option<String>,
}

/// What a revocation did.
#[derive(Serialize, ToSchema)]
pub(crate) struct RevokeResponse {
    /// Whether any token was found and deleted: `false` for a token already gone (revoked, or
    /// expired and deleted) or not the caller's to revoke, and for a customer without tokens. A
    /// token past its expiry that is still stored is deleted too, and counts.
    revoked: bool,
    /// How many tokens were deleted.
    count: u64,
}

/// Ends service tokens before they expire: one token, or every token scoped to one customer.
/// With an application token, any token the application issued, or any customer's; with a
/// scoped token, a token of its own customer (itself too) or all of them. A token handed to a
/// browser for one customer can so be ended when that session ends, and a customer's sessions
/// all at once (signed out everywhere, or a token leaked whose value is not known). Requests
/// already verified with a token finish; later ones get 401. The application's own tokens
/// end all at once with the rotation of its client secret (`integrations apps rotate-secret`).
#[utoipa::path(
    post,
    path = "/api/v1/account/applications/token/revoke",
    tag = "applications",
    request_body = RevokeRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "What was revoked", body = RevokeResponse),
        (status = 401, description = "A missing, invalid or expired token", body = ErrorBody),
        (status = 403, description = "A scoped token named another customer", body = ErrorBody),
        (status = 422, description = "Neither a token nor a customer named, both, names that disagree, or a name with a control character", body = ErrorBody),
        (status = 429, description = "Over the application's rate limit; retry after Retry-After seconds", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    )
)]
pub(crate) async fn revoke(
    State(state): State<AppState>,
    bearer: Bearer,
    body: Request,
) -> Result<Json<RevokeResponse>, ApiError> {
    let principal = bearer.verify(state.store.as_ref(), &state.limiter).await?;
    let ApiJson(request) = ApiJson::<RevokeRequest>::from_request(body, &state).await?;
    let customer = customer_of(
        request.customer_name.as_deref(),
        request.workspace_name.as_deref(),
        request.external_user_id.as_deref(),
    )?;
    let count = match (request.token, customer) {
        (Some(token), None) => u64::from(
            state
                .store
                .delete_token(
                    &secrets::hash(token.trim()),
                    &principal.application_id,
                    principal.customer.as_deref(),
                )
                .await?,
        ),
        (None, Some(customer)) => {
            if principal
                .customer
                .as_ref()
                .is_some_and(|own| *own != customer)
            {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "a scoped token revokes its own customer's tokens only; use the application's token for another customer's",
                ));
            }
            state
                .store
                .delete_customer_tokens(&principal.application_id, &customer)
                .await?
        }
        (Some(_), Some(_)) => {
            return Err(ApiError::unprocessable(
                "name a token or a customer to revoke, not both",
            ));
        }
        (None, None) => {
            return Err(ApiError::unprocessable(
                "name the token to revoke (token), or the customer whose tokens to revoke (customer_name)",
            ));
        }
    };
    Ok(Json(RevokeResponse {
        revoked: count > 0,
        count,
    }))
}
