//! Checks for stores that encrypt at rest (features `testing` and `encryption`): no token in the
//! store's files, key rotation, clear errors for a wrong or missing key, plaintext records refused
//! while a key is configured, older ciphertexts refused over newer versions, payloads sealed by
//! earlier releases still read, and the warning a store without a key logs.
//!
//! Each check creates its stores under a directory the caller owns (a fresh temporary directory)
//! as `creds.{extension}`, and takes closures for what differs between stores: `open` opens the
//! store at a path with a key ring, or unencrypted for `None`; `close` closes a handle (so that,
//! for SQLite, the WAL is checkpointed into the main file); `rotate` calls the store's `rotate`;
//! `key_ids` reads, straight from the file at a path, the key id of every record ordered by
//! subject (`None` for a plaintext record).

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::{CapturedLogs, payload, payload_n};
use crate::crypto::{EncryptionKey, KeyRing, NONCE_LEN, SealFormat, SealedPayload};
use crate::error::StoreError;
use crate::store::{
    CredentialRecord, CredentialStore, Payload, PutMode, StoredCredential, Version,
};

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

/// The payload of [`legacy_sealed`]: the same bytes as `testing::payload(3)`.
pub const LEGACY_PAYLOAD: &str = r#"{"access_token":"token-3","n":3}"#;

/// [`LEGACY_PAYLOAD`] as releases before version binding sealed it for `p`/`legacy` under
/// [`key`]`(1)`, in [`SealFormat::Legacy`]: bytes captured from such a release, for stores to plant
/// in their previous format and check that it still reads.
pub fn legacy_sealed() -> SealedPayload {
    let nonce = STANDARD
        .decode("T5Ox7oUBsDkI8gziuPRyMNi6smbS3YH9")
        .expect("nonce is base64");
    SealedPayload {
        key_id: key(1).id().to_string(),
        nonce: <[u8; NONCE_LEN]>::try_from(nonce).expect("a 24-byte nonce"),
        ciphertext: STANDARD
            .decode("krzcnAvLOP09ywsmsHpRga2S586u5Bl0zi6lmaBCmNfGMJil3WAb0pHP+6TsFPWv")
            .expect("ciphertext is base64"),
        format: SealFormat::Legacy,
    }
}

/// The records of the fixtures the stores keep from before the encryption layer (a database and
/// a file, each described in its crate's `tests/fixtures/README.md`): (provider, subject,
/// version, payload). `asana/current` is sealed under [`key`]`(1)`, `asana/old-key` under
/// `key(2)`, `asana/plain` is plaintext and `p/legacy` is [`legacy_sealed`].
pub const FIXTURE_RECORDS: [(&str, &str, u64, &str); 4] = [
    (
        "asana",
        "current",
        2,
        r#"{"access_token":"fixture-current-token","n":2}"#,
    ),
    (
        "asana",
        "old-key",
        1,
        r#"{"access_token":"fixture-old-key-token","n":1}"#,
    ),
    (
        "asana",
        "plain",
        1,
        r#"{"access_token":"fixture-plain-token","n":4}"#,
    ),
    ("p", "legacy", 3, LEGACY_PAYLOAD),
];

/// A fixture store opened with keys 1 and 2, before `rotate`: every sealed record reads with its
/// version and payload, and the plaintext one is refused with [`StoreError::Unencrypted`].
pub async fn fixture_records_read_as_written(store: &dyn CredentialStore) {
    for (provider, subject, version, payload) in FIXTURE_RECORDS {
        let got = store.get(provider, subject).await;
        if subject == "plain" {
            assert!(
                matches!(got, Err(StoreError::Unencrypted { .. })),
                "{got:?}"
            );
            continue;
        }
        let got = got.unwrap().unwrap();
        assert_eq!(got.version, version, "{subject}");
        assert_eq!(got.record.payload.expose_bytes(), payload.as_bytes());
    }
}

