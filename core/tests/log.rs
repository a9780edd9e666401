//! Scenario tests of the partitioned log through the public API.

mod common;

use std::sync::Arc;

use common::{manual, read_all, reopen, value, values};
use logpond::partitioner::partition_for_key;
use logpond::{
    Cleanup, Error, MemoryStorage, NewRecord, Pond, PondOptions, ReadLimits, Storage, TopicConfig,
};

fn limits(max_records: usize) -> ReadLimits {
    ReadLimits { max_records, max_bytes: usize::MAX }
}

#[test]
fn topics_are_created_listed_described_and_deleted() {
    let pond = Pond::memory();
    pond.create_topic("orders", TopicConfig::with_partitions(3)).unwrap();
    pond.create_topic("audit", TopicConfig::default()).unwrap();
    assert!(matches!(pond.create_topic("orders", TopicConfig::default()), Err(Error::TopicExists(_))));
    assert_eq!(pond.topics().unwrap(), vec!["audit", "orders"]);
    let info = pond.describe("orders").unwrap();
    assert_eq!(info.partitions.len(), 3);
    assert_eq!(info.config.partitions, 3);
    assert!(info.partitions.iter().all(|p| p.start_offset == 0 && p.end_offset == 0 && p.bytes == 8));
    pond.delete_topic("orders").unwrap();
    assert_eq!(pond.topics().unwrap(), vec!["audit"]);
    assert!(matches!(pond.describe("orders"), Err(Error::TopicNotFound(_))));
    assert!(matches!(pond.delete_topic("orders"), Err(Error::TopicNotFound(_))));
    assert!(matches!(pond.send("orders", value(b"x")), Err(Error::TopicNotFound(_))));
}

#[test]
fn bad_names_and_configs_are_typed_errors() {
    let pond = Pond::memory();
    for bad in ["", "..", "a b", "x/y", &"n".repeat(250)] {
        assert!(
            matches!(pond.create_topic(bad, TopicConfig::default()), Err(Error::InvalidName(_))),
            "{bad:?}"
        );
    }
    assert!(matches!(pond.create_topic("__internal", TopicConfig::default()), Err(Error::InvalidName(_))));
    assert!(matches!(pond.delete_topic("__internal"), Err(Error::InvalidName(_))));
    assert!(matches!(
        pond.create_topic("t", TopicConfig::with_partitions(0)),
        Err(Error::InvalidArgument(_))
    ));
    assert!(pond.topics().unwrap().is_empty(), "a refused topic leaves nothing behind");
}

#[test]
fn records_round_trip_with_keys_headers_and_timestamps() {
    let (clock, options) = manual(1_000);
    let pond = Pond::memory_with(options);
    pond.create_topic("t", TopicConfig::default()).unwrap();
    let md = pond
        .send("t", NewRecord::keyed(b"k", b"v").with_header("trace", b"abc").with_header("trace", b""))
        .unwrap();
    assert_eq!((md.partition, md.offset, md.timestamp_ms), (0, 0, 1_000));
    clock.advance(5);
    pond.send("t", NewRecord::tombstone(b"k").with_timestamp(7)).unwrap();
    pond.send("t", NewRecord::default()).unwrap();
    let records = pond.read("t", 0, 0, ReadLimits::default()).unwrap();
    assert_eq!(records.len(), 3);
    assert_eq!(records[0].key.as_deref(), Some(&b"k"[..]));
    assert_eq!(records[0].value.as_deref(), Some(&b"v"[..]));
    assert_eq!(records[0].headers.len(), 2);
    assert_eq!(records[0].headers[0].0, "trace");
    assert_eq!(&records[0].headers[0].1[..], b"abc");
    assert_eq!(records[1].timestamp_ms, 7);
    assert!(records[1].value.is_none());
    assert_eq!(records[2].timestamp_ms, 1_005);
    assert!(records[2].key.is_none() && records[2].value.is_none());
    assert_eq!(&*records[2].topic, "t");
}

#[test]
fn send_many_is_one_batch_per_partition_in_order() {
    let pond = Pond::memory();
    pond.create_topic("t", TopicConfig::with_partitions(4)).unwrap();
    let keys: Vec<String> = (0..50).map(|i| format!("customer-{i}")).collect();
    let records: Vec<NewRecord<'_>> =
        keys.iter().map(|k| NewRecord::keyed(k.as_bytes(), k.as_bytes())).collect();
    let metas = pond.send_many("t", &records).unwrap();
    for (k, md) in keys.iter().zip(&metas) {
        assert_eq!(md.partition, partition_for_key(k.as_bytes(), 4), "keyed records follow the hash");
    }
    for p in 0..4 {
        let got = read_all(&pond, "t", p);
        let expected: Vec<&String> =
            keys.iter().filter(|k| partition_for_key(k.as_bytes(), 4) == p).collect();
        assert_eq!(got.len(), expected.len());
        for (r, k) in got.iter().zip(expected) {
            assert_eq!(r.key.as_deref(), Some(k.as_bytes()));
        }
    }
}

