//! [`Server`]: the service, built with [`ServerBuilder`] over a private configuration, and served
//! on a listener until a shutdown future completes (in-flight requests finish first).

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use integrations::asana::{AsanaAppCredentials, AsanaAuthProvider, DownloadClient, RetryConfig};
use integrations::auth_core::config::is_secure_endpoint;
use integrations::auth_core::redact::{shown_url, without_passwords};
use integrations::{CredentialStore, EnvSource, KeyRing, RecordOpener, SqliteCredentialStore};
use tokio::net::TcpListener;
use tokio_util::task::TaskTracker;
use url::Url;

use crate::admin::{Admin, Rotate};
use crate::edge::EdgeLayer;
use crate::error::{ApiError, ServerError};
use crate::keycheck::KeyCheck;
use crate::limits::{
    DEFAULT_MAX_IN_FLIGHT, DEFAULT_RATE_LIMIT_BURST, DEFAULT_RATE_LIMIT_PER_SECOND,
    DEFAULT_REQUEST_TIMEOUT, InFlight, RateLimiter,
};
use crate::listen::{self, DEFAULT_HEADER_READ_TIMEOUT};
use crate::metrics::Metrics;
use crate::openapi;
use crate::providers::{Connectors, ProviderConfigSource, UpstreamSettings};
use crate::refresher::{self, RefresherSettings};
use crate::retention;
use crate::routes::{self, AppState, McpAccess};
use crate::secrets::Sealer;
use crate::store::{ServiceStore, SqliteServiceStore};

/// How long service tokens live unless configured: an hour.
pub const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(3600);
/// The shortest service token lifetime accepted: Airbyte's SDK reuses a token for 14 minutes
/// without reading `expires_in`.
pub const MIN_TOKEN_TTL: Duration = Duration::from_secs(900);
/// The most service tokens (application and scoped, live) one application holds unless
/// configured: 10,000. Scoped tokens are issued while it holds fewer than 9,000 (a tenth stays
/// for application tokens): a token per end user for about 9,000 end users at once. Airbyte's
/// SDK keeps one application token for 14 minutes, so a backend alone holds a handful.
pub const DEFAULT_MAX_SERVICE_TOKENS: u32 = 10_000;
/// The largest request body accepted unless configured: 1 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
/// How long one attempt of a call to Asana may take unless configured.
pub const DEFAULT_UPSTREAM_TIMEOUT: Duration = Duration::from_secs(30);
/// How many connectors are kept warm unless configured.
pub const DEFAULT_CONNECTOR_CACHE: usize = 1000;
/// How long before they expire OAuth tokens are refreshed in the background unless configured.
pub const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(300);
/// How often the background refresher looks for expiring tokens unless configured.
pub const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_secs(30);
/// How long audit entries are kept unless configured: a year.
pub const DEFAULT_AUDIT_RETENTION: Duration = Duration::from_secs(365 * 86_400);

/// Where the encryption keys come from.
#[derive(Debug, Clone)]
enum Keys {
    /// `INTEGRATIONS_ENCRYPTION_KEY` (and old keys); refuse to start without one.
    Env,
    /// These keys.
    Ring(KeyRing),
    /// None: plaintext at rest.
    Insecure,
}

