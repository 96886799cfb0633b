//! # store-sqlite
//!
//! [`SqliteCredentialStore`], the embedded default [`CredentialStore`] of `integrations`: one SQLite
//! file (SQLite is compiled in; no system library is needed) that several processes can share.
//!
//! - **Durable.** WAL journal with `synchronous=FULL`: every acknowledged write has been fsynced
//!   (on macOS with `F_FULLFSYNC`, as a plain `fsync` leaves it in the drive's cache there), so
//!   it survives a crash or a power loss. `secure_delete` zeroes overwritten payloads in the main
//!   file (older page images stay in the `-wal` file until SQLite reuses it; [`rotate`] truncates
//!   it).
//!
//! [`rotate`]: EncryptedStore::rotate
//! - **Concurrent.** A conditional put ([`PutMode::Update`]) is one `BEGIN IMMEDIATE` transaction
//!   that checks the version column and writes: exactly one of several racing writers, in this or
//!   any other process, wins. Lock waits use a busy timeout (5 s by default), after which the call
//!   fails with a transient [`StoreError::Io`] of kind `TimedOut`, as the file store's lock wait
//!   does.
//! - **Async without blocking the runtime.** Each store owns up to two threads, one per connection,
//!   and sends them jobs over a channel: a query-only reader, so that reads never wait behind an
//!   fsync, opened (with every check of the file) when the store is opened; and a writer, started
//!   at the first write, so that a process that only reads waits for one thread, once. Statements
//!   are prepared once and cached.
//! - **Versioned schema.** `PRAGMA user_version` holds [`SCHEMA_VERSION`]; older files are migrated
//!   on open, newer ones are refused with [`StoreError::UnsupportedVersion`]. A file that is not a
//!   credential database, or one cut short or garbled, is refused with [`StoreError::Corrupt`]
//!   naming its path, and left untouched.
//! - **Encrypted at rest** when a key is configured: [`SqliteCredentialStore::open`] and the
//!   builder return the store inside an [`EncryptedStore`], which seals each payload bound to the
//!   record's provider, subject and version ([`auth_core::crypto`]); the store itself keeps
//!   payloads as opaque bytes. Provider, subject, version, status, lease and timestamps stay in
//!   clear so that lookups and conditional puts need no key. A plaintext record is refused while a
//!   key is configured ([`StoreError::Unencrypted`]) until [`rotate`] encrypts it. Without a key
//!   the store is plaintext and says so once at open with a `tracing` warning. Payloads sealed by
//!   releases before [`EncryptedStore`] (key id, nonce and seal format in their own columns) are
//!   still read, and [`rotate`] rewrites them as opaque payloads.
//!
//! The file and its directory are created with modes 0600 and 0700 (unix). An existing database,
//! `-wal` or `-shm` file that other users may read or write is restricted to its owner at open,
//! with a warning (or the open fails if that is not possible); an existing directory is left as it
//! is.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use auth_core::crypto::{EncryptionKey, KeyRing};
//! use auth_core::{CredentialRecord, CredentialStore, Payload, PutMode, StoreError};
//! use store_sqlite::SqliteCredentialStore;
//!
//! let dir = tempfile::tempdir().unwrap();
//! let store = SqliteCredentialStore::builder(dir.path().join("credentials.db"))
//!     .key_ring(KeyRing::new(EncryptionKey::generate()))
//!     .open()
//!     .await?;
//!
//! let record = CredentialRecord::new("asana", "user-1", Payload::new(br#"{"access_token":"t1"}"#.to_vec()));
//! let v1 = store.put(record, PutMode::Create).await?;
//!
//! // A conditional update succeeds only while the version is still the one read.
//! let next = CredentialRecord::new("asana", "user-1", Payload::new(br#"{"access_token":"t2"}"#.to_vec()));
//! let v2 = store.put(next.clone(), PutMode::Update(v1)).await?;
//! assert!(matches!(
//!     store.put(next, PutMode::Update(v1)).await,
//!     Err(StoreError::VersionMismatch { .. })
//! ));
//!
//! let got = store.get("asana", "user-1").await?.expect("stored");
//! assert_eq!(got.version, v2);
//! assert_eq!(got.record.payload.expose_bytes(), br#"{"access_token":"t2"}"#);
//! assert!(store.describe().starts_with("sqlite:"));
//! store.into_inner().close().await?;
//! # Ok::<(), StoreError>(())
//! # }).unwrap();
//! ```
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod schema;
mod worker;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use auth_core::crypto::{
    Envelope, KeySource, NONCE_LEN, SealFormat, SealedPayload, log_encryption_status,
};
use auth_core::store::{
    PayloadReplacement, millis_since_epoch as to_millis, next_version,
    time_from_millis as from_millis,
};
use auth_core::{
    CredentialRecord, CredentialStatus, CredentialStore, EncryptedStore, Payload, PutMode,
    RefreshLease, StoreError, StoredCredential, Version,
};
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};
use tokio::sync::OnceCell;

