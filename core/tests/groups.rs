//! Consumer groups: assignment, rebalancing, commits, resets and seeks.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use common::{manual, value};
use logpond::{
    Assignor, Consumer, ConsumerConfig, Error, MemoryStorage, NewRecord, OffsetReset, Pond, Storage,
    TopicConfig,
};

fn config(group: &str, topics: &[&str]) -> ConsumerConfig {
    ConsumerConfig { auto_offset_reset: OffsetReset::Earliest, ..ConsumerConfig::new(group, topics) }
}

fn pond_with(partitions: u32, records_per_partition: u32) -> (logpond::ManualClock, Arc<Pond>) {
    let (clock, options) = manual(0);
    let pond = Arc::new(Pond::memory_with(options));
    pond.create_topic("t", TopicConfig::with_partitions(partitions)).unwrap();
    fill(&pond, partitions, records_per_partition);
    (clock, pond)
}

fn fill(pond: &Pond, partitions: u32, n: u32) {
    for p in 0..partitions {
        for i in 0..n {
            pond.send("t", value(format!("p{p}-{i}").as_bytes()).with_partition(p)).unwrap();
        }
    }
}

fn drain(c: &Consumer) -> Vec<(u32, u64)> {
    let mut out = Vec::new();
    loop {
        let batch = c.poll(100).unwrap();
        if batch.is_empty() {
            return out;
        }
        out.extend(batch.iter().map(|r| (r.partition, r.offset)));
    }
}

fn owned(c: &Consumer) -> Vec<u32> {
    c.assignment().unwrap().into_iter().map(|(_, p)| p).collect()
}

#[test]
fn a_lone_consumer_reads_every_partition_in_order() {
    let (_clock, pond) = pond_with(3, 20);
    let c = pond.consumer(config("g", &["t"])).unwrap();
    assert_eq!(owned(&c), vec![0, 1, 2]);
    let got = drain(&c);
    assert_eq!(got.len(), 60);
    for p in 0..3 {
        let offsets: Vec<u64> = got.iter().filter(|(q, _)| *q == p).map(|(_, o)| *o).collect();
        assert_eq!(offsets, (0..20).collect::<Vec<_>>(), "partition {p} in order, once");
    }
    assert!(c.lag().unwrap().iter().all(|(_, lag)| *lag == 0));
}

#[test]
fn poll_is_fair_across_partitions() {
    let (_clock, pond) = pond_with(4, 1_000);
    let c = pond.consumer(config("g", &["t"])).unwrap();
    let batch = c.poll(40).unwrap();
    let parts: BTreeSet<u32> = batch.iter().map(|r| r.partition).collect();
    assert_eq!(parts.len(), 4, "every partition is served in one poll");
    // With one partition far behind, the others still get served.
    let mut per: BTreeMap<u32, usize> = BTreeMap::new();
    for _ in 0..20 {
        for r in c.poll(8).unwrap() {
            *per.entry(r.partition).or_default() += 1;
        }
    }
    assert!(per.values().all(|n| *n >= 30), "no partition starves: {per:?}");
}

#[test]
fn groups_fan_out_and_members_split() {
    let (_clock, pond) = pond_with(4, 10);
    let a = pond.consumer(config("billing", &["t"])).unwrap();
    let b = pond.consumer(config("billing", &["t"])).unwrap();
    let other = pond.consumer(config("audit", &["t"])).unwrap();
    let (oa, ob) = (owned(&a), owned(&b));
    assert_eq!(oa.len() + ob.len(), 4);
    assert!(oa.iter().all(|p| !ob.contains(p)), "no partition has two owners");
    let mut group_total: Vec<(u32, u64)> = drain(&a);
    group_total.extend(drain(&b));
    group_total.sort();
    assert_eq!(group_total.len(), 40, "the group sees every record once");
    assert_eq!(drain(&other).len(), 40, "another group sees every record too");
}

