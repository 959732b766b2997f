//! Load benchmark: PUT then GET of small objects through aws-sdk-s3 against in-process nodes.
//!
//! Goal: a repeatable ops/s figure to compare configurations on the same machine (quote ratios,
//! not absolute numbers: machines are shared and noisy). Method: start a node on 127.0.0.1:0
//! with a temporary data directory, create a bucket, run `BENCH_OPS` PUTs of `BENCH_SIZE`
//! bytes from `BENCH_CONCURRENCY` tasks, then as many GETs, and print ops/s and latency
//! percentiles for each phase.
//!
//! Run: `cargo bench --bench s3_load` (env: BENCH_OPS=20000 BENCH_SIZE=4096 BENCH_CONCURRENCY=32).

use std::sync::Arc;
use std::time::Duration;

use aws_credential_types::Credentials;
use aws_sdk_s3::config::{BehaviorVersion, Region};
use ringvault::clock::{Clock, SystemClock};
use ringvault::config::{Config, Settings};

const ACCESS_KEY_ID: &str = "RVBENCHKEY0000000001";
const SECRET: &str = "ringvault-bench-secret";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn client(endpoint: &str) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .credentials_provider(Credentials::new(ACCESS_KEY_ID, SECRET, None, None, "bench"))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

struct Phase {
    name: &'static str,
    ops: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Phase {
    fn report(&mut self) {
        self.latencies.sort_unstable();
        let pct = |p: f64| {
            let i = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
            self.latencies.get(i).copied().unwrap_or_default()
        };
        println!(
            "{:<4} {:>8} ops in {:>6.2}s: {:>9.0} ops/s  p50 {:>6.2}ms  p99 {:>6.2}ms",
            self.name,
            self.ops,
            self.elapsed.as_secs_f64(),
            self.ops as f64 / self.elapsed.as_secs_f64(),
            pct(0.5).as_secs_f64() * 1e3,
            pct(0.99).as_secs_f64() * 1e3,
        );
    }
}

async fn run_phase(
    name: &'static str,
    clients: &[aws_sdk_s3::Client],
    bucket: &str,
    ops: usize,
    concurrency: usize,
    body: Arc<Vec<u8>>,
) -> Phase {
    let clock = SystemClock;
    let start = clock.monotonic();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let s3 = clients[worker % clients.len()].clone();
        let (bucket, next, body) = (bucket.to_owned(), next.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            let clock = SystemClock;
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= ops {
                    break;
                }
                let key = format!("obj-{i:08}");
                let t0 = clock.monotonic();
                if name == "PUT" {
                    s3.put_object()
                        .bucket(&bucket)
                        .key(&key)
                        .body(body.to_vec().into())
                        .send()
                        .await
                        .expect("PUT");
                } else {
                    let out = s3.get_object().bucket(&bucket).key(&key).send().await.expect("GET");
                    let got = out.body.collect().await.expect("GET body").into_bytes();
                    assert_eq!(got.len(), body.len());
                }
                latencies.push(clock.monotonic() - t0);
            }
            latencies
        }));
    }
    let mut latencies = Vec::with_capacity(ops);
    for t in tasks {
        latencies.extend(t.await.expect("worker"));
    }
    Phase { name, ops, elapsed: clock.monotonic() - start, latencies }
}

fn main() {
    let ops = env_usize("BENCH_OPS", 20_000);
    let size = env_usize("BENCH_SIZE", 4096);
    let concurrency = env_usize("BENCH_CONCURRENCY", 32);
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let dir = tempfile::tempdir().expect("temp dir");
        let settings = Settings {
            data_dir: Some(dir.path().to_owned()),
            s3_addr: Some("127.0.0.1:0".parse().expect("addr")),
            access_key_id: Some(ACCESS_KEY_ID.into()),
            secret_access_key: Some(SECRET.into()),
            ..Settings::default()
        };
        let node =
            ringvault::node::start(Config::resolve(settings).expect("config")).await.expect("node");
        let clients = vec![client(&format!("http://{}", node.s3_addr()))];
        clients[0].create_bucket().bucket("bench").send().await.expect("bucket");
        println!("single node, {ops} objects of {size} bytes, {concurrency} concurrent clients");
        let body = Arc::new(vec![0x5a; size]);
        run_phase("PUT", &clients, "bench", ops, concurrency, body.clone()).await.report();
        run_phase("GET", &clients, "bench", ops, concurrency, body).await.report();
        node.shutdown().await;
    });
}
