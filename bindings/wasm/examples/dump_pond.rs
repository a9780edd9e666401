//! Prints a pond directory as JSON: every topic's partitions and records,
//! plus the committed offsets of the groups and the backlog of the queue
//! subscriptions named on the command line. The browser tests write a pond
//! exported from a tab (`pond.exportFiles()`) into a directory and check
//! that the file-backed core reads it back the same.
//!
//!     cargo run -p logpond-wasm --example dump_pond -- DIR [--group G] [--queue TOPIC/SUB]

#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
fn main() {
    // File ponds do not exist on wasm32-unknown-unknown.
}

#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
use logpond::{ConsumerConfig, Pond, QueueConfig, ReadLimits};
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
use serde_json::{json, Value};
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
use std::sync::Arc;

#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
fn text(b: Option<&[u8]>) -> Value {
    b.map_or(Value::Null, |b| Value::String(String::from_utf8_lossy(b).into_owned()))
}

#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or("usage: dump_pond DIR [--group G] [--queue TOPIC/SUB]")?;
    let (mut groups, mut queues) = (Vec::new(), Vec::new());
    while let Some(flag) = args.next() {
        let value = args.next().ok_or("a flag needs a value")?;
        match flag.as_str() {
            "--group" => groups.push(value),
            "--queue" => queues.push(value),
            other => return Err(format!("unknown flag {other}").into()),
        }
    }
    let pond = Arc::new(Pond::open(&dir)?);
    let mut topics = serde_json::Map::new();
    for topic in pond.topics()? {
        let mut partitions = Vec::new();
        for p in pond.describe(&topic)?.partitions {
            let mut records = Vec::new();
            let mut next = p.start_offset;
            while next < p.end_offset {
                let limits = ReadLimits { max_records: 1000, max_bytes: usize::MAX };
                let batch = pond.read(&topic, p.partition, next, limits)?;
                let Some(last) = batch.last() else { break };
                next = last.offset + 1;
                records.extend(batch.iter().map(|r| {
                    json!({
                        "offset": r.offset, "timestamp_ms": r.timestamp_ms,
                        "key": text(r.key.as_deref()), "value": text(r.value.as_deref()),
                        "headers": r.headers.iter().map(|(n, v)| json!([n, text(Some(v))])).collect::<Vec<_>>(),
                    })
                }));
            }
            partitions.push(json!({
                "partition": p.partition, "start_offset": p.start_offset, "end_offset": p.end_offset,
                "records": records,
            }));
        }
        topics.insert(topic, Value::Array(partitions));
    }
    let mut committed = serde_json::Map::new();
    for group in groups {
        let mut per_topic = serde_json::Map::new();
        for topic in pond.topics()? {
            let c = pond.consumer(ConsumerConfig::new(group.as_str(), &[topic.as_str()]))?;
            let mut offsets = Vec::new();
            for p in pond.describe(&topic)?.partitions {
                offsets.push(json!(c.committed(&topic, p.partition)?));
            }
            c.close()?;
            per_topic.insert(topic, Value::Array(offsets));
        }
        committed.insert(group, Value::Object(per_topic));
    }
    let mut backlogs = serde_json::Map::new();
    for spec in queues {
        let (topic, sub) = spec.split_once('/').ok_or("--queue takes TOPIC/SUBSCRIPTION")?;
        let q = pond.queue(topic, QueueConfig::new(sub))?;
        backlogs.insert(spec.clone(), json!(q.backlog()?));
        q.close()?;
    }
    pond.close()?;
    println!("{}", json!({"topics": topics, "committed": committed, "backlog": backlogs}));
    Ok(())
}
