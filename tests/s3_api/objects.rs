//! Object operations: round trips of every size class, metadata, ranges, conditionals,
//! checksums, awkward keys, overwrite and delete, restart persistence.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ChecksumAlgorithm;
use md5::{Digest, Md5};

use crate::common::{TestNode, bucket_name, pattern};

async fn get_bytes(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Vec<u8> {
    let out = s3.get_object().bucket(bucket).key(key).send().await.unwrap();
    out.body.collect().await.unwrap().into_bytes().to_vec()
}

#[tokio::test]
async fn round_trip_inline_block_boundary_and_multi_block_bodies() {
    let node = TestNode::start().await;
    let s3 = node.client();
    let bucket = bucket_name("sizes");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    for (i, size) in [0usize, 1, 65_536, 65_537, 1 << 20, (1 << 20) + 1, 3 * (1 << 20) + 17]
        .into_iter()
        .enumerate()
    {
        let body = pattern(size, i as u64 + 1);
        let key = format!("obj-{size}");
        let put = s3
            .put_object()
            .bucket(&bucket)
            .key(&key)
            .body(body.clone().into())
            .send()
            .await
            .unwrap();
        let md5 = hex::encode(Md5::digest(&body));
        assert_eq!(put.e_tag(), Some(format!("\"{md5}\"").as_str()), "size {size}");
        let got = get_bytes(&s3, &bucket, &key).await;
        assert_eq!(got.len(), size);
        assert!(got == body, "body of size {size} differs");
        let head = s3.head_object().bucket(&bucket).key(&key).send().await.unwrap();
        assert_eq!(head.content_length(), Some(size as i64));
    }
}

#[tokio::test]
async fn metadata_and_content_headers_come_back() {
    let node = TestNode::start().await;
    let s3 = node.client();
    let bucket = bucket_name("meta");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    s3.put_object()
        .bucket(&bucket)
        .key("doc.txt")
        .body(b"hello".to_vec().into())
        .content_type("text/plain")
        .content_encoding("identity")
        .content_disposition("attachment; filename=\"doc.txt\"")
        .content_language("en")
        .cache_control("max-age=60")
        .metadata("color", "blue")
        .metadata("shape", "round")
        .send()
        .await
        .unwrap();
    let head = s3.head_object().bucket(&bucket).key("doc.txt").send().await.unwrap();
    assert_eq!(head.content_type(), Some("text/plain"));
    assert_eq!(head.content_encoding(), Some("identity"));
    assert_eq!(head.content_disposition(), Some("attachment; filename=\"doc.txt\""));
    assert_eq!(head.content_language(), Some("en"));
    assert_eq!(head.cache_control(), Some("max-age=60"));
    let meta = head.metadata().unwrap();
    assert_eq!(meta.get("color").map(String::as_str), Some("blue"));
    assert_eq!(meta.get("shape").map(String::as_str), Some("round"));
    assert!(head.last_modified().is_some());

    let overridden = s3
        .get_object()
        .bucket(&bucket)
        .key("doc.txt")
        .response_content_type("application/json")
        .response_cache_control("no-cache")
        .send()
        .await
        .unwrap();
    assert_eq!(overridden.content_type(), Some("application/json"));
    assert_eq!(overridden.cache_control(), Some("no-cache"));
}

#[tokio::test]
async fn range_reads_return_206_with_content_range() {
    let node = TestNode::start_with(|c| {
        c.block_size_bytes = 4096;
        c.inline_max_bytes = 1024;
    })
    .await;
    let s3 = node.client();
    let bucket = bucket_name("range");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let body = pattern(10_000, 3);
    s3.put_object().bucket(&bucket).key("r").body(body.clone().into()).send().await.unwrap();
    for (range, lo, hi) in [
        ("bytes=0-0", 0, 0),
        ("bytes=4090-8200", 4090, 8200),
        ("bytes=9000-", 9000, 9999),
        ("bytes=-100", 9900, 9999),
        ("bytes=5000-20000", 5000, 9999),
    ] {
        let out = s3.get_object().bucket(&bucket).key("r").range(range).send().await.unwrap();
        assert_eq!(out.content_range(), Some(format!("bytes {lo}-{hi}/10000").as_str()), "{range}");
        let got = out.body.collect().await.unwrap().into_bytes();
        assert_eq!(&got[..], &body[lo..=hi], "{range}");
    }
    let err =
        s3.get_object().bucket(&bucket).key("r").range("bytes=10000-").send().await.unwrap_err();
    let raw = err.raw_response().unwrap();
    assert_eq!(raw.status().as_u16(), 416);
    assert_eq!(raw.headers().get("content-range"), Some("bytes */10000"));
    assert_eq!(err.into_service_error().meta().code(), Some("InvalidRange"));
}

#[tokio::test]
async fn conditional_gets_answer_304_and_412() {
    let node = TestNode::start().await;
    let s3 = node.client();
    let bucket = bucket_name("cond");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let put =
        s3.put_object().bucket(&bucket).key("c").body(b"abc".to_vec().into()).send().await.unwrap();
    let etag = put.e_tag().unwrap().to_owned();
    s3.get_object().bucket(&bucket).key("c").if_match(&etag).send().await.unwrap();
    let err =
        s3.get_object().bucket(&bucket).key("c").if_match("\"nope\"").send().await.unwrap_err();
    assert_eq!(err.raw_response().unwrap().status().as_u16(), 412);
    let err =
        s3.get_object().bucket(&bucket).key("c").if_none_match(&etag).send().await.unwrap_err();
    let raw = err.raw_response().unwrap();
    assert_eq!(raw.status().as_u16(), 304);
    assert_eq!(raw.headers().get("etag"), Some(etag.as_str()), "a 304 names the version");
    assert!(raw.headers().get("last-modified").is_some());
    let future = aws_smithy_types::DateTime::from_secs(4_000_000_000);
    let err = s3
        .head_object()
        .bucket(&bucket)
        .key("c")
        .if_modified_since(future)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.raw_response().unwrap().status().as_u16(), 304);
    let past = aws_smithy_types::DateTime::from_secs(1_000_000_000);
    let err = s3
        .get_object()
        .bucket(&bucket)
        .key("c")
        .if_unmodified_since(past)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.raw_response().unwrap().status().as_u16(), 412);
}

