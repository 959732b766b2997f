//! Authentication end to end: every payload mode, presigned URLs and the header-auth errors.
//!
//! Goal: a PUT is stored only when its body is exactly what was signed (or declared, for the
//! unsigned modes), and each authentication failure is the status and code AWS sends, as an
//! XML error whose `RequestId` matches `x-amz-request-id`.
//! Method: requests are signed by the independent signer in `common::raw` and written byte for
//! byte; presigned URLs come from the aws-sdk-s3 presigner. After every rejected PUT, a HEAD
//! through the SDK proves no object (not even a partial one) was created.

use std::time::{Duration, SystemTime};

use aws_sdk_s3::presigning::PresigningConfig;

use crate::common::raw::{
    RawRequest, STREAMING_SIGNED, STREAMING_SIGNED_TRAILER, STREAMING_UNSIGNED_TRAILER, Signer,
    UNSIGNED_PAYLOAD, assert_no_object, aws_chunked, crc32_base64, get_bytes, now, sha256_hex,
    xml_element,
};
use crate::common::{TestNode, bucket_name, pattern};

/// Chunk size for aws-chunked bodies: above S3's 8 KiB minimum for all but the last chunk.
const CHUNK_BYTES: usize = 10_000;

/// A node, an SDK client and a fresh bucket.
async fn setup(tag: &str) -> (TestNode, aws_sdk_s3::Client, String) {
    let node = TestNode::start().await;
    let s3 = node.client();
    let bucket = bucket_name(tag);
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    (node, s3, bucket)
}

fn object_path(bucket: &str, key: &str) -> String {
    format!("/{bucket}/{key}")
}

/// A PUT of `body` signed with `content_sha256` as the payload hash.
fn signed_put(
    node: &TestNode,
    bucket: &str,
    key: &str,
    body: &[u8],
    content_sha256: &str,
) -> RawRequest {
    let mut request = RawRequest::new("PUT", node.addr(), &object_path(bucket, key)).body(body);
    Signer::new().sign(&mut request, content_sha256);
    request
}

/// An aws-chunked PUT in `mode`: the headers are signed, then the body is built from the seed
/// signature. `trailer` is the checksum trailer field, when the mode has one.
fn streaming_put(
    node: &TestNode,
    bucket: &str,
    key: &str,
    payload: &[u8],
    mode: &str,
    trailer: Option<(&str, &str)>,
) -> RawRequest {
    let signer = Signer::new();
    let mut request = RawRequest::new("PUT", node.addr(), &object_path(bucket, key))
        .header("content-encoding", "aws-chunked")
        .header("x-amz-decoded-content-length", &payload.len().to_string());
    if let Some((name, _)) = trailer {
        request = request.header("x-amz-trailer", name);
    }
    let seed = signer.sign(&mut request, mode);
    let signing = (mode != STREAMING_UNSIGNED_TRAILER).then_some((&signer, seed.as_str()));
    let body = aws_chunked(payload, CHUNK_BYTES, signing, trailer);
    request.body(body)
}

/// Flips the first hex digit after the `n`th (0-based) occurrence of `marker` in `body`.
fn flip_after(body: &mut [u8], marker: &str, n: usize) {
    let positions: Vec<usize> = body
        .windows(marker.len())
        .enumerate()
        .filter(|(_, w)| *w == marker.as_bytes())
        .map(|(i, _)| i + marker.len())
        .collect();
    let at = positions[n];
    body[at] = if body[at] == b'0' { b'1' } else { b'0' };
}

#[tokio::test]
async fn signed_payload_hash_is_verified() {
    let (node, s3, bucket) = setup("sha").await;
    let payload = pattern(50_000, 1);

    let response = signed_put(&node, &bucket, "good", &payload, &sha256_hex(&payload)).send().await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert!(get_bytes(&s3, &bucket, "good").await == payload);

    let other = sha256_hex(b"something else");
    let response = signed_put(&node, &bucket, "bad", &payload, &other).send().await;
    response.assert_error(400, "XAmzContentSHA256Mismatch");
    assert_no_object(&s3, &bucket, "bad").await;
}

