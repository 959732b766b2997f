//! Multipart upload operations: CreateMultipartUpload, UploadPart, UploadPartCopy,
//! CompleteMultipartUpload, AbortMultipartUpload, ListParts, ListMultipartUploads.
//! Reference: <https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateMultipartUpload.html>

use crate::objects::crypto::Encryption;
use crate::s3::encryption;
use http::{HeaderMap, Request, StatusCode};

use super::bucket::{owner, time_of};
use super::copy::{copy_source, copy_source_range};
use super::headers::{
    checksum_algorithm, checksum_request, content_headers, content_md5, header, incoming_body,
    set_checksum_headers, tagging_header, user_metadata,
};
use super::list::{Encoder, max_count};
use super::object::{PUT_SIZE_MAX, quoted};
use super::{Handlers, map_error, read_small_body};
use crate::access;
use crate::objects::checksum::{ChecksumAlgorithm, decode_checksum_value, encode_checksum_value};
use crate::objects::{
    CompletePart, CreateUpload, PART_NUMBER_MAX, PutPart, UploadsQuery, Versioning,
};
use crate::s3::Context;
use crate::s3::conditional::Preconditions;
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::response::{self, S3Response};
use crate::s3::xml::{self, XmlResponse};

/// Smallest part, except the last, that CompleteMultipartUpload accepts (AWS's limit).
pub const PART_SIZE_MIN: u64 = 5 << 20;
/// Largest CompleteMultipartUpload body: 10,000 parts with every checksum element.
const COMPLETE_BODY_BYTES_MAX: usize = 8 << 20;

fn upload_id(ctx: &Context) -> &str {
    ctx.query("uploadId").unwrap_or_default()
}

fn required_part_number(ctx: &Context) -> Result<u32, S3Error> {
    let raw = ctx.query("partNumber").unwrap_or_default();
    raw.parse::<u32>().ok().filter(|n| (1..=PART_NUMBER_MAX).contains(n)).ok_or_else(|| {
        S3Error::new(
            S3ErrorCode::InvalidArgument,
            format!("Part number must be an integer between 1 and {PART_NUMBER_MAX}, inclusive"),
        )
        .with("ArgumentName", "partNumber")
        .with("ArgumentValue", raw)
    })
}

/// The checksum fields of an XML result, filled for `algorithm` only.
fn checksum_field(
    algorithm: ChecksumAlgorithm,
    target: ChecksumAlgorithm,
    value: &str,
) -> Option<String> {
    (algorithm == target).then(|| value.to_owned())
}

fn checksum_type_name(full_object: bool) -> &'static str {
    if full_object { "FULL_OBJECT" } else { "COMPOSITE" }
}

