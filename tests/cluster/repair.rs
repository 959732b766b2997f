//! Anti-entropy: a replica that lost its data without anybody noticing (no hint names it, no
//! read touches it) is restored by comparing Merkle trees with the other owners.

use std::time::Duration;

use ringvault::coordinator::Scope;
use ringvault::node::RunningNode;
use ringvault::store::{NodeDigest, Store, StoreOptions, TreeKind};

use crate::common::pattern;
use crate::ring::{TestCluster, eventually};

const OBJECTS: u64 = 2000;

fn size_of(i: u64) -> usize {
    // One object in 40 has a block of its own; the rest live inside their records.
    if i.is_multiple_of(40) { 200 << 10 } else { 1000 + (i as usize * 37) % 3000 }
}

/// Every partition's Merkle node on `node`, items then blocks.
fn trees(node: &RunningNode) -> Vec<NodeDigest> {
    let layout = node.ring().layout();
    let wanted: Vec<(u8, u32)> =
        (0..layout.partition_count()).map(|p| (layout.partition_bits, p)).collect();
    let store = node.coordinator().store();
    let mut out = store.tree_nodes(TreeKind::Items, &wanted).unwrap();
    out.extend(store.tree_nodes(TreeKind::Blocks, &wanted).unwrap());
    out
}

fn totals(node: &RunningNode) -> (u64, u64) {
    let store = node.coordinator().store();
    let count = |kind| store.tree_nodes(kind, &[(0, 0)]).unwrap()[0].count;
    (count(TreeKind::Items), count(TreeKind::Blocks))
}

