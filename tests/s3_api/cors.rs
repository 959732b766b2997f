//! CORS on one node: configurations round-trip, preflights are answered from the rules for
//! anyone, and actual responses (errors included) carry the headers the matching rule allows.

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{CorsConfiguration, CorsRule};

use crate::common::raw::RawRequest;
use crate::common::{TestNode, bucket_name};

fn preflight(node: &TestNode, path: &str, origin: &str, method: &str) -> RawRequest {
    RawRequest::new("OPTIONS", node.addr(), path)
        .header("origin", origin)
        .header("access-control-request-method", method)
}

#[tokio::test]
async fn preflights_and_responses_follow_the_buckets_rules() {
    let node = TestNode::start().await;
    let s3 = node.client();
    let bucket = bucket_name("cors");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let path = format!("/{bucket}/k");

    // No configuration: preflights are refused, responses carry nothing.
    let refused = preflight(&node, &path, "https://app.example.com", "PUT").send().await;
    refused.assert_error(403, "AccessForbidden");
    let missing = s3.get_bucket_cors().bucket(&bucket).send().await.unwrap_err();
    assert_eq!(missing.as_service_error().and_then(|e| e.code()), Some("NoSuchCORSConfiguration"));

    let rule = |origin: &str, methods: &[&str]| {
        let mut b = CorsRule::builder().allowed_origins(origin).allowed_headers("x-amz-*");
        for m in methods {
            b = b.allowed_methods(*m);
        }
        b.expose_headers("ETag").max_age_seconds(300).build().unwrap()
    };
    let config = CorsConfiguration::builder()
        .cors_rules(rule("https://*.example.com", &["PUT", "GET"]))
        .cors_rules(rule("*", &["GET"]))
        .build()
        .unwrap();
    s3.put_bucket_cors().bucket(&bucket).cors_configuration(config).send().await.unwrap();
    let got = s3.get_bucket_cors().bucket(&bucket).send().await.unwrap();
    assert_eq!(got.cors_rules().len(), 2);
    assert_eq!(got.cors_rules()[0].allowed_methods(), ["PUT", "GET"]);

    let ok = preflight(&node, &path, "https://app.example.com", "PUT")
        .header("access-control-request-headers", "X-Amz-Date, x-amz-content-sha256")
        .send()
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(ok.header("access-control-allow-origin"), Some("https://app.example.com"));
    assert_eq!(ok.header("access-control-allow-methods"), Some("PUT, GET"));
    assert_eq!(ok.header("access-control-max-age"), Some("300"));
    assert_eq!(ok.header("access-control-allow-headers"), Some("x-amz-date, x-amz-content-sha256"));
    let bad_header = preflight(&node, &path, "https://app.example.com", "PUT")
        .header("access-control-request-headers", "authorization-x")
        .send()
        .await;
    bad_header.assert_error(403, "AccessForbidden");
    assert_eq!(bad_header.header("access-control-allow-origin"), None, "a refused preflight");
    let other_origin = preflight(&node, &path, "https://evil.test", "PUT").send().await;
    other_origin.assert_error(403, "AccessForbidden");
    let any_get = preflight(&node, &path, "https://evil.test", "GET").send().await;
    assert_eq!(any_get.header("access-control-allow-origin"), Some("*"));
    let no_origin = RawRequest::new("OPTIONS", node.addr(), &path)
        .header("access-control-request-method", "GET")
        .send()
        .await;
    no_origin.assert_error(400, "BadRequest");

    // An actual (here anonymous, so refused) request still tells the browser what it may read.
    let denied =
        RawRequest::new("GET", node.addr(), &path).header("origin", "https://a.example.com");
    let denied = denied.send().await;
    assert_eq!(denied.status, 403);
    assert_eq!(denied.header("access-control-allow-origin"), Some("https://a.example.com"));
    assert_eq!(denied.header("access-control-expose-headers"), Some("ETag"));

    s3.delete_bucket_cors().bucket(&bucket).send().await.unwrap();
    let gone = preflight(&node, &path, "https://app.example.com", "GET").send().await;
    gone.assert_error(403, "AccessForbidden");
}
