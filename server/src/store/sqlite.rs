//! [`SqliteServiceStore`]: the service's records in one SQLite file (`service.db`), with its own
//! `PRAGMA user_version` migrations. Every statement runs on a connection's own thread
//! ([`ConnectionThread`]): writes on the writer's; for a file, reads on a second, read-only
//! connection, so that they never wait for a write's `fsync` (WAL readers see every committed
//! write).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use integrations::auth_core::local_files;
use integrations::{CredentialStatus, StoreError};
use rusqlite::{Connection, OptionalExtension, Row, named_params, params};

use super::connection_thread::ConnectionThread;
use super::{
    ApplicationRecord, AuditEntry, AuthKind, ConnectorFilter, ConnectorRecord, Issuer,
    JoinedCredentials, OAuthAppRecord, OAuthAppSource, OAuthSecretClaim, OAuthSecretRecord,
    OAuthStateRecord, Sealed, SealedAt, SealedValue, ServiceStore, TokenAndConnector, TokenInsert,
    TokenRecord, joined_status,
};
use crate::error::ServiceStoreError;

/// The schema this release writes; each entry of [`MIGRATIONS`] moves a file one version up.
const SCHEMA_VERSION: i64 = 5;

/// `MIGRATIONS[n]` takes a file from version `n` to `n + 1`.
const MIGRATIONS: &[&str] = &[
    "
CREATE TABLE applications (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    client_id TEXT NOT NULL UNIQUE,
    client_secret_hash TEXT NOT NULL,
    redirect_origins TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE TABLE tokens (
    token_hash TEXT PRIMARY KEY,
    application_id TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    customer TEXT,
    expires_ms INTEGER NOT NULL
);
CREATE INDEX tokens_by_application ON tokens(application_id);
CREATE INDEX tokens_by_expiry ON tokens(expires_ms);
CREATE TABLE connectors (
    id TEXT PRIMARY KEY,
    application_id TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    customer_name TEXT NOT NULL,
    connector_type TEXT NOT NULL,
    definition_id TEXT NOT NULL,
    name TEXT NOT NULL,
    auth_kind TEXT NOT NULL,
    oauth_app TEXT,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE INDEX connectors_by_customer ON connectors(application_id, customer_name);
CREATE TABLE oauth_apps (
    application_id TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    connector_type TEXT NOT NULL,
    client_id TEXT NOT NULL,
    client_secret BLOB NOT NULL,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (application_id, connector_type)
);
CREATE TABLE oauth_states (
    state_hash TEXT PRIMARY KEY,
    application_id TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    customer_name TEXT NOT NULL,
    connector_type TEXT NOT NULL,
    name TEXT,
    pkce_verifier BLOB NOT NULL,
    redirect_uri TEXT NOT NULL,
    scopes TEXT NOT NULL,
    redirect_url TEXT NOT NULL,
    oauth_app TEXT NOT NULL,
    expires_ms INTEGER NOT NULL
);
CREATE TABLE audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    at_ms INTEGER NOT NULL,
    application_id TEXT NOT NULL,
    customer_name TEXT,
    connector_id TEXT,
    operation TEXT NOT NULL,
    entity TEXT,
    action TEXT,
    param_names TEXT NOT NULL,
    outcome TEXT NOT NULL,
    status INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL
);
CREATE INDEX audit_by_application ON audit(application_id, seq);
",
    "
ALTER TABLE connectors ADD COLUMN read_only INTEGER NOT NULL DEFAULT 0;
",
    "
CREATE TABLE token_expiry (
    connector_id TEXT PRIMARY KEY REFERENCES connectors(id) ON DELETE CASCADE,
    expires_ms INTEGER NOT NULL,
    claimed_until_ms INTEGER
);
CREATE INDEX token_expiry_by_expiry ON token_expiry(expires_ms);
",
    "
CREATE TABLE oauth_secrets (
    secret_hash TEXT PRIMARY KEY,
    connector_id TEXT NOT NULL REFERENCES connectors(id) ON DELETE CASCADE,
    application_id TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    customer_name TEXT NOT NULL,
    connector_type TEXT NOT NULL,
    expires_ms INTEGER NOT NULL
);
CREATE INDEX oauth_secrets_by_connector ON oauth_secrets(connector_id);
CREATE INDEX oauth_secrets_by_expiry ON oauth_secrets(expires_ms);
",
    // The listing's order, so that a page reads only its own rows.
    "
CREATE INDEX connectors_in_order ON connectors(application_id, created_ms, id);
",
];

/// The listing of an application's connectors, in order, from after a position, at most a
/// limit: read along `connectors_in_order`, never sorted.
fn list_connectors_statement() -> String {
    format!(
        "SELECT {CONNECTOR_COLUMNS} FROM connectors WHERE application_id = ?1 \
         AND (?2 IS NULL OR customer_name = ?2) AND (?3 IS NULL OR connector_type = ?3) \
         AND (?4 IS NULL OR created_ms > ?4 OR (created_ms = ?4 AND id > ?5)) \
         ORDER BY created_ms, id LIMIT ?6"
    )
}

const APPLICATION_COLUMNS: &str =
    "id, name, organization_id, client_id, client_secret_hash, redirect_origins, created_ms";
const CONNECTOR_COLUMNS: &str = "id, application_id, customer_name, connector_type, definition_id, name, auth_kind, oauth_app, created_ms, updated_ms, read_only";
const SECRET_COLUMNS: &str =
    "secret_hash, connector_id, application_id, customer_name, connector_type, expires_ms";
const TOKEN_BY_HASH: &str =
    "SELECT token_hash, application_id, customer, expires_ms FROM tokens WHERE token_hash = ?1";
/// [`TOKEN_BY_HASH`]'s columns, then [`CONNECTOR_COLUMNS`] of the connector (all null when there
/// is no such connector).
macro_rules! token_and_connector_columns {
    () => {
        "SELECT t.token_hash, t.application_id, t.customer, t.expires_ms, \
         c.id, c.application_id, c.customer_name, c.connector_type, c.definition_id, c.name, c.auth_kind, \
         c.oauth_app, c.created_ms, c.updated_ms, c.read_only"
    };
}
/// The token with hash `?1` and its application's connector with id `?2`.
macro_rules! token_and_connector_tables {
    () => {
        " FROM tokens t LEFT JOIN connectors c ON c.id = ?2 AND c.application_id = t.application_id"
    };
}
/// The schema name the reader attaches the credential store's database under.
macro_rules! credential_schema {
    () => {
        "credential_store"
    };
}
/// A token and its application's connector with id `?2`, in one statement.
const TOKEN_AND_CONNECTOR: &str = concat!(
    token_and_connector_columns!(),
    token_and_connector_tables!(),
    " WHERE t.token_hash = ?1"
);
/// [`TOKEN_AND_CONNECTOR`], and the connector's credential status from the credential store's
/// table (`credentials` of store-sqlite: its status column, kept in the clear beside the
/// encrypted payload), null when it holds no credentials for the connector.
const TOKEN_CONNECTOR_AND_STATUS: &str = concat!(
    token_and_connector_columns!(),
    ", k.status",
    token_and_connector_tables!(),
    " LEFT JOIN ",
    credential_schema!(),
    ".credentials k ON k.provider = c.connector_type AND k.subject = c.id",
    " WHERE t.token_hash = ?1"
);
/// The key of the credential store's first record, by its primary key.
const FIRST_CREDENTIAL: &str = concat!(
    "SELECT provider, subject FROM ",
    credential_schema!(),
    ".credentials ORDER BY provider, subject LIMIT 1"
);
/// The audit's columns, in the order of [`INSERT_AUDIT`]'s parameters.
macro_rules! audit_columns {
    () => {
        "id, at_ms, application_id, customer_name, connector_id, operation, entity, action, param_names, outcome, status, duration_ms"
    };
}
const AUDIT_COLUMNS: &str = audit_columns!();
/// One audit entry (a constant: its cached statement is found without building the text first).
const INSERT_AUDIT: &str = concat!(
    "INSERT INTO audit (",
    audit_columns!(),
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
);

/// The service's store in a SQLite database. Cheap to clone: clones share the connections.
#[derive(Clone)]
pub struct SqliteServiceStore {
    writer: Arc<ConnectionThread>,
    /// A read-only connection to the same file; the writer itself for an in-memory database.
    reader: Arc<ConnectionThread>,
    location: Arc<str>,
    audit: Arc<Mutex<AuditQueue>>,
    /// Whether the reader has the credential store's database attached, so that [`ServiceStore::token_and_connector`] reads each
    /// connector's credential status in the same statement.
    statuses: bool,
}

/// Audit entries waiting to be written, and whether a writer is on its way. Concurrent appends
/// share one transaction (group commit): one `fsync` for the batch instead of one per entry, and
/// every caller still answers only once its entry is committed.
#[derive(Default)]
struct AuditQueue {
    entries: Vec<(
        AuditEntry,
        tokio::sync::oneshot::Sender<rusqlite::Result<()>>,
    )>,
    writing: bool,
}

impl std::fmt::Debug for SqliteServiceStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteServiceStore")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

impl SqliteServiceStore {
    /// Opens (creating and migrating if needed) the database at `path`. A connector's credential
    /// status is left to the credential store ([`ServiceStore::token_and_connector`] answers
    /// none).
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, ServiceStoreError> {
        Self::open_file(path.as_ref(), None).await
    }

    /// As [`SqliteServiceStore::open`], beside the database of a
    /// [`SqliteCredentialStore`](integrations::SqliteCredentialStore) at `credentials` (opened
    /// already, so that its schema exists): the reader attaches that file, and
    /// [`ServiceStore::token_and_connector`] reads each connector's credential status in the same
    /// statement as the token and the connector, as the credential store would answer it (active,
    /// or needing re-authorization when it is marked so or holds no credentials), without a call
    /// to the credential store. Only the status column is read; credentials stay where they are,
    /// encrypted when that store encrypts them.
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
    /// use integrations::SqliteCredentialStore;
    /// use integrations_server::SqliteServiceStore;
    ///
    /// let credentials = SqliteCredentialStore::open("data/credentials.db").await?;
    /// let service =
    ///     SqliteServiceStore::open_with_credentials("data/service.db", "data/credentials.db")
    ///         .await?;
    /// # drop((credentials, service));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn open_with_credentials(
        path: impl AsRef<Path>,
        credentials: impl AsRef<Path>,
    ) -> Result<Self, ServiceStoreError> {
        Self::open_file(path.as_ref(), Some(credentials.as_ref().to_path_buf())).await
    }

    /// Opens the database at `path`; its reader attaches the credential database at
    /// `credentials`, when given.
    async fn open_file(
        path: &Path,
        credentials: Option<PathBuf>,
    ) -> Result<Self, ServiceStoreError> {
        let path = path.to_path_buf();
        let location: Arc<str> = path.display().to_string().into();
        let at = location.clone();
        let opened = path.clone();
        let connection = tokio::task::spawn_blocking(move || {
            let path = opened;
            create_owner_only(&path)
                .map_err(|e| backend("created the database", &at, e.to_string()))?;
            // The switch to WAL takes the database's lock, and SQLite answers "busy" at once,
            // without its busy handler, to a connection that meets another's switch: processes
            // opening a new file at the same moment try again for a while.
            let connection = store_sqlite::retry_while_busy(
                Duration::from_secs(5),
                || {
                    let c = Connection::open(&path)?;
                    c.busy_timeout(Duration::from_secs(5))?;
                    c.pragma_update(None, "journal_mode", "WAL")?;
                    c.pragma_update(None, "synchronous", "FULL")?;
                    Ok(c)
                },
                |e: &rusqlite::Error| {
                    e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy)
                },
            )
            .map_err(|e| sqlite_error("opened the database", &at, e))?;
            for suffix in ["", "-wal", "-shm"] {
                let file = local_files::sibling(&path, suffix);
                local_files::restrict_to_owner(&file, "service", &at, |e| StoreError::Io {
                    store: "service",
                    location: at.to_string(),
                    source: e,
                })
                .map_err(|e| backend("restricted the database to its owner", &at, e.to_string()))?;
            }
            Ok::<_, ServiceStoreError>(connection)
        })
        .await
        .map_err(|e| backend("opened the database", &location, e.to_string()))??;
        Self::prepare(connection, location, Some((path, credentials))).await
    }

    /// A private in-memory database (for tests).
    pub async fn open_in_memory() -> Result<Self, ServiceStoreError> {
        let location: Arc<str> = ":memory:".into();
        let connection = Connection::open_in_memory()
            .map_err(|e| sqlite_error("opened the database", &location, e))?;
        Self::prepare(connection, location, None).await
    }

    /// Migrates the schema on `connection` and, for the file at `path`, opens the reader
    /// connection beside it (which attaches the credential database, when given).
    async fn prepare(
        connection: Connection,
        location: Arc<str>,
        path: Option<(PathBuf, Option<PathBuf>)>,
    ) -> Result<Self, ServiceStoreError> {
        let writer = Arc::new(
            ConnectionThread::spawn("service-writer", connection)
                .map_err(|e| backend("started the store's thread", &location, e.to_string()))?,
        );
        let mut store = Self {
            reader: writer.clone(),
            writer,
            location,
            audit: Arc::default(),
            statuses: false,
        };
        let found = store
            .run("migrated the schema", |c| {
                c.busy_timeout(Duration::from_secs(5))?;
                c.pragma_update(None, "foreign_keys", "ON")?;
                let found: i64 = c.query_row("PRAGMA user_version", [], |r| r.get(0))?;
                if found > SCHEMA_VERSION {
                    return Ok(found);
                }
                let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                let current: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
                for (version, migration) in MIGRATIONS.iter().enumerate().skip(current as usize) {
                    tx.execute_batch(migration)?;
                    tx.pragma_update(None, "user_version", version as i64 + 1)?;
                }
                tx.commit()?;
                Ok(found)
            })
            .await?;
        if found > SCHEMA_VERSION {
            return Err(ServiceStoreError::UnsupportedVersion {
                location: store.location.to_string(),
                found,
                supported: SCHEMA_VERSION,
            });
        }
        if let Some((path, credentials)) = path {
            let at = store.location.clone();
            store.statuses = credentials.is_some();
            let reader = tokio::task::spawn_blocking(move || {
                Connection::open(&path).and_then(|c| {
                    c.busy_timeout(Duration::from_secs(5))?;
                    if let Some(credentials) = credentials {
                        c.execute(
                            concat!("ATTACH DATABASE ?1 AS ", credential_schema!()),
                            [credentials.to_string_lossy()],
                        )?;
                    }
                    c.pragma_update(None, "query_only", "ON")?;
                    Ok(c)
                })
            })
            .await
            .map_err(|e| backend("opened the reader", &at, e.to_string()))?
            .map_err(|e| sqlite_error("opened the reader", &at, e))?;
            store.reader = Arc::new(
                ConnectionThread::spawn_reader("service-reader", reader)
                    .map_err(|e| backend("started the store's thread", &at, e.to_string()))?,
            );
        }
        Ok(store)
    }

    /// Runs `job` on the writer's connection.
    async fn run<T: Send + 'static>(
        &self,
        operation: &'static str,
        job: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, ServiceStoreError> {
        on(&self.writer, &self.location, operation, job).await
    }

    /// Runs `job`, which only reads, on the reader's connection.
    async fn read<T: Send + 'static>(
        &self,
        operation: &'static str,
        job: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, ServiceStoreError> {
        on(&self.reader, &self.location, operation, job).await
    }
}

