//! Figure 6: the SQLite store's get and conditional put against raw rusqlite with the same pragmas,
//! schema and durability; the file store's put against a raw write-temp, fsync, rename, fsync-dir
//! of the same bytes.
//!
//! The raw SQLite side opens the store's own database file and works on a row of its own in the
//! same table: both sides share the file, its WAL and its pages. (On separate files, one file's
//! commits at times took ten times longer for hundreds of commits in a row while the other's did
//! not: that noise swamped the difference being measured.)
//!
//! Every SQLite baseline is measured from async code twice: on tokio's blocking pool
//! (`spawn_blocking`, what the rules ask of blocking I/O in async code) and called directly on the
//! runtime thread (blocking it: the floor, for information).

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use auth_core::{CredentialRecord, CredentialStore, Payload, PutMode};
use integrations::SqliteCredentialStore;
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use store_file::FileCredentialStore;
use tempfile::TempDir;

use super::{PROVIDER, SUBJECT};

/// The busy timeout the store uses by default.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The raw side's row, beside the store's.
const RAW_SUBJECT: &str = "bench-raw";

/// The store's read query.
const SELECT_ONE: &str = "SELECT provider, subject, version, status, lease_holder, lease_expires_ms, created_ms, updated_ms, key_id, nonce, payload FROM credentials WHERE provider = ?1 AND subject = ?2";

/// A conditional put by hand: the version must still be the one read.
const UPDATE_IF_VERSION: &str = "UPDATE credentials SET version = ?4, status = 'active', lease_holder = NULL, lease_expires_ms = NULL, updated_ms = ?5, key_id = NULL, nonce = NULL, payload = ?6 WHERE provider = ?1 AND subject = ?2 AND version = ?3";

/// A credential payload of realistic size (what a session stores for an Asana user).
pub fn payload() -> Vec<u8> {
    br#"{"access_token":"2/1201000000000001/1209876543210987:0123456789abcdef0123456789abcdef","token_type":"bearer","refresh_token":"2/1201000000000001/1209876543210000:fedcba9876543210fedcba9876543210","expires_in":3600,"expires_at":1767225600000,"data":{"id":1201000000000001,"gid":"1201000000000001","name":"Greg Sanchez","email":"gsanchez@example.com"},"workspace_gid":"1200000000000001"}"#
        .to_vec()
}

/// The record both stores' figures write: [`payload`] for the bench subject.
pub fn record() -> CredentialRecord {
    CredentialRecord::new(PROVIDER, SUBJECT, Payload::new(payload()))
}

/// Our side of a store figure: a store holding [`record`], read whole and updated conditionally
/// on the version it last wrote.
pub struct Ours<S> {
    store: S,
    version: u64,
}

impl<S: CredentialStore> Ours<S> {
    /// Writes [`record`] into `store`.
    pub async fn new(store: S) -> Ours<S> {
        let version = store
            .put(record(), PutMode::Create)
            .await
            .expect("the first put");
        Ours { store, version }
    }

    /// `store.get`.
    pub async fn get(&self) {
        let got = self
            .store
            .get(PROVIDER, SUBJECT)
            .await
            .expect("get")
            .expect("the record");
        std::hint::black_box(got);
    }

    /// `store.put(.., PutMode::Update(version))`.
    pub async fn put(&mut self) {
        self.version = self
            .store
            .put(record(), PutMode::Update(self.version))
            .await
            .expect("conditional put");
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// One row as the baseline reads it: the same columns into owned values.
type RawRow = (
    String,
    String,
    i64,
    String,
    Option<String>,
    Option<i64>,
    i64,
    i64,
    Option<String>,
    Option<Vec<u8>>,
    Vec<u8>,
);

/// The SQLite store and raw rusqlite connections to the same database file.
pub struct Sqlite {
    _dir: TempDir,
    /// Ours: the store.
    pub ours: Ours<SqliteCredentialStore>,
    /// The raw side mirrors the store: a writer, and a query-only reader.
    writer: Arc<Mutex<Connection>>,
    reader: Arc<Mutex<Connection>>,
    raw_version: i64,
}

impl Sqlite {
    /// Opens the store, writes its record, then opens the raw connections on the same file and
    /// writes the raw side's row.
    pub async fn new() -> Sqlite {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("credentials.db");
        let store = SqliteCredentialStore::builder(&path)
            .unencrypted()
            .open()
            .await
            .expect("open the store")
            .into_inner();
        let ours = Ours::new(store).await;
        let writer = open_raw_writer(&path);
        let reader = open_raw_reader(&path);
        Sqlite {
            _dir: dir,
            ours,
            writer: Arc::new(Mutex::new(writer)),
            reader: Arc::new(Mutex::new(reader)),
            raw_version: 1,
        }
    }

    /// Baseline: the same SELECT on tokio's blocking pool.
    pub async fn raw_get_blocking(&self) {
        let reader = self.reader.clone();
        let row = tokio::task::spawn_blocking(move || {
            raw_get(&reader.lock().unwrap_or_else(PoisonError::into_inner))
        })
        .await
        .expect("the blocking task");
        std::hint::black_box(row);
    }

    /// Baseline: the same SELECT, called directly (blocks the runtime thread).
    pub fn raw_get_direct(&self) {
        let row = raw_get(&self.reader.lock().unwrap_or_else(PoisonError::into_inner));
        std::hint::black_box(row);
    }

    /// Baseline: `UPDATE .. WHERE version = ?` in an immediate transaction, on the blocking pool.
    pub async fn raw_put_blocking(&mut self) {
        let (writer, version) = (self.writer.clone(), self.raw_version);
        self.raw_version = tokio::task::spawn_blocking(move || {
            raw_put(
                &mut writer.lock().unwrap_or_else(PoisonError::into_inner),
                version,
            )
        })
        .await
        .expect("the blocking task");
    }

    /// Baseline: the same conditional update, called directly (blocks the runtime thread).
    pub fn raw_put_direct(&mut self) {
        self.raw_version = raw_put(
            &mut self.writer.lock().unwrap_or_else(PoisonError::into_inner),
            self.raw_version,
        );
    }
}

/// A writer connection as the store opens one: WAL, `synchronous=FULL`, `secure_delete`, busy
/// timeout 5 s. Inserts the raw side's row.
fn open_raw_writer(path: &Path) -> Connection {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).expect("open the raw database");
    conn.busy_timeout(BUSY_TIMEOUT).expect("busy timeout");
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .expect("WAL");
    assert!(
        mode.eq_ignore_ascii_case("wal"),
        "the raw database is in WAL mode"
    );
    conn.pragma_update(None, "synchronous", "FULL")
        .expect("synchronous=FULL");
    conn.pragma_update(None, "secure_delete", true)
        .expect("secure_delete");
    let now = now_ms();
    conn.execute(
        "INSERT INTO credentials (provider, subject, version, status, created_ms, updated_ms, payload) VALUES (?1, ?2, 1, 'active', ?3, ?3, ?4)",
        params![PROVIDER, RAW_SUBJECT, now, payload()],
    )
    .expect("the raw side's row");
    conn
}

/// A reader connection as the store opens one: query-only, busy timeout 5 s.
fn open_raw_reader(path: &Path) -> Connection {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).expect("open the raw database");
    conn.busy_timeout(BUSY_TIMEOUT).expect("busy timeout");
    conn.pragma_update(None, "query_only", true)
        .expect("query_only");
    conn
}

