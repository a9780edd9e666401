//! The pond: one broker over one storage, the top layer. It holds the
//! state of the three layers below (topics, groups, queues) under one lock;
//! every public operation takes that lock once, so the pond is `Send +
//! Sync` and safe to share. Its handles (`Consumer`, `Queue`) and the rules
//! that see all three layers (`rules`) live beside it.

pub mod consumer;
pub mod queue;
mod rules;
mod signal;
mod sync;

pub use signal::AppendListener;
use signal::Signal;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::clock::Clock;
use crate::fork::Birth;
use crate::groups::engine::{self as groups, GroupCtx, GroupState};
use crate::log::chunk_cache::ChunkCache;
use crate::log::partition::{Partition, ReadLimits};
use crate::log::record::{NewRecord, Record, RecordMetadata};
use crate::log::topic::{is_internal, validate_name, Cleanup, TopicConfig};
use crate::log::topics::{
    create_topic, load_topics, remove_all, Env, Topic, Topics, TOPIC_DELETED, TOPIC_META,
};
use crate::queues::engine::{self as queues, QueueCtx, QueueState};
use crate::storage::{read_all, replace_file, FileMode, MemoryStorage, ReadOnlyView, Storage, Tracked};
use crate::{Error, Result};
use sync::{Counters, Shared};

const POND_META: &str = "pond.meta";
const POND_MAGIC: &[u8; 4] = b"LPND";
/// The on-disk format this build writes and reads (docs/FORMAT.md).
pub const FORMAT_VERSION: u32 = 1;

/// When an acknowledged append is durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Every append is handed to the OS before it returns: it survives a
    /// killed process, not a power loss.
    #[default]
    Os,
    /// Every append (one fsync per batch) is on stable storage before it
    /// returns: it survives a power loss.
    Fsync,
}

/// How to open a pond.
#[derive(Clone)]
pub struct PondOptions {
    pub durability: Durability,
    pub clock: Arc<dyn Clock>,
    /// Permissions of the files and directories a file pond creates.
    pub file_mode: FileMode,
    /// File handles a file pond keeps open at most, however many segment
    /// files it holds (least recently used ones are closed and reopened on
    /// use).
    pub max_open_files: usize,
    /// A handle that never writes: for reading beside writers, and on a
    /// read-only mount. Operations that would change the pond fail.
    pub read_only: bool,
}

impl PondOptions {
    pub fn with_clock(clock: Arc<dyn Clock>) -> PondOptions {
        PondOptions {
            durability: Durability::Os,
            clock,
            file_mode: FileMode::Private,
            max_open_files: crate::storage::DEFAULT_MAX_OPEN_FILES,
            read_only: false,
        }
    }
}

#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
impl Default for PondOptions {
    fn default() -> PondOptions {
        PondOptions::with_clock(Arc::new(crate::clock::SystemClock))
    }
}

/// A partition's state, as `describe` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionInfo {
    pub partition: u32,
    pub start_offset: u64,
    pub end_offset: u64,
    pub bytes: u64,
}

/// A damaged stretch of a partition, as [`Pond::verify`] finds it: from
/// `offset` to `resume` (the next intact batch; `None`: the rest of the
/// partition is unreadable), and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    pub topic: String,
    pub partition: u32,
    pub offset: u64,
    pub resume: Option<u64>,
    pub reason: String,
}

/// A topic, as `describe` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    pub name: String,
    pub partitions: Vec<PartitionInfo>,
    pub config: TopicConfig,
}

pub(crate) struct State {
    pub(crate) topics: Topics,
    pub(crate) groups: GroupState,
    pub(crate) queues: QueueState,
    /// What this handle last saw of a shared pond's counters (`sync`).
    pub(crate) seen: Option<Counters>,
}

impl State {
    /// The part of the state the group engine works on.
    pub(crate) fn group_ctx(&mut self) -> GroupCtx<'_> {
        GroupCtx { groups: &mut self.groups, topics: &mut self.topics }
    }

    /// The part of the state the queue engine works on.
    pub(crate) fn queue_ctx(&mut self) -> QueueCtx<'_> {
        QueueCtx { queues: &mut self.queues, topics: &mut self.topics }
    }
}

