//! `ringvault cluster status|add|remove|forget|set|apply`, `ringvault repair` and `ringvault health`.

use clap::Subcommand;
use ringvault::admin::AdminClient;
use ringvault::admin::api::{
    ClusterChange, ClusterStatus, NodeReport, RepairProgress, RepairRequest,
};
use ringvault::clock::{Clock, SystemClock};

/// Why `ringvault health` exits 1 for a node that answered.
#[derive(Debug, thiserror::Error)]
#[error("node {node_id} cannot serve: {}", problems.join("; "))]
pub struct Unhealthy {
    node_id: String,
    problems: Vec<String>,
}

#[derive(Subcommand)]
pub enum ClusterCommand {
    /// Every node this node knows: address, zone, capacity, up/down, partitions, disk used and
    /// free, hints held, rebalance and repair; the layout version, N/R/W and this node's work.
    Status {
        /// Redraw every --interval seconds until interrupted (with --json: one document per
        /// line).
        #[arg(long)]
        watch: bool,
        /// Seconds between two redraws of --watch.
        #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=3600))]
        interval: u64,
    },
    /// Stage adding a node (seen by gossip) to the layout.
    Add {
        /// The node's id, in hex, as `cluster status` shows it.
        node_id: String,
        #[arg(long)]
        zone: Option<String>,
        #[arg(long)]
        capacity: Option<u64>,
    },
    /// Stage removing a node from the layout.
    Remove { node_id: String },
    /// Forget a node that left the layout and will not come back (its disk is lost): tombstone
    /// purges stop waiting for it. A node that left waits to be forgotten only if it stopped
    /// before its clean-up said it holds nothing; a forgotten node drops its data if it runs
    /// again, and must be wiped to rejoin.
    Forget { node_id: String },
    /// Stage changing a member's zone or capacity.
    Set {
        node_id: String,
        #[arg(long)]
        zone: Option<String>,
        #[arg(long)]
        capacity: Option<u64>,
    },
    /// Stage doubling the partition count (each partition splits into two halves that keep
    /// its owners; no data moves): for a cluster that outgrew its partitions. Applied alone.
    SplitPartitions,
    /// Commit the staged changes as the next layout version (gossip spreads it). Refused
    /// while an earlier change is still being synced, unless --force.
    Apply {
        /// Apply on top of a change still being synced (conditional writes answer 503 until
        /// both settled).
        #[arg(long)]
        force: bool,
    },
}

pub async fn run(client: &AdminClient, command: ClusterCommand, json: bool) -> anyhow::Result<()> {
    let change = match command {
        ClusterCommand::Status { watch: false, .. } => {
            let status = client.cluster_status().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&status)?);
            } else {
                print_status(&status);
            }
            return Ok(());
        }
        ClusterCommand::Status { watch: true, interval } => {
            return watch(client, std::time::Duration::from_secs(interval), json).await;
        }
        ClusterCommand::Apply { force } => {
            let result = if force {
                client.apply_changes_forced().await?
            } else {
                client.apply_changes().await?
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&result)?);
            } else {
                println!(
                    "Applied layout version {}: {} members, {} replica slots moved.",
                    result.layout_version, result.members, result.moved_replicas
                );
            }
            return Ok(());
        }
        ClusterCommand::Forget { node_id } => {
            let forgotten = client.forget_node(&node_id).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&forgotten)?);
            } else {
                println!("Forgot node {}: the cluster no longer waits for it.", forgotten.node_id);
            }
            return Ok(());
        }
        ClusterCommand::Add { node_id, zone, capacity } => {
            ClusterChange::Add { node_id, zone, capacity }
        }
        ClusterCommand::Remove { node_id } => ClusterChange::Remove { node_id },
        ClusterCommand::SplitPartitions => ClusterChange::SplitPartitions,
        ClusterCommand::Set { node_id, zone, capacity } => {
            ClusterChange::Set { node_id, zone, capacity }
        }
    };
    let staged = client.stage_change(&change).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&staged)?);
    } else {
        println!(
            "Staged ({} change(s)); run `ringvault cluster apply` to commit them.",
            staged.len()
        );
    }
    Ok(())
}

