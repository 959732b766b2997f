//! Nodes that left the layout and the tombstone purge: it waits for every one that has not said
//! it holds nothing, until an operator forgets it (ARCHITECTURE, invariant 15).

use std::time::Duration;

use ringvault::causality::{Siblings, VectorClock};
use ringvault::coordinator::Scope;
use ringvault::ring::PeerState;
use ringvault::store::WriteOp;

use crate::cluster::{SimCluster, TABLE};
use crate::scenario::PURGE_GRACE;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap()
}

/// Heartbeats for `span` of simulated time.
async fn pass_time(cluster: &SimCluster, span: Duration) {
    let step = Duration::from_millis(100);
    for _ in 0..span.as_millis() / step.as_millis() {
        cluster.heartbeat();
        tokio::time::sleep(step).await;
    }
}

/// Four members; a key the fourth does not own is written and then deleted by the owners,
/// while the fourth keeps a copy of the written version (a previous owner, or a stand-in, that
/// missed the delete). Returns the cluster, the key and the version the fourth holds.
async fn a_stale_copy_on_the_fourth(seed: u64) -> (SimCluster, Vec<u8>, Siblings) {
    let cluster = SimCluster::new(seed, 4);
    let key = (0..)
        .map(|i| format!("gone{i}").into_bytes())
        .find(|k| !cluster.owners(k).contains(&3))
        .unwrap();
    let c = cluster.coordinator(0);
    let written = c.put(TABLE, &key, Some(b"old".to_vec()), VectorClock::new()).await.unwrap();
    let stale = Siblings::from(written);
    let merge =
        WriteOp::Merge { table: TABLE, key: key.clone(), siblings: stale.clone(), hint_for: None };
    cluster.nodes[3].store.write(merge).await.unwrap();
    let context = c.get(TABLE, &key).await.unwrap().context();
    c.put(TABLE, &key, None, context).await.unwrap();
    pass_time(&cluster, Duration::from_secs(1)).await;
    for owner in cluster.owners(&key) {
        assert!(cluster.local(owner, &key).iter().all(|s| s.value.is_none()), "#{owner}");
    }
    (cluster, key, stale)
}

/// The layout changes to `members` (by index) and the rebalance settles.
async fn change_layout(cluster: &mut SimCluster, members: &[usize]) {
    cluster.change_layout(members);
    for _ in 0..20 {
        let mut left = 0;
        for i in 0..cluster.nodes.len() {
            left += cluster.rebalance(i).await;
        }
        if left == 0 {
            break;
        }
        pass_time(cluster, Duration::from_millis(200)).await;
    }
    pass_time(cluster, Duration::from_millis(500)).await;
}

/// The owners of `key` and every other node hold no live version of it.
fn deleted_everywhere(cluster: &SimCluster, key: &[u8]) {
    for i in 0..cluster.nodes.len() {
        let held = cluster.local(i, key);
        assert!(held.iter().all(|s| s.value.is_none()), "#{i} holds {held:?}");
    }
}

/// Regression (simulation seed 179 of a 300-seed run): a node left the layout while running,
/// was killed before its clean-up and stayed down past the four graces the purge waited for a
/// silent leaver, so the purge went without it; after its restart its clean-up handed the
/// deleted version back to owners that kept nothing to beat it. Now the purge waits for it
/// however long it is down, until its clean-up said it holds nothing.
#[test]
fn a_leaver_killed_before_its_clean_up_is_waited_for_until_it_drained() {
    runtime().block_on(async {
        let (mut cluster, key, stale) = a_stale_copy_on_the_fourth(179).await;
        change_layout(&mut cluster, &[0, 1, 2]).await;
        cluster.kill(3);
        let first = cluster.owners(&key)[0];
        pass_time(&cluster, PURGE_GRACE * 6).await;
        assert_eq!(cluster.purge(first, PURGE_GRACE).await, 0, "the leaver is not drained");
        assert_eq!(cluster.local(3, &key), stale, "the leaver's disk has the old version");

        cluster.restart(3);
        pass_time(&cluster, Duration::from_secs(1)).await;
        assert!(!cluster.coordinator(3).ring().drained());
        let (items, _) = cluster.cleanup(3).await;
        assert!(items >= 1, "its clean-up handed its copies to the owners and dropped them");
        assert!(cluster.coordinator(3).ring().drained(), "and it says it holds nothing");
        deleted_everywhere(&cluster, &key);
        pass_time(&cluster, Duration::from_millis(300)).await;
        assert_eq!(cluster.purge(first, PURGE_GRACE).await, 1, "no longer waited for");
        assert!((0..4).all(|i| cluster.local(i, &key).is_empty()));
    });
}

