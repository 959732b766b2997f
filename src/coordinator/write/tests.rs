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
    assert_eq!(r.on(Acked(2)), vec![Reply(true)]);
    assert_eq!(r.on(HintKept(3)), vec![]);
    assert!(r.finished());
    assert_eq!(r.acked().len(), 3, "the local copy is a third durable copy");
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

#[test]
fn this_nodes_own_failed_copy_is_not_hinted_to_itself() {
    let mut r = round(1, &[], &[], false);
    r.start();
    assert_eq!(r.on(Failed(1, "disk full")), vec![]);
    assert_eq!(r.on(Acked(2)), vec![]);
    assert_eq!(r.on(Acked(3)), vec![Reply(true)]);
    assert!(r.finished());
}
