//! The OAuth2 authorization-code flow with PKCE: authorize, exchange, refresh, revoke.
//!
//! Unlike the Python framework, every authorization's `state` is remembered (single use, with a time
//! to live) together with its PKCE verifier, and `exchange` refuses a state that is unknown, expired,
//! reused or issued for another provider.
//!
//! The `oauth2` crate is not used: token responses must be parsed leniently (string `expires_in`,
//! array `scope`), keep the provider's extra fields (Asana's `data`), and fail with errors classified
//! for refresh decisions (`invalid_grant` vs transient), which its typed responses and errors do not
//! give. PKCE is twenty lines on `sha2` and `rand`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand::RngCore;
use reqwest::StatusCode;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tracing::Instrument;
use url::Url;

use crate::error::AuthError;
use crate::manager::{AuthManager, ProviderEntry};
use crate::provider::{ClientAuthMethod, OAuth2Settings, RevokeToken};
use crate::redact::Redactor;
use crate::secret::SecretString;
use crate::token::{Credentials, OAuth2Token};

/// How many pending authorizations are kept before expired ones are purged eagerly.
const MAX_PENDING: usize = 10_000;

/// The most read of a token, revocation or error response (a token response is a few hundred
/// bytes): a longer one is an invalid response, and the rest of it is not read.
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// The longest `Retry-After` passed on in [`AuthError::Transient`]; a longer one is dropped, as if
/// none had been sent.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// A PKCE verifier and its S256 challenge.
#[derive(Debug, Clone)]
pub struct Pkce {
    /// The verifier (43 characters of base64url): secret until the exchange.
    pub verifier: SecretString,
    /// `BASE64URL-no-pad(SHA256(verifier))`.
    pub challenge: String,
}

impl Pkce {
    /// A fresh verifier from 32 random bytes.
    pub fn generate() -> Self {
        let verifier = URL_SAFE_NO_PAD.encode(random_bytes());
        let challenge = Self::challenge_for(&verifier);
        Self {
            verifier: SecretString::from(verifier),
            challenge,
        }
    }

    /// The S256 challenge of `verifier`.
    pub fn challenge_for(verifier: &str) -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
    }
}

fn random_bytes() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes
}

/// Options for [`OAuth2Flow::authorize`].
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct AuthorizeOptions {
    /// Use this state instead of a random one (it must not be pending already).
    pub state: Option<String>,
    /// Request these scopes instead of the provider's default scopes.
    pub scopes: Option<Vec<String>>,
    /// Use this redirect URI instead of the configured one.
    pub redirect_uri: Option<Url>,
    /// Extra query parameters.
    pub extra_params: Vec<(String, String)>,
}

impl AuthorizeOptions {
    /// Sets the state.
    pub fn state(mut self, state: impl Into<String>) -> Self {
        self.state = Some(state.into());
        self
    }

    /// Sets the scopes.
    pub fn scopes<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.scopes = Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    /// Sets the redirect URI.
    pub fn redirect_uri(mut self, uri: Url) -> Self {
        self.redirect_uri = Some(uri);
        self
    }

    /// Adds a query parameter.
    pub fn param(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra_params.push((key.into(), value.into()));
        self
    }
}

/// Where to send the user, and the state that will come back.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AuthorizationRequest {
    /// The consent page URL with every parameter.
    pub url: Url,
    /// The state to expect on the redirect.
    pub state: String,
}

struct Pending {
    provider: String,
    verifier: Option<SecretString>,
    redirect_uri: Option<Url>,
    issued: Instant,
    used: bool,
}

/// Issued states and their PKCE verifiers, single use, with a time to live. Used states are kept as
/// tombstones until they expire so that a replay is reported as such.
pub(crate) struct PendingStates {
    ttl: Duration,
    map: Mutex<HashMap<String, Pending>>,
}

impl PendingStates {
    pub(crate) fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            map: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Pending>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn insert(&self, provider: &str, state: &str, pending: Pending) -> Result<(), AuthError> {
        let mut map = self.lock();
        if map.len() >= MAX_PENDING {
            let ttl = self.ttl;
            map.retain(|_, p| p.issued.elapsed() < ttl);
        }
        if map.contains_key(state) {
            return Err(AuthError::InvalidCredentials {
                provider: provider.to_string(),
                subject: String::new(),
                reason: "this state is already pending; use a fresh, unpredictable state".into(),
            });
        }
        map.insert(state.to_string(), pending);
        Ok(())
    }

