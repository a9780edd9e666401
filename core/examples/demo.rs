//! `make demo`: a short end-to-end story on a file pond in a temporary
//! directory — keyed orders over three partitions, replay from an offset and
//! from a time, a compacted "latest status" topic, retention, a killed-and-
//! reopened pond.

use std::sync::Arc;

use logpond::{Cleanup, Clock, ManualClock, NewRecord, Pond, PondOptions, ReadLimits, TopicConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let clock = ManualClock::new(1_767_225_600_000); // 2026-01-01T00:00:00Z
    let options = PondOptions::with_clock(Arc::new(clock.clone()));
    println!("logpond demo: a pond in {}\n", dir.path().display());

    let pond = Pond::open_with(dir.path(), options.clone())?;
    pond.create_topic(
        "orders",
        TopicConfig {
            partitions: 3,
            retention_ms: Some(3_600_000),
            segment_bytes: 2048,
            ..TopicConfig::default()
        },
    )?;
    pond.create_topic(
        "order-status",
        TopicConfig { cleanup: Cleanup::Compact, segment_bytes: 1024, ..TopicConfig::default() },
    )?;

    // 1. Produce: orders keyed by customer, so one customer's orders stay in order.
    let customers = ["ada", "grace", "linus", "margaret", "ken", "barbara"];
    let mut sent = 0;
    for minute in 0..120 {
        let customer = customers[minute % customers.len()];
        let order =
            format!("{{\"order\": {minute}, \"customer\": \"{customer}\", \"total\": {}}}", 10 + minute % 37);
        let md = pond.send(
            "orders",
            NewRecord::keyed(customer.as_bytes(), order.as_bytes()).with_header("source", b"demo"),
        )?;
        let status = if minute % 3 == 0 { "shipped" } else { "paid" };
        pond.send(
            "order-status",
            NewRecord::keyed(format!("order-{}", minute % 10).as_bytes(), status.as_bytes()),
        )?;
        if minute < 3 {
            println!(
                "sent order {minute} for {customer:<8} -> partition {} offset {}",
                md.partition, md.offset
            );
        }
        sent += 1;
        clock.advance(60_000);
    }
    println!("... {sent} orders sent over two (simulated) hours\n");

    // 2. The log: each partition keeps its records in order, by key.
    println!("{:<10} {:>6} {:>6} {:>8}  customers", "partition", "start", "end", "bytes");
    for p in pond.describe("orders")?.partitions {
        let records = pond.read(
            "orders",
            p.partition,
            p.start_offset,
            ReadLimits { max_records: 1000, max_bytes: usize::MAX },
        )?;
        let mut who: Vec<String> = records
            .iter()
            .filter_map(|r| r.key.as_ref().map(|k| String::from_utf8_lossy(k).into_owned()))
            .collect();
        who.sort();
        who.dedup();
        println!(
            "{:<10} {:>6} {:>6} {:>8}  {}",
            p.partition,
            p.start_offset,
            p.end_offset,
            p.bytes,
            who.join(", ")
        );
    }

    // 3. Replay from a point in time.
    let an_hour_ago = clock.now_ms() - 3_600_000;
    let offset = pond.offset_for_time("orders", 0, an_hour_ago)?.unwrap_or(0);
    let replay = pond.read("orders", 0, offset, ReadLimits { max_records: 3, max_bytes: usize::MAX })?;
    println!("\nreplaying partition 0 from one hour ago (offset {offset}):");
    for r in &replay {
        println!(
            "  offset {:>3}  {}",
            r.offset,
            String::from_utf8_lossy(r.value.as_deref().unwrap_or_default())
        );
    }

    // 4. Retention: an hour later, whole old segments are gone.
    clock.advance(3_600_000 / 2);
    pond.maintain()?;
    println!("\nafter retention (1 h) ran:");
    for p in pond.describe("orders")?.partitions {
        println!(
            "  partition {} now starts at offset {} (end {})",
            p.partition, p.start_offset, p.end_offset
        );
    }

    // 5. Compaction: the status topic keeps the latest status per order.
    pond.maintain()?;
    let info = pond.describe("order-status")?;
    let statuses = pond.read(
        "order-status",
        0,
        info.partitions[0].start_offset,
        ReadLimits { max_records: 1000, max_bytes: usize::MAX },
    )?;
    println!(
        "\norder-status: {} updates written, {} records kept after compaction",
        info.partitions[0].end_offset,
        statuses.len()
    );

    // 6. Durability: drop the pond without closing (as a killed process would), reopen.
    let before = pond.describe("orders")?;
    drop(pond);
    let pond = Pond::open_with(dir.path(), options)?;
    let after = pond.describe("orders")?;
    assert_eq!(before.partitions, after.partitions);
    println!(
        "\nreopened: {} topics, every partition's offsets identical: {:?}",
        pond.topics()?.len(),
        pond.topics()?
    );
    pond.close()?;
    Ok(())
}
