//! The group-commit writer thread, and the database handle it can reopen.
//!
//! redb refuses every transaction after an I/O error (a full disk, a failing device) until
//! the database is reopened. A node whose disk filled up must answer errors, not die, and
//! serve again once space is freed: after a failed commit the writer takes the database out of
//! service (reads and writes answer `StoreError::Unavailable`), waits for the reads still
//! holding it, and reopens the file; while that fails (the disk is still full) every batch
//! that arrives tries again. Nothing acknowledged is lost: a commit that failed acknowledged
//! nothing, and redb reopens at its last durable commit.
//!
//! A failed commit also puts the store in *full-disk mode*: the reserve file kept beside the
//! database is deleted (its space is what lets the deletes below commit), writes that add data
//! (new versions, blocks, hints, journal entries) are refused at once with `Unavailable`
//! without touching the database (each attempt would fail, poison the database and take
//! reads down for a reopen), and writes that only remove data (reclamation, clean-up, hand-off
//! bookkeeping) go on, so that the node keeps answering reads and frees space. Every
//! `full_disk_probe` one batch is tried whole; the first that commits ends the mode, and the
//! reserve is made again where the disk has room.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use redb::Database;
use tokio::sync::mpsc;

use super::{Job, Msg, StoreError, StoreOptions, WriteOp, apply_batch, init_tables};
use crate::clock::{Clock, SystemClock};

/// How long a reopen waits for reads still holding the old database.
const READERS_WAIT: Duration = Duration::from_secs(2);
/// After a failed commit or reopen, the writer pauses this long before the next batch: a
/// reopen repairs the file (long for a large one), and a disk that is still full would have
/// it retried as fast as writes arrive.
const FAILURE_PAUSE: Duration = Duration::from_millis(200);

/// Opens the database again (`DbHandle::reopen`).
pub(super) type Opener = Box<dyn Fn() -> Result<Database, StoreError> + Send + Sync>;

/// The database, or nothing while it is being reopened.
pub(super) struct DbHandle {
    slot: RwLock<Option<Arc<Database>>>,
    /// How to open it again; `None` for a store that cannot (in memory).
    opener: Option<Opener>,
}

impl DbHandle {
    pub(super) fn new(db: Database, opener: Option<Opener>) -> Self {
        Self { slot: RwLock::new(Some(Arc::new(db))), opener }
    }

    /// An opener of the database file at `path`.
    pub(super) fn file_opener(path: PathBuf, cache_bytes: usize) -> Opener {
        Box::new(move || {
            redb::Builder::new().set_cache_size(cache_bytes).create(&path).map_err(|e| {
                StoreError::Unavailable { reason: format!("reopen {}: {e}", path.display()) }
            })
        })
    }

    /// The database, or `Unavailable` while it is out of service.
    pub(super) fn get(&self) -> Result<Arc<Database>, StoreError> {
        self.slot.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone().ok_or_else(
            || StoreError::Unavailable {
                reason: "reopening the database after an I/O error".into(),
            },
        )
    }

    /// Whether nothing but this handle holds the database any more.
    pub(super) fn in_use_elsewhere(&self) -> usize {
        self.slot
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
            .map_or(0, |db| Arc::strong_count(db) - 1)
    }

    /// Takes the database out of service and opens its file again.
    fn reopen(&self) -> Result<(), StoreError> {
        let Some(opener) = &self.opener else {
            return Err(StoreError::Unavailable {
                reason: "an in-memory store cannot reopen".into(),
            });
        };
        let old = self.slot.write().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        if let Some(mut old) = old {
            // Reads in flight hold clones for a moment; redb opens a file only once.
            let mut waited = Duration::ZERO;
            loop {
                match Arc::try_unwrap(old) {
                    Ok(db) => {
                        drop(db);
                        break;
                    }
                    Err(back) if waited < READERS_WAIT => {
                        old = back;
                        std::thread::sleep(Duration::from_millis(10));
                        waited += Duration::from_millis(10);
                    }
                    Err(back) => {
                        *self.slot.write().unwrap_or_else(std::sync::PoisonError::into_inner) =
                            Some(back);
                        return Err(StoreError::Unavailable {
                            reason: "reads still hold the database; cannot reopen yet".into(),
                        });
                    }
                }
            }
        }
        let db = opener()?;
        init_tables(&db)?;
        *self.slot.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Arc::new(db));
        tracing::warn!("reopened the database after an I/O error");
        Ok(())
    }
}

