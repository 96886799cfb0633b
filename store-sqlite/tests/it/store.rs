//! `SqliteCredentialStore` against the conformance suite, encryption at rest, and its error cases.
#![cfg(unix)]

use crate::support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use auth_core::crypto::{Envelope, KeyRing};
use auth_core::testing::encryption::{self, key};
use auth_core::testing::{
    DynStore, a_record_at_the_highest_version_is_not_written_again, payload, payload_n, read_only,
    run_conformance,
};
use auth_core::{CredentialRecord, CredentialStore, EncryptedStore, PutMode, StoreError};
use store_sqlite::{SCHEMA_VERSION, SqliteCredentialStore};

/// The store as applications open it: the database inside the encryption layer.
type Store = EncryptedStore<SqliteCredentialStore>;

/// Opens the database at `path` with `keys`, or unencrypted for `None`.
async fn open(path: PathBuf, keys: Option<KeyRing>) -> Store {
    let encrypted = keys.is_some();
    let store = support::builder(path, keys).open().await.expect("open");
    assert_eq!(store.is_encrypted(), encrypted);
    store
}

/// Closes the database: the WAL is checkpointed into the main file.
async fn close(store: Store) -> Result<(), StoreError> {
    store.into_inner().close().await
}

/// Runs the suite on fresh databases in one temporary directory.
async fn conformance(keys: Option<KeyRing>) {
    let dir = tempfile::tempdir().unwrap();
    let counter = AtomicUsize::new(0);
    run_conformance(|| {
        let path = dir
            .path()
            .join(format!("{}.db", counter.fetch_add(1, Ordering::Relaxed)));
        let keys = keys.clone();
        async move { Arc::new(open(path, keys).await) as DynStore }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_in_memory() {
    run_conformance(|| async {
        Arc::new(SqliteCredentialStore::open_in_memory().await.unwrap()) as DynStore
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_on_disk_without_key() {
    conformance(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_on_disk_with_key() {
    conformance(Some(KeyRing::new(key(7)))).await;
}

#[tokio::test]
async fn describe_and_debug_name_the_path_and_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("creds.db");
    let k = key(3);
    let store = SqliteCredentialStore::builder(&path)
        .key_ring(KeyRing::new(k.clone()))
        .open()
        .await
        .unwrap();
    assert_eq!(store.describe(), format!("sqlite:{}", path.display()));
    let debug = format!("{store:?}");
    assert!(debug.contains(k.id()), "{debug}");
    assert!(!debug.contains(k.to_base64().expose_secret()), "{debug}");
    let memory = SqliteCredentialStore::open_in_memory().await.unwrap();
    assert_eq!(memory.describe(), "sqlite::memory:");
    assert!(!memory.is_encrypted());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_opens_of_a_new_file_all_succeed() {
    for round in 0..10 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.db");
        let opens: Vec<_> = (0..6)
            .map(|_| {
                let path = path.clone();
                tokio::spawn(async move {
                    let store = SqliteCredentialStore::builder(&path)
                        .unencrypted()
                        .open()
                        .await?;
                    store
                        .put(
                            CredentialRecord::new("p", "s", payload(1)),
                            PutMode::Overwrite,
                        )
                        .await
                })
            })
            .collect();
        let mut versions = Vec::new();
        for open in opens {
            versions.push(
                open.await
                    .unwrap()
                    .unwrap_or_else(|e| panic!("round {round}: {e}")),
            );
        }
        versions.sort_unstable();
        assert_eq!(versions, [1, 2, 3, 4, 5, 6], "round {round}");
    }
}

/// Without a `busy_timeout` setting, a write waits up to the default of 5 s for another
/// connection's lock: another connection holds `BEGIN IMMEDIATE` for 2 s and then commits, and
/// an update made meanwhile waits for it (at least 1.9 s) and succeeds, writing version v1 + 1
/// with its payload.
#[tokio::test]
async fn a_write_waits_out_a_lock_held_within_the_default_busy_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("creds.db");
    let store = SqliteCredentialStore::builder(&path)
        .unencrypted()
        .open()
        .await
        .unwrap();
    let v1 = store
        .put(CredentialRecord::new("p", "s", payload(1)), PutMode::Create)
        .await
        .unwrap();
    let (locked, is_locked) = std::sync::mpsc::channel();
    let holder = std::thread::spawn({
        let path = path.clone();
        move || {
            let other = rusqlite::Connection::open(&path).unwrap();
            other.execute_batch("BEGIN IMMEDIATE").unwrap();
            locked.send(()).unwrap();
            std::thread::sleep(Duration::from_secs(2));
            other.execute_batch("COMMIT").unwrap();
        }
    });
    is_locked.recv().unwrap();
    let started = Instant::now();
    let version = store
        .put(
            CredentialRecord::new("p", "s", payload(2)),
            PutMode::Update(v1),
        )
        .await
        .expect("the lock is released within the default busy timeout");
    let waited = started.elapsed();
    holder.join().unwrap();
    assert_eq!(version, v1 + 1);
    assert!(waited >= Duration::from_millis(1900), "{waited:?}");
    let stored = store.get("p", "s").await.unwrap().expect("record");
    assert_eq!(stored.version, v1 + 1);
    assert_eq!(payload_n(&stored.record.payload), 2);
}

#[tokio::test]
async fn a_lock_held_past_the_busy_timeout_fails_the_write_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("creds.db");
    let store = SqliteCredentialStore::builder(&path)
        .unencrypted()
        .busy_timeout(Duration::from_millis(100))
        .open()
        .await
        .unwrap();
    let v1 = store
        .put(CredentialRecord::new("p", "s", payload(1)), PutMode::Create)
        .await
        .unwrap();
    let other = rusqlite::Connection::open(&path).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let started = Instant::now();
    let err = store
        .put(
            CredentialRecord::new("p", "s", payload(2)),
            PutMode::Update(v1),
        )
        .await
        .expect_err("the write lock is held elsewhere");
    assert!(
        started.elapsed() >= Duration::from_millis(100),
        "waited for the busy timeout"
    );
    match &err {
        StoreError::Io {
            location, source, ..
        } => {
            assert_eq!(location, &path.display().to_string());
            assert_eq!(source.kind(), std::io::ErrorKind::TimedOut);
            assert_eq!(
                source.to_string(),
                "database is locked: another connection held the database lock for longer than the busy timeout; retry later"
            );
        }
        other => panic!("expected Io(TimedOut), got {other:?}"),
    }
    assert!(
        auth_core::AuthError::Store(err).is_transient(),
        "a held lock is worth retrying"
    );
    other.execute_batch("ROLLBACK").unwrap();
    assert_eq!(
        store
            .put(
                CredentialRecord::new("p", "s", payload(3)),
                PutMode::Update(v1)
            )
            .await
            .unwrap(),
        v1 + 1,
        "the failed write changed nothing"
    );
}

#[tokio::test]
async fn files_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("a").join("b");
    let path = nested.join("creds.db");
    let store = SqliteCredentialStore::builder(&path)
        .unencrypted()
        .open()
        .await
        .unwrap();
    store
        .put(CredentialRecord::new("p", "s", payload(1)), PutMode::Create)
        .await
        .unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir.path().join("a")), 0o700);
    assert_eq!(mode(&nested), 0o700);
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&nested.join("creds.db-wal")), 0o600);
    assert_eq!(mode(&nested.join("creds.db-shm")), 0o600);
}

