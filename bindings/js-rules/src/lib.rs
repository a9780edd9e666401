//! What the JavaScript bindings (Node and the browser) share: numbers as JS
//! holds them (f64, exact only up to 2^53 - 1), and the packed form in which
//! records cross in one call, both ways: sends going in (`unpack_send`),
//! reads, polls and receives coming out (`pack`). The one JS layer (`js/`)
//! packs and unpacks the same layout for both runtimes. Language rules
//! live at the language's edge, not in the language-neutral core.
#![forbid(unsafe_code)]

use logpond::surface::TOPIC_OPTIONS;
use logpond::{
    Assignor, Cleanup, ConsumerConfig, Error, NewRecord, OffsetReset, QueueConfig, Record, RecordMetadata,
    Result, TopicConfig, TopicInfo,
};

fn invalid(msg: impl Into<String>) -> Error {
    Error::InvalidArgument(msg.into())
}

/// `Number.MAX_SAFE_INTEGER`: larger integers are not exact in a JS number.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Why `v` is not a safe integer (called once the fast checks failed).
#[cold]
fn not_integer(name: &str, v: f64) -> Error {
    if !v.is_finite() || v.fract() != 0.0 {
        invalid(format!("{name} must be an integer, got {v}"))
    } else if v.abs() > MAX_SAFE_INTEGER as f64 {
        invalid(format!(
            "{name} {v} is beyond Number.MAX_SAFE_INTEGER (2^53 - 1): a JS number cannot hold it exactly"
        ))
    } else {
        invalid(format!("{name} must be >= 0, got {v}"))
    }
}

/// A non-negative safe integer.
#[inline]
pub fn to_u64(name: &str, v: f64) -> Result<u64> {
    // In range, the cast is exact exactly when `v` is an integer (NaN fails
    // the range test). No `trunc`: it is a libm call on baseline x86-64.
    if (0.0..=MAX_SAFE_INTEGER as f64).contains(&v) {
        let n = v as u64;
        if n as f64 == v {
            return Ok(n);
        }
    }
    Err(not_integer(name, v))
}

/// A safe integer (may be negative).
#[inline]
pub fn to_i64(name: &str, v: f64) -> Result<i64> {
    let max = MAX_SAFE_INTEGER as f64;
    if (-max..=max).contains(&v) {
        let n = v as i64;
        if n as f64 == v {
            return Ok(n);
        }
    }
    Err(not_integer(name, v))
}

pub fn to_u32(name: &str, v: f64) -> Result<u32> {
    let n = to_u64(name, v)?;
    u32::try_from(n).map_err(|_| invalid(format!("{name} must be <= {}, got {v}", u32::MAX)))
}

#[inline]
pub fn to_usize(name: &str, v: f64) -> Result<usize> {
    let n = to_u64(name, v)?;
    usize::try_from(n).map_err(|_| invalid(format!("{name} is too large: {v}")))
}

/// A core count or offset going out to JS, which must hold it exactly.
pub fn from_u64(v: u64) -> Result<f64> {
    if v > MAX_SAFE_INTEGER {
        return Err(invalid(format!(
            "{v} is beyond Number.MAX_SAFE_INTEGER (2^53 - 1): a JS number cannot hold it exactly"
        )));
    }
    Ok(v as f64)
}

/// The names of `createTopic`'s options (and of the configuration
/// `describe` gives), in the order their numbers cross: the core's
/// `surface::TOPIC_OPTIONS`, where they are declared once. Booleans cross
/// as 1 or 0; NaN is an absent option (its default) or a limit that is none.
pub fn topic_options() -> impl Iterator<Item = &'static str> {
    TOPIC_OPTIONS.iter().map(|o| o.js)
}

