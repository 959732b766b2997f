//! The ring under test: `ringvault server` processes, one per network namespace, and the faults
//! done to them. `run.sh` made the namespaces (`<prefix>-n<i>`, address `10.77.0.<10+i>`, all on
//! one bridge with the driver at `10.77.0.1`); everything here acts through `ip netns exec`,
//! `kill` and `iptables` inside a node's own namespace, so nothing outside them is touched.

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
/// Longest a driver's admin call may take (a paused node never answers).
const ADMIN_CALL: Duration = Duration::from_secs(2);

/// One node of the ring.
pub struct Node {
    pub index: usize,
    pub namespace: String,
    pub ip: Ipv4Addr,
    pub data_dir: PathBuf,
    /// The node id, known once it first started.
    pub id: Option<String>,
    child: Option<Child>,
    bin: PathBuf,
    log: PathBuf,
}

impl Node {
    pub fn new(index: usize, prefix: &str, bin: &Path, data_dir: PathBuf, log: PathBuf) -> Node {
        Node {
            index,
            namespace: format!("{prefix}-n{index}"),
            ip: Ipv4Addr::new(10, 77, 0, 10 + u8::try_from(index).expect("few nodes")),
            data_dir,
            id: None,
            child: None,
            bin: bin.to_owned(),
            log,
        }
    }

    pub fn s3_endpoint(&self) -> String {
        format!("http://{}:{S3_PORT}", self.ip)
    }

    pub fn rpc_addr(&self) -> SocketAddr {
        SocketAddr::from((self.ip, RPC_PORT))
    }

    pub fn admin(&self) -> AdminClient {
        let addr = SocketAddr::from((self.ip, ADMIN_PORT)).to_string();
        AdminClient::new(&addr, AdminToken::new(ADMIN_TOKEN.into())).expect("a valid address")
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Starts the node in its namespace (joining through `seed`) and waits for its banner.
    pub fn start(&mut self, seed: Option<SocketAddr>, extra: &[(&str, &str)]) {
        assert!(self.child.is_none(), "node {} is already running", self.index);
        std::fs::create_dir_all(&self.data_dir).expect("data dir");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("node log");
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", &self.namespace])
            .arg(&self.bin)
            .arg("server")
            .env("RINGVAULT_DATA_DIR", &self.data_dir)
            .env("RINGVAULT_S3_ADDR", SocketAddr::from((self.ip, S3_PORT)).to_string())
            .env("RINGVAULT_ADMIN_ADDR", SocketAddr::from((self.ip, ADMIN_PORT)).to_string())
            .env("RINGVAULT_RPC_ADDR", self.rpc_addr().to_string())
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
        let id = rx.recv_timeout(Duration::from_secs(60)).ok().flatten();
        let Some(id) = id else {
            let _ = child.kill();
            panic!("node {} did not start; see {}", self.index, self.log.display());
        };
        self.id = Some(id);
        self.child = Some(child);
    }

    /// `kill -9`: the process and everything in flight in it are gone.
    pub fn kill_9(&mut self) {
        if let Some(mut child) = self.child.take() {
            // `ip netns exec` execs the node: the child is the node itself.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, and wait for a clean exit.
    pub fn terminate(&mut self) -> bool {
        let Some(mut child) = self.child.take() else { return true };
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

    /// SIGSTOP: the node keeps its connections open and answers nothing.
    pub fn pause(&self) {
        if let Some(child) = &self.child {
            signal(child.id(), "STOP");
        }
    }

    pub fn resume(&self) {
        if let Some(child) = &self.child {
            signal(child.id(), "CONT");
        }
    }

    /// Whether the process has died by itself.
    pub fn crashed(&mut self) -> bool {
        match self.child.as_mut().map(Child::try_wait) {
            Some(Ok(Some(_))) => {
                self.child = None;
                true
            }
            _ => false,
        }
    }

    /// Cuts the node off from every other node, both ways, silently (packets dropped, no
    /// reset): only the driver at `10.77.0.1` still reaches it.
    pub fn partition(&self) {
        for rule in [
            ["INPUT", "-s", "10.77.0.1", "-j", "ACCEPT"],
            ["INPUT", "-s", "10.77.0.0/24", "-j", "DROP"],
            ["OUTPUT", "-d", "10.77.0.1", "-j", "ACCEPT"],
            ["OUTPUT", "-d", "10.77.0.0/24", "-j", "DROP"],
        ] {
            self.iptables(&["-A"], &rule);
        }
    }

    pub fn heal(&self) {
        self.iptables(&["-F"], &[]);
    }

    fn iptables(&self, verb: &[&str], rule: &[&str]) {
        let status = Command::new("ip")
            .args(["netns", "exec", &self.namespace, "iptables"])
            .args(verb)
            .args(rule)
            .status()
            .expect("iptables");
        assert!(status.success(), "iptables {verb:?} {rule:?} in {}", self.namespace);
    }

    /// Fills the node's data directory (a small tmpfs) until the disk is full. Refuses, loudly,
    /// unless that directory is a tmpfs mount of its own: never the machine's disk.
    pub fn fill_disk(&self) -> u64 {
        use std::io::Write;
        let dir = self.data_dir.canonicalize().expect("data dir");
        let mounts = std::fs::read_to_string("/proc/self/mounts").expect("mount table");
        let own_tmpfs = mounts.lines().any(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            fields.len() > 2 && fields[2] == "tmpfs" && std::path::Path::new(fields[1]) == dir
        });
        assert!(own_tmpfs, "refusing to fill {}: it is not a tmpfs of its own", dir.display());
        let mut file = std::fs::File::create(self.filler()).expect("filler file");
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
        let _ = std::fs::remove_file(self.filler());
    }

    fn filler(&self) -> PathBuf {
        self.data_dir.join("chaos-filler")
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

fn signal(pid: u32, name: &str) {
    let _ = Command::new("kill").arg(format!("-{name}")).arg(pid.to_string()).status();
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
