//! Store contract: durability across reopen, clock minting under concurrency, group commit,
//! ordered scans and block integrity.

use std::ops::Bound;

use bytes::Bytes;

use super::*;
use crate::causality::{Sibling, VectorClock};

const T: TableId = TableId(2);

/// A new version minted by node 1 and stored, as an owner does for a coordinator.
fn coordinate(
    store: &Store,
    key: &[u8],
    context: VectorClock,
    value: &[u8],
) -> impl Future<Output = Result<Sibling, StoreError>> {
    store.coordinate((T, key.to_vec()), context, 1, 1, Some(value.to_vec()))
}

#[tokio::test]
async fn acknowledged_writes_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.redb");
    {
        let store = Store::open(&path, StoreOptions::default()).unwrap();
        coordinate(&store, b"k", VectorClock::new(), b"v1").await.unwrap();
        let id = BlockId { data_id: [9; 16], index: 3 };
        store
            .write(WriteOp::PutBlock { id, data: Bytes::from_static(b"blk"), hint_for: None })
            .await
            .unwrap();
        store.close().await;
    }
    let store = Store::open(&path, StoreOptions::default()).unwrap();
    let got = store.get(T, b"k").unwrap().unwrap();
    assert_eq!(got.winner().unwrap().value.as_deref(), Some(&b"v1"[..]));
    let block = store.get_block(BlockId { data_id: [9; 16], index: 3 }).unwrap().unwrap();
    assert_eq!(&block[..], b"blk");
}

#[tokio::test]
async fn concurrent_blind_writes_through_one_coordinator_become_siblings() {
    let store = Store::in_memory(StoreOptions::default()).unwrap();
    let (a, b) = tokio::join!(
        coordinate(&store, b"k", VectorClock::new(), b"a"),
        coordinate(&store, b"k", VectorClock::new(), b"b"),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_ne!(a.clock, b.clock, "one coordinator minted the same clock twice");
    // The second write saw the first in the store and descends from it: no write is lost,
    // and the set holds exactly the newest.
    let got = store.get(T, b"k").unwrap().unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got.context(), a.clock.merge(&b.clock));
}

#[tokio::test]
async fn a_write_with_the_read_context_supersedes_concurrent_siblings() {
    let store = Store::in_memory(StoreOptions::default()).unwrap();
    let mut other = VectorClock::new();
    other.set(2, 1);
    let mut foreign = Siblings::new();
    foreign.apply(Sibling { clock: other, timestamp_ms: 5, writer: 2, value: Some(b"x".to_vec()) });
    store
        .write(WriteOp::Merge { table: T, key: b"k".to_vec(), siblings: foreign, hint_for: None })
        .await
        .unwrap();
    coordinate(&store, b"k", VectorClock::new(), b"y").await.unwrap();
    let got = store.get(T, b"k").unwrap().unwrap();
    assert_eq!(got.len(), 2, "a blind write is concurrent with the foreign sibling");
    coordinate(&store, b"k", got.context(), b"z").await.unwrap();
    let got = store.get(T, b"k").unwrap().unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got.winner().unwrap().value.as_deref(), Some(&b"z"[..]));
}

#[tokio::test]
async fn concurrent_writes_share_commits() {
    let store = Store::in_memory(StoreOptions::default()).unwrap();
    let before = store.commit_count();
    let writes: Vec<_> = (0..200u32)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                coordinate(&store, &i.to_be_bytes(), VectorClock::new(), b"v").await
            })
        })
        .collect();
    for w in writes {
        w.await.unwrap().unwrap();
    }
    let commits = store.commit_count() - before;
    assert!(commits < 200, "200 concurrent writes took {commits} commits: no group commit");
    assert_eq!(
        store.scan(T, Bound::Unbounded, Bound::Unbounded, 1000, &|_| true).unwrap().len(),
        200
    );
}

