//! A consumer group's shared state: its members (of every handle, in any
//! process), the target assignment, and who holds each partition now —
//! and the events that change it, logged in the group's state log
//! (`groups/<group>/`), so every handle replays the same state.
//!
//! A partition changes hands in two steps: an assignment names its new
//! owner, and its old owner keeps it until it releases it (after
//! committing, when it auto-commits) or leaves the group (closed, its
//! session expired, or its process died). So a partition is never held by
//! two members at once, and committed work is not redone.

use std::collections::BTreeMap;

use crate::groups::assignor::{Assignor, TopicPartition};
use crate::log::batch::Origin;
use crate::log::chunk_cache::ChunkCache;
use crate::log::state_log::{Replicated, StateLog};
use crate::log::wire::{put_bytes, put_varint, put_zigzag, Wire};
use crate::storage::Storage;
use crate::Result;

/// A member as every handle sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MemberInfo {
    /// The handle running it (see `crate::holder`).
    pub holder: u64,
    pub topics: Vec<String>,
    pub assignor: Assignor,
    pub session_timeout_ms: i64,
    /// When it was last known to poll (clock ms).
    pub last_seen_ms: i64,
}

/// The state every handle of a group shares.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Membership {
    pub generation: u64,
    pub members: BTreeMap<u64, MemberInfo>,
    /// Who is to own each partition.
    pub assignment: BTreeMap<TopicPartition, u64>,
    /// Who consumes each partition now: its target owner, or its previous
    /// owner until that one releases it.
    pub held: BTreeMap<TopicPartition, u64>,
    /// Partition counts of the subscribed topics at the last assignment.
    pub partitions: BTreeMap<String, u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Event {
    Joined { member: u64, info: MemberInfo },
    Seen { member: u64, at_ms: i64 },
    Left { member: u64 },
    Assigned { partitions: BTreeMap<String, u32>, assignment: BTreeMap<TopicPartition, u64> },
    Released { member: u64, parts: Vec<TopicPartition> },
}

impl Membership {
    pub fn apply(&mut self, event: Event) {
        match event {
            Event::Joined { member, info } => {
                self.members.insert(member, info);
            }
            Event::Seen { member, at_ms } => {
                if let Some(m) = self.members.get_mut(&member) {
                    m.last_seen_ms = m.last_seen_ms.max(at_ms);
                }
            }
            Event::Left { member } => {
                self.members.remove(&member);
                let gone: Vec<TopicPartition> =
                    self.held.iter().filter(|(_, m)| **m == member).map(|(tp, _)| tp.clone()).collect();
                for tp in gone {
                    self.hand_over(tp);
                }
            }
            Event::Assigned { partitions, assignment } => {
                self.generation += 1;
                self.partitions = partitions;
                self.assignment = assignment;
                // Partitions nobody live holds go to their target at once;
                // a live holder keeps its own until it releases them.
                let stale: Vec<TopicPartition> = self
                    .held
                    .iter()
                    .filter(|(_, m)| !self.members.contains_key(m))
                    .map(|(tp, _)| tp.clone())
                    .collect();
                for tp in stale {
                    self.held.remove(&tp);
                }
                for (tp, owner) in &self.assignment {
                    self.held.entry(tp.clone()).or_insert(*owner);
                }
            }
            Event::Released { member, parts } => {
                for tp in parts {
                    if self.held.get(&tp) == Some(&member) {
                        self.hand_over(tp);
                    }
                }
            }
        }
    }

    /// A partition's holder let it go: its target owner takes it (when
    /// that is another live member).
    fn hand_over(&mut self, tp: TopicPartition) {
        match self.assignment.get(&tp) {
            Some(owner) if self.members.contains_key(owner) && self.held.get(&tp) != Some(owner) => {
                self.held.insert(tp, *owner);
            }
            _ => {
                self.held.remove(&tp);
            }
        }
    }

    /// The partitions `member` holds: assigned to it, or on their way to
    /// another member until it gives them up (as a Kafka consumer keeps a
    /// revoked partition until its poll completes the revocation).
    pub fn owned(&self, member: u64) -> Vec<TopicPartition> {
        self.held.iter().filter(|(_, m)| **m == member).map(|(tp, _)| tp.clone()).collect()
    }

