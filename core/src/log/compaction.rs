//! Log compaction: in sealed segments, keep only the newest record per key;
//! drop tombstones (no value) once older than `delete_retention_ms`. Kept
//! records keep their offsets. Consecutive sealed segments are merged while
//! they fit one segment, so emptied and small segments do not pile up (nor
//! their file handles). A rewrite is written beside the original
//! (`.cleaned`) and committed by an atomic rename, so a crash leaves the
//! old segments or the new one, never a mix.

use std::collections::HashMap;

use crate::log::batch::{decode_records, encode_batch, verify_frame, EntrySpec, FRAME_HEADER_LEN};
use crate::log::partition::{record_bytes, Partition};
use crate::log::record::Record;
use crate::log::segment::{index_name, log_name, Segment, SEGMENT_HEADER_LEN};
use crate::log::topic::TopicConfig;
use crate::storage::Storage;
use crate::Result;

/// Estimates of encoded sizes, for grouping (a group may pass
/// `segment_bytes` a little; offsets and positions stay within u32).
const SEGMENT_OVERHEAD: u64 = SEGMENT_HEADER_LEN;
const BATCH_OVERHEAD: u64 = FRAME_HEADER_LEN as u64 + 5;
const RECORD_OVERHEAD: u64 = 24;

/// One sealed segment, cleaned in memory.
struct Cleaned {
    base: u64,
    kept: Vec<Vec<Record>>,
    bytes: u64,
    dropped: bool,
    next_offset: u64,
}

/// The name a merged group's file has between its commit and its finish.
pub(crate) fn swap_name(dir: &str, base: u64, end: u64) -> String {
    format!("{dir}/{base:020}.{end:020}.swap")
}

/// Parses a swap file's name (without its directory): (base, end).
pub(crate) fn parse_swap(file: &str) -> Option<(u64, u64)> {
    let stem = file.strip_suffix(".swap")?;
    let (a, b) = stem.split_once('.')?;
    let digits = |s: &str| s.len() == 20 && s.bytes().all(|c| c.is_ascii_digit());
    (digits(a) && digits(b)).then(|| Some((a.parse().ok()?, b.parse().ok()?))).flatten()
}

/// Finishes a committed merge: removes every segment (and index) whose
/// base is in `[base, end)`, then renames the swap file to `<base>.log`.
pub(crate) fn finish_swap(storage: &dyn Storage, dir: &str, base: u64, end: u64) -> Result<()> {
    let prefix = format!("{dir}/");
    for name in storage.list(&prefix)? {
        let file = &name[prefix.len()..];
        let stem = file.strip_suffix(".log").or_else(|| file.strip_suffix(".index"));
        let in_group = stem
            .filter(|s| s.len() == 20 && s.bytes().all(|c| c.is_ascii_digit()))
            .and_then(|s| s.parse::<u64>().ok())
            .is_some_and(|b| (base..end).contains(&b));
        if in_group {
            storage.remove(&name)?;
        }
    }
    storage.rename(&swap_name(dir, base, end), &log_name(dir, base))
}

impl Partition {
    /// True when enough has been sealed since the last compaction to make
    /// another worthwhile (at least half of the sealed bytes are new).
    pub fn wants_compaction(&self) -> bool {
        let sealed: u64 = self.segments.values().rev().skip(1).map(Segment::len).sum();
        self.dirty_bytes > 0 && self.dirty_bytes * 2 >= sealed
    }

    pub fn compact(
        &mut self,
        storage: &dyn Storage,
        config: &TopicConfig,
        now_ms: i64,
        durable: bool,
    ) -> Result<()> {
        self.dirty_bytes = 0;
        if self.segments.len() < 2 {
            return Ok(());
        }
        let start = self.start_offset();
        let latest = self.latest_offsets(start)?;
        let bases: Vec<u64> = self.segments.keys().copied().collect();
        let (sealed, active_base) = (&bases[..bases.len() - 1], bases[bases.len() - 1]);
        // Consecutive sealed segments are cleaned into groups that fit one
        // segment; a group of one that lost nothing is left alone.
        let mut group: Vec<Cleaned> = Vec::new();
        for (i, &base) in sealed.iter().enumerate() {
            let cleaned = self.clean_segment(base, start, &latest, config, now_ms)?;
            let fits = group.first().is_some_and(|first| {
                let bytes: u64 = group.iter().map(|c| c.bytes).sum();
                bytes + cleaned.bytes <= config.segment_bytes
                    && cleaned.next_offset - first.base <= u64::from(u32::MAX)
            });
            if !fits && !group.is_empty() {
                self.rewrite_group(storage, std::mem::take(&mut group), base, durable)?;
            }
            group.push(cleaned);
            let end = sealed.get(i + 1).copied().unwrap_or(active_base);
            if i + 1 == sealed.len() {
                self.rewrite_group(storage, std::mem::take(&mut group), end, durable)?;
            }
        }
        Ok(())
    }

