//! The [`AuthProvider`] trait, OAuth2 settings, and the `inventory` registry of providers.

use std::any::Any;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use url::Url;

use crate::config::{ConfigField, ConfigLoader, ProviderConfig};
use crate::error::{AuthError, ConfigError};
use crate::redact::shown_url;
use crate::secret::SecretString;
use crate::token::{Credentials, OAuth2Token};

/// How the client authenticates to the token and revocation endpoints (RFC 6749 §2.3.1; the names
/// are those of RFC 7591's `token_endpoint_auth_method`).
///
/// ```
/// use auth_core::provider::ClientAuthMethod;
///
/// assert_eq!("client_secret_basic".parse(), Ok(ClientAuthMethod::BasicAuth));
/// assert_eq!(ClientAuthMethod::None.as_str(), "none");
/// assert!("private_key_jwt".parse::<ClientAuthMethod>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ClientAuthMethod {
    /// `client_id` and `client_secret` in the form body (`client_secret_post`): the default.
    #[default]
    RequestBody,
    /// HTTP Basic with the client id and secret (`client_secret_basic`), which every server
    /// must support; the body carries neither.
    BasicAuth,
    /// A public client (`none`): `client_id` in the form body and no secret, even when one is
    /// configured. Such a client proves itself with PKCE.
    None,
}

impl ClientAuthMethod {
    /// Every method, by its name.
    pub const ALL: [ClientAuthMethod; 3] = [
        ClientAuthMethod::BasicAuth,
        ClientAuthMethod::RequestBody,
        ClientAuthMethod::None,
    ];

    /// Every method's name, for configuration fields.
    pub const NAMES: &'static [&'static str] =
        &["client_secret_basic", "client_secret_post", "none"];

    /// `client_secret_basic`, `client_secret_post` or `none`.
    pub fn as_str(self) -> &'static str {
        match self {
            ClientAuthMethod::BasicAuth => "client_secret_basic",
            ClientAuthMethod::RequestBody => "client_secret_post",
            ClientAuthMethod::None => "none",
        }
    }
}

impl fmt::Display for ClientAuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ClientAuthMethod {
    type Err = String;

    /// Parses [`ClientAuthMethod::as_str`]'s names; the error lists them.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        ClientAuthMethod::ALL
            .into_iter()
            .find(|method| method.as_str() == name)
            .ok_or_else(|| format!("expected one of: {}", ClientAuthMethod::NAMES.join(", ")))
    }
}

/// Which token a revocation request sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum RevokeToken {
    /// The refresh token, revoking the whole grant (Asana accepts nothing else). Credentials
    /// without one, such as a personal access token, have no grant to revoke: revocation then
    /// succeeds without a request.
    #[default]
    Refresh,
    /// The refresh token if there is one, else the access token (RFC 7009 providers).
    RefreshOrAccess,
    /// The access token.
    Access,
}

/// How a revocation request is sent to [`OAuth2Settings::revocation_url`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum RevocationRequest {
    /// RFC 7009: `POST` a form of `token` and `token_type_hint` (the token
    /// [`OAuth2Settings::revoke_token`] picks), with the client's authentication at the token
    /// endpoint.
    #[default]
    Rfc7009,
    /// `DELETE` the URL with HTTP Basic authentication of the client id and secret, and
    /// `{"access_token": ...}` as a JSON body (GitHub's `DELETE /applications/{client_id}/token`,
    /// which deletes that token, or `/grant`, which deletes every token of the account's grant to
    /// the app). Needs the client secret.
    DeleteWithAccessToken,
    /// `DELETE` the URL with the refresh token appended as one more path segment, no body
    /// (HubSpot's `DELETE /oauth/v1/refresh-tokens/{token}`): the refresh token is deleted, and
    /// access tokens already issued from it run until they expire. Credentials without a refresh
    /// token have nothing to delete: revocation then succeeds without a request.
    DeleteRefreshTokenInPath,
}

