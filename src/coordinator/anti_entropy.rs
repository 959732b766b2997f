//! Anti-entropy: finds and repairs the divergences nobody reads (the Dynamo paper's Merkle-tree
//! synchronisation). Read repair fixes what a read touches and hinted handoff what a stand-in
//! kept; a hint lost with a disk, a repair dropped from its full queue or a wiped replica is
//! found only here.
//!
//! Each pass walks the partitions this node owns. For each, it compares its Merkle trees (items
//! and blocks; see `store::merkle`) with the owner that follows it in the partition's
//! preference list, so that with N owners every pair of neighbours is compared once per pass
//! by one of them. Equal partition nodes end the comparison at once. Where they differ, it
//! descends into the children that differ until few entries are left, lists those entries on
//! both sides, and moves what differs both ways: an item is merged (vector clocks decide, so a
//! causal successor is never overwritten and concurrent versions become siblings), a block
//! missing on one side is copied. Data moves at most at `bytes_per_sec`.
//!
//! Passes run every `interval`, and at once when an operator asks (`ringvault repair`); the
//! progress of the current or last pass is kept for `cluster status` and /metrics.

use std::sync::Mutex;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::{Notify, watch};

use super::Coordinator;
use super::messages::TreeEntries;
use super::replica::{Replica, ReplicaError};
use crate::clock::SharedClock;
use crate::ring::{NodeId, PartitionId};
use crate::store::merkle::child_level;
use crate::store::{BlockId, Entry, NodeDigest, TableId, TreeKind};

/// Below this many entries on both sides together, a differing node's entries are listed
/// rather than its children compared.
const LIST_BELOW: u64 = 256;
/// Entries per page when listing, and items per batch when moving them.
const PAGE: usize = 512;
/// Partitions compared at once (each with its own peer calls; the pacer is shared).
const PARALLEL: usize = 4;

/// What an operator asked for: a full pass, or one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    All,
    Partition(u32),
}

/// The progress of the current pass, or of the last one (also the admin API's JSON).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct RepairProgress {
    /// Whether a pass is running now.
    pub running: bool,
    /// Passes begun since the node started.
    pub passes: u64,
    /// The partition the pass covers, if it covers one only.
    pub partition: Option<u32>,
    pub partitions_total: u64,
    /// Partitions compared so far in this pass (equal or repaired).
    pub partitions_done: u64,
    /// Partitions this pass found different and repaired.
    pub partitions_repaired: u64,
    /// Partitions skipped: no other owner reachable, or a call failed (retried next pass).
    pub partitions_skipped: u64,
    pub items_moved: u64,
    pub blocks_moved: u64,
    pub bytes_moved: u64,
    /// Milliseconds since the pass began (its duration once it ended).
    pub elapsed_ms: u64,
    /// Estimated milliseconds left, from the pace so far.
    pub eta_ms: Option<u64>,
}

/// Where the rebalance stands: partitions this node gained and still has to pull, and what its
/// pulls moved since the node started (also the admin API's JSON).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct RebalanceProgress {
    /// Partitions still to pull.
    pub partitions_pending: u64,
    /// Partitions pulled whole since the node started.
    pub partitions_pulled: u64,
    pub items_pulled: u64,
    pub blocks_pulled: u64,
    pub bytes_pulled: u64,
    /// Milliseconds spent pulling since the node started.
    pub pulling_ms: u64,
    /// Estimated milliseconds until the pending partitions are in, from the pace so far.
    pub eta_ms: Option<u64>,
}

impl RebalanceProgress {
    /// Accounts for one source's pull of `partitions` that took `took`.
    pub(super) fn pulled(
        &mut self,
        partitions: u64,
        items: u64,
        blocks: u64,
        bytes: u64,
        took: Duration,
    ) {
        self.partitions_pulled += partitions;
        self.partitions_pending = self.partitions_pending.saturating_sub(partitions);
        self.items_pulled += items;
        self.blocks_pulled += blocks;
        self.bytes_pulled += bytes;
        self.pulling_ms += millis(took);
        self.eta_ms = (self.partitions_pulled > 0)
            .then(|| self.pulling_ms / self.partitions_pulled * self.partitions_pending);
    }
}

/// Shared between the workers that move data (anti-entropy, rebalance), the admin API and the
/// metrics.
#[derive(Debug, Default)]
pub struct RepairControl {
    progress: Mutex<RepairProgress>,
    rebalance: Mutex<RebalanceProgress>,
    requested: Mutex<Option<Scope>>,
    wake: Notify,
    /// Totals over the node's life, for counters.
    totals: Mutex<RepairTotals>,
}

