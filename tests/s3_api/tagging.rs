//! Object and bucket tagging through aws-sdk-s3.

use aws_sdk_s3::types::{Tag, Tagging};

use crate::common::{TestNode, bucket_name, pattern};

fn tagging(pairs: &[(&str, &str)]) -> Tagging {
    let tags =
        pairs.iter().map(|(k, v)| Tag::builder().key(*k).value(*v).build().unwrap()).collect();
    Tagging::builder().set_tag_set(Some(tags)).build().unwrap()
}

#[tokio::test]
async fn object_tags_are_set_read_counted_and_removed() {
    let node = TestNode::start().await;
    let s3 = node.client();
    let bucket = bucket_name("tags");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    s3.put_object()
        .bucket(&bucket)
        .key("k")
        .tagging("project=ring&team=a%20b")
        .body(pattern(300_000, 1).into())
        .send()
        .await
        .unwrap();
    let got = s3.get_object_tagging().bucket(&bucket).key("k").send().await.unwrap();
    let pairs: Vec<_> = got.tag_set().iter().map(|t| (t.key(), t.value())).collect();
    assert_eq!(pairs, [("project", "ring"), ("team", "a b")]);
    let head = s3.get_object().bucket(&bucket).key("k").send().await.unwrap();
    assert_eq!(head.tag_count(), Some(2));

    s3.put_object_tagging()
        .bucket(&bucket)
        .key("k")
        .tagging(tagging(&[("only", "one")]))
        .send()
        .await
        .unwrap();
    let got = s3.get_object_tagging().bucket(&bucket).key("k").send().await.unwrap();
    assert_eq!(got.tag_set().len(), 1);
    let body = s3
        .get_object()
        .bucket(&bucket)
        .key("k")
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    assert!(body == pattern(300_000, 1)[..], "retagging keeps the body");

    s3.delete_object_tagging().bucket(&bucket).key("k").send().await.unwrap();
    assert!(
        s3.get_object_tagging().bucket(&bucket).key("k").send().await.unwrap().tag_set().is_empty()
    );

    let eleven: Vec<_> = (0..11).map(|i| (format!("k{i}"), "v".to_owned())).collect();
    let refs: Vec<_> = eleven.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let err = s3
        .put_object_tagging()
        .bucket(&bucket)
        .key("k")
        .tagging(tagging(&refs))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.into_service_error().meta().code(), Some("InvalidTag"));
    let err = s3.get_object_tagging().bucket(&bucket).key("missing").send().await.unwrap_err();
    assert_eq!(err.into_service_error().meta().code(), Some("NoSuchKey"));
}

#[tokio::test]
async fn bucket_tags_are_set_read_and_removed() {
    let node = TestNode::start().await;
    let s3 = node.client();
    let bucket = bucket_name("btags");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let err = s3.get_bucket_tagging().bucket(&bucket).send().await.unwrap_err();
    assert_eq!(err.into_service_error().meta().code(), Some("NoSuchTagSet"));
    s3.put_bucket_tagging()
        .bucket(&bucket)
        .tagging(tagging(&[("env", "test"), ("cost", "0")]))
        .send()
        .await
        .unwrap();
    let got = s3.get_bucket_tagging().bucket(&bucket).send().await.unwrap();
    assert_eq!(got.tag_set().len(), 2);
    s3.delete_bucket_tagging().bucket(&bucket).send().await.unwrap();
    let err = s3.get_bucket_tagging().bucket(&bucket).send().await.unwrap_err();
    assert_eq!(err.into_service_error().meta().code(), Some("NoSuchTagSet"));
}
