//! The write protocol, pure: one state machine for every replicated write (an item's new
//! version, a block), fed events (a replica answered, failed, or is slow) and answering with
//! actions (mint here, copy there, keep a hint, reply). The async driver in `copies` carries
//! the actions out; the simulation and the tests below drive it directly. (openraft's engine
//! has this shape: decisions in a pure core, I/O in a thin shell.)
//!
//! The protocol, for a preference list of N owners, W acknowledgements and the live
//! stand-ins after the owners (the extended preference list):
//!
//! 1. **Mint** (items only): the new version is minted at one owner, this node first if it is
//!    one. An owner that has not answered by its hedging deadline gets company: the next live
//!    owner is asked to mint too; the first version minted is the one written.
//! 2. **Copy**: every owner gets the data, each through its *slot*. An owner believed down is
//!    replaced at once by the next live stand-in, which stores the data with a durable hint for
//!    it (sloppy quorum). A copy that fails moves to the next stand-in; one that is slow (past
//!    its deadline, before the caller has its answer) gets a stand-in beside it, and both may
//!    land (two durable copies, a hint delivered twice is harmless).
//! 3. **Reply** as soon as W distinct nodes hold the data and every owner has a copy on its
//!    way, a copy, or a durable hint (step 4), or as soon as W can no longer be reached. The
//!    round goes on past the reply until every slot is settled.
//! 4. **Settle**: a slot with no stand-in left, or abandoned (the node's bound on background
//!    copies is reached, or it shuts down), is covered by a durable hint kept by this node
//!    (with a local copy of the data if it has none): every owner ends up with the write or a
//!    hint for it, never only a log line.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::ring::NodeId;

/// What happened to one call of the round.
#[derive(Debug)]
pub enum WriteEvent<E> {
    /// `node` minted the version (items only).
    Minted(NodeId),
    /// `node` holds the data durably.
    Acked(NodeId),
    /// `node`'s call failed.
    Failed(NodeId, E),
    /// `node`'s call passed its hedging deadline without an answer (it may still come).
    Slow(NodeId),
    /// This node kept the hint for `owner` (and the data, when asked to).
    HintKept(NodeId),
    /// This node could not keep the hint for `owner` (its own store failed).
    HintFailed(NodeId, E),
}

/// What the driver must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteAction {
    /// Ask owner `node` to mint the new version.
    Mint { node: NodeId },
    /// Send the data to `node`, a stand-in for `hint_for` when set.
    Copy { node: NodeId, hint_for: Option<NodeId> },
    /// Keep a durable hint for `owner` on this node, and the data too when `with_data`.
    HintLocally { owner: NodeId, with_data: bool },
    /// The caller's answer: `true` once W nodes hold the data, `false` once they never will.
    Reply(bool),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Mint,
    Copy { slot: usize },
    Hint { slot: usize },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SlotState {
    /// Waiting for data to exist (before the mint) or for a target to answer.
    Open,
    /// A node holds the data for this owner (the owner itself, or a stand-in with a hint).
    Done,
    /// No target left: a local hint is wanted once the data exists.
    Exhausted,
    /// Covered by a hint this node keeps, or beyond help (this node is the owner and its own
    /// store failed).
    Settled,
}

#[derive(Debug, Clone)]
struct Slot {
    owner: NodeId,
    state: SlotState,
}

/// One replicated write, from its first call to its last.
#[derive(Debug)]
pub struct WriteRound<E> {
    me: NodeId,
    needed: usize,
    slots: Vec<Slot>,
    /// Live stand-ins not engaged yet, most preferred first.
    spares: VecDeque<NodeId>,
    /// Owners that may still be asked to mint, in order.
    mint_candidates: VecDeque<NodeId>,
    /// Whether the round starts by minting (items) or has its data from the start (blocks).
    mints: bool,
    minted: Option<NodeId>,
    calls: BTreeMap<NodeId, Role>,
    acked: BTreeSet<NodeId>,
    failures: Vec<(NodeId, E)>,
    replied: bool,
    abandoned: bool,
    /// Acked owners asked to keep a hint for this node's own failed copy.
    keepers_tried: BTreeSet<NodeId>,
}

