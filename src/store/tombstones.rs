//! The tombstone index and the store's half of purging: which deleted items are old enough to
//! forget, whether this node's copy of one may go, and forgetting it.
//!
//! An item whose siblings are all tombstones has an entry `[newest timestamp u64 BE][table]
//! [key]` in `TOMBSTONES`, kept in the same transaction as the item, so that finding the
//! tombstones older than a cutoff is a range read, never a scan of the items. Whether a
//! tombstone may be purged at all is decided by the coordinator's purge (every member must agree,
//! see `coordinator::purge`); the store only answers for its own copy and never removes a copy
//! that is not covered by the tombstone being purged or that a hint still refers to.

use redb::{ReadableDatabase, ReadableTable, Table};

use super::{Store, StoreError, TableId, codec, hints, item_key, redb_err, tables};
use crate::causality::{Sibling, Siblings};

/// The newest timestamp of an item that is only tombstones (`None`: absent or live).
pub fn tombstone_time(siblings: &Siblings) -> Option<i64> {
    if siblings.is_empty() || siblings.iter().any(|s| !s.is_tombstone()) {
        return None;
    }
    siblings.iter().map(|s| s.timestamp_ms).max()
}

fn index_key(time_ms: i64, full_key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(8 + full_key.len());
    k.extend_from_slice(&u64::try_from(time_ms.max(0)).unwrap_or(0).to_be_bytes());
    k.extend_from_slice(full_key);
    k
}

/// The tombstone index of one write transaction.
pub struct TombstoneIndex<'t> {
    table: Table<'t, &'static [u8], ()>,
}

impl<'t> TombstoneIndex<'t> {
    pub fn open(txn: &'t redb::WriteTransaction) -> Result<Self, StoreError> {
        Ok(Self { table: txn.open_table(tables::TOMBSTONES).map_err(redb_err)? })
    }

    /// Records that the item `full_key` went from `old` to `new` (see [`tombstone_time`]).
    pub fn update(
        &mut self,
        full_key: &[u8],
        old: Option<i64>,
        new: Option<i64>,
    ) -> Result<(), StoreError> {
        if old == new {
            return Ok(());
        }
        if let Some(old) = old {
            self.table.remove(index_key(old, full_key).as_slice()).map_err(redb_err)?;
        }
        if let Some(new) = new {
            self.table.insert(index_key(new, full_key).as_slice(), ()).map_err(redb_err)?;
        }
        Ok(())
    }
}

/// Builds the index of a store written before it existed.
pub fn rebuild(txn: &redb::WriteTransaction) -> Result<(), StoreError> {
    let items = txn.open_table(tables::ITEMS).map_err(redb_err)?;
    let mut index = TombstoneIndex::open(txn)?;
    index.table.retain(|_, _| false).map_err(redb_err)?;
    for entry in items.iter().map_err(redb_err)? {
        let (k, v) = entry.map_err(redb_err)?;
        let time = tombstone_time(&codec::decode_siblings(v.value())?);
        index.update(k.value(), None, time)?;
    }
    Ok(())
}

/// Items whose tombstones are older than a cutoff, a page at a time.
#[derive(Debug, Default)]
pub struct TombstonePage {
    /// `(table, key, siblings)` of each tombstoned item.
    pub items: Vec<(TableId, Vec<u8>, Siblings)>,
    /// The index key to resume after (`None`: no more before the cutoff).
    pub next: Option<Vec<u8>>,
}

impl Store {
    /// Up to `limit` items that are only tombstones, all older than `before_ms`, in age order,
    /// after the index key `after` and accepted by `filter`; at most `limit * 16` are looked at
    /// per call so that a page of rejected ones cannot stall the caller.
    pub fn tombstones_before(
        &self,
        before_ms: i64,
        after: Option<&[u8]>,
        limit: usize,
        filter: &dyn Fn(TableId, &[u8]) -> bool,
    ) -> Result<TombstonePage, StoreError> {
        let txn = self.db.get()?.begin_read().map_err(redb_err)?;
        let index = txn.open_table(tables::TOMBSTONES).map_err(redb_err)?;
        let items = txn.open_table(tables::ITEMS).map_err(redb_err)?;
        let end = index_key(before_ms, &[]);
        let lower = after.map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded);
        let range = (lower, std::ops::Bound::Excluded(end.as_slice()));
        let mut page = TombstonePage::default();
        for (looked, entry) in index.range::<&[u8]>(range).map_err(redb_err)?.enumerate() {
            if page.items.len() >= limit || looked >= limit * 16 {
                return Ok(page);
            }
            let (k, _) = entry.map_err(redb_err)?;
            let k = k.value();
            page.next = Some(k.to_vec());
            let Some((&table, key)) = k.get(8..).and_then(<[u8]>::split_first) else { continue };
            if !filter(TableId(table), key) {
                continue;
            }
            if let Some(v) = items.get(&k[8..]).map_err(redb_err)? {
                page.items.push((TableId(table), key.to_vec(), codec::decode_siblings(v.value())?));
            }
        }
        page.next = None;
        Ok(page)
    }

    /// How many items are only tombstones.
    pub fn tombstone_count(&self) -> Result<u64, StoreError> {
        use redb::ReadableTableMetadata;
        let txn = self.db.get()?.begin_read().map_err(redb_err)?;
        txn.open_table(tables::TOMBSTONES).map_err(redb_err)?.len().map_err(redb_err)
    }

    /// For each `(table, key, tombstone)`: whether this node's copy may be purged with it. It
    /// may if the node holds nothing for the item, or only tombstones the tombstone covers, and
    /// no hint refers to the item (a hint is a write still on its way to an owner). A covered
    /// version that is not a tombstone (a copy that missed the delete) waits until the
    /// tombstone reached it (anti-entropy, read repair): the owners forget their copies at
    /// once, and one whose call fails would otherwise keep that version with nothing left
    /// anywhere to beat it.
    pub fn purgeable(
        &self,
        items: &[(TableId, Vec<u8>, Siblings)],
    ) -> Result<Vec<bool>, StoreError> {
        let txn = self.db.get()?.begin_read().map_err(redb_err)?;
        let stored = txn.open_table(tables::ITEMS).map_err(redb_err)?;
        let refs = txn.open_table(tables::HINT_REFS).map_err(redb_err)?;
        let mut out = Vec::with_capacity(items.len());
        for (table, key, tombstone) in items {
            let hinted = refs.get(hints::item_ref(table.0, key).as_slice()).map_err(redb_err)?;
            let covered = match stored.get(item_key(*table, key).as_slice()).map_err(redb_err)? {
                Some(v) => {
                    let held = codec::decode_siblings(v.value())?;
                    held.iter().all(Sibling::is_tombstone) && tombstone.covers(&held)
                }
                None => true,
            };
            out.push(hinted.is_none() && covered && tombstone_time(tombstone).is_some());
        }
        Ok(out)
    }
}
