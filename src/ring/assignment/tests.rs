use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

/// `n` nodes with ids 1..=n (scrambled so that id order is not zone order), zone `i % zones`
/// and capacity `caps[i % caps.len()]`.
fn cluster(n: usize, zones: usize, caps: &[u64]) -> Vec<Member> {
    (0..n)
        .map(|i| {
            let id = (i as u64 + 1) * 7919 % 100_003;
            Member::new(id, format!("z{}", i % zones), caps[i % caps.len()])
        })
        .collect()
}

fn slot_counts(lists: &[Vec<NodeId>]) -> BTreeMap<NodeId, usize> {
    let mut counts = BTreeMap::new();
    for &id in lists.iter().flatten() {
        *counts.entry(id).or_default() += 1;
    }
    counts
}

fn leader_counts(lists: &[Vec<NodeId>]) -> BTreeMap<NodeId, usize> {
    let mut counts = BTreeMap::new();
    for list in lists {
        *counts.entry(list[0]).or_default() += 1;
    }
    counts
}

/// Checks list lengths, distinctness and the zone rule.
fn check_valid(lists: &[Vec<NodeId>], members: &[Member], partitions: usize, rf: usize) {
    let zone: BTreeMap<NodeId, &str> = members.iter().map(|m| (m.id, m.zone.as_str())).collect();
    let mut all_zones: Vec<&str> = zone.values().copied().collect();
    all_zones.sort_unstable();
    all_zones.dedup();
    let r = rf.min(members.len());
    assert_eq!(lists.len(), partitions);
    for (p, list) in lists.iter().enumerate() {
        assert_eq!(list.len(), r, "partition {p}: {list:?}");
        let mut nodes = list.clone();
        nodes.sort_unstable();
        nodes.dedup();
        assert_eq!(nodes.len(), r, "partition {p} repeats a node: {list:?}");
        let mut per_zone: BTreeMap<&str, usize> = BTreeMap::new();
        for id in list {
            *per_zone.entry(zone[id]).or_default() += 1;
        }
        // No zone holds two replicas while another zone holds none.
        if per_zone.values().any(|&c| c > 1) {
            assert_eq!(per_zone.len(), all_zones.len(), "partition {p}: {per_zone:?}");
        }
        assert_eq!(per_zone.len(), r.min(all_zones.len()));
    }
}

/// Largest relative deviation of slot counts from the capacity share.
fn worst_share_deviation(lists: &[Vec<NodeId>], members: &[Member]) -> f64 {
    let counts = slot_counts(lists);
    let total_slots: usize = counts.values().sum();
    let total_cap: u64 = members.iter().map(|m| m.capacity).sum();
    members
        .iter()
        .map(|m| {
            let share = total_slots as f64 * m.capacity as f64 / total_cap as f64;
            let held = counts.get(&m.id).copied().unwrap_or(0) as f64;
            (held - share).abs() / share
        })
        .fold(0.0, f64::max)
}

fn worst_leader_deviation(lists: &[Vec<NodeId>], members: &[Member]) -> f64 {
    let counts = leader_counts(lists);
    let share = lists.len() as f64 / members.len() as f64;
    members
        .iter()
        .map(|m| (counts.get(&m.id).copied().unwrap_or(0) as f64 - share).abs() / share)
        .fold(0.0, f64::max)
}

fn fresh(members: &[Member], partitions: usize, rf: usize) -> Vec<Vec<NodeId>> {
    let lists = assign(None, members, partitions, rf).unwrap();
    check_valid(&lists, members, partitions, rf);
    lists
}

#[test]
fn inputs_are_validated() {
    let one = vec![Member::new(1, "a", 1)];
    assert_eq!(assign(None, &[], 256, 3), Err(AssignmentError::NoMembers));
    assert_eq!(
        assign(None, &[Member::new(4, "a", 0)], 256, 3),
        Err(AssignmentError::ZeroCapacity { id: 4 })
    );
    assert_eq!(
        assign(None, &[Member::new(4, "a", 1), Member::new(4, "b", 1)], 256, 3),
        Err(AssignmentError::DuplicateMember { id: 4 })
    );
    assert!(matches!(
        assign(None, &one, 100, 3),
        Err(AssignmentError::BadPartitionCount { partitions: 100, .. })
    ));
    assert!(matches!(assign(None, &one, 0, 3), Err(AssignmentError::BadPartitionCount { .. })));
    assert!(matches!(
        assign(None, &one, 256, 0),
        Err(AssignmentError::BadReplicationFactor { .. })
    ));
    let many: Vec<Member> = (0..=MAX_MEMBERS as u64).map(|i| Member::new(i, "a", 1)).collect();
    assert!(matches!(assign(None, &many, 1, 1), Err(AssignmentError::TooManyMembers { .. })));
}