/// `cluster status --watch`: the status again every `interval` until interrupted. A node that
/// does not answer is said so, and asked again at the next tick.
async fn watch(
    client: &AdminClient,
    interval: std::time::Duration,
    json: bool,
) -> anyhow::Result<()> {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let status = client.cluster_status().await;
        let at = SystemClock.now().format("%Y-%m-%d %H:%M:%S UTC");
        match (status, json) {
            (Ok(status), true) => println!("{}", serde_json::to_string(&status)?),
            (Err(e), true) => {
                println!("{}", serde_json::json!({ "error": e.to_string(), "at": at.to_string() }))
            }
            (status, false) => {
                // Clear the screen and home the cursor, then draw.
                print!("\x1b[2J\x1b[H");
                println!("{at}, every {} s (Ctrl-C to stop)\n", interval.as_secs());
                match status {
                    Ok(status) => print_status(&status),
                    Err(e) => println!("the node does not answer: {e}"),
                }
            }
        }
    }
}

/// Bytes as a short binary-unit figure (`1.5 GiB`).
fn bytes(n: u64) -> String {
    bytesize::ByteSize::b(n).display().iec().to_string()
}

/// A node's own figures for the status table; dashes when it did not answer.
fn report_columns(report: Option<&NodeReport>) -> [String; 5] {
    let Some(r) = report else { return std::array::from_fn(|_| "-".to_owned()) };
    let free = if r.disk_full {
        format!("{} FULL", bytes(r.disk.free_bytes))
    } else {
        bytes(r.disk.free_bytes)
    };
    let rebalance = match r.rebalance.partitions_pending {
        0 => "done".to_owned(),
        n => format!("{n} to pull"),
    };
    let p = &r.repair;
    let repair = match (p.running, p.passes) {
        (true, _) => format!("{}/{}", p.partitions_done, p.partitions_total),
        (false, 1..) => "idle".to_owned(),
        (false, 0) => "-".to_owned(),
    };
    [bytes(r.disk.used_bytes), free, r.hints_pending.to_string(), rebalance, repair]
}

fn print_status(status: &ClusterStatus) {
    println!("Node {} sees layout version {}", status.node_id, status.layout_version);
    println!(
        "N={} R={} W={}, {} partitions",
        status.replication_factor, status.read_quorum, status.write_quorum, status.partitions
    );
    println!(
        "{:<18} {:<22} {:<22} {:<10} {:>8} {:<6} {:<8} {:>10} {:>10} {:>14} {:>7} {:<12} {:<9}",
        "NODE",
        "RPC",
        "S3",
        "ZONE",
        "CAPACITY",
        "STATE",
        "LAYOUT",
        "PARTITIONS",
        "DISK USED",
        "DISK FREE",
        "HINTS",
        "REBALANCE",
        "REPAIR"
    );
    for n in &status.nodes {
        let [used, free, hints, rebalance, repair] = report_columns(n.report.as_ref());
        println!(
            "{:<18} {:<22} {:<22} {:<10} {:>8} {:<6} {:<8} {:>10} {used:>10} {free:>14} {hints:>7} {rebalance:<12} {repair:<9}",
            n.node_id,
            n.rpc_addr.as_deref().unwrap_or("-"),
            n.s3_addr.as_deref().unwrap_or("-"),
            n.zone,
            n.capacity,
            if n.up { "up" } else { "down" },
            match (n.in_layout, n.drained, n.forgotten) {
                (true, ..) => "member",
                (false, _, true) => "forgot",
                (false, true, false) => "-",
                // Left without saying it holds nothing: tombstone purges wait for it.
                (false, false, false) => "left",
            },
            n.partitions,
        );
    }
    let hints: u64 = status.pending_hints.iter().map(|h| h.count).sum();
    println!("Pending hints held here: {hints}");
    for h in &status.pending_hints {
        println!("  for {}: {}", h.node_id, h.count);
    }
    if !status.staged.is_empty() {
        println!("Staged changes: {}", status.staged.len());
    }
    let r = &status.rebalance;
    if r.partitions_pending > 0 || r.partitions_pulled > 0 {
        println!(
            "Rebalance: {} partitions to pull, {} pulled ({} items, {} blocks, {} bytes){}",
            r.partitions_pending,
            r.partitions_pulled,
            r.items_pulled,
            r.blocks_pulled,
            r.bytes_pulled,
            match (r.partitions_pending, r.eta_ms) {
                (1.., Some(eta)) => format!(", about {:.0} s left", eta as f64 / 1000.0),
                _ => String::new(),
            }
        );
    }
    print_repair(&status.repair);
    let g = &status.gc;
    println!(
        "Garbage: {} tombstones held; since start {} purged everywhere ({} rounds put off), {} bodies reclaimed",
        g.tombstones, g.tombstones_purged, g.purge_postponed, g.bodies_reclaimed
    );
    let l = &status.lifecycle;
    println!(
        "Lifecycle ({}, {} passes, {} buckets in this pass): since start {} expired, {} delete markers and {} noncurrent versions removed, {} uploads aborted, {} skipped",
        if l.running { "running" } else { "idle" },
        l.passes,
        l.pass_buckets_done,
        l.totals.expired,
        l.totals.markers_removed,
        l.totals.noncurrent_removed,
        l.totals.uploads_aborted,
        l.totals.skipped
    );
    let s = &status.scrub;
    if s.passes == 0 {
        println!("Scrub: no pass yet");
    } else {
        println!(
            "Scrub ({}, pass {}): {} blocks ({} bytes) checked, {} corrupt, {} replaced, {} not yet; {:.1} s",
            if s.running { "running" } else { "last pass done" },
            s.passes,
            s.blocks_checked,
            s.bytes_checked,
            s.corrupt,
            s.repaired,
            s.unrepaired,
            s.elapsed_ms as f64 / 1000.0
        );
    }
}

