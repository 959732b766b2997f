//! Rebalancing: when a new layout gives this node partitions it did not own, it pulls their
//! items and blocks from the nodes that owned them before and merges them into its store, in
//! bounded pages, reporting progress. Until it has caught up, reads still find the data on the
//! owners that kept it (a layout change moves at most a few owners of a partition), and read
//! repair fills in what a read touches first.
//!
//! What is left to pull is durable (the store's meta table, with the layout version it was
//! computed against) and retried until every partition came in whole: a pull that fails, a
//! source that is down, or a restart in the middle never leaves a partition half-filled for
//! good. A layout change that went unrecorded (a crash between installing a layout and
//! recording what it gained) makes the node pull every partition it owns, from every other
//! member: slower, never wrong.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use super::Coordinator;
use crate::ring::{Layout, NodeId, PartitionId};
use crate::store::WriteOp;

/// Items or block ids asked for per page.
const PAGE: usize = 500;
/// Blocks copied at once per source.
const BLOCKS_IN_FLIGHT: usize = 8;
/// Meta key of the rebalance state.
const STATE_META: &str = "rebalance";
/// Pause before pulling again the partitions a pass could not finish.
const RETRY: Duration = Duration::from_secs(2);

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

/// Whose consensus rows a gained partition needs: a majority of its owners in the previous
/// layout, this node counting as one of them if it was. An owner the cluster forgot (removed
/// for good, its disk with it) does not count: its acceptor state is gone whatever waits.
struct Voters {
    me: NodeId,
    previous: Option<Arc<Layout>>,
    forgotten: BTreeSet<NodeId>,
    replication_factor: usize,
}

impl Voters {
    fn of(c: &Coordinator, layout: &Layout) -> Self {
        let previous = c
            .ring()
            .previous_layout()
            .filter(|p| p.partition_bits == layout.partition_bits && p.version < layout.version);
        let view = c.ring().view();
        let forgotten = view
            .states()
            .filter(|s| s.heartbeat == crate::ring::FORGOTTEN)
            .map(|s| s.info.id)
            .collect();
        let replication_factor = c.quorum().replication_factor;
        Self { me: c.node_id(), previous, forgotten, replication_factor }
    }

    /// How many nodes other than this one must give partition `p`'s rows, and who may.
    /// Without a previous layout (a restart that lost track of the change), a majority of N
    /// among `sources`.
    fn needed(&self, p: u32, sources: &[NodeId]) -> (usize, Vec<NodeId>) {
        let Some(previous) = &self.previous else {
            let of: Vec<NodeId> = sources.iter().copied().filter(|n| *n != self.me).collect();
            return (super::majority(self.replication_factor).min(of.len()), of);
        };
        let n = previous.replication_factor.clamp(1, previous.members.len().max(1));
        let owners: Vec<NodeId> = previous
            .preference_list(PartitionId(p))
            .iter()
            .copied()
            .take(n)
            .filter(|o| !self.forgotten.contains(o))
            .collect();
        if owners.is_empty() {
            return (0, Vec::new());
        }
        let needed = super::majority(owners.len()) - usize::from(owners.contains(&self.me));
        (needed, owners.into_iter().filter(|o| *o != self.me).collect())
    }
}

/// What this node still has to pull, durable across restarts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RebalanceState {
    /// The layout version `pending` accounts for.
    pub synced_through: u64,
    /// Partition -> nodes that may hold its data, most likely first.
    pub pending: BTreeMap<u32, Vec<NodeId>>,
}

fn add_sources(sources: &mut Vec<NodeId>, more: impl IntoIterator<Item = NodeId>, me: NodeId) {
    for node in more {
        if node != me && !sources.contains(&node) {
            sources.push(node);
        }
    }
}

impl RebalanceState {
    /// Accounts for the change from `old` to `new`: partitions gained are added with their
    /// previous owners as sources; pending ones no longer owned are dropped; pending ones still
    /// owned also learn `old`'s owners as sources.
    pub fn advance(&mut self, old: &Layout, new: &Layout, me: NodeId) {
        if old.partition_bits != new.partition_bits {
            self.pending.clear();
        }
        self.pending.retain(|p, _| new.preference_list(PartitionId(*p)).contains(&me));
        for (p, sources) in self.pending.iter_mut() {
            add_sources(sources, old.preference_list(PartitionId(*p)).iter().copied(), me);
        }
        for (p, before) in gained(old, new, me) {
            add_sources(self.pending.entry(p.0).or_default(), before, me);
        }
        if old.members.is_empty() {
            // A joining node never saw the layout before this one: whatever it now owns may be
            // anywhere, so it asks the other owners, then every member.
            self.pull_all_owned(new, me);
        }
        self.synced_through = new.version;
    }

