//! The write protocol, driven event by event: each test feeds what the replicas do and asserts
//! the exact actions that come out.

use super::WriteAction::{Copy, HintLocally, Mint, Reply};
use super::WriteEvent::{Acked, Failed, HintKept, Minted, Slow};
use super::*;

type Round = WriteRound<&'static str>;

/// Owners 1, 2, 3 (those in `down` believed down), stand-ins `spares`, W = 2.
fn round(me: NodeId, down: &[NodeId], spares: &[NodeId], mint: bool) -> Round {
    let down = down.to_vec();
    WriteRound::new(me, &[1, 2, 3], move |n| !down.contains(&n), spares.to_vec(), 2, mint)
}

fn copy(node: NodeId) -> WriteAction {
    Copy { node, hint_for: None }
}

#[test]
fn a_block_goes_to_every_owner_and_the_reply_comes_with_the_second_ack() {
    let mut r = round(1, &[], &[4], false);
    assert_eq!(r.start(), vec![copy(1), copy(2), copy(3)]);
    assert_eq!(r.on(Acked(2)), vec![]);
    assert_eq!(r.on(Acked(1)), vec![Reply(true)]);
    assert!(!r.finished(), "the third copy is still on its way");
    assert_eq!(r.on(Acked(3)), vec![]);
    assert!(r.finished());
}

#[test]
fn an_owner_believed_down_is_replaced_by_a_stand_in_at_once() {
    let mut r = round(1, &[2], &[4, 5], false);
    assert_eq!(r.start(), vec![copy(1), Copy { node: 4, hint_for: Some(2) }, copy(3)]);
    assert_eq!(r.on(Acked(4)), vec![]);
    assert_eq!(r.on(Acked(3)), vec![Reply(true)]);
}

#[test]
fn a_slow_owner_gets_a_stand_in_beside_it_and_the_reply_does_not_wait() {
    let mut r = round(1, &[], &[4], false);
    r.start();
    assert_eq!(r.on(Acked(1)), vec![]);
    assert_eq!(r.on(Slow(2)), vec![Copy { node: 4, hint_for: Some(2) }]);
    assert_eq!(r.on(Slow(3)), vec![], "no stand-in left to hedge with");
    assert_eq!(r.on(Acked(4)), vec![Reply(true)]);
    // The slow owner answers late, or fails: its slot is already covered.
    assert_eq!(r.on(Failed(2, "timeout")), vec![]);
    assert_eq!(r.on(Acked(3)), vec![]);
    assert!(r.finished());
}

#[test]
fn a_failed_copy_moves_to_the_next_stand_in() {
    let mut r = round(1, &[], &[4, 5], false);
    r.start();
    assert_eq!(r.on(Failed(2, "refused")), vec![Copy { node: 4, hint_for: Some(2) }]);
    assert_eq!(r.on(Failed(4, "refused")), vec![Copy { node: 5, hint_for: Some(2) }]);
    assert_eq!(r.on(Acked(5)), vec![]);
    assert_eq!(r.on(Acked(3)), vec![Reply(true)]);
}

#[test]
fn a_copy_that_fails_with_no_stand_in_left_leaves_a_hint_here() {
    let mut r = round(1, &[], &[], false);
    r.start();
    r.on(Acked(1));
    assert_eq!(r.on(Acked(3)), vec![Reply(true)]);
    // This node holds the data already: the hint alone.
    assert_eq!(r.on(Failed(2, "timeout")), vec![HintLocally { owner: 2, with_data: false }]);
    assert!(!r.finished());
    assert_eq!(r.on(HintKept(2)), vec![]);
    assert!(r.finished());
}

#[test]
fn a_coordinator_that_is_no_owner_keeps_the_data_with_its_hint() {
    let mut r = round(9, &[3], &[], false);
    assert_eq!(r.start(), vec![copy(1), copy(2)]);
    assert_eq!(r.on(Acked(1)), vec![HintLocally { owner: 3, with_data: true }]);
    assert_eq!(r.on(Acked(2)), vec![], "W nodes hold it, but owner 3's hint is not durable yet");
    assert_eq!(r.on(HintKept(3)), vec![Reply(true)]);
    assert!(r.finished());
    assert_eq!(r.acked().len(), 3, "the local copy is a third durable copy");
}

