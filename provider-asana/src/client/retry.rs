//! [`RetryConfig`]: how many times a call is retried and how long it waits between attempts.

use std::time::Duration;

use rand::Rng;

/// How an [`AsanaClient`](crate::AsanaClient) retries a call after a 429, a 5xx, a timeout or a
/// connection failure, set with
/// [`AsanaClientSettings::with_retry`](crate::AsanaClientSettings::with_retry).
///
/// The wait before retry `n` (counted from 0) is `initial_backoff × base^n`, at most
/// `max_backoff`, scaled by a random factor between 0.5 and 1 so that clients that failed
/// together do not retry together. With the defaults (python-asana's) that is 1, 2, 4, 8, 16, 16…
/// seconds. A 429 waits for its `Retry-After` instead when that is a number of seconds no longer
/// than `max_retry_after`; all the waits for 429s together stay within `max_rate_limit_wait`.
/// Every wait also ends before the call's
/// [`deadline`](crate::AsanaClientSettings::deadline), or is not started.
///
/// Tests shrink these rather than pause tokio's clock (whose auto-advance fires the client's
/// timeouts while a request waits on its socket):
///
/// ```
/// use std::time::Duration;
/// use provider_asana::{AsanaClientSettings, RetryConfig};
///
/// let fast = RetryConfig::default()
///     .with_initial_backoff(Duration::from_millis(10))
///     .with_max_backoff(Duration::from_millis(100))
///     .with_max_rate_limit_wait(Duration::from_millis(500));
/// let settings = AsanaClientSettings::default().with_retry(fast);
/// assert_eq!(settings.retry.max_retries, 5);
/// assert_eq!(RetryConfig::default().initial_backoff, Duration::from_secs(1));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RetryConfig {
    /// How many times one call may be retried (default 5; 0 turns retries off). 5xx, timeouts
    /// and connection failures are never retried for POST; 429s are, for every method.
    pub max_retries: u32,
    /// The wait before the first retry, before jitter (default 1 s).
    pub initial_backoff: Duration,
    /// The longest wait between two attempts, before jitter (default 16 s).
    pub max_backoff: Duration,
    /// How much each wait grows over the one before (default 2.0). It must be a finite number of
    /// at least 1, or [`AsanaClient::new`](crate::AsanaClient::new) refuses the settings.
    pub base: f64,
    /// The longest `Retry-After` honoured (default 24 h). A longer one, like one that is not a
    /// number of seconds, is not a wait anyone means: the client backs off as if none had been
    /// sent.
    pub max_retry_after: Duration,
    /// The total time one call may spend waiting for rate limits (429) before it fails with
    /// [`AsanaError::RateLimited`](crate::AsanaError::RateLimited) (default 60 s). A 429 whose
    /// wait would go past it is returned at once.
    pub max_rate_limit_wait: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_retries: 5,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(16),
            base: 2.0,
            max_retry_after: Duration::from_secs(24 * 60 * 60),
            max_rate_limit_wait: Duration::from_secs(60),
        }
    }
}

impl RetryConfig {
    /// Sets how many retries one call may make.
    pub fn with_max_retries(mut self, max_retries: u32) -> Self {
        self.max_retries = max_retries;
        self
    }

    /// Sets the wait before the first retry.
    pub fn with_initial_backoff(mut self, initial_backoff: Duration) -> Self {
        self.initial_backoff = initial_backoff;
        self
    }

    /// Sets the longest wait between two attempts.
    pub fn with_max_backoff(mut self, max_backoff: Duration) -> Self {
        self.max_backoff = max_backoff;
        self
    }

    /// Sets how much each wait grows over the one before.
    pub fn with_base(mut self, base: f64) -> Self {
        self.base = base;
        self
    }

    /// Sets the longest `Retry-After` honoured.
    pub fn with_max_retry_after(mut self, max_retry_after: Duration) -> Self {
        self.max_retry_after = max_retry_after;
        self
    }

    /// Sets the total time one call may wait for rate limits.
    pub fn with_max_rate_limit_wait(mut self, max_rate_limit_wait: Duration) -> Self {
        self.max_rate_limit_wait = max_rate_limit_wait;
        self
    }

