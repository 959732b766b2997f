//! Authorization: may this principal do this action on this bucket or object? A pure decision
//! over the bucket's stored rules, in the order AWS documents
//! (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-auth-workflow-object-operation.html>):
//! an explicit deny in the bucket policy wins; then an allow from the policy; then the bucket
//! owner (who may do anything in their bucket), the keys an operator granted with
//! `ringvault bucket allow`, and the ACLs. Anything else is denied.
//!
//! Object-level actions (GetObject, GetObjectAcl, PutObjectAcl) may depend on the object's own
//! ACL, which the handler only knows after reading the version: the decision then is
//! `Verdict::ObjectAcl`, and the handler finishes it with `object_permits`.

pub mod policy;

use crate::objects::BucketInfo;
use crate::objects::acl::{Acl, Permission};
use crate::objects::{ObjectOwnership, PublicAccessBlock};
pub use policy::{Effect, Facts, Policy, PolicyRequest};

/// What an action needs when no policy decides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// A permission on the bucket's ACL.
    Bucket(Permission),
    /// A permission on the object version's ACL.
    Object(Permission),
    /// Bucket configuration: the owner (or a policy) only.
    BucketOwner,
}

/// An S3 action as bucket policies name it, and what its ACL check needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Action {
    pub name: &'static str,
    pub need: Need,
}

const fn action(name: &'static str, need: Need) -> Action {
    Action { name, need }
}

use Need::{Bucket, BucketOwner, Object};
use Permission::{Read, ReadAcp, Write, WriteAcp};

pub const LIST_BUCKET: Action = action("s3:ListBucket", Bucket(Read));
pub const LIST_BUCKET_VERSIONS: Action = action("s3:ListBucketVersions", Bucket(Read));
pub const LIST_UPLOADS: Action = action("s3:ListBucketMultipartUploads", Bucket(Read));
pub const LIST_PARTS: Action = action("s3:ListMultipartUploadParts", Bucket(Read));
pub const GET_OBJECT: Action = action("s3:GetObject", Object(Read));
pub const GET_OBJECT_VERSION: Action = action("s3:GetObjectVersion", Object(Read));
pub const PUT_OBJECT: Action = action("s3:PutObject", Bucket(Write));
pub const DELETE_OBJECT: Action = action("s3:DeleteObject", Bucket(Write));
pub const DELETE_OBJECT_VERSION: Action = action("s3:DeleteObjectVersion", Bucket(Write));
pub const ABORT_UPLOAD: Action = action("s3:AbortMultipartUpload", Bucket(Write));
pub const GET_OBJECT_TAGGING: Action = action("s3:GetObjectTagging", Object(Read));
pub const PUT_OBJECT_TAGGING: Action = action("s3:PutObjectTagging", Bucket(Write));
pub const DELETE_OBJECT_TAGGING: Action = action("s3:DeleteObjectTagging", Bucket(Write));
pub const GET_OBJECT_ACL: Action = action("s3:GetObjectAcl", Object(ReadAcp));
pub const PUT_OBJECT_ACL: Action = action("s3:PutObjectAcl", Object(WriteAcp));
pub const GET_RETENTION: Action = action("s3:GetObjectRetention", Bucket(Read));
pub const PUT_RETENTION: Action = action("s3:PutObjectRetention", Bucket(Write));
pub const GET_LEGAL_HOLD: Action = action("s3:GetObjectLegalHold", Bucket(Read));
pub const PUT_LEGAL_HOLD: Action = action("s3:PutObjectLegalHold", Bucket(Write));
pub const BYPASS_GOVERNANCE: Action = action("s3:BypassGovernanceRetention", BucketOwner);
pub const GET_BUCKET_ACL: Action = action("s3:GetBucketAcl", Bucket(ReadAcp));
pub const PUT_BUCKET_ACL: Action = action("s3:PutBucketAcl", Bucket(WriteAcp));
pub const GET_BUCKET_LOCATION: Action = action("s3:GetBucketLocation", BucketOwner);
pub const DELETE_BUCKET: Action = action("s3:DeleteBucket", BucketOwner);
pub const GET_BUCKET_TAGGING: Action = action("s3:GetBucketTagging", BucketOwner);
pub const PUT_BUCKET_TAGGING: Action = action("s3:PutBucketTagging", BucketOwner);
pub const GET_BUCKET_VERSIONING: Action = action("s3:GetBucketVersioning", BucketOwner);
pub const PUT_BUCKET_VERSIONING: Action = action("s3:PutBucketVersioning", BucketOwner);
pub const GET_LOCK_CONFIG: Action = action("s3:GetBucketObjectLockConfiguration", BucketOwner);
pub const PUT_LOCK_CONFIG: Action = action("s3:PutBucketObjectLockConfiguration", BucketOwner);
pub const GET_BUCKET_POLICY: Action = action("s3:GetBucketPolicy", BucketOwner);
pub const PUT_BUCKET_POLICY: Action = action("s3:PutBucketPolicy", BucketOwner);
pub const DELETE_BUCKET_POLICY: Action = action("s3:DeleteBucketPolicy", BucketOwner);
pub const GET_POLICY_STATUS: Action = action("s3:GetBucketPolicyStatus", BucketOwner);
pub const GET_OWNERSHIP: Action = action("s3:GetBucketOwnershipControls", BucketOwner);
pub const PUT_OWNERSHIP: Action = action("s3:PutBucketOwnershipControls", BucketOwner);
pub const GET_OBJECT_ATTRIBUTES: Action = action("s3:GetObjectAttributes", Object(Read));
pub const GET_OBJECT_VERSION_ATTRIBUTES: Action =
    action("s3:GetObjectVersionAttributes", Object(Read));
