//! Failures found by trying logpond as a hostile user and a crashing
//! machine would; each test failed before its fix.

mod common;

use std::sync::Arc;

use common::{manual, read_all, reopen, values};
use logpond::{
    ConsumerConfig, Error, ErrorCode, MemoryStorage, NewRecord, OffsetReset, Pond, Storage, TopicConfig,
};

fn earliest(group: &str, topic: &str) -> ConsumerConfig {
    ConsumerConfig { auto_offset_reset: OffsetReset::Earliest, ..ConsumerConfig::new(group, &[topic]) }
}

#[test]
fn a_recreated_topic_is_read_from_its_start_by_an_old_group() {
    let (_clock, options) = manual(0);
    let pond = Arc::new(Pond::memory_with(options));
    pond.create_topic("t", TopicConfig::default()).unwrap();
    for v in [b"a", b"b", b"c"] {
        pond.send("t", NewRecord::value(v)).unwrap();
    }
    let c = pond.consumer(earliest("g", "t")).unwrap();
    assert_eq!(c.poll(10).unwrap().len(), 3);
    c.commit().unwrap();
    pond.delete_topic("t").unwrap();
    // Auto-commit on close must not write the deleted topic's position back.
    c.close().unwrap();
    pond.create_topic("t", TopicConfig::default()).unwrap();
    for v in [&b"new0"[..], b"new1", b"new2", b"new3"] {
        pond.send("t", NewRecord::value(v)).unwrap();
    }
    let c2 = pond.consumer(earliest("g", "t")).unwrap();
    assert_eq!(c2.committed("t", 0).unwrap(), None);
    assert_eq!(
        values(&c2.poll(10).unwrap()),
        vec![b"new0".to_vec(), b"new1".into(), b"new2".into(), b"new3".into()]
    );
}

#[test]
fn a_live_member_never_commits_a_deleted_topics_position() {
    let (_clock, options) = manual(0);
    let pond = Arc::new(Pond::memory_with(options));
    pond.create_topic("t", TopicConfig::default()).unwrap();
    pond.send("t", NewRecord::value(b"x")).unwrap();
    let c = pond.consumer(earliest("g", "t")).unwrap();
    c.poll(10).unwrap();
    pond.delete_topic("t").unwrap();
    pond.create_topic("t", TopicConfig::default()).unwrap();
    pond.send("t", NewRecord::value(b"y")).unwrap();
    c.commit().unwrap();
    assert_eq!(c.committed("t", 0).unwrap(), None);
    assert_eq!(values(&c.poll(10).unwrap()), vec![b"y".to_vec()]);
}

#[test]
fn a_missing_topic_meta_is_corruption_never_a_deletion() {
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    let (_clock, options) = manual(0);
    let pond = reopen(&storage, &options);
    pond.create_topic("orders", TopicConfig::default()).unwrap();
    pond.send("orders", NewRecord::value(b"keep me")).unwrap();
    pond.close().unwrap();
    storage.remove("topics/orders/topic.meta").unwrap();
    let err = Pond::with_storage(storage.clone(), options.clone()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Corruption, "{err}");
    assert!(err.to_string().contains("topics/orders/topic.meta"), "{err}");
    // The records are still there.
    assert!(storage.list("topics/orders/0/").unwrap().iter().any(|f| f.ends_with(".log")));
}

#[test]
fn an_interrupted_delete_is_finished_on_open() {
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    let (_clock, options) = manual(0);
    let pond = reopen(&storage, &options);
    pond.create_topic("gone", TopicConfig::default()).unwrap();
    pond.send("gone", NewRecord::value(b"x")).unwrap();
    pond.close().unwrap();
    // The delete's atomic step happened, the files were not removed yet.
    storage.rename("topics/gone/topic.meta", "topics/gone/topic.deleted").unwrap();
    let pond = reopen(&storage, &options);
    assert!(pond.topics().unwrap().is_empty());
    assert!(storage.list("topics/gone/").unwrap().is_empty());
    // An interrupted create (empty segments, no metadata) is cleared too.
    pond.close().unwrap();
    let f = storage.open("topics/half/0/00000000000000000000.log", true).unwrap();
    f.write_at(0, b"LPSG\x01\x00\x00\x00").unwrap();
    let pond = reopen(&storage, &options);
    assert!(pond.topics().unwrap().is_empty());
    assert!(storage.list("topics/half/").unwrap().is_empty());
}