/// An embeddable event broker over one storage.
pub struct Pond {
    storage: Arc<dyn Storage>,
    /// Set when other handles may share the storage (`sync`).
    shared: Option<Shared>,
    /// Opened read-only: every operation that would write fails.
    read_only: bool,
    clock: Arc<dyn Clock>,
    durability: Durability,
    /// `None` once closed.
    state: Arc<Mutex<Option<State>>>,
    /// Bumped after every append and on close; bindings wait on its change.
    signal: Arc<Signal>,
    /// Whether a shared pond's storage watches for other handles' writes
    /// (started by the first wait; `None` until then). Browsers never wait.
    #[cfg_attr(all(target_arch = "wasm32", target_os = "unknown"), allow(dead_code))]
    watching: Mutex<Option<bool>>,
    chunks: ChunkCache,
    /// The process that opened the pond: a forked child may not use it.
    birth: Birth,
}

impl std::fmt::Debug for Pond {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pond").field("storage", &self.storage).field("durability", &self.durability).finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What a send under the lock returns: its records' metadata, or (for a
/// send prepared before the lock) where they went.
enum Sent {
    One(RecordMetadata),
    Metadata(Vec<RecordMetadata>),
    Placed(crate::log::topics::PlacedSend, Arc<str>),
}

impl Pond {
    /// Opens (creating if needed) a pond in a directory, with the system clock.
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    pub fn open(path: impl AsRef<std::path::Path>) -> Result<Pond> {
        Pond::open_with(path, PondOptions::default())
    }

    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    pub fn open_with(path: impl AsRef<std::path::Path>, options: PondOptions) -> Result<Pond> {
        let files = if options.read_only {
            crate::storage::FileStorage::open_read_only(path)?
        } else {
            crate::storage::FileStorage::open_with_mode(path, options.file_mode)?
        };
        let storage = crate::storage::BoundedHandles::new(Arc::new(files), options.max_open_files);
        Pond::with_storage(Arc::new(storage), options)
    }

    /// A pond in memory, with the system clock.
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    pub fn memory() -> Pond {
        Pond::memory_with(PondOptions::default())
    }

    pub fn memory_with(options: PondOptions) -> Pond {
        match Pond::with_storage(Arc::new(MemoryStorage::new()), options) {
            Ok(pond) => pond,
            // An empty memory storage has nothing that can fail to load.
            Err(e) => unreachable!("opening empty memory storage failed: {e}"),
        }
    }

    /// Opens a pond over any storage, loading its topics.
    pub fn with_storage(storage: Arc<dyn Storage>, options: PondOptions) -> Result<Pond> {
        let durable = options.durability == Durability::Fsync;
        let chunks = ChunkCache::default();
        let read_only = options.read_only;
        let storage: Arc<dyn Storage> =
            if read_only { Arc::new(ReadOnlyView::new(storage)) } else { storage };
        let (storage, shared) = if storage.is_shared() {
            #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
            sync::check_clocks(&*storage, options.clock.is_manual(), read_only)?;
            let tracked = Arc::new(Tracked::new(storage.clone()));
            let shared = Shared::new(tracked.clone(), &*storage, read_only)?;
            (tracked as Arc<dyn Storage>, Some(shared))
        } else {
            (storage, None)
        };
        let load = || {
            check_format(&*storage, durable)?;
            let topics = load_topics(&*storage, durable)?;
            let groups = GroupState::load(&topics, &chunks)?;
            let queues = QueueState::load(&*storage, &topics, &chunks, durable)?;
            Ok(State { topics, groups, queues, seen: None })
        };
        let state = match &shared {
            Some(shared) => shared.load(&*storage, load)?,
            None => load()?,
        };
        let pond = Pond {
            storage,
            shared,
            read_only,
            clock: options.clock,
            durability: options.durability,
            state: Arc::new(Mutex::new(Some(state))),
            signal: Arc::default(),
            watching: Mutex::new(None),
            chunks,
            birth: Birth::now(),
        };
        if let Some(shared) = &pond.shared {
            shared.attach(&pond.state);
        }
        // Committed offsets of topics that no longer exist (a delete cut
        // short by a crash) are forgotten, so a new topic of that name
        // starts afresh.
        if !read_only {
            let env = pond.env();
            pond.with_state(|state| groups::forget_missing_topics(&mut state.group_ctx(), &env))?;
        }
        Ok(pond)
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    pub fn durability(&self) -> Durability {
        self.durability
    }

    fn fsync(&self) -> bool {
        self.durability == Durability::Fsync
    }

    pub(crate) fn env(&self) -> Env<'_> {
        Env {
            storage: &*self.storage,
            chunks: &self.chunks,
            now_ms: self.clock.now_ms(),
            fsync: self.fsync(),
        }
    }

