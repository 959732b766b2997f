//! This node's journal: durable, node-local records of work in progress (bodies being written,
//! bodies waiting to be reclaimed), never replicated.

use super::{Coordinator, CoordinatorError, ReplicaError, local_error};
use crate::store::{JournalEntry, WriteOp};

impl Coordinator {
    /// Records node-local work in progress, durably, before it starts.
    pub async fn journal_put(&self, key: Vec<u8>, value: Vec<u8>) -> Result<(), CoordinatorError> {
        self.inner
            .local
            .store
            .write(WriteOp::PutJournal { key, value })
            .await
            .map_err(local_error)?;
        Ok(())
    }

    /// Forgets a journal entry once its work is finished or undone.
    pub async fn journal_delete(&self, key: Vec<u8>) -> Result<(), CoordinatorError> {
        self.inner.local.store.write(WriteOp::DeleteJournal { key }).await.map_err(local_error)?;
        Ok(())
    }

    /// This node's journal entries (work that a crash may have interrupted).
    pub async fn journal_entries(&self) -> Result<Vec<JournalEntry>, CoordinatorError> {
        let store = self.inner.local.store.clone();
        tokio::task::spawn_blocking(move || store.journal())
            .await
            .map_err(|e| CoordinatorError::Local(ReplicaError::Task(e.to_string())))?
            .map_err(local_error)
    }

    /// This node's journal entries with keys in `start..end`, at most `limit`.
    pub async fn journal_range(
        &self,
        start: &[u8],
        end: &[u8],
        limit: usize,
    ) -> Result<Vec<JournalEntry>, CoordinatorError> {
        let store = self.inner.local.store.clone();
        let (start, end) = (start.to_vec(), end.to_vec());
        let read = move || store.journal_range(&start, &end, limit);
        if self.inner.local.store.runs_inline() {
            return read().map_err(local_error);
        }
        tokio::task::spawn_blocking(read)
            .await
            .map_err(|e| CoordinatorError::Local(ReplicaError::Task(e.to_string())))?
            .map_err(local_error)
    }
}
