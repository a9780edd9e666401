//! Queues: competing consumers, leases, acks, nacks, dead letters,
//! prefetch, backpressure, retention until acked, durability.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use common::{manual, value};
use logpond::{
    dead_letter_headers as dlq, Delivery, Error, ManualClock, MemoryStorage, Pond, Queue, QueueConfig,
    Storage, TopicConfig,
};

fn setup(partitions: u32, records: u32) -> (ManualClock, Arc<Pond>) {
    let (clock, options) = manual(0);
    let pond = Arc::new(Pond::memory_with(options));
    pond.create_topic("jobs", TopicConfig::with_partitions(partitions)).unwrap();
    send(&pond, records);
    (clock, pond)
}

fn send(pond: &Pond, n: u32) {
    for i in 0..n {
        pond.send("jobs", value(format!("job-{i}").as_bytes())).unwrap();
    }
}

fn q(pond: &Arc<Pond>, sub: &str) -> Queue {
    pond.queue("jobs", QueueConfig { ack_timeout_ms: Some(1_000), ..QueueConfig::new(sub) }).unwrap()
}

fn ids(ds: &[Delivery]) -> BTreeSet<(u32, u64)> {
    ds.iter().map(|d| (d.record.partition, d.record.offset)).collect()
}

fn drain_ack(queue: &Queue) -> usize {
    let mut n = 0;
    loop {
        let ds = queue.receive(50).unwrap();
        if ds.is_empty() {
            return n;
        }
        n += ds.len();
        for d in ds {
            queue.ack(d.token).unwrap();
        }
    }
}

#[test]
fn competing_consumers_split_and_fan_out_copies() {
    let (_clock, pond) = setup(3, 30);
    let a = q(&pond, "workers");
    let b = q(&pond, "workers");
    let other = q(&pond, "audit");
    let da = a.receive(12).unwrap();
    let db = b.receive(100).unwrap();
    assert_eq!(da.len(), 12);
    assert_eq!(db.len(), 18);
    assert!(ids(&da).is_disjoint(&ids(&db)), "no record goes to two consumers");
    assert_eq!(a.in_flight().unwrap(), 30);
    assert_eq!(a.backlog().unwrap(), 30);
    for d in da.iter().chain(&db) {
        assert_eq!(d.delivery_count, 1);
        a.ack(d.token).unwrap();
    }
    assert_eq!(a.backlog().unwrap(), 0);
    assert_eq!(drain_ack(&other), 30, "another subscription gets every record too");
    assert_eq!(pond.subscriptions("jobs").unwrap(), vec!["audit", "workers"]);
}

#[test]
fn an_expired_lease_redelivers_and_the_stale_ack_is_rejected() {
    let (clock, pond) = setup(1, 1);
    let a = q(&pond, "w");
    let b = q(&pond, "w");
    let first = a.receive(1).unwrap().pop().unwrap();
    assert!(b.receive(1).unwrap().is_empty(), "leased");
    clock.advance(999);
    assert!(b.receive(1).unwrap().is_empty(), "still leased");
    clock.advance(1);
    let second = b.receive(1).unwrap().pop().unwrap();
    assert_eq!(second.record.offset, first.record.offset);
    assert_eq!(second.delivery_count, 2);
    assert!(matches!(a.ack(first.token), Err(Error::LeaseExpired(_))), "never double-settled");
    b.ack(second.token).unwrap();
    assert!(matches!(b.ack(second.token), Err(Error::LeaseExpired(_))));
    assert_eq!(b.backlog().unwrap(), 0);
}

#[test]
fn a_late_ack_of_an_expired_lease_nobody_took_still_settles() {
    let (clock, pond) = setup(1, 1);
    let a = q(&pond, "w");
    let d = a.receive(1).unwrap().pop().unwrap();
    clock.advance(5_000);
    a.ack(d.token).unwrap();
    assert!(a.receive(1).unwrap().is_empty());
    assert_eq!(a.backlog().unwrap(), 0);
}

