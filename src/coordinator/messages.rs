//! The replica protocol: one request type per operation a coordinator asks of a replica. Every
//! answer is an `Answer<T>`: the result, or the replica's typed failure, so that what went
//! wrong crosses the wire with its meaning (not as a string).

use std::ops::Bound;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::replica::Answer;
use super::scan::{Grouping, ScanAnswer};
use crate::causality::{Sibling, Siblings, VectorClock};
use crate::consensus::Request;
use crate::rpc::RpcRequest;
use crate::store::merkle::Children;
use crate::store::{
    BlockId, Entry, NodeDigest, PaxosAnswer, PaxosRowsPage, PaxosValue, TableId, TreeKind,
};

/// Read an item's siblings.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReplicaGet {
    pub table: TableId,
    pub key: Vec<u8>,
}
impl RpcRequest for ReplicaGet {
    const TAG: u16 = 10;
    type Response = Answer<Siblings>;
}

/// Mint a new version on the receiving owner (its clock entry) and store it durably.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReplicaCoordinate {
    pub table: TableId,
    pub key: Vec<u8>,
    pub context: VectorClock,
    pub timestamp_ms: i64,
    #[serde(with = "serde_bytes")]
    pub value: Option<Vec<u8>>,
}
impl RpcRequest for ReplicaCoordinate {
    const TAG: u16 = 11;
    type Response = Answer<Sibling>;
}

/// Merge siblings durably; with `hint_for`, as a stand-in for that owner.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReplicaMerge {
    pub table: TableId,
    pub key: Vec<u8>,
    pub siblings: Siblings,
    pub hint_for: Option<u64>,
}
impl RpcRequest for ReplicaMerge {
    const TAG: u16 = 12;
    type Response = Answer<()>;
}

/// Which partitions a scan answers for: `(partition bits, partitions)`.
pub type PartitionFilter = Option<(u8, Vec<u32>)>;

/// Items of a table in key order, restricted to some partitions, optionally folded into groups
/// (a listing by delimiter).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReplicaScan {
    pub table: TableId,
    pub start: Bound<Vec<u8>>,
    pub end: Bound<Vec<u8>>,
    pub limit: usize,
    pub partitions: PartitionFilter,
    pub grouping: Option<Grouping>,
}
impl RpcRequest for ReplicaScan {
    /// 13 before scans could be grouped, 29 before a grouping named its keys' tail: a request
    /// whose layout changed takes a new tag, so an older node refuses it instead of misreading
    /// it.
    const TAG: u16 = 32;
    type Response = Answer<ScanAnswer>;
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BlockPut {
    pub id: BlockId,
    pub data: Bytes,
    pub hint_for: Option<u64>,
}
impl RpcRequest for BlockPut {
    const TAG: u16 = 14;
    type Response = Answer<()>;
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BlockGet {
    pub id: BlockId,
}
impl RpcRequest for BlockGet {
    const TAG: u16 = 15;
    type Response = Answer<Option<Bytes>>;
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BlocksDelete {
    pub ids: Vec<BlockId>,
}
impl RpcRequest for BlocksDelete {
    const TAG: u16 = 16;
    type Response = Answer<()>;
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BodyDelete {
    pub data_id: [u8; 16],
}
impl RpcRequest for BodyDelete {
    const TAG: u16 = 17;
    type Response = Answer<()>;
}

/// Items of any table in some partitions, for a new owner pulling them after a layout change.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PartitionItems {
    pub partitions: (u8, Vec<u32>),
    /// Resume after this full key (`[table][key]`).
    pub after: Option<Vec<u8>>,
    pub limit: usize,
}
/// The items found, and the last full key looked at (`None`: the scan is complete).
pub type PartitionItemsPage = (Vec<(TableId, Vec<u8>, Siblings)>, Option<Vec<u8>>);
impl RpcRequest for PartitionItems {
    const TAG: u16 = 18;
    type Response = Answer<PartitionItemsPage>;
}

/// Consensus rows of some partitions, for a new owner of them under layout `layout`: the
/// replica first refuses every later prepare and accept of a round run under an older layout
/// (`WriteOp::PaxosFence`), then answers a page of rows.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PartitionPaxos {
    pub partitions: (u8, Vec<u32>),
    pub layout: u64,
    /// Resume after this full key (`[table][key]`).
    pub after: Option<Vec<u8>>,
    pub limit: usize,
}
impl RpcRequest for PartitionPaxos {
    const TAG: u16 = 31;
    type Response = Answer<PaxosRowsPage>;
}

/// Block ids in some partitions, likewise.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PartitionBlocks {
    pub partitions: (u8, Vec<u32>),
    pub after: Option<BlockId>,
    pub limit: usize,
}
impl RpcRequest for PartitionBlocks {
    const TAG: u16 = 19;
    type Response = Answer<(Vec<BlockId>, Option<BlockId>)>;
}

/// A replica's Merkle tree nodes for some `(prefix bits, prefix)` of the placement hash.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TreeNodes {
    pub kind: TreeKind,
    pub nodes: Vec<(u8, u32)>,
}
impl RpcRequest for TreeNodes {
    const TAG: u16 = 20;
    type Response = Answer<Vec<NodeDigest>>;
}

