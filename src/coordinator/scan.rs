//! Listing as a coverage query: every partition of the layout answered by `read_quorum` of its
//! live owners, the sorted answers merged, and the result cut where the shortest truncated
//! answer ended (beyond it some partition may hold keys not seen yet).
//!
//! A scan may be *grouped* (a listing by delimiter): keys sharing a prefix up to the delimiter
//! form a group, which a listing reports once if any of its keys is live. Each replica walks a
//! group only up to its first item whose winner is not a tombstone and then seeks past the
//! group, so a page of a thousand common prefixes costs one round of a thousand seeks per
//! replica rather than a round per prefix. Where a replica left a group early, the merged items
//! of that group are exact only up to the key it stopped at (past it, that replica did not
//! look): the answer drops them and names the cut, and the caller continues from there if the
//! group is still undecided (its items so far are all deleted). Replicas that agree settle
//! every group in one round.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use futures_util::stream::{FuturesUnordered, StreamExt};
use serde::{Deserialize, Serialize};

use super::{Coordinator, CoordinatorError, ReplicaError, ScanRange};
use crate::causality::Siblings;
use crate::ring::{CallKind, NodeId};
use crate::store::TableId;

/// Partitions to ask again, per node, and partitions with no owner left to ask.
type Reroute = (BTreeMap<NodeId, Vec<u32>>, Vec<u32>);

/// How a grouped scan forms groups: keys that share everything up to the first `delimiter`
/// at or after byte `from` (a listing's prefix) belong to one group. The last `tail` bytes of
/// a key are not part of its name (a version item's id) and never hold its delimiter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grouping {
    pub from: usize,
    pub delimiter: Vec<u8>,
    pub tail: usize,
}

impl Grouping {
    /// Groups of the names in a table whose keys are names alone.
    pub fn names(from: usize, delimiter: &[u8]) -> Self {
        Self { from, delimiter: delimiter.to_vec(), tail: 0 }
    }

    /// The group of `key`: its bytes up to and including the delimiter, if it has one.
    pub fn group_of<'k>(&self, key: &'k [u8]) -> Option<&'k [u8]> {
        let name = key.get(..key.len().checked_sub(self.tail)?)?;
        let rest = name.get(self.from..)?;
        let at = match self.delimiter.len() {
            0 => return None,
            n => rest.windows(n).position(|w| w == self.delimiter.as_slice())?,
        };
        Some(&key[..self.from + at + self.delimiter.len()])
    }
}

/// One replica's answer to a scan: the items, and each group it left early with the last key
/// it returned in it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ScanAnswer {
    pub items: Vec<(Vec<u8>, Siblings)>,
    pub cuts: Vec<(Vec<u8>, Vec<u8>)>,
}

/// What a grouped scan found: the merged items; for each group some replica left early, the
/// smallest key one stopped at (the group's items past it are not included); and whether the
/// range was read to its end.
#[derive(Debug, Clone, Default)]
pub struct GroupedScan {
    pub items: Vec<(Vec<u8>, Siblings)>,
    pub cuts: BTreeMap<Vec<u8>, Vec<u8>>,
    pub exhausted: bool,
}

/// How many items to ask of a node that serves `asked` of `total` partitions in a flat scan of
/// `limit`. Keys hash uniformly over partitions, so the node's count among the range's first
/// `limit` keys is binomial(`limit`, `asked`/`total`): its mean plus four standard deviations
/// (and a few, for small pages) is short less than once in 30,000 rounds, and never more than
/// `limit`.
fn share_of(limit: usize, asked: usize, total: usize) -> usize {
    if asked >= total || total == 0 {
        return limit;
    }
    let p = asked as f64 / total as f64;
    let n = limit as f64;
    let wanted = n * p + 4.0 * (n * p * (1.0 - p)).sqrt() + 8.0;
    (wanted.ceil() as usize).min(limit)
}

/// The smallest byte string greater than every string that starts with `prefix`, or `None`
/// when no such string exists (the prefix is all 0xff).
pub fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut out = prefix.to_vec();
    while let Some(last) = out.pop() {
        if last < 0xff {
            out.push(last + 1);
            return Some(out);
        }
    }
    None
}

