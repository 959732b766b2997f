//! The replica protocol: one request type per operation a coordinator asks of a replica. Every
//! answer is an `Answer<T>`: the result, or the replica's typed failure, so that what went
//! wrong crosses the wire with its meaning (not as a string).

use std::ops::Bound;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::replica::Answer;
use crate::causality::{Sibling, Siblings, VectorClock};
use crate::rpc::RpcRequest;
use crate::store::{BlockId, TableId};

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
    pub value: Option<Vec<u8>>,
    pub only_if_unchanged: bool,
}
impl RpcRequest for ReplicaCoordinate {
    const TAG: u16 = 11;
    /// `None`: a compare-and-set found the item changed.
    type Response = Answer<Option<Sibling>>;
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

/// Items of a table in key order, restricted to some partitions.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReplicaScan {
    pub table: TableId,
    pub start: Bound<Vec<u8>>,
    pub end: Bound<Vec<u8>>,
    pub limit: usize,
    pub partitions: PartitionFilter,
}
impl RpcRequest for ReplicaScan {
    const TAG: u16 = 13;
    type Response = Answer<Vec<(Vec<u8>, Siblings)>>;
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
