//! Asana authentication: [`AsanaAuthProvider`], its app configuration and user credentials.
//!
//! Configuration keys (the first env key set wins; code beats env beats the TOML file's `[asana]`
//! section beats defaults):
//!
//! | field | default | env keys |
//! | --- | --- | --- |
//! | `authorization_url` | `https://app.asana.com/-/oauth_authorize` | `ASANA_AUTHORIZATION_URL`, `ASANA_AUTHORIZE_URL` |
//! | `token_url` | `https://app.asana.com/-/oauth_token` | `ASANA_TOKEN_URL`, `ASANA_ACCESS_TOKEN_URL` |
//! | `revocation_url` | `https://app.asana.com/-/oauth_revoke` | `ASANA_REVOCATION_URL`, `ASANA_REVOKE_URL` |
//! | `api_base_url` | `https://app.asana.com/api/1.0` | `ASANA_API_BASE_URL`, `ASANA_BASE_URL` |
//! | `client_id` | none | `ASANA_CLIENT_ID` |
//! | `client_secret` | none | `ASANA_CLIENT_SECRET` |
//! | `redirect_uri` | none | `ASANA_REDIRECT_URI` |
//! | `token` (personal access token) | none | `ASANA_ACCESS_TOKEN`, `ASANA_PERSONAL_ACCESS_TOKEN`, `ASANA_TOKEN` |
//! | `default_scope` | none | `ASANA_DEFAULT_SCOPE` (comma- or space-separated, or a TOML list) |
//! | `workspace_gid` | none | `ASANA_WORKSPACE_GID`, `ASANA_WORKSPACE` |
//! | `token_auth_method` | `client_secret_post` | `ASANA_TOKEN_AUTH_METHOD` (`client_secret_post`, `client_secret_basic` or `none`) |
//!
//! The provider is configured when it has a client id and secret (OAuth), a client id alone with
//! `token_auth_method = "none"` (a public client, with PKCE), or a token (PAT).

use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use async_trait::async_trait;
use auth_core::config::{
    ConfigField, ProviderConfig, check_endpoint_from_code, check_redirect_uri_from_code,
};
use auth_core::http::client_once;
use auth_core::provider::{ApiSettings, ClientAuthMethod, OAuth2Settings, RevocationScope};
use auth_core::redact::shown_url;
use auth_core::token::UserCredentials;
use auth_core::{
    AuthError, AuthProvider, ConfigError, CredentialSource, Credentials, OAuth2Token, SecretString,
    Session,
};
use serde::{Deserialize, Deserializer, Serialize};
use url::Url;

use crate::client::{AsanaClient, AsanaClientSettings, ConcurrencyLimiter, DownloadClient};
use crate::defaults::{
    DEFAULT_API_BASE_URL, DEFAULT_AUTHORIZATION_URL, DEFAULT_REVOCATION_URL, DEFAULT_TOKEN_URL,
};
use crate::error::AsanaError;

/// The provider id under which Asana credentials are stored.
pub const PROVIDER_ID: &str = "asana";

/// Asana's configuration keys: each field's name and the type it reads as.
mod keys {
    use auth_core::SecretString;
    use auth_core::config::ConfigKey;
    use auth_core::provider::ClientAuthMethod;
    use url::Url;

    pub(super) const AUTHORIZATION_URL: ConfigKey<Url> = ConfigKey::url("authorization_url");
    pub(super) const TOKEN_URL: ConfigKey<Url> = ConfigKey::url("token_url");
    pub(super) const REVOCATION_URL: ConfigKey<Url> = ConfigKey::url("revocation_url");
    pub(super) const API_BASE_URL: ConfigKey<Url> = ConfigKey::url("api_base_url");
    pub(super) const CLIENT_ID: ConfigKey<str> = ConfigKey::text("client_id");
    pub(super) const CLIENT_SECRET: ConfigKey<SecretString> = ConfigKey::secret("client_secret");
    pub(super) const REDIRECT_URI: ConfigKey<Url> = ConfigKey::redirect_uri("redirect_uri");
    pub(super) const TOKEN: ConfigKey<SecretString> = ConfigKey::secret("token");
    pub(super) const DEFAULT_SCOPE: ConfigKey<[String]> = ConfigKey::list("default_scope");
    pub(super) const WORKSPACE_GID: ConfigKey<str> = ConfigKey::text("workspace_gid");
    pub(super) const TOKEN_AUTH_METHOD: ConfigKey<str> =
        ConfigKey::one_of("token_auth_method", ClientAuthMethod::NAMES);
}

