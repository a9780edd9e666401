//! Consumer groups inside one pond: membership, rebalancing, positions and
//! committed offsets. Every function runs under the pond's lock, so a
//! rebalance is one atomic step: partitions that change hands are first
//! committed by their old owner (when it auto-commits) and then start, for
//! the new owner, from the committed offset.

use std::collections::{BTreeMap, VecDeque};

use crate::groups::assignor::{assign, Assignor, MemberSubscription, TopicPartition};
use crate::groups::membership::{Event, GroupStore, MemberInfo, Membership};
use crate::groups::offsets::{self, OffsetKey, OFFSETS_TOPIC};
use crate::holder::Holder;
use crate::log::chunk_cache::ChunkCache;
use crate::log::partition::ReadLimits;
use crate::log::record::{NewRecord, Record};
use crate::log::topics::{create_topic, Env, Topics};
use crate::{Error, Result};

/// Where a consumer starts when its group has no committed offset for a
/// partition, or the committed offset is no longer in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OffsetReset {
    Earliest,
    /// The end of the log: only records sent from now on (Kafka's default).
    #[default]
    Latest,
    /// No reset: `OffsetOutOfRange`.
    None,
}

impl OffsetReset {
    pub fn parse(name: &str) -> Option<OffsetReset> {
        match name {
            "earliest" => Some(OffsetReset::Earliest),
            "latest" => Some(OffsetReset::Latest),
            "none" => Some(OffsetReset::None),
            _ => None,
        }
    }
}

/// A member's settings (from its consumer's configuration).
#[derive(Debug, Clone)]
pub(crate) struct MemberSettings {
    pub topics: Vec<String>,
    pub reset: OffsetReset,
    pub auto_commit: bool,
    pub auto_commit_interval_ms: i64,
    pub session_timeout_ms: i64,
    pub assignor: Assignor,
}

/// A member of this handle: what only its consumer knows.
#[derive(Debug)]
struct Member {
    settings: MemberSettings,
    last_poll_ms: i64,
    last_commit_ms: i64,
    /// When this handle last logged that the member polls (`Seen`).
    logged_ms: i64,
    /// Next offset to read, per assigned partition (set on first use).
    positions: BTreeMap<TopicPartition, u64>,
    /// Rotates which assigned partition a poll serves first.
    rotation: usize,
    /// Records fetched for one-at-a-time iteration and not handed out yet.
    /// Positions count only what was handed out, so a rebalance or a
    /// commit never covers a record still sitting here.
    buffer: VecDeque<Record>,
}

impl Member {
    fn new(settings: MemberSettings, now_ms: i64) -> Member {
        Member {
            settings,
            last_poll_ms: now_ms,
            last_commit_ms: now_ms,
            logged_ms: now_ms,
            positions: BTreeMap::new(),
            rotation: 0,
            buffer: VecDeque::new(),
        }
    }
}

#[derive(Debug, Default)]
struct Group {
    /// What every handle shares: members of all handles, the assignment,
    /// who holds each partition.
    shared: Membership,
    /// Where `shared` is logged; `None` where nothing is shared (it then
    /// lives in this handle's memory only).
    store: Option<GroupStore>,
    /// This handle's members, by id.
    members: BTreeMap<u64, Member>,
}

impl Group {
    /// Applies events to the shared state and logs them.
    fn record(&mut self, env: &Env<'_>, events: Vec<Event>) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        for e in &events {
            self.shared.apply(e.clone());
        }
        match &mut self.store {
            Some(store) => store.log(env.storage, &events, &self.shared, env.fsync, env.now_ms),
            None => Ok(()),
        }
    }
}

/// Every group of a pond, and the committed offsets of all groups.
#[derive(Debug, Default)]
pub(crate) struct GroupState {
    committed: BTreeMap<OffsetKey, u64>,
    groups: BTreeMap<String, Group>,
    /// This handle as the holder of its members (their ids, its claim).
    holder: Holder,
    /// The next offset of `__consumer_offsets` to replay: commits below it
    /// (this handle's own and others') are in `committed`.
    replayed: u64,
}

impl GroupState {
    /// Loads committed offsets from `__consumer_offsets`.
    pub fn load(topics: &Topics, chunks: &ChunkCache) -> Result<GroupState> {
        let mut state = GroupState::default();
        state.catch_up(topics, chunks)?;
        Ok(state)
    }

