//! Listing a bucket: keys in UTF-8 byte order under a prefix, rolled up into common prefixes at
//! a delimiter, resumed after a marker, one page at a time.
//!
//! Each page is a sequence of range scans through the coordinator (a coverage query once the ring
//! has several nodes). A common prefix is reported once and then skipped in one jump to the
//! first key past it, so a prefix holding a million keys costs one scan, not a million.

use std::ops::Bound;

use crate::coordinator::ScanRange;

use super::records::{self, OBJECTS, ObjectRecord};
use super::versions::live_object;
use super::{Error, ObjectService};

/// Items fetched per scan while building a page.
const SCAN_BATCH: usize = 1000;

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

/// The smallest byte string greater than every string that starts with `prefix`, or `None`
/// when no such string exists (the prefix is all 0xff).
pub fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut out = prefix.to_vec();
    while let Some(last) = out.pop() {
        if last < 0xff {
            out.push(last + 1);
            return Some(out);
        }
    }
    None
}

enum Entry {
    Object(ObjectSummary),
    Prefix(String),
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
        let mut count = 0usize;
        'scan: loop {
            let range = ScanRange { start: start.clone(), end: end.clone() };
            let items = self.coordinator().scan(OBJECTS, range, SCAN_BATCH).await?;
            let exhausted = items.len() < SCAN_BATCH;
            let Some(last_key) = items.last().map(|(k, _)| k.clone()) else { break };
            for (item_key, siblings) in items {
                // Keys whose current version is a delete marker are not listed.
                let Some(record) = live_object(&siblings)? else { continue };
                let key = String::from_utf8_lossy(&item_key[bucket_start.len()..]).into_owned();
                let entry = match delimiter.and_then(|d| rolled_up(&key, &query.prefix, d)) {
                    Some(prefix) => {
                        if query.after.as_deref().is_some_and(|a| prefix.as_str() <= a) {
                            None
                        } else {
                            Some(Entry::Prefix(prefix))
                        }
                    }
                    None => Some(Entry::Object(summary(key, &record))),
                };
                let jump = match &entry {
                    Some(Entry::Prefix(p)) => Some(p.clone()),
                    None => delimiter.and_then(|d| {
                        rolled_up_owned(&item_key, bucket_start.len(), &query.prefix, d)
                    }),
                    Some(Entry::Object(_)) => None,
                };
                if let Some(entry) = entry {
                    if count == query.max_keys {
                        page.is_truncated = true;
                        break 'scan;
                    }
                    count += 1;
                    match entry {
                        Entry::Object(o) => {
                            page.last = Some(o.key.clone());
                            page.objects.push(o);
                        }
                        Entry::Prefix(p) => {
                            page.last = Some(p.clone());
                            page.common_prefixes.push(p);
                        }
                    }
                }
                if let Some(prefix) = jump {
                    // Skip every other key under this common prefix in one step.
                    match prefix_successor(&records::object_key(bucket, &prefix)) {
                        Some(next) => start = Bound::Included(next),
                        None => break 'scan,
                    }
                    continue 'scan;
                }
            }
            if exhausted {
                break;
            }
            start = Bound::Excluded(last_key);
        }
        Ok(page)
    }
}

/// The common prefix `key` rolls up into, if the delimiter occurs after the query prefix.
fn rolled_up(key: &str, prefix: &str, delimiter: &str) -> Option<String> {
    let rest = key.strip_prefix(prefix)?;
    let at = rest.find(delimiter)?;
    Some(key[..prefix.len() + at + delimiter.len()].to_owned())
}

fn rolled_up_owned(item_key: &[u8], skip: usize, prefix: &str, delimiter: &str) -> Option<String> {
    let key = std::str::from_utf8(&item_key[skip..]).ok()?;
    rolled_up(key, prefix, delimiter)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn successor_skips_everything_under_a_prefix() {
        assert_eq!(prefix_successor(b"a/"), Some(b"a0".to_vec()));
        assert_eq!(prefix_successor(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_successor(b"\xff\xff"), None);
        let next = prefix_successor(b"photos/").unwrap();
        assert!(b"photos/zzz\xff".as_slice() < next.as_slice());
        assert!(b"photos0".as_slice() >= next.as_slice());
    }

    #[test]
    fn roll_up_happens_only_after_the_prefix() {
        assert_eq!(rolled_up("a/b/c", "", "/"), Some("a/".into()));
        assert_eq!(rolled_up("a/b/c", "a/", "/"), Some("a/b/".into()));
        assert_eq!(rolled_up("a/b", "a/b", "/"), None);
        assert_eq!(rolled_up("abcXYdef", "ab", "XY"), Some("abcXY".into()));
    }
}
