//! Storage in a directory of the local file system, with positional I/O.
//! Any number of handles, in this process or others, open one directory at
//! once: an advisory lock on `LOCK` (flock: per open file, dropped by the
//! OS when a process dies) makes each operation atomic against the others,
//! and claims (`LOCK.<what>`) are held by one handle until it closes.
//!
//! Hygiene: the directory is resolved to an absolute path once, at open (a
//! later `chdir` changes nothing); no symlink inside the pond is followed
//! (opening one is an error naming it); new directories are created 0700
//! and new files 0600 whatever the umask (0770/0660 with
//! [`FileMode::Group`]); every I/O error names its path.

use std::fmt;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use super::presence::{Presence, PRESENCE_FILE};
use super::{FileMode, Storage, StorageFile};
use crate::{Error, Result};

/// The name of the lock file in a pond directory.
pub const LOCK_FILE: &str = "LOCK";
/// Claims named so belong to one handle each (queue lease and group
/// member holders, clocks): their files are removed when the handle
/// closes, or found abandoned.
const OWN_CLAIMS: [&str; 2] = ["holder.", "clock."];

fn is_own_claim(what: &str) -> bool {
    OWN_CLAIMS.iter().any(|p| what.starts_with(p))
}

#[cfg(unix)]
fn dir_mode(mode: FileMode) -> u32 {
    match mode {
        FileMode::Private => 0o700,
        FileMode::Group => 0o770,
    }
}

#[cfg(unix)]
fn file_mode(mode: FileMode) -> u32 {
    match mode {
        FileMode::Private => 0o600,
        FileMode::Group => 0o660,
    }
}

/// A pond directory on the local file system.
pub struct FileStorage {
    /// Absolute, resolved once at open.
    root: PathBuf,
    mode: FileMode,
    /// The `LOCK` file, locked around each operation; `None` once closed.
    lock: Mutex<Option<File>>,
    /// Claims held until close (`LOCK.<what>`, locked), by name.
    claims: Mutex<Vec<(String, File)>>,
    /// This handle's hold on `LOCK.handles` (see `storage::presence`).
    presence: Presence,
    /// File watchers started by [`Storage::watch`], stopped on close.
    watchers: Mutex<Vec<notify::RecommendedWatcher>>,
    /// Opened with [`FileStorage::open_read_only`]: files are opened for
    /// reading, and every change is refused.
    read_only: bool,
}

/// An I/O error that names the path it happened on, keeping its kind and
/// OS error number ([`os_error`] finds it again).
pub(crate) fn io_at(path: &Path, e: io::Error) -> Error {
    let kind = e.kind();
    Error::Io(io::Error::new(kind, PathError { path: path.to_path_buf(), source: e }))
}

/// An I/O error on a named path (the payload of [`Error::Io`] from file storage).
#[derive(Debug)]
pub struct PathError {
    pub path: PathBuf,
    pub source: io::Error,
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.source)
    }
}

impl std::error::Error for PathError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// The OS error number of an I/O error, also when file storage wrapped it
/// with its path.
pub fn os_error(e: &io::Error) -> Option<i32> {
    e.raw_os_error()
        .or_else(|| e.get_ref()?.downcast_ref::<PathError>().and_then(|p| p.source.raw_os_error()))
}

impl FileStorage {
    /// Opens (creating if needed) the directory. Other handles may have it
    /// open too.
    pub fn open(root: impl AsRef<Path>) -> Result<FileStorage> {
        FileStorage::open_with_mode(root, FileMode::default())
    }

