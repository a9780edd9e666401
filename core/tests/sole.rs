//! Sole tenure (docs/SEMANTICS.md, "Several handles, one pond"): a handle
//! alone on its pond stops locking per operation, and lets any other
//! handle in — writer or reader, opening or coming back — without anything
//! being missed or written twice.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{read_all, values};
use logpond::{NewRecord, Pond, PondOptions, TopicConfig};

fn single_sends(pond: &Pond, topic: &str, from: u32, n: u32) -> Vec<u64> {
    (from..from + n)
        .map(|i| pond.send(topic, NewRecord::value(format!("{i}").as_bytes())).unwrap().offset)
        .collect()
}

/// Whether a wait in `b` ends when `a` sends to topic `t` 50 ms later
/// (waiting 5 s at most).
fn woken_by_a_later_send(a: &Arc<Pond>, b: &Pond) -> bool {
    let seen = b.append_count();
    let writer = {
        let a = a.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            a.send("t", NewRecord::value(b"late")).unwrap();
        })
    };
    let started = Instant::now();
    let mut count = seen;
    while count == seen && started.elapsed() < Duration::from_secs(5) {
        count = b.wait_for_append(seen, Duration::from_secs(5));
    }
    writer.join().unwrap();
    count != seen
}

fn small_segments() -> TopicConfig {
    TopicConfig { segment_bytes: 600, ..TopicConfig::default() }
}

#[test]
fn a_lone_writer_goes_sole_and_lets_a_newcomer_in() {
    let dir = tempfile::tempdir().unwrap();
    let a = Pond::open(dir.path()).unwrap();
    a.create_topic("t", small_segments()).unwrap();
    assert!(!a.is_sole(), "not before a run of quiet operations");
    single_sends(&a, "t", 0, 200);
    assert!(a.is_sole(), "alone for 200 operations");
    // Topics created and segments rolled while alone reach the newcomer.
    a.create_topic("u", TopicConfig::default()).unwrap();
    single_sends(&a, "u", 0, 3);
    let b = Pond::open(dir.path()).unwrap();
    assert!(!a.is_sole(), "the newcomer's open made it share again");
    assert_eq!(b.topics().unwrap(), vec!["t", "u"]);
    assert_eq!(read_all(&b, "t", 0).len(), 200);
    let from_b = b.send("t", NewRecord::value(b"b")).unwrap();
    assert_eq!(from_b.offset, 200);
    assert_eq!(a.send("t", NewRecord::value(b"a")).unwrap().offset, 201);
    assert_eq!(values(&read_all(&b, "t", 0))[200..], [b"b".to_vec(), b"a".to_vec()]);
    // Alone again once the other has gone.
    b.close().unwrap();
    single_sends(&a, "t", 1000, 200);
    assert!(a.is_sole());
    drop(a);
    let again = Pond::open(dir.path()).unwrap();
    assert_eq!(read_all(&again, "t", 0).len(), 402);
}

#[test]
fn a_read_only_handle_gets_in_beside_a_sole_writer() {
    let dir = tempfile::tempdir().unwrap();
    let a = Pond::open(dir.path()).unwrap();
    a.create_topic("t", TopicConfig::default()).unwrap();
    single_sends(&a, "t", 0, 100);
    assert!(a.is_sole());
    let reader =
        Pond::open_with(dir.path(), PondOptions { read_only: true, ..PondOptions::default() }).unwrap();
    assert!(!a.is_sole());
    assert_eq!(read_all(&reader, "t", 0).len(), 100);
    single_sends(&a, "t", 100, 100);
    assert!(!a.is_sole(), "a reader is there: never alone");
    assert_eq!(read_all(&reader, "t", 0).len(), 200);
}

#[test]
fn a_wait_in_a_newcomer_wakes_on_a_former_sole_writers_send() {
    let dir = tempfile::tempdir().unwrap();
    let a = Arc::new(Pond::open(dir.path()).unwrap());
    a.create_topic("t", TopicConfig::default()).unwrap();
    single_sends(&a, "t", 0, 100);
    assert!(a.is_sole());
    let b = Pond::open(dir.path()).unwrap();
    assert!(woken_by_a_later_send(&a, &b), "woken by the other handle's send");
    assert_eq!(read_all(&b, "t", 0).len(), 101);
}