#[tokio::test]
async fn a_world_readable_database_and_its_wal_and_shm_are_made_private_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("creds.db");
    let first = open(path.clone(), None).await;
    first
        .put(CredentialRecord::new("p", "s", payload(1)), PutMode::Create)
        .await
        .unwrap();
    let files = ["creds.db", "creds.db-wal", "creds.db-shm"].map(|f| dir.path().join(f));
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    for file in &files {
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let second = open(path.clone(), None).await;
    for file in &files {
        assert_eq!(mode(file), 0o600, "{}", file.display());
    }
    assert_eq!(
        payload_n(&second.get("p", "s").await.unwrap().unwrap().record.payload),
        1
    );
    first
        .put(
            CredentialRecord::new("p", "s", payload(2)),
            PutMode::Update(1),
        )
        .await
        .expect("the first handle still writes");
    second.into_inner().close().await.unwrap();
    first.into_inner().close().await.unwrap();
}

#[tokio::test]
async fn a_directory_named_as_the_store_is_refused_and_keeps_its_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("creds.db");
    std::fs::create_dir(&path).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    let Err(StoreError::Io { source, .. }) = support::builder(path.clone(), None).open().await
    else {
        panic!("a directory must be refused with StoreError::Io");
    };
    assert_eq!(source.kind(), std::io::ErrorKind::IsADirectory);
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o755
    );
}