    pub fn open_with_mode(root: impl AsRef<Path>, mode: FileMode) -> Result<FileStorage> {
        let given = root.as_ref();
        if given.as_os_str().is_empty() {
            return Err(Error::invalid("a pond path must not be empty"));
        }
        create_dirs(given, mode)?;
        // Resolved once: a later chdir must not move the pond.
        let root = fs::canonicalize(given).map_err(|e| io_at(given, e))?;
        if !root.is_dir() {
            return Err(io_at(&root, io::Error::new(io::ErrorKind::NotADirectory, "not a directory")));
        }
        let lock = open_file(&root.join(LOCK_FILE), mode, true)?;
        let presence_path = root.join(PRESENCE_FILE);
        let presence = Presence::new(presence_path.clone(), Some(open_file(&presence_path, mode, true)?));
        sweep_abandoned_claims(&root)?;
        Ok(FileStorage {
            root,
            mode,
            lock: Mutex::new(Some(lock)),
            presence,
            claims: Mutex::new(Vec::new()),
            watchers: Mutex::new(Vec::new()),
            read_only: false,
        })
    }

    /// Opens an existing pond directory for reading only: nothing is
    /// created or written (it may be on a read-only mount). Its `LOCK`,
    /// when there is one, is locked shared around each operation, so a
    /// reader never sees a writer's half-done change of names.
    pub fn open_read_only(root: impl AsRef<Path>) -> Result<FileStorage> {
        let given = root.as_ref();
        if given.as_os_str().is_empty() {
            return Err(Error::invalid("a pond path must not be empty"));
        }
        let root = fs::canonicalize(given).map_err(|e| io_at(given, e))?;
        if !root.is_dir() {
            return Err(io_at(&root, io::Error::new(io::ErrorKind::NotADirectory, "not a directory")));
        }
        let lock = match no_follow_read().open(root.join(LOCK_FILE)) {
            Ok(file) => Some(file),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(io_at(&root.join(LOCK_FILE), e)),
        };
        let presence_path = root.join(PRESENCE_FILE);
        let presence_file = match open_for_reading(&presence_path) {
            Ok(file) => Some(file),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(io_at(&presence_path, e)),
        };
        Ok(FileStorage {
            root,
            mode: FileMode::default(),
            lock: Mutex::new(lock),
            presence: Presence::new(presence_path, presence_file),
            claims: Mutex::new(Vec::new()),
            watchers: Mutex::new(Vec::new()),
            read_only: true,
        })
    }

    fn refuse_if_read_only(&self, path: &Path) -> Result<()> {
        if self.read_only {
            return Err(io_at(path, read_only_error()));
        }
        Ok(())
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Calls `on_event` (on the watcher's own thread: inotify on Linux)
    /// for every event on the named file that `wanted` picks, until the
    /// storage closes. A failure to start (no inotify instances left) is
    /// not an error: the caller then does without.
    fn start_watcher(
        &self,
        name: &str,
        wanted: fn(&notify::EventKind) -> bool,
        on_event: Arc<dyn Fn() + Send + Sync>,
    ) -> bool {
        use notify::{RecursiveMode, Watcher};
        let Ok(path) = self.path(name) else { return false };
        let handler = move |event: notify::Result<notify::Event>| {
            if event.is_ok_and(|e| wanted(&e.kind)) {
                on_event();
            }
        };
        let Ok(mut watcher) = notify::recommended_watcher(handler) else { return false };
        if watcher.watch(&path, RecursiveMode::NonRecursive).is_err() {
            return false;
        }
        self.watchers.lock().unwrap_or_else(PoisonError::into_inner).push(watcher);
        true
    }

    /// The path of a storage name. Names are `/`-separated parts, none empty,
    /// `.` or `..`, so a name can never leave the pond directory.
    fn path(&self, name: &str) -> Result<PathBuf> {
        let valid =
            !name.is_empty() && name.split('/').all(|part| !part.is_empty() && part != "." && part != "..");
        if !valid {
            return Err(Error::invalid(format!("bad storage file name {name:?}")));
        }
        Ok(self.root.join(name))
    }

    /// Refuses a symlink at any directory level between the root and `path`
    /// (the last level is refused by `O_NOFOLLOW` when opened).
    fn check_no_symlink_dirs(&self, path: &Path) -> Result<()> {
        let Ok(rel) = path.strip_prefix(&self.root) else { return Ok(()) };
        let mut at = self.root.clone();
        let mut parts = rel.components().peekable();
        while let Some(part) = parts.next() {
            if parts.peek().is_none() {
                break;
            }
            at.push(part);
            match fs::symlink_metadata(&at) {
                Ok(m) if m.file_type().is_symlink() => return Err(symlink_refused(&at)),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(io_at(&at, e)),
            }
        }
        Ok(())
    }

    fn collect(&self, dir: &Path, rel: &str, out: &mut Vec<String>) -> Result<()> {
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_at(dir, e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| io_at(dir, e))?;
            let Ok(name) = entry.file_name().into_string() else {
                continue; // not a name logpond writes
            };
            let child = if rel.is_empty() { name } else { format!("{rel}/{name}") };
            // file_type() does not follow symlinks: a symlinked directory is
            // listed as a name, and refused when opened.
            let file_type = entry.file_type().map_err(|e| io_at(&entry.path(), e))?;
            if file_type.is_dir() {
                self.collect(&entry.path(), &child, out)?;
            } else if !child.starts_with(LOCK_FILE) {
                out.push(child);
            }
        }
        Ok(())
    }
}

/// Removes the claim files of lease holders whose handle is gone (a
/// killed process leaves its file behind, unlocked). Each is removed while
/// locked by the sweep, so a claimant racing it sees its name gone.
fn sweep_abandoned_claims(root: &Path) -> Result<()> {
    let entries = fs::read_dir(root).map_err(|e| io_at(root, e))?;
    let prefix = format!("{LOCK_FILE}.");
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.to_str().and_then(|n| n.strip_prefix(&prefix)).is_some_and(is_own_claim) {
            continue;
        }
        let path = entry.path();
        let Ok(file) = no_follow_read().open(&path) else { continue };
        if file.try_lock().is_ok() && same_file(&file, &path) {
            let _ = fs::remove_file(&path);
        }
    }
    Ok(())
}

