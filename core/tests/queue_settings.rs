//! Queue subscriptions as SQS and RabbitMQ users expect them: stored
//! settings, lease extension, delayed and expiring records, retry
//! backoff, and looking at a subscription without attaching to it — each
//! also across a reopen and between two handles of one pond.

mod common;

use std::sync::Arc;

use common::{manual, value};
use logpond::{
    dead_letter_headers as dlq, Clock, ConsumerConfig, Error, ManualClock, MemoryStorage, NewRecord,
    OffsetReset, Pond, PondOptions, QueueConfig, SettingsUpdate, Storage, SubscriptionSettings, TopicConfig,
};

fn memory() -> (ManualClock, PondOptions, Arc<dyn Storage>, Arc<Pond>) {
    let (clock, options) = manual(1_000_000);
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    let pond = Arc::new(common::reopen(&storage, &options));
    pond.create_topic("jobs", TopicConfig::default()).unwrap();
    (clock, options, storage, pond)
}

fn files() -> (tempfile::TempDir, ManualClock, PondOptions) {
    let dir = tempfile::tempdir().unwrap();
    let (clock, options) = manual(1_000_000);
    (dir, clock, options)
}

fn open(dir: &tempfile::TempDir, options: &PondOptions) -> Arc<Pond> {
    Arc::new(Pond::open_with(dir.path(), options.clone()).unwrap())
}

fn invalid(e: Error) -> String {
    match e {
        Error::InvalidArgument(m) => m,
        other => panic!("expected InvalidArgument, got {other:?}"),
    }
}

#[test]
fn settings_are_stored_on_first_attach_and_a_bare_attach_uses_them() {
    let (_clock, options, storage, pond) = memory();
    let config = QueueConfig {
        max_deliveries: Some(2),
        ack_timeout_ms: Some(5_000),
        retry_backoff_ms: Some((100, 400)),
        ..QueueConfig::new("w")
    };
    drop(pond.queue("jobs", config).unwrap());
    // Attaching just to look must not change what is stored.
    let bare = pond.queue("jobs", QueueConfig::new("w")).unwrap();
    let stored = pond.describe_subscription("jobs", "w").unwrap().settings;
    let want = SubscriptionSettings {
        ack_timeout_ms: 5_000,
        max_deliveries: Some(2),
        dead_letter_topic: None,
        retry_backoff_ms: Some((100, 400)),
    };
    assert_eq!(stored, want);
    // A poison record is parked after two deliveries, not four.
    pond.send("jobs", value(b"poison")).unwrap();
    for _ in 0..2 {
        let d = bare.receive(1).unwrap().pop().expect("delivered");
        bare.nack(d.token, Some(0)).unwrap();
    }
    assert!(bare.receive(1).unwrap().is_empty());
    assert_eq!(bare.parked().unwrap().len(), 1);
    drop(bare);
    pond.close().unwrap();
    // And after a reopen.
    let pond = Arc::new(common::reopen(&storage, &options));
    assert_eq!(pond.describe_subscription("jobs", "w").unwrap().settings, want);
}

