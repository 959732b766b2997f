//! Criterion micro-benchmarks of the hot pure code every request runs through: SigV4
//! verification, aws-chunked decoding, the body digests (MD5 for ETags, the CRCs and SHA-256
//! of x-amz-checksum-*), ring lookup, sibling merge, ListObjectsV2 XML rendering, and a
//! grouped (delimiter) walk of the store's index.
//!
//! Run: `cargo bench --bench hot_paths` (add `-- <filter>` for one group). Criterion reports
//! time per iteration and, where a group sets it, throughput; compare runs on one machine.

use std::hint::black_box;
use std::ops::Bound;

use bytes::Bytes;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use md5::{Digest as _, Md5};
use ringvault::causality::{Sibling, Siblings, VectorClock};
use ringvault::coordinator::{Grouping, prefix_successor};
use ringvault::objects::checksum::{ChecksumAlgorithm, Checksummer};
use ringvault::ring::{Layout, Member, PartitionId, item_hash};
use ringvault::s3::hot::{self, SignedRequest};
use ringvault::store::{Store, StoreOptions, TableId, Visit};

fn sigv4(c: &mut Criterion) {
    let request = SignedRequest {
        method: "PUT".into(),
        raw_path: "/photos/2024/img_000123.jpg".into(),
        query: Vec::new(),
        headers: vec![
            ("content-length".into(), "4096".into()),
            ("content-type".into(), "image/jpeg".into()),
            ("host".into(), "127.0.0.1:9000".into()),
            ("x-amz-content-sha256".into(), "UNSIGNED-PAYLOAD".into()),
            ("x-amz-date".into(), "20261207T001500Z".into()),
        ],
        payload_hash: "UNSIGNED-PAYLOAD".into(),
        amz_date: "20261207T001500Z".into(),
    };
    let authorization = hot::sign_sigv4(&request, "RVBENCHKEY0000000001", "secret");
    assert!(hot::verify_sigv4(&request, &authorization, "secret"));
    c.bench_function("sigv4/verify_header", |b| {
        b.iter(|| hot::verify_sigv4(black_box(&request), black_box(&authorization), "secret"))
    });
}

fn aws_chunked(c: &mut Criterion) {
    // 1 MiB of payload in 64 KiB chunks (as the SDKs send), arriving in 16 KiB reads.
    let chunk = vec![b'x'; 64 << 10];
    let mut body = Vec::new();
    for _ in 0..16 {
        body.extend_from_slice(
            format!("{:x};chunk-signature={}\r\n", chunk.len(), "0".repeat(64)).as_bytes(),
        );
        body.extend_from_slice(&chunk);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("0;chunk-signature={}\r\n\r\n", "0".repeat(64)).as_bytes());
    let body = Bytes::from(body);
    let pieces: Vec<Bytes> = (0..body.len())
        .step_by(16 << 10)
        .map(|i| body.slice(i..(i + (16 << 10)).min(body.len())))
        .collect();
    assert_eq!(hot::decode_aws_chunked(&pieces), Some(1 << 20));
    let mut group = c.benchmark_group("aws_chunked");
    group.throughput(Throughput::Bytes(1 << 20));
    group.bench_function("decode_1MiB", |b| b.iter(|| hot::decode_aws_chunked(black_box(&pieces))));
    group.finish();
}

fn digests(c: &mut Criterion) {
    let block = vec![7u8; 1 << 20];
    let mut group = c.benchmark_group("digest_1MiB");
    group.throughput(Throughput::Bytes(block.len() as u64));
    group.bench_function("md5_etag", |b| b.iter(|| Md5::digest(black_box(&block))));
    for algorithm in [
        ChecksumAlgorithm::Crc32,
        ChecksumAlgorithm::Crc32c,
        ChecksumAlgorithm::Crc64Nvme,
        ChecksumAlgorithm::Sha256,
    ] {
        group.bench_function(algorithm.as_str(), |b| {
            b.iter(|| {
                let mut sum = Checksummer::new(algorithm);
                sum.update(black_box(&block));
                sum.finish()
            })
        });
    }
    group.finish();
}

fn ring_lookup(c: &mut Criterion) {
    let members =
        (1..=100).map(|id| Member { id, zone: format!("z{}", id % 5), capacity: 1 }).collect();
    let layout = Layout::next(&Layout::single(1, 8), members, 3).unwrap();
    let keys: Vec<Vec<u8>> =
        (0..1024).map(|i| format!("bucket\0photos/img_{i:06}.jpg").into_bytes()).collect();
    let mut i = 0;
    c.bench_function("ring/preference_list_100_nodes", |b| {
        b.iter(|| {
            i = (i + 1) % keys.len();
            let p: PartitionId = layout.partition_of(item_hash(2, &keys[i]));
            black_box(layout.preference_list(p)[0])
        })
    });
}

fn sibling_merge(c: &mut Criterion) {
    // Three replicas' views of one key: a common ancestor, then two concurrent writes.
    let version = |writer: u64, counters: &[(u64, u64)], ts: i64| {
        let mut clock = VectorClock::new();
        for (actor, n) in counters {
            clock.set(*actor, *n);
        }
        Sibling { clock, timestamp_ms: ts, writer, value: Some(vec![0; 200]) }
    };
    let mut a = Siblings::new();
    a.apply(version(1, &[(1, 3), (2, 2), (3, 1)], 10));
    let mut b = Siblings::new();
    b.apply(version(2, &[(1, 3), (2, 3), (3, 1)], 11));
    b.apply(version(3, &[(1, 3), (2, 2), (3, 2)], 12));
    c.bench_function("causality/merge_three_views", |bench| {
        bench.iter_batched(
            || a.clone(),
            |mut merged| {
                merged.merge(black_box(&b));
                merged
            },
            BatchSize::SmallInput,
        )
    });
}

fn xml_render(c: &mut Criterion) {
    c.bench_function("xml/list_v2_1000_keys", |b| {
        b.iter(|| hot::render_list_v2(black_box(1000), 0))
    });
    c.bench_function("xml/list_v2_1000_prefixes", |b| {
        b.iter(|| hot::render_list_v2(0, black_box(1000)))
    });
}

fn grouped_walk(c: &mut Criterion) {
    // 20,000 keys in 1,000 "directories": a delimiter page is 1,000 seeks, not 20,000 items.
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let store = Store::in_memory(StoreOptions::default()).unwrap();
    let table = TableId(2);
    runtime.block_on(async {
        for i in 0..20_000u32 {
            let key = format!("b\0d{:04}/o{i:06}", i % 1000).into_bytes();
            let value = Some(vec![1; 100]);
            store.coordinate((table, key), VectorClock::new(), 1, 1, value).await.unwrap();
        }
    });
    let grouping = Grouping::names(2, b"/");
    c.bench_function("listing/grouped_walk_1000_prefixes", |b| {
        b.iter(|| {
            let mut groups = 0;
            store
                .visit(
                    table,
                    Bound::Included(b"b\0"),
                    Bound::Excluded(b"b\x01"),
                    &mut |key, item| {
                        let group = grouping.group_of(key).expect("every key is in a directory");
                        black_box(item.decode()?);
                        groups += 1;
                        Ok(prefix_successor(group).map_or(Visit::Stop, Visit::SeekTo))
                    },
                )
                .unwrap();
            assert_eq!(groups, 1000);
        })
    });
}

criterion_group!(
    benches,
    sigv4,
    aws_chunked,
    digests,
    ring_lookup,
    sibling_merge,
    xml_render,
    grouped_walk
);
criterion_main!(benches);
