//! Admin API errors. Each variant owns its HTTP status and stable code in one table
//! (`status`, `code`); the answer body is always `api::ErrorBody` JSON. Internal causes are
//! logged here and never sent to the caller.

use http::StatusCode;

use crate::objects;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("a valid admin token is required (Authorization: Bearer <token>)")]
    Unauthorized,
    #[error("no such route: {path}")]
    NoSuchRoute { path: String },
    #[error("method {method} is not allowed on {path} (allowed: {allow})")]
    MethodNotAllowed { method: String, path: String, allow: &'static str },
    #[error("the request body is not valid JSON for this call: {reason}")]
    InvalidJson { reason: String },
    #[error("the request body is larger than {max_bytes} bytes")]
    BodyTooLarge { max_bytes: usize },
    #[error("{field} {reason}")]
    InvalidArgument { field: &'static str, reason: String },
    #[error("no access key {access_key_id}")]
    NoSuchAccessKey { access_key_id: String },
    #[error("no bucket {bucket}")]
    NoSuchBucket { bucket: String },
    #[error("no object {key} in bucket {bucket}")]
    NoSuchObject { bucket: String, key: String },
    #[error("the object is larger than {max_bytes} bytes")]
    ObjectTooLarge { max_bytes: u64 },
    #[error("the upload did not arrive whole: {reason}")]
    IncompleteBody { reason: String },
    #[error("refused: {reason}")]
    Refused { reason: String },
    #[error("the download link is not valid, or it has expired")]
    InvalidLink,
    #[error("access key {access_key_id} already exists")]
    AccessKeyAlreadyExists { access_key_id: String },
    #[error("{reason}; the layout is unchanged here: see `cluster status`, then stage again")]
    LayoutConflict { reason: String },
    #[error("not enough replicas answered; retry")]
    Unavailable,
    #[error("internal error; see the node's log")]
    Internal,
}

/// What a request was about, to name it in a not-found error.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    Key(&'a str),
    Bucket(&'a str),
    Object { bucket: &'a str, key: &'a str },
    Nothing,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::NoSuchRoute { .. }
            | Self::NoSuchAccessKey { .. }
            | Self::NoSuchBucket { .. }
            | Self::NoSuchObject { .. } => StatusCode::NOT_FOUND,
            Self::ObjectTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::IncompleteBody { .. } => StatusCode::BAD_REQUEST,
            Self::Refused { .. } => StatusCode::CONFLICT,
            Self::InvalidLink => StatusCode::FORBIDDEN,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::InvalidJson { .. } | Self::InvalidArgument { .. } => StatusCode::BAD_REQUEST,
            Self::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::AccessKeyAlreadyExists { .. } | Self::LayoutConflict { .. } => {
                StatusCode::CONFLICT
            }
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthorized => "Unauthorized",
            Self::NoSuchRoute { .. } => "NoSuchRoute",
            Self::MethodNotAllowed { .. } => "MethodNotAllowed",
            Self::InvalidJson { .. } => "InvalidJson",
            Self::BodyTooLarge { .. } => "BodyTooLarge",
            Self::InvalidArgument { .. } => "InvalidArgument",
            Self::NoSuchAccessKey { .. } => "NoSuchAccessKey",
            Self::NoSuchBucket { .. } => "NoSuchBucket",
            Self::NoSuchObject { .. } => "NoSuchKey",
            Self::ObjectTooLarge { .. } => "EntityTooLarge",
            Self::IncompleteBody { .. } => "IncompleteBody",
            Self::Refused { .. } => "Refused",
            Self::InvalidLink => "InvalidLink",
            Self::AccessKeyAlreadyExists { .. } => "AccessKeyAlreadyExists",
            Self::LayoutConflict { .. } => "LayoutConflict",
            Self::Unavailable => "ServiceUnavailable",
            Self::Internal => "InternalError",
        }
    }

    /// The one mapping from objects-layer failures to admin errors.
    pub fn from_objects(e: objects::Error, subject: Subject<'_>) -> Self {
        use objects::Error as E;
        match (e, subject) {
            (E::NoSuchAccessKey, Subject::Key(id)) => {
                Self::NoSuchAccessKey { access_key_id: id.to_owned() }
            }
            (E::NoSuchBucket, Subject::Bucket(name) | Subject::Object { bucket: name, .. }) => {
                Self::NoSuchBucket { bucket: name.to_owned() }
            }
            (E::NoSuchKey | E::DeleteMarker { .. }, Subject::Object { bucket, key }) => {
                Self::NoSuchObject { bucket: bucket.to_owned(), key: key.to_owned() }
            }
            (E::EntityTooLarge { max_bytes }, _) => Self::ObjectTooLarge { max_bytes },
            (E::Body(e), _) => Self::IncompleteBody { reason: e.to_string() },
            // What the object or bucket itself forbids here, said as the objects layer says it.
            (
                e @ (E::CustomerKeyRequired
                | E::WrongCustomerKey
                | E::Locked { .. }
                | E::InvalidBucketState { .. }
                | E::EncryptionMismatch { .. }
                | E::NoSuchKmsKey { .. }
                | E::EncryptionUnavailable { .. }),
                _,
            ) => Self::Refused { reason: e.to_string() },
            (E::Coordinator(c), _) => {
                tracing::warn!(error = %c, "replication failed");
                Self::Unavailable
            }
            (E::Unavailable { what }, _) => {
                tracing::warn!(what, "request refused for now");
                Self::Unavailable
            }
            (other, _) => {
                tracing::error!(error = %other, "admin request failed");
                Self::Internal
            }
        }
    }
}
