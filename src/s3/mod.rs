//! The S3 HTTP front end: requests in, responses out. It authenticates, routes to one handler
//! per operation, and turns every failure into S3's XML error. It knows nothing of replicas:
//! everything below goes through `objects::ObjectService`.
//!
//! Each request runs in a tracing span carrying its request id, which is also the
//! `x-amz-request-id` header and the `<RequestId>` of any error.
//!
//! Every request that may change state (PUT, POST, DELETE) runs detached from its connection,
//! as a task of the node's bounded request set: a client that gives up mid-request stops
//! waiting for the answer, never the work (ARCHITECTURE.md, invariant 11).

mod acl;
mod auth;
mod conditional;
mod cors;
mod encryption;
pub mod error;
mod facts;
mod handlers;
#[cfg(feature = "testing")]
pub mod hot;
mod lifecycle;
mod post_policy;
mod range;
mod request;
mod response;
mod router;
mod server;
mod website;
mod xml;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::FutureExt;
use http::Request;
use tracing::Instrument;

use crate::clock::SharedClock;
use crate::metrics::Metrics;
use crate::objects::ObjectService;
use crate::tasks::TaskSet;

pub use error::{S3Error, S3ErrorCode};
pub use response::{ResponseBody, S3Response};
pub use server::{ServerLimits, serve};

use router::Operation;

/// Settings of the S3 front end.
#[derive(Debug, Clone)]
pub struct S3Options {
    /// The region this endpoint answers for (and expects in signatures).
    pub region: String,
    /// With a root domain, `bucket.<root_domain>` hosts select virtual-hosted-style addressing.
    pub root_domain: Option<String>,
    /// Largest total size of request headers; AWS's limit is 8 KiB.
    pub header_bytes_max: usize,
    /// Largest XML request body (CreateBucket configuration, ...).
    pub xml_body_bytes_max: usize,
    /// How long a lifecycle rule's day is, for `x-amz-expiration` (see `Config`).
    pub lifecycle_day_ms: i64,
    /// With a website domain, `bucket.<website_domain>` hosts reach the website endpoint.
    pub website_domain: Option<String>,
}

impl Default for S3Options {
    fn default() -> Self {
        Self {
            region: "us-east-1".into(),
            root_domain: None,
            header_bytes_max: 8 << 10,
            xml_body_bytes_max: 1 << 20,
            lifecycle_day_ms: crate::objects::lifecycle::DAY_MS,
            website_domain: None,
        }
    }
}

/// The S3 service: cheap to clone, one per node.
#[derive(Debug, Clone)]
pub struct S3Service {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    objects: ObjectService,
    clock: SharedClock,
    options: S3Options,
    request_id_prefix: u32,
    request_counter: AtomicU64,
    metrics: Metrics,
    /// Where mutating requests run, detached from their connections.
    detached: TaskSet,
}

/// What a handler knows about the request beyond its HTTP parts.
#[derive(Debug)]
pub(crate) struct Context {
    /// The signing key's id (its canonical user id); `None` for an anonymous request.
    pub principal: Option<String>,
    /// Whether the requester's key may create buckets.
    pub allow_create_bucket: bool,
    pub bucket: Option<String>,
    pub key: Option<String>,
    pub query: Vec<(String, String)>,
    pub payload: auth::PayloadMode,
    /// What bucket policy conditions can test about the request.
    pub facts: crate::access::Facts,
    /// When the request arrived, by the node's clock.
    pub now: chrono::DateTime<chrono::Utc>,
    /// `x-amz-expected-bucket-owner`: the request fails unless the bucket is this key's.
    pub expected_owner: Option<String>,
}

impl Context {
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The bucket of a bucket or object operation (the router guarantees one).
    pub fn bucket(&self) -> &str {
        self.bucket.as_deref().unwrap_or_default()
    }

    pub fn key(&self) -> &str {
        self.key.as_deref().unwrap_or_default()
    }

    pub fn principal(&self) -> Option<&str> {
        self.principal.as_deref()
    }

    /// Who owns what this request writes in `bucket` (a delete marker, an object that asks
    /// for no ACL): see `access::owner_of_write`.
    pub fn writer(&self, bucket: &crate::objects::BucketInfo) -> String {
        crate::access::owner_of_write(bucket, self.principal(), false)
    }
}

/// What `dispatch` learnt of a request, for the response path: the operation (for metrics)
/// and the bucket (for CORS headers).
#[derive(Debug, Default)]
struct Routed {
    operation: std::sync::OnceLock<&'static str>,
    bucket: std::sync::OnceLock<String>,
}

