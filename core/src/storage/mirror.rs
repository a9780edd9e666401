//! An in-memory storage that remembers what changed, page by page, so an
//! asynchronous backing store (the browser's IndexedDB) can be brought up
//! to date in batches: the pond works synchronously on the mirror, and a
//! binding takes the changes and writes them back.
//!
//! **Shared** (several tabs on one backing store, see `web/SHARING.md`): the
//! mirror says it is shared, so the pond catches up on other handles'
//! changes around each operation (`pond::sync`). The binding changes a
//! shared mirror only inside one of its write transactions on the backing
//! store: first it applies what other handles committed since its last
//! transaction (`apply_*`, which marks nothing changed), then it runs the
//! pond's operations, then it writes what they changed. Outside such a
//! transaction the mirror refuses writes (`set_writable`), so an operation
//! that would write there fails before changing anything instead of
//! diverging from the store.
//!
//! Every file carries a generation: the store's number for this file
//! under its name, new when the name is created or replaced (a rename
//! over it). Applying a file whose generation differs puts a new file
//! under the name; handles open on the old one keep its bytes, as
//! handles of a replaced file do on disk (`identity` tells them apart).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
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
    /// The backing store's generation of this file (0: not yet stored).
    gen: u64,
    /// Created, or put under its name by a rename, since the last
    /// `take_changes`: the store gives it a new generation.
    fresh: bool,
    /// Unique among the mirror's files, ever: the file's identity.
    serial: u64,
}

#[derive(Default)]
struct Namespace {
    /// name -> file
    names: BTreeMap<String, Arc<Mutex<FileData>>>,
    /// Names removed (or renamed away) since the last `take_changes`.
    removed: BTreeSet<String>,
    next_serial: u64,
    shared: bool,
    /// The holder id the binding claimed for this handle (see `set_holder`).
    holder: Option<u64>,
    /// Claims the pond asked about since the binding last took them.
    asked: BTreeSet<String>,
    /// Claims the binding found free: their holders are gone.
    dead: BTreeSet<String>,
}

impl Namespace {
    fn new_file(&mut self, data: Vec<u8>, gen: u64, fresh: bool) -> Arc<Mutex<FileData>> {
        self.next_serial += 1;
        let len_changed = fresh;
        Arc::new(Mutex::new(FileData {
            data,
            gen,
            fresh,
            len_changed,
            serial: self.next_serial,
            ..FileData::default()
        }))
    }
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
    /// The file's generation in the backing store (new when it was created
    /// or replaced since the last take).
    pub gen: u64,
    /// (page index, page bytes); the last page may be short.
    pub pages: Vec<(u64, Vec<u8>)>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.files.is_empty() && self.removed.is_empty()
    }
}

/// A file as the backing store holds it, for [`MirrorStorage::load`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredFile {
    pub name: String,
    pub data: Vec<u8>,
    pub gen: u64,
}

/// A storage in memory that tracks changed pages. Clones share one namespace.
#[derive(Clone, Default)]
pub struct MirrorStorage {
    ns: Arc<Mutex<Namespace>>,
    gate: WriteGate,
}

/// Whether the mirror takes writes now (always, unless shared); shared by
/// the storage and its files.
#[derive(Clone)]
struct WriteGate(Arc<AtomicBool>);

impl Default for WriteGate {
    fn default() -> WriteGate {
        WriteGate(Arc::new(AtomicBool::new(true)))
    }
}

impl WriteGate {
    fn set(&self, open: bool) {
        self.0.store(open, Ordering::SeqCst);
    }

    /// Fails a write to a shared mirror outside a write transaction.
    fn check(&self) -> Result<()> {
        if self.0.load(Ordering::SeqCst) {
            return Ok(());
        }
        Err(io::Error::other("a shared pond was written outside a write transaction (a binding bug)").into())
    }
}

