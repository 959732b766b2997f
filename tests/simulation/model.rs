//! What the clients were told, and the properties the cluster must keep about it.
//!
//! The model records, per key, every acknowledged write (the version the coordinator returned:
//! its vector clock and value, `None` for a delete) and the last mutation attempted, whether or
//! not it was acknowledged. "Covers" is causal: a sibling set covers a version when one of its
//! siblings descends from that version's clock (it is the version or a causal successor).

use std::collections::BTreeMap;
use std::fmt;

use ringvault::causality::{Sibling, Siblings, VectorClock};

/// A property the run broke, with where.
#[derive(Debug)]
pub struct Violation {
    pub step: u64,
    pub property: &'static str,
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "step {}: {}: {}", self.step, self.property, self.detail)
    }
}

/// One acknowledged write.
#[derive(Debug, Clone)]
pub struct Acked {
    pub step: u64,
    pub clock: VectorClock,
    pub value: Option<Vec<u8>>,
}

/// The last mutation attempted on a key.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub step: u64,
    pub delete: bool,
    pub acked: bool,
    /// Issued at the same time as another mutation of the same key.
    pub contended: bool,
}

#[derive(Debug, Default)]
pub struct KeyHistory {
    pub acked: Vec<Acked>,
    pub last: Option<Attempt>,
    /// The step of a purge that left no copy anywhere, if no mutation was attempted since.
    pub purged: Option<u64>,
    /// Per node: the tombstones a purge removed from it while other nodes kept a successor.
    /// Such a node holds nothing for the key (or only later tombstones), which covers what
    /// those tombstones covered.
    pub forgotten: BTreeMap<usize, Siblings>,
}

#[derive(Debug, Default)]
pub struct Model {
    pub keys: BTreeMap<Vec<u8>, KeyHistory>,
}

fn covers(set: &Siblings, clock: &VectorClock) -> bool {
    set.iter().any(|s| s.clock.descends(clock))
}

fn describe(set: &Siblings) -> String {
    let parts: Vec<String> = set
        .iter()
        .map(|s| match &s.value {
            Some(v) => format!("{}@{:?}", String::from_utf8_lossy(v), s.clock),
            None => format!("tombstone@{:?}", s.clock),
        })
        .collect();
    format!("[{}]", parts.join(", "))
}

impl Model {
    /// Records the outcome of one mutation; `result` is `None` when it was not acknowledged.
    pub fn record(
        &mut self,
        key: &[u8],
        step: u64,
        delete: bool,
        result: Option<&Sibling>,
        contended: bool,
    ) {
        let history = self.keys.entry(key.to_vec()).or_default();
        if let Some(sibling) = result {
            history.acked.push(Acked {
                step,
                clock: sibling.clock.clone(),
                value: sibling.value.clone(),
            });
        }
        history.last = Some(Attempt { step, delete, acked: result.is_some(), contended });
        history.purged = None;
    }

    /// A purge left no copy of `key` on any node; `held` is what the nodes held just before.
    /// Only tombstones may go, and only tombstones that cover every acknowledged write (else a
    /// write was lost, purge or not). The acknowledged writes are settled: from now on nothing
    /// live may appear for the key until a client writes it again.
    fn purged(&mut self, step: u64, key: &[u8], held: &Siblings) -> Result<(), Violation> {
        let name = String::from_utf8_lossy(key);
        if held.iter().any(|s| !s.is_tombstone()) {
            return Err(Violation {
                step,
                property: "a purge forgets only deleted items",
                detail: format!("key {name}: purged while the nodes held {}", describe(held)),
            });
        }
        let history = self.keys.entry(key.to_vec()).or_default();
        if let Some(acked) = history.acked.iter().find(|a| !covers(held, &a.clock)) {
            return Err(Violation {
                step,
                property: "a purge never drops an acknowledged write",
                detail: format!(
                    "key {name}: purged {} which does not cover the write acknowledged at step \
                     {} as {:?}",
                    describe(held),
                    acked.step,
                    acked.clock
                ),
            });
        }
        history.acked.clear();
        history.purged = Some(step);
        Ok(())
    }

    /// Checks and records what a purge pass did to `key`, from each node's copy before and
    /// after it: gone everywhere (`purged`), or gone from some nodes only (`forgot`).
    pub fn after_purge(
        &mut self,
        step: u64,
        key: &[u8],
        before: &[Siblings],
        after: &[Siblings],
    ) -> Result<(), Violation> {
        let mut held = Siblings::new();
        for s in before {
            held.merge(s);
        }
        if !held.is_empty() && after.iter().all(Siblings::is_empty) {
            return self.purged(step, key, &held);
        }
        for (node, (had, has)) in before.iter().zip(after).enumerate() {
            if !had.is_empty() && has.is_empty() {
                self.forgot(step, key, node, had, &held)?;
            }
        }
        Ok(())
    }

