//! Buckets: create, look up, list and delete.

use std::ops::Bound;

use crate::coordinator::ScanRange;

use super::records::{
    self, BUCKETS, BucketConfig, BucketGrant, BucketRecord, OBJECTS, ObjectLockConfig, VERSIONS,
    Versioning,
};
use super::{Error, ObjectService, live_value};

/// A bucket as the protocol layer sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketInfo {
    pub name: String,
    pub created_ms: i64,
    pub owner: String,
    pub location: String,
    pub grants: Vec<BucketGrant>,
    pub tags: Vec<(String, String)>,
    pub versioning: Versioning,
    pub object_lock: Option<ObjectLockConfig>,
    /// ACL, policy, ownership controls, public access block.
    pub config: BucketConfig,
}

impl BucketInfo {
    /// The encryption a write that asks for none gets here.
    pub(super) fn default_encryption(&self) -> Option<super::crypto::Encryption> {
        self.config.encryption.as_ref().map(super::records::DefaultEncryption::request)
    }
}

impl From<BucketRecord> for BucketInfo {
    fn from(r: BucketRecord) -> Self {
        Self {
            name: r.name,
            created_ms: r.created_ms,
            owner: r.owner,
            location: r.location,
            grants: r.grants,
            tags: r.tags,
            versioning: r.versioning,
            object_lock: r.object_lock,
            config: r.config,
        }
    }
}

/// What a request wants to do with a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
    /// Bucket-level administration (delete, tagging, location): the owner only.
    Own,
}

impl BucketInfo {
    /// Whether `access_key_id` may perform `access` on this bucket.
    pub fn permits(&self, access_key_id: &str, access: Access) -> bool {
        if self.owner == access_key_id {
            return true;
        }
        self.grants.iter().any(|g| {
            g.access_key_id == access_key_id
                && match access {
                    Access::Read => g.read,
                    Access::Write => g.write,
                    Access::Own => false,
                }
        })
    }
}

/// Largest number of buckets one listing returns.
const BUCKET_LIST_MAX: usize = 10_000;

impl ObjectService {
    /// Creates `name` for `owner`. Creating a bucket one already owns is
    /// `BucketAlreadyOwnedByYou`; one owned by another key is `BucketAlreadyExists`. With
    /// `object_lock`, versioning is enabled too, as S3 does. `config` holds the ACL and
    /// ownership controls given at creation.
    pub async fn create_bucket(
        &self,
        name: &str,
        owner: &str,
        location: &str,
        object_lock: bool,
        config: BucketConfig,
    ) -> Result<BucketInfo, Error> {
        // Decided by consensus among the name's owners: of two clients creating one name
        // through two nodes, exactly one succeeds.
        let record = BucketRecord {
            name: name.to_owned(),
            created_ms: self.now_ms(),
            owner: owner.to_owned(),
            location: location.to_owned(),
            grants: Vec::new(),
            tags: Vec::new(),
            versioning: if object_lock { Versioning::Enabled } else { Versioning::Unversioned },
            object_lock: object_lock.then(ObjectLockConfig::default),
            config,
        };
        let value = records::encode(&record);
        self.coordinator()
            .put_conditional(BUCKETS, name.as_bytes(), |current| match live_value(current) {
                None => Ok(Some(value.clone())),
                Some(existing) => {
                    let existing: BucketRecord = records::decode(existing)?;
                    Err(if existing.owner == owner {
                        Error::BucketAlreadyOwnedByYou
                    } else {
                        Error::BucketAlreadyExists
                    })
                }
            })
            .await??;
        Ok(record.into())
    }

    pub async fn bucket(&self, name: &str) -> Result<BucketInfo, Error> {
        let current = self.coordinator().get(BUCKETS, name.as_bytes()).await?;
        let value = live_value(&current).ok_or(Error::NoSuchBucket)?;
        Ok(records::decode::<BucketRecord>(value)?.into())
    }

    /// Every bucket, in name order.
    pub async fn list_buckets(&self) -> Result<Vec<BucketInfo>, Error> {
        let range = ScanRange { start: Bound::Unbounded, end: Bound::Unbounded };
        let items = self.coordinator().scan(BUCKETS, range, BUCKET_LIST_MAX).await?;
        let mut out = Vec::with_capacity(items.len());
        for (_, siblings) in items {
            if let Some(value) = live_value(&siblings) {
                out.push(records::decode::<BucketRecord>(value)?.into());
            }
        }
        Ok(out)
    }

    /// Changes a bucket record, decided by consensus among its owners: two changes made at
    /// once through different nodes (say versioning and a CORS configuration) both survive,
    /// where a plain read-modify-write would leave them as siblings and lose one. `change`
    /// runs again on the newer record if another change won the round.
    async fn change_bucket<E: From<Error>>(
        &self,
        name: &str,
        mut change: impl FnMut(&mut BucketRecord) -> Result<(), E>,
    ) -> Result<BucketInfo, E> {
        let mut written: Option<BucketRecord> = None;
        let decided = self
            .coordinator()
            .put_conditional(BUCKETS, name.as_bytes(), |current| {
                let value = live_value(current).ok_or(Error::NoSuchBucket)?;
                let mut record: BucketRecord = records::decode(value)?;
                change(&mut record)?;
                let encoded = records::encode(&record);
                written = Some(record);
                Ok::<_, E>(Some(encoded))
            })
            .await
            .map_err(Error::from)?;
        decided?;
        let record =
            written.ok_or(Error::Internal { what: "a decided change wrote nothing".into() })?;
        Ok(record.into())
    }