    /// Replays the commits appended since the last replay (by any handle:
    /// replaying this handle's own again changes nothing, as the last
    /// record per key wins either way).
    pub fn catch_up(&mut self, topics: &Topics, chunks: &ChunkCache) -> Result<()> {
        let Some(topic) = topics.get(OFFSETS_TOPIC) else {
            return Ok(());
        };
        let partition = topic.partition(0)?;
        let mut next = self.replayed.max(partition.start_offset());
        if next > partition.end_offset() {
            // The topic was created again since: replay it whole.
            self.committed.clear();
            next = partition.start_offset();
        }
        let limits = ReadLimits { max_records: 4096, max_bytes: usize::MAX };
        loop {
            let mut batch = Vec::new();
            partition.read(next, limits, chunks, &mut batch)?;
            let Some(last) = batch.last() else { break };
            next = last.offset + 1;
            for r in &batch {
                let Some(key) = r.key.as_deref().and_then(offsets::decode_key) else {
                    continue; // not a record this version wrote: skip, keep going
                };
                match r.value.as_deref() {
                    None => {
                        self.committed.remove(&key);
                    }
                    Some(v) => {
                        if let Some(offset) = offsets::decode_value(v) {
                            self.committed.insert(key, offset);
                        }
                    }
                }
            }
        }
        self.replayed = partition.end_offset();
        Ok(())
    }

    /// Takes in what other handles logged of the groups this handle knows
    /// (members joined, seen or gone; assignments; hand-overs).
    pub fn catch_up_groups(&mut self, env: &Env<'_>, names_changed: bool) -> Result<()> {
        for (id, group) in &mut self.groups {
            let Some(store) = &mut group.store else { continue };
            if !store.catch_up(env.storage, env.chunks, &mut group.shared, names_changed)? {
                let (store, shared) = GroupStore::open_or_create(env.storage, id, env.chunks, env.fsync)?;
                group.store = Some(store);
                group.shared = shared;
            }
        }
        Ok(())
    }

    /// Drops every member's positions, buffered records and assignment on
    /// a topic that is gone or was created again (by this handle or
    /// another): they must never be committed.
    pub fn forget_members_on(&mut self, topic: &str) {
        for group in self.groups.values_mut() {
            // The next heartbeat sees the partitions changed and reassigns
            // (the assignment it logs replaces this count).
            if let Some(count) = group.shared.partitions.get_mut(topic) {
                *count = 0;
            }
            for m in group.members.values_mut() {
                m.positions.retain(|(t, _), _| t != topic);
                m.buffer.retain(|r| &*r.topic != topic);
            }
        }
    }

    fn group(&self, id: &str) -> Option<&Group> {
        self.groups.get(id)
    }

    /// Groups with commits or with members in this handle.
    pub(crate) fn known_groups(&self) -> impl Iterator<Item = &str> {
        self.committed.keys().map(|(g, _, _)| g.as_str()).chain(self.groups.keys().map(String::as_str))
    }

    /// The shared state of a group this handle has loaded (it has members).
    pub(crate) fn membership(&self, id: &str) -> Option<&Membership> {
        self.groups.get(id).map(|g| &g.shared)
    }

    pub(crate) fn committed_offset(&self, group: &str, topic: &str, partition: u32) -> Option<u64> {
        self.committed.get(&(group.to_string(), topic.to_string(), partition)).copied()
    }

    /// The partitions `group` committed offsets for.
    pub(crate) fn committed_partitions(&self, group: &str) -> Vec<TopicPartition> {
        self.committed.keys().filter(|(g, _, _)| g == group).map(|(_, t, p)| (t.clone(), *p)).collect()
    }
}

/// What the group engine works on: the groups, and the topics they read
/// (and `__consumer_offsets`, which they append to). Nothing of queues.
pub(crate) struct GroupCtx<'a> {
    pub groups: &'a mut GroupState,
    pub topics: &'a mut Topics,
}

fn no_member(group: &str) -> Error {
    Error::CommitFailed(format!(
        "this consumer is no longer a member of group {group:?} (its session timed out or it closed); \
         it rejoins on its next poll"
    ))
}

