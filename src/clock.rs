//! Time, injected. Every component that needs "now" takes a `Clock`, so that tests and the
//! deterministic simulation can control time. This is the only module allowed to read the
//! system clock (enforced by `clippy.toml`'s `disallowed-methods`).

use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, Utc};

/// A source of wall-clock and monotonic time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Wall-clock time, for timestamps users see (Last-Modified, signatures).
    fn now(&self) -> DateTime<Utc>;
    /// Monotonic time, for timeouts and rates.
    fn monotonic(&self) -> Instant;
}

pub type SharedClock = Arc<dyn Clock>;

/// The operating system's clocks.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> DateTime<Utc> {
        DateTime::<Utc>::from(SystemTime::now())
    }

    #[allow(clippy::disallowed_methods)]
    fn monotonic(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that moves only when told to; for tests and simulation.
#[derive(Debug)]
pub struct ManualClock {
    state: Mutex<(DateTime<Utc>, Instant)>,
}

impl ManualClock {
    #[allow(clippy::disallowed_methods)]
    pub fn new(start: DateTime<Utc>) -> Self {
        Self { state: Mutex::new((start, Instant::now())) }
    }

    pub fn advance(&self, by: Duration) {
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        state.0 += chrono::Duration::from_std(by).unwrap_or(chrono::Duration::MAX);
        state.1 += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner).0
    }

    fn monotonic(&self) -> Instant {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner).1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_advanced() {
        let start = DateTime::parse_from_rfc3339("2024-01-02T03:04:05Z").unwrap().to_utc();
        let clock = ManualClock::new(start);
        assert_eq!(clock.now(), start);
        let m0 = clock.monotonic();
        clock.advance(Duration::from_secs(90));
        assert_eq!(clock.now(), start + chrono::Duration::seconds(90));
        assert_eq!(clock.monotonic() - m0, Duration::from_secs(90));
    }
}