/// Asana's configuration fields, env keys in priority order.
pub const FIELDS: &[ConfigField] = &[
    keys::AUTHORIZATION_URL
        .field(&["ASANA_AUTHORIZATION_URL", "ASANA_AUTHORIZE_URL"])
        .with_default(DEFAULT_AUTHORIZATION_URL),
    keys::TOKEN_URL
        .field(&["ASANA_TOKEN_URL", "ASANA_ACCESS_TOKEN_URL"])
        .with_default(DEFAULT_TOKEN_URL),
    keys::REVOCATION_URL
        .field(&["ASANA_REVOCATION_URL", "ASANA_REVOKE_URL"])
        .with_default(DEFAULT_REVOCATION_URL),
    keys::API_BASE_URL
        .field(&["ASANA_API_BASE_URL", "ASANA_BASE_URL"])
        .with_default(DEFAULT_API_BASE_URL),
    keys::CLIENT_ID.field(&["ASANA_CLIENT_ID"]),
    keys::CLIENT_SECRET.field(&["ASANA_CLIENT_SECRET"]),
    keys::REDIRECT_URI.field(&["ASANA_REDIRECT_URI"]),
    keys::TOKEN.field(&[
        "ASANA_ACCESS_TOKEN",
        "ASANA_PERSONAL_ACCESS_TOKEN",
        "ASANA_TOKEN",
    ]),
    keys::DEFAULT_SCOPE.field(&["ASANA_DEFAULT_SCOPE"]),
    keys::WORKSPACE_GID.field(&["ASANA_WORKSPACE_GID", "ASANA_WORKSPACE"]),
    keys::TOKEN_AUTH_METHOD
        .field(&["ASANA_TOKEN_AUTH_METHOD"])
        .with_default("client_secret_post"),
];

/// The application's Asana configuration (what the Python framework calls app credentials).
#[derive(Clone)]
#[non_exhaustive]
pub struct AsanaAppCredentials {
    /// The consent page.
    pub authorization_url: Url,
    /// The token endpoint.
    pub token_url: Url,
    /// The revocation endpoint.
    pub revocation_url: Url,
    /// The REST API base.
    pub api_base_url: Url,
    /// OAuth client id.
    pub client_id: Option<String>,
    /// OAuth client secret.
    pub client_secret: Option<SecretString>,
    /// The redirect URI registered with the app.
    pub redirect_uri: Option<Url>,
    /// A personal access token, used when a subject has no OAuth credentials (if allowed).
    pub token: Option<SecretString>,
    /// Scopes requested by default (space-separated on the wire).
    pub default_scope: Vec<String>,
    /// Default workspace for the client.
    pub workspace_gid: Option<String>,
    /// How the app authenticates to the token and revocation endpoints (default
    /// `client_secret_post`, as Asana documents).
    pub token_auth_method: ClientAuthMethod,
}

impl fmt::Debug for AsanaAppCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsanaAppCredentials")
            .field("authorization_url", &shown_url(&self.authorization_url))
            .field("token_url", &shown_url(&self.token_url))
            .field("revocation_url", &shown_url(&self.revocation_url))
            .field("api_base_url", &shown_url(&self.api_base_url))
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("redirect_uri", &self.redirect_uri.as_ref().map(shown_url))
            .field("token", &self.token)
            .field("default_scope", &self.default_scope)
            .field("workspace_gid", &self.workspace_gid)
            .field("token_auth_method", &self.token_auth_method)
            .finish()
    }
}

impl Default for AsanaAppCredentials {
    fn default() -> Self {
        let url = |s: &str| Url::parse(s).expect("built-in URL is valid");
        Self {
            authorization_url: url(DEFAULT_AUTHORIZATION_URL),
            token_url: url(DEFAULT_TOKEN_URL),
            revocation_url: url(DEFAULT_REVOCATION_URL),
            api_base_url: url(DEFAULT_API_BASE_URL),
            client_id: None,
            client_secret: None,
            redirect_uri: None,
            token: None,
            default_scope: Vec::new(),
            workspace_gid: None,
            token_auth_method: ClientAuthMethod::RequestBody,
        }
    }
}

