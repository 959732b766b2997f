//! Access control on one node, as a second key and anonymous clients see it: ACLs (canned,
//! grant headers, documents), bucket policies (allow, deny, conditions, malformed ones, the
//! operator's explanation), ownership controls and the public access block.

use aws_sdk_s3::types::{
    AccessControlPolicy, BucketCannedAcl, Grant, Grantee, ObjectCannedAcl, ObjectOwnership,
    OwnershipControls, OwnershipControlsRule, Permission, PublicAccessBlockConfiguration, Type,
};
use ringvault::admin::api::{CreateKeyRequest, ExplainRequest};

use crate::common::raw::RawRequest;
use crate::common::{TestNode, bucket_name, client};

fn code<E: aws_sdk_s3::error::ProvideErrorMetadata>(
    err: &aws_sdk_s3::error::SdkError<E>,
) -> Option<String> {
    err.as_service_error().and_then(|e| e.code()).map(str::to_owned)
}

/// A node, its owner's client, a second key's client and id, and a bucket the owner made.
async fn setup(tag: &str) -> (TestNode, aws_sdk_s3::Client, aws_sdk_s3::Client, String, String) {
    let node = TestNode::start().await;
    let owner = node.client();
    let request = CreateKeyRequest { name: "other".into(), allow_create_bucket: false };
    let key = node.admin().create_key(&request).await.unwrap();
    let other = client(&node.endpoint(), &key.key.access_key_id, &key.secret_access_key);
    let bucket = bucket_name(tag);
    owner.create_bucket().bucket(&bucket).send().await.unwrap();
    (node, owner, other, key.key.access_key_id, bucket)
}

async fn anonymous_get(node: &TestNode, path: &str) -> u16 {
    RawRequest::new("GET", node.addr(), path).send().await.status
}

