//! Several OS processes sharing one file: no lost updates, and no damage from a SIGKILL at any
//! moment.
//!
//! The children are this test binary itself, re-executed with `--exact <child test> --ignored` and
//! an environment variable that tells the child test what to do; without it the child tests return
//! at once.
#![cfg(unix)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use auth_core::crypto::{EncryptionKey, KEY_ENV, KeyRing, OLD_KEYS_ENV};
use auth_core::testing::{increment, payload, payload_n};
use auth_core::{CredentialRecord, CredentialStore, PutMode, StoreError};
use rand::Rng;
use store_file::FileCredentialStore;

const CHILD_PATH_ENV: &str = "STORE_FILE_TEST_CHILD_PATH";
const INCREMENTS: u64 = 200;
const KILLS: usize = 30;
/// What a child prints after each acknowledged write, before the count.
const ACK: &str = "ACK=";
/// What an incrementing child prints at the end, before its number of retried conflicts.
const DONE: &str = "DONE conflicts=";

/// The rest of `line` after `marker` (the test harness may print its own text before it).
fn after<'a>(line: &'a str, marker: &str) -> Option<&'a str> {
    line.find(marker).map(|i| line[i + marker.len()..].trim())
}

/// Starts this test binary running only `test`, with the store path and (optionally) the key in
/// its environment.
fn spawn_child(test: &str, path: &Path, key: Option<&EncryptionKey>) -> Child {
    let mut cmd = Command::new(std::env::current_exe().expect("test binary path"));
    cmd.args([
        "--exact",
        test,
        "--nocapture",
        "--ignored",
        "--test-threads=1",
    ])
    .env(CHILD_PATH_ENV, path)
    .env_remove(OLD_KEYS_ENV)
    .stdout(Stdio::piped())
    .stderr(Stdio::inherit());
    match key {
        Some(key) => cmd.env(KEY_ENV, key.to_base64().expose_secret()),
        None => cmd.env_remove(KEY_ENV),
    };
    cmd.spawn().expect("spawn child test process")
}

/// The child's store, opened the way applications open it: `open(path)`, with the key (if any)
/// from `INTEGRATIONS_ENCRYPTION_KEY`.
async fn child_store() -> Option<FileCredentialStore> {
    let path = PathBuf::from(std::env::var_os(CHILD_PATH_ENV)?);
    Some(
        FileCredentialStore::open(path)
            .await
            .expect("child opens the store"),
    )
}

#[tokio::test]
async fn two_processes_increment_one_record_without_losing_updates() {
    let dir = tempfile::tempdir().unwrap();
    // Both children open the store while it does not exist yet, and race to create the record.
    let path = dir.path().join("new-dir").join("shared.json");
    let key = EncryptionKey::generate();
    let children: Vec<Child> = (0..2)
        .map(|_| spawn_child("child_increments", &path, Some(&key)))
        .collect();
    let mut conflicts = 0;
    for child in children {
        let output = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "child failed: {stdout}");
        let done = stdout
            .lines()
            .find_map(|l| after(l, DONE))
            .unwrap_or_else(|| panic!("child did not report: {stdout}"));
        conflicts += done.parse::<u64>().unwrap();
    }
    let store = FileCredentialStore::builder(&path)
        .key_ring(KeyRing::new(key))
        .open()
        .await
        .unwrap();
    let got = store.get("p", "counter").await.unwrap().unwrap();
    assert_eq!(
        payload_n(&got.record.payload),
        2 * INCREMENTS,
        "an update was lost"
    );
    println!("{conflicts} conflicts were retried");
}

#[tokio::test]
#[ignore = "child process of two_processes_increment_one_record_without_losing_updates"]
async fn child_increments() {
    let Some(store) = child_store().await else {
        return;
    };
    assert!(store.is_encrypted(), "the key comes from {KEY_ENV}");
    match store
        .put(
            CredentialRecord::new("p", "counter", payload(0)),
            PutMode::Create,
        )
        .await
    {
        Ok(_) | Err(StoreError::AlreadyExists { .. }) => {}
        Err(other) => panic!("create failed: {other}"),
    }
    let mut conflicts = 0;
    for _ in 0..INCREMENTS {
        conflicts += increment(&store, "p", "counter").await;
    }
    println!("{DONE}{conflicts}");
}

#[test]
fn sigkill_at_any_moment_leaves_the_last_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let key = EncryptionKey::generate();
    let mut rng = rand::thread_rng();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut last_ack = [0u64; 2];
    for round in 0..KILLS {
        // Alternate between a plaintext and an encrypted database.
        let encrypted = round % 2 == 1;
        let path = dir
            .path()
            .join(format!("crash-{}.json", u8::from(encrypted)));
        let mut child = spawn_child(
            "child_writes_until_killed",
            &path,
            encrypted.then_some(&key),
        );
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let acks_before_kill = rng.gen_range(1..=15);
        let mut acked = None;
        let mut seen = 0;
        while seen < acks_before_kill {
            let line = lines
                .next()
                .expect("the child stopped before acknowledging a write")
                .unwrap();
            if let Some(n) = after(&line, ACK) {
                acked = Some(n.parse::<u64>().unwrap());
                seen += 1;
            }
        }
        std::thread::sleep(Duration::from_micros(rng.gen_range(0..3000)));
        child.kill().unwrap();
        // Acknowledgements already in the pipe count too.
        for line in lines {
            if let Some(n) = after(&line.unwrap(), ACK) {
                acked = Some(n.parse::<u64>().unwrap());
            }
        }
        child.wait().unwrap();
        let acked = acked.unwrap();
        let slot = usize::from(encrypted);
        assert!(
            acked > last_ack[slot],
            "round {round}: the child made progress"
        );
        last_ack[slot] = acked;

        let stored = runtime.block_on(async {
            let builder = FileCredentialStore::builder(&path);
            let builder = if encrypted {
                builder.key_ring(KeyRing::new(key.clone()))
            } else {
                builder.unencrypted()
            };
            let store = builder
                .open()
                .await
                .unwrap_or_else(|e| panic!("round {round}: cannot open after SIGKILL: {e}"));
            let got = store
                .get("p", "crash")
                .await
                .unwrap_or_else(|e| panic!("round {round}: cannot read after SIGKILL: {e}"))
                .expect("the record exists");
            payload_n(&got.record.payload)
        });
        assert!(
            stored == acked || stored == acked + 1,
            "round {round}: acknowledged {acked}, stored {stored}: an acknowledged write was lost (or a write appeared from nowhere)"
        );
    }
}

#[tokio::test]
#[ignore = "child process of sigkill_at_any_moment_leaves_the_last_acknowledged_write"]
async fn child_writes_until_killed() {
    let Some(store) = child_store().await else {
        return;
    };
    let mut current = match store.get("p", "crash").await.unwrap() {
        Some(got) => (got.version, payload_n(&got.record.payload)),
        None => {
            let v = store
                .put(
                    CredentialRecord::new("p", "crash", payload(0)),
                    PutMode::Create,
                )
                .await
                .unwrap();
            (v, 0)
        }
    };
    // Bounded in case the parent is gone (a closed stdout also ends it: `println!` panics).
    for _ in 0..100_000 {
        let next = current.1 + 1;
        let v = store
            .put(
                CredentialRecord::new("p", "crash", payload(next)),
                PutMode::Update(current.0),
            )
            .await
            .unwrap();
        current = (v, next);
        println!("{ACK}{next}");
    }
}