#[tokio::test]
async fn scan_is_ordered_bounded_and_stays_in_its_table() {
    let store = Store::in_memory(StoreOptions::default()).unwrap();
    for k in ["b", "a", "c", "d"] {
        coordinate(&store, k.as_bytes(), VectorClock::new(), b"v").await.unwrap();
    }
    store.coordinate((TableId(3), b"a".to_vec()), VectorClock::new(), 1, 1, None).await.unwrap();
    let keys = |v: Vec<(Vec<u8>, Siblings)>| {
        v.into_iter().map(|(k, _)| String::from_utf8(k).unwrap()).collect::<Vec<_>>()
    };
    let all = store.scan(T, Bound::Unbounded, Bound::Unbounded, 10, &|_| true).unwrap();
    assert_eq!(keys(all), ["a", "b", "c", "d"]);
    let after_a = store.scan(T, Bound::Excluded(b"a"), Bound::Unbounded, 2, &|_| true).unwrap();
    assert_eq!(keys(after_a), ["b", "c"]);
    let filtered = store.scan(T, Bound::Unbounded, Bound::Unbounded, 10, &|k| k != b"b").unwrap();
    assert_eq!(keys(filtered), ["a", "c", "d"]);

    // A visit that seeks jumps over keys; a seek backwards is ignored rather than looping.
    let mut seen = Vec::new();
    store
        .visit(T, Bound::Unbounded, Bound::Excluded(b"d"), &mut |key, item| {
            seen.push(String::from_utf8(key.to_vec()).unwrap());
            assert!(!item.decode().unwrap().is_empty());
            Ok(match key {
                b"a" => Visit::SeekTo(b"bz".to_vec()),
                b"c" => Visit::SeekTo(b"a".to_vec()),
                _ => Visit::Next,
            })
        })
        .unwrap();
    assert_eq!(seen, ["a", "c"]);
}

#[tokio::test]
async fn deleted_blocks_are_gone() {
    let store = Store::in_memory(StoreOptions::default()).unwrap();
    let ids: Vec<_> = (0..3).map(|index| BlockId { data_id: [1; 16], index }).collect();
    for id in &ids {
        store
            .write(WriteOp::PutBlock { id: *id, data: Bytes::from_static(b"x"), hint_for: None })
            .await
            .unwrap();
    }
    assert_eq!(store.block_count().unwrap(), 3);
    store.write(WriteOp::DeleteBlocks { ids: ids.clone() }).await.unwrap();
    assert_eq!(store.block_count().unwrap(), 0);
    assert!(store.get_block(ids[0]).unwrap().is_none());
}

#[tokio::test]
async fn hints_are_stored_with_their_data_and_listed_per_owner() {
    let store = Store::in_memory(StoreOptions::default()).unwrap();
    let mut clock = VectorClock::new();
    clock.set(1, 1);
    let mut set = Siblings::new();
    set.apply(Sibling { clock, timestamp_ms: 1, writer: 1, value: Some(b"v".to_vec()) });
    store
        .write(WriteOp::Merge { table: T, key: b"k".to_vec(), siblings: set, hint_for: Some(9) })
        .await
        .unwrap();
    let id = BlockId { data_id: [3; 16], index: 0 };
    store
        .write(WriteOp::PutBlock { id, data: Bytes::from_static(b"b"), hint_for: Some(9) })
        .await
        .unwrap();
    store
        .write(WriteOp::AddHint { owner: 4, op: HintOp::DeleteBody { data_id: [5; 16] } })
        .await
        .unwrap();
    assert!(store.get(T, b"k").unwrap().is_some(), "hinted data is readable on the stand-in");
    assert_eq!(store.hint_counts().unwrap(), vec![(4, 1), (9, 2)]);
    let hints = store.hints_for(9, 10).unwrap();
    assert_eq!(hints.len(), 2);
    assert_eq!(hints[0].op, HintOp::Item { table: T.0, key: b"k".to_vec() });
    assert_eq!(hints[1].op, HintOp::Block { id });
    // Dropping what this node does not own spares what a hint still refers to.
    let drop_all = || WriteOp::DropUnhinted { items: vec![(T, b"k".to_vec())], blocks: vec![id] };
    store.write(drop_all()).await.unwrap();
    assert!(store.get(T, b"k").unwrap().is_some() && store.get_block(id).unwrap().is_some());
    store.write(WriteOp::DeleteHint { owner: 9, seq: hints[0].seq }).await.unwrap();
    store.write(drop_all()).await.unwrap();
    assert!(store.get(T, b"k").unwrap().is_none(), "handed off: dropped");
    assert!(store.get_block(id).unwrap().is_some(), "the block's hint is still there");
    assert_eq!(store.hint_counts().unwrap(), vec![(4, 1), (9, 1)]);
    // Two hints on one block (two owners missed it): it stays until both are handed off.
    store.write(WriteOp::AddHint { owner: 4, op: HintOp::Block { id } }).await.unwrap();
    store.write(WriteOp::DeleteHint { owner: 9, seq: hints[1].seq }).await.unwrap();
    store.write(drop_all()).await.unwrap();
    assert!(store.get_block(id).unwrap().is_some(), "owner 4's hint still refers to it");
    let for_4 = store.hints_for(4, 10).unwrap();
    assert_eq!(store.hint_counts().unwrap(), vec![(4, 2)], "owner 9 has none left");
    for hint in for_4 {
        store.write(WriteOp::DeleteHint { owner: 4, seq: hint.seq }).await.unwrap();
    }
    // Forgetting a hint that is already gone changes nothing.
    store.write(WriteOp::DeleteHint { owner: 4, seq: 1 }).await.unwrap();
    store.write(drop_all()).await.unwrap();
    assert!(store.get_block(id).unwrap().is_none());
    assert!(store.hint_counts().unwrap().is_empty());
}

