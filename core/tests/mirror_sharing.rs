//! Several handles on one asynchronous backing store (browser tabs on one
//! IndexedDB pond), each working on its own shared `MirrorStorage`: the
//! protocol a binding follows (web/SHARING.md) played out against a model
//! of the store. Every operation that writes runs in a "transaction": the
//! handle's mirror takes in what the store holds, the operation runs, and
//! its changes are committed. Reads run between transactions, on what the
//! mirror last took in.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use common::{read_all, values};
use logpond::storage::{Changes, StoredFile};
use logpond::{
    ConsumerConfig, Error, MirrorStorage, NewRecord, OffsetReset, Pond, PondOptions, QueueConfig, Storage,
    TopicConfig,
};

/// A file in the backing store: (len, gen, pages).
type StoreFile = (u64, u64, BTreeMap<u64, Vec<u8>>);

/// The backing store: name -> file, and its version.
#[derive(Default)]
struct Store {
    files: BTreeMap<String, StoreFile>,
    version: u64,
}

impl Store {
    fn commit(&mut self, changes: &Changes) {
        for name in &changes.removed {
            self.files.remove(name);
        }
        for c in &changes.files {
            let entry = self.files.entry(c.name.clone()).or_default();
            entry.0 = c.len;
            entry.1 = c.gen;
            for (p, bytes) in &c.pages {
                entry.2.insert(*p, bytes.clone());
            }
            entry.2.retain(|p, _| *p < c.len.div_ceil(logpond::storage::PAGE_SIZE as u64));
        }
    }

    fn stored(&self) -> Vec<StoredFile> {
        self.files
            .iter()
            .map(|(name, (len, gen, pages))| {
                let mut data: Vec<u8> = pages.values().flatten().copied().collect();
                data.resize(*len as usize, 0);
                StoredFile { name: name.clone(), data, gen: *gen }
            })
            .collect()
    }
}

/// One tab: its mirror and its pond.
struct Tab {
    mirror: MirrorStorage,
    pond: Option<Arc<Pond>>,
}

impl Tab {
    /// Opens a tab on the store, in a transaction (opening writes).
    fn open(store: &mut Store, options: PondOptions) -> Tab {
        Tab::open_as(store, options, None)
    }

    /// Opens a tab whose holder claim the binding holds (`holder`).
    fn open_as(store: &mut Store, options: PondOptions, holder: Option<u64>) -> Tab {
        let mirror = MirrorStorage::load(store.stored());
        mirror.share();
        if let Some(id) = holder {
            mirror.set_holder(id);
        }
        let tab = Tab { mirror, pond: None };
        tab.begin(store);
        let pond = Pond::with_storage(Arc::new(tab.mirror.clone()), options).unwrap();
        tab.commit(store);
        Tab { pond: Some(Arc::new(pond)), ..tab }
    }

    /// Two tabs on the store, with the system clock.
    fn pair(store: &mut Store) -> (Tab, Tab) {
        (Tab::open(store, PondOptions::default()), Tab::open(store, PondOptions::default()))
    }

    fn pond(&self) -> &Arc<Pond> {
        self.pond.as_ref().unwrap()
    }

    /// Runs `f` in a write transaction: take in the store, run, commit.
    fn tx<T>(&self, store: &mut Store, f: impl FnOnce(&Arc<Pond>) -> T) -> T {
        self.begin(store);
        let result = f(self.pond());
        self.commit(store);
        result
    }

    /// Takes in what the store holds and opens the mirror to writes.
    fn begin(&self, store: &Store) {
        let m = &self.mirror;
        for name in m.list("").unwrap() {
            if !store.files.contains_key(&name) {
                m.apply_removed(&name);
            }
        }
        for (name, (len, gen, pages)) in &store.files {
            m.apply_file(name, *len, *gen).unwrap();
            for (i, bytes) in pages {
                m.apply_page(name, *i, bytes).unwrap();
            }
        }
        m.set_writable(true);
    }

    fn commit(&self, store: &mut Store) {
        self.mirror.set_writable(false);
        store.version += 1;
        store.commit(&self.mirror.take_changes(store.version));
    }
}