#[test]
fn a_ring_of_one_owns_everything() {
    let lists = fresh(&[Member::new(9, "a", 5)], 16, 3);
    assert!(lists.iter().all(|l| l == &[9]));
}

#[test]
fn fewer_members_than_replicas_gives_every_member_every_partition() {
    let members = cluster(2, 2, &[1, 3]);
    let lists = fresh(&members, 64, 3);
    assert!(lists.iter().all(|l| l.len() == 2));
    // Capacity cannot matter: a node holds at most one replica per partition.
    assert!(slot_counts(&lists).values().all(|&c| c == 64));
}

#[test]
fn balance_with_equal_capacities() {
    for partitions in [256, 1024] {
        for zones in [1, 3] {
            let mut report = Vec::new();
            for n in 3..=32 {
                let members = cluster(n, zones, &[1]);
                let lists = fresh(&members, partitions, 3);
                let slots = worst_share_deviation(&lists, &members);
                let leaders = worst_leader_deviation(&lists, &members);
                // With 3 zones of unequal sizes (n % 3 != 0) the zone rule caps the larger
                // zones at one replica per partition: there the targets are the reachable
                // optimum, checked in `balance_with_mixed_capacities`.
                let capped = !shares_reachable(&members, partitions, 3);
                if !capped {
                    assert!(slots <= 0.10, "n={n} zones={zones} P={partitions}: {slots}");
                }
                // Leadership is not capped by zones: it follows capacity everywhere.
                assert!(leaders <= 0.10, "n={n} zones={zones} P={partitions}: {leaders}");
                let mark = if capped { "c" } else { "" };
                report.push(format!("{n}:{:.1}%{mark}/{:.1}%", slots * 100.0, leaders * 100.0));
            }
            println!("equal P={partitions} zones={zones} slots/leaders: {}", report.join(" "));
        }
    }
}

#[test]
fn balance_with_mixed_capacities() {
    for partitions in [256, 1024] {
        // Capacities 1, 2, 4 cycle independently of the zone (i % 3), so every zone has a
        // similar total capacity and every share is reachable.
        for (zones, caps) in [(1, &[1u64, 2, 4][..]), (3, &[1, 1, 1, 2, 2, 2, 4, 4, 4][..])] {
            let mut report = Vec::new();
            for n in 3..=32 {
                let members = cluster(n, zones, caps);
                let targets = slot_targets(&members, partitions, 3).unwrap();
                let lists = fresh(&members, partitions, 3);
                let counts = slot_counts(&lists);
                let dev = worst_share_deviation(&lists, &members);
                // Zone caps bind for some small clusters (e.g. 3 zones of one node each);
                // there the target, not the share, is what is reachable.
                let capped = !shares_reachable(&members, partitions, 3);
                if !capped {
                    assert!(dev <= 0.10, "n={n} zones={zones} P={partitions}: {dev}");
                }
                for (id, t) in targets {
                    assert_eq!(counts.get(&id).copied().unwrap_or(0), t, "n={n} node {id}");
                }
                report.push(format!("{n}:{:.1}%{}", dev * 100.0, if capped { "c" } else { "" }));
            }
            println!("mixed P={partitions} zones={zones} slots: {}", report.join(" "));
        }
    }
}

/// Whether every node's capacity share is reachable: at most one replica per partition per
/// node, and per zone the bounds of the zone rule.
fn shares_reachable(members: &[Member], partitions: usize, rf: usize) -> bool {
    let r = rf.min(members.len());
    let slots = (partitions * r) as u64;
    let total: u64 = members.iter().map(|m| m.capacity).sum();
    let mut per_zone: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for m in members {
        let e = per_zone.entry(m.zone.as_str()).or_default();
        e.0 += m.capacity;
        e.1 += 1;
    }
    let z = per_zone.len() as u64;
    let p = partitions as u64;
    let nodes_ok = members.iter().all(|m| slots * m.capacity <= p * total);
    let zones_ok = per_zone.values().all(|&(cap, size)| {
        let (lo, hi) = if z >= r as u64 { (0, p) } else { (p, p * size.min(r as u64 - z + 1)) };
        slots * cap >= lo * total && slots * cap <= hi * total
    });
    nodes_ok && zones_ok
}