#[tokio::test]
async fn a_paxos_promise_and_acceptance_survive_a_restart_and_a_commit_applies_the_value() {
    use crate::consensus::{Ballot, Proposal, Reply, Request};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.redb");
    let b = |round| Ballot { round, node: 7 };
    // A successor of the item written below ({1: 1}), one consensus decision up.
    let mut clock = VectorClock::new();
    clock.set(1, 1);
    clock.set(crate::causality::CONSENSUS_ACTOR, 1);
    let version = Sibling { clock, timestamp_ms: 5, writer: 7, value: Some(b"decided".to_vec()) };
    let step = |request| WriteOp::Paxos { table: T, key: b"k".to_vec(), request, layout: 0 };
    let answer = |outcome| match outcome {
        WriteOutcome::Paxos(answer) => answer,
        other => panic!("unexpected {other:?}"),
    };
    {
        let store = Store::open(&path, StoreOptions::default()).unwrap();
        coordinate(&store, b"k", VectorClock::new(), b"before").await.unwrap();
        let promise = answer(store.write(step(Request::Prepare(b(2)))).await.unwrap());
        assert!(matches!(promise.reply, Reply::Promise { accepted: None, .. }));
        let read = promise.current.winner().unwrap().value.clone();
        assert_eq!(read.as_deref(), Some(&b"before"[..]), "a promise carries the item");
        let accept = Proposal { ballot: b(2), value: Some(version.clone()) };
        let accepted = answer(store.write(step(Request::Accept(accept))).await.unwrap());
        assert_eq!(accepted.reply, Reply::Accepted);
        assert_eq!(store.paxos_pending(T, b"k").unwrap(), Some(version.clone()));
        store.close().await;
    }
    let store = Store::open(&path, StoreOptions::default()).unwrap();
    let stale = answer(store.write(step(Request::Prepare(b(1)))).await.unwrap());
    assert_eq!(stale.reply, Reply::Rejected { promised: b(2) }, "the promise was durable");
    let later = answer(store.write(step(Request::Prepare(b(3)))).await.unwrap());
    let accepted = Some(Proposal { ballot: b(2), value: Some(version.clone()) });
    assert_eq!(later.reply, Reply::Promise { accepted, committed: None });
    let commit = Proposal { ballot: b(3), value: Some(version.clone()) };
    answer(store.write(step(Request::Commit(commit))).await.unwrap());
    let item = store.get(T, b"k").unwrap().unwrap();
    assert_eq!(item.winner().unwrap().value.as_deref(), Some(&b"decided"[..]));
    assert_eq!(item.len(), 1, "the decided version supersedes what it read");
    assert_eq!(store.paxos_pending(T, b"k").unwrap(), None, "a commit clears the acceptance");
    // The row remembers the decision, once however often it is committed, and a promise
    // names it: a proposer whose version was since overwritten learns it was applied.
    let again = Proposal { ballot: b(4), value: Some(version.clone()) };
    answer(store.write(step(Request::Commit(again))).await.unwrap());
    let next = answer(store.write(step(Request::Prepare(b(5)))).await.unwrap());
    assert_eq!(next.decided, vec![crate::store::Decided::of(&version)]);
    assert_eq!(next.decided[0].count, 1, "its place in the key's chain");
    let mut round = 6;
    for n in 2..=u64::try_from(crate::store::DECIDED_KEPT).unwrap() + 1 {
        let mut newer = version.clone();
        newer.clock.set(crate::causality::CONSENSUS_ACTOR, n);
        let commit = Proposal { ballot: b(round), value: Some(newer) };
        answer(store.write(step(Request::Commit(commit))).await.unwrap());
        round += 1;
    }
    let last = answer(store.write(step(Request::Prepare(b(round)))).await.unwrap());
    assert_eq!(last.decided.len(), crate::store::DECIDED_KEPT, "the oldest decision goes");
    assert_eq!(last.decided[0].count, 2);
    assert_eq!(last.decided.last().unwrap().count, 33);
}

