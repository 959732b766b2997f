//! Reading a table in key order: `Store::visit` walks a range in one read transaction and lets
//! its caller jump ahead (a listing by delimiter seeks past each common prefix); `Store::scan`
//! is the plain walk collecting items.

use std::ops::Bound;

use redb::{ReadableDatabase, ReadableTable};

use crate::causality::Siblings;

use super::{Store, StoreError, TableId, codec, item_key, redb_err, tables};

/// Where `Store::visit` goes after an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visit {
    Next,
    /// To the first key at or after this one (ignored unless it is ahead).
    SeekTo(Vec<u8>),
    Stop,
}

/// What `Store::visit` calls for each item: its key, and the item to decode if wanted.
pub type Visitor<'v> = dyn FnMut(&[u8], RawItem<'_>) -> Result<Visit, StoreError> + 'v;

/// A stored item as `Store::visit` shows it: decoded only on demand.
#[derive(Clone, Copy)]
pub struct RawItem<'a>(&'a [u8]);

impl RawItem<'_> {
    pub fn decode(self) -> Result<Siblings, StoreError> {
        codec::decode_siblings(self.0)
    }
}

impl Store {
    /// Items of `table` with keys in `(start, end)`, in key order, at most `limit`, for which
    /// `filter(key)` holds (the coverage query's partition filter).
    pub fn scan(
        &self,
        table: TableId,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        limit: usize,
        filter: &dyn Fn(&[u8]) -> bool,
    ) -> Result<Vec<(Vec<u8>, Siblings)>, StoreError> {
        let mut out = Vec::new();
        self.visit(table, start, end, &mut |key, item| {
            if out.len() >= limit {
                return Ok(Visit::Stop);
            }
            if filter(key) {
                out.push((key.to_vec(), item.decode()?));
            }
            Ok(Visit::Next)
        })?;
        Ok(out)
    }

    /// Walks the items of `table` with keys in `(start, end)` in key order, one read
    /// transaction throughout; `visit` sees each key (and decodes the item only if it wants it)
    /// and says where to go next: on, a jump forward to a key (a seek, not a walk), or stop.
    pub fn visit(
        &self,
        table: TableId,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        visit: &mut Visitor<'_>,
    ) -> Result<(), StoreError> {
        let txn = self.db.get()?.begin_read().map_err(redb_err)?;
        let items = txn.open_table(tables::ITEMS).map_err(redb_err)?;
        let mut lower = match start {
            Bound::Included(k) => Bound::Included(item_key(table, k)),
            Bound::Excluded(k) => Bound::Excluded(item_key(table, k)),
            Bound::Unbounded => Bound::Included(vec![table.0]),
        };
        let upper = match end {
            Bound::Included(k) => Bound::Included(item_key(table, k)),
            Bound::Excluded(k) => Bound::Excluded(item_key(table, k)),
            Bound::Unbounded => match table.0.checked_add(1) {
                Some(next) => Bound::Excluded(vec![next]),
                None => Bound::Unbounded,
            },
        };
        'seek: loop {
            let range = (lower.as_ref().map(Vec::as_slice), upper.as_ref().map(Vec::as_slice));
            for entry in items.range::<&[u8]>(range).map_err(redb_err)? {
                let (k, v) = entry.map_err(redb_err)?;
                match visit(&k.value()[1..], RawItem(v.value()))? {
                    Visit::Next => {}
                    Visit::Stop => return Ok(()),
                    Visit::SeekTo(key) => {
                        let to = item_key(table, &key);
                        if to.as_slice() <= k.value() {
                            continue;
                        }
                        lower = Bound::Included(to);
                        continue 'seek;
                    }
                }
            }
            return Ok(());
        }
    }
}

/// Rows of a table keyed by full item key (`[table][key]`) after `after`, in key order, at most
/// `limit` of those for which `filter(table, key)` holds (looking at `limit * 16` at most), with
/// the full key of the last row looked at (to resume from).
#[allow(clippy::type_complexity)]
pub(super) fn page_after<T>(
    rows: &impl ReadableTable<&'static [u8], &'static [u8]>,
    after: Option<&[u8]>,
    limit: usize,
    filter: &dyn Fn(TableId, &[u8]) -> bool,
    decode: impl Fn(&[u8]) -> Result<T, StoreError>,
) -> Result<(Vec<(TableId, Vec<u8>, T)>, Option<Vec<u8>>), StoreError> {
    let lower = after.map_or(Bound::Unbounded, Bound::Excluded);
    let mut out = Vec::new();
    let mut last = None;
    for (looked, entry) in
        rows.range::<&[u8]>((lower, Bound::Unbounded)).map_err(redb_err)?.enumerate()
    {
        if out.len() >= limit || looked >= limit * 16 {
            break;
        }
        let (k, v) = entry.map_err(redb_err)?;
        let full = k.value();
        last = Some(full.to_vec());
        let Some((&table, key)) = full.split_first() else { continue };
        if filter(TableId(table), key) {
            out.push((TableId(table), key.to_vec(), decode(v.value())?));
        }
    }
    Ok((out, last))
}
