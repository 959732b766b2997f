//! Hints: durable records of writes a stand-in accepted for an owner that was down, kept until
//! they are handed off. A hint names the data (an item key, a block id) rather than copying it:
//! the data itself sits in the stand-in's ordinary tables, written in the same transaction.

use std::collections::HashSet;

use redb::{ReadableTable, Table};
use serde::{Deserialize, Serialize};

use super::{BlockId, StoreError, redb_err};

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

pub fn key(owner: u64, seq: u64) -> [u8; 16] {
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

/// Items `(table, key)` and blocks some hint still refers to.
pub type Referenced = (HashSet<(u8, Vec<u8>)>, HashSet<BlockId>);

pub fn referenced(
    table: &impl ReadableTable<&'static [u8], &'static [u8]>,
) -> Result<Referenced, StoreError> {
    let (mut items, mut blocks) = (HashSet::new(), HashSet::new());
    for hint in list(table, None, usize::MAX)? {
        match hint.op {
            HintOp::Item { table, key } => {
                items.insert((table, key));
            }
            HintOp::Block { id } => {
                blocks.insert(id);
            }
            HintOp::DeleteBlocks { .. } | HintOp::DeleteBody { .. } => {}
        }
    }
    Ok((items, blocks))
}

pub fn add(
    table: &mut Table<'_, &'static [u8], &'static [u8]>,
    owner: u64,
    op: &HintOp,
) -> Result<(), StoreError> {
    let last = table
        .range::<&[u8]>(key(owner, 0).as_slice()..=key(owner, u64::MAX).as_slice())
        .map_err(redb_err)?
        .next_back()
        .transpose()
        .map_err(redb_err)?
        .and_then(|(k, _)| split(k.value()))
        .map_or(0, |(_, seq)| seq);
    let value = postcard::to_allocvec(op)
        .map_err(|e| StoreError::Corrupt { what: format!("hint: {e}") })?;
    table.insert(key(owner, last + 1).as_slice(), value.as_slice()).map_err(redb_err)?;
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

pub fn counts(
    table: &impl ReadableTable<&'static [u8], &'static [u8]>,
) -> Result<Vec<(u64, u64)>, StoreError> {
    let mut out: Vec<(u64, u64)> = Vec::new();
    for entry in table.iter().map_err(redb_err)? {
        let (k, _) = entry.map_err(redb_err)?;
        let Some((owner, _)) = split(k.value()) else { continue };
        match out.last_mut() {
            Some((o, n)) if *o == owner => *n += 1,
            _ => out.push((owner, 1)),
        }
    }
    Ok(out)
}
