//! A writer process is killed (SIGKILL) mid-append, many times: every
//! append acknowledged before the kill is there on reopen.
//!
//! The test binary runs itself as the writer: `crash_writer` does nothing
//! unless `LOGPOND_CRASH_DIR` is set.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use common::read_all;
use logpond::{NewRecord, Pond, TopicConfig};

const ENV: &str = "LOGPOND_CRASH_DIR";

fn value_for(seq: u64) -> Vec<u8> {
    format!("record {seq:08} {}", "v".repeat((seq % 97) as usize)).into_bytes()
}

#[test]
fn crash_writer() {
    let Ok(dir) = std::env::var(ENV) else { return };
    let pond = Pond::open(&dir).unwrap();
    if !pond.has_topic("t").unwrap() {
        pond.create_topic("t", TopicConfig { segment_bytes: 16 << 10, ..TopicConfig::default() }).unwrap();
    }
    let mut next = pond.offsets("t", 0).unwrap().1;
    let stdout = std::io::stdout();
    loop {
        let n = 1 + next % 7;
        let vals: Vec<Vec<u8>> = (next..next + n).map(value_for).collect();
        let records: Vec<NewRecord<'_>> = vals.iter().map(|v| NewRecord::value(v)).collect();
        pond.send_many("t", &records).unwrap();
        next += n;
        // Acknowledge only after send_many returned.
        let mut out = stdout.lock();
        writeln!(out, "ACK {next}").unwrap();
        out.flush().unwrap();
    }
}

#[test]
fn killed_writers_lose_no_acknowledged_append() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut acked = 0u64;
    for round in 0..25u64 {
        let mut child = Command::new(&exe)
            .args(["crash_writer", "--exact", "--nocapture", "--test-threads=1"])
            .env(ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let wait_for = 1 + (round * 37) % 150;
        let mut seen = 0;
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            if let Some(n) = line.strip_prefix("ACK ") {
                acked = n.parse().unwrap();
                seen += 1;
                if seen >= wait_for {
                    break;
                }
            }
        }
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();

        let pond = Pond::open(dir.path()).unwrap();
        let records = read_all(&pond, "t", 0);
        assert!(
            records.len() as u64 >= acked,
            "round {round}: {} records, {acked} acknowledged",
            records.len()
        );
        for (i, r) in records.iter().enumerate() {
            assert_eq!(r.offset, i as u64);
            assert_eq!(r.value.as_deref(), Some(&value_for(i as u64)[..]), "round {round}: record {i}");
        }
        acked = records.len() as u64;
        pond.close().unwrap();
    }
    assert!(acked > 1_000, "the writers made progress: {acked}");
}