/// Counters over the node's life.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RepairTotals {
    pub partitions_compared: u64,
    pub partitions_repaired: u64,
    pub items_moved: u64,
    pub blocks_moved: u64,
    pub bytes_moved: u64,
}

impl RepairControl {
    /// Asks for a pass now; a request for everything absorbs one for a partition.
    pub fn request(&self, scope: Scope) {
        let mut requested = lock(&self.requested);
        *requested = match (*requested, scope) {
            (Some(Scope::All), _) | (_, Scope::All) => Some(Scope::All),
            (_, partition) => Some(partition),
        };
        self.wake.notify_one();
    }

    pub fn progress(&self) -> RepairProgress {
        lock(&self.progress).clone()
    }

    pub fn totals(&self) -> RepairTotals {
        *lock(&self.totals)
    }

    pub fn rebalance(&self) -> RebalanceProgress {
        lock(&self.rebalance).clone()
    }

    pub(super) fn update_rebalance(&self, f: impl FnOnce(&mut RebalanceProgress)) {
        f(&mut lock(&self.rebalance));
    }

    fn take_request(&self) -> Option<Scope> {
        lock(&self.requested).take()
    }
}

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The anti-entropy loop of one node.
#[derive(Debug, Clone)]
pub struct AntiEntropyWorker {
    pub coordinator: Coordinator,
    /// Time between passes.
    pub interval: Duration,
    /// Most bytes moved per second (items and blocks, both ways).
    pub bytes_per_sec: u64,
}

/// Keeps the data moved under a rate, sleeping when ahead of it. Shared by the comparisons
/// running at once.
pub(super) struct Pacer {
    clock: SharedClock,
    rate: u64,
    started: std::time::Instant,
    bytes: std::sync::atomic::AtomicU64,
}

impl Pacer {
    pub(super) fn new(clock: SharedClock, rate: u64) -> Self {
        let started = clock.monotonic();
        Self { clock, rate: rate.max(1), started, bytes: Default::default() }
    }

    pub(super) async fn spend(&self, bytes: u64) {
        let total =
            self.bytes.fetch_add(bytes, std::sync::atomic::Ordering::Relaxed).saturating_add(bytes);
        let due = Duration::from_secs_f64(total as f64 / self.rate as f64);
        let elapsed = self.clock.monotonic().saturating_duration_since(self.started);
        if let Some(ahead) = due.checked_sub(elapsed) {
            tokio::time::sleep(ahead).await;
        }
    }
}

/// What one comparison moved.
#[derive(Debug, Default, Clone, Copy)]
struct Moved {
    items: u64,
    blocks: u64,
    bytes: u64,
}

impl std::ops::AddAssign for Moved {
    fn add_assign(&mut self, m: Moved) {
        self.items += m.items;
        self.blocks += m.blocks;
        self.bytes += m.bytes;
    }
}

