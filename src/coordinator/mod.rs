//! The coordinator: replicated get, put, delete and scan of items, and put/get/delete of
//! blocks, with N/R/W quorums over preference lists and a sloppy quorum (Dynamo, section 4).
//!
//! It knows nothing of S3. Items are opaque bytes under a `(table, key)`; the caller passes the
//! causal context (the merged clock of what it read) with each write, and gets every concurrent
//! sibling back on reads. A ring of one is N=R=W=1 over the local store, through this same code.
//!
//! Invariants:
//! - `put` returns only after `write_quorum` nodes made the version durable; when an owner is
//!   down, the next live node of the extended preference list takes the write with a durable
//!   hint for that owner (sloppy quorum), handed off later by `handoff`.
//! - New versions are minted only by an owner (its clock entry, under its store's write lock),
//!   so one actor never issues one counter twice for a key.
//! - Reads merge `read_quorum` answers; replicas found stale are repaired in the background
//!   through a bounded queue (`read_repair`).

mod anti_entropy;
mod cleanup;
mod consensus;
mod handoff;
mod journal;
mod messages;
mod purge;
mod read;
mod read_repair;
mod rebalance;
mod replica;
mod report;
mod round;
mod scan;
mod scrub;
mod service;
mod write;
mod writer;

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;

use crate::causality::{Sibling, VectorClock};
use crate::clock::SharedClock;
use crate::ring::{NodeId, Ring};
use crate::rpc::{Router, RpcClient};
use crate::store::{BlockId, HintOp, Store, TableId, WriteOp};
use crate::tasks::TaskSet;
use tokio_util::sync::CancellationToken;
use write::WriteRound;
use writer::{Payload, WriteJob};

pub use crate::store::DiskUsage;
pub use anti_entropy::{
    AntiEntropyWorker, RebalanceProgress, RepairControl, RepairProgress, RepairTotals, Scope,
};
pub use cleanup::CleanupWorker;
pub use handoff::HandoffWorker;
/// The scan request, for tests that count a listing's rounds.
pub use messages::ReplicaScan;
pub use purge::{PurgePass, PurgeStats, PurgeWorker};
pub use read_repair::{Repair, RepairQueue};
pub use rebalance::{RebalanceState, RebalanceWorker};
pub use replica::{Local, Replica, ReplicaError, ScanRange};
pub use report::NodeReport;
pub use round::{QuorumRound, RoundState};
pub use scan::{GroupedScan, Grouping, prefix_successor};
pub use scrub::{ScrubControl, ScrubProgress, ScrubTotals, ScrubWorker};

// The table id under which blocks are placed on the ring (never a stored item table).
use crate::store::BLOCK_PLACEMENT_TABLE;

/// Read and write quorums; N comes from the layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QuorumConfig {
    /// R; `None` for a majority of N.
    pub read_quorum: Option<usize>,
    /// W; `None` for a majority of N.
    pub write_quorum: Option<usize>,
}

/// The quorum in force for one operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quorum {
    pub replication_factor: usize,
    pub read_quorum: usize,
    pub write_quorum: usize,
}

/// Why a replicated operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CoordinatorError {
    #[error("quorum not reached: {acked} of {needed} replicas answered ({failures:?})")]
    QuorumNotReached { needed: usize, acked: usize, failures: Vec<(NodeId, ReplicaError)> },
    /// Every replica answered, and none has an intact copy: the block is lost.
    #[error("no replica holds block {id:?}")]
    BlockMissing { id: BlockId },
    /// No replica that answered has the block, and some did not answer: it may come back.
    #[error("block {id:?} is out of reach: {failures:?}")]
    BlockUnavailable { id: BlockId, failures: Vec<(NodeId, ReplicaError)> },
    #[error("no owner of this item is reachable")]
    NoOwner,
    #[error("local store: {0}")]
    Local(ReplicaError),
    /// A layout change was applied on top of one still being synced: which owners hold the
    /// latest decisions is not known until it settles (conditional writes wait).
    #[error(
        "the ring is between layouts, one change on top of another; conditional writes wait until it settled"
    )]
    Settling,
    /// Other conditional writes on the key kept preempting this one, and it was written
    /// nowhere (or its proposal can no longer be applied).
    #[error("conditional write contended: other conditional writes on the key kept winning")]
    Contended,
    /// A conditional write proposed its version, and whether that version was applied (or
    /// still will be, by a later round that completes it) could not be learnt.
    #[error("the outcome of this conditional write is unknown: its version may yet be applied")]
    Undecided,
}

/// Replicated reads and writes through this node.
#[derive(Debug, Clone)]
pub struct Coordinator {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    local: Local,
    ring: Ring,
    rpc: Option<RpcClient>,
    clock: SharedClock,
    quorum: QuorumConfig,
    repairs: RepairQueue,
    /// Copies past the write quorum, bounded; joined on shutdown.
    copies: TaskSet,
    /// Fired on shutdown: background copies leave hints and stop.
    stop: CancellationToken,
    /// Anti-entropy's requests and progress.
    repair: Arc<RepairControl>,
    /// The scrubber's requests and progress.
    scrub: Arc<ScrubControl>,
    /// The tombstone purge's totals.
    purge: Arc<PurgeStats>,
    /// The round of the last ballot this node proposed with: every proposal of this node gets
    /// a ballot of its own, even two started in the same microsecond.
    ballot_round: std::sync::atomic::AtomicU64,
}

