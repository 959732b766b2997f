//! Layouts: an immutable, versioned assignment of every partition to an ordered preference
//! list of distinct nodes, computed from the members by `assignment::assign`.

use serde::{Deserialize, Serialize};

use super::assignment::{AssignmentError, Member, assign};
use super::{NodeId, PartitionId};

/// The most partitions a split may reach: 2^16 (see ARCHITECTURE, "Choosing Q").
pub const MAX_PARTITION_BITS: u8 = 16;

/// Why the partitions cannot be split.
#[derive(Debug, thiserror::Error)]
pub enum SplitError {
    #[error("the ring already has 2^{bits} partitions, the most a split may reach")]
    TooMany { bits: u8 },
    #[error(transparent)]
    Assignment(AssignmentError),
    #[error("the split would move an owner of partition {partition}")]
    WouldMove { partition: usize },
}

/// The cluster's partition map at one version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layout {
    pub version: u64,
    pub partition_bits: u8,
    /// N: how many replicas each item has (bounded by the member count).
    pub replication_factor: usize,
    pub members: Vec<Member>,
    /// `assignments[p]` is partition p's preference list, most preferred first.
    assignments: Vec<Vec<NodeId>>,
}

impl Layout {
    /// The layout of a ring of one: every partition is owned by `node`.
    pub fn single(node: NodeId, partition_bits: u8) -> Self {
        let count = 1usize << partition_bits;
        Self {
            version: 1,
            partition_bits,
            replication_factor: 1,
            members: vec![Member { id: node, zone: "default".into(), capacity: 1 }],
            assignments: vec![vec![node]; count],
        }
    }

    /// A layout with no members, version 0: what a joining node has until gossip brings the
    /// cluster's layout. It owns nothing and places nothing.
    pub fn empty(partition_bits: u8) -> Self {
        Self {
            version: 0,
            partition_bits,
            replication_factor: 1,
            members: Vec::new(),
            assignments: Vec::new(),
        }
    }

    /// The successor of `previous` for a new member set, moving as little as possible.
    pub fn next(
        previous: &Layout,
        members: Vec<Member>,
        replication_factor: usize,
    ) -> Result<Layout, AssignmentError> {
        let partitions = 1usize << previous.partition_bits;
        let before =
            (previous.assignments.len() == partitions).then_some(previous.assignments.as_slice());
        let assignments = assign(before, &members, partitions, replication_factor)?;
        Ok(Layout {
            version: previous.version + 1,
            partition_bits: previous.partition_bits,
            replication_factor,
            members,
            assignments,
        })
    }

    /// The same members with twice the partitions: each partition splits into its two halves,
    /// which keep its owners, so no data moves (for a cluster that outgrew its partition
    /// count). Refused past `MAX_PARTITION_BITS`.
    pub fn split(previous: &Layout) -> Result<Layout, SplitError> {
        if previous.partition_bits >= MAX_PARTITION_BITS {
            return Err(SplitError::TooMany { bits: previous.partition_bits });
        }
        let bits = previous.partition_bits + 1;
        let assignments = assign(
            Some(previous.assignments.as_slice()),
            &previous.members,
            1usize << bits,
            previous.replication_factor,
        )
        .map_err(SplitError::Assignment)?;
        // The assignment keeps a half's owners (only their order may shift); checked, since a
        // split that moved an owner would need a rebalance it does not get.
        for (p, owners) in assignments.iter().enumerate() {
            let parent = previous.assignments.get(p / 2).map_or(&[][..], Vec::as_slice);
            if owners.len() != parent.len() || owners.iter().any(|o| !parent.contains(o)) {
                return Err(SplitError::WouldMove { partition: p });
            }
        }
        Ok(Layout {
            version: previous.version + 1,
            partition_bits: bits,
            replication_factor: previous.replication_factor,
            members: previous.members.clone(),
            assignments,
        })
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

    /// The owners of `partition`, then every other member in an order fixed per partition:
    /// where a sloppy quorum looks for stand-ins when owners are down.
    pub fn extended_preference_list(&self, partition: PartitionId) -> Vec<NodeId> {
        let owners = self.preference_list(partition);
        let mut others: Vec<NodeId> =
            self.members.iter().map(|m| m.id).filter(|id| !owners.contains(id)).collect();
        others.sort_by_key(|id| {
            super::item_hash(0xfe, &[&partition.0.to_be_bytes()[..], &id.to_be_bytes()].concat())
        });
        owners.iter().copied().chain(others).collect()
    }

    pub fn is_member(&self, node: NodeId) -> bool {
        self.members.iter().any(|m| m.id == node)
    }

    /// Partitions of which `node` is one of the owners.
    pub fn owned_partitions(&self, node: NodeId) -> Vec<PartitionId> {
        (0..self.partition_count())
            .map(PartitionId)
            .filter(|p| self.preference_list(*p).contains(&node))
            .collect()
    }

    /// A digest of the whole layout (members and assignments), to tell two layouts of one
    /// version apart.
    pub fn digest(&self) -> u64 {
        let bytes = postcard::to_allocvec(self).unwrap_or_default();
        xxhash_rust::xxh3::xxh3_64(&bytes)
    }

    pub fn assignments(&self) -> &[Vec<NodeId>] {
        &self.assignments
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(n: u64) -> Vec<Member> {
        (1..=n).map(|id| Member { id, zone: format!("z{}", id % 3), capacity: 1 }).collect()
    }

    #[test]
    fn a_split_doubles_the_partitions_and_keeps_every_item_with_its_owners() {
        let one = Layout::single(1, 6);
        let layout = Layout::next(&one, members(5), 3).unwrap();
        let split = Layout::split(&layout).unwrap();
        assert_eq!((split.version, split.partition_bits), (layout.version + 1, 7));
        for hash in (0..1000u64).map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15)) {
            let mut before = layout.preference_list(layout.partition_of(hash)).to_vec();
            let mut after = split.preference_list(split.partition_of(hash)).to_vec();
            before.sort_unstable();
            after.sort_unstable();
            assert_eq!(before, after, "hash {hash:x} changed owners");
        }
        let mut full = Layout::single(1, MAX_PARTITION_BITS);
        full.version = 3;
        assert!(matches!(Layout::split(&full), Err(SplitError::TooMany { .. })));
    }

    #[test]
    fn a_single_node_owns_everything() {
        let layout = Layout::single(7, 8);
        assert_eq!(layout.partition_count(), 256);
        assert_eq!(layout.partition_of(u64::MAX), PartitionId(255));
        assert_eq!(layout.preference_list(PartitionId(3)), &[7]);
        assert_eq!(layout.owned_partitions(7).len(), 256);
    }

    #[test]
    fn next_layouts_grow_versions_and_keep_distinct_owners() {
        let one = Layout::single(1, 6);
        let three = Layout::next(&one, members(3), 3).unwrap();
        assert_eq!(three.version, 2);
        for p in 0..three.partition_count() {
            let list = three.preference_list(PartitionId(p));
            assert_eq!(list.len(), 3);
            let mut sorted = list.to_vec();
            sorted.dedup();
            assert_eq!(sorted.len(), 3);
            let extended = three.extended_preference_list(PartitionId(p));
            assert_eq!(&extended[..3], list);
        }
        let five = Layout::next(&three, members(5), 3).unwrap();
        assert_eq!(five.version, 3);
        let extended = five.extended_preference_list(PartitionId(0));
        assert_eq!(extended.len(), 5);
    }
}
