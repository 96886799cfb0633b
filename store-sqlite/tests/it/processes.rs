//! Several OS processes sharing one database: no lost updates, and no damage from a SIGKILL at any
//! moment. The checks are `auth_core::testing::processes`; the children are this test binary
//! itself, re-executed to run one of the two ignored child tests below.
#![cfg(unix)]

use crate::support;

use std::sync::Arc;

use auth_core::crypto::KEY_ENV;
use auth_core::testing::processes::{self, child_store_path};
use auth_core::testing::{payload, payload_n};
use auth_core::{CredentialRecord, CredentialStore, EncryptedStore, PutMode};
use store_sqlite::SqliteCredentialStore;

/// The child's store, opened the way applications open it: `open(path)`, with the key (if any)
/// from `INTEGRATIONS_ENCRYPTION_KEY`.
async fn child_store() -> Option<EncryptedStore<SqliteCredentialStore>> {
    let path = child_store_path()?;
    Some(
        SqliteCredentialStore::open(path)
            .await
            .expect("child opens the store"),
    )
}

#[tokio::test]
async fn two_processes_increment_one_record_without_losing_updates() {
    let dir = tempfile::tempdir().unwrap();
    // Both children open the store while it does not exist yet, and race to create the record.
    let db = dir.path().join("shared.db");
    processes::run_two_process_increments(&db, "processes::child_increments", |keys| async {
        Arc::new(
            SqliteCredentialStore::builder(&db)
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
        "db",
        "processes::child_writes_until_killed",
        |db, keys| async move {
            let store = support::builder(&db, keys).open().await?;
            let got = store.get("p", "crash").await?.expect("the record exists");
            store.into_inner().close().await?;
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

/// Where the parent tells [`child_opens_and_closes`] which database to open.
const LOCKS_DB_ENV: &str = "STORE_SQLITE_TEST_LOCKS_DB";

#[tokio::test]
async fn a_second_open_in_this_process_keeps_its_locks_so_others_leave_the_wal_alone() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("locks.db");
    let wal = dir.path().join("locks.db-wal");
    let first = SqliteCredentialStore::builder(&db)
        .unencrypted()
        .open()
        .await
        .unwrap();
    first
        .put(CredentialRecord::new("p", "s", payload(1)), PutMode::Create)
        .await
        .unwrap();
    // A second handle on the same file, as two managers over one path make. Closing any
    // descriptor of a file drops every POSIX lock the process holds on it, SQLite's included.
    let second = SqliteCredentialStore::builder(&db)
        .unencrypted()
        .open()
        .await
        .unwrap();
    assert!(wal.exists());

    // Another process opens the database and closes it. While this process has it open, that
    // SQLite must not take itself for the last user and checkpoint and delete the WAL under us.
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "processes::child_opens_and_closes",
            "--ignored",
            "--test-threads=1",
        ])
        .env(LOCKS_DB_ENV, &db)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    assert!(
        wal.exists(),
        "another process deleted the WAL of an open database"
    );

    let got = second.get("p", "s").await.unwrap().expect("the record");
    assert_eq!(payload_n(&got.record.payload), 1);
}

#[test]
#[ignore = "child process of a_second_open_in_this_process_keeps_its_locks_so_others_leave_the_wal_alone"]
fn child_opens_and_closes() {
    let Some(db) = std::env::var_os(LOCKS_DB_ENV) else {
        return;
    };
    let conn = rusqlite::Connection::open(db).unwrap();
    let count: i64 = conn
        .query_row("SELECT count(*) FROM credentials", [], |row| row.get(0))
        .unwrap();
    assert_eq!(count, 1);
    conn.close().unwrap();
}
