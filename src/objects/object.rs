//! Objects: PUT, GET/HEAD and DELETE of one key.
//!
//! A PUT reads the current version first: its causal context makes the new version supersede
//! every sibling it saw, and its block list tells what to reclaim once the new version is
//! acknowledged. Blocks are durable before the record that points at them is written, so a
//! reader never finds a record whose blocks are missing.

use super::body::{self, ByteStream, TrailerSlot};
use super::checksum::{ChecksumAlgorithm, decode_checksum_value};
use super::records::{
    self, ContentHeaders, OBJECTS, ObjectRecord, PendingBody, StoredChecksum, pending_body_key,
};
use super::{Error, ObjectService, live_value};
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

/// A PUT of a whole object.
pub struct PutObject {
    pub owner: String,
    /// The body's size when the client declared it; `None` when unknown.
    pub size_hint: Option<u64>,
    pub headers: ContentHeaders,
    pub user_metadata: Vec<(String, String)>,
    pub body: ByteStream,
    pub content_md5: Option<[u8; 16]>,
    pub checksum: Option<ChecksumRequest>,
}

#[derive(Debug, Clone)]
pub struct PutOutcome {
    /// Hex MD5, unquoted.
    pub etag: String,
    pub checksum: Option<StoredChecksum>,
    pub last_modified_ms: i64,
}

/// One object version, as GET and HEAD see it.
#[derive(Debug, Clone)]
pub struct ObjectInfo {
    pub bucket: String,
    pub key: String,
    record: ObjectRecord,
}

impl ObjectInfo {
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
}

impl ObjectService {
    /// Stores a whole object, replacing the current version.
    pub async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        put: PutObject,
    ) -> Result<PutOutcome, Error> {
        self.bucket(bucket).await?;
        let item_key = records::object_key(bucket, key);
        let current = self.coordinator().get(OBJECTS, &item_key).await?;
        let data_id = self.random_bytes::<16>();
        let journaled =
            put.size_hint.is_none_or(|n| n > u64::from(self.inner.body.inline_max_bytes));
        if journaled {
            let pending = PendingBody {
                data_id,
                bucket: bucket.to_owned(),
                key: key.to_owned(),
                started_ms: self.now_ms(),
            };
            self.coordinator()
                .journal_put(pending_body_key(&data_id), records::encode(&pending))
                .await?;
        }
        let result = self.write_object(bucket, key, put, data_id, &current).await;
        if journaled {
            // The body is either referenced by the record or already deleted: either way
            // there is nothing left to recover. A failure here only leaves work for recovery.
            if let Err(e) = self.coordinator().journal_delete(pending_body_key(&data_id)).await {
                tracing::warn!(error = %e, "cannot clear the journal entry of a finished PUT");
            }
        }
        let outcome = result?;
        self.reclaim(&current).await;
        Ok(outcome)
    }

    async fn write_object(
        &self,
        bucket: &str,
        key: &str,
        put: PutObject,
        data_id: [u8; 16],
        current: &Siblings,
    ) -> Result<PutOutcome, Error> {
        let item_key = records::object_key(bucket, key);
        let algorithm = put.checksum.as_ref().map(|c| c.algorithm);
        let written =
            body::write_body(self.coordinator(), put.body, data_id, self.inner.body, algorithm)
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
            checksum: written
                .checksum
                .map(|(algorithm, value)| StoredChecksum { algorithm, value }),
            body: written.layout,
        };
        let outcome = PutOutcome {
            etag: record.etag.clone(),
            checksum: record.checksum.clone(),
            last_modified_ms: record.last_modified_ms,
        };
        let block_ids = body::layout_block_ids(&record.body);
        let put = self
            .coordinator()
            .put(OBJECTS, &item_key, Some(records::encode(&record)), current.context())
            .await;
        if let Err(e) = put {
            self.coordinator().delete_blocks(&block_ids).await;
            return Err(e.into());
        }
        Ok(outcome)
    }

    /// The current version of an object.
    pub async fn head_object(&self, bucket: &str, key: &str) -> Result<ObjectInfo, Error> {
        let current = self.coordinator().get(OBJECTS, &records::object_key(bucket, key)).await?;
        match live_value(&current) {
            Some(value) => Ok(ObjectInfo {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
                record: records::decode(value)?,
            }),
            None => {
                // Tell a missing bucket from a missing key, as S3 does.
                self.bucket(bucket).await?;
                Err(Error::NoSuchKey)
            }
        }
    }

    /// Streams bytes `start..=end` of a version found by `head_object`.
    pub fn read_object(&self, info: &ObjectInfo, start: u64, end: u64) -> ByteStream {
        body::read_body(
            self.coordinator(),
            &info.record.body,
            start,
            end,
            self.inner.body.window_blocks,
        )
    }

    /// Deletes the current version; deleting a missing key succeeds, as in S3.
    pub async fn delete_object(&self, bucket: &str, key: &str) -> Result<(), Error> {
        self.bucket(bucket).await?;
        let item_key = records::object_key(bucket, key);
        let current = self.coordinator().get(OBJECTS, &item_key).await?;
        if current.iter().all(|s| s.is_tombstone()) {
            return Ok(());
        }
        self.coordinator().put(OBJECTS, &item_key, None, current.context()).await?;
        self.reclaim(&current).await;
        Ok(())
    }

    /// Undoes the PUTs a crash of this node interrupted: the blocks of every journaled body that
    /// no object record references are deleted. Run at start-up, before serving.
    pub async fn recover_interrupted_puts(&self) -> Result<usize, Error> {
        let mut recovered = 0;
        for (journal_key, value) in self.coordinator().journal_entries().await? {
            if !journal_key.starts_with(b"body/") {
                continue;
            }
            let pending: PendingBody = records::decode(&value)?;
            let current = self
                .coordinator()
                .get(OBJECTS, &records::object_key(&pending.bucket, &pending.key))
                .await?;
            let referenced = current.iter().filter_map(|s| s.value.as_deref()).any(|v| {
                records::decode::<ObjectRecord>(v)
                    .is_ok_and(|r| r.body.data_ids().contains(&pending.data_id))
            });
            if !referenced {
                self.coordinator().delete_body(pending.data_id).await;
                recovered += 1;
            }
            self.coordinator().journal_delete(journal_key).await?;
        }
        Ok(recovered)
    }

    /// Deletes the blocks of versions that a successful write superseded.
    async fn reclaim(&self, superseded: &Siblings) {
        let mut ids = Vec::new();
        for sibling in superseded.iter() {
            if let Some(value) = &sibling.value {
                match records::decode::<ObjectRecord>(value) {
                    Ok(record) => ids.extend(body::layout_block_ids(&record.body)),
                    Err(e) => tracing::warn!(error = %e, "cannot read superseded version"),
                }
            }
        }
        if !ids.is_empty() {
            self.coordinator().delete_blocks(&ids).await;
        }
    }
}

fn verify_digests(
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

impl std::fmt::Debug for PutObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PutObject").field("owner", &self.owner).finish_non_exhaustive()
    }
}
