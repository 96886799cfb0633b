//! Several OS processes sharing one record: no lost updates. The children are this test binary
//! itself, re-executed to run the ignored child test below.

use crate::support;

use std::process::{Command, Stdio};

use auth_core::CredentialStore;
use auth_core::crypto::{EncryptionKey, KEY_ENV, KeyRing, OLD_KEYS_ENV};
use auth_core::testing::payload_n;
use auth_core::testing::processes::{INCREMENTS, child_increments};
use store_postgres::PostgresCredentialStore;

/// Where the parent tells a child which database to open.
const CHILD_URL_ENV: &str = "STORE_POSTGRES_TEST_CHILD_URL";

/// Processes incrementing at once.
const PROCESSES: u64 = 3;

#[tokio::test]
async fn three_processes_increment_one_record_without_losing_updates() {
    let Some(db) = support::database().await else {
        return;
    };
    let key = EncryptionKey::generate();
    // The children open the store on an empty database, migrate it at once and race to create
    // the record.
    let children: Vec<_> = (0..PROCESSES)
        .map(|_| {
            Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "processes::child_increments_over_postgres",
                    "--nocapture",
                    "--ignored",
                    "--test-threads=1",
                ])
                .env(CHILD_URL_ENV, db.url())
                .env(KEY_ENV, key.to_base64().expose_secret())
                .env_remove(OLD_KEYS_ENV)
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut conflicts = 0u64;
    for child in children {
        let output = tokio::task::spawn_blocking(move || child.wait_with_output())
            .await
            .unwrap()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "child failed: {stdout}");
        let done = stdout
            .lines()
            .find_map(|l| {
                l.split_once("DONE conflicts=")
                    .map(|(_, n)| n.trim().to_string())
            })
            .unwrap_or_else(|| panic!("child did not report: {stdout}"));
        conflicts += done.parse::<u64>().unwrap();
    }
    let store = support::builder(&db.url(), Some(KeyRing::new(key)))
        .open()
        .await
        .unwrap();
    let got = store.get("p", "counter").await.unwrap().unwrap();
    assert_eq!(
        payload_n(&got.record.payload),
        PROCESSES * INCREMENTS,
        "an update was lost"
    );
    assert_eq!(
        got.version,
        PROCESSES * INCREMENTS + 1,
        "one version per write"
    );
    println!("{conflicts} conflicts were retried");
}

#[tokio::test]
#[ignore = "child process of three_processes_increment_one_record_without_losing_updates"]
async fn child_increments_over_postgres() {
    let Ok(url) = std::env::var(CHILD_URL_ENV) else {
        return;
    };
    // Opened the way applications open it: the key comes from INTEGRATIONS_ENCRYPTION_KEY.
    let store = PostgresCredentialStore::open(&url)
        .await
        .expect("child opens the store");
    assert!(store.is_encrypted());
    child_increments(&store).await;
}
