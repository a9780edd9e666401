//! Several handles on one pond directory at once (docs/SEMANTICS.md,
//! "Several handles, one pond"): each sees the others' topics and records,
//! offsets stay dense and unique, and what one handle changes in the files
//! (rolls, retention, deletes, a dead writer's torn tail) the others take in.

mod common;

use std::sync::Arc;

use common::{read_all, values};
use logpond::{ConsumerConfig, Error, NewRecord, OffsetReset, Pond, QueueConfig, TopicConfig};

fn small_segments() -> TopicConfig {
    TopicConfig { segment_bytes: 512, ..TopicConfig::default() }
}

#[test]
fn handles_see_each_others_topics_and_records() {
    let dir = tempfile::tempdir().unwrap();
    let a = Pond::open(dir.path()).unwrap();
    let b = Pond::open(dir.path()).unwrap();
    a.create_topic("t", TopicConfig { partitions: 2, ..TopicConfig::default() }).unwrap();
    assert_eq!(b.topics().unwrap(), vec!["t"]);
    assert!(matches!(b.create_topic("t", TopicConfig::default()), Err(Error::TopicExists(_))));
    let from_b = b.send("t", NewRecord::value(b"from b").with_partition(1)).unwrap();
    let from_a = a.send("t", NewRecord::value(b"from a").with_partition(1)).unwrap();
    assert_eq!((from_b.offset, from_a.offset), (0, 1));
    for pond in [&a, &b] {
        assert_eq!(values(&read_all(pond, "t", 1)), vec![b"from b".to_vec(), b"from a".to_vec()]);
    }
}

#[test]
fn interleaved_producers_get_dense_unique_offsets_across_rolls() {
    let dir = tempfile::tempdir().unwrap();
    let handles: Vec<Pond> = (0..3).map(|_| Pond::open(dir.path()).unwrap()).collect();
    handles[0].create_topic("t", small_segments()).unwrap();
    let mut offsets = Vec::new();
    for i in 0..300u32 {
        let h = (i * 7 % 3) as usize;
        let value = format!("{h}:{i}");
        let batch: Vec<NewRecord<'_>> =
            (0..(i % 3 + 1)).map(|_| NewRecord::value(value.as_bytes())).collect();
        for m in handles[h].send_many("t", &batch).unwrap() {
            offsets.push(m.offset);
        }
    }
    let n = offsets.len() as u64;
    assert_eq!(offsets, (0..n).collect::<Vec<_>>(), "offsets are dense, unique and in call order");
    for pond in &handles {
        let got = read_all(pond, "t", 0);
        assert_eq!(got.len() as u64, n);
        assert!(got.iter().enumerate().all(|(i, r)| r.offset == i as u64));
    }
    // Rolled many times, by all three; a fresh open agrees.
    assert!(std::fs::read_dir(dir.path().join("topics/t/0")).unwrap().count() > 10);
    drop(handles);
    let again = Pond::open(dir.path()).unwrap();
    assert_eq!(read_all(&again, "t", 0).len() as u64, n);
}

#[test]
fn deletes_retention_and_recreation_reach_the_other_handle() {
    let dir = tempfile::tempdir().unwrap();
    let a = Pond::open(dir.path()).unwrap();
    let b = Pond::open(dir.path()).unwrap();
    a.create_topic("t", small_segments()).unwrap();
    for i in 0..50u32 {
        a.send("t", NewRecord::value(&i.to_le_bytes())).unwrap();
    }
    assert_eq!(b.offsets("t", 0).unwrap(), (0, 50));
    b.delete_records("t", 0, 30).unwrap();
    assert_eq!(a.offsets("t", 0).unwrap().0, 30);
    assert_eq!(read_all(&a, "t", 0).first().map(|r| r.offset), Some(30));
    // Deleted by one, created again by the other: a send through the
    // first handle lands in the new topic, never in the removed files.
    b.delete_topic("t").unwrap();
    assert!(matches!(a.send("t", NewRecord::value(b"x")), Err(Error::TopicNotFound(_))));
    a.create_topic("t", TopicConfig::default()).unwrap();
    b.send("t", NewRecord::value(b"new")).unwrap();
    a.send("t", NewRecord::value(b"newer")).unwrap();
    assert_eq!(values(&read_all(&b, "t", 0)), vec![b"new".to_vec(), b"newer".to_vec()]);
}

