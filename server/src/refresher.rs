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

use axum::http::StatusCode;
use tokio::task::JoinSet;

use crate::error::{ApiError, ServiceStoreError};
use crate::providers::Connectors;

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

/// The connectors this instance's refresher leaves alone for now, with how long it waited last.
#[derive(Debug, Default)]
pub(crate) struct Backoff {
    waits: HashMap<String, (Instant, Duration)>,
}

impl Backoff {
    /// Whether `id` is to be left alone at `now`.
    fn waiting(&self, id: &str, now: Instant) -> bool {
        self.waits.get(id).is_some_and(|(until, _)| now < *until)
    }

    /// Notes how refreshing `id` ended: a failure that is neither transient nor a rejected grant
    /// (which the refresher forgets by itself) makes it wait, longer each time in a row; anything
    /// else ends its wait.
    fn note(&mut self, id: &str, outcome: &Result<(), ApiError>, now: Instant) {
        match outcome {
            Err(e) if !e.is_retryable() && e.status() != StatusCode::CONFLICT => {
                let wait = self
                    .waits
                    .get(id)
                    .map_or(BACKOFF_FIRST, |(_, last)| (*last * 2).min(BACKOFF_MAX));
                self.waits.insert(id.to_string(), (now + wait, wait));
            }
            _ => {
                self.waits.remove(id);
            }
        }
    }

    /// Forgets waits long over (of connectors since deleted, or no longer due).
    fn prune(&mut self, now: Instant) {
        self.waits
            .retain(|_, (until, _)| now < *until + BACKOFF_MAX);
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
/// back: tokens too short-lived to refresh yet); returns how many connectors it handled.
/// Connectors in `backoff` are claimed and left alone (their claims lapse).
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
            if !handled.insert(record.id.clone()) || backoff.waiting(&record.id, Instant::now()) {
                continue;
            }
            let connectors = connectors.clone();
            // A failure leaves the claim to lapse: the connector is tried again then (a
            // rejected grant is forgotten at that try, its record no longer active), or, after
            // a failure no retry soon can fix, when its backoff is over.
            refreshes.spawn(async move {
                let outcome = connectors.refresh_ahead(&record, margin).await;
                (record.id, outcome)
            });
        }
        while let Some(joined) = refreshes.join_next().await {
            if let Ok((id, outcome)) = joined {
                backoff.note(&id, &outcome, Instant::now());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A failure no retry soon can fix makes a connector wait, twice as long each time in a row
    /// up to the longest; a success, a transient failure or a rejected grant ends the wait.
    #[test]
    fn a_lasting_failure_backs_off_and_anything_else_ends_the_wait() {
        let mut backoff = Backoff::default();
        let start = Instant::now();
        let lasting = Err(ApiError::misconfigured("the provider refused the client"));
        backoff.note("c", &lasting, start);
        assert!(backoff.waiting("c", start + BACKOFF_FIRST - Duration::from_secs(1)));
        assert!(!backoff.waiting("c", start + BACKOFF_FIRST));
        assert!(!backoff.waiting("other", start));

        let mut at = start + BACKOFF_FIRST;
        let mut expected = BACKOFF_FIRST;
        for _ in 0..10 {
            backoff.note("c", &lasting, at);
            expected = (expected * 2).min(BACKOFF_MAX);
            assert!(backoff.waiting("c", at + expected - Duration::from_secs(1)));
            assert!(!backoff.waiting("c", at + expected));
            at += expected;
        }
        assert_eq!(expected, BACKOFF_MAX);

        for ended in [
            Ok(()),
            Err(ApiError::unavailable("the refresh failed; retry later")),
            Err(ApiError::needs_reauthorization("c")),
        ] {
            backoff.note("c", &lasting, at);
            backoff.note("c", &ended, at);
            assert!(!backoff.waiting("c", at), "{ended:?}");
        }

        backoff.note("gone", &lasting, at);
        backoff.prune(at + BACKOFF_FIRST + BACKOFF_MAX);
        assert!(backoff.waits.is_empty());
    }
}