/// What a revocation ends at the provider: the tokens it names, or the account's whole grant to
/// the OAuth app. An application may hold several connectors of one account under one app; where
/// revoking one ends the grant, it ends them all.
///
/// ```
/// use auth_core::provider::{OAuth2Settings, RevocationScope};
///
/// let settings = OAuth2Settings::new(
///     "https://acme.example/authorize".parse().unwrap(),
///     "https://acme.example/token".parse().unwrap(),
///     "client-id",
/// );
/// assert_eq!(settings.revocation_scope, RevocationScope::Grant);
/// let settings = settings.with_revocation_scope(RevocationScope::Token);
/// assert_eq!(settings.revocation_scope, RevocationScope::Token);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum RevocationScope {
    /// Revoking ends no token that another connector holds: the token sent and, at most, the
    /// tokens issued from it (Asana's refresh token and its access tokens; HubSpot's refresh
    /// token, whose access tokens run until they expire; a GitHub token, through
    /// `DELETE /applications/{client_id}/token`).
    Token,
    /// Revoking may end every token of the account's grant to the app (the default: what a
    /// provider does is assumed to be the larger harm until it is known).
    #[default]
    Grant,
}

/// How a body to or from the token endpoint is encoded.
///
/// ```
/// use auth_core::provider::BodyFormat;
///
/// assert_eq!("form".parse(), Ok(BodyFormat::Form));
/// assert_eq!(BodyFormat::Json.as_str(), "json");
/// assert!("xml".parse::<BodyFormat>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BodyFormat {
    /// `application/x-www-form-urlencoded` (`form`).
    Form,
    /// `application/json` (`json`).
    Json,
}

impl BodyFormat {
    /// Every format's name.
    pub const NAMES: &'static [&'static str] = &["form", "json"];

    /// `form` or `json`.
    pub fn as_str(self) -> &'static str {
        match self {
            BodyFormat::Form => "form",
            BodyFormat::Json => "json",
        }
    }
}

impl std::str::FromStr for BodyFormat {
    type Err = String;

    /// Parses [`BodyFormat::as_str`]'s names; the error lists them.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        [BodyFormat::Form, BodyFormat::Json]
            .into_iter()
            .find(|format| format.as_str() == name)
            .ok_or_else(|| format!("expected one of: {}", BodyFormat::NAMES.join(", ")))
    }
}

