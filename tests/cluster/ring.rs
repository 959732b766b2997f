//! A three-node ring: joining, layout spread by gossip, reads and writes through every node,
//! one node down, hinted handoff, and restart.

use std::net::SocketAddr;
use std::time::Duration;

use ringvault::config::{Config, Settings};
use ringvault::node::{self, RunningNode};
use ringvault::ring::{Layout, Member};

use crate::common::{ACCESS_KEY_ID, SECRET_ACCESS_KEY, client, pattern};

const SECRET: &str = "cluster-test-secret-0123456789";

pub(crate) fn config(dir: &std::path::Path, seeds: Vec<SocketAddr>, seed: u64) -> Config {
    let settings = Settings {
        data_dir: Some(dir.to_owned()),
        s3_addr: Some("127.0.0.1:0".parse().unwrap()),
        admin_addr: Some("127.0.0.1:0".parse().unwrap()),
        rpc_addr: Some("127.0.0.1:0".parse().unwrap()),
        seeds: Some(seeds),
        cluster_secret: Some(SECRET.into()),
        access_key_id: Some(ACCESS_KEY_ID.into()),
        secret_access_key: Some(SECRET_ACCESS_KEY.into()),
        gossip_interval_ms: Some(100),
        ..Settings::default()
    };
    let mut config = Config::resolve(settings).unwrap();
    config.seed = Some(seed);
    config
}

pub(crate) struct TestCluster {
    pub(crate) nodes: Vec<Option<RunningNode>>,
    pub(crate) dirs: Vec<tempfile::TempDir>,
    seed_addr: SocketAddr,
    tweak: fn(&mut Config),
}

pub(crate) async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..200 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

/// Polls `check` every 100 ms for up to `secs` seconds (for waits longer than `eventually`'s).
pub(crate) async fn wait_for(what: &str, secs: u64, mut check: impl FnMut() -> bool) {
    for _ in 0..secs * 10 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out after {secs} s waiting for {what}");
}

impl TestCluster {
    pub(crate) async fn start(n: usize) -> TestCluster {
        Self::start_with(n, |_| {}).await
    }

    /// A cluster whose nodes' configurations `tweak` adjusts (on every start).
    pub(crate) async fn start_with(n: usize, tweak: fn(&mut Config)) -> TestCluster {
        ringvault::telemetry::init();
        let dirs: Vec<_> = (0..n).map(|_| tempfile::tempdir().unwrap()).collect();
        let configure = |dir: &std::path::Path, seeds, i: usize| {
            let mut c = config(dir, seeds, i as u64 + 1);
            tweak(&mut c);
            c
        };
        let first = node::start(configure(dirs[0].path(), Vec::new(), 0)).await.unwrap();
        let seed_addr = first.rpc_addr().unwrap();
        let mut nodes = vec![Some(first)];
        for (i, dir) in dirs.iter().enumerate().skip(1) {
            nodes.push(Some(node::start(configure(dir.path(), vec![seed_addr], i)).await.unwrap()));
        }
        let cluster = TestCluster { nodes, dirs, seed_addr, tweak };
        let ids: Vec<u64> = cluster.live().map(RunningNode::node_id).collect();
        let first = cluster.node(0);
        eventually("every node to be gossiped", || {
            ids.iter().all(|id| first.ring().view().get(*id).is_some())
        })
        .await;
        let members =
            ids.iter().map(|id| Member { id: *id, zone: "z".into(), capacity: 1 }).collect();
        let layout = Layout::next(&first.ring().layout(), members, 3).unwrap();
        let version = layout.version;
        assert!(first.ring().install_layout(layout));
        eventually("the layout to spread", || {
            cluster.live().all(|n| n.ring().layout().version == version)
        })
        .await;
        cluster
    }

    pub(crate) fn node(&self, i: usize) -> &RunningNode {
        self.nodes[i].as_ref().unwrap()
    }

    pub(crate) fn live(&self) -> impl Iterator<Item = &RunningNode> {
        self.nodes.iter().flatten()
    }

    pub(crate) fn s3(&self, i: usize) -> aws_sdk_s3::Client {
        client(&format!("http://{}", self.node(i).s3_addr()), ACCESS_KEY_ID, SECRET_ACCESS_KEY)
    }

