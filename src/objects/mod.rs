//! S3 semantics on the replicated store: buckets, object versions, bodies cut into blocks,
//! listings and access keys.
//!
//! This layer never sees HTTP or XML, and never knows which node it runs on: everything goes
//! through the `Coordinator`. It is where concurrent siblings become one answer: the sibling with
//! the highest `(timestamp, writer)` wins (last writer wins, which is what S3 promises), and the
//! next write through here carries the merged context, superseding every sibling it saw.

pub mod acl;
mod body;
mod bucket;
pub mod checksum;
pub mod crypto;
mod error;
mod keys;
pub mod lifecycle;
mod listing;
mod lock;
mod multipart;
mod object;
mod reclaim;
mod records;
mod records_legacy;
mod version_listing;
mod versions;

use std::sync::{Arc, Mutex};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::causality::Siblings;
use crate::clock::SharedClock;
use crate::coordinator::Coordinator;

pub use body::{BodyOptions, ByteStream, TrailerSlot};
pub use bucket::{Access, BucketInfo};
pub use error::{BodyError, Error};
pub use keys::AccessKey;
pub use listing::{ListPage, ListQuery, ObjectSummary};
pub use multipart::{
    CompletePart, Completing, CreateUpload, PART_NUMBER_MAX, PartInfo, PartsPage, PutPart,
    UploadInfo, UploadsPage, UploadsQuery,
};
/// Largest object key S3 accepts, in bytes of UTF-8 (the S3 front end and the admin console
/// both refuse longer ones).
pub const KEY_LEN_MAX: usize = 1024;

pub use object::{
    ChecksumRequest, DeleteCondition, DeleteTarget, ExpectedChecksum, InterruptedPuts, ObjectInfo,
    ObjectLock, PutObject, PutOutcome, WriteCondition,
};
pub use reclaim::ReclaimPass;
pub use records::{
    BucketConfig, BucketGrant, ChecksumKind, ContentHeaders, CorsRule, DefaultEncryption,
    DefaultRetention, LockMode, ObjectLockConfig, ObjectOwnership, PublicAccessBlock, Retention,
    RetentionPeriod, RoutingRule, StoredChecksum, VersionId, Versioning, WebsiteConfig,
};
pub use version_listing::{VersionEntry, VersionsPage, VersionsQuery};
pub use versions::{DeleteOutcome, VersionSel};

/// The object store facade handed to the protocol layer.
#[derive(Debug, Clone)]
pub struct ObjectService {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    coordinator: Coordinator,
    clock: SharedClock,
    rng: Mutex<StdRng>,
    body: BodyOptions,
    /// Key-encryption keys for server-side encryption.
    keyring: crypto::Keyring,
    /// Bodies the reclaim queue deleted since start (by the background loop or on demand).
    reclaimed: std::sync::atomic::AtomicU64,
    /// Version ids minted since start: orders this node's versions within a millisecond.
    minted: std::sync::atomic::AtomicU32,
    /// Held by a reclaim pass: two passes at once (the background loop and one on demand)
    /// would check and delete the same entries twice.
    reclaiming: tokio::sync::Mutex<()>,
    /// Lifecycle passes on this node (`lifecycle_progress`).
    lifecycle: Mutex<lifecycle::LifecycleProgress>,
}

impl ObjectService {
    pub fn new(
        coordinator: Coordinator,
        clock: SharedClock,
        seed: u64,
        body: BodyOptions,
        keyring: crypto::Keyring,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                coordinator,
                clock,
                rng: Mutex::new(StdRng::seed_from_u64(seed)),
                body,
                keyring,
                reclaimed: std::sync::atomic::AtomicU64::new(0),
                minted: std::sync::atomic::AtomicU32::new(0),
                reclaiming: tokio::sync::Mutex::new(()),
                lifecycle: Mutex::new(lifecycle::LifecycleProgress::default()),
            }),
        }
    }

    /// The node's encryption keys (to check a KMS key id before a write begins).
    pub fn keyring(&self) -> &crypto::Keyring {
        &self.inner.keyring
    }

    fn coordinator(&self) -> &Coordinator {
        &self.inner.coordinator
    }

    fn now_ms(&self) -> i64 {
        self.inner.clock.now().timestamp_millis()
    }

    fn random_bytes<const N: usize>(&self) -> [u8; N] {
        let mut out = [0u8; N];
        self.inner.rng.lock().unwrap_or_else(std::sync::PoisonError::into_inner).fill(&mut out[..]);
        out
    }

    /// Random characters from `alphabet`, for generated identifiers.
    fn random_string(&self, alphabet: &[u8], len: usize) -> String {
        let mut rng = self.inner.rng.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        (0..len).map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())])).collect()
    }
}

/// The live value of an item, if its winning sibling is not a tombstone.
fn live_value(siblings: &Siblings) -> Option<&[u8]> {
    siblings.winner().and_then(|s| s.value.as_deref())
}

#[cfg(test)]
mod tests;
