//! Node-local persistence in redb: replicated items (sibling sets), body blocks and settings.
//!
//! This is the only module that names redb. Its API is synchronous; writes go through one writer
//! thread that folds every write waiting in its queue into one durable transaction (group
//! commit), so N concurrent writers pay one fsync instead of N. A write's reply is sent only
//! after that transaction committed with `Durability::Immediate`: a reply means "on disk".
//!
//! New versions are minted from an in-memory counter whose durable ceiling is raised a block
//! at a time (`mint`), so two writes through one node never mint the same clock and a mint
//! costs no write of its own.
//!
//! [`Store::in_memory_inline`] is the deterministic variant for the seeded simulation: no
//! writer thread, every write is its own transaction applied on the caller's thread, and reads
//! run there too (`runs_inline`). Real threads finish in an order the OS picks; a simulation
//! that must replay from a seed cannot have any.

mod apply;
mod codec;
mod hints;
mod journal;
pub mod merkle;
mod mint;
mod paxos;
mod space;
mod tables;
mod tombstones;
mod visit;
mod writer;

use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;

use apply::apply_batch;
use bytes::Bytes;
use redb::{Database, Durability, ReadableDatabase, ReadableTable, ReadableTableMetadata};
use tokio::sync::{mpsc, oneshot};
use writer::{DbHandle, writer_loop};

use crate::causality::Siblings;

pub use codec::FORMAT_VERSION;
pub use hints::{Hint, HintOp};
pub use merkle::{BLOCK_PLACEMENT_TABLE, Entry, NodeDigest, TreeKind, block_hash, item_hash};
pub use paxos::{DECIDED_KEPT, Decided, PaxosAnswer, PaxosRow, PaxosRowsPage, PaxosValue};
pub use space::{Compaction, DiskUsage, SpaceUsage, compact_file};
pub use tombstones::{TombstonePage, tombstone_time};
pub use visit::{RawItem, Visit, Visitor};

/// Errors of the node-local store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("redb: {0}")]
    Redb(#[from] redb::Error),
    #[error("corrupt data: {what}")]
    Corrupt { what: String },
    #[error("the store's writer has stopped")]
    Closed,
    /// The disk refused a write (full, failing): the store answers this until the database
    /// could be reopened (see `writer`), then serves again.
    #[error("the store cannot write now: {reason}")]
    Unavailable { reason: String },
    #[error("data directory: {0}")]
    Io(#[from] std::io::Error),
}

fn redb_err(e: impl Into<redb::Error>) -> StoreError {
    StoreError::Redb(e.into())
}

/// Items of any table, `(table, key, siblings)`, and the last full key looked at.
pub type ItemsPage = (Vec<(TableId, Vec<u8>, Siblings)>, Option<Vec<u8>>);

/// What one scrub step found (see [`Store::verify_blocks`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifiedBlocks {
    pub corrupt: Vec<BlockId>,
    pub checked: u64,
    pub bytes: u64,
    /// The last block looked at; `None` once the end was reached.
    pub last: Option<BlockId>,
}

/// A node-local journal entry: `(key, value)`, both owned by the caller.
pub type JournalEntry = (Vec<u8>, Vec<u8>);

/// Names one replicated table (buckets, objects, ...); the numbering belongs to the caller.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct TableId(pub u8);

/// Identifies one block: the data id of the body it belongs to and its index in that body.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct BlockId {
    pub data_id: [u8; 16],
    pub index: u32,
}

impl BlockId {
    /// The block's key in the store, which is also the key that places it on the ring.
    pub fn to_key(self) -> [u8; 20] {
        let mut key = [0u8; 20];
        key[..16].copy_from_slice(&self.data_id);
        key[16..].copy_from_slice(&self.index.to_be_bytes());
        key
    }

    pub fn from_key(key: &[u8]) -> Option<Self> {
        let data_id = key.get(..16)?.try_into().ok()?;
        let index = u32::from_be_bytes(key.get(16..20)?.try_into().ok()?);
        (key.len() == 20).then_some(BlockId { data_id, index })
    }
}

/// Entries of each kind a `Forget` removes per transaction.
const FORGET_PAGE: usize = 512;

