//! CORS: Put/Get/DeleteBucketCors, preflight OPTIONS, and the CORS headers on actual
//! responses (`decorate`, called for every request that carries an Origin).
//! Reference: <https://docs.aws.amazon.com/AmazonS3/latest/API/RESTOPTIONSobject.html>

use http::{HeaderMap, Request, StatusCode};

use super::headers::header;
use super::{Handlers, read_small_body};
use crate::access;
use crate::s3::Context;
use crate::s3::cors;
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::response::{self, S3Response};

const BODY_BYTES_MAX: usize = 64 << 10;

fn forbidden(why: &str) -> S3Error {
    S3Error::new(S3ErrorCode::AccessForbidden, format!("CORSResponse: {why}"))
        .with("Method", "OPTIONS")
        .with("ResourceType", "OBJECT")
}

impl Handlers<'_> {
    pub async fn put_bucket_cors<B>(
        &self,
        ctx: &Context,
        request: Request<B>,
    ) -> Result<S3Response, S3Error>
    where
        B: http_body::Body<Data = bytes::Bytes> + Unpin,
        B::Error: std::fmt::Display,
    {
        self.bucket_for(ctx, access::PUT_BUCKET_CORS).await?;
        let body = read_small_body(request.into_body(), BODY_BYTES_MAX).await?;
        let rules = cors::parse(&body)?;
        self.set_bucket_config(ctx, StatusCode::OK, |c| c.cors = Some(rules.clone())).await
    }

    pub async fn get_bucket_cors(&self, ctx: &Context) -> Result<S3Response, S3Error> {
        let bucket = self.bucket_for(ctx, access::GET_BUCKET_CORS).await?;
        let rules = bucket.config.cors.ok_or(S3ErrorCode::NoSuchCORSConfiguration)?;
        Ok(response::xml_response(cors::to_document(&rules)))
    }

    pub async fn delete_bucket_cors(&self, ctx: &Context) -> Result<S3Response, S3Error> {
        self.bucket_for(ctx, access::PUT_BUCKET_CORS).await?;
        self.set_bucket_config(ctx, StatusCode::NO_CONTENT, |c| c.cors = None).await
    }

    /// A browser's preflight: answered from the bucket's CORS rules, for anyone (preflights
    /// carry no credentials).
    pub async fn cors_preflight(
        &self,
        ctx: &Context,
        headers: &HeaderMap,
    ) -> Result<S3Response, S3Error> {
        let origin = header(headers, "origin").ok_or_else(|| {
            S3Error::new(
                S3ErrorCode::BadRequest,
                "Insufficient information. Origin request header needed.",
            )
        })?;
        let method = header(headers, "access-control-request-method").ok_or_else(|| {
            S3Error::new(S3ErrorCode::BadRequest, "Invalid Access-Control-Request-Method: null")
        })?;
        let bucket = self.objects.bucket(ctx.bucket()).await?;
        let rules =
            bucket.config.cors.ok_or_else(|| forbidden("CORS is not enabled for this bucket."))?;
        let requested = cors::requested_headers(headers);
        let rule = cors::matching_rule(&rules, origin, method, &requested).ok_or_else(|| {
            forbidden("This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.")
        })?;
        let mut response = response::status_only(StatusCode::OK);
        cors::allow_headers(response.headers_mut(), rule, origin, Some(&requested));
        Ok(response)
    }

    /// Adds the CORS headers of the rule that lets `origin` make this `method` request on
    /// `bucket`, to a response already made (success or error).
    pub async fn decorate(
        &self,
        bucket: &str,
        origin: &str,
        method: &str,
        response: &mut S3Response,
    ) {
        if response.headers().contains_key("access-control-allow-origin") {
            return;
        }
        let Ok(info) = self.objects.bucket(bucket).await else { return };
        let Some(rules) = info.config.cors else { return };
        if let Some(rule) = cors::matching_rule(&rules, origin, method, &[]) {
            cors::allow_headers(response.headers_mut(), rule, origin, None);
        }
    }
}