    pub(crate) async fn stop(&mut self, i: usize) {
        if let Some(node) = self.nodes[i].take() {
            node.shutdown().await;
        }
    }

    pub(crate) async fn restart(&mut self, i: usize) {
        self.stop(i).await;
        let seeds = if i == 0 { Vec::new() } else { vec![self.seed_addr] };
        let mut config = config(self.dirs[i].path(), seeds, i as u64 + 1);
        (self.tweak)(&mut config);
        let node = node::start(config).await.unwrap();
        self.nodes[i] = Some(node);
    }
}

async fn get(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Vec<u8> {
    let out = s3.get_object().bucket(bucket).key(key).send().await.unwrap();
    out.body.collect().await.unwrap().into_bytes().to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_node_serves_what_any_node_wrote() {
    let mut cluster = TestCluster::start(3).await;
    cluster.s3(0).create_bucket().bucket("ring").send().await.unwrap();
    for i in 0..30u64 {
        let size = if i % 10 == 0 { 3 << 20 } else { 100 + i as usize };
        cluster
            .s3((i % 3) as usize)
            .put_object()
            .bucket("ring")
            .key(format!("k{i:02}"))
            .body(pattern(size, i).into())
            .send()
            .await
            .unwrap();
    }
    for reader in 0..3 {
        let s3 = cluster.s3(reader);
        for i in (0..30u64).step_by(7) {
            let size = if i % 10 == 0 { 3 << 20 } else { 100 + i as usize };
            assert!(
                get(&s3, "ring", &format!("k{i:02}")).await == pattern(size, i),
                "node {reader} key {i}"
            );
        }
        let listed = s3.list_objects_v2().bucket("ring").send().await.unwrap();
        assert_eq!(listed.key_count(), Some(30), "node {reader} lists every key");
    }
    // Conditional writes are decided by consensus among the owners, through any node.
    let create = |node: usize| {
        cluster
            .s3(node)
            .put_object()
            .bucket("ring")
            .key("fresh")
            .if_none_match("*")
            .body(b"x".to_vec().into())
            .send()
    };
    create(0).await.unwrap();
    let err = create(1).await.unwrap_err();
    assert_eq!(err.raw_response().unwrap().status().as_u16(), 412);

    // Two of three nodes down: no quorum. Every request, its authentication included, gets a
    // 503 the SDKs retry, never a 500.
    cluster.stop(1).await;
    cluster.stop(2).await;
    let err = cluster.s3(0).get_object().bucket("ring").key("k01").send().await.unwrap_err();
    let raw = err.raw_response().expect("an HTTP answer");
    assert_eq!(raw.status().as_u16(), 503);
    assert_eq!(err.into_service_error().meta().code(), Some("ServiceUnavailable"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_down_loses_no_acknowledged_write_and_catches_up_on_return() {
    let mut cluster = TestCluster::start(3).await;
    cluster.s3(0).create_bucket().bucket("down").send().await.unwrap();
    cluster.stop(2).await;
    let down_id = cluster.dirs.len();
    let _ = down_id;
    // Writes go on with two of three owners (W=2).
    for i in 0..20u64 {
        cluster
            .s3((i % 2) as usize)
            .put_object()
            .bucket("down")
            .key(format!("k{i}"))
            .body(pattern(2000, i).into())
            .send()
            .await
            .unwrap();
    }
    for i in 0..20u64 {
        assert_eq!(get(&cluster.s3(1), "down", &format!("k{i}")).await, pattern(2000, i));
    }
    cluster.restart(2).await;
    eventually("the restarted node to rejoin", || {
        let id = cluster.node(2).node_id();
        cluster.node(0).ring().is_alive(id)
    })
    .await;
    // Read repair and handoff bring it up to date; reading through it sees every write.
    let s3 = cluster.s3(2);
    for i in 0..20u64 {
        assert_eq!(get(&s3, "down", &format!("k{i}")).await, pattern(2000, i));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_joins_through_the_admin_api_and_the_ring_keeps_serving() {
    use ringvault::admin::AdminClient;
    use ringvault::admin::api::ClusterChange;
    let mut cluster = TestCluster::start(3).await;
    cluster.s3(0).create_bucket().bucket("grow").send().await.unwrap();
    for i in 0..20u64 {
        cluster
            .s3(0)
            .put_object()
            .bucket("grow")
            .key(format!("k{i}"))
            .body(pattern(500, i).into())
            .send()
            .await
            .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let fourth = node::start(config(dir.path(), vec![cluster.seed_addr], 4)).await.unwrap();
    let fourth_id = fourth.node_id();
    let admin = AdminClient::new(
        &cluster.node(0).admin_addr().to_string(),
        cluster.node(0).admin_token().clone(),
    )
    .unwrap();
    for _ in 0..200 {
        if admin
            .cluster_status()
            .await
            .unwrap()
            .nodes
            .iter()
            .any(|n| n.node_id == format!("{fourth_id:016x}"))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let status = admin.cluster_status().await.unwrap();
    let joining = status
        .nodes
        .iter()
        .find(|n| n.node_id == format!("{fourth_id:016x}"))
        .expect("gossip reported the new node");
    assert!(!joining.in_layout && joining.up);
    assert_eq!((status.replication_factor, status.read_quorum, status.write_quorum), (3, 2, 2));

    // Same zone as the others: a node alone in its own zone would have to hold a replica of
    // every partition (the zone rule), which is not what this test is about.
    let add = ClusterChange::Add {
        node_id: format!("{fourth_id:016x}"),
        zone: Some("z".into()),
        capacity: None,
    };
    // A change waits until the one before it is synced everywhere (else 409 LayoutConflict).
    eventually("the first layout to settle", || cluster.node(0).ring().read_transition().is_none())
        .await;
    admin.stage_change(&add).await.unwrap();
    let applied = admin.apply_changes().await.unwrap();
    assert_eq!(applied.members, 4);
    // Near-minimal movement: the new node's share, 256 * 3 / 4 = 192 slots.
    assert!((192..=200).contains(&applied.moved_replicas), "{applied:?}");
    cluster.nodes.push(Some(fourth));
    eventually("every node to run the new layout", || {
        cluster.live().all(|n| n.ring().layout().version == applied.layout_version)
    })
    .await;
    let status = admin.cluster_status().await.unwrap();
    assert!(status.nodes.iter().all(|n| n.in_layout && n.partitions > 0), "{status:?}");
    // Rebalancing: the new node pulls the objects of the partitions it now owns into its own
    // store (object items live in table 2).
    let newcomer = cluster.node(3);
    let layout = newcomer.ring().layout();
    let owned: Vec<_> = (0..20u64)
        .filter(|i| {
            let key = [b"grow\0".as_slice(), format!("k{i}").as_bytes()].concat();
            layout
                .preference_list(layout.partition_of(ringvault::ring::item_hash(2, &key)))
                .contains(&fourth_id)
        })
        .collect();
    assert!(!owned.is_empty(), "the new node owns some of the 20 keys");
    eventually("the new node to pull its partitions", || {
        let store = newcomer.coordinator().store();
        let (items, _) = store.scan_all(None, 10_000, &|t, _| t.0 == 2).unwrap();
        items.len() >= owned.len()
    })
    .await;
    // Its progress, as `cluster status` reports it: every gained partition pulled.
    let control = newcomer.coordinator().repair_control().clone();
    eventually("the rebalance to report its end", || {
        let r = control.rebalance();
        r.partitions_pending == 0 && r.partitions_pulled > 0
    })
    .await;
    let rebalance = control.rebalance();
    assert_eq!(rebalance.partitions_pulled, layout.owned_partitions(fourth_id).len() as u64);
    assert!(rebalance.items_pulled >= owned.len() as u64, "{rebalance:?}");
    // Every node, the new one included, still serves what was written before it joined.
    for reader in 0..4 {
        let s3 = cluster.s3(reader);
        for i in 0..20u64 {
            assert_eq!(
                get(&s3, "grow", &format!("k{i}")).await,
                pattern(500, i),
                "node {reader} key {i}"
            );
        }
        assert_eq!(s3.list_objects_v2().bucket("grow").send().await.unwrap().key_count(), Some(20));
    }
    cluster.stop(3).await;
}
