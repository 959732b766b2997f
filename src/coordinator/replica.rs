//! One replica as the coordinator sees it: this node's own store, or a peer over RPC. Both
//! offer the same operations, so the quorum logic above does not care where a replica lives.
//!
//! `Local` is also what serves peers' requests (see `service`), and it is the one place where
//! the synchronous store meets async code: reads run on tokio's blocking pool, writes await the
//! store's group-commit writer.

use std::ops::Bound;

use bytes::Bytes;

use super::messages::{
    BlockGet, BlockPut, BlocksDelete, BodyDelete, ItemsGet, ItemsMerge, PartitionBlocks,
    PartitionFilter, PartitionItems, PartitionItemsPage, PartitionPaxos, PaxosPending, PaxosStep,
    PurgeCheck, PurgeItems, ReplicaCoordinate, ReplicaGet, ReplicaMerge, ReplicaScan, TreeChildren,
    TreeEntries, TreeNodes,
};
use super::scan::{Grouping, ScanAnswer, prefix_successor};
use crate::causality::{Sibling, Siblings, VectorClock};
use crate::consensus::Request;
use crate::ring::{NodeId, PartitionId, item_hash};
use crate::rpc::{RpcClient, RpcError};
use crate::store::merkle::Children;
use crate::store::{
    BlockId, Entry, NodeDigest, PaxosAnswer, PaxosRowsPage, PaxosValue, Store, StoreError, TableId,
    TreeKind, Visit, WriteOp, WriteOutcome,
};

/// Why a replica did not do what was asked. Typed on both sides of the wire (a remote replica
/// sends it back as part of its answer), so a caller can tell a replica it could not reach, or
/// whose store cannot write, from one whose data is corrupt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum ReplicaError {
    /// The call did not get through, or no answer came back in time.
    #[error(transparent)]
    Rpc(#[from] RpcError),
    /// The replica's store cannot serve now (its writer stopped, its disk is full, an I/O error).
    #[error("replica store unavailable: {reason}")]
    Unavailable { reason: String },
    /// The replica's copy failed its checksum or does not decode.
    #[error("corrupt data on the replica: {what}")]
    Corrupt { what: String },
    /// The replica's task died (a bug; it was logged there).
    #[error("replica task failed: {0}")]
    Task(String),
}

impl From<StoreError> for ReplicaError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Corrupt { what } => ReplicaError::Corrupt { what },
            other => ReplicaError::Unavailable { reason: other.to_string() },
        }
    }
}

impl ReplicaError {
    /// Whether the replica answered that its data is corrupt (as opposed to not answering).
    pub fn is_corruption(&self) -> bool {
        matches!(self, ReplicaError::Corrupt { .. })
    }
}

/// What a remote replica answers: the result, or its typed failure.
pub type Answer<T> = Result<T, ReplicaError>;

/// Owned bounds of a scan.
#[derive(Debug, Clone)]
pub struct ScanRange {
    pub start: Bound<Vec<u8>>,
    pub end: Bound<Vec<u8>>,
}

/// This node's store, as a replica.
#[derive(Debug, Clone)]
pub struct Local {
    pub me: NodeId,
    pub store: Store,
}

impl Local {
    /// Runs a synchronous store read off the async threads (or on this one, for a store that
    /// runs inline: the deterministic simulation).
    pub(super) async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, ReplicaError> {
        if self.store.runs_inline() {
            return f().map_err(ReplicaError::from);
        }
        tokio::task::spawn_blocking(f)
            .await
            .map_err(|e| ReplicaError::Task(e.to_string()))?
            .map_err(ReplicaError::from)
    }

    /// One item, read on the calling task: a point read of a small record whose B-tree pages
    /// are hot in redb's cache or the OS's, so a hop to the blocking pool (a thread woken and
    /// switched to, twice) cost more than the read: on two cores it held a 3-node ring's GETs
    /// to 0.64 of the inline rate and one node's to 0.80 (ARCHITECTURE, "Point reads run
    /// inline"). Scans and block reads, which can take long, stay on the blocking pool.
    pub async fn get(&self, table: TableId, key: Vec<u8>) -> Result<Siblings, ReplicaError> {
        self.store.get(table, &key).map(Option::unwrap_or_default).map_err(ReplicaError::from)
    }

    pub async fn coordinate(
        &self,
        table: TableId,
        key: Vec<u8>,
        context: VectorClock,
        timestamp_ms: i64,
        value: Option<Vec<u8>>,
    ) -> Result<Sibling, ReplicaError> {
        Ok(self.store.coordinate((table, key), context, self.me, timestamp_ms, value).await?)
    }