#[tokio::test]
async fn data_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("creds.db");
    let store = SqliteCredentialStore::builder(&path)
        .unencrypted()
        .open()
        .await
        .unwrap();
    let v = store
        .put(CredentialRecord::new("p", "s", payload(5)), PutMode::Create)
        .await
        .unwrap();
    store.into_inner().close().await.unwrap();
    assert!(
        !dir.path().join("creds.db-wal").exists(),
        "close checkpoints and removes the WAL"
    );
    let store = SqliteCredentialStore::builder(&path)
        .unencrypted()
        .open()
        .await
        .unwrap();
    let got = store.get("p", "s").await.unwrap().unwrap();
    assert_eq!((got.version, payload_n(&got.record.payload)), (v, 5));
}

#[tokio::test]
async fn with_a_key_the_token_is_nowhere_in_the_files() {
    let dir = tempfile::tempdir().unwrap();
    encryption::token_is_nowhere_in_the_files(dir.path(), "db", open, close, key_ids, |path| {
        assert!(
            std::fs::metadata(path.with_extension("db-wal"))
                .unwrap()
                .len()
                > 0,
            "the writes are in the WAL while the store is open"
        )
    })
    .await;
}

#[tokio::test]
async fn old_keys_still_read_and_rotate_moves_records_to_the_primary_key() {
    let dir = tempfile::tempdir().unwrap();
    encryption::old_keys_still_read_and_rotate_moves_records_to_the_primary_key(
        dir.path(),
        "db",
        open,
        Store::rotate,
        close,
        key_ids,
    )
    .await;
}

/// The envelope a payload holds, if any.
fn envelope(payload: &[u8]) -> Option<Envelope> {
    Envelope::parse(payload).expect("a well-formed envelope or plaintext")
}

