//! # store-postgres
//!
//! [`PostgresCredentialStore`], the [`CredentialStore`] for service instances that share one
//! PostgreSQL database: N instances behind a load balancer refresh each token once between them.
//!
//! - **Fenced conditional puts.** [`PutMode::Update`] is one
//!   `UPDATE ... WHERE version = $n RETURNING version`: the version is the fence, so of several
//!   writers that read the same version exactly one wins, in any instance, and a holder whose
//!   refresh lease lapsed while another took over cannot overwrite the newer record.
//!   [`PutMode::Create`] is `INSERT ... ON CONFLICT DO NOTHING`, [`PutMode::Overwrite`] an upsert.
//! - **Leases on the database clock.** Hosts' clocks disagree; a refresh lease's expiry is written
//!   and read through the measured skew between the host's clock and the database's, so every
//!   instance judges a lease live or lapsed as the database clock would (see [Clocks](#clocks)).
//! - **Woken, not polling.** A trigger sends a `NOTIFY` for every write with a hash of provider
//!   and subject (never a secret), but one that only hands the refresh lease to a new holder (no
//!   waiter waits for that); a dedicated connection per store listens, and a caller waiting
//!   for another instance's refresh ([`CredentialStore::wait_for_change`]) returns as soon as it
//!   is written. While that connection is down, waiters poll and it reconnects in the background.
//! - **Connection loss is retryable.** A database that cannot be reached, drops a connection or
//!   is restarting fails calls with [`StoreError::Io`] (transient for `AuthError::class`), saying
//!   what failed; the pool reconnects by itself when the database is back. Other refusals by the
//!   server are [`StoreError::Backend`].
//! - **Versioned schema.** Embedded migrations bring the tables to [`SCHEMA_VERSION`] when a store
//!   opens, one instance at a time (an advisory lock); a newer schema is refused with
//!   [`StoreError::UnsupportedVersion`].
//! - **Encrypted at rest** when a key is configured: [`PostgresCredentialStore::open`] and the
//!   builder return the store inside an [`EncryptedStore`], as the other stores do.
//! - **TLS** through rustls when the URL says `sslmode=require` (see the builder).
//!
//! Needs PostgreSQL 11 or newer (`sha256()`, `EXECUTE FUNCTION` in triggers). Tables:
//! `integrations_credentials` (one row per provider and subject; provider, subject,
//! version, status, lease and timestamps in clear, the payload as opaque bytes) and
//! `integrations_schema` (the schema version of each component sharing the database). Another
//! component keeps its tables in the same database on the store's connections
//! ([`PostgresCredentialStore::with_connection`]) and migrates them as this store does its own
//! ([`PostgresCredentialStore::migrate_component`]): the service does so for its records.
//! `replace_payloads` rewrites payloads in one transaction; as with any PostgreSQL update, the
//! earlier row versions stay in the table's pages and the WAL until VACUUM reclaims them and new
//! writes overwrite them.
//!
//! # Clocks
//!
//! The store measures the skew (database clock minus host clock) when it opens and every 30 s:
//! it reads `clock_timestamp()` a few times and takes the host's clock halfway through the
//! quickest round trip. A lease's expiry is stored in database time (the host's value plus the
//! skew) and handed back in host time (the stored value minus the skew). So a host whose clock
//! is minutes off neither takes a live lease for lapsed (and spends a refresh token another
//! instance is spending) nor waits on a lapsed one: each compares the expiry with its own clock
//! and gets the database clock's answer, to within half a round trip. Record timestamps
//! (`created_at`, `updated_at`) are the database's clock as it is.
//!
//! ```no_run
//! # async fn example() -> Result<(), auth_core::StoreError> {
//! use auth_core::{CredentialRecord, CredentialStore, Payload, PutMode};
//! use store_postgres::PostgresCredentialStore;
//!
//! // The key, if any, comes from INTEGRATIONS_ENCRYPTION_KEY.
//! let store = PostgresCredentialStore::open("postgres://app@db.internal/app?sslmode=require").await?;
//! let record = CredentialRecord::new("asana", "user-1", Payload::new(br#"{"access_token":"t1"}"#.to_vec()));
//! let v1 = store.put(record, PutMode::Create).await?;
//! assert_eq!(store.get("asana", "user-1").await?.map(|got| got.version), Some(v1));
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod clock;
mod connect;
mod error;
mod listener;
mod schema;
#[cfg(feature = "testing")]
pub mod testing;

