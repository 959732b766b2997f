//! Direct liveness probes: every interval this node pings each peer it knows (layout members
//! and gossiped nodes) that has no ping outstanding, and each answer is a heartbeat for the
//! failure detector and a round-trip sample for hedging deadlines.
//!
//! Gossip spreads membership, but its heartbeats arrive at random intervals and through third
//! nodes; a node cut off from this one but not from others would look alive. Probes measure
//! exactly what routing needs: can this node reach that one, and how fast. A ping waits at most
//! two intervals, so a silent peer never holds up the next round, and at most
//! [`PROBES_PER_ROUND_MAX`] peers are pinged per round (a large ring is covered over several
//! rounds, round-robin).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::task::JoinSet;

use super::{CallKind, NodeId, Ring};
use crate::rpc::{Router, RpcClient, RpcRequest};

/// Peers pinged per round, at most.
pub const PROBES_PER_ROUND_MAX: usize = 64;

/// Are you there?
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ping;

impl RpcRequest for Ping {
    const TAG: u16 = 102;
    type Response = ();
}

/// Answers pings; a ping is also evidence that its sender is alive.
pub fn register(router: &mut Router, ring: &Ring) {
    let ring = ring.clone();
    router.register(move |from, Ping| {
        ring.heard_from(from);
        async { Ok(()) }
    });
}

/// The probe loop of one node.
pub struct Prober {
    pub ring: Ring,
    pub rpc: RpcClient,
    pub interval: Duration,
}

impl Prober {
    /// Runs until `shutdown` fires; outstanding pings are dropped with it.
    pub async fn run(self, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        let mut ticker = tokio::time::interval(self.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut outstanding: JoinSet<NodeId> = JoinSet::new();
        let mut in_flight: Vec<NodeId> = Vec::new();
        let mut cursor = 0usize;
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                Some(done) = outstanding.join_next() => {
                    if let Ok(peer) = done {
                        in_flight.retain(|p| *p != peer);
                    }
                    continue;
                }
                _ = shutdown.wait_for(|s| *s) => return,
            }
            let peers = self.peers();
            if peers.is_empty() {
                continue;
            }
            for i in 0..peers.len().min(PROBES_PER_ROUND_MAX) {
                let peer = peers[(cursor + i) % peers.len()];
                if in_flight.contains(&peer) {
                    continue;
                }
                in_flight.push(peer);
                let (ring, rpc, timeout) = (self.ring.clone(), self.rpc.clone(), self.interval * 2);
                outstanding.spawn(async move {
                    let started = ring.clock().monotonic();
                    if rpc.call_with_timeout(peer, &Ping, timeout).await.is_ok() {
                        let rtt = ring.clock().monotonic().saturating_duration_since(started);
                        ring.observe_latency(peer, CallKind::Small, rtt);
                    }
                    peer
                });
            }
            cursor = cursor.wrapping_add(PROBES_PER_ROUND_MAX);
        }
    }

    /// Every other node this one knows of: layout members and gossiped peers, in id order.
    fn peers(&self) -> Vec<NodeId> {
        let me = self.ring.me();
        let mut peers: Vec<NodeId> = self.ring.layout().members.iter().map(|m| m.id).collect();
        peers.extend(self.ring.view().states().map(|s| s.info.id));
        peers.sort_unstable();
        peers.dedup();
        peers.retain(|p| *p != me);
        peers
    }
}
