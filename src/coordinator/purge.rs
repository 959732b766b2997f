//! Purging tombstones: a deleted item is forgotten everywhere once it is old enough and the
//! whole ring agrees that nothing could bring it back.
//!
//! A tombstone is what keeps an older version from coming back: drop it while some copy of that
//! version survives anywhere (an owner that missed the delete, a stand-in still holding a hint,
//! a previous owner not yet cleaned up) and the next hand-off, clean-up or anti-entropy round
//! restores the version. So a tombstone goes only when
//!
//! 1. its newest sibling is older than the grace period (`tombstone_grace`), which covers
//!    requests, read repairs and background copies still in flight, and the ring is not
//!    between layouts (no previous owner still serves reads);
//! 2. **every member** of the layout answers that its copy of the item is absent or covered by
//!    the tombstone and that no hint on it refers to the item, and so does every node that left
//!    the layout and has not announced that it holds nothing (`PeerState::drained`): its
//!    clean-up would send its copies to the owners. One that does not answer postpones the
//!    purge, however long it has been silent: a node that is down, paused or cut off may hold
//!    the only stale copy. A node that will not come back is forgotten by the operator
//!    (`ringvault cluster forget`), which marks it drained for the whole cluster;
//! 3. then the members that do not own the item forget their copies first, and only if all of
//!    them did, the owners forget theirs. A purge cut short by a crash or a failed call leaves
//!    tombstones on some owners, which anti-entropy spreads back and a later pass purges:
//!    never a stale version without the tombstone that beats it.
//!
//! The store removes a copy only if the tombstone still covers it and no hint refers to it
//! (checked in the same transaction), so a write that lands between the check and the purge
//! survives. Each partition's tombstones are purged by its first owner: one node does the
//! ring-wide round per item. A tombstone four graces old is purged by whichever node holds
//! it (one that landed late, after its first owner had purged it, would otherwise linger).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::Coordinator;
use crate::causality::Siblings;
use crate::ring::{Layout, NodeId, item_hash};
use crate::store::TableId;

/// Tombstones checked with the members per round.
const BATCH: usize = 256;

/// One tombstoned item: `(table, key, siblings)`.
type Item = (TableId, Vec<u8>, Siblings);

/// Purge totals since this node started.
#[derive(Debug, Default)]
pub struct PurgeStats {
    purged: AtomicU64,
    postponed: AtomicU64,
}

impl PurgeStats {
    /// Tombstones this node purged ring-wide.
    pub fn purged(&self) -> u64 {
        self.purged.load(Ordering::Relaxed)
    }

    /// Batches put off because a member did not answer or did not agree.
    pub fn postponed(&self) -> u64 {
        self.postponed.load(Ordering::Relaxed)
    }
}

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PurgePass {
    /// Items forgotten on every member.
    pub purged: usize,
    /// Due items some member held a newer or hinted copy of, or that a member could not be
    /// asked about (retried on a later pass).
    pub kept: usize,
}

/// The tombstone purge of one node.
#[derive(Debug, Clone)]
pub struct PurgeWorker {
    pub coordinator: Coordinator,
    pub interval: Duration,
    /// How old a tombstone must be before it may go.
    pub grace: Duration,
}