#[test]
fn headers_count_toward_the_record_size() {
    let pond = Pond::memory();
    pond.create_topic("t", TopicConfig { max_record_bytes: 100, ..TopicConfig::default() }).unwrap();
    let many_empty = NewRecord { headers: vec![("", &b""[..]); 51], ..NewRecord::default() };
    let err = pond.send("t", many_empty).unwrap_err();
    assert!(matches!(err, Error::RecordTooLarge { size: 102, limit: 100 }), "{err}");
    let fifty = NewRecord { headers: vec![("", &b""[..]); 50], ..NewRecord::default() };
    pond.send("t", fifty).unwrap();
    assert_eq!(read_all(&pond, "t", 0)[0].headers.len(), 50);
}

#[test]
fn an_oversized_batch_says_batch_not_record() {
    let pond = Pond::memory();
    pond.create_topic("t", TopicConfig::default()).unwrap();
    let value = vec![7u8; 1 << 20];
    let records: Vec<NewRecord<'_>> = (0..300).map(|_| NewRecord::value(&value)).collect();
    let err = pond.send_many("t", &records).unwrap_err();
    assert_eq!(err.code(), ErrorCode::RecordTooLarge);
    assert!(err.to_string().starts_with("batch too large"), "{err}");
    assert!(read_all(&pond, "t", 0).is_empty());
}

#[test]
fn a_nacked_record_goes_behind_the_waiting_ones() {
    let (_clock, options) = manual(0);
    let pond = Arc::new(Pond::memory_with(options));
    pond.create_topic("t", TopicConfig::default()).unwrap();
    for v in [&b"m0"[..], b"m1", b"m2", b"m3"] {
        pond.send("t", NewRecord::value(v)).unwrap();
    }
    let q = pond.queue("t", logpond::QueueConfig::new("s")).unwrap();
    let mut order = Vec::new();
    for _ in 0..6 {
        let Some(d) = q.receive(1).unwrap().pop() else { break };
        let v = d.record.value.clone().unwrap().to_vec();
        order.push(v.clone());
        if v == b"m1" && d.delivery_count == 1 {
            q.nack(d.token, Some(0)).unwrap(); // fails once, then is acked
        } else {
            q.ack(d.token).unwrap();
        }
    }
    assert_eq!(order, vec![b"m0".to_vec(), b"m1".into(), b"m2".into(), b"m3".into(), b"m1".into()]);
}

#[test]
fn a_failed_handler_backs_off_doubling_to_a_minute() {
    assert_eq!(
        [1, 2, 3, 6, 7, 8, 100, u32::MAX].map(logpond::failure_backoff_ms),
        [1_000, 2_000, 4_000, 32_000, 60_000, 60_000, 60_000, 60_000]
    );
    let (clock, options) = manual(0);
    let pond = Arc::new(Pond::memory_with(options));
    pond.create_topic("t", TopicConfig::default()).unwrap();
    pond.send("t", NewRecord::value(b"poison")).unwrap();
    pond.send("t", NewRecord::value(b"fine")).unwrap();
    let q = pond.queue("t", logpond::QueueConfig::new("s")).unwrap();
    let d = q.receive(1).unwrap().pop().unwrap();
    q.nack_failed(d.token, "boom").unwrap();
    assert_eq!(q.next_due_ms().unwrap(), Some(1_000));
    let fine = q.receive(10).unwrap();
    assert_eq!(values(&fine.iter().map(|d| d.record.clone()).collect::<Vec<_>>()), vec![b"fine".to_vec()]);
    q.ack(fine[0].token).unwrap();
    clock.advance(999);
    assert!(q.receive(10).unwrap().is_empty());
    clock.advance(1);
    let again = q.receive(10).unwrap().pop().unwrap();
    assert_eq!(again.delivery_count, 2);
    q.nack_failed(again.token, "boom").unwrap();
    assert_eq!(q.next_due_ms().unwrap(), Some(3_000));
}

