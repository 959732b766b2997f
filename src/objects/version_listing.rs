//! ListObjectVersions: every version and delete marker under a prefix, keys in UTF-8 byte
//! order, newest version first within a key, rolled up at a delimiter, resumed after a
//! (key, version) marker.
//!
//! Two ordered scans are merged: the heads (`OBJECTS`), which name each key's current version
//! and hold the null version while it is current, and the version items (`VERSIONS`), whose
//! keys extend the head's key, so both scans meet every key in the same order.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;

use super::checksum::ChecksumAlgorithm;
use super::listing::prefix_successor;
use super::records::{self, OBJECTS, ObjectRecord, VERSIONS, VersionId};
use super::versions::{ITEM_TAIL, NULL_SLOT, VersionSel, head_record, sort_key, version_record};
use super::{Error, ObjectService};
use crate::causality::Siblings;
use crate::coordinator::{Grouping, ScanRange};
use crate::store::TableId;

/// Items fetched per scan.
const SCAN_BATCH: usize = 500;

/// What to list.
#[derive(Debug, Clone, Default)]
pub struct VersionsQuery {
    pub prefix: String,
    pub delimiter: Option<String>,
    /// Start after this key (all its versions), or within it after `version_marker`.
    pub key_marker: Option<String>,
    pub version_marker: Option<VersionSel>,
    pub max_keys: usize,
}

/// One version or delete marker in a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionEntry {
    pub key: String,
    /// `None` for the null version.
    pub version_id: Option<VersionId>,
    pub is_latest: bool,
    pub delete_marker: bool,
    pub size: u64,
    pub etag: String,
    pub last_modified_ms: i64,
    pub owner: String,
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
}

/// One page of versions. Entries and prefixes together number at most `max_keys`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VersionsPage {
    pub entries: Vec<VersionEntry>,
    pub common_prefixes: Vec<String>,
    pub is_truncated: bool,
    /// Where the next page starts: the last key (or common prefix) and, after a version, its
    /// id (`Some(None)` for the null version).
    pub next_key_marker: Option<String>,
    pub next_version_marker: Option<Option<VersionId>>,
}

/// What a listing found of the version item its key's head names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HeadItem {
    Unknown,
    Live,
    /// Deleted (a tombstone), or absent where it should sort.
    Gone,
}

/// An ordered scan of one table, fetched a batch at a time; with a grouping (a listing by
/// delimiter), folded where the data is (see `coordinator::scan`).
struct Cursor {
    table: TableId,
    start: Bound<Vec<u8>>,
    end: Bound<Vec<u8>>,
    grouping: Option<Grouping>,
    buffered: VecDeque<(Vec<u8>, Siblings)>,
    /// For each group some replica left early in the buffered batch, the key it stopped at.
    cuts: BTreeMap<Vec<u8>, Vec<u8>>,
    exhausted: bool,
}

impl Cursor {
    fn new(
        table: TableId,
        start: Bound<Vec<u8>>,
        end: Bound<Vec<u8>>,
        grouping: Option<Grouping>,
    ) -> Self {
        let (buffered, cuts) = (VecDeque::new(), BTreeMap::new());
        Self { table, start, end, grouping, buffered, cuts, exhausted: false }
    }

    /// The key of the next item, fetching a batch when needed.
    async fn peek(&mut self, objects: &ObjectService) -> Result<Option<&[u8]>, Error> {
        if self.buffered.is_empty() && !self.exhausted {
            let range = ScanRange { start: self.start.clone(), end: self.end.clone() };
            let grouping = self.grouping.clone();
            let scanned =
                objects.coordinator().scan_grouped(self.table, range, SCAN_BATCH, grouping).await?;
            self.exhausted = scanned.exhausted;
            if let Some((last, _)) = scanned.items.last() {
                self.start = Bound::Excluded(last.clone());
            }
            self.cuts = scanned.cuts;
            self.buffered.extend(scanned.items);
        }
        Ok(self.buffered.front().map(|(k, _)| k.as_slice()))
    }

    fn pop(&mut self) -> Option<(Vec<u8>, Siblings)> {
        self.buffered.pop_front()
    }

    /// The next item, if it belongs to `group` (a common prefix's item key).
    async fn pop_in(
        &mut self,
        objects: &ObjectService,
        group: &[u8],
    ) -> Result<Option<(Vec<u8>, Siblings)>, Error> {
        Ok(match self.peek(objects).await? {
            Some(key) if key.starts_with(group) => self.pop(),
            _ => None,
        })
    }

    /// After `key` of `group` was taken and did not settle the group: where a replica stopped
    /// looking at it, the rest of the group is not in this batch, so the scan goes on from
    /// just past it.
    fn go_on_after_cut(&mut self, group: &[u8], key: &[u8]) {
        if self.cuts.get(group).is_some_and(|cut| cut.as_slice() == key) {
            self.buffered.clear();
            self.cuts.clear();
            self.start = Bound::Excluded(key.to_vec());
            self.exhausted = false;
        }
    }

