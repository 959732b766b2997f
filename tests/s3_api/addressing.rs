//! Path-style and virtual-hosted-style addressing. Goal: with a root domain configured, a
//! request to `<bucket>.<root domain>` reaches that bucket, and path-style keeps working.
//! Method: raw signed requests whose Host header names the bucket, sent to the node's address
//! (no DNS is involved).

use crate::common::raw::{RawRequest, Signer, UNSIGNED_PAYLOAD, send, sha256_hex, xml_element};
use crate::common::{TestNode, bucket_name};

const ROOT_DOMAIN: &str = "s3.ringvault.test";

fn vhost_request(node: &TestNode, method: &str, bucket: &str, path: &str) -> RawRequest {
    let mut request = RawRequest::new(method, node.addr(), path);
    request.set_header("host", &format!("{bucket}.{ROOT_DOMAIN}:{}", node.addr().port()));
    request
}

#[tokio::test]
async fn virtual_hosted_style_reaches_the_bucket_named_by_the_host() {
    let node = TestNode::start_with(|c| c.root_domain = Some(ROOT_DOMAIN.to_owned())).await;
    let bucket = bucket_name("vhost");

    let mut create = vhost_request(&node, "PUT", &bucket, "/");
    Signer::new().sign(&mut create, &sha256_hex(b""));
    assert_eq!(send(node.addr(), &create.to_bytes()).await.status, 200);

    let mut put =
        vhost_request(&node, "PUT", &bucket, "/dir/a%20key.txt").body(b"hello vhost".to_vec());
    Signer::new().sign(&mut put, UNSIGNED_PAYLOAD);
    assert_eq!(send(node.addr(), &put.to_bytes()).await.status, 200);

    // Path-style sees what virtual-hosted-style wrote.
    let s3 = node.client();
    let got = s3.get_object().bucket(&bucket).key("dir/a key.txt").send().await.unwrap();
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), b"hello vhost");

    let mut list = vhost_request(&node, "GET", &bucket, "/").query("list-type=2");
    Signer::new().sign(&mut list, &sha256_hex(b""));
    let listed = send(node.addr(), &list.to_bytes()).await;
    assert_eq!(listed.status, 200);
    assert_eq!(xml_element(&listed.text(), "Name").as_deref(), Some(bucket.as_str()));
    assert_eq!(xml_element(&listed.text(), "Key").as_deref(), Some("dir/a key.txt"));

    let mut get = vhost_request(&node, "GET", &bucket, "/dir/a%20key.txt");
    Signer::new().sign(&mut get, &sha256_hex(b""));
    let got = send(node.addr(), &get.to_bytes()).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body, b"hello vhost");
}
