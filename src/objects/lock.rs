//! Object lock: retention periods and legal holds on versions.
//!
//! A version's lock lives in its record, in its version item (and the head's copy while it is
//! current). Every change of a lock, and every deletion of a version of a bucket with object
//! lock, is decided by consensus on the version's item (`Coordinator::put_conditional`), so a
//! retention set concurrently with a DELETE either comes first and refuses it, or comes after
//! the version is gone; a sloppy write can never slip a deletion past a lock.

use super::records::{self, LockMode, OBJECTS, ObjectRecord, Retention, VERSIONS};
use super::versions::{VersionSel, head_record, version_key, version_record};
use super::{Error, ObjectInfo, ObjectService};

/// Whether `record` may be deleted at `now_ms`: never under a legal hold or an unexpired
/// COMPLIANCE retention; under an unexpired GOVERNANCE retention only with `bypass`.
pub(super) fn deletable(record: &ObjectRecord, now_ms: i64, bypass: bool) -> Result<(), Error> {
    if record.legal_hold {
        return Err(Error::Locked { what: "the version is under a legal hold" });
    }
    match record.retention {
        Some(r) if r.until_ms > now_ms => match r.mode {
            LockMode::Compliance => {
                Err(Error::Locked { what: "the version is under a COMPLIANCE retention" })
            }
            LockMode::Governance if bypass => Ok(()),
            LockMode::Governance => {
                Err(Error::Locked { what: "the version is under a GOVERNANCE retention" })
            }
        },
        _ => Ok(()),
    }
}

/// Whether a version's retention may go from `current` to `new` at `now_ms`: an expired or
/// absent one freely; otherwise only extended in the same mode, or, for GOVERNANCE, anything
/// with `bypass`.
fn retention_change(
    current: Option<Retention>,
    new: Option<Retention>,
    now_ms: i64,
    bypass: bool,
) -> Result<(), Error> {
    let Some(current) = current.filter(|c| c.until_ms > now_ms) else { return Ok(()) };
    let extends = new.is_some_and(|n| n.mode == current.mode && n.until_ms >= current.until_ms);
    match current.mode {
        _ if extends => Ok(()),
        LockMode::Governance if bypass => Ok(()),
        LockMode::Governance => Err(Error::Locked {
            what: "a GOVERNANCE retention is shortened or changed only with the bypass",
        }),
        LockMode::Compliance => {
            Err(Error::Locked { what: "a COMPLIANCE retention cannot be shortened or removed" })
        }
    }
}

impl ObjectService {
    /// Sets (or, with `None`, removes) the retention of version `which` (the current one for
    /// `None`). `bypass` is `x-amz-bypass-governance-retention` from a requester allowed it.
    pub async fn set_retention(
        &self,
        bucket: &str,
        key: &str,
        which: Option<VersionSel>,
        retention: Option<Retention>,
        bypass: bool,
    ) -> Result<ObjectInfo, Error> {
        let now = self.now_ms();
        self.change_lock(bucket, key, which, |record| {
            retention_change(record.retention, retention, now, bypass)?;
            record.retention = retention;
            Ok(())
        })
        .await
    }

    /// Turns the legal hold of version `which` (the current one for `None`) on or off.
    pub async fn set_legal_hold(
        &self,
        bucket: &str,
        key: &str,
        which: Option<VersionSel>,
        on: bool,
    ) -> Result<ObjectInfo, Error> {
        self.change_lock(bucket, key, which, |record| {
            record.legal_hold = on;
            Ok(())
        })
        .await
    }

    /// The lock of version `which` (the current one for `None`) of a bucket with object lock.
    pub async fn object_lock_of(
        &self,
        bucket: &str,
        key: &str,
        which: Option<VersionSel>,
    ) -> Result<ObjectInfo, Error> {
        if self.bucket(bucket).await?.object_lock.is_none() {
            return Err(Error::LockNotEnabled);
        }
        self.object_version(bucket, key, which).await
    }