#[test]
fn unequal_zones_are_capped_at_one_replica_per_partition() {
    // Zone a has capacity 10, b 2, c 1 (+ d 1): proportional shares would give zone a two
    // replicas of most partitions, which the zone rule forbids.
    let members = vec![
        Member::new(1, "a", 5),
        Member::new(2, "a", 5),
        Member::new(3, "b", 2),
        Member::new(4, "c", 1),
        Member::new(5, "d", 1),
    ];
    let lists = fresh(&members, 256, 3);
    let counts = slot_counts(&lists);
    // Zone a is capped at 256 slots, split evenly between its two nodes.
    assert_eq!((counts[&1], counts[&2]), (128, 128));
    // The remaining 512 slots go to b, c, d by capacity: 2:1:1, but b is capped at 256.
    assert_eq!(counts[&3], 256);
    assert_eq!((counts[&4], counts[&5]), (128, 128));
    let targets: BTreeMap<NodeId, usize> =
        slot_targets(&members, 256, 3).unwrap().into_iter().collect();
    assert_eq!(targets, counts);

    // Three zones, three replicas: every zone holds exactly one replica of each partition,
    // whatever the capacities.
    let members = cluster(6, 3, &[1, 2, 8, 1, 2, 8]);
    let lists = fresh(&members, 256, 3);
    let mut per_zone: BTreeMap<&str, usize> = BTreeMap::new();
    for m in &members {
        *per_zone.entry(m.zone.as_str()).or_default() += slot_counts(&lists)[&m.id];
    }
    assert!(per_zone.values().all(|&c| c == 256), "{per_zone:?}");
}

#[test]
fn two_zones_for_three_replicas_cover_both_zones() {
    // One node alone in its zone must hold every partition.
    let mut members = cluster(5, 1, &[1]);
    members.push(Member::new(99, "lone", 1));
    let lists = fresh(&members, 256, 3);
    assert!(lists.iter().all(|l| l.contains(&99)));
    let counts = slot_counts(&lists);
    assert_eq!(counts[&99], 256);
    assert!(
        counts.iter().filter(|(id, _)| **id != 99).all(|(_, &c)| c == 512 / 5 || c == 512 / 5 + 1)
    );
}

#[test]
fn recomputing_with_the_same_members_moves_nothing() {
    for (n, zones, caps) in [(5, 1, &[1u64][..]), (12, 3, &[1, 2, 4]), (7, 2, &[3, 1])] {
        let members = cluster(n, zones, caps);
        let first = fresh(&members, 256, 3);
        let (again, stats) = assign_with_stats(Some(&first), &members, 256, 3).unwrap();
        assert_eq!(again, first);
        assert_eq!(stats.kept, 256 * 3);
        assert_eq!((stats.filled, stats.swaps, stats.chains), (0, 0, 0));
    }
}

/// The least number of replicas any assignment with the slot counts of `after` must copy:
/// the sum of every node's gain. Equality means no replica moved needlessly.
fn least_moves(before: &[Vec<NodeId>], after: &[Vec<NodeId>]) -> usize {
    let old = slot_counts(before);
    slot_counts(after)
        .into_iter()
        .map(|(id, t)| t.saturating_sub(old.get(&id).copied().unwrap_or(0)))
        .sum()
}