/// Whether `file` is the file now at `path`.
fn same_file(file: &File, path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (file.metadata(), fs::symlink_metadata(path)) {
            (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (file, path);
        true
    }
}

/// Read-only options that never follow a symlink.
/// Opens an existing file for reading, refusing a symlink.
pub(super) fn open_for_reading(path: &Path) -> io::Result<File> {
    no_follow_read().open(path)
}

fn no_follow_read() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW);
    }
    options
}

/// What a change to a pond opened read-only fails with.
pub(crate) fn read_only_error() -> io::Error {
    io::Error::new(io::ErrorKind::PermissionDenied, "the pond is open read-only")
}

fn symlink_refused(path: &Path) -> Error {
    Error::Io(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{}: is a symbolic link; logpond never follows links inside a pond", path.display()),
    ))
}

/// Creates `path` and its missing parents with exactly the pond's directory
/// mode (set after creation, so the umask neither widens nor narrows it).
/// Directories that already exist are left as they are.
fn create_dirs(path: &Path, mode: FileMode) -> Result<()> {
    if path.is_dir() {
        return Ok(());
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_dirs(parent, mode)?;
    }
    match fs::create_dir(path) {
        Ok(()) => set_mode(path, DIR, mode),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && path.is_dir() => Ok(()),
        Err(e) => Err(io_at(path, e)),
    }
}

const DIR: bool = true;
const FILE: bool = false;

#[cfg(unix)]
fn set_mode(path: &Path, dir: bool, mode: FileMode) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let bits = if dir { dir_mode(mode) } else { file_mode(mode) };
    fs::set_permissions(path, fs::Permissions::from_mode(bits)).map_err(|e| io_at(path, e))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _dir: bool, _mode: FileMode) -> Result<()> {
    Ok(())
}

/// Opens a file read-write without following a symlink; a missing file is
/// created (when `create`) with exactly the pond's file mode.
fn open_file(path: &Path, mode: FileMode, create: bool) -> Result<File> {
    let refuse = |e: io::Error| if is_symlink(path) { symlink_refused(path) } else { io_at(path, e) };
    if create {
        match no_follow().create_new(true).open(path) {
            Ok(file) => {
                set_mode(path, FILE, mode)?;
                return Ok(file);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(refuse(e)),
        }
    }
    no_follow().open(path).map_err(refuse)
}

/// Read-write options that never follow a symlink.
fn no_follow() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.read(true).write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW);
    }
    options
}

