//! Object versions: writes, reads and deletes in versioned buckets.
//!
//! Two kinds of item hold an object's versions:
//! - the *head* (`OBJECTS`, one per key) holds the current version, or a delete marker, so that
//!   a GET, a listing and a conditional write read one item, as in an unversioned bucket;
//! - every version of a versioning-enabled write lives in `VERSIONS` under its own key,
//!   `object key, 0x00, version id`, written before the head points at it. The *null version*
//!   (the one version of an unversioned or suspended bucket) lives on the head while it is
//!   current, and in the null slot (`NULL_SLOT`, which sorts before every version of the key)
//!   once a newer version replaced it on the head.
//!
//! Concurrent writes to one key each write their own `VERSIONS` item, so none is dropped;
//! their heads become siblings, and the head's winner is the newest version by version id,
//! that is (timestamp, node id), not by the writes' own clocks: deleting the current version
//! concurrently with a new write can never leave an older version current.

use super::reclaim::Reference;
use super::records::{
    self, BodyLayout, OBJECTS, ObjectRecord, VERSIONS, VersionId, Versioning, sort_time,
};
use super::{DeleteCondition, Error, ObjectInfo, ObjectService, PutOutcome, WriteCondition};
use crate::causality::{Siblings, VectorClock};

/// The `VERSIONS` suffix of the null version once it is no longer current.
pub(super) const NULL_SLOT: [u8; 16] = [0; 16];

/// The versions scanned per round when looking for the newest one left.
const SCAN_BATCH: usize = 64;

/// How many times a delete re-checks the head it wrote against a concurrent delete.
const HEAD_ATTEMPTS: usize = 4;

/// Which version a request names with `versionId`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionSel {
    /// `versionId=null`.
    Null,
    Id(VersionId),
}

impl VersionSel {
    /// Parses a `versionId` parameter; anything but `null` or an id we issued is invalid.
    pub fn parse(text: &str) -> Result<Self, Error> {
        if text == "null" {
            return Ok(VersionSel::Null);
        }
        VersionId::parse(text).map(VersionSel::Id).ok_or(Error::InvalidVersionId)
    }

    pub(super) fn id(self) -> Option<VersionId> {
        match self {
            VersionSel::Null => None,
            VersionSel::Id(id) => Some(id),
        }
    }

    pub(super) fn suffix(self) -> [u8; 16] {
        self.id().map_or(NULL_SLOT, |id| id.0)
    }
}

/// What a DELETE did, for its `x-amz-version-id` and `x-amz-delete-marker` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeleteOutcome {
    /// The version deleted or the marker created; `None` with `versioned` is the null version.
    pub version_id: Option<VersionId>,
    /// The deletion created a delete marker, or removed one.
    pub delete_marker: bool,
    /// Whether the bucket is versioned (enabled or suspended): only then are versions shown.
    pub versioned: bool,
}

/// The condition a write must meet, checked against the head as consensus decides it.
#[derive(Clone, Copy)]
pub(super) enum Condition<'a> {
    Write(&'a WriteCondition),
    /// A conditional delete; a key with no current version is `NoSuchKey` (nothing to do).
    Delete(&'a DeleteCondition),
}

impl Condition<'_> {
    pub(super) fn check(self, head: &Siblings) -> Result<(), Error> {
        match self {
            Condition::Write(c) => c.check_current(head),
            Condition::Delete(c) => match c.check(head) {
                Ok(true) => Ok(()),
                Ok(false) => Err(Error::NoSuchKey),
                Err(e) => Err(e),
            },
        }
    }
}

/// What a version item's key adds to its object key: a zero byte and the version's suffix.
pub(super) const ITEM_TAIL: usize = 1 + NULL_SLOT.len();

/// The key of a version's item.
pub(super) fn version_key(bucket: &str, key: &str, suffix: &[u8; 16]) -> Vec<u8> {
    let mut k = records::object_key(bucket, key);
    k.push(0);
    k.extend_from_slice(suffix);
    k
}

