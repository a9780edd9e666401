//! One segment of a partition's log: a file of framed batches named by its
//! base offset, plus its sparse index (in memory; written to a `.index`
//! file when the segment is sealed).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;

use crate::log::batch::{verify_frame, EncodedBatch, FrameHeader, ResumePoint, FRAME_HEADER_LEN};
use crate::log::chunk_cache::ChunkCache;
use crate::log::index::{
    position_for_offset, position_for_time, IndexEntry, SegmentIndex, INDEX_INTERVAL_BYTES,
};
use crate::storage::{read_all, replace_file, Storage, StorageFile};
use crate::{Error, Result};

pub const SEGMENT_MAGIC: &[u8; 4] = b"LPSG";
pub const SEGMENT_VERSION: u32 = 1;
pub const SEGMENT_HEADER_LEN: u64 = 8;

/// Bytes a read fetches at a time; a larger frame is read whole.
pub const READ_CHUNK: usize = 256 << 10;
/// Bytes a recovery scan fetches at a time.
const SCAN_CHUNK: usize = 1 << 20;

pub fn log_name(dir: &str, base: u64) -> String {
    format!("{dir}/{base:020}.log")
}

pub fn index_name(dir: &str, base: u64) -> String {
    format!("{dir}/{base:020}.index")
}

fn segment_header() -> [u8; 8] {
    let mut h = [0u8; 8];
    h[..4].copy_from_slice(SEGMENT_MAGIC);
    h[4..].copy_from_slice(&SEGMENT_VERSION.to_le_bytes());
    h
}

/// Ids tell segments apart in the chunk cache, even when a rewritten
/// segment reuses a base offset.
static NEXT_SEGMENT_ID: AtomicU64 = AtomicU64::new(1);

#[derive(Debug)]
pub struct Segment {
    pub base_offset: u64,
    id: u64,
    file: Arc<dyn StorageFile>,
    /// The file's identity when this handle opened it (see
    /// [`StorageFile::identity`]).
    identity: Option<u64>,
    /// Bytes of valid log (header included).
    len: u64,
    /// One past the last offset this segment holds (its base when empty).
    next_offset: u64,
    /// The first batch's base timestamp (recorded in the index).
    first_timestamp: Option<i64>,
    /// The clock's time at the first append since this segment was created
    /// or reopened: segments roll by age from it. (Not the records' own
    /// timestamps: a producer sending old timestamps would roll a segment
    /// per append.)
    first_append_ms: Option<i64>,
    /// The largest record timestamp; i64::MIN when empty.
    max_timestamp: i64,
    index: Vec<IndexEntry>,
    bytes_since_entry: u64,
    /// Intact frames found past damage, by base offset → position: reads
    /// start from them, since the sparse index cannot step over a damaged
    /// frame whose length is unknown. (In memory; found again when needed.)
    resume_points: Mutex<BTreeMap<u64, u64>>,
}

impl Segment {
    /// Creates an empty segment file at `base`.
    pub fn create(storage: &dyn Storage, dir: &str, base: u64, durable: bool) -> Result<Segment> {
        let segment = Segment::create_at(storage, &log_name(dir, base), base)?;
        if durable {
            segment.file.sync()?;
            storage.sync_names(dir)?;
        }
        Ok(segment)
    }

    /// Creates an empty segment for offsets from `base` in the file `name`
    /// (which a caller may later rename to the segment's own name).
    pub fn create_at(storage: &dyn Storage, name: &str, base: u64) -> Result<Segment> {
        let file = storage.open(name, true)?;
        file.set_len(0)?;
        file.write_at(0, &segment_header())?;
        Ok(Segment::empty(base, file))
    }

    fn empty(base: u64, file: Arc<dyn StorageFile>) -> Segment {
        Segment {
            base_offset: base,
            id: NEXT_SEGMENT_ID.fetch_add(1, Ordering::Relaxed),
            identity: file.identity().ok().flatten(),
            file,
            len: SEGMENT_HEADER_LEN,
            next_offset: base,
            first_timestamp: None,
            first_append_ms: None,
            max_timestamp: i64::MIN,
            index: Vec::new(),
            bytes_since_entry: 0,
            resume_points: Mutex::new(BTreeMap::new()),
        }
    }

