//! The sparse index of a segment: one entry per ~`INDEX_INTERVAL_BYTES` of
//! log, mapping an offset to a file position and bounding timestamps. It
//! serves both offset lookups and time lookups, and is always rebuildable
//! from the segment (see docs/FORMAT.md for the `.index` file).

use crate::{Error, Result};

/// Bytes of log between index entries.
pub const INDEX_INTERVAL_BYTES: u64 = 4096;

const MAGIC: &[u8; 4] = b"LPIX";
const VERSION: u32 = 1;
const HEADER_LEN: usize = 44;
const ENTRY_LEN: usize = 16;

/// One entry: the batch that starts at `position` has base offset
/// `base + rel_offset`; every record before it in the segment has a
/// timestamp <= `max_ts_before` (i64::MIN when there are none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexEntry {
    pub rel_offset: u32,
    pub position: u32,
    pub max_ts_before: i64,
}

/// Everything a sealed segment's index file records.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SegmentIndex {
    pub entries: Vec<IndexEntry>,
    /// The segment's length when the index was written; a different length
    /// on disk means the index is stale.
    pub segment_len: u64,
    pub next_offset: u64,
    pub first_timestamp: i64,
    pub max_timestamp: i64,
}

/// Position of the last indexed batch starting at or before `rel`.
pub fn position_for_offset(entries: &[IndexEntry], rel: u64) -> Option<u32> {
    let i = entries.partition_point(|e| u64::from(e.rel_offset) <= rel);
    i.checked_sub(1).map(|i| entries[i].position)
}

/// Position of the last indexed batch before which every record is older
/// than `ts`: the first record with timestamp >= `ts` is at or after it.
pub fn position_for_time(entries: &[IndexEntry], ts: i64) -> Option<u32> {
    let i = entries.partition_point(|e| e.max_ts_before < ts);
    i.checked_sub(1).map(|i| entries[i].position)
}

impl SegmentIndex {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + self.entries.len() * ENTRY_LEN + 4);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&self.segment_len.to_le_bytes());
        out.extend_from_slice(&self.next_offset.to_le_bytes());
        out.extend_from_slice(&self.first_timestamp.to_le_bytes());
        out.extend_from_slice(&self.max_timestamp.to_le_bytes());
        out.extend_from_slice(&(self.entries.len() as u32).to_le_bytes());
        for e in &self.entries {
            out.extend_from_slice(&e.rel_offset.to_le_bytes());
            out.extend_from_slice(&e.position.to_le_bytes());
            out.extend_from_slice(&e.max_ts_before.to_le_bytes());
        }
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Decodes an index file; any inconsistency is an error (the caller
    /// then rebuilds the index from the segment).
    pub fn decode(buf: &[u8]) -> Result<SegmentIndex> {
        let bad = |what: &str| Error::corrupt(format!("index file: {what}"));
        if buf.len() < HEADER_LEN + 4 {
            return Err(bad("too short"));
        }
        let (body, crc) = buf.split_at(buf.len() - 4);
        if crc32fast::hash(body) != u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]) {
            return Err(bad("CRC mismatch"));
        }
        let mut r = Reader(body);
        if r.take::<4>() != *MAGIC || u32::from_le_bytes(r.take()) != VERSION {
            return Err(bad("unknown magic or version"));
        }
        let segment_len = u64::from_le_bytes(r.take());
        let next_offset = u64::from_le_bytes(r.take());
        let first_timestamp = i64::from_le_bytes(r.take());
        let max_timestamp = i64::from_le_bytes(r.take());
        let count = u32::from_le_bytes(r.take()) as usize;
        if r.0.len() != count * ENTRY_LEN {
            return Err(bad("entry count"));
        }
        let mut entries = Vec::with_capacity(count);
        for _ in 0..count {
            entries.push(IndexEntry {
                rel_offset: u32::from_le_bytes(r.take()),
                position: u32::from_le_bytes(r.take()),
                max_ts_before: i64::from_le_bytes(r.take()),
            });
        }
        let ordered = entries.windows(2).all(|w| {
            w[0].rel_offset < w[1].rel_offset
                && w[0].position < w[1].position
                && w[0].max_ts_before <= w[1].max_ts_before
        });
        let in_bounds = entries.last().is_none_or(|e| u64::from(e.position) < segment_len);
        if !ordered || !in_bounds {
            return Err(bad("entries out of order or out of bounds"));
        }
        Ok(SegmentIndex { entries, segment_len, next_offset, first_timestamp, max_timestamp })
    }
}

/// Reads fixed-size fields off the front of a slice whose length the caller
/// has checked.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let mut a = [0u8; N];
        a.copy_from_slice(&self.0[..N]);
        self.0 = &self.0[N..];
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> SegmentIndex {
        SegmentIndex {
            entries: vec![
                IndexEntry { rel_offset: 0, position: 8, max_ts_before: i64::MIN },
                IndexEntry { rel_offset: 10, position: 5000, max_ts_before: 100 },
                IndexEntry { rel_offset: 25, position: 9100, max_ts_before: 300 },
            ],
            segment_len: 12000,
            next_offset: 40,
            first_timestamp: 50,
            max_timestamp: 400,
        }
    }

    #[test]
    fn encodes_and_decodes() {
        let idx = sample();
        assert_eq!(SegmentIndex::decode(&idx.encode()).unwrap(), idx);
    }

    #[test]
    fn lookups() {
        let idx = sample();
        let e = &idx.entries;
        assert_eq!(position_for_offset(e, 0), Some(8));
        assert_eq!(position_for_offset(e, 9), Some(8));
        assert_eq!(position_for_offset(e, 10), Some(5000));
        assert_eq!(position_for_offset(e, 1000), Some(9100));
        assert_eq!(position_for_time(e, 50), Some(8));
        assert_eq!(position_for_time(e, 101), Some(5000));
        assert_eq!(position_for_time(e, 300), Some(5000));
        assert_eq!(position_for_time(e, 301), Some(9100));
        assert_eq!(position_for_offset(&[], 3), None);
    }

    #[test]
    fn any_damage_is_rejected() {
        let bytes = sample().encode();
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x10;
            assert!(SegmentIndex::decode(&bad).is_err(), "byte {i}");
        }
        assert!(SegmentIndex::decode(&bytes[..bytes.len() - 1]).is_err());
    }
}
