//! Object lock: Get/PutObjectLockConfiguration, Get/PutObjectRetention, Get/PutObjectLegalHold,
//! and the `x-amz-object-lock-*` headers of writes and reads.
//! Reference: <https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html>

use chrono::{DateTime, Utc};
use http::{HeaderMap, Request, StatusCode};

use super::headers::header;
use super::{Handlers, map_error, read_small_body, set_version_header, version_param};
use crate::access::{self, Verdict};
use crate::objects::{
    BucketInfo, DefaultRetention, LockMode, ObjectInfo, ObjectLock, ObjectLockConfig, Retention,
    RetentionPeriod,
};
use crate::s3::Context;
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::response::{self, S3Response};
use crate::s3::xml::{self, XmlResponse, iso8601};

/// Largest lock document accepted.
const BODY_BYTES_MAX: usize = 4096;

fn mode_name(mode: LockMode) -> &'static str {
    match mode {
        LockMode::Governance => "GOVERNANCE",
        LockMode::Compliance => "COMPLIANCE",
    }
}

/// A mode as S3 spells it (upper case only).
fn parse_mode(text: &str) -> Option<LockMode> {
    match text.trim() {
        "GOVERNANCE" => Some(LockMode::Governance),
        "COMPLIANCE" => Some(LockMode::Compliance),
        _ => None,
    }
}

fn parse_date(text: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(text.trim()).ok().map(|t| t.timestamp_millis())
}

