//! Multipart uploads: an upload item, one item per part, and completion into one object version
//! whose body is the concatenation of the parts' extents (no data is copied).
//!
//! Upload state lives in replicated items, not in memory, so any node can take any part and a
//! restart loses nothing. The multipart ETag is the MD5 of the parts' binary MD5s, then `-N`.
//! Reference: <https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpuoverview.html>

use std::ops::Bound;

use md5::{Digest, Md5};

use super::acl::Acl;
use super::body::{self, BodyOptions, ByteStream};
use super::checksum::{self, ChecksumAlgorithm, combine_crc};
use super::crypto::{BodyCipher, Encryption, Scheme, SealedKey, SecretKey};
use super::listing::prefix_successor;
use super::object::{
    ChecksumRequest, ExpectedChecksum, ObjectLock, PutOutcome, WriteCondition, verify_digests,
};
use super::reclaim::Reference;
use super::records::{
    self, BodyLayout, ChecksumKind, ContentHeaders, Extent, OBJECTS, ObjectExtra, ObjectRecord,
    PARTS, PartRecord, PartSummary, StoredChecksum, UPLOADS, UploadRecord, Versioning,
};
use super::versions::Condition;
use super::{Error, ObjectService, live_value};
use crate::causality::Siblings;
use crate::coordinator::ScanRange;

/// Where a completion stands after its commit step.
pub(super) enum Completion {
    /// A retried completion: the upload made the current object already.
    AlreadyDone(PutOutcome),
    /// The object record is committed; the upload is still open.
    Committed {
        outcome: PutOutcome,
        upload_siblings: Siblings,
        stored: Vec<(PartRecord, Siblings)>,
        kept: Vec<[u8; 16]>,
    },
}

/// Highest part number S3 accepts.
pub const PART_NUMBER_MAX: u32 = 10_000;

/// What CreateMultipartUpload asks for.
#[derive(Debug, Clone, Default)]
pub struct CreateUpload {
    pub owner: String,
    pub headers: ContentHeaders,
    pub user_metadata: Vec<(String, String)>,
    pub tags: Vec<(String, String)>,
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
    pub checksum_full_object: bool,
    pub lock: ObjectLock,
    /// The completed version's ACL (`None`: private to its owner).
    pub acl: Option<Acl>,
    /// Server-side encryption asked for (`None`: the bucket's default, if any); every part is
    /// sealed with the one data key made here.
    pub encryption: Option<Encryption>,
}

/// What a CompleteMultipartUpload asks for.
#[derive(Debug, Clone, Copy)]
pub struct Completing<'a> {
    pub parts: &'a [CompletePart],
    /// Smallest size of every part but the last (S3's is 5 MiB).
    pub part_size_min: u64,
    pub condition: Option<&'a WriteCondition>,
    /// The client's checksum of the whole object, refused with BadDigest unless it is the
    /// object's: the algorithm and the value as a client writes it (base64, then `-N` for a
    /// composite checksum of N parts).
    pub checksum: Option<(ChecksumAlgorithm, &'a str)>,
}

/// An upload in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadInfo {
    pub upload_id: String,
    pub key: String,
    pub initiated_ms: i64,
    pub owner: String,
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
    pub checksum_full_object: bool,
    /// How the parts (and the completed object) are encrypted at rest.
    pub encryption: Option<SealedKey>,
}

impl From<UploadRecord> for UploadInfo {
    fn from(r: UploadRecord) -> Self {
        Self {
            upload_id: r.upload_id,
            key: r.key,
            initiated_ms: r.initiated_ms,
            owner: r.owner,
            checksum_algorithm: r.checksum_algorithm,
            checksum_full_object: r.checksum_full_object,
            encryption: r.extra.encryption,
        }
    }
}

/// One part's body.
pub struct PutPart {
    pub body: ByteStream,
    pub size_hint: Option<u64>,
    pub content_md5: Option<[u8; 16]>,
    pub checksum: Option<ChecksumRequest>,
    /// The SSE-C key, which every part of an upload made with one must give again.
    pub customer_key: Option<SecretKey>,
}

