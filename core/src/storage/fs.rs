//! Storage in a directory of the local file system, with positional I/O and
//! an advisory lock on the directory (`LOCK`), held while the pond is open.

use std::fmt;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use super::{Storage, StorageFile};
use crate::{Error, Result};

/// The name of the lock file in a pond directory.
pub const LOCK_FILE: &str = "LOCK";

/// A pond directory on the local file system.
pub struct FileStorage {
    root: PathBuf,
    /// The locked `LOCK` file; `None` once closed.
    lock: Mutex<Option<File>>,
}

impl FileStorage {
    /// Opens (creating if needed) the directory and takes its lock. A second
    /// open of a locked directory, from this process or another, fails with
    /// [`Error::PondLocked`].
    pub fn open(root: impl AsRef<Path>) -> Result<FileStorage> {
        let root = root.as_ref().to_path_buf();
        if root.as_os_str().is_empty() {
            return Err(Error::invalid("a pond path must not be empty"));
        }
        fs::create_dir_all(&root)?;
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(root.join(LOCK_FILE))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Err(Error::PondLocked(root.display().to_string())),
            Err(TryLockError::Error(e)) => return Err(e.into()),
        }
        Ok(FileStorage { root, lock: Mutex::new(Some(lock)) })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, name: &str) -> Result<PathBuf> {
        let valid =
            !name.is_empty() && name.split('/').all(|part| !part.is_empty() && part != "." && part != "..");
        if !valid {
            return Err(Error::invalid(format!("bad storage file name {name:?}")));
        }
        Ok(self.root.join(name))
    }

    fn collect(&self, dir: &Path, rel: &str, out: &mut Vec<String>) -> io::Result<()> {
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let Ok(name) = entry.file_name().into_string() else {
                continue; // not a name logpond writes
            };
            let child = if rel.is_empty() { name } else { format!("{rel}/{name}") };
            if entry.file_type()?.is_dir() {
                self.collect(&entry.path(), &child, out)?;
            } else if child != LOCK_FILE {
                out.push(child);
            }
        }
        Ok(())
    }
}

impl fmt::Debug for FileStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileStorage").field("root", &self.root).finish()
    }
}

impl Storage for FileStorage {
    fn open(&self, name: &str, create: bool) -> Result<Arc<dyn StorageFile>> {
        let path = self.path(name)?;
        if create {
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent)?;
            }
        }
        let file = OpenOptions::new().read(true).write(true).create(create).truncate(false).open(&path)?;
        Ok(Arc::new(DiskFile { file, path }))
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>> {
        // Walk only the directory the prefix names, then filter.
        let dir = super::parent_dir(prefix);
        let mut out = Vec::new();
        let start = if dir.is_empty() { self.root.clone() } else { self.path(dir)? };
        self.collect(&start, dir, &mut out)?;
        out.retain(|name| name.starts_with(prefix));
        out.sort();
        Ok(out)
    }

    fn remove(&self, name: &str) -> Result<()> {
        let path = self.path(name)?;
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e.into()),
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
        let to_path = self.path(to)?;
        if let Some(parent) = to_path.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::rename(self.path(from)?, to_path)?;
        Ok(())
    }

    fn sync_names(&self, dir: &str) -> Result<()> {
        let path = if dir.is_empty() { self.root.clone() } else { self.path(dir)? };
        match File::open(&path) {
            Ok(d) => d.sync_all()?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }

    fn close(&self) -> Result<()> {
        // Dropping the file releases the lock.
        self.lock.lock().unwrap_or_else(PoisonError::into_inner).take();
        Ok(())
    }
}

struct DiskFile {
    file: File,
    path: PathBuf,
}

impl fmt::Debug for DiskFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DiskFile").field("path", &self.path).finish()
    }
}

impl StorageFile for DiskFile {
    fn len(&self) -> Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        positional::read_exact_at(&self.file, buf, offset)?;
        Ok(())
    }

    fn write_at(&self, offset: u64, data: &[u8]) -> Result<()> {
        positional::write_all_at(&self.file, data, offset)?;
        Ok(())
    }

    fn set_len(&self, len: u64) -> Result<()> {
        self.file.set_len(len)?;
        Ok(())
    }

    fn sync(&self) -> Result<()> {
        self.file.sync_data()?;
        Ok(())
    }
}

#[cfg(unix)]
mod positional {
    use std::fs::File;
    use std::io;
    use std::os::unix::fs::FileExt;

    pub fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
        file.read_exact_at(buf, offset)
    }

    pub fn write_all_at(file: &File, data: &[u8], offset: u64) -> io::Result<()> {
        file.write_all_at(data, offset)
    }
}

#[cfg(windows)]
mod positional {
    use std::fs::File;
    use std::io;
    use std::os::windows::fs::FileExt;

    pub fn read_exact_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
        while !buf.is_empty() {
            match file.seek_read(buf, offset)? {
                0 => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "read past end")),
                n => {
                    buf = &mut buf[n..];
                    offset += n as u64;
                }
            }
        }
        Ok(())
    }

    pub fn write_all_at(file: &File, mut data: &[u8], mut offset: u64) -> io::Result<()> {
        while !data.is_empty() {
            let n = file.seek_write(data, offset)?;
            data = &data[n..];
            offset += n as u64;
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
    fn second_open_is_locked_until_close() {
        let dir = tempfile::tempdir().unwrap();
        let first = FileStorage::open(dir.path()).unwrap();
        assert!(matches!(FileStorage::open(dir.path()), Err(Error::PondLocked(_))));
        first.close().unwrap();
        FileStorage::open(dir.path()).unwrap();
    }

    #[test]
    fn an_empty_path_is_refused() {
        assert!(matches!(FileStorage::open(""), Err(Error::InvalidArgument(_))));
    }

    #[test]
    fn names_cannot_escape_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let storage = FileStorage::open(dir.path()).unwrap();
        for bad in ["../x", "a/../../x", "", "a//b", "/abs"] {
            assert!(matches!(storage.open(bad, true), Err(Error::InvalidArgument(_))), "{bad}");
        }
    }
}