/// Where the service keeps its data: what `integrations serve --store` names.
///
/// Parsed from a string ([`FromStr`]): a `postgres://` or `postgresql://` URL (libpq's form,
/// `?sslmode=require` for TLS) is a PostgreSQL database, shared by every instance given the same
/// URL; anything else is a directory for SQLite files, on one machine.
///
/// ```
/// use integrations_server::StoreLocation;
///
/// let local: StoreLocation = "/var/lib/integrations".parse().unwrap();
/// assert_eq!(local, StoreLocation::Directory("/var/lib/integrations".into()));
/// let shared: StoreLocation = "postgres://app:secret@db.internal/app".parse().unwrap();
/// assert!(matches!(shared, StoreLocation::Postgres(_)));
/// assert_eq!(shared.to_string(), "postgres://app:***@db.internal/app", "no password shown");
/// let query: StoreLocation = "postgres://app@db.internal/app?Password=secret&sslmode=require"
///     .parse()
///     .unwrap();
/// assert_eq!(
///     format!("{query} {query:?}"),
///     "postgres://app@db.internal/app?Password=***&sslmode=require \
///      Postgres(postgres://app@db.internal/app?Password=***&sslmode=require)",
/// );
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreLocation {
    /// A directory holding `credentials.db` (the core's encrypted credential store) and
    /// `service.db` (applications, tokens, connectors, audit); created, owner-only, if missing.
    Directory(PathBuf),
    /// A PostgreSQL database (a `postgres://` URL) holding the credentials and the service's
    /// tables (feature `postgres`, on by default).
    Postgres(String),
}

impl FromStr for StoreLocation {
    type Err = ServerError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.is_empty() {
            return Err(ServerError::InvalidConfig {
                field: "store",
                reason: "name a directory or a postgres:// URL".into(),
            });
        }
        let lower = s.to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            return Ok(StoreLocation::Postgres(s.to_string()));
        }
        Ok(StoreLocation::Directory(PathBuf::from(s)))
    }
}

/// The location without a password.
impl fmt::Display for StoreLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreLocation::Directory(dir) => write!(f, "{}", dir.display()),
            // The passwords hidden as a PostgreSQL client reads them (a URL parser sees none in
            // `postgres://app:/secret@db`, where the client sends `/secret`; libpq takes one as
            // a query parameter too, and a client key's as `sslpassword`), then the URL
            // normalized.
            StoreLocation::Postgres(url) => match Url::parse(&without_passwords(url)) {
                Ok(parsed) => f.write_str(parsed.as_str()),
                Err(_) => f.write_str("postgres://[unparsable URL]"),
            },
        }
    }
}

impl fmt::Debug for StoreLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreLocation::Directory(_) => write!(f, "Directory({self})"),
            StoreLocation::Postgres(_) => write!(f, "Postgres({self})"),
        }
    }
}

/// The public URL as the builder keeps it until [`ServerBuilder::build`] checks it: its `Debug`
/// shows it as [`shown_url`] does, since it may still carry a password or a key.
#[derive(Clone)]
struct PublicUrl(Url);

impl fmt::Debug for PublicUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&shown_url(&self.0))
    }
}

/// Configures a [`Server`].
#[derive(Debug, Clone)]
pub struct ServerBuilder {
    store: Option<StoreLocation>,
    /// With a PostgreSQL store: its pool's size; `None`, the store's default.
    pool_size: Option<usize>,
    keys: Keys,
    public_url: Option<PublicUrl>,
    service_app_consent: bool,
    asana: AsanaAppCredentials,
    providers: ProviderConfigSource,
    retry: RetryConfig,
    upstream_timeout: Duration,
    token_ttl: Duration,
    max_service_tokens: u32,
    max_body_bytes: usize,
    connector_cache: usize,
    mcp: McpAccess,
    request_timeout: Duration,
    header_read_timeout: Duration,
    rate_limit: (u32, u32),
    max_in_flight: u32,
    /// `None`: no background refresher.
    refresher: Option<RefresherSettings>,
    /// `None`: audit entries are kept for ever.
    audit_retention: Option<Duration>,
}

impl Default for ServerBuilder {
    fn default() -> Self {
        Self {
            store: None,
            pool_size: None,
            keys: Keys::Env,
            public_url: None,
            service_app_consent: true,
            asana: AsanaAppCredentials::default(),
            providers: ProviderConfigSource::default(),
            // A 429 goes back to the caller at once, with Asana's Retry-After, rather than
            // holding the request while the client waits.
            retry: RetryConfig::default().with_max_rate_limit_wait(Duration::ZERO),
            upstream_timeout: DEFAULT_UPSTREAM_TIMEOUT,
            token_ttl: DEFAULT_TOKEN_TTL,
            max_service_tokens: DEFAULT_MAX_SERVICE_TOKENS,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            connector_cache: DEFAULT_CONNECTOR_CACHE,
            mcp: McpAccess::default(),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            rate_limit: (DEFAULT_RATE_LIMIT_PER_SECOND, DEFAULT_RATE_LIMIT_BURST),
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            refresher: Some(RefresherSettings {
                margin: DEFAULT_REFRESH_MARGIN,
                interval: DEFAULT_REFRESH_INTERVAL,
            }),
            audit_retention: Some(DEFAULT_AUDIT_RETENTION),
        }
    }
}