#[tokio::test]
async fn additional_checksums_are_verified_stored_and_returned() {
    let node = TestNode::start().await;
    let s3 = node.client();
    let bucket = bucket_name("sums");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let body = pattern(200_000, 9);
    for algorithm in [
        ChecksumAlgorithm::Crc32,
        ChecksumAlgorithm::Crc32C,
        ChecksumAlgorithm::Crc64Nvme,
        ChecksumAlgorithm::Sha1,
        ChecksumAlgorithm::Sha256,
    ] {
        let key = format!("k-{}", algorithm.as_str());
        s3.put_object()
            .bucket(&bucket)
            .key(&key)
            .checksum_algorithm(algorithm.clone())
            .body(body.clone().into())
            .send()
            .await
            .unwrap();
        let out = s3
            .get_object()
            .bucket(&bucket)
            .key(&key)
            .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
            .send()
            .await
            .unwrap();
        let returned = [
            out.checksum_crc32(),
            out.checksum_crc32_c(),
            out.checksum_crc64_nvme(),
            out.checksum_sha1(),
            out.checksum_sha256(),
        ];
        assert_eq!(returned.iter().flatten().count(), 1, "{algorithm:?}: {returned:?}");
        // The SDK validates the returned checksum against the body it reads.
        assert_eq!(out.body.collect().await.unwrap().into_bytes().len(), body.len());
    }
    let wrong = s3
        .put_object()
        .bucket(&bucket)
        .key("bad")
        .checksum_crc32("AAAAAA==")
        .body(b"data".to_vec().into())
        .send()
        .await
        .unwrap_err();
    assert_eq!(wrong.into_service_error().meta().code(), Some("BadDigest"));
    let missing = s3.head_object().bucket(&bucket).key("bad").send().await.unwrap_err();
    assert_eq!(
        missing.raw_response().unwrap().status().as_u16(),
        404,
        "a rejected PUT must not be visible"
    );
}

#[tokio::test]
async fn a_large_body_hashed_beside_its_upload_has_its_etag_and_checksum() {
    // Past 4 MiB the body's MD5 and checksum move off the request's task: the ETag, the
    // checksum and the refusal of a wrong Content-MD5 are the same as for a small body.
    let node = TestNode::start().await;
    let s3 = node.client();
    let bucket = bucket_name("bighash");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let body = pattern(9 << 20, 41);
    use base64::Engine;
    let b64 = |d: &[u8]| base64::engine::general_purpose::STANDARD.encode(d);
    let sha = b64(&<sha2::Sha256 as sha2::Digest>::digest(&body));
    let put = s3
        .put_object()
        .bucket(&bucket)
        .key("big")
        .content_md5(b64(&Md5::digest(&body)))
        .checksum_sha256(&sha)
        .body(body.clone().into())
        .send()
        .await
        .unwrap();
    assert_eq!(put.e_tag(), Some(format!("\"{}\"", hex::encode(Md5::digest(&body))).as_str()));
    assert_eq!(put.checksum_sha256(), Some(sha.as_str()));
    let got = s3.get_object().bucket(&bucket).key("big").send().await.unwrap();
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), body.as_slice());
    let mut other = body.clone();
    other[8 << 20] ^= 1;
    let err = s3
        .put_object()
        .bucket(&bucket)
        .key("wrong")
        .content_md5(b64(&Md5::digest(&other)))
        .body(body.into())
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.into_service_error().meta().code(), Some("BadDigest"));
    let missing = s3.head_object().bucket(&bucket).key("wrong").send().await.unwrap_err();
    assert_eq!(missing.raw_response().unwrap().status().as_u16(), 404);
}

