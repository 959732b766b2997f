//! Bucket operations: ListBuckets, CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation.

use chrono::{DateTime, Utc};
use http::{Request, StatusCode};

use super::{Handlers, map_error, read_small_body};
use crate::access;
use crate::objects::acl::Acl;
use crate::objects::{BucketConfig, ObjectOwnership};
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

/// The ACL and ownership controls a CreateBucket asks for in its headers.
fn creation_config(headers: &http::HeaderMap, owner: &str) -> Result<BucketConfig, S3Error> {
    let acl = crate::s3::acl::from_headers(headers)?;
    let ownership = match super::headers::header(headers, "x-amz-object-ownership") {
        None => None,
        Some(text) => Some(super::ownership::parse_ownership(text)?),
    };
    if ownership == Some(ObjectOwnership::BucketOwnerEnforced)
        && acl.as_ref().is_some_and(|a| !a.is_owner_only())
    {
        return Err(S3ErrorCode::InvalidBucketAclWithObjectOwnership.into());
    }
    Ok(BucketConfig { acl: acl.map(|a| a.acl(owner, owner)), ownership, ..BucketConfig::default() })
}

/// Most buckets one ListBuckets page holds (S3's limit for max-buckets).
const BUCKETS_PAGE_MAX: usize = 10_000;

impl Handlers<'_> {
    pub async fn list_buckets(&self, ctx: &Context) -> Result<S3Response, S3Error> {
        let Some(principal) = ctx.principal() else {
            return Err(S3Error::new(
                S3ErrorCode::AccessDenied,
                "Anonymous users cannot list buckets.",
            ));
        };
        let max = match ctx.query("max-buckets") {
            None => BUCKETS_PAGE_MAX,
            Some(text) => text
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=BUCKETS_PAGE_MAX).contains(n))
                .ok_or_else(|| {
                    S3Error::new(
                        S3ErrorCode::InvalidArgument,
                        "max-buckets must be an integer from 1 to 10000.",
                    )
                    .with("ArgumentName", "max-buckets")
                    .with("ArgumentValue", text)
                })?,
        };
        let after = match ctx.query("continuation-token") {
            None => None,
            Some(token) => Some(
                hex::decode(token)
                    .ok()
                    .and_then(|bytes| String::from_utf8(bytes).ok())
                    .ok_or_else(|| {
                        S3Error::new(
                            S3ErrorCode::InvalidArgument,
                            "The continuation token provided is incorrect",
                        )
                        .with("ArgumentName", "continuation-token")
                    })?,
            ),
        };
        let prefix = ctx.query("prefix").unwrap_or_default();
        let wanted_region = ctx.query("bucket-region");
        let region = &self.options.region;
        let region_of = |b: &crate::objects::BucketInfo| {
            if b.location.is_empty() { region.clone() } else { b.location.clone() }
        };
        let mut mine = self
            .objects
            .list_buckets()
            .await
            .map_err(map_error)?
            .into_iter()
            .filter(|b| b.owner == principal && b.name.starts_with(prefix))
            .filter(|b| wanted_region.is_none_or(|r| region_of(b) == r))
            .filter(|b| after.as_ref().is_none_or(|a| b.name.as_str() > a.as_str()))
            .peekable();
        let mut page = Vec::new();
        while page.len() < max {
            let Some(b) = mine.next() else { break };
            page.push(b);
        }
        let continuation_token = match (mine.peek(), page.last()) {
            (Some(_), Some(last)) => Some(hex::encode(&last.name)),
            _ => None,
        };
        let result = xml::ListAllMyBucketsResult {
            owner: owner(principal),
            buckets: xml::Buckets {
                bucket: page
                    .into_iter()
                    .map(|b| xml::BucketEntry {
                        bucket_region: region_of(&b),
                        name: b.name,
                        creation_date: time_of(b.created_ms),
                    })
                    .collect(),
            },
            prefix: ctx.query("prefix").map(str::to_owned),
            continuation_token,
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
        let Some(principal) = ctx.principal() else {
            return Err(S3Error::new(
                S3ErrorCode::AccessDenied,
                "Anonymous users cannot create buckets.",
            ));
        };
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
        let config = creation_config(request_headers, principal)?;
        let acl = config.acl.clone();
        let created = self.objects.create_bucket(name, principal, &location, object_lock, config);
        match created.await {
            Ok(_) => {}
            // S3's legacy rule in us-east-1: creating a bucket one already owns succeeds (and
            // changes nothing); every other region answers BucketAlreadyOwnedByYou. Asking
            // for another ACL than the bucket has is a conflict, as in RGW.
            Err(crate::objects::Error::BucketAlreadyOwnedByYou) if *region == "us-east-1" => {
                let existing = self.objects.bucket(name).await.map_err(map_error)?;
                let wanted = acl.unwrap_or_else(|| Acl::private(principal));
                if access::bucket_acl(&existing) != wanted {
                    return Err(S3ErrorCode::BucketAlreadyExists.into());
                }
            }
            Err(e) => return Err(map_error(e)),
        }
        let mut response = response::status_only(StatusCode::OK);
        response::set_header(&mut response, "location", &format!("/{name}"));
        Ok(response)
    }

    pub async fn head_bucket(&self, ctx: &Context) -> Result<S3Response, S3Error> {
        let bucket = self.bucket_for(ctx, access::LIST_BUCKET).await?;
        let mut response = response::status_only(StatusCode::OK);
        let region =
            if bucket.location.is_empty() { self.options.region.clone() } else { bucket.location };
        response::set_header(&mut response, "x-amz-bucket-region", &region);
        Ok(response)
    }

    pub async fn delete_bucket(&self, ctx: &Context) -> Result<S3Response, S3Error> {
        self.bucket_for(ctx, access::DELETE_BUCKET).await?;
        self.objects.delete_bucket(ctx.bucket()).await.map_err(map_error)?;
        Ok(response::status_only(StatusCode::NO_CONTENT))
    }

    pub async fn get_bucket_location(&self, ctx: &Context) -> Result<S3Response, S3Error> {
        let bucket = self.bucket_for(ctx, access::GET_BUCKET_LOCATION).await?;
        let region =
            if bucket.location.is_empty() { "us-east-1" } else { bucket.location.as_str() };
        Ok(response::xml_response(xml::location_constraint_xml(region)))
    }
}
