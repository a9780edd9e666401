//! The consumer handle: one member of a consumer group, reading the
//! partitions the group assigns it. The group rules are the group engine's
//! (`groups::engine`); this calls it under the pond's lock. See
//! docs/SEMANTICS.md for the full semantics.

use std::sync::{Arc, Mutex, PoisonError};

use crate::groups::assignor::{Assignor, TopicPartition};
use crate::groups::engine::{self as group, GroupCtx, MemberSettings, OffsetReset, SeekTo};
use crate::log::record::Record;
use crate::log::topic::{is_internal, validate_name};
use crate::log::topics::Env;
use crate::pond::Pond;
use crate::{Error, Result};

/// How a consumer joins its group.
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    pub group: String,
    pub topics: Vec<String>,
    pub auto_offset_reset: OffsetReset,
    /// Commit positions on poll every `auto_commit_interval_ms`, before a
    /// partition is revoked, and on close.
    pub auto_commit: bool,
    pub auto_commit_interval_ms: i64,
    /// A member that does not poll for this long is removed from the group.
    pub session_timeout_ms: i64,
    pub assignor: Assignor,
}

impl ConsumerConfig {
    pub fn new(group: impl Into<String>, topics: &[&str]) -> ConsumerConfig {
        ConsumerConfig {
            group: group.into(),
            topics: topics.iter().map(|t| t.to_string()).collect(),
            auto_offset_reset: OffsetReset::Latest,
            auto_commit: true,
            auto_commit_interval_ms: crate::surface::DEFAULT_AUTO_COMMIT_INTERVAL_MS,
            session_timeout_ms: crate::surface::DEFAULT_SESSION_TIMEOUT_MS,
            assignor: Assignor::CooperativeSticky,
        }
    }

    fn validate(&self) -> Result<()> {
        if self.group.is_empty() {
            return Err(Error::invalid("a consumer group id must not be empty"));
        }
        if self.topics.is_empty() {
            return Err(Error::invalid("a consumer needs at least one topic"));
        }
        for t in &self.topics {
            validate_name(t)?;
            if is_internal(t) {
                return Err(Error::InvalidName(format!("{t:?}: internal topics cannot be consumed")));
            }
        }
        if self.session_timeout_ms <= 0 || self.auto_commit_interval_ms <= 0 {
            return Err(Error::invalid("session timeout and auto-commit interval must be positive"));
        }
        Ok(())
    }

    fn settings(&self) -> MemberSettings {
        MemberSettings {
            topics: self.topics.clone(),
            reset: self.auto_offset_reset,
            auto_commit: self.auto_commit,
            auto_commit_interval_ms: self.auto_commit_interval_ms,
            session_timeout_ms: self.session_timeout_ms,
            assignor: self.assignor,
        }
    }
}

/// A member of a consumer group. Safe to share between threads; dropping it
/// closes it.
#[derive(Debug)]
pub struct Consumer {
    pond: Arc<Pond>,
    group: String,
    settings: MemberSettings,
    /// The member id in the group; `None` once closed. A member removed
    /// for a session timeout rejoins (with a new id) on its next poll.
    member: Mutex<Option<u64>>,
}

impl Pond {
    /// Creates a consumer and joins its group (a rebalance).
    pub fn consumer(self: &Arc<Self>, config: ConsumerConfig) -> Result<Consumer> {
        config.validate()?;
        let settings = config.settings();
        let env = self.env();
        let id = self
            .with_state(|state| group::join(&mut state.group_ctx(), &env, &config.group, settings.clone()))?;
        Ok(Consumer { pond: self.clone(), group: config.group, settings, member: Mutex::new(Some(id)) })
    }
}

impl Consumer {
    pub fn group(&self) -> &str {
        &self.group
    }

    fn member(&self) -> Result<u64> {
        self.member.lock().unwrap_or_else(PoisonError::into_inner).ok_or(Error::HandleClosed("consumer"))
    }

