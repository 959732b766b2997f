//! Who is in the cluster and how to reach them: every node's self-description and heartbeat,
//! spread by gossip. Merging keeps, per node, the entry with the highest heartbeat, so views
//! converge whatever the order of exchanges (a state-based CRDT: merge is commutative,
//! associative and idempotent).

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::NodeId;

/// How a node describes itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    pub id: NodeId,
    pub rpc_addr: SocketAddr,
    pub s3_addr: SocketAddr,
    pub zone: String,
    pub capacity: u64,
}

/// A node's gossiped state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerState {
    pub info: NodeInfo,
    /// Grows while the node is alive; the freshest entry wins a merge.
    pub heartbeat: u64,
    /// The layout version the node runs.
    pub layout_version: u64,
    /// The highest layout version whose partitions this node holds in full (its rebalance pulls
    /// are done); until every member reaches the current version, reads also ask the owners
    /// of the previous layout.
    #[serde(default)]
    pub synced_version: u64,
    /// Set by a node out of the layout once it holds nothing (its clean-up handed everything
    /// to the owners): a tombstone purge need not wait for it, even after it stopped.
    #[serde(default)]
    pub drained: bool,
}

/// Every node this node has heard of.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MembershipView {
    peers: BTreeMap<NodeId, PeerState>,
}

impl MembershipView {
    pub fn new() -> Self {
        Self::default()
    }

    /// Merges one entry; returns whether it was news (a higher heartbeat or a new node).
    pub fn merge_one(&mut self, state: PeerState) -> bool {
        match self.peers.get(&state.info.id) {
            Some(known) if known.heartbeat >= state.heartbeat => false,
            _ => {
                self.peers.insert(state.info.id, state);
                true
            }
        }
    }

    /// Merges a whole view; returns the ids whose entries were news.
    pub fn merge(&mut self, states: impl IntoIterator<Item = PeerState>) -> Vec<NodeId> {
        states
            .into_iter()
            .filter_map(|s| {
                let id = s.info.id;
                self.merge_one(s).then_some(id)
            })
            .collect()
    }

    pub fn get(&self, id: NodeId) -> Option<&PeerState> {
        self.peers.get(&id)
    }

    pub fn states(&self) -> impl Iterator<Item = &PeerState> {
        self.peers.values()
    }

    pub fn len(&self) -> usize {
        self.peers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.peers.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn state(id: NodeId, heartbeat: u64) -> PeerState {
        PeerState {
            info: NodeInfo {
                id,
                rpc_addr: "127.0.0.1:1".parse().unwrap(),
                s3_addr: "127.0.0.1:2".parse().unwrap(),
                zone: "z".into(),
                capacity: 1,
            },
            heartbeat,
            layout_version: heartbeat % 3,
            synced_version: 0,
            drained: false,
        }
    }

    proptest! {
        #[test]
        fn merge_order_does_not_matter(entries in proptest::collection::vec((0u64..5, 0u64..20), 0..30)) {
            let states: Vec<_> = entries.iter().map(|(id, hb)| state(*id, *hb)).collect();
            let mut forward = MembershipView::new();
            forward.merge(states.clone());
            let mut backward = MembershipView::new();
            backward.merge(states.iter().rev().cloned());
            let mut twice = forward.clone();
            twice.merge(states);
            prop_assert_eq!(&forward.peers.keys().collect::<Vec<_>>(), &backward.peers.keys().collect::<Vec<_>>());
            for (id, s) in &forward.peers {
                prop_assert_eq!(s.heartbeat, backward.peers[id].heartbeat);
            }
            prop_assert_eq!(twice, forward);
        }
    }

    #[test]
    fn the_freshest_heartbeat_wins() {
        let mut view = MembershipView::new();
        assert!(view.merge_one(state(1, 5)));
        assert!(!view.merge_one(state(1, 4)));
        assert!(!view.merge_one(state(1, 5)));
        assert!(view.merge_one(state(1, 6)));
        assert_eq!(view.get(1).unwrap().heartbeat, 6);
    }
}