#[test]
fn explicit_partition_wins_and_unkeyed_records_spread() {
    let pond = Pond::memory();
    pond.create_topic("t", TopicConfig::with_partitions(3)).unwrap();
    let md = pond.send("t", NewRecord::keyed(b"k", b"v").with_partition(2)).unwrap();
    assert_eq!(md.partition, 2);
    assert!(matches!(pond.send("t", value(b"x").with_partition(3)), Err(Error::InvalidArgument(_))));
    let parts: Vec<u32> = (0..6).map(|_| pond.send("t", value(b"x")).unwrap().partition).collect();
    let mut seen = parts.clone();
    seen.sort();
    seen.dedup();
    assert_eq!(seen, vec![0, 1, 2], "unkeyed records visit every partition: {parts:?}");
    // One call's unkeyed records stay together.
    let metas = pond.send_many("t", &[value(b"a"), value(b"b"), value(b"c")]).unwrap();
    assert!(metas.iter().all(|m| m.partition == metas[0].partition));
}

#[test]
fn invalid_records_are_refused_before_anything_is_written() {
    let pond = Pond::memory();
    pond.create_topic("t", TopicConfig { max_record_bytes: 10, ..TopicConfig::default() }).unwrap();
    let big = [0u8; 11];
    let err = pond.send_many("t", &[value(b"ok"), value(&big)]).unwrap_err();
    assert!(matches!(err, Error::RecordTooLarge { size: 11, limit: 10 }));
    assert!(matches!(pond.send("t", value(b"x").with_timestamp(-1)), Err(Error::InvalidArgument(_))));
    assert_eq!(pond.offsets("t", 0).unwrap(), (0, 0));
    pond.create_topic("c", TopicConfig { cleanup: Cleanup::Compact, ..TopicConfig::default() }).unwrap();
    assert!(matches!(pond.send("c", value(b"no key")), Err(Error::InvalidArgument(_))));
}

#[test]
fn reads_honour_limits_and_ranges() {
    let pond = Pond::memory();
    pond.create_topic("t", TopicConfig { segment_bytes: 256, ..TopicConfig::default() }).unwrap();
    let vals: Vec<String> = (0..100).map(|i| format!("value-{i:03}")).collect();
    for v in &vals {
        pond.send("t", value(v.as_bytes())).unwrap();
    }
    assert!(pond.describe("t").unwrap().partitions[0].bytes > 256, "several segments");
    let got = pond.read("t", 0, 37, limits(10)).unwrap();
    assert_eq!(got.iter().map(|r| r.offset).collect::<Vec<_>>(), (37..47).collect::<Vec<_>>());
    let by_bytes = pond.read("t", 0, 0, ReadLimits { max_records: 100, max_bytes: 25 }).unwrap();
    assert_eq!(by_bytes.len(), 2, "9-byte values: two fit in 25 bytes");
    let at_least_one = pond.read("t", 0, 5, ReadLimits { max_records: 100, max_bytes: 1 }).unwrap();
    assert_eq!(at_least_one.len(), 1);
    assert!(pond.read("t", 0, 100, limits(10)).unwrap().is_empty(), "reading at the end is empty");
    assert!(matches!(pond.read("t", 0, 101, limits(10)), Err(Error::OffsetOutOfRange(_))));
    assert!(matches!(pond.read("t", 1, 0, limits(10)), Err(Error::InvalidArgument(_))));
    assert_eq!(
        values(&read_all(&pond, "t", 0)),
        vals.iter().map(|v| v.as_bytes().to_vec()).collect::<Vec<_>>()
    );
}