#[test]
fn tabs_see_each_others_topics_and_records_with_dense_offsets() {
    let mut store = Store::default();
    let tabs: Vec<Tab> = (0..3).map(|_| Tab::open(&mut store, PondOptions::default())).collect();
    let config = TopicConfig { partitions: 2, segment_bytes: 512, ..TopicConfig::default() };
    tabs[0].tx(&mut store, |p| p.create_topic("t", config).unwrap());
    // Tab 1 has not taken in the store since: it does not know the topic
    // yet, and reading there writes nothing (it would fail).
    assert_eq!(tabs[1].pond().topics().unwrap(), Vec::<String>::new());
    let mut offsets = Vec::new();
    for i in 0..120u32 {
        let tab = &tabs[(i * 7 % 3) as usize];
        let value = format!("{i}");
        let m = tab
            .tx(&mut store, |p| p.send("t", NewRecord::value(value.as_bytes()).with_partition(1)).unwrap());
        offsets.push(m.offset);
    }
    assert_eq!(offsets, (0..120).collect::<Vec<u64>>(), "dense, unique, in commit order");
    let want: Vec<Vec<u8>> = (0..120).map(|i: u32| i.to_string().into_bytes()).collect();
    for tab in &tabs {
        tab.tx(&mut store, |_| ());
        assert_eq!(values(&read_all(tab.pond(), "t", 1)), want);
    }
    // Segments rolled under every tab; a tab opened now agrees.
    let fresh = Tab::open(&mut store, PondOptions::default());
    assert_eq!(values(&read_all(fresh.pond(), "t", 1)), want);
    assert!(matches!(
        tabs[2].tx(&mut store, |p| p.create_topic("t", TopicConfig::default())),
        Err(Error::TopicExists(_))
    ));
    // A delete and a re-creation reach the others.
    tabs[1].tx(&mut store, |p| p.delete_topic("t").unwrap());
    tabs[2].tx(&mut store, |p| p.create_topic("t", TopicConfig::default()).unwrap());
    let m = tabs[0].tx(&mut store, |p| p.send("t", NewRecord::value(b"again")).unwrap());
    assert_eq!((m.partition, m.offset), (0, 0));
}

fn earliest(group: &str) -> ConsumerConfig {
    ConsumerConfig { auto_offset_reset: OffsetReset::Earliest, ..ConsumerConfig::new(group, &["t"]) }
}

fn owned(c: &logpond::Consumer) -> BTreeSet<u32> {
    c.assignment().unwrap().into_iter().map(|(_, p)| p).collect()
}

#[test]
fn group_members_in_two_tabs_split_partitions_and_consume_each_record_once() {
    let mut store = Store::default();
    let (a, b) = Tab::pair(&mut store);
    a.tx(&mut store, |p| {
        p.create_topic("t", TopicConfig { partitions: 4, ..TopicConfig::default() }).unwrap()
    });
    for i in 0..40u32 {
        b.tx(&mut store, |p| p.send("t", NewRecord::value(&i.to_le_bytes()).with_partition(i % 4)).unwrap());
    }
    let ca = a.tx(&mut store, |p| p.consumer(earliest("g")).unwrap());
    let cb = b.tx(&mut store, |p| p.consumer(earliest("g")).unwrap());
    let mut seen = BTreeSet::new();
    for _ in 0..12 {
        for (tab, c) in [(&a, &ca), (&b, &cb)] {
            for r in tab.tx(&mut store, |_| c.poll(5).unwrap()) {
                assert!(seen.insert((r.partition, r.offset)), "{}/{} consumed twice", r.partition, r.offset);
            }
        }
        assert!(owned(&ca).is_disjoint(&owned(&cb)));
    }
    assert_eq!((owned(&ca).len(), owned(&cb).len()), (2, 2));
    assert_eq!(seen.len(), 40, "every record once");
}

