//! The console's bucket browser: a bucket listed by folder, what it holds, and an object's
//! bytes in and out, as the bucket's owner. Bodies stream both ways: an upload is written
//! block by block as it arrives (a client that breaks off leaves nothing), a download is read
//! block by block as it goes out.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use futures_util::TryStreamExt;
use http::{HeaderMap, HeaderValue, header};
use http_body_util::BodyStream;

use super::api::{BucketUsage, DownloadLink, ObjectEntry, ObjectList, PutObjectResult};
use super::error::{ApiError, Subject};
use super::{AdminService, Reply, rfc3339};
use crate::objects::{
    BodyError, ByteStream, ContentHeaders, KEY_LEN_MAX, ListQuery, ObjectLock, PutObject,
};

/// Most keys and folders one listing page holds.
const PAGE_KEYS_MAX: usize = 1000;
/// A bucket's usage stops counting here (a walk of the whole bucket is paid on every ask).
pub const USAGE_OBJECTS_MAX: u64 = 100_000;

/// The query of a listing: `prefix`, `after`, `max`.
fn list_query(query: Option<&str>) -> Result<ListQuery, ApiError> {
    let mut list = ListQuery {
        prefix: String::new(),
        delimiter: Some("/".to_owned()),
        after: None,
        max_keys: PAGE_KEYS_MAX,
    };
    for (name, value) in query_pairs(query.unwrap_or(""))? {
        match name.as_str() {
            "prefix" => list.prefix = value,
            "after" if !value.is_empty() => list.after = Some(value),
            "max" => {
                list.max_keys =
                    value.parse().ok().filter(|n| (1..=PAGE_KEYS_MAX).contains(n)).ok_or_else(
                        || ApiError::InvalidArgument {
                            field: "max",
                            reason: format!("must be a number from 1 to {PAGE_KEYS_MAX}"),
                        },
                    )?;
            }
            _ => {}
        }
    }
    Ok(list)
}

/// `name=value&...` pairs, percent-decoded (`+` is a space, as in a form).
fn query_pairs(query: &str) -> Result<Vec<(String, String)>, ApiError> {
    let decode = |text: &str| {
        percent_encoding::percent_decode_str(&text.replace('+', " "))
            .decode_utf8()
            .map(|s| s.into_owned())
            .map_err(|_| ApiError::InvalidArgument {
                field: "query",
                reason: "is not percent-encoded UTF-8".into(),
            })
    };
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((decode(name)?, decode(value)?))
        })
        .collect()
}

impl AdminService {
    /// `GET /v1/buckets/{bucket}/objects?prefix=&after=&max=`: one page, folded by "/".
    pub(super) async fn list_objects(
        &self,
        bucket: &str,
        query: Option<&str>,
    ) -> Result<Reply, ApiError> {
        let query = list_query(query)?;
        let page = self
            .objects()
            .list_objects(bucket, &query)
            .await
            .map_err(|e| ApiError::from_objects(e, Subject::Bucket(bucket)))?;
        Reply::ok(&ObjectList {
            prefix: query.prefix,
            objects: page
                .objects
                .into_iter()
                .map(|o| ObjectEntry {
                    key: o.key,
                    size: o.size,
                    etag: o.etag,
                    last_modified: rfc3339(o.last_modified_ms),
                })
                .collect(),
            prefixes: page.common_prefixes,
            truncated: page.is_truncated,
            next_after: page.last.filter(|_| page.is_truncated),
        })
    }

    /// `GET /v1/buckets/{bucket}/usage`: objects and bytes, counted by a walk of the bucket's
    /// listing that stops at [`USAGE_OBJECTS_MAX`] objects.
    pub(super) async fn bucket_usage(&self, bucket: &str) -> Result<Reply, ApiError> {
        let mut usage = BucketUsage { objects: 0, bytes: 0, complete: true };
        let mut query =
            ListQuery { prefix: String::new(), delimiter: None, after: None, max_keys: 1000 };
        loop {
            let page = self
                .objects()
                .list_objects(bucket, &query)
                .await
                .map_err(|e| ApiError::from_objects(e, Subject::Bucket(bucket)))?;
            usage.objects += page.objects.len() as u64;
            usage.bytes += page.objects.iter().map(|o| o.size).sum::<u64>();
            if !page.is_truncated {
                return Reply::ok(&usage);
            }
            if usage.objects >= USAGE_OBJECTS_MAX {
                usage.complete = false;
                return Reply::ok(&usage);
            }
            query.after = page.last;
        }
    }

    /// `GET /v1/buckets/{bucket}/objects/{key}`: the object's bytes, streamed, as an
    /// attachment named after the key's last segment.
    pub(super) async fn get_object(&self, bucket: &str, key: &str) -> Result<Reply, ApiError> {
        let subject = Subject::Object { bucket, key };
        let objects = self.objects();
        let info = objects
            .head_object(bucket, key)
            .await
            .map_err(|e| ApiError::from_objects(e, subject))?;
        let size = info.size();
        let body =
            objects.open_whole(&info).await.map_err(|e| ApiError::from_objects(e, subject))?;
        let mut headers = HeaderMap::new();
        let content_type = info
            .headers()
            .content_type
            .as_deref()
            .and_then(|t| HeaderValue::from_str(t).ok())
            .unwrap_or(HeaderValue::from_static("application/octet-stream"));
        headers.insert(header::CONTENT_TYPE, content_type);
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
        let name = key.rsplit('/').next().unwrap_or(key);
        // RFC 5987: everything but letters, digits and a few marks is percent-encoded.
        const ATTR: &percent_encoding::AsciiSet =
            &percent_encoding::NON_ALPHANUMERIC.remove(b'.').remove(b'-').remove(b'_').remove(b'~');
        let encoded = percent_encoding::utf8_percent_encode(name, ATTR);
        if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename*=UTF-8''{encoded}"))
        {
            headers.insert(header::CONTENT_DISPOSITION, value);
        }
        headers.insert(
            header::ETAG,
            HeaderValue::from_str(&format!("\"{}\"", info.etag()))
                .map_err(|_| ApiError::Internal)?,
        );
        Ok(Reply::stream(body, headers))
    }

