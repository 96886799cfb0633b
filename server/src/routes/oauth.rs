//! The consent flow and applications' own OAuth apps.
//!
//! - `POST /api/v1/integrations/connectors/oauth/initiate`: the provider's consent URL (state, PKCE
//!   S256, scopes, and the service's callback as `redirect_uri`) for a customer, to send the user
//!   to. The state is stored, hashed, with everything the callback needs, so the callback may land
//!   on any instance sharing the store. The `redirect_url` the user returns to must be on an
//!   origin the application registered: no open redirect.
//! - `GET /api/v1/oauth/callback`: where the provider sends the user back. Takes the state once,
//!   exchanges the code, creates the connector and sends the user on to
//!   `redirect_url?connector_id=ID&secret_id=S`, or `redirect_url?error=CODE`
//!   ([`ConsentFailure`]). `S` serves applications that finish the flow the older way: creating
//!   a connector with `server_side_oauth_secret_id: S` answers the same connector, once, within
//!   [`OAUTH_SECRET_ID_TTL`] (only its hash is stored). A state
//!   the service did not issue, or issued and saw used or expired, is 400: then there is no
//!   trusted `redirect_url` to send the user to.
//! - `PUT /api/v1/oauth/credentials`, `GET` and `DELETE
//!   /api/v1/oauth/credentials/connector_type/{type}`: the application's own OAuth app for a
//!   provider ("bring your own app"), used instead of the service's by consent flows and by
//!   OAuth connectors without a client of their own. Its secret is sealed and never answered.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Redirect;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use integrations::auth_core::PendingStateStore;
use integrations::auth_core::pending::PendingState;
use integrations::{AuthError, AuthorizeOptions, ErrorClass, OAuth2Flow, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;
use utoipa::{IntoParams, ToSchema};

use super::connectors::{NewConnector, default_name, save_new};
use super::{ApiJson, ApiPath, ApiQuery, AppState, Audit, from_json, rfc3339, to_completion};
use crate::error::{ApiError, ErrorBody};
use crate::providers::{ConnectorType, OAuthClient};
use crate::secrets::{self, Purpose};
use crate::store::{
    AuthKind, ConnectorRecord, OAuthAppRecord, OAuthAppSource, OAuthSecretRecord, OAuthStateRecord,
};
use crate::tokens::Principal;

/// How long a consent flow may take, from `initiate` to the callback.
const CONSENT_TTL: Duration = Duration::from_secs(600);

/// How long the `secret_id` a consent flow's callback sends to the application's `redirect_url`
/// may be claimed (once) with `server_side_oauth_secret_id` on `POST
/// /api/v1/integrations/connectors`, which answers the connector the flow created.
pub const OAUTH_SECRET_ID_TTL: Duration = Duration::from_secs(15 * 60);

/// The service's callback, below its public URL.
const CALLBACK_PATH: &str = "/api/v1/oauth/callback";

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/integrations/connectors/oauth/initiate",
            post(initiate),
        )
        .route(CALLBACK_PATH, get(callback))
        .route("/api/v1/oauth/credentials", put(set_app))
        .route(
            "/api/v1/oauth/credentials/connector_type/{connector_type}",
            get(read_app).delete(delete_app),
        )
}

/// Where the user returns after the consent, beside [`NewConnector`]'s fields.
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({
    "external_user_id": "customer-1",
    "connector_type": "Asana",
    "redirect_url": "https://app.example.com/connected",
}))]
pub(crate) struct InitiateRequest {
    /// On an origin the application registered; gets `?connector_id=ID&secret_id=S` or
    /// `?error=CODE`.
    redirect_url: String,
}

/// Where to send the user.
#[derive(Serialize, ToSchema)]
pub(crate) struct ConsentUrl {
    /// The provider's consent page for this flow.
    consent_url: String,
}