    pub(crate) fn with_state<T>(&self, f: impl FnOnce(&mut State) -> Result<T>) -> Result<T> {
        if self.read_only {
            return Err(read_only_refused());
        }
        self.with_state_locked(f)
    }

    /// Runs `f` on this handle's state caught up under the lock (shared
    /// for a read-only handle): for writes, and for reads that open files
    /// of their own (a writing handle may repair what it opens, which no
    /// other handle may be doing meanwhile).
    fn with_state_locked<T>(&self, f: impl FnOnce(&mut State) -> Result<T>) -> Result<T> {
        self.birth.check()?;
        let mut guard = lock(&self.state);
        let state = guard.as_mut().ok_or(Error::Closed)?;
        match &self.shared {
            Some(shared) => shared.run(state, &self.env(), f),
            None => f(state),
        }
    }

    /// [`Pond::with_state`] with a first step, `prepare`, that runs before
    /// the lock on what this handle knows (perhaps not the latest): its
    /// result goes to `f`, which checks it under the lock. Only where other
    /// handles may be waiting for the lock: elsewhere `f` gets `None`.
    pub(crate) fn with_state_prepared<P, T>(
        &self,
        env: &Env<'_>,
        prepare: impl FnOnce(&mut State) -> Option<P>,
        f: impl FnOnce(&mut State, Option<P>) -> Result<T>,
    ) -> Result<T> {
        self.birth.check()?;
        if self.read_only {
            return Err(read_only_refused());
        }
        let mut guard = lock(&self.state);
        let state = guard.as_mut().ok_or(Error::Closed)?;
        // Alone (or unshared), preparing apart gains nothing.
        let apart = self.shared.as_ref().is_some_and(|shared| !shared.is_sole());
        let prepared = if apart { prepare(state) } else { None };
        match &self.shared {
            Some(shared) => shared.run(state, env, |state| f(state, prepared)),
            None => f(state, prepared),
        }
    }

    /// [`Pond::with_state`] for an operation that writes nothing: when no
    /// other handle changed anything since this one last caught up, it
    /// runs without the lock. Should files change under it all the same
    /// (a segment removed or rewritten meanwhile), it runs again, caught
    /// up under the lock.
    pub(crate) fn with_state_read<T>(&self, mut f: impl FnMut(&mut State) -> Result<T>) -> Result<T> {
        if let Some(shared) = &self.shared {
            self.birth.check()?;
            let mut guard = lock(&self.state);
            let state = guard.as_mut().ok_or(Error::Closed)?;
            if shared.unchanged(state)? {
                match f(state) {
                    Err(Error::Io(_) | Error::Corruption(_)) => {}
                    done => return done,
                }
            }
            return shared.run(state, &self.env(), f);
        }
        self.with_state(f)
    }

    /// Runs `f` on this handle's memory alone: no lock, no catch-up. For
    /// what only this handle changes (its members' buffered records, its
    /// own leases' deadlines): a partition stays with its member until
    /// this handle lets it go, under the lock.
    pub(crate) fn with_memory<T>(&self, f: impl FnOnce(&mut State) -> Result<T>) -> Result<T> {
        self.birth.check()?;
        let mut guard = lock(&self.state);
        f(guard.as_mut().ok_or(Error::Closed)?)
    }

    /// Runs a read-only `f` on a topic (see [`Pond::with_state_read`]).
    fn with_topic<T>(&self, name: &str, mut f: impl FnMut(&mut Topic) -> Result<T>) -> Result<T> {
        self.with_state_read(|state| {
            let topic = state.topics.get_mut(name).ok_or_else(|| Error::TopicNotFound(name.to_string()))?;
            f(topic)
        })
    }

