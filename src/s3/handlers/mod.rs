//! One handler per S3 operation, grouped by resource. Handlers translate between HTTP and the
//! objects layer; `map_error` is the one table from objects errors to S3 codes.

mod acl;
mod attributes;
mod bucket;
mod copy;
mod cors;
mod delete;
mod encryption;
mod headers;
mod lifecycle;
mod list;
mod lock;
mod multipart;
mod object;
mod ownership;
mod payment;
mod policy;
mod post;
mod tagging;
mod versioning;
mod website;

pub(crate) use website::WebsiteRequest;

use bytes::Bytes;
use http_body_util::BodyExt;

use super::S3Options;
use super::error::{S3Error, S3ErrorCode};
use crate::objects::{self, ObjectService};

/// The handlers' view of the node: the object service and the front end's settings.
pub(crate) struct Handlers<'a> {
    pub objects: &'a ObjectService,
    pub options: &'a S3Options,
}

/// The one mapping from objects-layer errors to S3 errors.
pub(crate) fn map_error(e: objects::Error) -> S3Error {
    use objects::Error as E;
    match e {
        E::NoSuchBucket => S3ErrorCode::NoSuchBucket.into(),
        E::NoSuchKey => S3ErrorCode::NoSuchKey.into(),
        E::BucketAlreadyOwnedByYou => S3ErrorCode::BucketAlreadyOwnedByYou.into(),
        E::BucketAlreadyExists => S3ErrorCode::BucketAlreadyExists.into(),
        E::BucketNotEmpty => S3ErrorCode::BucketNotEmpty.into(),
        E::NoSuchAccessKey => S3ErrorCode::InvalidAccessKeyId.into(),
        E::NoSuchUpload => S3ErrorCode::NoSuchUpload.into(),
        E::NoSuchVersion => S3ErrorCode::NoSuchVersion.into(),
        E::LockNotEnabled => {
            S3Error::new(S3ErrorCode::InvalidRequest, "Bucket is missing Object Lock Configuration")
        }
        E::InvalidBucketState { what } => S3Error::new(S3ErrorCode::InvalidBucketState, what),
        E::Locked { what } => S3Error::new(S3ErrorCode::AccessDenied, what),
        E::NoLockConfiguration => S3ErrorCode::NoSuchObjectLockConfiguration.into(),
        E::InvalidVersionId => invalid_version_id(),
        E::DeleteMarker { version_id, named } => {
            let error = if named {
                S3Error::from(S3ErrorCode::MethodNotAllowed).with_header("allow", "DELETE")
            } else {
                S3Error::from(S3ErrorCode::NoSuchKey)
            };
            error
                .with_header("x-amz-delete-marker", "true")
                .with_header("x-amz-version-id", version_text(version_id))
        }
        E::InvalidPart { part_number } => {
            S3Error::from(S3ErrorCode::InvalidPart).with("PartNumber", part_number.to_string())
        }
        E::InvalidPartOrder => S3ErrorCode::InvalidPartOrder.into(),
        E::EntityTooSmall { part_number, size, min } => S3Error::from(S3ErrorCode::EntityTooSmall)
            .with("ProposedSize", size.to_string())
            .with("MinSizeAllowed", min.to_string())
            .with("PartNumber", part_number.to_string()),
        E::MalformedRequest { what } => S3Error::new(S3ErrorCode::InvalidRequest, what),
        E::PreconditionFailed => S3Error::from(S3ErrorCode::PreconditionFailed)
            .with("Condition", "If-Match or If-None-Match"),
        E::ConditionalConflict => S3ErrorCode::ConditionalRequestConflict.into(),
        E::BadDigest { what } => S3Error::new(
            S3ErrorCode::BadDigest,
            format!("The {what} you specified did not match the calculated value."),
        ),
        E::EntityTooLarge { max_bytes } => {
            S3Error::from(S3ErrorCode::EntityTooLarge).with("MaxSizeAllowed", max_bytes.to_string())
        }
        E::Body(body) => match body.0.downcast::<S3Error>() {
            Ok(s3) => *s3,
            Err(other) => S3Error::new(S3ErrorCode::IncompleteBody, other.to_string()),
        },
        E::Unavailable { what } => {
            tracing::warn!(what, "request refused for now");
            S3Error::new(S3ErrorCode::ServiceUnavailable, "Please retry.")
        }
        E::Coordinator(c) => {
            tracing::warn!(error = %c, "replication failed");
            S3Error::new(
                S3ErrorCode::ServiceUnavailable,
                "Not enough replicas answered; please retry.",
            )
        }
        e @ (E::Corrupt { .. } | E::Internal { .. }) => S3Error::internal(&e),
        E::CustomerKeyRequired => S3Error::new(
            S3ErrorCode::InvalidRequest,
            "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.",
        ),
        E::WrongCustomerKey => S3Error::new(
            S3ErrorCode::AccessDenied,
            "The provided customer encryption key does not match the key the object was encrypted with.",
        ),
        E::EncryptionMismatch { what } => S3Error::new(S3ErrorCode::InvalidRequest, what),
        E::NoSuchKmsKey { key_id } => {
            S3Error::new(S3ErrorCode::KmsNotFound, format!("Invalid keyId {key_id}"))
        }
        E::EncryptionUnavailable { what } => {
            tracing::warn!(%what, "server-side encryption refused");
            S3Error::new(S3ErrorCode::NotImplemented, what)
        }
    }
}

