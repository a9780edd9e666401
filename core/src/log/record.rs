//! Records as producers hand them in and as readers get them back.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;

/// A record to append. Borrowed, so a binding can hand in its language's
/// buffers without copying them first (encoding copies once, into the batch).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewRecord<'a> {
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    /// Ordered; names may repeat.
    pub headers: Vec<(&'a str, &'a [u8])>,
    /// Epoch milliseconds (>= 0); `None` takes the pond clock's time.
    pub timestamp_ms: Option<i64>,
    /// An explicit partition; `None` lets the partitioner choose.
    pub partition: Option<u32>,
    /// Queues deliver it no earlier than this long after it is appended
    /// (stored as the header [`schedule_headers::DELIVER_AT`]).
    pub delay_ms: Option<i64>,
    /// Queues never deliver it later than this long after it is appended
    /// (stored as the header [`schedule_headers::EXPIRES_AT`]).
    pub ttl_ms: Option<i64>,
}

impl<'a> NewRecord<'a> {
    /// A record with only a value.
    pub fn value(value: &'a [u8]) -> NewRecord<'a> {
        NewRecord { value: Some(value), ..NewRecord::default() }
    }

    /// A record with a key and a value.
    pub fn keyed(key: &'a [u8], value: &'a [u8]) -> NewRecord<'a> {
        NewRecord { key: Some(key), value: Some(value), ..NewRecord::default() }
    }

    /// A tombstone: a key with no value (deletes the key in a compacted topic).
    pub fn tombstone(key: &'a [u8]) -> NewRecord<'a> {
        NewRecord { key: Some(key), ..NewRecord::default() }
    }

    pub fn with_header(mut self, name: &'a str, value: &'a [u8]) -> NewRecord<'a> {
        self.headers.push((name, value));
        self
    }

    pub fn with_timestamp(mut self, timestamp_ms: i64) -> NewRecord<'a> {
        self.timestamp_ms = Some(timestamp_ms);
        self
    }

    pub fn with_partition(mut self, partition: u32) -> NewRecord<'a> {
        self.partition = Some(partition);
        self
    }

    pub fn with_delay(mut self, delay_ms: i64) -> NewRecord<'a> {
        self.delay_ms = Some(delay_ms);
        self
    }

    pub fn with_ttl(mut self, ttl_ms: i64) -> NewRecord<'a> {
        self.ttl_ms = Some(ttl_ms);
        self
    }

    /// The schedule headers this record is stored with, appended at `now_ms`.
    pub(crate) fn schedule_headers(&self, now_ms: i64) -> impl Iterator<Item = (&'static str, i64)> {
        let deliver_at = self.delay_ms.map(|d| (schedule_headers::DELIVER_AT, now_ms.saturating_add(d)));
        let expires_at = self.ttl_ms.map(|t| (schedule_headers::EXPIRES_AT, now_ms.saturating_add(t)));
        deliver_at.into_iter().chain(expires_at)
    }

    /// The bytes this record counts against `max_record_bytes`: key and
    /// value, plus every header as stored: its name and value with their
    /// length prefixes. (Without the prefixes, millions of empty headers
    /// would count as nothing.) The schedule headers a `delay` or `ttl`
    /// adds (at most 82 bytes) are the pond's, and do not count.
    pub fn size(&self) -> usize {
        self.key.map_or(0, <[u8]>::len)
            + self.value.map_or(0, <[u8]>::len)
            + self.headers.iter().map(|(n, v)| header_size(n.len(), v.len())).sum::<usize>()
    }
}

/// The headers a record sent with a `delay` or `ttl` carries: the times
/// (epoch ms of the pond's clock, decimal) from which a queue may deliver
/// it and after which it never does. Consumer groups ignore them.
pub mod schedule_headers {
    pub const DELIVER_AT: &str = "logpond.deliver_at";
    pub const EXPIRES_AT: &str = "logpond.expires_at";

    pub fn is_schedule(name: &str) -> bool {
        name == DELIVER_AT || name == EXPIRES_AT
    }
}

/// When queues may deliver a record (see [`schedule_headers`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Schedule {
    pub deliver_at_ms: Option<i64>,
    pub expires_at_ms: Option<i64>,
}

/// The stored size of one header: name and value, each with its varint
/// length prefix.
pub(crate) fn header_size(name_len: usize, value_len: usize) -> usize {
    varint_len(name_len) + name_len + varint_len(value_len) + value_len
}

fn varint_len(n: usize) -> usize {
    let bits = usize::BITS - (n | 1).leading_zeros();
    bits.div_ceil(7) as usize
}

/// A stored record, as reads, consumers and queues return it. Key, value and
/// header values share the buffer they were read into (cheap to clone).
#[derive(Clone, PartialEq, Eq)]
pub struct Record {
    pub topic: Arc<str>,
    pub partition: u32,
    pub offset: u64,
    pub timestamp_ms: i64,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<(String, Bytes)>,
}

impl Record {
    /// The same record as a [`NewRecord`] (for copying it elsewhere), keeping
    /// its key, value, headers and timestamp.
    pub fn to_new_record(&self) -> NewRecord<'_> {
        NewRecord {
            key: self.key.as_deref(),
            value: self.value.as_deref(),
            headers: self.headers.iter().map(|(n, v)| (n.as_str(), v.as_ref())).collect(),
            timestamp_ms: Some(self.timestamp_ms),
            partition: None,
            delay_ms: None,
            ttl_ms: None,
        }
    }

    /// Its schedule headers' times (a malformed one is ignored).
    pub fn schedule(&self) -> Schedule {
        let mut schedule = Schedule::default();
        if self.headers.is_empty() {
            return schedule;
        }
        let time = |v: &Bytes| std::str::from_utf8(v).ok().and_then(|s| s.parse::<i64>().ok());
        for (name, value) in &self.headers {
            match name.as_str() {
                schedule_headers::DELIVER_AT => schedule.deliver_at_ms = time(value),
                schedule_headers::EXPIRES_AT => schedule.expires_at_ms = time(value),
                _ => {}
            }
        }
        schedule
    }
}

impl fmt::Debug for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Record")
            .field("topic", &self.topic)
            .field("partition", &self.partition)
            .field("offset", &self.offset)
            .field("timestamp_ms", &self.timestamp_ms)
            .field("key", &self.key)
            .field("value", &self.value)
            .field("headers", &self.headers)
            .finish()
    }
}

/// Where an appended record landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordMetadata {
    pub topic: Arc<str>,
    pub partition: u32,
    pub offset: u64,
    pub timestamp_ms: i64,
}
