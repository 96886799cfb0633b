//! Connector types and their credentials: which provider a request names (Asana by Airbyte's
//! definition id or by name; every declarative provider, built in or from the service's provider
//! configuration, by its id or name), the two credential forms of the seed (`{token}` and
//! `{access_token?, refresh_token, client_id?, client_secret?}`), where they are kept (the core's
//! credential store, provider = the connector type's id, subject = connector id; a connector's
//! own OAuth client under provider [`OWN_CLIENT_PROVIDER`]), and the warm clients built over them
//! ([`Connectors`]): Asana's typed connector, refreshing through the core's
//! `RefreshingTokenSource::stored_with_callback`, or, for a declarative provider, an
//! `AuthManager` over the same store whose sessions send raw requests; both refresh with single
//! flight, write the refreshed token back, count each refresh in the metrics, and use the right
//! OAuth app. Each warm connector also keeps a stored token source through which the background
//! refresher refreshes it ahead of use, and records its token's expiry (read under the
//! connector's provider id) whenever a new token shows up. Token requests time out after
//! [`TOKEN_REQUEST_TIMEOUT`].

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use integrations::asana::{
    AsanaAppCredentials, AsanaAuthProvider, AsanaClient, AsanaConnector, ConcurrencyLimiter,
    DownloadClient, PROVIDER_ID, RetryConfig,
};
use integrations::auth_core::config::{CodeValue, ConfigLoader, ProviderConfig};
use integrations::auth_core::provider::{ApiSettings, OAuth2Settings};
use integrations::auth_core::{
    AuthProvider, CredentialRecord, PutMode, StoreError, StoredCredential, TokenEndpoint,
};
use integrations::declarative::{self, Definition};
use integrations::{
    AuthError, AuthManager, ConfigError, CredentialSource, CredentialStatus, CredentialStore,
    Credentials, EnvSource, ErrorClass, OAuth2Token, RecordOpener, RefreshingTokenSource,
    SecretString, TokenSource,
};
use serde_json::{Map, Value, json};

use crate::error::{ApiError, ServiceStoreError};
use crate::metrics::Metrics;
use crate::secrets::{Purpose, Sealer, oauth_app_key};
use crate::store::{
    AuthKind, ConnectorFilter, ConnectorRecord, OAuthAppRecord, OAuthAppSource, ServiceStore,
    record_status,
};

/// Airbyte's definition id for Asana.
pub const ASANA_DEFINITION_ID: &str = "d0243522-dccf-4978-8ba0-37ed47a0bdbf";

/// The credential-store provider id under which an OAuth connector's own client id and secret
/// are kept (subject = connector id), beside its tokens.
pub const OWN_CLIENT_PROVIDER: &str = "asana-oauth-client";

/// A provider the service runs connectors for: Asana (a typed client and its catalog) or a
/// declarative provider (raw requests and `check` only).
#[derive(Debug, Clone)]
pub(crate) enum ConnectorType {
    Asana,
    Api(Arc<Definition>),
}

impl PartialEq for ConnectorType {
    fn eq(&self, other: &Self) -> bool {
        self.id() == other.id()
    }
}

impl ConnectorType {
    /// The id stored in records and under which credentials are kept (`asana`, `github`).
    pub(crate) fn id(&self) -> &str {
        match self {
            ConnectorType::Asana => PROVIDER_ID,
            ConnectorType::Api(definition) => &definition.id,
        }
    }

    /// The name answered as `connector_type`.
    pub(crate) fn display_name(&self) -> &str {
        match self {
            ConnectorType::Asana => "Asana",
            ConnectorType::Api(definition) => &definition.display_name,
        }
    }

    /// The definition id answered: Airbyte's for Asana, the provider id for the others.
    pub(crate) fn definition_id(&self) -> &str {
        match self {
            ConnectorType::Asana => ASANA_DEFINITION_ID,
            ConnectorType::Api(definition) => &definition.id,
        }
    }
}

/// The connector types this service offers: Asana and every declarative provider (built in, or
/// from the files the service's configuration names).
#[derive(Debug, Clone, Default)]
pub(crate) struct ConnectorTypes {
    declarative: Vec<Arc<Definition>>,
}

impl ConnectorTypes {
    /// Asana and these definitions (one that claims Asana's id is left out).
    pub(crate) fn new(definitions: Vec<Definition>) -> Self {
        Self {
            declarative: definitions
                .into_iter()
                .filter(|d| !d.id.eq_ignore_ascii_case(PROVIDER_ID))
                .map(Arc::new)
                .collect(),
        }
    }

    /// Every provider id (`asana` first).
    pub(crate) fn ids(&self) -> impl Iterator<Item = &str> {
        std::iter::once(PROVIDER_ID).chain(self.declarative.iter().map(|d| d.id.as_str()))
    }

    /// By `definition_id` (Airbyte's id for Asana, or a provider id).
    pub(crate) fn by_definition_id(&self, id: &str) -> Option<ConnectorType> {
        if id.eq_ignore_ascii_case(ASANA_DEFINITION_ID) || id.eq_ignore_ascii_case(PROVIDER_ID) {
            return Some(ConnectorType::Asana);
        }
        self.declarative
            .iter()
            .find(|d| d.id.eq_ignore_ascii_case(id))
            .map(|d| ConnectorType::Api(d.clone()))
    }

    /// By `connector_type`: a provider id or display name, in any case (`Asana`, `github`,
    /// `GitHub`).
    pub(crate) fn by_name(&self, name: &str) -> Option<ConnectorType> {
        if name.eq_ignore_ascii_case(PROVIDER_ID) {
            return Some(ConnectorType::Asana);
        }
        self.declarative
            .iter()
            .find(|d| d.id.eq_ignore_ascii_case(name) || d.display_name.eq_ignore_ascii_case(name))
            .map(|d| ConnectorType::Api(d.clone()))
    }

    /// The supported connector types, for error messages.
    pub(crate) fn supported(&self) -> String {
        self.ids().collect::<Vec<_>>().join(", ")
    }

    /// Resolves a request's `definition_id` and `connector_type` (either; both must agree).
    pub(crate) fn resolve(
        &self,
        definition_id: Option<&str>,
        connector_type: Option<&str>,
    ) -> Result<ConnectorType, ApiError> {
        let by_id = definition_id.map(|id| {
            self.by_definition_id(id).ok_or_else(|| {
                ApiError::unprocessable(format!(
                    "unknown definition_id; supported: {ASANA_DEFINITION_ID} (Asana) or a provider id ({})",
                    self.supported()
                ))
            })
        });
        let by_name = connector_type.map(|name| {
            self.by_name(name).ok_or_else(|| {
                ApiError::unprocessable(format!(
                    "unknown connector_type; supported: {}",
                    self.supported()
                ))
            })
        });
        match (by_id.transpose()?, by_name.transpose()?) {
            (Some(a), Some(b)) if a != b => Err(ApiError::unprocessable(
                "definition_id and connector_type name different connectors",
            )),
            (Some(t), _) | (None, Some(t)) => Ok(t),
            (None, None) => Err(ApiError::unprocessable(
                "name the connector with definition_id or connector_type (e.g. \"connector_type\": \"Asana\")",
            )),
        }
    }
}

/// An OAuth client: id and secret.
#[derive(Debug, Clone)]
pub(crate) struct OAuthClient {
    pub(crate) client_id: String,
    pub(crate) client_secret: SecretString,
}

/// Connector credentials as a request gives them.
#[derive(Debug, Clone)]
pub(crate) enum CredentialsInput {
    /// A personal access token.
    Token(SecretString),
    /// OAuth tokens, with the caller's own client when given.
    OAuth {
        access_token: Option<SecretString>,
        refresh_token: SecretString,
        client: Option<OAuthClient>,
    },
}