fn guard<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl MirrorStorage {
    pub fn new() -> MirrorStorage {
        MirrorStorage::default()
    }

    /// A mirror holding `files` as loaded from the backing store (clean).
    pub fn load(files: Vec<StoredFile>) -> MirrorStorage {
        let mirror = MirrorStorage::new();
        for f in files {
            mirror.put(&f.name, f.data, f.gen);
        }
        mirror
    }

    /// The store holds `name` with these bytes, generation `gen` (a whole
    /// file: not a change to write back).
    pub fn put(&self, name: &str, data: Vec<u8>, gen: u64) {
        let mut ns = guard(&self.ns);
        let file = ns.new_file(data, gen, false);
        ns.names.insert(name.to_string(), file);
    }

    /// Makes the mirror shared (see the module comment); it refuses writes
    /// until `set_writable(true)`.
    pub fn share(&self) {
        guard(&self.ns).shared = true;
        self.gate.set(false);
    }

    /// Opens or closes a shared mirror to writes (a write transaction
    /// begins or ends). An unshared mirror always takes writes.
    pub fn set_writable(&self, writable: bool) {
        let shared = guard(&self.ns).shared;
        self.gate.set(writable || !shared);
    }

    /// This handle's holder id, whose claim the binding holds outside the
    /// core (a tab's Web Lock) for as long as the pond is open.
    pub fn set_holder(&self, id: u64) {
        guard(&self.ns).holder = Some(id);
    }

    /// The claims (other holders) the pond asked about since the last call:
    /// the binding finds out whether their holders are gone.
    pub fn take_asked_claims(&self) -> Vec<String> {
        std::mem::take(&mut guard(&self.ns).asked).into_iter().collect()
    }

    /// The holder of claim `what` is gone (the binding found its claim
    /// free): from now on the pond treats it as dead.
    pub fn mark_dead(&self, what: &str) {
        guard(&self.ns).dead.insert(what.to_string());
    }

    /// Another handle removed `name` (applied as the store holds it: not a
    /// change to write back). Handles open on it keep its bytes.
    pub fn apply_removed(&self, name: &str) {
        guard(&self.ns).names.remove(name);
    }

    /// The store holds `name` at `len` bytes, generation `gen`: the file
    /// is cut or zero-extended to `len`, or replaced by a new zero-filled
    /// one when its generation differs. Its pages follow (`apply_page`).
    pub fn apply_file(&self, name: &str, len: u64, gen: u64) -> Result<()> {
        let len = to_usize(len)?;
        {
            let ns = guard(&self.ns);
            if let Some(file) = ns.names.get(name) {
                let mut f = guard(file);
                if f.gen == gen {
                    f.data.resize(len, 0);
                    return Ok(());
                }
            }
        }
        let mut data = Vec::new();
        data.try_reserve_exact(len).map_err(|_| {
            io::Error::new(io::ErrorKind::OutOfMemory, format!("cannot hold a file of {len} bytes"))
        })?;
        data.resize(len, 0);
        self.put(name, data, gen);
        Ok(())
    }

    /// Page `index` of `name` as the store holds it (bytes past the
    /// file's length are ignored: left over from before a truncation).
    /// A file the mirror does not have is a `NotFound` error.
    pub fn apply_page(&self, name: &str, index: u64, bytes: &[u8]) -> Result<()> {
        let ns = guard(&self.ns);
        let file =
            ns.names.get(name).ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, name.to_string()))?;
        let mut f = guard(file);
        let Some(start) = usize::try_from(index).ok().and_then(|i| i.checked_mul(PAGE_SIZE)) else {
            return Ok(());
        };
        if start < f.data.len() {
            let n = bytes.len().min(PAGE_SIZE).min(f.data.len() - start);
            f.data[start..start + n].copy_from_slice(&bytes[..n]);
        }
        Ok(())
    }

    /// Every file's name and bytes (what a file pond would hold).
    pub fn export(&self) -> Vec<(String, Vec<u8>)> {
        let ns = guard(&self.ns);
        ns.names.iter().map(|(name, f)| (name.clone(), guard(f).data.clone())).collect()
    }

    /// Bytes held in memory.
    pub fn bytes(&self) -> u64 {
        let ns = guard(&self.ns);
        ns.names.values().map(|f| guard(f).data.len() as u64).sum()
    }

    /// Takes what changed since the last call, leaving everything clean.
    /// Files created or replaced since get generation `new_gen`.
    pub fn take_changes(&self, new_gen: u64) -> Changes {
        let mut ns = guard(&self.ns);
        let removed: Vec<String> =
            std::mem::take(&mut ns.removed).into_iter().filter(|n| !ns.names.contains_key(n)).collect();
        let mut files = Vec::new();
        for (name, file) in &ns.names {
            let mut f = guard(file);
            if f.dirty.is_empty() && !f.len_changed && !f.fresh {
                continue;
            }
            if f.fresh {
                f.gen = new_gen;
                f.fresh = false;
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
            files.push(FileChange { name: name.clone(), len: len as u64, gen: f.gen, pages });
        }
        Changes { files, removed }
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
        let file = match ns.names.get(name) {
            Some(f) => f.clone(),
            None if create => {
                self.gate.check()?;
                let file = ns.new_file(Vec::new(), 0, true);
                ns.names.insert(name.to_string(), file.clone());
                file
            }
            None => return Err(io::Error::new(io::ErrorKind::NotFound, name.to_string()).into()),
        };
        Ok(Arc::new(MirrorFile { file, gate: self.gate.clone() }))
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
        if ns.names.contains_key(name) {
            self.gate.check()?;
            ns.names.remove(name);
            ns.removed.insert(name.to_string());
        }
        Ok(())
    }

    fn rename(&self, from: &str, to: &str) -> Result<()> {
        self.gate.check()?;
        let mut ns = guard(&self.ns);
        let file =
            ns.names.remove(from).ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, from.to_string()))?;
        ns.removed.insert(from.to_string());
        {
            // The backing store knows the bytes under the old name only:
            // under the new one they are a new file.
            let mut f = guard(&file);
            mark_all(&mut f);
            f.fresh = true;
        }
        ns.names.insert(to.to_string(), file);
        Ok(())
    }

    fn is_shared(&self) -> bool {
        guard(&self.ns).shared
    }

    /// A holder is alive unless the binding found its claim free: the
    /// pond asks, and the binding checks what it asked (asynchronously,
    /// with the browser's Web Locks) and marks the dead.
    fn is_claimed(&self, what: &str) -> Result<bool> {
        let mut ns = guard(&self.ns);
        if !ns.shared {
            return Ok(false);
        }
        if ns.dead.contains(what) {
            return Ok(false);
        }
        if ns.holder.map(crate::holder::claim).as_deref() != Some(what) {
            ns.asked.insert(what.to_string());
        }
        Ok(true)
    }

    fn own_holder(&self) -> Option<u64> {
        guard(&self.ns).holder
    }
}

