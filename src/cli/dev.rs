//! `ringvault dev --nodes N`: a local ring of N nodes in one process, on consecutive loopback
//! ports, with the layout applied, so anyone can try a cluster in a minute. Runs until
//! interrupted; restarting it on the same data directory resumes the same ring.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use rand::SeedableRng;
use rand::distr::{Alphanumeric, SampleString};
use rand::rngs::StdRng;
use ringvault::config::{Config, Settings};
use ringvault::node::{self, RunningNode};
use ringvault::ring::{Layout, Member};

/// Offsets from the base port: S3 ports are `base + i`, admin `base + 100 + i`, RPC `base + 200 + i`.
const ADMIN_OFFSET: u16 = 100;
const RPC_OFFSET: u16 = 200;

#[derive(clap::Args)]
pub struct DevArgs {
    /// How many nodes.
    #[arg(long, default_value_t = 3)]
    nodes: u16,
    /// Where the nodes keep their data (one subdirectory each).
    #[arg(id = "dev_data_dir", long = "data-dir", default_value = "./data-dev")]
    data_dir: PathBuf,
    /// S3 port of the first node; the others follow.
    #[arg(long, default_value_t = 9000)]
    base_port: u16,
}

/// Reads `path`, or writes a fresh random value there (mode 0600) and returns it.
fn persisted_secret(path: &Path, len: usize) -> anyhow::Result<String> {
    persisted(path, || Alphanumeric.sample_string(&mut StdRng::from_os_rng(), len))
}

/// The ring's shared SSE-S3 master key file (the base64 of 32 random bytes), made once.
fn master_key_file(data_dir: &Path) -> anyhow::Result<PathBuf> {
    use base64::Engine;
    use rand::RngCore;
    let path = data_dir.join("master_key");
    persisted(&path, || {
        let mut key = [0u8; 32];
        StdRng::from_os_rng().fill_bytes(&mut key);
        base64::engine::general_purpose::STANDARD.encode(key)
    })?;
    Ok(path)
}

