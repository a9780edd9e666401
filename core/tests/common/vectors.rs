//! The test vectors of `tests/vectors/`: small ponds written
//! deterministically (manual clock), with the records every runtime must
//! read back from them. `cargo run --example make_vectors` writes them; the
//! `vectors` test checks that the writer still produces the same bytes.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;

use logpond::{
    Cleanup, ConsumerConfig, ManualClock, MemoryStorage, NewRecord, OffsetReset, Pond, PondOptions,
    QueueConfig, ReadLimits, TopicConfig,
};
use serde_json::{json, Value};

pub const START_MS: i64 = 1_700_000_000_000;

pub fn names() -> &'static [&'static str] {
    &["basic", "compacted", "retention", "groups", "queues"]
}

fn pond_at(dir: &Path, clock: &ManualClock) -> Arc<Pond> {
    Arc::new(Pond::open_with(dir, PondOptions::with_clock(Arc::new(clock.clone()))).unwrap())
}

/// Writes vector `name` into `dir` (which must be empty). The pond is
/// written in memory, where nothing is shared and so every id is the same
/// run to run, then copied out: every backend holds the same bytes.
pub fn write(name: &str, dir: &Path) {
    let storage = Arc::new(MemoryStorage::new());
    write_to(name, storage.clone());
    for (file, bytes) in storage.snapshot() {
        let target = dir.join(file);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(target, bytes).unwrap();
    }
}

fn write_to(name: &str, storage: Arc<MemoryStorage>) {
    let clock = ManualClock::new(START_MS);
    let options = PondOptions::with_clock(Arc::new(clock.clone()));
    let pond = Arc::new(Pond::with_storage(storage, options).unwrap());
    match name {
        "basic" => {
            pond.create_topic("orders", TopicConfig::with_partitions(3)).unwrap();
            pond.create_topic("events", TopicConfig::default()).unwrap();
            for i in 0..12 {
                let customer = format!("customer-{}", i % 4);
                let order = format!("{{\"order\":{i},\"total\":{}}}", 10 + i);
                let r =
                    NewRecord::keyed(customer.as_bytes(), order.as_bytes()).with_header("source", b"vector");
                pond.send("orders", r).unwrap();
                clock.advance(1_000);
            }
            pond.send("events", NewRecord::value(b"no key").with_timestamp(1_600_000_000_000)).unwrap();
            pond.send("events", NewRecord::tombstone(b"just a key")).unwrap();
            pond.send("events", NewRecord::keyed(b"k", b"").with_header("a", b"1").with_header("a", b"2"))
                .unwrap();
            let batch: Vec<NewRecord<'_>> = (0..5).map(|_| NewRecord::value(b"batched")).collect();
            pond.send_many("events", &batch).unwrap();
        }
        "compacted" => {
            let config =
                TopicConfig { cleanup: Cleanup::Compact, segment_bytes: 256, ..TopicConfig::default() };
            pond.create_topic("status", config).unwrap();
            for i in 0..40 {
                let key = format!("order-{}", i % 6);
                let value = format!("status {i}");
                pond.send("status", NewRecord::keyed(key.as_bytes(), value.as_bytes())).unwrap();
                clock.advance(10);
            }
            pond.send("status", NewRecord::tombstone(b"order-2")).unwrap();
            for i in 0..10 {
                pond.send("status", NewRecord::keyed(b"order-0", format!("late {i}").as_bytes())).unwrap();
            }
            pond.maintain().unwrap();
        }
        "retention" => {
            let config =
                TopicConfig { retention_records: Some(10), segment_bytes: 200, ..TopicConfig::default() };
            pond.create_topic("recent", config).unwrap();
            pond.create_topic("trimmed", TopicConfig::default()).unwrap();
            for i in 0..30 {
                pond.send("recent", NewRecord::value(format!("reading {i}").as_bytes())).unwrap();
                pond.send("trimmed", NewRecord::value(format!("line {i}").as_bytes())).unwrap();
            }
            pond.delete_records("trimmed", 0, 25).unwrap();
        }
        "groups" => {
            pond.create_topic("orders", TopicConfig::with_partitions(2)).unwrap();
            for i in 0..10u32 {
                pond.send("orders", NewRecord::value(format!("order {i}").as_bytes()).with_partition(i % 2))
                    .unwrap();
            }
            let config = ConsumerConfig {
                auto_offset_reset: OffsetReset::Earliest,
                auto_commit: false,
                ..ConsumerConfig::new("billing", &["orders"])
            };
            let c = pond.consumer(config).unwrap();
            c.commit_offsets(&[("orders", 0, 3), ("orders", 1, 5)]).unwrap();
            c.close().unwrap();
            let config = ConsumerConfig {
                auto_offset_reset: OffsetReset::Earliest,
                auto_commit: false,
                ..ConsumerConfig::new("audit", &["orders"])
            };
            let c = pond.consumer(config).unwrap();
            c.commit_offsets(&[("orders", 0, 1)]).unwrap();
            c.commit_offsets(&[("orders", 0, 2)]).unwrap();
            c.close().unwrap();
        }
        "queues" => {
            pond.create_topic("jobs", TopicConfig::default()).unwrap();
            for i in 0..6 {
                pond.send("jobs", NewRecord::value(format!("job {i}").as_bytes())).unwrap();
            }
            let q = pond.queue("jobs", QueueConfig::new("workers")).unwrap();
            let ds = q.receive(4).unwrap();
            q.ack_many(&[ds[0].token, ds[2].token]).unwrap();
            q.nack(ds[1].token, Some(0)).unwrap();
            // ds[3] stays in flight: after a reopen it is deliverable again.
            drop(q);
        }
        other => panic!("unknown vector {other}"),
    }
    pond.close().unwrap();
}