    /// One consensus step on this node's acceptor for the item, of a round run under layout
    /// `layout`, durable before it returns.
    pub async fn paxos(
        &self,
        table: TableId,
        key: Vec<u8>,
        request: Request<PaxosValue>,
        layout: u64,
    ) -> Result<PaxosAnswer, ReplicaError> {
        match self.store.write(WriteOp::Paxos { table, key, request, layout }).await? {
            WriteOutcome::Paxos(answer) => Ok(answer),
            other => Err(ReplicaError::Task(format!("unexpected outcome {other:?}"))),
        }
    }

    pub async fn paxos_pending(
        &self,
        table: TableId,
        key: Vec<u8>,
    ) -> Result<Option<Sibling>, ReplicaError> {
        let store = self.store.clone();
        self.blocking(move || store.paxos_pending(table, &key)).await
    }

    pub async fn merge(
        &self,
        table: TableId,
        key: Vec<u8>,
        siblings: Siblings,
        hint_for: Option<u64>,
    ) -> Result<(), ReplicaError> {
        self.store.write(WriteOp::Merge { table, key, siblings, hint_for }).await?;
        Ok(())
    }

    /// Items in `range` of the given partitions, at most `limit`; with a `grouping`, each group
    /// is left at its first item whose winner is not a tombstone (see `Grouping`).
    pub async fn scan(
        &self,
        table: TableId,
        range: ScanRange,
        limit: usize,
        partitions: PartitionFilter,
        grouping: Option<Grouping>,
    ) -> Result<ScanAnswer, ReplicaError> {
        let store = self.store.clone();
        self.blocking(move || {
            let start = range.start.as_ref().map(Vec::as_slice);
            let end = range.end.as_ref().map(Vec::as_slice);
            let wanted = partitions.as_ref().map(|(bits, set)| (*bits, partition_set(*bits, set)));
            let in_partitions = |key: &[u8]| match &wanted {
                None => true,
                Some((bits, wanted)) => {
                    let p = partition_of(item_hash(table.0, key), *bits);
                    wanted.get(p.0 as usize).copied().unwrap_or(false)
                }
            };
            let mut answer = ScanAnswer::default();
            store.visit(table, start, end, &mut |key, item| {
                if answer.items.len() >= limit {
                    return Ok(Visit::Stop);
                }
                if !in_partitions(key) {
                    return Ok(Visit::Next);
                }
                let siblings = item.decode()?;
                // The group this item settles: it is in one and its winner is not a tombstone.
                let settled = grouping
                    .as_ref()
                    .and_then(|g| g.group_of(key))
                    .filter(|_| siblings.winner().is_some_and(|w| !w.is_tombstone()));
                answer.items.push((key.to_vec(), siblings));
                match settled {
                    None => Ok(Visit::Next),
                    Some(group) => {
                        answer.cuts.push((group.to_vec(), key.to_vec()));
                        Ok(prefix_successor(group).map_or(Visit::Stop, Visit::SeekTo))
                    }
                }
            })?;
            Ok(answer)
        })
        .await
    }

    pub async fn put_block(
        &self,
        id: BlockId,
        data: Bytes,
        hint_for: Option<u64>,
    ) -> Result<(), ReplicaError> {
        self.store.write(WriteOp::PutBlock { id, data, hint_for }).await?;
        Ok(())
    }

    pub async fn get_block(&self, id: BlockId) -> Result<Option<Bytes>, ReplicaError> {
        let store = self.store.clone();
        self.blocking(move || store.get_block(id)).await
    }

    pub async fn delete_blocks(&self, ids: Vec<BlockId>) -> Result<(), ReplicaError> {
        self.store.write(WriteOp::DeleteBlocks { ids }).await?;
        Ok(())
    }

    pub async fn delete_body(&self, data_id: [u8; 16]) -> Result<(), ReplicaError> {
        self.store.write(WriteOp::DeleteBody { data_id }).await?;
        Ok(())
    }

    /// Keeps a hint for `owner` about data this node already holds.
    pub async fn add_hint(&self, owner: u64, op: crate::store::HintOp) -> Result<(), ReplicaError> {
        self.store.write(WriteOp::AddHint { owner, op }).await?;
        Ok(())
    }
}

