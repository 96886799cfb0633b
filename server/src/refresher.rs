//! The background refresher: while the service serves, it claims the OAuth connectors whose
//! token expires within the margin, in batches ([`ServiceStore::claim_expiring`](crate::store::ServiceStore::claim_expiring): on PostgreSQL
//! `FOR UPDATE SKIP LOCKED` in one short statement, so instances never claim the same
//! connector), and refreshes them ahead of use through each connector's warm token source, whose
//! single flight and store lease an execute's refresh shares: a token is refreshed once, by
//! whichever comes first, and executes find a fresh token. No network call happens while rows
//! are locked. A token without a known expiry is never claimed (it is refreshed on a 401).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::task::JoinSet;

use crate::error::ServiceStoreError;
use crate::providers::Connectors;

/// How long a claim keeps other instances off a connector: a claim left by an instance that
/// died lapses then, as its refresh lease does.
pub(crate) const CLAIM: Duration = Duration::from_secs(45);

/// How many connectors one claim takes, and refreshes at once.
const BATCH: usize = 16;

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
    loop {
        if let Err(e) = sweep(&connectors, settings.margin).await {
            tracing::warn!(error = %e, "the background refresher could not claim tokens; trying again later");
        }
        tokio::time::sleep(settings.interval).await;
    }
}

/// Claims and refreshes batches until none is due (or only connectors it handled already come
/// back: tokens too short-lived to refresh yet); returns how many connectors it handled.
pub(crate) async fn sweep(
    connectors: &Arc<Connectors>,
    margin: Duration,
) -> Result<usize, ServiceStoreError> {
    let mut handled = HashSet::new();
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
            let connectors = connectors.clone();
            // A failure leaves the claim to lapse: the connector is tried again then (a
            // rejected grant is forgotten at that try, its record no longer active).
            refreshes.spawn(async move { connectors.refresh_ahead(&record, margin).await });
        }
        while refreshes.join_next().await.is_some() {}
    }
}
