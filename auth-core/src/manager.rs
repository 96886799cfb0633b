//! [`AuthManager`]: the top layer; it sets up the configured providers (each with its
//! [`TokenEndpoint`]), holds the credential store and the pending authorizations, and opens OAuth2
//! flows and sessions over the refreshing credentials it shares per (provider, subject).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, SystemTime};

use tracing::Instrument;

use crate::cell::{RefreshCallback, RefreshPolicy, TokenCell};
use crate::config::{CodeValue, ConfigLoader, EnvSource, PROVIDERS_KEY, ProviderConfig};
use crate::endpoint::TokenEndpoint;
use crate::error::{AuthError, ConfigError, ConfigSource};
use crate::oauth2::OAuth2Flow;
use crate::pending::{MemoryPendingStates, PENDING_STATES_PROVIDER, PendingStateStore};
use crate::provider::{AuthProvider, ProviderFactory, registered_providers, sourced_providers};
use crate::session::{Binding, Session, SessionEntry, SessionOptions};
use crate::store::{
    CredentialRecord, CredentialStatus, CredentialStore, MemoryCredentialStore, PutMode,
    StoredCredential, Version,
};
use crate::token::{Credentials, UserCredentials};

/// Whether a registered provider is configured, and where its values came from.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ProviderStatus {
    /// Provider id.
    pub id: String,
    /// Human-readable name.
    pub display_name: String,
    /// Whether the manager can use it.
    pub configured: bool,
    /// Each set field and its source (never the value).
    pub sources: Vec<(String, ConfigSource)>,
    /// Whether OAuth2 is configured.
    pub oauth2: bool,
    /// Whether an app-level token is configured.
    pub app_token: bool,
    /// What is missing: for unconfigured providers, and for one set up without its incomplete
    /// OAuth2 client (see [`AuthManagerBuilder::enable`]).
    pub missing: Option<String>,
}

/// What a store holds for one (provider, subject), without any secret.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CredentialInfo {
    /// Provider id.
    pub provider: String,
    /// Subject.
    pub subject: String,
    /// Usable or needing re-authorization.
    pub status: CredentialStatus,
    /// When the access token expires, if known.
    pub expires_at: Option<SystemTime>,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Whether a refresh token is stored.
    pub has_refresh_token: bool,
    /// Last write.
    pub updated_at: SystemTime,
    /// Store version.
    pub version: Version,
}

/// One stored record as [`AuthManager::list_credentials_each`] lists it.
#[derive(Debug)]
#[non_exhaustive]
pub enum ListedCredential {
    /// What the record holds, without secrets.
    Readable(CredentialInfo),
    /// The record exists but cannot be read: corrupt, tampered with, or encrypted with a key that
    /// is not configured. Deleting it works.
    Unreadable {
        /// Provider id.
        provider: String,
        /// Subject.
        subject: String,
        /// Why it cannot be read (never a value from the record).
        error: AuthError,
    },
}

struct Inner {
    store: Arc<dyn CredentialStore>,
    providers: BTreeMap<String, Arc<TokenEndpoint>>,
    statuses: Statuses,
    states: Arc<dyn PendingStateStore>,
    cells: Mutex<HashMap<(String, String), Weak<TokenCell>>>,
    policy: RefreshPolicy,
    on_refresh: Option<RefreshCallback>,
}

/// The entry point: configured providers, a credential store, OAuth2 flows and sessions.
///
/// Cheap to clone; clones share everything (caches, pending states, the store).
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use auth_core::{AuthManager, OAuth2Token};
/// use auth_core::config::EnvSource;
///
/// let auth = AuthManager::builder().env(EnvSource::empty()).build().unwrap();
/// assert!(auth.oauth2("nonexistent").is_err());
/// # });
/// ```
#[derive(Clone)]
pub struct AuthManager {
    inner: Arc<Inner>,
}

impl fmt::Debug for AuthManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthManager")
            .field("store", &self.inner.store.describe())
            .field(
                "providers",
                &self.inner.providers.keys().collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// Builds an [`AuthManager`].
#[must_use]
pub struct AuthManagerBuilder {
    store: Option<Arc<dyn CredentialStore>>,
    loader: ConfigLoader,
    providers: Vec<Arc<dyn AuthProvider>>,
    enabled: Vec<String>,
    auto_configure: bool,
    state_ttl: Duration,
    states: Option<Arc<dyn PendingStateStore>>,
    policy: RefreshPolicy,
    on_refresh: Option<RefreshCallback>,
}

impl fmt::Debug for AuthManagerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthManagerBuilder").finish_non_exhaustive()
    }
}

