//! Admin API and CLI tests. Goal: an operator can manage access keys and bucket grants on a
//! running node; every change applies to S3 on the very next request, without a restart; and
//! the API answers nobody without the token. Method: an in-process node on 127.0.0.1:0, driven
//! through the library's `AdminClient` and raw HTTP (where the request's shape is the point),
//! with the effects checked through aws-sdk-s3, and the real `ringvault` binary for the CLI.

#[path = "common/mod.rs"]
mod common;

use std::process::Output;

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use ringvault::admin::api::{CreateKeyRequest, GrantRequest, ImportKeyRequest, UpdateKeyRequest};
use serde_json::Value;

use common::raw::{self, RawResponse};
use common::{ACCESS_KEY_ID, TestNode, bucket_name};

/// Status and S3 error code of a request that must fail.
#[track_caller]
fn refusal<T, E: ProvideErrorMetadata>(
    result: Result<T, SdkError<E, HttpResponse>>,
) -> (u16, Option<String>) {
    match result {
        Ok(_) => panic!("expected a refusal, the request succeeded"),
        Err(err) => {
            (err.raw_response().map_or(0, |r| r.status().as_u16()), err.code().map(str::to_owned))
        }
    }
}

fn access_denied() -> (u16, Option<String>) {
    (403, Some("AccessDenied".to_owned()))
}

