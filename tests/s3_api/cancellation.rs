//! Clients that hang up. Goal: a mutating request whose body has arrived runs to its end
//! whatever its client does next (ARCHITECTURE.md, invariant 11): the effect never depends on
//! where the connection dropped. Method: write a whole signed request on a raw connection and
//! close it at once, without reading the answer, then watch the full effect appear through the
//! SDK (bounded wait).

use std::time::Duration;

use base64::Engine;
use md5::{Digest, Md5};
use tokio::io::AsyncWriteExt;

use crate::common::raw::{RawRequest, Signer, sha256_hex};
use crate::common::{TestNode, bucket_name, pattern};

const MIB: usize = 1 << 20;

/// Writes `request` and closes the connection without reading anything.
async fn send_and_hang_up(request: &RawRequest) {
    let addr = request.headers[0].1.parse::<std::net::SocketAddr>().unwrap();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(&request.to_bytes()).await.unwrap();
    stream.flush().await.unwrap();
    // Give the server the time to read the request, then hang up.
    tokio::time::sleep(Duration::from_millis(5)).await;
    drop(stream);
}

/// Polls `done` every 50 ms for up to 30 s.
async fn eventually(what: &str, mut done: impl AsyncFnMut() -> bool) {
    for _ in 0..600 {
        if done().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what} never happened");
}

#[tokio::test]
async fn delete_objects_finishes_after_its_client_hangs_up() {
    let node = TestNode::start().await;
    let s3 = node.client();
    let bucket = bucket_name("hangup-delete");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let keys: Vec<String> = (0..300).map(|i| format!("k{i:04}")).collect();
    for chunk in keys.chunks(25) {
        let puts = chunk
            .iter()
            .map(|k| s3.put_object().bucket(&bucket).key(k).body(b"x".to_vec().into()).send());
        for put in futures_util::future::join_all(puts).await {
            put.unwrap();
        }
    }
    let mut xml = String::from("<Delete><Quiet>true</Quiet>");
    for key in &keys {
        xml.push_str(&format!("<Object><Key>{key}</Key></Object>"));
    }
    xml.push_str("</Delete>");
    let md5 = base64::engine::general_purpose::STANDARD.encode(Md5::digest(xml.as_bytes()));
    let mut request = RawRequest::new("POST", node.addr(), &format!("/{bucket}"))
        .query("delete=")
        .header("content-md5", &md5)
        .body(xml.clone());
    Signer::new().sign(&mut request, &sha256_hex(xml.as_bytes()));
    send_and_hang_up(&request).await;

    eventually("every key deleted", async || {
        let listed = s3.list_objects_v2().bucket(&bucket).send().await.unwrap();
        listed.key_count() == Some(0)
    })
    .await;
}

#[tokio::test]
async fn a_completion_finishes_after_its_client_hangs_up() {
    let node = TestNode::start_with(|c| c.reclaim_grace = Duration::ZERO).await;
    let s3 = node.client();
    let bucket = bucket_name("hangup-complete");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let upload = s3.create_multipart_upload().bucket(&bucket).key("k").send().await.unwrap();
    let id = upload.upload_id().unwrap().to_owned();
    let bodies = [pattern(5 * MIB, 1), pattern(5 * MIB, 2), pattern(MIB, 3)];
    let mut xml = String::from("<CompleteMultipartUpload>");
    for (i, body) in bodies.iter().enumerate() {
        let number = i32::try_from(i + 1).unwrap();
        let part = s3
            .upload_part()
            .bucket(&bucket)
            .key("k")
            .upload_id(&id)
            .part_number(number)
            .body(body.clone().into())
            .send()
            .await
            .unwrap();
        xml.push_str(&format!(
            "<Part><PartNumber>{number}</PartNumber><ETag>{}</ETag></Part>",
            part.e_tag().unwrap()
        ));
    }
    xml.push_str("</CompleteMultipartUpload>");
    let mut request = RawRequest::new("POST", node.addr(), &format!("/{bucket}/k"))
        .query(&format!("uploadId={id}"))
        .body(xml.clone());
    Signer::new().sign(&mut request, &sha256_hex(xml.as_bytes()));
    send_and_hang_up(&request).await;

    eventually("the upload closed", async || {
        let uploads = s3.list_multipart_uploads().bucket(&bucket).send().await.unwrap();
        uploads.uploads().is_empty()
    })
    .await;
    // What a client does when its completion timed out: abort (boto3's upload_file does).
    s3.abort_multipart_upload().bucket(&bucket).key("k").upload_id(&id).send().await.unwrap();
    assert_eq!(node.reclaim_now().await, 0, "no part of the object may be reclaimed");
    let expected = bodies.concat();
    assert_eq!(crate::common::raw::get_bytes(&s3, &bucket, "k").await, expected);
}