/// A handle encodes a send before it takes the lock, from what it knows of
/// the topic; if another handle created the topic again meanwhile (here:
/// with more partitions), the send is placed by the topic as it is now.
#[test]
fn a_send_prepared_for_a_topic_since_created_again_follows_the_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let a = Pond::open(dir.path()).unwrap();
    let b = Pond::open(dir.path()).unwrap();
    a.create_topic("t", TopicConfig::default()).unwrap();
    a.send("t", NewRecord::keyed(b"k", b"old")).unwrap();
    b.delete_topic("t").unwrap();
    b.create_topic("t", TopicConfig { partitions: 4, ..TopicConfig::default() }).unwrap();
    let keys: Vec<String> = (0..16).map(|i| format!("key-{i}")).collect();
    let mut partitions = std::collections::BTreeSet::new();
    for key in &keys {
        let sent = a.send("t", NewRecord::keyed(key.as_bytes(), b"v")).unwrap();
        let again = b.send("t", NewRecord::keyed(key.as_bytes(), b"w")).unwrap();
        assert_eq!(sent.partition, again.partition, "{key}: both handles place a key alike");
        partitions.insert(sent.partition);
    }
    assert!(partitions.len() > 1, "keys spread over the new topic's partitions");
    let total: usize = (0..4).map(|p| read_all(&b, "t", p).len()).sum();
    assert_eq!(total, 32, "nothing of the old topic");
}

#[test]
fn a_dead_writers_torn_tail_is_cut_by_the_next_writer() {
    let dir = tempfile::tempdir().unwrap();
    let a = Pond::open(dir.path()).unwrap();
    a.create_topic("t", TopicConfig::default()).unwrap();
    a.send("t", NewRecord::value(b"one")).unwrap();
    // A writer killed mid-append leaves half a frame.
    let segment = dir.path().join("topics/t/0/00000000000000000000.log");
    let mut bytes = std::fs::read(&segment).unwrap();
    let whole = bytes.len();
    bytes.extend_from_slice(&bytes[8..whole].to_vec()[..10]);
    std::fs::write(&segment, &bytes).unwrap();
    let b = Pond::open(dir.path()).unwrap();
    assert_eq!(std::fs::metadata(&segment).unwrap().len() as usize, whole, "open cut the torn tail");
    // And a torn tail left while both are open is cut by the next write.
    let mut f = std::fs::OpenOptions::new().append(true).open(&segment).unwrap();
    std::io::Write::write_all(&mut f, &[0xAB; 7]).unwrap();
    a.send("t", NewRecord::value(b"two")).unwrap();
    b.send("t", NewRecord::value(b"three")).unwrap();
    let want = vec![b"one".to_vec(), b"two".to_vec(), b"three".to_vec()];
    assert_eq!(values(&read_all(&a, "t", 0)), want);
    assert_eq!(values(&read_all(&b, "t", 0)), want);
}

/// Two handles on one directory, with one manual clock.
fn two_handles_sharing_a_clock() -> (tempfile::TempDir, logpond::ManualClock, Arc<Pond>, Arc<Pond>) {
    let dir = tempfile::tempdir().unwrap();
    let clock = logpond::ManualClock::new(1_000_000);
    let options = logpond::PondOptions::with_clock(Arc::new(clock.clone()));
    let a = Arc::new(Pond::open_with(dir.path(), options.clone()).unwrap());
    let b = Arc::new(Pond::open_with(dir.path(), options).unwrap());
    (dir, clock, a, b)
}

fn earliest(group: &str) -> ConsumerConfig {
    ConsumerConfig { auto_offset_reset: OffsetReset::Earliest, ..ConsumerConfig::new(group, &["t"]) }
}

