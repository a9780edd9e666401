//! Handles across `fork()`. A child process inherits a pond handle's
//! memory and open files but not its place: the parent keeps writing
//! through the same state, so the child's appends would silently collide
//! with the parent's offsets. A handle therefore remembers the process it
//! was opened in and the fork generation; used after a fork it fails with
//! [`Error::Forked`] and writes nothing, not even on close.
//!
//! Checking the process id on every call costs a system call (~100 ns), so
//! the hot path compares a generation counter instead: bindings call
//! [`note_fork_in_child`] from their runtime's after-fork hook (Python's
//! `os.register_at_fork`). `close` and drop also compare the process id, so
//! a child that never ran the hook still writes nothing when it lets go.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::{Error, Result};

static FORK_GENERATION: AtomicU64 = AtomicU64::new(0);

/// Tells the core this process is the child of a `fork()`: every pond
/// handle opened before it fails from now on. Call it from an after-fork
/// hook in the child.
pub fn note_fork_in_child() {
    FORK_GENERATION.fetch_add(1, Ordering::SeqCst);
    // The parent's presence locks are its own: the child closes its copies,
    // so they end with the parent.
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    crate::storage::forget_inherited();
}

/// The process and fork generation a handle was opened in.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Birth {
    pid: u32,
    generation: u64,
}

impl Birth {
    pub(crate) fn now() -> Birth {
        Birth { pid: process_id(), generation: FORK_GENERATION.load(Ordering::Relaxed) }
    }

    /// The cheap check, on every call.
    pub(crate) fn check(&self) -> Result<()> {
        if FORK_GENERATION.load(Ordering::Relaxed) != self.generation {
            return Err(self.forked());
        }
        Ok(())
    }

    /// The thorough check (a system call), where writing would do harm.
    pub(crate) fn check_process(&self) -> Result<()> {
        self.check()?;
        if process_id() != self.pid {
            return Err(self.forked());
        }
        Ok(())
    }

    fn forked(&self) -> Error {
        Error::Forked(self.pid)
    }
}

#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
fn process_id() -> u32 {
    std::process::id()
}

#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
fn process_id() -> u32 {
    0
}