use std::fmt;
use std::io;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use auth_core::crypto::{KeySource, log_encryption_status};
use auth_core::store::{PayloadReplacement, time_from_millis};
use auth_core::{
    CredentialRecord, CredentialStatus, CredentialStore, EncryptedStore, Payload, PutMode,
    RefreshLease, StoreError, StoredCredential, Updated, Version,
};
use deadpool_postgres::{Object, Pool};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_postgres::Row;
use tokio_postgres::config::Host;
use tokio_postgres::types::ToSql;

use clock::Clock;
use connect::Tls;
use error::{Op, STORE, backend, pg_error, pool_error, unavailable};
use listener::Listener;

pub use schema::SCHEMA_VERSION;
/// The PostgreSQL driver, for [`PostgresCredentialStore::with_connection`]'s callers.
pub use tokio_postgres;

/// One of the store's pooled connections, lent by [`PostgresCredentialStore::with_connection`];
/// it dereferences to a [`tokio_postgres::Client`] and caches prepared statements
/// (`prepare_cached`).
pub type PooledConnection = Object;

/// How many connections a store's pool holds at most, unless the builder says otherwise.
pub const DEFAULT_POOL_SIZE: usize = 16;

/// The most connections a builder gives a pool (PostgreSQL's own ceiling is higher, but a
/// store that needs more has a problem a pool will not solve).
pub const MAX_POOL_SIZE: usize = 10_000;

/// How long a pooled connection may sit unused before it is closed, unless the builder says
/// otherwise: shorter than the idle timeouts of common load balancers and NAT gateways (four
/// minutes and up), which drop a connection without either end hearing of it.
pub const DEFAULT_MAX_IDLE: Duration = Duration::from_secs(180);

/// How long connecting, or waiting for a free pooled connection, may take before a call fails
/// with a retryable error, unless the builder says otherwise.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long the server may spend on one statement before cancelling it, unless the builder says
/// otherwise.
pub const DEFAULT_QUERY_TIMEOUT: Duration = Duration::from_secs(10);

/// How long past the statement timeouts a silent connection is given before a call gives up on it.
const SILENCE_MARGIN: Duration = Duration::from_secs(5);

/// The client-side limit of an operation of `statements` statements, each bounded by `timeout`
/// on the server.
fn statements_limit(timeout: Duration, statements: usize) -> Duration {
    let statements = u32::try_from(statements).unwrap_or(u32::MAX);
    timeout
        .saturating_mul(statements)
        .saturating_add(SILENCE_MARGIN)
}

/// The retryable error of an operation whose connection gave no answer within `limit`.
fn silent(location: &str, op: Op, limit: Duration) -> StoreError {
    unavailable(
        location,
        op,
        io::ErrorKind::TimedOut,
        &format!("no answer within {limit:?}"),
    )
}

/// The [`CREDENTIAL_COLUMNS`] columns of a credential record, in the order
/// [`PostgresCredentialStore::record_at`] (and every read of this store) decodes them, as one
/// string literal for `concat!`: those of `integrations_credentials` named with `$prefix` (`""`,
/// or a table alias and a dot).
///
/// ```
/// const READ: &str = concat!(
///     "SELECT c.id, ",
///     store_postgres::credential_columns!("k."),
///     " FROM connectors c LEFT JOIN integrations_credentials k ON k.subject = c.id"
/// );
/// assert!(READ.starts_with("SELECT c.id, k.provider, k.subject, k.version, "));
/// assert_eq!(store_postgres::CREDENTIAL_COLUMNS, 9);
/// ```
#[macro_export]
macro_rules! credential_columns {
    ($prefix:literal) => {
        concat!(
            $prefix,
            "provider, ",
            $prefix,
            "subject, ",
            $prefix,
            "version, ",
            $prefix,
            "status, ",
            $prefix,
            "lease_holder, ",
            $prefix,
            "lease_expires_ms, (extract(epoch FROM ",
            $prefix,
            "created_at) * 1000)::bigint, (extract(epoch FROM ",
            $prefix,
            "updated_at) * 1000)::bigint, ",
            $prefix,
            "payload"
        )
    };
}

/// How many columns [`credential_columns!`] names.
pub const CREDENTIAL_COLUMNS: usize = column_count(credential_columns!(""));

/// How many columns `columns` lists, separated by `", "` (which no column of this store's lists
/// holds).
const fn column_count(columns: &str) -> usize {
    let bytes = columns.as_bytes();
    let (mut count, mut i) = (1, 0);
    while i + 1 < bytes.len() {
        if bytes[i] == b',' && bytes[i + 1] == b' ' {
            count += 1;
        }
        i += 1;
    }
    count
}

