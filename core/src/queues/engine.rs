//! Queues: named subscriptions on a topic whose consumers compete for
//! records, with leases, acks, nacks, redelivery and dead letters. See
//! docs/SEMANTICS.md. Every function runs under the pond's lock.

use std::collections::BTreeMap;

use crate::holder::Holder;
use crate::log::partition::ReadLimits;
use crate::log::record::{NewRecord, Record};
use crate::log::topic::{is_internal, validate_name, TopicConfig};
use crate::log::topics::{create_topic, Env, Topic, Topics};
use crate::queues::subscription::{
    apply, Deadlines, Event, Lease, ParkedRecord, PartitionState, Pending, SubState, SubscriptionSettings,
    SubscriptionStore, EXPIRED, FOREIGN, MAX_LEASES_PER_RECORD, REOPENED,
};
use crate::{Error, Result};
use bytes::Bytes;

/// How a queue consumer attaches to its subscription. The subscription's
/// settings (`ack_timeout_ms`, `max_deliveries`, `dead_letter_topic`,
/// `retry_backoff_ms`) are stored with it: `None` means the stored value
/// (on first attach, the default), and a value that differs from the
/// stored one is refused (`InvalidArgument`; see
/// `Pond::update_subscription`).
#[derive(Debug, Clone)]
pub struct QueueConfig {
    pub subscription: String,
    /// How long a delivery is leased before it is redelivered.
    pub ack_timeout_ms: Option<i64>,
    /// Deliveries after which a record is dead-lettered (or parked).
    pub max_deliveries: Option<u32>,
    /// Where dead letters go (created if missing); without one they are
    /// parked in the subscription and reported by `parked()`.
    pub dead_letter_topic: Option<String>,
    /// `(initial, max)` wait of a nack without a delay (see
    /// [`SubscriptionSettings::retry_backoff_ms`]).
    pub retry_backoff_ms: Option<(i64, i64)>,
    /// Unacknowledged deliveries this consumer may hold (not stored: each
    /// consumer's own prefetch).
    pub max_in_flight: usize,
    /// A new subscription starts at the end of the topic instead of its start.
    pub start_at_end: bool,
}

impl QueueConfig {
    pub fn new(subscription: impl Into<String>) -> QueueConfig {
        QueueConfig {
            subscription: subscription.into(),
            ack_timeout_ms: None,
            max_deliveries: None,
            dead_letter_topic: None,
            retry_backoff_ms: None,
            max_in_flight: crate::surface::DEFAULT_MAX_IN_FLIGHT,
            start_at_end: false,
        }
    }
}

/// A change of a subscription's stored settings (`Pond::update_subscription`):
/// `None` leaves a setting as it is; `Some(None)` removes an optional one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SettingsUpdate {
    pub ack_timeout_ms: Option<i64>,
    pub max_deliveries: Option<Option<u32>>,
    pub dead_letter_topic: Option<Option<String>>,
    pub retry_backoff_ms: Option<Option<(i64, i64)>>,
}

impl SettingsUpdate {
    /// The change the bindings' flat options describe: an absent option
    /// stays; `max_deliveries` 0, an empty `dead_letter_topic` and a
    /// `retry_backoff` of `(0, 0)` remove the setting (no subscription can
    /// have those values, so they cannot mean anything else).
    pub fn from_options(
        ack_timeout_ms: Option<i64>,
        max_deliveries: Option<u32>,
        dead_letter_topic: Option<String>,
        retry_backoff_ms: Option<(i64, i64)>,
    ) -> SettingsUpdate {
        SettingsUpdate {
            ack_timeout_ms,
            max_deliveries: max_deliveries.map(|m| Some(m).filter(|m| *m > 0)),
            dead_letter_topic: dead_letter_topic.map(|t| Some(t).filter(|t| !t.is_empty())),
            retry_backoff_ms: retry_backoff_ms.map(|b| Some(b).filter(|b| *b != (0, 0))),
        }
    }
}

/// Identifies one delivery (one lease) for `ack` and `nack`. Bindings may
/// carry it as plain numbers ([`DeliveryToken::from_parts`]): a made-up or
/// stale token is refused by `ack`/`nack` (`LeaseExpired`), never harmful.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeliveryToken {
    pub partition: u32,
    pub offset: u64,
    lease_id: u64,
}

impl DeliveryToken {
    pub fn from_parts(partition: u32, offset: u64, lease_id: u64) -> DeliveryToken {
        DeliveryToken { partition, offset, lease_id }
    }

    pub fn lease_id(&self) -> u64 {
        self.lease_id
    }
}

/// A record handed to a queue consumer, leased until acked, nacked or expired.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub record: Record,
    /// 1 on the first delivery, counting every redelivery.
    pub delivery_count: u32,
    pub token: DeliveryToken,
}

#[derive(Debug)]
struct ConsumerSlot {
    max_in_flight: usize,
    in_flight: usize,
}

#[derive(Debug)]
pub(crate) struct Subscription {
    state: SubState,
    store: SubscriptionStore,
    deadlines: Deadlines,
    consumers: BTreeMap<u64, ConsumerSlot>,
    rotation: usize,
}

impl Subscription {
    /// Ends a lease (settled, returned or released): drops it, its deadline
    /// entry and its consumer's in-flight count.
    fn end_lease(&mut self, partition: u32, offset: u64) -> Option<Lease> {
        let lease = self.state.parts.get_mut(partition as usize)?.leases.remove(&offset)?;
        self.deadlines.remove(&(lease.deadline_ms, partition, offset));
        if let Some(c) = self.consumers.get_mut(&lease.consumer) {
            c.in_flight = c.in_flight.saturating_sub(1);
        }
        Some(lease)
    }

    /// Rebuilds the lease deadlines and the consumers' in-flight counts
    /// from the leases (after other handles' events changed them).
    fn recount(&mut self) {
        self.deadlines.clear();
        for c in self.consumers.values_mut() {
            c.in_flight = 0;
        }
        for (p, s) in self.state.parts.iter().enumerate() {
            for (offset, lease) in &s.leases {
                self.deadlines.insert((lease.deadline_ms, p as u32, *offset));
                if let Some(c) = self.consumers.get_mut(&lease.consumer) {
                    c.in_flight += 1;
                }
            }
        }
    }

