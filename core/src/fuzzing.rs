//! Entry points for fuzzing (feature `fuzzing`; not a public API). Each
//! takes arbitrary bytes and returns nothing: malformed input must come
//! back as an error, never as a panic, an allocation out of proportion to
//! the input, or a record that differs from the one written. A panic here
//! is a finding: the checks below panic only when the core broke one of
//! those promises. The harnesses live in the `fuzz/` crate (docs/FUZZING.md).
//!
//! Targets whose format ends in a CRC-32 follow one convention: when the
//! first input byte is odd, the rest gets its correct CRC appended, so the
//! fuzzer reaches the decoder behind the checksum.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use serde::Deserialize;

use crate::groups::offsets::{self, OFFSETS_TOPIC};
use crate::log::batch::{decode_records, verify_frame, FrameHeader, Origin, FRAME_HEADER_LEN};
use crate::log::chunk_cache::ChunkCache;
use crate::log::index::{position_for_offset, position_for_time, SegmentIndex};
use crate::log::partition::{AppendContext, Partition};
use crate::log::topic::{is_internal, TopicMeta};
use crate::log::wire::{put_varint, put_zigzag, Wire};
use crate::queues::subscription::SubscriptionStore;
use crate::{
    Cleanup, ConsumerConfig, ManualClock, MemoryStorage, NewRecord, OffsetReset, Pond, PondOptions,
    QueueConfig, ReadLimits, Record, Storage, TopicConfig,
};

/// The clock of every pond opened here (the test vectors' writing time).
pub const CLOCK_MS: i64 = 1_700_000_000_000;

/// Bounds on the work one input may cause, so every run stays short.
const MAX_TOPICS: usize = 8;
const MAX_PARTITIONS: usize = 8;
const MAX_RECORDS: usize = 2_000;
const MAX_FRAMES: usize = 256;
/// Records of a frame stepped through one at a time (quadratic work).
const MAX_STEPS: usize = 64;

// ---------------------------------------------------------------- decoders

/// Batch frames back to back, as in a segment after its 8-byte header:
/// `FrameHeader::parse`, `verify_frame` and `decode_records`. The body is
/// decoded whether or not the CRC matches, so the fuzzer reaches it.
pub fn frames(data: &[u8]) {
    let origin = Origin { topic: Arc::from("fuzz"), partition: 3 };
    let mut rest = data;
    for _ in 0..MAX_FRAMES {
        let Ok(header) = FrameHeader::parse(rest) else { return };
        let len = header.frame_len();
        assert!(len >= FRAME_HEADER_LEN, "a parsed frame is shorter than its header");
        let Some(frame) = rest.get(..len) else { return };
        let _ = verify_frame(&header, frame);
        check_frame(&header, frame, &origin);
        rest = &rest[len..];
    }
}

/// Decodes one frame in full, then again one record at a time (through
/// resume points) and from each record's offset: all must agree.
fn check_frame(header: &FrameHeader, frame: &[u8], origin: &Origin) {
    let bytes = Bytes::copy_from_slice(frame);
    let mut all: Vec<Record> = Vec::new();
    let full = decode_records(header, &bytes, origin, 0, None, |r| {
        all.push(r);
        true
    });
    let mut previous = None;
    for r in &all {
        assert!(
            r.offset >= header.base_offset && r.offset <= header.last_offset(),
            "record offset {} outside its batch {}..={}",
            r.offset,
            header.base_offset,
            header.last_offset()
        );
        assert!(previous < Some(r.offset), "record offsets do not increase");
        assert_eq!((&*r.topic, r.partition), (&*origin.topic, origin.partition));
        previous = Some(r.offset);
    }
    let Ok(stopped) = full else { return };
    assert!(stopped.is_none(), "a full decode reported a resume point");
    assert_eq!(all.len(), header.record_count as usize, "a full decode returned too few records");

    let mut resume = None;
    let mut min = 0;
    for (i, want) in all.iter().enumerate().take(MAX_STEPS) {
        let mut got = None;
        let next = decode_records(header, &bytes, origin, min, resume, |r| {
            got = Some(r);
            false
        })
        .unwrap_or_else(|e| panic!("decoding again from offset {min} failed: {e}"));
        assert_eq!(got.as_ref(), Some(want), "a resumed decode returned another record");
        assert_eq!(next.is_some(), i + 1 < all.len(), "resume point after record {i}");
        resume = next;
        min = want.offset + 1;

        let mut first = None;
        decode_records(header, &bytes, origin, want.offset, None, |r| {
            first = Some(r);
            false
        })
        .unwrap_or_else(|e| panic!("decoding from offset {} failed: {e}", want.offset));
        assert_eq!(first.as_ref(), Some(want), "a decode from an offset started elsewhere");
    }
}