impl Coordinator {
    /// Items of `table` in `range`, in key order, at most `limit`, each merged from
    /// `read_quorum` replicas of its partition: a coverage query over the layout.
    pub async fn scan(
        &self,
        table: TableId,
        range: ScanRange,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Siblings)>, CoordinatorError> {
        Ok(self.scan_grouped(table, range, limit, None).await?.items)
    }

    /// `scan`, with keys folded into groups when a `grouping` is given (see the module).
    ///
    /// A flat scan asks each node for its share of `limit` only (see [`share_of`]), not for
    /// `limit` from each: with R = 2 of 3 nodes that moved 3 x `limit` items for a page of
    /// `limit`. When a node's keys crowd the start of the range the merged page can come out
    /// short; the rest then comes from a round after it, so a page is still `limit` items
    /// unless the range ends first.
    #[tracing::instrument(skip_all, fields(table = table.0, limit))]
    pub async fn scan_grouped(
        &self,
        table: TableId,
        range: ScanRange,
        limit: usize,
        grouping: Option<Grouping>,
    ) -> Result<GroupedScan, CoordinatorError> {
        if grouping.is_some() {
            return self.scan_round(table, range, limit, grouping, false).await;
        }
        let mut page = self.scan_round(table, range.clone(), limit, None, true).await?;
        while !page.exhausted && page.items.len() < limit {
            let Some((last, _)) = page.items.last() else { break };
            let rest = ScanRange { start: Bound::Excluded(last.clone()), end: range.end.clone() };
            let more = self.scan_round(table, rest, limit - page.items.len(), None, true).await?;
            page.exhausted = more.exhausted;
            page.items.extend(more.items);
        }
        Ok(page)
    }

