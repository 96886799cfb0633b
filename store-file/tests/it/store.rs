//! `FileCredentialStore` against the conformance suite, its file format, encryption at rest, locking
//! and its error cases.
#![cfg(unix)]

use crate::support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use auth_core::crypto::{Envelope, KeyRing};
use auth_core::store::MAX_VERSION;
use auth_core::testing::encryption::{self, CANARY, canary_payload, key};
use auth_core::testing::{
    DynStore, a_record_at_the_highest_version_is_not_written_again, payload, payload_n, read_only,
    run_conformance,
};
use auth_core::{CredentialRecord, CredentialStore, EncryptedStore, Payload, PutMode, StoreError};
use store_file::{FORMAT, FORMAT_VERSION, FileCredentialStore};

/// The user and group `nobody`, as which the read-only check runs when the tests run as root.
const NOBODY: u32 = 65534;

/// The store as applications open it: the file inside the encryption layer.
type Store = EncryptedStore<FileCredentialStore>;

/// Opens the store at `path` with `keys`, or unencrypted for `None`.
async fn open(path: PathBuf, keys: Option<KeyRing>) -> Store {
    let encrypted = keys.is_some();
    let store = support::builder(path, keys).open().await.expect("open");
    assert_eq!(store.is_encrypted(), encrypted);
    store
}

/// Nothing to close: the store holds its file open only during a call.
async fn close(_store: Store) -> Result<(), StoreError> {
    Ok(())
}

async fn plain(path: &Path) -> Store {
    open(path.to_path_buf(), None).await
}

async fn conformance(keys: Option<KeyRing>) {
    let dir = tempfile::tempdir().unwrap();
    let counter = AtomicUsize::new(0);
    run_conformance(|| {
        let path = dir
            .path()
            .join(format!("{}.json", counter.fetch_add(1, Ordering::Relaxed)));
        let keys = keys.clone();
        async move { Arc::new(open(path, keys).await) as DynStore }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_without_key() {
    conformance(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_with_key() {
    conformance(Some(KeyRing::new(key(7)))).await;
}

#[tokio::test]
async fn describe_and_debug_name_the_path_and_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("creds.json");
    let k = key(3);
    let store = FileCredentialStore::builder(&path)
        .key_ring(KeyRing::new(k.clone()))
        .open()
        .await
        .unwrap();
    assert_eq!(store.describe(), format!("file:{}", path.display()));
    let debug = format!("{store:?}");
    assert!(debug.contains(k.id()), "{debug}");
    assert!(!debug.contains(k.to_base64().expose_secret()), "{debug}");
    assert!(store.is_encrypted());
}

#[tokio::test]
async fn the_document_is_versioned_json_with_embedded_payloads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("creds.json");
    let store = plain(&path).await;
    assert!(!path.exists(), "the file is created by the first write");
    store
        .put(
            CredentialRecord::new("asana", "user-1", canary_payload(1)),
            PutMode::Create,
        )
        .await
        .unwrap();
    let odd = Payload::new(b"\xffnot json".to_vec());
    store
        .put(
            CredentialRecord::new("asana", "user-0", odd.clone()),
            PutMode::Create,
        )
        .await
        .unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["format"], FORMAT);
    assert_eq!(doc["format_version"], FORMAT_VERSION);
    let records = doc["records"].as_array().unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["subject"], "user-0", "ordered by subject");
    assert_eq!(records[0]["payload_base64"], "/25vdCBqc29u");
    assert_eq!(records[1]["provider"], "asana");
    assert_eq!(records[1]["version"], 1);
    assert_eq!(records[1]["status"], "active");
    assert_eq!(
        records[1]["payload"],
        serde_json::json!({"access_token": CANARY, "n": 1}),
        "a JSON payload is embedded as JSON"
    );
    assert!(
        text.lines().count() > 10,
        "pretty-printed for people: {text}"
    );
    let got = store.get("asana", "user-0").await.unwrap().unwrap();
    assert_eq!(got.record.payload, odd);
}

#[tokio::test]
async fn files_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("a").join("b");
    let path = nested.join("creds.json");
    let store = plain(&path).await;
    store
        .put(CredentialRecord::new("p", "s", payload(1)), PutMode::Create)
        .await
        .unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir.path().join("a")), 0o700);
    assert_eq!(mode(&nested), 0o700);
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&nested.join("creds.json.lock")), 0o600);
    assert!(
        !nested.join("creds.json.tmp").exists(),
        "the temp file was renamed"
    );
}