    /// The partitions `member` holds but must give up.
    pub fn revoking(&self, member: u64) -> Vec<TopicPartition> {
        self.held
            .iter()
            .filter(|(tp, m)| **m == member && self.assignment.get(*tp) != Some(&member))
            .map(|(tp, _)| tp.clone())
            .collect()
    }
}

fn assignor_code(a: Assignor) -> u64 {
    match a {
        Assignor::Range => 0,
        Assignor::RoundRobin => 1,
        Assignor::CooperativeSticky => 2,
    }
}

fn assignor_of(code: u64) -> Option<Assignor> {
    Some(match code {
        0 => Assignor::Range,
        1 => Assignor::RoundRobin,
        2 => Assignor::CooperativeSticky,
        _ => return None,
    })
}

fn put_member(out: &mut Vec<u8>, member: u64, info: &MemberInfo) {
    put_varint(out, member);
    put_varint(out, info.holder);
    put_varint(out, assignor_code(info.assignor));
    put_zigzag(out, info.session_timeout_ms);
    put_zigzag(out, info.last_seen_ms);
    put_varint(out, info.topics.len() as u64);
    for t in &info.topics {
        put_bytes(out, t.as_bytes());
    }
}

fn get_member(wire: &mut Wire<'_>) -> Option<(u64, MemberInfo)> {
    let member = wire.u64()?;
    let holder = wire.u64()?;
    let assignor = assignor_of(wire.u64()?)?;
    let session_timeout_ms = wire.i64()?;
    let last_seen_ms = wire.i64()?;
    let n = wire.u64()?;
    let mut topics = Vec::new();
    for _ in 0..n {
        topics.push(wire.str()?.to_string());
    }
    Some((member, MemberInfo { holder, topics, assignor, session_timeout_ms, last_seen_ms }))
}

fn put_counts(out: &mut Vec<u8>, counts: &BTreeMap<String, u32>) {
    put_varint(out, counts.len() as u64);
    for (t, n) in counts {
        put_bytes(out, t.as_bytes());
        put_varint(out, u64::from(*n));
    }
}

fn get_counts(wire: &mut Wire<'_>) -> Option<BTreeMap<String, u32>> {
    let mut out = BTreeMap::new();
    for _ in 0..wire.u64()? {
        let t = wire.str()?.to_string();
        out.insert(t, wire.u32()?);
    }
    Some(out)
}

fn put_owners(out: &mut Vec<u8>, owners: &BTreeMap<TopicPartition, u64>) {
    put_varint(out, owners.len() as u64);
    for ((t, p), m) in owners {
        put_bytes(out, t.as_bytes());
        put_varint(out, u64::from(*p));
        put_varint(out, *m);
    }
}

fn get_owners(wire: &mut Wire<'_>) -> Option<BTreeMap<TopicPartition, u64>> {
    let mut out = BTreeMap::new();
    for _ in 0..wire.u64()? {
        let t = wire.str()?.to_string();
        let p = wire.u32()?;
        out.insert((t, p), wire.u64()?);
    }
    Some(out)
}

fn encode_events(events: &[Event]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in events {
        match e {
            Event::Joined { member, info } => {
                out.push(1);
                put_member(&mut out, *member, info);
            }
            Event::Seen { member, at_ms } => {
                out.push(2);
                put_varint(&mut out, *member);
                put_zigzag(&mut out, *at_ms);
            }
            Event::Left { member } => {
                out.push(3);
                put_varint(&mut out, *member);
            }
            Event::Assigned { partitions, assignment } => {
                out.push(4);
                put_counts(&mut out, partitions);
                put_owners(&mut out, assignment);
            }
            Event::Released { member, parts } => {
                out.push(5);
                put_varint(&mut out, *member);
                put_varint(&mut out, parts.len() as u64);
                for (t, p) in parts {
                    put_bytes(&mut out, t.as_bytes());
                    put_varint(&mut out, u64::from(*p));
                }
            }
        }
    }
    out
}

