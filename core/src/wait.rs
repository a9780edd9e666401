//! How bindings wait. The core's waits (`poll_wait`, `receive_wait`,
//! `next_record_wait`, `send_many_wait`) block the calling thread; a binding
//! runs them in slices of at most [`WAIT_SLICE`], so between slices it can
//! look at its own runtime — Python's signal handlers (Ctrl-C), a closed
//! handle, a cancelled task — and give a pool thread back. One policy for
//! every binding. (Not on wasm32, where nothing blocks.)

use std::time::Duration;

/// The longest one slice of a binding's wait lasts.
pub const WAIT_SLICE: Duration = Duration::from_millis(50);

/// The next slice of a wait with `left` to go (`None`: no limit).
pub fn slice(left: Option<Duration>) -> Duration {
    left.map_or(WAIT_SLICE, |l| l.min(WAIT_SLICE))
}
