//! The pond: the log side of the core (topics, send, read, retention).

use std::sync::Arc;

use logpond::{Durability, FileMode, NewRecord, Pond, PondOptions, ReadLimits};
use napi::bindgen_prelude::{Buffer, BufferSlice, Either, External, Float64Array};
use napi_derive::napi;

use crate::clock::NativeManualClock;
use crate::convert::{core_err, from_u64, guard, to_i64, to_u32, to_u64, to_usize, Result};

/// Reads the i-th f64 of `buf` (native byte order, as a Float64Array holds it).
pub fn number_at(buf: &[u8], i: usize) -> Option<f64> {
    let b = buf.get(i.checked_mul(8)?..i.checked_mul(8)? + 8)?;
    Some(f64::from_ne_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
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
    read_only: bool,
) -> Result<Handle> {
    guard(|| {
        let mut opts = options(clock);
        opts.durability = if fsync { Durability::Fsync } else { Durability::Os };
        opts.file_mode = if group_access { FileMode::Group } else { FileMode::Private };
        opts.read_only = read_only;
        Ok(External::new(NativePond { pond: Arc::new(Pond::open_with(path, opts).map_err(core_err)?) }))
    })
}

#[napi]
pub fn pond_memory(clock: Option<&NativeManualClock>) -> Result<Handle> {
    guard(|| Ok(External::new(NativePond { pond: Arc::new(Pond::memory_with(options(clock))) })))
}

/// The option names of `createTopic`, in the order its numbers take
/// (see `logpond_js::topic_options`).
#[napi]
pub fn topic_options() -> Vec<&'static str> {
    logpond_js::topic_options().collect()
}

/// Creates a topic; `options` are numbers in the order of [`topic_options`].
#[napi]
pub fn create_topic(h: &Handle, name: String, options: Float64Array) -> Result<()> {
    guard(|| {
        h.pond.create_topic(&name, logpond_js::topic_config(&options).map_err(core_err)?).map_err(core_err)
    })
}

#[napi]
pub fn topics(h: &Handle) -> Result<Vec<String>> {
    guard(|| h.pond.topics().map_err(core_err))
}

#[napi]
pub fn has_topic(h: &Handle, name: String) -> Result<bool> {
    guard(|| h.pond.has_topic(&name).map_err(core_err))
}

/// A topic's configuration and partitions, as numbers (see
/// `logpond_js::topic_numbers`).
#[napi]
pub fn describe(h: &Handle, name: String) -> Result<Float64Array> {
    guard(|| {
        let info = h.pond.describe(&name).map_err(core_err)?;
        Ok(Float64Array::new(logpond_js::topic_numbers(&info).map_err(core_err)?))
    })
}

/// The consumer groups the pond knows; joins none.
#[napi]
pub fn groups(h: &Handle) -> Result<Vec<String>> {
    guard(|| h.pond.groups().map_err(core_err))
}

/// A consumer group described without joining it, as JSON (see
/// `logpond_js::group_json`).
#[napi]
pub fn describe_group(h: &Handle, group: String) -> Result<String> {
    guard(|| logpond_js::group_json(&h.pond.describe_group(&group).map_err(core_err)?).map_err(core_err))
}

/// A queue subscription described without attaching to it, as JSON (see
/// `logpond_js::subscription_json`).
#[napi]
pub fn describe_subscription(h: &Handle, topic: String, subscription: String) -> Result<String> {
    guard(|| {
        let info = h.pond.describe_subscription(&topic, &subscription).map_err(core_err)?;
        logpond_js::subscription_json(&info).map_err(core_err)
    })
}

/// Changes a subscription's stored settings (see
/// `logpond_js::settings_update`); returns the settings now stored, as JSON.
#[napi]
pub fn update_subscription(
    h: &Handle,
    topic: String,
    subscription: String,
    ack_timeout_ms: Option<f64>,
    max_deliveries: Option<f64>,
    dead_letter_topic: Option<String>,
    retry_backoff_ms: Option<Vec<f64>>,
) -> Result<String> {
    guard(|| {
        let update = logpond_js::settings_update(
            ack_timeout_ms,
            max_deliveries,
            dead_letter_topic,
            retry_backoff_ms.as_deref(),
        )
        .map_err(core_err)?;
        let settings = h.pond.update_subscription(&topic, &subscription, &update).map_err(core_err)?;
        Ok(logpond_js::settings_json(&settings).to_string())
    })
}

#[napi]
pub fn delete_topic(h: &Handle, name: String) -> Result<()> {
    guard(|| h.pond.delete_topic(&name).map_err(core_err))
}

