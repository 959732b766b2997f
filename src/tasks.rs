//! Owned, bounded sets of background tasks.
//!
//! Every task the node starts on its own behalf belongs to a [`TaskSet`]: the set bounds how
//! many run at once, counts them (for metrics), and is joined on shutdown, so nothing runs
//! unaccounted for and nothing outlives the store it writes to. Two uses:
//!
//! - **Detached requests.** A mutating request runs as a task of the node's request set, and its
//!   connection only awaits the answer: when the client gives up, the work goes on to its end
//!   (ARCHITECTURE.md, invariant "a request's effect never depends on where its connection
//!   dropped"). [`TaskSet::run`] waits for a slot before starting anything, so a request
//!   cancelled while it waits has done nothing.
//! - **Work past the answer.** Copies beyond the write quorum run in the coordinator's set;
//!   [`TaskSet::try_spawn`] never waits, and its caller takes another durable path when the set
//!   is full (a local hint), so memory stays bounded however slow a replica is.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::task::TaskTracker;

/// A bounded set of tracked tasks. Cheap to clone; clones share the set.
#[derive(Debug, Clone)]
pub struct TaskSet {
    name: &'static str,
    tracker: TaskTracker,
    slots: Arc<Semaphore>,
    capacity: usize,
}

/// The set is full (for [`TaskSet::try_spawn`]) or closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SpawnError {
    #[error("the task set is full")]
    Full,
    #[error("the task set is closed")]
    Closed,
}

impl TaskSet {
    /// A set that runs at most `capacity` tasks at once.
    pub fn new(name: &'static str, capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            name,
            tracker: TaskTracker::new(),
            slots: Arc::new(Semaphore::new(capacity)),
            capacity,
        }
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Tasks running now.
    pub fn len(&self) -> usize {
        self.tracker.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tracker.is_empty()
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Waits for a free slot, then runs `task` detached from the caller and waits for its
    /// output. Dropping the returned future before a slot was free starts nothing; dropping it
    /// afterwards lets the task run to its end.
    pub async fn run<F>(&self, task: F) -> Result<F::Output, SpawnError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let slot = self.slots.clone().acquire_owned().await.map_err(|_| SpawnError::Closed)?;
        let handle = self.spawn_with(slot, task)?;
        match handle.await {
            Ok(output) => Ok(output),
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => Err(SpawnError::Closed),
        }
    }

    /// Starts `task` if a slot is free, without waiting.
    pub fn try_spawn<F>(&self, task: F) -> Result<(), SpawnError>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let slot = match self.slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(tokio::sync::TryAcquireError::NoPermits) => return Err(SpawnError::Full),
            Err(tokio::sync::TryAcquireError::Closed) => return Err(SpawnError::Closed),
        };
        self.spawn_with(slot, task).map(drop)
    }

    fn spawn_with<F>(
        &self,
        slot: OwnedSemaphorePermit,
        task: F,
    ) -> Result<tokio::task::JoinHandle<F::Output>, SpawnError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        if self.tracker.is_closed() {
            return Err(SpawnError::Closed);
        }
        Ok(self.tracker.spawn(async move {
            let output = task.await;
            drop(slot);
            output
        }))
    }

    /// Refuses new tasks and waits up to `grace` for the running ones; returns how many were
    /// still running when the wait ended.
    pub async fn close(&self, grace: Duration) -> usize {
        self.tracker.close();
        self.slots.close();
        if tokio::time::timeout(grace, self.tracker.wait()).await.is_err() {
            let left = self.tracker.len();
            tracing::warn!(set = self.name, left, "background tasks still running at shutdown");
            return left;
        }
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_task_whose_caller_gave_up_runs_to_its_end() {
        let set = TaskSet::new("test", 4);
        let (tx, rx) = tokio::sync::oneshot::channel();
        let gate = Arc::new(tokio::sync::Notify::new());
        let waiting = {
            let (gate, set) = (gate.clone(), set.clone());
            async move {
                set.run(async move {
                    gate.notified().await;
                    let _ = tx.send("done");
                })
                .await
            }
        };
        // Start the task, then give up on it.
        let caller = tokio::spawn(waiting);
        while set.is_empty() {
            tokio::task::yield_now().await;
        }
        caller.abort();
        let _ = caller.await;
        gate.notify_one();
        assert_eq!(rx.await.unwrap(), "done");
        assert_eq!(set.close(Duration::from_secs(5)).await, 0);
    }

    #[tokio::test]
    async fn try_spawn_refuses_beyond_the_bound_and_after_close() {
        let set = TaskSet::new("test", 2);
        let (open, gate) = tokio::sync::watch::channel(false);
        for _ in 0..2 {
            let mut gate = gate.clone();
            set.try_spawn(async move {
                let _ = gate.wait_for(|open| *open).await;
            })
            .unwrap();
        }
        assert_eq!(set.try_spawn(async {}), Err(SpawnError::Full));
        assert_eq!(set.len(), 2);
        open.send_replace(true);
        assert_eq!(set.close(Duration::from_secs(5)).await, 0);
        assert_eq!(set.try_spawn(async {}), Err(SpawnError::Closed));
    }

    #[tokio::test]
    async fn run_waits_for_a_slot_and_close_reports_stragglers() {
        let set = TaskSet::new("test", 1);
        let gate = Arc::new(tokio::sync::Notify::new());
        let held = gate.clone();
        set.try_spawn(async move { held.notified().await }).unwrap();
        let queued = tokio::spawn({
            let set = set.clone();
            async move { set.run(async { 7 }).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!queued.is_finished(), "the second task waits for the first one's slot");
        gate.notify_one();
        assert_eq!(queued.await.unwrap(), Ok(7));

        let stuck = TaskSet::new("stuck", 1);
        stuck.try_spawn(std::future::pending()).unwrap();
        assert_eq!(stuck.close(Duration::from_millis(10)).await, 1);
    }
}
