//! CopyObject, and the copy-source parsing UploadPartCopy shares. Copies stream the source's
//! blocks through a new PUT, so a large source is never buffered.
//! Reference: <https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html>

use crate::objects::crypto::Encryption;
use crate::s3::encryption;
use http::HeaderMap;
use percent_encoding::percent_decode_str;

use super::bucket::time_of;
use super::headers::{
    checksum_algorithm, checksum_value, content_headers, header, tagging_header, user_metadata,
};
use super::object::quoted;
use super::{Handlers, map_error};
use crate::access;
use crate::objects::checksum::ChecksumAlgorithm;
use crate::objects::{
    ByteStream, ChecksumRequest, ExpectedChecksum, PutObject, VersionSel, Versioning,
};
use crate::s3::Context;
use crate::s3::conditional::Preconditions;
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::request::KEY_LEN_MAX;
use crate::s3::response::{self, S3Response};
use crate::s3::xml;

/// The object named by `x-amz-copy-source`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopySource {
    pub bucket: String,
    pub key: String,
    /// `?versionId=` of the source; its current version when absent.
    pub version: Option<VersionSel>,
}

/// Parses `x-amz-copy-source`: `[/]bucket/key[?versionId=...]`, percent-encoded.
pub fn copy_source(headers: &HeaderMap) -> Result<CopySource, S3Error> {
    let invalid = || {
        S3Error::new(
            S3ErrorCode::InvalidArgument,
            "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
        )
        .with("ArgumentName", "x-amz-copy-source")
    };
    let raw = header(headers, "x-amz-copy-source").ok_or_else(invalid)?;
    let (path, query) = raw.split_once('?').unwrap_or((raw, ""));
    let decoded = percent_decode_str(path).decode_utf8().map_err(|_| invalid())?;
    let (bucket, key) = decoded.trim_start_matches('/').split_once('/').ok_or_else(invalid)?;
    if bucket.is_empty() || key.is_empty() {
        return Err(invalid());
    }
    if key.len() > KEY_LEN_MAX {
        return Err(S3ErrorCode::KeyTooLongError.into());
    }
    let version = match query.strip_prefix("versionId=") {
        None => None,
        Some(text) => Some(VersionSel::parse(text).map_err(|_| {
            S3Error::new(S3ErrorCode::InvalidArgument, "Invalid version id specified")
                .with("ArgumentName", "versionId")
                .with("ArgumentValue", text)
        })?),
    };
    Ok(CopySource { bucket: bucket.to_owned(), key: key.to_owned(), version })
}

impl Handlers<'_> {
    /// The version a copy reads: a delete marker named by id is an invalid source.
    /// The source of a copy, if the requester may read it: its bucket and version.
    /// An encrypted source is unlocked with the `x-amz-copy-source-server-side-encryption-
    /// customer-*` key (SSE-C) or the node's keys.
    pub(crate) async fn copy_source_object(
        &self,
        ctx: &Context,
        headers: &HeaderMap,
        source: &CopySource,
    ) -> Result<(crate::objects::BucketInfo, crate::objects::ObjectInfo), S3Error> {
        let source_key = encryption::customer_key(headers, encryption::COPY_SOURCE_CUSTOMER)?;
        let action =
            if source.version.is_some() { access::GET_OBJECT_VERSION } else { access::GET_OBJECT };
        let (bucket, gate) =
            self.object_access_in(&source.bucket, &source.key, ctx, action).await?;
        let mut info = self
            .objects
            .object_version(&source.bucket, &source.key, source.version)
            .await
            .map_err(|e| match e {
                crate::objects::Error::DeleteMarker { named: true, .. } => S3Error::new(
                    S3ErrorCode::InvalidRequest,
                    "The source of a copy request may not specifically refer to a delete marker by version id.",
                ),
                other => gate.missing(&bucket, ctx, other),
            })?;
        gate.check(&bucket, ctx, &info)?;
        self.objects.unlock(&mut info, source_key.as_ref())?;
        Ok((bucket, info))
    }
}