impl AsanaAppCredentials {
    /// Reads the fields from a loaded configuration.
    pub fn from_config(config: &ProviderConfig) -> Self {
        let defaults = Self::default();
        let url = |key, default| config.get(&key).cloned().unwrap_or(default);
        Self {
            authorization_url: url(keys::AUTHORIZATION_URL, defaults.authorization_url),
            token_url: url(keys::TOKEN_URL, defaults.token_url),
            revocation_url: url(keys::REVOCATION_URL, defaults.revocation_url),
            api_base_url: url(keys::API_BASE_URL, defaults.api_base_url),
            client_id: config.get(&keys::CLIENT_ID).map(String::from),
            client_secret: config.get(&keys::CLIENT_SECRET).cloned(),
            redirect_uri: config.get(&keys::REDIRECT_URI).cloned(),
            token: config.get(&keys::TOKEN).cloned(),
            default_scope: config
                .get(&keys::DEFAULT_SCOPE)
                .map(<[String]>::to_vec)
                .unwrap_or_default(),
            workspace_gid: config.get(&keys::WORKSPACE_GID).map(String::from),
            // The loader accepts only the method names.
            token_auth_method: config
                .get(&keys::TOKEN_AUTH_METHOD)
                .and_then(|name| name.parse().ok())
                .unwrap_or(defaults.token_auth_method),
        }
    }

    /// Whether there is enough to run: client id and secret, a client id alone for a public
    /// client (`token_auth_method` `none`), or a token.
    pub fn is_configured(&self) -> bool {
        let public = self.token_auth_method == ClientAuthMethod::None;
        (self.client_id.is_some() && (self.client_secret.is_some() || public))
            || self.token.is_some()
    }
}

/// The Asana user a token belongs to, from the token response's `data`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AsanaUser {
    /// Global id (a string).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<String>,
    /// Legacy numeric id (accepted as a number or a string, kept as a string).
    #[serde(
        default,
        deserialize_with = "id_as_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub id: Option<String>,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// E-mail address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

fn id_as_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        Some(serde_json::Value::String(s)) => Some(s),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

/// A user's Asana credentials: the OAuth2 token plus the workspace and the Asana user.
///
/// Its `Serialize` writes the access and refresh tokens in clear, as
/// [`OAuth2Token`]'s does, because that is how credential stores persist them (encrypted at rest
/// when the store is an `EncryptedStore` with a key configured): serialize it into a credential
/// store only, never into logs, responses or anything else. Its `Debug` redacts them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AsanaUserCredentials {
    /// `access_token`, `token_type`, `refresh_token`, `scope`, `expires_in`, `expires_at`,
    /// `id_token`, `raw` (flattened).
    #[serde(flatten)]
    pub token: OAuth2Token,
    /// The default workspace for this user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace_gid: Option<String>,
    /// Who the token belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<AsanaUser>,
}

impl AsanaUserCredentials {
    /// Credentials from a personal access token.
    pub fn from_personal_access_token(token: SecretString) -> Self {
        Self {
            token: OAuth2Token::bearer(token),
            workspace_gid: None,
            user: None,
        }
    }
}

impl UserCredentials for AsanaUserCredentials {
    fn oauth2_token(&self) -> &OAuth2Token {
        &self.token
    }

    fn oauth2_token_mut(&mut self) -> &mut OAuth2Token {
        &mut self.token
    }
}

/// Asana's [`AuthProvider`]: OAuth2 with PKCE, and the personal access token fallback.
pub struct AsanaAuthProvider {
    app: AsanaAppCredentials,
    oauth2: Option<OAuth2Settings>,
    config: Option<ProviderConfig>,
    /// Built when the first API client is made (see [`client_once`]), unless given.
    http: OnceLock<reqwest::Client>,
    /// The attachment downloads off the API origin of every API client it configures.
    downloads: DownloadClient,
    /// Asana limits concurrency per token: clients of the same token share one limiter.
    limiters: Mutex<Limiters>,
}

/// The limiters of the tokens in use, by key. Entries of limiters no client holds any more are
/// dropped when the map has doubled since the last sweep, so that a new key costs O(1)
/// amortized however many tokens the provider serves.
#[derive(Default)]
struct Limiters {
    by_key: HashMap<String, Weak<ConcurrencyLimiter>>,
    /// The size at which the next new key sweeps the map first.
    sweep_at: usize,
}

