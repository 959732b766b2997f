//! Shared test harness: an in-process node on 127.0.0.1:0 with a temporary data directory, and
//! an aws-sdk-s3 client pointed at it.

#![allow(dead_code)]

use std::path::Path;

use aws_credential_types::Credentials;
use aws_sdk_s3::config::{BehaviorVersion, Region};
use ringvault::config::{Config, Settings};
use ringvault::node::{self, RunningNode};

pub const ACCESS_KEY_ID: &str = "RVTESTROOTKEY0000001";
pub const SECRET_ACCESS_KEY: &str = "test-secret-key-for-ringvault-integration";
pub const REGION: &str = "us-east-1";

/// A node running in this process, with its data in a temporary directory.
pub struct TestNode {
    pub node: Option<RunningNode>,
    pub dir: tempfile::TempDir,
}

pub fn config(data_dir: &Path) -> Config {
    let settings = Settings {
        data_dir: Some(data_dir.to_owned()),
        s3_addr: Some("127.0.0.1:0".parse().unwrap()),
        admin_addr: Some("127.0.0.1:0".parse().unwrap()),
        access_key_id: Some(ACCESS_KEY_ID.into()),
        secret_access_key: Some(SECRET_ACCESS_KEY.into()),
        ..Settings::default()
    };
    let mut config = Config::resolve(settings).unwrap();
    config.seed = Some(7);
    config
}

impl TestNode {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> Self {
        ringvault::telemetry::init();
        let dir = tempfile::tempdir().unwrap();
        let mut config = config(dir.path());
        adjust(&mut config);
        let node = node::start(config).await.unwrap();
        Self { node: Some(node), dir }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.node.as_ref().unwrap().s3_addr())
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        self.node.as_ref().unwrap().s3_addr()
    }

    pub fn client(&self) -> aws_sdk_s3::Client {
        client(&self.endpoint(), ACCESS_KEY_ID, SECRET_ACCESS_KEY)
    }

    pub fn admin_addr(&self) -> std::net::SocketAddr {
        self.node.as_ref().unwrap().admin_addr()
    }

    /// The admin token (generated into the data directory unless the test configured one).
    pub fn admin_token(&self) -> String {
        self.node.as_ref().unwrap().admin_token().expose().to_owned()
    }

    /// A client of the node's admin API, holding its token.
    pub fn admin(&self) -> ringvault::admin::AdminClient {
        let token = ringvault::admin::AdminToken::new(self.admin_token());
        ringvault::admin::AdminClient::new(&self.admin_addr().to_string(), token).unwrap()
    }

    /// Stops the node; its data directory stays.
    pub async fn stop(&mut self) {
        if let Some(node) = self.node.take() {
            node.shutdown().await;
        }
    }

    /// Runs the node's reclaim queue once (start the node with `reclaim_grace` zero for
    /// everything queued to be due) and returns how many bodies it deleted since the node
    /// started: the background loop (every 100 ms then) may have taken some first.
    pub async fn reclaim_now(&self) -> u64 {
        let objects = self.node.as_ref().unwrap().objects();
        objects.reclaim_due().await.unwrap();
        objects.reclaimed_bodies()
    }

    /// Blocks in the stopped node's store, read by opening its database directly.
    pub async fn block_count(&self) -> u64 {
        assert!(self.node.is_none(), "stop the node first");
        let path = self.dir.path().join("ringvault.redb");
        let store = ringvault::store::Store::open(&path, ringvault::store::StoreOptions::default())
            .unwrap();
        let count = store.block_count().unwrap();
        store.close().await;
        count
    }

    /// Stops the node and starts a new one on the same data directory.
    pub async fn restart(&mut self) {
        if let Some(node) = self.node.take() {
            node.shutdown().await;
        }
        let node = node::start(config(self.dir.path())).await.unwrap();
        self.node = Some(node);
    }
}

pub fn client(endpoint: &str, access_key_id: &str, secret: &str) -> aws_sdk_s3::Client {
    let http = aws_smithy_http_client::Builder::new().build_http();
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .credentials_provider(Credentials::new(access_key_id, secret, None, None, "test"))
        .http_client(http)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// A bucket name unique within the test run.
pub fn bucket_name(tag: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!("{tag}-{}", N.fetch_add(1, Ordering::Relaxed))
}

/// Deterministic pseudo-random bytes (xorshift), for bodies whose content matters.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}
pub mod raw;
