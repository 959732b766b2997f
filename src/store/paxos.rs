//! The acceptor side of per-key consensus: each key's Paxos state (`consensus::Acceptor`) is
//! kept in `PAXOS` and changed in the same transaction as the item a commit applies, so that a
//! promise or an acceptance is durable before it is answered and "committed" always means
//! "applied here".
//!
//! Beside the acceptor, a row keeps the last `DECIDED_KEPT` decisions it applied (`Decided`):
//! a proposer whose earlier round was completed by another, then overwritten before it looked
//! again, learns from them that its write was applied (and answers success, not a failed
//! condition), or that another value took its place.

use redb::{ReadableDatabase, ReadableTable, Table};

use super::{Store, StoreError, TableId, codec, item_key, redb_err, tables};
use crate::causality::{Sibling, Siblings};
use crate::consensus::{Acceptor, Reply, Request};

/// What a consensus round decides for a key: a version to merge into the item, or nothing
/// (a round that only settles what earlier rounds left in progress).
pub type PaxosValue = Option<Sibling>;

/// Decisions a key's row remembers, newest last. A proposer's round that overlaps another
/// proposer's completion of its value looks again a few milliseconds later: tens of decisions
/// on one key in that time would be needed to push its own out of sight (it then answers
/// that the outcome is unknown).
pub const DECIDED_KEPT: usize = 32;

/// A decision applied here: the version's count of consensus decisions (its place in the
/// key's chain) and its fingerprint.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct Decided {
    pub count: u64,
    pub fingerprint: u64,
}

impl Decided {
    pub fn of(version: &Sibling) -> Self {
        let bytes = postcard::to_allocvec(version).unwrap_or_default();
        Decided {
            count: version.clock.get(crate::causality::CONSENSUS_ACTOR),
            fingerprint: xxhash_rust::xxh3::xxh3_64(&bytes),
        }
    }
}

/// An acceptor's answer, with the item as this replica holds it when it promised (the read
/// of the round; empty for the other replies).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PaxosAnswer {
    pub reply: Reply<PaxosValue>,
    pub current: Siblings,
    /// With a promise: the last decisions applied here (`Decided`), newest last.
    pub decided: Vec<Decided>,
}

pub(super) type PaxosTable<'t> = Table<'t, &'static [u8], &'static [u8]>;

/// A key's row: the acceptor, then the decisions applied (absent in rows written before they
/// were kept: read as none).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Row {
    acceptor: Acceptor<PaxosValue>,
    decided: Vec<Decided>,
}

fn decode(bytes: &[u8]) -> Result<Row, StoreError> {
    let (acceptor, rest) = codec::decode_prefix(bytes, "Paxos state")?;
    let decided = if rest.is_empty() {
        Vec::new()
    } else {
        postcard::from_bytes(rest).map_err(|e| StoreError::Corrupt {
            what: format!("decoding the decisions of a Paxos state: {e}"),
        })?
    };
    Ok(Row { acceptor, decided })
}

fn encode(row: &Row) -> Result<Vec<u8>, StoreError> {
    let mut out = codec::encode(&row.acceptor, "Paxos state")?;
    if !row.decided.is_empty() {
        let tail = postcard::to_allocvec(&row.decided).map_err(|e| StoreError::Corrupt {
            what: format!("encoding the decisions of a Paxos state: {e}"),
        })?;
        out.extend_from_slice(&tail);
    }
    Ok(out)
}

fn load(table: &PaxosTable<'_>, full: &[u8]) -> Result<Option<Row>, StoreError> {
    table.get(full).map_err(redb_err)?.map(|v| decode(v.value())).transpose()
}

/// What an acceptor step gives the item's transaction.
pub(super) struct Stepped {
    pub reply: Reply<PaxosValue>,
    /// For a commit: the value to merge into the item.
    pub apply: PaxosValue,
    /// For a promise: the decisions applied here, newest last.
    pub decided: Vec<Decided>,
}

/// Loads the acceptor of `full` (empty when none), hands the request to it and stores it;
/// a commit of a version adds it to the row's decisions.
pub(super) fn step(
    table: &mut PaxosTable<'_>,
    full: &[u8],
    request: Request<PaxosValue>,
) -> Result<Stepped, StoreError> {
    let mut row = load(table, full)?.unwrap_or_default();
    let apply = match &request {
        Request::Commit(p) => p.value.clone(),
        _ => None,
    };
    let before = row.clone();
    let reply = row.acceptor.handle(request);
    if let Some(version) = &apply {
        let decided = Decided::of(version);
        if !row.decided.contains(&decided) {
            if row.decided.len() == DECIDED_KEPT {
                row.decided.remove(0);
            }
            row.decided.push(decided);
        }
    }
    if row != before {
        table.insert(full, encode(&row)?.as_slice()).map_err(redb_err)?;
    }
    let decided = if matches!(reply, Reply::Promise { .. }) { row.decided } else { Vec::new() };
    Ok(Stepped { reply, apply, decided })
}

/// A purge forgets a deleted item: the versions of `full`'s acceptor row that `tombstone`
/// covers go too (the last commit keeps its ballot, without the value; a covered accepted
/// proposal is dropped), so that no later round reads or completes them once the tombstone
/// is gone.
pub(super) fn forget_covered(
    table: &mut PaxosTable<'_>,
    full: &[u8],
    tombstone: &Siblings,
) -> Result<(), StoreError> {
    let Some(mut row) = load(table, full)? else { return Ok(()) };
    let covered = |value: &PaxosValue| {
        value.as_ref().is_some_and(|v| tombstone.covers(&Siblings::from(v.clone())))
    };
    let before = row.clone();
    // The key's chain of decisions starts again after the purge: the old one's places would
    // be mistaken for the new one's.
    row.decided.clear();
    let state = &mut row.acceptor;
    if let Some(committed) = state.committed.as_mut()
        && covered(&committed.value)
    {
        committed.value = None;
    }
    if state.accepted.as_ref().is_some_and(|a| covered(&a.value)) {
        state.accepted = None;
    }
    if row != before {
        table.insert(full, encode(&row)?.as_slice()).map_err(redb_err)?;
    }
    Ok(())
}

impl Store {
    /// The value accepted for `(table, key)` and not yet known committed, if any: a version
    /// that a later round may still complete (the reclaim queue keeps the bodies it uses).
    pub fn paxos_pending(&self, table: TableId, key: &[u8]) -> Result<Option<Sibling>, StoreError> {
        let txn = self.db.get()?.begin_read().map_err(redb_err)?;
        let paxos = txn.open_table(tables::PAXOS).map_err(redb_err)?;
        match paxos.get(item_key(table, key).as_slice()).map_err(redb_err)? {
            Some(v) => Ok(decode(v.value())?.acceptor.accepted.and_then(|p| p.value)),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consensus::{Ballot, Proposal};

    #[test]
    fn a_row_written_before_decisions_were_kept_reads_with_none() {
        let acceptor = Acceptor {
            promised: Ballot { round: 3, node: 1 },
            accepted: Some(Proposal { ballot: Ballot { round: 3, node: 1 }, value: None }),
            committed: None,
        };
        let old = codec::encode(&acceptor, "Paxos state").unwrap();
        let row = decode(&old).unwrap();
        assert_eq!(row, Row { acceptor: acceptor.clone(), decided: Vec::new() });
        assert_eq!(encode(&row).unwrap(), old, "a row without decisions keeps the old form");
        let decided = vec![Decided { count: 4, fingerprint: 9 }];
        let row = Row { acceptor, decided };
        assert_eq!(decode(&encode(&row).unwrap()).unwrap(), row);
    }
}
