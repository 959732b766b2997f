//! GetBucketVersioning and PutBucketVersioning.
//! Reference: <https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketVersioning.html>

use http::{Request, StatusCode};

use super::{Handlers, map_error, read_small_body};
use crate::access;
use crate::objects::Versioning;
use crate::s3::Context;
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::response::{self, S3Response};
use crate::s3::xml::{self, VersioningConfiguration, XmlResponse};

/// Largest versioning document accepted.
const BODY_BYTES_MAX: usize = 4096;

impl Handlers<'_> {
    pub async fn get_bucket_versioning(&self, ctx: &Context) -> Result<S3Response, S3Error> {
        let bucket = self.bucket_for(ctx, access::GET_BUCKET_VERSIONING).await?;
        let status = match bucket.versioning {
            Versioning::Unversioned => None,
            Versioning::Enabled => Some("Enabled".to_owned()),
            Versioning::Suspended => Some("Suspended".to_owned()),
        };
        let document = VersioningConfiguration { status, mfa_delete: None };
        Ok(response::xml_response(document.to_xml()))
    }

    pub async fn put_bucket_versioning<B>(
        &self,
        ctx: &Context,
        request: Request<B>,
    ) -> Result<S3Response, S3Error>
    where
        B: http_body::Body<Data = bytes::Bytes> + Unpin,
        B::Error: std::fmt::Display,
    {
        self.bucket_for(ctx, access::PUT_BUCKET_VERSIONING).await?;
        let body = read_small_body(request.into_body(), BODY_BYTES_MAX).await?;
        let document: VersioningConfiguration =
            xml::from_xml_with_root(&body, VersioningConfiguration::ROOT)?;
        match document.mfa_delete.as_deref().map(str::trim) {
            None | Some("Disabled") => {}
            Some("Enabled") => {
                return Err(S3Error::new(
                    S3ErrorCode::NotImplemented,
                    "MFA delete is not supported by RingVault.",
                ));
            }
            Some(_) => return Err(S3ErrorCode::MalformedXML.into()),
        }
        let versioning = match document.status.as_deref().map(str::trim) {
            // No status: the state stays as it is.
            None => return Ok(response::status_only(StatusCode::OK)),
            Some("Enabled") => Versioning::Enabled,
            Some("Suspended") => Versioning::Suspended,
            Some(_) => return Err(S3ErrorCode::IllegalVersioningConfigurationException.into()),
        };
        self.objects.set_bucket_versioning(ctx.bucket(), versioning).await.map_err(map_error)?;
        Ok(response::status_only(StatusCode::OK))
    }
}