    /// Consumes `state` for `provider`, returning its verifier and redirect URI.
    fn take(
        &self,
        provider: &str,
        state: &str,
    ) -> Result<(Option<SecretString>, Option<Url>), AuthError> {
        let mut map = self.lock();
        let Some(pending) = map.get_mut(state) else {
            return Err(AuthError::UnknownState {
                provider: provider.to_string(),
            });
        };
        if pending.issued.elapsed() >= self.ttl {
            map.remove(state);
            return Err(AuthError::StateExpired {
                provider: provider.to_string(),
                ttl: self.ttl,
            });
        }
        if pending.used {
            return Err(AuthError::StateReused {
                provider: provider.to_string(),
            });
        }
        pending.used = true;
        if pending.provider != provider {
            return Err(AuthError::StateProviderMismatch {
                provider: provider.to_string(),
                issued_for: pending.provider.clone(),
            });
        }
        Ok((pending.verifier.take(), pending.redirect_uri.clone()))
    }
}

/// One provider's OAuth2 flow, from [`AuthManager::oauth2`].
///
/// See the crate docs for the whole flow: authorize → exchange → store → session.
#[derive(Debug, Clone)]
pub struct OAuth2Flow {
    manager: AuthManager,
    entry: Arc<ProviderEntry>,
}

impl OAuth2Flow {
    pub(crate) fn new(manager: AuthManager, entry: Arc<ProviderEntry>) -> Self {
        Self { manager, entry }
    }

    fn settings(&self) -> Result<&OAuth2Settings, AuthError> {
        self.entry.oauth2_settings()
    }

    /// The provider id.
    pub fn provider(&self) -> &str {
        self.entry.id()
    }

    /// Builds the consent URL and remembers its state and PKCE verifier (single use, with the
    /// manager's state TTL, 10 minutes by default).
    pub async fn authorize(
        &self,
        options: AuthorizeOptions,
    ) -> Result<AuthorizationRequest, AuthError> {
        let span = tracing::info_span!("oauth2.authorize", provider = self.provider());
        async {
            let settings = self.settings()?;
            let state = options
                .state
                .clone()
                .unwrap_or_else(|| URL_SAFE_NO_PAD.encode(random_bytes()));
            let redirect_uri = options
                .redirect_uri
                .clone()
                .or_else(|| settings.redirect_uri.clone());
            let pkce = settings.pkce.then(Pkce::generate);
            let scopes = options
                .scopes
                .clone()
                .unwrap_or_else(|| settings.default_scopes.clone());
            let mut url = settings.authorization_url.clone();
            {
                let mut q = url.query_pairs_mut();
                q.append_pair("response_type", "code");
                q.append_pair("client_id", &settings.client_id);
                if let Some(uri) = &redirect_uri {
                    q.append_pair("redirect_uri", uri.as_str());
                }
                if !scopes.is_empty() {
                    q.append_pair("scope", &scopes.join(&settings.scope_separator));
                }
                q.append_pair("state", &state);
                if let Some(pkce) = &pkce {
                    q.append_pair("code_challenge", &pkce.challenge);
                    q.append_pair("code_challenge_method", "S256");
                }
                for (k, v) in settings
                    .extra_authorize_params
                    .iter()
                    .chain(&options.extra_params)
                {
                    q.append_pair(k, v);
                }
            }
            self.manager.inner().states.insert(
                self.provider(),
                &state,
                Pending {
                    provider: self.provider().to_string(),
                    verifier: pkce.map(|p| p.verifier),
                    redirect_uri,
                    issued: Instant::now(),
                    used: false,
                },
            )?;
            tracing::debug!("authorization URL issued");
            Ok(AuthorizationRequest { url, state })
        }
        .instrument(span)
        .await
    }

    /// Exchanges an authorization code. Checks `state` first (unknown, expired, reused and
    /// other-provider states are distinct errors), sends the PKCE verifier, and returns the
    /// provider's credentials. Store them with [`AuthManager::store_credentials`].
    pub async fn exchange(
        &self,
        code: &str,
        state: &str,
        subject: &str,
    ) -> Result<Credentials, AuthError> {
        let span = tracing::info_span!("oauth2.exchange", provider = self.provider(), subject);
        async {
            let settings = self.settings()?;
            let (verifier, redirect_uri) =
                self.manager.inner().states.take(self.provider(), state)?;
            let mut form = vec![
                ("grant_type", "authorization_code".to_string()),
                ("code", code.to_string()),
            ];
            if let Some(uri) = redirect_uri {
                form.push(("redirect_uri", uri.to_string()));
            }
            if let Some(verifier) = &verifier {
                form.push(("code_verifier", verifier.expose_secret().to_string()));
            }
            let token = token_request(&self.entry, settings, form, "exchange").await?;
            let credentials = self.entry.provider.credentials_from_token(token).await?;
            tracing::info!("authorization code exchanged");
            Ok(credentials)
        }
        .instrument(span)
        .await
    }