impl Default for AuthManagerBuilder {
    fn default() -> Self {
        Self {
            store: None,
            loader: ConfigLoader::new(),
            providers: Vec::new(),
            enabled: Vec::new(),
            auto_configure: true,
            state_ttl: Duration::from_secs(600),
            states: None,
            policy: RefreshPolicy::default(),
            on_refresh: None,
        }
    }
}

impl AuthManagerBuilder {
    /// Where credentials are stored (default: in memory, lost at exit).
    pub fn store(mut self, store: impl CredentialStore + 'static) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// A shared store handle.
    pub fn shared_store(mut self, store: Arc<dyn CredentialStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// Reads this TOML file (default: `INTEGRATIONS_CONFIG`, if set).
    pub fn config_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.loader = self.loader.with_file(path);
        self
    }

    /// Reads env keys from `env` instead of the process environment.
    pub fn env(mut self, env: EnvSource) -> Self {
        self.loader = self.loader.with_env(env);
        self
    }

    /// Passes configuration values for a provider in code (they beat file and env). The
    /// equivalent of Python's `AuthManager(asana={"client_id": ...})`. A provider configured this
    /// way must build, or [`AuthManagerBuilder::build`] fails saying what is missing.
    pub fn configure<K, V>(
        mut self,
        provider: &str,
        values: impl IntoIterator<Item = (K, V)>,
    ) -> Self
    where
        K: Into<String>,
        V: Into<CodeValue>,
    {
        for (k, v) in values {
            self.loader.set_value(provider, k, v);
        }
        self
    }

    /// Adds a provider built in code (it takes precedence over a registered one with the same id).
    pub fn provider(mut self, provider: impl AuthProvider) -> Self {
        self.providers.push(Arc::new(provider));
        self
    }

    /// Sets up a registered provider even when its configuration is incomplete, so that credentials
    /// already stored for it can be used (a command line that logged in with a personal access
    /// token, for example). What is missing surfaces when it is needed: [`AuthManager::oauth2`]
    /// says which keys to set.
    ///
    /// That includes an incomplete OAuth2 client: a `client_id` without the `client_secret` it
    /// needs, or a `client_secret` without a `client_id`. The provider is then set up without a
    /// client (its [`ProviderStatus`] says `oauth2: false`, with the missing field as `missing`),
    /// and what needs the client (an authorization, a refresh, a revocation) fails with the
    /// [`ConfigError::Missing`] that names the field. A provider also given values in code
    /// ([`AuthManagerBuilder::configure`]) must build as it is, incomplete client or not.
    pub fn enable(mut self, provider: impl Into<String>) -> Self {
        self.enabled.push(provider.into());
        self
    }

    /// Whether registered providers whose configuration is present are set up automatically
    /// (default true). Providers passed to [`AuthManagerBuilder::configure`] are always set up.
    pub fn auto_configure(mut self, on: bool) -> Self {
        self.auto_configure = on;
        self
    }

    /// How long an authorization's state stays valid in the default, in-memory pending states
    /// (default 10 minutes).
    pub fn state_ttl(mut self, ttl: Duration) -> Self {
        self.state_ttl = ttl;
        self
    }

    /// Where pending authorizations are kept (default: in this process's memory, for
    /// [`AuthManagerBuilder::state_ttl`], [`MAX_PENDING_STATES`](crate::pending::MAX_PENDING_STATES)
    /// at most; [`MemoryPendingStates::with_limit`](crate::MemoryPendingStates::with_limit) sets
    /// another bound). Use
    /// [`StoredPendingStates`](crate::pending::StoredPendingStates) over a shared store when the
    /// callback may land on another process or instance.
    pub fn pending_states(mut self, states: impl PendingStateStore + 'static) -> Self {
        self.states = Some(Arc::new(states));
        self
    }

    /// How long a caller waits for another process's refresh before giving up (default 60 s).
    pub fn max_refresh_wait(mut self, wait: Duration) -> Self {
        self.policy.max_wait = wait;
        self
    }

    /// How long writing refreshed credentials to the store is retried while it reports a busy lock
    /// or an I/O error (default [`STORE_WRITE_BUDGET`](crate::STORE_WRITE_BUDGET)). When
    /// the write still fails, the call fails with [`AuthError::RefreshNotSaved`]; the manager keeps
    /// the credentials and writes them at the next call for that subject.
    pub fn store_write_budget(mut self, budget: Duration) -> Self {
        self.policy.store_write_budget = budget;
        self
    }

    /// Called with (provider, subject, credentials) after each refresh of stored credentials this
    /// manager performs (a refresh another process made and this one only read is not reported).
    /// Override credentials report to [`SessionOptions::on_refresh`] instead.
    pub fn on_refresh(
        mut self,
        callback: impl Fn(&str, &str, &Credentials) + Send + Sync + 'static,
    ) -> Self {
        self.on_refresh = Some(Arc::new(callback));
        self
    }

    /// Builds the manager: sets up providers and validates their configuration.
    pub fn build(self) -> Result<AuthManager, AuthError> {
        let mut providers: BTreeMap<String, Arc<TokenEndpoint>> = BTreeMap::new();
        let mut statuses = Vec::new();
        let mut deferred = Vec::new();
        for provider in self.providers {
            statuses.push(configured_status(&*provider));
            let endpoint = TokenEndpoint::new(provider)?;
            providers.insert(endpoint.id().to_string(), Arc::new(endpoint));
        }
        let sourced = sourced_providers(&self.loader)?;
        let mut registered: Vec<&dyn ProviderFactory> = registered_providers()
            .into_iter()
            .map(|r| r as &dyn ProviderFactory)
            .collect();
        for factory in &sourced {
            if !registered.iter().any(|r| r.id() == factory.id()) {
                registered.push(factory.as_ref());
            }
        }
        // A section nobody reads is a mistake (`[asna]`), not something to ignore.
        for key in self.loader.file_keys()? {
            let known = key == PROVIDERS_KEY
                || providers.contains_key(&key)
                || registered.iter().any(|r| r.id() == key);
            if !known {
                let mut ids: Vec<&str> = registered
                    .iter()
                    .map(|r| r.id())
                    .chain(providers.keys().map(String::as_str))
                    .collect();
                ids.sort_unstable();
                ids.dedup();
                return Err(ConfigError::UnknownSection {
                    path: self
                        .loader
                        .file()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default(),
                    key,
                    known: ids.join(", "),
                }
                .into());
            }
        }
        for registration in &registered {
            let id = registration.id();
            if providers.contains_key(id) {
                continue;
            }
            let explicit = self.loader.has_code_values(id) || self.enabled.iter().any(|e| e == id);
            if !explicit && !self.auto_configure {
                continue;
            }
            if !explicit && registration.surely_unconfigured(&self.loader) {
                deferred.push(id.to_string());
                continue;
            }
            let config = self.loader.load(id, registration.fields())?;
            if explicit || registration.is_configured(&config) {
                let only_enabled = !self.loader.has_code_values(id);
                let (endpoint, status) = if only_enabled {
                    build_enabled(*registration, config)?
                } else {
                    let provider = built(*registration, config)?;
                    (
                        TokenEndpoint::new(provider.clone())?,
                        configured_status(&*provider),
                    )
                };
                statuses.push(status);
                providers.insert(endpoint.id().to_string(), Arc::new(endpoint));
            } else {
                statuses.push(unconfigured_status(*registration, sources_of(&config)));
            }
        }
        // Only sourced factories defer: a registration keeps the default `surely_unconfigured`.
        let deferred = sourced
            .iter()
            .filter(|f| deferred.iter().any(|id| id == f.id()))
            .cloned()
            .collect();
        for provider in self
            .loader
            .code_providers()
            .into_iter()
            .chain(self.enabled.iter().cloned())
        {
            if !providers.contains_key(&provider) && !registered.iter().any(|r| r.id() == provider)
            {
                let mut ids: Vec<&str> = registered.iter().map(|r| r.id()).collect();
                ids.sort_unstable();
                return Err(ConfigError::UnknownProvider {
                    provider,
                    registered: ids.join(", "),
                }
                .into());
            }
        }
        let store = self.store.unwrap_or_else(|| {
            tracing::info!("no credential store configured: credentials are kept in memory only");
            Arc::new(MemoryCredentialStore::new())
        });
        Ok(AuthManager {
            inner: Arc::new(Inner {
                store,
                providers,
                statuses: Statuses {
                    made: statuses,
                    deferred,
                    loader: self.loader,
                    all: OnceLock::new(),
                },
                states: self
                    .states
                    .unwrap_or_else(|| Arc::new(MemoryPendingStates::new(self.state_ttl))),
                cells: Mutex::new(HashMap::new()),
                policy: self.policy,
                on_refresh: self.on_refresh,
            }),
        })
    }
}

/// The fields of an OAuth2 client, which [`AuthManagerBuilder::enable`] leaves out of a provider
/// whose client is incomplete.
const CLIENT_FIELDS: [&str; 2] = ["client_id", "client_secret"];

/// Builds a provider [`AuthManagerBuilder::enable`] asked for, with its status. When only the
/// incompleteness of its OAuth2 client ([`CLIENT_FIELDS`]) stops it from building, it is built
/// without the client, and its endpoint fails OAuth2 requests with that [`ConfigError::Missing`];
/// its status keeps the sources of every configured value, the client's included.
fn build_enabled(
    factory: &dyn ProviderFactory,
    config: ProviderConfig,
) -> Result<(TokenEndpoint, ProviderStatus), AuthError> {
    let missing = match built(factory, config.clone()) {
        Ok(provider) => {
            let status = configured_status(&*provider);
            return Ok((TokenEndpoint::new(provider)?, status));
        }
        Err(e) => e,
    };
    let client_field = matches!(&missing, ConfigError::Missing { field, .. }
        if CLIENT_FIELDS.contains(&field.as_str()));
    if !client_field {
        return Err(missing.into());
    }
    let provider = built(factory, config.without(&CLIENT_FIELDS))?;
    let mut status = configured_status(&*provider);
    status.sources = sources_of(&config);
    status.missing = Some(missing.to_string());
    let endpoint = TokenEndpoint::new(provider)?.with_incomplete_client(missing);
    Ok((endpoint, status))
}

/// `factory`'s provider for `config`, refused when its id is not the factory's.
fn built(
    factory: &dyn ProviderFactory,
    config: ProviderConfig,
) -> Result<Arc<dyn AuthProvider>, ConfigError> {
    let provider = factory.build(config)?;
    if provider.id() != factory.id() {
        return Err(ConfigError::ProviderIdMismatch {
            registered: factory.id().to_string(),
            built: provider.id().to_string(),
        });
    }
    Ok(provider)
}

fn sources_of(config: &crate::config::ProviderConfig) -> Vec<(String, ConfigSource)> {
    config
        .fields()
        .iter()
        .filter_map(|f| {
            config
                .origin(f.name)
                .map(|o| (f.name.to_string(), o.clone()))
        })
        .collect()
}

/// The status of a provider the builder left unconfigured.
fn unconfigured_status(
    factory: &dyn ProviderFactory,
    sources: Vec<(String, ConfigSource)>,
) -> ProviderStatus {
    ProviderStatus {
        id: factory.id().to_string(),
        display_name: factory.display_name().to_string(),
        configured: false,
        sources,
        oauth2: false,
        app_token: false,
        missing: Some(missing_hint(factory.fields())),
    }
}

/// The providers' statuses: those the builder made, and those of the providers it skipped as
/// [`surely_unconfigured`](ProviderFactory::surely_unconfigured), made at the first call.
struct Statuses {
    made: Vec<ProviderStatus>,
    deferred: Vec<Arc<dyn ProviderFactory>>,
    loader: ConfigLoader,
    all: OnceLock<Vec<ProviderStatus>>,
}

impl Statuses {
    /// Every status, sorted by id.
    fn all(&self) -> &[ProviderStatus] {
        self.all.get_or_init(|| {
            let mut all = self.made.clone();
            for factory in &self.deferred {
                // A surely unconfigured provider's configuration loads; if it no longer does (the
                // environment changed since), its status shows no sources.
                let sources = self
                    .loader
                    .load(factory.id(), factory.fields())
                    .map(|config| sources_of(&config))
                    .unwrap_or_default();
                all.push(unconfigured_status(factory.as_ref(), sources));
            }
            all.sort_by(|a, b| a.id.cmp(&b.id));
            all
        })
    }
}

/// The status of a provider the manager set up.
fn configured_status(provider: &dyn AuthProvider) -> ProviderStatus {
    ProviderStatus {
        id: provider.id().to_string(),
        display_name: provider.display_name().to_string(),
        configured: true,
        sources: provider.config().map(sources_of).unwrap_or_default(),
        oauth2: provider.oauth2_settings().is_some(),
        app_token: provider.app_token().is_some(),
        missing: None,
    }
}

fn missing_hint(fields: &[crate::config::ConfigField]) -> String {
    let keys: Vec<&str> = fields
        .iter()
        .filter(|f| f.default.is_none())
        .filter_map(|f| f.env_keys.first().copied())
        .collect();
    format!("no configuration found; set some of: {}", keys.join(", "))
}

impl AuthManager {
    /// A builder with defaults: in-memory store, process env, auto-configuration on.
    pub fn builder() -> AuthManagerBuilder {
        AuthManagerBuilder::default()
    }