impl ServerBuilder {
    /// The directory holding the service's data: `credentials.db` (the core's encrypted
    /// credential store) and `service.db` (applications, tokens, connectors, audit). Created,
    /// owner-only, if missing.
    pub fn store_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.store = Some(StoreLocation::Directory(dir.into()));
        self
    }

    /// Where the service keeps its data: a directory (SQLite, as [`ServerBuilder::store_dir`])
    /// or a PostgreSQL database, which every instance given the same URL shares (consent flows
    /// started on one instance complete on another; each token is refreshed once between them).
    pub fn store(mut self, location: StoreLocation) -> Self {
        self.store = Some(location);
        self
    }

    /// With a PostgreSQL store: how many pooled connections this instance opens at most
    /// (default 16, at least 1; more than 10,000 is taken as 10,000), for the credentials and the
    /// service's tables together. Each instance also keeps one connection that listens for other
    /// instances' writes, so `n` instances need `n × (size + 1)` of the server's
    /// `max_connections` (100 by default, a few of them reserved), plus room for `integrations
    /// apps` runs (one pool and listener each, while they run) and for connections being
    /// replaced. A directory's SQLite files take no pool: the size is not used.
    pub fn postgres_pool_size(mut self, size: usize) -> Self {
        self.pool_size = Some(size);
        self
    }

    /// Encrypts credentials (and the service's sealed secrets) with these keys instead of
    /// `INTEGRATIONS_ENCRYPTION_KEY`.
    pub fn encryption_keys(mut self, keys: KeyRing) -> Self {
        self.keys = Keys::Ring(keys);
        self
    }

    /// Stores credentials in plaintext when no key is configured. Without this, the service
    /// refuses to start without a key.
    pub fn insecure_no_encryption(mut self) -> Self {
        if matches!(self.keys, Keys::Env) {
            self.keys = Keys::Insecure;
        }
        self
    }

    /// The URL clients and providers reach the service at (for consent-flow redirects): https,
    /// or plain http only on a loopback host, without user information, a query or a fragment,
    /// or [`ServerBuilder::build`] fails.
    pub fn public_url(mut self, url: Url) -> Self {
        self.public_url = Some(PublicUrl(url));
        self
    }

    /// Whether an application without an OAuth app of its own for a provider may start consent
    /// flows through the service's (default `true`). With `false`, such a flow is refused (422,
    /// naming `PUT /api/v1/oauth/credentials`): where applications do not trust each other, a
    /// consent link one of them made through the shared app could otherwise be sent to another's
    /// user, and a provider that does not ask again for an app the user already approved
    /// (GitHub) connects that user's account in one click. The service's apps still refresh the
    /// connectors that use them.
    pub fn service_app_consent(mut self, allowed: bool) -> Self {
        self.service_app_consent = allowed;
        self
    }

    /// The service's Asana app (client id and secret refresh OAuth connectors that bring no
    /// app of their own) and Asana's URLs (point them at a fake Asana in tests; https, or plain http
    /// only on a loopback host, or [`ServerBuilder::build`] fails).
    pub fn asana_app(mut self, app: AsanaAppCredentials) -> Self {
        self.asana = app;
        self
    }

    /// Where the declarative providers' configuration comes from instead of the process
    /// environment: `{ID}_CLIENT_ID`, `{ID}_CLIENT_SECRET` (the service's OAuth app for that
    /// provider), `{ID}_API_BASE_URL`, `{ID}_TOKEN_URL`, ..., and `INTEGRATIONS_PROVIDERS` (more
    /// definition files), as in the library.
    pub fn provider_env(mut self, env: EnvSource) -> Self {
        self.providers.env = env;
        self
    }

    /// The configuration file of the declarative providers (its `[id]` sections and its
    /// `providers` list of definition files), instead of `INTEGRATIONS_CONFIG`.
    pub fn provider_config_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.providers.config_file = Some(path.into());
        self
    }

    /// Retries of calls to Asana (default: the client's, except that a 429 is answered at once
    /// with Asana's `Retry-After`).
    pub fn upstream_retry(mut self, retry: RetryConfig) -> Self {
        self.retry = retry;
        self
    }

    /// How long one attempt of a call to Asana may take (default [`DEFAULT_UPSTREAM_TIMEOUT`]);
    /// a call that runs out of time is answered 504.
    pub fn upstream_timeout(mut self, timeout: Duration) -> Self {
        self.upstream_timeout = timeout;
        self
    }

    /// How long service tokens live (at least [`MIN_TOKEN_TTL`]; default [`DEFAULT_TOKEN_TTL`]).
    pub fn token_ttl(mut self, ttl: Duration) -> Self {
        self.token_ttl = ttl;
        self
    }

    /// The most service tokens one application may hold at once, application and scoped tokens
    /// together (default [`DEFAULT_MAX_SERVICE_TOKENS`]; at least 2). Scoped tokens are issued
    /// only while it holds fewer than all but a tenth of them (the tenth rounded down, at least
    /// one), so that it can always get the application token that revokes them. One more is
    /// refused 429 with `Retry-After` until the first of them expires;
    /// revoking tokens (`POST /api/v1/account/applications/token/revoke`) makes room at once. So
    /// one application cannot fill the store with tokens at its rate limit. Counted in the
    /// store, across instances.
    pub fn max_service_tokens(mut self, max: u32) -> Self {
        self.max_service_tokens = max;
        self
    }

    /// The largest request body accepted (default [`DEFAULT_MAX_BODY_BYTES`]); larger ones are 413.
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// How many connectors' clients are kept warm (default [`DEFAULT_CONNECTOR_CACHE`]).
    pub fn connector_cache(mut self, connectors: usize) -> Self {
        self.connector_cache = connectors;
        self
    }

    /// The `Host` values (`host` or `host:port`) `/mcp` accepts, replacing the default: the
    /// public URL's host, plus loopback when the service listens on loopback or on all addresses
    /// (`0.0.0.0`, `[::]`). Others are 403.
    pub fn mcp_allowed_hosts<S: Into<String>>(
        mut self,
        hosts: impl IntoIterator<Item = S>,
    ) -> Self {
        self.mcp.hosts = Some(hosts.into_iter().map(Into::into).collect());
        self
    }

    /// The browser origins (`https://app.example.com:443`, `http://localhost:*`) `/mcp` accepts,
    /// replacing the default: the public URL's origin, plus loopback origins when the service
    /// listens on loopback or on all addresses. A request with another `Origin` is 403; one
    /// without passes.
    pub fn mcp_allowed_origins<S: Into<String>>(
        mut self,
        origins: impl IntoIterator<Item = S>,
    ) -> Self {
        self.mcp.origins = Some(origins.into_iter().map(Into::into).collect());
        self
    }

    /// How long the service may take to answer one request, whatever it waits for (default
    /// [`DEFAULT_REQUEST_TIMEOUT`]); past it the answer is 504.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// How long a connection to [`Server::serve`] may take to send a request's head, counted
    /// from when it opens or its previous answer was sent (default
    /// [`DEFAULT_HEADER_READ_TIMEOUT`]); past it the connection is closed. So a client that sends
    /// its headers a byte at a time, or keeps a connection open and idle, holds it no longer.
    /// An application that serves [`Server::router`] itself sets its own.
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// How many requests each application may send to this instance: `per_second` on average,
    /// `burst` at once (defaults [`DEFAULT_RATE_LIMIT_PER_SECOND`] and
    /// [`DEFAULT_RATE_LIMIT_BURST`]). Requests over it are answered 429 with `Retry-After`.
    pub fn rate_limit(mut self, per_second: u32, burst: u32) -> Self {
        self.rate_limit = (per_second, burst);
        self
    }

    /// How many calls to providers (executes, MCP tool calls) each application may have in
    /// flight at this instance (default [`DEFAULT_MAX_IN_FLIGHT`]); one more is answered 429 with
    /// `Retry-After: 1`. Each holds the provider's answer in memory, so this bounds what one
    /// application can take of it.
    pub fn max_in_flight(mut self, max: u32) -> Self {
        self.max_in_flight = max;
        self
    }

    /// How long audit entries are kept (default [`DEFAULT_AUDIT_RETENTION`]); `None` keeps them
    /// for ever. While the service serves, entries past it are deleted in the background, the
    /// oldest first, within a tenth of the retention (at most an hour) after they pass it;
    /// instances sharing a store share the work.
    pub fn audit_retention(mut self, retention: Option<Duration>) -> Self {
        self.audit_retention = retention;
        self
    }

    /// Refreshes OAuth tokens in the background, while the service serves, when they expire
    /// within `margin` (default [`DEFAULT_REFRESH_MARGIN`]), looking every `interval` (default
    /// [`DEFAULT_REFRESH_INTERVAL`]), so that executes find a fresh token. Instances sharing a
    /// PostgreSQL store split the work and refresh each token once between them. Tokens without
    /// a known expiry are refreshed only when their provider rejects them. On by default.
    pub fn refresh_ahead(mut self, margin: Duration, interval: Duration) -> Self {
        self.refresher = Some(RefresherSettings { margin, interval });
        self
    }

    /// No background refresher: tokens are refreshed when an execute finds them (nearly) expired.
    pub fn no_refresh_ahead(mut self) -> Self {
        self.refresher = None;
        self
    }

    /// Opens the stores and builds the service. Fails without an encryption key unless
    /// [`ServerBuilder::insecure_no_encryption`] was set.
    pub async fn build(self) -> Result<Server, ServerError> {
        if self.token_ttl < MIN_TOKEN_TTL {
            return Err(ServerError::InvalidConfig {
                field: "token_ttl",
                reason: format!(
                    "must be at least {} seconds: Airbyte's SDK reuses a token for 14 minutes",
                    MIN_TOKEN_TTL.as_secs()
                ),
            });
        }
        if self.request_timeout.is_zero() {
            return Err(ServerError::InvalidConfig {
                field: "request_timeout",
                reason: "must be longer than zero".into(),
            });
        }
        if self.max_service_tokens < 2 {
            return Err(ServerError::InvalidConfig {
                field: "max_service_tokens",
                reason: "must be at least 2: room for an application token and a scoped token"
                    .into(),
            });
        }
        if self.max_in_flight == 0 {
            return Err(ServerError::InvalidConfig {
                field: "max_in_flight",
                reason: "must be at least 1".into(),
            });
        }
        if self.header_read_timeout.is_zero() {
            return Err(ServerError::InvalidConfig {
                field: "header_read_timeout",
                reason: "must be longer than zero".into(),
            });
        }
        if self.pool_size == Some(0) {
            return Err(ServerError::InvalidConfig {
                field: "postgres_pool_size",
                reason: "must be at least 1".into(),
            });
        }
        let (per_second, burst) = self.rate_limit;
        if per_second == 0 || burst == 0 {
            return Err(ServerError::InvalidConfig {
                field: "rate_limit",
                reason: "requests per second and burst must both be at least 1".into(),
            });
        }
        let types = self
            .providers
            .connector_types()
            .map_err(ServerError::ProviderDefinitions)?;
        if let Some(PublicUrl(url)) = &self.public_url
            && !is_secure_endpoint(url)
        {
            return Err(ServerError::InvalidConfig {
                field: "public_url",
                reason: format!(
                    "`{}` must be https (plain http only on 127.0.0.1, ::1 or localhost): consent flows send providers' authorization codes to it",
                    url.origin().ascii_serialization()
                ),
            });
        }
        if let Some(PublicUrl(url)) = &self.public_url
            && (!url.username().is_empty()
                || url.password().is_some()
                || url.query().is_some()
                || url.fragment().is_some())
        {
            return Err(ServerError::InvalidConfig {
                field: "public_url",
                reason: format!(
                    "`{}` must have no user information, query or fragment: the service's paths are added to it, and it is logged",
                    url.origin().ascii_serialization()
                ),
            });
        }
        // Its URLs, checked once here rather than at each connector. Its client may be half set
        // (an id without a secret): it then goes unused, as before.
        let mut urls = self.asana.clone();
        (urls.client_id, urls.client_secret) = (None, None);
        AsanaAuthProvider::new(urls).map_err(|e| ServerError::InvalidConfig {
            field: "asana_app",
            reason: e.to_string(),
        })?;
        let keys = match self.keys {
            Keys::Ring(ring) => Some(ring),
            Keys::Insecure => KeyRing::from_env()?,
            Keys::Env => Some(KeyRing::from_env()?.ok_or(ServerError::NoEncryptionKey)?),
        };
        let location = self.store.ok_or(ServerError::InvalidConfig {
            field: "store",
            reason: "name the directory (or the postgres:// URL) that holds the service's data"
                .into(),
        })?;
        let Stores {
            credentials,
            rotation,
            opener,
            service: store,
        } = open_stores(&location, self.pool_size, keys.as_ref()).await?;
        let sealer = Sealer::new(keys);
        let metrics = Arc::new(Metrics::default());
        let key_check = Arc::new(KeyCheck::new(store.clone(), credentials.clone()));
        let connectors = Connectors::new(
            store.clone(),
            credentials.clone(),
            opener,
            sealer.clone(),
            UpstreamSettings {
                asana: self.asana,
                providers: self.providers,
                types: types.clone(),
                retry: self.retry,
                timeout: self.upstream_timeout,
                cache_size: self.connector_cache,
                http: AsanaAuthProvider::http_client().map_err(|e| ServerError::InvalidConfig {
                    field: "asana_app",
                    reason: format!("cannot build the HTTP client for Asana: {e}"),
                })?,
                downloads: DownloadClient::new(),
            },
            metrics.clone(),
        );
        let public_url = self.public_url.map(|PublicUrl(url)| url);
        Ok(Server {
            state: AppState {
                store: store.clone(),
                connectors: Arc::new(connectors),
                token_ttl: self.token_ttl,
                max_service_tokens: self.max_service_tokens,
                public_url: public_url.clone().map(Arc::new),
                metrics,
                limiter: Arc::new(RateLimiter::new(per_second, burst)),
                in_flight: InFlight::new(self.max_in_flight),
                service_app_consent: self.service_app_consent,
                keys: key_check,
                writes: TaskTracker::new(),
            },
            admin: Admin::new(store, credentials, rotation, sealer, types),
            mcp: McpAccess {
                public_url,
                ..self.mcp
            },
            max_body_bytes: self.max_body_bytes,
            request_timeout: self.request_timeout,
            header_read_timeout: self.header_read_timeout,
            refresher: self.refresher,
            audit_retention: self.audit_retention,
        })
    }
}