fn owned(c: &logpond::Consumer) -> std::collections::BTreeSet<u32> {
    c.assignment().unwrap().into_iter().map(|(_, p)| p).collect()
}

#[test]
fn group_members_in_two_handles_split_partitions_and_hand_over() {
    let dir = tempfile::tempdir().unwrap();
    let a = Arc::new(Pond::open(dir.path()).unwrap());
    let b = Arc::new(Pond::open(dir.path()).unwrap());
    a.create_topic("t", TopicConfig { partitions: 4, ..TopicConfig::default() }).unwrap();
    for i in 0..40u32 {
        b.send("t", NewRecord::value(&i.to_le_bytes()).with_partition(i % 4)).unwrap();
    }
    let ca = a.consumer(earliest("g")).unwrap();
    let mut seen = std::collections::BTreeSet::new();
    let mut take = |records: Vec<logpond::Record>| {
        for r in records {
            assert!(seen.insert((r.partition, r.offset)), "{}/{} consumed twice", r.partition, r.offset);
        }
    };
    take(ca.poll(6).unwrap());
    assert_eq!(owned(&ca).len(), 4);
    let cb = b.consumer(earliest("g")).unwrap();
    // Half moves to b, but only once a has committed and let it go.
    take(cb.poll(100).unwrap());
    assert!(owned(&ca).is_disjoint(&owned(&cb)));
    for _ in 0..4 {
        take(ca.poll(5).unwrap());
        take(cb.poll(5).unwrap());
        let (oa, ob) = (owned(&ca), owned(&cb));
        assert!(oa.is_disjoint(&ob), "{oa:?} and {ob:?}");
    }
    assert_eq!((owned(&ca).len(), owned(&cb).len()), (2, 2));
    for _ in 0..10 {
        take(ca.poll(100).unwrap());
        take(cb.poll(100).unwrap());
    }
    assert_eq!(seen.len(), 40, "every record once, none twice");
}

#[test]
fn a_gone_members_partitions_move_at_once_from_its_commits() {
    let (_dir, clock, a, b) = two_handles_sharing_a_clock();
    a.create_topic("t", TopicConfig { partitions: 2, ..TopicConfig::default() }).unwrap();
    for i in 0..10u32 {
        a.send("t", NewRecord::value(&i.to_le_bytes()).with_partition(i % 2)).unwrap();
    }
    let ca = a.consumer(ConsumerConfig { auto_commit: false, ..earliest("g") }).unwrap();
    let cb = b.consumer(earliest("g")).unwrap();
    for _ in 0..3 {
        ca.poll(0).unwrap();
        cb.poll(0).unwrap();
    }
    assert_eq!((owned(&ca).len(), owned(&cb).len()), (1, 1));
    let mine = *owned(&ca).iter().next().unwrap();
    let got = ca.poll(2).unwrap();
    ca.commit().unwrap();
    assert_eq!(got.len(), 2);
    // a's handle goes away without its member leaving (as a killed
    // process does): b takes the partition at its next poll, from a's commit.
    std::mem::forget(ca);
    a.close().unwrap();
    clock.advance(2_000); // past the last liveness check of a (well within its session)
    let next = cb.poll(100).unwrap();
    assert_eq!(owned(&cb), std::collections::BTreeSet::from([0, 1]));
    let first = next.iter().find(|r| r.partition == mine).map(|r| r.offset);
    assert_eq!(first, Some(2), "resumed after a's committed records");
}