#[tokio::test]
async fn a_world_readable_file_and_its_lock_and_temp_files_are_made_private_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("creds.json");
    plain(&path)
        .await
        .put(CredentialRecord::new("p", "s", payload(1)), PutMode::Create)
        .await
        .unwrap();
    std::fs::copy(&path, dir.path().join("creds.json.tmp")).unwrap();
    let files = ["creds.json", "creds.json.lock", "creds.json.tmp"].map(|f| dir.path().join(f));
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    for file in &files {
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let store = plain(&path).await;
    for file in &files {
        assert_eq!(mode(file), 0o600, "{}", file.display());
    }
    assert_eq!(
        payload_n(&store.get("p", "s").await.unwrap().unwrap().record.payload),
        1
    );
}

#[tokio::test]
async fn a_directory_named_as_the_store_is_refused_and_keeps_its_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("creds.json");
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
async fn a_leftover_temp_file_is_replaced_not_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("creds.json");
    let store = plain(&path).await;
    store
        .put(CredentialRecord::new("p", "s", payload(1)), PutMode::Create)
        .await
        .unwrap();
    let tmp = dir.path().join("creds.json.tmp");
    std::fs::write(&tmp, b"half a docu").unwrap();
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o644)).unwrap();
    let store = plain(&path).await;
    assert_eq!(
        payload_n(&store.get("p", "s").await.unwrap().unwrap().record.payload),
        1
    );
    store
        .put(CredentialRecord::new("p", "t", payload(2)), PutMode::Create)
        .await
        .unwrap();
    assert!(!tmp.exists());
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(store.list(None).await.unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_waits_for_the_lock_held_by_another_process() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("creds.json");
    let store = plain(&path).await;
    // Another open file description of the lock file: flock treats it as another process would.
    let other = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.path().join("creds.json.lock"))
        .unwrap();
    other.lock().unwrap();
    let put = tokio::spawn({
        let store = store.clone();
        async move {
            store
                .put(CredentialRecord::new("p", "s", payload(1)), PutMode::Create)
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!put.is_finished(), "the write must wait for the lock");
    assert!(!path.exists());
    assert!(
        store.get("p", "s").await.unwrap().is_none(),
        "reads do not wait"
    );
    other.unlock().unwrap();
    assert_eq!(put.await.unwrap().unwrap(), 1);
    assert!(store.get("p", "s").await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_gives_up_after_the_lock_timeout_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("creds.json");
    let store = FileCredentialStore::builder(&path)
        .unencrypted()
        .lock_timeout(Duration::from_millis(300))
        .open()
        .await
        .unwrap();
    store
        .put(CredentialRecord::new("p", "s", payload(1)), PutMode::Create)
        .await
        .unwrap();
    let before = std::fs::read(&path).unwrap();
    let other = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.path().join("creds.json.lock"))
        .unwrap();
    other.lock().unwrap();

    let started = std::time::Instant::now();
    let err = store
        .put(
            CredentialRecord::new("p", "s", payload(2)),
            PutMode::Update(1),
        )
        .await
        .unwrap_err();
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(300),
        "gave up after {waited:?}, before the timeout"
    );
    match &err {
        StoreError::Io { source, .. } => {
            assert_eq!(source.kind(), std::io::ErrorKind::TimedOut);
        }
        other => panic!("expected Io(TimedOut), got {other:?}"),
    }
    assert!(
        err.to_string().contains("creds.json.lock") && err.to_string().contains("retry later"),
        "{err}"
    );
    assert!(
        auth_core::AuthError::Store(err).is_transient(),
        "a held lock is worth retrying"
    );
    assert_eq!(std::fs::read(&path).unwrap(), before, "nothing was written");

    // Four writers of this process queued behind each other wait the timeout in all, not in turn
    // (300, 600, 900, 1200 ms).
    let store = std::sync::Arc::new(store);
    let started = std::time::Instant::now();
    let writers: Vec<_> = (0..4)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move {
                let put = store
                    .put(
                        CredentialRecord::new("p", "s", payload(10 + n)),
                        PutMode::Update(1),
                    )
                    .await;
                (put, started.elapsed())
            })
        })
        .collect();
    for writer in writers {
        let (put, waited) = writer.await.unwrap();
        assert!(
            matches!(&put, Err(StoreError::Io { source, .. }) if source.kind() == std::io::ErrorKind::TimedOut),
            "{put:?}"
        );
        assert!(waited < Duration::from_millis(800), "waited {waited:?}");
    }

    other.unlock().unwrap();
    assert_eq!(
        store
            .put(
                CredentialRecord::new("p", "s", payload(2)),
                PutMode::Update(1)
            )
            .await
            .unwrap(),
        2
    );
}

