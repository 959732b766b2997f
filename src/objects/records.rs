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
/// `data_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extent {
    pub data_id: [u8; 16],
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum BodyLayout {
    /// Small bodies live in the record: one round trip, no blocks.
    Inline(Vec<u8>),
    /// Larger bodies are cut into blocks of `block_size` bytes, each on its own preference list.
    Blocks { block_size: u32, extents: Vec<Extent> },
}

impl BodyLayout {
    /// The data ids of the bodies whose blocks this layout uses.
    pub fn data_ids(&self) -> Vec<[u8; 16]> {
        match self {
            BodyLayout::Inline(_) => Vec::new(),
            BodyLayout::Blocks { extents, .. } => extents.iter().map(|e| e.data_id).collect(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredChecksum {
    pub algorithm: ChecksumAlgorithm,
    pub value: Vec<u8>,
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
}

/// Journal entry of a body being written: if the node crashes before the object record lands,
/// recovery deletes the body's blocks (unless a record does reference them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingBody {
    pub data_id: [u8; 16],
    pub bucket: String,
    pub key: String,
    pub started_ms: i64,
}

/// Journal key of a pending body.
pub fn pending_body_key(data_id: &[u8; 16]) -> Vec<u8> {
    let mut k = b"body/".to_vec();
    k.extend_from_slice(data_id);
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
            }),
            body: BodyLayout::Blocks {
                block_size: 4,
                extents: vec![Extent { data_id: [7; 16], size: 3 }],
            },
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
