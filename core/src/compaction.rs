//! Log compaction: in sealed segments, keep only the newest record per key;
//! drop tombstones (no value) once older than `delete_retention_ms`. Kept
//! records keep their offsets; a segment is rewritten beside itself
//! (`.cleaned`) and renamed over the original, so a crash leaves one or
//! the other, never a mix.

use std::collections::HashMap;

use crate::batch::{decode_records, encode_batch, verify_frame, EntrySpec};
use crate::partition::Partition;
use crate::record::Record;
use crate::segment::{index_name, log_name, Segment};
use crate::storage::Storage;
use crate::topic::TopicConfig;
use crate::Result;

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
        let sealed: Vec<u64> = self.segments.keys().rev().skip(1).rev().copied().collect();
        for base in sealed {
            let mut kept: Vec<Vec<Record>> = Vec::new();
            let mut dropped = false;
            let mut cursor = self.segments[&base].frames_from_offset(base, None);
            while let Some((_, header, frame)) = cursor.next_frame()? {
                verify_frame(&header, &frame)?;
                let mut batch = Vec::new();
                decode_records(&header, &frame, &self.origin, 0, None, |r| {
                    let newest = r.key.as_deref().and_then(|k| latest.get(k)) == Some(&r.offset);
                    let expired_tombstone = r.value.is_none()
                        && now_ms.saturating_sub(r.timestamp_ms) >= config.delete_retention_ms;
                    if r.offset >= start && newest && !expired_tombstone {
                        batch.push(r);
                    } else {
                        dropped = true;
                    }
                    true
                })?;
                if !batch.is_empty() {
                    kept.push(batch);
                }
            }
            if dropped {
                let cleaned = self.rewrite_segment(storage, base, &kept, durable)?;
                self.segments.insert(base, cleaned);
            }
        }
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

    fn rewrite_segment(
        &self,
        storage: &dyn Storage,
        base: u64,
        batches: &[Vec<Record>],
        durable: bool,
    ) -> Result<Segment> {
        let final_name = log_name(&self.dir, base);
        let temp_name = format!("{final_name}.cleaned");
        let mut segment = Segment::create_at(storage, &temp_name, base)?;
        let mut frame = Vec::new();
        for batch in batches {
            let news: Vec<_> = batch.iter().map(Record::to_new_record).collect();
            let entries: Vec<EntrySpec<'_, '_>> = batch
                .iter()
                .zip(&news)
                .map(|(r, new)| EntrySpec { offset: r.offset, timestamp_ms: r.timestamp_ms, record: new })
                .collect();
            frame.clear();
            let summary = encode_batch(&entries, &mut frame)?;
            segment.append(&frame, &summary, batch[0].timestamp_ms, false, batch[0].timestamp_ms)?;
        }
        if durable {
            segment.sync()?;
        }
        // The old index describes the old bytes: remove it before the swap,
        // so a crash in between leaves no index to trust wrongly.
        storage.remove(&index_name(&self.dir, base))?;
        storage.rename(&temp_name, &final_name)?;
        if durable {
            storage.sync_names(&self.dir)?;
        }
        segment.write_index(storage, &self.dir, false)?;
        Ok(segment)
    }
}
