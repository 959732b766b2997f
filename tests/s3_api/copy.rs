//! CopyObject and DeleteObjects through aws-sdk-s3.

use aws_sdk_s3::types::{Delete, MetadataDirective, ObjectIdentifier};

use crate::common::{TestNode, bucket_name, pattern};

async fn setup(tag: &str) -> (TestNode, aws_sdk_s3::Client, String) {
    let node = TestNode::start().await;
    let s3 = node.client();
    let bucket = bucket_name(tag);
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    (node, s3, bucket)
}

async fn body_of(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Vec<u8> {
    let out = s3.get_object().bucket(bucket).key(key).send().await.unwrap();
    out.body.collect().await.unwrap().into_bytes().to_vec()
}

#[tokio::test]
async fn copy_within_and_across_buckets_with_both_directives() {
    let (_node, s3, bucket) = setup("copy").await;
    let other = bucket_name("copy-dst");
    s3.create_bucket().bucket(&other).send().await.unwrap();
    let body = pattern(3 << 20, 5);
    s3.put_object()
        .bucket(&bucket)
        .key("src key+1")
        .content_type("text/x-src")
        .metadata("origin", "src")
        .body(body.clone().into())
        .send()
        .await
        .unwrap();
    let copied = s3
        .copy_object()
        .bucket(&other)
        .key("copy")
        .copy_source(format!("{bucket}/src%20key%2B1"))
        .send()
        .await
        .unwrap();
    let etag = copied.copy_object_result().unwrap().e_tag().unwrap().to_owned();
    assert_eq!(body_of(&s3, &other, "copy").await, body);
    let head = s3.head_object().bucket(&other).key("copy").send().await.unwrap();
    assert_eq!(head.e_tag(), Some(etag.as_str()));
    assert_eq!(head.content_type(), Some("text/x-src"));
    assert_eq!(head.metadata().unwrap().get("origin").map(String::as_str), Some("src"));

    s3.copy_object()
        .bucket(&bucket)
        .key("replaced")
        .copy_source(format!("{bucket}/src%20key%2B1"))
        .metadata_directive(MetadataDirective::Replace)
        .content_type("application/x-new")
        .metadata("fresh", "yes")
        .send()
        .await
        .unwrap();
    let head = s3.head_object().bucket(&bucket).key("replaced").send().await.unwrap();
    assert_eq!(head.content_type(), Some("application/x-new"));
    let meta = head.metadata().unwrap();
    assert_eq!(meta.get("fresh").map(String::as_str), Some("yes"));
    assert!(!meta.contains_key("origin"));
}

#[tokio::test]
async fn copy_onto_itself_needs_replace() {
    let (_node, s3, bucket) = setup("self").await;
    s3.put_object()
        .bucket(&bucket)
        .key("k")
        .metadata("v", "1")
        .body(pattern(2 << 20, 1).into())
        .send()
        .await
        .unwrap();
    let err = s3
        .copy_object()
        .bucket(&bucket)
        .key("k")
        .copy_source(format!("{bucket}/k"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.into_service_error().meta().code(), Some("InvalidRequest"));
    s3.copy_object()
        .bucket(&bucket)
        .key("k")
        .copy_source(format!("{bucket}/k"))
        .metadata_directive(MetadataDirective::Replace)
        .metadata("v", "2")
        .send()
        .await
        .unwrap();
    let head = s3.head_object().bucket(&bucket).key("k").send().await.unwrap();
    assert_eq!(head.metadata().unwrap().get("v").map(String::as_str), Some("2"));
    assert_eq!(
        body_of(&s3, &bucket, "k").await,
        pattern(2 << 20, 1),
        "the body survives a self-copy"
    );
}

#[tokio::test]
async fn copy_source_conditions_and_missing_sources() {
    let (_node, s3, bucket) = setup("copycond").await;
    let put =
        s3.put_object().bucket(&bucket).key("k").body(b"abc".to_vec().into()).send().await.unwrap();
    let etag = put.e_tag().unwrap();
    s3.copy_object()
        .bucket(&bucket)
        .key("ok")
        .copy_source(format!("{bucket}/k"))
        .copy_source_if_match(etag)
        .send()
        .await
        .unwrap();
    let err = s3
        .copy_object()
        .bucket(&bucket)
        .key("no")
        .copy_source(format!("{bucket}/k"))
        .copy_source_if_none_match(etag)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.raw_response().unwrap().status().as_u16(), 412);
    let err = s3
        .copy_object()
        .bucket(&bucket)
        .key("no")
        .copy_source(format!("{bucket}/absent"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.into_service_error().meta().code(), Some("NoSuchKey"));
    let err = s3.head_object().bucket(&bucket).key("no").send().await.unwrap_err();
    assert_eq!(err.raw_response().unwrap().status().as_u16(), 404);
}

#[tokio::test]
async fn delete_objects_reports_each_key_and_honours_quiet() {
    let (_node, s3, bucket) = setup("multidel").await;
    for i in 0..1000 {
        if i % 100 == 0 {
            s3.put_object()
                .bucket(&bucket)
                .key(format!("k{i:04}"))
                .body(b"x".to_vec().into())
                .send()
                .await
                .unwrap();
        }
    }
    let ids: Vec<_> = (0..1000)
        .map(|i| ObjectIdentifier::builder().key(format!("k{i:04}")).build().unwrap())
        .collect();
    let out = s3
        .delete_objects()
        .bucket(&bucket)
        .delete(Delete::builder().set_objects(Some(ids)).build().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(out.deleted().len(), 1000, "missing keys are reported as deleted, as S3 does");
    assert!(out.errors().is_empty());
    let listed = s3.list_objects_v2().bucket(&bucket).send().await.unwrap();
    assert_eq!(listed.key_count(), Some(0));

    s3.put_object().bucket(&bucket).key("q").body(b"x".to_vec().into()).send().await.unwrap();
    let quiet = s3
        .delete_objects()
        .bucket(&bucket)
        .delete(
            Delete::builder()
                .quiet(true)
                .objects(ObjectIdentifier::builder().key("q").build().unwrap())
                .objects(
                    ObjectIdentifier::builder()
                        .key("v")
                        .version_id("3HL4kqtJlcpXroDTDmJ")
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert!(quiet.deleted().is_empty(), "quiet mode lists only errors");
    assert_eq!(quiet.errors().len(), 1);
    assert_eq!(quiet.errors()[0].code(), Some("NoSuchVersion"));

    let too_many: Vec<_> = (0..1001)
        .map(|i| ObjectIdentifier::builder().key(format!("x{i}")).build().unwrap())
        .collect();
    let err = s3
        .delete_objects()
        .bucket(&bucket)
        .delete(Delete::builder().set_objects(Some(too_many)).build().unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.into_service_error().meta().code(), Some("MalformedXML"));
}
