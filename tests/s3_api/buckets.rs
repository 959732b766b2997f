//! Bucket operations: create, head, list, location, delete, and their errors.

use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};

use crate::common::{TestNode, bucket_name};

#[tokio::test]
async fn bucket_lifecycle_create_head_list_delete() {
    let node = TestNode::start().await;
    let s3 = node.client();
    let name = bucket_name("life");
    s3.create_bucket().bucket(&name).send().await.unwrap();
    s3.head_bucket().bucket(&name).send().await.unwrap();
    let listed = s3.list_buckets().send().await.unwrap();
    let names: Vec<_> = listed.buckets().iter().filter_map(|b| b.name()).collect();
    assert!(names.contains(&name.as_str()), "{names:?}");
    assert!(listed.buckets()[0].creation_date().is_some());

    // us-east-1's legacy rule: creating a bucket one owns again succeeds and changes nothing.
    s3.create_bucket().bucket(&name).send().await.expect("re-creating an own bucket");

    s3.put_object().bucket(&name).key("k").body(b"x".to_vec().into()).send().await.unwrap();
    let not_empty = s3.delete_bucket().bucket(&name).send().await.unwrap_err();
    assert_eq!(not_empty.into_service_error().meta().code(), Some("BucketNotEmpty"));
    s3.delete_object().bucket(&name).key("k").send().await.unwrap();
    s3.delete_bucket().bucket(&name).send().await.unwrap();

    let gone = s3.head_bucket().bucket(&name).send().await.unwrap_err();
    assert_eq!(gone.raw_response().unwrap().status().as_u16(), 404);
    let gone = s3.delete_bucket().bucket(&name).send().await.unwrap_err();
    assert_eq!(gone.into_service_error().meta().code(), Some("NoSuchBucket"));
}

#[tokio::test]
async fn invalid_bucket_names_are_rejected() {
    let node = TestNode::start().await;
    let s3 = node.client();
    for bad in ["ab", "Upper-Case", "under_score", "-leading", "a..b", "192.168.5.4"] {
        let err = s3.create_bucket().bucket(bad).send().await.unwrap_err();
        assert_eq!(err.into_service_error().meta().code(), Some("InvalidBucketName"), "{bad}");
    }
}

#[tokio::test]
async fn location_constraint_is_checked_and_reported() {
    let node = TestNode::start().await;
    let s3 = node.client();
    let name = bucket_name("loc");
    let wrong = CreateBucketConfiguration::builder()
        .location_constraint(BucketLocationConstraint::EuWest1)
        .build();
    let err = s3
        .create_bucket()
        .bucket(&name)
        .create_bucket_configuration(wrong)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.into_service_error().meta().code(), Some("InvalidLocationConstraint"));
    s3.create_bucket().bucket(&name).send().await.unwrap();
    let location = s3.get_bucket_location().bucket(&name).send().await.unwrap();
    assert!(location.location_constraint().is_none_or(|l| l.as_str().is_empty()), "{location:?}");
}

#[tokio::test]
async fn operations_on_a_missing_bucket_say_no_such_bucket() {
    let node = TestNode::start().await;
    let s3 = node.client();
    let err = s3.list_objects_v2().bucket("does-not-exist").send().await.unwrap_err();
    assert_eq!(err.into_service_error().meta().code(), Some("NoSuchBucket"));
    let err = s3
        .put_object()
        .bucket("does-not-exist")
        .key("k")
        .body(b"x".to_vec().into())
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.into_service_error().meta().code(), Some("NoSuchBucket"));
}

#[tokio::test]
async fn list_buckets_pages_with_continuation_tokens() {
    let node = TestNode::start().await;
    let s3 = node.client();
    for name in ["page-a", "page-b", "page-c", "other"] {
        s3.create_bucket().bucket(name).send().await.unwrap();
    }
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = s3
            .list_buckets()
            .max_buckets(2)
            .prefix("page-")
            .set_continuation_token(token.clone())
            .send()
            .await
            .unwrap();
        assert!(page.buckets().len() <= 2);
        seen.extend(page.buckets().iter().filter_map(|b| b.name().map(str::to_owned)));
        token = page.continuation_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(seen, ["page-a", "page-b", "page-c"]);
    let bad = s3.list_buckets().max_buckets(0).send().await.unwrap_err();
    assert_eq!(bad.raw_response().map(|r| r.status().as_u16()), Some(400));
}
