//! Waking waiters with `LISTEN`/`NOTIFY`.
//!
//! A trigger announces every write to a credential on [`CHANNEL`] with a hash of its provider and
//! subject ([`notify_key`]), never a secret. Each store keeps one dedicated connection that
//! listens there (outside the pool, named `integrations-store-listener` in
//! `pg_stat_activity`) and fans notifications out to the callers of
//! [`Listener::wait_for_change`]. The same connection measures the clock skew every
//! [`SKEW_INTERVAL`](crate::clock::SKEW_INTERVAL), which also finds a connection that died
//! quietly.
//!
//! When the connection is lost, waiters fall back to polling (they sleep the caller's poll
//! interval) while a background task reconnects, backing off from 100 ms to 5 s. Waiters that
//! were waiting when it dropped, or when it came back, are woken at once to read again, since
//! notifications sent meanwhile were lost.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_postgres::Config;

use crate::clock::{Clock, SKEW_INTERVAL};
use crate::connect::{Tls, dedicated};
use crate::schema::CHANNEL;

/// The longest a waiter waits for a notification while listening: a change that happened after
/// the caller read the record but before it started waiting sent its notification too early,
/// and lease expiry sends none; the caller reads again after this at the latest.
pub(crate) const NOTIFIED_WAIT_CAP: Duration = Duration::from_secs(2);

/// `application_name` of the listener's connection.
pub(crate) const LISTENER_NAME: &str = "integrations-store-listener";

/// What every waiter takes as "read again": sent when the connection drops or comes back.
const WAKE_ALL: &str = "*";

/// How long the listener's `LISTEN` and clock reading may take on a new connection before it
/// gives that connection up and connects again.
const START_LIMIT: Duration = Duration::from_secs(10);

/// First and longest pause between reconnection attempts.
const RECONNECT_FIRST: Duration = Duration::from_millis(100);
const RECONNECT_MAX: Duration = Duration::from_secs(5);

/// The payload the trigger sends for a write to (provider, subject): the SHA-256 in hex of the
/// provider, a NUL byte and the subject.
pub(crate) fn notify_key(provider: &str, subject: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(provider.as_bytes());
    hash.update([0u8]);
    hash.update(subject.as_bytes());
    hex::encode(hash.finalize())
}

/// The shared side of the listener.
#[derive(Debug)]
pub(crate) struct Listener {
    listening: AtomicBool,
    /// The callers waiting, by [`notify_key`]: a notification wakes the waiters of its record
    /// only, so that a burst of writes to many records does not wake every waiter for each.
    waiters: Mutex<HashMap<String, Waiters>>,
}

/// The callers waiting for one record's change.
#[derive(Debug)]
struct Waiters {
    notify: Arc<Notify>,
    count: usize,
}

/// A caller's place among [`Listener::waiters`], given up on drop.
struct Registration<'a> {
    listener: &'a Listener,
    key: String,
    notify: Arc<Notify>,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        let mut waiters = self.listener.waiters();
        if let Some(entry) = waiters.get_mut(&self.key) {
            entry.count -= 1;
            if entry.count == 0 {
                waiters.remove(&self.key);
            }
        }
    }
}

impl Listener {
    /// Starts listening in the background; the task ends when the returned handle is aborted.
    pub(crate) fn start(
        config: Config,
        tls: Tls,
        clock: Arc<Clock>,
        location: String,
    ) -> (Arc<Self>, JoinHandle<()>) {
        let listener = Arc::new(Self {
            listening: AtomicBool::new(false),
            waiters: Mutex::default(),
        });
        let task = tokio::spawn(listener.clone().run(config, tls, clock, location));
        (listener, task)
    }

    /// Whether notifications are arriving now (otherwise waiters poll).
    pub(crate) fn is_listening(&self) -> bool {
        self.listening.load(Ordering::Acquire)
    }

    /// Waits for a write to (provider, subject), at most `max_wait` (and [`NOTIFIED_WAIT_CAP`])
    /// while listening; while not, `poll_interval` (at most `max_wait`), or until the connection
    /// is back.
    pub(crate) async fn wait_for_change(
        &self,
        provider: &str,
        subject: &str,
        poll_interval: Duration,
        max_wait: Duration,
    ) {
        // Registered before anything else, at the first poll: a notification from then on wakes
        // this caller, even before it is awaited.
        let registration = self.register(notify_key(provider, subject));
        let notified = registration.notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        // Not listening: a poll interval, cut short when the connection comes back (its
        // notifications were lost meanwhile, so every waiter reads again).
        let wait = if self.is_listening() {
            max_wait.min(NOTIFIED_WAIT_CAP)
        } else {
            poll_interval.min(max_wait)
        };
        let _ = tokio::time::timeout(wait, notified).await;
    }

