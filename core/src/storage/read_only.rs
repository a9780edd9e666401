//! The storage of a pond opened read-only: reads go through; the repairs
//! that opening and catching up make (cutting a dead writer's torn tail,
//! clearing leftovers of interrupted work) are skipped — the handle keeps
//! them in memory only (a torn tail is simply not read) — so nothing is
//! ever written. The pond refuses every operation that would change it
//! before it reaches storage (`Pond::with_state`).

use std::fmt;
use std::sync::Arc;

use super::{Storage, StorageFile};
use crate::Result;

pub(crate) struct ReadOnlyView {
    inner: Arc<dyn Storage>,
}

impl ReadOnlyView {
    pub fn new(inner: Arc<dyn Storage>) -> ReadOnlyView {
        ReadOnlyView { inner }
    }
}

impl fmt::Debug for ReadOnlyView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl Storage for ReadOnlyView {
    fn open(&self, name: &str, _create: bool) -> Result<Arc<dyn StorageFile>> {
        // A file that does not exist is not created: its absence is an error.
        Ok(Arc::new(ReadOnlyFile { inner: self.inner.open(name, false)? }))
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>> {
        self.inner.list(prefix)
    }

    fn remove(&self, _name: &str) -> Result<()> {
        Ok(())
    }

    fn rename(&self, _from: &str, _to: &str) -> Result<()> {
        Ok(())
    }

    fn close(&self) -> Result<()> {
        self.inner.close()
    }

    fn is_shared(&self) -> bool {
        self.inner.is_shared()
    }

    fn lock(&self, _exclusive: bool) -> Result<()> {
        self.inner.lock(false)
    }

    fn unlock(&self) -> Result<()> {
        self.inner.unlock()
    }

    fn is_claimed(&self, what: &str) -> Result<bool> {
        self.inner.is_claimed(what)
    }

    fn live_claims(&self, prefix: &str) -> Result<Vec<String>> {
        self.inner.live_claims(prefix)
    }

    fn watch(&self, name: &str, on_change: Arc<dyn Fn() + Send + Sync>) -> bool {
        self.inner.watch(name, on_change)
    }
}

struct ReadOnlyFile {
    inner: Arc<dyn StorageFile>,
}

impl fmt::Debug for ReadOnlyFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl StorageFile for ReadOnlyFile {
    forward_reads!();

    fn write_at(&self, _offset: u64, _data: &[u8]) -> Result<()> {
        Ok(())
    }

    fn set_len(&self, _len: u64) -> Result<()> {
        Ok(())
    }

    fn sync(&self) -> Result<()> {
        Ok(())
    }
}
