//! The pond: the log side of the core (topics, send, read, retention).

use std::sync::Arc;

use logpond::{Cleanup, Durability, FileMode, NewRecord, Pond, PondOptions, ReadLimits, Record, TopicConfig};
use napi::bindgen_prelude::{Buffer, BufferSlice, Either, External, Float64Array};
use napi_derive::napi;

use crate::clock::NativeManualClock;
use crate::convert::{core_err, from_u64, guard, to_i64, to_u32, to_u64, to_usize, Result};

/// Numbers per record `sendPacked` writes back: `partition, offset, timestampMs`.
const META_PER_SENT: usize = 3;

/// A topic's configuration as JS passes and gets it (camelCase fields).
/// Absent (or null) fields take the core's defaults on create.
#[napi(object)]
pub struct TopicOptions {
    pub partitions: Option<f64>,
    pub retention_ms: Option<f64>,
    pub retention_bytes: Option<f64>,
    pub retention_records: Option<f64>,
    pub compact: Option<bool>,
    pub delete_retention_ms: Option<f64>,
    pub max_record_bytes: Option<f64>,
    pub max_backlog: Option<f64>,
    pub segment_bytes: Option<f64>,
    pub segment_ms: Option<f64>,
    pub retain_until_acked: Option<bool>,
}

impl TopicOptions {
    fn to_config(&self) -> Result<TopicConfig> {
        let mut c = TopicConfig::default();
        let opt_u64 = |name, v: Option<f64>| v.map(|v| to_u64(name, v)).transpose();
        if let Some(p) = self.partitions {
            c.partitions = to_u32("partitions", p)?;
        }
        c.retention_ms = self.retention_ms.map(|v| to_i64("retentionMs", v)).transpose()?;
        c.retention_bytes = opt_u64("retentionBytes", self.retention_bytes)?;
        c.retention_records = opt_u64("retentionRecords", self.retention_records)?;
        if self.compact == Some(true) {
            c.cleanup = Cleanup::Compact;
        }
        if let Some(v) = self.delete_retention_ms {
            c.delete_retention_ms = to_i64("deleteRetentionMs", v)?;
        }
        if let Some(v) = self.max_record_bytes {
            c.max_record_bytes = to_u32("maxRecordBytes", v)?;
        }
        c.max_backlog = opt_u64("maxBacklog", self.max_backlog)?;
        if let Some(v) = self.segment_bytes {
            c.segment_bytes = to_u64("segmentBytes", v)?;
        }
        if let Some(v) = self.segment_ms {
            c.segment_ms = to_i64("segmentMs", v)?;
        }
        c.retain_until_acked = self.retain_until_acked == Some(true);
        Ok(c)
    }

    fn from_config(c: &TopicConfig) -> Result<TopicOptions> {
        let opt = |v: Option<u64>| v.map(from_u64).transpose();
        Ok(TopicOptions {
            partitions: Some(f64::from(c.partitions)),
            retention_ms: c.retention_ms.map(|v| v as f64),
            retention_bytes: opt(c.retention_bytes)?,
            retention_records: opt(c.retention_records)?,
            compact: Some(c.cleanup == Cleanup::Compact),
            delete_retention_ms: Some(c.delete_retention_ms as f64),
            max_record_bytes: Some(f64::from(c.max_record_bytes)),
            max_backlog: opt(c.max_backlog)?,
            segment_bytes: Some(from_u64(c.segment_bytes)?),
            segment_ms: Some(c.segment_ms as f64),
            retain_until_acked: Some(c.retain_until_acked),
        })
    }
}

#[napi(object)]
pub struct PartitionInfo {
    pub partition: u32,
    pub start_offset: f64,
    pub end_offset: f64,
    pub bytes: f64,
}

#[napi(object)]
pub struct TopicInfo {
    pub name: String,
    pub partitions: Vec<PartitionInfo>,
    pub config: TopicOptions,
}

/// Numbers before the records' in a packed send: `slots, topicLength, count`.
const HEADER_SLOTS: usize = 3;

/// Unpacks records the JS layer packed for `sendPacked` (the format is
/// `logpond_js::unpack_new_records`'s); the numbers are f64 in native
/// byte order, as a JS Float64Array holds them.
fn unpack_new_records<'a>(data: &'a [u8], meta: &[u8], count: usize) -> logpond::Result<Vec<NewRecord<'a>>> {
    let number = |i: usize| {
        let b = meta.get(i * 8..i * 8 + 8)?;
        Some(f64::from_ne_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
    };
    logpond_js::unpack_new_records(number, data, count)
}

