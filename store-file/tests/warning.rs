//! Without a key the store warns exactly once, at open. Alone in its test binary: a thread-local
//! tracing subscriber shares tracing's global callsite-interest cache with tests running
//! concurrently in the same binary, which makes log capture flaky.

use std::sync::{Arc, Mutex};

use auth_core::crypto::{EncryptionKey, KeyRing};
use auth_core::testing::payload;
use auth_core::{CredentialRecord, CredentialStore, PutMode};
use store_file::FileCredentialStore;

#[test]
fn the_missing_key_warning_is_logged_once_at_open_and_only_without_a_key() {
    let logs = Arc::new(Mutex::new(Vec::<u8>::new()));
    let writer = {
        let logs = logs.clone();
        move || LogWriter(logs.clone())
    };
    let subscriber = tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .finish();
    let dir = tempfile::tempdir().unwrap();
    tracing::subscriber::with_default(subscriber, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let store = FileCredentialStore::builder(dir.path().join("plain.json"))
                .unencrypted()
                .open()
                .await
                .unwrap();
            store
                .put(CredentialRecord::new("p", "s", payload(1)), PutMode::Create)
                .await
                .unwrap();
            store.get("p", "s").await.unwrap();
            FileCredentialStore::builder(dir.path().join("enc.json"))
                .key_ring(KeyRing::new(EncryptionKey::from_bytes([1; 32])))
                .open()
                .await
                .unwrap();
        });
    });
    let logs = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    let warnings: Vec<&str> = logs.lines().filter(|l| l.contains("WARN")).collect();
    assert_eq!(warnings.len(), 1, "{logs}");
    assert!(warnings[0].contains("unencrypted"), "{logs}");
    assert!(warnings[0].contains("plain.json"), "{logs}");
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
