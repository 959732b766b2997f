//! Signature Version 2 end to end: the `AWS AccessKeyId:Signature` header and presigned query
//! strings, as s3cmd, s3fs and boto3 with `signature_version='s3'` send them.
//!
//! Goal: SigV2-signed requests store and read objects exactly as SigV4 ones do, and each
//! authentication failure is the status and code AWS sends.
//! Method: requests are signed by a SigV2 signer written here from the AWS page, independently
//! of `src/s3/auth/sigv2.rs`, and written byte for byte with `common::raw`; buckets are made
//! and results cross-checked through the (SigV4) SDK.
//! Reference: <https://docs.aws.amazon.com/AmazonS3/latest/API/RESTAuthentication.html>

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha1::Sha1;

use crate::common::raw::{RawRequest, assert_no_object, get_bytes, now, send, xml_element};
use crate::common::{ACCESS_KEY_ID, SECRET_ACCESS_KEY, TestNode, bucket_name, pattern};

/// Everything but unreserved characters and `/` is escaped in paths.
const PATH: &AsciiSet =
    &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~').remove(b'/');
/// Query values: `/` escaped too.
const VALUE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// Query parameters S3 counts as sub-resources, among those these tests send.
const SUB_RESOURCES: [&str; 2] = ["response-content-type", "uploads"];

/// A SigV2 signer: who signs, with which secret, and (virtual-hosted style) for which bucket.
struct V2 {
    access_key_id: String,
    secret: String,
    vhost_bucket: Option<String>,
}

impl V2 {
    fn new() -> Self {
        Self {
            access_key_id: ACCESS_KEY_ID.to_owned(),
            secret: SECRET_ACCESS_KEY.to_owned(),
            vhost_bucket: None,
        }
    }

    fn with_secret(secret: &str) -> Self {
        Self { secret: secret.to_owned(), ..Self::new() }
    }

    fn sign(&self, string_to_sign: &str) -> String {
        let mut mac = Hmac::<Sha1>::new_from_slice(self.secret.as_bytes()).unwrap();
        mac.update(string_to_sign.as_bytes());
        BASE64.encode(mac.finalize().into_bytes())
    }

    /// The string to sign; `date_line` is the Date header (empty when x-amz-date is sent) or,
    /// for a presigned URL, Expires.
    fn string_to_sign(&self, request: &RawRequest, date_line: &str) -> String {
        let field = |name: &str| {
            request
                .headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map_or("", |(_, v)| v.trim())
        };
        let mut amz: Vec<(String, String)> = Vec::new();
        for (name, value) in &request.headers {
            let name = name.to_ascii_lowercase();
            if !name.starts_with("x-amz-") {
                continue;
            }
            match amz.iter_mut().find(|(n, _)| *n == name) {
                Some((_, v)) => *v = format!("{v},{}", value.trim()),
                None => amz.push((name, value.trim().to_owned())),
            }
        }
        amz.sort();
        let mut subs: Vec<String> = request
            .query
            .split('&')
            .filter(|p| SUB_RESOURCES.contains(&p.split('=').next().unwrap_or_default()))
            .map(|p| percent_encoding::percent_decode_str(p).decode_utf8().unwrap().into_owned())
            .collect();
        subs.sort();
        let mut s = format!(
            "{}\n{}\n{}\n{date_line}\n",
            request.method,
            field("content-md5"),
            field("content-type")
        );
        for (name, value) in amz {
            s.push_str(&format!("{name}:{value}\n"));
        }
        if let Some(bucket) = &self.vhost_bucket {
            s.push('/');
            s.push_str(bucket);
        }
        s.push_str(&request.path);
        if !subs.is_empty() {
            s.push('?');
            s.push_str(&subs.join("&"));
        }
        s
    }

    /// Adds `Date` (RFC 1123, GMT) for `time` and the `Authorization` header.
    fn sign_header(&self, request: &mut RawRequest, time: DateTime<Utc>) {
        request.set_header("date", &time.format("%a, %d %b %Y %H:%M:%S GMT").to_string());
        self.authorize(request);
    }

