//! The queue consumer handle: one consumer of a subscription, attached
//! through the pond. The delivery rules are the queue engine's
//! (`queues::engine`); this calls it under the pond's lock.

use std::sync::{Arc, Mutex, PoisonError};

use crate::pond::Pond;
use crate::queues::describe::{describe, SubscriptionInfo};
use crate::queues::engine::{
    ack, attach, backlog, delete_subscription, detach, extend, in_flight, nack, next_due, parked, receive,
    skip_damaged, subscription_names, update_settings, Delivery, DeliveryToken, NackDelay, QueueConfig,
    SettingsUpdate, SubKey, QUEUE_CONSUMER,
};
use crate::queues::subscription::{ParkedRecord, SubscriptionSettings};
use crate::{Error, Result};

/// A consumer of a queue subscription. Safe to share between threads;
/// dropping it closes it (its leases are released).
#[derive(Debug)]
pub struct Queue {
    pond: Arc<Pond>,
    key: SubKey,
    consumer: Mutex<Option<u64>>,
}

impl Pond {
    /// Attaches a consumer to the subscription `config.subscription` of
    /// `topic`, creating the subscription (at the topic's start, or its end
    /// with `start_at_end`) if it does not exist.
    pub fn queue(self: &Arc<Self>, topic: &str, config: QueueConfig) -> Result<Queue> {
        let env = self.env();
        let id = self.with_state(|state| attach(&mut state.queue_ctx(), &env, topic, &config))?;
        Ok(Queue {
            pond: self.clone(),
            key: (topic.to_string(), config.subscription),
            consumer: Mutex::new(Some(id)),
        })
    }

    /// Subscriptions of a topic, sorted.
    pub fn subscriptions(&self, topic: &str) -> Result<Vec<String>> {
        self.with_state_read(|state| {
            if !state.topics.contains_key(topic) {
                return Err(Error::TopicNotFound(topic.to_string()));
            }
            Ok(subscription_names(&state.queues, topic))
        })
    }

    /// A subscription's backlog, in-flight, dead-lettered and parked
    /// counts, the age of its oldest unacked record and its settings —
    /// read without attaching to it.
    pub fn describe_subscription(&self, topic: &str, subscription: &str) -> Result<SubscriptionInfo> {
        let key = (topic.to_string(), subscription.to_string());
        let now = self.clock().now_ms();
        self.with_state_read(|state| describe(&state.topics, &state.queues, &self.chunks, &key, now))
    }

    /// Changes a subscription's stored settings (every handle and process
    /// uses them from its next operation); returns the settings now in force.
    pub fn update_subscription(
        &self,
        topic: &str,
        subscription: &str,
        update: &SettingsUpdate,
    ) -> Result<SubscriptionSettings> {
        let env = self.env();
        let key = (topic.to_string(), subscription.to_string());
        let settings =
            self.with_state(|state| update_settings(&mut state.queue_ctx(), &env, &key, update))?;
        self.notify_append();
        Ok(settings)
    }

    /// Deletes a subscription and its delivery state.
    pub fn delete_subscription(&self, topic: &str, subscription: &str) -> Result<()> {
        let env = self.env();
        self.with_state(|state| delete_subscription(&mut state.queue_ctx(), &env, topic, subscription))
    }
}

impl Queue {
    pub fn topic(&self) -> &str {
        &self.key.0
    }

    pub fn subscription(&self) -> &str {
        &self.key.1
    }

    fn consumer(&self) -> Result<u64> {
        self.consumer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .ok_or(Error::HandleClosed(QUEUE_CONSUMER))
    }

    /// Up to `max_messages` deliveries, without waiting.
    pub fn receive(&self, max_messages: usize) -> Result<Vec<Delivery>> {
        let id = self.consumer()?;
        let env = self.pond.env();
        self.pond.with_state(|state| receive(&mut state.queue_ctx(), &env, &self.key, id, max_messages))
    }

    /// Receives, waiting up to `timeout` for a delivery (a new record, an
    /// ack freeing room, a nack delay ending or a lease expiring). Blocks the
    /// calling thread; not on wasm32.
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    pub fn receive_wait(&self, max_messages: usize, timeout: std::time::Duration) -> Result<Vec<Delivery>> {
        use std::time::{Duration, Instant};
        let deadline = Instant::now() + timeout;
        loop {
            let seen = self.pond.append_count();
            let got = self.receive(max_messages)?;
            let now = Instant::now();
            if !got.is_empty() || now >= deadline {
                return Ok(got);
            }
            let mut wait = deadline - now;
            // Something coming due later wakes us then; something already due
            // that we did not get means this consumer is at its in-flight cap:
            // only an ack (a notification) can change that.
            if let Some(due) = self.next_due_ms()? {
                let ms = due.saturating_sub(self.pond.clock().now_ms());
                if ms > 0 {
                    wait = wait.min(Duration::from_millis(ms as u64));
                }
            }
            self.pond.wait_for_append(seen, wait);
        }
    }