/// A topic's configuration from the numbers of [`topic_options`] (absent
/// ones take the core's defaults).
pub fn topic_config(numbers: &[f64]) -> Result<TopicConfig> {
    let mut c = TopicConfig::default();
    for (name, &v) in topic_options().zip(numbers).filter(|(_, v)| !v.is_nan()) {
        match name {
            "partitions" => c.partitions = to_u32(name, v)?,
            "retentionMs" => c.retention_ms = Some(to_i64(name, v)?),
            "retentionBytes" => c.retention_bytes = Some(to_u64(name, v)?),
            "retentionRecords" => c.retention_records = Some(to_u64(name, v)?),
            "compact" if v == 1.0 => c.cleanup = Cleanup::Compact,
            "deleteRetentionMs" => c.delete_retention_ms = to_i64(name, v)?,
            "maxRecordBytes" => c.max_record_bytes = to_u32(name, v)?,
            "maxBacklog" => c.max_backlog = Some(to_u64(name, v)?),
            "segmentBytes" => c.segment_bytes = to_u64(name, v)?,
            "segmentMs" => c.segment_ms = to_i64(name, v)?,
            "retainUntilAcked" => c.retain_until_acked = v == 1.0,
            _ => {}
        }
    }
    Ok(c)
}

/// A consumer group described (`Pond::describe_group`), as the JSON the
/// JS layer parses: `{ group, generation, members: [{ memberId,
/// assignment: [[topic, partition]] }], offsets: [{ topic, partition,
/// committed, end, lag, consumer }] }` (`null` for none). Every number is
/// a safe JS integer, or the call fails.
pub fn group_json(info: &logpond::GroupInfo) -> Result<String> {
    use serde_json::json;
    let opt = |v: Option<u64>| v.map(from_u64).transpose();
    let mut members = Vec::with_capacity(info.members.len());
    for m in &info.members {
        let assignment: Vec<_> = m.assignment.iter().map(|(t, p)| json!([t, p])).collect();
        members.push(json!({ "memberId": from_u64(m.member_id)?, "assignment": assignment }));
    }
    let mut offsets = Vec::with_capacity(info.offsets.len());
    for ((topic, partition), o) in &info.offsets {
        offsets.push(json!({
            "topic": topic, "partition": partition, "committed": opt(o.committed)?,
            "end": from_u64(o.end)?, "lag": from_u64(o.lag)?, "consumer": opt(o.consumer)?,
        }));
    }
    let generation = from_u64(info.generation)?;
    Ok(json!({ "group": info.group, "generation": generation, "members": members, "offsets": offsets })
        .to_string())
}

/// A topic described, as numbers: its configuration in the order of
/// [`topic_options`], then `partition, startOffset, endOffset, bytes` per
/// partition.
pub fn topic_numbers(info: &TopicInfo) -> Result<Vec<f64>> {
    let c = &info.config;
    let opt = |v: Option<u64>| v.map_or(Ok(f64::NAN), from_u64);
    let flag = |b: bool| if b { 1.0 } else { 0.0 };
    let mut out = Vec::with_capacity(TOPIC_OPTIONS.len() + 4 * info.partitions.len());
    for name in topic_options() {
        out.push(match name {
            "partitions" => f64::from(c.partitions),
            "retentionMs" => c.retention_ms.map_or(f64::NAN, |v| v as f64),
            "retentionBytes" => opt(c.retention_bytes)?,
            "retentionRecords" => opt(c.retention_records)?,
            "compact" => flag(c.cleanup == Cleanup::Compact),
            "deleteRetentionMs" => c.delete_retention_ms as f64,
            "maxRecordBytes" => f64::from(c.max_record_bytes),
            "maxBacklog" => opt(c.max_backlog)?,
            "segmentBytes" => from_u64(c.segment_bytes)?,
            "segmentMs" => c.segment_ms as f64,
            "retainUntilAcked" => flag(c.retain_until_acked),
            _ => f64::NAN,
        });
    }
    for p in &info.partitions {
        out.extend([
            f64::from(p.partition),
            from_u64(p.start_offset)?,
            from_u64(p.end_offset)?,
            from_u64(p.bytes)?,
        ]);
    }
    Ok(out)
}