#[test]
fn reads_that_continue_inside_a_batch_resume_correctly() {
    let pond = Pond::memory();
    pond.create_topic("t", TopicConfig::default()).unwrap();
    let vals: Vec<Vec<u8>> = (0..3_000u32).map(|i| format!("v{i}").into_bytes()).collect();
    for chunk in vals.chunks(1_000) {
        let recs: Vec<NewRecord<'_>> = chunk.iter().map(|v| value(v).with_header("i", v)).collect();
        pond.send_many("t", &recs).unwrap();
    }
    let mut next = 0u64;
    let mut step = 1usize;
    while next < 3_000 {
        // A read elsewhere in between must not disturb the sequential one.
        let other = pond.read("t", 0, (next * 7) % 3_000, limits(3)).unwrap();
        assert_eq!(other[0].offset, (next * 7) % 3_000);
        let got = pond.read("t", 0, next, limits(step)).unwrap();
        for (i, r) in got.iter().enumerate() {
            let o = next as usize + i;
            assert_eq!((r.offset, r.value.as_deref()), (o as u64, Some(&vals[o][..])));
            assert_eq!(&r.headers[0].1[..], &vals[o][..]);
        }
        next += got.len() as u64;
        step = step % 97 + 13;
    }
}

#[test]
fn offset_for_time_finds_the_first_record_at_or_after() {
    let pond = Pond::memory();
    pond.create_topic("t", TopicConfig { segment_bytes: 200, ..TopicConfig::default() }).unwrap();
    // Timestamps not in offset order, as producers may give them.
    let stamps = [10, 30, 20, 40, 40, 35, 60, 50, 70, 80, 75, 90];
    for ts in stamps {
        pond.send("t", value(b"some value here").with_timestamp(ts)).unwrap();
    }
    for t in [0, 10, 11, 25, 30, 31, 36, 41, 55, 61, 76, 85, 90] {
        let expected = stamps.iter().position(|&s| s >= t).map(|i| i as u64);
        assert_eq!(pond.offset_for_time("t", 0, t).unwrap(), expected, "t={t}");
    }
    assert_eq!(pond.offset_for_time("t", 0, 91).unwrap(), None);
    pond.delete_records("t", 0, 4).unwrap();
    assert_eq!(pond.offset_for_time("t", 0, 0).unwrap(), Some(4), "deleted records are not found");
}

#[test]
fn delete_records_moves_the_start_and_frees_segments() {
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    let (_clock, options) = manual(0);
    let pond = Pond::with_storage(storage.clone(), options.clone()).unwrap();
    pond.create_topic("t", TopicConfig { segment_bytes: 200, ..TopicConfig::default() }).unwrap();
    for i in 0..50u32 {
        pond.send("t", value(&i.to_le_bytes())).unwrap();
    }
    let before = pond.describe("t").unwrap().partitions[0].bytes;
    pond.delete_records("t", 0, 30).unwrap();
    assert_eq!(pond.offsets("t", 0).unwrap(), (30, 50));
    assert!(pond.describe("t").unwrap().partitions[0].bytes < before);
    assert!(matches!(pond.read("t", 0, 29, limits(1)), Err(Error::OffsetOutOfRange(_))));
    assert_eq!(pond.read("t", 0, 30, limits(1)).unwrap()[0].offset, 30);
    assert!(matches!(pond.delete_records("t", 0, 51), Err(Error::OffsetOutOfRange(_))));
    pond.delete_records("t", 0, 10).unwrap(); // below the start: nothing to do
    drop(pond);
    let pond = reopen(&storage, &options);
    assert_eq!(pond.offsets("t", 0).unwrap(), (30, 50), "the start offset is persisted");
    pond.delete_records("t", 0, 50).unwrap();
    assert_eq!(pond.offsets("t", 0).unwrap(), (50, 50));
    assert_eq!(pond.send("t", value(b"next")).unwrap().offset, 50);
}

#[test]
fn retention_by_time_frees_old_segments_but_never_the_active_one() {
    let (clock, options) = manual(1_000_000);
    let pond = Pond::memory_with(options);
    let config = TopicConfig { retention_ms: Some(60_000), segment_bytes: 200, ..TopicConfig::default() };
    pond.create_topic("t", config).unwrap();
    for _ in 0..20 {
        pond.send("t", value(b"0123456789")).unwrap();
    }
    clock.advance(30_000);
    for _ in 0..20 {
        pond.send("t", value(b"0123456789")).unwrap();
    }
    pond.maintain().unwrap();
    assert_eq!(pond.offsets("t", 0).unwrap().0, 0, "nothing is old enough yet");
    clock.advance(31_000);
    pond.maintain().unwrap();
    let (start, end) = pond.offsets("t", 0).unwrap();
    assert!(start > 0 && start <= 20, "the first batch of segments is gone: start {start}");
    assert_eq!(end, 40);
    for r in read_all(&pond, "t", 0) {
        assert!(r.offset >= start);
    }
    clock.advance(1_000_000);
    pond.maintain().unwrap();
    let (start, end) = pond.offsets("t", 0).unwrap();
    assert!(start < end, "the active segment stays: {start}..{end}");
    assert!(!read_all(&pond, "t", 0).is_empty());
}

