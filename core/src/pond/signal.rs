//! Waking waiters: a counter bumped after every append (by this handle, or
//! by another handle of a shared pond when its change is seen) and on
//! close, a condition variable for threads waiting on it, and listeners
//! called on each bump. Shared (`Arc`) with a shared pond's file watcher,
//! which runs on the storage's thread, never the core's.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

/// A listener called after every append (outside the pond's lock).
pub type AppendListener = Arc<dyn Fn() + Send + Sync>;

#[derive(Default)]
pub(crate) struct Signal {
    appends: Mutex<u64>,
    appended: Condvar,
    /// Threads in `wait`: a bump skips the wake-up when none.
    waiters: AtomicUsize,
    /// Listeners registered: a bump skips the list when none.
    listener_count: AtomicUsize,
    listeners: Mutex<Vec<(u64, AppendListener)>>,
    next_listener: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Signal {
    pub fn count(&self) -> u64 {
        *lock(&self.appends)
    }

    /// Bumps the counter, wakes the waiters and calls the listeners;
    /// returns the new count.
    pub fn bump(&self) -> u64 {
        // The counter is bumped under its lock, and a waiter registers under
        // the same lock before it sleeps: no wake-up can be lost.
        let count = {
            let mut appends = lock(&self.appends);
            *appends += 1;
            *appends
        };
        if self.waiters.load(Ordering::SeqCst) > 0 {
            self.appended.notify_all();
        }
        if self.listener_count.load(Ordering::SeqCst) > 0 {
            let listeners: Vec<AppendListener> =
                lock(&self.listeners).iter().map(|(_, f)| f.clone()).collect();
            for f in listeners {
                f();
            }
        }
        count
    }

    /// Blocks until the count differs from `seen` or `timeout` passes;
    /// returns the count.
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    pub fn wait(&self, seen: u64, timeout: std::time::Duration) -> u64 {
        let guard = lock(&self.appends);
        self.waiters.fetch_add(1, Ordering::SeqCst);
        let (guard, _) = self
            .appended
            .wait_timeout_while(guard, timeout, |count| *count == seen)
            .unwrap_or_else(PoisonError::into_inner);
        self.waiters.fetch_sub(1, Ordering::SeqCst);
        *guard
    }

    pub fn add_listener(&self, f: AppendListener) -> u64 {
        let id = self.next_listener.fetch_add(1, Ordering::Relaxed);
        let mut listeners = lock(&self.listeners);
        listeners.push((id, f));
        self.listener_count.store(listeners.len(), Ordering::SeqCst);
        id
    }

    pub fn remove_listener(&self, id: u64) {
        let mut listeners = lock(&self.listeners);
        listeners.retain(|(i, _)| *i != id);
        self.listener_count.store(listeners.len(), Ordering::SeqCst);
    }
}
