//! The TCP transport: one multiplexed connection per peer, opened on first use and re-opened
//! after a failure, authenticated both ways by an HMAC challenge over the cluster secret.
//!
//! Handshake (after connect): the client sends `MAGIC`, its id and a nonce; the server answers
//! with its id, its nonce and `HMAC(secret, "server" | client nonce | server nonce | ids)`; the
//! client checks it and answers `HMAC(secret, "client" | ...)`, which the server checks. A peer
//! without the secret cannot complete either side and gets nothing. The handshake
//! authenticates peers; it does not encrypt the traffic that follows.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hmac::{Hmac, Mac};
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::frame::{Frame, Kind};
use super::{BoxFuture, PeerId, Router, RpcError, Transport};

const MAGIC: &[u8; 8] = b"RVRPC\x00\x00\x01";
const NONCE_BYTES: usize = 32;
const MAC_BYTES: usize = 32;

/// Settings of the TCP transport.
#[derive(Debug, Clone, Copy)]
pub struct TcpOptions {
    pub connect_timeout: Duration,
    /// Concurrent requests served per incoming connection.
    pub requests_per_connection_max: usize,
    /// Frames queued for sending per connection.
    pub send_queue_frames: usize,
}

impl Default for TcpOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(3),
            requests_per_connection_max: 256,
            send_queue_frames: 1024,
        }
    }
}

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Result<Vec<u8>, RpcError>>>>>;

/// One open connection to a peer.
/// A peer's connection, behind the lock that serialises connecting to it.
type Slot = Arc<tokio::sync::Mutex<Option<Arc<Connection>>>>;

/// Connections opened by this process, to number them.
static CONNECTIONS_OPENED: AtomicU64 = AtomicU64::new(0);

#[derive(Debug)]
struct Connection {
    sender: mpsc::Sender<Vec<u8>>,
    pending: Pending,
    next_call: AtomicU64,
    /// Frames received so far: a call that timed out while this did not move saw a silent
    /// connection, not a slow answer.
    frames_received: Arc<AtomicU64>,
    /// Tells this connection from a later one to the same peer.
    generation: u64,
    /// The reading task, stopped when the connection is dropped (a silent peer would keep it
    /// blocked in a read forever).
    reader: tokio::task::AbortHandle,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

struct Inner {
    me: PeerId,
    secret: Vec<u8>,
    options: TcpOptions,
    addresses: Mutex<HashMap<PeerId, SocketAddr>>,
    /// One slot per peer: connecting to a silent peer holds up calls to that peer only.
    connections: Mutex<HashMap<PeerId, Slot>>,
    rng: Mutex<StdRng>,
}

/// The TCP transport; cheap to clone.
#[derive(Clone)]
pub struct TcpTransport {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for TcpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpTransport").field("me", &self.inner.me).finish_non_exhaustive()
    }
}