const CREDENTIAL_FORMS: &str = "credentials must be {\"token\"} (a personal access token) or {\"access_token\"?, \"refresh_token\", \"client_id\"?, \"client_secret\"?}";

impl CredentialsInput {
    /// Reads `credentials` from a request body. Errors name fields, never values.
    pub(crate) fn parse(value: &Value) -> Result<Self, ApiError> {
        let Value::Object(fields) = value else {
            return Err(ApiError::unprocessable(CREDENTIAL_FORMS));
        };
        let text = |name: &str| -> Result<Option<SecretString>, ApiError> {
            match fields.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) if !s.trim().is_empty() => {
                    Ok(Some(SecretString::from(s.trim().to_string())))
                }
                Some(_) => Err(ApiError::unprocessable(format!(
                    "credentials.{name} must be a non-empty string"
                ))),
            }
        };
        // A token travels in a header (or a form field) as it is: visible ASCII, as RFC 6750's
        // token syntax has it. Refused here, not on every later call.
        let token = |name: &str| -> Result<Option<SecretString>, ApiError> {
            let value = text(name)?;
            match &value {
                Some(t) if !t.expose_secret().bytes().all(|b| b.is_ascii_graphic()) => {
                    Err(ApiError::unprocessable(format!(
                        "credentials.{name} must be visible ASCII, without spaces or control characters"
                    )))
                }
                _ => Ok(value),
            }
        };
        if let Some(token) = token("token")? {
            return Ok(CredentialsInput::Token(token));
        }
        let Some(refresh_token) = token("refresh_token")? else {
            return Err(ApiError::unprocessable(CREDENTIAL_FORMS));
        };
        let client = match (text("client_id")?, text("client_secret")?) {
            (Some(id), Some(secret)) => Some(OAuthClient {
                client_id: id.expose_secret().to_string(),
                client_secret: secret,
            }),
            (None, None) => None,
            _ => {
                return Err(ApiError::unprocessable(
                    "credentials.client_id and credentials.client_secret go together: give both, or neither to use the application's or the service's OAuth app",
                ));
            }
        };
        Ok(CredentialsInput::OAuth {
            access_token: token("access_token")?,
            refresh_token,
            client,
        })
    }

    pub(crate) fn auth_kind(&self) -> AuthKind {
        match self {
            CredentialsInput::Token(_) => AuthKind::Token,
            CredentialsInput::OAuth { .. } => AuthKind::OAuth,
        }
    }

    /// The core's credentials: a token alone, or OAuth tokens (due for a refresh at once when no
    /// access token was given).
    pub(crate) fn credentials(&self) -> Credentials {
        match self {
            CredentialsInput::Token(token) => Credentials::new(OAuth2Token::bearer(token.clone())),
            CredentialsInput::OAuth {
                access_token,
                refresh_token,
                ..
            } => {
                let mut token = OAuth2Token::bearer(
                    access_token
                        .clone()
                        .unwrap_or_else(|| SecretString::from("")),
                );
                token.refresh_token = Some(refresh_token.clone());
                if access_token.is_none() {
                    token.expires_at = Some(UNIX_EPOCH);
                }
                Credentials::new(token)
            }
        }
    }
}

/// Where declarative providers' configuration comes from: the same layering and env keys as the
/// library (`{ID}_CLIENT_ID`, `{ID}_API_BASE_URL`, ..., the config file's `[id]` sections and
/// its `providers` list of definition files, `INTEGRATIONS_PROVIDERS`).
#[derive(Debug, Clone, Default)]
pub(crate) struct ProviderConfigSource {
    /// Env keys.
    pub(crate) env: EnvSource,
    /// The configuration file, if any (else `INTEGRATIONS_CONFIG` from `env`).
    pub(crate) config_file: Option<PathBuf>,
}

impl ProviderConfigSource {
    /// Every connector type this configuration offers; a broken definition file is an error
    /// naming the file, the line and the field.
    pub(crate) fn connector_types(&self) -> Result<ConnectorTypes, ConfigError> {
        let mut loader = ConfigLoader::new().with_env(self.env.clone());
        if let Some(file) = &self.config_file {
            loader = loader.with_file(file.clone());
        }
        Ok(ConnectorTypes::new(declarative::definitions(&loader)?))
    }
}

/// Settings of the upstream clients the service builds.
#[derive(Debug, Clone)]
pub(crate) struct UpstreamSettings {
    /// The service's Asana app (client id and secret, if configured) and Asana's URLs.
    pub(crate) asana: AsanaAppCredentials,
    /// The declarative providers' configuration (their URLs and the service's OAuth apps).
    pub(crate) providers: ProviderConfigSource,
    /// The connector types offered.
    pub(crate) types: ConnectorTypes,
    /// Retries of Asana calls.
    pub(crate) retry: RetryConfig,
    /// How long one attempt of an upstream call may take.
    pub(crate) timeout: Duration,
    /// How many warm connectors are kept.
    pub(crate) cache_size: usize,
    /// The one HTTP client of every connector's provider and API client: one connection pool
    /// and one TLS configuration for the service, not one per warm connector (each took about
    /// 110 KiB).
    pub(crate) http: reqwest::Client,
    /// The one client of every connector's attachment downloads off Asana's origin, for the
    /// same reason.
    pub(crate) downloads: DownloadClient,
}

/// A connector's warm upstream client and the token source the background refresher refreshes
/// it through.
#[derive(Debug, Clone)]
struct Warm {
    client: WarmClient,
    source: RefreshingTokenSource,
    /// The `updated_at` of the connector's row it was built from. A row read later with a newer
    /// one was changed since (its credentials, OAuth client or kind), on this instance or on
    /// another: the warm connector is built again.
    updated_at: SystemTime,
}

/// Asana's typed connector (over [`Warm::source`], whose single flight the refresher shares), or
/// a manager whose sessions send raw requests to a declarative provider's API (their token cell
/// and [`Warm::source`] share the store's refresh lease, as two instances do).
#[derive(Debug, Clone)]
enum WarmClient {
    Asana(Arc<AsanaConnector>),
    Api(Arc<AuthManager>),
}

/// Builds, caches and forgets connectors' upstream clients, and keeps their credentials.
#[derive(Debug)]
pub(crate) struct Connectors {
    store: Arc<dyn ServiceStore>,
    credentials: Arc<dyn CredentialStore>,
    /// Opens the credential records the service's store reads with a connector, to offer them
    /// to the connector's token source.
    opener: RecordOpener,
    sealer: Sealer,
    settings: UpstreamSettings,
    metrics: Arc<Metrics>,
    cache: Mutex<Cache>,
    /// How many times a warm connector was forgotten because its credentials changed.
    forgotten: AtomicU64,
    /// The token endpoints' HTTP clients, one per request timeout (each connector's endpoint
    /// used to build its own, about 25 KiB per warm connector).
    token_http: Mutex<HashMap<Duration, reqwest::Client>>,
    /// The Asana provider and token endpoint of every connector without an OAuth client (a
    /// personal access token): the same for all of them, built at the first one's first use.
    token_only: OnceLock<(Arc<AsanaAuthProvider>, Arc<TokenEndpoint>)>,
    /// Taken by a request that replaces a connector's credentials, from their write until the
    /// connector's row says what they are: such requests for one connector on this instance take
    /// turns. Striped by connector id (a few locks, whatever the number of connectors).
    replacing: [tokio::sync::Mutex<()>; REPLACING_STRIPES],
}

/// How many locks [`Connectors::replacing_credentials`] spreads connectors over.
const REPLACING_STRIPES: usize = 16;

#[derive(Debug, Default)]
struct Cache {
    next: u64,
    entries: HashMap<String, (u64, Warm)>,
}

/// A connector's credential record as the service's store read it with the connector, and how
/// many times warm connectors had been forgotten before that read ([`Connectors::forgotten`]).
pub(crate) struct ReadRecord {
    pub(crate) stored: StoredCredential,
    pub(crate) forgotten: u64,
}