/// A node that left, handed everything to the owners and said it holds nothing is not waited
/// for once it stops.
#[test]
fn a_drained_leaver_is_not_waited_for() {
    runtime().block_on(async {
        let (mut cluster, key, _) = a_stale_copy_on_the_fourth(180).await;
        change_layout(&mut cluster, &[0, 1, 2]).await;
        let (items, _) = cluster.cleanup(3).await;
        assert!(items >= 1, "the leaver's clean-up dropped what the owners confirmed");
        assert!(cluster.nodes[3].store.holds_nothing().unwrap());
        assert!(cluster.coordinator(3).ring().drained());
        pass_time(&cluster, Duration::from_millis(300)).await;
        cluster.kill(3);
        pass_time(&cluster, PURGE_GRACE + Duration::from_secs(1)).await;
        let first = cluster.owners(&key)[0];
        assert_eq!(cluster.purge(first, PURGE_GRACE).await, 1);
        assert!((0..4).all(|i| cluster.local(i, &key).is_empty()));
    });
}

/// A leaver that stopped before its clean-up and will not come back is forgotten by the
/// operator: the purge stops waiting for it, and if it runs again after all, it learns that
/// it was forgotten and drops what it held instead of handing it back.
#[test]
fn a_forgotten_leaver_is_not_waited_for_and_drops_its_data_if_it_comes_back() {
    runtime().block_on(async {
        let (mut cluster, key, stale) = a_stale_copy_on_the_fourth(181).await;
        change_layout(&mut cluster, &[0, 1, 2]).await;
        cluster.kill(3);
        pass_time(&cluster, PURGE_GRACE * 2).await;
        let first = cluster.owners(&key)[0];
        assert_eq!(cluster.purge(first, PURGE_GRACE).await, 0);
        let gone = cluster.nodes[3].id;
        // The operator forgets it on one node; gossip spreads the entry to the others.
        assert!(cluster.coordinator(0).ring().forget_node(gone));
        let certificate = cluster.coordinator(0).ring().view().get(gone).unwrap().clone();
        assert!(certificate.drained);
        for i in 1..3 {
            cluster.coordinator(i).ring().merge_view(vec![certificate.clone()]);
        }
        assert_eq!(cluster.purge(first, PURGE_GRACE).await, 1, "no longer waited for");
        assert_eq!(cluster.local(3, &key), stale);

        cluster.restart(3);
        pass_time(&cluster, Duration::from_secs(1)).await;
        let back = cluster.coordinator(3);
        // Its own heartbeats cannot override the entry.
        let own = PeerState { heartbeat: 9 << 32, drained: false, ..certificate.clone() };
        cluster.coordinator(0).ring().merge_view(vec![own]);
        assert_eq!(cluster.coordinator(0).ring().view().get(gone), Some(&certificate));
        // Gossip brings it the entry: it hands nothing on, and drops what it held.
        back.ring().merge_view(vec![certificate]);
        assert!(back.ring().forgotten());
        assert_eq!(cluster.handoff(3).await, 0);
        cluster.anti_entropy(3, Scope::All).await;
        assert_eq!(cluster.cleanup(3).await, (0, 0));
        assert!(cluster.nodes[3].store.holds_nothing().unwrap());
        assert!((0..4).all(|i| cluster.local(i, &key).is_empty()));
    });
}