    /// Why this configuration cannot be used, if it cannot.
    pub(crate) fn problem(&self) -> Option<&'static str> {
        (!self.base.is_finite() || self.base < 1.0)
            .then_some("the backoff base must be a finite number of at least 1, e.g. 2.0")
    }

    /// The wait before retry number `retry` (counted from 0), jittered.
    pub(crate) fn backoff(&self, retry: u32) -> Duration {
        let ceiling = self.backoff_ceiling(retry);
        let jitter: f64 = rand::thread_rng().gen_range(0.5..=1.0);
        // Near `Duration::MAX` the product may round past it: the ceiling is then the wait.
        Duration::try_from_secs_f64(ceiling.as_secs_f64() * jitter)
            .map_or(ceiling, |wait| wait.min(ceiling))
    }

    /// `initial_backoff × base^retry`, at most `max_backoff`: the wait before jitter.
    fn backoff_ceiling(&self, retry: u32) -> Duration {
        if self.initial_backoff.is_zero() {
            return Duration::ZERO;
        }
        let growth = self.base.powi(i32::try_from(retry).unwrap_or(i32::MAX));
        // Too large to represent (or not a number) means larger than any maximum.
        Duration::try_from_secs_f64(self.initial_backoff.as_secs_f64() * growth)
            .map_or(self.max_backoff, |wait| wait.min(self.max_backoff))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(millis: u64) -> Duration {
        Duration::from_millis(millis)
    }

    #[test]
    fn the_defaults_double_from_one_second_up_to_sixteen_with_jitter() {
        let config = RetryConfig::default();
        for (retry, ceiling) in [(0, 1), (1, 2), (2, 4), (3, 8), (4, 16), (9, 16)] {
            let ceiling = Duration::from_secs(ceiling);
            assert_eq!(config.backoff_ceiling(retry), ceiling);
            for _ in 0..20 {
                let wait = config.backoff(retry);
                assert!(wait >= ceiling / 2 && wait <= ceiling, "{retry}: {wait:?}");
            }
        }
        assert_eq!(config.max_retries, 5);
        assert_eq!(config.max_retry_after, Duration::from_secs(86_400));
        assert_eq!(config.max_rate_limit_wait, Duration::from_secs(60));
    }

    #[test]
    fn the_waits_follow_the_configured_start_growth_and_maximum() {
        let config = RetryConfig::default()
            .with_initial_backoff(ms(10))
            .with_base(3.0)
            .with_max_backoff(ms(100));
        let ceilings: Vec<_> = (0..5).map(|retry| config.backoff_ceiling(retry)).collect();
        assert_eq!(ceilings, [ms(10), ms(30), ms(90), ms(100), ms(100)]);
        for _ in 0..20 {
            let wait = config.backoff(1);
            assert!(wait >= ms(15) && wait <= ms(30), "{wait:?}");
        }
    }

    #[test]
    fn extreme_configurations_give_bounded_waits() {
        let huge = RetryConfig::default().with_base(1e300);
        assert_eq!(huge.backoff_ceiling(u32::MAX), Duration::from_secs(16));
        let unbounded = RetryConfig::default().with_max_backoff(Duration::MAX);
        assert_eq!(unbounded.backoff_ceiling(u32::MAX), Duration::MAX);
        assert!(unbounded.backoff(u32::MAX) >= Duration::MAX / 2);
        let none = RetryConfig::default().with_initial_backoff(Duration::ZERO);
        assert_eq!(none.backoff(u32::MAX), Duration::ZERO);
        let flat = RetryConfig::default().with_base(1.0);
        assert_eq!(flat.backoff_ceiling(1000), Duration::from_secs(1));
        let shrinking = RetryConfig::default().with_max_backoff(ms(1));
        assert_eq!(shrinking.backoff_ceiling(0), ms(1));
    }

    #[test]
    fn a_base_below_one_or_not_finite_is_a_problem() {
        assert_eq!(RetryConfig::default().problem(), None);
        assert_eq!(RetryConfig::default().with_base(1.0).problem(), None);
        for base in [0.5, 0.0, -2.0, f64::NAN, f64::INFINITY] {
            assert!(
                RetryConfig::default().with_base(base).problem().is_some(),
                "{base}"
            );
        }
    }
}