    fn pull_all_owned(&mut self, layout: &Layout, me: NodeId) {
        let members: Vec<NodeId> = layout.members.iter().map(|m| m.id).collect();
        for p in layout.owned_partitions(me) {
            let sources = self.pending.entry(p.0).or_default();
            add_sources(sources, layout.preference_list(p).iter().copied(), me);
            add_sources(sources, members.iter().copied(), me);
        }
    }

    /// The state to resume from, given what was stored and the layout the node runs. A stored
    /// state behind `current` means a change went unrecorded: every partition this node owns is
    /// pulled again, from its other owners first, then from every other member.
    pub fn resume(stored: Option<RebalanceState>, current: &Layout, me: NodeId) -> Self {
        let fresh = || RebalanceState { synced_through: current.version, pending: BTreeMap::new() };
        let mut state = match stored {
            Some(s) if s.synced_through >= current.version => return s,
            Some(s) => s,
            // A node's first start: an empty or single-node layout has nothing to pull from.
            None if current.members.len() <= 1 => return fresh(),
            None => fresh(),
        };
        state.pull_all_owned(current, me);
        state.synced_through = current.version;
        state
    }
}

impl RebalanceWorker {
    /// Runs until `shutdown` fires: pulls what is pending, retries what failed, and accounts
    /// for every layout change.
    pub async fn run(self, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        let ring = self.coordinator.ring().clone();
        let me = ring.me();
        let mut layouts = ring.subscribe();
        let mut current: Arc<Layout> = layouts.borrow_and_update().clone();
        // Partitions of the current layout whose items came in (see `pull_waiting`).
        let mut items_in = BTreeSet::new();
        let stored = self.load().await;
        let mut state = RebalanceState::resume(stored.clone(), &current, me);
        if stored.as_ref() != Some(&state) {
            self.save(&state).await;
        }
        loop {
            self.publish(&state);
            if !state.pending.is_empty() {
                let done = tokio::select! {
                    done = self.pull_waiting(&state.pending, &mut items_in) => done,
                    _ = shutdown.wait_for(|s| *s) => return,
                };
                for p in done {
                    state.pending.remove(&p);
                }
                self.save(&state).await;
                // Again after each pass, not only from the pulls' own accounting: a pass that
                // took in only consensus rows (the items came in on an earlier one) counts no
                // partition as pulled.
                self.publish(&state);
                if state.pending.is_empty() {
                    tracing::info!(worker = "rebalance", "every gained partition is in");
                } else {
                    tracing::info!(
                        worker = "rebalance",
                        partitions_left = state.pending.len(),
                        "will retry the partitions not pulled whole"
                    );
                }
            }
            let retry = !state.pending.is_empty();
            // The select yields plain values: a `watch::Ref` held across the awaits below
            // would make this future `!Send`.
            let layout_changed = tokio::select! {
                changed = layouts.changed() => {
                    if changed.is_err() {
                        return; // the ring is gone
                    }
                    true
                }
                () = tokio::time::sleep(RETRY), if retry => false,
                _ = shutdown.wait_for(|s| *s) => return,
            };
            if layout_changed {
                let next = layouts.borrow_and_update().clone();
                state.advance(&current, &next, me);
                current = next;
                items_in.clear();
                self.save(&state).await;
            }
        }
    }

    /// Reports what is left to pull, and once nothing is, tells the others by gossip that this
    /// node holds its partitions (reads stop asking the previous owners once every member
    /// does).
    fn publish(&self, state: &RebalanceState) {
        let pending = state.pending.len() as u64;
        self.coordinator.repair_control().update_rebalance(|p| p.partitions_pending = pending);
        if state.pending.is_empty() {
            self.coordinator.ring().set_synced(state.synced_through);
        }
    }

    async fn load(&self) -> Option<RebalanceState> {
        let store = self.coordinator.store().clone();
        let bytes = tokio::task::spawn_blocking(move || store.get_meta(STATE_META)).await;
        match bytes {
            Ok(Ok(Some(bytes))) => postcard::from_bytes(&bytes)
                .inspect_err(|e| tracing::warn!(worker = "rebalance", error = %e, "unreadable rebalance state; pulling every owned partition"))
                .ok(),
            Ok(Ok(None)) => None,
            Ok(Err(e)) => {
                tracing::warn!(worker = "rebalance", error = %e, "cannot read the rebalance state");
                None
            }
            Err(_) => None,
        }
    }

