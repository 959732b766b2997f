//! The admin API client the CLI uses: hyper's legacy pooled client over plain HTTP/1.1, one
//! typed method per endpoint, and errors whose `Display` is one line an operator can act on.
//! Every call has a timeout, and answers are bounded in size.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::AdminToken;
use super::api::{
    ApplyResult, BucketDetail, BucketList, ClusterChange, ClusterStatus, CreateKeyRequest,
    ErrorBody, ExplainRequest, Explanation, ForgetNode, GrantRequest, Health, ImportKeyRequest,
    KeyDetail, KeyList, KeySummary, NewKey, RepairAccepted, RepairRequest, Status,
    UpdateKeyRequest,
};

/// Time one call may take, connection included.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest answer accepted (a list of many keys or buckets).
const ANSWER_BYTES_MAX: usize = 64 << 20;
/// Characters escaped in a path segment: everything but RFC 3986's unreserved ones.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("invalid admin address {addr:?}: {reason}")]
    BadAddress { addr: String, reason: String },
    #[error(
        "no admin token: pass --admin-token, set RINGVAULT_ADMIN_TOKEN, or point --data-dir at \
         the node's data directory ({path}: {reason})"
    )]
    NoToken { path: PathBuf, reason: String },
    #[error(
        "cannot reach the admin API at {addr}: {reason} (is the node running? see --admin-addr)"
    )]
    Unreachable { addr: String, reason: String },
    #[error("the admin API at {addr} did not answer within {} s", CALL_TIMEOUT.as_secs())]
    Timeout { addr: String },
    #[error(
        "the admin API at {addr} rejected the token (see --admin-token, RINGVAULT_ADMIN_TOKEN or \
         <data dir>/admin_token)"
    )]
    Unauthorized { addr: String },
    /// The API refused the request; `message` is its own one-line explanation.
    #[error("{message}")]
    Api { status: u16, code: String, message: String },
    #[error("unexpected answer from the admin API at {addr} (HTTP {status}): {reason}")]
    BadResponse { addr: String, status: u16, reason: String },
}

impl ClientError {
    /// The API's error code, when the API itself refused the request.
    pub fn api_code(&self) -> Option<&str> {
        match self {
            Self::Api { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// Reads a token stored by the node (`<data dir>/admin_token`).
pub fn token_from_file(path: &Path) -> Result<AdminToken, ClientError> {
    let no_token = |reason: String| ClientError::NoToken { path: path.to_owned(), reason };
    let text = std::fs::read_to_string(path).map_err(|e| no_token(e.to_string()))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(no_token("the file is empty".into()));
    }
    Ok(AdminToken::new(token.to_owned()))
}

/// A client of one node's admin API.
#[derive(Clone)]
pub struct AdminClient {
    /// `http://host:port`, without a trailing slash.
    base: String,
    token: AdminToken,
    http: Client<HttpConnector, Full<Bytes>>,
}

impl std::fmt::Debug for AdminClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminClient").field("base", &self.base).finish_non_exhaustive()
    }
}

impl AdminClient {
    /// `addr` is `host:port` or `http://host:port`.
    pub fn new(addr: &str, token: AdminToken) -> Result<Self, ClientError> {
        let bad =
            |reason: &str| ClientError::BadAddress { addr: addr.to_owned(), reason: reason.into() };
        let authority = match addr.split_once("://") {
            Some(("http", rest)) => rest.trim_end_matches('/'),
            Some(_) => return Err(bad("only http:// is supported")),
            None => addr,
        };
        let parsed: http::uri::Authority =
            authority.parse().map_err(|_| bad("expected host:port"))?;
        if parsed.port_u16().is_none() {
            return Err(bad("expected host:port"));
        }
        let http = Client::builder(TokioExecutor::new()).build_http();
        Ok(Self { base: format!("http://{parsed}"), token, http })
    }

    fn addr(&self) -> String {
        self.base.trim_start_matches("http://").to_owned()
    }

    pub async fn status(&self) -> Result<Status, ClientError> {
        self.json(Method::GET, "/v1/status", None::<&()>).await
    }

    /// `GET /v1/health`: the node's answer whether it can serve (200) or not (503).
    pub async fn health(&self) -> Result<Health, ClientError> {
        let (status, bytes) = self.send(Method::GET, "/v1/health", None).await?;
        if status != StatusCode::OK && status != StatusCode::SERVICE_UNAVAILABLE {
            return Err(self.refusal(status, &bytes));
        }
        self.decode(status, &bytes)
    }

    pub async fn cluster_status(&self) -> Result<ClusterStatus, ClientError> {
        self.json(Method::GET, "/v1/cluster", None::<&()>).await
    }

