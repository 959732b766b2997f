//! Hinted handoff: hands the writes this node accepted as a stand-in back to their owners once
//! the failure detector sees the owner alive again, then deletes each hint. Bounded: a batch
//! per owner per pass; an owner that fails mid-batch is retried on the next pass.

use std::time::Duration;

use super::Coordinator;
use super::replica::Replica;
use crate::store::{HintOp, TableId, WriteOp};

/// Hints handed off per owner per pass.
const BATCH: usize = 256;

/// The handoff loop of one node.
#[derive(Debug, Clone)]
pub struct HandoffWorker {
    pub coordinator: Coordinator,
    pub interval: Duration,
}

impl HandoffWorker {
    pub async fn run(self, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        let mut ticker = tokio::time::interval(self.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = shutdown.changed() => return,
            }
            let handed = self.pass().await;
            if handed > 0 {
                let left: u64 = self.coordinator.pending_hints().iter().map(|(_, n)| n).sum();
                tracing::info!(worker = "handoff", handed, left, "handed off hints");
            }
        }
    }

    /// One pass over every owner with hints; returns how many hints were handed off.
    pub async fn pass(&self) -> usize {
        let c = &self.coordinator;
        let mut handed = 0;
        if c.ring().forgotten() {
            return 0;
        }
        let pending = c.pending_hints();
        if pending.is_empty() {
            return 0;
        }
        let (layout, view) = (c.ring().layout(), c.ring().view());
        for (owner, _) in pending {
            // Copies owed to a node that left the layout go to the data's owners now: the
            // leaver takes no copies once it said it holds nothing.
            let left = !layout.is_member(owner);
            let alive = c.ring().is_alive(owner);
            let forgotten = view.get(owner).is_some_and(|s| s.heartbeat == crate::ring::FORGOTTEN);
            if !left && !alive {
                continue;
            }
            let target = c.replica(owner);
            let Ok(hints) = c.store().hints_for(owner, BATCH) else { continue };
            for hint in hints {
                let delivered = match (&hint.op, left, &target) {
                    (HintOp::Item { .. } | HintOp::Block { .. }, true, _) => {
                        redirect(c, &hint.op).await
                    }
                    // A delete owed to a node the cluster forgot has nobody left to reach.
                    _ if left && forgotten => Ok(()),
                    (_, _, Some(target)) if alive => deliver(c, target, &hint.op).await,
                    _ => continue,
                };
                if let Err(e) = delivered {
                    tracing::debug!(worker = "handoff", owner = format_args!("{owner:x}"), error = %e, "handoff failed");
                    break;
                }
                if c.store().write(WriteOp::DeleteHint { owner, seq: hint.seq }).await.is_err() {
                    break;
                }
                handed += 1;
            }
        }
        handed
    }
}

/// Sends the data of an item or block hint to every current owner of that data but this node.
async fn redirect(c: &Coordinator, op: &HintOp) -> Result<(), super::ReplicaError> {
    let layout = c.ring().layout();
    let hash = match op {
        HintOp::Item { table, key } => crate::ring::item_hash(*table, key),
        HintOp::Block { id } => crate::store::block_hash(*id),
        _ => return Ok(()),
    };
    let owners = layout.preference_list(layout.partition_of(hash)).to_vec();
    for owner in owners.into_iter().filter(|o| *o != c.node_id()) {
        let target = c.replica(owner).ok_or_else(|| super::ReplicaError::Unavailable {
            reason: format!("no route to {owner:x}"),
        })?;
        deliver(c, &target, op).await?;
    }
    Ok(())
}

async fn deliver(
    c: &Coordinator,
    target: &Replica,
    op: &HintOp,
) -> Result<(), super::ReplicaError> {
    let local = &c.inner.local;
    match op {
        HintOp::Item { table, key } => {
            let siblings = local.get(TableId(*table), key.clone()).await?;
            target.merge(TableId(*table), key.clone(), siblings, None).await
        }
        HintOp::Block { id } => match local.get_block(*id).await? {
            Some(data) => target.put_block(*id, data, None).await,
            // Deleted here since (its object was overwritten): nothing to hand off.
            None => Ok(()),
        },
        HintOp::DeleteBlocks { ids } => target.delete_blocks(ids.clone()).await,
        HintOp::DeleteBody { data_id } => target.delete_body(*data_id).await,
    }
}
