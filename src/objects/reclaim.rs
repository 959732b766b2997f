//! Reclaiming bodies: deferred, and checked against every owner before a block goes.
//!
//! A body that may have become garbage (the version an overwrite or delete superseded, the parts
//! of an aborted upload, the body of a write whose record did not reach its quorum) is never
//! deleted on the spot. It goes into this node's durable reclaim queue (journal entries
//! `reclaim/<due ms><data id>`) with the items that referred to it, and is deleted once
//!
//! 1. its grace period has passed, so reads that were streaming it and requests that were
//!    about to commit a record pointing at it have finished (a completion checks it is still
//!    within half the grace before it commits), and
//! 2. **every** owner of each of those items answers and none holds a version that refers to
//!    it: not R owners, all of them, because a write that failed its quorum may still have
//!    landed on one owner and would spread from there.
//!
//! A body still referenced leaves the queue untouched: the write that supersedes that
//! reference queues it again. A check that cannot reach an owner is retried later. This is
//! what keeps "no clean-up removes a block that a committed version refers to" true whatever
//! order concurrent requests, retries and crashes interleave in.

use serde::{Deserialize, Serialize};

use super::records::{self, OBJECTS, ObjectRecord, PARTS, PartRecord, UPLOADS, VERSIONS};
use super::{Error, ObjectService};
use crate::causality::Siblings;

const PREFIX: &[u8] = b"reclaim/";
/// Entries looked at per pass.
const PASS_ENTRIES_MAX: usize = 256;
/// How long an entry whose check could not reach every owner waits before the next try, at
/// most (a shorter grace period retries sooner: half of it, but not under a second).
const RETRY_AFTER_MS: i64 = 30_000;

/// An item that referred to a body, and may still.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) enum Reference {
    /// A version of the object `bucket/key`.
    Object { bucket: String, key: String },
    /// A part of an upload, which counts only while the upload is open: the parts of a closed
    /// upload are bookkeeping (a completed object refers to the bodies it uses itself).
    UploadPart { bucket: String, key: String, upload_id: String, part_number: u32 },
    /// The version item `suffix` of `bucket/key` (a version id, or the null slot).
    Version { bucket: String, key: String, suffix: [u8; 16] },
}

impl Reference {
    pub(super) fn object(bucket: &str, key: &str) -> Self {
        Reference::Object { bucket: bucket.to_owned(), key: key.to_owned() }
    }

    pub(super) fn version(bucket: &str, key: &str, suffix: [u8; 16]) -> Self {
        Reference::Version { bucket: bucket.to_owned(), key: key.to_owned(), suffix }
    }

    pub(super) fn upload_part(bucket: &str, key: &str, upload_id: &str, part_number: u32) -> Self {
        Reference::UploadPart {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            upload_id: upload_id.to_owned(),
            part_number,
        }
    }
}

