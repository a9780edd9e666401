//! Consumer groups: a consumer is one member of a group (see
//! docs/SEMANTICS.md). The JS layer (`lib/consumer.js`) holds it as an
//! `External`; dropping that (the JS object collected) closes it.

use std::sync::Arc;

use logpond::{ConsumerConfig, Record};
use napi::bindgen_prelude::{AsyncTask, Buffer, BufferSlice, Either, External, Float64Array};
use napi_derive::napi;

use crate::convert::{core_err, from_u64, guard, invalid, to_i64, to_u32, to_u64, to_usize, Result};
use crate::pond::Handle;
use crate::wait::{wait_time, Wait, WaitTask};
use logpond_js::Packed;

/// How a consumer joins its group (camelCase, as the JS layer passes it;
/// absent fields take the core's defaults).
#[napi(object)]
pub struct ConsumerOptions {
    pub group: String,
    pub topics: Vec<String>,
    pub auto_offset_reset: Option<String>,
    pub auto_commit: Option<bool>,
    pub auto_commit_interval_ms: Option<f64>,
    pub session_timeout_ms: Option<f64>,
    pub assignor: Option<String>,
}

impl ConsumerOptions {
    fn to_config(&self) -> Result<ConsumerConfig> {
        logpond_js::consumer_config(
            self.group.clone(),
            self.topics.clone(),
            self.auto_offset_reset.as_deref(),
            self.auto_commit,
            self.auto_commit_interval_ms,
            self.session_timeout_ms,
            self.assignor.as_deref(),
        )
        .map_err(core_err)
    }
}

/// What a consumer's waits share with it.
struct Shared {
    consumer: logpond::Consumer,
    /// The subscribed topics: a polled record carries its topic's index.
    topics: Vec<String>,
}

impl Shared {
    fn topic_index(&self, topic: &str) -> f64 {
        // A record's topic is always subscribed; -1 would be a bug, and
        // the JS layer then names the topic "".
        self.topics.iter().position(|t| t == topic).map_or(-1.0, |i| i as f64)
    }

    /// Records packed with their topic's index before each.
    fn pack(&self, records: &[Record]) -> logpond::Result<Packed> {
        let mut last: Option<(Arc<str>, f64)> = None;
        logpond_js::pack(
            records,
            |r| r,
            |r| match &last {
                Some((t, i)) if Arc::ptr_eq(t, &r.topic) => [*i],
                _ => {
                    let i = self.topic_index(&r.topic);
                    last = Some((r.topic.clone(), i));
                    [i]
                }
            },
        )
    }
}

/// One member of a consumer group.
pub struct NativeConsumer {
    shared: Arc<Shared>,
}

type CHandle = External<NativeConsumer>;

/// Creates a consumer and joins its group.
#[napi]
pub fn consumer_create(h: &Handle, options: ConsumerOptions) -> Result<CHandle> {
    guard(|| {
        let config = options.to_config()?;
        let consumer = h.pond.consumer(config).map_err(core_err)?;
        Ok(External::new(NativeConsumer { shared: Arc::new(Shared { consumer, topics: options.topics }) }))
    })
}

/// A poll waiting on the thread pool.
pub struct PollWait {
    shared: Arc<Shared>,
    max: usize,
    timeout: std::time::Duration,
}

impl Wait for PollWait {
    fn wait(&mut self) -> logpond::Result<Packed> {
        let records = self.shared.consumer.poll_wait(self.max, self.timeout)?;
        self.shared.pack(&records)
    }
}

/// Polls on the thread pool: up to `maxRecords` records, waiting up to
/// `timeoutMs` for some to arrive. Resolves with `[bytes, numbers]` (a
/// topic index before each record's numbers) or a failure.
#[napi(ts_return_type = "Promise<[Buffer, Float64Array] | Failure>")]
pub fn consumer_poll(
    c: &CHandle,
    max_records: f64,
    timeout_ms: f64,
) -> Result<AsyncTask<WaitTask<PollWait>>> {
    guard(|| {
        Ok(AsyncTask::new(WaitTask(PollWait {
            shared: c.shared.clone(),
            max: to_usize("maxRecords", max_records)?,
            timeout: wait_time(timeout_ms)?,
        })))
    })
}

/// The next record of an iteration, waiting on the thread pool.
pub struct NextRecordWait {
    shared: Arc<Shared>,
    timeout: std::time::Duration,
}

impl Wait for NextRecordWait {
    fn wait(&mut self) -> logpond::Result<Packed> {
        let record = self.shared.consumer.next_record_wait(self.timeout)?;
        self.shared.pack(record.as_slice())
    }
}