fn raw_get(conn: &Connection) -> RawRow {
    conn.prepare_cached(SELECT_ONE)
        .and_then(|mut stmt| {
            stmt.query_row(params![PROVIDER, RAW_SUBJECT], |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                    row.get(5)?,
                    row.get(6)?,
                    row.get(7)?,
                    row.get(8)?,
                    row.get(9)?,
                    row.get(10)?,
                ))
            })
            .optional()
        })
        .expect("the raw SELECT")
        .expect("the raw row")
}

/// Returns the new version.
fn raw_put(conn: &mut Connection, version: i64) -> i64 {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .expect("BEGIN IMMEDIATE");
    let changed = tx
        .prepare_cached(UPDATE_IF_VERSION)
        .and_then(|mut stmt| {
            stmt.execute(params![
                PROVIDER,
                RAW_SUBJECT,
                version,
                version + 1,
                now_ms(),
                payload()
            ])
        })
        .expect("the raw UPDATE");
    assert_eq!(changed, 1, "the version matched");
    tx.commit().expect("COMMIT");
    version + 1
}

/// The file store, and the raw atomic replace of a file with the same bytes.
pub struct Files {
    _dir: TempDir,
    store: FileCredentialStore,
    version: u64,
    raw: Arc<RawFile>,
}

struct RawFile {
    path: PathBuf,
    tmp: PathBuf,
    /// The directory, kept open to fsync it after each rename (as the store does).
    dir: File,
    /// The document the store wrote for the same record.
    bytes: Vec<u8>,
}

impl Files {
    /// Opens the store, writes one record, and keeps the document it wrote for the raw side.
    pub async fn new() -> Files {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("store.json");
        let store = FileCredentialStore::builder(&path)
            .unencrypted()
            .open()
            .await
            .expect("open the file store")
            .into_inner();
        let version = store
            .put(record(), PutMode::Create)
            .await
            .expect("the first put");
        let raw = RawFile {
            path: dir.path().join("raw.json"),
            tmp: dir.path().join("raw.json.tmp"),
            dir: File::open(dir.path()).expect("open the directory"),
            bytes: fs::read(&path).expect("the store's document"),
        };
        Files {
            _dir: dir,
            store,
            version,
            raw: Arc::new(raw),
        }
    }

    /// The size of the document both sides write.
    pub fn document_len(&self) -> usize {
        self.raw.bytes.len()
    }

    /// Ours: `store.put(.., PutMode::Update(version))` (runs on the blocking pool).
    pub async fn store_put(&mut self) {
        self.version = self
            .store
            .put(record(), PutMode::Update(self.version))
            .await
            .expect("conditional put");
    }

    /// Baseline: write a temp file, fsync, rename over the file, fsync the directory, on the
    /// blocking pool like the store.
    pub async fn raw_put(&self) {
        let raw = self.raw.clone();
        tokio::task::spawn_blocking(move || raw.replace())
            .await
            .expect("the blocking task");
    }
}

impl RawFile {
    fn replace(&self) {
        let mut tmp = File::create(&self.tmp).expect("create the temp file");
        tmp.write_all(&self.bytes).expect("write the temp file");
        tmp.sync_all().expect("fsync the temp file");
        drop(tmp);
        fs::rename(&self.tmp, &self.path).expect("rename over the file");
        self.dir.sync_all().expect("fsync the directory");
    }
}