#[tokio::test]
async fn unsigned_payload_round_trips() {
    let (node, s3, bucket) = setup("unsigned").await;
    let payload = pattern(30_000, 2);
    let response = signed_put(&node, &bucket, "k", &payload, UNSIGNED_PAYLOAD).send().await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert!(get_bytes(&s3, &bucket, "k").await == payload);
}

#[tokio::test]
async fn streaming_signed_payload_round_trips() {
    let (node, s3, bucket) = setup("stream").await;
    // Three full chunks, a short last one, then the final empty chunk.
    let payload = pattern(3 * CHUNK_BYTES + 4_321, 3);
    let request = streaming_put(&node, &bucket, "k", &payload, STREAMING_SIGNED, None);
    let response = request.send().await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert!(get_bytes(&s3, &bucket, "k").await == payload);
    let head = s3.head_object().bucket(&bucket).key("k").send().await.unwrap();
    assert_eq!(head.content_encoding(), None, "aws-chunked is not stored as content-encoding");
}

#[tokio::test]
async fn streaming_signed_payload_rejects_a_tampered_chunk_signature() {
    let (node, s3, bucket) = setup("stream-sig").await;
    let payload = pattern(3 * CHUNK_BYTES + 100, 4);
    let mut request = streaming_put(&node, &bucket, "k", &payload, STREAMING_SIGNED, None);
    flip_after(&mut request.body, "chunk-signature=", 1);
    request.send().await.assert_error(403, "SignatureDoesNotMatch");
    assert_no_object(&s3, &bucket, "k").await;
}

#[tokio::test]
async fn streaming_signed_payload_rejects_tampered_chunk_data() {
    let (node, s3, bucket) = setup("stream-data").await;
    let payload = pattern(3 * CHUNK_BYTES + 100, 5);
    let mut request = streaming_put(&node, &bucket, "k", &payload, STREAMING_SIGNED, None);
    // A byte in the middle of the second chunk's data.
    let second_header_end = {
        let text = &request.body;
        let first_line = text.windows(2).position(|w| w == b"\r\n").unwrap() + 2;
        let second_header = first_line + CHUNK_BYTES + 2;
        text[second_header..].windows(2).position(|w| w == b"\r\n").unwrap() + second_header + 2
    };
    request.body[second_header_end + 500] ^= 0x01;
    request.send().await.assert_error(403, "SignatureDoesNotMatch");
    assert_no_object(&s3, &bucket, "k").await;
}

#[tokio::test]
async fn streaming_unsigned_trailer_checks_the_crc32() {
    let (node, s3, bucket) = setup("trailer").await;
    let payload = pattern(2 * CHUNK_BYTES + 77, 6);
    let crc = crc32_base64(&payload);
    let trailer = Some(("x-amz-checksum-crc32", crc.as_str()));
    let request =
        streaming_put(&node, &bucket, "good", &payload, STREAMING_UNSIGNED_TRAILER, trailer);
    let response = request.send().await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.header("x-amz-checksum-crc32"), Some(crc.as_str()));
    assert!(get_bytes(&s3, &bucket, "good").await == payload);

    let wrong = crc32_base64(b"not the payload");
    let trailer = Some(("x-amz-checksum-crc32", wrong.as_str()));
    let request =
        streaming_put(&node, &bucket, "bad", &payload, STREAMING_UNSIGNED_TRAILER, trailer);
    request.send().await.assert_error(400, "BadDigest");
    assert_no_object(&s3, &bucket, "bad").await;
}

#[tokio::test]
async fn streaming_signed_trailer_round_trips() {
    let (node, s3, bucket) = setup("signed-trailer").await;
    let payload = pattern(2 * CHUNK_BYTES + 999, 7);
    let crc = crc32_base64(&payload);
    let trailer = Some(("x-amz-checksum-crc32", crc.as_str()));
    let request = streaming_put(&node, &bucket, "k", &payload, STREAMING_SIGNED_TRAILER, trailer);
    let response = request.send().await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert!(get_bytes(&s3, &bucket, "k").await == payload);
}