const SELECT_ONE: &str = concat!(
    "SELECT ",
    credential_columns!(""),
    " FROM integrations_credentials WHERE provider = $1 AND subject = $2"
);
const SELECT_PROVIDER: &str = concat!(
    "SELECT ",
    credential_columns!(""),
    " FROM integrations_credentials WHERE provider = $1 ORDER BY provider, subject"
);
const SELECT_ALL: &str = concat!(
    "SELECT ",
    credential_columns!(""),
    " FROM integrations_credentials ORDER BY provider, subject"
);
const CREATE: &str = "INSERT INTO integrations_credentials \
     (provider, subject, version, status, lease_holder, lease_expires_ms, payload) \
     VALUES ($1, $2, 1, $3, $4, $5, $6) ON CONFLICT (provider, subject) DO NOTHING RETURNING version";
const UPDATE: &str = "UPDATE integrations_credentials SET version = version + 1, status = $3, \
     lease_holder = $4, lease_expires_ms = $5, payload = $6, updated_at = now() \
     WHERE provider = $1 AND subject = $2 AND version = $7 RETURNING version";
const OVERWRITE: &str = "INSERT INTO integrations_credentials \
     (provider, subject, version, status, lease_holder, lease_expires_ms, payload) \
     VALUES ($1, $2, 1, $3, $4, $5, $6) ON CONFLICT (provider, subject) DO UPDATE SET \
     version = integrations_credentials.version + 1, status = EXCLUDED.status, \
     lease_holder = EXCLUDED.lease_holder, lease_expires_ms = EXCLUDED.lease_expires_ms, \
     payload = EXCLUDED.payload, updated_at = now() RETURNING version";
const VERSION: &str =
    "SELECT version FROM integrations_credentials WHERE provider = $1 AND subject = $2";

/// A [`CredentialStore`] in a PostgreSQL database, keeping payloads as opaque bytes. Cheap to
/// clone: clones share the pool and the listener, which stops when the last clone is dropped.
/// [`PostgresCredentialStore::open`] and the builder return it inside an [`EncryptedStore`].
///
/// `Debug` shows the location (without the password), never a payload.
#[derive(Clone)]
pub struct PostgresCredentialStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    /// Permits for [`PostgresCredentialStore::with_connection`]'s callers: fewer than the pool's
    /// connections, so that the credential records always find one (see [`reserved`]).
    shared: Semaphore,
    query_timeout: Duration,
    /// `postgres://user@host:port/dbname`, without the password.
    location: Arc<str>,
    clock: Arc<Clock>,
    listener: Arc<Listener>,
    listener_task: JoinHandle<()>,
    /// Closes the pool's connections that stay unused for longer than the builder's `max_idle`.
    pruner_task: JoinHandle<()>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.listener_task.abort();
        self.pruner_task.abort();
    }
}

impl PostgresCredentialStore {
    /// Connects to the database at `url` (a `postgres://` URL or `key=value` settings, as libpq
    /// takes them) and migrates the schema; encrypted with
    /// [`KeyRing::from_env`](auth_core::crypto::KeyRing::from_env) when
    /// `INTEGRATIONS_ENCRYPTION_KEY` is set and plaintext otherwise.
    pub async fn open(url: &str) -> Result<EncryptedStore<Self>, StoreError> {
        Self::builder(url).open().await
    }

    /// A builder for the database at `url`, to set the key ring, the pool size or the connect
    /// timeout.
    pub fn builder(url: &str) -> PostgresStoreBuilder {
        PostgresStoreBuilder {
            url: url.to_string(),
            encryption: KeySource::FromEnv,
            pool_size: DEFAULT_POOL_SIZE,
            max_idle: DEFAULT_MAX_IDLE,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            query_timeout: DEFAULT_QUERY_TIMEOUT,
            host_clock_offset_ms: 0,
        }
    }

    /// Whether callers waiting for another instance's refresh are woken by notifications now;
    /// `false` while the listener's connection is down and they poll.
    pub fn is_listening(&self) -> bool {
        self.inner.listener.is_listening()
    }

    /// The measured difference between the database's clock and this host's, in milliseconds
    /// (positive: the database is ahead).
    pub fn clock_skew_ms(&self) -> i64 {
        self.inner.clock.skew_ms()
    }

    fn location(&self) -> &str {
        &self.inner.location
    }

