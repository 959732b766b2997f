//! The composition root: opens the store, builds the ring, coordinator, object service and S3
//! front end, bootstraps the root key, serves, and shuts everything down in order.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::clock::{SharedClock, SystemClock};
use crate::config::{Config, ROOT_SECRET_FILE};
use crate::coordinator::Coordinator;
use crate::objects::{BodyOptions, ObjectService};
use crate::ring::{DEFAULT_PARTITION_BITS, Layout, NodeId, Ring};
use crate::s3::{S3Options, S3Service, ServerLimits};
use crate::store::{Store, StoreOptions};

const DB_FILE: &str = "ringvault.redb";

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("store: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("root key: {0}")]
    RootKey(String),
    #[error("crash recovery: {0}")]
    Recovery(String),
    #[error("data directory {path}: {source}")]
    DataDir { path: PathBuf, source: std::io::Error },
}

/// How the root key came to be, for the start-up banner.
#[derive(Debug, Clone)]
pub struct RootKeyInfo {
    pub access_key_id: String,
    /// Where a generated secret was written; `None` when the key came from the configuration.
    pub secret_file: Option<PathBuf>,
}

/// A node that is serving.
#[derive(Debug)]
pub struct RunningNode {
    s3_addr: SocketAddr,
    node_id: NodeId,
    root_key: RootKeyInfo,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl RunningNode {
    pub fn s3_addr(&self) -> SocketAddr {
        self.s3_addr
    }

    pub fn node_id(&self) -> NodeId {
        self.node_id
    }

    pub fn root_key(&self) -> &RootKeyInfo {
        &self.root_key
    }

    /// Stops accepting, lets in-flight requests finish, and closes the store.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }

    /// Waits until the node stops by itself (it does not, unless shut down).
    pub async fn wait(mut self) {
        let _ = (&mut self.task).await;
    }
}

fn node_id(store: &Store, rng: &mut StdRng) -> Result<NodeId, NodeError> {
    if let Some(bytes) = store.get_meta("node_id")?
        && let Ok(b) = <[u8; 8]>::try_from(bytes.as_slice())
    {
        return Ok(u64::from_be_bytes(b));
    }
    let id = rng.next_u64();
    store.put_meta("node_id", &id.to_be_bytes())?;
    Ok(id)
}

/// Starts a node: binds its S3 endpoint and serves until `RunningNode::shutdown`.
pub async fn start(config: Config) -> Result<RunningNode, NodeError> {
    let clock: SharedClock = Arc::new(SystemClock);
    let mut rng = match config.seed {
        Some(seed) => StdRng::seed_from_u64(seed),
        None => StdRng::from_os_rng(),
    };
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|source| NodeError::DataDir { path: config.data_dir.clone(), source })?;
    let store_options = StoreOptions { cache_bytes: config.cache_bytes, ..StoreOptions::default() };
    let store = Store::open(&config.data_dir.join(DB_FILE), store_options)?;
    let node_id = node_id(&store, &mut rng)?;
    let ring = Ring::new(Layout::single(node_id, DEFAULT_PARTITION_BITS));
    let coordinator = Coordinator::single_node(node_id, ring, store.clone(), clock.clone());
    let body = BodyOptions {
        block_size: config.block_size_bytes,
        inline_max_bytes: config.inline_max_bytes,
        ..BodyOptions::default()
    };
    let objects = ObjectService::new(coordinator, clock.clone(), rng.next_u64(), body);
    let recovered =
        objects.recover_interrupted_puts().await.map_err(|e| NodeError::Recovery(e.to_string()))?;
    if recovered > 0 {
        tracing::info!(bodies = recovered, "deleted the blocks of PUTs interrupted by a crash");
    }
    let root_key = bootstrap_root_key(&config, &objects, &store).await?;
    let s3_options = S3Options {
        region: config.region.clone(),
        root_domain: config.root_domain.clone(),
        ..S3Options::default()
    };
    let prefix = u32::try_from(rng.next_u64() >> 32).unwrap_or_default();
    let service = S3Service::new(objects, clock, s3_options, prefix);
    let listener = TcpListener::bind(config.s3_addr)
        .await
        .map_err(|source| NodeError::Bind { addr: config.s3_addr, source })?;
    let s3_addr =
        listener.local_addr().map_err(|source| NodeError::Bind { addr: config.s3_addr, source })?;
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        crate::s3::serve(listener, service, ServerLimits::default(), async {
            let _ = rx.await;
        })
        .await;
        store.close().await;
    });
    tracing::info!(node_id = format_args!("{node_id:016x}"), %s3_addr, "node started");
    Ok(RunningNode { s3_addr, node_id, root_key, shutdown: Some(tx), task })
}

async fn bootstrap_root_key(
    config: &Config,
    objects: &ObjectService,
    store: &Store,
) -> Result<RootKeyInfo, NodeError> {
    let err = |e: crate::objects::Error| NodeError::RootKey(e.to_string());
    if let Some((id, secret)) = &config.root_key {
        let existing = objects.access_key(id).await.map_err(err)?;
        if existing.is_none_or(|k| k.secret_access_key != *secret) {
            objects.put_access_key(id, secret, "root", true).await.map_err(err)?;
        }
        return Ok(RootKeyInfo { access_key_id: id.clone(), secret_file: None });
    }
    let secret_file = config.data_dir.join(ROOT_SECRET_FILE);
    if let Some(id) = store.get_meta("root_access_key_id")? {
        let id = String::from_utf8_lossy(&id).into_owned();
        if objects.access_key(&id).await.map_err(err)?.is_some() {
            return Ok(RootKeyInfo { access_key_id: id, secret_file: Some(secret_file) });
        }
    }
    let key = objects.create_access_key("root", true).await.map_err(err)?;
    write_secret(&secret_file, &key.secret_access_key)
        .map_err(|source| NodeError::DataDir { path: secret_file.clone(), source })?;
    store.put_meta("root_access_key_id", key.access_key_id.as_bytes())?;
    Ok(RootKeyInfo { access_key_id: key.access_key_id, secret_file: Some(secret_file) })
}

/// Writes the secret readable by the owner only.
fn write_secret(path: &std::path::Path, secret: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(secret.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()
}
