//! Load benchmark: PUT then GET of small objects through aws-sdk-s3 against in-process nodes.
//!
//! Goal: a repeatable ops/s figure to compare configurations on the same machine (quote ratios,
//! not absolute numbers: machines are shared and noisy). Method: start a node on 127.0.0.1:0
//! with a temporary data directory, create a bucket, run `BENCH_OPS` PUTs of `BENCH_SIZE`
//! bytes from `BENCH_CONCURRENCY` tasks, then as many GETs, and print ops/s and latency
//! percentiles for each phase.
//!
//! With `BENCH_NODES=3` the same load runs against an in-process ring of that many nodes
//! talking TCP on loopback (N=3, R=W=2; clients spread over the nodes), and a third phase
//! measures hinted hand-off: one node stops, `BENCH_HANDOFF_OPS` objects are written without
//! it, it restarts, and the time until no node holds a hint any more is printed. A fourth
//! measures anti-entropy: that node stops again, loses every item and block (its identity and
//! layout kept, so nothing but anti-entropy can restore it), restarts, and a repair pass runs
//! on it while clients PUT new objects through the others; printed are the restore's time,
//! items/s and MB/s, and the PUT latencies before and during it.
//!
//! Run: `cargo bench --bench s3_load` (env: BENCH_OPS=20000 BENCH_SIZE=4096 BENCH_CONCURRENCY=32
//! BENCH_NODES=1 BENCH_HANDOFF_OPS=2000).

use std::sync::Arc;
use std::time::Duration;

use aws_credential_types::Credentials;
use aws_sdk_s3::config::{BehaviorVersion, Region};
use ringvault::clock::{Clock, SystemClock};
use ringvault::config::{Config, Settings};
use ringvault::node::RunningNode;
use ringvault::ring::{Layout, Member};

const ACCESS_KEY_ID: &str = "RVBENCHKEY0000000001";
const SECRET: &str = "ringvault-bench-secret";
const CLUSTER_SECRET: &str = "ringvault-bench-cluster-secret";

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

fn settings(dir: &std::path::Path, cluster: Option<Vec<std::net::SocketAddr>>) -> Config {
    let mut settings = Settings {
        data_dir: Some(dir.to_owned()),
        s3_addr: Some("127.0.0.1:0".parse().expect("addr")),
        admin_addr: Some("127.0.0.1:0".parse().expect("addr")),
        access_key_id: Some(ACCESS_KEY_ID.into()),
        secret_access_key: Some(SECRET.into()),
        ..Settings::default()
    };
    if let Some(seeds) = cluster {
        settings.rpc_addr = Some("127.0.0.1:0".parse().expect("addr"));
        settings.seeds = Some(seeds);
        settings.cluster_secret = Some(CLUSTER_SECRET.into());
        settings.gossip_interval_ms = Some(100);
    }
    Config::resolve(settings).expect("config")
}

async fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..600 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

/// `count` in-process nodes joined through the first, with a layout of all of them applied.
async fn start_ring(dirs: &[tempfile::TempDir]) -> Vec<RunningNode> {
    let first =
        ringvault::node::start(settings(dirs[0].path(), Some(Vec::new()))).await.expect("node");
    let seed = first.rpc_addr().expect("rpc address");
    let mut nodes = vec![first];
    for dir in &dirs[1..] {
        nodes.push(
            ringvault::node::start(settings(dir.path(), Some(vec![seed]))).await.expect("node"),
        );
    }
    let ids: Vec<u64> = nodes.iter().map(RunningNode::node_id).collect();
    wait_for("gossip", || ids.iter().all(|id| nodes[0].ring().view().get(*id).is_some())).await;
    let members = ids
        .iter()
        .enumerate()
        .map(|(i, id)| Member { id: *id, zone: format!("z{i}"), capacity: 1 })
        .collect();
    let layout = Layout::next(&nodes[0].ring().layout(), members, 3).expect("layout");
    let version = layout.version;
    nodes[0].ring().install_layout(layout);
    wait_for("the layout", || nodes.iter().all(|n| n.ring().layout().version == version)).await;
    nodes
}

fn hints(nodes: &[RunningNode]) -> u64 {
    nodes.iter().flat_map(|n| n.coordinator().pending_hints()).map(|(_, n)| n).sum()
}