    /// A credential record that another component's query of this database read with its own
    /// rows (the service reads a connector's record in the same statement as the connector), as
    /// this store's `get` answers it before any layer above (still sealed, with an encrypting
    /// layer; see `EncryptedStore::opener`), lease in host time. The query selects the
    /// [`credential_columns!`] of `integrations_credentials` from column `first` on. `None` when
    /// they are null (an outer join found no record).
    ///
    /// # Panics
    ///
    /// As [`Row::get`] does, when the row has no such columns of these types: a query written
    /// wrong, which any test of it finds.
    pub fn record_at(
        &self,
        row: &Row,
        first: usize,
    ) -> Result<Option<StoredCredential>, StoreError> {
        if row.get::<_, Option<&str>>(first).is_none() {
            return Ok(None);
        }
        decode(row, first, &self.inner.clock, self.location()).map(Some)
    }

    /// Runs `work` on one of the store's pooled connections, for another component's tables in
    /// the same database (the service keeps its own there): with the store's timeouts (each
    /// statement's, and `statements` of them before a silent connection is given up) and its
    /// errors, so that an unreachable or restarting database is a retryable [`StoreError::Io`]
    /// and anything else the server refuses is [`StoreError::Backend`]; `op` names what was
    /// being done in them.
    ///
    /// Such callers share all but a quarter of the pool's connections (see
    /// [`PostgresStoreBuilder::pool_size`]): the rest stay free for the credential records, so
    /// that a refresh's reads and writes never queue behind another component's statements.
    pub async fn with_connection<T>(
        &self,
        op: &'static str,
        statements: usize,
        work: impl AsyncFnOnce(&mut PooledConnection) -> Result<T, tokio_postgres::Error>,
    ) -> Result<T, StoreError> {
        let wait = self
            .inner
            .pool
            .timeouts()
            .wait
            .unwrap_or(DEFAULT_CONNECT_TIMEOUT);
        let Ok(Ok(_permit)) = tokio::time::timeout(wait, self.inner.shared.acquire()).await else {
            return Err(unavailable(
                self.location(),
                op,
                io::ErrorKind::TimedOut,
                &format!("no pooled connection free within {wait:?}"),
            ));
        };
        self.run(op, self.limit(statements), work).await
    }

    /// Brings `component`'s tables to version `migrations.len()` (`migrations[i]` takes them
    /// from version `i` to `i + 1`), as this store does its own: in one transaction, one
    /// instance at a time, with the version in `integrations_schema` under `component`; a newer
    /// version than this build knows is refused with [`StoreError::UnsupportedVersion`].
    pub async fn migrate_component(
        &self,
        component: &str,
        migrations: &[&str],
    ) -> Result<(), StoreError> {
        let op = "migrating the schema";
        let mut client = self.client(op).await?;
        let limit = self.limit(schema::statements(migrations));
        let migrated = tokio::time::timeout(
            limit,
            schema::migrate_component(&mut client, self.location(), component, migrations),
        )
        .await;
        migrated.unwrap_or_else(|_| {
            drop(Object::take(client));
            Err(silent(self.location(), op, limit))
        })
    }

    async fn client(&self, op: Op) -> Result<Object, StoreError> {
        self.inner
            .pool
            .get()
            .await
            .map_err(|e| pool_error(self.location(), op, &e))
    }