    /// A subscription with no consumers attached yet.
    fn new(store: SubscriptionStore, state: SubState) -> Subscription {
        Subscription { state, store, deadlines: Deadlines::new(), consumers: BTreeMap::new(), rotation: 0 }
    }
}

/// What a closed queue handle's error calls it.
pub(crate) const QUEUE_CONSUMER: &str = "queue consumer";

/// What the queue engine works on: the subscriptions, and the topics they
/// read (and dead-letter to). Nothing of consumer groups.
pub(crate) struct QueueCtx<'a> {
    pub queues: &'a mut QueueState,
    pub topics: &'a mut Topics,
}

/// (topic, subscription)
pub(crate) type SubKey = (String, String);

#[derive(Debug, Default)]
pub(crate) struct QueueState {
    subs: BTreeMap<SubKey, Subscription>,
    next_consumer: u64,
    /// This handle as the holder of the leases it logs.
    holder: Holder,
}

impl QueueState {
    /// Loads every subscription under `queues/`.
    pub fn load(
        storage: &dyn crate::storage::Storage,
        topics: &BTreeMap<String, Topic>,
        chunks: &crate::log::chunk_cache::ChunkCache,
        durable: bool,
    ) -> Result<QueueState> {
        let mut state = QueueState::default();
        for (topic, sub) in subscription_dirs(storage)? {
            let dir = SubscriptionStore::dir_for(&topic, &sub);
            let snapshot = format!("{dir}/snapshot");
            let has_snapshot = storage.list(&snapshot)?.contains(&snapshot);
            let Some(t) = topics.get(&topic).filter(|_| has_snapshot) else {
                // Its topic is gone, or its creation never finished.
                for f in storage.list(&format!("{dir}/"))? {
                    storage.remove(&f)?;
                }
                continue;
            };
            let (store, mut loaded) =
                SubscriptionStore::open(storage, &topic, &sub, t.partitions.len() as u32, chunks, durable)?;
            if !storage.is_shared() {
                return_earlier_leases(&mut loaded.parts);
            }
            let mut subscription = Subscription::new(store, loaded);
            subscription.recount();
            state.subs.insert((topic, sub), subscription);
        }
        Ok(state)
    }

    /// Takes in what other handles changed: the events they logged and,
    /// when names changed, the subscriptions they created or deleted.
    /// Subscriptions of `stale_topics` (gone or created again) are dropped
    /// first. Runs under the pond's write lock, after the topics caught up.
    pub fn catch_up(
        &mut self,
        env: &Env<'_>,
        topics: &Topics,
        stale_topics: &[String],
        names_changed: bool,
    ) -> Result<()> {
        self.subs.retain(|(t, _), _| !stale_topics.contains(t));
        if names_changed {
            let mut found = std::collections::BTreeSet::new();
            for (topic, sub) in subscription_dirs(env.storage)? {
                let snapshot = format!("{}/snapshot", SubscriptionStore::dir_for(&topic, &sub));
                if topics.contains_key(&topic) && env.storage.list(&snapshot)?.contains(&snapshot) {
                    found.insert((topic, sub));
                }
            }
            self.subs.retain(|key, _| found.contains(key));
            for key in found {
                if let std::collections::btree_map::Entry::Vacant(slot) = self.subs.entry(key) {
                    let sub = open_subscription(env, topics, slot.key())?;
                    slot.insert(sub);
                }
            }
        }
        let keys: Vec<SubKey> = self.subs.keys().cloned().collect();
        for key in keys {
            let Some(sub) = self.subs.get_mut(&key) else { continue };
            if !sub.store.catch_up(env.storage, env.chunks, &mut sub.state, names_changed)? {
                // Snapshotted past this handle's replay: read it again. The
                // snapshot lists this handle's own leases as any holder's;
                // they stay with the consumers that hold them.
                let fresh = open_subscription(env, topics, &key)?;
                let old = std::mem::replace(&mut sub.state, fresh.state).parts;
                sub.store = fresh.store;
                for (s, before) in sub.state.parts.iter_mut().zip(old) {
                    for (offset, mine) in before.leases.into_iter().filter(|(_, l)| l.consumer != FOREIGN) {
                        if let Some(lease) = s.leases.get_mut(&offset).filter(|l| l.lease_id == mine.lease_id)
                        {
                            lease.consumer = mine.consumer;
                        }
                    }
                }
            }
            sub.recount();
        }
        Ok(())
    }
}