    async fn update_bucket(
        &self,
        name: &str,
        mut change: impl FnMut(&mut BucketRecord),
    ) -> Result<BucketInfo, Error> {
        self.change_bucket(name, |r| {
            change(r);
            Ok::<_, Error>(())
        })
        .await
    }

    /// Gives `access_key_id` read and/or write access to a bucket; both false removes the grant.
    pub async fn set_bucket_grant(
        &self,
        bucket: &str,
        access_key_id: &str,
        read: bool,
        write: bool,
    ) -> Result<BucketInfo, Error> {
        self.update_bucket(bucket, |r| {
            r.grants.retain(|g| g.access_key_id != access_key_id);
            if read || write {
                r.grants.push(BucketGrant { access_key_id: access_key_id.to_owned(), read, write });
                r.grants.sort_by(|a, b| a.access_key_id.cmp(&b.access_key_id));
            }
        })
        .await
    }

    /// Replaces a bucket's tag set (empty removes it).
    pub async fn set_bucket_tags(
        &self,
        bucket: &str,
        tags: Vec<(String, String)>,
    ) -> Result<(), Error> {
        self.update_bucket(bucket, |r| r.tags = tags.clone()).await.map(drop)
    }

    /// Turns versioning on (`Enabled`) or pauses it (`Suspended`); a bucket never returns to
    /// unversioned.
    pub async fn set_bucket_versioning(
        &self,
        bucket: &str,
        versioning: Versioning,
    ) -> Result<(), Error> {
        if versioning == Versioning::Unversioned {
            return Err(Error::MalformedRequest { what: "a bucket cannot return to unversioned" });
        }
        self.change_bucket(bucket, |r| {
            if r.object_lock.is_some() && versioning != Versioning::Enabled {
                return Err(Error::InvalidBucketState {
                    what: "versioning cannot be suspended on a bucket with object lock",
                });
            }
            r.versioning = versioning;
            Ok(())
        })
        .await
        .map(drop)
    }

    /// Enables object lock (and sets its default retention) on a versioning-enabled bucket.
    pub async fn set_object_lock_config(
        &self,
        bucket: &str,
        config: ObjectLockConfig,
    ) -> Result<(), Error> {
        self.change_bucket(bucket, |r| {
            if r.versioning != Versioning::Enabled {
                return Err(Error::InvalidBucketState {
                    what: "object lock needs versioning enabled on the bucket",
                });
            }
            r.object_lock = Some(config.clone());
            Ok(())
        })
        .await
        .map(drop)
    }

    /// Changes a bucket's sub-resource configuration (ACL, policy, ownership controls, public
    /// access block, CORS, lifecycle, website); `change` sees the bucket as read and may refuse
    /// with its own error (by consensus: see `change_bucket`).
    pub async fn update_bucket_config<E: From<Error>>(
        &self,
        bucket: &str,
        mut change: impl FnMut(&BucketInfo, &mut BucketConfig) -> Result<(), E>,
    ) -> Result<BucketInfo, E> {
        self.change_bucket(bucket, |record| {
            let info = BucketInfo::from(record.clone());
            change(&info, &mut record.config)
        })
        .await
    }

    /// Deletes an empty bucket.
    pub async fn delete_bucket(&self, name: &str) -> Result<(), Error> {
        let current = self.coordinator().get(BUCKETS, name.as_bytes()).await?;
        if live_value(&current).is_none() {
            return Err(Error::NoSuchBucket);
        }
        if self.bucket_has_objects(name).await? {
            return Err(Error::BucketNotEmpty);
        }
        // By consensus, like every other change of the record: a configuration change made
        // at the same moment cannot bring the bucket back as a sibling of its tombstone.
        self.coordinator()
            .put_conditional(BUCKETS, name.as_bytes(), |current| match live_value(current) {
                Some(_) => Ok(None),
                None => Err(Error::NoSuchBucket),
            })
            .await??;
        Ok(())
    }

    /// Whether any object, version or delete marker is left in the bucket.
    async fn bucket_has_objects(&self, name: &str) -> Result<bool, Error> {
        for table in [OBJECTS, VERSIONS] {
            let mut start = Bound::Included(records::object_key(name, ""));
            let mut end_key = name.as_bytes().to_vec();
            end_key.push(1);
            loop {
                let range =
                    ScanRange { start: start.clone(), end: Bound::Excluded(end_key.clone()) };
                let items = self.coordinator().scan(table, range, 256).await?;
                let Some((last, _)) = items.last() else { break };
                if items.iter().any(|(_, s)| live_value(s).is_some()) {
                    return Ok(true);
                }
                start = Bound::Excluded(last.clone());
            }
        }
        Ok(false)
    }
}