pub const GET_LIFECYCLE: Action = action("s3:GetLifecycleConfiguration", BucketOwner);
pub const GET_ENCRYPTION: Action = action("s3:GetEncryptionConfiguration", BucketOwner);
pub const PUT_ENCRYPTION: Action = action("s3:PutEncryptionConfiguration", BucketOwner);
pub const PUT_LIFECYCLE: Action = action("s3:PutLifecycleConfiguration", BucketOwner);
pub const GET_REQUEST_PAYMENT: Action = action("s3:GetBucketRequestPayment", BucketOwner);
pub const PUT_REQUEST_PAYMENT: Action = action("s3:PutBucketRequestPayment", BucketOwner);
pub const GET_ACCELERATE: Action = action("s3:GetAccelerateConfiguration", BucketOwner);
pub const PUT_ACCELERATE: Action = action("s3:PutAccelerateConfiguration", BucketOwner);
pub const GET_WEBSITE: Action = action("s3:GetBucketWebsite", BucketOwner);
pub const PUT_WEBSITE: Action = action("s3:PutBucketWebsite", BucketOwner);
pub const GET_BUCKET_CORS: Action = action("s3:GetBucketCORS", BucketOwner);
pub const PUT_BUCKET_CORS: Action = action("s3:PutBucketCORS", BucketOwner);
pub const GET_PUBLIC_ACCESS_BLOCK: Action = action("s3:GetBucketPublicAccessBlock", BucketOwner);
pub const PUT_PUBLIC_ACCESS_BLOCK: Action = action("s3:PutBucketPublicAccessBlock", BucketOwner);