#[test]
fn a_silent_member_is_removed_after_its_session_timeout() {
    let (_dir, clock, a, b) = two_handles_sharing_a_clock();
    a.create_topic("t", TopicConfig { partitions: 2, ..TopicConfig::default() }).unwrap();
    let config = ConsumerConfig { session_timeout_ms: 10_000, ..earliest("g") };
    let ca = a.consumer(config.clone()).unwrap();
    let cb = b.consumer(config).unwrap();
    ca.poll(0).unwrap();
    cb.poll(0).unwrap();
    assert_eq!(owned(&cb).len(), 1);
    clock.advance(5_000);
    cb.poll(0).unwrap();
    assert_eq!(owned(&cb).len(), 1, "a is silent, but within its session");
    clock.advance(6_000);
    cb.poll(0).unwrap();
    assert_eq!(owned(&cb).len(), 2, "a's session expired");
    // a's member comes back under a new id, and gets a share again.
    ca.poll(0).unwrap();
    cb.poll(0).unwrap();
    ca.poll(0).unwrap();
    assert_eq!((owned(&ca).len(), owned(&cb).len()), (1, 1));
}

fn queue_config(ack_timeout_ms: i64) -> QueueConfig {
    QueueConfig { ack_timeout_ms: Some(ack_timeout_ms), ..QueueConfig::new("workers") }
}

#[test]
fn queue_consumers_in_two_handles_compete_and_share_the_backlog() {
    let dir = tempfile::tempdir().unwrap();
    let a = Arc::new(Pond::open(dir.path()).unwrap());
    let b = Arc::new(Pond::open(dir.path()).unwrap());
    a.create_topic("t", TopicConfig { partitions: 2, max_backlog: Some(20), ..TopicConfig::default() })
        .unwrap();
    let qa = a.queue("t", queue_config(60_000)).unwrap();
    let qb = b.queue("t", queue_config(60_000)).unwrap();
    for i in 0..20u8 {
        b.send("t", NewRecord::value(&[i])).unwrap();
    }
    // The backlog is pond-wide: a counts what b sent.
    assert!(matches!(a.send("t", NewRecord::value(b"x")), Err(Error::Backpressure(_))));
    let mut seen = std::collections::BTreeSet::new();
    loop {
        let from_a = qa.receive(3).unwrap();
        let from_b = qb.receive(3).unwrap();
        if from_a.is_empty() && from_b.is_empty() {
            break;
        }
        for d in from_a.iter().chain(&from_b) {
            assert!(seen.insert((d.record.partition, d.record.offset)), "delivered twice: {:?}", d.token);
        }
        // A token settles its delivery through any handle (as a receipt
        // handle does), once.
        let mut from_a = from_a.into_iter();
        if let Some(d) = from_a.next() {
            qb.ack(d.token).unwrap();
            assert!(matches!(qa.ack(d.token), Err(Error::LeaseExpired(_))));
        }
        qa.ack_many(&from_a.map(|d| d.token).collect::<Vec<_>>()).unwrap();
        qb.ack_many(&from_b.iter().map(|d| d.token).collect::<Vec<_>>()).unwrap();
    }
    assert_eq!(seen.len(), 20);
    assert_eq!((qa.backlog().unwrap(), qb.backlog().unwrap()), (0, 0));
    a.send("t", NewRecord::value(b"room again")).unwrap();
}

#[test]
fn a_lease_stands_while_its_holder_lives_and_comes_back_when_it_closes_or_dies() {
    let dir = tempfile::tempdir().unwrap();
    let a = Arc::new(Pond::open(dir.path()).unwrap());
    a.create_topic("t", TopicConfig::default()).unwrap();
    for i in 0..3u8 {
        a.send("t", NewRecord::value(&[i])).unwrap();
    }
    let qa = a.queue("t", queue_config(600_000)).unwrap();
    assert_eq!(qa.receive(1).unwrap()[0].record.offset, 0);
    // A handle opened later does not take the live holder's lease.
    let b = Arc::new(Pond::open(dir.path()).unwrap());
    let qb = b.queue("t", queue_config(600_000)).unwrap();
    let got = qb.receive(1).unwrap();
    assert_eq!(got[0].record.offset, 1);
    // A closed consumer returns its leases: at once, count kept.
    qa.close().unwrap();
    let again = qb.receive(5).unwrap();
    let offsets: Vec<(u64, u32)> = again.iter().map(|d| (d.record.offset, d.delivery_count)).collect();
    assert_eq!(offsets, vec![(0, 2), (2, 1)]);
    // A handle that goes away holding leases (as a killed process does:
    // its claim is released) loses them at the next receive elsewhere.
    let c = Arc::new(Pond::open(dir.path()).unwrap());
    let qc = c.queue("t", queue_config(600_000)).unwrap();
    drop(qb);
    let held = b.queue("t", queue_config(600_000)).unwrap();
    std::mem::forget(held);
    b.close().unwrap();
    let back: Vec<u64> = qc.receive(5).unwrap().iter().map(|d| d.record.offset).collect();
    assert_eq!(back, vec![0, 1, 2]);
}