    fn pg(&self, op: Op) -> impl Fn(tokio_postgres::Error) -> StoreError + '_ {
        move |e| pg_error(self.location(), op, &e)
    }

    /// Runs `work` on a pooled connection, giving up after `limit`: the server cancels each
    /// statement after the query timeout itself (`statement_timeout`), so this only catches a
    /// connection that went silent. Such a connection leaves the pool, since an answer may
    /// still be on its way.
    async fn run<T>(
        &self,
        op: Op,
        limit: Duration,
        work: impl AsyncFnOnce(&mut Object) -> Result<T, tokio_postgres::Error>,
    ) -> Result<T, StoreError> {
        let mut client = self.client(op).await?;
        let outcome = tokio::time::timeout(limit, work(&mut client)).await;
        match outcome {
            Ok(result) => result.map_err(self.pg(op)),
            Err(_) => {
                drop(Object::take(client));
                Err(silent(self.location(), op, limit))
            }
        }
    }

    /// The client-side limit for an operation of `statements` statements.
    fn limit(&self, statements: usize) -> Duration {
        statements_limit(self.inner.query_timeout, statements)
    }

    /// Runs `sql` on a pooled connection with a cached statement.
    async fn query(
        &self,
        op: Op,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<Row>, StoreError> {
        self.run(op, self.limit(1), async |client| {
            let statement = client.prepare_cached(sql).await?;
            client.query(&statement, params).await
        })
        .await
    }

    /// `record`'s columns, with its lease's expiry on the database clock.
    fn columns<'a>(&self, record: &'a CredentialRecord) -> Columns<'a> {
        let (lease_holder, lease_expires_ms) = match &record.lease {
            Some(lease) => (
                Some(lease.holder.as_str()),
                Some(self.inner.clock.to_database(lease.expires_at)),
            ),
            None => (None, None),
        };
        Columns {
            provider: &record.provider,
            subject: &record.subject,
            status: record.status.as_str(),
            lease_holder,
            lease_expires_ms,
            payload: record.payload.expose_bytes(),
        }
    }

    /// Runs `sql` (`CREATE` or `OVERWRITE`) on `record`'s columns.
    async fn write(
        &self,
        op: Op,
        sql: &str,
        record: &CredentialRecord,
    ) -> Result<Vec<Row>, StoreError> {
        self.query(op, sql, &self.columns(record).params()).await
    }

    /// The conditional UPDATE of `record` at `expected`, and when it matched nothing, `then` (a
    /// SELECT by provider and subject) on the same connection: one pool checkout, which a busy
    /// service queues for. Returns the UPDATE's rows and `then`'s.
    async fn update_then(
        &self,
        record: &CredentialRecord,
        expected: Version,
        then: &'static str,
    ) -> Result<(Vec<Row>, Vec<Row>), StoreError> {
        let expected = db_version(expected);
        let columns = self.columns(record);
        let columns = columns.params();
        let (provider, subject) = (record.provider.as_str(), record.subject.as_str());
        self.run("conditional put", self.limit(2), async |client| {
            if let Some(expected) = expected {
                let params = [columns.as_slice(), &[&expected]].concat();
                let update = client.prepare_cached(UPDATE).await?;
                let rows = client.query(&update, &params).await?;
                if !rows.is_empty() {
                    return Ok((rows, Vec::new()));
                }
            }
            let current = client.prepare_cached(then).await?;
            let current = client.query(&current, &[&provider, &subject]).await?;
            Ok((Vec::new(), current))
        })
        .await
    }

    fn decode(&self, row: &Row) -> Result<StoredCredential, StoreError> {
        decode(row, 0, &self.inner.clock, self.location())
    }
}

impl fmt::Debug for PostgresCredentialStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresCredentialStore")
            .field("location", &self.inner.location)
            .field("listening", &self.is_listening())
            .finish()
    }
}

/// Options for opening a [`PostgresCredentialStore`] inside an [`EncryptedStore`].
///
/// ```no_run
/// # async fn example() -> Result<(), auth_core::StoreError> {
/// use std::time::Duration;
/// use auth_core::crypto::KeyRing;
/// use store_postgres::PostgresCredentialStore;
///
/// let store = PostgresCredentialStore::builder("postgres://app@db.internal/app?sslmode=require")
///     .key_ring(KeyRing::from_env()?.expect("INTEGRATIONS_ENCRYPTION_KEY is set"))
///     .pool_size(32)
///     .connect_timeout(Duration::from_secs(3))
///     .open()
///     .await?;
/// assert!(store.is_encrypted());
/// # Ok(())
/// # }
/// ```
///
/// The URL takes libpq's settings; `sslmode=require` connects with TLS (rustls), verifying the
/// server's certificate against the Mozilla roots; without it, or with `prefer` or `disable`,
/// the connection is plaintext (`prefer` protects against no attacker, so it is taken as
/// `disable`).
#[must_use]
pub struct PostgresStoreBuilder {
    url: String,
    encryption: KeySource,
    pool_size: usize,
    max_idle: Duration,
    connect_timeout: Duration,
    query_timeout: Duration,
    /// See [`PostgresStoreBuilder::pretend_host_clock_offset`]; 0 unless testing.
    host_clock_offset_ms: i64,
}

impl fmt::Debug for PostgresStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may hold a password.
        f.debug_struct("PostgresStoreBuilder")
            .field("encryption", &self.encryption)
            .field("pool_size", &self.pool_size)
            .field("max_idle", &self.max_idle)
            .field("connect_timeout", &self.connect_timeout)
            .field("query_timeout", &self.query_timeout)
            .finish_non_exhaustive()
    }
}

impl PostgresStoreBuilder {
    /// Encrypts payloads with `ring` (new writes use its primary key), whatever the environment says.
    pub fn key_ring(mut self, ring: auth_core::crypto::KeyRing) -> Self {
        self.encryption = KeySource::Keys(ring);
        self
    }

    /// Stores payloads in plaintext, whatever the environment says. Encrypted records then fail to
    /// read with [`StoreError::MissingKey`].
    pub fn unencrypted(mut self) -> Self {
        self.encryption = KeySource::Plaintext;
        self
    }

