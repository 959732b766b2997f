//! The ring at internet scale, by simulation: placement for a 1,000-node ring, no network.
//!
//! Builds a layout for `SCALE_NODES` members (default 1,000) in `SCALE_ZONES` zones (10) with
//! mixed capacities (1, 2 and 4), `2^SCALE_BITS` partitions (16) and N = 3, then adds one
//! node, and prints: how long each layout took to compute, the worst deviation of a node's
//! replica count from its capacity share, how many replicas the join moved against the least
//! any assignment could, and the memory a node needs for membership state and for its Merkle
//! trees. Run: `cargo run --release --example ring_scale`.

use std::collections::BTreeMap;

use ringvault::clock::{Clock, SystemClock};
use ringvault::ring::{Layout, Member, NodeId, moved_replicas};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn members(n: u64, zones: u64) -> Vec<Member> {
    (0..n)
        .map(|i| Member {
            id: 0x1000_0000 + i * 7919,
            zone: format!("zone-{}", i % zones),
            capacity: [1, 2, 4][(i % 3) as usize],
        })
        .collect()
}

fn slots(layout: &Layout) -> BTreeMap<NodeId, u64> {
    let mut counts = BTreeMap::new();
    for &id in layout.assignments().iter().flatten() {
        *counts.entry(id).or_insert(0) += 1;
    }
    counts
}

/// The largest relative distance of a node's replica count from its capacity share.
fn worst_deviation(layout: &Layout) -> f64 {
    let counts = slots(layout);
    let total: u64 = counts.values().sum();
    let capacity: u64 = layout.members.iter().map(|m| m.capacity).sum();
    layout
        .members
        .iter()
        .map(|m| {
            let share = total as f64 * m.capacity as f64 / capacity as f64;
            let held = counts.get(&m.id).copied().unwrap_or(0) as f64;
            (held - share).abs() / share
        })
        .fold(0.0, f64::max)
}

fn main() {
    let (n, zones, bits) =
        (env("SCALE_NODES", 1000), env("SCALE_ZONES", 10), env("SCALE_BITS", 16));
    let clock = SystemClock;
    let first = members(n, zones);
    let seed = Layout::single(first[0].id, u8::try_from(bits).expect("bits"));
    let t = clock.monotonic();
    let layout = Layout::next(&seed, first, 3).expect("layout");
    let fresh_s = clock.monotonic().duration_since(t).as_secs_f64();
    let q = layout.partition_count();
    println!(
        "{n} nodes in {zones} zones, Q = 2^{bits} = {q} partitions, N = 3: layout in {fresh_s:.2} s, \
         worst deviation from the capacity share {:.1} %",
        worst_deviation(&layout) * 100.0
    );

    let mut joined = members(n + 1, zones);
    joined[n as usize].capacity = 2;
    let t = clock.monotonic();
    let next = Layout::next(&layout, joined.clone(), 3).expect("layout");
    let join_s = clock.monotonic().duration_since(t).as_secs_f64();
    let moved = moved_replicas(layout.assignments(), next.assignments());
    // The least any assignment could move: what the newcomer must hold, plus what others gain.
    let (before, after) = (slots(&layout), slots(&next));
    let least: u64 =
        after.iter().map(|(id, a)| a.saturating_sub(before.get(id).copied().unwrap_or(0))).sum();
    println!(
        "one node joins: layout in {join_s:.2} s, {moved} replicas moved, the least possible \
         {least} ({:.3}x), worst deviation {:.1} %",
        moved as f64 / least.max(1) as f64,
        worst_deviation(&next) * 100.0
    );

    // Memory per node. Membership: one gossiped state per member (id, two addresses, zone,
    // capacity, heartbeat, versions) and the layout (Q lists of N ids, and the previous one
    // during a change).
    let per_peer = 8 + 2 * 32 + 16 + 8 * 4;
    let layout_bytes = u64::from(q) * 3 * 8 * 2;
    println!(
        "membership state per node: {:.1} KiB of peer states, {:.1} MiB of layouts (current and \
         previous)",
        (n + 1) as f64 * per_peer as f64 / 1024.0,
        layout_bytes as f64 / (1 << 20) as f64
    );
    // Merkle trees live in the store, not in memory: 24-byte nodes (plus a 6-byte key) at 10,
    // 15 and 20 prefix bits, only under the partitions a node holds, and one entry per item.
    let held = after.values().max().copied().unwrap_or(0);
    for items in [1_000_000u64, 100_000_000] {
        let per_node = items * 3 / (n + 1);
        let tree_nodes: u64 = [10u64, 15, 20]
            .iter()
            .map(|&level| {
                let under = if level > bits { held << (level - bits) } else { held };
                under.min(1 << level).min(per_node)
            })
            .sum();
        println!(
            "  {items} items in the ring: about {per_node} per node in its {held} partitions; \
             {tree_nodes} tree nodes ({:.1} MiB) and {per_node} entries (about {:.1} MiB) on \
             disk, nothing held in memory",
            (tree_nodes * 30) as f64 / (1 << 20) as f64,
            (per_node * (9 + 40 + 16)) as f64 / (1 << 20) as f64,
        );
    }
}