/// Every action above, for lookups by name.
pub const ACTIONS: &[Action] = &[
    LIST_BUCKET,
    LIST_BUCKET_VERSIONS,
    LIST_UPLOADS,
    LIST_PARTS,
    GET_OBJECT,
    GET_OBJECT_VERSION,
    PUT_OBJECT,
    DELETE_OBJECT,
    DELETE_OBJECT_VERSION,
    ABORT_UPLOAD,
    GET_OBJECT_TAGGING,
    PUT_OBJECT_TAGGING,
    DELETE_OBJECT_TAGGING,
    GET_OBJECT_ACL,
    PUT_OBJECT_ACL,
    GET_RETENTION,
    PUT_RETENTION,
    GET_LEGAL_HOLD,
    PUT_LEGAL_HOLD,
    BYPASS_GOVERNANCE,
    GET_BUCKET_ACL,
    PUT_BUCKET_ACL,
    GET_BUCKET_LOCATION,
    DELETE_BUCKET,
    GET_BUCKET_TAGGING,
    PUT_BUCKET_TAGGING,
    GET_BUCKET_VERSIONING,
    PUT_BUCKET_VERSIONING,
    GET_LOCK_CONFIG,
    PUT_LOCK_CONFIG,
    GET_BUCKET_POLICY,
    PUT_BUCKET_POLICY,
    DELETE_BUCKET_POLICY,
    GET_POLICY_STATUS,
    GET_OWNERSHIP,
    PUT_OWNERSHIP,
    GET_PUBLIC_ACCESS_BLOCK,
    PUT_PUBLIC_ACCESS_BLOCK,
    GET_BUCKET_CORS,
    PUT_BUCKET_CORS,
    GET_OBJECT_ATTRIBUTES,
    GET_OBJECT_VERSION_ATTRIBUTES,
    GET_LIFECYCLE,
    PUT_LIFECYCLE,
    GET_ENCRYPTION,
    PUT_ENCRYPTION,
    GET_REQUEST_PAYMENT,
    PUT_REQUEST_PAYMENT,
    GET_ACCELERATE,
    PUT_ACCELERATE,
    GET_WEBSITE,
    PUT_WEBSITE,
];

/// The action named `name` (`s3:GetObject`, case-insensitive).
pub fn action_named(name: &str) -> Option<Action> {
    ACTIONS.iter().copied().find(|a| a.name.eq_ignore_ascii_case(name))
}

/// The outcome of `decide`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    Deny,
    /// Allowed if the object version's ACL (or ownership) gives this permission.
    ObjectAcl(Permission),
}

/// Whether ACL grants count on this bucket: not when ownership controls disable ACLs.
fn acls_enabled(bucket: &BucketInfo) -> bool {
    bucket.config.ownership != Some(ObjectOwnership::BucketOwnerEnforced)
}

fn public_access_block(bucket: &BucketInfo) -> PublicAccessBlock {
    bucket.config.public_access_block.unwrap_or_default()
}

/// The bucket's ACL: what was set, else private to its owner.
pub fn bucket_acl(bucket: &BucketInfo) -> Acl {
    bucket.config.acl.clone().unwrap_or_else(|| Acl::private(&bucket.owner))
}

/// Who owns what `principal` writes in `bucket` (`None`: anonymous). The writer, as S3's
/// ObjectWriter ownership says, except that the bucket owner owns it when: the bucket's
/// ownership controls enforce that, or prefer it and the write grants the bucket owner full
/// control (`bucket_owner_full_control`); the writer is anonymous; or the writer works under
/// an operator grant (`ringvault bucket allow`), i.e. for the bucket owner.
pub fn owner_of_write(
    bucket: &BucketInfo,
    principal: Option<&str>,
    bucket_owner_full_control: bool,
) -> String {
    let Some(writer) = principal else { return bucket.owner.clone() };
    let for_bucket_owner = match bucket.config.ownership {
        Some(ObjectOwnership::BucketOwnerEnforced) => true,
        Some(ObjectOwnership::BucketOwnerPreferred) => bucket_owner_full_control,
        Some(ObjectOwnership::ObjectWriter) | None => false,
    } || bucket.grants.iter().any(|g| g.access_key_id == writer);
    if for_bucket_owner { bucket.owner.clone() } else { writer.to_owned() }
}

/// A request as authorization sees it.
#[derive(Debug, Clone, Copy)]
pub struct Asking<'a> {
    /// `None`: anonymous.
    pub principal: Option<&'a str>,
    pub action: Action,
    /// The object, for actions on one.
    pub key: Option<&'a str>,
    pub facts: &'a Facts,
}

/// The bucket's policy. A stored policy was validated when written; one that no longer parses
/// (written by a later version) is ignored, loudly.
pub fn bucket_policy(bucket: &BucketInfo) -> Option<Policy> {
    let text = bucket.config.policy.as_deref()?;
    match Policy::parse(text) {
        Ok(policy) => Some(policy),
        Err(reason) => {
            tracing::warn!(bucket = %bucket.name, %reason, "stored bucket policy does not parse; ignored");
            None
        }
    }
}