/// Starts a consent flow for a customer: the provider's consent URL to send the user to. The
/// body is a [`NewConnector`] and an [`InitiateRequest`].
#[utoipa::path(
    post,
    path = "/api/v1/integrations/connectors/oauth/initiate",
    tag = "oauth",
    request_body = InitiateRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The consent URL", body = ConsentUrl),
        (status = 404, description = "A scoped token named another customer", body = ErrorBody),
        (status = 501, description = "The service has no public URL for the provider to return to", body = ErrorBody),
    )
)]
pub(crate) async fn initiate(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<ConsentUrl>, ApiError> {
    let (customer, kind, name) =
        from_json::<NewConnector>(body.clone())?.resolve(&state, &principal)?;
    let request: InitiateRequest = from_json(body)?;
    let redirect_url = registered_redirect(&state, &principal, &request.redirect_url).await?;
    let callback = callback_url(state.public_url.as_deref())?;
    let source = state
        .connectors
        .shared_app_for(&principal.application_id, &kind)
        .await?;
    if source == OAuthAppSource::Service && !state.service_app_consent {
        let name = kind.display_name();
        return Err(ApiError::unprocessable(format!(
            "this service runs consent flows only through each application's own OAuth app, and this application has none for {name}: set it with PUT /api/v1/oauth/credentials"
        )));
    }
    let endpoint = state
        .connectors
        .shared_endpoint(&principal.application_id, &kind, source)
        .await?;
    let scopes = state.connectors.consent_scopes(&kind, &endpoint);
    let issued = Arc::new(Issued::default());
    let authorization = OAuth2Flow::new(endpoint.clone(), issued.clone())
        .map_err(consent_setup)?
        .authorize(
            AuthorizeOptions::unbound()
                .redirect_uri(callback.clone())
                .scopes(scopes.clone()),
        )
        .await
        .map_err(consent_setup)?;
    // A provider without PKCE (Notion, Slack, HubSpot) issues no verifier: an empty one is
    // kept, and the callback sends none.
    let pkce = endpoint
        .provider()
        .oauth2_settings()
        .is_some_and(|settings| settings.pkce);
    let verifier = match (issued.verifier(), pkce) {
        (Some(verifier), _) => verifier,
        (None, false) => SecretString::from(""),
        (None, true) => return Err(consent_setup("no PKCE verifier was issued")),
    };
    let state_hash = secrets::hash(&authorization.state);
    let pkce_verifier =
        state
            .connectors
            .sealer()
            .seal(Purpose::PkceVerifier, &state_hash, &verifier)?;
    state
        .store
        .put_oauth_state(OAuthStateRecord {
            state_hash,
            application_id: principal.application_id.clone(),
            customer_name: customer,
            connector_type: kind.id().to_string(),
            name: Some(name),
            pkce_verifier,
            redirect_uri: callback.to_string(),
            scopes,
            redirect_url: redirect_url.to_string(),
            oauth_app: source,
            expires_at: SystemTime::now() + CONSENT_TTL,
        })
        .await?;
    Ok(Json(ConsentUrl {
        consent_url: authorization.url.to_string(),
    }))
}

/// `redirect_url` if it is an http(s) URL on one of the application's registered origins
/// (scheme, host and port exactly); 422 otherwise.
async fn registered_redirect(
    state: &AppState,
    principal: &Principal,
    redirect_url: &str,
) -> Result<Url, ApiError> {
    let application = state
        .store
        .application(&principal.application_id)
        .await?
        .ok_or_else(|| ApiError::unauthorized("the application of this token no longer exists"))?;
    let url = Url::parse(redirect_url.trim())
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https") && url.host().is_some());
    let origin = url.as_ref().map(|url| url.origin().ascii_serialization());
    match (url, origin) {
        (Some(url), Some(origin)) if application.redirect_origins.contains(&origin) => Ok(url),
        _ => Err(ApiError::unprocessable(
            "redirect_url must be an http(s) URL on an origin registered for this application (integrations apps create --redirect-origin URL)",
        )),
    }
}

/// `{public_url}/api/v1/oauth/callback`; without a public URL the service cannot run consent
/// flows (501).
fn callback_url(public_url: Option<&Url>) -> Result<Url, ApiError> {
    let public_url = public_url.ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            "this service runs no consent flows: it was started without a public URL (integrations serve --public-url URL)",
        )
    })?;
    let base = public_url.as_str().trim_end_matches('/');
    Url::parse(&format!("{base}{CALLBACK_PATH}"))
        .map_err(|_| consent_setup("the public URL cannot carry the callback path"))
}

fn consent_setup(e: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "cannot start a consent flow");
    ApiError::misconfigured(
        "cannot start the consent flow; check the service's provider configuration",
    )
}

