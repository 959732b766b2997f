//! Real `ringvault` processes on loopback forming one ring. Goal: an acknowledged write survives
//! `kill -9` of a node while a client uploads; the survivors serve it byte-identical; the
//! killed node, restarted, receives its hints until none are left and then holds every object
//! itself; with five nodes and two down, writes keep succeeding (sloppy quorum) and every
//! acknowledged object reads back; `ringvault health` follows what the ring can serve. Method: nodes on fixed loopback ports chosen outside the
//! ephemeral range (a restarted node comes back on the same addresses), layout applied through
//! the admin API, `SIGKILL` to crash, aws-sdk-s3 as the client.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ringvault::admin::api::ClusterChange;
use ringvault::admin::{AdminClient, AdminToken};
use ringvault::clock::{Clock, SystemClock};

use crate::common::{ACCESS_KEY_ID, SECRET_ACCESS_KEY, client, pattern};

const CLUSTER_SECRET: &str = "process-cluster-secret-0123456789";
const ADMIN_TOKEN: &str = "process-cluster-admin-token";
const BUCKET: &str = "uploads";

/// Where one node listens; the same across restarts.
#[derive(Debug, Clone, Copy)]
struct Ports {
    s3: SocketAddr,
    admin: SocketAddr,
    rpc: SocketAddr,
}

/// `count` nodes' ports, three consecutive free ports each, from a base in 10000..20000: below
/// the ephemeral range, so the kernel never hands one out to an outgoing connection while its
/// node is down.
fn free_ports(count: usize) -> Vec<Ports> {
    use rand::{Rng, SeedableRng};
    use std::sync::atomic::{AtomicU64, Ordering};
    // Tests in this binary run concurrently (and other test binaries may too): each call
    // draws from its own stream.
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let call = CALLS.fetch_add(1, Ordering::Relaxed);
    let mut rng = rand::rngs::StdRng::seed_from_u64(u64::from(std::process::id()) << 16 | call);
    'search: loop {
        let base: u16 = rng.random_range(10_000..20_000 - 3 * count as u16);
        let addrs: Vec<SocketAddr> =
            (0..3 * count as u16).map(|i| SocketAddr::from(([127, 0, 0, 1], base + i))).collect();
        for addr in &addrs {
            if TcpListener::bind(addr).is_err() {
                continue 'search;
            }
        }
        return addrs.chunks(3).map(|c| Ports { s3: c[0], admin: c[1], rpc: c[2] }).collect();
    }
}

/// One `ringvault` child process.
struct Node {
    child: Child,
    ports: Ports,
    id: String,
}