/// The key id of every record, ordered by subject, read with a raw connection: from the `key_id`
/// column of earlier releases or from the envelope in the payload; `None` for plaintext.
fn key_ids(path: &Path) -> Vec<Option<String>> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare("SELECT key_id, payload FROM credentials ORDER BY subject")
        .unwrap();
    stmt.query_map([], |row| {
        let key_id: Option<String> = row.get(0)?;
        let payload: Vec<u8> = row.get(1)?;
        Ok(key_id.or_else(|| envelope(&payload).map(|e| e.sealed().key_id.clone())))
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

#[tokio::test]
async fn plaintext_record_is_refused_with_a_key_until_rotate() {
    let dir = tempfile::tempdir().unwrap();
    encryption::plaintext_record_is_refused_with_a_key_until_rotate(
        dir.path(),
        "db",
        open,
        Store::rotate,
        close,
        key_ids,
    )
    .await;
}

/// The sealed body of a row: `key_id`, `nonce`, `payload` and `seal_format`.
type RowBody = (Option<String>, Option<Vec<u8>>, Vec<u8>, Option<i64>);

/// The sealed body of `subject`'s row, read with a raw connection.
fn read_body(path: &Path, subject: &str) -> RowBody {
    rusqlite::Connection::open(path)
        .unwrap()
        .query_row(
            "SELECT key_id, nonce, payload, seal_format FROM credentials WHERE subject = ?1",
            [subject],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
        )
        .unwrap()
}

/// Writes `body` over `subject`'s row, and `version` when given, with a raw connection.
fn write_body(path: &Path, subject: &str, body: RowBody, version: Option<u64>) {
    let conn = rusqlite::Connection::open(path).unwrap();
    let (key_id, nonce, payload, format) = body;
    let changed = conn
        .execute(
            "UPDATE credentials SET key_id = ?2, nonce = ?3, payload = ?4, seal_format = ?5, \
             version = coalesce(?6, version) WHERE subject = ?1",
            rusqlite::params![
                subject,
                key_id,
                nonce,
                payload,
                format,
                version.map(|v| i64::try_from(v).unwrap())
            ],
        )
        .unwrap();
    assert_eq!(changed, 1);
}

#[tokio::test]
async fn older_ciphertext_put_back_over_a_newer_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    encryption::older_ciphertext_put_back_over_a_newer_version_is_refused(
        dir.path(),
        "db",
        open,
        close,
        read_body,
        write_body,
    )
    .await;
}

/// A database as releases before version binding wrote it: schema version 1, no `seal_format`
/// column, holding `p`/`legacy` at version 3 sealed in the legacy format.
fn plant_schema_1(path: &Path) {
    let sealed = encryption::legacy_sealed();
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA application_id = 1229870151;
         PRAGMA user_version = 1;
         CREATE TABLE credentials (
             provider         TEXT    NOT NULL,
             subject          TEXT    NOT NULL,
             version          INTEGER NOT NULL,
             status           TEXT    NOT NULL,
             lease_holder     TEXT,
             lease_expires_ms INTEGER,
             created_ms       INTEGER NOT NULL,
             updated_ms       INTEGER NOT NULL,
             key_id           TEXT,
             nonce            BLOB,
             payload          BLOB    NOT NULL,
             PRIMARY KEY (provider, subject)
         ) WITHOUT ROWID;",
    )
    .unwrap();
    conn.execute(
        "INSERT INTO credentials VALUES ('p', 'legacy', 3, 'active', NULL, NULL, 0, 0, ?1, ?2, ?3)",
        rusqlite::params![sealed.key_id, sealed.nonce, sealed.ciphertext],
    )
    .unwrap();
}

/// The seal format of every encrypted record, ordered by subject: from the columns of earlier
/// releases (1 where a row sealed before schema 2 has none) or from the envelope in the payload.
fn seal_formats(path: &Path) -> Vec<Option<u8>> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT CASE WHEN key_id IS NULL THEN NULL ELSE coalesce(seal_format, 1) END, payload \
             FROM credentials ORDER BY subject",
        )
        .unwrap();
    stmt.query_map([], |row| {
        let format: Option<u8> = row.get(0)?;
        let payload: Vec<u8> = row.get(1)?;
        Ok(format.or_else(|| envelope(&payload).map(|e| e.sealed().format.number())))
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

#[tokio::test]
async fn payloads_sealed_by_earlier_releases_still_read_and_rotate_binds_them() {
    let dir = tempfile::tempdir().unwrap();
    encryption::payloads_sealed_by_earlier_releases_still_read_and_rotate_binds_them(
        dir.path(),
        "db",
        plant_schema_1,
        open,
        Store::rotate,
        close,
        seal_formats,
    )
    .await;
    let conn = rusqlite::Connection::open(dir.path().join("creds.db")).unwrap();
    let version: u32 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION, "the schema was migrated");
}

#[tokio::test]
async fn rotate_without_a_key_is_an_invalid_key_error() {
    let store = SqliteCredentialStore::open_in_memory().await.unwrap();
    assert!(matches!(
        store.rotate().await,
        Err(StoreError::InvalidKey { .. })
    ));
}

#[tokio::test]
async fn wrong_or_missing_key_is_a_clear_error_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    encryption::wrong_or_missing_key_is_a_clear_error_and_changes_nothing(
        dir.path(),
        "db",
        open,
        close,
    )
    .await;
}