/// How long a token request to the provider may take. A refresh lease lasts this, the core's
/// store write budget (10 s) and its margin (15 s): 40 s, so that a lease left by an instance
/// that died while refreshing lapses within 45 s.
pub(crate) const TOKEN_REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// A provider as the service's token endpoints use it: token requests time out after
/// [`TOKEN_REQUEST_TIMEOUT`]; everything else is the provider's.
#[derive(Debug)]
struct ServiceProvider {
    inner: Arc<dyn AuthProvider>,
    oauth2: Option<OAuth2Settings>,
}

#[async_trait::async_trait]
impl AuthProvider for ServiceProvider {
    fn id(&self) -> &str {
        self.inner.id()
    }

    fn display_name(&self) -> &str {
        self.inner.display_name()
    }

    fn oauth2_settings(&self) -> Option<&OAuth2Settings> {
        self.oauth2.as_ref()
    }

    fn app_token(&self) -> Option<&SecretString> {
        self.inner.app_token()
    }

    fn api(&self, extra: &Map<String, Value>) -> Option<ApiSettings> {
        self.inner.api(extra)
    }

    fn config(&self) -> Option<&ProviderConfig> {
        self.inner.config()
    }

    async fn credentials_from_token(&self, token: OAuth2Token) -> Result<Credentials, AuthError> {
        self.inner.credentials_from_token(token).await
    }

    fn merge_refreshed(&self, previous: &Credentials, token: OAuth2Token) -> Credentials {
        self.inner.merge_refreshed(previous, token)
    }
}