/// The stores at a location.
struct Stores {
    /// The credential store, encrypted when there are keys.
    credentials: Arc<dyn CredentialStore>,
    /// The same store's re-encryption under the primary key.
    rotation: Arc<dyn Rotate>,
    /// What opens the records the service's store reads of the credential store.
    opener: RecordOpener,
    /// The service's own store.
    service: Arc<dyn ServiceStore>,
}

/// The stores at `location`.
async fn open_stores(
    location: &StoreLocation,
    // Only a PostgreSQL store has a pool.
    #[cfg_attr(not(feature = "postgres"), allow(unused_variables))] pool_size: Option<usize>,
    keys: Option<&KeyRing>,
) -> Result<Stores, ServerError> {
    match location {
        StoreLocation::Directory(dir) => {
            create_private_dir(dir)?;
            let credentials = SqliteCredentialStore::builder(dir.join("credentials.db"));
            let credentials = match keys {
                Some(ring) => credentials.key_ring(ring.clone()),
                None => credentials.unencrypted(),
            };
            let credentials = Arc::new(credentials.open().await?);
            let service = Arc::new(
                SqliteServiceStore::open_with_credentials(
                    dir.join("service.db"),
                    dir.join("credentials.db"),
                )
                .await?,
            );
            Ok(Stores {
                opener: credentials.opener(),
                rotation: credentials.clone(),
                credentials,
                service,
            })
        }
        #[cfg(feature = "postgres")]
        StoreLocation::Postgres(url) => {
            let mut credentials = store_postgres::PostgresCredentialStore::builder(url);
            if let Some(size) = pool_size {
                credentials = credentials.pool_size(size);
            }
            let credentials = match keys {
                Some(ring) => credentials.key_ring(ring.clone()),
                None => credentials.unencrypted(),
            };
            let credentials = Arc::new(credentials.open().await?);
            let service = Arc::new(
                crate::store::PostgresServiceStore::open(credentials.inner().clone()).await?,
            );
            Ok(Stores {
                opener: credentials.opener(),
                rotation: credentials.clone(),
                credentials,
                service,
            })
        }
        #[cfg(not(feature = "postgres"))]
        StoreLocation::Postgres(_) => Err(ServerError::InvalidConfig {
            field: "store",
            reason: "this build has no PostgreSQL support: build integrations-server with the `postgres` feature, or name a directory".into(),
        }),
    }
}

