//! Blocking calls: the core's own waits (`poll_wait`, `next_record_wait`,
//! `receive_wait`, `wait_for_append`) run with the interpreter released, in short slices,
//! and Python's signal handlers run between slices, so Ctrl-C
//! (`KeyboardInterrupt`) ends a wait within a slice.

use std::time::{Duration, Instant};

use pyo3::prelude::*;

use crate::convert;
use crate::errors::{detached, invalid};

/// A `timeout` argument: seconds (int, float or timedelta) >= 0, or `None`
/// for no limit.
#[derive(Debug, Clone, Copy)]
pub enum Timeout {
    Forever,
    For(Duration),
}

impl Timeout {
    /// The default of every `timeout`: do not wait.
    pub const NONE: Timeout = Timeout::For(Duration::ZERO);

    fn is_zero(self) -> bool {
        matches!(self, Timeout::For(d) if d.is_zero())
    }

    /// What is left of the wait that began at `start` (`None`: no limit).
    fn left(self, start: Instant) -> Option<Duration> {
        match self {
            Timeout::Forever => None,
            Timeout::For(d) => Some(d.saturating_sub(start.elapsed())),
        }
    }
}

impl<'a, 'py> FromPyObject<'a, 'py> for Timeout {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Timeout> {
        if obj.is_none() {
            return Ok(Timeout::Forever);
        }
        let ms = convert::seconds_to_ms("timeout", &obj.to_owned())?;
        let ms = u64::try_from(ms).map_err(|_| {
            invalid(obj.py(), format!("timeout must be >= 0 seconds (or None: no limit), got {ms} ms"))
        })?;
        Ok(Timeout::For(Duration::from_millis(ms)))
    }
}

/// What a waiting core call returns: records, deliveries, or one record.
pub trait Found {
    /// True when the call returned something (the wait is over).
    fn found(&self) -> bool;
}

impl<T> Found for Vec<T> {
    fn found(&self) -> bool {
        !self.is_empty()
    }
}

impl<T> Found for Option<T> {
    fn found(&self) -> bool {
        self.is_some()
    }
}

/// Calls `attempt(slice)` (a core call that waits up to `slice` for
/// something to return) until it returns something or `timeout` passes.
/// A zero timeout makes exactly one call, with a zero slice.
pub fn until_some<R, F>(py: Python<'_>, timeout: Timeout, mut attempt: F) -> PyResult<R>
where
    F: FnMut(Duration) -> logpond::Result<R> + Send,
    R: Found + Send,
{
    if timeout.is_zero() {
        return detached(py, || attempt(Duration::ZERO));
    }
    let start = Instant::now();
    loop {
        let slice = logpond::wait::slice(timeout.left(start));
        let got = detached(py, || attempt(slice))?;
        if got.found() || timeout.left(start).is_some_and(|l| l.is_zero()) {
            return Ok(got);
        }
        py.check_signals()?;
    }
}

/// Sends through `Backpressure`: the core's `send_many_wait`, a slice at
/// a time, until it sends or `timeout` passes.
pub fn through_backpressure<T, F>(py: Python<'_>, timeout: Timeout, mut attempt: F) -> PyResult<T>
where
    F: FnMut(Duration) -> logpond::Result<T> + Send,
    T: Send,
{
    if timeout.is_zero() {
        return detached(py, || attempt(Duration::ZERO));
    }
    let start = Instant::now();
    loop {
        let slice = logpond::wait::slice(timeout.left(start));
        match detached(py, || attempt(slice)) {
            Err(e)
                if crate::errors::is_code(py, &e, "BACKPRESSURE")
                    && !timeout.left(start).is_some_and(|l| l.is_zero()) =>
            {
                py.check_signals()?;
            }
            other => return other,
        }
    }
}
