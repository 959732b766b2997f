//! Object lock on one node, through the SDK: buckets created with object lock, default
//! retention, GOVERNANCE and COMPLIANCE retention with and without the bypass, legal holds,
//! locks given by PutObject and multipart headers, and the errors of buckets without it.

use aws_sdk_s3::primitives::DateTime;
use aws_sdk_s3::types::{
    BucketVersioningStatus, DefaultRetention, Delete, ObjectIdentifier, ObjectLockConfiguration,
    ObjectLockEnabled, ObjectLockLegalHold, ObjectLockLegalHoldStatus, ObjectLockMode,
    ObjectLockRetention, ObjectLockRetentionMode, ObjectLockRule, VersioningConfiguration,
};

use crate::common::{TestNode, bucket_name};

fn status<E>(err: &aws_sdk_s3::error::SdkError<E>) -> u16 {
    err.raw_response().map_or(0, |r| r.status().as_u16())
}

fn code<E: aws_sdk_s3::error::ProvideErrorMetadata>(
    err: &aws_sdk_s3::error::SdkError<E>,
) -> Option<String> {
    err.as_service_error().and_then(|e| e.code()).map(str::to_owned)
}

/// 2100-01-01.
const FAR: i64 = 4_102_444_800;

fn retention(mode: ObjectLockRetentionMode, secs: i64) -> ObjectLockRetention {
    ObjectLockRetention::builder().mode(mode).retain_until_date(DateTime::from_secs(secs)).build()
}

async fn locked_bucket(s3: &aws_sdk_s3::Client, tag: &str) -> String {
    let bucket = bucket_name(tag);
    s3.create_bucket().bucket(&bucket).object_lock_enabled_for_bucket(true).send().await.unwrap();
    bucket
}