#[test]
fn attaching_with_a_differing_setting_names_it_and_both_values() {
    let (_clock, _options, _storage, pond) = memory();
    let first = QueueConfig { max_deliveries: Some(2), ..QueueConfig::new("w") };
    let _q = pond.queue("jobs", first).unwrap();
    let other = QueueConfig { max_deliveries: Some(5), ..QueueConfig::new("w") };
    let message = invalid(pond.queue("jobs", other).unwrap_err());
    assert!(
        message.contains("max_deliveries") && message.contains('2') && message.contains('5'),
        "{message}"
    );
    let slower = QueueConfig { ack_timeout_ms: Some(60_000), ..QueueConfig::new("w") };
    let message = invalid(pond.queue("jobs", slower).unwrap_err());
    assert!(message.contains("ack_timeout = 30 s") && message.contains("60 s"), "{message}");
    let backoff = QueueConfig { retry_backoff_ms: Some((1_000, 2_000)), ..QueueConfig::new("w") };
    assert!(invalid(pond.queue("jobs", backoff).unwrap_err()).contains("retry_backoff"));
    // The same values again are no change.
    let same = QueueConfig { max_deliveries: Some(2), ack_timeout_ms: Some(30_000), ..QueueConfig::new("w") };
    pond.queue("jobs", same).unwrap();
    // Bad values are refused as such, stored or not.
    for bad in [
        QueueConfig { retry_backoff_ms: Some((0, 10)), ..QueueConfig::new("x") },
        QueueConfig { retry_backoff_ms: Some((10, 5)), ..QueueConfig::new("x") },
        QueueConfig { ack_timeout_ms: Some(0), ..QueueConfig::new("x") },
        QueueConfig { max_deliveries: Some(0), ..QueueConfig::new("x") },
        QueueConfig { dead_letter_topic: Some("jobs".into()), ..QueueConfig::new("x") },
    ] {
        assert!(matches!(pond.queue("jobs", bad), Err(Error::InvalidArgument(_))));
    }
    assert_eq!(pond.subscriptions("jobs").unwrap(), vec!["w"], "a refused attach creates nothing");
}

#[test]
fn update_subscription_changes_the_settings_every_handle_uses() {
    let (dir, clock, options) = files();
    let a = open(&dir, &options);
    a.create_topic("jobs", TopicConfig::default()).unwrap();
    let b = open(&dir, &options);
    let qa = a.queue("jobs", QueueConfig::new("w")).unwrap();
    let qb = b.queue("jobs", QueueConfig::new("w")).unwrap();
    let update = SettingsUpdate {
        max_deliveries: Some(Some(1)),
        dead_letter_topic: Some(Some("jobs.dlq".into())),
        ack_timeout_ms: Some(2_000),
        ..SettingsUpdate::default()
    };
    let now = a.update_subscription("jobs", "w", &update).unwrap();
    assert_eq!((now.max_deliveries, now.ack_timeout_ms), (Some(1), 2_000));
    assert!(a.topics().unwrap().contains(&"jobs.dlq".to_string()), "the dead-letter topic is created");
    // The other handle takes the new settings in: its lease lasts 2 s and
    // the record is dead-lettered after one delivery.
    b.send("jobs", value(b"x")).unwrap();
    let d = qb.receive(1).unwrap().pop().unwrap();
    clock.advance(1_999);
    assert!(qa.receive(1).unwrap().is_empty());
    clock.advance(1);
    assert!(qa.receive(1).unwrap().is_empty(), "dead-lettered, not delivered a second time");
    assert!(matches!(qb.ack(d.token), Err(Error::LeaseExpired(_))));
    let info = b.describe_subscription("jobs", "w").unwrap();
    assert_eq!((info.dead_lettered, info.backlog), (1, 0));
    assert_eq!(b.describe_subscription("jobs", "w").unwrap().settings, now);
    // Removing optional settings; bad ones are refused and change nothing.
    let clear =
        SettingsUpdate { max_deliveries: Some(None), dead_letter_topic: Some(None), ..Default::default() };
    let cleared = b.update_subscription("jobs", "w", &clear).unwrap();
    assert_eq!((cleared.max_deliveries, cleared.dead_letter_topic.as_deref()), (None, None));
    let bad = SettingsUpdate { ack_timeout_ms: Some(-1), ..Default::default() };
    assert!(matches!(b.update_subscription("jobs", "w", &bad), Err(Error::InvalidArgument(_))));
    assert!(matches!(b.update_subscription("jobs", "nope", &clear), Err(Error::TopicNotFound(_))));
    assert_eq!(a.describe_subscription("jobs", "w").unwrap().settings, cleared);
    // A bare attach after the change uses the changed settings.
    drop(qa);
    let again = QueueConfig { max_deliveries: Some(4), ..QueueConfig::new("w") };
    assert!(invalid(a.queue("jobs", again).unwrap_err()).contains("max_deliveries = none"));
}