    /// How many pooled connections the store opens at most (default [`DEFAULT_POOL_SIZE`], at
    /// least 1 and at most [`MAX_POOL_SIZE`]). The listener's connection comes on top. A
    /// quarter of them (rounded down, and at least one of a pool of two or more) is kept for
    /// the credential records: another component's statements
    /// ([`PostgresCredentialStore::with_connection`]) use the others. A pool of one is shared.
    ///
    /// The pool lends the connection returned last, so a light load runs on a few warm
    /// connections, and the others are closed once unused for [`PostgresStoreBuilder::max_idle`].
    pub fn pool_size(mut self, size: usize) -> Self {
        self.pool_size = size.clamp(1, MAX_POOL_SIZE);
        self
    }

    /// How long a pooled connection may sit unused before it is closed (default
    /// [`DEFAULT_MAX_IDLE`]): checked when it would be lent, so that one a load balancer or NAT
    /// gateway dropped without a word is replaced rather than trusted (a statement sent on it
    /// would wait for the query timeout before failing), and every half of it in the
    /// background, so that the connections a burst opened are given back to the server. Zero
    /// closes every connection between two uses.
    pub fn max_idle(mut self, idle: Duration) -> Self {
        self.max_idle = idle;
        self
    }

    /// How long connecting, or waiting for a free pooled connection, may take (default
    /// [`DEFAULT_CONNECT_TIMEOUT`]); then the call fails with a retryable [`StoreError::Io`].
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long the database may spend on one statement, waiting for a row lock included,
    /// before it cancels it (default [`DEFAULT_QUERY_TIMEOUT`]; PostgreSQL's
    /// `statement_timeout`, set on the store's connections); the call then fails with a
    /// retryable [`StoreError::Io`] and the statement had no effect. A connection that goes
    /// silent is given up a few seconds later; a write sent on it may or may not have been
    /// applied, which the record's version tells.
    pub fn query_timeout(mut self, timeout: Duration) -> Self {
        self.query_timeout = timeout;
        self
    }

    /// Tests only (feature `testing`): the store takes this host's clock to be `offset_ms`
    /// milliseconds off the real one (positive: ahead), as on a host whose clock is wrong.
    #[cfg(feature = "testing")]
    pub fn pretend_host_clock_offset(mut self, offset_ms: i64) -> Self {
        self.host_clock_offset_ms = offset_ms;
        self
    }

    /// Connects, migrates the schema, measures the clock skew and starts the listener.
    pub async fn open(self) -> Result<EncryptedStore<PostgresCredentialStore>, StoreError> {
        let keys = self.encryption.resolve()?;
        // The parser's messages name the setting at fault, never its value.
        let mut config = tokio_postgres::Config::from_str(&self.url).map_err(|e| {
            backend(
                "the database URL",
                "parsing the database URL",
                &e.to_string(),
            )
        })?;
        let location = location(&config);
        let tls = Tls::for_config(&mut config, &location)?;
        config.connect_timeout(self.connect_timeout);
        if config.get_application_name().is_none() {
            config.application_name("integrations-store");
        }
        let options = format!(
            "{} -c statement_timeout={}",
            config.get_options().unwrap_or_default(),
            self.query_timeout.as_millis().max(1)
        );
        config.options(options.trim_start());
        let pool = connect::pool(
            config.clone(),
            &tls,
            connect::PoolSettings {
                size: self.pool_size,
                max_idle: self.max_idle,
                connect_timeout: self.connect_timeout,
            },
            &location,
        )?;
        let clock = Arc::new(Clock::new(self.host_clock_offset_ms));
        {
            let op = "opening the store";
            let mut client = pool
                .get()
                .await
                .map_err(|e| pool_error(&location, op, &e))?;
            // Bounded as every call is: a connection that goes silent here (a failover, a
            // partition) would otherwise hold `open` for as long as the kernel retries.
            let limit = statements_limit(self.query_timeout, schema::OWN_STATEMENTS + 1);
            let opened = tokio::time::timeout(limit, async {
                schema::migrate(&mut client, &location).await?;
                clock
                    .measure(&client, true)
                    .await
                    .map_err(|e| pg_error(&location, op, &e))
            })
            .await;
            match opened {
                Ok(result) => {
                    result?;
                }
                Err(_) => {
                    drop(Object::take(client));
                    return Err(silent(&location, op, limit));
                }
            }
        }
        let tls_used = tls.is_tls();
        let (listener, listener_task) =
            Listener::start(config, tls, clock.clone(), location.clone());
        let described = format!("postgres:{location}");
        log_encryption_status(&described, keys.as_ref());
        tracing::debug!(
            location,
            tls = tls_used,
            skew_ms = clock.skew_ms(),
            "opened the credential store"
        );
        let pruner_task = tokio::spawn(connect::prune(pool.clone(), self.max_idle));
        let store = PostgresCredentialStore {
            inner: Arc::new(Inner {
                pool,
                shared: Semaphore::new(self.pool_size - reserved(self.pool_size)),
                query_timeout: self.query_timeout,
                location: Arc::from(location),
                clock,
                listener,
                listener_task,
                pruner_task,
            }),
        };
        Ok(EncryptedStore::with_keys(store, keys))
    }
}