impl Node {
    fn start(dir: &Path, ports: Ports, seed: Option<SocketAddr>, extra: &[(&str, &str)]) -> Node {
        let mut command = Command::new(env!("CARGO_BIN_EXE_ringvault"));
        command
            .env("RINGVAULT_DATA_DIR", dir)
            .env("RINGVAULT_S3_ADDR", ports.s3.to_string())
            .env("RINGVAULT_ADMIN_ADDR", ports.admin.to_string())
            .env("RINGVAULT_RPC_ADDR", ports.rpc.to_string())
            .env("RINGVAULT_CLUSTER_SECRET", CLUSTER_SECRET)
            .env("RINGVAULT_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("RINGVAULT_ACCESS_KEY_ID", ACCESS_KEY_ID)
            .env("RINGVAULT_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
            .env("RINGVAULT_GOSSIP_INTERVAL_MS", "100")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        match seed {
            Some(seed) => command.env("RINGVAULT_SEEDS", seed.to_string()),
            None => command.env_remove("RINGVAULT_SEEDS"),
        };
        for (name, value) in extra {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("the ringvault binary starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut id = None;
        loop {
            let line = lines.next().expect("the node prints its banner").unwrap();
            if let Some(rest) = line.strip_prefix("Cluster RPC:") {
                let hex = rest.split("node id ").nth(1).expect("the banner names the node id");
                id = Some(hex.trim_end_matches(')').to_owned());
            }
            if line.contains("aws --endpoint-url") {
                break;
            }
        }
        // Keep draining stdout so that the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Node { child, ports, id: id.expect("a cluster node prints its RPC line") }
    }

    fn s3(&self) -> aws_sdk_s3::Client {
        client(&format!("http://{}", self.ports.s3), ACCESS_KEY_ID, SECRET_ACCESS_KEY)
    }

    fn admin(&self) -> AdminClient {
        AdminClient::new(&self.ports.admin.to_string(), AdminToken::new(ADMIN_TOKEN.into()))
            .unwrap()
    }

    fn kill_9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn eventually<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let clock = SystemClock;
    let start = clock.monotonic();
    while clock.monotonic().duration_since(start) < limit {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out after {limit:?} waiting for {what}");
}

/// Starts `count` nodes, joins them through the first, applies a layout with all of them (one
/// zone each) and waits until every node runs it.
async fn start_ring(dirs: &[tempfile::TempDir], ports: &[Ports]) -> Vec<Option<Node>> {
    let nodes = start_nodes(dirs, ports);
    apply_layout(&nodes).await;
    nodes.into_iter().map(Some).collect()
}

/// Starts a node per directory, each but the first given the first as its seed.
fn start_nodes(dirs: &[tempfile::TempDir], ports: &[Ports]) -> Vec<Node> {
    let seed = ports[0].rpc;
    dirs.iter()
        .zip(ports)
        .enumerate()
        .map(|(i, (dir, p))| Node::start(dir.path(), *p, (i > 0).then_some(seed), &[]))
        .collect()
}

/// Through the first node: waits until it has heard of every other, applies a layout with all
/// of them (one zone each) and waits until every node runs it.
async fn apply_layout(nodes: &[Node]) {
    let admin = nodes[0].admin();
    let ids: Vec<String> = nodes.iter().map(|n| n.id.clone()).collect();
    eventually("every node to be gossiped", Duration::from_secs(30), || async {
        let status = admin.cluster_status().await.unwrap();
        ids.iter().all(|id| status.nodes.iter().any(|n| &n.node_id == id && n.up))
    })
    .await;
    for (i, id) in ids.iter().enumerate() {
        let add =
            ClusterChange::Add { node_id: id.clone(), zone: Some(format!("z{i}")), capacity: None };
        admin.stage_change(&add).await.unwrap();
    }
    let applied = admin.apply_changes().await.unwrap();
    assert_eq!(applied.members, nodes.len());
    for node in nodes {
        let admin = node.admin();
        eventually("every node to run the layout", Duration::from_secs(30), || async {
            admin.cluster_status().await.is_ok_and(|s| s.layout_version >= applied.layout_version)
        })
        .await;
    }
}

/// Object `i` of an upload run: mostly small, every fifth spans several 1 MiB blocks.
fn body(i: u64) -> Vec<u8> {
    pattern(if i.is_multiple_of(5) { 2_300_000 } else { 3000 + i as usize }, i + 17)
}

/// Uploads `count` objects starting at `first`, round robin through `through`; returns the
/// keys acknowledged. A failed PUT is not acknowledged and not counted.
async fn upload(through: &[aws_sdk_s3::Client], first: u64, count: u64) -> BTreeMap<String, u64> {
    let mut acked = BTreeMap::new();
    for i in first..first + count {
        let key = format!("obj-{i:04}");
        let s3 = &through[i as usize % through.len()];
        let put = s3.put_object().bucket(BUCKET).key(&key).body(body(i).into()).send().await;
        match put {
            Ok(_) => {
                acked.insert(key, i);
            }
            // Shown when an availability assertion below fails.
            Err(e) => eprintln!("PUT {key} failed: {:?}", e.into_service_error()),
        }
    }
    acked
}

async fn assert_serves(s3: &aws_sdk_s3::Client, acked: &BTreeMap<String, u64>, who: &str) {
    for (key, i) in acked {
        let out = s3
            .get_object()
            .bucket(BUCKET)
            .key(key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{who} cannot read acknowledged {key}: {e:?}"));
        let got = out.body.collect().await.unwrap().into_bytes();
        assert!(got == body(*i), "{who} serves {key} with different bytes");
    }
}

/// The `ringvault_hints_pending_all` gauge of a node's metrics.
async fn hints_in_metrics(node: &Node) -> u64 {
    let text = node.admin().metrics().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("ringvault_hints_pending_all "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no hint gauge in the metrics:\n{text}"))
}

async fn hints_held(nodes: &[Option<Node>]) -> u64 {
    let mut total = 0;
    for node in nodes.iter().flatten() {
        let status = node.admin().cluster_status().await.unwrap();
        total += status.pending_hints.iter().map(|h| h.count).sum::<u64>();
    }
    total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_kill_9_during_uploads_then_hints_drain_and_the_node_serves_alone() {
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let ports = free_ports(3);
    let mut nodes = start_ring(&dirs, &ports).await;
    let survivors: Vec<aws_sdk_s3::Client> = nodes[..2].iter().flatten().map(Node::s3).collect();
    survivors[0].create_bucket().bucket(BUCKET).send().await.unwrap();

    let mut acked = upload(&survivors, 0, 20).await;
    assert_eq!(acked.len(), 20, "every write succeeds with all nodes up");

    // Upload on through the two nodes that stay; kill the third while the uploads run.
    let uploader = tokio::spawn({
        let through = survivors.clone();
        async move { upload(&through, 20, 40).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    nodes[2].take().unwrap().kill_9();
    let during = uploader.await.unwrap();
    assert!(during.len() >= 36, "the ring kept taking writes: {} of 40", during.len());
    acked.extend(during);

    // Every acknowledged object reads back byte-identical from both survivors.
    for (i, s3) in survivors.iter().enumerate() {
        assert_serves(s3, &acked, &format!("survivor {i}")).await;
    }
    let held = hints_held(&nodes).await;
    assert!(held > 0, "the survivors hold hints for the dead node");
    let mut in_metrics = 0;
    for node in nodes.iter().flatten() {
        in_metrics += hints_in_metrics(node).await;
    }
    // Read after the status: with the owner dead, hints can only have grown since.
    assert!(in_metrics >= held, "metrics show the hint queue: {in_metrics} < {held}");

    // Restart it with R=1, so that once its hints are in, reading through it alone shows what
    // it holds itself. Its hints drain to zero.
    let clock = SystemClock;
    let restarted_at = clock.monotonic();
    nodes[2] = Some(Node::start(
        dirs[2].path(),
        ports[2],
        Some(ports[0].rpc),
        &[("RINGVAULT_READ_QUORUM", "1")],
    ));
    eventually("the hints to drain", Duration::from_secs(60), || async {
        hints_held(&nodes).await == 0
    })
    .await;
    eprintln!(
        "hint hand-off: {held} hints delivered {:?} after the restart",
        clock.monotonic().duration_since(restarted_at)
    );
    for node in nodes.iter().flatten() {
        assert_eq!(hints_in_metrics(node).await, 0);
    }

    // With both other nodes gone, the restarted node serves every acknowledged object alone.
    nodes[0].take().unwrap().kill_9();
    nodes[1].take().unwrap().kill_9();
    assert_serves(&nodes[2].as_ref().unwrap().s3(), &acked, "the restarted node alone").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_nodes_two_down_keep_taking_writes_and_hand_off_on_return() {
    let dirs: Vec<_> = (0..5).map(|_| tempfile::tempdir().unwrap()).collect();
    let ports = free_ports(5);
    let mut nodes = start_ring(&dirs, &ports).await;
    let survivors: Vec<aws_sdk_s3::Client> = nodes[..3].iter().flatten().map(Node::s3).collect();
    survivors[0].create_bucket().bucket(BUCKET).send().await.unwrap();
    let mut acked = upload(&survivors, 0, 20).await;
    assert_eq!(acked.len(), 20, "every write succeeds with all nodes up");

    nodes[3].take().unwrap().kill_9();
    nodes[4].take().unwrap().kill_9();
    // Some partitions lost two of their three owners: each write still gets W=2 copies, on
    // the owner left and on stand-ins, without waiting for the failure detector.
    let during = upload(&survivors, 20, 40).await;
    assert_eq!(during.len(), 40, "sloppy quorum keeps every write available");
    acked.extend(during);
    for (i, s3) in survivors.iter().enumerate() {
        assert_serves(s3, &acked, &format!("survivor {i}")).await;
    }
    assert!(hints_held(&nodes).await > 0, "stand-ins hold hints for the dead owners");

    for i in [3, 4] {
        nodes[i] = Some(Node::start(dirs[i].path(), ports[i], Some(ports[0].rpc), &[]));
    }
    eventually("the hints to drain", Duration::from_secs(60), || async {
        hints_held(&nodes).await == 0
    })
    .await;
    for i in [3, 4] {
        assert_serves(&nodes[i].as_ref().unwrap().s3(), &acked, &format!("returned node {i}"))
            .await;
    }
}

/// `ringvault health` against `node`: its exit status and what it printed (stdout, stderr).
fn health_cli(node: &Node) -> (bool, String, String) {
    admin_cli(node, &["health"])
}

/// Runs `ringvault <args> --admin-addr <node's>` with the suite's token: (success, stdout,
/// stderr).
fn admin_cli(node: &Node, args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_ringvault"))
        .args(args)
        .args(["--admin-addr", &node.ports.admin.to_string()])
        .env("RINGVAULT_ADMIN_TOKEN", ADMIN_TOKEN)
        .env_remove("RINGVAULT_ADMIN_ADDR")
        .output()
        .unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (output.status.success(), text(&output.stdout), text(&output.stderr))
}

/// What a container's health check sees: a joining node cannot serve before it has a layout,
/// a node of the applied layout can, cannot when it is left alone below a quorum, and can again when a peer returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_says_whether_the_node_can_serve_as_the_ring_changes() {
    // A node joining through a seed that never answers has no layout: it cannot serve.
    let lost_dir = tempfile::tempdir().unwrap();
    let lost_ports = free_ports(2);
    let lost = Node::start(lost_dir.path(), lost_ports[0], Some(lost_ports[1].rpc), &[]);
    let (ok, stdout, stderr) = health_cli(&lost);
    assert!(!ok && stderr.contains("no layout has been applied"), "{stdout} {stderr}");
    drop(lost);

    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let ports = free_ports(3);
    let nodes = start_nodes(&dirs, &ports);

    apply_layout(&nodes).await;
    for node in &nodes {
        // Running the layout and seeing every peer answer probes are learnt apart: wait for
        // the second too before reading the CLI.
        let admin = node.admin();
        eventually("the node to see its two peers up", Duration::from_secs(30), || async {
            admin.health().await.is_ok_and(|h| h.members_up == 3)
        })
        .await;
        let (ok, stdout, stderr) = health_cli(node);
        assert!(ok, "{stderr}");
        assert!(stdout.contains("3 of 3 members up"), "{stdout}");
    }

    // Alone, the first node cannot reach a quorum of 2: unhealthy, with the reason.
    let mut nodes: Vec<Option<Node>> = nodes.into_iter().map(Some).collect();
    nodes[1].take().unwrap().kill_9();
    nodes[2].take().unwrap().kill_9();
    let admin = nodes[0].as_ref().unwrap().admin();
    eventually("the survivor to see it is alone", Duration::from_secs(30), || async {
        admin.health().await.is_ok_and(|h| !h.healthy)
    })
    .await;
    let health = admin.health().await.unwrap();
    assert_eq!((health.members, health.members_up), (3, 1));
    assert!(health.problems.iter().any(|p| p.contains("a quorum needs 2")), "{health:?}");
    let (ok, _, stderr) = health_cli(nodes[0].as_ref().unwrap());
    assert!(!ok && stderr.contains("cannot serve"), "{stderr}");
    // The S3 front end agrees: a write through it fails.
    let s3 = nodes[0].as_ref().unwrap().s3();
    assert!(s3.create_bucket().bucket("alone").send().await.is_err());

    // One peer back: a quorum again, every partition short of one owner.
    nodes[1] = Some(Node::start(dirs[1].path(), ports[1], Some(ports[0].rpc), &[]));
    eventually("the survivor to serve again", Duration::from_secs(30), || async {
        admin.health().await.is_ok_and(|h| h.healthy)
    })
    .await;
    let health = admin.health().await.unwrap();
    assert_eq!(health.members_up, 2);
    assert!(health.partitions_degraded > 0 && health.partitions_unreachable == 0, "{health:?}");
    s3.create_bucket().bucket("together").send().await.unwrap();
}

/// `docker compose up` without an operator: the first node applies the first layout itself
/// once the expected nodes are up, and does not apply another when it restarts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_node_bootstraps_the_layout_once_the_expected_nodes_are_up() {
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let ports = free_ports(3);
    let bootstrap = [("RINGVAULT_BOOTSTRAP_NODES", "3"), ("RINGVAULT_ZONE", "z0")];
    let first = Node::start(dirs[0].path(), ports[0], None, &bootstrap);
    let admin = first.admin();
    // Alone, it waits: its layout is itself only.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        admin.cluster_status().await.unwrap().nodes.iter().filter(|n| n.in_layout).count(),
        1
    );

    let mut nodes = vec![Some(first)];
    for i in 1..3 {
        let zone = format!("z{i}");
        let extra = [("RINGVAULT_ZONE", zone.as_str())];
        nodes.push(Some(Node::start(dirs[i].path(), ports[i], Some(ports[0].rpc), &extra)));
    }
    for node in nodes.iter().flatten() {
        let admin = node.admin();
        eventually(
            "every node to run the bootstrapped layout",
            Duration::from_secs(30),
            || async {
                admin.cluster_status().await.is_ok_and(|s| {
                    s.nodes.iter().filter(|n| n.in_layout).count() == 3
                        && s.nodes.iter().all(|n| n.zone.starts_with('z'))
                })
            },
        )
        .await;
    }
    let version = admin.cluster_status().await.unwrap().layout_version;
    let s3 = nodes[2].as_ref().unwrap().s3();
    s3.create_bucket().bucket(BUCKET).send().await.unwrap();
    s3.put_object().bucket(BUCKET).key("k").body(b"boot".to_vec().into()).send().await.unwrap();

    // A restart of the first node, still told to bootstrap, keeps the layout as it is.
    nodes[0].take().unwrap().kill_9();
    let first = Node::start(dirs[0].path(), ports[0], None, &bootstrap);
    let admin = first.admin();
    eventually("the restarted node to serve", Duration::from_secs(30), || async {
        admin.health().await.is_ok_and(|h| h.healthy)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(admin.cluster_status().await.unwrap().layout_version, version);
    let got = first.s3().get_object().bucket(BUCKET).key("k").send().await.unwrap();
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), b"boot");
}

/// `cluster status` on any node shows every node's own figures: its disk, the hints it holds
/// (a node down leaves hints on the others), and its rebalance; a node that is down shows none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_status_shows_each_nodes_disk_hints_and_rebalance() {
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let ports = free_ports(3);
    let nodes = start_nodes(&dirs, &ports);
    apply_layout(&nodes).await;
    let admin = nodes[0].admin();
    let status = admin.cluster_status().await.unwrap();
    assert_eq!(status.nodes.len(), 3);
    for node in &status.nodes {
        let report = node.report.as_ref().unwrap_or_else(|| panic!("no report: {node:?}"));
        // Every node holds at least its disk reserve, on a file system with room.
        assert!(report.disk.used_bytes >= 64 << 20, "{report:?}");
        assert!(report.disk.free_bytes > 0 && report.disk.free_bytes < report.disk.total_bytes);
        assert_eq!((report.hints_pending, report.disk_full), (0, false), "{report:?}");
        assert_eq!(report.rebalance.partitions_pending, 0, "{report:?}");
    }

    // The third node goes down; writes through the first leave hints for it.
    let mut nodes: Vec<Option<Node>> = nodes.into_iter().map(Some).collect();
    let down_id =
        status.nodes.iter().find(|n| n.rpc_addr.as_deref() == Some(&ports[2].rpc.to_string()));
    let down_id = down_id.expect("the third node is listed").node_id.clone();
    nodes[2].take().unwrap().kill_9();
    eventually("the first node to see the third down", Duration::from_secs(30), || async {
        admin
            .cluster_status()
            .await
            .is_ok_and(|s| s.nodes.iter().any(|n| n.node_id == down_id && !n.up))
    })
    .await;
    let s3 = nodes[0].as_ref().unwrap().s3();
    s3.create_bucket().bucket("hinted").send().await.unwrap();
    for i in 0..5 {
        let body = aws_sdk_s3::primitives::ByteStream::from(vec![7u8; 1000]);
        s3.put_object().bucket("hinted").key(format!("k{i}")).body(body).send().await.unwrap();
    }
    let status = admin.cluster_status().await.unwrap();
    let down = status.nodes.iter().find(|n| n.node_id == down_id).unwrap();
    assert!(!down.up && down.report.is_none(), "{down:?}");
    let hints: u64 =
        status.nodes.iter().filter_map(|n| n.report.as_ref()).map(|r| r.hints_pending).sum();
    assert!(hints >= 5, "the live nodes hold the down node's writes as hints: {status:?}");

    // The table an operator reads: the figures, and dashes for the node that is down.
    let (ok, stdout, stderr) = admin_cli(nodes[0].as_ref().unwrap(), &["cluster", "status"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("DISK FREE") && stdout.contains("HINTS"), "{stdout}");
    let row = stdout.lines().find(|l| l.starts_with(&down_id)).expect("a row for the down node");
    assert!(row.contains(" down ") && row.trim_end().ends_with('-'), "{row}");
}
