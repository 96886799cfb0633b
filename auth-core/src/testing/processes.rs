//! Store checks that need several OS processes (features `testing` and `encryption`, unix): no
//! update lost between two processes, and no acknowledged write lost to a SIGKILL at any moment.
//!
//! The children are the store crate's own test binary, re-executed with
//! `--exact <child test> --ignored`: the crate declares two `#[ignore]`d child tests that open
//! their store at [`child_store_path`] (returning at once when it is `None`, as in a normal test
//! run) and call [`child_increments`] or [`child_writes_until_killed`]. The parent tests call
//! [`run_two_process_increments`] and [`run_sigkill_rounds`] with the names of those child tests.

use std::future::Future;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rand::Rng;

use super::{DynStore, increment, payload, payload_n};
use crate::crypto::{EncryptionKey, KEY_ENV, KeyRing, OLD_KEYS_ENV};
use crate::error::StoreError;
use crate::store::{CredentialRecord, CredentialStore, PutMode};

/// Where a parent tells a child test which store to open.
const CHILD_PATH_ENV: &str = "INTEGRATIONS_TEST_CHILD_STORE";
/// Increments each of the two processes makes.
pub const INCREMENTS: u64 = 200;
/// SIGKILL rounds of [`run_sigkill_rounds`].
pub const KILLS: usize = 30;
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

/// In a child test: the store path its parent passed, `None` when the test runs on its own. The
/// child opens its store the way applications do (`open(path)`), so the key, if any, comes from
/// `INTEGRATIONS_ENCRYPTION_KEY`.
pub fn child_store_path() -> Option<PathBuf> {
    std::env::var_os(CHILD_PATH_ENV).map(PathBuf::from)
}

/// Two child processes (`child_test`, which calls [`child_increments`]) open the store at `path`,
/// which does not exist yet, race to create one record and increment it [`INCREMENTS`] times each
/// with conditional puts; then the record, read through `open` with the children's key, must hold
/// exactly twice that.
pub async fn run_two_process_increments<F, Fut>(path: &Path, child_test: &str, open: F)
where
    F: FnOnce(KeyRing) -> Fut,
    Fut: Future<Output = DynStore>,
{
    let key = EncryptionKey::generate();
    let children: Vec<Child> = (0..2)
        .map(|_| spawn_child(child_test, path, Some(&key)))
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
    let store = open(KeyRing::new(key)).await;
    let got = store.get("p", "counter").await.unwrap().unwrap();
    assert_eq!(
        payload_n(&got.record.payload),
        2 * INCREMENTS,
        "an update was lost"
    );
    println!("{conflicts} conflicts were retried");
}

/// The child of [`run_two_process_increments`].
pub async fn child_increments(store: &dyn CredentialStore) {
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
        conflicts += increment(store, "p", "counter").await;
    }
    println!("{DONE}{conflicts}");
}

/// [`KILLS`] rounds, alternating a plaintext and an encrypted store: a child (`child_test`, which
/// calls [`child_writes_until_killed`]) writes to the store at `dir/crash-{0,1}.{extension}` until
/// it is SIGKILLed at a random moment; then `read_back` (open the store with that key, or
/// unencrypted, and read the record's count) must find the last acknowledged write, or the one
/// after it.
pub fn run_sigkill_rounds<F, Fut>(dir: &Path, extension: &str, child_test: &str, read_back: F)
where
    F: Fn(PathBuf, Option<KeyRing>) -> Fut,
    Fut: Future<Output = Result<u64, StoreError>>,
{
    let key = EncryptionKey::generate();
    let mut rng = rand::thread_rng();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut last_ack = [0u64; 2];
    for round in 0..KILLS {
        let encrypted = round % 2 == 1;
        let path = dir.join(format!("crash-{}.{extension}", u8::from(encrypted)));
        let mut child = spawn_child(child_test, &path, encrypted.then_some(&key));
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

        let keys = encrypted.then(|| KeyRing::new(key.clone()));
        let stored = runtime
            .block_on(read_back(path, keys))
            .unwrap_or_else(|e| panic!("round {round}: cannot open or read after SIGKILL: {e}"));
        assert!(
            stored == acked || stored == acked + 1,
            "round {round}: acknowledged {acked}, stored {stored}: an acknowledged write was lost (or a write appeared from nowhere)"
        );
    }
}

/// The child of [`run_sigkill_rounds`]: writes the next count with a conditional put and prints
/// an acknowledgement after each, until it is killed.
pub async fn child_writes_until_killed(store: &dyn CredentialStore) {
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
