//! Access keys (credentials), stored as replicated items so that every node sees the same keys.
//! Secrets are never logged: `AccessKey`'s `Debug` withholds them.

use std::ops::Bound;

use crate::coordinator::ScanRange;

use super::records::{self, ACCESS_KEYS, AccessKeyRecord};
use super::{Error, ObjectService, live_value};

/// An access key and its secret.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessKey {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub name: String,
    pub created_ms: i64,
    pub allow_create_bucket: bool,
}

impl std::fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKey")
            .field("access_key_id", &self.access_key_id)
            .field("name", &self.name)
            .field("secret_access_key", &"<withheld>")
            .finish()
    }
}

impl From<AccessKeyRecord> for AccessKey {
    fn from(r: AccessKeyRecord) -> Self {
        Self {
            access_key_id: r.access_key_id,
            secret_access_key: r.secret_access_key,
            name: r.name,
            created_ms: r.created_ms,
            allow_create_bucket: r.allow_create_bucket,
        }
    }
}

const KEY_ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const SECRET_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

impl ObjectService {
    pub async fn access_key(&self, access_key_id: &str) -> Result<Option<AccessKey>, Error> {
        let current = self.coordinator().get(ACCESS_KEYS, access_key_id.as_bytes()).await?;
        match live_value(&current) {
            Some(v) => Ok(Some(records::decode::<AccessKeyRecord>(v)?.into())),
            None => Ok(None),
        }
    }

    /// Stores a key with the given id and secret, replacing any key with that id.
    pub async fn put_access_key(
        &self,
        access_key_id: &str,
        secret_access_key: &str,
        name: &str,
        allow_create_bucket: bool,
    ) -> Result<AccessKey, Error> {
        let current = self.coordinator().get(ACCESS_KEYS, access_key_id.as_bytes()).await?;
        let record = AccessKeyRecord {
            access_key_id: access_key_id.to_owned(),
            secret_access_key: secret_access_key.to_owned(),
            name: name.to_owned(),
            created_ms: self.now_ms(),
            allow_create_bucket,
        };
        self.coordinator()
            .put(
                ACCESS_KEYS,
                access_key_id.as_bytes(),
                Some(records::encode(&record)),
                current.context(),
            )
            .await?;
        Ok(record.into())
    }

    /// Deletes a key; its buckets stay, owned by the deleted id until reassigned.
    pub async fn delete_access_key(&self, access_key_id: &str) -> Result<(), Error> {
        let current = self.coordinator().get(ACCESS_KEYS, access_key_id.as_bytes()).await?;
        if live_value(&current).is_none() {
            return Err(Error::NoSuchAccessKey);
        }
        self.coordinator()
            .put(ACCESS_KEYS, access_key_id.as_bytes(), None, current.context())
            .await?;
        Ok(())
    }

    /// Allows or denies a key to create buckets.
    pub async fn set_allow_create_bucket(
        &self,
        access_key_id: &str,
        allow: bool,
    ) -> Result<AccessKey, Error> {
        let current = self.coordinator().get(ACCESS_KEYS, access_key_id.as_bytes()).await?;
        let value = live_value(&current).ok_or(Error::NoSuchAccessKey)?;
        let mut record: AccessKeyRecord = records::decode(value)?;
        record.allow_create_bucket = allow;
        self.coordinator()
            .put(
                ACCESS_KEYS,
                access_key_id.as_bytes(),
                Some(records::encode(&record)),
                current.context(),
            )
            .await?;
        Ok(record.into())
    }

    /// Creates a key with a fresh random id and secret.
    pub async fn create_access_key(
        &self,
        name: &str,
        allow_create_bucket: bool,
    ) -> Result<AccessKey, Error> {
        let id = format!("RV{}", self.random_string(KEY_ID_ALPHABET, 18));
        let secret = self.random_string(SECRET_ALPHABET, 40);
        self.put_access_key(&id, &secret, name, allow_create_bucket).await
    }

    pub async fn list_access_keys(&self) -> Result<Vec<AccessKey>, Error> {
        let range = ScanRange { start: Bound::Unbounded, end: Bound::Unbounded };
        let items = self.coordinator().scan(ACCESS_KEYS, range, 100_000).await?;
        let mut out = Vec::new();
        for (_, siblings) in items {
            if let Some(v) = live_value(&siblings) {
                out.push(records::decode::<AccessKeyRecord>(v)?.into());
            }
        }
        Ok(out)
    }
}
