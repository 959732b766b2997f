//! Partition assignment: which nodes hold each partition, and in which order.
//!
//! [`assign`] is a pure function of the previous assignment (if any), the members (id, zone,
//! capacity), the partition count and the replication factor. It never reads a clock, a random
//! source or the order of `members`, so every node that computes a layout from the same inputs
//! gets the same preference lists.
//!
//! # Constraints and goals
//!
//! Every partition gets `r = min(replication_factor, members)` distinct nodes. The nodes of one
//! list must span `min(r, zones)` distinct zones: with enough zones every replica is in its own
//! zone; with fewer zones than replicas every zone holds at least one replica of every partition.
//!
//! Within those constraints the number of replica slots of each node follows its capacity, and
//! as few slots as possible change owner when the members change.
//!
//! The algorithm (targets, keep, fill, rebalance, order) is described in ARCHITECTURE.md,
//! section "Partition assignment".
//!
//! # Guarantees
//!
//! * Lists have `r` distinct nodes and respect the zone rule (always; not best effort).
//! * Deterministic and independent of the order of `members`.
//! * Recomputing from the previous result with the same members changes nothing: every phase
//!   keeps what it is given and only acts on a node above its target, and the previous run
//!   stopped exactly when no such action was left.
//! * Moves happen only for a reason: a departed node, a zone-rule violation, or a node above its
//!   target; a single replacement moves one replica, so a join typically moves exactly the new
//!   node's slots, and a leave the departed node's slots plus what the new targets require.
//! * Rounding is sticky: when shares tie for the last unit, the node that already holds it
//!   keeps it, so recomputation does not shuffle units between equals.
//! * Reaching the targets is best effort: the chain search is not exhaustive (a chain never
//!   reuses a partition), but in every configuration the tests try it reaches them exactly;
//!   `AssignmentStats::slot_imbalance` reports any shortfall.
//! * Work is bounded: `O(partitions * r * members)` per sweep pass and per search, with at most
//!   one search per unit of excess.

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64_with_seed;

use super::NodeId;

/// The largest number of members a layout may have.
pub const MAX_MEMBERS: usize = 4096;
/// The largest partition count.
pub const MAX_PARTITIONS: usize = 1 << 20;
/// The largest replication factor.
pub const MAX_REPLICATION_FACTOR: usize = 16;

const TIE_SEED: u64 = 0x4153_5349_474e_5631; // "ASSIGNV1"

/// A node as the assignment sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub id: NodeId,
    /// Failure domain (rack, room, site); replicas of a partition avoid sharing one.
    pub zone: String,
    /// Relative weight; must be positive.
    pub capacity: u64,
}

impl Member {
    pub fn new(id: NodeId, zone: impl Into<String>, capacity: u64) -> Self {
        Self { id, zone: zone.into(), capacity }
    }
}

/// Why no assignment could be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssignmentError {
    #[error("a layout needs at least one member")]
    NoMembers,
    #[error("node {id} has zero capacity")]
    ZeroCapacity { id: NodeId },
    #[error("node {id} is listed more than once")]
    DuplicateMember { id: NodeId },
    #[error("{count} members exceed the limit of {max}")]
    TooManyMembers { count: usize, max: usize },
    #[error("the partition count {partitions} is not a power of two in 1..={max}")]
    BadPartitionCount { partitions: usize, max: usize },
    #[error("the replication factor {replication_factor} is not in 1..={max}")]
    BadReplicationFactor { replication_factor: usize, max: usize },
    /// No member can take a slot of `partition`. The zone rule is always satisfiable, so this
    /// means a bug in the assignment, reported rather than panicking.
    #[error("no member can take a slot of partition {partition} (assignment bug)")]
    Unplaceable { partition: usize },
}

/// Counters describing one run of [`assign_with_stats`], for tests and operators.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AssignmentStats {
    /// Previous ownerships carried over.
    pub kept: usize,
    /// Empty slots filled.
    pub filled: usize,
    /// Passes of the replacement sweep (slots and positions).
    pub sweeps: usize,
    /// Single replacements made by the sweeps (slots and positions).
    pub swaps: usize,
    /// Chains applied by the search (slots and positions).
    pub chains: usize,
    /// Searches run, including the final ones that find nothing.
    pub searches: usize,
    /// Candidate exchanges examined by all searches.
    pub search_steps: u64,
    /// Sum over nodes of the distance between their slot count and their target.
    pub slot_imbalance: usize,
    /// Sum over nodes and positions of the distance between their count and its target.
    pub position_imbalance: usize,
}

