//! Object operations: PutObject, GetObject, HeadObject, DeleteObject.
//! Reference: <https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html>

use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use futures_util::StreamExt;
use http::{HeaderMap, Request, StatusCode};

use super::bucket::time_of;
use super::{Handlers, map_error};
use crate::objects::checksum::{ChecksumAlgorithm, decode_checksum_value, encode_checksum_value};
use crate::objects::{
    Access, BodyError, ChecksumRequest, ContentHeaders, ExpectedChecksum, ObjectInfo, PutObject,
};
use crate::s3::Context;
use crate::s3::auth::{PayloadMode, verified_body};
use crate::s3::conditional::Preconditions;
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::range::{content_range, parse_range, unsatisfied_content_range};
use crate::s3::response::{self, S3Response};

/// Largest object a single PUT accepts (AWS's limit).
const PUT_SIZE_MAX: u64 = 5 << 30;
/// Largest total size of `x-amz-meta-*` names and values (AWS's limit).
const USER_METADATA_BYTES_MAX: usize = 2 << 10;

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn parse_length(headers: &HeaderMap, name: &str) -> Result<Option<u64>, S3Error> {
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

fn content_headers(headers: &HeaderMap) -> ContentHeaders {
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
                    .join(",")
            })
            .filter(|v| !v.is_empty()),
        content_disposition: get("content-disposition"),
        content_language: get("content-language"),
        cache_control: get("cache-control"),
        expires: get("expires"),
    }
}

