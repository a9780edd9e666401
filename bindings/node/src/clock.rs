//! The manual clock tests (and users' test suites) drive time with.

use napi_derive::napi;

use crate::convert::{guard, to_i64, Result};

/// A clock that moves only when told to; clones share one time.
#[napi]
pub struct NativeManualClock {
    pub(crate) inner: logpond::ManualClock,
}

#[napi]
impl NativeManualClock {
    #[napi(constructor)]
    pub fn new(start_ms: f64) -> Result<NativeManualClock> {
        guard(|| Ok(NativeManualClock { inner: logpond::ManualClock::new(to_i64("startMs", start_ms)?) }))
    }

    #[napi]
    pub fn advance(&self, ms: f64) -> Result<()> {
        guard(|| {
            self.inner.advance(to_i64("ms", ms)?);
            Ok(())
        })
    }

    #[napi]
    pub fn set(&self, now_ms: f64) -> Result<()> {
        guard(|| {
            self.inner.set(to_i64("nowMs", now_ms)?);
            Ok(())
        })
    }

    #[napi]
    pub fn now_ms(&self) -> f64 {
        use logpond::Clock;
        self.inner.now_ms() as f64
    }
}