fn time_of(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

fn invalid_argument(message: &str, name: &'static str) -> S3Error {
    S3Error::new(S3ErrorCode::InvalidArgument, message).with("ArgumentName", name)
}

/// The `x-amz-object-lock-*` headers of PutObject, CopyObject and CreateMultipartUpload.
pub fn object_lock_headers(headers: &HeaderMap) -> Result<ObjectLock, S3Error> {
    let mode = header(headers, "x-amz-object-lock-mode");
    let until = header(headers, "x-amz-object-lock-retain-until-date");
    let retention = match (mode, until) {
        (None, None) => None,
        (Some(mode), Some(until)) => {
            let mode = parse_mode(mode).ok_or_else(|| {
                invalid_argument("Unknown wormMode directive.", "x-amz-object-lock-mode")
            })?;
            let until_ms = parse_date(until).ok_or_else(|| {
                invalid_argument(
                    "The retain until date must be an ISO 8601 date and time.",
                    "x-amz-object-lock-retain-until-date",
                )
            })?;
            Some(Retention { mode, until_ms })
        }
        _ => {
            return Err(invalid_argument(
                "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied",
                "x-amz-object-lock-mode",
            ));
        }
    };
    let legal_hold = match header(headers, "x-amz-object-lock-legal-hold") {
        None | Some("OFF") => false,
        Some("ON") => true,
        Some(_) => {
            return Err(invalid_argument(
                "Legal Hold must be either of 'ON' or 'OFF'",
                "x-amz-object-lock-legal-hold",
            ));
        }
    };
    Ok(ObjectLock { retention, legal_hold })
}

/// The lock headers of GET and HEAD.
pub fn set_lock_headers(response: &mut S3Response, info: &ObjectInfo) {
    if let Some(r) = info.retention() {
        response::set_header(response, "x-amz-object-lock-mode", mode_name(r.mode));
        let until = iso8601(time_of(r.until_ms));
        response::set_header(response, "x-amz-object-lock-retain-until-date", &until);
    }
    if info.legal_hold() {
        response::set_header(response, "x-amz-object-lock-legal-hold", "ON");
    }
}

/// Whether the request asks to bypass GOVERNANCE retention and may: the bucket owner only
/// (S3's s3:BypassGovernanceRetention, which our access model gives the owner).
pub fn bypass_governance(headers: &HeaderMap, bucket: &BucketInfo, ctx: &Context) -> bool {
    header(headers, "x-amz-bypass-governance-retention")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
        && access::decide(
            bucket,
            &access::Asking {
                principal: ctx.principal(),
                action: access::BYPASS_GOVERNANCE,
                key: ctx.key.as_deref(),
                facts: &ctx.facts,
            },
        ) == Verdict::Allow
}

fn default_retention(
    rule: Option<xml::ObjectLockRule>,
) -> Result<Option<DefaultRetention>, S3Error> {
    let Some(retention) = rule.and_then(|r| r.default_retention) else { return Ok(None) };
    let mode = retention.mode.as_deref().and_then(parse_mode).ok_or(S3ErrorCode::MalformedXML)?;
    let period = match (retention.days, retention.years) {
        (Some(days), None) => days.try_into().ok().filter(|d| *d > 0).map(RetentionPeriod::Days),
        (None, Some(years)) => years.try_into().ok().filter(|y| *y > 0).map(RetentionPeriod::Years),
        _ => return Err(S3ErrorCode::MalformedXML.into()),
    };
    let period = period.ok_or(S3ErrorCode::InvalidRetentionPeriod)?;
    Ok(Some(DefaultRetention { mode, period }))
}

impl Handlers<'_> {
    pub async fn put_object_lock_configuration<B>(
        &self,
        ctx: &Context,
        request: Request<B>,
    ) -> Result<S3Response, S3Error>
    where
        B: http_body::Body<Data = bytes::Bytes> + Unpin,
        B::Error: std::fmt::Display,
    {
        self.bucket_for(ctx, access::PUT_LOCK_CONFIG).await?;
        let body = read_small_body(request.into_body(), BODY_BYTES_MAX).await?;
        let document: xml::ObjectLockConfiguration =
            xml::from_xml_with_root(&body, xml::ObjectLockConfiguration::ROOT)?;
        if document.enabled.as_deref().map(str::trim) != Some("Enabled") {
            return Err(S3ErrorCode::MalformedXML.into());
        }
        let config = ObjectLockConfig { default_retention: default_retention(document.rule)? };
        self.objects.set_object_lock_config(ctx.bucket(), config).await.map_err(map_error)?;
        Ok(response::status_only(StatusCode::OK))
    }

    pub async fn get_object_lock_configuration(
        &self,
        ctx: &Context,
    ) -> Result<S3Response, S3Error> {
        let bucket = self.bucket_for(ctx, access::GET_LOCK_CONFIG).await?;
        let config = bucket.object_lock.ok_or(S3ErrorCode::ObjectLockConfigurationNotFoundError)?;
        let rule = config.default_retention.map(|d| {
            let (days, years) = match d.period {
                RetentionPeriod::Days(n) => (Some(i64::from(n)), None),
                RetentionPeriod::Years(n) => (None, Some(i64::from(n))),
            };
            let mode = Some(mode_name(d.mode).to_owned());
            xml::ObjectLockRule {
                default_retention: Some(xml::DefaultRetention { mode, days, years }),
            }
        });
        let document = xml::ObjectLockConfiguration { enabled: Some("Enabled".to_owned()), rule };
        Ok(response::xml_response(document.to_xml()))
    }

    pub async fn put_object_retention<B>(
        &self,
        ctx: &Context,
        request: Request<B>,
    ) -> Result<S3Response, S3Error>
    where
        B: http_body::Body<Data = bytes::Bytes> + Unpin,
        B::Error: std::fmt::Display,
    {
        let bucket = self.bucket_for(ctx, access::PUT_RETENTION).await?;
        let version = version_param(ctx)?;
        let bypass = bypass_governance(request.headers(), &bucket, ctx);
        let body = read_small_body(request.into_body(), BODY_BYTES_MAX).await?;
        let document: xml::Retention = xml::from_xml_with_root(&body, xml::Retention::ROOT)?;
        let retention = match (document.mode.as_deref(), document.retain_until_date.as_deref()) {
            // An empty document removes the retention (a GOVERNANCE one, with the bypass).
            (None, None) => None,
            (Some(mode), Some(until)) => Some(Retention {
                mode: parse_mode(mode).ok_or(S3ErrorCode::MalformedXML)?,
                until_ms: parse_date(until).ok_or(S3ErrorCode::MalformedXML)?,
            }),
            _ => return Err(S3ErrorCode::MalformedXML.into()),
        };
        let info = self
            .objects
            .set_retention(ctx.bucket(), ctx.key(), version, retention, bypass)
            .await
            .map_err(map_error)?;
        let mut response = response::status_only(StatusCode::OK);
        set_version_header(&mut response, info.version_id(), false);
        Ok(response)
    }

    pub async fn get_object_retention(&self, ctx: &Context) -> Result<S3Response, S3Error> {
        self.bucket_for(ctx, access::GET_RETENTION).await?;
        let version = version_param(ctx)?;
        let info = self
            .objects
            .object_lock_of(ctx.bucket(), ctx.key(), version)
            .await
            .map_err(map_error)?;
        let retention = info.retention().ok_or(S3ErrorCode::NoSuchObjectLockConfiguration)?;
        let document = xml::Retention {
            mode: Some(mode_name(retention.mode).to_owned()),
            retain_until_date: Some(iso8601(time_of(retention.until_ms))),
        };
        Ok(response::xml_response(document.to_xml()))
    }

    pub async fn put_object_legal_hold<B>(
        &self,
        ctx: &Context,
        request: Request<B>,
    ) -> Result<S3Response, S3Error>
    where
        B: http_body::Body<Data = bytes::Bytes> + Unpin,
        B::Error: std::fmt::Display,
    {
        self.bucket_for(ctx, access::PUT_LEGAL_HOLD).await?;
        let version = version_param(ctx)?;
        let body = read_small_body(request.into_body(), BODY_BYTES_MAX).await?;
        let document: xml::LegalHold = xml::from_xml_with_root(&body, xml::LegalHold::ROOT)?;
        let on = match document.status.as_deref().map(str::trim) {
            Some("ON") => true,
            Some("OFF") => false,
            _ => return Err(S3ErrorCode::MalformedXML.into()),
        };
        let info = self
            .objects
            .set_legal_hold(ctx.bucket(), ctx.key(), version, on)
            .await
            .map_err(map_error)?;
        let mut response = response::status_only(StatusCode::OK);
        set_version_header(&mut response, info.version_id(), false);
        Ok(response)
    }

    pub async fn get_object_legal_hold(&self, ctx: &Context) -> Result<S3Response, S3Error> {
        self.bucket_for(ctx, access::GET_LEGAL_HOLD).await?;
        let version = version_param(ctx)?;
        let info = self
            .objects
            .object_lock_of(ctx.bucket(), ctx.key(), version)
            .await
            .map_err(map_error)?;
        let status = if info.legal_hold() { "ON" } else { "OFF" };
        let document = xml::LegalHold { status: Some(status.to_owned()) };
        Ok(response::xml_response(document.to_xml()))
    }
}
