//! Bucket versioning on one node, through the SDK: version ids, GET/HEAD/DELETE/copy by
//! version, delete markers, the null version across enable and suspend, ListObjectVersions
//! with its markers, and the bodies of deleted versions reclaimed.

use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};

use crate::common::{TestNode, bucket_name};

fn status<E>(err: &aws_sdk_s3::error::SdkError<E>) -> u16 {
    err.raw_response().map_or(0, |r| r.status().as_u16())
}

fn header<E>(err: &aws_sdk_s3::error::SdkError<E>, name: &str) -> Option<String> {
    err.raw_response().and_then(|r| r.headers().get(name)).map(str::to_owned)
}

async fn set_versioning(s3: &aws_sdk_s3::Client, bucket: &str, status: BucketVersioningStatus) {
    let config = VersioningConfiguration::builder().status(status).build();
    s3.put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(config)
        .send()
        .await
        .unwrap();
}

async fn put(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, body: &[u8]) -> Option<String> {
    let out =
        s3.put_object().bucket(bucket).key(key).body(body.to_vec().into()).send().await.unwrap();
    out.version_id().map(str::to_owned)
}

async fn body_of(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, version: &str) -> Vec<u8> {
    let got = s3.get_object().bucket(bucket).key(key).version_id(version).send().await.unwrap();
    assert_eq!(got.version_id(), Some(version));
    got.body.collect().await.unwrap().into_bytes().to_vec()
}

/// (key, version id, is latest, is a delete marker), in listing order.
async fn versions(s3: &aws_sdk_s3::Client, bucket: &str) -> Vec<(String, String, bool, bool)> {
    let out = s3.list_object_versions().bucket(bucket).send().await.unwrap();
    let mut all: Vec<(String, String, bool, bool, aws_sdk_s3::primitives::DateTime)> = Vec::new();
    for v in out.versions() {
        let (k, id) = (v.key().unwrap().to_owned(), v.version_id().unwrap().to_owned());
        all.push((k, id, v.is_latest().unwrap(), false, *v.last_modified().unwrap()));
    }
    for m in out.delete_markers() {
        let (k, id) = (m.key().unwrap().to_owned(), m.version_id().unwrap().to_owned());
        all.push((k, id, m.is_latest().unwrap(), true, *m.last_modified().unwrap()));
    }
    // The SDK splits versions and markers; the listing order is key, then newest first.
    all.sort_by(|a, b| a.0.cmp(&b.0).then(b.4.cmp(&a.4)));
    all.into_iter().map(|(k, id, latest, marker, _)| (k, id, latest, marker)).collect()
}

#[tokio::test]
async fn every_write_is_a_version_and_each_reads_back_by_id() {
    let node = TestNode::start().await;
    let s3 = node.client();
    let bucket = bucket_name("vers");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let unversioned = s3.get_bucket_versioning().bucket(&bucket).send().await.unwrap();
    assert_eq!(unversioned.status(), None);
    set_versioning(&s3, &bucket, BucketVersioningStatus::Enabled).await;
    let got = s3.get_bucket_versioning().bucket(&bucket).send().await.unwrap();
    assert_eq!(got.status(), Some(&BucketVersioningStatus::Enabled));

    let mut ids = Vec::new();
    for body in [b"one".as_slice(), b"two", b"three"] {
        ids.push(put(&s3, &bucket, "k", body).await.expect("a version id"));
    }
    assert_eq!(ids.iter().collect::<std::collections::BTreeSet<_>>().len(), 3);
    assert_eq!(body_of(&s3, &bucket, "k", &ids[0]).await, b"one");
    assert_eq!(body_of(&s3, &bucket, "k", &ids[1]).await, b"two");
    let current = s3.get_object().bucket(&bucket).key("k").send().await.unwrap();
    assert_eq!(current.version_id(), Some(ids[2].as_str()));
    let head = s3.head_object().bucket(&bucket).key("k").version_id(&ids[0]).send().await;
    assert_eq!(head.unwrap().content_length(), Some(3));

    let listed = versions(&s3, &bucket).await;
    let expected: Vec<_> = ids
        .iter()
        .rev()
        .enumerate()
        .map(|(i, id)| ("k".to_owned(), id.clone(), i == 0, false))
        .collect();
    assert_eq!(listed, expected, "newest first, only the newest is latest");

    // Bad and unknown version ids.
    let bad = s3.get_object().bucket(&bucket).key("k").version_id("nope").send().await;
    assert_eq!(status(&bad.unwrap_err()), 400);
    let unknown = "00000000000000010000000000000000";
    let missing = s3.get_object().bucket(&bucket).key("k").version_id(unknown).send().await;
    let err = missing.unwrap_err();
    assert_eq!(status(&err), 404);
    assert_eq!(err.into_service_error().meta().code(), Some("NoSuchVersion"));

    // Deleting the current version by id makes the previous one current.
    let deleted = s3.delete_object().bucket(&bucket).key("k").version_id(&ids[2]).send().await;
    assert_eq!(deleted.unwrap().version_id(), Some(ids[2].as_str()));
    let current = s3.get_object().bucket(&bucket).key("k").send().await.unwrap();
    assert_eq!(current.version_id(), Some(ids[1].as_str()));
    // A middle version goes without touching the current one.
    s3.delete_object().bucket(&bucket).key("k").version_id(&ids[0]).send().await.unwrap();
    assert_eq!(versions(&s3, &bucket).await, vec![("k".to_owned(), ids[1].clone(), true, false)]);
}

