//! Objects: PUT, GET/HEAD, DELETE and tag rewrites of one key.
//!
//! A PUT reads the current version first: its causal context makes the new version supersede
//! every sibling it saw, and its block list tells what to reclaim once the new version is
//! acknowledged. Blocks are durable before the record that points at them is written, so a
//! reader never finds a record whose blocks are missing. Superseded bodies go to the reclaim
//! queue (`reclaim`), which deletes a body only once no owner holds a version using it.

use super::acl::Acl;
use super::body::{self, ByteStream, TrailerSlot};
use super::checksum::{ChecksumAlgorithm, decode_checksum_value};
use super::crypto::{BodyCipher, Encryption, Scheme, SealedKey, SecretKey};
use super::reclaim::Reference;
use super::records::{
    self, ChecksumKind, ContentHeaders, OBJECTS, ObjectExtra, ObjectRecord, PendingBody, Retention,
    StoredChecksum, VersionId, Versioning, pending_body_key,
};
use super::versions::{Condition, DeleteOutcome, NULL_SLOT, VersionSel, live_object};
use super::{Error, ObjectService};
use crate::causality::Siblings;

/// The checksum a PUT asks for.
#[derive(Debug, Clone)]
pub struct ChecksumRequest {
    pub algorithm: ChecksumAlgorithm,
    pub expected: ExpectedChecksum,
}

/// Where the client's value of the checksum comes from.
#[derive(Debug, Clone)]
pub enum ExpectedChecksum {
    /// Compute and store it; nothing to compare with.
    Compute,
    /// Given in a header before the body.
    Value(Vec<u8>),
    /// Sent as an aws-chunked trailer named `header`, known once the body has ended.
    Trailer { header: String, slot: TrailerSlot },
}

/// A condition a write must meet (S3 conditional writes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteCondition {
    /// `If-None-Match`: `*`, only if no current version exists; an ETag, only if the current
    /// version (if any) has another.
    IfNoneMatch(String),
    /// `If-Match`: `*`, only if a current version exists; an ETag, only if the current version
    /// has it.
    IfMatch(String),
}

/// Whether the ETag a client sent (quoted or not, or `*`) names `etag`.
fn etag_matches(given: &str, etag: &str) -> bool {
    let given = given.trim();
    given == "*" || given.trim_matches('"') == etag
}

/// The conditions of a conditional delete (`If-Match`, `x-amz-if-match-last-modified-time`,
/// `x-amz-if-match-size`, or their DeleteObjects counterparts): all must hold for the
/// current version. A key with no current version is not an error: nothing is deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeleteCondition {
    pub etag: Option<String>,
    /// Compared in whole seconds, as HTTP dates carry them.
    pub last_modified_ms: Option<i64>,
    pub size: Option<u64>,
}

impl DeleteCondition {
    pub fn is_empty(&self) -> bool {
        self.etag.is_none() && self.last_modified_ms.is_none() && self.size.is_none()
    }

    /// `Ok(true)`: delete; `Ok(false)`: nothing to delete; `Err`: a condition failed.
    pub(super) fn check(&self, current: &Siblings) -> Result<bool, Error> {
        let Some(record) = live_object(current)? else { return Ok(false) };
        if self.holds_for(&record) { Ok(true) } else { Err(Error::PreconditionFailed) }
    }

    /// Whether every condition holds for the version `record`.
    pub(super) fn holds_for(&self, record: &ObjectRecord) -> bool {
        let etag_ok = self.etag.as_deref().is_none_or(|e| etag_matches(e, &record.etag));
        let time_ok = self
            .last_modified_ms
            .is_none_or(|t| t.div_euclid(1000) == record.last_modified_ms.div_euclid(1000));
        let size_ok = self.size.is_none_or(|s| s == record.size);
        etag_ok && time_ok && size_ok
    }
}

impl WriteCondition {
    /// Checks the condition against the current version; the write itself then happens only
    /// if nothing changed in between (compare-and-set).
    pub(super) fn check_current(&self, current: &Siblings) -> Result<(), Error> {
        self.check(current)
    }

