//! Waiting off the event loop: the core's blocking waits (`poll_wait`,
//! `receive_wait`) run as napi `AsyncTask`s on the libuv thread pool, and
//! their promises resolve on the main thread with records packed as a
//! read's are (see `logpond_js::Packed`).
//!
//! A task waits at most the time the JS layer gives it (a slice of the
//! caller's timeout, see `node/lib/backend.js`), so that a waiting consumer holds
//! a pool thread only a slice at a time and notices a close in between.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use napi::bindgen_prelude::{Buffer, Either, Float64Array};
use napi::{Env, Task};
use napi_derive::napi;

use crate::convert::{to_u64, Result};

/// The longest slice of a wait (the core's one policy for every binding).
#[napi]
pub const WAIT_SLICE_MS: u32 = logpond::wait::WAIT_SLICE.as_millis() as u32;

/// A failed wait, as the promise resolves with it: the JS layer throws the
/// error of `code` (a task's promise can only reject with napi's own
/// status codes, which would lose the core's).
#[napi(object)]
pub struct Failure {
    pub code: String,
    pub message: String,
}

impl Failure {
    pub fn of(e: logpond::Error) -> Failure {
        Failure { code: e.code().as_str().to_string(), message: e.to_string() }
    }
}

/// What a wait resolves with: `[bytes, numbers]`, or a failure.
pub type Resolved = Either<(Buffer, Float64Array), Failure>;

/// A wait's duration from the JS layer's milliseconds.
pub fn wait_time(ms: f64) -> Result<Duration> {
    Ok(Duration::from_millis(to_u64("timeoutMs", ms)?))
}

/// The blocking work of a task, run on a pool thread.
pub trait Wait: Send + 'static {
    fn wait(&mut self) -> logpond::Result<logpond_js::Packed>;
}

/// Runs a [`Wait`] on the libuv thread pool.
pub struct WaitTask<W: Wait>(pub W);

impl<W: Wait> Task for WaitTask<W> {
    type Output = std::result::Result<logpond_js::Packed, Failure>;
    type JsValue = Resolved;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        // No panic may unwind into the pool thread (and from there abort).
        Ok(match catch_unwind(AssertUnwindSafe(|| self.0.wait())) {
            Ok(r) => r.map_err(Failure::of),
            Err(_) => Err(Failure {
                code: "INTERNAL".to_string(),
                message: "logpond internal error (a bug): a panic while waiting".to_string(),
            }),
        })
    }

    fn resolve(&mut self, _env: Env, output: Self::Output) -> napi::Result<Resolved> {
        Ok(match output {
            Ok(p) => Either::A((Buffer::from(p.data), Float64Array::new(p.numbers))),
            Err(f) => Either::B(f),
        })
    }
}
