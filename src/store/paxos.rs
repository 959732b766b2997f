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
use crate::consensus::{Acceptor, Reply, Request, fenced};

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
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PaxosRow {
    pub acceptor: Acceptor<PaxosValue>,
    pub decided: Vec<Decided>,
}

use PaxosRow as Row;

impl PaxosRow {
    /// Takes in the same key's row from a previous owner (`Acceptor::absorb`); the decisions
    /// are the union of both, in chain order, the last `DECIDED_KEPT` of them.
    pub fn absorb(&mut self, other: &PaxosRow) {
        self.acceptor.absorb(&other.acceptor);
        for d in &other.decided {
            if !self.decided.contains(d) {
                self.decided.push(*d);
            }
        }
        self.decided.sort_by_key(|d| d.count);
        let excess = self.decided.len().saturating_sub(DECIDED_KEPT);
        self.decided.drain(..excess);
    }
}

/// Rows of some keys in key order and the full key of the last row looked at (to resume from).
pub type PaxosRowsPage = (Vec<(TableId, Vec<u8>, PaxosRow)>, Option<Vec<u8>>);

/// Meta key of the consensus fence: the layout version below which this node's acceptors
/// answer no prepare or accept (`consensus::fenced`), raised when a new owner pulls rows.
/// Stored as `codec::decode_meta_u64` reads it (absent: 0, no fence).
pub(super) const FENCE_META: &str = "paxos_fence";

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
/// a commit of a version adds it to the row's decisions. A prepare or accept of a round run
/// under a layout below `fence` is answered `Fenced`, and changes nothing.
pub(super) fn step(
    table: &mut PaxosTable<'_>,
    full: &[u8],
    request: Request<PaxosValue>,
    layout: u64,
    fence: u64,
) -> Result<Stepped, StoreError> {
    if fenced(&request, layout, fence) {
        return Ok(Stepped { reply: Reply::Fenced, apply: None, decided: Vec::new() });
    }
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
    store_if_changed(table, full, &before, &row)?;
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
    store_if_changed(table, full, &before, &row)
}

/// Takes a previous owner's row of `full` into this node's (`PaxosRow::absorb`).
pub(super) fn absorb(
    table: &mut PaxosTable<'_>,
    full: &[u8],
    other: &PaxosRow,
) -> Result<(), StoreError> {
    let mut row = load(table, full)?.unwrap_or_default();
    let before = row.clone();
    row.absorb(other);
    store_if_changed(table, full, &before, &row)
}

/// Writes `row` back as `full`'s row unless it is still what was loaded (`before`).
fn store_if_changed(
    table: &mut PaxosTable<'_>,
    full: &[u8],
    before: &Row,
    row: &Row,
) -> Result<(), StoreError> {
    if row != before {
        table.insert(full, encode(row)?.as_slice()).map_err(redb_err)?;
    }
    Ok(())
}

impl Store {
    /// Consensus rows after the full key `after`, at most `limit` of those `filter(table, key)`
    /// accepts, as `scan_all` pages items: what a new owner of a partition pulls.
    pub fn paxos_rows(
        &self,
        after: Option<&[u8]>,
        limit: usize,
        filter: &dyn Fn(TableId, &[u8]) -> bool,
    ) -> Result<PaxosRowsPage, StoreError> {
        let txn = self.db.get()?.begin_read().map_err(redb_err)?;
        let paxos = txn.open_table(tables::PAXOS).map_err(redb_err)?;
        super::visit::page_after(&paxos, after, limit, filter, decode)
    }

    /// The layout version below which this node's acceptors refuse rounds (`FENCE_META`).
    pub fn paxos_fence(&self) -> Result<u64, StoreError> {
        Ok(codec::decode_meta_u64(self.get_meta(FENCE_META)?.as_deref()))
    }

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
    use crate::store::{StoreOptions, WriteOp, WriteOutcome};

    const T: TableId = TableId(2);