struct MirrorFile {
    file: Arc<Mutex<FileData>>,
    gate: WriteGate,
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
        self.gate.check()?;
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
            self.gate.check()?;
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

    fn identity(&self) -> Result<Option<u64>> {
        Ok(Some(guard(&self.file).serial))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A model of the backing store: name -> (len, gen, pages).
    type Store = BTreeMap<String, (u64, u64, BTreeMap<u64, Vec<u8>>)>;

    /// Applies changes to the model store.
    fn apply(store: &mut Store, changes: &Changes) {
        for name in &changes.removed {
            store.remove(name);
        }
        for c in &changes.files {
            let entry = store.entry(c.name.clone()).or_default();
            entry.0 = c.len;
            entry.1 = c.gen;
            for (p, bytes) in &c.pages {
                entry.2.insert(*p, bytes.clone());
            }
            let keep = c.len.div_ceil(PAGE_SIZE as u64);
            entry.2.retain(|p, _| *p < keep);
        }
    }

    fn assemble(store: &Store) -> Vec<(String, Vec<u8>)> {
        store
            .iter()
            .map(|(name, (len, _, pages))| {
                let mut data = Vec::new();
                for p in pages.values() {
                    data.extend_from_slice(p);
                }
                data.resize(*len as usize, 0);
                (name.clone(), data)
            })
            .collect()
    }

    fn stored(store: &Store) -> Vec<StoredFile> {
        let gens: BTreeMap<&String, u64> = store.iter().map(|(n, (_, g, _))| (n, *g)).collect();
        assemble(store).into_iter().map(|(name, data)| StoredFile { gen: gens[&name], name, data }).collect()
    }

    /// Brings a shared mirror up to the store, as a binding does at the
    /// start of a write transaction (here: every file, every page).
    fn catch_up(mirror: &MirrorStorage, store: &Store) {
        for name in mirror.list("").unwrap() {
            if !store.contains_key(&name) {
                mirror.apply_removed(&name);
            }
        }
        for (name, (len, gen, pages)) in store {
            mirror.apply_file(name, *len, *gen).unwrap();
            for (i, bytes) in pages {
                mirror.apply_page(name, *i, bytes).unwrap();
            }
        }
    }

    /// One random change to a mirror.
    fn change(mirror: &MirrorStorage, kind: u8, name: &str, other: &str, at: usize, len: usize) {
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
            _ => {
                let _ = mirror.rename(name, other);
            }
        }
    }

