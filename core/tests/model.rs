//! Model-based tests: random sequences of appends, reads, deletes, retention
//! and reopens against a tiny in-memory model of the log, on both backends.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::{manual, read_all};
use logpond::{
    Error, FileStorage, MemoryStorage, NewRecord, Pond, PondOptions, ReadLimits, Storage, TopicConfig,
};
use proptest::prelude::*;

const PARTITIONS: u32 = 2;

#[derive(Debug, Clone)]
enum Op {
    /// Records of one call: (key, value length, explicit partition).
    Append(Vec<(Option<u8>, usize, Option<u32>)>),
    Read {
        partition: u32,
        at: u8,
        max: usize,
    },
    DeleteBefore {
        partition: u32,
        at: u8,
    },
    Advance(i64),
    Maintain,
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    let record = (proptest::option::of(0u8..6), 0usize..40, proptest::option::of(0..PARTITIONS));
    prop_oneof![
        6 => proptest::collection::vec(record, 1..6).prop_map(Op::Append),
        3 => (0..PARTITIONS, any::<u8>(), 1usize..20).prop_map(|(partition, at, max)| Op::Read { partition, at, max }),
        1 => (0..PARTITIONS, any::<u8>()).prop_map(|(partition, at)| Op::DeleteBefore { partition, at }),
        2 => (0i64..5_000).prop_map(Op::Advance),
        1 => Just(Op::Maintain),
        1 => Just(Op::Reopen),
    ]
}

#[derive(Debug, Clone, PartialEq)]
struct ModelRecord {
    offset: u64,
    key: Option<Vec<u8>>,
    value: Vec<u8>,
    timestamp_ms: i64,
}

/// The reference: every record ever appended, and the start offsets that
/// deletes asked for. Retention may drop a prefix beyond that: the model
/// checks what must survive instead of where segments end.
#[derive(Default)]
struct Model {
    partitions: BTreeMap<u32, Vec<ModelRecord>>,
    asked_start: BTreeMap<u32, u64>,
    spread_seed: u64,
}

impl Model {
    fn end(&self, p: u32) -> u64 {
        self.partitions.get(&p).map_or(0, |v| v.len() as u64)
    }
}

struct Retention {
    ms: Option<i64>,
    records: Option<u64>,
}

fn check_partition(pond: &Pond, model: &Model, p: u32, now: i64, retention: &Retention) {
    let (start, end) = pond.offsets("t", p).unwrap();
    assert_eq!(end, model.end(p), "end offset of partition {p}");
    let asked = model.asked_start.get(&p).copied().unwrap_or(0);
    assert!(start >= asked, "start {start} below the deleted prefix {asked}");
    if retention.ms.is_none() && retention.records.is_none() {
        assert_eq!(start, asked.min(end), "only deletes move the start without retention");
    }
    let all = model.partitions.get(&p).cloned().unwrap_or_default();
    // Retention never removes what it must keep.
    if let Some(n) = retention.records {
        assert!(end - start >= n.min(end - asked), "records retention kept {}..{end}", start);
    }
    if let Some(ms) = retention.ms {
        if let Some(first_young) = all.iter().find(|r| r.offset >= asked && r.timestamp_ms >= now - ms) {
            assert!(start <= first_young.offset, "a record within the retention time was removed");
        }
    }
    let got = read_all(pond, "t", p);
    let expected: Vec<&ModelRecord> = all.iter().filter(|r| r.offset >= start).collect();
    assert_eq!(got.len(), expected.len(), "partition {p}");
    for (g, e) in got.iter().zip(expected) {
        assert_eq!(g.offset, e.offset);
        assert_eq!(g.key.as_deref(), e.key.as_deref());
        assert_eq!(g.value.as_deref(), Some(&e.value[..]));
        assert_eq!(g.timestamp_ms, e.timestamp_ms);
    }
}