    /// Opens an existing segment. A sealed one trusts its index file when
    /// that agrees with the log; otherwise (and always for the active one)
    /// the log is scanned, and a torn or corrupt tail is truncated to the
    /// last valid batch.
    pub fn open(storage: &dyn Storage, dir: &str, base: u64, sealed: bool) -> Result<Segment> {
        let file = storage.open(&log_name(dir, base), false)?;
        let len = file.len()?;
        let mut header = [0u8; 8];
        if len < SEGMENT_HEADER_LEN || {
            file.read_at(0, &mut header)?;
            header != segment_header()
        } {
            // A torn or damaged file header: nothing in the file is trusted.
            file.set_len(0)?;
            file.write_at(0, &segment_header())?;
            return Ok(Segment::empty(base, file));
        }
        let mut segment = Segment::empty(base, file);
        segment.len = len;
        if sealed {
            if let Some(index) = load_index(storage, dir, base, len) {
                segment.adopt_index(index);
                return Ok(segment);
            }
        }
        segment.recover()?;
        if sealed {
            // Replace the missing or stale index so the next open is quick.
            segment.write_index(storage, dir, false)?;
        }
        Ok(segment)
    }

    /// Whether the file under this segment's name is no longer the one this
    /// handle opened: compaction replaced it (a rename over the name).
    pub fn is_replaced(&self, storage: &dyn Storage, dir: &str) -> Result<bool> {
        let Some(known) = self.identity else { return Ok(false) };
        let current = storage.open(&log_name(dir, self.base_offset), false)?.identity()?;
        Ok(current != Some(known))
    }

    fn adopt_index(&mut self, index: SegmentIndex) {
        self.next_offset = index.next_offset;
        self.max_timestamp = index.max_timestamp;
        self.first_timestamp = (index.next_offset > self.base_offset).then_some(index.first_timestamp);
        self.index = index.entries;
    }

    /// Scans every batch, rebuilding the in-memory index, and truncates the
    /// file after the last batch that is whole, intact and in order.
    fn recover(&mut self) -> Result<()> {
        let file_len = self.len;
        self.len = SEGMENT_HEADER_LEN;
        self.scan_to(file_len, true)
    }

    /// Takes in the batches another handle appended since this one last
    /// looked (its length read again). The caller holds the pond's lock, so
    /// no writer is mid-append: bytes after the last whole batch are a dead
    /// writer's torn tail and are cut off (a read-only handle's storage
    /// leaves the file as it is). `Ok(false)` when the file is shorter than
    /// this handle knew: it was rewritten, and must be opened again.
    pub fn catch_up(&mut self) -> Result<bool> {
        let file_len = self.file.refresh_len()?;
        if file_len < self.len {
            return Ok(false);
        }
        if file_len > self.len {
            self.walk_headers_to(file_len)?;
        }
        Ok(true)
    }

    /// [`Segment::scan_to`] for batches other handles appended while this
    /// one looked on: they were written whole under the pond's lock, so
    /// only their headers are read (offsets in order, lengths within the
    /// file) and their CRCs are left to the reads that deliver them. What a
    /// writer killed mid-append left is shorter than its header says, and
    /// is cut.
    fn walk_headers_to(&mut self, file_len: u64) -> Result<()> {
        let mut header = [0u8; FRAME_HEADER_LEN];
        let mut expected = self.next_offset;
        while self.len + FRAME_HEADER_LEN as u64 <= file_len {
            let pos = self.len;
            self.file.read_at(pos, &mut header)?;
            let Ok(h) = FrameHeader::parse(&header) else { break };
            let whole = pos + h.frame_len() as u64 <= file_len;
            let in_order = h.base_offset >= expected
                && h.record_count > 0
                && h.last_offset() - self.base_offset <= u64::from(u32::MAX);
            if !whole || !in_order {
                break;
            }
            expected = h.last_offset() + 1;
            let summary = header_summary(&h);
            self.note_batch(pos, &summary, h.base_timestamp, h.frame_len() as u64);
        }
        if self.len < file_len {
            self.file.set_len(self.len)?;
        }
        Ok(())
    }

