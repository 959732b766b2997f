//! The ring under test and the faults done to it. Two kinds of node:
//!
//! - `ringvault server` processes, one per network namespace: `run.sh` made the namespaces
//!   (`<prefix>-n<i>`, address `10.77.0.<10+i>`, all on one bridge with the driver at
//!   `10.77.0.1`); everything acts through `ip netns exec`, `kill` and `iptables` inside a
//!   node's own namespace, so nothing outside them is touched.
//! - containers of a compose cluster (`docker/test.sh`), already running: faults are `docker
//!   kill` and `docker start`, `docker pause`, and `docker network disconnect`; nothing but
//!   the named containers is touched.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ringvault::admin::api::ClusterChange;
use ringvault::admin::{AdminClient, AdminToken};

pub const CLUSTER_SECRET: &str = "chaos-cluster-secret-0123456789abcdef";
pub const ADMIN_TOKEN: &str = "chaos-suite-admin-token-0123456789";
pub const ACCESS_KEY_ID: &str = "RVCHAOSROOTKEY000001";
pub const SECRET_ACCESS_KEY: &str = "chaos-suite-root-secret-access-key";
const S3_PORT: u16 = 9000;
const ADMIN_PORT: u16 = 9001;
const RPC_PORT: u16 = 9100;
/// The RPC port of a node in a container (docker/compose.yaml).
const CONTAINER_RPC_PORT: u16 = 3901;
/// Longest a driver's admin call may take (a paused node never answers).
const ADMIN_CALL: Duration = Duration::from_secs(2);

/// Where a node runs.
enum Host {
    /// A process of ours in a network namespace.
    Namespace {
        namespace: String,
        data_dir: PathBuf,
        child: Option<Child>,
        bin: PathBuf,
        log: PathBuf,
    },
    /// A container on a docker network; `running` is what the driver last made of it.
    Container { name: String, network: String, running: bool },
}

/// One node of the ring.
pub struct Node {
    pub index: usize,
    pub ip: Ipv4Addr,
    /// The node id, known once it first started.
    pub id: Option<String>,
    host: Host,
}

impl Node {
    pub fn new(index: usize, prefix: &str, bin: &Path, data_dir: PathBuf, log: PathBuf) -> Node {
        Node {
            index,
            ip: Ipv4Addr::new(10, 77, 0, 10 + u8::try_from(index).expect("few nodes")),
            id: None,
            host: Host::Namespace {
                namespace: format!("{prefix}-n{index}"),
                data_dir,
                child: None,
                bin: bin.to_owned(),
                log,
            },
        }
    }