    /// A purge removed `held` from `node` while other nodes kept the key: tombstones, and
    /// values a tombstone some node held (`everywhere`) supersedes.
    fn forgot(
        &mut self,
        step: u64,
        key: &[u8],
        node: usize,
        held: &Siblings,
        everywhere: &Siblings,
    ) -> Result<(), Violation> {
        let superseded = |s: &Sibling| {
            s.is_tombstone()
                || everywhere.iter().any(|t| t.is_tombstone() && t.clock.descends(&s.clock))
        };
        if !held.iter().all(superseded) {
            return Err(Violation {
                step,
                property: "a purge forgets only deleted items",
                detail: format!(
                    "key {}: purged from #{node} while it held {}",
                    String::from_utf8_lossy(key),
                    describe(held)
                ),
            });
        }
        self.keys.entry(key.to_vec()).or_default().forgotten.insert(node, held.clone());
        Ok(())
    }

    /// After a purge, until a client writes the key again, no node holds a live version of it.
    pub fn check_purged(
        &self,
        step: u64,
        anywhere: impl Fn(&[u8]) -> Siblings,
    ) -> Result<(), Violation> {
        for (key, history) in &self.keys {
            let Some(purged) = history.purged else { continue };
            let held = anywhere(key);
            if held.iter().any(|s| !s.is_tombstone()) {
                return Err(Violation {
                    step,
                    property: "no purged object comes back",
                    detail: format!(
                        "key {}: purged at step {purged}, now held as {}",
                        String::from_utf8_lossy(key),
                        describe(&held)
                    ),
                });
            }
        }
        Ok(())
    }

    /// `seen` (a read's answer for `key`) must cover every acknowledged write of `key`.
    pub fn check_read(
        &self,
        step: u64,
        property: &'static str,
        key: &[u8],
        seen: Option<&Siblings>,
    ) -> Result<(), Violation> {
        let Some(history) = self.keys.get(key) else { return Ok(()) };
        let empty = Siblings::new();
        let seen = seen.unwrap_or(&empty);
        for acked in &history.acked {
            if !covers(seen, &acked.clock) {
                return Err(Violation {
                    step,
                    property,
                    detail: format!(
                        "key {} acknowledged at step {} as {:?} ({}) but the read saw {}",
                        String::from_utf8_lossy(key),
                        acked.step,
                        acked.clock,
                        acked.value.as_deref().map_or("delete".into(), String::from_utf8_lossy),
                        describe(seen)
                    ),
                });
            }
        }
        Ok(())
    }

    /// After faults healed and hints drained: `local(owner)` is what an owner's store holds.
    /// Every owner covers every acknowledged write, and a key whose last mutation was an
    /// acknowledged delete (issued alone) reads as deleted on every owner.
    ///
    /// The second property leans on last-writer-wins: each mutation's timestamp is later than
    /// every earlier one (the harness lets time pass between them), so a sibling concurrent
    /// with the delete (a write it did not see, acknowledged or not) is older and loses.
    pub fn check_converged(
        &self,
        step: u64,
        owners: impl Fn(&[u8]) -> Vec<usize>,
        local: impl Fn(usize, &[u8]) -> Siblings,
    ) -> Result<(), Violation> {
        for (key, history) in &self.keys {
            let name = String::from_utf8_lossy(key);
            for owner in owners(key) {
                let held = local(owner, key);
                // A purge made the owner forget what its tombstones covered; since then it may
                // only have learnt of later deletions (a delete of an absent key still writes
                // a tombstone, with a fresh clock that covers nothing forgotten) and of later
                // writes that did not see them (a write whose read asked only owners that
                // forgot), never of a version the forgotten tombstones superseded.
                let forgotten = history
                    .forgotten
                    .get(&owner)
                    .filter(|f| held.iter().all(|s| s.is_tombstone() || !covers(f, &s.clock)));
                for acked in &history.acked {
                    if !covers(&held, &acked.clock)
                        && !forgotten.is_some_and(|f| covers(f, &acked.clock))
                    {
                        return Err(Violation {
                            step,
                            property: "an acknowledged write is on all its owners after healing",
                            detail: format!(
                                "key {name}: owner #{owner} holds {} which does not cover the \
                                 write acknowledged at step {} as {:?}",
                                describe(&held),
                                acked.step,
                                acked.clock
                            ),
                        });
                    }
                }
                if let Some(last) = &history.last
                    && last.delete
                    && last.acked
                    && !last.contended
                    && held.winner().is_some_and(|w| !w.is_tombstone())
                {
                    return Err(Violation {
                        step,
                        property: "no deleted object comes back",
                        detail: format!(
                            "key {name}: last mutation was a delete acknowledged at step {}, but \
                             owner #{owner} holds {} whose winner is a value",
                            last.step,
                            describe(&held)
                        ),
                    });
                }
            }
        }
        Ok(())
    }
}
