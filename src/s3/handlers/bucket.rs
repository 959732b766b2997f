//! Bucket operations: ListBuckets, CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation.

use chrono::{DateTime, Utc};
use http::{Request, StatusCode};

use super::{Handlers, map_error, read_small_body};
use crate::objects::Access;
use crate::s3::Context;
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::request::validate_bucket_name;
use crate::s3::response::{self, S3Response};
use crate::s3::xml::{self, XmlResponse};

pub(crate) fn time_of(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

pub(crate) fn owner(id: &str) -> xml::Owner {
    xml::Owner { id: id.to_owned(), display_name: id.to_owned() }
}

impl Handlers<'_> {
    pub async fn list_buckets(&self, ctx: &Context) -> Result<S3Response, S3Error> {
        let buckets = self.objects.list_buckets().await.map_err(map_error)?;
        let prefix = ctx.query("prefix").unwrap_or_default();
        let region = &self.options.region;
        let result = xml::ListAllMyBucketsResult {
            owner: owner(&ctx.access_key_id),
            buckets: xml::Buckets {
                bucket: buckets
                    .into_iter()
                    .filter(|b| b.owner == ctx.access_key_id && b.name.starts_with(prefix))
                    .map(|b| xml::BucketEntry {
                        name: b.name,
                        creation_date: time_of(b.created_ms),
                        bucket_region: if b.location.is_empty() {
                            region.clone()
                        } else {
                            b.location
                        },
                    })
                    .collect(),
            },
            prefix: ctx.query("prefix").map(str::to_owned),
            continuation_token: None,
        };
        Ok(response::xml_response(result.to_xml()))
    }

    pub async fn create_bucket<B>(
        &self,
        ctx: &Context,
        request: Request<B>,
    ) -> Result<S3Response, S3Error>
    where
        B: http_body::Body<Data = bytes::Bytes> + Unpin,
        B::Error: std::fmt::Display,
    {
        let name = ctx.bucket();
        validate_bucket_name(name)?;
        if !ctx.allow_create_bucket {
            return Err(S3Error::new(
                S3ErrorCode::AccessDenied,
                "This access key may not create buckets.",
            ));
        }
        let (parts, body) = request.into_parts();
        let request_headers = &parts.headers;
        let body = read_small_body(body, self.options.xml_body_bytes_max).await?;
        let location = if body.iter().all(u8::is_ascii_whitespace) {
            String::new()
        } else {
            xml::CreateBucketConfiguration::parse(&body)?.location_constraint.unwrap_or_default()
        };
        let region = &self.options.region;
        let matches_region = location.is_empty()
            || location == *region
            || (location == "US" && region == "us-east-1");
        if !matches_region {
            return Err(S3Error::new(
                S3ErrorCode::InvalidLocationConstraint,
                format!("The specified location-constraint is not valid; this endpoint serves '{region}'."),
            )
            .with("LocationConstraint", location));
        }
        let object_lock =
            super::headers::header(request_headers, "x-amz-bucket-object-lock-enabled")
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        let created = self.objects.create_bucket(name, &ctx.access_key_id, &location, object_lock);
        match created.await {
            Ok(_) => {}
            // S3's legacy rule in us-east-1: creating a bucket one already owns succeeds (and
            // changes nothing); every other region answers BucketAlreadyOwnedByYou.
            Err(crate::objects::Error::BucketAlreadyOwnedByYou) if *region == "us-east-1" => {}
            Err(e) => return Err(map_error(e)),
        }
        let mut response = response::status_only(StatusCode::OK);
        response::set_header(&mut response, "location", &format!("/{name}"));
        Ok(response)
    }

    pub async fn head_bucket(&self, ctx: &Context) -> Result<S3Response, S3Error> {
        let bucket = self.bucket_for(ctx, Access::Read).await?;
        let mut response = response::status_only(StatusCode::OK);
        let region =
            if bucket.location.is_empty() { self.options.region.clone() } else { bucket.location };
        response::set_header(&mut response, "x-amz-bucket-region", &region);
        Ok(response)
    }

    pub async fn delete_bucket(&self, ctx: &Context) -> Result<S3Response, S3Error> {
        self.bucket_for(ctx, Access::Own).await?;
        self.objects.delete_bucket(ctx.bucket()).await.map_err(map_error)?;
        Ok(response::status_only(StatusCode::NO_CONTENT))
    }

    pub async fn get_bucket_location(&self, ctx: &Context) -> Result<S3Response, S3Error> {
        let bucket = self.bucket_for(ctx, Access::Read).await?;
        let region =
            if bucket.location.is_empty() { "us-east-1" } else { bucket.location.as_str() };
        Ok(response::xml_response(xml::location_constraint_xml(region)))
    }

    /// The request's bucket, if it exists and the requester may do `access` on it. Another
    /// key's bucket is AccessDenied, never NoSuchBucket, so that access reveals nothing.
    pub(crate) async fn bucket_for(
        &self,
        ctx: &Context,
        access: Access,
    ) -> Result<crate::objects::BucketInfo, S3Error> {
        let bucket = self.objects.bucket(ctx.bucket()).await.map_err(map_error)?;
        if !bucket.permits(&ctx.access_key_id, access) {
            return Err(S3ErrorCode::AccessDenied.into());
        }
        Ok(bucket)
    }
}
