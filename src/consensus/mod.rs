//! Consensus per key: single-decree Paxos among a key's owners, as a pure state machine.
//!
//! Plain writes go through the sloppy quorum; a request that carries a condition (S3's
//! `If-None-Match: *`, `If-Match`, an exclusive CreateBucket) must decide against the one true
//! current value, which a sloppy quorum cannot give. Those requests run a round of Paxos among
//! the key's N owners (never stand-ins), as Cassandra's lightweight transactions do:
//!
//! 1. **Prepare** a ballot higher than any seen; a majority promises to accept nothing lower
//!    and answers with what it accepted and the last proposal it committed (ballot and value:
//!    the value is read with the item, so a decision is seen even where the item's copy was
//!    since dropped, as clean-up does on a node that no longer owns the key).
//! 2. If some promise carries an accepted value newer than every commit the majority reports,
//!    an earlier round may have chosen it: the proposer *completes* it (accepts and commits it
//!    under its own ballot) and starts again. Otherwise it reads the majority's state, decides
//!    (the condition holds, or the request fails without writing anything) and proposes.
//! 3. **Accept**: a majority accepting the value chooses it.
//! 4. **Commit**: each owner applies the value to its copy of the item and records the ballot
//!    as committed, in one transaction; the round succeeds once a majority applied it.
//!
//! A value is applied only once chosen, and a round reads only after every earlier chosen value
//! is applied at a majority or completed, so conditional writes to one key form one chain: each
//! extends exactly the value it read. Acceptor state is durable before any answer (the store
//! persists it), so a restart in the middle of a round cannot commit two values.
//!
//! This module knows nothing of items, the network or time: the acceptor is a value the store
//! persists, the proposer consumes replies and says what to send next (`Step`). Both are tested
//! here against a simulated network that loses, duplicates and reorders messages and crashes
//! acceptors.
//!
//! Reference: L. Lamport, "Paxos Made Simple", 2001.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// Who runs a round or answers one (the ring's node id).
pub type NodeId = u64;

/// A ballot: rounds are totally ordered by `(round, node)`; a higher ballot supersedes.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Ballot {
    pub round: u64,
    pub node: NodeId,
}

impl Ballot {
    /// The ballot `node` proposes with after seeing `seen`: above it, and at least `floor` (a
    /// clock reading, so that proposers that never met still move forward).
    pub fn after(seen: Ballot, node: NodeId, floor: u64) -> Ballot {
        Ballot { round: seen.round.saturating_add(1).max(floor), node }
    }
}

/// A value under a ballot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal<V> {
    pub ballot: Ballot,
    pub value: V,
}

/// What a proposer asks of an acceptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request<V> {
    Prepare(Ballot),
    Accept(Proposal<V>),
    /// The value was chosen: apply it.
    Commit(Proposal<V>),
}

/// What an acceptor answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reply<V> {
    /// Nothing below the ballot will be accepted; here is what was accepted and not yet
    /// known committed, and the proposal with the highest ballot committed here.
    Promise {
        accepted: Option<Proposal<V>>,
        committed: Option<Proposal<V>>,
    },
    Accepted,
    /// The value is applied here (the caller applies it in the same transaction).
    Committed,
    /// A higher ballot was promised.
    Rejected {
        promised: Ballot,
    },
    /// The round runs under a layout older than one this acceptor's state was handed over
    /// under (see `Acceptor::absorb`): it answers no phase of it. Not a preemption: the
    /// proposer's next round, under the new layout, is welcome.
    Fenced,
}

/// Whether an acceptor fenced at layout `fence` refuses `request` of a round run under layout
/// `round_layout` (see `Acceptor::absorb`). A commit is never refused: its value was chosen,
/// and applying a chosen value is always safe.
pub fn fenced<V>(request: &Request<V>, round_layout: u64, fence: u64) -> bool {
    round_layout < fence && !matches!(request, Request::Commit(_))
}

