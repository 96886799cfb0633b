//! [`TokenEndpoint`]: one provider's token and revocation endpoints: its HTTP client, the code
//! exchange, the refresh and the revocation requests, and the classification of their answers.
//!
//! Everything above it (the refreshing credential, the OAuth2 flow, sessions, the manager) reaches
//! the provider's OAuth endpoints only through this type. Every request carries the client
//! authentication of [`OAuth2Settings::client_auth`]; every answer is read up to 1 MiB, and an
//! error keeps the OAuth `error` code as an [`OAuthErrorCode`] and the description cleaned of the
//! request's secrets, never the body itself.
//!
//! The `oauth2` crate is not used: token responses must be parsed leniently (string `expires_in`,
//! array `scope`), keep the provider's extra fields (Asana's `data`), and fail with errors classified
//! for refresh decisions (`invalid_grant` vs transient), which its typed responses and errors do not
//! give.

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use tracing::Instrument;
use url::Url;

use crate::config::{check_endpoint_from_code, check_redirect_uri_from_code};
use crate::error::{AuthError, ConfigError, OAuthErrorCode, TokenOperation};
use crate::http::{client_once, read_limited};
use crate::provider::{
    AuthProvider, BodyFormat, ClientAuthMethod, OAuth2Settings, RevocationRequest, RevocationScope,
};
use crate::redact::Redactor;
use crate::secret::SecretString;
use crate::token::{Credentials, OAuth2Token};

/// The most read of a token, revocation or error response (a token response is a few hundred
/// bytes): a longer one is an invalid response, and the rest of it is not read.
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// The longest `Retry-After` passed on in [`AuthError::Transient`]; a longer one is dropped, as if
/// none had been sent.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// The token request timeout of a provider without OAuth2 settings.
const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A provider's token and revocation endpoints, with the HTTP client used for them (one per
/// provider, reused; redirects are never followed, every request has a deadline).
///
/// Cheap to share behind an `Arc`; [`RefreshingTokenSource`](crate::RefreshingTokenSource) and
/// [`OAuth2Flow`](crate::OAuth2Flow) are built from one.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use std::sync::Arc;
/// use auth_core::TokenEndpoint;
/// use auth_core::provider::OAuth2Settings;
/// use auth_core::{AuthProvider, Credentials, OAuth2Token};
/// use wiremock::matchers::{body_string_contains, method, path};
/// use wiremock::{Mock, MockServer, ResponseTemplate};
///
/// #[derive(Debug)]
/// struct Example(OAuth2Settings);
/// #[async_trait::async_trait]
/// impl AuthProvider for Example {
///     fn id(&self) -> &str { "example" }
///     fn oauth2_settings(&self) -> Option<&OAuth2Settings> { Some(&self.0) }
/// }
///
/// let server = MockServer::start().await;
/// Mock::given(method("POST")).and(path("/token")).and(body_string_contains("grant_type=refresh_token"))
///     .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
///         "access_token": "at-2", "token_type": "bearer", "expires_in": 3600
///     })))
///     .mount(&server).await;
/// let settings = OAuth2Settings::new(
///     format!("{}/authorize", server.uri()).parse().unwrap(),
///     format!("{}/token", server.uri()).parse().unwrap(),
///     "client-id",
/// );
/// let endpoint = TokenEndpoint::new(Arc::new(Example(settings))).unwrap();
/// let mut token = OAuth2Token::bearer("at-1");
/// token.refresh_token = Some("rt-1".into());
/// let fresh = endpoint.refresh(&Credentials::new(token)).await.unwrap();
/// assert_eq!(fresh.token.access_token.expose_secret(), "at-2");
/// assert_eq!(fresh.token.refresh_token.unwrap().expose_secret(), "rt-1", "kept when not rotated");
/// # });
/// ```
pub struct TokenEndpoint {
    provider: Arc<dyn AuthProvider>,
    /// Built at the first request (see [`client_once`]), unless given.
    http: OnceLock<reqwest::Client>,
    /// Why the provider has no OAuth2 client although one is configured: the field its
    /// incomplete client lacks (see [`AuthManagerBuilder::enable`](crate::AuthManagerBuilder::enable)).
    incomplete_client: Option<ConfigError>,
}

