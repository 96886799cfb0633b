//! The background refresher: while the service serves, it claims the OAuth connectors whose
//! token expires within the margin, in batches ([`ServiceStore::claim_expiring`](crate::store::ServiceStore::claim_expiring): on PostgreSQL
//! `FOR UPDATE SKIP LOCKED` in one short statement, so instances never claim the same
//! connector), and refreshes them ahead of use through each connector's warm token source, whose
//! single flight and store lease an execute's refresh shares: a token is refreshed once, by
//! whichever comes first, and executes find a fresh token. No network call happens while rows
//! are locked. A token without a known expiry is never claimed (it is refreshed on a 401).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::task::JoinSet;

use crate::error::{ApiError, ServiceStoreError};
use crate::providers::Connectors;
use crate::store::ConnectorRecord;

/// How long a claim keeps other instances off a connector: a claim left by an instance that
/// died lapses then, as its refresh lease does.
pub(crate) const CLAIM: Duration = Duration::from_secs(45);

/// How many connectors one claim takes, and refreshes at once.
const BATCH: usize = 16;

/// How long this instance's refresher leaves a connector alone after a failure no retry soon
/// can fix (a provider that refuses the OAuth client, credentials the store cannot open), at
/// first; doubled after each such failure in a row, up to [`BACKOFF_MAX`]. Without it, every
/// such connector would send the provider a token request each time its claim lapses.
const BACKOFF_FIRST: Duration = Duration::from_secs(60);
/// The longest a connector is left alone.
const BACKOFF_MAX: Duration = Duration::from_secs(3600);

/// The connectors this instance's refresher leaves alone for now: until when, how long it
/// waited last, and the connector's `updated_at` then (a connector changed since, its
/// credentials or OAuth app replaced, is tried at once).
#[derive(Debug, Default)]
pub(crate) struct Backoff {
    waits: HashMap<String, Wait>,
}

#[derive(Debug)]
struct Wait {
    until: Instant,
    last: Duration,
    updated_at: SystemTime,
}

impl Backoff {
    /// Whether `record` is to be left alone at `now`.
    fn waiting(&self, record: &ConnectorRecord, now: Instant) -> bool {
        self.waits
            .get(&record.id)
            .is_some_and(|wait| now < wait.until && record.updated_at <= wait.updated_at)
    }

    /// Notes how refreshing `record` ended: a failure that is not transient makes it wait
    /// (longer each time in a row; a rejected grant is not claimed again anyway); a success or
    /// a transient failure ends its wait.
    fn note(&mut self, record: &ConnectorRecord, outcome: &Result<(), ApiError>, now: Instant) {
        match outcome {
            Err(e) if !e.is_retryable() => {
                let last = self
                    .waits
                    .get(&record.id)
                    .map_or(BACKOFF_FIRST, |wait| (wait.last * 2).min(BACKOFF_MAX));
                let wait = Wait {
                    until: now + last,
                    last,
                    updated_at: record.updated_at,
                };
                self.waits.insert(record.id.clone(), wait);
            }
            _ => {
                self.waits.remove(&record.id);
            }
        }
    }

    /// Forgets waits long over (of connectors since deleted, or no longer due).
    fn prune(&mut self, now: Instant) {
        self.waits.retain(|_, wait| now < wait.until + BACKOFF_MAX);
    }
}

/// When and how far ahead tokens are refreshed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RefresherSettings {
    /// Tokens that expire within this are refreshed.
    pub(crate) margin: Duration,
    /// How long the refresher rests between sweeps.
    pub(crate) interval: Duration,
}

/// Sweeps every `interval` until the task is aborted.
pub(crate) async fn run(connectors: Arc<Connectors>, settings: RefresherSettings) {
    let mut backoff = Backoff::default();
    loop {
        if let Err(e) = sweep(&connectors, settings.margin, &mut backoff).await {
            tracing::warn!(error = %e, "the background refresher could not claim tokens; trying again later");
        }
        tokio::time::sleep(settings.interval).await;
    }
}

