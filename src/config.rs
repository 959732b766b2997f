//! Node configuration: every tunable with its default, from flags, environment variables and a
//! TOML file (flags override the environment, which overrides the file).
//!
//! `Settings` is both the clap argument set (flags and `RINGVAULT_*` variables) and the TOML
//! file's schema, so a setting cannot exist in one source and be missing from another.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Default S3 endpoint of a node.
pub const DEFAULT_S3_ADDR: &str = "127.0.0.1:9000";
/// Default data directory, relative to the working directory.
pub const DEFAULT_DATA_DIR: &str = "./data";
pub const DEFAULT_REGION: &str = "us-east-1";
/// 1 MiB less 4 KiB: redb gives a value a power-of-two run of 4 KiB pages, so a block of
/// exactly 1 MiB (plus its checksum, key and page header) would take 2 MiB on disk; this one
/// fills a 1 MiB run with room for those and an encryption tag. Best-sized blocks are
/// 2^k pages less 4 KiB.
pub const DEFAULT_BLOCK_SIZE_BYTES: u32 = (1 << 20) - 4096;
/// Name of the file, in the data directory, that holds a generated root secret.
pub const ROOT_SECRET_FILE: &str = "root_secret_access_key";
/// Name of the file, in the data directory, that holds a single node's generated SSE-S3
/// master key.
pub const MASTER_KEY_FILE: &str = "master_key";
/// Default admin API endpoint: loopback only, so that a fresh node exposes no admin surface.
pub const DEFAULT_ADMIN_ADDR: &str = "127.0.0.1:9001";
/// Name of the file, in the data directory, that holds a generated admin token.
pub const ADMIN_TOKEN_FILE: &str = "admin_token";
/// Bounds of a configured admin token, which travels in an HTTP header.
const ADMIN_TOKEN_BYTES_MIN: usize = 16;
const ADMIN_TOKEN_BYTES_MAX: usize = 256;