/// The ARN a policy's Resource matches for a request.
pub fn resource_arn(bucket: &str, key: Option<&str>) -> String {
    match key {
        Some(key) => format!("arn:aws:s3:::{bucket}/{key}"),
        None => format!("arn:aws:s3:::{bucket}"),
    }
}

/// The actions the bucket owner may always do, whatever the policy says (so that a policy
/// cannot lock its owner out).
const LOCKOUT_PROOF: &[&str] =
    &["s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy"];

/// A decision and what made it, for operators (`ringvault bucket explain`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    pub verdict: Verdict,
    pub reason: String,
}

/// Decides a request on `bucket`.
pub fn decide(bucket: &BucketInfo, asking: &Asking<'_>) -> Verdict {
    explain(bucket, asking).verdict
}

/// `decide`, saying why.
pub fn explain(bucket: &BucketInfo, asking: &Asking<'_>) -> Explanation {
    let because = |verdict, reason: String| Explanation { verdict, reason };
    let (principal, action) = (asking.principal, asking.action);
    let is_owner = principal == Some(bucket.owner.as_str());
    if let Some(policy) = bucket_policy(bucket) {
        let resource = resource_arn(&bucket.name, asking.key);
        let request = PolicyRequest {
            principal,
            action: action.name,
            resource: &resource,
            facts: asking.facts,
        };
        let statement = |sid: Option<&str>| match sid {
            Some(sid) => format!("bucket policy statement \"{sid}\""),
            None => "a bucket policy statement without Sid".to_owned(),
        };
        match policy.deciding_statement(&request) {
            Some((Effect::Deny, sid)) if !(is_owner && LOCKOUT_PROOF.contains(&action.name)) => {
                return because(Verdict::Deny, format!("{} denies it", statement(sid)));
            }
            Some((Effect::Allow, sid))
                if is_owner
                    || !(public_access_block(bucket).restrict_public_buckets
                        && policy.is_public()) =>
            {
                return because(Verdict::Allow, format!("{} allows it", statement(sid)));
            }
            _ => {}
        }
    }
    // On objects, the bucket owner has what the object's owner and ACL give (S3's
    // ObjectWriter ownership); everything else in the bucket is theirs.
    if is_owner && !matches!(action.need, Object(_)) {
        return because(Verdict::Allow, "the principal owns the bucket".into());
    }
    if let Some(id) = principal
        && let Some(grant) = bucket.grants.iter().find(|g| g.access_key_id == id)
    {
        let granted = match action.need {
            Bucket(Read) | Object(Read) => grant.read,
            Bucket(Write) => grant.write,
            _ => false,
        };
        if granted {
            return because(Verdict::Allow, "an operator grant (ringvault bucket allow)".into());
        }
    }
    let ignore_public = public_access_block(bucket).ignore_public_acls;
    match action.need {
        Bucket(p)
            if acls_enabled(bucket) && bucket_acl(bucket).permits(principal, p, ignore_public) =>
        {
            because(Verdict::Allow, format!("the bucket ACL grants {}", p.as_str()))
        }
        Object(p) => because(
            Verdict::ObjectAcl(p),
            format!("the object's ACL decides: it needs {} there", p.as_str()),
        ),
        Bucket(_) | BucketOwner => {
            because(Verdict::Deny, "no policy statement, grant or ACL allows it".into())
        }
    }
}

