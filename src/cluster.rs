//! The cluster half of the composition root: for a node in a multi-node ring, the persisted
//! layout, the TCP transport with its handlers, and the background loops (gossip, hinted
//! handoff, read repair, anti-entropy, layout persistence).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::clock::SharedClock;
use crate::config::ClusterConfig;
use crate::coordinator::{
    AntiEntropyWorker, CleanupWorker, Coordinator, HandoffWorker, Local, QuorumConfig,
    RebalanceWorker, RepairQueue,
};
use crate::ring::gossip::{self, Gossiper};
use crate::ring::{Layout, Member, NodeId, NodeInfo, Ring};
use crate::rpc::{Router, RpcClient, TcpOptions, TcpTransport};
use crate::store::Store;

/// Meta key of the persisted layout.
const LAYOUT_META: &str = "layout";
/// Meta key of the layout before it, kept while a rebalance may still be moving data.
const PREVIOUS_LAYOUT_META: &str = "layout_previous";
/// How often the gossiped view is checked for changes worth saving.
const VIEW_CHECK: Duration = Duration::from_secs(5);
/// Meta key of the count of this node's starts (u32, big-endian).
const INCARNATION_KEY: &str = "incarnation";
/// How often a node drops data it no longer owns.
const CLEANUP_INTERVAL: Duration = Duration::from_secs(30);
/// Timeout of every internode call.
const RPC_TIMEOUT: Duration = Duration::from_secs(5);
/// Read repairs waiting to be sent, at most.
const REPAIR_QUEUE: usize = 1024;

/// Why a cluster node could not start.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("store: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("stored layout: {reason}")]
    Layout { reason: String },
}

/// A cluster node's parts, built before serving.
pub struct Cluster {
    pub ring: Ring,
    pub coordinator: Coordinator,
    config: ClusterConfig,
    tcp: TcpTransport,
    rpc: RpcClient,
    store: Store,
    repairs: Option<tokio::sync::mpsc::Receiver<crate::coordinator::Repair>>,
    seed: u64,
}

fn load_layout(store: &Store, name: &str) -> Result<Option<Layout>, ClusterError> {
    match store.get_meta(name)? {
        Some(bytes) => postcard::from_bytes(&bytes)
            .map(Some)
            .map_err(|e| ClusterError::Layout { reason: e.to_string() }),
        None => Ok(None),
    }
}

/// Counts this node's starts, durably: each run's gossip heartbeats rank above the last run's.
fn next_incarnation(store: &Store) -> Result<u32, ClusterError> {
    let previous = store
        .get_meta(INCARNATION_KEY)?
        .and_then(|b| <[u8; 4]>::try_from(b.as_slice()).ok())
        .map_or(0, u32::from_be_bytes);
    let next = previous.wrapping_add(1);
    store.put_meta(INCARNATION_KEY, &next.to_be_bytes())?;
    Ok(next)
}

impl Cluster {
    pub async fn prepare(
        me: NodeId,
        config: &ClusterConfig,
        store: &Store,
        clock: SharedClock,
        seed: u64,
    ) -> Result<Cluster, ClusterError> {
        // The first node of a cluster (no seeds) starts as a ring of one; a joining node owns
        // nothing until it receives the cluster's layout.
        let layout = match load_layout(store, LAYOUT_META)? {
            Some(l) => l,
            None if config.seeds.is_empty() => Layout::single(me, config.partition_bits),
            None => Layout::empty(config.partition_bits),
        };
        let ring = Ring::new(me, layout, clock.clone(), config.probe_interval);
        ring.set_hedge_bounds(crate::ring::HedgeBounds {
            floor: config.hedge_floor,
            ceiling: config.hedge_ceiling,
        });
        ring.begin_incarnation(next_incarnation(store)?);
        if let Some(previous) = load_layout(store, PREVIOUS_LAYOUT_META)? {
            ring.set_previous_layout(previous);
        }
        // Nodes that left and were not drained, and forgotten ones, stay known across a
        // restart of the whole cluster (the purge waits for the former).
        ring.load_view(store)?;
        ring.set_drained(!ring.layout().is_member(me) && store.holds_nothing()?);
        let tcp = TcpTransport::new(me, config.secret.as_bytes(), seed, TcpOptions::default());
        let rpc = RpcClient::new(Arc::new(tcp.clone()), RPC_TIMEOUT);
        let (repairs, repair_rx) = RepairQueue::new(REPAIR_QUEUE);
        let coordinator = Coordinator::new(
            Local { me, store: store.clone() },
            ring.clone(),
            Some(rpc.clone()),
            clock,
            QuorumConfig { read_quorum: config.read_quorum, write_quorum: config.write_quorum },
            repairs,
        );
        Ok(Cluster {
            ring,
            coordinator,
            config: config.clone(),
            tcp,
            rpc,
            store: store.clone(),
            repairs: Some(repair_rx),
            seed,
        })
    }

