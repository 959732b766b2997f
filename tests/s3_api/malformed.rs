//! Malformed requests over raw HTTP: broken headers, bodies and framing.
//!
//! Goal: each malformed request gets the status and S3 error code AWS sends, as XML; it leaves
//! nothing behind (no bucket, no object, not even a partial one); and the node keeps serving.
//! Method: the request is written byte for byte by `common::raw` (signed by its independent
//! signer where the signature is not what is broken); then the SDK checks the aftermath.

use crate::common::raw::{
    RawRequest, STREAMING_SIGNED, STREAMING_UNSIGNED_TRAILER, Signer, UNSIGNED_PAYLOAD,
    assert_no_object, aws_chunked, get_bytes, send_then_close, sha256_hex, xml_element,
};
use crate::common::{TestNode, bucket_name, pattern};

const CHUNK_BYTES: usize = 10_000;

async fn setup(tag: &str) -> (TestNode, aws_sdk_s3::Client, String) {
    let node = TestNode::start().await;
    let s3 = node.client();
    let bucket = bucket_name(tag);
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    (node, s3, bucket)
}

/// The node still serves ordinary SDK traffic: a PUT and a GET of a fresh key.
async fn assert_still_serving(s3: &aws_sdk_s3::Client, bucket: &str) {
    let body = pattern(1_000, 99);
    s3.put_object().bucket(bucket).key("alive").body(body.clone().into()).send().await.unwrap();
    assert!(get_bytes(s3, bucket, "alive").await == body, "the node no longer serves");
}

/// An aws-chunked PUT whose headers are signed for `mode` and declare `decoded_length`; the body
/// is built from `payload` and then passed through `mangle`.
fn chunked_put(
    node: &TestNode,
    bucket: &str,
    key: &str,
    mode: &str,
    payload: &[u8],
    decoded_length: usize,
    mangle: impl FnOnce(Vec<u8>) -> Vec<u8>,
) -> RawRequest {
    let signer = Signer::new();
    let mut request = RawRequest::new("PUT", node.addr(), &format!("/{bucket}/{key}"))
        .header("content-encoding", "aws-chunked")
        .header("x-amz-decoded-content-length", &decoded_length.to_string());
    let seed = signer.sign(&mut request, mode);
    let signing = (mode == STREAMING_SIGNED).then_some((&signer, seed.as_str()));
    request.body(mangle(aws_chunked(payload, CHUNK_BYTES, signing, None)))
}

#[tokio::test]
async fn garbage_authorization_header_is_malformed() {
    let (node, s3, bucket) = setup("garbage-auth").await;
    let put = RawRequest::new("PUT", node.addr(), &format!("/{bucket}/k"))
        .header("x-amz-content-sha256", UNSIGNED_PAYLOAD)
        .header("authorization", "AWS4-HMAC-SHA256 garbage")
        .body("payload");
    put.send().await.assert_error(400, "AuthorizationHeaderMalformed");
    assert_no_object(&s3, &bucket, "k").await;
    assert_still_serving(&s3, &bucket).await;
}

#[tokio::test]
async fn create_bucket_with_malformed_xml_is_refused() {
    let (node, s3, bucket) = setup("bad-xml").await;
    let new_bucket = bucket_name("never-created");
    let xml = b"<CreateBucketConfiguration><LocationConstraint>us-east-1</Location";
    let mut request = RawRequest::new("PUT", node.addr(), &format!("/{new_bucket}")).body(&xml[..]);
    Signer::new().sign(&mut request, &sha256_hex(xml));
    request.send().await.assert_error(400, "MalformedXML");
    let err = s3.head_bucket().bucket(&new_bucket).send().await.unwrap_err();
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(404));
    assert_still_serving(&s3, &bucket).await;
}

#[tokio::test]
async fn chunk_size_that_is_not_hex_is_incomplete_body() {
    let (node, s3, bucket) = setup("non-hex").await;
    let payload = pattern(2 * CHUNK_BYTES, 1);
    // The first chunk's size, "2710", becomes "27zz".
    let request =
        chunked_put(&node, &bucket, "k", STREAMING_SIGNED, &payload, payload.len(), |mut b| {
            b[2..4].copy_from_slice(b"zz");
            b
        });
    request.send().await.assert_error(400, "IncompleteBody");
    assert_no_object(&s3, &bucket, "k").await;
    assert_still_serving(&s3, &bucket).await;
}

#[tokio::test]
async fn chunk_data_without_its_crlf_is_incomplete_body() {
    let (node, s3, bucket) = setup("no-crlf").await;
    let payload = pattern(2 * CHUNK_BYTES + 10, 2);
    for mode in [STREAMING_SIGNED, STREAMING_UNSIGNED_TRAILER] {
        let key = format!("k-{mode}");
        let request = chunked_put(&node, &bucket, &key, mode, &payload, payload.len(), |mut b| {
            // Drop the CRLF that closes the first chunk's data.
            let header_end = b.windows(2).position(|w| w == b"\r\n").unwrap() + 2;
            b.drain(header_end + CHUNK_BYTES..header_end + CHUNK_BYTES + 2);
            b
        });
        request.send().await.assert_error(400, "IncompleteBody");
        assert_no_object(&s3, &bucket, &key).await;
    }
    assert_still_serving(&s3, &bucket).await;
}