/// Aborts the task when dropped (also when the future serving it is dropped).
#[derive(Debug)]
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn create_private_dir(dir: &std::path::Path) -> Result<(), ServerError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)?;
    Ok(())
}

/// The hosted-execution service.
///
/// ```no_run
/// # async fn run() -> Result<(), integrations_server::ServerError> {
/// use integrations_server::Server;
///
/// let server = Server::builder().store_dir("/var/lib/integrations").build().await?;
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
/// server
///     .serve(listener, async { tokio::signal::ctrl_c().await.ok(); })
///     .await
/// # }
/// ```
pub struct Server {
    state: AppState,
    admin: Admin,
    max_body_bytes: usize,
    mcp: McpAccess,
    request_timeout: Duration,
    header_read_timeout: Duration,
    refresher: Option<RefresherSettings>,
    audit_retention: Option<Duration>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("store", &self.state.store)
            .field("public_url", &self.public_url().map(Url::as_str))
            .finish_non_exhaustive()
    }
}

impl Server {
    /// A builder with the defaults.
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }

    /// The operator's operations on applications, over the same stores.
    pub fn admin(&self) -> Admin {
        self.admin.clone()
    }

    /// The URL the service was told it is reached at.
    pub fn public_url(&self) -> Option<&Url> {
        self.state.public_url.as_deref()
    }

    /// The service's routes and its OpenAPI document, to serve or to nest in another router:
    /// each request counted in the metrics (by route template) and answered 504 past the request
    /// timeout; a method a path does not take is 405 in the error shape, with `Allow`. Its `/mcp`
    /// accepts loopback `Host`s only when configured to, or when no public URL is set.
    ///
    /// The router only answers requests: the tasks [`Server::serve`] runs beside it do not
    /// start with it. An application that serves this router itself, and does not start them
    /// with [`Server::spawn_background`], goes without:
    ///
    /// - the background refresher ([`ServerBuilder::refresh_ahead`]): tokens are still refreshed
    ///   when a request needs one, but none ahead of use, so an execute may wait for a refresh;
    /// - the audit's retention ([`ServerBuilder::audit_retention`]): no audit entry is deleted,
    ///   however old, unless another instance on the same store runs `serve`;
    /// - the start-up check of the encryption keys: keys that cannot open the stored credentials
    ///   are not logged at start (`/readyz` still runs the check when it is called, and answers
    ///   503);
    /// - the header read timeout ([`ServerBuilder::header_read_timeout`]), which belongs to the
    ///   connections, not the router: `axum::serve` sets none, so a client may hold connections
    ///   open without sending a request (serve with hyper and a timer, or behind a proxy that
    ///   closes them);
    /// - the wait at shutdown for writes whose clients left (a connector's creation, change or
    ///   deletion, a consent's completion): they run on the runtime, and stop with it if it
    ///   stops first.
    pub fn router(&self) -> Router {
        self.router_on(None)
    }

    fn router_on(&self, listening: Option<SocketAddr>) -> Router {
        routes::router(
            self.state.clone(),
            self.max_body_bytes,
            self.mcp.allowed(listening),
        )
        .merge(openapi::routes())
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "this path does not take this method; the Allow header lists those it takes",
            )
        })
        .layer(EdgeLayer::new(
            self.state.metrics.clone(),
            self.request_timeout,
        ))
    }

    /// Serves on `listener` until `shutdown` completes; then stops accepting connections and
    /// returns once the requests in flight have been answered, or after the request timeout
    /// ([`ServerBuilder::request_timeout`]), closing the connections whose clients have not read
    /// their answers by then. Writes that run to their end whatever their client does (a
    /// connector's creation, change or deletion, a consent's completion), those whose clients
    /// left included, are then waited for, within another request timeout. The background
    /// refresher (see [`ServerBuilder::refresh_ahead`]) and the audit's retention (see
    /// [`ServerBuilder::audit_retention`]) run meanwhile. At the start, the encryption keys are
    /// checked against a stored credential record: when they cannot open it, an error is logged
    /// and `/readyz` answers 503.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let background = self.spawn_background();
        let router = self.router_on(Some(listener.local_addr()?));
        listen::serve(
            listener,
            router,
            self.header_read_timeout,
            self.request_timeout,
            shutdown,
        )
        .await;
        let writes = &self.state.writes;
        writes.close();
        if tokio::time::timeout(self.request_timeout, writes.wait())
            .await
            .is_err()
        {
            tracing::error!(
                unfinished = writes.len(),
                "stopping with writes unfinished after the request timeout"
            );
        }
        drop(background);
        Ok(())
    }

    /// Starts the tasks [`Server::serve`] runs beside the router, for an application that serves
    /// [`Server::router`] itself: the check of the encryption keys against the stored
    /// credentials, the background refresher and the audit's retention (those configured on the
    /// builder). They run until the returned handle is dropped.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use integrations_server::Server;
    ///
    /// let server = Server::builder().store_dir("/var/lib/integrations").build().await?;
    /// let _background = server.spawn_background();
    /// let app = axum::Router::new().nest("/integrations", server.router());
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
    /// axum::serve(listener, app).await?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime, as `tokio::spawn` does.
    #[must_use = "the tasks stop when the handle is dropped"]
    pub fn spawn_background(&self) -> BackgroundTasks {
        let keys = self.state.keys.clone();
        let mut tasks = vec![AbortOnDrop(tokio::spawn(async move {
            // A mismatch is logged by the check; /readyz answers it.
            let _ = keys.check().await;
        }))];
        if let Some(settings) = self.refresher {
            tasks.push(AbortOnDrop(tokio::spawn(refresher::run(
                self.state.connectors.clone(),
                settings,
            ))));
        }
        if let Some(retention) = self.audit_retention {
            tasks.push(AbortOnDrop(tokio::spawn(retention::run(
                self.state.store.clone(),
                retention,
            ))));
        }
        BackgroundTasks { _tasks: tasks }
    }
}

/// The tasks of [`Server::spawn_background`]: they stop when this is dropped.
#[derive(Debug)]
pub struct BackgroundTasks {
    _tasks: Vec<AbortOnDrop>,
}
