//! `ManualClock`: time that moves only when a test says so.

use pyo3::prelude::*;

use crate::convert;

/// A clock for tests: ponds opened with it read its time (epoch ms), which
/// changes only through `advance` and `set`.
#[pyclass(frozen, module = "logpond", name = "ManualClock")]
pub struct ManualClock {
    pub inner: logpond::ManualClock,
}

#[pymethods]
impl ManualClock {
    #[new]
    #[pyo3(signature = (start_ms=None))]
    fn new(start_ms: Option<&Bound<'_, PyAny>>) -> PyResult<ManualClock> {
        let start = start_ms.map(|s| convert::int("start_ms", s)).transpose()?.unwrap_or(0);
        Ok(ManualClock { inner: logpond::ManualClock::new(start) })
    }

    /// Moves the clock by `seconds` (a float; negative moves it back).
    fn advance(&self, seconds: &Bound<'_, PyAny>) -> PyResult<()> {
        self.inner.advance(convert::seconds_to_ms("seconds", seconds)?);
        Ok(())
    }

    /// Sets the time, in epoch milliseconds.
    fn set(&self, now_ms: &Bound<'_, PyAny>) -> PyResult<()> {
        self.inner.set(convert::int("now_ms", now_ms)?);
        Ok(())
    }

    /// The time, in epoch milliseconds.
    fn now_ms(&self) -> i64 {
        logpond::Clock::now_ms(&self.inner)
    }

    fn __repr__(&self) -> String {
        format!("ManualClock(now_ms={})", logpond::Clock::now_ms(&self.inner))
    }
}
