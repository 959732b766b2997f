//! POST object: browser form uploads. The form's fields are read up to the file (fields after
//! it are ignored, as S3 does), the signature and policy checked, and the file streamed into a
//! PutObject as it arrives, never buffered whole; its size is held to the policy's
//! content-length-range while it streams.
//! Reference: <https://docs.aws.amazon.com/AmazonS3/latest/API/RESTObjectPOST.html>

use crate::objects::crypto::Encryption;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode};

use super::headers::{checksum_request, content_headers, header, user_metadata, validate_tags};
use super::object::{PUT_SIZE_MAX, quoted};
use super::{Handlers, map_error};
use crate::access::{self, Asking, Verdict};
use crate::objects::{BodyError, ByteStream, PutObject};
use crate::s3::Context;
use crate::s3::auth::{FormSignature, authenticate_form};
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::post_policy::PostPolicy;
use crate::s3::request::KEY_LEN_MAX;
use crate::s3::response::{self, S3Response};
use crate::s3::xml::{self, Tagging};

/// What the redirect's query values keep unescaped: RFC 3986's unreserved characters.
const QUERY_VALUE: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Most bytes of form fields before the file (S3 allows 20 KB).
const FIELDS_BYTES_MAX: usize = 20 << 10;

/// The success document of `success_action_status=201`.
#[derive(Debug)]
struct PostResponse {
    location: String,
    bucket: String,
    key: String,
    etag: String,
}

impl PostResponse {
    /// Without a namespace: browser code reads it with plain element lookups, as S3 sends it.
    fn to_document(&self) -> String {
        let e = |s: &str| quick_xml::escape::escape(s).into_owned();
        format!(
            "{}<PostResponse><Location>{}</Location><Bucket>{}</Bucket><Key>{}</Key><ETag>{}</ETag></PostResponse>",
            xml::XML_DECLARATION,
            e(&self.location),
            e(&self.bucket),
            e(&self.key),
            e(&self.etag)
        )
    }
}

fn malformed(why: impl std::fmt::Display) -> S3Error {
    S3Error::new(
        S3ErrorCode::MalformedPOSTRequest,
        format!("The body of your POST request is not well-formed multipart/form-data: {why}"),
    )
}

/// The file as it streams, held to `min..=max` bytes.
struct SizedFile {
    inner: multer::Field<'static>,
    seen: u64,
    min: u64,
    max: u64,
}

impl Stream for SizedFile {
    type Item = Result<Bytes, BodyError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                this.seen += chunk.len() as u64;
                if this.seen > this.max {
                    let err = S3Error::new(
                        S3ErrorCode::EntityTooLarge,
                        "Your proposed upload exceeds the maximum allowed size",
                    )
                    .with("MaxSizeAllowed", this.max.to_string());
                    return Poll::Ready(Some(Err(BodyError(Box::new(err)))));
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(BodyError(Box::new(malformed(e)))))),
            Poll::Ready(None) if this.seen < this.min => {
                let err = S3Error::new(
                    S3ErrorCode::EntityTooSmall,
                    "Your proposed upload is smaller than the minimum allowed size",
                )
                .with("MinSizeAllowed", this.min.to_string());
                Poll::Ready(Some(Err(BodyError(Box::new(err)))))
            }
            other => other.map(|o| o.map(|r| r.map_err(|e| BodyError(Box::new(malformed(e)))))),
        }
    }
}

/// The form's fields as request headers, so that the header parsers of PutObject serve both.
fn as_headers(fields: &[(String, String)]) -> Result<HeaderMap, S3Error> {
    let mut headers = HeaderMap::new();
    for (name, value) in fields {
        let name = if name == "acl" { "x-amz-acl" } else { name.as_str() };
        let (Ok(name), Ok(value)) =
            (HeaderName::try_from(name), HeaderValue::try_from(value.as_str()))
        else {
            return Err(S3Error::new(
                S3ErrorCode::InvalidArgument,
                format!("Invalid form field value for {name}"),
            )
            .with("ArgumentName", name.to_owned()));
        };
        headers.append(name, value);
    }
    Ok(headers)
}

fn tags_of(fields: &[(String, String)]) -> Result<Vec<(String, String)>, S3Error> {
    let Some((_, text)) = fields.iter().find(|(n, _)| n == "tagging") else {
        return Ok(Vec::new());
    };
    let document: Tagging = xml::from_xml_with_root(text.as_bytes(), Tagging::ROOT_NAME)?;
    let tags: Vec<_> = document.tag_set.tags.into_iter().map(|t| (t.key, t.value)).collect();
    validate_tags(&tags, super::headers::OBJECT_TAGS_MAX)?;
    Ok(tags)
}