    /// Refreshes `credentials` with their refresh token, keeping the old refresh token when the
    /// response omits it. This does not touch the store; sessions refresh stored credentials
    /// themselves.
    pub async fn refresh(&self, credentials: &Credentials) -> Result<Credentials, AuthError> {
        let settings = self.settings()?;
        let refresh_token =
            credentials
                .token
                .refresh_token
                .as_ref()
                .ok_or_else(|| AuthError::Unauthorized {
                    provider: self.provider().to_string(),
                    subject: String::new(),
                    reason: "the credentials have no refresh token".into(),
                })?;
        let token = refresh_request(&self.entry, settings, refresh_token).await?;
        Ok(self.entry.provider.merge_refreshed(credentials, token))
    }

    /// Revokes the grant at the provider, with the token [`OAuth2Settings::revoke_token`] names
    /// (by default the refresh token; credentials without one have no grant to revoke, and nothing
    /// is sent).
    pub async fn revoke(&self, credentials: &Credentials) -> Result<(), AuthError> {
        let span = tracing::info_span!("oauth2.revoke", provider = self.provider());
        async {
            let settings = self.settings()?;
            let Some(url) = &settings.revocation_url else {
                return Err(AuthError::OAuthNotConfigured {
                    provider: self.provider().to_string(),
                    hint: "the provider has no revocation_url".into(),
                });
            };
            let (token, hint) = match (settings.revoke_token, &credentials.token.refresh_token) {
                (RevokeToken::Refresh | RevokeToken::RefreshOrAccess, Some(rt)) => {
                    (rt, "refresh_token")
                }
                (RevokeToken::Refresh, None) => {
                    tracing::debug!("no refresh token: no grant to revoke at the provider");
                    return Ok(());
                }
                _ => (&credentials.token.access_token, "access_token"),
            };
            let form = vec![
                ("token", token.expose_secret().to_string()),
                ("token_type_hint", hint.to_string()),
            ];
            let secrets = secrets_of(settings, &form);
            let response = send_form(&self.entry, settings, url, form, "revoke").await?;
            let status = response.status();
            if status.is_success() {
                tracing::info!("grant revoked");
                return Ok(());
            }
            Err(error_from_response(self.provider(), "revoke", response, &secrets).await)
        }
        .instrument(span)
        .await
    }
}

/// Sends a refresh-token grant and parses the response.
pub(crate) async fn refresh_request(
    entry: &ProviderEntry,
    settings: &OAuth2Settings,
    refresh_token: &SecretString,
) -> Result<OAuth2Token, AuthError> {
    let span = tracing::info_span!("oauth2.refresh", provider = entry.id());
    let form = vec![
        ("grant_type", "refresh_token".to_string()),
        ("refresh_token", refresh_token.expose_secret().to_string()),
    ];
    token_request(entry, settings, form, "refresh")
        .instrument(span)
        .await
}

