//! GetObjectAttributes: an object's ETag, checksum, parts, storage class and size without its
//! body, the parts paginated.
//! Reference: <https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObjectAttributes.html>

use http::HeaderMap;
use serde::Serialize;

use super::Handlers;
use super::bucket::time_of;
use super::headers::{checksum_type, checksum_value, header};
use crate::access;
use crate::objects::Versioning;
use crate::objects::checksum::{ChecksumAlgorithm, encode_checksum_value};
use crate::s3::Context;
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::response;
use crate::s3::response::S3Response;
use crate::s3::xml::XmlResponse;

/// Most parts one answer lists (S3's default and maximum).
const PARTS_MAX: usize = 1000;

#[derive(Debug, Default, Serialize)]
struct Checksums {
    #[serde(rename = "ChecksumCRC32", skip_serializing_if = "Option::is_none")]
    crc32: Option<String>,
    #[serde(rename = "ChecksumCRC32C", skip_serializing_if = "Option::is_none")]
    crc32c: Option<String>,
    #[serde(rename = "ChecksumCRC64NVME", skip_serializing_if = "Option::is_none")]
    crc64nvme: Option<String>,
    #[serde(rename = "ChecksumSHA1", skip_serializing_if = "Option::is_none")]
    sha1: Option<String>,
    #[serde(rename = "ChecksumSHA256", skip_serializing_if = "Option::is_none")]
    sha256: Option<String>,
    #[serde(rename = "ChecksumType", skip_serializing_if = "Option::is_none")]
    checksum_type: Option<String>,
}

impl Checksums {
    fn one(algorithm: ChecksumAlgorithm, value: String) -> Self {
        let mut out = Checksums::default();
        let slot = match algorithm {
            ChecksumAlgorithm::Crc32 => &mut out.crc32,
            ChecksumAlgorithm::Crc32c => &mut out.crc32c,
            ChecksumAlgorithm::Crc64Nvme => &mut out.crc64nvme,
            ChecksumAlgorithm::Sha1 => &mut out.sha1,
            ChecksumAlgorithm::Sha256 => &mut out.sha256,
        };
        *slot = Some(value);
        out
    }
}

#[derive(Debug, Serialize)]
struct PartXml {
    #[serde(rename = "PartNumber")]
    part_number: usize,
    #[serde(rename = "Size")]
    size: u64,
    #[serde(rename = "$value", skip_serializing_if = "Option::is_none")]
    checksum: Option<ChecksumElement>,
}

/// One `Checksum<ALGORITHM>` element of a part.
#[derive(Debug, Serialize)]
enum ChecksumElement {
    #[serde(rename = "ChecksumCRC32")]
    Crc32(String),
    #[serde(rename = "ChecksumCRC32C")]
    Crc32c(String),
    #[serde(rename = "ChecksumCRC64NVME")]
    Crc64Nvme(String),
    #[serde(rename = "ChecksumSHA1")]
    Sha1(String),
    #[serde(rename = "ChecksumSHA256")]
    Sha256(String),
}

impl ChecksumElement {
    fn new(algorithm: ChecksumAlgorithm, value: String) -> Self {
        match algorithm {
            ChecksumAlgorithm::Crc32 => ChecksumElement::Crc32(value),
            ChecksumAlgorithm::Crc32c => ChecksumElement::Crc32c(value),
            ChecksumAlgorithm::Crc64Nvme => ChecksumElement::Crc64Nvme(value),
            ChecksumAlgorithm::Sha1 => ChecksumElement::Sha1(value),
            ChecksumAlgorithm::Sha256 => ChecksumElement::Sha256(value),
        }
    }
}

#[derive(Debug, Serialize)]
struct ObjectParts {
    #[serde(rename = "PartsCount")]
    total: usize,
    #[serde(rename = "PartNumberMarker")]
    marker: usize,
    #[serde(rename = "NextPartNumberMarker")]
    next_marker: usize,
    #[serde(rename = "MaxParts")]
    max_parts: usize,
    #[serde(rename = "IsTruncated")]
    truncated: bool,
    #[serde(rename = "Part")]
    parts: Vec<PartXml>,
}

#[derive(Debug, Serialize)]
struct GetObjectAttributesResponse {
    #[serde(rename = "ETag", skip_serializing_if = "Option::is_none")]
    etag: Option<String>,
    #[serde(rename = "Checksum", skip_serializing_if = "Option::is_none")]
    checksum: Option<Checksums>,
    #[serde(rename = "ObjectParts", skip_serializing_if = "Option::is_none")]
    parts: Option<ObjectParts>,
    #[serde(rename = "StorageClass", skip_serializing_if = "Option::is_none")]
    storage_class: Option<&'static str>,
    #[serde(rename = "ObjectSize", skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
}

