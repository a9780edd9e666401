//! Runs the conformance scenarios of `tests/scenarios/*.json` (the same
//! files every runtime runs; the format is in tests/scenarios/README.md).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use logpond::{
    Assignor, Cleanup, Consumer, ConsumerConfig, Delivery, Error, ManualClock, NewRecord, OffsetReset, Pond,
    PondOptions, Queue, QueueConfig, ReadLimits, Record, SettingsUpdate, SubscriptionSettings, TopicConfig,
};
use serde_json::{json, Value};

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/scenarios")
}

struct Runner {
    dir: tempfile::TempDir,
    clock: ManualClock,
    pond: Arc<Pond>,
    consumers: BTreeMap<String, Consumer>,
    queues: BTreeMap<String, Queue>,
    deliveries: BTreeMap<String, Vec<Delivery>>,
}

fn s<'v>(step: &'v Value, field: &str) -> &'v str {
    step[field].as_str().unwrap_or_else(|| panic!("step needs a string {field:?}: {step}"))
}

fn n(step: &Value, field: &str) -> u64 {
    step[field].as_u64().unwrap_or_else(|| panic!("step needs a number {field:?}: {step}"))
}

fn opt_n(step: &Value, field: &str) -> Option<u64> {
    step.get(field).and_then(Value::as_u64)
}

fn bytes(v: &Value) -> Option<Vec<u8>> {
    v.as_str().map(|s| s.as_bytes().to_vec())
}

struct Owned {
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<(String, Vec<u8>)>,
    partition: Option<u32>,
    timestamp_ms: Option<i64>,
    delay_ms: Option<i64>,
    ttl_ms: Option<i64>,
}

impl Owned {
    /// A record of a `send` or `send_many` step (whose `delay_ms` and
    /// `ttl_ms` apply to every record it sends).
    fn from(v: &Value, step: &Value) -> Owned {
        let headers = v["headers"]
            .as_array()
            .map(|hs| {
                hs.iter()
                    .map(|h| (h[0].as_str().unwrap().to_string(), bytes(&h[1]).unwrap_or_default()))
                    .collect()
            })
            .unwrap_or_default();
        Owned {
            key: bytes(&v["key"]),
            value: bytes(&v["value"]),
            headers,
            partition: v.get("partition").and_then(Value::as_u64).map(|p| p as u32),
            timestamp_ms: v.get("timestamp_ms").and_then(Value::as_i64),
            delay_ms: step.get("delay_ms").and_then(Value::as_i64),
            ttl_ms: step.get("ttl_ms").and_then(Value::as_i64),
        }
    }

    fn as_new(&self) -> NewRecord<'_> {
        NewRecord {
            key: self.key.as_deref(),
            value: self.value.as_deref(),
            headers: self.headers.iter().map(|(n, v)| (n.as_str(), v.as_slice())).collect(),
            partition: self.partition,
            timestamp_ms: self.timestamp_ms,
            delay_ms: self.delay_ms,
            ttl_ms: self.ttl_ms,
        }
    }
}

fn text(b: &Option<bytes::Bytes>) -> Value {
    b.as_ref().map_or(Value::Null, |b| Value::String(String::from_utf8_lossy(b).into_owned()))
}

fn record_json(r: &Record) -> Value {
    json!({
        "partition": r.partition,
        "offset": r.offset,
        "key": text(&r.key),
        "value": text(&r.value),
        "timestamp_ms": r.timestamp_ms,
        "headers": r.headers.iter().map(|(n, v)| json!([n, String::from_utf8_lossy(v)])).collect::<Vec<_>>(),
    })
}

/// `actual` matches `expected` when every field present in `expected` matches.
fn matches(actual: &Value, expected: &Value) -> bool {
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => {
            e.iter().all(|(k, ev)| a.get(k).is_some_and(|av| matches(av, ev)))
        }
        (Value::Array(a), Value::Array(e)) => {
            a.len() == e.len() && a.iter().zip(e).all(|(x, y)| matches(x, y))
        }
        _ => actual == expected,
    }
}

impl Runner {
    fn new(clock_ms: i64) -> Runner {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::new(clock_ms);
        let pond =
            Arc::new(Pond::open_with(dir.path(), PondOptions::with_clock(Arc::new(clock.clone()))).unwrap());
        Runner {
            dir,
            clock,
            pond,
            consumers: BTreeMap::new(),
            queues: BTreeMap::new(),
            deliveries: BTreeMap::new(),
        }
    }