#[tokio::test]
async fn acls_open_buckets_and_objects_to_other_keys_and_to_everyone() {
    let (node, owner, other, other_id, bucket) = setup("acl").await;
    owner
        .put_object()
        .bucket(&bucket)
        .key("private")
        .body(b"p".to_vec().into())
        .send()
        .await
        .unwrap();
    let public = owner.put_object().bucket(&bucket).key("public").acl(ObjectCannedAcl::PublicRead);
    public.body(b"hello".to_vec().into()).send().await.unwrap();

    // The bucket is private: nobody else lists it; the public object is readable by all.
    assert_eq!(anonymous_get(&node, &format!("/{bucket}")).await, 403);
    assert_eq!(
        code(&other.list_objects_v2().bucket(&bucket).send().await.unwrap_err()).as_deref(),
        Some("AccessDenied")
    );
    assert_eq!(anonymous_get(&node, &format!("/{bucket}/public")).await, 200);
    assert_eq!(anonymous_get(&node, &format!("/{bucket}/private")).await, 403);
    let got = other.get_object().bucket(&bucket).key("public").send().await.unwrap();
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), b"hello");

    // public-read on the bucket lets everyone list it, not write to it.
    owner.put_bucket_acl().bucket(&bucket).acl(BucketCannedAcl::PublicRead).send().await.unwrap();
    assert_eq!(anonymous_get(&node, &format!("/{bucket}")).await, 200);
    let listed = other.list_objects_v2().bucket(&bucket).send().await.unwrap();
    assert_eq!(listed.contents().len(), 2);
    let write = other.put_object().bucket(&bucket).key("x").body(b"x".to_vec().into()).send();
    assert_eq!(code(&write.await.unwrap_err()).as_deref(), Some("AccessDenied"));
    // ... and a missing object is a 404 to those who may list, not a 403.
    assert_eq!(anonymous_get(&node, &format!("/{bucket}/missing")).await, 404);

    // A grant header gives one key write access; what it writes is its own.
    let acl = owner.get_bucket_acl().bucket(&bucket).send().await.unwrap();
    let mut grants = acl.grants().to_vec();
    grants.push(
        Grant::builder()
            .grantee(Grantee::builder().r#type(Type::CanonicalUser).id(&other_id).build().unwrap())
            .permission(Permission::Write)
            .build(),
    );
    let policy = AccessControlPolicy::builder()
        .set_grants(Some(grants))
        .owner(acl.owner().unwrap().clone())
        .build();
    owner.put_bucket_acl().bucket(&bucket).access_control_policy(policy).send().await.unwrap();
    let acl = owner.get_bucket_acl().bucket(&bucket).send().await.unwrap();
    assert_eq!(acl.grants().len(), 3, "{acl:?}");
    other
        .put_object()
        .bucket(&bucket)
        .key("theirs")
        .body(b"t".to_vec().into())
        .send()
        .await
        .unwrap();
    let object_acl = other.get_object_acl().bucket(&bucket).key("theirs").send().await.unwrap();
    assert_eq!(object_acl.owner().and_then(|o| o.id()), Some(other_id.as_str()));
    // The bucket owner may delete it but not read it: S3's ObjectWriter ownership.
    let read = owner.get_object().bucket(&bucket).key("theirs").send().await;
    assert_eq!(code(&read.unwrap_err()).as_deref(), Some("AccessDenied"));
    let share =
        other.put_object_acl().bucket(&bucket).key("theirs").acl(ObjectCannedAcl::BucketOwnerRead);
    share.send().await.unwrap();
    owner.get_object().bucket(&bucket).key("theirs").send().await.unwrap();

    // Bad ACLs are refused with S3's codes.
    let bad_grant = Grant::builder()
        .grantee(Grantee::builder().r#type(Type::CanonicalUser).id("RVNOSUCHKEY").build().unwrap())
        .permission(Permission::Read)
        .build();
    let policy = AccessControlPolicy::builder()
        .grants(bad_grant)
        .owner(acl.owner().unwrap().clone())
        .build();
    let refused = owner.put_bucket_acl().bucket(&bucket).access_control_policy(policy).send().await;
    assert_eq!(code(&refused.unwrap_err()).as_deref(), Some("InvalidArgument"));
}

#[tokio::test]
async fn bucket_policies_allow_deny_and_explain() {
    let (node, owner, other, other_id, bucket) = setup("policy").await;
    for key in ["public/a", "secret/b"] {
        owner
            .put_object()
            .bucket(&bucket)
            .key(key)
            .body(b"x".to_vec().into())
            .send()
            .await
            .unwrap();
    }
    let missing = owner.get_bucket_policy().bucket(&bucket).send().await.unwrap_err();
    assert_eq!(code(&missing).as_deref(), Some("NoSuchBucketPolicy"));
    let malformed =
        owner.put_bucket_policy().bucket(&bucket).policy("{\"Statement\": 1}").send().await;
    assert_eq!(code(&malformed.unwrap_err()).as_deref(), Some("MalformedPolicy"));

    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[
            {{"Sid":"PublicReads","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::{bucket}/public/*"}},
            {{"Sid":"OtherLists","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{other_id}:root"}},"Action":"s3:ListBucket","Resource":"arn:aws:s3:::{bucket}","Condition":{{"StringLike":{{"s3:prefix":"public/*"}}}}}},
            {{"Sid":"NoDeletes","Effect":"Deny","Principal":"*","Action":"s3:DeleteObject","Resource":"arn:aws:s3:::{bucket}/secret/*"}}]}}"#
    );
    owner.put_bucket_policy().bucket(&bucket).policy(&policy).send().await.unwrap();
    let stored = owner.get_bucket_policy().bucket(&bucket).send().await.unwrap();
    assert_eq!(stored.policy(), Some(policy.as_str()));
    let status = owner.get_bucket_policy_status().bucket(&bucket).send().await.unwrap();
    assert_eq!(status.policy_status().and_then(|s| s.is_public()), Some(true));

    assert_eq!(anonymous_get(&node, &format!("/{bucket}/public/a")).await, 200);
    assert_eq!(anonymous_get(&node, &format!("/{bucket}/secret/b")).await, 403);
    other.list_objects_v2().bucket(&bucket).prefix("public/").send().await.unwrap();
    let everything = other.list_objects_v2().bucket(&bucket).send().await;
    assert_eq!(code(&everything.unwrap_err()).as_deref(), Some("AccessDenied"));
    // An explicit deny binds the owner too; the owner can still change the policy.
    let delete = owner.delete_object().bucket(&bucket).key("secret/b").send().await;
    assert_eq!(code(&delete.unwrap_err()).as_deref(), Some("AccessDenied"));

    let explain = |principal: Option<&str>, action: &str, key: Option<&str>| ExplainRequest {
        principal: principal.map(str::to_owned),
        action: action.into(),
        key: key.map(str::to_owned),
        source_ip: None,
    };
    let admin = node.admin();
    let why =
        admin.explain(&bucket, &explain(None, "s3:GetObject", Some("public/a"))).await.unwrap();
    assert_eq!(why.decision, "allow");
    assert!(why.reason.contains("PublicReads"), "{why:?}");
    let why = admin
        .explain(
            &bucket,
            &explain(Some(crate::common::ACCESS_KEY_ID), "s3:DeleteObject", Some("secret/b")),
        )
        .await
        .unwrap();
    assert_eq!(why.decision, "deny");
    assert!(why.reason.contains("NoDeletes"), "{why:?}");

    owner.delete_bucket_policy().bucket(&bucket).send().await.unwrap();
    owner.delete_object().bucket(&bucket).key("secret/b").send().await.unwrap();
    assert_eq!(anonymous_get(&node, &format!("/{bucket}/public/a")).await, 403);
}