/// What anti-entropy asks of a replica.
impl Local {
    pub async fn tree_nodes(
        &self,
        kind: TreeKind,
        nodes: Vec<(u8, u32)>,
    ) -> Result<Vec<NodeDigest>, ReplicaError> {
        let store = self.store.clone();
        self.blocking(move || store.tree_nodes(kind, &nodes)).await
    }

    pub async fn tree_children(
        &self,
        kind: TreeKind,
        bits: u8,
        prefix: u32,
    ) -> Result<Option<Children>, ReplicaError> {
        let store = self.store.clone();
        self.blocking(move || store.tree_children(kind, bits, prefix)).await
    }

    pub async fn tree_entries(
        &self,
        request: TreeEntries,
    ) -> Result<(Vec<Entry>, bool), ReplicaError> {
        let store = self.store.clone();
        let TreeEntries { kind, bits, prefix, after, limit } = request;
        self.blocking(move || store.tree_entries(kind, bits, prefix, after, limit)).await
    }

    pub async fn items_get(
        &self,
        items: Vec<(TableId, Vec<u8>)>,
    ) -> Result<Vec<Siblings>, ReplicaError> {
        let store = self.store.clone();
        self.blocking(move || {
            items
                .iter()
                .map(|(table, key)| store.get(*table, key).map(Option::unwrap_or_default))
                .collect()
        })
        .await
    }

    /// Merges every item, all queued at once so that they share the store's commits.
    pub async fn items_merge(
        &self,
        items: Vec<(TableId, Vec<u8>, Siblings)>,
    ) -> Result<(), ReplicaError> {
        let writes = items.into_iter().map(|(table, key, siblings)| {
            self.store.write(WriteOp::Merge { table, key, siblings, hint_for: None })
        });
        for outcome in futures_util::future::join_all(writes).await {
            outcome?;
        }
        Ok(())
    }

    pub async fn purgeable(
        &self,
        items: Vec<(TableId, Vec<u8>, Siblings)>,
    ) -> Result<Vec<bool>, ReplicaError> {
        let store = self.store.clone();
        self.blocking(move || store.purgeable(&items)).await
    }

    pub async fn purge(
        &self,
        items: Vec<(TableId, Vec<u8>, Siblings)>,
    ) -> Result<(), ReplicaError> {
        self.store.write(WriteOp::Purge { items }).await?;
        Ok(())
    }
}

/// A membership test for a set of partitions.
fn partition_set(bits: u8, partitions: &[u32]) -> Vec<bool> {
    let mut wanted = vec![false; 1usize << bits];
    for p in partitions {
        if let Some(slot) = wanted.get_mut(*p as usize) {
            *slot = true;
        }
    }
    wanted
}

/// A membership test of an item for a set of partitions.
fn in_partitions(bits: u8, partitions: &[u32]) -> impl Fn(TableId, &[u8]) -> bool + use<> {
    let wanted = partition_set(bits, partitions);
    move |table, key| {
        wanted.get(partition_of(item_hash(table.0, key), bits).0 as usize).copied().unwrap_or(false)
    }
}

impl Local {
    pub async fn partition_items(
        &self,
        partitions: (u8, Vec<u32>),
        after: Option<Vec<u8>>,
        limit: usize,
    ) -> Result<PartitionItemsPage, ReplicaError> {
        let store = self.store.clone();
        self.blocking(move || {
            let filter = in_partitions(partitions.0, &partitions.1);
            store.scan_all(after.as_deref(), limit, &filter)
        })
        .await
    }

    /// A page of the consensus rows of `partitions`, once this node's acceptors refuse rounds
    /// run under a layout below `layout` (durably: the fence is committed first).
    pub async fn partition_paxos(
        &self,
        partitions: (u8, Vec<u32>),
        layout: u64,
        after: Option<Vec<u8>>,
        limit: usize,
    ) -> Result<PaxosRowsPage, ReplicaError> {
        let store = self.store.clone();
        if self.blocking(move || store.paxos_fence()).await? < layout {
            self.store.write(WriteOp::PaxosFence { layout }).await?;
        }
        let store = self.store.clone();
        self.blocking(move || {
            let filter = in_partitions(partitions.0, &partitions.1);
            store.paxos_rows(after.as_deref(), limit, &filter)
        })
        .await
    }

