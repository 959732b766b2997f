//! Errors of the objects layer: S3 semantics, without HTTP or XML. The S3 layer maps each
//! variant to an AWS error code in one place.

use crate::coordinator::CoordinatorError;

/// A failure of the request body stream, carried opaquely: the protocol layer that produced it
/// recognises its own error type again by downcasting.
#[derive(Debug)]
pub struct BodyError(pub Box<dyn std::error::Error + Send + Sync>);

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for BodyError {}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no such bucket")]
    NoSuchBucket,
    #[error("no such key")]
    NoSuchKey,
    #[error("bucket already owned by you")]
    BucketAlreadyOwnedByYou,
    #[error("bucket already exists")]
    BucketAlreadyExists,
    #[error("bucket not empty")]
    BucketNotEmpty,
    #[error("no such access key")]
    NoSuchAccessKey,
    #[error("no such version")]
    NoSuchVersion,
    #[error("invalid version id")]
    InvalidVersionId,
    /// The version asked for is a delete marker: `named` when the request gave its id.
    #[error("the version is a delete marker")]
    DeleteMarker { version_id: Option<super::VersionId>, named: bool },
    /// An object lock request on a bucket without object lock.
    #[error("the bucket has no object lock configuration")]
    LockNotEnabled,
    /// The bucket is not in a state that allows this (object lock without versioning enabled,
    /// suspending versioning with object lock).
    #[error("invalid bucket state: {what}")]
    InvalidBucketState { what: &'static str },
    /// The version is protected by a legal hold or a retention the request may not override.
    #[error("the version is locked: {what}")]
    Locked { what: &'static str },
    /// A version with no retention (GetObjectRetention) or bucket with no lock configuration.
    #[error("no object lock configuration")]
    NoLockConfiguration,
    #[error("no such upload")]
    NoSuchUpload,
    #[error("the write's precondition does not hold")]
    PreconditionFailed,
    #[error("concurrent conditional writes on the object kept this one from being decided")]
    ConditionalConflict,
    #[error("part {part_number} was not found or its ETag did not match")]
    InvalidPart { part_number: u32 },
    #[error("the parts are not in ascending order")]
    InvalidPartOrder,
    #[error("part {part_number} is {size} bytes, below the minimum of {min}")]
    EntityTooSmall { part_number: u32, size: u64, min: u64 },
    #[error("{what}")]
    MalformedRequest { what: &'static str },
    #[error("{what} did not match the body")]
    BadDigest { what: &'static str },
    #[error("body larger than {max_bytes} bytes")]
    EntityTooLarge { max_bytes: u64 },
    #[error("request body: {0}")]
    Body(BodyError),
    #[error("replication: {0}")]
    Coordinator(CoordinatorError),
    /// Something this node needs is not available now; a retry may succeed.
    #[error("unavailable: {what}")]
    Unavailable { what: &'static str },
    #[error("corrupt record: {what}")]
    Corrupt { what: String },
    #[error("internal: {what}")]
    Internal { what: String },
    /// The object is encrypted with a customer key (SSE-C) and the request gave none.
    #[error("the object is encrypted with a customer key the request did not give")]
    CustomerKeyRequired,
    /// The customer key given is not the one the object (or upload) was encrypted with.
    #[error("the customer key does not match the object's")]
    WrongCustomerKey,
    /// Encryption parameters that do not fit the object or upload they are given for.
    #[error("{what}")]
    EncryptionMismatch { what: &'static str },
    /// An SSE-KMS key id the keyring does not hold.
    #[error("no KMS key {key_id:?}")]
    NoSuchKmsKey { key_id: String },
    /// Server-side encryption this node is not configured for (no master key, a keyring key
    /// gone).
    #[error("{what}")]
    EncryptionUnavailable { what: String },
}

/// Replication failures keep their meaning: data lost or corrupt on every replica that answered
/// is `Corrupt` (a 500, logged), anything else is out of reach for now (a 503, retryable).
impl From<CoordinatorError> for Error {
    fn from(e: CoordinatorError) -> Self {
        if matches!(e, CoordinatorError::Contended) {
            return Error::ConditionalConflict;
        }
        if e.is_data_loss() {
            tracing::error!(error = %e, "data lost or corrupt on every replica that answered");
            Error::Corrupt { what: e.to_string() }
        } else {
            Error::Coordinator(e)
        }
    }
}

impl Error {
    /// The error of a failed body stream. A body read from this store (a copy's source) fails
    /// with the coordinator's error, which keeps its meaning: lost (500) or unreachable (503),
    /// not a client's incomplete body.
    pub(super) fn from_body(e: BodyError) -> Error {
        match e.0.downcast::<CoordinatorError>() {
            Ok(cause) => Error::from(*cause),
            Err(other) => Error::Body(BodyError(other)),
        }
    }
}