/// `data` without its first byte; with its CRC-32 appended when that byte
/// is odd.
fn with_crc(data: &[u8]) -> Cow<'_, [u8]> {
    match data.split_first() {
        Some((flag, rest)) if flag & 1 == 1 => {
            let mut v = rest.to_vec();
            v.extend_from_slice(&crc32fast::hash(rest).to_le_bytes());
            Cow::Owned(v)
        }
        Some((_, rest)) => Cow::Borrowed(rest),
        None => Cow::Borrowed(data),
    }
}

/// The segment index decoder (`SegmentIndex::decode`) and its lookups.
pub fn index(data: &[u8]) {
    let buf = with_crc(data);
    let Ok(index) = SegmentIndex::decode(&buf) else { return };
    // Every field is fixed-width, so a decoded index encodes to its bytes.
    assert!(index.encode() == *buf, "an index does not encode back to the bytes it came from");
    let entries = &index.entries;
    let mut probes = vec![0, 1, u64::MAX];
    for e in entries {
        let rel = u64::from(e.rel_offset);
        probes.extend([rel, rel + 1, rel.saturating_sub(1)]);
    }
    for rel in probes {
        let found = position_for_offset(entries, rel);
        let want = entries.iter().rev().find(|e| u64::from(e.rel_offset) <= rel).map(|e| e.position);
        assert_eq!(found, want, "position_for_offset({rel})");
    }
    let mut times = vec![i64::MIN, 0, i64::MAX];
    times.extend(entries.iter().flat_map(|e| [e.max_ts_before, e.max_ts_before.saturating_add(1)]));
    for ts in times {
        let found = position_for_time(entries, ts);
        let want = entries.iter().rev().find(|e| e.max_ts_before < ts).map(|e| e.position);
        assert_eq!(found, want, "position_for_time({ts})");
    }
}

/// The `__consumer_offsets` key and value decoders; the input is tried as
/// both.
pub fn offsets(data: &[u8]) {
    if let Some((group, topic, partition)) = offsets::decode_key(data) {
        let again = offsets::encode_key(&group, &topic, partition);
        assert_eq!(
            offsets::decode_key(&again),
            Some((group, topic, partition)),
            "an offsets key does not survive a round trip"
        );
    }
    if let Some(offset) = offsets::decode_value(data) {
        let mut commit = [0u8; 8];
        commit.copy_from_slice(&data[9..17]);
        let again = offsets::encode_value(offset, i64::from_le_bytes(commit));
        assert_eq!(&again[..], data, "an offsets value does not encode back to its bytes");
    }
}

/// The topic metadata decoder (`TopicMeta::decode`).
pub fn topic_meta(data: &[u8]) {
    let buf = with_crc(data);
    let Ok(meta) = TopicMeta::decode(&buf) else { return };
    let again = meta.encode().unwrap_or_else(|e| panic!("decoded metadata does not encode: {e}"));
    let back = TopicMeta::decode(&again).unwrap_or_else(|e| panic!("re-encoded metadata fails: {e}"));
    assert_eq!(back, meta, "topic metadata does not survive a round trip");
}

/// The hand-written varint reader (`wire.rs`) against postcard, whose
/// encoding it implements. The input is a list of operations: a selector
/// byte, then the bytes to decode.
pub fn wire(data: &[u8]) {
    let mut rest = data;
    while let Some((&op, tail)) = rest.split_first() {
        let after = match op % 6 {
            0 => agree::<u32>(tail, 0, |w| w.u32()).map(|(v, r)| {
                round_trip(tail, r, |out| put_varint(out, u64::from(v)), |w| w.u32() == Some(v));
                r
            }),
            1 => agree::<u64>(tail, 0, |w| w.u64()).map(|(v, r)| {
                round_trip(tail, r, |out| put_varint(out, v), |w| w.u64() == Some(v));
                r
            }),
            2 => agree::<i64>(tail, 0, |w| w.i64()).map(|(v, r)| {
                round_trip(tail, r, |out| put_zigzag(out, v), |w| w.i64() == Some(v));
                r
            }),
            3 => agree::<&[u8]>(tail, 0, |w| w.bytes()).map(|(_, r)| r),
            4 => agree::<&str>(tail, 0, |w| w.str()).map(|(_, r)| r),
            _ => agree::<Option<&[u8]>>(tail, 1, |w| w.opt_bytes()).map(|(_, r)| r),
        };
        let Some(after) = after else { return };
        rest = after;
    }
}

