//! One replica as the coordinator sees it. Today every replica of a ring of one is the local
//! store; a remote replica (over `rpc`) is another variant with the same operations, so the
//! quorum logic above does not change when the ring grows.
//!
//! This is the one place where the synchronous store meets async code: reads run on tokio's
//! blocking pool, writes await the store's group-commit writer.

use std::ops::Bound;

use bytes::Bytes;

use crate::causality::{Actor, Sibling, Siblings, VectorClock};
use crate::store::{BlockId, Store, StoreError, TableId, WriteOp, WriteOutcome};

/// Why a replica did not answer.
#[derive(Debug, thiserror::Error)]
pub enum ReplicaError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("replica task failed: {0}")]
    Task(String),
}

/// A replica that the coordinator can read from and write to.
#[derive(Debug, Clone)]
pub enum Replica {
    Local(Store),
}

/// Owned bounds of a scan.
#[derive(Debug, Clone)]
pub struct ScanRange {
    pub start: Bound<Vec<u8>>,
    pub end: Bound<Vec<u8>>,
}

impl Replica {
    async fn blocking<T: Send + 'static>(
        f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, ReplicaError> {
        tokio::task::spawn_blocking(f)
            .await
            .map_err(|e| ReplicaError::Task(e.to_string()))?
            .map_err(ReplicaError::from)
    }

    pub async fn get(&self, table: TableId, key: Vec<u8>) -> Result<Siblings, ReplicaError> {
        match self {
            Replica::Local(store) => {
                let store = store.clone();
                Self::blocking(move || store.get(table, &key).map(Option::unwrap_or_default)).await
            }
        }
    }

    /// Mints a new version on this replica (the coordinating owner).
    pub async fn coordinate(
        &self,
        table: TableId,
        key: Vec<u8>,
        context: VectorClock,
        actor: Actor,
        timestamp_ms: i64,
        value: Option<Vec<u8>>,
    ) -> Result<Sibling, ReplicaError> {
        match self {
            Replica::Local(store) => {
                let op = WriteOp::Coordinate { table, key, context, actor, timestamp_ms, value };
                match store.write(op).await? {
                    WriteOutcome::Coordinated(sibling) => Ok(sibling),
                    other => Err(ReplicaError::Task(format!("unexpected outcome {other:?}"))),
                }
            }
        }
    }

    pub async fn merge(
        &self,
        table: TableId,
        key: Vec<u8>,
        siblings: Siblings,
    ) -> Result<(), ReplicaError> {
        match self {
            Replica::Local(store) => {
                store.write(WriteOp::Merge { table, key, siblings }).await?;
                Ok(())
            }
        }
    }

    pub async fn scan(
        &self,
        table: TableId,
        range: ScanRange,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Siblings)>, ReplicaError> {
        match self {
            Replica::Local(store) => {
                let store = store.clone();
                Self::blocking(move || {
                    let start = range.start.as_ref().map(Vec::as_slice);
                    let end = range.end.as_ref().map(Vec::as_slice);
                    store.scan(table, start, end, limit, &|_| true)
                })
                .await
            }
        }
    }

    pub async fn put_block(&self, id: BlockId, data: Bytes) -> Result<(), ReplicaError> {
        match self {
            Replica::Local(store) => {
                store.write(WriteOp::PutBlock { id, data }).await?;
                Ok(())
            }
        }
    }

    pub async fn get_block(&self, id: BlockId) -> Result<Option<Bytes>, ReplicaError> {
        match self {
            Replica::Local(store) => {
                let store = store.clone();
                Self::blocking(move || store.get_block(id)).await
            }
        }
    }

    /// Deletes every block of one body held by this replica.
    pub async fn delete_body(&self, data_id: [u8; 16]) -> Result<(), ReplicaError> {
        match self {
            Replica::Local(store) => {
                store.write(WriteOp::DeleteBody { data_id }).await?;
                Ok(())
            }
        }
    }

    pub async fn delete_blocks(&self, ids: Vec<BlockId>) -> Result<(), ReplicaError> {
        match self {
            Replica::Local(store) => {
                store.write(WriteOp::DeleteBlocks { ids }).await?;
                Ok(())
            }
        }
    }
}
