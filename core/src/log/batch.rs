//! Record batches: the framed unit of the log (see docs/FORMAT.md).
//!
//! ```text
//! 0   u32  length       bytes after the crc field (header rest + body)
//! 4   u32  crc32        of those `length` bytes
//! 8   u8   version      BATCH_VERSION
//! 9   u64  base_offset
//! 17  u32  last_offset_delta
//! 21  i64  base_timestamp
//! 29  i64  max_timestamp
//! 37  u32  record_count
//! 41  body: postcard varint count, then `record_count` postcard entries
//! ```
//! All integers little-endian. A frame is `8 + length` bytes.

use std::sync::Arc;

use crate::log::record::{NewRecord, Record};
use crate::log::wire::{put_bytes, put_opt_bytes, put_varint, put_zigzag, Wire};
use crate::{Error, Result};
use bytes::Bytes;

pub const BATCH_VERSION: u8 = 1;
pub const FRAME_HEADER_LEN: usize = 41;
/// Upper bound on a frame's length field; a larger one is corruption, so a
/// corrupt length can never make a reader allocate more than this.
pub const MAX_FRAME_LEN: usize = 256 << 20;

/// The fixed-size header of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    pub length: u32,
    pub crc: u32,
    pub base_offset: u64,
    pub last_offset_delta: u32,
    pub base_timestamp: i64,
    pub max_timestamp: i64,
    pub record_count: u32,
}

impl FrameHeader {
    /// Bytes the whole frame takes.
    pub fn frame_len(&self) -> usize {
        8 + self.length as usize
    }

    /// The last offset the batch covers.
    pub fn last_offset(&self) -> u64 {
        self.base_offset + u64::from(self.last_offset_delta)
    }

    /// Parses and sanity-checks a header (not the CRC: see [`verify_frame`]).
    pub fn parse(buf: &[u8]) -> Result<FrameHeader> {
        let Some(b) = buf.get(..FRAME_HEADER_LEN) else {
            return Err(Error::corrupt("short batch header"));
        };
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let u64_at = |i: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[i..i + 8]);
            u64::from_le_bytes(a)
        };
        let header = FrameHeader {
            length: u32_at(0),
            crc: u32_at(4),
            base_offset: u64_at(9),
            last_offset_delta: u32_at(17),
            base_timestamp: u64_at(21) as i64,
            max_timestamp: u64_at(29) as i64,
            record_count: u32_at(37),
        };
        let length = header.length as usize;
        if b[8] != BATCH_VERSION {
            return Err(Error::corrupt(format!("unknown batch version {}", b[8])));
        }
        if !(FRAME_HEADER_LEN - 8..=MAX_FRAME_LEN).contains(&length) {
            return Err(Error::corrupt(format!("batch length {length} out of bounds")));
        }
        // Offsets name records, and u64::MAX never does: the offset after
        // the batch's last must exist.
        let last = header.base_offset.checked_add(u64::from(header.last_offset_delta));
        if last.is_none_or(|l| l == u64::MAX) {
            return Err(Error::corrupt("batch offsets overflow"));
        }
        Ok(header)
    }
}

/// Checks a whole frame's CRC.
pub fn verify_frame(header: &FrameHeader, frame: &[u8]) -> Result<()> {
    let Some(covered) = frame.get(8..header.frame_len()) else {
        return Err(Error::corrupt("truncated batch"));
    };
    if crc32fast::hash(covered) != header.crc {
        return Err(Error::corrupt(format!("batch at offset {} fails its CRC", header.base_offset)));
    }
    Ok(())
}

/// One record of a batch being built: its offset and timestamp are fixed.
pub struct EntrySpec<'r, 'a> {
    pub offset: u64,
    pub timestamp_ms: i64,
    pub record: &'r NewRecord<'a>,
}

/// Summary of an encoded batch.
#[derive(Debug, Clone, Copy)]
pub struct EncodedBatch {
    pub base_offset: u64,
    pub last_offset: u64,
    pub max_timestamp: i64,
}

/// Appends one framed batch to `out`. Offsets must be strictly increasing;
/// `entries` must not be empty.
/// `append_ms` is the pond clock's time of the append: a record's delay
/// and ttl count from it.
pub fn encode_batch(
    entries: &[EntrySpec<'_, '_>],
    append_ms: i64,
    out: &mut Vec<u8>,
) -> Result<EncodedBatch> {
    let start = out.len();
    let unplaced = encode_unplaced(entries, append_ms, out)?;
    let base_offset = entries.first().map_or(0, |e| e.offset);
    Ok(place(&mut out[start..], &unplaced, base_offset))
}