/// Computes the preference list of every partition: `partitions` (a power of two) lists of
/// `min(replication_factor, members.len())` distinct nodes, most preferred first.
///
/// `previous` is the assignment being replaced; its ownerships are kept where they remain
/// valid and balanced. If it has a different partition count (a power of two), partition `p`
/// starts from the list of the previous partition covering the same hash range.
/// Deterministic: the same inputs, in any member order, give the same output.
pub fn assign(
    previous: Option<&[Vec<NodeId>]>,
    members: &[Member],
    partitions: usize,
    replication_factor: usize,
) -> Result<Vec<Vec<NodeId>>, AssignmentError> {
    assign_with_stats(previous, members, partitions, replication_factor).map(|(lists, _)| lists)
}

/// [`assign`], also returning counters of the work done.
pub fn assign_with_stats(
    previous: Option<&[Vec<NodeId>]>,
    members: &[Member],
    partitions: usize,
    replication_factor: usize,
) -> Result<(Vec<Vec<NodeId>>, AssignmentStats), AssignmentError> {
    let (cluster, capacities) = Cluster::new(members, partitions, replication_factor)?;
    let mut stats = AssignmentStats::default();
    let order = cluster.visit_order(u64::MAX);

    let mut lists = cluster.keep(previous, &mut stats);
    let mut held = vec![0usize; cluster.ids.len()];
    for &node in lists.iter().flatten() {
        held[node] += 1;
    }
    let target = cluster.slot_targets(&capacities, &held);
    let fresh_from: Vec<usize> = lists.iter().map(Vec::len).collect();
    cluster.fill(&mut lists, &mut held, &target, &mut stats)?;

    // First, rebalance among the slots just filled: choosing another node for an empty slot
    // costs no extra move, whereas replacing a kept owner does.
    let mut slots = SlotExchange {
        cluster: &cluster,
        lists: &mut lists,
        fresh_from: Some(fresh_from),
        leads: None,
    };
    balance(&mut slots, &cluster.ids, &order, &mut held, &target, &mut stats);

    // Then single replacements that keep leadership where it belongs: a list's first node is
    // replaced only if it leads more partitions than it should and its replacement fewer (it
    // then inherits the lead); elsewhere the least preferred over-target node goes first.
    let mut leads = vec![0usize; cluster.ids.len()];
    for list in slots.lists.iter() {
        leads[list[0]] += 1;
    }
    let pool: Vec<u64> = target.iter().map(|&t| t as u64).collect();
    slots.leads = Some((leads.clone(), cluster.position_targets(&capacities, &pool, &leads)));
    slots.fresh_from = None;
    sweep(&mut slots, &cluster.ids, &order, &mut held, &target, &mut stats);
    // Then everything, without regard to leadership, which step 5 settles.
    slots.leads = None;
    balance(&mut slots, &cluster.ids, &order, &mut held, &target, &mut stats);
    stats.slot_imbalance = distance(&held, &target);

    cluster.order_positions(&mut lists, &capacities, &mut stats);

    let lists = lists.into_iter().map(|list| list.into_iter().map(|n| cluster.ids[n]).collect());
    Ok((lists.collect(), stats))
}

/// The number of replica slots [`assign`] aims to give each member in a fresh assignment,
/// sorted by node id. With a previous assignment, a rounding tie may go to another node of the
/// same share (the one already holding more), so a node's target can differ by one.
pub fn slot_targets(
    members: &[Member],
    partitions: usize,
    replication_factor: usize,
) -> Result<Vec<(NodeId, usize)>, AssignmentError> {
    let (cluster, capacities) = Cluster::new(members, partitions, replication_factor)?;
    let target = cluster.slot_targets(&capacities, &[]);
    Ok(cluster.ids.iter().copied().zip(target).collect())
}

/// How many replicas must be copied to go from `before` to `after`: the number of
/// (partition, node) ownerships in `after` that `before` does not have. A change of order
/// within a list moves no data and is not counted (see [`leader_changes`]).
pub fn moved_replicas(before: &[Vec<NodeId>], after: &[Vec<NodeId>]) -> usize {
    after
        .iter()
        .enumerate()
        .map(|(p, list)| {
            let old = before.get(p).map_or(&[][..], Vec::as_slice);
            list.iter().filter(|node| !old.contains(node)).count()
        })
        .sum()
}