/// A 3-partition topic of one-record batches in small segments, with one
/// byte flipped in the middle of partition 0's first (sealed) segment.
fn damaged_pond(at_permille: u64) -> (Arc<dyn Storage>, logpond::PondOptions) {
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    let (_clock, options) = manual(0);
    let pond = reopen(&storage, &options);
    pond.create_topic("t", TopicConfig { partitions: 3, segment_bytes: 1024, ..TopicConfig::default() })
        .unwrap();
    for i in 0..100u32 {
        for p in 0..3 {
            let v = format!("p{p}-{i:03}-{}", "x".repeat(40));
            pond.send("t", NewRecord::value(v.as_bytes()).with_partition(p)).unwrap();
        }
    }
    pond.close().unwrap();
    let f = storage.open("topics/t/0/00000000000000000000.log", false).unwrap();
    let mid = 8 + (f.len().unwrap() - 8) * at_permille / 1000;
    let mut b = [0u8; 1];
    f.read_at(mid, &mut b).unwrap();
    f.write_at(mid, &[b[0] ^ 0x40]).unwrap();
    (storage, options)
}

fn check_value(r: &logpond::Record) {
    let v = std::str::from_utf8(r.value.as_deref().unwrap()).unwrap();
    assert_eq!(v, format!("p{}-{:03}-{}", r.partition, r.offset, "x".repeat(40)), "a record differs");
}

#[test]
fn damage_stays_in_its_partition_for_groups() {
    for at in [500, 0, 1, 333, 777, 999] {
        damage_in_a_group(at);
    }
}

fn damage_in_a_group(at: u64) {
    let (storage, options) = damaged_pond(at);
    let pond = Arc::new(reopen(&storage, &options));
    let c = pond.consumer(earliest("g", "t")).unwrap();
    let mut got = Vec::new();
    let mut errors = 0;
    let mut skipped = Vec::new();
    for _ in 0..100 {
        match c.poll(50) {
            Ok(batch) if batch.is_empty() => break,
            Ok(batch) => got.extend(batch),
            Err(e) => {
                assert_eq!(e.code(), ErrorCode::Corruption);
                let msg = e.to_string();
                assert!(msg.contains("\"t\" partition 0") && msg.contains("offset"), "{msg}");
                errors += 1;
                skipped.extend(c.skip_damaged().unwrap());
            }
        }
    }
    assert_eq!(errors, 1, "damage at {at}‰");
    assert_eq!(skipped.len(), 1);
    let (topic, partition, from, to) = skipped[0].clone();
    assert_eq!((topic.as_str(), partition), ("t", 0));
    assert!(to > from && to - from <= 20, "{from}..{to} at {at}‰");
    got.iter().for_each(check_value);
    assert_eq!(got.iter().filter(|r| r.partition != 0).count(), 200);
    // Everything of partition 0 outside the skipped range, exactly once.
    let p0: Vec<u64> = got.iter().filter(|r| r.partition == 0).map(|r| r.offset).collect();
    assert_eq!(p0, (0..100).filter(|o| !(from..to).contains(o)).collect::<Vec<_>>(), "at {at}‰");
    if at == 500 {
        assert_eq!(to - from, 1, "a flipped byte inside a batch skips that batch only");
    }
}

#[test]
fn damage_stays_in_its_partition_for_queues() {
    let (storage, options) = damaged_pond(500);
    let pond = Arc::new(reopen(&storage, &options));
    let q = pond
        .queue("t", logpond::QueueConfig { max_in_flight: 1000, ..logpond::QueueConfig::new("s") })
        .unwrap();
    let mut got = Vec::new();
    let mut skipped = Vec::new();
    for _ in 0..100 {
        match q.receive(50) {
            Ok(batch) if batch.is_empty() => break,
            Ok(batch) => {
                for d in batch {
                    q.ack(d.token).unwrap();
                    got.push(d.record);
                }
            }
            Err(e) => {
                assert_eq!(e.code(), ErrorCode::Corruption, "{e}");
                skipped.extend(q.skip_damaged().unwrap());
            }
        }
    }
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    got.iter().for_each(check_value);
    assert_eq!(got.len(), 299);
    assert_eq!(q.backlog().unwrap(), 0);
}

fn segment_files(storage: &dyn Storage, dir: &str) -> usize {
    storage.list(dir).unwrap().iter().filter(|f| f.ends_with(".log")).count()
}