/// Regression (a cluster test read 4 hints pending on the coordinator after 5 acknowledged
/// PUTs with an owner down): the hint for an owner with no stand-in left was written after
/// the reply, so a coordinator that failed right after answering lost the only record of
/// that owner's missing copy. The reply now waits for the hint, a local commit.
#[test]
fn the_reply_waits_for_the_hint_of_an_owner_with_no_stand_in() {
    let mut r = round(1, &[3], &[], true).with_version();
    assert_eq!(r.start(), vec![copy(1), copy(2)]);
    assert_eq!(r.on(Acked(2)), vec![], "this node is busy with its own copy");
    assert_eq!(r.on(Acked(1)), vec![HintLocally { owner: 3, with_data: false }]);
    assert_eq!(r.on(HintKept(3)), vec![Reply(true)]);
    assert!(r.finished());
    // A hint that fails does not hold the reply back: the copies are durable on W nodes.
    let mut r = round(1, &[3], &[], false);
    r.start();
    r.on(Acked(1));
    assert_eq!(r.on(Acked(2)), vec![]);
    assert_eq!(r.on(super::WriteEvent::HintFailed(3, "disk")), vec![Reply(true)]);
}

#[test]
fn an_item_is_minted_here_first_then_copied() {
    let mut r = round(2, &[], &[4], true);
    assert_eq!(r.start(), vec![Mint { node: 2 }]);
    assert_eq!(r.on(Minted(2)), vec![copy(1), copy(3)]);
    assert_eq!(r.on(Acked(3)), vec![Reply(true)]);
    assert_eq!(r.minter(), Some(2));
}

#[test]
fn a_version_minted_here_in_memory_is_written_here_and_copied_at_once() {
    let r = round(2, &[], &[4], true);
    assert_eq!(r.first_minter(), Some(2), "an owner mints itself");
    let mut r = r.with_version();
    assert_eq!(r.first_minter(), None);
    assert_eq!(r.start(), vec![copy(1), copy(2), copy(3)], "its own copy goes beside the others");
    assert_eq!(r.on(Acked(3)), vec![]);
    assert_eq!(r.on(Acked(2)), vec![Reply(true)]);
    // Its own store failing is a failed copy like any other: a stand-in takes the slot.
    let mut r = round(2, &[], &[4], true).with_version();
    r.start();
    assert_eq!(r.on(Failed(2, "disk")), vec![Copy { node: 4, hint_for: Some(2) }]);
    assert_eq!(round(9, &[], &[4], true).first_minter(), Some(1), "a non-owner asks an owner");
}

#[test]
fn a_slow_minter_is_hedged_by_the_next_owner_and_still_gets_the_version() {
    let mut r = round(9, &[], &[4], true);
    assert_eq!(r.start(), vec![Mint { node: 1 }]);
    assert_eq!(r.on(Slow(1)), vec![Mint { node: 2 }]);
    // Owner 1's mint is still in flight: it gets its copy once that call settles.
    assert_eq!(r.on(Minted(2)), vec![copy(3)]);
    assert_eq!(r.on(Acked(3)), vec![Reply(true)]);
    assert_eq!(r.on(Minted(1)), vec![copy(1)]);
    assert_eq!(r.on(Acked(1)), vec![]);
    assert!(r.finished());
    assert_eq!(r.minter(), Some(2));
}

#[test]
fn a_failed_minter_is_replaced_and_its_slot_goes_to_a_stand_in() {
    let mut r = round(9, &[], &[4], true);
    r.start();
    assert_eq!(r.on(Failed(1, "refused")), vec![Mint { node: 2 }]);
    assert_eq!(r.on(Minted(2)), vec![Copy { node: 4, hint_for: Some(1) }, copy(3)]);
    assert_eq!(r.on(Acked(4)), vec![Reply(true)]);
}

#[test]
fn no_owner_left_to_mint_fails_the_write() {
    let mut r = round(9, &[2, 3], &[], true);
    assert_eq!(r.start(), vec![Mint { node: 1 }]);
    assert_eq!(r.on(Failed(1, "refused")), vec![Reply(false)]);
    assert!(r.finished());
    assert_eq!(r.into_failures().len(), 1);
}

#[test]
fn a_quorum_that_cannot_be_reached_fails_at_once_and_hints_once_data_exists() {
    let mut r = round(1, &[2, 3], &[], false);
    assert_eq!(r.start(), vec![copy(1), Reply(false)]);
    assert_eq!(r.on(Acked(1)), vec![HintLocally { owner: 2, with_data: false }]);
    assert_eq!(r.on(HintKept(2)), vec![HintLocally { owner: 3, with_data: false }]);
    assert_eq!(r.on(HintKept(3)), vec![]);
    assert!(r.finished());
}

