//! ListObjectVersions by delimiter on a ring: what a page of common prefixes costs, and which
//! prefixes it shows.

use ringvault::coordinator::ReplicaScan;
use ringvault::objects::{DeleteCondition, VersionSel, Versioning, VersionsPage, VersionsQuery};

use crate::cluster::SimCluster;
use crate::versioned::put_bytes;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap()
}

/// Common prefixes, then `key version` for each entry, as a page lists them.
fn shown(page: &VersionsPage) -> Vec<String> {
    let entries = page.entries.iter().map(|e| format!("{} {:?}", e.key, e.version_id));
    page.common_prefixes.iter().cloned().chain(entries).collect()
}

/// Replicas fold each common prefix to its first version, in the heads and in the version
/// items alike, so a page of prefixes costs one scan round of each table however many versions
/// each prefix holds. Walking every item under a prefix a batch at a time, as the listing did,
/// cost a round per 500 items: here at least ten rounds of three nodes. A prefix whose only
/// version was deleted is not listed (its items are all tombstones), on any page size.
#[test]
fn a_page_of_common_prefixes_costs_a_round_of_each_table_not_a_round_per_prefix() {
    runtime().block_on(async {
        let cluster = SimCluster::new(23, 3);
        let bucket = "folded-versions";
        let objects = cluster.objects(0);
        objects.create_bucket(bucket, "sim", "", false, Default::default()).await.unwrap();
        objects.set_bucket_versioning(bucket, Versioning::Enabled).await.unwrap();
        for dir in ["d0", "d1", "d2", "d3"] {
            for n in 0..600 {
                put_bytes(&objects, bucket, &format!("{dir}/k{n:04}"), b"v".to_vec())
                    .await
                    .unwrap();
            }
        }
        let gone = put_bytes(&objects, bucket, "gone/only", b"v".to_vec()).await.unwrap();
        let gone = gone.version_id.expect("a versioned bucket names its versions");
        let no_condition = DeleteCondition::default();
        objects
            .delete_version(bucket, "gone/only", VersionSel::Id(gone), &no_condition, false)
            .await
            .unwrap();
        let first = put_bytes(&objects, bucket, "top", b"1".to_vec()).await.unwrap().version_id;
        let second = put_bytes(&objects, bucket, "top", b"2".to_vec()).await.unwrap().version_id;

        let query = |max_keys, key_marker: Option<String>| VersionsQuery {
            prefix: String::new(),
            delimiter: Some("/".into()),
            key_marker,
            version_marker: None,
            max_keys,
        };
        let before = cluster.calls::<ReplicaScan>();
        let lister = cluster.objects(1);
        let page = lister.list_object_versions(bucket, &query(1000, None)).await.unwrap();
        let scans = cluster.calls::<ReplicaScan>() - before;
        let expected = vec![
            "d0/".to_owned(),
            "d1/".into(),
            "d2/".into(),
            "d3/".into(),
            format!("top {second:?}"),
            format!("top {first:?}"),
        ];
        assert_eq!(shown(&page), expected);
        assert!(!page.is_truncated);
        // One round of each table asks each of the two other nodes once.
        assert!(scans <= 4, "{scans} scan calls for one page of four prefixes");

        // Pages of two: the same, once each, and the deleted prefix nowhere.
        let mut paged = Vec::new();
        let mut marker = None;
        loop {
            let page = lister.list_object_versions(bucket, &query(2, marker)).await.unwrap();
            assert!(page.common_prefixes.len() + page.entries.len() <= 2);
            paged.extend(shown(&page));
            if !page.is_truncated {
                break;
            }
            assert_eq!(page.next_version_marker, None, "each page here ends at a prefix");
            marker = page.next_key_marker;
        }
        paged.sort();
        let mut expected = expected;
        expected.sort();
        assert_eq!(paged, expected);
    });
}