#[test]
fn a_join_moves_about_the_new_nodes_share() {
    for partitions in [256, 1024] {
        for (zones, caps) in
            [(1, &[1u64][..]), (3, &[1]), (1, &[1, 2, 4]), (3, &[1, 1, 1, 2, 2, 2, 4, 4, 4])]
        {
            let (mut worst, mut worst_leaders): (f64, f64) = (0.0, 0.0);
            for n in 3..=31 {
                let before_members = cluster(n, zones, caps);
                let before = fresh(&before_members, partitions, 3);
                let after_members = cluster(n + 1, zones, caps);
                let (after, stats) =
                    assign_with_stats(Some(&before), &after_members, partitions, 3).unwrap();
                check_valid(&after, &after_members, partitions, 3);
                assert_eq!(stats.slot_imbalance, 0);
                let moved = moved_replicas(&before, &after);
                let least = least_moves(&before, &after);
                // Never more than the minimum the targets require.
                assert_eq!(moved, least, "n={n} zones={zones} caps={caps:?}");
                // The new node's slots are the least that can move; with equal capacities
                // that is P*N/(S+1), give or take rounding.
                let new_slots = slot_counts(&after)[&after_members[n].id];
                worst = worst.max(moved as f64 / new_slots as f64);
                if caps.len() == 1 {
                    let bound = partitions * 3 / (n + 1) + 1;
                    assert!(moved <= bound, "n={n}: {moved} vs {bound}");
                }
                let new = after_members[n].id;
                let leader_moves = leader_changes(&before, &after);
                let new_leads = leader_counts(&after).get(&new).copied().unwrap_or(0);
                // Leadership moves to the new node, plus a little rebalancing of rounding.
                assert!(
                    leader_moves <= new_leads + new_leads / 4 + 4,
                    "n={n}: {leader_moves} vs {new_leads}"
                );
                worst_leaders = worst_leaders.max(leader_moves as f64 / new_leads as f64);
            }
            println!(
                "join P={partitions} zones={zones} caps={caps:?}: worst moved/(new node's slots) = \
                 {worst:.3}, worst leader changes/new node's leads = {worst_leaders:.3}"
            );
        }
    }
}

#[test]
fn a_leave_moves_only_the_departed_nodes_slots() {
    for partitions in [256, 1024] {
        for (zones, caps) in
            [(1, &[1u64][..]), (3, &[1]), (1, &[1, 2, 4]), (3, &[1, 1, 1, 2, 2, 2, 4, 4, 4])]
        {
            let (mut worst, mut excess): (f64, usize) = (0.0, 0);
            for n in 4..=32 {
                let before_members = cluster(n, zones, caps);
                let before = fresh(&before_members, partitions, 3);
                // Remove a node from the middle of the id order.
                let gone = before_members[n / 2].id;
                let after_members: Vec<Member> =
                    before_members.iter().filter(|m| m.id != gone).cloned().collect();
                let (after, stats) =
                    assign_with_stats(Some(&before), &after_members, partitions, 3).unwrap();
                check_valid(&after, &after_members, partitions, 3);
                assert_eq!(stats.slot_imbalance, 0);
                let moved = moved_replicas(&before, &after);
                let held = slot_counts(&before)[&gone];
                assert!(moved * 10 <= held * 13, "n={n} zones={zones}: {moved} vs {held}");
                // Whatever moves beyond the departed node's slots is rebalancing that the
                // new targets require (nobody both gains and loses).
                // Net gains undercount the true minimum when a node heavy with capacity is
                // already in most of the emptied partitions and must move from a kept slot
                // to make room (it loses one and gains one), or when shares are capped; so
                // a few moves beyond them are allowed.
                let least = least_moves(&before, &after);
                if shares_reachable(&before_members, partitions, 3)
                    && shares_reachable(&after_members, partitions, 3)
                {
                    assert!(moved <= least + least / 20 + 2, "n={n}: {moved} vs {least}");
                    excess = excess.max(moved - least);
                }
                worst = worst.max(moved as f64 / held as f64);
                let counts = slot_counts(&after);
                for (id, t) in slot_targets(&after_members, partitions, 3).unwrap() {
                    assert!(counts[&id].abs_diff(t) <= 1, "n={n} zones={zones} node {id}");
                }
            }
            println!(
                "leave P={partitions} zones={zones} caps={caps:?}: worst moved/held = \
                 {worst:.3}, worst moves beyond the least = {excess}"
            );
        }
    }
}

#[test]
fn a_capacity_change_moves_about_the_change() {
    let members = cluster(12, 3, &[2]);
    let before = fresh(&members, 1024, 3);
    let mut changed = members.clone();
    changed[4].capacity = 4;
    let after = assign(Some(&before), &changed, 1024, 3).unwrap();
    check_valid(&after, &changed, 1024, 3);
    let moved = moved_replicas(&before, &after);
    let gain = slot_counts(&after)[&changed[4].id] - slot_counts(&before)[&changed[4].id];
    assert_eq!(moved, least_moves(&before, &after));
    // Zone z1 keeps 1024 slots: the doubled node takes 1024*4/10 - 1024/4 ≈ 154 from its
    // zone-mates and nothing else moves.
    assert_eq!(moved, gain);
    assert!((150..=160).contains(&gain), "{gain}");
    println!("capacity 2 -> 4 of one node in 12 (3 zones): moved {moved}");
}