/// The group, loaded (or created) on first use: from its state log where
/// handles share the pond.
fn group_mut<'s>(state: &'s mut GroupCtx<'_>, env: &Env<'_>, group_id: &str) -> Result<&'s mut Group> {
    if !state.groups.groups.contains_key(group_id) {
        let mut group = Group::default();
        if env.storage.is_shared() {
            let (store, shared) = GroupStore::open_or_create(env.storage, group_id, env.chunks, env.fsync)?;
            group.store = Some(store);
            group.shared = shared;
        }
        state.groups.groups.insert(group_id.to_string(), group);
    }
    state.groups.groups.get_mut(group_id).ok_or_else(|| no_member(group_id))
}

/// The shared description of a new member.
fn member_info(holder: u64, settings: &MemberSettings, now_ms: i64) -> MemberInfo {
    MemberInfo {
        holder,
        topics: settings.topics.clone(),
        assignor: settings.assignor,
        session_timeout_ms: settings.session_timeout_ms,
        last_seen_ms: now_ms,
    }
}

/// Adds a member; returns its id.
pub(crate) fn join(
    state: &mut GroupCtx<'_>,
    env: &Env<'_>,
    group_id: &str,
    settings: MemberSettings,
) -> Result<u64> {
    let id = state.groups.holder.make_id(env.storage)?;
    let info = member_info(state.groups.holder.current(), &settings, env.now_ms);
    let group = group_mut(state, env, group_id)?;
    group.members.insert(id, Member::new(settings, env.now_ms));
    group.record(env, vec![Event::Joined { member: id, info }])?;
    rebalance(state, env, group_id)?;
    Ok(id)
}

/// Removes a member, committing its positions first when it auto-commits.
pub(crate) fn leave(state: &mut GroupCtx<'_>, env: &Env<'_>, group_id: &str, member_id: u64) -> Result<()> {
    let Some(member) = state.groups.groups.get(group_id).and_then(|g| g.members.get(&member_id)) else {
        return Ok(());
    };
    if member.settings.auto_commit {
        commit_positions(state, env, group_id, member_id)?;
    }
    let group = group_mut(state, env, group_id)?;
    group.members.remove(&member_id);
    group.record(env, vec![Event::Left { member: member_id }])?;
    rebalance(state, env, group_id)
}

/// Called on every poll: removes members past their session timeout or
/// whose handle is gone, rejoins this member if it was removed (returning
/// its new id), notes the poll (and tells other handles, every third of a
/// session timeout), rebalances if membership or the topics' partitions
/// changed, and gives up the partitions this member must hand over.
pub(crate) fn heartbeat(
    state: &mut GroupCtx<'_>,
    env: &Env<'_>,
    group_id: &str,
    member_id: u64,
    settings: &MemberSettings,
) -> Result<u64> {
    let now = env.now_ms;
    group_mut(state, env, group_id)?;
    let GroupState { groups, holder, .. } = &mut *state.groups;
    let group = groups.get_mut(group_id).ok_or_else(|| no_member(group_id))?;
    let mut events = Vec::new();
    for (id, info) in &group.shared.members {
        let gone = match group.members.get(id) {
            Some(m) => now.saturating_sub(m.last_poll_ms) > m.settings.session_timeout_ms,
            None if info.holder == holder.current() => true, // a member this handle no longer runs
            None => {
                now.saturating_sub(info.last_seen_ms) > info.session_timeout_ms
                    || !holder.is_alive(env.storage, info.holder, now)?
            }
        };
        if gone {
            events.push(Event::Left { member: *id });
        }
    }
    for e in &events {
        if let Event::Left { member } = e {
            group.members.remove(member);
        }
    }
    let mut changed = !events.is_empty();
    let mut id = member_id;
    let removed =
        !group.shared.members.contains_key(&member_id) || events.contains(&Event::Left { member: member_id });
    if removed || !group.members.contains_key(&member_id) {
        // Removed (by this handle or another): it rejoins under a new id,
        // its positions gone with the old one.
        group.members.remove(&member_id);
        id = holder.make_id(env.storage)?;
        group.members.insert(id, Member::new(settings.clone(), now));
        events.push(Event::Joined { member: id, info: member_info(holder.current(), settings, now) });
        changed = true;
    }
    if let Some(m) = group.members.get_mut(&id) {
        m.last_poll_ms = now;
        if now.saturating_sub(m.logged_ms) >= (m.settings.session_timeout_ms / 3).max(1) {
            m.logged_ms = now;
            events.push(Event::Seen { member: id, at_ms: now });
        }
    }
    group.record(env, events)?;
    let group = &state.groups.groups[group_id];
    if changed || !same_partitions(state.topics, group) {
        rebalance(state, env, group_id)?;
    }
    release_revoked(state, env, group_id, id)?;
    Ok(id)
}

