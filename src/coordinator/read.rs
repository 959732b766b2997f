//! The read path: quorum reads of one item, the extra reads a rebalance needs, and reads from
//! every owner for decisions that must not miss a version.

use futures_util::stream::{FuturesUnordered, StreamExt};

use super::{Coordinator, CoordinatorError, QuorumRound, ReplicaError, RoundState, quorum_error};
use bytes::Bytes;

use crate::causality::Siblings;
use crate::ring::{CallKind, NodeId};
use crate::store::{BlockId, TableId};

impl Coordinator {
    /// Reads an item: merges the sibling sets of `read_quorum` replicas.
    ///
    /// Only `read_quorum` live owners are asked at first, this node first when it is one (its
    /// answer costs no round trip), then the fastest lately: R + W > N makes any R of them overlap every acknowledged
    /// write, and asking all N cost every read a remote call whose answer was not waited for.
    /// An owner that fails, or that has not answered by its hedging deadline, has the next
    /// live owner asked beside it, then live stand-ins (which may hold hinted copies).
    #[tracing::instrument(skip_all, fields(table = table.0))]
    pub async fn get(&self, table: TableId, key: &[u8]) -> Result<Siblings, CoordinatorError> {
        let q = self.quorum();
        let me = self.node_id();
        let ring = self.inner.ring.clone();
        let extended = ring.extended_preference_list(table.0, key);
        let n = q.replication_factor.min(extended.len());
        let owners = &extended[..n];
        // Everyone who may be asked, in the order they are: live owners (this node first, then
        // the others by how fast they answered lately: one that did not answer yet comes
        // last), then live stand-ins, most preferred first.
        let mut remote: Vec<NodeId> =
            owners.iter().copied().filter(|id| *id != me && self.alive(*id)).collect();
        remote.sort_by_key(|id| ring.hedge_after(*id, CallKind::Small));
        let mut order: std::collections::VecDeque<NodeId> =
            owners.iter().copied().filter(|id| *id == me && self.alive(*id)).collect();
        order.extend(remote);
        order.extend(extended[n..].iter().copied().filter(|id| self.alive(*id)));
        let read = |node: NodeId| {
            let replica = self.replica(node);
            let key = key.to_vec();
            let started = ring.clock().monotonic();
            async move {
                let result = match replica {
                    Some(r) => r.get(table, key).await,
                    None => Err(ReplicaError::Task("no transport to peers".into())),
                };
                (node, started, result)
            }
        };
        let mut pending = FuturesUnordered::new();
        let mut deadlines = FuturesUnordered::new();
        // Asked and not answered yet.
        let mut outstanding = Vec::new();
        let ask = |node: NodeId,
                   pending: &mut FuturesUnordered<_>,
                   deadlines: &mut FuturesUnordered<_>,
                   outstanding: &mut Vec<NodeId>| {
            pending.push(read(node));
            if node != me {
                deadlines.push(ring.hedge_deadline(node, CallKind::Small));
            }
            outstanding.push(node);
        };
        let first = q.read_quorum.min(order.len());
        for node in order.drain(..first) {
            ask(node, &mut pending, &mut deadlines, &mut outstanding);
        }
        let mut round = QuorumRound::new(q.read_quorum, first);
        let mut merged = Siblings::new();
        let mut answers = Vec::new();
        loop {
            let event = tokio::select! {
                biased;
                Some((node, started, result)) = pending.next() => Some((node, Some((started, result)))),
                Some(node) = deadlines.next() => Some((node, None)),
                else => None,
            };
            let state = match event {
                None => round.state(),
                Some((node, None)) => {
                    // Slow: the next one is asked beside it (the first answers count).
                    if outstanding.contains(&node)
                        && let Some(next) = order.pop_front()
                    {
                        ask(next, &mut pending, &mut deadlines, &mut outstanding);
                        round.contact();
                    }
                    round.state()
                }
                Some((node, Some((started, result)))) => {
                    outstanding.retain(|n| *n != node);
                    match result {
                        Ok(siblings) => {
                            if node != me {
                                let now = ring.clock().monotonic();
                                let rtt = now.saturating_duration_since(started);
                                ring.observe_latency(node, CallKind::Small, rtt);
                            }
                            merged.merge(&siblings);
                            answers.push((node, siblings));
                            round.ack(node)
                        }
                        Err(e) => {
                            // Someone the failure detector still believes alive did not
                            // answer: the next one is asked in its place.
                            if let Some(next) = order.pop_front() {
                                ask(next, &mut pending, &mut deadlines, &mut outstanding);
                                round.contact();
                            }
                            round.fail(node, e)
                        }
                    }
                }
            };
            // A stand-in rarely holds the item (only a hinted copy), so its answers complete
            // the quorum only once no owner asked is left to answer: two empty stand-ins must
            // never outvote a live owner that has the item.
            let owner_answers = answers.iter().filter(|(id, _)| owners.contains(id)).count();
            let owners_pending = outstanding.iter().any(|id| owners.contains(id));
            match state {
                RoundState::Pending if pending.is_empty() => break,
                RoundState::Pending => {}
                RoundState::Reached if owner_answers < q.read_quorum && owners_pending => {}
                RoundState::Reached => {
                    self.inner.repairs.offer(table, key, &merged, &answers, owners.to_vec());
                    if let Some(previous) = self.inner.ring.read_transition() {
                        self.read_previous_owners(&previous, table, key, &answers, &mut merged)
                            .await;
                    }
                    return Ok(merged);
                }
                RoundState::Failed => break,
            }
        }
        Err(quorum_error(round))
    }

