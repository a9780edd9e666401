//! One pond, many handles: how a handle's memory stays a cache of the
//! files when other handles (in this process or others) share them.
//!
//! Every operation of a shared pond runs under the storage's exclusive lock
//! (`Storage::lock`). Under it, the handle reads two counters from
//! `LOCK.sync`: `writes` (bumped by every operation that wrote anything)
//! and `names` (bumped when one created, removed or renamed a file). When
//! they differ from what the handle last saw, it catches up before the
//! operation runs:
//! - `writes` only: every partition (of topics, and of queue state logs)
//!   re-reads its active segment's length and takes in the new batches;
//!   committed offsets and queue events appended since are replayed;
//! - `names`: the same after listing the files again (topics created or
//!   deleted, segments rolled, removed or rewritten, subscriptions created
//!   or deleted).
//!
//! A torn tail found under the lock is a dead writer's (no live one is
//! mid-append) and is cut, as on open. The counters are bumped *before*
//! the operation's first write of bytes, and again before its first change
//! of names (`storage::Tracked` calls back), so a process killed part-way
//! never leaves a change other handles do not know of. A single handle
//! pays one uncontended lock, a read of `LOCK.sync`, and a write of it per
//! writing operation (two when names change).

use std::sync::Arc;

use crate::log::topics::{reload_topics, Env};
use crate::pond::State;
use std::sync::Mutex;

use crate::storage::{Announcer, Storage, StorageFile, Tracked};
use crate::Result;

/// The file holding the counters.
pub(crate) const SYNC_FILE: &str = "LOCK.sync";
const MAGIC: &[u8; 4] = b"LPSY";
const VERSION: u32 = 1;
const LEN: usize = 24;

/// What a handle last saw of `LOCK.sync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Counters {
    writes: u64,
    names: u64,
}

impl Counters {
    fn encode(self) -> [u8; LEN] {
        let mut out = [0u8; LEN];
        out[..4].copy_from_slice(MAGIC);
        out[4..8].copy_from_slice(&VERSION.to_le_bytes());
        out[8..16].copy_from_slice(&self.writes.to_le_bytes());
        out[16..24].copy_from_slice(&self.names.to_le_bytes());
        out
    }

    fn decode(buf: &[u8; LEN]) -> Option<Counters> {
        let word = |at: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&buf[at..at + 8]);
            u64::from_le_bytes(w)
        };
        (&buf[..4] == MAGIC && buf[4..8] == VERSION.to_le_bytes())
            .then(|| Counters { writes: word(8), names: word(16) })
    }
}

/// The shared-pond half of a pond: its change tracking and counters file.
pub(crate) struct Shared {
    tracked: Arc<Tracked>,
    /// `LOCK.sync`, opened beneath the tracking (writing it is not a
    /// change). `None` for a read-only handle of a pond that has none: no
    /// writer has it open, so nothing changes.
    file: Option<Arc<dyn StorageFile>>,
    /// A read-only handle: locks shared, writes nothing, repairs nothing.
    read_only: bool,
    /// The counters as this handle last read or wrote them, under the lock
    /// (shared with the announcer, which bumps them before changes).
    current: Arc<Mutex<Option<Counters>>>,
}