impl Handlers<'_> {
    pub async fn create_multipart_upload(
        &self,
        ctx: &Context,
        headers: &HeaderMap,
    ) -> Result<S3Response, S3Error> {
        let bucket = self.bucket_for(ctx, access::PUT_OBJECT).await?;
        let algorithm = checksum_algorithm(headers)?;
        let requested_type = header(headers, "x-amz-checksum-type").map(str::to_ascii_uppercase);
        let full_object = match (requested_type.as_deref(), algorithm) {
            (None, Some(ChecksumAlgorithm::Crc64Nvme)) => true,
            (None | Some("COMPOSITE"), _) => false,
            (
                Some("FULL_OBJECT"),
                Some(
                    ChecksumAlgorithm::Crc32
                    | ChecksumAlgorithm::Crc32c
                    | ChecksumAlgorithm::Crc64Nvme,
                ),
            ) => true,
            (Some("FULL_OBJECT"), Some(a)) => {
                return Err(S3Error::new(
                    S3ErrorCode::InvalidRequest,
                    format!(
                        "The FULL_OBJECT checksum type cannot be used with the {a} checksum algorithm."
                    ),
                ));
            }
            (Some(other), _) => {
                return Err(S3Error::new(
                    S3ErrorCode::InvalidRequest,
                    format!("Unsupported checksum type {other}"),
                )
                .with("ArgumentName", "x-amz-checksum-type"));
            }
        };
        if matches!(algorithm, Some(ChecksumAlgorithm::Crc64Nvme)) && !full_object {
            return Err(S3Error::new(
                S3ErrorCode::InvalidRequest,
                "The COMPOSITE checksum type cannot be used with the CRC64NVME checksum algorithm.",
            ));
        }
        let (owner, acl) = self.new_object_owner_and_acl(headers, &bucket, ctx.principal()).await?;
        let sse = encryption::write_encryption(headers, self.objects.keyring())?;
        let customer_key = sse.as_ref().and_then(Encryption::customer_key).cloned();
        let create = CreateUpload {
            encryption: sse,
            acl,
            owner,
            headers: content_headers(headers),
            user_metadata: user_metadata(headers)?,
            tags: tagging_header(headers)?,
            checksum_algorithm: algorithm,
            checksum_full_object: full_object,
            lock: super::lock::object_lock_headers(headers)?,
        };
        let (upload_id, sealed) = self
            .objects
            .create_multipart_upload(ctx.bucket(), ctx.key(), create)
            .await
            .map_err(map_error)?;
        let result = xml::InitiateMultipartUploadResult {
            bucket: ctx.bucket().to_owned(),
            key: ctx.key().to_owned(),
            upload_id,
        };
        let mut response = response::xml_response(result.to_xml());
        if let Some(a) = algorithm {
            response::set_header(&mut response, "x-amz-checksum-algorithm", a.as_str());
            response::set_header(
                &mut response,
                "x-amz-checksum-type",
                checksum_type_name(full_object),
            );
        }
        encryption::set_headers(&mut response, sealed.as_ref(), customer_key.as_ref());
        Ok(response)
    }

    pub async fn upload_part<B>(
        &self,
        ctx: Context,
        request: Request<B>,
    ) -> Result<S3Response, S3Error>
    where
        B: http_body::Body<Data = bytes::Bytes> + Send + Unpin + 'static,
        B::Error: std::fmt::Display,
    {
        self.bucket_for(&ctx, access::PUT_OBJECT).await?;
        let part_number = required_part_number(&ctx)?;
        let (parts, body) = request.into_parts();
        let headers = &parts.headers;
        let incoming = incoming_body(ctx.payload.clone(), headers, body, PUT_SIZE_MAX)?;
        let customer_key = encryption::customer_key(headers, encryption::CUSTOMER)?;
        let part = PutPart {
            customer_key: customer_key.clone(),
            size_hint: incoming.size,
            content_md5: content_md5(headers)?,
            checksum: checksum_request(headers, &incoming.trailers)?,
            body: incoming.stream,
        };
        let info = self
            .objects
            .upload_part(ctx.bucket(), ctx.key(), upload_id(&ctx), part_number, part)
            .await
            .map_err(map_error)?;
        let mut response = response::status_only(StatusCode::OK);
        response::set_header(&mut response, "etag", &quoted(&info.etag));
        if let (Some(value), Some(algorithm)) = (&info.checksum, info.checksum_algorithm) {
            response::set_header(
                &mut response,
                algorithm.header_name(),
                &encode_checksum_value(value),
            );
        }
        encryption::set_headers(&mut response, info.encryption.as_ref(), customer_key.as_ref());
        Ok(response)
    }

    pub async fn upload_part_copy(
        &self,
        ctx: &Context,
        headers: &HeaderMap,
    ) -> Result<S3Response, S3Error> {
        self.bucket_for(ctx, access::PUT_OBJECT).await?;
        let part_number = required_part_number(ctx)?;
        let source = copy_source(headers)?;
        let (source_bucket, info) = self.copy_source_object(ctx, headers, &source).await?;
        let customer_key = encryption::customer_key(headers, encryption::CUSTOMER)?;
        Preconditions::from_copy_source_headers(headers)?
            .evaluate_copy_source(&quoted(info.etag()), time_of(info.last_modified_ms()))?;
        let (start, end) = match copy_source_range(headers, info.size())? {
            Some(r) => r,
            None => (0, info.size().saturating_sub(1)),
        };
        let length = if info.size() == 0 { 0 } else { end - start + 1 };
        let body = if length == 0 {
            Box::pin(futures_util::stream::empty()) as crate::objects::ByteStream
        } else {
            self.objects.open_object(&info, start, end).await.map_err(map_error)?
        };
        let part = PutPart {
            body,
            size_hint: Some(length),
            content_md5: None,
            checksum: None,
            customer_key: customer_key.clone(),
        };
        let part = self
            .objects
            .upload_part(ctx.bucket(), ctx.key(), upload_id(ctx), part_number, part)
            .await
            .map_err(map_error)?;
        let value = part.checksum.as_deref().map(encode_checksum_value);
        let field = |target| {
            part.checksum_algorithm
                .zip(value.as_deref())
                .and_then(|(a, v)| checksum_field(a, target, v))
        };
        let result = xml::CopyResult {
            last_modified: time_of(part.last_modified_ms),
            etag: quoted(&part.etag),
            checksum_type: None,
            crc32: field(ChecksumAlgorithm::Crc32),
            crc32c: field(ChecksumAlgorithm::Crc32c),
            crc64nvme: field(ChecksumAlgorithm::Crc64Nvme),
            sha1: field(ChecksumAlgorithm::Sha1),
            sha256: field(ChecksumAlgorithm::Sha256),
        };
        let mut response = response::xml_response(xml::to_xml("CopyPartResult", &result));
        encryption::set_headers(&mut response, part.encryption.as_ref(), customer_key.as_ref());
        if source_bucket.versioning != Versioning::Unversioned || info.version_id().is_some() {
            response::set_header(
                &mut response,
                "x-amz-copy-source-version-id",
                &super::version_text(info.version_id()),
            );
        }
        Ok(response)
    }

    pub async fn complete_multipart_upload<B>(
        &self,
        ctx: &Context,
        request: Request<B>,
    ) -> Result<S3Response, S3Error>
    where
        B: http_body::Body<Data = bytes::Bytes> + Send + Unpin + 'static,
        B::Error: std::fmt::Display,
    {
        self.bucket_for(ctx, access::PUT_OBJECT).await?;
        // A completed upload is gone, but a retried completion must still get its answer:
        // the objects layer recognises it, so a missing upload is not an error here.
        let customer_key = encryption::customer_key(request.headers(), encryption::CUSTOMER)?;
        let algorithm =
            match self.objects.upload_info(ctx.bucket(), ctx.key(), upload_id(ctx)).await {
                Ok(upload) => {
                    // An SSE-C upload completes only for the holder of its key, as its parts
                    // were sent.
                    let sealed = upload.encryption.as_ref();
                    self.objects.check_upload_key(sealed, customer_key.as_ref())?;
                    upload.checksum_algorithm
                }
                Err(crate::objects::Error::NoSuchUpload) => None,
                Err(e) => return Err(map_error(e)),
            };
        let condition = super::headers::write_condition(request.headers())?;
        // The client's checksum of the whole object (x-amz-checksum-<algorithm>), if it sent one.
        let whole: Option<(ChecksumAlgorithm, String)> =
            ChecksumAlgorithm::ALL.into_iter().find_map(|a| {
                let value = header(request.headers(), a.header_name())?;
                Some((a, value.to_owned()))
            });
        let body = read_small_body(request.into_body(), COMPLETE_BODY_BYTES_MAX).await?;
        let document: xml::CompleteMultipartUpload =
            xml::from_xml_with_root(&body, xml::CompleteMultipartUpload::ROOT)?;
        let parts = document
            .parts
            .into_iter()
            .map(|p| {
                let given = match algorithm {
                    Some(ChecksumAlgorithm::Crc32) => p.crc32,
                    Some(ChecksumAlgorithm::Crc32c) => p.crc32c,
                    Some(ChecksumAlgorithm::Crc64Nvme) => p.crc64nvme,
                    Some(ChecksumAlgorithm::Sha1) => p.sha1,
                    Some(ChecksumAlgorithm::Sha256) => p.sha256,
                    None => None,
                };
                let checksum = match (algorithm, given) {
                    (Some(a), Some(v)) => Some(decode_checksum_value(a, &v).ok_or_else(|| {
                        S3Error::new(S3ErrorCode::InvalidPart, "The part checksum is not valid.")
                            .with("PartNumber", p.part_number.to_string())
                    })?),
                    _ => None,
                };
                Ok(CompletePart { part_number: p.part_number, etag: p.etag, checksum })
            })
            .collect::<Result<Vec<_>, S3Error>>()?;
        let outcome = self
            .objects
            .complete_upload(
                ctx.bucket(),
                ctx.key(),
                upload_id(ctx),
                crate::objects::Completing {
                    parts: &parts,
                    part_size_min: PART_SIZE_MIN,
                    condition: condition.as_ref(),
                    checksum: whole.as_ref().map(|(a, v)| (*a, v.as_str())),
                },
            )
            .await
            .map_err(map_error)?;
        let value = outcome.checksum.as_ref().map(super::headers::checksum_value);
        let field = |target| {
            outcome
                .checksum
                .as_ref()
                .zip(value.as_deref())
                .and_then(|(c, v)| checksum_field(c.algorithm, target, v))
        };
        let result = xml::CompleteMultipartUploadResult {
            location: format!("/{}/{}", ctx.bucket(), ctx.key()),
            bucket: ctx.bucket().to_owned(),
            key: ctx.key().to_owned(),
            etag: quoted(&outcome.etag),
            crc32: field(ChecksumAlgorithm::Crc32),
            crc32c: field(ChecksumAlgorithm::Crc32c),
            crc64nvme: field(ChecksumAlgorithm::Crc64Nvme),
            sha1: field(ChecksumAlgorithm::Sha1),
            sha256: field(ChecksumAlgorithm::Sha256),
            checksum_type: outcome
                .checksum
                .as_ref()
                .map(|c| super::headers::checksum_type(c).to_owned()),
        };
        let mut response = response::xml_response(result.to_xml());
        super::set_version_header(&mut response, outcome.version_id, false);
        if let Some(c) = &outcome.checksum {
            set_checksum_headers(&mut response, c);
        }
        encryption::set_headers(&mut response, outcome.encryption.as_ref(), customer_key.as_ref());
        Ok(response)
    }

    pub async fn abort_multipart_upload(&self, ctx: &Context) -> Result<S3Response, S3Error> {
        self.bucket_for(ctx, access::ABORT_UPLOAD).await?;
        self.objects
            .abort_multipart_upload(ctx.bucket(), ctx.key(), upload_id(ctx))
            .await
            .map_err(map_error)?;
        Ok(response::status_only(StatusCode::NO_CONTENT))
    }

    pub async fn list_parts(&self, ctx: &Context) -> Result<S3Response, S3Error> {
        self.bucket_for(ctx, access::LIST_PARTS).await?;
        let max_parts = max_count(ctx, "max-parts")?;
        let marker = match ctx.query("part-number-marker") {
            None | Some("") => 0,
            Some(raw) => raw.parse::<u32>().map_err(|_| {
                S3Error::new(
                    S3ErrorCode::InvalidArgument,
                    "Provided part-number-marker not an integer or within integer range",
                )
                .with("ArgumentName", "part-number-marker")
            })?,
        };
        let page = self
            .objects
            .list_parts(ctx.bucket(), ctx.key(), upload_id(ctx), marker, max_parts)
            .await
            .map_err(map_error)?;
        let algorithm = page.upload.checksum_algorithm;
        let result = xml::ListPartsResult {
            bucket: ctx.bucket().to_owned(),
            key: ctx.key().to_owned(),
            upload_id: page.upload.upload_id.clone(),
            part_number_marker: marker,
            next_part_number_marker: page.next_part_number_marker,
            max_parts: u32::try_from(max_parts).unwrap_or(u32::MAX),
            is_truncated: page.is_truncated,
            parts: page
                .parts
                .iter()
                .map(|p| {
                    let value = p.checksum.as_deref().map(encode_checksum_value);
                    let field = |t| {
                        algorithm.zip(value.as_deref()).and_then(|(a, v)| checksum_field(a, t, v))
                    };
                    xml::PartEntry {
                        part_number: p.part_number,
                        last_modified: time_of(p.last_modified_ms),
                        etag: quoted(&p.etag),
                        size: p.size,
                        crc32: field(ChecksumAlgorithm::Crc32),
                        crc32c: field(ChecksumAlgorithm::Crc32c),
                        crc64nvme: field(ChecksumAlgorithm::Crc64Nvme),
                        sha1: field(ChecksumAlgorithm::Sha1),
                        sha256: field(ChecksumAlgorithm::Sha256),
                    }
                })
                .collect(),
            initiator: owner(&page.upload.owner),
            owner: owner(&page.upload.owner),
            storage_class: "STANDARD".into(),
            checksum_algorithm: algorithm.map(|a| a.as_str().to_owned()),
            checksum_type: algorithm
                .map(|_| checksum_type_name(page.upload.checksum_full_object).to_owned()),
        };
        Ok(response::xml_response(result.to_xml()))
    }

    pub async fn list_multipart_uploads(&self, ctx: &Context) -> Result<S3Response, S3Error> {
        self.bucket_for(ctx, access::LIST_UPLOADS).await?;
        let enc = Encoder::from(ctx)?;
        let max_uploads = max_count(ctx, "max-uploads")?;
        let key_marker = ctx.query("key-marker").filter(|m| !m.is_empty());
        let query = UploadsQuery {
            prefix: ctx.query("prefix").unwrap_or_default().to_owned(),
            delimiter: ctx.query("delimiter").filter(|d| !d.is_empty()).map(str::to_owned),
            key_marker: key_marker.map(str::to_owned),
            upload_id_marker: key_marker
                .and(ctx.query("upload-id-marker").filter(|m| !m.is_empty()).map(str::to_owned)),
            max_uploads,
        };
        let page =
            self.objects.list_multipart_uploads(ctx.bucket(), &query).await.map_err(map_error)?;
        let result = xml::ListMultipartUploadsResult {
            bucket: ctx.bucket().to_owned(),
            key_marker: enc.enc(key_marker.unwrap_or_default()),
            upload_id_marker: ctx.query("upload-id-marker").unwrap_or_default().to_owned(),
            next_key_marker: page
                .is_truncated
                .then(|| enc.opt(page.next_key_marker.as_deref()))
                .flatten(),
            next_upload_id_marker: page
                .is_truncated
                .then(|| page.next_upload_id_marker.clone())
                .flatten(),
            delimiter: enc.opt(ctx.query("delimiter").filter(|d| !d.is_empty())),
            prefix: enc.enc(ctx.query("prefix").unwrap_or_default()),
            max_uploads: u32::try_from(max_uploads).unwrap_or(u32::MAX),
            encoding_type: enc.name(),
            is_truncated: page.is_truncated,
            uploads: page
                .uploads
                .iter()
                .map(|u| xml::UploadEntry {
                    key: enc.enc(&u.key),
                    upload_id: u.upload_id.clone(),
                    initiator: owner(&u.owner),
                    owner: owner(&u.owner),
                    storage_class: "STANDARD".into(),
                    initiated: time_of(u.initiated_ms),
                    checksum_algorithm: u.checksum_algorithm.map(|a| a.as_str().to_owned()),
                    checksum_type: u
                        .checksum_algorithm
                        .map(|_| checksum_type_name(u.checksum_full_object).to_owned()),
                })
                .collect(),
            common_prefixes: page
                .common_prefixes
                .iter()
                .map(|p| xml::UploadPrefix { prefix: enc.enc(p) })
                .collect(),
        };
        Ok(response::xml_response(result.to_xml()))
    }
}