#[test]
fn a_nack_delay_holds_across_handles_sharing_a_clock() {
    let (_dir, clock, a, b) = two_handles_sharing_a_clock();
    a.create_topic("t", TopicConfig::default()).unwrap();
    a.send("t", NewRecord::value(b"retry me")).unwrap();
    let qa = a.queue("t", queue_config(60_000)).unwrap();
    let qb = b.queue("t", queue_config(60_000)).unwrap();
    let d = qa.receive(1).unwrap().remove(0);
    qa.nack(d.token, Some(10_000)).unwrap();
    assert!(qb.receive(1).unwrap().is_empty(), "not before its delay");
    clock.advance(10_000);
    let again = qb.receive(1).unwrap();
    assert_eq!((again[0].record.offset, again[0].delivery_count), (0, 2));
    // a's token is stale now: b holds the record.
    assert!(matches!(qa.ack(d.token), Err(Error::LeaseExpired(_))));
    qb.ack(again[0].token).unwrap();
    assert_eq!(qa.backlog().unwrap(), 0);
}

#[test]
fn a_wait_in_one_handle_wakes_when_another_sends() {
    let dir = tempfile::tempdir().unwrap();
    let a = Arc::new(Pond::open(dir.path()).unwrap());
    let b = Pond::open(dir.path()).unwrap();
    a.create_topic("t", TopicConfig::default()).unwrap();
    let queue = a.queue("t", QueueConfig::new("workers")).unwrap();
    let earliest =
        ConsumerConfig { auto_offset_reset: OffsetReset::Earliest, ..ConsumerConfig::new("g", &["t"]) };
    let consumer = a.consumer(earliest).unwrap();
    let long = std::time::Duration::from_secs(30);
    let waiter = std::thread::spawn(move || {
        let started = std::time::Instant::now();
        let got = queue.receive_wait(10, long).unwrap();
        let polled = consumer.poll_wait(10, long).unwrap();
        (got.len(), polled.len(), started.elapsed())
    });
    std::thread::sleep(std::time::Duration::from_millis(200));
    b.send("t", NewRecord::value(b"wake up")).unwrap();
    let (received, polled, took) = waiter.join().unwrap();
    assert_eq!((received, polled), (1, 1));
    // Woken by the send, far before the 30 s timeouts.
    assert!(took < long / 3, "took {took:?}");
}