    pub async fn partition_blocks(
        &self,
        partitions: (u8, Vec<u32>),
        after: Option<BlockId>,
        limit: usize,
    ) -> Result<(Vec<BlockId>, Option<BlockId>), ReplicaError> {
        let store = self.store.clone();
        self.blocking(move || {
            let (bits, set) = partitions;
            let wanted = partition_set(bits, &set);
            let filter = |id: BlockId| {
                let p = partition_of(crate::store::block_hash(id), bits);
                wanted.get(p.0 as usize).copied().unwrap_or(false)
            };
            store.block_ids_after(after, limit, &filter)
        })
        .await
    }
}

/// The partition of a hash for a layout with `bits` partition bits.
pub fn partition_of(hash: u64, bits: u8) -> PartitionId {
    if bits == 0 {
        return PartitionId(0);
    }
    PartitionId(u32::try_from(hash >> (64 - u32::from(bits))).unwrap_or(u32::MAX))
}

/// A replica that the coordinator can read from and write to.
#[derive(Debug, Clone)]
pub enum Replica {
    Local(Local),
    Remote { node: NodeId, rpc: RpcClient },
}

impl Replica {
    pub async fn get(&self, table: TableId, key: Vec<u8>) -> Result<Siblings, ReplicaError> {
        match self {
            Replica::Local(l) => l.get(table, key).await,
            Replica::Remote { node, rpc } => rpc.call(*node, &ReplicaGet { table, key }).await?,
        }
    }

    /// Mints a version on this owner.
    pub async fn coordinate(
        &self,
        table: TableId,
        key: Vec<u8>,
        context: VectorClock,
        timestamp_ms: i64,
        value: Option<Vec<u8>>,
    ) -> Result<Sibling, ReplicaError> {
        match self {
            Replica::Local(l) => l.coordinate(table, key, context, timestamp_ms, value).await,
            Replica::Remote { node, rpc } => {
                let request = ReplicaCoordinate { table, key, context, timestamp_ms, value };
                rpc.call(*node, &request).await?
            }
        }
    }

    pub async fn paxos(
        &self,
        table: TableId,
        key: Vec<u8>,
        request: Request<PaxosValue>,
        layout: u64,
    ) -> Result<PaxosAnswer, ReplicaError> {
        match self {
            Replica::Local(l) => l.paxos(table, key, request, layout).await,
            Replica::Remote { node, rpc } => {
                rpc.call(*node, &PaxosStep { table, key, request, layout }).await?
            }
        }
    }

    pub async fn paxos_pending(
        &self,
        table: TableId,
        key: Vec<u8>,
    ) -> Result<Option<Sibling>, ReplicaError> {
        match self {
            Replica::Local(l) => l.paxos_pending(table, key).await,
            Replica::Remote { node, rpc } => rpc.call(*node, &PaxosPending { table, key }).await?,
        }
    }

    pub async fn merge(
        &self,
        table: TableId,
        key: Vec<u8>,
        siblings: Siblings,
        hint_for: Option<u64>,
    ) -> Result<(), ReplicaError> {
        match self {
            Replica::Local(l) => l.merge(table, key, siblings, hint_for).await,
            Replica::Remote { node, rpc } => {
                rpc.call(*node, &ReplicaMerge { table, key, siblings, hint_for }).await?
            }
        }
    }

    pub async fn scan(
        &self,
        table: TableId,
        range: ScanRange,
        limit: usize,
        partitions: PartitionFilter,
        grouping: Option<Grouping>,
    ) -> Result<ScanAnswer, ReplicaError> {
        match self {
            Replica::Local(l) => l.scan(table, range, limit, partitions, grouping).await,
            Replica::Remote { node, rpc } => {
                let (start, end) = (range.start, range.end);
                let request = ReplicaScan { table, start, end, limit, partitions, grouping };
                rpc.call(*node, &request).await?
            }
        }
    }

    pub async fn put_block(
        &self,
        id: BlockId,
        data: Bytes,
        hint_for: Option<u64>,
    ) -> Result<(), ReplicaError> {
        match self {
            Replica::Local(l) => l.put_block(id, data, hint_for).await,
            Replica::Remote { node, rpc } => {
                rpc.call(*node, &BlockPut { id, data, hint_for }).await?
            }
        }
    }

    pub async fn get_block(&self, id: BlockId) -> Result<Option<Bytes>, ReplicaError> {
        match self {
            Replica::Local(l) => l.get_block(id).await,
            Replica::Remote { node, rpc } => rpc.call(*node, &BlockGet { id }).await?,
        }
    }

    pub async fn delete_blocks(&self, ids: Vec<BlockId>) -> Result<(), ReplicaError> {
        match self {
            Replica::Local(l) => l.delete_blocks(ids).await,
            Replica::Remote { node, rpc } => rpc.call(*node, &BlocksDelete { ids }).await?,
        }
    }

