//! Access-key handlers: list, create (the one answer that carries a secret), import a key with a
//! known secret, detail (with the buckets the key reaches), update, delete.
//!
//! Import refuses an id that exists, so that a script cannot silently replace a secret (the
//! root key's included). The check and the write are two steps: two concurrent imports of one
//! new id can both pass, and the last one wins. Conditional writes will close that gap.

use http::StatusCode;

use super::api::{
    CreateKeyRequest, ImportKeyRequest, KeyDetail, KeyGrant, KeyList, KeySummary, NewKey,
    UpdateKeyRequest,
};
use super::error::{ApiError, Subject};
use super::{AdminService, Reply, rfc3339};
use crate::objects::AccessKey;

const NAME_CHARS_MAX: usize = 128;
const KEY_ID_CHARS: std::ops::RangeInclusive<usize> = 3..=128;
const SECRET_CHARS: std::ops::RangeInclusive<usize> = 8..=128;

fn summary(key: &AccessKey) -> KeySummary {
    KeySummary {
        access_key_id: key.access_key_id.clone(),
        name: key.name.clone(),
        created: rfc3339(key.created_ms),
        allow_create_bucket: key.allow_create_bucket,
    }
}

fn check_name(name: &str) -> Result<(), ApiError> {
    if name.chars().count() > NAME_CHARS_MAX || name.chars().any(char::is_control) {
        return Err(ApiError::InvalidArgument {
            field: "name",
            reason: format!(
                "must be at most {NAME_CHARS_MAX} characters, without control characters"
            ),
        });
    }
    Ok(())
}

/// Key ids travel in SigV4's credential scope (`id/date/region/s3/aws4_request`), so they keep
/// to characters that need no escaping there or in a URL path.
fn check_import(request: &ImportKeyRequest) -> Result<(), ApiError> {
    let id = &request.access_key_id;
    if !KEY_ID_CHARS.contains(&id.len())
        || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        return Err(ApiError::InvalidArgument {
            field: "access_key_id",
            reason: format!(
                "must be {} to {} characters from A-Z, a-z, 0-9, '-', '_' and '.'",
                KEY_ID_CHARS.start(),
                KEY_ID_CHARS.end()
            ),
        });
    }
    let secret = &request.secret_access_key;
    if !SECRET_CHARS.contains(&secret.len()) || !secret.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::InvalidArgument {
            field: "secret_access_key",
            reason: format!(
                "must be {} to {} visible ASCII characters",
                SECRET_CHARS.start(),
                SECRET_CHARS.end()
            ),
        });
    }
    check_name(&request.name)
}

impl AdminService {
    pub(super) async fn list_keys(&self) -> Result<Reply, ApiError> {
        let keys = self
            .objects()
            .list_access_keys()
            .await
            .map_err(|e| ApiError::from_objects(e, Subject::Nothing))?;
        Reply::ok(&KeyList { keys: keys.iter().map(summary).collect() })
    }

    pub(super) async fn create_key(&self, request: CreateKeyRequest) -> Result<Reply, ApiError> {
        check_name(&request.name)?;
        let key = self
            .objects()
            .create_access_key(&request.name, request.allow_create_bucket)
            .await
            .map_err(|e| ApiError::from_objects(e, Subject::Nothing))?;
        tracing::info!(access_key_id = %key.access_key_id, "access key created");
        let new = NewKey { key: summary(&key), secret_access_key: key.secret_access_key };
        Reply::json(StatusCode::CREATED, &new)
    }

    pub(super) async fn import_key(&self, request: ImportKeyRequest) -> Result<Reply, ApiError> {
        check_import(&request)?;
        let id = request.access_key_id.as_str();
        let err = |e| ApiError::from_objects(e, Subject::Key(id));
        if self.objects().access_key(id).await.map_err(err)?.is_some() {
            return Err(ApiError::AccessKeyAlreadyExists { access_key_id: id.to_owned() });
        }
        let key = self
            .objects()
            .put_access_key(
                id,
                &request.secret_access_key,
                &request.name,
                request.allow_create_bucket,
            )
            .await
            .map_err(err)?;
        tracing::info!(access_key_id = %id, "access key imported");
        Reply::json(StatusCode::CREATED, &summary(&key))
    }

    pub(super) async fn key_detail(&self, id: &str) -> Result<Reply, ApiError> {
        let err = |e| ApiError::from_objects(e, Subject::Key(id));
        let key = self
            .objects()
            .access_key(id)
            .await
            .map_err(err)?
            .ok_or_else(|| ApiError::NoSuchAccessKey { access_key_id: id.to_owned() })?;
        let buckets = self.objects().list_buckets().await.map_err(err)?;
        let buckets_owned =
            buckets.iter().filter(|b| b.owner == id).map(|b| b.name.clone()).collect();
        let buckets_granted = buckets
            .iter()
            .flat_map(|b| {
                b.grants.iter().filter(|g| g.access_key_id == id).map(|g| KeyGrant {
                    bucket: b.name.clone(),
                    read: g.read,
                    write: g.write,
                })
            })
            .collect();
        Reply::ok(&KeyDetail { key: summary(&key), buckets_owned, buckets_granted })
    }

    pub(super) async fn update_key(
        &self,
        id: &str,
        request: UpdateKeyRequest,
    ) -> Result<Reply, ApiError> {
        let key = self
            .objects()
            .set_allow_create_bucket(id, request.allow_create_bucket)
            .await
            .map_err(|e| ApiError::from_objects(e, Subject::Key(id)))?;
        tracing::info!(
            access_key_id = %id,
            allow_create_bucket = request.allow_create_bucket,
            "access key updated"
        );
        Reply::ok(&summary(&key))
    }

    /// Deletes the key and then its grants, so that a key imported later under the same id does
    /// not inherit them. Buckets the key owns keep their owner id (the objects layer's rule).
    pub(super) async fn delete_key(&self, id: &str) -> Result<Reply, ApiError> {
        let err = |e| ApiError::from_objects(e, Subject::Key(id));
        self.objects().delete_access_key(id).await.map_err(err)?;
        tracing::info!(access_key_id = %id, "access key deleted");
        let buckets = self.objects().list_buckets().await.map_err(err)?;
        for bucket in buckets.iter().filter(|b| b.grants.iter().any(|g| g.access_key_id == id)) {
            match self.objects().set_bucket_grant(&bucket.name, id, false, false).await {
                Ok(_) | Err(crate::objects::Error::NoSuchBucket) => {}
                Err(e) => return Err(ApiError::from_objects(e, Subject::Bucket(&bucket.name))),
            }
        }
        Ok(Reply::no_content())
    }
}