/// Where a version sorts among its key's versions (smaller is newer); the null version sorts
/// by its write time, after versions of the same millisecond.
pub(super) fn sort_key(record: &ObjectRecord) -> [u8; 16] {
    match record.version_id {
        Some(id) => id.0,
        None => {
            let mut k = [0xff; 16];
            k[..8].copy_from_slice(&sort_time(record.last_modified_ms).to_be_bytes());
            k
        }
    }
}

/// The current version a head's siblings stand for (possibly a delete marker). Among versions
/// the newest wins; a head holding only null versions resolves last writer wins, tombstones
/// included, as unversioned objects always have.
pub(super) fn head_record(head: &Siblings) -> Result<Option<ObjectRecord>, Error> {
    let mut newest: Option<ObjectRecord> = None;
    for value in head.iter().filter_map(|s| s.value.as_deref()) {
        let record: ObjectRecord = records::decode(value)?;
        if record.version_id.is_some()
            && newest.as_ref().is_none_or(|n| sort_key(&record) < sort_key(n))
        {
            newest = Some(record);
        }
    }
    if newest.is_some() {
        return Ok(newest);
    }
    head.winner().and_then(|s| s.value.as_deref()).map(records::decode).transpose()
}

/// The current version, unless it is a delete marker.
pub(super) fn live_object(head: &Siblings) -> Result<Option<ObjectRecord>, Error> {
    Ok(head_record(head)?.filter(|r| !r.delete_marker))
}

/// The live record among a version item's siblings (it is written once, and only deleted).
pub(super) fn version_record(item: &Siblings) -> Result<Option<ObjectRecord>, Error> {
    item.winner().and_then(|s| s.value.as_deref()).map(records::decode).transpose()
}

impl ObjectService {
    pub(super) fn mint_version(&self, time_ms: i64) -> VersionId {
        let sequence = self.inner.minted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        VersionId::new(time_ms, self.coordinator().node_id(), sequence)
    }

    /// Writes `record` as the new current version of `bucket/key` (plain, or decided by
    /// consensus with a `condition`): in a versioning-enabled bucket as a new version, in an
    /// unversioned or suspended one as the null version. On failure its body goes to the
    /// reclaim queue, not straight to deletion: a write that missed its quorum may still have
    /// landed on an owner.
    pub(super) async fn commit_record(
        &self,
        bucket: &str,
        versioning: Versioning,
        key: &str,
        mut record: ObjectRecord,
        current: &Siblings,
        condition: Option<Condition<'_>>,
    ) -> Result<PutOutcome, Error> {
        let data_ids = record.body.data_ids();
        let mut references = vec![Reference::object(bucket, key)];
        let written = match versioning {
            Versioning::Enabled => {
                let id =
                    record.version_id.unwrap_or_else(|| self.mint_version(record.last_modified_ms));
                record.version_id = Some(id);
                references.push(Reference::version(bucket, key, id.0));
                self.commit_version(bucket, key, &record, current, condition).await
            }
            Versioning::Unversioned | Versioning::Suspended => {
                record.version_id = None;
                references.push(Reference::version(bucket, key, NULL_SLOT));
                let written = self.write_head(bucket, key, &record, current, condition).await;
                if written.is_ok() && versioning == Versioning::Suspended {
                    // The null version was replaced: the older one in the null slot goes.
                    self.drop_version_item(bucket, key, NULL_SLOT).await?;
                }
                written
            }
        };
        if let Err(e) = written {
            self.defer_reclaim(&data_ids, references).await;
            return Err(e);
        }
        Ok(PutOutcome::of(&record))
    }