/// A frame encoded before its base offset is known: everything but the
/// base offset and the CRC (see [`place`]).
#[derive(Clone)]
pub struct Unplaced {
    last_offset_delta: u32,
    max_timestamp: i64,
    /// CRC state of the bytes after the base offset, for frames large
    /// enough that combining beats hashing them again under the lock.
    tail: Option<crc32fast::Hasher>,
}

/// Frames from this size on keep the CRC of their tail for [`place`]:
/// combining costs about as much as hashing a few KiB.
const COMBINE_FROM: usize = 16 * 1024;

/// Appends one frame to `out` whose base offset is left 0 and CRC unset:
/// the offsets of `entries` count from the first (only their deltas are
/// stored). [`place`] finishes it once the base offset is known, which a
/// shared pond learns only under its lock.
pub fn encode_unplaced(entries: &[EntrySpec<'_, '_>], append_ms: i64, out: &mut Vec<u8>) -> Result<Unplaced> {
    let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
        return Err(Error::invalid("empty batch"));
    };
    let base_offset = first.offset;
    let base_timestamp = first.timestamp_ms;
    let last_offset_delta = u32::try_from(last.offset - base_offset)
        .map_err(|_| Error::invalid("batch spans too many offsets"))?;
    let record_count =
        u32::try_from(entries.len()).map_err(|_| Error::invalid("batch has too many records"))?;
    let max_timestamp = entries.iter().map(|e| e.timestamp_ms).max().unwrap_or(base_timestamp);

    let start = out.len();
    out.extend_from_slice(&[0u8; FRAME_HEADER_LEN]);
    put_varint(out, u64::from(record_count));
    for e in entries {
        encode_entry(
            out,
            (e.offset - base_offset) as u32,
            e.timestamp_ms.wrapping_sub(base_timestamp),
            e.record,
            append_ms,
        );
    }
    let length = out.len() - start - 8;
    if length > MAX_FRAME_LEN {
        out.truncate(start);
        return Err(Error::BatchTooLarge { size: length, limit: MAX_FRAME_LEN });
    }
    let h = &mut out[start..start + FRAME_HEADER_LEN];
    h[0..4].copy_from_slice(&(length as u32).to_le_bytes());
    h[8] = BATCH_VERSION;
    h[17..21].copy_from_slice(&last_offset_delta.to_le_bytes());
    h[21..29].copy_from_slice(&base_timestamp.to_le_bytes());
    h[29..37].copy_from_slice(&max_timestamp.to_le_bytes());
    h[37..41].copy_from_slice(&record_count.to_le_bytes());
    let tail = (out.len() - start >= COMBINE_FROM).then(|| {
        let mut tail = crc32fast::Hasher::new();
        tail.update(&out[start + BASE_OFFSET_END..]);
        tail
    });
    Ok(Unplaced { last_offset_delta, max_timestamp, tail })
}

/// Where the base offset ends in a frame header: the CRC covers the
/// version and base offset (8..17), then the rest.
const BASE_OFFSET_END: usize = 17;

/// Finishes a frame [`encode_unplaced`] wrote (`frame` is exactly it):
/// sets its base offset and CRC.
pub fn place(frame: &mut [u8], unplaced: &Unplaced, base_offset: u64) -> EncodedBatch {
    frame[9..BASE_OFFSET_END].copy_from_slice(&base_offset.to_le_bytes());
    let crc = match &unplaced.tail {
        Some(tail) => {
            let mut head = crc32fast::Hasher::new();
            head.update(&frame[8..BASE_OFFSET_END]);
            head.combine(tail);
            head.finalize()
        }
        None => crc32fast::hash(&frame[8..]),
    };
    frame[4..8].copy_from_slice(&crc.to_le_bytes());
    EncodedBatch {
        base_offset,
        last_offset: base_offset + u64::from(unplaced.last_offset_delta),
        max_timestamp: unplaced.max_timestamp,
    }
}