/// Refuses a provider whose OAuth2 URLs would carry credentials in clear (see
/// [`TokenEndpoint::new`]).
fn check_endpoints(provider: &dyn AuthProvider) -> Result<(), ConfigError> {
    let Some(settings) = provider.oauth2_settings() else {
        return Ok(());
    };
    let id = provider.id();
    check_endpoint_from_code(id, "authorization_url", &settings.authorization_url)?;
    check_endpoint_from_code(id, "token_url", &settings.token_url)?;
    if let Some(url) = &settings.revocation_url {
        check_endpoint_from_code(id, "revocation_url", url)?;
    }
    match &settings.redirect_uri {
        Some(uri) => check_redirect_uri_from_code(id, uri),
        None => Ok(()),
    }
}

impl fmt::Debug for TokenEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenEndpoint")
            .field("provider", &self.provider)
            .finish_non_exhaustive()
    }
}

impl TokenEndpoint {
    /// The endpoints of `provider`, with an HTTP client of their own ([`TokenEndpoint::http_client`]),
    /// built at the first request rather than here, so that a manager that only reads stored
    /// tokens builds none; if it cannot be built, that request fails with
    /// [`AuthError::HttpClient`]. A provider without OAuth2 settings (an app-level token only) has
    /// an endpoint too: its requests fail with [`AuthError::OAuthNotConfigured`].
    ///
    /// Fails with [`ConfigError::InsecureUrl`] when a URL of the provider's [`OAuth2Settings`]
    /// would carry credentials in clear: an authorization, token or revocation URL that is not
    /// https (plain http only on 127.0.0.1, ::1 or localhost), or a redirect URI that could not be
    /// configured either. Configuration checks the values it reads; this catches those set in
    /// code.
    pub fn new(provider: Arc<dyn AuthProvider>) -> Result<Self, AuthError> {
        check_endpoints(&*provider)?;
        Ok(Self {
            provider,
            http: OnceLock::new(),
            incomplete_client: None,
        })
    }

    /// The same endpoint, for a provider built without its configured OAuth2 client because
    /// that client is incomplete: its requests fail with `missing` (naming the field to set)
    /// instead of [`AuthError::OAuthNotConfigured`].
    pub(crate) fn with_incomplete_client(mut self, missing: ConfigError) -> Self {
        self.incomplete_client = Some(missing);
        self
    }

    /// The endpoints of `provider` with this HTTP client, so that many endpoints (a service's
    /// connectors, say) share one connection pool and TLS configuration. Build the client with
    /// [`TokenEndpoint::http_client`], which gives it the provider's timeouts and no redirects.
    /// Fails as [`TokenEndpoint::new`] does.
    pub fn with_http_client(
        provider: Arc<dyn AuthProvider>,
        http: reqwest::Client,
    ) -> Result<Self, AuthError> {
        check_endpoints(&*provider)?;
        Ok(Self {
            provider,
            http: OnceLock::from(http),
            incomplete_client: None,
        })
    }

    /// The HTTP client [`TokenEndpoint::new`] builds for `provider`: no redirects, a 10 s connect
    /// timeout, and the provider's [`request_timeout`](OAuth2Settings::request_timeout).
    pub fn http_client(provider: &dyn AuthProvider) -> Result<reqwest::Client, AuthError> {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .timeout(request_timeout(provider))
            .user_agent(concat!("integrations/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|source| AuthError::HttpClient {
                provider: provider.id().to_string(),
                source,
            })
    }

    /// The provider id.
    pub fn id(&self) -> &str {
        self.provider.id()
    }

    /// The provider.
    pub fn provider(&self) -> &Arc<dyn AuthProvider> {
        &self.provider
    }

    /// The provider's OAuth2 settings, or the error saying what to configure: the
    /// [`ConfigError::Missing`] of the field an incomplete OAuth2 client lacks, or
    /// [`AuthError::OAuthNotConfigured`] when there is no client at all.
    pub fn settings(&self) -> Result<&OAuth2Settings, AuthError> {
        self.provider.oauth2_settings().ok_or_else(|| {
            if let Some(missing) = &self.incomplete_client {
                return AuthError::Config(missing.clone());
            }
            AuthError::OAuthNotConfigured {
                provider: self.id().to_string(),
                hint: format!(
                    "set the {0} client id and secret (e.g. {1}_CLIENT_ID and {1}_CLIENT_SECRET) or pass them in code",
                    self.id(),
                    self.id().to_ascii_uppercase()
                ),
            }
        })
    }

    /// The longest a token request may take.
    pub fn request_timeout(&self) -> Duration {
        request_timeout(self.provider.as_ref())
    }