    fn check(&self, current: &Siblings) -> Result<(), Error> {
        match (self, live_object(current)?) {
            (WriteCondition::IfNoneMatch(_), None) => Ok(()),
            (WriteCondition::IfNoneMatch(etag), Some(record)) => {
                if etag_matches(etag, &record.etag) {
                    Err(Error::PreconditionFailed)
                } else {
                    Ok(())
                }
            }
            (WriteCondition::IfMatch(_), None) => Err(Error::NoSuchKey),
            (WriteCondition::IfMatch(etag), Some(record)) => {
                if etag_matches(etag, &record.etag) {
                    Ok(())
                } else {
                    Err(Error::PreconditionFailed)
                }
            }
        }
    }
}

/// Where a write goes: the key, and the version it becomes.
pub(super) struct Target<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
    pub versioning: Versioning,
    /// Minted ahead in a versioning-enabled bucket; `None` otherwise.
    pub version: Option<VersionId>,
    pub lock: ObjectLock,
}

/// One key (or version) of a DeleteObjects request.
#[derive(Debug, Clone, Default)]
pub struct DeleteTarget {
    pub key: String,
    pub version: Option<VersionSel>,
    pub condition: DeleteCondition,
    /// `x-amz-bypass-governance-retention`, from a requester allowed to use it.
    pub bypass_governance: bool,
}

/// A PUT of a whole object (also what CopyObject writes).
pub struct PutObject {
    /// Only write if this holds (and still holds when the record is written).
    pub condition: Option<WriteCondition>,
    pub owner: String,
    /// The body's size when the client declared it; `None` when unknown.
    pub size_hint: Option<u64>,
    pub headers: ContentHeaders,
    pub user_metadata: Vec<(String, String)>,
    pub tags: Vec<(String, String)>,
    pub body: ByteStream,
    pub content_md5: Option<[u8; 16]>,
    pub checksum: Option<ChecksumRequest>,
    /// Object lock headers: they need a bucket with object lock enabled.
    pub lock: ObjectLock,
    /// The new version's ACL (`None`: private to its owner).
    pub acl: Option<Acl>,
    /// Server-side encryption asked for (`None`: the bucket's default, if any).
    pub encryption: Option<Encryption>,
}

/// The object lock a write asks for (`x-amz-object-lock-*`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ObjectLock {
    pub retention: Option<Retention>,
    pub legal_hold: bool,
}

impl ObjectLock {
    /// What a new version in `bucket` gets: what was asked, else the bucket's default
    /// retention. Asking on a bucket without object lock is an error.
    pub(super) fn for_new_version(
        self,
        bucket: &super::BucketInfo,
        now_ms: i64,
    ) -> Result<ObjectLock, Error> {
        let Some(config) = &bucket.object_lock else {
            return if self == ObjectLock::default() {
                Ok(self)
            } else {
                Err(Error::LockNotEnabled)
            };
        };
        if self.retention.is_some_and(|r| r.until_ms <= now_ms) {
            return Err(Error::MalformedRequest {
                what: "The retain until date must be in the future",
            });
        }
        let default = config.default_retention.map(|d| d.from(now_ms));
        Ok(ObjectLock { retention: self.retention.or(default), legal_hold: self.legal_hold })
    }
}

#[derive(Debug, Clone)]
pub struct PutOutcome {
    /// Hex MD5 (or multipart ETag), unquoted.
    pub etag: String,
    pub checksum: Option<StoredChecksum>,
    pub last_modified_ms: i64,
    /// The version written; `None` for the null version.
    pub version_id: Option<VersionId>,
    /// The version written is a delete marker.
    pub delete_marker: bool,
    /// How the version's body is encrypted at rest.
    pub encryption: Option<SealedKey>,
}