#[test]
fn a_zone_change_moves_only_what_the_zone_rule_requires() {
    let members = cluster(9, 3, &[1]);
    let before = fresh(&members, 256, 3);
    let mut changed = members.clone();
    changed[0].zone = "z1".into();
    let after = assign(Some(&before), &changed, 256, 3).unwrap();
    check_valid(&after, &changed, 256, 3);
    // Zone z0 drops to 2 nodes which must fill the 85 partitions where the mover was their
    // zone's replica: at least 2 * (128 - 85) = 86 copies. Keeping the mover where it was
    // first in the list (and dropping its new zone-mate) costs a few more.
    let moved = moved_replicas(&before, &after);
    let least = least_moves(&before, &after);
    assert!(least >= 86 && moved * 10 <= least * 13, "{moved} vs {least}");
    println!("zone change of one node in 9 (3 zones): moved {moved}, least {least}");
}

#[test]
fn leaders_spread_evenly_with_equal_capacities() {
    for n in 3..=32 {
        for zones in [1, 3] {
            let members = cluster(n, zones, &[1]);
            let lists = fresh(&members, 1024, 3);
            let dev = worst_leader_deviation(&lists, &members);
            assert!(dev <= 0.10, "n={n}: {dev}");
            // Second positions too.
            let second: Vec<Vec<NodeId>> = lists.iter().map(|l| l[1..].to_vec()).collect();
            assert!(worst_leader_deviation(&second, &members) <= 0.10, "n={n}");
        }
    }
}

#[test]
fn a_split_keeps_the_parents_owners() {
    // 8 nodes: 128 and 256 partitions both divide evenly, so even the order is kept.
    let members = cluster(8, 2, &[1]);
    let before = fresh(&members, 128, 3);
    let after = assign(Some(&before), &members, 256, 3).unwrap();
    check_valid(&after, &members, 256, 3);
    for (p, list) in after.iter().enumerate() {
        assert_eq!(list, &before[p / 2]);
    }
    // Otherwise rounding may move a few positions, never an owner.
    let members = cluster(6, 3, &[1]);
    let before = fresh(&members, 128, 3);
    let doubled: Vec<Vec<NodeId>> = (0..256).map(|p| before[p / 2].clone()).collect();
    let after = assign(Some(&before), &members, 256, 3).unwrap();
    assert_eq!(moved_replicas(&doubled, &after), 0);
    assert!(leader_changes(&doubled, &after) <= 6);
    // And merging back takes the first half's lists.
    let merged = assign(Some(&after), &members, 128, 3).unwrap();
    check_valid(&merged, &members, 128, 3);
}

#[test]
fn moved_replicas_counts_new_owners_not_reorderings() {
    let before = vec![vec![1, 2, 3], vec![4, 5, 6]];
    let after = vec![vec![3, 2, 1], vec![4, 5, 7]];
    assert_eq!(moved_replicas(&before, &after), 1);
    assert_eq!(leader_changes(&before, &after), 1);
    assert_eq!(moved_replicas(&[], &after), 6);
}

#[test]
fn the_work_is_bounded() {
    let members = cluster(32, 3, &[1, 2, 4]);
    let (lists, stats) = assign_with_stats(None, &members, 1024, 3).unwrap();
    check_valid(&lists, &members, 1024, 3);
    println!("fresh 32x1024: {stats:?}");
    assert_eq!(stats.filled, 1024 * 3);
    assert!(stats.sweeps <= 20, "{stats:?}");
    assert!(stats.searches <= 100, "{stats:?}");
    assert!(stats.search_steps <= 100_000, "{stats:?}");
    // From an unrelated previous layout (3 nodes to 32), all the work is in the sweep.
    let small = cluster(3, 3, &[1]);
    let before = fresh(&small, 1024, 3);
    let (_, stats) = assign_with_stats(Some(&before), &members, 1024, 3).unwrap();
    println!("3 -> 32 nodes x1024: {stats:?}");
    assert!(stats.sweeps <= 20 && stats.searches <= 300, "{stats:?}");
    assert!(stats.search_steps <= 200_000, "{stats:?}");
}