#[tokio::test(start_paused = true)]
async fn an_inline_store_writes_and_reads_on_the_callers_thread() {
    let store = Store::in_memory_inline().unwrap();
    assert!(store.runs_inline());
    let first = coordinate(&store, b"k", VectorClock::new(), b"v1").await.unwrap();
    coordinate(&store, b"k", first.clock.clone(), b"v2").await.unwrap();
    let got = store.get(T, b"k").unwrap().unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got.winner().unwrap().value.as_deref(), Some(&b"v2"[..]));
    // The first mint raised the durable ceiling of counters: one commit of its own.
    assert_eq!(store.commit_count(), 3);
    // Nothing to stop: close returns at once.
    store.close().await;
}

/// A disk that can fill up: the bytes live in `data` (shared, so a reopen sees them), and
/// while `full` is set every write and growth fails as a full disk fails.
#[derive(Debug, Clone)]
struct FillableDisk {
    data: Arc<std::sync::Mutex<Vec<u8>>>,
    full: Arc<std::sync::atomic::AtomicBool>,
    /// The file cannot grow past this many bytes (a disk with that much room).
    capacity: Arc<AtomicU64>,
}

impl Default for FillableDisk {
    fn default() -> Self {
        Self {
            data: Arc::default(),
            full: Arc::default(),
            capacity: Arc::new(AtomicU64::new(u64::MAX)),
        }
    }
}

impl FillableDisk {
    fn no_space(&self) -> Result<(), std::io::Error> {
        if self.full.load(Ordering::Relaxed) {
            return Err(std::io::Error::from(std::io::ErrorKind::StorageFull));
        }
        Ok(())
    }
}

impl redb::StorageBackend for FillableDisk {
    fn len(&self) -> Result<u64, std::io::Error> {
        Ok(self.data.lock().unwrap().len() as u64)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), std::io::Error> {
        let data = self.data.lock().unwrap();
        let start = usize::try_from(offset).unwrap();
        out.copy_from_slice(&data[start..start + out.len()]);
        Ok(())
    }

    fn set_len(&self, len: u64) -> Result<(), std::io::Error> {
        let mut data = self.data.lock().unwrap();
        if len as usize > data.len() {
            self.no_space()?;
            if len > self.capacity.load(Ordering::Relaxed) {
                return Err(std::io::Error::from(std::io::ErrorKind::StorageFull));
            }
        }
        data.resize(usize::try_from(len).unwrap(), 0);
        Ok(())
    }

    fn sync_data(&self) -> Result<(), std::io::Error> {
        self.no_space()
    }

    fn write(&self, offset: u64, bytes: &[u8]) -> Result<(), std::io::Error> {
        self.no_space()?;
        let start = usize::try_from(offset).unwrap();
        self.data.lock().unwrap()[start..start + bytes.len()].copy_from_slice(bytes);
        Ok(())
    }
}

/// A node whose disk fills up answers errors (redb refuses everything after an I/O error
/// until reopened), keeps what it acknowledged, and serves again once space is freed: the
/// writer reopens the database by itself.
#[tokio::test]
async fn a_full_disk_fails_writes_and_the_store_recovers_once_space_is_freed() {
    let disk = FillableDisk::default();
    let store = {
        let disk = disk.clone();
        Store::with_backend(move || disk.clone()).unwrap()
    };
    let block = |i: u32| BlockId { data_id: [9; 16], index: i };
    let data = Bytes::from(vec![7u8; 256 << 10]);
    store
        .write(WriteOp::PutBlock { id: block(0), data: data.clone(), hint_for: None })
        .await
        .unwrap();

    disk.full.store(true, Ordering::Relaxed);
    for i in 1..4 {
        let failed = store
            .write(WriteOp::PutBlock { id: block(i), data: data.clone(), hint_for: None })
            .await;
        assert!(matches!(failed, Err(StoreError::Unavailable { .. })), "{failed:?}");
    }

    disk.full.store(false, Ordering::Relaxed);
    // Writes that add data are tried again once per probe interval (200 ms here).
    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    store
        .write(WriteOp::PutBlock { id: block(4), data: data.clone(), hint_for: None })
        .await
        .unwrap();
    assert_eq!(store.get_block(block(0)).unwrap(), Some(data.clone()), "the acknowledged block");
    assert_eq!(store.get_block(block(4)).unwrap(), Some(data));
    assert_eq!(store.get_block(block(1)).unwrap(), None, "a failed write left nothing");
}