    /// Runs `f` with the current member id under the pond's lock.
    fn with_member<T>(&self, f: impl FnOnce(&mut GroupCtx<'_>, u64) -> Result<T>) -> Result<T> {
        let id = self.member()?;
        self.pond.with_state(|state| f(&mut state.group_ctx(), id))
    }

    /// Up to `max_records` records from the assigned partitions, without
    /// waiting. Keeps the member alive in its group.
    pub fn poll(&self, max_records: usize) -> Result<Vec<Record>> {
        let mut guard = self.member.lock().unwrap_or_else(PoisonError::into_inner);
        let id = guard.ok_or(Error::HandleClosed("consumer"))?;
        let env = self.pond.env();
        let (id, records) = self.pond.with_state(|state| {
            let id = group::heartbeat(&mut state.group_ctx(), &env, &self.group, id, &self.settings)?;
            Ok((id, group::poll(&mut state.group_ctx(), &env, &self.group, id, max_records)?))
        })?;
        *guard = Some(id);
        Ok(records)
    }

    /// Polls, waiting up to `timeout` for records to arrive (from this or
    /// another thread). Blocks the calling thread; not on wasm32.
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    pub fn poll_wait(&self, max_records: usize, timeout: std::time::Duration) -> Result<Vec<Record>> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let seen = self.pond.append_count();
            let records = self.poll(max_records)?;
            let now = std::time::Instant::now();
            if !records.is_empty() || now >= deadline {
                return Ok(records);
            }
            self.pond.wait_for_append(seen, (deadline - now).min(self.heartbeat_interval()));
        }
    }

    /// The next record, one at a time, for iteration in a binding (`for
    /// record in consumer`), without waiting. Records are fetched in
    /// batches, but positions (and so commits, auto-commits and hand-overs
    /// in a rebalance) count only the records handed out: stopping
    /// mid-batch loses nothing.
    pub fn next_record(&self) -> Result<Option<Record>> {
        let mut guard = self.member.lock().unwrap_or_else(PoisonError::into_inner);
        let id = guard.ok_or(Error::HandleClosed("consumer"))?;
        let env = self.pond.env();
        if let Some(record) = self.take_buffered(&env, id)? {
            return Ok(Some(record));
        }
        let (id, record) = self.pond.with_state(|state| {
            let id = group::heartbeat(&mut state.group_ctx(), &env, &self.group, id, &self.settings)?;
            Ok((id, group::next_record(&mut state.group_ctx(), &env, &self.group, id)?))
        })?;
        *guard = Some(id);
        Ok(record)
    }

    /// [`Consumer::next_record`]'s fast path alone: the next record this
    /// member has already fetched, while nothing else is due (a heartbeat,
    /// a rebalance check); otherwise `None`, and `next_record` must run.
    /// It reads and writes no storage, so a binding may call it where the
    /// pond cannot write (a browser tab between write transactions).
    pub fn next_buffered(&self) -> Result<Option<Record>> {
        let id = self.member()?;
        self.take_buffered(&self.pond.env(), id)
    }

    /// The fast path of iteration: touches only this handle's members, no
    /// lock and no storage.
    fn take_buffered(&self, env: &Env<'_>, id: u64) -> Result<Option<Record>> {
        self.pond.with_memory(|state| Ok(group::take_buffered(&mut state.group_ctx(), env, &self.group, id)))
    }

    /// [`Consumer::next_record`], waiting up to `timeout` for a record.
    /// Blocks the calling thread; not on wasm32.
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    pub fn next_record_wait(&self, timeout: std::time::Duration) -> Result<Option<Record>> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let seen = self.pond.append_count();
            let record = self.next_record()?;
            let now = std::time::Instant::now();
            if record.is_some() || now >= deadline {
                return Ok(record);
            }
            self.pond.wait_for_append(seen, (deadline - now).min(self.heartbeat_interval()));
        }
    }

    /// How often a waiting consumer polls at least, to stay in its group:
    /// a third of its session timeout (as Kafka's heartbeat default).
    pub fn heartbeat_interval_ms(&self) -> i64 {
        (self.settings.session_timeout_ms / 3).max(1)
    }

    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    fn heartbeat_interval(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.heartbeat_interval_ms() as u64)
    }

    /// Commits the current position of every assigned partition.
    pub fn commit(&self) -> Result<()> {
        let env = self.pond.env();
        self.with_member(|state, id| group::commit_positions(state, &env, &self.group, id))
    }

    /// Commits the given next-offsets-to-read; every partition must be
    /// assigned to this consumer, or nothing is committed (`CommitFailed`).
    pub fn commit_offsets(&self, offsets: &[(&str, u32, u64)]) -> Result<()> {
        let entries: Vec<(TopicPartition, u64)> =
            offsets.iter().map(|(t, p, o)| ((t.to_string(), *p), *o)).collect();
        let env = self.pond.env();
        self.with_member(|state, id| group::commit_offsets(state, &env, &self.group, id, &entries))
    }

    /// The group's committed offset for a partition (any partition).
    pub fn committed(&self, topic: &str, partition: u32) -> Result<Option<u64>> {
        self.with_member(|state, _| Ok(group::committed(state, &self.group, topic, partition)))
    }

    /// The next offset this consumer reads from an assigned partition.
    pub fn position(&self, topic: &str, partition: u32) -> Result<u64> {
        let tp = (topic.to_string(), partition);
        self.with_member(|state, id| group::position(state, &self.group, id, &tp))
    }

    /// Moves an assigned partition's position. An offset outside the log
    /// is reset by `auto_offset_reset` on the next poll.
    pub fn seek(&self, topic: &str, partition: u32, offset: u64) -> Result<()> {
        self.seek_to(Some(&[(topic.to_string(), partition)]), SeekTo::Offset(offset))
    }

    pub fn seek_to_beginning(&self) -> Result<()> {
        self.seek_to(None, SeekTo::Beginning)
    }

    pub fn seek_to_end(&self) -> Result<()> {
        self.seek_to(None, SeekTo::End)
    }

    /// Every assigned partition to its first record with timestamp >= `timestamp_ms`
    /// (or its end when there is none).
    pub fn seek_to_time(&self, timestamp_ms: i64) -> Result<()> {
        self.seek_to(None, SeekTo::Time(timestamp_ms))
    }

    fn seek_to(&self, parts: Option<&[TopicPartition]>, to: SeekTo) -> Result<()> {
        let env = self.pond.env();
        self.with_member(|state, id| group::seek(state, &env, &self.group, id, parts, to))
    }

    /// Moves past damaged batches: every assigned partition whose position
    /// stands at a batch that fails its CRC (a `Corruption` error from
    /// `poll`) moves to the next intact batch. Returns the skipped ranges
    /// as (topic, partition, from, to), `to` exclusive; the records in them
    /// are not delivered. Commit afterwards to make the skip durable.
    pub fn skip_damaged(&self) -> Result<Vec<(String, u32, u64, u64)>> {
        self.with_member(|state, id| group::skip_damaged(state, &self.group, id))
    }

    /// The partitions assigned to this consumer, sorted.
    pub fn assignment(&self) -> Result<Vec<TopicPartition>> {
        self.with_member(|state, id| Ok(group::assignment(state, &self.group, id)))
    }

    /// End offset minus position, per assigned partition.
    pub fn lag(&self) -> Result<Vec<(TopicPartition, u64)>> {
        self.with_member(|state, id| group::lag(state, &self.group, id))
    }

    /// This consumer's member id in its group: it changes when the member
    /// was removed (session timeout) and rejoined.
    pub fn member_id(&self) -> Result<u64> {
        self.member()
    }

    /// The group's generation: it grows with every rebalance.
    pub fn generation(&self) -> Result<u64> {
        self.with_member(|state, _| Ok(group::generation(state, &self.group)))
    }

    /// Leaves the group (committing positions first with auto-commit).
    /// Closing twice is harmless.
    pub fn close(&self) -> Result<()> {
        let Some(id) = self.member.lock().unwrap_or_else(PoisonError::into_inner).take() else {
            return Ok(());
        };
        let env = self.pond.env();
        let left =
            match self.pond.with_state(|state| group::leave(&mut state.group_ctx(), &env, &self.group, id)) {
                Err(Error::Closed) => Ok(()), // the pond went first: nothing to leave
                other => other,
            };
        self.pond.notify_append(); // a thread waiting in poll_wait sees the close at once
        left
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        let _ = self.close();
    }
}