/// One entry: `offset_delta` (varint u32), `timestamp_delta` (zigzag i64),
/// `key` and `value` (optional bytes), `headers` (a sequence of str and
/// bytes pairs) — postcard's encoding of that struct.
/// A record sent with a delay or ttl gets its schedule headers last.
fn encode_entry(
    out: &mut Vec<u8>,
    offset_delta: u32,
    timestamp_delta: i64,
    r: &NewRecord<'_>,
    append_ms: i64,
) {
    put_varint(out, u64::from(offset_delta));
    put_zigzag(out, timestamp_delta);
    put_opt_bytes(out, r.key);
    put_opt_bytes(out, r.value);
    let scheduled = u64::from(r.delay_ms.is_some()) + u64::from(r.ttl_ms.is_some());
    put_varint(out, r.headers.len() as u64 + scheduled);
    for (name, value) in &r.headers {
        put_bytes(out, name.as_bytes());
        put_bytes(out, value);
    }
    if scheduled != 0 {
        encode_schedule(out, r, append_ms);
    }
}

/// A record's schedule headers (the rare case: kept out of the hot loop).
#[cold]
fn encode_schedule(out: &mut Vec<u8>, r: &NewRecord<'_>, append_ms: i64) {
    for (name, at) in r.schedule_headers(append_ms) {
        put_bytes(out, name.as_bytes());
        put_bytes(out, at.to_string().as_bytes());
    }
}

struct Entry<'a> {
    offset_delta: u32,
    timestamp_delta: i64,
    key: Option<&'a [u8]>,
    value: Option<&'a [u8]>,
    /// The header count and encoded headers, decoded only for records
    /// that are handed out.
    headers: (u64, &'a [u8]),
}

fn decode_entry<'a>(wire: &mut Wire<'a>) -> Option<Entry<'a>> {
    let offset_delta = wire.u32()?;
    let timestamp_delta = wire.i64()?;
    let key = wire.opt_bytes()?;
    let value = wire.opt_bytes()?;
    let count = wire.u64()?;
    let start = wire.rest;
    for _ in 0..count {
        wire.bytes()?;
        wire.bytes()?;
    }
    let headers = (count, &start[..start.len() - wire.rest.len()]);
    Some(Entry { offset_delta, timestamp_delta, key, value, headers })
}

/// Decodes headers that [`decode_entry`] delimited.
fn decode_headers(
    (count, raw): (u64, &[u8]),
    share: impl Fn(&[u8]) -> Bytes,
) -> Option<Vec<(String, Bytes)>> {
    if count == 0 {
        return Some(Vec::new());
    }
    let mut wire = Wire::new(raw);
    let mut headers = Vec::with_capacity(count as usize);
    for _ in 0..count {
        headers.push((wire.str()?.to_string(), share(wire.bytes()?)));
    }
    Some(headers)
}

/// Where a decoded record comes from, for building [`Record`]s.
#[derive(Debug, Clone)]
pub struct Origin {
    pub topic: Arc<str>,
    pub partition: u32,
}

/// Decodes the records of a verified frame (`frame` holds exactly the
/// frame). Calls `f` for each record at or above `min_offset`, in offset
/// order, until it returns false; then returns where decoding stopped, so
/// a later read of the next offset can resume there instead of decoding the
/// batch from its start again.
pub fn decode_records(
    header: &FrameHeader,
    frame: &Bytes,
    origin: &Origin,
    min_offset: u64,
    resume: Option<ResumePoint>,
    mut f: impl FnMut(Record) -> bool,
) -> Result<Option<ResumePoint>> {
    let body =
        frame.get(FRAME_HEADER_LEN..header.frame_len()).ok_or_else(|| Error::corrupt("truncated batch"))?;
    let bad = |what: &str| {
        Error::corrupt(format!("batch at offset {} has a malformed body: {what}", header.base_offset))
    };
    let mut wire = Wire::new(body);
    if wire.u32() != Some(header.record_count) {
        return Err(bad("record count"));
    }
    let mut previous: Option<u32> = None;
    let mut first = 0;
    if let Some(r) = resume.filter(|r| r.next_offset == min_offset && r.body_at <= body.len()) {
        wire = Wire::new(&body[r.body_at..]);
        previous = Some(r.prev_delta);
        first = r.index;
    }
    for index in first..header.record_count {
        let entry = decode_entry(&mut wire).ok_or_else(|| bad("record"))?;
        if entry.offset_delta > header.last_offset_delta || previous.is_some_and(|p| p >= entry.offset_delta)
        {
            return Err(bad("offsets"));
        }
        previous = Some(entry.offset_delta);
        let offset = header.base_offset + u64::from(entry.offset_delta);
        if offset < min_offset {
            continue;
        }
        let share = |b: &[u8]| frame.slice_ref(b);
        let record = Record {
            topic: origin.topic.clone(),
            partition: origin.partition,
            offset,
            timestamp_ms: header.base_timestamp.wrapping_add(entry.timestamp_delta),
            key: entry.key.map(share),
            value: entry.value.map(share),
            headers: decode_headers(entry.headers, share).ok_or_else(|| bad("headers"))?,
        };
        if !f(record) {
            let at = ResumePoint {
                next_offset: offset + 1,
                body_at: body.len() - wire.rest.len(),
                index: index + 1,
                prev_delta: entry.offset_delta,
            };
            return Ok((index + 1 < header.record_count).then_some(at));
        }
    }
    if !wire.rest.is_empty() {
        return Err(bad("trailing bytes"));
    }
    Ok(None)
}