#[tokio::test]
async fn a_store_opened_through_a_symlink_writes_through_to_its_target() {
    let dir = tempfile::tempdir().unwrap();
    let real_dir = dir.path().join("real");
    let real = real_dir.join("creds.json");
    let v1 = plain(&real)
        .await
        .put(CredentialRecord::new("p", "s", payload(1)), PutMode::Create)
        .await
        .unwrap();
    let link = dir.path().join("link.json");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let via_link = plain(&link).await;
    let via_real = plain(&real).await;

    assert_eq!(
        via_link
            .put(
                CredentialRecord::new("p", "s", payload(2)),
                PutMode::Update(v1)
            )
            .await
            .unwrap(),
        v1 + 1
    );
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink(),
        "the link stays a link"
    );
    assert_eq!(std::fs::read_link(&link).unwrap(), real);
    let got = via_real.get("p", "s").await.unwrap().unwrap();
    assert_eq!((got.version, got.record.payload), (v1 + 1, payload(2)));
    match via_real
        .put(
            CredentialRecord::new("p", "s", payload(3)),
            PutMode::Update(v1),
        )
        .await
    {
        Err(StoreError::VersionMismatch {
            expected, found, ..
        }) => assert_eq!((expected, found), (v1, Some(v1 + 1))),
        other => panic!("expected VersionMismatch, got {other:?}"),
    }
    let mut beside_the_link: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    beside_the_link.sort();
    assert_eq!(
        beside_the_link,
        ["link.json", "real"],
        "no lock or temp file beside the link"
    );
    assert!(real_dir.join("creds.json.lock").exists());
    assert_eq!(via_link.describe(), format!("file:{}", link.display()));

    // A relative link to a file that does not exist yet: the first write creates the target.
    let new_link = dir.path().join("new-link.json");
    std::os::unix::fs::symlink("real/new.json", &new_link).unwrap();
    plain(&new_link)
        .await
        .put(CredentialRecord::new("p", "s", payload(4)), PutMode::Create)
        .await
        .unwrap();
    assert!(
        std::fs::symlink_metadata(&new_link)
            .unwrap()
            .file_type()
            .is_symlink(),
        "the link stays a link"
    );
    let created = plain(&real_dir.join("new.json"))
        .await
        .get("p", "s")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((created.version, created.record.payload), (1, payload(4)));
    assert!(real_dir.join("new.json.lock").exists());
    assert!(!dir.path().join("new-link.json.lock").exists());
}

#[tokio::test]
async fn with_a_key_the_token_is_nowhere_in_the_files() {
    let dir = tempfile::tempdir().unwrap();
    encryption::token_is_nowhere_in_the_files(dir.path(), "json", open, close, key_ids, |path| {
        let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let record = &doc["records"][0];
        assert_eq!(record["subject"], "user-1", "subjects stay in clear");
        assert!(record.get("payload").is_none());
        let envelope = envelope(&record["payload_base64"]).expect("an envelope");
        assert_eq!(envelope.sealed().key_id, key(1).id());
        assert_eq!(envelope.format_version(), Envelope::CURRENT);
    })
    .await;
}

/// The envelope a record's `payload_base64` holds, if any.
fn envelope(payload_base64: &serde_json::Value) -> Option<Envelope> {
    use base64::Engine as _;
    let encoded = payload_base64.as_str()?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap();
    Envelope::parse(&bytes).expect("a well-formed envelope or plaintext")
}

/// The key id of every record, in file order (by subject), `None` for a plaintext one: from the
/// `encrypted` object of earlier format versions or from the envelope in `payload_base64`.
fn key_ids(path: &Path) -> Vec<Option<String>> {
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    doc["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r["encrypted"]["key_id"]
                .as_str()
                .map(str::to_string)
                .or_else(|| envelope(&r["payload_base64"]).map(|e| e.sealed().key_id.clone()))
        })
        .collect()
}

#[tokio::test]
async fn old_keys_still_read_and_rotate_moves_records_to_the_primary_key() {
    let dir = tempfile::tempdir().unwrap();
    encryption::old_keys_still_read_and_rotate_moves_records_to_the_primary_key(
        dir.path(),
        "json",
        open,
        Store::rotate,
        close,
        key_ids,
    )
    .await;
}