/// Write rounds finishing in the background at once, at most; beyond, the copies still in
/// flight become local hints at once (bounded memory under a slow replica).
pub const BACKGROUND_COPIES_MAX: usize = 256;

fn majority(n: usize) -> usize {
    n / 2 + 1
}

impl Coordinator {
    /// A coordinator over `ring`; `rpc` reaches the other nodes (`None` for a ring of one).
    pub fn new(
        local: Local,
        ring: Ring,
        rpc: Option<RpcClient>,
        clock: SharedClock,
        quorum: QuorumConfig,
        repairs: RepairQueue,
    ) -> Self {
        let copies = TaskSet::new("copies", BACKGROUND_COPIES_MAX);
        let stop = CancellationToken::new();
        let (repair, scrub) = (Arc::default(), Arc::default());
        Self {
            inner: Arc::new(Inner {
                local,
                ring,
                rpc,
                clock,
                quorum,
                repairs,
                copies,
                stop,
                repair,
                scrub,
                purge: Arc::default(),
                ballot_round: std::sync::atomic::AtomicU64::new(0),
            }),
        }
    }

    /// The coordinator of a ring of one: node `me` owns every partition, N=R=W=1, no transport.
    pub fn standalone(me: NodeId, store: Store, clock: SharedClock) -> Self {
        let ring = Ring::new(
            me,
            crate::ring::Layout::single(me, crate::ring::DEFAULT_PARTITION_BITS),
            clock.clone(),
            std::time::Duration::from_secs(1),
        );
        Self::new(
            Local { me, store },
            ring,
            None,
            clock,
            QuorumConfig::default(),
            RepairQueue::disabled(),
        )
    }

    /// Registers the handlers that let peers use this node as a replica.
    pub fn register(&self, router: &mut Router) {
        service::register(router, &self.inner.local, &self.inner.ring);
        self.register_report(router);
    }

    pub fn node_id(&self) -> NodeId {
        self.inner.local.me
    }

    pub fn ring(&self) -> &Ring {
        &self.inner.ring
    }

    pub fn store(&self) -> &Store {
        &self.inner.local.store
    }

    pub fn clock(&self) -> &SharedClock {
        &self.inner.clock
    }

    /// The transport to the other nodes (`None` for a ring of one).
    pub fn rpc(&self) -> Option<&RpcClient> {
        self.inner.rpc.as_ref()
    }

    /// Anti-entropy's requests (`ringvault repair`) and progress.
    pub fn repair_control(&self) -> &Arc<RepairControl> {
        &self.inner.repair
    }

    /// The scrubber's requests (`ringvault repair --scrub`) and progress.
    pub fn scrub_control(&self) -> &Arc<ScrubControl> {
        &self.inner.scrub
    }

    /// The tombstone purge's totals.
    pub fn purge_stats(&self) -> &Arc<PurgeStats> {
        &self.inner.purge
    }

    /// N, R and W for the current layout.
    pub fn quorum(&self) -> Quorum {
        let layout = self.inner.ring.layout();
        let n = layout.replication_factor.clamp(1, layout.members.len().max(1));
        let r = self.inner.quorum.read_quorum.unwrap_or_else(|| majority(n)).clamp(1, n);
        let w = self.inner.quorum.write_quorum.unwrap_or_else(|| majority(n)).clamp(1, n);
        Quorum { replication_factor: n, read_quorum: r, write_quorum: w }
    }

    fn replica(&self, node: NodeId) -> Option<Replica> {
        if node == self.inner.local.me {
            Some(Replica::Local(self.inner.local.clone()))
        } else {
            self.inner.rpc.clone().map(|rpc| Replica::Remote { node, rpc })
        }
    }

    fn alive(&self, node: NodeId) -> bool {
        self.inner.ring.is_alive(node)
    }

    /// A write round for `(table, key)` (see `write`): the first N of the extended preference
    /// list are the owners, the live nodes after them the stand-ins.
    fn write_round(&self, table: u8, key: &[u8], mint: bool) -> WriteRound<ReplicaError> {
        let q = self.quorum();
        let extended = self.inner.ring.extended_preference_list(table, key);
        let (owners, rest) = extended.split_at(q.replication_factor.min(extended.len()));
        let spares = rest.iter().copied().filter(|id| self.alive(*id)).collect();
        WriteRound::new(self.node_id(), owners, |id| self.alive(id), spares, q.write_quorum, mint)
    }

