//! The records the objects layer stores as replicated items, and their encoding.
//!
//! Item tables and keys:
//! - `BUCKETS`: bucket name -> `BucketRecord`
//! - `OBJECTS`: bucket name, 0x00, object key -> `ObjectRecord` (bucket names never contain
//!   0x00, so one bucket's objects are one contiguous, key-ordered range)
//! - `ACCESS_KEYS`: access key id -> `AccessKeyRecord`
//!
//! Every value starts with `RECORD_VERSION`, so that a later layout can still read older ones.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::store::TableId;

use super::checksum::ChecksumAlgorithm;
use super::error::Error;

pub const BUCKETS: TableId = TableId(1);
pub const OBJECTS: TableId = TableId(2);
pub const ACCESS_KEYS: TableId = TableId(3);
/// Multipart uploads in progress: bucket, 0x00, key, 0x00, upload id -> `UploadRecord`.
pub const UPLOADS: TableId = TableId(4);
/// Parts of uploads: upload id, 0x00, part number (u32 BE) -> `PartRecord`.
pub const PARTS: TableId = TableId(5);

const RECORD_VERSION: u8 = 1;

pub fn encode<T: Serialize>(record: &T) -> Vec<u8> {
    let mut out = vec![RECORD_VERSION];
    // Serialising plain structs into a Vec cannot fail.
    out.extend(postcard::to_allocvec(record).unwrap_or_default());
    out
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    match bytes.split_first() {
        Some((&RECORD_VERSION, body)) => {
            postcard::from_bytes(body).map_err(|e| Error::Corrupt { what: format!("record: {e}") })
        }
        _ => Err(Error::Corrupt { what: "record with unknown version".into() }),
    }
}

/// The item key of an object.
pub fn object_key(bucket: &str, key: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(bucket.len() + key.len() + 1);
    k.extend_from_slice(bucket.as_bytes());
    k.push(0);
    k.extend_from_slice(key.as_bytes());
    k
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketRecord {
    pub name: String,
    pub created_ms: i64,
    /// Access key id of the creator.
    pub owner: String,
    /// The region given as LocationConstraint (empty for us-east-1).
    pub location: String,
    /// Keys other than the owner that may read and/or write.
    pub grants: Vec<BucketGrant>,
    /// Bucket tags (PutBucketTagging).
    pub tags: Vec<(String, String)>,
}

/// Access given to a key on a bucket it does not own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketGrant {
    pub access_key_id: String,
    pub read: bool,
    pub write: bool,
}

/// Standard content headers stored with an object and returned on GET/HEAD.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentHeaders {
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub content_disposition: Option<String>,
    pub content_language: Option<String>,
    pub cache_control: Option<String>,
    pub expires: Option<String>,
}

/// A run of blocks holding consecutive bytes of a body: blocks `0..ceil(size/block_size)` of
/// `data_id`. A multipart object is the concatenation of its parts' extents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extent {
    pub data_id: [u8; 16],
    pub size: u64,
    pub block_size: u32,
}