/// Whether a failure means redb will refuse everything until the database is reopened.
fn needs_reopen(e: &StoreError) -> bool {
    matches!(e, StoreError::Redb(redb::Error::Io(_) | redb::Error::PreviousIo))
}

/// Space set aside beside the database, given back when the disk fills up.
pub(super) struct Reserve {
    path: Option<PathBuf>,
    bytes: u64,
}

impl Reserve {
    /// A reserve file of `bytes` at `path`, made now if the disk has room (else on the first
    /// commit after full-disk mode).
    pub(super) fn file(path: PathBuf, bytes: u64) -> Self {
        let reserve = Self { path: (bytes > 0).then_some(path), bytes };
        reserve.make();
        reserve
    }

    /// No reserve (stores in memory, test backends).
    pub(super) fn none() -> Self {
        Self { path: None, bytes: 0 }
    }

    fn make(&self) {
        let Some(path) = &self.path else { return };
        if std::fs::metadata(path).is_ok_and(|m| m.len() >= self.bytes) {
            return;
        }
        // Only with room to spare: taking the last free bytes back would fill the disk again at
        // once (the writer tries again later).
        if let Some((free, _)) = super::space::room_beside(path)
            && free < self.bytes.saturating_mul(4)
        {
            tracing::debug!(path = %path.display(), "too little room for the disk reserve yet");
            return;
        }
        // The space is really held (allocated, not a sparse length): fallocate where the file
        // system has it, zeros written where not.
        let written = (|| {
            use std::io::Write;
            let mut file = std::fs::File::create(path)?;
            if rustix::fs::fallocate(&file, rustix::fs::FallocateFlags::empty(), 0, self.bytes)
                .is_err()
            {
                let chunk = vec![0u8; 1 << 20];
                let mut left = self.bytes;
                while left > 0 {
                    let n = usize::try_from(left.min(chunk.len() as u64)).unwrap_or(chunk.len());
                    file.write_all(&chunk[..n])?;
                    left -= n as u64;
                }
            }
            file.sync_all()
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_file(path);
            tracing::warn!(error = %e, path = %path.display(), "no room for the disk reserve yet");
        }
    }

    fn release(&self) {
        if let Some(path) = &self.path
            && std::fs::remove_file(path).is_ok()
        {
            tracing::warn!(bytes = self.bytes, "the disk is full: released the reserve");
        }
    }
}

/// Whether a write can only remove data (and so frees space rather than taking it).
fn only_removes(op: &WriteOp) -> bool {
    matches!(
        op,
        WriteOp::DropUnhinted { .. }
            | WriteOp::Forget { .. }
            | WriteOp::DeleteBlocks { .. }
            | WriteOp::DeleteBody { .. }
            | WriteOp::DeleteHint { .. }
            | WriteOp::DeleteJournal { .. }
            | WriteOp::Purge { .. }
    )
}

/// How often a missing reserve is made again, at most.
const RESERVE_RETRY: Duration = Duration::from_secs(30);

/// Full-disk mode (see the module's documentation).
struct FullDisk {
    reserve: Reserve,
    probe_every: Duration,
    /// Since when, and when a whole batch was last tried.
    since: Option<(std::time::Instant, std::time::Instant)>,
    /// When a missing reserve was last tried.
    reserve_tried: Option<std::time::Instant>,
    /// Whether the mode is on, for [`super::Store::disk_full`].
    flag: Arc<AtomicBool>,
}

impl FullDisk {
    /// The part of `batch` to commit now; the rest is refused (answered here).
    fn admit(&mut self, batch: Vec<Job>) -> Vec<Job> {
        let Some((_, tried)) = &mut self.since else { return batch };
        let now = SystemClock.monotonic();
        if now.saturating_duration_since(*tried) >= self.probe_every {
            *tried = now;
            return batch;
        }
        let (admitted, refused): (Vec<Job>, Vec<Job>) =
            batch.into_iter().partition(|job| only_removes(&job.op));
        for job in refused {
            let _ = job.reply.send(Err(StoreError::Unavailable {
                reason: "the disk is full: writes that add data are refused until space is freed"
                    .into(),
            }));
        }
        admitted
    }