/// Records packed for the JS layer, which turns them into objects.
///
/// The numbers hold per record `prefix` numbers of the caller's (none for
/// a read; the topic's index for a poll; the delivery count and token id
/// for a receive), then `partition, offset, timestampMs, keyLength,
/// valueLength, headerCount` (a length of -1 means null), then per header
/// `nameLength, valueLength`. `data` holds, per record, the key bytes, the
/// value bytes, then each header's name (utf-8) and value bytes.
pub struct Packed {
    /// How many numbers [`Packed::numbers`] gives.
    pub numbers_len: usize,
    pub data: Vec<u8>,
}

impl Packed {
    /// Copies the records' bytes; counts their numbers (with `prefix`
    /// numbers of the caller's per record).
    pub fn new<'r>(records: impl Iterator<Item = &'r Record> + Clone, prefix: usize) -> Packed {
        let mut numbers_len = 0;
        let mut data_len = 0;
        for r in records.clone() {
            numbers_len += prefix + 6 + 2 * r.headers.len();
            data_len += r.key.as_ref().map_or(0, |k| k.len()) + r.value.as_ref().map_or(0, |v| v.len());
            data_len += r.headers.iter().map(|(n, v)| n.len() + v.len()).sum::<usize>();
        }
        let mut data = Vec::with_capacity(data_len);
        for r in records {
            for b in [r.key.as_deref(), r.value.as_deref()].into_iter().flatten() {
                data.extend_from_slice(b);
            }
            for (name, value) in &r.headers {
                data.extend_from_slice(name.as_bytes());
                data.extend_from_slice(value);
            }
        }
        Packed { numbers_len, data }
    }

    /// Hands the records' numbers, in order, to `put`.
    pub fn numbers(records: &[Record], mut put: impl FnMut(f64)) -> Result<()> {
        records.iter().try_for_each(|r| Packed::record_numbers(r, &mut put))
    }

    /// Hands one record's numbers (after any prefix) to `put`.
    pub fn record_numbers(r: &Record, put: &mut impl FnMut(f64)) -> Result<()> {
        let len = |b: Option<&[u8]>| b.map_or(-1.0, |b| b.len() as f64);
        put(f64::from(r.partition));
        put(from_u64(r.offset)?);
        put(r.timestamp_ms as f64);
        put(len(r.key.as_deref()));
        put(len(r.value.as_deref()));
        put(r.headers.len() as f64);
        for (name, value) in &r.headers {
            put(name.len() as f64);
            put(value.len() as f64);
        }
        Ok(())
    }
}

/// One pond, held by JS as an `External`: dropping it (when the JS `Pond`
/// is collected) closes it and releases its directory lock. The native
/// surface is free functions over this handle rather than a class: an
/// `External` is cheaper to unwrap than a class instance, which counts on
/// the per-record path.
pub struct NativePond {
    pub(crate) pond: Arc<Pond>,
}

pub type Handle = External<NativePond>;

fn options(clock: Option<&NativeManualClock>) -> PondOptions {
    match clock {
        Some(c) => PondOptions::with_clock(Arc::new(c.inner.clone())),
        None => PondOptions::default(),
    }
}

/// Opens (creating if needed) a pond in a directory.
#[napi]
pub fn pond_open(
    path: String,
    fsync: bool,
    clock: Option<&NativeManualClock>,
    group_access: bool,
) -> Result<Handle> {
    guard(|| {
        let mut opts = options(clock);
        opts.durability = if fsync { Durability::Fsync } else { Durability::Os };
        opts.file_mode = if group_access { FileMode::Group } else { FileMode::Private };
        Ok(External::new(NativePond { pond: Arc::new(Pond::open_with(path, opts).map_err(core_err)?) }))
    })
}

#[napi]
pub fn pond_memory(clock: Option<&NativeManualClock>) -> Result<Handle> {
    guard(|| Ok(External::new(NativePond { pond: Arc::new(Pond::memory_with(options(clock))) })))
}

#[napi]
pub fn create_topic(h: &Handle, name: String, options: TopicOptions) -> Result<()> {
    guard(|| h.pond.create_topic(&name, options.to_config()?).map_err(core_err))
}

