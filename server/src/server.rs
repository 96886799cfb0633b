//! [`Server`]: the service, built with [`ServerBuilder`] over a private configuration, and served
//! on a listener until a shutdown future completes (in-flight requests finish first).

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use integrations::asana::{AsanaAppCredentials, AsanaAuthProvider, RetryConfig};
use integrations::{CredentialStore, KeyRing, SqliteCredentialStore};
use tokio::net::TcpListener;
use url::Url;

use crate::admin::Admin;
use crate::error::ServerError;
use crate::providers::{Connectors, UpstreamSettings};
use crate::routes::{self, AppState};
use crate::secrets::Sealer;
use crate::store::{ServiceStore, SqliteServiceStore};

/// How long service tokens live unless configured: an hour.
pub const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(3600);
/// The shortest service token lifetime accepted: Airbyte's SDK reuses a token for 14 minutes
/// without reading `expires_in`.
pub const MIN_TOKEN_TTL: Duration = Duration::from_secs(900);
/// The largest request body accepted unless configured: 1 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
/// How long one attempt of a call to Asana may take unless configured.
pub const DEFAULT_UPSTREAM_TIMEOUT: Duration = Duration::from_secs(30);
/// How many connectors are kept warm unless configured.
pub const DEFAULT_CONNECTOR_CACHE: usize = 1000;

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

/// Configures a [`Server`].
#[derive(Debug, Clone)]
pub struct ServerBuilder {
    store: Option<PathBuf>,
    keys: Keys,
    public_url: Option<Url>,
    asana: AsanaAppCredentials,
    retry: RetryConfig,
    upstream_timeout: Duration,
    token_ttl: Duration,
    max_body_bytes: usize,
    connector_cache: usize,
}

impl Default for ServerBuilder {
    fn default() -> Self {
        Self {
            store: None,
            keys: Keys::Env,
            public_url: None,
            asana: AsanaAppCredentials::default(),
            // A 429 goes back to the caller at once, with Asana's Retry-After, rather than
            // holding the request while the client waits.
            retry: RetryConfig::default().with_max_rate_limit_wait(Duration::ZERO),
            upstream_timeout: DEFAULT_UPSTREAM_TIMEOUT,
            token_ttl: DEFAULT_TOKEN_TTL,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            connector_cache: DEFAULT_CONNECTOR_CACHE,
        }
    }
}

impl ServerBuilder {
    /// The directory holding the service's data: `credentials.db` (the core's encrypted
    /// credential store) and `service.db` (applications, tokens, connectors, audit). Created,
    /// owner-only, if missing.
    pub fn store_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.store = Some(dir.into());
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

    /// The URL clients and providers reach the service at (for consent-flow redirects).
    pub fn public_url(mut self, url: Url) -> Self {
        self.public_url = Some(url);
        self
    }

    /// The service's Asana app (client id and secret refresh OAuth connectors that bring no
    /// app of their own) and Asana's URLs (point them at a fake Asana in tests).
    pub fn asana_app(mut self, app: AsanaAppCredentials) -> Self {
        self.asana = app;
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
        let keys = match self.keys {
            Keys::Ring(ring) => Some(ring),
            Keys::Insecure => KeyRing::from_env()?,
            Keys::Env => Some(KeyRing::from_env()?.ok_or(ServerError::NoEncryptionKey)?),
        };
        let dir = self.store.ok_or(ServerError::InvalidConfig {
            field: "store",
            reason: "name the directory that holds the service's data".into(),
        })?;
        create_private_dir(&dir)?;
        let credentials = SqliteCredentialStore::builder(dir.join("credentials.db"));
        let credentials = match &keys {
            Some(ring) => credentials.key_ring(ring.clone()),
            None => credentials.unencrypted(),
        };
        let credentials: Arc<dyn CredentialStore> = Arc::new(credentials.open().await?);
        let store: Arc<dyn ServiceStore> =
            Arc::new(SqliteServiceStore::open(dir.join("service.db")).await?);
        let sealer = Sealer::new(keys);
        let connectors = Connectors::new(
            store.clone(),
            credentials.clone(),
            sealer.clone(),
            UpstreamSettings {
                asana: self.asana,
                retry: self.retry,
                timeout: self.upstream_timeout,
                cache_size: self.connector_cache,
                http: AsanaAuthProvider::http_client().map_err(|e| ServerError::InvalidConfig {
                    field: "asana_app",
                    reason: format!("cannot build the HTTP client for Asana: {e}"),
                })?,
            },
        );
        Ok(Server {
            state: AppState {
                store: store.clone(),
                connectors: Arc::new(connectors),
                token_ttl: self.token_ttl,
                public_url: self.public_url,
            },
            admin: Admin::new(store, credentials, sealer),
            max_body_bytes: self.max_body_bytes,
        })
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
        self.state.public_url.as_ref()
    }

    /// The service's routes, to serve or to nest in another router.
    pub fn router(&self) -> Router {
        routes::router(self.state.clone(), self.max_body_bytes)
    }

    /// Serves on `listener` until `shutdown` completes; then stops accepting connections and
    /// returns once the requests in flight have been answered.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        axum::serve(listener, self.router())
            .with_graceful_shutdown(shutdown)
            .await?;
        Ok(())
    }
}
