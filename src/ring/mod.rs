//! Who owns what: item hashing, fixed partitions and the layout's preference lists.
//!
//! The key space is cut into `2^partition_bits` fixed partitions (Dynamo's strategy 3); an item's
//! partition is the top bits of a stable 64-bit hash (xxh3 with a fixed seed, never std's
//! randomly seeded hasher) of its table and key. The layout maps each partition to an ordered
//! preference list of distinct nodes. A layout is immutable and versioned; a new membership
//! produces a new layout, never an in-place change.

mod assignment;
mod failure_detector;
pub mod gossip;
mod latency;
mod layout;
mod membership;
pub mod probe;
mod saved;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::clock::SharedClock;

pub use assignment::{AssignmentError, Member, leader_changes, moved_replicas, slot_targets};
pub use failure_detector::FailureDetector;
pub use latency::{CallKind, HedgeBounds, LatencyEstimates};
pub use layout::{Layout, MAX_PARTITION_BITS, SplitError};
pub use membership::{MembershipView, NodeInfo, PeerState};

/// A node's identity in the ring (also its vector-clock actor).
pub type NodeId = u64;

/// Default number of partitions, as a power of two.
pub const DEFAULT_PARTITION_BITS: u8 = 8;

/// One of the ring's fixed partitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PartitionId(pub u32);

/// The stable hash that places an item on the ring (kept by the store, whose Merkle index is
/// ordered by it).
pub use crate::store::item_hash;

/// The node's view of the cluster: the current layout, the gossiped membership, and which
/// peers seem alive. Cheap to clone.
#[derive(Clone)]
pub struct Ring {
    inner: Arc<RingInner>,
}

struct RingInner {
    me: NodeId,
    clock: SharedClock,
    layout: watch::Sender<Arc<Layout>>,
    view: Mutex<MembershipView>,
    detector: Mutex<FailureDetector>,
    latency: Mutex<LatencyEstimates>,
    heartbeat: Mutex<u64>,
    /// The layout before the current one, while a rebalance may still be moving its data.
    previous: Mutex<Option<Arc<Layout>>>,
    /// Whether the current layout replaced one that was itself still being synced: owners of
    /// a layout before the previous one may then hold the only copies of recent writes.
    stacked: std::sync::atomic::AtomicBool,
    /// This node's synced layout version (see `PeerState::synced_version`).
    synced: Mutex<u64>,
    local: Mutex<Option<NodeInfo>>,
    addresses: Mutex<Option<gossip::AddressSink>>,
    /// The layout this node promised for the next version: `(version, digest, until)`.
    promise: Mutex<Option<(u64, u64, std::time::Instant)>>,
    /// Whether this node, out of the layout, holds nothing any more (see `PeerState::drained`).
    drained: std::sync::atomic::AtomicBool,
    /// Whether the cluster forgot this node (`forget_node` elsewhere): it must hand nothing on.
    forgotten: std::sync::atomic::AtomicBool,
    /// What the last saved view said (see `saved`).
    saved: Mutex<Option<saved::Saved>>,
}

/// The heartbeat of a forgotten node's entry: above every heartbeat a run of it can send.
pub const FORGOTTEN: u64 = u64::MAX;

/// How long a promise of a layout version holds (a proposal that died blocks no longer).
const PROMISE_TTL: Duration = Duration::from_secs(10);

impl std::fmt::Debug for Ring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ring").field("me", &self.inner.me).finish_non_exhaustive()
    }
}

/// Suspicion above which a peer counts as down.
const PHI_THRESHOLD: f64 = 8.0;

impl Ring {
    /// A ring whose failure detector expects a direct heartbeat from each peer every
    /// `heartbeat_interval` (the probe interval; see `failure_detector` for what follows).
    pub fn new(
        me: NodeId,
        layout: Layout,
        clock: SharedClock,
        heartbeat_interval: Duration,
    ) -> Self {
        let (layout, _) = watch::channel(Arc::new(layout));
        Self {
            inner: Arc::new(RingInner {
                me,
                clock,
                layout,
                view: Mutex::new(MembershipView::new()),
                detector: Mutex::new(FailureDetector::new(PHI_THRESHOLD, heartbeat_interval)),
                latency: Mutex::new(LatencyEstimates::new(HedgeBounds::default())),
                heartbeat: Mutex::new(0),
                previous: Mutex::new(None),
                stacked: std::sync::atomic::AtomicBool::new(false),
                synced: Mutex::new(0),
                local: Mutex::new(None),
                addresses: Mutex::new(None),
                promise: Mutex::new(None),
                drained: std::sync::atomic::AtomicBool::new(false),
                forgotten: std::sync::atomic::AtomicBool::new(false),
                saved: Mutex::new(None),
            }),
        }
    }