use schema::{Role, STORE};
pub use schema::{SCHEMA_VERSION, retry_while_busy, sql_error};
use worker::Worker;

/// How long a connection waits for another one's lock before failing, unless the builder says
/// otherwise.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The columns every query reads, in the order [`RawRow::read`] takes them.
macro_rules! columns {
    () => {
        "provider, subject, version, status, lease_holder, lease_expires_ms, created_ms, updated_ms, key_id, nonce, payload, seal_format"
    };
}

const SELECT_ONE: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM credentials WHERE provider = ?1 AND subject = ?2"
);
const SELECT_PROVIDER: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM credentials WHERE provider = ?1 ORDER BY provider, subject"
);
const SELECT_ALL: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM credentials ORDER BY provider, subject"
);
const UPSERT: &str = concat!(
    "INSERT OR REPLACE INTO credentials (",
    columns!(),
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
);

/// A [`CredentialStore`] in a SQLite database, keeping payloads as opaque bytes. Cheap to clone:
/// clones share the connections. [`SqliteCredentialStore::open`] and the builder return it inside
/// an [`EncryptedStore`], which encrypts when a key is configured.
///
/// `Debug` shows the location, never a payload.
#[derive(Clone)]
pub struct SqliteCredentialStore {
    inner: Arc<Inner>,
}

struct Inner {
    /// The path, shown in errors: shared with every job, so cloning it costs no allocation.
    location: Arc<str>,
    reader: Worker,
    writer: Writer,
}

/// Where writes go.
enum Writer {
    /// An in-memory database has one connection, which serves reads and writes.
    Reader,
    /// A file's writer connection, opened on its own thread at the first write.
    Lazy {
        worker: OnceCell<Worker>,
        path: PathBuf,
        busy_timeout: Duration,
    },
}

impl SqliteCredentialStore {
    /// Opens (creating if needed) the database at `path`, encrypted with
    /// [`KeyRing::from_env`](auth_core::crypto::KeyRing::from_env) when
    /// `INTEGRATIONS_ENCRYPTION_KEY` is set and plaintext otherwise.
    ///
    /// Whether the tokens are encrypted is decided by the process environment, not by the code:
    /// without `INTEGRATIONS_ENCRYPTION_KEY`, this stores every token in clear, and the only sign
    /// is one `tracing` warning at open (unseen unless the application installs a subscriber).
    /// To decide in code, use the builder: [`SqliteStoreBuilder::key_ring`] always encrypts,
    /// whatever the environment says, and [`SqliteStoreBuilder::unencrypted`] never does.
    /// [`EncryptedStore::is_encrypted`] says which a store is.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use auth_core::crypto::{EncryptionKey, KeyRing};
    /// use store_sqlite::SqliteCredentialStore;
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// // Your key, from wherever you keep secrets (`EncryptionKey::from_base64`).
    /// let ring = KeyRing::new(EncryptionKey::generate());
    /// let encrypted = SqliteCredentialStore::builder(dir.path().join("credentials.db"))
    ///     .key_ring(ring)
    ///     .open()
    ///     .await?;
    /// assert!(encrypted.is_encrypted());
    ///
    /// // Plaintext on purpose (tests, throwaway tools).
    /// let plain = SqliteCredentialStore::builder(dir.path().join("plain.db"))
    ///     .unencrypted()
    ///     .open()
    ///     .await?;
    /// assert!(!plain.is_encrypted());
    /// # Ok::<(), auth_core::StoreError>(())
    /// # }).unwrap();
    /// ```
    pub async fn open(path: impl AsRef<Path>) -> Result<EncryptedStore<Self>, StoreError> {
        Self::builder(path).open().await
    }

