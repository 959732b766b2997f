//! DeleteObjects: up to 1000 keys in one request, each answered on its own.
//! Reference: <https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html>

use http::{HeaderMap, Request};
use md5::{Digest, Md5};

use super::headers::{content_md5, header};
use super::{Handlers, map_error, read_small_body};
use crate::access;
use crate::objects::checksum::{ChecksumAlgorithm, checksum, decode_checksum_value};
use crate::objects::{DeleteCondition, DeleteTarget, VersionSel};
use crate::s3::Context;
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::request::KEY_LEN_MAX;
use crate::s3::response::{self, S3Response};
use crate::s3::xml::{self, DeleteResultEntry, XmlResponse};

/// Most keys one request may name (AWS's limit).
const KEYS_MAX: usize = 1000;
/// Largest request body: 1000 keys of 1024 bytes, escaped, with their elements.
const BODY_BYTES_MAX: usize = 8 << 20;

/// S3 requires an integrity check on this body: Content-MD5 or an `x-amz-checksum-*` header.
fn verify_integrity(headers: &HeaderMap, body: &[u8]) -> Result<(), S3Error> {
    if let Some(md5) = content_md5(headers)? {
        if md5 != <[u8; 16]>::from(Md5::digest(body)) {
            return Err(S3ErrorCode::BadDigest.into());
        }
        return Ok(());
    }
    for algorithm in ChecksumAlgorithm::ALL {
        if let Some(value) = header(headers, algorithm.header_name()) {
            let expected = decode_checksum_value(algorithm, value).ok_or_else(|| {
                S3Error::new(
                    S3ErrorCode::InvalidRequest,
                    format!("Value for {} header is invalid.", algorithm.header_name()),
                )
            })?;
            if expected != checksum(algorithm, body) {
                return Err(S3ErrorCode::BadDigest.into());
            }
            return Ok(());
        }
    }
    Err(S3Error::new(
        S3ErrorCode::InvalidRequest,
        "Missing required header for this request: Content-MD5 or x-amz-checksum-*",
    ))
}

impl Handlers<'_> {
    pub async fn delete_objects<B>(
        &self,
        ctx: &Context,
        request: Request<B>,
    ) -> Result<S3Response, S3Error>
    where
        B: http_body::Body<Data = bytes::Bytes> + Send + Unpin + 'static,
        B::Error: std::fmt::Display,
    {
        let bucket = self.bucket_for(ctx, access::DELETE_OBJECT).await?;
        let (parts, body) = request.into_parts();
        let bypass = super::lock::bypass_governance(&parts.headers, &bucket, ctx);
        let body = read_small_body(body, BODY_BYTES_MAX).await?;
        verify_integrity(&parts.headers, &body)?;
        let document: xml::Delete = xml::from_xml_with_root(&body, xml::Delete::ROOT)?;
        if document.objects.is_empty() || document.objects.len() > KEYS_MAX {
            return Err(S3ErrorCode::MalformedXML.into());
        }
        let mut entries = Vec::with_capacity(document.objects.len());
        let mut deletable = Vec::new();
        let mut slots = Vec::new();
        for object in &document.objects {
            let version = object.version_id.as_deref().map(VersionSel::parse).transpose();
            let last_modified_ms = match object.last_modified_time.as_deref() {
                None => Ok(None),
                // The SDKs send an HTTP date here (the model's format); ISO 8601 is accepted too.
                Some(t) => httpdate::parse_http_date(t.trim())
                    .map(|t| chrono::DateTime::<chrono::Utc>::from(t).timestamp_millis())
                    .or_else(|_| {
                        chrono::DateTime::parse_from_rfc3339(t.trim()).map(|t| t.timestamp_millis())
                    })
                    .map(Some)
                    .map_err(|_| ()),
            };
            let error = if object.key.is_empty() || object.key.len() > KEY_LEN_MAX {
                Some(("KeyTooLongError", "Your key is too long"))
            } else if version.is_err() {
                // No version has an id of another form (what S3 answers here too).
                Some(("NoSuchVersion", "The specified version does not exist."))
            } else if last_modified_ms.is_err() {
                Some(("InvalidArgument", "Invalid LastModifiedTime."))
            } else {
                None
            };
            match error {
                Some((code, message)) => entries.push(Some(DeleteResultEntry::Error {
                    key: object.key.clone(),
                    version_id: object.version_id.clone(),
                    code: code.into(),
                    message: message.into(),
                })),
                None => {
                    slots.push(entries.len());
                    entries.push(None);
                    let condition = DeleteCondition {
                        etag: object.etag.clone(),
                        last_modified_ms: last_modified_ms.ok().flatten(),
                        size: object.size,
                    };
                    deletable.push(DeleteTarget {
                        key: object.key.clone(),
                        version: version.ok().flatten(),
                        condition,
                        bypass_governance: bypass,
                    });
                }
            }
        }
        let owner = ctx.writer(&bucket);
        let results = self
            .objects
            .delete_objects(ctx.bucket(), &owner, &deletable)
            .await
            .map_err(map_error)?;
        for ((slot, target), result) in slots.into_iter().zip(deletable).zip(results) {
            let key = target.key;
            let version_id = document.objects[slot].version_id.clone();
            entries[slot] = Some(match result {
                Ok(outcome) if target.version.is_none() && outcome.delete_marker => {
                    DeleteResultEntry::Deleted {
                        key,
                        version_id,
                        delete_marker: true,
                        delete_marker_version_id: Some(super::version_text(outcome.version_id)),
                    }
                }
                Ok(outcome) => DeleteResultEntry::Deleted {
                    key,
                    version_id,
                    delete_marker: outcome.delete_marker,
                    delete_marker_version_id: outcome
                        .delete_marker
                        .then(|| super::version_text(outcome.version_id)),
                },
                Err(e) => {
                    let e = map_error(e);
                    DeleteResultEntry::Error {
                        key,
                        version_id,
                        code: e.code.as_str().into(),
                        message: e.message,
                    }
                }
            });
        }
        let entries = entries
            .into_iter()
            .flatten()
            .filter(|e| !(document.quiet && matches!(e, DeleteResultEntry::Deleted { .. })))
            .collect();
        Ok(response::xml_response(xml::DeleteResult { entries }.to_xml()))
    }
}
