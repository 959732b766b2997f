//! Access control lists as stored on buckets and object versions: grants of S3's five
//! permissions to canonical users (a key's id is its canonical user id) and to the two groups.
//! Reference: <https://docs.aws.amazon.com/AmazonS3/latest/userguide/acl-overview.html>

use serde::{Deserialize, Serialize};

/// Who a grant is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Grantee {
    /// One principal, by canonical user id (in RingVault, its access key id).
    User(String),
    /// Everyone, signed or not.
    AllUsers,
    /// Every request signed by a known key.
    AuthenticatedUsers,
    /// The log delivery group (accepted and shown; RingVault writes no access logs as it).
    LogDelivery,
}

impl Grantee {
    /// The URI that names a group grantee in ACL documents.
    pub fn group_uri(&self) -> Option<&'static str> {
        match self {
            Grantee::AllUsers => Some("http://acs.amazonaws.com/groups/global/AllUsers"),
            Grantee::AuthenticatedUsers => {
                Some("http://acs.amazonaws.com/groups/global/AuthenticatedUsers")
            }
            Grantee::LogDelivery => Some("http://acs.amazonaws.com/groups/s3/LogDelivery"),
            Grantee::User(_) => None,
        }
    }

    pub fn from_group_uri(uri: &str) -> Option<Self> {
        [Grantee::AllUsers, Grantee::AuthenticatedUsers, Grantee::LogDelivery]
            .into_iter()
            .find(|g| g.group_uri() == Some(uri))
    }

    /// Whether this grantee covers `principal` (`None`: an anonymous request).
    fn covers(&self, principal: Option<&str>) -> bool {
        match self {
            Grantee::User(id) => principal == Some(id.as_str()),
            Grantee::AllUsers => true,
            Grantee::AuthenticatedUsers => principal.is_some(),
            Grantee::LogDelivery => false,
        }
    }

    /// Whether granting to this grantee makes a resource public.
    pub fn is_public(&self) -> bool {
        matches!(self, Grantee::AllUsers | Grantee::AuthenticatedUsers)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Permission {
    FullControl,
    Read,
    Write,
    ReadAcp,
    WriteAcp,
}

impl Permission {
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::FullControl => "FULL_CONTROL",
            Permission::Read => "READ",
            Permission::Write => "WRITE",
            Permission::ReadAcp => "READ_ACP",
            Permission::WriteAcp => "WRITE_ACP",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            Permission::FullControl,
            Permission::Read,
            Permission::Write,
            Permission::ReadAcp,
            Permission::WriteAcp,
        ]
        .into_iter()
        .find(|p| p.as_str() == text)
    }

    /// Whether holding `self` gives `wanted`.
    fn includes(self, wanted: Permission) -> bool {
        self == Permission::FullControl || self == wanted
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub grantee: Grantee,
    pub permission: Permission,
}

/// The grants of a bucket or an object version. The owner is the resource's owner; an ACL that
/// was never set is `Acl::private(owner)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acl {
    pub grants: Vec<Grant>,
}

/// The canned ACLs of `x-amz-acl`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CannedAcl {
    Private,
    PublicRead,
    PublicReadWrite,
    AuthenticatedRead,
    AwsExecRead,
    BucketOwnerRead,
    BucketOwnerFullControl,
    LogDeliveryWrite,
}

