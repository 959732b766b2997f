//! The chaos suite's driver. `chaos/run.sh` prepares one network namespace per node and runs
//! this inside the hub namespace; this starts the ring (or, with `--containers`, takes the
//! running containers of a compose cluster, as `docker/test.sh` does), runs the workload on every endpoint,
//! injects the faults one after another (kill -9 and restart, SIGSTOP and SIGCONT, a two-way
//! partition of one node, a full disk, kill -9 of every node), heals, checks what the ring
//! holds against the history of every acknowledged operation, and reports availability and
//! latency per fault. It exits non-zero on any violation. Bounded: every phase has a duration,
//! every wait a limit.

mod checks;
mod nodes;
mod workload;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use clap::Parser;
use ringvault::clock::{Clock, SystemClock};

use nodes::{Node, await_ring, form_ring};
use workload::{BUCKET, Sample, Shared, Worker};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Fault {
    /// kill -9 one node, then restart it.
    Kill,
    /// SIGSTOP one node, then SIGCONT.
    Stop,
    /// Cut one node off from the others, both ways, silently.
    Partition,
    /// Fill one node's disk, then free it.
    Disk,
    /// kill -9 every node, then restart them all.
    KillAll,
}

#[derive(Debug, Parser)]
struct Args {
    /// Namespace prefix `run.sh` used (`<prefix>-n<i>`).
    #[arg(long, required_unless_present = "containers")]
    prefix: Option<String>,
    #[arg(long, default_value_t = 3)]
    nodes: usize,
    /// The `ringvault` binary.
    #[arg(long, required_unless_present = "containers")]
    bin: Option<PathBuf>,
    /// The nodes are these running containers (a compose cluster that applied its layout
    /// itself) instead of processes of ours: faults are `docker kill`/`start`, `docker
    /// pause`/`unpause` and `docker network disconnect`/`connect`; no disk fault, and no
    /// reads from each owner alone at the end.
    #[arg(long, value_delimiter = ',', requires = "network", conflicts_with = "prefix")]
    containers: Vec<String>,
    /// The docker network the containers talk over.
    #[arg(long)]
    network: Option<String>,
    /// Data directories, logs and the report go here.
    #[arg(long)]
    work_dir: PathBuf,
    /// The node whose data directory is a small tmpfs (for the full-disk fault).
    #[arg(long)]
    disk_node: Option<usize>,
    /// Faults, in order.
    #[arg(long, value_delimiter = ',', default_value = "kill,stop,partition,disk,kill-all")]
    faults: Vec<Fault>,
    /// How long each fault lasts.
    #[arg(long, default_value_t = 20)]
    fault_secs: u64,
    /// The no-fault phase at the start (the baseline) and after each healing.
    #[arg(long, default_value_t = 15)]
    calm_secs: u64,
    #[arg(long, default_value_t = 2)]
    workers_per_endpoint: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Count missed availability targets (>= 99.9 % and p99 < 1 s on healthy endpoints while
    /// a node is paused or partitioned) as violations.
    #[arg(long)]
    enforce_targets: bool,
}

/// One stretch of the run with the same faults in force.
struct Phase {
    name: String,
    /// Endpoints whose node is faulty in this phase.
    faulty: Vec<usize>,
    started: Instant,
    ended: Instant,
    hints_peak: u64,
    /// Time from healing until no node held a hint.
    converged: Option<Duration>,
    /// Whether the availability target applies.
    targeted: bool,
}

fn now() -> Instant {
    SystemClock.monotonic()
}

struct Run {
    args: Args,
    nodes: Vec<Node>,
    shared: Arc<Shared>,
    phases: Vec<Phase>,
    violations: Vec<String>,
}

impl Run {
    fn begin(&mut self, name: String, faulty: Vec<usize>, targeted: bool) {
        let at = now();
        if let Some(last) = self.phases.last_mut() {
            last.ended = at;
        }
        self.phases.push(Phase {
            name,
            faulty,
            started: at,
            ended: at,
            hints_peak: 0,
            converged: None,
            targeted,
        });
        self.shared.phase.store(self.phases.len() - 1, Ordering::Relaxed);
    }

    fn seed_for(&self, i: usize) -> Option<std::net::SocketAddr> {
        let n = self.nodes.len();
        (n > 1).then(|| self.nodes[(i + 1) % n].rpc_addr())
    }

