//! [`Batches`]: calls of one kind that share a statement. A call joins the queue; when no task is
//! running the queue, a task starts that hands the whole queue to its runner, again and again,
//! until the queue is empty. Concurrent calls thus share one pool checkout and one round trip,
//! and a lone call never waits for company: the calls that arrive while a batch is in flight
//! make up the next one.

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::oneshot;

use crate::error::ServiceStoreError;

/// A queued call: what it asks, and where its answer goes.
pub(super) type Waiting<I, A> = (I, oneshot::Sender<Result<A, ServiceStoreError>>);

/// The calls waiting for the next batch of their kind, and whether a task is running batches.
#[derive(Debug)]
pub(super) struct Batches<I, A> {
    waiting: Vec<Waiting<I, A>>,
    running: bool,
}

impl<I, A> Default for Batches<I, A> {
    fn default() -> Self {
        Self {
            waiting: Vec::new(),
            running: false,
        }
    }
}

/// Queues `item` on `queue` and, unless a task is running the queue's batches, spawns one that
/// hands each batch to `run`, which answers every call of it. The answer for `item` comes back
/// through the receiver; it is dropped unanswered when the runner stopped (its runtime shut
/// down), in which case the calls still queued are dropped too and the next call starts a new
/// task. The task is not the caller's: a batch is finished even if its callers went away.
pub(super) fn join<I, A, F, Fut>(
    queue: &Arc<Mutex<Batches<I, A>>>,
    item: I,
    run: F,
) -> oneshot::Receiver<Result<A, ServiceStoreError>>
where
    I: Send + 'static,
    A: Send + 'static,
    F: Fn(Vec<Waiting<I, A>>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let (answer, answered) = oneshot::channel();
    let start = {
        let mut batches = lock(queue);
        batches.waiting.push((item, answer));
        !std::mem::replace(&mut batches.running, true)
    };
    if start {
        let queue = queue.clone();
        tokio::spawn(async move {
            let mut running = Running {
                queue: &queue,
                finished: false,
            };
            loop {
                let batch = {
                    let mut batches = lock(&queue);
                    if batches.waiting.is_empty() {
                        batches.running = false;
                        running.finished = true;
                        return;
                    }
                    std::mem::take(&mut batches.waiting)
                };
                run(batch).await;
            }
        });
    }
    answered
}

/// Settles `batch` with `together`, the result of one statement over all its items (answers in
/// the items' order): on success every call is answered and nothing is returned; on an outage
/// every call is answered with it (running each alone would queue them one after another at the
/// unreachable database); on any other failure the calls are returned, for the caller to run each
/// alone, so that a bad item fails only its own call. A caller that went away is not answered;
/// its item is handled all the same.
pub(super) fn settle<I, A>(
    batch: Vec<Waiting<I, A>>,
    together: Result<Vec<A>, ServiceStoreError>,
) -> Vec<Waiting<I, A>> {
    match together {
        Ok(found) => {
            for (found, (_, answer)) in found.into_iter().zip(batch) {
                let _ = answer.send(Ok(found));
            }
            Vec::new()
        }
        Err(ServiceStoreError::Unavailable {
            operation,
            message,
            location,
        }) => {
            for (_, answer) in batch {
                let _ = answer.send(Err(ServiceStoreError::Unavailable {
                    operation,
                    message: message.clone(),
                    location: location.clone(),
                }));
            }
            Vec::new()
        }
        Err(_) => batch,
    }
}

fn lock<I, A>(queue: &Mutex<Batches<I, A>>) -> MutexGuard<'_, Batches<I, A>> {
    queue.lock().unwrap_or_else(|p| p.into_inner())
}

/// The running task: if it is dropped before it finished (its runtime shut down), the calls left
/// in the queue fail (their callers learn so) and the next call starts a task.
struct Running<'a, I, A> {
    queue: &'a Mutex<Batches<I, A>>,
    finished: bool,
}

impl<I, A> Drop for Running<'_, I, A> {
    fn drop(&mut self) {
        if !self.finished {
            let mut batches = lock(self.queue);
            batches.waiting.clear();
            batches.running = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    /// Calls made while a batch is in flight make up the next batch, each gets its own answer,
    /// and a call after the queue ran dry starts a new task.
    #[tokio::test]
    async fn calls_made_during_a_batch_share_the_next_one_and_each_gets_its_answer() {
        let queue: Arc<Mutex<Batches<u32, u32>>> = Arc::default();
        let sizes = Arc::new(Mutex::new(Vec::new()));
        let runs = Arc::new(AtomicUsize::new(0));
        let run = {
            let (sizes, runs) = (sizes.clone(), runs.clone());
            move |batch: Vec<Waiting<u32, u32>>| {
                let (sizes, runs) = (sizes.clone(), runs.clone());
                async move {
                    runs.fetch_add(1, Ordering::SeqCst);
                    sizes.lock().unwrap().push(batch.len());
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    for (n, answer) in batch {
                        let _ = answer.send(Ok(n * 10));
                    }
                }
            }
        };
        let first = join(&queue, 1, run.clone());
        tokio::task::yield_now().await;
        let more: Vec<_> = (2..=5).map(|n| join(&queue, n, run.clone())).collect();
        assert_eq!(first.await.unwrap().unwrap(), 10);
        for (n, answer) in (2..=5).zip(more) {
            assert_eq!(answer.await.unwrap().unwrap(), n * 10);
        }
        assert_eq!(*sizes.lock().unwrap(), [1, 4]);
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(join(&queue, 6, run).await.unwrap().unwrap(), 60);
        assert_eq!(*sizes.lock().unwrap(), [1, 4, 1]);
        assert_eq!(runs.load(Ordering::SeqCst), 3);
    }
}