#[tokio::test]
async fn streaming_signed_trailer_rejects_a_tampered_trailer_signature() {
    let (node, s3, bucket) = setup("signed-trailer-bad").await;
    let payload = pattern(2 * CHUNK_BYTES + 999, 8);
    let crc = crc32_base64(&payload);
    let trailer = Some(("x-amz-checksum-crc32", crc.as_str()));
    let mut request =
        streaming_put(&node, &bucket, "k", &payload, STREAMING_SIGNED_TRAILER, trailer);
    flip_after(&mut request.body, "x-amz-trailer-signature:", 0);
    request.send().await.assert_error(403, "SignatureDoesNotMatch");
    assert_no_object(&s3, &bucket, "k").await;
}

fn presign_for(seconds: u64) -> PresigningConfig {
    PresigningConfig::expires_in(Duration::from_secs(seconds)).unwrap()
}

#[tokio::test]
async fn sdk_presigned_get_is_accepted() {
    let (_node, s3, bucket) = setup("presign-get").await;
    let payload = pattern(12_345, 9);
    s3.put_object().bucket(&bucket).key("p").body(payload.clone().into()).send().await.unwrap();
    let presigned =
        s3.get_object().bucket(&bucket).key("p").presigned(presign_for(300)).await.unwrap();
    let mut request = RawRequest::from_url(presigned.method(), presigned.uri());
    for (name, value) in presigned.headers() {
        request.set_header(name, value);
    }
    let response = request.send().await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert!(response.body == payload, "presigned GET returned other bytes");
}

#[tokio::test]
async fn sdk_presigned_put_is_accepted() {
    let (_node, s3, bucket) = setup("presign-put").await;
    let payload = pattern(20_000, 10);
    let presigned =
        s3.put_object().bucket(&bucket).key("p").presigned(presign_for(300)).await.unwrap();
    let mut request = RawRequest::from_url(presigned.method(), presigned.uri());
    for (name, value) in presigned.headers() {
        request.set_header(name, value);
    }
    let response = request.body(payload.clone()).send().await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert!(get_bytes(&s3, &bucket, "p").await == payload);
}

#[tokio::test]
async fn presigned_url_with_a_modified_signature_is_refused() {
    let (_node, s3, bucket) = setup("presign-sig").await;
    s3.put_object().bucket(&bucket).key("p").body(b"x".to_vec().into()).send().await.unwrap();
    let presigned =
        s3.get_object().bucket(&bucket).key("p").presigned(presign_for(300)).await.unwrap();
    let mut url = presigned.uri().to_owned().into_bytes();
    flip_after(&mut url, "X-Amz-Signature=", 0);
    let request = RawRequest::from_url("GET", std::str::from_utf8(&url).unwrap());
    request.send().await.assert_error(403, "SignatureDoesNotMatch");
}

#[tokio::test]
async fn expired_presigned_url_is_refused() {
    let (_node, s3, bucket) = setup("presign-old").await;
    s3.put_object().bucket(&bucket).key("p").body(b"x".to_vec().into()).send().await.unwrap();
    let two_hours_ago = SystemTime::from(now() - chrono::Duration::hours(2));
    let config = PresigningConfig::builder()
        .start_time(two_hours_ago)
        .expires_in(Duration::from_secs(60))
        .build()
        .unwrap();
    let presigned = s3.get_object().bucket(&bucket).key("p").presigned(config).await.unwrap();
    let request = RawRequest::from_url("GET", presigned.uri());
    request.send().await.assert_error(403, "AccessDenied");
}