    /// A private, empty in-memory database (plaintext, gone when the last clone is dropped): for
    /// tests and short-lived tools.
    pub async fn open_in_memory() -> Result<EncryptedStore<Self>, StoreError> {
        SqliteStoreBuilder::in_memory().open().await
    }

    /// A builder for the database at `path`, to set the key ring or the busy timeout.
    pub fn builder(path: impl AsRef<Path>) -> SqliteStoreBuilder {
        SqliteStoreBuilder {
            path: Some(path.as_ref().to_path_buf()),
            encryption: KeySource::FromEnv,
            busy_timeout: DEFAULT_BUSY_TIMEOUT,
        }
    }

    /// Closes this handle. When it is the last one, waits until its connections are closed (SQLite
    /// then checkpoints the WAL into the main file). Other clones keep working.
    pub async fn close(self) -> Result<(), StoreError> {
        let Ok(inner) = Arc::try_unwrap(self.inner) else {
            return Ok(());
        };
        inner.reader.close().await?;
        match inner.writer {
            Writer::Lazy { worker, .. } => match worker.into_inner() {
                Some(writer) => writer.close().await,
                None => Ok(()),
            },
            Writer::Reader => Ok(()),
        }
    }

    fn reader(&self) -> &Worker {
        &self.inner.reader
    }

    /// The writer connection's thread, started (and its connection opened) at the first call.
    /// If opening fails, the call fails and the next write tries again.
    async fn writer(&self) -> Result<&Worker, StoreError> {
        match &self.inner.writer {
            Writer::Reader => Ok(&self.inner.reader),
            Writer::Lazy {
                worker,
                path,
                busy_timeout,
            } => {
                worker
                    .get_or_try_init(|| {
                        let (path, location) = (path.clone(), self.inner.location.to_string());
                        let timeout = *busy_timeout;
                        Worker::spawn("sqlite-store-writer", location.clone(), move || {
                            schema::open_file(&path, &location, timeout, Role::Writer)
                        })
                    })
                    .await
            }
        }
    }

    fn decode(&self, row: RawRow) -> Result<StoredCredential, StoreError> {
        row.decode(&self.inner.location)
    }
}

impl fmt::Debug for SqliteCredentialStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteCredentialStore")
            .field("location", &self.inner.location)
            .finish()
    }
}

/// Options for opening a [`SqliteCredentialStore`] inside an [`EncryptedStore`].
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use std::time::Duration;
/// use auth_core::crypto::{EncryptionKey, KeyRing};
/// use store_sqlite::SqliteCredentialStore;
///
/// let dir = tempfile::tempdir().unwrap();
/// let old = EncryptionKey::generate();
/// let new = EncryptionKey::generate();
/// let store = SqliteCredentialStore::builder(dir.path().join("creds.db"))
///     .key_ring(KeyRing::new(new).with_old_key(old))
///     .busy_timeout(Duration::from_secs(10))
///     .open()
///     .await?;
/// assert!(store.is_encrypted());
/// assert_eq!(store.rotate().await?, 0);
/// # Ok::<(), auth_core::StoreError>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
#[must_use]
pub struct SqliteStoreBuilder {
    /// `None` for an in-memory database.
    path: Option<PathBuf>,
    encryption: KeySource,
    busy_timeout: Duration,
}

impl SqliteStoreBuilder {
    /// A builder for a private in-memory database.
    pub fn in_memory() -> Self {
        Self {
            path: None,
            encryption: KeySource::Plaintext,
            busy_timeout: DEFAULT_BUSY_TIMEOUT,
        }
    }

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