    fn entry(&self, provider: &str) -> Result<&Arc<TokenEndpoint>, AuthError> {
        self.inner
            .providers
            .get(provider)
            .ok_or_else(|| AuthError::UnknownProvider {
                provider: provider.to_string(),
                configured: self
                    .inner
                    .providers
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// The configured provider `id`.
    pub fn provider(&self, id: &str) -> Result<Arc<dyn AuthProvider>, AuthError> {
        Ok(self.entry(id)?.provider().clone())
    }

    /// Ids of the configured providers.
    pub fn provider_ids(&self) -> Vec<String> {
        self.inner.providers.keys().cloned().collect()
    }

    /// Every provider the builder saw, configured or not, with the sources of its values.
    pub fn provider_statuses(&self) -> &[ProviderStatus] {
        self.inner.statuses.all()
    }

    /// The credential store.
    pub fn store(&self) -> &Arc<dyn CredentialStore> {
        &self.inner.store
    }

    /// The token endpoint of a configured provider.
    pub fn endpoint(&self, provider: &str) -> Result<Arc<TokenEndpoint>, AuthError> {
        self.entry(provider).cloned()
    }

    /// The OAuth2 flow of a configured provider, with the manager's pending states.
    pub fn oauth2(&self, provider: &str) -> Result<OAuth2Flow, AuthError> {
        OAuth2Flow::new(self.entry(provider)?.clone(), self.inner.states.clone())
    }

    /// Stores a subject's credentials (replacing any), marks them active, and makes live sessions
    /// of that subject use them.
    ///
    /// Fails with [`AuthError::InvalidCredentials`] for a blank subject, and for credentials
    /// with neither an access token nor a refresh token: nothing could ever be sent with them.
    /// Credentials with a refresh token alone are stored as expired, so that their first use
    /// refreshes them.
    pub async fn store_credentials<C: UserCredentials>(
        &self,
        provider: &str,
        subject: &str,
        credentials: &C,
    ) -> Result<Version, AuthError> {
        let span = tracing::info_span!("store_credentials", provider, subject);
        async {
            self.entry(provider)?;
            let generic = Credentials::from_typed(credentials).map_err(|_| {
                AuthError::InvalidCredentials {
                    provider: provider.to_string(),
                    subject: subject.to_string(),
                    reason: "the credentials do not serialize as a flat JSON object".into(),
                }
            })?;
            let invalid = |reason: &str| AuthError::InvalidCredentials {
                provider: provider.to_string(),
                subject: subject.to_string(),
                reason: reason.into(),
            };
            if subject.trim().is_empty() {
                return Err(invalid(
                    "the subject is blank: credentials are stored under a subject (a user, a team, an agent), so name one",
                ));
            }
            let mut generic = generic;
            let token = &mut generic.token;
            if token.access_token.expose_secret().trim().is_empty() {
                if token
                    .refresh_token
                    .as_ref()
                    .is_none_or(|refresh| refresh.expose_secret().trim().is_empty())
                {
                    return Err(invalid(
                        "they hold neither an access token nor a refresh token",
                    ));
                }
                // Nothing to send yet: the first use refreshes.
                token.expires_at = Some(std::time::UNIX_EPOCH);
            }
            let record = CredentialRecord::new(provider, subject, generic.to_payload());
            let version = self.inner.store.put(record, PutMode::Overwrite).await?;
            if let Some(cell) = self.live_cell(provider, subject) {
                cell.prime(&generic, true);
            }
            tracing::debug!(version, store = %self.inner.store.describe(), "credentials stored");
            Ok(version)
        }
        .instrument(span)
        .await
    }

    /// A subject's stored credentials as the provider's type (or [`Credentials`]).
    pub async fn load_credentials<C: UserCredentials>(
        &self,
        provider: &str,
        subject: &str,
    ) -> Result<Option<C>, AuthError> {
        let span = tracing::debug_span!("load_credentials", provider, subject);
        let Some(stored) = self
            .inner
            .store
            .get(provider, subject)
            .instrument(span)
            .await?
        else {
            return Ok(None);
        };
        let generic = Credentials::from_payload(&stored.record.payload)
            .map_err(|reason| corrupt(&stored, reason))?;
        generic
            .to_typed()
            .map(Some)
            .map_err(|_| AuthError::InvalidCredentials {
                provider: provider.to_string(),
                subject: subject.to_string(),
                reason: "the stored credentials do not match the requested type".into(),
            })
    }

    /// What is stored for (provider, subject), without secrets.
    pub async fn credential_info(
        &self,
        provider: &str,
        subject: &str,
    ) -> Result<Option<CredentialInfo>, AuthError> {
        match self.inner.store.get(provider, subject).await? {
            Some(stored) => Ok(Some(info_of(stored)?)),
            None => Ok(None),
        }
    }

    /// Everything stored (or one provider's), without secrets. A record that cannot be decoded
    /// fails the listing with [`AuthError::CorruptCredentials`] naming its provider and subject.
    pub async fn list_credentials(
        &self,
        provider: Option<&str>,
    ) -> Result<Vec<CredentialInfo>, AuthError> {
        self.inner
            .store
            .list(provider)
            .await?
            .into_iter()
            .filter(|stored| stored.record.provider != PENDING_STATES_PROVIDER)
            .map(info_of)
            .collect()
    }

    /// Everything stored (or one provider's), without secrets, record by record: unlike
    /// [`AuthManager::list_credentials`], a record that cannot be read does not fail the listing;
    /// it is listed as [`ListedCredential::Unreadable`] with the reason. Fails only when the store
    /// itself cannot be listed.
    pub async fn list_credentials_each(
        &self,
        provider: Option<&str>,
    ) -> Result<Vec<ListedCredential>, AuthError> {
        let store = &self.inner.store;
        if let Ok(all) = store.list(provider).await {
            return Ok(all
                .into_iter()
                .filter(|stored| stored.record.provider != PENDING_STATES_PROVIDER)
                .map(listed)
                .collect());
        }
        let mut entries = Vec::new();
        for (provider, subject) in store.list_subjects(provider).await? {
            if provider == PENDING_STATES_PROVIDER {
                continue;
            }
            match store.get(&provider, &subject).await {
                Ok(Some(stored)) => entries.push(listed(stored)),
                Ok(None) => {}
                Err(error) => entries.push(ListedCredential::Unreadable {
                    provider,
                    subject,
                    error: error.into(),
                }),
            }
        }
        Ok(entries)
    }

    /// Deletes a subject's stored credentials locally (see [`AuthManager::revoke_credentials`] to
    /// revoke them at the provider first). Returns whether there were any.
    pub async fn delete_credentials(
        &self,
        provider: &str,
        subject: &str,
    ) -> Result<bool, AuthError> {
        let span = tracing::info_span!("delete_credentials", provider, subject);
        let deleted = self
            .inner
            .store
            .delete(provider, subject)
            .instrument(span)
            .await?;
        if let Some(cell) = self.live_cell(provider, subject) {
            cell.clear();
        }
        tracing::debug!(provider, subject, deleted, "credentials deleted");
        Ok(deleted)
    }

    /// Revokes the subject's grant at the provider, then deletes the credentials locally. If the
    /// revocation fails the credentials are kept, so nothing is lost. Credentials with no grant to
    /// revoke (a pasted token, see [`Credentials::pasted`]; no revocation endpoint configured;
    /// no refresh token where revocation needs one) are deleted without a request. Returns
    /// whether any existed.
    pub async fn revoke_credentials(
        &self,
        provider: &str,
        subject: &str,
    ) -> Result<bool, AuthError> {
        let Some(credentials) = self
            .load_credentials::<Credentials>(provider, subject)
            .await?
        else {
            return Ok(false);
        };
        let entry = self.entry(provider)?;
        let revocable = !credentials.is_pasted()
            && entry
                .provider()
                .oauth2_settings()
                .is_some_and(|s| s.revocation_url.is_some());
        if revocable {
            self.oauth2(provider)?.revoke(&credentials).await?;
        }
        self.delete_credentials(provider, subject).await
    }

    /// A session for `subject` over every configured provider, with default options (the app-level
    /// token may stand in when the subject has no stored credentials; [`Session::source`] says which).
    pub async fn session(&self, subject: &str) -> Result<Session, AuthError> {
        self.session_with(subject, SessionOptions::default()).await
    }

    /// A session with options: per-provider credential overrides, a provider filter, and whether
    /// the app-level token may stand in.
    pub async fn session_with(
        &self,
        subject: &str,
        options: SessionOptions,
    ) -> Result<Session, AuthError> {
        let mut entries = BTreeMap::new();
        for (provider_id, endpoint) in &self.inner.providers {
            if options
                .providers
                .as_ref()
                .is_some_and(|only| !only.contains(provider_id))
            {
                continue;
            }
            let (cell, extra) = match options.overrides.get(provider_id) {
                Some(credentials) => {
                    let credentials =
                        credentials
                            .clone()
                            .map_err(|reason| AuthError::InvalidCredentials {
                                provider: provider_id.clone(),
                                subject: subject.to_string(),
                                reason,
                            })?;
                    let extra = credentials.extra.clone();
                    let cell = TokenCell::in_memory(
                        endpoint.clone(),
                        subject,
                        credentials,
                        self.inner.policy,
                        options.on_refresh.clone(),
                    );
                    (Arc::new(cell), extra)
                }
                None => {
                    let cell = self.cell(endpoint, subject);
                    let extra = cell.load().await?;
                    (cell, extra)
                }
            };
            let app_token = endpoint.provider().app_token();
            let overridden = options.overrides.contains_key(provider_id);
            let fallback = app_token.filter(|_| !options.deny_app_token && !overridden);
            let binding = Binding::new(
                cell,
                fallback.cloned(),
                app_token.is_some() && options.deny_app_token,
            );
            let entry = SessionEntry::new(endpoint.provider().clone(), binding, extra);
            entries.insert(provider_id.clone(), entry);
        }
        if let Some(only) = &options.providers
            && let Some(unknown) = only.iter().find(|p| !entries.contains_key(*p))
        {
            return Err(AuthError::UnknownProvider {
                provider: unknown.clone(),
                configured: self.provider_ids().join(", "),
            });
        }
        Ok(Session::new(subject, entries))
    }

    /// The token cell shared by every session of (provider, subject) in this process.
    fn cell(&self, endpoint: &Arc<TokenEndpoint>, subject: &str) -> Arc<TokenCell> {
        let mut cells = self.inner.cells.lock().unwrap_or_else(|p| p.into_inner());
        let key = (endpoint.id().to_string(), subject.to_string());
        if let Some(cell) = cells.get(&key).and_then(Weak::upgrade) {
            return cell;
        }
        cells.retain(|_, weak| weak.strong_count() > 0);
        let cell = Arc::new(TokenCell::stored(
            endpoint.clone(),
            subject,
            self.inner.store.clone(),
            self.inner.policy,
            self.inner.on_refresh.clone(),
        ));
        cells.insert(key, Arc::downgrade(&cell));
        cell
    }

    fn live_cell(&self, provider: &str, subject: &str) -> Option<Arc<TokenCell>> {
        let cells = self.inner.cells.lock().unwrap_or_else(|p| p.into_inner());
        cells
            .get(&(provider.to_string(), subject.to_string()))
            .and_then(Weak::upgrade)
    }
}

/// One record as listed: its info, or why it cannot be read.
fn listed(stored: StoredCredential) -> ListedCredential {
    let (provider, subject) = (
        stored.record.provider.clone(),
        stored.record.subject.clone(),
    );
    match info_of(stored) {
        Ok(info) => ListedCredential::Readable(info),
        Err(error) => ListedCredential::Unreadable {
            provider,
            subject,
            error,
        },
    }
}

/// A stored record that cannot be decoded, for the (provider, subject) it is stored under.
fn corrupt(stored: &StoredCredential, reason: String) -> AuthError {
    AuthError::CorruptCredentials {
        provider: stored.record.provider.clone(),
        subject: stored.record.subject.clone(),
        reason,
    }
}

fn info_of(stored: StoredCredential) -> Result<CredentialInfo, AuthError> {
    let credentials = Credentials::from_payload(&stored.record.payload)
        .map_err(|reason| corrupt(&stored, reason))?;
    Ok(CredentialInfo {
        provider: stored.record.provider.clone(),
        subject: stored.record.subject.clone(),
        status: stored.record.status,
        expires_at: credentials.token.expires_at,
        scopes: credentials.token.scope.clone(),
        has_refresh_token: credentials.token.refresh_token.is_some(),
        updated_at: stored.updated_at,
        version: stored.version,
    })
}

#[cfg(test)]
mod tests {
    use async_trait::async_trait;

    use super::*;
    use crate::error::StoreError;
    use crate::store::Payload;
    use crate::token::OAuth2Token;

    /// A factory whose provider has another id than the factory.
    #[derive(Debug)]
    struct Mislabelled;

    #[derive(Debug)]
    struct Other;

    impl AuthProvider for Other {
        fn id(&self) -> &str {
            "Other Name"
        }
        fn oauth2_settings(&self) -> Option<&crate::provider::OAuth2Settings> {
            None
        }
    }

    impl ProviderFactory for Mislabelled {
        fn id(&self) -> &str {
            "mismatch"
        }
        fn display_name(&self) -> &str {
            "Mismatch"
        }
        fn fields(&self) -> &'static [crate::config::ConfigField] {
            &[]
        }
        fn is_configured(&self, _: &ProviderConfig) -> bool {
            true
        }
        fn build(&self, _: ProviderConfig) -> Result<Arc<dyn AuthProvider>, ConfigError> {
            Ok(Arc::new(Other))
        }
    }

    #[test]
    fn a_factory_whose_provider_has_another_id_is_refused() {
        let config = crate::config::ConfigLoader::new()
            .with_env(crate::config::EnvSource::empty())
            .load("mismatch", &[])
            .unwrap();
        match built(&Mislabelled, config) {
            Err(e @ ConfigError::ProviderIdMismatch { .. }) => assert_eq!(
                e.to_string(),
                "the provider registered as `mismatch` built a provider whose id() is `Other Name`: they must be the same, since credentials are stored under the provider's id and configuration is read under the registration's"
            ),
            other => panic!("{other:?}"),
        }
    }

    /// A store whose record of subject `b` cannot be read, as a tampered ciphertext: reading it,
    /// and so listing everything, fails.
    #[derive(Debug)]
    struct OneUnreadable(MemoryCredentialStore);

    fn tampered() -> StoreError {
        StoreError::Decrypt {
            provider: "p".into(),
            subject: "b".into(),
            key_id: "k".into(),
        }
    }

    #[async_trait]
    impl CredentialStore for OneUnreadable {
        async fn get(&self, p: &str, s: &str) -> Result<Option<StoredCredential>, StoreError> {
            if s == "b" {
                return Err(tampered());
            }
            self.0.get(p, s).await
        }
        async fn put(&self, r: CredentialRecord, m: PutMode) -> Result<Version, StoreError> {
            self.0.put(r, m).await
        }
        async fn delete(&self, p: &str, s: &str) -> Result<bool, StoreError> {
            self.0.delete(p, s).await
        }
        async fn list(&self, _: Option<&str>) -> Result<Vec<StoredCredential>, StoreError> {
            Err(tampered())
        }
        async fn list_subjects(
            &self,
            provider: Option<&str>,
        ) -> Result<Vec<(String, String)>, StoreError> {
            self.0.list_subjects(provider).await
        }
        async fn replace_payloads(
            &self,
            replacements: Vec<crate::store::PayloadReplacement>,
        ) -> Result<usize, StoreError> {
            self.0.replace_payloads(replacements).await
        }
        fn describe(&self) -> String {
            "one-unreadable".into()
        }
    }

    fn summary(listed: &[ListedCredential]) -> Vec<(String, &'static str)> {
        listed
            .iter()
            .map(|entry| match entry {
                ListedCredential::Readable(info) => (info.subject.clone(), "readable"),
                ListedCredential::Unreadable {
                    subject,
                    error: AuthError::Store(StoreError::Decrypt { .. }),
                    ..
                } => (subject.clone(), "tampered"),
                ListedCredential::Unreadable {
                    subject,
                    error: AuthError::CorruptCredentials { .. },
                    ..
                } => (subject.clone(), "corrupt"),
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[tokio::test]
    async fn one_unreadable_record_does_not_hide_the_others() {
        let memory = MemoryCredentialStore::new();
        for subject in ["a", "b", "c"] {
            let payload = Credentials::new(OAuth2Token::bearer("t")).to_payload();
            let record = CredentialRecord::new("p", subject, payload);
            memory.put(record, PutMode::Create).await.unwrap();
        }
        let garbage = Payload::new(b"{\"not\": \"credentials\"}".to_vec());
        let record = CredentialRecord::new("p", "d", garbage);
        memory.put(record, PutMode::Create).await.unwrap();

        let manager = |store: Arc<dyn CredentialStore>| {
            AuthManager::builder()
                .env(EnvSource::empty())
                .auto_configure(false)
                .shared_store(store)
                .build()
                .unwrap()
        };
        let plain = manager(Arc::new(memory.clone()));
        let whole = plain.list_credentials(None).await;
        assert!(
            matches!(&whole, Err(AuthError::CorruptCredentials { subject, .. }) if subject == "d"),
            "{whole:?}"
        );
        let listed = plain.list_credentials_each(Some("p")).await.unwrap();
        assert_eq!(
            summary(&listed),
            [
                ("a".into(), "readable"),
                ("b".into(), "readable"),
                ("c".into(), "readable"),
                ("d".into(), "corrupt"),
            ]
        );

        let tampered = manager(Arc::new(OneUnreadable(memory)));
        let whole = tampered.list_credentials(None).await;
        assert!(
            matches!(&whole, Err(AuthError::Store(StoreError::Decrypt { subject, .. })) if subject == "b"),
            "{whole:?}"
        );
        let listed = tampered.list_credentials_each(None).await.unwrap();
        assert_eq!(
            summary(&listed),
            [
                ("a".into(), "readable"),
                ("b".into(), "tampered"),
                ("c".into(), "readable"),
                ("d".into(), "corrupt"),
            ]
        );
        assert!(
            tampered
                .list_credentials_each(Some("other"))
                .await
                .unwrap()
                .is_empty()
        );
    }
}
