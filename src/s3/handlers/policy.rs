//! Bucket policies: Put/Get/DeleteBucketPolicy and GetBucketPolicyStatus.
//! Reference: <https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketPolicy.html>

use http::{HeaderValue, Request, Response, StatusCode};
use serde::Serialize;

use super::{Handlers, read_small_body};
use crate::access::{self, Policy};
use crate::s3::Context;
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::response::{self, S3Response};
use crate::s3::xml::XmlResponse;

#[derive(Debug, Serialize)]
struct PolicyStatus {
    #[serde(rename = "IsPublic")]
    is_public: bool,
}

impl XmlResponse for PolicyStatus {
    const ROOT: &'static str = "PolicyStatus";
}

impl Handlers<'_> {
    pub async fn put_bucket_policy<B>(
        &self,
        ctx: &Context,
        request: Request<B>,
    ) -> Result<S3Response, S3Error>
    where
        B: http_body::Body<Data = bytes::Bytes> + Unpin,
        B::Error: std::fmt::Display,
    {
        self.bucket_for(ctx, access::PUT_BUCKET_POLICY).await?;
        let body = read_small_body(request.into_body(), access::policy::POLICY_BYTES_MAX + 1)
            .await
            .map_err(|_| S3Error::new(S3ErrorCode::MalformedPolicy, "Policy is too large"))?;
        let text = std::str::from_utf8(&body)
            .map_err(|_| S3Error::new(S3ErrorCode::MalformedPolicy, "Policy is not UTF-8"))?;
        let policy =
            Policy::parse(text).map_err(|why| S3Error::new(S3ErrorCode::MalformedPolicy, why))?;
        let text = text.to_owned();
        self.objects
            .update_bucket_config(ctx.bucket(), |bucket, config| {
                let block = bucket.config.public_access_block.unwrap_or_default();
                if block.block_public_policy && policy.is_public() {
                    return Err(S3Error::new(
                        S3ErrorCode::AccessDenied,
                        "The bucket's public access block forbids public policies.",
                    ));
                }
                config.policy = Some(text.clone());
                Ok(())
            })
            .await?;
        Ok(response::status_only(StatusCode::NO_CONTENT))
    }

    pub async fn get_bucket_policy(&self, ctx: &Context) -> Result<S3Response, S3Error> {
        let bucket = self.bucket_for(ctx, access::GET_BUCKET_POLICY).await?;
        let text = bucket.config.policy.ok_or(S3ErrorCode::NoSuchBucketPolicy)?;
        let mut response = Response::new(response::full(text));
        response
            .headers_mut()
            .insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        Ok(response)
    }

    pub async fn delete_bucket_policy(&self, ctx: &Context) -> Result<S3Response, S3Error> {
        self.bucket_for(ctx, access::DELETE_BUCKET_POLICY).await?;
        self.set_bucket_config(ctx, StatusCode::NO_CONTENT, |c| c.policy = None).await
    }

    /// Public when the policy is, or (as RGW reports it) when the bucket's ACL grants the
    /// public groups anything.
    pub async fn get_bucket_policy_status(&self, ctx: &Context) -> Result<S3Response, S3Error> {
        let bucket = self.bucket_for(ctx, access::GET_POLICY_STATUS).await?;
        let public_policy = access::bucket_policy(&bucket).is_some_and(|p| p.is_public());
        let is_public = public_policy || access::bucket_acl(&bucket).is_public();
        Ok(response::xml_response(PolicyStatus { is_public }.to_xml()))
    }
}
