//! Storage in RAM. Clones share one namespace, so a test can "reopen" a pond
//! over the same storage; nothing survives the process.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use super::{Storage, StorageFile};
use crate::Result;

type Bytes = Arc<RwLock<Vec<u8>>>;

/// An in-memory namespace of files.
#[derive(Clone, Default)]
pub struct MemoryStorage {
    files: Arc<Mutex<BTreeMap<String, Bytes>>>,
}

impl MemoryStorage {
    pub fn new() -> MemoryStorage {
        MemoryStorage::default()
    }

    fn files(&self) -> MutexGuard<'_, BTreeMap<String, Bytes>> {
        self.files.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every file's name and content: the pond's bytes, for export.
    pub fn snapshot(&self) -> Vec<(String, Vec<u8>)> {
        self.files().iter().map(|(name, data)| (name.clone(), read_lock(data).clone())).collect()
    }

    /// Replaces (or creates) a file with the given content, for import.
    pub fn put(&self, name: &str, data: Vec<u8>) {
        self.files().insert(name.to_string(), Arc::new(RwLock::new(data)));
    }
}

impl fmt::Debug for MemoryStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStorage").field("files", &self.files().len()).finish()
    }
}

fn read_lock(data: &RwLock<Vec<u8>>) -> std::sync::RwLockReadGuard<'_, Vec<u8>> {
    data.read().unwrap_or_else(PoisonError::into_inner)
}

fn write_lock(data: &RwLock<Vec<u8>>) -> std::sync::RwLockWriteGuard<'_, Vec<u8>> {
    data.write().unwrap_or_else(PoisonError::into_inner)
}

impl Storage for MemoryStorage {
    fn open(&self, name: &str, create: bool) -> Result<Arc<dyn StorageFile>> {
        let mut files = self.files();
        let data = match files.get(name) {
            Some(data) => data.clone(),
            None if create => files.entry(name.to_string()).or_default().clone(),
            None => return Err(io::Error::new(io::ErrorKind::NotFound, name.to_string()).into()),
        };
        Ok(Arc::new(MemoryFile { data }))
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>> {
        Ok(self
            .files()
            .range(prefix.to_string()..)
            .take_while(|(name, _)| name.starts_with(prefix))
            .map(|(name, _)| name.clone())
            .collect())
    }

    fn remove(&self, name: &str) -> Result<()> {
        self.files().remove(name);
        Ok(())
    }

    fn rename(&self, from: &str, to: &str) -> Result<()> {
        let mut files = self.files();
        let data =
            files.remove(from).ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, from.to_string()))?;
        files.insert(to.to_string(), data);
        Ok(())
    }
}

struct MemoryFile {
    data: Bytes,
}

impl fmt::Debug for MemoryFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryFile").field("len", &read_lock(&self.data).len()).finish()
    }
}

fn to_usize(n: u64) -> io::Result<usize> {
    usize::try_from(n).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "offset too large"))
}

impl StorageFile for MemoryFile {
    fn len(&self) -> Result<u64> {
        Ok(read_lock(&self.data).len() as u64)
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        let data = read_lock(&self.data);
        let start = to_usize(offset)?;
        let src = start
            .checked_add(buf.len())
            .and_then(|end| data.get(start..end))
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "read past end"))?;
        buf.copy_from_slice(src);
        Ok(())
    }

    fn write_at(&self, offset: u64, bytes: &[u8]) -> Result<()> {
        let mut data = write_lock(&self.data);
        let start = to_usize(offset)?;
        let end = start
            .checked_add(bytes.len())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "write too large"))?;
        if data.len() < end {
            data.resize(end, 0);
        }
        data[start..end].copy_from_slice(bytes);
        Ok(())
    }

    fn set_len(&self, len: u64) -> Result<()> {
        write_lock(&self.data).resize(to_usize(len)?, 0);
        Ok(())
    }

    fn sync(&self) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn memory_storage_meets_the_contract() {
        super::super::contract::check(&super::MemoryStorage::new());
    }
}