/// Decodes `buf` with the wire reader and with postcard; they must agree,
/// except that the wire reader accepts (and postcard refuses) a 10-byte
/// u64 varint whose last byte carries excess bits (docs/FORMAT.md).
fn agree<'a, T>(
    buf: &'a [u8],
    varint_at: usize,
    ours: impl FnOnce(&mut Wire<'a>) -> Option<T>,
) -> Option<(T, &'a [u8])>
where
    T: Deserialize<'a> + PartialEq + Debug,
{
    let mut w = Wire::new(buf);
    let mine = ours(&mut w).map(|v| (v, w.rest));
    let theirs = postcard::take_from_bytes::<T>(buf).ok();
    let overlong =
        buf.get(varint_at..varint_at + 10).is_some_and(|b| b[..9].iter().all(|x| x & 0x80 != 0) && b[9] > 1);
    match (&mine, theirs) {
        (Some((a, ra)), Some((b, rb))) => {
            assert_eq!(*a, b, "wire and postcard decode {buf:02x?} differently");
            assert_eq!(ra.len(), rb.len(), "wire and postcard consume {buf:02x?} differently");
        }
        (Some((a, _)), None) => {
            assert!(overlong, "wire accepts {buf:02x?} as {a:?}; postcard refuses it");
        }
        (None, Some((b, _))) => panic!("postcard accepts {buf:02x?} as {b:?}; wire refuses it"),
        (None, None) => {}
    }
    mine
}

/// The writer's encoding of a value the reader took from `buf` (leaving
/// `rest`) is no longer than the input's, and reads back as that value.
fn round_trip(
    buf: &[u8],
    rest: &[u8],
    encode: impl FnOnce(&mut Vec<u8>),
    same: impl Fn(&mut Wire<'_>) -> bool,
) {
    let mut out = Vec::new();
    encode(&mut out);
    assert!(out.len() <= buf.len() - rest.len(), "the shortest encoding is longer than the input's");
    assert!(same(&mut Wire::new(&out)), "a varint does not survive a round trip");
}

// ------------------------------------------------------- ponds over files

/// A record as written: what a read must give back at its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedRecord {
    pub timestamp_ms: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Vec<u8>)>,
}

impl ExpectedRecord {
    pub fn of(r: &Record) -> ExpectedRecord {
        ExpectedRecord {
            timestamp_ms: r.timestamp_ms,
            key: r.key.as_ref().map(|b| b.to_vec()),
            value: r.value.as_ref().map(|b| b.to_vec()),
            headers: r.headers.iter().map(|(n, v)| (n.clone(), v.to_vec())).collect(),
        }
    }
}

/// (topic, partition, offset)
pub type Place = (String, u32, u64);

/// A test vector: a pond's files and every record it was written with.
#[derive(Debug, Clone)]
pub struct Vector {
    pub name: String,
    pub files: Vec<(String, Vec<u8>)>,
    pub records: BTreeMap<Place, ExpectedRecord>,
}

fn storage_of(files: &[(String, Vec<u8>)]) -> MemoryStorage {
    let storage = MemoryStorage::new();
    for (name, data) in files {
        storage.put(name, data.clone());
    }
    storage
}

fn open(storage: &MemoryStorage) -> crate::Result<Arc<Pond>> {
    let options = PondOptions::with_clock(Arc::new(ManualClock::new(CLOCK_MS)));
    Pond::with_storage(Arc::new(storage.clone()), options).map(Arc::new)
}

/// Every record of every topic (internal ones included) of an intact pond.
pub fn pond_records(files: &[(String, Vec<u8>)]) -> crate::Result<BTreeMap<Place, ExpectedRecord>> {
    let storage = storage_of(files);
    let pond = open(&storage)?;
    let mut out = BTreeMap::new();
    for topic in topic_dirs(&storage) {
        if !pond.has_topic(&topic)? {
            continue;
        }
        for p in pond.describe(&topic)?.partitions {
            let mut next = p.start_offset;
            while next < p.end_offset {
                let batch = pond.read(&topic, p.partition, next, ReadLimits::default())?;
                let Some(last) = batch.last() else { break };
                next = last.offset + 1;
                for r in &batch {
                    out.insert((topic.clone(), r.partition, r.offset), ExpectedRecord::of(r));
                }
            }
        }
    }
    pond.close()?;
    Ok(out)
}

/// A record's key and value.
pub type KeyValue = (Option<Vec<u8>>, Option<Vec<u8>>);

/// The keys and values of the records in a segment file's frames (for
/// seeds); stops at the first frame that does not decode.
pub fn segment_records(segment: &[u8]) -> Vec<KeyValue> {
    let origin = Origin { topic: Arc::from("seed"), partition: 0 };
    let mut out = Vec::new();
    let mut rest = segment.get(8..).unwrap_or_default();
    while let Ok(header) = FrameHeader::parse(rest) {
        let Some(frame) = rest.get(..header.frame_len()) else { break };
        let decoded = decode_records(&header, &Bytes::copy_from_slice(frame), &origin, 0, None, |r| {
            out.push((r.key.map(|b| b.to_vec()), r.value.map(|b| b.to_vec())));
            true
        });
        if decoded.is_err() {
            break;
        }
        rest = &rest[header.frame_len()..];
    }
    out
}