/// Runs `ops` against the model. With several storages (handles on one
/// directory), op `i` goes to handle `choices[i]`, and every handle must
/// agree with the model after every op.
fn run(
    ops: Vec<Op>,
    storages: Vec<Arc<dyn Storage>>,
    reopen_storage: impl Fn() -> Arc<dyn Storage>,
    choices: &[u8],
    retention: Retention,
) {
    let (clock, options) = manual(1_000_000);
    let open = |s: Arc<dyn Storage>| Pond::with_storage(s, options.clone()).unwrap();
    let mut ponds: Vec<Pond> = storages.into_iter().map(open).collect();
    ponds[0]
        .create_topic(
            "t",
            TopicConfig {
                partitions: PARTITIONS,
                segment_bytes: 300,
                retention_ms: retention.ms,
                retention_records: retention.records,
                ..TopicConfig::default()
            },
        )
        .unwrap();
    let mut model = Model::default();
    for (i, op) in ops.into_iter().enumerate() {
        let pond = &ponds[choices.get(i).map_or(0, |c| usize::from(*c) % ponds.len())];
        match op {
            Op::Append(specs) => {
                let values: Vec<Vec<u8>> = specs
                    .iter()
                    .map(|(_, len, _)| {
                        model.spread_seed += 1;
                        (0..*len).map(|i| (model.spread_seed as usize + i) as u8).collect()
                    })
                    .collect();
                let keys: Vec<Option<Vec<u8>>> =
                    specs.iter().map(|(k, _, _)| k.map(|k| vec![b'k', k])).collect();
                let records: Vec<NewRecord<'_>> = specs
                    .iter()
                    .zip(&values)
                    .zip(&keys)
                    .map(|(((_, _, part), v), k)| NewRecord {
                        key: k.as_deref(),
                        value: Some(v),
                        partition: *part,
                        ..NewRecord::default()
                    })
                    .collect();
                let metas = pond.send_many("t", &records).unwrap();
                let now = clock_now(&options);
                for ((md, v), k) in metas.iter().zip(values).zip(keys) {
                    let list = model.partitions.entry(md.partition).or_default();
                    assert_eq!(md.offset, list.len() as u64, "offsets are dense per partition");
                    list.push(ModelRecord { offset: md.offset, key: k, value: v, timestamp_ms: now });
                }
            }
            Op::Read { partition, at, max } => {
                let (start, end) = pond.offsets("t", partition).unwrap();
                let span = end - start + 1;
                let offset = start + u64::from(at) % span;
                let got = pond
                    .read("t", partition, offset, ReadLimits { max_records: max, max_bytes: usize::MAX })
                    .unwrap();
                let expected = (end - offset).min(max as u64);
                assert_eq!(got.len() as u64, expected);
                for (i, r) in got.iter().enumerate() {
                    let m = &model.partitions[&partition][(offset + i as u64) as usize];
                    assert_eq!(r.offset, m.offset);
                    assert_eq!(r.value.as_deref(), Some(&m.value[..]));
                }
                if start > 0 {
                    assert!(matches!(
                        pond.read("t", partition, start - 1, ReadLimits::default()),
                        Err(Error::OffsetOutOfRange(_))
                    ));
                }
            }
            Op::DeleteBefore { partition, at } => {
                let end = model.end(partition);
                let before = u64::from(at) % (end + 1);
                pond.delete_records("t", partition, before).unwrap();
                let asked = model.asked_start.entry(partition).or_default();
                *asked = (*asked).max(before);
            }
            Op::Advance(ms) => clock.advance(ms),
            Op::Maintain => pond.maintain().unwrap(),
            Op::Reopen => {
                let n = ponds.len();
                ponds.clear();
                ponds = (0..n).map(|_| open(reopen_storage())).collect();
            }
        }
        let now = clock_now(&options);
        for pond in &ponds {
            for p in 0..PARTITIONS {
                check_partition(pond, &model, p, now, &retention);
            }
        }
    }
}

fn clock_now(options: &PondOptions) -> i64 {
    options.clock.now_ms()
}

fn memory_run(ops: Vec<Op>, retention: Retention) {
    let storage = MemoryStorage::new();
    let again = storage.clone();
    run(ops, vec![Arc::new(storage)], move || Arc::new(again.clone()), &[], retention);
}

fn file_run(ops: Vec<Op>, retention: Retention) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let open = move || -> Arc<dyn Storage> { Arc::new(FileStorage::open(&path).unwrap()) };
    run(ops, vec![open()], open, &[], retention);
}

/// Two handles on one directory, the ops dealt between them by `choices`.
fn two_handle_run(ops: Vec<Op>, choices: Vec<u8>, retention: Retention) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let open = move || -> Arc<dyn Storage> { Arc::new(FileStorage::open(&path).unwrap()) };
    run(ops, vec![open(), open()], open, &choices, retention);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn memory_log_matches_model(ops in proptest::collection::vec(op(), 1..60)) {
        memory_run(ops, Retention { ms: None, records: None });
    }

    #[test]
    fn memory_log_with_time_retention_matches_model(ops in proptest::collection::vec(op(), 1..60)) {
        memory_run(ops, Retention { ms: Some(8_000), records: None });
    }

    #[test]
    fn memory_log_with_record_retention_matches_model(ops in proptest::collection::vec(op(), 1..60)) {
        memory_run(ops, Retention { ms: None, records: Some(12) });
    }

    #[test]
    fn file_log_matches_model(ops in proptest::collection::vec(op(), 1..40)) {
        file_run(ops, Retention { ms: None, records: None });
    }

    #[test]
    fn file_log_with_retention_matches_model(ops in proptest::collection::vec(op(), 1..40)) {
        file_run(ops, Retention { ms: Some(8_000), records: None });
    }

    #[test]
    fn two_handles_on_one_directory_match_the_model(
        ops in proptest::collection::vec(op(), 1..40),
        choices in proptest::collection::vec(0u8..2, 40),
    ) {
        two_handle_run(ops, choices, Retention { ms: None, records: Some(12) });
    }

    #[test]
    fn two_handles_with_time_retention_match_the_model(
        ops in proptest::collection::vec(op(), 1..40),
        choices in proptest::collection::vec(0u8..2, 40),
    ) {
        two_handle_run(ops, choices, Retention { ms: Some(8_000), records: None });
    }
}