/// Whether `test` holds for the value of any live sibling.
fn any_value(
    siblings: &Siblings,
    test: impl Fn(&[u8]) -> Result<bool, Error>,
) -> Result<bool, Error> {
    for value in siblings.iter().filter_map(|s| s.value.as_deref()) {
        if test(value)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// One queued body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Entry {
    data_id: [u8; 16],
    references: Vec<Reference>,
}

impl records::Record for Entry {}

fn entry_key(due_ms: i64, data_id: &[u8; 16]) -> Vec<u8> {
    let mut k = PREFIX.to_vec();
    k.extend_from_slice(&u64::try_from(due_ms.max(0)).unwrap_or(0).to_be_bytes());
    k.extend_from_slice(data_id);
    k
}

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReclaimPass {
    /// Bodies deleted.
    pub deleted: usize,
    /// Bodies found still referenced, and left alone.
    pub referenced: usize,
    /// Bodies whose check could not complete (an owner did not answer); retried later.
    pub postponed: usize,
}

impl ObjectService {
    /// Queues bodies for reclamation after the grace period; `references` are the items that
    /// referred to them. Never fails the caller's request: a body that could not be queued is
    /// logged (it stays on disk; nothing is lost).
    pub(super) async fn defer_reclaim(&self, data_ids: &[[u8; 16]], references: Vec<Reference>) {
        let due = self.now_ms().saturating_add(self.grace_ms());
        for data_id in data_ids {
            let entry = Entry { data_id: *data_id, references: references.clone() };
            let queued = self
                .coordinator()
                .journal_put(entry_key(due, data_id), records::encode(&entry))
                .await;
            if let Err(e) = queued {
                tracing::warn!(data_id = %hex::encode(data_id), error = %e, "cannot queue a body for reclamation; it stays on disk");
            }
        }
    }

    fn retry_after_ms(&self) -> i64 {
        (self.grace_ms() / 2).clamp(1_000, RETRY_AFTER_MS)
    }

    fn grace_ms(&self) -> i64 {
        i64::try_from(self.inner.body.reclaim_grace.as_millis()).unwrap_or(i64::MAX)
    }

    /// Whether a write that began `started` (monotonic) ago may still commit a record pointing
    /// at bodies an abort may have queued: only within half the grace period, so the queue's
    /// check, which comes after the whole grace period, sees the record.
    pub(super) fn within_commit_deadline(&self, started: std::time::Instant) -> bool {
        let grace = self.inner.body.reclaim_grace;
        grace.is_zero()
            || self.inner.clock.monotonic().saturating_duration_since(started) < grace / 2
    }

    /// Bodies the reclaim queue deleted since this node started, whoever ran the passes.
    pub fn reclaimed_bodies(&self) -> u64 {
        self.inner.reclaimed.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Bodies waiting in this node's reclaim queue (due or not).
    pub async fn reclaim_queue_len(&self) -> Result<usize, Error> {
        let mut end = PREFIX.to_vec();
        end.push(0xff);
        Ok(self.coordinator().journal_range(PREFIX, &end, usize::MAX).await?.len())
    }

    /// Deletes the queued bodies that are due and referenced by no version on any owner.
    pub async fn reclaim_due(&self) -> Result<ReclaimPass, Error> {
        let _pass = self.inner.reclaiming.lock().await;
        let now = self.now_ms();
        let end = entry_key(now.saturating_add(1), &[0; 16]);
        let entries = self.coordinator().journal_range(PREFIX, &end, PASS_ENTRIES_MAX).await?;
        let mut pass = ReclaimPass::default();
        for (journal_key, value) in entries {
            let entry: Entry = records::decode(&value)?;
            match self.still_referenced(&entry).await {
                Ok(true) => pass.referenced += 1,
                Ok(false) => {
                    self.coordinator().delete_body(entry.data_id).await;
                    tracing::debug!(data_id = %hex::encode(entry.data_id), "reclaimed a body");
                    pass.deleted += 1;
                    self.inner.reclaimed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                Err(e) => {
                    tracing::debug!(data_id = %hex::encode(entry.data_id), error = %e, "reclaim check postponed");
                    self.coordinator()
                        .journal_put(
                            entry_key(now.saturating_add(self.retry_after_ms()), &entry.data_id),
                            value,
                        )
                        .await?;
                    pass.postponed += 1;
                }
            }
            self.coordinator().journal_delete(journal_key).await?;
        }
        Ok(pass)
    }

    /// Whether any owner holds a version of a referring item that uses the body. Conservative:
    /// a concurrent sibling counts as much as the winner.
    async fn still_referenced(&self, entry: &Entry) -> Result<bool, Error> {
        let data_id = entry.data_id;
        for reference in &entry.references {
            let used = match reference {
                Reference::Object { bucket, key } => {
                    let item = records::object_key(bucket, key);
                    let versions = self.coordinator().get_from_every_owner(OBJECTS, &item).await?;
                    any_value(&versions, |v| {
                        Ok(records::decode::<ObjectRecord>(v)?.body.data_ids().contains(&data_id))
                    })?
                }
                Reference::Version { bucket, key, suffix } => {
                    let item = super::versions::version_key(bucket, key, suffix);
                    let versions = self.coordinator().get_from_every_owner(VERSIONS, &item).await?;
                    any_value(&versions, |v| {
                        Ok(records::decode::<ObjectRecord>(v)?.body.data_ids().contains(&data_id))
                    })?
                }
                Reference::UploadPart { bucket, key, upload_id, part_number } => {
                    let item = records::part_key(upload_id, *part_number);
                    let part = self.coordinator().get_from_every_owner(PARTS, &item).await?;
                    let in_part = any_value(&part, |v| {
                        Ok(records::decode::<PartRecord>(v)?.extent.data_id == data_id)
                    })?;
                    in_part && {
                        let item = records::upload_key(bucket, key, upload_id);
                        let upload =
                            self.coordinator().get_from_every_owner(UPLOADS, &item).await?;
                        upload.iter().any(|s| s.value.is_some())
                    }
                }
            };
            if used {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Runs reclaim passes every `interval` until `shutdown` fires.
    pub async fn run_reclaimer(
        &self,
        interval: std::time::Duration,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) {
        loop {
            tokio::select! {
                () = tokio::time::sleep(interval) => {}
                _ = shutdown.wait_for(|s| *s) => return,
            }
            loop {
                match self.reclaim_due().await {
                    Ok(pass) => {
                        if pass.deleted + pass.referenced + pass.postponed > 0 {
                            tracing::info!(
                                worker = "reclaim",
                                deleted = pass.deleted,
                                referenced = pass.referenced,
                                postponed = pass.postponed,
                                "reclaim pass"
                            );
                        }
                        // A full pass may have left due entries behind: go on at once.
                        if pass.deleted + pass.referenced + pass.postponed < PASS_ENTRIES_MAX {
                            break;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(worker = "reclaim", error = %e, "reclaim pass failed");
                        break;
                    }
                }
                if *shutdown.borrow() {
                    return;
                }
            }
        }
    }
}