/// Whether the subscribed topics still have the partitions of the last
/// rebalance (without building the map, as every poll asks).
fn same_partitions(topics: &Topics, group: &Group) -> bool {
    let shared = &group.shared;
    let subscribed = shared.members.values().flat_map(|m| &m.topics);
    let all_known = subscribed.clone().all(|t| match (topics.get(t), shared.partitions.get(t)) {
        (Some(topic), Some(n)) => topic.partitions.len() as u32 == *n,
        (None, None) => true,
        _ => false,
    });
    // A topic of the last rebalance nobody subscribes to any more also counts.
    all_known && shared.partitions.keys().all(|t| subscribed.clone().any(|s| s == t))
}

fn partition_counts(topics: &Topics, group: &Group) -> BTreeMap<String, u32> {
    let mut out = BTreeMap::new();
    for m in group.shared.members.values() {
        for t in &m.topics {
            if let Some(topic) = topics.get(t) {
                out.insert(t.clone(), topic.partitions.len() as u32);
            }
        }
    }
    out
}

/// Recomputes the group's assignment. Partitions that leave a member of
/// this handle are handed over at once (committed first, if it
/// auto-commits); those of another handle's members move when it lets
/// them go (see [`release_revoked`]).
fn rebalance(state: &mut GroupCtx<'_>, env: &Env<'_>, group_id: &str) -> Result<()> {
    let Some(group) = state.groups.groups.get_mut(group_id) else {
        return Ok(());
    };
    let partitions = partition_counts(state.topics, group);
    let shared = &group.shared;
    let assignor = shared.members.values().next().map(|m| m.assignor).unwrap_or_default();
    let subscriptions: Vec<MemberSubscription<'_>> =
        shared.members.iter().map(|(id, m)| MemberSubscription { id: *id, topics: &m.topics }).collect();
    let assignment = assign(assignor, &subscriptions, &partitions, &shared.assignment);
    group.record(env, vec![Event::Assigned { partitions, assignment }])?;
    let local: Vec<u64> = group.members.keys().copied().collect();
    for id in local {
        release_revoked(state, env, group_id, id)?;
    }
    if let Some(group) = state.groups.groups.get(group_id) {
        if group.shared.members.is_empty() && group.store.is_none() {
            state.groups.groups.remove(group_id);
        }
    }
    Ok(())
}

/// Gives up what this handle's member holds but is assigned elsewhere:
/// its positions there are committed first (if it auto-commits) and
/// dropped, with the records it buffered from them.
fn release_revoked(state: &mut GroupCtx<'_>, env: &Env<'_>, group_id: &str, member_id: u64) -> Result<()> {
    let Some(group) = state.groups.groups.get_mut(group_id) else { return Ok(()) };
    let revoking = group.shared.revoking(member_id);
    if revoking.is_empty() {
        return Ok(());
    }
    let mut commits = Vec::new();
    if let Some(member) = group.members.get_mut(&member_id) {
        let auto_commit = member.settings.auto_commit;
        member.buffer.retain(|r| !revoking.iter().any(|(t, p)| **t == *r.topic && *p == r.partition));
        member.positions.retain(|tp, pos| {
            let keep = !revoking.contains(tp);
            if !keep && auto_commit {
                commits.push((tp.clone(), *pos));
            }
            keep
        });
    }
    write_commits(state, env, group_id, &commits)?;
    let group = group_mut(state, env, group_id)?;
    group.record(env, vec![Event::Released { member: member_id, parts: revoking }])
}