    /// Takes in now what other handles changed (every operation does so
    /// first on its own). For a storage that takes writes only at certain
    /// moments (a shared browser mirror, inside a write transaction): the
    /// catch-up, and the repairs it may write, happen then, and the reads
    /// that follow find nothing to catch up on.
    pub fn catch_up(&self) -> Result<()> {
        self.with_state_locked(|_| Ok(()))
    }

    /// Creates a topic. Names beginning `__` are reserved for the pond.
    pub fn create_topic(&self, name: &str, config: TopicConfig) -> Result<()> {
        validate_name(name)?;
        if is_internal(name) {
            return Err(Error::InvalidName(format!("{name:?}: names beginning '__' are internal")));
        }
        self.create_topic_unchecked(name, config)
    }

    /// Creates a topic without refusing internal names (for the pond's own topics).
    pub(crate) fn create_topic_unchecked(&self, name: &str, config: TopicConfig) -> Result<()> {
        let env = self.env();
        self.with_state(|state| create_topic(&mut state.topics, &env, name, config))
    }

    /// User topics, sorted (internal `__` topics are not listed).
    pub fn topics(&self) -> Result<Vec<String>> {
        self.with_state_read(|state| Ok(state.topics.keys().filter(|n| !is_internal(n)).cloned().collect()))
    }

    pub fn has_topic(&self, name: &str) -> Result<bool> {
        self.with_state_read(|state| Ok(state.topics.contains_key(name)))
    }

    pub fn describe(&self, name: &str) -> Result<TopicInfo> {
        self.with_topic(name, |topic| {
            Ok(TopicInfo {
                name: name.to_string(),
                config: topic.meta.config.clone(),
                partitions: topic
                    .partitions
                    .iter()
                    .enumerate()
                    .map(|(i, p)| PartitionInfo {
                        partition: i as u32,
                        start_offset: p.start_offset(),
                        end_offset: p.end_offset(),
                        bytes: p.bytes(),
                    })
                    .collect(),
            })
        })
    }

    /// Deletes a topic and all its records.
    pub fn delete_topic(&self, name: &str) -> Result<()> {
        validate_name(name)?;
        if is_internal(name) {
            return Err(Error::InvalidName(format!("{name:?}: internal topics cannot be deleted")));
        }
        let env = self.env();
        self.with_state(|state| {
            if !state.topics.contains_key(name) {
                return Err(Error::TopicNotFound(name.to_string()));
            }
            let dir = Topic::dir(name);
            let marker = format!("{dir}/{TOPIC_DELETED}");
            // The rename is the delete's atomic step: after it the topic is
            // gone, and a crash in what follows is finished by the next open
            // (which also drops subscriptions and committed offsets of
            // topics that do not exist).
            self.storage.rename(&format!("{dir}/{TOPIC_META}"), &marker)?;
            if self.fsync() {
                self.storage.sync_names(&dir)?;
            }
            let topic = state.topics.remove(name).ok_or_else(|| Error::TopicNotFound(name.to_string()))?;
            // Its committed offsets go too: a new topic of the same name starts afresh.
            groups::forget_topic(&mut state.group_ctx(), &env, name)?;
            queues::forget_topic(&mut state.queue_ctx(), &env, name)?;
            for p in &topic.partitions {
                p.remove_files(&*self.storage)?;
            }
            remove_all(&*self.storage, &dir, Some(&marker))?;
            self.storage.remove(&marker)?;
            Ok(())
        })
    }

    /// Appends one record.
    pub fn send(&self, topic: &str, record: NewRecord<'_>) -> Result<RecordMetadata> {
        let records = std::slice::from_ref(&record);
        let (sent, now_ms) = self.send_records(topic, records)?;
        let mut out = match sent {
            Sent::One(md) => return Ok(md),
            Sent::Metadata(metas) => metas,
            Sent::Placed(placed, name) => placed.metadata(&name, records, now_ms),
        };
        out.pop().ok_or_else(|| Error::invalid("no record was appended"))
    }

