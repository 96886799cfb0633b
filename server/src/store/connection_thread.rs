//! [`ConnectionThread`]: a SQLite connection owned by a thread of its own, which runs the jobs
//! sent to it one after another. A caller hands its job over and awaits the answer; no SQLite
//! call runs on a tokio worker thread, and callers never contend for the connection: under load
//! the thread takes job after job without sleeping in between (through tokio's blocking pool,
//! each call woke a pool thread of its own, and 64 concurrent executes grew the pool to about
//! 150 threads that all contended for the connection's mutex).

use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc;

use rusqlite::Connection;
use tokio::sync::oneshot;

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// The handle to a connection's thread. The thread ends, closing the connection, once every
/// handle is dropped.
#[derive(Debug)]
pub(super) struct ConnectionThread {
    jobs: mpsc::Sender<Job>,
}

/// The connection's thread is gone (it could not be started, or a job panicked while answering).
#[derive(Debug)]
pub(super) struct Stopped;

impl ConnectionThread {
    /// Moves `connection` to a new thread named `name`.
    pub(super) fn spawn(name: &str, connection: Connection) -> std::io::Result<Self> {
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                let mut connection = connection;
                while let Ok(job) = queue.recv() {
                    // A job that panics drops its answer's sender (its caller sees `Stopped`);
                    // the connection stays in use, an open transaction rolled back on unwind.
                    let _ = panic::catch_unwind(AssertUnwindSafe(|| job(&mut connection)));
                }
            })?;
        Ok(Self { jobs })
    }

    /// Runs `job` on the connection and answers what it returned.
    pub(super) async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Connection) -> T + Send + 'static,
    ) -> Result<T, Stopped> {
        let (answer, answered) = oneshot::channel();
        self.submit(move |connection| {
            let _ = answer.send(job(connection));
        })?;
        answered.await.map_err(|_| Stopped)
    }

    /// Queues `job` on the connection without waiting for it.
    pub(super) fn submit(
        &self,
        job: impl FnOnce(&mut Connection) + Send + 'static,
    ) -> Result<(), Stopped> {
        self.jobs.send(Box::new(job)).map_err(|_| Stopped)
    }
}