impl fmt::Debug for FileStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileStorage").field("root", &self.root).finish()
    }
}

impl Storage for FileStorage {
    fn open(&self, name: &str, create: bool) -> Result<Arc<dyn StorageFile>> {
        let path = self.path(name)?;
        self.check_no_symlink_dirs(&path)?;
        if self.read_only {
            let file = no_follow_read().open(&path).map_err(|e| {
                if e.kind() == io::ErrorKind::NotFound && create {
                    io_at(&path, read_only_error())
                } else if is_symlink(&path) {
                    symlink_refused(&path)
                } else {
                    io_at(&path, e)
                }
            })?;
            return Ok(Arc::new(DiskFile { file, path, read_only: true }));
        }
        if create {
            if let Some(parent) = path.parent() {
                create_dirs(parent, self.mode)?;
            }
        }
        let file = open_file(&path, self.mode, create)?;
        Ok(Arc::new(DiskFile { file, path, read_only: false }))
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>> {
        // Walk only the directory the prefix names, then filter.
        let dir = super::parent_dir(prefix);
        let mut out = Vec::new();
        let start = if dir.is_empty() { self.root.clone() } else { self.path(dir)? };
        if start != self.root {
            self.check_no_symlink_dirs(&start.join("x"))?;
        }
        self.collect(&start, dir, &mut out)?;
        out.retain(|name| name.starts_with(prefix));
        out.sort();
        Ok(out)
    }

    fn remove(&self, name: &str) -> Result<()> {
        let path = self.path(name)?;
        self.refuse_if_read_only(&path)?;
        self.check_no_symlink_dirs(&path)?;
        // remove_file removes a symlink itself, never its target.
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_at(&path, e)),
        }
        // Tidy empty directories up to the root; a non-empty one stops it.
        let mut dir = path.parent();
        while let Some(d) = dir {
            if d == self.root || fs::remove_dir(d).is_err() {
                break;
            }
            dir = d.parent();
        }
        Ok(())
    }

    fn rename(&self, from: &str, to: &str) -> Result<()> {
        let (from_path, to_path) = (self.path(from)?, self.path(to)?);
        self.refuse_if_read_only(&from_path)?;
        self.check_no_symlink_dirs(&from_path)?;
        self.check_no_symlink_dirs(&to_path)?;
        if let Some(parent) = to_path.parent() {
            create_dirs(parent, self.mode)?;
        }
        // rename replaces a symlink at `to` itself, never its target.
        fs::rename(&from_path, &to_path).map_err(|e| io_at(&from_path, e))?;
        Ok(())
    }

    fn sync_names(&self, dir: &str) -> Result<()> {
        let path = if dir.is_empty() { self.root.clone() } else { self.path(dir)? };
        match File::open(&path) {
            Ok(d) => d.sync_all().map_err(|e| io_at(&path, e))?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_at(&path, e)),
        }
        Ok(())
    }

    fn close(&self) -> Result<()> {
        // Dropping the files releases their locks.
        self.lock.lock().unwrap_or_else(PoisonError::into_inner).take();
        self.presence.release();
        for (what, _file) in self.claims.lock().unwrap_or_else(PoisonError::into_inner).drain(..) {
            // A lease holder's claim is its own (a unique name): gone with it.
            if is_own_claim(&what) {
                let _ = fs::remove_file(self.root.join(format!("{LOCK_FILE}.{what}")));
            }
        }
        self.watchers.lock().unwrap_or_else(PoisonError::into_inner).clear();
        Ok(())
    }

    fn watch(&self, name: &str, on_change: Arc<dyn Fn() + Send + Sync>) -> bool {
        use notify::EventKind;
        self.start_watcher(
            name,
            |kind| matches!(kind, EventKind::Modify(_) | EventKind::Create(_)),
            on_change,
        )
    }

    fn watch_knocks(&self, on_knock: Arc<dyn Fn() + Send + Sync>) -> bool {
        use notify::event::{AccessKind, EventKind};
        self.start_watcher(
            PRESENCE_FILE,
            |kind| matches!(kind, EventKind::Access(AccessKind::Open(_))),
            on_knock,
        )
    }

    fn try_sole(&self) -> Result<bool> {
        if self.read_only {
            return Ok(false);
        }
        self.presence.try_sole()
    }

    fn leave_sole(&self) -> Result<()> {
        self.presence.leave_sole()
    }

    fn is_shared(&self) -> bool {
        true
    }

    fn lock(&self, exclusive: bool) -> Result<()> {
        // Present first: a sole holder lets this handle in after its
        // current operation.
        self.presence.enter()?;
        let guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(file) = guard.as_ref() else {
            // A read-only pond without a LOCK file: no writer ever had it
            // open through this version, and none can while it is missing.
            return if self.read_only { Ok(()) } else { Err(Error::Closed) };
        };
        let exclusive = exclusive && !self.read_only;
        let locked = if exclusive { file.lock() } else { file.lock_shared() };
        locked.map_err(|e| io_at(&self.root.join(LOCK_FILE), e))
    }

    fn unlock(&self) -> Result<()> {
        let guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        match guard.as_ref() {
            Some(file) => file.unlock().map_err(|e| io_at(&self.root.join(LOCK_FILE), e)),
            None => Ok(()),
        }
    }

    fn is_claimed(&self, what: &str) -> Result<bool> {
        let path = self.root.join(format!("{LOCK_FILE}.{what}"));
        let file = match no_follow_read().open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(io_at(&path, e)),
        };
        match file.try_lock() {
            Ok(()) => Ok(false),
            Err(TryLockError::WouldBlock) => Ok(true),
            Err(TryLockError::Error(e)) => Err(io_at(&path, e)),
        }
    }

    fn live_claims(&self, prefix: &str) -> Result<Vec<String>> {
        let entries = fs::read_dir(&self.root).map_err(|e| io_at(&self.root, e))?;
        let start = format!("{LOCK_FILE}.{prefix}");
        let mut out = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(what) = name.to_str().and_then(|n| n.strip_prefix(&start)) else { continue };
            let what = format!("{prefix}{what}");
            if self.is_claimed(&what)? {
                out.push(what);
            }
        }
        Ok(out)
    }

    fn try_claim(&self, what: &str) -> Result<bool> {
        let path = self.root.join(format!("{LOCK_FILE}.{what}"));
        self.refuse_if_read_only(&path)?;
        // A sweep may remove the file between its creation and its lock
        // (it removes only unlocked files, holding them locked): then the
        // claim is tried again, a bounded number of times.
        for _ in 0..100 {
            let file = match open_file(&path, self.mode, true) {
                Ok(file) => file,
                Err(Error::Io(e)) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            match file.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => return Ok(false),
                Err(TryLockError::Error(e)) => return Err(io_at(&path, e)),
            }
            // Locked, but is it still the file under the name?
            if same_file(&file, &path) {
                self.claims.lock().unwrap_or_else(PoisonError::into_inner).push((what.to_string(), file));
                return Ok(true);
            }
        }
        Err(io_at(&path, io::Error::other("the claim file kept disappearing")))
    }
}