#[test]
fn compaction_merges_emptied_and_small_segments() {
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    let (_clock, options) = manual(0);
    let pond = reopen(&storage, &options);
    let config =
        TopicConfig { cleanup: logpond::Cleanup::Compact, segment_bytes: 600, ..TopicConfig::default() };
    pond.create_topic("c", config).unwrap();
    let value = [b'v'; 100];
    for i in 0..20_000u32 {
        let key = format!("k{}", i % 10);
        pond.send("c", NewRecord::keyed(key.as_bytes(), &value)).unwrap();
    }
    // Was 3,332 header-only segments: now a handful (the last key of each
    // sealed segment it did not supersede, in segments of ~600 bytes).
    let n = segment_files(&*storage, "topics/c/0/");
    assert!(n <= 20, "{n} segments");
    let latest = read_all(&pond, "c", 0);
    assert!(latest.len() >= 10);
    let mut keys: Vec<_> = latest.iter().map(|r| r.key.clone().unwrap()).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 10);
    assert_eq!(pond.offsets("c", 0).unwrap(), (0, 20_000), "the log start never moves");
    pond.close().unwrap();
    let pond = reopen(&storage, &options);
    assert_eq!(read_all(&pond, "c", 0).len(), latest.len());
}

#[test]
fn committed_offsets_do_not_pile_up_segments() {
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    let (_clock, options) = manual(0);
    let pond = Arc::new(reopen(&storage, &options));
    pond.create_topic("t", TopicConfig::default()).unwrap();
    pond.send("t", NewRecord::value(b"x")).unwrap();
    let c = pond.consumer(ConsumerConfig { auto_commit: false, ..earliest("g", "t") }).unwrap();
    c.poll(10).unwrap();
    for i in 0..150_000u64 {
        c.commit_offsets(&[("t", 0, i % 2)]).unwrap();
    }
    let n = segment_files(&*storage, "topics/__consumer_offsets/0/");
    assert!(n <= 3, "{n} segments in __consumer_offsets");
    drop(c);
    pond.close().unwrap();
    let pond = Arc::new(reopen(&storage, &options));
    let c = pond.consumer(earliest("g", "t")).unwrap();
    assert_eq!(c.committed("t", 0).unwrap(), Some(1));
}

#[cfg(target_os = "linux")]
#[test]
fn open_file_handles_stay_bounded_whatever_the_segment_count() {
    let open_fds = || std::fs::read_dir("/proc/self/fd").unwrap().count();
    let dir = tempfile::tempdir().unwrap();
    let options = logpond::PondOptions { max_open_files: 32, ..logpond::PondOptions::default() };
    let pond = Pond::open_with(dir.path(), options.clone()).unwrap();
    let before = open_fds();
    pond.create_topic("t", TopicConfig { segment_bytes: 64, ..TopicConfig::default() }).unwrap();
    for i in 0..2_000u32 {
        pond.send("t", NewRecord::value(format!("record {i:05} {}", "x".repeat(60)).as_bytes())).unwrap();
        if i % 100 == 0 {
            // Other tests run threads too: allow a little slack above the bound.
            assert!(open_fds() <= before + 32 + 8, "{} fds open", open_fds());
        }
    }
    assert_eq!(read_all(&pond, "t", 0).len(), 2_000);
    assert!(open_fds() <= before + 32 + 8);
    pond.close().unwrap();
    let pond = Pond::open_with(dir.path(), options).unwrap();
    let all = read_all(&pond, "t", 0);
    assert_eq!(all.len(), 2_000);
    assert_eq!(all[1999].value.as_deref().unwrap(), format!("record 01999 {}", "x".repeat(60)).as_bytes());
}

/// Storage that "crashes" (fails every later change) once a merge was
/// committed by its rename to `.swap`.
#[derive(Debug)]
struct CrashAfterSwap {
    inner: MemoryStorage,
    crashed: std::sync::atomic::AtomicBool,
}