#[test]
fn each_assignor_decides_who_owns_what() {
    for (assignor, expect_a, expect_b) in
        [(Assignor::Range, vec![0, 1, 2], vec![3, 4]), (Assignor::RoundRobin, vec![0, 2, 4], vec![1, 3])]
    {
        let (_clock, pond) = pond_with(5, 1);
        let cfg = ConsumerConfig { assignor, ..config("g", &["t"]) };
        let a = pond.consumer(cfg.clone()).unwrap();
        assert_eq!(owned(&a), vec![0, 1, 2, 3, 4]);
        let b = pond.consumer(cfg.clone()).unwrap();
        assert_eq!((owned(&a), owned(&b)), (expect_a.clone(), expect_b.clone()), "{assignor:?}");
        b.close().unwrap();
        assert_eq!(owned(&a), vec![0, 1, 2, 3, 4], "{assignor:?}: all back to the survivor");
    }
}

#[test]
fn cooperative_sticky_moves_the_minimum() {
    let (_clock, pond) = pond_with(6, 1);
    let a = pond.consumer(config("g", &["t"])).unwrap();
    let b = pond.consumer(config("g", &["t"])).unwrap();
    let (a1, b1) = (owned(&a), owned(&b));
    assert_eq!((a1.len(), b1.len()), (3, 3));
    let gen = a.generation().unwrap();
    let c = pond.consumer(config("g", &["t"])).unwrap();
    assert!(a.generation().unwrap() > gen, "a join starts a new generation");
    let (a2, b2, c2) = (owned(&a), owned(&b), owned(&c));
    assert_eq!((a2.len(), b2.len(), c2.len()), (2, 2, 2));
    assert!(a2.iter().all(|p| a1.contains(p)) && b2.iter().all(|p| b1.contains(p)), "survivors keep theirs");
    c.close().unwrap();
    let (a3, b3) = (owned(&a), owned(&b));
    assert!(a2.iter().all(|p| a3.contains(p)) && b2.iter().all(|p| b3.contains(p)));
}

#[test]
fn a_hand_over_with_auto_commit_neither_skips_nor_repeats() {
    let (_clock, pond) = pond_with(4, 50);
    let a = pond.consumer(config("g", &["t"])).unwrap();
    let mut seen: Vec<(u32, u64)> = a.poll(60).unwrap().iter().map(|r| (r.partition, r.offset)).collect();
    let b = pond.consumer(config("g", &["t"])).unwrap(); // takes half of a's partitions
    seen.extend(drain(&a));
    seen.extend(drain(&b));
    seen.sort();
    let unique: BTreeSet<_> = seen.iter().copied().collect();
    assert_eq!(seen.len(), 200, "nothing repeated");
    assert_eq!(unique.len(), 200, "nothing skipped");
}

#[test]
fn a_member_past_its_session_timeout_is_removed_and_fenced() {
    let (clock, pond) = pond_with(2, 10);
    let cfg = ConsumerConfig { auto_commit: false, session_timeout_ms: 1_000, ..config("g", &["t"]) };
    let a = pond.consumer(cfg.clone()).unwrap();
    let b = pond.consumer(cfg.clone()).unwrap();
    let a_parts = owned(&a);
    assert_eq!(a_parts.len(), 1);
    let p = a_parts[0];
    assert_eq!(a.poll(5).unwrap().len(), 5);
    a.commit_offsets(&[("t", p, 3)]).unwrap(); // a commits only part of what it read
    b.poll(100).unwrap();
    clock.advance(600);
    b.poll(100).unwrap();
    clock.advance(600); // a last polled 1,200 ms ago; b 600 ms ago
    let records = b.poll(100).unwrap();
    assert_eq!(owned(&b), vec![0, 1], "b took over a's partition");
    let redelivered: Vec<u64> = records.iter().filter(|r| r.partition == p).map(|r| r.offset).collect();
    assert_eq!(redelivered, (3..10).collect::<Vec<_>>(), "from a's committed offset: at least once");
    let err = a.commit_offsets(&[("t", p, 10)]).unwrap_err();
    assert!(matches!(err, Error::CommitFailed(_)), "{err}");
    assert_eq!(b.committed("t", p).unwrap(), Some(3), "the stale commit was not applied");
    assert!(matches!(a.commit(), Err(Error::CommitFailed(_))));
    assert!(a.assignment().unwrap().is_empty());
    a.poll(1).unwrap(); // rejoins
    assert_eq!(owned(&a).len() + owned(&b).len(), 2);
    assert_eq!(owned(&a).len(), 1);
}

