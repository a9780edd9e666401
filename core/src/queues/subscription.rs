//! A queue subscription's state: per partition, which records are settled,
//! leased (in flight), waiting for redelivery, or parked; and its
//! durable form — an event log (an internal partition) plus a snapshot.
//!
//! Per partition, every offset below `floor` is settled; every offset at or
//! above `next_fresh` has never been delivered; every offset in between is
//! exactly one of: settled, leased, pending (waiting) or parked.

use std::collections::{BTreeMap, BTreeSet};

use crate::log::batch::Origin;
use crate::log::chunk_cache::ChunkCache;
use crate::log::state_log::{Replicated, StateLog};
use crate::log::wire::{put_bytes, put_varint, put_zigzag, Wire};
use crate::queues::range_set::RangeSet;
use crate::storage::Storage;
use crate::Result;

/// A record delivered before and waiting to be delivered again.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    pub available_at_ms: i64,
    pub count: u32,
    pub reason: String,
    /// The lease it came back from: a late ack of that lease still settles it.
    pub last_lease: u64,
    /// Deliverable only once every record below this offset was delivered
    /// once (or none is left): a nacked record goes behind the records
    /// already waiting, so one failing record never starves the rest.
    pub behind: u64,
}

#[derive(Debug, Clone)]
pub(crate) struct Lease {
    /// The consumer of this handle holding it; [`FOREIGN`] for another
    /// handle's (in this process or another).
    pub consumer: u64,
    pub lease_id: u64,
    pub deadline_ms: i64,
    pub count: u32,
    /// The handle holding it (`QueueState::holder`).
    pub holder: u64,
}

/// The consumer id of a lease another handle holds.
pub(crate) const FOREIGN: u64 = u64::MAX;

/// A record past its maximum deliveries with no dead-letter topic: kept,
/// reported, never delivered again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParkedRecord {
    pub partition: u32,
    pub offset: u64,
    pub delivery_count: u32,
    pub reason: String,
}

/// A subscription's stored settings: written when it is first attached,
/// changed only by `update_subscription` (and then seen by every handle).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionSettings {
    /// How long a delivery is leased before it is redelivered.
    pub ack_timeout_ms: i64,
    /// Deliveries after which a record is dead-lettered (or parked).
    pub max_deliveries: Option<u32>,
    /// Where dead letters go; without one they are parked.
    pub dead_letter_topic: Option<String>,
    /// `(initial, max)`: a nack without a delay waits
    /// `initial * 2^(delivery_count - 1)`, at most `max`.
    pub retry_backoff_ms: Option<(i64, i64)>,
}

impl SubscriptionSettings {
    /// The settings of a subscription attached with none given.
    pub const DEFAULT: SubscriptionSettings = SubscriptionSettings {
        ack_timeout_ms: crate::surface::DEFAULT_ACK_TIMEOUT_MS,
        max_deliveries: None,
        dead_letter_topic: None,
        retry_backoff_ms: None,
    };
}

impl Default for SubscriptionSettings {
    fn default() -> SubscriptionSettings {
        SubscriptionSettings::DEFAULT
    }
}

/// Why a record the queue never delivered was dead-lettered or parked: it
/// outlived its `ttl`.
pub(crate) const EXPIRED: &str = "expired";

/// Everything a subscription's snapshot and state log hold.
#[derive(Debug, Default)]
pub(crate) struct SubState {
    pub parts: Vec<PartitionState>,
    /// `None` until a consumer first attaches (and for subscriptions made
    /// before settings were stored): that attach stores them.
    pub settings: Option<SubscriptionSettings>,
    /// Records sent to the dead-letter topic, ever.
    pub dead_lettered: u64,
    /// Records that expired before delivery (dead-lettered or parked), ever.
    pub expired: u64,
}

impl SubState {
    /// The settings in force: the stored ones, or the defaults.
    pub fn settings(&self) -> &SubscriptionSettings {
        static DEFAULT: SubscriptionSettings = SubscriptionSettings::DEFAULT;
        self.settings.as_ref().unwrap_or(&DEFAULT)
    }
}

#[derive(Debug, Default)]
pub(crate) struct PartitionState {
    pub floor: u64,
    pub next_fresh: u64,
    pub settled: RangeSet,
    pub pending: BTreeMap<u64, Pending>,
    pub leases: BTreeMap<u64, Lease>,
    pub parked: BTreeMap<u64, (u32, String)>,
}

