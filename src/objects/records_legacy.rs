//! Reading records written by older versions of RingVault: the layouts of record versions 1
//! and 2, read only, and their conversion to today's records.

use serde::Deserialize;

use super::checksum::ChecksumAlgorithm;
use super::records::{
    BodyLayout, BucketGrant, BucketRecord, ContentHeaders, ObjectExtra, ObjectLockConfig,
    ObjectRecord, PartSummary, PendingBody, Record, Retention, StoredChecksum, UploadRecord,
    VersionId, Versioning,
};

/// Record version 2 (versioning and object lock, before access control).
#[derive(Deserialize)]
struct UploadV2 {
    upload_id: String,
    bucket: String,
    key: String,
    initiated_ms: i64,
    owner: String,
    headers: ContentHeaders,
    user_metadata: Vec<(String, String)>,
    tags: Vec<(String, String)>,
    checksum_algorithm: Option<ChecksumAlgorithm>,
    checksum_full_object: bool,
    retention: Option<Retention>,
    legal_hold: bool,
}

#[derive(Deserialize)]
struct BucketV2 {
    name: String,
    created_ms: i64,
    owner: String,
    location: String,
    grants: Vec<BucketGrant>,
    tags: Vec<(String, String)>,
    versioning: Versioning,
    object_lock: Option<ObjectLockConfig>,
}

#[derive(Deserialize)]
struct ObjectV2 {
    last_modified_ms: i64,
    size: u64,
    etag: String,
    owner: String,
    headers: ContentHeaders,
    user_metadata: Vec<(String, String)>,
    checksum: Option<StoredChecksum>,
    body: BodyLayout,
    parts: Vec<PartSummary>,
    tags: Vec<(String, String)>,
    upload_id: Option<String>,
    version_id: Option<VersionId>,
    delete_marker: bool,
    retention: Option<Retention>,
    legal_hold: bool,
}

/// Record version 1 (before versioning).
#[derive(Deserialize)]
struct UploadV1 {
    upload_id: String,
    bucket: String,
    key: String,
    initiated_ms: i64,
    owner: String,
    headers: ContentHeaders,
    user_metadata: Vec<(String, String)>,
    tags: Vec<(String, String)>,
    checksum_algorithm: Option<ChecksumAlgorithm>,
    checksum_full_object: bool,
}

#[derive(Deserialize)]
struct BucketV1 {
    name: String,
    created_ms: i64,
    owner: String,
    location: String,
    grants: Vec<BucketGrant>,
    tags: Vec<(String, String)>,
}

#[derive(Deserialize)]
struct ObjectV1 {
    last_modified_ms: i64,
    size: u64,
    etag: String,
    owner: String,
    headers: ContentHeaders,
    user_metadata: Vec<(String, String)>,
    checksum: Option<StoredChecksum>,
    body: BodyLayout,
    parts: Vec<PartSummary>,
    tags: Vec<(String, String)>,
    upload_id: Option<String>,
}

#[derive(Deserialize)]
struct PendingBodyV1 {
    data_id: [u8; 16],
    bucket: String,
    key: String,
    started_ms: i64,
    part: Option<(String, u32)>,
}

impl From<UploadV2> for UploadRecord {
    fn from(v: UploadV2) -> Self {
        UploadRecord {
            upload_id: v.upload_id,
            bucket: v.bucket,
            key: v.key,
            initiated_ms: v.initiated_ms,
            owner: v.owner,
            headers: v.headers,
            user_metadata: v.user_metadata,
            tags: v.tags,
            checksum_algorithm: v.checksum_algorithm,
            checksum_full_object: v.checksum_full_object,
            retention: v.retention,
            legal_hold: v.legal_hold,
            extra: ObjectExtra::default(),
        }
    }
}