    /// Changes a version's record by consensus on the item that holds it, then refreshes the
    /// head's copy if it is the current version.
    async fn change_lock(
        &self,
        bucket: &str,
        key: &str,
        which: Option<VersionSel>,
        mut change: impl FnMut(&mut ObjectRecord) -> Result<(), Error>,
    ) -> Result<ObjectInfo, Error> {
        let found = self.object_lock_of(bucket, key, which).await?;
        let sel = found.version_id().map_or(VersionSel::Null, VersionSel::Id);
        let head_key = records::object_key(bucket, key);
        let head = self.coordinator().get(OBJECTS, &head_key).await?;
        let current = head_record(&head)?;
        let is_current = current.as_ref().is_some_and(|r| r.version_id == sel.id());
        // The null version is held by the head while it is current, by the null slot after.
        let (table, item) = if sel == VersionSel::Null && is_current {
            (OBJECTS, head_key.clone())
        } else {
            (VERSIONS, version_key(bucket, key, &sel.suffix()))
        };
        let mut written = None;
        self.coordinator()
            .put_conditional(table, &item, |now| {
                let held = if table == OBJECTS {
                    head_record(now)?.filter(|r| r.version_id.is_none())
                } else {
                    version_record(now)?
                };
                let mut record = held.ok_or(Error::NoSuchVersion)?;
                change(&mut record)?;
                let value = records::encode(&record);
                written = Some(record);
                Ok::<_, Error>(Some(value))
            })
            .await??;
        let record =
            written.ok_or(Error::Internal { what: "a lock decision without a record".into() })?;
        if table == VERSIONS && is_current {
            let value = Some(records::encode(&record));
            self.coordinator().put(OBJECTS, &head_key, value, head.context()).await?;
        }
        Ok(ObjectInfo::new(bucket, key, record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(retention: Option<Retention>, legal_hold: bool) -> ObjectRecord {
        ObjectRecord {
            last_modified_ms: 0,
            size: 0,
            etag: String::new(),
            owner: String::new(),
            headers: Default::default(),
            user_metadata: Vec::new(),
            checksum: None,
            body: records::BodyLayout::Inline(Vec::new()),
            parts: Vec::new(),
            tags: Vec::new(),
            upload_id: None,
            version_id: None,
            delete_marker: false,
            retention,
            legal_hold,
            extra: Default::default(),
        }
    }

    #[test]
    fn locks_refuse_deletion_until_they_end() {
        let governance = Some(Retention { mode: LockMode::Governance, until_ms: 100 });
        let compliance = Some(Retention { mode: LockMode::Compliance, until_ms: 100 });
        assert!(deletable(&record(None, false), 50, false).is_ok());
        assert!(deletable(&record(None, true), 50, true).is_err(), "a legal hold has no bypass");
        assert!(deletable(&record(governance, false), 50, false).is_err());
        assert!(deletable(&record(governance, false), 50, true).is_ok());
        assert!(deletable(&record(compliance, false), 50, true).is_err());
        assert!(deletable(&record(compliance, false), 100, false).is_ok(), "ended");
    }

    #[test]
    fn retentions_only_grow_without_the_bypass() {
        let g = |until_ms| Some(Retention { mode: LockMode::Governance, until_ms });
        let c = |until_ms| Some(Retention { mode: LockMode::Compliance, until_ms });
        assert!(retention_change(None, c(10), 0, false).is_ok());
        assert!(retention_change(g(10), g(20), 0, false).is_ok());
        assert!(retention_change(g(20), g(10), 0, false).is_err());
        assert!(retention_change(g(20), g(10), 0, true).is_ok());
        assert!(retention_change(g(20), c(20), 0, false).is_err(), "a mode change needs it");
        assert!(retention_change(g(20), c(20), 0, true).is_ok());
        assert!(retention_change(c(20), c(30), 0, false).is_ok());
        assert!(retention_change(c(20), g(20), 0, true).is_err());
        assert!(retention_change(c(20), None, 0, true).is_err());
        assert!(retention_change(c(20), None, 20, false).is_ok(), "an ended one goes freely");
    }
}