/// A write for the group-commit writer.
#[derive(Debug)]
pub enum WriteOp {
    /// Raises the durable ceiling of the clock counters this node may mint (never lowers it).
    RaiseMintCeiling {
        ceiling: u64,
    },
    /// One step of per-key consensus on this node's acceptor for the item (see `paxos`), of a
    /// round run under layout `layout`; a commit merges the decided version into the item in
    /// the same transaction.
    Paxos {
        table: TableId,
        key: Vec<u8>,
        request: crate::consensus::Request<PaxosValue>,
        layout: u64,
    },
    /// Refuses, from now on, prepares and accepts of rounds run under a layout below `layout`
    /// (never lowered): a new owner is about to pull this node's consensus rows.
    PaxosFence {
        layout: u64,
    },
    /// Takes previous owners' consensus rows into this node's (`PaxosRow::absorb`).
    PaxosAbsorb {
        rows: Vec<(TableId, Vec<u8>, PaxosRow)>,
    },
    /// Merge siblings received from a coordinator or a repair into the local set.
    /// With `hint_for`, this node stands in for that owner: a hint to hand the item off later
    /// is stored in the same transaction.
    Merge {
        table: TableId,
        key: Vec<u8>,
        siblings: Siblings,
        hint_for: Option<u64>,
    },
    PutBlock {
        id: BlockId,
        data: Bytes,
        hint_for: Option<u64>,
    },
    /// Records work owed to `owner` (a delete it missed while down).
    AddHint {
        owner: u64,
        op: HintOp,
    },
    /// Forgets a hint once it was handed off.
    DeleteHint {
        owner: u64,
        seq: u64,
    },
    /// Removes items and blocks outright (no tombstone), except those a hint still refers to
    /// (checked in the same transaction, so a hinted write racing the drop survives): data
    /// this node no longer owns.
    DropUnhinted {
        items: Vec<(TableId, Vec<u8>)>,
        blocks: Vec<BlockId>,
    },
    DeleteBlocks {
        ids: Vec<BlockId>,
    },
    /// Forgets each item whose stored siblings the given tombstone covers (dominated versions
    /// and older tombstones), unless a hint still refers to it: a purge the whole ring agreed
    /// on (see `coordinator::purge`). An item written since is kept.
    Purge {
        items: Vec<(TableId, Vec<u8>, Siblings)>,
    },
    /// Deletes every block of one body, whatever their count.
    DeleteBody {
        data_id: [u8; 16],
    },
    /// Removes up to `limit` items, blocks, hints and consensus rows, whatever they are, with
    /// their indexes (the journal and meta stay): what a node the cluster forgot drops instead
    /// of handing it back (see `Ring::forget_node`). Answers `Forgot`; repeat
    /// until it forgot nothing.
    Forget {
        limit: usize,
    },
    PutJournal {
        key: Vec<u8>,
        value: Vec<u8>,
    },
    DeleteJournal {
        key: Vec<u8>,
    },
}

/// What a committed write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOutcome {
    /// A consensus step's answer.
    Paxos(PaxosAnswer),
    /// Whether a `Merge` changed the stored set.
    Merged {
        changed: bool,
    },
    /// How many entries a `Forget` removed.
    Forgot(usize),
    Done,
}

struct Job {
    op: WriteOp,
    reply: oneshot::Sender<Result<WriteOutcome, StoreError>>,
}

enum Msg {
    Job(Job),
    Stop,
}

/// Tunables of the store.
#[derive(Debug, Clone, Copy)]
pub struct StoreOptions {
    /// redb page cache; bounded so that large uploads do not grow the process.
    pub cache_bytes: usize,
    /// Most jobs folded into one transaction.
    pub group_commit_jobs_max: usize,
    /// Most block bytes folded into one transaction.
    pub group_commit_bytes_max: usize,
    /// Space kept aside beside the database file (a file of zeros), given back the moment the
    /// disk fills up, so that deletes and reclamation can still commit and free space.
    pub reserve_bytes: u64,
    /// While the disk is full, how often a write that adds data is tried again.
    pub full_disk_probe: std::time::Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            cache_bytes: 16 << 20,
            group_commit_jobs_max: 256,
            group_commit_bytes_max: 8 << 20,
            reserve_bytes: 64 << 20,
            full_disk_probe: std::time::Duration::from_secs(5),
        }
    }
}