impl PurgeWorker {
    pub async fn run(self, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        let mut ticker = tokio::time::interval(self.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = shutdown.wait_for(|s| *s) => return,
            }
            let pass = self.pass().await;
            if pass.purged + pass.kept > 0 {
                tracing::info!(
                    worker = "purge",
                    purged = pass.purged,
                    kept = pass.kept,
                    "purged tombstones older than the grace period"
                );
            }
        }
    }

    /// One pass over the due tombstones of the partitions this node is first owner of, then
    /// over those overdue (four graces old) that this node holds for any reason: a tombstone
    /// that reached an owner only after its first owner purged it (a late copy) would
    /// otherwise wait for anti-entropy to bring it back to the first owner.
    pub async fn pass(&self) -> PurgePass {
        let c = &self.coordinator;
        let ring = c.ring();
        let layout = ring.layout();
        let mut pass = PurgePass::default();
        if layout.members.is_empty() || ring.read_transition().is_some() {
            return pass;
        }
        let grace_ms = i64::try_from(self.grace.as_millis()).unwrap_or(i64::MAX);
        let now = c.inner.clock.now().timestamp_millis();
        self.sweep(&layout, now.saturating_sub(grace_ms), true, &mut pass).await;
        let overdue = now.saturating_sub(grace_ms.saturating_mul(4));
        self.sweep(&layout, overdue, false, &mut pass).await;
        c.inner.purge.purged.fetch_add(pass.purged as u64, Ordering::Relaxed);
        pass
    }

    /// Purges the tombstones older than `cutoff`: of the partitions this node leads, or
    /// (`led` false) of the others.
    async fn sweep(&self, layout: &Arc<Layout>, cutoff: i64, led: bool, pass: &mut PurgePass) {
        let c = &self.coordinator;
        let me = c.node_id();
        let mut after: Option<Vec<u8>> = None;
        loop {
            let view = layout.clone();
            let store = c.store().clone();
            let from = after.clone();
            let page = c
                .inner
                .local
                .blocking(move || {
                    let wanted = |table: TableId, key: &[u8]| {
                        let partition = view.partition_of(item_hash(table.0, key));
                        (view.preference_list(partition).first() == Some(&me)) == led
                    };
                    store.tombstones_before(cutoff, from.as_deref(), BATCH, &wanted)
                })
                .await;
            let Ok(page) = page else { break };
            if !page.items.is_empty() {
                let total = page.items.len();
                let purged = self.purge_batch(layout, page.items).await;
                pass.purged += purged;
                pass.kept += total - purged;
            }
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
    }

    /// Checks `items` with every member, then purges those all agreed on: non-owners first,
    /// owners after. Returns how many went from every owner.
    async fn purge_batch(&self, layout: &Layout, items: Vec<Item>) -> usize {
        let c = &self.coordinator;
        let mut members: Vec<NodeId> = layout.members.iter().map(|m| m.id).collect();
        // Every node that left the layout and has not announced that it holds nothing
        // (`drained`) may hold copies its clean-up would send back to the owners: it is asked
        // too, and postpones the purge while it does not answer, however long it has been
        // silent (down, cut off, or killed before its clean-up). An operator who knows it will
        // not come back forgets it (`Ring::forget_node`), which marks it drained everywhere.
        // See ARCHITECTURE, invariant 15.
        let leavers: Vec<NodeId> = c
            .ring()
            .view()
            .states()
            .filter(|s| !s.drained && !members.contains(&s.info.id) && s.info.id != c.node_id())
            .map(|s| s.info.id)
            .collect();
        members.extend(leavers);
        let mut agreed = vec![true; items.len()];
        let checks = members.iter().map(|m| {
            let (replica, items) = (c.replica(*m), items.clone());
            let up = *m == c.node_id() || c.alive(*m);
            async move {
                match replica {
                    Some(r) if up => r.purgeable(items).await.ok(),
                    _ => None,
                }
            }
        });
        for answer in futures_util::future::join_all(checks).await {
            match answer {
                Some(answer) if answer.len() == items.len() => {
                    agreed.iter_mut().zip(answer).for_each(|(a, b)| *a &= b);
                }
                _ => {
                    c.inner.purge.postponed.fetch_add(1, Ordering::Relaxed);
                    return 0;
                }
            }
        }
        let items: Vec<Item> =
            items.into_iter().zip(agreed).filter_map(|(item, ok)| ok.then_some(item)).collect();
        if items.is_empty() {
            c.inner.purge.postponed.fetch_add(1, Ordering::Relaxed);
            return 0;
        }
        // Who owns what: non-owners forget first, so that no stale copy outlives the owners'
        // tombstones.
        let owners: Vec<Vec<NodeId>> = items
            .iter()
            .map(|(table, key, _)| {
                layout.preference_list(layout.partition_of(item_hash(table.0, key))).to_vec()
            })
            .collect();
        let mut failed = vec![false; items.len()];
        for owning in [false, true] {
            let mut per_node: BTreeMap<NodeId, Vec<usize>> = BTreeMap::new();
            for (i, owned_by) in owners.iter().enumerate() {
                if failed[i] {
                    continue;
                }
                for m in &members {
                    if owned_by.contains(m) == owning {
                        per_node.entry(*m).or_default().push(i);
                    }
                }
            }
            let calls = per_node.into_iter().map(|(node, indexes)| {
                let batch: Vec<Item> = indexes.iter().map(|i| items[*i].clone()).collect();
                let replica = c.replica(node);
                async move {
                    let done = match replica {
                        Some(r) => r.purge(batch).await.is_ok(),
                        None => false,
                    };
                    (indexes, done)
                }
            });
            for (indexes, done) in futures_util::future::join_all(calls).await {
                if !done {
                    indexes.into_iter().for_each(|i| failed[i] = true);
                }
            }
        }
        failed.iter().filter(|f| !**f).count()
    }
}