/// Receives the pending authorization [`OAuth2Flow::authorize`] issues, which `initiate` then
/// stores with the flow's context in the service's store. States are taken from there by the
/// callback, never from here.
#[derive(Debug, Default)]
struct Issued(Mutex<Option<PendingState>>);

impl Issued {
    fn verifier(&self) -> Option<SecretString> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .and_then(|pending| pending.verifier)
    }
}

#[async_trait]
impl PendingStateStore for Issued {
    async fn insert(&self, _state: &str, pending: PendingState) -> Result<(), AuthError> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(pending);
        Ok(())
    }

    async fn take(&self, provider: &str, _state: &str) -> Result<PendingState, AuthError> {
        Err(AuthError::UnknownState {
            provider: provider.to_string(),
        })
    }
}

/// The provider's authorization response (RFC 6749 §4.1.2).
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    /// Set when the user declined or the provider refused.
    error: Option<String>,
}

/// Why a consent flow ended without a connector: the `error` sent to the application's
/// `redirect_url`. Never the provider's description, which is not ours to forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ConsentFailure {
    /// The user declined (Asana's `access_denied`).
    AccessDenied,
    /// Asana refused the authorization request, or came back without a code.
    AuthorizationFailed,
    /// The provider refused to trade the code for tokens, or the OAuth app to trade it with is
    /// gone.
    ExchangeFailed,
    /// The provider said it could not serve the authorization for now, or did not answer the
    /// exchange in time, or answered it with a server error; or the service's store failed for
    /// now (reading the OAuth app, keeping the connector: the grant is then revoked as for
    /// `ServerError`): the user may start the connection again.
    TemporarilyUnavailable,
    /// The service failed to keep the connector for good (the grant it was given is revoked
    /// where revoking ends that grant's tokens only).
    ServerError,
}

impl ConsentFailure {
    fn as_str(self) -> &'static str {
        match self {
            ConsentFailure::AccessDenied => "access_denied",
            ConsentFailure::AuthorizationFailed => "authorization_failed",
            ConsentFailure::ExchangeFailed => "exchange_failed",
            ConsentFailure::TemporarilyUnavailable => "temporarily_unavailable",
            ConsentFailure::ServerError => "server_error",
        }
    }

    /// From the `error` of an authorization response (RFC 6749 §4.1.2.1).
    fn from_provider(error: &str) -> Self {
        match error {
            "access_denied" => ConsentFailure::AccessDenied,
            "temporarily_unavailable" | "server_error" => ConsentFailure::TemporarilyUnavailable,
            _ => ConsentFailure::AuthorizationFailed,
        }
    }
}

/// Where the provider sends the user back: creates the connector and sends the user on to the
/// flow's `redirect_url`, with the connector's id and a single-use `secret_id` for
/// `server_side_oauth_secret_id`.
#[utoipa::path(
    get,
    path = "/api/v1/oauth/callback",
    tag = "oauth",
    params(CallbackQuery),
    responses(
        (status = 303, description = "To the flow's redirect_url with ?connector_id=ID&secret_id=S (S: a single-use handle, valid 15 minutes, that POST /api/v1/integrations/connectors takes as server_side_oauth_secret_id and answers with the same connector), or ?error=CODE: access_denied (the user declined), authorization_failed (the provider refused the request or sent no code), exchange_failed (the provider refused the code, or the OAuth app is gone), temporarily_unavailable (the provider, or the service's store, failed for now: start again), server_error (the service could not read the OAuth app or keep the connector, for good)",
            headers(("Location" = String, description = "The flow's redirect_url"))),
        (status = 400, description = "The state is unknown, expired or used (no trusted redirect_url), or the query cannot be read", body = ErrorBody),
    )
)]
pub(crate) async fn callback(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<CallbackQuery>,
) -> Result<Redirect, ApiError> {
    let started = Instant::now();
    let pending = match query.state.as_deref().filter(|s| !s.is_empty()) {
        Some(value) => {
            state
                .store
                .take_oauth_state(&secrets::hash(value), SystemTime::now())
                .await?
        }
        None => None,
    }
    .ok_or_else(|| {
        ApiError::bad_request(
            "unknown, expired or already used OAuth state: this link cannot be completed; start the connection again from the application",
        )
    })?;
    let mut back = Url::parse(&pending.redirect_url)
        .map_err(|_| ApiError::misconfigured("the consent flow's redirect_url cannot be read"))?;
    // The exchange and the writes run as a task of their own: a browser that leaves (or the
    // request's deadline) while the provider answers must not stop the flow between the grant
    // and the connector that holds it.
    let finished = to_completion(
        state.writes.clone(),
        async move {
            let record = complete(&state, &pending, &query, started).await?;
            let secret_id = issue_secret_id(&state, &record).await;
            Ok((record, secret_id))
        },
        || ConsentFailure::ServerError,
    )
    .await;
    match finished {
        Ok((record, secret_id)) => {
            let mut pairs = back.query_pairs_mut();
            pairs.append_pair("connector_id", &record.id);
            if let Some(secret_id) = &secret_id {
                pairs.append_pair("secret_id", secret_id.expose_secret());
            }
        }
        Err(failure) => {
            back.query_pairs_mut()
                .append_pair("error", failure.as_str());
        }
    };
    Ok(Redirect::to(back.as_str()))
}