/// `x-amz-copy-source-range: bytes=first-last`, checked against the source size.
pub fn copy_source_range(headers: &HeaderMap, size: u64) -> Result<Option<(u64, u64)>, S3Error> {
    let Some(raw) = header(headers, "x-amz-copy-source-range") else { return Ok(None) };
    let invalid = || {
        S3Error::new(
            S3ErrorCode::InvalidArgument,
            "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy",
        )
        .with("ArgumentName", "x-amz-copy-source-range")
        .with("ArgumentValue", raw)
    };
    let (first, last) =
        raw.trim().strip_prefix("bytes=").and_then(|r| r.split_once('-')).ok_or_else(invalid)?;
    let first: u64 = first.trim().parse().map_err(|_| invalid())?;
    let last: u64 = last.trim().parse().map_err(|_| invalid())?;
    if first > last {
        return Err(invalid());
    }
    if last >= size {
        return Err(S3Error::new(
            S3ErrorCode::InvalidRange,
            "The requested range is not satisfiable",
        )
        .with("RangeRequested", raw)
        .with("ActualObjectSize", size.to_string()));
    }
    Ok(Some((first, last)))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Directive {
    Copy,
    Replace,
}

fn directive(headers: &HeaderMap, name: &'static str) -> Result<Directive, S3Error> {
    match header(headers, name).map(str::to_ascii_uppercase).as_deref() {
        None | Some("COPY") => Ok(Directive::Copy),
        Some("REPLACE") => Ok(Directive::Replace),
        Some(other) => {
            Err(S3Error::new(S3ErrorCode::InvalidArgument, format!("Unknown {name} value {other}"))
                .with("ArgumentName", name))
        }
    }
}

impl Handlers<'_> {
    pub async fn copy_object(
        &self,
        ctx: &Context,
        headers: &HeaderMap,
    ) -> Result<S3Response, S3Error> {
        let bucket = self.bucket_for(ctx, access::PUT_OBJECT).await?;
        let source = copy_source(headers)?;
        let (source_bucket, info) = self.copy_source_object(ctx, headers, &source).await?;
        Preconditions::from_copy_source_headers(headers)?
            .evaluate_copy_source(&quoted(info.etag()), time_of(info.last_modified_ms()))?;
        let sse = encryption::write_encryption(headers, self.objects.keyring())?;
        let customer_key = sse.as_ref().and_then(Encryption::customer_key).cloned();
        let metadata = directive(headers, "x-amz-metadata-directive")?;
        let tagging = directive(headers, "x-amz-tagging-directive")?;
        let new_algorithm = checksum_algorithm(headers)?;
        let onto_itself =
            source.bucket == ctx.bucket() && source.key == ctx.key() && source.version.is_none();
        if onto_itself
            && metadata == Directive::Copy
            && tagging == Directive::Copy
            && new_algorithm.is_none()
            && sse.is_none()
        {
            return Err(S3Error::new(
                S3ErrorCode::InvalidRequest,
                "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
            ));
        }
        let (content, user) = match metadata {
            Directive::Copy => (info.headers().clone(), info.user_metadata().to_vec()),
            Directive::Replace => (content_headers(headers), user_metadata(headers)?),
        };
        let tags = match tagging {
            Directive::Copy => info.tags().to_vec(),
            Directive::Replace => tagging_header(headers)?,
        };
        let algorithm: Option<ChecksumAlgorithm> =
            new_algorithm.or_else(|| info.checksum().map(|c| c.algorithm));
        let body: ByteStream = self.objects.open_whole(&info).await.map_err(map_error)?;
        let (owner, acl) = self.new_object_owner_and_acl(headers, &bucket, ctx.principal()).await?;
        let put = PutObject {
            encryption: sse,
            lock: super::lock::object_lock_headers(headers)?,
            condition: super::headers::write_condition(headers)?,
            acl,
            owner,
            size_hint: Some(info.size()),
            headers: content,
            user_metadata: user,
            tags,
            body,
            content_md5: None,
            checksum: algorithm.map(|algorithm| ChecksumRequest {
                algorithm,
                expected: ExpectedChecksum::Compute,
            }),
        };
        let outcome =
            self.objects.put_object(ctx.bucket(), ctx.key(), put).await.map_err(map_error)?;
        let value = outcome.checksum.as_ref().map(checksum_value);
        let field = |target: ChecksumAlgorithm| {
            outcome.checksum.as_ref().filter(|c| c.algorithm == target).and(value.clone())
        };
        let result = xml::CopyResult {
            last_modified: time_of(outcome.last_modified_ms),
            etag: quoted(&outcome.etag),
            checksum_type: outcome
                .checksum
                .as_ref()
                .map(|c| super::headers::checksum_type(c).to_owned()),
            crc32: field(ChecksumAlgorithm::Crc32),
            crc32c: field(ChecksumAlgorithm::Crc32c),
            crc64nvme: field(ChecksumAlgorithm::Crc64Nvme),
            sha1: field(ChecksumAlgorithm::Sha1),
            sha256: field(ChecksumAlgorithm::Sha256),
        };
        let mut response = response::xml_response(xml::to_xml("CopyObjectResult", &result));
        super::set_version_header(&mut response, outcome.version_id, false);
        encryption::set_headers(&mut response, outcome.encryption.as_ref(), customer_key.as_ref());
        if source_bucket.versioning != Versioning::Unversioned || info.version_id().is_some() {
            response::set_header(
                &mut response,
                "x-amz-copy-source-version-id",
                &super::version_text(info.version_id()),
            );
        }
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (n, v) in pairs {
            h.insert(*n, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn copy_sources_are_decoded() {
        let s = copy_source(&headers(&[("x-amz-copy-source", "/src/a%20b/c%2Bd")])).unwrap();
        assert_eq!(s, CopySource { bucket: "src".into(), key: "a b/c+d".into(), version: None });
        let s = copy_source(&headers(&[("x-amz-copy-source", "src/k?versionId=null")])).unwrap();
        assert_eq!(s.version, Some(VersionSel::Null));
        assert_eq!(s.key, "k");
        for bad in ["src", "/src/", "/", "src/k?versionId=abc"] {
            assert!(copy_source(&headers(&[("x-amz-copy-source", bad)])).is_err(), "{bad}");
        }
    }

    #[test]
    fn copy_source_ranges_are_checked() {
        let h = |r| headers(&[("x-amz-copy-source-range", r)]);
        assert_eq!(copy_source_range(&h("bytes=0-9"), 10).unwrap(), Some((0, 9)));
        assert_eq!(
            copy_source_range(&h("bytes=0-10"), 10).unwrap_err().code,
            S3ErrorCode::InvalidRange
        );
        assert_eq!(
            copy_source_range(&h("bytes=5-1"), 10).unwrap_err().code,
            S3ErrorCode::InvalidArgument
        );
        assert_eq!(
            copy_source_range(&h("0-1"), 10).unwrap_err().code,
            S3ErrorCode::InvalidArgument
        );
        assert_eq!(copy_source_range(&HeaderMap::new(), 10).unwrap(), None);
    }
}
