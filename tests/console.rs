//! The web console's side of the admin API. Goal: an operator in a browser can see what the
//! buckets hold and move objects in and out through the admin listener, with the token, and a
//! browser that gives up mid-upload leaves nothing behind. Method: an in-process node, raw
//! HTTP to its admin listener (the console's requests), the results checked through
//! aws-sdk-s3. The page itself is driven in headless Chromium by
//! s3-tests/clients/console.py.

#[path = "common/mod.rs"]
mod common;

use md5::{Digest, Md5};
use serde_json::Value;

use common::raw::{self, RawRequest, RawResponse};
use common::{TestNode, bucket_name};

fn admin(node: &TestNode, method: &str, path: &str) -> RawRequest {
    RawRequest::new(method, node.admin_addr(), path)
        .header("authorization", &format!("Bearer {}", node.admin_token()))
}

fn json(response: &RawResponse) -> Value {
    assert_eq!(response.status, 200, "{}", response.text());
    serde_json::from_str(&response.text()).expect("a JSON answer")
}

/// A body of `n` bytes that no two offsets of one block repeat.
fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i.wrapping_mul(31) ^ (i >> 9)) as u8).collect()
}

#[tokio::test]
async fn the_console_page_is_served_without_the_token_and_holds_no_data() {
    let node = TestNode::start().await;
    let page = RawRequest::new("GET", node.admin_addr(), "/console").send().await;
    assert_eq!(page.status, 200);
    assert_eq!(page.header("content-type"), Some("text/html; charset=utf-8"));
    let policy = page.header("content-security-policy").expect("a CSP");
    assert!(policy.contains("default-src 'none'") && policy.contains("connect-src 'self'"));
    let text = page.text();
    assert!(text.contains("<html") && text.contains("/v1/cluster"), "the page calls the API");
    assert!(!text.contains(&node.admin_token()), "the page never carries the token");
    // Everything else still needs it.
    let listing = RawRequest::new("GET", node.admin_addr(), "/v1/buckets/b/objects").send().await;
    assert_eq!(listing.status, 401);
}

#[tokio::test]
async fn objects_go_in_and_out_through_the_console_api_byte_for_byte() {
    let node = TestNode::start().await;
    let s3 = node.client();
    let bucket = bucket_name("console");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    // Three blocks and a bit: the body streams through several block writes each way.
    let body = pattern(3 * (1 << 20) + 12_345);
    let key = "photos/2026/a b+c.bin";
    let path = format!("/v1/buckets/{bucket}/objects/photos%2F2026%2Fa%20b%2Bc.bin");
    let put = admin(&node, "PUT", &path)
        .header("content-type", "image/x-test")
        .body(body.clone())
        .send()
        .await;
    let put = json(&put);
    assert_eq!((put["key"].as_str(), put["size"].as_u64()), (Some(key), Some(body.len() as u64)));
    assert_eq!(put["etag"], hex::encode(Md5::digest(&body)));
    // S3 sees the same object, with the content type given.
    assert_eq!(raw::get_bytes(&s3, &bucket, key).await, body);
    let head = s3.head_object().bucket(&bucket).key(key).send().await.unwrap();
    assert_eq!(head.content_type(), Some("image/x-test"));

    // The console downloads it back, as an attachment named after the key.
    let got = admin(&node, "GET", &path).send().await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body, body);
    assert_eq!(got.header("content-type"), Some("image/x-test"));
    assert_eq!(
        got.header("content-disposition"),
        Some("attachment; filename*=UTF-8''a%20b%2Bc.bin")
    );

    // Folders, objects and the bucket's usage.
    s3.put_object()
        .bucket(&bucket)
        .key("readme.txt")
        .body(b"hello".to_vec().into())
        .send()
        .await
        .unwrap();
    let top = json(&admin(&node, "GET", &format!("/v1/buckets/{bucket}/objects")).send().await);
    assert_eq!(top["prefixes"], serde_json::json!(["photos/"]));
    assert_eq!(top["objects"][0]["key"], "readme.txt");
    assert_eq!(top["objects"][0]["size"], 5);
    let inner = admin(&node, "GET", &format!("/v1/buckets/{bucket}/objects"))
        .query("prefix=photos%2F2026%2F")
        .send()
        .await;
    assert_eq!(json(&inner)["objects"][0]["key"], key);
    let usage = json(&admin(&node, "GET", &format!("/v1/buckets/{bucket}/usage")).send().await);
    assert_eq!(usage, serde_json::json!({"objects": 2, "bytes": body.len() + 5, "complete": true}));

    // Pages: one object per page, continued with next_after.
    let first =
        admin(&node, "GET", &format!("/v1/buckets/{bucket}/objects")).query("max=1").send().await;
    let first = json(&first);
    assert_eq!(
        (first["truncated"].as_bool(), first["prefixes"].as_array().map(Vec::len)),
        (Some(true), Some(1))
    );
    let after = first["next_after"].as_str().expect("a continuation");
    let second = admin(&node, "GET", &format!("/v1/buckets/{bucket}/objects"))
        .query(&format!("max=1&after={}", after.replace('/', "%2F")))
        .send()
        .await;
    assert_eq!(json(&second)["objects"][0]["key"], "readme.txt");

    // What is not there is said so, as JSON.
    let missing = admin(&node, "GET", &format!("/v1/buckets/{bucket}/objects/nope")).send().await;
    assert_eq!(missing.status, 404);
    assert!(missing.text().contains("\"NoSuchKey\""), "{}", missing.text());
    let no_bucket = admin(&node, "GET", "/v1/buckets/no-such-bucket-here/objects").send().await;
    assert_eq!(no_bucket.status, 404);
    let bad =
        admin(&node, "GET", &format!("/v1/buckets/{bucket}/objects")).query("max=0").send().await;
    assert_eq!(bad.status, 400);
}