impl PartitionState {
    fn at(offset: u64) -> PartitionState {
        PartitionState { floor: offset, next_fresh: offset, ..PartitionState::default() }
    }

    /// Marks `[from, to)` settled and moves the floor past settled offsets.
    pub fn settle_range(&mut self, from: u64, to: u64) {
        let from = from.max(self.floor);
        if from >= to {
            return;
        }
        self.settled.insert_range(from, to);
        self.next_fresh = self.next_fresh.max(to);
        while let Some(end) = self.settled.take_from(self.floor) {
            self.floor = end;
        }
    }

    /// Unsettled records up to `end` (in flight and parked included).
    pub fn backlog(&self, end: u64) -> u64 {
        end.saturating_sub(self.floor).saturating_sub(self.settled.len())
    }

    /// Settles everything below `start`: those records are gone from the log.
    pub fn drop_below(&mut self, start: u64) -> bool {
        if self.floor >= start {
            return false;
        }
        self.pending.retain(|o, _| *o >= start);
        self.leases.retain(|o, _| *o >= start);
        self.parked.retain(|o, _| *o >= start);
        self.settle_range(self.floor, start);
        true
    }
}

/// The state-log events (one state-log record holds several).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Event {
    /// Delivered, lease unknown (written before leases were logged).
    Delivered {
        partition: u32,
        offset: u64,
        count: u32,
    },
    Settled {
        partition: u32,
        from: u64,
        to: u64,
    },
    Parked {
        partition: u32,
        offset: u64,
        count: u32,
        reason: String,
    },
    /// Delivered (the `count`th time) under a lease of handle `holder`
    /// until `deadline_ms`.
    Leased {
        partition: u32,
        offset: u64,
        count: u32,
        holder: u64,
        lease_id: u64,
        deadline_ms: i64,
    },
    /// Back from a lease (nacked, its consumer closed, its holder died):
    /// deliverable from `available_at_ms`, behind the records below `behind`.
    Returned {
        partition: u32,
        offset: u64,
        count: u32,
        lease_id: u64,
        available_at_ms: i64,
        behind: u64,
        reason: String,
    },
    /// The subscription's settings, stored or changed.
    Configured(SubscriptionSettings),
    /// Sent to the dead-letter topic (and so settled); `expired` when it
    /// outlived its ttl.
    DeadLettered {
        partition: u32,
        offset: u64,
        count: u32,
        expired: bool,
    },
}

/// The most leases one state-log record holds in runs (kind 6): a bound on
/// what decoding one record may expand to. A receive leases at most this
/// many records, so its record never holds more.
pub(crate) const MAX_LEASES_PER_RECORD: u64 = 1 << 16;

/// How many events from `events[0]` (a `Leased`) form a run: offsets and
/// lease ids one apart, the same partition, count, holder and deadline (a
/// receive of fresh records leases them so).
fn leased_run(events: &[Event]) -> usize {
    let Some(Event::Leased { partition, offset, count, holder, lease_id, deadline_ms }) = events.first()
    else {
        return 0;
    };
    let mut n = 1;
    while let Some(Event::Leased {
        partition: p,
        offset: o,
        count: c,
        holder: h,
        lease_id: l,
        deadline_ms: d,
    }) = events.get(n)
    {
        let step = n as u64;
        let follows = offset.checked_add(step) == Some(*o) && lease_id.checked_add(step) == Some(*l);
        if !(follows && p == partition && c == count && h == holder && d == deadline_ms)
            || step >= MAX_LEASES_PER_RECORD
        {
            break;
        }
        n += 1;
    }
    n
}