/// Claims and refreshes batches until none is due (or only connectors it handled already come
/// back: tokens too short-lived to refresh yet); returns how many connectors it handled
/// (those in `backoff`, claimed and left alone, included).
pub(crate) async fn sweep(
    connectors: &Arc<Connectors>,
    margin: Duration,
    backoff: &mut Backoff,
) -> Result<usize, ServiceStoreError> {
    let mut handled = HashSet::new();
    backoff.prune(Instant::now());
    loop {
        let due = connectors
            .store()
            .claim_expiring(SystemTime::now() + margin, CLAIM, BATCH)
            .await?;
        if due.iter().all(|record| handled.contains(&record.id)) {
            return Ok(handled.len());
        }
        let mut refreshes = JoinSet::new();
        for record in due {
            handled.insert(record.id.clone());
            // Left alone, its claim lapses: tried again then, or when its backoff is over.
            if backoff.waiting(&record, Instant::now()) {
                continue;
            }
            let connectors = connectors.clone();
            // A failure leaves the claim to lapse: the connector is tried again then (a
            // rejected grant is forgotten at that try, its record no longer active).
            refreshes.spawn(async move {
                let outcome = connectors.refresh_ahead(&record, margin).await;
                (record, outcome)
            });
        }
        while let Some(joined) = refreshes.join_next().await {
            if let Ok((record, outcome)) = joined {
                backoff.note(&record, &outcome, Instant::now());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::AuthKind;

    fn connector(id: &str, updated_at: SystemTime) -> ConnectorRecord {
        ConnectorRecord {
            id: id.into(),
            application_id: "app".into(),
            customer_name: "c".into(),
            connector_type: "asana".into(),
            definition_id: "asana".into(),
            name: "n".into(),
            auth_kind: AuthKind::OAuth,
            oauth_app: None,
            read_only: false,
            created_at: updated_at,
            updated_at,
        }
    }

    /// A failure no retry soon can fix makes a connector wait, twice as long each time in a row
    /// up to the longest; a success or a transient failure ends the wait, and the next failure
    /// waits the shortest again; a connector changed since its failure is tried at once.
    #[test]
    fn a_lasting_failure_backs_off_until_a_success_or_a_change() {
        let mut backoff = Backoff::default();
        let start = Instant::now();
        let changed = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let c = connector("c", changed);
        let lasting = Err(ApiError::misconfigured("the provider refused the client"));
        backoff.note(&c, &lasting, start);
        assert!(backoff.waiting(&c, start + BACKOFF_FIRST - Duration::from_secs(1)));
        assert!(!backoff.waiting(&c, start + BACKOFF_FIRST));
        assert!(!backoff.waiting(&connector("other", changed), start));
        let patched = connector("c", changed + Duration::from_millis(1));
        assert!(
            !backoff.waiting(&patched, start),
            "changed since: tried at once"
        );

        let mut at = start + BACKOFF_FIRST;
        let mut expected = BACKOFF_FIRST;
        for _ in 0..10 {
            backoff.note(&c, &lasting, at);
            expected = (expected * 2).min(BACKOFF_MAX);
            assert!(backoff.waiting(&c, at + expected - Duration::from_secs(1)));
            assert!(!backoff.waiting(&c, at + expected));
            at += expected;
        }
        assert_eq!(expected, BACKOFF_MAX);

        for ended in [
            Ok(()),
            Err(ApiError::unavailable("the refresh failed; retry later")),
        ] {
            backoff.note(&c, &lasting, at);
            backoff.note(&c, &ended, at);
            assert!(!backoff.waiting(&c, at), "{ended:?}");
            backoff.note(&c, &lasting, at);
            assert!(
                !backoff.waiting(&c, at + BACKOFF_FIRST),
                "the shortest wait again after {ended:?}"
            );
            backoff.note(&c, &Ok(()), at);
        }

        let gone = connector("gone", changed);
        backoff.note(&gone, &lasting, at);
        backoff.note(&c, &lasting, at + BACKOFF_MAX);
        backoff.prune(at + BACKOFF_FIRST + BACKOFF_MAX);
        assert!(!backoff.waits.contains_key("gone"), "long over: forgotten");
        assert!(backoff.waits.contains_key("c"), "still waiting: kept");
    }
}
