//! Access control on a 3-node ring: a bucket policy written through one node binds the very
//! next request through any other node (the policy lives in the bucket record, written and
//! read by quorum), also for a node that was down while the policy changed.

use super::ring::TestCluster;
use crate::common::raw::RawRequest;

fn policy(bucket: &str, effect: &str) -> String {
    format!(
        r#"{{"Statement":[{{"Effect":"{effect}","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::{bucket}/*"}}]}}"#
    )
}

async fn anonymous_status(cluster: &TestCluster, node: usize, path: &str) -> u16 {
    RawRequest::new("GET", cluster.node(node).s3_addr(), path).send().await.status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_policy_written_through_one_node_binds_every_node_at_once() {
    let mut cluster = TestCluster::start(3).await;
    let owner = cluster.s3(0);
    owner.create_bucket().bucket("policed").send().await.unwrap();
    let put = owner.put_object().bucket("policed").key("page").body(b"hello".to_vec().into());
    put.send().await.unwrap();

    // Open and close the object in turns, each change through another node, and check the
    // two other nodes right after the write is acknowledged.
    for round in 0..12 {
        let writer = round % 3;
        let open = round % 2 == 0;
        let s3 = cluster.s3(writer);
        if open {
            s3.put_bucket_policy()
                .bucket("policed")
                .policy(policy("policed", "Allow"))
                .send()
                .await
                .unwrap();
        } else {
            s3.delete_bucket_policy().bucket("policed").send().await.unwrap();
        }
        for reader in (0..3).filter(|r| *r != writer) {
            let status = anonymous_status(&cluster, reader, "/policed/page").await;
            assert_eq!(
                status,
                if open { 200 } else { 403 },
                "round {round}: node {reader} after a write through node {writer}"
            );
        }
    }

    // An explicit deny binds the owner through every node as well.
    let deny = r#"{"Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:DeleteObject","Resource":"arn:aws:s3:::policed/*"}]}"#;
    cluster.s3(1).put_bucket_policy().bucket("policed").policy(deny).send().await.unwrap();
    for node in 0..3 {
        let refused = cluster.s3(node).delete_object().bucket("policed").key("page").send().await;
        assert!(refused.is_err(), "node {node} let the owner delete against the policy");
    }

    // A node that was down while the policy changed enforces the new one when it is back.
    cluster.stop(2).await;
    cluster
        .s3(0)
        .put_bucket_policy()
        .bucket("policed")
        .policy(policy("policed", "Allow"))
        .send()
        .await
        .unwrap();
    cluster.restart(2).await;
    assert_eq!(anonymous_status(&cluster, 2, "/policed/page").await, 200);
    cluster.s3(1).delete_bucket_policy().bucket("policed").send().await.unwrap();
    assert_eq!(anonymous_status(&cluster, 2, "/policed/page").await, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_changes_of_different_sub_resources_all_survive() {
    use aws_sdk_s3::types::{
        BucketLifecycleConfiguration, CorsConfiguration, CorsRule, ExpirationStatus,
        LifecycleExpiration, LifecycleRule, LifecycleRuleFilter, Tag, Tagging,
    };
    let cluster = TestCluster::start(3).await;
    cluster.s3(0).create_bucket().bucket("configs").send().await.unwrap();
    for round in 0..4 {
        let (a, b, c) =
            (cluster.s3(round % 3), cluster.s3((round + 1) % 3), cluster.s3((round + 2) % 3));
        let cors = CorsConfiguration::builder()
            .cors_rules(
                CorsRule::builder()
                    .allowed_origins(format!("https://{round}.example"))
                    .allowed_methods("GET")
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        let lifecycle = BucketLifecycleConfiguration::builder()
            .rules(
                LifecycleRule::builder()
                    .id(format!("r{round}"))
                    .status(ExpirationStatus::Enabled)
                    .filter(LifecycleRuleFilter::builder().prefix("tmp/").build())
                    .expiration(LifecycleExpiration::builder().days(round as i32 + 1).build())
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        let tags = Tagging::builder()
            .tag_set(Tag::builder().key("round").value(round.to_string()).build().unwrap())
            .build()
            .unwrap();
        let (x, y, z) = tokio::join!(
            a.put_bucket_cors().bucket("configs").cors_configuration(cors).send(),
            b.put_bucket_lifecycle_configuration()
                .bucket("configs")
                .lifecycle_configuration(lifecycle)
                .send(),
            c.put_bucket_policy().bucket("configs").policy(policy("configs", "Allow")).send(),
        );
        x.unwrap();
        y.unwrap();
        z.unwrap();
        let tagged =
            cluster.s3(round % 3).put_bucket_tagging().bucket("configs").tagging(tags).send();
        tagged.await.unwrap();
        for node in 0..3 {
            let s3 = cluster.s3(node);
            let cors = s3.get_bucket_cors().bucket("configs").send().await.unwrap();
            assert_eq!(
                cors.cors_rules()[0].allowed_origins(),
                [format!("https://{round}.example")],
                "node {node}, round {round}"
            );
            let rules =
                s3.get_bucket_lifecycle_configuration().bucket("configs").send().await.unwrap();
            assert_eq!(rules.rules()[0].id(), Some(format!("r{round}").as_str()));
            s3.get_bucket_policy().bucket("configs").send().await.unwrap();
        }
        cluster.s3(round % 3).delete_bucket_policy().bucket("configs").send().await.unwrap();
    }
}

/// The bug behind a flaky 3-node run of Ceph's test_bucket_concurrent_set_canned_acl: fifty
/// PutBucketAcl requests at once through one node each run a consensus round on the bucket
/// record; the back-off after a preempted round was spread by node id alone, so all fifty
/// retried at the same instant, preempted each other again, and some gave up with 409 after
/// every round. Spread by each proposer's own ballot, every request gets through.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn regression_many_concurrent_changes_through_one_node_all_succeed() {
    use aws_sdk_s3::types::BucketCannedAcl;
    let cluster = TestCluster::start(3).await;
    let s3 = cluster.s3(1);
    s3.create_bucket().bucket("crowded").send().await.unwrap();
    let requests = (0..50).map(|i| {
        let acl = if i % 2 == 0 { BucketCannedAcl::PublicRead } else { BucketCannedAcl::Private };
        s3.put_bucket_acl().bucket("crowded").acl(acl).send()
    });
    let results = futures_util::future::join_all(requests).await;
    let failed: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(failed.is_empty(), "{} of 50 failed, first: {:?}", failed.len(), failed.first());
}