/// The (first, last) offsets of the frames of a segment file whose
/// headers parse, back to back from its header, CRCs unchecked (for the
/// harness's filters of known findings).
pub fn segment_frame_ranges(segment: &[u8]) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut rest = segment.get(8..).unwrap_or_default();
    while let Ok(header) = FrameHeader::parse(rest) {
        out.push((header.base_offset, header.last_offset()));
        let Some(tail) = rest.get(header.frame_len()..) else { break };
        rest = tail;
    }
    out
}

/// The topic directories named by `topics/<t>/...` files.
fn topic_dirs(storage: &MemoryStorage) -> BTreeSet<String> {
    let names = storage.list("topics/").unwrap_or_default();
    names.iter().filter_map(|n| n["topics/".len()..].split_once('/')).map(|(t, _)| t.to_string()).collect()
}

/// What reads have shown so far: every later sighting of a place must
/// show the same record, and with a vector, the record it was written with.
struct Oracle<'a> {
    written: Option<&'a BTreeMap<Place, ExpectedRecord>>,
    /// Records appended during this run (they replace whatever recovery cut).
    appended: BTreeMap<Place, ExpectedRecord>,
    seen: BTreeMap<Place, ExpectedRecord>,
    /// Consumer groups named by `__consumer_offsets` records.
    groups: BTreeSet<String>,
}