#[tokio::test]
async fn a_delete_marker_hides_the_object_until_it_is_removed() {
    let node = TestNode::start().await;
    let s3 = node.client();
    let bucket = bucket_name("marker");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    set_versioning(&s3, &bucket, BucketVersioningStatus::Enabled).await;
    let v1 = put(&s3, &bucket, "k", b"kept").await.unwrap();
    put(&s3, &bucket, "other", b"x").await.unwrap();

    let deleted = s3.delete_object().bucket(&bucket).key("k").send().await.unwrap();
    assert_eq!(deleted.delete_marker(), Some(true));
    let marker = deleted.version_id().expect("the marker's version id").to_owned();
    assert_ne!(marker, v1);

    let err = s3.get_object().bucket(&bucket).key("k").send().await.unwrap_err();
    assert_eq!(status(&err), 404);
    assert_eq!(header(&err, "x-amz-delete-marker").as_deref(), Some("true"));
    assert_eq!(header(&err, "x-amz-version-id").as_deref(), Some(marker.as_str()));
    let by_id = s3.get_object().bucket(&bucket).key("k").version_id(&marker).send().await;
    assert_eq!(status(&by_id.unwrap_err()), 405, "GET of a delete marker by id");
    assert_eq!(body_of(&s3, &bucket, "k", &v1).await, b"kept", "older versions stay readable");

    let listed = s3.list_objects_v2().bucket(&bucket).send().await.unwrap();
    let keys: Vec<_> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["other"], "a key whose latest version is a marker is not listed");
    assert_eq!(
        versions(&s3, &bucket).await,
        vec![
            ("k".to_owned(), marker.clone(), true, true),
            ("k".to_owned(), v1.clone(), false, false),
            ("other".to_owned(), versions(&s3, &bucket).await[2].1.clone(), true, false),
        ]
    );
    let not_empty = s3.delete_bucket().bucket(&bucket).send().await.unwrap_err();
    assert_eq!(status(&not_empty), 409);

    let removed = s3.delete_object().bucket(&bucket).key("k").version_id(&marker).send().await;
    assert_eq!(removed.unwrap().delete_marker(), Some(true));
    let back = s3.get_object().bucket(&bucket).key("k").send().await.unwrap();
    assert_eq!(back.version_id(), Some(v1.as_str()));
    let never = s3.get_object().bucket(&bucket).key("never-written").send().await.unwrap_err();
    assert_eq!(status(&never), 404);
    assert_eq!(header(&never, "x-amz-delete-marker").as_deref(), Some("false"));
}

#[tokio::test]
async fn the_null_version_survives_enabling_and_is_replaced_while_suspended() {
    let node = TestNode::start().await;
    let s3 = node.client();
    let bucket = bucket_name("null");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    assert_eq!(put(&s3, &bucket, "k", b"before").await, None, "no version id when unversioned");
    set_versioning(&s3, &bucket, BucketVersioningStatus::Enabled).await;
    let v1 = put(&s3, &bucket, "k", b"enabled").await.unwrap();
    assert_eq!(body_of(&s3, &bucket, "k", "null").await, b"before");
    assert_eq!(
        versions(&s3, &bucket).await,
        vec![
            ("k".to_owned(), v1.clone(), true, false),
            ("k".to_owned(), "null".into(), false, false)
        ]
    );

    set_versioning(&s3, &bucket, BucketVersioningStatus::Suspended).await;
    assert_eq!(put(&s3, &bucket, "k", b"suspended").await, None, "S3 names no null version on PUT");
    assert_eq!(body_of(&s3, &bucket, "k", "null").await, b"suspended");
    assert_eq!(body_of(&s3, &bucket, "k", &v1).await, b"enabled");
    assert_eq!(
        versions(&s3, &bucket).await,
        vec![
            ("k".to_owned(), "null".into(), true, false),
            ("k".to_owned(), v1.clone(), false, false)
        ],
        "the null version was replaced, not added"
    );
    // A delete while suspended: a null delete marker replaces the null version.
    let deleted = s3.delete_object().bucket(&bucket).key("k").send().await.unwrap();
    assert_eq!((deleted.delete_marker(), deleted.version_id()), (Some(true), Some("null")));
    assert_eq!(
        versions(&s3, &bucket).await,
        vec![
            ("k".to_owned(), "null".into(), true, true),
            ("k".to_owned(), v1.clone(), false, false)
        ]
    );
    s3.delete_object().bucket(&bucket).key("k").version_id("null").send().await.unwrap();
    let current = s3.get_object().bucket(&bucket).key("k").send().await.unwrap();
    assert_eq!(current.version_id(), Some(v1.as_str()));
}

