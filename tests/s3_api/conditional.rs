//! Conditional writes and deletes on one node, as the SDK sends them: If-None-Match with an
//! ETag, and the conditions of DeleteObject (If-Match, x-amz-if-match-last-modified-time,
//! x-amz-if-match-size) and of DeleteObjects (ETag, Size per key).

use aws_sdk_s3::primitives::DateTime;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};

use crate::common::{TestNode, bucket_name};

fn status<E>(err: &aws_sdk_s3::error::SdkError<E>) -> u16 {
    err.raw_response().map_or(0, |r| r.status().as_u16())
}

#[tokio::test]
async fn if_none_match_with_an_etag_refuses_only_that_version() {
    let node = TestNode::start().await;
    let s3 = node.client();
    let bucket = bucket_name("inm");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let put = |body: &'static [u8], inm: &str| {
        s3.put_object()
            .bucket(&bucket)
            .key("k")
            .if_none_match(inm)
            .body(body.to_vec().into())
            .send()
    };
    let first = put(b"one", "*").await.unwrap();
    let etag = first.e_tag().unwrap().to_owned();
    assert_eq!(status(&put(b"two", "*").await.unwrap_err()), 412);
    assert_eq!(status(&put(b"two", &etag).await.unwrap_err()), 412, "the current ETag");
    put(b"two", "\"0123456789abcdef0123456789abcdef\"").await.unwrap();
    let got = s3.get_object().bucket(&bucket).key("k").send().await.unwrap();
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), b"two");
}

#[tokio::test]
async fn delete_object_conditions_name_the_current_version() {
    let node = TestNode::start().await;
    let s3 = node.client();
    let bucket = bucket_name("delcond");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let put = s3.put_object().bucket(&bucket).key("k").body(b"12345".to_vec().into());
    let etag = put.send().await.unwrap().e_tag().unwrap().to_owned();
    let head = s3.head_object().bucket(&bucket).key("k").send().await.unwrap();
    let modified = *head.last_modified().unwrap();
    let delete = || s3.delete_object().bucket(&bucket).key("k");

    let wrong_etag = delete().if_match("\"0123456789abcdef0123456789abcdef\"").send().await;
    assert_eq!(status(&wrong_etag.unwrap_err()), 412);
    assert_eq!(status(&delete().if_match_size(4).send().await.unwrap_err()), 412);
    let long_ago = DateTime::from_secs(1_420_070_400);
    let wrong_time = delete().if_match_last_modified_time(long_ago).send().await;
    assert_eq!(status(&wrong_time.unwrap_err()), 412);
    s3.head_object().bucket(&bucket).key("k").send().await.expect("refused deletes keep it");

    delete()
        .if_match(&etag)
        .if_match_size(5)
        .if_match_last_modified_time(modified)
        .send()
        .await
        .unwrap();
    let gone = s3.head_object().bucket(&bucket).key("k").send().await.unwrap_err();
    assert_eq!(status(&gone), 404);
    // Nothing left to delete: a success, whatever the condition.
    delete().if_match("\"0123456789abcdef0123456789abcdef\"").send().await.unwrap();
}

#[tokio::test]
async fn delete_objects_checks_each_keys_conditions() {
    let node = TestNode::start().await;
    let s3 = node.client();
    let bucket = bucket_name("delobjs");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let mut etags = Vec::new();
    for key in ["a", "b"] {
        let put = s3.put_object().bucket(&bucket).key(key).body(b"abc".to_vec().into());
        etags.push(put.send().await.unwrap().e_tag().unwrap().to_owned());
    }
    let objects = vec![
        ObjectIdentifier::builder().key("a").e_tag("\"ffffffffffffffffffffffffffffffff\"").build(),
        ObjectIdentifier::builder().key("b").e_tag(&etags[1]).size(3).build(),
        ObjectIdentifier::builder()
            .key("a")
            .last_modified_time(DateTime::from_secs(1_420_070_400))
            .build(),
    ];
    let delete =
        Delete::builder().set_objects(Some(objects.into_iter().map(Result::unwrap).collect()));
    let out =
        s3.delete_objects().bucket(&bucket).delete(delete.build().unwrap()).send().await.unwrap();
    let errors: Vec<_> = out.errors().iter().map(|e| (e.key(), e.code())).collect();
    assert_eq!(
        errors,
        vec![(Some("a"), Some("PreconditionFailed")), (Some("a"), Some("PreconditionFailed"))],
        "a wrong ETag, then a wrong last-modified time"
    );
    let deleted: Vec<_> = out.deleted().iter().map(|d| d.key()).collect();
    assert_eq!(deleted, vec![Some("b")]);
    s3.head_object().bucket(&bucket).key("a").send().await.expect("a stays");
    assert_eq!(status(&s3.head_object().bucket(&bucket).key("b").send().await.unwrap_err()), 404);
}