#[test]
fn extend_keeps_a_long_job_leased_and_a_stale_token_cannot() {
    let (dir, clock, options) = files();
    let a = open(&dir, &options);
    a.create_topic("jobs", TopicConfig::default()).unwrap();
    let b = open(&dir, &options);
    let config = QueueConfig { ack_timeout_ms: Some(1_000), ..QueueConfig::new("w") };
    let qa = a.queue("jobs", config.clone()).unwrap();
    let qb = b.queue("jobs", config).unwrap();
    a.send("jobs", value(b"long job")).unwrap();
    let d = qa.receive(1).unwrap().pop().unwrap();
    clock.advance(900);
    let deadline = qa.extend(d.token, 5_000).unwrap();
    assert_eq!(deadline, clock.now_ms() + 5_000);
    clock.advance(4_999);
    assert!(qb.receive(1).unwrap().is_empty(), "the other handle sees the extended lease");
    assert_eq!(b.describe_subscription("jobs", "w").unwrap().in_flight, 1);
    clock.advance(1);
    let again = qb.receive(1).unwrap().pop().expect("redelivered once the extension ran out");
    assert_eq!(again.delivery_count, 2);
    assert!(matches!(qa.extend(d.token, 1_000), Err(Error::LeaseExpired(_))));
    assert!(matches!(qb.extend(again.token, 0), Err(Error::InvalidArgument(_))));
    // A lease past its deadline cannot be extended, even before anyone
    // else took the record.
    clock.advance(1_000);
    assert!(matches!(qb.extend(again.token, 1_000), Err(Error::LeaseExpired(_))));
}

#[test]
fn a_delayed_record_waits_for_queues_but_not_for_groups_nor_records_behind_it() {
    let (_dir, clock, options) = files();
    let pond = open(&_dir, &options);
    pond.create_topic("jobs", TopicConfig::default()).unwrap();
    let q = pond.queue("jobs", QueueConfig::new("w")).unwrap();
    let sent = pond.send("jobs", value(b"later").with_delay(5_000)).unwrap();
    pond.send("jobs", value(b"now")).unwrap();
    let ds = q.receive(10).unwrap();
    assert_eq!(ds.iter().map(|d| d.record.offset).collect::<Vec<_>>(), vec![1]);
    q.ack(ds[0].token).unwrap();
    let info = pond.describe_subscription("jobs", "w").unwrap();
    assert_eq!((info.backlog, info.in_flight), (1, 0));
    assert_eq!(q.next_due_ms().unwrap(), Some(sent.timestamp_ms + 5_000));
    // A group sees it at once, with the time it may be delivered.
    let group =
        ConsumerConfig { auto_offset_reset: OffsetReset::Earliest, ..ConsumerConfig::new("g", &["jobs"]) };
    let polled = pond.consumer(group).unwrap().poll(10).unwrap();
    assert_eq!(polled.len(), 2);
    let schedule = polled[0].schedule();
    assert_eq!(schedule.deliver_at_ms, Some(sent.timestamp_ms + 5_000));
    // Across a reopen, still not before its time (the pond's clock at the
    // append, not a producer's timestamp).
    drop(q);
    pond.close().unwrap();
    let pond = open(&_dir, &options);
    let q = pond.queue("jobs", QueueConfig::new("w")).unwrap();
    clock.advance(4_999);
    assert!(q.receive(10).unwrap().is_empty());
    clock.advance(1);
    let d = q.receive(10).unwrap().pop().expect("due now");
    assert_eq!((d.record.offset, d.delivery_count), (0, 1));
    // A producer's old timestamp does not make a delay shorter.
    let back_dated = value(b"old").with_timestamp(5).with_delay(1_000);
    pond.send("jobs", back_dated).unwrap();
    assert!(q.receive(10).unwrap().is_empty());
    clock.advance(1_000);
    assert_eq!(q.receive(10).unwrap().len(), 1);
    assert!(matches!(pond.send("jobs", value(b"x").with_delay(-1)), Err(Error::InvalidArgument(_))));
    assert!(matches!(pond.send("jobs", value(b"x").with_ttl(0)), Err(Error::InvalidArgument(_))));
}