/// Where decoding of a batch stopped: the next entry starts `body_at` bytes
/// into the body and is entry `index`; the previous one had `prev_delta`.
/// Valid for a read that starts at `next_offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResumePoint {
    pub next_offset: u64,
    pub body_at: usize,
    pub index: u32,
    pub prev_delta: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin() -> Origin {
        Origin { topic: Arc::from("t"), partition: 2 }
    }

    fn decode_all(frame: &[u8]) -> Result<Vec<Record>> {
        let header = FrameHeader::parse(frame)?;
        verify_frame(&header, frame)?;
        let bytes = Bytes::copy_from_slice(frame);
        let mut out = Vec::new();
        decode_records(&header, &bytes, &origin(), 0, None, |r| {
            out.push(r);
            true
        })?;
        Ok(out)
    }

    /// A frame encoded before its base offset is known, then placed, is
    /// byte for byte the frame encoded at that offset: small frames (CRC
    /// hashed whole) and large ones (CRC combined from the tail's).
    #[test]
    fn a_placed_frame_is_the_frame_encoded_in_place() {
        for (count, size) in [(1usize, 10usize), (3, 100), (200, 100), (40, 5000)] {
            let value = vec![0x5au8; size];
            let records: Vec<NewRecord<'_>> = (0..count).map(|_| NewRecord::value(&value)).collect();
            let at = |base: u64| -> Vec<EntrySpec<'_, '_>> {
                records
                    .iter()
                    .enumerate()
                    .map(|(i, record)| EntrySpec {
                        offset: base + i as u64,
                        timestamp_ms: 1000 + i as i64,
                        record,
                    })
                    .collect()
            };
            let base = 123_456_789_u64;
            let mut direct = Vec::new();
            encode_batch(&at(base), 0, &mut direct).unwrap();
            let mut later = Vec::new();
            let unplaced = encode_unplaced(&at(0), 0, &mut later).unwrap();
            assert_eq!(unplaced.tail.is_some(), later.len() >= COMBINE_FROM);
            let summary = place(&mut later, &unplaced, base);
            assert_eq!(later, direct, "{count} records of {size} bytes");
            assert_eq!((summary.base_offset, summary.last_offset), (base, base + count as u64 - 1));
            let records = decode_all(&later).unwrap();
            assert_eq!(records.last().map(|r| r.offset), Some(base + count as u64 - 1));
        }
    }

    #[test]
    fn round_trips_records_with_gaps_keys_headers_and_timestamps() {
        let a = NewRecord::keyed(b"k1", b"v1").with_header("h", b"x").with_header("h", b"y");
        let b = NewRecord::tombstone(b"k2");
        let c = NewRecord::default();
        let entries = [
            EntrySpec { offset: 10, timestamp_ms: 500, record: &a },
            EntrySpec { offset: 12, timestamp_ms: 400, record: &b },
            EntrySpec { offset: 15, timestamp_ms: 900, record: &c },
        ];
        let mut out = vec![7u8; 3];
        let summary = encode_batch(&entries, 0, &mut out).unwrap();
        assert_eq!(summary.last_offset, 15);
        assert_eq!(summary.max_timestamp, 900);
        assert_eq!(&out[..3], &[7, 7, 7], "encode appends");
        let header = FrameHeader::parse(&out[3..]).unwrap();
        assert_eq!(header.frame_len(), out.len() - 3);
        assert_eq!(header.last_offset(), 15);
        let records = decode_all(&out[3..]).unwrap();
        assert_eq!(records.len(), 3);
        assert_eq!(records[0].offset, 10);
        assert_eq!(records[0].key.as_deref(), Some(&b"k1"[..]));
        assert_eq!(records[0].headers.len(), 2);
        assert_eq!(records[0].headers[1].0, "h");
        assert_eq!(&records[0].headers[1].1[..], b"y");
        assert_eq!(records[1].offset, 12);
        assert_eq!(records[1].timestamp_ms, 400);
        assert!(records[1].value.is_none());
        assert_eq!(records[2].offset, 15);
        assert!(records[2].key.is_none() && records[2].value.is_none());
        assert_eq!(records[2].partition, 2);
    }

    // The reference: postcard's own encoding of the entry struct.
    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct RefEntry {
        offset_delta: u32,
        timestamp_delta: i64,
        #[serde(with = "serde_bytes")]
        key: Option<Vec<u8>>,
        #[serde(with = "serde_bytes")]
        value: Option<Vec<u8>>,
        headers: Vec<(String, serde_bytes::ByteBuf)>,
    }

    #[test]
    fn entries_are_exactly_postcard() {
        let cases = [
            (0u32, 0i64, None, None, vec![]),
            (7, -1_000, Some(b"key".to_vec()), Some(vec![0u8; 300]), vec![("h".to_string(), b"v".to_vec())]),
            (u32::MAX, i64::MIN, Some(vec![]), None, vec![("".into(), vec![]), ("x".into(), vec![1; 200])]),
        ];
        for (offset_delta, timestamp_delta, key, value, headers) in cases {
            let reference = RefEntry {
                offset_delta,
                timestamp_delta,
                key: key.clone(),
                value: value.clone(),
                headers: headers
                    .iter()
                    .map(|(n, v)| (n.clone(), serde_bytes::ByteBuf::from(v.clone())))
                    .collect(),
            };
            let expected = postcard::to_allocvec(&reference).unwrap();
            let record = NewRecord {
                key: key.as_deref(),
                value: value.as_deref(),
                headers: headers.iter().map(|(n, v)| (n.as_str(), v.as_slice())).collect(),
                ..NewRecord::default()
            };
            let mut ours = Vec::new();
            encode_entry(&mut ours, offset_delta, timestamp_delta, &record, 0);
            assert_eq!(ours, expected);
            let mut wire = Wire::new(&expected);
            let back = decode_entry(&mut wire).unwrap();
            assert!(wire.rest.is_empty());
            assert_eq!((back.offset_delta, back.timestamp_delta), (offset_delta, timestamp_delta));
            assert_eq!((back.key, back.value), (key.as_deref(), value.as_deref()));
            let decoded = decode_headers(back.headers, Bytes::copy_from_slice).unwrap();
            assert_eq!(decoded.len(), headers.len());
            for ((n, v), (en, ev)) in decoded.iter().zip(&headers) {
                assert_eq!((n, &v[..]), (en, &ev[..]));
            }
        }
    }

    #[test]
    fn any_flipped_bit_is_caught() {
        let r = NewRecord::keyed(b"key", b"value");
        let mut frame = Vec::new();
        encode_batch(&[EntrySpec { offset: 0, timestamp_ms: 1, record: &r }], 1, &mut frame).unwrap();
        for i in 0..frame.len() {
            for bit in 0..8 {
                let mut bad = frame.clone();
                bad[i] ^= 1 << bit;
                assert!(decode_all(&bad).is_err(), "flip at byte {i} bit {bit} went unnoticed");
            }
        }
    }

    #[test]
    fn absurd_lengths_are_corruption_not_allocation() {
        let mut frame = vec![0u8; FRAME_HEADER_LEN];
        frame[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
        frame[8] = BATCH_VERSION;
        assert!(matches!(FrameHeader::parse(&frame), Err(Error::Corruption(_))));
        assert!(matches!(FrameHeader::parse(&frame[..10]), Err(Error::Corruption(_))));
    }
}