    /// Waits `secs`, sampling the hint gauges once a second, and crash-checks the nodes.
    async fn hold(&mut self, secs: u64) {
        let until = now() + Duration::from_secs(secs);
        while now() < until {
            let hints = self.total_hints().await;
            if let Some(phase) = self.phases.last_mut() {
                phase.hints_peak = phase.hints_peak.max(hints.0);
            }
            for node in &mut self.nodes {
                if node.crashed() {
                    self.violations.push(format!("node {} died by itself", node.index));
                }
            }
            tokio::time::sleep(Duration::from_millis(1000)).await;
        }
    }

    /// Hints held over the nodes that answered, and whether all running nodes answered.
    async fn total_hints(&self) -> (u64, bool) {
        let counts = futures_util::future::join_all(
            self.nodes.iter().filter(|n| n.is_running()).map(Node::hints),
        )
        .await;
        let all = counts.iter().all(Option::is_some);
        (counts.into_iter().flatten().sum(), all)
    }

    /// After healing: waits until every node answers and holds no hint; the time it took is
    /// the current phase's (unless `final_check`: the one after the workload stopped).
    async fn converge(&mut self, final_check: bool) {
        let healed = now();
        let limit = Duration::from_secs(180);
        loop {
            let (hints, all) = self.total_hints().await;
            if !final_check && let Some(phase) = self.phases.last_mut() {
                phase.hints_peak = phase.hints_peak.max(hints);
            }
            if all && hints == 0 {
                break;
            }
            if now().saturating_duration_since(healed) > limit {
                self.violations
                    .push(format!("hints did not drain within {limit:?} ({hints} left)"));
                return;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        if !final_check && let Some(phase) = self.phases.last_mut() {
            phase.converged = Some(now().saturating_duration_since(healed));
        }
    }

    async fn inject(&mut self, fault: Fault, round: usize) {
        let n = self.nodes.len();
        let target = match fault {
            Fault::Disk => self.args.disk_node.unwrap_or(n - 1),
            _ => (round + 1) % n,
        };
        let hold = self.args.fault_secs;
        // What the fault is called in the report: the docker command for a container.
        let docker = self.nodes[target].is_container();
        let (kill, stop, cut) = if docker {
            ("docker kill", "docker pause", "docker network disconnect")
        } else {
            ("kill -9", "SIGSTOP", "partition")
        };
        match fault {
            Fault::Kill => {
                self.begin(format!("{kill} node {target}"), vec![target], false);
                self.nodes[target].kill_9();
                self.hold(hold).await;
                let seed = self.seed_for(target);
                self.nodes[target].start(seed, &[]).await;
            }
            Fault::Stop => {
                self.begin(format!("{stop} node {target} ({hold} s)"), vec![target], true);
                self.nodes[target].pause();
                self.hold(hold).await;
                self.nodes[target].resume();
            }
            Fault::Partition => {
                self.begin(format!("{cut} node {target} ({hold} s)"), vec![target], true);
                self.nodes[target].partition();
                self.hold(hold).await;
                self.nodes[target].heal();
            }
            Fault::Disk => {
                self.begin(format!("disk full on node {target}"), vec![target], false);
                let filled = self.nodes[target].fill_disk();
                eprintln!("chaos: filled node {target}'s disk with {} MiB", filled >> 20);
                // Fresh data through another node: every replica, the full one included, must
                // grow its store (pages freed inside the file could absorb the normal load).
                let through = (target + 1) % n;
                let burst = tokio::spawn(workload::burst(
                    self.shared.clone(),
                    self.nodes[through].s3_endpoint(),
                    through,
                    64,
                    4 << 20,
                ));
                self.hold(hold).await;
                if burst.await.is_err() {
                    self.violations.push("the write burst of the full-disk fault panicked".into());
                }
                self.nodes[target].free_disk();
            }
            Fault::KillAll => {
                self.begin(format!("{kill} every node"), (0..n).collect(), false);
                for node in &mut self.nodes {
                    node.kill_9();
                }
                self.hold(2).await;
                for i in 0..n {
                    let seed = self.seed_for(i);
                    self.nodes[i].start(seed, &[]).await;
                }
            }
        }
        self.begin(
            format!(
                "recovery after: {}",
                self.phases.last().map_or("", |p| p.name.as_str()).to_owned()
            ),
            Vec::new(),
            false,
        );
        self.converge(false).await;
        self.hold(self.args.calm_secs).await;
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// One line of the report per phase; returns the lines and the targets missed.
fn report(
    phases: &[Phase],
    samples: &[Sample],
    endpoint_count: usize,
) -> (Vec<String>, Vec<String>) {
    let mut lines = vec![format!(
        "{:<48} {:>7} {:>9} {:>8} {:>8} {:>7} {:>6} {:>9}  {}",
        "phase (rate: per healthy endpoint, vs baseline)",
        "ops",
        "healthy%",
        "p50 ms",
        "p99 ms",
        "rate",
        "hints",
        "converge",
        "failed per node (t: client timeouts)"
    )];
    let mut missed = Vec::new();
    let mut baseline_rate = None;
    for (i, phase) in phases.iter().enumerate() {
        let healthy: Vec<&Sample> = samples
            .iter()
            .filter(|s| s.phase == i && !phase.faulty.contains(&s.endpoint))
            .collect();
        let ok = healthy.iter().filter(|s| s.ok).count();
        let availability =
            if healthy.is_empty() { 100.0 } else { 100.0 * ok as f64 / healthy.len() as f64 };
        let mut latencies: Vec<Duration> = healthy.iter().map(|s| s.latency).collect();
        latencies.sort_unstable();
        let (p50, p99) = (percentile(&latencies, 0.5), percentile(&latencies, 0.99));
        let secs = phase.ended.saturating_duration_since(phase.started).as_secs_f64().max(0.001);
        // Requests per second per healthy endpoint: faults that take an endpoint out do not
        // count against the others.
        let endpoints = endpoint_count.saturating_sub(phase.faulty.len()).max(1) as f64;
        let rate = healthy.len() as f64 / secs / endpoints;
        let baseline = *baseline_rate.get_or_insert(rate);
        let relative = if baseline > 0.0 { rate / baseline } else { 0.0 };
        lines.push(format!(
            "{:<48} {:>7} {:>8.2}% {:>8.0} {:>8.0} {:>6.2}x {:>6} {:>9}  {}",
            phase.name,
            healthy.len(),
            availability,
            p50.as_secs_f64() * 1000.0,
            p99.as_secs_f64() * 1000.0,
            relative,
            phase.hints_peak,
            phase.converged.map_or("-".into(), |d| format!("{:.1} s", d.as_secs_f64())),
            (0..endpoint_count)
                .map(|e| {
                    let failed =
                        samples.iter().filter(|s| s.phase == i && s.endpoint == e && !s.ok);
                    let (n, t) =
                        failed.fold((0, 0), |(n, t), s| (n + 1, t + usize::from(s.timed_out)));
                    if t > 0 { format!("n{e}:{n}(t{t})") } else { format!("n{e}:{n}") }
                })
                .collect::<Vec<_>>()
                .join(" "),
        ));
        if phase.targeted && (availability < 99.9 || p99 >= Duration::from_secs(1)) {
            missed.push(format!(
                "target missed in '{}': {availability:.2}% available, p99 {:.0} ms",
                phase.name,
                p99.as_secs_f64() * 1000.0
            ));
        }
    }
    (lines, missed)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = Args::parse();
    std::fs::create_dir_all(&args.work_dir).expect("work dir");
    let in_containers = !args.containers.is_empty();
    if in_containers && args.faults.contains(&Fault::Disk) {
        eprintln!("chaos: the disk fault needs nodes of ours, not containers");
        std::process::exit(2);
    }
    let nodes: Vec<Node> = match (&args.prefix, &args.bin, &args.network) {
        _ if in_containers => {
            let network = args.network.as_deref().expect("clap requires it");
            args.containers
                .iter()
                .enumerate()
                .map(|(i, c)| Node::container(i, c, network))
                .collect()
        }
        (Some(prefix), Some(bin), _) => (0..args.nodes)
            .map(|i| {
                let dir = args.work_dir.join(format!("n{i}-data"));
                let log = args.work_dir.join(format!("n{i}.log"));
                Node::new(i, prefix, bin, dir, log)
            })
            .collect(),
        _ => unreachable!("clap requires --prefix and --bin without --containers"),
    };
    let shared = Shared::new(&args.work_dir.join("operations.jsonl"));
    let mut run = Run { args, nodes, shared, phases: Vec::new(), violations: Vec::new() };
    let started = now();

    // The ring.
    if in_containers {
        await_ring(&mut run.nodes).await;
    } else {
        run.nodes[0].start(None, &[]).await;
        let seed = run.nodes[0].rpc_addr();
        for node in &mut run.nodes[1..] {
            node.start(Some(seed), &[]).await;
        }
        form_ring(&run.nodes).await;
    }
    let admin_s3 = workload::client(&run.nodes[0].s3_endpoint());
    nodes::wait_for("the bucket to be created", Duration::from_secs(30), async || {
        admin_s3.create_bucket().bucket(BUCKET).send().await.is_ok()
    })
    .await;
    eprintln!(
        "chaos: ring of {} formed in {:.1} s",
        run.nodes.len(),
        now().duration_since(started).as_secs_f64()
    );

    // The workload.
    let mut workers = Vec::new();
    for (endpoint, node) in run.nodes.iter().enumerate() {
        for w in 0..run.args.workers_per_endpoint {
            let id = endpoint * run.args.workers_per_endpoint + w;
            let seed = run.args.seed.wrapping_mul(1000).wrapping_add(id as u64);
            let worker = Worker::new(id, endpoint, &node.s3_endpoint(), run.shared.clone(), seed);
            workers.push(tokio::spawn(worker.run()));
        }
    }
    run.begin("baseline (no fault)".into(), Vec::new(), false);
    run.hold(run.args.calm_secs).await;
    let faults = run.args.faults.clone();
    for (round, fault) in faults.into_iter().enumerate() {
        eprintln!("chaos: fault {round}: {fault:?}");
        run.inject(fault, round).await;
    }
    run.shared.stop.store(true, Ordering::Relaxed);
    for worker in workers {
        if tokio::time::timeout(Duration::from_secs(60), worker).await.is_err() {
            run.violations.push("a worker did not stop within 60 s".into());
        }
    }
    if let Some(last) = run.phases.last_mut() {
        last.ended = now();
    }
    run.shared.flush_log();

    // Settle and check.
    run.converge(true).await;
    let (reads, found) = checks::through_the_ring(&run.nodes, &run.shared).await;
    run.violations.extend(found);
    let (open, found) = checks::uploads(&run.nodes[0], &run.shared).await;
    run.violations.extend(found);
    for node in &mut run.nodes {
        if !node.terminate() {
            run.violations.push(format!("node {} did not exit cleanly on SIGTERM", node.index));
        }
    }
    // A container keeps its settings: it cannot be started alone with R = 1.
    let mut alone = Vec::new();
    if !in_containers {
        let layout = checks::stored_layout(&run.nodes[0]).await;
        for i in 0..run.nodes.len() {
            let (checked, found) = checks::alone(&mut run.nodes[i], &layout, &run.shared).await;
            alone.push(checked);
            run.violations.extend(found);
        }
    }
    run.violations.extend(run.shared.violations.lock().unwrap().iter().cloned());

    // The report.
    let samples = run.shared.samples.lock().unwrap().clone();
    let (lines, missed) = report(&run.phases, &samples, run.nodes.len());
    let history = run.shared.history.lock().unwrap().clone();
    let acked =
        history.values().flatten().filter(|o| o.outcome == workload::Outcome::Acked).count();
    let unknown = history.values().flatten().count() - acked;
    let mut text = vec![
        format!(
            "RingVault chaos run: {} nodes, seed {}, {:.0} s",
            run.nodes.len(),
            run.args.seed,
            now().duration_since(started).as_secs_f64()
        ),
        format!(
            "operations: {} requests, {acked} acknowledged writes, {unknown} writes of unknown outcome, {} keys; stale reads during faults: {}",
            samples.len(),
            history.len(),
            run.shared.stale_reads.load(Ordering::Relaxed)
        ),
        format!("faults: {:?}", run.args.faults),
        String::new(),
    ];
    text.extend(lines);
    text.push(String::new());
    let mut per_node: Vec<String> = alone
        .iter()
        .enumerate()
        .map(|(i, c)| c.map_or(format!("n{i}: cannot serve alone"), |c| format!("n{i}: {c}")))
        .collect();
    if in_containers {
        per_node.push("not run: containers keep their settings".into());
    }
    text.push(format!(
        "checks: {reads} reads through the ring, {} owner reads alone ({}), {open} uploads open (none the workload aborted may be)",
        alone.iter().flatten().sum::<usize>(),
        per_node.join(", ")
    ));
    for m in &missed {
        text.push(format!("{}: {m}", if run.args.enforce_targets { "VIOLATION" } else { "note" }));
    }
    if run.args.enforce_targets {
        run.violations.extend(missed);
    }
    text.push(format!("violations: {}", run.violations.len()));
    for v in run.violations.iter().take(50) {
        text.push(format!("  - {v}"));
    }
    if run.violations.len() > 50 {
        text.push(format!(
            "  ... every one in {}",
            run.args.work_dir.join("violations.txt").display()
        ));
    }
    std::fs::write(run.args.work_dir.join("violations.txt"), run.violations.join("\n"))
        .expect("write the violations");
    let text = text.join("\n");
    println!("{text}");
    std::fs::write(run.args.work_dir.join("report.txt"), &text).expect("write the report");
    std::process::exit(i32::from(!run.violations.is_empty()));
}
