//! A storage wrapper that bounds the open handles of the storage beneath
//! (file descriptors, for files), however many files the pond holds.
//!
//! `open` returns a light handle that names its file; the real handle is
//! opened on use and kept in a cache of at most `max_open` handles, the
//! least recently used being closed first (a clock sweep: every use sets a
//! bit, eviction clears bits until it finds one unset). Renames and
//! removals are tracked, so a light handle follows its file across a
//! rename; one whose file is removed or replaced keeps the old bytes (the
//! storage contract), its real handle pinned open until it is dropped.
//!
//! Lock order: the registry's mutex only; no storage call waits on another
//! lock while holding it except the opens and closes it performs itself.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use super::{Storage, StorageFile};
use crate::Result;

/// Open handles a file pond keeps by default.
pub const DEFAULT_MAX_OPEN_FILES: usize = 256;

/// Bounds the open handles of `inner`.
pub struct BoundedHandles {
    inner: Arc<dyn Storage>,
    registry: Arc<Mutex<Registry>>,
}

struct Entry {
    /// The file's current name; `None` once removed or replaced (pinned).
    name: Option<String>,
    handle: Option<Arc<dyn StorageFile>>,
    used: bool,
}

struct Registry {
    max_open: usize,
    next_id: u64,
    entries: HashMap<u64, Entry>,
    /// Ids of live light handles, by file name.
    by_name: HashMap<String, Vec<u64>>,
    /// Ids whose real handle is open and may be evicted, in sweep order.
    open: Vec<u64>,
    hand: usize,
}

impl BoundedHandles {
    pub fn new(inner: Arc<dyn Storage>, max_open: usize) -> BoundedHandles {
        let registry = Registry {
            max_open: max_open.max(1),
            next_id: 0,
            entries: HashMap::new(),
            by_name: HashMap::new(),
            open: Vec::new(),
            hand: 0,
        };
        BoundedHandles { inner, registry: Arc::new(Mutex::new(registry)) }
    }

    fn registry(&self) -> MutexGuard<'_, Registry> {
        lock(&self.registry)
    }

    /// Pins (keeps open, untracked by name) every handle of `name`: its
    /// file is about to be removed or replaced.
    fn detach_name(&self, reg: &mut Registry, name: &str) -> Result<()> {
        for id in reg.by_name.remove(name).unwrap_or_default() {
            let needs_open = reg.entries.get(&id).is_some_and(|e| e.handle.is_none());
            let handle = if needs_open { Some(self.inner.open(name, false)?) } else { None };
            reg.open.retain(|o| *o != id);
            if let Some(e) = reg.entries.get_mut(&id) {
                e.name = None;
                if let Some(h) = handle {
                    e.handle = Some(h);
                }
            }
        }
        Ok(())
    }
}

fn lock(m: &Mutex<Registry>) -> MutexGuard<'_, Registry> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Registry {
    /// Closes handles until fewer than `max_open` are open.
    fn make_room(&mut self) {
        while self.open.len() >= self.max_open {
            if self.hand >= self.open.len() {
                self.hand = 0;
            }
            let id = self.open[self.hand];
            let Some(e) = self.entries.get_mut(&id) else {
                self.open.swap_remove(self.hand);
                continue;
            };
            if e.used {
                e.used = false;
                self.hand += 1;
            } else {
                e.handle = None;
                self.open.swap_remove(self.hand);
            }
        }
    }
}

impl fmt::Debug for BoundedHandles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reg = self.registry();
        f.debug_struct("BoundedHandles")
            .field("inner", &self.inner)
            .field("open", &reg.open.len())
            .field("max_open", &reg.max_open)
            .finish()
    }
}