    /// Skips every item before `from`.
    fn skip_to(&mut self, from: &[u8]) {
        while self.buffered.front().is_some_and(|(k, _)| k.as_slice() < from) {
            self.buffered.pop_front();
        }
        if self.buffered.is_empty() {
            let past_start = match &self.start {
                Bound::Included(s) | Bound::Excluded(s) => from > s.as_slice(),
                Bound::Unbounded => true,
            };
            if past_start {
                self.start = Bound::Included(from.to_vec());
            }
        }
    }
}

/// The head key a version item belongs to.
fn group_of(version_item: &[u8]) -> &[u8] {
    &version_item[..version_item.len().saturating_sub(ITEM_TAIL)]
}

fn entry(key: &str, record: &ObjectRecord, is_latest: bool) -> VersionEntry {
    VersionEntry {
        key: key.to_owned(),
        version_id: record.version_id,
        is_latest,
        delete_marker: record.delete_marker,
        size: record.size,
        etag: record.etag.clone(),
        last_modified_ms: record.last_modified_ms,
        owner: record.owner.clone(),
        checksum_algorithm: record.checksum.as_ref().map(|c| c.algorithm),
    }
}

impl ObjectService {
    pub async fn list_object_versions(
        &self,
        bucket: &str,
        query: &VersionsQuery,
    ) -> Result<VersionsPage, Error> {
        self.bucket(bucket).await?;
        let mut page = VersionsPage::default();
        if query.max_keys == 0 {
            return Ok(page);
        }
        let bucket_start = records::object_key(bucket, "").len();
        let full_prefix = records::object_key(bucket, &query.prefix);
        let prefix_len = full_prefix.len();
        let end = prefix_successor(&full_prefix).map_or(Bound::Unbounded, Bound::Excluded);
        let marker = query.key_marker.as_deref().filter(|m| *m >= query.prefix.as_str());
        // Resuming within a key re-reads that key and skips what the last page showed.
        let resume = marker.zip(query.version_marker);
        let (head_start, version_start) = match (marker, resume) {
            (Some(key), Some(_)) => {
                let head = records::object_key(bucket, key);
                let mut group = head.clone();
                group.push(0);
                (Bound::Included(head), Bound::Included(group))
            }
            (Some(key), None) => {
                let head = records::object_key(bucket, key);
                let mut after = head.clone();
                after.push(1);
                (Bound::Excluded(head), Bound::Included(after))
            }
            (None, _) => (Bound::Included(full_prefix.clone()), Bound::Included(full_prefix)),
        };
        let delimiter = query.delimiter.as_deref().filter(|d| !d.is_empty());
        // Replicas fold each common prefix to its first live-looking item in each table: a
        // page of prefixes costs a round of each scan, not a round per prefix.
        let names = delimiter.map(|d| Grouping::names(prefix_len, d.as_bytes()));
        let items = names.clone().map(|g| Grouping { tail: ITEM_TAIL, ..g });
        let mut heads = Cursor::new(OBJECTS, head_start, end.clone(), names);
        let mut versions = Cursor::new(VERSIONS, version_start, end, items);
        let mut count = 0usize;
        loop {
            let head_key = heads.peek(self).await?.map(<[u8]>::to_vec);
            let group = versions.peek(self).await?.map(|k| group_of(k).to_vec());
            let next = match (head_key, group) {
                (Some(h), Some(g)) => h.min(g),
                (Some(k), None) | (None, Some(k)) => k,
                (None, None) => break,
            };
            let key = String::from_utf8_lossy(&next[bucket_start..]).into_owned();
            if let Some(prefix) = delimiter.and_then(|d| rolled_up(&key, &query.prefix, d)) {
                let group = records::object_key(bucket, &prefix);
                let shown = marker.is_none_or(|m| prefix.as_str() > m);
                // A prefix whose versions are all deleted is not listed; the cursors are past it.
                if shown && !self.holds_a_version(bucket, &mut heads, &mut versions, &group).await?
                {
                    continue;
                }
                if shown {
                    if count == query.max_keys {
                        page.is_truncated = true;
                        break;
                    }
                    count += 1;
                    page.next_key_marker = Some(prefix.clone());
                    page.next_version_marker = None;
                    page.common_prefixes.push(prefix.clone());
                }
                let Some(past) = prefix_successor(&group) else {
                    break;
                };
                heads.skip_to(&past);
                versions.skip_to(&past);
                continue;
            }
            let (head, head_siblings) = match heads.peek(self).await? {
                Some(h) if h == next.as_slice() => {
                    let (_, siblings) = heads.pop().unwrap_or_default();
                    (head_record(&siblings)?, siblings)
                }
                _ => (None, Siblings::new()),
            };
            let head_id = head.as_ref().and_then(|h| h.version_id);
            let mut null = head.clone().filter(|r| r.version_id.is_none());
            // The null slot sorts first among the key's version items; it counts only while the
            // head holds no null version.
            if let Some(item) = versions.peek(self).await?
                && group_of(item) == next.as_slice()
                && item[item.len() - NULL_SLOT.len()..] == NULL_SLOT
            {
                let (_, siblings) = versions.pop().unwrap_or_default();
                if null.is_none() {
                    null = version_record(&siblings)?;
                }
            }
            let skip_through = match resume {
                Some((resumed, VersionSel::Id(id))) if resumed == key => Some(id.0),
                Some((resumed, VersionSel::Null)) if resumed == key => null.as_ref().map(sort_key),
                _ => None,
            };
            let shown = |r: &ObjectRecord| skip_through.is_none_or(|s| sort_key(r) > s);
            // Whether the head names a version that has no live item: a delete that missed
            // the head (a read of it, amid faults, found an older one). Known once the scan is
            // past the head's id without meeting it live.
            let mut head_item = match head_id {
                Some(_) => HeadItem::Unknown,
                None => HeadItem::Live,
            };
            // The versions this page can still show, plus one to tell whether it is truncated.
            let room = query.max_keys - count + 1;
            let mut listed: Vec<ObjectRecord> = Vec::new();
            let mut group_ended = false;
            while listed.len() < room {
                match versions.peek(self).await? {
                    Some(item) if group_of(item) == next.as_slice() => {}
                    _ => {
                        group_ended = true;
                        break;
                    }
                }
                let (item, siblings) = versions.pop().unwrap_or_default();
                let suffix = &item[item.len() - NULL_SLOT.len()..];
                if let (HeadItem::Unknown, Some(id)) = (head_item, head_id) {
                    match suffix.cmp(&id.0[..]) {
                        std::cmp::Ordering::Less => {}
                        std::cmp::Ordering::Equal if version_record(&siblings)?.is_some() => {
                            head_item = HeadItem::Live;
                        }
                        _ => head_item = HeadItem::Gone,
                    }
                }
                let Some(record) = version_record(&siblings)? else { continue };
                if record.version_id.is_none() {
                    continue;
                }
                if let Some(n) = null.take_if(|n| sort_key(n) < sort_key(&record)) {
                    listed.extend(Some(n).filter(shown));
                }
                listed.extend(Some(record).filter(shown));
            }
            if group_ended && head_item == HeadItem::Unknown {
                head_item = HeadItem::Gone;
            }
            listed.extend(null.filter(shown));
            let mut latest = head.as_ref().map(|h| h.version_id);
            // The two scans ran at different times: a PUT may have written its item after the
            // version scan passed and its head before the head scan did. Only a version whose
            // item a read now finds gone is taken for deleted.
            if head_item == HeadItem::Gone
                && let Some(id) = head_id
                && self.version_item(bucket, &key, VersionSel::Id(id)).await?.is_none()
            {
                // Repaired here, as a read repairs a stale replica: the newest version left
                // becomes current.
                let current = self.replace_head(bucket, &key, head_siblings, VersionSel::Id(id));
                latest = current.await?.map(|r| r.version_id);
            }
            for record in listed {
                if count == query.max_keys {
                    page.is_truncated = true;
                    return Ok(page);
                }
                count += 1;
                let is_latest = latest == Some(record.version_id);
                page.next_key_marker = Some(key.clone());
                page.next_version_marker = Some(record.version_id);
                page.entries.push(entry(&key, &record, is_latest));
            }
            // Whatever is left of this key (a page ended inside it) was cut above.
        }
        Ok(page)
    }
}