fn tree(root: &std::path::Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    fn walk(dir: &std::path::Path, rel: &str, out: &mut std::collections::BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let name = format!("{rel}{}", entry.file_name().to_string_lossy());
            if entry.file_type().unwrap().is_dir() {
                walk(&entry.path(), &format!("{name}/"), out);
            } else {
                out.insert(name, std::fs::read(entry.path()).unwrap());
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    walk(root, "", &mut out);
    out
}

#[test]
fn a_read_only_handle_reads_beside_a_writer_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let writer = Arc::new(Pond::open(dir.path()).unwrap());
    writer.create_topic("t", small_segments()).unwrap();
    writer.send("t", NewRecord::value(b"first")).unwrap();
    let options = logpond::PondOptions { read_only: true, ..logpond::PondOptions::default() };
    let reader = Arc::new(Pond::open_with(dir.path(), options.clone()).unwrap());
    assert_eq!(values(&read_all(&reader, "t", 0)), vec![b"first".to_vec()]);
    for i in 0..40u32 {
        writer.send("t", NewRecord::value(&i.to_le_bytes())).unwrap(); // rolls segments
    }
    assert_eq!(read_all(&reader, "t", 0).len(), 41, "the reader follows the writer");
    for refused in [
        reader.send("t", NewRecord::value(b"no")).map(|_| ()),
        reader.create_topic("u", TopicConfig::default()),
        reader.delete_records("t", 0, 1),
        reader.consumer(ConsumerConfig::new("g", &["t"])).map(|_| ()),
        reader.queue("t", QueueConfig::new("q")).map(|_| ()),
    ] {
        let err = refused.unwrap_err();
        assert!(err.to_string().contains("read-only"), "{err}");
    }
    reader.close().unwrap();
    // Alone, a read-only handle changes no byte and no name, even with a
    // dead writer's torn tail to skip.
    writer.close().unwrap();
    let paths = dir.path().join("topics/t/0").read_dir().unwrap().map(|e| e.unwrap().path());
    let segment = paths.filter(|p| p.extension().is_some_and(|x| x == "log")).max().unwrap();
    let mut f = std::fs::OpenOptions::new().append(true).open(&segment).unwrap();
    std::io::Write::write_all(&mut f, &[0x5A; 9]).unwrap();
    let before = tree(dir.path());
    let reader = Pond::open_with(dir.path(), options.clone()).unwrap();
    assert_eq!(read_all(&reader, "t", 0).len(), 41);
    reader.close().unwrap();
    assert_eq!(tree(dir.path()), before);
    // A pond that does not exist is not created by a read-only open.
    let missing = dir.path().join("missing");
    assert!(Pond::open_with(&missing, options).is_err());
    assert!(!missing.exists());
}

#[test]
fn a_memory_pond_reopened_redelivers_what_was_in_flight_at_once() {
    let storage: Arc<dyn logpond::Storage> = Arc::new(logpond::MemoryStorage::new());
    let open = || Arc::new(Pond::with_storage(storage.clone(), logpond::PondOptions::default()).unwrap());
    let pond = open();
    pond.create_topic("t", TopicConfig::default()).unwrap();
    pond.send("t", NewRecord::value(b"in flight")).unwrap();
    let q = pond.queue("t", queue_config(600_000)).unwrap();
    assert_eq!(q.receive(1).unwrap().len(), 1);
    std::mem::forget(q);
    pond.close().unwrap();
    let again = open();
    let q = again.queue("t", queue_config(600_000)).unwrap();
    let got = q.receive(1).unwrap();
    assert_eq!((got.len(), got[0].delivery_count), (1, 2));
}

#[test]
fn a_live_lease_outlasts_another_handles_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    let a = Arc::new(Pond::open(dir.path()).unwrap());
    let b = Arc::new(Pond::open(dir.path()).unwrap());
    a.create_topic("jobs", TopicConfig::default()).unwrap();
    let jobs: Vec<Vec<u8>> = (0..6000u32).map(|i| i.to_le_bytes().to_vec()).collect();
    a.send_many("jobs", &jobs.iter().map(|j| NewRecord::value(j)).collect::<Vec<_>>()).unwrap();
    let qa = a.queue("jobs", queue_config(600_000)).unwrap();
    let qb = b.queue("jobs", queue_config(600_000)).unwrap();
    let held = qa.receive(1).unwrap().remove(0);
    // b settles thousands (its state log is snapshotted and freed meanwhile);
    // a, looking now and then, never gets its own held record again.
    for step in 0..1000 {
        for d in qb.receive(5).unwrap() {
            assert_ne!(d.record.offset, held.record.offset, "b got a's live lease");
            qb.ack(d.token).unwrap();
        }
        if step % 50 == 0 {
            for d in qa.receive(1).unwrap() {
                assert_ne!(
                    d.record.offset, held.record.offset,
                    "step {step}: a got its own live lease again"
                );
                qa.ack(d.token).unwrap();
            }
        }
    }
    qa.ack(held.token).unwrap();
}