    /// A running container attached to `network` (its address is read from docker).
    pub fn container(index: usize, name: &str, network: &str) -> Node {
        let format = format!("{{{{(index .NetworkSettings.Networks \"{network}\").IPAddress}}}}");
        let ip = docker(&["inspect", "-f", &format, name]);
        let ip = ip
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name} has no address on {network}: {ip:?}"));
        Node {
            index,
            ip,
            id: None,
            host: Host::Container {
                name: name.to_owned(),
                network: network.to_owned(),
                running: true,
            },
        }
    }

    pub fn is_container(&self) -> bool {
        matches!(self.host, Host::Container { .. })
    }

    /// The data directory, for a node whose files the driver can read.
    pub fn data_dir(&self) -> Option<&Path> {
        match &self.host {
            Host::Namespace { data_dir, .. } => Some(data_dir),
            Host::Container { .. } => None,
        }
    }

    pub fn s3_endpoint(&self) -> String {
        format!("http://{}:{S3_PORT}", self.ip)
    }

    pub fn rpc_addr(&self) -> SocketAddr {
        let port = if self.is_container() { CONTAINER_RPC_PORT } else { RPC_PORT };
        SocketAddr::from((self.ip, port))
    }

    pub fn admin(&self) -> AdminClient {
        let addr = SocketAddr::from((self.ip, ADMIN_PORT)).to_string();
        AdminClient::new(&addr, AdminToken::new(ADMIN_TOKEN.into())).expect("a valid address")
    }

    pub fn is_running(&self) -> bool {
        match &self.host {
            Host::Namespace { child, .. } => child.is_some(),
            Host::Container { running, .. } => *running,
        }
    }

    /// Starts the node and waits until it answers: a process in its namespace (joining through
    /// `seed`, with `extra` settings) until its banner; a container (which keeps the settings
    /// it was created with) until its admin API names it.
    pub async fn start(&mut self, seed: Option<SocketAddr>, extra: &[(&str, &str)]) {
        let index = self.index;
        let admin = self.admin();
        match &mut self.host {
            Host::Namespace { namespace, data_dir, child, bin, log } => {
                assert!(child.is_none(), "node {index} is already running");
                let (started, id) = spawn(namespace, data_dir, bin, log, self.ip, seed, extra);
                *child = Some(started);
                self.id = Some(id);
            }
            Host::Container { name, running, .. } => {
                assert!(extra.is_empty(), "a container keeps the settings it was created with");
                docker(&["start", name]);
                *running = true;
                self.id = Some(container_id(&admin, name).await);
            }
        }
    }
    /// `kill -9` (`docker kill`): the process and everything in flight in it are gone.
    pub fn kill_9(&mut self) {
        match &mut self.host {
            Host::Namespace { child, .. } => {
                if let Some(mut child) = child.take() {
                    // `ip netns exec` execs the node: the child is the node itself.
                    let _ = child.kill();
                    let _ = child.wait();
                }
            }
            Host::Container { name, running, .. } => {
                if std::mem::take(running) {
                    docker(&["kill", name]);
                }
            }
        }
    }

    /// SIGTERM (`docker stop`), and wait for a clean exit.
    pub fn terminate(&mut self) -> bool {
        match &mut self.host {
            Host::Namespace { child, .. } => {
                let Some(mut child) = child.take() else { return true };
                signal(child.id(), "TERM");
                for _ in 0..600 {
                    if let Ok(Some(status)) = child.try_wait() {
                        return status.success();
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                let _ = child.kill();
                let _ = child.wait();
                false
            }
            Host::Container { name, running, .. } => {
                if !std::mem::take(running) {
                    return true;
                }
                docker(&["stop", "--time", "60", name]);
                docker(&["inspect", "-f", "{{.State.ExitCode}}", name]).trim() == "0"
            }
        }
    }

    /// SIGSTOP (`docker pause`): the node keeps its connections open and answers nothing.
    pub fn pause(&self) {
        match &self.host {
            Host::Namespace { child: Some(child), .. } => signal(child.id(), "STOP"),
            Host::Namespace { child: None, .. } => {}
            Host::Container { name, .. } => drop(docker(&["pause", name])),
        }
    }

    pub fn resume(&self) {
        match &self.host {
            Host::Namespace { child: Some(child), .. } => signal(child.id(), "CONT"),
            Host::Namespace { child: None, .. } => {}
            Host::Container { name, .. } => drop(docker(&["unpause", name])),
        }
    }

    /// Whether the node has died by itself.
    pub fn crashed(&mut self) -> bool {
        match &mut self.host {
            Host::Namespace { child, .. } => match child.as_mut().map(Child::try_wait) {
                Some(Ok(Some(_))) => {
                    *child = None;
                    true
                }
                _ => false,
            },
            Host::Container { name, running, .. } => {
                if !*running {
                    return false;
                }
                let state = docker(&["inspect", "-f", "{{.State.Status}}", name]);
                // A paused container is alive; an exited or restarting one died.
                let died = !matches!(state.trim(), "running" | "paused");
                if died {
                    *running = false;
                }
                died
            }
        }
    }

    /// Cuts the node off from every other node. In a namespace: both ways, silently (packets
    /// dropped, no reset), and only the driver at `10.77.0.1` still reaches it. A container is
    /// disconnected from its network (`docker network disconnect`): its interface goes, so its
    /// peers' packets to it are dropped and the driver cannot reach it either.
    pub fn partition(&self) {
        match &self.host {
            Host::Namespace { namespace, .. } => {
                for rule in [
                    ["INPUT", "-s", "10.77.0.1", "-j", "ACCEPT"],
                    ["INPUT", "-s", "10.77.0.0/24", "-j", "DROP"],
                    ["OUTPUT", "-d", "10.77.0.1", "-j", "ACCEPT"],
                    ["OUTPUT", "-d", "10.77.0.0/24", "-j", "DROP"],
                ] {
                    iptables(namespace, &["-A"], &rule);
                }
            }
            Host::Container { name, network, .. } => {
                docker(&["network", "disconnect", network, name]);
            }
        }
    }

    pub fn heal(&self) {
        match &self.host {
            Host::Namespace { namespace, .. } => iptables(namespace, &["-F"], &[]),
            Host::Container { name, network, .. } => {
                let ip = self.ip.to_string();
                docker(&["network", "connect", "--ip", &ip, network, name]);
            }
        }
    }

    /// Fills the node's data directory (a small tmpfs) until the disk is full. Refuses, loudly,
    /// unless that directory is a tmpfs mount of its own: never the machine's disk.
    pub fn fill_disk(&self) -> u64 {
        use std::io::Write;
        let dir = self.data_dir().expect("the disk fault needs a node of ours");
        let dir = dir.canonicalize().expect("data dir");
        let mounts = std::fs::read_to_string("/proc/self/mounts").expect("mount table");
        let own_tmpfs = mounts.lines().any(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            fields.len() > 2 && fields[2] == "tmpfs" && std::path::Path::new(fields[1]) == dir
        });
        assert!(own_tmpfs, "refusing to fill {}: it is not a tmpfs of its own", dir.display());
        let mut file = std::fs::File::create(dir.join(FILLER)).expect("filler file");
        let chunk = vec![0u8; 1 << 20];
        let mut written = 0u64;
        while file.write_all(&chunk).is_ok() {
            written += chunk.len() as u64;
        }
        // The last partial chunk may have gone in part: fill the rest byte-wise, bounded.
        let small = [0u8; 4096];
        while file.write_all(&small).is_ok() {}
        let _ = file.sync_all();
        written
    }

    pub fn free_disk(&self) {
        if let Some(dir) = self.data_dir() {
            let _ = std::fs::remove_file(dir.join(FILLER));
        }
    }

    /// Hints the node holds (its `ringvault_hints_pending_all` gauge); `None` if it does not
    /// answer in time.
    pub async fn hints(&self) -> Option<u64> {
        let text = tokio::time::timeout(ADMIN_CALL, self.admin().metrics()).await.ok()?.ok()?;
        text.lines()
            .find_map(|l| l.strip_prefix("ringvault_hints_pending_all "))
            .and_then(|v| v.trim().parse().ok())
    }

    /// The node ids this node believes up.
    pub async fn sees_up(&self) -> Option<Vec<String>> {
        let status =
            tokio::time::timeout(ADMIN_CALL, self.admin().cluster_status()).await.ok()?.ok()?;
        Some(status.nodes.into_iter().filter(|n| n.up).map(|n| n.node_id).collect())
    }
}