/// A disk that fills up in the middle of a workload: the store stops taking data at once
/// (without an attempt per write, each of which would take reads down for a reopen), keeps
/// serving reads and deletes, and takes data again once deletes made room.
#[tokio::test]
async fn a_full_disk_keeps_reads_and_deletes_going_and_takes_data_again_once_there_is_room() {
    let disk = FillableDisk::default();
    let store = {
        let disk = disk.clone();
        Store::with_backend(move || disk.clone()).unwrap()
    };
    let block = |i: u32| BlockId { data_id: [3; 16], index: i };
    let data = Bytes::from(vec![5u8; 256 << 10]);
    let put = |i: u32| WriteOp::PutBlock { id: block(i), data: data.clone(), hint_for: None };
    for i in 0..8 {
        store.write(put(i)).await.unwrap();
    }
    assert!(!store.disk_full());
    // The file may not grow any more: writes fill the pages it has, then fail.
    disk.capacity.store(disk.data.lock().unwrap().len() as u64, Ordering::Relaxed);
    let mut next = 8;
    while store.write(put(next)).await.is_ok() {
        next += 1;
        assert!(next < 64, "the disk never filled");
    }
    // Refused at once, without touching the database: reads keep working.
    let commits_before = store.commit_count();
    let refused = store.write(put(next + 1)).await;
    assert!(
        matches!(&refused, Err(StoreError::Unavailable { reason }) if reason.contains("disk is full")),
        "{refused:?}"
    );
    assert_eq!(store.get_block(block(0)).unwrap(), Some(data.clone()));
    assert!(store.disk_full(), "the health check would not see the full disk");
    // Deletes go through and free pages inside the file (the released reserve is what gives a
    // real disk the room their own commit needs; here the file has it already).
    store.write(WriteOp::DeleteBlocks { ids: (0..6).map(block).collect() }).await.unwrap();
    assert!(store.commit_count() > commits_before);
    // The next try after the probe interval commits, and the store takes data again.
    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    store.write(put(100)).await.unwrap();
    store.write(put(101)).await.unwrap();
    assert_eq!(store.get_block(block(101)).unwrap(), Some(data));
    assert!(!store.disk_full());
}

/// Every node of the Merkle tree at its first stored level, and every entry: what anti-entropy
/// compares.
fn merkle_snapshot(store: &Store, kind: TreeKind) -> (Vec<NodeDigest>, Vec<Entry>) {
    let wanted: Vec<(u8, u32)> = (0..1u32 << 10).map(|p| (10, p)).collect();
    let nodes = store.tree_nodes(kind, &wanted).unwrap();
    let (entries, more) = store.tree_entries(kind, 0, 0, None, usize::MAX).unwrap();
    assert!(!more);
    (nodes, entries)
}

fn siblings_of(store: &Store, key: &[u8]) -> Siblings {
    store.get(T, key).unwrap().unwrap()
}