    pub fn me(&self) -> NodeId {
        self.inner.me
    }

    pub fn layout(&self) -> Arc<Layout> {
        self.inner.layout.borrow().clone()
    }

    /// Adopts `layout` if it is newer than the current one; returns whether it did.
    pub fn install_layout(&self, layout: Layout) -> bool {
        let unsettled = self.read_transition().is_some();
        let mut installed = false;
        let mut replaced = None;
        self.inner.layout.send_if_modified(|current| {
            if layout.version > current.version {
                replaced = Some(std::mem::replace(current, Arc::new(layout)));
                installed = true;
            }
            installed
        });
        if installed && self.layout().is_member(self.inner.me) {
            // A member again: it takes copies (see `drained`).
            self.set_drained(false);
        }
        if let Some(old) = replaced.filter(|l| !l.members.is_empty()) {
            *lock(&self.inner.previous) = Some(old);
            self.inner.stacked.store(unsettled, std::sync::atomic::Ordering::Relaxed);
        }
        installed
    }

    /// True while the ring is between layouts and the current one replaced a layout that was
    /// itself still being synced (see `read_transition`, which names only the last one).
    pub fn transition_stacked(&self) -> bool {
        self.inner.stacked.load(std::sync::atomic::Ordering::Relaxed)
            && self.read_transition().is_some()
    }

    /// Promises that layout `version` will be the one with `digest`, unless this node runs
    /// that version or a later one, or promised another layout for it within `PROMISE_TTL`.
    pub fn promise_layout(&self, version: u64, digest: u64) -> bool {
        if version <= self.layout().version {
            return false;
        }
        let now = self.inner.clock.monotonic();
        let mut promise = lock(&self.inner.promise);
        match *promise {
            Some((v, d, until)) if v == version && d != digest && now < until => false,
            Some((v, _, until)) if v > version && now < until => false,
            _ => {
                *promise = Some((version, digest, now + PROMISE_TTL));
                true
            }
        }
    }

    /// The layout before the current one, if any (persisted with it by the cluster).
    pub fn previous_layout(&self) -> Option<Arc<Layout>> {
        lock(&self.inner.previous).clone()
    }

