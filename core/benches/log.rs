//! `make bench`: one line per case, `name: value unit`. Numbers are for
//! comparing runs on one machine (as ratios), not absolute truths.
//!
//! `cargo bench --bench log -- [--quick]`

use std::time::{Duration, Instant};

use std::sync::Arc;

use logpond::{
    ConsumerConfig, Durability, NewRecord, OffsetReset, Pond, PondOptions, QueueConfig, ReadLimits,
    TopicConfig,
};

struct Scale {
    records: u64,
    group_records: u64,
    single: u64,
    fsync_single: u64,
    reopen_bytes: u64,
}

fn rate(name: &str, n: u64, elapsed: Duration) {
    let per_sec = n as f64 / elapsed.as_secs_f64();
    let shown =
        if per_sec >= 1e6 { format!("{:.2}M", per_sec / 1e6) } else { format!("{:.1}k", per_sec / 1e3) };
    println!("{name}: {shown} records/s ({n} in {:.0} ms)", elapsed.as_secs_f64() * 1e3);
}

fn produce(pond: &Pond, n: u64, batch: usize) -> Duration {
    pond.create_topic("bench", TopicConfig::default()).unwrap();
    let value = [b'x'; 100];
    let records: Vec<NewRecord<'_>> = (0..batch).map(|_| NewRecord::value(&value)).collect();
    let start = Instant::now();
    let mut sent = 0;
    while sent < n {
        let take = (n - sent).min(batch as u64) as usize;
        if take == 1 {
            pond.send("bench", NewRecord::value(&value)).unwrap();
        } else {
            pond.send_many("bench", &records[..take]).unwrap();
        }
        sent += take as u64;
    }
    start.elapsed()
}

fn consume(pond: &Pond, n: u64) -> Duration {
    let start = Instant::now();
    let mut offset = 0;
    let limits = ReadLimits { max_records: 500, max_bytes: usize::MAX };
    while offset < n {
        let records = pond.read("bench", 0, offset, limits).unwrap();
        let Some(last) = records.last() else { break };
        offset = last.offset + 1;
        std::hint::black_box(&records);
    }
    assert_eq!(offset, n);
    start.elapsed()
}

fn file_pond(durability: Durability) -> (tempfile::TempDir, Pond) {
    let dir = tempfile::tempdir().unwrap();
    let pond = Pond::open_with(dir.path(), PondOptions { durability, ..PondOptions::default() }).unwrap();
    (dir, pond)
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let s = if quick {
        Scale {
            records: 200_000,
            group_records: 200_000,
            single: 50_000,
            fsync_single: 200,
            reopen_bytes: 64 << 20,
        }
    } else {
        Scale {
            records: 5_000_000,
            group_records: 10_000_000,
            single: 500_000,
            fsync_single: 2_000,
            reopen_bytes: 1 << 30,
        }
    };

    let pond = Pond::memory();
    rate("produce_single_100B_memory", s.single, produce(&pond, s.single, 1));
    let pond = Pond::memory();
    rate("produce_batched_100B_memory", s.records, produce(&pond, s.records, 1000));
    rate("consume_100B_memory", s.records, consume(&pond, s.records));
    drop(pond);

    let (_d, pond) = file_pond(Durability::Os);
    rate("produce_single_100B_file_os", s.single, produce(&pond, s.single, 1));
    let (_d, pond) = file_pond(Durability::Os);
    rate("produce_batched_100B_file_os", s.records, produce(&pond, s.records, 1000));
    rate("consume_100B_file_os", s.records, consume(&pond, s.records));
    drop(pond);

    let (_d, pond) = file_pond(Durability::Fsync);
    rate("produce_single_100B_file_fsync", s.fsync_single, produce(&pond, s.fsync_single, 1));
    let (_d, pond) = file_pond(Durability::Fsync);
    rate("produce_batched_100B_file_fsync", s.records / 10, produce(&pond, s.records / 10, 1000));
    drop(pond);

    // Consumer groups: poll 500 at a time vs raw sequential reads of the same topic.
    let (_d, pond) = file_pond(Durability::Os);
    let pond = Arc::new(pond);
    produce(&pond, s.group_records, 1000);
    let raw = consume(&pond, s.group_records);
    rate("consume_raw_read500_100B_file_os", s.group_records, raw);
    let config = ConsumerConfig {
        auto_offset_reset: OffsetReset::Earliest,
        auto_commit: false,
        ..ConsumerConfig::new("bench", &["bench"])
    };
    let consumer = pond.consumer(config).unwrap();
    let start = Instant::now();
    let mut got = 0u64;
    while got < s.group_records {
        let records = consumer.poll(500).unwrap();
        got += records.len() as u64;
        std::hint::black_box(&records);
    }
    let grouped = start.elapsed();
    rate("consume_group_poll500_100B_file_os", got, grouped);
    println!("group_vs_raw_consume: {:.2}x the raw time", grouped.as_secs_f64() / raw.as_secs_f64());
    consumer.seek_to_beginning().unwrap();
    let start = Instant::now();
    let mut iterated = 0u64;
    while let Some(r) = consumer.next_record().unwrap() {
        iterated += 1;
        std::hint::black_box(&r);
    }
    rate("consume_group_next_record_100B_file_os", iterated, start.elapsed());
    let commits = 10_000;
    let start = Instant::now();
    for i in 0..commits {
        consumer.commit_offsets(&[("bench", 0, i + 1)]).unwrap();
    }
    let per = start.elapsed() / commits as u32;
    println!("group_commit_file_os: {:.1} us per commit ({commits} commits)", per.as_secs_f64() * 1e6);
    drop(consumer);
    drop(pond);

    // Queues: receive 100 + ack them (one ack_many) until the topic is drained.
    for consumers in [1usize, 4] {
        let (_d, pond) = file_pond(Durability::Os);
        let pond = Arc::new(pond);
        produce(&pond, s.group_records / 5, 1000);
        let n = s.group_records / 5;
        let start = Instant::now();
        let settled: u64 = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..consumers)
                .map(|_| {
                    let q = pond
                        .queue("bench", QueueConfig { max_in_flight: 1000, ..QueueConfig::new("work") })
                        .unwrap();
                    scope.spawn(move || {
                        let mut done = 0u64;
                        loop {
                            let ds = q.receive(100).unwrap();
                            if ds.is_empty() {
                                return done;
                            }
                            let tokens: Vec<_> = ds.iter().map(|d| d.token).collect();
                            q.ack_many(&tokens).unwrap();
                            done += tokens.len() as u64;
                        }
                    })
                })
                .collect();
            workers.into_iter().map(|w| w.join().unwrap()).sum()
        });
        assert_eq!(settled, n);
        rate(&format!("queue_receive100_ack_{consumers}_consumers_file_os"), settled, start.elapsed());
    }

    // Reopen: a pond of `reopen_bytes` in one partition.
    let (dir, pond) = file_pond(Durability::Os);
    let per_record = 100 + 10;
    let n = s.reopen_bytes / per_record;
    produce(&pond, n, 1000);
    let bytes = pond.describe("bench").unwrap().partitions[0].bytes;
    pond.close().unwrap();
    drop(pond);
    let mut best = Duration::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        let pond = Pond::open(dir.path()).unwrap();
        best = best.min(start.elapsed());
        assert_eq!(pond.offsets("bench", 0).unwrap().1, n);
    }
    println!("reopen_{}MiB_file: {:.1} ms (best of 5, {} records)", bytes >> 20, best.as_secs_f64() * 1e3, n);
}