/// A fixture store after `rotate`, opened with key 1 alone: every record reads, each with the
/// version it had.
pub async fn fixture_records_read_after_rotate(store: &dyn CredentialStore) {
    for (provider, subject, version, payload) in FIXTURE_RECORDS {
        let got = store.get(provider, subject).await.unwrap().unwrap();
        assert_eq!(
            got.version, version,
            "rotate keeps the version of {subject}"
        );
        assert_eq!(got.record.payload.expose_bytes(), payload.as_bytes());
    }
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
/// key 1. Opened with key 2 as primary and key 1 as old key, the two encrypted records read and
/// `list` refuses the plaintext one ([`StoreError::Unencrypted`]); `rotate` re-encrypts all three
/// under key 2 (`key_ids` shows it), keeps versions and payloads, leaves
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
    for (s, n) in [("a", 2), ("b", 3)] {
        let got = store.get("p", s).await.unwrap().unwrap();
        assert_eq!(payload_n(&got.record.payload), n, "key 1 still reads {s}");
    }
    assert!(
        matches!(store.list(None).await, Err(StoreError::Unencrypted { .. })),
        "the plaintext record is refused until rotate encrypts it"
    );
    let before = [
        ("a".to_string(), versions[0], 2),
        ("b".to_string(), versions[1], 3),
        ("plain".to_string(), 1, 1),
    ];
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
/// Captures logs with a thread-local subscriber (see [`CapturedLogs`]). Runs its own
/// single-threaded runtime: call it from a plain `#[test]`.
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

/// A record written without a key at `dir/creds.{extension}`, as someone with write access but no
/// key could plant it, is refused once the store is opened with key 1: `get` and `list` fail with
/// [`StoreError::Unencrypted`] naming `p`/`planted` and not the payload, and the file is byte for
/// byte what it was. `rotate` then encrypts it under key 1 (`key_ids` shows it), keeping its
/// version and payload, after which it reads and its token is gone from the files.
pub async fn plaintext_record_is_refused_with_a_key_until_rotate<S, O, R, C, K>(
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
    let version = plain
        .put(
            CredentialRecord::new("p", "planted", canary_payload(1)),
            PutMode::Create,
        )
        .await
        .unwrap();
    close(plain).await.expect("close");
    assert_eq!(key_ids(&path), [None]);
    let before = std::fs::read(&path).unwrap();

    let store = open(path.clone(), Some(KeyRing::new(key(1)))).await;
    let got = store.get("p", "planted").await;
    match &got {
        Err(err @ StoreError::Unencrypted { provider, subject }) => {
            assert_eq!((provider.as_str(), subject.as_str()), ("p", "planted"));
            let message = err.to_string();
            assert!(message.contains("p/planted"), "{message}");
            assert!(!contains(message.as_bytes(), CANARY), "{message}");
            assert!(!contains(format!("{err:?}").as_bytes(), CANARY), "{err:?}");
        }
        other => panic!("a plaintext record must be refused with a key: {other:?}"),
    }
    assert!(
        matches!(store.list(None).await, Err(StoreError::Unencrypted { .. })),
        "list must refuse it too"
    );
    close(store).await.expect("close");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "refusing changed the file"
    );

    let store = open(path.clone(), Some(KeyRing::new(key(1)))).await;
    assert_eq!(rotate(&store).await.unwrap(), 1);
    let got = store.get("p", "planted").await.unwrap().unwrap();
    assert_eq!(got.record.payload, canary_payload(1));
    assert_eq!(got.version, version, "rotate keeps the version");
    assert_eq!(store.list(None).await.unwrap().len(), 1);
    close(store).await.expect("close");
    assert_eq!(key_ids(&path), [Some(key(1).id().to_string())]);
    assert!(
        !contains(&dir_bytes(dir), CANARY),
        "the token must be gone from the files after rotate"
    );
}

