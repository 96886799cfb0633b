//! Several OS processes sharing one file: no lost updates, and no damage from a SIGKILL at any
//! moment. The checks are `auth_core::testing::processes`; the children are this test binary
//! itself, re-executed to run one of the two ignored child tests below.
#![cfg(unix)]

use crate::support;

use std::sync::Arc;

use auth_core::crypto::KEY_ENV;
use auth_core::testing::payload_n;
use auth_core::testing::processes::{self, child_store_path};
use auth_core::{CredentialStore, EncryptedStore};
use store_file::FileCredentialStore;

/// The child's store, opened the way applications open it: `open(path)`, with the key (if any)
/// from `INTEGRATIONS_ENCRYPTION_KEY`.
async fn child_store() -> Option<EncryptedStore<FileCredentialStore>> {
    let path = child_store_path()?;
    Some(
        FileCredentialStore::open(path)
            .await
            .expect("child opens the store"),
    )
}

#[tokio::test]
async fn two_processes_increment_one_record_without_losing_updates() {
    let dir = tempfile::tempdir().unwrap();
    // Both children open the store while neither the file nor its directory exists, and race to
    // create the record.
    let path = dir.path().join("new-dir").join("shared.json");
    processes::run_two_process_increments(&path, "processes::child_increments", |keys| async {
        Arc::new(
            FileCredentialStore::builder(&path)
                .key_ring(keys)
                .open()
                .await
                .unwrap(),
        ) as _
    })
    .await;
}

#[tokio::test]
#[ignore = "child process of two_processes_increment_one_record_without_losing_updates"]
async fn child_increments() {
    let Some(store) = child_store().await else {
        return;
    };
    assert!(store.is_encrypted(), "the key comes from {KEY_ENV}");
    processes::child_increments(&store).await;
}

#[test]
fn sigkill_at_any_moment_leaves_the_last_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    processes::run_sigkill_rounds(
        dir.path(),
        "json",
        "processes::child_writes_until_killed",
        |path, keys| async move {
            let store = support::builder(&path, keys).open().await?;
            let got = store.get("p", "crash").await?.expect("the record exists");
            Ok(payload_n(&got.record.payload))
        },
    );
}

#[tokio::test]
#[ignore = "child process of sigkill_at_any_moment_leaves_the_last_acknowledged_write"]
async fn child_writes_until_killed() {
    let Some(store) = child_store().await else {
        return;
    };
    processes::child_writes_until_killed(&store).await;
}