/// Raw settings, each optional; `Config::resolve` applies defaults and validates.
#[derive(Clone, Default, Deserialize, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Directory for the node's database and generated credentials.
    #[arg(long, env = "RINGVAULT_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address of the S3 HTTP endpoint.
    #[arg(long, env = "RINGVAULT_S3_ADDR")]
    pub s3_addr: Option<SocketAddr>,
    /// Region this endpoint serves and expects in signatures.
    #[arg(long, env = "RINGVAULT_REGION")]
    pub region: Option<String>,
    /// Domain under which `<bucket>.<domain>` selects virtual-hosted-style addressing.
    #[arg(long, env = "RINGVAULT_ROOT_DOMAIN")]
    pub root_domain: Option<String>,
    /// Address of the admin HTTP API (keys, buckets, status).
    #[arg(long, env = "RINGVAULT_ADMIN_ADDR")]
    pub admin_addr: Option<SocketAddr>,
    /// Bearer token of the admin API; generated into `<data dir>/admin_token` when unset.
    #[arg(long, env = "RINGVAULT_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Root access key id (set together with the secret, e.g. for scripts and tests).
    #[arg(long, env = "RINGVAULT_ACCESS_KEY_ID")]
    pub access_key_id: Option<String>,
    /// Root secret access key.
    #[arg(long, env = "RINGVAULT_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub secret_access_key: Option<String>,
    /// File holding the root secret access key (instead of the variable; e.g. a container
    /// secret).
    #[arg(long, env = "RINGVAULT_SECRET_ACCESS_KEY_FILE")]
    pub secret_access_key_file: Option<PathBuf>,
    /// Size of the blocks large bodies are cut into [default: 1 MiB - 4 KiB]; best as a
    /// power of two less 4 KiB (the store keeps each block in a power-of-two run of pages).
    #[arg(long, env = "RINGVAULT_BLOCK_SIZE_BYTES")]
    pub block_size_bytes: Option<u32>,
    /// Bodies up to this size are stored inside the object record.
    #[arg(long, env = "RINGVAULT_INLINE_MAX_BYTES")]
    pub inline_max_bytes: Option<u32>,
    /// redb page cache size.
    #[arg(long, env = "RINGVAULT_CACHE_BYTES")]
    pub cache_bytes: Option<usize>,
    /// How long a body that may have become garbage waits before it is checked and deleted
    /// (default 600000: ten minutes, longer than any read of it still streaming).
    #[arg(long, env = "RINGVAULT_RECLAIM_GRACE_MS")]
    pub reclaim_grace_ms: Option<u64>,
    /// How old a tombstone (what a delete leaves) must be before it is purged, once every
    /// member agrees nothing could bring the deleted version back (default 86400000: a day).
    #[arg(long, env = "RINGVAULT_TOMBSTONE_GRACE_MS")]
    pub tombstone_grace_ms: Option<u64>,
    /// Mutating requests running at once, detached from their connections (default 1024).
    #[arg(long, env = "RINGVAULT_REQUESTS_MAX")]
    pub requests_max: Option<usize>,
    /// Time between scrub passes (every stored block checked against its checksum), in
    /// milliseconds (default 86400000: a day).
    #[arg(long, env = "RINGVAULT_SCRUB_INTERVAL_MS")]
    pub scrub_interval_ms: Option<u64>,
    /// Most bytes per second a scrub pass reads (default 16777216: 16 MiB/s).
    #[arg(long, env = "RINGVAULT_SCRUB_BYTES_PER_SEC")]
    pub scrub_bytes_per_sec: Option<u64>,
    /// Static website endpoint: requests to `<bucket>.<website_domain>` are served as the
    /// bucket's website (default: none, no website endpoint).
    #[arg(long, env = "RINGVAULT_WEBSITE_DOMAIN")]
    pub website_domain: Option<String>,
    /// Time between lifecycle passes, in milliseconds (default 86400000: a day).
    #[arg(long, env = "RINGVAULT_LIFECYCLE_INTERVAL_MS")]
    pub lifecycle_interval_ms: Option<u64>,
    /// How long a "day" of a lifecycle rule is, in milliseconds (default 86400000); shorten it
    /// to test rules in seconds, as Ceph's rgw_lc_debug_interval does.
    #[arg(long, env = "RINGVAULT_LIFECYCLE_DAY_MS")]
    pub lifecycle_day_ms: Option<u64>,
    /// File holding the master key of SSE-S3 (the base64 of 32 random bytes), the same on
    /// every node of a cluster; a single node without one generates
    /// `<data dir>/master_key`.
    #[arg(long, env = "RINGVAULT_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,
    /// Local keyring for SSE-KMS (not a KMS): a TOML file of `name = "<base64 of 32 bytes>"`,
    /// the same on every node; a key named `aws/s3` serves requests that name none.
    #[arg(long, env = "RINGVAULT_KMS_KEYRING_FILE")]
    pub kms_keyring_file: Option<PathBuf>,
    /// Internode RPC address; setting it (or seeds) makes this node part of a cluster.
    #[arg(long, env = "RINGVAULT_RPC_ADDR")]
    pub rpc_addr: Option<SocketAddr>,
    /// RPC addresses of nodes to join through (comma-separated).
    #[arg(long, env = "RINGVAULT_SEEDS", value_delimiter = ',')]
    pub seeds: Option<Vec<SocketAddr>>,
    /// On the first node (the one without seeds): once this many nodes, itself included, are
    /// up, apply the first layout with all of them (each with the zone and capacity it
    /// announces), so a new cluster serves without `ringvault cluster apply`. Does nothing
    /// once the layout has other members.
    #[arg(long, env = "RINGVAULT_BOOTSTRAP_NODES")]
    pub bootstrap_nodes: Option<usize>,
    /// Shared secret that authenticates cluster members to each other.
    #[arg(long, env = "RINGVAULT_CLUSTER_SECRET", hide_env_values = true)]
    pub cluster_secret: Option<String>,
    /// File holding the cluster secret (instead of the variable).
    #[arg(long, env = "RINGVAULT_CLUSTER_SECRET_FILE")]
    pub cluster_secret_file: Option<PathBuf>,
    /// Failure domain of this node (rack, host, datacenter).
    #[arg(long, env = "RINGVAULT_ZONE")]
    pub zone: Option<String>,
    /// Relative storage weight of this node.
    #[arg(long, env = "RINGVAULT_CAPACITY")]
    pub capacity: Option<u64>,
    /// N: replicas per item (default 3; a cluster of fewer nodes keeps one per node).
    #[arg(long, env = "RINGVAULT_REPLICATION_FACTOR")]
    pub replication_factor: Option<usize>,
    /// R (default: a majority of N).
    #[arg(long, env = "RINGVAULT_READ_QUORUM")]
    pub read_quorum: Option<usize>,
    /// W (default: a majority of N).
    #[arg(long, env = "RINGVAULT_WRITE_QUORUM")]
    pub write_quorum: Option<usize>,
    /// Gossip period in milliseconds.
    #[arg(long, env = "RINGVAULT_GOSSIP_INTERVAL_MS")]
    pub gossip_interval_ms: Option<u64>,
    /// Liveness probe period in milliseconds (default 500): a silent peer is routed around
    /// about 5.6 periods after its last answer.
    #[arg(long, env = "RINGVAULT_PROBE_INTERVAL_MS")]
    pub probe_interval_ms: Option<u64>,
    /// Shortest wait before a call that has not answered is hedged to another replica
    /// (default 50 ms; the wait follows each peer's measured round trips above it).
    #[arg(long, env = "RINGVAULT_HEDGE_FLOOR_MS")]
    pub hedge_floor_ms: Option<u64>,
    /// Longest wait before hedging (default 1000 ms).
    #[arg(long, env = "RINGVAULT_HEDGE_CEILING_MS")]
    pub hedge_ceiling_ms: Option<u64>,
    /// Q = 2^bits partitions; fixed when the cluster is created (the first node's value wins).
    #[arg(long, env = "RINGVAULT_PARTITION_BITS")]
    pub partition_bits: Option<u8>,
    /// Time between anti-entropy passes, in milliseconds (default 600000: ten minutes).
    #[arg(long, env = "RINGVAULT_ANTI_ENTROPY_INTERVAL_MS")]
    pub anti_entropy_interval_ms: Option<u64>,
    /// Most bytes per second anti-entropy moves (default 33554432: 32 MiB/s).
    #[arg(long, env = "RINGVAULT_REPAIR_BYTES_PER_SEC")]
    pub repair_bytes_per_sec: Option<u64>,
}

