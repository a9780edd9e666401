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
//!
//! **Sole tenure** takes even that away from a handle that is alone. Every
//! handle holds `LOCK.handles` shared while open (`storage::presence`); a
//! writing handle that saw no other's change for a while tries to take it
//! exclusively, and while it holds it no other handle can open or lock the
//! pond, so its operations skip the lock and the counters. Its first act
//! alone bumps both counters, so a handle that comes back later (one that
//! stepped out to try the same) catches up on everything, even if the sole
//! holder is killed before it lets go. A handle that wants in knocks; the
//! holder's watcher (`Storage::watch_knocks`) lets it in after the current
//! operation. Tenure is only tried where such a watcher runs.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use crate::log::topics::{reload_topics, Env};
use crate::pond::State;

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
    /// When to try sole tenure next (read and written under the pond's
    /// state lock, by operations and by the knock handler alike).
    tenure: Arc<Tenure>,
    /// Whether this handle holds the pond alone (see the module comment).
    sole: Arc<AtomicBool>,
    /// Whether the storage tells this handle of knocks (set on first try).
    knocks: OnceLock<bool>,
    /// The pond's state lock, which every operation holds from start to
    /// end: the knock handler takes it too, so a sole holder lets another
    /// handle in only between operations.
    pond_state: OnceLock<Weak<Mutex<Option<State>>>>,
}

/// Operations in a row that saw no other handle's change before a handle
/// tries sole tenure; doubled after each failed try, up to the maximum.
const QUIET_BEFORE_TRYING: u32 = 64;
const MOST_QUIET_BEFORE_TRYING: u32 = 1 << 14;

/// When to try sole tenure next.
struct Tenure {
    quiet: AtomicU32,
    threshold: AtomicU32,
}

impl Tenure {
    fn reset(&self) {
        self.quiet.store(0, Ordering::Relaxed);
        self.threshold.store(QUIET_BEFORE_TRYING, Ordering::Relaxed);
    }
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
        let sole = Arc::new(AtomicBool::new(false));
        if let (Some(file), false) = (&file, read_only) {
            tracked.set_announcer(announcer(file.clone(), current.clone(), sole.clone()));
        }
        let tenure =
            Arc::new(Tenure { quiet: AtomicU32::new(0), threshold: AtomicU32::new(QUIET_BEFORE_TRYING) });
        Ok(Shared {
            tracked,
            file,
            read_only,
            current,
            tenure,
            sole,
            knocks: OnceLock::new(),
            pond_state: OnceLock::new(),
        })
    }

    /// Tells the handle its pond's state lock (see `pond_state`); without
    /// it, a handle never tries sole tenure.
    pub fn attach(&self, state: &Arc<Mutex<Option<State>>>) {
        let _ = self.pond_state.set(Arc::downgrade(state));
    }

    /// Whether this handle holds the pond alone now.
    pub fn is_sole(&self) -> bool {
        self.sole.load(Ordering::SeqCst)
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
        if self.is_sole() {
            return Ok(true);
        }
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
    /// A sole holder just runs it. The caller holds the pond's state lock.
    pub fn run<T>(
        &self,
        state: &mut State,
        env: &Env<'_>,
        f: impl FnOnce(&mut State) -> Result<T>,
    ) -> Result<T> {
        if self.is_sole() {
            return f(state);
        }
        env.storage.lock(!self.read_only)?;
        let mut quiet = false;
        let result = self.begin().and_then(|now| {
            quiet = now.is_some() && now == state.seen;
            catch_up_to(state, env, now)?;
            f(state)
        });
        self.finish(state, result.is_ok());
        let unlocked = env.storage.unlock();
        let value = result?;
        unlocked?;
        if !self.read_only {
            self.consider_sole(quiet, state, env);
        }
        Ok(value)
    }

    /// After an operation: tries sole tenure when enough operations in a
    /// row saw no other handle's change.
    fn consider_sole(&self, quiet: bool, state: &mut State, env: &Env<'_>) {
        let tenure = &*self.tenure;
        if !quiet {
            tenure.quiet.store(0, Ordering::Relaxed);
            return;
        }
        let quiet = tenure.quiet.load(Ordering::Relaxed) + 1;
        let threshold = tenure.threshold.load(Ordering::Relaxed);
        if quiet < threshold {
            tenure.quiet.store(quiet, Ordering::Relaxed);
            return;
        }
        tenure.quiet.store(0, Ordering::Relaxed);
        let watched = *self.knocks.get_or_init(|| {
            let handler = self.knock_handler();
            handler.is_some_and(|handler| env.storage.watch_knocks(handler))
        });
        if !watched {
            tenure.threshold.store(u32::MAX, Ordering::Relaxed); // nobody could get in: never alone
            return;
        }
        if !env.storage.try_sole().unwrap_or(false) {
            let next = threshold.saturating_mul(2).min(MOST_QUIET_BEFORE_TRYING);
            tenure.threshold.store(next, Ordering::Relaxed);
            return;
        }
        // Alone: catch up on what others did before they left, then mark
        // the tenure before anything is written in it.
        let entered = self.begin().and_then(|now| {
            catch_up_to(state, env, now)?;
            bump(self.file.as_deref(), &self.current, true)
        });
        self.finish(state, entered.is_ok());
        if entered.is_ok() {
            self.sole.store(true, Ordering::SeqCst);
            tenure.reset();
        } else {
            let _ = env.storage.leave_sole();
        }
    }

    /// What a knock runs (on the storage's watcher thread): a sole holder
    /// shares the pond again, between two operations (it waits for the
    /// pond's state lock). `None` before [`Shared::attach`].
    fn knock_handler(&self) -> Option<Arc<dyn Fn() + Send + Sync>> {
        let pond_state = self.pond_state.get()?.clone();
        let tenure = self.tenure.clone();
        let sole = self.sole.clone();
        let storage = Arc::downgrade(&self.tracked);
        Some(Arc::new(move || {
            let Some(pond_state) = pond_state.upgrade() else { return };
            let _between_operations = lock(&pond_state);
            if !sole.load(Ordering::SeqCst) {
                return;
            }
            if let Some(storage) = storage.upgrade() {
                // On failure the handle is out, and its next lock comes in.
                let _ = storage.leave_sole();
            }
            sole.store(false, Ordering::SeqCst);
            tenure.reset();
        }))
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Bumps the counters in `file` before a change (`names`: a change of
/// names): `writes` always, `names` too for a change of names. When the
/// file held none (new or garbled), the new counters start at a random
/// number, so they match nothing any handle saw. A sole holder announces
/// nothing: no other handle is there to tell.
fn announcer(
    file: Arc<dyn StorageFile>,
    current: Arc<Mutex<Option<Counters>>>,
    sole: Arc<AtomicBool>,
) -> Announcer {
    Box::new(move |names| {
        if sole.load(Ordering::SeqCst) {
            return Ok(());
        }
        bump(Some(&*file), &current, names)
    })
}

fn bump(file: Option<&dyn StorageFile>, current: &Mutex<Option<Counters>>, names: bool) -> Result<()> {
    let Some(file) = file else { return Ok(()) };
    let mut current = lock(current);
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