    /// During a rebalance, new owners may not hold a partition's data yet: the owners of the
    /// previous layout are read too, `read_quorum` of them (those already answered count), and
    /// their answers merged. Writes need no such step: they reach W new owners, which every
    /// read asks. If too few previous owners answer, the read keeps what it has.
    async fn read_previous_owners(
        &self,
        previous: &crate::ring::Layout,
        table: TableId,
        key: &[u8],
        answers: &[(NodeId, Siblings)],
        merged: &mut Siblings,
    ) {
        let partition = previous.partition_of(crate::ring::item_hash(table.0, key));
        let owners = previous.preference_list(partition);
        let needed = self.quorum().read_quorum.min(owners.len());
        let mut have = owners.iter().filter(|o| answers.iter().any(|(n, _)| n == *o)).count();
        let mut pending: FuturesUnordered<_> = owners
            .iter()
            .copied()
            .filter(|o| self.alive(*o) && !answers.iter().any(|(n, _)| *n == *o))
            .filter_map(|o| self.replica(o))
            .map(|replica| {
                let key = key.to_vec();
                async move { replica.get(table, key).await }
            })
            .collect();
        while have < needed
            && let Some(result) = pending.next().await
        {
            if let Ok(siblings) = result {
                merged.merge(&siblings);
                have += 1;
            }
        }
        if have < needed {
            tracing::debug!(have, needed, "too few owners of the previous layout answered");
        }
    }

