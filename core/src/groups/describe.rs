//! Looking at consumer groups without joining them: the groups a pond
//! knows, and one group's generation, members, assignment and committed
//! offsets with their lag (what `kafka-consumer-groups --describe` shows).

use std::collections::{BTreeMap, BTreeSet};

use crate::groups::assignor::TopicPartition;
use crate::groups::engine::GroupState;
use crate::groups::membership::{GroupStore, Membership};
use crate::log::chunk_cache::ChunkCache;
use crate::log::topics::Topics;
use crate::storage::Storage;
use crate::Result;

/// A consumer group as [`crate::Pond::describe_group`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupInfo {
    pub group: String,
    /// Grows with every rebalance; 0 for a group that only has commits.
    pub generation: u64,
    pub members: Vec<GroupMember>,
    /// Per partition the group committed to or holds.
    pub offsets: BTreeMap<TopicPartition, OffsetInfo>,
}

/// A member of a group, in any handle or process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMember {
    pub member_id: u64,
    /// The partitions it consumes now, sorted.
    pub assignment: Vec<TopicPartition>,
}

/// Where a group stands in one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetInfo {
    /// The committed offset (the next record to consume), if any.
    pub committed: Option<u64>,
    /// The partition's end offset.
    pub end: u64,
    /// `end - committed`; from the partition's start when nothing is committed.
    pub lag: u64,
    /// The member consuming it now, if any.
    pub consumer: Option<u64>,
}

/// Every group with commits, a state log, or members in this handle, sorted.
pub(crate) fn group_names(groups: &GroupState, storage: &dyn Storage) -> Result<Vec<String>> {
    let mut names: BTreeSet<String> = groups.known_groups().map(str::to_string).collect();
    for file in storage.list("groups/")? {
        let Some(hex) = file.strip_prefix("groups/").and_then(|rest| rest.split('/').next()) else {
            continue;
        };
        if let Some(name) = GroupStore::name_of(hex) {
            names.insert(name);
        }
    }
    Ok(names.into_iter().collect())
}

/// One group, read without joining it (a group this handle has members in
/// is described from its memory).
pub(crate) fn describe(
    groups: &GroupState,
    topics: &Topics,
    storage: &dyn Storage,
    chunks: &ChunkCache,
    group: &str,
) -> Result<GroupInfo> {
    let membership = match groups.membership(group) {
        Some(m) => m.clone(),
        None => GroupStore::read(storage, group, chunks)?.unwrap_or_default(),
    };
    let mut offsets = BTreeMap::new();
    let mut add = |tp: &TopicPartition| {
        let Some(partition) = topics.get(&tp.0).and_then(|t| t.partition(tp.1).ok()) else { return };
        let committed = groups.committed_offset(group, &tp.0, tp.1);
        let end = partition.end_offset();
        let from = committed.unwrap_or_else(|| partition.start_offset()).min(end);
        let consumer = membership.held.get(tp).copied();
        offsets.insert(tp.clone(), OffsetInfo { committed, end, lag: end - from, consumer });
    };
    for tp in groups.committed_partitions(group) {
        add(&tp);
    }
    for tp in membership.held.keys() {
        add(tp);
    }
    let members = membership
        .members
        .keys()
        .map(|id| GroupMember { member_id: *id, assignment: owned(&membership, *id) })
        .collect();
    Ok(GroupInfo { group: group.to_string(), generation: membership.generation, members, offsets })
}

fn owned(m: &Membership, member: u64) -> Vec<TopicPartition> {
    m.held.iter().filter(|(_, owner)| **owner == member).map(|(tp, _)| tp.clone()).collect()
}
