//! Growing and shrinking a ring under load: a 4th node joins while clients write and read
//! through the others, then a live node is decommissioned the same way. No request fails
//! (beyond the SDK's own retries), every acknowledged object reads back byte for byte, every
//! partition ends whole on its new owners, and the removed node can go without taking anything.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use ringvault::admin::AdminClient;
use ringvault::admin::api::ClusterChange;
use ringvault::clock::{Clock, SystemClock};
use ringvault::coordinator::Scope;

use crate::common::{ACCESS_KEY_ID, SECRET_ACCESS_KEY, client, pattern};
use crate::membership::{objects_held, owners_agree};
use crate::ring::{TestCluster, config, wait_for};

const BUCKET: &str = "elastic";
const CLIENTS: usize = 4;

fn size_of(seed: u64) -> usize {
    // One object in ten has blocks of its own; the rest live inside their records.
    if seed.is_multiple_of(10) { 300 << 10 } else { 2_000 + (seed as usize * 131) % 30_000 }
}

/// What the clients saw.
#[derive(Default)]
struct Report {
    /// Acknowledged objects: key and pattern seed.
    acked: Vec<(String, u64)>,
    failures: Vec<String>,
    /// `(seconds since the workload began, latency in ms)` of every request.
    latencies: Vec<(f64, f64)>,
}

/// Clients that PUT new objects (two in three requests) and GET acknowledged ones, through
/// `endpoints`, until stopped.
struct Workload {
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<Report>>,
    began: std::time::Instant,
}

impl Workload {
    fn start(endpoints: Vec<String>, tag: u64) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let began = SystemClock.monotonic();
        let tasks = (0..CLIENTS as u64)
            .map(|c| {
                let (stop, endpoints) = (stop.clone(), endpoints.clone());
                tokio::spawn(async move {
                    let clients: Vec<_> = endpoints
                        .iter()
                        .map(|e| client(e, ACCESS_KEY_ID, SECRET_ACCESS_KEY))
                        .collect();
                    let mut rng = StdRng::seed_from_u64(tag * 100 + c);
                    let mut report = Report::default();
                    let mut n = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        let s3 = &clients[rng.random_range(0..clients.len())];
                        let t0 = SystemClock.monotonic();
                        if report.acked.is_empty() || rng.random_range(0..3) > 0 {
                            n += 1;
                            let seed = tag * 1_000_000 + c * 100_000 + n;
                            let key = format!("w{tag}/c{c}/{n:05}");
                            let body = pattern(size_of(seed), seed);
                            let put = s3.put_object().bucket(BUCKET).key(&key).body(body.into());
                            match put.send().await {
                                Ok(_) => report.acked.push((key, seed)),
                                Err(e) => report.failures.push(format!("PUT {key}: {e:?}")),
                            }
                        } else {
                            let (key, seed) =
                                report.acked[rng.random_range(0..report.acked.len())].clone();
                            let got = s3.get_object().bucket(BUCKET).key(&key).send().await;
                            match got {
                                Ok(o) => {
                                    let body = o.body.collect().await.unwrap().into_bytes();
                                    if body != pattern(size_of(seed), seed) {
                                        report.failures.push(format!("GET {key}: wrong bytes"));
                                    }
                                }
                                Err(e) => report.failures.push(format!("GET {key}: {e:?}")),
                            }
                        }
                        let now = SystemClock.monotonic();
                        report.latencies.push((
                            now.duration_since(began).as_secs_f64(),
                            now.duration_since(t0).as_secs_f64() * 1000.0,
                        ));
                    }
                    report
                })
            })
            .collect();
        Workload { stop, tasks, began }
    }

    fn seconds(&self) -> f64 {
        SystemClock.monotonic().duration_since(self.began).as_secs_f64()
    }

    async fn finish(self) -> Report {
        self.stop.store(true, Ordering::Relaxed);
        let mut all = Report::default();
        for task in self.tasks {
            let r = task.await.unwrap();
            all.acked.extend(r.acked);
            all.failures.extend(r.failures);
            all.latencies.extend(r.latencies);
        }
        all
    }
}