/// A provider's OAuth2 endpoints and client settings.
///
/// ```
/// use auth_core::provider::{ClientAuthMethod, OAuth2Settings};
///
/// let settings = OAuth2Settings::new(
///     "https://acme.example/authorize".parse().unwrap(),
///     "https://acme.example/token".parse().unwrap(),
///     "client-id",
/// )
/// .with_client_secret("secret".into())
/// .with_scope_separator(",")
/// .with_client_auth(ClientAuthMethod::BasicAuth);
/// assert_eq!(settings.scope_separator, ",");
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct OAuth2Settings {
    /// The consent page.
    pub authorization_url: Url,
    /// The token endpoint (code exchange and refresh).
    pub token_url: Url,
    /// The revocation endpoint, if the provider has one.
    pub revocation_url: Option<Url>,
    /// The OAuth client id.
    pub client_id: String,
    /// The OAuth client secret (public clients have none).
    pub client_secret: Option<SecretString>,
    /// The redirect URI registered with the provider.
    pub redirect_uri: Option<Url>,
    /// Scopes requested when `authorize` is given none.
    pub default_scopes: Vec<String>,
    /// How scopes are joined in the authorize URL and split in token responses (default `" "`);
    /// a blank one joins with a space and splits on whitespace and commas.
    pub scope_separator: String,
    /// Refresh this long before the access token expires (default 60 s), but never more than half
    /// the token's lifetime (a 30-second token is refreshed 15 s before it expires).
    pub expiry_margin: Duration,
    /// Client authentication at the token endpoint.
    pub client_auth: ClientAuthMethod,
    /// Send a PKCE S256 challenge (default true).
    pub pkce: bool,
    /// Which token revocation sends (for an RFC 7009 revocation).
    pub revoke_token: RevokeToken,
    /// How revocation is sent (default [`RevocationRequest::Rfc7009`]).
    pub revocation_request: RevocationRequest,
    /// What a revocation ends (default [`RevocationScope::Grant`]).
    pub revocation_scope: RevocationScope,
    /// Extra query parameters for every authorize URL; one the flow sets itself is refused (see
    /// [`AuthError::ReservedAuthorizeParam`]).
    pub extra_authorize_params: Vec<(String, String)>,
    /// Timeout of each token-endpoint request (default 30 s).
    pub request_timeout: Duration,
    /// The query parameter of the authorize URL that carries the scopes (default `scope`; Slack
    /// asks for a user's scopes in `user_scope`).
    pub scope_param: String,
    /// How grants are sent to the token endpoint (default [`BodyFormat::Form`], RFC 6749).
    pub token_request_format: BodyFormat,
    /// How the token endpoint answers (default [`BodyFormat::Json`], RFC 6749).
    pub token_response_format: BodyFormat,
    /// A JSON pointer (RFC 6901) to the object of the token response that holds the token, when
    /// it is not the response itself (Slack's user token: `/authed_user`). The other fields of
    /// the response are kept in [`OAuth2Token::raw`].
    pub token_pointer: Option<String>,
    /// Error codes that mean what `invalid_grant` means (GitHub's `bad_refresh_token`): they are
    /// reported as [`OAuthErrorCode::InvalidGrant`](crate::OAuthErrorCode::InvalidGrant).
    pub invalid_grant_codes: Vec<String>,
    /// Error codes that say the provider failed for now, not the request (Slack's
    /// `internal_error`): they are reported as [`AuthError::Transient`],
    /// as RFC 6749's `temporarily_unavailable` and `server_error` always are.
    pub transient_codes: Vec<String>,
    /// A JSON pointer to the error code of an error answer (default `/error`, RFC 6749 §5.2;
    /// HubSpot's is `/status`).
    pub error_pointer: String,
    /// A JSON pointer to the error's description (default `/error_description`; HubSpot's is
    /// `/message`).
    pub error_description_pointer: String,
}

/// Every field, URLs as [`shown_url`] prints them (a key in a query or user information is not
/// shown); the client secret is a [`SecretString`].
impl fmt::Debug for OAuth2Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Written out whole, so that a new field cannot be left out of `Debug` unnoticed.
        let Self {
            authorization_url,
            token_url,
            revocation_url,
            client_id,
            client_secret,
            redirect_uri,
            default_scopes,
            scope_separator,
            expiry_margin,
            client_auth,
            pkce,
            revoke_token,
            revocation_request,
            revocation_scope,
            extra_authorize_params,
            request_timeout,
            scope_param,
            token_request_format,
            token_response_format,
            token_pointer,
            invalid_grant_codes,
            transient_codes,
            error_pointer,
            error_description_pointer,
        } = self;
        f.debug_struct("OAuth2Settings")
            .field("authorization_url", &shown_url(authorization_url))
            .field("token_url", &shown_url(token_url))
            .field("revocation_url", &revocation_url.as_ref().map(shown_url))
            .field("client_id", client_id)
            .field("client_secret", client_secret)
            .field("redirect_uri", &redirect_uri.as_ref().map(shown_url))
            .field("default_scopes", default_scopes)
            .field("scope_separator", scope_separator)
            .field("expiry_margin", expiry_margin)
            .field("client_auth", client_auth)
            .field("pkce", pkce)
            .field("revoke_token", revoke_token)
            .field("revocation_request", revocation_request)
            .field("revocation_scope", revocation_scope)
            .field("extra_authorize_params", extra_authorize_params)
            .field("request_timeout", request_timeout)
            .field("scope_param", scope_param)
            .field("token_request_format", token_request_format)
            .field("token_response_format", token_response_format)
            .field("token_pointer", token_pointer)
            .field("invalid_grant_codes", invalid_grant_codes)
            .field("transient_codes", transient_codes)
            .field("error_pointer", error_pointer)
            .field("error_description_pointer", error_description_pointer)
            .finish()
    }
}

