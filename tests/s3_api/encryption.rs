//! Server-side encryption through aws-sdk-s3: SSE-C needs its key on every read and part, SSE-S3
//! and SSE-KMS decrypt by themselves, a bucket's default applies to writes that ask for none,
//! copies re-encrypt under the destination's choice, and no plaintext reaches the disk.

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    CompletedMultipartUpload, CompletedPart, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use crate::common::{TestNode, bucket_name, pattern};

type HttpResponse = aws_sdk_s3::config::http::HttpResponse;

const KEY: &str = "pO3upElrwuEXSoFwCfnZPdSsmt/xWeFa0N9KgDijwVs=";
const KEY_MD5: &str = "DWygnHRtgiJ77HCm+1rvHw==";
const OTHER_KEY: &str = "6b+WOZ1T3cqZMxgThRcXAQBrS5mXKdDUphvpxptl9/4=";
const OTHER_KEY_MD5: &str = "arxBvwY2V4SiOne6yppVPQ==";

fn status<E>(e: &SdkError<E, HttpResponse>) -> Option<u16> {
    e.raw_response().map(|r| r.status().as_u16())
}

fn code<E: ProvideErrorMetadata>(e: &SdkError<E, HttpResponse>) -> String {
    e.code().unwrap_or_default().to_owned()
}

/// A GetObject of `bucket/key` that gives an SSE-C key `(key, key MD5)`.
fn get_sse_c(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    (customer_key, md5): (&str, &str),
) -> aws_sdk_s3::operation::get_object::builders::GetObjectFluentBuilder {
    s3.get_object()
        .bucket(bucket)
        .key(key)
        .sse_customer_algorithm("AES256")
        .sse_customer_key(customer_key)
        .sse_customer_key_md5(md5)
}

/// Whether any file under `dir` holds `needle`.
fn disk_holds(dir: &std::path::Path, needle: &[u8]) -> bool {
    std::fs::read_dir(dir).unwrap().flatten().any(|entry| {
        let path = entry.path();
        if path.is_dir() {
            return disk_holds(&path, needle);
        }
        std::fs::read(&path).is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle))
    })
}

#[tokio::test]
async fn sse_c_objects_need_their_key_and_never_reach_the_disk_in_the_clear() {
    let node = TestNode::start().await;
    let s3 = node.client();
    let bucket = bucket_name("ssec");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    // Three blocks and a bit, and a plain object as the control of the disk scan.
    let secret = pattern(3 * (1 << 20) + 123, 41);
    let clear = pattern(200_000, 42);
    s3.put_object().bucket(&bucket).key("clear").body(clear.clone().into()).send().await.unwrap();
    let put = s3
        .put_object()
        .bucket(&bucket)
        .key("secret")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(KEY)
        .sse_customer_key_md5(KEY_MD5)
        .body(secret.clone().into())
        .send()
        .await
        .unwrap();
    assert_eq!(put.sse_customer_algorithm(), Some("AES256"));
    assert_eq!(put.sse_customer_key_md5(), Some(KEY_MD5));
    let want_md5 = hex::encode(<md5::Md5 as md5::Digest>::digest(&secret));
    assert_eq!(put.e_tag(), Some(format!("\"{want_md5}\"").as_str()));

    let without = s3.get_object().bucket(&bucket).key("secret").send().await.unwrap_err();
    assert_eq!((status(&without), code(&without).as_str()), (Some(400), "InvalidRequest"));
    let head = s3.head_object().bucket(&bucket).key("secret").send().await.unwrap_err();
    assert_eq!(status(&head), Some(400));
    let wrong =
        get_sse_c(&s3, &bucket, "secret", (OTHER_KEY, OTHER_KEY_MD5)).send().await.unwrap_err();
    assert_eq!((status(&wrong), code(&wrong).as_str()), (Some(403), "AccessDenied"));

    let got = get_sse_c(&s3, &bucket, "secret", (KEY, KEY_MD5)).send().await.unwrap();
    assert_eq!(got.sse_customer_key_md5(), Some(KEY_MD5));
    assert_eq!(got.body.collect().await.unwrap().into_bytes(), secret);
    let range = get_sse_c(&s3, &bucket, "secret", (KEY, KEY_MD5))
        .range("bytes=1048570-2097160")
        .send()
        .await
        .unwrap();
    let bytes = range.body.collect().await.unwrap().into_bytes();
    assert_eq!(bytes, secret[1_048_570..=2_097_160]);

    let plain_with_key = get_sse_c(&s3, &bucket, "clear", (KEY, KEY_MD5)).send().await.unwrap_err();
    assert_eq!(status(&plain_with_key), Some(400));

    assert!(disk_holds(node.dir.path(), &clear[100_000..100_064]), "the scan sees plaintext");
    assert!(!disk_holds(node.dir.path(), &secret[2_000_000..2_000_064]));
    assert!(!disk_holds(node.dir.path(), &B64.decode(KEY).unwrap()), "the key is never stored");
}