    /// Appends records: those bound for one partition go in one atomic
    /// batch, in order. Every record is checked before anything is written.
    /// Records with neither key nor partition all go to one partition per
    /// call, moving round the partitions from call to call.
    pub fn send_many(&self, topic: &str, records: &[NewRecord<'_>]) -> Result<Vec<RecordMetadata>> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let (sent, now_ms) = self.send_records(topic, records)?;
        Ok(match sent {
            Sent::One(md) => vec![md],
            Sent::Metadata(metas) => metas,
            // Built after the lock, like the frames before it.
            Sent::Placed(placed, name) => placed.metadata(&name, records, now_ms),
        })
    }

    /// Appends `records` (not empty) and notifies waiters; returns what was
    /// sent and the time it was stamped.
    fn send_records(&self, topic: &str, records: &[NewRecord<'_>]) -> Result<(Sent, i64)> {
        let env = self.env();
        // Encoded before the lock where this handle knows the topic (other
        // processes append meanwhile); anything else is settled under it.
        let prepare =
            |state: &mut State| state.topics.get_mut(topic).and_then(|t| t.prepare(&env, records).ok());
        let out = self.with_state_prepared(&env, prepare, |state, prepared| {
            let t = state.topics.get(topic).ok_or_else(|| Error::TopicNotFound(topic.to_string()))?;
            rules::check_backpressure(state, topic, t.meta.config.max_backlog, records.len())?;
            let t = state.topics.get_mut(topic).ok_or_else(|| Error::TopicNotFound(topic.to_string()))?;
            match prepared {
                Some(prepared) if t.fits(&prepared) => {
                    Ok(Sent::Placed(t.commit(&env, prepared)?, t.name.clone()))
                }
                // One record: no list of metadata to allocate.
                _ => match records {
                    [record] => t.append_one(&env, record).map(Sent::One),
                    _ => t.append(&env, records).map(Sent::Metadata),
                },
            }
        })?;
        self.notify_append();
        Ok((out, env.now_ms))
    }

    /// [`Pond::send_many`], waiting up to `timeout` while it fails with
    /// `Backpressure` (an ack or a retention run may make room; every
    /// settle wakes it). Blocks the calling thread; not on wasm32.
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    pub fn send_many_wait(
        &self,
        topic: &str,
        records: &[NewRecord<'_>],
        timeout: std::time::Duration,
    ) -> Result<Vec<RecordMetadata>> {
        if timeout.is_zero() {
            return self.send_many(topic, records); // the common case: no clock, no counter
        }
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let seen = self.append_count();
            match self.send_many(topic, records) {
                Err(Error::Backpressure(why)) => {
                    let now = std::time::Instant::now();
                    if now >= deadline {
                        return Err(Error::Backpressure(why));
                    }
                    self.wait_for_append(seen, deadline - now);
                }
                other => return other,
            }
        }
    }

    /// Reads up to `limits` records of one partition from `offset`.
    pub fn read(&self, topic: &str, partition: u32, offset: u64, limits: ReadLimits) -> Result<Vec<Record>> {
        self.with_topic(topic, |t| {
            let mut out = Vec::with_capacity(limits.max_records.min(4096));
            t.partition(partition)?.read(offset, limits, &self.chunks, &mut out)?;
            Ok(out)
        })
    }

    /// Every consumer group the pond knows (with commits, members or a
    /// state log), sorted. Joins nothing.
    pub fn groups(&self) -> Result<Vec<String>> {
        self.with_state_locked(|state| crate::groups::describe::group_names(&state.groups, &*self.storage))
    }

    /// One group's generation, members and their partitions, and per
    /// partition its committed offset, end and lag — read from the pond
    /// without joining the group (nothing rebalances).
    pub fn describe_group(&self, group: &str) -> Result<crate::groups::describe::GroupInfo> {
        self.with_state_locked(|state| {
            crate::groups::describe::describe(
                &state.groups,
                &state.topics,
                &*self.storage,
                &self.chunks,
                group,
            )
        })
    }

    /// Reads every record of every topic (the pond's internal ones too),
    /// checking every batch's CRC, and returns the damaged stretches
    /// (none: all intact). Changes nothing, and reads in steps of its own,
    /// so writers beside it wait for no more than one step. `progress`
    /// gets the records checked so far and the total.
    pub fn verify(&self, progress: &mut dyn FnMut(u64, u64)) -> Result<Vec<Damage>> {
        let partitions: Vec<(String, u32, u64, u64)> = self.with_state_read(|state| {
            Ok(state
                .topics
                .iter()
                .flat_map(|(name, t)| {
                    t.partitions.iter().enumerate().map(move |(p, part)| {
                        (name.clone(), p as u32, part.start_offset(), part.end_offset())
                    })
                })
                .collect())
        })?;
        let total = partitions.iter().map(|(_, _, start, end)| end - start).sum();
        let mut checked = 0;
        let mut found = Vec::new();
        let limits = ReadLimits { max_records: 10_000, max_bytes: 8 << 20 };
        for (topic, partition, start, end) in partitions {
            let mut at = start;
            while at < end {
                match self.read(&topic, partition, at, limits) {
                    Ok(records) => {
                        let Some(last) = records.last() else { break };
                        checked += last.offset + 1 - at;
                        at = last.offset + 1;
                    }
                    Err(Error::Corruption(reason)) => {
                        let resume =
                            self.with_topic(&topic, |t| t.partition(partition)?.resume_after_damage(at))?;
                        found.push(Damage { topic: topic.clone(), partition, offset: at, resume, reason });
                        let next = resume.unwrap_or(end).max(at + 1);
                        checked += next.min(end) - at;
                        at = next;
                    }
                    Err(e) => return Err(e),
                }
                progress(checked, total);
            }
        }
        Ok(found)
    }

    /// The first offset whose record has a timestamp >= `timestamp_ms`, or
    /// `None` when every record is older.
    pub fn offset_for_time(&self, topic: &str, partition: u32, timestamp_ms: i64) -> Result<Option<u64>> {
        self.with_topic(topic, |t| t.partition(partition)?.offset_for_time(timestamp_ms, &self.chunks))
    }

    /// (start offset, end offset) of a partition.
    pub fn offsets(&self, topic: &str, partition: u32) -> Result<(u64, u64)> {
        self.with_topic(topic, |t| {
            let p = t.partition(partition)?;
            Ok((p.start_offset(), p.end_offset()))
        })
    }

    /// Makes every offset below `before_offset` unreadable; frees whole segments.
    pub fn delete_records(&self, topic: &str, partition: u32, before_offset: u64) -> Result<()> {
        let durable = self.fsync();
        self.with_state(|state| {
            let t = state.topics.get_mut(topic).ok_or_else(|| Error::TopicNotFound(topic.to_string()))?;
            t.partition_mut(partition)?.delete_records(&*self.storage, before_offset, durable)
        })
    }

    /// Runs time-based retention and compaction on every topic now. Appends
    /// run them as they go; call this when time passes without appends.
    pub fn maintain(&self) -> Result<()> {
        let env = self.env();
        self.with_state(|state| {
            for topic in state.topics.values_mut() {
                let config = &topic.meta.config;
                for p in &mut topic.partitions {
                    p.enforce_retention(env.storage, config, env.now_ms)?;
                    if config.cleanup == Cleanup::Compact {
                        p.compact(env.storage, config, env.now_ms, env.fsync)?;
                    }
                }
            }
            let names: Vec<String> = state.topics.keys().cloned().collect();
            for name in names {
                rules::free_settled(state, &env, &name)?;
            }
            Ok(())
        })
    }

    /// Makes every append so far durable (fsync), whatever the durability mode.
    pub fn flush(&self) -> Result<()> {
        self.with_state(|state| {
            for topic in state.topics.values() {
                for p in &topic.partitions {
                    p.sync()?;
                }
            }
            queues::sync_all(&state.queues)
        })
    }

    /// Closes the pond and releases its directory lock. Later calls fail
    /// with `Closed`; closing twice is harmless.
    pub fn close(&self) -> Result<()> {
        if let Err(forked) = self.birth.check_process() {
            // The parent owns the files: drop the state, write nothing.
            lock(&self.state).take();
            return Err(forked);
        }
        // Held to the end: a knock must not let another handle in while
        // this one still writes (see `sync::Shared::knock_handler`).
        let mut guard = lock(&self.state);
        let Some(mut state) = guard.take() else {
            return Ok(());
        };
        let env = self.env();
        let fsync = self.fsync();
        let read_only = self.read_only;
        let finish = |state: &mut State| {
            if read_only {
                return Ok(());
            }
            // Snapshots make the next open quick; losing one only costs replay.
            let snapshots = queues::snapshot_all(&mut state.queues, &env);
            let synced = if fsync {
                state
                    .topics
                    .values()
                    .flat_map(|t| &t.partitions)
                    .try_for_each(Partition::sync)
                    .and(queues::sync_all(&state.queues))
            } else {
                Ok(())
            };
            snapshots.and(synced)
        };
        let finished = match &self.shared {
            Some(shared) => shared.run(&mut state, &env, finish),
            None => finish(&mut state),
        };
        drop(state);
        let released = self.storage.close();
        drop(guard);
        self.notify_append(); // wake waiters so they see the pond is closed
        finished.and(released)
    }

    /// Whether this handle holds its pond alone at the moment (sole
    /// tenure, see `docs/SEMANTICS.md`): for tests and diagnostics.
    #[doc(hidden)]
    pub fn is_sole(&self) -> bool {
        self.shared.as_ref().is_some_and(Shared::is_sole)
    }

    pub fn is_closed(&self) -> bool {
        lock(&self.state).is_none()
    }

    /// How many appends (and closes) have happened: a binding waiting for
    /// records can sleep until this changes.
    pub fn append_count(&self) -> u64 {
        self.signal.count()
    }

    /// Blocks the calling thread until [`Pond::append_count`] differs from
    /// `seen` or `timeout` passes; returns the count. For bindings that
    /// wait for records on a thread of their own: the pond's operations
    /// themselves never wait. (Not on wasm32, which cannot block.)
    ///
    /// In a shared pond, another handle's write counts as an append too:
    /// the storage's watcher (inotify) bumps the count when `LOCK.sync`
    /// changes, and the wait also looks at it every slice — every 100 ms
    /// behind a watcher, every 5 ms without one.
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    pub fn wait_for_append(&self, seen: u64, timeout: std::time::Duration) -> u64 {
        let Some(shared) = &self.shared else {
            return self.signal.wait(seen, timeout);
        };
        let slice = std::time::Duration::from_millis(if self.watch() { 100 } else { 5 });
        let before = shared.peek();
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let count = self.signal.wait(seen, left.min(slice));
            if count != seen {
                return count;
            }
            if shared.peek() != before {
                return self.signal.bump();
            }
            if left <= slice {
                return count;
            }
        }
    }

    /// Starts the storage's watcher for other handles' writes, once;
    /// whether one runs.
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    fn watch(&self) -> bool {
        let mut watching = lock(&self.watching);
        *watching.get_or_insert_with(|| {
            let signal = self.signal.clone();
            self.storage.watch(
                sync::SYNC_FILE,
                Arc::new(move || {
                    signal.bump();
                }),
            )
        })
    }

    /// Registers a function called after every append and on close. Returns
    /// an id for [`Pond::remove_listener`].
    pub fn add_listener(&self, f: AppendListener) -> u64 {
        self.signal.add_listener(f)
    }

    pub fn remove_listener(&self, id: u64) {
        self.signal.remove_listener(id)
    }

    pub(crate) fn notify_append(&self) {
        self.signal.bump();
    }
}

impl Drop for Pond {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

/// What an operation that would write fails with on a read-only handle.
fn read_only_refused() -> Error {
    Error::Io(std::io::Error::new(
        std::io::ErrorKind::PermissionDenied,
        "the pond is open read-only: this operation would change it",
    ))
}

/// Checks (or, for a new pond, writes) the pond's format marker.
fn check_format(storage: &dyn Storage, durable: bool) -> Result<()> {
    match storage.open(POND_META, false) {
        Ok(file) => {
            let data = read_all(&*file)?;
            let valid = data.len() == 12
                && &data[..4] == POND_MAGIC
                && crc32fast::hash(&data[..8]).to_le_bytes() == data[8..12];
            if !valid {
                return Err(Error::corrupt(format!("{POND_META} is not a logpond format marker")));
            }
            let version = u32::from_le_bytes([data[4], data[5], data[6], data[7]]);
            if version != FORMAT_VERSION {
                return Err(Error::corrupt(format!(
                    "pond format {version} is not supported (this build reads {FORMAT_VERSION})"
                )));
            }
            Ok(())
        }
        Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut data = Vec::with_capacity(12);
            data.extend_from_slice(POND_MAGIC);
            data.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
            data.extend_from_slice(&crc32fast::hash(&data).to_le_bytes());
            replace_file(storage, POND_META, &data, durable)
        }
        Err(e) => Err(e),
    }
}