impl OAuth2Settings {
    /// Settings with the defaults described on each field.
    pub fn new(authorization_url: Url, token_url: Url, client_id: impl Into<String>) -> Self {
        Self {
            authorization_url,
            token_url,
            revocation_url: None,
            client_id: client_id.into(),
            client_secret: None,
            redirect_uri: None,
            default_scopes: Vec::new(),
            scope_separator: " ".into(),
            expiry_margin: Duration::from_secs(60),
            client_auth: ClientAuthMethod::RequestBody,
            pkce: true,
            revoke_token: RevokeToken::Refresh,
            revocation_request: RevocationRequest::Rfc7009,
            revocation_scope: RevocationScope::Grant,
            extra_authorize_params: Vec::new(),
            request_timeout: Duration::from_secs(30),
            scope_param: "scope".into(),
            token_request_format: BodyFormat::Form,
            token_response_format: BodyFormat::Json,
            token_pointer: None,
            invalid_grant_codes: Vec::new(),
            transient_codes: Vec::new(),
            error_pointer: "/error".into(),
            error_description_pointer: "/error_description".into(),
        }
    }

    /// Sets the client secret.
    pub fn with_client_secret(mut self, secret: SecretString) -> Self {
        self.client_secret = Some(secret);
        self
    }

    /// Sets the revocation endpoint.
    pub fn with_revocation_url(mut self, url: Url) -> Self {
        self.revocation_url = Some(url);
        self
    }

    /// Sets the registered redirect URI.
    pub fn with_redirect_uri(mut self, url: Url) -> Self {
        self.redirect_uri = Some(url);
        self
    }

    /// Sets the default scopes.
    pub fn with_default_scopes(mut self, scopes: Vec<String>) -> Self {
        self.default_scopes = scopes;
        self
    }

    /// Sets the scope separator.
    pub fn with_scope_separator(mut self, separator: impl Into<String>) -> Self {
        self.scope_separator = separator.into();
        self
    }

    /// Sets the expiry margin.
    pub fn with_expiry_margin(mut self, margin: Duration) -> Self {
        self.expiry_margin = margin;
        self
    }

    /// Sets the client authentication method.
    pub fn with_client_auth(mut self, method: ClientAuthMethod) -> Self {
        self.client_auth = method;
        self
    }

    /// Enables or disables PKCE.
    pub fn with_pkce(mut self, pkce: bool) -> Self {
        self.pkce = pkce;
        self
    }

    /// Sets which token revocation sends.
    pub fn with_revoke_token(mut self, which: RevokeToken) -> Self {
        self.revoke_token = which;
        self
    }

    /// Sets how revocation is sent.
    pub fn with_revocation_request(mut self, request: RevocationRequest) -> Self {
        self.revocation_request = request;
        self
    }

    /// Sets what a revocation ends.
    pub fn with_revocation_scope(mut self, scope: RevocationScope) -> Self {
        self.revocation_scope = scope;
        self
    }

