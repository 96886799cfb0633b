//! The in-memory store passes the shared conformance suite.
use std::sync::Arc;

use auth_core::MemoryCredentialStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_store_conforms() {
    auth_core::testing::run_conformance(|| async { Arc::new(MemoryCredentialStore::new()) as _ })
        .await;
}