/// Stores a single-use secret id for the connector a consent flow created, valid
/// [`OAUTH_SECRET_ID_TTL`]; `None` (logged) if it cannot be stored: the redirect then carries the
/// connector's id alone.
async fn issue_secret_id(state: &AppState, record: &ConnectorRecord) -> Option<SecretString> {
    let secret_id = secrets::random_secret();
    let stored = state
        .store
        .put_oauth_secret(OAuthSecretRecord {
            secret_hash: secrets::hash(secret_id.expose_secret()),
            connector_id: record.id.clone(),
            application_id: record.application_id.clone(),
            customer_name: record.customer_name.clone(),
            connector_type: record.connector_type.clone(),
            expires_at: SystemTime::now() + OAUTH_SECRET_ID_TTL,
        })
        .await;
    match stored {
        Ok(()) => Some(secret_id),
        Err(e) => {
            tracing::error!(
                connector = record.id,
                error = %e,
                "could not store a consent flow's secret id; the redirect carries the connector id alone"
            );
            None
        }
    }
}

/// Exchanges the code of a taken state and creates the connector.
async fn complete(
    state: &AppState,
    pending: &OAuthStateRecord,
    query: &CallbackQuery,
    started: Instant,
) -> Result<ConnectorRecord, ConsentFailure> {
    if let Some(error) = &query.error {
        return Err(ConsentFailure::from_provider(error));
    }
    let code = query
        .code
        .as_deref()
        .filter(|c| !c.is_empty())
        .ok_or(ConsentFailure::AuthorizationFailed)?;
    let server_error = |what: &str| {
        tracing::error!(what, "a consent flow could not be completed");
        ConsentFailure::ServerError
    };
    let kind = state
        .connectors
        .types()
        .by_name(&pending.connector_type)
        .ok_or_else(|| server_error("unknown connector type in the state"))?;
    let verifier = state
        .connectors
        .sealer()
        .open(
            Purpose::PkceVerifier,
            &pending.state_hash,
            &pending.pkce_verifier,
        )
        .map_err(|_| server_error("the PKCE verifier cannot be opened"))?;
    let redirect_uri = Url::parse(&pending.redirect_uri)
        .map_err(|_| server_error("the redirect_uri cannot be read"))?;
    let endpoint = state
        .connectors
        .shared_endpoint(&pending.application_id, &kind, pending.oauth_app)
        .await
        .map_err(|e| {
            tracing::warn!(error = e.message(), "no OAuth app for a consent flow");
            if e.is_retryable() {
                ConsentFailure::TemporarilyUnavailable
            } else if e.status().is_server_error() {
                server_error("the OAuth app cannot be read or set up")
            } else {
                ConsentFailure::ExchangeFailed
            }
        })?;
    let name = default_name(pending.name.as_deref(), &kind, &pending.customer_name)
        .map_err(|_| server_error("the connector name in the state is empty"))?;
    let credentials = endpoint
        .exchange(
            code,
            Some(&redirect_uri),
            (!verifier.expose_secret().is_empty()).then_some(&verifier),
            &pending.scopes,
        )
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "the authorization code exchange failed");
            match e.class() {
                ErrorClass::Transient => ConsentFailure::TemporarilyUnavailable,
                _ => ConsentFailure::ExchangeFailed,
            }
        })?;
    let now = SystemTime::now();
    let record = ConnectorRecord {
        id: uuid::Uuid::new_v4().to_string(),
        application_id: pending.application_id.clone(),
        customer_name: pending.customer_name.clone(),
        connector_type: kind.id().to_string(),
        definition_id: kind.definition_id().to_string(),
        name,
        auth_kind: AuthKind::OAuth,
        oauth_app: Some(pending.oauth_app),
        read_only: false,
        created_at: now,
        updated_at: now,
    };
    let principal = Principal {
        application_id: pending.application_id.clone(),
        customer: Some(pending.customer_name.clone()),
    };
    let stored = state.connectors.store_granted(&record, &credentials).await;
    if let Err(e) = save_new(state, &principal, &record, stored, started).await {
        // The provider granted access that no connector holds (the application was deleted
        // meanwhile, or a store failed): give it back rather than leave it live, where
        // revoking ends this flow's tokens only. Elsewhere a revocation may end the account's
        // whole grant to the app, which other connectors of the same account hold: that grant
        // is left, the lesser harm.
        if endpoint.revokes_only_its_tokens()
            && let Err(revocation) = endpoint.revoke(&credentials).await
        {
            tracing::warn!(error = %revocation, "could not revoke the grant of a consent flow whose connector was not kept");
        }
        let failure = server_error(e.message());
        return Err(if e.is_retryable() {
            ConsentFailure::TemporarilyUnavailable
        } else {
            failure
        });
    }
    Ok(record)
}

