//! The admin HTTP API: token-authenticated JSON on its own port, for operators to manage access
//! keys and bucket grants on a running node. `client` is the other end, used by the CLI.
//!
//! Invariants: every request is checked against the bearer token (in constant time) before it
//! is even routed, so an unauthenticated caller learns nothing but 401; the exceptions are
//! `GET /console`, a static page with no data, and `GET /v1/download`, whose link carries a
//! short-lived signature made with the token instead. JSON bodies are bounded; an object uploaded
//! through the console streams into the store like an S3 PUT.
//! Secrets and the token never reach a log: requests are logged by route and status only, and
//! the types that carry secrets withhold them from `Debug`. Keys and grants are items of the
//! replicated store, so a change made here applies on every node, and the S3 front end (which
//! reads the key on each request) sees it on the next request.
//!
//! Cluster membership (status, staged changes, apply) lives in `cluster`. It does not serve
//! metrics.
//!
//! Requests that may change state (every method but GET and HEAD) run detached from their
//! connection in the node's request set, as S3 requests do: a caller that gives up stops
//! waiting, never the work.

pub mod api;
mod buckets;
mod client;
mod cluster;
mod error;
mod keys;
mod objects;
mod router;
mod server;
mod token;

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::FutureExt;
use http::{HeaderMap, Request, Response, StatusCode, header};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::Instrument;

use crate::coordinator::Coordinator;
use crate::metrics::Metrics;
use crate::objects::{BodyError, ByteStream, ObjectService};
use crate::ring::Ring;
use crate::tasks::TaskSet;

pub use client::{AdminClient, ClientError, token_from_file};
pub use error::ApiError;
pub use server::{AdminServerLimits, serve};
pub use token::AdminToken;

use router::Route;

/// Settings of the admin API.
#[derive(Debug, Clone)]
pub struct AdminOptions {
    /// Reported by `GET /v1/status`.
    pub node_id: u64,
    /// Reported by `GET /v1/status`.
    pub s3_addr: SocketAddr,
    /// Largest JSON request body.
    pub body_bytes_max: usize,
}

impl AdminOptions {
    pub fn new(node_id: u64, s3_addr: SocketAddr) -> Self {
        Self { node_id, s3_addr, body_bytes_max: 64 << 10 }
    }
}

/// The admin service: cheap to clone, one per node.
#[derive(Debug, Clone)]
pub struct AdminService {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    objects: ObjectService,
    token: AdminToken,
    options: AdminOptions,
    cluster: ClusterHandle,
    metrics: Metrics,
    detached: TaskSet,
}

/// What the cluster endpoints work on.
#[derive(Debug)]
pub struct ClusterHandle {
    pub ring: Ring,
    pub coordinator: Coordinator,
    /// N for layouts computed here.
    pub replication_factor: usize,
    staged: std::sync::Mutex<Vec<api::ClusterChange>>,
}

impl ClusterHandle {
    pub fn new(ring: Ring, coordinator: Coordinator, replication_factor: usize) -> Self {
        Self { ring, coordinator, replication_factor, staged: std::sync::Mutex::default() }
    }
}

/// An admin answer's body: JSON or text in one piece, or an object's bytes streamed.
pub type AdminBody = UnsyncBoxBody<Bytes, BodyError>;
pub type AdminResponse = Response<AdminBody>;

/// A handler's successful answer: a status, its headers and a body.
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: ReplyBody,
}

enum ReplyBody {
    Whole(Bytes),
    Stream(ByteStream),
}

fn whole(bytes: Bytes) -> AdminBody {
    Full::new(bytes).map_err(|never| match never {}).boxed_unsync()
}

impl Reply {
    fn json(status: StatusCode, value: &impl Serialize) -> Result<Reply, ApiError> {
        let body = serde_json::to_vec(value).map_err(|e| {
            tracing::error!(error = %e, "cannot encode an admin answer");
            ApiError::Internal
        })?;
        Ok(Self::whole(status, "application/json", Bytes::from(body)))
    }

    fn whole(status: StatusCode, content_type: &'static str, body: Bytes) -> Reply {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, http::HeaderValue::from_static(content_type));
        Reply { status, headers, body: ReplyBody::Whole(body) }
    }

    /// 200 with `body` streamed; `headers` name its type and length.
    fn stream(body: ByteStream, headers: HeaderMap) -> Reply {
        Reply { status: StatusCode::OK, headers, body: ReplyBody::Stream(body) }
    }