    pub async fn delete_body(&self, data_id: [u8; 16]) -> Result<(), ReplicaError> {
        match self {
            Replica::Local(l) => l.delete_body(data_id).await,
            Replica::Remote { node, rpc } => rpc.call(*node, &BodyDelete { data_id }).await?,
        }
    }

    pub async fn partition_items(
        &self,
        partitions: (u8, Vec<u32>),
        after: Option<Vec<u8>>,
        limit: usize,
    ) -> Result<PartitionItemsPage, ReplicaError> {
        match self {
            Replica::Local(l) => l.partition_items(partitions, after, limit).await,
            Replica::Remote { node, rpc } => {
                rpc.call(*node, &PartitionItems { partitions, after, limit }).await?
            }
        }
    }

    pub async fn partition_paxos(
        &self,
        partitions: (u8, Vec<u32>),
        layout: u64,
        after: Option<Vec<u8>>,
        limit: usize,
    ) -> Result<PaxosRowsPage, ReplicaError> {
        match self {
            Replica::Local(l) => l.partition_paxos(partitions, layout, after, limit).await,
            Replica::Remote { node, rpc } => {
                rpc.call(*node, &PartitionPaxos { partitions, layout, after, limit }).await?
            }
        }
    }

    pub async fn partition_blocks(
        &self,
        partitions: (u8, Vec<u32>),
        after: Option<BlockId>,
        limit: usize,
    ) -> Result<(Vec<BlockId>, Option<BlockId>), ReplicaError> {
        match self {
            Replica::Local(l) => l.partition_blocks(partitions, after, limit).await,
            Replica::Remote { node, rpc } => {
                rpc.call(*node, &PartitionBlocks { partitions, after, limit }).await?
            }
        }
    }
}

/// Anti-entropy's calls, on either kind of replica.
impl Replica {
    pub async fn tree_nodes(
        &self,
        kind: TreeKind,
        nodes: Vec<(u8, u32)>,
    ) -> Result<Vec<NodeDigest>, ReplicaError> {
        match self {
            Replica::Local(l) => l.tree_nodes(kind, nodes).await,
            Replica::Remote { node, rpc } => rpc.call(*node, &TreeNodes { kind, nodes }).await?,
        }
    }

    pub async fn tree_children(
        &self,
        kind: TreeKind,
        bits: u8,
        prefix: u32,
    ) -> Result<Option<Children>, ReplicaError> {
        match self {
            Replica::Local(l) => l.tree_children(kind, bits, prefix).await,
            Replica::Remote { node, rpc } => {
                rpc.call(*node, &TreeChildren { kind, bits, prefix }).await?
            }
        }
    }

    pub async fn tree_entries(
        &self,
        request: TreeEntries,
    ) -> Result<(Vec<Entry>, bool), ReplicaError> {
        match self {
            Replica::Local(l) => l.tree_entries(request).await,
            Replica::Remote { node, rpc } => rpc.call(*node, &request).await?,
        }
    }

    pub async fn items_get(
        &self,
        items: Vec<(TableId, Vec<u8>)>,
    ) -> Result<Vec<Siblings>, ReplicaError> {
        match self {
            Replica::Local(l) => l.items_get(items).await,
            Replica::Remote { node, rpc } => rpc.call(*node, &ItemsGet { items }).await?,
        }
    }

    pub async fn items_merge(
        &self,
        items: Vec<(TableId, Vec<u8>, Siblings)>,
    ) -> Result<(), ReplicaError> {
        match self {
            Replica::Local(l) => l.items_merge(items).await,
            Replica::Remote { node, rpc } => rpc.call(*node, &ItemsMerge { items }).await?,
        }
    }

    pub async fn purgeable(
        &self,
        items: Vec<(TableId, Vec<u8>, Siblings)>,
    ) -> Result<Vec<bool>, ReplicaError> {
        match self {
            Replica::Local(l) => l.purgeable(items).await,
            Replica::Remote { node, rpc } => rpc.call(*node, &PurgeCheck { items }).await?,
        }
    }

    pub async fn purge(
        &self,
        items: Vec<(TableId, Vec<u8>, Siblings)>,
    ) -> Result<(), ReplicaError> {
        match self {
            Replica::Local(l) => l.purge(items).await,
            Replica::Remote { node, rpc } => rpc.call(*node, &PurgeItems { items }).await?,
        }
    }
}