#[tokio::test]
async fn presigned_expiry_above_seven_days_is_refused() {
    let (node, s3, bucket) = setup("presign-long").await;
    s3.put_object().bucket(&bucket).key("p").body(b"x".to_vec().into()).send().await.unwrap();
    let path = object_path(&bucket, "p");
    let host = node.addr().to_string();
    // Correctly signed: only the lifetime is wrong.
    let query = Signer::new().presigned_query("GET", &host, &path, 604_801);
    let request = RawRequest::new("GET", node.addr(), &path).query(&query);
    request.send().await.assert_error(400, "AuthorizationQueryParametersError");
    // The same URL within the limit is accepted, so the signer is not what failed.
    let query = Signer::new().presigned_query("GET", &host, &path, 604_800);
    let response = RawRequest::new("GET", node.addr(), &path).query(&query).send().await;
    assert_eq!((response.status, response.body), (200, b"x".to_vec()));
}

/// A signed ListObjects of `bucket` by `signer`.
fn signed_list(node: &TestNode, bucket: &str, signer: &Signer) -> RawRequest {
    let mut request = RawRequest::new("GET", node.addr(), &format!("/{bucket}"));
    signer.sign(&mut request, &sha256_hex(b""));
    request
}

#[tokio::test]
async fn header_signature_by_our_signer_is_accepted() {
    let (node, _s3, bucket) = setup("hdr-ok").await;
    let response = signed_list(&node, &bucket, &Signer::new()).send().await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert!(response.text().contains("<ListBucketResult"), "{}", response.text());
}

#[tokio::test]
async fn unknown_access_key_is_invalid_access_key_id() {
    let (node, _s3, bucket) = setup("hdr-key").await;
    let signer = Signer { access_key_id: "RVUNKNOWNKEY00000000".into(), ..Signer::new() };
    signed_list(&node, &bucket, &signer).send().await.assert_error(403, "InvalidAccessKeyId");
}

#[tokio::test]
async fn wrong_secret_is_signature_does_not_match() {
    let (node, _s3, bucket) = setup("hdr-secret").await;
    let signer = Signer { secret_access_key: "not-the-secret".into(), ..Signer::new() };
    signed_list(&node, &bucket, &signer).send().await.assert_error(403, "SignatureDoesNotMatch");
}

#[tokio::test]
async fn skewed_request_time_is_request_time_too_skewed() {
    let (node, _s3, bucket) = setup("hdr-skew").await;
    for minutes in [-20, 20] {
        let signer = Signer { time: now() + chrono::Duration::minutes(minutes), ..Signer::new() };
        let response = signed_list(&node, &bucket, &signer).send().await;
        response.assert_error(403, "RequestTimeTooSkewed");
    }
}

#[tokio::test]
async fn wrong_region_is_authorization_header_malformed_naming_ours() {
    let (node, _s3, bucket) = setup("hdr-region").await;
    let signer = Signer { region: "eu-west-1".into(), ..Signer::new() };
    let response = signed_list(&node, &bucket, &signer).send().await;
    let xml = response.assert_error(400, "AuthorizationHeaderMalformed");
    assert!(xml.contains("<Region>us-east-1</Region>"), "{xml}");
}

#[tokio::test]
async fn anonymous_request_is_access_denied() {
    let (node, s3, bucket) = setup("anon").await;
    s3.put_object().bucket(&bucket).key("k").body(b"x".to_vec().into()).send().await.unwrap();
    let path = object_path(&bucket, "k");
    RawRequest::new("GET", node.addr(), &path).send().await.assert_error(403, "AccessDenied");
    let put = RawRequest::new("PUT", node.addr(), &object_path(&bucket, "anon")).body("hi");
    put.send().await.assert_error(403, "AccessDenied");
    assert_no_object(&s3, &bucket, "anon").await;
}

#[tokio::test]
async fn request_ids_are_unique_per_response() {
    let (node, _s3, bucket) = setup("ids").await;
    let mut seen = Vec::new();
    for _ in 0..3 {
        let xml = RawRequest::new("GET", node.addr(), &format!("/{bucket}"))
            .send()
            .await
            .assert_error(403, "AccessDenied");
        seen.push(xml_element(&xml, "RequestId").unwrap());
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 3, "request ids repeat: {seen:?}");
}