impl PutOutcome {
    /// What a client is told about the version `record` it wrote.
    pub(super) fn of(record: &ObjectRecord) -> Self {
        PutOutcome {
            etag: record.etag.clone(),
            checksum: record.checksum.clone(),
            last_modified_ms: record.last_modified_ms,
            version_id: record.version_id,
            delete_marker: record.delete_marker,
            encryption: record.extra.encryption.clone(),
        }
    }
}

/// One object version, as GET and HEAD see it.
#[derive(Debug, Clone)]
pub struct ObjectInfo {
    pub bucket: String,
    pub key: String,
    pub(super) record: ObjectRecord,
    /// The cipher of an encrypted body, once `ObjectService::unlock` checked the reader's key.
    cipher: Option<BodyCipher>,
}

impl ObjectInfo {
    pub(super) fn new(bucket: &str, key: &str, record: ObjectRecord) -> Self {
        ObjectInfo { bucket: bucket.to_owned(), key: key.to_owned(), record, cipher: None }
    }
    /// How the body is encrypted at rest, if it is.
    pub fn encryption(&self) -> Option<&SealedKey> {
        self.record.extra.encryption.as_ref()
    }
    pub fn size(&self) -> u64 {
        self.record.size
    }
    /// Hex MD5 (or multipart ETag), unquoted.
    pub fn etag(&self) -> &str {
        &self.record.etag
    }
    pub fn last_modified_ms(&self) -> i64 {
        self.record.last_modified_ms
    }
    pub fn headers(&self) -> &ContentHeaders {
        &self.record.headers
    }
    pub fn user_metadata(&self) -> &[(String, String)] {
        &self.record.user_metadata
    }
    pub fn checksum(&self) -> Option<&StoredChecksum> {
        self.record.checksum.as_ref()
    }
    pub fn owner(&self) -> &str {
        &self.record.owner
    }
    /// The version's ACL: what was set, else private to its owner.
    pub fn acl(&self) -> Acl {
        self.record.extra.acl.clone().unwrap_or_else(|| Acl::private(&self.record.owner))
    }
    pub fn tags(&self) -> &[(String, String)] {
        &self.record.tags
    }
    /// `None` for the null version.
    pub fn version_id(&self) -> Option<VersionId> {
        self.record.version_id
    }
    pub fn retention(&self) -> Option<Retention> {
        self.record.retention
    }
    pub fn legal_hold(&self) -> bool {
        self.record.legal_hold
    }
    /// Number of parts of a multipart object; 0 for a single PUT.
    pub fn part_count(&self) -> usize {
        self.record.parts.len()
    }
    /// Byte range `(start, end inclusive)` and checksum of part `n` (1-based) of a multipart
    /// object.
    pub fn part(&self, n: usize) -> Option<(u64, u64, Option<&[u8]>)> {
        let index = n.checked_sub(1)?;
        let part = self.record.parts.get(index)?;
        let start: u64 = self.record.parts[..index].iter().map(|p| p.size).sum();
        Some((start, (start + part.size).saturating_sub(1), part.checksum.as_deref()))
    }
}

