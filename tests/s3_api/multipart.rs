//! Multipart uploads through aws-sdk-s3: the whole lifecycle, every error S3 defines for it,
//! part copies, part-number reads, checksums, listings, and reclamation of what is abandoned.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    ChecksumAlgorithm, ChecksumMode, ChecksumType, CompletedMultipartUpload, CompletedPart,
};
use md5::{Digest, Md5};

use crate::common::{TestNode, bucket_name, pattern};

const MIB: usize = 1 << 20;

async fn setup(tag: &str) -> (TestNode, aws_sdk_s3::Client, String) {
    let node = TestNode::start().await;
    let s3 = node.client();
    let bucket = bucket_name(tag);
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    (node, s3, bucket)
}

async fn upload_parts(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    id: &str,
    parts: &[Vec<u8>],
) -> Vec<CompletedPart> {
    let mut done = Vec::new();
    for (i, body) in parts.iter().enumerate() {
        let n = i as i32 + 1;
        let out = s3
            .upload_part()
            .bucket(bucket)
            .key(key)
            .upload_id(id)
            .part_number(n)
            .body(body.clone().into())
            .send()
            .await
            .unwrap();
        done.push(CompletedPart::builder().part_number(n).e_tag(out.e_tag().unwrap()).build());
    }
    done
}

fn multipart_etag(parts: &[Vec<u8>]) -> String {
    let mut all = Md5::new();
    for p in parts {
        all.update(Md5::digest(p));
    }
    format!("\"{}-{}\"", hex::encode(all.finalize()), parts.len())
}

#[tokio::test]
async fn upload_complete_and_read_back_with_the_multipart_etag() {
    let (_node, s3, bucket) = setup("mpu").await;
    let create = s3
        .create_multipart_upload()
        .bucket(&bucket)
        .key("big")
        .content_type("video/mp4")
        .metadata("a", "1")
        .send()
        .await
        .unwrap();
    let id = create.upload_id().unwrap();
    let parts = vec![pattern(5 * MIB, 1), pattern(5 * MIB + 3, 2), pattern(1234, 3)];
    let done = upload_parts(&s3, &bucket, "big", id, &parts).await;
    let complete = s3
        .complete_multipart_upload()
        .bucket(&bucket)
        .key("big")
        .upload_id(id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(done)).build())
        .send()
        .await
        .unwrap();
    assert_eq!(complete.e_tag(), Some(multipart_etag(&parts).as_str()));
    let got = s3.get_object().bucket(&bucket).key("big").send().await.unwrap();
    assert_eq!(got.content_type(), Some("video/mp4"));
    assert_eq!(got.metadata().unwrap().get("a").map(String::as_str), Some("1"));
    assert_eq!(got.e_tag(), Some(multipart_etag(&parts).as_str()));
    assert!(got.body.collect().await.unwrap().into_bytes() == parts.concat()[..]);

    let second = s3.get_object().bucket(&bucket).key("big").part_number(2).send().await.unwrap();
    assert_eq!(second.parts_count(), Some(3));
    assert_eq!(second.content_length(), Some(parts[1].len() as i64));
    assert!(second.body.collect().await.unwrap().into_bytes() == parts[1][..]);
    let head = s3.head_object().bucket(&bucket).key("big").part_number(3).send().await.unwrap();
    assert_eq!(head.content_length(), Some(1234));
    let err = s3.get_object().bucket(&bucket).key("big").part_number(4).send().await.unwrap_err();
    assert_eq!(err.raw_response().unwrap().status().as_u16(), 416);

    // The upload is gone once completed.
    let err = s3.list_parts().bucket(&bucket).key("big").upload_id(id).send().await.unwrap_err();
    assert_eq!(err.into_service_error().meta().code(), Some("NoSuchUpload"));
}