#[test]
fn queue_workers_in_two_tabs_compete_and_count_one_backlog() {
    let mut store = Store::default();
    let (a, b) = Tab::pair(&mut store);
    let config = TopicConfig { partitions: 2, max_backlog: Some(20), ..TopicConfig::default() };
    a.tx(&mut store, |p| p.create_topic("t", config).unwrap());
    let queue = || QueueConfig { ack_timeout_ms: Some(60_000), ..QueueConfig::new("workers") };
    let qa = a.tx(&mut store, |p| p.queue("t", queue()).unwrap());
    let qb = b.tx(&mut store, |p| p.queue("t", queue()).unwrap());
    for i in 0..20u8 {
        b.tx(&mut store, |p| p.send("t", NewRecord::value(&[i])).unwrap());
    }
    let refused = a.tx(&mut store, |p| p.send("t", NewRecord::value(b"x")));
    assert!(matches!(refused, Err(Error::Backpressure(_))), "the backlog counts the other tab's sends");
    let mut seen = BTreeSet::new();
    loop {
        let from_a = a.tx(&mut store, |_| qa.receive(3).unwrap());
        let from_b = b.tx(&mut store, |_| qb.receive(3).unwrap());
        if from_a.is_empty() && from_b.is_empty() {
            break;
        }
        for d in from_a.iter().chain(&from_b) {
            assert!(seen.insert((d.record.partition, d.record.offset)), "delivered twice");
        }
        // Settled through the other tab, as a receipt travels.
        b.tx(&mut store, |_| qb.ack_many(&from_a.iter().map(|d| d.token).collect::<Vec<_>>()).unwrap());
        a.tx(&mut store, |_| qa.ack_many(&from_b.iter().map(|d| d.token).collect::<Vec<_>>()).unwrap());
    }
    assert_eq!(seen.len(), 20);
    assert_eq!(a.tx(&mut store, |_| qa.backlog().unwrap()), 0);
    a.tx(&mut store, |p| p.send("t", NewRecord::value(b"room again")).unwrap());
}

#[test]
fn a_lease_of_a_tab_that_is_gone_comes_back_after_its_timeout() {
    let clock = logpond::ManualClock::new(1_000_000);
    let mut store = Store::default();
    let open = |store: &mut Store| Tab::open(store, PondOptions::with_clock(Arc::new(clock.clone())));
    let (a, b) = (open(&mut store), open(&mut store));
    a.tx(&mut store, |p| p.create_topic("t", TopicConfig::default()).unwrap());
    a.tx(&mut store, |p| p.send("t", NewRecord::value(b"job")).unwrap());
    let queue = || QueueConfig { ack_timeout_ms: Some(5_000), ..QueueConfig::new("w") };
    let qa = a.tx(&mut store, |p| p.queue("t", queue()).unwrap());
    assert_eq!(a.tx(&mut store, |_| qa.receive(1).unwrap()).len(), 1);
    drop(qa);
    drop(a); // the tab closes without a word (its mirror is simply gone)
    let qb = b.tx(&mut store, |p| p.queue("t", queue()).unwrap());
    assert!(b.tx(&mut store, |_| qb.receive(1).unwrap()).is_empty(), "the lease stands until its timeout");
    clock.advance(5_001);
    let again = b.tx(&mut store, |_| qb.receive(1).unwrap());
    assert_eq!((again.len(), again[0].delivery_count), (1, 2));
}