#[tokio::test]
async fn replicas_holding_the_same_data_have_the_same_merkle_tree_whatever_the_order() {
    let source = Store::in_memory(StoreOptions::default()).unwrap();
    for i in 0..60u32 {
        coordinate(&source, &i.to_be_bytes(), VectorClock::new(), b"v").await.unwrap();
    }
    let (a, b) =
        (Store::in_memory(StoreOptions::default()).unwrap(), Store::in_memory_inline().unwrap());
    let block = |i: u32| BlockId { data_id: [i as u8; 16], index: i };
    for i in 0..60u32 {
        let op = |i: u32| WriteOp::Merge {
            table: T,
            key: i.to_be_bytes().to_vec(),
            siblings: siblings_of(&source, &i.to_be_bytes()),
            hint_for: None,
        };
        a.write(op(i)).await.unwrap();
        b.write(op(59 - i)).await.unwrap();
        let put = |i: u32| WriteOp::PutBlock {
            id: block(i),
            data: Bytes::from(vec![1; 8]),
            hint_for: None,
        };
        a.write(put(i)).await.unwrap();
        b.write(put(59 - i)).await.unwrap();
    }
    // Data that comes and goes leaves no trace in the tree.
    coordinate(&b, b"transient", VectorClock::new(), b"x").await.unwrap();
    b.write(WriteOp::PutBlock { id: block(200), data: Bytes::from_static(b"y"), hint_for: None })
        .await
        .unwrap();
    b.write(WriteOp::DropUnhinted { items: vec![(T, b"transient".to_vec())], blocks: vec![] })
        .await
        .unwrap();
    b.write(WriteOp::DeleteBody { data_id: block(200).data_id }).await.unwrap();
    for kind in [TreeKind::Items, TreeKind::Blocks] {
        assert_eq!(merkle_snapshot(&a, kind), merkle_snapshot(&b, kind), "{kind:?}");
        assert_eq!(a.tree_nodes(kind, &[(0, 0)]).unwrap()[0].count, 60);
    }

    // A newer version of one item on one replica: the roots differ, and descending from the
    // root through the differing children leads to that item alone.
    let key = 7u32.to_be_bytes();
    let context = siblings_of(&a, &key).context();
    coordinate(&a, &key, context, b"newer").await.unwrap();
    let root = |s: &Store, kind| s.tree_nodes(kind, &[(0, 0)]).unwrap();
    assert_ne!(root(&a, TreeKind::Items), root(&b, TreeKind::Items));
    assert_eq!(root(&a, TreeKind::Blocks), root(&b, TreeKind::Blocks));
    let (mut bits, mut prefix) = (0u8, 0u32);
    while let Some((level, children)) = a.tree_children(TreeKind::Items, bits, prefix).unwrap() {
        let theirs = b.tree_children(TreeKind::Items, bits, prefix).unwrap().unwrap().1;
        let differing: Vec<u32> = children
            .iter()
            .filter(|(p, n)| !theirs.iter().any(|(q, m)| q == p && m == n))
            .map(|(p, _)| *p)
            .collect();
        assert_eq!(differing.len(), 1, "exactly one child differs at level {level}");
        (bits, prefix) = (level, differing[0]);
    }
    let (mine, _) = a.tree_entries(TreeKind::Items, bits, prefix, None, 100).unwrap();
    let (theirs, _) = b.tree_entries(TreeKind::Items, bits, prefix, None, 100).unwrap();
    let full = item_key(T, &key);
    assert!(mine.iter().any(|e| e.name == full));
    let differs: Vec<_> = mine.iter().filter(|e| !theirs.contains(e)).collect();
    assert_eq!(differs.len(), 1);
    assert_eq!(differs[0].name, full);
}

#[tokio::test]
async fn the_merkle_index_kept_by_every_write_equals_one_rebuilt_from_the_data() {
    let store = Store::in_memory(StoreOptions::default()).unwrap();
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for _ in 0..400 {
        let k: u8 = rng.random_range(0..40);
        let id = BlockId { data_id: [k % 10; 16], index: u32::from(k) };
        let op = match rng.random_range(0..6) {
            0 | 1 => {
                let context = store.get(T, &[k]).unwrap().unwrap_or_default().context();
                coordinate(&store, &[k], context, &[rng.random()]).await.unwrap();
                continue;
            }
            2 => WriteOp::PutBlock { id, data: Bytes::from(vec![k; 16]), hint_for: None },
            3 => WriteOp::DeleteBlocks { ids: vec![id] },
            4 => WriteOp::DeleteBody { data_id: id.data_id },
            _ => WriteOp::DropUnhinted { items: vec![(T, vec![k])], blocks: vec![id] },
        };
        store.write(op).await.unwrap();
    }
    let kept = [TreeKind::Items, TreeKind::Blocks].map(|k| merkle_snapshot(&store, k));
    {
        let db = store.db.get().unwrap();
        let txn = db.begin_write().unwrap();
        merkle::rebuild(&txn).unwrap();
        txn.commit().unwrap();
    }
    let rebuilt = [TreeKind::Items, TreeKind::Blocks].map(|k| merkle_snapshot(&store, k));
    assert_eq!(kept, rebuilt);
    assert!(kept[0].1.len() > 5 && kept[1].1.len() > 2, "the workload left data behind");
}

fn delete_at(
    store: &Store,
    key: &[u8],
    context: VectorClock,
    timestamp_ms: i64,
) -> impl Future<Output = Result<Sibling, StoreError>> {
    store.coordinate((T, key.to_vec()), context, 1, timestamp_ms, None)
}

fn due(store: &Store, before_ms: i64) -> Vec<Vec<u8>> {
    let page = store.tombstones_before(before_ms, None, 100, &|_, _| true).unwrap();
    page.items.into_iter().map(|(_, key, _)| key).collect()
}