    fn committed(&mut self, added_data: bool) {
        let now = SystemClock.monotonic();
        if added_data && let Some((since, _)) = self.since.take() {
            tracing::warn!(
                full_for_ms = u64::try_from(now.saturating_duration_since(since).as_millis())
                    .unwrap_or(u64::MAX),
                "the disk has room again: writes are accepted"
            );
            self.reserve_tried = None;
            self.flag.store(false, Ordering::Relaxed);
        }
        // The reserve comes back once the disk has room for it (checked now and then).
        let due =
            self.reserve_tried.is_none_or(|at| now.saturating_duration_since(at) >= RESERVE_RETRY);
        if self.since.is_none() && due {
            self.reserve_tried = Some(now);
            self.reserve.make(); // at once when it is in place
        }
    }

    fn failed(&mut self) {
        if self.since.is_none() {
            self.reserve.release();
            let now = SystemClock.monotonic();
            self.since = Some((now, now));
            self.flag.store(true, Ordering::Relaxed);
        }
    }
}

pub(super) fn writer_loop(
    db: Arc<DbHandle>,
    mut rx: mpsc::Receiver<Msg>,
    options: StoreOptions,
    reserve: Reserve,
    commits: &AtomicU64,
    disk_full: Arc<AtomicBool>,
) {
    let mut full = FullDisk {
        reserve,
        probe_every: options.full_disk_probe,
        since: None,
        reserve_tried: None,
        flag: disk_full,
    };
    let mut stopping = false;
    while !stopping {
        let Some(Msg::Job(first)) = rx.blocking_recv() else { break };
        let mut batch = vec![first];
        let mut bytes = batch_bytes(&batch[0].op);
        while batch.len() < options.group_commit_jobs_max && bytes < options.group_commit_bytes_max
        {
            match rx.try_recv() {
                Ok(Msg::Job(job)) => {
                    bytes += batch_bytes(&job.op);
                    batch.push(job);
                }
                Ok(Msg::Stop) => {
                    stopping = true;
                    break;
                }
                Err(_) => break,
            }
        }
        let batch = full.admit(batch);
        if batch.is_empty() {
            continue;
        }
        let adds = batch.iter().any(|job| !only_removes(&job.op));
        match commit_batch(&db, batch) {
            Commit::Done => full.committed(adds),
            Commit::IoFailed => full.failed(),
            Commit::Failed => {}
        }
        commits.fetch_add(1, Ordering::Relaxed);
    }
    drop(db);
}

fn batch_bytes(op: &WriteOp) -> usize {
    match op {
        WriteOp::PutBlock { data, .. } => data.len(),
        WriteOp::Merge { siblings, .. } => {
            siblings.iter().map(|s| s.value.as_ref().map_or(0, Vec::len)).sum()
        }
        _ => 0,
    }
}

/// How a batch ended.
enum Commit {
    Done,
    /// An I/O error (a full disk, a failing device): the database had to be reopened.
    IoFailed,
    Failed,
}

/// Commits one batch; after an I/O failure, reopens the database (or tries to, on the next
/// batch, while that fails).
fn commit_batch(handle: &DbHandle, batch: Vec<Job>) -> Commit {
    let (ops, replies): (Vec<WriteOp>, Vec<_>) = batch.into_iter().map(|j| (j.op, j.reply)).unzip();
    let result = match handle.get() {
        Ok(db) => apply_batch(&db, ops),
        Err(_) => handle.reopen().and_then(|()| apply_batch(&*handle.get()?, ops)),
    };
    match result {
        Ok(outcomes) => {
            for (reply, outcome) in replies.into_iter().zip(outcomes) {
                // A dropped receiver means the caller gave up; the write is durable anyway.
                let _ = reply.send(outcome);
            }
            Commit::Done
        }
        Err(e) => {
            tracing::error!(error = %e, "group commit failed");
            let reason = format!("commit failed: {e}");
            for reply in replies {
                let _ = reply.send(Err(StoreError::Unavailable { reason: reason.clone() }));
            }
            if needs_reopen(&e)
                && let Err(e) = handle.reopen()
            {
                tracing::error!(error = %e, "cannot reopen the database yet; writes fail until it can");
            }
            std::thread::sleep(FAILURE_PAUSE);
            if needs_reopen(&e) { Commit::IoFailed } else { Commit::Failed }
        }
    }
}
