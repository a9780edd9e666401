//! Queues: a consumer of a named subscription on a topic, whose consumers
//! compete for records (see docs/SEMANTICS.md). The JS layer
//! (`lib/queue.js`) holds it as an `External`; dropping that (the JS
//! object collected) closes it and releases its leases.
//!
//! A delivery's token crosses into JS as plain numbers (its record's
//! partition and offset, and its lease id) and comes back through
//! [`DeliveryToken::from_parts`]: a stale or made-up token is refused by
//! the core (`LeaseExpired`), never harmful.

use std::sync::Arc;

use logpond::{Delivery, DeliveryToken, QueueConfig};
use napi::bindgen_prelude::{AsyncTask, External, Float64Array};
use napi_derive::napi;

use crate::convert::{core_err, from_u64, guard, invalid, to_i64, to_u32, to_u64, to_usize, Result};
use crate::pond::Handle;
use crate::wait::{wait_time, Wait, WaitTask};
use logpond_js::Packed;

/// How a queue consumer attaches (camelCase; absent fields take the
/// core's defaults).
#[napi(object)]
pub struct QueueOptions {
    pub subscription: String,
    pub ack_timeout_ms: Option<f64>,
    pub max_deliveries: Option<f64>,
    pub dead_letter_topic: Option<String>,
    pub retry_backoff_ms: Option<Vec<f64>>,
    pub max_in_flight: Option<f64>,
    pub start_at_end: Option<bool>,
}

impl QueueOptions {
    fn to_config(&self) -> Result<QueueConfig> {
        let o = self;
        logpond_js::queue_config(
            o.subscription.clone(),
            o.ack_timeout_ms,
            o.max_deliveries,
            o.dead_letter_topic.clone(),
            o.retry_backoff_ms.as_deref(),
            o.max_in_flight,
            o.start_at_end,
        )
        .map_err(core_err)
    }
}

/// Numbers per token in an ack: `partition, offset, leaseId`.
const TOKEN_NUMBERS: usize = 3;

struct Shared {
    queue: logpond::Queue,
}

impl Shared {
    /// Deliveries packed with `deliveryCount, leaseId` before each record.
    fn pack(&self, got: &[Delivery]) -> logpond::Result<Packed> {
        // Lease ids count up from 1 per process: far below 2^53.
        logpond_js::pack(got, |d| &d.record, |d| [f64::from(d.delivery_count), d.token.lease_id() as f64])
    }
}

/// A token from its numbers.
fn token(partition: f64, offset: f64, lease: f64) -> Result<DeliveryToken> {
    Ok(DeliveryToken::from_parts(
        to_u32("partition", partition)?,
        to_u64("offset", offset)?,
        to_u64("leaseId", lease)?,
    ))
}

/// A consumer of a queue subscription.
pub struct NativeQueue {
    shared: Arc<Shared>,
}

type QHandle = External<NativeQueue>;

/// Attaches a consumer to a subscription of `topic` (creating it).
#[napi]
pub fn queue_create(h: &Handle, topic: String, options: QueueOptions) -> Result<QHandle> {
    guard(|| {
        let config = options.to_config()?;
        let queue = h.pond.queue(&topic, config).map_err(core_err)?;
        Ok(External::new(NativeQueue { shared: Arc::new(Shared { queue }) }))
    })
}

/// A receive waiting on the thread pool.
pub struct ReceiveWait {
    shared: Arc<Shared>,
    max: usize,
    timeout: std::time::Duration,
}

impl Wait for ReceiveWait {
    fn wait(&mut self) -> logpond::Result<Packed> {
        let got = self.shared.queue.receive_wait(self.max, self.timeout)?;
        self.shared.pack(&got)
    }
}

