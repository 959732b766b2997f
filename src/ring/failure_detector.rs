//! Phi-accrual failure detection (Hayashibara et al., 2004), pure: heartbeats in, suspicion out.
//!
//! For each peer we keep a bounded window of the intervals between heartbeats we observed.
//! Assuming exponentially distributed intervals, the suspicion after a silence `t` is
//! `phi = t / mean * log10(e)`: the minus log10 of the probability that a live peer stays
//! silent that long. A peer is down while `phi` exceeds the threshold. Detection only steers
//! routing (which replicas to try, when to leave hints); it never changes the layout.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// Intervals remembered per peer.
const WINDOW: usize = 100;

#[derive(Debug, Clone)]
struct History {
    last: Instant,
    intervals: VecDeque<Duration>,
}

/// Liveness estimates for every peer we heard from.
#[derive(Debug, Clone)]
pub struct FailureDetector {
    threshold: f64,
    /// Used as the mean until a peer has enough history (its first heartbeats).
    expected_interval: Duration,
    /// Intervals shorter than this do not lower the mean (gossip can deliver bursts).
    min_interval: Duration,
    peers: HashMap<u64, History>,
}

impl FailureDetector {
    pub fn new(threshold: f64, expected_interval: Duration) -> Self {
        Self {
            threshold,
            expected_interval,
            min_interval: expected_interval / 2,
            peers: HashMap::new(),
        }
    }

    /// Records that `peer` was heard from at `now`.
    pub fn heartbeat(&mut self, peer: u64, now: Instant) {
        match self.peers.get_mut(&peer) {
            Some(h) => {
                let interval = now.saturating_duration_since(h.last).max(self.min_interval);
                h.last = now;
                if h.intervals.len() == WINDOW {
                    h.intervals.pop_front();
                }
                h.intervals.push_back(interval);
            }
            None => {
                self.peers.insert(peer, History { last: now, intervals: VecDeque::new() });
            }
        }
    }

    /// The suspicion level of `peer` at `now`; `None` if never heard from.
    pub fn phi(&self, peer: u64, now: Instant) -> Option<f64> {
        let h = self.peers.get(&peer)?;
        let mean = if h.intervals.len() < 3 {
            self.expected_interval
        } else {
            h.intervals.iter().sum::<Duration>()
                / u32::try_from(h.intervals.len()).unwrap_or(u32::MAX)
        };
        let silence = now.saturating_duration_since(h.last);
        Some(silence.as_secs_f64() / mean.as_secs_f64().max(1e-3) * std::f64::consts::LOG10_E)
    }

    /// Whether `peer` is believed alive: heard from, and not silent for too long.
    pub fn is_alive(&self, peer: u64, now: Instant) -> bool {
        self.phi(peer, now).is_some_and(|phi| phi < self.threshold)
    }

    /// When `peer` was last heard from.
    pub fn last_heard(&self, peer: u64) -> Option<Instant> {
        self.peers.get(&peer).map(|h| h.last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Instant {
        use crate::clock::Clock;
        crate::clock::SystemClock.monotonic()
    }

    #[test]
    fn a_regular_peer_is_alive_and_a_silent_one_goes_down() {
        let start = now();
        let mut fd = FailureDetector::new(8.0, Duration::from_secs(1));
        for i in 0..20 {
            fd.heartbeat(7, start + Duration::from_secs(i));
        }
        let last = start + Duration::from_secs(19);
        assert!(fd.is_alive(7, last + Duration::from_secs(2)));
        // phi 8 at a 1 s mean is about 18 s of silence.
        assert!(fd.is_alive(7, last + Duration::from_secs(15)));
        assert!(!fd.is_alive(7, last + Duration::from_secs(20)));
        // It comes back as soon as it is heard from again.
        fd.heartbeat(7, last + Duration::from_secs(30));
        assert!(fd.is_alive(7, last + Duration::from_secs(31)));
    }

    #[test]
    fn an_unknown_peer_is_not_alive() {
        let fd = FailureDetector::new(8.0, Duration::from_secs(1));
        assert!(!fd.is_alive(1, now()));
        assert_eq!(fd.phi(1, now()), None);
    }

    #[test]
    fn suspicion_grows_with_silence() {
        let start = now();
        let mut fd = FailureDetector::new(8.0, Duration::from_millis(500));
        for i in 0..10 {
            fd.heartbeat(1, start + Duration::from_millis(500 * i));
        }
        let last = start + Duration::from_millis(4500);
        let a = fd.phi(1, last + Duration::from_secs(1)).unwrap();
        let b = fd.phi(1, last + Duration::from_secs(3)).unwrap();
        assert!(a < b, "{a} {b}");
    }
}
