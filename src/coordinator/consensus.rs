//! Conditional writes: rounds of per-key consensus (`crate::consensus`) among the item's N
//! owners, driven over the replica protocol. Plain writes never come here.
//!
//! A round reads the item from the majority that promised, lets the caller decide (write a
//! value, or refuse: a failed precondition), and commits the decided version at a majority of
//! owners before it returns, never at a stand-in. While a layout change is being synced, every
//! phase needs a majority of the previous owners and one of the new owners (joint consensus),
//! so conditional writes stay available through a rebalance. The version carries the consensus entry of
//! the vector clock (`CONSENSUS_ACTOR`), one above every decision it read, so that it descends
//! from what was read and outranks any concurrent plain write (see `Sibling::lww_key`).
//!
//! Outcomes: `Ok(Ok(version))` committed; `Ok(Err(refusal))` the caller refused, nothing was
//! written; `Contended` other conditional writes on the key kept preempting this one before it
//! proposed anything that could still be applied; `Undecided` it proposed a version, and could
//! not learn whether it was (or will be) applied; `QuorumNotReached` no majority of owners
//! answered. A refusal and `Contended` are definite: a client retries them as writes that did
//! not happen, so they are answered only once no round can apply this request's version (a
//! request whose proposal another proposer completed, and a third then overwrote, learns from
//! the decisions the owners keep that it was applied). In the other error cases the write may
//! still be decided later, as with any write whose answer was lost; the next conditional
//! request on the key settles it first.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

use super::{Coordinator, CoordinatorError};
use crate::causality::{CONSENSUS_ACTOR, Sibling, Siblings};
use crate::consensus::{Ballot, Proposer, Reply, Request, Step};
use crate::ring::NodeId;
use crate::store::{Decided, PaxosValue, TableId};

/// Rounds a conditional write tries before it reports contention or unreachable owners.
const ROUNDS_MAX: u32 = 12;
/// The first back-off after a preempted round; doubled per round, up to `BACKOFF_MAX`.
const BACKOFF_FIRST: Duration = Duration::from_millis(2);
const BACKOFF_MAX: Duration = Duration::from_millis(250);

/// How a round ended, when it did not return to the caller.
enum Retry {
    /// A higher ballot was in the way, or an earlier round's value was completed first.
    Contended,
    Unreachable,
}

impl Coordinator {
    /// Writes `(table, key)` by consensus among its owners: `decide` sees the item as a majority
    /// of them holds it and returns the value to write (`None`: a tombstone) or a refusal.
    /// `decide` may run more than once (once per round that reaches it).
    pub async fn put_conditional<E>(
        &self,
        table: TableId,
        key: &[u8],
        mut decide: impl FnMut(&Siblings) -> Result<Option<Vec<u8>>, E>,
    ) -> Result<Result<Sibling, E>, CoordinatorError> {
        if self.inner.ring.transition_stacked() {
            return Err(CoordinatorError::Settling);
        }
        let me = self.node_id();
        let mut seen = Ballot::default();
        // The version this request proposed and that may still be applied. While it may, the
        // request proposes it again rather than decide anew, so that it has one live proposal
        // and its answer says what became of it: a refusal or a conflict only once it can no
        // longer be applied.
        let mut mine: Option<Sibling> = None;
        let mut last = Retry::Unreachable;
        let mut own = Ballot::default();
        // Past `ROUNDS_MAX`, rounds go on only to settle a proposal that may still be applied.
        for round in 0..ROUNDS_MAX * 2 {
            if round >= ROUNDS_MAX && mine.is_none() {
                break;
            }
            if round > 0 {
                tokio::time::sleep(backoff(round, own)).await;
            }
            let (version, groups) = self.consensus_groups(table, key);
            if groups.iter().any(Vec::is_empty) {
                return Err(CoordinatorError::NoOwner);
            }
            let ballot = self.next_ballot(seen);
            seen = ballot;
            own = ballot;
            // A decision is acknowledged once W owners hold it, as a plain write is.
            let mut proposer =
                Proposer::joint(ballot, groups).with_commit_quorum(self.quorum().write_quorum);
            let mut reads = BTreeMap::new();
            let target = (table, key, version);
            let mut step =
                self.phase(&mut proposer, target, Request::Prepare(ballot), &mut reads).await;
            last = loop {
                // A round is decided by the owners it began with: once the layout changed, it
                // stops and the next one asks the new owners.
                if self.inner.ring.layout().version != version {
                    break Retry::Unreachable;
                }
                step = match step {
                    Step::Decide { promised, committed } => {
                        let mut current = Siblings::new();
                        let mut decided = BTreeSet::new();
                        for node in &promised {
                            if let Some((read, applied)) = reads.get(node) {
                                current.merge(read);
                                decided.extend(applied.iter().copied());
                            }
                        }
                        // The last decision, even where its item copy is gone (clean-up).
                        if let Some(Some(last_decision)) = committed {
                            current.apply(last_decision);
                        }
                        if let Some(m) = &mine {
                            match fate(m, &current, &decided) {
                                Fate::Applied => return Ok(Ok(m.clone())),
                                Fate::Unknown => return Err(CoordinatorError::Undecided),
                                Fate::Open => {
                                    step = proposer.propose(Some(m.clone()));
                                    continue;
                                }
                                Fate::Replaced => mine = None,
                            }
                        }
                        if round >= ROUNDS_MAX {
                            break Retry::Contended;
                        }
                        tracing::debug!(
                            key = %String::from_utf8_lossy(key),
                            me,
                            ?promised,
                            owners = ?proposer.acceptors(),
                            layout = version,
                            read = ?current.iter().map(|s| &s.clock).collect::<Vec<_>>(),
                            "consensus read"
                        );
                        let value = match decide(&current) {
                            Ok(value) => value,
                            Err(refusal) => return Ok(Err(refusal)),
                        };
                        let version = self.consensus_version(&current, value);
                        mine = Some(version.clone());
                        proposer.propose(Some(version))
                    }
                    Step::Accept(p) => {
                        self.phase(&mut proposer, target, Request::Accept(p), &mut reads).await
                    }
                    Step::Commit(p) => {
                        self.phase(&mut proposer, target, Request::Commit(p), &mut reads).await
                    }
                    Step::Chosen { value: Some(version), own }
                        if own || mine.as_ref() == Some(&version) =>
                    {
                        return Ok(Ok(version));
                    }
                    Step::Chosen { .. } => break Retry::Contended,
                    Step::Preempted { promised } => {
                        seen = seen.max(promised);
                        break Retry::Contended;
                    }
                    Step::Unreachable | Step::Wait => break Retry::Unreachable,
                };
            };
            tracing::debug!(
                round,
                contended = matches!(last, Retry::Contended),
                "conditional write round ended without a decision"
            );
        }
        Err(match last {
            // Proposed, and neither seen applied nor replaced: a later round may apply it.
            _ if mine.is_some() => CoordinatorError::Undecided,
            Retry::Contended => CoordinatorError::Contended,
            Retry::Unreachable => CoordinatorError::QuorumNotReached {
                needed: super::majority(self.quorum().replication_factor),
                acked: 0,
                failures: Vec::new(),
            },
        })
    }

