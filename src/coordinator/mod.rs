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

mod cleanup;
mod handoff;
mod journal;
mod messages;
mod read;
mod read_repair;
mod rebalance;
mod replica;
mod round;
mod scan;
mod service;

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream::{FuturesUnordered, StreamExt};

use crate::causality::{Sibling, Siblings, VectorClock};
use crate::clock::SharedClock;
use crate::ring::{NodeId, Ring};
use crate::rpc::{Router, RpcClient};
use crate::store::{BlockId, HintOp, Store, TableId, WriteOp};

pub use cleanup::CleanupWorker;
pub use handoff::HandoffWorker;
pub use read_repair::{Repair, RepairQueue};
pub use rebalance::RebalanceWorker;
pub use replica::{Local, Replica, ReplicaError, ScanRange};
pub use round::{QuorumRound, RoundState};

/// Table id under which blocks are placed on the ring (never a stored item table).
const BLOCK_PLACEMENT_TABLE: u8 = 0xff;

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
    #[error("no replica holds block {id:?}")]
    BlockMissing { id: BlockId },
    #[error("no owner of this item is reachable")]
    NoOwner,
    #[error("local store: {0}")]
    Local(ReplicaError),
    #[error("the item changed since it was read")]
    Conflict,
    #[error("conditional writes need a single owner per item until consensus lands")]
    ConditionalUnsupported,
}

/// One copy of a write in flight: `(node, hint_for, result)`.
type CopyFuture =
    futures_util::future::BoxFuture<'static, (NodeId, Option<NodeId>, Result<(), ReplicaError>)>;