impl ObjectService {
    /// Whether a common prefix (`group`, its item key) holds a version or a delete marker.
    /// Every version but a current null one has an item of its own, so the version items under
    /// it are taken first, up to the first that is one; then the heads, each of which counts
    /// for its null version, or for a version whose item a read finds (written after the scan
    /// passed it). A head naming a deleted version (a delete that missed the head) does not
    /// count: a listing under the prefix would show nothing.
    async fn holds_a_version(
        &self,
        bucket: &str,
        heads: &mut Cursor,
        versions: &mut Cursor,
        group: &[u8],
    ) -> Result<bool, Error> {
        while let Some((item, siblings)) = versions.pop_in(self, group).await? {
            if version_record(&siblings)?.is_some() {
                return Ok(true);
            }
            versions.go_on_after_cut(group, &item);
        }
        let bucket_start = records::object_key(bucket, "").len();
        while let Some((item, siblings)) = heads.pop_in(self, group).await? {
            match head_record(&siblings)?.map(|h| h.version_id) {
                Some(None) => return Ok(true),
                Some(Some(id)) => {
                    let key = String::from_utf8_lossy(&item[bucket_start..]);
                    if self.version_item(bucket, &key, VersionSel::Id(id)).await?.is_some() {
                        return Ok(true);
                    }
                }
                None => {}
            }
            heads.go_on_after_cut(group, &item);
        }
        Ok(false)
    }
}

/// The common prefix `key` rolls up into, if the delimiter occurs after the query prefix.
fn rolled_up(key: &str, prefix: &str, delimiter: &str) -> Option<String> {
    let rest = key.strip_prefix(prefix)?;
    let at = rest.find(delimiter)?;
    Some(key[..prefix.len() + at + delimiter.len()].to_owned())
}