#[tokio::test]
async fn tombstones_are_found_by_age_and_leave_the_index_when_the_key_is_written_again() {
    let store = Store::in_memory(StoreOptions::default()).unwrap();
    coordinate(&store, b"a", VectorClock::new(), b"v").await.unwrap();
    let context = store.get(T, b"a").unwrap().unwrap().context();
    delete_at(&store, b"a", context, 1_000).await.unwrap();
    delete_at(&store, b"b", VectorClock::new(), 5_000).await.unwrap();
    assert_eq!(store.tombstone_count().unwrap(), 2);
    assert_eq!(due(&store, 1_000), Vec::<Vec<u8>>::new(), "not older than the cutoff");
    assert_eq!(due(&store, 1_001), vec![b"a".to_vec()]);
    assert_eq!(due(&store, 9_000), vec![b"a".to_vec(), b"b".to_vec()], "oldest first");
    // Written again: live, no longer a tombstone.
    let context = store.get(T, b"a").unwrap().unwrap().context();
    coordinate(&store, b"a", context, b"back").await.unwrap();
    assert_eq!(due(&store, 9_000), vec![b"b".to_vec()]);
    assert_eq!(store.tombstone_count().unwrap(), 1);
}

#[tokio::test]
async fn a_purge_forgets_only_copies_the_tombstone_covers_and_no_hint_needs() {
    let store = Store::in_memory(StoreOptions::default()).unwrap();
    for key in [b"gone", b"hint", b"back"] {
        coordinate(&store, key, VectorClock::new(), b"v").await.unwrap();
        let context = store.get(T, key).unwrap().unwrap().context();
        delete_at(&store, key, context, 10).await.unwrap();
    }
    let tombstone = |key: &[u8]| (T, key.to_vec(), store.get(T, key).unwrap().unwrap());
    let items = vec![
        tombstone(b"gone"),
        tombstone(b"hint"),
        tombstone(b"back"),
        (T, b"none".to_vec(), tombstone(b"gone").2),
    ];
    // A hint on one, a newer write on another.
    store
        .write(WriteOp::AddHint {
            owner: 7,
            op: HintOp::Item { table: T.0, key: b"hint".to_vec() },
        })
        .await
        .unwrap();
    let context = store.get(T, b"back").unwrap().unwrap().context();
    coordinate(&store, b"back", context, b"newer").await.unwrap();
    assert_eq!(store.purgeable(&items).unwrap(), vec![true, false, false, true]);
    // A live version is never a tombstone to purge with, even where nothing is stored.
    let live = store.get(T, b"back").unwrap().unwrap();
    assert_eq!(store.purgeable(&[(T, b"none".to_vec(), live)]).unwrap(), vec![false]);
    // A copy that missed the delete waits for the tombstone: the tombstone covers it, but were
    // this node's purge call to fail while the other owners forget theirs, it would be left
    // with nothing to beat it.
    let missed = Store::in_memory(StoreOptions::default()).unwrap();
    coordinate(&missed, b"gone", VectorClock::new(), b"v").await.unwrap();
    let gone = tombstone(b"gone");
    assert_eq!(missed.purgeable(std::slice::from_ref(&gone)).unwrap(), vec![false]);
    let merged = WriteOp::Merge {
        table: T,
        key: b"gone".to_vec(),
        siblings: gone.2.clone(),
        hint_for: None,
    };
    missed.write(merged).await.unwrap();
    assert_eq!(missed.purgeable(std::slice::from_ref(&gone)).unwrap(), vec![true]);
    // The purge itself checks again, in its own transaction.
    store.write(WriteOp::Purge { items }).await.unwrap();
    assert!(store.get(T, b"gone").unwrap().is_none());
    assert!(store.get(T, b"hint").unwrap().is_some(), "a hint still refers to it");
    let back = store.get(T, b"back").unwrap().unwrap();
    assert_eq!(back.winner().unwrap().value.as_deref(), Some(&b"newer"[..]));
    assert_eq!(store.tombstone_count().unwrap(), 1, "only the hinted tombstone is left");
    let merkle = store.tree_nodes(TreeKind::Items, &[(0, 0)]).unwrap()[0];
    assert_eq!(merkle.count, 2, "the Merkle index forgot the purged item too");
}

#[tokio::test]
async fn the_tombstone_index_is_built_for_a_store_written_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.redb");
    {
        let store = Store::open(&path, StoreOptions::default()).unwrap();
        delete_at(&store, b"old", VectorClock::new(), 3).await.unwrap();
        coordinate(&store, b"live", VectorClock::new(), b"v").await.unwrap();
        store.close().await;
    }
    {
        let db = redb::Database::open(&path).unwrap();
        let txn = db.begin_write().unwrap();
        txn.delete_table(tables::TOMBSTONES).unwrap();
        txn.open_table(tables::META).unwrap().remove(TOMBSTONE_INDEX).unwrap();
        txn.commit().unwrap();
    }
    let store = Store::open(&path, StoreOptions::default()).unwrap();
    assert_eq!(due(&store, 100), vec![b"old".to_vec()]);
}

