//! Gossip: every interval, this node sends its membership view to one peer chosen at random
//! and merges the peer's view from the answer; a node that hears of a newer layout fetches it.
//! Seeds are addresses contacted until this node knows a peer by id. Heartbeats observed this
//! way feed the failure detector.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::{Layout, NodeId, PeerState, Ring};
use crate::rpc::{Router, RpcClient, RpcRequest, TcpTransport};

/// Push this node's view; the answer is the receiver's view.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GossipPush {
    pub states: Vec<PeerState>,
}

impl RpcRequest for GossipPush {
    const TAG: u16 = 100;
    type Response = Vec<PeerState>;
}

/// Ask a peer for its current layout.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FetchLayout;

impl RpcRequest for FetchLayout {
    const TAG: u16 = 101;
    type Response = Layout;
}

/// Asks a member to promise that layout version `version` will be the one with `digest`: the
/// single decision path of layout changes (see [`propose_layout`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProposeLayout {
    pub version: u64,
    pub digest: u64,
}

impl RpcRequest for ProposeLayout {
    const TAG: u16 = 103;
    /// Whether the member promised.
    type Response = bool;
}

/// Why a layout change was not applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "another layout change won version {version}: {promised} of the {needed} members needed promised this one"
)]
pub struct LayoutConflict {
    pub version: u64,
    pub promised: usize,
    pub needed: usize,
}

/// Installs `next` (computed from the current layout, one version above it) only once a
/// majority of the current layout's members promised that its version is this layout: two
/// operators applying changes on two nodes at once can never leave two layouts with one
/// version, and the one whose change lost is told. A member promises one layout per version
/// (for `PROMISE_TTL`, so that a proposal that died does not block the next), and never one
/// at or below the version it runs.
pub async fn propose_layout(
    ring: &Ring,
    rpc: Option<&RpcClient>,
    next: Layout,
) -> Result<(), LayoutConflict> {
    let current = ring.layout();
    let voters: Vec<NodeId> = if current.members.is_empty() {
        vec![ring.me()]
    } else {
        current.members.iter().map(|m| m.id).collect()
    };
    let needed = voters.len() / 2 + 1;
    let (version, digest) = (next.version, next.digest());
    let asks = voters.iter().map(|&node| async move {
        if node == ring.me() {
            return ring.promise_layout(version, digest);
        }
        match rpc {
            Some(rpc) => rpc.call(node, &ProposeLayout { version, digest }).await.unwrap_or(false),
            None => false,
        }
    });
    let promised = futures_util::future::join_all(asks).await.into_iter().filter(|p| *p).count();
    if promised < needed || !ring.install_layout(next) {
        return Err(LayoutConflict { version, promised, needed });
    }
    Ok(())
}

/// Serves gossip and layout requests for `ring`.
pub fn register(router: &mut Router, ring: &Ring) {
    let r = ring.clone();
    router.register(move |from, push: GossipPush| {
        let ring = r.clone();
        async move {
            ring.heard_from(from);
            ring.merge_view(push.states);
            ring.local_state();
            Ok(ring.view().states().cloned().collect())
        }
    });
    let r = ring.clone();
    router.register(move |_, p: ProposeLayout| {
        let ring = r.clone();
        async move { Ok(ring.promise_layout(p.version, p.digest)) }
    });
    let r = ring.clone();
    router.register(move |_, FetchLayout| {
        let ring = r.clone();
        async move { Ok((*ring.layout()).clone()) }
    });
}

/// Learns peers' addresses as gossip reveals them (the TCP transport's address book).
pub type AddressSink = Arc<dyn Fn(NodeId, SocketAddr) + Send + Sync>;

/// The gossip loop of one node.
pub struct Gossiper {
    pub ring: Ring,
    pub rpc: RpcClient,
    /// For contacting seeds by address; `None` in the in-memory simulation.
    pub tcp: Option<TcpTransport>,
    pub seeds: Vec<SocketAddr>,
    pub interval: Duration,
    pub seed: u64,
}

impl Gossiper {
    /// Runs until `shutdown` fires.
    pub async fn run(self, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        let mut rng = StdRng::seed_from_u64(self.seed);
        let mut ticker = tokio::time::interval(self.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = shutdown.changed() => return,
            }
            self.round(&mut rng).await;
        }
    }

    /// One gossip exchange (and seed contact while we know nobody).
    pub async fn round(&self, rng: &mut StdRng) {
        let Some(_) = self.ring.local_state() else { return };
        let me = self.ring.me();
        let view = self.ring.view();
        let peers: Vec<NodeId> = view.states().map(|s| s.info.id).filter(|id| *id != me).collect();
        let states: Vec<PeerState> = view.states().cloned().collect();
        if let (Some(tcp), true) = (&self.tcp, peers.is_empty() || rng.random_bool(0.1)) {
            for seed in &self.seeds {
                let Ok(payload) = crate::rpc::encode(&GossipPush { states: states.clone() }) else {
                    continue;
                };
                match tcp
                    .call_address(
                        *seed,
                        GossipPush::TAG,
                        payload,
                        self.interval.max(std::time::Duration::from_millis(200)),
                    )
                    .await
                {
                    Ok((id, reply)) => {
                        if let Ok(reply) = crate::rpc::decode::<Vec<PeerState>>(&reply) {
                            self.absorb(id, reply).await;
                        }
                    }
                    Err(e) => tracing::debug!(%seed, error = %e, "seed unreachable"),
                }
            }
        }
        if peers.is_empty() {
            return;
        }
        let peer = peers[rng.random_range(0..peers.len())];
        // A silent peer must not hold up the next round.
        let timeout = self.interval.max(std::time::Duration::from_millis(200));
        match self.rpc.call_with_timeout(peer, &GossipPush { states }, timeout).await {
            Ok(reply) => self.absorb(peer, reply).await,
            Err(e) => tracing::trace!(peer = format_args!("{peer:x}"), error = %e, "gossip failed"),
        }
    }

    async fn absorb(&self, from: NodeId, reply: Vec<PeerState>) {
        self.ring.heard_from(from);
        let newest =
            reply.iter().max_by_key(|s| s.layout_version).map(|s| (s.info.id, s.layout_version));
        self.ring.merge_view(reply);
        if let Some((holder, version)) = newest
            && version > self.ring.layout().version
            && holder != self.ring.me()
        {
            match self.rpc.call(holder, &FetchLayout).await {
                Ok(layout) => {
                    if self.ring.install_layout(layout) {
                        tracing::info!(version, "installed a newer layout from gossip");
                    }
                }
                Err(e) => tracing::debug!(error = %e, "layout fetch failed"),
            }
        }
    }
}