/// The last node loses its data and anti-entropy restores it while PUTs go on.
async fn anti_entropy_phase(
    nodes: &mut Vec<RunningNode>,
    dirs: &[tempfile::TempDir],
    clients: &[aws_sdk_s3::Client],
    ops: usize,
    concurrency: usize,
    size: usize,
) {
    let last = nodes.pop().expect("a node");
    last.shutdown().await;
    let dir = dirs.last().expect("a directory").path();
    let store = ringvault::store::Store::open(&dir.join("ringvault.redb"), Default::default())
        .expect("store");
    let (items, blocks) = store.drop_all_data().await.expect("wipe");
    store.close().await;
    let seed = nodes[0].rpc_addr().expect("rpc address");
    nodes.push(ringvault::node::start(settings(dir, Some(vec![seed]))).await.expect("restart"));
    let wiped = nodes.last().expect("a node");
    let peers: Vec<u64> = nodes.iter().map(RunningNode::node_id).collect();
    wait_for("the peers", || {
        peers.iter().all(|p| *p == wiped.node_id() || wiped.ring().is_alive(*p))
    })
    .await;
    let survivors = &clients[..clients.len() - 1];
    clients[0].create_bucket().bucket("during").send().await.expect("bucket");
    clients[0].create_bucket().bucket("before").send().await.expect("bucket");
    let body = Arc::new(vec![0x3c; size]);
    let put_ops = ops / 4;
    println!("anti-entropy: the wiped node lost {items} items and {blocks} blocks");
    let mut before =
        run_phase("PUT", survivors, "before", put_ops, concurrency, body.clone()).await;
    print!("  PUTs before the repair: ");
    before.report();
    let control = wiped.coordinator().repair_control().clone();
    let clock = SystemClock;
    let started = clock.monotonic();
    control.request(ringvault::coordinator::Scope::All);
    let mut during = run_phase("PUT", survivors, "during", put_ops, concurrency, body).await;
    let repaired = |c: &ringvault::coordinator::RepairControl| {
        let p = c.progress();
        p.passes > 0 && !p.running
    };
    let overlapped = !repaired(&control);
    wait_for("the repair pass", || repaired(&control)).await;
    let took = clock.monotonic().duration_since(started).as_secs_f64();
    let p = control.progress();
    print!("  PUTs during the repair{}: ", if overlapped { "" } else { " (it ended first)" });
    during.report();
    println!(
        "  restored {} items and {} blocks, {:.1} MB, in {took:.2} s: {:.0} items/s, {:.1} MB/s",
        p.items_moved,
        p.blocks_moved,
        p.bytes_moved as f64 / 1e6,
        p.items_moved as f64 / took,
        p.bytes_moved as f64 / 1e6 / took,
    );
}

fn main() {
    let ops = env_usize("BENCH_OPS", 20_000);
    let size = env_usize("BENCH_SIZE", 4096);
    let concurrency = env_usize("BENCH_CONCURRENCY", 32);
    let node_count = env_usize("BENCH_NODES", 1).max(1);
    let handoff_ops = env_usize("BENCH_HANDOFF_OPS", 2000);
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let dirs: Vec<_> =
            (0..node_count).map(|_| tempfile::tempdir().expect("temp dir")).collect();
        let mut nodes = if node_count == 1 {
            vec![ringvault::node::start(settings(dirs[0].path(), None)).await.expect("node")]
        } else {
            start_ring(&dirs).await
        };
        let clients: Vec<_> =
            nodes.iter().map(|n| client(&format!("http://{}", n.s3_addr()))).collect();
        clients[0].create_bucket().bucket("bench").send().await.expect("bucket");
        let what = if node_count == 1 {
            "single node".to_owned()
        } else {
            format!("{node_count}-node ring on loopback (N=3, R=W=2)")
        };
        println!("{what}, {ops} objects of {size} bytes, {concurrency} concurrent clients");
        let body = Arc::new(vec![0x5a; size]);
        run_phase("PUT", &clients, "bench", ops, concurrency, body.clone()).await.report();
        run_phase("GET", &clients, "bench", ops, concurrency, body.clone()).await.report();
        if node_count > 1 {
            // Hinted hand-off: the last node stops, the others take writes for it.
            let last = nodes.pop().expect("a node");
            last.shutdown().await;
            let survivors = &clients[..clients.len() - 1];
            clients[0].create_bucket().bucket("handoff").send().await.expect("bucket");
            run_phase("PUT", survivors, "handoff", handoff_ops, concurrency, body).await.report();
            let held = hints(&nodes);
            let clock = SystemClock;
            let restarted_at = clock.monotonic();
            let seed = nodes[0].rpc_addr().expect("rpc address");
            let dir = dirs.last().expect("a directory").path();
            nodes.push(
                ringvault::node::start(settings(dir, Some(vec![seed]))).await.expect("restart"),
            );
            wait_for("the hints to drain", || hints(&nodes) == 0).await;
            println!(
                "hand-off: {held} hints delivered {:.0} ms after the node restarted",
                clock.monotonic().duration_since(restarted_at).as_secs_f64() * 1e3
            );
            anti_entropy_phase(&mut nodes, &dirs, &clients, ops, concurrency, size).await;
        }
        for node in nodes {
            node.shutdown().await;
        }
    });
}
