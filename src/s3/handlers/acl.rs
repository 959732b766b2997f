//! Access control in the handlers: the authorization gates every handler passes
//! (`bucket_for`, `object_access`), the ACLs that writes ask for, and Get/Put{Bucket,Object}Acl.
//! Reference: <https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketAcl.html>

use http::{HeaderMap, Request, StatusCode};

use super::{Handlers, map_error, read_small_body};
use crate::access::{self, Action, Asking, Verdict};
use crate::objects::acl::{Acl, Grantee};
use crate::objects::{self, BucketInfo, ObjectInfo, ObjectOwnership};
use crate::s3::Context;
use crate::s3::acl::AclRequest;
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::response::{self, S3Response};

const ACL_BODY_BYTES_MAX: usize = 64 << 10;

/// An object-level decision that waits for the object: see `access::Verdict::ObjectAcl`.
#[derive(Debug)]
pub(crate) struct ObjectGate {
    action: Action,
    key: String,
    verdict: Verdict,
}

impl ObjectGate {
    /// Lets the request go on with `info`, or refuses it. A bucket policy that names the
    /// object's tags (`s3:ExistingObjectTag/<key>`) is asked again with them.
    pub fn check(
        &self,
        bucket: &BucketInfo,
        ctx: &Context,
        info: &ObjectInfo,
    ) -> Result<(), S3Error> {
        let verdict = if depends_on_object_tags(bucket) {
            let mut facts = ctx.facts.clone();
            crate::s3::facts::add_existing_tags(&mut facts, info.tags());
            let asking = Asking {
                principal: ctx.principal(),
                action: self.action,
                key: Some(&self.key),
                facts: &facts,
            };
            access::decide(bucket, &asking)
        } else {
            self.verdict
        };
        let allowed = match verdict {
            Verdict::Allow => true,
            Verdict::Deny => false,
            Verdict::ObjectAcl(p) => {
                access::object_permits(bucket, ctx.principal(), info.owner(), &info.acl(), p)
            }
        };
        if allowed { Ok(()) } else { Err(denied()) }
    }

    /// Whether the request may go on without looking at the object.
    pub fn allowed_outright(&self) -> bool {
        self.verdict == Verdict::Allow
    }

    /// What a failed read of the object becomes: AccessDenied unless the requester could have
    /// seen the object (allowed outright, or may list its name: S3 reveals absence only to
    /// those who could list it). Asked only when the read failed.
    pub fn missing(&self, bucket: &BucketInfo, ctx: &Context, error: objects::Error) -> S3Error {
        let absent = matches!(error, objects::Error::NoSuchKey | objects::Error::NoSuchVersion);
        if absent && self.verdict != Verdict::Allow {
            let mut facts = ctx.facts.clone();
            facts.set("s3:prefix", self.key.as_str());
            let list = Asking {
                principal: ctx.principal(),
                action: access::LIST_BUCKET,
                key: None,
                facts: &facts,
            };
            if access::decide(bucket, &list) != Verdict::Allow {
                return denied();
            }
        }
        map_error(error)
    }
}

fn denied() -> S3Error {
    S3ErrorCode::AccessDenied.into()
}

/// `x-amz-expected-bucket-owner`: a request meant for someone else's bucket is refused.
fn expect_owner(bucket: &BucketInfo, ctx: &Context) -> Result<(), S3Error> {
    match &ctx.expected_owner {
        Some(owner) if *owner != bucket.owner => Err(denied()),
        _ => Ok(()),
    }
}

/// Whether a policy may still allow an action once the object's tags are known.
fn depends_on_object_tags(bucket: &BucketInfo) -> bool {
    bucket
        .config
        .policy
        .as_deref()
        .is_some_and(|p| p.to_ascii_lowercase().contains("existingobjecttag"))
}