impl XmlResponse for GetObjectAttributesResponse {
    const ROOT: &'static str = "GetObjectAttributesResponse";
}

const ATTRIBUTES: &[&str] = &["ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"];

fn count(headers: &HeaderMap, name: &str, default: usize) -> Result<usize, S3Error> {
    match header(headers, name) {
        None => Ok(default),
        Some(text) => text.trim().parse::<usize>().map_err(|_| {
            S3Error::new(S3ErrorCode::InvalidArgument, format!("{name} must be an integer"))
                .with("ArgumentName", name)
                .with("ArgumentValue", text)
        }),
    }
}

impl Handlers<'_> {
    pub async fn get_object_attributes(
        &self,
        ctx: &Context,
        headers: &HeaderMap,
    ) -> Result<S3Response, S3Error> {
        let version = super::version_param(ctx)?;
        let action = if version.is_some() {
            access::GET_OBJECT_VERSION_ATTRIBUTES
        } else {
            access::GET_OBJECT_ATTRIBUTES
        };
        let (bucket, gate) = self.object_access(ctx, action).await?;
        let wanted: Vec<&str> = headers
            .get_all("x-amz-object-attributes")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .collect();
        if wanted.is_empty() {
            return Err(S3Error::new(
                S3ErrorCode::InvalidRequest,
                "The x-amz-object-attributes header specifying the attributes to be retrieved is either missing or empty",
            ));
        }
        if let Some(bad) = wanted.iter().find(|w| !ATTRIBUTES.contains(w)) {
            return Err(S3Error::new(
                S3ErrorCode::InvalidArgument,
                format!("Invalid attribute name specified: {bad}"),
            )
            .with("ArgumentName", "x-amz-object-attributes"));
        }
        let max_parts = count(headers, "x-amz-max-parts", PARTS_MAX)?.min(PARTS_MAX);
        let marker = count(headers, "x-amz-part-number-marker", 0)?;
        let customer_key =
            crate::s3::encryption::customer_key(headers, crate::s3::encryption::CUSTOMER)?;
        let mut info = self
            .objects
            .object_version(ctx.bucket(), ctx.key(), version)
            .await
            .map_err(|e| gate.missing(&bucket, ctx, e))?;
        gate.check(&bucket, ctx, &info)?;
        // An SSE-C object's attributes are the key holder's to see, as its body is.
        self.objects.unlock(&mut info, customer_key.as_ref())?;
        let has = |name: &str| wanted.contains(&name);
        let algorithm = info.checksum().map(|c| c.algorithm);
        let parts = (has("ObjectParts") && info.part_count() > 0).then(|| {
            let total = info.part_count();
            let parts: Vec<PartXml> = (marker + 1..=total)
                .take(max_parts)
                .filter_map(|n| {
                    let (start, end, checksum) = info.part(n)?;
                    let size = if info.size() == 0 { 0 } else { end + 1 - start };
                    let checksum = checksum
                        .zip(algorithm)
                        .map(|(raw, a)| ChecksumElement::new(a, encode_checksum_value(raw)));
                    Some(PartXml { part_number: n, size, checksum })
                })
                .collect();
            let next_marker = parts.last().map_or(marker, |p| p.part_number);
            ObjectParts {
                total,
                marker,
                next_marker,
                max_parts,
                truncated: next_marker < total,
                parts,
            }
        });
        let checksum = info.checksum().filter(|_| has("Checksum")).map(|c| {
            let mut out = Checksums::one(c.algorithm, checksum_value(c));
            out.checksum_type = Some(checksum_type(c).to_owned());
            out
        });
        let document = GetObjectAttributesResponse {
            etag: has("ETag").then(|| info.etag().to_owned()),
            checksum,
            parts,
            storage_class: has("StorageClass").then_some("STANDARD"),
            size: has("ObjectSize").then(|| info.size()),
        };
        let mut out = response::xml_response(document.to_xml());
        let modified = time_of(info.last_modified_ms());
        response::set_header(&mut out, "last-modified", &httpdate::fmt_http_date(modified.into()));
        let versioned = bucket.versioning != Versioning::Unversioned;
        super::set_version_header(&mut out, info.version_id(), versioned);
        Ok(out)
    }
}
