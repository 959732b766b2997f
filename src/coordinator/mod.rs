//! The coordinator: replicated get, put, delete and scan of items, and put/get of blocks, with
//! N/R/W quorums over each item's preference list (Dynamo, section 4.5).
//!
//! It knows nothing of S3. Items are opaque bytes under a `(table, key)`; the caller passes the
//! causal context (the merged clock of what it read) with each write, and gets every concurrent
//! sibling back on reads. A ring of one is N=R=W=1 over the local store, through this same code.
//!
//! Invariant: `put` returns only after `write_quorum` replicas made the version durable.

mod replica;
mod round;

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::causality::{Sibling, Siblings, VectorClock};
use crate::clock::SharedClock;
use crate::ring::{NodeId, Ring};
use crate::store::{BlockId, JournalEntry, Store, TableId, WriteOp};

pub use replica::{Replica, ReplicaError, ScanRange};
pub use round::{QuorumRound, RoundState};

/// Table id under which blocks are placed on the ring (never a stored item table).
const BLOCK_PLACEMENT_TABLE: u8 = 0xff;

/// Replication parameters: N, R and W.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quorum {
    pub replication_factor: usize,
    pub read_quorum: usize,
    pub write_quorum: usize,
}

impl Quorum {
    pub const SINGLE: Quorum = Quorum { replication_factor: 1, read_quorum: 1, write_quorum: 1 };
}

/// Why a replicated operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CoordinatorError {
    #[error("quorum not reached: {acked} of {needed} replicas answered ({failures:?})")]
    QuorumNotReached { needed: usize, acked: usize, failures: Vec<(NodeId, ReplicaError)> },
    #[error("no replica holds block {id:?}")]
    BlockMissing { id: BlockId },
    #[error("the ring has no owner for this item")]
    NoOwner,
    #[error("local store: {0}")]
    Local(ReplicaError),
}

/// Replicated reads and writes through this node.
#[derive(Debug, Clone)]
pub struct Coordinator {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    node_id: NodeId,
    /// This node's own store, for node-local bookkeeping (the journal).
    local: Store,
    ring: Ring,
    replicas: HashMap<NodeId, Replica>,
    clock: SharedClock,
    quorum: Quorum,
}

impl Coordinator {
    /// A coordinator whose only replica is the local store (a ring of one).
    pub fn single_node(node_id: NodeId, ring: Ring, store: Store, clock: SharedClock) -> Self {
        let replicas = HashMap::from([(node_id, Replica::Local(store.clone()))]);
        Self {
            inner: Arc::new(Inner {
                node_id,
                local: store,
                ring,
                replicas,
                clock,
                quorum: Quorum::SINGLE,
            }),
        }
    }

    pub fn node_id(&self) -> NodeId {
        self.inner.node_id
    }

    pub fn quorum(&self) -> Quorum {
        self.inner.quorum
    }

    fn owners(&self, table: u8, key: &[u8]) -> Vec<(NodeId, Replica)> {
        self.inner
            .ring
            .preference_list(table, key)
            .into_iter()
            .take(self.inner.quorum.replication_factor)
            .filter_map(|n| self.inner.replicas.get(&n).map(|r| (n, r.clone())))
            .collect()
    }

    /// Reads an item: merges the sibling sets of `read_quorum` owners.
    #[tracing::instrument(skip_all, fields(table = table.0))]
    pub async fn get(&self, table: TableId, key: &[u8]) -> Result<Siblings, CoordinatorError> {
        let owners = self.owners(table.0, key);
        let needed = self.inner.quorum.read_quorum;
        let (tx, mut rx) = mpsc::channel(owners.len().max(1));
        for (node, replica) in &owners {
            let (tx, node, replica, key) = (tx.clone(), *node, replica.clone(), key.to_vec());
            tokio::spawn(async move {
                let _ = tx.send((node, replica.get(table, key).await)).await;
            });
        }
        drop(tx);
        let mut round = QuorumRound::new(needed, owners.len());
        let mut merged = Siblings::new();
        while let Some((node, result)) = rx.recv().await {
            let state = match result {
                Ok(siblings) => {
                    merged.merge(&siblings);
                    round.ack(node)
                }
                Err(e) => round.fail(node, e),
            };
            match state {
                RoundState::Pending => {}
                RoundState::Reached => return Ok(merged),
                RoundState::Failed => break,
            }
        }
        Err(quorum_error(round))
    }

    /// Writes `value` (`None` deletes) as a successor of `context`; returns the new version once
    /// `write_quorum` owners hold it durably.
    #[tracing::instrument(skip_all, fields(table = table.0))]
    pub async fn put(
        &self,
        table: TableId,
        key: &[u8],
        value: Option<Vec<u8>>,
        context: VectorClock,
    ) -> Result<Sibling, CoordinatorError> {
        let owners = self.owners(table.0, key);
        let me = self.inner.node_id;
        let Some((coordinator, first)) =
            owners.iter().find(|(n, _)| *n == me).or_else(|| owners.first()).cloned()
        else {
            return Err(CoordinatorError::NoOwner);
        };
        let needed = self.inner.quorum.write_quorum;
        let mut round = QuorumRound::new(needed, owners.len());
        let timestamp_ms = self.inner.clock.now().timestamp_millis();
        let sibling =
            match first.coordinate(table, key.to_vec(), context, me, timestamp_ms, value).await {
                Ok(s) => s,
                Err(e) => {
                    round.fail(coordinator, e);
                    return Err(quorum_error(round));
                }
            };
        if round.ack(coordinator) == RoundState::Reached && owners.len() == 1 {
            return Ok(sibling);
        }
        let mut set = Siblings::new();
        set.apply(sibling.clone());
        let (tx, mut rx) = mpsc::channel(owners.len().max(1));
        for (node, replica) in owners.iter().filter(|(n, _)| *n != coordinator) {
            let (tx, node, replica, key, set) =
                (tx.clone(), *node, replica.clone(), key.to_vec(), set.clone());
            // Spawned, so that replicas beyond the quorum still receive the write after we
            // answer.
            tokio::spawn(async move {
                let _ = tx.send((node, replica.merge(table, key, set).await)).await;
            });
        }
        drop(tx);
        if round.state() == RoundState::Reached {
            return Ok(sibling);
        }
        while let Some((node, result)) = rx.recv().await {
            let state = match result {
                Ok(()) => round.ack(node),
                Err(e) => round.fail(node, e),
            };
            match state {
                RoundState::Pending => {}
                RoundState::Reached => return Ok(sibling),
                RoundState::Failed => break,
            }
        }
        Err(quorum_error(round))
    }

