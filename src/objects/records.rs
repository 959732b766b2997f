//! The records the objects layer stores as replicated items, and their encoding.
//!
//! Item tables and keys:
//! - `BUCKETS`: bucket name -> `BucketRecord`
//! - `OBJECTS`: bucket name, 0x00, object key -> `ObjectRecord` (bucket names never contain
//!   0x00, so one bucket's objects are one contiguous, key-ordered range)
//! - `ACCESS_KEYS`: access key id -> `AccessKeyRecord`
//!
//! - `VERSIONS`: object item key, 0x00, 16-byte version sort key -> `ObjectRecord` (every
//!   version of a versioned object; see `versions`)
//!
//! Every value starts with `RECORD_VERSION`, so that a later layout can still read older ones:
//! version 1 records (before versioning) are read through `Record::decode_v1`, version 2 ones
//! (before access control) through `Record::decode_v2`. What buckets and objects gained since
//! (`BucketConfig`, `ObjectExtra`) is a JSON document inside the record whose fields all have
//! defaults: adding a bucket sub-resource or an object attribute needs no new record version,
//! and a node that does not know a field yet keeps reading the record.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::store::TableId;

use super::acl::Acl;
use super::checksum::ChecksumAlgorithm;
use super::error::Error;

pub const BUCKETS: TableId = TableId(1);
pub const OBJECTS: TableId = TableId(2);
pub const ACCESS_KEYS: TableId = TableId(3);
/// Multipart uploads in progress: bucket, 0x00, key, 0x00, upload id -> `UploadRecord`.
pub const UPLOADS: TableId = TableId(4);
/// Parts of uploads: upload id, 0x00, part number (u32 BE) -> `PartRecord`.
pub const PARTS: TableId = TableId(5);

/// Every version of every object of versioned buckets, placed like any item (by its whole key).
pub const VERSIONS: TableId = TableId(6);

/// 2: object records carry a version id and a delete-marker flag, buckets their versioning
/// state, pending bodies the version they will become.
/// 3: buckets carry a `BucketConfig`, objects and uploads an `ObjectExtra`.
const RECORD_VERSION: u8 = 3;

/// A value stored in an item or the journal.
pub trait Record: Serialize + DeserializeOwned {
    /// Reads a body written with record version 1; the same layout unless the type changed.
    fn decode_v1(body: &[u8]) -> Result<Self, postcard::Error> {
        postcard::from_bytes(body)
    }

    /// Reads a body written with record version 2; the same layout unless the type changed.
    fn decode_v2(body: &[u8]) -> Result<Self, postcard::Error> {
        postcard::from_bytes(body)
    }
}

pub fn encode<T: Record>(record: &T) -> Vec<u8> {
    let mut out = vec![RECORD_VERSION];
    // Serialising plain structs into a Vec cannot fail.
    out.extend(postcard::to_allocvec(record).unwrap_or_default());
    out
}

pub fn decode<T: Record>(bytes: &[u8]) -> Result<T, Error> {
    let decoded = match bytes.split_first() {
        Some((&RECORD_VERSION, body)) => postcard::from_bytes(body),
        Some((2, body)) => T::decode_v2(body),
        Some((1, body)) => T::decode_v1(body),
        _ => return Err(Error::Corrupt { what: "record with unknown version".into() }),
    };
    decoded.map_err(|e| Error::Corrupt { what: format!("record: {e}") })
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
    pub versioning: Versioning,
    /// Object lock, once enabled (it cannot be disabled).
    pub object_lock: Option<ObjectLockConfig>,
    #[serde(with = "json_document")]
    pub config: BucketConfig,
}

/// A bucket's sub-resources that have no field of their own above (see the module
/// documentation: stored as JSON, every field optional).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BucketConfig {
    /// The bucket's ACL; `None` is private to the owner.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acl: Option<Acl>,
    /// The bucket policy, as the owner wrote it (validated when written).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ownership: Option<ObjectOwnership>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_access_block: Option<PublicAccessBlock>,
    /// PutBucketCors: which browser origins may do what.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cors: Option<Vec<CorsRule>>,
    /// PutBucketLifecycleConfiguration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<Vec<super::lifecycle::LifecycleRule>>,
    /// PutBucketWebsite: how the website endpoint serves the bucket.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub website: Option<WebsiteConfig>,
    /// PutBucketEncryption: what a write that asks for no encryption gets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption: Option<DefaultEncryption>,
}