    /// The layout version and the groups of owners a round needs a majority of: the key's
    /// owners; while a layout change is being synced, the previous owners too (joint
    /// consensus: the new owners may not hold the key yet, and either set alone might decide
    /// without the other).
    fn consensus_groups(&self, table: TableId, key: &[u8]) -> (u64, Vec<Vec<NodeId>>) {
        let ring = &self.inner.ring;
        let current = ring.layout();
        let n = self.quorum().replication_factor;
        let owners = ring.preference_list(table.0, key).into_iter().take(n).collect();
        let mut groups = vec![owners];
        if let Some(previous) = ring.read_transition() {
            let partition = previous.partition_of(crate::ring::item_hash(table.0, key));
            let n = previous.replication_factor.clamp(1, previous.members.len().max(1));
            groups.push(previous.preference_list(partition).iter().copied().take(n).collect());
        }
        (current.version, groups)
    }

    /// A ballot above `seen` that no other proposal of this node uses: its round is above the
    /// last one this node issued, and at least the clock in microseconds.
    fn next_ballot(&self, seen: Ballot) -> Ballot {
        use std::sync::atomic::Ordering;
        let now = u64::try_from(self.inner.clock.now().timestamp_micros()).unwrap_or(0);
        let mut round = 0;
        let _ = self.inner.ballot_round.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |last| {
            round = Ballot::after(seen, self.node_id(), now).round.max(last + 1);
            Some(round)
        });
        Ballot { round, node: self.node_id() }
    }

    /// The version a decision writes: a successor of everything read, one consensus decision
    /// above it.
    fn consensus_version(&self, read: &Siblings, value: Option<Vec<u8>>) -> Sibling {
        let mut clock = read.context();
        clock.set(CONSENSUS_ACTOR, clock.get(CONSENSUS_ACTOR) + 1);
        let timestamp_ms = self.inner.clock.now().timestamp_millis();
        Sibling { clock, timestamp_ms, writer: self.node_id(), value }
    }

    /// Sends one request of a round on `(table, key)` run under layout `layout` to every
    /// acceptor of the round at once and feeds the answers to the proposer until it says what
    /// comes next: the first majority decides, a silent owner costs nothing more. An acceptor
    /// that a new owner pulled from refuses a round of an older layout (`Reply::Fenced`).
    /// Owners the failure detector holds down are asked too: it may not have heard from a
    /// live one yet (a node just restarted), and a dead one only fails its call.
    async fn phase(
        &self,
        proposer: &mut Proposer<PaxosValue>,
        (table, key, layout): (TableId, &[u8], u64),
        request: Request<PaxosValue>,
        reads: &mut BTreeMap<NodeId, (Siblings, Vec<Decided>)>,
    ) -> Step<PaxosValue> {
        let ballot = proposer.ballot();
        let mut calls = FuturesUnordered::new();
        for node in proposer.acceptors().to_vec() {
            match self.replica(node) {
                Some(replica) => {
                    let (request, key) = (request.clone(), key.to_vec());
                    calls.push(
                        async move { (node, replica.paxos(table, key, request, layout).await) },
                    );
                }
                None => {
                    let step = proposer.on_failure(node);
                    if step != Step::Wait {
                        return step;
                    }
                }
            }
        }
        while let Some((node, answer)) = calls.next().await {
            let step = match answer {
                Ok(answer) => {
                    if matches!(answer.reply, Reply::Promise { .. }) {
                        reads.insert(node, (answer.current, answer.decided));
                    }
                    proposer.on_reply(node, ballot, answer.reply)
                }
                Err(e) => {
                    tracing::debug!(node = format_args!("{node:x}"), error = %e, "consensus call failed");
                    proposer.on_failure(node)
                }
            };
            if step != Step::Wait {
                return step;
            }
        }
        Step::Unreachable
    }
}