#[tokio::test]
async fn sse_s3_and_bucket_default_encryption_survive_a_restart() {
    let mut node = TestNode::start().await;
    let s3 = node.client();
    let bucket = bucket_name("sses3");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let body = pattern(70_000, 7);
    let put = s3
        .put_object()
        .bucket(&bucket)
        .key("a")
        .server_side_encryption(ServerSideEncryption::Aes256)
        .body(body.clone().into())
        .send()
        .await
        .unwrap();
    assert_eq!(put.server_side_encryption(), Some(&ServerSideEncryption::Aes256));

    let missing = s3.get_bucket_encryption().bucket(&bucket).send().await.unwrap_err();
    assert_eq!(
        (status(&missing), code(&missing).as_str()),
        (Some(404), "ServerSideEncryptionConfigurationNotFoundError")
    );
    let rule = ServerSideEncryptionRule::builder()
        .apply_server_side_encryption_by_default(
            ServerSideEncryptionByDefault::builder()
                .sse_algorithm(ServerSideEncryption::Aes256)
                .build()
                .unwrap(),
        )
        .build();
    let config = ServerSideEncryptionConfiguration::builder().rules(rule).build().unwrap();
    s3.put_bucket_encryption()
        .bucket(&bucket)
        .server_side_encryption_configuration(config)
        .send()
        .await
        .unwrap();
    let got = s3.get_bucket_encryption().bucket(&bucket).send().await.unwrap();
    let rules = got.server_side_encryption_configuration().unwrap().rules();
    let applied = rules[0].apply_server_side_encryption_by_default().unwrap();
    assert_eq!(applied.sse_algorithm(), &ServerSideEncryption::Aes256);
    let by_default =
        s3.put_object().bucket(&bucket).key("b").body(body.clone().into()).send().await.unwrap();
    assert_eq!(by_default.server_side_encryption(), Some(&ServerSideEncryption::Aes256));

    node.restart().await;
    let s3 = node.client();
    for key in ["a", "b"] {
        let got = s3.get_object().bucket(&bucket).key(key).send().await.unwrap();
        assert_eq!(got.server_side_encryption(), Some(&ServerSideEncryption::Aes256));
        assert_eq!(got.body.collect().await.unwrap().into_bytes(), body, "{key}");
    }
    assert!(!disk_holds(node.dir.path(), &body[30_000..30_064]));

    let deleted = s3.delete_bucket_encryption().bucket(&bucket).send().await;
    assert!(deleted.is_ok());
    let plain = s3.put_object().bucket(&bucket).key("c").body(body.into()).send().await.unwrap();
    assert_eq!(plain.server_side_encryption(), None);
}

#[tokio::test]
async fn sse_kms_uses_the_named_keys_of_the_keyring() {
    let keyring = tempfile::NamedTempFile::new().unwrap();
    let line = format!("testkey-1 = \"{}\"\n", B64.encode([3u8; 32]));
    std::fs::write(keyring.path(), line).unwrap();
    let path = keyring.path().to_owned();
    let node = TestNode::start_with(|c| c.kms_keyring_file = Some(path)).await;
    let s3 = node.client();
    let bucket = bucket_name("kms");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let body = pattern(5_000, 9);
    let put = s3
        .put_object()
        .bucket(&bucket)
        .key("k")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id("testkey-1")
        .body(body.clone().into())
        .send()
        .await
        .unwrap();
    assert_eq!(put.ssekms_key_id(), Some("testkey-1"));
    let head = s3.head_object().bucket(&bucket).key("k").send().await.unwrap();
    assert_eq!(head.server_side_encryption(), Some(&ServerSideEncryption::AwsKms));
    assert_eq!(head.ssekms_key_id(), Some("testkey-1"));
    let got = s3.get_object().bucket(&bucket).key("k").send().await.unwrap();
    assert_eq!(got.body.collect().await.unwrap().into_bytes(), body);

    let unknown = s3
        .put_object()
        .bucket(&bucket)
        .key("u")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id("not-in-the-keyring")
        .body(body.into())
        .send()
        .await
        .unwrap_err();
    assert_eq!((status(&unknown), code(&unknown).as_str()), (Some(400), "KMS.NotFoundException"));
    let listed = s3.list_objects_v2().bucket(&bucket).send().await.unwrap();
    assert_eq!(listed.key_count(), Some(1), "a refused write stores nothing");
}

