//! Reading request headers into objects-layer values, and writing checksum response headers:
//! shared by PutObject, UploadPart, CopyObject and CreateMultipartUpload.

use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use futures_util::StreamExt;
use http::HeaderMap;

use crate::objects::checksum::{ChecksumAlgorithm, decode_checksum_value, encode_checksum_value};
use crate::objects::{
    BodyError, ByteStream, ChecksumKind, ChecksumRequest, ContentHeaders, DeleteCondition,
    ExpectedChecksum, StoredChecksum, WriteCondition,
};
use crate::s3::auth::{PayloadMode, verified_body};
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::response::{self, S3Response};

/// Largest total size of `x-amz-meta-*` names and values (AWS's limit).
const USER_METADATA_BYTES_MAX: usize = 2 << 10;
/// Most tags on an object (AWS's limit).
pub const OBJECT_TAGS_MAX: usize = 10;
/// Most tags on a bucket (AWS's limit).
pub const BUCKET_TAGS_MAX: usize = 50;

pub fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

pub fn parse_length(headers: &HeaderMap, name: &str) -> Result<Option<u64>, S3Error> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => {
            v.to_str().ok().and_then(|s| s.trim().parse::<u64>().ok()).map(Some).ok_or_else(|| {
                S3Error::new(
                    S3ErrorCode::InvalidArgument,
                    format!("The {name} header is not a valid length."),
                )
                .with("ArgumentName", name.to_owned())
            })
        }
    }
}