impl Limiters {
    /// The fewest entries a map holds before it is swept.
    const MIN_SWEEP: usize = 64;

    fn get_or_insert(&mut self, key: &str) -> Arc<ConcurrencyLimiter> {
        if let Some(limiter) = self.by_key.get(key).and_then(Weak::upgrade) {
            return limiter;
        }
        if self.by_key.len() >= self.sweep_at {
            self.by_key.retain(|_, weak| weak.strong_count() > 0);
            self.sweep_at = (2 * self.by_key.len()).max(Self::MIN_SWEEP);
        }
        let limiter = Arc::new(ConcurrencyLimiter::new());
        self.by_key
            .insert(key.to_string(), Arc::downgrade(&limiter));
        limiter
    }
}

impl fmt::Debug for AsanaAuthProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsanaAuthProvider")
            .field("app", &self.app)
            .finish_non_exhaustive()
    }
}

impl AsanaAuthProvider {
    /// A provider from app credentials. Fails if only one of client id and secret is set. With
    /// neither an OAuth client nor a token, only credentials already stored can be used.
    pub fn new(app: AsanaAppCredentials) -> Result<Self, ConfigError> {
        Self::build(app, None)
    }

    /// Like [`AsanaAuthProvider::new`], with the HTTP client for its token requests and the API
    /// clients of [`AsanaAuthProvider::client_settings`], so that many providers (a service's
    /// connectors, say) share one connection pool and one TLS configuration instead of building
    /// their own. Give it no redirects and timeouts, as [`AsanaAuthProvider::new`]'s own has
    /// (`redirect::Policy::none()`, a 10 s connect timeout, a 60 s timeout).
    pub fn with_http_client(
        app: AsanaAppCredentials,
        http: reqwest::Client,
    ) -> Result<Self, ConfigError> {
        Self::build(app, Some(http))
    }

    fn build(app: AsanaAppCredentials, http: Option<reqwest::Client>) -> Result<Self, ConfigError> {
        // Configuration checked the URLs it read; these may have been set in code.
        for (key, url) in [
            (keys::AUTHORIZATION_URL, &app.authorization_url),
            (keys::TOKEN_URL, &app.token_url),
            (keys::REVOCATION_URL, &app.revocation_url),
            (keys::API_BASE_URL, &app.api_base_url),
        ] {
            check_endpoint_from_code(PROVIDER_ID, key.name(), url)?;
        }
        if let Some(uri) = &app.redirect_uri {
            check_redirect_uri_from_code(PROVIDER_ID, uri)?;
        }
        let missing = |field: &str, keys: &[&str]| ConfigError::Missing {
            provider: PROVIDER_ID.into(),
            field: field.into(),
            env_keys: keys.iter().map(|k| k.to_string()).collect(),
        };
        let public = app.token_auth_method == ClientAuthMethod::None;
        let oauth2 = match (&app.client_id, &app.client_secret) {
            (Some(_), None) if !public => {
                return Err(missing(
                    keys::CLIENT_SECRET.name(),
                    &["ASANA_CLIENT_SECRET"],
                ));
            }
            (Some(id), secret) => {
                let mut settings = OAuth2Settings::new(
                    app.authorization_url.clone(),
                    app.token_url.clone(),
                    id.clone(),
                )
                .with_revocation_url(app.revocation_url.clone())
                // Revoking a refresh token ends it and its access tokens, nothing else.
                .with_revocation_scope(RevocationScope::Token)
                .with_default_scopes(app.default_scope.clone())
                .with_scope_separator(" ")
                .with_client_auth(app.token_auth_method);
                if let Some(secret) = secret {
                    settings = settings.with_client_secret(secret.clone());
                }
                if let Some(uri) = &app.redirect_uri {
                    settings = settings.with_redirect_uri(uri.clone());
                }
                Some(settings)
            }
            (None, Some(_)) => return Err(missing(keys::CLIENT_ID.name(), &["ASANA_CLIENT_ID"])),
            // Neither an OAuth client nor a token: only credentials already stored can be used
            // (`AuthManagerBuilder::enable`); `oauth2()` says what to set when OAuth is needed.
            (None, None) => None,
        };
        let http = http.map_or_else(OnceLock::new, OnceLock::from);
        Ok(Self {
            app,
            oauth2,
            config: None,
            http,
            downloads: DownloadClient::new(),
            limiters: Mutex::default(),
        })
    }

