//! Recovery: a torn or damaged tail is cut back to the last valid batch;
//! reopen always succeeds and never hands out a corrupt record.

mod common;

use std::path::{Path, PathBuf};

use common::read_all;
use logpond::{NewRecord, Pond, TopicConfig};
use proptest::prelude::*;

fn segment_path(dir: &Path) -> PathBuf {
    dir.join("topics/t/0/00000000000000000000.log")
}

/// Writes `batches` batches of 3 records each; returns each batch's values
/// and the segment length after each batch.
fn write_pond(dir: &Path, batches: usize) -> (Vec<Vec<u8>>, Vec<u64>) {
    let pond = Pond::open(dir).unwrap();
    pond.create_topic("t", TopicConfig::default()).unwrap();
    let mut values = Vec::new();
    let mut lens = Vec::new();
    for b in 0..batches {
        let batch: Vec<Vec<u8>> =
            (0..3).map(|i| format!("batch {b} record {i} {}", "x".repeat(b)).into_bytes()).collect();
        let records: Vec<NewRecord<'_>> =
            batch.iter().map(|v| NewRecord::keyed(b"key", v).with_header("n", b"1")).collect();
        pond.send_many("t", &records).unwrap();
        values.extend(batch);
        lens.push(std::fs::metadata(segment_path(dir)).unwrap().len());
    }
    pond.close().unwrap();
    (values, lens)
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&entry.path(), &target);
        } else if entry.file_name() != "LOCK" {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Reopens, checks that what is readable is a prefix of `values`, and that
/// the pond still takes appends afterwards. Returns how many records survived.
fn check_prefix(dir: &Path, values: &[Vec<u8>]) -> usize {
    let pond = Pond::open(dir).expect("reopen always succeeds");
    let got = read_all(&pond, "t", 0);
    assert!(got.len() <= values.len());
    for (i, r) in got.iter().enumerate() {
        assert_eq!(r.offset, i as u64);
        assert_eq!(r.value.as_deref(), Some(&values[i][..]), "record {i} is intact");
        assert_eq!(r.key.as_deref(), Some(&b"key"[..]));
    }
    let md = pond.send("t", NewRecord::value(b"after recovery")).unwrap();
    assert_eq!(md.offset, got.len() as u64, "appends continue right after the valid prefix");
    pond.close().unwrap();
    let pond = Pond::open(dir).unwrap();
    assert_eq!(read_all(&pond, "t", 0).len(), got.len() + 1);
    got.len()
}

#[test]
fn truncation_at_every_byte_of_the_last_batch_keeps_the_rest() {
    let base = tempfile::tempdir().unwrap();
    let (values, lens) = write_pond(base.path(), 5);
    let (before, after) = (lens[3], lens[4]);
    for cut in before..after {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(base.path(), dir.path());
        let f = std::fs::OpenOptions::new().write(true).open(segment_path(dir.path())).unwrap();
        f.set_len(cut).unwrap();
        drop(f);
        assert_eq!(check_prefix(dir.path(), &values), 12, "cut at {cut}");
    }
}

#[test]
fn garbage_after_the_last_batch_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let (values, _) = write_pond(dir.path(), 3);
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().append(true).open(segment_path(dir.path())).unwrap();
    f.write_all(&[0xAB; 100]).unwrap();
    drop(f);
    assert_eq!(check_prefix(dir.path(), &values), 9);
}

/// Everything readable in partition 0, going past damaged stretches (as
/// `verify` finds them).
fn readable(pond: &Pond) -> Vec<logpond::Record> {
    let damage = pond.verify(&mut |_, _| {}).unwrap();
    let (_, end) = pond.offsets("t", 0).unwrap();
    let mut out = Vec::new();
    let mut at = 0;
    while at < end {
        match pond.read("t", 0, at, logpond::ReadLimits::default()) {
            Ok(records) if records.is_empty() => break,
            Ok(records) => {
                at = records.last().unwrap().offset + 1;
                out.extend(records);
            }
            Err(logpond::Error::Corruption(_)) => {
                let d = damage.iter().find(|d| d.offset == at).expect("verify names every damaged stretch");
                at = d.resume.unwrap_or(end);
            }
            Err(e) => panic!("{e}"),
        }
    }
    out
}

/// A flipped byte in the value of a batch in the middle: the batch is
/// damage that reads report, and every intact batch after it stays (a torn
/// write is only ever the last batch, so nothing after damage is cut).
#[test]
fn damage_in_the_middle_of_the_active_segment_cuts_nothing_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let (values, _) = write_pond(dir.path(), 6);
    let path = segment_path(dir.path());
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.windows(16).position(|w| w == b"batch 2 record 1").unwrap() + 3;
    bytes[at] ^= 0x20;
    std::fs::write(&path, &bytes).unwrap();
    let pond = Pond::open(dir.path()).unwrap();
    assert_eq!(pond.offsets("t", 0).unwrap(), (0, 18), "nothing cut");
    let damage = pond.verify(&mut |_, _| {}).unwrap();
    assert_eq!(damage.iter().map(|d| (d.offset, d.resume)).collect::<Vec<_>>(), [(6, Some(9))]);
    let got = readable(&pond);
    let offsets: Vec<u64> = got.iter().map(|r| r.offset).collect();
    assert_eq!(offsets, [0, 1, 2, 3, 4, 5, 9, 10, 11, 12, 13, 14, 15, 16, 17]);
    for r in &got {
        assert_eq!(r.value.as_deref(), Some(&values[r.offset as usize][..]));
    }
    assert_eq!(pond.send("t", NewRecord::value(b"next")).unwrap().offset, 18);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn flipped_bytes_never_yield_a_corrupt_record(flips in proptest::collection::vec((any::<u64>(), 1u8..=255), 1..4)) {
        let dir = tempfile::tempdir().unwrap();
        let (values, lens) = write_pond(dir.path(), 6);
        let len = *lens.last().unwrap();
        let path = segment_path(dir.path());
        let mut bytes = std::fs::read(&path).unwrap();
        for (at, mask) in &flips {
            bytes[(at % len) as usize] ^= mask;
        }
        std::fs::write(&path, &bytes).unwrap();
        let pond = Pond::open(dir.path()).expect("reopen always succeeds");
        let got = readable(&pond);
        for r in &got {
            prop_assert!((r.offset as usize) < values.len());
            prop_assert_eq!(r.value.as_deref(), Some(&values[r.offset as usize][..]), "record {} is intact", r.offset);
        }
        let first_flip = flips.iter().map(|(at, _)| at % len).min().unwrap();
        let whole_batches_before = lens.iter().filter(|l| **l <= first_flip).count() as u64;
        let before: Vec<u64> = got.iter().map(|r| r.offset).take_while(|o| *o < whole_batches_before * 3).collect();
        prop_assert_eq!(before, (0..whole_batches_before * 3).collect::<Vec<_>>(), "everything before the first damaged batch survives");
        // Appends continue at the end, and are there after a reopen.
        let (_, end) = pond.offsets("t", 0).unwrap();
        prop_assert_eq!(pond.send("t", NewRecord::value(b"after recovery")).unwrap().offset, end);
        pond.close().unwrap();
        let again = Pond::open(dir.path()).unwrap();
        let last = again.read("t", 0, end, logpond::ReadLimits::default()).unwrap();
        prop_assert_eq!(last.first().and_then(|r| r.value.as_deref()), Some(&b"after recovery"[..]));
    }
}
