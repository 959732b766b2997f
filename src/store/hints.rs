//! Hints: durable records of writes a stand-in accepted for an owner that was down, kept until
//! they are handed off. A hint names the data (an item key, a block id) rather than copying it:
//! the data itself sits in the stand-in's ordinary tables, written in the same transaction.

use redb::{ReadableTable, Table};
use serde::{Deserialize, Serialize};

use super::{BlockId, StoreError, redb_err, tables};

/// What an owner missed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum HintOp {
    /// The item's current siblings must be merged into the owner.
    Item { table: u8, key: Vec<u8> },
    /// The block must be copied to the owner.
    Block { id: BlockId },
    /// These blocks must be deleted on the owner.
    DeleteBlocks { ids: Vec<BlockId> },
    /// Every block of this body must be deleted on the owner.
    DeleteBody { data_id: [u8; 16] },
}

/// A stored hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hint {
    pub owner: u64,
    pub seq: u64,
    pub op: HintOp,
}

fn key(owner: u64, seq: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&owner.to_be_bytes());
    k[8..].copy_from_slice(&seq.to_be_bytes());
    k
}

fn split(k: &[u8]) -> Option<(u64, u64)> {
    let owner = u64::from_be_bytes(k.get(..8)?.try_into().ok()?);
    let seq = u64::from_be_bytes(k.get(8..16)?.try_into().ok()?);
    Some((owner, seq))
}

/// The hint tables of one write transaction: the hints, and the two indexes kept with them.
pub struct HintTables<'t> {
    hints: Table<'t, &'static [u8], &'static [u8]>,
    counts: Table<'t, u64, u64>,
    refs: Table<'t, &'static [u8], u64>,
}

/// The `HINT_REFS` key of what a hint refers to, if it refers to stored data.
fn ref_key(op: &HintOp) -> Option<Vec<u8>> {
    match op {
        HintOp::Item { table, key } => Some(item_ref(*table, key)),
        HintOp::Block { id } => Some(block_ref(*id)),
        HintOp::DeleteBlocks { .. } | HintOp::DeleteBody { .. } => None,
    }
}

pub fn item_ref(table: u8, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(key.len() + 2);
    k.push(0);
    k.push(table);
    k.extend_from_slice(key);
    k
}

pub fn block_ref(id: BlockId) -> Vec<u8> {
    let mut k = vec![1];
    k.extend_from_slice(&id.to_key());
    k
}

fn bump(table: &mut Table<'_, &'static [u8], u64>, key: &[u8], up: bool) -> Result<(), StoreError> {
    let now = table.get(key).map_err(redb_err)?.map_or(0, |v| v.value());
    let next = if up { now + 1 } else { now.saturating_sub(1) };
    if next == 0 {
        table.remove(key).map_err(redb_err)?;
    } else {
        table.insert(key, next).map_err(redb_err)?;
    }
    Ok(())
}

impl<'t> HintTables<'t> {
    pub fn open(txn: &'t redb::WriteTransaction) -> Result<Self, StoreError> {
        Ok(Self {
            hints: txn.open_table(tables::HINTS).map_err(redb_err)?,
            counts: txn.open_table(tables::HINT_COUNTS).map_err(redb_err)?,
            refs: txn.open_table(tables::HINT_REFS).map_err(redb_err)?,
        })
    }

    /// Records a hint for `owner`, keeping both indexes.
    pub fn add(&mut self, owner: u64, op: &HintOp) -> Result<(), StoreError> {
        let last = self
            .hints
            .range::<&[u8]>(key(owner, 0).as_slice()..=key(owner, u64::MAX).as_slice())
            .map_err(redb_err)?
            .next_back()
            .transpose()
            .map_err(redb_err)?
            .and_then(|(k, _)| split(k.value()))
            .map_or(0, |(_, seq)| seq);
        let value = postcard::to_allocvec(op)
            .map_err(|e| StoreError::Corrupt { what: format!("hint: {e}") })?;
        self.hints.insert(key(owner, last + 1).as_slice(), value.as_slice()).map_err(redb_err)?;
        let count = self.counts.get(owner).map_err(redb_err)?.map_or(0, |v| v.value());
        self.counts.insert(owner, count + 1).map_err(redb_err)?;
        if let Some(r) = ref_key(op) {
            bump(&mut self.refs, &r, true)?;
        }
        Ok(())
    }