impl<E> WriteRound<E> {
    /// A round over `owners` (the first N of the preference list) where `alive` tells which
    /// the failure detector believes reachable, `spares` are the live stand-ins in preference
    /// order, and `needed` is W. With `mint`, the version is first minted at an owner.
    pub fn new(
        me: NodeId,
        owners: &[NodeId],
        alive: impl Fn(NodeId) -> bool,
        spares: Vec<NodeId>,
        needed: usize,
        mint: bool,
    ) -> Self {
        let mut candidates: Vec<NodeId> =
            if mint { owners.iter().copied().filter(|o| alive(*o)).collect() } else { Vec::new() };
        candidates.sort_by_key(|o| *o != me);
        let slots = owners
            .iter()
            .map(|o| Slot {
                owner: *o,
                state: if alive(*o) { SlotState::Open } else { SlotState::Exhausted },
            })
            .collect();
        Self {
            me,
            needed,
            slots,
            spares: spares.into(),
            mint_candidates: candidates.into(),
            mints: mint,
            minted: None,
            calls: BTreeMap::new(),
            acked: BTreeSet::new(),
            failures: Vec::new(),
            replied: false,
            abandoned: false,
            keepers_tried: BTreeSet::new(),
        }
    }

    /// The owner asked to mint first: this node when it is a live owner.
    pub fn first_minter(&self) -> Option<NodeId> {
        if self.mints { self.mint_candidates.front().copied() } else { None }
    }

    /// The round of a version this node minted already (in memory, see `store::mint`): no
    /// mint call, every owner gets a copy from the start, this node's own among them.
    #[must_use]
    pub fn with_version(mut self) -> Self {
        self.mints = false;
        self.mint_candidates.clear();
        self
    }

    /// Whether the version to copy exists: minted, or given (blocks).
    fn has_version(&self) -> bool {
        !self.mints || self.minted.is_some()
    }

    /// The first actions: mints, or copies to every owner (stand-ins for those down).
    pub fn start(&mut self) -> Vec<WriteAction> {
        let mut actions = Vec::new();
        if !self.has_version() {
            self.mint_next(&mut actions);
        } else {
            for slot in 0..self.slots.len() {
                if self.slots[slot].state == SlotState::Open {
                    self.copy_to(slot, self.slots[slot].owner, None, &mut actions);
                } else {
                    self.engage_spare(slot, &mut actions);
                }
            }
        }
        self.decide(&mut actions);
        actions
    }

    /// Feeds one event; returns what to do next.
    pub fn on(&mut self, event: WriteEvent<E>) -> Vec<WriteAction> {
        let mut actions = Vec::new();
        match event {
            WriteEvent::Minted(node) => self.on_minted(node, &mut actions),
            WriteEvent::Acked(node) => {
                if let Some(Role::Copy { slot }) = self.calls.remove(&node) {
                    self.acked.insert(node);
                    if self.slots[slot].state != SlotState::Settled {
                        self.slots[slot].state = SlotState::Done;
                    }
                }
            }
            WriteEvent::Failed(node, e) => {
                let role = self.calls.remove(&node);
                self.failures.push((node, e));
                match role {
                    Some(Role::Mint) => self.on_mint_failed(node, &mut actions),
                    Some(Role::Copy { slot }) => self.on_copy_failed(slot, &mut actions),
                    Some(Role::Hint { .. }) | None => {}
                }
            }
            WriteEvent::Slow(node) => {
                if !self.replied && !self.abandoned {
                    match self.calls.get(&node) {
                        Some(Role::Mint) if !self.has_version() => self.mint_next(&mut actions),
                        Some(Role::Copy { slot }) => {
                            let slot = *slot;
                            self.engage_spare_beside(slot, &mut actions);
                        }
                        _ => {}
                    }
                }
            }
            WriteEvent::HintKept(owner) => {
                if let Some((node, Role::Hint { slot })) = self.take_hint_call(owner) {
                    self.acked.insert(node);
                    self.slots[slot].state = SlotState::Settled;
                }
            }
            WriteEvent::HintFailed(owner, e) => {
                if let Some((node, Role::Hint { slot })) = self.take_hint_call(owner) {
                    self.failures.push((node, e));
                    self.slots[slot].state = SlotState::Settled;
                }
            }
        }
        self.settle(&mut actions);
        self.decide(&mut actions);
        actions
    }