    /// `PUT /v1/buckets/{bucket}/objects/{key}`: stores the request body as the object, owned
    /// by the bucket's owner, with the request's Content-Type.
    pub(super) async fn put_object<B>(
        &self,
        bucket: &str,
        key: &str,
        headers: &HeaderMap,
        body: B,
    ) -> Result<Reply, ApiError>
    where
        B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
        B::Error: std::fmt::Display,
    {
        if key.len() > KEY_LEN_MAX {
            return Err(ApiError::InvalidArgument {
                field: "key",
                reason: format!("is longer than {KEY_LEN_MAX} bytes"),
            });
        }
        let subject = Subject::Object { bucket, key };
        let owner = self
            .objects()
            .bucket(bucket)
            .await
            .map_err(|e| ApiError::from_objects(e, Subject::Bucket(bucket)))?
            .owner;
        let header = |name| headers.get(name).and_then(|v: &HeaderValue| v.to_str().ok());
        let size_hint = header(header::CONTENT_LENGTH).and_then(|v| v.parse().ok());
        // Counted as it goes in: the size stored is what was read, whatever the client said.
        let received = Arc::new(AtomicU64::new(0));
        let counter = received.clone();
        let body: ByteStream = Box::pin(
            BodyStream::new(body)
                .map_err(|e| BodyError(format!("the upload broke off: {e}").into()))
                .try_filter_map(|frame| futures_util::future::ready(Ok(frame.into_data().ok())))
                .inspect_ok(move |data: &Bytes| {
                    counter.fetch_add(data.len() as u64, Ordering::Relaxed);
                }),
        );
        let put = PutObject {
            condition: None,
            owner,
            size_hint,
            headers: ContentHeaders {
                content_type: header(header::CONTENT_TYPE).map(str::to_owned),
                ..ContentHeaders::default()
            },
            user_metadata: Vec::new(),
            tags: Vec::new(),
            body,
            content_md5: None,
            checksum: None,
            lock: ObjectLock::default(),
            acl: None,
            encryption: None,
        };
        let outcome = self
            .objects()
            .put_object(bucket, key, put)
            .await
            .map_err(|e| ApiError::from_objects(e, subject))?;
        let size = received.load(Ordering::Relaxed);
        Reply::ok(&PutObjectResult { key: key.to_owned(), size, etag: outcome.etag })
    }
}

/// How long a download link works, in seconds.
const LINK_LIFETIME_SECS: i64 = 300;

/// What a download link signs: the object and the link's end.
fn link_message(bucket: &str, key: &str, expires: i64) -> Vec<u8> {
    format!("ringvault-download\n{bucket}\n{key}\n{expires}").into_bytes()
}

fn query_escape(text: &str) -> percent_encoding::PercentEncode<'_> {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC)
}

impl AdminService {
    fn now_secs(&self) -> i64 {
        self.inner.cluster.coordinator.clock().now().timestamp()
    }

    /// `POST /v1/buckets/{bucket}/objects/{key}/link`: a URL on this listener that downloads
    /// the object without the token for [`LINK_LIFETIME_SECS`], signed with the token. A
    /// browser cannot put the bearer header on a link it follows; with this one it saves the
    /// object as it streams, instead of holding it in memory first.
    pub(super) async fn object_link(&self, bucket: &str, key: &str) -> Result<Reply, ApiError> {
        // Only for an object that is there now (the download looks it up again).
        self.objects()
            .head_object(bucket, key)
            .await
            .map_err(|e| ApiError::from_objects(e, Subject::Object { bucket, key }))?;
        let expires = self.now_secs() + LINK_LIFETIME_SECS;
        let signature = hex::encode(self.inner.token.sign(&link_message(bucket, key, expires)));
        let url = format!(
            "/v1/download?bucket={}&key={}&expires={expires}&signature={signature}",
            query_escape(bucket),
            query_escape(key)
        );
        Reply::ok(&DownloadLink { url, expires: rfc3339(expires.saturating_mul(1000)) })
    }

    /// `GET /v1/download?bucket=&key=&expires=&signature=`: the object a link names, while it
    /// holds. Asked without the token: the signature stands for it.
    pub(super) async fn download(&self, query: Option<&str>) -> Result<Reply, ApiError> {
        let pairs = query_pairs(query.unwrap_or(""))?;
        let get = |name: &str| pairs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
        let (Some(bucket), Some(key), Some(expires), Some(signature)) =
            (get("bucket"), get("key"), get("expires"), get("signature"))
        else {
            return Err(ApiError::InvalidLink);
        };
        let expires: i64 = expires.parse().map_err(|_| ApiError::InvalidLink)?;
        let signature = hex::decode(signature).map_err(|_| ApiError::InvalidLink)?;
        let genuine = self.inner.token.verify(&link_message(bucket, key, expires), &signature);
        if !genuine || expires < self.now_secs() {
            return Err(ApiError::InvalidLink);
        }
        self.get_object(bucket, key).await
    }
}
