//! The in-memory store passes the shared conformance suite.
use std::sync::Arc;

use auth_core::MemoryCredentialStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_store_conforms() {
    auth_core::testing::run_conformance(|| async { Arc::new(MemoryCredentialStore::new()) as _ })
        .await;
}

#[cfg(feature = "encryption")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_memory_store_conforms() {
    use auth_core::EncryptedStore;
    use auth_core::crypto::{EncryptionKey, KeyRing};
    auth_core::testing::run_conformance(|| async {
        Arc::new(EncryptedStore::new(
            MemoryCredentialStore::new(),
            KeyRing::new(EncryptionKey::generate()),
        )) as _
    })
    .await;
}

#[cfg(feature = "encryption")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_store_without_a_key_conforms_through_the_encryption_layer() {
    use auth_core::EncryptedStore;
    auth_core::testing::run_conformance(|| async {
        Arc::new(EncryptedStore::with_keys(
            MemoryCredentialStore::new(),
            None,
        )) as _
    })
    .await;
}