#[test]
fn an_expired_record_is_dead_lettered_or_parked_never_delivered() {
    let (clock, _options, _storage, pond) = memory();
    let with_dlq = QueueConfig { dead_letter_topic: Some("jobs.dlq".into()), ..QueueConfig::new("d") };
    let qd = pond.queue("jobs", with_dlq).unwrap();
    let qp = pond.queue("jobs", QueueConfig::new("p")).unwrap();
    pond.send("jobs", value(b"stale").with_ttl(1_000)).unwrap();
    pond.send("jobs", NewRecord::value(b"fresh").with_ttl(60_000)).unwrap();
    clock.advance(1_000);
    for q in [&qd, &qp] {
        let ds = q.receive(10).unwrap();
        assert_eq!(ds.iter().map(|d| d.record.offset).collect::<Vec<_>>(), vec![1]);
        q.ack(ds[0].token).unwrap();
    }
    let dead = common::read_all(&pond, "jobs.dlq", 0);
    assert_eq!(dead.len(), 1);
    let header = |name: &str| dead[0].headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    assert_eq!(header(dlq::REASON).as_deref(), Some(&b"expired"[..]));
    assert_eq!(header(dlq::DELIVERY_COUNT).as_deref(), Some(&b"0"[..]));
    assert_eq!(dead[0].schedule(), Default::default(), "a dead letter does not expire again");
    let d = pond.describe_subscription("jobs", "d").unwrap();
    assert_eq!((d.dead_lettered, d.expired, d.parked, d.backlog), (1, 1, 0, 0));
    let p = pond.describe_subscription("jobs", "p").unwrap();
    assert_eq!((p.dead_lettered, p.expired, p.parked, p.backlog), (0, 1, 1, 1));
    assert_eq!(qp.parked().unwrap()[0].reason, "expired");
    // A record that expires while waiting for redelivery is not delivered again.
    pond.send("jobs", value(b"slow").with_ttl(2_000)).unwrap();
    let d = qd.receive(1).unwrap().pop().unwrap();
    qd.nack(d.token, Some(5_000)).unwrap();
    clock.advance(5_000);
    assert!(qd.receive(1).unwrap().is_empty());
    assert_eq!(common::read_all(&pond, "jobs.dlq", 0).len(), 2);
    assert_eq!(pond.describe_subscription("jobs", "d").unwrap().expired, 2);
}

#[test]
fn a_nack_without_delay_follows_the_retry_backoff() {
    let (clock, _options, _storage, pond) = memory();
    let config = QueueConfig { retry_backoff_ms: Some((100, 300)), ..QueueConfig::new("w") };
    let q = pond.queue("jobs", config).unwrap();
    pond.send("jobs", value(b"flaky")).unwrap();
    for wait in [100, 200, 300, 300] {
        let d = q.receive(1).unwrap().pop().expect("due");
        q.nack(d.token, None).unwrap();
        clock.advance(wait - 1);
        assert!(q.receive(1).unwrap().is_empty(), "not before {wait} ms");
        clock.advance(1);
    }
    // An explicit delay wins; a failing handler uses the backoff too.
    let d = q.receive(1).unwrap().pop().unwrap();
    q.nack(d.token, Some(0)).unwrap();
    let d = q.receive(1).unwrap().pop().expect("at once");
    q.nack_failed(d.token, "handler raised").unwrap();
    clock.advance(299);
    assert!(q.receive(1).unwrap().is_empty());
    clock.advance(1);
    assert_eq!(q.receive(1).unwrap().len(), 1);
}

