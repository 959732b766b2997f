//! Lifecycle on one node: configurations round-trip with S3's validation, x-amz-expiration
//! announces what a rule will do, and a lifecycle pass (run at a chosen time, so nothing here
//! waits on a clock) expires current versions, noncurrent ones beyond those kept, lone delete
//! markers and stale uploads, and never a locked version. The background worker runs too.

use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, BucketVersioningStatus,
    ExpirationStatus, LifecycleExpiration, LifecycleRule, LifecycleRuleFilter,
    NoncurrentVersionExpiration, VersioningConfiguration,
};

use crate::common::{TestNode, bucket_name};

const DAY: i64 = 86_400_000;

fn rule(id: &str, prefix: &str) -> aws_sdk_s3::types::builders::LifecycleRuleBuilder {
    LifecycleRule::builder()
        .id(id)
        .status(ExpirationStatus::Enabled)
        .filter(LifecycleRuleFilter::builder().prefix(prefix).build())
}

async fn keys(s3: &aws_sdk_s3::Client, bucket: &str) -> Vec<String> {
    let listed = s3.list_objects_v2().bucket(bucket).send().await.unwrap();
    listed.contents().iter().filter_map(|o| o.key().map(str::to_owned)).collect()
}

#[tokio::test]
async fn rules_expire_current_versions_and_stale_uploads() {
    let node = TestNode::start().await;
    let s3 = node.client();
    let bucket = bucket_name("lc");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let missing = s3.get_bucket_lifecycle_configuration().bucket(&bucket).send().await;
    assert_eq!(missing.unwrap_err().raw_response().map(|r| r.status().as_u16()), Some(404));

    let config = BucketLifecycleConfiguration::builder()
        .rules(
            rule("tmp", "tmp/")
                .expiration(LifecycleExpiration::builder().days(1).build())
                .build()
                .unwrap(),
        )
        .rules(
            rule("uploads", "")
                .abort_incomplete_multipart_upload(
                    AbortIncompleteMultipartUpload::builder().days_after_initiation(2).build(),
                )
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    s3.put_bucket_lifecycle_configuration()
        .bucket(&bucket)
        .lifecycle_configuration(config)
        .send()
        .await
        .unwrap();
    let got = s3.get_bucket_lifecycle_configuration().bucket(&bucket).send().await.unwrap();
    assert_eq!(got.rules().len(), 2);
    assert_eq!(got.rules()[0].expiration().and_then(|e| e.days()), Some(1));

    for key in ["tmp/a", "tmp/b", "keep/c"] {
        s3.put_object().bucket(&bucket).key(key).body(b"x".to_vec().into()).send().await.unwrap();
    }
    let head = s3.head_object().bucket(&bucket).key("tmp/a").send().await.unwrap();
    let announced = head.expiration().unwrap_or_default();
    assert!(announced.contains("rule-id=\"tmp\"") && announced.contains("GMT"), "{announced}");
    let kept = s3.head_object().bucket(&bucket).key("keep/c").send().await.unwrap();
    assert_eq!(kept.expiration(), None);
    let upload = s3.create_multipart_upload().bucket(&bucket).key("big").send().await.unwrap();

    let objects = node.node.as_ref().unwrap().objects();
    let now = crate::common::raw::now().timestamp_millis();
    let early = objects.lifecycle_pass(now, DAY).await.unwrap();
    assert_eq!((early.expired, early.uploads_aborted), (0, 0), "nothing is due yet");
    let pass = objects.lifecycle_pass(now + 3 * DAY, DAY).await.unwrap();
    assert_eq!((pass.buckets, pass.expired, pass.uploads_aborted), (1, 2, 1), "{pass:?}");
    assert_eq!(keys(&s3, &bucket).await, ["keep/c"]);
    // Operators see the passes in the cluster status and the metrics.
    let status = node.admin().cluster_status().await.unwrap();
    assert_eq!((status.lifecycle.passes, status.lifecycle.totals.expired), (2, 2));
    assert!(!status.lifecycle.running);
    let metrics = node.admin().metrics().await.unwrap();
    assert!(metrics.contains(r#"ringvault_lifecycle{kind="expired"} 2"#), "{metrics}");
    let uploads = s3.list_multipart_uploads().bucket(&bucket).send().await.unwrap();
    assert!(uploads.uploads().is_empty(), "{:?}", upload.upload_id());

    s3.delete_bucket_lifecycle().bucket(&bucket).send().await.unwrap();
    let gone = s3.get_bucket_lifecycle_configuration().bucket(&bucket).send().await;
    assert!(gone.is_err());
}

#[tokio::test]
async fn versioned_rules_expire_noncurrent_versions_and_lone_markers_but_not_locked_ones() {
    let node = TestNode::start().await;
    let s3 = node.client();
    let bucket = bucket_name("lcv");
    s3.create_bucket().bucket(&bucket).object_lock_enabled_for_bucket(true).send().await.unwrap();
    let enabled =
        VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build();
    s3.put_bucket_versioning()
        .bucket(&bucket)
        .versioning_configuration(enabled)
        .send()
        .await
        .unwrap();
    let mut versions = Vec::new();
    for body in ["v1", "v2", "v3", "v4"] {
        let put = s3.put_object().bucket(&bucket).key("doc").body(body.as_bytes().to_vec().into());
        versions.push(put.send().await.unwrap().version_id().unwrap().to_owned());
    }
    // The oldest version is under legal hold: lifecycle must leave it.
    let hold = aws_sdk_s3::types::ObjectLockLegalHold::builder()
        .status(aws_sdk_s3::types::ObjectLockLegalHoldStatus::On)
        .build();
    s3.put_object_legal_hold()
        .bucket(&bucket)
        .key("doc")
        .version_id(&versions[0])
        .legal_hold(hold)
        .send()
        .await
        .unwrap();
    // A key whose only version was deleted: a lone delete marker.
    let put = s3
        .put_object()
        .bucket(&bucket)
        .key("gone")
        .body(b"x".to_vec().into())
        .send()
        .await
        .unwrap();
    s3.delete_object()
        .bucket(&bucket)
        .key("gone")
        .version_id(put.version_id().unwrap())
        .send()
        .await
        .unwrap();
    s3.delete_object().bucket(&bucket).key("gone").send().await.unwrap();

    let config = BucketLifecycleConfiguration::builder()
        .rules(
            rule("old", "")
                .noncurrent_version_expiration(
                    NoncurrentVersionExpiration::builder()
                        .noncurrent_days(1)
                        .newer_noncurrent_versions(1)
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .rules(
            rule("markers", "")
                .expiration(
                    LifecycleExpiration::builder().expired_object_delete_marker(true).build(),
                )
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    s3.put_bucket_lifecycle_configuration()
        .bucket(&bucket)
        .lifecycle_configuration(config)
        .send()
        .await
        .unwrap();

    let objects = node.node.as_ref().unwrap().objects();
    let now = crate::common::raw::now().timestamp_millis();
    let pass = objects.lifecycle_pass(now + 2 * DAY, DAY).await.unwrap();
    // v3 is the newest noncurrent version (kept); v2 goes; v1 is held.
    assert_eq!(
        (pass.noncurrent_removed, pass.markers_removed, pass.skipped),
        (1, 1, 1),
        "{pass:?}"
    );
    let listed = s3.list_object_versions().bucket(&bucket).send().await.unwrap();
    let mut left: Vec<&str> = listed.versions().iter().filter_map(|v| v.version_id()).collect();
    left.sort_unstable();
    let mut expected = vec![versions[0].as_str(), versions[2].as_str(), versions[3].as_str()];
    expected.sort_unstable();
    assert_eq!(left, expected);
    assert!(listed.delete_markers().is_empty(), "the lone marker was removed");
}

#[tokio::test]
async fn the_background_worker_applies_rules_on_its_own() {
    let node = TestNode::start_with(|c| {
        c.lifecycle_interval = std::time::Duration::from_millis(100);
        c.lifecycle_day_ms = 200;
    })
    .await;
    let s3 = node.client();
    let bucket = bucket_name("lcbg");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let config = BucketLifecycleConfiguration::builder()
        .rules(
            rule("all", "")
                .expiration(LifecycleExpiration::builder().days(1).build())
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    s3.put_bucket_lifecycle_configuration()
        .bucket(&bucket)
        .lifecycle_configuration(config)
        .send()
        .await
        .unwrap();
    s3.put_object()
        .bucket(&bucket)
        .key("short-lived")
        .body(b"x".to_vec().into())
        .send()
        .await
        .unwrap();
    // A "day" is 200 ms here: the object goes within a few passes; bounded wait, no timing claim.
    for _ in 0..100 {
        if keys(&s3, &bucket).await.is_empty() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the lifecycle worker did not expire the object within 10 s");
}