    /// The HTTP client [`AsanaAuthProvider::new`] builds for itself: no redirects, a 10 s connect
    /// timeout, a 60 s timeout. Build one and hand it to every
    /// [`AsanaAuthProvider::with_http_client`] to share it.
    pub fn http_client() -> Result<reqwest::Client, reqwest::Error> {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .user_agent(concat!("integrations-asana/", env!("CARGO_PKG_VERSION")))
            .build()
    }

    /// A provider from loaded configuration (what the registry does).
    pub fn from_config(config: ProviderConfig) -> Result<Self, ConfigError> {
        let mut provider = Self::new(AsanaAppCredentials::from_config(&config))?;
        provider.config = Some(config);
        Ok(provider)
    }

    /// The app configuration.
    pub fn app(&self) -> &AsanaAppCredentials {
        &self.app
    }

    /// The concurrency limiter shared by every client of the token identified by `key` (while any
    /// of them is alive).
    pub fn limiter_for(&self, key: &str) -> Arc<ConcurrencyLimiter> {
        self.limiters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert(key)
    }

    /// Client settings for the API: base URL, default workspace, and the provider's shared HTTP
    /// client (built at the first call, not with the provider) and [`DownloadClient`] (built at
    /// the first download off the API origin).
    pub fn client_settings(&self, workspace_gid: Option<String>) -> AsanaClientSettings {
        let mut settings = AsanaClientSettings::new(self.app.api_base_url.clone())
            .with_download_client(self.downloads.clone());
        // Should the shared client fail to build, the API client builds its own and reports that.
        if let Ok(http) = client_once(&self.http, Self::http_client) {
            settings = settings.with_http_client(http.clone());
        }
        if let Some(gid) = workspace_gid.or_else(|| self.app.workspace_gid.clone()) {
            settings = settings.with_workspace_gid(gid);
        }
        settings
    }
}

#[async_trait]
impl AuthProvider for AsanaAuthProvider {
    fn id(&self) -> &str {
        PROVIDER_ID
    }

    fn display_name(&self) -> &str {
        "Asana"
    }

    fn oauth2_settings(&self) -> Option<&OAuth2Settings> {
        self.oauth2.as_ref()
    }

    fn app_token(&self) -> Option<&SecretString> {
        self.app.token.as_ref()
    }

    fn config(&self) -> Option<&ProviderConfig> {
        self.config.as_ref()
    }

    fn api(&self, _: &serde_json::Map<String, serde_json::Value>) -> Option<ApiSettings> {
        Some(ApiSettings::new(self.app.api_base_url.clone()))
    }

    async fn credentials_from_token(&self, token: OAuth2Token) -> Result<Credentials, AuthError> {
        let user = token
            .raw
            .get("data")
            .cloned()
            .and_then(|data| serde_json::from_value::<AsanaUser>(data).ok());
        let typed = AsanaUserCredentials {
            token,
            workspace_gid: self.app.workspace_gid.clone(),
            user,
        };
        Credentials::from_typed(&typed).map_err(|_| AuthError::InvalidTokenResponse {
            provider: PROVIDER_ID.into(),
            reason: "the token response cannot be stored".into(),
        })
    }
}

fn build(config: ProviderConfig) -> Result<Arc<dyn AuthProvider>, ConfigError> {
    Ok(Arc::new(AsanaAuthProvider::from_config(config)?))
}

fn is_configured(config: &ProviderConfig) -> bool {
    AsanaAppCredentials::from_config(config).is_configured()
}

auth_core::inventory::submit! {
    auth_core::ProviderRegistration {
        id: PROVIDER_ID,
        display_name: "Asana",
        fields: FIELDS,
        is_configured,
        build,
    }
}

/// `session.asana()`: an [`AsanaClient`] for the session's subject.
pub trait AsanaSessionExt {
    /// A client whose token source is the session's Asana binding (stored OAuth credentials,
    /// an override, or the personal access token). The default workspace is the user's
    /// `workspace_gid`, else the app's.
    fn asana(&self) -> Result<AsanaClient, AsanaError>;