async fn on<T: Send + 'static>(
    thread: &ConnectionThread,
    location: &str,
    operation: &'static str,
    job: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
) -> Result<T, ServiceStoreError> {
    thread
        .run(job)
        .await
        .map_err(|_| ServiceStoreError::stopped(operation, location, "the store's thread"))?
        .map_err(|e| sqlite_error(operation, location, e))
}

/// SQLite's failure `e` while the store did `operation`, classified as the credential store's
/// are: a lock held too long or an I/O failure is retryable, a damaged file or row is corrupt.
fn sqlite_error(operation: &'static str, location: &str, e: rusqlite::Error) -> ServiceStoreError {
    ServiceStoreError::from_store(operation, location, store_sqlite::sql_error(location, e))
}

/// How long the audit writer waits for more entries before the next batch when the one it just
/// committed was shared by several callers (the service is under load): a commit's cost (its
/// WAL frames and `fsync`) is paid once for more entries, and a lone request never waits. At
/// 1.5 ms a loaded service's writer spends about 15 µs per execute, against 22 µs at 0.5 ms;
/// an execute waits at most that much longer, next to an upstream call of tens of
/// milliseconds.
const AUDIT_LINGER: Duration = Duration::from_micros(1500);

/// Writes the queued audit entries, a batch per transaction, until the queue is empty. A batch
/// that fails is written again entry by entry, so that one bad entry fails only its own append.
fn write_audit_batches(c: &mut Connection, audit: &Mutex<AuditQueue>) {
    let mut shared = false;
    loop {
        if shared {
            std::thread::sleep(AUDIT_LINGER);
        }
        let batch = {
            let mut queue = audit.lock().unwrap_or_else(|p| p.into_inner());
            if queue.entries.is_empty() {
                queue.writing = false;
                return;
            }
            std::mem::take(&mut queue.entries)
        };
        shared = batch.len() > 1;
        let together = c.transaction().and_then(|tx| {
            for (entry, _) in &batch {
                insert_audit(&tx, entry)?;
            }
            tx.commit()
        });
        for (entry, done) in batch {
            let result = match &together {
                Ok(()) => Ok(()),
                Err(_) => insert_audit(c, &entry),
            };
            // The caller may have gone away; its entry is written all the same.
            let _ = done.send(result);
        }
    }
}

