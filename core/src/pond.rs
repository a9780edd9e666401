//! The pond: one broker over one storage. Every public operation takes the
//! pond's lock once; the pond is `Send + Sync` and safe to share.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use crate::batch::Origin;
use crate::chunk_cache::ChunkCache;
use crate::clock::Clock;
use crate::fork::Birth;
use crate::group::GroupState;
use crate::partition::{AppendContext, Partition, ReadLimits};
use crate::partitioner::partition_for_key;
use crate::queue::{self, QueueState};
use crate::record::{NewRecord, Record, RecordMetadata};
use crate::storage::{read_all, replace_file, FileMode, MemoryStorage, Storage};
use crate::topic::{is_internal, validate_name, Cleanup, TopicConfig, TopicMeta};
use crate::{Error, Result};

const POND_META: &str = "pond.meta";
const POND_MAGIC: &[u8; 4] = b"LPND";
/// The on-disk format this build writes and reads (docs/FORMAT.md).
pub const FORMAT_VERSION: u32 = 1;
const TOPICS_DIR: &str = "topics";
/// A topic exists while its directory holds this file.
const TOPIC_META: &str = "topic.meta";
/// A delete renames the metadata to this first: a crash part-way leaves a
/// topic the next open finishes deleting (never a topic without metadata).
const TOPIC_DELETED: &str = "topic.deleted";

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
}

