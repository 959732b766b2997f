//! Lifecycle: the rules a bucket stores, when one applies to a version (pure), and the pass a
//! node runs over the buckets it leads (the first live owner of the bucket record), so that
//! the cluster applies each rule once without coordinating: expiring current versions (a
//! delete marker in a versioned bucket), removing delete markers left alone, expiring
//! noncurrent versions, aborting stale multipart uploads. Locked versions are never touched
//! (their deletion is refused and the pass moves on).
//! Reference: <https://docs.aws.amazon.com/AmazonS3/latest/userguide/intro-lifecycle-rules.html>

use serde::{Deserialize, Serialize};

use super::listing::ListQuery;
use super::multipart::UploadsQuery;
use super::records::{BUCKETS, Versioning};
use super::version_listing::{VersionEntry, VersionsQuery};
use super::versions::VersionSel;
use super::{BucketInfo, DeleteCondition, Error, ObjectService};

/// A day, in milliseconds, as rules count them.
pub const DAY_MS: i64 = 86_400_000;

/// Which objects a rule is about; every given part must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LifecycleFilter {
    pub prefix: String,
    pub tags: Vec<(String, String)>,
    pub size_greater_than: Option<u64>,
    pub size_less_than: Option<u64>,
}

impl LifecycleFilter {
    pub fn matches(&self, key: &str, size: u64, tags: &[(String, String)]) -> bool {
        key.starts_with(&self.prefix)
            && self.size_greater_than.is_none_or(|n| size > n)
            && self.size_less_than.is_none_or(|n| size < n)
            && self.tags.iter().all(|t| tags.contains(t))
    }
}

/// What happens to current versions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Expiration {
    pub days: Option<u32>,
    /// Midnight UTC, in ms since the epoch.
    pub date_ms: Option<i64>,
    /// Remove a delete marker that is all that is left of its key.
    pub expired_object_delete_marker: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NoncurrentExpiration {
    pub noncurrent_days: u32,
    /// Keep this many newest noncurrent versions whatever their age.
    pub newer_noncurrent_versions: Option<u32>,
}

/// One rule of PutBucketLifecycleConfiguration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LifecycleRule {
    pub id: String,
    pub enabled: bool,
    pub filter: LifecycleFilter,
    /// Written with the old rule-level Prefix rather than a Filter (and shown back that way).
    pub prefix_only: bool,
    pub expiration: Option<Expiration>,
    pub noncurrent_expiration: Option<NoncurrentExpiration>,
    pub abort_incomplete_upload_days: Option<u32>,
}

/// When a version written at `last_modified_ms` expires by `rule`: `days` after it, rounded
/// up to the next midnight UTC as S3 does (no rounding when a "day" is shortened for tests),
/// or on the rule's date.
pub fn expiry_ms(rule: &LifecycleRule, last_modified_ms: i64, day_ms: i64) -> Option<i64> {
    let expiration = rule.expiration.as_ref()?;
    if let Some(days) = expiration.days {
        let at = last_modified_ms.saturating_add(i64::from(days).saturating_mul(day_ms));
        return Some(if day_ms == DAY_MS { round_up_to_midnight(at) } else { at });
    }
    expiration.date_ms
}

fn round_up_to_midnight(ms: i64) -> i64 {
    let days = ms.div_euclid(DAY_MS);
    if ms.rem_euclid(DAY_MS) == 0 { ms } else { (days + 1) * DAY_MS }
}

/// The expiry `x-amz-expiration` announces for a current version: the earliest an enabled
/// rule with an Expiration gives it, with that rule's id.
pub fn announced_expiry<'r>(
    rules: &'r [LifecycleRule],
    key: &str,
    size: u64,
    tags: &[(String, String)],
    last_modified_ms: i64,
    day_ms: i64,
) -> Option<(i64, &'r str)> {
    rules
        .iter()
        .filter(|r| r.enabled && r.filter.matches(key, size, tags))
        .filter_map(|r| expiry_ms(r, last_modified_ms, day_ms).map(|at| (at, r.id.as_str())))
        .min_by_key(|(at, _)| *at)
}

