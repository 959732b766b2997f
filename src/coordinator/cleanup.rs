//! Dropping what this node no longer owns: items and blocks of partitions outside its
//! preference lists, left by a rebalance (it was an owner before) or by sloppy writes it took
//! as a stand-in and has handed off. Only once no read needs previous owners any more (every
//! member of the layout holds its partitions, `Ring::read_transition`); only what every
//! current owner confirms it holds (an owner that lacks it is sent this copy, and the copy
//! stays until the next pass); and never data a hint still refers to (checked by the store in
//! the same transaction as the drop). Confirming per item and block costs reads, but a copy is
//! never the last one when it goes, whatever happened to the rebalance before.

use std::time::Duration;

use super::Coordinator;
use crate::causality::Siblings;
use crate::ring::{Layout, PartitionId, item_hash};
use crate::store::{BlockId, TableId, WriteOp};

/// Items or block ids examined per page (and dropped per transaction).
const PAGE: usize = 500;

/// The clean-up loop of one node.
#[derive(Debug, Clone)]
pub struct CleanupWorker {
    pub coordinator: Coordinator,
    pub interval: Duration,
}

impl CleanupWorker {
    pub async fn run(self, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        let mut ticker = tokio::time::interval(self.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = shutdown.wait_for(|s| *s) => return,
            }
            let (items, blocks) = self.pass().await;
            if items + blocks > 0 {
                tracing::info!(
                    worker = "cleanup",
                    items,
                    blocks,
                    "dropped data this node no longer owns"
                );
            }
        }
    }

    /// One pass; returns `(items, blocks)` confirmed on every owner and dropped (except those
    /// a hint still refers to, which the store keeps). Does nothing while a rebalance may still
    /// need this node's copies.
    pub async fn pass(&self) -> (usize, usize) {
        let c = &self.coordinator;
        if c.ring().forgotten() {
            // The cluster stopped waiting for this node: what it holds may be versions deleted
            // and purged since, so it drops them rather than hand them back.
            if let Ok(entries @ 1..) = c.store().forget_everything().await {
                tracing::warn!(worker = "cleanup", entries, "forgotten by the cluster: dropped");
            }
            return (0, 0);
        }
        let dropped = self.drop_unowned().await;
        // Out of the layout and holding nothing: announced, so that the purge stops waiting.
        let layout = c.ring().layout();
        let out = !layout.members.is_empty() && !layout.is_member(c.node_id());
        c.ring().set_drained(out && c.store().holds_nothing().unwrap_or(false));
        dropped
    }

    async fn drop_unowned(&self) -> (usize, usize) {
        let c = &self.coordinator;
        let ring = c.ring();
        let layout = ring.layout();
        if layout.members.is_empty() || ring.read_transition().is_some() {
            return (0, 0);
        }
        let me = c.node_id();
        let unowned: Vec<u32> = (0..layout.partition_count())
            .filter(|p| !layout.preference_list(PartitionId(*p)).contains(&me))
            .collect();
        if unowned.is_empty() {
            return (0, 0);
        }
        let filter = (layout.partition_bits, unowned);
        let local = &c.inner.local;
        let (mut items, mut blocks) = (0, 0);
        let mut after = None;
        loop {
            let Ok((page, last)) = local.partition_items(filter.clone(), after.clone(), PAGE).await
            else {
                break;
            };
            let mut drop = Vec::new();
            for (table, key, siblings) in page {
                if self.owners_hold_item(&layout, table, &key, &siblings).await {
                    drop.push((table, key));
                }
            }
            items += drop.len();
            if !drop.is_empty()
                && c.store()
                    .write(WriteOp::DropUnhinted { items: drop, blocks: Vec::new() })
                    .await
                    .is_err()
            {
                break;
            }
            if last.is_none() || last == after {
                break;
            }
            after = last;
        }
        let mut after = None;
        loop {
            let Ok((ids, last)) = local.partition_blocks(filter.clone(), after, PAGE).await else {
                break;
            };
            let mut drop = Vec::new();
            for id in ids {
                if self.owners_hold_block(&layout, id).await {
                    drop.push(id);
                }
            }
            blocks += drop.len();
            if !drop.is_empty()
                && c.store()
                    .write(WriteOp::DropUnhinted { items: Vec::new(), blocks: drop })
                    .await
                    .is_err()
            {
                break;
            }
            if last.is_none() || last == after {
                break;
            }
            after = last;
        }
        (items, blocks)
    }

    /// Whether every owner of the item holds a version covering `siblings`. An owner that does
    /// not is sent them (as read repair would); the caller keeps its copy for now.
    async fn owners_hold_item(
        &self,
        layout: &Layout,
        table: TableId,
        key: &[u8],
        siblings: &Siblings,
    ) -> bool {
        let c = &self.coordinator;
        let owners = layout.preference_list(layout.partition_of(item_hash(table.0, key)));
        let mut all = !owners.is_empty();
        for owner in owners.iter().copied().filter(|o| *o != c.node_id()) {
            let Some(replica) = c.replica(owner) else { return false };
            match replica.get(table, key.to_vec()).await {
                Ok(held) if held.covers(siblings) => {}
                Ok(_) => {
                    let _ = replica.merge(table, key.to_vec(), siblings.clone(), None).await;
                    all = false;
                }
                Err(_) => all = false,
            }
        }
        all
    }

    /// Whether every owner of the block holds it; one that does not is sent this copy.
    async fn owners_hold_block(&self, layout: &Layout, id: BlockId) -> bool {
        let c = &self.coordinator;
        let partition = layout.partition_of(crate::store::block_hash(id));
        let owners = layout.preference_list(partition);
        let mut all = !owners.is_empty();
        for owner in owners.iter().copied().filter(|o| *o != c.node_id()) {
            let Some(replica) = c.replica(owner) else { return false };
            match replica.get_block(id).await {
                Ok(Some(_)) => {}
                Ok(None) => {
                    if let Ok(Some(data)) = c.inner.local.get_block(id).await {
                        let _ = replica.put_block(id, data, None).await;
                    }
                    all = false;
                }
                Err(_) => all = false,
            }
        }
        all
    }
}