fn is_symlink(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

struct DiskFile {
    file: File,
    path: PathBuf,
    read_only: bool,
}

impl DiskFile {
    fn err(&self, e: io::Error) -> Error {
        io_at(&self.path, e)
    }
}

impl fmt::Debug for DiskFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DiskFile").field("path", &self.path).finish()
    }
}

impl StorageFile for DiskFile {
    fn len(&self) -> Result<u64> {
        Ok(self.file.metadata().map_err(|e| self.err(e))?.len())
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        positional::read_exact_at(&self.file, buf, offset).map_err(|e| self.err(e))
    }

    fn write_at(&self, offset: u64, data: &[u8]) -> Result<()> {
        if self.read_only {
            return Err(self.err(read_only_error()));
        }
        positional::write_all_at(&self.file, data, offset).map_err(|e| self.err(e))
    }

    fn set_len(&self, len: u64) -> Result<()> {
        if self.read_only {
            return Err(self.err(read_only_error()));
        }
        self.file.set_len(len).map_err(|e| self.err(e))
    }

    fn sync(&self) -> Result<()> {
        self.file.sync_data().map_err(|e| self.err(e))
    }

    #[cfg(unix)]
    fn identity(&self) -> Result<Option<u64>> {
        use std::os::unix::fs::MetadataExt;
        Ok(Some(self.file.metadata().map_err(|e| self.err(e))?.ino()))
    }
}