/// What one lifecycle pass did, for logs and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecyclePass {
    pub buckets: u64,
    pub expired: u64,
    pub markers_removed: u64,
    pub noncurrent_removed: u64,
    pub uploads_aborted: u64,
    /// Deletions refused (object lock) or failed; tried again next pass.
    pub skipped: u64,
}

impl LifecyclePass {
    fn add(&mut self, other: &LifecyclePass) {
        self.buckets += other.buckets;
        self.expired += other.expired;
        self.markers_removed += other.markers_removed;
        self.noncurrent_removed += other.noncurrent_removed;
        self.uploads_aborted += other.uploads_aborted;
        self.skipped += other.skipped;
    }
}

/// Lifecycle work on this node, for the admin API and metrics: the current (or last) pass,
/// and what every pass did since the node started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleProgress {
    pub running: bool,
    /// Passes finished since start.
    pub passes: u64,
    /// Buckets the current (or last) pass has finished.
    pub pass_buckets_done: u64,
    /// Totals since start.
    pub totals: LifecyclePass,
}

const PAGE: usize = 500;
/// The pause after each deletion a pass makes: at most about 500 a second, so that a rule
/// that expires millions of objects does not crowd out clients.
const DELETION_PAUSE: std::time::Duration = std::time::Duration::from_millis(2);
/// The owner recorded on delete markers that lifecycle writes.
const LIFECYCLE_OWNER: &str = "lifecycle";

impl ObjectService {
    /// Whether this node applies `bucket`'s lifecycle: it is the first live owner of the
    /// bucket's record.
    fn leads_bucket(&self, bucket: &str) -> bool {
        let ring = self.coordinator().ring();
        let me = self.coordinator().node_id();
        ring.preference_list(BUCKETS.0, bucket.as_bytes())
            .into_iter()
            .find(|n| *n == me || ring.is_alive(*n))
            .is_some_and(|n| n == me)
    }

    /// One pass over every bucket this node leads that has lifecycle rules, at `now_ms`, with
    /// days of `day_ms`.
    pub async fn lifecycle_pass(&self, now_ms: i64, day_ms: i64) -> Result<LifecyclePass, Error> {
        self.update_lifecycle(|p| {
            p.running = true;
            p.pass_buckets_done = 0;
        });
        let result = self.lifecycle_buckets(now_ms, day_ms).await;
        self.update_lifecycle(|p| {
            p.running = false;
            p.passes += 1;
        });
        result
    }

    async fn lifecycle_buckets(&self, now_ms: i64, day_ms: i64) -> Result<LifecyclePass, Error> {
        let mut pass = LifecyclePass::default();
        for bucket in self.list_buckets().await? {
            let Some(rules) = bucket.config.lifecycle.clone() else { continue };
            let rules: Vec<_> = rules.into_iter().filter(|r| r.enabled).collect();
            if rules.is_empty() || !self.leads_bucket(&bucket.name) {
                continue;
            }
            let mut done = LifecyclePass { buckets: 1, ..LifecyclePass::default() };
            for rule in &rules {
                self.apply_rule(&bucket, rule, now_ms, day_ms, &mut done).await?;
            }
            pass.add(&done);
            self.update_lifecycle(|p| {
                p.pass_buckets_done += 1;
                p.totals.add(&done);
            });
            tracing::info!(worker = "lifecycle", bucket = %bucket.name, ?done, "lifecycle bucket done");
        }
        Ok(pass)
    }

