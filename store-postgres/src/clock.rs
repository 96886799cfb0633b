//! Lease times on the database's clock.
//!
//! A refresh lease says until when its holder may refresh. Hosts compare it with their own
//! clock, and hosts' clocks disagree: a host whose clock is minutes behind would take a live
//! lease for dead and spend the same refresh token twice; one minutes ahead would wait on a
//! dead lease long after it lapsed. So the database's clock is the only one that counts:
//!
//! - the store measures the *skew* (database clock minus host clock) when it opens, and again
//!   every [`SKEW_INTERVAL`] on the listener's connection: it reads `clock_timestamp()` and
//!   takes the host's clock halfway through the round trip, keeping the round trip with the
//!   least delay of a few;
//! - a lease's expiry is written in database time (the host's value plus the skew) and read back
//!   in host time (the stored value minus the skew), so every host compares it with its own
//!   clock and gets the answer the database clock would give, to within half a round trip.
//!
//! A new measurement replaces the old one only when it differs by more than [`SKEW_TOLERANCE`],
//! so that a lease reads back exactly as it was written while the clocks agree.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime};

use auth_core::store::{millis_since_epoch, time_from_millis};
use tokio_postgres::Client;

/// How often the skew is measured again.
pub(crate) const SKEW_INTERVAL: Duration = Duration::from_secs(30);

/// Changes of the skew smaller than this (in milliseconds) are measurement noise.
const SKEW_TOLERANCE: i64 = 10;

/// Round trips per measurement: the one with the least delay counts.
const SAMPLES: usize = 3;

/// The host clock as this store sees it, and the skew to the database's.
#[derive(Debug, Default)]
pub(crate) struct Clock {
    /// Database minus host, in milliseconds.
    skew_ms: AtomicI64,
    /// A pretend offset of the host clock, in milliseconds (tests only).
    host_offset_ms: i64,
}

impl Clock {
    /// A clock whose host time is `host_offset_ms` off the real one (0 outside tests).
    pub(crate) fn new(host_offset_ms: i64) -> Self {
        Self {
            skew_ms: AtomicI64::new(0),
            host_offset_ms,
        }
    }

    /// The host's time in milliseconds since the epoch.
    fn host_ms(&self) -> i64 {
        millis_since_epoch(SystemTime::now()).saturating_add(self.host_offset_ms)
    }

    /// The current skew estimate, in milliseconds.
    pub(crate) fn skew_ms(&self) -> i64 {
        self.skew_ms.load(Ordering::Relaxed)
    }

    /// A host time as the database's, in milliseconds since the epoch.
    pub(crate) fn to_database(&self, host: SystemTime) -> i64 {
        millis_since_epoch(host).saturating_add(self.skew_ms())
    }

    /// A database time (milliseconds since the epoch) as the host's.
    pub(crate) fn to_host(&self, database_ms: i64) -> SystemTime {
        time_from_millis(database_ms.saturating_sub(self.skew_ms()))
    }

    /// Measures the skew on `client` and adopts it if it moved beyond the tolerance (or
    /// `force`). Returns the skew in force afterwards.
    pub(crate) async fn measure(
        &self,
        client: &Client,
        force: bool,
    ) -> Result<i64, tokio_postgres::Error> {
        let mut best: Option<(i64, i64)> = None;
        for _ in 0..SAMPLES {
            let before = self.host_ms();
            let row = client
                .query_one(
                    "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint",
                    &[],
                )
                .await?;
            let after = self.host_ms();
            let database: i64 = row.get(0);
            let delay = after.saturating_sub(before);
            let skew = database.saturating_sub(before.saturating_add(delay / 2));
            if best.is_none_or(|(best_delay, _)| delay < best_delay) {
                best = Some((delay, skew));
            }
        }
        let measured = best.map_or(0, |(_, skew)| skew);
        let current = self.skew_ms();
        if force || (measured - current).abs() > SKEW_TOLERANCE {
            self.skew_ms.store(measured, Ordering::Relaxed);
            if (measured - current).abs() > SKEW_TOLERANCE {
                tracing::debug!(skew_ms = measured, "database clock skew measured");
            }
            return Ok(measured);
        }
        Ok(current)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_times_convert_both_ways_with_the_skew() {
        let clock = Clock::new(0);
        clock.skew_ms.store(-300_000, Ordering::Relaxed);
        let host = time_from_millis(1_700_000_000_123);
        assert_eq!(clock.to_database(host), 1_700_000_000_123 - 300_000);
        assert_eq!(clock.to_host(clock.to_database(host)), host);
        clock.skew_ms.store(i64::MAX, Ordering::Relaxed);
        assert_eq!(clock.to_database(host), i64::MAX, "saturates");
    }
}