#[tokio::test]
async fn plaintext_record_is_refused_with_a_key_until_rotate() {
    let dir = tempfile::tempdir().unwrap();
    encryption::plaintext_record_is_refused_with_a_key_until_rotate(
        dir.path(),
        "json",
        open,
        Store::rotate,
        close,
        key_ids,
    )
    .await;
}

/// The document at `path`.
fn document(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// The record of `subject` in `doc`.
fn record_mut<'a>(doc: &'a mut serde_json::Value, subject: &str) -> &'a mut serde_json::Value {
    doc["records"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|r| r["subject"] == subject)
        .unwrap()
}

/// The `payload_base64` of `subject`'s record: its envelope.
fn read_body(path: &Path, subject: &str) -> serde_json::Value {
    record_mut(&mut document(path), subject)["payload_base64"].clone()
}

/// Writes `body` as the `payload_base64` of `subject`'s record, and `version` when given.
fn write_body(path: &Path, subject: &str, body: serde_json::Value, version: Option<u64>) {
    let mut doc = document(path);
    let record = record_mut(&mut doc, subject);
    record["payload_base64"] = body;
    if let Some(version) = version {
        record["version"] = version.into();
    }
    std::fs::write(path, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
}

#[tokio::test]
async fn older_ciphertext_put_back_over_a_newer_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    encryption::older_ciphertext_put_back_over_a_newer_version_is_refused(
        dir.path(),
        "json",
        open,
        close,
        read_body,
        write_body,
    )
    .await;
}

/// A document as releases before version binding wrote it: format version 1, holding `p`/`legacy`
/// at version 3 sealed in the legacy format (no `seal_format`).
fn plant_format_1(path: &Path) {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let sealed = encryption::legacy_sealed();
    let doc = serde_json::json!({
        "format": FORMAT,
        "format_version": 1,
        "records": [{
            "provider": "p",
            "subject": "legacy",
            "version": 3,
            "status": "active",
            "created_at_ms": 0,
            "updated_at_ms": 0,
            "encrypted": {
                "key_id": sealed.key_id,
                "nonce": b64.encode(sealed.nonce),
                "ciphertext": b64.encode(&sealed.ciphertext),
            }
        }]
    });
    std::fs::write(path, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
}

/// The seal format of every encrypted record, in file order: from the `encrypted` object of
/// earlier format versions (1 where a version 1 document has none) or from the envelope in
/// `payload_base64`.
fn seal_formats(path: &Path) -> Vec<Option<u8>> {
    document(path)["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let encrypted = &r["encrypted"];
            encrypted
                .is_object()
                .then(|| {
                    encrypted
                        .get("seal_format")
                        .map_or(1, |f| u8::try_from(f.as_u64().unwrap()).unwrap())
                })
                .or_else(|| envelope(&r["payload_base64"]).map(|e| e.sealed().format.number()))
        })
        .collect()
}

#[tokio::test]
async fn payloads_sealed_by_earlier_releases_still_read_and_rotate_binds_them() {
    let dir = tempfile::tempdir().unwrap();
    encryption::payloads_sealed_by_earlier_releases_still_read_and_rotate_binds_them(
        dir.path(),
        "json",
        plant_format_1,
        open,
        Store::rotate,
        close,
        seal_formats,
    )
    .await;
    assert_eq!(
        document(&dir.path().join("creds.json"))["format_version"],
        FORMAT_VERSION,
        "written back in the current format"
    );
}

#[tokio::test]
async fn rotate_that_cannot_decrypt_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("creds.json");
    FileCredentialStore::builder(&path)
        .key_ring(KeyRing::new(key(1)))
        .open()
        .await
        .unwrap()
        .put(CredentialRecord::new("p", "s", payload(1)), PutMode::Create)
        .await
        .unwrap();
    plain(&path)
        .await
        .put(CredentialRecord::new("p", "t", payload(2)), PutMode::Create)
        .await
        .unwrap();
    let before = std::fs::read(&path).unwrap();
    let store = FileCredentialStore::builder(&path)
        .key_ring(KeyRing::new(key(2)))
        .open()
        .await
        .unwrap();
    assert!(matches!(
        store.rotate().await,
        Err(StoreError::UnknownKey { .. })
    ));
    assert!(std::fs::read(&path).unwrap() == before, "the file changed");
    assert!(matches!(
        plain(&path).await.rotate().await,
        Err(StoreError::InvalidKey { .. })
    ));
}