#[test]
fn compaction_by_one_handle_is_read_rightly_by_another() {
    let (_dir, clock, a, b) = two_handles_sharing_a_clock();
    let config = logpond::TopicConfig {
        cleanup: logpond::Cleanup::Compact,
        segment_bytes: 256,
        delete_retention_ms: 1_000,
        ..TopicConfig::default()
    };
    a.create_topic("kv", config).unwrap();
    for i in 0..120u32 {
        let key = format!("key-{}", i % 7);
        a.send("kv", NewRecord::keyed(key.as_bytes(), &i.to_le_bytes())).unwrap();
    }
    // b opens every segment now, before a rewrites them.
    let before = read_all(&b, "kv", 0);
    for i in 0..40u32 {
        a.send("kv", NewRecord::keyed(b"filler", &i.to_le_bytes())).unwrap();
    }
    clock.advance(2_000);
    a.maintain().unwrap();
    let compacted = read_all(&a, "kv", 0);
    assert!(compacted.len() < before.len(), "a compacted ({} of {})", compacted.len(), before.len());
    // b sees a's rewritten segments, not the bytes it had open: the same
    // records as a, and no Corruption from reading old positions.
    assert_eq!(read_all(&b, "kv", 0), compacted);
    b.send("kv", NewRecord::keyed(b"after", b"x")).unwrap();
    assert_eq!(read_all(&a, "kv", 0).last().map(|r| r.offset), Some(160));
}

/// A read-only handle lists and describes a group whose members live in
/// two other handles — generation, members and their partitions,
/// committed offsets and lag — without joining it: nothing rebalances.
#[test]
fn a_group_is_described_without_joining_it() {
    let dir = tempfile::tempdir().unwrap();
    let a = Arc::new(Pond::open(dir.path()).unwrap());
    let b = Arc::new(Pond::open(dir.path()).unwrap());
    a.create_topic("t", TopicConfig { partitions: 2, ..TopicConfig::default() }).unwrap();
    for i in 0..20u32 {
        a.send("t", NewRecord::value(&i.to_le_bytes()).with_partition(i % 2)).unwrap();
    }
    let config = || ConsumerConfig { auto_commit: false, ..earliest("billing") };
    let ca = a.consumer(config()).unwrap();
    ca.poll(100).unwrap();
    let cb = b.consumer(config()).unwrap();
    cb.poll(100).unwrap(); // joins: a hands a partition over at its next poll
    ca.poll(100).unwrap();
    cb.poll(100).unwrap();
    ca.commit().unwrap();
    cb.commit().unwrap();
    let looker =
        Pond::open_with(dir.path(), logpond::PondOptions { read_only: true, ..Default::default() }).unwrap();
    assert_eq!(looker.groups().unwrap(), vec!["billing"]);
    let info = looker.describe_group("billing").unwrap();
    assert_eq!(info.group, "billing");
    assert_eq!(info.generation, ca.generation().unwrap());
    let ids: Vec<u64> = info.members.iter().map(|m| m.member_id).collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&ca.member_id().unwrap()) && ids.contains(&cb.member_id().unwrap()));
    assert!(info.members.iter().all(|m| m.assignment.len() == 1), "{info:?}");
    let held: usize = (0..2).filter(|p| info.offsets[&("t".to_string(), *p)].consumer.is_some()).count();
    assert_eq!(held, 2);
    let total_lag: u64 = info.offsets.values().map(|o| o.lag).sum();
    let committed: u64 = info.offsets.values().filter_map(|o| o.committed).sum();
    assert_eq!(total_lag + committed, 20, "{info:?}");
    // Looking changed nothing: the same generation, and more sends only add lag.
    a.send("t", NewRecord::value(b"more").with_partition(0)).unwrap();
    let again = looker.describe_group("billing").unwrap();
    assert_eq!(again.generation, info.generation);
    assert_eq!(again.offsets[&("t".to_string(), 0)].lag, info.offsets[&("t".to_string(), 0)].lag + 1);
    assert_eq!(ca.generation().unwrap(), info.generation);
    assert!(looker.describe_group("nobody").unwrap().members.is_empty());
}
