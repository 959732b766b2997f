//! The admin API's JSON documents. The server and the CLI's client share these types, so the two
//! ends cannot drift apart. Times are RFC 3339 strings in UTC. The only documents that carry a
//! secret (`NewKey`, `ImportKeyRequest`) withhold it from `Debug`, so it cannot reach a log.

use serde::{Deserialize, Serialize};

pub use crate::coordinator::{
    DiskUsage, NodeReport, RebalanceProgress, RepairProgress, ScrubProgress,
};

/// `GET /v1/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// The node id in hex, as the logs print it.
    pub node_id: String,
    pub version: String,
    pub s3_addr: String,
}

/// `GET /v1/health`: whether this node can serve S3 requests now, and if not, why. Answered
/// with 200 when `healthy`, else 503 (the same body).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    pub healthy: bool,
    /// The node id in hex.
    pub node_id: String,
    /// Why the node cannot serve, one sentence each; empty when healthy.
    pub problems: Vec<String>,
    /// Members of the layout in force, and how many of them this node sees up.
    pub members: usize,
    pub members_up: usize,
    pub read_quorum: usize,
    pub write_quorum: usize,
    /// Partitions with none of their owners up: their data cannot be read until one returns.
    pub partitions_unreachable: u32,
    /// Partitions with some but not all of their owners up (served, with less redundancy).
    pub partitions_degraded: u32,
    /// Whether this node's disk refused its last write that added data.
    pub disk_full: bool,
}

/// An access key without its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeySummary {
    pub access_key_id: String,
    pub name: String,
    pub created: String,
    pub allow_create_bucket: bool,
}

/// `GET /v1/keys`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyList {
    pub keys: Vec<KeySummary>,
}

/// `GET /v1/keys/{id}`: a key and the buckets it can reach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyDetail {
    #[serde(flatten)]
    pub key: KeySummary,
    pub buckets_owned: Vec<String>,
    pub buckets_granted: Vec<KeyGrant>,
}

/// A grant seen from the key's side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyGrant {
    pub bucket: String,
    pub read: bool,
    pub write: bool,
}

/// `POST /v1/keys` answer: the only document that ever contains a secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewKey {
    #[serde(flatten)]
    pub key: KeySummary,
    pub secret_access_key: String,
}

impl std::fmt::Debug for NewKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewKey")
            .field("key", &self.key)
            .field("secret_access_key", &"<withheld>")
            .finish()
    }
}

/// `POST /v1/keys` body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyRequest {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub allow_create_bucket: bool,
}

/// `POST /v1/keys/import` body: a key whose id and secret the caller chose.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportKeyRequest {
    pub access_key_id: String,
    pub secret_access_key: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub allow_create_bucket: bool,
}

impl std::fmt::Debug for ImportKeyRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportKeyRequest")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<withheld>")
            .field("name", &self.name)
            .field("allow_create_bucket", &self.allow_create_bucket)
            .finish()
    }
}

/// `PATCH /v1/keys/{id}` body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateKeyRequest {
    pub allow_create_bucket: bool,
}

/// A bucket as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketSummary {
    pub name: String,
    pub owner: String,
    pub created: String,
    pub region: String,
}

/// `GET /v1/buckets`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketList {
    pub buckets: Vec<BucketSummary>,
}

/// `GET /v1/buckets/{name}` and the answer to a grant change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketDetail {
    #[serde(flatten)]
    pub bucket: BucketSummary,
    pub grants: Vec<Grant>,
    pub tags: Vec<Tag>,
}

/// `GET /v1/buckets/{name}/usage`: what a bucket holds (its current versions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketUsage {
    pub objects: u64,
    pub bytes: u64,
    /// False when the count stopped at its cap (100,000 objects): the figures are a floor.
    pub complete: bool,
}

/// `GET /v1/buckets/{name}/objects?prefix=&after=&max=`: one page of a listing by "/".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectList {
    pub prefix: String,
    pub objects: Vec<ObjectEntry>,
    /// Folders: the common prefixes up to the next "/".
    pub prefixes: Vec<String>,
    pub truncated: bool,
    /// Pass as `after` for the next page.
    pub next_after: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectEntry {
    pub key: String,
    pub size: u64,
    pub etag: String,
    pub last_modified: String,
}

/// `POST /v1/buckets/{name}/objects/{key}/link`: a download link that works without the token
/// until `expires`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DownloadLink {
    /// Relative to the admin listener that made it.
    pub url: String,
    pub expires: String,
}

/// The answer to `PUT /v1/buckets/{name}/objects/{key}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PutObjectResult {
    pub key: String,
    pub size: u64,
    pub etag: String,
}

/// A grant seen from the bucket's side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub access_key_id: String,
    pub read: bool,
    pub write: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// `PUT /v1/buckets/{name}/grants/{key id}` body: the key's rights after the call. Both false
/// removes the grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantRequest {
    pub read: bool,
    pub write: bool,
}

