//! A storage wrapper that notes what an operation changes: bytes of
//! existing files, or names (a file created, removed or renamed). A shared
//! pond tells other handles about both, so they know whether to re-read
//! file lengths or to list directories again (`pond::sync`) — and it tells
//! them *before* the change is made (the announcer runs before the first
//! write of each kind in an operation), so a process killed part-way
//! through an operation never leaves a change the others do not know of.
//!
//! The flags are per wrapper, set by any thread; the pond clears them
//! under its own lock, before each operation.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use super::{Storage, StorageFile};
use crate::Result;

/// What changed since the flags were last taken.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Writes {
    /// Bytes of a file were written or its length was set.
    pub bytes: bool,
    /// A file was created, removed or renamed.
    pub names: bool,
}

/// Called before the first change of a kind in an operation: `true` for
/// a change of names (which may also change bytes), `false` for bytes.
pub(crate) type Announcer = Box<dyn Fn(bool) -> Result<()> + Send + Sync>;

#[derive(Default)]
struct Flags {
    bytes: AtomicBool,
    names: AtomicBool,
    announcer: OnceLock<Announcer>,
}

impl Flags {
    /// Notes a change about to be made, announcing it first if it is the
    /// first of its kind since the flags were cleared.
    fn before(&self, names: bool) -> Result<()> {
        let flag = if names { &self.names } else { &self.bytes };
        // Set already (the common case after an operation's first write):
        // no read-modify-write.
        if flag.load(Ordering::Relaxed) {
            return Ok(());
        }
        if !flag.swap(true, Ordering::SeqCst) {
            if let Some(announce) = self.announcer.get() {
                if let Err(e) = announce(names) {
                    flag.store(false, Ordering::SeqCst);
                    return Err(e);
                }
            }
        }
        Ok(())
    }
}

/// Notes the writes made through it.
pub(crate) struct Tracked {
    inner: Arc<dyn Storage>,
    flags: Arc<Flags>,
}

impl Tracked {
    pub fn new(inner: Arc<dyn Storage>) -> Tracked {
        Tracked { inner, flags: Arc::default() }
    }

    /// Sets what announces changes (once).
    pub fn set_announcer(&self, announce: Announcer) {
        let _ = self.flags.announcer.set(announce);
    }

    /// What changed since the last call, clearing the flags.
    pub fn take(&self) -> Writes {
        Writes {
            bytes: self.flags.bytes.swap(false, Ordering::SeqCst),
            names: self.flags.names.swap(false, Ordering::SeqCst),
        }
    }
}

impl fmt::Debug for Tracked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl Storage for Tracked {
    fn open(&self, name: &str, create: bool) -> Result<Arc<dyn StorageFile>> {
        if create {
            // Creating may add a name; counting an existing file as new
            // only costs other handles one listing.
            self.flags.before(true)?;
        }
        let file = self.inner.open(name, create)?;
        Ok(Arc::new(TrackedFile { inner: file, flags: self.flags.clone() }))
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>> {
        self.inner.list(prefix)
    }

    fn remove(&self, name: &str) -> Result<()> {
        self.flags.before(true)?;
        self.inner.remove(name)
    }

    fn rename(&self, from: &str, to: &str) -> Result<()> {
        self.flags.before(true)?;
        self.inner.rename(from, to)
    }

    fn sync_names(&self, dir: &str) -> Result<()> {
        self.inner.sync_names(dir)
    }

    fn close(&self) -> Result<()> {
        self.inner.close()
    }

    forward_sharing!();
}

struct TrackedFile {
    inner: Arc<dyn StorageFile>,
    flags: Arc<Flags>,
}

impl fmt::Debug for TrackedFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl StorageFile for TrackedFile {
    forward_reads!();

    fn write_at(&self, offset: u64, data: &[u8]) -> Result<()> {
        self.flags.before(false)?;
        self.inner.write_at(offset, data)
    }

    fn set_len(&self, len: u64) -> Result<()> {
        self.flags.before(false)?;
        self.inner.set_len(len)
    }

    fn sync(&self) -> Result<()> {
        self.inner.sync()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemoryStorage;

    #[test]
    fn notes_bytes_and_names_apart() {
        let t = Tracked::new(Arc::new(MemoryStorage::new()));
        super::super::contract::check(&t);
        t.take();
        assert_eq!(t.take(), Writes::default());
        let f = t.open("a", true).unwrap();
        assert_eq!(t.take(), Writes { bytes: false, names: true });
        f.write_at(0, b"x").unwrap();
        let mut b = [0u8; 1];
        f.read_at(0, &mut b).unwrap();
        assert_eq!(t.take(), Writes { bytes: true, names: false });
        t.rename("a", "b").unwrap();
        assert_eq!(t.take(), Writes { bytes: false, names: true });
        t.open("b", false).unwrap().len().unwrap();
        assert_eq!(t.take(), Writes::default());
        // Announced once per kind, before the change, until cleared.
        let said = Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = said.clone();
        t.set_announcer(Box::new(move |names| {
            log.lock().unwrap().push(names);
            Ok(())
        }));
        let f = t.open("b", false).unwrap();
        f.write_at(0, b"1").unwrap();
        f.write_at(1, b"2").unwrap();
        t.remove("c").unwrap();
        assert_eq!(*said.lock().unwrap(), vec![false, true]);
        t.take();
        f.set_len(0).unwrap();
        assert_eq!(*said.lock().unwrap(), vec![false, true, false]);
    }
}