fn encode_events(events: &[Event]) -> Vec<u8> {
    let mut out = Vec::with_capacity(events.len() * 8);
    let mut at = 0;
    while let Some(e) = events.get(at) {
        at += 1;
        let run = leased_run(&events[at - 1..]);
        if run > 1 {
            if let Event::Leased { partition, offset, count, holder, lease_id, deadline_ms } = e {
                out.push(6);
                put_varint(&mut out, u64::from(*partition));
                put_varint(&mut out, *offset);
                put_varint(&mut out, run as u64);
                put_varint(&mut out, u64::from(*count));
                put_varint(&mut out, *holder);
                put_varint(&mut out, *lease_id);
                put_zigzag(&mut out, *deadline_ms);
                at += run - 1;
                continue;
            }
        }
        match e {
            Event::Delivered { partition, offset, count } => {
                out.push(1);
                put_varint(&mut out, u64::from(*partition));
                put_varint(&mut out, *offset);
                put_varint(&mut out, u64::from(*count));
            }
            Event::Settled { partition, from, to } => {
                out.push(2);
                put_varint(&mut out, u64::from(*partition));
                put_varint(&mut out, *from);
                put_varint(&mut out, *to);
            }
            Event::Parked { partition, offset, count, reason } => {
                out.push(3);
                put_varint(&mut out, u64::from(*partition));
                put_varint(&mut out, *offset);
                put_varint(&mut out, u64::from(*count));
                put_bytes(&mut out, reason.as_bytes());
            }
            Event::Leased { partition, offset, count, holder, lease_id, deadline_ms } => {
                out.push(4);
                put_varint(&mut out, u64::from(*partition));
                put_varint(&mut out, *offset);
                put_varint(&mut out, u64::from(*count));
                put_varint(&mut out, *holder);
                put_varint(&mut out, *lease_id);
                put_zigzag(&mut out, *deadline_ms);
            }
            Event::Configured(settings) => {
                out.push(7);
                put_varint(&mut out, 0);
                encode_settings(&mut out, settings);
            }
            Event::DeadLettered { partition, offset, count, expired } => {
                out.push(8);
                put_varint(&mut out, u64::from(*partition));
                put_varint(&mut out, *offset);
                put_varint(&mut out, u64::from(*count));
                put_varint(&mut out, u64::from(*expired));
            }
            Event::Returned { partition, offset, count, lease_id, available_at_ms, behind, reason } => {
                out.push(5);
                put_varint(&mut out, u64::from(*partition));
                put_varint(&mut out, *offset);
                put_varint(&mut out, u64::from(*count));
                put_varint(&mut out, *lease_id);
                put_zigzag(&mut out, *available_at_ms);
                put_varint(&mut out, *behind);
                put_bytes(&mut out, reason.as_bytes());
            }
        }
    }
    out
}

fn decode_events(buf: &[u8]) -> Option<Vec<Event>> {
    let mut wire = Wire::new(buf);
    let mut out = Vec::new();
    let mut in_runs = 0u64;
    while let Some((&kind, rest)) = wire.rest.split_first() {
        wire.rest = rest;
        let partition = wire.u32()?;
        // Offsets name records: u64::MAX never does (its successor would
        // overflow), and a settled range never runs backwards.
        let offset = |o: u64| (o < u64::MAX).then_some(o);
        let event = match kind {
            1 => Event::Delivered { partition, offset: offset(wire.u64()?)?, count: wire.u32()? },
            2 => {
                let (from, to) = (wire.u64()?, wire.u64()?);
                if from > to {
                    return None;
                }
                Event::Settled { partition, from, to }
            }
            3 => Event::Parked {
                partition,
                offset: offset(wire.u64()?)?,
                count: wire.u32()?,
                reason: wire.str()?.to_string(),
            },
            4 => Event::Leased {
                partition,
                offset: offset(wire.u64()?)?,
                count: wire.u32()?,
                holder: wire.u64()?,
                lease_id: wire.u64()?,
                deadline_ms: wire.i64()?,
            },
            5 => Event::Returned {
                partition,
                offset: offset(wire.u64()?)?,
                count: wire.u32()?,
                lease_id: wire.u64()?,
                available_at_ms: wire.i64()?,
                behind: wire.u64()?,
                reason: wire.str()?.to_string(),
            },
            6 => {
                // `n` leases in a row, expanded (a bounded `n`; no offset or
                // lease id past the last may overflow).
                let (first, n, count) = (wire.u64()?, wire.u64()?, wire.u32()?);
                let (holder, lease_id, deadline_ms) = (wire.u64()?, wire.u64()?, wire.i64()?);
                in_runs = in_runs.saturating_add(n);
                if n < 2 || in_runs > MAX_LEASES_PER_RECORD || offset(first.checked_add(n - 1)?).is_none() {
                    return None;
                }
                lease_id.checked_add(n - 1)?;
                out.extend((0..n - 1).map(|i| Event::Leased {
                    partition,
                    offset: first + i,
                    count,
                    holder,
                    lease_id: lease_id + i,
                    deadline_ms,
                }));
                Event::Leased {
                    partition,
                    offset: first + n - 1,
                    count,
                    holder,
                    lease_id: lease_id + n - 1,
                    deadline_ms,
                }
            }
            7 => Event::Configured(decode_settings(&mut wire)?),
            8 => Event::DeadLettered {
                partition,
                offset: offset(wire.u64()?)?,
                count: wire.u32()?,
                expired: match wire.u64()? {
                    0 => false,
                    1 => true,
                    _ => return None,
                },
            },
            _ => return None,
        };
        out.push(event);
    }
    Some(out)
}

