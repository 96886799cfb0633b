//! Checks for stores that encrypt at rest (features `testing` and `encryption`): no token in the
//! store's files, key rotation, clear errors for a wrong or missing key, and the warning a store
//! without a key logs.
//!
//! Each check creates its stores under a directory the caller owns (a fresh temporary directory)
//! as `creds.{extension}`, and takes closures for what differs between stores: `open` opens the
//! store at a path with a key ring, or unencrypted for `None`; `close` closes a handle (so that,
//! for SQLite, the WAL is checkpointed into the main file); `rotate` calls the store's `rotate`;
//! `key_ids` reads, straight from the file at a path, the key id of every record ordered by
//! subject (`None` for a plaintext record).

use std::path::{Path, PathBuf};

use super::{CapturedLogs, payload, payload_n};
use crate::crypto::{EncryptionKey, KeyRing};
use crate::error::StoreError;
use crate::store::{CredentialRecord, CredentialStore, Payload, PutMode, StoredCredential};

/// An access token that must never appear in an encrypted store's files.
pub const CANARY: &str = "canary-4be0d2-access-token";

/// A JSON payload holding [`CANARY`] as its access token, and `n`.
pub fn canary_payload(n: u64) -> Payload {
    Payload::new(format!("{{\"access_token\":\"{CANARY}\",\"n\":{n}}}").into_bytes())
}

/// The key made of `byte` repeated: the same byte always gives the same key and id.
pub fn key(byte: u8) -> EncryptionKey {
    EncryptionKey::from_bytes([byte; 32])
}

/// Whether `needle` occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// Every file in `dir`, concatenated.
pub fn dir_bytes(dir: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read the store's directory") {
        all.extend(std::fs::read(entry.expect("directory entry").path()).expect("read a file"));
    }
    all
}

/// (subject, version, n) of each listed record.
fn summary(list: Vec<StoredCredential>) -> Vec<(String, u64, u64)> {
    list.into_iter()
        .map(|c| {
            (
                c.record.subject.clone(),
                c.version,
                payload_n(&c.record.payload),
            )
        })
        .collect()
}

/// A store with a key at `dir/encrypted/creds.{extension}` takes five writes of a
/// [`canary_payload`] to one record and reads the last back; then no file in its directory holds
/// the token, while the store is open (after `while_open`, which checks the store's own format at
/// that path) nor after `close`, though the subject stays in clear and `key_ids` names the key.
/// The same write to a store without a key, at `dir/plain/`, does put the token in a file: the
/// check can fail.
pub async fn token_is_nowhere_in_the_files<S, O, C, K, W>(
    dir: &Path,
    extension: &str,
    open: O,
    close: C,
    key_ids: K,
    while_open: W,
) where
    S: CredentialStore,
    O: AsyncFn(PathBuf, Option<KeyRing>) -> S,
    C: AsyncFn(S) -> Result<(), StoreError>,
    K: Fn(&Path) -> Vec<Option<String>>,
    W: FnOnce(&Path),
{
    let encrypted = dir.join("encrypted");
    let path = encrypted.join(format!("creds.{extension}"));
    let store = open(path.clone(), Some(KeyRing::new(key(1)))).await;
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
    while_open(&path);
    let open_bytes = dir_bytes(&encrypted);
    assert!(
        !contains(&open_bytes, CANARY),
        "token found in the store's files while it is open"
    );
    assert!(
        contains(&open_bytes, "user-1"),
        "the subject stays in clear for lookups"
    );
    assert_eq!(key_ids(&path), [Some(key(1).id().to_string())]);
    close(store).await.expect("close");
    assert!(
        !contains(&dir_bytes(&encrypted), CANARY),
        "token found in the store's files after close"
    );

    let plain_dir = dir.join("plain");
    let plain = open(plain_dir.join(format!("creds.{extension}")), None).await;
    plain
        .put(
            CredentialRecord::new("asana", "user-1", canary_payload(0)),
            PutMode::Create,
        )
        .await
        .unwrap();
    assert!(
        contains(&dir_bytes(&plain_dir), CANARY),
        "without a key the token is in the files"
    );
}