/// Receives on the thread pool: up to `maxMessages` deliveries, waiting up
/// to `timeoutMs` for one. Resolves with `[bytes, numbers]` (each record's
/// numbers after its `deliveryCount, leaseId`) or a failure.
#[napi(ts_return_type = "Promise<[Buffer, Float64Array] | Failure>")]
pub fn queue_receive(
    q: &QHandle,
    max_messages: f64,
    timeout_ms: f64,
) -> Result<AsyncTask<WaitTask<ReceiveWait>>> {
    guard(|| {
        Ok(AsyncTask::new(WaitTask(ReceiveWait {
            shared: q.shared.clone(),
            max: to_usize("maxMessages", max_messages)?,
            timeout: wait_time(timeout_ms)?,
        })))
    })
}

/// Settles deliveries given as `partition, offset, leaseId` triples: all,
/// or none (`LeaseExpired`).
#[napi]
pub fn queue_ack(q: &QHandle, tokens: Float64Array) -> Result<()> {
    guard(|| {
        if !tokens.len().is_multiple_of(TOKEN_NUMBERS) {
            return Err(invalid("malformed delivery tokens"));
        }
        let tokens = tokens
            .chunks_exact(TOKEN_NUMBERS)
            .map(|t| token(t[0], t[1], t[2]))
            .collect::<Result<Vec<_>>>()?;
        q.shared.queue.ack_many(&tokens).map_err(core_err)
    })
}

/// Returns a delivery, deliverable again after `delayMs` (none: after the
/// subscription's retry backoff, or at once); `reason` goes into a dead
/// letter's `logpond.dlq.reason`.
#[napi]
pub fn queue_nack(
    q: &QHandle,
    partition: f64,
    offset: f64,
    lease_id: f64,
    delay_ms: Option<f64>,
    reason: Option<String>,
) -> Result<()> {
    guard(|| {
        let token = token(partition, offset, lease_id)?;
        let delay = delay_ms.map(|ms| to_i64("delayMs", ms)).transpose()?;
        match &reason {
            Some(reason) => q.shared.queue.nack_with_reason(token, delay, reason),
            None => q.shared.queue.nack(token, delay),
        }
        .map_err(core_err)
    })
}

/// Pushes a delivery's lease deadline to now + `ms`; returns the new
/// deadline (epoch ms). `LeaseExpired` when the lease already ended.
#[napi]
pub fn queue_extend(q: &QHandle, partition: f64, offset: f64, lease_id: f64, ms: f64) -> Result<f64> {
    guard(|| {
        let token = token(partition, offset, lease_id)?;
        let deadline = q.shared.queue.extend(token, to_i64("ackTimeoutMs", ms)?).map_err(core_err)?;
        Ok(deadline as f64)
    })
}

/// Returns a delivery whose handler failed: deliverable again after the
/// subscription's retry backoff (or the core's failure backoff) for its
/// delivery count.
#[napi]
pub fn queue_nack_failed(
    q: &QHandle,
    partition: f64,
    offset: f64,
    lease_id: f64,
    reason: String,
) -> Result<()> {
    guard(|| {
        let token = token(partition, offset, lease_id)?;
        q.shared.queue.nack_failed(token, &reason).map_err(core_err)
    })
}

#[napi]
pub fn queue_backlog(q: &QHandle) -> Result<f64> {
    guard(|| from_u64(q.shared.queue.backlog().map_err(core_err)?))
}

/// Moves the subscription past damaged batches: the skipped ranges.
#[napi]
pub fn queue_skip_damaged(q: &QHandle) -> Result<Vec<crate::consumer::SkippedRange>> {
    guard(|| {
        let skipped = q.shared.queue.skip_damaged().map_err(core_err)?;
        skipped
            .into_iter()
            .map(|(partition, from, to)| {
                Ok(crate::consumer::SkippedRange {
                    topic: None,
                    partition,
                    from_offset: from_u64(from)?,
                    to_offset: from_u64(to)?,
                })
            })
            .collect()
    })
}

