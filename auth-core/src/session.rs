//! Sessions: a subject's connections, one [`TokenSource`] per provider, whatever the source of
//! its token (stored credentials, credentials passed in code, or the provider's app-level token).
//!
//! A session binds each provider to the shared refreshing credential of (provider, subject) (see
//! [`crate::cell`]) and decides at each call which source answers, so that credentials stored,
//! deleted or rejected after the session was opened take effect at once.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::cell::{CellState, RefreshCallback, TokenCell};
use crate::error::AuthError;
use crate::provider::AuthProvider;
use crate::request::ApiRequest;
use crate::secret::SecretString;
use crate::token::{Credentials, UserCredentials};
use crate::token_source::{CredentialSource, TokenSource};

/// Options for [`AuthManager::session_with`](crate::AuthManager::session_with).
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct SessionOptions {
    pub(crate) overrides: BTreeMap<String, Result<Credentials, String>>,
    pub(crate) providers: Option<Vec<String>>,
    pub(crate) deny_app_token: bool,
    pub(crate) on_refresh: Option<RefreshCallback>,
}

impl fmt::Debug for SessionOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionOptions")
            .field("overrides", &self.overrides.keys().collect::<Vec<_>>())
            .field("providers", &self.providers)
            .field("allow_app_token", &!self.deny_app_token)
            .finish_non_exhaustive()
    }
}

impl SessionOptions {
    /// Default options.
    pub fn new() -> Self {
        Self::default()
    }

    /// Uses these credentials for `provider` instead of the stored ones. They are refreshed in
    /// memory (never written to the store); see [`SessionOptions::on_refresh`] to persist them.
    pub fn with_credentials<C: UserCredentials>(
        mut self,
        provider: impl Into<String>,
        credentials: &C,
    ) -> Self {
        let converted = Credentials::from_typed(credentials)
            .map_err(|_| "the credentials do not serialize as a flat JSON object".to_string());
        self.overrides.insert(provider.into(), converted);
        self
    }

    /// Only these providers are part of the session.
    pub fn providers<S: Into<String>>(mut self, providers: impl IntoIterator<Item = S>) -> Self {
        self.providers = Some(providers.into_iter().map(Into::into).collect());
        self
    }

    /// Whether a provider's app-level token (e.g. a personal access token) may stand in when the
    /// subject has no stored credentials (default: allowed, as in the Python framework;
    /// [`Session::source`] says which source was used).
    pub fn allow_app_token(mut self, allow: bool) -> Self {
        self.deny_app_token = !allow;
        self
    }

    /// Called after each refresh of override credentials.
    pub fn on_refresh(
        mut self,
        callback: impl Fn(&str, &str, &Credentials) + Send + Sync + 'static,
    ) -> Self {
        self.on_refresh = Some(Arc::new(callback));
        self
    }
}

/// A session's binding to one provider: the shared token cell of (provider, subject), and the
/// app-level token when the session allows it to stand in. Which one answers is decided at each
/// call from the cell's state, so credentials stored, deleted or rejected after the session was
/// opened take effect at once, for the session and for every client built from it.
#[derive(Debug)]
pub(crate) struct Binding {
    cell: Arc<TokenCell>,
    /// The app-level token, when the session allows it to stand in.
    fallback: Option<SecretString>,
    /// An app-level token exists but the session did not allow it (for the error message).
    fallback_denied: bool,
}

impl Binding {
    /// Binds `cell`, with the app-level token `fallback` when it may stand in; `fallback_denied`
    /// when one exists but the session did not allow it.
    pub(crate) fn new(
        cell: Arc<TokenCell>,
        fallback: Option<SecretString>,
        fallback_denied: bool,
    ) -> Self {
        Self {
            cell,
            fallback,
            fallback_denied,
        }
    }

    /// The token when it can be handed out at once (the cell's, loaded and fresh, or the app-level
    /// token standing in): the hot path, which creates no future.
    #[inline]
    fn cached(&self) -> Option<SecretString> {
        match (self.cell.state(), &self.fallback) {
            (CellState::Loaded, _) => self.cell.fresh(),
            (CellState::Unloaded, Some(app_token)) => Some(app_token.clone()),
            _ => None,
        }
    }

