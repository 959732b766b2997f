//! S3 errors: the one place where failures become AWS error codes, HTTP statuses and XML bodies.
//!
//! Every handler returns `Result<_, S3Error>`; `S3ErrorCode::status` owns the HTTP status so
//! that a code can never be sent with the wrong one. Internal causes are logged with the request
//! id and never shown to the client.
//! Reference: <https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html>

use std::fmt;

use http::StatusCode;

/// The S3 error codes RingVault emits, named as AWS names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum S3ErrorCode {
    AccessDenied,
    AuthorizationHeaderMalformed,
    AuthorizationQueryParametersError,
    BadDigest,
    BucketAlreadyExists,
    BucketAlreadyOwnedByYou,
    BucketNotEmpty,
    ConditionalRequestConflict,
    EntityTooLarge,
    EntityTooSmall,
    ExpiredToken,
    IncompleteBody,
    InternalError,
    InvalidBucketState,
    IllegalVersioningConfigurationException,
    InvalidAccessKeyId,
    InvalidArgument,
    InvalidBucketName,
    InvalidChunkSizeError,
    InvalidDigest,
    InvalidLocationConstraint,
    InvalidPart,
    InvalidPartNumber,
    InvalidPartOrder,
    InvalidRange,
    InvalidRequest,
    InvalidRetentionPeriod,
    InvalidStorageClass,
    InvalidTag,
    KeyTooLongError,
    MalformedXML,
    MetadataTooLarge,
    MethodNotAllowed,
    MissingContentLength,
    MissingSecurityHeader,
    NoSuchBucket,
    NoSuchKey,
    NoSuchObjectLockConfiguration,
    NoSuchTagSet,
    NoSuchUpload,
    NoSuchVersion,
    NotImplemented,
    NotModified,
    ObjectLockConfigurationNotFoundError,
    PreconditionFailed,
    RequestHeaderSectionTooLarge,
    RequestTimeTooSkewed,
    ServiceUnavailable,
    SignatureDoesNotMatch,
    SlowDown,
    XAmzContentSHA256Mismatch,
    NoSuchWebsiteConfiguration,
    NoSuchLifecycleConfiguration,
    InvalidPolicyDocument,
    MalformedPOSTRequest,
    MaxPostPreDataLengthExceeded,
    BadRequest,
    AccessForbidden,
    UnexpectedContent,
    MalformedACLError,
    UnresolvableGrantByEmailAddress,
    AccessControlListNotSupported,
    InvalidBucketAclWithObjectOwnership,
    MalformedPolicy,
    NoSuchBucketPolicy,
    OwnershipControlsNotFoundError,
    NoSuchPublicAccessBlockConfiguration,
    NoSuchCORSConfiguration,
    InvalidEncryptionAlgorithmError,
    ServerSideEncryptionConfigurationNotFoundError,
    KmsNotFound,
}