/// A record's columns, as the statements that write it take them.
struct Columns<'a> {
    provider: &'a str,
    subject: &'a str,
    status: &'a str,
    lease_holder: Option<&'a str>,
    lease_expires_ms: Option<i64>,
    payload: &'a [u8],
}

impl Columns<'_> {
    /// The parameters `$1` to `$6` of `CREATE`, `OVERWRITE` and `UPDATE`.
    fn params(&self) -> [&(dyn ToSql + Sync); 6] {
        [
            &self.provider,
            &self.subject,
            &self.status,
            &self.lease_holder,
            &self.lease_expires_ms,
            &self.payload,
        ]
    }
}

/// How many of a pool of `size` connections only the credential records use: a quarter, and at
/// least one when there are two or more.
fn reserved(size: usize) -> usize {
    if size < 2 { 0 } else { (size / 4).max(1) }
}

/// `postgres://user@host:port/dbname` for messages: never the password.
fn location(config: &tokio_postgres::Config) -> String {
    let user = config
        .get_user()
        .map(|u| format!("{u}@"))
        .unwrap_or_default();
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(name)) => name.clone(),
        Some(Host::Unix(path)) => path.display().to_string(),
        None => "localhost".to_string(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let dbname = config.get_dbname().unwrap_or_default();
    format!("postgres://{user}{host}:{port}/{dbname}")
}

/// The [`credential_columns!`], from column `first` of `row`, as a stored credential, with the
/// lease in host time.
fn decode(
    row: &Row,
    first: usize,
    clock: &Clock,
    location: &str,
) -> Result<StoredCredential, StoreError> {
    let provider: String = row.get(first);
    let subject: String = row.get(first + 1);
    let corrupt = |what: &str| StoreError::Corrupt {
        store: STORE,
        location: location.to_string(),
        reason: format!("the record for {provider}/{subject} has {what}"),
    };
    let version = Version::try_from(row.get::<_, i64>(first + 2))
        .map_err(|_| corrupt("a negative version"))?;
    let status_text: String = row.get(first + 3);
    let status = CredentialStatus::parse(&status_text)
        .ok_or_else(|| corrupt(&format!("an unknown status `{status_text}`")))?;
    let lease = match (
        row.get::<_, Option<String>>(first + 4),
        row.get::<_, Option<i64>>(first + 5),
    ) {
        (None, None) => None,
        (Some(holder), Some(expires_ms)) => Some(RefreshLease {
            holder,
            expires_at: clock.to_host(expires_ms),
        }),
        _ => return Err(corrupt("half a refresh lease")),
    };
    let created_at = time_from_millis(row.get(first + 6));
    let updated_at = time_from_millis(row.get(first + 7));
    let payload = Payload::new(row.get(first + 8));
    Ok(StoredCredential {
        record: CredentialRecord {
            provider,
            subject,
            payload,
            status,
            lease,
        },
        version,
        created_at,
        updated_at,
    })
}

/// A version as the database's `bigint`: versions past `i64::MAX` cannot be stored, so they match
/// nothing.
fn db_version(version: Version) -> Option<i64> {
    i64::try_from(version).ok()
}

/// A returned version as a [`Version`].
fn returned_version(
    rows: &[Row],
    location: &str,
    record: &CredentialRecord,
) -> Option<Result<Version, StoreError>> {
    rows.first().map(|row| {
        Version::try_from(row.get::<_, i64>(0)).map_err(|_| StoreError::Corrupt {
            store: STORE,
            location: location.to_string(),
            reason: format!(
                "the record for {}/{} has a negative version",
                record.provider, record.subject
            ),
        })
    })
}

#[async_trait]
impl CredentialStore for PostgresCredentialStore {
    async fn get(
        &self,
        provider: &str,
        subject: &str,
    ) -> Result<Option<StoredCredential>, StoreError> {
        let rows = self
            .query("get", SELECT_ONE, &[&provider, &subject])
            .await?;
        rows.first().map(|row| self.decode(row)).transpose()
    }