    /// Restores the previous layout at start-up.
    /// Whether that layout's own change had settled is not known after a restart, so until
    /// this transition settles the ring counts as stacked (see `transition_stacked`).
    pub fn set_previous_layout(&self, layout: Layout) {
        if layout.version < self.layout().version && !layout.members.is_empty() {
            *lock(&self.inner.previous) = Some(Arc::new(layout));
            self.inner.stacked.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Records that this node holds every partition of layout `version` in full.
    pub fn set_synced(&self, version: u64) {
        let mut synced = lock(&self.inner.synced);
        *synced = (*synced).max(version);
    }

    /// While some member of the current layout has not reported (by gossip) that it holds its
    /// partitions in full, the previous layout, whose owners still have the data: reads ask
    /// them too. `None` once every member caught up.
    pub fn read_transition(&self) -> Option<Arc<Layout>> {
        let previous = self.previous_layout()?;
        let current = self.layout();
        let me = self.inner.me;
        let synced = *lock(&self.inner.synced);
        let view = lock(&self.inner.view);
        let caught_up = current.members.iter().all(|m| {
            let version =
                if m.id == me { synced } else { view.get(m.id).map_or(0, |s| s.synced_version) };
            version >= current.version
        });
        drop(view);
        (!caught_up).then_some(previous)
    }

    /// Notified on every new layout.
    pub fn subscribe(&self) -> watch::Receiver<Arc<Layout>> {
        self.inner.layout.subscribe()
    }

    pub fn partition_of_item(&self, table: u8, key: &[u8]) -> PartitionId {
        self.layout().partition_of(item_hash(table, key))
    }

    /// The preference list of the item `(table, key)`.
    pub fn preference_list(&self, table: u8, key: &[u8]) -> Vec<NodeId> {
        let layout = self.layout();
        layout.preference_list(layout.partition_of(item_hash(table, key))).to_vec()
    }

    /// Owners first, then the stand-ins a sloppy quorum may use, for `(table, key)`.
    pub fn extended_preference_list(&self, table: u8, key: &[u8]) -> Vec<NodeId> {
        let layout = self.layout();
        layout.extended_preference_list(layout.partition_of(item_hash(table, key)))
    }

    /// Whether `node` is believed reachable; this node always is.
    pub fn is_alive(&self, node: NodeId) -> bool {
        node == self.inner.me
            || lock(&self.inner.detector).is_alive(node, self.inner.clock.monotonic())
    }

    /// Records direct evidence that `node` is alive: it answered a call of ours, or called us.
    /// Heartbeats relayed by gossip do not count: a node that others reach may still be cut
    /// off from this one, and routing needs to know what this node can reach.
    pub fn heard_from(&self, node: NodeId) {
        if node != self.inner.me {
            lock(&self.inner.detector).heartbeat(node, self.inner.clock.monotonic());
        }
    }

    /// Records that a call of `kind` to `node` was answered after `rtt` (also a heartbeat).
    pub fn observe_latency(&self, node: NodeId, kind: CallKind, rtt: Duration) {
        if node != self.inner.me {
            lock(&self.inner.latency).observe(node, kind, rtt);
            self.heard_from(node);
        }
    }

    /// How long a call of `kind` to `node` may take before a caller engages another replica.
    pub fn hedge_after(&self, node: NodeId, kind: CallKind) -> Duration {
        lock(&self.inner.latency).hedge_after(node, kind)
    }

    /// Resolves to `node` once its hedging deadline for a call of `kind` started now passed:
    /// what a caller waits on before it engages another replica beside a slow one.
    pub fn hedge_deadline(
        &self,
        node: NodeId,
        kind: CallKind,
    ) -> impl std::future::Future<Output = NodeId> + Send + 'static {
        let after = self.hedge_after(node, kind);
        async move {
            tokio::time::sleep(after).await;
            node
        }
    }

    /// Sets the bounds of hedging deadlines (keeps nothing measured before).
    pub fn set_hedge_bounds(&self, bounds: HedgeBounds) {
        *lock(&self.inner.latency) = LatencyEstimates::new(bounds);
    }

    /// This node's clock (for timing calls against the same time the detector reads).
    pub fn clock(&self) -> &SharedClock {
        &self.inner.clock
    }

    /// Sets how this node describes itself in gossip.
    pub fn set_local_info(&self, info: NodeInfo) {
        *lock(&self.inner.local) = Some(info);
    }

    /// Starts this run's heartbeats above every heartbeat of earlier runs: `incarnation` counts
    /// the node's starts (persisted), and is the heartbeat's upper 32 bits. Without it a
    /// restarted node counted from 0 again, and peers ignored its entries (new address, zone,
    /// liveness) as stale until it caught up with the count of its previous run.
    pub fn begin_incarnation(&self, incarnation: u32) {
        *lock(&self.inner.heartbeat) = u64::from(incarnation) << 32;
    }

    /// This node's gossip entry, with a fresh heartbeat.
    pub fn local_state(&self) -> Option<PeerState> {
        let info = lock(&self.inner.local).clone()?;
        let mut heartbeat = lock(&self.inner.heartbeat);
        *heartbeat += 1;
        let state = PeerState {
            info,
            heartbeat: *heartbeat,
            layout_version: self.layout().version,
            synced_version: *lock(&self.inner.synced),
            drained: self.drained(),
        };
        lock(&self.inner.view).merge_one(state.clone());
        Some(state)
    }

    /// Tells the transport where peers listen, as gossip reveals it.
    pub fn set_address_sink(&self, sink: gossip::AddressSink) {
        *lock(&self.inner.addresses) = Some(sink);
    }

    /// Merges gossiped entries; returns the peers whose entries were news.
    pub fn merge_view(&self, states: Vec<PeerState>) -> Vec<NodeId> {
        let states = self.others(states);
        let news = lock(&self.inner.view).merge(states.iter().cloned());
        // Only fresh entries move a peer's address: a stale one relayed by a third node may
        // still carry the address of the peer's previous run.
        if let Some(sink) = lock(&self.inner.addresses).clone() {
            for s in states.iter().filter(|s| news.contains(&s.info.id)) {
                sink(s.info.id, s.info.rpc_addr);
            }
        }
        news
    }

    /// Entries of other nodes; an entry that says the cluster forgot this node marks it so.
    pub(super) fn others(&self, states: Vec<PeerState>) -> Vec<PeerState> {
        let me = self.inner.me;
        if states.iter().any(|s| s.info.id == me && s.heartbeat == FORGOTTEN)
            && !self.inner.forgotten.swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            tracing::error!(
                "the cluster forgot this node (`ringvault cluster forget`): it drops its data \
                 and hands nothing on; wipe its data directory to start it afresh"
            );
        }
        states.into_iter().filter(|s| s.info.id != me).collect()
    }

