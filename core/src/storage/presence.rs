//! Who has a pond directory open, and sole tenure (see `pond::sync`).
//!
//! Every handle holds a shared lock on `LOCK.handles` for as long as it is
//! open. A handle that finds itself alone may take that lock exclusively:
//! then no other handle can be inside any operation (each takes the
//! operation lock `LOCK` only while holding `LOCK.handles`), so it skips
//! the per-operation lock and counters. A handle that wants in *knocks* —
//! opens `LOCK.handles`, which the sole holder's watcher sees (inotify
//! `IN_OPEN`) — and the holder goes back to sharing after its current
//! operation.
//!
//! A forked child inherits these locks with its parent's open files; it
//! drops its copies ([`forget_inherited`]), so a parent that dies does not
//! leave its tenure to a child that never uses it.

use std::fs::{File, TryLockError};
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use crate::{Error, Result};

/// The file every open handle holds locked (shared, or exclusive alone).
pub const PRESENCE_FILE: &str = "LOCK.handles";

/// How long a handle waits for a sole holder to let it in before giving
/// up with `PondLocked` (the holder's process is stopped, or stuck in one
/// operation that long).
const KNOCK_PATIENCE: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tenure {
    /// Not (yet, or no longer) holding the file.
    Out,
    Shared,
    Sole,
}

struct Held {
    /// `None` while the file does not exist (a read-only handle of a pond
    /// no writer of this version opened yet) and after close.
    file: Option<File>,
    tenure: Tenure,
}

/// One handle's hold on `LOCK.handles`.
pub(crate) struct Presence {
    path: PathBuf,
    held: Arc<Mutex<Held>>,
    /// The process that opened it: a forked child that never ran the
    /// after-fork hook must not unlock the parent's lock when it drops it.
    pid: u32,
}

/// What a forked child must let go of: every presence of this process.
static INHERITABLE: Mutex<Vec<Weak<Mutex<Held>>>> = Mutex::new(Vec::new());

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Presence {
    /// `file`: the opened `LOCK.handles`, if it exists.
    pub fn new(path: PathBuf, file: Option<File>) -> Presence {
        let held = Arc::new(Mutex::new(Held { file, tenure: Tenure::Out }));
        let mut all = lock(&INHERITABLE);
        all.retain(|w| w.strong_count() > 0);
        all.push(Arc::downgrade(&held));
        Presence { path, held, pid: std::process::id() }
    }

    /// Makes sure this handle is present (holds the file shared or
    /// exclusive) before it takes the operation lock: knocks a sole holder
    /// out, waiting up to [`KNOCK_PATIENCE`].
    pub fn enter(&self) -> Result<()> {
        let mut held = lock(&self.held);
        if held.tenure == Tenure::Out {
            self.join(&mut held)?;
        }
        Ok(())
    }

    /// Takes the pond alone when no other handle has it open. On `false`
    /// this handle is present (shared) again.
    pub fn try_sole(&self) -> Result<bool> {
        let mut held = lock(&self.held);
        match held.tenure {
            Tenure::Sole => return Ok(true),
            Tenure::Out => return Ok(false),
            Tenure::Shared => {}
        }
        let Some(file) = &held.file else { return Ok(false) };
        // Two steps (a flock conversion is not atomic either): between
        // them this handle is out, and may have to knock to come back.
        let unlocked = file.unlock();
        let tried = unlocked.map(|()| file.try_lock());
        held.tenure = Tenure::Out;
        match tried {
            Ok(Ok(())) => {
                held.tenure = Tenure::Sole;
                Ok(true)
            }
            Ok(Err(TryLockError::WouldBlock)) => self.join(&mut held).map(|()| false),
            Ok(Err(TryLockError::Error(e))) | Err(e) => {
                let e = self.err(e);
                self.join(&mut held)?;
                Err(e)
            }
        }
    }

    /// Shares the pond again after sole tenure.
    pub fn leave_sole(&self) -> Result<()> {
        let mut held = lock(&self.held);
        if held.tenure != Tenure::Sole {
            return Ok(());
        }
        let unlocked = held.file.as_ref().map_or(Ok(()), File::unlock);
        held.tenure = Tenure::Out;
        unlocked.map_err(|e| self.err(e))?;
        self.join(&mut held)
    }

    /// Lets go for good (close): unlocks explicitly, so that copies of the
    /// file a forked child still has do not keep the lock.
    pub fn release(&self) {
        let mut held = lock(&self.held);
        if let Some(file) = held.file.take() {
            if std::process::id() == self.pid {
                let _ = file.unlock();
            }
        }
        held.tenure = Tenure::Out;
    }

    /// Takes the file shared, knocking while a sole holder has it. A
    /// read-only handle whose pond has no such file yet looks for it each
    /// time and, until it appears, is present without it (no writer of this
    /// version has the pond open).
    fn join(&self, held: &mut Held) -> Result<()> {
        if held.file.is_none() {
            match super::fs::open_for_reading(&self.path) {
                Ok(file) => held.file = Some(file),
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(self.err(e)),
            }
        }
        let Some(file) = &held.file else { return Ok(()) };
        let started = Instant::now();
        let mut pause = Duration::from_micros(50);
        loop {
            match file.try_lock_shared() {
                Ok(()) => {
                    held.tenure = Tenure::Shared;
                    return Ok(());
                }
                Err(TryLockError::WouldBlock) => {}
                Err(TryLockError::Error(e)) => return Err(self.err(e)),
            }
            if started.elapsed() > KNOCK_PATIENCE {
                return Err(Error::PondLocked(format!(
                    "another handle holds this pond alone and did not let this one in within {} s \
                     (is its process stopped?)",
                    KNOCK_PATIENCE.as_secs()
                )));
            }
            // The knock: opening the file is what the holder's watcher sees.
            drop(super::fs::open_for_reading(&self.path));
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(5));
        }
    }

    fn err(&self, e: io::Error) -> Error {
        super::fs::io_at(&self.path, e)
    }
}

impl Drop for Presence {
    fn drop(&mut self) {
        self.release();
    }
}

/// In a forked child: closes (without unlocking, which would release the
/// parent's lock too) every presence file inherited from the parent.
pub(crate) fn forget_inherited() {
    // Only the forking thread exists in the child: a lock another thread
    // held at the fork stays held, so nothing here may block.
    let Ok(all) = INHERITABLE.try_lock() else { return };
    for held in all.iter().filter_map(Weak::upgrade) {
        if let Ok(mut held) = held.try_lock() {
            held.file.take();
            held.tenure = Tenure::Out;
        }
    }
}