    fn ok(value: &impl Serialize) -> Result<Reply, ApiError> {
        Self::json(StatusCode::OK, value)
    }

    fn no_content() -> Reply {
        let body = ReplyBody::Whole(Bytes::new());
        Reply { status: StatusCode::NO_CONTENT, headers: HeaderMap::new(), body }
    }
}

impl AdminService {
    pub fn new(
        objects: ObjectService,
        token: AdminToken,
        options: AdminOptions,
        cluster: ClusterHandle,
        metrics: Metrics,
        detached: TaskSet,
    ) -> Self {
        Self { inner: Arc::new(Inner { objects, token, options, cluster, metrics, detached }) }
    }

    fn objects(&self) -> &ObjectService {
        &self.inner.objects
    }

    /// Handles one request; never fails: every error becomes a JSON error answer. A request
    /// that may change state runs to its end even if this future is dropped.
    pub async fn handle<B>(&self, request: Request<B>) -> AdminResponse
    where
        B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
        B::Error: std::fmt::Display,
    {
        if matches!(*request.method(), http::Method::GET | http::Method::HEAD) {
            return self.handle_here(request).await;
        }
        let this = self.clone();
        match self.inner.detached.run(async move { this.handle_here(request).await }).await {
            Ok(response) => response,
            Err(_) => error_response(&ApiError::Unavailable),
        }
    }

    async fn handle_here<B>(&self, request: Request<B>) -> AdminResponse
    where
        B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
        B::Error: std::fmt::Display,
    {
        let span = tracing::info_span!(
            "admin_request",
            method = %request.method(),
            route = tracing::field::Empty,
            status = tracing::field::Empty,
        );
        // Health checks come every few seconds: logged at debug, not to drown the rest.
        let quiet = matches!(request.uri().path(), "/v1/health" | "/console");
        async {
            let outcome = std::panic::AssertUnwindSafe(self.dispatch(request)).catch_unwind().await;
            let outcome = outcome.unwrap_or_else(|_| {
                tracing::error!("an admin handler panicked");
                Err(ApiError::Internal)
            });
            let response = match outcome {
                Ok(reply) => {
                    let body = match reply.body {
                        ReplyBody::Whole(bytes) => whole(bytes),
                        ReplyBody::Stream(stream) => {
                            use futures_util::TryStreamExt;
                            StreamBody::new(stream.map_ok(http_body::Frame::data)).boxed_unsync()
                        }
                    };
                    let mut response = Response::new(body);
                    *response.status_mut() = reply.status;
                    *response.headers_mut() = reply.headers;
                    response
                }
                Err(err) => error_response(&err),
            };
            tracing::Span::current().record("status", response.status().as_u16());
            if quiet {
                tracing::debug!("admin request");
            } else {
                tracing::info!("admin request");
            }
            response
        }
        .instrument(span)
        .await
    }

