//! `ringvault cluster status|add|remove|set|apply`.

use clap::Subcommand;
use ringvault::admin::AdminClient;
use ringvault::admin::api::{ClusterChange, ClusterStatus};

#[derive(Subcommand)]
pub enum ClusterCommand {
    /// Every node this node knows: address, zone, capacity, up/down, partitions; the layout
    /// version, N/R/W and pending hints.
    Status,
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
    /// Stage changing a member's zone or capacity.
    Set {
        node_id: String,
        #[arg(long)]
        zone: Option<String>,
        #[arg(long)]
        capacity: Option<u64>,
    },
    /// Commit the staged changes as the next layout version (gossip spreads it).
    Apply,
}

pub async fn run(client: &AdminClient, command: ClusterCommand, json: bool) -> anyhow::Result<()> {
    let change = match command {
        ClusterCommand::Status => {
            let status = client.cluster_status().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&status)?);
            } else {
                print_status(&status);
            }
            return Ok(());
        }
        ClusterCommand::Apply => {
            let result = client.apply_changes().await?;
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
        ClusterCommand::Add { node_id, zone, capacity } => {
            ClusterChange::Add { node_id, zone, capacity }
        }
        ClusterCommand::Remove { node_id } => ClusterChange::Remove { node_id },
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

fn print_status(status: &ClusterStatus) {
    println!("Node {} sees layout version {}", status.node_id, status.layout_version);
    println!(
        "N={} R={} W={}, {} partitions",
        status.replication_factor, status.read_quorum, status.write_quorum, status.partitions
    );
    println!(
        "{:<18} {:<22} {:<22} {:<10} {:>8} {:<6} {:<8} {:>10}",
        "NODE", "RPC", "S3", "ZONE", "CAPACITY", "STATE", "LAYOUT", "PARTITIONS"
    );
    for n in &status.nodes {
        println!(
            "{:<18} {:<22} {:<22} {:<10} {:>8} {:<6} {:<8} {:>10}",
            n.node_id,
            n.rpc_addr.as_deref().unwrap_or("-"),
            n.s3_addr.as_deref().unwrap_or("-"),
            n.zone,
            n.capacity,
            if n.up { "up" } else { "down" },
            if n.in_layout { "member" } else { "-" },
            n.partitions
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
}