#[tokio::test]
async fn content_md5_is_verified() {
    let node = TestNode::start().await;
    let s3 = node.client();
    let bucket = bucket_name("md5");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    use base64::Engine;
    let good = base64::engine::general_purpose::STANDARD.encode(Md5::digest(b"payload"));
    s3.put_object()
        .bucket(&bucket)
        .key("ok")
        .content_md5(good)
        .body(b"payload".to_vec().into())
        .send()
        .await
        .unwrap();
    let bad = base64::engine::general_purpose::STANDARD.encode(Md5::digest(b"other"));
    let err = s3
        .put_object()
        .bucket(&bucket)
        .key("no")
        .content_md5(bad)
        .body(b"payload".to_vec().into())
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.into_service_error().meta().code(), Some("BadDigest"));
    let err = s3
        .put_object()
        .bucket(&bucket)
        .key("no")
        .content_md5("not-base64!")
        .body(b"payload".to_vec().into())
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.into_service_error().meta().code(), Some("InvalidDigest"));
}

#[tokio::test]
async fn awkward_keys_round_trip_and_list() {
    let node = TestNode::start().await;
    let s3 = node.client();
    let bucket = bucket_name("keys");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let long = "k".repeat(1024);
    let keys = [
        "with space",
        "plus+sign",
        "percent%20literal",
        "unicode/ß∂ƒ/日本語",
        "../dotdot",
        "a/./b",
        "trailing/",
        "tab\tkey",
        "question?mark",
        "hash#tag",
        "amp&er=sand",
        long.as_str(),
    ];
    for (i, key) in keys.iter().enumerate() {
        s3.put_object()
            .bucket(&bucket)
            .key(*key)
            .body(format!("v{i}").into_bytes().into())
            .send()
            .await
            .unwrap();
    }
    for (i, key) in keys.iter().enumerate() {
        assert_eq!(get_bytes(&s3, &bucket, key).await, format!("v{i}").into_bytes(), "{key:?}");
    }
    let listed = s3.list_objects_v2().bucket(&bucket).send().await.unwrap();
    let mut got: Vec<_> =
        listed.contents().iter().filter_map(|o| o.key()).map(str::to_owned).collect();
    let mut want: Vec<_> = keys.iter().map(|k| (*k).to_owned()).collect();
    want.sort();
    got.sort();
    assert_eq!(got, want);
    let too_long = "k".repeat(1025);
    let err = s3
        .put_object()
        .bucket(&bucket)
        .key(&too_long)
        .body(b"x".to_vec().into())
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.into_service_error().meta().code(), Some("KeyTooLongError"));
}

#[tokio::test]
async fn overwrite_and_delete_reclaim_blocks() {
    let node = TestNode::start_with(|c| {
        c.block_size_bytes = 4096;
        c.inline_max_bytes = 1024;
        c.reclaim_grace = std::time::Duration::ZERO;
    })
    .await;
    let s3 = node.client();
    let bucket = bucket_name("gc");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    s3.put_object().bucket(&bucket).key("o").body(pattern(40_000, 1).into()).send().await.unwrap();
    s3.put_object().bucket(&bucket).key("o").body(pattern(20_000, 2).into()).send().await.unwrap();
    assert_eq!(get_bytes(&s3, &bucket, "o").await, pattern(20_000, 2));
    s3.delete_object().bucket(&bucket).key("o").send().await.unwrap();
    let err = s3.get_object().bucket(&bucket).key("o").send().await.unwrap_err();
    assert_eq!(err.into_service_error().meta().code(), Some("NoSuchKey"));
    // Deleting what is not there is still a success.
    s3.delete_object().bucket(&bucket).key("o").send().await.unwrap();
    s3.delete_object().bucket(&bucket).key("never-existed").send().await.unwrap();
    s3.put_object()
        .bucket(&bucket)
        .key("kept")
        .body(pattern(9_000, 3).into())
        .send()
        .await
        .unwrap();
    drop(s3);
    // The overwritten and the deleted body.
    assert_eq!(node.reclaim_now().await, 2);
    let mut node = node;
    node.stop().await;
    // 9 000 bytes in 4 KiB blocks: exactly the 3 blocks of "kept" remain.
    assert_eq!(
        node.block_count().await,
        3,
        "blocks of overwritten and deleted objects must be reclaimed"
    );
}