/// Whether a request of this method may change state (S3 changes nothing on GET or HEAD).
fn mutating(method: &http::Method) -> bool {
    !matches!(*method, http::Method::GET | http::Method::HEAD | http::Method::OPTIONS)
}

impl S3Service {
    /// `request_id_prefix` makes request ids unique across nodes and restarts; pass a random value.
    pub fn new(
        objects: ObjectService,
        clock: SharedClock,
        options: S3Options,
        request_id_prefix: u32,
        metrics: Metrics,
        detached: TaskSet,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                objects,
                clock,
                options,
                request_id_prefix,
                request_counter: AtomicU64::new(0),
                metrics,
                detached,
            }),
        }
    }

    fn next_request_id(&self) -> String {
        let n = self.inner.request_counter.fetch_add(1, Ordering::Relaxed);
        format!("{:08X}{:012X}", self.inner.request_id_prefix, n & 0xffff_ffff_ffff)
    }

    /// Handles one request; never fails: every error becomes an S3 error response. A request
    /// that may change state runs to its end even if this future is dropped (see the module
    /// documentation); dropping it only stops the wait for the answer.
    pub async fn handle<B>(&self, request: Request<B>) -> S3Response
    where
        B: http_body::Body<Data = bytes::Bytes> + Send + Unpin + 'static,
        B::Error: std::fmt::Display,
    {
        if !mutating(request.method()) {
            return Box::pin(self.handle_here(request)).await;
        }
        let this = self.clone();
        match self
            .inner
            .detached
            .run(Box::pin(async move { this.handle_here(request).await }))
            .await
        {
            Ok(response) => response,
            Err(_) => {
                let err = S3Error::new(
                    S3ErrorCode::ServiceUnavailable,
                    "The node is shutting down; please retry.",
                );
                response::error_response(&err, &self.next_request_id(), true)
            }
        }
    }

    async fn handle_here<B>(&self, request: Request<B>) -> S3Response
    where
        B: http_body::Body<Data = bytes::Bytes> + Send + Unpin + 'static,
        B::Error: std::fmt::Display,
    {
        let request_id = self.next_request_id();
        let span = tracing::info_span!(
            "s3_request",
            request_id = %request_id,
            method = %request.method(),
            operation = tracing::field::Empty,
            bucket = tracing::field::Empty,
            key = tracing::field::Empty,
            status = tracing::field::Empty,
        );
        let is_head = request.method() == http::Method::HEAD;
        let started = self.inner.clock.monotonic();
        // A browser's request: its response gets the CORS headers the bucket's rules allow.
        // Matched as the method it names in Access-Control-Request-Method when it has one (as
        // RGW does), else as its own.
        let origin =
            request.headers().get(http::header::ORIGIN).and_then(|v| v.to_str().ok()).map(|o| {
                let method = request
                    .headers()
                    .get("access-control-request-method")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or(request.method().as_str());
                (o.to_owned(), method.to_owned())
            });
        // Set by `dispatch` once routed; requests refused before that count as "Unknown".
        let routed = Routed::default();
        async {
            // A panic in a handler is a bug; the client still gets a 500 with the request id
            // and the connection stays usable.
            let outcome =
                std::panic::AssertUnwindSafe(self.dispatch(request, &routed)).catch_unwind().await;
            let outcome =
                outcome.unwrap_or_else(|_| Err(S3Error::internal(&"a request handler panicked")));
            let mut response = match outcome {
                Ok(response) => response,
                Err(err) => {
                    if err.code == S3ErrorCode::InternalError {
                        tracing::error!(code = %err.code, "request failed");
                    } else {
                        tracing::debug!(code = %err.code, message = %err.message, "request failed");
                    }
                    response::error_response(&err, &request_id, !is_head)
                }
            };
            // A preflight answers for itself: a refused one carries no CORS headers at all.
            let preflight = routed.operation.get() == Some(&"CorsPreflight");
            if let (Some((origin, method)), Some(bucket), false) =
                (&origin, routed.bucket.get(), preflight)
            {
                let h = handlers::Handlers {
                    objects: &self.inner.objects,
                    options: &self.inner.options,
                };
                Box::pin(h.decorate(bucket, origin, method, &mut response)).await;
            }
            tracing::Span::current().record("status", response.status().as_u16());
            self.inner.metrics.observe_s3_request(
                routed.operation.get().copied().unwrap_or("Unknown"),
                response.status().as_u16(),
                self.inner.clock.monotonic().saturating_duration_since(started).as_secs_f64(),
            );
            response::set_header(&mut response, "x-amz-request-id", &request_id);
            response::set_header(&mut response, "x-amz-id-2", &request_id);
            response::set_header(&mut response, "server", "RingVault");
            tracing::debug!("request complete");
            response
        }
        .instrument(span)
        .await
    }

    async fn dispatch<B>(&self, request: Request<B>, routed: &Routed) -> Result<S3Response, S3Error>
    where
        B: http_body::Body<Data = bytes::Bytes> + Send + Unpin + 'static,
        B::Error: std::fmt::Display,
    {
        let options = &self.inner.options;
        let header_bytes: usize =
            request.headers().iter().map(|(n, v)| n.as_str().len() + v.len() + 4).sum();
        if header_bytes > options.header_bytes_max {
            return Err(S3Error::from(S3ErrorCode::RequestHeaderSectionTooLarge)
                .with("MaxSizeAllowed", options.header_bytes_max.to_string()));
        }
        let host = request
            .headers()
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| request.uri().authority().map(http::uri::Authority::as_str));
        if let Some(domain) = options.website_domain.as_deref()
            && let Some((bucket, key)) =
                request::website_target(host, request.uri().path(), domain)?
        {
            let _ = routed.operation.set("Website");
            let _ = routed.bucket.set(bucket.clone());
            tracing::Span::current()
                .record("operation", "Website")
                .record("bucket", bucket.as_str());
            if !matches!(*request.method(), http::Method::GET | http::Method::HEAD) {
                return Err(S3ErrorCode::MethodNotAllowed.into());
            }
            let facts = crate::s3::facts::request_facts(&crate::s3::facts::RequestView {
                principal: None,
                headers: request.headers(),
                query: &[],
                source_ip: request.extensions().get::<server::Peer>().map(|p| p.0.ip()),
                now: self.inner.clock.now(),
            });
            let host = host.unwrap_or_default();
            let h = handlers::Handlers { objects: &self.inner.objects, options };
            let website = handlers::WebsiteRequest {
                bucket: &bucket,
                key: &key,
                host,
                head: *request.method() == http::Method::HEAD,
                facts: &facts,
            };
            return Ok(Box::pin(h.serve_website(website)).await);
        }
        let target =
            request::parse_target(host, request.uri().path(), options.root_domain.as_deref())?;
        let query = request::parse_query(request.uri().query())?;
        let operation = router::route(request.method(), &target, &query, request.headers());
        let span = tracing::Span::current();
        span.record("operation", operation.name());
        let _ = routed.operation.set(operation.name());
        if let Some(b) = &target.bucket {
            span.record("bucket", b.as_str());
            let _ = routed.bucket.set(b.clone());
        }
        if let Some(k) = &target.key {
            span.record("key", k.as_str());
        }
        let resource = match (&target.bucket, &target.key) {
            (Some(b), Some(k)) => format!("/{b}/{k}"),
            (Some(b), None) => format!("/{b}"),
            _ => "/".to_owned(),
        };
        let with_resource =
            |e: S3Error| if e.resource.is_none() { e.with_resource(resource.clone()) } else { e };

        let (parts, body) = request.into_parts();
        // A browser's preflight carries no credentials (and may carry a presigned URL's
        // query, signed for another method): it is answered from the CORS rules alone.
        let authenticated = if operation == Operation::CorsPreflight {
            auth::Authenticated {
                principal: None,
                allow_create_bucket: false,
                payload: auth::PayloadMode::Unsigned,
            }
        } else {
            Box::pin(auth::authenticate(
                auth::AuthInput {
                    method: &parts.method,
                    raw_path: parts.uri.path(),
                    raw_query: parts.uri.query().unwrap_or_default(),
                    query: &query,
                    vhost_bucket: target.bucket.as_deref().filter(|_| target.virtual_hosted),
                    headers: &parts.headers,
                },
                &self.inner.objects,
                &options.region,
                self.inner.clock.now(),
            ))
            .await
            .map_err(with_resource)?
        };
        let now = self.inner.clock.now();
        let facts = crate::s3::facts::request_facts(&crate::s3::facts::RequestView {
            principal: authenticated.principal.as_deref(),
            headers: &parts.headers,
            query: &query,
            source_ip: parts.extensions.get::<server::Peer>().map(|p| p.0.ip()),
            now,
        });
        let expected_owner = parts
            .headers
            .get("x-amz-expected-bucket-owner")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let ctx = Context {
            expected_owner,
            now,
            facts,
            principal: authenticated.principal,
            allow_create_bucket: authenticated.allow_create_bucket,
            bucket: target.bucket,
            key: target.key,
            query,
            payload: authenticated.payload,
        };
        let request = Request::from_parts(parts, body);
        self.run(operation, ctx, request).await.map_err(with_resource)
    }

    async fn run<B>(
        &self,
        operation: Operation,
        ctx: Context,
        request: Request<B>,
    ) -> Result<S3Response, S3Error>
    where
        B: http_body::Body<Data = bytes::Bytes> + Send + Unpin + 'static,
        B::Error: std::fmt::Display,
    {
        let h = handlers::Handlers { objects: &self.inner.objects, options: &self.inner.options };
        // Each operation's future is boxed: inline, this future would be as large as the
        // largest of them (32 KiB), and every request's future was copied whole into the
        // connection's slot and moved through its wrappers; a 4 KiB GET spent 7 % of the
        // node's CPU in those copies. Boxed, a request allocates only its own operation's.
        match operation {
            Operation::ListBuckets => Box::pin(h.list_buckets(&ctx)).await,
            Operation::CreateBucket => Box::pin(h.create_bucket(&ctx, request)).await,
            Operation::HeadBucket => Box::pin(h.head_bucket(&ctx)).await,
            Operation::DeleteBucket => Box::pin(h.delete_bucket(&ctx)).await,
            Operation::GetBucketLocation => Box::pin(h.get_bucket_location(&ctx)).await,
            Operation::ListObjects => Box::pin(h.list_objects_v1(&ctx)).await,
            Operation::ListObjectsV2 => Box::pin(h.list_objects_v2(&ctx)).await,
            Operation::ListObjectVersions => Box::pin(h.list_object_versions(&ctx)).await,
            Operation::PutObject => Box::pin(h.put_object(ctx, request)).await,
            Operation::GetObject => Box::pin(h.get_object(&ctx, request.headers(), false)).await,
            Operation::HeadObject => Box::pin(h.get_object(&ctx, request.headers(), true)).await,
            Operation::DeleteObject => Box::pin(h.delete_object(&ctx, request.headers())).await,
            Operation::CopyObject => Box::pin(h.copy_object(&ctx, request.headers())).await,
            Operation::DeleteObjects => Box::pin(h.delete_objects(&ctx, request)).await,
            Operation::CreateMultipartUpload => {
                Box::pin(h.create_multipart_upload(&ctx, request.headers())).await
            }
            Operation::UploadPart => Box::pin(h.upload_part(ctx, request)).await,
            Operation::UploadPartCopy => {
                Box::pin(h.upload_part_copy(&ctx, request.headers())).await
            }
            Operation::CompleteMultipartUpload => {
                Box::pin(h.complete_multipart_upload(&ctx, request)).await
            }
            Operation::AbortMultipartUpload => Box::pin(h.abort_multipart_upload(&ctx)).await,
            Operation::ListParts => Box::pin(h.list_parts(&ctx)).await,
            Operation::ListMultipartUploads => Box::pin(h.list_multipart_uploads(&ctx)).await,
            Operation::GetObjectTagging => Box::pin(h.get_object_tagging(&ctx)).await,
            Operation::PutObjectTagging => Box::pin(h.put_object_tagging(&ctx, request)).await,
            Operation::DeleteObjectTagging => Box::pin(h.delete_object_tagging(&ctx)).await,
            Operation::GetBucketTagging => Box::pin(h.get_bucket_tagging(&ctx)).await,
            Operation::PutBucketTagging => Box::pin(h.put_bucket_tagging(&ctx, request)).await,
            Operation::DeleteBucketTagging => Box::pin(h.delete_bucket_tagging(&ctx)).await,
            Operation::GetBucketVersioning => Box::pin(h.get_bucket_versioning(&ctx)).await,
            Operation::PutBucketVersioning => {
                Box::pin(h.put_bucket_versioning(&ctx, request)).await
            }
            Operation::GetObjectLockConfiguration => {
                Box::pin(h.get_object_lock_configuration(&ctx)).await
            }
            Operation::PutObjectLockConfiguration => {
                Box::pin(h.put_object_lock_configuration(&ctx, request)).await
            }
            Operation::GetObjectRetention => Box::pin(h.get_object_retention(&ctx)).await,
            Operation::PutObjectRetention => Box::pin(h.put_object_retention(&ctx, request)).await,
            Operation::GetObjectLegalHold => Box::pin(h.get_object_legal_hold(&ctx)).await,
            Operation::PutObjectLegalHold => Box::pin(h.put_object_legal_hold(&ctx, request)).await,
            Operation::GetBucketAcl => Box::pin(h.get_bucket_acl(&ctx)).await,
            Operation::PutBucketAcl => Box::pin(h.put_bucket_acl(&ctx, request)).await,
            Operation::GetObjectAcl => Box::pin(h.get_object_acl(&ctx)).await,
            Operation::PutObjectAcl => Box::pin(h.put_object_acl(&ctx, request)).await,
            Operation::GetBucketOwnershipControls => {
                Box::pin(h.get_bucket_ownership_controls(&ctx)).await
            }
            Operation::PutBucketOwnershipControls => {
                Box::pin(h.put_bucket_ownership_controls(&ctx, request)).await
            }
            Operation::DeleteBucketOwnershipControls => {
                Box::pin(h.delete_bucket_ownership_controls(&ctx)).await
            }
            Operation::GetPublicAccessBlock => Box::pin(h.get_public_access_block(&ctx)).await,
            Operation::PutPublicAccessBlock => {
                Box::pin(h.put_public_access_block(&ctx, request)).await
            }
            Operation::DeletePublicAccessBlock => {
                Box::pin(h.delete_public_access_block(&ctx)).await
            }
            Operation::GetBucketPolicy => Box::pin(h.get_bucket_policy(&ctx)).await,
            Operation::PutBucketPolicy => Box::pin(h.put_bucket_policy(&ctx, request)).await,
            Operation::DeleteBucketPolicy => Box::pin(h.delete_bucket_policy(&ctx)).await,
            Operation::GetBucketPolicyStatus => Box::pin(h.get_bucket_policy_status(&ctx)).await,
            Operation::GetBucketCors => Box::pin(h.get_bucket_cors(&ctx)).await,
            Operation::PutBucketCors => Box::pin(h.put_bucket_cors(&ctx, request)).await,
            Operation::DeleteBucketCors => Box::pin(h.delete_bucket_cors(&ctx)).await,
            Operation::CorsPreflight => Box::pin(h.cors_preflight(&ctx, request.headers())).await,
            Operation::PostObject => Box::pin(h.post_object(&ctx, request)).await,
            Operation::GetBucketLifecycle => Box::pin(h.get_bucket_lifecycle(&ctx)).await,
            Operation::GetBucketWebsite => Box::pin(h.get_bucket_website(&ctx)).await,
            Operation::PutBucketWebsite => Box::pin(h.put_bucket_website(&ctx, request)).await,
            Operation::DeleteBucketWebsite => Box::pin(h.delete_bucket_website(&ctx)).await,
            Operation::GetBucketRequestPayment => {
                Box::pin(h.get_bucket_request_payment(&ctx)).await
            }
            Operation::PutBucketRequestPayment => {
                Box::pin(h.put_bucket_request_payment(&ctx, request)).await
            }
            Operation::GetBucketAccelerateConfiguration => {
                Box::pin(h.get_bucket_accelerate(&ctx)).await
            }
            Operation::PutBucketAccelerateConfiguration => {
                Box::pin(h.put_bucket_accelerate(&ctx, request)).await
            }
            Operation::PutBucketLifecycle => Box::pin(h.put_bucket_lifecycle(&ctx, request)).await,
            Operation::GetBucketEncryption => Box::pin(h.get_bucket_encryption(&ctx)).await,
            Operation::PutBucketEncryption => {
                Box::pin(h.put_bucket_encryption(&ctx, request)).await
            }
            Operation::DeleteBucketEncryption => Box::pin(h.delete_bucket_encryption(&ctx)).await,
            Operation::DeleteBucketLifecycle => Box::pin(h.delete_bucket_lifecycle(&ctx)).await,
            Operation::GetObjectAttributes => {
                Box::pin(h.get_object_attributes(&ctx, request.headers())).await
            }
            Operation::Unsupported(name) => Err(S3Error::new(
                S3ErrorCode::NotImplemented,
                format!("{name} is not implemented by RingVault yet."),
            )),
            Operation::NotAllowed => Err(S3ErrorCode::MethodNotAllowed.into()),
        }
    }
}