    /// Forgets a hint (handed off), keeping both indexes.
    pub fn remove(&mut self, owner: u64, seq: u64) -> Result<(), StoreError> {
        let Some(old) = self.hints.remove(key(owner, seq).as_slice()).map_err(redb_err)? else {
            return Ok(());
        };
        let op: Option<HintOp> = postcard::from_bytes(old.value()).ok();
        drop(old);
        let count = self.counts.get(owner).map_err(redb_err)?.map_or(0, |v| v.value());
        if count <= 1 {
            self.counts.remove(owner).map_err(redb_err)?;
        } else {
            self.counts.insert(owner, count - 1).map_err(redb_err)?;
        }
        if let Some(r) = op.as_ref().and_then(ref_key) {
            bump(&mut self.refs, &r, false)?;
        }
        Ok(())
    }

    /// Forgets up to `limit` hints, whichever they are; returns how many went.
    pub fn remove_some(&mut self, limit: usize) -> Result<usize, StoreError> {
        let mut found = Vec::new();
        for entry in self.hints.iter().map_err(redb_err)?.take(limit) {
            found.extend(split(entry.map_err(redb_err)?.0.value()));
        }
        for (owner, seq) in &found {
            self.remove(*owner, *seq)?;
        }
        Ok(found.len())
    }

    /// Whether some hint refers to this stored data (`item_ref` / `block_ref`).
    pub fn refers_to(&self, reference: &[u8]) -> Result<bool, StoreError> {
        Ok(self.refs.get(reference).map_err(redb_err)?.is_some())
    }
}

/// Rebuilds the two hint indexes from the hints (a store written before they existed).
pub fn rebuild_indexes(txn: &redb::WriteTransaction) -> Result<(), StoreError> {
    let all = {
        let hints = txn.open_table(tables::HINTS).map_err(redb_err)?;
        list(&hints, None, usize::MAX)?
    };
    let mut counts = txn.open_table(tables::HINT_COUNTS).map_err(redb_err)?;
    let mut refs = txn.open_table(tables::HINT_REFS).map_err(redb_err)?;
    counts.retain(|_, _| false).map_err(redb_err)?;
    refs.retain(|_, _| false).map_err(redb_err)?;
    for hint in all {
        let count = counts.get(hint.owner).map_err(redb_err)?.map_or(0, |v| v.value());
        counts.insert(hint.owner, count + 1).map_err(redb_err)?;
        if let Some(r) = ref_key(&hint.op) {
            bump(&mut refs, &r, true)?;
        }
    }
    Ok(())
}

pub fn list(
    table: &impl ReadableTable<&'static [u8], &'static [u8]>,
    owner: Option<u64>,
    limit: usize,
) -> Result<Vec<Hint>, StoreError> {
    let (start, end) = match owner {
        Some(o) => (key(o, 0), key(o, u64::MAX)),
        None => (key(0, 0), key(u64::MAX, u64::MAX)),
    };
    let mut out = Vec::new();
    for entry in table.range::<&[u8]>(start.as_slice()..=end.as_slice()).map_err(redb_err)? {
        if out.len() >= limit {
            break;
        }
        let (k, v) = entry.map_err(redb_err)?;
        let Some((owner, seq)) = split(k.value()) else { continue };
        let op = postcard::from_bytes(v.value())
            .map_err(|e| StoreError::Corrupt { what: format!("hint: {e}") })?;
        out.push(Hint { owner, seq, op });
    }
    Ok(out)
}

/// Hints per owner, from the counts index (one entry per owner: never a scan of the hints).
pub fn counts(table: &impl ReadableTable<u64, u64>) -> Result<Vec<(u64, u64)>, StoreError> {
    let mut out = Vec::new();
    for entry in table.iter().map_err(redb_err)? {
        let (owner, count) = entry.map_err(redb_err)?;
        out.push((owner.value(), count.value()));
    }
    Ok(out)
}
