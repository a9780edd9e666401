//! The topics of a pond: each a set of partitions with its metadata file,
//! created, loaded and appended to here. Runs under the pond's lock (the
//! caller holds it); knows nothing of groups or queues.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::log::batch::{encode_unplaced, EntrySpec, Origin, Unplaced};
use crate::log::chunk_cache::ChunkCache;
use crate::log::partition::{AppendContext, Partition};
use crate::log::partitioner::partition_for_key;
use crate::log::record::{NewRecord, RecordMetadata};
use crate::log::topic::{Cleanup, TopicConfig, TopicMeta};
use crate::storage::{read_all, replace_file, Storage};
use crate::{Error, Result};

pub(crate) const TOPICS_DIR: &str = "topics";
/// A topic exists while its directory holds this file.
pub(crate) const TOPIC_META: &str = "topic.meta";
/// A delete renames the metadata to this first: a crash part-way leaves a
/// topic the next open finishes deleting (never a topic without metadata).
pub(crate) const TOPIC_DELETED: &str = "topic.deleted";

/// Every topic of a pond, by name.
pub(crate) type Topics = BTreeMap<String, Topic>;

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

/// A send encoded before the pond's lock is taken, so that other processes
/// append meanwhile: a frame per partition, placed (base offset and CRC)
/// under the lock by [`Topic::commit`]. Valid for the topic as it was when
/// prepared: a commit checks it still is.
pub(crate) struct PreparedSend {
    /// The topic as this handle knew it then: a topic is never changed in
    /// place (one deleted or created again, here or by another handle, is
    /// a new `Topic` with a new name), so holding its name keeps it told
    /// apart.
    topic: Arc<str>,
    targets: Targets,
    /// The first partition's frame, then the others' (a send to one
    /// partition, the common case, allocates no list).
    first: PreparedFrame,
    rest: Vec<PreparedFrame>,
}

/// Each record's partition, in the order sent.
#[derive(Clone)]
enum Targets {
    All(u32),
    Each(Vec<u32>),
}

impl Targets {
    fn of(&self, record: usize) -> u32 {
        match self {
            Targets::All(p) => *p,
            Targets::Each(each) => each[record],
        }
    }

    /// The partitions written, in ascending order.
    fn partitions(&self) -> std::vec::IntoIter<u32> {
        match self {
            Targets::All(p) => vec![*p],
            Targets::Each(each) => {
                let mut order = each.clone();
                order.sort_unstable();
                order.dedup();
                order
            }
        }
        .into_iter()
    }
}

struct PreparedFrame {
    partition: u32,
    frame: Vec<u8>,
    unplaced: Unplaced,
    first_ts: i64,
}

/// Where a committed send's records went: the base offset per partition.
pub(crate) struct PlacedSend {
    targets: Targets,
    /// The first partition's, then the others' (see [`PreparedSend`]).
    first: (u32, u64),
    rest: Vec<(u32, u64)>,
}

impl PlacedSend {
    /// The metadata of each record, in the order sent (`now_ms`: the time
    /// the send stamped records without one).
    pub(crate) fn metadata(
        &self,
        topic: &Arc<str>,
        records: &[NewRecord<'_>],
        now_ms: i64,
    ) -> Vec<RecordMetadata> {
        let meta = |r: &NewRecord<'_>, partition: u32, offset: u64| RecordMetadata {
            topic: topic.clone(),
            partition,
            offset,
            timestamp_ms: r.timestamp_ms.unwrap_or(now_ms),
        };
        match &self.targets {
            Targets::All(p) => {
                records.iter().zip(self.first.1..).map(|(r, offset)| meta(r, *p, offset)).collect()
            }
            Targets::Each(targets) => {
                let mut next = self.rest.clone();
                next.push(self.first);
                let mut out = Vec::with_capacity(records.len());
                for (r, p) in records.iter().zip(targets) {
                    let Some(slot) = next.iter_mut().find(|(q, _)| q == p) else { continue };
                    out.push(meta(r, *p, slot.1));
                    slot.1 += 1;
                }
                out
            }
        }
    }
}