/// What became of a version this request proposed, as a round's read shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    /// It was chosen: it is in the read, or among the decisions the owners applied.
    Applied,
    /// Another version was chosen in its place in the key's chain: it never will be.
    Replaced,
    /// Nothing was chosen in its place yet: a round may still choose it.
    Open,
    /// Its place was taken, by it or by another, and the decisions kept do not reach back far
    /// enough to say which.
    Unknown,
}

/// Each version chosen for a key holds one more consensus decision than the one before
/// (`consensus_version`), so a version's count is its place in the chain: `mine` was applied
/// if an owner applied it, and replaced if one applied another version in its place.
fn fate(mine: &Sibling, current: &Siblings, decided: &BTreeSet<Decided>) -> Fate {
    let id = Decided::of(mine);
    if current.iter().any(|s| s == mine) || decided.contains(&id) {
        return Fate::Applied;
    }
    if decided.iter().any(|d| d.count == id.count) {
        return Fate::Replaced;
    }
    let reached = current.iter().map(|s| s.clock.get(CONSENSUS_ACTOR)).max().unwrap_or(0);
    if reached >= id.count { Fate::Unknown } else { Fate::Open }
}

/// The pause before round `round` (from 1): exponential, spread by the proposer's last
/// ballot so that proposers that preempt each other do not retry in lockstep, those of one
/// node included (many requests through one node each draw their own ballot; a spread by node
/// alone had them all retry at the same instant and preempt each other again).
fn backoff(round: u32, last: Ballot) -> Duration {
    let base = BACKOFF_FIRST.saturating_mul(1 << round.min(8)).min(BACKOFF_MAX);
    let mut seed = [0u8; 20];
    seed[..8].copy_from_slice(&last.node.to_le_bytes());
    seed[8..16].copy_from_slice(&last.round.to_le_bytes());
    seed[16..].copy_from_slice(&round.to_le_bytes());
    let spread = u32::try_from(xxhash_rust::xxh3::xxh3_64(&seed) % 16).unwrap_or(0);
    base / 2 + base * spread / 8
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::causality::VectorClock;

    /// A version in place `count` of a key's chain, written by `writer`.
    fn at(count: u64, writer: u64) -> Sibling {
        let mut clock = VectorClock::new();
        clock.set(CONSENSUS_ACTOR, count);
        Sibling { clock, timestamp_ms: 10, writer, value: Some(vec![writer as u8]) }
    }

    #[test]
    fn a_proposal_is_applied_replaced_open_or_unknown_by_what_the_owners_report() {
        let mine = at(3, 1);
        let theirs = at(3, 2);
        let later = at(4, 2);
        let none = BTreeSet::new();
        let log = |versions: &[&Sibling]| versions.iter().map(|v| Decided::of(v)).collect();
        // Read where it stands, or overwritten since with the owners' decisions naming it.
        assert_eq!(fate(&mine, &Siblings::from(mine.clone()), &none), Fate::Applied);
        assert_eq!(
            fate(&mine, &Siblings::from(later.clone()), &log(&[&mine, &later])),
            Fate::Applied
        );
        // Another version took its place, read or only named.
        assert_eq!(
            fate(&mine, &Siblings::from(later.clone()), &log(&[&theirs, &later])),
            Fate::Replaced
        );
        // Nothing in its place yet: the chain stands before it.
        assert_eq!(fate(&mine, &Siblings::from(at(2, 2)), &log(&[&at(2, 2)])), Fate::Open);
        assert_eq!(fate(&mine, &Siblings::new(), &none), Fate::Open);
        // Its place is taken, and the decisions kept start after it.
        assert_eq!(fate(&mine, &Siblings::from(later.clone()), &log(&[&later])), Fate::Unknown);
    }
}