#[test]
fn retention_by_bytes_and_records_keeps_at_least_the_limit() {
    let pond = Pond::memory();
    let config = TopicConfig { retention_records: Some(25), segment_bytes: 300, ..TopicConfig::default() };
    pond.create_topic("r", config).unwrap();
    let config = TopicConfig { retention_bytes: Some(1_000), segment_bytes: 300, ..TopicConfig::default() };
    pond.create_topic("b", config).unwrap();
    for i in 0..200u32 {
        pond.send("r", value(&i.to_le_bytes())).unwrap();
        pond.send("b", value(&i.to_le_bytes())).unwrap();
    }
    let (start, end) = pond.offsets("r", 0).unwrap();
    assert!(end - start >= 25 && start > 100, "records: {start}..{end}");
    let bytes = pond.describe("b").unwrap().partitions[0].bytes;
    assert!((1_000..1_000 + 300 + 100).contains(&bytes), "bytes kept: {bytes}");
    assert!(pond.offsets("b", 0).unwrap().0 > 0);
}

#[test]
fn compaction_keeps_the_newest_per_key_with_stable_offsets() {
    let (clock, options) = manual(0);
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    let pond = Pond::with_storage(storage.clone(), options.clone()).unwrap();
    let config = TopicConfig {
        cleanup: Cleanup::Compact,
        segment_bytes: 256,
        delete_retention_ms: 1_000,
        ..TopicConfig::default()
    };
    pond.create_topic("kv", config).unwrap();
    let mut latest = std::collections::BTreeMap::new();
    for i in 0..120u32 {
        let key = format!("key-{}", i % 7);
        let md = pond.send("kv", NewRecord::keyed(key.as_bytes(), &i.to_le_bytes())).unwrap();
        latest.insert(key, (md.offset, i));
    }
    let md = pond.send("kv", NewRecord::tombstone(b"key-3")).unwrap();
    latest.insert("key-3".into(), (md.offset, u32::MAX));
    for i in 0..40u32 {
        pond.send("kv", NewRecord::keyed(b"filler", &i.to_le_bytes())).unwrap();
    }
    pond.maintain().unwrap();
    let records = read_all(&pond, "kv", 0);
    let end = pond.offsets("kv", 0).unwrap().1;
    assert_eq!(end, 161, "offsets do not move");
    assert!(records.len() < 100, "compaction dropped superseded records ({})", records.len());
    assert!(records.windows(2).all(|w| w[0].offset < w[1].offset));
    for (key, (offset, _)) in &latest {
        let found = records.iter().find(|r| r.key.as_deref() == Some(key.as_bytes())).unwrap();
        assert_eq!(found.offset, *offset, "{key} keeps its newest record");
    }
    // Reading at a compacted-away offset returns the next one present.
    let first = pond.read("kv", 0, 0, limits(1)).unwrap();
    assert_eq!(first[0].offset, records[0].offset);
    // After the tombstone delay, the tombstone itself goes (once its segment is sealed).
    clock.advance(2_000);
    pond.maintain().unwrap();
    let records = read_all(&pond, "kv", 0);
    assert!(records.iter().all(|r| r.key.as_deref() != Some(&b"key-3"[..])));
    drop(pond);
    let pond = reopen(&storage, &options);
    assert_eq!(read_all(&pond, "kv", 0), records, "compacted segments reopen the same");
}

#[test]
fn segments_roll_by_age() {
    let (clock, options) = manual(0);
    let pond = Pond::memory_with(options);
    pond.create_topic(
        "t",
        TopicConfig { segment_ms: 1_000, retention_ms: Some(5_000), ..TopicConfig::default() },
    )
    .unwrap();
    pond.send("t", value(b"old")).unwrap();
    clock.advance(1_000);
    pond.send("t", value(b"new")).unwrap(); // rolls: the first segment is now sealed
    clock.advance(10_000);
    pond.maintain().unwrap();
    assert_eq!(pond.offsets("t", 0).unwrap(), (1, 2), "the aged, sealed segment was freed");
}

#[test]
fn topics_and_records_survive_reopen_of_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    {
        let pond = Pond::open(dir.path()).unwrap();
        pond.create_topic("a", TopicConfig::with_partitions(2)).unwrap();
        pond.create_topic("b", TopicConfig { segment_bytes: 128, ..TopicConfig::default() }).unwrap();
        for i in 0..30u32 {
            pond.send("b", value(&i.to_le_bytes())).unwrap();
        }
        pond.send("a", value(b"x").with_partition(1)).unwrap();
        pond.close().unwrap();
        assert!(matches!(pond.topics(), Err(Error::Closed)));
        assert!(matches!(pond.send("a", value(b"y")), Err(Error::Closed)));
        pond.close().unwrap();
    }
    let pond = Pond::open(dir.path()).unwrap();
    assert_eq!(pond.topics().unwrap(), vec!["a", "b"]);
    assert_eq!(pond.describe("a").unwrap().partitions[1].end_offset, 1);
    let got = read_all(&pond, "b", 0);
    assert_eq!(got.len(), 30);
    assert_eq!(got[29].value.as_deref(), Some(&29u32.to_le_bytes()[..]));
}