async fn put(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> String {
    let out = s3.put_object().bucket(bucket).key(key).body(b"locked".to_vec().into()).send();
    out.await.unwrap().version_id().unwrap().to_owned()
}

#[tokio::test]
async fn a_bucket_with_object_lock_is_versioned_and_applies_its_default_retention() {
    let node = TestNode::start().await;
    let s3 = node.client();
    let bucket = locked_bucket(&s3, "lockdef").await;
    let versioning = s3.get_bucket_versioning().bucket(&bucket).send().await.unwrap();
    assert_eq!(versioning.status(), Some(&BucketVersioningStatus::Enabled));
    let suspend = VersioningConfiguration::builder().status(BucketVersioningStatus::Suspended);
    let refused =
        s3.put_bucket_versioning().bucket(&bucket).versioning_configuration(suspend.build()).send();
    let err = refused.await.unwrap_err();
    assert_eq!((status(&err), code(&err).as_deref()), (409, Some("InvalidBucketState")));

    let rule = ObjectLockRule::builder()
        .default_retention(
            DefaultRetention::builder().mode(ObjectLockRetentionMode::Governance).days(2).build(),
        )
        .build();
    let config = ObjectLockConfiguration::builder()
        .object_lock_enabled(ObjectLockEnabled::Enabled)
        .rule(rule)
        .build();
    s3.put_object_lock_configuration()
        .bucket(&bucket)
        .object_lock_configuration(config.clone())
        .send()
        .await
        .unwrap();
    let got = s3.get_object_lock_configuration().bucket(&bucket).send().await.unwrap();
    assert_eq!(got.object_lock_configuration(), Some(&config));

    let version = put(&s3, &bucket, "k").await;
    let head = s3.head_object().bucket(&bucket).key("k").send().await.unwrap();
    assert_eq!(head.object_lock_mode(), Some(&ObjectLockMode::Governance));
    let until = head.object_lock_retain_until_date().unwrap().secs();
    let in_two_days = head.last_modified().unwrap().secs() + 2 * 86_400;
    assert!((until - in_two_days).abs() < 120, "retained for the default two days");
    let delete = s3.delete_object().bucket(&bucket).key("k").version_id(&version).send().await;
    assert_eq!(status(&delete.unwrap_err()), 403, "the default retention protects it");
    let marker = s3.delete_object().bucket(&bucket).key("k").send().await.unwrap();
    assert_eq!(marker.delete_marker(), Some(true), "a delete marker is always allowed");
}

#[tokio::test]
async fn governance_yields_to_the_bypass_and_compliance_to_nothing() {
    let node = TestNode::start().await;
    let s3 = node.client();
    let bucket = locked_bucket(&s3, "lockret").await;
    let gov = put(&s3, &bucket, "gov").await;
    let set = |key: &'static str, r: ObjectLockRetention, bypass: bool| {
        s3.put_object_retention()
            .bucket(&bucket)
            .key(key)
            .retention(r)
            .bypass_governance_retention(bypass)
            .send()
    };
    set("gov", retention(ObjectLockRetentionMode::Governance, FAR), false).await.unwrap();
    let got = s3.get_object_retention().bucket(&bucket).key("gov").send().await.unwrap();
    let r = got.retention().unwrap();
    assert_eq!(r.mode(), Some(&ObjectLockRetentionMode::Governance));
    assert_eq!(r.retain_until_date().map(DateTime::secs), Some(FAR));
    let shorter = set("gov", retention(ObjectLockRetentionMode::Governance, FAR - 86_400), false);
    let err = shorter.await.unwrap_err();
    assert_eq!((status(&err), code(&err).as_deref()), (403, Some("AccessDenied")));
    let stricter = set("gov", retention(ObjectLockRetentionMode::Compliance, FAR), false);
    assert_eq!(status(&stricter.await.unwrap_err()), 403, "a mode change needs the bypass");
    let delete = || s3.delete_object().bucket(&bucket).key("gov").version_id(&gov);
    assert_eq!(status(&delete().send().await.unwrap_err()), 403);
    delete().bypass_governance_retention(true).send().await.expect("the owner bypasses it");

    let comp = put(&s3, &bucket, "comp").await;
    set("comp", retention(ObjectLockRetentionMode::Compliance, FAR - 86_400), false).await.unwrap();
    set("comp", retention(ObjectLockRetentionMode::Compliance, FAR), false).await.expect("longer");
    for r in [
        retention(ObjectLockRetentionMode::Compliance, FAR - 86_400),
        retention(ObjectLockRetentionMode::Governance, FAR),
    ] {
        assert_eq!(status(&set("comp", r, true).await.unwrap_err()), 403, "not even bypassed");
    }
    let delete = s3.delete_object().bucket(&bucket).key("comp").version_id(&comp);
    let err = delete.bypass_governance_retention(true).send().await.unwrap_err();
    assert_eq!(status(&err), 403);
    let many = Delete::builder()
        .objects(ObjectIdentifier::builder().key("comp").version_id(&comp).build().unwrap())
        .build()
        .unwrap();
    let result = s3.delete_objects().bucket(&bucket).delete(many).send().await.unwrap();
    assert_eq!(result.errors()[0].code(), Some("AccessDenied"));
    let body = s3.get_object().bucket(&bucket).key("comp").version_id(&comp).send().await;
    assert!(body.is_ok(), "the COMPLIANCE version is still there");
}

