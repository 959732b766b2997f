//! Put/Get/DeleteBucketEncryption: the encryption a bucket gives writes that ask for none.
//! Reference: <https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketEncryption.html>

use http::{Request, StatusCode};

use super::{Handlers, read_small_body};
use crate::access;
use crate::s3::Context;
use crate::s3::encryption as document;
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::response::{self, S3Response};

const BODY_BYTES_MAX: usize = 64 << 10;

impl Handlers<'_> {
    pub async fn put_bucket_encryption<B>(
        &self,
        ctx: &Context,
        request: Request<B>,
    ) -> Result<S3Response, S3Error>
    where
        B: http_body::Body<Data = bytes::Bytes> + Unpin,
        B::Error: std::fmt::Display,
    {
        self.bucket_for(ctx, access::PUT_ENCRYPTION).await?;
        let body = read_small_body(request.into_body(), BODY_BYTES_MAX).await?;
        let config = document::parse_configuration(&body)?;
        self.set_bucket_config(ctx, StatusCode::OK, |c| c.encryption = Some(config.clone())).await
    }

    pub async fn get_bucket_encryption(&self, ctx: &Context) -> Result<S3Response, S3Error> {
        let bucket = self.bucket_for(ctx, access::GET_ENCRYPTION).await?;
        let config = bucket
            .config
            .encryption
            .ok_or(S3ErrorCode::ServerSideEncryptionConfigurationNotFoundError)?;
        Ok(response::xml_response(document::to_document(&config)))
    }

    pub async fn delete_bucket_encryption(&self, ctx: &Context) -> Result<S3Response, S3Error> {
        self.bucket_for(ctx, access::PUT_ENCRYPTION).await?;
        self.set_bucket_config(ctx, StatusCode::NO_CONTENT, |c| c.encryption = None).await
    }
}