    async fn token(&self) -> Result<SecretString, AuthError> {
        if self.cell.state() == CellState::NeedsReauthorization {
            // Another process may have stored new credentials since (the user connected again
            // there): the store is read again before the grant is refused.
            self.cell.load().await?;
        }
        match (self.cell.state(), &self.fallback) {
            (CellState::Loaded, _) => self.cell.token().await,
            (CellState::NeedsReauthorization, _) => Err(self.grant_rejected()),
            (_, Some(app_token)) => Ok(app_token.clone()),
            (_, None) => self.cell.token().await.map_err(|e| match e {
                AuthError::NoCredentials {
                    provider, subject, ..
                } => AuthError::NoCredentials {
                    provider,
                    subject,
                    fallback_available: self.fallback_denied,
                },
                other => other,
            }),
        }
    }

    fn grant_rejected(&self) -> AuthError {
        self.cell.needs_reauthorization(
            "the stored grant was rejected; the user must connect again".into(),
        )
    }

    /// Why no token can be had right now, if so.
    fn unavailable(&self) -> Option<AuthError> {
        match (self.cell.state(), &self.fallback) {
            (CellState::NeedsReauthorization, _) => Some(self.grant_rejected()),
            (CellState::Unloaded, None) => Some(AuthError::NoCredentials {
                provider: self.cell.provider().to_string(),
                subject: self.cell.subject().to_string(),
                fallback_available: self.fallback_denied,
            }),
            _ => None,
        }
    }

    fn source(&self) -> Option<CredentialSource> {
        match (self.cell.state(), &self.fallback) {
            (CellState::Loaded, _) => Some(self.cell.source()),
            (CellState::NeedsReauthorization, _) => None,
            (_, Some(_)) => Some(CredentialSource::AppToken),
            (_, None) => None,
        }
    }
}

#[async_trait]
impl TokenSource for Binding {
    async fn token(&self) -> Result<SecretString, AuthError> {
        match self.cached() {
            Some(token) => Ok(token),
            // Boxed so that the future `async_trait` allocates for each call stays small.
            None => Box::pin(Binding::token(self)).await,
        }
    }

    fn cached_token(&self) -> Option<SecretString> {
        self.cached()
    }

    fn invalidate(&self, rejected: &SecretString) -> bool {
        match (self.cell.state(), &self.fallback) {
            // An app-level token cannot be refreshed.
            (CellState::Unloaded, Some(_)) => false,
            _ => self.cell.invalidate(rejected),
        }
    }

    fn provider(&self) -> &str {
        self.cell.provider()
    }

    fn subject(&self) -> &str {
        self.cell.subject()
    }

    fn source(&self) -> CredentialSource {
        Binding::source(self).unwrap_or(self.cell.source())
    }
}

/// One provider of a session.
#[derive(Clone)]
pub(crate) struct SessionEntry {
    provider: Arc<dyn AuthProvider>,
    binding: Arc<Binding>,
    extra: Map<String, Value>,
}

impl SessionEntry {
    /// `provider`'s binding, and the provider-specific fields of the subject's credentials.
    pub(crate) fn new(
        provider: Arc<dyn AuthProvider>,
        binding: Binding,
        extra: Map<String, Value>,
    ) -> Self {
        Self {
            provider,
            binding: Arc::new(binding),
            extra,
        }
    }
}

/// A subject's connections: a valid token per provider, whatever the source.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use auth_core::{AuthManager, OAuth2Token};
/// use auth_core::config::EnvSource;
/// # #[derive(Debug)] struct Demo(auth_core::provider::OAuth2Settings);
/// # #[async_trait::async_trait]
/// # impl auth_core::AuthProvider for Demo {
/// #     fn id(&self) -> &str { "demo" }
/// #     fn oauth2_settings(&self) -> Option<&auth_core::provider::OAuth2Settings> { Some(&self.0) }
/// # }
/// # let settings = auth_core::provider::OAuth2Settings::new(
/// #     "https://demo.example/authorize".parse().unwrap(), "https://demo.example/token".parse().unwrap(), "id");
/// let auth = AuthManager::builder().env(EnvSource::empty()).provider(Demo(settings)).build().unwrap();
/// auth.store_credentials("demo", "user-123", &OAuth2Token::bearer("token-abc")).await.unwrap();
/// let session = auth.session("user-123").await.unwrap();
/// assert_eq!(session.token("demo").await.unwrap().expose_secret(), "token-abc");
/// assert_eq!(session.source("demo"), Some(auth_core::CredentialSource::Stored));
/// # });
/// ```
#[derive(Clone)]
pub struct Session {
    subject: String,
    /// By provider id, sorted. A session has a handful of providers: a scan that compares lengths
    /// first finds one faster than a `BTreeMap` descent, and this lookup runs on every token.
    entries: Box<[(String, SessionEntry)]>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sources: BTreeMap<&str, Option<CredentialSource>> =
            self.providers().map(|p| (p, self.source(p))).collect();
        f.debug_struct("Session")
            .field("subject", &self.subject)
            .field("sources", &sources)
            .finish()
    }
}