/// One acceptor's state for one key; the store persists it before answering.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acceptor<V> {
    pub promised: Ballot,
    pub accepted: Option<Proposal<V>>,
    /// The proposal with the highest ballot this acceptor applied.
    pub committed: Option<Proposal<V>>,
}

impl<V> Default for Acceptor<V> {
    fn default() -> Self {
        Self { promised: Ballot::default(), accepted: None, committed: None }
    }
}

impl<V> Acceptor<V> {
    /// The highest ballot committed here.
    pub fn committed_ballot(&self) -> Ballot {
        ballot_of(self.committed.as_ref())
    }
}

fn ballot_of<V>(proposal: Option<&Proposal<V>>) -> Ballot {
    proposal.map(|p| p.ballot).unwrap_or_default()
}

impl<V: Clone> Acceptor<V> {
    /// Takes in `other`, the state of the same key on an acceptor this one succeeds (the key's
    /// owners changed, and this node now owns it): the higher promise, the higher commit, and
    /// the accepted proposal with the higher ballot unless a commit at or above it settled it.
    ///
    /// A new owner that absorbed the rows of a majority of the previous owners answers a
    /// prepare as that majority would have: a value the previous owners chose, or may have
    /// chosen, is reported with its ballot, so the highest-ballot rule completes it. This holds
    /// only if no phase of a round run under the previous owners lands on a source after it
    /// was read; the sources fence such rounds off first (`Reply::Fenced`).
    pub fn absorb(&mut self, other: &Acceptor<V>) {
        self.promised = self.promised.max(other.promised);
        if other.committed_ballot() > self.committed_ballot() {
            self.committed.clone_from(&other.committed);
        }
        if ballot_of(other.accepted.as_ref()) > ballot_of(self.accepted.as_ref()) {
            self.accepted.clone_from(&other.accepted);
        }
        if self.accepted.as_ref().is_some_and(|a| a.ballot <= self.committed_ballot()) {
            self.accepted = None;
        }
    }

    /// Handles one request. For `Commit` the caller applies the value too, whatever the
    /// ballot: a chosen value applied twice, or late, is a no-op for a causal merge.
    pub fn handle(&mut self, request: Request<V>) -> Reply<V> {
        match request {
            Request::Prepare(ballot) => {
                if ballot < self.promised {
                    return Reply::Rejected { promised: self.promised };
                }
                self.promised = ballot;
                Reply::Promise {
                    accepted: self.accepted.clone(),
                    committed: self.committed.clone(),
                }
            }
            Request::Accept(proposal) => {
                if proposal.ballot < self.promised {
                    return Reply::Rejected { promised: self.promised };
                }
                self.promised = proposal.ballot;
                self.accepted = Some(proposal);
                Reply::Accepted
            }
            Request::Commit(proposal) => {
                if self.accepted.as_ref().is_some_and(|a| a.ballot <= proposal.ballot) {
                    self.accepted = None;
                }
                self.promised = self.promised.max(proposal.ballot);
                if proposal.ballot > self.committed_ballot() {
                    self.committed = Some(proposal);
                }
                Reply::Committed
            }
        }
    }
}

/// What the driver of a proposer does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step<V> {
    /// Wait for more replies.
    Wait,
    /// A majority promised and nothing is in progress: read the state of `promised` (the
    /// acceptors that promised) together with `committed`, the last value they report
    /// committed, then `propose` a value or give up.
    Decide { promised: Vec<NodeId>, committed: Option<V> },
    /// Send `Request::Accept(proposal)` to every acceptor.
    Accept(Proposal<V>),
    /// Send `Request::Commit(proposal)` to every acceptor.
    Commit(Proposal<V>),
    /// The value is applied at a majority. `own`: the value the driver proposed; otherwise an
    /// earlier round's, completed, and the driver starts a new round for its own.
    Chosen { value: V, own: bool },
    /// A higher ballot is in the way: start again above `promised`.
    Preempted { promised: Ballot },
    /// Too many acceptors failed to answer for a majority.
    Unreachable,
}

/// What one acceptor promised with: its accepted proposal and its last commit.
type Promised<V> = (Option<Proposal<V>>, Option<Proposal<V>>);