    /// `GET /metrics`: the node's metrics in the OpenMetrics text format.
    pub async fn metrics(&self) -> Result<String, ClientError> {
        let (_, bytes) = self.call(Method::GET, "/metrics", None).await?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    pub async fn stage_change(
        &self,
        change: &ClusterChange,
    ) -> Result<Vec<ClusterChange>, ClientError> {
        self.json(Method::POST, "/v1/cluster/changes", Some(change)).await
    }

    pub async fn apply_changes(&self) -> Result<ApplyResult, ClientError> {
        self.json(Method::POST, "/v1/cluster/apply", None::<&()>).await
    }

    /// `apply_changes` even while an earlier change is still being synced.
    pub async fn apply_changes_forced(&self) -> Result<ApplyResult, ClientError> {
        self.json(Method::POST, "/v1/cluster/apply?force=true", None::<&()>).await
    }

    /// `POST /v1/cluster/forget`: the cluster stops waiting for a node that left for good.
    pub async fn forget_node(&self, node_id: &str) -> Result<ForgetNode, ClientError> {
        let request = ForgetNode { node_id: node_id.to_owned() };
        self.json(Method::POST, "/v1/cluster/forget", Some(&request)).await
    }

    /// `POST /v1/repair`: starts an anti-entropy pass on the node.
    pub async fn repair(&self, request: &RepairRequest) -> Result<RepairAccepted, ClientError> {
        self.json(Method::POST, "/v1/repair", Some(request)).await
    }

    pub async fn list_keys(&self) -> Result<KeyList, ClientError> {
        self.json(Method::GET, "/v1/keys", None::<&()>).await
    }

    pub async fn create_key(&self, request: &CreateKeyRequest) -> Result<NewKey, ClientError> {
        self.json(Method::POST, "/v1/keys", Some(request)).await
    }

    pub async fn import_key(&self, request: &ImportKeyRequest) -> Result<KeySummary, ClientError> {
        self.json(Method::POST, "/v1/keys/import", Some(request)).await
    }

    pub async fn key(&self, id: &str) -> Result<KeyDetail, ClientError> {
        self.json(Method::GET, &format!("/v1/keys/{}", segment(id)), None::<&()>).await
    }

    pub async fn update_key(
        &self,
        id: &str,
        request: UpdateKeyRequest,
    ) -> Result<KeySummary, ClientError> {
        self.json(Method::PATCH, &format!("/v1/keys/{}", segment(id)), Some(&request)).await
    }

    pub async fn delete_key(&self, id: &str) -> Result<(), ClientError> {
        self.call(Method::DELETE, &format!("/v1/keys/{}", segment(id)), None).await.map(drop)
    }

    pub async fn list_buckets(&self) -> Result<BucketList, ClientError> {
        self.json(Method::GET, "/v1/buckets", None::<&()>).await
    }

    pub async fn bucket(&self, name: &str) -> Result<BucketDetail, ClientError> {
        self.json(Method::GET, &format!("/v1/buckets/{}", segment(name)), None::<&()>).await
    }

    /// How the node would decide a request on `bucket`.
    pub async fn explain(
        &self,
        bucket: &str,
        request: &ExplainRequest,
    ) -> Result<Explanation, ClientError> {
        let path = format!("/v1/buckets/{}/explain", segment(bucket));
        self.json(Method::POST, &path, Some(request)).await
    }

    /// Sets `id`'s rights on `bucket` to exactly `request` (both false removes the grant).
    pub async fn set_grant(
        &self,
        bucket: &str,
        id: &str,
        request: GrantRequest,
    ) -> Result<BucketDetail, ClientError> {
        let path = format!("/v1/buckets/{}/grants/{}", segment(bucket), segment(id));
        self.json(Method::PUT, &path, Some(&request)).await
    }

    async fn json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&impl Serialize>,
    ) -> Result<T, ClientError> {
        let body = body.map(|b| serde_json::to_vec(b).unwrap_or_default());
        let (status, bytes) = self.call(method, path, body).await?;
        self.decode(status, &bytes)
    }

    /// An answer's JSON body, or `BadResponse` saying why it does not read.
    fn decode<T: DeserializeOwned>(
        &self,
        status: StatusCode,
        bytes: &[u8],
    ) -> Result<T, ClientError> {
        serde_json::from_slice(bytes).map_err(|e| ClientError::BadResponse {
            addr: self.addr(),
            status: status.as_u16(),
            reason: e.to_string(),
        })
    }

    /// Sends one request; a success status gives its body, anything else a `ClientError`.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<(StatusCode, Bytes), ClientError> {
        let (status, bytes) = self.send(method, path, body).await?;
        if status.is_success() {
            return Ok((status, bytes));
        }
        Err(self.refusal(status, &bytes))
    }

    /// Sends one request and reads its answer, whatever its status.
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<(StatusCode, Bytes), ClientError> {
        let addr = self.addr();
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header(header::AUTHORIZATION, format!("Bearer {}", self.token.expose()));
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        let request = request
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| ClientError::BadAddress { addr: addr.clone(), reason: e.to_string() })?;
        let exchange = async {
            let response = self.http.request(request).await.map_err(|e| {
                ClientError::Unreachable { addr: addr.clone(), reason: root_cause(&e) }
            })?;
            let status = response.status();
            let bytes = Limited::new(response.into_body(), ANSWER_BYTES_MAX)
                .collect()
                .await
                .map_err(|e| ClientError::BadResponse {
                    addr: addr.clone(),
                    status: status.as_u16(),
                    reason: e.to_string(),
                })?
                .to_bytes();
            Ok((status, bytes))
        };
        tokio::time::timeout(CALL_TIMEOUT, exchange)
            .await
            .map_err(|_| ClientError::Timeout { addr: addr.clone() })?
    }

    /// The error an answer of `status` other than success stands for.
    fn refusal(&self, status: StatusCode, bytes: &[u8]) -> ClientError {
        let addr = self.addr();
        if status == StatusCode::UNAUTHORIZED {
            return ClientError::Unauthorized { addr };
        }
        match serde_json::from_slice::<ErrorBody>(bytes) {
            Ok(e) => ClientError::Api { status: status.as_u16(), code: e.code, message: e.message },
            Err(_) => ClientError::BadResponse {
                addr,
                status: status.as_u16(),
                reason: String::from_utf8_lossy(bytes).chars().take(200).collect(),
            },
        }
    }
}

fn segment(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

/// The innermost cause ("Connection refused (os error 111)"), which says more than the
/// wrappers around it.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}
