//! GetObjectAttributes on one node: the attributes asked for and only those, parts listed
//! page by page with their checksums, and the errors of a request that names none.

use aws_sdk_s3::types::{
    ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart, ObjectAttributes,
};

use crate::common::{TestNode, bucket_name, pattern};

#[tokio::test]
async fn attributes_of_single_and_multipart_objects() {
    let node = TestNode::start().await;
    let s3 = node.client();
    let bucket = bucket_name("attrs");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let put = s3.put_object().bucket(&bucket).key("one").body(b"hello".to_vec().into());
    let put = put.checksum_algorithm(ChecksumAlgorithm::Crc32).send().await.unwrap();
    let got = s3
        .get_object_attributes()
        .bucket(&bucket)
        .key("one")
        .object_attributes(ObjectAttributes::Etag)
        .object_attributes(ObjectAttributes::ObjectSize)
        .object_attributes(ObjectAttributes::Checksum)
        .send()
        .await
        .unwrap();
    assert_eq!(got.object_size(), Some(5));
    assert_eq!(Some(got.e_tag().unwrap()), put.e_tag().map(|e| e.trim_matches('"')));
    assert_eq!(got.checksum().and_then(|c| c.checksum_crc32()), put.checksum_crc32());
    assert!(got.object_parts().is_none() && got.storage_class().is_none(), "only what was asked");

    // Three parts with SHA-256 checksums, listed one page at a time.
    let upload = s3
        .create_multipart_upload()
        .bucket(&bucket)
        .key("multi")
        .checksum_algorithm(ChecksumAlgorithm::Sha256)
        .send()
        .await
        .unwrap();
    let id = upload.upload_id().unwrap();
    let mut completed = Vec::new();
    let mut part_sums = Vec::new();
    for n in 1..=3 {
        let body = pattern(if n < 3 { 5 << 20 } else { 1000 }, n as u64);
        let part = s3
            .upload_part()
            .bucket(&bucket)
            .key("multi")
            .upload_id(id)
            .part_number(n)
            .checksum_algorithm(ChecksumAlgorithm::Sha256)
            .body(body.into())
            .send()
            .await
            .unwrap();
        part_sums.push(part.checksum_sha256().unwrap().to_owned());
        completed.push(
            CompletedPart::builder()
                .part_number(n)
                .e_tag(part.e_tag().unwrap())
                .checksum_sha256(part.checksum_sha256().unwrap())
                .build(),
        );
    }
    let done = CompletedMultipartUpload::builder().set_parts(Some(completed)).build();
    let complete = s3.complete_multipart_upload().bucket(&bucket).key("multi").upload_id(id);
    complete.multipart_upload(done).send().await.unwrap();
    let page = s3
        .get_object_attributes()
        .bucket(&bucket)
        .key("multi")
        .object_attributes(ObjectAttributes::ObjectParts)
        .object_attributes(ObjectAttributes::StorageClass)
        .max_parts(1)
        .part_number_marker("1")
        .send()
        .await
        .unwrap();
    let parts = page.object_parts().unwrap();
    assert_eq!(parts.total_parts_count(), Some(3));
    assert_eq!(parts.is_truncated(), Some(true));
    assert_eq!(parts.next_part_number_marker(), Some("2"));
    assert_eq!(parts.parts().len(), 1);
    assert_eq!(parts.parts()[0].part_number(), Some(2));
    assert_eq!(parts.parts()[0].size(), Some(5 << 20));
    assert_eq!(parts.parts()[0].checksum_sha256(), Some(part_sums[1].as_str()));
    assert_eq!(page.storage_class().map(|s| s.as_str()), Some("STANDARD"));

    let none = s3.get_object_attributes().bucket(&bucket).key("one").send().await.unwrap_err();
    assert_eq!(none.raw_response().map(|r| r.status().as_u16()), Some(400));
}