    /// [`AsanaSessionExt::asana`] with settings of your own on top of the configured ones, for
    /// example opting into an API change. Two settings are not yours to change here: the client
    /// shares its token's concurrency limiter with every other client of the same token, and it
    /// talks to the configured `api_base_url` (a session's token goes only where the app's
    /// configuration sends it; set `ASANA_API_BASE_URL` to change that).
    ///
    /// ```no_run
    /// # async fn run(session: auth_core::Session) -> Result<(), provider_asana::AsanaError> {
    /// use provider_asana::AsanaSessionExt;
    ///
    /// let client = session.asana_with(|settings| {
    ///     settings.with_enable_change("new_goal_memberships")
    /// })?;
    /// let me = client.get_user("me").await?;
    /// # Ok(())
    /// # }
    /// ```
    fn asana_with(
        &self,
        configure: impl FnOnce(AsanaClientSettings) -> AsanaClientSettings,
    ) -> Result<AsanaClient, AsanaError>;
}

impl AsanaSessionExt for Session {
    fn asana(&self) -> Result<AsanaClient, AsanaError> {
        self.asana_with(|settings| settings)
    }

    fn asana_with(
        &self,
        configure: impl FnOnce(AsanaClientSettings) -> AsanaClientSettings,
    ) -> Result<AsanaClient, AsanaError> {
        let source = self.token_source(PROVIDER_ID)?;
        let provider = self
            .provider(PROVIDER_ID)
            .and_then(|p| (p.as_ref() as &dyn Any).downcast_ref::<AsanaAuthProvider>())
            .ok_or_else(|| {
                AsanaError::from(AuthError::UnknownProvider {
                    provider: PROVIDER_ID.into(),
                    configured: self.providers().collect::<Vec<_>>().join(", "),
                })
            })?;
        let workspace = self
            .credentials_extra(PROVIDER_ID)
            .and_then(|extra| extra.get("workspace_gid"))
            .and_then(|v| v.as_str())
            .map(String::from);
        // One limiter per token: the app-level token is shared by every subject that falls back to it.
        let limiter_key = match source.source() {
            CredentialSource::AppToken => "app-token".to_string(),
            _ => format!("subject:{}", self.subject()),
        };
        let configured = provider.client_settings(workspace);
        let api_base_url = configured.api_base_url.clone();
        let mut settings = configure(configured).with_limiter(provider.limiter_for(&limiter_key));
        // The user's token goes only where the app's configuration says.
        settings.api_base_url = api_base_url;
        AsanaClient::new(source, settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use auth_core::config::{ConfigLoader, EnvSource};

    /// URLs set in code are checked as configuration checks those it reads: plain http off
    /// loopback is refused, naming the field, whether or not an OAuth client is set.
    #[test]
    fn plain_http_urls_set_in_code_are_refused() {
        let http = |url: &str| Url::parse(url).unwrap();
        let with = |field: &str| {
            let mut app = AsanaAppCredentials::default();
            let url = http("http://asana.example.net/x");
            match field {
                "authorization_url" => app.authorization_url = url,
                "token_url" => app.token_url = url,
                "revocation_url" => app.revocation_url = url,
                _ => app.api_base_url = url,
            }
            app
        };
        for field in [
            "authorization_url",
            "token_url",
            "revocation_url",
            "api_base_url",
        ] {
            for client in [None, Some("cid")] {
                let mut app = with(field);
                app.client_id = client.map(str::to_string);
                app.client_secret = client.map(|_| SecretString::from("CANARY-secret"));
                match AsanaAuthProvider::new(app) {
                    Err(ConfigError::InsecureUrl {
                        field: refused,
                        url,
                        ..
                    }) => assert_eq!(
                        (refused.as_str(), url.as_str()),
                        (field, "http://asana.example.net")
                    ),
                    other => panic!("{field}: {other:?}"),
                }
            }
        }
        let local = AsanaAppCredentials {
            api_base_url: http("http://127.0.0.1:9/api/1.0"),
            token_url: http("http://localhost:9/-/oauth_token"),
            ..AsanaAppCredentials::default()
        };
        assert!(AsanaAuthProvider::new(local).is_ok());
    }

    fn load(env: &[(&str, &str)]) -> ProviderConfig {
        ConfigLoader::new()
            .with_env(EnvSource::from_pairs(
                env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
            ))
            .load(PROVIDER_ID, FIELDS)
            .unwrap()
    }

    #[test]
    fn clients_of_one_key_share_a_limiter_and_released_keys_are_swept_as_the_map_doubles() {
        let mut limiters = Limiters::default();
        let held = limiters.get_or_insert("held");
        assert!(Arc::ptr_eq(&held, &limiters.get_or_insert("held")));
        for n in 0..10_000 {
            drop(limiters.get_or_insert(&format!("released-{n}")));
            // One live entry: a sweep leaves 1, and the next is due at 64 entries.
            assert!(limiters.by_key.len() <= Limiters::MIN_SWEEP, "{n}");
        }
        let live: Vec<_> = (0..100)
            .map(|n| limiters.get_or_insert(&format!("live-{n}")))
            .collect();
        for n in 0..1_000 {
            drop(limiters.get_or_insert(&format!("late-{n}")));
            assert!(limiters.by_key.len() <= 2 * (live.len() + 1) + 1, "{n}");
        }
        assert!(Arc::ptr_eq(&live[7], &limiters.get_or_insert("live-7")));
        assert!(Arc::ptr_eq(&held, &limiters.get_or_insert("held")));
    }

    #[test]
    fn env_aliases_follow_the_documented_priority() {
        let c = AsanaAppCredentials::from_config(&load(&[
            ("ASANA_TOKEN", "third"),
            ("ASANA_PERSONAL_ACCESS_TOKEN", "second"),
            ("ASANA_AUTHORIZE_URL", "https://alias.example/auth"),
            ("ASANA_WORKSPACE", "ws-alias"),
            ("ASANA_WORKSPACE_GID", "ws-main"),
            ("ASANA_DEFAULT_SCOPE", "tasks:read,users:read"),
        ]));
        assert_eq!(c.token.unwrap().expose_secret(), "second");
        assert_eq!(c.authorization_url.as_str(), "https://alias.example/auth");
        assert_eq!(c.workspace_gid.as_deref(), Some("ws-main"));
        assert_eq!(c.default_scope, ["tasks:read", "users:read"]);
        assert_eq!(c.token_url.as_str(), "https://app.asana.com/-/oauth_token");
    }

    #[test]
    fn configured_with_oauth_pair_or_token_only() {
        assert!(
            !AsanaAppCredentials::from_config(&load(&[("CLIENT_ID", "x"), ("TOKEN", "y")]))
                .is_configured()
        );
        assert!(
            !AsanaAppCredentials::from_config(&load(&[("ASANA_CLIENT_ID", "x")])).is_configured()
        );
        assert!(
            AsanaAppCredentials::from_config(&load(&[
                ("ASANA_CLIENT_ID", "x"),
                ("ASANA_CLIENT_SECRET", "s")
            ]))
            .is_configured()
        );
        assert!(
            AsanaAppCredentials::from_config(&load(&[("ASANA_ACCESS_TOKEN", "t")])).is_configured()
        );
        let err = AsanaAuthProvider::from_config(load(&[("ASANA_CLIENT_ID", "x")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "asana: missing `client_secret`; set ASANA_CLIENT_SECRET or pass `client_secret` in code or in the [asana] section of the config file"
        );
    }

    #[tokio::test]
    async fn token_response_user_is_kept_with_numeric_or_string_id() {
        let provider = AsanaAuthProvider::new(AsanaAppCredentials {
            client_id: Some("id".into()),
            client_secret: Some("secret".into()),
            workspace_gid: Some("ws-1".into()),
            ..Default::default()
        })
        .unwrap();
        for id in [
            serde_json::json!(4673218951u64),
            serde_json::json!("4673218951"),
        ] {
            let token = OAuth2Token::from_response(
                serde_json::json!({"access_token": "a", "token_type": "bearer", "expires_in": 3600, "refresh_token": "r",
                    "data": {"id": id, "gid": "4673218951", "name": "Greg Sanchez", "email": "gsanchez@example.com"}}),
                " ",
                std::time::SystemTime::now(),
            )
            .unwrap();
            let creds: AsanaUserCredentials = provider
                .credentials_from_token(token)
                .await
                .unwrap()
                .to_typed()
                .unwrap();
            let user = creds.user.unwrap();
            assert_eq!(user.id.as_deref(), Some("4673218951"));
            assert_eq!(user.gid.as_deref(), Some("4673218951"));
            assert_eq!(user.name.as_deref(), Some("Greg Sanchez"));
            assert_eq!(creds.workspace_gid.as_deref(), Some("ws-1"));
            assert_eq!(creds.token.token_type, "Bearer");
        }
    }

    #[tokio::test]
    async fn clients_of_one_token_share_a_limiter() {
        let mut app = AsanaAppCredentials {
            token: Some("pat".into()),
            ..Default::default()
        };
        app.client_id = Some("id".into());
        app.client_secret = Some("secret".into());
        let auth = auth_core::AuthManager::builder()
            .env(EnvSource::empty())
            .auto_configure(false)
            .provider(AsanaAuthProvider::new(app).unwrap())
            .build()
            .unwrap();
        auth.store_credentials(PROVIDER_ID, "alice", &OAuth2Token::bearer("a"))
            .await
            .unwrap();
        let limiter = |client: &AsanaClient| client.settings().limiter.clone().unwrap();
        let alice_1 = auth.session("alice").await.unwrap().asana().unwrap();
        let alice_2 = auth.session("alice").await.unwrap().asana().unwrap();
        assert!(
            Arc::ptr_eq(&limiter(&alice_1), &limiter(&alice_2)),
            "same subject, same token"
        );
        let bob = auth.session("bob").await.unwrap().asana().unwrap();
        let carol = auth.session("carol").await.unwrap().asana().unwrap();
        assert!(
            Arc::ptr_eq(&limiter(&bob), &limiter(&carol)),
            "both fall back to the one PAT"
        );
        assert!(
            !Arc::ptr_eq(&limiter(&alice_1), &limiter(&bob)),
            "different tokens"
        );
    }

    #[test]
    fn the_token_auth_method_comes_from_config_and_env() {
        let client = [("ASANA_CLIENT_ID", "id"), ("ASANA_CLIENT_SECRET", "s")];
        let method = |env: &[(&str, &str)]| {
            AsanaAuthProvider::from_config(load(env))
                .unwrap()
                .oauth2_settings()
                .unwrap()
                .client_auth
        };
        assert_eq!(method(&client), ClientAuthMethod::RequestBody);
        let basic = [
            client[0],
            client[1],
            ("ASANA_TOKEN_AUTH_METHOD", "client_secret_basic"),
        ];
        assert_eq!(method(&basic), ClientAuthMethod::BasicAuth);

        let public = [client[0], ("ASANA_TOKEN_AUTH_METHOD", "none")];
        assert!(AsanaAppCredentials::from_config(&load(&public)).is_configured());
        let provider = AsanaAuthProvider::from_config(load(&public)).unwrap();
        let settings = provider.oauth2_settings().unwrap();
        assert_eq!(settings.client_auth, ClientAuthMethod::None);
        assert!(settings.client_secret.is_none() && settings.pkce);

        let err = ConfigLoader::new()
            .with_env(EnvSource::from_pairs([(
                "ASANA_TOKEN_AUTH_METHOD",
                "basic",
            )]))
            .load(PROVIDER_ID, FIELDS)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "asana: invalid `token_auth_method` from env ASANA_TOKEN_AUTH_METHOD: expected one of: client_secret_basic, client_secret_post, none (env keys tried: ASANA_TOKEN_AUTH_METHOD)"
        );
    }

    #[test]
    fn scopes_are_sent_space_separated() {
        let provider = AsanaAuthProvider::new(AsanaAppCredentials {
            client_id: Some("id".into()),
            client_secret: Some("secret".into()),
            default_scope: vec!["tasks:read".into(), "users:read".into()],
            ..Default::default()
        })
        .unwrap();
        let settings = provider.oauth2_settings().unwrap();
        assert_eq!(settings.scope_separator, " ");
        let api = provider.api(&serde_json::Map::new()).unwrap();
        assert_eq!(api.base_url.as_str(), "https://app.asana.com/api/1.0");
        assert!(api.headers.is_empty());
        assert_eq!(settings.default_scopes, ["tasks:read", "users:read"]);
        assert!(settings.pkce);
    }
}
