//! One partition: an ordered set of segments, the newest of which (the
//! active one) takes appends. Offsets are dense as written; compaction may
//! leave gaps, never reorder.

use std::collections::BTreeMap;

use crate::log::batch::{decode_records, encode_unplaced, place, EntrySpec, Origin, Unplaced};
use crate::log::chunk_cache::ChunkCache;
use crate::log::record::{NewRecord, Record};
use crate::log::segment::{index_name, log_name, Segment};
use crate::log::topic::TopicConfig;
use crate::storage::{read_all, replace_file, Storage};
use crate::{Error, Result};

const LOG_START_FILE: &str = "log-start";
const LOG_START_MAGIC: &[u8; 4] = b"LPLS";

/// What an append needs from the pond.
pub struct AppendContext<'a> {
    pub storage: &'a dyn Storage,
    pub config: &'a TopicConfig,
    pub fsync: bool,
    pub now_ms: i64,
}

/// Limits on one read. At least one record is returned when any is
/// available, even if it alone exceeds `max_bytes`.
#[derive(Debug, Clone, Copy)]
pub struct ReadLimits {
    pub max_records: usize,
    pub max_bytes: usize,
}

impl Default for ReadLimits {
    fn default() -> ReadLimits {
        ReadLimits { max_records: 500, max_bytes: 50 << 20 }
    }
}

/// The bytes a read counts against `max_bytes`.
pub(crate) fn record_bytes(r: &Record) -> usize {
    r.key.as_ref().map_or(0, |k| k.len())
        + r.value.as_ref().map_or(0, |v| v.len())
        + r.headers.iter().map(|(n, v)| crate::log::record::header_size(n.len(), v.len())).sum::<usize>()
}

#[derive(Debug)]
pub struct Partition {
    pub(crate) dir: String,
    pub(crate) origin: Origin,
    /// By base offset; never empty. The last is the active segment.
    pub(crate) segments: BTreeMap<u64, Segment>,
    /// Offsets below this were deleted by `delete_records` (persisted).
    log_start: u64,
    scratch: Vec<u8>,
    /// Bytes sealed since the last compaction (compacted topics only).
    pub(crate) dirty_bytes: u64,
}

impl Partition {
    pub fn create(storage: &dyn Storage, dir: String, origin: Origin, durable: bool) -> Result<Partition> {
        let segment = Segment::create(storage, &dir, 0, durable)?;
        Ok(Partition {
            dir,
            origin,
            segments: BTreeMap::from([(0, segment)]),
            log_start: 0,
            scratch: Vec::new(),
            dirty_bytes: 0,
        })
    }

    /// Opens a partition's files, recovering the active segment's tail,
    /// finishing a committed merge (`.swap`) and clearing leftovers of
    /// interrupted work (`.tmp`, `.cleaned`).
    pub fn open(storage: &dyn Storage, dir: String, origin: Origin, durable: bool) -> Result<Partition> {
        let prefix = format!("{dir}/");
        // A merge committed before a crash is finished first.
        let mut names = storage.list(&prefix)?;
        let swaps: Vec<(u64, u64)> =
            names.iter().filter_map(|n| crate::log::compaction::parse_swap(&n[prefix.len()..])).collect();
        if !swaps.is_empty() {
            for (base, end) in swaps {
                crate::log::compaction::finish_swap(storage, &dir, base, end)?;
            }
            names = storage.list(&prefix)?;
        }
        let mut bases = Vec::new();
        let mut indexes = Vec::new();
        let mut log_start = 0;
        for name in names {
            let file = &name[prefix.len()..];
            if let Some(base) = file.strip_suffix(".log").and_then(parse_base) {
                bases.push(base);
            } else if let Some(base) = file.strip_suffix(".index").and_then(parse_base) {
                indexes.push(base);
            } else if file == LOG_START_FILE {
                log_start = read_log_start(storage, &name)?;
            } else if file.ends_with(".tmp") || file.ends_with(".cleaned") {
                storage.remove(&name)?;
            }
        }
        bases.sort_unstable();
        for orphan in indexes.iter().filter(|b| bases.binary_search(b).is_err()) {
            storage.remove(&index_name(&dir, *orphan))?;
        }
        let mut segments = BTreeMap::new();
        for (i, &base) in bases.iter().enumerate() {
            let sealed = i + 1 < bases.len();
            segments.insert(base, Segment::open(storage, &dir, base, sealed)?);
        }
        // Segments are named by their base offset: one holding offsets at or
        // past the next one's base is misnamed, and trusting either would
        // deliver records twice or out of order.
        let mut prev: Option<(&u64, &Segment)> = None;
        for (base, seg) in &segments {
            if let Some((pb, p)) = prev {
                if p.next_offset() > *base {
                    return Err(Error::corrupt(format!(
                        "{} holds offsets up to {} at or past {} (its successor's base)",
                        log_name(&dir, *pb),
                        p.next_offset() - 1,
                        log_name(&dir, *base)
                    )));
                }
            }
            prev = Some((base, seg));
        }
        let mut partition =
            Partition { dir, origin, segments, log_start, scratch: Vec::new(), dirty_bytes: 0 };
        if partition.segments.is_empty() {
            let segment = Segment::create(storage, &partition.dir, log_start, durable)?;
            partition.segments.insert(log_start, segment);
        } else if log_start > partition.end_offset() {
            // Recovery cut the tail below a persisted log start: continue
            // numbering from the log start, never reusing deleted offsets.
            partition.roll(storage, log_start, durable)?;
        }
        Ok(partition)
    }

