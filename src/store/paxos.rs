//! The acceptor side of per-key consensus: each key's Paxos state (`consensus::Acceptor`) is
//! kept in `PAXOS` and changed in the same transaction as the item a commit applies, so that a
//! promise or an acceptance is durable before it is answered and "committed" always means
//! "applied here".

use redb::{ReadableDatabase, ReadableTable, Table};

use super::{Store, StoreError, TableId, codec, item_key, redb_err, tables};
use crate::causality::{Sibling, Siblings};
use crate::consensus::{Acceptor, Reply, Request};

/// What a consensus round decides for a key: a version to merge into the item, or nothing
/// (a round that only settles what earlier rounds left in progress).
pub type PaxosValue = Option<Sibling>;

/// An acceptor's answer, with the item as this replica holds it when it promised (the read
/// of the round; empty for the other replies).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PaxosAnswer {
    pub reply: Reply<PaxosValue>,
    pub current: Siblings,
}

pub(super) type PaxosTable<'t> = Table<'t, &'static [u8], &'static [u8]>;

fn decode(bytes: &[u8]) -> Result<Acceptor<PaxosValue>, StoreError> {
    codec::decode(bytes, "Paxos state")
}

fn encode(state: &Acceptor<PaxosValue>) -> Result<Vec<u8>, StoreError> {
    codec::encode(state, "Paxos state")
}

/// Loads the acceptor of `full` (empty when none), hands the request to it and stores it.
/// For a commit, returns the value to merge into the item as well.
pub(super) fn step(
    table: &mut PaxosTable<'_>,
    full: &[u8],
    request: Request<PaxosValue>,
) -> Result<(Reply<PaxosValue>, PaxosValue), StoreError> {
    let mut state = match table.get(full).map_err(redb_err)? {
        Some(v) => decode(v.value())?,
        None => Acceptor::default(),
    };
    let apply = match &request {
        Request::Commit(p) => p.value.clone(),
        _ => None,
    };
    let before = state.clone();
    let reply = state.handle(request);
    if state != before {
        table.insert(full, encode(&state)?.as_slice()).map_err(redb_err)?;
    }
    Ok((reply, apply))
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
    let mut state = match table.get(full).map_err(redb_err)? {
        Some(v) => decode(v.value())?,
        None => return Ok(()),
    };
    let covered = |value: &PaxosValue| {
        value.as_ref().is_some_and(|v| tombstone.covers(&Siblings::from(v.clone())))
    };
    let before = state.clone();
    if let Some(committed) = state.committed.as_mut()
        && covered(&committed.value)
    {
        committed.value = None;
    }
    if state.accepted.as_ref().is_some_and(|a| covered(&a.value)) {
        state.accepted = None;
    }
    if state != before {
        table.insert(full, encode(&state)?.as_slice()).map_err(redb_err)?;
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
            Some(v) => Ok(decode(v.value())?.accepted.and_then(|p| p.value)),
            None => Ok(None),
        }
    }
}
