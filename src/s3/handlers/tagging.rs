//! Object and bucket tagging.
//! Reference: <https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObjectTagging.html>

use http::{Request, StatusCode};

use super::headers::{BUCKET_TAGS_MAX, OBJECT_TAGS_MAX, validate_tags};
use super::{Handlers, map_error, read_small_body};
use crate::access;
use crate::s3::Context;
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::response::{self, S3Response};
use crate::s3::xml::{self, Tag, TagSet, Tagging, XmlResponse};

const TAGGING_BODY_BYTES_MAX: usize = 64 << 10;

/// The tag set, sorted by key (the order RGW answers in, and a stable one for clients).
fn tagging_document(tags: &[(String, String)]) -> String {
    let mut tags = tags.to_vec();
    tags.sort();
    Tagging {
        tag_set: TagSet {
            tags: tags.iter().map(|(k, v)| Tag { key: k.clone(), value: v.clone() }).collect(),
        },
    }
    .to_xml()
}

async fn read_tags<B>(request: Request<B>, max: usize) -> Result<Vec<(String, String)>, S3Error>
where
    B: http_body::Body<Data = bytes::Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    let body = read_small_body(request.into_body(), TAGGING_BODY_BYTES_MAX).await?;
    let document: Tagging = xml::from_xml_with_root(&body, Tagging::ROOT_NAME)?;
    let tags: Vec<_> = document.tag_set.tags.into_iter().map(|t| (t.key, t.value)).collect();
    validate_tags(&tags, max)?;
    Ok(tags)
}

impl Handlers<'_> {
    pub async fn get_object_tagging(&self, ctx: &Context) -> Result<S3Response, S3Error> {
        let (bucket, gate) = self.object_access(ctx, access::GET_OBJECT_TAGGING).await?;
        let version = super::version_param(ctx)?;
        let info = self
            .objects
            .object_version(ctx.bucket(), ctx.key(), version)
            .await
            .map_err(|e| gate.missing(&bucket, ctx, e))?;
        gate.check(&bucket, ctx, &info)?;
        let mut response = response::xml_response(tagging_document(info.tags()));
        let versioned = bucket.versioning != crate::objects::Versioning::Unversioned;
        super::set_version_header(&mut response, info.version_id(), versioned);
        Ok(response)
    }

    pub async fn put_object_tagging<B>(
        &self,
        ctx: &Context,
        request: Request<B>,
    ) -> Result<S3Response, S3Error>
    where
        B: http_body::Body<Data = bytes::Bytes> + Unpin,
        B::Error: std::fmt::Display,
    {
        let (bucket, gate) = self.object_access(ctx, access::PUT_OBJECT_TAGGING).await?;
        let version = super::version_param(ctx)?;
        if !gate.allowed_outright() {
            // A policy that names the object's current tags decides once they are known.
            let info = self
                .objects
                .object_version(ctx.bucket(), ctx.key(), version)
                .await
                .map_err(|e| gate.missing(&bucket, ctx, e))?;
            gate.check(&bucket, ctx, &info)?;
        }
        let tags = read_tags(request, OBJECT_TAGS_MAX).await?;
        let info = self
            .objects
            .set_object_tags(ctx.bucket(), ctx.key(), version, tags)
            .await
            .map_err(map_error)?;
        let mut response = response::status_only(StatusCode::OK);
        let versioned = bucket.versioning != crate::objects::Versioning::Unversioned;
        super::set_version_header(&mut response, info.version_id(), versioned);
        Ok(response)
    }

    pub async fn delete_object_tagging(&self, ctx: &Context) -> Result<S3Response, S3Error> {
        let bucket = self.bucket_for(ctx, access::DELETE_OBJECT_TAGGING).await?;
        let version = super::version_param(ctx)?;
        let info = self
            .objects
            .set_object_tags(ctx.bucket(), ctx.key(), version, Vec::new())
            .await
            .map_err(map_error)?;
        let mut response = response::status_only(StatusCode::NO_CONTENT);
        let versioned = bucket.versioning != crate::objects::Versioning::Unversioned;
        super::set_version_header(&mut response, info.version_id(), versioned);
        Ok(response)
    }

    pub async fn get_bucket_tagging(&self, ctx: &Context) -> Result<S3Response, S3Error> {
        let bucket = self.bucket_for(ctx, access::GET_BUCKET_TAGGING).await?;
        if bucket.tags.is_empty() {
            return Err(S3Error::from(S3ErrorCode::NoSuchTagSet).with("BucketName", ctx.bucket()));
        }
        Ok(response::xml_response(tagging_document(&bucket.tags)))
    }

    pub async fn put_bucket_tagging<B>(
        &self,
        ctx: &Context,
        request: Request<B>,
    ) -> Result<S3Response, S3Error>
    where
        B: http_body::Body<Data = bytes::Bytes> + Unpin,
        B::Error: std::fmt::Display,
    {
        self.bucket_for(ctx, access::PUT_BUCKET_TAGGING).await?;
        let tags = read_tags(request, BUCKET_TAGS_MAX).await?;
        self.objects.set_bucket_tags(ctx.bucket(), tags).await.map_err(map_error)?;
        Ok(response::status_only(StatusCode::NO_CONTENT))
    }

    pub async fn delete_bucket_tagging(&self, ctx: &Context) -> Result<S3Response, S3Error> {
        self.bucket_for(ctx, access::PUT_BUCKET_TAGGING).await?;
        self.objects.set_bucket_tags(ctx.bucket(), Vec::new()).await.map_err(map_error)?;
        Ok(response::status_only(StatusCode::NO_CONTENT))
    }
}