/// How many partitions have a different first node (coordinator) in `after` than in `before`.
pub fn leader_changes(before: &[Vec<NodeId>], after: &[Vec<NodeId>]) -> usize {
    after
        .iter()
        .enumerate()
        .filter(|(p, list)| before.get(*p).and_then(|old| old.first()) != list.first())
        .count()
}

/// Sum of |held - target|.
fn distance(held: &[usize], target: &[usize]) -> usize {
    held.iter().zip(target).map(|(&h, &t)| h.abs_diff(t)).sum()
}

/// A stable pseudo-random rank used to break ties without favouring low ids or partitions.
fn tie(partition: usize, id: NodeId) -> u64 {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&(partition as u64).to_le_bytes());
    bytes[8..].copy_from_slice(&id.to_le_bytes());
    xxh3_64_with_seed(&bytes, TIE_SEED)
}

/// Validated inputs, with nodes renumbered `0..n` in id order and zones `0..zones` in name
/// order.
struct Cluster {
    ids: Vec<NodeId>,
    zone: Vec<usize>,
    zone_sizes: Vec<usize>,
    partitions: usize,
    /// Replicas per partition.
    r: usize,
    /// Distinct zones every list must span.
    spread: usize,
}

impl Cluster {
    fn new(
        members: &[Member],
        partitions: usize,
        replication_factor: usize,
    ) -> Result<(Self, Vec<u64>), AssignmentError> {
        if members.is_empty() {
            return Err(AssignmentError::NoMembers);
        }
        if members.len() > MAX_MEMBERS {
            return Err(AssignmentError::TooManyMembers { count: members.len(), max: MAX_MEMBERS });
        }
        if !partitions.is_power_of_two() || partitions > MAX_PARTITIONS {
            return Err(AssignmentError::BadPartitionCount { partitions, max: MAX_PARTITIONS });
        }
        if replication_factor == 0 || replication_factor > MAX_REPLICATION_FACTOR {
            return Err(AssignmentError::BadReplicationFactor {
                replication_factor,
                max: MAX_REPLICATION_FACTOR,
            });
        }
        let mut sorted: Vec<&Member> = members.iter().collect();
        sorted.sort_by_key(|m| m.id);
        for pair in sorted.windows(2) {
            if pair[0].id == pair[1].id {
                return Err(AssignmentError::DuplicateMember { id: pair[0].id });
            }
        }
        if let Some(m) = sorted.iter().find(|m| m.capacity == 0) {
            return Err(AssignmentError::ZeroCapacity { id: m.id });
        }
        let mut names: Vec<&str> = sorted.iter().map(|m| m.zone.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        let zone: Vec<usize> = sorted
            .iter()
            .map(|m| names.binary_search(&m.zone.as_str()).unwrap_or_default())
            .collect();
        let mut zone_sizes = vec![0; names.len()];
        for &z in &zone {
            zone_sizes[z] += 1;
        }
        let r = replication_factor.min(sorted.len());
        let cluster = Self {
            ids: sorted.iter().map(|m| m.id).collect(),
            zone,
            spread: r.min(names.len()),
            zone_sizes,
            partitions,
            r,
        };
        Ok((cluster, sorted.iter().map(|m| m.capacity).collect()))
    }

    fn index_of(&self, id: NodeId) -> Option<usize> {
        self.ids.binary_search(&id).ok()
    }

    /// Number of distinct zones among `list`, with `out` removed and `extra` added.
    fn zones_after(&self, list: &[usize], out: Option<usize>, extra: Option<usize>) -> usize {
        let mut seen = [usize::MAX; MAX_REPLICATION_FACTOR + 1];
        let mut count = 0;
        let nodes = list.iter().copied().filter(|&n| Some(n) != out).chain(extra);
        for node in nodes {
            let z = self.zone[node];
            if !seen[..count].contains(&z) {
                seen[count] = z;
                count += 1;
            }
        }
        count
    }

    /// Whether `b` can join the partial `list` and the list can still meet the zone rule.
    fn can_add(&self, list: &[usize], b: usize) -> bool {
        list.len() < self.r
            && !list.contains(&b)
            && self.zones_after(list, None, Some(b)) + (self.r - list.len() - 1) >= self.spread
    }

    /// Whether `b` can take `a`'s place in `list` without breaking the zone rule.
    fn can_replace(&self, list: &[usize], a: usize, b: usize) -> bool {
        if list.contains(&b) {
            return false;
        }
        self.zone[a] == self.zone[b]
            || self.zones_after(list, Some(a), Some(b)) + (self.r - list.len()) >= self.spread
    }

    /// Slot targets: zones by zone capacity, then nodes by node capacity, within the bounds
    /// the zone rule imposes (see the module documentation).
    /// `held` breaks rounding ties in favour of what nodes already hold.
    fn slot_targets(&self, capacities: &[u64], held: &[usize]) -> Vec<usize> {
        let p = self.partitions as u64;
        let zones = self.zone_sizes.len();
        let mut zone_weight = vec![0u128; zones];
        let mut zone_held = vec![0usize; zones];
        for (node, &cap) in capacities.iter().enumerate() {
            zone_weight[self.zone[node]] += u128::from(cap);
            zone_held[self.zone[node]] += held.get(node).copied().unwrap_or(0);
        }
        let (lo, hi): (Vec<u64>, Vec<u64>) = self
            .zone_sizes
            .iter()
            .map(|&size| {
                if zones >= self.r {
                    (0, p)
                } else {
                    (p, p * (size.min(self.r - zones + 1) as u64))
                }
            })
            .unzip();
        let zone_total = apportion(p * self.r as u64, &zone_weight, &lo, &hi, &zone_held);

        let mut target = vec![0usize; self.ids.len()];
        for (z, &total) in zone_total.iter().enumerate() {
            let nodes: Vec<usize> = (0..self.ids.len()).filter(|&n| self.zone[n] == z).collect();
            let weight: Vec<u128> = nodes.iter().map(|&n| u128::from(capacities[n])).collect();
            let prefer: Vec<usize> =
                nodes.iter().map(|&n| held.get(n).copied().unwrap_or(0)).collect();
            let (lo, hi) = (vec![0; nodes.len()], vec![p; nodes.len()]);
            let share = apportion(total, &weight, &lo, &hi, &prefer);
            for (&node, s) in nodes.iter().zip(share) {
                target[node] = usize::try_from(s).unwrap_or(usize::MAX);
            }
        }
        target
    }

    /// The order in which a sweep visits partitions: a fixed shuffle, so that the units handed
    /// over are spread across the key space rather than taken from the lowest partitions. Each
    /// phase has its own shuffle (`salt`): with a shared one, the partitions where one phase
    /// made its changes would be the ones the next phase visits first, and their choices would
    /// correlate (for example a node would shed exactly the slots it does not lead).
    fn visit_order(&self, salt: u64) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.partitions).collect();
        order.sort_by_key(|&p| (tie(p, salt), p));
        order
    }

    /// Step 2: the still-valid part of the previous assignment, in its previous order.
    fn keep(
        &self,
        previous: Option<&[Vec<NodeId>]>,
        stats: &mut AssignmentStats,
    ) -> Vec<Vec<usize>> {
        let mut lists = vec![Vec::with_capacity(self.r); self.partitions];
        let Some(previous) = previous.filter(|prev| prev.len().is_power_of_two()) else {
            return lists;
        };
        for (p, list) in lists.iter_mut().enumerate() {
            // Partitions are the top bits of the hash: with 2^a old and 2^b new partitions, new
            // partition p lies inside old partition p >> (b - a), or old p << (a - b) lies in p.
            let old = if previous.len() <= self.partitions {
                p / (self.partitions / previous.len())
            } else {
                p * (previous.len() / self.partitions)
            };
            for &id in previous.get(old).map_or(&[][..], Vec::as_slice) {
                if let Some(node) = self.index_of(id)
                    && self.can_add(list, node)
                {
                    list.push(node);
                    stats.kept += 1;
                }
            }
        }
        lists
    }

    /// Step 3: fills every empty slot with the allowed node furthest below its target.
    fn fill(
        &self,
        lists: &mut [Vec<usize>],
        held: &mut [usize],
        target: &[usize],
        stats: &mut AssignmentStats,
    ) -> Result<(), AssignmentError> {
        for (p, list) in lists.iter_mut().enumerate() {
            while list.len() < self.r {
                let best = (0..self.ids.len())
                    .filter(|&n| self.can_add(list, n))
                    .max_by_key(|&n| (deficit(held, target, n), tie(p, self.ids[n])))
                    .ok_or(AssignmentError::Unplaceable { partition: p })?;
                list.push(best);
                held[best] += 1;
                stats.filled += 1;
            }
        }
        Ok(())
    }

    /// How many partitions each node should hold at one position: a share proportional to
    /// capacity, bounded by `pool`, the node's slots not yet placed at an earlier position.
    fn position_targets(&self, capacities: &[u64], pool: &[u64], held: &[usize]) -> Vec<usize> {
        let n = pool.len();
        let weight: Vec<u128> = (0..n)
            .map(|node| if pool[node] == 0 { 0 } else { u128::from(capacities[node]) })
            .collect();
        apportion(self.partitions as u64, &weight, &vec![0; n], pool, held)
            .into_iter()
            .map(|t| usize::try_from(t).unwrap_or(usize::MAX))
            .collect()
    }

    /// Step 5: balances each position in turn, keeping the order it is given where it can.
    fn order_positions(
        &self,
        lists: &mut [Vec<usize>],
        capacities: &[u64],
        stats: &mut AssignmentStats,
    ) {
        let n = self.ids.len();
        for position in 0..self.r.saturating_sub(1) {
            // Each node should take a share of this position proportional to its capacity,
            // bounded by how many of its slots are still unplaced.
            let mut pool = vec![0u64; n];
            let mut held = vec![0usize; n];
            for list in lists.iter() {
                for &node in &list[position..] {
                    pool[node] += 1;
                }
                held[list[position]] += 1;
            }
            let target = self.position_targets(capacities, &pool, &held);
            let mut positions = PositionExchange { lists, position };
            let order = self.visit_order(position as u64);
            balance(&mut positions, &self.ids, &order, &mut held, &target, stats);
            stats.position_imbalance += distance(&held, &target);
        }
    }
}