/// Appends records the JS layer packed into `buf`: first `slots` f64
/// numbers (native byte order, as a Float64Array holds them), starting
/// with `slots, topicLength, count` and then each record's (see
/// `logpond_js::unpack_send`); then `topicLength` bytes of topic name (utf-8);
/// then the records' bytes. Writes `partition, offset, timestampMs` of
/// each record over the start of the numbers. (Everything travels in one
/// buffer because each napi argument costs more than packing it.)
#[napi]
pub fn send_packed(h: &Handle, mut buf: BufferSlice) -> Result<()> {
    guard(|| send_in(&mut buf, |topic, records| h.pond.send_many(topic, records)).map_err(core_err))
}

/// Sends records packed as for [`send_packed`] (the layout is
/// `logpond_js::unpack_send`'s) with `send`, writing the metadata back
/// over the numbers.
fn send_in(
    buf: &mut [u8],
    send: impl FnOnce(&str, &[NewRecord<'_>]) -> logpond::Result<Vec<logpond::RecordMetadata>>,
) -> logpond::Result<()> {
    let malformed = || logpond::Error::InvalidArgument("malformed packed records".into());
    let slots = logpond_js::to_usize("slots", number_at(buf, 0).ok_or_else(malformed)?)?;
    let meta_len = slots.checked_mul(8).filter(|&n| n <= buf.len()).ok_or_else(malformed)?;
    let (meta, bytes) = buf.split_at_mut(meta_len);
    let (topic, records) = logpond_js::unpack_send(|i| number_at(meta, i), bytes)?;
    let sent = send(topic, &records)?;
    // Fits: every record took more numbers than this.
    let mut slots = meta.chunks_exact_mut(8);
    logpond_js::sent_numbers(&sent, |v| {
        if let Some(slot) = slots.next() {
            slot.copy_from_slice(&v.to_ne_bytes());
        }
    })
}

/// A send waiting out `Backpressure` on the thread pool (`send(..., {
/// timeoutMs })`): the core's `send_many_wait` for at most one slice.
pub struct SendWait {
    pond: Arc<Pond>,
    buf: Vec<u8>,
    timeout: std::time::Duration,
}

impl crate::wait::Wait for SendWait {
    fn wait(&mut self) -> logpond::Result<logpond_js::Packed> {
        let (pond, timeout) = (&self.pond, self.timeout);
        // The numbers' slot count, read before the metadata overwrites it.
        let slots = logpond_js::to_usize("slots", number_at(&self.buf, 0).unwrap_or(0.0))?;
        send_in(&mut self.buf, |topic, records| pond.send_many_wait(topic, records, timeout))?;
        // The metadata, over the numbers (the bytes are not needed).
        let numbers = (0..slots).map_while(|i| number_at(&self.buf, i)).collect();
        Ok(logpond_js::Packed { numbers, data: Vec::new() })
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

/// Reads records of one partition, packed (see `logpond_js::Packed`), from
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
        let (numbers_len, data) = logpond_js::pack_data(records.iter(), 0);
        if (numbers_len + 1) * 8 <= scratch.len() {
            let mut slots = scratch.chunks_exact_mut(8);
            let mut put = |v: f64| {
                if let Some(slot) = slots.next() {
                    slot.copy_from_slice(&v.to_ne_bytes());
                }
            };
            put(numbers_len as f64);
            records.iter().try_for_each(|r| logpond_js::record_numbers(r, &mut put)).map_err(core_err)?;
            Ok(Either::A(Buffer::from(data)))
        } else {
            let packed = logpond_js::pack(&records, |r| r, |_| []).map_err(core_err)?;
            Ok(Either::B((Buffer::from(packed.data), Float64Array::new(packed.numbers))))
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
    fn a_packed_send_writes_its_metadata_back() {
        let mut buf = bytes(&[10.0, 1.0, 1.0, f64::NAN, f64::NAN, 1.0, -1.0, 0.0, f64::NAN, f64::NAN]);
        buf.extend_from_slice(b"tv");
        let sent = |topic: &str, records: &[NewRecord<'_>]| {
            assert_eq!((topic, records.len()), ("t", 1));
            let md = logpond::RecordMetadata { topic: "t".into(), partition: 2, offset: 5, timestamp_ms: 9 };
            Ok(vec![md])
        };
        assert!(send_in(&mut buf, sent).is_ok());
        assert_eq!(
            (0..3).map(|i| number_at(&buf, i)).collect::<Vec<_>>(),
            vec![Some(2.0), Some(5.0), Some(9.0)]
        );
        for bad in [bytes(&[1e9, 0.0, 0.0]), bytes(&[-1.0]), vec![1, 2, 3]] {
            let mut bad = bad;
            assert!(send_in(&mut bad, |_, _| Ok(Vec::new())).is_err());
        }
    }

    #[test]
    fn malformed_packs_are_errors_not_panics() {
        // Garbage of every shape: never a panic.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            let mut meta = vec![0.0];
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
            meta[0] = meta.len() as f64;
            let mut buf = bytes(&meta);
            buf.extend_from_slice(b"0123456789");
            let _ = send_in(&mut buf, |_, _| Ok(Vec::new()));
        }
    }
}