#[test]
fn commits_survive_reopen_and_the_group_resumes() {
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    let (_clock, options) = manual(0);
    let pond = Arc::new(Pond::with_storage(storage.clone(), options.clone()).unwrap());
    pond.create_topic("t", TopicConfig::with_partitions(2)).unwrap();
    fill(&pond, 2, 10);
    let c = pond.consumer(ConsumerConfig { auto_commit: false, ..config("g", &["t"]) }).unwrap();
    assert_eq!(c.committed("t", 0).unwrap(), None);
    let first = c.poll(8).unwrap();
    c.commit().unwrap();
    let committed: u64 = [0, 1].iter().map(|p| c.committed("t", *p).unwrap().unwrap_or(0)).sum();
    assert_eq!(committed as usize, first.len());
    c.poll(4).unwrap(); // read but not committed: redelivered after reopen
    pond.close().unwrap();
    drop(c);
    drop(pond);
    let pond = Arc::new(Pond::with_storage(storage, options).unwrap());
    assert_eq!(pond.topics().unwrap(), vec!["t"], "the offsets topic is internal");
    let c = pond.consumer(config("g", &["t"])).unwrap();
    let rest = drain(&c);
    assert_eq!(rest.len(), 20 - first.len(), "resumes exactly at the committed offsets");
}

#[test]
fn offset_reset_policies() {
    let (_clock, pond) = pond_with(1, 5);
    let latest = pond.consumer(ConsumerConfig::new("late", &["t"])).unwrap();
    assert!(latest.poll(10).unwrap().is_empty(), "latest: only new records");
    pond.send("t", value(b"new")).unwrap();
    assert_eq!(latest.poll(10).unwrap()[0].offset, 5);
    let none = pond
        .consumer(ConsumerConfig { auto_offset_reset: OffsetReset::None, ..ConsumerConfig::new("n", &["t"]) })
        .unwrap();
    assert!(matches!(none.poll(10), Err(Error::OffsetOutOfRange(_))));
    let early = pond.consumer(config("e", &["t"])).unwrap();
    assert_eq!(early.poll(10).unwrap().len(), 6);
}

#[test]
fn a_committed_offset_deleted_by_retention_is_reset() {
    let (_clock, pond) = pond_with(1, 0);
    let cfg = ConsumerConfig { auto_commit: false, ..config("g", &["t"]) };
    let c = pond.consumer(cfg.clone()).unwrap();
    fill(&pond, 1, 10);
    c.poll(2).unwrap();
    c.commit().unwrap();
    c.close().unwrap();
    pond.delete_records("t", 0, 6).unwrap();
    let c = pond.consumer(cfg.clone()).unwrap();
    assert_eq!(c.poll(1).unwrap()[0].offset, 6, "earliest: from the new start");
    c.close().unwrap();
    let strict = pond.consumer(ConsumerConfig { auto_offset_reset: OffsetReset::None, ..cfg }).unwrap();
    assert!(matches!(strict.poll(1), Err(Error::OffsetOutOfRange(_))));
}

#[test]
fn a_committed_offset_removed_by_time_retention_is_reset() {
    let (clock, options) = manual(0);
    let pond = Arc::new(Pond::memory_with(options));
    let config = TopicConfig { retention_ms: Some(1_000), segment_bytes: 100, ..TopicConfig::default() };
    pond.create_topic("t", config).unwrap();
    for i in 0..6 {
        pond.send("t", value(format!("old record {i} padding").as_bytes())).unwrap();
    }
    let cfg = ConsumerConfig { auto_commit: false, ..config_for("g") };
    let c = pond.consumer(cfg.clone()).unwrap();
    c.commit_offsets(&[("t", 0, 1)]).unwrap();
    c.close().unwrap();
    clock.advance(5_000);
    pond.send("t", value(b"new")).unwrap(); // rolls; retention frees the old segments
    pond.maintain().unwrap();
    let (start, _) = pond.offsets("t", 0).unwrap();
    assert!(start > 1, "retention removed the committed offset: start {start}");
    let c = pond.consumer(cfg).unwrap();
    assert_eq!(c.poll(1).unwrap()[0].offset, start, "earliest: from the new start");
}

