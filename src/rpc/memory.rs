//! An in-process network for tests and the deterministic simulation: every node's router is
//! reachable by id, and a [`FaultPlan`] can crash nodes, partition pairs, or drop messages
//! (seeded, so a run replays exactly). Messages are still encoded and decoded, so the codec is
//! exercised as on real sockets.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{BoxFuture, PeerId, Router, RpcError, Transport};

/// Faults to inject.
#[derive(Debug, Clone, Default)]
pub struct FaultPlan {
    /// Nodes that answer nothing (crashed, or a host gone: callers wait for their timeout).
    pub down: HashSet<PeerId>,
    /// Nodes whose process is gone while the host answers: a call fails at once, as a
    /// connection to a closed port is refused.
    pub refused: HashSet<PeerId>,
    /// Unordered pairs that cannot reach each other.
    pub partitions: HashSet<(PeerId, PeerId)>,
    /// Probability in [0, 1] that a request is lost.
    pub drop_probability: f64,
}

impl FaultPlan {
    fn cut(&self, a: PeerId, b: PeerId) -> bool {
        self.down.contains(&a)
            || self.down.contains(&b)
            || self.partitions.contains(&(a.min(b), a.max(b)))
    }

    pub fn partition(&mut self, a: PeerId, b: PeerId) {
        self.partitions.insert((a.min(b), a.max(b)));
    }

    pub fn heal(&mut self) {
        self.partitions.clear();
        self.down.clear();
        self.refused.clear();
        self.drop_probability = 0.0;
    }
}

struct Shared {
    routers: HashMap<PeerId, Router>,
    faults: FaultPlan,
    rng: StdRng,
}

/// The network all in-process nodes share.
#[derive(Clone)]
pub struct MemoryNetwork {
    shared: Arc<Mutex<Shared>>,
}

impl std::fmt::Debug for MemoryNetwork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryNetwork").finish_non_exhaustive()
    }
}

impl MemoryNetwork {
    pub fn new(seed: u64) -> Self {
        Self {
            shared: Arc::new(Mutex::new(Shared {
                routers: HashMap::new(),
                faults: FaultPlan::default(),
                rng: StdRng::seed_from_u64(seed),
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Attaches (or replaces, after a restart) a node's request handlers.
    pub fn attach(&self, node: PeerId, router: Router) {
        self.lock().routers.insert(node, router);
    }

    pub fn detach(&self, node: PeerId) {
        self.lock().routers.remove(&node);
    }

    /// Changes the faults in force.
    pub fn with_faults<T>(&self, change: impl FnOnce(&mut FaultPlan) -> T) -> T {
        change(&mut self.lock().faults)
    }

    /// The transport one node uses to call the others.
    pub fn transport(&self, me: PeerId) -> Arc<dyn Transport> {
        Arc::new(MemoryTransport { me, network: self.clone() })
    }
}

#[derive(Debug)]
struct MemoryTransport {
    me: PeerId,
    network: MemoryNetwork,
}

impl Transport for MemoryTransport {
    fn call_raw(
        &self,
        to: PeerId,
        tag: u16,
        payload: Vec<u8>,
        timeout: Duration,
    ) -> BoxFuture<Result<Vec<u8>, RpcError>> {
        let me = self.me;
        let network = self.network.clone();
        Box::pin(async move {
            let router = {
                let mut shared = network.lock();
                if shared.faults.refused.contains(&to) {
                    return Err(RpcError::Unreachable {
                        peer: to,
                        reason: "connection refused".into(),
                    });
                }
                let drop_probability = shared.faults.drop_probability;
                let dropped =
                    drop_probability > 0.0 && shared.rng.random_bool(drop_probability.min(1.0));
                if shared.faults.cut(me, to) || dropped {
                    None
                } else {
                    shared.routers.get(&to).cloned()
                }
            };
            let Some(router) = router else {
                // A lost message looks like silence: the caller's timeout fires.
                tokio::time::sleep(timeout).await;
                return Err(RpcError::Timeout { timeout });
            };
            match tokio::time::timeout(timeout, router.dispatch(me, tag, payload)).await {
                Ok(result) => result,
                Err(_) => Err(RpcError::Timeout { timeout }),
            }
        })
    }
}
