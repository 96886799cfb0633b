//! Without a key the store warns exactly once, at open. Alone in its test binary: a thread-local
//! tracing subscriber shares tracing's global callsite-interest cache with tests running
//! concurrently in the same binary, which makes log capture flaky.

use auth_core::crypto::{EncryptionKey, KeyRing};
use auth_core::testing::{CapturedLogs, payload};
use auth_core::{CredentialRecord, CredentialStore, PutMode};
use store_sqlite::SqliteCredentialStore;

#[test]
fn the_missing_key_warning_is_logged_once_at_open_and_only_without_a_key() {
    let logs = CapturedLogs::default();
    let dir = tempfile::tempdir().unwrap();
    tracing::subscriber::with_default(logs.subscriber(tracing::Level::INFO), || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let plain = SqliteCredentialStore::builder(dir.path().join("plain.db"))
                .unencrypted()
                .open()
                .await
                .unwrap();
            plain
                .put(CredentialRecord::new("p", "s", payload(1)), PutMode::Create)
                .await
                .unwrap();
            plain.get("p", "s").await.unwrap();
            SqliteCredentialStore::builder(dir.path().join("enc.db"))
                .key_ring(KeyRing::new(EncryptionKey::from_bytes([1; 32])))
                .open()
                .await
                .unwrap();
        });
    });
    let logs = logs.text();
    let warnings: Vec<&str> = logs.lines().filter(|l| l.contains("WARN")).collect();
    assert_eq!(warnings.len(), 1, "{logs}");
    assert!(warnings[0].contains("unencrypted"), "{logs}");
    assert!(warnings[0].contains("plain.db"), "{logs}");
}
