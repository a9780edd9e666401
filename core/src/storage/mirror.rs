//! An in-memory storage that remembers what changed, page by page, so an
//! asynchronous backing store (the browser's IndexedDB) can be brought up
//! to date in batches: the pond works synchronously on the mirror, and a
//! binding periodically takes the changes and writes them back.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::{Storage, StorageFile};
use crate::Result;

/// Bytes per page of the backing store.
pub const PAGE_SIZE: usize = 64 << 10;

#[derive(Default)]
struct FileData {
    data: Vec<u8>,
    /// Pages written since the last `take_changes`.
    dirty: BTreeSet<u64>,
    /// Length changed (grown or cut) since the last `take_changes`.
    len_changed: bool,
}

#[derive(Default)]
struct Namespace {
    /// name -> file id
    names: BTreeMap<String, u64>,
    files: BTreeMap<u64, Arc<Mutex<FileData>>>,
    /// Names removed (or renamed away) since the last `take_changes`.
    removed: BTreeSet<String>,
    next_id: u64,
}

/// The changes to write back: whole current state of changed pages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    pub files: Vec<FileChange>,
    /// Files to delete from the backing store (every page and the length).
    pub removed: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    pub name: String,
    /// The file's length: pages at or beyond `len.div_ceil(PAGE_SIZE)` are gone.
    pub len: u64,
    /// (page index, page bytes); the last page may be short.
    pub pages: Vec<(u64, Vec<u8>)>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.files.is_empty() && self.removed.is_empty()
    }
}

/// A storage in memory that tracks changed pages. Clones share one namespace.
#[derive(Clone, Default)]
pub struct MirrorStorage {
    ns: Arc<Mutex<Namespace>>,
}

fn guard<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl MirrorStorage {
    pub fn new() -> MirrorStorage {
        MirrorStorage::default()
    }

    /// A mirror holding `files` as loaded from the backing store (clean).
    pub fn load(files: Vec<(String, Vec<u8>)>) -> MirrorStorage {
        let mirror = MirrorStorage::new();
        {
            let mut ns = guard(&mirror.ns);
            for (name, data) in files {
                let id = ns.next_id;
                ns.next_id += 1;
                ns.names.insert(name, id);
                ns.files.insert(id, Arc::new(Mutex::new(FileData { data, ..FileData::default() })));
            }
        }
        mirror
    }

    /// Every file's name and bytes (what a file pond would hold).
    pub fn export(&self) -> Vec<(String, Vec<u8>)> {
        let ns = guard(&self.ns);
        ns.names
            .iter()
            .filter_map(|(name, id)| Some((name.clone(), guard(ns.files.get(id)?).data.clone())))
            .collect()
    }

    /// Bytes held in memory.
    pub fn bytes(&self) -> u64 {
        let ns = guard(&self.ns);
        ns.files.values().map(|f| guard(f).data.len() as u64).sum()
    }

    /// Takes what changed since the last call, leaving everything clean.
    pub fn take_changes(&self) -> Changes {
        let mut ns = guard(&self.ns);
        let removed: Vec<String> =
            std::mem::take(&mut ns.removed).into_iter().filter(|n| !ns.names.contains_key(n)).collect();
        let mut files = Vec::new();
        for (name, id) in &ns.names {
            let Some(file) = ns.files.get(id) else { continue };
            let mut f = guard(file);
            if f.dirty.is_empty() && !f.len_changed {
                continue;
            }
            let len = f.data.len();
            let pages = std::mem::take(&mut f.dirty)
                .into_iter()
                .filter_map(|p| {
                    let start = usize::try_from(p).ok()?.checked_mul(PAGE_SIZE)?;
                    (start < len).then(|| (p, f.data[start..(start + PAGE_SIZE).min(len)].to_vec()))
                })
                .collect();
            f.len_changed = false;
            files.push(FileChange { name: name.clone(), len: len as u64, pages });
        }
        Changes { files, removed }
    }

    /// Puts changes that could not be written back (a failed flush) back in
    /// the queue, so the next `take_changes` includes them again.
    pub fn requeue(&self, changes: &Changes) {
        let mut ns = guard(&self.ns);
        for name in &changes.removed {
            if !ns.names.contains_key(name) {
                ns.removed.insert(name.clone());
            }
        }
        for change in &changes.files {
            let Some(file) = ns.names.get(&change.name).and_then(|id| ns.files.get(id)) else { continue };
            let mut f = guard(file);
            f.len_changed = true;
            f.dirty.extend(change.pages.iter().map(|(p, _)| *p));
        }
    }
}

impl fmt::Debug for MirrorStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MirrorStorage").field("files", &guard(&self.ns).names.len()).finish()
    }
}

fn mark_all(f: &mut FileData) {
    let pages = f.data.len().div_ceil(PAGE_SIZE) as u64;
    f.dirty.extend(0..pages);
    f.len_changed = true;
}

impl Storage for MirrorStorage {
    fn open(&self, name: &str, create: bool) -> Result<Arc<dyn StorageFile>> {
        let mut ns = guard(&self.ns);
        let file = match ns.names.get(name).and_then(|id| ns.files.get(id)) {
            Some(f) => f.clone(),
            None if create => {
                let id = ns.next_id;
                ns.next_id += 1;
                let file = Arc::new(Mutex::new(FileData { len_changed: true, ..FileData::default() }));
                ns.names.insert(name.to_string(), id);
                ns.files.insert(id, file.clone());
                file
            }
            None => return Err(io::Error::new(io::ErrorKind::NotFound, name.to_string()).into()),
        };
        Ok(Arc::new(MirrorFile { file }))
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let ns = guard(&self.ns);
        Ok(ns
            .names
            .range(prefix.to_string()..)
            .take_while(|(n, _)| n.starts_with(prefix))
            .map(|(n, _)| n.clone())
            .collect())
    }