    async fn step(
        store: &Store,
        key: &[u8],
        request: Request<PaxosValue>,
        layout: u64,
    ) -> Reply<PaxosValue> {
        let op = WriteOp::Paxos { table: T, key: key.to_vec(), request, layout };
        match store.write(op).await.unwrap() {
            WriteOutcome::Paxos(answer) => answer.reply,
            other => panic!("unexpected {other:?}"),
        }
    }

    /// What a new owner relies on when it pulls a previous owner's rows: after the fence,
    /// no prepare or accept of an older layout changes a row (across a restart too), a commit
    /// still applies, and the rows it takes in make it report what the source accepted.
    #[tokio::test]
    async fn a_fenced_source_refuses_older_rounds_and_its_rows_carry_what_it_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("source.redb");
        let b = |round| Ballot { round, node: 7 };
        let version = |value: &[u8]| {
            let mut clock = crate::causality::VectorClock::new();
            clock.set(crate::causality::CONSENSUS_ACTOR, 1);
            Some(Sibling { clock, timestamp_ms: 5, writer: 7, value: Some(value.to_vec()) })
        };
        let accepted = Proposal { ballot: b(2), value: version(b"open") };
        {
            let source = Store::open(&path, StoreOptions::default()).unwrap();
            for key in [&b"a"[..], b"b"] {
                step(&source, key, Request::Prepare(b(2)), 4).await;
                step(&source, key, Request::Accept(accepted.clone()), 4).await;
            }
            source.write(WriteOp::PaxosFence { layout: 5 }).await.unwrap();
            source.write(WriteOp::PaxosFence { layout: 3 }).await.unwrap();
            source.close().await;
        }
        let source = Store::open(&path, StoreOptions::default()).unwrap();
        assert_eq!(source.paxos_fence().unwrap(), 5, "durable, never lowered");
        assert_eq!(step(&source, b"a", Request::Prepare(b(3)), 4).await, Reply::Fenced);
        let late = Proposal { ballot: b(3), value: version(b"late") };
        assert_eq!(step(&source, b"a", Request::Accept(late), 4).await, Reply::Fenced);
        assert_eq!(source.paxos_pending(T, b"a").unwrap(), accepted.value, "nothing changed");
        // A commit is a chosen value: it applies whatever the round's layout.
        let commit = Proposal { ballot: b(2), value: version(b"open") };
        assert_eq!(step(&source, b"b", Request::Commit(commit), 4).await, Reply::Committed);

        // Pages of the rows of some keys only, one row per page.
        let only_a = |_: TableId, key: &[u8]| key == b"a";
        let (page, last) = source.paxos_rows(None, 1, &only_a).unwrap();
        assert_eq!(page.len(), 1);
        assert_eq!(page[0].2.acceptor.accepted, Some(accepted.clone()));
        let (rest, _) = source.paxos_rows(last.as_deref(), 1, &only_a).unwrap();
        assert!(rest.is_empty());
        let (all, _) = source.paxos_rows(None, 10, &|_, _| true).unwrap();
        assert_eq!(all.len(), 2);

        // A new owner takes them in and reports the open acceptance of "a" and the decision
        // of "b" (its commit and its place in the chain) to the next round, of the new layout.
        let new = Store::open(&dir.path().join("new.redb"), StoreOptions::default()).unwrap();
        new.write(WriteOp::PaxosAbsorb { rows: all }).await.unwrap();
        let promise = step(&new, b"a", Request::Prepare(b(9)), 5).await;
        assert_eq!(promise, Reply::Promise { accepted: Some(accepted.clone()), committed: None });
        let op = WriteOp::Paxos {
            table: T,
            key: b"b".to_vec(),
            request: Request::Prepare(b(9)),
            layout: 5,
        };
        let WriteOutcome::Paxos(answer) = new.write(op).await.unwrap() else { panic!() };
        let committed = Some(Proposal { ballot: b(2), value: version(b"open") });
        assert_eq!(answer.reply, Reply::Promise { accepted: None, committed });
        assert_eq!(answer.decided, vec![Decided::of(version(b"open").as_ref().unwrap())]);
    }

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