fn config_for(group: &str) -> ConsumerConfig {
    config(group, &["t"])
}

#[test]
fn seeks_positions_and_lag() {
    let (clock, options) = manual(1_000);
    let pond = Arc::new(Pond::memory_with(options));
    pond.create_topic("t", TopicConfig::with_partitions(2)).unwrap();
    for i in 0..10 {
        pond.send("t", value(b"x").with_partition(0)).unwrap();
        pond.send("t", value(b"y").with_partition(1)).unwrap();
        if i == 4 {
            clock.advance(1_000);
        }
    }
    let c = pond.consumer(config("g", &["t"])).unwrap();
    assert_eq!(c.position("t", 0).unwrap(), 0);
    assert_eq!(c.lag().unwrap(), vec![(("t".to_string(), 0), 10), (("t".to_string(), 1), 10)]);
    c.seek("t", 1, 7).unwrap();
    assert_eq!(c.position("t", 1).unwrap(), 7);
    let got = c.poll(100).unwrap();
    assert_eq!(got.iter().filter(|r| r.partition == 1).map(|r| r.offset).next(), Some(7));
    c.seek_to_time(2_000).unwrap();
    assert_eq!((c.position("t", 0).unwrap(), c.position("t", 1).unwrap()), (5, 5));
    c.seek_to_beginning().unwrap();
    assert_eq!(c.position("t", 0).unwrap(), 0);
    c.seek_to_end().unwrap();
    assert_eq!(c.lag().unwrap().iter().map(|(_, l)| *l).sum::<u64>(), 0);
    c.seek_to_time(99_999).unwrap();
    assert_eq!(c.position("t", 1).unwrap(), 10, "no record that late: the end");
    assert!(matches!(c.seek("t", 5, 0), Err(Error::InvalidArgument(_))));
    assert!(matches!(c.position("other", 0), Err(Error::InvalidArgument(_))));
}

#[test]
fn auto_commit_runs_on_poll_at_its_interval_and_on_close() {
    let (clock, pond) = pond_with(1, 10);
    let c = pond.consumer(ConsumerConfig { auto_commit_interval_ms: 1_000, ..config("g", &["t"]) }).unwrap();
    c.poll(4).unwrap();
    c.poll(0).unwrap();
    assert_eq!(c.committed("t", 0).unwrap(), None, "not due yet");
    clock.advance(1_000);
    c.poll(2).unwrap(); // commits the position before this poll's records
    assert_eq!(c.committed("t", 0).unwrap(), Some(4));
    c.close().unwrap();
    let d = pond.consumer(config("g", &["t"])).unwrap();
    assert_eq!(d.committed("t", 0).unwrap(), Some(6), "close committed");
    assert!(matches!(c.poll(1), Err(Error::HandleClosed("consumer"))));
    c.close().unwrap();
}

#[test]
fn topics_created_later_and_deleted_are_followed() {
    let (_clock, options) = manual(0);
    let pond = Arc::new(Pond::memory_with(options));
    let c = pond.consumer(config("g", &["later"])).unwrap();
    assert!(c.poll(10).unwrap().is_empty());
    pond.create_topic("later", TopicConfig::with_partitions(2)).unwrap();
    pond.send("later", value(b"hello").with_partition(1)).unwrap();
    let got = c.poll(10).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(owned(&c), vec![0, 1]);
    c.commit().unwrap();
    assert_eq!(c.committed("later", 1).unwrap(), Some(1));
    pond.delete_topic("later").unwrap();
    assert_eq!(c.committed("later", 1).unwrap(), None, "deleting a topic forgets its offsets");
    assert!(c.poll(10).unwrap().is_empty());
    assert!(c.assignment().unwrap().is_empty());
}