/// Removes every item and block from a stopped node's database, as a lost disk would, but
/// keeps its identity and layout (so the node does not rejoin as new and pull its partitions).
async fn wipe_data(dir: &std::path::Path) {
    let store = Store::open(&dir.join("ringvault.redb"), StoreOptions::default()).unwrap();
    let (items, blocks) = store.drop_all_data().await.unwrap();
    assert!(items > 0 && blocks > 0);
    assert_eq!(store.tree_nodes(TreeKind::Items, &[(0, 0)]).unwrap()[0].count, 0);
    assert_eq!(store.block_count().unwrap(), 0);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn anti_entropy_alone_restores_every_item_and_block_of_a_wiped_node() {
    let mut cluster = TestCluster::start(3).await;
    cluster.s3(0).create_bucket().bucket("entropy").send().await.unwrap();
    let mut bytes = 0u64;
    for batch in 0..OBJECTS / 50 {
        let mut puts = Vec::new();
        for i in batch * 50..(batch + 1) * 50 {
            bytes += size_of(i) as u64;
            let request = cluster
                .s3((i % 3) as usize)
                .put_object()
                .bucket("entropy")
                .key(format!("obj/{i:05}"))
                .body(pattern(size_of(i), i).into());
            puts.push(async move { request.send().await.unwrap() });
        }
        futures_util::future::join_all(puts).await;
    }
    // With N = 3 on three nodes, each holds everything once the copies past W land.
    eventually("every replica to hold every write", || {
        let first = trees(cluster.node(0));
        (1..3).all(|i| trees(cluster.node(i)) == first)
    })
    .await;
    let before = trees(cluster.node(0));
    let (items, blocks) = totals(cluster.node(0));
    assert!(items > OBJECTS && blocks >= OBJECTS / 40, "{items} items, {blocks} blocks");

    cluster.stop(2).await;
    wipe_data(cluster.dirs[2].path()).await;
    cluster.restart(2).await;
    let wiped = cluster.node(2);
    // Empty but for what its start-up read itself through the ring (the root key) and read
    // repair brought back, which can land before this line.
    let (items_back, blocks_back) = totals(wiped);
    assert!(items_back <= 2 && blocks_back == 0, "the node came back empty: {items_back} items");
    let others: Vec<u64> = (0..2).map(|i| cluster.node(i).node_id()).collect();
    eventually("the others to be up", || others.iter().all(|id| wiped.ring().is_alive(*id))).await;

    // Nothing reads, no hint names the lost data: only anti-entropy can bring it back.
    let clock = ringvault::clock::SystemClock;
    let started = ringvault::clock::Clock::monotonic(&clock);
    let control = wiped.coordinator().repair_control().clone();
    control.request(Scope::All);
    for _ in 0..1200 {
        let p = control.progress();
        if p.passes == 1 && !p.running {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let elapsed = ringvault::clock::Clock::monotonic(&clock).duration_since(started);
    let progress = control.progress();
    assert!(!progress.running, "the pass ended: {progress:?}");
    assert_eq!(progress.partitions_done, u64::from(wiped.ring().layout().partition_count()));
    assert_eq!(progress.partitions_skipped, 0, "{progress:?}");
    assert_eq!(trees(wiped), before, "the wiped node holds exactly what the others hold");
    // Everything came through anti-entropy, but for what the node's start-up read itself (the
    // root key, read through the ring and repaired on the way).
    assert_eq!(progress.blocks_moved, blocks, "{progress:?}");
    assert!((items - 2..=items).contains(&progress.items_moved), "{progress:?}");
    eprintln!(
        "anti-entropy restored {items} items and {blocks} blocks ({:.1} MB of objects) in {:.2} s: \
         {:.0} items/s, {:.1} MB/s",
        bytes as f64 / 1e6,
        elapsed.as_secs_f64(),
        items as f64 / elapsed.as_secs_f64(),
        progress.bytes_moved as f64 / 1e6 / elapsed.as_secs_f64(),
    );
    // A second pass finds nothing to move.
    control.request(Scope::Partition(wiped.ring().layout().owned_partitions(wiped.node_id())[0].0));
    eventually("the second pass", || {
        let p = control.progress();
        p.passes == 2 && !p.running
    })
    .await;
    let again = control.progress();
    assert_eq!((again.partitions_total, again.items_moved, again.blocks_moved), (1, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_scrub_finds_a_corrupt_block_and_replaces_it_from_a_replica() {
    let cluster = TestCluster::start(3).await;
    cluster.s3(0).create_bucket().bucket("scrubbed").send().await.unwrap();
    // Three whole blocks.
    let body = pattern(3 * ringvault::config::DEFAULT_BLOCK_SIZE_BYTES as usize, 9);
    cluster
        .s3(0)
        .put_object()
        .bucket("scrubbed")
        .key("big")
        .body(body.clone().into())
        .send()
        .await
        .unwrap();
    eventually("every replica to hold every block", || {
        (0..3).all(|i| totals(cluster.node(i)).1 == 3)
    })
    .await;
    let victim = cluster.node(1).coordinator();
    let id = victim.store().block_ids().unwrap()[1];
    let intact = cluster.node(0).coordinator().store().get_block(id).unwrap().unwrap();
    assert!(victim.store().corrupt_block(id).unwrap());
    assert!(victim.store().get_block(id).is_err(), "the stored copy fails its checksum");

    let control = victim.scrub_control().clone();
    control.request();
    eventually("the scrub pass", || {
        let p = control.progress();
        p.passes == 1 && !p.running
    })
    .await;
    let progress = control.progress();
    assert_eq!(
        (progress.blocks_checked, progress.corrupt, progress.repaired, progress.unrepaired),
        (3, 1, 1, 0),
        "{progress:?}"
    );
    assert_eq!(victim.store().get_block(id).unwrap().unwrap(), intact);
    // Served whole, through the node that had the bad copy.
    let got = cluster.s3(1).get_object().bucket("scrubbed").key("big").send().await.unwrap();
    assert!(got.body.collect().await.unwrap().into_bytes() == body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn overwritten_and_deleted_bodies_are_reclaimed_on_every_owner() {
    let cluster =
        TestCluster::start_with(3, |c| c.reclaim_grace = Duration::from_millis(400)).await;
    let s3 = cluster.s3(0);
    s3.create_bucket().bucket("reclaimed").send().await.unwrap();
    for round in 0..4u64 {
        for k in 0..5u64 {
            let request = cluster.s3((k % 3) as usize).put_object().bucket("reclaimed");
            let body = pattern(300 << 10, round * 10 + k);
            request.key(format!("k{k}")).body(body.into()).send().await.unwrap();
        }
    }
    s3.delete_object().bucket("reclaimed").key("k0").send().await.unwrap();
    // Four live objects of one block each, on each of the three owners.
    eventually("superseded bodies to be reclaimed everywhere", || {
        (0..3).all(|i| totals(cluster.node(i)).1 == 4)
    })
    .await;
}
