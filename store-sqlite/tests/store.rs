//! `SqliteCredentialStore` against the conformance suite, encryption at rest, and its error cases.
#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use auth_core::crypto::{EncryptionKey, KeyRing};
use auth_core::testing::{DynStore, payload, payload_n, run_conformance};
use auth_core::{CredentialRecord, CredentialStore, Payload, PutMode, StoreError};
use store_sqlite::{SCHEMA_VERSION, SqliteCredentialStore};

const CANARY: &str = "canary-9f27c1-access-token";

fn canary_payload(n: u64) -> Payload {
    Payload::new(format!("{{\"access_token\":\"{CANARY}\",\"n\":{n}}}").into_bytes())
}

fn key(byte: u8) -> EncryptionKey {
    EncryptionKey::from_bytes([byte; 32])
}

/// The database file and its `-wal` and `-shm` companions, concatenated.
fn raw_bytes(path: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        if let Ok(bytes) = std::fs::read(PathBuf::from(name)) {
            all.extend(bytes);
        }
    }
    all
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
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
        async move {
            let builder = SqliteCredentialStore::builder(path);
            let builder = match keys {
                Some(keys) => builder.key_ring(keys),
                None => builder.unencrypted(),
            };
            Arc::new(builder.open().await.expect("open")) as DynStore
        }
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
        StoreError::Backend { message, .. } => {
            assert!(message.contains("busy timeout"), "{message}")
        }
        other => panic!("expected Backend, got {other:?}"),
    }
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
    store.close().await.unwrap();
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
    let path = dir.path().join("creds.db");
    let store = SqliteCredentialStore::builder(&path)
        .key_ring(KeyRing::new(key(1)))
        .open()
        .await
        .unwrap();
    let mut v = store
        .put(
            CredentialRecord::new("asana", "user-1", canary_payload(0)),
            PutMode::Create,
        )
        .await
        .unwrap();
    for n in 1..5 {
        v = store
            .put(
                CredentialRecord::new("asana", "user-1", canary_payload(n)),
                PutMode::Update(v),
            )
            .await
            .unwrap();
    }
    let got = store.get("asana", "user-1").await.unwrap().unwrap();
    assert_eq!(got.record.payload, canary_payload(4));
    let open_bytes = raw_bytes(&path);
    assert!(
        std::fs::metadata(dir.path().join("creds.db-wal"))
            .unwrap()
            .len()
            > 0,
        "the writes are in the WAL while the store is open"
    );
    assert!(
        !contains(&open_bytes, CANARY),
        "token found in the database or its WAL"
    );
    assert!(
        contains(&open_bytes, "user-1"),
        "the subject stays in clear for lookups"
    );
    store.close().await.unwrap();
    assert!(!contains(&raw_bytes(&path), CANARY));

    // The same writes without a key do put the token on disk: the check above can fail.
    let plain_path = dir.path().join("plain.db");
    let plain = SqliteCredentialStore::builder(&plain_path)
        .unencrypted()
        .open()
        .await
        .unwrap();
    plain
        .put(
            CredentialRecord::new("asana", "user-1", canary_payload(0)),
            PutMode::Create,
        )
        .await
        .unwrap();
    assert!(contains(&raw_bytes(&plain_path), CANARY));
}

#[tokio::test]
async fn old_keys_still_read_and_rotate_moves_records_to_the_primary_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("creds.db");
    let plain = SqliteCredentialStore::builder(&path)
        .unencrypted()
        .open()
        .await
        .unwrap();
    plain
        .put(
            CredentialRecord::new("p", "plain", canary_payload(1)),
            PutMode::Create,
        )
        .await
        .unwrap();
    plain.close().await.unwrap();
    let old = SqliteCredentialStore::builder(&path)
        .key_ring(KeyRing::new(key(1)))
        .open()
        .await
        .unwrap();
    let mut versions = Vec::new();
    for (s, n) in [("a", 2), ("b", 3)] {
        let v1 = old
            .put(
                CredentialRecord::new("p", s, canary_payload(0)),
                PutMode::Create,
            )
            .await
            .unwrap();
        versions.push(
            old.put(
                CredentialRecord::new("p", s, canary_payload(n)),
                PutMode::Update(v1),
            )
            .await
            .unwrap(),
        );
    }
    old.close().await.unwrap();

    let ring = KeyRing::new(key(2)).with_old_key(key(1));
    let store = SqliteCredentialStore::builder(&path)
        .key_ring(ring)
        .open()
        .await
        .unwrap();
    let before: Vec<(String, u64, u64)> = store
        .list(None)
        .await
        .unwrap()
        .into_iter()
        .map(|c| {
            (
                c.record.subject.clone(),
                c.version,
                payload_n(&c.record.payload),
            )
        })
        .collect();
    assert_eq!(
        before,
        [
            ("a".to_string(), versions[0], 2),
            ("b".to_string(), versions[1], 3),
            ("plain".to_string(), 1, 1)
        ]
    );
    assert_eq!(
        key_ids(&store, &path).await,
        [
            Some(key(1).id().to_string()),
            Some(key(1).id().to_string()),
            None
        ]
    );

    assert_eq!(store.rotate().await.unwrap(), 3);
    let new_id = Some(key(2).id().to_string());
    assert_eq!(
        key_ids(&store, &path).await,
        [new_id.clone(), new_id.clone(), new_id]
    );
    assert_eq!(store.rotate().await.unwrap(), 0, "nothing left to rotate");
    let after: Vec<(String, u64, u64)> = store
        .list(None)
        .await
        .unwrap()
        .into_iter()
        .map(|c| {
            (
                c.record.subject.clone(),
                c.version,
                payload_n(&c.record.payload),
            )
        })
        .collect();
    assert_eq!(after, before, "rotation keeps versions and payloads");
    assert!(
        !contains(&raw_bytes(&path), CANARY),
        "the plaintext record's token must be gone from the files after rotation"
    );
    store.close().await.unwrap();

    let new_only = SqliteCredentialStore::builder(&path)
        .key_ring(KeyRing::new(key(2)))
        .open()
        .await
        .unwrap();
    assert_eq!(new_only.list(None).await.unwrap().len(), 3);
    let old_only = SqliteCredentialStore::builder(&path)
        .key_ring(KeyRing::new(key(1)))
        .open()
        .await
        .unwrap();
    assert!(matches!(
        old_only.get("p", "a").await,
        Err(StoreError::UnknownKey { key_id, .. }) if key_id == key(2).id()
    ));
}

