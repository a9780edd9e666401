//! Looking at a queue subscription without attaching to it: its backlog,
//! what is in flight, dead-lettered and parked, the age of its oldest
//! unacknowledged record, and its stored settings.

use crate::log::chunk_cache::ChunkCache;
use crate::log::partition::ReadLimits;
use crate::log::topics::Topics;
use crate::queues::engine::{backlog, subscription_state, QueueState, SubKey};
use crate::queues::subscription::{PartitionState, SubscriptionSettings};
use crate::Result;

/// A subscription as [`crate::Pond::describe_subscription`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionInfo {
    pub topic: String,
    pub subscription: String,
    /// Records not yet acked (in flight, waiting, delayed and parked included).
    pub backlog: u64,
    /// Records leased to a consumer now (in any handle or process).
    pub in_flight: u64,
    /// Records sent to the dead-letter topic, ever.
    pub dead_lettered: u64,
    /// Records kept after their last delivery (no dead-letter topic).
    pub parked: u64,
    /// Records that expired (their `ttl`) before delivery, ever.
    pub expired: u64,
    /// Milliseconds since the oldest record neither acked nor parked was
    /// appended (its timestamp), if there is one.
    pub oldest_unacked_age_ms: Option<i64>,
    /// The stored settings (the defaults for a subscription made before
    /// settings were stored and not attached since).
    pub settings: SubscriptionSettings,
}

/// Describes the subscription `key` at clock time `now_ms`.
pub(crate) fn describe(
    topics: &Topics,
    queues: &QueueState,
    chunks: &ChunkCache,
    key: &SubKey,
    now_ms: i64,
) -> Result<SubscriptionInfo> {
    let state = subscription_state(queues, key)?;
    let topic = topics.get(&key.0).ok_or_else(|| crate::Error::TopicNotFound(key.0.clone()))?;
    let mut oldest: Option<i64> = None;
    for (p, s) in state.parts.iter().enumerate() {
        let partition = topic.partition(p as u32)?;
        let Some(offset) = oldest_unacked(s, partition.start_offset(), partition.end_offset()) else {
            continue;
        };
        let mut records = Vec::new();
        let one = ReadLimits { max_records: 1, max_bytes: 1 };
        // A damaged record has no age to report; the others still do.
        if partition.read(offset, one, chunks, &mut records).is_ok() {
            if let Some(r) = records.first() {
                oldest = Some(oldest.map_or(r.timestamp_ms, |o| o.min(r.timestamp_ms)));
            }
        }
    }
    Ok(SubscriptionInfo {
        topic: key.0.clone(),
        subscription: key.1.clone(),
        backlog: backlog(topics, queues, key)?,
        in_flight: state.parts.iter().map(|s| s.leases.len() as u64).sum(),
        dead_lettered: state.dead_lettered,
        parked: state.parts.iter().map(|s| s.parked.len() as u64).sum(),
        expired: state.expired,
        oldest_unacked_age_ms: oldest.map(|t| now_ms.saturating_sub(t).max(0)),
        settings: state.settings().clone(),
    })
}

/// The first offset in `[start, end)` neither settled nor parked.
fn oldest_unacked(s: &PartitionState, start: u64, end: u64) -> Option<u64> {
    let mut at = s.floor.max(start);
    while at < end {
        if let Some(past) = s.settled.end_of(at) {
            at = past;
        } else if s.parked.contains_key(&at) {
            at += 1;
        } else {
            return Some(at);
        }
    }
    None
}
