//! Scrubbing: a periodic, throttled walk over every block this node stores that checks each
//! one against its checksum. A block that fails is fetched from another node that holds an
//! intact copy (its owners first, then the stand-ins) and written back over the bad one; every
//! such event is logged and counted. Reads verify blocks too, and restore the copies they found
//! corrupt or missing on an owner (`Coordinator::get_block`), so scrubbing is for the blocks
//! nobody reads. Anti-entropy cannot see bit rot: a block's Merkle entry is its checksum and
//! length, which rot leaves as they were.

use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::{Notify, watch};

use super::Coordinator;
use super::anti_entropy::{Pacer, lock, millis};
use crate::ring::NodeId;
use crate::store::{BlockId, WriteOp};

/// Blocks checked per step (one read transaction), at most.
const STEP_BLOCKS: usize = 256;
/// Bytes checked per step, at most.
const STEP_BYTES: u64 = 8 << 20;

/// The progress of the current scrub pass, or of the last one (also the admin API's JSON).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ScrubProgress {
    pub running: bool,
    /// Passes begun since the node started.
    pub passes: u64,
    pub blocks_checked: u64,
    pub bytes_checked: u64,
    /// Blocks whose stored checksum did not match.
    pub corrupt: u64,
    /// Corrupt blocks replaced by an intact copy from another node.
    pub repaired: u64,
    /// Corrupt blocks no other node could supply (yet): retried on the next pass.
    pub unrepaired: u64,
    pub elapsed_ms: u64,
}

/// Shared between the scrubber, the read path, the admin API and the metrics.
#[derive(Debug, Default)]
pub struct ScrubControl {
    progress: Mutex<ScrubProgress>,
    requested: Mutex<bool>,
    wake: Notify,
    totals: Mutex<ScrubTotals>,
}

/// Counters over the node's life.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ScrubTotals {
    pub blocks_checked: u64,
    pub corrupt: u64,
    pub repaired: u64,
    /// Copies a read found corrupt or missing on an owner and restored.
    pub restored_on_read: u64,
}

impl ScrubControl {
    /// Asks for a pass now.
    pub fn request(&self) {
        *lock(&self.requested) = true;
        self.wake.notify_one();
    }

    pub fn progress(&self) -> ScrubProgress {
        lock(&self.progress).clone()
    }

    pub fn totals(&self) -> ScrubTotals {
        *lock(&self.totals)
    }

    pub(super) fn restored_on_read(&self) {
        lock(&self.totals).restored_on_read += 1;
    }
}

/// The scrub loop of one node.
#[derive(Debug, Clone)]
pub struct ScrubWorker {
    pub coordinator: Coordinator,
    /// Time between passes.
    pub interval: Duration,
    /// Most bytes read per second.
    pub bytes_per_sec: u64,
}

impl ScrubWorker {
    /// Runs passes until `shutdown` fires: every `interval`, or at once when asked.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let control = self.coordinator.scrub_control().clone();
        loop {
            tokio::select! {
                () = tokio::time::sleep(self.interval) => {}
                () = control.wake.notified() => {
                    if !std::mem::take(&mut *lock(&control.requested)) {
                        continue;
                    }
                }
                _ = shutdown.wait_for(|s| *s) => return,
            }
            tokio::select! {
                () = self.pass() => {}
                _ = shutdown.wait_for(|s| *s) => return,
            }
        }
    }

    /// One walk over every stored block.
    pub async fn pass(&self) {
        let c = &self.coordinator;
        let control = c.scrub_control().clone();
        let clock = c.clock().clone();
        let started = clock.monotonic();
        {
            let mut progress = lock(&control.progress);
            *progress =
                ScrubProgress { running: true, passes: progress.passes + 1, ..Default::default() };
        }
        let pacer = Pacer::new(clock.clone(), self.bytes_per_sec);
        let mut after = None;
        loop {
            let store = c.store().clone();
            let step = tokio::task::spawn_blocking(move || {
                store.verify_blocks(after, STEP_BLOCKS, STEP_BYTES)
            })
            .await;
            let step = match step {
                Ok(Ok(step)) => step,
                Ok(Err(e)) => {
                    tracing::warn!(worker = "scrub", error = %e, "cannot read blocks; pass ends");
                    break;
                }
                Err(e) => {
                    tracing::warn!(worker = "scrub", error = %e, "scrub step failed; pass ends");
                    break;
                }
            };
            let mut repaired = 0u64;
            for id in &step.corrupt {
                match c.refetch_block(*id).await {
                    Some(source) => {
                        repaired += 1;
                        tracing::warn!(
                            worker = "scrub",
                            block = ?id,
                            source = format_args!("{source:x}"),
                            "corrupt block replaced by an intact copy"
                        );
                    }
                    None => tracing::error!(
                        worker = "scrub",
                        block = ?id,
                        "corrupt block, and no other node has an intact copy now; retried next pass"
                    ),
                }
            }
            {
                let corrupt = step.corrupt.len() as u64;
                let mut progress = lock(&control.progress);
                progress.blocks_checked += step.checked;
                progress.bytes_checked += step.bytes;
                progress.corrupt += corrupt;
                progress.repaired += repaired;
                progress.unrepaired += corrupt - repaired;
                progress.elapsed_ms = millis(clock.monotonic().saturating_duration_since(started));
                let mut totals = lock(&control.totals);
                totals.blocks_checked += step.checked;
                totals.corrupt += corrupt;
                totals.repaired += repaired;
            }
            pacer.spend(step.bytes).await;
            match step.last {
                Some(last) => after = Some(last),
                None => break,
            }
        }
        let progress = {
            let mut progress = lock(&control.progress);
            progress.running = false;
            progress.elapsed_ms = millis(clock.monotonic().saturating_duration_since(started));
            progress.clone()
        };
        tracing::info!(
            worker = "scrub",
            blocks = progress.blocks_checked,
            bytes = progress.bytes_checked,
            corrupt = progress.corrupt,
            repaired = progress.repaired,
            elapsed_ms = progress.elapsed_ms,
            "scrub pass done"
        );
    }
}

impl Coordinator {
    /// Replaces this node's copy of a block with an intact one from another node of its
    /// extended preference list; returns the node it came from, or `None` if none had one.
    pub async fn refetch_block(&self, id: BlockId) -> Option<NodeId> {
        let me = self.node_id();
        let nodes =
            self.ring().extended_preference_list(super::BLOCK_PLACEMENT_TABLE, &id.to_key());
        for node in nodes.into_iter().filter(|n| *n != me && self.ring().is_alive(*n)) {
            let Some(replica) = self.replica(node) else { continue };
            let Ok(Some(data)) = replica.get_block(id).await else { continue };
            let written = self.store().write(WriteOp::PutBlock { id, data, hint_for: None }).await;
            return written.is_ok().then_some(node);
        }
        None
    }
}