/// Reads and writes at an offset, whole: one loop over each platform's
/// single positional call. On Linux that call is the system call itself
/// (see the `rustix` entry in Cargo.toml for why not glibc's wrapper).
mod positional {
    use std::fs::File;
    use std::io;

    #[cfg(target_os = "linux")]
    fn read_once(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        Ok(rustix::io::pread(file, buf, offset)?)
    }

    #[cfg(target_os = "linux")]
    fn write_once(file: &File, data: &[u8], offset: u64) -> io::Result<usize> {
        Ok(rustix::io::pwrite(file, data, offset)?)
    }

    #[cfg(all(unix, not(target_os = "linux")))]
    fn read_once(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        std::os::unix::fs::FileExt::read_at(file, buf, offset)
    }

    #[cfg(all(unix, not(target_os = "linux")))]
    fn write_once(file: &File, data: &[u8], offset: u64) -> io::Result<usize> {
        std::os::unix::fs::FileExt::write_at(file, data, offset)
    }

    #[cfg(windows)]
    fn read_once(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        std::os::windows::fs::FileExt::seek_read(file, buf, offset)
    }

    #[cfg(windows)]
    fn write_once(file: &File, data: &[u8], offset: u64) -> io::Result<usize> {
        std::os::windows::fs::FileExt::seek_write(file, data, offset)
    }