#[test]
fn nack_redelivers_after_its_delay_keeping_the_count() {
    let (clock, pond) = setup(1, 2);
    let a = q(&pond, "w");
    let d = a.receive(1).unwrap().pop().unwrap();
    a.nack(d.token, Some(5_000)).unwrap();
    let next = a.receive(5).unwrap();
    assert_eq!(next.len(), 1, "only the other record");
    assert_eq!(next[0].record.offset, 1);
    a.ack(next[0].token).unwrap();
    clock.advance(4_999);
    assert!(a.receive(5).unwrap().is_empty(), "not before its delay");
    clock.advance(1);
    let again = a.receive(5).unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!((again[0].record.offset, again[0].delivery_count), (0, 2));
    a.nack(again[0].token, Some(0)).unwrap();
    assert_eq!(a.receive(5).unwrap()[0].delivery_count, 3, "redelivery may come out of order, count kept");
    assert!(matches!(a.nack(d.token, Some(0)), Err(Error::LeaseExpired(_))));
    assert!(matches!(a.nack(again[0].token, Some(-1)), Err(Error::InvalidArgument(_))));
}

#[test]
fn dead_letters_after_max_deliveries_carry_their_origin() {
    let (clock, pond) = setup(1, 2);
    let config = QueueConfig {
        max_deliveries: Some(3),
        dead_letter_topic: Some("jobs.dlq".into()),
        ack_timeout_ms: Some(1_000),
        ..QueueConfig::new("w")
    };
    let a = pond.queue("jobs", config).unwrap();
    assert!(pond.topics().unwrap().contains(&"jobs.dlq".to_string()), "created on attach");
    for attempt in 1..=3 {
        let ds = a.receive(10).unwrap();
        let poison = ds.iter().find(|d| d.record.offset == 0).unwrap();
        assert_eq!(poison.delivery_count, attempt);
        for d in &ds {
            if d.record.offset == 0 {
                if attempt == 3 {
                    clock.advance(1_000); // the last one times out instead
                } else {
                    a.nack_with_reason(d.token, Some(0), "cannot parse").unwrap();
                }
            } else {
                a.ack(d.token).unwrap();
            }
        }
    }
    assert!(a.receive(10).unwrap().is_empty(), "the poison record is not delivered a 4th time");
    assert_eq!(a.backlog().unwrap(), 0, "dead-lettered records are settled");
    let dead = pond.read("jobs.dlq", 0, 0, Default::default()).unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].value.as_deref(), Some(&b"job-0"[..]));
    let header = |name: &str| {
        dead[0].headers.iter().find(|(n, _)| n == name).map(|(_, v)| String::from_utf8(v.to_vec()).unwrap())
    };
    assert_eq!(header(dlq::TOPIC).as_deref(), Some("jobs"));
    assert_eq!(header(dlq::PARTITION).as_deref(), Some("0"));
    assert_eq!(header(dlq::OFFSET).as_deref(), Some("0"));
    assert_eq!(header(dlq::SUBSCRIPTION).as_deref(), Some("w"));
    assert_eq!(header(dlq::DELIVERY_COUNT).as_deref(), Some("3"));
    assert_eq!(header(dlq::REASON).as_deref(), Some("ack timeout expired"));
}

#[test]
fn without_a_dead_letter_topic_records_are_parked_and_reported() {
    let (_clock, pond) = setup(1, 1);
    let a = pond.queue("jobs", QueueConfig { max_deliveries: Some(1), ..QueueConfig::new("w") }).unwrap();
    let d = a.receive(1).unwrap().pop().unwrap();
    a.nack(d.token, Some(0)).unwrap();
    assert!(a.receive(1).unwrap().is_empty());
    let parked = a.parked().unwrap();
    assert_eq!(parked.len(), 1);
    assert_eq!((parked[0].partition, parked[0].offset, parked[0].delivery_count), (0, 0, 1));
    assert_eq!(parked[0].reason, "nacked");
    assert_eq!(a.backlog().unwrap(), 1, "kept, never silently dropped");
}

