//! Phi-accrual failure detection (Hayashibara et al., 2004), pure: heartbeats in, suspicion out.
//!
//! For each peer we keep a bounded window of the intervals between direct heartbeats (a ping
//! answered, any call answered). Intervals are modelled as normally distributed, as Akka and
//! Cassandra do: the suspicion after a silence `t` is `phi = -log10(P(interval > t))`, with the
//! mean raised by an acceptable pause and the standard deviation never below a floor, so that
//! a regular peer is not suspected for one late answer. A peer is down while `phi` exceeds the
//! threshold. Detection only steers routing; it never changes the layout.
//!
//! Parameters, all derived from the heartbeat (probe) interval `i` so that one setting moves
//! them together: threshold 8 (a live peer is wrongly suspected with probability about
//! 1e-8 per check), acceptable pause `2i`, standard deviation floor `i/2`. With the default
//! `i` = 500 ms, a peer that falls silent is down about 2.8 s after its last heartbeat
//! (`i + 2i + 5.2 * i/2`); `tests::a_silent_peer_is_down_within_about_three_seconds` pins it.

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
    /// Silence a live peer may show beyond its mean interval (a GC pause, a slow disk).
    acceptable_pause: Duration,
    /// The standard deviation used is never below this.
    min_std_dev: Duration,
    peers: HashMap<u64, History>,
}

impl FailureDetector {
    pub fn new(threshold: f64, expected_interval: Duration) -> Self {
        Self {
            threshold,
            expected_interval,
            acceptable_pause: expected_interval * 2,
            min_std_dev: expected_interval / 2,
            peers: HashMap::new(),
        }
    }

    /// Records that `peer` was heard from at `now`.
    pub fn heartbeat(&mut self, peer: u64, now: Instant) {
        match self.peers.get_mut(&peer) {
            Some(h) => {
                let interval = now.saturating_duration_since(h.last);
                h.last = h.last.max(now);
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
        let (mean, std_dev) = if h.intervals.len() < 3 {
            (self.expected_interval.as_secs_f64(), self.min_std_dev.as_secs_f64())
        } else {
            let n = h.intervals.len() as f64;
            let mean = h.intervals.iter().map(Duration::as_secs_f64).sum::<f64>() / n;
            let var = h.intervals.iter().map(|d| (d.as_secs_f64() - mean).powi(2)).sum::<f64>() / n;
            (mean, var.sqrt().max(self.min_std_dev.as_secs_f64()))
        };
        let silence = now.saturating_duration_since(h.last).as_secs_f64();
        Some(phi(silence, mean + self.acceptable_pause.as_secs_f64(), std_dev.max(1e-3)))
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

/// `-log10(P(X > t))` for `X` normal with this mean and standard deviation, by the logistic
/// approximation of the normal tail (accurate to about 1e-4, and never infinite).
fn phi(t: f64, mean: f64, std_dev: f64) -> f64 {
    let y = (t - mean) / std_dev;
    let e = (-y * (1.5976 + 0.070_566 * y * y)).exp();
    if t > mean { -(e / (1.0 + e)).log10() } else { -(1.0 - 1.0 / (1.0 + e)).log10() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Instant {
        use crate::clock::Clock;
        crate::clock::SystemClock.monotonic()
    }

    #[test]
    fn a_silent_peer_is_down_within_about_three_seconds() {
        let start = now();
        let mut fd = FailureDetector::new(8.0, Duration::from_millis(500));
        for i in 0..20 {
            fd.heartbeat(7, start + Duration::from_millis(500 * i));
        }
        let last = start + Duration::from_millis(500 * 19);
        let at = |ms| last + Duration::from_millis(ms);
        // One or two missed pings are tolerated.
        assert!(fd.is_alive(7, at(1500)));
        assert!(fd.is_alive(7, at(2200)));
        // Down within about three seconds of the last heartbeat.
        assert!(!fd.is_alive(7, at(3000)));
        // It comes back as soon as it is heard from again.
        fd.heartbeat(7, at(10_000));
        assert!(fd.is_alive(7, at(10_100)));
    }

    #[test]
    fn jittery_heartbeats_widen_the_tolerance() {
        let start = now();
        let mut fd = FailureDetector::new(8.0, Duration::from_millis(500));
        let mut t = start;
        for i in 0..40 {
            t += Duration::from_millis(if i % 2 == 0 { 100 } else { 1500 });
            fd.heartbeat(1, t);
        }
        assert!(fd.is_alive(1, t + Duration::from_millis(3500)));
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
