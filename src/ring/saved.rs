//! The gossiped view, kept across restarts: nodes that left the layout without saying they
//! hold nothing, and forgotten nodes, must stay known even if the whole cluster restarts,
//! since the tombstone purge waits for the former and ignores the latter (ARCHITECTURE,
//! invariant 15). Saved in the node's store when a node appears, drains or is forgotten, and
//! otherwise now and then; restored at start without moving any address.

use std::time::{Duration, Instant};

use super::{FORGOTTEN, NodeId, PeerState, Ring, lock};
use crate::store::{Store, StoreError};

/// Meta key of the saved view (postcard `Vec<PeerState>`).
const VIEW_META: &str = "view";
/// How often the view is saved when nothing but heartbeats moved.
const SAVE_EVERY: Duration = Duration::from_secs(300);

/// What the purge reads of one entry: `(node, drained, forgotten)`.
type Fact = (NodeId, bool, bool);

/// The facts of the last saved view, and when it was saved.
#[derive(Debug)]
pub(super) struct Saved {
    facts: Vec<Fact>,
    at: Instant,
}

fn facts(states: &[PeerState]) -> Vec<Fact> {
    states.iter().map(|s| (s.info.id, s.drained, s.heartbeat == FORGOTTEN)).collect()
}

impl Ring {
    /// Saves the view if a node appeared, drained or was forgotten since the last save, or
    /// if that save is `SAVE_EVERY` old; returns whether it wrote. Blocking (one redb commit).
    pub fn save_view(&self, store: &Store) -> Result<bool, StoreError> {
        let states: Vec<PeerState> = self.view().states().cloned().collect();
        let now = self.inner.clock.monotonic();
        let facts = facts(&states);
        let due = lock(&self.inner.saved).as_ref().is_none_or(|saved| {
            saved.facts != facts || now.saturating_duration_since(saved.at) >= SAVE_EVERY
        });
        if !due {
            return Ok(false);
        }
        let bytes = postcard::to_allocvec(&states)
            .map_err(|e| StoreError::Corrupt { what: format!("view: {e}") })?;
        store.put_meta(VIEW_META, &bytes)?;
        *lock(&self.inner.saved) = Some(Saved { facts, at: now });
        Ok(true)
    }

    /// Restores the view saved before a restart (an entry that says the cluster forgot this
    /// node marks it so). An unreadable record is skipped: gossip rebuilds the rest.
    pub fn load_view(&self, store: &Store) -> Result<(), StoreError> {
        let Some(bytes) = store.get_meta(VIEW_META)? else { return Ok(()) };
        let states: Vec<PeerState> = postcard::from_bytes(&bytes).unwrap_or_default();
        let states = self.others(states);
        lock(&self.inner.view).merge(states);
        Ok(())
    }
}