    /// Trades an authorization code for the provider's credentials (`redirect_uri`, the PKCE
    /// `verifier` and the `requested_scopes` as they were sent with the authorization request). A
    /// token response that names no scope granted the requested ones (RFC 6749 §5.1), and the
    /// credentials say so.
    pub async fn exchange(
        &self,
        code: &str,
        redirect_uri: Option<&Url>,
        verifier: Option<&SecretString>,
        requested_scopes: &[String],
    ) -> Result<Credentials, AuthError> {
        let mut form = vec![
            ("grant_type", "authorization_code".to_string()),
            ("code", code.to_string()),
        ];
        if let Some(uri) = redirect_uri {
            form.push(("redirect_uri", uri.to_string()));
        }
        if let Some(verifier) = verifier {
            form.push(("code_verifier", verifier.expose_secret().to_string()));
        }
        let mut token = self.token_request(form, TokenOperation::Exchange).await?;
        if token.scope.is_empty() {
            token.scope = requested_scopes.to_vec();
        }
        self.provider.credentials_from_token(token).await
    }

    /// Refreshes `credentials` with their refresh token and merges the answer into them (the old
    /// refresh token is kept when the response omits it). Touches no store. Credentials without
    /// a refresh token fail with [`AuthError::NoRefreshToken`], and nothing is sent.
    pub async fn refresh(&self, credentials: &Credentials) -> Result<Credentials, AuthError> {
        let refresh_token =
            credentials
                .token
                .refresh_token
                .as_ref()
                .ok_or_else(|| AuthError::NoRefreshToken {
                    provider: self.id().to_string(),
                })?;
        let span = tracing::info_span!("oauth2.refresh", provider = self.id());
        let form = vec![
            ("grant_type", "refresh_token".to_string()),
            ("refresh_token", refresh_token.expose_secret().to_string()),
        ];
        let token = self
            .token_request(form, TokenOperation::Refresh)
            .instrument(span)
            .await?;
        Ok(self.provider.merge_refreshed(credentials, token))
    }

    /// Whether [`TokenEndpoint::revoke`] ends only the tokens of the credentials it sends (and
    /// those issued from them), by the provider's [`OAuth2Settings::revocation_scope`]; `false`
    /// when revoking may end the account's whole grant to the app, which other holders of
    /// tokens from the same grant would lose, or when the provider has no OAuth2 settings.
    pub fn revokes_only_its_tokens(&self) -> bool {
        self.provider
            .oauth2_settings()
            .is_some_and(|settings| settings.revocation_scope == RevocationScope::Token)
    }

    /// Revokes the grant, with the token [`OAuth2Settings::revoke_token`] names (by default the
    /// refresh token; credentials without one have no grant to revoke, and nothing is sent).
    pub async fn revoke(&self, credentials: &Credentials) -> Result<(), AuthError> {
        let span = tracing::info_span!("oauth2.revoke", provider = self.id());
        async {
            let settings = self.settings()?;
            let Some(url) = &settings.revocation_url else {
                return Err(AuthError::OAuthNotConfigured {
                    provider: self.id().to_string(),
                    hint: "the provider has no revocation_url".into(),
                });
            };
            let Some(token) = settings.revoked_token(&credentials.token) else {
                tracing::debug!("no refresh token: no grant to revoke at the provider");
                return Ok(());
            };
            let operation = TokenOperation::Revoke;
            // What an answer must not echo: the token sent and the client's secret.
            let secrets = secrets_of(settings, &[]).with_secret(token);
            let delete = |url: Url| -> Result<reqwest::RequestBuilder, AuthError> {
                Ok(self
                    .http()?
                    .delete(url)
                    .timeout(settings.request_timeout)
                    .header("Accept", "application/json"))
            };
            let response = match settings.revocation_request {
                RevocationRequest::DeleteWithAccessToken => {
                    if settings.client_secret.is_none() {
                        return Err(AuthError::OAuthNotConfigured {
                            provider: self.id().to_string(),
                            hint: "this revocation needs the client secret: configure it".into(),
                        });
                    }
                    let (id, secret) = basic_pair(settings);
                    let request = delete(url.clone())?
                        .basic_auth(id, Some(secret.expose_secret()))
                        .json(&serde_json::json!({ "access_token": token.expose_secret() }));
                    self.send(request, operation).await?
                }
                RevocationRequest::DeleteRefreshTokenInPath => {
                    let mut url = url.clone();
                    url.path_segments_mut()
                        .map_err(|()| AuthError::OAuthNotConfigured {
                            provider: self.id().to_string(),
                            hint: "the revocation_url cannot take a path segment".into(),
                        })?
                        .pop_if_empty()
                        .push(token.expose_secret());
                    self.send(delete(url)?, operation).await?
                }
                _ => {
                    let refresh = credentials.token.refresh_token.as_ref();
                    let hint = if refresh.is_some_and(|rt| std::ptr::eq(rt, token)) {
                        "refresh_token"
                    } else {
                        "access_token"
                    };
                    let form = vec![
                        ("token", token.expose_secret().to_string()),
                        ("token_type_hint", hint.to_string()),
                    ];
                    self.send_form(settings, url, form, operation).await?
                }
            };
            if response.status().is_success() {
                let status = response.status().as_u16();
                let body = read_limited(response, MAX_RESPONSE_BYTES)
                    .await
                    .ok()
                    .flatten();
                let refused = body
                    .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                    .and_then(|b| self.error_in_body(settings, operation, status, &b, &secrets));
                if let Some(refused) = refused {
                    return Err(refused);
                }
                tracing::info!("grant revoked");
                return Ok(());
            }
            Err(self.refusal(operation, response, &secrets).await)
        }
        .instrument(span)
        .await
    }

