//! Simulated nodes: each is a `Coordinator` over its own in-memory store, with its own `Ring`
//! (shared layout, own failure detector) and its replica handlers attached to one
//! `MemoryNetwork`.
//!
//! - **Crash**: the node's router is detached, it is marked down in the fault plan (nothing
//!   reaches it, nothing leaves it), and its coordinator, ring and repair queue are dropped.
//!   Its `Store` is kept: an in-memory redb lives as long as a clone does, which models a
//!   durable disk. Queued read repairs are lost, as they would be in a real process. Copies its
//!   coordinator already spawned in the background may still land in its own store, which is
//!   the same as the crash happening a moment later.
//! - **Restart**: a new ring (empty failure detector, the gossiped view it saved), coordinator
//!   and repair queue over the same store, re-attached.
//! - **Liveness**: driven by the harness, not by gossip. Every step each running node is told
//!   it `heard_from` every running peer it is not partitioned from (answers to calls count
//!   too, as in a real node); a crashed or cut-off peer falls silent and the phi-accrual
//!   detector declares it down after its usual delay (tuned by `DETECTOR_INTERVAL` to about
//!   1.5 s, three RPC timeouts), during which requests to it time out or are hedged. This
//!   keeps the detector's real logic while avoiding gossip's random peer choice and transitive
//!   heartbeats, which would make "who believes whom alive" hard to reason about in a failing
//!   seed. What gossip says of a peer (its synced version, whether it holds nothing) does come
//!   through any path of reachable nodes, as gossip relays it.
//! - **Repairs and hints** run when the harness says so (`drain_repairs`, `handoff`), so their
//!   timing is part of the seeded schedule.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ringvault::causality::Siblings;
use ringvault::clock::SharedClock;
use ringvault::coordinator::{
    AntiEntropyWorker, CleanupWorker, Coordinator, HandoffWorker, Local, PurgeWorker, QuorumConfig,
    RebalanceState, RebalanceWorker, Repair, RepairQueue, Scope,
};
use ringvault::objects::{BodyOptions, ObjectService};
use ringvault::ring::{Layout, Member, NodeId, NodeInfo, PeerState, Ring, item_hash};
use ringvault::rpc::{MemoryNetwork, Router, RpcClient};
use ringvault::store::{Store, TableId};
use tokio::sync::mpsc;

use crate::net::{LinkFaults, SimClock, SimTransport};

/// The table the workload writes.
pub const TABLE: TableId = TableId(2);
/// Timeout of every internode call.
pub const RPC_TIMEOUT: Duration = Duration::from_millis(500);
/// Heartbeat period of the harness.
pub const HEARTBEAT: Duration = Duration::from_millis(100);
/// The interval the failure detector is told to expect: longer than the heartbeat, so that a
/// node that just died is still believed alive for a while (the window the simulation must
/// exercise: calls to it time out, or are hedged past their deadline).
const DETECTOR_INTERVAL: Duration = Duration::from_millis(300);
/// Hedging deadlines: short against the simulated link latencies, so that hedges happen.
const HEDGE: ringvault::ring::HedgeBounds = ringvault::ring::HedgeBounds {
    floor: Duration::from_millis(20),
    ceiling: Duration::from_millis(200),
};
const PARTITION_BITS: u8 = 4;
const REPLICATION_FACTOR: usize = 3;
const REPAIR_QUEUE: usize = 64;

/// A layout member: one zone per node, as the simulated cluster is built.
fn member(id: NodeId) -> Member {
    Member { id, zone: format!("z{id}"), capacity: 1 }
}

/// A node that is running.
struct Running {
    coordinator: Coordinator,
    /// The objects layer on the coordinator, one per node as in a real node.
    objects: ObjectService,
    repairs: mpsc::Receiver<Repair>,
}

pub struct SimNode {
    pub id: NodeId,
    /// Survives crashes: the node's disk.
    pub store: Store,
    running: Option<Running>,
}

pub struct SimCluster {
    pub net: MemoryNetwork,
    pub links: Arc<Mutex<LinkFaults>>,
    clock: SharedClock,
    quorum: QuorumConfig,
    pub layout: Layout,
    /// The layout before the current one, while a change may still be settling.
    previous: Option<Layout>,
    /// Per node: what it still has to pull (its durable rebalance state) and the layout
    /// version it holds in full.
    rebalance: Vec<RebalanceState>,
    synced: Vec<u64>,
    /// Gossip rounds so far: the heartbeat counter of the sync claims `heartbeat` spreads.
    rounds: std::sync::atomic::AtomicU64,
    pub nodes: Vec<SimNode>,
}

impl SimCluster {
    /// `count` nodes (ids 1..=count, one zone each) in one layout with N=3 and majority
    /// quorums; all running and all believing each other alive.
    pub fn new(seed: u64, count: u64) -> Self {
        Self::with_quorum(seed, count, QuorumConfig::default())
    }