    /// Adds `Authorization` over the request's headers as they are.
    fn authorize(&self, request: &mut RawRequest) {
        let amz_date = request.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("x-amz-date"));
        let date = request
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("date"))
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let string_to_sign = self.string_to_sign(request, if amz_date { "" } else { &date });
        let value = format!("AWS {}:{}", self.access_key_id, self.sign(&string_to_sign));
        request.set_header("authorization", &value);
    }

    /// Appends `AWSAccessKeyId`, `Expires` and `Signature` to the request's query.
    fn presign(&self, request: &mut RawRequest, expires_epoch_secs: i64) {
        let expires = expires_epoch_secs.to_string();
        let signature = self.sign(&self.string_to_sign(request, &expires));
        let auth = format!(
            "AWSAccessKeyId={}&Expires={expires}&Signature={}",
            self.access_key_id,
            utf8_percent_encode(&signature, VALUE)
        );
        request.query =
            if request.query.is_empty() { auth } else { format!("{}&{auth}", request.query) };
    }
}

/// A node, an SDK client and a fresh bucket.
async fn setup(tag: &str) -> (TestNode, aws_sdk_s3::Client, String) {
    let node = TestNode::start().await;
    let s3 = node.client();
    let bucket = bucket_name(tag);
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    (node, s3, bucket)
}

fn object_path(bucket: &str, key: &str) -> String {
    format!("/{bucket}/{}", utf8_percent_encode(key, PATH))
}

fn content_md5(body: &[u8]) -> String {
    BASE64.encode(Md5::digest(body))
}

#[tokio::test]
async fn header_signed_put_and_get_round_trip() {
    let (node, s3, bucket) = setup("v2-roundtrip").await;
    let signer = V2::new();
    for (key, seed) in [("plain.bin", 1), ("dir/with space/naïve 日本+%.txt", 2)] {
        let body = pattern(70_000, seed);
        let mut put = RawRequest::new("PUT", node.addr(), &object_path(&bucket, key))
            .header("content-type", "text/plain")
            .header("content-md5", &content_md5(&body))
            .header("x-amz-meta-colour", "blue")
            .header("X-Amz-Meta-Tags", "a")
            .header("x-amz-meta-tags", "b")
            .body(body.clone());
        signer.sign_header(&mut put, now());
        let response = put.send().await;
        assert_eq!(response.status, 200, "{key}: {}", response.text());
        assert_eq!(get_bytes(&s3, &bucket, key).await, body, "{key}");

        let mut get = RawRequest::new("GET", node.addr(), &object_path(&bucket, key));
        signer.sign_header(&mut get, now());
        let response = get.send().await;
        assert_eq!(response.status, 200, "{key}: {}", response.text());
        assert_eq!(response.body, body, "{key}");
        assert_eq!(response.header("content-type"), Some("text/plain"));
        assert_eq!(response.header("x-amz-meta-colour"), Some("blue"));
        assert_eq!(response.header("x-amz-meta-tags"), Some("a,b"));
    }
}

#[tokio::test]
async fn x_amz_date_signs_in_place_of_date_in_s3cmd_form() {
    let (node, s3, bucket) = setup("v2-amzdate").await;
    // s3cmd writes RFC 2822 dates with a numeric zone.
    let date = now().format("%a, %d %b %Y %H:%M:%S +0000").to_string();
    let mut put = RawRequest::new("PUT", node.addr(), &object_path(&bucket, "k"))
        .header("x-amz-date", &date)
        .body(b"hello".to_vec());
    V2::new().authorize(&mut put);
    let response = put.send().await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(get_bytes(&s3, &bucket, "k").await, b"hello");
}

#[tokio::test]
async fn content_md5_is_still_verified() {
    let (node, s3, bucket) = setup("v2-md5").await;
    let mut put = RawRequest::new("PUT", node.addr(), &object_path(&bucket, "k"))
        .header("content-md5", &content_md5(b"something else"))
        .body(b"hello".to_vec());
    V2::new().sign_header(&mut put, now());
    put.send().await.assert_error(400, "BadDigest");
    assert_no_object(&s3, &bucket, "k").await;
}