#[test]
fn iteration_counts_only_records_handed_out() {
    let (_clock, pond) = pond_with(2, 20);
    let cfg = ConsumerConfig { auto_commit: false, ..config("g", &["t"]) };
    let a = pond.consumer(cfg.clone()).unwrap();
    let first: Vec<(u32, u64)> =
        (0..3).map(|_| a.next_record().unwrap().map(|r| (r.partition, r.offset)).unwrap()).collect();
    let handed = |p: u32| first.iter().filter(|(q, _)| *q == p).count() as u64;
    assert_eq!(a.position("t", 0).unwrap() + a.position("t", 1).unwrap(), 3, "three handed out, not a batch");
    a.commit().unwrap();
    assert_eq!(a.committed("t", 0).unwrap().unwrap_or(0), handed(0));
    // poll after iterating continues right after the last record handed out.
    let rest = a.poll(100).unwrap();
    assert_eq!(rest.len(), 37);
    assert!(rest.iter().all(|r| !first.contains(&(r.partition, r.offset))));
}

#[test]
fn a_rebalance_never_commits_records_still_buffered_for_iteration() {
    let (_clock, pond) = pond_with(2, 50);
    let a = pond.consumer(config("g", &["t"])).unwrap(); // auto-commit
    let mut seen: Vec<(u32, u64)> = Vec::new();
    for _ in 0..5 {
        let r = a.next_record().unwrap().unwrap();
        seen.push((r.partition, r.offset));
    }
    let b = pond.consumer(config("g", &["t"])).unwrap(); // takes one partition: a commits it first
    let moved = owned(&b)[0];
    assert_eq!(
        b.committed("t", moved).unwrap().unwrap_or(0),
        seen.iter().filter(|(p, _)| *p == moved).count() as u64,
        "the hand-over commits what a handed out, not what it fetched"
    );
    while let Some(r) = a.next_record().unwrap() {
        assert_ne!(r.partition, moved, "a hands out nothing of a partition it lost");
        seen.push((r.partition, r.offset));
    }
    seen.extend(drain(&b));
    let unique: BTreeSet<_> = seen.iter().copied().collect();
    assert_eq!((seen.len(), unique.len()), (100, 100), "nothing skipped, nothing repeated");
}

#[test]
fn bad_consumer_configs_are_refused() {
    let pond = Arc::new(Pond::memory());
    assert!(matches!(pond.consumer(ConsumerConfig::new("", &["t"])), Err(Error::InvalidArgument(_))));
    assert!(matches!(pond.consumer(ConsumerConfig::new("g", &[])), Err(Error::InvalidArgument(_))));
    assert!(matches!(pond.consumer(ConsumerConfig::new("g", &["bad name"])), Err(Error::InvalidName(_))));
    let cfg = ConsumerConfig { session_timeout_ms: 0, ..ConsumerConfig::new("g", &["t"]) };
    assert!(matches!(pond.consumer(cfg), Err(Error::InvalidArgument(_))));
}

#[test]
fn poll_wait_wakes_when_a_record_arrives() {
    let pond = Arc::new(Pond::memory());
    pond.create_topic("t", TopicConfig::default()).unwrap();
    let c = pond.consumer(ConsumerConfig::new("g", &["t"])).unwrap();
    let started = std::time::Instant::now();
    assert!(c.poll_wait(10, std::time::Duration::from_millis(30)).unwrap().is_empty());
    assert!(started.elapsed() >= std::time::Duration::from_millis(30));
    let producer = {
        let pond = pond.clone();
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(30));
            pond.send("t", NewRecord::value(b"late")).unwrap();
        })
    };
    let got = c.poll_wait(10, std::time::Duration::from_secs(30)).unwrap();
    assert_eq!(got.len(), 1);
    producer.join().unwrap();
}