#[tokio::test]
async fn completion_errors_are_the_ones_s3_defines() {
    let (_node, s3, bucket) = setup("mpuerr").await;
    let id = s3
        .create_multipart_upload()
        .bucket(&bucket)
        .key("k")
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_owned();
    let parts = vec![pattern(1000, 1), pattern(1000, 2)];
    let done = upload_parts(&s3, &bucket, "k", &id, &parts).await;
    let complete = |parts: Vec<CompletedPart>| {
        s3.complete_multipart_upload()
            .bucket(&bucket)
            .key("k")
            .upload_id(&id)
            .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
            .send()
    };
    type CompleteError = aws_sdk_s3::error::SdkError<
        aws_sdk_s3::operation::complete_multipart_upload::CompleteMultipartUploadError,
        aws_sdk_s3::config::http::HttpResponse,
    >;
    let code = |e: CompleteError| e.into_service_error().meta().code().map(str::to_owned);
    let small = complete(done.clone()).await.unwrap_err();
    assert_eq!(code(small).as_deref(), Some("EntityTooSmall"));
    let reversed = complete(vec![done[1].clone(), done[0].clone()]).await.unwrap_err();
    assert_eq!(code(reversed).as_deref(), Some("InvalidPartOrder"));
    let wrong_etag = CompletedPart::builder()
        .part_number(1)
        .e_tag("\"0123456789abcdef0123456789abcdef\"")
        .build();
    let err = complete(vec![wrong_etag]).await.unwrap_err();
    assert_eq!(code(err).as_deref(), Some("InvalidPart"));
    let missing = CompletedPart::builder().part_number(9).e_tag(done[0].e_tag().unwrap()).build();
    assert_eq!(code(complete(vec![missing]).await.unwrap_err()).as_deref(), Some("InvalidPart"));
    // One small part alone is fine: the last part has no minimum.
    let first = complete(vec![done[0].clone()]).await.unwrap();
    // A retried completion (the client timed out waiting) gets the same answer.
    let again = complete(vec![done[0].clone()]).await.unwrap();
    assert_eq!(again.e_tag(), first.e_tag());
    s3.put_object().bucket(&bucket).key("k").body(b"newer".to_vec().into()).send().await.unwrap();
    let stale = complete(vec![done[0].clone()]).await.unwrap_err();
    assert_eq!(code(stale).as_deref(), Some("NoSuchUpload"));
    s3.put_object().bucket(&bucket).key("k").body(parts[0].clone().into()).send().await.unwrap();
    let got = s3.get_object().bucket(&bucket).key("k").send().await.unwrap();
    assert!(got.body.collect().await.unwrap().into_bytes() == parts[0][..]);

    let err = s3
        .upload_part()
        .bucket(&bucket)
        .key("k")
        .upload_id("nope")
        .part_number(1)
        .body(b"x".to_vec().into())
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.into_service_error().meta().code(), Some("NoSuchUpload"));
    let err = s3
        .upload_part()
        .bucket(&bucket)
        .key("k")
        .upload_id(&id)
        .part_number(10_001)
        .body(b"x".to_vec().into())
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        err.into_service_error().meta().code(),
        Some("InvalidArgument" | "NoSuchUpload")
    ));
}

#[tokio::test]
async fn abort_removes_the_upload_and_reclaims_its_blocks() {
    let mut node = TestNode::start_with(|c| c.reclaim_grace = std::time::Duration::ZERO).await;
    let s3 = node.client();
    let bucket = bucket_name("abort");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let id = s3
        .create_multipart_upload()
        .bucket(&bucket)
        .key("k")
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_owned();
    upload_parts(&s3, &bucket, "k", &id, &[pattern(3 * MIB, 1), pattern(MIB, 2)]).await;
    // Re-uploading part 1 replaces it; its first body must be reclaimed too.
    upload_parts(&s3, &bucket, "k", &id, &[pattern(2 * MIB, 9)]).await;
    s3.abort_multipart_upload().bucket(&bucket).key("k").upload_id(&id).send().await.unwrap();
    let err = s3.list_parts().bucket(&bucket).key("k").upload_id(&id).send().await.unwrap_err();
    assert_eq!(err.into_service_error().meta().code(), Some("NoSuchUpload"));
    // A retried abort (the client timed out waiting for the first) gets the first's answer.
    s3.abort_multipart_upload().bucket(&bucket).key("k").upload_id(&id).send().await.unwrap();
    let err = s3
        .abort_multipart_upload()
        .bucket(&bucket)
        .key("k")
        .upload_id("never-created")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.into_service_error().meta().code(), Some("NoSuchUpload"));
    drop(s3);
    // The replaced part 1 and the aborted parts 1 and 2.
    assert_eq!(node.reclaim_now().await, 3);
    node.stop().await;
    assert_eq!(node.block_count().await, 0, "aborted and replaced parts must leave no blocks");
}