impl Session {
    /// A session of `subject` over these providers.
    pub(crate) fn new(subject: &str, entries: BTreeMap<String, SessionEntry>) -> Self {
        tracing::debug!(subject, providers = entries.len(), "session opened");
        Session {
            subject: subject.to_string(),
            entries: entries.into_iter().collect(),
        }
    }

    /// The subject.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// Provider ids in this session.
    pub fn providers(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(id, _)| id.as_str())
    }

    /// The configured provider, for extension traits: upcast it to `&dyn Any` to downcast to the
    /// concrete type (`(provider.as_ref() as &dyn Any).downcast_ref::<P>()`).
    pub fn provider(&self, id: &str) -> Option<&Arc<dyn AuthProvider>> {
        self.get(id).map(|e| &e.provider)
    }

    /// Where the provider's token comes from now; `None` when the subject has no usable
    /// credentials (none stored and no app-level token allowed, or the grant was rejected).
    pub fn source(&self, provider: &str) -> Option<CredentialSource> {
        self.get(provider)?.binding.source()
    }

    /// Provider-specific fields of the subject's credentials when the session was opened (for
    /// Asana: `workspace_gid`, `user`).
    pub fn credentials_extra(&self, provider: &str) -> Option<&Map<String, Value>> {
        self.get(provider).map(|e| &e.extra)
    }

    #[inline]
    fn get(&self, provider: &str) -> Option<&SessionEntry> {
        self.entries
            .iter()
            .find(|(id, _)| id == provider)
            .map(|(_, entry)| entry)
    }

    #[inline]
    fn entry(&self, provider: &str) -> Result<&SessionEntry, AuthError> {
        self.get(provider)
            .ok_or_else(|| self.unknown_provider(provider))
    }

    #[cold]
    fn unknown_provider(&self, provider: &str) -> AuthError {
        AuthError::UnknownProvider {
            provider: provider.to_string(),
            configured: self.providers().collect::<Vec<_>>().join(", "),
        }
    }

    /// A valid access token for `provider`: cached, refreshed when needed.
    pub async fn token(&self, provider: &str) -> Result<SecretString, AuthError> {
        let binding = &self.entry(provider)?.binding;
        match binding.cached() {
            Some(token) => Ok(token),
            // Boxed so that this future stays a few words large on the hot path.
            None => Box::pin(binding.token()).await,
        }
    }

    /// A raw request to `provider`'s API with the subject's token (see [`ApiRequest`]): the token
    /// goes only to the API's origin, a 401 refreshes and retries once, and the provider's
    /// required headers are added. Fails when the provider offers no API or the subject has no
    /// usable credentials.
    pub fn request(&self, provider: &str) -> Result<ApiRequest, AuthError> {
        let entry = self.entry(provider)?;
        let api = entry
            .provider
            .api(&entry.extra)
            .ok_or_else(|| AuthError::ApiRequest {
                provider: provider.to_string(),
                reason: "the provider has no API base URL for raw requests".into(),
            })?;
        Ok(ApiRequest::new(self.token_source(provider)?, api))
    }

    /// The token source for `provider`, to hand to a client; an error when the subject has no
    /// usable credentials right now. Once handed out, it follows the subject's credentials as they
    /// are stored, refreshed, deleted or rejected.
    pub fn token_source(&self, provider: &str) -> Result<Arc<dyn TokenSource>, AuthError> {
        let binding = &self.entry(provider)?.binding;
        match binding.unavailable() {
            Some(error) => Err(error),
            None => Ok(binding.clone()),
        }
    }
}
