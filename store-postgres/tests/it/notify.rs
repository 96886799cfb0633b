//! Waiters woken by LISTEN/NOTIFY, and the listener's connection lost and regained.

use crate::support;

use std::time::{Duration, Instant, SystemTime};

use auth_core::testing::payload;
use auth_core::{CredentialRecord, CredentialStore, PutMode, RefreshLease};
use store_postgres::testing::TestDatabase;

use crate::support::Store;

/// Waits until `store`'s listener is connected (or is not, for `false`).
pub async fn until_listening(store: &Store, listening: bool) {
    let started = Instant::now();
    while store.inner().is_listening() != listening {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the listener is still {}",
            if listening { "down" } else { "up" }
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// How long `wait_for_change` on (p, subject) takes, told to poll every `poll` and wait at
/// most a minute, while `write` runs 200 ms after it starts.
async fn timed_wait<F>(store: &Store, subject: &str, poll: Duration, write: F) -> Duration
where
    F: Future<Output = ()>,
{
    let started = Instant::now();
    let wait = store.wait_for_change("p", subject, poll, Duration::from_secs(60));
    let write = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        write.await;
    };
    tokio::join!(wait, write);
    started.elapsed()
}

/// The process ids of the backends serving listeners on `db`.
async fn listener_pids(db: &TestDatabase) -> Vec<i32> {
    db.connect()
        .await
        .query(
            "SELECT pid FROM pg_stat_activity \
             WHERE application_name = 'integrations-store-listener' AND datname = current_database()",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

/// Writes `n` to (p, s), which is at version `n - 1`.
async fn write_s(writer: &Store, n: u64) {
    writer
        .put(
            CredentialRecord::new("p", "s", payload(n)),
            PutMode::Update(n - 1),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn a_write_by_another_instance_wakes_its_waiters_at_once_and_no_others() {
    let Some(db) = support::database().await else {
        return;
    };
    let writer = support::open_with_record(&db).await;
    let waiter = support::open(&db).await;
    until_listening(&waiter, true).await;

    // Told to poll every 10 s, the waiter is woken by the other instance's write.
    let took = timed_wait(&waiter, "s", Duration::from_secs(10), write_s(&writer, 2)).await;
    assert!(took < Duration::from_millis(1_200), "woken after {took:?}");

    // A write to another record does not wake it: it waits until the notified wait's cap (2 s).
    let took = timed_wait(
        &waiter,
        "other",
        Duration::from_secs(10),
        write_s(&writer, 3),
    )
    .await;
    assert!(
        (Duration::from_millis(1_900)..Duration::from_secs(5)).contains(&took),
        "a write to another record woke it after {took:?}"
    );

    // Nor does it wait past max_wait.
    let started = Instant::now();
    waiter
        .wait_for_change(
            "p",
            "s",
            Duration::from_secs(10),
            Duration::from_millis(300),
        )
        .await;
    let took = started.elapsed();
    assert!(
        (Duration::from_millis(290)..Duration::from_millis(1_500)).contains(&took),
        "{took:?}"
    );
}

#[tokio::test]
async fn taking_a_refresh_lease_wakes_nobody_and_the_holders_write_does() {
    let Some(db) = support::database().await else {
        return;
    };
    let writer = support::open_with_record(&db).await;
    let waiter = support::open(&db).await;
    until_listening(&waiter, true).await;
    let leased = |holder: &str, version| {
        let mut record = CredentialRecord::new("p", "s", payload(1));
        record.lease = Some(RefreshLease {
            holder: holder.to_string(),
            expires_at: SystemTime::now() + Duration::from_secs(60),
        });
        writer.put(record, PutMode::Update(version))
    };

    // Another instance's claim: the waiter sleeps on until the notified wait's cap (2 s).
    let took = timed_wait(&waiter, "s", Duration::from_secs(10), async {
        leased("claimant", 1).await.unwrap();
    })
    .await;
    assert!(
        (Duration::from_millis(1_900)..Duration::from_secs(5)).contains(&took),
        "a claim woke it after {took:?}"
    );

    // The holder's write, keeping its lease or clearing it, wakes it at once.
    let took = timed_wait(&waiter, "s", Duration::from_secs(10), async {
        leased("claimant", 2).await.unwrap();
    })
    .await;
    assert!(took < Duration::from_millis(1_200), "woken after {took:?}");
    let took = timed_wait(&waiter, "s", Duration::from_secs(10), write_s(&writer, 4)).await;
    assert!(took < Duration::from_millis(1_200), "woken after {took:?}");
}

#[tokio::test]
async fn a_killed_listener_connection_falls_back_to_polling_and_reconnects() {
    let Some(db) = support::database().await else {
        return;
    };
    let store = support::open_with_record(&db).await;
    until_listening(&store, true).await;
    let pids = listener_pids(&db).await;
    assert_eq!(pids.len(), 1, "one listener: {pids:?}");
    let first = pids[0];
    let admin = db.connect().await;
    let killed: bool = admin
        .query_one("SELECT pg_terminate_backend($1)", &[&first])
        .await
        .unwrap()
        .get(0);
    assert!(killed);

    // Meanwhile waiting stays bounded (polling while the listener is down, which the outage
    // tests observe for longer), and the store works.
    let started = Instant::now();
    store
        .wait_for_change("p", "s", Duration::from_millis(50), Duration::from_secs(60))
        .await;
    assert!(started.elapsed() < Duration::from_millis(2_500));
    assert_eq!(store.get("p", "s").await.unwrap().unwrap().version, 1);

    // It comes back on a new connection, and notifications wake waiters again.
    let started = Instant::now();
    loop {
        let pids = listener_pids(&db).await;
        if store.inner().is_listening() && pids.iter().any(|pid| *pid != first) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "no new listener: {pids:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = timed_wait(&store, "s", Duration::from_secs(10), async {
        admin
            .execute(
                "UPDATE integrations_credentials SET version = version + 1 WHERE subject = 's'",
                &[],
            )
            .await
            .unwrap();
    })
    .await;
    assert!(took < Duration::from_millis(1_200), "woken after {took:?}");
}

#[tokio::test]
async fn terminated_pool_connections_fail_one_call_retryably_at_most() {
    let Some(db) = support::database().await else {
        return;
    };
    let store = support::open_with_record(&db).await;
    let admin = db.connect().await;
    let killed: i64 = admin
        .query_one(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE application_name = 'integrations-store' AND datname = current_database()) t",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(killed >= 1, "the pool's connections");
    tokio::time::sleep(Duration::from_millis(100)).await;
    match store.get("p", "s").await {
        Ok(got) => assert_eq!(got.unwrap().version, 1),
        Err(e) => assert!(
            matches!(e, auth_core::StoreError::Io { .. }),
            "a lost connection is retryable: {e:?}"
        ),
    }
    assert_eq!(store.get("p", "s").await.unwrap().unwrap().version, 1);
}