    async fn save(&self, state: &RebalanceState) {
        let Ok(bytes) = postcard::to_stdvec(state) else { return };
        let store = self.coordinator.store().clone();
        let saved = tokio::task::spawn_blocking(move || store.put_meta(STATE_META, &bytes)).await;
        if !matches!(saved, Ok(Ok(()))) {
            tracing::warn!(worker = "rebalance", "cannot record the rebalance state");
        }
    }

    /// One pass over `pending`: each partition's items and blocks from its first live source,
    /// and its items once more from a second live source when there is one, so that an item
    /// version a majority of the previous owners held (a write acknowledged by W of them, a
    /// conditional write's decision) is pulled even if the first source missed it. The
    /// consensus rows come from a majority of the previous owners (`Voters`): each fences off
    /// rounds of older layouts before it answers, so that this node answers a conditional
    /// write's prepare as that majority would have (`Acceptor::absorb`). A partition is done
    /// only once every pull came in and the rows of such a majority did: while most previous
    /// owners are down it waits for them, as their own rounds would. Returns the partitions done.
    pub async fn pull(&self, pending: &BTreeMap<u32, Vec<NodeId>>) -> Vec<u32> {
        self.pull_waiting(pending, &mut BTreeSet::new()).await
    }

    /// [`RebalanceWorker::pull`], where `items_in` names partitions whose items and blocks
    /// came in whole on an earlier pass of this layout (only their rows are still wanted: a
    /// partition waiting for its previous owners is not scanned again every retry); the
    /// partitions whose items come in on this pass are added to it.
    async fn pull_waiting(
        &self,
        pending: &BTreeMap<u32, Vec<NodeId>>,
        items_in: &mut BTreeSet<u32>,
    ) -> Vec<u32> {
        let c = &self.coordinator;
        let layout = c.ring().layout();
        let bits = layout.partition_bits;
        let voters = Voters::of(c, &layout);
        // Per source, the partitions to pull whole, those to pull the items of, and those to
        // pull only the consensus rows of, so that each source is scanned at most three times.
        let mut plan: BTreeMap<NodeId, [Vec<u32>; 3]> = BTreeMap::new();
        let mut unreachable = 0usize;
        let mut short_of_majority = 0usize;
        let mut item_planned = Vec::new();
        // Per partition planned, how many voters' rows it needs and who they are.
        let mut wanted: BTreeMap<u32, (usize, Vec<NodeId>)> = BTreeMap::new();
        let live = |n: &NodeId| *n != c.node_id() && c.ring().is_alive(*n);
        for (p, sources) in pending {
            let item_sources: Vec<NodeId> = if items_in.contains(p) {
                Vec::new()
            } else {
                let item_sources: Vec<NodeId> =
                    sources.iter().copied().filter(live).take(2).collect();
                if item_sources.is_empty() {
                    unreachable += 1;
                    continue;
                }
                item_planned.push(*p);
                item_sources
            };
            for (i, source) in item_sources.iter().enumerate() {
                plan.entry(*source).or_default()[i].push(*p);
            }
            let (needed, of) = voters.needed(*p, sources);
            let row_sources: Vec<NodeId> = of.iter().copied().filter(live).take(needed).collect();
            for source in &row_sources {
                if !item_sources.contains(source) {
                    plan.entry(*source).or_default()[2].push(*p);
                }
            }
            if row_sources.len() < needed {
                short_of_majority += 1;
            }
            wanted.insert(*p, (needed, of));
        }
        if short_of_majority > 0 {
            // What only the silent ones accepted would be out of reach: the new owners alone
            // could decide over a value a majority of the old ones chose.
            tracing::warn!(
                worker = "rebalance",
                partitions = short_of_majority,
                "most previous owners of these partitions are down; waiting for them before \
                 they count as pulled"
            );
        }
        tracing::info!(
            worker = "rebalance",
            partitions = pending.len(),
            sources = plan.len(),
            unreachable,
            "pulling newly owned partitions"
        );
        let (mut items, mut blocks, mut rows) = (0usize, 0usize, 0usize);
        let mut failed = BTreeSet::new();
        let mut rows_from: BTreeMap<u32, BTreeSet<NodeId>> = BTreeMap::new();
        let clock = c.clock().clone();
        for (source, [whole, items_only, rows_only]) in plan {
            let mut with_rows: Vec<u32> =
                whole.iter().chain(&items_only).chain(&rows_only).copied().collect();
            with_rows.sort_unstable();
            // The rows first: the fence they raise on the source holds for the items after.
            match self.pull_rows(source, bits, &with_rows, layout.version).await {
                Ok(n) => {
                    rows += n;
                    for p in &with_rows {
                        rows_from.entry(*p).or_default().insert(source);
                    }
                }
                Err(reason) => {
                    failed.extend(with_rows);
                    tracing::warn!(
                        worker = "rebalance",
                        source = format_args!("{source:x}"),
                        reason,
                        "consensus row pull failed; will retry"
                    );
                    continue;
                }
            }
            for (partitions, with_blocks) in [(whole, true), (items_only, false)] {
                if partitions.is_empty() {
                    continue;
                }
                let started = clock.monotonic();
                match self.pull_from(source, bits, &partitions, with_blocks).await {
                    Ok((i, b, bytes)) => {
                        let took = clock.monotonic().saturating_duration_since(started);
                        let whole = if with_blocks { partitions.len() as u64 } else { 0 };
                        c.repair_control().update_rebalance(|p| {
                            p.pulled(whole, i as u64, b as u64, bytes, took);
                        });
                        items += i;
                        blocks += b;
                        tracing::info!(
                            worker = "rebalance",
                            source = format_args!("{source:x}"),
                            items,
                            blocks,
                            rows,
                            "pulled from a previous owner"
                        );
                    }
                    Err(reason) => {
                        failed.extend(partitions);
                        tracing::warn!(
                            worker = "rebalance",
                            source = format_args!("{source:x}"),
                            reason,
                            "pull failed; will retry"
                        );
                    }
                }
            }
        }
        items_in.extend(item_planned.into_iter().filter(|p| !failed.contains(p)));
        let done: Vec<u32> = wanted
            .into_iter()
            .filter(|(p, _)| !failed.contains(p))
            .filter(|(p, (needed, of))| {
                let pulled = rows_from.get(p);
                of.iter().filter(|n| pulled.is_some_and(|from| from.contains(n))).count() >= *needed
            })
            .map(|(p, _)| p)
            .collect();
        tracing::info!(
            worker = "rebalance",
            items,
            blocks,
            rows,
            partitions_done = done.len(),
            "rebalance pass done"
        );
        done
    }