/// Marks the application's connectors of `connector_type` that refresh with its own OAuth app as
/// changed now (their `updated_ms` a millisecond later at least): every instance builds their
/// warm connectors again, with the app as it is now.
fn app_users_changed(
    c: &Connection,
    application_id: &str,
    connector_type: &str,
) -> rusqlite::Result<()> {
    c.execute(
        "UPDATE connectors SET updated_ms = max(updated_ms + 1, ?3) \
         WHERE application_id = ?1 AND connector_type = ?2 AND oauth_app = ?4",
        params![
            application_id,
            connector_type,
            millis(SystemTime::now()),
            OAuthAppSource::Application.as_str()
        ],
    )
    .map(|_| ())
}

fn insert_audit(c: &Connection, entry: &AuditEntry) -> rusqlite::Result<()> {
    c.prepare_cached(INSERT_AUDIT)?
        .execute(params![
            entry.id,
            millis(entry.at),
            entry.application_id,
            entry.customer_name,
            entry.connector_id,
            entry.operation,
            entry.entity,
            entry.action,
            to_json(&entry.param_names),
            entry.outcome,
            entry.status,
            i64::try_from(entry.duration_ms).unwrap_or(i64::MAX)
        ])
        .map(|_| ())
}

/// Creates the file, readable and writable by its owner only, if it does not exist.
fn create_owner_only(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map(|_| ())
}

fn backend(operation: &'static str, location: &str, message: String) -> ServiceStoreError {
    ServiceStoreError::Backend {
        operation,
        message,
        location: location.to_string(),
    }
}

fn millis(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(_) => 0,
    }
}

fn time(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// A column that holds a JSON array of strings.
fn strings(json: &str) -> rusqlite::Result<Vec<String>> {
    serde_json::from_str(json).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn to_json(values: &[String]) -> String {
    // Strings always serialise; written straight, without copying them into a `Value` first.
    serde_json::to_string(values).unwrap_or_else(|_| "[]".into())
}

/// A column with an enum's stored form.
fn parsed<T>(value: String, parse: fn(&str) -> Option<T>) -> rusqlite::Result<T> {
    parse(&value).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Text,
            format!("unknown stored value `{value}`").into(),
        )
    })
}

fn application(row: &Row<'_>) -> rusqlite::Result<ApplicationRecord> {
    Ok(ApplicationRecord {
        id: row.get(0)?,
        name: row.get(1)?,
        organization_id: row.get(2)?,
        client_id: row.get(3)?,
        client_secret_hash: row.get(4)?,
        redirect_origins: strings(&row.get::<_, String>(5)?)?,
        created_at: time(row.get(6)?),
    })
}

fn token(row: &Row<'_>) -> rusqlite::Result<TokenRecord> {
    Ok(TokenRecord {
        token_hash: row.get(0)?,
        application_id: row.get(1)?,
        customer: row.get(2)?,
        expires_at: time(row.get(3)?),
    })
}

/// The credential status in column `index` of a row that joined the credential store's table:
/// none there (no credentials) needs re-authorization, as the credential store would say.
fn status_at(row: &Row<'_>, index: usize) -> rusqlite::Result<CredentialStatus> {
    joined_status(row.get_ref(index)?.as_str_or_null()?).map_err(|message| {
        rusqlite::Error::FromSqlConversionFailure(
            index,
            rusqlite::types::Type::Text,
            message.into(),
        )
    })
}