impl Storage for CrashAfterSwap {
    fn open(&self, name: &str, create: bool) -> logpond::Result<Arc<dyn logpond::StorageFile>> {
        self.inner.open(name, create)
    }
    fn list(&self, prefix: &str) -> logpond::Result<Vec<String>> {
        self.inner.list(prefix)
    }
    fn remove(&self, name: &str) -> logpond::Result<()> {
        if self.crashed.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(Error::Io(std::io::Error::other("crashed")));
        }
        self.inner.remove(name)
    }
    fn rename(&self, from: &str, to: &str) -> logpond::Result<()> {
        if self.crashed.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(Error::Io(std::io::Error::other("crashed")));
        }
        self.inner.rename(from, to)?;
        if to.ends_with(".swap") {
            self.crashed.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        Ok(())
    }
}

#[test]
fn a_merge_interrupted_after_its_commit_is_finished_on_open() {
    let inner = MemoryStorage::new();
    let crashing = Arc::new(CrashAfterSwap { inner: inner.clone(), crashed: Default::default() });
    let (_clock, options) = manual(0);
    let pond = Pond::with_storage(crashing.clone(), options.clone()).unwrap();
    let config =
        TopicConfig { cleanup: logpond::Cleanup::Compact, segment_bytes: 600, ..TopicConfig::default() };
    pond.create_topic("c", config).unwrap();
    let mut acked = std::collections::BTreeMap::new();
    for i in 0..5_000u32 {
        let key = format!("k{}", i % 7);
        let value = format!("v{i}");
        match pond.send("c", NewRecord::keyed(key.as_bytes(), value.as_bytes())) {
            Ok(md) => {
                acked.insert(key, (md.offset, value));
            }
            Err(_) => break,
        }
    }
    assert!(crashing.crashed.load(std::sync::atomic::Ordering::SeqCst), "no merge happened");
    drop(pond);
    assert!(inner.list("topics/c/0/").unwrap().iter().any(|f| f.ends_with(".swap")));
    let storage: Arc<dyn Storage> = Arc::new(inner);
    let pond = reopen(&storage, &options);
    assert!(!storage.list("topics/c/0/").unwrap().iter().any(|f| f.ends_with(".swap")));
    let all = read_all(&pond, "c", 0);
    let offsets: Vec<u64> = all.iter().map(|r| r.offset).collect();
    let mut sorted = offsets.clone();
    sorted.dedup();
    assert_eq!(offsets, sorted, "offsets strictly increase: no record twice");
    // Every acknowledged record is there, or a newer one of its key (the
    // send that hit the crash may have been written before it failed).
    for (key, (offset, value)) in acked {
        let newest = all.iter().filter(|r| r.key.as_deref() == Some(key.as_bytes())).max_by_key(|r| r.offset);
        let newest = newest.unwrap_or_else(|| panic!("{key} lost"));
        assert!(newest.offset >= offset, "{key}: {} < {offset}", newest.offset);
        if newest.offset == offset {
            assert_eq!(newest.value.as_deref().unwrap(), value.as_bytes());
        }
    }
}

#[test]
fn a_delete_cut_short_after_its_commit_leaves_no_offsets_or_subscriptions() {
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    let (_clock, options) = manual(0);
    let pond = Arc::new(reopen(&storage, &options));
    pond.create_topic("t", TopicConfig::default()).unwrap();
    pond.send("t", NewRecord::value(b"x")).unwrap();
    let c = pond.consumer(ConsumerConfig { auto_commit: false, ..earliest("g", "t") }).unwrap();
    c.poll(10).unwrap();
    c.commit().unwrap();
    let q = pond.queue("t", logpond::QueueConfig::new("s")).unwrap();
    q.ack(q.receive(1).unwrap()[0].token).unwrap();
    drop((c, q));
    pond.close().unwrap();
    // The crash hit right after the delete's atomic step.
    storage.rename("topics/t/topic.meta", "topics/t/topic.deleted").unwrap();
    let pond = Arc::new(reopen(&storage, &options));
    assert!(pond.topics().unwrap().is_empty());
    assert!(storage.list("queues/t/").unwrap().is_empty());
    pond.create_topic("t", TopicConfig::default()).unwrap();
    pond.send("t", NewRecord::value(b"new")).unwrap();
    let c = pond.consumer(earliest("g", "t")).unwrap();
    assert_eq!(c.committed("t", 0).unwrap(), None);
    assert_eq!(values(&c.poll(10).unwrap()), vec![b"new".to_vec()]);
    assert!(pond.subscriptions("t").unwrap().is_empty());
}