/// How far `node` is below its target (negative when above).
fn deficit(held: &[usize], target: &[usize], node: usize) -> i64 {
    let signed = |v: usize| i64::try_from(v).unwrap_or(i64::MAX);
    signed(target[node]) - signed(held[node])
}

/// Splits `total` into integers close to proportional to `weight`, each within `[lo, hi]`.
///
/// Exact water-filling: items whose proportional share falls outside their bounds are pinned
/// to the bound and the remainder is shared again among the others. When both kinds of
/// violation exist, the side with the larger total violation is pinned first, which is always
/// a pin of the final solution. Fractions then go by largest remainder; equal remainders go
/// first to items whose `prefer` (what they already hold) is above their rounded-down share,
/// so that rounding does not move units needlessly, then to the lower index. Requires `sum(lo) <= total <= sum(hi)` and `lo <= hi`; zero-weight items get `lo`.
fn apportion(total: u64, weight: &[u128], lo: &[u64], hi: &[u64], prefer: &[usize]) -> Vec<u64> {
    let n = weight.len();
    let mut pinned: Vec<Option<u64>> =
        (0..n).map(|i| if weight[i] == 0 { Some(lo[i]) } else { None }).collect();
    loop {
        let free: Vec<usize> = (0..n).filter(|&i| pinned[i].is_none()).collect();
        if free.is_empty() {
            break;
        }
        let rest =
            i128::from(total) - pinned.iter().flatten().map(|&v| i128::from(v)).sum::<i128>();
        let sum_w: i128 = free.iter().map(|&i| weight[i] as i128).sum();
        let (mut over, mut under) = (0i128, 0i128);
        for &i in &free {
            let share = rest * weight[i] as i128;
            over += (share - i128::from(hi[i]) * sum_w).max(0);
            under += (i128::from(lo[i]) * sum_w - share).max(0);
        }
        if over == 0 && under == 0 {
            break;
        }
        for &i in &free {
            let share = rest * weight[i] as i128;
            if over >= under && share > i128::from(hi[i]) * sum_w {
                pinned[i] = Some(hi[i]);
            } else if over < under && share < i128::from(lo[i]) * sum_w {
                pinned[i] = Some(lo[i]);
            }
        }
    }

    let free: Vec<usize> = (0..n).filter(|&i| pinned[i].is_none()).collect();
    let rest = i128::from(total) - pinned.iter().flatten().map(|&v| i128::from(v)).sum::<i128>();
    let sum_w: i128 = free.iter().map(|&i| weight[i] as i128).sum();
    let mut out: Vec<u64> = pinned.iter().map(|v| v.unwrap_or(0)).collect();
    if sum_w > 0 {
        let to_u64 = |v: i128| u64::try_from(v.max(0)).unwrap_or(u64::MAX);
        let mut remainders = Vec::with_capacity(free.len());
        let mut given = 0i128;
        for &i in &free {
            let share = rest * weight[i] as i128;
            out[i] = to_u64(share / sum_w);
            given += share / sum_w;
            remainders.push((share % sum_w, i));
        }
        // (remainder, already holds more than its floor, index)
        let holds_more = |i: usize| prefer.get(i).is_some_and(|&h| h as u64 > out[i]);
        remainders.sort_by(|a, b| {
            b.0.cmp(&a.0).then(holds_more(b.1).cmp(&holds_more(a.1))).then(a.1.cmp(&b.1))
        });
        let leftover = usize::try_from(rest - given).unwrap_or(0);
        for &(_, i) in remainders.iter().take(leftover) {
            out[i] += 1;
        }
    }
    out
}