    /// How long to wait for another connection's lock before failing with [`StoreError::Io`]
    /// (kind `TimedOut`, a transient error). Default [`DEFAULT_BUSY_TIMEOUT`].
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// Opens the database: creates the file if needed, switches it to WAL, and migrates the schema.
    pub async fn open(self) -> Result<EncryptedStore<SqliteCredentialStore>, StoreError> {
        let keys = self.encryption.resolve()?;
        let inner = match self.path {
            None => Inner {
                location: Arc::from(":memory:"),
                reader: Worker::spawn("sqlite-store", ":memory:".into(), schema::open_memory)
                    .await?,
                writer: Writer::Reader,
            },
            Some(path) => {
                let location = path.display().to_string();
                let timeout = self.busy_timeout;
                let (reader_path, reader_location) = (path.clone(), location.clone());
                let reader = Worker::spawn("sqlite-store-reader", location.clone(), move || {
                    schema::open_file(&reader_path, &reader_location, timeout, Role::Reader)
                })
                .await?;
                log_encryption_status(&format!("sqlite:{location}"), keys.as_ref());
                Inner {
                    location: Arc::from(location),
                    reader,
                    writer: Writer::Lazy {
                        worker: OnceCell::new(),
                        path,
                        busy_timeout: timeout,
                    },
                }
            }
        };
        let store = SqliteCredentialStore {
            inner: Arc::new(inner),
        };
        Ok(EncryptedStore::with_keys(store, keys))
    }
}

#[async_trait]
impl CredentialStore for SqliteCredentialStore {
    async fn get(
        &self,
        provider: &str,
        subject: &str,
    ) -> Result<Option<StoredCredential>, StoreError> {
        let (provider, subject) = (provider.to_string(), subject.to_string());
        let location = self.inner.location.clone();
        let row = self
            .reader()
            .run(move |conn| {
                conn.prepare_cached(SELECT_ONE)
                    .and_then(|mut stmt| {
                        stmt.query_row(params![provider, subject], RawRow::read)
                            .optional()
                    })
                    .map_err(|e| sql_error(&location, e))
            })
            .await?;
        row.map(|row| self.decode(row)).transpose()
    }

    async fn put(&self, record: CredentialRecord, mode: PutMode) -> Result<Version, StoreError> {
        let location = self.inner.location.clone();
        self.writer()
            .await?
            .run(move |conn| put_blocking(conn, &record, mode, &location))
            .await
    }

    async fn delete(&self, provider: &str, subject: &str) -> Result<bool, StoreError> {
        let (provider, subject) = (provider.to_string(), subject.to_string());
        let location = self.inner.location.clone();
        self.writer()
            .await?
            .run(move |conn| {
                conn.prepare_cached("DELETE FROM credentials WHERE provider = ?1 AND subject = ?2")
                    .and_then(|mut stmt| stmt.execute(params![provider, subject]))
                    .map(|deleted| deleted > 0)
                    .map_err(|e| sql_error(&location, e))
            })
            .await
    }

    async fn list(&self, provider: Option<&str>) -> Result<Vec<StoredCredential>, StoreError> {
        let provider = provider.map(str::to_string);
        let location = self.inner.location.clone();
        let rows: Vec<RawRow> = self
            .reader()
            .run(move |conn| {
                let rows = match &provider {
                    Some(provider) => conn
                        .prepare_cached(SELECT_PROVIDER)
                        .and_then(|mut stmt| stmt.query_map([provider], RawRow::read)?.collect()),
                    None => conn
                        .prepare_cached(SELECT_ALL)
                        .and_then(|mut stmt| stmt.query_map([], RawRow::read)?.collect()),
                };
                rows.map_err(|e| sql_error(&location, e))
            })
            .await?;
        rows.into_iter().map(|row| self.decode(row)).collect()
    }