/// A consumer's configuration from the options JS gives (`pond.consumer`):
/// absent ones take the core's defaults.
pub fn consumer_config(
    group: String,
    topics: Vec<String>,
    auto_offset_reset: Option<&str>,
    auto_commit: Option<bool>,
    auto_commit_interval_ms: Option<f64>,
    session_timeout_ms: Option<f64>,
    assignor: Option<&str>,
) -> Result<ConsumerConfig> {
    let mut c = ConsumerConfig::new(group, &[]);
    c.topics = topics;
    if let Some(r) = auto_offset_reset {
        c.auto_offset_reset = OffsetReset::parse(r).ok_or_else(|| {
            invalid(format!("autoOffsetReset must be 'latest', 'earliest' or 'none', got '{r}'"))
        })?;
    }
    c.auto_commit = auto_commit.unwrap_or(c.auto_commit);
    if let Some(ms) = auto_commit_interval_ms {
        c.auto_commit_interval_ms = to_i64("autoCommitIntervalMs", ms)?;
    }
    if let Some(ms) = session_timeout_ms {
        c.session_timeout_ms = to_i64("sessionTimeoutMs", ms)?;
    }
    if let Some(a) = assignor {
        c.assignor = Assignor::parse(a).ok_or_else(|| {
            invalid(format!("assignor must be 'cooperative-sticky', 'range' or 'round-robin', got '{a}'"))
        })?;
    }
    Ok(c)
}

/// A queue consumer's configuration from the options JS gives
/// (`pond.queue`): absent settings are the stored ones (on first attach,
/// the defaults); an absent `maxInFlight` or `startAtEnd`, the default.
#[allow(clippy::too_many_arguments)] // the options, one by one
pub fn queue_config(
    subscription: String,
    ack_timeout_ms: Option<f64>,
    max_deliveries: Option<f64>,
    dead_letter_topic: Option<String>,
    retry_backoff_ms: Option<&[f64]>,
    max_in_flight: Option<f64>,
    start_at_end: Option<bool>,
) -> Result<QueueConfig> {
    let mut c = QueueConfig::new(subscription);
    c.ack_timeout_ms = ack_timeout_ms.map(|ms| to_i64("ackTimeoutMs", ms)).transpose()?;
    c.max_deliveries = max_deliveries.map(|m| to_u32("maxDeliveries", m)).transpose()?;
    c.dead_letter_topic = dead_letter_topic;
    c.retry_backoff_ms = retry_backoff_ms.map(backoff).transpose()?;
    if let Some(m) = max_in_flight {
        c.max_in_flight = to_usize("maxInFlight", m)?;
    }
    c.start_at_end = start_at_end.unwrap_or(c.start_at_end);
    Ok(c)
}

/// A `retryBackoffMs`: `[initial, max]` milliseconds.
fn backoff(pair: &[f64]) -> Result<(i64, i64)> {
    match pair {
        [initial, max] => Ok((to_i64("retryBackoffMs", *initial)?, to_i64("retryBackoffMs", *max)?)),
        _ => Err(invalid("retryBackoffMs must be [initialMs, maxMs]")),
    }
}

/// A change of a subscription's settings from the options JS gives
/// (`pond.updateSubscription`): absent ones stay; the JS layer passes a
/// `null` (remove) as `maxDeliveries` 0, `deadLetterTopic` "" and
/// `retryBackoffMs` [0, 0].
pub fn settings_update(
    ack_timeout_ms: Option<f64>,
    max_deliveries: Option<f64>,
    dead_letter_topic: Option<String>,
    retry_backoff_ms: Option<&[f64]>,
) -> Result<logpond::SettingsUpdate> {
    Ok(logpond::SettingsUpdate::from_options(
        ack_timeout_ms.map(|ms| to_i64("ackTimeoutMs", ms)).transpose()?,
        max_deliveries.map(|m| to_u32("maxDeliveries", m)).transpose()?,
        dead_letter_topic,
        retry_backoff_ms.map(backoff).transpose()?,
    ))
}

/// A subscription's settings as the JSON the JS layer parses: `{
/// ackTimeoutMs, maxDeliveries, deadLetterTopic, retryBackoffMs }` (`null`
/// for none; the backoff as `[initialMs, maxMs]`).
pub fn settings_json(s: &logpond::SubscriptionSettings) -> serde_json::Value {
    serde_json::json!({
        "ackTimeoutMs": s.ack_timeout_ms, "maxDeliveries": s.max_deliveries,
        "deadLetterTopic": s.dead_letter_topic,
        "retryBackoffMs": s.retry_backoff_ms.map(|(i, m)| [i, m]),
    })
}