fn mac(secret: &[u8], role: &[u8], first: &[u8], second: &[u8], ids: (PeerId, PeerId)) -> Vec<u8> {
    let mut m =
        <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes keys of any length");
    m.update(role);
    m.update(first);
    m.update(second);
    m.update(&ids.0.to_be_bytes());
    m.update(&ids.1.to_be_bytes());
    m.finalize().into_bytes().to_vec()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn io_err(peer: PeerId, e: &std::io::Error) -> RpcError {
    RpcError::Unreachable { peer, reason: e.to_string() }
}

impl TcpTransport {
    pub fn new(me: PeerId, secret: &[u8], seed: u64, options: TcpOptions) -> Self {
        Self {
            inner: Arc::new(Inner {
                me,
                secret: secret.to_vec(),
                options,
                addresses: Mutex::new(HashMap::new()),
                connections: Mutex::new(HashMap::new()),
                rng: Mutex::new(StdRng::seed_from_u64(seed)),
            }),
        }
    }

    /// Where `peer` listens; learnt from configuration and gossip.
    pub fn set_address(&self, peer: PeerId, addr: SocketAddr) {
        let mut addresses =
            self.inner.addresses.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        addresses.insert(peer, addr);
    }

    pub fn address(&self, peer: PeerId) -> Option<SocketAddr> {
        self.inner
            .addresses
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&peer)
            .copied()
    }

    fn nonce(&self) -> [u8; NONCE_BYTES] {
        let mut nonce = [0u8; NONCE_BYTES];
        self.inner
            .rng
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .fill_bytes(&mut nonce);
        nonce
    }

    /// Serves incoming connections on `listener` with `router` until `shutdown` resolves.
    pub async fn serve(
        &self,
        listener: TcpListener,
        router: Router,
        shutdown: impl Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        let router = Arc::new(router);
        // Connections are served by tasks of this set, so that shutdown can end them: they
        // hold the handlers, and the handlers hold the store.
        let mut connections = tokio::task::JoinSet::new();
        loop {
            while connections.try_join_next().is_some() {}
            let (stream, peer_addr) = tokio::select! {
                () = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "rpc accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let _ = stream.set_nodelay(true);
            let this = self.clone();
            let router = router.clone();
            connections.spawn(async move {
                if let Err(e) = this.serve_connection(stream, router).await {
                    tracing::debug!(%peer_addr, error = %e, "rpc connection ended");
                }
            });
        }
        connections.shutdown().await;
    }

    async fn serve_connection(
        &self,
        mut stream: TcpStream,
        router: Arc<Router>,
    ) -> Result<(), RpcError> {
        let handshake = async {
            let mut hello = [0u8; 8 + 8 + NONCE_BYTES];
            stream.read_exact(&mut hello).await.map_err(|e| io_err(0, &e))?;
            if &hello[..8] != MAGIC {
                return Err(RpcError::Handshake { reason: "not a RingVault peer".into() });
            }
            let client = PeerId::from_be_bytes(hello[8..16].try_into().unwrap_or_default());
            let client_nonce = &hello[16..];
            let server_nonce = self.nonce();
            let ids = (client, self.inner.me);
            let proof = mac(&self.inner.secret, b"server", client_nonce, &server_nonce, ids);
            let mut reply = Vec::with_capacity(8 + NONCE_BYTES + MAC_BYTES);
            reply.extend_from_slice(&self.inner.me.to_be_bytes());
            reply.extend_from_slice(&server_nonce);
            reply.extend_from_slice(&proof);
            stream.write_all(&reply).await.map_err(|e| io_err(client, &e))?;
            let mut answer = [0u8; MAC_BYTES];
            stream.read_exact(&mut answer).await.map_err(|e| io_err(client, &e))?;
            let expected = mac(&self.inner.secret, b"client", &server_nonce, client_nonce, ids);
            if !constant_time_eq(&answer, &expected) {
                return Err(RpcError::Handshake {
                    reason: "peer does not hold the cluster secret".into(),
                });
            }
            Ok(client)
        };
        let client = tokio::time::timeout(self.inner.options.connect_timeout, handshake)
            .await
            .map_err(|_| RpcError::Handshake { reason: "handshake timed out".into() })??;
        let (mut reader, mut writer) = stream.into_split();
        let (tx, mut rx) = mpsc::channel::<Vec<u8>>(self.inner.options.send_queue_frames);
        let write_task = tokio::spawn(async move {
            while let Some(bytes) = rx.recv().await {
                if writer.write_all(&bytes).await.is_err() {
                    break;
                }
            }
        });
        let permits = Arc::new(Semaphore::new(self.inner.options.requests_per_connection_max));
        loop {
            let frame = match read_frame(&mut reader, client).await {
                Ok(f) => f,
                Err(_) => break,
            };
            if frame.kind != Kind::Request {
                continue;
            }
            let Ok(permit) = permits.clone().acquire_owned().await else { break };
            let (router, tx) = (router.clone(), tx.clone());
            tokio::spawn(async move {
                let reply = match router.dispatch(client, frame.tag, frame.payload).await {
                    Ok(payload) => {
                        Frame { call_id: frame.call_id, kind: Kind::Response, tag: 0, payload }
                    }
                    Err(e) => Frame {
                        call_id: frame.call_id,
                        kind: Kind::Error,
                        tag: 0,
                        payload: super::encode(&e).unwrap_or_default(),
                    },
                };
                let _ = tx.send(reply.encode()).await;
                drop(permit);
            });
        }
        drop(tx);
        let _ = write_task.await;
        Ok(())
    }

    /// Connects to `addr` and runs the client side of the handshake; `expected` is the node id
    /// the address should belong to (`None` for a seed whose id is not known yet).
    async fn open(
        &self,
        addr: SocketAddr,
        expected: Option<PeerId>,
    ) -> Result<(TcpStream, PeerId), RpcError> {
        let peer = expected.unwrap_or(0);
        let timeout = self.inner.options.connect_timeout;
        let connect = async {
            let mut stream = TcpStream::connect(addr).await.map_err(|e| io_err(peer, &e))?;
            let _ = stream.set_nodelay(true);
            let client_nonce = self.nonce();
            let mut hello = Vec::with_capacity(8 + 8 + NONCE_BYTES);
            hello.extend_from_slice(MAGIC);
            hello.extend_from_slice(&self.inner.me.to_be_bytes());
            hello.extend_from_slice(&client_nonce);
            stream.write_all(&hello).await.map_err(|e| io_err(peer, &e))?;
            let mut reply = [0u8; 8 + NONCE_BYTES + MAC_BYTES];
            stream.read_exact(&mut reply).await.map_err(|e| io_err(peer, &e))?;
            let server = PeerId::from_be_bytes(reply[..8].try_into().unwrap_or_default());
            let server_nonce = &reply[8..8 + NONCE_BYTES];
            let proof = &reply[8 + NONCE_BYTES..];
            let ids = (self.inner.me, server);
            let expected_proof =
                mac(&self.inner.secret, b"server", &client_nonce, server_nonce, ids);
            if !constant_time_eq(proof, &expected_proof) {
                return Err(RpcError::Handshake {
                    reason: "peer does not hold the cluster secret".into(),
                });
            }
            if expected.is_some_and(|e| e != server) {
                return Err(RpcError::Handshake {
                    reason: format!("expected node {peer:x}, reached {server:x}"),
                });
            }
            let answer = mac(&self.inner.secret, b"client", server_nonce, &client_nonce, ids);
            stream.write_all(&answer).await.map_err(|e| io_err(peer, &e))?;
            Ok::<_, RpcError>((stream, server))
        };
        tokio::time::timeout(timeout, connect)
            .await
            .map_err(|_| RpcError::Unreachable { peer, reason: "connect timed out".into() })?
    }

    /// One call to whatever node listens at `addr` (a seed), on a connection of its own.
    /// Returns the node's id with the answer, so the caller learns who the seed is.
    pub async fn call_address(
        &self,
        addr: SocketAddr,
        tag: u16,
        payload: Vec<u8>,
        timeout: Duration,
    ) -> Result<(PeerId, Vec<u8>), RpcError> {
        let exchange = async {
            let (stream, server) = self.open(addr, None).await?;
            let (mut reader, mut writer) = stream.into_split();
            let frame = Frame { call_id: 1, kind: Kind::Request, tag, payload }.encode();
            writer.write_all(&frame).await.map_err(|e| io_err(server, &e))?;
            let reply = read_frame(&mut reader, server).await?;
            match reply.kind {
                Kind::Response => Ok((server, reply.payload)),
                _ => Err(super::decode::<RpcError>(&reply.payload).unwrap_or_else(|e| e)),
            }
        };
        tokio::time::timeout(timeout, exchange).await.map_err(|_| RpcError::Timeout { timeout })?
    }

    async fn connect(&self, peer: PeerId) -> Result<Arc<Connection>, RpcError> {
        let addr = self.address(peer).ok_or(RpcError::UnknownPeer { peer })?;
        let (stream, _) = self.open(addr, Some(peer)).await?;
        let (mut reader, mut writer) = stream.into_split();
        let (sender, mut rx) = mpsc::channel::<Vec<u8>>(self.inner.options.send_queue_frames);
        let pending: Pending = Arc::new(Mutex::new(HashMap::new()));
        tokio::spawn(async move {
            while let Some(bytes) = rx.recv().await {
                if writer.write_all(&bytes).await.is_err() {
                    break;
                }
            }
        });
        let reader_pending = pending.clone();
        let this = self.clone();
        let frames_received = Arc::new(AtomicU64::new(0));
        let received = frames_received.clone();
        let generation = CONNECTIONS_OPENED.fetch_add(1, Ordering::Relaxed);
        let reader = tokio::spawn(async move {
            while let Ok(frame) = read_frame(&mut reader, peer).await {
                received.fetch_add(1, Ordering::Relaxed);
                let waiter = reader_pending
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .remove(&frame.call_id);
                if let Some(waiter) = waiter {
                    let result = match frame.kind {
                        Kind::Response => Ok(frame.payload),
                        Kind::Error => {
                            Err(super::decode::<RpcError>(&frame.payload).unwrap_or_else(|e| e))
                        }
                        Kind::Request => continue,
                    };
                    let _ = waiter.send(result);
                }
            }
            // The connection is gone: fail every call still waiting and forget it.
            let waiters: Vec<_> = reader_pending
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .drain()
                .map(|(_, w)| w)
                .collect();
            for w in waiters {
                let _ =
                    w.send(Err(RpcError::Unreachable { peer, reason: "connection closed".into() }));
            }
            // Forget it, unless a newer connection to the peer took its place.
            this.forget(peer, generation).await;
        });
        Ok(Arc::new(Connection {
            sender,
            pending,
            next_call: AtomicU64::new(1),
            frames_received,
            generation,
            reader: reader.abort_handle(),
        }))
    }

    fn slot(&self, peer: PeerId) -> Slot {
        self.inner
            .connections
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(peer)
            .or_default()
            .clone()
    }

    async fn connection(&self, peer: PeerId) -> Result<Arc<Connection>, RpcError> {
        let slot = self.slot(peer);
        let mut current = slot.lock().await;
        if let Some(c) = current.as_ref()
            && !c.sender.is_closed()
        {
            return Ok(c.clone());
        }
        let c = self.connect(peer).await?;
        *current = Some(c.clone());
        Ok(c)
    }

    /// Drops the peer's connection if it is still connection `generation`.
    async fn forget(&self, peer: PeerId, generation: u64) {
        let slot = self.slot(peer);
        let mut current = slot.lock().await;
        if current.as_ref().is_some_and(|c| c.generation == generation) {
            *current = None;
        }
    }

    async fn call(
        &self,
        to: PeerId,
        tag: u16,
        payload: Vec<u8>,
        timeout: Duration,
    ) -> Result<Vec<u8>, RpcError> {
        let conn = tokio::time::timeout(timeout, self.connection(to))
            .await
            .map_err(|_| RpcError::Timeout { timeout })??;
        let call_id = conn.next_call.fetch_add(1, Ordering::Relaxed);
        let heard_before = conn.frames_received.load(Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        conn.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(call_id, tx);
        let frame = Frame { call_id, kind: Kind::Request, tag, payload }.encode();
        let outcome = tokio::time::timeout(timeout, async {
            conn.sender.send(frame).await.map_err(|_| RpcError::Unreachable {
                peer: to,
                reason: "connection closed".into(),
            })?;
            rx.await.map_err(|_| RpcError::Unreachable {
                peer: to,
                reason: "connection closed".into(),
            })?
        })
        .await;
        match outcome {
            Ok(result) => result,
            Err(_) => {
                conn.pending
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .remove(&call_id);
                // Nothing at all came back on this connection for a whole timeout: after a
                // partition its TCP retransmissions may be seconds apart, long after the path
                // healed. Forget it; the next call opens a fresh one.
                if conn.frames_received.load(Ordering::Relaxed) == heard_before {
                    // Without waiting: a call connecting anew holds the slot, and replaces it.
                    if let Ok(mut current) = self.slot(to).try_lock()
                        && current.as_ref().is_some_and(|c| Arc::ptr_eq(c, &conn))
                    {
                        *current = None;
                        tracing::debug!(
                            peer = format_args!("{to:x}"),
                            "dropped a silent connection"
                        );
                    }
                }
                Err(RpcError::Timeout { timeout })
            }
        }
    }
}

async fn read_frame(
    reader: &mut tokio::net::tcp::OwnedReadHalf,
    peer: PeerId,
) -> Result<Frame, RpcError> {
    let mut prefix = [0u8; 4];
    reader.read_exact(&mut prefix).await.map_err(|e| io_err(peer, &e))?;
    let len = Frame::body_len(prefix).map_err(|e| RpcError::Codec { reason: e.to_string() })?;
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body).await.map_err(|e| io_err(peer, &e))?;
    Frame::decode(body).map_err(|e| RpcError::Codec { reason: e.to_string() })
}

impl Transport for TcpTransport {
    fn call_raw(
        &self,
        to: PeerId,
        tag: u16,
        payload: Vec<u8>,
        timeout: Duration,
    ) -> BoxFuture<Result<Vec<u8>, RpcError>> {
        let this = self.clone();
        Box::pin(async move { this.call(to, tag, payload, timeout).await })
    }
}