#[test]
fn max_in_flight_caps_each_consumer() {
    let (_clock, pond) = setup(2, 10);
    let a = pond.queue("jobs", QueueConfig { max_in_flight: 3, ..QueueConfig::new("w") }).unwrap();
    let b = pond.queue("jobs", QueueConfig { max_in_flight: 100, ..QueueConfig::new("w") }).unwrap();
    let got = a.receive(10).unwrap();
    assert_eq!(got.len(), 3);
    assert!(a.receive(10).unwrap().is_empty(), "full: fewer, never blocking");
    a.ack(got[0].token).unwrap();
    assert_eq!(a.receive(10).unwrap().len(), 1);
    assert_eq!(b.receive(100).unwrap().len(), 6, "the cap is per consumer");
}

#[test]
fn producers_get_backpressure_at_the_bound_and_nothing_is_written() {
    let (clock, options) = manual(0);
    let pond = Arc::new(Pond::memory_with(options));
    pond.create_topic("jobs", TopicConfig { max_backlog: Some(5), ..TopicConfig::default() }).unwrap();
    let slow = q(&pond, "slow");
    send(&pond, 5);
    let err = pond.send_many("jobs", &[value(b"a")]).unwrap_err();
    assert!(matches!(err, Error::Backpressure(_)), "{err}");
    assert_eq!(pond.offsets("jobs", 0).unwrap().1, 5, "nothing written");
    let ds = slow.receive(2).unwrap();
    assert!(pond.send("jobs", value(b"x")).is_err(), "in-flight records still count");
    slow.ack_many(&[ds[0].token, ds[1].token]).unwrap();
    pond.send_many("jobs", &[value(b"a"), value(b"b")]).unwrap();
    assert!(matches!(pond.send("jobs", value(b"c")), Err(Error::Backpressure(_))));
    drop(clock);
}

#[test]
fn retain_until_acked_frees_settled_segments() {
    let (_clock, options) = manual(0);
    let pond = Arc::new(Pond::memory_with(options));
    let config = TopicConfig { retain_until_acked: true, segment_bytes: 200, ..TopicConfig::default() };
    pond.create_topic("jobs", config).unwrap();
    let a = q(&pond, "a");
    let b = q(&pond, "b");
    send(&pond, 40);
    assert_eq!(drain_ack(&a), 40);
    pond.maintain().unwrap();
    assert_eq!(pond.offsets("jobs", 0).unwrap().0, 0, "b has settled nothing yet");
    for _ in 0..5 {
        let ds = b.receive(5).unwrap();
        b.ack_many(&ds.iter().map(|d| d.token).collect::<Vec<_>>()).unwrap();
    }
    let (start, _) = pond.offsets("jobs", 0).unwrap();
    assert!(start > 0 && start <= 25, "segments below both floors are freed: start {start}");
    assert_eq!(drain_ack(&b), 15);
    let (start, end) = pond.offsets("jobs", 0).unwrap();
    assert!(start > 25 && start < end, "the active segment stays: {start}..{end}");
}

#[test]
fn subscriptions_start_at_the_beginning_or_at_the_end() {
    let (_clock, pond) = setup(1, 5);
    let from_start = q(&pond, "s");
    let from_end = pond.queue("jobs", QueueConfig { start_at_end: true, ..QueueConfig::new("e") }).unwrap();
    assert_eq!(from_start.receive(10).unwrap().len(), 5);
    assert!(from_end.receive(10).unwrap().is_empty());
    send(&pond, 1);
    assert_eq!(from_end.receive(10).unwrap()[0].record.offset, 5);
}

#[test]
fn closing_a_consumer_releases_its_leases() {
    let (_clock, pond) = setup(1, 3);
    let a = q(&pond, "w");
    let b = q(&pond, "w");
    assert_eq!(a.receive(3).unwrap().len(), 3);
    a.close().unwrap();
    let again = b.receive(3).unwrap();
    assert_eq!(again.len(), 3);
    assert!(again.iter().all(|d| d.delivery_count == 2));
    assert!(matches!(a.receive(1), Err(Error::HandleClosed("queue consumer"))));
}