impl Shared {
    /// `inner` is the storage beneath `tracked`.
    pub fn new(tracked: Arc<Tracked>, inner: &dyn Storage, read_only: bool) -> Result<Shared> {
        let file = match inner.open(SYNC_FILE, !read_only) {
            Ok(file) => Some(file),
            Err(crate::Error::Io(e)) if read_only && e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        let current = Arc::new(Mutex::new(None));
        if let (Some(file), false) = (&file, read_only) {
            tracked.set_announcer(announcer(file.clone(), current.clone()));
        }
        Ok(Shared { tracked, file, read_only, current })
    }

    /// Reads the counters under the lock, for the operation about to run.
    fn begin(&self) -> Result<Option<Counters>> {
        self.tracked.take();
        let now = self.read()?;
        *lock(&self.current) = now;
        Ok(now)
    }

    /// After an operation: the counters as it left them become what this
    /// handle has seen, when its state is current (otherwise it catches up
    /// again next time).
    fn finish(&self, state: &mut State, caught_up: bool) {
        if caught_up {
            state.seen = *lock(&self.current);
        }
    }

    /// The counters; `None` when the file is new, short or garbled (every
    /// handle then catches up on everything, and the next write mends it).
    fn read(&self) -> Result<Option<Counters>> {
        let Some(file) = &self.file else { return Ok(Some(Counters::default())) };
        let mut buf = [0u8; LEN];
        match file.read_at(0, &mut buf) {
            Ok(()) => Ok(Counters::decode(&buf)),
            Err(crate::Error::Io(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The counters as they are now, read without the lock (`None` when
    /// unreadable): a waiter compares two peeks to see another's write.
    #[cfg_attr(all(target_arch = "wasm32", target_os = "unknown"), allow(dead_code))]
    pub fn peek(&self) -> Option<Counters> {
        self.read().ok().flatten()
    }

    /// Whether nothing changed since this handle last caught up (read
    /// without the lock: a writer may be mid-operation, and what it has not
    /// yet published is as if it came after).
    pub fn unchanged(&self, state: &State) -> Result<bool> {
        Ok(state.seen.is_some() && self.read()? == state.seen)
    }

    /// Loads a handle's state under the lock (open recovers what a crash
    /// left, which no live writer may be doing at the same time).
    pub fn load(&self, storage: &dyn Storage, load: impl FnOnce() -> Result<State>) -> Result<State> {
        storage.lock(!self.read_only)?;
        let result = self.begin().and_then(|_| {
            let mut state = load()?;
            self.finish(&mut state, true);
            Ok(state)
        });
        let unlocked = storage.unlock();
        let state = result?;
        unlocked?;
        Ok(state)
    }

    /// Runs `f` under the lock, caught up first; publishes what it wrote.
    pub fn run<T>(
        &self,
        state: &mut State,
        env: &Env<'_>,
        f: impl FnOnce(&mut State) -> Result<T>,
    ) -> Result<T> {
        env.storage.lock(!self.read_only)?;
        let result = self.begin().and_then(|now| {
            catch_up_to(state, env, now)?;
            f(state)
        });
        self.finish(state, result.is_ok());
        let unlocked = env.storage.unlock();
        let value = result?;
        unlocked?;
        Ok(value)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Bumps the counters in `file` before a change (`names`: a change of
/// names): `writes` always, `names` too for a change of names. When the
/// file held none (new or garbled), the new counters start at a random
/// number, so they match nothing any handle saw.
fn announcer(file: Arc<dyn StorageFile>, current: Arc<Mutex<Option<Counters>>>) -> Announcer {
    Box::new(move |names| {
        let mut current = lock(&current);
        let (base, fresh) = match *current {
            Some(c) => (c, false),
            None => {
                let nonce = crate::holder::nonce();
                (Counters { writes: nonce, names: nonce }, true)
            }
        };
        let next = Counters {
            writes: base.writes.wrapping_add(1),
            names: base.names.wrapping_add(u64::from(names || fresh)),
        };
        file.write_at(0, &next.encode())?;
        *current = Some(next);
        Ok(())
    })
}

/// Refuses to share a pond between processes whose clocks disagree: a
/// handle with a manual clock and a handle of another process (either
/// way round). Each handle claims `clock.<manual|system>.<pid>.<n>` while it
/// is open (a read-only one only looks). Handles of one process may share
/// one manual clock.
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
pub(crate) fn check_clocks(storage: &dyn Storage, manual: bool, read_only: bool) -> Result<()> {
    let pid = std::process::id();
    if !read_only {
        let kind = if manual { "manual" } else { "system" };
        storage.try_claim(&format!("clock.{kind}.{pid}.{:x}", crate::holder::nonce()))?;
    }
    for what in storage.live_claims("clock.")? {
        let mut parts = what.split('.').skip(1);
        let (kind, other) = (parts.next(), parts.next().and_then(|p| p.parse::<u32>().ok()));
        let Some(other) = other.filter(|p| *p != pid) else { continue };
        if manual || kind == Some("manual") {
            return Err(crate::Error::PondLocked(format!(
                "process {other} has this pond open{}: a pond read through a ManualClock \
                 cannot be shared with another process (their times would disagree)",
                if kind == Some("manual") { " with a ManualClock" } else { "" }
            )));
        }
    }
    Ok(())
}

/// Brings `state` up to the counters `now` (see the module comment).
fn catch_up_to(state: &mut State, env: &Env<'_>, now: Option<Counters>) -> Result<()> {
    if now.is_some() && now == state.seen {
        return Ok(());
    }
    let names = match (now, state.seen) {
        (Some(now), Some(seen)) => now.names != seen.names,
        _ => true,
    };
    let stale = if names {
        reload_topics(&mut state.topics, env.storage, env.fsync)?
    } else {
        for topic in state.topics.values_mut() {
            for p in &mut topic.partitions {
                p.catch_up(env.storage)?;
            }
        }
        Vec::new()
    };
    state.groups.catch_up(&state.topics, env.chunks)?;
    state.groups.catch_up_groups(env, names)?;
    for topic in &stale {
        state.groups.forget_members_on(topic);
    }
    state.queues.catch_up(env, &state.topics, &stale, names)
}