/// The body of `POST /v1/buckets/{bucket}/explain`: a request to judge without making it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExplainRequest {
    /// The access key asking; `None` for an anonymous request.
    #[serde(default)]
    pub principal: Option<String>,
    /// An S3 action as policies name it, e.g. `s3:GetObject`.
    pub action: String,
    /// The object, for object actions.
    #[serde(default)]
    pub key: Option<String>,
    /// The client address, for `aws:SourceIp` conditions.
    #[serde(default)]
    pub source_ip: Option<String>,
}

/// How a request would be decided, and by what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Explanation {
    /// `allow`, `deny`, or `object-acl` (the object's own ACL decides; `reason` says how).
    pub decision: String,
    pub reason: String,
}

/// The body of every error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// A stable, machine-readable name (`NoSuchAccessKey`, `Unauthorized`, ...).
    pub code: String,
    /// One line for humans.
    pub message: String,
}

/// `GET /v1/cluster`: this node's view of the ring.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterStatus {
    /// The node answering, in hex.
    pub node_id: String,
    pub layout_version: u64,
    pub replication_factor: usize,
    pub read_quorum: usize,
    pub write_quorum: usize,
    pub partitions: u32,
    pub nodes: Vec<ClusterNode>,
    /// Hints this node holds for others, per owner.
    pub pending_hints: Vec<PendingHints>,
    /// Membership changes staged here, applied by `POST /v1/cluster/apply`.
    pub staged: Vec<ClusterChange>,
    /// Anti-entropy on this node: the current pass, or the last one.
    #[serde(default)]
    pub repair: RepairProgress,
    /// Scrubbing on this node: the current pass, or the last one.
    #[serde(default)]
    pub scrub: ScrubProgress,
    /// The rebalance on this node: partitions still to pull after a layout change.
    #[serde(default)]
    pub rebalance: RebalanceProgress,
    /// Garbage collection on this node.
    #[serde(default)]
    pub gc: GcProgress,
    /// Lifecycle passes on this node (it applies the rules of the buckets it leads).
    #[serde(default)]
    pub lifecycle: crate::objects::lifecycle::LifecycleProgress,
}

/// Garbage collection on one node: tombstones held and purged, bodies reclaimed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GcProgress {
    /// Deleted items held as tombstones now.
    pub tombstones: u64,
    /// Tombstones this node purged from every member since it started.
    pub tombstones_purged: u64,
    /// Purge rounds put off since start (a member down, or holding a newer or hinted copy).
    pub purge_postponed: u64,
    /// Bodies of superseded versions, aborted uploads and failed writes deleted since start.
    pub bodies_reclaimed: u64,
}

/// `POST /v1/repair`: compare this node's partitions with their other owners now (every
/// partition it owns, or one).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepairRequest {
    #[serde(default)]
    pub partition: Option<u32>,
    /// Scrub instead: check every block this node stores against its checksum.
    #[serde(default)]
    pub scrub: bool,
}

/// The answer to `POST /v1/repair` (202): where anti-entropy and scrubbing stand.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepairAccepted {
    pub repair: RepairProgress,
    pub scrub: ScrubProgress,
}

/// One node as the answering node sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterNode {
    pub node_id: String,
    pub rpc_addr: Option<String>,
    pub s3_addr: Option<String>,
    pub zone: String,
    pub capacity: u64,
    /// Whether the node is a member of the current layout (else only gossiped).
    pub in_layout: bool,
    /// Whether the answering node believes it reachable.
    pub up: bool,
    /// Partitions whose preference list includes the node.
    pub partitions: u32,
    /// Out of the layout and said it holds nothing (its clean-up finished), or forgotten.
    #[serde(default)]
    pub drained: bool,
    /// Forgotten by the cluster (`cluster forget`): ignored from then on.
    #[serde(default)]
    pub forgotten: bool,
    /// What the node said about itself when asked for this status (its disk, hints, rebalance
    /// and repair); `None` if it did not answer within a second.
    #[serde(default)]
    pub report: Option<NodeReport>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingHints {
    pub node_id: String,
    pub count: u64,
}

/// A staged membership change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "op")]
pub enum ClusterChange {
    Add {
        node_id: String,
        zone: Option<String>,
        capacity: Option<u64>,
    },
    Remove {
        node_id: String,
    },
    Set {
        node_id: String,
        zone: Option<String>,
        capacity: Option<u64>,
    },
    /// Double the partition count: each partition splits into two halves that keep its
    /// owners (no data moves). Applied alone, once no earlier change is still settling.
    SplitPartitions,
}

/// `POST /v1/cluster/forget`: a node out of the layout that will not come back, which the
/// cluster stops waiting for (the tombstone purge waits for every node that left until it
/// said it holds nothing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForgetNode {
    pub node_id: String,
}

/// `POST /v1/cluster/apply`: the layout the staged changes produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyResult {
    pub layout_version: u64,
    pub members: usize,
    /// Replica slots that changed owner (data to copy).
    pub moved_replicas: usize,
}