    /// Gives up on every call still in flight: each owner not yet covered gets a hint kept by
    /// this node. For a node whose bound on background copies is reached, and for shutdown.
    pub fn abandon(&mut self) -> Vec<WriteAction> {
        let mut actions = Vec::new();
        self.abandoned = true;
        self.calls.retain(|_, role| matches!(role, Role::Hint { .. }));
        for slot in &mut self.slots {
            if matches!(slot.state, SlotState::Open) {
                slot.state = SlotState::Exhausted;
            }
        }
        self.settle(&mut actions);
        self.decide(&mut actions);
        actions
    }

    /// Whether nothing is in flight any more: every slot is settled or done.
    pub fn finished(&self) -> bool {
        self.calls.is_empty()
    }

    /// The node whose mint was accepted.
    #[cfg(test)]
    pub fn minter(&self) -> Option<NodeId> {
        self.minted
    }

    pub fn acked(&self) -> &BTreeSet<NodeId> {
        &self.acked
    }

    pub fn needed(&self) -> usize {
        self.needed
    }

    #[cfg(test)]
    pub fn into_failures(self) -> Vec<(NodeId, E)> {
        self.failures
    }

    /// The calls that failed so far.
    pub fn failures(&self) -> &[(NodeId, E)] {
        &self.failures
    }

    fn take_hint_call(&mut self, owner: NodeId) -> Option<(NodeId, Role)> {
        let slot = self.slots.iter().position(|s| s.owner == owner)?;
        let role = Role::Hint { slot };
        let node = self.me;
        (self.calls.get(&node) == Some(&role)).then(|| {
            self.calls.remove(&node);
            (node, role)
        })
    }

    fn mint_next(&mut self, actions: &mut Vec<WriteAction>) {
        while let Some(node) = self.mint_candidates.pop_front() {
            if self.calls.contains_key(&node) {
                continue;
            }
            self.calls.insert(node, Role::Mint);
            actions.push(WriteAction::Mint { node });
            return;
        }
    }

    fn on_minted(&mut self, node: NodeId, actions: &mut Vec<WriteAction>) {
        if self.calls.remove(&node) != Some(Role::Mint) {
            return;
        }
        if self.minted.is_some() {
            // A hedged mint that landed too: that owner holds a version of its own. It still
            // gets the one that was written (its own resolves by last-writer-wins).
            if let Some(slot) = self.slot_of(node) {
                self.copy_to(slot, node, None, actions);
            }
            return;
        }
        self.minted = Some(node);
        self.acked.insert(node);
        for slot in 0..self.slots.len() {
            let owner = self.slots[slot].owner;
            if owner == node {
                self.slots[slot].state = SlotState::Done;
            } else if self.calls.get(&owner) == Some(&Role::Mint) {
                // Its mint is still in flight; it gets a copy once that call settles.
            } else if self.slots[slot].state == SlotState::Open {
                self.copy_to(slot, owner, None, actions);
            } else if self.slots[slot].state == SlotState::Exhausted {
                self.slots[slot].state = SlotState::Open;
                self.engage_spare(slot, actions);
            }
        }
    }

    fn on_mint_failed(&mut self, node: NodeId, actions: &mut Vec<WriteAction>) {
        if !self.has_version() {
            if !self.calls.values().any(|r| *r == Role::Mint) {
                self.mint_next(actions);
            }
            if let Some(slot) = self.slot_of(node) {
                self.slots[slot].state = SlotState::Exhausted;
            }
        } else if let Some(slot) = self.slot_of(node) {
            self.engage_spare(slot, actions);
        }
    }

    fn on_copy_failed(&mut self, slot: usize, actions: &mut Vec<WriteAction>) {
        if self.slots[slot].state != SlotState::Open || self.slot_in_flight(slot) {
            return;
        }
        self.engage_spare(slot, actions);
    }

    fn slot_of(&self, owner: NodeId) -> Option<usize> {
        self.slots.iter().position(|s| s.owner == owner)
    }

    fn slot_in_flight(&self, slot: usize) -> bool {
        self.calls.values().any(|r| *r == Role::Copy { slot })
    }

    fn copy_to(
        &mut self,
        slot: usize,
        node: NodeId,
        hint_for: Option<NodeId>,
        actions: &mut Vec<WriteAction>,
    ) {
        self.calls.insert(node, Role::Copy { slot });
        actions.push(WriteAction::Copy { node, hint_for });
    }

