//! A dedicated thread that owns one SQLite connection and runs jobs sent over a channel, so that no
//! SQLite call (disk I/O, fsync, lock waits) ever runs on a tokio worker thread.

use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use auth_core::StoreError;
use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::schema::{STORE, sql_error};

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// How long a connection thread polls for its next job before it sleeps. Waking a sleeping thread
/// costs tens of microseconds, far more than a cached read: a caller that sends its next request
/// within this window (a loop of reads, a read-modify-write) finds the thread awake. The cost is at
/// most this much CPU time after each job.
const SPIN: Duration = Duration::from_micros(50);

/// The handle to one connection thread. The thread ends, closing its connection, once every handle
/// is dropped.
pub(crate) struct Worker {
    jobs: mpsc::Sender<Job>,
    closed: oneshot::Receiver<Result<(), StoreError>>,
    location: String,
}

impl Worker {
    /// Starts a thread, opens its connection with `open` on that thread, and returns once the
    /// connection is ready (or failed to open).
    pub(crate) async fn spawn(
        name: &str,
        location: String,
        open: impl FnOnce() -> Result<Connection, StoreError> + Send + 'static,
    ) -> Result<Self, StoreError> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let (ready_tx, ready_rx) = oneshot::channel();
        let (closed_tx, closed) = oneshot::channel();
        let thread_location = location.clone();
        thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                let mut conn = match open() {
                    Ok(conn) => {
                        let _ = ready_tx.send(Ok(()));
                        conn
                    }
                    Err(err) => {
                        let _ = ready_tx.send(Err(err));
                        return;
                    }
                };
                while let Some(job) = next_job(&queue) {
                    // A panicking job drops its reply sender, which the caller reports; the
                    // connection (and any open transaction, rolled back on unwind) stays usable.
                    let _ = panic::catch_unwind(AssertUnwindSafe(|| job(&mut conn)));
                }
                let result = conn
                    .close()
                    .map_err(|(_, err)| sql_error(&thread_location, err));
                let _ = closed_tx.send(result);
            })
            .map_err(|source| StoreError::Io {
                store: STORE,
                location: location.clone(),
                source,
            })?;
        ready_rx.await.map_err(|_| stopped(&location))??;
        Ok(Self {
            jobs,
            closed,
            location,
        })
    }

    /// Runs `job` on the connection thread and returns its result.
    ///
    /// If the returned future is dropped after the job was queued, the job still runs to its end.
    pub(crate) async fn run<R: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Connection) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        let (reply, result) = oneshot::channel();
        self.jobs
            .send(Box::new(move |conn| {
                let _ = reply.send(job(conn));
            }))
            .map_err(|_| stopped(&self.location))?;
        result.await.map_err(|_| stopped(&self.location))?
    }

    /// Stops the thread after the jobs already queued and waits until the connection is closed.
    pub(crate) async fn close(self) -> Result<(), StoreError> {
        drop(self.jobs);
        self.closed.await.map_err(|_| stopped(&self.location))?
    }
}

/// The next job, or `None` once every sender is gone: polls for [`SPIN`], then blocks.
fn next_job(queue: &mpsc::Receiver<Job>) -> Option<Job> {
    let start = Instant::now();
    loop {
        match queue.try_recv() {
            Ok(job) => return Some(job),
            Err(mpsc::TryRecvError::Disconnected) => return None,
            Err(mpsc::TryRecvError::Empty) if start.elapsed() < SPIN => std::hint::spin_loop(),
            Err(mpsc::TryRecvError::Empty) => return queue.recv().ok(),
        }
    }
}

fn stopped(location: &str) -> StoreError {
    StoreError::Backend {
        store: STORE,
        message: format!(
            "{location}: the connection thread stopped while handling this call (a bug: please report it); reopen the store"
        ),
    }
}
