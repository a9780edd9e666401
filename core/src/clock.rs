//! Time, read through a trait so tests can drive it.
//!
//! Everything time-based in the core (record timestamps, retention, segment
//! age; later ack timeouts and session timeouts) reads a [`Clock`]; nothing
//! reads the system time directly.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// A source of wall-clock time in Unix epoch milliseconds.
pub trait Clock: Send + Sync {
    fn now_ms(&self) -> i64;

    /// Whether it moves only when told (a [`ManualClock`]): such time is one
    /// process's, so a pond read through it cannot be shared with others.
    fn is_manual(&self) -> bool {
        false
    }
}

/// The system's wall clock. Not available on `wasm32-unknown-unknown`, where
/// the binding supplies a clock reading `Date.now()`.
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        use std::time::{SystemTime, UNIX_EPOCH};
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
            Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
        }
    }
}

/// A clock that moves only when told to. Clones share one time, so a test
/// can keep a handle and advance the clock a pond reads.
#[derive(Debug, Clone, Default)]
pub struct ManualClock {
    now: Arc<AtomicI64>,
}

impl ManualClock {
    pub fn new(start_ms: i64) -> ManualClock {
        ManualClock { now: Arc::new(AtomicI64::new(start_ms)) }
    }

    /// Moves the clock forward (or back, for a negative step) by `ms`.
    pub fn advance(&self, ms: i64) {
        self.now.fetch_add(ms, Ordering::SeqCst);
    }

    pub fn set(&self, now_ms: i64) {
        self.now.store(now_ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.now.load(Ordering::SeqCst)
    }

    fn is_manual(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_clones_share_time() {
        let c = ManualClock::new(1000);
        let c2 = c.clone();
        c.advance(500);
        assert_eq!(c2.now_ms(), 1500);
        c2.set(7);
        assert_eq!(c.now_ms(), 7);
    }

    #[test]
    fn system_clock_is_after_2020() {
        assert!(SystemClock.now_ms() > 1_577_836_800_000);
    }
}
