//! Membership an operator can trust: removing a dead node restores the replication factor
//! from the survivors, forgetting it stops the purge from waiting for it, and a node whose disk
//! was replaced rejoins and gets its share back.

use ringvault::admin::AdminClient;
use ringvault::admin::api::ClusterChange;
use ringvault::node::RunningNode;
use ringvault::ring::PartitionId;
use ringvault::store::TreeKind;

use crate::common::pattern;
use crate::ring::{TestCluster, eventually, wait_for};

/// Whether every partition's owners hold the same items and blocks (equal Merkle nodes).
pub(crate) fn owners_agree(cluster: &TestCluster, nodes: &[usize]) -> bool {
    let layout = cluster.node(nodes[0]).ring().layout();
    let index = |id: u64| nodes.iter().copied().find(|i| cluster.node(*i).node_id() == id);
    (0..layout.partition_count()).all(|p| {
        let wanted = [(layout.partition_bits, p)];
        let trees: Vec<_> = layout
            .preference_list(PartitionId(p))
            .iter()
            .map(|id| {
                let store = cluster
                    .node(index(*id).expect("an owner among the nodes"))
                    .coordinator()
                    .store();
                (
                    store.tree_nodes(TreeKind::Items, &wanted).unwrap(),
                    store.tree_nodes(TreeKind::Blocks, &wanted).unwrap(),
                )
            })
            .collect();
        trees.windows(2).all(|w| w[0] == w[1])
    })
}