/// Reads `path`, or writes `make()` there (mode 0600) and returns it.
fn persisted(path: &Path, make: impl FnOnce() -> String) -> anyhow::Result<String> {
    if let Ok(text) = std::fs::read_to_string(path)
        && !text.trim().is_empty()
    {
        return Ok(text.trim().to_owned());
    }
    let value = make();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    use std::io::Write;
    options.open(path)?.write_all(value.as_bytes())?;
    Ok(value)
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

pub fn run(args: &DevArgs) -> anyhow::Result<()> {
    ringvault::telemetry::init();
    anyhow::ensure!((1..=20).contains(&args.nodes), "--nodes must be between 1 and 20");
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating {}", args.data_dir.display()))?;
    let cluster_secret = persisted_secret(&args.data_dir.join("cluster_secret"), 32)?;
    // Every node encrypts and decrypts with the same keys, as a real cluster must.
    let master_key = match std::env::var_os("RINGVAULT_MASTER_KEY_FILE") {
        Some(path) => PathBuf::from(path),
        None => master_key_file(&args.data_dir)?,
    };
    let kms_keyring = std::env::var_os("RINGVAULT_KMS_KEYRING_FILE").map(PathBuf::from);
    // Settings a test or a demo may want on every node of the ring, as on a single node.
    let env_ms = |name: &str| -> anyhow::Result<Option<u64>> {
        std::env::var(name)
            .ok()
            .map(|v| v.parse().with_context(|| format!("{name}={v}")))
            .transpose()
    };
    let lifecycle_interval_ms = env_ms("RINGVAULT_LIFECYCLE_INTERVAL_MS")?;
    let lifecycle_day_ms = env_ms("RINGVAULT_LIFECYCLE_DAY_MS")?;
    let reclaim_grace_ms = env_ms("RINGVAULT_RECLAIM_GRACE_MS")?;
    let website_domain = std::env::var("RINGVAULT_WEBSITE_DOMAIN").ok();
    let (key_id, secret, from_env) = match (
        std::env::var("RINGVAULT_ACCESS_KEY_ID").ok(),
        std::env::var("RINGVAULT_SECRET_ACCESS_KEY").ok(),
    ) {
        (Some(id), Some(secret)) => (id, secret, true),
        _ => {
            let id =
                persisted_secret(&args.data_dir.join("root_access_key_id"), 20)?.to_uppercase();
            let secret = persisted_secret(&args.data_dir.join("root_secret_access_key"), 40)?;
            (id, secret, false)
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let mut nodes: Vec<RunningNode> = Vec::new();
        for i in 0..args.nodes {
            let seeds = if i == 0 { Vec::new() } else { vec![addr(args.base_port + RPC_OFFSET)] };
            let settings = Settings {
                data_dir: Some(args.data_dir.join(format!("node{i}"))),
                s3_addr: Some(addr(args.base_port + i)),
                admin_addr: Some(addr(args.base_port + ADMIN_OFFSET + i)),
                rpc_addr: Some(addr(args.base_port + RPC_OFFSET + i)),
                seeds: Some(seeds),
                cluster_secret: Some(cluster_secret.clone()),
                zone: Some(format!("zone-{}", i % 3)),
                access_key_id: Some(key_id.clone()),
                secret_access_key: Some(secret.clone()),
                gossip_interval_ms: Some(300),
                master_key_file: Some(master_key.clone()),
                kms_keyring_file: kms_keyring.clone(),
                lifecycle_interval_ms,
                lifecycle_day_ms,
                reclaim_grace_ms,
                website_domain: website_domain.clone(),
                ..Settings::default()
            };
            let config = Config::resolve(settings)?;
            nodes.push(node::start(config).await.with_context(|| format!("starting node {i}"))?);
        }
        settle(&nodes).await?;
        println!("RingVault dev ring: {} nodes, N={}", nodes.len(), nodes.len().min(3));
        for n in &nodes {
            println!("http://{}", n.s3_addr());
        }
        println!("Root access key id:     {key_id}");
        if from_env {
            println!("Root secret access key: from RINGVAULT_SECRET_ACCESS_KEY");
        } else {
            println!("Root secret access key: {secret}");
        }
        println!("Admin API of node 0:    http://{} (token in {})", nodes[0].admin_addr(), args.data_dir.join("node0/admin_token").display());
        println!("Try it:");
        println!(
            "  AWS_ACCESS_KEY_ID={key_id} AWS_SECRET_ACCESS_KEY={} AWS_REGION=us-east-1 aws --endpoint-url http://{} s3 ls",
            if from_env { "$RINGVAULT_SECRET_ACCESS_KEY" } else { &secret },
            nodes[0].s3_addr()
        );
        crate::shutdown_signal().await?;
        eprintln!("shutting down");
        for n in nodes {
            n.shutdown().await;
        }
        Ok(())
    })
}

/// Waits until the first node has heard of every other one, applies a layout with all of them
/// (unless the stored one has them already), and waits until every node runs it.
async fn settle(nodes: &[RunningNode]) -> anyhow::Result<()> {
    let first = &nodes[0];
    let ids: BTreeSet<u64> = nodes.iter().map(RunningNode::node_id).collect();
    for _ in 0..300 {
        if ids.iter().all(|id| *id == first.node_id() || first.ring().view().get(*id).is_some()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let current = first.ring().layout();
    let members: BTreeSet<u64> = current.members.iter().map(|m| m.id).collect();
    if members != ids {
        let members = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| Member { id: n.node_id(), zone: format!("zone-{}", i % 3), capacity: 1 })
            .collect();
        let layout = Layout::next(&current, members, 3).context("computing the layout")?;
        first.ring().install_layout(layout);
    }
    let version = first.ring().layout().version;
    for _ in 0..300 {
        if nodes.iter().all(|n| n.ring().layout().version >= version) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("the nodes did not agree on layout version {version} within 30 s")
}
