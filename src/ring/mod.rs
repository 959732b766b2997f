//! Who owns what: item hashing, fixed partitions and the layout's preference lists.
//!
//! The key space is cut into `2^partition_bits` fixed partitions (Dynamo's strategy 3); an item's
//! partition is the top bits of a stable 64-bit hash (xxh3 with a fixed seed, never std's
//! randomly seeded hasher) of its table and key. The layout maps each partition to an ordered
//! preference list of distinct nodes. A layout is immutable and versioned; a new membership
//! produces a new layout, never an in-place change.

use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};

/// A node's identity in the ring (also its vector-clock actor).
pub type NodeId = u64;

/// Default number of partitions, as a power of two.
pub const DEFAULT_PARTITION_BITS: u8 = 8;

const HASH_SEED: u64 = 0x5249_4e47_5641_554c; // "RINGVAUL"

/// One of the ring's fixed partitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PartitionId(pub u32);

/// The stable hash that places an item on the ring.
pub fn item_hash(table: u8, key: &[u8]) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3::with_seed(HASH_SEED);
    h.update(&[table]);
    h.update(key);
    h.digest()
}

/// An immutable assignment of partitions to preference lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layout {
    pub version: u64,
    pub partition_bits: u8,
    /// `assignments[p]` is partition p's preference list, most preferred first.
    assignments: Vec<Vec<NodeId>>,
}

impl Layout {
    /// The layout of a ring of one: every partition is owned by `node`.
    pub fn single(node: NodeId, partition_bits: u8) -> Self {
        let count = 1usize << partition_bits;
        Self { version: 1, partition_bits, assignments: vec![vec![node]; count] }
    }

    pub fn partition_count(&self) -> u32 {
        1u32 << self.partition_bits
    }

    pub fn partition_of(&self, hash: u64) -> PartitionId {
        if self.partition_bits == 0 {
            return PartitionId(0);
        }
        let shift = 64 - u32::from(self.partition_bits);
        PartitionId(u32::try_from(hash >> shift).unwrap_or(u32::MAX))
    }

    pub fn preference_list(&self, partition: PartitionId) -> &[NodeId] {
        self.assignments.get(partition.0 as usize).map_or(&[], Vec::as_slice)
    }
}

/// The node's current view of the layout; cheap to clone and to read.
#[derive(Debug, Clone)]
pub struct Ring {
    layout: Arc<RwLock<Arc<Layout>>>,
}

impl Ring {
    pub fn new(layout: Layout) -> Self {
        Self { layout: Arc::new(RwLock::new(Arc::new(layout))) }
    }

    pub fn layout(&self) -> Arc<Layout> {
        self.layout.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// The preference list of the item `(table, key)`.
    pub fn preference_list(&self, table: u8, key: &[u8]) -> Vec<NodeId> {
        let layout = self.layout();
        layout.preference_list(layout.partition_of(item_hash(table, key))).to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_stable_across_builds_and_platforms() {
        // Changing this value moves every stored item to another partition: it must never change.
        assert_eq!(item_hash(2, b"bucket\0key"), 1_365_903_301_128_623_002);
    }

    #[test]
    fn partitions_use_the_top_bits_and_cover_the_range() {
        let layout = Layout::single(1, 8);
        assert_eq!(layout.partition_count(), 256);
        assert_eq!(layout.partition_of(0), PartitionId(0));
        assert_eq!(layout.partition_of(u64::MAX), PartitionId(255));
        assert_eq!(layout.partition_of(1 << 56), PartitionId(1));
        assert_eq!(layout.preference_list(PartitionId(17)), &[1]);
    }

    #[test]
    fn keys_spread_over_partitions() {
        let layout = Layout::single(1, 4);
        let mut counts = [0u32; 16];
        for i in 0..16_000u32 {
            counts[layout.partition_of(item_hash(2, &i.to_be_bytes())).0 as usize] += 1;
        }
        assert!(counts.iter().all(|&c| (800..1200).contains(&c)), "{counts:?}");
    }
}