/// (topic, subscription) of every directory under `queues/` holding a file.
fn subscription_dirs(storage: &dyn crate::storage::Storage) -> Result<std::collections::BTreeSet<SubKey>> {
    let mut found = std::collections::BTreeSet::new();
    for name in storage.list("queues/")? {
        let mut parts = name.splitn(4, '/');
        if let (Some(_), Some(topic), Some(sub), Some(_)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        {
            found.insert((topic.to_string(), sub.to_string()));
        }
    }
    Ok(found)
}

fn open_subscription(env: &Env<'_>, topics: &Topics, key: &SubKey) -> Result<Subscription> {
    let (topic, name) = key;
    let partitions = topics.get(topic).map_or(0, |t| t.partitions.len() as u32);
    let (store, mut loaded) =
        SubscriptionStore::open(env.storage, topic, name, partitions, env.chunks, env.fsync)?;
    if !env.storage.is_shared() {
        return_earlier_leases(&mut loaded.parts);
    }
    let mut sub = Subscription::new(store, loaded);
    sub.recount();
    Ok(sub)
}

/// Where nothing is shared (memory, a browser tab), every lease a pond
/// loads is an earlier handle's, now closed: what was in flight is
/// deliverable again at once, its count kept.
fn return_earlier_leases(parts: &mut [PartitionState]) {
    for s in parts {
        for (offset, lease) in std::mem::take(&mut s.leases) {
            let back = Pending {
                available_at_ms: i64::MIN,
                count: lease.count,
                reason: REOPENED.into(),
                last_lease: 0,
                behind: 0,
            };
            s.pending.insert(offset, back);
        }
    }
}

/// The error for a subscription this pond does not have.
fn no_subscription(key: &SubKey) -> Error {
    Error::TopicNotFound(format!("no subscription {:?} on topic {:?}", key.1, key.0))
}

fn lease_expired(what: &str) -> Error {
    Error::LeaseExpired(what.to_string())
}

/// Attaches a consumer to a subscription (creating it, with its settings
/// stored); returns the consumer id.
pub(crate) fn attach(
    state: &mut QueueCtx<'_>,
    env: &Env<'_>,
    topic: &str,
    config: &QueueConfig,
) -> Result<u64> {
    validate_name(&config.subscription)?;
    if config.max_in_flight == 0 {
        return Err(Error::invalid("max_in_flight must be positive"));
    }
    if is_internal(topic) {
        return Err(Error::InvalidName(format!("{topic:?}: internal topics cannot have subscriptions")));
    }
    let t = state.topics.get(topic).ok_or_else(|| Error::TopicNotFound(topic.to_string()))?;
    let starts: Vec<u64> = t
        .partitions
        .iter()
        .map(|p| if config.start_at_end { p.end_offset() } else { p.start_offset() })
        .collect();
    let requested = SubscriptionSettings {
        ack_timeout_ms: config.ack_timeout_ms.unwrap_or(SubscriptionSettings::DEFAULT.ack_timeout_ms),
        max_deliveries: config.max_deliveries,
        dead_letter_topic: config.dead_letter_topic.clone(),
        retry_backoff_ms: config.retry_backoff_ms,
    };
    check_settings(topic, &requested)?;
    let key = (topic.to_string(), config.subscription.clone());
    let stored = state.queues.subs.get(&key).map(|sub| sub.state.settings.clone());
    if let Some(Some(stored)) = &stored {
        same_as_stored(&key, stored, config)?;
    } else {
        create_dead_letter_topic(state, env, &requested)?;
    }
    state.queues.holder.id(env.storage)?;
    match stored {
        None => {
            let (store, sub) = SubscriptionStore::create(
                env.storage,
                topic,
                &config.subscription,
                &starts,
                env.fsync,
                requested,
            )?;
            state.queues.subs.insert(key.clone(), Subscription::new(store, sub));
        }
        // Made before settings were stored: this attach stores them.
        Some(None) => configure(subscription(state, &key)?, env, requested)?,
        Some(Some(_)) => {}
    }
    let id = state.queues.next_consumer;
    state.queues.next_consumer += 1;
    let sub = subscription(state, &key)?;
    sub.consumers.insert(id, ConsumerSlot { max_in_flight: config.max_in_flight, in_flight: 0 });
    Ok(id)
}

/// Refuses settings no subscription of `topic` may have.
fn check_settings(topic: &str, s: &SubscriptionSettings) -> Result<()> {
    if s.ack_timeout_ms <= 0 {
        return Err(Error::invalid("ack_timeout must be positive"));
    }
    if s.max_deliveries == Some(0) {
        return Err(Error::invalid("max_deliveries must be positive"));
    }
    if let Some((initial, max)) = s.retry_backoff_ms {
        if initial <= 0 || max < initial {
            return Err(Error::invalid(format!(
                "retry_backoff must be (initial, max) with 0 < initial <= max, got ({initial} ms, {max} ms)"
            )));
        }
    }
    if let Some(dlq) = &s.dead_letter_topic {
        validate_name(dlq)?;
        if dlq == topic {
            return Err(Error::invalid("a dead-letter topic must differ from the topic"));
        }
        if is_internal(dlq) {
            return Err(Error::InvalidName(format!("{dlq:?}: names beginning '__' are internal")));
        }
    }
    Ok(())
}

/// Creates the dead-letter topic of `settings` when it does not exist.
fn create_dead_letter_topic(
    state: &mut QueueCtx<'_>,
    env: &Env<'_>,
    settings: &SubscriptionSettings,
) -> Result<()> {
    match &settings.dead_letter_topic {
        Some(dlq) if !state.topics.contains_key(dlq) => {
            create_topic(state.topics, env, dlq, TopicConfig::default())?;
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Refuses an attach asking for a setting other than the stored one
/// (RabbitMQ and SQS refuse such a redeclaration too).
fn same_as_stored(key: &SubKey, stored: &SubscriptionSettings, config: &QueueConfig) -> Result<()> {
    let secs = |ms: i64| format!("{} s", ms as f64 / 1000.0);
    let count = |n: Option<u32>| n.map_or("none".to_string(), |n| n.to_string());
    let name = |t: &Option<String>| t.as_ref().map_or("none".to_string(), |t| format!("{t:?}"));
    let backoff =
        |b: Option<(i64, i64)>| b.map_or("none".to_string(), |(i, m)| format!("({}, {})", secs(i), secs(m)));
    let mut differs: Vec<(&str, String, String)> = Vec::new();
    if let Some(ms) = config.ack_timeout_ms.filter(|ms| *ms != stored.ack_timeout_ms) {
        differs.push(("ack_timeout", secs(stored.ack_timeout_ms), secs(ms)));
    }
    if let Some(n) = config.max_deliveries.filter(|n| Some(*n) != stored.max_deliveries) {
        differs.push(("max_deliveries", count(stored.max_deliveries), n.to_string()));
    }
    if config.dead_letter_topic.is_some() && config.dead_letter_topic != stored.dead_letter_topic {
        differs.push(("dead_letter_topic", name(&stored.dead_letter_topic), name(&config.dead_letter_topic)));
    }
    if config.retry_backoff_ms.is_some() && config.retry_backoff_ms != stored.retry_backoff_ms {
        differs.push(("retry_backoff", backoff(stored.retry_backoff_ms), backoff(config.retry_backoff_ms)));
    }
    let Some((setting, was, asked)) = differs.into_iter().next() else { return Ok(()) };
    Err(Error::invalid(format!(
        "subscription {:?} of topic {:?} is stored with {setting} = {was}; this attach asks for {asked} \
         (update_subscription changes stored settings)",
        key.1, key.0
    )))
}

/// Stores new settings for a subscription (seen by every handle).
fn configure(sub: &mut Subscription, env: &Env<'_>, settings: SubscriptionSettings) -> Result<()> {
    let event = Event::Configured(settings);
    apply(&mut sub.state, event.clone(), env.now_ms);
    sub.store.log(env.storage, &[event], &sub.state, env.fsync, env.now_ms)
}

/// Changes a subscription's stored settings; returns the settings now in force.
pub(crate) fn update_settings(
    state: &mut QueueCtx<'_>,
    env: &Env<'_>,
    key: &SubKey,
    update: &SettingsUpdate,
) -> Result<SubscriptionSettings> {
    let mut settings = subscription(state, key)?.state.settings().clone();
    if let Some(ms) = update.ack_timeout_ms {
        settings.ack_timeout_ms = ms;
    }
    if let Some(n) = update.max_deliveries {
        settings.max_deliveries = n;
    }
    if let Some(t) = &update.dead_letter_topic {
        settings.dead_letter_topic.clone_from(t);
    }
    if let Some(b) = update.retry_backoff_ms {
        settings.retry_backoff_ms = b;
    }
    check_settings(&key.0, &settings)?;
    create_dead_letter_topic(state, env, &settings)?;
    configure(subscription(state, key)?, env, settings.clone())?;
    Ok(settings)
}

fn subscription<'s>(state: &'s mut QueueCtx<'_>, key: &SubKey) -> Result<&'s mut Subscription> {
    state.queues.subs.get_mut(key).ok_or_else(|| no_subscription(key))
}

/// Moves expired leases back to pending (deliverable now, count kept).
fn expire(sub: &mut Subscription, now: i64) {
    while let Some(&(deadline, p, offset)) = sub.deadlines.first() {
        if deadline > now {
            break;
        }
        sub.deadlines.pop_first();
        let Some(s) = sub.state.parts.get_mut(p as usize) else { continue };
        let current = s.leases.get(&offset).is_some_and(|l| l.deadline_ms == deadline);
        if !current {
            continue; // settled, nacked or re-leased since
        }
        if let Some(lease) = s.leases.remove(&offset) {
            if let Some(c) = sub.consumers.get_mut(&lease.consumer) {
                c.in_flight = c.in_flight.saturating_sub(1);
            }
            s.pending.insert(
                offset,
                Pending {
                    available_at_ms: now,
                    count: lease.count,
                    reason: "ack timeout expired".into(),
                    last_lease: lease.lease_id,
                    behind: 0,
                },
            );
        }
    }
}

/// Up to `max` deliveries for one consumer (fewer when its in-flight cap is
/// reached). Redeliveries that are due come first, then new records.
pub(crate) fn receive(
    state: &mut QueueCtx<'_>,
    env: &Env<'_>,
    key: &SubKey,
    consumer: u64,
    max: usize,
) -> Result<Vec<Delivery>> {
    let now = env.now_ms;
    let mut events = reap_dead_holders(state.queues, env, key)?;
    let QueueCtx { topics, queues } = state;
    let holder = queues.holder.current();
    let sub = queues.subs.get_mut(key).ok_or_else(|| no_subscription(key))?;
    let topic = topics.get(&key.0).ok_or_else(|| Error::TopicNotFound(key.0.clone()))?;
    expire(sub, now);
    let slot = sub.consumers.get(&consumer).ok_or(Error::HandleClosed(QUEUE_CONSUMER))?;
    // At most MAX_LEASES_PER_RECORD: what one state-log record may hold.
    let most = usize::try_from(MAX_LEASES_PER_RECORD).unwrap_or(usize::MAX);
    let room = max.min(most).min(slot.max_in_flight.saturating_sub(slot.in_flight));
    let mut out: Vec<Delivery> = Vec::new();
    let mut dead: Vec<(Record, u32, String)> = Vec::new();
    let n = sub.state.parts.len();
    for (p, s) in sub.state.parts.iter_mut().enumerate() {
        let start = topic.partition(p as u32)?.start_offset();
        let floor = s.floor;
        if s.drop_below(start) {
            events.push(Event::Settled { partition: p as u32, from: floor, to: start });
        }
    }
    if room == 0 || n == 0 {
        sub.store.log(env.storage, &events, &sub.state, env.fsync, now)?;
        return Ok(out);
    }
    sub.rotation = sub.rotation.wrapping_add(1);
    let order: Vec<usize> = (0..n).map(|i| (i + sub.rotation) % n).collect();
    let share = (room / n).max(1);
    let max_deliveries = sub.state.settings().max_deliveries;
    let ttl = sub.state.settings().ack_timeout_ms;
    // A damaged partition stalls alone (see `Partition::read`).
    let mut damage: Option<Error> = None;
    for pass in [share, room] {
        for &p in &order {
            let want = pass.min(room - out.len());
            if want == 0 {
                break;
            }
            let partition = topic.partition(p as u32)?;
            let s = &mut sub.state.parts[p];
            let mut taken = 0;
            // Due redeliveries, in offset order; a nacked record waits for
            // the records that were waiting when it was nacked.
            let end = partition.end_offset();
            let next_fresh = s.next_fresh;
            let due: Vec<u64> = s
                .pending
                .iter()
                .filter(|(_, pd)| pd.available_at_ms <= now && (next_fresh >= pd.behind.min(end)))
                .map(|(o, _)| *o)
                .take(want)
                .collect();
            // Read in windows of nearby offsets, not one frame read per
            // record (a batch of many records is one frame).
            let mut window: Vec<Record> = Vec::new();
            for offset in due {
                let Some(pending) = s.pending.remove(&offset) else { continue };
                let covered = window.first().is_some_and(|r| r.offset <= offset)
                    && window.last().is_some_and(|r| r.offset >= offset);
                if !covered {
                    window.clear();
                    let limits = ReadLimits { max_records: REDELIVERY_WINDOW, max_bytes: usize::MAX };
                    if !partition.read_or_note_damage(offset, limits, env.chunks, &mut window, &mut damage)? {
                        s.pending.insert(offset, pending);
                        continue;
                    }
                }
                let found =
                    window.binary_search_by_key(&offset, |r| r.offset).ok().map(|i| detached(&window[i]));
                let Some(record) = found else {
                    // Compacted away: nothing left to deliver.
                    s.settle_range(offset, offset + 1);
                    events.push(Event::Settled { partition: p as u32, from: offset, to: offset + 1 });
                    continue;
                };
                if record.schedule().expires_at_ms.is_some_and(|at| at <= now) {
                    dead.push((record, pending.count, EXPIRED.into()));
                    continue;
                }
                if max_deliveries.is_some_and(|m| pending.count >= m) {
                    dead.push((record, pending.count, pending.reason));
                    continue;
                }
                let who = (consumer, holder, queues.holder.make_id(env.storage)?);
                let (delivery, event) =
                    lease(s, &mut sub.deadlines, record, pending.count + 1, who, now, ttl);
                out.push(delivery);
                events.push(event);
                taken += 1;
            }
            // Then records never delivered: delayed ones wait as pending
            // records (up to HELD_BACK of them per receive), expired ones
            // are dead-lettered, the rest are leased.
            let mut scanned = 0;
            while taken < want && s.next_fresh < end && scanned < want + HELD_BACK {
                let mut fresh = Vec::new();
                let limits = ReadLimits { max_records: want - taken, max_bytes: usize::MAX };
                if !partition.read_or_note_damage(
                    s.next_fresh,
                    limits,
                    env.chunks,
                    &mut fresh,
                    &mut damage,
                )? {
                    break;
                }
                if fresh.is_empty() {
                    break;
                }
                for record in fresh {
                    scanned += 1;
                    if record.offset > s.next_fresh {
                        // Offsets compacted away before anyone saw them.
                        events.push(Event::Settled {
                            partition: p as u32,
                            from: s.next_fresh,
                            to: record.offset,
                        });
                        s.settle_range(s.next_fresh, record.offset);
                    }
                    s.next_fresh = record.offset + 1;
                    let schedule = record.schedule();
                    if schedule.expires_at_ms.is_some_and(|at| at <= now) {
                        dead.push((record, 0, EXPIRED.into()));
                        continue;
                    }
                    if let Some(at) = schedule.deliver_at_ms.filter(|at| *at > now) {
                        let back = Pending {
                            available_at_ms: at,
                            count: 0,
                            reason: DELAYED.into(),
                            last_lease: 0,
                            behind: 0,
                        };
                        events.push(returned(p as u32, record.offset, &back));
                        s.pending.insert(record.offset, back);
                        continue;
                    }
                    let who = (consumer, holder, queues.holder.make_id(env.storage)?);
                    let (delivery, event) = lease(s, &mut sub.deadlines, record, 1, who, now, ttl);
                    out.push(delivery);
                    events.push(event);
                    taken += 1;
                }
            }
        }
    }
    if let Some(slot) = sub.consumers.get_mut(&consumer) {
        slot.in_flight += out.len();
    }
    sub.store.log(env.storage, &events, &sub.state, env.fsync, now)?;
    let nothing = out.is_empty() && dead.is_empty();
    if !dead.is_empty() {
        dead_letter(state, env, key, dead)?;
    }
    match damage {
        Some(e) if nothing => Err(e),
        _ => Ok(out),
    }
}

/// Settles the records of damaged batches the subscription stands at (its
/// next new record, or a redelivery): returns the skipped ranges as
/// (partition, from, to), `to` exclusive.
pub(crate) fn skip_damaged(
    state: &mut QueueCtx<'_>,
    env: &Env<'_>,
    key: &SubKey,
) -> Result<Vec<(u32, u64, u64)>> {
    let QueueCtx { topics, queues } = state;
    let sub = queues.subs.get_mut(key).ok_or_else(|| no_subscription(key))?;
    let topic = topics.get(&key.0).ok_or_else(|| Error::TopicNotFound(key.0.clone()))?;
    let mut skipped = Vec::new();
    let mut events = Vec::new();
    for (p, s) in sub.state.parts.iter_mut().enumerate() {
        let partition = topic.partition(p as u32)?;
        let mut at: Vec<u64> = s.pending.keys().copied().collect();
        if s.next_fresh < partition.end_offset() {
            at.push(s.next_fresh);
        }
        for offset in at {
            if offset < s.next_fresh && !s.pending.contains_key(&offset) {
                continue; // settled by an earlier range of this call
            }
            let Some(to) = partition.resume_after_damage(offset)? else { continue };
            // Waiting redeliveries in the range are settled one by one (a
            // record leased out before the damage stays leased); records
            // never delivered are settled as a range.
            let waiting: Vec<u64> = s.pending.range(offset..to).map(|(o, _)| *o).collect();
            for o in waiting {
                s.pending.remove(&o);
                s.settle_range(o, o + 1);
                events.push(Event::Settled { partition: p as u32, from: o, to: o + 1 });
            }
            let fresh_from = s.next_fresh.max(offset);
            if fresh_from < to {
                s.settle_range(fresh_from, to);
                events.push(Event::Settled { partition: p as u32, from: fresh_from, to });
            }
            if to > offset {
                skipped.push((p as u32, offset, to));
            }
        }
    }
    sub.store.log(env.storage, &events, &sub.state, env.fsync, env.now_ms)?;
    Ok(skipped)
}

/// Records read at once around a redelivery: the due records that follow
/// it are usually among them.
const REDELIVERY_WINDOW: usize = 512;

/// Delayed records one receive may pass over (making them pending) to
/// reach deliverable ones behind them.
const HELD_BACK: usize = 4096;

/// Why a record waits that was never delivered: it was sent with a delay.
const DELAYED: &str = "delayed";

/// A record with its own copies of key, value and headers: a redelivered
/// record must not keep alive the whole frame it was read from (a batch
/// of a million records is one frame).
fn detached(r: &Record) -> Record {
    let own = |b: &Bytes| Bytes::copy_from_slice(b);
    Record {
        topic: r.topic.clone(),
        partition: r.partition,
        offset: r.offset,
        timestamp_ms: r.timestamp_ms,
        key: r.key.as_ref().map(own),
        value: r.value.as_ref().map(own),
        headers: r.headers.iter().map(|(n, v)| (n.clone(), own(v))).collect(),
    }
}

/// Leases a record to `(consumer, holder)`: the delivery, and the event
/// that tells other handles.
fn lease(
    s: &mut PartitionState,
    deadlines: &mut Deadlines,
    record: Record,
    count: u32,
    (consumer, holder, lease_id): (u64, u64, u64),
    now: i64,
    ack_timeout_ms: i64,
) -> (Delivery, Event) {
    let deadline_ms = now.saturating_add(ack_timeout_ms);
    let (partition, offset) = (record.partition, record.offset);
    s.leases.insert(offset, Lease { consumer, lease_id, deadline_ms, count, holder });
    deadlines.insert((deadline_ms, partition, offset));
    let event = Event::Leased { partition, offset, count, holder, lease_id, deadline_ms };
    (Delivery { record, delivery_count: count, token: DeliveryToken { partition, offset, lease_id } }, event)
}

/// Ends, deliverable at once, the leases of holders whose handle is gone
/// (its claim could be taken: its process died, or it closed without
/// returning them). Each holder is checked at most every
/// second. Returns the events that tell other handles.
fn reap_dead_holders(queues: &mut QueueState, env: &Env<'_>, key: &SubKey) -> Result<Vec<Event>> {
    let now = env.now_ms;
    let Some(sub) = queues.subs.get(key) else { return Ok(Vec::new()) };
    let holders: std::collections::BTreeSet<u64> = sub
        .state
        .parts
        .iter()
        .flat_map(|s| s.leases.values())
        .filter(|l| l.consumer == FOREIGN)
        .map(|l| l.holder)
        .collect();
    let mut dead = Vec::new();
    for holder in holders {
        if !queues.holder.is_alive(env.storage, holder, now)? {
            dead.push(holder);
        }
    }
    let mut events = Vec::new();
    if dead.is_empty() {
        return Ok(events);
    }
    let Some(sub) = queues.subs.get_mut(key) else { return Ok(events) };
    for (p, s) in sub.state.parts.iter_mut().enumerate() {
        let gone: Vec<u64> = s
            .leases
            .iter()
            .filter(|(_, l)| l.consumer == FOREIGN && dead.contains(&l.holder))
            .map(|(o, _)| *o)
            .collect();
        for offset in gone {
            let Some(lease) = s.leases.remove(&offset) else { continue };
            let back = Pending {
                available_at_ms: now,
                count: lease.count,
                reason: HOLDER_GONE.into(),
                last_lease: lease.lease_id,
                behind: 0,
            };
            events.push(returned(p as u32, offset, &back));
            s.pending.insert(offset, back);
        }
    }
    sub.recount();
    Ok(events)
}

/// Why a record another handle held came back: that handle is gone.
const HOLDER_GONE: &str = "its consumer's process ended";

/// The event for a record back from a lease.
fn returned(partition: u32, offset: u64, back: &Pending) -> Event {
    Event::Returned {
        partition,
        offset,
        count: back.count,
        lease_id: back.last_lease,
        available_at_ms: back.available_at_ms,
        behind: back.behind,
        reason: back.reason.clone(),
    }
}

/// Header names a dead letter carries (after the original headers).
pub mod dead_letter_headers {
    pub const TOPIC: &str = "logpond.dlq.topic";
    pub const PARTITION: &str = "logpond.dlq.partition";
    pub const OFFSET: &str = "logpond.dlq.offset";
    pub const SUBSCRIPTION: &str = "logpond.dlq.subscription";
    pub const DELIVERY_COUNT: &str = "logpond.dlq.delivery_count";
    pub const REASON: &str = "logpond.dlq.reason";
}

/// Sends records past their maximum deliveries to the dead-letter topic and
/// settles them, or parks them when there is none.
fn dead_letter(
    state: &mut QueueCtx<'_>,
    env: &Env<'_>,
    key: &SubKey,
    dead: Vec<(Record, u32, String)>,
) -> Result<()> {
    let dlq = subscription(state, key)?.state.settings().dead_letter_topic.clone();
    let mut events = Vec::new();
    if let Some(dlq) = dlq.filter(|d| state.topics.contains_key(d)) {
        use dead_letter_headers as h;
        let extras: Vec<[String; 6]> = dead
            .iter()
            .map(|(r, count, reason)| {
                [
                    key.0.clone(),
                    r.partition.to_string(),
                    r.offset.to_string(),
                    key.1.clone(),
                    count.to_string(),
                    reason.clone(),
                ]
            })
            .collect();
        let records: Vec<NewRecord<'_>> = dead
            .iter()
            .zip(&extras)
            .map(|((r, _, _), x)| {
                let mut n = r.to_new_record();
                // A dead letter is not delayed, and does not expire again.
                n.headers.retain(|(name, _)| !crate::log::record::schedule_headers::is_schedule(name));
                for (name, value) in
                    [h::TOPIC, h::PARTITION, h::OFFSET, h::SUBSCRIPTION, h::DELIVERY_COUNT, h::REASON]
                        .iter()
                        .zip(x)
                {
                    n.headers.push((name, value.as_bytes()));
                }
                n
            })
            .collect();
        let topic = state.topics.get_mut(&dlq).ok_or_else(|| Error::TopicNotFound(dlq.clone()))?;
        topic.append(env, &records)?;
        for (r, count, reason) in &dead {
            let expired = reason == EXPIRED;
            events.push(Event::DeadLettered {
                partition: r.partition,
                offset: r.offset,
                count: *count,
                expired,
            });
        }
    } else {
        for (r, count, reason) in dead {
            events.push(Event::Parked { partition: r.partition, offset: r.offset, count, reason });
        }
    }
    let sub = subscription(state, key)?;
    for event in &events {
        apply(&mut sub.state, event.clone(), env.now_ms);
    }
    sub.store.log(env.storage, &events, &sub.state, env.fsync, env.now_ms)
}

/// Whether `token` still names a delivery that may be settled: its lease
/// is current, or it expired and nobody else has the record since.
fn owns(s: &PartitionState, token: &DeliveryToken) -> Result<()> {
    if let Some(lease) = s.leases.get(&token.offset) {
        if lease.lease_id == token.lease_id {
            return Ok(());
        }
        return Err(lease_expired("the lease expired and the record was delivered again"));
    }
    // (Lease id 0 is no lease's: records pending since a reopen or a delay.)
    if s.pending.get(&token.offset).is_some_and(|p| p.last_lease != 0 && p.last_lease == token.lease_id) {
        return Ok(());
    }
    Err(lease_expired("the delivery was already settled or delivered again"))
}

/// Acknowledges deliveries: all of them, or none when one is no longer this
/// consumer's to settle (`LeaseExpired`).
pub(crate) fn ack(
    state: &mut QueueCtx<'_>,
    env: &Env<'_>,
    key: &SubKey,
    tokens: &[DeliveryToken],
) -> Result<()> {
    let sub = subscription(state, key)?;
    for t in tokens {
        let s =
            sub.state.parts.get(t.partition as usize).ok_or_else(|| Error::invalid("unknown partition"))?;
        owns(s, t)?;
    }
    // A delivery listed twice is settled by its first mention: the second
    // fails as a second ack would, and (all or none) nothing is settled.
    if let Some(t) = listed_twice(tokens) {
        return Err(lease_expired(&format!(
            "the delivery of {}/{} offset {} is listed twice; it would be settled already",
            key.0, t.partition, t.offset
        )));
    }
    let mut events = Vec::with_capacity(tokens.len());
    for t in tokens {
        sub.end_lease(t.partition, t.offset);
        let s = &mut sub.state.parts[t.partition as usize];
        s.pending.remove(&t.offset);
        s.settle_range(t.offset, t.offset + 1);
        events.push(Event::Settled { partition: t.partition, from: t.offset, to: t.offset + 1 });
    }
    sub.store.log(env.storage, &events, &sub.state, env.fsync, env.now_ms)
}

/// A delivery listed twice, if any. Tokens of one receive come in order,
/// so an increasing list is checked in one pass without allocating.
fn listed_twice(tokens: &[DeliveryToken]) -> Option<&DeliveryToken> {
    let key = |t: &DeliveryToken| (t.partition, t.offset);
    if tokens.windows(2).all(|w| key(&w[0]) < key(&w[1])) {
        return None;
    }
    let mut sorted: Vec<&DeliveryToken> = tokens.iter().collect();
    sorted.sort_unstable_by_key(|t| key(t));
    sorted.windows(2).find(|w| key(w[0]) == key(w[1])).map(|w| w[1])
}

/// Returns a delivery for redelivery after `delay_ms`.
pub(crate) fn nack(
    state: &mut QueueCtx<'_>,
    env: &Env<'_>,
    key: &SubKey,
    token: &DeliveryToken,
    delay: NackDelay,
    reason: &str,
) -> Result<i64> {
    if let NackDelay::Ms(ms) = delay {
        if ms < 0 {
            return Err(Error::invalid("a nack delay must be >= 0"));
        }
    }
    let QueueCtx { topics, queues } = state;
    let sub = queues.subs.get_mut(key).ok_or_else(|| no_subscription(key))?;
    let s =
        sub.state.parts.get(token.partition as usize).ok_or_else(|| Error::invalid("unknown partition"))?;
    owns(s, token)?;
    let pending_count = s.pending.get(&token.offset).map_or(1, |p| p.count);
    let count = sub.end_lease(token.partition, token.offset).map_or(pending_count, |lease| lease.count);
    let backoff = sub.state.settings().retry_backoff_ms;
    let delay_ms = match (delay, backoff) {
        (NackDelay::Ms(ms), _) => ms,
        (NackDelay::Backoff | NackDelay::Failure, Some(backoff)) => backoff_ms(backoff, count),
        (NackDelay::Backoff, None) => 0,
        (NackDelay::Failure, None) => backoff_ms(FAILURE_BACKOFF_MS, count),
    };
    // Behind every record that is waiting now: the partition's end.
    let behind =
        topics.get(&key.0).and_then(|t| t.partition(token.partition).ok()).map_or(0, |p| p.end_offset());
    let back = Pending {
        available_at_ms: env.now_ms.saturating_add(delay_ms),
        count,
        reason: reason.to_string(),
        last_lease: token.lease_id,
        behind,
    };
    let event = returned(token.partition, token.offset, &back);
    sub.state.parts[token.partition as usize].pending.insert(token.offset, back);
    sub.store.log(env.storage, &[event], &sub.state, env.fsync, env.now_ms)?;
    Ok(delay_ms)
}

/// How long a nacked delivery waits.
#[derive(Debug, Clone, Copy)]
pub(crate) enum NackDelay {
    /// This long (0: at once, behind the records already waiting).
    Ms(i64),
    /// The subscription's retry backoff for its delivery count, or at once
    /// (behind the records already waiting) when it has none.
    Backoff,
    /// A handler failed: the subscription's retry backoff, or when it has
    /// none [`FAILURE_BACKOFF_MS`], for its delivery count.
    Failure,
}

/// The wait before redelivering a record whose handler failed: 1 s after
/// the first delivery, doubling with each delivery, at most 60 s — never a
/// hot loop over one failing record.
pub const FAILURE_BACKOFF_MS: (i64, i64) = (1_000, 60_000);

/// [`FAILURE_BACKOFF_MS`] for a record delivered `count` times.
pub fn failure_backoff_ms(count: u32) -> i64 {
    backoff_ms(FAILURE_BACKOFF_MS, count)
}

/// `initial * 2^(count - 1)`, at most `max`.
fn backoff_ms((initial, max): (i64, i64), count: u32) -> i64 {
    let doublings = count.saturating_sub(1).min(32);
    initial.saturating_mul(1i64 << doublings).min(max)
}

/// Pushes a delivery's lease deadline to `now + ms` (SQS's
/// ChangeMessageVisibility): `LeaseExpired` unless its lease is current.
pub(crate) fn extend(
    state: &mut QueueCtx<'_>,
    env: &Env<'_>,
    key: &SubKey,
    token: &DeliveryToken,
    ms: i64,
) -> Result<i64> {
    if ms <= 0 {
        return Err(Error::invalid("a lease extension must be positive"));
    }
    let sub = subscription(state, key)?;
    let s = sub
        .state
        .parts
        .get_mut(token.partition as usize)
        .ok_or_else(|| Error::invalid("unknown partition"))?;
    let now = env.now_ms;
    let Some(lease) =
        s.leases.get_mut(&token.offset).filter(|l| l.lease_id == token.lease_id && l.deadline_ms > now)
    else {
        return Err(lease_expired("the lease ended before it was extended"));
    };
    let old = (lease.deadline_ms, token.partition, token.offset);
    lease.deadline_ms = now.saturating_add(ms);
    let event = Event::Leased {
        partition: token.partition,
        offset: token.offset,
        count: lease.count,
        holder: lease.holder,
        lease_id: lease.lease_id,
        deadline_ms: lease.deadline_ms,
    };
    sub.deadlines.remove(&old);
    sub.deadlines.insert((now.saturating_add(ms), token.partition, token.offset));
    sub.store.log(env.storage, &[event], &sub.state, env.fsync, now)?;
    Ok(now.saturating_add(ms))
}

/// Releases a consumer's leases (deliverable again at once, count kept),
/// telling other handles.
pub(crate) fn detach(state: &mut QueueCtx<'_>, env: &Env<'_>, key: &SubKey, consumer: u64) -> Result<()> {
    let Some(sub) = state.queues.subs.get_mut(key) else { return Ok(()) };
    let mine: Vec<(u32, u64)> = sub
        .state
        .parts
        .iter()
        .enumerate()
        .flat_map(|(p, s)| {
            s.leases.iter().filter(|(_, l)| l.consumer == consumer).map(move |(o, _)| (p as u32, *o))
        })
        .collect();
    sub.consumers.remove(&consumer);
    let mut events = Vec::with_capacity(mine.len());
    for (p, offset) in mine {
        if let Some(lease) = sub.end_lease(p, offset) {
            let back = Pending {
                available_at_ms: env.now_ms,
                count: lease.count,
                reason: "consumer closed".into(),
                last_lease: lease.lease_id,
                behind: 0,
            };
            events.push(returned(p, offset, &back));
            sub.state.parts[p as usize].pending.insert(offset, back);
        }
    }
    sub.store.log(env.storage, &events, &sub.state, env.fsync, env.now_ms)
}

pub(crate) fn backlog(topics: &Topics, queues: &QueueState, key: &SubKey) -> Result<u64> {
    let sub = queues.subs.get(key).ok_or_else(|| no_subscription(key))?;
    let topic = topics.get(&key.0).ok_or_else(|| Error::TopicNotFound(key.0.clone()))?;
    sub.state.parts.iter().enumerate().try_fold(0u64, |acc, (p, s)| {
        let partition = topic.partition(p as u32)?;
        let start = partition.start_offset();
        let end = partition.end_offset();
        // Records retention removed are no longer anybody's backlog.
        let gone = start.saturating_sub(s.floor);
        let settled_gone = s.settled.ranges().map(|(a, b)| b.min(start).saturating_sub(a)).sum::<u64>();
        Ok(acc + s.backlog(end).saturating_sub(gone.saturating_sub(settled_gone)))
    })
}

/// The subscriptions of a topic, sorted.
pub(crate) fn subscription_names(queues: &QueueState, topic: &str) -> Vec<String> {
    queues.subs.keys().filter(|(t, _)| t == topic).map(|(_, s)| s.clone()).collect()
}

/// A subscription's state (for describing it).
pub(crate) fn subscription_state<'q>(queues: &'q QueueState, key: &SubKey) -> Result<&'q SubState> {
    Ok(&queues.subs.get(key).ok_or_else(|| no_subscription(key))?.state)
}

/// Records of a subscription currently leased to any consumer.
pub(crate) fn in_flight(queues: &QueueState, key: &SubKey) -> Result<u64> {
    let sub = queues.subs.get(key).ok_or_else(|| no_subscription(key))?;
    Ok(sub.state.parts.iter().map(|s| s.leases.len() as u64).sum())
}

/// Records of a subscription past their maximum deliveries, kept (parked).
pub(crate) fn parked(queues: &QueueState, key: &SubKey) -> Result<Vec<ParkedRecord>> {
    let sub = queues.subs.get(key).ok_or_else(|| no_subscription(key))?;
    Ok(sub
        .state
        .parts
        .iter()
        .enumerate()
        .flat_map(|(p, s)| {
            s.parked.iter().map(move |(o, (c, r))| ParkedRecord {
                partition: p as u32,
                offset: *o,
                delivery_count: *c,
                reason: r.clone(),
            })
        })
        .collect())
}

/// Every subscription of a topic, as keys.
pub(crate) fn subscription_keys<'s>(
    queues: &'s QueueState,
    topic: &'s str,
) -> impl Iterator<Item = &'s SubKey> + 's {
    queues.subs.keys().filter(move |(t, _)| t == topic)
}

/// Below which offset every subscription of a topic has settled a
/// partition: one floor per subscription.
pub(crate) fn settled_floors<'s>(
    queues: &'s QueueState,
    topic: &'s str,
    partition: u32,
) -> impl Iterator<Item = u64> + 's {
    queues
        .subs
        .iter()
        .filter(move |((t, _), _)| t == topic)
        .filter_map(move |(_, sub)| sub.state.parts.get(partition as usize).map(|s| s.floor))
}

