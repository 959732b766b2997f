//! Garbage collection on a ring: what deletes and aborted uploads leave behind (bodies,
//! tombstones) goes from every node once its grace period has passed, the space it took is
//! reused, and a deleted object never comes back, whoever missed the delete.

use std::time::Duration;

use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use ringvault::config::Config;
use ringvault::coordinator::{PurgeWorker, Scope};
use ringvault::node::RunningNode;
use ringvault::store::{Store, TreeKind};

use crate::common::pattern;
use crate::ring::{TestCluster, wait_for};

const OBJECTS: usize = 1000;
const UPLOADS: usize = 20;

fn short_graces(c: &mut Config) {
    c.reclaim_grace = Duration::from_millis(300);
    // Longer than a background copy takes even on a loaded machine: a copy of a deleted
    // version that landed after the purge would bring it back.
    c.tombstone_grace = Duration::from_secs(2);
}

fn size_of(i: usize) -> usize {
    // One object in 20 has a block of its own; the rest live inside their records.
    if i.is_multiple_of(20) { 200 << 10 } else { 6 << 10 }
}

/// Waits until no node holds a block or a tombstone; on time-out, says what each still holds.
async fn wait_for_no_garbage(cluster: &TestCluster, what: &str) {
    for _ in 0..1200 {
        let clean = cluster.live().all(|n| {
            store(n).block_count().unwrap() == 0 && store(n).tombstone_count().unwrap() == 0
        });
        if clean {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut state = Vec::new();
    for n in cluster.live() {
        state.push(format!(
            "node {:x}: {} blocks, {} tombstones, hints {:?}, reclaim queue {}, purge {} purged {} postponed",
            n.node_id(),
            store(n).block_count().unwrap(),
            store(n).tombstone_count().unwrap(),
            store(n).hint_counts().unwrap(),
            n.objects().reclaim_queue_len().await.unwrap(),
            n.coordinator().purge_stats().purged(),
            n.coordinator().purge_stats().postponed(),
        ));
    }
    panic!("timed out after 120 s waiting for {what}:\n{}", state.join("\n"));
}

fn store(node: &RunningNode) -> &Store {
    node.coordinator().store()
}

fn file_bytes(cluster: &TestCluster, i: usize) -> u64 {
    std::fs::metadata(cluster.dirs[i].path().join("ringvault.redb")).unwrap().len()
}

/// Writes `OBJECTS` objects and opens `UPLOADS` uploads of two parts each; returns the ids.
async fn fill(cluster: &TestCluster, bucket: &str, seed: u64) -> Vec<(String, String)> {
    for batch in 0..OBJECTS / 50 {
        let puts = (batch * 50..(batch + 1) * 50).map(|i| {
            let request = cluster.s3(i % 3).put_object().bucket(bucket).key(format!("o/{i:04}"));
            let body = pattern(size_of(i), seed + i as u64);
            async move { request.body(body.into()).send().await.unwrap() }
        });
        futures_util::future::join_all(puts).await;
    }
    let mut uploads = Vec::new();
    for u in 0..UPLOADS {
        let s3 = cluster.s3(u % 3);
        let key = format!("u/{u:02}");
        let created = s3.create_multipart_upload().bucket(bucket).key(&key).send().await.unwrap();
        let id = created.upload_id().unwrap().to_owned();
        for part in 1..=2 {
            let body = pattern(256 << 10, seed + 10_000 + (u * 2 + part) as u64);
            s3.upload_part()
                .bucket(bucket)
                .key(&key)
                .upload_id(&id)
                .part_number(part as i32)
                .body(body.into())
                .send()
                .await
                .unwrap();
        }
        uploads.push((key, id));
    }
    uploads
}

/// Deletes every object (DeleteObjects, 1,000 keys in one request) and aborts every upload.
async fn empty(cluster: &TestCluster, bucket: &str, uploads: &[(String, String)]) {
    let keys: Vec<ObjectIdentifier> = (0..OBJECTS)
        .map(|i| ObjectIdentifier::builder().key(format!("o/{i:04}")).build().unwrap())
        .collect();
    let delete = Delete::builder().set_objects(Some(keys)).quiet(true).build().unwrap();
    let out = cluster.s3(1).delete_objects().bucket(bucket).delete(delete).send().await.unwrap();
    assert!(out.errors().is_empty(), "{:?}", out.errors());
    for (u, (key, id)) in uploads.iter().enumerate() {
        let s3 = cluster.s3(u % 3);
        s3.abort_multipart_upload().bucket(bucket).key(key).upload_id(id).send().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deleted_objects_and_aborted_uploads_leave_nothing_behind_and_their_space_is_reused() {
    let mut cluster = TestCluster::start_with(3, short_graces).await;
    cluster.s3(0).create_bucket().bucket("churn").send().await.unwrap();
    let uploads = fill(&cluster, "churn", 0).await;
    let blocks_full = OBJECTS as u64 / 20 + UPLOADS as u64 * 2;
    wait_for("every replica to hold every block", 30, || {
        cluster.live().all(|n| store(n).block_count().unwrap() == blocks_full)
    })
    .await;
    let full: Vec<u64> =
        cluster.live().map(|n| store(n).space().unwrap().allocated_bytes).collect();
    let file_full: Vec<u64> = (0..3).map(|i| file_bytes(&cluster, i)).collect();

    empty(&cluster, "churn", &uploads).await;
    wait_for_no_garbage(&cluster, "every body and tombstone to be gone from every node").await;
    let listed = cluster.s3(2).list_objects_v2().bucket("churn").send().await.unwrap();
    assert_eq!(listed.key_count(), Some(0));
    let uploads_left = cluster.s3(0).list_multipart_uploads().bucket("churn").send().await.unwrap();
    assert!(uploads_left.uploads().is_empty());
    for (i, node) in cluster.live().enumerate() {
        let now = store(node).space().unwrap().allocated_bytes;
        assert!(now * 4 < full[i], "node {i}: {now} bytes in use after GC, {} before", full[i]);
    }

    // The same volume again reuses the space freed: the file stays under twice its size when
    // full (without reuse it would hold both rounds; redb grows and trims the file in steps,
    // so its size for one volume varies between runs by up to 1.7x).
    let uploads = fill(&cluster, "churn", 1 << 20).await;
    wait_for("every replica to hold every block again", 30, || {
        cluster.live().all(|n| store(n).block_count().unwrap() == blocks_full)
    })
    .await;
    for (i, before) in file_full.iter().enumerate() {
        let now = file_bytes(&cluster, i);
        eprintln!("node {i}: file {before} -> {now} bytes after the same volume again");
        assert!(now < before * 2, "node {i}: file grew from {before} to {now} bytes");
    }

    // And the file gives its free space back: redb trims free pages at its end as it goes,
    // and `ringvault compact` moves the rest to the front on a stopped node.
    empty(&cluster, "churn", &uploads).await;
    wait_for_no_garbage(&cluster, "the second round's garbage to be gone").await;
    cluster.stop(2).await;
    let path = cluster.dirs[2].path().join("ringvault.redb");
    let compacted = ringvault::store::compact_file(&path).unwrap();
    eprintln!("compaction: {compacted:?}, full: {} bytes", file_full[2]);
    assert!(compacted.after_bytes <= compacted.before_bytes);
    assert!(
        compacted.after_bytes * 10 < file_full[2],
        "the file holds {} bytes after compaction, {} when full",
        compacted.after_bytes,
        file_full[2]
    );
    cluster.restart(2).await;
    let s3 = cluster.s3(2);
    s3.put_object()
        .bucket("churn")
        .key("after")
        .body(b"still works".to_vec().into())
        .send()
        .await
        .unwrap();
    let got = s3.get_object().bucket("churn").key("after").send().await.unwrap();
    assert_eq!(&got.body.collect().await.unwrap().into_bytes()[..], b"still works");
}

/// A purge pass on every live node, with no grace: each purges the partitions it leads.
async fn purge_everywhere(cluster: &TestCluster) -> usize {
    let mut purged = 0;
    for node in cluster.live() {
        let worker = PurgeWorker {
            coordinator: node.coordinator().clone(),
            interval: Duration::from_secs(1),
            grace: Duration::ZERO,
        };
        purged += worker.pass().await.purged;
    }
    purged
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_deleted_object_stays_deleted_when_a_node_that_missed_the_delete_returns() {
    // Default graces: only the explicit passes below purge anything.
    let mut cluster = TestCluster::start(3).await;
    let s3 = cluster.s3(0);
    s3.create_bucket().bucket("undead").send().await.unwrap();
    for k in 0..20 {
        let body = pattern(if k % 4 == 0 { 100 << 10 } else { 2000 }, k);
        s3.put_object()
            .bucket("undead")
            .key(format!("k{k}"))
            .body(body.into())
            .send()
            .await
            .unwrap();
    }
    wait_for("node 2 to hold every object", 10, || {
        let root = |n: &RunningNode| {
            let s = store(n);
            (s.tree_nodes(TreeKind::Items, &[(0, 0)]).unwrap(), s.block_count().unwrap())
        };
        root(cluster.node(2)) == root(cluster.node(0))
    })
    .await;
    cluster.stop(2).await;
    for k in 0..20 {
        s3.delete_object().bucket("undead").key(format!("k{k}")).send().await.unwrap();
    }
    // Node 2 still holds every version: no purge may go ahead while it cannot answer.
    assert_eq!(purge_everywhere(&cluster).await, 0);
    assert!(store(cluster.node(0)).tombstone_count().unwrap() >= 20);

    cluster.restart(2).await;
    // Its hints and anti-entropy bring node 2 the tombstones; only then do they go, everywhere.
    let mut purged = 0;
    for _ in 0..100 {
        purged += purge_everywhere(&cluster).await;
        if cluster.live().all(|n| store(n).tombstone_count().unwrap() == 0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(purged >= 20, "{purged} purged");
    assert!(cluster.live().all(|n| store(n).tombstone_count().unwrap() == 0));
    // Nothing came back, through any node, even after a full anti-entropy round.
    let passes: Vec<u64> =
        cluster.live().map(|n| n.coordinator().repair_control().progress().passes).collect();
    for node in cluster.live() {
        node.coordinator().repair_control().request(Scope::All);
    }
    wait_for("an anti-entropy pass on every node", 30, || {
        cluster.live().zip(&passes).all(|(n, before)| {
            let p = n.coordinator().repair_control().progress();
            p.passes > *before && !p.running
        })
    })
    .await;
    assert!(cluster.live().all(|n| store(n).tombstone_count().unwrap() == 0));
    for i in 0..3 {
        let listed = cluster.s3(i).list_objects_v2().bucket("undead").send().await.unwrap();
        assert_eq!(listed.key_count(), Some(0), "node {i} lists a deleted key");
        for k in 0..20 {
            let got =
                cluster.s3(i).head_object().bucket("undead").key(format!("k{k}")).send().await;
            assert!(got.is_err(), "k{k} came back on node {i}");
        }
    }
}
