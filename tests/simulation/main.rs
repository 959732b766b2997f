//! Deterministic simulation of a RingVault cluster in one process.
//!
//! **Goal.** Find the interleavings of crashes, restarts, partitions, lost requests and lost
//! replies under which the replication layer (coordinator, sloppy quorum, hinted handoff, read
//! repair) loses an acknowledged write or brings a deleted object back, and make every such
//! run reproducible from one number.
//!
//! **Method.** Five nodes, each a real `Coordinator` over its own in-memory store, talk through
//! the in-memory network (`rpc::MemoryNetwork`) on a current-thread tokio runtime with paused
//! time. Everything that could vary between two runs is pinned down:
//! - randomness: the workload, the faults, request and reply losses and latencies all come
//!   from `StdRng`s seeded from the run's seed;
//! - time: every node's clock reads tokio's paused clock, which jumps to the next timer only
//!   when every task waits, so timeouts and timestamps are functions of the schedule;
//! - threads: stores run inline (`Store::in_memory_inline`), so no OS thread finishes work in
//!   an order of its own; one thread runs everything.
//!
//! A seed's run is a sequence of workload steps with faults (see `scenario`); the model
//! (`model`) records what clients were told, and the checkers compare: with no faults, reads
//! and scans see every acknowledged write; after the faults heal and hints and repairs drain,
//! every owner holds every acknowledged write (or a causal successor) and no acknowledged
//! delete is undone.
//!
//! **Running.**
//! - `cargo test --test simulation`: seeds `0..16` and those that found bugs (CI).
//! - `SIM_SEEDS=500 cargo test --test simulation --release`: a longer run.
//! - `SIM_SEED=<n> cargo test --test simulation`: replays one seed exactly; add
//!   `SIM_TRACE=1` to print its whole trace, and `SIM_DEBUG_ITEMS=1` to print every item the
//!   owners of a partition hold when they disagree after anti-entropy.
//!
//! A failure prints `SIM_SEED=<n>`, the step and the violated property, then the end of the
//! run's trace.

mod cluster;
mod conditional;
mod leavers;
mod model;
mod net;
mod reads;
mod regressions;
mod scenario;
mod version_listing;
mod versioned;

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use scenario::{Scenario, Stats};

/// Simulated time one seed may take before it counts as stuck.
const SIM_TIME_MAX: Duration = Duration::from_secs(3600);
/// Trace lines printed with a failure.
const TRACE_TAIL: usize = 40;

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| v.parse().unwrap_or_else(|_| panic!("{name} must be a u64")))
}

/// Seeds past the default range that found a bug in a longer run, run with it ever since: 20,
/// 61 and 99 had a conditional write answered 412 after another proposer completed its round
/// and a third overwrote it; 265 purged a tombstone while a node that had left the layout was
/// partitioned from the purging node, and its clean-up brought the deleted version back; 179
/// purged one while a leaver killed before its clean-up was down, and 41 and 208 caught
/// attempts at fixing that (hints stuck for a leaver that takes no copies, and a leaver
/// dropping a hint of an acknowledged write); 34 (and 565, before reads asked R owners) had a
/// conditional write decided by new owners that missed what a majority of the old ones
/// accepted (a new owner now takes in their consensus rows, behind a fence); 313 wrote a key
/// anew through owners that a purge had made forget its tombstones (the checker now lets such
/// an owner hold later writes that did not see them).
const FOUND: &[u64] = &[20, 34, 41, 61, 99, 179, 208, 265, 313, 565];

/// `SIM_SEED` alone, or seeds `0..SIM_SEEDS` (16 by default) and `FOUND`.
fn seeds() -> Vec<u64> {
    match env_u64("SIM_SEED") {
        Some(seed) => vec![seed],
        None => {
            let mut seeds: Vec<u64> = (0..env_u64("SIM_SEEDS").unwrap_or(16)).collect();
            seeds.extend(FOUND.iter().filter(|s| !seeds.contains(s)).collect::<Vec<_>>());
            seeds
        }
    }
}

/// What one seed's run produced.
struct Run {
    trace: Vec<String>,
    stats: Stats,
    result: Result<(), String>,
}

/// Runs one seed on its own runtime; returns its trace and the first violation, if any.
fn run_seed(seed: u64) -> Run {
    if std::env::var_os("RUST_LOG").is_some() {
        ringvault::telemetry::init();
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut scenario = Scenario::new(seed);
        let result = match tokio::time::timeout(SIM_TIME_MAX, scenario.run()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(violation)) => Err(violation.to_string()),
            Err(_) => Err(format!("step {}: the run is stuck", scenario.step)),
        };
        Run { trace: std::mem::take(&mut scenario.trace), stats: scenario.stats, result }
    })
}

/// Runs one seed, turning a panic into a failure that names the seed.
fn run_seed_caught(seed: u64) -> Run {
    match std::panic::catch_unwind(|| run_seed(seed)) {
        Ok(outcome) => outcome,
        Err(panic) => {
            let text = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            Run {
                trace: Vec::new(),
                stats: Stats::default(),
                result: Err(format!("panicked: {text}")),
            }
        }
    }
}

#[test]
fn seeded_runs_keep_the_invariants() {
    let seeds = seeds();
    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    let totals = Mutex::new(Stats::default());
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(4);
    let full_trace = std::env::var_os("SIM_TRACE").is_some();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                while let Some(seed) = seeds.get(next.fetch_add(1, Ordering::Relaxed)).copied() {
                    let Run { trace, stats, result } = run_seed_caught(seed);
                    totals.lock().unwrap().add(&stats);
                    if full_trace {
                        eprintln!("--- SIM_SEED={seed} trace\n{}", trace.join("\n"));
                    }
                    if let Err(failure) = result {
                        let tail = &trace[trace.len().saturating_sub(TRACE_TAIL)..];
                        eprintln!(
                            "SIM_SEED={seed} {failure}\n--- last {} trace lines\n{}",
                            tail.len(),
                            tail.join("\n")
                        );
                        failures.lock().unwrap().push((seed, failure));
                    }
                }
            });
        }
    });
    eprintln!("{} seeds: {:?}", seeds.len(), totals.into_inner().unwrap());
    let mut failures = failures.into_inner().unwrap();
    failures.sort();
    assert!(
        failures.is_empty(),
        "{} of {} seeds failed (replay one with SIM_SEED=<n>):\n{}",
        failures.len(),
        seeds.len(),
        failures.iter().map(|(s, f)| format!("SIM_SEED={s} {f}")).collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn a_seed_replays_exactly() {
    let seed = env_u64("SIM_SEED").unwrap_or(7);
    let first = run_seed_caught(seed).trace;
    let second = run_seed_caught(seed).trace;
    assert!(first.len() > 100, "the run did too little to tell: {} events", first.len());
    if let Some(i) = (0..first.len().max(second.len())).find(|i| first.get(*i) != second.get(*i)) {
        panic!(
            "SIM_SEED={seed} diverged at event {i}:\n  first:  {:?}\n  second: {:?}",
            first.get(i),
            second.get(i)
        );
    }
}