#[tokio::test]
async fn a_legal_hold_blocks_deletion_until_it_is_lifted() {
    let node = TestNode::start().await;
    let s3 = node.client();
    let bucket = locked_bucket(&s3, "lockhold").await;
    let version = put(&s3, &bucket, "k").await;
    let hold = |status: ObjectLockLegalHoldStatus| {
        s3.put_object_legal_hold()
            .bucket(&bucket)
            .key("k")
            .legal_hold(ObjectLockLegalHold::builder().status(status).build())
            .send()
    };
    hold(ObjectLockLegalHoldStatus::On).await.unwrap();
    let got = s3.get_object_legal_hold().bucket(&bucket).key("k").send().await.unwrap();
    assert_eq!(got.legal_hold().and_then(|h| h.status()), Some(&ObjectLockLegalHoldStatus::On));
    let head = s3.head_object().bucket(&bucket).key("k").send().await.unwrap();
    assert_eq!(head.object_lock_legal_hold_status(), Some(&ObjectLockLegalHoldStatus::On));
    let delete = || s3.delete_object().bucket(&bucket).key("k").version_id(&version);
    let err = delete().bypass_governance_retention(true).send().await.unwrap_err();
    assert_eq!(status(&err), 403, "a legal hold has no bypass");
    hold(ObjectLockLegalHoldStatus::Off).await.unwrap();
    delete().send().await.expect("deletable once the hold is off");
}

#[tokio::test]
async fn uploads_carry_their_lock_and_buckets_without_lock_refuse_one() {
    let node = TestNode::start().await;
    let s3 = node.client();
    let bucket = locked_bucket(&s3, "lockmp").await;
    let upload = s3
        .create_multipart_upload()
        .bucket(&bucket)
        .key("mp")
        .object_lock_mode(ObjectLockMode::Governance)
        .object_lock_retain_until_date(DateTime::from_secs(FAR))
        .object_lock_legal_hold_status(ObjectLockLegalHoldStatus::On)
        .send()
        .await
        .unwrap();
    let id = upload.upload_id().unwrap();
    let part = s3.upload_part().bucket(&bucket).key("mp").upload_id(id).part_number(1);
    let part = part.body(b"part".to_vec().into()).send().await.unwrap();
    let parts = aws_sdk_s3::types::CompletedMultipartUpload::builder()
        .parts(
            aws_sdk_s3::types::CompletedPart::builder()
                .part_number(1)
                .e_tag(part.e_tag().unwrap())
                .build(),
        )
        .build();
    let done = s3.complete_multipart_upload().bucket(&bucket).key("mp").upload_id(id);
    done.multipart_upload(parts).send().await.unwrap();
    let head = s3.head_object().bucket(&bucket).key("mp").send().await.unwrap();
    assert_eq!(head.object_lock_mode(), Some(&ObjectLockMode::Governance));
    assert_eq!(head.object_lock_retain_until_date().map(DateTime::secs), Some(FAR));
    assert_eq!(head.object_lock_legal_hold_status(), Some(&ObjectLockLegalHoldStatus::On));

    let plain = bucket_name("nolock");
    s3.create_bucket().bucket(&plain).send().await.unwrap();
    s3.put_object().bucket(&plain).key("k").body(b"x".to_vec().into()).send().await.unwrap();
    let err = s3.get_object_lock_configuration().bucket(&plain).send().await.unwrap_err();
    assert_eq!(
        (status(&err), code(&err).as_deref()),
        (404, Some("ObjectLockConfigurationNotFoundError"))
    );
    let set = s3
        .put_object_retention()
        .bucket(&plain)
        .key("k")
        .retention(retention(ObjectLockRetentionMode::Governance, FAR))
        .send();
    let err = set.await.unwrap_err();
    assert_eq!((status(&err), code(&err).as_deref()), (400, Some("InvalidRequest")));
    let locked_put = s3
        .put_object()
        .bucket(&plain)
        .key("k")
        .object_lock_legal_hold_status(ObjectLockLegalHoldStatus::On)
        .body(b"x".to_vec().into())
        .send();
    assert_eq!(status(&locked_put.await.unwrap_err()), 400);
    // Object lock needs versioning enabled first.
    let config =
        ObjectLockConfiguration::builder().object_lock_enabled(ObjectLockEnabled::Enabled).build();
    let enable =
        s3.put_object_lock_configuration().bucket(&plain).object_lock_configuration(config);
    let err = enable.send().await.unwrap_err();
    assert_eq!((status(&err), code(&err).as_deref()), (409, Some("InvalidBucketState")));
}