/// Settings as varints: ack timeout (> 0), max deliveries (0: none),
/// dead-letter topic (bytes; empty: none), retry backoff initial (0: none)
/// and max.
fn encode_settings(out: &mut Vec<u8>, s: &SubscriptionSettings) {
    put_varint(out, s.ack_timeout_ms.max(1) as u64);
    put_varint(out, u64::from(s.max_deliveries.unwrap_or(0)));
    put_bytes(out, s.dead_letter_topic.as_deref().unwrap_or("").as_bytes());
    let (initial, max) = s.retry_backoff_ms.unwrap_or((0, 0));
    put_varint(out, initial.max(0) as u64);
    put_varint(out, max.max(0) as u64);
}

fn decode_settings(wire: &mut Wire<'_>) -> Option<SubscriptionSettings> {
    let millis = |v: u64| i64::try_from(v).ok();
    let ack_timeout_ms = millis(wire.u64()?).filter(|&ms| ms > 0)?;
    let max_deliveries = Some(wire.u32()?).filter(|&n| n > 0);
    let dead_letter_topic = Some(wire.str()?.to_string()).filter(|t| !t.is_empty());
    let (initial, max) = (millis(wire.u64()?)?, millis(wire.u64()?)?);
    let retry_backoff_ms = (initial > 0).then_some((initial, max));
    Some(SubscriptionSettings { ack_timeout_ms, max_deliveries, dead_letter_topic, retry_backoff_ms })
}

/// The reason a record pending at reopen carries (reasons are not logged).
pub(crate) const REOPENED: &str = "pending when the pond was reopened";

const SNAPSHOT_MAGIC: &[u8; 4] = b"LPQS";
/// Version 3 adds pending records' reasons and places, the settings and
/// the dead-letter counts; version 2 added leases and when pending records
/// are due. Versions 1 (leases as pending records, due at once) and 2 are
/// still read.
const SNAPSHOT_VERSION: u32 = 3;

/// The durable half of a subscription: its directory's state log.
#[derive(Debug)]
pub(crate) struct SubscriptionStore {
    state: StateLog,
}

impl SubscriptionStore {
    pub fn dir_for(topic: &str, subscription: &str) -> String {
        format!("queues/{topic}/{subscription}")
    }

    fn origin(topic: &str, subscription: &str) -> Origin {
        Origin { topic: format!("__queue/{topic}/{subscription}").into(), partition: 0 }
    }

    /// Creates the store for a new subscription whose partitions start at `starts`.
    pub fn create(
        storage: &dyn Storage,
        topic: &str,
        subscription: &str,
        starts: &[u64],
        durable: bool,
        settings: SubscriptionSettings,
    ) -> Result<(SubscriptionStore, SubState)> {
        let dir = SubscriptionStore::dir_for(topic, subscription);
        let parts: Vec<PartitionState> = starts.iter().map(|s| PartitionState::at(*s)).collect();
        let sub = SubState { parts, settings: Some(settings), ..SubState::default() };
        let origin = Self::origin(topic, subscription);
        let state = StateLog::create(storage, dir, origin, |from| encode_snapshot(from, &sub), durable)?;
        Ok((SubscriptionStore { state }, sub))
    }