/// A kind of unit that nodes hold in partitions and can hand to one another.
trait Exchange {
    fn partitions(&self) -> usize;
    /// Nodes holding a unit of `p` that could be handed over.
    fn holders(&self, p: usize, out: &mut Vec<usize>);
    /// Nodes that could take `a`'s unit of `p`.
    fn takers(&self, p: usize, a: usize, out: &mut Vec<usize>);
    /// Hands `a`'s unit of `p` to `b`.
    fn exchange(&mut self, p: usize, a: usize, b: usize);
}

/// Replica slots: `b` replaces `a` in the list, at the same position.
struct SlotExchange<'a> {
    cluster: &'a Cluster,
    lists: &'a mut [Vec<usize>],
    /// When set, only the slots from `fresh_from[p]` on (those filled in this run) are handed
    /// over.
    fresh_from: Option<Vec<usize>>,
    /// When set, (leads, lead target) per node: a list's first node is a holder only if it
    /// leads more than its target, and only a node leading less than its target may take its
    /// place.
    leads: Option<(Vec<usize>, Vec<usize>)>,
}

impl Exchange for SlotExchange<'_> {
    fn partitions(&self) -> usize {
        self.lists.len()
    }

    /// A first node that leads too much comes first (it sheds a lead with the slot); the others
    /// least preferred first, so that a replacement lands where it disturbs the order least.
    fn holders(&self, p: usize, out: &mut Vec<usize>) {
        let list = &self.lists[p];
        let start = self.fresh_from.as_ref().map_or(0, |from| from[p].min(list.len()));
        match &self.leads {
            Some((leads, lead_target)) if start == 0 => {
                if leads[list[0]] > lead_target[list[0]] {
                    out.push(list[0]);
                }
                out.extend(list[1..].iter().rev());
            }
            _ => out.extend(list[start..].iter().rev()),
        }
    }

    fn takers(&self, p: usize, a: usize, out: &mut Vec<usize>) {
        let list = &self.lists[p];
        let leading = list[0] == a;
        out.extend((0..self.cluster.ids.len()).filter(|&b| {
            self.cluster.can_replace(list, a, b)
                && !(leading && self.leads.as_ref().is_some_and(|(l, t)| l[b] >= t[b]))
        }));
    }

    fn exchange(&mut self, p: usize, a: usize, b: usize) {
        let list = &mut self.lists[p];
        if let Some((leads, _)) = self.leads.as_mut()
            && list[0] == a
        {
            leads[a] -= 1;
            leads[b] += 1;
        }
        if let Some(slot) = list.iter_mut().find(|n| **n == a) {
            *slot = b;
        }
    }
}