#[tokio::test]
async fn list_parts_and_uploads_paginate() {
    let (_node, s3, bucket) = setup("mpulist").await;
    let mut ids = Vec::new();
    for key in ["a/1", "a/2", "b", "b", "c"] {
        ids.push(
            s3.create_multipart_upload()
                .bucket(&bucket)
                .key(key)
                .send()
                .await
                .unwrap()
                .upload_id()
                .unwrap()
                .to_owned(),
        );
    }
    let parts: Vec<_> = (0..5).map(|i| pattern(100 + i, i as u64)).collect();
    upload_parts(&s3, &bucket, "c", &ids[4], &parts).await;
    let page = s3
        .list_parts()
        .bucket(&bucket)
        .key("c")
        .upload_id(&ids[4])
        .max_parts(2)
        .send()
        .await
        .unwrap();
    assert_eq!(page.parts().iter().map(|p| p.part_number().unwrap()).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(page.is_truncated(), Some(true));
    let next = s3
        .list_parts()
        .bucket(&bucket)
        .key("c")
        .upload_id(&ids[4])
        .part_number_marker(page.next_part_number_marker().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        next.parts().iter().map(|p| p.part_number().unwrap()).collect::<Vec<_>>(),
        [3, 4, 5]
    );
    assert_eq!(next.parts()[0].size(), Some(102));

    let mut seen = Vec::new();
    let (mut key_marker, mut id_marker) = (None::<String>, None::<String>);
    loop {
        let page = s3
            .list_multipart_uploads()
            .bucket(&bucket)
            .max_uploads(2)
            .set_key_marker(key_marker.clone())
            .set_upload_id_marker(id_marker.clone())
            .send()
            .await
            .unwrap();
        seen.extend(
            page.uploads()
                .iter()
                .map(|u| (u.key().unwrap().to_owned(), u.upload_id().unwrap().to_owned())),
        );
        if page.is_truncated() != Some(true) {
            break;
        }
        key_marker = page.next_key_marker().map(str::to_owned);
        id_marker = page.next_upload_id_marker().map(str::to_owned);
    }
    let keys: Vec<_> = seen.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["a/1", "a/2", "b", "b", "c"]);
    assert_eq!(seen[2].1, ids[2], "uploads of one key come in the order they began");

    let rolled = s3.list_multipart_uploads().bucket(&bucket).delimiter("/").send().await.unwrap();
    let prefixes: Vec<_> = rolled.common_prefixes().iter().filter_map(|p| p.prefix()).collect();
    assert_eq!(prefixes, ["a/"]);
    assert_eq!(rolled.uploads().len(), 3);
}

#[tokio::test]
async fn upload_part_copy_copies_ranges_of_an_object() {
    let (_node, s3, bucket) = setup("partcopy").await;
    let source = pattern(7 * MIB, 4);
    s3.put_object().bucket(&bucket).key("src").body(source.clone().into()).send().await.unwrap();
    let id = s3
        .create_multipart_upload()
        .bucket(&bucket)
        .key("dst")
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_owned();
    let first = s3
        .upload_part_copy()
        .bucket(&bucket)
        .key("dst")
        .upload_id(&id)
        .part_number(1)
        .copy_source(format!("{bucket}/src"))
        .copy_source_range(format!("bytes=0-{}", 5 * MIB - 1))
        .send()
        .await
        .unwrap();
    let second = s3
        .upload_part_copy()
        .bucket(&bucket)
        .key("dst")
        .upload_id(&id)
        .part_number(2)
        .copy_source(format!("{bucket}/src"))
        .copy_source_range(format!("bytes={}-{}", 5 * MIB, 7 * MIB - 1))
        .send()
        .await
        .unwrap();
    let parts = vec![
        CompletedPart::builder()
            .part_number(1)
            .e_tag(first.copy_part_result().unwrap().e_tag().unwrap())
            .build(),
        CompletedPart::builder()
            .part_number(2)
            .e_tag(second.copy_part_result().unwrap().e_tag().unwrap())
            .build(),
    ];
    s3.complete_multipart_upload()
        .bucket(&bucket)
        .key("dst")
        .upload_id(&id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
        .send()
        .await
        .unwrap();
    let got = s3.get_object().bucket(&bucket).key("dst").send().await.unwrap();
    assert!(got.body.collect().await.unwrap().into_bytes() == source[..]);
    let err = s3
        .upload_part_copy()
        .bucket(&bucket)
        .key("dst")
        .upload_id("none")
        .part_number(1)
        .copy_source(format!("{bucket}/src"))
        .copy_source_range(format!("bytes=0-{}", 8 * MIB))
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        err.into_service_error().meta().code(),
        Some("InvalidRange" | "NoSuchUpload")
    ));
}