    /// The token a revocation of `token` sends, if it sends one: none without a revocation URL,
    /// or when the request needs a refresh token that `token` lacks (a personal access token, or
    /// an access token alone, has no grant to revoke there).
    pub fn revoked_token<'a>(&self, token: &'a OAuth2Token) -> Option<&'a SecretString> {
        self.revocation_url.as_ref()?;
        match (self.revocation_request, self.revoke_token) {
            (RevocationRequest::DeleteWithAccessToken, _)
            | (RevocationRequest::Rfc7009, RevokeToken::Access) => Some(&token.access_token),
            (RevocationRequest::Rfc7009, RevokeToken::RefreshOrAccess) => {
                Some(token.refresh_token.as_ref().unwrap_or(&token.access_token))
            }
            _ => token.refresh_token.as_ref(),
        }
    }

    /// Adds a query parameter to every authorize URL (not one the flow sets itself: see
    /// [`AuthError::ReservedAuthorizeParam`]).
    pub fn with_authorize_param(
        mut self,
        key: impl Into<String>,
        value: impl Into<String>,
    ) -> Self {
        self.extra_authorize_params.push((key.into(), value.into()));
        self
    }

    /// Sets the token-endpoint request timeout.
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Sets the authorize URL's scope parameter.
    pub fn with_scope_param(mut self, name: impl Into<String>) -> Self {
        self.scope_param = name.into();
        self
    }

    /// Sets how grants are sent to the token endpoint.
    pub fn with_token_request_format(mut self, format: BodyFormat) -> Self {
        self.token_request_format = format;
        self
    }

    /// Sets how the token endpoint answers.
    pub fn with_token_response_format(mut self, format: BodyFormat) -> Self {
        self.token_response_format = format;
        self
    }

    /// Sets where the token sits in the token response (a JSON pointer).
    pub fn with_token_pointer(mut self, pointer: impl Into<String>) -> Self {
        self.token_pointer = Some(pointer.into());
        self
    }

    /// Sets where an error answer's code and description sit (JSON pointers).
    pub fn with_error_pointers(
        mut self,
        code: impl Into<String>,
        description: impl Into<String>,
    ) -> Self {
        self.error_pointer = code.into();
        self.error_description_pointer = description.into();
        self
    }

    /// Adds an error code that means `invalid_grant`.
    pub fn with_invalid_grant_code(mut self, code: impl Into<String>) -> Self {
        self.invalid_grant_codes.push(code.into());
        self
    }

    /// Adds an error code that means the provider failed for now.
    pub fn with_transient_code(mut self, code: impl Into<String>) -> Self {
        self.transient_codes.push(code.into());
        self
    }

    /// Whether error `code` says the provider failed for now: RFC 6749's
    /// `temporarily_unavailable` or `server_error`, or one of [`OAuth2Settings::transient_codes`].
    pub fn is_transient_code(&self, code: &str) -> bool {
        matches!(code, "temporarily_unavailable" | "server_error")
            || self.transient_codes.iter().any(|c| c == code)
    }
}

/// Where a subject's token may be sent for raw API requests, how, and the headers the API requires.
///
/// ```
/// use auth_core::provider::ApiSettings;
///
/// let api = ApiSettings::new("https://api.github.com".parse().unwrap())
///     .with_header("User-Agent", "integrations");
/// assert_eq!(api.headers, [("User-Agent".to_string(), "integrations".to_string())]);
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiSettings {
    /// The API base URL: request paths are appended to it, and the token goes to its origin only.
    pub base_url: Url,
    /// Headers every request carries (GitHub refuses requests without a `User-Agent`).
    pub headers: Vec<(String, String)>,
    /// A token that starts with one of these is sent bare, `Authorization: <token>`, instead of
    /// `Authorization: Bearer <token>`: the API keys of a provider that refuses them with the
    /// `Bearer` scheme it wants for OAuth tokens (Linear's personal keys, `lin_api_…`).
    pub bare_token_prefixes: Vec<String>,
}

/// The base URL as [`shown_url`] prints it, and the headers' names only: a definition's header
/// may carry a key.
impl fmt::Debug for ApiSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Written out whole, so that a new field cannot be left out of `Debug` unnoticed.
        let Self {
            base_url,
            headers,
            bare_token_prefixes,
        } = self;
        let header_names: Vec<&str> = headers.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("ApiSettings")
            .field("base_url", &shown_url(base_url))
            .field("header_names", &header_names)
            .field("bare_token_prefixes", bare_token_prefixes)
            .finish()
    }
}