/// Where one write goes.
struct WritePlan {
    /// `(node, hint_for)`: live owners, and stand-ins for owners that are down.
    targets: Vec<(NodeId, Option<NodeId>)>,
    /// Live stand-ins not used yet; `pop` gives the most preferred.
    spare: Vec<NodeId>,
    /// Owners down with no stand-in left.
    unplaced: Vec<NodeId>,
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
}

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
        Self { inner: Arc::new(Inner { local, ring, rpc, clock, quorum, repairs }) }
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
        service::register(router, &self.inner.local);
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

    /// Where a write of `(table, key)` goes: `(node, hint_for)` for each owner, a live stand-in
    /// taking the place of each owner believed down. Also returns the unused stand-ins (`pop`
    /// gives the most preferred) and the owners that are down with no stand-in left: those get
    /// a hint kept by a replica that has the data, so they catch up when they return.
    fn write_targets(&self, table: u8, key: &[u8]) -> WritePlan {
        let n = self.quorum().replication_factor;
        let extended = self.inner.ring.extended_preference_list(table, key);
        let (owners, rest) = extended.split_at(n.min(extended.len()));
        let mut spare: Vec<NodeId> = rest.iter().copied().filter(|id| self.alive(*id)).collect();
        spare.reverse();
        let mut plan =
            WritePlan { targets: Vec::with_capacity(owners.len()), spare, unplaced: Vec::new() };
        for owner in owners {
            if self.alive(*owner) {
                plan.targets.push((*owner, None));
            } else if let Some(standin) = plan.spare.pop() {
                plan.targets.push((standin, Some(*owner)));
            } else {
                plan.unplaced.push(*owner);
            }
        }
        plan
    }

    /// Leaves hints for `owners` with `holder`, a replica that already has the item. If the
    /// holder is another node and does not confirm, this node keeps the copy and the hints
    /// itself (a local write, which no network fault can lose), as a stand-in would.
    fn hint_through(
        &self,
        holder: NodeId,
        owners: Vec<NodeId>,
        table: TableId,
        key: &[u8],
        set: &Siblings,
    ) {
        if owners.is_empty() {
            return;
        }
        let (this, key, set) = (self.clone(), key.to_vec(), set.clone());
        tokio::spawn(async move {
            for owner in owners {
                let (_, _, result) = this.send_merge(holder, Some(owner), table, &key, &set).await;
                if result.is_err() && holder != this.node_id() {
                    let kept = this.inner.local.merge(table, key.clone(), set.clone(), Some(owner));
                    if let Err(e) = kept.await {
                        tracing::warn!(owner = format_args!("{owner:x}"), error = %e, "cannot keep a hint for an owner that missed a write");
                    }
                }
            }
        });
    }

    /// Writes `value` (`None` deletes) as a successor of `context`; returns the new version once
    /// `write_quorum` replicas hold it durably.
    #[tracing::instrument(skip_all, fields(table = table.0))]
    pub async fn put(
        &self,
        table: TableId,
        key: &[u8],
        value: Option<Vec<u8>>,
        context: VectorClock,
    ) -> Result<Sibling, CoordinatorError> {
        let q = self.quorum();
        let WritePlan { mut targets, mut spare, mut unplaced } = self.write_targets(table.0, key);
        // Mint at an owner, this node first if it is one.
        let me = self.node_id();
        targets.sort_by_key(|(node, hint)| (hint.is_some(), *node != me));
        let mut round = QuorumRound::new(q.write_quorum, targets.len());
        let timestamp_ms = self.inner.clock.now().timestamp_millis();
        let mut minted = None;
        while let Some(pos) = targets.iter().position(|(_, hint)| hint.is_none()) {
            let (node, _) = targets.remove(pos);
            let Some(replica) = self.replica(node) else { continue };
            match replica
                .coordinate(
                    table,
                    key.to_vec(),
                    context.clone(),
                    timestamp_ms,
                    value.clone(),
                    false,
                )
                .await
            {
                Ok(None) => unreachable!("a plain write never conflicts"),
                Ok(Some(sibling)) => {
                    self.inner.ring.heard_from(node);
                    round.ack(node);
                    minted = Some((node, sibling));
                    break;
                }
                Err(e) => {
                    tracing::debug!(node = format_args!("{node:x}"), error = %e, "minting owner failed");
                    match spare.pop() {
                        Some(standin) => {
                            targets.push((standin, Some(node)));
                            round.contact();
                        }
                        None => unplaced.push(node),
                    }
                    round.fail(node, e);
                }
            }
        }
        let Some((minter, sibling)) = minted else {
            return Err(if round.acked().is_empty() && round.state() != RoundState::Failed {
                CoordinatorError::NoOwner
            } else {
                quorum_error(round)
            });
        };
        let mut set = Siblings::new();
        set.apply(sibling.clone());
        self.hint_through(minter, unplaced, table, key, &set);
        let mut pending: FuturesUnordered<CopyFuture> = FuturesUnordered::new();
        for (node, hint_for) in targets {
            pending.push(self.send_merge(node, hint_for, table, key, &set));
        }
        if round.state() == RoundState::Reached {
            self.finish_copies_in_background(pending, spare, minter, table, key, set);
            return Ok(sibling);
        }
        while let Some((node, hint_for, result)) = pending.next().await {
            let state = match result {
                Ok(()) => round.ack(node),
                Err(e) => {
                    if self.reroute(
                        &mut pending,
                        &mut spare,
                        minter,
                        (node, hint_for),
                        table,
                        key,
                        &set,
                    ) {
                        round.contact();
                    }
                    round.fail(node, e)
                }
            };
            match state {
                RoundState::Pending => {}
                RoundState::Reached => {
                    self.finish_copies_in_background(pending, spare, minter, table, key, set);
                    return Ok(sibling);
                }
                RoundState::Failed if pending.is_empty() => break,
                RoundState::Failed => {}
            }
        }
        Err(quorum_error(round))
    }

    /// Writes `value` only if the item is still exactly what was read (`context`): an atomic
    /// compare-and-set. Exact on a ring where each item has one owner; with more owners it would
    /// need consensus among them (design notes: single-decree Paxos), so it refuses there.
    pub async fn put_if_unchanged(
        &self,
        table: TableId,
        key: &[u8],
        value: Option<Vec<u8>>,
        context: VectorClock,
    ) -> Result<Sibling, CoordinatorError> {
        if self.quorum().replication_factor != 1 {
            return Err(CoordinatorError::ConditionalUnsupported);
        }
        let owner = *self
            .inner
            .ring
            .preference_list(table.0, key)
            .first()
            .ok_or(CoordinatorError::NoOwner)?;
        let replica = self.replica(owner).ok_or(CoordinatorError::NoOwner)?;
        let timestamp_ms = self.inner.clock.now().timestamp_millis();
        match replica.coordinate(table, key.to_vec(), context, timestamp_ms, value, true).await {
            Ok(Some(sibling)) => Ok(sibling),
            Ok(None) => Err(CoordinatorError::Conflict),
            Err(e) => Err(CoordinatorError::QuorumNotReached {
                needed: 1,
                acked: 0,
                failures: vec![(owner, e)],
            }),
        }
    }

    /// Sloppy quorum for a copy that failed on `node` (standing in for `hint_for`, if any):
    /// the next live stand-in takes it; with none left, the minter keeps a hint for the owner.
    /// Returns whether a stand-in was sent the copy.
    #[allow(clippy::too_many_arguments)]
    fn reroute(
        &self,
        pending: &mut FuturesUnordered<CopyFuture>,
        spare: &mut Vec<NodeId>,
        minter: NodeId,
        (node, hint_for): (NodeId, Option<NodeId>),
        table: TableId,
        key: &[u8],
        set: &Siblings,
    ) -> bool {
        let owner = hint_for.unwrap_or(node);
        match spare.pop() {
            Some(standin) => {
                pending.push(self.send_merge(standin, Some(owner), table, key, set));
                true
            }
            None => {
                self.hint_through(minter, vec![owner], table, key, set);
                false
            }
        }
    }

    /// Lets the copies beyond the write quorum complete after the caller got its answer. A
    /// copy that fails is rerouted as in the foreground (stand-in, else hint), so that every
    /// owner still gets an acknowledged write once it is back.
    fn finish_copies_in_background(
        &self,
        mut pending: FuturesUnordered<CopyFuture>,
        mut spare: Vec<NodeId>,
        minter: NodeId,
        table: TableId,
        key: &[u8],
        set: Siblings,
    ) {
        if pending.is_empty() {
            return;
        }
        let (this, key) = (self.clone(), key.to_vec());
        tokio::spawn(async move {
            while let Some((node, hint_for, result)) = pending.next().await {
                if result.is_err() {
                    this.reroute(
                        &mut pending,
                        &mut spare,
                        minter,
                        (node, hint_for),
                        table,
                        &key,
                        &set,
                    );
                }
            }
        });
    }

    fn send_merge(
        &self,
        node: NodeId,
        hint_for: Option<NodeId>,
        table: TableId,
        key: &[u8],
        set: &Siblings,
    ) -> CopyFuture {
        let replica = self.replica(node);
        let (key, set) = (key.to_vec(), set.clone());
        Box::pin(async move {
            let result = match replica {
                Some(r) => r.merge(table, key, set, hint_for).await,
                None => Err(ReplicaError::Task("no transport to peers".into())),
            };
            (node, hint_for, result)
        })
    }

    fn block_key(id: BlockId) -> [u8; 20] {
        replica::block_placement_key(id)
    }

    /// Stores a block on its own preference list; returns after `write_quorum` durable copies.
    pub async fn put_block(&self, id: BlockId, data: Bytes) -> Result<(), CoordinatorError> {
        let q = self.quorum();
        let WritePlan { targets, mut spare, mut unplaced } =
            self.write_targets(BLOCK_PLACEMENT_TABLE, &Self::block_key(id));
        let mut round = QuorumRound::new(q.write_quorum, targets.len());
        let mut pending: FuturesUnordered<CopyFuture> =
            targets.into_iter().map(|(n, h)| self.send_block(n, h, id, &data)).collect();
        let mut holder = None;
        while let Some((node, hint_for, result)) = pending.next().await {
            let state = match result {
                Ok(()) => {
                    holder.get_or_insert(node);
                    round.ack(node)
                }
                Err(e) => {
                    match spare.pop() {
                        Some(standin) => {
                            pending.push(self.send_block(
                                standin,
                                hint_for.or(Some(node)),
                                id,
                                &data,
                            ));
                            round.contact();
                        }
                        None => unplaced.push(hint_for.unwrap_or(node)),
                    }
                    round.fail(node, e)
                }
            };
            match state {
                RoundState::Pending => {}
                RoundState::Reached => {
                    // Owners with no stand-in get a hint kept by a replica that has the block.
                    if let Some(holder) = holder {
                        for owner in unplaced.drain(..) {
                            pending.push(self.send_block(holder, Some(owner), id, &data));
                        }
                    }
                    self.finish_block_copies_in_background(pending, spare, id, data);
                    return Ok(());
                }
                RoundState::Failed if pending.is_empty() => break,
                RoundState::Failed => {}
            }
        }
        Err(quorum_error(round))
    }

    fn send_block(
        &self,
        node: NodeId,
        hint_for: Option<NodeId>,
        id: BlockId,
        data: &Bytes,
    ) -> CopyFuture {
        let replica = self.replica(node);
        let data = data.clone();
        Box::pin(async move {
            let result = match replica {
                Some(r) => r.put_block(id, data, hint_for).await,
                None => Err(ReplicaError::Task("no transport to peers".into())),
            };
            (node, hint_for, result)
        })
    }

    /// Lets the block copies beyond the write quorum complete after the caller got its answer.
    /// A copy that fails goes to the next spare stand-in; with none left, this node keeps the
    /// block and a hint for the owner (a local write, which no network fault can lose).
    fn finish_block_copies_in_background(
        &self,
        mut pending: FuturesUnordered<CopyFuture>,
        mut spare: Vec<NodeId>,
        id: BlockId,
        data: Bytes,
    ) {
        if pending.is_empty() {
            return;
        }
        let this = self.clone();
        tokio::spawn(async move {
            let me = this.node_id();
            while let Some((node, hint_for, result)) = pending.next().await {
                if result.is_ok() {
                    continue;
                }
                let owner = hint_for.unwrap_or(node);
                match spare.pop() {
                    Some(standin) => {
                        pending.push(this.send_block(standin, Some(owner), id, &data));
                    }
                    None if node != me && owner != me => {
                        let kept = this.inner.local.put_block(id, data.clone(), Some(owner));
                        if let Err(e) = kept.await {
                            tracing::warn!(owner = format_args!("{owner:x}"), error = %e, "cannot keep a hint for an owner that missed a block");
                        }
                    }
                    None => {}
                }
            }
        });
    }

    /// Reads a block from the first replica that has an intact copy: live owners first, then
    /// stand-ins that may hold a hinted copy.
    pub async fn get_block(&self, id: BlockId) -> Result<Bytes, CoordinatorError> {
        let mut order =
            self.inner.ring.extended_preference_list(BLOCK_PLACEMENT_TABLE, &Self::block_key(id));
        order.sort_by_key(|node| !self.alive(*node));
        for node in order {
            let Some(replica) = self.replica(node) else { continue };
            match replica.get_block(id).await {
                Ok(Some(data)) => return Ok(data),
                Ok(None) => {}
                Err(e) => {
                    tracing::debug!(node = format_args!("{node:x}"), error = %e, "block read failed, trying the next replica")
                }
            }
        }
        Err(CoordinatorError::BlockMissing { id })
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

fn local_error(e: crate::store::StoreError) -> CoordinatorError {
    CoordinatorError::Local(ReplicaError::Store(e))
}

fn quorum_error(round: QuorumRound<ReplicaError>) -> CoordinatorError {
    let needed = round.needed();
    let acked = round.acked().len();
    CoordinatorError::QuorumNotReached { needed, acked, failures: round.into_failures() }
}
