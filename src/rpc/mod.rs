//! Internode RPC: typed request/response pairs over a pluggable transport.
//!
//! Each message type implements [`RpcRequest`] with a unique `TAG` and its `Response` type, so
//! a caller can never mistake one answer for another. Handlers are registered on a [`Router`]
//! by the composition root (`node`), so this module carries no domain logic. Two transports
//! implement [`Transport`]: `tcp` (real sockets, cluster-secret handshake, one multiplexed
//! connection per peer) and `memory` (in-process, with injectable faults, for tests and the
//! deterministic simulation; compiled only for tests and with the `testing` feature, which the
//! crate's own dev-dependency on itself turns on). Every call has a timeout.

mod frame;
#[cfg(any(test, feature = "testing"))]
mod memory;
mod tcp;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

#[cfg(any(test, feature = "testing"))]
pub use memory::{FaultPlan, MemoryNetwork};
pub use tcp::{TcpOptions, TcpTransport};

/// A node's identity on the wire.
pub type PeerId = u64;

/// A boxed future, as handlers and transports return them.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// A request type and the response it gets.
pub trait RpcRequest: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// Unique per request type; used to route on the wire.
    const TAG: u16;
    type Response: Serialize + DeserializeOwned + Send + 'static;
}

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum RpcError {
    #[error("no answer within {timeout:?}")]
    Timeout { timeout: Duration },
    #[error("peer {peer:x} unreachable: {reason}")]
    Unreachable { peer: PeerId, reason: String },
    #[error("peer {peer:x} has no known address")]
    UnknownPeer { peer: PeerId },
    #[error("handshake refused: {reason}")]
    Handshake { reason: String },
    #[error("remote handler failed: {message}")]
    Remote { message: String },
    #[error("message encoding: {reason}")]
    Codec { reason: String },
    #[error("no handler for message tag {tag}")]
    NoHandler { tag: u16 },
}

/// Moves raw request payloads to peers and back.
pub trait Transport: Send + Sync + std::fmt::Debug {
    fn call_raw(
        &self,
        to: PeerId,
        tag: u16,
        payload: Vec<u8>,
        timeout: Duration,
    ) -> BoxFuture<Result<Vec<u8>, RpcError>>;
}

type RawHandler =
    Arc<dyn Fn(PeerId, Vec<u8>) -> BoxFuture<Result<Vec<u8>, RpcError>> + Send + Sync>;

/// Request handlers by tag.
#[derive(Clone, Default)]
pub struct Router {
    handlers: HashMap<u16, RawHandler>,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router").field("tags", &self.handlers.keys().collect::<Vec<_>>()).finish()
    }
}

impl Router {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers the handler of `R`. The handler gets the caller's id and the request.
    ///
    /// # Panics
    /// If a handler for `R::TAG` is already registered: two message types share a tag.
    pub fn register<R, F, Fut>(&mut self, handler: F)
    where
        R: RpcRequest,
        F: Fn(PeerId, R) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R::Response, String>> + Send + 'static,
    {
        let handler = Arc::new(handler);
        let raw: RawHandler = Arc::new(move |from, payload| {
            let handler = handler.clone();
            Box::pin(async move {
                let request: R = decode(&payload)?;
                let response =
                    handler(from, request).await.map_err(|message| RpcError::Remote { message })?;
                encode(&response)
            })
        });
        assert!(
            self.handlers.insert(R::TAG, raw).is_none(),
            "two request types use tag {}",
            R::TAG
        );
    }

    /// Runs the handler for `tag`.
    pub fn dispatch(
        &self,
        from: PeerId,
        tag: u16,
        payload: Vec<u8>,
    ) -> BoxFuture<Result<Vec<u8>, RpcError>> {
        match self.handlers.get(&tag) {
            Some(handler) => handler(from, payload),
            None => Box::pin(async move { Err(RpcError::NoHandler { tag }) }),
        }
    }
}

pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, RpcError> {
    postcard::to_allocvec(value).map_err(|e| RpcError::Codec { reason: e.to_string() })
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, RpcError> {
    postcard::from_bytes(bytes).map_err(|e| RpcError::Codec { reason: e.to_string() })
}

/// Typed calls over a transport.
#[derive(Debug, Clone)]
pub struct RpcClient {
    transport: Arc<dyn Transport>,
    timeout: Duration,
}

impl RpcClient {
    pub fn new(transport: Arc<dyn Transport>, timeout: Duration) -> Self {
        Self { transport, timeout }
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Sends `request` to `to` and waits for its response, at most the client's timeout.
    pub async fn call<R: RpcRequest>(
        &self,
        to: PeerId,
        request: &R,
    ) -> Result<R::Response, RpcError> {
        self.call_with_timeout(to, request, self.timeout).await
    }

    pub async fn call_with_timeout<R: RpcRequest>(
        &self,
        to: PeerId,
        request: &R,
        timeout: Duration,
    ) -> Result<R::Response, RpcError> {
        let payload = encode(request)?;
        let bytes = self.transport.call_raw(to, R::TAG, payload, timeout).await?;
        decode(&bytes)
    }
}

#[cfg(test)]
mod tests;