#[tokio::test]
async fn version_listings_page_by_key_and_version_markers() {
    let node = TestNode::start().await;
    let s3 = node.client();
    let bucket = bucket_name("vpage");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    set_versioning(&s3, &bucket, BucketVersioningStatus::Enabled).await;
    for key in ["a", "b/x", "b/y", "c"] {
        for i in 0..3 {
            put(&s3, &bucket, key, format!("{key}{i}").as_bytes()).await.unwrap();
        }
    }
    let everything = versions(&s3, &bucket).await;
    assert_eq!(everything.len(), 12);
    let mut paged = Vec::new();
    let (mut key_marker, mut version_marker): (Option<String>, Option<String>) = (None, None);
    loop {
        let mut request = s3.list_object_versions().bucket(&bucket).max_keys(5);
        if let Some(k) = &key_marker {
            request = request.key_marker(k);
        }
        if let Some(v) = &version_marker {
            request = request.version_id_marker(v);
        }
        let page = request.send().await.unwrap();
        assert!(page.versions().len() <= 5);
        for v in page.versions() {
            paged.push((v.key().unwrap().to_owned(), v.version_id().unwrap().to_owned()));
        }
        if !page.is_truncated().unwrap() {
            break;
        }
        key_marker = page.next_key_marker().map(str::to_owned);
        version_marker = page.next_version_id_marker().map(str::to_owned);
    }
    let all: Vec<_> = everything.iter().map(|(k, v, _, _)| (k.clone(), v.clone())).collect();
    assert_eq!(paged, all, "pages cover every version once, in order");

    // A prefix whose only version was deleted (and so holds no version) is not a prefix.
    let gone = put(&s3, &bucket, "gone/x", b"soon deleted").await.unwrap();
    s3.delete_object().bucket(&bucket).key("gone/x").version_id(gone).send().await.unwrap();
    let folded = s3.list_object_versions().bucket(&bucket).delimiter("/").send().await.unwrap();
    let prefixes: Vec<_> = folded.common_prefixes().iter().filter_map(|p| p.prefix()).collect();
    assert_eq!(prefixes, ["b/"]);
    assert_eq!(folded.versions().len(), 6, "a and c, three versions each");
}

#[tokio::test]
async fn copies_and_multipart_uploads_make_versions_and_deleted_bodies_are_reclaimed() {
    let node = TestNode::start_with(|c| c.reclaim_grace = std::time::Duration::ZERO).await;
    let s3 = node.client();
    let bucket = bucket_name("vcopy");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    set_versioning(&s3, &bucket, BucketVersioningStatus::Enabled).await;
    let big = crate::common::pattern(3 << 20, 5);
    let v1 = put(&s3, &bucket, "src", &big).await.unwrap();
    put(&s3, &bucket, "src", b"small now").await.unwrap();

    let copied = s3
        .copy_object()
        .bucket(&bucket)
        .key("dst")
        .copy_source(format!("{bucket}/src?versionId={v1}"))
        .send()
        .await
        .unwrap();
    assert_eq!(copied.copy_source_version_id(), Some(v1.as_str()));
    let dst_version = copied.version_id().expect("the copy is a version").to_owned();
    assert_eq!(body_of(&s3, &bucket, "dst", &dst_version).await, big);

    let upload = s3.create_multipart_upload().bucket(&bucket).key("mp").send().await.unwrap();
    let upload_id = upload.upload_id().unwrap();
    let part = s3
        .upload_part()
        .bucket(&bucket)
        .key("mp")
        .upload_id(upload_id)
        .part_number(1)
        .body(b"part".to_vec().into())
        .send()
        .await
        .unwrap();
    let parts = aws_sdk_s3::types::CompletedMultipartUpload::builder()
        .parts(
            aws_sdk_s3::types::CompletedPart::builder()
                .part_number(1)
                .e_tag(part.e_tag().unwrap())
                .build(),
        )
        .build();
    let done = s3
        .complete_multipart_upload()
        .bucket(&bucket)
        .key("mp")
        .upload_id(upload_id)
        .multipart_upload(parts)
        .send()
        .await
        .unwrap();
    let mp_version = done.version_id().expect("a completed upload is a version").to_owned();
    assert_eq!(body_of(&s3, &bucket, "mp", &mp_version).await, b"part");

    // Overwrites keep every body (the versions use them); deleting versions frees them.
    assert_eq!(node.reclaim_now().await, 0, "no body of a live version is reclaimed");
    for (key, version) in [("src", &v1), ("dst", &dst_version)] {
        s3.delete_object().bucket(&bucket).key(key).version_id(version).send().await.unwrap();
    }
    assert_eq!(node.reclaim_now().await, 2, "the two 3 MiB bodies of the deleted versions");
    let gone = s3.get_object().bucket(&bucket).key("src").version_id(&v1).send().await;
    assert_eq!(status(&gone.unwrap_err()), 404);
    assert_eq!(body_of(&s3, &bucket, "mp", &mp_version).await, b"part");
}
