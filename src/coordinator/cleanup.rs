//! Dropping what this node no longer owns: items and blocks of partitions outside its
//! preference lists, left by a rebalance (it was an owner before) or by sloppy writes it took
//! as a stand-in and has handed off. Only once no read needs previous owners any more (every
//! member of the layout holds its partitions, `Ring::read_transition`), and never data a hint
//! still refers to (checked by the store in the same transaction as the drop).

use std::time::Duration;

use super::Coordinator;
use crate::ring::PartitionId;
use crate::store::{TableId, WriteOp};

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

    /// One pass; returns `(items, blocks)` examined for dropping (hinted ones are kept by the
    /// store). Does nothing while a rebalance may still need this node's copies.
    pub async fn pass(&self) -> (usize, usize) {
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
            let drop: Vec<(TableId, Vec<u8>)> = page.into_iter().map(|(t, k, _)| (t, k)).collect();
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
            blocks += ids.len();
            if !ids.is_empty()
                && c.store()
                    .write(WriteOp::DropUnhinted { items: Vec::new(), blocks: ids })
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
}