#[tokio::test]
async fn ownership_controls_and_the_public_access_block_restrict_acls() {
    let (node, owner, other, _other_id, bucket) = setup("own").await;
    let missing = owner.get_bucket_ownership_controls().bucket(&bucket).send().await.unwrap_err();
    assert_eq!(code(&missing).as_deref(), Some("OwnershipControlsNotFoundError"));
    let enforced = OwnershipControls::builder()
        .rules(
            OwnershipControlsRule::builder()
                .object_ownership(ObjectOwnership::BucketOwnerEnforced)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    owner
        .put_bucket_ownership_controls()
        .bucket(&bucket)
        .ownership_controls(enforced)
        .send()
        .await
        .unwrap();
    let public = owner.put_object().bucket(&bucket).key("k").acl(ObjectCannedAcl::PublicRead);
    let refused = public.body(b"x".to_vec().into()).send().await.unwrap_err();
    assert_eq!(code(&refused).as_deref(), Some("AccessControlListNotSupported"));
    let acl = owner.put_bucket_acl().bucket(&bucket).acl(BucketCannedAcl::PublicRead).send().await;
    assert_eq!(code(&acl.unwrap_err()).as_deref(), Some("AccessControlListNotSupported"));
    owner.delete_bucket_ownership_controls().bucket(&bucket).send().await.unwrap();

    let block = PublicAccessBlockConfiguration::builder().block_public_acls(true).build();
    owner
        .put_public_access_block()
        .bucket(&bucket)
        .public_access_block_configuration(block)
        .send()
        .await
        .unwrap();
    let public = owner.put_object().bucket(&bucket).key("k").acl(ObjectCannedAcl::PublicRead);
    let refused = public.body(b"x".to_vec().into()).send().await.unwrap_err();
    assert_eq!(code(&refused).as_deref(), Some("AccessDenied"));

    // An object made public before the block is ignored once IgnorePublicAcls is on.
    owner.delete_public_access_block().bucket(&bucket).send().await.unwrap();
    let public = owner.put_object().bucket(&bucket).key("k").acl(ObjectCannedAcl::PublicRead);
    public.body(b"x".to_vec().into()).send().await.unwrap();
    assert_eq!(anonymous_get(&node, &format!("/{bucket}/k")).await, 200);
    other.get_object().bucket(&bucket).key("k").send().await.unwrap();
    let ignore = PublicAccessBlockConfiguration::builder().ignore_public_acls(true).build();
    owner
        .put_public_access_block()
        .bucket(&bucket)
        .public_access_block_configuration(ignore)
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous_get(&node, &format!("/{bucket}/k")).await, 403);
    let read = other.get_object().bucket(&bucket).key("k").send().await;
    assert_eq!(code(&read.unwrap_err()).as_deref(), Some("AccessDenied"));
    let got = owner.get_public_access_block().bucket(&bucket).send().await.unwrap();
    let config = got.public_access_block_configuration().unwrap();
    assert_eq!(
        (config.ignore_public_acls(), config.block_public_acls()),
        (Some(true), Some(false))
    );
}