    async fn dispatch<B>(&self, request: Request<B>) -> Result<Reply, ApiError>
    where
        B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
        B::Error: std::fmt::Display,
    {
        // The console page holds no data: it asks for the token and sends it with every call.
        // A download link carries a signature made with the token instead of the token.
        if request.method() == http::Method::GET {
            match request.uri().path() {
                "/console" => return Ok(console()),
                "/v1/download" => {
                    tracing::Span::current().record("route", "Download");
                    return self.download(request.uri().query()).await;
                }
                _ => {}
            }
        }
        if !self.authorized(request.headers()) {
            return Err(ApiError::Unauthorized);
        }
        let route = router::route(request.method(), request.uri().path())?;
        let force = request
            .uri()
            .query()
            .is_some_and(|q| q.split('&').any(|p| p == "force" || p == "force=true"));
        tracing::Span::current().record("route", route.name());
        let (parts, body) = request.into_parts();
        let max = self.inner.options.body_bytes_max;
        match route {
            Route::Status => Reply::ok(&self.status()),
            Route::Health => self.health().await,
            Route::ListKeys => self.list_keys().await,
            Route::CreateKey => self.create_key(read_json(body, max).await?).await,
            Route::ImportKey => self.import_key(read_json(body, max).await?).await,
            Route::GetKey { access_key_id } => self.key_detail(&access_key_id).await,
            Route::DeleteKey { access_key_id } => self.delete_key(&access_key_id).await,
            Route::UpdateKey { access_key_id } => {
                self.update_key(&access_key_id, read_json(body, max).await?).await
            }
            Route::ListBuckets => self.list_buckets().await,
            Route::GetBucket { bucket } => self.bucket_detail(&bucket).await,
            Route::Explain { bucket } => self.explain(&bucket, read_json(body, max).await?).await,
            Route::PutGrant { bucket, access_key_id } => {
                self.put_grant(&bucket, &access_key_id, read_json(body, max).await?).await
            }
            Route::ClusterStatus => self.cluster_status().await,
            Route::StageChange => self.stage_change(read_json(body, max).await?),
            Route::ClearChanges => Ok(self.clear_changes()),
            Route::ApplyChanges => self.apply_changes(force).await,
            Route::ForgetNode => self.forget_node(read_json(body, max).await?),
            Route::Repair => self.repair(read_json(body, max).await?),
            Route::Metrics => Ok(self.metrics()),
            Route::BucketUsage { bucket } => self.bucket_usage(&bucket).await,
            Route::ListObjects { bucket } => self.list_objects(&bucket, parts.uri.query()).await,
            Route::GetObject { bucket, key } => self.get_object(&bucket, &key).await,
            Route::PutObject { bucket, key } => {
                self.put_object(&bucket, &key, &parts.headers, body).await
            }
            Route::ObjectLink { bucket, key } => self.object_link(&bucket, &key).await,
        }
    }

    /// `Authorization: Bearer <token>`, the scheme name case-insensitive (RFC 6750).
    fn authorized(&self, headers: &HeaderMap) -> bool {
        let Some(value) = headers.get(header::AUTHORIZATION) else { return false };
        let value = value.as_bytes();
        let scheme = b"bearer ";
        value.len() > scheme.len()
            && value[..scheme.len()].eq_ignore_ascii_case(scheme)
            && self.inner.token.matches(&value[scheme.len()..])
    }

    fn status(&self) -> api::Status {
        let options = &self.inner.options;
        api::Status {
            node_id: format!("{:016x}", options.node_id),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            s3_addr: options.s3_addr.to_string(),
        }
    }
}

/// `GET /console`: the web console, one static page (console.html) that calls this API.
fn console() -> Reply {
    let mut reply = Reply::whole(
        StatusCode::OK,
        "text/html; charset=utf-8",
        Bytes::from_static(include_str!("console.html").as_bytes()),
    );
    // Its own inline script and style only, nothing from elsewhere, never framed.
    reply.headers.insert(
        header::CONTENT_SECURITY_POLICY,
        http::HeaderValue::from_static(
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
        ),
    );
    reply.headers.insert(header::CACHE_CONTROL, http::HeaderValue::from_static("no-store"));
    reply
}

fn error_response(err: &ApiError) -> AdminResponse {
    let body = api::ErrorBody { code: err.code().to_owned(), message: err.to_string() };
    let body = serde_json::to_vec(&body).unwrap_or_default();
    let mut builder =
        Response::builder().status(err.status()).header(header::CONTENT_TYPE, "application/json");
    match err {
        ApiError::Unauthorized => {
            builder = builder.header(header::WWW_AUTHENTICATE, "Bearer realm=\"ringvault-admin\"");
        }
        ApiError::MethodNotAllowed { allow, .. } => builder = builder.header(header::ALLOW, *allow),
        _ => {}
    }
    builder.body(whole(Bytes::from(body))).unwrap_or_else(|_| Response::new(whole(Bytes::new())))
}

/// Reads a JSON body of at most `max` bytes; an empty body reads as `{}`.
async fn read_json<T, B>(mut body: B, max: usize) -> Result<T, ApiError>
where
    T: DeserializeOwned,
    B: http_body::Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame
            .map_err(|e| ApiError::InvalidJson { reason: format!("reading the body: {e}") })?;
        if let Ok(data) = frame.into_data() {
            if bytes.len() + data.len() > max {
                return Err(ApiError::BodyTooLarge { max_bytes: max });
            }
            bytes.extend_from_slice(&data);
        }
    }
    let text: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) { b"{}" } else { &bytes };
    serde_json::from_slice(text).map_err(|e| ApiError::InvalidJson { reason: e.to_string() })
}

/// Milliseconds since the epoch as RFC 3339 UTC, to the second.
fn rfc3339(ms: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}