    fn remove(&self, name: &str) -> Result<()> {
        let mut ns = guard(&self.ns);
        if let Some(id) = ns.names.remove(name) {
            ns.files.remove(&id);
            ns.removed.insert(name.to_string());
        }
        Ok(())
    }

    fn rename(&self, from: &str, to: &str) -> Result<()> {
        let mut ns = guard(&self.ns);
        let id =
            ns.names.remove(from).ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, from.to_string()))?;
        if let Some(old) = ns.names.insert(to.to_string(), id) {
            ns.files.remove(&old);
        }
        ns.removed.insert(from.to_string());
        // The backing store knows the bytes under the old name only.
        if let Some(file) = ns.files.get(&id) {
            mark_all(&mut guard(file));
        }
        Ok(())
    }
}

struct MirrorFile {
    file: Arc<Mutex<FileData>>,
}

impl fmt::Debug for MirrorFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MirrorFile").field("len", &guard(&self.file).data.len()).finish()
    }
}

fn to_usize(n: u64) -> io::Result<usize> {
    usize::try_from(n).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "offset too large"))
}

impl StorageFile for MirrorFile {
    fn len(&self) -> Result<u64> {
        Ok(guard(&self.file).data.len() as u64)
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        let f = guard(&self.file);
        let start = to_usize(offset)?;
        let src = start
            .checked_add(buf.len())
            .and_then(|end| f.data.get(start..end))
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "read past end"))?;
        buf.copy_from_slice(src);
        Ok(())
    }

    fn write_at(&self, offset: u64, bytes: &[u8]) -> Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        let mut f = guard(&self.file);
        let start = to_usize(offset)?;
        let end = start
            .checked_add(bytes.len())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "write too large"))?;
        let old_len = f.data.len();
        if old_len < end {
            f.data.resize(end, 0);
            f.len_changed = true;
        }
        f.data[start..end].copy_from_slice(bytes);
        // Zero-filled gap pages are dirty too.
        let first = (start.min(old_len) / PAGE_SIZE) as u64;
        let last = ((end - 1) / PAGE_SIZE) as u64;
        f.dirty.extend(first..=last);
        Ok(())
    }

    fn set_len(&self, len: u64) -> Result<()> {
        let mut f = guard(&self.file);
        let len = to_usize(len)?;
        let old = f.data.len();
        if len != old {
            f.data.resize(len, 0);
            f.len_changed = true;
            // A cut last page (or grown zero pages) must be written again.
            let first = (len.min(old) / PAGE_SIZE) as u64;
            let last = (len.max(old).saturating_sub(1) / PAGE_SIZE) as u64;
            if len > 0 {
                f.dirty.extend(first..=last.min((len - 1) as u64 / PAGE_SIZE as u64));
            }
        }
        Ok(())
    }

    fn sync(&self) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Applies changes to a model of the backing store: name -> pages, len.
    fn apply(store: &mut BTreeMap<String, (u64, BTreeMap<u64, Vec<u8>>)>, changes: &Changes) {
        for name in &changes.removed {
            store.remove(name);
        }
        for c in &changes.files {
            let entry = store.entry(c.name.clone()).or_default();
            entry.0 = c.len;
            for (p, bytes) in &c.pages {
                entry.1.insert(*p, bytes.clone());
            }
            let keep = c.len.div_ceil(PAGE_SIZE as u64);
            entry.1.retain(|p, _| *p < keep);
        }
    }

    fn assemble(store: &BTreeMap<String, (u64, BTreeMap<u64, Vec<u8>>)>) -> Vec<(String, Vec<u8>)> {
        store
            .iter()
            .map(|(name, (len, pages))| {
                let mut data = Vec::new();
                for p in pages.values() {
                    data.extend_from_slice(p);
                }
                data.resize(*len as usize, 0);
                (name.clone(), data)
            })
            .collect()
    }

    #[test]
    fn meets_the_storage_contract() {
        super::super::contract::check(&MirrorStorage::new());
    }

    #[test]
    fn a_backing_store_fed_its_changes_matches_the_mirror() {
        use proptest::prelude::*;
        proptest!(|(ops in proptest::collection::vec((0u8..6, 0usize..3, 0usize..200_000, 1usize..70_000, any::<bool>()), 1..40))| {
            let mirror = MirrorStorage::new();
            let mut store = BTreeMap::new();
            let names = ["a/x", "a/y", "b"];
            for (kind, which, at, len, flush) in ops {
                let name = names[which];
                match kind {
                    0 | 1 => {
                        let f = mirror.open(name, true).unwrap();
                        f.write_at(at as u64, &vec![kind + 1; len]).unwrap();
                    }
                    2 => {
                        let f = mirror.open(name, true).unwrap();
                        f.set_len(at as u64).unwrap();
                    }
                    3 => mirror.remove(name).unwrap(),
                    4 => {
                        let _ = mirror.rename(name, names[(which + 1) % 3]);
                    }
                    _ => {
                        // A failed flush: the changes are requeued.
                        let changes = mirror.take_changes();
                        mirror.requeue(&changes);
                    }
                }
                if flush {
                    apply(&mut store, &mirror.take_changes());
                    prop_assert_eq!(assemble(&store), mirror.export());
                }
            }
            apply(&mut store, &mirror.take_changes());
            prop_assert_eq!(assemble(&store), mirror.export());
            prop_assert!(mirror.take_changes().is_empty());
            // A mirror loaded from the store holds the same files, clean.
            let loaded = MirrorStorage::load(assemble(&store));
            prop_assert_eq!(loaded.export(), mirror.export());
            prop_assert!(loaded.take_changes().is_empty());
        });
    }
}