#[test]
fn a_missing_or_damaged_index_is_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    {
        let pond = Pond::open(dir.path()).unwrap();
        pond.create_topic("t", TopicConfig { segment_bytes: 4096, ..TopicConfig::default() }).unwrap();
        for i in 0..2_000u32 {
            pond.send("t", value(&i.to_le_bytes()).with_timestamp(i64::from(i))).unwrap();
        }
    }
    let pdir = dir.path().join("topics/t/0");
    let mut indexes: Vec<_> = std::fs::read_dir(&pdir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "index"))
        .collect();
    indexes.sort();
    assert!(indexes.len() >= 3);
    std::fs::remove_file(&indexes[0]).unwrap();
    std::fs::write(&indexes[1], b"garbage").unwrap();
    let mut bytes = std::fs::read(&indexes[2]).unwrap();
    bytes[20] ^= 0xff;
    std::fs::write(&indexes[2], bytes).unwrap();
    let pond = Pond::open(dir.path()).unwrap();
    let got = read_all(&pond, "t", 0);
    assert_eq!(got.len(), 2_000);
    for (i, r) in got.iter().enumerate() {
        assert_eq!(r.offset, i as u64);
    }
    assert_eq!(pond.read("t", 0, 1234, limits(1)).unwrap()[0].offset, 1234);
    assert_eq!(pond.offset_for_time("t", 0, 777).unwrap(), Some(777));
}

#[test]
fn append_listeners_and_counter_see_every_append() {
    let pond = Pond::memory();
    pond.create_topic("t", TopicConfig::default()).unwrap();
    let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let h = hits.clone();
    let id = pond.add_listener(Arc::new(move || {
        h.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }));
    let before = pond.append_count();
    pond.send("t", value(b"1")).unwrap();
    pond.send_many("t", &[value(b"2"), value(b"3")]).unwrap();
    assert_eq!(pond.append_count(), before + 2);
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 2);
    pond.remove_listener(id);
    pond.send("t", value(b"4")).unwrap();
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 2);
}

#[test]
fn a_waiting_thread_wakes_on_append() {
    let pond = Arc::new(Pond::memory());
    pond.create_topic("t", TopicConfig::default()).unwrap();
    let seen = pond.append_count();
    assert_eq!(pond.wait_for_append(seen, std::time::Duration::from_millis(10)), seen, "times out");
    let waiter = {
        let pond = pond.clone();
        std::thread::spawn(move || pond.wait_for_append(seen, std::time::Duration::from_secs(30)))
    };
    std::thread::sleep(std::time::Duration::from_millis(20));
    pond.send("t", value(b"wake")).unwrap();
    assert_eq!(waiter.join().unwrap(), seen + 1);
}

#[test]
fn fsync_durability_appends_and_reads() {
    let dir = tempfile::tempdir().unwrap();
    let options = PondOptions { durability: logpond::Durability::Fsync, ..PondOptions::default() };
    let pond = Pond::open_with(dir.path(), options.clone()).unwrap();
    pond.create_topic("t", TopicConfig::default()).unwrap();
    pond.send_many("t", &[value(b"a"), value(b"b")]).unwrap();
    pond.flush().unwrap();
    pond.close().unwrap();
    let pond = Pond::open_with(dir.path(), options).unwrap();
    assert_eq!(values(&read_all(&pond, "t", 0)), vec![b"a".to_vec(), b"b".to_vec()]);
}

#[test]
fn error_codes_are_stable() {
    assert_eq!(Error::TopicExists("x".into()).code().as_str(), "TOPIC_EXISTS");
    assert_eq!(Error::Backpressure("x".into()).code().as_str(), "BACKPRESSURE");
    assert_eq!(Error::Closed.code().as_str(), "CLOSED");
    assert_eq!(Error::HandleClosed("consumer").code().as_str(), "CLOSED");
    assert_eq!(Error::HandleClosed("consumer").to_string(), "this consumer is closed");
    assert_eq!(Error::PondLocked("d".into()).code().to_string(), "POND_LOCKED");
}