    fn update_lifecycle(&self, change: impl FnOnce(&mut LifecycleProgress)) {
        change(&mut self.inner.lifecycle.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
    }

    /// Lifecycle work on this node so far.
    pub fn lifecycle_progress(&self) -> LifecycleProgress {
        *self.inner.lifecycle.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Counts a deletion (done, or skipped when it failed) and paces the next one.
    async fn tally(&self, ok: bool, done: &mut u64, skipped: &mut u64) {
        count(ok, done, skipped);
        tokio::time::sleep(DELETION_PAUSE).await;
    }

    async fn apply_rule(
        &self,
        bucket: &BucketInfo,
        rule: &LifecycleRule,
        now_ms: i64,
        day_ms: i64,
        pass: &mut LifecyclePass,
    ) -> Result<(), Error> {
        let name = bucket.name.as_str();
        let prefix = rule.filter.prefix.clone();
        if rule.expiration.as_ref().is_some_and(|e| e.days.is_some() || e.date_ms.is_some()) {
            let mut after = None;
            loop {
                let query =
                    ListQuery { prefix: prefix.clone(), delimiter: None, after, max_keys: PAGE };
                let page = self.list_objects(name, &query).await?;
                for object in &page.objects {
                    let tags = if rule.filter.tags.is_empty() {
                        Vec::new()
                    } else {
                        self.head_object(name, &object.key)
                            .await
                            .map(|i| i.tags().to_vec())
                            .unwrap_or_default()
                    };
                    let due = rule.filter.matches(&object.key, object.size, &tags)
                        && expiry_ms(rule, object.last_modified_ms, day_ms)
                            .is_some_and(|at| at <= now_ms);
                    if due {
                        let deleted = self
                            .delete_object(
                                name,
                                &object.key,
                                LIFECYCLE_OWNER,
                                &DeleteCondition::default(),
                            )
                            .await;
                        self.tally(deleted.is_ok(), &mut pass.expired, &mut pass.skipped).await;
                    }
                }
                if !page.is_truncated {
                    break;
                }
                after = page.last;
            }
        }
        let markers = rule.expiration.as_ref().is_some_and(|e| e.expired_object_delete_marker);
        if (markers || rule.noncurrent_expiration.is_some())
            && bucket.versioning != Versioning::Unversioned
        {
            self.apply_to_versions(name, rule, now_ms, day_ms, markers, pass).await?;
        }
        if let Some(days) = rule.abort_incomplete_upload_days {
            let deadline = now_ms.saturating_sub(i64::from(days).saturating_mul(day_ms));
            let query = UploadsQuery {
                prefix,
                delimiter: None,
                key_marker: None,
                upload_id_marker: None,
                max_uploads: PAGE,
            };
            let page = self.list_multipart_uploads(name, &query).await?;
            for upload in page.uploads.iter().filter(|u| u.initiated_ms <= deadline) {
                let aborted =
                    self.abort_multipart_upload(name, &upload.key, &upload.upload_id).await;
                self.tally(aborted.is_ok(), &mut pass.uploads_aborted, &mut pass.skipped).await;
            }
        }
        Ok(())
    }

    /// Noncurrent versions and lone delete markers, key by key (a key's versions come newest
    /// first).
    async fn apply_to_versions(
        &self,
        name: &str,
        rule: &LifecycleRule,
        now_ms: i64,
        day_ms: i64,
        markers: bool,
        pass: &mut LifecyclePass,
    ) -> Result<(), Error> {
        let mut key_marker = None;
        let mut version_marker = None;
        let mut key_versions: Vec<VersionEntry> = Vec::new();
        loop {
            let query = VersionsQuery {
                prefix: rule.filter.prefix.clone(),
                delimiter: None,
                key_marker: key_marker.clone(),
                version_marker,
                max_keys: PAGE,
            };
            let page = self.list_object_versions(name, &query).await?;
            for entry in page.entries {
                if key_versions.first().is_some_and(|v| v.key != entry.key) {
                    let versions = std::mem::take(&mut key_versions);
                    self.expire_versions(name, rule, &versions, now_ms, day_ms, markers, pass)
                        .await;
                }
                key_versions.push(entry);
            }
            if !page.is_truncated {
                break;
            }
            key_marker = page.next_key_marker;
            version_marker =
                page.next_version_marker.map(|v| v.map_or(VersionSel::Null, VersionSel::Id));
        }
        self.expire_versions(name, rule, &key_versions, now_ms, day_ms, markers, pass).await;
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn expire_versions(
        &self,
        name: &str,
        rule: &LifecycleRule,
        versions: &[VersionEntry],
        now_ms: i64,
        day_ms: i64,
        markers: bool,
        pass: &mut LifecyclePass,
    ) {
        let Some(first) = versions.first() else { return };
        let key = first.key.as_str();
        let sel = |v: &VersionEntry| v.version_id.map_or(VersionSel::Null, VersionSel::Id);
        let mut remaining = versions.len();
        if let Some(noncurrent) = &rule.noncurrent_expiration {
            let keep = noncurrent.newer_noncurrent_versions.unwrap_or(0) as usize;
            // A version became noncurrent when the one after it was written.
            for (index, pair) in versions.windows(2).enumerate() {
                let (newer, version) = (&pair[0], &pair[1]);
                let age_ms = i64::from(noncurrent.noncurrent_days).saturating_mul(day_ms);
                let mut due =
                    index >= keep && newer.last_modified_ms.saturating_add(age_ms) <= now_ms;
                if due {
                    let tags = if rule.filter.tags.is_empty() {
                        Vec::new()
                    } else {
                        let info = self.object_version(name, key, Some(sel(version))).await;
                        info.map(|i| i.tags().to_vec()).unwrap_or_default()
                    };
                    due = rule.filter.matches(key, version.size, &tags);
                }
                if due {
                    let deleted = self
                        .delete_version(name, key, sel(version), &DeleteCondition::default(), false)
                        .await;
                    if deleted.is_ok() {
                        remaining -= 1;
                    }
                    self.tally(deleted.is_ok(), &mut pass.noncurrent_removed, &mut pass.skipped)
                        .await;
                }
            }
        }
        if markers && remaining == 1 && first.is_latest && first.delete_marker {
            let deleted = self
                .delete_version(name, key, sel(first), &DeleteCondition::default(), false)
                .await;
            self.tally(deleted.is_ok(), &mut pass.markers_removed, &mut pass.skipped).await;
        }
    }

    /// Applies lifecycle rules every `interval` until shutdown; `day_ms` is how long a rule's
    /// day is (shortened for tests, as Ceph's rgw_lc_debug_interval).
    pub async fn run_lifecycle(
        &self,
        interval: std::time::Duration,
        day_ms: i64,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) {
        loop {
            tokio::select! {
                () = tokio::time::sleep(interval) => {}
                _ = shutdown.wait_for(|s| *s) => return,
            }
            match self.lifecycle_pass(self.now_ms(), day_ms).await {
                Ok(pass) if pass.buckets > 0 => {
                    tracing::info!(worker = "lifecycle", ?pass, "lifecycle pass done");
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(worker = "lifecycle", error = %e, "lifecycle pass failed"),
            }
        }
    }
}

fn count(ok: bool, done: &mut u64, skipped: &mut u64) {
    if ok {
        *done += 1;
    } else {
        *skipped += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(days: u32) -> LifecycleRule {
        LifecycleRule {
            id: format!("after-{days}"),
            enabled: true,
            filter: LifecycleFilter {
                prefix: "logs/".into(),
                tags: vec![("keep".into(), "no".into())],
                ..Default::default()
            },
            expiration: Some(Expiration { days: Some(days), ..Default::default() }),
            ..Default::default()
        }
    }

    #[test]
    fn expiry_rounds_to_midnight_and_picks_the_earliest_rule() {
        let noon = 10 * DAY_MS + DAY_MS / 2;
        assert_eq!(expiry_ms(&rule(1), noon, DAY_MS), Some(12 * DAY_MS));
        assert_eq!(expiry_ms(&rule(1), 10 * DAY_MS, DAY_MS), Some(11 * DAY_MS));
        assert_eq!(expiry_ms(&rule(2), 5_000, 1_000), Some(7_000), "test days are not rounded");
        let rules = [rule(30), rule(2)];
        let tags = vec![("keep".to_owned(), "no".to_owned())];
        assert_eq!(
            announced_expiry(&rules, "logs/a", 1, &tags, noon, DAY_MS),
            Some((13 * DAY_MS, "after-2"))
        );
        assert_eq!(announced_expiry(&rules, "logs/a", 1, &[], noon, DAY_MS), None, "tag filter");
        assert_eq!(
            announced_expiry(&rules, "data/a", 1, &tags, noon, DAY_MS),
            None,
            "prefix filter"
        );
    }

    #[test]
    fn filters_combine_prefix_tags_and_sizes() {
        let filter = LifecycleFilter {
            prefix: "a/".into(),
            tags: Vec::new(),
            size_greater_than: Some(10),
            size_less_than: Some(100),
        };
        assert!(filter.matches("a/x", 50, &[]));
        assert!(!filter.matches("a/x", 10, &[]));
        assert!(!filter.matches("a/x", 100, &[]));
        assert!(!filter.matches("b/x", 50, &[]));
    }
}