/// Stores committed offsets durably (appending to `__consumer_offsets`).
fn write_commits(
    state: &mut GroupCtx<'_>,
    env: &Env<'_>,
    group_id: &str,
    entries: &[(TopicPartition, u64)],
) -> Result<()> {
    let committed = &state.groups.committed;
    let fresh: Vec<&(TopicPartition, u64)> = entries
        .iter()
        .filter(|((t, p), o)| committed.get(&(group_id.to_string(), t.clone(), *p)) != Some(o))
        .collect();
    if fresh.is_empty() {
        return Ok(());
    }
    let keys: Vec<Vec<u8>> = fresh.iter().map(|((t, p), _)| offsets::encode_key(group_id, t, *p)).collect();
    let values: Vec<[u8; 17]> = fresh.iter().map(|(_, o)| offsets::encode_value(*o, env.now_ms)).collect();
    let records: Vec<NewRecord<'_>> = keys.iter().zip(&values).map(|(k, v)| NewRecord::keyed(k, v)).collect();
    append_internal(state, env, &records)?;
    for ((t, p), o) in fresh {
        state.groups.committed.insert((group_id.to_string(), t.clone(), *p), *o);
    }
    Ok(())
}

fn append_internal(state: &mut GroupCtx<'_>, env: &Env<'_>, records: &[NewRecord<'_>]) -> Result<()> {
    if !state.topics.contains_key(OFFSETS_TOPIC) {
        create_topic(state.topics, env, OFFSETS_TOPIC, offsets::topic_config())?;
    }
    let topic =
        state.topics.get_mut(OFFSETS_TOPIC).ok_or_else(|| Error::TopicNotFound(OFFSETS_TOPIC.into()))?;
    topic.append(env, records)?;
    Ok(())
}

/// Forgets the committed offsets of every topic that does not exist.
pub(crate) fn forget_missing_topics(state: &mut GroupCtx<'_>, env: &Env<'_>) -> Result<()> {
    let missing: std::collections::BTreeSet<String> = state
        .groups
        .committed
        .keys()
        .filter(|(_, t, _)| !state.topics.contains_key(t))
        .map(|(_, t, _)| t.clone())
        .collect();
    for topic in missing {
        forget_topic(state, env, &topic)?;
    }
    Ok(())
}

/// Forgets every group's committed offsets for a topic being deleted, and
/// every member's positions, buffered records and assignment on it: a
/// member must never commit them again (auto-commit on close included), or
/// a new topic of the same name would start past its first records. The
/// next heartbeat rebalances, as the topic's partitions changed.
pub(crate) fn forget_topic(state: &mut GroupCtx<'_>, env: &Env<'_>, topic: &str) -> Result<()> {
    state.groups.forget_members_on(topic);
    let gone: Vec<OffsetKey> =
        state.groups.committed.keys().filter(|(_, t, _)| t == topic).cloned().collect();
    if gone.is_empty() {
        return Ok(());
    }
    let keys: Vec<Vec<u8>> = gone.iter().map(|(g, t, p)| offsets::encode_key(g, t, *p)).collect();
    let records: Vec<NewRecord<'_>> = keys.iter().map(|k| NewRecord::tombstone(k)).collect();
    append_internal(state, env, &records)?;
    for key in gone {
        state.groups.committed.remove(&key);
    }
    Ok(())
}

fn member<'s>(state: &'s GroupCtx<'_>, group_id: &str, member_id: u64) -> Option<(&'s Group, &'s Member)> {
    let group = state.groups.group(group_id)?;
    Some((group, group.members.get(&member_id)?))
}

/// The member's partitions, sorted.
pub(crate) fn assignment(state: &GroupCtx<'_>, group_id: &str, member_id: u64) -> Vec<TopicPartition> {
    let Some((group, _)) = member(state, group_id, member_id) else {
        return Vec::new();
    };
    group.shared.owned(member_id)
}

/// Every group's committed offset for one partition.
pub(crate) fn committed_offsets<'s>(
    groups: &'s GroupState,
    topic: &'s str,
    partition: u32,
) -> impl Iterator<Item = u64> + 's {
    groups.committed.iter().filter(move |((_, t, p), _)| t == topic && *p == partition).map(|(_, o)| *o)
}

pub(crate) fn generation(state: &GroupCtx<'_>, group_id: &str) -> u64 {
    state.groups.group(group_id).map_or(0, |g| g.shared.generation)
}

pub(crate) fn committed(state: &GroupCtx<'_>, group_id: &str, topic: &str, partition: u32) -> Option<u64> {
    state.groups.committed.get(&(group_id.to_string(), topic.to_string(), partition)).copied()
}

