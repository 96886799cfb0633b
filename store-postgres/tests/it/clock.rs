//! Refresh leases judged by the database's clock: hosts whose clocks are minutes off neither
//! take a live lease for lapsed nor wait on a lapsed one.

use crate::support::{self, Store};

use std::time::{Duration, SystemTime};

use auth_core::testing::payload;
use auth_core::{CredentialRecord, CredentialStore, PutMode, RefreshLease};

/// Five minutes, in milliseconds.
const FIVE_MINUTES_MS: i64 = 5 * 60 * 1000;

/// `SystemTime::now()` on a host whose clock is `offset_ms` off.
fn host_now(offset_ms: i64) -> SystemTime {
    let offset = Duration::from_millis(offset_ms.unsigned_abs());
    if offset_ms >= 0 {
        SystemTime::now() + offset
    } else {
        SystemTime::now() - offset
    }
}

/// How far in the future `at` is on a host whose clock is `offset_ms` off (negative: past).
fn ahead_of_host(at: SystemTime, offset_ms: i64) -> i128 {
    let now = host_now(offset_ms);
    match at.duration_since(now) {
        Ok(ahead) => ahead.as_millis() as i128,
        Err(behind) => -(behind.duration().as_millis() as i128),
    }
}

/// How long until the lease on (p, `subject`) lapses, as each store's host sees it, in
/// milliseconds (negative: lapsed), with the host's clock offset.
async fn left_on_each_host(stores: &[(i64, Store)], subject: &str) -> Vec<(i64, i128)> {
    let mut left = Vec::new();
    for (offset, store) in stores {
        let got = store.get("p", subject).await.unwrap().expect("the record");
        let lease = got.record.lease.expect("the lease");
        left.push((*offset, ahead_of_host(lease.expires_at, *offset)));
    }
    left
}

#[tokio::test]
async fn hosts_with_wrong_clocks_see_a_lease_live_and_lapse_when_the_database_clock_says() {
    let Some(db) = support::database().await else {
        return;
    };
    let offsets = [-FIVE_MINUTES_MS, 0, FIVE_MINUTES_MS];
    let mut stores = Vec::new();
    for offset in offsets {
        let store = support::builder(&db.url(), None)
            .pretend_host_clock_offset(offset)
            .open()
            .await
            .unwrap();
        let skew = store.inner().clock_skew_ms();
        assert!(
            (skew + offset).abs() < 1_000,
            "a host {offset} ms off measures a skew of {skew} ms"
        );
        stores.push((offset, store));
    }
    let (behind, ahead) = (&stores[0], &stores[2]);

    // The host five minutes behind takes a lease for 3 s by its clock. To a host with the right
    // clock it would have lapsed five minutes ago; every host must see it live for about 3 s.
    let mut record = CredentialRecord::new("p", "live", payload(1));
    record.lease = Some(RefreshLease {
        holder: "behind".into(),
        expires_at: host_now(behind.0) + Duration::from_secs(3),
    });
    behind.1.put(record, PutMode::Create).await.unwrap();
    for (offset, left) in left_on_each_host(&stores, "live").await {
        assert!(
            (2_000..=3_100).contains(&left),
            "a host {offset} ms off sees the live lease lapse in {left} ms"
        );
    }
    // The database holds it on its own clock.
    let admin = db.connect().await;
    let left_by_database: i64 = admin
        .query_one(
            "SELECT lease_expires_ms - (extract(epoch FROM clock_timestamp()) * 1000)::bigint \
             FROM integrations_credentials WHERE subject = 'live'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(
        (2_000..=3_100).contains(&left_by_database),
        "{left_by_database}"
    );

    // The host five minutes ahead takes a lease for 1 s by its clock and dies. A host with the
    // right clock would wait on it for five minutes; every host must see it lapse after 1 s.
    let mut record = CredentialRecord::new("p", "dead", payload(1));
    record.lease = Some(RefreshLease {
        holder: "ahead-and-dead".into(),
        expires_at: host_now(ahead.0) + Duration::from_secs(1),
    });
    ahead.1.put(record, PutMode::Create).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    for (offset, left) in left_on_each_host(&stores, "dead").await {
        assert!(
            (-1_000..0).contains(&left),
            "a host {offset} ms off still sees the dead lease live for {left} ms"
        );
    }
}

#[tokio::test]
async fn a_lease_reads_back_exactly_as_written_while_the_clocks_agree() {
    let Some(db) = support::database().await else {
        return;
    };
    let store = support::builder(&db.url(), None)
        .pretend_host_clock_offset(-FIVE_MINUTES_MS)
        .open()
        .await
        .unwrap();
    let expires_at = SystemTime::UNIX_EPOCH + Duration::from_millis(1_900_000_000_123);
    let mut record = CredentialRecord::new("p", "s", payload(1));
    record.lease = Some(RefreshLease {
        holder: "h".into(),
        expires_at,
    });
    store.put(record, PutMode::Create).await.unwrap();
    let lease = store
        .get("p", "s")
        .await
        .unwrap()
        .unwrap()
        .record
        .lease
        .unwrap();
    assert_eq!(lease.expires_at, expires_at);
}