#[napi]
pub fn topics(h: &Handle) -> Result<Vec<String>> {
    guard(|| h.pond.topics().map_err(core_err))
}

#[napi]
pub fn has_topic(h: &Handle, name: String) -> Result<bool> {
    guard(|| h.pond.has_topic(&name).map_err(core_err))
}

#[napi]
pub fn describe(h: &Handle, name: String) -> Result<TopicInfo> {
    guard(|| {
        let info = h.pond.describe(&name).map_err(core_err)?;
        let partitions = info
            .partitions
            .iter()
            .map(|p| {
                Ok(PartitionInfo {
                    partition: p.partition,
                    start_offset: from_u64(p.start_offset)?,
                    end_offset: from_u64(p.end_offset)?,
                    bytes: from_u64(p.bytes)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(TopicInfo { name: info.name, partitions, config: TopicOptions::from_config(&info.config)? })
    })
}

#[napi]
pub fn delete_topic(h: &Handle, name: String) -> Result<()> {
    guard(|| h.pond.delete_topic(&name).map_err(core_err))
}

/// Appends records the JS layer packed into `buf`: first `slots` f64
/// numbers (native byte order, as a Float64Array holds them), starting
/// with `slots, topicLength, count` and then each record's (see
/// [`unpack_new_records`]); then `topicLength` bytes of topic name (utf-8);
/// then the records' bytes. Writes `partition, offset, timestampMs` of
/// each record over the start of the numbers. (Everything travels in one
/// buffer because each napi argument costs more than packing it.)
#[napi]
pub fn send_packed(h: &Handle, mut buf: BufferSlice) -> Result<()> {
    guard(|| send_in(&mut buf, |topic, records| h.pond.send_many(topic, records)).map_err(core_err))
}

/// Sends records packed as for [`send_packed`] with `send`, writing the
/// metadata back over the numbers.
fn send_in(
    buf: &mut [u8],
    send: impl FnOnce(&str, &[NewRecord<'_>]) -> logpond::Result<Vec<logpond::RecordMetadata>>,
) -> logpond::Result<()> {
    let malformed = || logpond::Error::InvalidArgument("malformed packed records".into());
    let header = |i: usize| -> logpond::Result<f64> {
        let b = buf.get(i * 8..i * 8 + 8).ok_or_else(malformed)?;
        Ok(f64::from_ne_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
    };
    let slots = logpond_js::to_usize("slots", header(0)?)?;
    let topic_len = logpond_js::to_usize("topicLength", header(1)?)?;
    let count = logpond_js::to_usize("count", header(2)?)?;
    let meta_len = slots.checked_mul(8).filter(|&n| n <= buf.len()).ok_or_else(malformed)?;
    let (meta, rest) = buf.split_at_mut(meta_len);
    let (topic, data) = rest.split_at_checked(topic_len).ok_or_else(malformed)?;
    let topic = std::str::from_utf8(topic)
        .map_err(|_| logpond::Error::InvalidArgument("the topic name is not valid utf-8".into()))?;
    let records = unpack_new_records(data, meta.get(HEADER_SLOTS * 8..).ok_or_else(malformed)?, count)?;
    let sent = send(topic, &records)?;
    for (i, md) in sent.iter().enumerate() {
        // Fits: every record took more numbers (META_PER_RECORD) than this.
        let at = i * META_PER_SENT * 8;
        let slot = meta.get_mut(at..at + META_PER_SENT * 8).ok_or_else(malformed)?;
        let numbers = [f64::from(md.partition), logpond_js::from_u64(md.offset)?, md.timestamp_ms as f64];
        for (dst, v) in slot.chunks_exact_mut(8).zip(numbers) {
            dst.copy_from_slice(&v.to_ne_bytes());
        }
    }
    Ok(())
}

/// A send waiting out `Backpressure` on the thread pool (`send(..., {
/// timeoutMs })`): the core's `send_many_wait` for at most one slice.
pub struct SendWait {
    pond: Arc<Pond>,
    buf: Vec<u8>,
    timeout: std::time::Duration,
}

impl crate::wait::Wait for SendWait {
    fn wait(&mut self) -> logpond::Result<crate::wait::PackedOwned> {
        let (pond, timeout) = (&self.pond, self.timeout);
        // The numbers' slot count, read before the metadata overwrites it.
        let slots = self
            .buf
            .get(..8)
            .map_or(0.0, |b| f64::from_ne_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]));
        let slots = logpond_js::to_usize("slots", slots)?;
        send_in(&mut self.buf, |topic, records| pond.send_many_wait(topic, records, timeout))?;
        // The metadata, over the numbers (the bytes are not needed).
        let numbers = self
            .buf
            .chunks_exact(8)
            .take(slots)
            .map(|b| f64::from_ne_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
            .collect();
        Ok(crate::wait::PackedOwned { numbers, data: Vec::new() })
    }
}

/// [`send_packed`] waiting up to `timeoutMs` on the thread pool while the
/// send meets `Backpressure`. `buf` is the JS layer's own copy. Resolves
/// with `[empty, numbers]` (the metadata over the numbers) or a failure.
#[napi(ts_return_type = "Promise<[Buffer, Float64Array] | Failure>")]
pub fn send_packed_wait(
    h: &Handle,
    buf: Buffer,
    timeout_ms: f64,
) -> Result<napi::bindgen_prelude::AsyncTask<crate::wait::WaitTask<SendWait>>> {
    guard(|| {
        Ok(napi::bindgen_prelude::AsyncTask::new(crate::wait::WaitTask(SendWait {
            pond: h.pond.clone(),
            buf: buf.to_vec(),
            timeout: crate::wait::wait_time(timeout_ms)?,
        })))
    })
}

/// Reads records of one partition, packed (see [`Packed`]), from
/// `offset` (with none, from the partition's start offset). The numbers go
/// into `scratch` (f64, native byte order: the JS layer's reused
/// Float64Array), after their count, when they fit, and only the bytes
/// come back; else both come back, the numbers as a new Float64Array.
#[napi]
#[allow(clippy::too_many_arguments)]
pub fn read(
    h: &Handle,
    topic: String,
    partition: f64,
    offset: Option<f64>,
    max_records: f64,
    max_bytes: f64,
    mut scratch: BufferSlice,
) -> Result<Either<Buffer, (Buffer, Float64Array)>> {
    guard(|| {
        let partition = to_u32("partition", partition)?;
        let offset = match offset {
            Some(o) => to_u64("offset", o)?,
            None => h.pond.offsets(&topic, partition).map_err(core_err)?.0,
        };
        let limits = ReadLimits {
            max_records: to_usize("maxRecords", max_records)?,
            max_bytes: to_usize("maxBytes", max_bytes)?,
        };
        let records = h.pond.read(&topic, partition, offset, limits).map_err(core_err)?;
        let packed = Packed::new(records.iter(), 0);
        if (packed.numbers_len + 1) * 8 <= scratch.len() {
            let mut slots = scratch.chunks_exact_mut(8);
            let mut put = |v: f64| {
                if let Some(slot) = slots.next() {
                    slot.copy_from_slice(&v.to_ne_bytes());
                }
            };
            put(packed.numbers_len as f64);
            Packed::numbers(&records, put)?;
            Ok(Either::A(Buffer::from(packed.data)))
        } else {
            let mut numbers = Vec::with_capacity(packed.numbers_len);
            Packed::numbers(&records, |v| numbers.push(v))?;
            Ok(Either::B((Buffer::from(packed.data), Float64Array::new(numbers))))
        }
    })
}

/// `startOffset, endOffset` of a partition.
#[napi]
pub fn offsets(h: &Handle, topic: String, partition: f64) -> Result<Float64Array> {
    guard(|| {
        let (start, end) = h.pond.offsets(&topic, to_u32("partition", partition)?).map_err(core_err)?;
        Ok(Float64Array::new(vec![from_u64(start)?, from_u64(end)?]))
    })
}

#[napi]
pub fn offset_for_time(h: &Handle, topic: String, partition: f64, timestamp_ms: f64) -> Result<Option<f64>> {
    guard(|| {
        let partition = to_u32("partition", partition)?;
        let ts = to_i64("timestampMs", timestamp_ms)?;
        let found = h.pond.offset_for_time(&topic, partition, ts).map_err(core_err)?;
        found.map(from_u64).transpose()
    })
}

#[napi]
pub fn delete_records(h: &Handle, topic: String, partition: f64, before_offset: f64) -> Result<()> {
    guard(|| {
        let partition = to_u32("partition", partition)?;
        let before = to_u64("beforeOffset", before_offset)?;
        h.pond.delete_records(&topic, partition, before).map_err(core_err)
    })
}

#[napi]
pub fn maintain(h: &Handle) -> Result<()> {
    guard(|| h.pond.maintain().map_err(core_err))
}

#[napi]
pub fn flush(h: &Handle) -> Result<()> {
    guard(|| h.pond.flush().map_err(core_err))
}

#[napi]
pub fn close(h: &Handle) -> Result<()> {
    guard(|| h.pond.close().map_err(core_err))
}

#[napi]
pub fn is_closed(h: &Handle) -> bool {
    h.pond.is_closed()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(numbers: &[f64]) -> Vec<u8> {
        numbers.iter().flat_map(|n| n.to_ne_bytes()).collect()
    }

    #[test]
    fn packed_records_unpack() {
        let data = b"valuekeyhnamehval";
        let meta = [5.0, 3.0, 1.0, f64::NAN, 42.0, 5.0, 4.0, -1.0, -1.0, 0.0, 2.0, f64::NAN];
        let records = unpack_new_records(data, &bytes(&meta), 2).unwrap_or_default();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].value, Some(&b"value"[..]));
        assert_eq!(records[0].key, Some(&b"key"[..]));
        assert_eq!(records[0].headers, vec![("hname", &b"hval"[..])]);
        assert_eq!((records[0].partition, records[0].timestamp_ms), (None, Some(42)));
        assert_eq!((records[1].value, records[1].key), (None, None));
        assert_eq!((records[1].partition, records[1].timestamp_ms), (Some(2), None));
    }

    #[test]
    fn malformed_packs_are_errors_not_panics() {
        let data = b"abc";
        let bad: [&[f64]; 7] = [
            &[4.0, -1.0, 0.0, f64::NAN, f64::NAN],            // value past the data
            &[1.0, -1.0, 0.0, f64::NAN],                      // meta too short
            &[1.0, -1.0, 1.0, f64::NAN, f64::NAN, 1.0],       // header lengths cut short
            &[1.0, -1.0, 1.0, f64::NAN, f64::NAN, -1.0, 1.0], // a header name of null
            &[-2.0, -1.0, 0.0, f64::NAN, f64::NAN],           // a negative length
            &[1.0, -1.0, 0.0, 1.5, f64::NAN],                 // a fractional partition
            &[1.0, -1.0, 0.0, f64::NAN, f64::INFINITY],       // an infinite timestamp
        ];
        for meta in bad {
            assert!(unpack_new_records(data, &bytes(meta), 1).is_err(), "{meta:?}");
        }
        let bad_name = bytes(&[-1.0, -1.0, 1.0, f64::NAN, f64::NAN, 2.0, 0.0]);
        assert!(unpack_new_records(&[0xff, 0xfe], &bad_name, 1).is_err());
        assert!(unpack_new_records(b"abc", &bytes(&[1.0, -1.0, 0.0, f64::NAN, f64::NAN])[..39], 1).is_err());
        // Garbage of every shape: never a panic.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            let mut meta = Vec::new();
            for _ in 0..(x % 16) {
                x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                meta.push(match x % 5 {
                    0 => -1.0,
                    1 => f64::NAN,
                    2 => (x >> 40) as f64 % 8.0,
                    3 => f64::from_bits(x),
                    _ => 0.0,
                });
            }
            let _ = unpack_new_records(b"0123456789", &bytes(&meta), (x % 4) as usize);
        }
    }

    #[test]
    fn records_pack_for_js() {
        let record = Record {
            topic: "t".into(),
            partition: 3,
            offset: 7,
            timestamp_ms: 9,
            key: None,
            value: Some(b"v".to_vec().into()),
            headers: vec![("h".to_string(), b"x".to_vec().into())],
        };
        let records = std::slice::from_ref(&record);
        let packed = Packed::new(records.iter(), 0);
        let mut numbers = Vec::new();
        assert!(Packed::numbers(records, |v| numbers.push(v)).is_ok());
        assert_eq!(numbers, vec![3.0, 7.0, 9.0, -1.0, 1.0, 1.0, 1.0, 1.0]);
        assert_eq!(packed.numbers_len, numbers.len());
        assert_eq!(packed.data, b"vhx");
    }
}