/// The non-empty children of one tree node (`None`: it is a leaf).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TreeChildren {
    pub kind: TreeKind,
    pub bits: u8,
    pub prefix: u32,
}
impl RpcRequest for TreeChildren {
    const TAG: u16 = 21;
    type Response = Answer<Option<Children>>;
}

/// The Merkle entries under a tree node, a page at a time.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TreeEntries {
    pub kind: TreeKind,
    pub bits: u8,
    pub prefix: u32,
    /// Resume after this entry's `(hash, name)`.
    pub after: Option<(u64, Vec<u8>)>,
    pub limit: usize,
}
impl RpcRequest for TreeEntries {
    const TAG: u16 = 22;
    /// The entries, and whether more follow.
    type Response = Answer<(Vec<Entry>, bool)>;
}

/// Several items' siblings at once (empty for an item the replica lacks).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ItemsGet {
    pub items: Vec<(TableId, Vec<u8>)>,
}
impl RpcRequest for ItemsGet {
    const TAG: u16 = 23;
    type Response = Answer<Vec<Siblings>>;
}

/// Merges several items durably (an anti-entropy push).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ItemsMerge {
    pub items: Vec<(TableId, Vec<u8>, Siblings)>,
}
impl RpcRequest for ItemsMerge {
    const TAG: u16 = 24;
    type Response = Answer<()>;
}

/// Whether the replica's copies of some tombstoned items may be purged with them (see
/// `purge`): one answer per item.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PurgeCheck {
    pub items: Vec<(TableId, Vec<u8>, Siblings)>,
}
impl RpcRequest for PurgeCheck {
    const TAG: u16 = 25;
    type Response = Answer<Vec<bool>>;
}

/// Forgets the replica's copies of items the given tombstones cover (see `purge`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PurgeItems {
    pub items: Vec<(TableId, Vec<u8>, Siblings)>,
}
impl RpcRequest for PurgeItems {
    const TAG: u16 = 26;
    type Response = Answer<()>;
}

/// One step of per-key consensus on the receiving owner's acceptor (see `consensus`), of a
/// round run under layout version `layout`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PaxosStep {
    pub table: TableId,
    pub key: Vec<u8>,
    pub request: Request<PaxosValue>,
    pub layout: u64,
}
impl RpcRequest for PaxosStep {
    const TAG: u16 = 27;
    type Response = Answer<PaxosAnswer>;
}

/// The version accepted for an item and not yet known committed, if any.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PaxosPending {
    pub table: TableId,
    pub key: Vec<u8>,
}
impl RpcRequest for PaxosPending {
    const TAG: u16 = 28;
    type Response = Answer<Option<Sibling>>;
}
