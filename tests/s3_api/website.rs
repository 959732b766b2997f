//! The static website endpoint on one node: index and error documents, a directory without
//! its slash, routing-rule redirects, objects nobody made public, and the configuration API.

use aws_sdk_s3::types::{
    Condition, ErrorDocument, IndexDocument, Redirect, RoutingRule, WebsiteConfiguration,
};

use crate::common::raw::{self, RawRequest, RawResponse};
use crate::common::{TestNode, bucket_name};

async fn visit(node: &TestNode, bucket: &str, path: &str) -> RawResponse {
    let mut request = RawRequest::new("GET", node.addr(), path);
    request.set_header("host", &format!("{bucket}.web.test:{}", node.addr().port()));
    raw::send(node.addr(), &request.to_bytes()).await
}

#[tokio::test]
async fn a_public_bucket_is_served_as_a_website() {
    let node = TestNode::start_with(|c| c.website_domain = Some("web.test".into())).await;
    let s3 = node.client();
    let bucket = bucket_name("site");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let policy = format!(
        r#"{{"Statement":[{{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::{bucket}/*"}}]}}"#
    );
    s3.put_bucket_policy().bucket(&bucket).policy(policy).send().await.unwrap();
    for (key, body) in [("index.html", "home"), ("blog/index.html", "blog"), ("404.html", "lost")] {
        let put = s3.put_object().bucket(&bucket).key(key).content_type("text/html");
        put.body(body.as_bytes().to_vec().into()).send().await.unwrap();
    }
    let missing = visit(&node, &bucket, "/").await;
    assert_eq!(missing.status, 404, "no website configuration yet");
    assert!(missing.text().contains("NoSuchWebsiteConfiguration"));

    let config = WebsiteConfiguration::builder()
        .index_document(IndexDocument::builder().suffix("index.html").build().unwrap())
        .error_document(ErrorDocument::builder().key("404.html").build().unwrap())
        .routing_rules(
            RoutingRule::builder()
                .condition(Condition::builder().key_prefix_equals("old/").build())
                .redirect(Redirect::builder().replace_key_prefix_with("blog/").build())
                .build(),
        )
        .build();
    s3.put_bucket_website().bucket(&bucket).website_configuration(config).send().await.unwrap();
    let got = s3.get_bucket_website().bucket(&bucket).send().await.unwrap();
    assert_eq!(got.index_document().map(|i| i.suffix()), Some("index.html"));

    let home = visit(&node, &bucket, "/").await;
    assert_eq!((home.status, home.text().as_str()), (200, "home"));
    assert_eq!(home.header("content-type"), Some("text/html"));
    let blog = visit(&node, &bucket, "/blog/").await;
    assert_eq!(blog.text(), "blog");
    let no_slash = visit(&node, &bucket, "/blog").await;
    assert_eq!((no_slash.status, no_slash.header("location")), (302, Some("/blog/")));
    let moved = visit(&node, &bucket, "/old/post.html").await;
    assert_eq!(moved.status, 301);
    assert!(
        moved.header("location").unwrap().ends_with("/blog/post.html"),
        "{:?}",
        moved.header("location")
    );
    let lost = visit(&node, &bucket, "/nowhere.html").await;
    assert_eq!((lost.status, lost.text().as_str()), (404, "lost"));

    // Only what the policy opens is served: a website is not a way around access control.
    s3.delete_bucket_policy().bucket(&bucket).send().await.unwrap();
    let closed = visit(&node, &bucket, "/").await;
    assert_eq!(closed.status, 403);
    let post = {
        let mut r = RawRequest::new("PUT", node.addr(), "/x").body("x");
        r.set_header("host", &format!("{bucket}.web.test"));
        raw::send(node.addr(), &r.to_bytes()).await
    };
    assert_eq!(post.status, 405);

    s3.delete_bucket_website().bucket(&bucket).send().await.unwrap();
    assert!(s3.get_bucket_website().bucket(&bucket).send().await.is_err());
}
