//! Bucket handlers: list, detail (owner, region, grants, tags), and setting one key's grant.

use super::api::{
    BucketDetail, BucketList, BucketSummary, ExplainRequest, Explanation, Grant, GrantRequest, Tag,
};
use super::error::{ApiError, Subject};
use super::{AdminService, Reply, rfc3339};
use crate::access::{self, Asking, Facts, Verdict};
use crate::objects::BucketInfo;

fn summary(bucket: &BucketInfo) -> BucketSummary {
    BucketSummary {
        name: bucket.name.clone(),
        owner: bucket.owner.clone(),
        created: rfc3339(bucket.created_ms),
        region: bucket.location.clone(),
    }
}

fn detail(bucket: &BucketInfo) -> BucketDetail {
    BucketDetail {
        bucket: summary(bucket),
        grants: bucket
            .grants
            .iter()
            .map(|g| Grant { access_key_id: g.access_key_id.clone(), read: g.read, write: g.write })
            .collect(),
        tags: bucket
            .tags
            .iter()
            .map(|(key, value)| Tag { key: key.clone(), value: value.clone() })
            .collect(),
    }
}

impl AdminService {
    pub(super) async fn list_buckets(&self) -> Result<Reply, ApiError> {
        let buckets = self
            .objects()
            .list_buckets()
            .await
            .map_err(|e| ApiError::from_objects(e, Subject::Nothing))?;
        Reply::ok(&BucketList { buckets: buckets.iter().map(summary).collect() })
    }

    pub(super) async fn bucket_detail(&self, name: &str) -> Result<Reply, ApiError> {
        let bucket = self
            .objects()
            .bucket(name)
            .await
            .map_err(|e| ApiError::from_objects(e, Subject::Bucket(name)))?;
        Reply::ok(&detail(&bucket))
    }

    /// Sets `id`'s rights on `name` to exactly `request`. The key must exist (a grant to a
    /// typo would be silently useless), and must not be the owner, who always has every right
    /// and so could not be denied anything.
    pub(super) async fn put_grant(
        &self,
        name: &str,
        id: &str,
        request: GrantRequest,
    ) -> Result<Reply, ApiError> {
        let objects = self.objects();
        let on_key = |e| ApiError::from_objects(e, Subject::Key(id));
        let on_bucket = |e| ApiError::from_objects(e, Subject::Bucket(name));
        if objects.access_key(id).await.map_err(on_key)?.is_none() {
            return Err(ApiError::NoSuchAccessKey { access_key_id: id.to_owned() });
        }
        let bucket = objects.bucket(name).await.map_err(on_bucket)?;
        if bucket.owner == id {
            return Err(ApiError::InvalidArgument {
                field: "access_key_id",
                reason: format!("{id} owns bucket {name}; an owner always has full access"),
            });
        }
        let bucket = objects
            .set_bucket_grant(name, id, request.read, request.write)
            .await
            .map_err(on_bucket)?;
        tracing::info!(
            bucket = %name,
            access_key_id = %id,
            read = request.read,
            write = request.write,
            "bucket grant set"
        );
        Reply::ok(&detail(&bucket))
    }

    /// How a request would be decided on `name`: the verdict and the rule that made it.
    pub(super) async fn explain(
        &self,
        name: &str,
        request: ExplainRequest,
    ) -> Result<Reply, ApiError> {
        let action =
            access::action_named(&request.action).ok_or_else(|| ApiError::InvalidArgument {
                field: "action",
                reason: format!("{} is not an S3 action RingVault checks", request.action),
            })?;
        let bucket = self
            .objects()
            .bucket(name)
            .await
            .map_err(|e| ApiError::from_objects(e, Subject::Bucket(name)))?;
        let mut facts = Facts::default();
        if let Some(ip) = &request.source_ip {
            facts.set("aws:SourceIp", ip.clone());
        }
        facts.set("aws:SecureTransport", "false");
        let kind = if request.principal.is_some() { "User" } else { "Anonymous" };
        facts.set("aws:PrincipalType", kind);
        let asking = Asking {
            principal: request.principal.as_deref(),
            action,
            key: request.key.as_deref(),
            facts: &facts,
        };
        let explained = access::explain(&bucket, &asking);
        let decision = match explained.verdict {
            Verdict::Allow => "allow",
            Verdict::Deny => "deny",
            Verdict::ObjectAcl(_) => "object-acl",
        };
        Reply::ok(&Explanation { decision: decision.to_owned(), reason: explained.reason })
    }
}