#[tokio::test]
async fn wrong_or_missing_key_is_a_clear_error_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    encryption::wrong_or_missing_key_is_a_clear_error_and_changes_nothing(
        dir.path(),
        "json",
        open,
        close,
    )
    .await;
}

/// A store with two records whose file is then damaged by `damage`; returns the store opened
/// before the damage, and the damaged bytes.
async fn damaged(path: &Path, damage: impl FnOnce(Vec<u8>) -> Vec<u8>) -> (Store, Vec<u8>) {
    let store = plain(path).await;
    for s in ["a", "b"] {
        store
            .put(CredentialRecord::new("p", s, payload(1)), PutMode::Create)
            .await
            .unwrap();
    }
    let bad = damage(std::fs::read(path).unwrap());
    std::fs::write(path, &bad).unwrap();
    (store, bad)
}

/// Open, get and put on the damaged file all fail with `check`, and the file is untouched.
async fn assert_refused(path: &Path, store: &Store, bad: &[u8], check: impl Fn(&StoreError)) {
    check(
        &FileCredentialStore::builder(path)
            .unencrypted()
            .open()
            .await
            .expect_err("open"),
    );
    check(&store.get("p", "a").await.expect_err("get"));
    check(
        &store
            .put(
                CredentialRecord::new("p", "c", payload(1)),
                PutMode::Overwrite,
            )
            .await
            .expect_err("put"),
    );
    check(&store.delete("p", "a").await.expect_err("delete"));
    assert!(
        std::fs::read(path).unwrap() == bad,
        "the damaged file was modified"
    );
}

#[tokio::test]
async fn truncated_file_is_corrupt_and_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("creds.json");
    let (store, bad) = damaged(&path, |mut b| {
        b.truncate(b.len() / 2);
        b
    })
    .await;
    let location = path.display().to_string();
    assert_refused(&path, &store, &bad, |e| match e {
        StoreError::Corrupt {
            location: l,
            reason,
            ..
        } => {
            assert_eq!(l, &location);
            assert!(reason.contains("not valid JSON"), "{reason}");
            assert!(e.to_string().contains("left untouched"), "{e}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    })
    .await;
}

#[tokio::test]
async fn empty_or_foreign_files_are_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in [
        ("empty.json", &b""[..]),
        ("other.json", br#"{"tokens": {"a": "b"}}"#),
        ("list.json", b"[1, 2]"),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        match FileCredentialStore::builder(&path)
            .unencrypted()
            .open()
            .await
        {
            Err(StoreError::Corrupt { location, .. }) => {
                assert_eq!(location, path.display().to_string())
            }
            other => panic!("{name}: expected Corrupt, got {other:?}"),
        }
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "{name} was modified");
    }
}

#[tokio::test]
async fn unknown_format_version_is_refused_and_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("creds.json");
    let (store, bad) = damaged(&path, |b| {
        String::from_utf8(b)
            .unwrap()
            .replace(
                &format!("\"format_version\": {FORMAT_VERSION}"),
                "\"format_version\": 99",
            )
            .into_bytes()
    })
    .await;
    let location = path.display().to_string();
    assert_refused(&path, &store, &bad, |e| match e {
        StoreError::UnsupportedVersion {
            location: l,
            found,
            supported,
            ..
        } => {
            assert_eq!(l, &location);
            assert_eq!((*found, *supported), (99, FORMAT_VERSION));
        }
        other => panic!("expected UnsupportedVersion, got {other:?}"),
    })
    .await;
}

/// `bytes`, a document, with `subject`'s record at `version`.
fn with_version(bytes: Vec<u8>, subject: &str, version: u64) -> Vec<u8> {
    let mut doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    record_mut(&mut doc, subject)["version"] = version.into();
    serde_json::to_vec_pretty(&doc).unwrap()
}

#[tokio::test]
async fn a_version_past_the_highest_is_corrupt_and_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    for version in [MAX_VERSION + 1, u64::MAX] {
        let path = dir.path().join(format!("{version}.json"));
        let (store, bad) = damaged(&path, |b| with_version(b, "a", version)).await;
        let location = path.display().to_string();
        assert_refused(&path, &store, &bad, |e| match e {
            StoreError::Corrupt {
                location: l,
                reason,
                ..
            } => {
                assert_eq!(l, &location);
                assert_eq!(
                    reason,
                    &format!(
                        "the record for p/a has version {version}, above the highest a store keeps (9223372036854775807)"
                    )
                );
            }
            other => panic!("expected Corrupt, got {other:?}"),
        })
        .await;
    }
}