/// The `key_id` column of every record, ordered by subject, read with a raw connection.
async fn key_ids(store: &SqliteCredentialStore, path: &Path) -> Vec<Option<String>> {
    assert!(store.is_encrypted());
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare("SELECT key_id FROM credentials ORDER BY subject")
        .unwrap();
    stmt.query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
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
    let path = dir.path().join("creds.db");
    let right = KeyRing::new(key(1).with_id("k1").unwrap());
    let store = SqliteCredentialStore::builder(&path)
        .key_ring(right)
        .open()
        .await
        .unwrap();
    store
        .put(CredentialRecord::new("p", "s", payload(1)), PutMode::Create)
        .await
        .unwrap();
    store.close().await.unwrap();
    let before = std::fs::read(&path).unwrap();

    let same_id = KeyRing::new(key(2).with_id("k1").unwrap());
    let other_id = KeyRing::new(key(2));
    for (label, builder) in [
        (
            "same id, wrong key",
            SqliteCredentialStore::builder(&path).key_ring(same_id),
        ),
        (
            "unknown key id",
            SqliteCredentialStore::builder(&path).key_ring(other_id),
        ),
        (
            "no key",
            SqliteCredentialStore::builder(&path).unencrypted(),
        ),
    ] {
        let store = builder.open().await.unwrap();
        let got = store.get("p", "s").await;
        let listed = store.list(None).await;
        match label {
            "same id, wrong key" => {
                assert!(
                    matches!(&got, Err(StoreError::Decrypt { provider, subject, key_id }) if (provider.as_str(), subject.as_str(), key_id.as_str()) == ("p", "s", "k1")),
                    "{label}: {got:?}"
                );
                assert!(matches!(listed, Err(StoreError::Decrypt { .. })), "{label}");
            }
            "unknown key id" => {
                assert!(
                    matches!(&got, Err(StoreError::UnknownKey { key_id, .. }) if key_id == "k1"),
                    "{label}: {got:?}"
                );
                assert!(
                    matches!(listed, Err(StoreError::UnknownKey { .. })),
                    "{label}"
                );
            }
            _ => {
                assert!(
                    matches!(&got, Err(StoreError::MissingKey { .. })),
                    "{label}: {got:?}"
                );
                assert!(
                    matches!(listed, Err(StoreError::MissingKey { .. })),
                    "{label}"
                );
            }
        }
        store.close().await.unwrap();
        assert_eq!(
            std::fs::read(&path).unwrap(),
            before,
            "{label}: the file changed"
        );
    }
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
    store.close().await.unwrap();
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
async fn unknown_schema_version_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("creds.db");
    SqliteCredentialStore::builder(&path)
        .unencrypted()
        .open()
        .await
        .unwrap()
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
    let file = dir.path().join("plain-file");
    std::fs::write(&file, b"x").unwrap();
    match SqliteCredentialStore::builder(file.join("creds.db"))
        .unencrypted()
        .open()
        .await
    {
        Err(StoreError::Io { source, .. }) => {
            assert_eq!(source.kind(), std::io::ErrorKind::NotADirectory)
        }
        other => panic!("expected Io, got {other:?}"),
    }
}

const READ_ONLY_CHILD_ENV: &str = "STORE_SQLITE_READ_ONLY_CHILD";

/// Opens the store at a path in a directory this user cannot write, and checks the error.
async fn assert_read_only(path: &Path) {
    match SqliteCredentialStore::builder(path)
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
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let ro = dir.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
    let path = ro.join("creds.db");
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        assert_read_only(&path).await;
        return;
    }
    // Root writes anywhere: check as the unprivileged user `nobody` in a child process.
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "read_only_child", "--nocapture", "--ignored"])
        .env(READ_ONLY_CHILD_ENV, &path)
        .uid(65534)
        .gid(65534)
        .output();
    match output {
        Ok(output) => {
            let stdout = String::from_utf8_lossy(&output.stdout);
            assert!(
                output.status.success() && stdout.contains("read-only check passed"),
                "child failed: {stdout}\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Err(err) if err.kind() == std::io::ErrorKind::PermissionDenied => {
            println!(
                "note: running as root and `nobody` cannot execute this test binary ({err}); the read-only check was skipped"
            );
        }
        Err(err) => panic!("cannot start the read-only child: {err}"),
    }
    assert!(
        !path.exists(),
        "nothing may be created in a read-only directory"
    );
}

#[tokio::test]
#[ignore = "child process of read_only_directory_is_a_read_only_error"]
async fn read_only_child() {
    let Some(path) = std::env::var_os(READ_ONLY_CHILD_ENV) else {
        return;
    };
    assert_read_only(Path::new(&path)).await;
    println!("read-only check passed");
}