#[derive(Debug, Clone)]
enum Phase<V> {
    Prepare { promises: BTreeMap<NodeId, Promised<V>> },
    Decide,
    Accept { value: V, own: bool },
    Commit { value: V, own: bool },
    Done,
}

/// One round of one proposer, under one ballot.
#[derive(Debug, Clone)]
pub struct Proposer<V> {
    ballot: Ballot,
    /// Every acceptor of the round: the union of the groups.
    acceptors: Vec<NodeId>,
    /// Each phase needs a majority of every group: one group normally; while the key's owners
    /// change, the old owners and the new ones (joint consensus), so that a round overlaps
    /// every round decided by either set alone.
    groups: Vec<Vec<NodeId>>,
    phase: Phase<V>,
    /// Acceptors that answered yes in the current phase.
    answered: BTreeSet<NodeId>,
    /// Acceptors that refused or failed in the current phase.
    refused: BTreeSet<NodeId>,
    /// The highest ballot a refusal named.
    highest_refusal: Option<Ballot>,
    /// Acks of each group the commit phase needs, if more than a majority (a write quorum W
    /// above it: a decided value is then durable on W owners before the round succeeds).
    commit_quorum: usize,
}

impl<V: Clone + PartialEq> Proposer<V> {
    /// A round under `ballot` among `acceptors`, needing a majority of them. The driver first
    /// sends `Request::Prepare(ballot)` to every acceptor.
    pub fn new(ballot: Ballot, acceptors: Vec<NodeId>) -> Self {
        Self::joint(ballot, vec![acceptors])
    }

    /// A round needing a majority of each of `groups` in every phase.
    pub fn joint(ballot: Ballot, groups: Vec<Vec<NodeId>>) -> Self {
        let mut acceptors: Vec<NodeId> = groups.iter().flatten().copied().collect();
        acceptors.sort_unstable();
        acceptors.dedup();
        Self {
            ballot,
            acceptors,
            groups,
            phase: Phase::Prepare { promises: BTreeMap::new() },
            answered: BTreeSet::new(),
            refused: BTreeSet::new(),
            highest_refusal: None,
            commit_quorum: 0,
        }
    }

    /// The commit phase succeeds only once `acks` acceptors of each group (at most all of
    /// them, at least a majority) applied the value.
    #[must_use]
    pub fn with_commit_quorum(mut self, acks: usize) -> Self {
        self.commit_quorum = acks;
        self
    }

    /// Yes answers the current phase needs from a group of `size` acceptors.
    fn needed(&self, size: usize) -> usize {
        let majority = size / 2 + 1;
        match self.phase {
            Phase::Commit { .. } => majority.max(self.commit_quorum.min(size)),
            _ => majority,
        }
    }

    pub fn ballot(&self) -> Ballot {
        self.ballot
    }

    /// Every acceptor the driver sends to.
    pub fn acceptors(&self) -> &[NodeId] {
        &self.acceptors
    }

