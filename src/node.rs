//! The composition root: opens the store, builds the ring, coordinator, object service, S3 front
//! end and admin API, bootstraps the root key and the admin token, serves, and shuts everything
//! down in order.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::admin::{AdminOptions, AdminServerLimits, AdminService, AdminToken, ClusterHandle};
use crate::clock::{SharedClock, SystemClock};
use crate::config::{ADMIN_TOKEN_FILE, Config, MASTER_KEY_FILE, ROOT_SECRET_FILE};
use crate::coordinator::Coordinator;
use crate::metrics::Metrics;
use crate::objects::crypto::{Keyring, SecretKey};
use crate::objects::{BodyOptions, InterruptedPuts, ObjectService};
use crate::ring::{NodeId, Ring};
use crate::s3::{S3Options, S3Service, ServerLimits};
use crate::store::{Store, StoreOptions};
use crate::tasks::TaskSet;

/// The database file in a node's data directory.
pub const DB_FILE: &str = "ringvault.redb";
/// How long shutdown waits for detached requests to finish.
const REQUESTS_SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(30);
/// How long shutdown waits for background copies to leave their hints.
const COPIES_SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);
/// Bounds of the reclaim pass interval (a quarter of the grace period in between).
const RECLAIM_INTERVAL_MIN: std::time::Duration = std::time::Duration::from_millis(100);
const RECLAIM_INTERVAL_MAX: std::time::Duration = std::time::Duration::from_secs(60);

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
    #[error("cluster: {0}")]
    Cluster(#[from] crate::cluster::ClusterError),
    #[error("encryption keys: {0}")]
    Keys(String),
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
    rpc_addr: Option<SocketAddr>,
    ring: Ring,
    coordinator: Coordinator,
    objects: ObjectService,
    s3_addr: SocketAddr,
    admin_addr: SocketAddr,
    node_id: NodeId,
    root_key: RootKeyInfo,
    admin_token: AdminToken,
    admin_token_file: Option<PathBuf>,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl RunningNode {
    pub fn s3_addr(&self) -> SocketAddr {
        self.s3_addr
    }

    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_addr
    }

    /// The admin API's token (its `Debug` withholds it; `expose` reads it).
    pub fn admin_token(&self) -> &AdminToken {
        &self.admin_token
    }

    /// Where the admin token is stored; `None` when it came from the configuration.
    pub fn admin_token_file(&self) -> Option<&Path> {
        self.admin_token_file.as_deref()
    }

    pub fn node_id(&self) -> NodeId {
        self.node_id
    }

    /// The internode RPC address, for a cluster node.
    pub fn rpc_addr(&self) -> Option<SocketAddr> {
        self.rpc_addr
    }

    /// This node's view of the cluster.
    pub fn ring(&self) -> &Ring {
        &self.ring
    }

    /// This node's coordinator (and through it its store), for tests and tools.
    pub fn coordinator(&self) -> &Coordinator {
        &self.coordinator
    }

    /// This node's object service (its reclaim queue, for tests and tools).
    pub fn objects(&self) -> &ObjectService {
        &self.objects
    }

    pub fn root_key(&self) -> &RootKeyInfo {
        &self.root_key
    }

    /// Stops accepting, lets in-flight requests finish, and closes the store.
    pub async fn shutdown(self) {
        // Drop this handle's share of the node (ring, coordinator, store) before waiting, so
        // that the store can close.
        // Fields left out of a destructuring pattern would only drop at the end of this
        // function, after the wait: name them and drop them now.
        let RunningNode { shutdown, task, coordinator, ring, objects, .. } = self;
        drop(objects);
        drop(coordinator);
        drop(ring);
        let _ = shutdown.send(true);
        let _ = task.await;
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
    let id = loop {
        let id = rng.next_u64();
        if id != crate::causality::CONSENSUS_ACTOR {
            break id;
        }
    };
    store.put_meta("node_id", &id.to_be_bytes())?;
    Ok(id)
}

/// Resolves once `shutdown` says stop, or its sender is gone (the `RunningNode` was dropped).
async fn stopped(mut shutdown: watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// Starts a node: binds its S3 and admin endpoints and serves until `RunningNode::shutdown`.
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
    let (tx, rx) = watch::channel(false);
    let cluster = match &config.cluster {
        Some(c) => Some(
            crate::cluster::Cluster::prepare(node_id, c, &store, clock.clone(), rng.next_u64())
                .await?,
        ),
        None => None,
    };
    let (coordinator, ring) = match &cluster {
        Some(c) => (c.coordinator.clone(), c.ring.clone()),
        None => {
            let coordinator = Coordinator::standalone(node_id, store.clone(), clock.clone());
            let ring = coordinator.ring().clone();
            (coordinator, ring)
        }
    };
    // A ring of one can read and write its own store right away; a member of a larger ring
    // needs its peers first, so start-up work that writes through the ring runs in the
    // background once they answer.
    let alone = ring.layout().members.len() <= 1 && ring.layout().is_member(node_id);
    let body = BodyOptions {
        block_size: config.block_size_bytes,
        inline_max_bytes: config.inline_max_bytes,
        reclaim_grace: config.reclaim_grace,
        ..BodyOptions::default()
    };
    let keys = keyring(&config, &mut rng)?;
    let objects =
        ObjectService::new(coordinator.clone(), clock.clone(), rng.next_u64(), body, keys);
    let mut start_up = None;
    // Taken before serving: a journal entry written after this point is a PUT of this run.
    let mut interrupted =
        objects.interrupted_puts().await.map_err(|e| NodeError::Recovery(e.to_string()))?;
    let root_key = if alone {
        let recovered = objects
            .recover_interrupted_puts(&mut interrupted)
            .await
            .map_err(|e| NodeError::Recovery(e.to_string()))?;
        if recovered > 0 {
            tracing::info!(
                bodies = recovered,
                "queued the bodies of PUTs interrupted by a crash for reclamation"
            );
        }
        bootstrap_root_key(&config, &objects, &store).await?
    } else {
        let stored_id = store
            .get_meta("root_access_key_id")?
            .map(|id| String::from_utf8_lossy(&id).into_owned());
        let info = RootKeyInfo {
            access_key_id: config
                .root_key
                .as_ref()
                .map(|(id, _)| id.clone())
                .or(stored_id)
                .unwrap_or_default(),
            secret_file: None,
        };
        start_up = Some(tokio::spawn(start_up_in_cluster(
            config.clone(),
            objects.clone(),
            interrupted,
            store.clone(),
            rx.clone(),
        )));
        info
    };
    let (admin_token, admin_token_file) = admin_token(&config, &mut rng)?;
    let s3_options = S3Options {
        region: config.region.clone(),
        root_domain: config.root_domain.clone(),
        lifecycle_day_ms: config.lifecycle_day_ms,
        website_domain: config.website_domain.clone(),
        ..S3Options::default()
    };
    let prefix = u32::try_from(rng.next_u64() >> 32).unwrap_or_default();
    let metrics = Metrics::new();
    // Mutating requests of both front ends run here, detached from their connections.
    let requests = TaskSet::new("requests", config.requests_max);
    let service = S3Service::new(
        objects.clone(),
        clock,
        s3_options,
        prefix,
        metrics.clone(),
        requests.clone(),
    );
    let (listener, s3_addr) = bind(config.s3_addr).await?;
    let (admin_listener, admin_addr) = bind(config.admin_addr).await?;
    let replication_factor = config.cluster.as_ref().map_or(1, |c| c.replication_factor);
    let cluster_handle = ClusterHandle::new(ring.clone(), coordinator.clone(), replication_factor);
    let reclaimer = {
        let (objects, stop) = (objects.clone(), rx.clone());
        let interval = (config.reclaim_grace / 4).clamp(RECLAIM_INTERVAL_MIN, RECLAIM_INTERVAL_MAX);
        tokio::spawn(async move { objects.run_reclaimer(interval, stop).await })
    };
    let purger = {
        let worker = crate::coordinator::PurgeWorker {
            coordinator: coordinator.clone(),
            interval: (config.tombstone_grace / 4)
                .clamp(RECLAIM_INTERVAL_MIN, RECLAIM_INTERVAL_MAX),
            grace: config.tombstone_grace,
        };
        tokio::spawn(worker.run(rx.clone()))
    };
    let lifecycle = {
        let (objects, stop) = (objects.clone(), rx.clone());
        let (interval, day_ms) = (config.lifecycle_interval, config.lifecycle_day_ms);
        tokio::spawn(async move { objects.run_lifecycle(interval, day_ms, stop).await })
    };
    let scrubber = {
        let worker = crate::coordinator::ScrubWorker {
            coordinator: coordinator.clone(),
            interval: config.scrub_interval,
            bytes_per_sec: config.scrub_bytes_per_sec,
        };
        tokio::spawn(worker.run(rx.clone()))
    };
    let admin = AdminService::new(
        objects.clone(),
        admin_token.clone(),
        AdminOptions::new(node_id, s3_addr),
        cluster_handle,
        metrics,
        requests.clone(),
    );
    let cluster_task = match cluster {
        Some(c) => Some(c.start(s3_addr, rx.clone()).await?),
        None => None,
    };
    let rpc_addr = cluster_task.as_ref().map(|(addr, _)| *addr);
    if cluster_task.is_some() {
        settle_liveness(&ring).await;
    }
    let coordinator_for_task = coordinator.clone();
    let task = tokio::spawn(async move {
        tokio::join!(
            crate::s3::serve(listener, service, ServerLimits::default(), stopped(rx.clone())),
            crate::admin::serve(admin_listener, admin, AdminServerLimits::default(), stopped(rx)),
        );
        // Requests whose clients gave up may still be running: they finish before the store
        // closes (bounded; what is cut short here is a crash, which recovery handles).
        requests.close(REQUESTS_SHUTDOWN_GRACE).await;
        let _ = reclaimer.await;
        let _ = scrubber.await;
        let _ = lifecycle.await;
        let _ = purger.await;
        if let Some((_, task)) = cluster_task {
            let _ = task.await;
        }
        if let Some(task) = start_up {
            let _ = task.await;
        }
        // Copies still running past their write quorum leave hints for the owners they had
        // not reached, then stop: nothing waits on a silent peer, nothing is lost.
        coordinator_for_task.shutdown(COPIES_SHUTDOWN_GRACE).await;
        drop(coordinator_for_task);
        store.close().await;
    });
    tracing::info!(node_id = format_args!("{node_id:016x}"), %s3_addr, %admin_addr, rpc_addr = ?rpc_addr, "node started");
    Ok(RunningNode {
        rpc_addr,
        ring,
        coordinator,
        objects,
        s3_addr,
        admin_addr,
        node_id,
        root_key,
        admin_token,
        admin_token_file,
        shutdown: tx,
        task,
    })
}

/// Before a cluster node serves S3, it waits (a few seconds at most) until it has heard from
/// every other member of its layout: a node that has just started knows no peer alive yet, and
/// without this wait its first requests fail with quorum errors for a probe interval or two
/// (seen in the chaos suite after kill -9 of every node). Members that stay silent are simply
/// routed around once the wait ends, as always.
async fn settle_liveness(ring: &Ring) {
    const STEP: std::time::Duration = std::time::Duration::from_millis(50);
    const STEPS_MAX: u32 = 60;
    for _ in 0..STEPS_MAX {
        let layout = ring.layout();
        if layout.members.iter().all(|m| m.id == ring.me() || ring.is_alive(m.id)) {
            return;
        }
        tokio::time::sleep(STEP).await;
    }
    tracing::info!("serving before every member answered; the silent ones are routed around");
}

/// Crash recovery and the configured root key, for a member of a multi-node ring: retried
/// until enough peers answer (or the node stops).
async fn start_up_in_cluster(
    config: Config,
    objects: ObjectService,
    mut interrupted: InterruptedPuts,
    store: Store,
    shutdown: watch::Receiver<bool>,
) {
    loop {
        if *shutdown.borrow() {
            return;
        }
        let recovered = objects.recover_interrupted_puts(&mut interrupted).await;
        let key = match (&recovered, &config.root_key) {
            (Ok(_), Some(_)) => bootstrap_root_key(&config, &objects, &store).await.map(drop),
            (Ok(_), None) => Ok(()),
            (Err(_), _) => Ok(()),
        };
        match (recovered, key) {
            (Ok(n), Ok(())) => {
                if n > 0 {
                    tracing::info!(
                        bodies = n,
                        "queued the bodies of PUTs interrupted by a crash for reclamation"
                    );
                }
                return;
            }
            (Err(e), _) => tracing::debug!(error = %e, "start-up recovery waits for peers"),
            (_, Err(e)) => tracing::debug!(error = %e, "root key waits for peers"),
        }
        let mut stop = shutdown.clone();
        tokio::select! {
            () = tokio::time::sleep(std::time::Duration::from_millis(500)) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

async fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), NodeError> {
    let listener =
        TcpListener::bind(addr).await.map_err(|source| NodeError::Bind { addr, source })?;
    let bound = listener.local_addr().map_err(|source| NodeError::Bind { addr, source })?;
    Ok((listener, bound))
}

/// The configured admin token, or the one stored in the data directory, or a new one written
/// there (mode 0600) for the CLI on this host to find. Returns the file it lives in, if any.
fn admin_token(
    config: &Config,
    rng: &mut StdRng,
) -> Result<(AdminToken, Option<PathBuf>), NodeError> {
    if let Some(token) = &config.admin_token {
        return Ok((AdminToken::new(token.clone()), None));
    }
    let path = config.data_dir.join(ADMIN_TOKEN_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => {
            warn_if_readable_by_others(&path);
            return Ok((AdminToken::new(text.trim().to_owned()), Some(path)));
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => return Err(NodeError::DataDir { path, source }),
    }
    let token = AdminToken::generate(rng);
    write_secret(&path, token.expose())
        .map_err(|source| NodeError::DataDir { path: path.clone(), source })?;
    Ok((token, Some(path)))
}

fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(file = %path.display(), "the admin token file is readable by others");
        }
    }
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

/// The node's encryption keys: the SSE-S3 master key from `--master-key-file` (a single node
/// without one generates and keeps `<data dir>/master_key`; cluster nodes must share one, so
/// they never generate it) and the SSE-KMS keyring file. Data keys come from the OS's
/// entropy (a seeded node, in tests, derives them from its seed).
fn keyring(config: &Config, rng: &mut StdRng) -> Result<Keyring, NodeError> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let read = |path: &Path| {
        std::fs::read_to_string(path)
            .map_err(|e| NodeError::Keys(format!("cannot read {}: {e}", path.display())))
    };
    let parse_master = |text: &str, path: &Path| {
        b64.decode(text.trim()).ok().and_then(|b| SecretKey::from_slice(&b)).ok_or_else(|| {
            NodeError::Keys(format!("{} must hold the base64 of 32 bytes", path.display()))
        })
    };
    let generated = config.data_dir.join(MASTER_KEY_FILE);
    let master = match (&config.master_key_file, &config.cluster) {
        (Some(path), _) => Some(parse_master(&read(path)?, path)?),
        (None, None) if generated.exists() => Some(parse_master(&read(&generated)?, &generated)?),
        (None, None) => {
            let mut key = [0u8; 32];
            let mut os = StdRng::from_os_rng();
            os.fill_bytes(&mut key);
            write_secret(&generated, &b64.encode(key))
                .map_err(|source| NodeError::DataDir { path: generated.clone(), source })?;
            SecretKey::from_slice(&key)
        }
        (None, Some(_)) => {
            if generated.exists() {
                tracing::warn!(
                    file = %generated.display(),
                    "this node generated a master key when it ran alone; pass it to every node with --master-key-file to keep reading its SSE-S3 objects"
                );
            }
            None
        }
    };
    let named = match &config.kms_keyring_file {
        Some(path) => Keyring::parse_named(&read(path)?)
            .map_err(|e| NodeError::Keys(format!("{}: {e}", path.display())))?,
        None => Default::default(),
    };
    let entropy = match config.seed {
        Some(_) => StdRng::seed_from_u64(rng.next_u64()),
        None => StdRng::from_os_rng(),
    };
    Ok(Keyring::new(master, named, entropy))
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