impl<'a> Oracle<'a> {
    fn new(written: Option<&'a BTreeMap<Place, ExpectedRecord>>) -> Oracle<'a> {
        Oracle { written, appended: BTreeMap::new(), seen: BTreeMap::new(), groups: BTreeSet::new() }
    }

    fn check(&mut self, what: &str, r: &Record) {
        let place = (r.topic.to_string(), r.partition, r.offset);
        let got = ExpectedRecord::of(r);
        // Open itself may append tombstones to `__consumer_offsets` (it
        // forgets the committed offsets of topics that are gone), at
        // offsets recovery may have cut.
        let forgotten = place.0 == OFFSETS_TOPIC
            && r.value.is_none()
            && r.key.as_deref().and_then(offsets::decode_key).is_some();
        if let Some(want) = self.appended.get(&place) {
            assert!(*want == got, "{what} at {place:?} gave {got:?}; appended was {want:?}");
        } else if let (Some(written), false) = (self.written, forgotten) {
            match written.get(&place) {
                Some(want) => assert!(*want == got, "{what} at {place:?} gave {got:?}; written was {want:?}"),
                None => panic!("{what} gave a record at {place:?}, where none was written: {got:?}"),
            }
        }
        if let Some(before) = self.seen.get(&place) {
            assert!(*before == got, "{what} at {place:?} gave {got:?}; earlier reads gave {before:?}");
        } else {
            self.seen.insert(place, got);
        }
        if &*r.topic == OFFSETS_TOPIC && self.groups.len() < 4 {
            if let Some((group, _, _)) = r.key.as_deref().and_then(offsets::decode_key) {
                self.groups.insert(group);
            }
        }
    }
}

/// Opens a pond over `storage` and uses it the ways a recovering user
/// would: reads every partition (twice, around `maintain`), looks offsets
/// up by time, polls consumer groups, receives from every subscription,
/// appends and reads the append back, closes and opens again. Errors are
/// fine; panics and records that differ from what was written are not.
fn exercise(storage: &MemoryStorage, oracle: &mut Oracle<'_>) {
    let Ok(pond) = open(storage) else { return };
    let topics: Vec<String> = topic_dirs(storage)
        .into_iter()
        .filter(|t| pond.has_topic(t).unwrap_or(false))
        .take(MAX_TOPICS)
        .collect();
    let user: Vec<&str> = topics.iter().map(String::as_str).filter(|t| !is_internal(t)).collect();
    read_everything(&pond, &topics, oracle);
    look_up_times(&pond, &topics, oracle);
    poll_groups(&pond, &user, oracle);
    receive_queues(&pond, &user, oracle);
    append_and_read_back(&pond, &user, oracle);
    let _ = pond.maintain();
    read_everything(&pond, &topics, oracle);
    let closed = pond.close();
    drop(pond);
    let pond = match (closed, open(storage)) {
        (Ok(()), Ok(pond)) => pond,
        (Ok(()), Err(e)) => panic!("a pond that opened and closed cleanly does not open again: {e}"),
        (Err(_), _) => return,
    };
    read_everything(&pond, &topics, oracle);
    let _ = pond.close();
}

fn partitions(pond: &Pond, topic: &str) -> Vec<crate::PartitionInfo> {
    pond.describe(topic).map(|t| t.partitions).unwrap_or_default().into_iter().take(MAX_PARTITIONS).collect()
}

fn read_everything(pond: &Pond, topics: &[String], oracle: &mut Oracle<'_>) {
    for topic in topics {
        for p in partitions(pond, topic) {
            let mut next = p.start_offset;
            let mut count = 0;
            while next < p.end_offset && count < MAX_RECORDS {
                let limits = ReadLimits { max_records: 256, max_bytes: 1 << 20 };
                let Ok(batch) = pond.read(topic, p.partition, next, limits) else { break };
                let Some(last) = batch.last() else { break };
                for r in &batch {
                    assert!(r.offset >= next, "a read from {next} returned offset {}", r.offset);
                    assert!(
                        r.offset < p.end_offset,
                        "a read of {topic}/{} returned offset {}, at or past its end {}",
                        p.partition,
                        r.offset,
                        p.end_offset
                    );
                    assert_eq!((&*r.topic, r.partition), (topic.as_str(), p.partition), "a read's origin");
                    oracle.check("read", r);
                }
                count += batch.len();
                next = last.offset + 1;
            }
        }
    }
}

fn look_up_times(pond: &Pond, topics: &[String], oracle: &mut Oracle<'_>) {
    for topic in topics {
        for p in partitions(pond, topic) {
            for ts in [i64::MIN, 0, CLOCK_MS, CLOCK_MS + 10_000, i64::MAX] {
                let Ok(Some(offset)) = pond.offset_for_time(topic, p.partition, ts) else { continue };
                let limits = ReadLimits { max_records: 1, max_bytes: 1 };
                let Ok(found) = pond.read(topic, p.partition, offset, limits) else { continue };
                if let Some(r) = found.first() {
                    assert_eq!(r.offset, offset, "offset_for_time({ts}) named an offset a read skips");
                    assert!(r.timestamp_ms >= ts, "offset_for_time({ts}) found an older record");
                    oracle.check("offset_for_time", r);
                }
            }
        }
    }
}

fn poll_groups(pond: &Arc<Pond>, user: &[&str], oracle: &mut Oracle<'_>) {
    if user.is_empty() {
        return;
    }
    let mut groups = vec!["fuzz".to_string()];
    groups.extend(oracle.groups.iter().cloned());
    for group in groups {
        let config = ConsumerConfig {
            auto_offset_reset: OffsetReset::Earliest,
            auto_commit: false,
            ..ConsumerConfig::new(group, user)
        };
        let Ok(consumer) = pond.consumer(config) else { continue };
        for _ in 0..8 {
            match consumer.poll(256) {
                Ok(records) if !records.is_empty() => records.iter().for_each(|r| oracle.check("poll", r)),
                _ => break,
            }
        }
        for topic in user {
            for p in partitions(pond, topic) {
                let _ = consumer.committed(topic, p.partition);
            }
        }
        let _ = consumer.lag();
        let _ = consumer.close();
    }
}

fn receive_queues(pond: &Arc<Pond>, user: &[&str], oracle: &mut Oracle<'_>) {
    for topic in user {
        let Ok(subs) = pond.subscriptions(topic) else { continue };
        for sub in subs.into_iter().take(4) {
            let config = QueueConfig { max_in_flight: 1_000, ..QueueConfig::new(sub) };
            let Ok(queue) = pond.queue(topic, config) else { continue };
            for round in 0..2 {
                let Ok(deliveries) = queue.receive(64) else { break };
                for (i, d) in deliveries.iter().enumerate() {
                    assert_eq!(d.token.partition, d.record.partition, "a delivery's token");
                    assert_eq!(d.token.offset, d.record.offset, "a delivery's token");
                    oracle.check("receive", &d.record);
                    let _ =
                        if (i + round) % 2 == 0 { queue.ack(d.token) } else { queue.nack(d.token, Some(0)) };
                }
            }
            let _ = (queue.backlog(), queue.in_flight(), queue.parked());
            let _ = queue.close();
        }
    }
}

fn append_and_read_back(pond: &Pond, user: &[&str], oracle: &mut Oracle<'_>) {
    for topic in user {
        for p in partitions(pond, topic).into_iter().take(4) {
            let record = NewRecord::keyed(b"fuzz-key", b"fuzz-value")
                .with_header("fuzz", b"header")
                .with_partition(p.partition);
            let Ok(end) = pond.offsets(topic, p.partition).map(|(_, end)| end) else { continue };
            let Ok(md) = pond.send(topic, record) else { continue };
            assert_eq!(
                md.offset, end,
                "an append to {topic}/{} took another offset than the end",
                p.partition
            );
            let place = (topic.to_string(), p.partition, md.offset);
            let want = ExpectedRecord {
                timestamp_ms: CLOCK_MS,
                key: Some(b"fuzz-key".to_vec()),
                value: Some(b"fuzz-value".to_vec()),
                headers: vec![("fuzz".to_string(), b"header".to_vec())],
            };
            if let Some(before) = oracle.seen.get(&place) {
                panic!("an append took {place:?}, where reads showed a record: {before:?}");
            }
            oracle.appended.insert(place.clone(), want.clone());
            oracle.seen.insert(place.clone(), want);
            let limits = ReadLimits { max_records: 1, max_bytes: 1 };
            let read = pond.read(topic, p.partition, md.offset, limits);
            match read.as_deref() {
                Ok([r]) if r.offset == md.offset => oracle.check("read after append", r),
                other => panic!("an append at {place:?} does not read back: {other:?}"),
            }
        }
    }
}

/// A pond from arbitrary files. The input is a list of files, each a name
/// (a length byte, then the name) and contents (a u16 LE length, then the
/// bytes); see [`encode_files`]. A name that starts with `+` loses the `+`
/// and its file gets correct checksums (see [`fix_checksums`]), so the
/// fuzzer reaches what lies behind them.
pub fn open_pond(data: &[u8]) {
    exercise(&storage_of(&decode_files(data)), &mut Oracle::new(None));
}

/// The input format of [`open_pond`]; longer names and files are cut.
pub fn encode_files(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, data) in files {
        let name = &name.as_bytes()[..name.len().min(255)];
        let data = &data[..data.len().min(usize::from(u16::MAX))];
        out.push(name.len() as u8);
        out.extend_from_slice(name);
        out.extend_from_slice(&(data.len() as u16).to_le_bytes());
        out.extend_from_slice(data);
    }
    out
}