#[tokio::test]
async fn a_purge_forgets_the_decisions_its_tombstone_covers() {
    use crate::consensus::{Ballot, Proposal, Reply, Request};
    let store = Store::in_memory(StoreOptions::default()).unwrap();
    let mut clock = VectorClock::new();
    clock.set(crate::causality::CONSENSUS_ACTOR, 1);
    let created = Sibling { clock, timestamp_ms: 1, writer: 7, value: Some(b"v1".to_vec()) };
    let step = |request| WriteOp::Paxos { table: T, key: b"k".to_vec(), request, layout: 0 };
    let b = Ballot { round: 1, node: 7 };
    let commit = Proposal { ballot: b, value: Some(created.clone()) };
    store.write(step(Request::Commit(commit))).await.unwrap();
    // A plain delete supersedes the decided version; the purge forgets the tombstone.
    let tombstone = delete_at(&store, b"k", created.clock.clone(), 2).await.unwrap();
    let purge = vec![(T, b"k".to_vec(), Siblings::from(tombstone))];
    store.write(WriteOp::Purge { items: purge }).await.unwrap();
    assert!(store.get(T, b"k").unwrap().is_none());
    let WriteOutcome::Paxos(answer) =
        store.write(step(Request::Prepare(Ballot { round: 2, node: 7 }))).await.unwrap()
    else {
        panic!("expected a consensus answer")
    };
    assert_eq!(
        answer.reply,
        Reply::Promise { accepted: None, committed: Some(Proposal { ballot: b, value: None }) },
        "the deleted version must not come back through the consensus row"
    );
}

/// Regression (simulation seed 850 of 1000): an owner that forgot a key (clean-up while it did
/// not own it) and owns it again minted a delete with a counter older versions already
/// carried; they dominated it and the acknowledged delete was lost. Counters are per node now.
#[tokio::test]
async fn a_node_never_mints_a_counter_twice_even_for_a_key_it_forgot() {
    let store = Store::in_memory(StoreOptions::default()).unwrap();
    let first = coordinate(&store, b"k", VectorClock::new(), b"v1").await.unwrap();
    store
        .write(WriteOp::DropUnhinted { items: vec![(T, b"k".to_vec())], blocks: Vec::new() })
        .await
        .unwrap();
    assert!(store.get(T, b"k").unwrap().is_none());
    // A stale context (the read missed every version) and no stored copy: still a new counter.
    let again = coordinate(&store, b"k", VectorClock::new(), b"v2").await.unwrap();
    assert!(again.clock.get(1) > first.clock.get(1), "{:?} after {:?}", again.clock, first.clock);
    assert!(!first.clock.descends(&again.clock), "the old version must not dominate the new one");
}

#[tokio::test]
async fn forgetting_everything_keeps_the_journal_and_the_minted_counter() {
    let store = Store::in_memory(StoreOptions::default()).unwrap();
    for i in 0..1200u32 {
        coordinate(&store, &i.to_be_bytes(), VectorClock::new(), b"v").await.unwrap();
    }
    let id = BlockId { data_id: [4; 16], index: 0 };
    store
        .write(WriteOp::PutBlock { id, data: Bytes::from_static(b"b"), hint_for: Some(9) })
        .await
        .unwrap();
    store
        .write(WriteOp::AddHint { owner: 9, op: HintOp::DeleteBody { data_id: [5; 16] } })
        .await
        .unwrap();
    store.write(WriteOp::PutJournal { key: b"j".to_vec(), value: b"x".to_vec() }).await.unwrap();
    let minted = store.get(T, &0u32.to_be_bytes()).unwrap().unwrap().winner().unwrap().clock.get(1);
    assert!(!store.holds_nothing().unwrap());

    let forgot = store.forget_everything().await.unwrap();
    assert!(forgot >= 1200 + 1 + 2, "{forgot} entries");
    assert!(store.holds_nothing().unwrap());
    assert!(store.hint_counts().unwrap().is_empty());
    for kind in [TreeKind::Items, TreeKind::Blocks] {
        assert_eq!(store.tree_nodes(kind, &[(0, 0)]).unwrap()[0].count, 0, "{kind:?}");
    }
    assert_eq!(store.journal().unwrap(), vec![(b"j".to_vec(), b"x".to_vec())]);
    // A version minted after forgetting still ranks above every one minted before.
    let fresh = coordinate(&store, b"new", VectorClock::new(), b"w").await.unwrap();
    assert!(fresh.clock.get(1) > minted);
}