/// One position of the lists: a node further down the list moves up to `position`, and the
/// nodes in between shift down one, keeping their relative order.
struct PositionExchange<'a> {
    lists: &'a mut [Vec<usize>],
    position: usize,
}

impl Exchange for PositionExchange<'_> {
    fn partitions(&self) -> usize {
        self.lists.len()
    }

    fn holders(&self, p: usize, out: &mut Vec<usize>) {
        out.push(self.lists[p][self.position]);
    }

    fn takers(&self, p: usize, a: usize, out: &mut Vec<usize>) {
        if self.lists[p][self.position] == a {
            out.extend_from_slice(&self.lists[p][self.position + 1..]);
        }
    }

    fn exchange(&mut self, p: usize, a: usize, b: usize) {
        let list = &mut self.lists[p];
        if list[self.position] == a
            && let Some(offset) = list[self.position..].iter().position(|&n| n == b)
        {
            list[self.position..=self.position + offset].rotate_right(1);
        }
    }
}

/// Steps 4 and 5: moves units from nodes above target to nodes below target until no single
/// exchange and no chain of exchanges can lower the total excess any further.
fn balance(
    ex: &mut impl Exchange,
    ids: &[NodeId],
    order: &[usize],
    held: &mut [usize],
    target: &[usize],
    stats: &mut AssignmentStats,
) {
    sweep(ex, ids, order, held, target, stats);
    search(ex, ids, held, target, stats);
}

