//! How long to wait for a peer before hedging: a smoothed round-trip estimate per peer and
//! kind of call, pure (samples in, a deadline out).
//!
//! The estimate is TCP's retransmission timer (RFC 6298): `srtt` and `rttvar` move by 1/8 and
//! 1/4 of each new sample, and the deadline is `srtt + 4 * rttvar`, bounded by the configured
//! floor and ceiling. A call that has not answered by its deadline is not failed: the caller
//! engages another replica beside it (a hedge), so a deadline that is too short costs one extra
//! copy, never an error, while one that tracks the peer's real latency turns a silent peer's
//! five-second timeout into a delay of a few of its round trips.

use std::collections::HashMap;
use std::time::Duration;

/// What a call carries: small messages and block bodies have different round trips.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallKind {
    /// Items, reads of items, pings, scans.
    Small,
    /// Block bodies (up to a block size each way).
    Bulk,
}

/// Bounds of the hedging deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HedgeBounds {
    pub floor: Duration,
    pub ceiling: Duration,
}

impl Default for HedgeBounds {
    fn default() -> Self {
        Self { floor: Duration::from_millis(50), ceiling: Duration::from_millis(1000) }
    }
}

#[derive(Debug, Clone, Copy)]
struct Estimate {
    srtt: Duration,
    rttvar: Duration,
}

/// Round-trip estimates for every peer and kind of call.
#[derive(Debug, Clone, Default)]
pub struct LatencyEstimates {
    bounds: HedgeBounds,
    peers: HashMap<(u64, CallKind), Estimate>,
}

impl LatencyEstimates {
    pub fn new(bounds: HedgeBounds) -> Self {
        Self { bounds, peers: HashMap::new() }
    }

    /// Records that a call of `kind` to `peer` took `rtt`.
    pub fn observe(&mut self, peer: u64, kind: CallKind, rtt: Duration) {
        match self.peers.get_mut(&(peer, kind)) {
            Some(e) => {
                let delta = e.srtt.abs_diff(rtt);
                e.rttvar = (e.rttvar * 3 + delta) / 4;
                e.srtt = (e.srtt * 7 + rtt) / 8;
            }
            None => {
                self.peers.insert((peer, kind), Estimate { srtt: rtt, rttvar: rtt / 2 });
            }
        }
    }

    /// How long a call of `kind` to `peer` may take before the caller hedges. With no sample
    /// yet, the ceiling: nothing is known, so nothing is assumed.
    pub fn hedge_after(&self, peer: u64, kind: CallKind) -> Duration {
        match self.peers.get(&(peer, kind)) {
            Some(e) => (e.srtt + e.rttvar * 4).clamp(self.bounds.floor, self.bounds.ceiling),
            None => self.bounds.ceiling,
        }
    }

    /// The smoothed round trip of `peer`'s small calls, if measured.
    pub fn smoothed(&self, peer: u64, kind: CallKind) -> Option<Duration> {
        self.peers.get(&(peer, kind)).map(|e| e.srtt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_steady_peer_gets_a_deadline_of_a_few_round_trips_within_the_bounds() {
        let mut l = LatencyEstimates::new(HedgeBounds { floor: 5 * MS, ceiling: 1000 * MS });
        assert_eq!(l.hedge_after(1, CallKind::Small), 1000 * MS, "unknown: the ceiling");
        for _ in 0..50 {
            l.observe(1, CallKind::Small, 2 * MS);
        }
        let deadline = l.hedge_after(1, CallKind::Small);
        assert!(deadline >= 5 * MS && deadline < 10 * MS, "{deadline:?}");
        // Kinds are separate: blocks take longer.
        for _ in 0..50 {
            l.observe(1, CallKind::Bulk, 40 * MS);
        }
        assert!(l.hedge_after(1, CallKind::Bulk) >= 40 * MS);
        assert!(l.hedge_after(1, CallKind::Small) < 10 * MS);
    }

    #[test]
    fn jitter_widens_the_deadline_and_the_ceiling_caps_it() {
        let mut l = LatencyEstimates::new(HedgeBounds::default());
        for i in 0..100 {
            l.observe(2, CallKind::Small, if i % 2 == 0 { 10 * MS } else { 200 * MS });
        }
        let jittery = l.hedge_after(2, CallKind::Small);
        assert!(jittery > 300 * MS, "{jittery:?}");
        for _ in 0..100 {
            l.observe(3, CallKind::Small, 5000 * MS);
        }
        assert_eq!(l.hedge_after(3, CallKind::Small), 1000 * MS);
    }
}