async fn token_request(
    entry: &ProviderEntry,
    settings: &OAuth2Settings,
    form: Vec<(&'static str, String)>,
    operation: &'static str,
) -> Result<OAuth2Token, AuthError> {
    let secrets = secrets_of(settings, &form);
    let response = send_form(entry, settings, &settings.token_url, form, operation).await?;
    if !response.status().is_success() {
        return Err(error_from_response(entry.id(), operation, response, &secrets).await);
    }
    let received = SystemTime::now();
    let body = read_body(response).await.map_err(|e| match e {
        BodyError::TooLarge => too_large(entry.id(), operation),
        BodyError::Read(e) => transient(
            entry.id(),
            operation,
            if e.is_timeout() {
                "timed out reading the response"
            } else {
                "the connection failed while reading the response"
            }
            .into(),
            None,
        ),
    })?;
    let body: serde_json::Value =
        serde_json::from_slice(&body).map_err(|_| AuthError::InvalidTokenResponse {
            provider: entry.id().to_string(),
            reason: "the body is not JSON".into(),
        })?;
    OAuth2Token::from_response(body, &settings.scope_separator, received).map_err(|reason| {
        AuthError::InvalidTokenResponse {
            provider: entry.id().to_string(),
            reason,
        }
    })
}

async fn send_form(
    entry: &ProviderEntry,
    settings: &OAuth2Settings,
    url: &Url,
    mut form: Vec<(&'static str, String)>,
    operation: &'static str,
) -> Result<reqwest::Response, AuthError> {
    let mut request = entry
        .http
        .post(url.clone())
        .timeout(settings.request_timeout)
        .header("Accept", "application/json");
    match settings.client_auth {
        ClientAuthMethod::RequestBody => {
            form.push(("client_id", settings.client_id.clone()));
            if let Some(secret) = &settings.client_secret {
                form.push(("client_secret", secret.expose_secret().to_string()));
            }
        }
        ClientAuthMethod::BasicAuth => {
            request = request.basic_auth(
                &settings.client_id,
                settings.client_secret.as_ref().map(|s| s.expose_secret()),
            );
        }
    }
    request.form(&form).send().await.map_err(|e| {
        let detail = if e.is_timeout() {
            "timed out"
        } else if e.is_connect() {
            "connection failed"
        } else {
            "request failed"
        };
        transient(entry.id(), operation, detail.into(), None)
    })
}

/// Form fields that never hold a secret; every other value sent is redacted from the answer.
const PUBLIC_FORM_FIELDS: &[&str] = &[
    "grant_type",
    "redirect_uri",
    "client_id",
    "token_type_hint",
    "scope",
];

/// The secrets a request to the token or revocation endpoint carries: its form values (code,
/// verifier, refresh or access token), the client secret, and the Basic credentials made of it.
fn secrets_of(settings: &OAuth2Settings, form: &[(&'static str, String)]) -> Redactor {
    let mut secrets = Redactor::new();
    for (field, value) in form {
        if !PUBLIC_FORM_FIELDS.contains(field) {
            secrets.add(&SecretString::from(value.as_str()));
        }
    }
    if let Some(client_secret) = &settings.client_secret {
        secrets.add(client_secret);
        let basic = format!("{}:{}", settings.client_id, client_secret.expose_secret());
        secrets.add(&SecretString::from(STANDARD.encode(basic)));
    }
    secrets
}

/// Why a response body could not be read.
enum BodyError {
    /// It is longer than [`MAX_RESPONSE_BYTES`].
    TooLarge,
    /// The transfer failed or timed out.
    Read(reqwest::Error),
}

/// Reads a response body of the token or revocation endpoint, at most [`MAX_RESPONSE_BYTES`]. A
/// longer one is refused as soon as that is known (from its `Content-Length`, or once more
/// arrived), and the rest is never read.
async fn read_body(mut response: reqwest::Response) -> Result<Vec<u8>, BodyError> {
    let announced = response.content_length().unwrap_or(0);
    if announced > MAX_RESPONSE_BYTES as u64 {
        return Err(BodyError::TooLarge);
    }
    let mut body = Vec::with_capacity(announced as usize);
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Read)? {
        if chunk.len() > MAX_RESPONSE_BYTES - body.len() {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The error for a response body over [`MAX_RESPONSE_BYTES`], naming the endpoint, not the body.
fn too_large(provider: &str, operation: &'static str) -> AuthError {
    let endpoint = if operation == "revoke" {
        "revocation"
    } else {
        "token"
    };
    AuthError::InvalidTokenResponse {
        provider: provider.to_string(),
        reason: format!(
            "the {endpoint} endpoint's {operation} response is larger than {MAX_RESPONSE_BYTES} bytes and was not read"
        ),
    }
}

fn transient(
    provider: &str,
    operation: &'static str,
    detail: String,
    retry_after: Option<Duration>,
) -> AuthError {
    AuthError::Transient {
        provider: provider.to_string(),
        operation,
        detail,
        retry_after,
    }
}

#[derive(Deserialize)]
struct OAuthErrorBody {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// Classifies a non-2xx token-endpoint response: 5xx and 429 are transient; otherwise the OAuth
/// `error` code and description are kept (cleaned: controls stripped, the request's `secrets`
/// redacted, truncated), never the body itself, which is read up to [`MAX_RESPONSE_BYTES`] only.
async fn error_from_response(
    provider: &str,
    operation: &'static str,
    response: reqwest::Response,
    secrets: &Redactor,
) -> AuthError {
    let status = response.status();
    if status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
    {
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs)
            .filter(|wait| *wait <= MAX_RETRY_AFTER);
        return transient(
            provider,
            operation,
            format!("HTTP {}", status.as_u16()),
            retry_after,
        );
    }
    let parsed = match read_body(response).await {
        Ok(body) => serde_json::from_slice::<OAuthErrorBody>(&body).ok(),
        Err(BodyError::TooLarge) => return too_large(provider, operation),
        Err(BodyError::Read(_)) => None,
    };
    let (code, description) = match parsed {
        Some(body) => (
            secrets.clean(&body.error, 64),
            body.error_description.map(|d| secrets.clean(&d, 300)),
        ),
        None => (format!("http_{}", status.as_u16()), None),
    };
    AuthError::OAuth {
        provider: provider.to_string(),
        status: status.as_u16(),
        code,
        description,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_challenge_is_s256_of_verifier() {
        // RFC 7636 appendix B.
        assert_eq!(
            Pkce::challenge_for("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        let p = Pkce::generate();
        assert_eq!(p.verifier.expose_secret().len(), 43);
        assert_eq!(p.challenge, Pkce::challenge_for(p.verifier.expose_secret()));
        assert_ne!(
            Pkce::generate().verifier.expose_secret(),
            p.verifier.expose_secret()
        );
    }
}