    /// Notes every whole, in-order batch from `self.len` up to `file_len`;
    /// with `truncate`, cuts the file after the last one. A batch whose
    /// CRC fails is kept, as damage that reads report, when an intact
    /// batch follows it: a torn write is only ever the last batch, so
    /// intact records after damage are never cut. Failing batches at the
    /// end are a torn tail. (A damaged batch's timestamps are not trusted.)
    fn scan_to(&mut self, file_len: u64, truncate: bool) -> Result<()> {
        let mut cursor = FrameCursor::new(self, self.len, SCAN_CHUNK, None);
        cursor.end = file_len;
        cursor.bounded = false;
        let mut valid = Vec::new();
        let mut damaged = Vec::new();
        let mut expected = self.next_offset;
        loop {
            let (pos, header, frame) = match cursor.next_frame() {
                Ok(Some(next)) => next,
                Ok(None) | Err(Error::Corruption(_)) => break,
                // A failing device is not a torn tail: cut nothing.
                Err(e) => return Err(e),
            };
            let in_order = header.base_offset >= expected
                && header.record_count > 0
                && header.last_offset() - self.base_offset <= u64::from(u32::MAX);
            if !in_order {
                break;
            }
            expected = header.last_offset() + 1;
            if verify_frame(&header, &frame).is_err() {
                damaged.push((pos, header, false));
                continue;
            }
            valid.append(&mut damaged);
            valid.push((pos, header, true));
        }
        for (pos, header, intact) in valid {
            let mut summary = header_summary(&header);
            let mut base_timestamp = header.base_timestamp;
            if !intact {
                summary.max_timestamp = self.max_timestamp;
                base_timestamp = self.first_timestamp.unwrap_or(self.max_timestamp);
            }
            self.note_batch(pos, &summary, base_timestamp, header.frame_len() as u64);
        }
        if truncate && self.len < file_len {
            self.file.set_len(self.len)?;
        }
        Ok(())
    }

    /// Records a batch written at `pos` in the in-memory state and index.
    fn note_batch(&mut self, pos: u64, batch: &EncodedBatch, base_timestamp: i64, frame_len: u64) {
        if self.index.is_empty() || self.bytes_since_entry >= INDEX_INTERVAL_BYTES {
            self.index.push(IndexEntry {
                rel_offset: (batch.base_offset - self.base_offset) as u32,
                position: pos as u32,
                max_ts_before: self.max_timestamp,
            });
            self.bytes_since_entry = 0;
        }
        self.bytes_since_entry += frame_len;
        self.len = pos + frame_len;
        self.next_offset = batch.last_offset + 1;
        self.max_timestamp = self.max_timestamp.max(batch.max_timestamp);
        self.first_timestamp.get_or_insert(base_timestamp);
    }

    /// Appends one encoded frame. On a failed write the file is cut back,
    /// so a later append never lands after a partial frame.
    pub fn append(
        &mut self,
        frame: &[u8],
        batch: &EncodedBatch,
        base_timestamp: i64,
        fsync: bool,
        now_ms: i64,
    ) -> Result<()> {
        let pos = self.len;
        if let Err(e) = self.file.write_at(pos, frame) {
            let _ = self.file.set_len(pos);
            return Err(e);
        }
        if fsync {
            self.file.sync()?;
        }
        self.note_batch(pos, batch, base_timestamp, frame.len() as u64);
        self.first_append_ms.get_or_insert(now_ms);
        Ok(())
    }

    /// Writes the index file, so a reopen need not scan this segment.
    pub fn write_index(&self, storage: &dyn Storage, dir: &str, durable: bool) -> Result<()> {
        let index = SegmentIndex {
            entries: self.index.clone(),
            segment_len: self.len,
            next_offset: self.next_offset,
            first_timestamp: self.first_timestamp.unwrap_or(i64::MIN),
            max_timestamp: self.max_timestamp,
        };
        replace_file(storage, &index_name(dir, self.base_offset), &index.encode(), durable)
    }

    pub fn sync(&self) -> Result<()> {
        self.file.sync()
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.next_offset == self.base_offset
    }

    pub fn next_offset(&self) -> u64 {
        self.next_offset
    }

    pub fn max_timestamp(&self) -> i64 {
        self.max_timestamp
    }

    pub fn first_append_ms(&self) -> Option<i64> {
        self.first_append_ms
    }

    /// A cursor over the frames from the indexed batch at or before `offset`.
    pub fn frames_from_offset<'s>(&'s self, offset: u64, cache: Option<&'s ChunkCache>) -> FrameCursor<'s> {
        FrameCursor::new(self, self.start_position(offset), READ_CHUNK, cache)
    }

    /// The position of the indexed (or damage-skipping) frame at or before `offset`.
    fn start_position(&self, offset: u64) -> u64 {
        let rel = offset.saturating_sub(self.base_offset);
        let indexed = position_for_offset(&self.index, rel).map_or(SEGMENT_HEADER_LEN, u64::from);
        let points = self.resume_points.lock().unwrap_or_else(PoisonError::into_inner);
        match points.range(..=offset).next_back() {
            Some((_, &pos)) if pos > indexed => pos,
            _ => indexed,
        }
    }