/// The files of an [`open_pond`] input.
pub fn decode_files(mut data: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    while let Some((&n, rest)) = data.split_first() {
        let Some(name) = rest.get(..usize::from(n)) else { break };
        let rest = &rest[usize::from(n)..];
        let Some(len) = rest.get(..2).map(|b| usize::from(u16::from_le_bytes([b[0], b[1]]))) else { break };
        let rest = &rest[2..];
        let body = &rest[..len.min(rest.len())];
        let name = String::from_utf8_lossy(name).into_owned();
        let mut body = body.to_vec();
        data = &rest[body.len()..];
        match name.strip_prefix('+') {
            Some(name) => {
                fix_checksums(name, &mut body);
                files.push((name.to_string(), body));
            }
            None => files.push((name, body)),
        }
    }
    files
}

/// Sets the checksums of a file: in a `.log`, the CRC of every frame
/// (back to back from the segment header, while the headers parse); in
/// any other file, its last 4 bytes, the CRC-32 of the bytes before them
/// (the layout of `pond.meta`, `topic.meta`, `log-start`, `.index` and
/// `snapshot`).
pub fn fix_checksums(name: &str, data: &mut [u8]) {
    if name.ends_with(".log") {
        let mut pos = 8;
        while let Some(Ok(header)) = data.get(pos..).map(FrameHeader::parse) {
            let len = header.frame_len();
            let Some(frame) = data.get_mut(pos..pos + len) else { break };
            let crc = crc32fast::hash(&frame[8..]);
            frame[4..8].copy_from_slice(&crc.to_le_bytes());
            pos += len;
        }
    } else if let Some(split) = data.len().checked_sub(4) {
        let (body, crc) = data.split_at_mut(split);
        crc.copy_from_slice(&crc32fast::hash(body).to_le_bytes());
    }
}

/// A pond with every kind of file, written once per process: a
/// partitioned topic with a `log-start`, a compacted topic with sealed
/// segments and indexes, committed group offsets, and a queue
/// subscription with a snapshot and a state log.
pub fn base_files() -> &'static [(String, Vec<u8>)] {
    static FILES: OnceLock<Vec<(String, Vec<u8>)>> = OnceLock::new();
    FILES.get_or_init(|| match write_base() {
        Ok(files) => files,
        Err(e) => panic!("writing the base pond failed: {e}"),
    })
}

