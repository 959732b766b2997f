//! Routing: (method, bucket?, key?, sub-resources, headers) -> the AWS operation it names.
//! A plain `match`, tested by a table of requests, so that adding an operation is one line.

use http::{HeaderMap, Method};

use super::request::Target;

/// The S3 operations, named as in the AWS API reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    ListBuckets,
    CreateBucket,
    HeadBucket,
    DeleteBucket,
    GetBucketLocation,
    ListObjects,
    ListObjectsV2,
    ListObjectVersions,
    PutObject,
    GetObject,
    HeadObject,
    DeleteObject,
    CopyObject,
    DeleteObjects,
    CreateMultipartUpload,
    UploadPart,
    UploadPartCopy,
    CompleteMultipartUpload,
    AbortMultipartUpload,
    ListParts,
    ListMultipartUploads,
    GetObjectTagging,
    PutObjectTagging,
    DeleteObjectTagging,
    GetBucketTagging,
    PutBucketTagging,
    DeleteBucketTagging,
    GetBucketVersioning,
    PutBucketVersioning,
    GetObjectLockConfiguration,
    PutObjectLockConfiguration,
    GetObjectRetention,
    PutObjectRetention,
    GetObjectLegalHold,
    PutObjectLegalHold,
    GetBucketAcl,
    PutBucketAcl,
    GetObjectAcl,
    PutObjectAcl,
    GetBucketOwnershipControls,
    PutBucketOwnershipControls,
    DeleteBucketOwnershipControls,
    GetPublicAccessBlock,
    PutPublicAccessBlock,
    DeletePublicAccessBlock,
    GetBucketPolicy,
    PutBucketPolicy,
    DeleteBucketPolicy,
    GetBucketPolicyStatus,
    GetBucketCors,
    PutBucketCors,
    DeleteBucketCors,
    CorsPreflight,
    PostObject,
    GetObjectAttributes,
    GetBucketLifecycle,
    PutBucketLifecycle,
    DeleteBucketLifecycle,
    GetBucketEncryption,
    PutBucketEncryption,
    DeleteBucketEncryption,
    GetBucketRequestPayment,
    PutBucketRequestPayment,
    GetBucketAccelerateConfiguration,
    PutBucketAccelerateConfiguration,
    GetBucketWebsite,
    PutBucketWebsite,
    DeleteBucketWebsite,
    /// Recognised, not supported yet: answered with 501 NotImplemented.
    Unsupported(&'static str),
    /// The method makes no sense on this resource: 405 MethodNotAllowed.
    NotAllowed,
}