/// The application's own OAuth app for a provider.
#[derive(Deserialize, ToSchema)]
pub(crate) struct SetAppRequest {
    /// A provider's display name or id: `Asana`, `GitHub`, `google`, ...
    connector_type: String,
    configuration: AppConfiguration,
}

/// An OAuth client.
#[derive(Deserialize, ToSchema)]
pub(crate) struct AppConfiguration {
    client_id: String,
    client_secret: String,
}

/// The application's OAuth app as answered: never its secret.
#[derive(Serialize, ToSchema)]
pub(crate) struct OAuthApp {
    /// The provider's display name: `Asana`, `GitHub`, ...
    connector_type: String,
    /// Asana's Airbyte definition id, or the provider's id.
    definition_id: String,
    configuration: OAuthAppClient,
    /// RFC 3339, UTC.
    #[schema(format = DateTime)]
    updated_at: String,
}

/// The OAuth app's client id.
#[derive(Serialize, ToSchema)]
pub(crate) struct OAuthAppClient {
    client_id: String,
}

/// The application's own OAuth apps are the application's: a token scoped to one customer
/// reaches none of them (404).
fn application_only(principal: &Principal) -> Result<(), ApiError> {
    match principal.customer {
        Some(_) => Err(oauth_app_not_found()),
        None => Ok(()),
    }
}

fn oauth_app_not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "OAuth app not found")
}

/// The OAuth app as answered: never its secret.
fn app_view(kind: &ConnectorType, app: &OAuthAppRecord) -> OAuthApp {
    OAuthApp {
        connector_type: kind.display_name().to_string(),
        definition_id: kind.definition_id().to_string(),
        configuration: OAuthAppClient {
            client_id: app.client_id.clone(),
        },
        updated_at: rfc3339(app.updated_at),
    }
}

fn app_audit<'a>(principal: &'a Principal, operation: &'static str, started: Instant) -> Audit<'a> {
    Audit {
        principal,
        customer_name: None,
        connector_id: None,
        operation,
        entity: None,
        action: None,
        param_names: Vec::new(),
        started,
    }
}