#[tokio::test]
async fn truncated_file_is_reported_as_corrupt_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("creds.db");
    let store = SqliteCredentialStore::builder(&path)
        .unencrypted()
        .open()
        .await
        .unwrap();
    for i in 0..200 {
        store
            .put(
                CredentialRecord::new("p", format!("subject-{i:04}"), payload(i)),
                PutMode::Create,
            )
            .await
            .unwrap();
    }
    store.into_inner().close().await.unwrap();
    let full = std::fs::read(&path).unwrap();
    assert!(full.len() > 8192, "needs several pages: {}", full.len());
    for cut in [50, 4096 + 100, full.len() / 2] {
        std::fs::write(&path, &full[..cut]).unwrap();
        let err = match SqliteCredentialStore::builder(&path)
            .unencrypted()
            .open()
            .await
        {
            Err(err) => err,
            Ok(store) => store
                .list(None)
                .await
                .expect_err("a truncated database must not read as valid"),
        };
        match &err {
            StoreError::Corrupt { location, .. } => {
                assert_eq!(location, &path.display().to_string())
            }
            other => panic!("cut at {cut}: expected Corrupt, got {other:?}"),
        }
        assert!(err.to_string().contains("left untouched"), "{err}");
        assert_eq!(
            std::fs::read(&path).unwrap(),
            &full[..cut],
            "cut at {cut}: the file changed"
        );
    }
}

#[tokio::test]
async fn a_file_cut_inside_its_last_page_or_garbled_is_corrupt_not_a_wrong_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("creds.db");
    let keys = || Some(KeyRing::new(key(1)));
    let store = open(path.clone(), keys()).await;
    store
        .put(CredentialRecord::new("p", "s", payload(1)), PutMode::Create)
        .await
        .unwrap();
    store.into_inner().close().await.unwrap();
    let full = std::fs::read(&path).unwrap();
    let page = 4096;
    assert_eq!(full.len() % page, 0, "a database is whole pages");
    let last_page = full.len() - page;
    let mut garbled = full.clone();
    garbled[last_page..].fill(0xa5);
    let mut damaged: Vec<(String, Vec<u8>)> = [1, 100, 300, 2000, page - 1]
        .into_iter()
        .map(|cut| {
            (
                format!("cut {cut} bytes short"),
                full[..full.len() - cut].to_vec(),
            )
        })
        .collect();
    damaged.push(("last page garbled".into(), garbled));
    damaged.push((
        "random bytes".into(),
        (0..8192u32).map(|i| (i * 7919 % 251) as u8).collect(),
    ));
    for (label, bytes) in damaged {
        std::fs::write(&path, &bytes).unwrap();
        let err = match support::builder(&path, keys()).open().await {
            Err(err) => err,
            Ok(store) => {
                let err = store
                    .list(None)
                    .await
                    .expect_err("a damaged database must not read as valid");
                store.into_inner().close().await.unwrap();
                err
            }
        };
        match &err {
            StoreError::Corrupt { location, .. } => {
                assert_eq!(location, &path.display().to_string(), "{label}")
            }
            other => panic!("{label}: expected Corrupt, got {other:?}"),
        }
        assert_eq!(
            std::fs::read(&path).unwrap(),
            bytes,
            "{label}: the file changed"
        );
        for suffix in ["-wal", "-shm"] {
            let _ = std::fs::remove_file(dir.path().join(format!("creds.db{suffix}")));
        }
    }
}