fn decode_events(buf: &[u8]) -> Option<Vec<Event>> {
    let mut wire = Wire::new(buf);
    let mut out = Vec::new();
    while let Some((&kind, rest)) = wire.rest.split_first() {
        wire.rest = rest;
        out.push(match kind {
            1 => {
                let (member, info) = get_member(&mut wire)?;
                Event::Joined { member, info }
            }
            2 => Event::Seen { member: wire.u64()?, at_ms: wire.i64()? },
            3 => Event::Left { member: wire.u64()? },
            4 => Event::Assigned { partitions: get_counts(&mut wire)?, assignment: get_owners(&mut wire)? },
            5 => {
                let member = wire.u64()?;
                let mut parts = Vec::new();
                for _ in 0..wire.u64()? {
                    let t = wire.str()?.to_string();
                    parts.push((t, wire.u32()?));
                }
                Event::Released { member, parts }
            }
            _ => return None,
        });
    }
    Some(out)
}

const SNAPSHOT_MAGIC: &[u8; 4] = b"LPGS";
const SNAPSHOT_VERSION: u32 = 1;

fn encode_snapshot(replay_from: u64, m: &Membership) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(SNAPSHOT_MAGIC);
    out.extend_from_slice(&SNAPSHOT_VERSION.to_le_bytes());
    out.extend_from_slice(&replay_from.to_le_bytes());
    put_varint(&mut out, m.generation);
    put_varint(&mut out, m.members.len() as u64);
    for (id, info) in &m.members {
        put_member(&mut out, *id, info);
    }
    put_counts(&mut out, &m.partitions);
    put_owners(&mut out, &m.assignment);
    put_owners(&mut out, &m.held);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

fn decode_snapshot(buf: &[u8]) -> Option<(u64, Membership)> {
    if buf.len() < 20 {
        return None;
    }
    let (body, crc) = buf.split_at(buf.len() - 4);
    if crc32fast::hash(body).to_le_bytes() != crc
        || &body[..4] != SNAPSHOT_MAGIC
        || body[4..8] != SNAPSHOT_VERSION.to_le_bytes()
    {
        return None;
    }
    let replay_from = u64::from_le_bytes(body[8..16].try_into().ok()?);
    let mut wire = Wire::new(&body[16..]);
    let mut m = Membership { generation: wire.u64()?, ..Membership::default() };
    for _ in 0..wire.u64()? {
        let (id, info) = get_member(&mut wire)?;
        m.members.insert(id, info);
    }
    m.partitions = get_counts(&mut wire)?;
    m.assignment = get_owners(&mut wire)?;
    m.held = get_owners(&mut wire)?;
    wire.rest.is_empty().then_some((replay_from, m))
}

/// A group's state log.
#[derive(Debug)]
pub(crate) struct GroupStore {
    state: StateLog,
}

impl GroupStore {
    fn dir(group: &str) -> String {
        // Group ids are any non-empty string: hex keeps the name a name.
        let hex: String = group.bytes().map(|b| format!("{b:02x}")).collect();
        format!("groups/{hex}")
    }

    fn origin(group: &str) -> Origin {
        Origin { topic: format!("__group/{group}").into(), partition: 0 }
    }

    /// The group whose directory is `groups/<hex>`, if `hex` is one.
    pub fn name_of(hex: &str) -> Option<String> {
        if hex.is_empty() || !hex.len().is_multiple_of(2) {
            return None;
        }
        let bytes: Option<Vec<u8>> =
            (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok()).collect();
        String::from_utf8(bytes?).ok()
    }

    /// The group's state as its files hold it, read without changing them
    /// (`None`: it has none).
    pub fn read(storage: &dyn Storage, group: &str, chunks: &ChunkCache) -> Result<Option<Membership>> {
        let dir = GroupStore::dir(group);
        let snapshot = format!("{dir}/snapshot");
        if !storage.list(&snapshot)?.contains(&snapshot) {
            return Ok(None);
        }
        let place = (dir, Self::origin(group));
        let (_, membership) = StateLog::open(storage, place, chunks, false, decode_snapshot, |_| ())?;
        Ok(Some(membership))
    }

    /// The group's store and state: opened when its files exist, else
    /// created empty.
    pub fn open_or_create(
        storage: &dyn Storage,
        group: &str,
        chunks: &ChunkCache,
        durable: bool,
    ) -> Result<(GroupStore, Membership)> {
        let dir = GroupStore::dir(group);
        let snapshot = format!("{dir}/snapshot");
        if !storage.list(&snapshot)?.contains(&snapshot) {
            let empty = Membership::default();
            let state = StateLog::create(
                storage,
                dir,
                Self::origin(group),
                |from| encode_snapshot(from, &empty),
                durable,
            )?;
            return Ok((GroupStore { state }, empty));
        }
        let place = (dir, Self::origin(group));
        let (state, membership) = StateLog::open(storage, place, chunks, durable, decode_snapshot, |_| ())?;
        Ok((GroupStore { state }, membership))
    }