/// Sets the application's own OAuth app for a provider ("bring your own app").
#[utoipa::path(
    put,
    path = "/api/v1/oauth/credentials",
    tag = "oauth",
    request_body = SetAppRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The OAuth app", body = OAuthApp),
        (status = 404, description = "A scoped token reaches no OAuth app", body = ErrorBody),
    )
)]
pub(crate) async fn set_app(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(request): ApiJson<SetAppRequest>,
) -> Result<Json<OAuthApp>, ApiError> {
    let started = Instant::now();
    application_only(&principal)?;
    let kind = state
        .connectors
        .types()
        .resolve(None, Some(&request.connector_type))?;
    let client_id = request.configuration.client_id.trim();
    if client_id.chars().any(char::is_control) {
        return Err(ApiError::unprocessable(
            "configuration.client_id must not contain control characters",
        ));
    }
    let client_secret = SecretString::from(request.configuration.client_secret);
    if client_id.is_empty() || client_secret.expose_secret().trim().is_empty() {
        return Err(ApiError::unprocessable(
            "configuration.client_id and configuration.client_secret must not be empty",
        ));
    }
    let client = OAuthClient {
        client_id: client_id.to_string(),
        client_secret,
    };
    let record = state
        .connectors
        .set_application_app(&principal.application_id, &kind, &client)
        .await?;
    let mut audit = app_audit(&principal, "oauth_app.set", started);
    audit.param_names = vec!["client_id".into(), "client_secret".into()];
    audit.record(state.store.as_ref(), StatusCode::OK).await;
    Ok(Json(app_view(&kind, &record)))
}

/// The principal's OAuth app for the provider the path names, or 404.
async fn owned_app(
    state: &AppState,
    principal: &Principal,
    connector_type: &str,
) -> Result<(ConnectorType, OAuthAppRecord), ApiError> {
    application_only(principal)?;
    let kind = state
        .connectors
        .types()
        .by_name(connector_type)
        .ok_or_else(oauth_app_not_found)?;
    let app = state
        .store
        .oauth_app(&principal.application_id, kind.id())
        .await?
        .ok_or_else(oauth_app_not_found)?;
    Ok((kind, app))
}

/// The application's own OAuth app for a provider.
#[utoipa::path(
    get,
    path = "/api/v1/oauth/credentials/connector_type/{connector_type}",
    tag = "oauth",
    params(("connector_type" = String, Path, description = "A provider's display name or id: `Asana`, `GitHub`, `google`, ...")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The OAuth app", body = OAuthApp),
        (status = 404, description = "The application has none for this provider", body = ErrorBody),
    )
)]
pub(crate) async fn read_app(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(connector_type): ApiPath<String>,
) -> Result<Json<OAuthApp>, ApiError> {
    let (kind, app) = owned_app(&state, &principal, &connector_type).await?;
    Ok(Json(app_view(&kind, &app)))
}

/// Deletes the application's own OAuth app for a provider (the service's is used again).
#[utoipa::path(
    delete,
    path = "/api/v1/oauth/credentials/connector_type/{connector_type}",
    tag = "oauth",
    params(("connector_type" = String, Path, description = "A provider's display name or id: `Asana`, `GitHub`, `google`, ...")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The deleted OAuth app", body = OAuthApp),
        (status = 404, description = "The application has none for this provider", body = ErrorBody),
    )
)]
pub(crate) async fn delete_app(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(connector_type): ApiPath<String>,
) -> Result<Json<OAuthApp>, ApiError> {
    let started = Instant::now();
    let (kind, app) = owned_app(&state, &principal, &connector_type).await?;
    if !state
        .connectors
        .delete_application_app(&principal.application_id, &kind)
        .await?
    {
        return Err(oauth_app_not_found());
    }
    app_audit(&principal, "oauth_app.delete", started)
        .record(state.store.as_ref(), StatusCode::OK)
        .await;
    Ok(Json(app_view(&kind, &app)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_callback_sits_below_the_public_url_whatever_its_path() {
        for (public, expected) in [
            (
                "https://svc.example.com",
                "https://svc.example.com/api/v1/oauth/callback",
            ),
            (
                "https://svc.example.com/integrations/",
                "https://svc.example.com/integrations/api/v1/oauth/callback",
            ),
        ] {
            let url = callback_url(Some(&public.parse().unwrap())).unwrap();
            assert_eq!(url.as_str(), expected);
        }
        assert_eq!(
            callback_url(None).unwrap_err().status(),
            StatusCode::NOT_IMPLEMENTED
        );
    }

    #[test]
    fn provider_errors_become_short_codes() {
        assert_eq!(
            ConsentFailure::from_provider("access_denied").as_str(),
            "access_denied"
        );
        assert_eq!(
            ConsentFailure::from_provider("invalid_scope secret-ish text").as_str(),
            "authorization_failed"
        );
        for for_now in ["temporarily_unavailable", "server_error"] {
            assert_eq!(
                ConsentFailure::from_provider(for_now).as_str(),
                "temporarily_unavailable"
            );
        }
    }
}