#[tokio::test]
async fn a_column_of_the_wrong_type_is_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("creds.db");
    let store = open(path.clone(), None).await;
    store
        .put(CredentialRecord::new("p", "s", payload(1)), PutMode::Create)
        .await
        .unwrap();
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute("UPDATE credentials SET created_ms = 'soon'", [])
        .unwrap();
    for result in [
        store.get("p", "s").await.map(|_| ()),
        store.list(None).await.map(|_| ()),
    ] {
        match result {
            Err(StoreError::Corrupt {
                location, reason, ..
            }) => {
                assert_eq!(location, path.display().to_string());
                assert!(reason.contains("created_ms"), "{reason}");
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_record_at_the_highest_version_reads_but_is_not_written_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("creds.db");
    let store = open(path.clone(), None).await;
    store
        .put(CredentialRecord::new("p", "s", payload(1)), PutMode::Create)
        .await
        .unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute("UPDATE credentials SET version = ?1", [i64::MAX])
        .unwrap();
    a_record_at_the_highest_version_is_not_written_again(
        &store,
        "p",
        "s",
        &path.display().to_string(),
    )
    .await;

    // Past i64::MAX, SQLite keeps the number as a float: not a version.
    conn.execute("UPDATE credentials SET version = 9223372036854775808", [])
        .unwrap();
    match store.get("p", "s").await {
        Err(StoreError::Corrupt {
            location, reason, ..
        }) => {
            assert_eq!(location, path.display().to_string());
            assert_eq!(
                reason,
                "a row does not match the schema (Invalid column type Real at index: 2, name: version)"
            );
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    assert!(
        store.delete("p", "s").await.unwrap(),
        "deleting it still works"
    );
}

#[tokio::test]
async fn unknown_schema_version_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("creds.db");
    SqliteCredentialStore::builder(&path)
        .unencrypted()
        .open()
        .await
        .unwrap()
        .into_inner()
        .close()
        .await
        .unwrap();
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    match SqliteCredentialStore::builder(&path)
        .unencrypted()
        .open()
        .await
    {
        Err(StoreError::UnsupportedVersion {
            location,
            found,
            supported,
            ..
        }) => {
            assert_eq!(location, path.display().to_string());
            assert_eq!((found, supported), (99, u64::from(SCHEMA_VERSION)));
        }
        other => panic!("expected UnsupportedVersion, got {other:?}"),
    }
    assert!(std::fs::read(&path).unwrap() == before, "the file changed");
}

#[tokio::test]
async fn another_applications_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('hi');")
            .unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    assert!(matches!(
        SqliteCredentialStore::builder(&path)
            .unencrypted()
            .open()
            .await,
        Err(StoreError::Corrupt { .. })
    ));
    assert!(std::fs::read(&path).unwrap() == before, "the file changed");
}

#[tokio::test]
async fn a_parent_that_is_a_file_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    read_only::parent_that_is_a_file_is_an_io_error(dir.path(), "creds.db", async |path| {
        SqliteCredentialStore::builder(path)
            .unencrypted()
            .open()
            .await
    })
    .await;
}

/// Opens a new database in the read-only directory `ro`, and checks the error.
async fn assert_read_only(ro: &Path) {
    let path = ro.join("creds.db");
    match SqliteCredentialStore::builder(&path)
        .unencrypted()
        .open()
        .await
    {
        Err(StoreError::ReadOnly { location, .. }) => {
            assert_eq!(location, path.display().to_string())
        }
        other => panic!("expected ReadOnly, got {other:?}"),
    }
}

#[tokio::test]
async fn read_only_directory_is_a_read_only_error() {
    let dir = tempfile::tempdir().unwrap();
    read_only::run_read_only_directory(
        dir.path(),
        "store::read_only_child",
        async |_: &Path| {},
        assert_read_only,
    )
    .await;
}

#[tokio::test]
#[ignore = "child process of read_only_directory_is_a_read_only_error"]
async fn read_only_child() {
    read_only::child_read_only(assert_read_only).await;
}

#[tokio::test]
async fn a_database_written_before_the_encryption_layer_reads_and_rotate_rewrites_it_as_envelopes()
{
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("creds.db");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/written-by-schema-2.db"),
        &path,
    )
    .unwrap();
    let ring = || Some(KeyRing::new(key(1)).with_old_key(key(2)));
    let store = open(path.clone(), ring()).await;
    encryption::fixture_records_read_as_written(&store).await;
    assert_eq!(
        store.rotate().await.unwrap(),
        4,
        "every record is rewritten"
    );
    assert_eq!(store.rotate().await.unwrap(), 0, "nothing left to rotate");
    close(store).await.unwrap();

    for (_, subject, _, _) in encryption::FIXTURE_RECORDS {
        let (key_id, nonce, payload, seal_format) = read_body(&path, subject);
        assert_eq!(
            (key_id, nonce, seal_format),
            (None, None, None),
            "{subject}"
        );
        let envelope = envelope(&payload).expect("an envelope");
        assert_eq!(envelope.format_version(), Envelope::CURRENT);
        assert_eq!(envelope.sealed().key_id, key(1).id());
    }
    let conn = rusqlite::Connection::open(&path).unwrap();
    let user_version: u32 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .unwrap();
    assert_eq!(user_version, SCHEMA_VERSION);
    drop(conn);
    assert!(
        !encryption::contains(&encryption::dir_bytes(dir.path()), "fixture-plain-token"),
        "the plaintext record is encrypted"
    );

    let new_only = open(path, Some(KeyRing::new(key(1)))).await;
    encryption::fixture_records_read_after_rotate(&new_only).await;
    close(new_only).await.unwrap();
}