#[test]
fn queue_state_survives_reopen_without_losing_or_reacking() {
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    let (_clock, options) = manual(0);
    let pond = Arc::new(Pond::with_storage(storage.clone(), options.clone()).unwrap());
    pond.create_topic("jobs", TopicConfig::with_partitions(2)).unwrap();
    send(&pond, 10);
    let a = q(&pond, "w");
    let ds = a.receive(6).unwrap();
    let acked: Vec<_> = ds[..3].iter().map(|d| d.token).collect();
    a.ack_many(&acked).unwrap();
    let in_flight: BTreeSet<(u32, u64)> = ids(&ds[3..]);
    // No close: like a crash, the pond is simply dropped with leases held.
    drop(a);
    drop(pond);
    let pond = Arc::new(Pond::with_storage(storage, options).unwrap());
    let a = q(&pond, "w");
    assert_eq!(a.backlog().unwrap(), 7);
    let all = a.receive(100).unwrap();
    assert_eq!(all.len(), 7, "unacked and in-flight records come back; acked ones do not");
    for d in &all {
        let expected = if in_flight.contains(&(d.record.partition, d.record.offset)) { 2 } else { 1 };
        assert_eq!(d.delivery_count, expected, "counts are kept");
    }
    assert!(ids(&all).is_disjoint(&ids(&ds[..3])));
}

#[test]
fn bad_queue_configs_and_topics_are_refused() {
    let (_clock, pond) = setup(1, 0);
    assert!(matches!(pond.queue("nope", QueueConfig::new("w")), Err(Error::TopicNotFound(_))));
    assert!(matches!(pond.queue("jobs", QueueConfig::new("bad name")), Err(Error::InvalidName(_))));
    let zero = QueueConfig { max_in_flight: 0, ..QueueConfig::new("w") };
    assert!(matches!(pond.queue("jobs", zero), Err(Error::InvalidArgument(_))));
    let same = QueueConfig { dead_letter_topic: Some("jobs".into()), ..QueueConfig::new("w") };
    assert!(matches!(pond.queue("jobs", same), Err(Error::InvalidArgument(_))));
    let timeout = QueueConfig { ack_timeout_ms: Some(0), ..QueueConfig::new("w") };
    assert!(matches!(pond.queue("jobs", timeout), Err(Error::InvalidArgument(_))));
}

#[test]
fn deleting_a_topic_or_subscription_removes_queue_state() {
    let (_clock, pond) = setup(1, 3);
    let a = q(&pond, "w");
    a.receive(1).unwrap();
    pond.delete_subscription("jobs", "w").unwrap();
    assert!(pond.subscriptions("jobs").unwrap().is_empty());
    assert!(matches!(a.receive(1), Err(Error::TopicNotFound(_))));
    let b = q(&pond, "w");
    assert_eq!(b.receive(10).unwrap().len(), 3, "a new subscription starts over");
    pond.delete_topic("jobs").unwrap();
    assert!(matches!(pond.subscriptions("jobs"), Err(Error::TopicNotFound(_))));
    pond.create_topic("jobs", TopicConfig::default()).unwrap();
    assert!(pond.subscriptions("jobs").unwrap().is_empty(), "a new topic of the name has none");
}

#[test]
fn receive_wait_wakes_on_send_and_on_ack() {
    let (_clock, pond) = setup(1, 0);
    let a = Arc::new(pond.queue("jobs", QueueConfig { max_in_flight: 1, ..QueueConfig::new("w") }).unwrap());
    let producer = {
        let pond = pond.clone();
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(20));
            send(&pond, 2);
        })
    };
    let first = a.receive_wait(1, std::time::Duration::from_secs(30)).unwrap();
    assert_eq!(first.len(), 1);
    producer.join().unwrap();
    let acker = {
        let a = a.clone();
        let token = first[0].token;
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(20));
            a.ack(token).unwrap();
        })
    };
    let second = a.receive_wait(1, std::time::Duration::from_secs(30)).unwrap();
    assert_eq!(second.len(), 1, "an ack freeing room wakes the waiter");
    acker.join().unwrap();
}

