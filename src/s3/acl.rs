//! ACLs on the wire: the `x-amz-acl` and `x-amz-grant-*` request headers and the
//! `AccessControlPolicy` document of Get/Put{Bucket,Object}Acl.
//! Reference: <https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObjectAcl.html>

use http::HeaderMap;
use serde::{Deserialize, Serialize};

use crate::objects::acl::{Acl, CannedAcl, Grant, Grantee, Permission};
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::xml::{self, Owner, XmlResponse};

const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// The grant headers and the permission each gives.
const GRANT_HEADERS: &[(&str, Permission)] = &[
    ("x-amz-grant-read", Permission::Read),
    ("x-amz-grant-write", Permission::Write),
    ("x-amz-grant-read-acp", Permission::ReadAcp),
    ("x-amz-grant-write-acp", Permission::WriteAcp),
    ("x-amz-grant-full-control", Permission::FullControl),
];

/// What a request asks the new resource's (or the changed resource's) ACL to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AclRequest {
    Canned(CannedAcl),
    Grants(Vec<Grant>),
}

impl AclRequest {
    /// The ACL for a resource owned by `owner` in a bucket owned by `bucket_owner`.
    pub fn acl(&self, owner: &str, bucket_owner: &str) -> Acl {
        match self {
            AclRequest::Canned(canned) => canned.acl(owner, bucket_owner),
            AclRequest::Grants(grants) => Acl { grants: grants.clone() },
        }
    }

    /// Whether the request names anything but the owner-only canned ACLs (which ACL-disabled
    /// buckets still accept).
    pub fn is_owner_only(&self) -> bool {
        matches!(self, AclRequest::Canned(CannedAcl::Private | CannedAcl::BucketOwnerFullControl))
    }
}

/// The ACL the request's headers ask for, if any.
pub fn from_headers(headers: &HeaderMap) -> Result<Option<AclRequest>, S3Error> {
    let canned = match headers.get("x-amz-acl") {
        None => None,
        Some(value) => {
            let text = value.to_str().unwrap_or_default();
            Some(CannedAcl::parse(text.trim()).ok_or_else(|| {
                S3Error::new(S3ErrorCode::InvalidArgument, "The canned ACL is not valid.")
                    .with("ArgumentName", "x-amz-acl")
                    .with("ArgumentValue", text)
            })?)
        }
    };
    let mut grants = Vec::new();
    for (name, permission) in GRANT_HEADERS {
        for value in headers.get_all(*name) {
            let text = value.to_str().map_err(|_| bad_grant(name))?;
            for grantee in parse_grantees(text).ok_or_else(|| bad_grant(name))? {
                grants.push(Grant { grantee: grantee?, permission: *permission });
            }
        }
    }
    match (canned, grants.is_empty()) {
        (Some(_), false) => Err(S3Error::new(
            S3ErrorCode::InvalidRequest,
            "Specifying both Canned ACLs and Header Grants is not allowed",
        )),
        (Some(canned), true) => Ok(Some(AclRequest::Canned(canned))),
        (None, false) => Ok(Some(AclRequest::Grants(grants))),
        (None, true) => Ok(None),
    }
}

fn bad_grant(header: &str) -> S3Error {
    S3Error::new(S3ErrorCode::InvalidArgument, format!("The {header} header is malformed."))
        .with("ArgumentName", header)
}

fn unresolvable_email() -> S3Error {
    S3Error::new(
        S3ErrorCode::UnresolvableGrantByEmailAddress,
        "The e-mail address you provided does not match any account on record.",
    )
}

/// `id="..."`, `uri="..."` or `emailAddress="..."`, comma-separated. `None` when the text is
/// not that shape; an inner error for a grantee that cannot be resolved.
fn parse_grantees(text: &str) -> Option<Vec<Result<Grantee, S3Error>>> {
    let mut out = Vec::new();
    for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (kind, value) = item.split_once('=')?;
        let value = value.trim().trim_matches('"');
        out.push(match kind.trim() {
            "id" => Ok(Grantee::User(value.to_owned())),
            "uri" => Ok(Grantee::from_group_uri(value)?),
            "emailAddress" => Err(unresolvable_email()),
            _ => return None,
        });
    }
    Some(out)
}

/// `AccessControlPolicy`, the body of GetBucketAcl/GetObjectAcl and PutBucketAcl/PutObjectAcl.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessControlPolicy {
    #[serde(rename = "Owner", default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<Owner>,
    #[serde(rename = "AccessControlList", default)]
    pub list: AccessControlList,
}