fn not_assigned(topic: &str, partition: u32) -> Error {
    Error::InvalidArgument(format!("partition {topic}/{partition} is not assigned to this consumer"))
}

/// The position of an assigned partition, set from the committed offset or
/// the reset policy when unknown or out of the log's range.
fn ensure_position(
    state: &mut GroupCtx<'_>,
    group_id: &str,
    member_id: u64,
    tp: &TopicPartition,
) -> Result<u64> {
    let topic = state.topics.get(&tp.0).ok_or_else(|| Error::TopicNotFound(tp.0.clone()))?;
    let partition = topic.partition(tp.1)?;
    let (start, end) = (partition.start_offset(), partition.end_offset());
    let known = state
        .groups
        .groups
        .get(group_id)
        .and_then(|g| g.members.get(&member_id))
        .and_then(|m| m.positions.get(tp).copied())
        .filter(|o| (start..=end).contains(o));
    if let Some(position) = known {
        return Ok(position); // the common case: no lookups, no allocation
    }
    let committed = state.groups.committed.get(&(group_id.to_string(), tp.0.clone(), tp.1)).copied();
    let member = state
        .groups
        .groups
        .get_mut(group_id)
        .and_then(|g| g.members.get_mut(&member_id))
        .ok_or_else(|| not_assigned(&tp.0, tp.1))?;
    let in_range = |o: u64| (start..=end).contains(&o);
    let position = match member.positions.get(tp).copied().or(committed) {
        Some(o) if in_range(o) => o,
        found => match member.settings.reset {
            OffsetReset::Earliest => start,
            OffsetReset::Latest => end,
            OffsetReset::None => {
                return Err(Error::OffsetOutOfRange(match found {
                    Some(o) => format!("offset {o} of {}/{} is outside {start}..={end}", tp.0, tp.1),
                    None => {
                        format!("no committed offset for {}/{} and auto_offset_reset is none", tp.0, tp.1)
                    }
                }))
            }
        },
    };
    member.positions.insert(tp.clone(), position);
    Ok(position)
}

/// Up to `max` records across the member's partitions: each partition gets
/// a fair share first (starting from a rotating partition), then the rest
/// fills from whichever have more. Auto-commits first when due.
pub(crate) fn poll(
    state: &mut GroupCtx<'_>,
    env: &Env<'_>,
    group_id: &str,
    member_id: u64,
    max: usize,
) -> Result<Vec<Record>> {
    let Some((_, m)) = member(state, group_id, member_id) else {
        return Ok(Vec::new());
    };
    if !m.buffer.is_empty() {
        // Positions count only handed-out records: dropping the rest refetches them.
        if let Some(m) = state.groups.groups.get_mut(group_id).and_then(|g| g.members.get_mut(&member_id)) {
            m.buffer.clear();
        }
    }
    let Some((_, m)) = member(state, group_id, member_id) else {
        return Ok(Vec::new());
    };
    if m.settings.auto_commit
        && env.now_ms.saturating_sub(m.last_commit_ms) >= m.settings.auto_commit_interval_ms
    {
        commit_positions(state, env, group_id, member_id)?;
    }
    let mut parts = assignment(state, group_id, member_id);
    if parts.is_empty() || max == 0 {
        return Ok(Vec::new());
    }
    let rotation = {
        let m = state.groups.groups.get_mut(group_id).and_then(|g| g.members.get_mut(&member_id));
        m.map_or(0, |m| {
            m.rotation = m.rotation.wrapping_add(1);
            m.rotation
        })
    };
    let count = parts.len();
    parts.rotate_left(rotation % count);
    let share = (max / parts.len()).max(1);
    let mut out = Vec::with_capacity(max.min(4096));
    // A damaged partition stalls alone: the others keep flowing, and its
    // error surfaces when nothing else is delivered.
    let mut damage: Option<Error> = None;
    for pass_share in [share, max] {
        for tp in &parts {
            let room = max - out.len();
            if room == 0 {
                return Ok(out);
            }
            let position = ensure_position(state, group_id, member_id, tp)?;
            let partition = state.topics[&tp.0].partition(tp.1)?;
            if position >= partition.end_offset() {
                continue;
            }
            let before = out.len();
            let limits = ReadLimits { max_records: room.min(pass_share), max_bytes: usize::MAX };
            if !partition.read_or_note_damage(position, limits, env.chunks, &mut out, &mut damage)? {
                continue;
            }
            // No record at or after the position (compacted away): skip to the end.
            let next = out[before..].last().map_or(partition.end_offset(), |r| r.offset + 1);
            if let Some(m) = state.groups.groups.get_mut(group_id).and_then(|g| g.members.get_mut(&member_id))
            {
                m.positions.insert(tp.clone(), next);
            }
        }
    }
    match damage {
        Some(e) if out.is_empty() => Err(e),
        _ => Ok(out),
    }
}