/// Where the parent tells the thread-counting child which database to read.
const THREADS_CHILD_DB_ENV: &str = "STORE_SQLITE_TEST_THREADS_DB";
/// What that child prints when its checks passed.
const THREADS_CHECKED: &str = "store threads checked";

/// The names of this process's store threads (Linux cuts a thread's name to 15 bytes), sorted.
fn store_threads() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.unwrap().path().join("comm")).ok())
        .map(|name| name.trim_end().to_string())
        .filter(|name| name.starts_with("sqlite-store"))
        .collect();
    names.sort();
    names
}

#[test]
fn a_store_that_only_reads_starts_no_writer_thread_until_its_first_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("creds.db");
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = open(path.clone(), None).await;
        store
            .put(CredentialRecord::new("p", "s", payload(1)), PutMode::Create)
            .await
            .unwrap();
        close(store).await.unwrap();
    });
    // Threads are counted in a process of their own: other tests run stores beside this one.
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "store::store_threads_child",
            "--nocapture",
            "--ignored",
        ])
        .env(THREADS_CHILD_DB_ENV, &path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains(THREADS_CHECKED),
        "child failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
#[ignore = "child process of a_store_that_only_reads_starts_no_writer_thread_until_its_first_write"]
fn store_threads_child() {
    let path = PathBuf::from(std::env::var_os(THREADS_CHILD_DB_ENV).unwrap());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = open(path, None).await;
        let got = store.get("p", "s").await.unwrap().expect("stored");
        assert_eq!(
            store_threads(),
            ["sqlite-store-re"],
            "after open and a read"
        );
        store
            .put(
                CredentialRecord::new("p", "s", payload(2)),
                PutMode::Update(got.version),
            )
            .await
            .unwrap();
        assert_eq!(
            store_threads(),
            ["sqlite-store-re", "sqlite-store-wr"],
            "after a write"
        );
        assert_eq!(
            store.get("p", "s").await.unwrap().expect("stored").version,
            got.version + 1
        );
        close(store).await.unwrap();
    });
    println!("{THREADS_CHECKED}");
}
