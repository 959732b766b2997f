//! POST object (browser form uploads) on one node: SigV4-signed policies with their
//! conditions, the success answers (201 document, 303 redirect), metadata and tags from the
//! form, files streamed in, and the refusals S3 gives to forms that break their policy.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::common::raw::{RawRequest, RawResponse, Signer};
use crate::common::{TestNode, bucket_name, pattern};

const BOUNDARY: &str = "----ringvault-test-boundary-7d93";

/// A multipart/form-data body: the fields in order, then the file.
fn form(fields: &[(&str, String)], file_name: &str, file: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

/// The SigV4 fields of a form signed by the test node's root key, for `conditions`.
fn signed_fields(conditions: &str, expiration: &str) -> Vec<(&'static str, String)> {
    let signer = Signer::new();
    let credential = format!("{}/{}", signer.access_key_id, signer.scope());
    let policy = format!(
        r#"{{"expiration":"{expiration}","conditions":[{conditions},{{"x-amz-algorithm":"AWS4-HMAC-SHA256"}},{{"x-amz-credential":"{credential}"}},{{"x-amz-date":"{}"}}]}}"#,
        signer.amz_date()
    );
    let policy = BASE64.encode(policy);
    vec![
        ("x-amz-algorithm", "AWS4-HMAC-SHA256".to_owned()),
        ("x-amz-credential", credential),
        ("x-amz-date", signer.amz_date()),
        ("x-amz-signature", signer.sign_post_policy(&policy)),
        ("policy", policy),
    ]
}

const LATER: &str = "2099-01-01T00:00:00.000Z";

async fn post(node: &TestNode, bucket: &str, body: Vec<u8>) -> RawResponse {
    RawRequest::new("POST", node.addr(), &format!("/{bucket}"))
        .header("content-type", &format!("multipart/form-data; boundary={BOUNDARY}"))
        .body(body)
        .send()
        .await
}

#[tokio::test]
async fn a_signed_form_uploads_with_its_metadata_and_answers_as_asked() {
    let node = TestNode::start().await;
    let s3 = node.client();
    let bucket = bucket_name("post");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let conditions = format!(
        r#"{{"bucket":"{bucket}"}},["starts-with","$key","uploads/"],["content-length-range",1,4194304],
           {{"success_action_status":"201"}},["starts-with","$Content-Type","image/"],["eq","$x-amz-meta-owner","alice"],
           ["starts-with","$tagging",""]"#
    );
    let mut fields = vec![("key", "uploads/${filename}".to_owned())];
    fields.extend(signed_fields(&conditions, LATER));
    fields.push(("success_action_status", "201".into()));
    fields.push(("Content-Type", "image/png".into()));
    fields.push(("x-amz-meta-owner", "alice".into()));
    fields.push((
        "tagging",
        "<Tagging><TagSet><Tag><Key>kind</Key><Value>photo</Value></Tag></TagSet></Tagging>".into(),
    ));
    // A file bigger than any buffer on the way, streamed through.
    let file = pattern(3 << 20, 11);
    let response = post(&node, &bucket, form(&fields, "cat.png", &file)).await;
    assert_eq!(response.status, 201, "{}", response.text());
    let text = response.text();
    assert!(text.contains("<Key>uploads/cat.png</Key>"), "{text}");
    assert!(response.header("etag").is_some());

    let got = s3.get_object().bucket(&bucket).key("uploads/cat.png").send().await.unwrap();
    assert_eq!(got.content_type(), Some("image/png"));
    assert_eq!(got.metadata().and_then(|m| m.get("owner")).map(String::as_str), Some("alice"));
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), &file[..]);
    let tags = s3.get_object_tagging().bucket(&bucket).key("uploads/cat.png").send().await.unwrap();
    assert_eq!(tags.tag_set()[0].key(), "kind");

    // A redirect names what was stored.
    let conditions = format!(
        r#"{{"bucket":"{bucket}"}},["starts-with","$key",""],["starts-with","$success_action_redirect","https://app.example/"]"#
    );
    let mut fields = vec![("key", "done.txt".to_owned())];
    fields.extend(signed_fields(&conditions, LATER));
    fields.push(("success_action_redirect", "https://app.example/done".into()));
    let response = post(&node, &bucket, form(&fields, "x", b"hi")).await;
    assert_eq!(response.status, 303, "{}", response.text());
    let location = response.header("location").unwrap();
    assert!(
        location.starts_with(&format!(
            "https://app.example/done?bucket={bucket}&key=done.txt&etag=%22"
        )),
        "{location}"
    );
}

#[tokio::test]
async fn forms_that_break_their_policy_are_refused_and_store_nothing() {
    let node = TestNode::start().await;
    let s3 = node.client();
    let bucket = bucket_name("postbad");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let conditions = format!(
        r#"{{"bucket":"{bucket}"}},["starts-with","$key",""],["content-length-range",0,10]"#
    );
    let key = || vec![("key", "k".to_owned())];

    let mut too_big = key();
    too_big.extend(signed_fields(&conditions, LATER));
    post(&node, &bucket, form(&too_big, "f", &[7u8; 11])).await.assert_error(400, "EntityTooLarge");

    let mut expired = key();
    expired.extend(signed_fields(&conditions, "2001-01-01T00:00:00.000Z"));
    post(&node, &bucket, form(&expired, "f", b"x")).await.assert_error(403, "AccessDenied");

    let mut extra = key();
    extra.extend(signed_fields(&conditions, LATER));
    extra.push(("x-amz-meta-unplanned", "1".into()));
    let refused = post(&node, &bucket, form(&extra, "f", b"x")).await;
    let xml = refused.assert_error(403, "AccessDenied");
    assert!(xml.contains("Extra input fields: x-amz-meta-unplanned"), "{xml}");

    let mut forged = key();
    forged.extend(signed_fields(&conditions, LATER));
    forged[4].1 = "0".repeat(64);
    post(&node, &bucket, form(&forged, "f", b"x")).await.assert_error(403, "SignatureDoesNotMatch");

    let mut bad_policy = key();
    bad_policy.extend(signed_fields(&conditions, "tomorrow"));
    post(&node, &bucket, form(&bad_policy, "f", b"x"))
        .await
        .assert_error(400, "InvalidPolicyDocument");

    // Anonymous forms need a bucket that lets everyone write.
    post(&node, &bucket, form(&key(), "f", b"x")).await.assert_error(403, "AccessDenied");
    let not_a_form =
        RawRequest::new("POST", node.addr(), &format!("/{bucket}")).body("x=1").send().await;
    not_a_form.assert_error(412, "PreconditionFailed");

    let listed = s3.list_objects_v2().bucket(&bucket).send().await.unwrap();
    assert_eq!(listed.key_count(), Some(0), "nothing refused was stored");
}