#[test]
fn a_nack_reason_and_delay_survive_a_reopen() {
    let (dir, clock, options) = files();
    let pond = open(&dir, &options);
    pond.create_topic("jobs", TopicConfig::default()).unwrap();
    let config = QueueConfig { max_deliveries: Some(2), ..QueueConfig::new("w") };
    let q = pond.queue("jobs", config).unwrap();
    pond.send("jobs", value(b"x")).unwrap();
    let d = q.receive(1).unwrap().pop().unwrap();
    q.nack_with_reason(d.token, Some(10_000), "upstream down").unwrap();
    drop(q);
    pond.close().unwrap();
    let pond = open(&dir, &options);
    let q = pond.queue("jobs", QueueConfig::new("w")).unwrap();
    clock.advance(9_999);
    assert!(q.receive(1).unwrap().is_empty(), "the delay is kept");
    clock.advance(1);
    let d = q.receive(1).unwrap().pop().unwrap();
    assert_eq!(d.delivery_count, 2);
    // The second delivery times out: parked with the last reason logged.
    clock.advance(30_000);
    assert!(q.receive(1).unwrap().is_empty());
    assert_eq!(q.parked().unwrap()[0].reason, "ack timeout expired");
}

#[test]
fn describe_subscription_reports_without_attaching() {
    let (clock, _options, _storage, pond) = memory();
    pond.create_topic("two", TopicConfig::with_partitions(2)).unwrap();
    let q = pond.queue("two", QueueConfig::new("w")).unwrap();
    let first = pond.send("two", value(b"a").with_partition(1)).unwrap();
    clock.advance(250);
    pond.send("two", value(b"b").with_partition(0)).unwrap();
    pond.send("two", value(b"c").with_partition(0)).unwrap();
    clock.advance(750);
    let ds = q.receive(1).unwrap();
    let info = pond.describe_subscription("two", "w").unwrap();
    assert_eq!((info.topic.as_str(), info.subscription.as_str()), ("two", "w"));
    assert_eq!((info.backlog, info.in_flight, info.parked, info.dead_lettered), (3, 1, 0, 0));
    assert_eq!(info.oldest_unacked_age_ms, Some(clock.now_ms() - first.timestamp_ms));
    assert_eq!(info.settings, SubscriptionSettings::DEFAULT);
    q.ack_many(&ds.iter().map(|d| d.token).collect::<Vec<_>>()).unwrap();
    while let Some(d) = q.receive(1).unwrap().pop() {
        q.ack(d.token).unwrap();
    }
    let drained = pond.describe_subscription("two", "w").unwrap();
    assert_eq!((drained.backlog, drained.oldest_unacked_age_ms), (0, None));
    assert_eq!(pond.subscriptions("two").unwrap(), vec!["w"], "describing attached nothing");
    assert!(matches!(pond.describe_subscription("two", "nope"), Err(Error::TopicNotFound(_))));
}

#[test]
fn flat_options_remove_a_setting_with_the_values_no_subscription_can_have() {
    let removes = SettingsUpdate::from_options(None, Some(0), Some(String::new()), Some((0, 0)));
    let want = SettingsUpdate {
        ack_timeout_ms: None,
        max_deliveries: Some(None),
        dead_letter_topic: Some(None),
        retry_backoff_ms: Some(None),
    };
    assert_eq!(removes, want);
    let sets = SettingsUpdate::from_options(Some(5), Some(3), Some("d".into()), Some((1, 2)));
    assert_eq!(
        (sets.ack_timeout_ms, sets.max_deliveries, sets.dead_letter_topic, sets.retry_backoff_ms),
        (Some(5), Some(Some(3)), Some(Some("d".to_string())), Some(Some((1, 2))))
    );
    assert_eq!(SettingsUpdate::from_options(None, None, None, None), SettingsUpdate::default());
}