/// One raw request to the admin API; `token` is sent as a bearer token when given.
async fn admin_raw(
    node: &TestNode,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> RawResponse {
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nhost: {}\r\ncontent-length: {}\r\n",
        node.admin_addr(),
        body.len()
    );
    if let Some(token) = token {
        request.push_str(&format!("authorization: Bearer {token}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    raw::send(node.admin_addr(), request.as_bytes()).await
}

/// Asserts a JSON error answer with this status and code.
#[track_caller]
fn assert_json_error(response: &RawResponse, status: u16, code: &str) {
    let text = response.text();
    assert_eq!(response.status, status, "{text}");
    assert_eq!(response.header("content-type"), Some("application/json"), "{text}");
    let body: Value = serde_json::from_str(&text).expect("an error body is JSON");
    assert_eq!(body["code"], code, "{text}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{text}");
}

/// A new key through the API, and an S3 client using it.
async fn new_key(node: &TestNode, allow_create_bucket: bool) -> (String, aws_sdk_s3::Client) {
    let request = CreateKeyRequest { name: "tester".into(), allow_create_bucket };
    let key = node.admin().create_key(&request).await.unwrap();
    let s3 = common::client(&node.endpoint(), &key.key.access_key_id, &key.secret_access_key);
    (key.key.access_key_id, s3)
}

#[tokio::test]
async fn every_request_needs_the_token() {
    let node = TestNode::start().await;
    let token = node.admin_token();
    for path in ["/v1/status", "/v1/keys", "/v1/buckets", "/metrics", "/v1/nowhere"] {
        let none = admin_raw(&node, "GET", path, None, "").await;
        assert_json_error(&none, 401, "Unauthorized");
        assert!(none.header("www-authenticate").is_some_and(|v| v.starts_with("Bearer")));
        let wrong = admin_raw(&node, "GET", path, Some("not-the-token-at-all"), "").await;
        assert_json_error(&wrong, 401, "Unauthorized");
        let prefix = admin_raw(&node, "GET", path, Some(&token[..token.len() - 1]), "").await;
        assert_json_error(&prefix, 401, "Unauthorized");
    }
    // An unauthenticated write changes nothing.
    let sneaky = admin_raw(&node, "POST", "/v1/keys", Some("guess"), "{}").await;
    assert_json_error(&sneaky, 401, "Unauthorized");
    assert_eq!(node.admin().list_keys().await.unwrap().keys.len(), 1);

    let status = admin_raw(&node, "GET", "/v1/status", Some(&token), "").await;
    assert_eq!(status.status, 200, "{}", status.text());
    let status: Value = serde_json::from_str(&status.text()).unwrap();
    assert_eq!(status["s3_addr"], node.addr().to_string());
    assert_eq!(status["version"], env!("CARGO_PKG_VERSION"));
    let node_id = node.node.as_ref().unwrap().node_id();
    assert_eq!(status["node_id"], format!("{node_id:016x}"));
}

#[tokio::test]
async fn metrics_count_s3_requests_and_show_the_ring() {
    let node = TestNode::start().await;
    let s3 = node.client();
    let bucket = bucket_name("metrics");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    for i in 0..3 {
        s3.put_object()
            .bucket(&bucket)
            .key(format!("k{i}"))
            .body(b"x".to_vec().into())
            .send()
            .await
            .unwrap();
    }
    let _ = s3.get_object().bucket(&bucket).key("missing").send().await.unwrap_err();

    let response = admin_raw(&node, "GET", "/metrics", Some(&node.admin_token()), "").await;
    assert_eq!(response.status, 200);
    assert!(
        response
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/openmetrics-text"))
    );
    let text = response.text();
    let has = |line: &str| text.lines().any(|l| l == line);
    assert!(has(r#"ringvault_s3_requests_total{operation="PutObject",status="200"} 3"#), "{text}");
    assert!(has(r#"ringvault_s3_requests_total{operation="GetObject",status="404"} 1"#), "{text}");
    assert!(
        has(r#"ringvault_s3_request_duration_seconds_count{operation="PutObject"} 3"#),
        "{text}"
    );
    // A ring of one: no hints, one member up, every partition owned here.
    assert!(has("ringvault_hints_pending_all 0"), "{text}");
    assert!(has(r#"ringvault_layout_members{state="up"} 1"#), "{text}");
    assert!(has("ringvault_partitions_owned 256"), "{text}");
    assert!(text.ends_with("# EOF\n"), "{text}");
    // The client reads the same document.
    assert!(node.admin().metrics().await.unwrap().contains("ringvault_layout_version"));
}

#[tokio::test]
async fn bad_routes_methods_and_bodies_get_json_errors() {
    let node = TestNode::start().await;
    let token = node.admin_token();
    let t = Some(token.as_str());
    assert_json_error(&admin_raw(&node, "GET", "/v1/nowhere", t, "").await, 404, "NoSuchRoute");
    let wrong_method = admin_raw(&node, "DELETE", "/v1/keys", t, "").await;
    assert_json_error(&wrong_method, 405, "MethodNotAllowed");
    assert_eq!(wrong_method.header("allow"), Some("GET, POST"));
    let path = format!("/v1/keys/{ACCESS_KEY_ID}");
    let bad = admin_raw(&node, "PATCH", &path, t, "{\"allow_create_bucket\": ").await;
    assert_json_error(&bad, 400, "InvalidJson");
    let wrong_type =
        admin_raw(&node, "PATCH", &path, t, "{\"allow_create_bucket\": \"yes\"}").await;
    assert_json_error(&wrong_type, 400, "InvalidJson");
    let unknown_field = admin_raw(&node, "POST", "/v1/keys", t, "{\"nmae\": \"x\"}").await;
    assert_json_error(&unknown_field, 400, "InvalidJson");
    let huge = format!("{{\"name\": \"{}\"}}", "x".repeat(70 << 10));
    assert_json_error(&admin_raw(&node, "POST", "/v1/keys", t, &huge).await, 413, "BodyTooLarge");
    let missing = admin_raw(&node, "GET", "/v1/keys/RVNOSUCHKEY", t, "").await;
    assert_json_error(&missing, 404, "NoSuchAccessKey");
    let missing = admin_raw(&node, "GET", "/v1/buckets/no-such-bucket", t, "").await;
    assert_json_error(&missing, 404, "NoSuchBucket");
}

#[tokio::test]
async fn a_created_key_works_is_listed_and_its_secret_is_never_shown_again() {
    let node = TestNode::start().await;
    let admin = node.admin();
    let request = CreateKeyRequest { name: "alice".into(), allow_create_bucket: true };
    let key = admin.create_key(&request).await.unwrap();
    let id = key.key.access_key_id.clone();
    assert!(key.key.allow_create_bucket);
    assert!(key.secret_access_key.len() >= 32, "a generated secret is long");

    let s3 = common::client(&node.endpoint(), &id, &key.secret_access_key);
    let bucket = bucket_name("alice");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    s3.put_object().bucket(&bucket).key("k").body(b"hi".to_vec().into()).send().await.unwrap();

    let listed = admin.list_keys().await.unwrap();
    let entry = listed.keys.iter().find(|k| k.access_key_id == id).expect("the key is listed");
    assert_eq!(entry.name, "alice");
    assert!(listed.keys.iter().any(|k| k.access_key_id == ACCESS_KEY_ID), "root is listed");

    let detail = admin.key(&id).await.unwrap();
    assert_eq!(detail.buckets_owned, vec![bucket.clone()]);
    assert!(detail.buckets_granted.is_empty());
    let token = node.admin_token();
    for path in ["/v1/keys".to_owned(), format!("/v1/keys/{id}")] {
        let text = admin_raw(&node, "GET", &path, Some(&token), "").await.text();
        assert!(text.contains(&id), "{text}");
        assert!(!text.contains(&key.secret_access_key), "{path} shows the secret: {text}");
        assert!(!text.contains("secret"), "{path} has a secret field: {text}");
    }
}

#[tokio::test]
async fn a_deleted_key_is_refused_on_its_next_request() {
    let node = TestNode::start().await;
    let (id, s3) = new_key(&node, false).await;
    s3.list_buckets().send().await.unwrap();
    node.admin().delete_key(&id).await.unwrap();
    assert_eq!(
        refusal(s3.list_buckets().send().await),
        (403, Some("InvalidAccessKeyId".to_owned()))
    );
    let again = node.admin().delete_key(&id).await.unwrap_err();
    assert_eq!(again.api_code(), Some("NoSuchAccessKey"), "{again}");
    assert!(node.admin().list_keys().await.unwrap().keys.iter().all(|k| k.access_key_id != id));
}

#[tokio::test]
async fn create_bucket_permission_is_granted_and_revoked_live() {
    let node = TestNode::start().await;
    let (id, s3) = new_key(&node, false).await;
    let admin = node.admin();
    assert_eq!(refusal(s3.create_bucket().bucket(bucket_name("no")).send().await), access_denied());

    let key = admin.update_key(&id, UpdateKeyRequest { allow_create_bucket: true }).await.unwrap();
    assert!(key.allow_create_bucket);
    s3.create_bucket().bucket(bucket_name("yes")).send().await.unwrap();

    admin.update_key(&id, UpdateKeyRequest { allow_create_bucket: false }).await.unwrap();
    assert_eq!(refusal(s3.create_bucket().bucket(bucket_name("no")).send().await), access_denied());
    let missing = admin.update_key("RVNOSUCHKEY", UpdateKeyRequest { allow_create_bucket: true });
    assert_eq!(missing.await.unwrap_err().api_code(), Some("NoSuchAccessKey"));
}

/// What key B can do on A's bucket, operation by operation: `true` where it succeeded, and
/// asserting that every refusal is 403 AccessDenied.
async fn probe(b: &aws_sdk_s3::Client, bucket: &str) -> [bool; 4] {
    let get = b.get_object().bucket(bucket).key("seed").send().await;
    let list = b.list_objects_v2().bucket(bucket).send().await;
    let head = b.head_object().bucket(bucket).key("seed").send().await;
    let put = b.put_object().bucket(bucket).key("from-b").body(b"b".to_vec().into()).send().await;
    let ok = [get.is_ok(), list.is_ok(), head.is_ok(), put.is_ok()];
    for (name, refused) in [
        ("GetObject", get.err().map(|e| refusal::<(), _>(Err(e)))),
        ("ListObjectsV2", list.err().map(|e| refusal::<(), _>(Err(e)))),
        ("PutObject", put.err().map(|e| refusal::<(), _>(Err(e)))),
    ] {
        if let Some(refused) = refused {
            assert_eq!(refused, access_denied(), "{name}");
        }
    }
    if let Err(e) = head {
        assert_eq!(refusal::<(), _>(Err(e)).0, 403, "HeadObject");
    }
    ok
}

#[tokio::test]
async fn bucket_grants_decide_what_another_key_may_do() {
    let node = TestNode::start().await;
    let admin = node.admin();
    let (a_id, a) = new_key(&node, true).await;
    let (b_id, b) = new_key(&node, false).await;
    let bucket = bucket_name("shared");
    a.create_bucket().bucket(&bucket).send().await.unwrap();
    a.put_object().bucket(&bucket).key("seed").body(b"seed".to_vec().into()).send().await.unwrap();

    //                        [get,   list,  head,  put]
    assert_eq!(probe(&b, &bucket).await, [false, false, false, false]);

    let read = GrantRequest { read: true, write: false };
    let detail = admin.set_grant(&bucket, &b_id, read).await.unwrap();
    assert_eq!(detail.bucket.owner, a_id);
    assert_eq!(detail.grants.len(), 1);
    assert_eq!(probe(&b, &bucket).await, [true, true, true, false]);

    let read_write = GrantRequest { read: true, write: true };
    admin.set_grant(&bucket, &b_id, read_write).await.unwrap();
    assert_eq!(probe(&b, &bucket).await, [true, true, true, true]);
    let info = admin.key(&b_id).await.unwrap();
    assert_eq!(info.buckets_granted.len(), 1);
    assert!(info.buckets_granted[0].read && info.buckets_granted[0].write);

    let none = GrantRequest { read: false, write: false };
    let detail = admin.set_grant(&bucket, &b_id, none).await.unwrap();
    assert!(detail.grants.is_empty(), "both false removes the grant");
    assert_eq!(probe(&b, &bucket).await, [false, false, false, false]);

    let listed = admin.list_buckets().await.unwrap();
    assert!(listed.buckets.iter().any(|x| x.name == bucket && x.owner == a_id));
    let err = admin.set_grant(&bucket, "RVNOSUCHKEY", read).await.unwrap_err();
    assert_eq!(err.api_code(), Some("NoSuchAccessKey"));
    let err = admin.set_grant("no-such-bucket", &b_id, read).await.unwrap_err();
    assert_eq!(err.api_code(), Some("NoSuchBucket"));
    let err = admin.set_grant(&bucket, &a_id, read).await.unwrap_err();
    assert_eq!(err.api_code(), Some("InvalidArgument"), "the owner cannot be granted: {err}");
}

#[tokio::test]
async fn deleting_a_key_drops_its_grants() {
    let node = TestNode::start().await;
    let admin = node.admin();
    let bucket = bucket_name("grants");
    node.client().create_bucket().bucket(&bucket).send().await.unwrap();
    let (b_id, _) = new_key(&node, false).await;
    admin.set_grant(&bucket, &b_id, GrantRequest { read: true, write: true }).await.unwrap();
    admin.delete_key(&b_id).await.unwrap();
    assert!(admin.bucket(&bucket).await.unwrap().grants.is_empty());
}

#[tokio::test]
async fn an_imported_key_uses_its_given_secret_and_never_replaces_one() {
    let node = TestNode::start().await;
    let admin = node.admin();
    let request = ImportKeyRequest {
        access_key_id: "RVIMPORTED0000000001".into(),
        secret_access_key: "imported-secret-for-tests".into(),
        name: "ci".into(),
        allow_create_bucket: true,
    };
    let key = admin.import_key(&request).await.unwrap();
    assert_eq!(key.access_key_id, request.access_key_id);
    let s3 = common::client(&node.endpoint(), &request.access_key_id, &request.secret_access_key);
    s3.create_bucket().bucket(bucket_name("imported")).send().await.unwrap();

    let again = admin.import_key(&request).await.unwrap_err();
    assert_eq!(again.api_code(), Some("AccessKeyAlreadyExists"));
    let root = ImportKeyRequest { access_key_id: ACCESS_KEY_ID.into(), ..request.clone() };
    assert_eq!(
        admin.import_key(&root).await.unwrap_err().api_code(),
        Some("AccessKeyAlreadyExists")
    );
    node.client().list_buckets().send().await.expect("the root key still works");
    let bad = ImportKeyRequest { access_key_id: "has/slash".into(), ..request.clone() };
    assert_eq!(admin.import_key(&bad).await.unwrap_err().api_code(), Some("InvalidArgument"));
    let short = ImportKeyRequest { secret_access_key: "short".into(), ..request };
    assert_eq!(admin.import_key(&short).await.unwrap_err().api_code(), Some("InvalidArgument"));
}

#[tokio::test]
async fn a_generated_token_is_stored_privately_and_kept_across_restarts() {
    use std::os::unix::fs::PermissionsExt;
    let mut node = TestNode::start().await;
    let token = node.admin_token();
    let file = node.dir.path().join("admin_token");
    assert_eq!(std::fs::read_to_string(&file).unwrap().trim(), token);
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    let debug = format!("{:?}", node.node.as_ref().unwrap());
    assert!(!debug.contains(&token), "the token appears in Debug output: {debug}");
    node.restart().await;
    assert_eq!(node.admin_token(), token);
    node.admin().status().await.unwrap();
}

#[tokio::test]
async fn a_configured_token_is_used_and_no_file_is_written() {
    let configured = "configured-admin-token-0123456789";
    let node = TestNode::start_with(|c| c.admin_token = Some(configured.into())).await;
    assert_eq!(node.admin_token(), configured);
    assert!(!node.dir.path().join("admin_token").exists());
    let ok = admin_raw(&node, "GET", "/v1/status", Some(configured), "").await;
    assert_eq!(ok.status, 200);
}

// ---- the CLI binary -------------------------------------------------------------------------

/// Runs `ringvault args...` against `node` (its admin address and data directory, so the token
/// comes from the file the node wrote), without blocking the runtime the node serves on.
async fn cli(node: &TestNode, args: &[&str]) -> Output {
    let addr = node.admin_addr().to_string();
    let dir = node.dir.path().to_owned();
    let args: Vec<String> = args.iter().map(|&a| a.to_owned()).collect();
    run_cli(args, move |c| {
        c.env("RINGVAULT_ADMIN_ADDR", addr).env("RINGVAULT_DATA_DIR", dir);
    })
    .await
}

async fn run_cli(
    args: Vec<String>,
    setup: impl FnOnce(&mut std::process::Command) + Send + 'static,
) -> Output {
    tokio::task::spawn_blocking(move || {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_ringvault"));
        command
            .args(&args)
            .env_remove("RINGVAULT_ADMIN_ADDR")
            .env_remove("RINGVAULT_ADMIN_TOKEN")
            .env_remove("RINGVAULT_DATA_DIR");
        setup(&mut command);
        command.output().expect("the ringvault binary runs")
    })
    .await
    .unwrap()
}

#[track_caller]
fn stdout_of(output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "exit {:?}\nstdout: {stdout}\nstderr: {stderr}",
        output.status
    );
    stdout
}

/// The one-line error of a failed command.
#[track_caller]
fn error_of(output: &Output) -> String {
    assert!(!output.status.success(), "the command should fail");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    stderr
}

#[tokio::test]
async fn the_cli_creates_lists_and_grants() {
    let node = TestNode::start().await;
    let created = stdout_of(&cli(&node, &["key", "create", "--name", "bob", "--json"]).await);
    let created: Value = serde_json::from_str(&created).expect("--json prints JSON");
    let id = created["access_key_id"].as_str().unwrap().to_owned();
    let secret = created["secret_access_key"].as_str().unwrap().to_owned();
    assert_eq!(created["name"], "bob");
    assert_eq!(created["allow_create_bucket"], false);

    let list = stdout_of(&cli(&node, &["key", "list"]).await);
    assert!(list.starts_with("ACCESS KEY ID"), "{list}");
    assert!(list.lines().any(|l| l.starts_with(&id) && l.contains("bob")), "{list}");
    let info = stdout_of(&cli(&node, &["key", "info", &id]).await);
    assert!(info.contains("May create buckets: no"), "{info}");
    assert!(!info.contains(&secret), "key info shows the secret: {info}");

    let bucket = bucket_name("cli");
    node.client().create_bucket().bucket(&bucket).send().await.unwrap();
    let bob = common::client(&node.endpoint(), &id, &secret);
    assert_eq!(refusal(bob.list_objects_v2().bucket(&bucket).send().await), access_denied());

    let allowed =
        stdout_of(&cli(&node, &["bucket", "allow", &bucket, "--key", &id, "--read"]).await);
    assert_eq!(allowed.trim(), format!("Access key {id} on bucket {bucket}: read"));
    bob.list_objects_v2().bucket(&bucket).send().await.unwrap();
    let more = cli(&node, &["bucket", "allow", &bucket, "--key", &id, "--write", "--json"]).await;
    let detail: Value = serde_json::from_str(&stdout_of(&more)).unwrap();
    assert_eq!(detail["grants"][0]["read"], true, "allow adds to the rights held: {detail}");
    assert_eq!(detail["grants"][0]["write"], true, "{detail}");
    let info = stdout_of(&cli(&node, &["bucket", "info", &bucket]).await);
    assert!(info.contains(&format!("Owner:   {ACCESS_KEY_ID}")), "{info}");
    assert!(info.lines().any(|l| l.contains(&id) && l.contains("read, write")), "{info}");

    let denied = stdout_of(&cli(&node, &["bucket", "deny", &bucket, "--key", &id, "--read"]).await);
    assert_eq!(denied.trim(), format!("Access key {id} on bucket {bucket}: write"));
    stdout_of(&cli(&node, &["bucket", "deny", &bucket, "--key", &id]).await);
    assert_eq!(refusal(bob.list_objects_v2().bucket(&bucket).send().await), access_denied());

    stdout_of(&cli(&node, &["key", "allow", &id, "--create-bucket"]).await);
    bob.create_bucket().bucket(bucket_name("bob")).send().await.unwrap();
    let buckets = stdout_of(&cli(&node, &["bucket", "list"]).await);
    assert!(buckets.lines().any(|l| l.starts_with(&bucket)), "{buckets}");
    let deleted = stdout_of(&cli(&node, &["key", "delete", &id]).await);
    assert_eq!(deleted.trim(), format!("Deleted access key {id}"));
    assert_eq!(refusal(bob.list_buckets().send().await).0, 403);
}

#[tokio::test]
async fn the_cli_imports_a_known_key() {
    let node = TestNode::start().await;
    let args = [
        "key",
        "import",
        "--access-key-id",
        "RVCLIIMPORT000000001",
        "--secret-access-key",
        "cli-imported-secret",
        "--allow-create-bucket",
    ];
    let out = stdout_of(&cli(&node, &args).await);
    assert!(out.contains("RVCLIIMPORT000000001"), "{out}");
    let s3 = common::client(&node.endpoint(), "RVCLIIMPORT000000001", "cli-imported-secret");
    s3.create_bucket().bucket(bucket_name("cli-import")).send().await.unwrap();
    let again = error_of(&cli(&node, &args).await);
    assert!(again.contains("already exists"), "{again}");
}

#[tokio::test]
async fn the_cli_fails_with_one_line_and_status_1() {
    let node = TestNode::start().await;

    let unknown = error_of(&cli(&node, &["key", "info", "RVNOSUCHKEY"]).await);
    assert!(unknown.contains("no access key RVNOSUCHKEY"), "{unknown}");

    let addr = node.admin_addr().to_string();
    let bad_token = error_of(
        &run_cli(vec!["key".into(), "list".into()], move |c| {
            c.env("RINGVAULT_ADMIN_ADDR", addr).env("RINGVAULT_ADMIN_TOKEN", "wrong-token");
        })
        .await,
    );
    assert!(bad_token.contains("rejected the token"), "{bad_token}");

    // A port nothing listens on: bind one, note it, close it.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let args = vec!["bucket".into(), "list".into(), "--admin-addr".into(), free.to_string()];
    let unreachable = error_of(
        &run_cli(args, |c| {
            c.env("RINGVAULT_ADMIN_TOKEN", "any-token");
        })
        .await,
    );
    assert!(unreachable.contains("cannot reach the admin API"), "{unreachable}");

    let empty = tempfile::tempdir().unwrap();
    let dir = empty.path().to_owned();
    let no_token = error_of(
        &run_cli(vec!["key".into(), "list".into()], move |c| {
            c.env("RINGVAULT_DATA_DIR", dir);
        })
        .await,
    );
    assert!(no_token.contains("no admin token"), "{no_token}");
}