/// Finishes a `Verdict::ObjectAcl`: the version's owner has every permission on it (the
/// bucket owner has them on every object of a bucket whose ownership controls enforce it);
/// others need a grant in its ACL (while the bucket's ACLs are enabled).
pub fn object_permits(
    bucket: &BucketInfo,
    principal: Option<&str>,
    object_owner: &str,
    object_acl: &Acl,
    wanted: Permission,
) -> bool {
    if principal == Some(object_owner)
        || (!acls_enabled(bucket) && principal == Some(bucket.owner.as_str()))
    {
        return true;
    }
    let ignore_public = public_access_block(bucket).ignore_public_acls;
    acls_enabled(bucket) && object_acl.permits(principal, wanted, ignore_public)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::acl::CannedAcl;
    use crate::objects::{BucketConfig, BucketGrant, Versioning};

    fn bucket(acl: CannedAcl) -> BucketInfo {
        BucketInfo {
            name: "b".into(),
            created_ms: 0,
            owner: "owner".into(),
            location: String::new(),
            grants: vec![BucketGrant { access_key_id: "reader".into(), read: true, write: false }],
            tags: Vec::new(),
            versioning: Versioning::Unversioned,
            object_lock: None,
            config: BucketConfig { acl: Some(acl.acl("owner", "owner")), ..Default::default() },
        }
    }

    fn d(bucket: &BucketInfo, principal: Option<&str>, action: Action) -> Verdict {
        let facts = Facts::default();
        decide(bucket, &Asking { principal, action, key: Some("k"), facts: &facts })
    }

    #[test]
    fn policies_decide_before_owners_and_acls() {
        let mut b = bucket(CannedAcl::Private);
        b.config.policy = Some(
            r#"{"Statement":[
                {"Effect":"Deny","Principal":"*","Action":["s3:DeleteObject","s3:*Policy"],"Resource":["arn:aws:s3:::b/*","arn:aws:s3:::b"]},
                {"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#
                .into(),
        );
        assert_eq!(
            d(&b, Some("owner"), DELETE_OBJECT),
            Verdict::Deny,
            "an explicit deny binds the owner"
        );
        assert_eq!(
            d(&b, Some("owner"), PUT_BUCKET_POLICY),
            Verdict::Allow,
            "but cannot lock the owner out"
        );
        assert_eq!(d(&b, Some("other"), PUT_BUCKET_POLICY), Verdict::Deny);
        assert_eq!(d(&b, None, GET_OBJECT), Verdict::Allow);
        b.config.public_access_block =
            Some(PublicAccessBlock { restrict_public_buckets: true, ..Default::default() });
        assert_eq!(
            d(&b, None, GET_OBJECT),
            Verdict::ObjectAcl(Read),
            "a public policy is restricted"
        );
        assert_eq!(d(&b, Some("owner"), GET_OBJECT), Verdict::Allow);
    }

    #[test]
    fn owners_grants_and_acls_decide_in_order() {
        let private = bucket(CannedAcl::Private);
        assert_eq!(d(&private, Some("owner"), DELETE_BUCKET), Verdict::Allow);
        assert_eq!(d(&private, Some("other"), LIST_BUCKET), Verdict::Deny);
        assert_eq!(d(&private, None, LIST_BUCKET), Verdict::Deny);
        assert_eq!(d(&private, Some("reader"), LIST_BUCKET), Verdict::Allow);
        assert_eq!(d(&private, Some("reader"), PUT_OBJECT), Verdict::Deny);
        assert_eq!(d(&private, Some("other"), GET_OBJECT), Verdict::ObjectAcl(Read));

        let public = bucket(CannedAcl::PublicReadWrite);
        assert_eq!(d(&public, None, LIST_BUCKET), Verdict::Allow);
        assert_eq!(d(&public, None, PUT_OBJECT), Verdict::Allow);
        assert_eq!(d(&public, None, PUT_BUCKET_ACL), Verdict::Deny);
        assert_eq!(d(&public, Some("other"), DELETE_BUCKET), Verdict::Deny);

        let mut ignoring = bucket(CannedAcl::PublicReadWrite);
        ignoring.config.public_access_block =
            Some(PublicAccessBlock { ignore_public_acls: true, ..Default::default() });
        assert_eq!(d(&ignoring, None, LIST_BUCKET), Verdict::Deny);

        let mut enforced = bucket(CannedAcl::PublicReadWrite);
        enforced.config.ownership = Some(ObjectOwnership::BucketOwnerEnforced);
        assert_eq!(d(&enforced, None, LIST_BUCKET), Verdict::Deny, "ACLs disabled");
    }

    #[test]
    fn object_acls_finish_object_level_decisions() {
        let b = bucket(CannedAcl::Private);
        let public = CannedAcl::PublicRead.acl("writer", "owner");
        assert!(object_permits(&b, None, "writer", &public, Read));
        assert!(!object_permits(&b, None, "writer", &public, ReadAcp));
        assert!(object_permits(&b, Some("writer"), "writer", &Acl::private("writer"), WriteAcp));
        assert!(!object_permits(&b, Some("other"), "writer", &Acl::private("writer"), Read));
    }
}