    /// Sends a grant to the token endpoint and parses the token response.
    async fn token_request(
        &self,
        form: Vec<(&'static str, String)>,
        operation: TokenOperation,
    ) -> Result<OAuth2Token, AuthError> {
        let settings = self.settings()?;
        let secrets = secrets_of(settings, &form);
        let response = self
            .send_form(settings, &settings.token_url, form, operation)
            .await?;
        if !response.status().is_success() {
            return Err(self.refusal(operation, response, &secrets).await);
        }
        let received = SystemTime::now();
        let status = response.status().as_u16();
        let body = read_limited(response, MAX_RESPONSE_BYTES)
            .await
            .map_err(|e| {
                self.transient(
                    operation,
                    if e.is_timeout() {
                        "timed out reading the response"
                    } else {
                        "the connection failed while reading the response"
                    }
                    .into(),
                    None,
                )
            })?
            .ok_or_else(|| self.too_large(operation))?;
        let body = self.parse_body(settings, &body)?;
        if let Some(refused) = self.error_in_body(settings, operation, status, &body, &secrets) {
            return Err(refused);
        }
        let body = match &settings.token_pointer {
            Some(pointer) => {
                let refresh = operation == TokenOperation::Refresh;
                lift_token(body, pointer, refresh).ok_or_else(|| {
                    AuthError::InvalidTokenResponse {
                        provider: self.id().to_string(),
                        reason: format!("the response has no token object at `{pointer}`"),
                    }
                })?
            }
            None => body,
        };
        OAuth2Token::from_response(body, &settings.scope_separator, received).map_err(|reason| {
            AuthError::InvalidTokenResponse {
                provider: self.id().to_string(),
                reason,
            }
        })
    }

    /// A token response as JSON, from the format the settings name (a form-encoded answer
    /// becomes an object of strings).
    fn parse_body(
        &self,
        settings: &OAuth2Settings,
        body: &[u8],
    ) -> Result<serde_json::Value, AuthError> {
        let invalid = |reason: &str| AuthError::InvalidTokenResponse {
            provider: self.id().to_string(),
            reason: reason.into(),
        };
        match settings.token_response_format {
            BodyFormat::Form => {
                let text = std::str::from_utf8(body)
                    .map_err(|_| invalid("the form-encoded body is not UTF-8"))?;
                if text.trim_start().starts_with('{') {
                    return Err(invalid("the body is JSON, not form-encoded"));
                }
                Ok(serde_json::Value::Object(
                    url::form_urlencoded::parse(text.as_bytes())
                        .map(|(k, v)| (k.into_owned(), serde_json::Value::String(v.into_owned())))
                        .collect(),
                ))
            }
            _ => serde_json::from_slice(body).map_err(|_| invalid("the body is not JSON")),
        }
    }

    /// An OAuth error carried by a successful answer (GitHub's 200 with `error`, Slack's
    /// `ok: false`): a body with a string error code (`error`, or where
    /// [`OAuth2Settings::error_pointer`] says) is a refusal, whatever its status.
    fn error_in_body(
        &self,
        settings: &OAuth2Settings,
        operation: TokenOperation,
        status: u16,
        body: &serde_json::Value,
        secrets: &Redactor,
    ) -> Option<AuthError> {
        let (code, description) = oauth_error_of(Some(settings), body)?;
        Some(self.oauth_error(
            Some(settings),
            operation,
            status,
            code,
            description,
            secrets,
        ))
    }

    /// The provider's OAuth error `code` (with its `description`), cleaned of `secrets`: a code
    /// that says the provider failed for now ([`OAuth2Settings::is_transient_code`]) is
    /// [`AuthError::Transient`], any other [`AuthError::OAuth`].
    fn oauth_error(
        &self,
        settings: Option<&OAuth2Settings>,
        operation: TokenOperation,
        status: u16,
        code: &str,
        description: Option<&str>,
        secrets: &Redactor,
    ) -> AuthError {
        let code = secrets.clean(code, 64);
        if settings.is_some_and(|s| s.is_transient_code(&code)) {
            return self.transient(operation, format!("the provider answered `{code}`"), None);
        }
        AuthError::OAuth {
            provider: self.id().to_string(),
            operation,
            status,
            code: error_code(settings, code),
            description: description.map(|d| secrets.clean(d, 300)),
        }
    }

    /// Posts `form` to `url` with the client authentication of the settings.
    async fn send_form(
        &self,
        settings: &OAuth2Settings,
        url: &Url,
        mut form: Vec<(&'static str, String)>,
        operation: TokenOperation,
    ) -> Result<reqwest::Response, AuthError> {
        let mut request = self
            .http()?
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
                let (id, secret) = basic_pair(settings);
                request = request.basic_auth(id, Some(secret.expose_secret()));
            }
            ClientAuthMethod::None => form.push(("client_id", settings.client_id.clone())),
        }
        request = match settings.token_request_format {
            BodyFormat::Json => request.json(
                &form
                    .iter()
                    .map(|(k, v)| (*k, v.as_str()))
                    .collect::<std::collections::BTreeMap<_, _>>(),
            ),
            _ => request.form(&form),
        };
        self.send(request, operation).await
    }