#[napi]
pub fn queue_in_flight(q: &QHandle) -> Result<f64> {
    guard(|| from_u64(q.shared.queue.in_flight().map_err(core_err)?))
}

/// A record past its maximum deliveries, kept in the subscription because
/// it has no dead-letter topic.
#[napi(object)]
pub struct ParkedRecord {
    pub partition: u32,
    pub offset: f64,
    pub delivery_count: u32,
    pub reason: String,
}

#[napi]
pub fn queue_parked(q: &QHandle) -> Result<Vec<ParkedRecord>> {
    guard(|| {
        let parked = q.shared.queue.parked().map_err(core_err)?;
        parked
            .into_iter()
            .map(|p| {
                Ok(ParkedRecord {
                    partition: p.partition,
                    offset: from_u64(p.offset)?,
                    delivery_count: p.delivery_count,
                    reason: p.reason,
                })
            })
            .collect()
    })
}

/// Detaches the consumer (its leases become deliverable at once); twice is harmless.
#[napi]
pub fn queue_close(q: &QHandle) -> Result<()> {
    guard(|| q.shared.queue.close().map_err(core_err))
}

/// The subscriptions of a topic, sorted.
#[napi]
pub fn subscriptions(h: &Handle, topic: String) -> Result<Vec<String>> {
    guard(|| h.pond.subscriptions(&topic).map_err(core_err))
}

#[napi]
pub fn delete_subscription(h: &Handle, topic: String, name: String) -> Result<()> {
    guard(|| h.pond.delete_subscription(&topic, &name).map_err(core_err))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_through_numbers() {
        let pond = Arc::new(logpond::Pond::memory());
        assert!(pond.create_topic("t", logpond::TopicConfig::default()).is_ok());
        assert!(pond.send("t", logpond::NewRecord::value(b"v")).is_ok());
        let Ok(queue) = pond.queue("t", QueueConfig::new("s")) else { panic!("queue") };
        let shared = Shared { queue };
        let Ok(got) = shared.queue.receive(1) else { panic!("receive") };
        let Ok(packed) = shared.pack(&got) else { panic!("pack") };
        // deliveryCount, leaseId, then the record's numbers.
        assert_eq!(packed.numbers[0], 1.0);
        let lease = packed.numbers[1];
        let (partition, offset) = (packed.numbers[2], packed.numbers[3]);
        let made_up = token(partition, offset, lease + 1.0).ok();
        assert!(made_up.is_some_and(|t| shared.queue.ack(t).is_err()));
        let real = token(partition, offset, lease).ok();
        assert!(real.is_some_and(|t| shared.queue.ack(t).is_ok()));
        assert!(token(-1.0, 0.0, 1.0).is_err());
        assert!(token(0.0, 0.5, 1.0).is_err());
    }

    #[test]
    fn options_refuse_bad_values() {
        let base = || QueueOptions {
            subscription: "s".into(),
            ack_timeout_ms: None,
            max_deliveries: None,
            dead_letter_topic: None,
            retry_backoff_ms: None,
            max_in_flight: None,
            start_at_end: None,
        };
        assert!(base().to_config().is_ok_and(|c| c.ack_timeout_ms.is_none() && c.max_in_flight == 100));
        let backoff = QueueOptions { retry_backoff_ms: Some(vec![100.0, 800.0]), ..base() };
        assert!(backoff.to_config().is_ok_and(|c| c.retry_backoff_ms == Some((100, 800))));
        for o in [
            QueueOptions { max_deliveries: Some(-1.0), ..base() },
            QueueOptions { max_in_flight: Some(0.5), ..base() },
            QueueOptions { ack_timeout_ms: Some(f64::INFINITY), ..base() },
            QueueOptions { retry_backoff_ms: Some(vec![100.0]), ..base() },
            QueueOptions { retry_backoff_ms: Some(vec![0.5, 1.0]), ..base() },
        ] {
            assert!(o.to_config().is_err());
        }
    }
}