impl From<objects::Error> for S3Error {
    fn from(e: objects::Error) -> Self {
        map_error(e)
    }
}

fn invalid_version_id() -> S3Error {
    S3Error::new(S3ErrorCode::InvalidArgument, "Invalid version id specified")
        .with("ArgumentName", "versionId")
}

/// A version id as clients see it: `null` for the null version.
pub(crate) fn version_text(version_id: Option<objects::VersionId>) -> String {
    version_id.map_or_else(|| "null".to_owned(), |id| id.to_string())
}

/// The `versionId` query parameter, if given.
pub(crate) fn version_param(ctx: &super::Context) -> Result<Option<objects::VersionSel>, S3Error> {
    let Some(text) = ctx.query("versionId") else { return Ok(None) };
    objects::VersionSel::parse(text)
        .map(Some)
        .map_err(|_| invalid_version_id().with("ArgumentValue", text))
}

/// Sets `x-amz-version-id` on a response about a version of a versioned bucket's object:
/// always for an id, and as `null` for the null version of a versioned bucket.
pub(crate) fn set_version_header(
    response: &mut super::response::S3Response,
    version_id: Option<objects::VersionId>,
    versioned: bool,
) {
    if version_id.is_some() || versioned {
        super::response::set_header(response, "x-amz-version-id", &version_text(version_id));
    }
}

impl Handlers<'_> {
    /// Applies an unconditional `change` to the request's bucket configuration (by consensus,
    /// see `ObjectService::update_bucket_config`) and answers `status`. The caller authorizes
    /// first.
    pub(crate) async fn set_bucket_config(
        &self,
        ctx: &super::Context,
        status: http::StatusCode,
        mut change: impl FnMut(&mut objects::BucketConfig),
    ) -> Result<super::response::S3Response, S3Error> {
        self.objects
            .update_bucket_config(ctx.bucket(), |_, config| {
                change(config);
                Ok::<_, S3Error>(())
            })
            .await?;
        Ok(super::response::status_only(status))
    }
}

/// Reads a small request body (an XML document) whole, refusing more than `max` bytes.
pub(crate) async fn read_small_body<B>(mut body: B, max: usize) -> Result<Bytes, S3Error>
where
    B: http_body::Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    let mut out = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| S3Error::new(S3ErrorCode::IncompleteBody, e.to_string()))?;
        if let Ok(data) = frame.into_data() {
            if out.len() + data.len() > max {
                return Err(S3Error::new(
                    S3ErrorCode::MalformedXML,
                    "The XML you provided was larger than the maximum allowed size.",
                ));
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(out.freeze())
}