impl ApiSettings {
    /// An API at `base_url`, with no required header, every token sent as a bearer token.
    pub fn new(base_url: Url) -> Self {
        Self {
            base_url,
            headers: Vec::new(),
            bare_token_prefixes: Vec::new(),
        }
    }

    /// Adds a header every request carries.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sends tokens that start with `prefix` bare, without the `Bearer` scheme.
    ///
    /// ```
    /// use auth_core::provider::ApiSettings;
    ///
    /// let api = ApiSettings::new("https://api.linear.app".parse().unwrap())
    ///     .with_bare_token_prefix("lin_api_");
    /// assert!(api.sends_bare("lin_api_0123"));
    /// assert!(!api.sends_bare("an-oauth-access-token"));
    /// ```
    pub fn with_bare_token_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.bare_token_prefixes.push(prefix.into());
        self
    }

    /// Whether `token` is sent bare ([`ApiSettings::bare_token_prefixes`]); an empty prefix
    /// matches nothing.
    pub fn sends_bare(&self, token: &str) -> bool {
        self.bare_token_prefixes
            .iter()
            .any(|prefix| !prefix.is_empty() && token.starts_with(prefix.as_str()))
    }
}

/// A SaaS provider's authentication: OAuth2 settings, an optional app-level token, and how token
/// responses become its credentials. Object-safe; the manager holds `Arc<dyn AuthProvider>`.
#[async_trait]
pub trait AuthProvider: Any + Send + Sync + fmt::Debug {
    /// Stable lower-case id, e.g. `"asana"`: the key under which credentials are stored.
    fn id(&self) -> &str;

    /// Human-readable name.
    fn display_name(&self) -> &str {
        self.id()
    }

    /// OAuth2 settings, or `None` when only an app-level token is configured.
    fn oauth2_settings(&self) -> Option<&OAuth2Settings>;

    /// An app-level token (for example a personal access token) that may stand in for a subject
    /// without stored credentials, if the session allows it.
    fn app_token(&self) -> Option<&SecretString> {
        None
    }

    /// The API a subject's token is sent to by [`Session::request`](crate::Session::request),
    /// given the provider-specific fields of the subject's credentials (a per-user API base,
    /// such as Salesforce's `instance_url`, lives there). `None`: the provider offers no raw
    /// requests.
    fn api(
        &self,
        credentials_extra: &serde_json::Map<String, serde_json::Value>,
    ) -> Option<ApiSettings> {
        let _ = credentials_extra;
        None
    }

    /// The configuration the provider was built from, if it came from the registry.
    fn config(&self) -> Option<&ProviderConfig> {
        None
    }

    /// Turns a parsed code-exchange response into credentials. The default keeps the token alone;
    /// providers add what they know (Asana adds the user from the response's `data`).
    async fn credentials_from_token(&self, token: OAuth2Token) -> Result<Credentials, AuthError> {
        Ok(Credentials::new(token))
    }

    /// Merges a refresh response into the previous credentials. The default keeps the old refresh
    /// token (with its expiry) and ID token when the response omits them, and every
    /// provider-specific field.
    fn merge_refreshed(&self, previous: &Credentials, mut token: OAuth2Token) -> Credentials {
        if token.refresh_token.is_none() {
            token.refresh_token = previous.token.refresh_token.clone();
            token.refresh_token_expires_at = previous.token.refresh_token_expires_at;
        }
        if token.id_token.is_none() {
            token.id_token = previous.token.id_token.clone();
        }
        if token.scope.is_empty() {
            token.scope = previous.token.scope.clone();
        }
        Credentials {
            token,
            extra: previous.extra.clone(),
        }
    }
}

