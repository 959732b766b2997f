//! Listing: ListObjectsV2, ListObjects (v1) and ListObjectVersions over 1,500 keys, with
//! prefixes, delimiters, pagination, start-after, markers and URL encoding.

use std::collections::BTreeSet;

use aws_sdk_s3::types::EncodingType;

use crate::common::{TestNode, bucket_name};

/// 500 keys under `a/`, 500 under `b/c/`, 500 at the top level.
fn keys() -> Vec<String> {
    let mut keys = Vec::new();
    for i in 0..500 {
        keys.push(format!("a/{i:04}"));
        keys.push(format!("b/c/{i:04}"));
        keys.push(format!("top-{i:04}"));
    }
    keys.sort();
    keys
}

async fn filled_bucket(node: &TestNode) -> String {
    let s3 = node.client();
    let bucket = bucket_name("list");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let mut tasks = Vec::new();
    for chunk in keys().chunks(100) {
        let (s3, bucket, chunk) = (s3.clone(), bucket.clone(), chunk.to_vec());
        tasks.push(tokio::spawn(async move {
            for key in chunk {
                s3.put_object()
                    .bucket(&bucket)
                    .key(&key)
                    .body(key.clone().into_bytes().into())
                    .send()
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    bucket
}

#[tokio::test]
async fn v2_pages_through_1500_keys_with_a_delimiter() {
    let node = TestNode::start().await;
    let bucket = filled_bucket(&node).await;
    let s3 = node.client();

    let mut objects = Vec::new();
    let mut prefixes = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = s3
            .list_objects_v2()
            .bucket(&bucket)
            .delimiter("/")
            .max_keys(100)
            .set_continuation_token(token.clone())
            .send()
            .await
            .unwrap();
        pages += 1;
        let count = page.contents().len() + page.common_prefixes().len();
        assert_eq!(page.key_count(), Some(count as i32));
        assert!(count <= 100);
        objects.extend(page.contents().iter().filter_map(|o| o.key().map(str::to_owned)));
        prefixes
            .extend(page.common_prefixes().iter().filter_map(|p| p.prefix().map(str::to_owned)));
        if page.is_truncated() != Some(true) {
            break;
        }
        token = page.next_continuation_token().map(str::to_owned);
        assert!(token.is_some(), "a truncated page must carry a continuation token");
    }
    assert_eq!(prefixes, ["a/", "b/"]);
    let top: Vec<_> = keys().into_iter().filter(|k| k.starts_with("top-")).collect();
    assert_eq!(objects, top);
    assert_eq!(pages, 6, "502 entries in pages of 100");

    let all: Vec<String> = {
        let mut out = Vec::new();
        let mut pager = s3.list_objects_v2().bucket(&bucket).into_paginator().send();
        while let Some(page) = pager.next().await {
            out.extend(page.unwrap().contents().iter().filter_map(|o| o.key().map(str::to_owned)));
        }
        out
    };
    assert_eq!(all, keys(), "without a delimiter every key comes back, in UTF-8 order");

    let nested =
        s3.list_objects_v2().bucket(&bucket).prefix("b/").delimiter("/").send().await.unwrap();
    let nested: Vec<_> = nested.common_prefixes().iter().filter_map(|p| p.prefix()).collect();
    assert_eq!(nested, ["b/c/"]);

    let after = s3.list_objects_v2().bucket(&bucket).start_after("top-0497").send().await.unwrap();
    let after: Vec<_> = after.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(after, ["top-0498", "top-0499"]);

    let none = s3.list_objects_v2().bucket(&bucket).max_keys(0).send().await.unwrap();
    assert!(none.contents().is_empty());
    assert_eq!(none.is_truncated(), Some(false));
}

#[tokio::test]
async fn v1_pages_with_markers_and_reports_owner() {
    let node = TestNode::start().await;
    let bucket = filled_bucket(&node).await;
    let s3 = node.client();
    let mut marker: Option<String> = None;
    let mut seen = Vec::new();
    loop {
        let page = s3
            .list_objects()
            .bucket(&bucket)
            .max_keys(400)
            .set_marker(marker.clone())
            .send()
            .await
            .unwrap();
        let keys: Vec<_> =
            page.contents().iter().filter_map(|o| o.key().map(str::to_owned)).collect();
        assert!(
            page.contents()
                .iter()
                .all(|o| o.owner().is_some() && o.size() == Some(o.key().unwrap().len() as i64))
        );
        seen.extend(keys.iter().cloned());
        if page.is_truncated() != Some(true) {
            break;
        }
        marker = page.next_marker().map(str::to_owned).or_else(|| keys.last().cloned());
    }
    assert_eq!(seen, keys());

    let page = s3.list_objects().bucket(&bucket).delimiter("/").max_keys(2).send().await.unwrap();
    let prefixes: Vec<_> = page.common_prefixes().iter().filter_map(|p| p.prefix()).collect();
    assert_eq!(prefixes, ["a/", "b/"]);
    assert_eq!(page.is_truncated(), Some(true));
    assert_eq!(page.next_marker(), Some("b/"));
    let next = s3
        .list_objects()
        .bucket(&bucket)
        .delimiter("/")
        .max_keys(2)
        .marker("b/")
        .send()
        .await
        .unwrap();
    let first: Vec<_> = next.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(first, ["top-0000", "top-0001"], "resuming after a common prefix skips all of it");
}

#[tokio::test]
async fn versions_of_an_unversioned_bucket_are_null_and_latest() {
    let node = TestNode::start().await;
    let bucket = filled_bucket(&node).await;
    let s3 = node.client();
    let mut key_marker: Option<String> = None;
    let mut version_marker: Option<String> = None;
    let mut seen = BTreeSet::new();
    loop {
        let page = s3
            .list_object_versions()
            .bucket(&bucket)
            .max_keys(700)
            .set_key_marker(key_marker.clone())
            .set_version_id_marker(version_marker.clone())
            .send()
            .await
            .unwrap();
        for v in page.versions() {
            assert_eq!(v.version_id(), Some("null"));
            assert_eq!(v.is_latest(), Some(true));
            assert!(seen.insert(v.key().unwrap().to_owned()), "duplicate {:?}", v.key());
        }
        assert!(page.delete_markers().is_empty());
        if page.is_truncated() != Some(true) {
            break;
        }
        key_marker = page.next_key_marker().map(str::to_owned);
        version_marker = page.next_version_id_marker().map(str::to_owned);
    }
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), keys());
}

#[tokio::test]
async fn url_encoding_type_round_trips_awkward_keys() {
    let node = TestNode::start().await;
    let s3 = node.client();
    let bucket = bucket_name("enc");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let awkward = ["sp ace/x", "plus+/y", "uni/ü/z", "amp&/w"];
    for k in awkward {
        s3.put_object().bucket(&bucket).key(k).body(b"x".to_vec().into()).send().await.unwrap();
    }
    // The Rust SDK hands url-encoded fields over as sent; decoding them gives the keys back.
    let decode =
        |s: &str| percent_encoding::percent_decode_str(s).decode_utf8().unwrap().into_owned();
    let out =
        s3.list_objects_v2().bucket(&bucket).encoding_type(EncodingType::Url).send().await.unwrap();
    let raw: Vec<_> = out.contents().iter().filter_map(|o| o.key()).collect();
    assert!(raw.contains(&"sp%20ace/x") && raw.contains(&"plus%2B/y"), "{raw:?}");
    let mut got: Vec<_> = raw.iter().map(|k| decode(k)).collect();
    got.sort_unstable();
    let mut want: Vec<_> = awkward.iter().map(|k| (*k).to_owned()).collect();
    want.sort_unstable();
    assert_eq!(got, want);
    let out = s3
        .list_objects_v2()
        .bucket(&bucket)
        .delimiter("/")
        .encoding_type(EncodingType::Url)
        .send()
        .await
        .unwrap();
    let mut prefixes: Vec<_> =
        out.common_prefixes().iter().filter_map(|p| p.prefix()).map(decode).collect();
    prefixes.sort_unstable();
    assert_eq!(prefixes, ["amp&/", "plus+/", "sp ace/", "uni/"]);
}

#[tokio::test]
async fn bad_list_arguments_are_rejected() {
    let node = TestNode::start().await;
    let s3 = node.client();
    let bucket = bucket_name("badlist");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let err = s3
        .list_objects_v2()
        .bucket(&bucket)
        .continuation_token("%%%not-a-token")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.into_service_error().meta().code(), Some("InvalidArgument"));
    let err = s3.list_objects_v2().bucket(&bucket).max_keys(-1).send().await.unwrap_err();
    assert_eq!(err.into_service_error().meta().code(), Some("InvalidArgument"));
}