#[tokio::test]
async fn presigned_put_then_presigned_get() {
    let (node, s3, bucket) = setup("v2-presign").await;
    let signer = V2::new();
    let key = "shared/report 1.txt";
    let expires = now().timestamp() + 300;
    let body = pattern(5_000, 3);

    let mut put = RawRequest::new("PUT", node.addr(), &object_path(&bucket, key))
        .header("content-type", "application/json")
        .body(body.clone());
    signer.presign(&mut put, expires);
    let response = put.send().await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(get_bytes(&s3, &bucket, key).await, body);

    // A response override is a sub-resource: signed, with its value decoded.
    let mut get = RawRequest::new("GET", node.addr(), &object_path(&bucket, key))
        .query("response-content-type=text%2Fcsv");
    signer.presign(&mut get, expires);
    let response = get.send().await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.body, body);
    assert_eq!(response.header("content-type"), Some("text/csv"));
}

#[tokio::test]
async fn list_objects_query_parameters_are_not_signed() {
    let (node, s3, bucket) = setup("v2-list").await;
    for key in ["a/1", "a/b/2", "a/c/3", "z"] {
        s3.put_object().bucket(&bucket).key(key).body(b"x".to_vec().into()).send().await.unwrap();
    }
    for query in ["prefix=a%2F&delimiter=%2F", "list-type=2&prefix=a%2F&delimiter=%2F"] {
        let mut list = RawRequest::new("GET", node.addr(), &format!("/{bucket}")).query(query);
        V2::new().sign_header(&mut list, now());
        let response = list.send().await;
        let xml = response.text();
        assert_eq!(response.status, 200, "{query}: {xml}");
        assert_eq!(xml_element(&xml, "Key").as_deref(), Some("a/1"), "{xml}");
        assert!(xml.contains("<Prefix>a/b/</Prefix>"), "{xml}");
        assert!(xml.contains("<Prefix>a/c/</Prefix>"), "{xml}");
        assert!(!xml.contains("<Key>z</Key>"), "{xml}");
    }
    // botocore signs a bucket-only path as `/bucket/` even when it sends `/bucket`.
    let mut list = RawRequest::new("GET", node.addr(), &format!("/{bucket}/")).query("prefix=a");
    V2::new().sign_header(&mut list, now());
    list.path = format!("/{bucket}");
    let response = list.send().await;
    assert_eq!(response.status, 200, "{}", response.text());
}

#[tokio::test]
async fn wrong_secret_is_signature_does_not_match_with_the_string_to_sign() {
    let (node, s3, bucket) = setup("v2-secret").await;
    let mut put =
        RawRequest::new("PUT", node.addr(), &object_path(&bucket, "k")).body(b"x".to_vec());
    V2::with_secret("not-the-secret").sign_header(&mut put, now());
    let xml = put.send().await.assert_error(403, "SignatureDoesNotMatch");
    let string_to_sign = xml_element(&xml, "StringToSign").unwrap();
    assert!(string_to_sign.starts_with("PUT\n"), "{xml}");
    assert!(string_to_sign.ends_with(&format!("/{bucket}/k")), "{xml}");
    assert!(xml_element(&xml, "StringToSignBytes").unwrap().starts_with("50 55 54 0a"), "{xml}");
    assert_eq!(xml_element(&xml, "AWSAccessKeyId").as_deref(), Some(ACCESS_KEY_ID));
    assert_no_object(&s3, &bucket, "k").await;

    // A valid signature for another path does not carry over.
    let mut get = RawRequest::new("GET", node.addr(), &object_path(&bucket, "k"));
    V2::new().sign_header(&mut get, now());
    get.path = object_path(&bucket, "other");
    get.send().await.assert_error(403, "SignatureDoesNotMatch");
}

#[tokio::test]
async fn unknown_access_key_is_invalid_access_key_id() {
    let (node, _s3, bucket) = setup("v2-key").await;
    let signer = V2 { access_key_id: "RVUNKNOWNKEY00000000".into(), ..V2::new() };
    let mut get = RawRequest::new("GET", node.addr(), &format!("/{bucket}"));
    signer.sign_header(&mut get, now());
    get.send().await.assert_error(403, "InvalidAccessKeyId");

    let mut presigned = RawRequest::new("GET", node.addr(), &format!("/{bucket}"));
    signer.presign(&mut presigned, now().timestamp() + 60);
    presigned.send().await.assert_error(403, "InvalidAccessKeyId");
}