    /// Loads the snapshot and replays the events logged after it.
    pub fn open(
        storage: &dyn Storage,
        topic: &str,
        subscription: &str,
        partitions: u32,
        chunks: &ChunkCache,
        durable: bool,
    ) -> Result<(SubscriptionStore, SubState)> {
        let dir = SubscriptionStore::dir_for(topic, subscription);
        let place = (dir, Self::origin(topic, subscription));
        let fit = |sub: &mut SubState| sub.parts.resize_with(partitions as usize, PartitionState::default);
        let (state, parts) = StateLog::open(storage, place, chunks, durable, decode_snapshot, fit)?;
        Ok((SubscriptionStore { state }, parts))
    }

    /// Takes in the events other handles logged since this one last looked
    /// (after a listing, when names changed). `Ok(false)` when they were
    /// snapshotted and freed before this handle replayed them: the caller
    /// opens the subscription again.
    pub fn catch_up(
        &mut self,
        storage: &dyn Storage,
        chunks: &ChunkCache,
        sub: &mut SubState,
        names_changed: bool,
    ) -> Result<bool> {
        self.state.catch_up_into(storage, chunks, sub, names_changed)
    }

    /// Appends events (already applied to `sub`) as one record of the state log.
    pub fn log(
        &mut self,
        storage: &dyn Storage,
        events: &[Event],
        sub: &SubState,
        fsync: bool,
        now_ms: i64,
    ) -> Result<()> {
        self.state.log(storage, events, sub, fsync, now_ms)
    }

    /// Whether events were logged since the last snapshot.
    pub fn has_unsnapshotted(&self) -> bool {
        self.state.has_unsnapshotted()
    }

    /// Writes the whole state and frees the log before it.
    pub fn snapshot(&mut self, storage: &dyn Storage, sub: &SubState, durable: bool) -> Result<()> {
        self.state.snapshot(storage, |from| encode_snapshot(from, sub), durable)
    }

    pub fn remove_files(&self, storage: &dyn Storage) -> Result<()> {
        self.state.remove_files(storage)
    }

    pub fn sync(&self) -> Result<()> {
        self.state.sync()
    }
}

impl Replicated for SubState {
    type Event = Event;

    fn encode_events(events: &[Event]) -> Vec<u8> {
        encode_events(events)
    }

    fn decode_events(buf: &[u8]) -> Option<Vec<Event>> {
        decode_events(buf)
    }

    fn apply(&mut self, event: Event) {
        apply(self, event, 0);
    }

    fn encode_snapshot(&self, replay_from: u64) -> Vec<u8> {
        encode_snapshot(replay_from, self)
    }
}

/// Applies an event another handle logged (or one logged before this
/// handle opened) to the state; the engine applies its own events of
/// kinds that count (dead letters, parking) through here as well.
pub(crate) fn apply(state: &mut SubState, event: Event, now_ms: i64) {
    let pending = |count, reason: &str| Pending {
        available_at_ms: now_ms,
        count,
        reason: reason.into(),
        last_lease: 0,
        behind: 0,
    };
    match event {
        Event::Delivered { partition, offset, count } => {
            if let Some(s) = state.parts.get_mut(partition as usize) {
                if offset >= s.floor && !s.settled.contains(offset) {
                    s.next_fresh = s.next_fresh.max(offset + 1);
                    s.leases.remove(&offset);
                    s.pending.insert(offset, pending(count, REOPENED));
                }
            }
        }
        Event::Leased { partition, offset, count, holder, lease_id, deadline_ms } => {
            if let Some(s) = state.parts.get_mut(partition as usize) {
                if offset >= s.floor && !s.settled.contains(offset) {
                    s.next_fresh = s.next_fresh.max(offset + 1);
                    s.pending.remove(&offset);
                    s.leases
                        .insert(offset, Lease { consumer: FOREIGN, lease_id, deadline_ms, count, holder });
                }
            }
        }
        Event::Returned { partition, offset, count, lease_id, available_at_ms, behind, reason } => {
            if let Some(s) = state.parts.get_mut(partition as usize) {
                if offset >= s.floor && !s.settled.contains(offset) {
                    s.next_fresh = s.next_fresh.max(offset + 1);
                    s.leases.remove(&offset);
                    let back = Pending { available_at_ms, count, reason, last_lease: lease_id, behind };
                    s.pending.insert(offset, back);
                }
            }
        }
        Event::Settled { partition, from, to } => {
            if let Some(s) = state.parts.get_mut(partition as usize) {
                s.pending.retain(|o, _| !(from..to).contains(o));
                s.parked.retain(|o, _| !(from..to).contains(o));
                s.leases.retain(|o, _| !(from..to).contains(o));
                s.settle_range(from, to);
            }
        }
        Event::Parked { partition, offset, count, reason } => {
            if let Some(s) = state.parts.get_mut(partition as usize) {
                s.pending.remove(&offset);
                s.leases.remove(&offset);
                s.next_fresh = s.next_fresh.max(offset + 1);
                if reason == EXPIRED {
                    state.expired += 1;
                }
                s.parked.insert(offset, (count, reason));
            }
        }
        Event::DeadLettered { partition, offset, expired, .. } => {
            if let Some(s) = state.parts.get_mut(partition as usize) {
                s.pending.remove(&offset);
                s.leases.remove(&offset);
                s.parked.remove(&offset);
                s.settle_range(offset, offset + 1);
                state.dead_lettered += 1;
                if expired {
                    state.expired += 1;
                }
            }
        }
        Event::Configured(settings) => state.settings = Some(settings),
    }
}