    /// A cursor from which the first record with timestamp >= `ts` follows.
    pub fn frames_from_time<'s>(&'s self, ts: i64, cache: Option<&'s ChunkCache>) -> FrameCursor<'s> {
        let pos = position_for_time(&self.index, ts);
        FrameCursor::new(self, pos.map_or(SEGMENT_HEADER_LEN, u64::from), READ_CHUNK, cache)
    }
}

impl Segment {
    /// Where reading can go on past damage met reading from `offset`: the
    /// first offset (>= `offset`) of the first intact batch after the
    /// damaged one, found by trusting the damaged frame's length when the
    /// frame there is intact, else by looking for an intact frame byte by
    /// byte up to the next index entry, else the segment's end. The intact
    /// frame's position is kept so reads start there. `None` when reading
    /// from `offset` meets no damage.
    pub fn resume_after_damage(&self, offset: u64) -> Result<Option<u64>> {
        let mut cursor = self.frames_from_offset(offset, None);
        let (pos, header) = loop {
            let pos = cursor.pos;
            match cursor.next_frame() {
                Ok(None) => return Ok(None),
                Ok(Some((_, header, frame))) => {
                    if header.last_offset() < offset {
                        continue;
                    }
                    match verify_frame(&header, &frame) {
                        Ok(()) => return Ok(None),
                        Err(Error::Corruption(_)) => break (pos, Some(header)),
                        Err(e) => return Err(e),
                    }
                }
                Err(Error::Corruption(_)) => break (pos, None),
                Err(e) => return Err(e),
            }
        };
        // An intact frame that still holds records at or after `offset`.
        let usable =
            |h: &FrameHeader, frame: &[u8]| h.last_offset() >= offset && verify_frame(h, frame).is_ok();
        if let Some(h) = header {
            let next = pos + h.frame_len() as u64;
            if next == self.len {
                return Ok(Some(self.next_offset.max(offset + 1)));
            }
            let mut after = FrameCursor::new(self, next, READ_CHUNK, None);
            if let Ok(Some((_, nh, nf))) = after.next_frame() {
                if usable(&nh, &nf) {
                    return Ok(Some(self.resume_at(next, &nh, offset)));
                }
            }
        }
        let next_entry = self.index.iter().find(|e| u64::from(e.position) > pos);
        let limit = next_entry.map_or(self.len, |e| u64::from(e.position));
        let mut region = vec![0u8; (limit - pos) as usize];
        self.file.read_at(pos, &mut region)?;
        for at in 1..region.len() {
            let Ok(h) = FrameHeader::parse(&region[at..]) else { continue };
            let start = pos + at as u64;
            if start + h.frame_len() as u64 > self.len {
                continue;
            }
            let frame = match region.get(at..at + h.frame_len()) {
                Some(f) => f.to_vec(),
                None => {
                    let mut f = vec![0u8; h.frame_len()];
                    self.file.read_at(start, &mut f)?;
                    f
                }
            };
            if usable(&h, &frame) {
                return Ok(Some(self.resume_at(start, &h, offset)));
            }
        }
        let by_index = next_entry.map(|e| self.base_offset + u64::from(e.rel_offset));
        Ok(Some(by_index.filter(|o| *o > offset).unwrap_or(self.next_offset.max(offset + 1))))
    }

    /// Keeps an intact frame at `pos` as a place reads can start; returns
    /// the offset reading goes on from.
    fn resume_at(&self, pos: u64, header: &FrameHeader, offset: u64) -> u64 {
        self.resume_points.lock().unwrap_or_else(PoisonError::into_inner).insert(header.base_offset, pos);
        header.base_offset.max(offset)
    }
}

fn header_summary(h: &FrameHeader) -> EncodedBatch {
    EncodedBatch { base_offset: h.base_offset, last_offset: h.last_offset(), max_timestamp: h.max_timestamp }
}

fn load_index(storage: &dyn Storage, dir: &str, base: u64, len: u64) -> Option<SegmentIndex> {
    let file = storage.open(&index_name(dir, base), false).ok()?;
    let index = SegmentIndex::decode(&read_all(&*file).ok()?).ok()?;
    let consistent = index.segment_len == len
        && index.next_offset >= base
        && index.entries.first().is_none_or(|e| u64::from(e.position) == SEGMENT_HEADER_LEN);
    consistent.then_some(index)
}

