//! Conditional writes in the simulation, and the linearizability checker for them.
//!
//! Clients race `If-None-Match: *` creates and `If-Match` updates on a few keys of their own
//! through different nodes, amid the storm's crashes, partitions and losses, and sometimes give
//! up midway. Each value is the whole history of the key: the ids of the operations that wrote
//! it, in order; a create writes `[id]`, an update appends its id to the log it read if that
//! log still ends with the operation it named (If-Match). So the writes decided for a key must
//! form one chain, and the checker verifies, after the faults heal:
//! - the chain is linear: every acknowledged operation's log is a prefix of the final log, and
//!   no operation appears twice in it;
//! - at most one create per key is acknowledged (no deletes here: a key is created once);
//! - every acknowledged If-Match extended exactly the operation it named;
//! - an operation acknowledged before another began precedes it in the chain (real time).
//!
//! The final log is written by one more consensus write per key (`Condition::Any`) with every
//! node up, which first completes whatever an interrupted round left accepted.

use std::collections::BTreeMap;

use ringvault::causality::Siblings;
use ringvault::coordinator::{Coordinator, CoordinatorError};

use crate::cluster::TABLE;
use crate::model::Violation;

/// Keys the conditional clients use; no plain write touches them.
pub const KEYS: u32 = 3;

pub fn key(n: u32) -> Vec<u8> {
    format!("cond{n}").into_bytes()
}

fn encode(log: &[u32]) -> Vec<u8> {
    log.iter().flat_map(|id| id.to_be_bytes()).collect()
}

fn decode(value: &[u8]) -> Vec<u32> {
    value.chunks_exact(4).map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]])).collect()
}

/// The log the winning version of `current` holds (empty when absent).
pub fn current_log(current: &Siblings) -> Option<Vec<u32>> {
    current.winner().and_then(|s| s.value.as_deref()).map(decode)
}

/// What a conditional operation asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// `If-None-Match: *`.
    Create,
    /// `If-Match`: the key's log must still end with this operation.
    Extends(u32),
    /// Whatever the key holds (still decided by consensus): how the checker settles a key.
    Any,
}

/// How a conditional operation ended.
#[derive(Debug)]
pub enum Outcome {
    /// Written: the log it wrote.
    Acked(Vec<u32>),
    /// The condition did not hold: nothing written.
    Refused,
    /// No decision (contention, no majority): it may still be decided later.
    Failed(CoordinatorError),
    /// Its client gave up midway: it may still be decided later.
    Cancelled,
}

/// Runs one conditional operation through `c`.
pub async fn run(c: Coordinator, key: Vec<u8>, id: u32, condition: Condition) -> Outcome {
    let decided = c
        .put_conditional(TABLE, &key, |current| {
            let log = current_log(current);
            match (condition, log) {
                (Condition::Create, None) => Ok(Some(encode(&[id]))),
                (Condition::Extends(named), Some(mut log)) if log.last() == Some(&named) => {
                    log.push(id);
                    Ok(Some(encode(&log)))
                }
                (Condition::Any, log) => {
                    let mut log = log.unwrap_or_default();
                    log.push(id);
                    Ok(Some(encode(&log)))
                }
                _ => Err(()),
            }
        })
        .await;
    match decided {
        Ok(Ok(version)) => Outcome::Acked(decode(version.value.as_deref().unwrap_or_default())),
        Ok(Err(())) => Outcome::Refused,
        Err(e) => Outcome::Failed(e),
    }
}

#[derive(Debug, Clone)]
struct Op {
    key: Vec<u8>,
    condition: Condition,
    started: u64,
    /// The step it was acknowledged at, and the log it wrote.
    acked: Option<(u64, Vec<u32>)>,
    /// Answered as not written: its condition failed (412) or other conditional writes kept
    /// preempting it (409, which a client retries as a write that did not happen).
    denied: bool,
}