/// An uploaded part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartInfo {
    pub part_number: u32,
    pub last_modified_ms: i64,
    pub size: u64,
    /// Hex MD5, unquoted.
    pub etag: String,
    /// In the upload's checksum algorithm, when it has one.
    pub checksum: Option<Vec<u8>>,
    /// The upload's checksum algorithm (that of `checksum`).
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
    /// How the part is encrypted at rest: with the upload's data key.
    pub encryption: Option<SealedKey>,
}

impl PartInfo {
    fn of(r: PartRecord, upload: &UploadRecord) -> Self {
        Self {
            part_number: r.part_number,
            last_modified_ms: r.last_modified_ms,
            size: r.size,
            etag: r.etag,
            checksum: r.checksum,
            checksum_algorithm: upload.checksum_algorithm,
            encryption: upload.extra.encryption.clone(),
        }
    }
}

/// A part named in CompleteMultipartUpload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompletePart {
    pub part_number: u32,
    /// As the client sent it (quotes allowed).
    pub etag: String,
    /// A part checksum the client sent, in the upload's algorithm.
    pub checksum: Option<Vec<u8>>,
}

/// A page of ListParts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartsPage {
    pub upload: UploadInfo,
    pub parts: Vec<PartInfo>,
    pub is_truncated: bool,
    pub next_part_number_marker: Option<u32>,
}

/// What ListMultipartUploads asks for.
#[derive(Debug, Clone, Default)]
pub struct UploadsQuery {
    pub prefix: String,
    pub delimiter: Option<String>,
    pub key_marker: Option<String>,
    pub upload_id_marker: Option<String>,
    pub max_uploads: usize,
}

/// A page of ListMultipartUploads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UploadsPage {
    pub uploads: Vec<UploadInfo>,
    pub common_prefixes: Vec<String>,
    pub is_truncated: bool,
    pub next_key_marker: Option<String>,
    pub next_upload_id_marker: Option<String>,
}

const UPLOAD_ID_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