impl From<UploadV1> for UploadV2 {
    fn from(v: UploadV1) -> Self {
        UploadV2 {
            upload_id: v.upload_id,
            bucket: v.bucket,
            key: v.key,
            initiated_ms: v.initiated_ms,
            owner: v.owner,
            headers: v.headers,
            user_metadata: v.user_metadata,
            tags: v.tags,
            checksum_algorithm: v.checksum_algorithm,
            checksum_full_object: v.checksum_full_object,
            retention: None,
            legal_hold: false,
        }
    }
}

impl From<BucketV2> for BucketRecord {
    fn from(v: BucketV2) -> Self {
        BucketRecord {
            name: v.name,
            created_ms: v.created_ms,
            owner: v.owner,
            location: v.location,
            grants: v.grants,
            tags: v.tags,
            versioning: v.versioning,
            object_lock: v.object_lock,
            config: Default::default(),
        }
    }
}

impl From<BucketV1> for BucketV2 {
    fn from(v: BucketV1) -> Self {
        BucketV2 {
            name: v.name,
            created_ms: v.created_ms,
            owner: v.owner,
            location: v.location,
            grants: v.grants,
            tags: v.tags,
            versioning: Versioning::Unversioned,
            object_lock: None,
        }
    }
}

impl From<ObjectV2> for ObjectRecord {
    fn from(v: ObjectV2) -> Self {
        ObjectRecord {
            last_modified_ms: v.last_modified_ms,
            size: v.size,
            etag: v.etag,
            owner: v.owner,
            headers: v.headers,
            user_metadata: v.user_metadata,
            checksum: v.checksum,
            body: v.body,
            parts: v.parts,
            tags: v.tags,
            upload_id: v.upload_id,
            version_id: v.version_id,
            delete_marker: v.delete_marker,
            retention: v.retention,
            legal_hold: v.legal_hold,
            extra: ObjectExtra::default(),
        }
    }
}

impl From<ObjectV1> for ObjectV2 {
    fn from(v: ObjectV1) -> Self {
        ObjectV2 {
            last_modified_ms: v.last_modified_ms,
            size: v.size,
            etag: v.etag,
            owner: v.owner,
            headers: v.headers,
            user_metadata: v.user_metadata,
            checksum: v.checksum,
            body: v.body,
            parts: v.parts,
            tags: v.tags,
            upload_id: v.upload_id,
            version_id: None,
            delete_marker: false,
            retention: None,
            legal_hold: false,
        }
    }
}

impl Record for UploadRecord {
    fn decode_v1(body: &[u8]) -> Result<Self, postcard::Error> {
        Ok(UploadV2::from(postcard::from_bytes::<UploadV1>(body)?).into())
    }

    fn decode_v2(body: &[u8]) -> Result<Self, postcard::Error> {
        Ok(postcard::from_bytes::<UploadV2>(body)?.into())
    }
}

impl Record for BucketRecord {
    fn decode_v1(body: &[u8]) -> Result<Self, postcard::Error> {
        Ok(BucketV2::from(postcard::from_bytes::<BucketV1>(body)?).into())
    }

    fn decode_v2(body: &[u8]) -> Result<Self, postcard::Error> {
        Ok(postcard::from_bytes::<BucketV2>(body)?.into())
    }
}

impl Record for ObjectRecord {
    fn decode_v1(body: &[u8]) -> Result<Self, postcard::Error> {
        Ok(ObjectV2::from(postcard::from_bytes::<ObjectV1>(body)?).into())
    }

    fn decode_v2(body: &[u8]) -> Result<Self, postcard::Error> {
        Ok(postcard::from_bytes::<ObjectV2>(body)?.into())
    }
}

impl Record for PendingBody {
    fn decode_v1(body: &[u8]) -> Result<Self, postcard::Error> {
        let v1: PendingBodyV1 = postcard::from_bytes(body)?;
        Ok(PendingBody {
            data_id: v1.data_id,
            bucket: v1.bucket,
            key: v1.key,
            started_ms: v1.started_ms,
            part: v1.part,
            version: None,
        })
    }
}
