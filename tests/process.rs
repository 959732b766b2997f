//! Tests of the real binary as a process. Goal: the first start bootstraps a usable root key,
//! an acknowledged write survives `kill -9`, and a PUT interrupted by `kill -9` leaves nothing
//! behind once the node restarts (its blocks are reclaimed, no partial object is visible).
//! Method: run `ringvault` as a child process on 127.0.0.1:0 with a temporary data directory,
//! kill it with SIGKILL, restart it on the same directory, and inspect both through the S3 API
//! and the store itself.

#[path = "common/mod.rs"]
mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use common::raw::{RawRequest, Signer, UNSIGNED_PAYLOAD};
use common::{ACCESS_KEY_ID, SECRET_ACCESS_KEY, pattern};

/// A `ringvault` child process.
struct Process {
    child: Child,
    addr: std::net::SocketAddr,
}

impl Process {
    fn start(data_dir: &std::path::Path) -> Process {
        Self::start_with_banner(data_dir, true, &[]).0
    }

    /// Starts the node, with the test root key or without any (then it generates one), and
    /// returns the banner lines it printed up to and including the aws-cli example.
    fn start_with_banner(
        data_dir: &std::path::Path,
        with_key: bool,
        env: &[(&str, &str)],
    ) -> (Process, Vec<String>) {
        let mut command = Command::new(env!("CARGO_BIN_EXE_ringvault"));
        command.envs(env.iter().copied());
        command
            .env("RINGVAULT_DATA_DIR", data_dir)
            .env("RINGVAULT_S3_ADDR", "127.0.0.1:0")
            .env("RINGVAULT_ADMIN_ADDR", "127.0.0.1:0")
            .env_remove("RINGVAULT_ADMIN_TOKEN")
            .env_remove("RINGVAULT_ACCESS_KEY_ID")
            .env_remove("RINGVAULT_SECRET_ACCESS_KEY")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if with_key {
            command
                .env("RINGVAULT_ACCESS_KEY_ID", ACCESS_KEY_ID)
                .env("RINGVAULT_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY);
        }
        let mut child = command.spawn().expect("the ringvault binary starts");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let mut banner = Vec::new();
        loop {
            let line = lines.next().expect("the node prints its banner").unwrap();
            let done = line.contains("aws --endpoint-url");
            banner.push(line);
            if done {
                break;
            }
        }
        let addr = banner
            .iter()
            .find_map(|l| l.strip_prefix("RingVault S3 endpoint: http://"))
            .expect("the banner names the endpoint")
            .trim()
            .parse()
            .unwrap();
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        (Process { child, addr }, banner)
    }

    fn client(&self) -> aws_sdk_s3::Client {
        common::client(&format!("http://{}", self.addr), ACCESS_KEY_ID, SECRET_ACCESS_KEY)
    }

    fn kill_9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    fn terminate(mut self) {
        let status =
            Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status().unwrap();
        assert!(status.success());
        let status = self.child.wait().unwrap();
        assert!(status.success(), "the node exits cleanly on SIGTERM: {status:?}");
    }
}

async fn store_counts(data_dir: &std::path::Path) -> (u64, usize) {
    let path = data_dir.join("ringvault.redb");
    let store =
        ringvault::store::Store::open(&path, ringvault::store::StoreOptions::default()).unwrap();
    let counts = (store.block_count().unwrap(), store.journal().unwrap().len());
    store.close().await;
    counts
}

#[tokio::test]
async fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let node = Process::start(dir.path());
    let s3 = node.client();
    s3.create_bucket().bucket("durable").send().await.unwrap();
    let mut expected = Vec::new();
    for i in 0..20u64 {
        let body = pattern(if i % 4 == 0 { 2_500_000 } else { 1000 + i as usize }, i + 1);
        let key = format!("k{i}");
        s3.put_object().bucket("durable").key(&key).body(body.clone().into()).send().await.unwrap();
        expected.push((key, body));
    }
    s3.delete_object().bucket("durable").key("k1").send().await.unwrap();
    expected.retain(|(k, _)| k != "k1");
    node.kill_9();

    let node = Process::start(dir.path());
    let s3 = node.client();
    for (key, body) in &expected {
        let got = s3.get_object().bucket("durable").key(key).send().await.unwrap();
        assert!(
            got.body.collect().await.unwrap().into_bytes() == body[..],
            "{key} differs after kill -9"
        );
    }
    let err = s3.head_object().bucket("durable").key("k1").send().await.unwrap_err();
    assert_eq!(
        err.raw_response().unwrap().status().as_u16(),
        404,
        "an acknowledged delete came back"
    );
    node.terminate();
}

