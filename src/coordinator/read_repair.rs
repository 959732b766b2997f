//! Read repair: after a read reached its quorum, replicas whose answer did not cover the merged
//! result get the merged siblings. Repairs go through a bounded queue served by one worker; when
//! the queue is full, the repair is dropped and counted (anti-entropy and later reads catch up),
//! never queued without bound.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::mpsc;

use super::replica::Replica;
use crate::causality::Siblings;
use crate::ring::NodeId;
use crate::store::TableId;

/// One stale replica to bring up to date.
#[derive(Debug)]
pub struct Repair {
    pub node: NodeId,
    pub table: TableId,
    pub key: Vec<u8>,
    pub siblings: Siblings,
}

/// The sending side of the repair queue, with its counters.
#[derive(Debug, Clone)]
pub struct RepairQueue {
    tx: Option<mpsc::Sender<Repair>>,
    queued: Arc<AtomicU64>,
    dropped: Arc<AtomicU64>,
}

impl RepairQueue {
    /// A queue of `capacity` repairs and its receiving end (for `run`).
    pub fn new(capacity: usize) -> (Self, mpsc::Receiver<Repair>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (Self { tx: Some(tx), queued: Arc::default(), dropped: Arc::default() }, rx)
    }

    /// A queue that repairs nothing (a ring of one has no other replica).
    pub fn disabled() -> Self {
        Self { tx: None, queued: Arc::default(), dropped: Arc::default() }
    }

    /// Queues repairs for every answer of `owners` that `merged` supersedes, and for owners
    /// that did not answer in time nothing (they will be read again later).
    pub fn offer(
        &self,
        table: TableId,
        key: &[u8],
        merged: &Siblings,
        answers: &[(NodeId, Siblings)],
        owners: Vec<NodeId>,
    ) {
        let Some(tx) = &self.tx else { return };
        for (node, siblings) in answers {
            if !owners.contains(node) || siblings.covers(merged) {
                continue;
            }
            let repair = Repair { node: *node, table, key: key.to_vec(), siblings: merged.clone() };
            match tx.try_send(repair) {
                Ok(()) => {
                    self.queued.fetch_add(1, Ordering::Relaxed);
                }
                Err(_) => {
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    /// `(queued, dropped)` since start.
    pub fn counters(&self) -> (u64, u64) {
        (self.queued.load(Ordering::Relaxed), self.dropped.load(Ordering::Relaxed))
    }
}

/// Serves the repair queue until it closes; `replica` resolves a node to a replica.
pub async fn run(mut rx: mpsc::Receiver<Repair>, replica: impl Fn(NodeId) -> Option<Replica>) {
    while let Some(repair) = rx.recv().await {
        let Some(target) = replica(repair.node) else { continue };
        if let Err(e) = target.merge(repair.table, repair.key, repair.siblings, None).await {
            tracing::debug!(worker = "read_repair", node = format_args!("{:x}", repair.node), error = %e, "repair failed");
        }
    }
}
