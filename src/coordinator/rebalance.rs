//! Rebalancing: when a new layout gives this node partitions it did not own, it pulls their
//! items and blocks from the previous owners and merges them into its store, in bounded pages,
//! reporting progress. Until it has caught up, reads still find the data on the owners that
//! kept it (a layout change moves at most a few owners of a partition), and read repair fills
//! in what a read touches first.

use std::collections::HashSet;
use std::sync::Arc;

use super::Coordinator;
use crate::ring::{Layout, NodeId, PartitionId};
use crate::store::WriteOp;

/// Items or block ids asked for per page.
const PAGE: usize = 500;

/// The rebalance loop of one node.
#[derive(Debug, Clone)]
pub struct RebalanceWorker {
    pub coordinator: Coordinator,
}

/// Partitions `me` owns in `new` but not in `old`, each with the nodes that owned it before.
pub fn gained(old: &Layout, new: &Layout, me: NodeId) -> Vec<(PartitionId, Vec<NodeId>)> {
    if old.partition_bits != new.partition_bits || old.members.is_empty() {
        return Vec::new();
    }
    (0..new.partition_count())
        .map(PartitionId)
        .filter(|p| new.preference_list(*p).contains(&me) && !old.preference_list(*p).contains(&me))
        .map(|p| (p, old.preference_list(p).to_vec()))
        .collect()
}

impl RebalanceWorker {
    /// Runs until `shutdown` fires, pulling after every layout change.
    pub async fn run(self, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        let ring = self.coordinator.ring().clone();
        let mut layouts = ring.subscribe();
        let mut current: Arc<Layout> = layouts.borrow_and_update().clone();
        loop {
            tokio::select! {
                changed = layouts.changed() => if changed.is_err() { return },
                _ = shutdown.wait_for(|s| *s) => return,
            }
            let next = layouts.borrow_and_update().clone();
            let work = gained(&current, &next, ring.me());
            current = next;
            if !work.is_empty() {
                tokio::select! {
                    () = self.pull(work) => {}
                    _ = shutdown.wait_for(|s| *s) => return,
                }
            }
        }
    }

    /// Pulls every gained partition from one live previous owner.
    pub async fn pull(&self, work: Vec<(PartitionId, Vec<NodeId>)>) {
        let c = &self.coordinator;
        let bits = c.ring().layout().partition_bits;
        let total = work.len();
        // Group partitions by the source chosen for them, so each source is scanned once.
        let mut by_source: Vec<(NodeId, Vec<u32>)> = Vec::new();
        let mut unreachable = HashSet::new();
        for (p, owners) in work {
            let Some(source) =
                owners.iter().copied().find(|n| *n != c.node_id() && c.ring().is_alive(*n))
            else {
                unreachable.insert(p.0);
                continue;
            };
            match by_source.iter_mut().find(|(s, _)| *s == source) {
                Some((_, ps)) => ps.push(p.0),
                None => by_source.push((source, vec![p.0])),
            }
        }
        tracing::info!(
            worker = "rebalance",
            partitions = total,
            sources = by_source.len(),
            "pulling newly owned partitions"
        );
        let (mut items, mut blocks) = (0usize, 0usize);
        for (source, partitions) in by_source {
            let Some(replica) = c.replica(source) else { continue };
            let mut after = None;
            loop {
                let Ok((page, last)) =
                    replica.partition_items((bits, partitions.clone()), after.clone(), PAGE).await
                else {
                    tracing::warn!(
                        worker = "rebalance",
                        source = format_args!("{source:x}"),
                        "item pull failed; read repair will fill in"
                    );
                    break;
                };
                for (table, key, siblings) in page {
                    if c.store()
                        .write(WriteOp::Merge { table, key, siblings, hint_for: None })
                        .await
                        .is_ok()
                    {
                        items += 1;
                    }
                }
                if last.is_none() || last == after {
                    break;
                }
                after = last;
            }
            let mut after = None;
            loop {
                let Ok((ids, last)) =
                    replica.partition_blocks((bits, partitions.clone()), after, PAGE).await
                else {
                    break;
                };
                for id in ids {
                    if let Ok(Some(data)) = replica.get_block(id).await
                        && c.store()
                            .write(WriteOp::PutBlock { id, data, hint_for: None })
                            .await
                            .is_ok()
                    {
                        blocks += 1;
                    }
                }
                if last.is_none() || last == after {
                    break;
                }
                after = last;
            }
            tracing::info!(
                worker = "rebalance",
                source = format_args!("{source:x}"),
                items,
                blocks,
                "pulled from a previous owner"
            );
        }
        if !unreachable.is_empty() {
            tracing::warn!(
                worker = "rebalance",
                partitions = unreachable.len(),
                "no previous owner reachable for some partitions"
            );
        }
        tracing::info!(worker = "rebalance", items, blocks, "rebalance done");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ring::Member;

    fn members(ids: &[u64]) -> Vec<Member> {
        ids.iter().map(|id| Member { id: *id, zone: "z".into(), capacity: 1 }).collect()
    }

    #[test]
    fn a_new_member_gains_what_it_now_owns_and_others_gain_nothing_new() {
        let one = Layout::single(1, 6);
        let three = Layout::next(&one, members(&[1, 2, 3]), 3).unwrap();
        let four = Layout::next(&three, members(&[1, 2, 3, 4]), 3).unwrap();
        let gained4 = gained(&three, &four, 4);
        assert_eq!(gained4.len(), four.owned_partitions(4).len());
        assert!(gained4.iter().all(|(p, before)| before == three.preference_list(*p)));
        for old in [1, 2, 3] {
            assert!(gained(&three, &four, old).is_empty(), "node {old} only lost partitions");
        }
        // A joining node's empty layout gains nothing to pull.
        assert!(gained(&Layout::empty(6), &three, 2).is_empty());
    }
}