    /// Settles a delivery. Fails with `LeaseExpired` when the record has
    /// since been delivered again (or settled): it is never settled twice.
    pub fn ack(&self, token: DeliveryToken) -> Result<()> {
        self.ack_many(&[token])
    }

    /// Settles several deliveries at once (one write): all, or none.
    pub fn ack_many(&self, tokens: &[DeliveryToken]) -> Result<()> {
        self.consumer()?;
        let env = self.pond.env();
        self.pond.with_state(|state| {
            ack(&mut state.queue_ctx(), &env, &self.key, tokens)?;
            super::rules::free_settled(state, &env, &self.key.0)
        })?;
        self.pond.notify_append();
        Ok(())
    }

    /// Returns a delivery to the subscription, deliverable again after
    /// `delay_ms`, or with none after the subscription's retry backoff (at
    /// once when it has none); its delivery count is kept.
    pub fn nack(&self, token: DeliveryToken, delay_ms: Option<i64>) -> Result<()> {
        self.nack_with_reason(token, delay_ms, "nacked")
    }

    /// As [`Queue::nack`], recording why (a dead letter carries the last reason).
    pub fn nack_with_reason(&self, token: DeliveryToken, delay_ms: Option<i64>, reason: &str) -> Result<()> {
        let delay = delay_ms.map_or(NackDelay::Backoff, NackDelay::Ms);
        self.nack_by(token, delay, reason).map(drop)
    }

    /// Pushes a delivery's lease deadline to now + `ms` (a long job keeps
    /// its record). `LeaseExpired` when the lease already ended. Returns
    /// the new deadline (epoch ms).
    pub fn extend(&self, token: DeliveryToken, ms: i64) -> Result<i64> {
        self.consumer()?;
        let env = self.pond.env();
        self.pond.with_state(|state| extend(&mut state.queue_ctx(), &env, &self.key, &token, ms))
    }

    /// Returns a delivery whose handler failed (a `subscribe` handler that
    /// raised): it waits the subscription's retry backoff, or with none
    /// [`failure_backoff_ms`], of its delivery count.
    pub fn nack_failed(&self, token: DeliveryToken, reason: &str) -> Result<()> {
        self.nack_by(token, NackDelay::Failure, reason).map(drop)
    }

    fn nack_by(&self, token: DeliveryToken, delay: NackDelay, reason: &str) -> Result<i64> {
        self.consumer()?;
        let env = self.pond.env();
        let waited = self
            .pond
            .with_state(|state| nack(&mut state.queue_ctx(), &env, &self.key, &token, delay, reason))?;
        self.pond.notify_append();
        Ok(waited)
    }

    /// The earliest clock time (epoch ms) at which a record of this
    /// subscription becomes deliverable again (a lease expiring or a nack
    /// delay ending), if any: a binding waiting for deliveries can set a
    /// timer for it.
    pub fn next_due_ms(&self) -> Result<Option<i64>> {
        self.pond.with_memory(|state| Ok(next_due(&state.queues, &self.key)))
    }

    /// Unsettled records of the subscription (in flight and parked included).
    pub fn backlog(&self) -> Result<u64> {
        self.pond.with_state_read(|state| backlog(&state.topics, &state.queues, &self.key))
    }

    /// Moves the subscription past damaged batches it stands at (a
    /// `Corruption` error from `receive`): their records are settled
    /// without being delivered. Returns the skipped ranges as (partition,
    /// from, to), `to` exclusive.
    pub fn skip_damaged(&self) -> Result<Vec<(u32, u64, u64)>> {
        self.consumer()?;
        let env = self.pond.env();
        let skipped = self.pond.with_state(|state| skip_damaged(&mut state.queue_ctx(), &env, &self.key))?;
        self.pond.notify_append();
        Ok(skipped)
    }

    /// Records of the subscription currently leased to any consumer.
    pub fn in_flight(&self) -> Result<u64> {
        self.pond.with_memory(|state| in_flight(&state.queues, &self.key))
    }

    /// Records past their maximum deliveries that had no dead-letter topic.
    pub fn parked(&self) -> Result<Vec<ParkedRecord>> {
        self.pond.with_state_read(|state| parked(&state.queues, &self.key))
    }

    /// Detaches this consumer; its leases become deliverable at once.
    pub fn close(&self) -> Result<()> {
        let Some(id) = self.consumer.lock().unwrap_or_else(PoisonError::into_inner).take() else {
            return Ok(());
        };
        let env = self.pond.env();
        match self.pond.with_state(|state| detach(&mut state.queue_ctx(), &env, &self.key, id)) {
            Err(Error::Closed) | Ok(()) => {}
            Err(e) => return Err(e),
        }
        self.pond.notify_append();
        Ok(())
    }
}

impl Drop for Queue {
    fn drop(&mut self) {
        let _ = self.close();
    }
}