pub(crate) fn objects_held(node: &RunningNode) -> usize {
    let (items, _) = node.coordinator().store().scan_all(None, 100_000, &|t, _| t.0 == 2).unwrap();
    items.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dead_node_removed_then_replaced_leaves_every_partition_whole() {
    let mut cluster = TestCluster::start(4).await;
    cluster.s3(0).create_bucket().bucket("survive").send().await.unwrap();
    let size = |i: u64| if i.is_multiple_of(50) { 1_500_000 } else { 700 + i as usize };
    for i in 0..200u64 {
        let request = cluster.s3((i % 4) as usize).put_object().bucket("survive");
        let body = pattern(size(i), i);
        request.key(format!("k{i:03}")).body(body.into()).send().await.unwrap();
    }
    // Copies past W (and hints for those that timed out) land in the background: under a
    // loaded CI machine that can take longer than `eventually`'s 10 s.
    wait_for("every owner to hold its writes", 30, || owners_agree(&cluster, &[0, 1, 2, 3])).await;
    // With four nodes, N = 3: nobody holds everything.
    assert!((0..4).all(|i| objects_held(cluster.node(i)) < 200));

    let dead = cluster.node(3).node_id();
    cluster.stop(3).await;
    let admin = AdminClient::new(
        &cluster.node(0).admin_addr().to_string(),
        cluster.node(0).admin_token().clone(),
    )
    .unwrap();
    let dead_hex = format!("{dead:016x}");
    assert!(admin.forget_node(&dead_hex).await.is_err(), "a member is not forgotten");
    admin.stage_change(&ClusterChange::Remove { node_id: dead_hex.clone() }).await.unwrap();
    let applied = admin.apply_changes().await.unwrap();
    assert_eq!(applied.members, 3);
    eventually("the survivors to run the new layout", || {
        (0..3).all(|i| cluster.node(i).ring().layout().version == applied.layout_version)
    })
    .await;
    // Each survivor pulls what it gained from the owners that are left, and reports it.
    eventually("the rebalance to end on every survivor", || {
        (0..3).all(|i| {
            let r = cluster.node(i).coordinator().repair_control().rebalance();
            r.partitions_pending == 0
        })
    })
    .await;
    eventually("three copies of everything again", || owners_agree(&cluster, &[0, 1, 2])).await;
    for i in 0..3 {
        assert_eq!(objects_held(cluster.node(i)), 200, "node {i} holds a copy of every object");
    }
    // It stopped before it could say it holds nothing: tombstone purges wait for it until the
    // operator forgets it, which gossip spreads to every node.
    let shown = |status: &ringvault::admin::api::ClusterStatus| {
        let node = status.nodes.iter().find(|n| n.node_id == dead_hex).unwrap();
        (node.in_layout, node.drained, node.forgotten)
    };
    assert_eq!(shown(&admin.cluster_status().await.unwrap()), (false, false, false));
    let me = format!("{:016x}", cluster.node(0).node_id());
    assert!(admin.forget_node(&me).await.is_err(), "a node does not forget itself");
    assert_eq!(admin.forget_node(&dead_hex).await.unwrap().node_id, dead_hex);
    assert_eq!(shown(&admin.cluster_status().await.unwrap()), (false, true, true));
    eventually("every survivor to know it was forgotten", || {
        (0..3).all(|i| {
            let view = cluster.node(i).ring().view();
            view.get(dead).is_some_and(|s| s.heartbeat == ringvault::ring::FORGOTTEN)
        })
    })
    .await;
    for i in (0..200u64).step_by(7) {
        let got = cluster.s3(1).get_object().bucket("survive").key(format!("k{i:03}")).send();
        let body = got.await.unwrap().body.collect().await.unwrap().into_bytes();
        assert!(body == pattern(size(i), i), "k{i:03}");
    }

    // The failed disk is replaced: the node starts on an empty data directory (so with a new
    // id), joins through the seeds, is added, and pulls its share from the others.
    let fresh = tempfile::tempdir().unwrap();
    let seeds = vec![cluster.node(0).rpc_addr().unwrap()];
    let replacement =
        ringvault::node::start(crate::ring::config(fresh.path(), seeds, 9)).await.unwrap();
    let new_id = replacement.node_id();
    assert_ne!(new_id, dead);
    eventually("gossip to report the replacement", || {
        cluster.node(0).ring().view().get(new_id).is_some()
    })
    .await;
    let add = ClusterChange::Add {
        node_id: format!("{new_id:016x}"),
        zone: Some("z".into()),
        capacity: None,
    };
    // A change on top of one still being synced is refused: wait until every member synced.
    eventually("the removal to settle", || cluster.node(0).ring().read_transition().is_none())
        .await;
    admin.stage_change(&add).await.unwrap();
    let applied = admin.apply_changes().await.unwrap();
    assert_eq!(applied.members, 4);
    cluster.nodes[3] = Some(replacement);
    cluster.dirs[3] = fresh;
    eventually("every node to run the layout with the replacement", || {
        cluster.live().all(|n| n.ring().layout().version == applied.layout_version)
    })
    .await;
    eventually("the replacement to pull its share", || {
        let r = cluster.node(3).coordinator().repair_control().rebalance();
        r.partitions_pending == 0 && r.partitions_pulled > 0
    })
    .await;
    assert!(objects_held(cluster.node(3)) > 0);
    eventually("every owner to hold its share again", || owners_agree(&cluster, &[0, 1, 2, 3]))
        .await;
}

/// Whether every running node runs the same layout (version and content).
fn one_layout(cluster: &TestCluster) -> bool {
    let first = cluster.node(0).ring().layout();
    cluster.live().all(|n| {
        let l = n.ring().layout();
        l.version == first.version && l.digest() == first.digest()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_operators_applying_at_once_never_make_two_layouts_of_one_version() {
    let cluster = TestCluster::start(3).await;
    let admin = |i: usize| {
        let node = cluster.node(i);
        AdminClient::new(&node.admin_addr().to_string(), node.admin_token().clone()).unwrap()
    };
    let (a, b) = (admin(0), admin(1));
    let target = format!("{:016x}", cluster.node(2).node_id());
    let set = |capacity| ClusterChange::Set { node_id: target.clone(), zone: None, capacity };

    // A change that a majority already promised another layout's version loses, and is told.
    let version = cluster.node(0).ring().layout().version;
    assert!(cluster.node(0).ring().promise_layout(version + 1, 0xdead));
    assert!(cluster.node(2).ring().promise_layout(version + 1, 0xdead));
    b.stage_change(&set(Some(5))).await.unwrap();
    let lost = b.apply_changes().await.unwrap_err();
    assert_eq!(lost.api_code(), Some("LayoutConflict"), "{lost}");
    assert_eq!(cluster.node(1).ring().layout().version, version, "nothing was installed");

    // Two applies racing on two nodes (once the promises above lapse): whatever the order,
    // one layout per version, and every node ends on the same one.
    tokio::time::sleep(std::time::Duration::from_secs(11)).await;
    a.stage_change(&set(Some(2))).await.unwrap();
    let (ra, rb) = tokio::join!(a.apply_changes(), b.apply_changes());
    match (&ra, &rb) {
        (Ok(x), Ok(y)) => assert_ne!(x.layout_version, y.layout_version, "{ra:?} {rb:?}"),
        (Ok(_), Err(e)) | (Err(e), Ok(_)) => assert_eq!(e.api_code(), Some("LayoutConflict")),
        (Err(_), Err(_)) => {} // both lost to each other's promises: nothing installed
    }
    eventually("every node to run one layout", || one_layout(&cluster)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_change_on_top_of_one_still_syncing_needs_force() {
    let mut cluster = TestCluster::start(3).await;
    let admin = AdminClient::new(
        &cluster.node(0).admin_addr().to_string(),
        cluster.node(0).admin_token().clone(),
    )
    .unwrap();
    let target = format!("{:016x}", cluster.node(1).node_id());
    let set = |capacity| ClusterChange::Set { node_id: target.clone(), zone: None, capacity };
    eventually("the first layout to settle", || cluster.node(0).ring().read_transition().is_none())
        .await;
    // A member that is down cannot report that it synced: the change stays unsettled.
    cluster.stop(2).await;
    admin.stage_change(&set(Some(2))).await.unwrap();
    let first = admin.apply_changes().await.unwrap();
    assert!(cluster.node(0).ring().read_transition().is_some());
    admin.stage_change(&set(Some(3))).await.unwrap();
    let refused = admin.apply_changes().await.unwrap_err();
    assert_eq!(refused.api_code(), Some("LayoutConflict"), "{refused}");
    assert_eq!(cluster.node(0).ring().layout().version, first.layout_version);
    // An operator who knows why (a dead member to replace) can still go on.
    let forced = admin.apply_changes_forced().await.unwrap();
    assert_eq!(forced.layout_version, first.layout_version + 1);
    // Conditional writes wait while changes are stacked: a 503, never a decision that could
    // miss the owners of the layout before.
    let s3 = cluster.s3(0);
    let err = s3.create_bucket().bucket("stacked").send().await.unwrap_err();
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(503), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn doubling_the_partitions_moves_no_data_and_keeps_every_object() {
    let cluster = TestCluster::start(3).await;
    let s3 = cluster.s3(0);
    s3.create_bucket().bucket("split").send().await.unwrap();
    let size = |i: u64| if i.is_multiple_of(25) { 300 << 10 } else { 1000 + i as usize };
    for i in 0..100u64 {
        let put = cluster.s3((i % 3) as usize).put_object().bucket("split").key(format!("k{i:03}"));
        put.body(pattern(size(i), i).into()).send().await.unwrap();
    }
    wait_for("every owner to hold its writes", 30, || owners_agree(&cluster, &[0, 1, 2])).await;
    let before = cluster.node(0).ring().layout();
    let pulled: Vec<u64> = cluster
        .live()
        .map(|n| n.coordinator().repair_control().rebalance().partitions_pulled)
        .collect();

    let node = cluster.node(1);
    let admin =
        AdminClient::new(&node.admin_addr().to_string(), node.admin_token().clone()).unwrap();
    admin.stage_change(&ClusterChange::SplitPartitions).await.unwrap();
    let applied = admin.apply_changes().await.unwrap();
    assert_eq!(applied.moved_replicas, 0);
    eventually("every node to run the split layout", || {
        cluster.live().all(|n| {
            let l = n.ring().layout();
            l.version == applied.layout_version && l.partition_bits == before.partition_bits + 1
        })
    })
    .await;
    // Every half kept its owners: nobody pulled anything, and the owners still agree.
    for (n, before) in cluster.live().zip(pulled) {
        let r = n.coordinator().repair_control().rebalance();
        assert_eq!((r.partitions_pending, r.partitions_pulled), (0, before));
    }
    assert!(owners_agree(&cluster, &[0, 1, 2]));
    for i in 0..100u64 {
        let got = cluster.s3((i % 3) as usize).get_object().bucket("split").key(format!("k{i:03}"));
        let body = got.send().await.unwrap().body.collect().await.unwrap().into_bytes();
        assert!(body == pattern(size(i), i), "k{i:03}");
    }
    // And the ring goes on: new writes land on the finer partitions' owners.
    for i in 100..120u64 {
        let put = cluster.s3((i % 3) as usize).put_object().bucket("split").key(format!("k{i:03}"));
        put.body(pattern(size(i), i).into()).send().await.unwrap();
    }
    eventually("the owners to agree on the new writes", || owners_agree(&cluster, &[0, 1, 2]))
        .await;
    let listed = s3.list_objects_v2().bucket("split").send().await.unwrap();
    assert_eq!(listed.key_count(), Some(120));
}
