//! Quorum bookkeeping for one replicated read or write, pure and synchronous: responses go in,
//! a decision comes out. The async shell in `coordinator` sends the requests and feeds this.

use crate::ring::NodeId;

/// Where a round stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoundState {
    /// Still waiting for responses.
    Pending,
    /// Enough replicas acknowledged.
    Reached,
    /// So many replicas failed that the quorum can no longer be reached.
    Failed,
}

/// Counts acknowledgements and failures from the replicas of one preference list.
#[derive(Debug, Clone)]
pub struct QuorumRound<E> {
    needed: usize,
    contacted: usize,
    acked: Vec<NodeId>,
    failures: Vec<(NodeId, E)>,
}

impl<E> QuorumRound<E> {
    /// A round that needs `needed` acknowledgements out of `contacted` replicas.
    pub fn new(needed: usize, contacted: usize) -> Self {
        Self { needed, contacted, acked: Vec::new(), failures: Vec::new() }
    }

    pub fn ack(&mut self, node: NodeId) -> RoundState {
        self.acked.push(node);
        self.state()
    }

    /// Counts one more replica contacted: a stand-in sent the request in place of a replica
    /// that failed. Without it, failures could outnumber the replicas contacted.
    pub fn contact(&mut self) {
        self.contacted += 1;
    }

    pub fn fail(&mut self, node: NodeId, error: E) -> RoundState {
        self.failures.push((node, error));
        self.state()
    }

    pub fn state(&self) -> RoundState {
        if self.acked.len() >= self.needed {
            RoundState::Reached
        } else if self.contacted.saturating_sub(self.failures.len()) < self.needed {
            RoundState::Failed
        } else {
            RoundState::Pending
        }
    }

    pub fn acked(&self) -> &[NodeId] {
        &self.acked
    }

    pub fn needed(&self) -> usize {
        self.needed
    }

    pub fn into_failures(self) -> Vec<(NodeId, E)> {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reaches_after_w_acks_and_fails_when_too_many_fail() {
        let mut round = QuorumRound::<&str>::new(2, 3);
        assert_eq!(round.state(), RoundState::Pending);
        assert_eq!(round.ack(1), RoundState::Pending);
        assert_eq!(round.fail(2, "down"), RoundState::Pending);
        assert_eq!(round.ack(3), RoundState::Reached);

        let mut round = QuorumRound::<&str>::new(2, 3);
        assert_eq!(round.fail(1, "down"), RoundState::Pending);
        assert_eq!(round.fail(2, "down"), RoundState::Failed);
        assert_eq!(round.into_failures().len(), 2);
    }

    #[test]
    fn a_ring_of_one_needs_its_only_replica() {
        let mut round = QuorumRound::<&str>::new(1, 1);
        assert_eq!(round.ack(7), RoundState::Reached);
        let mut round = QuorumRound::<&str>::new(1, 1);
        assert_eq!(round.fail(7, "disk"), RoundState::Failed);
    }

    /// Regression: a write round was created with its first targets, but each failed target
    /// was replaced by a stand-in and failed again, so failures outnumbered `contacted` and
    /// `contacted - failures` underflowed (a panic in debug builds, a wrapped count in
    /// release). Found by the simulation (SIM_SEED=13 before the fix).
    #[test]
    fn regression_replacements_count_as_contacted() {
        let mut round = QuorumRound::<&str>::new(2, 3);
        assert_eq!(round.ack(1), RoundState::Pending);
        assert_eq!(round.fail(2, "timeout"), RoundState::Pending);
        round.contact();
        assert_eq!(round.fail(4, "timeout"), RoundState::Pending);
        assert_eq!(round.fail(3, "timeout"), RoundState::Failed);
        // Even failures beyond the replicas counted as contacted never underflow.
        assert_eq!(round.fail(5, "timeout"), RoundState::Failed);
        assert_eq!(round.fail(7, "timeout"), RoundState::Failed);
        round.contact();
        assert_eq!(round.ack(6), RoundState::Reached);
    }

    #[test]
    fn more_replicas_than_contacted_can_never_be_reached() {
        let round = QuorumRound::<&str>::new(2, 1);
        assert_eq!(round.state(), RoundState::Failed);
    }
}