    /// The next stand-in takes the slot; with none left, the slot waits for a local hint.
    fn engage_spare(&mut self, slot: usize, actions: &mut Vec<WriteAction>) {
        if self.abandoned {
            self.slots[slot].state = SlotState::Exhausted;
            return;
        }
        match self.next_spare() {
            Some(standin) => {
                self.slots[slot].state = SlotState::Open;
                let owner = self.slots[slot].owner;
                self.copy_to(slot, standin, Some(owner), actions);
            }
            None => self.slots[slot].state = SlotState::Exhausted,
        }
    }

    /// A stand-in beside a slow target (which keeps its call).
    fn engage_spare_beside(&mut self, slot: usize, actions: &mut Vec<WriteAction>) {
        if self.slots[slot].state != SlotState::Open {
            return;
        }
        if let Some(standin) = self.next_spare() {
            let owner = self.slots[slot].owner;
            self.copy_to(slot, standin, Some(owner), actions);
        }
    }

    fn next_spare(&mut self) -> Option<NodeId> {
        while let Some(node) = self.spares.pop_front() {
            if !self.calls.contains_key(&node) && !self.acked.contains(&node) {
                return Some(node);
            }
        }
        None
    }

    /// Exhausted slots get a hint kept here, once the data exists somewhere to hand off.
    fn settle(&mut self, actions: &mut Vec<WriteAction>) {
        if self.acked.is_empty() || !self.has_version() {
            return;
        }
        for slot in 0..self.slots.len() {
            if self.slots[slot].state != SlotState::Exhausted {
                continue;
            }
            let owner = self.slots[slot].owner;
            if owner == self.me {
                // This node's own copy failed (its store refused it: a full disk) and no
                // stand-in is left: an owner that holds the version keeps the hint for it
                // (its copy is a no-op, the hint is not). One try per such owner.
                let untried = |n: &NodeId| *n != self.me && !self.keepers_tried.contains(n);
                let keeper =
                    self.acked.iter().copied().find(|n| untried(n) && !self.calls.contains_key(n));
                match keeper {
                    Some(keeper) if !self.abandoned => {
                        self.keepers_tried.insert(keeper);
                        self.slots[slot].state = SlotState::Open;
                        self.copy_to(slot, keeper, Some(owner), actions);
                    }
                    // A node still busy may hold the version soon: the slot waits.
                    _ if !self.abandoned && self.calls.keys().any(untried) => {}
                    _ => self.slots[slot].state = SlotState::Settled,
                }
                continue;
            }
            if self.calls.contains_key(&self.me) {
                // This node is busy with another hint of the round: the slot waits for the
                // next settle.
                continue;
            }
            self.calls.insert(self.me, Role::Hint { slot });
            actions.push(WriteAction::HintLocally {
                owner,
                with_data: !self.acked.contains(&self.me),
            });
        }
    }

    /// Whether a slot waits for a hint this node keeps, or has one being written.
    fn hints_owed(&self) -> bool {
        self.slots.iter().any(|s| s.state == SlotState::Exhausted)
            || self.calls.values().any(|r| matches!(r, Role::Hint { .. }))
    }

    fn decide(&mut self, actions: &mut Vec<WriteAction>) {
        if self.replied {
            return;
        }
        if self.acked.len() >= self.needed && self.has_version() {
            if self.hints_owed() {
                // W nodes hold the data, but an owner with no target left still waits for
                // its hint here: the reply waits for it (a local commit), so a coordinator
                // that fails right after answering cannot take the only record of that
                // owner's missing copy with it.
                return;
            }
            self.replied = true;
            actions.push(WriteAction::Reply(true));
            return;
        }
        let possible = if !self.has_version() {
            self.calls.values().any(|r| *r == Role::Mint) || !self.mint_candidates.is_empty()
        } else {
            let in_flight: BTreeSet<NodeId> =
                self.calls.keys().copied().filter(|n| !self.acked.contains(n)).collect();
            self.acked.len() + in_flight.len() + self.spares.len() >= self.needed
        };
        if !possible {
            self.replied = true;
            actions.push(WriteAction::Reply(false));
        }
    }
}

#[cfg(test)]
mod tests;