impl CannedAcl {
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "private" => CannedAcl::Private,
            "public-read" => CannedAcl::PublicRead,
            "public-read-write" => CannedAcl::PublicReadWrite,
            "authenticated-read" => CannedAcl::AuthenticatedRead,
            "aws-exec-read" => CannedAcl::AwsExecRead,
            "bucket-owner-read" => CannedAcl::BucketOwnerRead,
            "bucket-owner-full-control" => CannedAcl::BucketOwnerFullControl,
            "log-delivery-write" => CannedAcl::LogDeliveryWrite,
            _ => return None,
        })
    }

    /// The grants this canned ACL stands for on a resource owned by `owner` in a bucket owned
    /// by `bucket_owner` (the same for a bucket). The owner's grant comes last, as S3 lists it.
    pub fn acl(self, owner: &str, bucket_owner: &str) -> Acl {
        let mut acl = Acl { grants: Vec::new() };
        let mut add = |grantee, permission| acl.grants.push(Grant { grantee, permission });
        match self {
            CannedAcl::Private | CannedAcl::AwsExecRead => {}
            CannedAcl::PublicRead => add(Grantee::AllUsers, Permission::Read),
            CannedAcl::PublicReadWrite => {
                add(Grantee::AllUsers, Permission::Read);
                add(Grantee::AllUsers, Permission::Write);
            }
            CannedAcl::AuthenticatedRead => add(Grantee::AuthenticatedUsers, Permission::Read),
            CannedAcl::BucketOwnerRead if bucket_owner != owner => {
                add(Grantee::User(bucket_owner.to_owned()), Permission::Read);
            }
            CannedAcl::BucketOwnerFullControl if bucket_owner != owner => {
                add(Grantee::User(bucket_owner.to_owned()), Permission::FullControl);
            }
            CannedAcl::BucketOwnerRead | CannedAcl::BucketOwnerFullControl => {}
            CannedAcl::LogDeliveryWrite => {
                add(Grantee::LogDelivery, Permission::Write);
                add(Grantee::LogDelivery, Permission::ReadAcp);
            }
        }
        acl.grants.extend(Acl::private(owner).grants);
        acl
    }
}

impl Acl {
    /// Only the owner, with full control: what every resource gets unless told otherwise.
    pub fn private(owner: &str) -> Self {
        Acl {
            grants: vec![Grant {
                grantee: Grantee::User(owner.to_owned()),
                permission: Permission::FullControl,
            }],
        }
    }

    /// Whether a grant gives `principal` the `wanted` permission. With `ignore_public`
    /// (PublicAccessBlock's IgnorePublicAcls), grants to the two groups count for nothing.
    pub fn permits(
        &self,
        principal: Option<&str>,
        wanted: Permission,
        ignore_public: bool,
    ) -> bool {
        self.grants.iter().any(|g| {
            g.permission.includes(wanted)
                && g.grantee.covers(principal)
                && !(ignore_public && g.grantee.is_public())
        })
    }

    /// Whether any grant goes to everyone or to every signed request.
    pub fn is_public(&self) -> bool {
        self.grants.iter().any(|g| g.grantee.is_public())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canned_acls_grant_what_s3_documents() {
        let public = CannedAcl::PublicRead.acl("owner", "owner");
        assert!(public.permits(None, Permission::Read, false));
        assert!(!public.permits(None, Permission::Write, false));
        assert!(!public.permits(None, Permission::Read, true), "IgnorePublicAcls");
        assert!(public.permits(Some("owner"), Permission::WriteAcp, false));
        assert!(public.is_public());

        let authenticated = CannedAcl::AuthenticatedRead.acl("owner", "owner");
        assert!(!authenticated.permits(None, Permission::Read, false));
        assert!(authenticated.permits(Some("someone"), Permission::Read, false));

        let private = CannedAcl::Private.acl("owner", "owner");
        assert!(!private.permits(Some("someone"), Permission::Read, false));
        assert!(!private.is_public());

        let full = CannedAcl::BucketOwnerFullControl.acl("writer", "bucket-owner");
        assert!(full.permits(Some("bucket-owner"), Permission::WriteAcp, false));
        assert_eq!(CannedAcl::BucketOwnerFullControl.acl("o", "o"), Acl::private("o"));
        assert_eq!(CannedAcl::parse("public-read-write"), Some(CannedAcl::PublicReadWrite));
        assert_eq!(CannedAcl::parse("public"), None);
    }

    #[test]
    fn group_uris_round_trip() {
        for g in [Grantee::AllUsers, Grantee::AuthenticatedUsers, Grantee::LogDelivery] {
            assert_eq!(Grantee::from_group_uri(g.group_uri().unwrap()), Some(g));
        }
        assert_eq!(Grantee::from_group_uri("http://example.com/x"), None);
    }
}
