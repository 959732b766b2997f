//! Listing a bucket: keys in UTF-8 byte order under a prefix, rolled up into common prefixes at
//! a delimiter, resumed after a marker, one page at a time.
//!
//! Each page is a sequence of range scans through the coordinator (a coverage query once the ring
//! has several nodes). A common prefix is reported once and then skipped in one jump to the
//! first key past it, so a prefix holding a million keys costs one scan, not a million.

use std::ops::Bound;

use crate::coordinator::{Grouping, ScanRange};

use super::records::{self, OBJECTS, ObjectRecord};
use super::versions::live_object;
use super::{Error, ObjectService};

/// Most items fetched per scan while building a page: a page of 1,000 entries and the one
/// after it, which says whether the page is truncated. A scan of a page's size alone would
/// need a second round (of another full batch, from every replica asked) to learn that.
const SCAN_BATCH_MAX: usize = 1001;

/// What to list.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub prefix: String,
    pub delimiter: Option<String>,
    /// List only keys (and common prefixes) strictly after this one.
    pub after: Option<String>,
    pub max_keys: usize,
}

/// One object in a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectSummary {
    pub key: String,
    pub size: u64,
    pub etag: String,
    pub last_modified_ms: i64,
    pub owner: String,
    pub checksum_algorithm: Option<super::checksum::ChecksumAlgorithm>,
}

/// One page of a listing. Entries and prefixes together number at most `max_keys`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListPage {
    pub objects: Vec<ObjectSummary>,
    pub common_prefixes: Vec<String>,
    pub is_truncated: bool,
    /// The last key or common prefix on this page: pass it as `after` to continue.
    pub last: Option<String>,
}

pub use crate::coordinator::prefix_successor;

/// The common prefix a listing by delimiter is walking.
struct Walked {
    /// Its item key (bucket, separator, prefix).
    key: Vec<u8>,
    /// The prefix as listed.
    name: String,
    settled: bool,
}

impl ObjectService {
    pub async fn list_objects(&self, bucket: &str, query: &ListQuery) -> Result<ListPage, Error> {
        self.bucket(bucket).await?;
        let mut page = ListPage::default();
        if query.max_keys == 0 {
            return Ok(page);
        }
        let bucket_start = records::object_key(bucket, "");
        let full_prefix = records::object_key(bucket, &query.prefix);
        let end = match prefix_successor(&full_prefix) {
            Some(e) => Bound::Excluded(e),
            None => Bound::Unbounded,
        };
        let mut start = match &query.after {
            Some(after) if after.as_str() >= query.prefix.as_str() => {
                Bound::Excluded(records::object_key(bucket, after))
            }
            _ => Bound::Included(full_prefix.clone()),
        };
        let delimiter = query.delimiter.as_deref().filter(|d| !d.is_empty());
        // Replicas fold each common prefix to its first live-looking item (see
        // `coordinator::scan`): a page of prefixes costs a round, not a round per prefix.
        let grouping = delimiter.map(|d| Grouping::names(full_prefix.len(), d.as_bytes()));
        // The common prefix being walked: its item key, its name, and whether it is settled
        // (listed, or skipped because the page starts after it) so that the rest of its items
        // are passed over.
        let mut group: Option<Walked> = None;
        let mut count = 0usize;
        let mut last_batch = 0usize;
        'scan: loop {
            let range = ScanRange { start: start.clone(), end: end.clone() };
            // What the page still needs, and one more to know whether it is the last; twice
            // the last batch when that one came back short of live entries (deleted keys).
            let needed = query.max_keys.saturating_sub(count).saturating_add(1);
            let batch = needed.max(last_batch.saturating_mul(2)).min(SCAN_BATCH_MAX);
            last_batch = batch;
            let scanned =
                self.coordinator().scan_grouped(OBJECTS, range, batch, grouping.clone()).await?;
            let Some(last_key) = scanned.items.last().map(|(k, _)| k.clone()) else { break };
            for (item_key, siblings) in scanned.items {
                let in_group = grouping.as_ref().and_then(|g| g.group_of(&item_key));
                if let Some(g) = in_group
                    && group.as_ref().is_none_or(|walked| walked.key.as_slice() != g)
                {
                    let name = String::from_utf8_lossy(&g[bucket_start.len()..]).into_owned();
                    let settled = query.after.as_deref().is_some_and(|a| name.as_str() <= a);
                    group = Some(Walked { key: g.to_vec(), name, settled });
                }
                let walked = group.as_mut().filter(|_| in_group.is_some());
                // Keys whose current version is a delete marker are not listed.
                if !walked.as_ref().is_some_and(|w| w.settled)
                    && let Some(record) = live_object(&siblings)?
                {
                    if count == query.max_keys {
                        page.is_truncated = true;
                        break 'scan;
                    }
                    count += 1;
                    match walked {
                        Some(walked) => {
                            walked.settled = true;
                            page.last = Some(walked.name.clone());
                            page.common_prefixes.push(walked.name.clone());
                        }
                        None => {
                            let key = &item_key[bucket_start.len()..];
                            let object =
                                summary(String::from_utf8_lossy(key).into_owned(), &record);
                            page.last = Some(object.key.clone());
                            page.objects.push(object);
                        }
                    }
                }
                // A group still undecided where some replica stopped looking: go on from there.
                if let Some(g) = in_group
                    && !group.as_ref().is_some_and(|w| w.settled)
                    && scanned.cuts.get(g).is_some_and(|cut| *cut == item_key)
                {
                    start = Bound::Excluded(item_key);
                    continue 'scan;
                }
            }
            if scanned.exhausted {
                break;
            }
            // Resume past a settled group in one step, else after the last item seen.
            start = match &group {
                Some(w) if w.settled && last_key.starts_with(&w.key) => {
                    match prefix_successor(&w.key) {
                        Some(next) => Bound::Included(next),
                        None => break,
                    }
                }
                _ => Bound::Excluded(last_key),
            };
        }
        Ok(page)
    }
}

fn summary(key: String, record: &ObjectRecord) -> ObjectSummary {
    ObjectSummary {
        key,
        size: record.size,
        etag: record.etag.clone(),
        last_modified_ms: record.last_modified_ms,
        owner: record.owner.clone(),
        checksum_algorithm: record.checksum.as_ref().map(|c| c.algorithm),
    }
}