    /// Takes in what other handles appended to the active segment since
    /// this one last looked (see [`Segment::catch_up`]). Rolls, retention
    /// and rewrites by others show as changed names: [`Partition::reload`].
    pub fn catch_up(&mut self, storage: &dyn Storage) -> Result<()> {
        if self.active_mut().catch_up()? {
            return Ok(());
        }
        self.reload(storage)
    }

    /// Lists the partition's files again after other handles changed them
    /// (a roll, retention, `delete_records`, compaction): segments that
    /// are gone are dropped, new ones opened, and one rewritten (its length
    /// changed) opened again; the active segment, if still there, is kept
    /// and caught up. Under the pond's lock, what a dead writer left half
    /// done is finished or cleared, as on open.
    pub fn reload(&mut self, storage: &dyn Storage) -> Result<()> {
        let prefix = format!("{}/", self.dir);
        let mut names = storage.list(&prefix)?;
        let swaps: Vec<(u64, u64)> =
            names.iter().filter_map(|n| crate::log::compaction::parse_swap(&n[prefix.len()..])).collect();
        if !swaps.is_empty() {
            for (base, end) in swaps {
                crate::log::compaction::finish_swap(storage, &self.dir, base, end)?;
            }
            names = storage.list(&prefix)?;
        }
        let mut bases = Vec::new();
        let mut log_start = 0;
        for name in &names {
            let file = &name[prefix.len()..];
            if let Some(base) = file.strip_suffix(".log").and_then(parse_base) {
                bases.push(base);
            } else if file == LOG_START_FILE {
                log_start = read_log_start(storage, name)?;
            }
        }
        bases.sort_unstable();
        let mut old = std::mem::take(&mut self.segments);
        let last = bases.len().saturating_sub(1);
        for (i, &base) in bases.iter().enumerate() {
            let sealed = i < last;
            let kept = match old.remove(&base) {
                Some(mut seg) if !seg.is_replaced(storage, &self.dir)? => seg.catch_up()?.then_some(seg),
                _ => None,
            };
            let segment = match kept {
                Some(seg) => seg,
                None => Segment::open(storage, &self.dir, base, sealed)?,
            };
            self.segments.insert(base, segment);
        }
        self.log_start = log_start;
        if self.segments.is_empty() {
            let segment = Segment::create(storage, &self.dir, log_start, false)?;
            self.segments.insert(log_start, segment);
        }
        Ok(())
    }

    fn active(&self) -> &Segment {
        match self.segments.last_key_value() {
            Some((_, s)) => s,
            None => unreachable!("a partition always has a segment"),
        }
    }

    fn active_mut(&mut self) -> &mut Segment {
        match self.segments.last_entry() {
            Some(e) => e.into_mut(),
            None => unreachable!("a partition always has a segment"),
        }
    }