    /// One sealed segment's records that compaction keeps.
    fn clean_segment(
        &self,
        base: u64,
        start: u64,
        latest: &HashMap<Vec<u8>, u64>,
        config: &TopicConfig,
        now_ms: i64,
    ) -> Result<Cleaned> {
        let segment = &self.segments[&base];
        let mut kept: Vec<Vec<Record>> = Vec::new();
        let (mut dropped, mut bytes) = (false, SEGMENT_OVERHEAD);
        let mut cursor = segment.frames_from_offset(base, None);
        while let Some((_, header, frame)) = cursor.next_frame()? {
            verify_frame(&header, &frame)?;
            let mut batch = Vec::new();
            decode_records(&header, &frame, &self.origin, 0, None, |r| {
                let newest = r.key.as_deref().and_then(|k| latest.get(k)) == Some(&r.offset);
                let expired_tombstone =
                    r.value.is_none() && now_ms.saturating_sub(r.timestamp_ms) >= config.delete_retention_ms;
                if r.offset >= start && newest && !expired_tombstone {
                    bytes += record_bytes(&r) as u64 + RECORD_OVERHEAD;
                    batch.push(r);
                } else {
                    dropped = true;
                }
                true
            })?;
            if !batch.is_empty() {
                bytes += BATCH_OVERHEAD;
                kept.push(batch);
            }
        }
        Ok(Cleaned { base, kept, bytes, dropped, next_offset: segment.next_offset() })
    }

    /// Writes a group of cleaned segments as one segment at the first's
    /// base (the log start never moves). A group of one is renamed over its
    /// segment. A larger group is committed by renaming its file to
    /// `<base>.<end>.swap`; the group's old segments are then removed and
    /// the swap renamed to `<base>.log` — `Partition::open` finishes that
    /// after a crash, so a crash leaves the old segments or the new one,
    /// never both.
    fn rewrite_group(
        &mut self,
        storage: &dyn Storage,
        group: Vec<Cleaned>,
        end: u64,
        durable: bool,
    ) -> Result<()> {
        let Some(first) = group.first() else { return Ok(()) };
        if group.len() == 1 && !first.dropped {
            return Ok(());
        }
        let base = first.base;
        let final_name = log_name(&self.dir, base);
        let temp_name = format!("{final_name}.cleaned");
        let mut segment = Segment::create_at(storage, &temp_name, base)?;
        let mut frame = Vec::new();
        for batch in group.iter().flat_map(|c| &c.kept) {
            let news: Vec<_> = batch.iter().map(Record::to_new_record).collect();
            let entries: Vec<EntrySpec<'_, '_>> = batch
                .iter()
                .zip(&news)
                .map(|(r, new)| EntrySpec { offset: r.offset, timestamp_ms: r.timestamp_ms, record: new })
                .collect();
            frame.clear();
            // Kept records carry their schedule as headers already (none
            // has a delay or ttl to turn into one): any append time does.
            let summary = encode_batch(&entries, batch[0].timestamp_ms, &mut frame)?;
            segment.append(&frame, &summary, batch[0].timestamp_ms, false, batch[0].timestamp_ms)?;
        }
        if durable {
            segment.sync()?;
        }
        if group.len() == 1 {
            // The old index describes the old bytes: remove it before the
            // swap, so a crash in between leaves no index to trust wrongly.
            storage.remove(&index_name(&self.dir, base))?;
            storage.rename(&temp_name, &final_name)?;
        } else {
            let swap = swap_name(&self.dir, base, end);
            storage.rename(&temp_name, &swap)?;
            if durable {
                storage.sync_names(&self.dir)?;
            }
            for c in &group {
                self.segments.remove(&c.base);
            }
            finish_swap(storage, &self.dir, base, end)?;
        }
        if durable {
            storage.sync_names(&self.dir)?;
        }
        segment.write_index(storage, &self.dir, false)?;
        self.segments.insert(base, segment);
        Ok(())
    }

    /// The offset of the newest record of every key at or after `start`.
    fn latest_offsets(&self, start: u64) -> Result<HashMap<Vec<u8>, u64>> {
        let mut latest = HashMap::new();
        for segment in self.segments.values() {
            let mut cursor = segment.frames_from_offset(segment.base_offset, None);
            while let Some((_, header, frame)) = cursor.next_frame()? {
                if header.last_offset() < start {
                    continue;
                }
                verify_frame(&header, &frame)?;
                decode_records(&header, &frame, &self.origin, start, None, |r| {
                    if let Some(key) = r.key {
                        latest.insert(key.to_vec(), r.offset);
                    }
                    true
                })?;
            }
        }
        Ok(latest)
    }
}