#[tokio::test]
async fn multipart_and_copies_carry_the_customer_key() {
    let node = TestNode::start().await;
    let s3 = node.client();
    let bucket = bucket_name("ssecmp");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let created = s3
        .create_multipart_upload()
        .bucket(&bucket)
        .key("mp")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(KEY)
        .sse_customer_key_md5(KEY_MD5)
        .send()
        .await
        .unwrap();
    let upload_id = created.upload_id().unwrap();
    let part = |n: i32, key: &str, md5: &str, data: Vec<u8>| {
        s3.upload_part()
            .bucket(&bucket)
            .key("mp")
            .upload_id(upload_id)
            .part_number(n)
            .sse_customer_algorithm("AES256")
            .sse_customer_key(key)
            .sse_customer_key_md5(md5)
            .body(ByteStream::from(data))
            .send()
    };
    let first = pattern(5 << 20, 1);
    let second = pattern(1 << 20, 2);
    let refused = part(1, OTHER_KEY, OTHER_KEY_MD5, first.clone()).await.unwrap_err();
    assert_eq!(status(&refused), Some(400), "a part under another key");
    let p1 = part(1, KEY, KEY_MD5, first.clone()).await.unwrap();
    let p2 = part(2, KEY, KEY_MD5, second.clone()).await.unwrap();
    let parts = [(1, p1.e_tag()), (2, p2.e_tag())]
        .into_iter()
        .map(|(n, e)| CompletedPart::builder().part_number(n).e_tag(e.unwrap()).build())
        .collect::<Vec<_>>();
    let complete = || {
        s3.complete_multipart_upload()
            .bucket(&bucket)
            .key("mp")
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder().set_parts(Some(parts.clone())).build(),
            )
    };
    let keyless = complete().send().await.unwrap_err();
    assert_eq!(status(&keyless), Some(400), "the completion gives the key too");
    let done = complete()
        .sse_customer_algorithm("AES256")
        .sse_customer_key(KEY)
        .sse_customer_key_md5(KEY_MD5)
        .send()
        .await
        .unwrap();
    assert!(done.e_tag().is_some_and(|e| e.ends_with("-2\"")));
    let whole = [first.clone(), second.clone()].concat();
    let got = get_sse_c(&s3, &bucket, "mp", (KEY, KEY_MD5)).send().await.unwrap();
    assert_eq!(got.body.collect().await.unwrap().into_bytes(), whole);

    // The copy decrypts with the source's key and encrypts under SSE-S3.
    let copied = s3
        .copy_object()
        .bucket(&bucket)
        .key("copy")
        .copy_source(format!("{bucket}/mp"))
        .copy_source_sse_customer_algorithm("AES256")
        .copy_source_sse_customer_key(KEY)
        .copy_source_sse_customer_key_md5(KEY_MD5)
        .server_side_encryption(ServerSideEncryption::Aes256)
        .send()
        .await
        .unwrap();
    assert_eq!(copied.server_side_encryption(), Some(&ServerSideEncryption::Aes256));
    let got = s3.get_object().bucket(&bucket).key("copy").send().await.unwrap();
    assert_eq!(got.body.collect().await.unwrap().into_bytes(), whole);
    let keyless = s3
        .copy_object()
        .bucket(&bucket)
        .key("copy2")
        .copy_source(format!("{bucket}/mp"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&keyless), Some(400), "an SSE-C source needs its key");
}