#[tokio::test]
async fn expired_presigned_url_is_access_denied() {
    let (node, s3, bucket) = setup("v2-expired").await;
    s3.put_object().bucket(&bucket).key("p").body(b"x".to_vec().into()).send().await.unwrap();
    let mut get = RawRequest::new("GET", node.addr(), &object_path(&bucket, "p"));
    V2::new().presign(&mut get, now().timestamp() - 10);
    let xml = get.send().await.assert_error(403, "AccessDenied");
    assert_eq!(xml_element(&xml, "Message").as_deref(), Some("Request has expired"), "{xml}");
}

#[tokio::test]
async fn skewed_date_is_request_time_too_skewed() {
    let (node, _s3, bucket) = setup("v2-skew").await;
    for minutes in [-20, 20] {
        let mut get = RawRequest::new("GET", node.addr(), &format!("/{bucket}"));
        V2::new().sign_header(&mut get, now() + chrono::Duration::minutes(minutes));
        get.send().await.assert_error(403, "RequestTimeTooSkewed");
    }
    // Within the 15 minutes allowed.
    let mut get = RawRequest::new("GET", node.addr(), &format!("/{bucket}"));
    V2::new().sign_header(&mut get, now() - chrono::Duration::minutes(10));
    assert_eq!(get.send().await.status, 200);
}

#[tokio::test]
async fn missing_date_is_access_denied() {
    let (node, _s3, bucket) = setup("v2-nodate").await;
    let mut get = RawRequest::new("GET", node.addr(), &format!("/{bucket}"));
    V2::new().authorize(&mut get);
    get.send().await.assert_error(403, "AccessDenied");
}

#[tokio::test]
async fn malformed_header_and_partial_query_are_refused() {
    let (node, _s3, bucket) = setup("v2-malformed").await;
    let get = RawRequest::new("GET", node.addr(), &format!("/{bucket}"))
        .header("date", &now().format("%a, %d %b %Y %H:%M:%S GMT").to_string())
        .header("authorization", "AWS no-colon-here");
    get.send().await.assert_error(400, "InvalidArgument");
    let partial = RawRequest::new("GET", node.addr(), &format!("/{bucket}"))
        .query(&format!("AWSAccessKeyId={ACCESS_KEY_ID}&Signature=abc"));
    partial.send().await.assert_error(403, "AccessDenied");
}

#[tokio::test]
async fn virtual_hosted_requests_sign_the_bucket_from_the_host() {
    const ROOT_DOMAIN: &str = "s3.ringvault.test";
    let node = TestNode::start_with(|c| c.root_domain = Some(ROOT_DOMAIN.to_owned())).await;
    let s3 = node.client();
    let bucket = bucket_name("v2-vhost");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let signer = V2 { vhost_bucket: Some(bucket.clone()), ..V2::new() };
    let vhost = |method: &str, path: &str| {
        let mut request = RawRequest::new(method, node.addr(), path);
        request.set_header("host", &format!("{bucket}.{ROOT_DOMAIN}:{}", node.addr().port()));
        request
    };

    let mut put = vhost("PUT", "/a%20key.txt").body(b"hello vhost".to_vec());
    signer.sign_header(&mut put, now());
    assert_eq!(send(node.addr(), &put.to_bytes()).await.status, 200);
    assert_eq!(get_bytes(&s3, &bucket, "a key.txt").await, b"hello vhost");

    // The bucket root signs as `/bucket/`.
    let mut list = vhost("GET", "/").query("prefix=a");
    signer.sign_header(&mut list, now());
    let listed = send(node.addr(), &list.to_bytes()).await;
    assert_eq!(listed.status, 200, "{}", listed.text());
    assert_eq!(xml_element(&listed.text(), "Key").as_deref(), Some("a key.txt"));

    let mut get = vhost("GET", "/a%20key.txt");
    signer.presign(&mut get, now().timestamp() + 60);
    let got = send(node.addr(), &get.to_bytes()).await;
    assert_eq!(got.status, 200, "{}", got.text());
    assert_eq!(got.body, b"hello vhost");

    // Signing without the bucket prefix, as if path-style, does not match.
    let mut wrong = vhost("GET", "/a%20key.txt");
    V2::new().sign_header(&mut wrong, now());
    send(node.addr(), &wrong.to_bytes()).await.assert_error(403, "SignatureDoesNotMatch");
}