impl Storage for BoundedHandles {
    fn open(&self, name: &str, create: bool) -> Result<Arc<dyn StorageFile>> {
        let mut reg = self.registry();
        reg.make_room();
        // Opening checks existence (and creates) now, as the contract asks.
        let handle = self.inner.open(name, create)?;
        let id = reg.next_id;
        reg.next_id += 1;
        reg.entries.insert(id, Entry { name: Some(name.to_string()), handle: Some(handle), used: true });
        reg.by_name.entry(name.to_string()).or_default().push(id);
        reg.open.push(id);
        Ok(Arc::new(LightFile { id, registry: Arc::downgrade(&self.registry), inner: self.inner.clone() }))
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>> {
        self.inner.list(prefix)
    }

    fn remove(&self, name: &str) -> Result<()> {
        let mut reg = self.registry();
        self.detach_name(&mut reg, name)?;
        self.inner.remove(name)
    }

    fn rename(&self, from: &str, to: &str) -> Result<()> {
        let mut reg = self.registry();
        self.detach_name(&mut reg, to)?;
        self.inner.rename(from, to)?;
        if let Some(ids) = reg.by_name.remove(from) {
            for id in &ids {
                if let Some(e) = reg.entries.get_mut(id) {
                    e.name = Some(to.to_string());
                }
            }
            reg.by_name.insert(to.to_string(), ids);
        }
        Ok(())
    }

    forward_sharing!();

    fn sync_names(&self, dir: &str) -> Result<()> {
        self.inner.sync_names(dir)
    }

    fn close(&self) -> Result<()> {
        let mut reg = self.registry();
        for e in reg.entries.values_mut() {
            if e.name.is_some() {
                e.handle = None;
            }
        }
        reg.open.clear();
        drop(reg);
        self.inner.close()
    }
}

/// A handle that names its file; the real one is opened on use.
struct LightFile {
    id: u64,
    registry: Weak<Mutex<Registry>>,
    inner: Arc<dyn Storage>,
}

impl LightFile {
    /// The real handle, opened (making room) when it was closed.
    fn handle(&self) -> Result<Arc<dyn StorageFile>> {
        let Some(registry) = self.registry.upgrade() else {
            return Err(crate::Error::Closed);
        };
        let mut reg = lock(&registry);
        let Some(e) = reg.entries.get_mut(&self.id) else {
            return Err(crate::Error::Closed);
        };
        e.used = true;
        if let Some(h) = &e.handle {
            return Ok(h.clone());
        }
        let Some(name) = e.name.clone() else {
            return Err(crate::Error::Closed); // unreachable: pinned handles stay open
        };
        reg.make_room();
        let h = self.inner.open(&name, false)?;
        if let Some(e) = reg.entries.get_mut(&self.id) {
            e.handle = Some(h.clone());
        }
        reg.open.push(self.id);
        Ok(h)
    }
}

impl fmt::Debug for LightFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LightFile").field("id", &self.id).finish()
    }
}

impl Drop for LightFile {
    fn drop(&mut self) {
        let Some(registry) = self.registry.upgrade() else { return };
        let mut reg = lock(&registry);
        if let Some(e) = reg.entries.remove(&self.id) {
            if let Some(name) = e.name {
                if let Some(ids) = reg.by_name.get_mut(&name) {
                    ids.retain(|i| *i != self.id);
                    if ids.is_empty() {
                        reg.by_name.remove(&name);
                    }
                }
            }
            if e.handle.is_some() {
                reg.open.retain(|o| *o != self.id);
            }
        }
    }
}

impl StorageFile for LightFile {
    fn len(&self) -> Result<u64> {
        self.handle()?.len()
    }

    fn refresh_len(&self) -> Result<u64> {
        self.handle()?.refresh_len()
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        self.handle()?.read_at(offset, buf)
    }

    fn write_at(&self, offset: u64, data: &[u8]) -> Result<()> {
        self.handle()?.write_at(offset, data)
    }

    fn set_len(&self, len: u64) -> Result<()> {
        self.handle()?.set_len(len)
    }

    fn sync(&self) -> Result<()> {
        self.handle()?.sync()
    }

    fn identity(&self) -> Result<Option<u64>> {
        self.handle()?.identity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemoryStorage;

    #[test]
    fn meets_the_storage_contract() {
        let storage = BoundedHandles::new(Arc::new(MemoryStorage::new()), 2);
        crate::storage::contract::check(&storage);
    }

    #[test]
    fn keeps_at_most_max_open_handles_and_reopens_on_use() {
        let storage = BoundedHandles::new(Arc::new(MemoryStorage::new()), 3);
        let files: Vec<_> = (0..20).map(|i| storage.open(&format!("f/{i}"), true).unwrap()).collect();
        for (i, f) in files.iter().enumerate() {
            f.write_at(0, &[i as u8; 4]).unwrap();
            assert!(storage.registry().open.len() <= 3);
        }
        for (i, f) in files.iter().enumerate().rev() {
            let mut b = [0u8; 4];
            f.read_at(0, &mut b).unwrap();
            assert_eq!(b, [i as u8; 4]);
            assert!(storage.registry().open.len() <= 3);
        }
    }

    #[test]
    fn a_handle_follows_renames_and_keeps_removed_bytes() {
        let storage = BoundedHandles::new(Arc::new(MemoryStorage::new()), 1);
        let a = storage.open("a", true).unwrap();
        a.write_at(0, b"aaa").unwrap();
        let old = storage.open("b", true).unwrap();
        old.write_at(0, b"old").unwrap();
        let _evict = storage.open("c", true).unwrap(); // closes a's and b's real handles
        storage.rename("a", "b").unwrap(); // a now is b; the old b is pinned
        let mut buf = [0u8; 3];
        a.read_at(0, &mut buf).unwrap();
        assert_eq!(&buf, b"aaa");
        old.read_at(0, &mut buf).unwrap();
        assert_eq!(&buf, b"old");
        storage.remove("b").unwrap();
        a.read_at(0, &mut buf).unwrap();
        assert_eq!(&buf, b"aaa");
    }
}