impl Handlers<'_> {
    pub async fn post_object<B>(
        &self,
        ctx: &Context,
        request: Request<B>,
    ) -> Result<S3Response, S3Error>
    where
        B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
        B::Error: std::fmt::Display,
    {
        let (parts, body) = request.into_parts();
        let boundary = header(&parts.headers, "content-type")
            .and_then(|t| multer::parse_boundary(t).ok())
            .ok_or_else(|| {
                S3Error::new(
                    S3ErrorCode::PreconditionFailed,
                    "Bucket POST must be of the enclosure-type multipart/form-data",
                )
                .with("Condition", "Bucket POST must be of the enclosure-type multipart/form-data")
            })?;
        let stream = http_body_util::BodyDataStream::new(body)
            .map(|r| r.map_err(|e| std::io::Error::other(e.to_string())));
        let mut form = multer::Multipart::new(stream, boundary);
        let mut fields: Vec<(String, String)> = Vec::new();
        let mut fields_bytes = 0usize;
        let (file, file_name) = loop {
            let Some(mut field) = form.next_field().await.map_err(malformed)? else {
                return Err(S3Error::new(
                    S3ErrorCode::InvalidArgument,
                    "POST requires exactly one file upload per request.",
                )
                .with("ArgumentName", "file"));
            };
            let name = field.name().unwrap_or_default().to_ascii_lowercase();
            if name == "file" {
                let file_name = field.file_name().unwrap_or_default().to_owned();
                break (field, file_name);
            }
            let mut value = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(malformed)? {
                fields_bytes += chunk.len();
                if fields_bytes > FIELDS_BYTES_MAX {
                    return Err(S3Error::new(
                        S3ErrorCode::MaxPostPreDataLengthExceeded,
                        "Your POST request fields preceding the upload file were too large.",
                    ));
                }
                value.extend_from_slice(&chunk);
            }
            let value = String::from_utf8(value).map_err(|_| malformed("a field is not UTF-8"))?;
            fields.push((name, value));
        };
        let key = fields.iter().find(|(n, _)| n == "key").map(|(_, v)| v.clone());
        let key = key.ok_or_else(|| {
            S3Error::new(S3ErrorCode::InvalidArgument, "Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields.")
                .with("ArgumentName", "key")
        })?;
        let key = key.replace("${filename}", &file_name);
        if key.is_empty() || key.len() > KEY_LEN_MAX {
            return Err(S3Error::new(
                S3ErrorCode::InvalidArgument,
                "The key is empty or too long.",
            )
            .with("ArgumentName", "key"));
        }
        if let Some((_, v)) = fields.iter_mut().find(|(n, _)| n == "key") {
            v.clone_from(&key);
        }
        let field = |name: &str| fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());

        // Who is uploading: the policy's signer, or nobody.
        let (principal, range) = match field("policy") {
            Some(policy) => {
                let signature = FormSignature { policy: &policy, fields: &fields };
                let signer =
                    authenticate_form(signature, self.objects, &self.options.region).await?;
                let document = PostPolicy::parse(&policy)?;
                let range = document.check(ctx.now.timestamp_millis(), ctx.bucket(), &fields)?;
                (Some(signer), range)
            }
            None => (None, (0, PUT_SIZE_MAX)),
        };
        let bucket = self.objects.bucket(ctx.bucket()).await.map_err(map_error)?;
        let asking = Asking {
            principal: principal.as_deref(),
            action: access::PUT_OBJECT,
            key: Some(&key),
            facts: &ctx.facts,
        };
        if access::decide(&bucket, &asking) != Verdict::Allow {
            return Err(S3ErrorCode::AccessDenied.into());
        }

        let headers = as_headers(&fields)?;
        let (owner, acl) =
            self.new_object_owner_and_acl(&headers, &bucket, principal.as_deref()).await?;
        let file: ByteStream = Box::pin(SizedFile {
            inner: file,
            seen: 0,
            min: range.0,
            max: range.1.min(PUT_SIZE_MAX),
        });
        let sse = crate::s3::encryption::write_encryption(&headers, self.objects.keyring())?;
        let customer_key = sse.as_ref().and_then(Encryption::customer_key).cloned();
        let put = PutObject {
            encryption: sse,
            lock: super::lock::object_lock_headers(&headers)?,
            condition: None,
            acl,
            owner,
            size_hint: None,
            headers: content_headers(&headers),
            user_metadata: user_metadata(&headers)?,
            tags: tags_of(&fields)?,
            content_md5: None,
            checksum: checksum_request(&headers, &Default::default())?,
            body: file,
        };
        let outcome = self.objects.put_object(ctx.bucket(), &key, put).await.map_err(map_error)?;
        let etag = quoted(&outcome.etag);
        let location = format!("/{}/{}", ctx.bucket(), key);
        let mut response = if let Some(redirect) =
            field("success_action_redirect").or_else(|| field("redirect")).filter(|r| !r.is_empty())
        {
            let encode =
                |s: &str| percent_encoding::utf8_percent_encode(s, QUERY_VALUE).to_string();
            let separator = if redirect.contains('?') { '&' } else { '?' };
            let target = format!(
                "{redirect}{separator}bucket={}&key={}&etag={}",
                encode(ctx.bucket()),
                encode(&key),
                encode(&etag)
            );
            let mut r = response::status_only(StatusCode::SEE_OTHER);
            response::set_header(&mut r, "location", &target);
            r
        } else {
            match field("success_action_status").as_deref() {
                Some("200") => response::status_only(StatusCode::OK),
                Some("201") => {
                    let document = PostResponse {
                        location: location.clone(),
                        bucket: ctx.bucket().to_owned(),
                        key: key.clone(),
                        etag: etag.clone(),
                    };
                    let body = document.to_document();
                    let mut r = Response::new(response::full(body));
                    *r.status_mut() = StatusCode::CREATED;
                    response::set_header(&mut r, "content-type", "application/xml");
                    r
                }
                _ => response::status_only(StatusCode::NO_CONTENT),
            }
        };
        response::set_header(&mut response, "etag", &etag);
        if !response.headers().contains_key("location") {
            response::set_header(&mut response, "location", &location);
        }
        super::set_version_header(&mut response, outcome.version_id, false);
        let sealed = outcome.encryption.as_ref();
        crate::s3::encryption::set_headers(&mut response, sealed, customer_key.as_ref());
        Ok(response)
    }
}