    /// Whether the cluster forgot this node.
    pub fn forgotten(&self) -> bool {
        self.inner.forgotten.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Announces (by gossip) whether this node, out of the layout, holds nothing any more.
    pub fn set_drained(&self, drained: bool) {
        self.inner.drained.store(drained, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn drained(&self) -> bool {
        self.inner.drained.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Forgets `node`, a node out of the layout that will not come back: its entry becomes one
    /// that says it holds nothing, with a heartbeat no run of that node can reach, so the
    /// whole cluster stops waiting for it (the tombstone purge) and ignores it from then on.
    /// Returns false if this node never heard of it.
    pub fn forget_node(&self, node: NodeId) -> bool {
        let mut view = lock(&self.inner.view);
        let Some(known) = view.get(node).cloned() else { return false };
        view.merge_one(PeerState { heartbeat: FORGOTTEN, drained: true, ..known });
        true
    }

    pub fn view(&self) -> MembershipView {
        lock(&self.inner.view).clone()
    }

    /// Seconds since `node` was last heard from, if ever.
    pub fn silence(&self, node: NodeId) -> Option<Duration> {
        let last = lock(&self.inner.detector).last_heard(node)?;
        Some(self.inner.clock.monotonic().saturating_duration_since(last))
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::*;

    #[test]
    fn the_hash_is_stable_across_builds_and_platforms() {
        // Changing this value moves every stored item to another partition: it must never change.
        assert_eq!(item_hash(2, b"bucket\0key"), 1_365_903_301_128_623_002);
    }

    #[test]
    fn partitions_use_the_top_bits_and_cover_the_range() {
        let layout = Layout::single(1, 8);
        assert_eq!(layout.partition_count(), 256);
        assert_eq!(layout.partition_of(0), PartitionId(0));
        assert_eq!(layout.partition_of(u64::MAX), PartitionId(255));
        assert_eq!(layout.partition_of(1 << 56), PartitionId(1));
        assert_eq!(layout.preference_list(PartitionId(17)), &[1]);
    }

    #[test]
    fn keys_spread_over_partitions() {
        let layout = Layout::single(1, 4);
        let mut counts = [0u32; 16];
        for i in 0..16_000u32 {
            counts[layout.partition_of(item_hash(2, &i.to_be_bytes())).0 as usize] += 1;
        }
        assert!(counts.iter().all(|&c| (800..1200).contains(&c)), "{counts:?}");
    }

    fn info(id: NodeId, rpc_port: u16) -> NodeInfo {
        NodeInfo {
            id,
            rpc_addr: SocketAddr::from(([127, 0, 0, 1], rpc_port)),
            s3_addr: SocketAddr::from(([127, 0, 0, 1], 1)),
            zone: "z".into(),
            capacity: 1,
        }
    }

    fn ring(me: NodeId) -> Ring {
        let clock: SharedClock =
            Arc::new(crate::clock::ManualClock::new(chrono::DateTime::UNIX_EPOCH));
        Ring::new(me, Layout::single(me, 4), clock, Duration::from_secs(1))
    }

    /// A forgotten node's entry outranks every later run of it, reaches the node itself (which
    /// learns it was forgotten), and survives a restart through the saved view.
    #[test]
    fn a_forgotten_node_stays_forgotten_across_runs_and_restarts() {
        let observer = ring(1);
        let gone = ring(9);
        gone.begin_incarnation(3);
        gone.set_local_info(info(9, 7009));
        let last = gone.local_state().unwrap();
        observer.merge_view(vec![last.clone()]);
        assert!(!observer.forget_node(8), "never heard of");
        assert!(observer.forget_node(9));
        let entry = observer.view().get(9).unwrap().clone();
        assert!(entry.drained && entry.heartbeat == FORGOTTEN);

        let next_run = ring(9);
        next_run.begin_incarnation(4);
        next_run.set_local_info(info(9, 7010));
        let fresh = next_run.local_state().unwrap();
        assert!(observer.merge_view(vec![fresh]).is_empty(), "a later run is not news");
        assert_eq!(observer.view().get(9), Some(&entry));
        assert!(!next_run.forgotten());
        next_run.merge_view(vec![entry.clone()]);
        assert!(next_run.forgotten(), "gossip tells the node itself");

        let store = crate::store::Store::in_memory_inline().unwrap();
        assert!(observer.save_view(&store).unwrap());
        assert!(!observer.save_view(&store).unwrap(), "nothing the purge reads changed");
        let restarted = ring(1);
        restarted.load_view(&store).unwrap();
        assert_eq!(restarted.view().get(9), Some(&entry));
        let again = ring(9);
        again.load_view(&store).unwrap();
        assert!(again.forgotten(), "a saved entry tells it too");
    }

    /// A member promises one layout per version: another digest is refused until the promise
    /// lapses, and nothing at or below the version it runs is promised.
    #[test]
    fn a_layout_version_is_promised_to_one_layout_at_a_time() {
        let clock = Arc::new(crate::clock::ManualClock::new(chrono::DateTime::UNIX_EPOCH));
        let shared: SharedClock = clock.clone();
        let ring = Ring::new(1, Layout::single(1, 4), shared, Duration::from_secs(1));
        let next = ring.layout().version + 1;
        assert!(!ring.promise_layout(next - 1, 7), "the version it runs");
        assert!(ring.promise_layout(next, 7));
        assert!(ring.promise_layout(next, 7), "the same layout again");
        assert!(!ring.promise_layout(next, 8), "another layout of that version");
        clock.advance(PROMISE_TTL + Duration::from_millis(1));
        assert!(ring.promise_layout(next, 8), "a promise that lapsed blocks no longer");
    }

    /// A node that restarts (on another port) must be news to peers that heard many heartbeats
    /// of its previous run, and only fresh entries may move its address.
    #[test]
    fn a_restarted_node_outranks_its_previous_run() {
        let observer = ring(1);
        let addresses = Arc::new(Mutex::new(Vec::new()));
        let sink = addresses.clone();
        observer.set_address_sink(Arc::new(move |id, addr| lock(&sink).push((id, addr))));

        let first_run = ring(2);
        first_run.begin_incarnation(1);
        first_run.set_local_info(info(2, 7001));
        let mut old = first_run.local_state().unwrap();
        for _ in 0..1000 {
            old = first_run.local_state().unwrap();
        }
        assert_eq!(observer.merge_view(vec![old.clone()]), vec![2]);

        let second_run = ring(2);
        second_run.begin_incarnation(2);
        second_run.set_local_info(info(2, 7002));
        let new = second_run.local_state().unwrap();
        assert!(new.heartbeat > old.heartbeat);
        assert_eq!(observer.merge_view(vec![new]), vec![2], "the new run is news");
        // The old run's entry, relayed late by a third node, changes nothing.
        assert!(observer.merge_view(vec![old]).is_empty());
        assert_eq!(observer.view().get(2).unwrap().info.rpc_addr.port(), 7002);
        let seen: Vec<u16> = lock(&addresses).iter().map(|(_, a)| a.port()).collect();
        assert_eq!(seen, vec![7001, 7002]);
    }

    /// Reads ask the previous layout's owners from a layout change until every member of the
    /// new layout has said, by gossip, that it holds its partitions.
    #[test]
    fn the_read_transition_lasts_until_every_member_is_synced() {
        let node = ring(1);
        assert!(node.read_transition().is_none(), "a ring of one never moved data");
        let members = |ids: &[NodeId]| {
            ids.iter().map(|id| Member { id: *id, zone: "z".into(), capacity: 1 }).collect()
        };
        let next = Layout::next(&node.layout(), members(&[1, 2, 3]), 3).unwrap();
        let version = next.version;
        assert!(node.install_layout(next));
        assert_eq!(node.read_transition().map(|l| l.members.len()), Some(1));
        node.set_synced(version);
        let peer = |id: NodeId, synced_version: u64| PeerState {
            info: info(id, 7000),
            heartbeat: synced_version + 1,
            layout_version: version,
            synced_version,
            drained: false,
        };
        node.merge_view(vec![peer(2, version), peer(3, version - 1)]);
        assert!(node.read_transition().is_some(), "node 3 is still pulling");
        node.merge_view(vec![peer(3, version)]);
        assert!(node.read_transition().is_none());
    }
}