/// A queue subscription described (`Pond::describe_subscription`), as the
/// JSON the JS layer parses: `{ topic, subscription, backlog, inFlight,
/// deadLettered, parked, expired, oldestUnackedAgeMs, settings }`. Every
/// number is a safe JS integer, or the call fails.
pub fn subscription_json(i: &logpond::SubscriptionInfo) -> Result<String> {
    Ok(serde_json::json!({
        "topic": i.topic, "subscription": i.subscription, "backlog": from_u64(i.backlog)?,
        "inFlight": from_u64(i.in_flight)?, "deadLettered": from_u64(i.dead_lettered)?,
        "parked": from_u64(i.parked)?, "expired": from_u64(i.expired)?,
        "oldestUnackedAgeMs": i.oldest_unacked_age_ms, "settings": settings_json(&i.settings),
    })
    .to_string())
}

/// Numbers per record in a packed send, before its headers:
/// `valueLength, keyLength, headerCount, partition, timestampMs`.
pub const NUMBERS_PER_RECORD: usize = 5;

/// Unpacks records a JS layer packed: per record, the numbers (`number(i)`
/// gives the i-th) hold `valueLength, keyLength, headerCount, partition,
/// timestampMs` (a length of -1 is null; a partition or timestamp of NaN is
/// absent), then per header `nameLength, valueLength`; `data` holds the
/// value, the key, then each header's name (utf-8) and value, in that
/// order. Anything malformed is an `InvalidArgument` error, never a panic.
pub fn unpack_new_records<'a>(
    number: impl Fn(usize) -> Option<f64>,
    data: &'a [u8],
    count: usize,
) -> Result<Vec<NewRecord<'a>>> {
    let malformed = || invalid("malformed packed records");
    let number = |i: usize| number(i).ok_or_else(malformed);
    let mut records = Vec::with_capacity(count.min(data.len() + 1));
    let (mut m, mut d) = (0usize, 0usize);
    let mut take = |len: f64| -> Result<Option<&'a [u8]>> {
        if len == -1.0 {
            return Ok(None);
        }
        let len = to_usize("length", len)?;
        let end = d.checked_add(len).ok_or_else(malformed)?;
        let bytes = data.get(d..end).ok_or_else(malformed)?;
        d = end;
        Ok(Some(bytes))
    };
    for _ in 0..count {
        let (value_len, key_len, header_count) = (number(m)?, number(m + 1)?, number(m + 2)?);
        let (partition, ts) = (number(m + 3)?, number(m + 4)?);
        m += NUMBERS_PER_RECORD;
        let value = take(value_len)?;
        let key = take(key_len)?;
        let header_count = to_usize("headerCount", header_count)?;
        let mut headers = Vec::with_capacity(header_count.min(1024));
        for _ in 0..header_count {
            let (name_len, value_len) = (number(m)?, number(m + 1)?);
            m += 2;
            let name = take(name_len)?.ok_or_else(malformed)?;
            let name = std::str::from_utf8(name).map_err(|_| invalid("a header name is not valid utf-8"))?;
            let value = take(value_len)?.ok_or_else(malformed)?;
            headers.push((name, value));
        }
        records.push(NewRecord {
            key,
            value,
            headers,
            partition: if partition.is_nan() { None } else { Some(to_u32("partition", partition)?) },
            timestamp_ms: if ts.is_nan() { None } else { Some(to_i64("timestampMs", ts)?) },
            delay_ms: None,
            ttl_ms: None,
        });
    }
    Ok(records)
}

/// Numbers before the records' in a packed send: `slots, topicLength,
/// count, delayMs, ttlMs` (`slots`: the capacity of the numbers' part when
/// numbers and bytes travel in one buffer, as from Node; `delayMs` and
/// `ttlMs` apply to every record, NaN: none).
pub const SEND_HEADER: usize = 5;

/// Numbers per sent record written back: `partition, offset, timestampMs`.
pub const NUMBERS_PER_SENT: usize = 3;