/// Moves the member's positions past damaged batches they stand at;
/// returns what was skipped: (topic, partition, from, to) with `to`
/// exclusive.
pub(crate) fn skip_damaged(
    state: &mut GroupCtx<'_>,
    group_id: &str,
    member_id: u64,
) -> Result<Vec<(String, u32, u64, u64)>> {
    let mut skipped = Vec::new();
    for tp in assignment(state, group_id, member_id) {
        let position = ensure_position(state, group_id, member_id, &tp)?;
        let partition = state.topics[&tp.0].partition(tp.1)?;
        let Some(next) = partition.resume_after_damage(position)? else { continue };
        if let Some(m) = state.groups.groups.get_mut(group_id).and_then(|g| g.members.get_mut(&member_id)) {
            m.buffer.retain(|r| (&*r.topic, r.partition) != (tp.0.as_str(), tp.1));
            m.positions.insert(tp.clone(), next);
        }
        if next > position {
            skipped.push((tp.0, tp.1, position, next));
        }
    }
    Ok(skipped)
}

/// Records fetched at a time for [`next_record`].
const ITERATION_BATCH: usize = 500;

/// The next record for one-at-a-time iteration. Records are fetched in
/// batches (fairly, as `poll` does) into the member's buffer, but a
/// partition's position moves past a record only when it is handed out.
pub(crate) fn next_record(
    state: &mut GroupCtx<'_>,
    env: &Env<'_>,
    group_id: &str,
    member_id: u64,
) -> Result<Option<Record>> {
    let buffered = member(state, group_id, member_id).is_some_and(|(_, m)| !m.buffer.is_empty());
    if !buffered {
        let fetched = poll(state, env, group_id, member_id, ITERATION_BATCH)?;
        let Some(m) = state.groups.groups.get_mut(group_id).and_then(|g| g.members.get_mut(&member_id))
        else {
            return Ok(None);
        };
        // poll moved the positions past the whole batch: move them back to
        // the first record of each partition, still to be handed out.
        for r in fetched.iter().rev() {
            m.positions.insert((r.topic.to_string(), r.partition), r.offset);
        }
        m.buffer = fetched.into();
    }
    let Some(m) = state.groups.groups.get_mut(group_id).and_then(|g| g.members.get_mut(&member_id)) else {
        return Ok(None);
    };
    let Some(record) = m.buffer.pop_front() else { return Ok(None) };
    m.positions.insert((record.topic.to_string(), record.partition), record.offset + 1);
    Ok(Some(record))
}

/// The fast path of iteration: the next buffered record of a live member,
/// without a rebalance check (the buffer holds at most one batch; the next
/// fetch runs the full heartbeat). `None` when the slow path must run.
pub(crate) fn take_buffered(
    state: &mut GroupCtx<'_>,
    env: &Env<'_>,
    group_id: &str,
    member_id: u64,
) -> Option<Record> {
    let m = state.groups.groups.get_mut(group_id)?.members.get_mut(&member_id)?;
    let session = m.settings.session_timeout_ms;
    // The slow path also runs when other handles are due to hear that this
    // member is alive (every third of its session).
    let quiet = env.now_ms.saturating_sub(m.logged_ms) >= (session / 3).max(1);
    if m.buffer.is_empty() || env.now_ms.saturating_sub(m.last_poll_ms) > session || quiet {
        return None;
    }
    let record = m.buffer.pop_front()?;
    m.last_poll_ms = env.now_ms;
    // Find the position without building a key (no allocation per record).
    match m.positions.iter_mut().find(|((t, p), _)| **t == *record.topic && *p == record.partition) {
        Some((_, position)) => *position = record.offset + 1,
        None => {
            m.positions.insert((record.topic.to_string(), record.partition), record.offset + 1);
        }
    }
    Some(record)
}