fn user_metadata(headers: &HeaderMap) -> Result<Vec<(String, String)>, S3Error> {
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

fn content_md5(headers: &HeaderMap) -> Result<Option<[u8; 16]>, S3Error> {
    let Some(v) = headers.get("content-md5") else { return Ok(None) };
    v.to_str()
        .ok()
        .and_then(|s| BASE64.decode(s.trim()).ok())
        .and_then(|b| <[u8; 16]>::try_from(b.as_slice()).ok())
        .map(Some)
        .ok_or_else(|| S3ErrorCode::InvalidDigest.into())
}

/// The checksum the client asks for: a value header, a trailer, or an algorithm alone.
fn checksum_request(
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
    if let Some(name) = header(headers, "x-amz-sdk-checksum-algorithm")
        .or_else(|| header(headers, "x-amz-checksum-algorithm"))
    {
        let algorithm = ChecksumAlgorithm::from_name(name.trim()).ok_or_else(|| {
            S3Error::new(
                S3ErrorCode::InvalidRequest,
                format!("Checksum algorithm {name} is not supported."),
            )
        })?;
        return Ok(Some(ChecksumRequest { algorithm, expected: ExpectedChecksum::Compute }));
    }
    Ok(None)
}

fn quoted(etag: &str) -> String {
    format!("\"{etag}\"")
}

impl Handlers<'_> {
    pub async fn put_object<B>(
        &self,
        ctx: Context,
        request: Request<B>,
    ) -> Result<S3Response, S3Error>
    where
        B: http_body::Body<Data = bytes::Bytes> + Send + Unpin + 'static,
        B::Error: std::fmt::Display,
    {
        self.bucket_for(&ctx, Access::Write).await?;
        let (parts, body) = request.into_parts();
        let headers = &parts.headers;
        let content_length = parse_length(headers, "content-length")?;
        let decoded_length = parse_length(headers, "x-amz-decoded-content-length")?;
        let streaming = matches!(
            ctx.payload,
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
        let object_size = if streaming { decoded_length } else { content_length };
        if object_size.is_some_and(|n| n > PUT_SIZE_MAX) {
            return Err(S3Error::from(S3ErrorCode::EntityTooLarge)
                .with("MaxSizeAllowed", PUT_SIZE_MAX.to_string()));
        }
        let trailers = Arc::new(Mutex::new(Vec::new()));
        let put = PutObject {
            owner: ctx.access_key_id.clone(),
            size_hint: object_size,
            headers: content_headers(headers),
            user_metadata: user_metadata(headers)?,
            content_md5: content_md5(headers)?,
            checksum: checksum_request(headers, &trailers)?,
            body: Box::pin(
                verified_body(
                    http_body_util::BodyDataStream::new(body),
                    ctx.payload,
                    content_length,
                    decoded_length,
                    trailers.clone(),
                )
                .map(|r| r.map_err(|e| BodyError(Box::new(e)))),
            ),
        };
        let outcome = self
            .objects
            .put_object(
                ctx.bucket.as_deref().unwrap_or_default(),
                ctx.key.as_deref().unwrap_or_default(),
                put,
            )
            .await
            .map_err(map_error)?;
        let mut response = response::status_only(StatusCode::OK);
        response::set_header(&mut response, "etag", &quoted(&outcome.etag));
        if let Some(c) = &outcome.checksum {
            response::set_header(
                &mut response,
                c.algorithm.header_name(),
                &encode_checksum_value(&c.value),
            );
            response::set_header(&mut response, "x-amz-checksum-type", "FULL_OBJECT");
        }
        Ok(response)
    }

    pub async fn get_object(
        &self,
        ctx: &Context,
        headers: &HeaderMap,
        head_only: bool,
    ) -> Result<S3Response, S3Error> {
        self.bucket_for(ctx, Access::Read).await?;
        if let Some(v) = ctx.query("versionId").filter(|v| *v != "null") {
            return Err(S3Error::new(S3ErrorCode::InvalidArgument, "Invalid version id specified")
                .with("ArgumentName", "versionId")
                .with("ArgumentValue", v));
        }
        let info = self.objects.head_object(ctx.bucket(), ctx.key()).await.map_err(map_error)?;
        let last_modified = time_of(info.last_modified_ms());
        Preconditions::from_headers(headers)?.evaluate(&quoted(info.etag()), last_modified)?;
        let size = info.size();
        let range = match header(headers, "range").and_then(parse_range) {
            Some(r) => Some(
                r.resolve(size)
                    .map_err(|e| e.with_header("content-range", unsatisfied_content_range(size)))?,
            ),
            None => None,
        };
        let (status, start, end) = match range {
            Some((s, e)) => (StatusCode::PARTIAL_CONTENT, s, e),
            None => (StatusCode::OK, 0, size.saturating_sub(1)),
        };
        let length = if size == 0 { 0 } else { end - start + 1 };
        let body = if head_only || length == 0 {
            response::empty()
        } else {
            response::streaming(self.objects.read_object(&info, start, end))
        };
        let mut response = http::Response::new(body);
        *response.status_mut() = status;
        self.object_headers(&mut response, ctx, &info, headers, range.is_none());
        response::set_header(&mut response, "content-length", &length.to_string());
        if let Some((s, e)) = range {
            response::set_header(&mut response, "content-range", &content_range(s, e, size));
        }
        Ok(response)
    }

    fn object_headers(
        &self,
        response: &mut S3Response,
        ctx: &Context,
        info: &ObjectInfo,
        headers: &HeaderMap,
        whole: bool,
    ) {
        let stored = info.headers();
        let pick = |over: &str, stored: &Option<String>| {
            ctx.query(over).map(str::to_owned).or_else(|| stored.clone())
        };
        let content_type = pick("response-content-type", &stored.content_type)
            .unwrap_or_else(|| "binary/octet-stream".into());
        response::set_header(response, "content-type", &content_type);
        for (name, over, value) in [
            ("content-encoding", "response-content-encoding", &stored.content_encoding),
            ("content-disposition", "response-content-disposition", &stored.content_disposition),
            ("content-language", "response-content-language", &stored.content_language),
            ("cache-control", "response-cache-control", &stored.cache_control),
            ("expires", "response-expires", &stored.expires),
        ] {
            if let Some(v) = pick(over, value) {
                response::set_header(response, name, &v);
            }
        }
        response::set_header(response, "etag", &quoted(info.etag()));
        let modified = httpdate::fmt_http_date(time_of(info.last_modified_ms()).into());
        response::set_header(response, "last-modified", &modified);
        response::set_header(response, "accept-ranges", "bytes");
        for (name, value) in info.user_metadata() {
            if let (Ok(n), Ok(v)) = (
                http::HeaderName::from_bytes(format!("x-amz-meta-{name}").as_bytes()),
                http::HeaderValue::from_str(value),
            ) {
                response.headers_mut().insert(n, v);
            }
        }
        let checksum_mode = header(headers, "x-amz-checksum-mode")
            .is_some_and(|m| m.eq_ignore_ascii_case("enabled"));
        if let (true, true, Some(c)) = (checksum_mode, whole, info.checksum()) {
            response::set_header(
                response,
                c.algorithm.header_name(),
                &encode_checksum_value(&c.value),
            );
            response::set_header(response, "x-amz-checksum-type", "FULL_OBJECT");
        }
    }

    pub async fn delete_object(&self, ctx: &Context) -> Result<S3Response, S3Error> {
        self.bucket_for(ctx, Access::Write).await?;
        self.objects.delete_object(ctx.bucket(), ctx.key()).await.map_err(map_error)?;
        Ok(response::status_only(StatusCode::NO_CONTENT))
    }
}
