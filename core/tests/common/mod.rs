//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod vectors;

use std::sync::Arc;

use logpond::{ManualClock, NewRecord, Pond, PondOptions, ReadLimits, Record, Storage};

pub fn manual(start_ms: i64) -> (ManualClock, PondOptions) {
    let clock = ManualClock::new(start_ms);
    (clock.clone(), PondOptions::with_clock(Arc::new(clock)))
}

pub fn reopen(storage: &Arc<dyn Storage>, options: &PondOptions) -> Pond {
    Pond::with_storage(storage.clone(), options.clone()).expect("reopen")
}

/// Every record of a partition from its start offset.
pub fn read_all(pond: &Pond, topic: &str, partition: u32) -> Vec<Record> {
    let (start, end) = pond.offsets(topic, partition).unwrap();
    let mut out = Vec::new();
    let mut next = start;
    while next < end {
        let batch = pond
            .read(topic, partition, next, ReadLimits { max_records: 1000, max_bytes: usize::MAX })
            .unwrap();
        match batch.last() {
            Some(last) => next = last.offset + 1,
            None => break,
        }
        out.extend(batch);
    }
    out
}

pub fn values(records: &[Record]) -> Vec<Vec<u8>> {
    records.iter().map(|r| r.value.as_deref().unwrap_or_default().to_vec()).collect()
}

pub fn value(v: &[u8]) -> NewRecord<'_> {
    NewRecord::value(v)
}

/// Opens handles for a model test: on one memory storage (one handle at a
/// time), or (`shared`) on one directory, where several handles may be
/// open at once. Keep the directory as long as the handles.
pub fn opener(shared: bool, options: PondOptions) -> (tempfile::TempDir, Box<dyn Fn() -> Arc<Pond>>) {
    let dir = tempfile::tempdir().unwrap();
    let storage: Arc<dyn Storage> = Arc::new(logpond::MemoryStorage::new());
    let path = dir.path().to_path_buf();
    let open: Box<dyn Fn() -> Arc<Pond>> = if shared {
        Box::new(move || Arc::new(Pond::open_with(&path, options.clone()).unwrap()))
    } else {
        Box::new(move || Arc::new(Pond::with_storage(storage.clone(), options.clone()).unwrap()))
    };
    (dir, open)
}