#[test]
fn abandoning_the_copies_past_the_quorum_leaves_hints_for_their_owners() {
    let mut r = round(9, &[], &[], false);
    r.start();
    r.on(Acked(1));
    assert_eq!(r.on(Acked(2)), vec![Reply(true)]);
    assert_eq!(r.abandon(), vec![HintLocally { owner: 3, with_data: true }]);
    // The abandoned call's late answer changes nothing.
    assert_eq!(r.on(Acked(3)), vec![]);
    assert_eq!(r.on(HintKept(3)), vec![]);
    assert!(r.finished());
}

/// Regression (the short chaos run): a coordinator whose own store refused its copy (a full
/// disk) kept no hint for itself anywhere, so with no stand-in left it missed the write for
/// good (until anti-entropy). An owner that holds the version now keeps the hint for it.
#[test]
fn this_nodes_own_failed_copy_is_hinted_by_an_owner_that_holds_it() {
    let mut r = round(1, &[], &[], false);
    r.start();
    assert_eq!(r.on(Failed(1, "disk full")), vec![]);
    assert_eq!(r.on(Acked(2)), vec![Copy { node: 2, hint_for: Some(1) }]);
    assert_eq!(r.on(Acked(3)), vec![Reply(true)]);
    assert!(!r.finished(), "the keeper's hint is on its way");
    // The first keeper fails: the next owner that holds it keeps the hint.
    assert_eq!(r.on(Failed(2, "refused")), vec![Copy { node: 3, hint_for: Some(1) }]);
    assert_eq!(r.on(Acked(3)), vec![]);
    assert!(r.finished());
}

#[test]
fn this_nodes_own_failed_copy_with_a_stand_in_left_goes_to_the_stand_in() {
    let mut r = round(1, &[], &[4], false);
    r.start();
    assert_eq!(r.on(Failed(1, "disk full")), vec![Copy { node: 4, hint_for: Some(1) }]);
}

/// The protocol under any interleaving: replicas answer, fail or are slow in any order the
/// strategy picks, and the round is then drained. Laws: one reply, never before W nodes hold
/// the data; every call ends; once the data exists, every owner ends up holding it, or a
/// stand-in holds it with a hint for it, or this node keeps a hint for it (unless the owner
/// is this node itself and its own store failed).
mod interleavings {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::*;

    #[derive(Debug, Clone)]
    enum Call {
        Mint(NodeId),
        Copy(NodeId, Option<NodeId>),
        Hint(NodeId),
    }

    struct Harness {
        round: Round,
        me: NodeId,
        pending: Vec<Call>,
        replies: Vec<bool>,
        holds: BTreeSet<NodeId>,
        covered: BTreeSet<NodeId>,
        lost: BTreeSet<NodeId>,
        /// Whether this node's own copy failed (its slot then needs a hint elsewhere).
        own_failed: bool,
        /// Nodes asked to keep a hint for this node that failed to.
        failed_keepers: BTreeSet<NodeId>,
    }

    impl Harness {
        /// Whether every node the round counts as holding its version (other than this one)
        /// was asked to keep the hint and failed.
        fn failed_keepers_all(&self) -> bool {
            self.round.acked().iter().all(|n| *n == self.me || self.failed_keepers.contains(n))
        }

        /// At a successful reply every owner holds the version, has a copy (or a mint) on
        /// its way, or is covered by a durable hint; or its hint failed, or it is this node
        /// and its own store failed.
        fn assert_every_owner_accounted_for(&self) {
            for owner in [1, 2, 3] {
                let on_its_way = self.pending.iter().any(|c| match c {
                    Call::Mint(n) => *n == owner,
                    Call::Copy(n, hint) => hint.unwrap_or(*n) == owner,
                    Call::Hint(_) => false,
                });
                assert!(
                    self.covered.contains(&owner)
                        || self.lost.contains(&owner)
                        || on_its_way
                        || (owner == self.me && self.own_failed),
                    "replied while owner {owner} has neither a copy nor a hint"
                );
            }
        }