    fn step(&mut self, step: &Value) -> Result<Value, Error> {
        let op = s(step, "op");
        Ok(match op {
            "create_topic" => {
                let d = TopicConfig::default();
                let config = TopicConfig {
                    partitions: opt_n(step, "partitions").map_or(1, |p| p as u32),
                    retention_ms: step.get("retention_ms").and_then(Value::as_i64),
                    retention_bytes: opt_n(step, "retention_bytes"),
                    retention_records: opt_n(step, "retention_records"),
                    cleanup: if step["compact"].as_bool() == Some(true) {
                        Cleanup::Compact
                    } else {
                        Cleanup::Delete
                    },
                    max_record_bytes: opt_n(step, "max_record_bytes")
                        .map_or(d.max_record_bytes, |v| v as u32),
                    max_backlog: opt_n(step, "max_backlog"),
                    segment_bytes: opt_n(step, "segment_bytes").unwrap_or(d.segment_bytes),
                    retain_until_acked: step["retain_until_acked"].as_bool().unwrap_or(false),
                    ..d
                };
                self.pond.create_topic(s(step, "topic"), config)?;
                Value::Null
            }
            "delete_topic" => {
                self.pond.delete_topic(s(step, "topic"))?;
                Value::Null
            }
            "topics" => json!(self.pond.topics()?),
            "describe" => {
                let info = self.pond.describe(s(step, "topic"))?;
                json!({"partitions": info.partitions.iter().map(|p| json!({
                    "partition": p.partition, "start_offset": p.start_offset, "end_offset": p.end_offset,
                })).collect::<Vec<_>>()})
            }
            "send" => {
                let owned = Owned::from(step, step);
                let md = self.pond.send(s(step, "topic"), owned.as_new())?;
                json!({"partition": md.partition, "offset": md.offset, "timestamp_ms": md.timestamp_ms})
            }
            "send_many" => {
                let owned: Vec<Owned> =
                    step["records"].as_array().unwrap().iter().map(|r| Owned::from(r, step)).collect();
                let records: Vec<NewRecord<'_>> = owned.iter().map(Owned::as_new).collect();
                let mds = self.pond.send_many(s(step, "topic"), &records)?;
                json!(mds
                    .iter()
                    .map(|m| json!({"partition": m.partition, "offset": m.offset}))
                    .collect::<Vec<_>>())
            }
            "read" => {
                let limits = ReadLimits {
                    max_records: opt_n(step, "max_records").unwrap_or(500) as usize,
                    max_bytes: usize::MAX,
                };
                let records = self.pond.read(
                    s(step, "topic"),
                    n(step, "partition") as u32,
                    n(step, "offset"),
                    limits,
                )?;
                json!(records.iter().map(record_json).collect::<Vec<_>>())
            }
            "offset_for_time" => {
                let ts = step["timestamp_ms"].as_i64().unwrap();
                json!(self.pond.offset_for_time(s(step, "topic"), n(step, "partition") as u32, ts)?)
            }
            "delete_records" => {
                self.pond.delete_records(
                    s(step, "topic"),
                    n(step, "partition") as u32,
                    n(step, "before_offset"),
                )?;
                Value::Null
            }
            "advance" => {
                self.clock.advance(step["ms"].as_i64().unwrap());
                Value::Null
            }
            "maintain" => {
                self.pond.maintain()?;
                Value::Null
            }
            "reopen" => {
                self.pond.close()?;
                self.consumers.clear();
                self.queues.clear();
                self.deliveries.clear();
                let options = PondOptions::with_clock(Arc::new(self.clock.clone()));
                self.pond = Arc::new(Pond::open_with(self.dir.path(), options)?);
                Value::Null
            }
            "consumer" => {
                let topics: Vec<&str> =
                    step["topics"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
                let mut config = ConsumerConfig::new(s(step, "group"), &topics);
                if let Some(reset) = step["auto_offset_reset"].as_str() {
                    config.auto_offset_reset =
                        OffsetReset::parse(reset).ok_or_else(|| Error::InvalidArgument(reset.into()))?;
                }
                if let Some(a) = step["auto_commit"].as_bool() {
                    config.auto_commit = a;
                }
                if let Some(ms) = step["session_timeout_ms"].as_i64() {
                    config.session_timeout_ms = ms;
                }
                if let Some(a) = step["assignor"].as_str() {
                    config.assignor = Assignor::parse(a).ok_or_else(|| Error::InvalidArgument(a.into()))?;
                }
                let c = self.pond.consumer(config)?;
                self.consumers.insert(s(step, "name").to_string(), c);
                Value::Null
            }
            "poll" => {
                let records = self.consumer(step).poll(n(step, "max_records") as usize)?;
                json!(records.iter().map(record_json).collect::<Vec<_>>())
            }
            "commit" => {
                let c = self.consumer(step);
                match step["offsets"].as_array() {
                    None => c.commit()?,
                    Some(list) => {
                        let offsets: Vec<(&str, u32, u64)> = list
                            .iter()
                            .map(|o| {
                                (
                                    o["topic"].as_str().unwrap(),
                                    o["partition"].as_u64().unwrap() as u32,
                                    o["offset"].as_u64().unwrap(),
                                )
                            })
                            .collect();
                        c.commit_offsets(&offsets)?
                    }
                }
                Value::Null
            }
            "committed" => {
                json!(self.consumer(step).committed(s(step, "topic"), n(step, "partition") as u32)?)
            }
            "position" => {
                json!(self.consumer(step).position(s(step, "topic"), n(step, "partition") as u32)?)
            }
            "seek" => {
                self.consumer(step).seek(s(step, "topic"), n(step, "partition") as u32, n(step, "offset"))?;
                Value::Null
            }
            "seek_to_beginning" => {
                self.consumer(step).seek_to_beginning()?;
                Value::Null
            }
            "seek_to_end" => {
                self.consumer(step).seek_to_end()?;
                Value::Null
            }
            "seek_to_time" => {
                self.consumer(step).seek_to_time(step["timestamp_ms"].as_i64().unwrap())?;
                Value::Null
            }
            "assignment" => json!(self.consumer(step).assignment()?),
            "lag" => {
                let lag = self.consumer(step).lag()?;
                json!(lag.iter().map(|((t, p), l)| json!([t, p, l])).collect::<Vec<_>>())
            }
            "close_consumer" => {
                self.consumers.remove(s(step, "consumer")).expect("known consumer").close()?;
                Value::Null
            }
            "queue" => {
                let mut config = QueueConfig::new(s(step, "subscription"));
                config.ack_timeout_ms = step["ack_timeout_ms"].as_i64();
                config.retry_backoff_ms = backoff(step).flatten();
                config.max_deliveries = opt_n(step, "max_deliveries").map(|m| m as u32);
                config.dead_letter_topic = step["dead_letter_topic"].as_str().map(String::from);
                if let Some(m) = opt_n(step, "max_in_flight") {
                    config.max_in_flight = m as usize;
                }
                config.start_at_end = step["start_at_end"].as_bool().unwrap_or(false);
                let q = self.pond.queue(s(step, "topic"), config)?;
                self.queues.insert(s(step, "name").to_string(), q);
                Value::Null
            }
            "receive" => {
                let got = self.queue(step).receive(n(step, "max_messages") as usize)?;
                let out = json!(got
                    .iter()
                    .map(|d| json!({
                        "partition": d.record.partition, "offset": d.record.offset,
                        "value": text(&d.record.value), "delivery_count": d.delivery_count,
                    }))
                    .collect::<Vec<_>>());
                if let Some(label) = step["as"].as_str() {
                    self.deliveries.insert(label.to_string(), got);
                }
                out
            }
            "ack" | "nack" => {
                let label = s(step, "deliveries");
                let all =
                    self.deliveries.get(label).unwrap_or_else(|| panic!("no deliveries labelled {label}"));
                let chosen: Vec<&Delivery> = match opt_n(step, "index") {
                    Some(i) => vec![&all[i as usize]],
                    None => all.iter().collect(),
                };
                let q = self.queue(step);
                for d in chosen {
                    if op == "ack" {
                        q.ack(d.token)?;
                    } else {
                        q.nack(d.token, step["delay_ms"].as_i64())?;
                    }
                }
                Value::Null
            }
            "extend" => {
                let label = s(step, "deliveries");
                let all =
                    self.deliveries.get(label).unwrap_or_else(|| panic!("no deliveries labelled {label}"));
                let d = &all[opt_n(step, "index").unwrap_or(0) as usize];
                self.queue(step).extend(d.token, step["ms"].as_i64().unwrap())?;
                Value::Null
            }
            "update_subscription" => {
                let update = SettingsUpdate {
                    ack_timeout_ms: step["ack_timeout_ms"].as_i64(),
                    max_deliveries: opt_n(step, "max_deliveries").map(|m| Some(m as u32).filter(|m| *m > 0)),
                    dead_letter_topic: step["dead_letter_topic"]
                        .as_str()
                        .map(|t| Some(t.to_string()).filter(|t| !t.is_empty())),
                    retry_backoff_ms: backoff(step),
                };
                let settings =
                    self.pond.update_subscription(s(step, "topic"), s(step, "subscription"), &update)?;
                settings_json(&settings)
            }
            "describe_subscription" => {
                let i = self.pond.describe_subscription(s(step, "topic"), s(step, "subscription"))?;
                json!({
                    "topic": i.topic, "subscription": i.subscription, "backlog": i.backlog,
                    "in_flight": i.in_flight, "dead_lettered": i.dead_lettered, "parked": i.parked,
                    "expired": i.expired, "oldest_unacked_age_ms": i.oldest_unacked_age_ms,
                    "settings": settings_json(&i.settings),
                })
            }
            "subscriptions" => json!(self.pond.subscriptions(s(step, "topic"))?),
            "parked" => {
                let parked = self.queue(step).parked()?;
                json!(parked
                    .iter()
                    .map(|p| json!({"partition": p.partition, "offset": p.offset,
                        "delivery_count": p.delivery_count, "reason": p.reason}))
                    .collect::<Vec<_>>())
            }
            "backlog" => json!(self.queue(step).backlog()?),
            "in_flight" => json!(self.queue(step).in_flight()?),
            "close_queue" => {
                self.queues.remove(s(step, "queue")).expect("known queue").close()?;
                Value::Null
            }
            other => panic!("unknown op {other:?}"),
        })
    }

    fn consumer(&self, step: &Value) -> &Consumer {
        let name = s(step, "consumer");
        self.consumers.get(name).unwrap_or_else(|| panic!("no consumer {name}"))
    }

    fn queue(&self, step: &Value) -> &Queue {
        let name = s(step, "queue");
        self.queues.get(name).unwrap_or_else(|| panic!("no queue {name}"))
    }
}

/// A step's `retry_backoff_ms`: `[initial, max]`, `[0, 0]` for none.
fn backoff(step: &Value) -> Option<Option<(i64, i64)>> {
    let pair = step.get("retry_backoff_ms")?.as_array()?;
    let (initial, max) = (pair[0].as_i64()?, pair[1].as_i64()?);
    Some((initial, max)).map(|b| (b != (0, 0)).then_some(b))
}

fn settings_json(s: &SubscriptionSettings) -> Value {
    json!({
        "ack_timeout_ms": s.ack_timeout_ms, "max_deliveries": s.max_deliveries,
        "dead_letter_topic": s.dead_letter_topic,
        "retry_backoff_ms": s.retry_backoff_ms.map(|(i, m)| json!([i, m])),
    })
}

fn run_file(path: &Path) {
    let scenario: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut runner = Runner::new(scenario["clock_ms"].as_i64().unwrap_or(0));
    for (i, step) in scenario["steps"].as_array().unwrap().iter().enumerate() {
        let at = format!("{} step {i} ({})", path.display(), step);
        match (runner.step(step), step.get("error").and_then(Value::as_str)) {
            (Ok(result), None) => {
                if let Some(expected) = step.get("expect") {
                    assert!(matches(&result, expected), "{at}: got {result}, expected {expected}");
                }
            }
            (Ok(result), Some(code)) => panic!("{at}: expected error {code}, got {result}"),
            (Err(e), Some(code)) => assert_eq!(e.code().as_str(), code, "{at}: {e}"),
            (Err(e), None) => panic!("{at}: {e}"),
        }
    }
}

#[test]
fn every_scenario_passes() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(scenarios_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 30, "the suite has at least 30 scenarios, found {}", files.len());
    for f in &files {
        run_file(f);
    }
}