/// With key 1 at `dir/creds.{extension}`: `p`/`s` is created (payload 1) and updated (payload 2).
/// `read_body` reads, straight from the file at a path, the sealed body (key id, nonce, ciphertext
/// and format) of the record of a subject; `write_body` writes such a body over that record, and
/// its version too when one is given.
///
/// The first version's body put back over the second version is refused: `get` and `list` fail
/// with [`StoreError::Decrypt`] naming `p`/`s`. Put back with its version too, it reads as the
/// first version: the limit documented in `auth_core::crypto` (the version went backwards, which a
/// writer holding the newer one notices, but the store cannot tell).
pub async fn older_ciphertext_put_back_over_a_newer_version_is_refused<S, O, C, B, R, W>(
    dir: &Path,
    extension: &str,
    open: O,
    close: C,
    read_body: R,
    write_body: W,
) where
    S: CredentialStore,
    O: AsyncFn(PathBuf, Option<KeyRing>) -> S,
    C: AsyncFn(S) -> Result<(), StoreError>,
    B: Clone,
    R: Fn(&Path, &str) -> B,
    W: Fn(&Path, &str, B, Option<Version>),
{
    let path = dir.join(format!("creds.{extension}"));
    let keys = || Some(KeyRing::new(key(1)));
    let store = open(path.clone(), keys()).await;
    let v1 = store
        .put(CredentialRecord::new("p", "s", payload(1)), PutMode::Create)
        .await
        .unwrap();
    close(store).await.expect("close");
    let old = read_body(&path, "s");
    let store = open(path.clone(), keys()).await;
    let v2 = store
        .put(
            CredentialRecord::new("p", "s", payload(2)),
            PutMode::Update(v1),
        )
        .await
        .unwrap();
    close(store).await.expect("close");

    write_body(&path, "s", old.clone(), None);
    let store = open(path.clone(), keys()).await;
    let got = store.get("p", "s").await;
    assert!(
        matches!(&got, Err(StoreError::Decrypt { provider, subject, key_id })
            if (provider.as_str(), subject.as_str(), key_id.as_str()) == ("p", "s", key(1).id())),
        "version {v1}'s ciphertext put back over version {v2} must be refused: {got:?}"
    );
    assert!(
        matches!(store.list(None).await, Err(StoreError::Decrypt { .. })),
        "list must refuse it too"
    );
    close(store).await.expect("close");

    write_body(&path, "s", old, Some(v1));
    let store = open(path.clone(), keys()).await;
    let got = store.get("p", "s").await.unwrap().unwrap();
    assert_eq!(
        (got.version, payload_n(&got.record.payload)),
        (v1, 1),
        "a whole earlier record, version included, reads as that version"
    );
    close(store).await.expect("close");
}

/// `plant` writes, at a path, a store in the format of releases before version binding, holding
/// one record: `p`/`legacy` at version 3 with [`legacy_sealed`] as its body. Opened at
/// `dir/creds.{extension}` with key 1, it reads ([`LEGACY_PAYLOAD`], version 3), and `formats`
/// (the [`SealFormat::number`] of every record, read straight from the file) says 1. `rotate`
/// re-seals it in the current format (2), keeping version and payload, and leaves nothing for a
/// second `rotate`; the record still reads after the store is opened again, and updates.
pub async fn payloads_sealed_by_earlier_releases_still_read_and_rotate_binds_them<
    S,
    P,
    O,
    R,
    C,
    F,
>(
    dir: &Path,
    extension: &str,
    plant: P,
    open: O,
    rotate: R,
    close: C,
    formats: F,
) where
    S: CredentialStore,
    P: FnOnce(&Path),
    O: AsyncFn(PathBuf, Option<KeyRing>) -> S,
    R: AsyncFn(&S) -> Result<usize, StoreError>,
    C: AsyncFn(S) -> Result<(), StoreError>,
    F: Fn(&Path) -> Vec<Option<u8>>,
{
    let path = dir.join(format!("creds.{extension}"));
    plant(&path);
    let keys = || Some(KeyRing::new(key(1)));
    let store = open(path.clone(), keys()).await;
    let got = store.get("p", "legacy").await.unwrap().unwrap();
    assert_eq!(got.version, 3);
    assert_eq!(got.record.payload.expose_bytes(), LEGACY_PAYLOAD.as_bytes());
    close(store).await.expect("close");
    assert_eq!(formats(&path), [Some(SealFormat::Legacy.number())]);

    let store = open(path.clone(), keys()).await;
    assert_eq!(rotate(&store).await.unwrap(), 1);
    assert_eq!(rotate(&store).await.unwrap(), 0, "nothing left to rotate");
    close(store).await.expect("close");
    assert_eq!(formats(&path), [Some(SealFormat::Versioned.number())]);

    let store = open(path.clone(), keys()).await;
    let got = store.get("p", "legacy").await.unwrap().unwrap();
    assert_eq!(got.version, 3, "rotate keeps the version");
    assert_eq!(got.record.payload.expose_bytes(), LEGACY_PAYLOAD.as_bytes());
    let v4 = store
        .put(
            CredentialRecord::new("p", "legacy", payload(4)),
            PutMode::Update(3),
        )
        .await
        .unwrap();
    let got = store.get("p", "legacy").await.unwrap().unwrap();
    assert_eq!((got.version, payload_n(&got.record.payload)), (v4, 4));
    close(store).await.expect("close");
}
