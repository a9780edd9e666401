//! The storage seam: the core sees storage as a flat namespace of named byte
//! files. Names are `/`-separated paths (`topics/orders/0/00000000000000000000.log`);
//! a backend may map them to directories. Every backend holds the same bytes,
//! so a pond moves between backends by copying its files.

use std::fmt::Debug;
use std::sync::Arc;

use crate::Result;

/// In a `Storage` impl of a wrapper with an `inner` storage: the sharing
/// methods (lock, claims, watch), forwarded unchanged.
macro_rules! forward_sharing {
    () => {
        fn is_shared(&self) -> bool {
            self.inner.is_shared()
        }

        fn lock(&self, exclusive: bool) -> crate::Result<()> {
            self.inner.lock(exclusive)
        }

        fn unlock(&self) -> crate::Result<()> {
            self.inner.unlock()
        }

        fn try_claim(&self, what: &str) -> crate::Result<bool> {
            self.inner.try_claim(what)
        }

        fn is_claimed(&self, what: &str) -> crate::Result<bool> {
            self.inner.is_claimed(what)
        }

        fn live_claims(&self, prefix: &str) -> crate::Result<Vec<String>> {
            self.inner.live_claims(prefix)
        }

        fn watch(&self, name: &str, on_change: std::sync::Arc<dyn Fn() + Send + Sync>) -> bool {
            self.inner.watch(name, on_change)
        }

        fn watch_knocks(&self, on_knock: std::sync::Arc<dyn Fn() + Send + Sync>) -> bool {
            self.inner.watch_knocks(on_knock)
        }

        fn try_sole(&self) -> crate::Result<bool> {
            self.inner.try_sole()
        }

        fn leave_sole(&self) -> crate::Result<()> {
            self.inner.leave_sole()
        }

        fn own_holder(&self) -> Option<u64> {
            self.inner.own_holder()
        }
    };
}

/// In a `StorageFile` impl of a wrapper with an `inner` file: the reading
/// methods, forwarded unchanged.
macro_rules! forward_reads {
    () => {
        fn len(&self) -> crate::Result<u64> {
            self.inner.len()
        }

        fn refresh_len(&self) -> crate::Result<u64> {
            self.inner.refresh_len()
        }

        fn read_at(&self, offset: u64, buf: &mut [u8]) -> crate::Result<()> {
            self.inner.read_at(offset, buf)
        }

        fn identity(&self) -> crate::Result<Option<u64>> {
            self.inner.identity()
        }
    };
}

mod bounded;
mod memory;
mod mirror;
mod read_only;
mod tracked;
pub use bounded::{BoundedHandles, DEFAULT_MAX_OPEN_FILES};
pub use memory::MemoryStorage;
pub use mirror::{Changes, FileChange, MirrorStorage, StoredFile, PAGE_SIZE};
pub(crate) use read_only::ReadOnlyView;
pub(crate) use tracked::{Announcer, Tracked};

#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
mod fs;
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
mod presence;
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
pub use fs::{os_error, FileStorage, PathError};
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
pub(crate) use presence::forget_inherited;

/// Who may read and write the files a file pond creates (set exactly,
/// whatever the process umask).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FileMode {
    /// The owner only: directories 0700, files 0600.
    #[default]
    Private,
    /// The owner and the group (a pond shared by a team's accounts):
    /// directories 0770, files 0660.
    Group,
}

/// A namespace of named byte files.
pub trait Storage: Send + Sync + Debug {
    /// Opens the named file. A missing file is created empty when `create`,
    /// otherwise it is an `io::ErrorKind::NotFound` error.
    fn open(&self, name: &str, create: bool) -> Result<Arc<dyn StorageFile>>;

    /// Every file whose name starts with `prefix`, sorted by name.
    fn list(&self, prefix: &str) -> Result<Vec<String>>;

    /// Removes the named file; removing a missing file is not an error.
    /// Handles already open keep working on the removed bytes.
    fn remove(&self, name: &str) -> Result<()>;

    /// Renames `from` to `to` atomically, replacing `to` if it exists.
    fn rename(&self, from: &str, to: &str) -> Result<()>;

    /// Makes creations, renames and removals of files under the directory
    /// `dir` durable (a directory fsync). A no-op where names are not durable.
    fn sync_names(&self, _dir: &str) -> Result<()> {
        Ok(())
    }