fn write_base() -> crate::Result<Vec<(String, Vec<u8>)>> {
    let storage = MemoryStorage::new();
    let clock = ManualClock::new(CLOCK_MS - 100_000);
    let options = PondOptions::with_clock(Arc::new(clock.clone()));
    let pond = Arc::new(Pond::with_storage(Arc::new(storage.clone()), options)?);
    pond.create_topic("orders", TopicConfig { partitions: 2, segment_bytes: 300, ..TopicConfig::default() })?;
    for i in 0..24u32 {
        let key = format!("customer-{}", i % 5);
        let value = format!("order {i}");
        let r =
            NewRecord::keyed(key.as_bytes(), value.as_bytes()).with_header("n", b"1").with_header("n", b"2");
        pond.send("orders", r)?;
        clock.advance(1_000);
    }
    pond.delete_records("orders", 0, 3)?;
    let compact = TopicConfig { cleanup: Cleanup::Compact, segment_bytes: 200, ..TopicConfig::default() };
    pond.create_topic("status", compact)?;
    for i in 0..20u32 {
        let key = format!("k{}", i % 3);
        pond.send("status", NewRecord::keyed(key.as_bytes(), format!("v{i}").as_bytes()))?;
    }
    pond.send("status", NewRecord::tombstone(b"k1"))?;
    pond.maintain()?;
    pond.create_topic("jobs", TopicConfig::with_partitions(2))?;
    for i in 0..8u32 {
        pond.send("jobs", NewRecord::value(format!("job {i}").as_bytes()).with_partition(i % 2))?;
    }
    let queue = pond.queue("jobs", QueueConfig::new("workers"))?;
    let ds = queue.receive(5)?;
    if let [a, b, c, ..] = &ds[..] {
        queue.ack_many(&[a.token, c.token])?;
        queue.nack_with_reason(b.token, Some(0), "later")?;
    }
    queue.close()?;
    let config = ConsumerConfig { auto_commit: false, ..ConsumerConfig::new("billing", &["orders"]) };
    let consumer = pond.consumer(config)?;
    consumer.commit_offsets(&[("orders", 0, 5), ("orders", 1, 2)])?;
    consumer.close()?;
    pond.close()?;
    Ok(storage.snapshot())
}

/// The subscription of the base pond: topic `jobs` (2 partitions),
/// subscription `workers`.
const SUB_DIR: &str = "queues/jobs/workers";

/// The base pond's files whose names start with `prefix`.
fn base_storage(prefix: &str) -> MemoryStorage {
    let files: Vec<(String, Vec<u8>)> =
        base_files().iter().filter(|(n, _)| n.starts_with(prefix)).cloned().collect();
    storage_of(&files)
}

/// Loads the subscription (snapshot, then the state log replayed over it)
/// as a pond open does.
fn open_subscription(storage: &MemoryStorage) {
    let chunks = ChunkCache::default();
    let _ = SubscriptionStore::open(storage, "jobs", "workers", 2, &chunks, false);
}

/// A queue subscription's snapshot decoder (`decode_snapshot`, through
/// `SubscriptionStore::open`): the input (CRC convention) replaces the
/// base pond's snapshot.
pub fn queue_snapshot(data: &[u8]) {
    let storage = base_storage(SUB_DIR);
    storage.put(&format!("{SUB_DIR}/snapshot"), with_crc(data).into_owned());
    open_subscription(&storage);
}

/// The queue state-log event decoder (`decode_events`, and the replay of
/// the events, through `SubscriptionStore::open`): the input is the value
/// of one more state-log record, framed and checksummed as the pond
/// writes it.
pub fn queue_events(data: &[u8]) {
    let storage = base_storage(SUB_DIR);
    let origin = Origin { topic: Arc::from("__queue/jobs/workers"), partition: 0 };
    let Ok(mut log) = Partition::open(&storage, format!("{SUB_DIR}/log"), origin, false) else {
        panic!("the base pond's state log does not open");
    };
    let config = TopicConfig::default();
    let ctx = AppendContext { storage: &storage, config: &config, fsync: false, now_ms: CLOCK_MS };
    if log.append(&ctx, &[NewRecord::value(data)]).is_err() {
        return;
    }
    drop(log);
    open_subscription(&storage);
}