/// A bucket's default encryption.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefaultEncryption {
    /// `None`: SSE-S3 (`AES256`); `Some`: SSE-KMS with this key id (`""`: the default key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    /// `BucketKeyEnabled`, kept and shown (every object has its own data key anyway).
    #[serde(default)]
    pub bucket_key_enabled: bool,
}

impl DefaultEncryption {
    /// The encryption a write without its own gets.
    pub fn request(&self) -> super::crypto::Encryption {
        match &self.kms_key_id {
            None => super::crypto::Encryption::Managed,
            Some(id) => {
                super::crypto::Encryption::Kms { key_id: (!id.is_empty()).then(|| id.clone()) }
            }
        }
    }
}

/// A bucket's static website configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct WebsiteConfig {
    /// Appended to keys ending in `/` (and to the empty key).
    pub index_suffix: Option<String>,
    /// The object served, with the error's status, when a request fails.
    pub error_key: Option<String>,
    /// Every request goes elsewhere: `(host, protocol)`.
    pub redirect_all: Option<(String, Option<String>)>,
    pub routing_rules: Vec<RoutingRule>,
}

/// One RoutingRule: when its condition holds, redirect.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RoutingRule {
    pub key_prefix_equals: Option<String>,
    pub http_error_code_returned_equals: Option<u16>,
    pub host_name: Option<String>,
    pub protocol: Option<String>,
    pub replace_key_prefix_with: Option<String>,
    pub replace_key_with: Option<String>,
    pub http_redirect_code: Option<u16>,
}

/// One rule of a bucket's CORS configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CorsRule {
    pub id: Option<String>,
    /// Origins, each with at most one `*`.
    pub allowed_origins: Vec<String>,
    /// GET, PUT, POST, DELETE, HEAD.
    pub allowed_methods: Vec<String>,
    /// Request headers a preflight may ask for, each with at most one `*`.
    pub allowed_headers: Vec<String>,
    /// Response headers scripts may read.
    pub expose_headers: Vec<String>,
    pub max_age_seconds: Option<u32>,
}

/// PutBucketOwnershipControls: who owns objects others write, and whether ACLs apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ObjectOwnership {
    /// ACLs are disabled; the bucket owner owns every object.
    BucketOwnerEnforced,
    /// Objects written with `bucket-owner-full-control` belong to the bucket owner.
    BucketOwnerPreferred,
    /// The writer owns what it writes.
    ObjectWriter,
}

/// PutPublicAccessBlock at bucket level.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PublicAccessBlock {
    /// Refuse requests that set a public ACL.
    pub block_public_acls: bool,
    /// Public grants in ACLs count for nothing.
    pub ignore_public_acls: bool,
    /// Refuse a bucket policy that grants public access.
    pub block_public_policy: bool,
    /// A public policy grants only the bucket owner's own principals.
    pub restrict_public_buckets: bool,
}

/// What object versions and uploads gained after record version 2 (stored as JSON).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ObjectExtra {
    /// The version's ACL; `None` is private to its owner.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acl: Option<Acl>,
    /// How the body is encrypted at rest; `None`: it is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<super::crypto::SealedKey>,
}

/// Serde adapter: a value stored as a JSON string inside a postcard record.
mod json_document {
    use serde::de::{DeserializeOwned, Error as _};
    use serde::ser::Error as _;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<T: Serialize, S: Serializer>(value: &T, ser: S) -> Result<S::Ok, S::Error> {
        let text = serde_json::to_string(value).map_err(S::Error::custom)?;
        ser.serialize_str(&text)
    }

