//! Conditional writes on a 3-node ring, decided by consensus among each key's owners: racing
//! creates through different nodes have exactly one winner, If-Match read-modify-write loses no
//! update, CreateBucket is exclusive, and without a majority of owners nothing is written.

use aws_sdk_s3::error::ProvideErrorMetadata;
use futures_util::future::join_all;

use super::ring::TestCluster;

fn status<E>(err: &aws_sdk_s3::error::SdkError<E>) -> u16 {
    err.raw_response().map_or(0, |r| r.status().as_u16())
}

async fn body(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> (Vec<u8>, String) {
    let got = s3.get_object().bucket(bucket).key(key).send().await.unwrap();
    let etag = got.e_tag().unwrap().to_owned();
    (got.body.collect().await.unwrap().into_bytes().to_vec(), etag)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_creates_through_every_node_have_exactly_one_winner() {
    let cluster = TestCluster::start(3).await;
    cluster.s3(0).create_bucket().bucket("race").send().await.unwrap();
    for key in ["a", "b", "c", "d"] {
        let attempts = (0..9).map(|i| {
            let s3 = cluster.s3(i % 3);
            async move {
                let result = s3
                    .put_object()
                    .bucket("race")
                    .key(key)
                    .if_none_match("*")
                    .body(format!("writer {i}").into_bytes().into())
                    .send()
                    .await;
                (i, result)
            }
        });
        let mut winners = Vec::new();
        for (i, result) in join_all(attempts).await {
            match result {
                Ok(_) => winners.push(i),
                Err(e) => {
                    let code = e.as_service_error().and_then(|s| s.code()).map(str::to_owned);
                    assert!(
                        matches!(
                            (status(&e), code.as_deref()),
                            (412, Some("PreconditionFailed"))
                                | (409, Some("ConditionalRequestConflict"))
                        ),
                        "a losing create gets 412 or 409, got {} {code:?}",
                        status(&e)
                    );
                }
            }
        }
        assert_eq!(winners.len(), 1, "key {key}: exactly one create wins, got {winners:?}");
        let expected = format!("writer {}", winners[0]).into_bytes();
        for node in 0..3 {
            assert_eq!(body(&cluster.s3(node), "race", key).await.0, expected, "node {node}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn if_match_read_modify_write_through_three_nodes_loses_no_update() {
    let cluster = TestCluster::start(3).await;
    let s3 = cluster.s3(0);
    s3.create_bucket().bucket("counter").send().await.unwrap();
    s3.put_object().bucket("counter").key("n").body(b"0".to_vec().into()).send().await.unwrap();
    const WRITERS: usize = 3;
    const INCREMENTS: usize = 5;
    let writers = (0..WRITERS).map(|w| {
        let s3 = cluster.s3(w);
        async move {
            let mut done = 0;
            let mut conflicts = 0;
            while done < INCREMENTS {
                let (value, etag) = body(&s3, "counter", "n").await;
                let n: u64 = String::from_utf8(value).unwrap().parse().unwrap();
                let put = s3
                    .put_object()
                    .bucket("counter")
                    .key("n")
                    .if_match(etag)
                    .body((n + 1).to_string().into_bytes().into())
                    .send()
                    .await;
                match put {
                    Ok(_) => done += 1,
                    Err(e) if matches!(status(&e), 412 | 409) => conflicts += 1,
                    Err(e) => panic!("writer {w}: {e:?}"),
                }
                assert!(conflicts < 500, "writer {w} starves");
            }
        }
    });
    join_all(writers).await;
    for node in 0..3 {
        let (value, _) = body(&cluster.s3(node), "counter", "n").await;
        assert_eq!(
            String::from_utf8(value).unwrap(),
            (WRITERS * INCREMENTS).to_string(),
            "node {node}: every acknowledged If-Match increment is counted once"
        );
    }
    // A conditional delete names the version it removes.
    let (_, etag) = body(&s3, "counter", "n").await;
    let err = s3.delete_object().bucket("counter").key("n").if_match("\"0000\"").send().await;
    assert_eq!(status(&err.unwrap_err()), 412);
    s3.delete_object().bucket("counter").key("n").if_match(etag).send().await.unwrap();
    let gone = s3.get_object().bucket("counter").key("n").send().await.unwrap_err();
    assert_eq!(status(&gone), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_of_two_racing_bucket_creations_wins() {
    let cluster = TestCluster::start(3).await;
    // Two owners: the root key through node 0, a second key through node 1.
    let node = cluster.node(0);
    let admin = ringvault::admin::AdminClient::new(
        &node.admin_addr().to_string(),
        node.admin_token().clone(),
    )
    .unwrap();
    let (second_id, second_secret) = ("RVSECONDOWNER0000001", "second-owner-secret-for-the-race");
    admin
        .import_key(&ringvault::admin::api::ImportKeyRequest {
            access_key_id: second_id.into(),
            secret_access_key: second_secret.into(),
            name: "second".into(),
            allow_create_bucket: true,
        })
        .await
        .unwrap();
    let second = crate::common::client(
        &format!("http://{}", cluster.node(1).s3_addr()),
        second_id,
        second_secret,
    );
    for round in 0..4 {
        let name = format!("exclusive-{round}");
        let clients = [cluster.s3(0), second.clone()];
        let creates = clients.into_iter().map(|s3| {
            let name = name.clone();
            async move { s3.create_bucket().bucket(name).send().await }
        });
        let results = join_all(creates).await;
        let won = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(won, 1, "round {round}: exactly one creation succeeds");
        let lost = results.into_iter().find_map(Result::err).unwrap();
        let code = lost.as_service_error().and_then(|s| s.code()).map(str::to_owned);
        assert_eq!(code.as_deref(), Some("BucketAlreadyExists"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_a_majority_of_owners_a_conditional_write_changes_nothing() {
    let mut cluster = TestCluster::start(3).await;
    cluster.s3(0).create_bucket().bucket("quorum").send().await.unwrap();
    // One owner down: a majority remains, conditional writes go on.
    cluster.stop(2).await;
    let s3 = cluster.s3(0);
    s3.put_object()
        .bucket("quorum")
        .key("one-down")
        .if_none_match("*")
        .body(b"1".to_vec().into())
        .send()
        .await
        .unwrap();
    // Two down: no majority. A 503 the SDK may retry, and no write anywhere.
    cluster.stop(1).await;
    let err = s3
        .put_object()
        .bucket("quorum")
        .key("two-down")
        .if_none_match("*")
        .body(b"2".to_vec().into())
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&err), 503);
    cluster.restart(1).await;
    cluster.restart(2).await;
    let mut found = None;
    for node in 0..3 {
        match cluster.s3(node).get_object().bucket("quorum").key("two-down").send().await {
            Ok(_) => found = Some(node),
            Err(e) => assert_eq!(status(&e), 404, "node {node}"),
        }
    }
    assert_eq!(found, None, "a refused conditional write left no version");
    let again = s3
        .put_object()
        .bucket("quorum")
        .key("one-down")
        .if_none_match("*")
        .body(b"x".to_vec().into())
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&again), 412, "the write decided with one owner down stands");
}