/// Every conditional operation issued, by id.
#[derive(Debug, Default)]
pub struct History {
    ops: BTreeMap<u32, Op>,
    next_id: u32,
    pub acked: u64,
    pub refused: u64,
    pub undecided: u64,
    /// Of the undecided, those other conditional writes kept preempting.
    pub contended: u64,
}

impl History {
    /// A fresh operation id, recorded as started at `step`.
    pub fn begin(&mut self, key: &[u8], condition: Condition, step: u64) -> u32 {
        self.next_id += 1;
        let op = Op { key: key.to_vec(), condition, started: step, acked: None, denied: false };
        self.ops.insert(self.next_id, op);
        self.next_id
    }

    pub fn end(&mut self, id: u32, outcome: &Outcome, step: u64) {
        match outcome {
            Outcome::Acked(log) => {
                self.acked += 1;
                self.ops.get_mut(&id).expect("begun").acked = Some((step, log.clone()));
            }
            Outcome::Refused => {
                self.refused += 1;
                self.ops.get_mut(&id).expect("begun").denied = true;
            }
            Outcome::Failed(e) => {
                self.undecided += 1;
                if matches!(e, CoordinatorError::Contended) {
                    self.contended += 1;
                    self.ops.get_mut(&id).expect("begun").denied = true;
                }
            }
            Outcome::Cancelled => self.undecided += 1,
        }
    }

    /// Checks one key's final log (written by a settling `Condition::Any`) against the history.
    pub fn check(&self, step: u64, key: &[u8], final_log: &[u32]) -> Result<(), Violation> {
        let violation = |property, detail| Violation { step, property, detail };
        let name = String::from_utf8_lossy(key);
        let position = |id: u32| final_log.iter().position(|x| *x == id);
        let mut seen = final_log.to_vec();
        seen.sort_unstable();
        if seen.windows(2).any(|w| w[0] == w[1]) {
            return Err(violation(
                "a conditional write is applied once",
                format!("{name}: {final_log:?}"),
            ));
        }
        if let Some(unknown) = final_log.iter().find(|id| !self.ops.contains_key(id)) {
            return Err(violation(
                "the chain holds only issued operations",
                format!("{name}: {unknown}"),
            ));
        }
        if let Some(denied) = final_log.iter().find(|id| self.ops[id].denied) {
            return Err(violation(
                "a conditional write answered as refused or conflicting is not applied",
                format!("{name}: op {denied} in {final_log:?}"),
            ));
        }
        let acked: Vec<(u32, &Op, u64, &Vec<u32>)> = self
            .ops
            .iter()
            .filter(|(_, op)| op.key == key)
            .filter_map(|(id, op)| op.acked.as_ref().map(|(at, log)| (*id, op, *at, log)))
            .collect();
        let creates =
            acked.iter().filter(|(_, op, _, _)| op.condition == Condition::Create).count();
        if creates > 1 {
            return Err(violation(
                "at most one create wins",
                format!("{name}: {creates} creates acknowledged"),
            ));
        }
        for (id, op, _, log) in &acked {
            if !final_log.starts_with(log) || log.last() != Some(id) {
                return Err(violation(
                    "an acknowledged conditional write stays in the chain",
                    format!("{name}: op {id} wrote {log:?}, final {final_log:?}"),
                ));
            }
            if let Condition::Extends(named) = op.condition
                && (log.len() < 2 || log[log.len() - 2] != named)
            {
                return Err(violation(
                    "an If-Match write extends exactly the version it named",
                    format!("{name}: op {id} named {named}, wrote {log:?}"),
                ));
            }
        }
        for (a, _, a_acked, _) in &acked {
            for (b, op_b, _, _) in &acked {
                if *a_acked < op_b.started && position(*a) > position(*b) {
                    return Err(violation(
                        "a write acknowledged before another began precedes it",
                        format!("{name}: {a} then {b}, final {final_log:?}"),
                    ));
                }
            }
        }
        Ok(())
    }
}