/// Reads frames forward from a position, a chunk at a time. Frames come
/// back unverified: callers check the CRC of those they decode.
pub struct FrameCursor<'s> {
    segment: &'s Segment,
    pos: u64,
    end: u64,
    chunk: usize,
    buf: Bytes,
    buf_pos: u64,
    cache: Option<&'s ChunkCache>,
    /// Frames must hold offsets within the segment's range, each above
    /// the one before (off while recovery scans, which checks that itself).
    bounded: bool,
    /// The last offset of the frame before, in this cursor's walk.
    last_seen: Option<u64>,
}

impl<'s> FrameCursor<'s> {
    fn new(segment: &'s Segment, pos: u64, chunk: usize, cache: Option<&'s ChunkCache>) -> FrameCursor<'s> {
        FrameCursor {
            segment,
            pos,
            end: segment.len,
            chunk,
            buf: Bytes::new(),
            buf_pos: pos,
            cache,
            bounded: true,
            last_seen: None,
        }
    }

    /// Makes `[pos, pos + want)` available in `buf`.
    fn fill(&mut self, want: usize) -> Result<()> {
        let have = (self.buf_pos + self.buf.len() as u64).saturating_sub(self.pos);
        if self.pos >= self.buf_pos && have >= want as u64 {
            return Ok(());
        }
        if let Some((chunk_pos, data)) = self.cache.and_then(|c| c.get(self.segment.id, self.pos, want)) {
            self.buf = data;
            self.buf_pos = chunk_pos;
            return Ok(());
        }
        let n = (want.max(self.chunk) as u64).min(self.end - self.pos) as usize;
        let mut v = vec![0u8; n];
        self.segment.file.read_at(self.pos, &mut v)?;
        self.buf = Bytes::from(v);
        self.buf_pos = self.pos;
        if let Some(cache) = self.cache.filter(|_| n <= self.chunk) {
            cache.put(self.segment.id, self.pos, self.buf.clone());
        }
        Ok(())
    }

    /// Checks a frame's CRC, unless the chunk cache already holds it checked
    /// (as it does for the batch a sequential reader stopped in).
    pub fn verify(&self, pos: u64, header: &FrameHeader, frame: &[u8]) -> Result<()> {
        let cached = self.cache.filter(|_| frame.len() <= self.chunk);
        if cached.is_some_and(|c| c.is_verified(self.segment.id, pos)) {
            return Ok(());
        }
        verify_frame(header, frame)?;
        if let Some(c) = cached {
            c.mark_verified(self.segment.id, pos);
        }
        Ok(())
    }

    /// Where a previous reader stopped decoding the frame at `pos`, if known.
    pub fn resume_point(&self, pos: u64) -> Option<ResumePoint> {
        self.cache.and_then(|c| c.resume(self.segment.id, pos))
    }

    pub fn remember(&self, pos: u64, at: ResumePoint) {
        if let Some(c) = self.cache {
            c.set_resume(self.segment.id, pos, at);
        }
    }

    /// The next frame: its position, header and bytes. `Ok(None)` at the
    /// end; an error for a frame that is cut short or has a bad header.
    pub fn next_frame(&mut self) -> Result<Option<(u64, FrameHeader, Bytes)>> {
        if self.pos >= self.end {
            return Ok(None);
        }
        if self.end - self.pos < FRAME_HEADER_LEN as u64 {
            return Err(Error::corrupt("torn batch header"));
        }
        self.fill(FRAME_HEADER_LEN)?;
        let at = (self.pos - self.buf_pos) as usize;
        let header = FrameHeader::parse(&self.buf[at..])?;
        // A frame outside its segment's offsets (a misnamed or altered
        // file whose index was trusted) is damage, never records.
        let seg = self.segment;
        if self.bounded && (header.base_offset < seg.base_offset || header.last_offset() >= seg.next_offset) {
            return Err(Error::corrupt(format!(
                "batch at offset {} lies outside its segment's offsets {}..{}",
                header.base_offset, seg.base_offset, seg.next_offset
            )));
        }
        if self.bounded && self.last_seen.is_some_and(|l| header.base_offset <= l) {
            return Err(Error::corrupt(format!(
                "batch at offset {} is out of order in its segment",
                header.base_offset
            )));
        }
        let frame_len = header.frame_len();
        if self.end - self.pos < frame_len as u64 {
            return Err(Error::corrupt("torn batch"));
        }
        self.fill(frame_len)?;
        let at = (self.pos - self.buf_pos) as usize;
        let frame = self.buf.slice(at..at + frame_len);
        self.last_seen = Some(header.last_offset());
        let pos = self.pos;
        self.pos += frame_len as u64;
        Ok(Some((pos, header, frame)))
    }
}
