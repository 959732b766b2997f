//! Versioned buckets in the simulation: clients write versions of a few keys through the
//! objects layer of random nodes (plain PUTs, delete markers, deletes of named versions),
//! racing each other amid the storm, sometimes giving up midway. After each heal, with every
//! node up, the checker lists every key's versions and verifies:
//! - every acknowledged version (data or marker) that no DELETE named (acknowledged or not) is
//!   listed, and a data version reads back by its id with the bytes written;
//! - no version whose deletion was acknowledged is listed;
//! - the current version (GET without an id) is one of the listed versions.

use std::collections::{BTreeMap, BTreeSet};

use ringvault::objects::{
    self, DeleteCondition, ObjectService, PutObject, VersionId, VersionSel, VersionsQuery,
};

use crate::model::Violation;

pub const BUCKET: &str = "versioned";
/// Keys the versioned clients use.
pub const KEYS: u32 = 3;

pub fn key(n: u32) -> String {
    format!("obj{n}")
}

/// What a client did.
#[derive(Debug, Clone)]
pub enum Op {
    Put(Vec<u8>),
    /// DELETE without a version id: a delete marker.
    Mark,
    Delete(VersionId),
}

/// How it ended, as the checker needs it.
#[derive(Debug)]
pub enum Outcome {
    Written(VersionId),
    Deleted,
    Failed(#[allow(dead_code)] String),
    Cancelled,
}

fn body(bytes: Vec<u8>) -> objects::ByteStream {
    Box::pin(futures_util::stream::once(async move { Ok(bytes::Bytes::from(bytes)) }))
}

/// A plain PUT of `bytes` through the objects layer.
pub async fn put_bytes(
    objects: &ObjectService,
    bucket: &str,
    key: &str,
    bytes: Vec<u8>,
) -> Result<objects::PutOutcome, objects::Error> {
    let put = PutObject {
        lock: Default::default(),
        condition: None,
        owner: "sim".into(),
        size_hint: Some(bytes.len() as u64),
        headers: Default::default(),
        user_metadata: Vec::new(),
        tags: Vec::new(),
        body: body(bytes),
        content_md5: None,
        checksum: None,
        acl: None,
        encryption: None,
    };
    objects.put_object(bucket, key, put).await
}

pub async fn run(objects: ObjectService, key: String, op: Op) -> Outcome {
    let result = match op {
        Op::Put(bytes) => put_bytes(&objects, BUCKET, &key, bytes).await.map(|o| o.version_id),
        Op::Mark => objects
            .delete_object(BUCKET, &key, "sim", &DeleteCondition::default())
            .await
            .map(|o| o.version_id),
        Op::Delete(id) => objects
            .delete_version(BUCKET, &key, VersionSel::Id(id), &DeleteCondition::default(), false)
            .await
            .map(|_| None),
    };
    match result {
        Ok(Some(id)) => Outcome::Written(id),
        Ok(None) => Outcome::Deleted,
        Err(e) => Outcome::Failed(e.to_string()),
    }
}

/// Every versioned operation's outcome, per key.
#[derive(Debug, Default)]
pub struct History {
    /// Acknowledged versions and their bodies (`None` for a delete marker).
    written: BTreeMap<String, BTreeMap<VersionId, Option<Vec<u8>>>>,
    /// Versions whose deletion was acknowledged.
    deleted: BTreeMap<String, BTreeSet<VersionId>>,
    /// Versions whose deletion failed or was given up: it may have happened.
    maybe_deleted: BTreeMap<String, BTreeSet<VersionId>>,
    pub acked: u64,
    pub failed: u64,
}

impl History {
    pub fn record(&mut self, key: &str, op: &Op, outcome: &Outcome) {
        match (op, outcome) {
            (Op::Put(bytes), Outcome::Written(id)) => {
                self.written.entry(key.to_owned()).or_default().insert(*id, Some(bytes.clone()));
            }
            (Op::Mark, Outcome::Written(id)) => {
                self.written.entry(key.to_owned()).or_default().insert(*id, None);
            }
            (Op::Delete(id), Outcome::Deleted) => {
                self.deleted.entry(key.to_owned()).or_default().insert(*id);
            }
            (op, Outcome::Failed(_) | Outcome::Cancelled) => {
                if let Op::Delete(id) = op {
                    self.maybe_deleted.entry(key.to_owned()).or_default().insert(*id);
                }
                self.failed += 1;
                return;
            }
            _ => {}
        }
        self.acked += 1;
    }