impl Topic {
    /// Appends records (see [`Pond::send_many`]); the caller notifies waiters.
    pub(crate) fn append(&mut self, env: &Env<'_>, records: &[NewRecord<'_>]) -> Result<Vec<RecordMetadata>> {
        let targets = self.targets(records)?;
        let now = env.now_ms;
        let config = &self.meta.config;
        let ctx = AppendContext { storage: env.storage, config, fsync: env.fsync, now_ms: now };
        let meta = |partition: u32, offset: u64, timestamp_ms: i64| RecordMetadata {
            topic: self.name.clone(),
            partition,
            offset,
            timestamp_ms,
        };
        if let Targets::All(p) = targets {
            // One partition (the common case): no regrouping.
            let partition = &mut self.partitions[p as usize];
            let base = partition.append(&ctx, records)?;
            after_append(partition, env, config);
            let stamped = |r: &NewRecord<'_>| r.timestamp_ms.unwrap_or(now);
            return Ok(records.iter().zip(base..).map(|(r, offset)| meta(p, offset, stamped(r))).collect());
        }
        // Several partitions (rare): a frame each, encoded before any is written.
        let prepared = self.encode(env, records, targets)?;
        Ok(self.commit(env, prepared)?.metadata(&self.name, records, now))
    }

    /// Appends one record (see [`Pond::send`]): [`Topic::append`] without a
    /// list of metadata to allocate.
    pub(crate) fn append_one(&mut self, env: &Env<'_>, record: &NewRecord<'_>) -> Result<RecordMetadata> {
        let records = std::slice::from_ref(record);
        let Targets::All(p) = self.targets(records)? else {
            // One record has one partition; should that ever change, the
            // general path still gives the right answer.
            let mut all = self.append(env, records)?;
            return all.pop().ok_or_else(|| Error::invalid("no record was appended"));
        };
        let config = &self.meta.config;
        let ctx = AppendContext { storage: env.storage, config, fsync: env.fsync, now_ms: env.now_ms };
        let partition = &mut self.partitions[p as usize];
        let offset = partition.append(&ctx, records)?;
        after_append(partition, env, config);
        let timestamp_ms = record.timestamp_ms.unwrap_or(env.now_ms);
        Ok(RecordMetadata { topic: self.name.clone(), partition: p, offset, timestamp_ms })
    }

    /// Checks the records against the topic's rules and picks the
    /// partition of each: the next in turn for records with neither key
    /// nor partition.
    fn targets(&mut self, records: &[NewRecord<'_>]) -> Result<Targets> {
        let config = &self.meta.config;
        let n = config.partitions;
        let spread = self.spread % n;
        let mut used_spread = false;
        let mut first = None;
        let mut each: Vec<u32> = Vec::new(); // only once two partitions differ
        let mut total = 0usize;
        for (i, r) in records.iter().enumerate() {
            total += check_record(r, config)?;
            let p = match (r.partition, r.key) {
                (Some(p), _) if p < n => p,
                (Some(p), _) => return Err(self.no_partition(p)),
                (None, Some(key)) => partition_for_key(key, n),
                (None, None) => {
                    used_spread = true;
                    spread
                }
            };
            let first = *first.get_or_insert(p);
            if !each.is_empty() || p != first {
                if each.is_empty() {
                    each = vec![first; i];
                }
                each.push(p);
            }
        }
        let Some(first) = first else { return Err(Error::invalid("empty batch")) };
        let targets = if each.is_empty() { Targets::All(first) } else { Targets::Each(each) };
        // A batch that cannot fit one frame is refused before encoding it
        // (the stored size of its records is a lower bound of the frame's).
        let limit = crate::log::batch::MAX_FRAME_LEN;
        if total > limit {
            let mut per_partition = BTreeMap::<u32, usize>::new();
            for (i, r) in records.iter().enumerate() {
                *per_partition.entry(targets.of(i)).or_default() += r.size();
            }
            if let Some(&size) = per_partition.values().find(|s| **s > limit) {
                return Err(Error::BatchTooLarge { size, limit });
            }
        }
        if used_spread {
            self.spread = self.spread.wrapping_add(1);
        }
        Ok(targets)
    }

    /// Checks the records, picks their partitions and encodes a frame per
    /// partition (see [`PreparedSend`]). Changes nothing but the spread of
    /// records without key or partition.
    pub(crate) fn prepare(&mut self, env: &Env<'_>, records: &[NewRecord<'_>]) -> Result<PreparedSend> {
        let targets = self.targets(records)?;
        self.encode(env, records, targets)
    }

    /// A frame per partition of `targets` (see [`PreparedSend`]).
    fn encode(&mut self, env: &Env<'_>, records: &[NewRecord<'_>], targets: Targets) -> Result<PreparedSend> {
        let mut frame_for = |p: u32| -> Result<PreparedFrame> {
            let now = env.now_ms;
            let entries: Vec<EntrySpec<'_, '_>> = records
                .iter()
                .enumerate()
                .filter(|(i, _)| targets.of(*i) == p)
                .enumerate()
                .map(|(k, (_, record))| EntrySpec {
                    offset: k as u64,
                    timestamp_ms: record.timestamp_ms.unwrap_or(now),
                    record,
                })
                .collect();
            let first_ts = entries.first().map_or(now, |e| e.timestamp_ms);
            let mut frame = self.partitions[p as usize].take_scratch();
            let unplaced = encode_unplaced(&entries, now, &mut frame)?;
            Ok(PreparedFrame { partition: p, frame, unplaced, first_ts })
        };
        let mut partitions = targets.partitions();
        let first = frame_for(partitions.next().unwrap_or(0))?;
        let rest = partitions.map(&mut frame_for).collect::<Result<Vec<_>>>()?;
        Ok(PreparedSend { topic: self.name.clone(), targets, first, rest })
    }

    /// Whether a send prepared earlier still fits this topic.
    pub(crate) fn fits(&self, prepared: &PreparedSend) -> bool {
        Arc::ptr_eq(&prepared.topic, &self.name)
    }

    /// Appends a prepared send (the caller checked it [fits](Topic::fits)).
    pub(crate) fn commit(&mut self, env: &Env<'_>, prepared: PreparedSend) -> Result<PlacedSend> {
        let config = &self.meta.config;
        let ctx = AppendContext { storage: env.storage, config, fsync: env.fsync, now_ms: env.now_ms };
        let mut append = |PreparedFrame { partition: p, mut frame, unplaced, first_ts }: PreparedFrame| {
            let partition = &mut self.partitions[p as usize];
            let appended = partition.append_frame(&ctx, &mut frame, &unplaced, first_ts);
            partition.give_scratch(frame);
            let base = appended?;
            after_append(partition, env, config);
            Ok((p, base))
        };
        let first = append(prepared.first)?;
        let rest = prepared.rest.into_iter().map(&mut append).collect::<Result<Vec<_>>>()?;
        Ok(PlacedSend { targets: prepared.targets, first, rest })
    }

    pub(crate) fn dir(name: &str) -> String {
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

pub(crate) fn create_topic(
    topics: &mut Topics,
    env: &Env<'_>,
    name: &str,
    config: TopicConfig,
) -> Result<()> {
    config.validate()?;
    if topics.contains_key(name) {
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
    topics.insert(name.to_string(), Topic { meta, name: topic_name, partitions, spread: 0 });
    Ok(())
}

/// Retention and, when due, compaction after an append.
/// Retention and, when due, compaction after an append. The append has
/// succeeded by now: a failure here (a damaged sealed segment that
/// compaction cannot read, a full disk) must not make the send report
/// failure for a record that is stored — its producer would send it
/// again. Both run again on later appends, and `maintain()` reports what
/// keeps failing.
fn after_append(partition: &mut Partition, env: &Env<'_>, config: &TopicConfig) {
    let _ = partition.enforce_retention(env.storage, config, env.now_ms);
    if config.cleanup == Cleanup::Compact && partition.wants_compaction() {
        let _ = partition.compact(env.storage, config, env.now_ms, env.fsync);
    }
}

/// A record's delay and ttl (the rare case: out of the per-record path).
#[cold]
fn check_schedule(r: &NewRecord<'_>) -> Result<()> {
    if r.delay_ms.is_some_and(|d| d < 0) {
        return Err(Error::invalid("a delay must be >= 0"));
    }
    if r.ttl_ms.is_some_and(|t| t <= 0) {
        return Err(Error::invalid("a ttl must be positive"));
    }
    Ok(())
}

/// Checks a record against its topic's rules; returns its stored size.
fn check_record(r: &NewRecord<'_>, config: &TopicConfig) -> Result<usize> {
    let size = r.size();
    if size > config.max_record_bytes as usize {
        return Err(Error::RecordTooLarge { size, limit: config.max_record_bytes as usize });
    }
    if let Some(ts) = r.timestamp_ms {
        if ts < 0 {
            return Err(Error::invalid(format!("timestamp must be >= 0, got {ts}")));
        }
    }
    if r.delay_ms.is_some() || r.ttl_ms.is_some() {
        check_schedule(r)?;
    }
    if config.cleanup == Cleanup::Compact && r.key.is_none() {
        return Err(Error::invalid("a compacted topic needs a key on every record"));
    }
    Ok(size)
}

pub(crate) fn load_topics(storage: &dyn Storage, durable: bool) -> Result<BTreeMap<String, Topic>> {
    let mut topics = BTreeMap::new();
    for (name, meta) in topic_metas(storage)? {
        topics.insert(name.clone(), load_topic(storage, &name, meta, durable)?);
    }
    Ok(topics)
}

/// Brings `topics` up to date with the files after other handles changed
/// names (created or deleted topics, rolled, removed or rewritten
/// segments). Runs under the pond's write lock, so what a dead writer left
/// half done is finished as on open. Returns the topics that are gone or
/// were created again since: what groups and queues held of them is stale.
pub(crate) fn reload_topics(
    topics: &mut Topics,
    storage: &dyn Storage,
    durable: bool,
) -> Result<Vec<String>> {
    let metas = topic_metas(storage)?;
    let mut stale: Vec<String> = topics.keys().filter(|n| !metas.contains_key(*n)).cloned().collect();
    for name in &stale {
        topics.remove(name);
    }
    for (name, meta) in metas {
        match topics.get_mut(&name) {
            Some(topic) if topic.meta == meta => {
                for p in &mut topic.partitions {
                    p.reload(storage)?;
                }
            }
            known => {
                if known.is_some() {
                    stale.push(name.clone());
                }
                let topic = load_topic(storage, &name, meta, durable)?;
                topics.insert(name, topic);
            }
        }
    }
    Ok(stale)
}

/// The metadata of every topic in storage, by name. Finishes what a crash
/// left half done: an interrupted delete, the leftovers of a create.
fn topic_metas(storage: &dyn Storage) -> Result<BTreeMap<String, TopicMeta>> {
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
    let mut metas = BTreeMap::new();
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
        metas.insert(name, meta);
    }
    Ok(metas)
}

fn load_topic(storage: &dyn Storage, name: &str, meta: TopicMeta, durable: bool) -> Result<Topic> {
    let dir = Topic::dir(name);
    let topic_name: Arc<str> = Arc::from(name);
    let mut partitions = Vec::with_capacity(meta.config.partitions as usize);
    for p in 0..meta.config.partitions {
        let origin = Origin { topic: topic_name.clone(), partition: p };
        partitions.push(Partition::open(storage, format!("{dir}/{p}"), origin, durable)?);
    }
    Ok(Topic { meta, name: topic_name, partitions, spread: 0 })
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
        if storage.open(name, false)?.len()? > crate::log::segment::SEGMENT_HEADER_LEN {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Removes every file under `dir` but `keep`.
pub(crate) fn remove_all(storage: &dyn Storage, dir: &str, keep: Option<&str>) -> Result<()> {
    for f in storage.list(&format!("{dir}/"))? {
        if Some(f.as_str()) != keep {
            storage.remove(&f)?;
        }
    }
    Ok(())
}