    /// Takes in the events other handles logged. `Ok(false)`: snapshotted
    /// past this handle's replay; the caller opens the group again.
    pub fn catch_up(
        &mut self,
        storage: &dyn Storage,
        chunks: &ChunkCache,
        membership: &mut Membership,
        names_changed: bool,
    ) -> Result<bool> {
        self.state.catch_up_into(storage, chunks, membership, names_changed)
    }

    /// Logs events already applied to `membership`.
    pub fn log(
        &mut self,
        storage: &dyn Storage,
        events: &[Event],
        membership: &Membership,
        fsync: bool,
        now_ms: i64,
    ) -> Result<()> {
        self.state.log(storage, events, membership, fsync, now_ms)
    }
}

impl Replicated for Membership {
    type Event = Event;

    fn encode_events(events: &[Event]) -> Vec<u8> {
        encode_events(events)
    }

    fn decode_events(buf: &[u8]) -> Option<Vec<Event>> {
        decode_events(buf)
    }

    fn apply(&mut self, event: Event) {
        Membership::apply(self, event);
    }

    fn encode_snapshot(&self, replay_from: u64) -> Vec<u8> {
        encode_snapshot(replay_from, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(holder: u64) -> MemberInfo {
        MemberInfo {
            holder,
            topics: vec!["t".into()],
            assignor: Assignor::Range,
            session_timeout_ms: 30_000,
            last_seen_ms: -5,
        }
    }

    #[test]
    fn events_and_snapshots_round_trip() {
        let tp = |p| ("t".to_string(), p);
        let events = vec![
            Event::Joined { member: 1 << 30, info: info(7) },
            Event::Seen { member: 3, at_ms: 1_700_000_000_000 },
            Event::Left { member: 9 },
            Event::Assigned {
                partitions: BTreeMap::from([("t".into(), 2)]),
                assignment: BTreeMap::from([(tp(0), 1), (tp(1), 2)]),
            },
            Event::Released { member: 1, parts: vec![tp(0)] },
        ];
        assert_eq!(decode_events(&encode_events(&events)), Some(events.clone()));
        assert_eq!(decode_events(&[9]), None);
        let mut m = Membership::default();
        for e in events {
            m.apply(e);
        }
        let bytes = encode_snapshot(42, &m);
        assert_eq!(decode_snapshot(&bytes), Some((42, m)));
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 1;
            assert!(decode_snapshot(&bad).is_none(), "byte {i}");
        }
    }

    #[test]
    fn a_partition_moves_only_once_its_holder_lets_go() {
        let tp = ("t".to_string(), 0);
        let mut m = Membership::default();
        m.apply(Event::Joined { member: 1, info: info(1) });
        m.apply(Event::Assigned {
            partitions: BTreeMap::from([("t".into(), 1)]),
            assignment: BTreeMap::from([(tp.clone(), 1)]),
        });
        assert_eq!(m.owned(1), vec![tp.clone()]);
        m.apply(Event::Joined { member: 2, info: info(2) });
        m.apply(Event::Assigned {
            partitions: BTreeMap::from([("t".into(), 1)]),
            assignment: BTreeMap::from([(tp.clone(), 2)]),
        });
        // Assigned to 2, still held by 1: 2 waits for it.
        assert!(m.owned(2).is_empty());
        assert_eq!((m.owned(1), m.revoking(1)), (vec![tp.clone()], vec![tp.clone()]));
        m.apply(Event::Released { member: 1, parts: vec![tp.clone()] });
        assert_eq!(m.owned(2), vec![tp.clone()]);
        // A holder that leaves hands over at once.
        m.apply(Event::Assigned {
            partitions: BTreeMap::from([("t".into(), 1)]),
            assignment: BTreeMap::from([(tp.clone(), 1)]),
        });
        assert_eq!(m.revoking(2), vec![tp.clone()]);
        m.apply(Event::Left { member: 2 });
        assert_eq!(m.owned(1), vec![tp]);
    }
}