    /// Releases what the backend holds for the pond (its lock files).
    /// Called once, when the pond closes.
    fn close(&self) -> Result<()> {
        Ok(())
    }

    /// Whether other handles (in this process or others) may open the same
    /// files at once. Only then does a pond lock, and catch up on what
    /// others wrote, around each operation.
    fn is_shared(&self) -> bool {
        false
    }

    /// Takes the lock that makes one operation atomic against every other
    /// handle of these files: exclusive for a handle that writes, shared
    /// for one that only reads. Blocks until it is granted. A no-op where
    /// nothing is shared.
    fn lock(&self, _exclusive: bool) -> Result<()> {
        Ok(())
    }

    /// Releases the lock [`Storage::lock`] took.
    fn unlock(&self) -> Result<()> {
        Ok(())
    }

    /// Whether some open handle holds the claim `what` (see
    /// [`Storage::try_claim`]). Never, where nothing is shared.
    fn is_claimed(&self, _what: &str) -> Result<bool> {
        Ok(false)
    }

    /// The claims beginning with `prefix` that open handles hold.
    fn live_claims(&self, _prefix: &str) -> Result<Vec<String>> {
        Ok(Vec::new())
    }

    /// Calls `on_change` (on a thread of the storage's own) whenever the
    /// named file is written, by any handle, until the storage closes.
    /// Returns whether it watches; where it cannot, waiters look for
    /// changes themselves.
    fn watch(&self, _name: &str, _on_change: Arc<dyn Fn() + Send + Sync>) -> bool {
        false
    }

    /// Takes these files for this handle alone, when no other handle has
    /// them open: until [`Storage::leave_sole`], no other handle can open
    /// or lock them, so [`Storage::lock`] is not needed. Where nothing is
    /// shared, never (there is nothing to gain).
    fn try_sole(&self) -> Result<bool> {
        Ok(false)
    }

    /// Shares the files again after [`Storage::try_sole`].
    fn leave_sole(&self) -> Result<()> {
        Ok(())
    }

    /// Calls `on_knock` (on a thread of the storage's own) when another
    /// handle wants to open or lock these files, until the storage closes:
    /// a sole holder then leaves. Returns whether it watches; a handle only
    /// tries sole tenure when it does.
    fn watch_knocks(&self, _on_knock: Arc<dyn Fn() + Send + Sync>) -> bool {
        false
    }

    /// Claims `what` for this handle until it closes, when no other handle
    /// holds that claim; `Ok(false)` when another does. Always granted
    /// where nothing is shared.
    fn try_claim(&self, _what: &str) -> Result<bool> {
        Ok(true)
    }

    /// The holder id this handle must use (see `holder.rs`), where the
    /// backend's claims are taken outside the core (a browser tab holds a
    /// Web Lock named by it before it opens the pond); `None`: the core
    /// picks one and claims it.
    fn own_holder(&self) -> Option<u64> {
        None
    }
}

/// The claim a holder with id `id` takes ([`Storage::try_claim`]): for a
/// backend whose claims are held outside the core ([`Storage::own_holder`]),
/// which names them the same way.
pub fn holder_claim(id: u64) -> String {
    crate::holder::claim(id)
}

/// One open byte file.
// `len` is fallible I/O, so an `is_empty` beside it would add nothing.
#[allow(clippy::len_without_is_empty)]
pub trait StorageFile: Send + Sync + Debug {
    /// The file's length as this handle knows it.
    fn len(&self) -> Result<u64>;

    /// The length read again from the backing store, for when another
    /// process or tab may have appended. Defaults to [`StorageFile::len`].
    fn refresh_len(&self) -> Result<u64> {
        self.len()
    }

    /// Fills `buf` from `offset`. A read past the end is an
    /// `io::ErrorKind::UnexpectedEof` error.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()>;

    /// Writes `data` at `offset`, extending the file (zero-filled) if needed.
    fn write_at(&self, offset: u64, data: &[u8]) -> Result<()>;

    /// Truncates or zero-extends the file to `len`.
    fn set_len(&self, len: u64) -> Result<()>;

    /// Makes everything written so far durable (fsync). A no-op where
    /// nothing is durable.
    fn sync(&self) -> Result<()>;