        fn take(&mut self, actions: Vec<WriteAction>) {
            for action in actions {
                match action {
                    Mint { node } => self.pending.push(Call::Mint(node)),
                    Copy { node, hint_for } => self.pending.push(Call::Copy(node, hint_for)),
                    HintLocally { owner, .. } => self.pending.push(Call::Hint(owner)),
                    Reply(ok) => {
                        if ok {
                            assert!(self.round.acked().len() >= self.round.needed());
                            self.assert_every_owner_accounted_for();
                        }
                        self.replies.push(ok);
                    }
                }
            }
        }

        /// Settles pending call `i`: `ok`, a failure, or (for a copy or mint) "slow".
        fn settle(&mut self, i: usize, how: u8) {
            let call = self.pending[i].clone();
            if how == 2 && !matches!(call, Call::Hint(_)) {
                let node = match call {
                    Call::Mint(n) | Call::Copy(n, _) => n,
                    Call::Hint(_) => unreachable!(),
                };
                let actions = self.round.on(Slow(node));
                self.take(actions);
                return;
            }
            self.pending.remove(i);
            let ok = how != 1;
            let keeper_for = match &call {
                Call::Copy(_, Some(h)) => Some(*h),
                _ => None,
            };
            let actions = match (call, ok) {
                (Call::Mint(n), true) => {
                    self.holds.insert(n);
                    self.covered.insert(n);
                    self.round.on(Minted(n))
                }
                (Call::Copy(n, hint), true) => {
                    self.holds.insert(n);
                    self.covered.insert(hint.unwrap_or(n));
                    self.round.on(Acked(n))
                }
                (Call::Hint(owner), true) => {
                    self.covered.insert(owner);
                    self.round.on(HintKept(owner))
                }
                (Call::Mint(n) | Call::Copy(n, _), false) => {
                    if n == self.me {
                        self.own_failed = true;
                    }
                    if keeper_for == Some(self.me) {
                        self.failed_keepers.insert(n);
                    }
                    self.round.on(Failed(n, "failed"))
                }
                (Call::Hint(owner), false) => {
                    self.lost.insert(owner);
                    self.round.on(super::super::WriteEvent::HintFailed(owner, "disk"))
                }
            };
            self.take(actions);
        }
    }

    proptest! {
        #[test]
        fn every_interleaving_replies_once_and_covers_every_owner(
            alive in prop::collection::vec(any::<bool>(), 3),
            spares in 0usize..3,
            needed in 1usize..=3,
            mint in any::<bool>(),
            me in prop::sample::select(vec![1u64, 2, 3, 9]),
            script in prop::collection::vec((any::<prop::sample::Index>(), 0u8..3), 0..40),
        ) {
            let owners = [1u64, 2, 3];
            let down: Vec<NodeId> =
                owners.iter().zip(&alive).filter(|(o, a)| !**a && **o != me).map(|(o, _)| *o).collect();
            let round: Round = WriteRound::new(
                me,
                &owners,
                |n| !down.contains(&n),
                [4u64, 5][..spares].to_vec(),
                needed,
                mint,
            );
            let mut h = Harness {
                round,
                me,
                pending: Vec::new(),
                replies: Vec::new(),
                holds: BTreeSet::new(),
                covered: BTreeSet::new(),
                lost: BTreeSet::new(),
                own_failed: false,
                failed_keepers: BTreeSet::new(),
            };
            let actions = h.round.start();
            h.take(actions);
            for (pick, how) in script {
                if h.pending.is_empty() {
                    break;
                }
                let i = pick.index(h.pending.len());
                h.settle(i, how);
            }
            // Drain: everything left succeeds, in order.
            let mut steps = 0;
            while !h.pending.is_empty() {
                h.settle(0, 0);
                steps += 1;
                prop_assert!(steps < 100, "the round never settles");
            }
            prop_assert!(h.round.finished());
            prop_assert_eq!(h.replies.len(), 1, "exactly one reply: {:?}", h.replies);
            if !h.holds.is_empty() {
                for owner in owners {
                    // This node's own failed copy is lost only if every other node that holds
                    // the version failed to keep a hint for it (or there is none).
                    let own_loss = owner == me && h.own_failed && h.failed_keepers_all();
                    prop_assert!(
                        h.covered.contains(&owner) || h.lost.contains(&owner) || own_loss,
                        "owner {} is neither covered nor lost (holds {:?}, covered {:?})",
                        owner, h.holds, h.covered
                    );
                }
            }
        }
    }
}