/// The next record of an iteration (`for await`), if one is there now,
/// packed as a poll's (a topic index first), or null. Never waits; the
/// record counts as handed out (its partition's position moves past it).
///
/// `scratch` is the JS layer's reused buffer: f64 slots (native byte
/// order, as a Float64Array holds them), the first holding their count,
/// then bytes. When the record fits, its numbers' count, its bytes' length
/// and its numbers go into the slots after the first, its bytes after the
/// slots, and the result is `true`; else `[bytes, numbers]` comes back.
/// (Copying a small record's bytes into a pooled JS Buffer costs less than
/// a new external buffer per record.)
#[napi]
pub fn consumer_next_record(
    c: &CHandle,
    mut scratch: BufferSlice,
) -> Result<Option<Either<bool, (Buffer, Float64Array)>>> {
    guard(|| {
        let Some(record) = c.shared.consumer.next_record().map_err(core_err)? else {
            return Ok(None);
        };
        let p = c.shared.pack(std::slice::from_ref(&record)).map_err(core_err)?;
        let slots = scratch.get(..8).map_or(0.0, |b| f64::from_ne_bytes(b.try_into().unwrap_or_default()));
        let slots = to_usize("slots", slots)?;
        let fits = slots
            .checked_mul(8)
            .filter(|&n| n <= scratch.len())
            .is_some_and(|n| p.numbers.len() + 3 <= slots && p.data.len() <= scratch.len() - n);
        if !fits {
            return Ok(Some(Either::B((Buffer::from(p.data), Float64Array::new(p.numbers)))));
        }
        let (meta, bytes) = scratch.split_at_mut(slots * 8);
        let head = [p.numbers.len() as f64, p.data.len() as f64];
        for (slot, v) in meta[8..].chunks_exact_mut(8).zip(head.into_iter().chain(p.numbers)) {
            slot.copy_from_slice(&v.to_ne_bytes());
        }
        bytes[..p.data.len()].copy_from_slice(&p.data);
        Ok(Some(Either::A(true)))
    })
}

/// The next record of an iteration on the thread pool, waiting up to
/// `timeoutMs` for one. Resolves as `consumerPoll` does (no record: empty).
#[napi(ts_return_type = "Promise<[Buffer, Float64Array] | Failure>")]
pub fn consumer_next_record_wait(
    c: &CHandle,
    timeout_ms: f64,
) -> Result<AsyncTask<WaitTask<NextRecordWait>>> {
    guard(|| {
        Ok(AsyncTask::new(WaitTask(NextRecordWait {
            shared: c.shared.clone(),
            timeout: wait_time(timeout_ms)?,
        })))
    })
}

#[napi]
pub fn consumer_commit(c: &CHandle) -> Result<()> {
    guard(|| c.shared.consumer.commit().map_err(core_err))
}

/// Commits next-offsets-to-read: `topics[i]`, `partitions[i]`, `offsets[i]`.
#[napi]
pub fn consumer_commit_offsets(
    c: &CHandle,
    topics: Vec<String>,
    partitions: Vec<f64>,
    offsets: Vec<f64>,
) -> Result<()> {
    guard(|| {
        if topics.len() != partitions.len() || topics.len() != offsets.len() {
            return Err(invalid("malformed offsets to commit"));
        }
        let mut list = Vec::with_capacity(topics.len());
        for ((t, p), o) in topics.iter().zip(partitions).zip(offsets) {
            list.push((t.as_str(), to_u32("partition", p)?, to_u64("offset", o)?));
        }
        c.shared.consumer.commit_offsets(&list).map_err(core_err)
    })
}

#[napi]
pub fn consumer_committed(c: &CHandle, topic: String, partition: f64) -> Result<Option<f64>> {
    guard(|| {
        let p = to_u32("partition", partition)?;
        c.shared.consumer.committed(&topic, p).map_err(core_err)?.map(from_u64).transpose()
    })
}

#[napi]
pub fn consumer_position(c: &CHandle, topic: String, partition: f64) -> Result<f64> {
    guard(|| {
        let p = to_u32("partition", partition)?;
        from_u64(c.shared.consumer.position(&topic, p).map_err(core_err)?)
    })
}

#[napi]
pub fn consumer_seek(c: &CHandle, topic: String, partition: f64, offset: f64) -> Result<()> {
    guard(|| {
        let p = to_u32("partition", partition)?;
        c.shared.consumer.seek(&topic, p, to_u64("offset", offset)?).map_err(core_err)
    })
}

#[napi]
pub fn consumer_seek_to_beginning(c: &CHandle) -> Result<()> {
    guard(|| c.shared.consumer.seek_to_beginning().map_err(core_err))
}

#[napi]
pub fn consumer_seek_to_end(c: &CHandle) -> Result<()> {
    guard(|| c.shared.consumer.seek_to_end().map_err(core_err))
}

#[napi]
pub fn consumer_seek_to_time(c: &CHandle, timestamp_ms: f64) -> Result<()> {
    guard(|| c.shared.consumer.seek_to_time(to_i64("timestampMs", timestamp_ms)?).map_err(core_err))
}