impl PondOptions {
    pub fn with_clock(clock: Arc<dyn Clock>) -> PondOptions {
        PondOptions {
            durability: Durability::Os,
            clock,
            file_mode: FileMode::Private,
            max_open_files: crate::storage::DEFAULT_MAX_OPEN_FILES,
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

/// A topic, as `describe` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    pub name: String,
    pub partitions: Vec<PartitionInfo>,
    pub config: TopicConfig,
}

pub(crate) struct Topic {
    pub(crate) meta: TopicMeta,
    pub(crate) name: Arc<str>,
    pub(crate) partitions: Vec<Partition>,
    /// Next partition for records with neither key nor partition.
    spread: u32,
}

/// What operations under the pond's lock need from the pond itself.
pub(crate) struct Env<'a> {
    pub storage: &'a dyn Storage,
    pub chunks: &'a ChunkCache,
    pub now_ms: i64,
    pub fsync: bool,
}

impl Topic {
    /// Appends records (see [`Pond::send_many`]); the caller notifies waiters.
    pub(crate) fn append(&mut self, env: &Env<'_>, records: &[NewRecord<'_>]) -> Result<Vec<RecordMetadata>> {
        let config = &self.meta.config;
        let n = config.partitions;
        let spread = self.spread % n;
        let mut used_spread = false;
        let mut targets = Vec::with_capacity(records.len());
        for r in records {
            check_record(r, config)?;
            let p = match (r.partition, r.key) {
                (Some(p), _) if p < n => p,
                (Some(p), _) => return Err(self.no_partition(p)),
                (None, Some(key)) => partition_for_key(key, n),
                (None, None) => {
                    used_spread = true;
                    spread
                }
            };
            targets.push(p);
        }
        // A batch that cannot fit one frame is refused before encoding it
        // (the stored size of its records is a lower bound of the frame's).
        let limit = crate::batch::MAX_FRAME_LEN;
        if records.iter().map(NewRecord::size).sum::<usize>() > limit {
            let mut per_partition = BTreeMap::<u32, usize>::new();
            for (r, p) in records.iter().zip(&targets) {
                *per_partition.entry(*p).or_default() += r.size();
            }
            if let Some(&size) = per_partition.values().find(|s| **s > limit) {
                return Err(Error::BatchTooLarge { size, limit });
            }
        }
        if used_spread {
            self.spread = self.spread.wrapping_add(1);
        }
        let now = env.now_ms;
        let ctx = AppendContext { storage: env.storage, config, fsync: env.fsync, now_ms: now };
        let stamped = |r: &NewRecord<'_>| r.timestamp_ms.unwrap_or(now);
        let mut metas = Vec::with_capacity(records.len());
        if targets.iter().all(|p| *p == targets[0]) {
            // One partition (the common case): no regrouping.
            let p = targets[0];
            let entries: Vec<(&NewRecord<'_>, i64)> = records.iter().map(|r| (r, stamped(r))).collect();
            let partition = &mut self.partitions[p as usize];
            let base = partition.append(&ctx, &entries)?;
            for (k, (_, ts)) in entries.iter().enumerate() {
                metas.push(RecordMetadata {
                    topic: self.name.clone(),
                    partition: p,
                    offset: base + k as u64,
                    timestamp_ms: *ts,
                });
            }
            after_append(partition, env, config)?;
            return Ok(metas);
        }
        let mut slots = vec![None; records.len()];
        let mut order: Vec<u32> = targets.clone();
        order.sort_unstable();
        order.dedup();
        for p in order {
            let batch: Vec<(usize, (&NewRecord<'_>, i64))> = records
                .iter()
                .enumerate()
                .filter(|(i, _)| targets[*i] == p)
                .map(|(i, r)| (i, (r, stamped(r))))
                .collect();
            let entries: Vec<(&NewRecord<'_>, i64)> = batch.iter().map(|(_, e)| *e).collect();
            let partition = &mut self.partitions[p as usize];
            let base = partition.append(&ctx, &entries)?;
            for (k, (i, (_, ts))) in batch.iter().enumerate() {
                slots[*i] = Some(RecordMetadata {
                    topic: self.name.clone(),
                    partition: p,
                    offset: base + k as u64,
                    timestamp_ms: *ts,
                });
            }
            after_append(partition, env, config)?;
        }
        metas.extend(slots.into_iter().flatten());
        Ok(metas)
    }

    fn dir(name: &str) -> String {
        format!("{TOPICS_DIR}/{name}")
    }

    pub(crate) fn partition(&self, partition: u32) -> Result<&Partition> {
        self.partitions.get(partition as usize).ok_or_else(|| self.no_partition(partition))
    }

    pub(crate) fn partition_mut(&mut self, partition: u32) -> Result<&mut Partition> {
        let err = self.no_partition(partition);
        self.partitions.get_mut(partition as usize).ok_or(err)
    }

    fn no_partition(&self, partition: u32) -> Error {
        Error::InvalidArgument(format!(
            "topic {} has no partition {partition} (it has {})",
            self.name,
            self.partitions.len()
        ))
    }
}

pub(crate) struct State {
    pub(crate) topics: BTreeMap<String, Topic>,
    pub(crate) groups: GroupState,
    pub(crate) queues: QueueState,
}

impl State {
    /// Creates a topic (names already checked by the caller).
    pub(crate) fn create_topic(&mut self, env: &Env<'_>, name: &str, config: TopicConfig) -> Result<()> {
        config.validate()?;
        if self.topics.contains_key(name) {
            return Err(Error::TopicExists(name.to_string()));
        }
        let dir = Topic::dir(name);
        // Leftovers of a delete that failed part-way must not join the new topic.
        for stale in env.storage.list(&format!("{dir}/"))? {
            env.storage.remove(&stale)?;
        }
        let meta = TopicMeta { name: name.to_string(), config, created_ms: env.now_ms };
        // The metadata file is written first: its presence means the topic
        // exists, and a partition whose files are missing opens empty.
        replace_file(env.storage, &format!("{dir}/{TOPIC_META}"), &meta.encode()?, env.fsync)?;
        if env.fsync {
            env.storage.sync_names(TOPICS_DIR)?;
        }
        let topic_name: Arc<str> = Arc::from(name);
        let mut partitions = Vec::with_capacity(meta.config.partitions as usize);
        for p in 0..meta.config.partitions {
            let origin = Origin { topic: topic_name.clone(), partition: p };
            partitions.push(Partition::create(env.storage, format!("{dir}/{p}"), origin, env.fsync)?);
        }
        self.topics.insert(name.to_string(), Topic { meta, name: topic_name, partitions, spread: 0 });
        Ok(())
    }
}

/// A listener called after every append (outside the pond's lock).
pub type AppendListener = Arc<dyn Fn() + Send + Sync>;

/// An embeddable event broker over one storage.
pub struct Pond {
    storage: Arc<dyn Storage>,
    clock: Arc<dyn Clock>,
    durability: Durability,
    /// `None` once closed.
    state: Mutex<Option<State>>,
    /// Bumped after every append and on close; bindings wait on its change.
    appends: Mutex<u64>,
    appended: Condvar,
    /// Threads in `wait_for_append`: appends skip the wake-up when none.
    waiters: AtomicUsize,
    /// Listeners registered: appends skip the list when none.
    listener_count: AtomicUsize,
    listeners: Mutex<Vec<(u64, AppendListener)>>,
    next_listener: AtomicU64,
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

impl Pond {
    /// Opens (creating if needed) a pond in a directory, with the system clock.
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    pub fn open(path: impl AsRef<std::path::Path>) -> Result<Pond> {
        Pond::open_with(path, PondOptions::default())
    }

    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    pub fn open_with(path: impl AsRef<std::path::Path>, options: PondOptions) -> Result<Pond> {
        let files = crate::storage::FileStorage::open_with_mode(path, options.file_mode)?;
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
        check_format(&*storage, durable)?;
        let topics = load_topics(&*storage, durable)?;
        let chunks = ChunkCache::default();
        let groups = GroupState::load(&topics, &chunks)?;
        let queues = QueueState::load(&*storage, &topics, &chunks, durable)?;
        let pond = Pond {
            storage,
            clock: options.clock,
            durability: options.durability,
            state: Mutex::new(Some(State { topics, groups, queues })),
            appends: Mutex::new(0),
            appended: Condvar::new(),
            waiters: AtomicUsize::new(0),
            listener_count: AtomicUsize::new(0),
            listeners: Mutex::new(Vec::new()),
            next_listener: AtomicU64::new(0),
            chunks,
            birth: Birth::now(),
        };
        // Committed offsets of topics that no longer exist (a delete cut
        // short by a crash) are forgotten, so a new topic of that name
        // starts afresh.
        let env = pond.env();
        pond.with_state(|state| crate::group::forget_missing_topics(state, &env))?;
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
        self.birth.check()?;
        let mut guard = lock(&self.state);
        let state = guard.as_mut().ok_or(Error::Closed)?;
        f(state)
    }

    fn with_topic<T>(&self, name: &str, f: impl FnOnce(&mut Topic) -> Result<T>) -> Result<T> {
        self.with_state(|state| {
            let topic = state.topics.get_mut(name).ok_or_else(|| Error::TopicNotFound(name.to_string()))?;
            f(topic)
        })
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
        self.with_state(|state| state.create_topic(&env, name, config))
    }

    /// User topics, sorted (internal `__` topics are not listed).
    pub fn topics(&self) -> Result<Vec<String>> {
        self.with_state(|state| Ok(state.topics.keys().filter(|n| !is_internal(n)).cloned().collect()))
    }

    pub fn has_topic(&self, name: &str) -> Result<bool> {
        self.with_state(|state| Ok(state.topics.contains_key(name)))
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
            crate::group::forget_topic(state, &env, name)?;
            queue::forget_topic(state, &env, name)?;
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
        let mut out = self.send_many(topic, std::slice::from_ref(&record))?;
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
        let env = self.env();
        let out = self.with_state(|state| {
            let t = state.topics.get(topic).ok_or_else(|| Error::TopicNotFound(topic.to_string()))?;
            queue::check_backpressure(state, topic, t.meta.config.max_backlog, records.len())?;
            let t = state.topics.get_mut(topic).ok_or_else(|| Error::TopicNotFound(topic.to_string()))?;
            t.append(&env, records)
        })?;
        self.notify_append();
        Ok(out)
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
        self.with_topic(topic, |t| {
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
                queue::free_settled(state, &env, &name)?;
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
            queue::sync_all(state)
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
        let Some(mut state) = lock(&self.state).take() else {
            return Ok(());
        };
        let env = self.env();
        // Snapshots make the next open quick; losing one only costs replay.
        let snapshots = queue::snapshot_all(&mut state, &env);
        let synced = if self.fsync() {
            state
                .topics
                .values()
                .flat_map(|t| &t.partitions)
                .try_for_each(Partition::sync)
                .and(queue::sync_all(&state))
        } else {
            Ok(())
        };
        drop(state);
        let released = self.storage.close();
        self.notify_append(); // wake waiters so they see the pond is closed
        snapshots.and(synced).and(released)
    }

    pub fn is_closed(&self) -> bool {
        lock(&self.state).is_none()
    }

    /// How many appends (and closes) have happened: a binding waiting for
    /// records can sleep until this changes.
    pub fn append_count(&self) -> u64 {
        *lock(&self.appends)
    }

    /// Blocks the calling thread until [`Pond::append_count`] differs from
    /// `seen` or `timeout` passes; returns the count. For bindings that
    /// wait for records on a thread of their own: the pond's operations
    /// themselves never wait. (Not on wasm32, which cannot block.)
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    pub fn wait_for_append(&self, seen: u64, timeout: std::time::Duration) -> u64 {
        let guard = lock(&self.appends);
        self.waiters.fetch_add(1, Ordering::SeqCst);
        let (guard, _) = self
            .appended
            .wait_timeout_while(guard, timeout, |count| *count == seen)
            .unwrap_or_else(PoisonError::into_inner);
        self.waiters.fetch_sub(1, Ordering::SeqCst);
        *guard
    }

    /// Registers a function called after every append and on close. Returns
    /// an id for [`Pond::remove_listener`].
    pub fn add_listener(&self, f: AppendListener) -> u64 {
        let id = self.next_listener.fetch_add(1, Ordering::Relaxed);
        let mut listeners = lock(&self.listeners);
        listeners.push((id, f));
        self.listener_count.store(listeners.len(), Ordering::SeqCst);
        id
    }

    pub fn remove_listener(&self, id: u64) {
        let mut listeners = lock(&self.listeners);
        listeners.retain(|(i, _)| *i != id);
        self.listener_count.store(listeners.len(), Ordering::SeqCst);
    }

    pub(crate) fn notify_append(&self) {
        // The counter is bumped under its lock, and a waiter registers under
        // the same lock before it sleeps: no wake-up can be lost.
        *lock(&self.appends) += 1;
        if self.waiters.load(Ordering::SeqCst) > 0 {
            self.appended.notify_all();
        }
        if self.listener_count.load(Ordering::SeqCst) == 0 {
            return;
        }
        let listeners: Vec<AppendListener> = lock(&self.listeners).iter().map(|(_, f)| f.clone()).collect();
        for f in listeners {
            f();
        }
    }
}

impl Drop for Pond {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

/// Retention and, when due, compaction after an append.
fn after_append(partition: &mut Partition, env: &Env<'_>, config: &TopicConfig) -> Result<()> {
    partition.enforce_retention(env.storage, config, env.now_ms)?;
    if config.cleanup == Cleanup::Compact && partition.wants_compaction() {
        partition.compact(env.storage, config, env.now_ms, env.fsync)?;
    }
    Ok(())
}

fn check_record(r: &NewRecord<'_>, config: &TopicConfig) -> Result<()> {
    let size = r.size();
    if size > config.max_record_bytes as usize {
        return Err(Error::RecordTooLarge { size, limit: config.max_record_bytes as usize });
    }
    if let Some(ts) = r.timestamp_ms {
        if ts < 0 {
            return Err(Error::invalid(format!("timestamp must be >= 0, got {ts}")));
        }
    }
    if config.cleanup == Cleanup::Compact && r.key.is_none() {
        return Err(Error::invalid("a compacted topic needs a key on every record"));
    }
    Ok(())
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

fn load_topics(storage: &dyn Storage, durable: bool) -> Result<BTreeMap<String, Topic>> {
    let prefix = format!("{TOPICS_DIR}/");
    // Per topic directory: its files other than the metadata.
    let mut dirs: BTreeMap<String, DirFiles> = BTreeMap::new();
    for name in storage.list(&prefix)? {
        let Some((topic, rest)) = name[prefix.len()..].split_once('/') else {
            continue;
        };
        let entry = dirs.entry(topic.to_string()).or_default();
        match rest {
            TOPIC_META => entry.meta = true,
            TOPIC_DELETED => entry.deleted = true,
            _ => entry.others.push(name.clone()),
        }
    }
    let mut topics = BTreeMap::new();
    for (name, files) in dirs {
        let dir = Topic::dir(&name);
        if files.deleted && !files.meta {
            // A delete interrupted after its atomic step: finish it.
            remove_all(storage, &dir, Some(&format!("{dir}/{TOPIC_DELETED}")))?;
            storage.remove(&format!("{dir}/{TOPIC_DELETED}"))?;
            continue;
        }
        if !files.meta {
            if holds_records(storage, &files.others)? {
                // Never delete data because its metadata is missing.
                return Err(Error::corrupt(format!(
                    "{dir}/{TOPIC_META} is missing but {dir} holds records; restore the file \
                     (or move the directory away to drop the topic)"
                )));
            }
            // Leftovers of an interrupted create (empty segments only).
            remove_all(storage, &dir, None)?;
            continue;
        }
        let meta_name = format!("{dir}/{TOPIC_META}");
        let meta = TopicMeta::decode(&read_all(&*storage.open(&meta_name, false)?)?)
            .map_err(|e| Error::corrupt(format!("{meta_name}: {e}")))?;
        if meta.name != name {
            return Err(Error::corrupt(format!("{meta_name} names topic {:?}", meta.name)));
        }
        let topic_name: Arc<str> = Arc::from(name.as_str());
        let mut partitions = Vec::with_capacity(meta.config.partitions as usize);
        for p in 0..meta.config.partitions {
            let origin = Origin { topic: topic_name.clone(), partition: p };
            partitions.push(Partition::open(storage, format!("{dir}/{p}"), origin, durable)?);
        }
        topics.insert(name, Topic { meta, name: topic_name, partitions, spread: 0 });
    }
    Ok(topics)
}

/// A topic directory's files, as open finds them.
#[derive(Default)]
struct DirFiles {
    meta: bool,
    deleted: bool,
    others: Vec<String>,
}

/// Whether any of these files holds a record (a segment longer than its
/// header): what an interrupted create leaves never does.
fn holds_records(storage: &dyn Storage, files: &[String]) -> Result<bool> {
    for name in files.iter().filter(|n| n.ends_with(".log")) {
        if storage.open(name, false)?.len()? > crate::segment::SEGMENT_HEADER_LEN {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Removes every file under `dir` but `keep`.
fn remove_all(storage: &dyn Storage, dir: &str, keep: Option<&str>) -> Result<()> {
    for f in storage.list(&format!("{dir}/"))? {
        if Some(f.as_str()) != keep {
            storage.remove(&f)?;
        }
    }
    Ok(())
}