    /// The endpoint's HTTP client, built at its first use.
    fn http(&self) -> Result<&reqwest::Client, AuthError> {
        client_once(&self.http, || Self::http_client(self.provider.as_ref()))
    }

    /// Sends `request`; a failure to get an answer is transient, and says nothing of the request
    /// (its URL may hold a token).
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        operation: TokenOperation,
    ) -> Result<reqwest::Response, AuthError> {
        request.send().await.map_err(|e| {
            let detail = if e.is_timeout() {
                "timed out"
            } else if e.is_connect() {
                "connection failed"
            } else {
                "request failed"
            };
            self.transient(operation, detail.into(), None)
        })
    }

    /// Classifies a non-2xx answer: 5xx, 408 and 429 are transient, as is an error code that
    /// says the provider failed for now; otherwise the OAuth `error`
    /// code and description are kept (cleaned: controls stripped, the request's `secrets`
    /// redacted, truncated), never the body itself, which is read up to [`MAX_RESPONSE_BYTES`].
    async fn refusal(
        &self,
        operation: TokenOperation,
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
            return self.transient(operation, format!("HTTP {}", status.as_u16()), retry_after);
        }
        let settings = self.provider.oauth2_settings();
        let parsed = match read_limited(response, MAX_RESPONSE_BYTES).await {
            Ok(Some(body)) => serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|body| {
                    oauth_error_of(settings, &body).map(|(code, description)| {
                        (code.to_string(), description.map(String::from))
                    })
                }),
            Ok(None) => return self.too_large(operation),
            Err(_) => None,
        };
        match parsed {
            Some((code, description)) => self.oauth_error(
                settings,
                operation,
                status.as_u16(),
                &code,
                description.as_deref(),
                secrets,
            ),
            None => AuthError::OAuth {
                provider: self.id().to_string(),
                operation,
                status: status.as_u16(),
                code: OAuthErrorCode::Other(format!("http_{}", status.as_u16())),
                description: None,
            },
        }
    }

    /// The error for a response body over [`MAX_RESPONSE_BYTES`], naming the endpoint, not the
    /// body.
    fn too_large(&self, operation: TokenOperation) -> AuthError {
        AuthError::InvalidTokenResponse {
            provider: self.id().to_string(),
            reason: format!(
                "the {}'s {operation} response is larger than {MAX_RESPONSE_BYTES} bytes and was not read",
                operation.endpoint()
            ),
        }
    }

    fn transient(
        &self,
        operation: TokenOperation,
        detail: String,
        retry_after: Option<Duration>,
    ) -> AuthError {
        AuthError::Transient {
            provider: self.id().to_string(),
            operation,
            detail,
            retry_after,
        }
    }
}