impl Extent {
    pub fn block_count(&self) -> u32 {
        u32::try_from(self.size.div_ceil(u64::from(self.block_size.max(1)))).unwrap_or(u32::MAX)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum BodyLayout {
    /// Small bodies live in the record: one round trip, no blocks.
    Inline(Vec<u8>),
    /// Larger bodies are cut into blocks, each on its own preference list.
    Blocks { extents: Vec<Extent> },
}

impl BodyLayout {
    /// The data ids of the bodies whose blocks this layout uses.
    pub fn data_ids(&self) -> Vec<[u8; 16]> {
        match self {
            BodyLayout::Inline(_) => Vec::new(),
            BodyLayout::Blocks { extents } => extents.iter().map(|e| e.data_id).collect(),
        }
    }
}

/// Whether a checksum covers the object's bytes, or is a checksum of its parts' checksums.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChecksumKind {
    FullObject,
    /// Over the concatenated part checksums; shown as `<base64>-<part count>`.
    Composite {
        parts: u32,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredChecksum {
    pub algorithm: ChecksumAlgorithm,
    pub value: Vec<u8>,
    pub kind: ChecksumKind,
}

/// One part of a completed multipart object, for GET/HEAD with `partNumber`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartSummary {
    pub size: u64,
    /// The part's own checksum, when the upload had an algorithm.
    pub checksum: Option<Vec<u8>>,
}

/// One version of an object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRecord {
    pub last_modified_ms: i64,
    pub size: u64,
    /// Hex MD5 of the body (no quotes).
    pub etag: String,
    pub owner: String,
    pub headers: ContentHeaders,
    /// `x-amz-meta-*` pairs, names lower-cased and without the prefix.
    pub user_metadata: Vec<(String, String)>,
    pub checksum: Option<StoredChecksum>,
    pub body: BodyLayout,
    /// Parts of a multipart object, in order; empty for a single PUT.
    pub parts: Vec<PartSummary>,
    /// Object tags.
    pub tags: Vec<(String, String)>,
    /// The multipart upload this version completed, if any (a retried completion finds it).
    pub upload_id: Option<String>,
}

/// Journal entry of a body being written: if the node crashes before the object record lands,
/// recovery deletes the body's blocks (unless a record does reference them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingBody {
    pub data_id: [u8; 16],
    pub bucket: String,
    pub key: String,
    pub started_ms: i64,
    /// For a multipart part: the upload and part number whose record will reference it.
    pub part: Option<(String, u32)>,
}

/// Journal key of a pending body.
pub fn pending_body_key(data_id: &[u8; 16]) -> Vec<u8> {
    let mut k = b"body/".to_vec();
    k.extend_from_slice(data_id);
    k
}

/// A multipart upload in progress: what the object will be, once completed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadRecord {
    pub upload_id: String,
    pub bucket: String,
    pub key: String,
    pub initiated_ms: i64,
    pub owner: String,
    pub headers: ContentHeaders,
    pub user_metadata: Vec<(String, String)>,
    pub tags: Vec<(String, String)>,
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
    /// Requested with `x-amz-checksum-type`; composite when absent, as S3 defaults.
    pub checksum_full_object: bool,
}

/// One uploaded part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartRecord {
    pub part_number: u32,
    pub last_modified_ms: i64,
    pub size: u64,
    /// Hex MD5 of the part, unquoted.
    pub etag: String,
    pub extent: Extent,
    pub checksum: Option<Vec<u8>>,
}

/// The item key of an upload.
pub fn upload_key(bucket: &str, key: &str, upload_id: &str) -> Vec<u8> {
    let mut k = object_key(bucket, key);
    k.push(0);
    k.extend_from_slice(upload_id.as_bytes());
    k
}

/// The item key of a part.
pub fn part_key(upload_id: &str, part_number: u32) -> Vec<u8> {
    let mut k = upload_id.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(&part_number.to_be_bytes());
    k
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessKeyRecord {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub name: String,
    pub created_ms: i64,
    pub allow_create_bucket: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let r = ObjectRecord {
            last_modified_ms: 1,
            size: 3,
            etag: "abc".into(),
            owner: "me".into(),
            headers: ContentHeaders {
                content_type: Some("text/plain".into()),
                ..Default::default()
            },
            user_metadata: vec![("k".into(), "v".into())],
            checksum: Some(StoredChecksum {
                algorithm: ChecksumAlgorithm::Crc32,
                value: vec![1, 2, 3, 4],
                kind: ChecksumKind::FullObject,
            }),
            body: BodyLayout::Blocks {
                extents: vec![Extent { data_id: [7; 16], size: 3, block_size: 4 }],
            },
            parts: Vec::new(),
            tags: vec![("t".into(), "v".into())],
            upload_id: None,
        };
        assert_eq!(decode::<ObjectRecord>(&encode(&r)).unwrap(), r);
        assert!(decode::<ObjectRecord>(&[9, 9]).is_err());
    }

    #[test]
    fn one_buckets_objects_sort_together_and_before_longer_bucket_names() {
        let a = object_key("b", "zzz");
        let b = object_key("b-longer", "a");
        assert!(a < b, "bucket 'b' keys must not interleave with bucket 'b-longer'");
    }
}