impl Settings {
    /// `self`'s values where set, `lower`'s otherwise.
    #[must_use]
    pub fn or(self, lower: Settings) -> Settings {
        Settings {
            data_dir: self.data_dir.or(lower.data_dir),
            master_key_file: self.master_key_file.or(lower.master_key_file),
            kms_keyring_file: self.kms_keyring_file.or(lower.kms_keyring_file),
            s3_addr: self.s3_addr.or(lower.s3_addr),
            region: self.region.or(lower.region),
            root_domain: self.root_domain.or(lower.root_domain),
            admin_addr: self.admin_addr.or(lower.admin_addr),
            admin_token: self.admin_token.or(lower.admin_token),
            access_key_id: self.access_key_id.or(lower.access_key_id),
            secret_access_key: self.secret_access_key.or(lower.secret_access_key),
            secret_access_key_file: self.secret_access_key_file.or(lower.secret_access_key_file),
            block_size_bytes: self.block_size_bytes.or(lower.block_size_bytes),
            inline_max_bytes: self.inline_max_bytes.or(lower.inline_max_bytes),
            cache_bytes: self.cache_bytes.or(lower.cache_bytes),
            reclaim_grace_ms: self.reclaim_grace_ms.or(lower.reclaim_grace_ms),
            tombstone_grace_ms: self.tombstone_grace_ms.or(lower.tombstone_grace_ms),
            scrub_interval_ms: self.scrub_interval_ms.or(lower.scrub_interval_ms),
            lifecycle_interval_ms: self.lifecycle_interval_ms.or(lower.lifecycle_interval_ms),
            website_domain: self.website_domain.or(lower.website_domain),
            lifecycle_day_ms: self.lifecycle_day_ms.or(lower.lifecycle_day_ms),
            scrub_bytes_per_sec: self.scrub_bytes_per_sec.or(lower.scrub_bytes_per_sec),
            requests_max: self.requests_max.or(lower.requests_max),
            rpc_addr: self.rpc_addr.or(lower.rpc_addr),
            seeds: self.seeds.or(lower.seeds),
            bootstrap_nodes: self.bootstrap_nodes.or(lower.bootstrap_nodes),
            cluster_secret: self.cluster_secret.or(lower.cluster_secret),
            cluster_secret_file: self.cluster_secret_file.or(lower.cluster_secret_file),
            zone: self.zone.or(lower.zone),
            capacity: self.capacity.or(lower.capacity),
            replication_factor: self.replication_factor.or(lower.replication_factor),
            read_quorum: self.read_quorum.or(lower.read_quorum),
            write_quorum: self.write_quorum.or(lower.write_quorum),
            gossip_interval_ms: self.gossip_interval_ms.or(lower.gossip_interval_ms),
            probe_interval_ms: self.probe_interval_ms.or(lower.probe_interval_ms),
            anti_entropy_interval_ms: self
                .anti_entropy_interval_ms
                .or(lower.anti_entropy_interval_ms),
            repair_bytes_per_sec: self.repair_bytes_per_sec.or(lower.repair_bytes_per_sec),
            hedge_floor_ms: self.hedge_floor_ms.or(lower.hedge_floor_ms),
            hedge_ceiling_ms: self.hedge_ceiling_ms.or(lower.hedge_ceiling_ms),
            partition_bits: self.partition_bits.or(lower.partition_bits),
        }
    }

