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

#[test]
fn groups_and_queues_run_in_one_handle_at_a_time_and_others_see_their_state() {
    let dir = tempfile::tempdir().unwrap();
    let a = Arc::new(Pond::open(dir.path()).unwrap());
    let b = Arc::new(Pond::open(dir.path()).unwrap());
    a.create_topic("t", TopicConfig { max_backlog: Some(3), ..TopicConfig::default() }).unwrap();
    let queue = a.queue("t", QueueConfig::new("workers")).unwrap();
    let Err(err) = b.consumer(ConsumerConfig::new("g", &["t"])) else { panic!("claimed by a") };
    assert!(matches!(err, Error::PondLocked(_)), "{err}");
    assert!(matches!(b.queue("t", QueueConfig::new("other")), Err(Error::PondLocked(_))));
    // b sends; the backlog counts what a's workers acked, pond-wide.
    for i in 0..3u8 {
        b.send("t", NewRecord::value(&[i])).unwrap();
    }
    assert!(matches!(b.send("t", NewRecord::value(b"x")), Err(Error::Backpressure(_))));
    for d in queue.receive(2).unwrap() {
        queue.ack(d.token).unwrap();
    }
    b.send("t", NewRecord::value(b"room")).unwrap();
    assert_eq!(b.subscriptions("t").unwrap(), vec!["workers"]);
    // A group commits in a; once a closes, b runs the group from there.
    let earliest =
        ConsumerConfig { auto_offset_reset: OffsetReset::Earliest, ..ConsumerConfig::new("g", &["t"]) };
    let consumer = a.consumer(earliest.clone()).unwrap();
    assert_eq!(consumer.poll(2).unwrap().len(), 2);
    consumer.commit().unwrap();
    drop(queue);
    drop(consumer);
    a.close().unwrap();
    let resumed = b.consumer(earliest).unwrap();
    assert_eq!(resumed.poll(10).unwrap().first().map(|r| r.offset), Some(2));
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