    async fn list_subjects(
        &self,
        provider: Option<&str>,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let provider = provider.map(str::to_string);
        let location = self.inner.location.clone();
        self.reader()
            .run(move |conn| {
                let key = |row: &Row<'_>| Ok((row.get(0)?, row.get(1)?));
                let keys = match &provider {
                    Some(provider) => conn
                        .prepare_cached(
                            "SELECT provider, subject FROM credentials WHERE provider = ?1 ORDER BY provider, subject",
                        )
                        .and_then(|mut stmt| stmt.query_map([provider], key)?.collect()),
                    None => conn
                        .prepare_cached(
                            "SELECT provider, subject FROM credentials ORDER BY provider, subject",
                        )
                        .and_then(|mut stmt| stmt.query_map([], key)?.collect()),
                };
                keys.map_err(|e| sql_error(&location, e))
            })
            .await
    }

    /// In one transaction; afterwards the WAL is checkpointed and truncated, so that no earlier
    /// form of a replaced payload is left in the `-wal` file.
    async fn replace_payloads(
        &self,
        replacements: Vec<PayloadReplacement>,
    ) -> Result<usize, StoreError> {
        let location = self.inner.location.clone();
        self.writer()
            .await?
            .run(move |conn| replace_blocking(conn, &replacements, &location))
            .await
    }

    fn describe(&self) -> String {
        format!("sqlite:{}", self.inner.location)
    }
}

/// One row as read. Rows written before [`EncryptedStore`] hold a sealed payload's key id, nonce and
/// seal format in their own columns; the store hands such a payload up as an [`Envelope`] and
/// writes every payload as opaque bytes, those columns empty.
struct RawRow {
    provider: String,
    subject: String,
    version: i64,
    status: String,
    lease_holder: Option<String>,
    lease_expires_ms: Option<i64>,
    created_ms: i64,
    updated_ms: i64,
    key_id: Option<String>,
    nonce: Option<Vec<u8>>,
    payload: Payload,
    seal_format: Option<i64>,
}

impl RawRow {
    /// Reads the columns of `columns!()`, in order.
    fn read(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            provider: row.get(0)?,
            subject: row.get(1)?,
            version: row.get(2)?,
            status: row.get(3)?,
            lease_holder: row.get(4)?,
            lease_expires_ms: row.get(5)?,
            created_ms: row.get(6)?,
            updated_ms: row.get(7)?,
            key_id: row.get(8)?,
            nonce: row.get(9)?,
            payload: Payload::new(row.get(10)?),
            seal_format: row.get(11)?,
        })
    }

    fn corrupt(&self, location: &str, what: &str) -> StoreError {
        StoreError::Corrupt {
            store: STORE,
            location: location.to_string(),
            reason: format!(
                "the record for {}/{} has {what}",
                self.provider, self.subject
            ),
        }
    }

    /// The row's version.
    fn version(&self, location: &str) -> Result<Version, StoreError> {
        Version::try_from(self.version).map_err(|_| self.corrupt(location, "a negative version"))
    }

    /// Moves the payload out of the row: as stored, or as an [`Envelope`] when the row keeps a
    /// sealed payload in the columns of earlier releases.
    fn take_payload(&mut self, location: &str) -> Result<Payload, StoreError> {
        let payload = std::mem::replace(&mut self.payload, Payload::new(Vec::new()));
        match (self.key_id.take(), self.nonce.take(), self.seal_format) {
            (None, None, None) => Ok(payload),
            (Some(key_id), Some(nonce), format) => {
                let nonce: [u8; NONCE_LEN] = nonce
                    .as_slice()
                    .try_into()
                    .map_err(|_| self.corrupt(location, "a nonce of the wrong length"))?;
                // No format: sealed by a release before schema 2.
                let format = match format {
                    None => SealFormat::Legacy,
                    Some(number) => u8::try_from(number)
                        .ok()
                        .and_then(SealFormat::from_number)
                        .ok_or_else(|| {
                            self.corrupt(location, &format!("an unknown seal format {number}"))
                        })?,
                };
                let sealed = SealedPayload {
                    key_id,
                    nonce,
                    ciphertext: payload.expose_bytes().to_vec(),
                    format,
                };
                Ok(Payload::new(
                    Envelope::from_earlier_layout(sealed).to_bytes(),
                ))
            }
            _ => Err(self.corrupt(
                location,
                "a key id without a nonce, or a nonce or a seal format without a key id",
            )),
        }
    }

    /// The stored credential.
    fn decode(mut self, location: &str) -> Result<StoredCredential, StoreError> {
        let version = self.version(location)?;
        let status = CredentialStatus::parse(&self.status)
            .ok_or_else(|| self.corrupt(location, "an unknown status"))?;
        let lease = match (&self.lease_holder, self.lease_expires_ms) {
            (None, None) => None,
            (Some(holder), Some(ms)) => Some(RefreshLease {
                holder: holder.clone(),
                expires_at: from_millis(ms),
            }),
            _ => return Err(self.corrupt(location, "half a refresh lease")),
        };
        let (created_at, updated_at) = (from_millis(self.created_ms), from_millis(self.updated_ms));
        let payload = self.take_payload(location)?;
        Ok(StoredCredential {
            record: CredentialRecord {
                provider: self.provider,
                subject: self.subject,
                payload,
                status,
                lease,
            },
            version,
            created_at,
            updated_at,
        })
    }
}