    /// Takes in every consensus row of `partitions` from `source`, which first fences off
    /// rounds of layouts below `layout`; the number of rows.
    async fn pull_rows(
        &self,
        source: NodeId,
        bits: u8,
        partitions: &[u32],
        layout: u64,
    ) -> Result<usize, &'static str> {
        let c = &self.coordinator;
        let replica = c.replica(source).ok_or("no transport to the source")?;
        let mut rows = 0;
        let mut after = None;
        loop {
            let (page, last) = replica
                .partition_paxos((bits, partitions.to_vec()), layout, after.clone(), PAGE)
                .await
                .map_err(|_| "consensus row page")?;
            rows += page.len();
            if !page.is_empty() {
                c.store()
                    .write(WriteOp::PaxosAbsorb { rows: page })
                    .await
                    .map_err(|_| "local consensus row write")?;
            }
            if last.is_none() || last == after {
                return Ok(rows);
            }
            after = last;
        }
    }

    /// Pulls every item (and with `with_blocks`, every block) of `partitions` from `source`;
    /// `(items, blocks, bytes)` merged.
    async fn pull_from(
        &self,
        source: NodeId,
        bits: u8,
        partitions: &[u32],
        with_blocks: bool,
    ) -> Result<(usize, usize, u64), &'static str> {
        let c = &self.coordinator;
        let replica = c.replica(source).ok_or("no transport to the source")?;
        let (mut items, mut blocks, mut bytes) = (0usize, 0usize, 0u64);
        let mut after = None;
        loop {
            let (page, last) = replica
                .partition_items((bits, partitions.to_vec()), after.clone(), PAGE)
                .await
                .map_err(|_| "item page")?;
            // A page's merges queue at once, so that the store folds them into a few commits.
            let writes = page.into_iter().map(|(table, key, siblings)| {
                bytes += super::anti_entropy::item_size(&key, &siblings);
                items += 1;
                c.store().write(WriteOp::Merge { table, key, siblings, hint_for: None })
            });
            for written in futures_util::future::join_all(writes).await {
                written.map_err(|_| "local item write")?;
            }
            if last.is_none() || last == after {
                break;
            }
            after = last;
        }
        if !with_blocks {
            return Ok((items, 0, bytes));
        }
        let mut after = None;
        loop {
            let (ids, last) = replica
                .partition_blocks((bits, partitions.to_vec()), after, PAGE)
                .await
                .map_err(|_| "block page")?;
            // A few blocks in flight at once: reads from the source overlap local commits.
            let copies = futures_util::stream::iter(ids).map(|id| {
                let replica = replica.clone();
                async move {
                    // A block gone meanwhile was deleted: nothing to copy.
                    let Some(data) = replica.get_block(id).await.map_err(|_| "block read")? else {
                        return Ok(0);
                    };
                    let len = data.len() as u64;
                    c.store()
                        .write(WriteOp::PutBlock { id, data, hint_for: None })
                        .await
                        .map_err(|_| "local block write")?;
                    Ok::<u64, &'static str>(len)
                }
            });
            let mut copies = copies.buffer_unordered(BLOCKS_IN_FLIGHT);
            while let Some(copied) = copies.next().await {
                let len = copied?;
                if len > 0 {
                    bytes += len;
                    blocks += 1;
                }
            }
            if last.is_none() || last == after {
                break;
            }
            after = last;
        }
        Ok((items, blocks, bytes))
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
        // A joining node's empty layout names no previous owner...
        assert!(gained(&Layout::empty(6), &three, 2).is_empty());
        // ...so it pulls everything it now owns, from every other member.
        let mut joining = RebalanceState::default();
        joining.advance(&Layout::empty(6), &three, 2);
        assert_eq!(joining.pending.len(), three.owned_partitions(2).len());
        assert!(joining.pending.values().all(|s| s.contains(&1) && s.contains(&3)));
    }

    #[test]
    fn the_state_follows_layout_changes() {
        let one = Layout::single(1, 6);
        let three = Layout::next(&one, members(&[1, 2, 3]), 3).unwrap();
        let four = Layout::next(&three, members(&[1, 2, 3, 4]), 3).unwrap();
        let five = Layout::next(&four, members(&[1, 2, 3, 4, 5]), 3).unwrap();
        let mut state = RebalanceState { synced_through: three.version, ..Default::default() };
        state.advance(&three, &four, 4);
        assert_eq!(state.synced_through, four.version);
        assert_eq!(state.pending.len(), four.owned_partitions(4).len());
        // Nothing pulled yet when node 5 joins: partitions node 4 lost to it are dropped, the
        // rest keep their sources and learn the owners of the layout in between.
        state.advance(&four, &five, 4);
        let owned: Vec<u32> = five.owned_partitions(4).iter().map(|p| p.0).collect();
        assert!(state.pending.keys().all(|p| owned.contains(p)));
        assert!(state.pending.len() < four.owned_partitions(4).len(), "node 5 took some");
        for (p, sources) in &state.pending {
            assert!(!sources.contains(&4));
            for owner in three.preference_list(PartitionId(*p)) {
                assert!(sources.contains(owner), "partition {p}: {sources:?}");
            }
        }
    }

    #[test]
    fn resuming_behind_the_layout_pulls_every_owned_partition() {
        let one = Layout::single(1, 6);
        let three = Layout::next(&one, members(&[1, 2, 3]), 3).unwrap();
        // A first start with nothing to pull from.
        assert!(RebalanceState::resume(None, &one, 1).pending.is_empty());
        assert!(RebalanceState::resume(None, &Layout::empty(6), 2).pending.is_empty());
        // Up to date: resumed as stored.
        let stored = RebalanceState { synced_through: three.version, pending: BTreeMap::new() };
        assert_eq!(RebalanceState::resume(Some(stored.clone()), &three, 2), stored);
        // Behind (a change went unrecorded), or no state with a multi-node layout: everything
        // owned is pulled, from the other owners first.
        let behind = RebalanceState { synced_through: one.version, pending: BTreeMap::new() };
        for resumed in [
            RebalanceState::resume(Some(behind), &three, 2),
            RebalanceState::resume(None, &three, 2),
        ] {
            assert_eq!(resumed.synced_through, three.version);
            assert_eq!(resumed.pending.len(), three.owned_partitions(2).len());
            for (p, sources) in &resumed.pending {
                let others: Vec<u64> = three
                    .preference_list(PartitionId(*p))
                    .iter()
                    .copied()
                    .filter(|n| *n != 2)
                    .collect();
                assert_eq!(sources[..others.len()], others[..]);
            }
        }
    }
}