/// What a runtime must read from vector `name`: every record of every
/// topic, committed offsets and queue backlogs.
pub fn expected(name: &str, dir: &Path) -> Value {
    let clock = ManualClock::new(START_MS);
    let pond = pond_at(dir, &clock);
    let mut topics = serde_json::Map::new();
    for topic in pond.topics().unwrap() {
        let info = pond.describe(&topic).unwrap();
        let partitions: Vec<Value> = info
            .partitions
            .iter()
            .map(|p| {
                let mut records = Vec::new();
                let mut next = p.start_offset;
                while next < p.end_offset {
                    let limits = ReadLimits { max_records: 1000, max_bytes: usize::MAX };
                    let batch = pond.read(&topic, p.partition, next, limits).unwrap();
                    let Some(last) = batch.last() else { break };
                    next = last.offset + 1;
                    let text = |b: &Option<bytes::Bytes>| {
                        b.as_ref().map_or(Value::Null, |b| Value::String(String::from_utf8(b.to_vec()).unwrap()))
                    };
                    records.extend(batch.iter().map(|r| {
                        json!({
                            "offset": r.offset, "timestamp_ms": r.timestamp_ms, "key": text(&r.key), "value": text(&r.value),
                            "headers": r.headers.iter().map(|(n, v)| json!([n, String::from_utf8(v.to_vec()).unwrap()])).collect::<Vec<_>>(),
                        })
                    }));
                }
                json!({"partition": p.partition, "start_offset": p.start_offset, "end_offset": p.end_offset, "records": records})
            })
            .collect();
        topics.insert(topic, Value::Array(partitions));
    }
    let mut out = json!({"vector": name, "topics": topics});
    match name {
        "groups" => {
            let read = |group: &str| {
                let c = pond.consumer(ConsumerConfig::new(group, &["orders"])).unwrap();
                let v = json!([c.committed("orders", 0).unwrap(), c.committed("orders", 1).unwrap()]);
                c.close().unwrap();
                v
            };
            out["committed"] =
                json!({"billing": {"orders": read("billing")}, "audit": {"orders": read("audit")}});
        }
        "queues" => {
            let q = pond.queue("jobs", QueueConfig::new("workers")).unwrap();
            out["queues"] = json!({"jobs": {"workers": {"backlog": q.backlog().unwrap()}}});
            let deliveries: Vec<Value> = q
                .receive(100)
                .unwrap()
                .iter()
                .map(|d| json!({"offset": d.record.offset, "delivery_count": d.delivery_count}))
                .collect();
            out["queues"]["jobs"]["workers"]["deliverable"] = Value::Array(deliveries);
        }
        _ => {}
    }
    drop(pond);
    out
}