#[test]
fn reads_between_transactions_write_nothing() {
    let mut store = Store::default();
    let (a, b) = Tab::pair(&mut store);
    // b has a consumer and a queue of its own, made in transactions.
    a.tx(&mut store, |p| {
        p.create_topic("t", TopicConfig { partitions: 2, segment_bytes: 256, ..TopicConfig::default() })
            .unwrap()
    });
    let cb = b.tx(&mut store, |p| p.consumer(earliest("g")).unwrap());
    let qb = b.tx(&mut store, |p| p.queue("t", QueueConfig::new("w")).unwrap());
    // a changes a lot that b has not seen: records across segment rolls,
    // another topic, a group with commits, a subscription with leases.
    let _held = a.tx(&mut store, |p| {
        p.create_topic("u", TopicConfig::default()).unwrap();
        for i in 0..50u32 {
            p.send("t", NewRecord::value(&[i as u8; 40]).with_partition(i % 2)).unwrap();
        }
        let ca = p.consumer(earliest("h")).unwrap();
        ca.poll(10).unwrap();
        ca.commit().unwrap();
        let qa = p.queue("t", QueueConfig::new("v")).unwrap();
        qa.receive(3).unwrap();
        (ca, qa)
    });
    b.tx(&mut store, |p| p.catch_up().unwrap());
    // Every read, outside a transaction (b's mirror refuses writes).
    let p = b.pond();
    assert_eq!(p.topics().unwrap(), vec!["t", "u"]);
    assert!(p.has_topic("u").unwrap());
    assert_eq!(p.describe("t").unwrap().partitions.len(), 2);
    assert_eq!(read_all(p, "t", 1).len(), 25);
    assert_eq!(p.offsets("t", 0).unwrap(), (0, 25));
    p.offset_for_time("t", 0, 0).unwrap();
    assert_eq!(p.groups().unwrap(), vec!["g", "h"]);
    assert_eq!(p.describe_group("h").unwrap().group, "h");
    p.describe_group("nobody").unwrap();
    assert_eq!(p.subscriptions("t").unwrap(), vec!["v", "w"]);
    assert_eq!(p.describe_subscription("t", "v").unwrap().in_flight, 3);
    assert_eq!(cb.committed("t", 0).unwrap(), None);
    cb.assignment().unwrap();
    cb.lag().unwrap();
    // Iteration's fast path: only what a transaction fetched, no storage.
    assert!(cb.next_buffered().unwrap().is_none(), "nothing fetched yet");
    let first = b.tx(&mut store, |_| cb.next_record().unwrap()).expect("a record");
    let next = cb.next_buffered().unwrap().expect("fetched with the first");
    assert_ne!((next.partition, next.offset), (first.partition, first.offset));
    assert_eq!(cb.position("t", next.partition).unwrap(), next.offset + 1, "handed out: the position moved");
    assert_eq!(qb.backlog().unwrap(), 50);
    assert_eq!(qb.in_flight().unwrap(), 0);
    qb.parked().unwrap();
    qb.next_due_ms().unwrap();
    // What writes refuses, and changes nothing.
    assert!(matches!(p.send("t", NewRecord::value(b"x")), Err(Error::Io(_))));
    assert_eq!(b.tx(&mut store, |p| p.offsets("t", 0).unwrap()), (0, 25));
}

#[test]
fn a_gone_tabs_lease_comes_back_once_the_binding_finds_its_claim_free() {
    let clock = logpond::ManualClock::new(1_000_000);
    let mut store = Store::default();
    let options = || PondOptions::with_clock(Arc::new(clock.clone()));
    let (a, b) = (
        Tab::open_as(&mut store, options(), Some(0x1234)),
        Tab::open_as(&mut store, options(), Some(0x5678)),
    );
    a.tx(&mut store, |p| p.create_topic("t", TopicConfig::default()).unwrap());
    a.tx(&mut store, |p| p.send("t", NewRecord::value(b"job")).unwrap());
    let queue = || QueueConfig { ack_timeout_ms: Some(600_000), ..QueueConfig::new("w") };
    let qa = a.tx(&mut store, |p| p.queue("t", queue()).unwrap());
    let held = a.tx(&mut store, |_| qa.receive(1).unwrap());
    assert_eq!(held[0].token.lease_id() >> 21, 0x1234, "leases carry the holder id the binding chose");
    std::mem::forget((qa, held, a)); // the tab is gone without a word

    let qb = b.tx(&mut store, |p| p.queue("t", queue()).unwrap());
    assert!(
        b.tx(&mut store, |_| qb.receive(1).unwrap()).is_empty(),
        "a holder not known to be gone is alive"
    );
    let asked = b.mirror.take_asked_claims();
    assert_eq!(asked, vec!["holder.00001234".to_string()], "the pond asked about a's claim, not its own");
    b.mirror.mark_dead(&asked[0]);
    clock.advance(1_001); // past the pond's recheck interval
    let again = b.tx(&mut store, |_| qb.receive(1).unwrap());
    assert_eq!((again.len(), again[0].delivery_count), (1, 2), "returned long before its ack timeout");
}