    #[test]
    fn meets_the_storage_contract() {
        super::super::contract::check(&MirrorStorage::new());
    }

    #[test]
    fn a_backing_store_fed_its_changes_matches_the_mirror() {
        use proptest::prelude::*;
        proptest!(|(ops in proptest::collection::vec((0u8..5, 0usize..3, 0usize..200_000, 1usize..70_000, any::<bool>()), 1..40))| {
            let mirror = MirrorStorage::new();
            let mut store = Store::new();
            let names = ["a/x", "a/y", "b"];
            let mut version = 0;
            for (kind, which, at, len, flush) in ops {
                change(&mirror, kind, names[which], names[(which + 1) % 3], at, len);
                if flush {
                    version += 1;
                    apply(&mut store, &mirror.take_changes(version));
                    prop_assert_eq!(assemble(&store), mirror.export());
                }
            }
            version += 1;
            apply(&mut store, &mirror.take_changes(version));
            prop_assert_eq!(assemble(&store), mirror.export());
            prop_assert!(mirror.take_changes(version + 1).is_empty());
            // A mirror loaded from the store holds the same files, clean.
            let loaded = MirrorStorage::load(stored(&store));
            prop_assert_eq!(loaded.export(), mirror.export());
            prop_assert!(loaded.take_changes(version + 1).is_empty());
        });
    }

    #[test]
    fn shared_mirrors_taking_turns_on_one_store_agree_with_it() {
        use proptest::prelude::*;
        proptest!(|(ops in proptest::collection::vec((0usize..3, 0u8..5, 0usize..3, 0usize..150_000, 1usize..70_000), 1..40))| {
            let mut store = Store::new();
            let mirrors: Vec<MirrorStorage> = (0..3).map(|_| MirrorStorage::load(Vec::new())).collect();
            for m in &mirrors {
                m.share();
            }
            let names = ["a/x", "a/y", "b"];
            let mut version = 0;
            for (who, kind, which, at, len) in ops {
                let m = &mirrors[who];
                // Outside a transaction a shared mirror takes no write.
                prop_assert!(m.open("never", true).is_err());
                catch_up(m, &store);
                prop_assert_eq!(m.export(), assemble(&store));
                prop_assert!(m.take_changes(version + 1).is_empty(), "applying is not a change");
                m.set_writable(true);
                change(m, kind, names[which], names[(which + 1) % 3], at, len);
                m.set_writable(false);
                version += 1;
                apply(&mut store, &m.take_changes(version));
                prop_assert_eq!(m.export(), assemble(&store));
            }
        });
    }

    #[test]
    fn a_handle_keeps_the_bytes_of_a_file_another_mirror_replaced() {
        let mut store = Store::new();
        let (a, b) = (MirrorStorage::load(Vec::new()), MirrorStorage::load(Vec::new()));
        a.share();
        b.share();
        a.set_writable(true);
        a.open("seg", true).unwrap().write_at(0, b"old").unwrap();
        a.set_writable(false);
        apply(&mut store, &a.take_changes(1));
        catch_up(&b, &store);
        let held = b.open("seg", false).unwrap();
        let before = held.identity().unwrap();

        // A replaces the file (a rename over it) with other bytes.
        a.set_writable(true);
        a.open("seg.tmp", true).unwrap().write_at(0, b"new!").unwrap();
        a.rename("seg.tmp", "seg").unwrap();
        a.set_writable(false);
        apply(&mut store, &a.take_changes(2));
        catch_up(&b, &store);

        let mut buf = [0u8; 3];
        held.read_at(0, &mut buf).unwrap();
        assert_eq!(&buf, b"old", "the held handle reads the replaced file");
        let now = b.open("seg", false).unwrap();
        assert_ne!(now.identity().unwrap(), before);
        let mut buf = [0u8; 4];
        now.read_at(0, &mut buf).unwrap();
        assert_eq!(&buf, b"new!");
        assert_eq!(b.list("").unwrap(), vec!["seg".to_string()]);
        // And a write through the held handle outside a transaction fails.
        assert!(held.write_at(0, b"x").is_err());
    }
}