impl AntiEntropyWorker {
    /// Runs passes until `shutdown` fires: every `interval`, or at once when asked.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let control = self.coordinator.repair_control().clone();
        loop {
            let scope = tokio::select! {
                () = tokio::time::sleep(self.interval) => Scope::All,
                () = control.wake.notified() => match control.take_request() {
                    Some(scope) => scope,
                    None => continue,
                },
                _ = shutdown.wait_for(|s| *s) => return,
            };
            tokio::select! {
                () = self.pass(scope) => {}
                _ = shutdown.wait_for(|s| *s) => return,
            }
        }
    }

    /// One pass over `scope`, recording its progress.
    pub async fn pass(&self, scope: Scope) {
        let c = &self.coordinator;
        if c.ring().forgotten() {
            return;
        }
        let control = c.repair_control().clone();
        let layout = c.ring().layout();
        let me = c.node_id();
        let partitions: Vec<PartitionId> = match scope {
            Scope::All => layout.owned_partitions(me),
            Scope::Partition(p) => {
                layout.owned_partitions(me).into_iter().filter(|q| q.0 == p).collect()
            }
        };
        let clock = c.clock().clone();
        let started = clock.monotonic();
        {
            let mut progress = lock(&control.progress);
            *progress = RepairProgress {
                running: true,
                passes: progress.passes + 1,
                partition: match scope {
                    Scope::All => None,
                    Scope::Partition(p) => Some(p),
                },
                partitions_total: partitions.len() as u64,
                ..RepairProgress::default()
            };
        }
        tracing::debug!(worker = "anti-entropy", partitions = partitions.len(), "pass begins");
        let pacer = Pacer::new(clock.clone(), self.bytes_per_sec);
        let compare = |partition: PartitionId| {
            let (layout, pacer) = (&layout, &pacer);
            async move {
                let peer = {
                    let owners = layout.preference_list(partition);
                    let at = owners.iter().position(|n| *n == me).unwrap_or(0);
                    (1..owners.len())
                        .map(|i| owners[(at + i) % owners.len()])
                        .find(|n| *n != me && c.ring().is_alive(*n))
                };
                let outcome = match peer.and_then(|p| c.replica(p).map(|r| (p, r))) {
                    Some((peer, replica)) => {
                        let bits = layout.partition_bits;
                        self.sync_partition(peer, &replica, bits, partition, pacer).await
                    }
                    None => Err(None),
                };
                (partition, outcome)
            }
        };
        let mut comparisons =
            futures_util::stream::iter(partitions).map(compare).buffer_unordered(PARALLEL);
        while let Some((partition, outcome)) = comparisons.next().await {
            let elapsed = clock.monotonic().saturating_duration_since(started);
            let mut progress = lock(&control.progress);
            let mut totals = lock(&control.totals);
            progress.partitions_done += 1;
            match outcome {
                Ok(moved) => {
                    totals.partitions_compared += 1;
                    if moved.items + moved.blocks > 0 {
                        progress.partitions_repaired += 1;
                        totals.partitions_repaired += 1;
                    }
                    progress.items_moved += moved.items;
                    progress.blocks_moved += moved.blocks;
                    progress.bytes_moved += moved.bytes;
                    totals.items_moved += moved.items;
                    totals.blocks_moved += moved.blocks;
                    totals.bytes_moved += moved.bytes;
                }
                Err(error) => {
                    progress.partitions_skipped += 1;
                    if let Some(error) = error {
                        tracing::warn!(
                            worker = "anti-entropy",
                            partition = partition.0,
                            %error,
                            "comparison failed; the next pass retries it"
                        );
                    }
                }
            }
            progress.elapsed_ms = millis(elapsed);
            let left = progress.partitions_total.saturating_sub(progress.partitions_done);
            progress.eta_ms = (progress.partitions_done > 0)
                .then(|| millis(elapsed) / progress.partitions_done * left);
        }
        let progress = {
            let mut progress = lock(&control.progress);
            progress.running = false;
            progress.eta_ms = Some(0);
            progress.elapsed_ms = millis(clock.monotonic().saturating_duration_since(started));
            progress.clone()
        };
        let moved_any = progress.items_moved + progress.blocks_moved > 0;
        if moved_any || progress.partitions_skipped > 0 {
            tracing::info!(
                worker = "anti-entropy",
                partitions = progress.partitions_done,
                repaired = progress.partitions_repaired,
                skipped = progress.partitions_skipped,
                items = progress.items_moved,
                blocks = progress.blocks_moved,
                bytes = progress.bytes_moved,
                elapsed_ms = progress.elapsed_ms,
                "pass done"
            );
        } else {
            tracing::debug!(
                worker = "anti-entropy",
                partitions = progress.partitions_done,
                "pass done, replicas agree"
            );
        }
    }

    /// Compares one partition's two trees with `peer` and repairs what differs.
    async fn sync_partition(
        &self,
        peer: NodeId,
        remote: &Replica,
        bits: u8,
        partition: PartitionId,
        pacer: &Pacer,
    ) -> Result<Moved, Option<ReplicaError>> {
        let local = self.coordinator.replica(self.coordinator.node_id()).ok_or(None)?;
        let mut moved = Moved::default();
        for kind in [TreeKind::Items, TreeKind::Blocks] {
            let root = vec![(bits, partition.0)];
            let mine = local.tree_nodes(kind, root.clone()).await?;
            let theirs = remote.tree_nodes(kind, root).await?;
            let (Some(mine), Some(theirs)) = (mine.first(), theirs.first()) else { continue };
            // Differing nodes still to look into, depth first.
            let mut stack = vec![(bits, partition.0, *mine, *theirs)];
            while let Some((bits, prefix, mine, theirs)) = stack.pop() {
                if mine == theirs {
                    continue;
                }
                let small = mine.count.saturating_add(theirs.count) <= LIST_BELOW
                    || mine.count == 0
                    || theirs.count == 0;
                if small || child_level(bits).is_none() {
                    moved += self.reconcile(&local, remote, kind, bits, prefix, pacer).await?;
                    continue;
                }
                let mine = local.tree_children(kind, bits, prefix).await?.unwrap_or_default();
                let theirs = remote.tree_children(kind, bits, prefix).await?.unwrap_or_default();
                stack.extend(differing_children(mine, theirs));
            }
        }
        if moved.items + moved.blocks > 0 {
            tracing::debug!(
                worker = "anti-entropy",
                partition = partition.0,
                peer = format_args!("{peer:x}"),
                items = moved.items,
                blocks = moved.blocks,
                "partition repaired"
            );
        }
        Ok(moved)
    }

    /// Lists both sides' entries under `(bits, prefix)` page by page and moves what differs.
    async fn reconcile(
        &self,
        local: &Replica,
        remote: &Replica,
        kind: TreeKind,
        bits: u8,
        prefix: u32,
        pacer: &Pacer,
    ) -> Result<Moved, ReplicaError> {
        let mut moved = Moved::default();
        let mut after: Option<(u64, Vec<u8>)> = None;
        loop {
            let request = |after: Option<(u64, Vec<u8>)>| TreeEntries {
                kind,
                bits,
                prefix,
                after,
                limit: PAGE,
            };
            let (mine, mine_more) = local.tree_entries(request(after.clone())).await?;
            let (theirs, theirs_more) = remote.tree_entries(request(after.clone())).await?;
            let bound = page_bound(&mine, mine_more, &theirs, theirs_more);
            let (pull, push) = diff(&mine, &theirs, bound.as_ref());
            let m = match kind {
                TreeKind::Items => self.move_items(local, remote, pull, push).await?,
                TreeKind::Blocks => self.move_blocks(local, remote, pull, push).await?,
            };
            pacer.spend(m.bytes).await;
            moved += m;
            match bound {
                Some(bound) => after = Some(bound),
                None => return Ok(moved),
            }
        }
    }

    async fn move_items(
        &self,
        local: &Replica,
        remote: &Replica,
        pull: Vec<Vec<u8>>,
        push: Vec<Vec<u8>>,
    ) -> Result<Moved, ReplicaError> {
        let mut moved = Moved::default();
        let names = |names: Vec<Vec<u8>>| -> Vec<(TableId, Vec<u8>)> {
            names
                .into_iter()
                .filter_map(|n| n.split_first().map(|(t, k)| (TableId(*t), k.to_vec())))
                .collect()
        };
        for (from, to, names) in [(remote, local, names(pull)), (local, remote, names(push))] {
            if names.is_empty() {
                continue;
            }
            let siblings = from.items_get(names.clone()).await?;
            let items: Vec<_> = names
                .into_iter()
                .zip(siblings)
                .filter(|(_, s)| !s.is_empty())
                .map(|((table, key), s)| (table, key, s))
                .collect();
            moved.items += items.len() as u64;
            moved.bytes += items.iter().map(|(_, k, s)| item_size(k, s)).sum::<u64>();
            to.items_merge(items).await?;
        }
        Ok(moved)
    }

    async fn move_blocks(
        &self,
        local: &Replica,
        remote: &Replica,
        pull: Vec<Vec<u8>>,
        push: Vec<Vec<u8>>,
    ) -> Result<Moved, ReplicaError> {
        let mut moved = Moved::default();
        for (from, to, names) in [(remote, local, pull), (local, remote, push)] {
            for id in names.iter().filter_map(|n| BlockId::from_key(n)) {
                // A block deleted meanwhile needs no copy.
                let Some(data) = from.get_block(id).await? else { continue };
                moved.blocks += 1;
                moved.bytes += data.len() as u64;
                to.put_block(id, data, None).await?;
            }
        }
        Ok(moved)
    }
}