pub fn content_headers(headers: &HeaderMap) -> ContentHeaders {
    let get = |name: &str| header(headers, name).map(str::to_owned);
    ContentHeaders {
        content_type: get("content-type"),
        content_encoding: get("content-encoding")
            .map(|v| {
                // aws-chunked is a transfer detail of this request, not a property of the object.
                v.split(',')
                    .map(str::trim)
                    .filter(|e| !e.eq_ignore_ascii_case("aws-chunked"))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .filter(|v| !v.is_empty()),
        content_disposition: get("content-disposition"),
        content_language: get("content-language"),
        cache_control: get("cache-control"),
        expires: get("expires"),
    }
}

pub fn user_metadata(headers: &HeaderMap) -> Result<Vec<(String, String)>, S3Error> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut total = 0;
    for (name, value) in headers {
        if let Some(meta) = name.as_str().strip_prefix("x-amz-meta-") {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            total += meta.len() + value.len();
            match out.iter_mut().find(|(n, _)| n == meta) {
                Some((_, v)) => {
                    v.push(',');
                    v.push_str(&value);
                }
                None => out.push((meta.to_owned(), value)),
            }
        }
    }
    if total > USER_METADATA_BYTES_MAX {
        return Err(S3Error::from(S3ErrorCode::MetadataTooLarge)
            .with("Size", total.to_string())
            .with("MaxSizeAllowed", USER_METADATA_BYTES_MAX.to_string()));
    }
    Ok(out)
}

pub fn content_md5(headers: &HeaderMap) -> Result<Option<[u8; 16]>, S3Error> {
    let Some(v) = headers.get("content-md5") else { return Ok(None) };
    v.to_str()
        .ok()
        .and_then(|s| BASE64.decode(s.trim()).ok())
        .and_then(|b| <[u8; 16]>::try_from(b.as_slice()).ok())
        .map(Some)
        .ok_or_else(|| S3ErrorCode::InvalidDigest.into())
}

/// The checksum the client asks for: a value header, a trailer, or an algorithm alone.
pub fn checksum_request(
    headers: &HeaderMap,
    trailers: &Arc<Mutex<Vec<(String, String)>>>,
) -> Result<Option<ChecksumRequest>, S3Error> {
    let mut given = ChecksumAlgorithm::ALL.iter().filter(|a| headers.contains_key(a.header_name()));
    if let Some(algorithm) = given.next() {
        if given.next().is_some() {
            return Err(S3Error::new(
                S3ErrorCode::InvalidRequest,
                "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.",
            ));
        }
        let raw = header(headers, algorithm.header_name()).unwrap_or_default();
        let value = decode_checksum_value(*algorithm, raw.trim()).ok_or_else(|| {
            S3Error::new(
                S3ErrorCode::InvalidRequest,
                format!("Value for {} header is invalid.", algorithm.header_name()),
            )
        })?;
        return Ok(Some(ChecksumRequest {
            algorithm: *algorithm,
            expected: ExpectedChecksum::Value(value),
        }));
    }
    if let Some(trailer) = header(headers, "x-amz-trailer") {
        let name = trailer.trim().to_ascii_lowercase();
        let algorithm = ChecksumAlgorithm::from_header_name(&name).ok_or_else(|| {
            S3Error::new(
                S3ErrorCode::InvalidRequest,
                format!("The trailer {name} is not a supported checksum."),
            )
        })?;
        return Ok(Some(ChecksumRequest {
            algorithm,
            expected: ExpectedChecksum::Trailer { header: name, slot: trailers.clone() },
        }));
    }
    match checksum_algorithm(headers)? {
        Some(algorithm) => {
            Ok(Some(ChecksumRequest { algorithm, expected: ExpectedChecksum::Compute }))
        }
        None => Ok(None),
    }
}

/// An algorithm named by `x-amz-sdk-checksum-algorithm` or `x-amz-checksum-algorithm`.
pub fn checksum_algorithm(headers: &HeaderMap) -> Result<Option<ChecksumAlgorithm>, S3Error> {
    let Some(name) = header(headers, "x-amz-sdk-checksum-algorithm")
        .or_else(|| header(headers, "x-amz-checksum-algorithm"))
    else {
        return Ok(None);
    };
    ChecksumAlgorithm::from_name(name.trim()).map(Some).ok_or_else(|| {
        S3Error::new(
            S3ErrorCode::InvalidRequest,
            format!("Checksum algorithm {name} is not supported."),
        )
        .with("ArgumentName", "x-amz-checksum-algorithm")
    })
}

/// A request body with its declared size, verified as it streams (signatures, SHA-256, lengths).
pub struct IncomingBody {
    pub stream: ByteStream,
    /// The payload size the client declared, when it did.
    pub size: Option<u64>,
    pub trailers: Arc<Mutex<Vec<(String, String)>>>,
}

/// Checks the length headers and wraps the body in its verifying stream.
pub fn incoming_body<B>(
    payload: PayloadMode,
    headers: &HeaderMap,
    body: B,
    size_max: u64,
) -> Result<IncomingBody, S3Error>
where
    B: http_body::Body<Data = bytes::Bytes> + Send + Unpin + 'static,
    B::Error: std::fmt::Display,
{
    let content_length = parse_length(headers, "content-length")?;
    let decoded_length = parse_length(headers, "x-amz-decoded-content-length")?;
    let streaming = matches!(
        payload,
        PayloadMode::StreamingSigned { .. } | PayloadMode::StreamingUnsignedTrailer
    );
    let chunked_transfer =
        header(headers, "transfer-encoding").is_some_and(|t| t.contains("chunked"));
    if content_length.is_none() && !chunked_transfer {
        return Err(S3ErrorCode::MissingContentLength.into());
    }
    if streaming && decoded_length.is_none() {
        return Err(S3Error::new(
            S3ErrorCode::MissingContentLength,
            "You must provide the x-amz-decoded-content-length header.",
        ));
    }
    let size = if streaming { decoded_length } else { content_length };
    if size.is_some_and(|n| n > size_max) {
        return Err(
            S3Error::from(S3ErrorCode::EntityTooLarge).with("MaxSizeAllowed", size_max.to_string())
        );
    }
    let trailers = Arc::new(Mutex::new(Vec::new()));
    let stream = verified_body(
        http_body_util::BodyDataStream::new(body),
        payload,
        content_length,
        decoded_length,
        trailers.clone(),
    )
    .map(|r| r.map_err(|e| BodyError(Box::new(e))));
    Ok(IncomingBody { stream: Box::pin(stream), size, trailers })
}

/// The header value of a stored checksum: base64, with `-N` for a composite one.
pub fn checksum_value(checksum: &StoredChecksum) -> String {
    match checksum.kind {
        ChecksumKind::FullObject => encode_checksum_value(&checksum.value),
        ChecksumKind::Composite { parts } => {
            format!("{}-{parts}", encode_checksum_value(&checksum.value))
        }
    }
}

pub fn checksum_type(checksum: &StoredChecksum) -> &'static str {
    match checksum.kind {
        ChecksumKind::FullObject => "FULL_OBJECT",
        ChecksumKind::Composite { .. } => "COMPOSITE",
    }
}

/// Sets `x-amz-checksum-<algorithm>` and `x-amz-checksum-type`.
pub fn set_checksum_headers(response: &mut S3Response, checksum: &StoredChecksum) {
    response::set_header(response, checksum.algorithm.header_name(), &checksum_value(checksum));
    response::set_header(response, "x-amz-checksum-type", checksum_type(checksum));
}