impl Operation {
    pub fn name(self) -> &'static str {
        match self {
            Operation::ListBuckets => "ListBuckets",
            Operation::CreateBucket => "CreateBucket",
            Operation::HeadBucket => "HeadBucket",
            Operation::DeleteBucket => "DeleteBucket",
            Operation::GetBucketLocation => "GetBucketLocation",
            Operation::ListObjects => "ListObjects",
            Operation::ListObjectsV2 => "ListObjectsV2",
            Operation::ListObjectVersions => "ListObjectVersions",
            Operation::PutObject => "PutObject",
            Operation::GetObject => "GetObject",
            Operation::HeadObject => "HeadObject",
            Operation::DeleteObject => "DeleteObject",
            Operation::CopyObject => "CopyObject",
            Operation::DeleteObjects => "DeleteObjects",
            Operation::CreateMultipartUpload => "CreateMultipartUpload",
            Operation::UploadPart => "UploadPart",
            Operation::UploadPartCopy => "UploadPartCopy",
            Operation::CompleteMultipartUpload => "CompleteMultipartUpload",
            Operation::AbortMultipartUpload => "AbortMultipartUpload",
            Operation::ListParts => "ListParts",
            Operation::ListMultipartUploads => "ListMultipartUploads",
            Operation::GetObjectTagging => "GetObjectTagging",
            Operation::PutObjectTagging => "PutObjectTagging",
            Operation::DeleteObjectTagging => "DeleteObjectTagging",
            Operation::GetBucketTagging => "GetBucketTagging",
            Operation::PutBucketTagging => "PutBucketTagging",
            Operation::DeleteBucketTagging => "DeleteBucketTagging",
            Operation::GetBucketVersioning => "GetBucketVersioning",
            Operation::PutBucketVersioning => "PutBucketVersioning",
            Operation::GetObjectLockConfiguration => "GetObjectLockConfiguration",
            Operation::PutObjectLockConfiguration => "PutObjectLockConfiguration",
            Operation::GetObjectRetention => "GetObjectRetention",
            Operation::PutObjectRetention => "PutObjectRetention",
            Operation::GetObjectLegalHold => "GetObjectLegalHold",
            Operation::PutObjectLegalHold => "PutObjectLegalHold",
            Operation::GetBucketAcl => "GetBucketAcl",
            Operation::PutBucketAcl => "PutBucketAcl",
            Operation::GetObjectAcl => "GetObjectAcl",
            Operation::PutObjectAcl => "PutObjectAcl",
            Operation::GetBucketOwnershipControls => "GetBucketOwnershipControls",
            Operation::PutBucketOwnershipControls => "PutBucketOwnershipControls",
            Operation::DeleteBucketOwnershipControls => "DeleteBucketOwnershipControls",
            Operation::GetPublicAccessBlock => "GetPublicAccessBlock",
            Operation::PutPublicAccessBlock => "PutPublicAccessBlock",
            Operation::DeletePublicAccessBlock => "DeletePublicAccessBlock",
            Operation::GetBucketPolicy => "GetBucketPolicy",
            Operation::PutBucketPolicy => "PutBucketPolicy",
            Operation::DeleteBucketPolicy => "DeleteBucketPolicy",
            Operation::GetBucketPolicyStatus => "GetBucketPolicyStatus",
            Operation::GetBucketCors => "GetBucketCors",
            Operation::PutBucketCors => "PutBucketCors",
            Operation::DeleteBucketCors => "DeleteBucketCors",
            Operation::CorsPreflight => "CorsPreflight",
            Operation::PostObject => "PostObject",
            Operation::GetObjectAttributes => "GetObjectAttributes",
            Operation::GetBucketLifecycle => "GetBucketLifecycleConfiguration",
            Operation::PutBucketLifecycle => "PutBucketLifecycleConfiguration",
            Operation::DeleteBucketLifecycle => "DeleteBucketLifecycle",
            Operation::GetBucketEncryption => "GetBucketEncryption",
            Operation::PutBucketEncryption => "PutBucketEncryption",
            Operation::DeleteBucketEncryption => "DeleteBucketEncryption",
            Operation::GetBucketRequestPayment => "GetBucketRequestPayment",
            Operation::PutBucketRequestPayment => "PutBucketRequestPayment",
            Operation::GetBucketAccelerateConfiguration => "GetBucketAccelerateConfiguration",
            Operation::PutBucketAccelerateConfiguration => "PutBucketAccelerateConfiguration",
            Operation::GetBucketWebsite => "GetBucketWebsite",
            Operation::PutBucketWebsite => "PutBucketWebsite",
            Operation::DeleteBucketWebsite => "DeleteBucketWebsite",
            Operation::Unsupported(name) => name,
            Operation::NotAllowed => "NotAllowed",
        }
    }
}

/// Query parameters that select a sub-resource (as opposed to modifying an operation).
const BUCKET_SUBRESOURCES: &[(&str, &str)] = &[
    ("accelerate", "BucketAccelerate"),
    ("acl", "BucketAcl"),
    ("analytics", "BucketAnalytics"),
    ("cors", "BucketCors"),
    ("delete", "DeleteObjects"),
    ("encryption", "BucketEncryption"),
    ("intelligent-tiering", "BucketIntelligentTiering"),
    ("inventory", "BucketInventory"),
    ("lifecycle", "BucketLifecycle"),
    ("logging", "BucketLogging"),
    ("metrics", "BucketMetrics"),
    ("notification", "BucketNotification"),
    ("object-lock", "ObjectLockConfiguration"),
    ("ownershipControls", "BucketOwnershipControls"),
    ("policy", "BucketPolicy"),
    ("policyStatus", "BucketPolicyStatus"),
    ("publicAccessBlock", "PublicAccessBlock"),
    ("replication", "BucketReplication"),
    ("requestPayment", "BucketRequestPayment"),
    ("tagging", "BucketTagging"),
    ("uploads", "MultipartUploads"),
    ("versioning", "BucketVersioning"),
    ("website", "BucketWebsite"),
];