    /// One round of a scan over the layout: each node asked once for the partitions it
    /// serves (another owner asked where one fails or is slow). With `share`, each node is
    /// asked for its share of `limit`, and the answer may be short of `limit` without the
    /// range being exhausted.
    async fn scan_round(
        &self,
        table: TableId,
        range: ScanRange,
        limit: usize,
        grouping: Option<Grouping>,
        share: bool,
    ) -> Result<GroupedScan, CoordinatorError> {
        let layout = self.inner.ring.layout();
        if layout.members.len() <= 1 {
            let answer = self
                .inner
                .local
                .scan(table, range, limit, None, grouping)
                .await
                .map_err(CoordinatorError::Local)?;
            return Ok(GroupedScan {
                exhausted: answer.items.len() < limit,
                items: answer.items,
                cuts: answer.cuts.into_iter().collect(),
            });
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
        let total = layout.partition_count() as usize;
        let node_limit =
            |partitions: usize| if share { share_of(limit, partitions, total) } else { limit };
        let scan_on = |node: NodeId, partitions: Vec<u32>| {
            let replica = self.replica(node);
            let range = range.clone();
            let filter = Some((layout.partition_bits, partitions.clone()));
            let grouping = grouping.clone();
            let limit = node_limit(partitions.len());
            async move {
                let result = match replica {
                    Some(r) => r.scan(table, range, limit, filter, grouping).await,
                    None => Err(ReplicaError::Task("no transport to peers".into())),
                };
                (node, partitions, result)
            }
        };
        let ring = self.inner.ring.clone();
        let mut deadlines: FuturesUnordered<_> =
            per_node.keys().map(|n| ring.hedge_deadline(*n, CallKind::Small)).collect();
        let mut pending: FuturesUnordered<_> =
            per_node.into_iter().map(|(node, partitions)| scan_on(node, partitions)).collect();
        let mut failed = BTreeSet::new();
        let mut merged: BTreeMap<Vec<u8>, Siblings> = BTreeMap::new();
        let mut cuts: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
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
                            deadlines.push(ring.hedge_deadline(next, CallKind::Small));
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
                Ok(answer) => {
                    for p in &partitions {
                        got[*p as usize] += 1;
                    }
                    for (group, at) in answer.cuts {
                        let cut = cuts.entry(group).or_insert_with(|| at.clone());
                        if at < *cut {
                            *cut = at;
                        }
                    }
                    answer.items
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
                        deadlines.push(ring.hedge_deadline(next, CallKind::Small));
                        awaited.entry(next).or_default().extend(&partitions);
                        pending.push(scan_on(next, partitions));
                    }
                    continue;
                }
            };
            // A full answer may have left out keys past its last one: nothing past that key
            // is known to be complete.
            if items.len() >= node_limit(partitions.len())
                && let Some((last, _)) = items.last()
                && bound.as_ref().is_none_or(|b| last < b)
            {
                bound = Some(last.clone());
            }
            for (k, siblings) in items {
                merged.entry(k).or_default().merge(&siblings);
            }
        }
        let within_cut = |key: &[u8]| match grouping.as_ref().and_then(|g| g.group_of(key)) {
            Some(group) => cuts.get(group).is_none_or(|cut| key <= cut.as_slice()),
            None => true,
        };
        let mut items: Vec<_> = merged
            .into_iter()
            .take_while(|(k, _)| bound.as_ref().is_none_or(|b| k <= b))
            .filter(|(k, _)| within_cut(k))
            .take(limit + 1)
            .collect();
        let exhausted = bound.is_none() && items.len() <= limit;
        items.truncate(limit);
        if let Some(b) = &bound {
            cuts.retain(|group, _| group <= b);
        }
        Ok(GroupedScan { items, cuts, exhausted })
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

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};

    use super::*;

    #[test]
    fn a_node_is_asked_for_its_share_of_a_flat_page_with_room_to_spare() {
        // Two thirds of the partitions (R = 2 of 3 nodes): 668 expected of 1,000, asked 736.
        assert_eq!(share_of(1000, 171, 256), 736);
        // Every partition, or a tiny page: the whole limit.
        assert_eq!(share_of(1000, 256, 256), 1000);
        assert_eq!(share_of(5, 128, 256), 5);
        // The share is enough for the page: simulate where a node's keys fall among the first
        // 1,000 of a range, and check it holds more than its share in no more than a few of
        // 20,000 pages.
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let short = (0..20_000)
            .filter(|_| {
                let mine = (0..1000).filter(|_| rng.random_range(0..256) < 171).count();
                mine > share_of(1000, 171, 256)
            })
            .count();
        assert!(short <= 5, "{short} pages of 20,000 came out short");
    }

    #[test]
    fn successor_skips_everything_under_a_prefix() {
        assert_eq!(prefix_successor(b"a/"), Some(b"a0".to_vec()));
        assert_eq!(prefix_successor(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_successor(b"\xff\xff"), None);
        let next = prefix_successor(b"photos/").unwrap();
        assert!(b"photos/zzz\xff".as_slice() < next.as_slice());
        assert!(b"photos0".as_slice() >= next.as_slice());
    }

    #[test]
    fn groups_form_only_at_a_delimiter_after_the_prefix() {
        let slash = |from| Grouping::names(from, b"/");
        assert_eq!(slash(0).group_of(b"a/b/c"), Some(b"a/".as_slice()));
        assert_eq!(slash(2).group_of(b"a/b/c"), Some(b"a/b/".as_slice()));
        assert_eq!(slash(3).group_of(b"a/b"), None);
        assert_eq!(slash(9).group_of(b"a/b"), None);
        let long = Grouping::names(2, b"XY");
        assert_eq!(long.group_of(b"abcXYdef"), Some(b"abcXY".as_slice()));
        assert_eq!(Grouping::names(0, b"").group_of(b"a/b"), None);
        // A version item: the name, a zero byte and a 16-byte id that may hold the delimiter.
        let mut item = b"a-b".to_vec();
        item.push(0);
        item.extend_from_slice(&[b'/'; 16]);
        let versions = Grouping { tail: 17, ..Grouping::names(0, b"/") };
        assert_eq!(versions.group_of(&item), None, "the id is not searched");
        item.splice(1..2, *b"/");
        assert_eq!(versions.group_of(&item), Some(b"a/".as_slice()));
        assert_eq!(versions.group_of(b"short"), None, "shorter than its tail");
    }
}