/// The condition of a conditional write: `If-None-Match` (`*` or an ETag) or `If-Match`.
pub fn write_condition(headers: &HeaderMap) -> Result<Option<WriteCondition>, S3Error> {
    if let Some(v) = header(headers, "if-none-match") {
        return Ok(Some(WriteCondition::IfNoneMatch(v.trim().to_owned())));
    }
    Ok(header(headers, "if-match").map(|v| WriteCondition::IfMatch(v.trim().to_owned())))
}

/// The conditions of a DeleteObject: `If-Match`, `x-amz-if-match-last-modified-time` (an HTTP
/// date) and `x-amz-if-match-size`.
pub fn delete_condition(headers: &HeaderMap) -> Result<DeleteCondition, S3Error> {
    let invalid = |name: &str| {
        S3Error::new(S3ErrorCode::InvalidArgument, format!("Invalid value for {name}."))
            .with("ArgumentName", name)
    };
    let last_modified_ms = match header(headers, "x-amz-if-match-last-modified-time") {
        None => None,
        Some(v) => {
            let time = httpdate::parse_http_date(v.trim())
                .or_else(|_| {
                    chrono::DateTime::parse_from_rfc3339(v.trim())
                        .map(|t| std::time::SystemTime::from(t.with_timezone(&chrono::Utc)))
                })
                .map_err(|_| invalid("x-amz-if-match-last-modified-time"))?;
            Some(chrono::DateTime::<chrono::Utc>::from(time).timestamp_millis())
        }
    };
    let size = match header(headers, "x-amz-if-match-size") {
        None => None,
        Some(v) => Some(v.trim().parse().map_err(|_| invalid("x-amz-if-match-size"))?),
    };
    Ok(DeleteCondition {
        etag: header(headers, "if-match").map(|v| v.trim().to_owned()),
        last_modified_ms,
        size,
    })
}

/// Parses a tag set in the `x-amz-tagging` form (`k1=v1&k2=v2`, URL-encoded).
pub fn tagging_header(headers: &HeaderMap) -> Result<Vec<(String, String)>, S3Error> {
    let Some(raw) = header(headers, "x-amz-tagging") else { return Ok(Vec::new()) };
    let mut tags = Vec::new();
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(&s.replace('+', " "))
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|_| S3Error::new(S3ErrorCode::InvalidTag, "The tag is not valid UTF-8."))
        };
        tags.push((decode(k)?, decode(v)?));
    }
    validate_tags(&tags, OBJECT_TAGS_MAX)?;
    Ok(tags)
}

/// S3's tag rules: at most `max` tags, unique keys of 1..=128 characters, values up to 256,
/// no `aws:` prefix.
pub fn validate_tags(tags: &[(String, String)], max: usize) -> Result<(), S3Error> {
    let invalid = |message: String| Err(S3Error::new(S3ErrorCode::InvalidTag, message));
    if tags.len() > max {
        return invalid(format!("Object tags cannot be greater than {max}"));
    }
    for (i, (k, v)) in tags.iter().enumerate() {
        if k.is_empty() || k.chars().count() > 128 {
            return invalid("The TagKey you have provided is invalid".into());
        }
        if v.chars().count() > 256 {
            return invalid("The TagValue you have provided is invalid".into());
        }
        if k.starts_with("aws:") {
            return invalid("Your TagKey cannot be prefixed with aws:".into());
        }
        if tags[..i].iter().any(|(other, _)| other == k) {
            return invalid("Cannot provide multiple Tags with the same key".into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tagging_header_decodes_and_validates() {
        let mut headers = HeaderMap::new();
        headers.insert("x-amz-tagging", "a=1&b%20c=d%26e&empty=".parse().unwrap());
        let tags = tagging_header(&headers).unwrap();
        assert_eq!(
            tags,
            vec![
                ("a".into(), "1".into()),
                ("b c".into(), "d&e".into()),
                ("empty".into(), String::new())
            ]
        );
        headers.insert("x-amz-tagging", "a=1&a=2".parse().unwrap());
        assert_eq!(tagging_header(&headers).unwrap_err().code, S3ErrorCode::InvalidTag);
    }

    #[test]
    fn tag_limits_are_enforced() {
        let eleven: Vec<_> = (0..11).map(|i| (format!("k{i}"), String::new())).collect();
        assert!(validate_tags(&eleven, OBJECT_TAGS_MAX).is_err());
        assert!(validate_tags(&eleven, BUCKET_TAGS_MAX).is_ok());
        assert!(validate_tags(&[("k".repeat(129), String::new())], 10).is_err());
        assert!(validate_tags(&[("k".into(), "v".repeat(257))], 10).is_err());
        assert!(validate_tags(&[("aws:x".into(), String::new())], 10).is_err());
    }
}