#[test]
fn send_many_wait_waits_out_backpressure_until_an_ack_makes_room() {
    use std::time::{Duration, Instant};
    let pond = Arc::new(Pond::memory());
    pond.create_topic("t", TopicConfig { max_backlog: Some(2), ..TopicConfig::default() }).unwrap();
    let q = pond.queue("t", QueueConfig::new("s")).unwrap();
    pond.send_many("t", &[logpond::NewRecord::value(b"a"), logpond::NewRecord::value(b"b")]).unwrap();
    let start = Instant::now();
    let err =
        pond.send_many_wait("t", &[logpond::NewRecord::value(b"c")], Duration::from_millis(100)).unwrap_err();
    assert_eq!(err.code(), logpond::ErrorCode::Backpressure);
    assert!(start.elapsed() >= Duration::from_millis(100));
    let sender = {
        let pond = pond.clone();
        std::thread::spawn(move || {
            pond.send_many_wait("t", &[logpond::NewRecord::value(b"c")], Duration::from_secs(10))
        })
    };
    std::thread::sleep(Duration::from_millis(50));
    let d = q.receive(1).unwrap().pop().unwrap();
    q.ack(d.token).unwrap();
    let md = sender.join().unwrap().unwrap();
    assert_eq!(md[0].offset, 2);
}

/// One receive leases at most 65,536 records (what one state-log record
/// holds); the rest come with the next. Reopened, the pond knows every
/// lease (the leases are stored as runs).
const N_RECORDS: u32 = 70_000;
#[test]
fn a_receive_leases_at_most_65536_records_and_they_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let pond = Arc::new(Pond::open(dir.path()).unwrap());
    pond.create_topic("jobs", TopicConfig::default()).unwrap();
    let values: Vec<Vec<u8>> = (0..N_RECORDS).map(|i| i.to_le_bytes().to_vec()).collect();
    let batch: Vec<logpond::NewRecord<'_>> = values.iter().map(|v| logpond::NewRecord::value(v)).collect();
    pond.send_many("jobs", &batch).unwrap();
    let config =
        QueueConfig { ack_timeout_ms: Some(600_000), max_in_flight: 1_000_000, ..QueueConfig::new("w") };
    let queue = pond.queue("jobs", config.clone()).unwrap();
    let first = queue.receive(100_000).unwrap();
    assert_eq!(first.len(), (N_RECORDS as usize).min(65_536));
    let other = Arc::new(Pond::open(dir.path()).unwrap());
    let rest = other.queue("jobs", config).unwrap().receive(100_000).unwrap();
    assert_eq!(rest.len(), 70_000 - 65_536, "the other handle sees the first's leases");
    assert_eq!(rest.first().map(|d| d.record.offset), Some(65_536));
}

/// A consumer that closes holding 60,000 leases of one big batch (one
/// frame) returns them; another handle's receive redelivers them without
/// reading the frame once per record or keeping it alive per delivery.
#[test]
fn many_returned_records_of_one_big_batch_are_redelivered_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let pond = Arc::new(Pond::open(dir.path()).unwrap());
    pond.create_topic("jobs", TopicConfig::default()).unwrap();
    let values: Vec<Vec<u8>> =
        (0..60_000u32).map(|i| [i.to_le_bytes().as_slice(), &[7u8; 96]].concat()).collect();
    let batch: Vec<logpond::NewRecord<'_>> = values.iter().map(|v| logpond::NewRecord::value(v)).collect();
    pond.send_many("jobs", &batch).unwrap();
    let config =
        QueueConfig { ack_timeout_ms: Some(600_000), max_in_flight: 1_000_000, ..QueueConfig::new("w") };
    let first = pond.queue("jobs", config.clone()).unwrap(); // dropped below: its leases come back
    assert_eq!(first.receive(100_000).unwrap().len(), 60_000);
    drop(first);
    let other = Arc::new(Pond::open(dir.path()).unwrap());
    let again = other.queue("jobs", config).unwrap().receive(100_000).unwrap();
    assert_eq!(again.len(), 60_000);
    assert!(again.iter().all(|d| d.delivery_count == 2));
    assert_eq!(
        again[59_999].record.value.as_deref().map(|v| v[..4].to_vec()),
        Some(59_999u32.to_le_bytes().to_vec())
    );
}