/// Handles that come and go in several threads, each sending alone for a
/// while: whoever is sole lets the others in, and a handle that stepped
/// out to try tenure and came back catches up. Offsets stay dense and
/// unique, and each thread's records keep their order. (Thread 0 is alone
/// first, so at least one tenure is cut short by the others arriving.)
#[test]
fn handles_coming_and_going_keep_offsets_dense_and_unique() {
    let dir = tempfile::tempdir().unwrap();
    let rolls = TopicConfig { segment_bytes: 8192, ..TopicConfig::default() };
    Pond::open(dir.path()).unwrap().create_topic("t", rolls).unwrap();
    let path = dir.path().to_path_buf();
    let first_alone = Arc::new(std::sync::Barrier::new(4));
    let threads: Vec<_> = (0..4u32)
        .map(|t| {
            let path = path.clone();
            let first_alone = first_alone.clone();
            std::thread::spawn(move || {
                let (mut sent, mut n, mut sole) = (Vec::new(), 0u32, 0u32);
                let mut seed = 0x9e37_79b9u32.wrapping_mul(t + 1);
                let mut next = move |m: u32| {
                    seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    (seed >> 8) % m
                };
                for round in 0..8u32 {
                    if t != 0 && round == 0 {
                        first_alone.wait();
                    }
                    let pond = Pond::open(&path).unwrap();
                    for i in 0..(80 + next(200)) {
                        if i == 40 {
                            std::thread::sleep(Duration::from_micros(u64::from(next(1500))));
                        }
                        let offset =
                            pond.send("t", NewRecord::value(format!("{t}:{n}").as_bytes())).unwrap().offset;
                        sent.push((offset, n));
                        n += 1;
                        sole += u32::from(pond.is_sole());
                    }
                    if t == 0 && round == 0 {
                        assert!(pond.is_sole(), "alone for the first round");
                        first_alone.wait();
                    }
                    drop(pond);
                    std::thread::sleep(Duration::from_micros(u64::from(next(2000))));
                }
                (sent, sole)
            })
        })
        .collect();
    let (sent, sole): (Vec<Vec<(u64, u32)>>, Vec<u32>) =
        threads.into_iter().map(|h| h.join().unwrap()).unzip();
    eprintln!("sends made alone, per thread: {sole:?}");
    let mut offsets: Vec<u64> = sent.iter().flatten().map(|(o, _)| *o).collect();
    offsets.sort_unstable();
    let total = offsets.len() as u64;
    assert_eq!(offsets, (0..total).collect::<Vec<_>>(), "dense and unique");
    let pond = Pond::open(&path).unwrap();
    let records = read_all(&pond, "t", 0);
    assert_eq!(records.len() as u64, total);
    let mut last: BTreeMap<u32, u32> = BTreeMap::new();
    for r in &records {
        let text = String::from_utf8(r.value.as_ref().unwrap().to_vec()).unwrap();
        let (t, n) = text.split_once(':').unwrap();
        let (t, n): (u32, u32) = (t.parse().unwrap(), n.parse().unwrap());
        if let Some(prev) = last.insert(t, n) {
            assert!(n > prev, "thread {t}'s records in order");
        }
        assert_eq!(sent[t as usize].iter().find(|(_, m)| *m == n).unwrap().0, r.offset);
    }
}

/// A file storage whose watchers cannot start (as when a process has no
/// inotify instances left): waits fall back to looking at `LOCK.sync`
/// every few milliseconds, and no handle takes a pond alone (nobody could
/// knock it out).
#[derive(Debug)]
struct WithoutWatchers(logpond::FileStorage);

impl logpond::Storage for WithoutWatchers {
    fn open(&self, name: &str, create: bool) -> logpond::Result<Arc<dyn logpond::StorageFile>> {
        self.0.open(name, create)
    }
    fn list(&self, prefix: &str) -> logpond::Result<Vec<String>> {
        self.0.list(prefix)
    }
    fn remove(&self, name: &str) -> logpond::Result<()> {
        self.0.remove(name)
    }
    fn rename(&self, from: &str, to: &str) -> logpond::Result<()> {
        self.0.rename(from, to)
    }
    fn close(&self) -> logpond::Result<()> {
        self.0.close()
    }
    fn is_shared(&self) -> bool {
        true
    }
    fn lock(&self, exclusive: bool) -> logpond::Result<()> {
        self.0.lock(exclusive)
    }
    fn unlock(&self) -> logpond::Result<()> {
        self.0.unlock()
    }
    fn try_claim(&self, what: &str) -> logpond::Result<bool> {
        self.0.try_claim(what)
    }
    fn is_claimed(&self, what: &str) -> logpond::Result<bool> {
        self.0.is_claimed(what)
    }
    fn live_claims(&self, prefix: &str) -> logpond::Result<Vec<String>> {
        self.0.live_claims(prefix)
    }
    fn try_sole(&self) -> logpond::Result<bool> {
        self.0.try_sole()
    }
    fn leave_sole(&self) -> logpond::Result<()> {
        self.0.leave_sole()
    }
    // `watch` and `watch_knocks`: the defaults, which start nothing.
}

#[test]
fn without_watchers_waits_poll_and_no_handle_goes_sole() {
    let dir = tempfile::tempdir().unwrap();
    let open = || {
        let files = logpond::FileStorage::open(dir.path()).unwrap();
        Arc::new(Pond::with_storage(Arc::new(WithoutWatchers(files)), PondOptions::default()).unwrap())
    };
    let (a, b) = (open(), open());
    a.create_topic("t", TopicConfig::default()).unwrap();
    single_sends(&a, "t", 0, 100);
    drop(b);
    single_sends(&a, "t", 100, 200);
    assert!(!a.is_sole(), "alone, but nobody could knock it out");
    let b = open();
    assert!(woken_by_a_later_send(&a, &b), "woken by looking, without a watcher");
    assert_eq!(read_all(&b, "t", 0).len(), 301);
}
