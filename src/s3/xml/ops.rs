//! XML documents of multipart uploads, copies, multi-object delete and tagging.
//! Field order is wire order (see the parent module's invariants).
//! Reference: <https://docs.aws.amazon.com/AmazonS3/latest/API/API_CompleteMultipartUpload.html>

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Owner, XmlResponse, timestamp};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InitiateMultipartUploadResult {
    #[serde(rename = "Bucket")]
    pub bucket: String,
    #[serde(rename = "Key")]
    pub key: String,
    #[serde(rename = "UploadId")]
    pub upload_id: String,
}

impl XmlResponse for InitiateMultipartUploadResult {
    const ROOT: &'static str = "InitiateMultipartUploadResult";
}

/// The body of CompleteMultipartUpload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct CompleteMultipartUpload {
    #[serde(rename = "Part", default)]
    pub parts: Vec<CompletedPart>,
}

impl CompleteMultipartUpload {
    pub const ROOT: &'static str = "CompleteMultipartUpload";
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct CompletedPart {
    #[serde(rename = "PartNumber")]
    pub part_number: u32,
    #[serde(rename = "ETag")]
    pub etag: String,
    #[serde(rename = "ChecksumCRC32", default)]
    pub crc32: Option<String>,
    #[serde(rename = "ChecksumCRC32C", default)]
    pub crc32c: Option<String>,
    #[serde(rename = "ChecksumCRC64NVME", default)]
    pub crc64nvme: Option<String>,
    #[serde(rename = "ChecksumSHA1", default)]
    pub sha1: Option<String>,
    #[serde(rename = "ChecksumSHA256", default)]
    pub sha256: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CompleteMultipartUploadResult {
    #[serde(rename = "Location")]
    pub location: String,
    #[serde(rename = "Bucket")]
    pub bucket: String,
    #[serde(rename = "Key")]
    pub key: String,
    #[serde(rename = "ETag")]
    pub etag: String,
    #[serde(rename = "ChecksumCRC32", skip_serializing_if = "Option::is_none")]
    pub crc32: Option<String>,
    #[serde(rename = "ChecksumCRC32C", skip_serializing_if = "Option::is_none")]
    pub crc32c: Option<String>,
    #[serde(rename = "ChecksumCRC64NVME", skip_serializing_if = "Option::is_none")]
    pub crc64nvme: Option<String>,
    #[serde(rename = "ChecksumSHA1", skip_serializing_if = "Option::is_none")]
    pub sha1: Option<String>,
    #[serde(rename = "ChecksumSHA256", skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(rename = "ChecksumType", skip_serializing_if = "Option::is_none")]
    pub checksum_type: Option<String>,
}

impl XmlResponse for CompleteMultipartUploadResult {
    const ROOT: &'static str = "CompleteMultipartUploadResult";
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartEntry {
    #[serde(rename = "PartNumber")]
    pub part_number: u32,
    #[serde(rename = "LastModified", with = "timestamp")]
    pub last_modified: DateTime<Utc>,
    #[serde(rename = "ETag")]
    pub etag: String,
    #[serde(rename = "Size")]
    pub size: u64,
    #[serde(rename = "ChecksumCRC32", skip_serializing_if = "Option::is_none")]
    pub crc32: Option<String>,
    #[serde(rename = "ChecksumCRC32C", skip_serializing_if = "Option::is_none")]
    pub crc32c: Option<String>,
    #[serde(rename = "ChecksumCRC64NVME", skip_serializing_if = "Option::is_none")]
    pub crc64nvme: Option<String>,
    #[serde(rename = "ChecksumSHA1", skip_serializing_if = "Option::is_none")]
    pub sha1: Option<String>,
    #[serde(rename = "ChecksumSHA256", skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListPartsResult {
    #[serde(rename = "Bucket")]
    pub bucket: String,
    #[serde(rename = "Key")]
    pub key: String,
    #[serde(rename = "UploadId")]
    pub upload_id: String,
    #[serde(rename = "PartNumberMarker")]
    pub part_number_marker: u32,
    #[serde(rename = "NextPartNumberMarker", skip_serializing_if = "Option::is_none")]
    pub next_part_number_marker: Option<u32>,
    #[serde(rename = "MaxParts")]
    pub max_parts: u32,
    #[serde(rename = "IsTruncated")]
    pub is_truncated: bool,
    #[serde(rename = "Part")]
    pub parts: Vec<PartEntry>,
    #[serde(rename = "Initiator")]
    pub initiator: Owner,
    #[serde(rename = "Owner")]
    pub owner: Owner,
    #[serde(rename = "StorageClass")]
    pub storage_class: String,
    #[serde(rename = "ChecksumAlgorithm", skip_serializing_if = "Option::is_none")]
    pub checksum_algorithm: Option<String>,
    #[serde(rename = "ChecksumType", skip_serializing_if = "Option::is_none")]
    pub checksum_type: Option<String>,
}

impl XmlResponse for ListPartsResult {
    const ROOT: &'static str = "ListPartsResult";
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UploadEntry {
    #[serde(rename = "Key")]
    pub key: String,
    #[serde(rename = "UploadId")]
    pub upload_id: String,
    #[serde(rename = "Initiator")]
    pub initiator: Owner,
    #[serde(rename = "Owner")]
    pub owner: Owner,
    #[serde(rename = "StorageClass")]
    pub storage_class: String,
    #[serde(rename = "Initiated", with = "timestamp")]
    pub initiated: DateTime<Utc>,
    #[serde(rename = "ChecksumAlgorithm", skip_serializing_if = "Option::is_none")]
    pub checksum_algorithm: Option<String>,
    #[serde(rename = "ChecksumType", skip_serializing_if = "Option::is_none")]
    pub checksum_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UploadPrefix {
    #[serde(rename = "Prefix")]
    pub prefix: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListMultipartUploadsResult {
    #[serde(rename = "Bucket")]
    pub bucket: String,
    #[serde(rename = "KeyMarker")]
    pub key_marker: String,
    #[serde(rename = "UploadIdMarker")]
    pub upload_id_marker: String,
    #[serde(rename = "NextKeyMarker", skip_serializing_if = "Option::is_none")]
    pub next_key_marker: Option<String>,
    #[serde(rename = "NextUploadIdMarker", skip_serializing_if = "Option::is_none")]
    pub next_upload_id_marker: Option<String>,
    #[serde(rename = "Delimiter", skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<String>,
    #[serde(rename = "Prefix")]
    pub prefix: String,
    #[serde(rename = "MaxUploads")]
    pub max_uploads: u32,
    #[serde(rename = "EncodingType", skip_serializing_if = "Option::is_none")]
    pub encoding_type: Option<String>,
    #[serde(rename = "IsTruncated")]
    pub is_truncated: bool,
    #[serde(rename = "Upload")]
    pub uploads: Vec<UploadEntry>,
    #[serde(rename = "CommonPrefixes")]
    pub common_prefixes: Vec<UploadPrefix>,
}

impl XmlResponse for ListMultipartUploadsResult {
    const ROOT: &'static str = "ListMultipartUploadsResult";
}

/// CopyObject's and UploadPartCopy's result (the root names differ).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CopyResult {
    #[serde(rename = "LastModified", with = "timestamp")]
    pub last_modified: DateTime<Utc>,
    #[serde(rename = "ETag")]
    pub etag: String,
    #[serde(rename = "ChecksumType", skip_serializing_if = "Option::is_none")]
    pub checksum_type: Option<String>,
    #[serde(rename = "ChecksumCRC32", skip_serializing_if = "Option::is_none")]
    pub crc32: Option<String>,
    #[serde(rename = "ChecksumCRC32C", skip_serializing_if = "Option::is_none")]
    pub crc32c: Option<String>,
    #[serde(rename = "ChecksumCRC64NVME", skip_serializing_if = "Option::is_none")]
    pub crc64nvme: Option<String>,
    #[serde(rename = "ChecksumSHA1", skip_serializing_if = "Option::is_none")]
    pub sha1: Option<String>,
    #[serde(rename = "ChecksumSHA256", skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// The body of DeleteObjects.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Delete {
    #[serde(rename = "Object", default)]
    pub objects: Vec<ObjectIdentifier>,
    #[serde(rename = "Quiet", default)]
    pub quiet: bool,
}

impl Delete {
    pub const ROOT: &'static str = "Delete";
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ObjectIdentifier {
    #[serde(rename = "Key")]
    pub key: String,
    #[serde(rename = "VersionId", default)]
    pub version_id: Option<String>,
    /// Conditional delete: the ETag the current version must have.
    #[serde(rename = "ETag", default)]
    pub etag: Option<String>,
    /// Conditional delete: the current version's last-modified time (ISO 8601).
    #[serde(rename = "LastModifiedTime", default)]
    pub last_modified_time: Option<String>,
    /// Conditional delete: the current version's size.
    #[serde(rename = "Size", default)]
    pub size: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum DeleteResultEntry {
    Deleted {
        #[serde(rename = "Key")]
        key: String,
        #[serde(rename = "VersionId", skip_serializing_if = "Option::is_none")]
        version_id: Option<String>,
        #[serde(rename = "DeleteMarker", skip_serializing_if = "std::ops::Not::not")]
        delete_marker: bool,
        #[serde(rename = "DeleteMarkerVersionId", skip_serializing_if = "Option::is_none")]
        delete_marker_version_id: Option<String>,
    },
    Error {
        #[serde(rename = "Key")]
        key: String,
        #[serde(rename = "VersionId", skip_serializing_if = "Option::is_none")]
        version_id: Option<String>,
        #[serde(rename = "Code")]
        code: String,
        #[serde(rename = "Message")]
        message: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeleteResult {
    #[serde(rename = "$value")]
    pub entries: Vec<DeleteResultEntry>,
}

impl XmlResponse for DeleteResult {
    const ROOT: &'static str = "DeleteResult";
}

/// `PutBucketVersioning` request and `GetBucketVersioning` response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersioningConfiguration {
    #[serde(rename = "Status", skip_serializing_if = "Option::is_none", default)]
    pub status: Option<String>,
    #[serde(rename = "MfaDelete", skip_serializing_if = "Option::is_none", default)]
    pub mfa_delete: Option<String>,
}

impl XmlResponse for VersioningConfiguration {
    const ROOT: &'static str = "VersioningConfiguration";
}

/// `PutObjectLockConfiguration` request and `GetObjectLockConfiguration` response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectLockConfiguration {
    #[serde(rename = "ObjectLockEnabled", skip_serializing_if = "Option::is_none", default)]
    pub enabled: Option<String>,
    #[serde(rename = "Rule", skip_serializing_if = "Option::is_none", default)]
    pub rule: Option<ObjectLockRule>,
}

impl XmlResponse for ObjectLockConfiguration {
    const ROOT: &'static str = "ObjectLockConfiguration";
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectLockRule {
    #[serde(rename = "DefaultRetention", skip_serializing_if = "Option::is_none", default)]
    pub default_retention: Option<DefaultRetention>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefaultRetention {
    #[serde(rename = "Mode", skip_serializing_if = "Option::is_none", default)]
    pub mode: Option<String>,
    #[serde(rename = "Days", skip_serializing_if = "Option::is_none", default)]
    pub days: Option<i64>,
    #[serde(rename = "Years", skip_serializing_if = "Option::is_none", default)]
    pub years: Option<i64>,
}

/// `PutObjectRetention` request and `GetObjectRetention` response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    #[serde(rename = "Mode", skip_serializing_if = "Option::is_none", default)]
    pub mode: Option<String>,
    #[serde(rename = "RetainUntilDate", skip_serializing_if = "Option::is_none", default)]
    pub retain_until_date: Option<String>,
}

impl XmlResponse for Retention {
    const ROOT: &'static str = "Retention";
}

/// `PutObjectLegalHold` request and `GetObjectLegalHold` response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegalHold {
    #[serde(rename = "Status", skip_serializing_if = "Option::is_none", default)]
    pub status: Option<String>,
}

impl XmlResponse for LegalHold {
    const ROOT: &'static str = "LegalHold";
}

/// Object and bucket tagging documents.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tagging {
    #[serde(rename = "TagSet")]
    pub tag_set: TagSet,
}

impl XmlResponse for Tagging {
    const ROOT: &'static str = "Tagging";
}

impl Tagging {
    pub const ROOT_NAME: &'static str = "Tagging";
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagSet {
    #[serde(rename = "Tag", default)]
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    #[serde(rename = "Key")]
    pub key: String,
    #[serde(rename = "Value")]
    pub value: String,
}

#[cfg(test)]
mod tests {
    use super::super::{from_xml_with_root, to_xml};
    use super::*;

    #[test]
    fn complete_multipart_upload_bodies_parse_with_and_without_checksums() {
        let body = br#"<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
            <Part><ETag>"a"</ETag><PartNumber>1</PartNumber></Part>
            <Part><PartNumber>2</PartNumber><ETag>"b"</ETag><ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part>
        </CompleteMultipartUpload>"#;
        let parsed: CompleteMultipartUpload =
            from_xml_with_root(body, CompleteMultipartUpload::ROOT).unwrap();
        assert_eq!(parsed.parts.len(), 2);
        assert_eq!(parsed.parts[1].crc32.as_deref(), Some("AAAAAA=="));
        assert_eq!(parsed.parts[0].etag, "\"a\"");
    }

    #[test]
    fn delete_bodies_parse_quiet_and_versions() {
        let body = b"<Delete><Quiet>true</Quiet><Object><Key>a b</Key></Object><Object><Key>c</Key><VersionId>null</VersionId></Object></Delete>";
        let parsed: Delete = from_xml_with_root(body, Delete::ROOT).unwrap();
        assert!(parsed.quiet);
        assert_eq!(parsed.objects.len(), 2);
        assert_eq!(parsed.objects[1].version_id.as_deref(), Some("null"));
    }

    #[test]
    fn delete_results_interleave_deleted_and_errors() {
        let result = DeleteResult {
            entries: vec![
                DeleteResultEntry::Deleted {
                    key: "a".into(),
                    version_id: None,
                    delete_marker: false,
                    delete_marker_version_id: None,
                },
                DeleteResultEntry::Error {
                    key: "b".into(),
                    version_id: None,
                    code: "AccessDenied".into(),
                    message: "Access Denied".into(),
                },
            ],
        };
        let xml = to_xml(DeleteResult::ROOT, &result);
        assert!(xml.contains("<Deleted><Key>a</Key></Deleted><Error><Key>b</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"), "{xml}");
    }

    #[test]
    fn tagging_round_trips() {
        let tagging = Tagging {
            tag_set: TagSet { tags: vec![Tag { key: "k&".into(), value: "v<".into() }] },
        };
        let xml = tagging.to_xml();
        assert!(xml.contains("<Tagging xmlns="), "{xml}");
        let back: Tagging = from_xml_with_root(xml.as_bytes(), Tagging::ROOT_NAME).unwrap();
        assert_eq!(back, tagging);
        let empty: Tagging =
            from_xml_with_root(b"<Tagging><TagSet/></Tagging>", "Tagging").unwrap();
        assert!(empty.tag_set.tags.is_empty());
    }
}