    /// Reads an item from every owner (of the current layout, and of the previous one while a
    /// rebalance may still be moving it) and merges what they hold, with any version a
    /// conditional write left accepted but not committed there (a later round may complete it);
    /// fails unless all answer. For decisions that must not miss a version any owner holds or
    /// may yet hold, such as whether a body is still referenced before it is deleted.
    pub async fn get_from_every_owner(
        &self,
        table: TableId,
        key: &[u8],
    ) -> Result<Siblings, CoordinatorError> {
        let mut owners = self.inner.ring.preference_list(table.0, key);
        if let Some(previous) = self.inner.ring.read_transition() {
            let partition = previous.partition_of(crate::ring::item_hash(table.0, key));
            for node in previous.preference_list(partition) {
                if !owners.contains(node) {
                    owners.push(*node);
                }
            }
        }
        let mut round = QuorumRound::new(owners.len(), owners.len());
        let reads: FuturesUnordered<_> = owners
            .iter()
            .map(|node| {
                let (node, replica, key) = (*node, self.replica(*node), key.to_vec());
                async move {
                    let Some(r) = replica else {
                        return (node, Err(ReplicaError::Task("no transport to peers".into())));
                    };
                    let result = match r.get(table, key.clone()).await {
                        Ok(mut held) => r.paxos_pending(table, key).await.map(|pending| {
                            held.merge(&pending.map(Siblings::from).unwrap_or_default());
                            held
                        }),
                        Err(e) => Err(e),
                    };
                    (node, result)
                }
            })
            .collect();
        let answers: Vec<_> = reads.collect().await;
        let mut merged = Siblings::new();
        for (node, result) in answers {
            match result {
                Ok(siblings) => {
                    merged.merge(&siblings);
                    round.ack(node);
                }
                Err(e) => {
                    round.fail(node, e);
                }
            }
        }
        match round.state() {
            RoundState::Reached => Ok(merged),
            _ => Err(quorum_error(round)),
        }
    }
    /// Reads a block from the first replica with an intact copy: live owners first, then the
    /// stand-ins that may hold a hinted copy. A replica that answers "absent" or "corrupt" or
    /// fails sends the read to the next one at once; one that has not answered by its hedging
    /// deadline gets the next one asked beside it.
    pub async fn get_block(&self, id: BlockId) -> Result<Bytes, CoordinatorError> {
        let mut order = self
            .inner
            .ring
            .extended_preference_list(super::BLOCK_PLACEMENT_TABLE, &Self::block_key(id));
        order.sort_by_key(|node| !self.alive(*node));
        let mut order = order.into_iter();
        let ring = self.inner.ring.clone();
        let read = |node: NodeId| {
            let replica = self.replica(node);
            let started = ring.clock().monotonic();
            async move {
                let result = match replica {
                    Some(r) => r.get_block(id).await,
                    None => Err(ReplicaError::Task("no transport to peers".into())),
                };
                (node, started, result)
            }
        };
        let mut pending = FuturesUnordered::new();
        let mut deadlines = FuturesUnordered::new();
        let mut failures = Vec::new();
        let mut outstanding = Vec::new();
        if let Some(first) = order.next() {
            pending.push(read(first));
            deadlines.push(ring.hedge_deadline(first, CallKind::Bulk));
            outstanding.push(first);
        }
        loop {
            let next = tokio::select! {
                biased;
                Some((node, started, result)) = pending.next() => {
                    outstanding.retain(|n| *n != node);
                    match result {
                        Ok(Some(data)) => {
                            let rtt = ring.clock().monotonic().saturating_duration_since(started);
                            ring.observe_latency(node, CallKind::Bulk, rtt);
                            self.restore_corrupt_copies(id, &data, &failures);
                            return Ok(data);
                        }
                        Ok(None) => failures.push((node, ReplicaError::Corrupt { what: "absent".into() })),
                        Err(e) => {
                            tracing::debug!(node = format_args!("{node:x}"), error = %e, "block read failed, trying the next replica");
                            failures.push((node, e));
                        }
                    }
                    true
                }
                Some(node) = deadlines.next() => outstanding.contains(&node),
                else => break,
            };
            if next && let Some(node) = order.next() {
                pending.push(read(node));
                deadlines.push(ring.hedge_deadline(node, CallKind::Bulk));
                outstanding.push(node);
            } else if pending.is_empty() {
                break;
            }
        }
        if failures.iter().all(|(_, e)| e.is_corruption()) {
            Err(CoordinatorError::BlockMissing { id })
        } else {
            Err(CoordinatorError::BlockUnavailable { id, failures })
        }
    }
}

impl Coordinator {
    /// After a read found an intact copy of a block, writes it over the copies that owners
    /// answered were corrupt (in the background, bounded; a full set leaves them to the
    /// scrubber). Missing copies are left to anti-entropy, which knows whether they should
    /// exist.
    fn restore_corrupt_copies(
        &self,
        id: BlockId,
        data: &Bytes,
        failures: &[(NodeId, ReplicaError)],
    ) {
        let n = self.quorum().replication_factor;
        let owners = self
            .inner
            .ring
            .extended_preference_list(super::BLOCK_PLACEMENT_TABLE, &Self::block_key(id));
        for (node, error) in failures {
            if !matches!(error, ReplicaError::Corrupt { what } if what != "absent")
                || !owners.iter().take(n).any(|o| o == node)
            {
                continue;
            }
            let Some(replica) = self.replica(*node) else { continue };
            let (this, node, data) = (self.clone(), *node, data.clone());
            tracing::warn!(block = ?id, node = format_args!("{node:x}"), "a read found a corrupt copy of a block; restoring it");
            let restore = async move {
                if replica.put_block(id, data, None).await.is_ok() {
                    this.scrub_control().restored_on_read();
                }
            };
            let _ = self.inner.copies.try_spawn(restore);
        }
    }
}
