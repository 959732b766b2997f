//! The async driver of the write protocol (`write`): it carries out a round's actions (mint,
//! copy, keep a hint), arms each call's hedging deadline from the ring's latency estimates,
//! feeds the outcomes back, and answers the caller as soon as the round decides.
//!
//! The calls still in flight at that moment (copies past W, hedged calls) go on in the
//! coordinator's bounded set of background copies. When that set is full, or the node shuts
//! down, the round abandons them and every owner still uncovered gets a durable hint kept by
//! this node instead: memory stays bounded however slow a replica is, shutdown does not wait on
//! a silent peer, and no copy that fails is only logged.

use std::collections::HashMap;
use std::time::Instant;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::stream::{FuturesUnordered, StreamExt};

use super::write::{WriteAction, WriteEvent, WriteRound};
use super::{Coordinator, CoordinatorError, ReplicaError};
use crate::causality::{Sibling, Siblings, VectorClock};
use crate::ring::{CallKind, NodeId};
use crate::store::{BlockId, HintOp, TableId};

/// What a round writes.
pub(super) enum Payload {
    /// A new version of an item, minted at an owner from these arguments.
    Item {
        table: TableId,
        key: Vec<u8>,
        context: VectorClock,
        timestamp_ms: i64,
        value: Option<Vec<u8>>,
        /// The minted version, once there is one: what copies carry.
        minted: Option<Sibling>,
    },
    /// A block, whole from the start.
    Block { id: BlockId, data: Bytes },
}

impl Payload {
    fn kind(&self) -> CallKind {
        match self {
            Payload::Item { .. } => CallKind::Small,
            Payload::Block { .. } => CallKind::Bulk,
        }
    }
}

/// What one call came back with.
enum Outcome {
    Minted(Result<Sibling, ReplicaError>),
    Copied(Result<(), ReplicaError>),
    Hinted(NodeId, Result<(), ReplicaError>),
}

type Call = BoxFuture<'static, (NodeId, Outcome)>;

/// One write round and its calls in flight.
pub(super) struct WriteJob {
    coordinator: Coordinator,
    round: WriteRound<ReplicaError>,
    payload: Payload,
    calls: FuturesUnordered<Call>,
    deadlines: FuturesUnordered<BoxFuture<'static, NodeId>>,
    started: HashMap<NodeId, Instant>,
    reply: Option<bool>,
}

impl WriteJob {
    pub(super) fn new(
        coordinator: &Coordinator,
        round: WriteRound<ReplicaError>,
        payload: Payload,
    ) -> Self {
        Self {
            coordinator: coordinator.clone(),
            round,
            payload,
            calls: FuturesUnordered::new(),
            deadlines: FuturesUnordered::new(),
            started: HashMap::new(),
            reply: None,
        }
    }

    /// Runs the round until it decides; the calls still in flight then finish in the
    /// background (or are abandoned to local hints when the background set is full).
    pub(super) async fn run(mut self) -> Result<Option<Sibling>, CoordinatorError> {
        let actions = self.round.start();
        self.apply(actions, true);
        while self.reply.is_none() {
            tokio::select! {
                biased;
                Some((node, outcome)) = self.calls.next() => self.feed(node, outcome, true),
                Some(node) = self.deadlines.next() => {
                    if self.started.contains_key(&node) {
                        let actions = self.round.on(WriteEvent::Slow(node));
                        self.apply(actions, true);
                    }
                }
                else => break,
            }
        }
        let result = match self.reply {
            Some(true) => Ok(self.minted()),
            _ => Err(CoordinatorError::QuorumNotReached {
                needed: self.round.needed(),
                acked: self.round.acked().len(),
                failures: self.round.failures().to_vec(),
            }),
        };
        self.deadlines = FuturesUnordered::new();
        if !self.round.finished() {
            self.finish_in_background().await;
        }
        result
    }

    fn minted(&self) -> Option<Sibling> {
        match &self.payload {
            Payload::Item { minted, .. } => minted.clone(),
            Payload::Block { .. } => None,
        }
    }

    async fn finish_in_background(mut self) {
        let copies = self.coordinator.inner.copies.clone();
        let stop = self.coordinator.inner.stop.clone();
        let (tx, rx) = tokio::sync::oneshot::channel::<WriteJob>();
        let spawned = copies.try_spawn(async move {
            let Ok(mut job) = rx.await else { return };
            loop {
                tokio::select! {
                    biased;
                    next = job.calls.next() => match next {
                        Some((node, outcome)) => job.feed(node, outcome, false),
                        None => return,
                    },
                    () = stop.cancelled() => {
                        job.abandon().await;
                        return;
                    }
                }
            }
        });
        match spawned {
            Ok(()) => {
                // The task waits for the job: it only exists once a slot was free.
                let _ = tx.send(self);
            }
            Err(_) => {
                tracing::debug!("background copies at their bound; leaving hints instead");
                self.abandon().await;
            }
        }
    }

    /// Drops the calls in flight and keeps a hint here for every owner they were for.
    async fn abandon(&mut self) {
        self.calls = FuturesUnordered::new();
        self.started.clear();
        let actions = self.round.abandon();
        self.apply(actions, false);
        while let Some((node, outcome)) = self.calls.next().await {
            self.feed(node, outcome, false);
        }
    }