    /// What tells this file apart from another file later put under its
    /// name (an inode number), where the backend can tell; `None` where
    /// names are never shared with other handles.
    fn identity(&self) -> Result<Option<u64>> {
        Ok(None)
    }
}

/// Reads a whole (small) file.
pub(crate) fn read_all(file: &dyn StorageFile) -> Result<Vec<u8>> {
    let len =
        usize::try_from(file.len()?).map_err(|_| crate::Error::corrupt("file too large to read whole"))?;
    let mut buf = vec![0u8; len];
    file.read_at(0, &mut buf)?;
    Ok(buf)
}

/// Replaces the named file's content atomically: writes a temporary file,
/// syncs it when `durable`, and renames it over the target.
pub(crate) fn replace_file(storage: &dyn Storage, name: &str, data: &[u8], durable: bool) -> Result<()> {
    let tmp = format!("{name}.tmp");
    // A stale temporary (or anything planted under its name) is removed,
    // never written through.
    storage.remove(&tmp)?;
    let file = storage.open(&tmp, true)?;
    file.set_len(0)?;
    file.write_at(0, data)?;
    if durable {
        file.sync()?;
    }
    drop(file);
    storage.rename(&tmp, name)?;
    if durable {
        storage.sync_names(parent_dir(name))?;
    }
    Ok(())
}

/// The directory part of a `/`-separated name (`""` for a top-level name).
pub(crate) fn parent_dir(name: &str) -> &str {
    name.rsplit_once('/').map_or("", |(dir, _)| dir)
}

#[cfg(test)]
pub(crate) mod contract {
    //! The storage contract, run against every backend.
    use super::*;
    use std::io::ErrorKind;

    fn io_kind(r: Result<impl Sized>) -> ErrorKind {
        match r {
            Err(crate::Error::Io(e)) => e.kind(),
            Err(e) => panic!("expected an io error, got {e}"),
            Ok(_) => panic!("expected an io error, got Ok"),
        }
    }

    pub fn check(storage: &dyn Storage) {
        assert_eq!(io_kind(storage.open("a/missing", false)), ErrorKind::NotFound);
        let f = storage.open("a/b/one.log", true).unwrap();
        assert_eq!(f.len().unwrap(), 0);
        f.write_at(0, b"hello").unwrap();
        f.write_at(7, b"xy").unwrap();
        assert_eq!(f.len().unwrap(), 9);
        let mut buf = [0u8; 9];
        f.read_at(0, &mut buf).unwrap();
        assert_eq!(&buf, b"hello\0\0xy");
        let mut past = [0u8; 4];
        assert_eq!(io_kind(f.read_at(7, &mut past)), ErrorKind::UnexpectedEof);
        f.set_len(3).unwrap();
        assert_eq!(f.len().unwrap(), 3);
        assert_eq!(f.refresh_len().unwrap(), 3);
        f.sync().unwrap();

        let g = storage.open("a/two.log", true).unwrap();
        g.write_at(0, b"2").unwrap();
        let again = storage.open("a/b/one.log", true).unwrap();
        assert_eq!(again.len().unwrap(), 3);
        assert_eq!(storage.list("a/").unwrap(), vec!["a/b/one.log".to_string(), "a/two.log".to_string()]);
        assert_eq!(storage.list("a/b").unwrap(), vec!["a/b/one.log".to_string()]);
        assert!(storage.list("zzz/").unwrap().is_empty());

        storage.rename("a/two.log", "a/b/one.log").unwrap();
        let renamed = storage.open("a/b/one.log", false).unwrap();
        let mut one = [0u8; 1];
        renamed.read_at(0, &mut one).unwrap();
        assert_eq!(&one, b"2");
        assert_eq!(storage.list("a/").unwrap(), vec!["a/b/one.log".to_string()]);

        storage.remove("a/b/one.log").unwrap();
        storage.remove("a/b/one.log").unwrap();
        assert!(storage.list("a/").unwrap().is_empty());
        storage.sync_names("a").unwrap();

        replace_file(storage, "meta/x", b"first", true).unwrap();
        replace_file(storage, "meta/x", b"2nd", false).unwrap();
        assert_eq!(read_all(&*storage.open("meta/x", false).unwrap()).unwrap(), b"2nd");
        assert_eq!(storage.list("meta/").unwrap(), vec!["meta/x".to_string()]);
    }
}
