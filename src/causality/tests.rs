//! Laws of vector clocks and sibling sets, as property tests over small random clocks.

use proptest::prelude::*;

use super::*;

fn clock() -> impl Strategy<Value = VectorClock> {
    proptest::collection::btree_map(0u64..4, 0u64..5, 0..4).prop_map(|m| {
        let mut c = VectorClock::new();
        for (a, n) in m {
            c.set(a, n);
        }
        c
    })
}

fn sibling() -> impl Strategy<Value = Sibling> {
    (
        clock(),
        0i64..100,
        0u64..4,
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..3)),
    )
        .prop_map(|(clock, timestamp_ms, writer, value)| Sibling {
            clock,
            timestamp_ms,
            writer,
            value,
        })
}

proptest! {
    /// Replicas that receive the same versions in any order store the same set, byte for byte
    /// (anti-entropy compares digests of the stored bytes), and pick the same winner.
    #[test]
    fn the_order_versions_arrive_in_never_shows(mut ops in proptest::collection::vec(sibling(), 1..8)) {
        // A clock names one version: minting never gives two versions the same clock.
        let mut seen: Vec<VectorClock> = Vec::new();
        ops.retain(|op| {
            let fresh = !seen.iter().any(|c| c.descends(&op.clock) && op.clock.descends(c));
            seen.push(op.clock.clone());
            fresh
        });
        let mut forward = Siblings::new();
        let mut backward = Siblings::new();
        for op in &ops {
            forward.apply(op.clone());
        }
        for op in ops.iter().rev() {
            backward.apply(op.clone());
        }
        prop_assert_eq!(&forward, &backward);
        prop_assert_eq!(forward.winner(), backward.winner());
    }

    #[test]
    fn merge_is_commutative(a in clock(), b in clock()) {
        prop_assert_eq!(a.merge(&b), b.merge(&a));
    }

    #[test]
    fn merge_is_associative(a in clock(), b in clock(), c in clock()) {
        prop_assert_eq!(a.merge(&b).merge(&c), a.merge(&b.merge(&c)));
    }

    #[test]
    fn merge_is_idempotent(a in clock(), b in clock()) {
        prop_assert_eq!(a.merge(&a), a.clone());
        prop_assert_eq!(a.merge(&b).merge(&b), a.merge(&b));
    }

    #[test]
    fn merge_descends_from_both(a in clock(), b in clock()) {
        let m = a.merge(&b);
        prop_assert!(m.descends(&a) && m.descends(&b));
    }

    #[test]
    fn compare_is_antisymmetric(a in clock(), b in clock()) {
        let expected = match a.compare(&b) {
            Causality::Before => Causality::After,
            Causality::After => Causality::Before,
            other => other,
        };
        prop_assert_eq!(b.compare(&a), expected);
    }

    #[test]
    fn siblings_stay_pairwise_concurrent(ops in proptest::collection::vec(sibling(), 0..12)) {
        let mut s = Siblings::new();
        for op in ops {
            s.apply(op);
        }
        let v: Vec<_> = s.iter().collect();
        for (i, x) in v.iter().enumerate() {
            for y in &v[i + 1..] {
                prop_assert_eq!(x.clock.compare(&y.clock), Causality::Concurrent);
            }
        }
    }

    #[test]
    fn apply_order_does_not_matter(ops in proptest::collection::vec(sibling(), 0..8)) {
        // Distinct clocks only: two different values under one clock cannot be produced by the
        // coordinator (it increments its own entry under the store's write lock).
        let mut seen = std::collections::HashSet::new();
        let ops: Vec<_> = ops.into_iter().filter(|s| seen.insert(s.clock.clone())).collect();
        let mut forward = Siblings::new();
        for op in &ops {
            forward.apply(op.clone());
        }
        let mut backward = Siblings::new();
        for op in ops.iter().rev() {
            backward.apply(op.clone());
        }
        prop_assert!(forward.covers(&backward) && backward.covers(&forward));
        prop_assert_eq!(forward.len(), backward.len());
    }

    #[test]
    fn a_write_with_the_context_supersedes_everything(ops in proptest::collection::vec(sibling(), 1..8), me in 0u64..4) {
        let mut s = Siblings::new();
        for op in ops {
            s.apply(op);
        }
        let mut clock = s.context();
        clock.set(me, clock.get(me) + 1);
        s.apply(Sibling { clock, timestamp_ms: 0, writer: me, value: None });
        prop_assert_eq!(s.len(), 1);
        prop_assert!(s.winner().unwrap().is_tombstone());
    }
}

#[test]
fn concurrent_siblings_resolve_by_timestamp_then_writer() {
    let mut a = VectorClock::new();
    a.set(1, 1);
    let mut b = VectorClock::new();
    b.set(2, 1);
    let mut s = Siblings::new();
    s.apply(Sibling { clock: a, timestamp_ms: 10, writer: 1, value: Some(b"a".to_vec()) });
    s.apply(Sibling { clock: b.clone(), timestamp_ms: 10, writer: 2, value: Some(b"b".to_vec()) });
    assert_eq!(s.len(), 2);
    assert_eq!(s.winner().unwrap().value.as_deref(), Some(&b"b"[..]));
    // A stale copy of a superseded version changes nothing.
    assert!(!s.apply(Sibling { clock: b, timestamp_ms: 99, writer: 2, value: None }));
}

/// Regression (simulation seed 176 of 200): one coordinator minted two concurrent versions in
/// the same millisecond; two replicas stored them in arrival order, so their Merkle digests
/// differed forever and anti-entropy moved the same items every round.
#[test]
fn regression_siblings_of_one_writer_in_one_millisecond_have_one_order() {
    let mut a = VectorClock::new();
    a.set(2, 3);
    a.set(3, 3);
    let mut b = VectorClock::new();
    b.set(2, 1);
    b.set(3, 4);
    let first = Sibling { clock: a, timestamp_ms: 7, writer: 3, value: None };
    let second = Sibling { clock: b, timestamp_ms: 7, writer: 3, value: Some(b"x".to_vec()) };
    let mut one = Siblings::new();
    one.apply(first.clone());
    one.apply(second.clone());
    let mut other = Siblings::new();
    other.apply(second);
    other.apply(first);
    assert_eq!(one, other);
    assert_eq!(one.winner(), other.winner());
}

/// A sibling's value is written as one byte string (`serde_bytes`); the postcard bytes must
/// stay those of the plain sequence of bytes it was written as before, or every stored
/// version and every peer of an older build would misread it.
#[test]
fn a_siblings_value_encodes_as_it_always_did() {
    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct AsBefore {
        clock: VectorClock,
        timestamp_ms: i64,
        writer: Actor,
        value: Option<Vec<u8>>,
    }
    let mut clock = VectorClock::new();
    clock.set(7, 3);
    for value in [None, Some(Vec::new()), Some((0..=255u8).cycle().take(4096).collect())] {
        let now = Sibling { clock: clock.clone(), timestamp_ms: -5, writer: 9, value };
        let before = AsBefore {
            clock: clock.clone(),
            timestamp_ms: -5,
            writer: 9,
            value: now.value.clone(),
        };
        let bytes = postcard::to_allocvec(&now).unwrap();
        assert_eq!(bytes, postcard::to_allocvec(&before).unwrap());
        assert_eq!(postcard::from_bytes::<Sibling>(&bytes).unwrap(), now);
        assert_eq!(postcard::from_bytes::<AsBefore>(&bytes).unwrap(), before);
    }
}
