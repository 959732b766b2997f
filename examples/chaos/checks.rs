//! The checks after the faults healed: every key, read through every node, holds what its
//! history allows (its last acknowledged state, or a write whose outcome is unknown after it);
//! every owner, started alone with R = 1, serves the same from its own replica (so replicas
//! agree and hinted handoff delivered everything); no upload the workload aborted is open.

use std::time::Duration;

use ringvault::ring::{Layout, NodeId, item_hash};

use crate::nodes::{Node, wait_for};
use crate::workload::{BUCKET, Shared, State, acceptable, client, read};

/// The buckets' and the objects' table ids and item keys, as `objects::records` builds them.
const BUCKETS_TABLE: u8 = 1;
/// Bodies up to this size live inside the object's item (the node's default).
const INLINE_MAX: usize = 64 << 10;
const OBJECTS_TABLE: u8 = 2;

fn object_item(key: &str) -> Vec<u8> {
    let mut item = BUCKET.as_bytes().to_vec();
    item.push(0);
    item.extend_from_slice(key.as_bytes());
    item
}

/// Reads `key`, `attempts` times at most (a node just restarted may still be catching up).
async fn read_settled(
    s3: &aws_sdk_s3::Client,
    key: &str,
    attempts: usize,
) -> Result<State, String> {
    let mut last = String::new();
    for _ in 0..attempts {
        match tokio::time::timeout(Duration::from_secs(10), read(s3, key)).await {
            Ok(Ok(state)) => return Ok(state),
            Ok(Err(e)) => last = e,
            Err(_) => last = "timed out".into(),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(last)
}

fn describe(state: &State) -> String {
    match state {
        Some(v) => format!("{} bytes, xxh3 {:032x}", v.size, v.hash),
        None => "absent".into(),
    }
}

/// Reads `key` through `s3` and records a violation when the result is not a state its
/// history allows; `place` says where the read went, for the message.
async fn check_key(
    s3: &aws_sdk_s3::Client,
    key: &str,
    allowed: &[State],
    place: &str,
    attempts: usize,
    violations: &mut Vec<String>,
) {
    match read_settled(s3, key, attempts).await {
        Ok(got) if allowed.contains(&got) => {}
        Ok(got) => violations.push(format!(
            "{key} {place} is {}; allowed: {}",
            describe(&got),
            allowed.iter().map(describe).collect::<Vec<_>>().join(" or ")
        )),
        Err(e) => violations.push(format!("{key} unreadable {place}: {e}")),
    }
}

/// Every key through every running node. Returns the reads made and the violations.
pub async fn through_the_ring(nodes: &[Node], shared: &Shared) -> (usize, Vec<String>) {
    let history = shared.history.lock().unwrap().clone();
    let mut reads = 0;
    let mut violations = Vec::new();
    for node in nodes.iter().filter(|n| n.is_running()) {
        let s3 = client(&node.s3_endpoint());
        let place = format!("through node {}", node.index);
        for (key, ops) in &history {
            reads += 1;
            check_key(&s3, key, &acceptable(ops), &place, 5, &mut violations).await;
        }
    }
    (reads, violations)
}

/// The layout a stopped node persisted.
pub async fn stored_layout(node: &Node) -> Layout {
    let path = node.data_dir().expect("a node of ours").join("ringvault.redb");
    let store = ringvault::store::Store::open(&path, ringvault::store::StoreOptions::default())
        .expect("open the node's store");
    let bytes = store.get_meta("layout").expect("read the layout").expect("a stored layout");
    store.close().await;
    postcard::from_bytes(&bytes).expect("decode the layout")
}

fn node_id(node: &Node) -> NodeId {
    u64::from_str_radix(node.id.as_deref().expect("started once"), 16).expect("a hex node id")
}

/// Starts `node` alone (every other node stopped) with R = 1 and reads each key it owns from
/// its own replica. Returns the keys checked (`None` when the node alone cannot serve S3 at
/// all: it owns neither the access key's nor the bucket's item, which every request reads
/// first; with N = 3 of 5 nodes that happens) and the violations; stops the node again.
pub async fn alone(
    node: &mut Node,
    layout: &Layout,
    shared: &Shared,
) -> (Option<usize>, Vec<String>) {
    let history = shared.history.lock().unwrap().clone();
    node.start(None, &[("RINGVAULT_READ_QUORUM", "1")]).await;
    let s3 = client(&node.s3_endpoint());
    // Any S3 answer will do: alone, the node may own none of the bucket list's items.
    wait_for("the node alone to answer", Duration::from_secs(30), async || {
        use aws_sdk_s3::error::SdkError;
        matches!(s3.list_buckets().send().await, Ok(_) | Err(SdkError::ServiceError(_)))
    })
    .await;
    if s3.head_bucket().bucket(BUCKET).send().await.is_err() {
        let clean = node.terminate();
        let violations = if clean {
            Vec::new()
        } else {
            vec![format!("node {} did not exit cleanly on SIGTERM", node.index)]
        };
        return (None, violations);
    }
    let me = node_id(node);
    // A GET of an absent key also reads the bucket's item (NoSuchKey or NoSuchBucket?): where
    // this node does not own it, only keys that must hold a value can be read alone.
    let bucket_partition = layout.partition_of(item_hash(BUCKETS_TABLE, BUCKET.as_bytes()));
    let owns_bucket = layout.preference_list(bucket_partition).contains(&me);
    // Bodies past the inline size are blocks, each on its own preference list: with more nodes
    // than replicas an owner of the object's item holds only some of its blocks, so alone it
    // can serve only bodies stored inside the item.
    let blocks_spread = layout.members.len() > layout.replication_factor;
    let fits_alone = |allowed: &[State]| {
        !blocks_spread || allowed.iter().flatten().all(|v| v.size <= INLINE_MAX)
    };
    let mut checked = 0;
    let mut violations = Vec::new();
    for (key, ops) in &history {
        let partition = layout.partition_of(item_hash(OBJECTS_TABLE, &object_item(key)));
        let allowed = acceptable(ops);
        if !layout.preference_list(partition).contains(&me)
            || (!owns_bucket && allowed.contains(&None))
            || !fits_alone(&allowed)
        {
            continue;
        }
        checked += 1;
        let place = format!("on owner {} alone", node.index);
        check_key(&s3, key, &allowed, &place, 1, &mut violations).await;
    }
    if !node.terminate() {
        violations.push(format!("node {} did not exit cleanly on SIGTERM", node.index));
    }
    (Some(checked), violations)
}

/// Uploads the workload aborted must not be open. Returns the open uploads found and the
/// violations.
pub async fn uploads(node: &Node, shared: &Shared) -> (usize, Vec<String>) {
    let s3 = client(&node.s3_endpoint());
    let mut open = Vec::new();
    let (mut key_marker, mut id_marker) = (None::<String>, None::<String>);
    loop {
        let page = s3
            .list_multipart_uploads()
            .bucket(BUCKET)
            .set_key_marker(key_marker.clone())
            .set_upload_id_marker(id_marker.clone())
            .send()
            .await
            .expect("list uploads");
        for upload in page.uploads() {
            open.push((
                upload.key().unwrap_or_default().to_owned(),
                upload.upload_id().unwrap_or_default().to_owned(),
            ));
        }
        if page.is_truncated() != Some(true) {
            break;
        }
        key_marker = page.next_key_marker().map(str::to_owned);
        id_marker = page.next_upload_id_marker().map(str::to_owned);
    }
    let aborted = shared.aborted.lock().unwrap().clone();
    let violations = open
        .iter()
        .filter(|u| aborted.contains(u))
        .map(|(key, id)| format!("upload {id} of {key} was aborted, and is still open"))
        .collect();
    (open.len(), violations)
}