/// Makes every subscription's logged state durable.
pub(crate) fn sync_all(queues: &QueueState) -> Result<()> {
    queues.subs.values().try_for_each(|sub| sub.store.sync())
}

/// Writes a snapshot of every subscription (on close: a quick reopen).
pub(crate) fn snapshot_all(queues: &mut QueueState, env: &Env<'_>) -> Result<()> {
    for sub in queues.subs.values_mut().filter(|s| s.store.has_unsnapshotted()) {
        sub.store.snapshot(env.storage, &sub.state, env.fsync)?;
    }
    Ok(())
}

/// Removes the subscriptions of a topic being deleted.
pub(crate) fn forget_topic(state: &mut QueueCtx<'_>, env: &Env<'_>, topic: &str) -> Result<()> {
    let keys: Vec<SubKey> = state.queues.subs.keys().filter(|(t, _)| t == topic).cloned().collect();
    for key in keys {
        if let Some(sub) = state.queues.subs.remove(&key) {
            sub.store.remove_files(env.storage)?;
        }
    }
    Ok(())
}

/// Deletes a subscription and its state.
pub(crate) fn delete_subscription(
    state: &mut QueueCtx<'_>,
    env: &Env<'_>,
    topic: &str,
    name: &str,
) -> Result<()> {
    let key = (topic.to_string(), name.to_string());
    let sub = state.queues.subs.remove(&key).ok_or_else(|| no_subscription(&key))?;
    sub.store.remove_files(env.storage)
}

/// The earliest clock time at which something becomes deliverable (a lease
/// expiring or a nack delay ending), if any.
pub(crate) fn next_due(queues: &QueueState, key: &SubKey) -> Option<i64> {
    let sub = queues.subs.get(key)?;
    let lease = sub.deadlines.first().map(|(d, _, _)| *d);
    let pending = sub.state.parts.iter().flat_map(|s| s.pending.values().map(|p| p.available_at_ms)).min();
    lease.into_iter().chain(pending).min()
}