    /// Writes `value` (`None` deletes) as a successor of `context`; returns the new version once
    /// `write_quorum` replicas hold it durably.
    #[tracing::instrument(skip_all, fields(table = table.0))]
    pub async fn put(
        &self,
        table: TableId,
        key: &[u8],
        mut value: Option<Vec<u8>>,
        context: VectorClock,
    ) -> Result<Sibling, CoordinatorError> {
        let mut round = self.write_round(table.0, key, true);
        let timestamp_ms = self.inner.clock.now().timestamp_millis();
        // An owner mints in memory and writes its copy beside the others' (`store::mint`); the
        // mint call, a durable write before any copy could start, is for non-owners.
        let mut minted = None;
        if round.first_minter() == Some(self.node_id()) {
            let local = &self.inner.local;
            match local.store.mint_clock((table, key), context.clone(), local.me).await {
                Ok(clock) => {
                    // The value goes with the minted version; no mint call needs it any more.
                    let value = value.take();
                    minted = Some(Sibling { clock, timestamp_ms, writer: local.me, value });
                    round = round.with_version();
                }
                Err(e) => tracing::debug!(error = %e, "cannot mint here; an owner mints instead"),
            }
        }
        let payload =
            Payload::Item { table, key: key.to_vec(), context, timestamp_ms, value, minted };
        WriteJob::new(self, round, payload).run().await?.ok_or(CoordinatorError::NoOwner)
    }

    pub(crate) fn block_key(id: BlockId) -> [u8; 20] {
        id.to_key()
    }

    /// Stores a block on its own preference list; returns after `write_quorum` durable copies.
    pub async fn put_block(&self, id: BlockId, data: Bytes) -> Result<(), CoordinatorError> {
        let round = self.write_round(BLOCK_PLACEMENT_TABLE, &Self::block_key(id), false);
        WriteJob::new(self, round, Payload::Block { id, data }).run().await.map(drop)
    }

    /// Stops the copies still running past their write quorum: each leaves hints for the owners
    /// it had not reached, then ends. Waits for them at most `grace`.
    pub async fn shutdown(&self, grace: std::time::Duration) {
        self.inner.stop.cancel();
        self.inner.copies.close(grace).await;
    }

    /// Copies running past their write quorum now.
    pub fn copies_in_background(&self) -> usize {
        self.inner.copies.len()
    }

    /// Deletes blocks from every owner; owners that are down get a hint kept on this node.
    pub async fn delete_blocks(&self, ids: &[BlockId]) {
        let mut per_node: BTreeMap<NodeId, Vec<BlockId>> = BTreeMap::new();
        let n = self.quorum().replication_factor;
        for id in ids {
            let owners = self
                .inner
                .ring
                .extended_preference_list(BLOCK_PLACEMENT_TABLE, &Self::block_key(*id));
            for node in owners.into_iter().take(n) {
                per_node.entry(node).or_default().push(*id);
            }
        }
        for (node, ids) in per_node {
            let delivered = match self.replica(node) {
                Some(r) if self.alive(node) => r.delete_blocks(ids.clone()).await.is_ok(),
                _ => false,
            };
            if !delivered {
                self.leave_hint(node, HintOp::DeleteBlocks { ids }).await;
            }
        }
    }

    /// Deletes every block of a body from every member (its blocks spread over many lists).
    pub async fn delete_body(&self, data_id: [u8; 16]) {
        let members: Vec<NodeId> = self.inner.ring.layout().members.iter().map(|m| m.id).collect();
        for node in members {
            let delivered = match self.replica(node) {
                Some(r) if self.alive(node) => r.delete_body(data_id).await.is_ok(),
                _ => false,
            };
            if !delivered {
                self.leave_hint(node, HintOp::DeleteBody { data_id }).await;
            }
        }
    }

    async fn leave_hint(&self, owner: NodeId, op: HintOp) {
        if owner == self.node_id() {
            return;
        }
        if let Err(e) = self.inner.local.store.write(WriteOp::AddHint { owner, op }).await {
            tracing::warn!(error = %e, "cannot record a delete for a node that is down");
        }
    }

    /// Sends queued read repairs until the queue closes.
    pub async fn serve_repairs(&self, rx: tokio::sync::mpsc::Receiver<Repair>) {
        let this = self.clone();
        read_repair::run(rx, move |node| this.replica(node)).await;
    }

    /// Read repairs `(queued, dropped because the queue was full)` since start.
    pub fn repair_counters(&self) -> (u64, u64) {
        self.inner.repairs.counters()
    }

    /// Hints this node holds, per owner.
    pub fn pending_hints(&self) -> Vec<(NodeId, u64)> {
        self.inner.local.store.hint_counts().unwrap_or_default()
    }
}

impl CoordinatorError {
    /// Whether this says data is lost or corrupt (as opposed to out of reach for now).
    pub fn is_data_loss(&self) -> bool {
        match self {
            CoordinatorError::BlockMissing { .. } => true,
            CoordinatorError::QuorumNotReached { failures, .. } => {
                !failures.is_empty() && failures.iter().all(|(_, e)| e.is_corruption())
            }
            _ => false,
        }
    }
}

fn local_error(e: crate::store::StoreError) -> CoordinatorError {
    CoordinatorError::Local(ReplicaError::from(e))
}

fn quorum_error(round: QuorumRound<ReplicaError>) -> CoordinatorError {
    let needed = round.needed();
    let acked = round.acked().len();
    CoordinatorError::QuorumNotReached { needed, acked, failures: round.into_failures() }
}
