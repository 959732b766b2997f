//! Disk space: what the database file holds, and giving freed space back to the file system.
//!
//! Deleting data frees redb pages, and the next writes reuse them, so a store whose data churns
//! stays the size of its peak. Shrinking the file means moving pages toward its start
//! (`Database::compact`), which needs the database to itself: `ringvault compact` does it on a
//! stopped node.

use std::path::Path;

use super::{Store, StoreError, redb_err};

/// How a store uses its space.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SpaceUsage {
    /// Pages in use, in bytes: what data and indexes take, fragmentation included.
    pub allocated_bytes: u64,
    /// Keys and values stored, in bytes.
    pub stored_bytes: u64,
    /// Bytes lost to fragmentation inside the allocated pages.
    pub fragmented_bytes: u64,
}

impl Store {
    /// What the database holds now. Takes the write lock for a moment (not for hot paths).
    pub fn space(&self) -> Result<SpaceUsage, StoreError> {
        let db = self.db.get()?;
        let txn = db.begin_write().map_err(redb_err)?;
        let stats = txn.stats().map_err(redb_err)?;
        txn.abort().map_err(redb_err)?;
        Ok(SpaceUsage {
            allocated_bytes: stats.allocated_pages() * stats.page_size() as u64,
            stored_bytes: stats.stored_bytes() + stats.metadata_bytes(),
            fragmented_bytes: stats.fragmented_bytes(),
        })
    }
}

/// The disk as a node sees it: what its files take, and the room left on their file system.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DiskUsage {
    /// Bytes the file system allocated to the database file and its disk reserve.
    pub used_bytes: u64,
    /// Bytes this node may still write on that file system.
    pub free_bytes: u64,
    /// The file system's size.
    pub total_bytes: u64,
}

impl Store {
    /// The disk figures of the database file (all zero for a store in memory, or where the
    /// file system does not answer).
    pub fn disk_usage(&self) -> DiskUsage {
        use std::os::unix::fs::MetadataExt;
        let Some(file) = &self.file else { return DiskUsage::default() };
        // Allocated blocks, not lengths: the reserve is allocated, the database may be sparse.
        let allocated = |path: &Path| std::fs::metadata(path).map_or(0, |m| m.blocks() * 512);
        let used_bytes = allocated(file) + allocated(&file.with_extension("reserve"));
        let (free_bytes, total_bytes) = room_beside(file).unwrap_or((0, 0));
        DiskUsage { used_bytes, free_bytes, total_bytes }
    }
}

/// `(free, total)` bytes of the file system that holds `file`: free as this process may use
/// it; `None` where the file system does not answer.
pub(super) fn room_beside(file: &Path) -> Option<(u64, u64)> {
    let dir = file.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let fs = rustix::fs::statvfs(dir).ok()?;
    Some((fs.f_bavail.saturating_mul(fs.f_frsize), fs.f_blocks.saturating_mul(fs.f_frsize)))
}

/// The database file's size before and after a compaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compaction {
    pub before_bytes: u64,
    pub after_bytes: u64,
}

/// Compacts the database file at `path`, which no process may have open: moves its pages to
/// the front and truncates the free space at its end.
pub fn compact_file(path: &Path) -> Result<Compaction, StoreError> {
    let before_bytes = std::fs::metadata(path)?.len();
    let mut db = redb::Database::open(path).map_err(redb_err)?;
    // Each round may free more room at the end; redb says when nothing moved.
    while db.compact().map_err(redb_err)? {}
    drop(db);
    Ok(Compaction { before_bytes, after_bytes: std::fs::metadata(path)?.len() })
}