    pub fn deserialize<'de, T: DeserializeOwned, D: Deserializer<'de>>(
        de: D,
    ) -> Result<T, D::Error> {
        let text = String::deserialize(de)?;
        serde_json::from_str(&text).map_err(D::Error::custom)
    }
}

/// A bucket's object lock configuration (PutObjectLockConfiguration).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectLockConfig {
    /// Applied to every new version that names no retention of its own.
    pub default_retention: Option<DefaultRetention>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefaultRetention {
    pub mode: LockMode,
    pub period: RetentionPeriod,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RetentionPeriod {
    Days(u32),
    Years(u32),
}

impl DefaultRetention {
    /// The retention a version written at `now_ms` gets.
    pub fn from(&self, now_ms: i64) -> Retention {
        const DAY_MS: i64 = 86_400_000;
        let days = match self.period {
            RetentionPeriod::Days(d) => i64::from(d),
            RetentionPeriod::Years(y) => i64::from(y) * 365,
        };
        Retention { mode: self.mode, until_ms: now_ms.saturating_add(days * DAY_MS) }
    }
}

/// How strictly a retention protects a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LockMode {
    /// The bucket owner may shorten, remove or override it (x-amz-bypass-governance-retention).
    Governance,
    /// Nobody may shorten or remove it, or delete the version, before it ends.
    Compliance,
}

/// A version's retention: no deletion before `until_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    pub mode: LockMode,
    pub until_ms: i64,
}

/// A bucket's versioning state (PutBucketVersioning); it never returns to `Unversioned`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Versioning {
    #[default]
    Unversioned,
    Enabled,
    Suspended,
}

/// The identity of a version: its 16-byte sort key. Newer versions sort first: the key is the
/// write time in milliseconds, inverted, then the writing node's id, inverted, then the node's
/// mint sequence number, inverted, so that of two writes of one millisecond on one node the
/// later sorts first. Shown to clients as 32 hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct VersionId(pub [u8; 16]);

impl VersionId {
    pub fn new(time_ms: i64, node: u64, sequence: u32) -> Self {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&sort_time(time_ms).to_be_bytes());
        bytes[8..12].copy_from_slice(&(!(node as u32)).to_be_bytes());
        bytes[12..].copy_from_slice(&(!sequence).to_be_bytes());
        VersionId(bytes)
    }

    pub fn parse(text: &str) -> Option<Self> {
        let bytes: [u8; 16] = hex::decode(text).ok()?.try_into().ok()?;
        // The first eight bytes of an id are never all 0xff or all zero (see `sort_time`).
        let time = u64::from_be_bytes(bytes[..8].try_into().ok()?);
        (time != 0 && time != u64::MAX).then_some(VersionId(bytes))
    }
}

impl std::fmt::Display for VersionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