/// A packed send: the numbers start with [`SEND_HEADER`]'s, then each
/// record's (see [`unpack_new_records`]); the bytes start with the topic
/// name (utf-8, `topicLength` bytes), then each record's. Returns the topic
/// and the records.
pub fn unpack_send<'a>(
    number: impl Fn(usize) -> Option<f64>,
    bytes: &'a [u8],
) -> Result<(&'a str, Vec<NewRecord<'a>>)> {
    let malformed = || invalid("malformed packed records");
    let topic_len = to_usize("topicLength", number(1).ok_or_else(malformed)?)?;
    let count = to_usize("count", number(2).ok_or_else(malformed)?)?;
    let (topic, data) = bytes.split_at_checked(topic_len).ok_or_else(malformed)?;
    let topic = std::str::from_utf8(topic).map_err(|_| invalid("the topic name is not valid utf-8"))?;
    let mut records = unpack_new_records(|i| number(SEND_HEADER + i), data, count)?;
    let millis = |what: &str, i: usize| -> Result<Option<i64>> {
        let v = number(i).ok_or_else(malformed)?;
        if v.is_nan() {
            Ok(None)
        } else {
            to_i64(what, v).map(Some)
        }
    };
    let (delay_ms, ttl_ms) = (millis("delayMs", 3)?, millis("ttlMs", 4)?);
    if delay_ms.is_some() || ttl_ms.is_some() {
        for r in &mut records {
            r.delay_ms = delay_ms;
            r.ttl_ms = ttl_ms;
        }
    }
    Ok((topic, records))
}

/// Hands the numbers written back for sent records to `put`
/// ([`NUMBERS_PER_SENT`] per record).
pub fn sent_numbers(sent: &[RecordMetadata], mut put: impl FnMut(f64)) -> Result<()> {
    for md in sent {
        put(f64::from(md.partition));
        put(from_u64(md.offset)?);
        put(md.timestamp_ms as f64);
    }
    Ok(())
}

/// Records packed for the JS layer, which turns them into objects.
///
/// `numbers` holds per record the caller's prefix (none for a read; the
/// topic's index among the consumer's topics for a poll; the delivery count
/// and lease id for a receive), then `partition, offset, timestampMs,
/// keyLength, valueLength, headerCount` (a length of -1 means null), then
/// per header `nameLength, valueLength`. `data` holds, per record, the key
/// bytes, the value bytes, then each header's name (utf-8) and value bytes.
#[derive(Debug, Default)]
pub struct Packed {
    pub numbers: Vec<f64>,
    pub data: Vec<u8>,
}

/// How many numbers records take (with `prefix` numbers each), and their
/// bytes, copied.
pub fn pack_data<'r>(records: impl Iterator<Item = &'r Record> + Clone, prefix: usize) -> (usize, Vec<u8>) {
    let (mut numbers_len, mut data_len) = (0, 0);
    for r in records.clone() {
        numbers_len += prefix + 6 + 2 * r.headers.len();
        data_len += r.key.as_ref().map_or(0, |k| k.len()) + r.value.as_ref().map_or(0, |v| v.len());
        data_len += r.headers.iter().map(|(n, v)| n.len() + v.len()).sum::<usize>();
    }
    let mut data = Vec::with_capacity(data_len);
    for r in records {
        for b in [r.key.as_deref(), r.value.as_deref()].into_iter().flatten() {
            data.extend_from_slice(b);
        }
        for (name, value) in &r.headers {
            data.extend_from_slice(name.as_bytes());
            data.extend_from_slice(value);
        }
    }
    (numbers_len, data)
}

/// Hands one record's numbers (after any prefix) to `put`.
pub fn record_numbers(r: &Record, put: &mut impl FnMut(f64)) -> Result<()> {
    let len = |b: Option<&[u8]>| b.map_or(-1.0, |b| b.len() as f64);
    put(f64::from(r.partition));
    put(from_u64(r.offset)?);
    put(r.timestamp_ms as f64);
    put(len(r.key.as_deref()));
    put(len(r.value.as_deref()));
    put(r.headers.len() as f64);
    for (name, value) in &r.headers {
        put(name.len() as f64);
        put(value.len() as f64);
    }
    Ok(())
}