#[tokio::test]
async fn a_put_interrupted_by_kill_9_leaves_nothing_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let node = Process::start(dir.path());
    node.client().create_bucket().bucket("crash").send().await.unwrap();

    // Declare 8 MiB, send 5 MiB: several blocks are written, the record never is.
    let body = pattern(5 << 20, 3);
    let mut request = RawRequest::new("PUT", node.addr, "/crash/partial");
    request.set_header("content-length", &(8u64 << 20).to_string());
    Signer::new().sign(&mut request, UNSIGNED_PAYLOAD);
    let mut head = request.to_bytes();
    head.truncate(head.len() - request.body.len());
    let mut stream = tokio::net::TcpStream::connect(node.addr).await.unwrap();
    stream.write_all(&head).await.unwrap();
    stream.write_all(&body).await.unwrap();
    stream.flush().await.unwrap();
    // Let the server cut and commit the blocks it has received.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    node.kill_9();
    drop(stream);

    let (blocks, journal) = store_counts(dir.path()).await;
    assert!(blocks >= 3, "the interrupted PUT should have left blocks behind ({blocks})");
    assert_eq!(journal, 1, "the interrupted PUT is journaled");

    // Recovery queues the body for reclamation; with no grace period the queue deletes it
    // within a few of its passes (every 100 ms).
    let no_grace = [("RINGVAULT_RECLAIM_GRACE_MS", "0")];
    let node = Process::start_with_banner(dir.path(), true, &no_grace).0;
    let err = node.client().head_object().bucket("crash").key("partial").send().await.unwrap_err();
    assert_eq!(err.raw_response().unwrap().status().as_u16(), 404, "a partial object is visible");
    let mut counts = (u64::MAX, usize::MAX);
    let mut node = Some(node);
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        node.take().unwrap().terminate();
        counts = store_counts(dir.path()).await;
        if counts == (0, 0) {
            break;
        }
        node = Some(Process::start_with_banner(dir.path(), true, &no_grace).0);
    }
    assert_eq!(counts, (0, 0), "recovery must reclaim every orphaned block");
}

#[tokio::test]
async fn the_first_start_creates_a_root_key_and_says_how_to_use_it() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let (node, banner) = Process::start_with_banner(dir.path(), false, &[]);
    let text = banner.join("\n");
    let key_id = banner
        .iter()
        .find_map(|l| l.strip_prefix("Root access key id:"))
        .expect("the banner names the key id")
        .trim()
        .to_owned();
    let secret_file = dir.path().join("root_secret_access_key");
    assert!(text.contains(&secret_file.display().to_string()), "{text}");
    assert!(text.contains(&format!("AWS_ACCESS_KEY_ID={key_id}")), "{text}");
    let mode = std::fs::metadata(&secret_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the secret file must be readable by its owner only");
    let secret = std::fs::read_to_string(&secret_file).unwrap().trim().to_owned();
    assert!(!text.contains(&secret), "the secret itself must not be printed");
    // The admin token: generated alongside, private, named by the banner, never printed.
    let token_file = dir.path().join("admin_token");
    assert!(
        text.contains(&format!("Admin token:           in {}", token_file.display())),
        "{text}"
    );
    assert!(banner.iter().any(|l| l.starts_with("Admin API:             http://127.0.0.1:")));
    let mode = std::fs::metadata(&token_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the admin token file must be readable by its owner only");
    let token = std::fs::read_to_string(&token_file).unwrap().trim().to_owned();
    assert!(!text.contains(&token), "the admin token itself must not be printed");

    let s3 = common::client(&format!("http://{}", node.addr), &key_id, &secret);
    s3.create_bucket().bucket("first").send().await.unwrap();
    node.terminate();

    // A restart keeps the same key and the same admin token.
    let (node, banner) = Process::start_with_banner(dir.path(), false, &[]);
    assert!(banner.iter().any(|l| l.contains(&key_id)), "{banner:?}");
    assert_eq!(std::fs::read_to_string(&token_file).unwrap().trim(), token);
    let s3 = common::client(&format!("http://{}", node.addr), &key_id, &secret);
    s3.head_bucket().bucket("first").send().await.unwrap();
    node.terminate();
}