impl Connectors {
    pub(crate) fn new(
        store: Arc<dyn ServiceStore>,
        credentials: Arc<dyn CredentialStore>,
        opener: RecordOpener,
        sealer: Sealer,
        settings: UpstreamSettings,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            store,
            credentials,
            opener,
            sealer,
            settings,
            metrics,
            cache: Mutex::default(),
            forgotten: AtomicU64::new(0),
            token_http: Mutex::default(),
            token_only: OnceLock::new(),
            replacing: std::array::from_fn(|_| tokio::sync::Mutex::const_new(())),
        }
    }

    /// Taken by a request that replaces `connector_id`'s credentials, until the connector's row
    /// is written: two such requests on this instance cannot interleave their two writes.
    pub(crate) async fn replacing_credentials(
        &self,
        connector_id: &str,
    ) -> tokio::sync::MutexGuard<'_, ()> {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        connector_id.hash(&mut hasher);
        let stripe = usize::try_from(hasher.finish() % REPLACING_STRIPES as u64).unwrap_or(0);
        self.replacing[stripe].lock().await
    }

    /// The service's store.
    pub(crate) fn store(&self) -> &dyn ServiceStore {
        self.store.as_ref()
    }

    /// What seals the secrets the service keeps in its own store.
    pub(crate) fn sealer(&self) -> &Sealer {
        &self.sealer
    }

    /// The connector types offered.
    pub(crate) fn types(&self) -> &ConnectorTypes {
        &self.settings.types
    }

    /// How long one attempt of an upstream call may take.
    pub(crate) fn timeout(&self) -> Duration {
        self.settings.timeout
    }

    /// The connector type of a stored connector; 422 when the service no longer offers it.
    pub(crate) fn kind_of(&self, record: &ConnectorRecord) -> Result<ConnectorType, ApiError> {
        self.types().by_name(&record.connector_type).ok_or_else(|| {
            ApiError::unprocessable(format!(
                "this connector's provider `{}` is no longer configured on this service",
                record.connector_type
            ))
        })
    }

    /// Whose OAuth app will refresh an OAuth connector of `application_id`: its own client, the
    /// application's app, else the service's; 422 when there is none.
    pub(crate) async fn oauth_app_for(
        &self,
        application_id: &str,
        kind: &ConnectorType,
        input: &CredentialsInput,
    ) -> Result<Option<OAuthAppSource>, ApiError> {
        let CredentialsInput::OAuth { client, .. } = input else {
            return Ok(None);
        };
        if client.is_some() {
            return Ok(Some(OAuthAppSource::Own));
        }
        self.shared_app_for(application_id, kind).await.map(Some)
    }

    /// The OAuth app a connector of `application_id` without a client of its own uses: the
    /// application's own app for `kind`, else the service's; 422 when there is none.
    pub(crate) async fn shared_app_for(
        &self,
        application_id: &str,
        kind: &ConnectorType,
    ) -> Result<OAuthAppSource, ApiError> {
        if self
            .store
            .oauth_app(application_id, kind.id())
            .await?
            .is_some()
        {
            return Ok(OAuthAppSource::Application);
        }
        if self.service_client(kind)?.is_some() {
            return Ok(OAuthAppSource::Service);
        }
        let name = kind.display_name();
        Err(ApiError::unprocessable(format!(
            "{name} OAuth needs an OAuth app, and neither this application nor the service has one for {name}: set the application's with PUT /api/v1/oauth/credentials (or pass client_id and client_secret in a connector's OAuth credentials)"
        )))
    }

    /// The token endpoint of the application's or the service's OAuth app (`source`) for
    /// `kind`, for a consent flow; 422 when that app is not (or no longer) there.
    pub(crate) async fn shared_endpoint(
        &self,
        application_id: &str,
        kind: &ConnectorType,
        source: OAuthAppSource,
    ) -> Result<Arc<TokenEndpoint>, ApiError> {
        let client = self
            .shared_client(application_id, kind, source)
            .await?
            .ok_or_else(|| {
                ApiError::unprocessable(
                    "the OAuth app this consent flow uses is gone: set one with PUT /api/v1/oauth/credentials and start again",
                )
            })?;
        self.endpoint(kind, Some(client))
    }

    /// The scopes a consent flow requests: the provider's configured default scopes (for Asana
    /// without any, `default`: full permissions).
    pub(crate) fn consent_scopes(
        &self,
        kind: &ConnectorType,
        endpoint: &TokenEndpoint,
    ) -> Vec<String> {
        let configured = endpoint
            .provider()
            .oauth2_settings()
            .map(|s| s.default_scopes.clone())
            .unwrap_or_default();
        match (kind, configured.is_empty()) {
            (ConnectorType::Asana, true) => vec!["default".to_string()],
            _ => configured,
        }
    }

    /// The service's own OAuth app for `kind`, if configured.
    fn service_client(&self, kind: &ConnectorType) -> Result<Option<OAuthClient>, ApiError> {
        match kind {
            ConnectorType::Asana => {
                let app = &self.settings.asana;
                Ok(app.client_id.clone().zip(app.client_secret.clone()).map(
                    |(client_id, client_secret)| OAuthClient {
                        client_id,
                        client_secret,
                    },
                ))
            }
            ConnectorType::Api(definition) => {
                let manager = self.manager(definition, None, None)?;
                let provider = manager.provider(&definition.id).map_err(upstream_setup)?;
                Ok(provider.oauth2_settings().and_then(|s| {
                    s.client_secret.clone().map(|client_secret| OAuthClient {
                        client_id: s.client_id.clone(),
                        client_secret,
                    })
                }))
            }
        }
    }

    /// Writes a connector's credentials (and its own OAuth client, or removes a stale one).
    pub(crate) async fn store_credentials(
        &self,
        record: &ConnectorRecord,
        input: &CredentialsInput,
    ) -> Result<(), ApiError> {
        self.store_granted(record, &input.credentials()).await?;
        self.store_client(record, input).await
    }

    /// Writes the connector's own OAuth client that `input` brings, or removes the one it had
    /// when `input` brings none.
    pub(crate) async fn store_client(
        &self,
        record: &ConnectorRecord,
        input: &CredentialsInput,
    ) -> Result<(), ApiError> {
        match input {
            CredentialsInput::OAuth {
                client: Some(client),
                ..
            } => {
                let payload = json!({
                    "client_id": client.client_id,
                    "client_secret": client.client_secret.expose_secret(),
                });
                let record = CredentialRecord::new(
                    OWN_CLIENT_PROVIDER,
                    &record.id,
                    integrations::auth_core::Payload::new(payload.to_string().into_bytes()),
                );
                self.credentials.put(record, PutMode::Overwrite).await?;
            }
            _ => {
                self.credentials
                    .delete(OWN_CLIENT_PROVIDER, &record.id)
                    .await?;
            }
        }
        self.forget(&record.id);
        Ok(())
    }

    /// Writes a connector's tokens (what a code exchange or a request gave), under its
    /// provider's id.
    pub(crate) async fn store_granted(
        &self,
        record: &ConnectorRecord,
        credentials: &Credentials,
    ) -> Result<(), ApiError> {
        let stored =
            CredentialRecord::new(&record.connector_type, &record.id, credentials.to_payload());
        self.credentials.put(stored, PutMode::Overwrite).await?;
        self.forget(&record.id);
        Ok(())
    }

    /// Sets the application's own OAuth app for `kind` and forgets the warm connectors that
    /// refreshed with the one it replaces.
    pub(crate) async fn set_application_app(
        &self,
        application_id: &str,
        kind: &ConnectorType,
        client: &OAuthClient,
    ) -> Result<OAuthAppRecord, ApiError> {
        let record = oauth_app_record(&self.sealer, application_id, kind, client)?;
        self.store.put_oauth_app(record.clone()).await?;
        self.forget_application_app_users(application_id, kind)
            .await?;
        Ok(record)
    }

    /// Deletes the application's own OAuth app for `kind` (`false` if it had none) and forgets
    /// the warm connectors that refreshed with it.
    pub(crate) async fn delete_application_app(
        &self,
        application_id: &str,
        kind: &ConnectorType,
    ) -> Result<bool, ApiError> {
        let deleted = self
            .store
            .delete_oauth_app(application_id, kind.id())
            .await?;
        self.forget_application_app_users(application_id, kind)
            .await?;
        Ok(deleted)
    }

    async fn forget_application_app_users(
        &self,
        application_id: &str,
        kind: &ConnectorType,
    ) -> Result<(), ApiError> {
        let filter = ConnectorFilter {
            connector_type: Some(kind.id().to_string()),
            ..ConnectorFilter::default()
        };
        let connectors = self.store.list_connectors(application_id, &filter).await?;
        let mut cache = self.lock();
        for connector in connectors
            .iter()
            .filter(|c| c.oauth_app == Some(OAuthAppSource::Application))
        {
            cache.entries.remove(&connector.id);
        }
        Ok(())
    }

    /// The connector's credential status: `needs_reauthorization` when the grant was rejected
    /// (or the credentials are gone).
    pub(crate) async fn status(
        &self,
        record: &ConnectorRecord,
    ) -> Result<CredentialStatus, ApiError> {
        let stored = self
            .credentials
            .get(&record.connector_type, &record.id)
            .await?;
        Ok(record_status(stored.as_ref()))
    }

    /// The credential record of a connector being deleted, read once for its status and its
    /// revocation: `None` when there is none, or when it cannot be opened (sealed under a key
    /// that is not configured, or altered), since nothing can use it (its status is then
    /// `needs_reauthorization`, and its grant cannot be revoked) and it must not stop the
    /// deletion. Elsewhere such a record stays an error: an instance given the wrong key must not
    /// make every connector look as if its user had to connect again.
    pub(crate) async fn credentials_of_deleted(
        &self,
        record: &ConnectorRecord,
    ) -> Result<Option<StoredCredential>, ApiError> {
        match self
            .credentials
            .get(&record.connector_type, &record.id)
            .await
        {
            Ok(stored) => Ok(stored),
            Err(e) if unreadable(&e) => {
                tracing::warn!(connector = %record.id, error = %e, "the credentials of a connector being deleted cannot be opened, so its grant cannot be revoked; deleting anyway");
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The warm Asana connector for `record`, built on first use; 400 for a connector of a
    /// provider without a catalog. `read` is its credential record as the service's store read
    /// it with the connector, if it did: a token source without a fresh token starts from it
    /// ([`RefreshingTokenSource::offer`]) instead of reading the credential store again, unless
    /// a warm connector was forgotten since that read (its credentials may have changed: the
    /// token source reads them).
    pub(crate) async fn connector(
        &self,
        record: &ConnectorRecord,
        read: Option<ReadRecord>,
    ) -> Result<Arc<AsanaConnector>, ApiError> {
        if record.connector_type != PROVIDER_ID {
            return Err(ApiError::bad_request(format!(
                "a {} connector has no catalog: it offers proxy.request and *.check",
                record.connector_type
            )));
        }
        let warm = self.warm(record).await?;
        if let Some(read) = read
            && warm.source.cached_token().is_none()
            && read.forgotten == self.forgotten()
        {
            match self.opener.open(read.stored) {
                Ok(read) => warm.source.offer(read),
                // The token source reads the record itself, and answers what is wrong with it.
                Err(e) => {
                    tracing::debug!(connector = %record.id, error = %e, "the credential record read with the connector does not open");
                }
            }
        }
        match warm.client {
            WarmClient::Asana(connector) => Ok(connector),
            WarmClient::Api(_) => Err(ApiError::misconfigured(
                "an Asana connector was set up as a raw API session",
            )),
        }
    }

    /// The warm manager of a declarative provider's connector (its sessions send raw requests
    /// and refresh through the core), built on first use, and the provider's definition.
    pub(crate) async fn api(
        &self,
        record: &ConnectorRecord,
    ) -> Result<(Arc<AuthManager>, Arc<Definition>), ApiError> {
        let ConnectorType::Api(definition) = self.kind_of(record)? else {
            return Err(ApiError::misconfigured(
                "an Asana connector has no raw API session",
            ));
        };
        match self.warm(record).await?.client {
            WarmClient::Api(manager) => Ok((manager, definition)),
            WarmClient::Asana(_) => Err(ApiError::misconfigured(
                "a declarative provider's connector was set up as an Asana connector",
            )),
        }
    }

    /// Refreshes `record`'s token if it expires within `margin`, through its warm connector's
    /// token source (so never beside an execute's refresh), and records the expiry of the token
    /// it holds afterwards.
    pub(crate) async fn refresh_ahead(
        &self,
        record: &ConnectorRecord,
        margin: Duration,
    ) -> Result<(), ApiError> {
        let warm = self.warm(record).await?;
        match warm.source.refresh_ahead(margin).await {
            Ok(()) => {
                self.expiry_tracker(record)
                    .record(warm.source.refreshable_expiry())
                    .await
            }
            Err(e) if e.needs_reauthorization() => {
                // A rejected grant: its expiry is forgotten, as it is no longer active.
                tracing::warn!(connector = %record.id, error = %e, "refreshing ahead of use failed");
                self.track_expiry(record).await?;
                Err(ApiError::needs_reauthorization(&record.id))
            }
            Err(e) if e.is_transient() => {
                tracing::warn!(connector = %record.id, error = %e, "refreshing ahead of use failed; trying again later");
                Err(ApiError::unavailable("the refresh failed; retry later"))
            }
            Err(e) => {
                // The service's own fault (a record it cannot open, a provider set up badly):
                // the grant may be fine, so its expiry is kept and the next sweep tries again.
                Err(ApiError::from_auth_store(&e, &record.id).unwrap_or_else(|| {
                    tracing::error!(connector = %record.id, error = %e, "refreshing ahead of use failed");
                    ApiError::misconfigured("refreshing ahead of use failed; see the service's log")
                }))
            }
        }
    }

    /// Records when the connector's stored token expires, for the background refresher: only
    /// for an active grant with a refresh token and a known expiry (an unknown expiry is
    /// refreshed on a 401 only).
    pub(crate) async fn track_expiry(&self, record: &ConnectorRecord) -> Result<(), ApiError> {
        self.expiry_tracker(record).track().await
    }

    /// The expiry tracker of `record`: its credentials are read under its provider's id.
    fn expiry_tracker(&self, record: &ConnectorRecord) -> ExpiryTracker {
        ExpiryTracker {
            store: self.store.clone(),
            credentials: self.credentials.clone(),
            provider: record.connector_type.clone(),
            connector_id: record.id.clone(),
        }
    }

    /// The refresh lease `record`'s token source takes.
    #[cfg(test)]
    pub(crate) async fn refresh_lease(&self, record: &ConnectorRecord) -> Duration {
        self.warm(record).await.unwrap().source.refresh_lease()
    }

    /// `record`'s warm client and token source, built on first use.
    async fn warm(&self, record: &ConnectorRecord) -> Result<Warm, ApiError> {
        let stale = match self.lock().entries.get(&record.id) {
            Some((_, warm)) if warm.updated_at >= record.updated_at => return Ok(warm.clone()),
            Some(_) => true,
            None => false,
        };
        if stale {
            // Forgotten as after a change on this instance, so that no record read before it is
            // offered to the new token source.
            self.forget(&record.id);
        }
        let kind = self.kind_of(record)?;
        let client = self.client_for(record).await?;
        let warm = match &kind {
            ConnectorType::Asana => {
                let (provider, endpoint) = match client {
                    None => self.token_only()?,
                    client => {
                        let provider = Arc::new(self.asana_provider(client)?);
                        let endpoint = self.token_endpoint(provider.clone())?;
                        (provider, endpoint)
                    }
                };
                // Its own limiter: a warm connector is kept per connector id.
                let settings = provider
                    .client_settings(None)
                    .with_download_client(self.settings.downloads.clone())
                    .with_limiter(Arc::new(ConcurrencyLimiter::new()))
                    .with_retry(self.settings.retry.clone())
                    .with_timeout(self.settings.timeout);
                let source = self.source(endpoint, record);
                let tracked = Tracked {
                    inner: source.clone(),
                    last: Mutex::new(None),
                    store: self.store.clone(),
                    credentials: self.credentials.clone(),
                };
                let asana = AsanaClient::new(Arc::new(tracked), settings).map_err(|e| {
                    tracing::error!(error = %e, "cannot build the Asana client");
                    ApiError::misconfigured(
                        "cannot build the Asana client; check the service's Asana URLs",
                    )
                })?;
                Warm {
                    client: WarmClient::Asana(Arc::new(AsanaConnector::new(asana))),
                    source,
                    updated_at: record.updated_at,
                }
            }
            ConnectorType::Api(definition) => {
                let tracker = self.expiry_tracker(record);
                let manager = self.manager(definition, client.as_ref(), Some(tracker))?;
                let provider = manager.provider(&definition.id).map_err(upstream_setup)?;
                Warm {
                    client: WarmClient::Api(Arc::new(manager)),
                    source: self.source(self.token_endpoint(provider)?, record),
                    updated_at: record.updated_at,
                }
            }
        };
        let mut cache = self.lock();
        if let Some((_, built)) = cache.entries.get(&record.id)
            && built.updated_at >= record.updated_at
        {
            // Built by a concurrent first call while this one waited for its OAuth app: one warm
            // connector, so that its callers share one token source and its single flight.
            return Ok(built.clone());
        }
        if cache.entries.len() >= self.settings.cache_size.max(1) {
            let oldest = cache
                .entries
                .iter()
                .min_by_key(|(_, (n, _))| *n)
                .map(|(id, _)| id.clone());
            if let Some(oldest) = oldest {
                cache.entries.remove(&oldest);
            }
        }
        cache.next += 1;
        let n = cache.next;
        cache.entries.insert(record.id.clone(), (n, warm.clone()));
        Ok(warm)
    }

    /// `record`'s stored credentials refreshed through `endpoint`, each refresh counted.
    fn source(
        &self,
        endpoint: Arc<TokenEndpoint>,
        record: &ConnectorRecord,
    ) -> RefreshingTokenSource {
        let metrics = self.metrics.clone();
        RefreshingTokenSource::stored_with_callback(
            endpoint,
            &record.id,
            self.credentials.clone(),
            Arc::new(move |_, _, _| metrics.refreshed()),
        )
    }

    /// The token endpoint of `provider`, with the service's token request timeout, on the
    /// shared HTTP client for that timeout.
    fn token_endpoint(
        &self,
        provider: Arc<dyn AuthProvider>,
    ) -> Result<Arc<TokenEndpoint>, ApiError> {
        let oauth2 = provider
            .oauth2_settings()
            .cloned()
            .map(|settings| settings.with_request_timeout(TOKEN_REQUEST_TIMEOUT));
        let key = oauth2
            .as_ref()
            .map_or(Duration::ZERO, |settings| settings.request_timeout);
        let provider: Arc<dyn AuthProvider> = Arc::new(ServiceProvider {
            inner: provider,
            oauth2,
        });
        let shared = self
            .token_http
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .cloned();
        let http = match shared {
            Some(http) => http,
            None => {
                let http = TokenEndpoint::http_client(provider.as_ref()).map_err(upstream_setup)?;
                self.token_http
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(key, http.clone());
                http
            }
        };
        TokenEndpoint::with_http_client(provider, http)
            .map(Arc::new)
            .map_err(upstream_setup)
    }

    /// Drops the warm connector (after its credentials changed or it was deleted).
    pub(crate) fn forget(&self, connector_id: &str) {
        // Counted first: an execute that compared its count before this saw the connector
        // warm already (it compares after getting it), so the removal below drops what it
        // offered a record to.
        self.forgotten.fetch_add(1, Ordering::AcqRel);
        self.lock().entries.remove(connector_id);
    }

    /// How many times a warm connector was forgotten so far: taken before a store read, it tells
    /// whether a record read then may predate a change of credentials on this instance (each
    /// change forgets the connector after its write).
    pub(crate) fn forgotten(&self) -> u64 {
        self.forgotten.load(Ordering::Acquire)
    }

    /// Revokes an OAuth connector's grant at the provider (a token connector has none; nor has a
    /// provider without a revocation endpoint). A grant the provider no longer knows is no
    /// error; a transient failure is (502, retry). Where a revocation may end the account's whole
    /// grant to the app ([`TokenEndpoint::revokes_only_its_tokens`] is `false`) and the app is
    /// shared (the application's or the service's, which other connectors of the same account
    /// use, in this application or another), nothing is revoked: the grant is left at the
    /// provider, held by no connector once the credentials are deleted, rather than end those
    /// connectors' access. `stored` is the connector's credential record
    /// ([`Connectors::credentials_of_deleted`]).
    pub(crate) async fn revoke(
        &self,
        record: &ConnectorRecord,
        stored: Option<&StoredCredential>,
    ) -> Result<(), ApiError> {
        if record.auth_kind != AuthKind::OAuth {
            return Ok(());
        }
        let Some(stored) = stored else {
            return Ok(());
        };
        let Ok(credentials) = Credentials::from_payload(&stored.record.payload) else {
            return Ok(());
        };
        let Ok(kind) = self.kind_of(record) else {
            tracing::warn!(connector = %record.id, "the connector's provider is no longer configured: its grant cannot be revoked; deleting anyway");
            return Ok(());
        };
        let client = match self.find_client(record).await {
            Ok(Some(client)) => client,
            Ok(None) => {
                tracing::warn!(connector = %record.id, "the connector's OAuth app is gone: its grant cannot be revoked; deleting anyway");
                return Ok(());
            }
            // Sealed under a key this instance lacks, say: no retry reads it.
            Err(e) if !e.is_retryable() => {
                tracing::warn!(connector = %record.id, error = e.message(), "the connector's OAuth app cannot be read: its grant cannot be revoked; deleting anyway");
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let endpoint = self.endpoint(&kind, client)?;
        if !endpoint.revokes_only_its_tokens() && record.oauth_app != Some(OAuthAppSource::Own) {
            tracing::info!(connector = %record.id, "revoking could end other connectors' grant to a shared OAuth app: the grant is left at the provider; deleting");
            return Ok(());
        }
        match endpoint.revoke(&credentials).await {
            Ok(()) => Ok(()),
            Err(e) if e.class() == ErrorClass::Transient => {
                tracing::warn!(connector = %record.id, error = %e, "revocation failed");
                Err(ApiError::new(
                    axum::http::StatusCode::BAD_GATEWAY,
                    format!(
                        "{} did not answer the revocation of the connector's grant; nothing was deleted, retry later",
                        kind.display_name()
                    ),
                )
                .retryable())
            }
            Err(e) => {
                tracing::info!(connector = %record.id, error = %e, "revocation refused or not supported; deleting anyway");
                Ok(())
            }
        }
    }

    /// Deletes a connector's credentials.
    pub(crate) async fn delete_credentials(
        &self,
        record: &ConnectorRecord,
    ) -> Result<(), ApiError> {
        self.credentials
            .delete(&record.connector_type, &record.id)
            .await?;
        self.credentials
            .delete(OWN_CLIENT_PROVIDER, &record.id)
            .await?;
        // After the writes, as every change of credentials: see `forgotten`.
        self.forget(&record.id);
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The OAuth client that refreshes `record` (none for a token connector); 409 (reconnect)
    /// when that client is gone.
    async fn client_for(&self, record: &ConnectorRecord) -> Result<Option<OAuthClient>, ApiError> {
        self.find_client(record)
            .await?
            .ok_or_else(|| ApiError::needs_reauthorization(&record.id))
    }

    /// The OAuth client that refreshes `record`: `Some(None)` for a token connector, `None` when
    /// the connector's own client or the OAuth app it was connected with is gone.
    async fn find_client(
        &self,
        record: &ConnectorRecord,
    ) -> Result<Option<Option<OAuthClient>>, ApiError> {
        match (record.auth_kind, record.oauth_app) {
            (AuthKind::Token, _) => Ok(Some(None)),
            (AuthKind::OAuth, Some(OAuthAppSource::Own)) => {
                Ok(self.own_client(record).await?.map(Some))
            }
            (AuthKind::OAuth, source) => {
                let kind = self.kind_of(record)?;
                Ok(self
                    .shared_client(
                        &record.application_id,
                        &kind,
                        source.unwrap_or(OAuthAppSource::Service),
                    )
                    .await?
                    .map(Some))
            }
        }
    }

    /// The token endpoint of `kind` with this OAuth client.
    fn endpoint(
        &self,
        kind: &ConnectorType,
        client: Option<OAuthClient>,
    ) -> Result<Arc<TokenEndpoint>, ApiError> {
        match kind {
            ConnectorType::Asana => self.token_endpoint(Arc::new(self.asana_provider(client)?)),
            ConnectorType::Api(definition) => self.token_endpoint(
                self.manager(definition, client.as_ref(), None)?
                    .provider(&definition.id)
                    .map_err(upstream_setup)?,
            ),
        }
    }

    /// The Asana provider with this OAuth client (none: the API only, no token endpoint).
    /// The Asana provider and token endpoint of connectors without an OAuth client, shared.
    fn token_only(&self) -> Result<(Arc<AsanaAuthProvider>, Arc<TokenEndpoint>), ApiError> {
        if let Some(built) = self.token_only.get() {
            return Ok(built.clone());
        }
        let provider = Arc::new(self.asana_provider(None)?);
        let endpoint = self.token_endpoint(provider.clone())?;
        Ok(self.token_only.get_or_init(|| (provider, endpoint)).clone())
    }

    fn asana_provider(&self, client: Option<OAuthClient>) -> Result<AsanaAuthProvider, ApiError> {
        let mut app = self.settings.asana.clone();
        app.token = None;
        // Consent flows send the service's own callback, never the app's.
        app.redirect_uri = None;
        app.client_id = client.as_ref().map(|c| c.client_id.clone());
        app.client_secret = client.map(|c| c.client_secret);
        AsanaAuthProvider::with_http_client(app, self.settings.http.clone())
            .map_err(|e| upstream_setup(AuthError::from(e)))
    }

    /// A manager over the service's credential store with the declarative provider alone,
    /// configured from the service's provider configuration and, when given, this OAuth client
    /// instead of the service's. Each refresh it makes is counted and, with a `tracker`, the
    /// refreshed token's expiry recorded.
    fn manager(
        &self,
        definition: &Definition,
        client: Option<&OAuthClient>,
        tracker: Option<ExpiryTracker>,
    ) -> Result<AuthManager, ApiError> {
        let config = &self.settings.providers;
        let metrics = self.metrics.clone();
        let mut builder = AuthManager::builder()
            .shared_store(self.credentials.clone())
            .env(config.env.clone())
            .auto_configure(false)
            .enable(definition.id.clone())
            .on_refresh(move |_, _, fresh| {
                metrics.refreshed();
                if let Some(tracker) = &tracker {
                    let token = &fresh.token;
                    tracker
                        .record_later(token.expires_at.filter(|_| token.refresh_token.is_some()));
                }
            });
        if let Some(file) = &config.config_file {
            builder = builder.config_file(file.clone());
        }
        if let Some(client) = client {
            builder = builder.configure(
                &definition.id,
                [
                    ("client_id", CodeValue::from(client.client_id.as_str())),
                    ("client_secret", CodeValue::from(&client.client_secret)),
                ],
            );
        }
        builder.build().map_err(upstream_setup)
    }

    /// The connector's own OAuth client, `None` when it is not stored (whole).
    async fn own_client(&self, record: &ConnectorRecord) -> Result<Option<OAuthClient>, ApiError> {
        let Some(stored) = self
            .credentials
            .get(OWN_CLIENT_PROVIDER, &record.id)
            .await?
        else {
            return Ok(None);
        };
        let fields: Map<String, Value> =
            serde_json::from_slice(stored.record.payload.expose_bytes()).unwrap_or_default();
        Ok(
            match (fields.get("client_id"), fields.get("client_secret")) {
                (Some(Value::String(id)), Some(Value::String(secret))) => Some(OAuthClient {
                    client_id: id.clone(),
                    client_secret: SecretString::from(secret.clone()),
                }),
                _ => None,
            },
        )
    }

    /// The application's OAuth app for `kind`, or the service's (`source`); `None` when it is
    /// not configured.
    async fn shared_client(
        &self,
        application_id: &str,
        kind: &ConnectorType,
        source: OAuthAppSource,
    ) -> Result<Option<OAuthClient>, ApiError> {
        if source != OAuthAppSource::Application {
            return self.service_client(kind);
        }
        let Some(app) = self.store.oauth_app(application_id, kind.id()).await? else {
            return Ok(None);
        };
        let secret = self.sealer.open(
            Purpose::OAuthApp,
            &oauth_app_key(&app.application_id, &app.connector_type),
            &app.client_secret,
        )?;
        Ok(Some(OAuthClient {
            client_id: app.client_id,
            client_secret: secret,
        }))
    }
}

/// Records one connector's token expiry for the background refresher.
#[derive(Debug, Clone)]
struct ExpiryTracker {
    store: Arc<dyn ServiceStore>,
    credentials: Arc<dyn CredentialStore>,
    /// The connector's provider id, under which its credentials are kept.
    provider: String,
    connector_id: String,
}

impl ExpiryTracker {
    /// Records when the stored token expires: only for an active grant with a refresh token and
    /// a known expiry (none otherwise: an unknown expiry is refreshed on a 401 only).
    async fn track(&self) -> Result<(), ApiError> {
        let expires_at = self
            .credentials
            .get(&self.provider, &self.connector_id)
            .await?
            .filter(|stored| stored.record.status == CredentialStatus::Active)
            .and_then(|stored| Credentials::from_payload(&stored.record.payload).ok())
            .filter(|credentials| credentials.token.refresh_token.is_some())
            .and_then(|credentials| credentials.token.expires_at);
        self.record(expires_at).await
    }

    /// Records `expires_at` as the expiry of the connector's token (`None`: nothing to refresh
    /// ahead of use), as its token source knows it.
    async fn record(&self, expires_at: Option<SystemTime>) -> Result<(), ApiError> {
        self.store
            .set_token_expiry(&self.connector_id, expires_at)
            .await?;
        Ok(())
    }

    /// [`ExpiryTracker::record`] in the background; a failure is logged (the token is then
    /// refreshed when it is used).
    fn record_later(&self, expires_at: Option<SystemTime>) {
        let tracker = self.clone();
        tokio::spawn(async move {
            if let Err(e) = tracker.record(expires_at).await {
                tracing::debug!(connector = %tracker.connector_id, error = e.message(),
                    "could not record the token's expiry (the store's failure is logged above)");
            }
        });
    }
}

/// A warm Asana connector's token source: the core's, which records the token's expiry (as the
/// core's source holds it: no store read) whenever it hands out a token it had not handed out
/// before (loaded, refreshed by an execute, or adopted from another instance's refresh), so that
/// the background refresher learns of expiries that became known on a 401. The cached path,
/// taken by nearly every call, is the core's as it is.
///
/// It keeps no ids of its own: the core's source knows its provider and subject (the
/// connector's id), and a warm connector is kept for every connector used.
#[derive(Debug)]
struct Tracked {
    inner: RefreshingTokenSource,
    last: Mutex<Option<SecretString>>,
    store: Arc<dyn ServiceStore>,
    credentials: Arc<dyn CredentialStore>,
}

#[async_trait::async_trait]
impl TokenSource for Tracked {
    async fn token(&self) -> Result<SecretString, AuthError> {
        let token = self.inner.token().await?;
        let changed = {
            let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
            let changed = !last.as_ref().is_some_and(|l| l.same_secret(&token));
            if changed {
                *last = Some(token.clone());
            }
            changed
        };
        if changed {
            ExpiryTracker {
                store: self.store.clone(),
                credentials: self.credentials.clone(),
                provider: self.inner.provider().to_string(),
                connector_id: self.inner.subject().to_string(),
            }
            .record_later(self.inner.refreshable_expiry());
        }
        Ok(token)
    }

    fn cached_token(&self) -> Option<SecretString> {
        self.inner.cached_token()
    }

    fn invalidate(&self, rejected: &SecretString) -> bool {
        self.inner.invalidate(rejected)
    }

    fn provider(&self) -> &str {
        self.inner.provider()
    }

    fn subject(&self) -> &str {
        self.inner.subject()
    }

    fn source(&self) -> CredentialSource {
        self.inner.source()
    }
}

/// An application's own OAuth app for `kind`, its secret sealed.
pub(crate) fn oauth_app_record(
    sealer: &Sealer,
    application_id: &str,
    kind: &ConnectorType,
    client: &OAuthClient,
) -> Result<OAuthAppRecord, ServiceStoreError> {
    let client_secret = sealer.seal(
        Purpose::OAuthApp,
        &oauth_app_key(application_id, kind.id()),
        &client.client_secret,
    )?;
    Ok(OAuthAppRecord {
        application_id: application_id.to_string(),
        connector_type: kind.id().to_string(),
        client_id: client.client_id.clone(),
        client_secret,
        updated_at: SystemTime::now(),
    })
}

/// Whether `e` is about the one record read, stored but impossible to open (sealed under a key
/// that is not configured, altered, or in clear where a key is configured), rather than about
/// the store: such a record can be replaced or deleted, though not used.
fn unreadable(e: &StoreError) -> bool {
    matches!(
        e,
        StoreError::Decrypt { .. }
            | StoreError::UnknownKey { .. }
            | StoreError::MissingKey { .. }
            | StoreError::Unencrypted { .. }
    )
}

fn upstream_setup(e: AuthError) -> ApiError {
    tracing::error!(error = %e, "cannot set up a provider");
    ApiError::misconfigured(
        "cannot set up the connector's provider; check the service's provider configuration",
    )
}

#[cfg(test)]
mod tests {
    use integrations::{EncryptedStore, EncryptionKey, KeyRing, MemoryCredentialStore};

    use super::*;
    use crate::store::{ApplicationRecord, SqliteServiceStore};

    fn record(id: &str) -> ConnectorRecord {
        ConnectorRecord {
            id: id.into(),
            application_id: "app".into(),
            customer_name: "c".into(),
            connector_type: PROVIDER_ID.into(),
            definition_id: ASANA_DEFINITION_ID.into(),
            name: "n".into(),
            auth_kind: AuthKind::Token,
            oauth_app: None,
            read_only: false,
            created_at: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            updated_at: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        }
    }

    /// Connectors over `store` and no credentials yet, for a fake Asana that never answers.
    fn connectors_over(
        store: Arc<dyn ServiceStore>,
        asana: AsanaAppCredentials,
        cache_size: usize,
    ) -> Connectors {
        connectors_with_keys(store, asana, cache_size, None)
    }

    /// As [`connectors_over`], the credentials encrypted with `keys`.
    fn connectors_with_keys(
        store: Arc<dyn ServiceStore>,
        mut asana: AsanaAppCredentials,
        cache_size: usize,
        keys: Option<KeyRing>,
    ) -> Connectors {
        asana.api_base_url = "http://127.0.0.1:9/api/1.0".parse().unwrap();
        let credentials = EncryptedStore::with_keys(MemoryCredentialStore::new(), keys);
        Connectors::new(
            store,
            Arc::new(credentials.clone()),
            credentials.opener(),
            Sealer::new(None),
            UpstreamSettings {
                asana,
                providers: ProviderConfigSource::default(),
                types: ConnectorTypes::default(),
                retry: RetryConfig::default(),
                timeout: Duration::from_secs(1),
                cache_size,
                http: AsanaAuthProvider::http_client().unwrap(),
                downloads: DownloadClient::new(),
            },
            Arc::default(),
        )
    }

    #[tokio::test]
    async fn the_warm_cache_keeps_at_most_its_size_and_drops_the_oldest() {
        let connectors = connectors_over(
            Arc::new(SqliteServiceStore::open_in_memory().await.unwrap()),
            AsanaAppCredentials::default(),
            2,
        );
        let first = connectors.connector(&record("a"), None).await.unwrap();
        assert!(Arc::ptr_eq(
            &first,
            &connectors.connector(&record("a"), None).await.unwrap()
        ));
        connectors.connector(&record("b"), None).await.unwrap();
        connectors.connector(&record("c"), None).await.unwrap();
        let cached: Vec<String> = {
            let mut ids: Vec<String> = connectors.lock().entries.keys().cloned().collect();
            ids.sort();
            ids
        };
        assert_eq!(cached, ["b", "c"]);
        connectors.forget("b");
        assert_eq!(connectors.lock().entries.len(), 1);
    }

    /// A row changed since the warm connector was built (here or on another instance) builds it
    /// again, and forgets (no record read before is offered to it); an older row read by a slower
    /// request keeps the newer one.
    #[tokio::test]
    async fn a_newer_row_builds_the_warm_connector_again_and_an_older_one_does_not() {
        let connectors = connectors_over(
            Arc::new(SqliteServiceStore::open_in_memory().await.unwrap()),
            AsanaAppCredentials::default(),
            10,
        );
        let first = connectors.connector(&record("a"), None).await.unwrap();
        let forgotten = connectors.forgotten();
        let mut changed = record("a");
        changed.updated_at += Duration::from_millis(1);
        let rebuilt = connectors.connector(&changed, None).await.unwrap();
        assert!(!Arc::ptr_eq(&first, &rebuilt));
        assert_eq!(connectors.forgotten(), forgotten + 1);
        for read in [record("a"), changed] {
            let warm = connectors.connector(&read, None).await.unwrap();
            assert!(Arc::ptr_eq(&rebuilt, &warm));
        }
        assert_eq!(connectors.forgotten(), forgotten + 1);
    }

    #[tokio::test]
    async fn a_connector_s_token_source_starts_from_the_record_read_with_the_connector() {
        let keys = KeyRing::new(EncryptionKey::generate());
        let connectors = connectors_with_keys(
            Arc::new(SqliteServiceStore::open_in_memory().await.unwrap()),
            AsanaAppCredentials::default(),
            10,
            Some(keys.clone()),
        );
        // Sealed as the credential store's table holds it (which holds nothing here: the token
        // can only come from the record offered).
        let sealed = |keys: KeyRing, subject: &'static str| async move {
            let beneath = MemoryCredentialStore::new();
            let token = OAuth2Token::bearer(format!("joined-{subject}"));
            EncryptedStore::new(beneath.clone(), keys)
                .put(
                    CredentialRecord::new(
                        PROVIDER_ID,
                        subject,
                        Credentials::new(token).to_payload(),
                    ),
                    PutMode::Create,
                )
                .await
                .unwrap();
            beneath.get(PROVIDER_ID, subject).await.unwrap()
        };
        let cached = |id: &'static str| {
            let connectors = &connectors;
            async move {
                connectors
                    .warm(&record(id))
                    .await
                    .unwrap()
                    .source
                    .cached_token()
            }
        };
        let read = |stored: Option<StoredCredential>, forgotten: u64| {
            stored.map(|stored| ReadRecord { stored, forgotten })
        };
        let before = connectors.forgotten();
        let joined = sealed(keys.clone(), "a").await;
        connectors
            .connector(&record("a"), read(joined, before))
            .await
            .unwrap();
        assert_eq!(cached("a").await.unwrap().expose_secret(), "joined-a");
        // A record that does not open is left for the token source to read (and refuse) itself.
        let joined = sealed(KeyRing::new(EncryptionKey::generate()), "b").await;
        connectors
            .connector(&record("b"), read(joined, before))
            .await
            .unwrap();
        assert!(cached("b").await.is_none());
        // Nor is one read before a warm connector was forgotten (its credentials changed, on
        // this instance, perhaps after the read).
        let joined = sealed(keys.clone(), "c").await;
        connectors.forget("a");
        connectors
            .connector(&record("c"), read(joined.clone(), before))
            .await
            .unwrap();
        assert!(cached("c").await.is_none());
        connectors
            .connector(&record("c"), read(joined, connectors.forgotten()))
            .await
            .unwrap();
        assert_eq!(cached("c").await.unwrap().expose_secret(), "joined-c");
    }

    /// Connectors over a store holding the application `app`, which has an Asana OAuth app of
    /// its own (the client returned).
    async fn with_application_app(
        asana: AsanaAppCredentials,
    ) -> (Arc<SqliteServiceStore>, Connectors, OAuthClient) {
        let store = Arc::new(SqliteServiceStore::open_in_memory().await.unwrap());
        store
            .create_application(ApplicationRecord {
                id: "app".into(),
                name: "acme".into(),
                organization_id: "org".into(),
                client_id: "client".into(),
                client_secret_hash: "hash".into(),
                redirect_origins: Vec::new(),
                created_at: SystemTime::now(),
            })
            .await
            .unwrap();
        let connectors = connectors_over(store.clone(), asana, 10);
        let client = OAuthClient {
            client_id: "own-app".into(),
            client_secret: "own-secret".into(),
        };
        connectors
            .set_application_app("app", &ConnectorType::Asana, &client)
            .await
            .unwrap();
        (store, connectors, client)
    }

    #[tokio::test]
    async fn concurrent_first_calls_share_one_warm_connector() {
        let (store, connectors, _) = with_application_app(AsanaAppCredentials::default()).await;
        let mut own = record("own-app");
        own.auth_kind = AuthKind::OAuth;
        own.oauth_app = Some(OAuthAppSource::Application);
        store.insert_connector(own.clone()).await.unwrap();
        // Both wait for the application's OAuth app, each having found no warm connector.
        let (first, second) = tokio::join!(
            connectors.connector(&own, None),
            connectors.connector(&own, None)
        );
        assert!(Arc::ptr_eq(&first.unwrap(), &second.unwrap()));
    }

    #[tokio::test]
    async fn changing_the_application_s_app_forgets_the_warm_connectors_that_used_it() {
        let mut asana = AsanaAppCredentials::default();
        asana.client_id = Some("service-client".into());
        asana.client_secret = Some("service-secret".into());
        let (store, connectors, client) = with_application_app(asana).await;
        let mut records = Vec::new();
        for (id, kind, source) in [
            ("pat", AuthKind::Token, None),
            ("service", AuthKind::OAuth, Some(OAuthAppSource::Service)),
            (
                "own-app",
                AuthKind::OAuth,
                Some(OAuthAppSource::Application),
            ),
        ] {
            let mut record = record(id);
            record.auth_kind = kind;
            record.oauth_app = source;
            store.insert_connector(record.clone()).await.unwrap();
            records.push(record);
        }
        let cached = |connectors: &Connectors| {
            let mut ids: Vec<String> = connectors.lock().entries.keys().cloned().collect();
            ids.sort();
            ids
        };
        let warm_all = || async {
            for record in &records {
                connectors.connector(record, None).await.unwrap();
            }
        };
        warm_all().await;
        assert_eq!(cached(&connectors), ["own-app", "pat", "service"]);
        connectors
            .set_application_app("app", &ConnectorType::Asana, &client)
            .await
            .unwrap();
        assert_eq!(cached(&connectors), ["pat", "service"]);
        warm_all().await;
        assert!(
            connectors
                .delete_application_app("app", &ConnectorType::Asana)
                .await
                .unwrap()
        );
        assert_eq!(cached(&connectors), ["pat", "service"]);
    }

    #[tokio::test]
    async fn a_refresh_lease_left_by_a_dead_instance_lapses_within_45_seconds() {
        let mut asana = AsanaAppCredentials::default();
        asana.client_id = Some("service-client".into());
        asana.client_secret = Some("service-secret".into());
        let connectors = connectors_over(
            Arc::new(SqliteServiceStore::open_in_memory().await.unwrap()),
            asana,
            10,
        );
        let mut oauth = record("oauth");
        oauth.auth_kind = AuthKind::OAuth;
        oauth.oauth_app = Some(OAuthAppSource::Service);
        assert_eq!(
            connectors.refresh_lease(&oauth).await,
            Duration::from_secs(40),
            "the token request's 15 s, the core's write budget of 10 s and its margin of 15 s"
        );
    }

    #[test]
    fn credentials_are_read_without_echoing_values() {
        let parsed = CredentialsInput::parse(&json!({ "token": "pat", "other": 1 })).unwrap();
        assert_eq!(parsed.auth_kind(), AuthKind::Token);
        let parsed = CredentialsInput::parse(&json!({ "refresh_token": "r" })).unwrap();
        assert_eq!(parsed.auth_kind(), AuthKind::OAuth);
        let stored = parsed.credentials();
        assert_eq!(
            stored.token.expires_at,
            Some(UNIX_EPOCH),
            "refreshed at first use"
        );
        for bad in [json!("canary"), json!({ "token": ["canary"] }), json!({})] {
            let e = CredentialsInput::parse(&bad).unwrap_err();
            assert!(!e.message().contains("canary"));
        }
    }
}