    pub fn with_quorum(seed: u64, count: u64, quorum: QuorumConfig) -> Self {
        Self::build(seed, count, count, quorum)
    }

    /// `count` nodes running, only the first `members` of them in the layout.
    pub fn with_members(seed: u64, count: u64, members: u64) -> Self {
        Self::build(seed, count, members, QuorumConfig::default())
    }

    fn build(seed: u64, count: u64, members: u64, quorum: QuorumConfig) -> Self {
        let ids: Vec<NodeId> = (1..=count).collect();
        let members = ids[..members as usize].iter().map(|id| member(*id)).collect();
        let layout =
            Layout::next(&Layout::single(ids[0], PARTITION_BITS), members, REPLICATION_FACTOR)
                .unwrap();
        let mut cluster = Self {
            // Distinct streams for the network's request losses and our links.
            net: MemoryNetwork::new(seed ^ 0x6e65_7477_6f72_6b00),
            links: Arc::new(Mutex::new(LinkFaults::new(seed ^ 0x6c69_6e6b_7300))),
            clock: Arc::new(SimClock::new()),
            quorum,
            synced: vec![layout.version; ids.len()],
            layout,
            previous: None,
            rebalance: vec![RebalanceState::default(); ids.len()],
            rounds: std::sync::atomic::AtomicU64::new(1 << 40),
            nodes: ids
                .iter()
                .map(|id| SimNode {
                    id: *id,
                    store: Store::in_memory_inline().unwrap(),
                    running: None,
                })
                .collect(),
        };
        for i in 0..cluster.nodes.len() {
            cluster.start(i);
        }
        cluster.heartbeat();
        cluster
    }

    fn start(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        let id = node.id;
        let ring = Ring::new(id, self.layout.clone(), self.clock.clone(), DETECTOR_INTERVAL);
        ring.set_hedge_bounds(HEDGE);
        // What a real node restores from its disk: the previous layout and its sync state.
        if let Some(previous) = &self.previous {
            ring.set_previous_layout(previous.clone());
        }
        ring.set_synced(self.synced[i]);
        ring.load_view(&node.store).unwrap();
        ring.set_drained(!self.layout.is_member(id) && node.store.holds_nothing().unwrap());
        let transport = SimTransport { inner: self.net.transport(id), links: self.links.clone() };
        let rpc = RpcClient::new(Arc::new(transport), RPC_TIMEOUT);
        let (repairs, rx) = RepairQueue::new(REPAIR_QUEUE);
        let coordinator = Coordinator::new(
            Local { me: id, store: node.store.clone() },
            ring,
            Some(rpc),
            self.clock.clone(),
            self.quorum,
            repairs,
        );
        let mut router = Router::new();
        coordinator.register(&mut router);
        self.net.attach(id, router);
        self.net.with_faults(|f| {
            f.down.remove(&id);
            f.refused.remove(&id);
        });
        let objects = ObjectService::new(
            coordinator.clone(),
            self.clock.clone(),
            id,
            BodyOptions::default(),
            Default::default(),
        );
        node.running = Some(Running { coordinator, objects, repairs: rx });
    }

    /// The node's host goes silent: calls to it wait for their timeout.
    pub fn crash(&mut self, i: usize) {
        let id = self.nodes[i].id;
        self.net.detach(id);
        self.net.with_faults(|f| f.down.insert(id));
        self.nodes[i].running = None;
    }

    /// The node's process dies on a host that stays up: calls to it are refused at once.
    pub fn kill(&mut self, i: usize) {
        let id = self.nodes[i].id;
        self.net.detach(id);
        self.net.with_faults(|f| f.refused.insert(id));
        self.nodes[i].running = None;
    }

    pub fn restart(&mut self, i: usize) {
        assert!(self.nodes[i].running.is_none(), "restart of a running node");
        self.start(i);
    }

    pub fn is_running(&self, i: usize) -> bool {
        self.nodes[i].running.is_some()
    }

    pub fn running(&self) -> Vec<usize> {
        (0..self.nodes.len()).filter(|i| self.is_running(*i)).collect()
    }

    /// Node `i`'s objects layer (it must be running).
    pub fn objects(&self, i: usize) -> ObjectService {
        self.nodes[i].running.as_ref().expect("node is running").objects.clone()
    }

    /// Calls of request type `R` made between any two nodes so far.
    pub fn calls<R: ringvault::rpc::RpcRequest>(&self) -> u64 {
        self.links.lock().unwrap().calls.get(&R::TAG).copied().unwrap_or(0)
    }

    pub fn coordinator(&self, i: usize) -> Coordinator {
        self.nodes[i].running.as_ref().expect("node is running").coordinator.clone()
    }