#[tokio::test]
async fn composite_and_full_object_checksums() {
    let (_node, s3, bucket) = setup("mpusum").await;
    let parts = [pattern(5 * MIB, 1), pattern(100, 2)];
    for (key, kind) in [("composite", ChecksumType::Composite), ("full", ChecksumType::FullObject)]
    {
        let create = s3
            .create_multipart_upload()
            .bucket(&bucket)
            .key(key)
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .checksum_type(kind.clone())
            .send()
            .await
            .unwrap();
        let id = create.upload_id().unwrap();
        let mut done = Vec::new();
        for (i, body) in parts.iter().enumerate() {
            let n = i as i32 + 1;
            let out = s3
                .upload_part()
                .bucket(&bucket)
                .key(key)
                .upload_id(id)
                .part_number(n)
                .checksum_algorithm(ChecksumAlgorithm::Crc32)
                .body(body.clone().into())
                .send()
                .await
                .unwrap();
            assert!(out.checksum_crc32().is_some(), "part checksums come back");
            done.push(
                CompletedPart::builder()
                    .part_number(n)
                    .e_tag(out.e_tag().unwrap())
                    .set_checksum_crc32(out.checksum_crc32().map(str::to_owned))
                    .build(),
            );
        }
        let complete = s3
            .complete_multipart_upload()
            .bucket(&bucket)
            .key(key)
            .upload_id(id)
            .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(done)).build())
            .send()
            .await
            .unwrap();
        let value = complete.checksum_crc32().unwrap().to_owned();
        let got = s3
            .get_object()
            .bucket(&bucket)
            .key(key)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .unwrap();
        assert_eq!(got.checksum_crc32(), Some(value.as_str()));
        if kind == ChecksumType::Composite {
            assert!(value.ends_with("-2"), "{value}");
        } else {
            use base64::Engine;
            let whole = crc32fast::hash(&parts.concat());
            assert_eq!(
                value,
                base64::engine::general_purpose::STANDARD.encode(whole.to_be_bytes())
            );
        }
        // The SDK validates FULL_OBJECT checksums against the body as it reads it.
        assert!(got.body.collect().await.unwrap().into_bytes() == parts.concat()[..]);
    }
}

#[tokio::test]
async fn uploads_survive_a_restart_and_complete_afterwards() {
    let mut node = TestNode::start().await;
    let bucket = bucket_name("mpurestart");
    let parts = [pattern(5 * MIB, 7), pattern(10, 8)];
    let (id, first) = {
        let s3 = node.client();
        s3.create_bucket().bucket(&bucket).send().await.unwrap();
        let id = s3
            .create_multipart_upload()
            .bucket(&bucket)
            .key("k")
            .send()
            .await
            .unwrap()
            .upload_id()
            .unwrap()
            .to_owned();
        let first = upload_parts(&s3, &bucket, "k", &id, &parts[..1]).await;
        (id, first)
    };
    node.restart().await;
    let s3 = node.client();
    let out = s3
        .upload_part()
        .bucket(&bucket)
        .key("k")
        .upload_id(&id)
        .part_number(2)
        .body(parts[1].clone().into())
        .send()
        .await
        .unwrap();
    let mut done = first;
    done.push(CompletedPart::builder().part_number(2).e_tag(out.e_tag().unwrap()).build());
    s3.complete_multipart_upload()
        .bucket(&bucket)
        .key("k")
        .upload_id(&id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(done)).build())
        .send()
        .await
        .unwrap();
    let got = s3.get_object().bucket(&bucket).key("k").send().await.unwrap();
    assert!(got.body.collect().await.unwrap().into_bytes() == parts.concat()[..]);
}

#[tokio::test]
async fn a_streamed_upload_in_many_parts_round_trips() {
    let (_node, s3, bucket) = setup("mpustream").await;
    let dir = tempfile::tempdir().unwrap();
    let id = s3
        .create_multipart_upload()
        .bucket(&bucket)
        .key("f")
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_owned();
    let mut expected = Md5::new();
    let mut done = Vec::new();
    for n in 1..=6 {
        let body = pattern(5 * MIB, n);
        expected.update(&body);
        let path = dir.path().join(format!("p{n}"));
        std::fs::write(&path, &body).unwrap();
        let out = s3
            .upload_part()
            .bucket(&bucket)
            .key("f")
            .upload_id(&id)
            .part_number(n as i32)
            .body(ByteStream::from_path(&path).await.unwrap())
            .send()
            .await
            .unwrap();
        done.push(
            CompletedPart::builder().part_number(n as i32).e_tag(out.e_tag().unwrap()).build(),
        );
    }
    s3.complete_multipart_upload()
        .bucket(&bucket)
        .key("f")
        .upload_id(&id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(done)).build())
        .send()
        .await
        .unwrap();
    let mut got = s3.get_object().bucket(&bucket).key("f").send().await.unwrap();
    let mut md5 = Md5::new();
    while let Some(chunk) = got.body.try_next().await.unwrap() {
        md5.update(&chunk);
    }
    assert_eq!(md5.finalize(), expected.finalize());
}