/// Commits the member's current positions.
pub(crate) fn commit_positions(
    state: &mut GroupCtx<'_>,
    env: &Env<'_>,
    group_id: &str,
    member_id: u64,
) -> Result<()> {
    let Some((group, m)) = member(state, group_id, member_id) else {
        return Err(no_member(group_id));
    };
    let entries: Vec<(TopicPartition, u64)> = m
        .positions
        .iter()
        .filter(|(tp, _)| group.shared.held.get(*tp) == Some(&member_id))
        .map(|(tp, o)| (tp.clone(), *o))
        .collect();
    write_commits(state, env, group_id, &entries)?;
    if let Some(m) = state.groups.groups.get_mut(group_id).and_then(|g| g.members.get_mut(&member_id)) {
        m.last_commit_ms = env.now_ms;
    }
    Ok(())
}

/// Commits given offsets (the next offset to read) for partitions this
/// member owns. A partition it does not own (any more) fails the whole
/// commit: a stale member's commit is never applied.
pub(crate) fn commit_offsets(
    state: &mut GroupCtx<'_>,
    env: &Env<'_>,
    group_id: &str,
    member_id: u64,
    entries: &[(TopicPartition, u64)],
) -> Result<()> {
    let Some((group, _)) = member(state, group_id, member_id) else {
        return Err(no_member(group_id));
    };
    for ((t, p), _) in entries {
        if group.shared.held.get(&(t.clone(), *p)) != Some(&member_id) {
            return Err(Error::CommitFailed(format!(
                "partition {t}/{p} is not assigned to this consumer in generation {} of group {group_id:?}",
                group.shared.generation
            )));
        }
    }
    write_commits(state, env, group_id, entries)
}

pub(crate) fn position(
    state: &mut GroupCtx<'_>,
    group_id: &str,
    member_id: u64,
    tp: &TopicPartition,
) -> Result<u64> {
    if !assignment(state, group_id, member_id).contains(tp) {
        return Err(not_assigned(&tp.0, tp.1));
    }
    ensure_position(state, group_id, member_id, tp)
}

/// Where a seek goes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum SeekTo {
    Offset(u64),
    Beginning,
    End,
    Time(i64),
}

/// Moves the positions of `parts` (all of the member's when `None`).
pub(crate) fn seek(
    state: &mut GroupCtx<'_>,
    env: &Env<'_>,
    group_id: &str,
    member_id: u64,
    parts: Option<&[TopicPartition]>,
    to: SeekTo,
) -> Result<()> {
    let owned = assignment(state, group_id, member_id);
    let targets: Vec<TopicPartition> = match parts {
        Some(list) => {
            if let Some((t, p)) = list.iter().find(|tp| !owned.contains(tp)) {
                return Err(not_assigned(t, *p));
            }
            list.to_vec()
        }
        None => owned,
    };
    for tp in targets {
        let partition =
            state.topics.get(&tp.0).ok_or_else(|| Error::TopicNotFound(tp.0.clone()))?.partition(tp.1)?;
        let offset = match to {
            SeekTo::Offset(o) => o,
            SeekTo::Beginning => partition.start_offset(),
            SeekTo::End => partition.end_offset(),
            SeekTo::Time(ts) => partition.offset_for_time(ts, env.chunks)?.unwrap_or(partition.end_offset()),
        };
        if let Some(m) = state.groups.groups.get_mut(group_id).and_then(|g| g.members.get_mut(&member_id)) {
            m.buffer.retain(|r| (&*r.topic, r.partition) != (tp.0.as_str(), tp.1));
            m.positions.insert(tp, offset);
        }
    }
    Ok(())
}

/// End offset minus position, per assigned partition.
pub(crate) fn lag(
    state: &mut GroupCtx<'_>,
    group_id: &str,
    member_id: u64,
) -> Result<Vec<(TopicPartition, u64)>> {
    let mut out = Vec::new();
    for tp in assignment(state, group_id, member_id) {
        let position = ensure_position(state, group_id, member_id, &tp)?;
        let end = state.topics[&tp.0].partition(tp.1)?.end_offset();
        out.push((tp, end.saturating_sub(position)));
    }
    Ok(out)
}
