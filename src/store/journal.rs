//! Reads of the journal table: node-local records of work in progress, never replicated.

use redb::{ReadableDatabase, ReadableTable};

use super::{JournalEntry, Store, StoreError, redb_err, tables};

impl Store {
    /// Every journal entry, in key order.
    pub fn journal(&self) -> Result<Vec<JournalEntry>, StoreError> {
        let txn = self.db.get()?.begin_read().map_err(redb_err)?;
        let journal = txn.open_table(tables::JOURNAL).map_err(redb_err)?;
        let mut out = Vec::new();
        for entry in journal.iter().map_err(redb_err)? {
            let (k, v) = entry.map_err(redb_err)?;
            out.push((k.value().to_vec(), v.value().to_vec()));
        }
        Ok(out)
    }

    /// Journal entries with keys in `start..end`, in key order, at most `limit`.
    pub fn journal_range(
        &self,
        start: &[u8],
        end: &[u8],
        limit: usize,
    ) -> Result<Vec<JournalEntry>, StoreError> {
        let txn = self.db.get()?.begin_read().map_err(redb_err)?;
        let journal = txn.open_table(tables::JOURNAL).map_err(redb_err)?;
        let mut out = Vec::new();
        for entry in journal.range::<&[u8]>(start..end).map_err(redb_err)? {
            if out.len() >= limit {
                break;
            }
            let (k, v) = entry.map_err(redb_err)?;
            out.push((k.value().to_vec(), v.value().to_vec()));
        }
        Ok(out)
    }
}
