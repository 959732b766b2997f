//! Request payment and transfer acceleration: answered as S3 does for a bucket that uses
//! neither (the owner pays; no acceleration), and refused if asked to turn them on.
//! Reference: <https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketRequestPayment.html>

use http::{Request, StatusCode};
use serde::{Deserialize, Serialize};

use super::{Handlers, read_small_body};
use crate::access;
use crate::s3::Context;
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::response::{self, S3Response};
use crate::s3::xml::{self, XmlResponse};

const BODY_BYTES_MAX: usize = 4096;

#[derive(Debug, Default, Serialize, Deserialize)]
struct RequestPaymentConfiguration {
    #[serde(rename = "Payer", default)]
    payer: String,
}

impl XmlResponse for RequestPaymentConfiguration {
    const ROOT: &'static str = "RequestPaymentConfiguration";
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct AccelerateConfiguration {
    #[serde(rename = "Status", default, skip_serializing_if = "Option::is_none")]
    status: Option<String>,
}

impl XmlResponse for AccelerateConfiguration {
    const ROOT: &'static str = "AccelerateConfiguration";
}

impl Handlers<'_> {
    pub async fn get_bucket_request_payment(&self, ctx: &Context) -> Result<S3Response, S3Error> {
        self.bucket_for(ctx, access::GET_REQUEST_PAYMENT).await?;
        let document = RequestPaymentConfiguration { payer: "BucketOwner".into() };
        Ok(response::xml_response(document.to_xml()))
    }

    pub async fn put_bucket_request_payment<B>(
        &self,
        ctx: &Context,
        request: Request<B>,
    ) -> Result<S3Response, S3Error>
    where
        B: http_body::Body<Data = bytes::Bytes> + Unpin,
        B::Error: std::fmt::Display,
    {
        self.bucket_for(ctx, access::PUT_REQUEST_PAYMENT).await?;
        let body = read_small_body(request.into_body(), BODY_BYTES_MAX).await?;
        let document: RequestPaymentConfiguration =
            xml::from_xml_with_root(&body, RequestPaymentConfiguration::ROOT)?;
        match document.payer.as_str() {
            "BucketOwner" => Ok(response::status_only(StatusCode::OK)),
            "Requester" => Err(S3Error::new(
                S3ErrorCode::NotImplemented,
                "Requester Pays buckets are not supported: the bucket owner pays.",
            )),
            _ => Err(S3ErrorCode::MalformedXML.into()),
        }
    }

    pub async fn get_bucket_accelerate(&self, ctx: &Context) -> Result<S3Response, S3Error> {
        self.bucket_for(ctx, access::GET_ACCELERATE).await?;
        Ok(response::xml_response(AccelerateConfiguration::default().to_xml()))
    }

    pub async fn put_bucket_accelerate<B>(
        &self,
        ctx: &Context,
        request: Request<B>,
    ) -> Result<S3Response, S3Error>
    where
        B: http_body::Body<Data = bytes::Bytes> + Unpin,
        B::Error: std::fmt::Display,
    {
        self.bucket_for(ctx, access::PUT_ACCELERATE).await?;
        let body = read_small_body(request.into_body(), BODY_BYTES_MAX).await?;
        let document: AccelerateConfiguration =
            xml::from_xml_with_root(&body, AccelerateConfiguration::ROOT)?;
        match document.status.as_deref() {
            Some("Suspended") => Ok(response::status_only(StatusCode::OK)),
            Some("Enabled") => Err(S3Error::new(
                S3ErrorCode::NotImplemented,
                "Transfer acceleration is not available: RingVault serves every request from its own nodes.",
            )),
            _ => Err(S3ErrorCode::MalformedXML.into()),
        }
    }
}