/// At `dir/creds.{extension}`: a plaintext record, then two records written (and updated) with
/// key 1. Opened with key 2 as primary and key 1 as old key, every record reads; `rotate`
/// re-encrypts all three under key 2 (`key_ids` shows it), keeps versions and payloads, leaves
/// nothing for a second `rotate`, and leaves no plaintext token in `dir`. Afterwards key 2 alone
/// reads everything, and key 1 alone gets [`StoreError::UnknownKey`] naming key 2.
pub async fn old_keys_still_read_and_rotate_moves_records_to_the_primary_key<S, O, R, C, K>(
    dir: &Path,
    extension: &str,
    open: O,
    rotate: R,
    close: C,
    key_ids: K,
) where
    S: CredentialStore,
    O: AsyncFn(PathBuf, Option<KeyRing>) -> S,
    R: AsyncFn(&S) -> Result<usize, StoreError>,
    C: AsyncFn(S) -> Result<(), StoreError>,
    K: Fn(&Path) -> Vec<Option<String>>,
{
    let path = dir.join(format!("creds.{extension}"));
    let plain = open(path.clone(), None).await;
    plain
        .put(
            CredentialRecord::new("p", "plain", canary_payload(1)),
            PutMode::Create,
        )
        .await
        .unwrap();
    close(plain).await.expect("close");
    let old = open(path.clone(), Some(KeyRing::new(key(1)))).await;
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
    close(old).await.expect("close");
    let old_id = Some(key(1).id().to_string());
    assert_eq!(key_ids(&path), [old_id.clone(), old_id, None]);

    let store = open(
        path.clone(),
        Some(KeyRing::new(key(2)).with_old_key(key(1))),
    )
    .await;
    let before = summary(store.list(None).await.unwrap());
    assert_eq!(
        before,
        [
            ("a".to_string(), versions[0], 2),
            ("b".to_string(), versions[1], 3),
            ("plain".to_string(), 1, 1)
        ]
    );
    assert_eq!(rotate(&store).await.unwrap(), 3);
    let new_id = Some(key(2).id().to_string());
    assert_eq!(key_ids(&path), [new_id.clone(), new_id.clone(), new_id]);
    assert_eq!(rotate(&store).await.unwrap(), 0, "nothing left to rotate");
    assert_eq!(
        summary(store.list(None).await.unwrap()),
        before,
        "rotation keeps versions and payloads"
    );
    assert!(
        !contains(&dir_bytes(dir), CANARY),
        "the plaintext record's token must be gone from the files after rotation"
    );
    close(store).await.expect("close");

    let new_only = open(path.clone(), Some(KeyRing::new(key(2)))).await;
    assert_eq!(new_only.list(None).await.unwrap().len(), 3);
    close(new_only).await.expect("close");
    let old_only = open(path, Some(KeyRing::new(key(1)))).await;
    assert!(matches!(
        old_only.get("p", "a").await,
        Err(StoreError::UnknownKey { key_id, .. }) if key_id == key(2).id()
    ));
    close(old_only).await.expect("close");
}

/// A record at `dir/creds.{extension}` written with key 1 named `k1`; then, opened with another
/// key also named `k1`, with another key, and without a key, `get` and `list` fail with
/// [`StoreError::Decrypt`] (naming `p`/`s` and `k1`), [`StoreError::UnknownKey`] (naming `k1`)
/// and [`StoreError::MissingKey`], and the file is byte for byte what it was.
pub async fn wrong_or_missing_key_is_a_clear_error_and_changes_nothing<S, O, C>(
    dir: &Path,
    extension: &str,
    open: O,
    close: C,
) where
    S: CredentialStore,
    O: AsyncFn(PathBuf, Option<KeyRing>) -> S,
    C: AsyncFn(S) -> Result<(), StoreError>,
{
    let path = dir.join(format!("creds.{extension}"));
    let k1 = |byte| key(byte).with_id("k1").expect("a valid key id");
    let store = open(path.clone(), Some(KeyRing::new(k1(1)))).await;
    store
        .put(CredentialRecord::new("p", "s", payload(1)), PutMode::Create)
        .await
        .unwrap();
    close(store).await.expect("close");
    let before = std::fs::read(&path).unwrap();

    for (label, keys) in [
        ("same id, wrong key", Some(KeyRing::new(k1(2)))),
        ("unknown key id", Some(KeyRing::new(key(2)))),
        ("no key", None),
    ] {
        let store = open(path.clone(), keys).await;
        let got = store.get("p", "s").await;
        let listed = store.list(None).await;
        assert_eq!(
            store
                .list_subjects(None)
                .await
                .expect("list_subjects reads no payload"),
            [("p".to_string(), "s".to_string())],
            "{label}: the unreadable record is still named"
        );
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
        close(store).await.expect("close");
        assert_eq!(
            std::fs::read(&path).unwrap(),
            before,
            "{label}: the file changed"
        );
    }
}

/// A store opened without a key at `dir/plain.{extension}`, written and read, and one opened with
/// a key at `dir/enc.{extension}`, log exactly one warning: at the first open, saying
/// "unencrypted" and naming the plaintext store's file.
///
/// Captures logs with a thread-local subscriber, so the calling test is best alone in its test
/// binary (see [`CapturedLogs`]). Runs its own single-threaded runtime: call it from a plain
/// `#[test]`.
pub fn missing_key_warning_is_logged_once_at_open_and_only_without_a_key<S, O>(
    dir: &Path,
    extension: &str,
    open: O,
) where
    S: CredentialStore,
    O: AsyncFn(PathBuf, Option<KeyRing>) -> S,
{
    let logs = CapturedLogs::default();
    let plain_name = format!("plain.{extension}");
    tracing::subscriber::with_default(logs.subscriber(tracing::Level::INFO), || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let store = open(dir.join(&plain_name), None).await;
            store
                .put(CredentialRecord::new("p", "s", payload(1)), PutMode::Create)
                .await
                .unwrap();
            store.get("p", "s").await.unwrap();
            open(
                dir.join(format!("enc.{extension}")),
                Some(KeyRing::new(key(1))),
            )
            .await;
        });
    });
    let logs = logs.text();
    let warnings: Vec<&str> = logs.lines().filter(|l| l.contains("WARN")).collect();
    assert_eq!(warnings.len(), 1, "{logs}");
    assert!(warnings[0].contains("unencrypted"), "{logs}");
    assert!(warnings[0].contains(&plain_name), "{logs}");
}
