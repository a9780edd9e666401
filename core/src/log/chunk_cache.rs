//! A small, bounded cache of recently read segment chunks, shared by a
//! pond's reads. A consumer reading a partition in order finds its next
//! records in the chunk the previous read fetched, instead of reading (and
//! allocating) again. Chunks hold only bytes below a segment's valid length
//! at read time, which never change afterwards; a rewritten segment gets a
//! new id, so its old chunks are never hit.

use std::sync::{Mutex, PoisonError};

use bytes::Bytes;

use crate::log::batch::ResumePoint;

/// Chunks kept at once; with `segment::READ_CHUNK` bytes each this bounds
/// the cache (frames larger than a chunk are never cached).
pub const CACHE_SLOTS: usize = 16;

struct Slot {
    segment: u64,
    pos: u64,
    data: Bytes,
    last_used: u64,
    /// Position of the last frame in `data` whose CRC was checked: the
    /// frame a sequential reader stopped in, checked again otherwise.
    verified: Option<u64>,
    /// Where a reader stopped decoding inside the frame at this position.
    resume: Option<(u64, ResumePoint)>,
}

#[derive(Default)]
pub struct ChunkCache {
    slots: Mutex<(Vec<Slot>, u64)>,
}

impl std::fmt::Debug for ChunkCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChunkCache")
    }
}

impl ChunkCache {
    /// A cached chunk of `segment` holding `[pos, pos + want)`, with the
    /// position it starts at.
    pub fn get(&self, segment: u64, pos: u64, want: usize) -> Option<(u64, Bytes)> {
        let mut guard = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        let (slots, tick) = &mut *guard;
        *tick += 1;
        let slot = slots.iter_mut().find(|s| {
            s.segment == segment && s.pos <= pos && pos + want as u64 <= s.pos + s.data.len() as u64
        })?;
        slot.last_used = *tick;
        Some((slot.pos, slot.data.clone()))
    }

    pub fn put(&self, segment: u64, pos: u64, data: Bytes) {
        let mut guard = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        let (slots, tick) = &mut *guard;
        *tick += 1;
        let slot = Slot { segment, pos, data, last_used: *tick, verified: None, resume: None };
        // One chunk per segment: a reader moving forward replaces its own.
        if let Some(old) = slots.iter_mut().find(|s| s.segment == segment) {
            *old = slot;
        } else if slots.len() < CACHE_SLOTS {
            slots.push(slot);
        } else if let Some(lru) = slots.iter_mut().min_by_key(|s| s.last_used) {
            *lru = slot;
        }
    }
}

impl ChunkCache {
    /// Notes that the frame at `frame_pos` of the cached chunk of `segment`
    /// passed its CRC check.
    pub fn mark_verified(&self, segment: u64, frame_pos: u64) {
        let mut guard = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(slot) = guard.0.iter_mut().find(|s| s.segment == segment) {
            slot.verified = Some(frame_pos);
        }
    }

    /// Notes where a reader stopped inside the frame at `frame_pos`.
    pub fn set_resume(&self, segment: u64, frame_pos: u64, at: ResumePoint) {
        let mut guard = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(slot) = guard.0.iter_mut().find(|s| s.segment == segment) {
            slot.resume = Some((frame_pos, at));
        }
    }

    pub fn resume(&self, segment: u64, frame_pos: u64) -> Option<ResumePoint> {
        let guard = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        guard.0.iter().find(|s| s.segment == segment)?.resume.filter(|(p, _)| *p == frame_pos).map(|(_, r)| r)
    }

    pub fn is_verified(&self, segment: u64, frame_pos: u64) -> bool {
        let guard = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        guard.0.iter().any(|s| s.segment == segment && s.verified == Some(frame_pos))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_only_covering_chunks_and_stays_bounded() {
        let cache = ChunkCache::default();
        cache.put(1, 100, Bytes::from(vec![7u8; 50]));
        assert_eq!(cache.get(1, 100, 50).map(|(p, d)| (p, d.len())), Some((100, 50)));
        assert_eq!(cache.get(1, 120, 10).map(|(p, _)| p), Some(100));
        assert!(cache.get(1, 120, 31).is_none(), "runs past the chunk");
        assert!(cache.get(1, 99, 1).is_none());
        assert!(cache.get(2, 100, 1).is_none(), "another segment");
        assert!(!cache.is_verified(1, 110));
        cache.mark_verified(1, 110);
        assert!(cache.is_verified(1, 110));
        cache.put(1, 150, Bytes::from(vec![1u8; 10]));
        assert!(!cache.is_verified(1, 110), "a new chunk starts unverified");
        for seg in 2..100 {
            cache.put(seg, 0, Bytes::from_static(b"x"));
        }
        assert_eq!(cache.slots.lock().unwrap().0.len(), CACHE_SLOTS);
        assert!(cache.get(99, 0, 1).is_some());
    }
}
