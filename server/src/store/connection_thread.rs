//! [`ConnectionThread`]: a SQLite connection owned by a thread of its own, which runs the jobs
//! sent to it one after another. A caller hands its job over and awaits the answer; no SQLite
//! call runs on a tokio worker thread, and callers never contend for the connection: under load
//! the thread takes job after job without sleeping in between (through tokio's blocking pool,
//! each call woke a pool thread of its own, and 64 concurrent executes grew the pool to about
//! 150 threads that all contended for the connection's mutex).
//!
//! A reader's thread ([`ConnectionThread::spawn_reader`]) runs the reads it finds queued together
//! in one read transaction: one snapshot and one pair of WAL locks for all of them instead of one
//! per read. The queue is emptied before the transaction begins, so every read still sees each
//! commit that completed before it was submitted.

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
    /// Moves `connection` to a new thread named `name`, which runs each job on its own.
    pub(super) fn spawn(name: &str, connection: Connection) -> std::io::Result<Self> {
        Self::start(name, connection, false)
    }

    /// As [`ConnectionThread::spawn`], for a connection that only reads: the jobs queued
    /// together run in one read transaction.
    pub(super) fn spawn_reader(name: &str, connection: Connection) -> std::io::Result<Self> {
        Self::start(name, connection, true)
    }

    fn start(name: &str, connection: Connection, reads: bool) -> std::io::Result<Self> {
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                let mut connection = connection;
                let mut batch: Vec<Job> = Vec::new();
                while let Ok(job) = queue.recv() {
                    batch.push(job);
                    if reads {
                        batch.extend(queue.try_iter());
                    }
                    let together = batch.len() > 1 && statement(&connection, "BEGIN");
                    for job in batch.drain(..) {
                        // A job that panics drops its answer's sender (its caller sees
                        // `Stopped`); the connection stays in use, an open transaction rolled
                        // back on unwind.
                        let _ = panic::catch_unwind(AssertUnwindSafe(|| job(&mut connection)));
                    }
                    if together && !statement(&connection, "COMMIT") {
                        statement(&connection, "ROLLBACK");
                    }
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

/// Runs `sql` (a statement without parameters); whether it succeeded.
fn statement(connection: &Connection, sql: &str) -> bool {
    connection
        .prepare_cached(sql)
        .and_then(|mut statement| statement.execute([]))
        .is_ok()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicI64, Ordering};

    use super::*;

    /// Reads queued behind a slow one run together, and each still sees every commit that
    /// completed before it was submitted, however many commits land while it waits.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn queued_reads_see_every_commit_made_before_they_were_submitted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        let writer = Connection::open(&path).unwrap();
        writer
            .execute_batch(
                "PRAGMA journal_mode = WAL; CREATE TABLE counter (n INTEGER NOT NULL);
                 INSERT INTO counter VALUES (0);",
            )
            .unwrap();
        let reader =
            ConnectionThread::spawn_reader("test-reader", Connection::open(&path).unwrap())
                .unwrap();
        let committed = Arc::new(AtomicI64::new(0));
        let writing = {
            let committed = committed.clone();
            std::thread::spawn(move || {
                for n in 1..=300 {
                    writer.execute("UPDATE counter SET n = ?1", [n]).unwrap();
                    committed.store(n, Ordering::SeqCst);
                }
            })
        };
        while !writing.is_finished() {
            let reads: Vec<_> = (0..16).map(|_| read(&reader, &committed)).collect();
            for (seen_before, read) in futures::future::join_all(reads).await {
                assert!(
                    read >= seen_before,
                    "a read submitted after commit {seen_before} saw {read}"
                );
            }
        }
        writing.join().unwrap();
        assert_eq!(read(&reader, &committed).await, (300, 300));
    }

    /// The last commit seen before submitting a read, and what the read saw.
    async fn read(reader: &ConnectionThread, committed: &AtomicI64) -> (i64, i64) {
        let seen_before = committed.load(Ordering::SeqCst);
        let answer = reader.run(|c| {
            // A read that takes a while, so that the next ones queue behind it.
            std::thread::sleep(std::time::Duration::from_micros(200));
            c.query_row("SELECT n FROM counter", [], |r| r.get::<_, i64>(0))
                .unwrap()
        });
        (seen_before, answer.await.unwrap())
    }
}