pub(super) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

pub(super) fn item_size(key: &[u8], siblings: &crate::causality::Siblings) -> u64 {
    let values: usize = siblings.iter().map(|s| s.value.as_ref().map_or(0, Vec::len)).sum();
    (key.len() + values) as u64
}

/// The children present on either side whose nodes differ (absent counts as empty).
fn differing_children(
    mine: (u8, Vec<(u32, NodeDigest)>),
    theirs: (u8, Vec<(u32, NodeDigest)>),
) -> Vec<(u8, u32, NodeDigest, NodeDigest)> {
    let level = mine.0.max(theirs.0);
    let mut all: std::collections::BTreeMap<u32, (NodeDigest, NodeDigest)> = Default::default();
    for (p, n) in mine.1 {
        all.entry(p).or_default().0 = n;
    }
    for (p, n) in theirs.1 {
        all.entry(p).or_default().1 = n;
    }
    all.into_iter().filter(|(_, (a, b))| a != b).map(|(p, (a, b))| (level, p, a, b)).collect()
}

/// How far two pages of entries (each in `(hash, name)` order, both starting after the same
/// point) are both complete: up to the smaller last entry of the pages that have more, or to
/// the end (`None`) when neither has.
fn page_bound(
    mine: &[Entry],
    mine_more: bool,
    theirs: &[Entry],
    theirs_more: bool,
) -> Option<(u64, Vec<u8>)> {
    let last =
        |page: &[Entry], more: bool| page.last().filter(|_| more).map(|e| (e.hash, e.name.clone()));
    match (last(mine, mine_more), last(theirs, theirs_more)) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The names to pull (theirs differ or only they have them) and to push (ours differ or only
/// we have them), among entries up to `bound`.
fn diff<'a>(
    mine: &'a [Entry],
    theirs: &'a [Entry],
    bound: Option<&(u64, Vec<u8>)>,
) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    type Page<'a> = std::collections::BTreeMap<(u64, &'a [u8]), u128>;
    let page = |entries: &'a [Entry]| -> Page<'a> {
        entries
            .iter()
            .filter(|e| bound.is_none_or(|(h, n)| (e.hash, &e.name) <= (*h, n)))
            .map(|e| ((e.hash, e.name.as_slice()), e.content))
            .collect()
    };
    let (mine, theirs) = (page(mine), page(theirs));
    // What `a` holds that `b` lacks or holds otherwise.
    let newer = |a: &Page<'_>, b: &Page<'_>| -> Vec<Vec<u8>> {
        a.iter().filter(|(k, c)| b.get(*k) != Some(c)).map(|((_, n), _)| n.to_vec()).collect()
    };
    (newer(&theirs, &mine), newer(&mine, &theirs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(hash: u64, name: &[u8], content: u128) -> Entry {
        Entry { hash, name: name.to_vec(), content }
    }

    #[test]
    fn pages_are_compared_only_as_far_as_both_are_complete() {
        let a = [entry(1, b"a", 1), entry(5, b"e", 1)];
        let b = [entry(1, b"a", 1), entry(3, b"c", 1)];
        assert_eq!(page_bound(&a, true, &b, true), Some((3, b"c".to_vec())));
        assert_eq!(page_bound(&a, false, &b, true), Some((3, b"c".to_vec())));
        assert_eq!(page_bound(&a, true, &b, false), Some((5, b"e".to_vec())));
        assert_eq!(page_bound(&a, false, &b, false), None);
        // Up to (3, c): only "c" differs, theirs to pull; "e" waits for the next page.
        let (pull, push) = diff(&a, &b, Some(&(3, b"c".to_vec())));
        assert_eq!((pull, push), (vec![b"c".to_vec()], vec![]));
        let (pull, push) = diff(&a, &b, None);
        assert_eq!((pull, push), (vec![b"c".to_vec()], vec![b"e".to_vec()]));
    }

    #[test]
    fn a_changed_entry_moves_both_ways_and_equal_ones_stay() {
        let a = [entry(1, b"a", 1), entry(2, b"b", 7)];
        let b = [entry(1, b"a", 1), entry(2, b"b", 8)];
        assert_eq!(diff(&a, &b, None), (vec![b"b".to_vec()], vec![b"b".to_vec()]));
    }

    #[test]
    fn requests_for_everything_absorb_requests_for_one_partition() {
        let control = RepairControl::default();
        control.request(Scope::Partition(3));
        assert_eq!(control.take_request(), Some(Scope::Partition(3)));
        control.request(Scope::Partition(3));
        control.request(Scope::All);
        control.request(Scope::Partition(4));
        assert_eq!(control.take_request(), Some(Scope::All));
        assert_eq!(control.take_request(), None);
    }

    #[test]
    fn only_differing_children_are_descended_into() {
        let n = |d: u128| NodeDigest { digest: d, count: 1 };
        let mine = (10, vec![(1, n(1)), (2, n(2)), (4, n(4))]);
        let theirs = (10, vec![(1, n(1)), (2, n(9)), (3, n(3))]);
        let d: Vec<u32> = differing_children(mine, theirs).iter().map(|c| c.1).collect();
        assert_eq!(d, vec![2, 3, 4]);
    }
}