/// The conditional put: one immediate transaction that reads the version, checks it against
/// `mode` with [`next_version`], and writes.
fn put_blocking(
    conn: &mut Connection,
    record: &CredentialRecord,
    mode: PutMode,
    location: &str,
) -> Result<Version, StoreError> {
    let err = |e| sql_error(location, e);
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(err)?;
    let current: Option<(i64, i64)> = tx
        .prepare_cached(
            "SELECT version, created_ms FROM credentials WHERE provider = ?1 AND subject = ?2",
        )
        .and_then(|mut stmt| {
            stmt.query_row(params![record.provider, record.subject], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .optional()
        })
        .map_err(err)?;
    let current_version = current
        .map(|(v, _)| Version::try_from(v))
        .transpose()
        .map_err(|_| StoreError::Corrupt {
            store: STORE,
            location: location.to_string(),
            reason: format!(
                "the record for {}/{} has a negative version",
                record.provider, record.subject
            ),
        })?;
    let version = next_version(
        STORE,
        location,
        &record.provider,
        &record.subject,
        current_version,
        mode,
    )?;
    let now = to_millis(SystemTime::now());
    let created = current.map_or(now, |(_, created)| created);
    let (lease_holder, lease_expires) = match &record.lease {
        Some(lease) => (
            Some(lease.holder.as_str()),
            Some(to_millis(lease.expires_at)),
        ),
        None => (None, None),
    };
    tx.prepare_cached(UPSERT)
        .and_then(|mut stmt| {
            stmt.execute(params![
                record.provider,
                record.subject,
                i64::try_from(version).unwrap_or(i64::MAX),
                record.status.as_str(),
                lease_holder,
                lease_expires,
                created,
                now,
                None::<&str>,
                None::<&[u8]>,
                record.payload.expose_bytes(),
                None::<u8>,
            ])
        })
        .map_err(err)?;
    tx.commit().map_err(err)?;
    Ok(version)
}

/// Replaces the payloads of the records still at their versions, in one transaction, clearing the
/// columns of earlier releases; then truncates the WAL if anything changed.
fn replace_blocking(
    conn: &mut Connection,
    replacements: &[PayloadReplacement],
    location: &str,
) -> Result<usize, StoreError> {
    let err = |e| sql_error(location, e);
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(err)?;
    let mut count = 0;
    {
        let mut update = tx
            .prepare(
                "UPDATE credentials SET payload = ?4, key_id = NULL, nonce = NULL, seal_format = NULL \
                 WHERE provider = ?1 AND subject = ?2 AND version = ?3",
            )
            .map_err(err)?;
        for r in replacements {
            let Ok(version) = i64::try_from(r.version) else {
                continue;
            };
            count += update
                .execute(params![
                    r.provider,
                    r.subject,
                    version,
                    r.payload.expose_bytes()
                ])
                .map_err(err)?;
        }
    }
    tx.commit().map_err(err)?;
    if count > 0 {
        // Best effort: a reader in another process may keep part of the WAL alive until it ends.
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .map_err(err)?;
    }
    Ok(count)
}
