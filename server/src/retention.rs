//! Audit retention: entries older than the configured retention are deleted in the background,
//! a batch at a time, so that the log of a service that runs for years stays bounded.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::store::ServiceStore;

/// How often entries past the retention are looked for, at most: a tenth of the retention when
/// that is shorter.
const LONGEST_INTERVAL: Duration = Duration::from_secs(3_600);

/// How many entries one statement deletes: a batch that holds the store's writer briefly.
const BATCH: u32 = 10_000;

/// The pause between two full batches, so that a backlog (the first run over years of entries)
/// leaves the store's writer to requests in between.
const PAUSE: Duration = Duration::from_millis(100);

/// How often entries past `retention` are looked for.
pub(crate) fn interval(retention: Duration) -> Duration {
    (retention / 10).clamp(Duration::from_millis(10), LONGEST_INTERVAL)
}

/// Deletes entries older than `retention`, every [`interval`], until the task is aborted.
pub(crate) async fn run(store: Arc<dyn ServiceStore>, retention: Duration) {
    loop {
        let before = SystemTime::now()
            .checked_sub(retention)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        loop {
            match store.delete_audit_before(before, BATCH).await {
                Ok(deleted) if deleted == u64::from(BATCH) => tokio::time::sleep(PAUSE).await,
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "could not delete audit entries past their retention; trying again later");
                    break;
                }
            }
        }
        tokio::time::sleep(interval(retention)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::{audit_entry, ms};
    use crate::store::{AuditEntry, SqliteServiceStore};

    #[test]
    fn entries_are_looked_for_every_tenth_of_the_retention_at_most_hourly() {
        let day = Duration::from_secs(86_400);
        assert_eq!(interval(365 * day), LONGEST_INTERVAL);
        assert_eq!(interval(Duration::from_secs(600)), Duration::from_secs(60));
        assert_eq!(
            interval(Duration::from_millis(20)),
            Duration::from_millis(10)
        );
    }

    /// A backlog longer than a batch (the first run over years of entries) is deleted batch
    /// after batch in one look, not a batch per interval: with a retention of an hour the next
    /// look is six minutes away, yet every old entry goes at once, and the newer one stays.
    #[tokio::test]
    async fn a_backlog_longer_than_a_batch_is_deleted_in_one_look() {
        let store = Arc::new(SqliteServiceStore::open_in_memory().await.unwrap());
        let backlog = BATCH as usize + 3;
        let appends = (0..backlog).map(|i| {
            store.append_audit(AuditEntry {
                at: ms(1_000 + i as u64),
                ..audit_entry(&format!("old-{i}"), "app", None)
            })
        });
        for appended in futures::future::join_all(appends).await {
            appended.unwrap();
        }
        let recent = AuditEntry {
            at: SystemTime::now(),
            ..audit_entry("recent", "app", None)
        };
        store.append_audit(recent).await.unwrap();
        let left = || async {
            let entries = store.list_audit("app", None, 2 * backlog).await.unwrap();
            entries.into_iter().map(|e| e.id).collect::<Vec<_>>()
        };
        assert_eq!(left().await.len(), backlog + 1);

        let retention = Duration::from_secs(3_600);
        assert_eq!(interval(retention), Duration::from_secs(360));
        let deleting = tokio::spawn(run(store.clone(), retention));
        let started = std::time::Instant::now();
        loop {
            let ids = left().await;
            if ids == ["recent"] {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{} entries left",
                ids.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        deleting.abort();
    }
}