/// The first eight bytes of a version's sort key: newer is smaller.
pub fn sort_time(time_ms: i64) -> u64 {
    (u64::MAX - 1) - u64::try_from(time_ms).unwrap_or(0)
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
    Inline(#[serde(with = "serde_bytes")] Vec<u8>),
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
    /// `None` for the null version (every object of an unversioned bucket).
    pub version_id: Option<VersionId>,
    /// A delete marker: no body, and GET answers 404 while it is the current version.
    pub delete_marker: bool,
    pub retention: Option<Retention>,
    pub legal_hold: bool,
    #[serde(with = "json_document")]
    pub extra: ObjectExtra,
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
    /// The version the body will belong to, in a versioning-enabled bucket.
    pub version: Option<VersionId>,
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
    /// The object lock the completed version gets.
    pub retention: Option<Retention>,
    pub legal_hold: bool,
    /// What the completed version gets (its ACL).
    #[serde(with = "json_document")]
    pub extra: ObjectExtra,
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

impl Record for PartRecord {}
impl Record for AccessKeyRecord {}

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
            version_id: Some(VersionId::new(1_700_000_000_000, 7, 3)),
            delete_marker: false,
            retention: Some(Retention { mode: LockMode::Compliance, until_ms: 9 }),
            legal_hold: true,
            extra: ObjectExtra {
                acl: Some(super::super::acl::CannedAcl::PublicRead.acl("me", "me")),
                encryption: Some(super::super::crypto::SealedKey {
                    scheme: super::super::crypto::Scheme::Kms,
                    kms_key_id: Some("k".into()),
                    wrapped: "AAAA".into(),
                }),
            },
        };
        assert_eq!(decode::<ObjectRecord>(&encode(&r)).unwrap(), r);
        assert!(decode::<ObjectRecord>(&[9, 9]).is_err());
    }

    #[test]
    fn version_one_records_read_as_null_versions_of_unversioned_buckets() {
        // Bytes a node wrote before versioning existed: record version 1.
        let mut bytes = vec![1u8];
        bytes.extend(
            postcard::to_allocvec(&(
                1i64,
                0u64,
                "d41d8cd98f00b204e9800998ecf8427e",
                "owner",
                ContentHeaders::default(),
                Vec::<(String, String)>::new(),
                Option::<StoredChecksum>::None,
                BodyLayout::Inline(Vec::new()),
                Vec::<PartSummary>::new(),
                Vec::<(String, String)>::new(),
                Option::<String>::None,
            ))
            .unwrap(),
        );
        let record: ObjectRecord = decode(&bytes).unwrap();
        assert_eq!(record.owner, "owner");
        assert_eq!(record.version_id, None);
        assert!(!record.delete_marker);
        let mut bucket = vec![1u8];
        let grants = Vec::<BucketGrant>::new();
        let tags = Vec::<(String, String)>::new();
        bucket.extend(postcard::to_allocvec(&("b", 5i64, "o", "", grants, tags)).unwrap());
        let bucket: BucketRecord = decode(&bucket).unwrap();
        assert_eq!((bucket.name.as_str(), bucket.versioning), ("b", Versioning::Unversioned));
    }

    #[test]
    fn version_two_records_read_with_default_access_control() {
        // Bytes a node wrote before access control existed: record version 2.
        let mut bucket = vec![2u8];
        let grants = Vec::<BucketGrant>::new();
        let tags = Vec::<(String, String)>::new();
        let lock = Some(ObjectLockConfig::default());
        bucket.extend(
            postcard::to_allocvec(&("b", 5i64, "o", "", grants, tags, Versioning::Enabled, lock))
                .unwrap(),
        );
        let bucket: BucketRecord = decode(&bucket).unwrap();
        assert_eq!(bucket.versioning, Versioning::Enabled);
        assert!(bucket.object_lock.is_some());
        assert_eq!(bucket.config, BucketConfig::default());
        // An empty configuration costs three bytes: the length and `{}`.
        let with_default = encode(&bucket);
        let mut older = bucket.clone();
        older.config.policy = Some("{}".into());
        assert_eq!(encode(&older).len(), with_default.len() + "\"policy\":\"{}\"".len());
    }

    #[test]
    fn version_ids_sort_newest_first_and_round_trip_as_text() {
        let older = VersionId::new(1_000, 1, 0);
        let newer = VersionId::new(2_000, 1, 0);
        let same_ms_other_node = VersionId::new(2_000, 2, 0);
        let same_ms_later_mint = VersionId::new(2_000, 1, 1);
        assert!(newer < older);
        assert!(same_ms_other_node < newer, "a higher node id ranks first within a millisecond");
        assert!(same_ms_later_mint < newer, "a node's later mint ranks first within a millisecond");
        let text = newer.to_string();
        assert_eq!(text.len(), 32);
        assert_eq!(VersionId::parse(&text), Some(newer));
        assert_eq!(VersionId::parse("null"), None);
        assert_eq!(VersionId::parse(&"f".repeat(32)), None);
        assert_eq!(VersionId::parse(&"0".repeat(32)), None);
    }

    #[test]
    fn one_buckets_objects_sort_together_and_before_longer_bucket_names() {
        let a = object_key("b", "zzz");
        let b = object_key("b-longer", "a");
        assert!(a < b, "bucket 'b' keys must not interleave with bucket 'b-longer'");
    }
}
