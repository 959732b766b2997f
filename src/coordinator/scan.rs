//! Listing as a coverage query: every partition of the layout answered by `read_quorum` of its
//! live owners, the sorted answers merged, and the result cut where the shortest truncated
//! answer ended (beyond it some partition may hold keys not seen yet).

use std::collections::{BTreeMap, BTreeSet};

use futures_util::stream::{FuturesUnordered, StreamExt};

use super::{Coordinator, CoordinatorError, ReplicaError, ScanRange};
use crate::causality::Siblings;
use crate::ring::{CallKind, NodeId};
use crate::store::TableId;

/// Partitions to ask again, per node, and partitions with no owner left to ask.
type Reroute = (BTreeMap<NodeId, Vec<u32>>, Vec<u32>);

impl Coordinator {
    /// Items of `table` in `range`, in key order, at most `limit`, each merged from
    /// `read_quorum` replicas of its partition: a coverage query over the layout.
    #[tracing::instrument(skip_all, fields(table = table.0, limit))]
    pub async fn scan(
        &self,
        table: TableId,
        range: ScanRange,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Siblings)>, CoordinatorError> {
        let layout = self.inner.ring.layout();
        if layout.members.len() <= 1 {
            return self
                .inner
                .local
                .scan(table, range, limit, None)
                .await
                .map_err(CoordinatorError::Local);
        }
        let q = self.quorum();
        let previous =
            self.ring().read_transition().filter(|l| l.partition_bits == layout.partition_bits);
        let mut per_node: BTreeMap<NodeId, Vec<u32>> = BTreeMap::new();
        // Who was asked for each partition (a failed node stays listed so it is not asked again).
        let mut asked: Vec<Vec<NodeId>> = Vec::with_capacity(layout.partition_count() as usize);
        for p in 0..layout.partition_count() {
            let owners = layout.preference_list(crate::ring::PartitionId(p));
            let alive: Vec<NodeId> = owners.iter().copied().filter(|id| self.alive(*id)).collect();
            if alive.is_empty() {
                return Err(CoordinatorError::QuorumNotReached {
                    needed: q.read_quorum,
                    acked: 0,
                    failures: Vec::new(),
                });
            }
            // Rotate the starting owner by partition so that scans spread over the nodes.
            let chosen: Vec<NodeId> = (0..q.read_quorum.min(alive.len()))
                .map(|i| alive[(p as usize + i) % alive.len()])
                .collect();
            let mut chosen = chosen;
            // During a rebalance the previous owners still hold what new owners may not have
            // pulled yet: ask R of them too where the owners changed.
            if let Some(previous) = &previous {
                let before = previous.preference_list(crate::ring::PartitionId(p));
                if before != owners {
                    let extra: Vec<NodeId> = before
                        .iter()
                        .copied()
                        .filter(|id| !chosen.contains(id) && self.alive(*id))
                        .take(q.read_quorum)
                        .collect();
                    chosen.extend(extra);
                }
            }
            for node in &chosen {
                per_node.entry(*node).or_default().push(p);
            }
            asked.push(chosen);
        }
        let scan_on = |node: NodeId, partitions: Vec<u32>| {
            let replica = self.replica(node);
            let range = range.clone();
            let filter = Some((layout.partition_bits, partitions.clone()));
            async move {
                let result = match replica {
                    Some(r) => r.scan(table, range, limit, filter).await,
                    None => Err(ReplicaError::Task("no transport to peers".into())),
                };
                (node, partitions, result)
            }
        };
        let ring = self.inner.ring.clone();
        let hedge = |node: NodeId| {
            let after = ring.hedge_after(node, CallKind::Small);
            async move {
                tokio::time::sleep(after).await;
                node
            }
        };
        let mut deadlines: FuturesUnordered<_> = per_node.keys().map(|n| hedge(*n)).collect();
        let mut pending: FuturesUnordered<_> =
            per_node.into_iter().map(|(node, partitions)| scan_on(node, partitions)).collect();
        let mut failed = BTreeSet::new();
        let mut merged: BTreeMap<Vec<u8>, Siblings> = BTreeMap::new();
        let mut bound: Option<Vec<u8>> = None;
        // Answers each partition needs (as many as owners first asked) and has.
        let mut want: Vec<usize> = asked.iter().map(Vec::len).collect();
        let mut got: Vec<usize> = vec![0; asked.len()];
        // Partitions asked of each node whose answer is still awaited.
        let mut awaited: BTreeMap<NodeId, Vec<u32>> = BTreeMap::new();
        for (p, nodes) in asked.iter().enumerate() {
            for node in nodes {
                awaited.entry(*node).or_default().push(u32::try_from(p).unwrap_or(u32::MAX));
            }
        }
        while want.iter().zip(&got).any(|(w, g)| g < w) {
            let (node, partitions, result) = tokio::select! {
                biased;
                Some(answer) = pending.next() => answer,
                Some(slow) = deadlines.next() => {
                    // A node past its deadline keeps its call; its partitions are also asked
                    // of owners not asked yet, where there are some.
                    if let Some(partitions) = awaited.get(&slow).cloned() {
                        let retry = self.reroute(&layout, &mut asked, &partitions, &failed);
                        for (next, partitions) in retry.into_iter().flat_map(|(r, _)| r) {
                            deadlines.push(hedge(next));
                            awaited.entry(next).or_default().extend(&partitions);
                            pending.push(scan_on(next, partitions));
                        }
                    }
                    continue;
                }
                else => break,
            };
            awaited.remove(&node);
            let items = match result {
                Ok(items) => {
                    for p in &partitions {
                        got[*p as usize] += 1;
                    }
                    items
                }
                Err(e) => {
                    // A node the failure detector still believed alive did not answer: each of
                    // its partitions is asked of another owner that was not asked yet. With
                    // none left, the partition needs one answer from the owners still asked.
                    failed.insert(node);
                    let Some((retry, unreplaced)) =
                        self.reroute(&layout, &mut asked, &partitions, &failed)
                    else {
                        return Err(CoordinatorError::QuorumNotReached {
                            needed: 1,
                            acked: 0,
                            failures: vec![(node, e)],
                        });
                    };
                    for p in unreplaced {
                        let w = &mut want[p as usize];
                        *w = w.saturating_sub(1).max(1);
                    }
                    for (next, partitions) in retry {
                        deadlines.push(hedge(next));
                        awaited.entry(next).or_default().extend(&partitions);
                        pending.push(scan_on(next, partitions));
                    }
                    continue;
                }
            };
            if items.len() >= limit
                && let Some((last, _)) = items.last()
                && bound.as_ref().is_none_or(|b| last < b)
            {
                bound = Some(last.clone());
            }
            for (k, siblings) in items {
                merged.entry(k).or_default().merge(&siblings);
            }
        }
        Ok(merged
            .into_iter()
            .take_while(|(k, _)| bound.as_ref().is_none_or(|b| k <= b))
            .take(limit)
            .collect())
    }

    /// Picks, for each of `partitions`, an owner not asked yet, and lists those with none left
    /// (they make do with the owners still asked); `None` when some partition has no owner left
    /// that was asked and has not failed.
    fn reroute(
        &self,
        layout: &crate::ring::Layout,
        asked: &mut [Vec<NodeId>],
        partitions: &[u32],
        failed: &BTreeSet<NodeId>,
    ) -> Option<Reroute> {
        let mut retry: BTreeMap<NodeId, Vec<u32>> = BTreeMap::new();
        let mut unreplaced = Vec::new();
        for p in partitions {
            let owners = layout.preference_list(crate::ring::PartitionId(*p));
            let asked = &mut asked[*p as usize];
            match owners.iter().copied().find(|id| !asked.contains(id) && self.alive(*id)) {
                Some(next) => {
                    asked.push(next);
                    retry.entry(next).or_default().push(*p);
                }
                None if asked.iter().any(|id| !failed.contains(id)) => unreplaced.push(*p),
                None => return None,
            }
        }
        Some((retry, unreplaced))
    }
}
