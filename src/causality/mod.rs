//! Causality: vector clocks and sibling sets, pure and synchronous.
//!
//! A replicated item is a set of *siblings*: values whose vector clocks are pairwise concurrent.
//! Applying a new sibling drops every sibling it descends from and is a no-op when an existing
//! sibling already descends from it, so a replica's set only ever holds the causal frontier.
//! The laws below are checked by property tests:
//! - `merge` is commutative, associative and idempotent;
//! - `a.merge(b)` descends from both `a` and `b`;
//! - applying siblings in any order yields the same set.
//!
//! Reference: DeCandia et al., "Dynamo", SOSP 2007, section 4.4.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The identity of a node that increments clock entries (the ring's node id).
pub type Actor = u64;

/// The clock entry of versions decided by per-key consensus (conditional writes); never a
/// node's id. Its counter grows by one with each decision on a key, so it also ranks them.
pub const CONSENSUS_ACTOR: Actor = u64::MAX;

/// A vector clock: one counter per actor that coordinated a write.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct VectorClock {
    entries: BTreeMap<Actor, u64>,
}

/// How two clocks relate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Causality {
    Equal,
    /// The left clock happened before the right one.
    Before,
    /// The left clock happened after the right one.
    After,
    Concurrent,
}

impl VectorClock {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn get(&self, actor: Actor) -> u64 {
        self.entries.get(&actor).copied().unwrap_or(0)
    }

    pub fn set(&mut self, actor: Actor, counter: u64) {
        self.entries.insert(actor, counter);
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn entries(&self) -> impl Iterator<Item = (Actor, u64)> + '_ {
        self.entries.iter().map(|(a, c)| (*a, *c))
    }

    /// The least clock that descends from both.
    #[must_use]
    pub fn merge(&self, other: &Self) -> Self {
        let mut out = self.clone();
        for (actor, counter) in &other.entries {
            let entry = out.entries.entry(*actor).or_insert(0);
            *entry = (*entry).max(*counter);
        }
        out
    }

    /// True when every entry of `self` is at least the matching entry of `other`.
    pub fn descends(&self, other: &Self) -> bool {
        other.entries.iter().all(|(actor, counter)| self.get(*actor) >= *counter)
    }

    pub fn compare(&self, other: &Self) -> Causality {
        match (self.descends(other), other.descends(self)) {
            (true, true) => Causality::Equal,
            (true, false) => Causality::After,
            (false, true) => Causality::Before,
            (false, false) => Causality::Concurrent,
        }
    }
}

/// One version of an item: its clock, who wrote it and when (for last-writer-wins
/// resolution of concurrent siblings), and its value (`None` is a tombstone).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sibling {
    pub clock: VectorClock,
    /// Milliseconds since the Unix epoch on the coordinator that wrote it.
    pub timestamp_ms: i64,
    pub writer: Actor,
    /// Encoded as one byte string, not a sequence of bytes: the same postcard bytes, without a
    /// call per byte to write and read them.
    #[serde(with = "serde_bytes")]
    pub value: Option<Vec<u8>>,
}

impl Sibling {
    pub fn is_tombstone(&self) -> bool {
        self.value.is_none()
    }

    /// The total order used to pick one answer among concurrent siblings: the version that
    /// descends from more consensus decisions first (a plain write that did not see a
    /// committed conditional write never beats it), then last writer wins.
    pub fn lww_key(&self) -> (u64, i64, Actor) {
        (self.clock.get(CONSENSUS_ACTOR), self.timestamp_ms, self.writer)
    }
}

impl From<Sibling> for Siblings {
    fn from(sibling: Sibling) -> Self {
        Siblings { versions: vec![sibling] }
    }
}

/// The causal frontier of one item: pairwise concurrent siblings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Siblings {
    versions: Vec<Sibling>,
}

impl Siblings {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_empty(&self) -> bool {
        self.versions.is_empty()
    }

    pub fn len(&self) -> usize {
        self.versions.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Sibling> {
        self.versions.iter()
    }

    /// Adds `incoming` unless an existing sibling already descends from it; drops the siblings
    /// it descends from. Returns whether the set changed.
    pub fn apply(&mut self, incoming: Sibling) -> bool {
        if self.versions.iter().any(|s| s.clock.descends(&incoming.clock)) {
            return false;
        }
        self.versions.retain(|s| !incoming.clock.descends(&s.clock));
        self.versions.push(incoming);
        self.canonicalize();
        true
    }

    /// Puts the siblings in their one canonical order: last-writer-wins order, then by clock
    /// for siblings one writer minted in the same millisecond. Every replica that holds the
    /// same versions then stores the same bytes (anti-entropy compares digests of them) and
    /// picks the same winner. Returns whether the order changed (a set stored by an older
    /// build, in arrival order).
    pub fn canonicalize(&mut self) -> bool {
        let ordered = |a: &Sibling, b: &Sibling| {
            a.lww_key().cmp(&b.lww_key()).then_with(|| a.clock.cmp(&b.clock))
        };
        if self.versions.is_sorted_by(|a, b| ordered(a, b).is_le()) {
            return false;
        }
        self.versions.sort_by(ordered);
        true
    }

    /// Applies every sibling of `other`. Returns whether the set changed.
    pub fn merge(&mut self, other: &Siblings) -> bool {
        let mut changed = false;
        for s in &other.versions {
            changed |= self.apply(s.clone());
        }
        changed
    }

    /// The causal context a writer must carry to supersede every sibling here.
    pub fn context(&self) -> VectorClock {
        self.versions.iter().fold(VectorClock::new(), |acc, s| acc.merge(&s.clock))
    }

    /// The sibling that wins last-writer-wins among the concurrent ones.
    pub fn winner(&self) -> Option<&Sibling> {
        self.versions.iter().max_by(|a, b| a.lww_key().cmp(&b.lww_key()))
    }

    /// True when `self` holds every version of `other` or something newer.
    pub fn covers(&self, other: &Siblings) -> bool {
        other.versions.iter().all(|o| self.versions.iter().any(|s| s.clock.descends(&o.clock)))
    }

    pub fn into_vec(self) -> Vec<Sibling> {
        self.versions
    }
}

#[cfg(test)]
mod tests;