    /// The first offset a read may ask for.
    pub fn start_offset(&self) -> u64 {
        let first = self.segments.keys().next().copied().unwrap_or(0);
        self.log_start.max(first)
    }

    /// The offset the next record will get.
    pub fn end_offset(&self) -> u64 {
        self.active().next_offset()
    }

    /// Bytes on storage (segment files).
    pub fn bytes(&self) -> u64 {
        self.segments.values().map(Segment::len).sum()
    }

    /// Seals the active segment (writing its index) and starts a new one at `base`.
    fn roll(&mut self, storage: &dyn Storage, base: u64, durable: bool) -> Result<()> {
        let active = self.active();
        active.write_index(storage, &self.dir, false)?;
        self.dirty_bytes += active.len();
        let segment = Segment::create(storage, &self.dir, base, durable)?;
        self.segments.insert(base, segment);
        Ok(())
    }

    /// Appends the records as one batch; returns the first offset.
    pub fn append(&mut self, ctx: &AppendContext<'_>, records: &[NewRecord<'_>]) -> Result<u64> {
        fn entry<'r, 'a>(i: usize, record: &'r NewRecord<'a>, now_ms: i64) -> EntrySpec<'r, 'a> {
            EntrySpec { offset: i as u64, timestamp_ms: record.timestamp_ms.unwrap_or(now_ms), record }
        }
        // One record (a single send): its entry on the stack, no allocation.
        let one;
        let many: Vec<EntrySpec<'_, '_>>;
        let entries: &[EntrySpec<'_, '_>] = match records {
            [record] => {
                one = [entry(0, record, ctx.now_ms)];
                &one
            }
            _ => {
                many = records.iter().enumerate().map(|(i, r)| entry(i, r, ctx.now_ms)).collect();
                &many
            }
        };
        let mut frame = self.take_scratch();
        let first_ts = entries.first().map_or(0, |e| e.timestamp_ms);
        let result = encode_unplaced(entries, ctx.now_ms, &mut frame)
            .and_then(|unplaced| self.append_frame(ctx, &mut frame, &unplaced, first_ts));
        self.scratch = frame;
        result
    }

    /// Appends a frame encoded beforehand ([`encode_unplaced`], whose
    /// first record has `first_ts`) at the end; returns its base offset.
    pub fn append_frame(
        &mut self,
        ctx: &AppendContext<'_>,
        frame: &mut [u8],
        unplaced: &Unplaced,
        first_ts: i64,
    ) -> Result<u64> {
        let base = self.end_offset();
        let batch = place(frame, unplaced, base);
        let active = self.active();
        let too_big = active.len() + frame.len() as u64 > ctx.config.segment_bytes;
        let too_old =
            active.first_append_ms().is_some_and(|t| ctx.now_ms.saturating_sub(t) >= ctx.config.segment_ms);
        let too_many = batch.last_offset - active.base_offset > u64::from(u32::MAX);
        if !active.is_empty() && (too_big || too_old || too_many) {
            self.roll(ctx.storage, base, ctx.fsync)?;
        }
        self.active_mut().append(frame, &batch, first_ts, ctx.fsync, ctx.now_ms)?;
        Ok(base)
    }

    /// The partition's encoding buffer, emptied (given back with
    /// [`Partition::give_scratch`]), so appends do not allocate each time.
    pub fn take_scratch(&mut self) -> Vec<u8> {
        let mut frame = std::mem::take(&mut self.scratch);
        frame.clear();
        frame
    }

    pub fn give_scratch(&mut self, frame: Vec<u8>) {
        self.scratch = frame;
    }

    fn check_offset(&self, offset: u64) -> Result<()> {
        let (start, end) = (self.start_offset(), self.end_offset());
        if offset < start || offset > end {
            return Err(Error::OffsetOutOfRange(format!(
                "offset {offset} is outside {start}..={end} of {}/{}",
                self.origin.topic, self.origin.partition
            )));
        }
        Ok(())
    }

    /// Reads records from `offset` on, in offset order, across segments.
    ///
    /// Damage stays in its place: a read that meets a damaged batch after
    /// returning records stops there (a short read); one that meets it
    /// first fails with `Corruption` naming the topic, partition and offset,
    /// and [`Partition::resume_after_damage`] tells where reading can go on.
    pub fn read(
        &self,
        offset: u64,
        limits: ReadLimits,
        cache: &ChunkCache,
        out: &mut Vec<Record>,
    ) -> Result<()> {
        let before = out.len();
        match self.read_records(offset, limits, cache, out) {
            // The next read, starting at the damage, reports it.
            Err(Error::Corruption(_)) if out.len() > before => Ok(()),
            Err(Error::Corruption(why)) => Err(Error::Corruption(format!(
                "topic {:?} partition {}: {why}, at or after offset {offset}; \
                 skip_damaged() moves a consumer or queue past the damaged batch",
                self.origin.topic, self.origin.partition
            ))),
            other => other,
        }
    }

    /// [`Partition::read`] for engines that serve several partitions: a
    /// `Corruption` error is kept in `damage` (the first one wins) instead
    /// of failing, so the other partitions keep flowing. Returns whether
    /// the read went through.
    pub fn read_or_note_damage(
        &self,
        offset: u64,
        limits: ReadLimits,
        cache: &ChunkCache,
        out: &mut Vec<Record>,
        damage: &mut Option<Error>,
    ) -> Result<bool> {
        match self.read(offset, limits, cache, out) {
            Ok(()) => Ok(true),
            Err(e @ Error::Corruption(_)) => {
                damage.get_or_insert(e);
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    fn read_records(
        &self,
        offset: u64,
        limits: ReadLimits,
        cache: &ChunkCache,
        out: &mut Vec<Record>,
    ) -> Result<()> {
        self.check_offset(offset)?;
        let first = self.segments.range(..=offset).next_back().map_or(offset, |(b, _)| *b);
        let (mut count, mut bytes) = (0usize, 0usize);
        let want = limits.max_records;
        for segment in self.segments.range(first..).map(|(_, s)| s) {
            if count >= want {
                break;
            }
            let mut cursor = segment.frames_from_offset(offset, Some(cache));
            while let Some((pos, header, frame)) = cursor.next_frame()? {
                if header.last_offset() < offset {
                    continue;
                }
                cursor.verify(pos, &header, &frame)?;
                let mut full = false;
                let resume = cursor.resume_point(pos);
                let stopped = decode_records(&header, &frame, &self.origin, offset, resume, |record| {
                    let size = record_bytes(&record);
                    if count > 0 && bytes + size > limits.max_bytes {
                        full = true;
                        return false;
                    }
                    bytes += size;
                    count += 1;
                    out.push(record);
                    count < want
                })?;
                if let (Some(at), false) = (stopped, full) {
                    cursor.remember(pos, at);
                }
                if full || count >= want {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// Where reading can go on past a damaged batch met reading from
    /// `offset`: the first offset of the next intact batch (or the end of
    /// the damaged segment). `None` when reading from `offset` meets no
    /// damage.
    pub fn resume_after_damage(&self, offset: u64) -> Result<Option<u64>> {
        let first = self.segments.range(..=offset).next_back().map_or(offset, |(b, _)| *b);
        for segment in self.segments.range(first..).map(|(_, s)| s) {
            let from = offset.max(segment.base_offset);
            if segment.next_offset() <= from {
                continue;
            }
            return segment.resume_after_damage(from);
        }
        Ok(None)
    }

    /// The first offset (>= the start) whose record timestamp is >= `ts`.
    pub fn offset_for_time(&self, ts: i64, cache: &ChunkCache) -> Result<Option<u64>> {
        let start = self.start_offset();
        for segment in self.segments.values() {
            if segment.max_timestamp() < ts || segment.next_offset() <= start {
                continue;
            }
            let mut cursor = segment.frames_from_time(ts, Some(cache));
            while let Some((pos, header, frame)) = cursor.next_frame()? {
                if header.max_timestamp < ts || header.last_offset() < start {
                    continue;
                }
                cursor.verify(pos, &header, &frame)?;
                let mut found = None;
                decode_records(&header, &frame, &self.origin, start, None, |r| {
                    if r.timestamp_ms >= ts {
                        found = Some(r.offset);
                        return false;
                    }
                    true
                })?;
                if found.is_some() {
                    return Ok(found);
                }
            }
        }
        Ok(None)
    }

    /// Makes every offset below `before` unreadable, freeing whole segments.
    pub fn delete_records(&mut self, storage: &dyn Storage, before: u64, durable: bool) -> Result<()> {
        let end = self.end_offset();
        if before > end {
            return Err(Error::OffsetOutOfRange(format!(
                "cannot delete before {before}: the end offset of {}/{} is {end}",
                self.origin.topic, self.origin.partition
            )));
        }
        if before <= self.start_offset() {
            return Ok(());
        }
        self.log_start = before;
        let mut data = Vec::with_capacity(16);
        data.extend_from_slice(LOG_START_MAGIC);
        data.extend_from_slice(&before.to_le_bytes());
        data.extend_from_slice(&crc32fast::hash(&data).to_le_bytes());
        replace_file(storage, &format!("{}/{LOG_START_FILE}", self.dir), &data, durable)?;
        self.remove_segments_while(storage, |seg, _| seg.next_offset() <= before)
    }

    /// Applies time, size and record-count retention to sealed segments,
    /// oldest first. The active segment is never removed.
    pub fn enforce_retention(
        &mut self,
        storage: &dyn Storage,
        config: &TopicConfig,
        now_ms: i64,
    ) -> Result<()> {
        if config.retention_ms.is_none()
            && config.retention_bytes.is_none()
            && config.retention_records.is_none()
        {
            return Ok(());
        }
        let end = self.end_offset();
        let mut total = self.bytes();
        self.remove_segments_while(storage, |seg, next_base| {
            let expired = config.retention_ms.is_some_and(|r| seg.max_timestamp() < now_ms.saturating_sub(r));
            let over_bytes = config.retention_bytes.is_some_and(|b| total - seg.len() >= b);
            let over_records = config.retention_records.is_some_and(|n| end - next_base >= n);
            let remove = expired || over_bytes || over_records;
            if remove {
                total -= seg.len();
            }
            remove
        })
    }

    /// Frees the sealed segments that hold only offsets below `offset`.
    pub fn free_segments_below(&mut self, storage: &dyn Storage, offset: u64) -> Result<()> {
        self.remove_segments_while(storage, |seg, _| seg.next_offset() <= offset)
    }

    /// Removes sealed segments from the oldest while `f(segment, next
    /// segment's base)` says so.
    fn remove_segments_while(
        &mut self,
        storage: &dyn Storage,
        mut f: impl FnMut(&Segment, u64) -> bool,
    ) -> Result<()> {
        while self.segments.len() > 1 {
            let mut keys = self.segments.keys();
            let (Some(&base), Some(&next_base)) = (keys.next(), keys.next()) else {
                break;
            };
            if !f(&self.segments[&base], next_base) {
                break;
            }
            self.segments.remove(&base);
            storage.remove(&log_name(&self.dir, base))?;
            storage.remove(&index_name(&self.dir, base))?;
        }
        Ok(())
    }

    /// Makes every append so far durable.
    pub fn sync(&self) -> Result<()> {
        self.active().sync()
    }

    pub fn remove_files(&self, storage: &dyn Storage) -> Result<()> {
        for name in storage.list(&format!("{}/", self.dir))? {
            storage.remove(&name)?;
        }
        Ok(())
    }
}

fn parse_base(s: &str) -> Option<u64> {
    (s.len() == 20 && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok()).flatten()
}

fn read_log_start(storage: &dyn Storage, name: &str) -> Result<u64> {
    let data = read_all(&*storage.open(name, false)?)?;
    let valid = data.len() == 16
        && &data[..4] == LOG_START_MAGIC
        && crc32fast::hash(&data[..12]).to_le_bytes() == data[12..16];
    if !valid {
        // The file is only written by an atomic rename, so damage here is
        // media corruption; refusing beats resurrecting deleted records.
        return Err(Error::corrupt(format!("{name} is damaged")));
    }
    let mut a = [0u8; 8];
    a.copy_from_slice(&data[4..12]);
    Ok(u64::from_le_bytes(a))
}