/// How a provider crate registers itself: `inventory::submit! { ProviderRegistration { ... } }`.
///
/// The manager's builder loads each registered provider's [`ConfigField`]s and, when
/// `is_configured` says the configuration is present, calls `build`.
#[derive(Debug)]
pub struct ProviderRegistration {
    /// Provider id.
    pub id: &'static str,
    /// Human-readable name.
    pub display_name: &'static str,
    /// The configuration fields, with env keys and defaults.
    pub fields: &'static [ConfigField],
    /// Whether the loaded configuration is enough to build the provider.
    pub is_configured: fn(&ProviderConfig) -> bool,
    /// Builds the provider from its configuration.
    pub build: fn(ProviderConfig) -> Result<Arc<dyn AuthProvider>, ConfigError>,
}

inventory::collect!(ProviderRegistration);

/// A provider the manager's builder can configure and build: a [`ProviderRegistration`], or one
/// made at run time (a definition read from a file) and handed over by a [`ProviderSource`].
pub trait ProviderFactory: Send + Sync + fmt::Debug {
    /// Provider id.
    fn id(&self) -> &str;
    /// Human-readable name.
    fn display_name(&self) -> &str;
    /// The configuration fields, with env keys and defaults.
    fn fields(&self) -> &'static [ConfigField];
    /// Whether the loaded configuration is enough to build the provider.
    fn is_configured(&self, config: &ProviderConfig) -> bool;
    /// Builds the provider from its configuration.
    fn build(&self, config: ProviderConfig) -> Result<Arc<dyn AuthProvider>, ConfigError>;
    /// `true` only when `loader` certainly leaves this provider unconfigured and loading its
    /// configuration cannot fail, so that the manager's builder may skip it (and whatever
    /// [`fields`](Self::fields) costs) and make its status when
    /// [`provider_statuses`](crate::AuthManager::provider_statuses) is first called. The default,
    /// `false`, has the builder load the configuration.
    fn surely_unconfigured(&self, loader: &ConfigLoader) -> bool {
        let _ = loader;
        false
    }
}

impl ProviderFactory for ProviderRegistration {
    fn id(&self) -> &str {
        self.id
    }

    fn display_name(&self) -> &str {
        self.display_name
    }

    fn fields(&self) -> &'static [ConfigField] {
        self.fields
    }

    fn is_configured(&self, config: &ProviderConfig) -> bool {
        (self.is_configured)(config)
    }

    fn build(&self, config: ProviderConfig) -> Result<Arc<dyn AuthProvider>, ConfigError> {
        (self.build)(config)
    }
}

/// Providers known only at run time, registered with `inventory::submit! { ProviderSource { .. } }`:
/// the manager's builder calls `load` with its configuration loader (whose file and env may name
/// definition files) and sets up what it returns like registered providers. A provider
/// registered with a [`ProviderRegistration`] of the same id wins.
#[derive(Debug)]
pub struct ProviderSource {
    /// What the source is, for messages (e.g. `declarative providers`).
    pub name: &'static str,
    /// The providers it knows for this configuration, or the error naming what is wrong.
    pub load: fn(&ConfigLoader) -> Result<Factories, ConfigError>,
}

/// What a [`ProviderSource`] returns.
pub type Factories = Vec<Arc<dyn ProviderFactory>>;

inventory::collect!(ProviderSource);

/// The providers of every registered [`ProviderSource`], in the order the sources return them.
pub fn sourced_providers(loader: &ConfigLoader) -> Result<Factories, ConfigError> {
    let mut all = Vec::new();
    for source in inventory::iter::<ProviderSource> {
        all.extend((source.load)(loader)?);
    }
    Ok(all)
}

/// Every registered provider, sorted by id (the first registration of an id wins).
pub fn registered_providers() -> Vec<&'static ProviderRegistration> {
    let mut all: Vec<&'static ProviderRegistration> = inventory::iter::<ProviderRegistration>
        .into_iter()
        .collect();
    all.sort_by_key(|r| r.id);
    all.dedup_by_key(|r| r.id);
    all
}