    fn waiters(&self) -> MutexGuard<'_, HashMap<String, Waiters>> {
        self.waiters.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn register(&self, key: String) -> Registration<'_> {
        let notify = {
            let mut waiters = self.waiters();
            let entry = waiters.entry(key.clone()).or_insert_with(|| Waiters {
                notify: Arc::default(),
                count: 0,
            });
            entry.count += 1;
            entry.notify.clone()
        };
        Registration {
            listener: self,
            key,
            notify,
        }
    }

    /// Wakes the callers waiting for the record of `payload`, or every caller for [`WAKE_ALL`].
    fn wake(&self, payload: &str) {
        let waiters = self.waiters();
        if payload == WAKE_ALL {
            waiters
                .values()
                .for_each(|entry| entry.notify.notify_waiters());
        } else if let Some(entry) = waiters.get(payload) {
            entry.notify.notify_waiters();
        }
    }

    fn set_listening(&self, listening: bool) {
        self.listening.store(listening, Ordering::Release);
        self.wake(WAKE_ALL);
    }

    /// Connects, listens and forwards notifications; reconnects with backoff when the
    /// connection is lost.
    async fn run(
        self: Arc<Self>,
        mut config: Config,
        tls: Tls,
        clock: Arc<Clock>,
        location: String,
    ) {
        config.application_name(LISTENER_NAME);
        let mut pause = RECONNECT_FIRST;
        loop {
            match dedicated(&config, &tls, &location).await {
                Ok((client, mut notifications, driver)) => {
                    // Bounded: a connection gone silent here would keep the listener down
                    // (waiters polling) for as long as the kernel retries.
                    let started = tokio::time::timeout(START_LIMIT, async {
                        client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
                        clock.measure(&client, false).await.map(|_| ())
                    })
                    .await;
                    let ready = match started {
                        Ok(started) => started.map_err(|e| e.to_string()),
                        Err(_) => Err(format!("no answer within {START_LIMIT:?}")),
                    };
                    if let Err(e) = ready {
                        tracing::debug!(location, error = %e, "the listener could not start listening");
                    } else {
                        pause = RECONNECT_FIRST;
                        self.set_listening(true);
                        tracing::debug!(location, "listening for credential changes");
                        loop {
                            tokio::select! {
                                payload = notifications.recv() => match payload {
                                    Some(payload) => self.wake(&payload),
                                    None => break,
                                },
                                () = tokio::time::sleep(SKEW_INTERVAL) => {
                                    // Also the listener's liveness check: a connection that
                                    // went silent is given up after one more interval.
                                    match tokio::time::timeout(SKEW_INTERVAL, clock.measure(&client, false)).await {
                                        Ok(Ok(_)) => {}
                                        Ok(Err(e)) => {
                                            tracing::debug!(location, error = %e, "the listener's connection failed");
                                            break;
                                        }
                                        Err(_) => {
                                            tracing::debug!(location, "the listener's connection went silent");
                                            break;
                                        }
                                    }
                                }
                            }
                        }
                        self.set_listening(false);
                        tracing::warn!(
                            location,
                            "lost the listener connection; waiters poll until it is back"
                        );
                    }
                    driver.abort();
                }
                Err(e) => tracing::debug!(location, error = %e, "the listener cannot connect yet"),
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(RECONNECT_MAX);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A notification wakes the waiters of its record, and only those; a lost connection wakes
    /// every waiter, and so does its return; a waiter that returns leaves nothing behind.
    #[tokio::test]
    async fn a_notification_wakes_the_waiters_of_its_record_only() {
        let listener = Listener {
            listening: AtomicBool::new(true),
            waiters: Mutex::default(),
        };
        let wait = |subject: &'static str| {
            Box::pin(listener.wait_for_change(
                "p",
                subject,
                Duration::from_secs(1),
                Duration::from_secs(60),
            ))
        };
        let (mut a1, mut a2, mut b) = (wait("a"), wait("a"), wait("b"));
        assert!(futures::poll!(a1.as_mut()).is_pending());
        assert!(futures::poll!(a2.as_mut()).is_pending());
        assert!(futures::poll!(b.as_mut()).is_pending());
        assert_eq!(listener.waiters().len(), 2, "one entry per record");

        listener.wake(&notify_key("p", "b"));
        assert!(futures::poll!(b.as_mut()).is_ready());
        assert!(futures::poll!(a1.as_mut()).is_pending());
        assert!(futures::poll!(a2.as_mut()).is_pending());
        assert_eq!(listener.waiters().len(), 1, "b's waiter is gone");

        listener.wake(&notify_key("p", "c"));
        assert!(futures::poll!(a1.as_mut()).is_pending());
        listener.wake(WAKE_ALL);
        assert!(futures::poll!(a1.as_mut()).is_ready());
        assert!(futures::poll!(a2.as_mut()).is_ready());
        assert!(listener.waiters().is_empty());

        // Polling while the connection is down, a waiter reads again when it is back.
        listener.set_listening(false);
        let mut polling = wait("a");
        assert!(futures::poll!(polling.as_mut()).is_pending());
        listener.set_listening(true);
        assert!(futures::poll!(polling.as_mut()).is_ready());
    }

    #[test]
    fn the_key_hashes_provider_and_subject_apart() {
        let key = notify_key("asana", "user@example.com");
        assert_eq!(key.len(), 64);
        assert!(!key.contains("asana") && !key.contains("user"));
        assert_ne!(notify_key("ab", "c"), notify_key("a", "bc"));
        assert_eq!(key, notify_key("asana", "user@example.com"));
    }
}