/// The small fixed files read on open. The first byte picks the file
/// (bits 1-2) and the CRC convention (bit 0): `pond.meta` (through a pond
/// open), the `log-start` of a partition with segments or of one without
/// (through `Partition::open`, then a read of the partition), or a
/// `topic.meta` (through a pond open, which checks it against its
/// directory and opens its partitions).
pub fn meta_files(data: &[u8]) {
    let Some(&flag) = data.first() else { return };
    let file = with_crc(data).into_owned();
    match (flag >> 1) & 3 {
        0 => {
            let storage = MemoryStorage::new();
            storage.put("pond.meta", file);
            if let Ok(pond) = open(&storage) {
                let _ = pond.close();
            }
        }
        which @ (1 | 2) => {
            let dir = "topics/orders/0";
            let storage = if which == 1 { base_storage(&format!("{dir}/")) } else { MemoryStorage::new() };
            storage.put(&format!("{dir}/log-start"), file);
            let origin = Origin { topic: Arc::from("orders"), partition: 0 };
            let Ok(partition) = Partition::open(&storage, dir.to_string(), origin, false) else { return };
            let (start, end) = (partition.start_offset(), partition.end_offset());
            let chunks = ChunkCache::default();
            let mut records = Vec::new();
            let limits = ReadLimits { max_records: MAX_RECORDS, max_bytes: 1 << 20 };
            if start <= end && partition.read(start, limits, &chunks, &mut records).is_ok() {
                for r in &records {
                    assert!(
                        r.offset >= start && r.offset < end,
                        "a read of {start}..{end} gave {}",
                        r.offset
                    );
                }
            }
        }
        _ => {
            let storage = MemoryStorage::new();
            if let Some((name, data)) = base_files().iter().find(|(n, _)| n == "pond.meta") {
                storage.put(name, data.clone());
            }
            storage.put("topics/orders/topic.meta", file);
            if let Ok(pond) = open(&storage) {
                let _ = pond.describe("orders");
                let _ = pond.close();
            }
        }
    }
}

// ------------------------------------------------------------ recovery

/// Open and recovery over damaged files of a valid pond. The first byte
/// picks the vector; the rest is a list of damages, each an operation
/// byte, a file selector byte, a u16 LE position and the operation's
/// arguments. Recovery may lose records (and then appends reuse their
/// offsets), but a read must never give a record that differs from the
/// one written at that place.
pub fn recovery(vectors: &[Vector], data: &[u8]) {
    recovery_reads(vectors, data);
}

/// [`recovery`], returning how many places reads showed a record at (for
/// checking the harness itself).
pub fn recovery_reads(vectors: &[Vector], data: &[u8]) -> usize {
    let Some((&which, mut ops)) = data.split_first() else { return 0 };
    if vectors.is_empty() {
        return 0;
    }
    let vector = &vectors[usize::from(which) % vectors.len()];
    let mut files = vector.files.clone();
    for _ in 0..16 {
        match damage(&mut files, ops) {
            Some(rest) => ops = rest,
            None => break,
        }
    }
    let mut oracle = Oracle::new(Some(&vector.records));
    exercise(&storage_of(&files), &mut oracle);
    oracle.seen.len()
}

/// Applies one damage; returns the rest of the input, or `None` at its end.
fn damage<'a>(files: &mut Vec<(String, Vec<u8>)>, ops: &'a [u8]) -> Option<&'a [u8]> {
    let [op, file, p0, p1, rest @ ..] = ops else { return None };
    if files.is_empty() {
        return None;
    }
    let i = usize::from(*file) % files.len();
    let data = &mut files[i].1;
    let pos = usize::from(u16::from_le_bytes([*p0, *p1])) % (data.len() + 1);
    let take_len = |rest: &'a [u8]| -> Option<(usize, &'a [u8])> {
        let (&n, rest) = rest.split_first()?;
        Some((usize::from(n % 65), rest))
    };
    match op % 8 {
        0 => {
            let (&bit, rest) = rest.split_first()?;
            if let Some(b) = data.get_mut(pos) {
                *b ^= 1 << (bit % 8);
            }
            Some(rest)
        }
        1 => {
            let (n, rest) = take_len(rest)?;
            let bytes = rest.get(..n)?;
            let end = (pos + n).min(data.len());
            data[pos..end].copy_from_slice(&bytes[..end - pos]);
            Some(&rest[n..])
        }
        2 => {
            data.truncate(pos);
            Some(rest)
        }
        3 => {
            files.remove(i);
            Some(rest)
        }
        4 => {
            let (n, rest) = take_len(rest)?;
            let end = (pos + n).min(data.len());
            data[pos..end].fill(0);
            Some(rest)
        }
        5 => {
            let (n, rest) = take_len(rest)?;
            let bytes = rest.get(..n)?;
            data.splice(pos..pos, bytes.iter().copied());
            Some(&rest[n..])
        }
        6 => {
            // Copies a range of the file to another place in it.
            let (n, rest) = take_len(rest)?;
            let [d0, d1, rest @ ..] = rest else { return None };
            let end = (pos + n).min(data.len());
            let chunk = data[pos..end].to_vec();
            let dst = usize::from(u16::from_le_bytes([*d0, *d1])) % (data.len() + 1);
            data.splice(dst..dst, chunk);
            Some(rest)
        }
        _ => {
            let (n, rest) = take_len(rest)?;
            data.extend(std::iter::repeat_n(0u8, n));
            Some(rest)
        }
    }
}