/// The file the disk fault fills a data directory with.
const FILLER: &str = "chaos-filler";

fn iptables(namespace: &str, verb: &[&str], rule: &[&str]) {
    let status = Command::new("ip")
        .args(["netns", "exec", namespace, "iptables"])
        .args(verb)
        .args(rule)
        .status()
        .expect("iptables");
    assert!(status.success(), "iptables {verb:?} {rule:?} in {namespace}");
}

fn signal(pid: u32, name: &str) {
    let _ = Command::new("kill").arg(format!("-{name}")).arg(pid.to_string()).status();
}

/// Starts `ringvault server` in `namespace` and waits for its banner; returns the process and
/// the node id the banner names.
fn spawn(
    namespace: &str,
    data_dir: &Path,
    bin: &Path,
    log_path: &Path,
    ip: Ipv4Addr,
    seed: Option<SocketAddr>,
    extra: &[(&str, &str)],
) -> (Child, String) {
    std::fs::create_dir_all(data_dir).expect("data dir");
    let log =
        std::fs::OpenOptions::new().create(true).append(true).open(log_path).expect("node log");
    let mut command = Command::new("ip");
    command
        .args(["netns", "exec", namespace])
        .arg(bin)
        .arg("server")
        .env("RINGVAULT_DATA_DIR", data_dir)
        .env("RINGVAULT_S3_ADDR", SocketAddr::from((ip, S3_PORT)).to_string())
        .env("RINGVAULT_ADMIN_ADDR", SocketAddr::from((ip, ADMIN_PORT)).to_string())
        .env("RINGVAULT_RPC_ADDR", SocketAddr::from((ip, RPC_PORT)).to_string())
        .env("RINGVAULT_CLUSTER_SECRET", CLUSTER_SECRET)
        .env("RINGVAULT_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("RINGVAULT_ACCESS_KEY_ID", ACCESS_KEY_ID)
        .env("RINGVAULT_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
        // Garbage goes after 20 s, not 10 minutes: the disks stay small, and reclamation
        // runs under the faults too.
        .env("RINGVAULT_RECLAIM_GRACE_MS", "20000")
        .env("RUST_LOG", std::env::var("CHAOS_NODE_LOG").unwrap_or_else(|_| "info".into()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log);
    match seed {
        Some(seed) => command.env("RINGVAULT_SEEDS", seed.to_string()),
        None => command.env_remove("RINGVAULT_SEEDS"),
    };
    for (name, value) in extra {
        command.env(name, value);
    }
    let mut child = command.spawn().expect("ip netns exec ringvault");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        let mut lines = std::io::BufReader::new(stdout).lines();
        let mut id = None;
        for line in lines.by_ref() {
            let Ok(line) = line else { break };
            if let Some(rest) = line.strip_prefix("Cluster RPC:") {
                id = rest.split("node id ").nth(1).map(|h| h.trim_end_matches(')').to_owned());
            }
            if line.contains("aws --endpoint-url") {
                break;
            }
        }
        let _ = tx.send(id);
        // Keep draining so that the node never blocks on a full pipe.
        for _ in lines {}
    });
    match rx.recv_timeout(Duration::from_secs(60)).ok().flatten() {
        Some(id) => (child, id),
        None => {
            let _ = child.kill();
            panic!("the node in {namespace} did not start; see {}", log_path.display());
        }
    }
}

/// Runs `docker ARGS`; panics, with what docker said, unless it succeeds. Returns its output.
fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().expect("run docker");
    assert!(
        out.status.success(),
        "docker {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The id of the node in container `name`, once its admin API answers (60 s at most).
async fn container_id(admin: &AdminClient, name: &str) -> String {
    let mut id = None;
    wait_for(&format!("{name} to answer"), Duration::from_secs(60), async || {
        if let Ok(Ok(status)) = tokio::time::timeout(ADMIN_CALL, admin.status()).await {
            id = Some(status.node_id);
        }
        id.is_some()
    })
    .await;
    id.expect("waited for it")
}

/// Stages every node into one layout (a zone each) through the first, applies it, and waits
/// until every node runs it.
pub async fn form_ring(nodes: &[Node]) {
    let admin = nodes[0].admin();
    let ids: Vec<String> = nodes.iter().map(|n| n.id.clone().expect("started")).collect();
    wait_for("every node to be seen up by the first", Duration::from_secs(60), async || {
        nodes[0].sees_up().await.is_some_and(|up| ids.iter().all(|id| up.contains(id)))
    })
    .await;
    for (i, id) in ids.iter().enumerate() {
        let add =
            ClusterChange::Add { node_id: id.clone(), zone: Some(format!("z{i}")), capacity: None };
        admin.stage_change(&add).await.expect("stage a member");
    }
    let applied = admin.apply_changes().await.expect("apply the layout");
    assert_eq!(applied.members, nodes.len());
    for node in nodes {
        let admin = node.admin();
        wait_for("every node to run the layout", Duration::from_secs(60), async || {
            admin.cluster_status().await.is_ok_and(|s| s.layout_version >= applied.layout_version)
        })
        .await;
    }
}

/// Waits until every container's node runs a layout with them all (the first node applies it
/// itself: `RINGVAULT_BOOTSTRAP_NODES`) and sees them all up; learns their ids.
pub async fn await_ring(nodes: &mut [Node]) {
    for node in nodes.iter_mut() {
        node.id = Some(container_id(&node.admin(), &format!("node {}", node.index)).await);
    }
    let ids: Vec<String> = nodes.iter().filter_map(|n| n.id.clone()).collect();
    for node in nodes.iter() {
        let admin = node.admin();
        wait_for("every node to run a layout of them all", Duration::from_secs(120), async || {
            admin.cluster_status().await.is_ok_and(|s| {
                ids.iter().all(|id| s.nodes.iter().any(|n| &n.node_id == id && n.in_layout && n.up))
            })
        })
        .await;
    }
}

/// Polls `done` every 200 ms until it holds; panics after `limit`.
pub async fn wait_for(what: &str, limit: Duration, mut done: impl AsyncFnMut() -> bool) {
    use ringvault::clock::Clock;
    let deadline = ringvault::clock::SystemClock.monotonic() + limit;
    while ringvault::clock::SystemClock.monotonic() < deadline {
        if done().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("timed out after {limit:?} waiting for {what}");
}