/// Packs `items` (records, or deliveries holding one), each record's
/// numbers after the `P` numbers `prefix` gives its item.
pub fn pack<T, const P: usize>(
    items: &[T],
    record: impl Fn(&T) -> &Record,
    mut prefix: impl FnMut(&T) -> [f64; P],
) -> Result<Packed> {
    let (numbers_len, data) = pack_data(items.iter().map(&record), P);
    let mut numbers = Vec::with_capacity(numbers_len);
    let mut put = |v: f64| numbers.push(v);
    for item in items {
        prefix(item).into_iter().for_each(&mut put);
        record_numbers(record(item), &mut put)?;
    }
    Ok(Packed { numbers, data })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_checked_both_ways() {
        assert_eq!(to_u64("offset", 42.0).ok(), Some(42));
        for bad in [-1.0, 1.5, f64::NAN, f64::INFINITY, 2f64.powi(53)] {
            assert!(matches!(to_u64("offset", bad), Err(Error::InvalidArgument(_))), "{bad}");
        }
        assert_eq!(to_u64("offset", MAX_SAFE_INTEGER as f64).ok(), Some(MAX_SAFE_INTEGER));
        assert_eq!(to_i64("ms", -5.0).ok(), Some(-5));
        assert!(to_u32("partition", 4_294_967_296.0).is_err());
        assert_eq!(from_u64(MAX_SAFE_INTEGER).ok(), Some(MAX_SAFE_INTEGER as f64));
        assert!(from_u64(MAX_SAFE_INTEGER + 1).is_err());
    }

    #[test]
    fn packed_records_unpack_and_garbage_is_an_error() {
        let meta = [2.0, 1.0, 1.0, f64::NAN, 7.0, 1.0, 1.0, -1.0, -1.0, 0.0, 3.0, f64::NAN];
        let data = b"vkhxv";
        let at = |i: usize| meta.get(i).copied();
        let records = unpack_new_records(at, data, 2).unwrap();
        assert_eq!(records[0].value, Some(&b"vk"[..]));
        assert_eq!(
            (records[0].key, records[0].timestamp_ms, records[0].partition),
            (Some(&b"h"[..]), Some(7), None)
        );
        assert_eq!(records[0].headers, vec![("x", &b"v"[..])]);
        assert_eq!((records[1].value, records[1].key, records[1].partition), (None, None, Some(3)));
        for bad in [
            vec![9.0, -1.0, 0.0, f64::NAN, f64::NAN],
            vec![-2.0, -1.0, 0.0, f64::NAN, f64::NAN],
            vec![0.5, -1.0, 0.0, f64::NAN, f64::NAN],
            vec![-1.0, -1.0, 1e300, f64::NAN, f64::NAN],
            vec![-1.0, -1.0, 0.0, -1.0, f64::NAN],
            vec![-1.0, -1.0],
        ] {
            assert!(unpack_new_records(|i| bad.get(i).copied(), data, 1).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn sends_unpack_and_records_pack_for_js() {
        let numbers = [0.0, 1.0, 1.0, f64::NAN, f64::NAN, 1.0, -1.0, 0.0, f64::NAN, f64::NAN];
        let (topic, records) = unpack_send(|i| numbers.get(i).copied(), b"tv").unwrap();
        assert_eq!((topic, records.len(), records[0].value), ("t", 1, Some(&b"v"[..])));
        assert_eq!((records[0].delay_ms, records[0].ttl_ms), (None, None));
        assert!(unpack_send(|i| numbers.get(i).copied(), b"").is_err());
        assert!(unpack_send(|i| [0.0, 1.0, 1.0].get(i).copied(), &[0xff, b'v']).is_err());
        // A send's delayMs and ttlMs apply to every record; a fraction is refused.
        let mut scheduled = numbers;
        (scheduled[3], scheduled[4]) = (500.0, 60_000.0);
        let (_, records) = unpack_send(|i| scheduled.get(i).copied(), b"tv").unwrap();
        assert_eq!((records[0].delay_ms, records[0].ttl_ms), (Some(500), Some(60_000)));
        scheduled[3] = 0.5;
        assert!(unpack_send(|i| scheduled.get(i).copied(), b"tv").is_err());
        let record = Record {
            topic: "t".into(),
            partition: 3,
            offset: 7,
            timestamp_ms: 9,
            key: None,
            value: Some(b"v".to_vec().into()),
            headers: vec![("h".to_string(), b"x".to_vec().into())],
        };
        let packed = pack(std::slice::from_ref(&record), |r| r, |_| [5.0]).unwrap();
        assert_eq!(packed.numbers, vec![5.0, 3.0, 7.0, 9.0, -1.0, 1.0, 1.0, 1.0, 1.0]);
        assert_eq!(packed.data, b"vhx");
    }
}