fn p99(latencies: &[(f64, f64)], from: f64, to: f64) -> f64 {
    let mut window: Vec<f64> =
        latencies.iter().filter(|(at, _)| (from..to).contains(at)).map(|(_, ms)| *ms).collect();
    window.sort_by(f64::total_cmp);
    window.get(window.len().saturating_sub(1) * 99 / 100).copied().unwrap_or(0.0)
}

fn admin(cluster: &TestCluster, i: usize) -> AdminClient {
    let node = cluster.node(i);
    AdminClient::new(&node.admin_addr().to_string(), node.admin_token().clone()).unwrap()
}

/// Waits until the nodes `nodes` run layout `version`, pulled all they gained, and no longer
/// need the previous owners for reads.
async fn settle(cluster: &TestCluster, nodes: &[usize], version: u64) {
    wait_for("the layout change to settle", 120, || {
        nodes.iter().all(|i| {
            let n = cluster.node(*i);
            n.ring().layout().version == version
                && n.coordinator().repair_control().rebalance().partitions_pending == 0
                && n.ring().read_transition().is_none()
        })
    })
    .await;
}

async fn check_every_object(cluster: &TestCluster, nodes: &[usize], acked: &[(String, u64)]) {
    for (j, (key, seed)) in acked.iter().enumerate() {
        let s3 = cluster.s3(nodes[j % nodes.len()]);
        let got = s3.get_object().bucket(BUCKET).key(key).send().await.unwrap();
        let body = got.body.collect().await.unwrap().into_bytes();
        assert!(body == pattern(size_of(*seed), *seed), "{key} reads back wrong");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_joins_and_another_leaves_under_load_without_a_failed_request() {
    let mut cluster = TestCluster::start(3).await;
    cluster.s3(0).create_bucket().bucket(BUCKET).send().await.unwrap();
    // Some data before the change, so that the join has something to move.
    for i in 0..300u64 {
        let body = pattern(size_of(i), i);
        let put =
            cluster.s3((i % 3) as usize).put_object().bucket(BUCKET).key(format!("pre/{i:04}"));
        put.body(body.into()).send().await.unwrap();
    }
    let pre: Vec<(String, u64)> = (0..300u64).map(|i| (format!("pre/{i:04}"), i)).collect();

    // A 4th node joins while the clients work through the first three.
    let endpoints = |cluster: &TestCluster, nodes: &[usize]| -> Vec<String> {
        nodes.iter().map(|i| format!("http://{}", cluster.node(*i).s3_addr())).collect()
    };
    let workload = Workload::start(endpoints(&cluster, &[0, 1, 2]), 1);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let fresh = tempfile::tempdir().unwrap();
    let seeds = vec![cluster.node(0).rpc_addr().unwrap()];
    let joined = ringvault::node::start(config(fresh.path(), seeds, 4)).await.unwrap();
    let new_id = joined.node_id();
    cluster.nodes.push(Some(joined));
    cluster.dirs.push(fresh);
    wait_for("gossip to report the new node", 10, || {
        cluster.node(0).ring().view().get(new_id).is_some()
    })
    .await;
    let add = ClusterChange::Add {
        node_id: format!("{new_id:016x}"),
        zone: Some("z".into()),
        capacity: None,
    };
    wait_for("the first layout to settle", 30, || {
        cluster.node(0).ring().read_transition().is_none()
    })
    .await;
    admin(&cluster, 0).stage_change(&add).await.unwrap();
    let join_began = workload.seconds();
    let applied = admin(&cluster, 0).apply_changes().await.unwrap();
    assert_eq!(applied.members, 4);
    settle(&cluster, &[0, 1, 2, 3], applied.layout_version).await;
    let join_ended = workload.seconds();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let report = workload.finish().await;
    assert!(report.failures.is_empty(), "requests failed during the join: {:#?}", report.failures);
    let pulled = cluster.node(3).coordinator().repair_control().rebalance();
    eprintln!(
        "join: {} partitions, {} items, {} blocks, {:.1} MB pulled by the new node in {:.2} s \
         ({:.1} MB/s); workload p99 {:.1} ms before, {:.1} ms during; {} requests, {} acked PUTs",
        pulled.partitions_pulled,
        pulled.items_pulled,
        pulled.blocks_pulled,
        pulled.bytes_pulled as f64 / 1e6,
        join_ended - join_began,
        pulled.bytes_pulled as f64 / 1e6 / (join_ended - join_began),
        p99(&report.latencies, 0.0, join_began),
        p99(&report.latencies, join_began, join_ended),
        report.latencies.len(),
        report.acked.len()
    );
    assert!(pulled.partitions_pulled > 0 && pulled.items_pulled > 0);
    // Balanced per the assignment: each of four nodes owns about three quarters of the
    // partitions (N = 3), within 10 %.
    let layout = cluster.node(0).ring().layout();
    let fair = f64::from(layout.partition_count()) * 3.0 / 4.0;
    for n in cluster.live() {
        let owned = layout.owned_partitions(n.node_id()).len() as f64;
        assert!((owned - fair).abs() <= fair * 0.1, "node {:x} owns {owned}", n.node_id());
    }
    // A write that failed before its client's retry succeeded may have left a version on
    // one owner (a sibling, as any failed write may); the rebalance carried it to the new
    // owner, and anti-entropy brings it to the rest.
    repair_everywhere(&cluster, &[0, 1, 2, 3]).await;
    wait_for("the owners to agree after the join", 30, || owners_agree(&cluster, &[0, 1, 2, 3]))
        .await;
    let mut acked = pre;
    acked.extend(report.acked);
    check_every_object(&cluster, &[0, 1, 2, 3], &acked).await;

    // Node 2 is decommissioned while the clients work through the other three.
    let workload = Workload::start(endpoints(&cluster, &[0, 1, 3]), 2);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let leaving = cluster.node(2).node_id();
    admin(&cluster, 0)
        .stage_change(&ClusterChange::Remove { node_id: format!("{leaving:016x}") })
        .await
        .unwrap();
    let applied = admin(&cluster, 0).apply_changes().await.unwrap();
    assert_eq!(applied.members, 3);
    settle(&cluster, &[0, 1, 3], applied.layout_version).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let report = workload.finish().await;
    assert!(
        report.failures.is_empty(),
        "requests failed during the removal: {:#?}",
        report.failures
    );
    // Its data moved before it stopped owning anything: it can go now, and three copies of
    // everything are on the three left.
    cluster.stop(2).await;
    repair_everywhere(&cluster, &[0, 1, 3]).await;
    wait_for("the owners to agree after the removal", 30, || owners_agree(&cluster, &[0, 1, 3]))
        .await;
    acked.extend(report.acked);
    for i in [0, 1, 3] {
        assert_eq!(objects_held(cluster.node(i)), acked.len(), "node {i} holds every object");
    }
    check_every_object(&cluster, &[0, 1, 3], &acked).await;
}

/// An anti-entropy pass over every partition on each of `nodes`, waited for.
async fn repair_everywhere(cluster: &TestCluster, nodes: &[usize]) {
    let control = |i: usize| cluster.node(i).coordinator().repair_control().clone();
    let before: Vec<u64> = nodes.iter().map(|i| control(*i).progress().passes).collect();
    for i in nodes {
        control(*i).request(Scope::All);
    }
    wait_for("an anti-entropy pass on every node", 60, || {
        nodes.iter().zip(&before).all(|(i, passes)| {
            let p = control(*i).progress();
            p.passes > *passes && !p.running
        })
    })
    .await;
}