#[tokio::test]
async fn decoded_length_that_disagrees_with_the_body_is_incomplete_body() {
    let (node, s3, bucket) = setup("decoded-len").await;
    let payload = pattern(2 * CHUNK_BYTES + 500, 3);
    let claims = [("short", payload.len() - 1), ("long", payload.len() + 1), ("zero", 0)];
    for (what, claimed) in claims {
        let request = chunked_put(&node, &bucket, what, STREAMING_SIGNED, &payload, claimed, |b| b);
        request.send().await.assert_error(400, "IncompleteBody");
        assert_no_object(&s3, &bucket, what).await;
    }
    assert_still_serving(&s3, &bucket).await;
}

#[tokio::test]
async fn body_shorter_than_content_length_stores_nothing() {
    let (node, s3, bucket) = setup("truncated").await;
    let mut request = RawRequest::new("PUT", node.addr(), &format!("/{bucket}/k"))
        .header("content-length", "1000");
    Signer::new().sign(&mut request, UNSIGNED_PAYLOAD);
    // Half of what Content-Length announces.
    request.body = pattern(500, 4);
    let response = send_then_close(node.addr(), &request.to_bytes()).await;
    // The server answers the half-closed connection with the error before closing it.
    let response = response.expect("the server closed the connection without answering");
    response.assert_error(400, "IncompleteBody");
    assert_no_object(&s3, &bucket, "k").await;
    assert_still_serving(&s3, &bucket).await;
}

#[tokio::test]
async fn oversized_header_section_is_refused() {
    let (node, s3, bucket) = setup("big-headers").await;
    let big = "v".repeat(20 << 10);
    let mut request = RawRequest::new("PUT", node.addr(), &format!("/{bucket}/k"))
        .header("x-amz-meta-big", &big)
        .body("payload");
    Signer::new().sign(&mut request, UNSIGNED_PAYLOAD);
    let response = request.send().await;
    let code = xml_element(&response.text(), "Code").unwrap_or_default();
    assert!(
        ["RequestHeaderSectionTooLarge", "MetadataTooLarge"].contains(&code.as_str()),
        "unexpected code: {}",
        response.text()
    );
    response.assert_error(400, &code);
    assert_no_object(&s3, &bucket, "k").await;
    assert_still_serving(&s3, &bucket).await;
}

#[tokio::test]
async fn user_metadata_over_two_kib_is_metadata_too_large() {
    let (node, s3, bucket) = setup("big-meta").await;
    let put = |key: &str, value_bytes: usize| {
        let value = "m".repeat(value_bytes);
        let mut request = RawRequest::new("PUT", node.addr(), &format!("/{bucket}/{key}"))
            .header("x-amz-meta-big", &value)
            .body("payload");
        Signer::new().sign(&mut request, UNSIGNED_PAYLOAD);
        request
    };
    // 2 KiB of value alone is over the limit, however the name is counted.
    put("over", 2048).send().await.assert_error(400, "MetadataTooLarge");
    assert_no_object(&s3, &bucket, "over").await;
    // Comfortably under it, however the name is counted.
    let response = put("under", 2000).send().await;
    assert_eq!(response.status, 200, "{}", response.text());
    let head = s3.head_object().bucket(&bucket).key("under").send().await.unwrap();
    assert_eq!(head.metadata().and_then(|m| m.get("big")).map(String::len), Some(2000));
    assert_still_serving(&s3, &bucket).await;
}

#[tokio::test]
async fn put_without_a_length_is_missing_content_length() {
    let (node, s3, bucket) = setup("no-length").await;
    let mut request = RawRequest::new("PUT", node.addr(), &format!("/{bucket}/k"));
    Signer::new().sign(&mut request, UNSIGNED_PAYLOAD);
    assert!(request.headers.iter().all(|(n, _)| n != "content-length" && n != "transfer-encoding"));
    request.send().await.assert_error(411, "MissingContentLength");
    assert_no_object(&s3, &bucket, "k").await;
    assert_still_serving(&s3, &bucket).await;
}

#[tokio::test]
async fn an_unsupported_operation_is_not_implemented_as_xml() {
    let (node, s3, bucket) = setup("select").await;
    s3.put_object()
        .bucket(&bucket)
        .key("src")
        .body(b"source".to_vec().into())
        .send()
        .await
        .unwrap();
    let mut request = RawRequest::new("POST", node.addr(), &format!("/{bucket}/src"))
        .query("select&select-type=2")
        .body(Vec::new());
    Signer::new().sign(&mut request, &sha256_hex(b""));
    request.send().await.assert_error(501, "NotImplemented");
    assert_still_serving(&s3, &bucket).await;
}
