//! Handles as holders of leases (queue deliveries, group memberships) in a
//! shared pond: each gets an id, and holds a storage claim named by it for
//! as long as it is open. Another handle that finds the claim free knows
//! the holder is gone — closed, or its process died (the OS dropped the
//! claim) — and ends its leases at once instead of waiting out a timeout.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::storage::Storage;
use crate::{Error, Result};

/// Ids made by a holder are `holder << ID_BITS | count`: unique across
/// handles, and below 2^53 (they travel in JS numbers) as holders are
/// below 2^32.
const ID_BITS: u32 = 21;

/// How often another holder's life is checked (its claim tried), at most.
const ALIVE_CHECK_MS: i64 = 1_000;

/// This handle as a holder: its id (0 until it first needs one) and a
/// counter for the ids it makes.
#[derive(Debug, Default)]
pub(crate) struct Holder {
    id: u64,
    made: u64,
    /// When each other holder was last found alive (clock ms).
    alive: BTreeMap<u64, i64>,
}

/// The storage claim of holder `id`.
pub(crate) fn claim(id: u64) -> String {
    format!("holder.{id:08x}")
}

/// A random number: std's hasher keys come from the OS's randomness, and
/// the process id and a counter vary them within a process.
pub(crate) fn nonce() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    // No process ids in browsers (where nothing is shared, and this is
    // never called).
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    h.write_u32(std::process::id());
    h.write_u64(COUNT.fetch_add(1, Ordering::Relaxed));
    h.finish()
}

/// A random holder id below 2^32; the claim makes it unique among live
/// handles.
fn random_id() -> u64 {
    (nonce() & 0xffff_ffff).max(2)
}

impl Holder {
    /// This handle's holder id, taken (with its claim) on first use: 1
    /// where nothing is shared (ids, and so logs, are the same run to run).
    pub fn id(&mut self, storage: &dyn Storage) -> Result<u64> {
        if self.id != 0 {
            return Ok(self.id);
        }
        if !storage.is_shared() {
            self.id = 1;
            return Ok(1);
        }
        if let Some(id) = storage.own_holder() {
            if storage.try_claim(&claim(id))? {
                self.id = id;
                return Ok(id);
            }
        }
        for _ in 0..8 {
            let id = random_id();
            if storage.try_claim(&claim(id))? {
                self.id = id;
                return Ok(id);
            }
        }
        Err(Error::PondLocked("no free holder id".into()))
    }

    /// The id already taken (0 if none).
    pub fn current(&self) -> u64 {
        self.id
    }

    /// A new id for something this holder makes (a lease, a member): no
    /// other holder's, and not one of this holder's lately.
    pub fn make_id(&mut self, storage: &dyn Storage) -> Result<u64> {
        let holder = self.id(storage)?;
        self.made = self.made.wrapping_add(1);
        Ok((holder << ID_BITS) | (self.made & ((1 << ID_BITS) - 1)))
    }

    /// Whether holder `other` is still there: its claim is held. Checked
    /// at most every [`ALIVE_CHECK_MS`]; in between, a live answer stands.
    pub fn is_alive(&mut self, storage: &dyn Storage, other: u64, now_ms: i64) -> Result<bool> {
        if other == self.id {
            return Ok(true);
        }
        let checked = self.alive.get(&other).copied();
        if checked.is_some_and(|at| (0..ALIVE_CHECK_MS).contains(&now_ms.saturating_sub(at))) {
            return Ok(true);
        }
        if storage.is_claimed(&claim(other))? {
            self.alive.insert(other, now_ms);
            Ok(true)
        } else {
            self.alive.remove(&other);
            Ok(false)
        }
    }
}