#[tokio::test]
async fn acknowledged_objects_survive_a_restart() {
    let mut node = TestNode::start().await;
    let bucket = bucket_name("persist");
    let big = pattern(3 << 20, 5);
    {
        let s3 = node.client();
        s3.create_bucket().bucket(&bucket).send().await.unwrap();
        s3.put_object()
            .bucket(&bucket)
            .key("small")
            .body(b"tiny".to_vec().into())
            .send()
            .await
            .unwrap();
        s3.put_object().bucket(&bucket).key("big").body(big.clone().into()).send().await.unwrap();
    }
    node.restart().await;
    let s3 = node.client();
    assert_eq!(get_bytes(&s3, &bucket, "small").await, b"tiny");
    assert!(get_bytes(&s3, &bucket, "big").await == big);
    let listed = s3.list_objects_v2().bucket(&bucket).send().await.unwrap();
    assert_eq!(listed.key_count(), Some(2));
}

#[tokio::test]
async fn streaming_uploads_from_a_byte_stream() {
    let node = TestNode::start().await;
    let s3 = node.client();
    let bucket = bucket_name("stream");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("upload.bin");
    let body = pattern(5 << 20, 11);
    std::fs::write(&path, &body).unwrap();
    let stream = ByteStream::from_path(&path).await.unwrap();
    s3.put_object().bucket(&bucket).key("file").body(stream).send().await.unwrap();
    assert!(get_bytes(&s3, &bucket, "file").await == body);
}

#[tokio::test]
async fn a_300_mib_object_round_trips_with_its_md5() {
    use std::io::Write;
    let node = TestNode::start().await;
    let s3 = node.client();
    let bucket = bucket_name("big");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.bin");
    let mut expected = Md5::new();
    {
        let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        for i in 0..300u64 {
            let chunk = pattern(1 << 20, i + 1);
            expected.update(&chunk);
            file.write_all(&chunk).unwrap();
        }
        file.flush().unwrap();
    }
    let expected = hex::encode(expected.finalize());
    let body = ByteStream::from_path(&path).await.unwrap();
    let put = s3.put_object().bucket(&bucket).key("big").body(body).send().await.unwrap();
    assert_eq!(put.e_tag(), Some(format!("\"{expected}\"").as_str()));

    let mut out = s3.get_object().bucket(&bucket).key("big").send().await.unwrap();
    assert_eq!(out.content_length(), Some(300 << 20));
    let mut got = Md5::new();
    let mut len = 0usize;
    while let Some(chunk) = out.body.try_next().await.unwrap() {
        len += chunk.len();
        got.update(&chunk);
    }
    assert_eq!(len, 300 << 20);
    assert_eq!(hex::encode(got.finalize()), expected, "downloaded bytes differ from the upload");
}

#[tokio::test]
async fn conditional_writes_create_once_and_replace_only_what_was_read() {
    let node = TestNode::start().await;
    let s3 = node.client();
    let bucket = bucket_name("condput");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let first = s3
        .put_object()
        .bucket(&bucket)
        .key("k")
        .if_none_match("*")
        .body(b"one".to_vec().into())
        .send()
        .await
        .unwrap();
    let err = s3
        .put_object()
        .bucket(&bucket)
        .key("k")
        .if_none_match("*")
        .body(b"two".to_vec().into())
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err.raw_response().unwrap().status().as_u16(),
        412,
        "create-if-absent must not overwrite"
    );
    let err = s3
        .put_object()
        .bucket(&bucket)
        .key("k")
        .if_match("\"0123456789abcdef0123456789abcdef\"")
        .body(b"x".to_vec().into())
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.raw_response().unwrap().status().as_u16(), 412);
    s3.put_object()
        .bucket(&bucket)
        .key("k")
        .if_match(first.e_tag().unwrap())
        .body(b"three".to_vec().into())
        .send()
        .await
        .unwrap();
    assert_eq!(get_bytes(&s3, &bucket, "k").await, b"three");
    let err = s3
        .put_object()
        .bucket(&bucket)
        .key("absent")
        .if_match(first.e_tag().unwrap())
        .body(b"x".to_vec().into())
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.raw_response().unwrap().status().as_u16(), 404);
    // Racing creators: exactly one wins.
    let racers: Vec<_> = (0..8)
        .map(|i| {
            let (s3, bucket) = (s3.clone(), bucket.clone());
            tokio::spawn(async move {
                s3.put_object()
                    .bucket(&bucket)
                    .key("race")
                    .if_none_match("*")
                    .body(format!("r{i}").into_bytes().into())
                    .send()
                    .await
                    .is_ok()
            })
        })
        .collect();
    let mut winners = 0;
    for r in racers {
        winners += usize::from(r.await.unwrap());
    }
    assert_eq!(winners, 1, "exactly one conditional create may succeed");
}