/// A topic's partition, as `assignment` and `lag` report them.
#[napi(object)]
pub struct TopicPartitionLag {
    pub topic: String,
    pub partition: u32,
    /// End offset minus position (absent for `assignment`).
    pub lag: Option<f64>,
}

#[napi]
pub fn consumer_assignment(c: &CHandle) -> Result<Vec<TopicPartitionLag>> {
    guard(|| {
        let a = c.shared.consumer.assignment().map_err(core_err)?;
        Ok(a.into_iter()
            .map(|(topic, partition)| TopicPartitionLag { topic, partition, lag: None })
            .collect())
    })
}

/// Moves past damaged batches: the skipped ranges.
#[napi]
pub fn consumer_skip_damaged(c: &CHandle) -> Result<Vec<SkippedRange>> {
    guard(|| {
        let skipped = c.shared.consumer.skip_damaged().map_err(core_err)?;
        skipped
            .into_iter()
            .map(|(topic, partition, from, to)| {
                Ok(SkippedRange {
                    topic: Some(topic),
                    partition,
                    from_offset: from_u64(from)?,
                    to_offset: from_u64(to)?,
                })
            })
            .collect()
    })
}

/// A range of offsets skipped past damage; `toOffset` is exclusive.
#[napi(object)]
pub struct SkippedRange {
    pub topic: Option<String>,
    pub partition: u32,
    pub from_offset: f64,
    pub to_offset: f64,
}

#[napi]
pub fn consumer_lag(c: &CHandle) -> Result<Vec<TopicPartitionLag>> {
    guard(|| {
        let lag = c.shared.consumer.lag().map_err(core_err)?;
        lag.into_iter()
            .map(|((topic, partition), l)| {
                Ok(TopicPartitionLag { topic, partition, lag: Some(from_u64(l)?) })
            })
            .collect()
    })
}

/// `memberId, generation` of the consumer in its group.
#[napi]
pub fn consumer_member(c: &CHandle) -> Result<Vec<f64>> {
    guard(|| {
        let id = c.shared.consumer.member_id().map_err(core_err)?;
        let generation = c.shared.consumer.generation().map_err(core_err)?;
        Ok(vec![from_u64(id)?, from_u64(generation)?])
    })
}

/// Leaves the group (committing first with auto-commit); twice is harmless.
#[napi]
pub fn consumer_close(c: &CHandle) -> Result<()> {
    guard(|| c.shared.consumer.close().map_err(core_err))
}

#[cfg(test)]
mod tests {
    use super::*;
    use logpond::{Assignor, OffsetReset};

    fn options() -> ConsumerOptions {
        ConsumerOptions {
            group: "g".into(),
            topics: vec!["a".into(), "b".into()],
            auto_offset_reset: None,
            auto_commit: None,
            auto_commit_interval_ms: None,
            session_timeout_ms: None,
            assignor: None,
        }
    }

    #[test]
    fn options_take_the_core_defaults_and_refuse_bad_values() {
        let c = options().to_config().ok();
        assert!(c.as_ref().is_some_and(|c| c.auto_offset_reset == OffsetReset::Latest && c.auto_commit));
        assert!(
            c.is_some_and(|c| c.session_timeout_ms == 10_000 && c.assignor == Assignor::CooperativeSticky)
        );
        let bad = [
            ConsumerOptions { auto_offset_reset: Some("smallest".into()), ..options() },
            ConsumerOptions { assignor: Some("fair".into()), ..options() },
            ConsumerOptions { session_timeout_ms: Some(1.5), ..options() },
            ConsumerOptions { auto_commit_interval_ms: Some(f64::NAN), ..options() },
        ];
        for o in bad {
            assert_eq!(o.to_config().err().map(|e| e.status), Some("INVALID_ARGUMENT"));
        }
    }

    #[test]
    fn polled_records_carry_their_topic_index() {
        let pond = Arc::new(logpond::Pond::memory());
        for t in ["a", "b"] {
            assert!(pond.create_topic(t, logpond::TopicConfig::default()).is_ok());
            assert!(pond.send(t, logpond::NewRecord::value(t.as_bytes())).is_ok());
        }
        let mut config = ConsumerConfig::new("g", &["a", "b"]);
        config.auto_offset_reset = OffsetReset::Earliest;
        let Ok(consumer) = pond.consumer(config) else { panic!("consumer") };
        let shared = Shared { consumer, topics: vec!["a".into(), "b".into()] };
        let Ok(records) = shared.consumer.poll(10) else { panic!("poll") };
        let Ok(packed) = shared.pack(&records) else { panic!("pack") };
        // Per record: topic index, then partition, offset, timestamp, key and value lengths, header count.
        assert_eq!(packed.numbers.len(), 2 * 7);
        let mut indexes: Vec<f64> = packed.numbers.chunks(7).map(|n| n[0]).collect();
        indexes.sort_by(f64::total_cmp);
        assert_eq!(indexes, vec![0.0, 1.0]);
        assert_eq!(packed.data.len(), 2);
    }
}