    /// A version of `key` acknowledged and not (acknowledged as) deleted, to delete next.
    pub fn live(&self, key: &str) -> Vec<VersionId> {
        let deleted = self.deleted.get(key);
        self.written
            .get(key)
            .map(|w| w.keys().filter(|id| deleted.is_none_or(|d| !d.contains(id))).copied())
            .into_iter()
            .flatten()
            .collect()
    }

    /// Checks every key's versions through `objects`, with every node up.
    pub async fn check(&self, step: u64, objects: &ObjectService) -> Result<(), Violation> {
        let violation =
            |property: &'static str, detail: String| Violation { step, property, detail };
        for n in 0..KEYS {
            let key = key(n);
            let query = VersionsQuery { prefix: key.clone(), max_keys: 1000, ..Default::default() };
            let page = objects
                .list_object_versions(BUCKET, &query)
                .await
                .map_err(|e| violation("with every node up, versions list", e.to_string()))?;
            let current = match objects.object_version(BUCKET, &key, None).await {
                Ok(info) => info.version_id(),
                Err(objects::Error::DeleteMarker { version_id, .. }) => version_id,
                Err(objects::Error::NoSuchKey) => None,
                Err(e) => {
                    return Err(violation("with every node up, a GET answers", e.to_string()));
                }
            };
            let listed: BTreeSet<VersionId> =
                page.entries.iter().filter(|e| e.key == key).filter_map(|e| e.version_id).collect();
            let deleted = self.deleted.get(&key);
            let maybe_deleted = self.maybe_deleted.get(&key);
            for (id, bytes) in self.written.get(&key).into_iter().flatten() {
                if deleted.into_iter().chain(maybe_deleted).any(|d| d.contains(id)) {
                    continue;
                }
                if !listed.contains(id) {
                    return Err(violation(
                        "a versioned bucket loses no acknowledged version",
                        format!("{key} version {id} is not listed; listed {listed:?}"),
                    ));
                }
                let Some(bytes) = bytes else { continue };
                let info = objects
                    .object_version(BUCKET, &key, Some(VersionSel::Id(*id)))
                    .await
                    .map_err(|e| {
                        violation("an acknowledged version reads back", format!("{key} {id}: {e}"))
                    })?;
                let got = read_all(objects, &info).await;
                if &got != bytes {
                    return Err(violation(
                        "an acknowledged version reads back",
                        format!("{key} {id}: {got:?} != {bytes:?}"),
                    ));
                }
            }
            for id in deleted.into_iter().flatten() {
                if listed.contains(id) {
                    return Err(violation(
                        "a version whose deletion was acknowledged stays deleted",
                        format!("{key} version {id} (current: {current:?})"),
                    ));
                }
            }
            if let Some(current) = current
                && !listed.contains(&current)
            {
                return Err(violation(
                    "the current version is one of the listed versions",
                    format!("{key}: current {current}, listed {listed:?}"),
                ));
            }
        }
        Ok(())
    }
}

async fn read_all(objects: &ObjectService, info: &objects::ObjectInfo) -> Vec<u8> {
    use futures_util::StreamExt;
    if info.size() == 0 {
        return Vec::new();
    }
    let mut stream = objects.read_object(info, 0, info.size() - 1);
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(c) => out.extend_from_slice(&c),
            Err(_) => break,
        }
    }
    out
}