    fn feed(&mut self, node: NodeId, outcome: Outcome, hedging: bool) {
        let started = self.started.remove(&node);
        let event = match outcome {
            Outcome::Minted(Ok(sibling)) => {
                if let Payload::Item { minted, .. } = &mut self.payload
                    && minted.is_none()
                {
                    *minted = Some(sibling);
                }
                self.observe(node, started);
                WriteEvent::Minted(node)
            }
            Outcome::Minted(Err(e)) | Outcome::Copied(Err(e)) => {
                tracing::debug!(node = format_args!("{node:x}"), error = %e, "replica write failed");
                WriteEvent::Failed(node, e)
            }
            Outcome::Copied(Ok(())) => {
                self.observe(node, started);
                WriteEvent::Acked(node)
            }
            Outcome::Hinted(owner, Ok(())) => WriteEvent::HintKept(owner),
            Outcome::Hinted(owner, Err(e)) => {
                tracing::error!(owner = format_args!("{owner:x}"), error = %e, "cannot keep a hint for an owner that missed a write; anti-entropy must repair it");
                WriteEvent::HintFailed(owner, e)
            }
        };
        let actions = self.round.on(event);
        self.apply(actions, hedging);
    }

    fn observe(&self, node: NodeId, started: Option<Instant>) {
        if let Some(started) = started {
            let ring = self.coordinator.ring();
            let rtt = ring.clock().monotonic().saturating_duration_since(started);
            ring.observe_latency(node, self.payload.kind(), rtt);
        }
    }

    fn apply(&mut self, actions: Vec<WriteAction>, hedging: bool) {
        for action in actions {
            match action {
                WriteAction::Reply(ok) => self.reply = Some(ok),
                WriteAction::Mint { node } => {
                    let call = self.mint(node);
                    self.track(node, call, hedging);
                }
                WriteAction::Copy { node, hint_for } => {
                    let call = self.copy(node, hint_for);
                    self.track(node, call, hedging);
                }
                WriteAction::HintLocally { owner, with_data } => {
                    self.calls.push(self.hint_locally(owner, with_data));
                }
            }
        }
    }

    fn track(&mut self, node: NodeId, call: Call, hedging: bool) {
        let ring = self.coordinator.ring().clone();
        self.started.insert(node, ring.clock().monotonic());
        self.calls.push(call);
        if hedging && node != self.coordinator.node_id() {
            self.deadlines.push(Box::pin(ring.hedge_deadline(node, self.payload.kind())));
        }
    }

    fn mint(&self, node: NodeId) -> Call {
        let replica = self.coordinator.replica(node);
        let Payload::Item { table, key, context, timestamp_ms, value, .. } = &self.payload else {
            unreachable!("only items are minted");
        };
        let (table, key, context, timestamp_ms, value) =
            (*table, key.clone(), context.clone(), *timestamp_ms, value.clone());
        Box::pin(async move {
            let result = match replica {
                Some(r) => r.coordinate(table, key, context, timestamp_ms, value).await,
                None => Err(ReplicaError::Task("no transport to peers".into())),
            };
            (node, Outcome::Minted(result))
        })
    }

    fn copy(&self, node: NodeId, hint_for: Option<NodeId>) -> Call {
        let replica = self.coordinator.replica(node);
        match &self.payload {
            Payload::Item { table, key, minted, .. } => {
                let (table, key) = (*table, key.clone());
                let set = sibling_set(minted.as_ref());
                Box::pin(async move {
                    let result = match replica {
                        Some(r) => r.merge(table, key, set, hint_for).await,
                        None => Err(ReplicaError::Task("no transport to peers".into())),
                    };
                    (node, Outcome::Copied(result))
                })
            }
            Payload::Block { id, data } => {
                let (id, data) = (*id, data.clone());
                Box::pin(async move {
                    let result = match replica {
                        Some(r) => r.put_block(id, data, hint_for).await,
                        None => Err(ReplicaError::Task("no transport to peers".into())),
                    };
                    (node, Outcome::Copied(result))
                })
            }
        }
    }

    fn hint_locally(&self, owner: NodeId, with_data: bool) -> Call {
        let local = self.coordinator.inner.local.clone();
        let me = local.me;
        // A node out of the layout that said it holds nothing says otherwise before it keeps
        // anything (gossip carries it to the tombstone purge, which then waits for it again).
        self.coordinator.ring().set_drained(false);
        match &self.payload {
            Payload::Item { table, key, minted, .. } => {
                let (table, key) = (*table, key.clone());
                let set = sibling_set(minted.as_ref());
                Box::pin(async move {
                    let result = if with_data {
                        local.merge(table, key, set, Some(owner)).await
                    } else {
                        local.add_hint(owner, HintOp::Item { table: table.0, key }).await
                    };
                    (me, Outcome::Hinted(owner, result))
                })
            }
            Payload::Block { id, data } => {
                let (id, data) = (*id, data.clone());
                Box::pin(async move {
                    let result = if with_data {
                        local.put_block(id, data, Some(owner)).await
                    } else {
                        local.add_hint(owner, HintOp::Block { id }).await
                    };
                    (me, Outcome::Hinted(owner, result))
                })
            }
        }
    }
}

fn sibling_set(minted: Option<&Sibling>) -> Siblings {
    let mut set = Siblings::new();
    if let Some(sibling) = minted {
        set.apply(sibling.clone());
    }
    set
}
