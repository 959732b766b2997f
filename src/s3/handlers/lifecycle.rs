//! Put/Get/DeleteBucketLifecycleConfiguration, and the `x-amz-expiration` header the rules
//! give current versions. The rules themselves run in `objects::lifecycle`.
//! Reference: <https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketLifecycleConfiguration.html>

use http::{Request, StatusCode};

use super::{Handlers, read_small_body};
use crate::access;
use crate::objects::{BucketInfo, lifecycle};
use crate::s3::Context;
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::lifecycle as document;
use crate::s3::response::{self, S3Response};

const BODY_BYTES_MAX: usize = 1 << 20;

impl Handlers<'_> {
    pub async fn put_bucket_lifecycle<B>(
        &self,
        ctx: &Context,
        request: Request<B>,
    ) -> Result<S3Response, S3Error>
    where
        B: http_body::Body<Data = bytes::Bytes> + Unpin,
        B::Error: std::fmt::Display,
    {
        self.bucket_for(ctx, access::PUT_LIFECYCLE).await?;
        let body = read_small_body(request.into_body(), BODY_BYTES_MAX).await?;
        let mut n = 0;
        let rules = document::parse(&body, || {
            n += 1;
            format!("rule-{n}")
        })?;
        self.set_bucket_config(ctx, StatusCode::OK, |c| c.lifecycle = Some(rules.clone())).await
    }

    pub async fn get_bucket_lifecycle(&self, ctx: &Context) -> Result<S3Response, S3Error> {
        let bucket = self.bucket_for(ctx, access::GET_LIFECYCLE).await?;
        let rules = bucket.config.lifecycle.ok_or(S3ErrorCode::NoSuchLifecycleConfiguration)?;
        Ok(response::xml_response(document::to_document(&rules)))
    }

    pub async fn delete_bucket_lifecycle(&self, ctx: &Context) -> Result<S3Response, S3Error> {
        self.bucket_for(ctx, access::PUT_LIFECYCLE).await?;
        self.set_bucket_config(ctx, StatusCode::NO_CONTENT, |c| c.lifecycle = None).await
    }

    /// Sets `x-amz-expiration` when a rule of `bucket` will expire this current version.
    pub(crate) fn set_expiration_header(
        &self,
        response: &mut S3Response,
        bucket: &BucketInfo,
        key: &str,
        size: u64,
        tags: &[(String, String)],
        last_modified_ms: i64,
    ) {
        let Some(rules) = &bucket.config.lifecycle else { return };
        let day_ms = self.options.lifecycle_day_ms;
        if let Some((at, id)) =
            lifecycle::announced_expiry(rules, key, size, tags, last_modified_ms, day_ms)
        {
            response::set_header(
                response,
                "x-amz-expiration",
                &document::expiration_header(at, id),
            );
        }
    }
}