    /// Binds the RPC port and starts the background loops; returns the bound address and a task
    /// that ends once `shutdown` fired and every loop stopped.
    pub async fn start(
        mut self,
        s3_addr: SocketAddr,
        shutdown: watch::Receiver<bool>,
    ) -> Result<(SocketAddr, JoinHandle<()>), ClusterError> {
        let addr = self.config.rpc_addr;
        let listener =
            TcpListener::bind(addr).await.map_err(|source| ClusterError::Bind { addr, source })?;
        let rpc_addr =
            listener.local_addr().map_err(|source| ClusterError::Bind { addr, source })?;
        let me = self.ring.me();
        // A listener on every interface (0.0.0.0 in a container) is announced at the address
        // the peers reach this node by, so `cluster status` shows where its S3 endpoint is.
        let s3_addr = if s3_addr.ip().is_unspecified() {
            SocketAddr::new(rpc_addr.ip(), s3_addr.port())
        } else {
            s3_addr
        };
        self.ring.set_local_info(NodeInfo {
            id: me,
            rpc_addr,
            s3_addr,
            zone: self.config.zone.clone(),
            capacity: self.config.capacity,
        });
        let mut router = Router::new();
        gossip::register(&mut router, &self.ring);
        crate::ring::probe::register(&mut router, &self.ring);
        self.coordinator.register(&mut router);
        let tcp = self.tcp.clone();
        let addresses: gossip::AddressSink = Arc::new(move |id, addr| tcp.set_address(id, addr));
        self.ring.set_address_sink(addresses);
        let gossiper = Gossiper {
            ring: self.ring.clone(),
            rpc: self.rpc.clone(),
            tcp: Some(self.tcp.clone()),
            seeds: self.config.seeds.clone(),
            interval: self.config.gossip_interval,
            seed: self.seed,
        };
        let prober = crate::ring::probe::Prober {
            ring: self.ring.clone(),
            rpc: self.rpc.clone(),
            interval: self.config.probe_interval,
        };
        let handoff = HandoffWorker {
            coordinator: self.coordinator.clone(),
            interval: self.config.gossip_interval,
        };
        let rebalance = RebalanceWorker { coordinator: self.coordinator.clone() };
        let cleanup =
            CleanupWorker { coordinator: self.coordinator.clone(), interval: CLEANUP_INTERVAL };
        let anti_entropy = AntiEntropyWorker {
            coordinator: self.coordinator.clone(),
            interval: self.config.anti_entropy_interval,
            bytes_per_sec: self.config.repair_bytes_per_sec,
        };
        let repairs = self.repairs.take();
        let coordinator = self.coordinator.clone();
        let persist = persist_layouts(self.ring.clone(), self.store.clone(), shutdown.clone());
        let persist_view = persist_view(self.ring.clone(), self.store.clone(), shutdown.clone());
        let bootstrap = Bootstrap {
            ring: self.ring.clone(),
            rpc: self.rpc.clone(),
            expected: self.config.bootstrap_nodes.unwrap_or(0),
            replication_factor: self.config.replication_factor,
            interval: self.config.gossip_interval,
            zone: self.config.zone.clone(),
            capacity: self.config.capacity,
        };
        let tcp = self.tcp.clone();
        let mut stop = shutdown.clone();
        let serve = async move {
            tcp.serve(listener, router, async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await;
        };
        let repair_loop = async move {
            if let Some(rx) = repairs {
                coordinator.serve_repairs(rx).await;
            }
        };
        let mut repair_stop = shutdown.clone();
        let task = tokio::spawn(async move {
            tokio::join!(
                serve,
                gossiper.run(shutdown.clone()),
                prober.run(shutdown.clone()),
                handoff.run(shutdown.clone()),
                rebalance.run(shutdown.clone()),
                cleanup.run(shutdown.clone()),
                anti_entropy.run(shutdown.clone()),
                persist,
                persist_view,
                bootstrap.run(shutdown.clone()),
                async move {
                    tokio::select! {
                        () = repair_loop => {}
                        _ = repair_stop.wait_for(|s| *s) => {}
                    }
                },
            );
        });
        Ok((rpc_addr, task))
    }
}

/// `--bootstrap-nodes`: the first node applies the first layout itself once the expected
/// number of nodes is up.
struct Bootstrap {
    ring: Ring,
    rpc: RpcClient,
    /// Nodes to wait for, this one included; 0 when the option is off.
    expected: usize,
    replication_factor: usize,
    interval: Duration,
    /// This node's own zone and capacity (its peers' come by gossip).
    zone: String,
    capacity: u64,
}

impl Bootstrap {
    /// Waits until `expected` nodes (this one and the peers it hears from) are up, then
    /// proposes a layout with all of them, each with the zone and capacity it announces. Ends
    /// at once when the layout already has a member other than this node: the cluster was
    /// bootstrapped before this start, or an operator applied a layout.
    async fn run(self, mut shutdown: watch::Receiver<bool>) {
        if self.expected == 0 {
            return;
        }
        let me = self.ring.me();
        let mut reported = None;
        loop {
            let current = self.ring.layout();
            if current.members.iter().any(|m| m.id != me) {
                return;
            }
            let view = self.ring.view();
            let mut members: Vec<Member> = view
                .states()
                .filter(|s| s.info.id != me && self.ring.is_alive(s.info.id))
                .map(|s| Member {
                    id: s.info.id,
                    zone: s.info.zone.clone(),
                    capacity: s.info.capacity,
                })
                .collect();
            members.push(Member { id: me, zone: self.zone.clone(), capacity: self.capacity });
            members.sort_by_key(|m| m.id);
            let up = members.len();
            if up >= self.expected {
                match Layout::next(&current, members, self.replication_factor) {
                    Ok(layout) => {
                        let (version, count) = (layout.version, layout.members.len());
                        match gossip::propose_layout(&self.ring, Some(&self.rpc), layout).await {
                            Ok(()) => {
                                tracing::info!(
                                    version,
                                    members = count,
                                    "bootstrap: applied the first layout"
                                );
                                return;
                            }
                            Err(e) => {
                                tracing::warn!(error = %e, "bootstrap: layout refused; trying again")
                            }
                        }
                    }
                    Err(e) if reported != Some(up) => {
                        reported = Some(up);
                        tracing::error!(error = %e, "bootstrap: cannot compute a layout");
                    }
                    Err(_) => {}
                }
            } else if reported != Some(up) {
                reported = Some(up);
                tracing::info!(up, expected = self.expected, "bootstrap: waiting for nodes");
            }
            tokio::select! {
                () = tokio::time::sleep(self.interval) => {}
                _ = shutdown.wait_for(|s| *s) => return,
            }
        }
    }
}

/// Saves the gossiped view every `VIEW_CHECK` when it changed in a way that matters (see
/// `Ring::save_view`).
async fn persist_view(ring: Ring, store: Store, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(VIEW_CHECK) => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
        let (ring, store) = (ring.clone(), store.clone());
        if !matches!(tokio::task::spawn_blocking(move || ring.save_view(&store)).await, Ok(Ok(_))) {
            tracing::warn!("cannot save the gossiped view");
        }
    }
}

/// Writes every layout this node adopts to its store, so a restart resumes with it.
async fn persist_layouts(ring: Ring, store: Store, mut shutdown: watch::Receiver<bool>) {
    let mut layouts = ring.subscribe();
    loop {
        tokio::select! {
            changed = layouts.changed() => if changed.is_err() { return },
            _ = shutdown.wait_for(|s| *s) => return,
        }
        let layout = layouts.borrow_and_update().clone();
        let mut records = vec![(LAYOUT_META, layout)];
        records.extend(ring.previous_layout().map(|p| (PREVIOUS_LAYOUT_META, p)));
        for (name, layout) in records {
            match postcard::to_allocvec(&*layout) {
                Ok(bytes) => {
                    let store = store.clone();
                    let saved =
                        tokio::task::spawn_blocking(move || store.put_meta(name, &bytes)).await;
                    if !matches!(saved, Ok(Ok(()))) {
                        tracing::error!(
                            version = layout.version,
                            name,
                            "cannot persist the layout"
                        );
                    }
                }
                Err(e) => tracing::error!(error = %e, "cannot encode the layout"),
            }
        }
    }
}