impl S3ErrorCode {
    /// The HTTP status AWS sends with this code.
    pub fn status(self) -> StatusCode {
        use S3ErrorCode as C;
        match self {
            C::AccessDenied
            | C::AccessForbidden
            | C::InvalidAccessKeyId
            | C::RequestTimeTooSkewed
            | C::SignatureDoesNotMatch => StatusCode::FORBIDDEN,
            C::ExpiredToken
            | C::AuthorizationHeaderMalformed
            | C::AuthorizationQueryParametersError
            | C::BadDigest
            | C::EntityTooLarge
            | C::EntityTooSmall
            | C::InvalidPart
            | C::InvalidPartOrder
            | C::InvalidTag
            | C::IncompleteBody
            | C::IllegalVersioningConfigurationException
            | C::InvalidArgument
            | C::InvalidBucketName
            | C::InvalidChunkSizeError
            | C::InvalidDigest
            | C::InvalidLocationConstraint
            | C::InvalidRequest
            | C::InvalidRetentionPeriod
            | C::InvalidStorageClass
            | C::KeyTooLongError
            | C::MalformedXML
            | C::MetadataTooLarge
            | C::MissingSecurityHeader
            | C::RequestHeaderSectionTooLarge
            | C::MalformedACLError
            | C::UnresolvableGrantByEmailAddress
            | C::AccessControlListNotSupported
            | C::InvalidBucketAclWithObjectOwnership
            | C::MalformedPolicy
            | C::UnexpectedContent
            | C::BadRequest
            | C::InvalidPolicyDocument
            | C::MalformedPOSTRequest
            | C::MaxPostPreDataLengthExceeded
            | C::InvalidEncryptionAlgorithmError
            | C::KmsNotFound
            | C::XAmzContentSHA256Mismatch => StatusCode::BAD_REQUEST,
            C::BucketAlreadyExists
            | C::BucketAlreadyOwnedByYou
            | C::BucketNotEmpty
            | C::InvalidBucketState
            | C::ConditionalRequestConflict => StatusCode::CONFLICT,
            C::NoSuchBucket
            | C::NoSuchKey
            | C::NoSuchTagSet
            | C::NoSuchUpload
            | C::NoSuchVersion
            | C::NoSuchObjectLockConfiguration
            | C::NoSuchBucketPolicy
            | C::OwnershipControlsNotFoundError
            | C::NoSuchPublicAccessBlockConfiguration
            | C::NoSuchCORSConfiguration
            | C::NoSuchLifecycleConfiguration
            | C::NoSuchWebsiteConfiguration
            | C::ServerSideEncryptionConfigurationNotFoundError
            | C::ObjectLockConfigurationNotFoundError => StatusCode::NOT_FOUND,
            C::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            C::MissingContentLength => StatusCode::LENGTH_REQUIRED,
            C::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            C::InvalidRange | C::InvalidPartNumber => StatusCode::RANGE_NOT_SATISFIABLE,
            C::NotModified => StatusCode::NOT_MODIFIED,
            C::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
            C::NotImplemented => StatusCode::NOT_IMPLEMENTED,
            C::ServiceUnavailable | C::SlowDown => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The code as it appears in the `<Code>` element.
    pub fn as_str(self) -> &'static str {
        use S3ErrorCode as C;
        match self {
            C::AccessDenied => "AccessDenied",
            C::AuthorizationHeaderMalformed => "AuthorizationHeaderMalformed",
            C::AuthorizationQueryParametersError => "AuthorizationQueryParametersError",
            C::BadDigest => "BadDigest",
            C::BucketAlreadyExists => "BucketAlreadyExists",
            C::BucketAlreadyOwnedByYou => "BucketAlreadyOwnedByYou",
            C::BucketNotEmpty => "BucketNotEmpty",
            C::ConditionalRequestConflict => "ConditionalRequestConflict",
            C::EntityTooLarge => "EntityTooLarge",
            C::EntityTooSmall => "EntityTooSmall",
            C::ExpiredToken => "ExpiredToken",
            C::IncompleteBody => "IncompleteBody",
            C::InternalError => "InternalError",
            C::InvalidBucketState => "InvalidBucketState",
            C::IllegalVersioningConfigurationException => "IllegalVersioningConfigurationException",
            C::InvalidAccessKeyId => "InvalidAccessKeyId",
            C::InvalidArgument => "InvalidArgument",
            C::InvalidBucketName => "InvalidBucketName",
            C::InvalidChunkSizeError => "InvalidChunkSizeError",
            C::InvalidDigest => "InvalidDigest",
            C::InvalidLocationConstraint => "InvalidLocationConstraint",
            C::InvalidPart => "InvalidPart",
            C::InvalidPartNumber => "InvalidPartNumber",
            C::InvalidPartOrder => "InvalidPartOrder",
            C::InvalidRange => "InvalidRange",
            C::InvalidRequest => "InvalidRequest",
            C::InvalidRetentionPeriod => "InvalidRetentionPeriod",
            C::InvalidStorageClass => "InvalidStorageClass",
            C::InvalidTag => "InvalidTag",
            C::KeyTooLongError => "KeyTooLongError",
            C::MalformedXML => "MalformedXML",
            C::MetadataTooLarge => "MetadataTooLarge",
            C::MethodNotAllowed => "MethodNotAllowed",
            C::MissingContentLength => "MissingContentLength",
            C::MissingSecurityHeader => "MissingSecurityHeader",
            C::NoSuchBucket => "NoSuchBucket",
            C::NoSuchKey => "NoSuchKey",
            C::NoSuchObjectLockConfiguration => "NoSuchObjectLockConfiguration",
            C::NoSuchTagSet => "NoSuchTagSet",
            C::NoSuchUpload => "NoSuchUpload",
            C::NoSuchVersion => "NoSuchVersion",
            C::NotImplemented => "NotImplemented",
            C::NotModified => "NotModified",
            C::ObjectLockConfigurationNotFoundError => "ObjectLockConfigurationNotFoundError",
            C::PreconditionFailed => "PreconditionFailed",
            C::RequestHeaderSectionTooLarge => "RequestHeaderSectionTooLarge",
            C::RequestTimeTooSkewed => "RequestTimeTooSkewed",
            C::ServiceUnavailable => "ServiceUnavailable",
            C::SignatureDoesNotMatch => "SignatureDoesNotMatch",
            C::SlowDown => "SlowDown",
            C::XAmzContentSHA256Mismatch => "XAmzContentSHA256Mismatch",
            C::NoSuchWebsiteConfiguration => "NoSuchWebsiteConfiguration",
            C::NoSuchLifecycleConfiguration => "NoSuchLifecycleConfiguration",
            C::InvalidPolicyDocument => "InvalidPolicyDocument",
            C::MalformedPOSTRequest => "MalformedPOSTRequest",
            C::MaxPostPreDataLengthExceeded => "MaxPostPreDataLengthExceeded",
            C::BadRequest => "BadRequest",
            C::AccessForbidden => "AccessForbidden",
            C::UnexpectedContent => "UnexpectedContent",
            C::MalformedACLError => "MalformedACLError",
            C::UnresolvableGrantByEmailAddress => "UnresolvableGrantByEmailAddress",
            C::AccessControlListNotSupported => "AccessControlListNotSupported",
            C::InvalidBucketAclWithObjectOwnership => "InvalidBucketAclWithObjectOwnership",
            C::MalformedPolicy => "MalformedPolicy",
            C::NoSuchBucketPolicy => "NoSuchBucketPolicy",
            C::OwnershipControlsNotFoundError => "OwnershipControlsNotFoundError",
            C::NoSuchPublicAccessBlockConfiguration => "NoSuchPublicAccessBlockConfiguration",
            C::NoSuchCORSConfiguration => "NoSuchCORSConfiguration",
            C::InvalidEncryptionAlgorithmError => "InvalidEncryptionAlgorithmError",
            C::ServerSideEncryptionConfigurationNotFoundError => {
                "ServerSideEncryptionConfigurationNotFoundError"
            }
            C::KmsNotFound => "KMS.NotFoundException",
        }
    }
}

impl fmt::Display for S3ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An S3 error on its way to the client.
///
/// `extra` holds the additional elements some codes carry (`Region` for
/// `AuthorizationHeaderMalformed`, `StringToSign` for `SignatureDoesNotMatch`, ...).
#[derive(Debug, Clone)]
pub struct S3Error {
    pub code: S3ErrorCode,
    pub message: String,
    pub resource: Option<String>,
    pub extra: Vec<(&'static str, String)>,
    /// Response headers that go with the error (e.g. `Content-Range` on a 416).
    pub headers: Vec<(&'static str, String)>,
}

impl S3Error {
    pub fn new(code: S3ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            resource: None,
            extra: Vec::new(),
            headers: Vec::new(),
        }
    }

    /// Adds an extra element to the XML body.
    #[must_use]
    pub fn with(mut self, element: &'static str, value: impl Into<String>) -> Self {
        self.extra.push((element, value.into()));
        self
    }

    /// Adds a response header to the error response.
    #[must_use]
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    #[must_use]
    pub fn with_resource(mut self, resource: impl Into<String>) -> Self {
        self.resource = Some(resource.into());
        self
    }

    /// An internal failure: the client sees a generic message, the cause goes to the log.
    pub fn internal(cause: &dyn fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Self::new(S3ErrorCode::InternalError, "We encountered an internal error. Please try again.")
    }
}

impl From<S3ErrorCode> for S3Error {
    fn from(code: S3ErrorCode) -> Self {
        let message = default_message(code);
        Self::new(code, message)
    }
}

impl fmt::Display for S3Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for S3Error {}

fn default_message(code: S3ErrorCode) -> &'static str {
    use S3ErrorCode as C;
    match code {
        C::AccessDenied => "Access Denied",
        C::BadDigest => "The Content-MD5 or checksum you specified did not match what we received.",
        C::BucketAlreadyExists => "The requested bucket name is not available.",
        C::BucketAlreadyOwnedByYou => {
            "Your previous request to create the named bucket succeeded and you already own it."
        }
        C::BucketNotEmpty => "The bucket you tried to delete is not empty",
        C::ConditionalRequestConflict => {
            "A conflicting conditional operation is currently in progress against this resource. Please try again."
        }
        C::EntityTooLarge => "Your proposed upload exceeds the maximum allowed size",
        C::IncompleteBody => {
            "You did not provide the number of bytes specified by the Content-Length HTTP header."
        }
        C::InternalError => "We encountered an internal error. Please try again.",
        C::InvalidAccessKeyId => {
            "The AWS Access Key Id you provided does not exist in our records."
        }
        C::InvalidBucketName => "The specified bucket is not valid.",
        C::InvalidDigest => "The Content-MD5 or checksum you specified is not valid.",
        C::InvalidRange => "The requested range is not satisfiable",
        C::KeyTooLongError => "Your key is too long",
        C::MalformedXML => {
            "The XML you provided was not well-formed or did not validate against our published schema"
        }
        C::MetadataTooLarge => "Your metadata headers exceed the maximum allowed metadata size.",
        C::MethodNotAllowed => "The specified method is not allowed against this resource.",
        C::MissingContentLength => "You must provide the Content-Length HTTP header.",
        C::NoSuchBucket => "The specified bucket does not exist",
        C::NoSuchKey => "The specified key does not exist.",
        C::NoSuchTagSet => "The TagSet does not exist",
        C::NoSuchVersion => "The specified version does not exist.",
        C::InvalidBucketState => "The request is not valid with the current state of the bucket.",
        C::InvalidRetentionPeriod => {
            "The retention period must be a positive number of days or years."
        }
        C::NoSuchObjectLockConfiguration => {
            "The specified object does not have an ObjectLock configuration"
        }
        C::ObjectLockConfigurationNotFoundError => {
            "Object Lock configuration does not exist for this bucket"
        }
        C::IllegalVersioningConfigurationException => {
            "The versioning configuration specified in the request is invalid."
        }
        C::NoSuchUpload => {
            "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."
        }
        C::InvalidPart => {
            "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag."
        }
        C::InvalidPartOrder => {
            "The list of parts was not in ascending order. Parts must be ordered by part number."
        }
        C::InvalidPartNumber => "The requested partnumber is not satisfiable",
        C::EntityTooSmall => {
            "Your proposed upload is smaller than the minimum allowed object size."
        }
        C::NotImplemented => {
            "A header or operation you provided implies functionality that is not implemented"
        }
        C::PreconditionFailed => "At least one of the pre-conditions you specified did not hold",
        C::RequestHeaderSectionTooLarge => {
            "Your request header section exceeds the maximum allowed size."
        }
        C::RequestTimeTooSkewed => {
            "The difference between the request time and the current time is too large."
        }
        C::ServiceUnavailable => "Please reduce your request rate.",
        C::SignatureDoesNotMatch => {
            "The request signature we calculated does not match the signature you provided. Check your key and signing method."
        }
        C::SlowDown => "Please reduce your request rate.",
        C::XAmzContentSHA256Mismatch => {
            "The provided 'x-amz-content-sha256' header does not match what was computed."
        }
        _ => code.as_str_message(),
    }
}

impl S3ErrorCode {
    fn as_str_message(self) -> &'static str {
        match self {
            S3ErrorCode::ExpiredToken => "The provided token has expired.",
            S3ErrorCode::AuthorizationHeaderMalformed => "The authorization header is malformed.",
            S3ErrorCode::AuthorizationQueryParametersError => {
                "Error parsing the X-Amz-Credential parameter."
            }
            S3ErrorCode::InvalidChunkSizeError => {
                "Only the last chunk is allowed to have a size less than 8192 bytes"
            }
            S3ErrorCode::InvalidLocationConstraint => {
                "The specified location-constraint is not valid"
            }
            S3ErrorCode::InvalidStorageClass => "The storage class you specified is not valid",
            S3ErrorCode::MissingSecurityHeader => "Your request is missing a required header.",
            S3ErrorCode::NotModified => "Not Modified",
            S3ErrorCode::NoSuchWebsiteConfiguration => {
                "The specified bucket does not have a website configuration"
            }
            S3ErrorCode::NoSuchLifecycleConfiguration => {
                "The lifecycle configuration does not exist"
            }
            S3ErrorCode::MalformedACLError => {
                "The XML you provided was not well-formed or did not validate against our published schema."
            }
            S3ErrorCode::UnresolvableGrantByEmailAddress => {
                "The e-mail address you provided does not match any account on record."
            }
            S3ErrorCode::AccessControlListNotSupported => "The bucket does not allow ACLs",
            S3ErrorCode::InvalidBucketAclWithObjectOwnership => {
                "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting"
            }
            S3ErrorCode::MalformedPolicy => {
                "Policies must be valid JSON and the first byte must be '{'"
            }
            S3ErrorCode::NoSuchBucketPolicy => "The bucket policy does not exist",
            S3ErrorCode::OwnershipControlsNotFoundError => {
                "The bucket ownership controls were not found"
            }
            S3ErrorCode::NoSuchPublicAccessBlockConfiguration => {
                "The public access block configuration was not found"
            }
            S3ErrorCode::NoSuchCORSConfiguration => "The CORS configuration does not exist",
            S3ErrorCode::InvalidEncryptionAlgorithmError => {
                "The encryption request you specified is not valid. Supported value: AES256."
            }
            S3ErrorCode::ServerSideEncryptionConfigurationNotFoundError => {
                "The server side encryption configuration was not found"
            }
            _ => "The request is not valid.",
        }
    }
}