    fn partitioned(&self, a: NodeId, b: NodeId) -> bool {
        self.net.with_faults(|f| f.partitions.contains(&(a.min(b), a.max(b))))
    }

    /// One round of liveness evidence: every running node hears from every running peer it
    /// can reach, and learns which layout version that peer holds in full (as gossip tells).
    pub fn heartbeat(&self) {
        let round = self.rounds.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        for (i, a) in self.nodes.iter().enumerate().filter(|(_, n)| n.running.is_some()) {
            let ring = a.running.as_ref().unwrap().coordinator.ring();
            let mut claims = Vec::new();
            let relayed = self.connected(i);
            for (j, b) in self.nodes.iter().enumerate() {
                if b.running.is_none() || b.id == a.id {
                    continue;
                }
                if !self.partitioned(a.id, b.id) {
                    ring.heard_from(b.id);
                }
                // Gossip relays a peer's state through any path of reachable nodes. Only once
                // the scenario changed the layout: the pinned regressions tell nodes about
                // syncs themselves (`report_synced`).
                if self.previous.is_some() && relayed.contains(&j) {
                    claims.push(self.claim(j, round, self.synced[j]));
                }
            }
            if !claims.is_empty() {
                ring.merge_view(claims);
            }
            // What a node's view saver does every few seconds.
            ring.save_view(&a.store).unwrap();
        }
    }

    /// The running nodes node `i` reaches through running nodes (by index, itself included).
    fn connected(&self, i: usize) -> Vec<usize> {
        let mut reached = vec![i];
        let mut next = 0;
        while next < reached.len() {
            let from = self.nodes[reached[next]].id;
            next += 1;
            for (j, b) in self.nodes.iter().enumerate() {
                if b.running.is_some() && !reached.contains(&j) && !self.partitioned(from, b.id) {
                    reached.push(j);
                }
            }
        }
        reached
    }

    fn claim(&self, i: usize, heartbeat: u64, synced_version: u64) -> PeerState {
        let id = self.nodes[i].id;
        PeerState {
            info: NodeInfo {
                id,
                rpc_addr: "127.0.0.1:1".parse().unwrap(),
                s3_addr: "127.0.0.1:2".parse().unwrap(),
                zone: format!("z{id}"),
                capacity: 1,
            },
            heartbeat,
            layout_version: self.layout.version,
            synced_version,
            // What the node announces of itself (only running nodes are claimed for).
            drained: self.nodes[i].running.as_ref().is_some_and(|r| r.coordinator.ring().drained()),
        }
    }

    /// An operator changes the membership to `members` (by index): every node's rebalance
    /// state learns what it gained, and running nodes install the layout (crashed ones find it
    /// when they restart, as gossip would bring it).
    pub fn change_layout(&mut self, members: &[usize]) -> Layout {
        let members = members.iter().map(|i| member(self.nodes[*i].id)).collect();
        let next = Layout::next(&self.layout, members, REPLICATION_FACTOR).unwrap();
        for (i, node) in self.nodes.iter().enumerate() {
            self.rebalance[i].advance(&self.layout, &next, node.id);
            if self.rebalance[i].pending.is_empty() {
                self.synced[i] = next.version;
            }
        }
        self.previous = Some(std::mem::replace(&mut self.layout, next.clone()));
        for (i, node) in self.nodes.iter().enumerate() {
            if let Some(running) = &node.running {
                running.coordinator.ring().install_layout(next.clone());
                running.coordinator.ring().set_synced(self.synced[i]);
            }
        }
        next
    }

    /// One rebalance pass on node `i`: pulls what it gained from the previous owners. Returns
    /// the partitions still to pull.
    pub async fn rebalance(&mut self, i: usize) -> usize {
        let Some(running) = self.nodes[i].running.as_ref() else {
            return self.rebalance[i].pending.len();
        };
        if self.rebalance[i].pending.is_empty() {
            return 0;
        }
        let worker = RebalanceWorker { coordinator: running.coordinator.clone() };
        for p in worker.pull(&self.rebalance[i].pending).await {
            self.rebalance[i].pending.remove(&p);
        }
        if self.rebalance[i].pending.is_empty() {
            self.synced[i] = self.layout.version;
            running.coordinator.ring().set_synced(self.layout.version);
        }
        self.rebalance[i].pending.len()
    }

    /// One clean-up pass on node `i`: returns the items and blocks it dropped.
    pub async fn cleanup(&self, i: usize) -> (usize, usize) {
        let Some(running) = self.nodes[i].running.as_ref() else { return (0, 0) };
        CleanupWorker { coordinator: running.coordinator.clone(), interval: HEARTBEAT }.pass().await
    }

    /// Members of the current layout, by index.
    pub fn members(&self) -> Vec<usize> {
        (0..self.nodes.len()).filter(|i| self.layout.is_member(self.nodes[*i].id)).collect()
    }