impl XmlResponse for AccessControlPolicy {
    const ROOT: &'static str = "AccessControlPolicy";
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessControlList {
    #[serde(rename = "Grant", default)]
    pub grants: Vec<GrantXml>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantXml {
    #[serde(rename = "Grantee")]
    pub grantee: GranteeXml,
    #[serde(rename = "Permission")]
    pub permission: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GranteeXml {
    #[serde(rename = "@xmlns:xsi", default, skip_serializing_if = "Option::is_none")]
    pub xmlns_xsi: Option<String>,
    #[serde(rename = "@xsi:type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(rename = "ID", default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(rename = "DisplayName", default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(rename = "EmailAddress", default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(rename = "URI", default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
}

/// The document GetBucketAcl/GetObjectAcl answer with.
pub fn to_document(owner: &str, acl: &Acl) -> String {
    // Group grants first, as RGW lists them (clients that sort grants by display name expect
    // the nameless ones there).
    let (groups, users): (Vec<_>, Vec<_>) =
        acl.grants.iter().partition(|g| !matches!(g.grantee, Grantee::User(_)));
    let grants = groups
        .into_iter()
        .chain(users)
        .map(|g| {
            let (kind, id, uri) = match &g.grantee {
                Grantee::User(id) => ("CanonicalUser", Some(id.clone()), None),
                group => ("Group", None, group.group_uri().map(str::to_owned)),
            };
            GrantXml {
                grantee: GranteeXml {
                    xmlns_xsi: Some(XSI.to_owned()),
                    kind: Some(kind.to_owned()),
                    display_name: id.clone(),
                    id,
                    email: None,
                    uri,
                },
                permission: g.permission.as_str().to_owned(),
            }
        })
        .collect();
    AccessControlPolicy {
        owner: Some(Owner { id: owner.to_owned(), display_name: owner.to_owned() }),
        list: AccessControlList { grants },
    }
    .to_xml()
}

/// Parses a PutBucketAcl/PutObjectAcl body into the grants it names.
pub fn from_document(body: &[u8]) -> Result<Vec<Grant>, S3Error> {
    let document: AccessControlPolicy = xml::from_xml_with_root(body, AccessControlPolicy::ROOT)?;
    let malformed = || S3Error::from(S3ErrorCode::MalformedACLError);
    let mut grants = Vec::new();
    for g in document.list.grants {
        let permission = Permission::parse(&g.permission).ok_or_else(malformed)?;
        let grantee = match (g.grantee.id, g.grantee.uri, g.grantee.email) {
            (Some(id), None, None) => Grantee::User(id),
            (None, Some(uri), None) => Grantee::from_group_uri(&uri).ok_or_else(|| {
                S3Error::new(S3ErrorCode::InvalidArgument, "Invalid group uri")
                    .with("ArgumentName", "uri")
                    .with("ArgumentValue", uri)
            })?,
            (None, None, Some(_)) => return Err(unresolvable_email()),
            _ => return Err(malformed()),
        };
        grants.push(Grant { grantee, permission });
    }
    Ok(grants)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grant_headers_parse_into_grants() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-amz-grant-read",
            "id=\"alice\", uri=\"http://acs.amazonaws.com/groups/global/AllUsers\""
                .parse()
                .unwrap(),
        );
        headers.insert("x-amz-grant-write-acp", "id=bob".parse().unwrap());
        let Some(AclRequest::Grants(grants)) = from_headers(&headers).unwrap() else {
            panic!("grants expected")
        };
        assert_eq!(grants.len(), 3);
        assert_eq!(
            grants[0],
            Grant { grantee: Grantee::User("alice".into()), permission: Permission::Read }
        );
        assert_eq!(grants[1].grantee, Grantee::AllUsers);
        assert_eq!(grants[2].permission, Permission::WriteAcp);

        headers.insert("x-amz-acl", "public-read".parse().unwrap());
        assert_eq!(from_headers(&headers).unwrap_err().code, S3ErrorCode::InvalidRequest);
        let mut canned = HeaderMap::new();
        canned.insert("x-amz-acl", "public-read".parse().unwrap());
        assert_eq!(from_headers(&canned).unwrap(), Some(AclRequest::Canned(CannedAcl::PublicRead)));
        canned.insert("x-amz-acl", "everyone".parse().unwrap());
        assert_eq!(from_headers(&canned).unwrap_err().code, S3ErrorCode::InvalidArgument);
        let mut email = HeaderMap::new();
        email.insert("x-amz-grant-read", "emailAddress=\"a@b.c\"".parse().unwrap());
        assert_eq!(
            from_headers(&email).unwrap_err().code,
            S3ErrorCode::UnresolvableGrantByEmailAddress
        );
        let mut bad = HeaderMap::new();
        bad.insert("x-amz-grant-read", "alice".parse().unwrap());
        assert_eq!(from_headers(&bad).unwrap_err().code, S3ErrorCode::InvalidArgument);
    }

    #[test]
    fn documents_round_trip() {
        let acl = CannedAcl::PublicReadWrite.acl("owner", "owner");
        let text = to_document("owner", &acl);
        assert!(text.contains("xsi:type=\"Group\""), "{text}");
        assert!(text.contains("<URI>http://acs.amazonaws.com/groups/global/AllUsers</URI>"));
        assert_eq!(from_document(text.as_bytes()).unwrap(), acl.grants);
        let bad = b"<AccessControlPolicy><AccessControlList><Grant><Grantee><ID>x</ID></Grantee><Permission>ALL</Permission></Grant></AccessControlList></AccessControlPolicy>";
        assert_eq!(from_document(bad).unwrap_err().code, S3ErrorCode::MalformedACLError);
        assert_eq!(from_document(b"<Nope/>").unwrap_err().code, S3ErrorCode::MalformedXML);
    }
}