fn connector(row: &Row<'_>) -> rusqlite::Result<ConnectorRecord> {
    connector_at(row, 0)
}

/// A connector from [`CONNECTOR_COLUMNS`], starting at column `first`.
fn connector_at(row: &Row<'_>, first: usize) -> rusqlite::Result<ConnectorRecord> {
    Ok(ConnectorRecord {
        id: row.get(first)?,
        application_id: row.get(first + 1)?,
        customer_name: row.get(first + 2)?,
        connector_type: row.get(first + 3)?,
        definition_id: row.get(first + 4)?,
        name: row.get(first + 5)?,
        auth_kind: parsed(row.get(first + 6)?, AuthKind::parse)?,
        oauth_app: match row.get::<_, Option<String>>(first + 7)? {
            Some(source) => Some(parsed(source, OAuthAppSource::parse)?),
            None => None,
        },
        created_at: time(row.get(first + 8)?),
        updated_at: time(row.get(first + 9)?),
        read_only: row.get(first + 10)?,
    })
}

fn audit(row: &Row<'_>) -> rusqlite::Result<AuditEntry> {
    Ok(AuditEntry {
        id: row.get(0)?,
        at: time(row.get(1)?),
        application_id: row.get(2)?,
        customer_name: row.get(3)?,
        connector_id: row.get(4)?,
        operation: row.get(5)?,
        entity: row.get(6)?,
        action: row.get(7)?,
        param_names: strings(&row.get::<_, String>(8)?)?,
        outcome: row.get(9)?,
        status: row.get(10)?,
        duration_ms: u64::try_from(row.get::<_, i64>(11)?).unwrap_or(0),
    })
}

#[async_trait]
impl ServiceStore for SqliteServiceStore {
    async fn ping(&self) -> Result<(), ServiceStoreError> {
        self.run("answered a ping", |c| {
            c.query_row("SELECT count(*) FROM applications", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|_| ())
        })
        .await
    }

    async fn first_credential(&self) -> Result<Option<(String, String)>, ServiceStoreError> {
        if !self.statuses {
            return Ok(None);
        }
        self.read("read the first credential's key", |c| {
            c.prepare_cached(FIRST_CREDENTIAL)?
                .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        })
        .await
    }

    async fn create_application(&self, app: ApplicationRecord) -> Result<(), ServiceStoreError> {
        let client_id = app.client_id.clone();
        let created = self
            .run("created an application", move |c| {
                let taken: i64 = c.query_row(
                    "SELECT count(*) FROM applications WHERE id = ?1 OR client_id = ?2",
                    params![app.id, app.client_id],
                    |r| r.get(0),
                )?;
                if taken > 0 {
                    return Ok(false);
                }
                c.execute(
                    &format!(
                        "INSERT INTO applications ({APPLICATION_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
                    ),
                    params![
                        app.id,
                        app.name,
                        app.organization_id,
                        app.client_id,
                        app.client_secret_hash,
                        to_json(&app.redirect_origins),
                        millis(app.created_at)
                    ],
                )?;
                Ok(true)
            })
            .await?;
        if created {
            Ok(())
        } else {
            Err(ServiceStoreError::AlreadyExists {
                what: format!("an application with client id {client_id}"),
            })
        }
    }

    async fn application(&self, id: &str) -> Result<Option<ApplicationRecord>, ServiceStoreError> {
        let id = id.to_string();
        self.read("read an application", move |c| {
            c.query_row(
                &format!("SELECT {APPLICATION_COLUMNS} FROM applications WHERE id = ?1"),
                [id],
                application,
            )
            .optional()
        })
        .await
    }

    async fn application_by_client_id(
        &self,
        client_id: &str,
    ) -> Result<Option<ApplicationRecord>, ServiceStoreError> {
        let client_id = client_id.to_string();
        self.read("read an application", move |c| {
            c.query_row(
                &format!("SELECT {APPLICATION_COLUMNS} FROM applications WHERE client_id = ?1"),
                [client_id],
                application,
            )
            .optional()
        })
        .await
    }

    async fn list_applications(&self) -> Result<Vec<ApplicationRecord>, ServiceStoreError> {
        self.read("listed the applications", |c| {
            let mut statement = c.prepare(&format!(
                "SELECT {APPLICATION_COLUMNS} FROM applications ORDER BY created_ms, rowid"
            ))?;
            let rows = statement.query_map([], application)?;
            rows.collect()
        })
        .await
    }

