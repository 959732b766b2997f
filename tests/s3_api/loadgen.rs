//! The load generator (`ringvault bench`) against a real node: every workload runs without
//! errors, counts what it did, reads back exactly what it wrote, and leaves the bucket as it
//! found it unless told to keep its objects.

use std::sync::Arc;
use std::time::Duration;

use ringvault::clock::SystemClock;
use ringvault::loadgen::{self, Mix, ObjectSize, Op, Plan, Progress, Report, Stop, Target};

use crate::common::{ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, TestNode, bucket_name};

fn plan(node: &TestNode, bucket: &str, mix: Mix, stop: Stop) -> Plan {
    Plan {
        name: "test".into(),
        mix,
        targets: vec![Target {
            endpoint: node.endpoint(),
            access_key_id: ACCESS_KEY_ID.into(),
            secret_access_key: SECRET_ACCESS_KEY.into(),
            region: REGION.into(),
        }],
        bucket: bucket.into(),
        prefix: "run".into(),
        size: ObjectSize { min: 1, max: 64 << 10 },
        part_size: 5 << 20,
        concurrency: 4,
        stop,
        objects: 40,
        directories: 0,
        delimiter: false,
        reuse: false,
        keep: false,
        timeout: Duration::from_secs(60),
    }
}

async fn run(plan: Plan) -> anyhow::Result<Report> {
    loadgen::run(plan, Arc::new(SystemClock), Arc::new(Progress::default())).await
}

async fn keys_in(node: &TestNode, bucket: &str) -> Vec<String> {
    let listed = node.client().list_objects_v2().bucket(bucket).send().await.unwrap();
    listed.contents().iter().filter_map(|o| o.key().map(str::to_owned)).collect()
}

fn op(report: &Report, op: Op) -> &loadgen::report::OpReport {
    report.operations.iter().find(|o| o.op == op).unwrap_or_else(|| panic!("no {op:?} in report"))
}

#[tokio::test]
async fn a_mixed_load_reads_back_what_it_wrote_and_cleans_up_after_itself() {
    let node = TestNode::start().await;
    let bucket = bucket_name("bench");
    let mix: Mix = "get=4,head=3,put=2,delete=1,list=1".parse().unwrap();
    let report = run(plan(&node, &bucket, mix, Stop::Count(400))).await.unwrap();

    assert_eq!(report.total_errors, 0, "{}", report.to_text());
    assert_eq!(report.operations.iter().map(|o| o.ops).sum::<u64>(), 400);
    for o in [Op::Get, Op::Head, Op::Put, Op::Delete, Op::List] {
        assert!(op(&report, o).ops > 0, "{o:?} never ran:\n{}", report.to_text());
    }
    // A GET's bytes are the bodies it read, each checked against the size written.
    let get = op(&report, Op::Get);
    assert!(get.bytes > 0 && get.latency_ms.max >= get.latency_ms.p50);
    assert!(report.cleanup.as_deref().unwrap().starts_with("deleted "));
    assert_eq!(keys_in(&node, &bucket).await, Vec::<String>::new());
}

#[tokio::test]
async fn kept_objects_are_reused_by_a_later_run_and_lists_count_directories_with_a_delimiter() {
    let node = TestNode::start().await;
    let bucket = bucket_name("bench");
    let setup = Plan {
        directories: 7,
        objects: 70,
        keep: true,
        size: ObjectSize { min: 0, max: 0 },
        ..plan(&node, &bucket, Mix::only(Op::List), Stop::Count(3))
    };
    let listed = run(setup.clone()).await.unwrap();
    // One page holds all 70 keys: three pages, 210 entries.
    assert_eq!((op(&listed, Op::List).ops, listed.total_errors), (3, 0));
    assert!(listed.cleanup.as_deref().unwrap().starts_with("kept"));
    assert_eq!(keys_in(&node, &bucket).await.len(), 70);

    let folded = Plan { delimiter: true, reuse: true, keep: true, ..setup.clone() };
    let report = run(folded).await.unwrap();
    let list = op(&report, Op::List);
    // Each page is the 7 directories, not the 70 keys.
    let pages = list.ops as f64;
    let entries = list.entries_per_sec.unwrap() * report.seconds;
    assert!((entries - 7.0 * pages).abs() < 0.5, "{entries} entries in {pages} pages");

    let reads = Plan { reuse: true, keep: false, ..setup };
    let report = run(Plan { mix: Mix::only(Op::Get), ..reads }).await.unwrap();
    assert_eq!((op(&report, Op::Get).ops, report.total_errors), (3, 0));
    assert_eq!(keys_in(&node, &bucket).await, Vec::<String>::new());
}

#[tokio::test]
async fn multipart_uploads_complete_with_the_size_asked_for() {
    let node = TestNode::start().await;
    let bucket = bucket_name("bench");
    let size = (5 << 20) + 123;
    let multipart = Plan {
        size: ObjectSize { min: size, max: size },
        keep: true,
        concurrency: 2,
        ..plan(&node, &bucket, Mix::only(Op::Multipart), Stop::Count(2))
    };
    let report = run(multipart).await.unwrap();
    assert_eq!((op(&report, Op::Multipart).ops, report.total_errors), (2, 0));
    assert_eq!(op(&report, Op::Multipart).bytes, 2 * size);
    let s3 = node.client();
    for key in keys_in(&node, &bucket).await {
        let head = s3.head_object().bucket(&bucket).key(&key).send().await.unwrap();
        assert_eq!(head.content_length(), Some(size as i64));
        assert!(head.e_tag().unwrap().ends_with("-2\""), "{:?}", head.e_tag());
    }
}

#[tokio::test]
async fn a_wrong_secret_is_refused_before_the_run_with_the_servers_code() {
    let node = TestNode::start().await;
    let mut bad = plan(&node, &bucket_name("bench"), Mix::only(Op::Put), Stop::Count(1));
    bad.targets[0].secret_access_key = "not-the-secret".into();
    let error = run(bad).await.unwrap_err().to_string();
    assert!(error.contains("403 SignatureDoesNotMatch"), "{error}");
}

#[tokio::test]
async fn a_duration_bound_run_stops_on_time_and_a_delete_run_when_its_objects_are_gone() {
    let node = TestNode::start().await;
    let bucket = bucket_name("bench");
    let timed = plan(&node, &bucket, Mix::only(Op::Put), Stop::After(Duration::from_millis(500)));
    let report = run(timed).await.unwrap();
    assert!(op(&report, Op::Put).ops > 0 && report.total_errors == 0);
    assert!(report.seconds >= 0.5 && report.seconds < 30.0, "{}", report.seconds);

    let deletes = Plan {
        objects: 25,
        ..plan(&node, &bucket, Mix::only(Op::Delete), Stop::After(Duration::from_secs(60)))
    };
    let report = run(deletes).await.unwrap();
    assert_eq!((op(&report, Op::Delete).ops, report.total_errors), (25, 0));
    assert_eq!(keys_in(&node, &bucket).await, Vec::<String>::new());
}