impl ObjectService {
    /// Stores a whole object, replacing the current version.
    pub async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        put: PutObject,
    ) -> Result<PutOutcome, Error> {
        let info = self.bucket(bucket).await?;
        let versioning = info.versioning;
        let lock = put.lock.for_new_version(&info, self.now_ms())?;
        let item_key = records::object_key(bucket, key);
        let current = self.coordinator().get(OBJECTS, &item_key).await?;
        if let Some(condition) = &put.condition {
            condition.check(&current)?;
        }
        let data_id = self.random_bytes::<16>();
        // Minted before the body is written, so that the journal names the version whose
        // item may refer to the body if this node crashes.
        let version = (versioning == Versioning::Enabled).then(|| self.mint_version(self.now_ms()));
        let journaled =
            put.size_hint.is_none_or(|n| n > u64::from(self.inner.body.inline_max_bytes));
        if journaled {
            self.journal_body(data_id, bucket, key, None, version).await?;
        }
        let target = Target { bucket, key, versioning, version, lock };
        let encryption = put.encryption.clone().or_else(|| info.default_encryption());
        let sealing = encryption.map(|e| self.inner.keyring.new_data_key(&e)).transpose()?;
        let result = self.write_object(&target, put, data_id, &current, sealing).await;
        if journaled {
            self.clear_journal(data_id).await;
        }
        result
    }

    /// Records a body about to be written, so that a crash cannot orphan its blocks.
    pub(super) async fn journal_body(
        &self,
        data_id: [u8; 16],
        bucket: &str,
        key: &str,
        part: Option<(String, u32)>,
        version: Option<VersionId>,
    ) -> Result<(), Error> {
        let pending = PendingBody {
            data_id,
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            started_ms: self.now_ms(),
            part,
            version,
        };
        self.coordinator()
            .journal_put(pending_body_key(&data_id), records::encode(&pending))
            .await?;
        Ok(())
    }

    /// The body is now referenced by a record or deleted: nothing is left to recover. A failure
    /// here only leaves work for recovery, which checks references before deleting anything.
    pub(super) async fn clear_journal(&self, data_id: [u8; 16]) {
        if let Err(e) = self.coordinator().journal_delete(pending_body_key(&data_id)).await {
            tracing::warn!(error = %e, "cannot clear the journal entry of a finished write");
        }
    }

    async fn write_object(
        &self,
        target: &Target<'_>,
        put: PutObject,
        data_id: [u8; 16],
        current: &Siblings,
        sealing: Option<(SealedKey, BodyCipher)>,
    ) -> Result<PutOutcome, Error> {
        let algorithm = put.checksum.as_ref().map(|c| c.algorithm);
        let (encryption, cipher) = sealing.unzip();
        let written = body::write_body(
            self.coordinator(),
            put.body,
            data_id,
            self.inner.body,
            algorithm,
            cipher.as_ref(),
        )
        .await?;
        if let Err(e) = verify_digests(&written, put.content_md5, put.checksum.as_ref()) {
            self.coordinator().delete_blocks(&written.block_ids()).await;
            return Err(e);
        }
        let record = ObjectRecord {
            last_modified_ms: self.now_ms(),
            size: written.size,
            etag: hex::encode(written.md5),
            owner: put.owner,
            headers: put.headers,
            user_metadata: put.user_metadata,
            checksum: written.checksum.map(|(algorithm, value)| StoredChecksum {
                algorithm,
                value,
                kind: ChecksumKind::FullObject,
            }),
            body: written.layout,
            parts: Vec::new(),
            tags: put.tags,
            upload_id: None,
            version_id: target.version,
            delete_marker: false,
            retention: target.lock.retention,
            legal_hold: target.lock.legal_hold,
            extra: ObjectExtra { acl: put.acl, encryption },
        };
        let condition = put.condition.as_ref().map(Condition::Write);
        self.commit_record(target.bucket, target.versioning, target.key, record, current, condition)
            .await
    }

    /// The current version of an object.
    pub async fn head_object(&self, bucket: &str, key: &str) -> Result<ObjectInfo, Error> {
        self.object_version(bucket, key, None).await
    }

    /// Streams the whole body of a version found by `head_object` (see `open_object`); an
    /// empty body is an empty stream.
    pub async fn open_whole(&self, info: &ObjectInfo) -> Result<ByteStream, Error> {
        match info.size() {
            0 => Ok(Box::pin(futures_util::stream::empty())),
            size => self.open_object(info, 0, size - 1).await,
        }
    }

    /// Streams bytes `start..=end` of a version found by `head_object`, once its first piece is
    /// in hand: a body whose blocks cannot be read fails here, before any answer went out,
    /// never as a success cut short. A block that fails later ends the stream with an error
    /// (the front end then breaks the connection rather than finish the body); both are
    /// logged at ERROR with the key and the block.
    pub async fn open_object(
        &self,
        info: &ObjectInfo,
        start: u64,
        end: u64,
    ) -> Result<ByteStream, Error> {
        use futures_util::{StreamExt, TryStreamExt};
        let mut stream = self.read_object(info, start, end);
        let first = match stream.next().await {
            None => return Ok(Box::pin(futures_util::stream::empty())),
            Some(Ok(chunk)) => chunk,
            Some(Err(e)) => return Err(unreadable_body(&info.bucket, &info.key, e)),
        };
        let (bucket, key) = (info.bucket.clone(), info.key.clone());
        let rest = stream.inspect_err(move |e| {
            tracing::error!(%bucket, %key, error = %e, "a block of the object cannot be read; the response is cut short");
        });
        Ok(Box::pin(futures_util::stream::once(async move { Ok(first) }).chain(rest)))
    }

    /// Streams bytes `start..=end` of a version found by `head_object`. An encrypted body is
    /// decrypted: with the key `unlock` checked, or the node's own key (SSE-S3, SSE-KMS); an
    /// SSE-C body that was not unlocked fails rather than stream ciphertext.
    pub fn read_object(&self, info: &ObjectInfo, start: u64, end: u64) -> ByteStream {
        let cipher = match (&info.cipher, info.encryption()) {
            (Some(c), _) => Some(c.clone()),
            (None, None) => None,
            (None, Some(sealed)) => match self.inner.keyring.unlock(sealed, None) {
                Ok(c) => Some(c),
                Err(e) => {
                    let e = super::BodyError(Box::new(e));
                    return Box::pin(futures_util::stream::once(async move { Err(e) }));
                }
            },
        };
        body::read_body(
            self.coordinator(),
            &info.record.body,
            start,
            end,
            self.inner.body.window_blocks,
            cipher.as_ref(),
        )
    }

    /// Checks the encryption key a reader gave (`customer`: SSE-C) against the version, and
    /// makes its body readable. An SSE-C version needs its key (a wrong one is
    /// `WrongCustomerKey`); a customer key for any other version is a mismatch.
    pub fn unlock(&self, info: &mut ObjectInfo, customer: Option<&SecretKey>) -> Result<(), Error> {
        let sealed = match (info.encryption(), customer) {
            (None, None) => return Ok(()),
            (Some(s), _) if s.scheme == Scheme::Customer => s,
            (Some(s), None) => s,
            (_, Some(_)) => {
                return Err(Error::EncryptionMismatch {
                    what: "The encryption parameters are not applicable to this object.",
                });
            }
        };
        info.cipher = Some(self.inner.keyring.unlock(sealed, customer)?);
        Ok(())
    }

    /// Replaces the tags of a version (the current one for `None`), keeping everything else.
    pub async fn set_object_tags(
        &self,
        bucket: &str,
        key: &str,
        which: Option<VersionSel>,
        tags: Vec<(String, String)>,
    ) -> Result<ObjectInfo, Error> {
        self.rewrite_version(bucket, key, which, |r| r.tags = tags).await
    }

    /// Replaces the ACL of a version (the current one for `None`), keeping everything else.
    pub async fn set_object_acl(
        &self,
        bucket: &str,
        key: &str,
        which: Option<VersionSel>,
        acl: Acl,
    ) -> Result<ObjectInfo, Error> {
        self.rewrite_version(bucket, key, which, |r| r.extra.acl = Some(acl)).await
    }

    /// Deletes the current version; deleting a missing key succeeds, as in S3. In a versioned
    /// bucket this writes a delete marker.
    pub async fn delete_object(
        &self,
        bucket: &str,
        key: &str,
        owner: &str,
        condition: &DeleteCondition,
    ) -> Result<DeleteOutcome, Error> {
        let versioning = self.bucket(bucket).await?.versioning;
        self.delete_object_if(bucket, versioning, key, owner, condition).await
    }

    /// `delete_object_in`, or with conditions, decided by consensus among the key's owners;
    /// a delete marker in a versioned bucket.
    async fn delete_object_if(
        &self,
        bucket: &str,
        versioning: Versioning,
        key: &str,
        owner: &str,
        condition: &DeleteCondition,
    ) -> Result<DeleteOutcome, Error> {
        if versioning != Versioning::Unversioned {
            return self.write_delete_marker(bucket, versioning, key, owner, condition).await;
        }
        if condition.is_empty() {
            self.delete_object_in(bucket, key).await?;
            return Ok(DeleteOutcome::default());
        }
        let decided = self
            .decide_object(bucket, key, &[], |now| match condition.check(now) {
                Ok(true) => Ok(None),
                Ok(false) => Err(Error::NoSuchKey),
                Err(e) => Err(e),
            })
            .await;
        match decided {
            // Nothing to delete: a success, as S3 answers it.
            Ok(()) | Err(Error::NoSuchKey) => Ok(DeleteOutcome::default()),
            Err(e) => Err(e),
        }
    }

    /// Writes an object's item by consensus among its owners (`Coordinator::put_conditional`):
    /// `decide` sees the current versions and returns the value to write or a refusal. The
    /// versions the decision superseded go to the reclaim queue, except the bodies in `keep`.
    pub(super) async fn decide_object(
        &self,
        bucket: &str,
        key: &str,
        keep: &[[u8; 16]],
        mut decide: impl FnMut(&Siblings) -> Result<Option<Vec<u8>>, Error>,
    ) -> Result<(), Error> {
        let item_key = records::object_key(bucket, key);
        let mut read = Siblings::new();
        self.coordinator()
            .put_conditional(OBJECTS, &item_key, |now| {
                read = now.clone();
                decide(now)
            })
            .await??;
        self.reclaim(bucket, key, &read, keep).await;
        Ok(())
    }

    /// Deletes many keys (or versions) of one bucket (DeleteObjects), a few at a time; one
    /// result per key, in order.
    pub async fn delete_objects(
        &self,
        bucket: &str,
        owner: &str,
        keys: &[DeleteTarget],
    ) -> Result<Vec<Result<DeleteOutcome, Error>>, Error> {
        use futures_util::StreamExt;
        let versioning = self.bucket(bucket).await?.versioning;
        let results = futures_util::stream::iter(keys.iter().cloned())
            .map(|target| {
                let (this, bucket, owner) = (self.clone(), bucket.to_owned(), owner.to_owned());
                async move {
                    match target.version {
                        Some(sel) => {
                            let (key, condition) = (&target.key, &target.condition);
                            let bypass = target.bypass_governance;
                            this.delete_version(&bucket, key, sel, condition, bypass).await
                        }
                        None => {
                            this.delete_object_if(
                                &bucket,
                                versioning,
                                &target.key,
                                &owner,
                                &target.condition,
                            )
                            .await
                        }
                    }
                }
            })
            .buffered(16)
            .collect()
            .await;
        Ok(results)
    }

    /// `delete_object` for a bucket already known to exist. The tombstone is written even when
    /// the read found nothing: a sloppy quorum's read can miss a version that stand-ins
    /// acknowledged, and a delete that wrote nothing would be undone when that version is
    /// handed off. The tombstone, newer than it, wins then (last writer wins).
    async fn delete_object_in(&self, bucket: &str, key: &str) -> Result<(), Error> {
        let item_key = records::object_key(bucket, key);
        let current = self.coordinator().get(OBJECTS, &item_key).await?;
        self.coordinator().put(OBJECTS, &item_key, None, current.context()).await?;
        self.reclaim(bucket, key, &current, &[]).await;
        Ok(())
    }

    /// The writes the previous run of this node left unfinished: its journal as it is now.
    /// Read it before serving, so that the PUTs of this run are never mistaken for crashed ones.
    pub async fn interrupted_puts(&self) -> Result<InterruptedPuts, Error> {
        let entries = self.coordinator().journal_entries().await?;
        Ok(InterruptedPuts {
            entries: entries.into_iter().filter(|(k, _)| k.starts_with(b"body/")).collect(),
        })
    }

    /// Undoes the writes a crash of this node interrupted: every journaled body goes to the
    /// reclaim queue, which deletes it once no version refers to it (a PUT that crashed after
    /// its record landed keeps its body). Entries are removed from `puts` as they are settled,
    /// so a call that fails part-way can be retried. Returns how many bodies were queued.
    pub async fn recover_interrupted_puts(
        &self,
        puts: &mut InterruptedPuts,
    ) -> Result<usize, Error> {
        let mut recovered = 0;
        while let Some((journal_key, value)) = puts.entries.last() {
            let pending: PendingBody = records::decode(value)?;
            let mut references = Vec::new();
            if let Some(version) = pending.version {
                references.push(Reference::version(&pending.bucket, &pending.key, version.0));
            }
            if let Some((upload_id, part_number)) = &pending.part {
                references.push(Reference::upload_part(
                    &pending.bucket,
                    &pending.key,
                    upload_id,
                    *part_number,
                ));
            }
            references.push(Reference::object(&pending.bucket, &pending.key));
            self.defer_reclaim(&[pending.data_id], references).await;
            recovered += 1;
            self.coordinator().journal_delete(journal_key.clone()).await?;
            puts.entries.pop();
        }
        Ok(recovered)
    }

    /// Queues for reclamation the bodies of the null versions a successful write superseded
    /// on the head of `bucket/key`, except bodies in `keep` (still used by the new version).
    /// Other versions live on in their own items. A null version that moved to the null slot
    /// is found there by the queue's check, and kept.
    pub(super) async fn reclaim(
        &self,
        bucket: &str,
        key: &str,
        superseded: &Siblings,
        keep: &[[u8; 16]],
    ) {
        let mut ids = Vec::new();
        for sibling in superseded.iter() {
            if let Some(value) = &sibling.value {
                match records::decode::<ObjectRecord>(value) {
                    Ok(record) if record.version_id.is_none() => ids
                        .extend(record.body.data_ids().into_iter().filter(|id| !keep.contains(id))),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "cannot read superseded version"),
                }
            }
        }
        if !ids.is_empty() {
            let references =
                vec![Reference::object(bucket, key), Reference::version(bucket, key, NULL_SLOT)];
            self.defer_reclaim(&ids, references).await;
        }
    }
}