    async fn put(&self, record: CredentialRecord, mode: PutMode) -> Result<Version, StoreError> {
        // For a conditional put that matched nothing: the version there now, only to report it.
        let mut found = Vec::new();
        let rows = match mode {
            PutMode::Create => self.write("create", CREATE, &record).await?,
            PutMode::Overwrite => self.write("overwrite", OVERWRITE, &record).await?,
            PutMode::Update(expected) => {
                let (rows, current) = self.update_then(&record, expected, VERSION).await?;
                found = current;
                rows
            }
        };
        if let Some(version) = returned_version(&rows, self.location(), &record) {
            return version;
        }
        match mode {
            PutMode::Create => Err(StoreError::AlreadyExists {
                provider: record.provider,
                subject: record.subject,
            }),
            PutMode::Update(expected) => {
                let found = returned_version(&found, self.location(), &record).transpose()?;
                Err(StoreError::VersionMismatch {
                    provider: record.provider,
                    subject: record.subject,
                    expected,
                    found,
                })
            }
            PutMode::Overwrite => Err(backend(
                self.location(),
                "overwrite",
                "the upsert returned no version",
            )),
        }
    }

    /// The record for a claim that lost is read in the same pool checkout, right after the
    /// UPDATE that matched nothing.
    async fn update_or_read(
        &self,
        record: CredentialRecord,
        expected: Version,
    ) -> Result<Updated, StoreError> {
        let (rows, current) = self.update_then(&record, expected, SELECT_ONE).await?;
        match returned_version(&rows, self.location(), &record) {
            Some(version) => Ok(Updated::Written(version?)),
            None => Ok(Updated::Changed(
                current.first().map(|row| self.decode(row)).transpose()?,
            )),
        }
    }

    async fn delete(&self, provider: &str, subject: &str) -> Result<bool, StoreError> {
        let rows = self
            .query(
                "delete",
                "DELETE FROM integrations_credentials WHERE provider = $1 AND subject = $2 RETURNING version",
                &[&provider, &subject],
            )
            .await?;
        Ok(!rows.is_empty())
    }

    async fn list(&self, provider: Option<&str>) -> Result<Vec<StoredCredential>, StoreError> {
        let rows = match provider {
            Some(provider) => self.query("list", SELECT_PROVIDER, &[&provider]).await?,
            None => self.query("list", SELECT_ALL, &[]).await?,
        };
        rows.iter().map(|row| self.decode(row)).collect()
    }

    async fn list_subjects(
        &self,
        provider: Option<&str>,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let rows = match provider {
            Some(provider) => {
                self.query(
                    "list subjects",
                    "SELECT provider, subject FROM integrations_credentials WHERE provider = $1 ORDER BY provider, subject",
                    &[&provider],
                )
                .await?
            }
            None => {
                self.query(
                    "list subjects",
                    "SELECT provider, subject FROM integrations_credentials ORDER BY provider, subject",
                    &[],
                )
                .await?
            }
        };
        Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
    }

    /// In one transaction.
    async fn replace_payloads(
        &self,
        replacements: Vec<PayloadReplacement>,
    ) -> Result<usize, StoreError> {
        self.run(
            "replace payloads",
            self.limit(replacements.len() + 3),
            async |client| {
                let tx = client.transaction().await?;
                let statement = tx
                    .prepare_cached(
                        "UPDATE integrations_credentials SET payload = $4 \
                         WHERE provider = $1 AND subject = $2 AND version = $3",
                    )
                    .await?;
                let mut replaced = 0;
                for r in &replacements {
                    let Some(version) = db_version(r.version) else {
                        continue;
                    };
                    let count = tx
                        .execute(
                            &statement,
                            &[&r.provider, &r.subject, &version, &r.payload.expose_bytes()],
                        )
                        .await?;
                    replaced += usize::try_from(count).unwrap_or(usize::MAX);
                }
                tx.commit().await?;
                Ok(replaced)
            },
        )
        .await
    }

    /// Waits for the notification of a write to the record, at most `max_wait` (and 2 s, in case
    /// the write came just before the wait began); sleeps `poll_interval` while the listener is
    /// reconnecting.
    async fn wait_for_change(
        &self,
        provider: &str,
        subject: &str,
        poll_interval: Duration,
        max_wait: Duration,
    ) {
        self.inner
            .listener
            .wait_for_change(provider, subject, poll_interval, max_wait)
            .await;
    }

    fn describe(&self) -> String {
        format!("postgres:{}", self.inner.location)
    }
}