    /// Whether `yes` holds a quorum of every group: a majority (in the commit phase, at
    /// least the commit quorum).
    fn quorum_in<'a>(&self, yes: impl Iterator<Item = &'a NodeId> + Clone) -> bool {
        self.groups.iter().all(|group| {
            let count = yes.clone().filter(|n| group.contains(n)).count();
            count >= self.needed(group.len())
        })
    }

    /// Whether the acceptors not yet refused could still make a quorum of every group.
    fn quorum_possible(&self) -> bool {
        self.groups.iter().all(|group| {
            let left = group.iter().filter(|n| !self.refused.contains(n)).count();
            left >= self.needed(group.len())
        })
    }

    /// A reply from `from` to a request sent under `ballot`. Replies to another ballot, from
    /// strangers, or late for their phase are ignored.
    pub fn on_reply(&mut self, from: NodeId, ballot: Ballot, reply: Reply<V>) -> Step<V> {
        if ballot != self.ballot || !self.acceptors.contains(&from) {
            return Step::Wait;
        }
        match (reply, &mut self.phase) {
            (Reply::Rejected { promised }, Phase::Prepare { .. } | Phase::Accept { .. }) => {
                self.highest_refusal = self.highest_refusal.max(Some(promised));
                self.refuse(from)
            }
            (Reply::Fenced, Phase::Prepare { .. } | Phase::Accept { .. }) => self.refuse(from),
            (Reply::Promise { accepted, committed }, Phase::Prepare { promises }) => {
                if self.refused.contains(&from) {
                    return Step::Wait;
                }
                promises.insert(from, (accepted, committed));
                self.answered.insert(from);
                self.after_promise()
            }
            (Reply::Accepted, Phase::Accept { .. }) | (Reply::Committed, Phase::Commit { .. }) => {
                if self.refused.contains(&from) {
                    return Step::Wait;
                }
                self.answered.insert(from);
                self.after_ack()
            }
            _ => Step::Wait,
        }
    }

    /// `to` could not be reached, or its answer did not come in time, in the current phase.
    pub fn on_failure(&mut self, to: NodeId) -> Step<V> {
        if !self.acceptors.contains(&to) || self.answered.contains(&to) {
            return Step::Wait;
        }
        self.refuse(to)
    }

    /// After `Step::Decide`: propose `value`; the driver sends the returned `Step::Accept`.
    pub fn propose(&mut self, value: V) -> Step<V> {
        if !matches!(self.phase, Phase::Decide) {
            return Step::Wait;
        }
        self.enter(Phase::Accept { value: value.clone(), own: true });
        Step::Accept(Proposal { ballot: self.ballot, value })
    }

    fn refuse(&mut self, from: NodeId) -> Step<V> {
        if matches!(self.phase, Phase::Decide | Phase::Done) || self.answered.contains(&from) {
            return Step::Wait;
        }
        self.refused.insert(from);
        if self.quorum_possible() {
            return Step::Wait;
        }
        // In the commit phase the value is chosen already: a later round completes it.
        let preempted = !matches!(self.phase, Phase::Commit { .. });
        self.phase = Phase::Done;
        match self.highest_refusal {
            Some(promised) if preempted && promised > self.ballot => Step::Preempted { promised },
            _ => Step::Unreachable,
        }
    }

    fn after_promise(&mut self) -> Step<V> {
        let Phase::Prepare { promises } = &self.phase else { return Step::Wait };
        if !self.quorum_in(promises.keys()) {
            return Step::Wait;
        }
        let last_commit =
            promises.values().filter_map(|(_, c)| c.as_ref()).max_by_key(|c| c.ballot).cloned();
        let committed = ballot_of(last_commit.as_ref());
        let in_progress = promises
            .values()
            .filter_map(|(a, _)| a.as_ref())
            .filter(|a| a.ballot > committed)
            .max_by_key(|a| a.ballot)
            .cloned();
        let promised: Vec<NodeId> = promises.keys().copied().collect();
        match in_progress {
            Some(earlier) => {
                self.enter(Phase::Accept { value: earlier.value.clone(), own: false });
                Step::Accept(Proposal { ballot: self.ballot, value: earlier.value })
            }
            None => {
                self.enter(Phase::Decide);
                Step::Decide { promised, committed: last_commit.map(|c| c.value) }
            }
        }
    }

    fn after_ack(&mut self) -> Step<V> {
        if !self.quorum_in(self.answered.iter()) {
            return Step::Wait;
        }
        match std::mem::replace(&mut self.phase, Phase::Done) {
            Phase::Accept { value, own } => {
                self.enter(Phase::Commit { value: value.clone(), own });
                Step::Commit(Proposal { ballot: self.ballot, value })
            }
            Phase::Commit { value, own } => Step::Chosen { value, own },
            other => {
                self.phase = other;
                Step::Wait
            }
        }
    }

    fn enter(&mut self, phase: Phase<V>) {
        self.phase = phase;
        self.answered.clear();
        self.refused.clear();
    }
}

#[cfg(test)]
mod tests;