fn arb_members() -> impl Strategy<Value = Vec<Member>> {
    prop::collection::vec((0u64..64, 0usize..5, 1u64..9), 1..24).prop_map(|raw| {
        let mut seen = std::collections::BTreeSet::new();
        raw.into_iter()
            .filter(|(id, _, _)| seen.insert(*id))
            .map(|(id, zone, cap)| Member::new(id, format!("zone-{zone}"), cap))
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn lists_are_valid_and_reach_their_targets(
        members in arb_members(), bits in 0u32..9, rf in 1usize..6,
    ) {
        let partitions = 1usize << bits;
        let (lists, stats) = assign_with_stats(None, &members, partitions, rf).unwrap();
        check_valid(&lists, &members, partitions, rf);
        prop_assert_eq!(stats.slot_imbalance, 0, "{:?}", stats);
    }

    #[test]
    fn the_result_ignores_member_order_and_is_a_fixed_point(
        members in arb_members(), bits in 0u32..9, rf in 1usize..6, seed in any::<u64>(),
    ) {
        let partitions = 1usize << bits;
        let lists = assign(None, &members, partitions, rf).unwrap();
        let mut shuffled = members.clone();
        let len = shuffled.len();
        for i in 0..len {
            shuffled.swap(i, (seed.rotate_left(i as u32) as usize) % len);
        }
        prop_assert_eq!(&assign(None, &shuffled, partitions, rf).unwrap(), &lists);
        prop_assert_eq!(&assign(Some(&lists), &shuffled, partitions, rf).unwrap(), &lists);
    }

    #[test]
    fn any_change_of_members_gives_valid_balanced_lists(
        before in arb_members(), after in arb_members(), rf in 1usize..5,
    ) {
        let first = assign(None, &before, 256, rf).unwrap();
        let (second, stats) = assign_with_stats(Some(&first), &after, 256, rf).unwrap();
        check_valid(&second, &after, 256, rf);
        prop_assert_eq!(stats.slot_imbalance, 0, "{:?}", stats);
    }

    #[test]
    fn targets_follow_capacity_where_the_zone_rule_allows(
        members in arb_members(), rf in 1usize..6,
    ) {
        // Water-filling optimality: any zone below its cap gets at least the ratio
        // slots/capacity of any zone above its floor (up to rounding), i.e. no slot
        // could move to a zone with a smaller ratio.
        let partitions = 256usize;
        let targets: BTreeMap<NodeId, usize> =
            slot_targets(&members, partitions, rf).unwrap().into_iter().collect();
        let r = rf.min(members.len());
        prop_assert_eq!(targets.values().sum::<usize>(), partitions * r);
        prop_assert!(targets.values().all(|&t| t <= partitions));
        let mut zones: BTreeMap<&str, (usize, u64, usize)> = BTreeMap::new();
        for m in &members {
            let e = zones.entry(m.zone.as_str()).or_default();
            e.0 += targets[&m.id];
            e.1 += m.capacity;
            e.2 += 1;
        }
        let z = zones.len();
        let bounds = |size: usize| {
            if z >= r { (0, partitions) } else { (partitions, partitions * size.min(r - z + 1)) }
        };
        for (&name, &(slots, cap, size)) in &zones {
            let (lo, hi) = bounds(size);
            prop_assert!(slots >= lo && slots <= hi, "{}", name);
            for &(other, ocap, osize) in zones.values() {
                // If this zone could grow and the other could shrink, this zone's
                // slots/capacity is not below the other's, up to rounding.
                if slots < hi && other > bounds(osize).0 {
                    let mine = (slots as f64 + 1.0) / cap as f64;
                    prop_assert!(mine >= (other as f64 - 1.0) / ocap as f64 - 1e-9);
                }
            }
        }
        // The same inside each zone, with a node bound of one replica per partition.
        for a in &members {
            for b in members.iter().filter(|b| b.zone == a.zone) {
                let (ta, tb) = (targets[&a.id], targets[&b.id]);
                if ta < partitions && tb > 0 {
                    let mine = (ta as f64 + 1.0) / a.capacity as f64;
                    prop_assert!(mine >= (tb as f64 - 1.0) / b.capacity as f64 - 1e-9);
                }
            }
        }
    }
}
