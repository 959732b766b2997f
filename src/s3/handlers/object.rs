//! Object operations: PutObject, GetObject (also by part number), HeadObject, DeleteObject.
//! Reference: <https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html>

use crate::objects::crypto::Encryption;
use http::{HeaderMap, Request, StatusCode};

use super::bucket::time_of;
use super::headers::{
    checksum_request, content_headers, content_md5, header, incoming_body, set_checksum_headers,
    tagging_header, user_metadata, write_condition,
};
use super::{Handlers, map_error, set_version_header, version_param, version_text};
use crate::access;
use crate::objects::checksum::encode_checksum_value;
use crate::objects::{ObjectInfo, PART_NUMBER_MAX, PutObject, Versioning};
use crate::s3::Context;
use crate::s3::conditional::Preconditions;
use crate::s3::encryption;
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::range::{content_range, parse_range, unsatisfied_content_range};
use crate::s3::response::{self, S3Response};

/// Largest object a single PUT accepts (AWS's limit).
pub const PUT_SIZE_MAX: u64 = 5 << 30;

pub fn quoted(etag: &str) -> String {
    format!("\"{etag}\"")
}

/// The `partNumber` query parameter, validated.
pub fn part_number(ctx: &Context) -> Result<Option<u32>, S3Error> {
    let Some(raw) = ctx.query("partNumber") else { return Ok(None) };
    raw.parse::<u32>().ok().filter(|n| (1..=PART_NUMBER_MAX).contains(n)).map(Some).ok_or_else(
        || {
            S3Error::new(
                S3ErrorCode::InvalidArgument,
                format!(
                    "Part number must be an integer between 1 and {PART_NUMBER_MAX}, inclusive"
                ),
            )
            .with("ArgumentName", "partNumber")
            .with("ArgumentValue", raw)
        },
    )
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
        let bucket = self.bucket_for(&ctx, access::PUT_OBJECT).await?;
        let (parts, body) = request.into_parts();
        let headers = &parts.headers;
        let incoming = incoming_body(ctx.payload.clone(), headers, body, PUT_SIZE_MAX)?;
        let (owner, acl) = self.new_object_owner_and_acl(headers, &bucket, ctx.principal()).await?;
        let sse = encryption::write_encryption(headers, self.objects.keyring())?;
        let customer_key = sse.as_ref().and_then(Encryption::customer_key).cloned();
        let put = PutObject {
            encryption: sse,
            lock: super::lock::object_lock_headers(headers)?,
            condition: write_condition(headers)?,
            acl,
            owner,
            size_hint: incoming.size,
            headers: content_headers(headers),
            user_metadata: user_metadata(headers)?,
            tags: tagging_header(headers)?,
            content_md5: content_md5(headers)?,
            checksum: checksum_request(headers, &incoming.trailers)?,
            body: incoming.stream,
        };
        let (size, tags) = (incoming.size.unwrap_or(0), put.tags.clone());
        let outcome =
            self.objects.put_object(ctx.bucket(), ctx.key(), put).await.map_err(map_error)?;
        let mut response = response::status_only(StatusCode::OK);
        let modified = outcome.last_modified_ms;
        self.set_expiration_header(&mut response, &bucket, ctx.key(), size, &tags, modified);
        response::set_header(&mut response, "etag", &quoted(&outcome.etag));
        // A write to a suspended bucket makes the null version, and S3 names no version then.
        set_version_header(&mut response, outcome.version_id, false);
        if let Some(c) = &outcome.checksum {
            set_checksum_headers(&mut response, c);
        }
        encryption::set_headers(&mut response, outcome.encryption.as_ref(), customer_key.as_ref());
        Ok(response)
    }

    pub async fn get_object(
        &self,
        ctx: &Context,
        headers: &HeaderMap,
        head_only: bool,
    ) -> Result<S3Response, S3Error> {
        let version = version_param(ctx)?;
        let action =
            if version.is_some() { access::GET_OBJECT_VERSION } else { access::GET_OBJECT };
        let (bucket, gate) = self.object_access(ctx, action).await?;
        let part = part_number(ctx)?;
        let range_header = header(headers, "range");
        if part.is_some() && range_header.is_some() {
            return Err(S3Error::new(
                S3ErrorCode::InvalidRequest,
                "Cannot specify both Range header and partNumber query parameter",
            ));
        }
        encryption::refuse_write_headers(headers)?;
        let customer_key = encryption::customer_key(headers, encryption::CUSTOMER)?;
        let mut info =
            self.objects.object_version(ctx.bucket(), ctx.key(), version).await.map_err(|e| {
                // A key with nothing at all says so, as one whose current version is a
                // delete marker says `true`.
                let nothing = matches!(e, crate::objects::Error::NoSuchKey);
                let error = gate.missing(&bucket, ctx, e);
                if nothing && error.code == S3ErrorCode::NoSuchKey {
                    error.with_header("x-amz-delete-marker", "false")
                } else {
                    error
                }
            })?;
        gate.check(&bucket, ctx, &info)?;
        self.objects.unlock(&mut info, customer_key.as_ref())?;
        let last_modified = time_of(info.last_modified_ms());
        Preconditions::from_headers(headers)?
            .evaluate(&quoted(info.etag()), last_modified)
            .map_err(|e| {
                // A 304 still names the version it refers to (RFC 9110, 15.4.5).
                if e.code == S3ErrorCode::NotModified {
                    e.with_header("etag", quoted(info.etag()))
                        .with_header("last-modified", httpdate::fmt_http_date(last_modified.into()))
                } else {
                    e
                }
            })?;
        let size = info.size();
        let mut part_checksum = None;
        let range = match (part, range_header.and_then(parse_range)) {
            (Some(n), _) if info.part_count() > 0 => {
                let (start, end, checksum) = info.part(n as usize).ok_or_else(|| {
                    S3Error::from(S3ErrorCode::InvalidPartNumber)
                        .with("PartNumberRequested", n.to_string())
                })?;
                part_checksum = checksum.map(<[u8]>::to_vec);
                (size > 0).then_some((start, end))
            }
            (Some(1), _) => None,
            (Some(n), _) => {
                return Err(S3Error::from(S3ErrorCode::InvalidPartNumber)
                    .with("PartNumberRequested", n.to_string())
                    .with("ActualPartCount", "1"));
            }
            (None, Some(r)) => Some(
                r.resolve(size)
                    .map_err(|e| e.with_header("content-range", unsatisfied_content_range(size)))?,
            ),
            (None, None) => None,
        };
        let (status, start, end) = match range {
            Some((s, e)) => (StatusCode::PARTIAL_CONTENT, s, e),
            None => (StatusCode::OK, 0, size.saturating_sub(1)),
        };
        let length = if size == 0 || end < start { 0 } else { end - start + 1 };
        let body = if head_only || length == 0 {
            response::empty()
        } else {
            response::streaming(
                self.objects.open_object(&info, start, end).await.map_err(map_error)?,
            )
        };
        let mut response = http::Response::new(body);
        *response.status_mut() = status;
        self.object_headers(&mut response, ctx, &info, headers, range.is_none());
        super::lock::set_lock_headers(&mut response, &info);
        encryption::set_headers(&mut response, info.encryption(), customer_key.as_ref());
        let modified = info.last_modified_ms();
        self.set_expiration_header(&mut response, &bucket, ctx.key(), size, info.tags(), modified);
        set_version_header(
            &mut response,
            info.version_id(),
            bucket.versioning != Versioning::Unversioned,
        );
        response::set_header(&mut response, "content-length", &length.to_string());
        if let Some((s, e)) = range {
            response::set_header(&mut response, "content-range", &content_range(s, e, size));
        }
        if part.is_some() && info.part_count() > 0 {
            response::set_header(
                &mut response,
                "x-amz-mp-parts-count",
                &info.part_count().to_string(),
            );
            let checksum_mode = header(headers, "x-amz-checksum-mode")
                .is_some_and(|m| m.eq_ignore_ascii_case("enabled"));
            if let (true, Some(value), Some(c)) = (checksum_mode, part_checksum, info.checksum()) {
                response::set_header(
                    &mut response,
                    c.algorithm.header_name(),
                    &encode_checksum_value(&value),
                );
                let kind = super::headers::checksum_type(c);
                response::set_header(&mut response, "x-amz-checksum-type", kind);
            }
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
        if !info.tags().is_empty() {
            response::set_header(response, "x-amz-tagging-count", &info.tags().len().to_string());
        }
        let checksum_mode = header(headers, "x-amz-checksum-mode")
            .is_some_and(|m| m.eq_ignore_ascii_case("enabled"));
        if let (true, true, Some(c)) = (checksum_mode, whole, info.checksum()) {
            set_checksum_headers(response, c);
        }
    }

    pub async fn delete_object(
        &self,
        ctx: &Context,
        headers: &HeaderMap,
    ) -> Result<S3Response, S3Error> {
        let version = version_param(ctx)?;
        let action =
            if version.is_some() { access::DELETE_OBJECT_VERSION } else { access::DELETE_OBJECT };
        let bucket = self.bucket_for(ctx, action).await?;
        let condition = super::headers::delete_condition(headers)?;
        let bypass = super::lock::bypass_governance(headers, &bucket, ctx);
        let outcome = match version {
            Some(version) => {
                let (name, key) = (ctx.bucket(), ctx.key());
                self.objects.delete_version(name, key, version, &condition, bypass).await
            }
            None => {
                let owner = ctx.writer(&bucket);
                self.objects.delete_object(ctx.bucket(), ctx.key(), &owner, &condition).await
            }
        }
        .map_err(map_error)?;
        let mut response = response::status_only(StatusCode::NO_CONTENT);
        if outcome.versioned || outcome.version_id.is_some() {
            response::set_header(
                &mut response,
                "x-amz-version-id",
                &version_text(outcome.version_id),
            );
        }
        if outcome.delete_marker {
            response::set_header(&mut response, "x-amz-delete-marker", "true");
        }
        Ok(response)
    }
}
