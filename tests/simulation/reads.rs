//! What a quorum read costs: R owners asked, this node first, a third only when one is slow
//! or fails.

use std::time::Duration;

use ringvault::causality::VectorClock;

use crate::cluster::{SimCluster, TABLE};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap()
}

#[test]
fn a_read_asks_r_owners_and_a_third_only_when_one_is_slow() {
    runtime().block_on(async {
        let cluster = SimCluster::new(12, 3);
        let key = b"read-cost".to_vec();
        let c = cluster.coordinator(0);
        c.put(TABLE, &key, Some(b"v".to_vec()), VectorClock::new()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        cluster.heartbeat();
        // A version only two owners hold: a read that asked the third would queue a read
        // repair for it.
        let context = c.get(TABLE, &key).await.unwrap().context();
        let newer = c.put(TABLE, &key, Some(b"w".to_vec()), context).await.unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let older = ringvault::causality::Siblings::from(newer.clone());
        for i in 0..2 {
            let merge = ringvault::store::WriteOp::Merge {
                table: TABLE,
                key: key.clone(),
                siblings: older.clone(),
                hint_for: None,
            };
            cluster.nodes[i].store.write(merge).await.unwrap();
        }
        cluster.nodes[2]
            .store
            .write(ringvault::store::WriteOp::DropUnhinted {
                items: vec![(TABLE, key.clone())],
                blocks: Vec::new(),
            })
            .await
            .unwrap();
        // The read asks #0 (itself) and one other owner; #2 lost the item, so a read that
        // asked it would queue a repair: with both answering alike, #1 (first in the
        // preference list) is asked, and #2 never.
        let reader = cluster.coordinator(0);
        let (queued_before, _) = reader.repair_counters();
        for _ in 0..5 {
            let read = reader.get(TABLE, &key).await.unwrap();
            assert!(read.iter().any(|s| s.value.as_deref() == Some(&b"w"[..])));
        }
        assert_eq!(reader.repair_counters().0, queued_before, "#2 was never asked");
        assert!(cluster.local(2, &key).is_empty());

        // #1 turns slow: the read asks #2 beside it once #1's deadline passes, and answers
        // long before #1 would.
        cluster.links.lock().unwrap().slow.insert(cluster.nodes[1].id, Duration::from_secs(2));
        let clock = reader.ring().clock().clone();
        let started = clock.monotonic();
        let read = reader.get(TABLE, &key).await.unwrap();
        let took = clock.monotonic().saturating_duration_since(started);
        assert!(took < Duration::from_secs(1), "took {took:?}");
        assert!(read.iter().any(|s| s.value.as_deref() == Some(&b"w"[..])));
        assert!(reader.repair_counters().0 > queued_before, "#2, asked, is repaired");
    });
}
