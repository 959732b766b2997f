//! The simulation's time and links: a clock that reads tokio's paused clock, and a transport
//! that wraps the in-memory network's with seeded latency and lost replies.
//!
//! `rpc::MemoryNetwork` models crashed nodes, partitions and lost *requests*. A lost *reply*
//! is a different fault (the replica did the work, the caller never hears of it: a write that
//! is durable but unacknowledged), latency lets background copies overlap later requests, and
//! a slow node (alive, answering late) is what hedging exists for.
//! Both are drawn from one seeded generator, in call order, on one thread: a seed replays.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use ringvault::clock::Clock;
use ringvault::rpc::{BoxFuture, PeerId, RpcError, Transport};

/// Tokio's clock, which the simulation runs paused: it moves only when every task waits on a
/// timer, and then straight to the next one, so it is a pure function of the run.
#[allow(clippy::disallowed_methods)]
fn tokio_now() -> tokio::time::Instant {
    tokio::time::Instant::now()
}

/// Wall and monotonic time for every simulated node, both derived from tokio's paused clock.
#[derive(Debug)]
pub struct SimClock {
    wall_start: DateTime<Utc>,
    start: tokio::time::Instant,
}

impl SimClock {
    /// Must be created inside the simulation's runtime.
    pub fn new() -> Self {
        let wall_start = DateTime::parse_from_rfc3339("2030-01-01T00:00:00Z").unwrap().to_utc();
        Self { wall_start, start: tokio_now() }
    }
}

impl Clock for SimClock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed = tokio_now().duration_since(self.start);
        self.wall_start + chrono::Duration::from_std(elapsed).unwrap()
    }

    fn monotonic(&self) -> std::time::Instant {
        tokio_now().into_std()
    }
}

/// Link faults the memory network does not model, changed by the scenario as it runs.
#[derive(Debug)]
pub struct LinkFaults {
    rng: StdRng,
    /// Each request waits a uniform delay in `[0, latency_max]` before delivery.
    pub latency_max: Duration,
    /// Probability that a delivered request's reply is lost (the caller times out).
    pub reply_drop_probability: f64,
    /// Slow nodes (not dead): every call to one waits this much longer before delivery.
    pub slow: std::collections::BTreeMap<PeerId, Duration>,
    /// Calls made so far, by request tag.
    pub calls: std::collections::BTreeMap<u16, u64>,
}

impl LinkFaults {
    pub fn new(seed: u64) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
            latency_max: Duration::ZERO,
            reply_drop_probability: 0.0,
            slow: std::collections::BTreeMap::new(),
            calls: std::collections::BTreeMap::new(),
        }
    }
}

/// One node's transport: the memory network's, behind `LinkFaults`.
#[derive(Debug)]
pub struct SimTransport {
    pub inner: Arc<dyn Transport>,
    pub links: Arc<Mutex<LinkFaults>>,
}

impl Transport for SimTransport {
    fn call_raw(
        &self,
        to: PeerId,
        tag: u16,
        payload: Vec<u8>,
        timeout: Duration,
    ) -> BoxFuture<Result<Vec<u8>, RpcError>> {
        let (delay, lose_reply) = {
            let mut links = self.links.lock().unwrap();
            *links.calls.entry(tag).or_default() += 1;
            let max_us = u64::try_from(links.latency_max.as_micros()).unwrap();
            let delay = Duration::from_micros(links.rng.random_range(0..=max_us))
                + links.slow.get(&to).copied().unwrap_or_default();
            let p = links.reply_drop_probability;
            (delay, p > 0.0 && links.rng.random_bool(p))
        };
        let call = self.inner.call_raw(to, tag, payload, timeout);
        Box::pin(async move {
            tokio::time::sleep(delay).await;
            let result = call.await;
            if lose_reply && result.is_ok() {
                tokio::time::sleep(timeout).await;
                return Err(RpcError::Timeout { timeout });
            }
            result
        })
    }
}