    pub fn from_toml_file(path: &Path) -> Result<Settings, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        toml::from_str(&text)
            .map_err(|e| ConfigError::Parse { path: path.to_owned(), message: e.to_string() })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("invalid config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{0}")]
    Invalid(String),
}

/// A validated node configuration.
#[derive(Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub s3_addr: SocketAddr,
    pub region: String,
    pub root_domain: Option<String>,
    pub admin_addr: SocketAddr,
    /// An explicitly configured admin token; otherwise one is generated on first start.
    pub admin_token: Option<String>,
    /// An explicitly configured root key `(id, secret)`; otherwise one is generated.
    pub root_key: Option<(String, String)>,
    pub block_size_bytes: u32,
    pub inline_max_bytes: u32,
    pub cache_bytes: usize,
    /// See `Settings::reclaim_grace_ms`.
    pub reclaim_grace: std::time::Duration,
    /// See `Settings::tombstone_grace_ms`.
    pub tombstone_grace: std::time::Duration,
    /// See `Settings::requests_max`.
    pub requests_max: usize,
    /// See `Settings::scrub_interval_ms`.
    pub scrub_interval: std::time::Duration,
    /// See `Settings::scrub_bytes_per_sec`.
    pub scrub_bytes_per_sec: u64,
    /// See `Settings::website_domain`.
    pub website_domain: Option<String>,
    /// See `Settings::lifecycle_interval_ms`.
    pub lifecycle_interval: std::time::Duration,
    /// See `Settings::lifecycle_day_ms`.
    pub lifecycle_day_ms: i64,
    /// See `Settings::master_key_file`.
    pub master_key_file: Option<PathBuf>,
    /// See `Settings::kms_keyring_file`.
    pub kms_keyring_file: Option<PathBuf>,
    /// Seed for the node's random identifiers; `None` draws one from the OS.
    pub seed: Option<u64>,
    /// Cluster membership, when this node is part of a multi-node ring.
    pub cluster: Option<ClusterConfig>,
}

/// How a node takes part in a cluster.
#[derive(Clone)]
pub struct ClusterConfig {
    pub rpc_addr: SocketAddr,
    pub seeds: Vec<SocketAddr>,
    /// See `Settings::bootstrap_nodes`.
    pub bootstrap_nodes: Option<usize>,
    pub secret: String,
    pub zone: String,
    pub capacity: u64,
    pub replication_factor: usize,
    pub read_quorum: Option<usize>,
    pub write_quorum: Option<usize>,
    pub gossip_interval: std::time::Duration,
    /// Period of direct liveness probes (the failure detector's heartbeat interval).
    pub probe_interval: std::time::Duration,
    /// Bounds of the wait before a call is hedged.
    pub hedge_floor: std::time::Duration,
    pub hedge_ceiling: std::time::Duration,
    /// Q = 2^bits partitions, used when this node creates the cluster.
    pub partition_bits: u8,
    /// Time between anti-entropy passes.
    pub anti_entropy_interval: std::time::Duration,
    /// Most bytes per second anti-entropy moves.
    pub repair_bytes_per_sec: u64,
}