    /// A new version: its own item first, then the head. A refused condition leaves no version.
    async fn commit_version(
        &self,
        bucket: &str,
        key: &str,
        record: &ObjectRecord,
        current: &Siblings,
        condition: Option<Condition<'_>>,
    ) -> Result<(), Error> {
        let Some(id) = record.version_id else {
            return Err(Error::Internal { what: "a new version without an id".into() });
        };
        let item = version_key(bucket, key, &id.0);
        let value = records::encode(record);
        self.coordinator().put(VERSIONS, &item, Some(value), VectorClock::default()).await?;
        let head = head_record(current)?;
        // A null version on the head moves to the null slot before the head moves on.
        if let Some(null) = head.as_ref().filter(|r| r.version_id.is_none()) {
            self.write_version_item(bucket, key, NULL_SLOT, null).await?;
        }
        // A newer version already current (a write whose id sorts first but whose head
        // landed before this one's read) stays current: this one is an older version.
        let newer_current = head.is_some_and(|h| sort_key(&h) < sort_key(record));
        if newer_current && condition.is_none() {
            return Ok(());
        }
        match self.write_head(bucket, key, record, current, condition).await {
            Ok(()) => self.settle_head(bucket, key, id).await,
            Err(e @ (Error::PreconditionFailed | Error::NoSuchKey)) => {
                // Refused: the version must not outlive the refusal.
                self.drop_version_item(bucket, key, id.0).await?;
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    /// Writes the head of `bucket/key`: a plain write after `current`, or by consensus.
    async fn write_head(
        &self,
        bucket: &str,
        key: &str,
        record: &ObjectRecord,
        current: &Siblings,
        condition: Option<Condition<'_>>,
    ) -> Result<(), Error> {
        let item_key = records::object_key(bucket, key);
        let value = Some(records::encode(record));
        match condition {
            None => {
                self.coordinator().put(OBJECTS, &item_key, value, current.context()).await?;
                self.reclaim(bucket, key, current, &record.body.data_ids()).await;
                Ok(())
            }
            Some(condition) => {
                let keep = record.body.data_ids();
                self.decide_object(bucket, key, &keep, |now| {
                    condition.check(now).map(|()| value.clone())
                })
                .await
            }
        }
    }

    /// Writes (or rewrites) the version item `suffix` of `bucket/key`.
    async fn write_version_item(
        &self,
        bucket: &str,
        key: &str,
        suffix: [u8; 16],
        record: &ObjectRecord,
    ) -> Result<(), Error> {
        let item = version_key(bucket, key, &suffix);
        let before = self.coordinator().get(VERSIONS, &item).await?;
        let value = Some(records::encode(record));
        self.coordinator().put(VERSIONS, &item, value, before.context()).await?;
        Ok(())
    }

    /// Deletes the version item `suffix` of `bucket/key` and queues its body for reclamation.
    /// Returns the record it held. The tombstone is written even when the read found nothing:
    /// a sloppy quorum's read can miss a version that stand-ins acknowledged, which would come
    /// back when handed off; the tombstone, its successor or concurrent and newer, wins then.
    async fn drop_version_item(
        &self,
        bucket: &str,
        key: &str,
        suffix: [u8; 16],
    ) -> Result<Option<ObjectRecord>, Error> {
        let item = version_key(bucket, key, &suffix);
        let before = self.coordinator().get(VERSIONS, &item).await?;
        if !before.is_empty() && before.iter().all(|s| s.value.is_none()) {
            return Ok(None);
        }
        self.coordinator().put(VERSIONS, &item, None, before.context()).await?;
        let mut ids = Vec::new();
        for value in before.iter().filter_map(|s| s.value.as_deref()) {
            ids.extend(records::decode::<ObjectRecord>(value)?.body.data_ids());
        }
        let references =
            vec![Reference::object(bucket, key), Reference::version(bucket, key, suffix)];
        self.defer_reclaim(&ids, references).await;
        version_record(&before)
    }

    /// The version `which` names (the current one for `None`), delete markers refused as S3
    /// refuses them: 404 for the current version, 405 for one named by id.
    pub async fn object_version(
        &self,
        bucket: &str,
        key: &str,
        which: Option<VersionSel>,
    ) -> Result<ObjectInfo, Error> {
        let found = match which {
            None => head_record(
                &self.coordinator().get(OBJECTS, &records::object_key(bucket, key)).await?,
            )?,
            Some(sel) => self.find_version(bucket, key, sel).await?,
        };
        let Some(record) = found else {
            // Tell a missing bucket from a missing key, as S3 does.
            self.bucket(bucket).await?;
            return Err(if which.is_some() { Error::NoSuchVersion } else { Error::NoSuchKey });
        };
        if record.delete_marker {
            return Err(Error::DeleteMarker {
                version_id: record.version_id,
                named: which.is_some(),
            });
        }
        Ok(ObjectInfo::new(bucket, key, record))
    }

    /// The record of the version `sel` of `bucket/key`, marker or not.
    async fn find_version(
        &self,
        bucket: &str,
        key: &str,
        sel: VersionSel,
    ) -> Result<Option<ObjectRecord>, Error> {
        if sel == VersionSel::Null {
            let head = self.coordinator().get(OBJECTS, &records::object_key(bucket, key)).await?;
            if let Some(record) = head_record(&head)?.filter(|r| r.version_id.is_none()) {
                return Ok(Some(record));
            }
        }
        Ok(self.version_item(bucket, key, sel).await?.filter(|r| r.version_id == sel.id()))
    }

    /// DELETE without a version id in a versioned bucket: a delete marker becomes the current
    /// version (a new version when versioning is enabled, the null version when suspended).
    pub(super) async fn write_delete_marker(
        &self,
        bucket: &str,
        versioning: Versioning,
        key: &str,
        owner: &str,
        condition: &DeleteCondition,
    ) -> Result<DeleteOutcome, Error> {
        let head = self.coordinator().get(OBJECTS, &records::object_key(bucket, key)).await?;
        let marker = ObjectRecord {
            last_modified_ms: self.now_ms(),
            size: 0,
            etag: String::new(),
            owner: owner.to_owned(),
            headers: Default::default(),
            user_metadata: Vec::new(),
            checksum: None,
            body: BodyLayout::Inline(Vec::new()),
            parts: Vec::new(),
            tags: Vec::new(),
            upload_id: None,
            version_id: None,
            delete_marker: true,
            retention: None,
            legal_hold: false,
            extra: Default::default(),
        };
        let condition = (!condition.is_empty()).then_some(Condition::Delete(condition));
        match self.commit_record(bucket, versioning, key, marker, &head, condition).await {
            Ok(outcome) => Ok(DeleteOutcome {
                version_id: outcome.version_id,
                delete_marker: true,
                versioned: true,
            }),
            // A conditional delete of a key with no current version deletes nothing.
            Err(Error::NoSuchKey) => Ok(DeleteOutcome { versioned: true, ..Default::default() }),
            Err(e) => Err(e),
        }
    }

    /// DELETE with a version id: removes that version for good (a delete marker too). When it
    /// was the current version, the newest one left becomes current. Deleting a version that
    /// does not exist succeeds, as in S3.
    /// With conditions, they are checked against that version (whose ETag, size and time never
    /// change); a version that does not exist is not an error either way.
    pub async fn delete_version(
        &self,
        bucket: &str,
        key: &str,
        sel: VersionSel,
        condition: &DeleteCondition,
        bypass_governance: bool,
    ) -> Result<DeleteOutcome, Error> {
        let info = self.bucket(bucket).await?;
        if !condition.is_empty()
            && let Some(record) = self.find_version(bucket, key, sel).await?
            && !condition.holds_for(&record)
        {
            return Err(Error::PreconditionFailed);
        }
        let mut removed = if info.object_lock.is_some() {
            self.drop_locked_version(bucket, key, sel, bypass_governance).await?
        } else {
            self.drop_version_item(bucket, key, sel.suffix()).await?
        };
        // The head is read after the item is gone: a write that made this version current
        // concurrently either shows here or finds the item gone itself (`settle_head`).
        if let Some((head, current)) = self.head_naming(bucket, key, sel).await? {
            if sel == VersionSel::Null {
                removed = Some(current);
            }
            self.replace_head(bucket, key, head, sel).await?;
        }
        Ok(DeleteOutcome {
            version_id: sel.id(),
            delete_marker: removed.is_some_and(|r| r.delete_marker),
            versioned: info.versioning != Versioning::Unversioned,
        })
    }

    /// `drop_version_item` in a bucket with object lock: decided by consensus on the item, so
    /// that no lock set concurrently is missed. The null version, while the head holds it, is
    /// checked there.
    async fn drop_locked_version(
        &self,
        bucket: &str,
        key: &str,
        sel: VersionSel,
        bypass: bool,
    ) -> Result<Option<ObjectRecord>, Error> {
        let now_ms = self.now_ms();
        if sel == VersionSel::Null
            && let Some((_, current)) = self.head_naming(bucket, key, sel).await?
        {
            super::lock::deletable(&current, now_ms, bypass)?;
        }
        let item = version_key(bucket, key, &sel.suffix());
        let mut removed = None;
        let decided = self
            .coordinator()
            .put_conditional(VERSIONS, &item, |now| {
                removed = version_record(now)?;
                if let Some(record) = &removed {
                    super::lock::deletable(record, now_ms, bypass)?;
                }
                Ok::<_, Error>(None)
            })
            .await?;
        decided?;
        if let Some(record) = &removed {
            let references =
                vec![Reference::object(bucket, key), Reference::version(bucket, key, sel.suffix())];
            self.defer_reclaim(&record.body.data_ids(), references).await;
        }
        Ok(removed)
    }

    /// The head of `bucket/key` and its current record, if that names version `sel`.
    async fn head_naming(
        &self,
        bucket: &str,
        key: &str,
        sel: VersionSel,
    ) -> Result<Option<(Siblings, ObjectRecord)>, Error> {
        let head = self.coordinator().get(OBJECTS, &records::object_key(bucket, key)).await?;
        Ok(head_record(&head)?.filter(|r| r.version_id == sel.id()).map(|r| (head, r)))
    }

    /// After the head was pointed at version `id`: if a concurrent DELETE removed that version
    /// meanwhile (and checked the head before this write landed), the newest version left
    /// becomes current, so that no head names a version that is gone.
    ///
    /// And if a newer version's head write was superseded by this one's (two writes through
    /// one owner with the same context: the owner's clock makes the later one a successor),
    /// the newest version is made current again.
    async fn settle_head(&self, bucket: &str, key: &str, id: VersionId) -> Result<(), Error> {
        let sel = VersionSel::Id(id);
        if self.version_item(bucket, key, sel).await?.is_none() {
            if let Some((head, _)) = self.head_naming(bucket, key, sel).await? {
                self.replace_head(bucket, key, head, sel).await?;
            }
            return Ok(());
        }
        let Some(newest) = self.newest_version(bucket, key, None).await? else { return Ok(()) };
        if newest.version_id == Some(id) {
            return Ok(());
        }
        let head_key = records::object_key(bucket, key);
        let head = self.coordinator().get(OBJECTS, &head_key).await?;
        if head_record(&head)?.is_none_or(|h| sort_key(&newest) < sort_key(&h)) {
            let value = Some(records::encode(&newest));
            self.coordinator().put(OBJECTS, &head_key, value, head.context()).await?;
        }
        Ok(())
    }

    /// Makes the newest version left (other than `removed`) the head of `bucket/key`, or
    /// deletes the head when none is left. A concurrent delete of that version may slip
    /// between the scan and the write: the write is checked and redone then.
    pub(super) async fn replace_head(
        &self,
        bucket: &str,
        key: &str,
        mut head: Siblings,
        removed: VersionSel,
    ) -> Result<Option<ObjectRecord>, Error> {
        let head_key = records::object_key(bucket, key);
        for _ in 0..HEAD_ATTEMPTS {
            let newest = self.newest_version(bucket, key, Some(removed)).await?;
            let value = newest.as_ref().map(records::encode);
            self.coordinator().put(OBJECTS, &head_key, value, head.context()).await?;
            if removed == VersionSel::Null {
                // The removed null version was the head: its body is garbage now.
                self.reclaim(bucket, key, &head, &[]).await;
            }
            let Some(newest) = newest else { return Ok(None) };
            let sel = newest.version_id.map_or(VersionSel::Null, VersionSel::Id);
            if self.version_item(bucket, key, sel).await?.is_some() {
                return Ok(Some(newest));
            }
            head = self.coordinator().get(OBJECTS, &head_key).await?;
        }
        Err(Error::Unavailable { what: "concurrent deletes of an object's versions" })
    }

    /// The record in the version item of `sel` (the null slot for the null version).
    pub(super) async fn version_item(
        &self,
        bucket: &str,
        key: &str,
        sel: VersionSel,
    ) -> Result<Option<ObjectRecord>, Error> {
        let item =
            self.coordinator().get(VERSIONS, &version_key(bucket, key, &sel.suffix())).await?;
        version_record(&item)
    }

    /// The newest version of `bucket/key` in `VERSIONS`, other than `removed` if given.
    async fn newest_version(
        &self,
        bucket: &str,
        key: &str,
        removed: Option<VersionSel>,
    ) -> Result<Option<ObjectRecord>, Error> {
        let mut null = None;
        let newest = self
            .find_in_versions(bucket, key, |suffix, record| {
                if suffix == NULL_SLOT {
                    if removed != Some(VersionSel::Null) {
                        null = Some(record.clone());
                    }
                    return false;
                }
                record.version_id.is_some() && removed.is_none_or(|r| record.version_id != r.id())
            })
            .await?;
        // The newest timed version; the null version wins if it is newer still.
        Ok(match (newest, null) {
            (Some(v), Some(n)) if sort_key(&n) < sort_key(&v) => Some(n),
            (Some(v), _) => Some(v),
            (None, n) => n,
        })
    }

    /// The version a multipart upload completed into, if its completion got that far.
    pub(super) async fn version_of_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<Option<VersionId>, Error> {
        let found = self
            .find_in_versions(bucket, key, |_, record| {
                record.upload_id.as_deref() == Some(upload_id)
            })
            .await?;
        Ok(found.and_then(|r| r.version_id))
    }

    /// The first live version of `bucket/key`, newest first (the null slot before all), that
    /// `wanted(suffix, record)` accepts.
    async fn find_in_versions(
        &self,
        bucket: &str,
        key: &str,
        mut wanted: impl FnMut(&[u8], &ObjectRecord) -> bool,
    ) -> Result<Option<ObjectRecord>, Error> {
        use std::ops::Bound;
        let group = version_key(bucket, key, &NULL_SLOT);
        let prefix = &group[..group.len() - NULL_SLOT.len()];
        let end =
            super::listing::prefix_successor(prefix).map_or(Bound::Unbounded, Bound::Excluded);
        let mut start = Bound::Included(group.clone());
        loop {
            let range = crate::coordinator::ScanRange { start, end: end.clone() };
            let items = self.coordinator().scan(VERSIONS, range, SCAN_BATCH).await?;
            let exhausted = items.len() < SCAN_BATCH;
            let Some(last) = items.last().map(|(k, _)| k.clone()) else { break };
            for (item_key, siblings) in items {
                let Some(record) = version_record(&siblings)? else { continue };
                if wanted(&item_key[prefix.len()..], &record) {
                    return Ok(Some(record));
                }
            }
            if exhausted {
                break;
            }
            start = Bound::Excluded(last);
        }
        Ok(None)
    }

    /// Rewrites version `which` (the current one for `None`) of `bucket/key` in place, where
    /// it is stored: its version item and, when it is current, the head. Tag changes do this;
    /// they create no version.
    pub(super) async fn rewrite_version(
        &self,
        bucket: &str,
        key: &str,
        which: Option<VersionSel>,
        change: impl FnOnce(&mut ObjectRecord),
    ) -> Result<ObjectInfo, Error> {
        let mut info = self.object_version(bucket, key, which).await?;
        change(&mut info.record);
        let head_key = records::object_key(bucket, key);
        let head = self.coordinator().get(OBJECTS, &head_key).await?;
        let current = head_record(&head)?;
        let sel = info.record.version_id.map_or(VersionSel::Null, VersionSel::Id);
        let is_current = current.as_ref().is_some_and(|r| r.version_id == sel.id());
        if sel != VersionSel::Null || !is_current {
            self.write_version_item(bucket, key, sel.suffix(), &info.record).await?;
        }
        if is_current {
            let value = Some(records::encode(&info.record));
            self.coordinator().put(OBJECTS, &head_key, value, head.context()).await?;
        }
        Ok(info)
    }
}
