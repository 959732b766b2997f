//! Versioned buckets on a 3-node ring: concurrent writes to one key through every node all
//! survive as versions (none is dropped by sibling resolution), the current version is the
//! newest of them on every node, and a node that was down while versions were written and
//! deleted serves the same versions once it is back.

use std::collections::BTreeMap;

use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
use futures_util::future::join_all;

use super::ring::TestCluster;

async fn enable_versioning(s3: &aws_sdk_s3::Client, bucket: &str) {
    let config = VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build();
    s3.put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(config)
        .send()
        .await
        .unwrap();
}

/// Version id -> (is latest), as node `s3` lists them for `key`, newest first.
async fn versions_of(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut markers: (Option<String>, Option<String>) = (None, None);
    loop {
        let mut request = s3.list_object_versions().bucket(bucket).prefix(key).max_keys(7);
        if let (Some(k), Some(v)) = &markers {
            request = request.key_marker(k).version_id_marker(v);
        }
        let page = request.send().await.unwrap();
        for v in page.versions() {
            out.push((v.version_id().unwrap().to_owned(), v.is_latest().unwrap()));
        }
        if !page.is_truncated().unwrap() {
            return out;
        }
        markers = (
            page.next_key_marker().map(str::to_owned),
            page.next_version_id_marker().map(str::to_owned),
        );
    }
}

async fn read(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, version: &str) -> Vec<u8> {
    let got = s3.get_object().bucket(bucket).key(key).version_id(version).send().await.unwrap();
    got.body.collect().await.unwrap().into_bytes().to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writes_through_every_node_all_survive_as_versions() {
    let cluster = TestCluster::start(3).await;
    let s3 = cluster.s3(0);
    s3.create_bucket().bucket("vring").send().await.unwrap();
    enable_versioning(&s3, "vring").await;
    const WRITERS: usize = 24;
    let writes = (0..WRITERS).map(|i| {
        let s3 = cluster.s3(i % 3);
        async move {
            let body = format!("writer {i}").into_bytes();
            let put = s3.put_object().bucket("vring").key("hot").body(body.clone().into());
            let id = put.send().await.unwrap().version_id().unwrap().to_owned();
            (id, body)
        }
    });
    let acked: BTreeMap<String, Vec<u8>> = join_all(writes).await.into_iter().collect();
    assert_eq!(acked.len(), WRITERS, "every write got its own version id");

    for node in 0..3 {
        let s3 = cluster.s3(node);
        let listed = versions_of(&s3, "vring", "hot").await;
        let ids: Vec<&String> = listed.iter().map(|(id, _)| id).collect();
        let mut expected: Vec<&String> = acked.keys().collect();
        // Version ids sort newest first.
        expected.sort();
        assert_eq!(ids, expected, "node {node} lists every acknowledged version, newest first");
        assert!(
            listed[0].1 && listed[1..].iter().all(|(_, latest)| !latest),
            "node {node}: {listed:?}"
        );
        let current = s3.get_object().bucket("vring").key("hot").send().await.unwrap();
        assert_eq!(current.version_id(), Some(expected[0].as_str()), "node {node}: the newest");
        for (id, body) in &acked {
            assert_eq!(&read(&s3, "vring", "hot", id).await, body, "node {node}, version {id}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_down_while_versions_change_serves_them_all_when_back() {
    let mut cluster = TestCluster::start(3).await;
    let s3 = cluster.s3(0);
    s3.create_bucket().bucket("vdown").send().await.unwrap();
    enable_versioning(&s3, "vdown").await;
    let mut ids = Vec::new();
    for i in 0..4 {
        let put =
            s3.put_object().bucket("vdown").key("k").body(format!("v{i}").into_bytes().into());
        ids.push(put.send().await.unwrap().version_id().unwrap().to_owned());
    }
    cluster.stop(2).await;
    let s3 = cluster.s3(1);
    for i in 4..8 {
        let put =
            s3.put_object().bucket("vdown").key("k").body(format!("v{i}").into_bytes().into());
        ids.push(put.send().await.unwrap().version_id().unwrap().to_owned());
    }
    // The newest version and an old one go while the node is down.
    for gone in [ids.remove(7), ids.remove(0)] {
        s3.delete_object().bucket("vdown").key("k").version_id(gone).send().await.unwrap();
    }
    cluster.restart(2).await;
    let back = cluster.s3(2);
    let mut expected = ids.clone();
    expected.sort();
    let listed: Vec<String> =
        versions_of(&back, "vdown", "k").await.into_iter().map(|(id, _)| id).collect();
    assert_eq!(listed, expected, "the returning node lists what the ring acknowledged");
    let current = back.get_object().bucket("vdown").key("k").send().await.unwrap();
    assert_eq!(current.version_id(), Some(ids[5].as_str()), "v6 is current after v7 went");
    assert_eq!(read(&back, "vdown", "k", &ids[0]).await, b"v1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lock_set_through_one_node_refuses_deletes_through_every_other() {
    use aws_sdk_s3::primitives::DateTime;
    use aws_sdk_s3::types::{ObjectLockRetention, ObjectLockRetentionMode};
    let mut cluster = TestCluster::start(3).await;
    let s3 = cluster.s3(0);
    let bucket = "vlock";
    s3.create_bucket().bucket(bucket).object_lock_enabled_for_bucket(true).send().await.unwrap();
    let put = s3.put_object().bucket(bucket).key("k").body(b"kept".to_vec().into()).send();
    let version = put.await.unwrap().version_id().unwrap().to_owned();
    let until = DateTime::from_secs(4_102_444_800);
    let retention = ObjectLockRetention::builder()
        .mode(ObjectLockRetentionMode::Compliance)
        .retain_until_date(until);
    s3.put_object_retention()
        .bucket(bucket)
        .key("k")
        .retention(retention.build())
        .send()
        .await
        .unwrap();
    for node in [1, 2] {
        let delete = cluster.s3(node).delete_object().bucket(bucket).key("k").version_id(&version);
        let err = delete.bypass_governance_retention(true).send().await.unwrap_err();
        assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(403), "via node {node}");
    }
    // With one owner down the lock still holds (a majority decides); the version stays.
    cluster.stop(2).await;
    let delete = cluster.s3(1).delete_object().bucket(bucket).key("k").version_id(&version);
    let err = delete.send().await.unwrap_err();
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(403));
    assert_eq!(read(&cluster.s3(1), bucket, "k", &version).await, b"kept");
}