impl std::fmt::Debug for ClusterConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterConfig")
            .field("rpc_addr", &self.rpc_addr)
            .field("seeds", &self.seeds)
            .field("secret", &"<withheld>")
            .field("zone", &self.zone)
            .field("capacity", &self.capacity)
            .field("replication_factor", &self.replication_factor)
            .finish_non_exhaustive()
    }
}

/// A secret kept in a file (a container secret, say): its text without surrounding white space.
fn secret_from_file(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path)
        .map(|text| text.trim().to_owned())
        .map_err(|source| ConfigError::Read { path: path.to_owned(), source })
}

/// Smallest cluster secret accepted, in bytes.
const CLUSTER_SECRET_BYTES_MIN: usize = 16;

fn cluster_config(settings: &Settings) -> Result<Option<ClusterConfig>, ConfigError> {
    if settings.rpc_addr.is_none() && settings.seeds.as_ref().is_none_or(Vec::is_empty) {
        return Ok(None);
    }
    let rpc_addr = settings.rpc_addr.ok_or_else(|| {
        ConfigError::Invalid("a cluster node needs its RPC address (RINGVAULT_RPC_ADDR)".into())
    })?;
    // An empty variable counts as unset, so that a compose override can hand over to a file.
    let variable = settings.cluster_secret.as_ref().filter(|s| !s.is_empty());
    let secret = match (variable, &settings.cluster_secret_file) {
        (Some(s), _) => s.clone(),
        (None, Some(path)) => secret_from_file(path)?,
        (None, None) => {
            return Err(ConfigError::Invalid(
                "a cluster node needs the cluster secret (RINGVAULT_CLUSTER_SECRET or RINGVAULT_CLUSTER_SECRET_FILE); there is no default".into(),
            ));
        }
    };
    if secret.len() < CLUSTER_SECRET_BYTES_MIN {
        return Err(ConfigError::Invalid(format!(
            "the cluster secret must be at least {CLUSTER_SECRET_BYTES_MIN} bytes"
        )));
    }
    let capacity = settings.capacity.unwrap_or(1);
    if capacity == 0 {
        return Err(ConfigError::Invalid("capacity must be positive".into()));
    }
    let partition_bits = settings.partition_bits.unwrap_or(8);
    if !(4..=16).contains(&partition_bits) {
        return Err(ConfigError::Invalid(
            "partition_bits must be between 4 and 16 (16 to 65536 partitions)".into(),
        ));
    }
    let ms = std::time::Duration::from_millis;
    let probe_interval = ms(settings.probe_interval_ms.unwrap_or(500));
    if !(ms(10)..=ms(60_000)).contains(&probe_interval) {
        return Err(ConfigError::Invalid("probe_interval_ms must be between 10 and 60000".into()));
    }
    let hedge_floor = ms(settings.hedge_floor_ms.unwrap_or(50));
    let hedge_ceiling = ms(settings.hedge_ceiling_ms.unwrap_or(1000));
    if hedge_floor.is_zero() || hedge_floor > hedge_ceiling {
        return Err(ConfigError::Invalid(
            "hedge_floor_ms must be positive and at most hedge_ceiling_ms".into(),
        ));
    }
    let anti_entropy_interval = ms(settings.anti_entropy_interval_ms.unwrap_or(600_000));
    if anti_entropy_interval < ms(100) {
        return Err(ConfigError::Invalid("anti_entropy_interval_ms must be at least 100".into()));
    }
    let repair_bytes_per_sec = settings.repair_bytes_per_sec.unwrap_or(32 << 20);
    if repair_bytes_per_sec < 1024 {
        return Err(ConfigError::Invalid("repair_bytes_per_sec must be at least 1024".into()));
    }
    let replication_factor = settings.replication_factor.unwrap_or(3);
    if replication_factor == 0 {
        return Err(ConfigError::Invalid("replication_factor must be positive".into()));
    }
    let seeds = settings.seeds.clone().unwrap_or_default();
    match settings.bootstrap_nodes {
        Some(0) => {
            return Err(ConfigError::Invalid("bootstrap_nodes must be at least 1".into()));
        }
        Some(_) if !seeds.is_empty() => {
            return Err(ConfigError::Invalid(
                "bootstrap_nodes is for the first node, the one started without seeds; the \
                 others join through it"
                    .into(),
            ));
        }
        _ => {}
    }
    Ok(Some(ClusterConfig {
        rpc_addr,
        seeds,
        bootstrap_nodes: settings.bootstrap_nodes,
        secret,
        zone: settings.zone.clone().unwrap_or_else(|| "default".into()),
        capacity,
        replication_factor,
        read_quorum: settings.read_quorum,
        write_quorum: settings.write_quorum,
        partition_bits,
        gossip_interval: std::time::Duration::from_millis(
            settings.gossip_interval_ms.unwrap_or(1000).max(10),
        ),
        probe_interval,
        hedge_floor,
        hedge_ceiling,
        anti_entropy_interval,
        repair_bytes_per_sec,
    }))
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field("s3_addr", &self.s3_addr)
            .field("region", &self.region)
            .field("root_domain", &self.root_domain)
            .field("admin_addr", &self.admin_addr)
            .field("admin_token", &self.admin_token.as_ref().map(|_| "<withheld>"))
            .field("root_key", &self.root_key.as_ref().map(|(id, _)| (id, "<withheld>")))
            .field("block_size_bytes", &self.block_size_bytes)
            .field("inline_max_bytes", &self.inline_max_bytes)
            .field("cache_bytes", &self.cache_bytes)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Applies defaults to `settings` and checks them.
    pub fn resolve(settings: Settings) -> Result<Config, ConfigError> {
        let cluster = cluster_config(&settings)?;
        // An empty variable counts as unset, as for the cluster secret.
        let variable = settings.secret_access_key.filter(|s| !s.is_empty());
        let secret_access_key = match (variable, &settings.secret_access_key_file) {
            (Some(s), _) => Some(s),
            (None, Some(path)) => Some(secret_from_file(path)?),
            (None, None) => None,
        };
        let root_key = match (settings.access_key_id, secret_access_key) {
            (Some(id), Some(secret)) => {
                if id.is_empty() || secret.is_empty() {
                    return Err(ConfigError::Invalid(
                        "the root access key id and secret must not be empty".into(),
                    ));
                }
                Some((id, secret))
            }
            (None, None) => None,
            _ => {
                return Err(ConfigError::Invalid(
                    "RINGVAULT_ACCESS_KEY_ID and RINGVAULT_SECRET_ACCESS_KEY must be set together"
                        .into(),
                ));
            }
        };
        let block_size_bytes = settings.block_size_bytes.unwrap_or(DEFAULT_BLOCK_SIZE_BYTES);
        if !(4096..=(64 << 20)).contains(&block_size_bytes) {
            return Err(ConfigError::Invalid(
                "block_size_bytes must be between 4 KiB and 64 MiB".into(),
            ));
        }
        let inline_max_bytes = settings.inline_max_bytes.unwrap_or(64 << 10).min(block_size_bytes);
        let s3_addr = match settings.s3_addr {
            Some(a) => a,
            None => DEFAULT_S3_ADDR
                .parse()
                .map_err(|_| ConfigError::Invalid("bad default address".into()))?,
        };
        let admin_addr = match settings.admin_addr {
            Some(a) => a,
            None => DEFAULT_ADMIN_ADDR
                .parse()
                .map_err(|_| ConfigError::Invalid("bad default admin address".into()))?,
        };
        if let Some(token) = &settings.admin_token {
            check_admin_token(token)?;
        }
        let requests_max = settings.requests_max.unwrap_or(1024);
        if requests_max == 0 {
            return Err(ConfigError::Invalid("requests_max must be positive".into()));
        }
        let scrub_interval =
            std::time::Duration::from_millis(settings.scrub_interval_ms.unwrap_or(86_400_000));
        if scrub_interval < std::time::Duration::from_millis(100) {
            return Err(ConfigError::Invalid("scrub_interval_ms must be at least 100".into()));
        }
        let scrub_bytes_per_sec = settings.scrub_bytes_per_sec.unwrap_or(16 << 20);
        if scrub_bytes_per_sec < 1024 {
            return Err(ConfigError::Invalid("scrub_bytes_per_sec must be at least 1024".into()));
        }
        let lifecycle_interval =
            std::time::Duration::from_millis(settings.lifecycle_interval_ms.unwrap_or(86_400_000));
        if lifecycle_interval < std::time::Duration::from_millis(100) {
            return Err(ConfigError::Invalid("lifecycle_interval_ms must be at least 100".into()));
        }
        let lifecycle_day_ms = settings.lifecycle_day_ms.unwrap_or(86_400_000);
        let lifecycle_day_ms = i64::try_from(lifecycle_day_ms)
            .ok()
            .filter(|d| *d >= 1)
            .ok_or_else(|| ConfigError::Invalid("lifecycle_day_ms must be positive".into()))?;
        Ok(Config {
            data_dir: settings.data_dir.unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
            s3_addr,
            region: settings.region.unwrap_or_else(|| DEFAULT_REGION.to_owned()),
            root_domain: settings.root_domain.filter(|d| !d.is_empty()),
            admin_addr,
            admin_token: settings.admin_token,
            root_key,
            block_size_bytes,
            inline_max_bytes,
            cache_bytes: settings.cache_bytes.unwrap_or(16 << 20),
            reclaim_grace: std::time::Duration::from_millis(
                settings.reclaim_grace_ms.unwrap_or(600_000),
            ),
            tombstone_grace: std::time::Duration::from_millis(
                settings.tombstone_grace_ms.unwrap_or(86_400_000),
            ),
            requests_max,
            scrub_interval,
            scrub_bytes_per_sec,
            lifecycle_interval,
            lifecycle_day_ms,
            master_key_file: settings.master_key_file,
            kms_keyring_file: settings.kms_keyring_file,
            website_domain: settings
                .website_domain
                .filter(|d| !d.is_empty())
                .map(|d| d.to_ascii_lowercase()),
            seed: None,
            cluster,
        })
    }
}