const OBJECT_SUBRESOURCES: &[(&str, &str)] = &[
    ("acl", "ObjectAcl"),
    ("attributes", "ObjectAttributes"),
    ("legal-hold", "ObjectLegalHold"),
    ("restore", "RestoreObject"),
    ("retention", "ObjectRetention"),
    ("select", "SelectObjectContent"),
    ("tagging", "ObjectTagging"),
    ("torrent", "ObjectTorrent"),
    ("uploadId", "MultipartUpload"),
    ("uploads", "CreateMultipartUpload"),
];

fn has(query: &[(String, String)], name: &str) -> bool {
    query.iter().any(|(n, _)| n == name)
}

fn subresource(query: &[(String, String)], table: &[(&str, &'static str)]) -> Option<&'static str> {
    table.iter().find(|(name, _)| has(query, name)).map(|(_, op)| *op)
}

/// Picks the operation a request names.
pub fn route(
    method: &Method,
    target: &Target,
    query: &[(String, String)],
    headers: &HeaderMap,
) -> Operation {
    if *method == Method::OPTIONS && target.bucket.is_some() {
        return Operation::CorsPreflight;
    }
    match (&target.bucket, &target.key) {
        (None, _) => match *method {
            Method::GET => Operation::ListBuckets,
            _ => Operation::NotAllowed,
        },
        (Some(_), None) => {
            if *method == Method::GET && has(query, "location") {
                return Operation::GetBucketLocation;
            }
            if *method == Method::GET && has(query, "versions") {
                return Operation::ListObjectVersions;
            }
            if has(query, "uploads") && *method == Method::GET {
                return Operation::ListMultipartUploads;
            }
            if has(query, "delete") && *method == Method::POST {
                return Operation::DeleteObjects;
            }
            if has(query, "tagging") {
                return match *method {
                    Method::GET => Operation::GetBucketTagging,
                    Method::PUT => Operation::PutBucketTagging,
                    Method::DELETE => Operation::DeleteBucketTagging,
                    _ => Operation::NotAllowed,
                };
            }
            if has(query, "versioning") {
                return match *method {
                    Method::GET => Operation::GetBucketVersioning,
                    Method::PUT => Operation::PutBucketVersioning,
                    _ => Operation::NotAllowed,
                };
            }
            if has(query, "object-lock") {
                return match *method {
                    Method::GET => Operation::GetObjectLockConfiguration,
                    Method::PUT => Operation::PutObjectLockConfiguration,
                    _ => Operation::NotAllowed,
                };
            }
            for (name, get, put) in [
                (
                    "requestPayment",
                    Operation::GetBucketRequestPayment,
                    Operation::PutBucketRequestPayment,
                ),
                (
                    "accelerate",
                    Operation::GetBucketAccelerateConfiguration,
                    Operation::PutBucketAccelerateConfiguration,
                ),
            ] {
                if has(query, name) {
                    return match *method {
                        Method::GET => get,
                        Method::PUT => put,
                        _ => Operation::NotAllowed,
                    };
                }
            }
            if has(query, "policyStatus") {
                return match *method {
                    Method::GET => Operation::GetBucketPolicyStatus,
                    _ => Operation::NotAllowed,
                };
            }
            if has(query, "acl") {
                return match *method {
                    Method::GET => Operation::GetBucketAcl,
                    Method::PUT => Operation::PutBucketAcl,
                    _ => Operation::NotAllowed,
                };
            }
            for (name, get, put, delete) in [
                (
                    "ownershipControls",
                    Operation::GetBucketOwnershipControls,
                    Operation::PutBucketOwnershipControls,
                    Operation::DeleteBucketOwnershipControls,
                ),
                (
                    "website",
                    Operation::GetBucketWebsite,
                    Operation::PutBucketWebsite,
                    Operation::DeleteBucketWebsite,
                ),
                (
                    "encryption",
                    Operation::GetBucketEncryption,
                    Operation::PutBucketEncryption,
                    Operation::DeleteBucketEncryption,
                ),
                (
                    "lifecycle",
                    Operation::GetBucketLifecycle,
                    Operation::PutBucketLifecycle,
                    Operation::DeleteBucketLifecycle,
                ),
                (
                    "cors",
                    Operation::GetBucketCors,
                    Operation::PutBucketCors,
                    Operation::DeleteBucketCors,
                ),
                (
                    "policy",
                    Operation::GetBucketPolicy,
                    Operation::PutBucketPolicy,
                    Operation::DeleteBucketPolicy,
                ),
                (
                    "publicAccessBlock",
                    Operation::GetPublicAccessBlock,
                    Operation::PutPublicAccessBlock,
                    Operation::DeletePublicAccessBlock,
                ),
            ] {
                if has(query, name) {
                    return match *method {
                        Method::GET => get,
                        Method::PUT => put,
                        Method::DELETE => delete,
                        _ => Operation::NotAllowed,
                    };
                }
            }
            if let Some(sub) = subresource(query, BUCKET_SUBRESOURCES) {
                return Operation::Unsupported(sub);
            }
            match *method {
                Method::GET if query.iter().any(|(n, v)| n == "list-type" && v == "2") => {
                    Operation::ListObjectsV2
                }
                Method::GET => Operation::ListObjects,
                Method::PUT => Operation::CreateBucket,
                Method::HEAD => Operation::HeadBucket,
                Method::DELETE => Operation::DeleteBucket,
                Method::POST => Operation::PostObject,
                _ => Operation::NotAllowed,
            }
        }
        (Some(_), Some(_)) => {
            let copy = headers.contains_key("x-amz-copy-source");
            if has(query, "uploadId") {
                return match *method {
                    Method::PUT if has(query, "partNumber") && copy => Operation::UploadPartCopy,
                    Method::PUT if has(query, "partNumber") => Operation::UploadPart,
                    Method::POST => Operation::CompleteMultipartUpload,
                    Method::DELETE => Operation::AbortMultipartUpload,
                    Method::GET => Operation::ListParts,
                    _ => Operation::NotAllowed,
                };
            }
            if has(query, "uploads") {
                return match *method {
                    Method::POST => Operation::CreateMultipartUpload,
                    _ => Operation::NotAllowed,
                };
            }
            if has(query, "tagging") {
                return match *method {
                    Method::GET => Operation::GetObjectTagging,
                    Method::PUT => Operation::PutObjectTagging,
                    Method::DELETE => Operation::DeleteObjectTagging,
                    _ => Operation::NotAllowed,
                };
            }
            for (name, get, put) in [
                ("retention", Operation::GetObjectRetention, Operation::PutObjectRetention),
                ("legal-hold", Operation::GetObjectLegalHold, Operation::PutObjectLegalHold),
                ("acl", Operation::GetObjectAcl, Operation::PutObjectAcl),
            ] {
                if has(query, name) {
                    return match *method {
                        Method::GET => get,
                        Method::PUT => put,
                        _ => Operation::NotAllowed,
                    };
                }
            }
            if has(query, "attributes") {
                return match *method {
                    Method::GET => Operation::GetObjectAttributes,
                    _ => Operation::NotAllowed,
                };
            }
            if let Some(sub) = subresource(query, OBJECT_SUBRESOURCES) {
                return Operation::Unsupported(sub);
            }
            match *method {
                Method::PUT if copy => Operation::CopyObject,
                Method::PUT => Operation::PutObject,
                Method::GET => Operation::GetObject,
                Method::HEAD => Operation::HeadObject,
                Method::DELETE => Operation::DeleteObject,
                _ => Operation::NotAllowed,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(bucket: Option<&str>, key: Option<&str>) -> Target {
        Target {
            bucket: bucket.map(str::to_owned),
            key: key.map(str::to_owned),
            virtual_hosted: false,
        }
    }

    #[test]
    fn routing_table() {
        let b = Some("b");
        let k = Some("k");
        let q = |s: &str| -> Vec<(String, String)> {
            s.split('&')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (n, v) = p.split_once('=').unwrap_or((p, ""));
                    (n.to_owned(), v.to_owned())
                })
                .collect()
        };
        let none = HeaderMap::new();
        let mut copy = HeaderMap::new();
        copy.insert("x-amz-copy-source", "/b/src".parse().unwrap());
        let cases: Vec<(Method, Target, &str, &HeaderMap, Operation)> = vec![
            (Method::GET, target(None, None), "", &none, Operation::ListBuckets),
            (Method::PUT, target(None, None), "", &none, Operation::NotAllowed),
            (Method::PUT, target(b, None), "", &none, Operation::CreateBucket),
            (Method::HEAD, target(b, None), "", &none, Operation::HeadBucket),
            (Method::DELETE, target(b, None), "", &none, Operation::DeleteBucket),
            (Method::GET, target(b, None), "location", &none, Operation::GetBucketLocation),
            (Method::GET, target(b, None), "", &none, Operation::ListObjects),
            (Method::GET, target(b, None), "list-type=2&prefix=a", &none, Operation::ListObjectsV2),
            (
                Method::GET,
                target(b, None),
                "versions&prefix=a",
                &none,
                Operation::ListObjectVersions,
            ),
            (Method::GET, target(b, None), "uploads", &none, Operation::ListMultipartUploads),
            (Method::POST, target(b, None), "delete", &none, Operation::DeleteObjects),
            (Method::GET, target(b, None), "tagging", &none, Operation::GetBucketTagging),
            (Method::PUT, target(b, None), "tagging", &none, Operation::PutBucketTagging),
            (Method::DELETE, target(b, None), "tagging", &none, Operation::DeleteBucketTagging),
            (Method::PUT, target(b, None), "versioning", &none, Operation::PutBucketVersioning),
            (Method::GET, target(b, None), "versioning", &none, Operation::GetBucketVersioning),
            (Method::GET, target(b, None), "cors", &none, Operation::GetBucketCors),
            (Method::OPTIONS, target(b, k), "", &none, Operation::CorsPreflight),
            (Method::OPTIONS, target(b, None), "", &none, Operation::CorsPreflight),
            (
                Method::PUT,
                target(b, None),
                "object-lock",
                &none,
                Operation::PutObjectLockConfiguration,
            ),
            (Method::GET, target(b, k), "retention", &none, Operation::GetObjectRetention),
            (Method::PUT, target(b, k), "legal-hold", &none, Operation::PutObjectLegalHold),
            (Method::PUT, target(b, k), "", &none, Operation::PutObject),
            (Method::PUT, target(b, k), "", &copy, Operation::CopyObject),
            (Method::GET, target(b, k), "response-content-type=x", &none, Operation::GetObject),
            (Method::GET, target(b, k), "partNumber=2", &none, Operation::GetObject),
            (Method::HEAD, target(b, k), "", &none, Operation::HeadObject),
            (Method::DELETE, target(b, k), "", &none, Operation::DeleteObject),
            (Method::POST, target(b, k), "uploads", &none, Operation::CreateMultipartUpload),
            (Method::PUT, target(b, k), "partNumber=1&uploadId=x", &none, Operation::UploadPart),
            (
                Method::PUT,
                target(b, k),
                "partNumber=1&uploadId=x",
                &copy,
                Operation::UploadPartCopy,
            ),
            (Method::POST, target(b, k), "uploadId=x", &none, Operation::CompleteMultipartUpload),
            (Method::DELETE, target(b, k), "uploadId=x", &none, Operation::AbortMultipartUpload),
            (Method::GET, target(b, k), "uploadId=x&max-parts=2", &none, Operation::ListParts),
            (Method::GET, target(b, k), "tagging", &none, Operation::GetObjectTagging),
            (Method::PUT, target(b, k), "tagging", &none, Operation::PutObjectTagging),
            (Method::DELETE, target(b, k), "tagging", &none, Operation::DeleteObjectTagging),
            (Method::GET, target(b, k), "acl", &none, Operation::GetObjectAcl),
            (Method::GET, target(b, k), "attributes", &none, Operation::GetObjectAttributes),
            (Method::PUT, target(b, k), "acl&versionId=x", &none, Operation::PutObjectAcl),
            (Method::PUT, target(b, None), "acl", &none, Operation::PutBucketAcl),
            (Method::PUT, target(b, None), "policy", &none, Operation::PutBucketPolicy),
            (Method::GET, target(b, None), "policyStatus", &none, Operation::GetBucketPolicyStatus),
            (
                Method::DELETE,
                target(b, None),
                "publicAccessBlock",
                &none,
                Operation::DeletePublicAccessBlock,
            ),
            (
                Method::GET,
                target(b, None),
                "ownershipControls",
                &none,
                Operation::GetBucketOwnershipControls,
            ),
            (Method::PATCH, target(b, k), "", &none, Operation::NotAllowed),
        ];
        for (method, t, query, headers, expected) in cases {
            assert_eq!(route(&method, &t, &q(query), headers), expected, "{method} {t:?} ?{query}");
        }
    }
}