    async fn replace_client_secret(
        &self,
        id: &str,
        client_secret_hash: &str,
    ) -> Result<bool, ServiceStoreError> {
        let (id, hash) = (id.to_string(), client_secret_hash.to_string());
        self.run("replaced a client secret", move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let changed = tx.execute(
                "UPDATE applications SET client_secret_hash = ?2 WHERE id = ?1",
                params![id, hash],
            )?;
            tx.execute("DELETE FROM tokens WHERE application_id = ?1", [&id])?;
            tx.commit()?;
            Ok(changed > 0)
        })
        .await
    }

    async fn delete_application(&self, id: &str) -> Result<Option<Vec<String>>, ServiceStoreError> {
        let id = id.to_string();
        self.run("deleted an application", move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let connectors = {
                let mut statement =
                    tx.prepare("SELECT id FROM connectors WHERE application_id = ?1 ORDER BY id")?;
                let rows = statement.query_map([&id], |r| r.get::<_, String>(0))?;
                rows.collect::<rusqlite::Result<Vec<_>>>()?
            };
            // The other tables reference the application ON DELETE CASCADE.
            let deleted = tx.execute("DELETE FROM applications WHERE id = ?1", [&id])?;
            tx.commit()?;
            Ok((deleted > 0).then_some(connectors))
        })
        .await
    }

    async fn insert_token(
        &self,
        token: TokenRecord,
        issuer: Issuer<'_>,
        max_tokens: u32,
    ) -> Result<TokenInsert, ServiceStoreError> {
        let (holds, issued_on) = match issuer {
            Issuer::ClientSecret(hash) => (
                "EXISTS (SELECT 1 FROM applications WHERE id = :application AND client_secret_hash = :issuer)",
                hash.to_string(),
            ),
            Issuer::Token(hash) => (
                "EXISTS (SELECT 1 FROM tokens WHERE token_hash = :issuer AND application_id = :application)",
                hash.to_string(),
            ),
        };
        self.run("stored a service token", move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let inserted = tx
                .prepare_cached(&format!(
                    "INSERT INTO tokens (token_hash, application_id, customer, expires_ms) \
                     SELECT :hash, :application, :customer, :expires WHERE {holds} \
                     AND (SELECT count(*) FROM tokens WHERE application_id = :application) < :max"
                ))?
                .execute(named_params! {
                    ":hash": token.token_hash,
                    ":application": token.application_id,
                    ":customer": token.customer,
                    ":expires": millis(token.expires_at),
                    ":issuer": issued_on,
                    ":max": max_tokens,
                })?;
            let outcome = if inserted == 1 {
                TokenInsert::Stored
            } else {
                // Nothing stored: which condition failed, in the same transaction.
                tx.prepare_cached(&format!(
                    "SELECT {holds}, (SELECT min(expires_ms) FROM tokens WHERE application_id = :application)"
                ))?
                .query_row(
                    named_params! { ":application": token.application_id, ":issuer": issued_on },
                    |r| {
                        Ok(if r.get(0)? {
                            TokenInsert::Full {
                                next_expiry: r.get::<_, Option<i64>>(1)?.map(time),
                            }
                        } else {
                            TokenInsert::IssuerGone
                        })
                    },
                )?
            };
            tx.commit()?;
            Ok(outcome)
        })
        .await
    }

    async fn delete_token(
        &self,
        token_hash: &str,
        application_id: &str,
        customer: Option<&str>,
    ) -> Result<bool, ServiceStoreError> {
        let (hash, application, customer) = (
            token_hash.to_string(),
            application_id.to_string(),
            customer.map(str::to_string),
        );
        self.run("deleted a service token", move |c| {
            c.execute(
                "DELETE FROM tokens WHERE token_hash = ?1 AND application_id = ?2 \
                 AND (?3 IS NULL OR customer = ?3)",
                params![hash, application, customer],
            )
            .map(|deleted| deleted == 1)
        })
        .await
    }

    async fn delete_customer_tokens(
        &self,
        application_id: &str,
        customer: &str,
    ) -> Result<u64, ServiceStoreError> {
        let (application, customer) = (application_id.to_string(), customer.to_string());
        self.run("deleted a customer's service tokens", move |c| {
            c.execute(
                "DELETE FROM tokens WHERE application_id = ?1 AND customer = ?2",
                params![application, customer],
            )
            .map(|deleted| deleted as u64)
        })
        .await
    }

    async fn token(&self, token_hash: &str) -> Result<Option<TokenRecord>, ServiceStoreError> {
        let hash = token_hash.to_string();
        self.read("read a service token", move |c| {
            c.prepare_cached(TOKEN_BY_HASH)?
                .query_row([hash], token)
                .optional()
        })
        .await
    }

    async fn token_and_connector(
        &self,
        token_hash: &str,
        connector_id: &str,
    ) -> Result<Option<TokenAndConnector>, ServiceStoreError> {
        let (hash, id) = (token_hash.to_string(), connector_id.to_string());
        let statuses = self.statuses;
        let (operation, statement) = if statuses {
            (
                "read a service token, a connector and its credential status",
                TOKEN_CONNECTOR_AND_STATUS,
            )
        } else {
            ("read a service token and a connector", TOKEN_AND_CONNECTOR)
        };
        self.read(operation, move |c| {
            c.prepare_cached(statement)?
                .query_row([hash, id], |r| {
                    let connector = match r.get::<_, Option<String>>(4)? {
                        Some(_) => {
                            let status = statuses.then(|| status_at(r, 15)).transpose()?;
                            let joined = JoinedCredentials {
                                status,
                                record: None,
                            };
                            Some((connector_at(r, 4)?, joined))
                        }
                        None => None,
                    };
                    Ok((token(r)?, connector))
                })
                .optional()
        })
        .await
    }

    async fn delete_expired_tokens(&self, now: SystemTime) -> Result<u64, ServiceStoreError> {
        self.run("deleted expired service tokens", move |c| {
            c.execute("DELETE FROM tokens WHERE expires_ms <= ?1", [millis(now)])
                .map(|n| n as u64)
        })
        .await
    }

    async fn insert_connector(&self, connector: ConnectorRecord) -> Result<(), ServiceStoreError> {
        self.run("stored a connector", move |c| {
            c.execute(
                &format!(
                    "INSERT INTO connectors ({CONNECTOR_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
                ),
                params![
                    connector.id,
                    connector.application_id,
                    connector.customer_name,
                    connector.connector_type,
                    connector.definition_id,
                    connector.name,
                    connector.auth_kind.as_str(),
                    connector.oauth_app.map(OAuthAppSource::as_str),
                    millis(connector.created_at),
                    millis(connector.updated_at),
                    connector.read_only
                ],
            )
            .map(|_| ())
        })
        .await
    }

    async fn connector(
        &self,
        application_id: &str,
        id: &str,
    ) -> Result<Option<ConnectorRecord>, ServiceStoreError> {
        let (application_id, id) = (application_id.to_string(), id.to_string());
        self.read("read a connector", move |c| {
            c.prepare_cached(&format!(
                "SELECT {CONNECTOR_COLUMNS} FROM connectors WHERE application_id = ?1 AND id = ?2"
            ))?
            .query_row([application_id, id], connector)
            .optional()
        })
        .await
    }

    async fn list_connectors(
        &self,
        application_id: &str,
        filter: &ConnectorFilter,
    ) -> Result<Vec<ConnectorRecord>, ServiceStoreError> {
        let (application_id, filter) = (application_id.to_string(), filter.clone());
        self.read("listed connectors", move |c| {
            let mut statement = c.prepare(&list_connectors_statement())?;
            let (after_ms, after_id) = filter.after.map(|p| (millis(p.created_at), p.id)).unzip();
            let rows = statement.query_map(
                params![
                    application_id,
                    filter.customer_name,
                    filter.connector_type,
                    after_ms,
                    after_id,
                    filter.limit.map_or(-1, i64::from)
                ],
                connector,
            )?;
            rows.collect()
        })
        .await
    }

    async fn update_connector(
        &self,
        connector: &ConnectorRecord,
        read_at: SystemTime,
    ) -> Result<bool, ServiceStoreError> {
        let connector = connector.clone();
        self.run("updated a connector", move |c| {
            c.execute(
                "UPDATE connectors SET name = ?3, auth_kind = ?4, oauth_app = ?5, updated_ms = ?6, read_only = ?7 WHERE application_id = ?1 AND id = ?2 AND updated_ms = ?8",
                params![
                    connector.application_id,
                    connector.id,
                    connector.name,
                    connector.auth_kind.as_str(),
                    connector.oauth_app.map(OAuthAppSource::as_str),
                    millis(connector.updated_at),
                    connector.read_only,
                    millis(read_at)
                ],
            )
            .map(|n| n > 0)
        })
        .await
    }

    async fn delete_connector(
        &self,
        application_id: &str,
        id: &str,
    ) -> Result<bool, ServiceStoreError> {
        let (application_id, id) = (application_id.to_string(), id.to_string());
        self.run("deleted a connector", move |c| {
            c.execute(
                "DELETE FROM connectors WHERE application_id = ?1 AND id = ?2",
                [application_id, id],
            )
            .map(|n| n > 0)
        })
        .await
    }

    async fn put_oauth_app(&self, app: OAuthAppRecord) -> Result<(), ServiceStoreError> {
        self.run("stored an OAuth app", move |c| {
            let tx = c.transaction()?;
            tx.execute(
                "INSERT OR REPLACE INTO oauth_apps (application_id, connector_type, client_id, client_secret, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    app.application_id,
                    app.connector_type,
                    app.client_id,
                    app.client_secret.0,
                    millis(app.updated_at)
                ],
            )?;
            app_users_changed(&tx, &app.application_id, &app.connector_type)?;
            tx.commit()
        })
        .await
    }

    async fn oauth_app(
        &self,
        application_id: &str,
        connector_type: &str,
    ) -> Result<Option<OAuthAppRecord>, ServiceStoreError> {
        let (application_id, connector_type) =
            (application_id.to_string(), connector_type.to_string());
        self.read("read an OAuth app", move |c| {
            c.query_row(
                "SELECT application_id, connector_type, client_id, client_secret, updated_ms FROM oauth_apps WHERE application_id = ?1 AND connector_type = ?2",
                [application_id, connector_type],
                |r| {
                    Ok(OAuthAppRecord {
                        application_id: r.get(0)?,
                        connector_type: r.get(1)?,
                        client_id: r.get(2)?,
                        client_secret: Sealed(r.get(3)?),
                        updated_at: time(r.get(4)?),
                    })
                },
            )
            .optional()
        })
        .await
    }

    async fn delete_oauth_app(
        &self,
        application_id: &str,
        connector_type: &str,
    ) -> Result<bool, ServiceStoreError> {
        let (application_id, connector_type) =
            (application_id.to_string(), connector_type.to_string());
        self.run("deleted an OAuth app", move |c| {
            let tx = c.transaction()?;
            let deleted = tx.execute(
                "DELETE FROM oauth_apps WHERE application_id = ?1 AND connector_type = ?2",
                [&application_id, &connector_type],
            )?;
            app_users_changed(&tx, &application_id, &connector_type)?;
            tx.commit()?;
            Ok(deleted > 0)
        })
        .await
    }

    async fn sealed_values(&self, now: SystemTime) -> Result<Vec<SealedValue>, ServiceStoreError> {
        let now = millis(now);
        self.read("listed the sealed values", move |c| {
            let mut values = Vec::new();
            let mut apps = c.prepare(
                "SELECT application_id, connector_type, client_secret FROM oauth_apps ORDER BY application_id, connector_type",
            )?;
            for app in apps.query_map([], |r| {
                Ok(SealedValue {
                    at: SealedAt::OAuthApp {
                        application_id: r.get(0)?,
                        connector_type: r.get(1)?,
                    },
                    sealed: Sealed(r.get(2)?),
                })
            })? {
                values.push(app?);
            }
            let mut states = c.prepare(
                "SELECT state_hash, pkce_verifier FROM oauth_states WHERE expires_ms > ?1 ORDER BY state_hash",
            )?;
            for state in states.query_map([now], |r| {
                Ok(SealedValue {
                    at: SealedAt::OAuthState {
                        state_hash: r.get(0)?,
                    },
                    sealed: Sealed(r.get(1)?),
                })
            })? {
                values.push(state?);
            }
            Ok(values)
        })
        .await
    }

    async fn reseal(
        &self,
        at: &SealedAt,
        expected: &Sealed,
        replacement: Sealed,
    ) -> Result<bool, ServiceStoreError> {
        let (at, expected) = (at.clone(), expected.0.clone());
        self.run("re-sealed a value", move |c| {
            let written = match at {
                SealedAt::OAuthApp {
                    application_id,
                    connector_type,
                } => c.execute(
                    "UPDATE oauth_apps SET client_secret = ?3 WHERE application_id = ?1 AND connector_type = ?2 AND client_secret = ?4",
                    params![application_id, connector_type, replacement.0, expected],
                )?,
                SealedAt::OAuthState { state_hash } => c.execute(
                    "UPDATE oauth_states SET pkce_verifier = ?2 WHERE state_hash = ?1 AND pkce_verifier = ?3",
                    params![state_hash, replacement.0, expected],
                )?,
            };
            Ok(written > 0)
        })
        .await
    }

    async fn put_oauth_state(&self, state: OAuthStateRecord) -> Result<(), ServiceStoreError> {
        let now = millis(SystemTime::now());
        self.run("stored an OAuth state", move |c| {
            c.execute("DELETE FROM oauth_states WHERE expires_ms <= ?1", [now])?;
            c.execute("DELETE FROM oauth_secrets WHERE expires_ms <= ?1", [now])?;
            c.execute(
                "INSERT INTO oauth_states (state_hash, application_id, customer_name, connector_type, name, pkce_verifier, redirect_uri, scopes, redirect_url, oauth_app, expires_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![
                    state.state_hash,
                    state.application_id,
                    state.customer_name,
                    state.connector_type,
                    state.name,
                    state.pkce_verifier.0,
                    state.redirect_uri,
                    to_json(&state.scopes),
                    state.redirect_url,
                    state.oauth_app.as_str(),
                    millis(state.expires_at)
                ],
            )
            .map(|_| ())
        })
        .await
    }

    async fn take_oauth_state(
        &self,
        state_hash: &str,
        now: SystemTime,
    ) -> Result<Option<OAuthStateRecord>, ServiceStoreError> {
        // Looked up on a reader first: a callback with a state nobody issued (anyone can send
        // one) answers without queueing on the one writer.
        let hash = state_hash.to_string();
        let issued = self
            .read("looked up an OAuth state", move |c| {
                c.query_row(
                    "SELECT 1 FROM oauth_states WHERE state_hash = ?1",
                    [&hash],
                    |_| Ok(()),
                )
                .optional()
            })
            .await?;
        if issued.is_none() {
            return Ok(None);
        }
        let hash = state_hash.to_string();
        self.run("took an OAuth state", move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let state = tx
                .query_row(
                    "SELECT state_hash, application_id, customer_name, connector_type, name, pkce_verifier, redirect_uri, scopes, redirect_url, oauth_app, expires_ms FROM oauth_states WHERE state_hash = ?1",
                    [&hash],
                    |r| {
                        Ok(OAuthStateRecord {
                            state_hash: r.get(0)?,
                            application_id: r.get(1)?,
                            customer_name: r.get(2)?,
                            connector_type: r.get(3)?,
                            name: r.get(4)?,
                            pkce_verifier: Sealed(r.get(5)?),
                            redirect_uri: r.get(6)?,
                            scopes: strings(&r.get::<_, String>(7)?)?,
                            redirect_url: r.get(8)?,
                            oauth_app: parsed(r.get(9)?, OAuthAppSource::parse)?,
                            expires_at: time(r.get(10)?),
                        })
                    },
                )
                .optional()?;
            tx.execute("DELETE FROM oauth_states WHERE state_hash = ?1", [&hash])?;
            tx.commit()?;
            Ok(state.filter(|s| s.expires_at > now))
        })
        .await
    }

    async fn put_oauth_secret(&self, secret: OAuthSecretRecord) -> Result<(), ServiceStoreError> {
        self.run("stored a consent flow's secret id", move |c| {
            c.execute(
                &format!(
                    "INSERT INTO oauth_secrets ({SECRET_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                ),
                params![
                    secret.secret_hash,
                    secret.connector_id,
                    secret.application_id,
                    secret.customer_name,
                    secret.connector_type,
                    millis(secret.expires_at)
                ],
            )
            .map(|_| ())
        })
        .await
    }

    async fn claim_oauth_secret(
        &self,
        claim: &OAuthSecretClaim,
        now: SystemTime,
    ) -> Result<Option<OAuthSecretRecord>, ServiceStoreError> {
        let claim = claim.clone();
        // One statement: of two claims of the same secret id, one gets the row.
        self.run("claimed a consent flow's secret id", move |c| {
            c.query_row(
                &format!(
                    "DELETE FROM oauth_secrets WHERE secret_hash = ?1 AND application_id = ?2 \
                     AND customer_name = ?3 AND connector_type = ?4 AND expires_ms > ?5 \
                     RETURNING {SECRET_COLUMNS}"
                ),
                params![
                    claim.secret_hash,
                    claim.application_id,
                    claim.customer_name,
                    claim.connector_type,
                    millis(now)
                ],
                |r| {
                    Ok(OAuthSecretRecord {
                        secret_hash: r.get(0)?,
                        connector_id: r.get(1)?,
                        application_id: r.get(2)?,
                        customer_name: r.get(3)?,
                        connector_type: r.get(4)?,
                        expires_at: time(r.get(5)?),
                    })
                },
            )
            .optional()
        })
        .await
    }

    async fn set_token_expiry(
        &self,
        connector_id: &str,
        expires_at: Option<SystemTime>,
    ) -> Result<(), ServiceStoreError> {
        let id = connector_id.to_string();
        self.run("recorded a token expiry", move |c| {
            match expires_at {
                Some(at) => c.execute(
                    "INSERT INTO token_expiry (connector_id, expires_ms) \
                     SELECT id, ?2 FROM connectors WHERE id = ?1 \
                     ON CONFLICT (connector_id) DO UPDATE SET expires_ms = excluded.expires_ms, \
                     claimed_until_ms = NULL",
                    params![id, millis(at)],
                ),
                None => c.execute("DELETE FROM token_expiry WHERE connector_id = ?1", [id]),
            }
            .map(|_| ())
        })
        .await
    }

    async fn claim_expiring(
        &self,
        before: SystemTime,
        claim_for: Duration,
        limit: usize,
    ) -> Result<Vec<ConnectorRecord>, ServiceStoreError> {
        let now = SystemTime::now();
        let (before, now_ms) = (millis(before), millis(now));
        let until = millis(now + claim_for);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        // One connection serves the store: the scan and the claims are one transaction.
        self.run("claimed tokens to refresh", move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let claimed = {
                let mut statement = tx.prepare(&format!(
                    "SELECT {} FROM connectors c JOIN token_expiry e ON e.connector_id = c.id \
                     WHERE e.expires_ms <= ?1 AND (e.claimed_until_ms IS NULL OR e.claimed_until_ms <= ?2) \
                     ORDER BY e.expires_ms LIMIT ?3",
                    CONNECTOR_COLUMNS
                        .split(", ")
                        .map(|column| format!("c.{column}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))?;
                let rows = statement.query_map(params![before, now_ms, limit], connector)?;
                rows.collect::<rusqlite::Result<Vec<_>>>()?
            };
            for record in &claimed {
                tx.execute(
                    "UPDATE token_expiry SET claimed_until_ms = ?2 WHERE connector_id = ?1",
                    params![record.id, until],
                )?;
            }
            tx.commit()?;
            Ok(claimed)
        })
        .await
    }

    async fn append_audit(&self, entry: AuditEntry) -> Result<(), ServiceStoreError> {
        const OPERATION: &str = "appended an audit entry";
        let (done, written) = tokio::sync::oneshot::channel();
        let start_writer = {
            let mut queue = self.audit.lock().unwrap_or_else(|p| p.into_inner());
            queue.entries.push((entry, done));
            !std::mem::replace(&mut queue.writing, true)
        };
        if start_writer {
            let audit = self.audit.clone();
            // Not awaited: the writer finishes the queue even if this caller goes away.
            let submitted = self.writer.submit(move |c| write_audit_batches(c, &audit));
            if submitted.is_err() {
                // Nothing will write the queue: its callers (this one too) learn so now.
                let mut queue = self.audit.lock().unwrap_or_else(|p| p.into_inner());
                queue.entries.clear();
                queue.writing = false;
            }
        }
        match written.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(sqlite_error(OPERATION, &self.location, e)),
            Err(_) => Err(ServiceStoreError::stopped(
                OPERATION,
                &self.location,
                "the audit writer",
            )),
        }
    }

    async fn delete_audit_before(
        &self,
        before: SystemTime,
        limit: u32,
    ) -> Result<u64, ServiceStoreError> {
        self.run("deleted old audit entries", move |c| {
            c.execute(
                "DELETE FROM audit WHERE seq IN (SELECT seq FROM audit ORDER BY seq LIMIT ?2) \
                 AND at_ms < ?1",
                params![millis(before), limit],
            )
            .map(|n| n as u64)
        })
        .await
    }

    async fn list_audit(
        &self,
        application_id: &str,
        customer_name: Option<&str>,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, ServiceStoreError> {
        let application_id = application_id.to_string();
        let customer = customer_name.map(str::to_string);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read("listed audit entries", move |c| {
            let mut statement = c.prepare(&format!(
                "SELECT {AUDIT_COLUMNS} FROM audit WHERE application_id = ?1 \
                 AND (?2 IS NULL OR customer_name = ?2) ORDER BY seq DESC LIMIT ?3"
            ))?;
            let rows = statement.query_map(params![application_id, customer, limit], audit)?;
            rows.collect()
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_page_of_connectors_is_read_along_its_index_never_sorted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("service.db");
        drop(SqliteServiceStore::open(&path).await.unwrap());
        let plan: Vec<String> = {
            let c = Connection::open(&path).unwrap();
            let mut explain = c
                .prepare(&format!(
                    "EXPLAIN QUERY PLAN {}",
                    list_connectors_statement()
                ))
                .unwrap();
            explain
                .query_map(params!["app", "c", "asana", 1_i64, "id", 100_i64], |r| {
                    r.get::<_, String>(3)
                })
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        };
        assert!(
            plan.iter().any(|step| step.contains("connectors_in_order")),
            "{plan:?}"
        );
        assert!(
            !plan.iter().any(|step| step.contains("TEMP B-TREE")),
            "{plan:?}"
        );
    }
    use crate::store::testing::{self, application};

    #[tokio::test]
    async fn passes_the_service_store_conformance_checks() {
        let store = SqliteServiceStore::open_in_memory().await.unwrap();
        testing::run_conformance(Arc::new(store)).await;
    }

    /// SQLite's failures mean what they mean to the credential store: a lock held too long, an
    /// I/O failure or a full disk may pass; a damaged file or row will not; a refused statement
    /// is the backend's.
    #[test]
    fn sqlite_failures_are_classified_as_the_credential_store_classifies_them() {
        let failure = |code| {
            sqlite_error(
                "read a token",
                "service.db",
                rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None),
            )
        };
        for code in [
            rusqlite::ffi::SQLITE_BUSY,
            rusqlite::ffi::SQLITE_LOCKED,
            rusqlite::ffi::SQLITE_IOERR,
            rusqlite::ffi::SQLITE_FULL,
        ] {
            assert!(
                matches!(
                    failure(code),
                    ServiceStoreError::Unavailable {
                        operation: "read a token",
                        ..
                    }
                ),
                "{code}"
            );
        }
        for code in [rusqlite::ffi::SQLITE_CORRUPT, rusqlite::ffi::SQLITE_NOTADB] {
            assert!(
                matches!(failure(code), ServiceStoreError::Corrupt { .. }),
                "{code}"
            );
        }
        let row = sqlite_error(
            "read a token",
            "service.db",
            rusqlite::Error::InvalidColumnType(0, "kind".into(), rusqlite::types::Type::Integer),
        );
        assert!(matches!(row, ServiceStoreError::Corrupt { .. }), "{row:?}");
        for code in [
            rusqlite::ffi::SQLITE_CONSTRAINT,
            rusqlite::ffi::SQLITE_READONLY,
        ] {
            assert!(
                matches!(failure(code), ServiceStoreError::Backend { .. }),
                "{code}"
            );
        }
    }

    fn audit_entry(id: &str) -> AuditEntry {
        AuditEntry {
            id: id.into(),
            at: time(2_000),
            application_id: "app-1".into(),
            customer_name: Some("customer".into()),
            connector_id: None,
            operation: "execute".into(),
            entity: None,
            action: None,
            param_names: Vec::new(),
            outcome: "ok".into(),
            status: 200,
            duration_ms: 1,
        }
    }

    /// Service processes starting at once on a database not created yet all open it: the one
    /// that switches it to WAL holds a lock the others wait for, as for any other write.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn stores_opened_at_once_on_a_new_file_all_open() {
        for round in 0..200 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("service.db");
            let opens = (0..8).map(|_| SqliteServiceStore::open(&path));
            for opened in futures::future::join_all(opens).await {
                if let Err(e) = opened {
                    panic!("round {round}: {e}");
                }
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_audit_appends_are_all_committed_and_a_bad_one_fails_alone() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteServiceStore::open(dir.path().join("service.db"))
            .await
            .unwrap();
        store
            .create_application(application("app-1", "client-1"))
            .await
            .unwrap();
        store.append_audit(audit_entry("taken")).await.unwrap();
        let ids: Vec<String> = (0..40).map(|n| format!("entry-{n}")).collect();
        let appends = ids
            .iter()
            .map(|id| store.append_audit(audit_entry(id)))
            .chain([store.append_audit(audit_entry("taken"))]);
        let results = futures::future::join_all(appends).await;
        let (duplicate, rest) = results.split_last().unwrap();
        assert!(rest.iter().all(Result::is_ok), "{rest:?}");
        assert!(matches!(duplicate, Err(ServiceStoreError::Backend { .. })));
        // A second handle on the file sees every entry: each append answered after its commit.
        let reopened = SqliteServiceStore::open(dir.path().join("service.db"))
            .await
            .unwrap();
        let mut listed: Vec<String> = reopened
            .list_audit("app-1", None, 100)
            .await
            .unwrap()
            .into_iter()
            .map(|entry| entry.id)
            .collect();
        listed.sort();
        let mut expected = ids.clone();
        expected.push("taken".into());
        expected.sort();
        assert_eq!(listed, expected);
    }

    #[tokio::test]
    async fn a_version_1_file_gains_read_only_connectors_off_by_default() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("service.db");
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch(MIGRATIONS[0]).unwrap();
            c.pragma_update(None, "user_version", 1).unwrap();
            c.execute(
                "INSERT INTO applications (id, name, organization_id, client_id, client_secret_hash, redirect_origins, created_ms) VALUES ('app-1', 'acme', 'org', 'client-1', 'hash', '[]', 1000)",
                [],
            )
            .unwrap();
            c.execute(
                "INSERT INTO connectors (id, application_id, customer_name, connector_type, definition_id, name, auth_kind, oauth_app, created_ms, updated_ms) VALUES ('conn-1', 'app-1', 'c', 'asana', 'd', 'n', 'token', NULL, 3000, 3000)",
                [],
            )
            .unwrap();
        }
        let store = SqliteServiceStore::open(&path).await.unwrap();
        let mut record = store.connector("app-1", "conn-1").await.unwrap().unwrap();
        assert!(!record.read_only);
        record.read_only = true;
        let read_at = record.updated_at;
        assert!(store.update_connector(&record, read_at).await.unwrap());
        assert_eq!(
            store.connector("app-1", "conn-1").await.unwrap(),
            Some(record)
        );
        let version: i64 = Connection::open(&path)
            .unwrap()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
    }

    #[tokio::test]
    async fn a_version_3_file_gains_consent_secret_ids_that_go_with_their_connector() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("service.db");
        {
            let c = Connection::open(&path).unwrap();
            for migration in &MIGRATIONS[..3] {
                c.execute_batch(migration).unwrap();
            }
            c.pragma_update(None, "user_version", 3).unwrap();
            c.execute(
                "INSERT INTO applications (id, name, organization_id, client_id, client_secret_hash, redirect_origins, created_ms) VALUES ('app-1', 'acme', 'org', 'client-1', 'hash', '[]', 1000)",
                [],
            )
            .unwrap();
            c.execute(
                "INSERT INTO connectors (id, application_id, customer_name, connector_type, definition_id, name, auth_kind, oauth_app, created_ms, updated_ms, read_only) VALUES ('conn-1', 'app-1', 'c', 'asana', 'd', 'n', 'oauth', 'service', 3000, 3000, 0)",
                [],
            )
            .unwrap();
        }
        let store = SqliteServiceStore::open(&path).await.unwrap();
        let secret = OAuthSecretRecord {
            secret_hash: "h".into(),
            connector_id: "conn-1".into(),
            application_id: "app-1".into(),
            customer_name: "c".into(),
            connector_type: "asana".into(),
            expires_at: time(10_000),
        };
        let claim = OAuthSecretClaim {
            secret_hash: "h".into(),
            application_id: "app-1".into(),
            customer_name: "c".into(),
            connector_type: "asana".into(),
        };
        store.put_oauth_secret(secret.clone()).await.unwrap();
        assert_eq!(
            store.claim_oauth_secret(&claim, time(5_000)).await.unwrap(),
            Some(secret.clone())
        );
        store.put_oauth_secret(secret).await.unwrap();
        assert!(store.delete_connector("app-1", "conn-1").await.unwrap());
        let left: i64 = Connection::open(&path)
            .unwrap()
            .query_row("SELECT count(*) FROM oauth_secrets", [], |r| r.get(0))
            .unwrap();
        assert_eq!(left, 0, "the secret id went with its connector");
        let version: i64 = Connection::open(&path)
            .unwrap()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
    }

    #[tokio::test]
    async fn a_file_is_migrated_once_and_a_newer_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("service.db");
        let store = SqliteServiceStore::open(&path).await.unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "owner-only");
        }
        store
            .create_application(application("app-1", "client-1"))
            .await
            .unwrap();
        drop(store);
        let store = SqliteServiceStore::open(&path).await.unwrap();
        assert_eq!(store.list_applications().await.unwrap().len(), 1);
        drop(store);
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        assert!(matches!(
            SqliteServiceStore::open(&path).await,
            Err(ServiceStoreError::UnsupportedVersion {
                found: 6,
                supported: 5,
                ..
            })
        ));
    }
}
