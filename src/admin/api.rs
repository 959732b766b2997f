//! The admin API's JSON documents. The server and the CLI's client share these types, so the two
//! ends cannot drift apart. Times are RFC 3339 strings in UTC. The only documents that carry a
//! secret (`NewKey`, `ImportKeyRequest`) withhold it from `Debug`, so it cannot reach a log.

use serde::{Deserialize, Serialize};

/// `GET /v1/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// The node id in hex, as the logs print it.
    pub node_id: String,
    pub version: String,
    pub s3_addr: String,
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

/// The body of every error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// A stable, machine-readable name (`NoSuchAccessKey`, `Unauthorized`, ...).
    pub code: String,
    /// One line for humans.
    pub message: String,
}