fn encode_snapshot(replay_from: u64, state: &SubState) -> Vec<u8> {
    let parts = &state.parts;
    let mut out = Vec::new();
    out.extend_from_slice(SNAPSHOT_MAGIC);
    out.extend_from_slice(&SNAPSHOT_VERSION.to_le_bytes());
    out.extend_from_slice(&replay_from.to_le_bytes());
    put_varint(&mut out, parts.len() as u64);
    for s in parts {
        put_varint(&mut out, s.floor);
        put_varint(&mut out, s.next_fresh);
        let ranges: Vec<(u64, u64)> = s.settled.ranges().collect();
        put_varint(&mut out, ranges.len() as u64);
        for (a, b) in ranges {
            put_varint(&mut out, a);
            put_varint(&mut out, b);
        }
        put_varint(&mut out, s.pending.len() as u64);
        for (o, p) in &s.pending {
            put_varint(&mut out, *o);
            put_varint(&mut out, u64::from(p.count));
            put_zigzag(&mut out, p.available_at_ms);
            put_varint(&mut out, p.behind);
            put_bytes(&mut out, p.reason.as_bytes());
        }
        put_varint(&mut out, s.parked.len() as u64);
        for (o, (c, reason)) in &s.parked {
            put_varint(&mut out, *o);
            put_varint(&mut out, u64::from(*c));
            put_bytes(&mut out, reason.as_bytes());
        }
        put_varint(&mut out, s.leases.len() as u64);
        for (o, l) in &s.leases {
            put_varint(&mut out, *o);
            put_varint(&mut out, u64::from(l.count));
            put_varint(&mut out, l.holder);
            put_varint(&mut out, l.lease_id);
            put_zigzag(&mut out, l.deadline_ms);
        }
    }
    match &state.settings {
        Some(settings) => {
            out.push(1);
            encode_settings(&mut out, settings);
        }
        None => out.push(0),
    }
    put_varint(&mut out, state.dead_lettered);
    put_varint(&mut out, state.expired);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

fn decode_snapshot(buf: &[u8]) -> Option<(u64, SubState)> {
    if buf.len() < 20 {
        return None;
    }
    let (body, crc) = buf.split_at(buf.len() - 4);
    if crc32fast::hash(body).to_le_bytes() != crc {
        return None;
    }
    if &body[..4] != SNAPSHOT_MAGIC {
        return None;
    }
    let version = u32::from_le_bytes(body[4..8].try_into().ok()?);
    if !(1..=SNAPSHOT_VERSION).contains(&version) {
        return None;
    }
    let replay_from = u64::from_le_bytes(body[8..16].try_into().ok()?);
    let mut wire = Wire::new(&body[16..]);
    let n = wire.u64()?;
    let mut parts = Vec::new();
    for _ in 0..n {
        let mut s = PartitionState::at(wire.u64()?);
        s.next_fresh = wire.u64()?;
        for _ in 0..wire.u64()? {
            let (a, b) = (wire.u64()?, wire.u64()?);
            s.settled.insert_range(a, b);
        }
        for _ in 0..wire.u64()? {
            let (o, c) = (wire.u64()?, wire.u32()?);
            let available_at_ms = if version >= 2 { wire.i64()? } else { i64::MIN };
            let (behind, reason) =
                if version >= 3 { (wire.u64()?, wire.str()?.to_string()) } else { (0, REOPENED.into()) };
            s.pending.insert(o, Pending { available_at_ms, count: c, reason, last_lease: 0, behind });
        }
        for _ in 0..wire.u64()? {
            let (o, c) = (wire.u64()?, wire.u32()?);
            s.parked.insert(o, (c, wire.str()?.to_string()));
        }
        if version >= 2 {
            for _ in 0..wire.u64()? {
                let (o, count) = (wire.u64()?, wire.u32()?);
                let (holder, lease_id, deadline_ms) = (wire.u64()?, wire.u64()?, wire.i64()?);
                s.leases.insert(o, Lease { consumer: FOREIGN, lease_id, deadline_ms, count, holder });
            }
        }
        parts.push(s);
    }
    let mut state = SubState { parts, ..SubState::default() };
    if version >= 3 {
        state.settings = match wire.u64()? {
            0 => None,
            1 => Some(decode_settings(&mut wire)?),
            _ => return None,
        };
        state.dead_lettered = wire.u64()?;
        state.expired = wire.u64()?;
    }
    wire.rest.is_empty().then_some((replay_from, state))
}

/// Lease deadlines in time order, for finding expired leases quickly.
pub(crate) type Deadlines = BTreeSet<(i64, u32, u64)>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip() {
        let events = vec![
            Event::Delivered { partition: 1, offset: 300, count: 2 },
            Event::Settled { partition: 0, from: 5, to: 9 },
            Event::Parked { partition: 2, offset: 7, count: 5, reason: "ack timeout".into() },
            Event::Leased {
                partition: 0,
                offset: 8,
                count: 2,
                holder: 77,
                lease_id: 1 << 40,
                deadline_ms: -3,
            },
            Event::Returned {
                partition: 3,
                offset: 9,
                count: 1,
                lease_id: 4,
                available_at_ms: 1_700_000_000_000,
                behind: 12,
                reason: "nacked".into(),
            },
            Event::Configured(SubscriptionSettings::DEFAULT),
            Event::Configured(SubscriptionSettings {
                ack_timeout_ms: 1,
                max_deliveries: Some(2),
                dead_letter_topic: Some("d".into()),
                retry_backoff_ms: Some((10, 20)),
            }),
            Event::DeadLettered { partition: 1, offset: 4, count: 0, expired: true },
            Event::DeadLettered { partition: 0, offset: 5, count: 3, expired: false },
        ];
        assert_eq!(decode_events(&encode_events(&events)), Some(events));
        // A dead letter's flag is 0 or 1; an ack timeout is positive.
        assert_eq!(decode_events(&[8, 0, 1, 1, 2]), None);
        assert_eq!(decode_events(&[7, 0, 0, 0, 0, 0, 0]), None);
        assert_eq!(decode_events(&[9, 0]), None);
    }

    /// Leases of consecutive records under consecutive lease ids (what a
    /// receive of fresh records makes) are stored as one run event, and
    /// read back as the same events; anything that breaks the pattern
    /// starts a new event.
    #[test]
    fn leases_in_a_row_are_one_event() {
        let leased = |offset: u64, lease_id: u64, count: u32| Event::Leased {
            partition: 1,
            offset,
            count,
            holder: 5,
            lease_id,
            deadline_ms: 1_700_000_000_000,
        };
        let mut events: Vec<Event> = (0..100).map(|i| leased(40 + i, 900 + i, 1)).collect();
        let one_by_one: usize = events.iter().map(|e| encode_events(std::slice::from_ref(e)).len()).sum();
        let bytes = encode_events(&events);
        assert_eq!(bytes[0], 6);
        assert!(bytes.len() * 50 < one_by_one, "{} bytes, {one_by_one} one by one", bytes.len());
        assert_eq!(decode_events(&bytes).as_ref(), Some(&events));
        // Breaks: a gap in offsets, a lease id out of step, another count.
        events.push(leased(141, 1000, 1));
        events.push(leased(142, 1002, 1));
        events.push(leased(143, 1003, 2));
        events.push(Event::Settled { partition: 1, from: 1, to: 2 });
        events.push(leased(u64::MAX - 2, 7, 1));
        events.push(leased(u64::MAX - 1, 8, 1));
        assert_eq!(decode_events(&encode_events(&events)), Some(events));
        // A run may not be empty, alone, unbounded or overflow.
        let run = |n: u64, offset: u64| {
            let mut b = vec![6, 1];
            for v in [offset, n, 1, 5, 9] {
                crate::log::wire::put_varint(&mut b, v);
            }
            crate::log::wire::put_zigzag(&mut b, 0);
            b
        };
        assert!(decode_events(&run(2, 10)).is_some());
        for (n, offset) in [(0, 10), (1, 10), (MAX_LEASES_PER_RECORD + 1, 10), (3, u64::MAX - 2)] {
            assert_eq!(decode_events(&run(n, offset)), None, "n {n} offset {offset}");
        }
        // Nor may the runs of one record add up to more than a receive leases.
        let half = run(MAX_LEASES_PER_RECORD / 2, 10);
        assert!(decode_events(&[half.clone(), half.clone()].concat()).is_some());
        assert_eq!(decode_events(&[half.clone(), half.clone(), run(2, 10)].concat()), None);
    }

    #[test]
    fn snapshots_round_trip_and_reject_damage() {
        let mut s = PartitionState::at(10);
        s.settle_range(12, 14);
        s.next_fresh = 20;
        s.pending.insert(
            10,
            Pending { available_at_ms: 0, count: 2, reason: "x".into(), last_lease: 0, behind: 0 },
        );
        s.leases.insert(11, Lease { consumer: 1, lease_id: 9, deadline_ms: 5, count: 1, holder: 42 });
        s.parked.insert(15, (3, "nacked".into()));
        s.pending.insert(
            12,
            Pending { available_at_ms: 9, count: 1, reason: "bad input".into(), last_lease: 3, behind: 17 },
        );
        let settings = SubscriptionSettings {
            ack_timeout_ms: 5_000,
            max_deliveries: Some(3),
            dead_letter_topic: Some("orders.dlq".into()),
            retry_backoff_ms: Some((100, 800)),
        };
        let state = SubState {
            parts: vec![s, PartitionState::at(0)],
            settings: Some(settings.clone()),
            dead_lettered: 4,
            expired: 2,
        };
        let bytes = encode_snapshot(77, &state);
        let (from, decoded) = decode_snapshot(&bytes).unwrap();
        let parts = &decoded.parts;
        assert_eq!(from, 77);
        assert_eq!((parts[0].floor, parts[0].next_fresh), (10, 20));
        assert!(parts[0].settled.contains(13) && !parts[0].settled.contains(14));
        assert_eq!(parts[0].pending.keys().copied().collect::<Vec<_>>(), vec![10, 12]);
        assert_eq!(parts[0].pending[&10].available_at_ms, 0);
        // A nack's reason and place survive (its lease does not: a late
        // ack after a reopen is refused).
        let nacked = &parts[0].pending[&12];
        assert_eq!((nacked.reason.as_str(), nacked.behind, nacked.last_lease), ("bad input", 17, 0));
        let lease = &parts[0].leases[&11];
        assert_eq!((lease.consumer, lease.holder, lease.lease_id, lease.deadline_ms), (FOREIGN, 42, 9, 5));
        assert_eq!(parts[0].parked[&15], (3, "nacked".to_string()));
        assert_eq!((decoded.settings, decoded.dead_lettered, decoded.expired), (Some(settings), 4, 2));
        let unset =
            encode_snapshot(1, &SubState { parts: vec![PartitionState::at(0)], ..SubState::default() });
        assert_eq!(decode_snapshot(&unset).unwrap().1.settings, None);
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 4;
            assert!(decode_snapshot(&bad).is_none(), "byte {i}");
        }
    }

    #[test]
    fn settling_moves_the_floor_over_contiguous_offsets() {
        let mut s = PartitionState::at(0);
        s.next_fresh = 5;
        s.settle_range(1, 2);
        assert_eq!(s.floor, 0);
        assert_eq!(s.backlog(5), 4);
        s.settle_range(0, 1);
        assert_eq!(s.floor, 2);
        assert_eq!(s.backlog(5), 3);
        assert!(s.drop_below(4));
        assert_eq!((s.floor, s.backlog(5)), (4, 1));
    }
}