    /// Items of `table` in `range`, in key order, at most `limit`, each with the siblings merged
    /// from `read_quorum` replicas of its partition (a coverage query; on a ring of one, a scan of
    /// the local index).
    #[tracing::instrument(skip_all, fields(table = table.0, limit))]
    pub async fn scan(
        &self,
        table: TableId,
        range: ScanRange,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Siblings)>, CoordinatorError> {
        let me = self.inner.node_id;
        let replica = self.inner.replicas.get(&me).ok_or(CoordinatorError::NoOwner)?;
        let mut round = QuorumRound::new(1, 1);
        match replica.scan(table, range, limit).await {
            Ok(items) => Ok(items),
            Err(e) => {
                round.fail(me, e);
                Err(quorum_error(round))
            }
        }
    }

    fn block_owners(&self, id: BlockId) -> Vec<(NodeId, Replica)> {
        let mut key = [0u8; 20];
        key[..16].copy_from_slice(&id.data_id);
        key[16..].copy_from_slice(&id.index.to_be_bytes());
        self.owners(BLOCK_PLACEMENT_TABLE, &key)
    }

    /// Stores a block on its own preference list; returns after `write_quorum` durable copies.
    pub async fn put_block(&self, id: BlockId, data: Bytes) -> Result<(), CoordinatorError> {
        let owners = self.block_owners(id);
        let mut round = QuorumRound::new(self.inner.quorum.write_quorum, owners.len());
        for (node, replica) in owners {
            let state = match replica.put_block(id, data.clone()).await {
                Ok(()) => round.ack(node),
                Err(e) => round.fail(node, e),
            };
            match state {
                RoundState::Pending => {}
                RoundState::Reached => return Ok(()),
                RoundState::Failed => break,
            }
        }
        Err(quorum_error(round))
    }

    /// Reads a block from the first owner that has an intact copy.
    pub async fn get_block(&self, id: BlockId) -> Result<Bytes, CoordinatorError> {
        for (node, replica) in self.block_owners(id) {
            match replica.get_block(id).await {
                Ok(Some(data)) => return Ok(data),
                Ok(None) => {}
                Err(e) => tracing::warn!(node, error = %e, "block read failed, trying next owner"),
            }
        }
        Err(CoordinatorError::BlockMissing { id })
    }

    /// Deletes blocks from every owner that answers; failures are logged (a later sweep
    /// reclaims what is left).
    pub async fn delete_blocks(&self, ids: &[BlockId]) {
        let mut per_node: HashMap<NodeId, (Replica, Vec<BlockId>)> = HashMap::new();
        for id in ids {
            for (node, replica) in self.block_owners(*id) {
                per_node.entry(node).or_insert_with(|| (replica, Vec::new())).1.push(*id);
            }
        }
        for (node, (replica, ids)) in per_node {
            if let Err(e) = replica.delete_blocks(ids).await {
                tracing::warn!(node, error = %e, "block delete failed");
            }
        }
    }

    /// Deletes every block of a body from every replica that may hold some of it (a body's
    /// blocks are spread over many preference lists).
    pub async fn delete_body(&self, data_id: [u8; 16]) {
        for (node, replica) in &self.inner.replicas {
            if let Err(e) = replica.delete_body(data_id).await {
                tracing::warn!(node, error = %e, "body delete failed");
            }
        }
    }

    /// Records node-local work in progress, durably, before it starts.
    pub async fn journal_put(&self, key: Vec<u8>, value: Vec<u8>) -> Result<(), CoordinatorError> {
        self.inner.local.write(WriteOp::PutJournal { key, value }).await.map_err(local_error)?;
        Ok(())
    }

    /// Forgets a journal entry once its work is finished or undone.
    pub async fn journal_delete(&self, key: Vec<u8>) -> Result<(), CoordinatorError> {
        self.inner.local.write(WriteOp::DeleteJournal { key }).await.map_err(local_error)?;
        Ok(())
    }

    /// This node's journal entries (work that a crash may have interrupted).
    pub async fn journal_entries(&self) -> Result<Vec<JournalEntry>, CoordinatorError> {
        let store = self.inner.local.clone();
        tokio::task::spawn_blocking(move || store.journal())
            .await
            .map_err(|e| CoordinatorError::Local(ReplicaError::Task(e.to_string())))?
            .map_err(local_error)
    }
}

fn local_error(e: crate::store::StoreError) -> CoordinatorError {
    CoordinatorError::Local(ReplicaError::Store(e))
}

fn quorum_error(round: QuorumRound<ReplicaError>) -> CoordinatorError {
    let needed = round.needed();
    let acked = round.acked().len();
    CoordinatorError::QuorumNotReached { needed, acked, failures: round.into_failures() }
}