#[tokio::test]
async fn a_record_at_the_highest_version_reads_but_is_not_written_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("creds.json");
    let (_, at_max) = damaged(&path, |b| with_version(b, "a", MAX_VERSION)).await;
    let store = plain(&path).await;
    a_record_at_the_highest_version_is_not_written_again(
        &store,
        "p",
        "a",
        &path.display().to_string(),
    )
    .await;
    assert!(
        std::fs::read(&path).unwrap() == at_max,
        "the file was modified"
    );
    assert!(
        store.delete("p", "a").await.unwrap(),
        "deleting it still works"
    );
}

#[tokio::test]
async fn a_parent_that_is_a_file_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    read_only::parent_that_is_a_file_is_an_io_error(dir.path(), "creds.json", async |path| {
        FileCredentialStore::builder(path)
            .unencrypted()
            .open()
            .await
    })
    .await;
}

/// In the read-only directory `ro`: a new store cannot be opened, and the existing one (whose
/// lock file is writable) opens and reads but cannot be written.
async fn assert_read_only(ro: &Path) {
    let new = ro.join("new.json");
    let existing = ro.join("existing.json");
    match FileCredentialStore::builder(&new)
        .unencrypted()
        .open()
        .await
    {
        Err(StoreError::ReadOnly { location, .. }) => {
            assert_eq!(location, new.display().to_string())
        }
        other => panic!("new store: expected ReadOnly, got {other:?}"),
    }
    let store = plain(&existing).await;
    assert_eq!(store.list(None).await.unwrap().len(), 1);
    match store
        .put(CredentialRecord::new("p", "x", payload(1)), PutMode::Create)
        .await
    {
        Err(StoreError::ReadOnly { location, .. }) => {
            assert_eq!(location, existing.display().to_string())
        }
        other => panic!("existing store: expected ReadOnly, got {other:?}"),
    }
    assert_eq!(
        store.list(None).await.unwrap().len(),
        1,
        "nothing was written"
    );
}

#[tokio::test]
async fn read_only_directory_is_a_read_only_error() {
    let dir = tempfile::tempdir().unwrap();
    read_only::run_read_only_directory(
        dir.path(),
        "store::read_only_child",
        async |ro: &Path| {
            let existing = ro.join("existing.json");
            plain(&existing)
                .await
                .put(CredentialRecord::new("p", "s", payload(1)), PutMode::Create)
                .await
                .unwrap();
            // As root, the check runs as `nobody`: hand it the store's files (its own, private,
            // as a store's files are) so that only the directory is read-only.
            for file in [existing.clone(), ro.join("existing.json.lock")] {
                if std::fs::metadata(&file).unwrap().uid() == 0 {
                    std::os::unix::fs::chown(&file, Some(NOBODY), Some(NOBODY)).unwrap();
                }
            }
        },
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
async fn a_file_written_before_the_encryption_layer_reads_and_rotate_rewrites_it_as_envelopes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("creds.json");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/written-by-format-2.json"),
        &path,
    )
    .unwrap();
    let ring = || Some(KeyRing::new(key(1)).with_old_key(key(2)));
    let store = open(path.clone(), ring()).await;
    encryption::fixture_records_read_as_written(&store).await;
    assert_eq!(
        document(&path)["format_version"],
        2,
        "reading changes nothing"
    );
    assert_eq!(
        store.rotate().await.unwrap(),
        4,
        "every record is rewritten"
    );
    assert_eq!(store.rotate().await.unwrap(), 0, "nothing left to rotate");

    let doc = document(&path);
    assert_eq!(doc["format_version"], FORMAT_VERSION);
    for record in doc["records"].as_array().unwrap() {
        assert!(record.get("encrypted").is_none(), "{record}");
        let envelope = envelope(&record["payload_base64"]).expect("an envelope");
        assert_eq!(envelope.format_version(), Envelope::CURRENT);
        assert_eq!(envelope.sealed().key_id, key(1).id());
    }
    assert!(
        !encryption::contains(&std::fs::read(&path).unwrap(), "fixture-plain-token"),
        "the plaintext record is encrypted"
    );

    let new_only = open(path, Some(KeyRing::new(key(1)))).await;
    encryption::fixture_records_read_after_rotate(&new_only).await;
}