impl Handlers<'_> {
    /// The request's bucket, if it exists and the requester may do `action` on it (on the
    /// request's object, if it names one).
    pub(crate) async fn bucket_for(
        &self,
        ctx: &Context,
        action: Action,
    ) -> Result<BucketInfo, S3Error> {
        let bucket = self.objects.bucket(ctx.bucket()).await.map_err(map_error)?;
        expect_owner(&bucket, ctx)?;
        let asking = Asking {
            principal: ctx.principal(),
            action,
            key: ctx.key.as_deref(),
            facts: &ctx.facts,
        };
        match access::decide(&bucket, &asking) {
            Verdict::Allow => Ok(bucket),
            Verdict::Deny | Verdict::ObjectAcl(_) => Err(denied()),
        }
    }

    /// The request's bucket and the gate an object-level `action` still has to pass once the
    /// object is read.
    pub(crate) async fn object_access(
        &self,
        ctx: &Context,
        action: Action,
    ) -> Result<(BucketInfo, ObjectGate), S3Error> {
        self.object_access_in(ctx.bucket(), ctx.key(), ctx, action).await
    }

    /// `object_access` for an object the request names otherwise (a copy source).
    pub(crate) async fn object_access_in(
        &self,
        name: &str,
        key: &str,
        ctx: &Context,
        action: Action,
    ) -> Result<(BucketInfo, ObjectGate), S3Error> {
        let bucket = self.objects.bucket(name).await.map_err(map_error)?;
        if name == ctx.bucket() {
            expect_owner(&bucket, ctx)?;
        }
        let asking =
            Asking { principal: ctx.principal(), action, key: Some(key), facts: &ctx.facts };
        let verdict = access::decide(&bucket, &asking);
        if verdict == Verdict::Deny && !depends_on_object_tags(&bucket) {
            return Err(denied());
        }
        Ok((bucket, ObjectGate { action, key: key.to_owned(), verdict }))
    }

    /// Who will own what a write (PutObject, CopyObject, CreateMultipartUpload) creates, and
    /// the ACL it asks for in its headers, checked against the bucket's ownership controls and
    /// public access block.
    pub(crate) async fn new_object_owner_and_acl(
        &self,
        headers: &HeaderMap,
        bucket: &BucketInfo,
        principal: Option<&str>,
    ) -> Result<(String, Option<Acl>), S3Error> {
        let request = crate::s3::acl::from_headers(headers)?;
        let full_control = matches!(
            request,
            Some(AclRequest::Canned(crate::objects::acl::CannedAcl::BucketOwnerFullControl))
        );
        let owner = access::owner_of_write(bucket, principal, full_control);
        let acl = match request {
            Some(request) => Some(self.acl_for(request, bucket, &owner).await?),
            None => None,
        };
        Ok((owner, acl))
    }

    async fn acl_for(
        &self,
        request: AclRequest,
        bucket: &BucketInfo,
        owner: &str,
    ) -> Result<Acl, S3Error> {
        // With ACLs disabled, only the ACL that changes nothing is accepted (S3 refuses even
        // `private` on a PutBucketAcl or PutObjectAcl).
        if bucket.config.ownership == Some(ObjectOwnership::BucketOwnerEnforced)
            && request != AclRequest::Canned(crate::objects::acl::CannedAcl::BucketOwnerFullControl)
        {
            return Err(S3Error::from(S3ErrorCode::AccessControlListNotSupported));
        }
        let acl = request.acl(owner, &bucket.owner);
        let block = bucket.config.public_access_block.unwrap_or_default();
        if block.block_public_acls && acl.is_public() {
            return Err(S3Error::new(
                S3ErrorCode::AccessDenied,
                "The bucket's public access block forbids public ACLs.",
            ));
        }
        for grant in &acl.grants {
            if let Grantee::User(id) = &grant.grantee
                && id != owner
                && id != &bucket.owner
                && self.objects.access_key(id).await.map_err(map_error)?.is_none()
            {
                return Err(S3Error::new(S3ErrorCode::InvalidArgument, "Invalid id")
                    .with("ArgumentName", "CanonicalUser/ID")
                    .with("ArgumentValue", id.as_str()));
            }
        }
        Ok(acl)
    }

    /// The ACL a PutBucketAcl/PutObjectAcl asks for: its headers or its body, not both.
    async fn acl_change<B>(
        &self,
        request: Request<B>,
        bucket: &BucketInfo,
        owner: &str,
    ) -> Result<Acl, S3Error>
    where
        B: http_body::Body<Data = bytes::Bytes> + Unpin,
        B::Error: std::fmt::Display,
    {
        let (parts, body) = request.into_parts();
        let from_headers = crate::s3::acl::from_headers(&parts.headers)?;
        let body = read_small_body(body, ACL_BODY_BYTES_MAX).await?;
        let has_body = !body.iter().all(u8::is_ascii_whitespace);
        let change = match (from_headers, has_body) {
            (Some(_), true) => {
                return Err(S3Error::new(
                    S3ErrorCode::UnexpectedContent,
                    "This request does not support content with ACL headers.",
                ));
            }
            (Some(request), false) => request,
            (None, true) => AclRequest::Grants(crate::s3::acl::from_document(&body)?),
            (None, false) => {
                return Err(S3Error::new(
                    S3ErrorCode::MissingSecurityHeader,
                    "Your request was missing a required header.",
                )
                .with("MissingHeaderName", "x-amz-acl"));
            }
        };
        self.acl_for(change, bucket, owner).await
    }

    pub async fn get_bucket_acl(&self, ctx: &Context) -> Result<S3Response, S3Error> {
        let bucket = self.bucket_for(ctx, access::GET_BUCKET_ACL).await?;
        let acl = access::bucket_acl(&bucket);
        Ok(response::xml_response(crate::s3::acl::to_document(&bucket.owner, &acl)))
    }

    pub async fn put_bucket_acl<B>(
        &self,
        ctx: &Context,
        request: Request<B>,
    ) -> Result<S3Response, S3Error>
    where
        B: http_body::Body<Data = bytes::Bytes> + Unpin,
        B::Error: std::fmt::Display,
    {
        let bucket = self.bucket_for(ctx, access::PUT_BUCKET_ACL).await?;
        let acl = self.acl_change(request, &bucket, &bucket.owner).await?;
        self.set_bucket_config(ctx, StatusCode::OK, |c| c.acl = Some(acl.clone())).await
    }

    pub async fn get_object_acl(&self, ctx: &Context) -> Result<S3Response, S3Error> {
        let (bucket, gate) = self.object_access(ctx, access::GET_OBJECT_ACL).await?;
        let version = super::version_param(ctx)?;
        let info = self
            .objects
            .object_version(ctx.bucket(), ctx.key(), version)
            .await
            .map_err(|e| gate.missing(&bucket, ctx, e))?;
        gate.check(&bucket, ctx, &info)?;
        let mut response =
            response::xml_response(crate::s3::acl::to_document(info.owner(), &info.acl()));
        let versioned = bucket.versioning != objects::Versioning::Unversioned;
        super::set_version_header(&mut response, info.version_id(), versioned);
        Ok(response)
    }

    pub async fn put_object_acl<B>(
        &self,
        ctx: &Context,
        request: Request<B>,
    ) -> Result<S3Response, S3Error>
    where
        B: http_body::Body<Data = bytes::Bytes> + Unpin,
        B::Error: std::fmt::Display,
    {
        let (bucket, gate) = self.object_access(ctx, access::PUT_OBJECT_ACL).await?;
        let version = super::version_param(ctx)?;
        let info = self
            .objects
            .object_version(ctx.bucket(), ctx.key(), version)
            .await
            .map_err(|e| gate.missing(&bucket, ctx, e))?;
        gate.check(&bucket, ctx, &info)?;
        let acl = self.acl_change(request, &bucket, info.owner()).await?;
        let changed = self
            .objects
            .set_object_acl(ctx.bucket(), ctx.key(), version, acl)
            .await
            .map_err(map_error)?;
        let mut response = response::status_only(StatusCode::OK);
        let versioned = bucket.versioning != objects::Versioning::Unversioned;
        super::set_version_header(&mut response, changed.version_id(), versioned);
        Ok(response)
    }
}