    /// Sends every read repair queued on node `i`; returns how many there were.
    pub async fn drain_repairs(&mut self, i: usize) -> usize {
        let Some(running) = self.nodes[i].running.as_mut() else { return 0 };
        let mut queued = Vec::new();
        while let Ok(repair) = running.repairs.try_recv() {
            queued.push(repair);
        }
        let count = queued.len();
        if count > 0 {
            let (tx, rx) = mpsc::channel(count);
            for repair in queued {
                tx.try_send(repair).unwrap();
            }
            drop(tx);
            running.coordinator.serve_repairs(rx).await;
        }
        count
    }

    /// One hinted-handoff pass on node `i`; returns how many hints it handed off.
    pub async fn handoff(&self, i: usize) -> usize {
        let Some(running) = self.nodes[i].running.as_ref() else { return 0 };
        HandoffWorker { coordinator: running.coordinator.clone(), interval: HEARTBEAT }.pass().await
    }

    /// One anti-entropy pass on node `i` over `scope`; returns what it moved (items, blocks).
    pub async fn anti_entropy(&self, i: usize, scope: Scope) -> (u64, u64) {
        let Some(running) = self.nodes[i].running.as_ref() else { return (0, 0) };
        let worker = AntiEntropyWorker {
            coordinator: running.coordinator.clone(),
            interval: HEARTBEAT,
            bytes_per_sec: u64::MAX,
        };
        worker.pass(scope).await;
        let progress = running.coordinator.repair_control().progress();
        (progress.items_moved, progress.blocks_moved)
    }

    /// One tombstone purge pass on node `i` (tombstones older than `grace`); returns how many
    /// it purged from every member.
    pub async fn purge(&self, i: usize, grace: Duration) -> usize {
        let Some(running) = self.nodes[i].running.as_ref() else { return 0 };
        let worker =
            PurgeWorker { coordinator: running.coordinator.clone(), interval: HEARTBEAT, grace };
        worker.pass().await.purged
    }

    /// Every version of `key` any node's store holds, merged.
    pub fn anywhere(&self, key: &[u8]) -> Siblings {
        let mut all = Siblings::new();
        for i in 0..self.nodes.len() {
            all.merge(&self.local(i, key));
        }
        all
    }

    /// Node `i`'s Merkle node of the item tree for partition `p`.
    pub fn tree_node(&self, i: usize, p: u32) -> ringvault::store::NodeDigest {
        let wanted = [(self.layout.partition_bits, p)];
        self.nodes[i].store.tree_nodes(ringvault::store::TreeKind::Items, &wanted).unwrap()[0]
    }

    /// Hints stored on node `i` (running or not: they are on its disk).
    pub fn hints_held(&self, i: usize) -> u64 {
        self.nodes[i].store.hint_counts().unwrap().iter().map(|(_, n)| n).sum()
    }

    /// The N owners of a key in the layout.
    pub fn owners(&self, key: &[u8]) -> Vec<usize> {
        self.partition_owners(self.layout.partition_of(item_hash(TABLE.0, key)).0)
    }

    /// The N owners of partition `p` in the layout (by index).
    pub fn partition_owners(&self, p: u32) -> Vec<usize> {
        self.layout
            .preference_list(ringvault::ring::PartitionId(p))
            .iter()
            .map(|id| self.nodes.iter().position(|n| n.id == *id).unwrap())
            .collect()
    }

    /// The layout after this cluster's first one, with nodes `members` (by index).
    pub fn next_layout(&self, members: std::ops::Range<usize>) -> Layout {
        let members = self.nodes[members].iter().map(|n| member(n.id)).collect();
        Layout::next(&self.layout, members, REPLICATION_FACTOR).unwrap()
    }

    /// Tells node `to`, as gossip would, that nodes `from` (by index) hold every partition of
    /// layout `version`.
    pub fn report_synced(&self, to: usize, from: std::ops::Range<usize>, version: u64) {
        let claims = self.nodes[from]
            .iter()
            .map(|n| PeerState {
                info: NodeInfo {
                    id: n.id,
                    rpc_addr: "127.0.0.1:1".parse().unwrap(),
                    s3_addr: "127.0.0.1:2".parse().unwrap(),
                    zone: format!("z{}", n.id),
                    capacity: 1,
                },
                heartbeat: 1 << 40,
                layout_version: version,
                synced_version: version,
                drained: false,
            })
            .collect();
        self.coordinator(to).ring().merge_view(claims);
    }

    /// What node `i`'s own store holds for a key, read directly.
    pub fn local(&self, i: usize, key: &[u8]) -> Siblings {
        self.nodes[i].store.get(TABLE, key).unwrap().unwrap_or_default()
    }
}