/// A configured admin token must be long enough to resist guessing and fit in a header as is.
fn check_admin_token(token: &str) -> Result<(), ConfigError> {
    let length_ok = (ADMIN_TOKEN_BYTES_MIN..=ADMIN_TOKEN_BYTES_MAX).contains(&token.len());
    if !length_ok || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ConfigError::Invalid(format!(
            "the admin token must be {ADMIN_TOKEN_BYTES_MIN} to {ADMIN_TOKEN_BYTES_MAX} visible \
             ASCII characters (no spaces)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_file_and_defaults_fill_the_rest() {
        let file: Settings =
            toml::from_str("data_dir = \"/file\"\nregion = \"eu-west-1\"\n").unwrap();
        let flags = Settings { region: Some("ap-south-1".into()), ..Settings::default() };
        let config = Config::resolve(flags.or(file)).unwrap();
        assert_eq!(config.region, "ap-south-1");
        assert_eq!(config.data_dir, PathBuf::from("/file"));
        assert_eq!(config.s3_addr.to_string(), DEFAULT_S3_ADDR);
        assert_eq!(config.block_size_bytes, DEFAULT_BLOCK_SIZE_BYTES);
        assert_eq!(config.admin_addr.to_string(), DEFAULT_ADMIN_ADDR);
        assert_eq!(config.admin_token, None);
    }

    #[test]
    fn an_admin_token_must_be_long_and_header_safe() {
        let with = |t: &str| Settings { admin_token: Some(t.into()), ..Settings::default() };
        assert!(Config::resolve(with("short")).is_err());
        assert!(Config::resolve(with("has a space in the middle")).is_err());
        assert!(Config::resolve(with("a-long-enough-admin-token")).is_ok());
    }

    #[test]
    fn a_cluster_node_needs_a_secret_and_sane_partition_bits() {
        let cluster = |secret: Option<&str>, bits: Option<u8>| Settings {
            rpc_addr: Some("127.0.0.1:3901".parse().unwrap()),
            cluster_secret: secret.map(str::to_owned),
            partition_bits: bits,
            ..Settings::default()
        };
        assert!(Config::resolve(cluster(None, None)).is_err(), "no built-in secret");
        assert!(Config::resolve(cluster(Some("short"), None)).is_err());
        let ok = Config::resolve(cluster(Some("a-long-enough-cluster-secret"), None)).unwrap();
        let c = ok.cluster.unwrap();
        assert_eq!((c.partition_bits, c.replication_factor, c.zone.as_str()), (8, 3, "default"));
        assert!(!format!("{c:?}").contains("a-long-enough"), "Debug withholds the secret");
        assert!(Config::resolve(cluster(Some("a-long-enough-cluster-secret"), Some(20))).is_err());
        assert!(
            Config::resolve(Settings::default()).unwrap().cluster.is_none(),
            "a ring of one by default"
        );
    }

    #[test]
    fn only_the_first_node_bootstraps() {
        let node = |bootstrap: usize, seeds: Option<&str>| Settings {
            rpc_addr: Some("127.0.0.1:3901".parse().unwrap()),
            cluster_secret: Some("a-long-enough-cluster-secret".into()),
            bootstrap_nodes: Some(bootstrap),
            seeds: seeds.map(|s| vec![s.parse().unwrap()]),
            ..Settings::default()
        };
        let first = Config::resolve(node(3, None)).unwrap().cluster.unwrap();
        assert_eq!(first.bootstrap_nodes, Some(3));
        let joiner = Config::resolve(node(3, Some("127.0.0.1:3902"))).err().unwrap();
        assert!(joiner.to_string().contains("without seeds"), "{joiner}");
        assert!(Config::resolve(node(0, None)).is_err());
    }

    #[test]
    fn the_example_config_in_fixtures_is_valid() {
        let file: Settings = toml::from_str(include_str!("../fixtures/config/node.toml")).unwrap();
        let config = Config::resolve(file).unwrap();
        assert_eq!(config.data_dir, PathBuf::from("/var/lib/ringvault"));
        assert_eq!(config.block_size_bytes, DEFAULT_BLOCK_SIZE_BYTES);
        assert_eq!(config.admin_addr.to_string(), DEFAULT_ADMIN_ADDR);
    }

    #[test]
    fn unknown_file_keys_and_half_a_root_key_are_errors() {
        assert!(toml::from_str::<Settings>("data_dri = \"x\"").is_err());
        let half = Settings { access_key_id: Some("AK".into()), ..Settings::default() };
        assert!(Config::resolve(half).is_err());
    }

    #[test]
    fn secrets_can_come_from_files_as_container_secrets_do() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        let settings = Settings {
            rpc_addr: Some("127.0.0.1:3901".parse().unwrap()),
            cluster_secret_file: Some(write("cluster", "a-long-enough-cluster-secret\n")),
            access_key_id: Some("RVROOT".into()),
            secret_access_key_file: Some(write("root", "  root-secret-from-a-file\n")),
            ..Settings::default()
        };
        let config = Config::resolve(settings.clone()).unwrap();
        assert_eq!(config.root_key, Some(("RVROOT".into(), "root-secret-from-a-file".into())));
        assert_eq!(config.cluster.unwrap().secret, "a-long-enough-cluster-secret");
        // The variable wins over the file, unless it is empty (compose.secrets.yaml empties
        // the variables compose.yaml sets); a missing file is an error naming it.
        let both = Settings { secret_access_key: Some("from-env".into()), ..settings.clone() };
        assert_eq!(Config::resolve(both).unwrap().root_key.unwrap().1, "from-env");
        let emptied = Settings {
            secret_access_key: Some(String::new()),
            cluster_secret: Some(String::new()),
            ..settings.clone()
        };
        let config = Config::resolve(emptied).unwrap();
        assert_eq!(config.root_key.unwrap().1, "root-secret-from-a-file");
        assert_eq!(config.cluster.unwrap().secret, "a-long-enough-cluster-secret");
        let missing = dir.path().join("absent");
        let gone = Settings { secret_access_key_file: Some(missing.clone()), ..settings };
        let err = Config::resolve(gone).err().unwrap().to_string();
        assert!(err.contains(&missing.display().to_string()), "{err}");
    }

    #[test]
    fn debug_output_withholds_the_secret() {
        let s = Settings {
            access_key_id: Some("AK".into()),
            secret_access_key: Some("supersecret".into()),
            admin_token: Some("admin-token-never-logged".into()),
            ..Settings::default()
        };
        let text = format!("{:?}", Config::resolve(s).unwrap());
        assert!(!text.contains("supersecret"), "{text}");
        assert!(!text.contains("admin-token-never-logged"), "{text}");
    }
}
