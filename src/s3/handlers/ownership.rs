//! Bucket ownership controls and the bucket-level public access block.
//! Reference: <https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketOwnershipControls.html>,
//! <https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutPublicAccessBlock.html>

use http::{Request, StatusCode};
use serde::{Deserialize, Serialize};

use super::{Handlers, read_small_body};
use crate::access;
use crate::objects::{self, ObjectOwnership, PublicAccessBlock};
use crate::s3::Context;
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::response::{self, S3Response};
use crate::s3::xml::{self, XmlResponse};

const BODY_BYTES_MAX: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct OwnershipControls {
    #[serde(rename = "Rule", default)]
    rules: Vec<OwnershipRule>,
}

impl XmlResponse for OwnershipControls {
    const ROOT: &'static str = "OwnershipControls";
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct OwnershipRule {
    #[serde(rename = "ObjectOwnership")]
    object_ownership: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct PublicAccessBlockConfiguration {
    #[serde(rename = "BlockPublicAcls", default)]
    block_public_acls: bool,
    #[serde(rename = "IgnorePublicAcls", default)]
    ignore_public_acls: bool,
    #[serde(rename = "BlockPublicPolicy", default)]
    block_public_policy: bool,
    #[serde(rename = "RestrictPublicBuckets", default)]
    restrict_public_buckets: bool,
}

impl XmlResponse for PublicAccessBlockConfiguration {
    const ROOT: &'static str = "PublicAccessBlockConfiguration";
}

fn ownership_name(o: ObjectOwnership) -> &'static str {
    match o {
        ObjectOwnership::BucketOwnerEnforced => "BucketOwnerEnforced",
        ObjectOwnership::BucketOwnerPreferred => "BucketOwnerPreferred",
        ObjectOwnership::ObjectWriter => "ObjectWriter",
    }
}

/// `x-amz-object-ownership` or a rule's `ObjectOwnership`.
pub(crate) fn parse_ownership(text: &str) -> Result<ObjectOwnership, S3Error> {
    [
        ObjectOwnership::BucketOwnerEnforced,
        ObjectOwnership::BucketOwnerPreferred,
        ObjectOwnership::ObjectWriter,
    ]
    .into_iter()
    .find(|o| ownership_name(*o) == text.trim())
    .ok_or_else(|| {
        S3Error::new(S3ErrorCode::InvalidArgument, "Invalid ObjectOwnership value.")
            .with("ArgumentName", "ObjectOwnership")
            .with("ArgumentValue", text)
    })
}

impl Handlers<'_> {
    pub async fn get_bucket_ownership_controls(
        &self,
        ctx: &Context,
    ) -> Result<S3Response, S3Error> {
        let bucket = self.bucket_for(ctx, access::GET_OWNERSHIP).await?;
        let ownership =
            bucket.config.ownership.ok_or(S3ErrorCode::OwnershipControlsNotFoundError)?;
        let document = OwnershipControls {
            rules: vec![OwnershipRule { object_ownership: ownership_name(ownership).to_owned() }],
        };
        Ok(response::xml_response(document.to_xml()))
    }

    pub async fn put_bucket_ownership_controls<B>(
        &self,
        ctx: &Context,
        request: Request<B>,
    ) -> Result<S3Response, S3Error>
    where
        B: http_body::Body<Data = bytes::Bytes> + Unpin,
        B::Error: std::fmt::Display,
    {
        self.bucket_for(ctx, access::PUT_OWNERSHIP).await?;
        let body = read_small_body(request.into_body(), BODY_BYTES_MAX).await?;
        let document: OwnershipControls = xml::from_xml_with_root(&body, OwnershipControls::ROOT)?;
        let [rule] = document.rules.as_slice() else {
            return Err(S3ErrorCode::MalformedXML.into());
        };
        let ownership = parse_ownership(&rule.object_ownership)
            .map_err(|_| S3Error::from(S3ErrorCode::MalformedXML))?;
        self.objects
            .update_bucket_config(ctx.bucket(), |bucket, config| {
                if ownership == ObjectOwnership::BucketOwnerEnforced
                    && access::bucket_acl(bucket) != objects::acl::Acl::private(&bucket.owner)
                {
                    return Err(S3Error::from(S3ErrorCode::InvalidBucketAclWithObjectOwnership));
                }
                config.ownership = Some(ownership);
                Ok(())
            })
            .await?;
        Ok(response::status_only(StatusCode::OK))
    }

    pub async fn delete_bucket_ownership_controls(
        &self,
        ctx: &Context,
    ) -> Result<S3Response, S3Error> {
        self.bucket_for(ctx, access::PUT_OWNERSHIP).await?;
        self.set_bucket_config(ctx, StatusCode::NO_CONTENT, |c| c.ownership = None).await
    }

    pub async fn get_public_access_block(&self, ctx: &Context) -> Result<S3Response, S3Error> {
        let bucket = self.bucket_for(ctx, access::GET_PUBLIC_ACCESS_BLOCK).await?;
        let block = bucket
            .config
            .public_access_block
            .ok_or(S3ErrorCode::NoSuchPublicAccessBlockConfiguration)?;
        let document = PublicAccessBlockConfiguration {
            block_public_acls: block.block_public_acls,
            ignore_public_acls: block.ignore_public_acls,
            block_public_policy: block.block_public_policy,
            restrict_public_buckets: block.restrict_public_buckets,
        };
        Ok(response::xml_response(document.to_xml()))
    }

    pub async fn put_public_access_block<B>(
        &self,
        ctx: &Context,
        request: Request<B>,
    ) -> Result<S3Response, S3Error>
    where
        B: http_body::Body<Data = bytes::Bytes> + Unpin,
        B::Error: std::fmt::Display,
    {
        self.bucket_for(ctx, access::PUT_PUBLIC_ACCESS_BLOCK).await?;
        let body = read_small_body(request.into_body(), BODY_BYTES_MAX).await?;
        let document: PublicAccessBlockConfiguration =
            xml::from_xml_with_root(&body, PublicAccessBlockConfiguration::ROOT)?;
        let block = PublicAccessBlock {
            block_public_acls: document.block_public_acls,
            ignore_public_acls: document.ignore_public_acls,
            block_public_policy: document.block_public_policy,
            restrict_public_buckets: document.restrict_public_buckets,
        };
        self.set_bucket_config(ctx, StatusCode::OK, |c| c.public_access_block = Some(block)).await
    }

    pub async fn delete_public_access_block(&self, ctx: &Context) -> Result<S3Response, S3Error> {
        self.bucket_for(ctx, access::PUT_PUBLIC_ACCESS_BLOCK).await?;
        self.set_bucket_config(ctx, StatusCode::NO_CONTENT, |c| c.public_access_block = None).await
    }
}