#[tokio::test]
async fn a_download_link_works_without_the_token_for_its_object_only_until_it_expires() {
    let node = TestNode::start().await;
    let s3 = node.client();
    let bucket = bucket_name("console-link");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let body = pattern(2 * (1 << 20) + 7);
    s3.put_object()
        .bucket(&bucket)
        .key("dir/big.bin")
        .body(body.clone().into())
        .send()
        .await
        .unwrap();
    let path = format!("/v1/buckets/{bucket}/objects/dir%2Fbig.bin/link");
    let link = json(&admin(&node, "POST", &path).send().await);
    let url = link["url"].as_str().expect("a URL");
    assert!(url.starts_with("/v1/download?") && !url.contains(&node.admin_token()), "{url}");
    let (path_part, query) = url.split_once('?').unwrap();

    // Followed without the token, it streams the object as an attachment.
    let got = RawRequest::new("GET", node.admin_addr(), path_part).query(query).send().await;
    assert_eq!(got.status, 200, "{}", got.text());
    assert_eq!(got.body, body);
    assert!(got.header("content-disposition").is_some_and(|d| d.contains("big.bin")));

    // Changed in any part, it is refused, as JSON, and says nothing more.
    let addr = node.admin_addr();
    let refused = |query: String| async move {
        let answer = RawRequest::new("GET", addr, "/v1/download").query(&query).send().await;
        assert_eq!(answer.status, 403, "{query}: {}", answer.text());
        assert!(answer.text().contains("\"InvalidLink\""), "{}", answer.text());
    };
    assert!(query.contains("big%2Ebin"), "{query}");
    refused(query.replace("big%2Ebin", "other%2Ebin")).await;
    let expires = query.split('&').find_map(|p| p.strip_prefix("expires=")).unwrap();
    let later: i64 = expires.parse::<i64>().unwrap() + 3600;
    refused(query.replace(&format!("expires={expires}"), &format!("expires={later}"))).await;
    refused(query.split("&signature=").next().unwrap().to_owned()).await;
    // A link signed for a time already past is refused even with its genuine signature: sign
    // one by hand, as the node would have, an hour ago.
    let past = expires.parse::<i64>().unwrap() - 3600;
    let token = ringvault::admin::AdminToken::new(node.admin_token());
    let message = format!("ringvault-download\n{bucket}\ndir/big.bin\n{past}");
    let stale = format!(
        "bucket={bucket}&key=dir%2Fbig%2Ebin&expires={past}&signature={}",
        hex::encode(token.sign(message.as_bytes()))
    );
    refused(stale).await;
    // No link for what is not there.
    let missing =
        admin(&node, "POST", &format!("/v1/buckets/{bucket}/objects/nope/link")).send().await;
    assert_eq!(missing.status, 404);
}

#[tokio::test]
async fn an_upload_the_browser_gives_up_on_leaves_no_object() {
    let node = TestNode::start().await;
    let s3 = node.client();
    let bucket = bucket_name("console-cut");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    // The request promises 4 MiB and sends one, then the connection closes.
    let mut request = admin(&node, "PUT", &format!("/v1/buckets/{bucket}/objects/cut.bin"))
        .body(pattern(1 << 20));
    request.set_header("content-length", &(4u64 << 20).to_string());
    let answer = raw::send_then_close(node.admin_addr(), &request.to_bytes()).await;
    if let Some(answer) = &answer {
        assert!(answer.status >= 400, "a cut upload is not acknowledged: {}", answer.text());
    }
    raw::assert_no_object(&s3, &bucket, "cut.bin").await;
    // The node still takes a whole one.
    let whole = admin(&node, "PUT", &format!("/v1/buckets/{bucket}/objects/cut.bin"))
        .body(pattern(1000))
        .send()
        .await;
    assert_eq!(json(&whole)["size"], 1000);
    assert_eq!(raw::get_bytes(&s3, &bucket, "cut.bin").await, pattern(1000));
}