/// Single exchanges, each moving one unit directly from a node above target to one below,
/// repeated until none is left.
fn sweep(
    ex: &mut impl Exchange,
    ids: &[NodeId],
    order: &[usize],
    held: &mut [usize],
    target: &[usize],
    stats: &mut AssignmentStats,
) {
    let over = |held: &[usize], n: usize| held[n] > target[n];
    let under = |held: &[usize], n: usize| held[n] < target[n];
    let mut holders = Vec::new();
    let mut takers = Vec::new();
    loop {
        stats.sweeps += 1;
        let mut changed = false;
        for &p in order {
            holders.clear();
            ex.holders(p, &mut holders);
            for &a in &holders {
                if !over(held, a) {
                    continue;
                }
                takers.clear();
                ex.takers(p, a, &mut takers);
                let best = takers
                    .iter()
                    .copied()
                    .filter(|&b| under(held, b))
                    .max_by_key(|&b| (deficit(held, target, b), tie(p, ids[b])));
                if let Some(b) = best {
                    ex.exchange(p, a, b);
                    held[a] -= 1;
                    held[b] += 1;
                    stats.swaps += 1;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
}

/// Chains over-target -> ... -> under-target found breadth first, each link an exchange in its
/// own partition so that the links do not interfere with one another, applied one at a time
/// until no chain is left.
fn search(
    ex: &mut impl Exchange,
    ids: &[NodeId],
    held: &mut [usize],
    target: &[usize],
    stats: &mut AssignmentStats,
) {
    let over = |held: &[usize], n: usize| held[n] > target[n];
    let under = |held: &[usize], n: usize| held[n] < target[n];
    let mut holders = Vec::new();
    let mut takers = Vec::new();
    let n = ids.len();
    loop {
        if !(0..n).any(|a| over(held, a)) {
            break;
        }
        stats.searches += 1;
        let mut by_node: Vec<Vec<usize>> = vec![Vec::new(); n];
        for p in 0..ex.partitions() {
            holders.clear();
            ex.holders(p, &mut holders);
            for &a in &holders {
                by_node[a].push(p);
            }
        }
        // parent[b] = (a, p): b is reached by taking a's unit of p.
        let mut parent: Vec<Option<(usize, usize)>> = vec![None; n];
        let mut seen = vec![false; n];
        let mut queue = std::collections::VecDeque::new();
        for a in (0..n).filter(|&a| over(held, a)) {
            seen[a] = true;
            queue.push_back(a);
        }
        let mut found = None;
        let mut used = Vec::new();
        'search: while let Some(a) = queue.pop_front() {
            used.clear();
            let mut at = a;
            while let Some((prev, p)) = parent[at] {
                used.push(p);
                at = prev;
            }
            for &p in &by_node[a] {
                if used.contains(&p) {
                    continue;
                }
                takers.clear();
                ex.takers(p, a, &mut takers);
                for &b in &takers {
                    stats.search_steps += 1;
                    if seen[b] {
                        continue;
                    }
                    seen[b] = true;
                    parent[b] = Some((a, p));
                    if under(held, b) {
                        found = Some(b);
                        break 'search;
                    }
                    queue.push_back(b);
                }
            }
        }
        let Some(sink) = found else { break };
        stats.chains += 1;
        held[sink] += 1;
        let mut at = sink;
        while let Some((prev, p)) = parent[at] {
            ex.exchange(p, prev, at);
            at = prev;
        }
        held[at] -= 1;
    }
}

#[cfg(test)]
mod tests;