impl ObjectService {
    pub async fn create_multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        create: CreateUpload,
    ) -> Result<(String, Option<SealedKey>), Error> {
        let info = self.bucket(bucket).await?;
        let now = self.now_ms();
        let lock = create.lock.for_new_version(&info, now)?;
        let encryption = create.encryption.or_else(|| info.default_encryption());
        let sealed = match encryption {
            Some(e) => Some(self.inner.keyring.new_data_key(&e)?.0),
            None => None,
        };
        // Time first, so that ids of one key sort in the order the uploads began.
        let upload_id = format!("{now:012x}{}", self.random_string(UPLOAD_ID_ALPHABET, 24));
        let record = UploadRecord {
            upload_id: upload_id.clone(),
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            initiated_ms: now,
            owner: create.owner,
            headers: create.headers,
            user_metadata: create.user_metadata,
            tags: create.tags,
            checksum_algorithm: create.checksum_algorithm,
            checksum_full_object: create.checksum_full_object,
            retention: lock.retention,
            legal_hold: lock.legal_hold,
            extra: ObjectExtra { acl: create.acl, encryption: sealed.clone() },
        };
        let item_key = records::upload_key(bucket, key, &upload_id);
        self.coordinator()
            .put(UPLOADS, &item_key, Some(records::encode(&record)), Default::default())
            .await?;
        Ok((upload_id, sealed))
    }

    async fn upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<(UploadRecord, Siblings), Error> {
        let current =
            self.coordinator().get(UPLOADS, &records::upload_key(bucket, key, upload_id)).await?;
        match live_value(&current) {
            Some(v) => Ok((records::decode(v)?, current)),
            None => {
                self.bucket(bucket).await?;
                Err(Error::NoSuchUpload)
            }
        }
    }

    /// The upload, for checks before a part is sent (its checksum algorithm).
    pub async fn upload_info(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<UploadInfo, Error> {
        Ok(self.upload(bucket, key, upload_id).await?.0.into())
    }

    /// Stores one part, replacing an earlier part with the same number.
    pub async fn upload_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: u32,
        part: PutPart,
    ) -> Result<PartInfo, Error> {
        let (upload, _) = self.upload(bucket, key, upload_id).await?;
        let sealed = upload.extra.encryption.as_ref();
        let cipher = self.part_cipher(sealed, part.customer_key.as_ref())?;
        let data_id = self.random_bytes::<16>();
        let journaled = Some((upload_id.to_owned(), part_number));
        self.journal_body(data_id, bucket, key, journaled, None).await?;
        let result = self.write_part(&upload, part_number, part, data_id, cipher).await;
        self.clear_journal(data_id).await;
        result
    }

    async fn write_part(
        &self,
        upload: &UploadRecord,
        part_number: u32,
        part: PutPart,
        data_id: [u8; 16],
        cipher: Option<BodyCipher>,
    ) -> Result<PartInfo, Error> {
        // A part's checksum is in the upload's algorithm; a part may also carry its own.
        let checksum_request = part.checksum.clone().or_else(|| {
            upload
                .checksum_algorithm
                .map(|algorithm| ChecksumRequest { algorithm, expected: ExpectedChecksum::Compute })
        });
        // Parts are always blocks, so that completion can concatenate them.
        let options = BodyOptions { inline_max_bytes: 0, ..self.inner.body };
        let algorithm = checksum_request.as_ref().map(|c| c.algorithm);
        let written = body::write_body(
            self.coordinator(),
            part.body,
            data_id,
            options,
            algorithm,
            cipher.as_ref(),
        )
        .await?;
        if let Err(e) = verify_digests(&written, part.content_md5, checksum_request.as_ref()) {
            self.coordinator().delete_blocks(&written.block_ids()).await;
            return Err(e);
        }
        let extent = match &written.layout {
            BodyLayout::Blocks { extents } if extents.len() == 1 => extents[0].clone(),
            _ => Extent { data_id, size: 0, block_size: self.inner.body.block_size },
        };
        let stored_checksum = match (&written.checksum, upload.checksum_algorithm) {
            (Some((algorithm, value)), Some(upload_algorithm))
                if *algorithm == upload_algorithm =>
            {
                Some(value.clone())
            }
            _ => None,
        };
        let record = PartRecord {
            part_number,
            last_modified_ms: self.now_ms(),
            size: written.size,
            etag: hex::encode(written.md5),
            extent,
            checksum: stored_checksum,
        };
        let part_key = records::part_key(&upload.upload_id, part_number);
        let previous = self.coordinator().get(PARTS, &part_key).await?;
        let references = vec![Reference::upload_part(
            &upload.bucket,
            &upload.key,
            &upload.upload_id,
            part_number,
        )];
        if let Err(e) = self
            .coordinator()
            .put(PARTS, &part_key, Some(records::encode(&record)), previous.context())
            .await
        {
            // The record may have landed on an owner that then spreads it: let the reclaim
            // queue decide once every owner answers.
            self.defer_reclaim(&[data_id], references).await;
            return Err(e.into());
        }
        self.reclaim_parts(&previous, &[data_id], references).await;
        Ok(PartInfo::of(record, upload))
    }

    /// The cipher a part of `upload` is sealed with: the upload's data key, unwrapped with the
    /// SSE-C key the part gave when the upload was made with one (S3 asks every part for it).
    fn part_cipher(
        &self,
        sealed: Option<&SealedKey>,
        customer_key: Option<&SecretKey>,
    ) -> Result<Option<BodyCipher>, Error> {
        let Some(sealed) = sealed else {
            return match customer_key {
                None => Ok(None),
                Some(_) => Err(Error::EncryptionMismatch {
                    what: "The multipart upload was not created with a customer-provided key.",
                }),
            };
        };
        let customer = if sealed.scheme == Scheme::Customer { customer_key } else { None };
        match self.inner.keyring.unlock(sealed, customer) {
            Ok(cipher) => Ok(Some(cipher)),
            Err(Error::CustomerKeyRequired) => Err(Error::EncryptionMismatch {
                what: "The multipart upload was created with a customer-provided key: every part must give it.",
            }),
            Err(Error::WrongCustomerKey) => Err(Error::EncryptionMismatch {
                what: "The customer-provided key does not match the one the multipart upload was created with.",
            }),
            Err(e) => Err(e),
        }
    }

    /// Checks the SSE-C key a request about an upload gave (CompleteMultipartUpload): the one
    /// the upload was made with, or none for an upload made without one.
    pub fn check_upload_key(
        &self,
        sealed: Option<&SealedKey>,
        customer_key: Option<&SecretKey>,
    ) -> Result<(), Error> {
        self.part_cipher(sealed, customer_key).map(drop)
    }

    /// Queues the bodies of superseded part versions for reclamation, except bodies in `keep`;
    /// `references` are the items that may still refer to them.
    async fn reclaim_parts(
        &self,
        superseded: &Siblings,
        keep: &[[u8; 16]],
        references: Vec<Reference>,
    ) {
        let ids: Vec<[u8; 16]> = superseded
            .iter()
            .filter_map(|s| s.value.as_deref())
            .filter_map(|v| records::decode::<PartRecord>(v).ok())
            .map(|part| part.extent.data_id)
            .filter(|id| !keep.contains(id))
            .collect();
        if !ids.is_empty() {
            self.defer_reclaim(&ids, references).await;
        }
    }

    /// Every part of an upload, in part-number order, with each part's siblings.
    async fn all_parts(&self, upload_id: &str) -> Result<Vec<(PartRecord, Siblings)>, Error> {
        let mut start = Bound::Included(records::part_key(upload_id, 0));
        let mut end_key = upload_id.as_bytes().to_vec();
        end_key.push(1);
        let mut out = Vec::new();
        loop {
            let range = ScanRange { start: start.clone(), end: Bound::Excluded(end_key.clone()) };
            let items = self.coordinator().scan(PARTS, range, 1000).await?;
            let Some((last, _)) = items.last() else { break };
            start = Bound::Excluded(last.clone());
            let full = items.len() == 1000;
            for (_, siblings) in items {
                if let Some(v) = live_value(&siblings) {
                    out.push((records::decode::<PartRecord>(v)?, siblings));
                }
            }
            if !full {
                break;
            }
        }
        Ok(out)
    }

    pub async fn list_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number_marker: u32,
        max_parts: usize,
    ) -> Result<PartsPage, Error> {
        let (upload, _) = self.upload(bucket, key, upload_id).await?;
        let mut parts: Vec<PartInfo> = self
            .all_parts(upload_id)
            .await?
            .into_iter()
            .map(|(p, _)| PartInfo::of(p, &upload))
            .filter(|p| p.part_number > part_number_marker)
            .collect();
        let is_truncated = parts.len() > max_parts;
        parts.truncate(max_parts);
        let next_part_number_marker = parts.last().map(|p| p.part_number);
        Ok(PartsPage { upload: upload.into(), parts, is_truncated, next_part_number_marker })
    }

    /// Completes an upload into one object version.
    pub async fn complete_multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        requested: &[CompletePart],
        part_size_min: u64,
        condition: Option<&WriteCondition>,
    ) -> Result<PutOutcome, Error> {
        let completing = Completing { parts: requested, part_size_min, condition, checksum: None };
        self.complete_upload(bucket, key, upload_id, completing).await
    }

    /// Completes an upload as `completing` asks.
    pub async fn complete_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        completing: Completing<'_>,
    ) -> Result<PutOutcome, Error> {
        let committed = self.commit_completion(bucket, key, upload_id, completing).await?;
        let (outcome, upload_siblings, stored, kept) = match committed {
            Completion::AlreadyDone(outcome) => return Ok(outcome),
            Completion::Committed { outcome, upload_siblings, stored, kept } => {
                (outcome, upload_siblings, stored, kept)
            }
        };
        // The object is committed: the upload and its parts are now only bookkeeping. Should
        // this stop here (a crash), the upload stays open: a retried completion commits the
        // same parts again, and an abort finds them referenced by the object.
        self.drop_upload(bucket, key, upload_id, &upload_siblings, &stored, &kept).await?;
        Ok(outcome)
    }

    /// The first half of a completion: checks the parts and commits the object record, leaving
    /// the upload open (tests stop here to see what a crash at this point leaves).
    pub(super) async fn commit_completion(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        completing: Completing<'_>,
    ) -> Result<Completion, Error> {
        let Completing { parts: requested, part_size_min, condition, checksum: expected } =
            completing;
        let started = self.inner.clock.monotonic();
        let (upload, upload_siblings) = match self.upload(bucket, key, upload_id).await {
            Ok(found) => found,
            Err(Error::NoSuchUpload) => {
                return Ok(Completion::AlreadyDone(
                    self.completed_by(bucket, key, upload_id).await?,
                ));
            }
            Err(e) => return Err(e),
        };
        if requested.is_empty() {
            return Err(Error::MalformedRequest { what: "You must specify at least one part" });
        }
        if requested.windows(2).any(|w| w[0].part_number >= w[1].part_number) {
            return Err(Error::InvalidPartOrder);
        }
        let stored = self.all_parts(upload_id).await?;
        let mut chosen = Vec::with_capacity(requested.len());
        for (i, want) in requested.iter().enumerate() {
            let Some((part, _)) = stored.iter().find(|(p, _)| p.part_number == want.part_number)
            else {
                return Err(Error::InvalidPart { part_number: want.part_number });
            };
            if want.etag.trim().trim_matches('"') != part.etag {
                return Err(Error::InvalidPart { part_number: want.part_number });
            }
            if want.checksum.as_ref().is_some_and(|c| Some(c) != part.checksum.as_ref()) {
                return Err(Error::InvalidPart { part_number: want.part_number });
            }
            if i + 1 < requested.len() && part.size < part_size_min {
                return Err(Error::EntityTooSmall {
                    part_number: part.part_number,
                    size: part.size,
                    min: part_size_min,
                });
            }
            chosen.push(part.clone());
        }
        let mut record = assemble(&upload, &chosen, self.now_ms())?;
        if let Some((algorithm, given)) = expected {
            let holds = record.checksum.as_ref().is_some_and(|c| {
                let value = checksum::encode_checksum_value(&c.value);
                let text = match c.kind {
                    ChecksumKind::FullObject => value,
                    ChecksumKind::Composite { parts } => format!("{value}-{parts}"),
                };
                c.algorithm == algorithm && text == given.trim()
            });
            if !holds {
                return Err(Error::BadDigest { what: "checksum of the whole object" });
            }
        }
        let versioning = self.bucket(bucket).await?.versioning;
        if versioning == Versioning::Enabled {
            // A completion retried after a crash reuses the version it wrote, if it got that far.
            record.version_id = self.version_of_upload(bucket, key, upload_id).await?;
        }
        let item_key = records::object_key(bucket, key);
        let current = self.coordinator().get(OBJECTS, &item_key).await?;
        if let Some(condition) = condition {
            condition.check_current(&current)?;
        }
        // An abort that raced this completion queued the parts for reclamation; the queue's
        // check comes a whole grace period later and must find this record.
        if !self.within_commit_deadline(started) {
            return Err(Error::Unavailable { what: "the completion took too long" });
        }
        let kept = record.body.data_ids();
        let condition = condition.map(Condition::Write);
        let outcome =
            self.commit_record(bucket, versioning, key, record, &current, condition).await?;
        Ok(Completion::Committed { outcome, upload_siblings, stored, kept })
    }

    /// A completion retried after it succeeded (a client that timed out waiting) gets the same
    /// answer, as long as the object is still the version that upload created.
    async fn completed_by(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<PutOutcome, Error> {
        let info = self.head_object(bucket, key).await.map_err(|e| match e {
            Error::NoSuchKey | Error::DeleteMarker { .. } => Error::NoSuchUpload,
            other => other,
        })?;
        if info.record.upload_id.as_deref() != Some(upload_id) {
            return Err(Error::NoSuchUpload);
        }
        Ok(PutOutcome::of(&info.record))
    }

    /// Abandons an upload and reclaims its parts. Aborting an upload that was already aborted
    /// or completed succeeds (S3 answers a retried abort with 204, too); the parts of a
    /// completed upload are never reclaimed while the object uses them.
    pub async fn abort_multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<(), Error> {
        let current =
            self.coordinator().get(UPLOADS, &records::upload_key(bucket, key, upload_id)).await?;
        if live_value(&current).is_none() {
            self.bucket(bucket).await?;
            // A tombstone: the upload existed and was closed.
            return if current.is_empty() { Err(Error::NoSuchUpload) } else { Ok(()) };
        }
        let parts = self.all_parts(upload_id).await?;
        self.drop_upload(bucket, key, upload_id, &current, &parts, &[]).await
    }

    /// Closes an upload: queues the parts' bodies for reclamation (except those in `keep`, which
    /// a completed object now uses), then tombstones the upload record, then every part
    /// record. Each prefix of these steps is safe: while the upload is open, the reclaim
    /// queue counts its parts as references (a retry finishes the job), and once it is closed
    /// only an object that uses a body keeps it.
    async fn drop_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        upload_siblings: &Siblings,
        parts: &[(PartRecord, Siblings)],
        keep: &[[u8; 16]],
    ) -> Result<(), Error> {
        for (part, siblings) in parts {
            let references = vec![
                Reference::upload_part(bucket, key, upload_id, part.part_number),
                Reference::object(bucket, key),
            ];
            self.reclaim_parts(siblings, keep, references).await;
        }
        let upload_key = records::upload_key(bucket, key, upload_id);
        self.coordinator().put(UPLOADS, &upload_key, None, upload_siblings.context()).await?;
        for (part, siblings) in parts {
            let part_key = records::part_key(upload_id, part.part_number);
            self.coordinator().put(PARTS, &part_key, None, siblings.context()).await?;
        }
        Ok(())
    }

    pub async fn list_multipart_uploads(
        &self,
        bucket: &str,
        query: &UploadsQuery,
    ) -> Result<UploadsPage, Error> {
        self.bucket(bucket).await?;
        let mut page = UploadsPage::default();
        if query.max_uploads == 0 {
            return Ok(page);
        }
        let bucket_start = records::object_key(bucket, "");
        let full_prefix = records::object_key(bucket, &query.prefix);
        let end = prefix_successor(&full_prefix).map_or(Bound::Unbounded, Bound::Excluded);
        let mut start = match (&query.key_marker, &query.upload_id_marker) {
            (Some(k), Some(u)) if k.as_str() >= query.prefix.as_str() => {
                Bound::Excluded(records::upload_key(bucket, k, u))
            }
            // Without an upload-id marker, every upload of the marker key is skipped.
            (Some(k), None) if k.as_str() >= query.prefix.as_str() => {
                let mut after_key = records::object_key(bucket, k);
                after_key.push(1);
                Bound::Included(after_key)
            }
            _ => Bound::Included(full_prefix),
        };
        let delimiter = query.delimiter.as_deref().filter(|d| !d.is_empty());
        let mut count = 0;
        'scan: loop {
            let range = ScanRange { start: start.clone(), end: end.clone() };
            let items = self.coordinator().scan(UPLOADS, range, 1000).await?;
            let full = items.len() == 1000;
            let Some((last, _)) = items.last().map(|(k, s)| (k.clone(), s.clone())) else { break };
            for (item_key, siblings) in items {
                let Some(value) = live_value(&siblings) else { continue };
                let upload: UploadRecord = records::decode(value)?;
                let _ = &item_key[bucket_start.len()..];
                if let Some(d) = delimiter
                    && let Some(at) = upload.key[query.prefix.len()..].find(d)
                {
                    let prefix = upload.key[..query.prefix.len() + at + d.len()].to_owned();
                    if query.key_marker.as_deref().is_none_or(|m| prefix.as_str() > m) {
                        if count == query.max_uploads {
                            page.is_truncated = true;
                            break 'scan;
                        }
                        count += 1;
                        page.next_key_marker = Some(prefix.clone());
                        page.next_upload_id_marker = None;
                        page.common_prefixes.push(prefix.clone());
                    }
                    match prefix_successor(&records::object_key(bucket, &prefix)) {
                        Some(next) => start = Bound::Included(next),
                        None => break 'scan,
                    }
                    continue 'scan;
                }
                if count == query.max_uploads {
                    page.is_truncated = true;
                    break 'scan;
                }
                count += 1;
                page.next_key_marker = Some(upload.key.clone());
                page.next_upload_id_marker = Some(upload.upload_id.clone());
                page.uploads.push(upload.into());
            }
            if !full {
                break;
            }
            start = Bound::Excluded(last);
        }
        Ok(page)
    }
}