/// The typed code of an OAuth error: a code the settings list among
/// [`OAuth2Settings::invalid_grant_codes`] is [`OAuthErrorCode::InvalidGrant`].
fn error_code(settings: Option<&OAuth2Settings>, code: String) -> OAuthErrorCode {
    if settings.is_some_and(|s| s.invalid_grant_codes.contains(&code)) {
        return OAuthErrorCode::InvalidGrant;
    }
    OAuthErrorCode::from(code)
}

/// The token response with the object at `pointer` lifted to the top: its fields win, the other
/// top-level fields are kept beside them except the secrets (which belong to another token, such
/// as Slack's bot token beside the user's), and the object's own `token_type` is dropped (a
/// nested token names its kind there, Slack's `user`, not an HTTP scheme).
///
/// A `refresh` answer without that object, but with an access token at its top level, is the
/// refreshed token itself (Slack answers a user token's refresh so, `token_type` `user`): its
/// `token_type` is dropped likewise. An exchange's top-level token belongs to another (Slack's
/// bot), so an exchange answer without the object has no token.
fn lift_token(body: serde_json::Value, pointer: &str, refresh: bool) -> Option<serde_json::Value> {
    let nested = match body.pointer(pointer) {
        Some(found) => found.as_object()?.clone(),
        None => {
            let serde_json::Value::Object(mut top) = body else {
                return None;
            };
            if !refresh || !top.contains_key("access_token") {
                return None;
            }
            top.remove("token_type");
            return Some(serde_json::Value::Object(top));
        }
    };
    let serde_json::Value::Object(top) = body else {
        return None;
    };
    let lifted_key = pointer.trim_start_matches('/').split('/').next();
    let mut out: serde_json::Map<String, serde_json::Value> = top
        .into_iter()
        .filter(|(k, _)| {
            Some(k.as_str()) != lifted_key
                && !matches!(
                    k.as_str(),
                    "access_token"
                        | "refresh_token"
                        | "id_token"
                        | "token_type"
                        | "expires_in"
                        | "scope"
                        | "refresh_token_expires_in"
                )
        })
        .collect();
    for (k, v) in nested {
        if k != "token_type" {
            out.insert(k, v);
        }
    }
    Some(serde_json::Value::Object(out))
}

fn request_timeout(provider: &dyn AuthProvider) -> Duration {
    provider
        .oauth2_settings()
        .map_or(DEFAULT_REQUEST_TIMEOUT, |s| s.request_timeout)
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
        let (id, secret) = basic_pair(settings);
        let basic = format!("{id}:{}", secret.expose_secret());
        secrets.add(&SecretString::from(STANDARD.encode(basic)));
    }
    secrets
}

/// The `client_secret_basic` user and password: the client id and secret (empty when there is
/// none), each form-urlencoded as RFC 6749 §2.3.1 asks, so a `:` in the id cannot move where the
/// secret starts.
fn basic_pair(settings: &OAuth2Settings) -> (String, SecretString) {
    let encode = |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
    let secret = settings
        .client_secret
        .as_ref()
        .map_or(String::new(), |s| encode(s.expose_secret()));
    (encode(&settings.client_id), SecretString::from(secret))
}

/// The error code and description of an OAuth error body: `error` and `error_description`
/// (RFC 6749 §5.2), or where the settings' pointers say. `None` unless the code is a string and
/// the description, if present, a string too.
fn oauth_error_of<'a>(
    settings: Option<&OAuth2Settings>,
    body: &'a serde_json::Value,
) -> Option<(&'a str, Option<&'a str>)> {
    let (code, description) = match settings {
        Some(s) => (
            body.pointer(&s.error_pointer),
            body.pointer(&s.error_description_pointer),
        ),
        None => (body.get("error"), body.get("error_description")),
    };
    let description = match description {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(d)) => Some(d.as_str()),
        Some(_) => return None,
    };
    Some((code?.as_str()?, description))
}