    pub fn read_exact_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
        while !buf.is_empty() {
            match read_once(file, buf, offset) {
                Ok(0) => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "read past end")),
                Ok(n) => {
                    buf = &mut buf[n..];
                    offset += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    pub fn write_all_at(file: &File, mut data: &[u8], mut offset: u64) -> io::Result<()> {
        while !data.is_empty() {
            match write_once(file, data, offset) {
                Ok(0) => return Err(io::Error::new(io::ErrorKind::WriteZero, "wrote nothing")),
                Ok(n) => {
                    data = &data[n..];
                    offset += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_storage_meets_the_contract() {
        let dir = tempfile::tempdir().unwrap();
        let storage = FileStorage::open(dir.path()).unwrap();
        super::super::contract::check(&storage);
        // remove() tidied the now-empty directories.
        assert!(!dir.path().join("a").exists());
    }

    #[test]
    fn handles_share_a_directory_and_claims_are_held_until_close() {
        let dir = tempfile::tempdir().unwrap();
        let first = FileStorage::open(dir.path()).unwrap();
        let second = FileStorage::open(dir.path()).unwrap();
        // The lock excludes across handles (flock is per open file).
        first.lock(true).unwrap();
        let again = File::open(dir.path().join(LOCK_FILE)).unwrap();
        assert!(matches!(again.try_lock_shared(), Err(TryLockError::WouldBlock)));
        first.unlock().unwrap();
        second.lock(false).unwrap();
        again.try_lock_shared().unwrap();
        again.unlock().unwrap();
        second.unlock().unwrap();
        assert!(first.try_claim("coordinator").unwrap());
        assert!(!second.try_claim("coordinator").unwrap());
        first.close().unwrap();
        assert!(second.try_claim("coordinator").unwrap());
        assert!(matches!(first.lock(true), Err(Error::Closed)));
        // Lock files are not pond files.
        assert!(second.list("").unwrap().is_empty());
    }

    #[test]
    fn abandoned_claims_are_swept_and_live_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let live = FileStorage::open(dir.path()).unwrap();
        assert!(live.try_claim("holder.0000000a").unwrap());
        // A killed process's claim: its file, no lock on it.
        fs::write(dir.path().join("LOCK.holder.0000000b"), b"").unwrap();
        fs::write(dir.path().join("LOCK.coordinator"), b"").unwrap();
        let other = FileStorage::open(dir.path()).unwrap();
        assert!(other.is_claimed("holder.0000000a").unwrap());
        assert!(!dir.path().join("LOCK.holder.0000000b").exists(), "swept");
        assert!(dir.path().join("LOCK.coordinator").exists(), "only claims of one handle are swept");
        assert_eq!(other.live_claims("holder.").unwrap(), vec!["holder.0000000a".to_string()]);
        live.close().unwrap();
        assert!(!dir.path().join("LOCK.holder.0000000a").exists(), "removed by its holder on close");
        assert!(!other.is_claimed("holder.0000000a").unwrap());
    }

    #[test]
    fn an_empty_path_is_refused() {
        assert!(matches!(FileStorage::open(""), Err(Error::InvalidArgument(_))));
    }

    #[test]
    fn names_cannot_escape_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let storage = FileStorage::open(dir.path()).unwrap();
        for bad in ["../x", "a/../../x", "", "a//b", "/abs", "a/./b"] {
            assert!(matches!(storage.open(bad, true), Err(Error::InvalidArgument(_))), "{bad}");
        }
    }

    #[test]
    fn io_errors_name_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("plain-file");
        fs::write(&file, b"x").unwrap();
        let err = FileStorage::open(&file).unwrap_err();
        assert!(matches!(err, Error::Io(_)), "{err}");
        assert!(err.to_string().contains("plain-file"), "{err}");
        let storage = FileStorage::open(dir.path().join("p")).unwrap();
        let missing = storage.open("nope/x", false).unwrap_err();
        assert!(missing.to_string().contains("nope/x"), "{missing}");
        let Error::Io(e) = missing else { panic!() };
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_inside_the_pond_are_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        fs::write(&outside, b"precious").unwrap();
        let outside_dir = dir.path().join("outside-dir");
        fs::create_dir(&outside_dir).unwrap();
        let storage = FileStorage::open(dir.path().join("p")).unwrap();
        let root = storage.root().to_path_buf();
        fs::create_dir_all(root.join("t")).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("t/file.log")).unwrap();
        std::os::unix::fs::symlink(&outside_dir, root.join("linked")).unwrap();
        let err = storage.open("t/file.log", true).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        let err = storage.open("linked/x.log", true).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert!(storage.rename("t/file.log", "linked/y").is_err());
        assert_eq!(fs::read(&outside).unwrap(), b"precious");
        assert!(fs::read_dir(&outside_dir).unwrap().next().is_none());
        // Replacing a file through a link replaces the link, not its target.
        std::os::unix::fs::symlink(&outside, root.join("meta")).unwrap();
        let tmp = storage.open("meta.new", true).unwrap();
        tmp.write_at(0, b"new").unwrap();
        storage.rename("meta.new", "meta").unwrap();
        assert_eq!(fs::read(&outside).unwrap(), b"precious");
    }

    #[cfg(unix)]
    #[test]
    fn new_files_and_directories_are_private_whatever_the_umask() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        for (mode, dir_bits, file_bits) in
            [(FileMode::Private, 0o700, 0o600), (FileMode::Group, 0o770, 0o660)]
        {
            let root = dir.path().join(format!("{mode:?}"));
            let storage = FileStorage::open_with_mode(&root, mode).unwrap();
            storage.open("a/b/c.log", true).unwrap();
            let bits = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
            // Set after creation: the process umask neither widens nor narrows them.
            assert_eq!(bits(&root), dir_bits);
            assert_eq!(bits(&root.join("a/b")), dir_bits);
            assert_eq!(bits(&root.join("a/b/c.log")), file_bits);
            assert_eq!(bits(&root.join(LOCK_FILE)), file_bits);
        }
    }
}