/// The error of a body whose first block cannot be read: lost on every replica (500) or out of
/// reach for now (503), logged at ERROR with the key and the block.
fn unreadable_body(bucket: &str, key: &str, e: super::BodyError) -> Error {
    tracing::error!(%bucket, %key, error = %e, "the body of the object cannot be read");
    match Error::from_body(e) {
        Error::Corrupt { what } => Error::Corrupt { what: format!("{bucket}/{key}: {what}") },
        other => other,
    }
}

pub(super) fn verify_digests(
    written: &body::WrittenBody,
    content_md5: Option<[u8; 16]>,
    checksum: Option<&ChecksumRequest>,
) -> Result<(), Error> {
    if content_md5.is_some_and(|md5| md5 != written.md5) {
        return Err(Error::BadDigest { what: "Content-MD5" });
    }
    let (Some(request), Some((_, computed))) = (checksum, &written.checksum) else {
        return Ok(());
    };
    let expected = match &request.expected {
        ExpectedChecksum::Compute => return Ok(()),
        ExpectedChecksum::Value(v) => v.clone(),
        ExpectedChecksum::Trailer { header, slot } => {
            let trailers = slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let value = trailers
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(header))
                .map(|(_, v)| v.clone());
            drop(trailers);
            match value.and_then(|v| decode_checksum_value(request.algorithm, v.trim())) {
                Some(v) => v,
                None => return Err(Error::BadDigest { what: "trailing checksum" }),
            }
        }
    };
    if &expected == computed { Ok(()) } else { Err(Error::BadDigest { what: "checksum" }) }
}

/// Journal entries of bodies a previous run of this node was writing when it stopped.
#[derive(Debug, Default)]
pub struct InterruptedPuts {
    entries: Vec<crate::store::JournalEntry>,
}

impl InterruptedPuts {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl std::fmt::Debug for PutObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PutObject").field("owner", &self.owner).finish_non_exhaustive()
    }
}