/// `ringvault repair [--partition P]`.
pub async fn repair(
    client: &AdminClient,
    partition: Option<u32>,
    scrub: bool,
    json: bool,
) -> anyhow::Result<()> {
    let accepted = client.repair(&RepairRequest { partition, scrub }).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&accepted)?);
    } else {
        match partition {
            _ if scrub => println!("Scrub of every block this node stores requested."),
            Some(p) => println!("Anti-entropy pass of partition {p} requested."),
            None => println!("Anti-entropy pass of every partition this node owns requested."),
        }
        println!("Follow it with `ringvault cluster status`.");
    }
    Ok(())
}

/// `ringvault health`: Ok when the node can serve, `Unhealthy` when it says it cannot.
pub async fn health(client: &AdminClient, json: bool) -> anyhow::Result<()> {
    let health = client.health().await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&health)?);
    } else if health.healthy {
        println!(
            "node {} can serve: {} of {} members up (R={}, W={}), {} partitions degraded",
            health.node_id,
            health.members_up,
            health.members,
            health.read_quorum,
            health.write_quorum,
            health.partitions_degraded
        );
    }
    if health.healthy {
        return Ok(());
    }
    Err(Unhealthy { node_id: health.node_id, problems: health.problems }.into())
}

fn print_repair(r: &RepairProgress) {
    if r.passes == 0 {
        println!("Anti-entropy: no pass yet");
        return;
    }
    let scope = r
        .partition
        .map_or_else(|| "every owned partition".to_owned(), |p| format!("partition {p}"));
    let state = if r.running { "running" } else { "last pass done" };
    println!(
        "Anti-entropy ({state}, pass {}, {scope}): {}/{} partitions, {} repaired, {} skipped; \
         {} items, {} blocks, {} bytes moved; {:.1} s elapsed{}",
        r.passes,
        r.partitions_done,
        r.partitions_total,
        r.partitions_repaired,
        r.partitions_skipped,
        r.items_moved,
        r.blocks_moved,
        r.bytes_moved,
        r.elapsed_ms as f64 / 1000.0,
        match (r.running, r.eta_ms) {
            (true, Some(eta)) => format!(", about {:.0} s left", eta as f64 / 1000.0),
            _ => String::new(),
        }
    );
}