/// Where writes are applied.
#[derive(Clone)]
enum Writer {
    /// The group-commit writer thread.
    Thread(mpsc::Sender<Msg>),
    /// The caller's thread, one transaction per write (deterministic simulation).
    Inline,
}

/// The node-local store. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: Arc<DbHandle>,
    writer: Writer,
    commits: Arc<AtomicU64>,
    /// Whether the writer is in full-disk mode (see `writer`).
    disk_full: Arc<AtomicBool>,
    /// Resolves when the writer thread has stopped and released the database.
    writer_stopped: Arc<std::sync::Mutex<Option<oneshot::Receiver<()>>>>,
    /// The database file (`None` in memory), for the disk figures.
    file: Option<Arc<Path>>,
    /// This node's clock counters (see `mint`).
    minter: Arc<mint::Minter>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (or creates) the database file `path`.
    pub fn open(path: &Path, options: StoreOptions) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let db = redb::Builder::new()
            .set_cache_size(options.cache_bytes)
            .create(path)
            .map_err(redb_err)?;
        let reserve = writer::Reserve::file(path.with_extension("reserve"), options.reserve_bytes);
        let opener = DbHandle::file_opener(path.to_owned(), options.cache_bytes);
        let mut store = Self::start(db, Some(opener), reserve, options)?;
        store.file = Some(Arc::from(path));
        Ok(store)
    }

    /// A store in memory, for tests and simulation.
    pub fn in_memory(options: StoreOptions) -> Result<Self, StoreError> {
        let db = redb::Builder::new()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .map_err(redb_err)?;
        Self::start(db, None, writer::Reserve::none(), options)
    }

    /// A store in memory that uses no thread of its own: writes apply on the caller's thread,
    /// one transaction each (no group commit), and [`Store::runs_inline`] tells callers to read
    /// on their own thread too. For the deterministic simulation only.
    pub fn in_memory_inline() -> Result<Self, StoreError> {
        let db = redb::Builder::new()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .map_err(redb_err)?;
        init_tables(&db)?;
        let minter = Arc::new(mint::Minter::resume_from(&db)?);
        Ok(Self {
            db: Arc::new(DbHandle::new(db, None)),
            writer: Writer::Inline,
            commits: Arc::new(AtomicU64::new(0)),
            disk_full: Arc::default(),
            writer_stopped: Arc::new(std::sync::Mutex::new(None)),
            file: None,
            minter,
        })
    }

    /// A store over a backend that `open` creates, and creates again to reopen the database
    /// after an I/O error: for tests of a disk that fills up and is freed.
    #[cfg(test)]
    fn with_backend<B: redb::StorageBackend>(
        open: impl Fn() -> B + Send + Sync + 'static,
    ) -> Result<Self, StoreError> {
        let opener: writer::Opener = Box::new(move || {
            redb::Builder::new()
                .create_with_backend(open())
                .map_err(|e| StoreError::Unavailable { reason: format!("reopen: {e}") })
        });
        let db = opener()?;
        let options = StoreOptions {
            full_disk_probe: std::time::Duration::from_millis(200),
            ..Default::default()
        };
        Self::start(db, Some(opener), writer::Reserve::none(), options)
    }

    /// Whether reads and writes run on the caller's thread (see [`Store::in_memory_inline`]).
    pub fn runs_inline(&self) -> bool {
        matches!(self.writer, Writer::Inline)
    }

    fn start(
        db: Database,
        opener: Option<writer::Opener>,
        reserve: writer::Reserve,
        options: StoreOptions,
    ) -> Result<Self, StoreError> {
        init_tables(&db)?;
        let minter = Arc::new(mint::Minter::resume_from(&db)?);
        let db = Arc::new(DbHandle::new(db, opener));
        let (tx, rx) = mpsc::channel(options.group_commit_jobs_max.max(1) * 4);
        let writer_db = db.clone();
        let commits = Arc::new(AtomicU64::new(0));
        let writer_commits = commits.clone();
        let disk_full = Arc::new(AtomicBool::new(false));
        let writer_disk_full = disk_full.clone();
        let (stopped_tx, stopped_rx) = oneshot::channel();
        thread::Builder::new().name("store-writer".into()).spawn(move || {
            writer_loop(writer_db, rx, options, reserve, &writer_commits, writer_disk_full);
            let _ = stopped_tx.send(());
        })?;
        Ok(Self {
            db,
            writer: Writer::Thread(tx),
            commits,
            disk_full,
            writer_stopped: Arc::new(std::sync::Mutex::new(Some(stopped_rx))),
            file: None,
            minter,
        })
    }

    /// Stops the writer after the writes queued before this call, and waits for it. Once every
    /// clone of this store is dropped too, the database file is closed (a reopen in the same
    /// process then succeeds). Acknowledged writes are durable whether or not this is called.
    pub async fn close(self) {
        let Writer::Thread(writer) = &self.writer else { return };
        let stopped =
            self.writer_stopped.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        let _ = writer.send(Msg::Stop).await;
        if let Some(stopped) = stopped {
            let _ = stopped.await;
        }
        // Whoever uses the store was joined before this (the node's shutdown order: servers,
        // detached requests, workers, background copies), so the file closes here. A holder
        // left over is a bug in that order: said, not waited for.
        let holders = Arc::strong_count(&self.db) - 1 + self.db.in_use_elsewhere();
        if holders > 0 {
            tracing::warn!(
                holders,
                "the store is still in use after shutdown; it closes when they finish"
            );
        }
        drop(self);
    }

    /// Queues a write; the returned receiver resolves once it is durable.
    pub async fn write(&self, op: WriteOp) -> Result<WriteOutcome, StoreError> {
        let Writer::Thread(writer) = &self.writer else { return self.write_inline(op) };
        let (reply, rx) = oneshot::channel();
        writer.send(Msg::Job(Job { op, reply })).await.map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    fn write_inline(&self, op: WriteOp) -> Result<WriteOutcome, StoreError> {
        let outcome = apply_batch(&*self.db.get()?, vec![op])?.pop().ok_or(StoreError::Closed)?;
        self.commits.fetch_add(1, Ordering::Relaxed);
        outcome
    }

    /// Blocking form of [`Store::write`], for synchronous callers outside the async runtime.
    pub fn write_blocking(&self, op: WriteOp) -> Result<WriteOutcome, StoreError> {
        let Writer::Thread(writer) = &self.writer else { return self.write_inline(op) };
        let (reply, rx) = oneshot::channel();
        writer.blocking_send(Msg::Job(Job { op, reply })).map_err(|_| StoreError::Closed)?;
        rx.blocking_recv().map_err(|_| StoreError::Closed)?
    }

    pub fn get(&self, table: TableId, key: &[u8]) -> Result<Option<Siblings>, StoreError> {
        let txn = self.db.get()?.begin_read().map_err(redb_err)?;
        let items = txn.open_table(tables::ITEMS).map_err(redb_err)?;
        let full = item_key(table, key);
        match items.get(full.as_slice()).map_err(redb_err)? {
            Some(v) => Ok(Some(codec::decode_siblings(v.value())?)),
            None => Ok(None),
        }
    }

    /// Items of every table after the full key `after` (`[table][key]`), in key order, at most
    /// `limit` of those for which `filter(table, key)` holds, with the full key of the last item
    /// looked at (to resume from). For moving partitions between nodes.
    pub fn scan_all(
        &self,
        after: Option<&[u8]>,
        limit: usize,
        filter: &dyn Fn(TableId, &[u8]) -> bool,
    ) -> Result<ItemsPage, StoreError> {
        let txn = self.db.get()?.begin_read().map_err(redb_err)?;
        let items = txn.open_table(tables::ITEMS).map_err(redb_err)?;
        visit::page_after(&items, after, limit, filter, codec::decode_siblings)
    }

    /// Block ids after `after`, at most `limit` of those `filter` accepts, and the last id
    /// looked at (to resume from).
    pub fn block_ids_after(
        &self,
        after: Option<BlockId>,
        limit: usize,
        filter: &dyn Fn(BlockId) -> bool,
    ) -> Result<(Vec<BlockId>, Option<BlockId>), StoreError> {
        let txn = self.db.get()?.begin_read().map_err(redb_err)?;
        let blocks = txn.open_table(tables::BLOCKS).map_err(redb_err)?;
        let after_key = after.map(BlockId::to_key);
        let lower = after_key.as_ref().map_or(Bound::Unbounded, |k| Bound::Excluded(k.as_slice()));
        let mut out = Vec::new();
        let mut last = None;
        for (looked, entry) in
            blocks.range::<&[u8]>((lower, Bound::Unbounded)).map_err(redb_err)?.enumerate()
        {
            if out.len() >= limit || looked >= limit * 16 {
                break;
            }
            let (k, _) = entry.map_err(redb_err)?;
            let Some(id) = BlockId::from_key(k.value()) else { continue };
            last = Some(id);
            if filter(id) {
                out.push(id);
            }
        }
        Ok((out, last))
    }

    /// A block's data, checksum-verified. `Ok(None)` when absent.
    pub fn get_block(&self, id: BlockId) -> Result<Option<Bytes>, StoreError> {
        let txn = self.db.get()?.begin_read().map_err(redb_err)?;
        let blocks = txn.open_table(tables::BLOCKS).map_err(redb_err)?;
        match blocks.get(id.to_key().as_slice()).map_err(redb_err)? {
            Some(v) => Ok(Some(Bytes::copy_from_slice(codec::decode_block(v.value())?))),
            None => Ok(None),
        }
    }

    /// Checks the stored checksum of up to `limit` blocks after `after` (or fewer, once `bytes`
    /// were read): the scrub's step. Returns the corrupt ones, the count and bytes checked, and
    /// the last id looked at (`None`: the end was reached).
    pub fn verify_blocks(
        &self,
        after: Option<BlockId>,
        limit: usize,
        bytes: u64,
    ) -> Result<VerifiedBlocks, StoreError> {
        let txn = self.db.get()?.begin_read().map_err(redb_err)?;
        let blocks = txn.open_table(tables::BLOCKS).map_err(redb_err)?;
        let after_key = after.map(BlockId::to_key);
        let lower = after_key.as_ref().map_or(Bound::Unbounded, |k| Bound::Excluded(k.as_slice()));
        let mut out = VerifiedBlocks::default();
        for entry in blocks.range::<&[u8]>((lower, Bound::Unbounded)).map_err(redb_err)? {
            if out.checked >= limit as u64 || out.bytes >= bytes {
                return Ok(out);
            }
            let (k, v) = entry.map_err(redb_err)?;
            let Some(id) = BlockId::from_key(k.value()) else { continue };
            out.checked += 1;
            out.bytes += v.value().len() as u64;
            out.last = Some(id);
            if codec::decode_block(v.value()).is_err() {
                out.corrupt.push(id);
            }
        }
        out.last = None;
        Ok(out)
    }

    /// Removes every item and block (hints, journal and meta stay), as a lost disk would: for
    /// tests and benchmarks of anti-entropy. Returns how many items and blocks went.
    #[cfg(any(test, feature = "testing"))]
    pub async fn drop_all_data(&self) -> Result<(usize, usize), StoreError> {
        let mut items = Vec::new();
        let mut after = None;
        loop {
            let (page, last) = self.scan_all(after.as_deref(), 1000, &|_, _| true)?;
            items.extend(page.into_iter().map(|(table, key, _)| (table, key)));
            if last.is_none() || last == after {
                break;
            }
            after = last;
        }
        let blocks = self.block_ids()?;
        let counts = (items.len(), blocks.len());
        self.write(WriteOp::DropUnhinted { items, blocks }).await?;
        Ok(counts)
    }

    /// Overwrites a block's stored bytes as they are, checksum included: for tests of scrubbing
    /// and of reads that meet corruption.
    #[cfg(any(test, feature = "testing"))]
    pub fn corrupt_block(&self, id: BlockId) -> Result<bool, StoreError> {
        let txn = self.db.get()?.begin_write().map_err(redb_err)?;
        let found = {
            let mut blocks = txn.open_table(tables::BLOCKS).map_err(redb_err)?;
            let stored =
                blocks.get(id.to_key().as_slice()).map_err(redb_err)?.map(|v| v.value().to_vec());
            match stored {
                Some(mut bytes) => {
                    if let Some(last) = bytes.last_mut() {
                        *last ^= 0x5a;
                    }
                    blocks.insert(id.to_key().as_slice(), bytes.as_slice()).map_err(redb_err)?;
                    true
                }
                None => false,
            }
        };
        txn.commit().map_err(redb_err)?;
        Ok(found)
    }

    /// Whether the disk refused the last write that added data: writes that add data are
    /// refused until a probe commits (see `writer`), deletions still go through.
    pub fn disk_full(&self) -> bool {
        self.disk_full.load(Ordering::Relaxed)
    }

    /// Write transactions committed so far (each is one fsync).
    pub fn commit_count(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// Number of stored blocks (for tests and metrics).
    pub fn block_count(&self) -> Result<u64, StoreError> {
        let txn = self.db.get()?.begin_read().map_err(redb_err)?;
        let blocks = txn.open_table(tables::BLOCKS).map_err(redb_err)?;
        blocks.len().map_err(redb_err)
    }

    /// Every stored block id, for garbage collection sweeps.
    pub fn block_ids(&self) -> Result<Vec<BlockId>, StoreError> {
        let txn = self.db.get()?.begin_read().map_err(redb_err)?;
        let blocks = txn.open_table(tables::BLOCKS).map_err(redb_err)?;
        let mut out = Vec::new();
        for entry in blocks.iter().map_err(redb_err)? {
            let (k, _) = entry.map_err(redb_err)?;
            out.extend(BlockId::from_key(k.value()));
        }
        Ok(out)
    }

    /// The Merkle tree's node for each `(prefix bits, prefix)` of the placement hash.
    pub fn tree_nodes(
        &self,
        kind: TreeKind,
        wanted: &[(u8, u32)],
    ) -> Result<Vec<NodeDigest>, StoreError> {
        let txn = self.db.get()?.begin_read().map_err(redb_err)?;
        let nodes = txn.open_table(tables::TREE).map_err(redb_err)?;
        merkle::nodes(&nodes, kind, wanted)
    }

    /// The non-empty children of a tree node, at the next stored level, and that level
    /// (`None` for a leaf).
    pub fn tree_children(
        &self,
        kind: TreeKind,
        bits: u8,
        prefix: u32,
    ) -> Result<Option<merkle::Children>, StoreError> {
        let Some(level) = merkle::child_level(bits) else { return Ok(None) };
        let txn = self.db.get()?.begin_read().map_err(redb_err)?;
        let nodes = txn.open_table(tables::TREE).map_err(redb_err)?;
        Ok(Some((level, merkle::children_at(&nodes, kind, bits, prefix, level)?)))
    }

    /// Up to `limit` Merkle entries under a prefix, after `after`, and whether more follow.
    pub fn tree_entries(
        &self,
        kind: TreeKind,
        bits: u8,
        prefix: u32,
        after: Option<(u64, Vec<u8>)>,
        limit: usize,
    ) -> Result<(Vec<Entry>, bool), StoreError> {
        let txn = self.db.get()?.begin_read().map_err(redb_err)?;
        let entries = txn.open_table(tables::DIGESTS).map_err(redb_err)?;
        merkle::entries(&entries, kind, bits, prefix, after, limit)
    }

    /// Up to `limit` hints owed to `owner`, oldest first.
    pub fn hints_for(&self, owner: u64, limit: usize) -> Result<Vec<Hint>, StoreError> {
        let txn = self.db.get()?.begin_read().map_err(redb_err)?;
        let table = txn.open_table(tables::HINTS).map_err(redb_err)?;
        hints::list(&table, Some(owner), limit)
    }

    /// The owners this node holds hints for, with how many each: one entry per owner, read
    /// from the counts index (cheap enough for a metrics scrape on the async runtime).
    pub fn hint_counts(&self) -> Result<Vec<(u64, u64)>, StoreError> {
        let txn = self.db.get()?.begin_read().map_err(redb_err)?;
        let table = txn.open_table(tables::HINT_COUNTS).map_err(redb_err)?;
        hints::counts(&table)
    }

    /// Whether this node holds no item, block or hint at all.
    pub fn holds_nothing(&self) -> Result<bool, StoreError> {
        let txn = self.db.get()?.begin_read().map_err(redb_err)?;
        let items = txn.open_table(tables::ITEMS).map_err(redb_err)?;
        let blocks = txn.open_table(tables::BLOCKS).map_err(redb_err)?;
        let hints = txn.open_table(tables::HINTS).map_err(redb_err)?;
        Ok(items.is_empty().map_err(redb_err)?
            && blocks.is_empty().map_err(redb_err)?
            && hints.is_empty().map_err(redb_err)?)
    }

    /// Removes every item, block, hint and consensus row, page by page (see `WriteOp::Forget`);
    /// returns how many entries went.
    pub async fn forget_everything(&self) -> Result<usize, StoreError> {
        let mut total = 0;
        loop {
            match self.write(WriteOp::Forget { limit: FORGET_PAGE }).await? {
                WriteOutcome::Forgot(count) if count > 0 => total += count,
                _ => return Ok(total),
            }
        }
    }

    pub fn get_meta(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.db.get()?.begin_read().map_err(redb_err)?;
        let meta = txn.open_table(tables::META).map_err(redb_err)?;
        Ok(meta.get(name).map_err(redb_err)?.map(|v| v.value().to_vec()))
    }

    /// Writes a node-local setting durably (outside the group-commit queue; rare).
    pub fn put_meta(&self, name: &str, value: &[u8]) -> Result<(), StoreError> {
        let mut txn = self.db.get()?.begin_write().map_err(redb_err)?;
        txn.set_durability(Durability::Immediate).map_err(redb_err)?;
        txn.open_table(tables::META).map_err(redb_err)?.insert(name, value).map_err(redb_err)?;
        txn.commit().map_err(redb_err)
    }
}

/// Creates the tables and checks (or records) the on-disk format version.
pub(super) fn init_tables(db: &Database) -> Result<(), StoreError> {
    let txn = db.begin_write().map_err(redb_err)?;
    {
        txn.open_table(tables::ITEMS).map_err(redb_err)?;
        txn.open_table(tables::BLOCKS).map_err(redb_err)?;
        txn.open_table(tables::JOURNAL).map_err(redb_err)?;
        txn.open_table(tables::HINTS).map_err(redb_err)?;
        txn.open_table(tables::HINT_COUNTS).map_err(redb_err)?;
        txn.open_table(tables::HINT_REFS).map_err(redb_err)?;
        txn.open_table(tables::DIGESTS).map_err(redb_err)?;
        txn.open_table(tables::TREE).map_err(redb_err)?;
        txn.open_table(tables::TOMBSTONES).map_err(redb_err)?;
        txn.open_table(tables::PAXOS).map_err(redb_err)?;
        let mut meta = txn.open_table(tables::META).map_err(redb_err)?;
        let stored = meta.get("format_version").map_err(redb_err)?.map(|v| v.value().to_vec());
        match stored.as_deref() {
            None => {
                meta.insert("format_version", &[FORMAT_VERSION][..]).map_err(redb_err)?;
            }
            Some([FORMAT_VERSION]) => {}
            Some(other) => {
                return Err(StoreError::Corrupt {
                    what: format!(
                        "data was written in format {other:?}, this build reads {FORMAT_VERSION}"
                    ),
                });
            }
        }
        // The hint indexes came after the hints: a store written before gets them built once.
        if meta.get(HINT_INDEXES).map_err(redb_err)?.is_none() {
            hints::rebuild_indexes(&txn)?;
            meta.insert(HINT_INDEXES, &[1u8][..]).map_err(redb_err)?;
        }
        // Likewise the Merkle index.
        if meta.get(MERKLE_INDEX).map_err(redb_err)?.is_none() {
            merkle::rebuild(&txn)?;
            meta.insert(MERKLE_INDEX, &[1u8][..]).map_err(redb_err)?;
        }
        // Likewise the tombstone index.
        if meta.get(TOMBSTONE_INDEX).map_err(redb_err)?.is_none() {
            tombstones::rebuild(&txn)?;
            meta.insert(TOMBSTONE_INDEX, &[1u8][..]).map_err(redb_err)?;
        }
    }
    txn.commit().map_err(redb_err)?;
    Ok(())
}

/// Meta key recording that the hint indexes (`HINT_COUNTS`, `HINT_REFS`) are kept.
const HINT_INDEXES: &str = "hint_indexes";
/// Meta key recording that the Merkle index (`DIGESTS`, `TREE`) is kept.
const MERKLE_INDEX: &str = "merkle_index";
/// Meta key recording that the tombstone index (`TOMBSTONES`) is kept.
const TOMBSTONE_INDEX: &str = "tombstone_index";

fn item_key(table: TableId, key: &[u8]) -> Vec<u8> {
    let mut full = Vec::with_capacity(key.len() + 1);
    full.push(table.0);
    full.extend_from_slice(key);
    full
}

#[cfg(test)]
mod tests;