/// The object record a completion creates from the chosen parts.
fn assemble(
    upload: &UploadRecord,
    parts: &[PartRecord],
    now_ms: i64,
) -> Result<ObjectRecord, Error> {
    let mut md5s = Md5::new();
    for part in parts {
        let raw =
            hex::decode(&part.etag).map_err(|_| Error::Corrupt { what: "part ETag".into() })?;
        md5s.update(&raw);
    }
    let count = u32::try_from(parts.len()).unwrap_or(u32::MAX);
    let etag = format!("{}-{count}", hex::encode(md5s.finalize()));
    let checksum = match upload.checksum_algorithm {
        None => None,
        Some(algorithm) => {
            let sums: Option<Vec<&Vec<u8>>> = parts.iter().map(|p| p.checksum.as_ref()).collect();
            let sums = sums.ok_or(Error::Corrupt { what: "part without its checksum".into() })?;
            if upload.checksum_full_object {
                let mut combined = checksum::checksum(algorithm, b"");
                for (part, sum) in parts.iter().zip(&sums) {
                    combined = combine_crc(algorithm, &combined, sum, part.size).ok_or(
                        Error::Corrupt {
                            what: "full-object checksum of a non-CRC algorithm".into(),
                        },
                    )?;
                }
                Some(StoredChecksum { algorithm, value: combined, kind: ChecksumKind::FullObject })
            } else {
                let concatenated: Vec<u8> = sums.iter().flat_map(|s| s.iter().copied()).collect();
                Some(StoredChecksum {
                    algorithm,
                    value: checksum::checksum(algorithm, &concatenated),
                    kind: ChecksumKind::Composite { parts: count },
                })
            }
        }
    };
    Ok(ObjectRecord {
        last_modified_ms: now_ms,
        size: parts.iter().map(|p| p.size).sum(),
        etag,
        owner: upload.owner.clone(),
        headers: upload.headers.clone(),
        user_metadata: upload.user_metadata.clone(),
        checksum,
        body: BodyLayout::Blocks {
            extents: parts.iter().filter(|p| p.size > 0).map(|p| p.extent.clone()).collect(),
        },
        parts: parts
            .iter()
            .map(|p| PartSummary { size: p.size, checksum: p.checksum.clone() })
            .collect(),
        tags: upload.tags.clone(),
        upload_id: Some(upload.upload_id.clone()),
        version_id: None,
        delete_marker: false,
        retention: upload.retention,
        legal_hold: upload.legal_hold,
        extra: upload.extra.clone(),
    })
}
